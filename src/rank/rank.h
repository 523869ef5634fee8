/* rank.h - the ranking engine of pp-rank: turns a candidate set into
 * chosen/rejected pairs with a judge (docs/ranking.md).
 *
 * Pairwise methods (iterative, knockout, roundrobin; rank/tournament.h):
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
 * the number of ranks.  (rank_pool.c)
 *
 * Resume: the parts directory (core/pp_parts.h: one writer at a time, the
 * run key in run.key) holds a journal to which rank 0 appends every verdict
 * as it arrives (one write per record, each record with a checksum).  A
 * restarted run replays the journal into fresh tournaments (tourn_submit in
 * log order) and only judges what is missing, so it ends with the same
 * pairs as an uninterrupted run.  The run key (candidates fingerprint,
 * method, k, both orders, judge and its settings) of another run is refused
 * naming the first difference.  A torn last record (killed mid-write) is
 * cut off.  (rank_journal.c)
 *
 * `score`: each candidate gets a scalar from a pointwise judge (judge.h:
 * the oracle's true score, optionally plus Gaussian noise, or the reward
 * model of pp-rm); prompts are split in blocks over the ranks.
 * (rank_score.c)
 *
 * Both end in the pairs set (rank_pairs.c). */
#ifndef RANK_H
#define RANK_H

#include <mpi.h>
#include <stdint.h>

#include "core/pp_error.h"
#include "core/pp_log.h"
#include "core/pp_memory.h"
#include "core/pp_parts.h"
#include "io/candidates.h"
#include "io/pairs.h"
#include "judge/judge_cli.h"
#include "rank/tournament.h"

typedef struct {
    int score_method;            /* 1: --method score (pointwise); else `method` */
    tourn_method method;
    const char *judge;           /* a judge's name (judge.h): oracle | cmd | rm */
    int both_orders;
    tourn_reject_rule rejected;
    char rejected_text[32];      /* as given, for the output */
    int pairs_all;               /* 1: --pairs all */

    judge_cli j;                 /* the shared judge options (oracle and cmd settings, id prefix) */
    const char *rm_path;         /* rm: the pp-rm file */
    const char *rm_model_path;   /* rm: NULL for the feature model the RM file names */

    /* scheduling */
    int queue_depth;             /* calls queued at each worker (>= 1) */
    const char *parts_dir;       /* resume directory (made and locked by rank 0) */
    const char *out_path;        /* the pairs file the parts belong to (for messages) */
    const char *candidates_path; /* for the run key (fingerprint) */
    const char *max_memory;      /* --max-memory (NULL: what the machine has, core/pp_memory.h) */
    pp_memory *mem;              /* the estimate, for the summary line (may be NULL) */
} rank_options;

void rank_options_default(rank_options *o);

/* What the run did, for the log (rank 0). */
typedef struct {
    int64_t calls_total;    /* judge calls the whole ranking takes */
    int64_t calls_replayed; /* answered by the journal of an earlier run */
    int64_t calls_judged;   /* judged in this run */
    double seconds;
    pp_parts parts;         /* rank 0, pairwise, after success: the parts
                               directory, still locked (rank_end) */
} rank_report;

/* Collective over comm.  Every rank passes the same candidate set (each
 * loads it).  On success rank 0's *out holds the complete pairs set (other
 * ranks' is empty) and the parts directory stays locked in report->parts
 * until rank_end.  PP_EINTERRUPTED when a stop signal arrived: every
 * verdict so far is in the journal, which stays (unlocked) for the rerun. */
PP_MUST_CHECK pp_status rank_run(const rank_options *opt, const candidate_set *c, const pp_log *log, MPI_Comm comm,
                   pairs_set *out, rank_report *report, pp_err *err);

/* Rank 0, after rank_run: the output out is committed (remove the parts
 * directory, log what the run did from ps and report) or not (release the
 * lock, keep the journal). */
void rank_end(rank_report *report, int committed, const char *out, const pairs_set *ps, const pp_log *log);

/* What pp-rank asks for beyond rank_options. */
typedef struct {
    const char *method;          /* iterative | knockout | roundrobin | score */
    const char *rejected;        /* worst | runner-up | quantile:Q */
    const char *jsonl;           /* NULL, or also write the pairs as TRL JSON lines */
    const char *arguments;       /* effective options, for the provenance */
} rank_file_options;

/* pp-rank's whole work: check the option combination, load the candidates
 * of o->candidates_path, rank them (rank_run), write the pairs file
 * o->out_path (and the JSONL), then remove the parts directory.  o's method,
 * rejected rule and parts directory are filled in from f.  Collective. */
PP_MUST_CHECK pp_status rank_file(rank_options *o, const rank_file_options *f, const pp_log *log, MPI_Comm comm,
                                  pp_err *err);

#endif
