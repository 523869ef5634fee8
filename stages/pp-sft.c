/* pp-sft - next-token training on demonstrations, data-parallel: makes the
 * embedded base model from the built-in suite, or fine-tunes any model. */
#include <stdio.h>
#include <string.h>

#include "model/model_io.h"
#include "stage/pp_stage.h"
#include "prompts/prompts.h"
#include "train/sft.h"
#include "train/trainer.h"

int main(int argc, char **argv) {
    const char *out = NULL, *data = NULL, *init = NULL, *arch = NULL;
    long long steps = 1000, init_seed = 1234, seed = 1;
    int batch = 32, micro = 8;
    double wrong = 0.0, habit = 0.0;
    /* beta2 0.95 (not AdamW's usual 0.999): the value the embedded base
     * model has always been trained with, kept so it stays bit for bit. */
    trainer_cli opt = {.lr = 3e-3, .warmup = 50, .min_lr_ratio = 0.1, .weight_decay = 0.01, .grad_clip = 1.0,
                       .adam_beta1 = 0.9, .adam_beta2 = 0.95, .adam_eps = 1e-8,
                       .schedule = "cosine", .checkpoint_every = 200, .keep_last = 2, .log_every = 50};
    pp_option opts[64] = {
        {"out", OPT_STRING, &out, "M.h5", "model file to write", NULL, 1, 0, 0},
        {"data", OPT_STRING, &data, "P.h5", "prompts file; with references (built-in suite) the answers are the demonstrations", NULL, 1, 0, 0},
        {"init", OPT_STRING, &init, "M0.h5", "start from this model file", NULL, 0, 0, 0},
        {"arch", OPT_STRING, &arch, "SPEC", "start from scratch: dim=..,layers=..,heads=..,kv-heads=..,hidden=..,seq-len=..,tied=0|1 (byte tokenizer)", NULL, 0, 0, 0},
        {"init-seed", OPT_INT64, &init_seed, "S", "seed of the random initialisation (--arch)", NULL, 0, 0, 0},
        {"steps", OPT_INT64, &steps, "N", "optimizer steps", NULL, 0, 1, 1e12},
        {"batch", OPT_INT, &batch, "B", "global batch: demonstrations per step over all ranks", NULL, 0, 1, 1e7},
        {"micro-batch", OPT_INT, &micro, "B", "demonstrations per forward/backward on one rank", NULL, 0, 1, 1e6},
        {"seed", OPT_INT64, &seed, "S", "data order and wrong-answer seed", NULL, 0, 0, 0},
        {"wrong-fraction", OPT_DOUBLE, &wrong, "F", "fraction of demonstrations given a plausible wrong answer", NULL, 0, 0, 1},
        {"habit-fraction", OPT_DOUBLE, &habit, "F", "fraction of rev/sort demonstrations whose word begins with a-m answered by copying the word (a systematic mistake)", NULL, 0, 0, 1},
    };
    pp_cli cli = {.synopsis = "--out M.h5 --data P.h5 (--init M0.h5 | --arch dim=..,layers=..,heads=..) [--steps N ...]",
                  .description = "Next-token training on demonstrations (loss on the answer tokens), data-parallel over "
                                 "MPI ranks: the global batch, not the rank count, defines the run. Checkpoints go to "
                                 "M.h5.ckpt/; a stopped or killed run resumes from the newest one.",
                  .opts = opts};
    while (opts[cli.n_opts].name) cli.n_opts++;
    trainer_cli_options(&opt, opts + cli.n_opts);
    cli.n_opts += TRAINER_CLI_N_OPTIONS;
    pp_stage s;
    int rc = pp_stage_begin(&s, "pp-sft", &cli, argc, argv);
    if (rc >= 0) return rc;

    pp_input in[2] = {{"data", data}, {"init", init}};
    pp_status st = PP_OK;
    model m = {0};
    prompt_set p = {0};
    sft_data d = {0};
    sft_ctx ctx = {0};
    if (!!init == !!arch) st = pp_fail(&s.err, PP_EINPUT, "give either --init or --arch (see --help)");
    if (st == PP_OK) st = pp_check_output(out, in, 2, &s.err);
    if (st == PP_OK) st = prompts_load(&p, data, &s.err);
    if (st == PP_OK && p.n == 0) st = pp_fail(&s.err, PP_EINPUT, "%s: no prompts", data);
    if (st == PP_OK && init) st = model_load(init, &m, &s.err);
    if (st == PP_OK && arch) {
        model_config c = {.dim = 128, .hidden_dim = 344, .n_layers = 4, .n_heads = 4, .n_kv_heads = 4, .seq_len = 64,
                          .tied_embeddings = 1, .norm_eps = 1e-5f, .rope_theta = 10000.0f};
        tokenizer tok;
        st = tok_init_bytes(&tok, &s.err);
        if (st == PP_OK) c.vocab_size = tok.vocab_size;
        if (st == PP_OK) st = model_parse_arch(arch, &c, &s.err);
        if (st == PP_OK) st = model_alloc(&m, &c, &s.err);
        if (st == PP_OK) {
            model_init_random(&m, (uint64_t)init_seed);
            m.tok = tok;
            m.fingerprint = model_fingerprint(&m); // now with the tokenizer
        } else tok_free(&tok);
    }
    if (st == PP_OK) st = sft_data_build(&d, &p, &m.tok, m.cfg.seq_len, wrong, habit, (uint64_t)seed, &s.err);
    if (st == PP_OK) st = sft_ctx_init(&ctx, &d, &m.cfg, batch, micro, (uint64_t)seed, s.comm, &s.err);
    st = pp_agree(s.comm, st, &s.err);
    if (st == PP_OK) {
        pp_info(&s.log, "%lld demonstrations (%lld with a wrong answer), %zu parameters, %d ranks, batch %d",
                (long long)d.n, (long long)d.n_wrong, m.n_params, s.size, batch);
        char fp_data[17] = "", key[8192];
        if (s.rank == 0) pp_file_fingerprint(data, fp_data, &s.err);
        MPI_Bcast(fp_data, sizeof fp_data, MPI_CHAR, 0, s.comm);
        char fp_model[17];
        model_fingerprint_hex(&m, fp_model);
        snprintf(key, sizeof key, "sft data=%s init=%s %s", fp_data, fp_model, pp_cli_effective(&cli));
        pp_provenance prov = {"pp-sft", pp_cli_effective(&cli), in, init ? 2 : 1};
        trainer_config tc = {.out_path = out, .kind = "sft", .total_steps = steps, .checkpoint_every = opt.checkpoint_every,
                             .keep_last = opt.keep_last, .run_key = key, .n_metrics = 2, .metric_names = {"loss", "tokens"},
                             .comm = s.comm, .log = &s.log, .prov = &prov, .log_every = opt.log_every,
                             .opt = trainer_cli_adamw(&opt, steps)};
        double t0 = pp_now();
        st = trainer_run(&tc, &m, sft_grad, &ctx, &s.err);
        if (st == PP_OK) pp_info(&s.log, "wrote %s in %.1fs", out, pp_now() - t0);
    }
    sft_ctx_free(&ctx);
    sft_data_free(&d);
    prompts_free(&p);
    model_free(&m);
    return pp_stage_end(&s, st);
}
