/* pp-train - preference optimisation (DPO, IPO, hinge, DPOP, RPO, BCR),
 * data-parallel over MPI ranks.  The work is dpo_run (train/dpo.h). */
#include "stage/pp_stage.h"
#include "train/dpo.h"

int main(int argc, char **argv) {
    dpo_run_options o = {.loss_name = "dpo", .bcr_form = "outside", .seed = 1, .batch = 32, .micro_batch = 4,
                         .epochs = 1, .loss = {.beta = 0.1, .bcr_weight = 1.0, .dpop_lambda = 50, .rpo_alpha = 1.0},
                         .opt = {.lr = 1e-4, .warmup = 10, .min_lr_ratio = 0.1, .weight_decay = 0.0, .grad_clip = 1.0,
                                 .adam_beta1 = 0.9, .adam_beta2 = 0.999, .adam_eps = 1e-8, .schedule = "cosine",
                                 .checkpoint_every = 100, .keep_last = 2, .log_every = 10}};
    pref_loss_opts *lo = &o.loss;
    pp_option opts[64] = {
        {"policy", OPT_STRING, &o.policy, "M.h5", "model to train (also the reference unless --ref)", NULL, 1, 0, 0},
        {"pairs", OPT_STRING, &o.pairs, "R.h5", "pairs file from pp-rank", NULL, 1, 0, 0},
        {"out", OPT_STRING, &o.out, "M2.h5", "trained model file to write", NULL, 1, 0, 0},
        {"loss", OPT_CHOICE, &o.loss_name, "L", "preference loss", "dpo|ipo|hinge|dpop|rpo|bcr", 0, 0, 0},
        {"beta", OPT_DOUBLE, &lo->beta, "B", "inverse temperature of the implicit reward", NULL, 0, 1e-9, 1e9},
        {"bcr-budget", OPT_DOUBLE, &lo->bcr_budget, "D", "bcr: allowed fall delta (nats) of the chosen log-likelihood", NULL, 0, 0, 1e9},
        {"bcr-weight", OPT_DOUBLE, &lo->bcr_weight, "L", "bcr: weight lambda of the penalty", NULL, 0, 0, 1e9},
        {"bcr-form", OPT_CHOICE, &o.bcr_form, "F", "bcr: penalty outside or inside the sigmoid, summed or per token",
         "outside|inside|per-token|outside-per-token|inside-per-token", 0, 0, 0},
        {"dpop-lambda", OPT_DOUBLE, &lo->dpop_lambda, "L", "dpop: penalty weight", NULL, 0, 0, 1e9},
        {"rpo-alpha", OPT_DOUBLE, &lo->rpo_alpha, "A", "rpo: weight of the NLL term", NULL, 0, 0, 1e9},
        {"length-normalize", OPT_FLAG, &lo->length_normalize, NULL, "divide log-ratios by response length", NULL, 0, 0, 0},
        {"reference-free", OPT_FLAG, &lo->reference_free, NULL, "no reference model (log-ratios against 0)", NULL, 0, 0, 0},
        {"ref", OPT_STRING, &o.ref, "M.h5", "reference model (default: --policy)", NULL, 0, 0, 0},
        {"heldout", OPT_STRING, &o.heldout, "R2.h5", "pairs not trained on: implicit-reward accuracy reported at the end", NULL, 0, 0, 0},
        {"ref-cache", OPT_STRING, &o.ref_cache, "FILE", "reference log-prob file (default: OUT.ref.h5); reused when fingerprints match", NULL, 0, 0, 0},
        {"epochs", OPT_DOUBLE, &o.epochs, "E", "passes over the pairs (used when --steps is 0)", NULL, 0, 0, 1e6},
        {"steps", OPT_INT64, &o.steps, "N", "optimizer steps (0: from --epochs)", NULL, 0, 0, 1e12},
        {"batch", OPT_INT, &o.batch, "B", "global batch: pairs per step over all ranks", NULL, 0, 1, 1e7},
        {"micro-batch", OPT_INT, &o.micro_batch, "B", "pairs per forward/backward on one rank (gradient accumulation)", NULL, 0, 1, 1e6},
        {"max-len", OPT_INT, &o.max_len, "N", "longest prompt+response; responses are cut at the end (0: model context)", NULL, 0, 0, 1e7},
        {"seed", OPT_INT64, &o.seed, "S", "data order", NULL, 0, 0, 0},
    };
    pp_cli cli = {.synopsis = "--policy M.h5 --pairs R.h5 --out M2.h5 --loss dpo|ipo|hinge|dpop|rpo|bcr [--beta B --bcr-budget D ...]",
                  .description = "Trains a policy on chosen/rejected pairs. Reference log-probs are computed once (spread "
                                 "over ranks, through the inference pass, whose arithmetic is the training forward's: "
                                 "the loss at step 1 is exactly ln 2) and kept in a ref_logps file. Metrics use TRL's names and are stored in the "
                                 "output under /metrics. Checkpoints go to M2.h5.ckpt/; a stopped or killed run resumes.",
                  .opts = opts};
    while (opts[cli.n_opts].name) cli.n_opts++;
    trainer_cli_options(&o.opt, opts + cli.n_opts);
    cli.n_opts += TRAINER_CLI_N_OPTIONS;
    pp_stage s;
    int rc = pp_stage_begin(&s, "pp-train", &cli, argc, argv);
    if (rc >= 0) return rc;
    o.cli = &cli;
    o.mem = &s.mem;
    return pp_stage_end(&s, dpo_run(&o, s.comm, &s.log, &s.err));
}
