/* pp-sft - next-token training on demonstrations, data-parallel: makes the
 * embedded base model from the built-in suite, or fine-tunes any model.
 * The work is sft_run (train/sft.h). */
#include "stage/pp_stage.h"
#include "train/sft.h"

int main(int argc, char **argv) {
    /* beta2 0.95 (not AdamW's usual 0.999): the value the embedded base
     * model has always been trained with, kept so it stays bit for bit. */
    sft_run_options o = {.steps = 1000, .init_seed = 1234, .seed = 1, .batch = 32, .micro_batch = 8,
                         .opt = {.lr = 3e-3, .warmup = 50, .min_lr_ratio = 0.1, .weight_decay = 0.01, .grad_clip = 1.0,
                                 .adam_beta1 = 0.9, .adam_beta2 = 0.95, .adam_eps = 1e-8, .schedule = "cosine",
                                 .checkpoint_every = 200, .keep_last = 2, .log_every = 50}};
    pp_option opts[64] = {
        {"out", OPT_STRING, &o.out, "M.h5", "model file to write", NULL, 1, 0, 0},
        {"data", OPT_STRING, &o.data, "P.h5", "prompts file; with references (built-in suite) the answers are the demonstrations", NULL, 1, 0, 0},
        {"init", OPT_STRING, &o.init, "M0.h5", "start from this model file", NULL, 0, 0, 0},
        {"arch", OPT_STRING, &o.arch, "SPEC", "start from scratch: dim=..,layers=..,heads=..,kv-heads=..,hidden=..,seq-len=..,tied=0|1 (byte tokenizer)", NULL, 0, 0, 0},
        {"init-seed", OPT_INT64, &o.init_seed, "S", "seed of the random initialisation (--arch)", NULL, 0, 0, 0},
        {"steps", OPT_INT64, &o.steps, "N", "optimizer steps", NULL, 0, 1, 1e12},
        {"batch", OPT_INT, &o.batch, "B", "global batch: demonstrations per step over all ranks", NULL, 0, 1, 1e7},
        {"micro-batch", OPT_INT, &o.micro_batch, "B", "demonstrations per forward/backward on one rank", NULL, 0, 1, 1e6},
        {"seed", OPT_INT64, &o.seed, "S", "data order and wrong-answer seed", NULL, 0, 0, 0},
        {"wrong-fraction", OPT_DOUBLE, &o.wrong_fraction, "F", "fraction of demonstrations given a plausible wrong answer", NULL, 0, 0, 1},
        {"habit-fraction", OPT_DOUBLE, &o.habit_fraction, "F", "fraction of rev/sort demonstrations whose word begins with a-m answered by copying the word (a systematic mistake)", NULL, 0, 0, 1},
    };
    pp_cli cli = {.synopsis = "--out M.h5 --data P.h5 (--init M0.h5 | --arch dim=..,layers=..,heads=..) [--steps N ...]",
                  .description = "Next-token training on demonstrations (loss on the answer tokens), data-parallel over "
                                 "MPI ranks: the global batch, not the rank count, defines the run. Checkpoints go to "
                                 "M.h5.ckpt/; a stopped or killed run resumes from the newest one.",
                  .opts = opts};
    while (opts[cli.n_opts].name) cli.n_opts++;
    trainer_cli_options(&o.opt, opts + cli.n_opts);
    cli.n_opts += TRAINER_CLI_N_OPTIONS;
    pp_stage s;
    int rc = pp_stage_begin(&s, "pp-sft", &cli, argc, argv);
    if (rc >= 0) return rc;
    o.arguments = pp_cli_effective(&cli);
    o.mem = &s.mem;
    return pp_stage_end(&s, sft_run(&o, s.comm, &s.log, &s.err));
}
