/* pp-train - preference optimisation (DPO, IPO, hinge, DPOP, RPO, BCR),
 * data-parallel over MPI ranks. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "train/dpo.h"
#include "model/model_io.h"
#include "stage/pp_stage.h"
#include "train/trainer.h"

/* Closing figures: implicit-reward accuracy on held-out pairs. */
typedef struct {
    dpo_data *heldout;
    const pref_loss_opts *loss;
    int micro;
    MPI_Comm comm;
    const pp_log *log;
} heldout_ctx;

static pp_status heldout_final(void *vctx, const model *m, int *n, const char **names, double *values, pp_err *err) {
    heldout_ctx *h = vctx;
    double acc = 0, margin = 0;
    PP_TRY(dpo_heldout_metrics(h->heldout, m, h->loss, h->micro, h->comm, &acc, &margin, err));
    names[0] = "heldout_pairs";
    values[0] = (double)h->heldout->n;
    names[1] = "heldout_rewards_accuracy";
    values[1] = acc;
    names[2] = "heldout_rewards_margin";
    values[2] = margin;
    *n = 3;
    pp_info(h->log, "held-out pairs: rewards/accuracies %.3f, rewards/margins %.4f over %lld pairs", acc, margin,
            (long long)h->heldout->n);
    return PP_OK;
}

