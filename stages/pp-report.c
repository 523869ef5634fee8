/* pp-report - PNG plots of training runs and evaluations (gnuplot); with
 * --rounds, the summary file of an iterative run and its plot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage/pp_stage.h"
#include "report/report.h"
#include "report/rounds.h"

/* --rounds: collect the rounds, write the summary file, plot it. */
static pp_status report_rounds_stage(const char *dir, const char *summary, const char *out_dir, const char *prefix,
                                     const char *gnuplot, pp_cli *cli, pp_stage *s) {
    char out[4096], png[4096];
    snprintf(out, sizeof out, "%s/rounds.h5", dir);
    if (summary) snprintf(out, sizeof out, "%s", summary);
    rounds_summary r;
    PP_TRY(rounds_collect(dir, &r, &s->err));
    pp_status st = rounds_write(&r, out, dir, pp_cli_effective(cli), &s->err);
    if (st == PP_OK) pp_info(&s->log, "wrote %s: %d rounds, %d splits, reference %s", out, r.n_rounds, r.n_splits, r.reference);
    snprintf(png, sizeof png, "%s/%srounds.md", out_dir, prefix);
    if (st == PP_OK) st = rounds_write_table(&r, png, &s->err);
    if (st == PP_OK) pp_info(&s->log, "wrote %s", png);
    rounds_free(&r);
    snprintf(png, sizeof png, "%s/%srounds.png", out_dir, prefix);
    if (st == PP_OK) st = report_rounds(out, png, gnuplot, &s->err);
    if (st == PP_OK) pp_info(&s->log, "wrote %s", png);
    return st;
}

int main(int argc, char **argv) {
    const char *model = NULL, *eval = NULL, *out_dir = ".", *prefix = "", *gnuplot = "gnuplot";
    const char *compare = NULL, *metric = "delta/chosen_mean", *rounds = NULL, *summary = NULL;
    pp_option opts[] = {
        {"model", OPT_STRING, &model, "M2.h5", "a trained model file: plots its /metrics", NULL, 0, 0, 0},
        {"eval", OPT_STRING, &eval, "E.h5", "an eval file: win rate and accuracy per split", NULL, 0, 0, 0},
        {"compare", OPT_STRING, &compare, "L=M.h5,..", "training runs LABEL=MODEL.h5, comma-separated: one metric of all on one plot (compare.png), runs of one label averaged", NULL, 0, 0, 0},
        {"metric", OPT_STRING, &metric, "NAME", "--compare: the /metrics series to plot", NULL, 0, 0, 0},
        {"rounds", OPT_STRING, &rounds, "W", "work directory of a rounds job: writes the summary file and rounds.png", NULL, 0, 0, 0},
        {"summary", OPT_STRING, &summary, "OUT.h5", "--rounds: the summary file to write (default: W/rounds.h5)", NULL, 0, 0, 0},
        {"out-dir", OPT_STRING, &out_dir, "DIR", "where the PNG files go", NULL, 0, 0, 0},
        {"prefix", OPT_STRING, &prefix, "TEXT", "put before the file names (training.png, eval.png, compare.png, rounds.png, rounds.md)", NULL, 0, 0, 0},
        {"gnuplot", OPT_STRING, &gnuplot, "PROGRAM", "gnuplot program", NULL, 0, 0, 0},
    };
    pp_cli cli = {.synopsis = "[--model M2.h5] [--eval E.h5] [--compare L=M.h5,..] [--rounds W [--summary OUT.h5]] [--out-dir DIR]",
                  .description = "Draws training.png (loss, reward margins and accuracies, logps/chosen and the mean "
                                 "change of the chosen log-likelihood against the BCR budget) and eval.png (win rate and "
                                 "accuracy bars with standard errors per split); with --compare, compare.png: one metric of several "
                                 "training runs, the mean change of the chosen log-likelihood by default. With --rounds W (an iterative "
                                 "run, W/round-01/...): W/rounds.h5 (schema rounds: per round the policy fingerprint, pair "
                                 "statistics, training metrics, evaluations against the base model and the previous round) "
                                 "and rounds.png (win rate, accuracy and the chosen log-likelihood's drift per round), and rounds.md (the "
                                 "table, and whether each later round improved on round 1 beyond 2 standard errors).",
                  .opts = opts, .n_opts = (int)(sizeof opts / sizeof opts[0])};
    pp_stage s;
    int rc = pp_stage_begin(&s, "pp-report", &cli, argc, argv);
    if (rc >= 0) return rc;
    pp_status st = PP_OK;
    if (!model && !eval && !compare && !rounds)
        st = pp_fail(&s.err, PP_EINPUT, "give --model, --eval, --compare or --rounds (see --help)");
    if (st == PP_OK && summary && !rounds) st = pp_fail(&s.err, PP_EINPUT, "--summary goes with --rounds W");
    /* the estimate: the eval file read whole; the model files' metrics and
       the rounds' attributes are small (the weights are never read) */
    pp_memory_part mem_parts[] = {{"eval file", pp_file_bytes(eval)}, {"runtime", PP_MEMORY_RUNTIME_BYTES}};
    if (st == PP_OK) st = pp_memory_check(&s.mem, NULL, mem_parts, 2, s.comm, &s.log, &s.err);
    char png[4096];
    if (st == PP_OK && s.rank == 0 && model) {
        snprintf(png, sizeof png, "%s/%straining.png", out_dir, prefix);
        st = report_training(model, png, gnuplot, &s.err);
        if (st == PP_OK) pp_info(&s.log, "wrote %s", png);
    }
    if (st == PP_OK && s.rank == 0 && eval) {
        snprintf(png, sizeof png, "%s/%seval.png", out_dir, prefix);
        st = report_eval(eval, png, gnuplot, &s.err);
        if (st == PP_OK) pp_info(&s.log, "wrote %s", png);
    }
    if (st == PP_OK && s.rank == 0 && compare) {
        snprintf(png, sizeof png, "%s/%scompare.png", out_dir, prefix);
        char *list = strdup(compare);
        const char *runs[256];
        int n = 0;
        for (char *save = NULL, *t = list ? strtok_r(list, ",", &save) : NULL; t && n < 256; t = strtok_r(NULL, ",", &save))
            runs[n++] = t;
        st = list ? report_compare(runs, n, metric, png, gnuplot, &s.err) : pp_fail(&s.err, PP_ESYS, "out of memory");
        free(list);
        if (st == PP_OK) pp_info(&s.log, "wrote %s", png);
    }
    if (st == PP_OK && s.rank == 0 && rounds) st = report_rounds_stage(rounds, summary, out_dir, prefix, gnuplot, &cli, &s);
    return pp_stage_end(&s, st);
}
