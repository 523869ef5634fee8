/* report.h - PNG plots of training metrics and evaluation results, drawn
 * by gnuplot (run as a child process with a script file: no shell). */
#ifndef REPORT_H
#define REPORT_H

#include "core/pp_error.h"

/* Training curves of a model file made by pp-train or pp-sft: loss; reward
 * margins and accuracies; logps/chosen and the mean change of the chosen
 * log-likelihood against the BCR budget line.  Writes png_path. */
pp_status report_training(const char *model_path, const char *png_path, const char *gnuplot, pp_err *err);
/* Bars with standard-error whiskers per split of an eval file: win rate of
 * the policy, and accuracy of policy and baseline (oracle judge). */
pp_status report_eval(const char *eval_path, const char *png_path, const char *gnuplot, pp_err *err);

/* One training metric of several runs on one plot ("/metrics/" + metric,
 * e.g. "delta/chosen_mean"): runs[i] is "LABEL=MODEL.h5"; runs sharing a
 * label are averaged step by step (seeds of one setting), up to the
 * shortest of them.  Writes png_path. */
pp_status report_compare(const char *const *runs, int n_runs, const char *metric, const char *png_path,
                         const char *gnuplot, pp_err *err);

#endif