int main(int argc, char **argv) {
    const char *policy = NULL, *pairs_path = NULL, *out = NULL, *ref = NULL, *cache = NULL, *heldout = NULL;
    const char *loss_name = "dpo", *bcr_form = "outside";
    long long steps = 0, seed = 1;
    int batch = 32, micro = 4, max_len = 0, length_norm = 0, ref_free = 0;
    double epochs = 1, beta = 0.1, budget = 0.0, bcr_weight = 1.0, dpop_lambda = 50, rpo_alpha = 1.0;
    trainer_cli opt = {.lr = 1e-4, .warmup = 10, .min_lr_ratio = 0.1, .weight_decay = 0.0, .grad_clip = 1.0,
                       .adam_beta1 = 0.9, .adam_beta2 = 0.999, .adam_eps = 1e-8,
                       .schedule = "cosine", .checkpoint_every = 100, .keep_last = 2, .log_every = 10};
    pp_option opts[64] = {
        {"policy", OPT_STRING, &policy, "M.h5", "model to train (also the reference unless --ref)", NULL, 1, 0, 0},
        {"pairs", OPT_STRING, &pairs_path, "R.h5", "pairs file from pp-rank", NULL, 1, 0, 0},
        {"out", OPT_STRING, &out, "M2.h5", "trained model file to write", NULL, 1, 0, 0},
        {"loss", OPT_CHOICE, &loss_name, "L", "preference loss", "dpo|ipo|hinge|dpop|rpo|bcr", 0, 0, 0},
        {"beta", OPT_DOUBLE, &beta, "B", "inverse temperature of the implicit reward", NULL, 0, 1e-9, 1e9},
        {"bcr-budget", OPT_DOUBLE, &budget, "D", "bcr: allowed fall delta (nats) of the chosen log-likelihood", NULL, 0, 0, 1e9},
        {"bcr-weight", OPT_DOUBLE, &bcr_weight, "L", "bcr: weight lambda of the penalty", NULL, 0, 0, 1e9},
        {"bcr-form", OPT_CHOICE, &bcr_form, "F", "bcr: penalty outside or inside the sigmoid, summed or per token",
         "outside|inside|per-token|outside-per-token|inside-per-token", 0, 0, 0},
        {"dpop-lambda", OPT_DOUBLE, &dpop_lambda, "L", "dpop: penalty weight", NULL, 0, 0, 1e9},
        {"rpo-alpha", OPT_DOUBLE, &rpo_alpha, "A", "rpo: weight of the NLL term", NULL, 0, 0, 1e9},
        {"length-normalize", OPT_FLAG, &length_norm, NULL, "divide log-ratios by response length", NULL, 0, 0, 0},
        {"reference-free", OPT_FLAG, &ref_free, NULL, "no reference model (log-ratios against 0)", NULL, 0, 0, 0},
        {"ref", OPT_STRING, &ref, "M.h5", "reference model (default: --policy)", NULL, 0, 0, 0},
        {"heldout", OPT_STRING, &heldout, "R2.h5", "pairs not trained on: implicit-reward accuracy reported at the end", NULL, 0, 0, 0},
        {"ref-cache", OPT_STRING, &cache, "FILE", "reference log-prob file (default: OUT.ref.h5); reused when fingerprints match", NULL, 0, 0, 0},
        {"epochs", OPT_DOUBLE, &epochs, "E", "passes over the pairs (used when --steps is 0)", NULL, 0, 0, 1e6},
        {"steps", OPT_INT64, &steps, "N", "optimizer steps (0: from --epochs)", NULL, 0, 0, 1e12},
        {"batch", OPT_INT, &batch, "B", "global batch: pairs per step over all ranks", NULL, 0, 1, 1e7},
        {"micro-batch", OPT_INT, &micro, "B", "pairs per forward/backward on one rank (gradient accumulation)", NULL, 0, 1, 1e6},
        {"max-len", OPT_INT, &max_len, "N", "longest prompt+response; responses are cut at the end (0: model context)", NULL, 0, 0, 1e7},
        {"seed", OPT_INT64, &seed, "S", "data order", NULL, 0, 0, 0},
    };
    pp_cli cli = {.synopsis = "--policy M.h5 --pairs R.h5 --out M2.h5 --loss dpo|ipo|hinge|dpop|rpo|bcr [--beta B --bcr-budget D ...]",
                  .description = "Trains a policy on chosen/rejected pairs. Reference log-probs are computed once (spread "
                                 "over ranks) and kept in a ref_logps file. Metrics use TRL's names and are stored in the "
                                 "output under /metrics. Checkpoints go to M2.h5.ckpt/; a stopped or killed run resumes.",
                  .opts = opts};
    while (opts[cli.n_opts].name) cli.n_opts++;
    trainer_cli_options(&opt, opts + cli.n_opts);
    cli.n_opts += TRAINER_CLI_N_OPTIONS;
    pp_stage s;
    int rc = pp_stage_begin(&s, "pp-train", &cli, argc, argv);
    if (rc >= 0) return rc;

    char cache_buf[PP_PATH_MAX];
    if (!ref) ref = policy;
    if (!cache && out) {
        snprintf(cache_buf, sizeof cache_buf, "%s.ref.h5", out);
        cache = cache_buf;
    }
    pp_input in[4] = {{"policy", policy}, {"pairs", pairs_path}, {"reference", ref}, {"heldout", heldout}};
    pref_loss_opts lo;
    pref_loss_defaults(&lo);
    lo.beta = beta;
    lo.bcr_budget = budget;
    lo.bcr_weight = bcr_weight;
    lo.dpop_lambda = dpop_lambda;
    lo.rpo_alpha = rpo_alpha;
    lo.length_normalize = length_norm;
    lo.reference_free = ref_free;
    pp_status st = pref_loss_kind_parse(loss_name, "--loss", &lo.kind, &s.err);
    if (st == PP_OK) st = pref_bcr_form_parse(bcr_form, "--bcr-form", &lo.bcr_form, &lo.bcr_per_token, &s.err);
    if (st == PP_OK) st = pref_loss_check(&lo, &s.err);
    if (st == PP_OK) st = pp_check_output(out, in, heldout ? 4 : 3, &s.err);
    if (st == PP_OK) st = pp_check_output(cache, in, heldout ? 4 : 3, &s.err);

    model m = {0};
    pairs_set p = {0};
    dpo_data d = {0};
    dpo_ctx ctx = {0};
    pairs_set hp = {0};
    dpo_data hd = {0};
    if (st == PP_OK) st = model_load(policy, &m, &s.err);
    if (st == PP_OK) st = pairs_load(&p, pairs_path, 0, &s.err);
    if (st == PP_OK) {
        const char *kind = m.tok.kind == TOK_BYTE ? "byte" : "llama2c";
        if (strcmp(p.tokenizer, kind) != 0 || p.vocab_size != m.cfg.vocab_size)
            st = pp_fail(&s.err, PP_EINPUT, "%s: pairs were made with a %s tokenizer of %d tokens, the policy %s has %s of %d",
                         pairs_path, p.tokenizer, p.vocab_size, policy, kind, m.cfg.vocab_size);
    }
    if (st == PP_OK) st = dpo_data_build(&d, &p, max_len > 0 && max_len < m.cfg.seq_len ? max_len : m.cfg.seq_len, &s.err);
    st = pp_agree(s.comm, st, &s.err);
    int reused = 0;
    if (st == PP_OK && !ref_free) {
        double t0 = pp_now();
        st = dpo_reference_logps(&d, ref, pairs_path, cache, micro, s.comm, &s.log, &reused, &s.err);
        if (st == PP_OK)
            pp_info(&s.log, "reference log-probs %s %s (%.1fs)", reused ? "reused from" : "computed into", cache, pp_now() - t0);
    }
    if (st == PP_OK && heldout) {
        char hcache[PP_PATH_MAX];
        snprintf(hcache, sizeof hcache, "%s.heldout.ref.h5", out);
        st = pairs_load(&hp, heldout, 0, &s.err);
        if (st == PP_OK) st = dpo_data_build(&hd, &hp, max_len > 0 && max_len < m.cfg.seq_len ? max_len : m.cfg.seq_len, &s.err);
        st = pp_agree(s.comm, st, &s.err);
        if (st == PP_OK && !ref_free) st = dpo_reference_logps(&hd, ref, heldout, hcache, micro, s.comm, &s.log, &reused, &s.err);
    }
    if (st == PP_OK) st = dpo_ctx_init(&ctx, &d, &m.cfg, &lo, batch, micro, (uint64_t)seed, s.comm, &s.err);
    st = pp_agree(s.comm, st, &s.err);
    if (st == PP_OK) {
        if (steps == 0) steps = (long long)(epochs * (double)d.n / batch + 0.5);
        if (steps < 1) steps = 1;
        pp_info(&s.log, "%lld pairs (%lld truncated), loss %s, %lld steps of %d pairs, %d ranks", (long long)d.n,
                (long long)d.truncated, loss_name, steps, batch, s.size);
        if (strcmp(p.model_fingerprint, "") != 0) {
            char fp[17];
            model_fingerprint_hex(&m, fp);
            if (strcmp(fp, p.model_fingerprint) != 0)
                pp_warn(&s.log, "the pairs were generated by model %s, the policy is %s", p.model_fingerprint, fp);
        }
        char fp_pairs[17] = "", fp_model[17], key[8192];
        if (s.rank == 0) pp_file_fingerprint(pairs_path, fp_pairs, &s.err);
        MPI_Bcast(fp_pairs, sizeof fp_pairs, MPI_CHAR, 0, s.comm);
        model_fingerprint_hex(&m, fp_model);
        snprintf(key, sizeof key, "train pairs=%s policy=%s steps=%lld %s", fp_pairs, fp_model, steps, pp_cli_effective(&cli));
        pp_provenance prov = {"pp-train", pp_cli_effective(&cli), in, heldout ? 4 : 3};
        trainer_config tc = {.out_path = out, .kind = pref_loss_kind_name(lo.kind), .total_steps = steps, .checkpoint_every = opt.checkpoint_every,
                             .keep_last = opt.keep_last, .run_key = key, .n_metrics = DPO_M_N, .comm = s.comm,
                             .log = &s.log, .prov = &prov, .log_every = opt.log_every,
                             .opt = trainer_cli_adamw(&opt, steps)};
        for (int i = 0; i < DPO_M_N; i++) tc.metric_names[i] = dpo_metric_names[i];
        heldout_ctx hc = {&hd, &lo, micro, s.comm, &s.log};
        if (heldout) {
            tc.final_fn = heldout_final;
            tc.final_ctx = &hc;
        }
        double t0 = pp_now();
        st = trainer_run(&tc, &m, dpo_grad, &ctx, &s.err);
        if (st == PP_OK) {
            double el = pp_now() - t0;
            pp_info(&s.log, "wrote %s in %.1fs (%.1f pairs/s)", out, el, el > 0 ? (double)steps * batch / el : 0);
        }
    }
    dpo_ctx_free(&ctx);
    dpo_data_free(&d);
    dpo_data_free(&hd);
    pairs_free(&hp);
    pairs_free(&p);
    model_free(&m);
    return pp_stage_end(&s, st);
}
