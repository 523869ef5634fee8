/* rounds.h - the summary of an iterative run (jobs with [common] rounds = N):
 * W/round-01/, W/round-02/, ... each hold one round's files (candidates.h5,
 * pairs.h5, policy.h5, eval_base.h5 and, from round 2, eval_previous.h5);
 * the `rounds` file (W/rounds.h5) puts per round side by side the policy's
 * fingerprint and the one that generated its candidates, pair statistics,
 * training metrics and the evaluations against the base model and against
 * the previous round. */
#ifndef ROUNDS_H
#define ROUNDS_H

#include <mpi.h>
#include <stdint.h>

#include "core/pp_error.h"
#include "io/pp_h5.h"

#define ROUNDS_SCHEMA_VERSION 1
#define ROUNDS_MAX 999
#define ROUNDS_MAX_SPLITS 16
/* the training metrics are per batch: a round's value is the mean of its
 * last ROUNDS_TAIL_STEPS steps */
#define ROUNDS_TAIL_STEPS 10

enum { ROUNDS_VS_BASE, ROUNDS_VS_PREVIOUS, ROUNDS_N_BASELINES };
enum { ROUNDS_WIN, ROUNDS_WIN_SE, ROUNDS_POLICY_ACC, ROUNDS_POLICY_ACC_SE, ROUNDS_BASELINE_ACC, ROUNDS_BASELINE_ACC_SE,
       ROUNDS_N_EVAL };
enum { ROUNDS_LOSS, ROUNDS_ACCURACY, ROUNDS_MARGIN, ROUNDS_LOGPS_CHOSEN, ROUNDS_DRIFT, ROUNDS_HELDOUT_ACC, ROUNDS_N_TRAIN };
enum { ROUNDS_PAIRS, ROUNDS_PROMPTS, ROUNDS_NO_PAIR, ROUNDS_STEPS, ROUNDS_N_COUNTS };
enum { ROUNDS_TRUTH_PAIR_ACC, ROUNDS_TRUTH_GAP, ROUNDS_N_TRUTH };

extern const char *const rounds_eval_names[ROUNDS_N_EVAL];   /* "win_rate", ... */
extern const char *const rounds_train_names[ROUNDS_N_TRAIN]; /* "loss", ... */
extern const char *const rounds_count_names[ROUNDS_N_COUNTS];
extern const char *const rounds_truth_names[ROUNDS_N_TRUTH];
extern const char *const rounds_baseline_names[ROUNDS_N_BASELINES]; /* "base", "previous" */

typedef struct {
    int n_rounds, n_splits;
    char splits[512];           /* comma-separated, as in the eval files */
    char reference[16];         /* base | previous | mixed: what the rounds trained against */
    char (*policy_fp)[17];      /* per round */
    char (*generator_fp)[17];   /* the model that generated the round's candidates */
    char (*reference_fp)[17];   /* the round's training reference */
    int64_t *count[ROUNDS_N_COUNTS];  /* [n_rounds] */
    double *truth[ROUNDS_N_TRUTH];    /* [n_rounds], NaN when the pairs have no oracle truth */
    double *train[ROUNDS_N_TRAIN];    /* [n_rounds] */
    double *eval[ROUNDS_N_BASELINES][ROUNDS_N_EVAL]; /* [n_rounds * n_splits]; NaN: none (round 1 vs previous) */
} rounds_summary;

/* Read the rounds of work directory dir (round-01/ ... up to the first
 * missing one); a round's missing or bad file is PP_EINPUT naming it. */
PP_MUST_CHECK pp_status rounds_collect(const char *dir, rounds_summary *s, pp_err *err);
/* Write s as a `rounds` file (NAME.tmp, then renamed) from one process;
 * inputs: every round's files, for the provenance. */
PP_MUST_CHECK pp_status rounds_write(const rounds_summary *s, const char *path, const char *dir, const char *arguments,
                                     pp_err *err);
/* The rounds as a Markdown table (per round and split: generator, pairs,
 * drift, win rates against the base model and the previous round, and
 * accuracies, with standard errors), then for every round after the first
 * whether it improved on round 1: the differences of accuracy and of win
 * rate against the base model with their standard errors, and "improved"
 * or "worse" only beyond 2 of them.  Written to path.tmp, then renamed. */
PP_MUST_CHECK pp_status rounds_write_table(const rounds_summary *s, const char *path, pp_err *err);
/* What the rounds trained against, in words ("the base model", ...). */
const char *rounds_reference_words(const rounds_summary *s);
/* Read a `rounds` file back (the plots). */
PP_MUST_CHECK pp_status rounds_load(const char *path, rounds_summary *s, pp_err *err);
void rounds_free(rounds_summary *s);

#endif
