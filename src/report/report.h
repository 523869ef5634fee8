/* report.h - PNG plots of training metrics and evaluation results, drawn
 * by gnuplot (run as a child process with a script file: no shell).
 *
 * No input-derived text is gnuplot code: scripts name only fixed files in
 * a private directory beside the PNG (plot.dat, plot.png), and every label
 * is a literal made by report_gp_string.  The PNG appears under its name
 * only when gnuplot succeeded (rename); a stop signal is passed on to
 * gnuplot and gives PP_EINTERRUPTED with nothing written. */
#ifndef REPORT_H
#define REPORT_H

#include <stdio.h>

#include "core/pp_error.h"

/* s as a single-quoted gnuplot string literal in out (cap bytes, quotes
 * included): letters, digits, space and -_.,:/+=()[]%# are kept, every
 * other byte becomes '_', too long a text is cut.  Returns out. */
const char *report_gp_string(const char *s, char *out, size_t cap);

/* The gnuplot scripts (exposed for tests): `title`, split names, labels
 * and the metric name are input-derived and only pass report_gp_string.
 * budget < 0: no BCR budget line. */
void report_training_script(FILE *g, const char *title, int dpo, double budget);
void report_eval_script(FILE *g, const char *title, const char *const *splits, int n_splits, int has_acc);
void report_compare_script(FILE *g, const char *metric, int smooth, const char *const *labels, const int *runs, int n_curves);

/* Training curves of a model file made by pp-train or pp-sft: loss; reward
 * margins and accuracies; logps/chosen and the mean change of the chosen
 * log-likelihood, with the budget line for a BCR run (the loss is read from
 * the provenance --loss, else the training attribute).  Writes png_path. */
PP_MUST_CHECK pp_status report_training(const char *model_path, const char *png_path, const char *gnuplot, pp_err *err);
/* Bars with standard-error whiskers per split of an eval file: win rate of
 * the policy, and accuracy of policy and baseline (oracle judge). */
PP_MUST_CHECK pp_status report_eval(const char *eval_path, const char *png_path, const char *gnuplot, pp_err *err);

/* One training metric of several runs on one plot ("/metrics/" + metric,
 * e.g. "delta/chosen_mean"): runs[i] is "LABEL=MODEL.h5"; runs sharing a
 * label are averaged step by step (seeds of one setting), up to the
 * shortest of them.  Writes png_path. */
PP_MUST_CHECK pp_status report_compare(const char *const *runs, int n_runs, const char *metric, const char *png_path,
                         const char *gnuplot, pp_err *err);

/* The rounds of an iterative run from its `rounds` file (W/rounds.h5):
 * win rate per round against the base model and against the previous
 * round, accuracy per round, and the drift of the chosen log-likelihood
 * at the end of each round's training, with standard errors. */
PP_MUST_CHECK pp_status report_rounds(const char *rounds_path, const char *png_path, const char *gnuplot, pp_err *err);
void report_rounds_script(FILE *g, const char *title, const char *const *splits, int n_splits, int n_rounds);

#endif
