/* rank.h - the ranking engine of pp-rank: turns a candidate set into
 * chosen/rejected pairs with a judge (docs/ranking.md).
 *
 * Pairwise methods (iterative, knockout, roundrobin; src/rank/tournament.h):
 * rank 0 is the coordinator.  It owns one tournament per prompt and a pool
 * of the calls that are ready now, across all prompts.  Every other rank is
 * a worker with its own judge (one external process per rank for `cmd`)
 * and a short queue of calls (queue_depth); it sends each verdict back as
 * soon as it has it, and rank 0 refills the queue, so a worker never waits
 * on rank 0 while work remains.  Rank 0 judges too, one call at a time
 * between two rounds of message handling (it keeps the workers' queues full
 * first).  A verdict is a pure function of (judge, texts, prompt id, match,
 * order) -- never of the rank or the arrival order -- and a tournament's
 * state is a function of its set of verdicts, so the pairs do not depend on
 * the number of ranks.
 *
 * Resume: rank 0 appends every verdict to a journal in parts_dir as it
 * arrives (one write per record, each record with a checksum).  A restarted
 * run replays the journal into fresh tournaments (tourn_submit in log
 * order) and only judges what is missing, so it ends with the same pairs as
 * an uninterrupted run.  The journal starts with a key (candidates
 * fingerprint, method, k, both orders, judge and its settings); a journal
 * with another key is refused with a message naming the difference.  A torn
 * last record (killed mid-write) is cut off.
 *
 * `score`: each candidate gets a scalar from a pointwise scorer; prompts are
 * split in blocks over the ranks.  The scorers: the oracle (the task
 * scorer's true score, optionally plus Gaussian noise) and the reward
 * model of pp-rm (src/rm/reward_model.h). */
#ifndef RANK_H
#define RANK_H

#include <mpi.h>
#include <stdint.h>

#include "io/candidates.h"
#include "judge/judge_cmd.h"
#include "io/pairs.h"
#include "core/pp_error.h"
#include "core/pp_log.h"
#include "rank/tournament.h"

typedef enum { RANK_JUDGE_ORACLE, RANK_JUDGE_CMD, RANK_JUDGE_RM } rank_judge_kind;

typedef struct {
    int score_method;            /* 1: --method score (pointwise); else `method` */
    tourn_method method;
    rank_judge_kind judge;
    int both_orders;
    tourn_reject_rule rejected;
    char rejected_text[32];      /* as given, for the output */
    int pairs_all;               /* 1: --pairs all */

    /* oracle */
    double noise;                /* pairwise: verdict swap probability; score: std of added noise */
    double position_bias;
    double close_threshold;
    uint64_t seed;

    /* cmd */
    const char *judge_cmd;       /* "PROGRAM ARGS", split without a shell */
    judge_cmd_options cmd_opts;  /* timeout, retries, give-up, stderr (judge_cli) */
    const char *id_prefix;       /* put before every request id ("" none) */

    /* rm */
    const char *rm_path;
    const char *rm_model_path;   /* NULL: the feature model the RM file names */

    /* scheduling */
    int queue_depth;             /* calls queued at each worker (>= 1) */
    const char *parts_dir;       /* resume journal directory (created by rank 0) */
    const char *candidates_path; /* for the journal key (fingerprint) */
} rank_options;

void rank_options_default(rank_options *o);

/* What the run did, for the log (rank 0). */
typedef struct {
    int64_t calls_total;    /* judge calls the whole ranking takes */
    int64_t calls_replayed; /* answered by the journal of an earlier run */
    int64_t calls_judged;   /* judged in this run */
    double seconds;
} rank_report;

/* Collective over comm.  Every rank passes the same candidate set (each
 * loads it).  On success rank 0's *out holds the complete pairs set (other
 * ranks' is empty).  PP_EINTERRUPTED when a stop signal arrived: every
 * verdict so far is in the journal.  The journal is left in place; remove
 * it with rank_remove_parts once the output is committed. */
pp_status rank_run(const rank_options *opt, const candidate_set *c, const pp_log *log, MPI_Comm comm,
                   pairs_set *out, rank_report *report, pp_err *err);

/* Rank 0: delete the journal and its directory after success. */
void rank_remove_parts(const char *parts_dir);

/* ---- pointwise scorers (--method score) ---- */

/* A scorer gives each candidate a scalar, higher = better: scores[j] for
 * the k candidates of prompt row p, all at once (one batch).  A score must
 * depend only on (scorer, prompt, candidate), never on the rank. */
typedef struct {
    const char *name;
    void *ctx;
    pp_status (*score)(void *ctx, const candidate_set *c, int64_t p, double *scores, pp_err *err);
    void (*close)(void *ctx); /* frees ctx */
} rank_scorer;

/* The oracle as a scorer: the task scorer's true score, plus noise * N(0,1)
 * drawn from (seed, prompt id, j) when noise > 0.  Needs family and
 * reference (checked per prompt). */
pp_status rank_scorer_oracle(rank_scorer *s, double noise, uint64_t seed, pp_err *err);
/* The reward model of a pp-rm file on its feature model (model_path, or
 * NULL for the one the RM file names); checks that the model is the RM's
 * and that the candidates' tokenizer and vocabulary match it. */
pp_status rank_scorer_rm(rank_scorer *s, const char *rm_path, const char *model_path, const candidate_set *c,
                         pp_err *err);

#endif
