/* rank_engine.h - what the files of the ranking engine share; only
 * src/rank/ includes it.
 *
 *   rank.c          options, the entry (pairwise or score), the end
 *   rank_pool.c     pairwise: the judges on every rank, rank 0's pool and
 *                   coordinator, the workers
 *   rank_journal.c  the run key and the resume journal in the parts directory
 *   rank_score.c    --method score: pointwise judges, prompts in blocks
 *   rank_pairs.c    rankings -> pairs, and the pairs set with its statistics */
#ifndef RANK_ENGINE_H
#define RANK_ENGINE_H

#include <stdint.h>

#include "core/pp_parts.h"
#include "judge/judge.h"
#include "rank/rank.h"
#include "rank/tournament.h"

#define RANK_ERROR_TEXT 512

/* One call handed to a judge: candidates `first` and `second` of prompt
 * row `prompt`, call id `call` of that prompt's tournament. */
typedef struct {
    int32_t prompt, call, first, second;
} call_item;

/* A verdict as it travels to rank 0 and into the journal. */
typedef struct {
    int32_t prompt, call, first, second, verdict;
    int32_t attempts, timeouts, crashes, bad_answers, restarts, rank;
    int32_t fatal;   /* the judge is broken: error holds the message, stop the run */
    int32_t stopped; /* a stop cut the call short: no verdict, not journaled */
    double seconds;
    double probs[2]; /* the model judge's P(first), P(second); NAN for other judges */
    char error[RANK_ERROR_TEXT];
} verdict_msg;

/* A verdict as rank 0 keeps it for the match log. */
typedef struct {
    int32_t prompt, call, first, second, verdict;
    int32_t attempts, timeouts, crashes, bad_answers, restarts, rank;
    double seconds;
    double probs[2]; /* as in verdict_msg */
    char *error; /* NULL unless the call failed */
} verdict_log;

/* ---- rank_journal.c (rank 0) */

typedef struct {
    pp_parts parts; /* locked while the journal is open */
    int fd;         /* -1: closed */
    char path[PP_PATH_MAX];
    double last_sync;
} rank_journal;

/* Open (or make) the parts directory and its lock, refuse another run's key,
 * replay the journal's verdicts in log order through replay(ctx, v), and
 * leave it open for appending.  Replayed records are not written again. */
PP_MUST_CHECK pp_status journal_open(rank_journal *jr, const rank_options *o, const candidate_set *c, const pp_log *log,
                       pp_status (*replay)(void *ctx, const verdict_msg *v, pp_err *err), void *ctx, pp_err *err);
/* One record, written at once (synced every few seconds). */
PP_MUST_CHECK pp_status journal_append(rank_journal *jr, const verdict_msg *v, pp_err *err);
/* Sync and close the file; the parts directory stays locked. */
void journal_close(rank_journal *jr);

/* ---- rank_pairs.c (rank 0) */

typedef struct {
    int64_t prompt;
    int chosen, rejected;
} pair_item;

typedef struct {
    pair_item *v;
    int64_t n, cap;
} pair_list;

/* Per-prompt results before the pairs set is allocated. */
typedef struct {
    int64_t n_prompts;
    int k;
    int *ranking, *best, *worst, *calls, *ties, *failures;
    double *score, *strength; /* NULL when not made */
    pair_list pairs;
    /* totals over prompts */
    int64_t calls_total, matches, ties_total, flips, failures_total, failed_matches, no_pair, both_matches;
} rank_results;

void results_free(rank_results *r);
/* Finished tournaments -> rankings and pairs. */
PP_MUST_CHECK pp_status results_from_tournaments(const rank_options *o, tourn *const *t, int64_t n_prompts, int k, rank_results *r,
                                   pp_err *err);
/* Scores -> rankings and pairs: higher score first, ties by lower index; a
 * pair only where the scores differ. */
PP_MUST_CHECK pp_status results_from_scores(const rank_options *o, const double *scores, int64_t np, int k, rank_results *r,
                              pp_err *err);
/* Everything the pairs file holds: the results, the match log (sorted by
 * prompt and call; NULL for none), the judge's settings. */
PP_MUST_CHECK pp_status build_pairs(const rank_options *o, const judge_handle *jd, const candidate_set *c, const rank_results *r,
                      verdict_log *const *logs, int64_t n_logs, pairs_set *s, pp_err *err);

/* ---- the two methods (collective) */

PP_MUST_CHECK pp_status rank_pairwise(const rank_options *o, const candidate_set *c, const pp_log *log, MPI_Comm comm,
                        pairs_set *out, rank_report *rep, pp_err *err);
PP_MUST_CHECK pp_status rank_score(const rank_options *o, const candidate_set *c, MPI_Comm comm, pairs_set *out, rank_report *rep,
                     pp_err *err);

#endif
