/* pp-report - PNG plots of training runs and evaluations (gnuplot). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage/pp_stage.h"
#include "report/report.h"

int main(int argc, char **argv) {
    const char *model = NULL, *eval = NULL, *out_dir = ".", *prefix = "", *gnuplot = "gnuplot";
    const char *compare = NULL, *metric = "delta/chosen_mean";
    pp_option opts[] = {
        {"model", OPT_STRING, &model, "M2.h5", "a trained model file: plots its /metrics", NULL, 0, 0, 0},
        {"eval", OPT_STRING, &eval, "E.h5", "an eval file: win rate and accuracy per split", NULL, 0, 0, 0},
        {"compare", OPT_STRING, &compare, "L=M.h5,..", "training runs LABEL=MODEL.h5, comma-separated: one metric of all on one plot (compare.png), runs of one label averaged", NULL, 0, 0, 0},
        {"metric", OPT_STRING, &metric, "NAME", "--compare: the /metrics series to plot", NULL, 0, 0, 0},
        {"out-dir", OPT_STRING, &out_dir, "DIR", "where the PNG files go", NULL, 0, 0, 0},
        {"prefix", OPT_STRING, &prefix, "TEXT", "put before the file names (training.png, eval.png, compare.png)", NULL, 0, 0, 0},
        {"gnuplot", OPT_STRING, &gnuplot, "PROGRAM", "gnuplot program", NULL, 0, 0, 0},
    };
    pp_cli cli = {.synopsis = "[--model M2.h5] [--eval E.h5] [--compare L=M.h5,..] [--out-dir DIR]",
                  .description = "Draws training.png (loss, reward margins and accuracies, logps/chosen and the mean "
                                 "change of the chosen log-likelihood against the BCR budget) and eval.png (win rate and "
                                 "accuracy bars with standard errors per split); with --compare, compare.png: one metric of several "
                                 "training runs, the mean change of the chosen log-likelihood by default.",
                  .opts = opts, .n_opts = (int)(sizeof opts / sizeof opts[0])};
    pp_stage s;
    int rc = pp_stage_begin(&s, "pp-report", &cli, argc, argv);
    if (rc >= 0) return rc;
    pp_status st = PP_OK;
    if (!model && !eval && !compare) st = pp_fail(&s.err, PP_EINPUT, "give --model, --eval or --compare (see --help)");
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
    return pp_stage_end(&s, st);
}
