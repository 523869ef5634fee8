/* eval.h - a policy against a baseline: one response per prompt from each
 * (same sampling seed), judged pairwise in both orders; win/tie/loss rates
 * with a standard error, and task accuracy where the oracle can score.
 *
 * Per prompt, verdict v of order o is turned into the policy's point of
 * view (+1 policy better, -1 baseline better, 0 tie or failure) and the two
 * orders are summed: > 0 is a win (outcome 1), < 0 a loss (0), 0 a tie
 * (0.5).  The win rate is the mean outcome and its standard error is
 * sd(outcome)/sqrt(n).  Opposite verdicts in the two orders are a flip
 * (position bias) and count as a tie.  Because both orders are asked,
 * swapping policy and baseline gives exactly 1 - win rate.
 *
 * Responses come from one continuous-batching decoder per model
 * (model/decode.h, max_batch responses per step, allocated once): a
 * rank's unsaved chunks are generated in groups of at least max_batch
 * prompts, then judged and saved chunk by chunk.  A response depends only
 * on (model, prompt id, seed), not on the batch or the group.
 *
 * Resume: the prompts of each split are cut into chunks of chunk_prompts;
 * each rank takes a contiguous range of chunks and saves every finished one
 * (both texts and both verdicts) atomically as OUT.parts/S-NNNNNN.h5,
 * tagged with a run key (model and prompts fingerprints, judge and sampling
 * settings).  A rerun reuses every chunk of the same key and redoes the
 * rest; a response and an oracle verdict depend only on (model, prompt id,
 * seed), so the output equals an uninterrupted run's whatever the rank
 * count.  OUT.parts is removed once OUT is written.  A stop signal ends the
 * run after the current chunk with PP_EINTERRUPTED.  Test hook:
 * PP_HOOK_CHUNK_DELAY (core/pp_testhook.h) after each saved chunk. */
#ifndef EVAL_H
#define EVAL_H

#include <mpi.h>
#include <stdint.h>

#include "generate/generate.h"
#include "judge/judge_cli.h"
#include "core/pp_log.h"

#define EVAL_SCHEMA_VERSION 1
#define EVAL_MAX_SPLITS 8
#define EVAL_DEFAULT_CHUNK_PROMPTS 16

typedef struct {
    const char *judge;          /* oracle | cmd */
    judge_cli j;                /* the judge's settings (the options pp-rank takes too) */
    gen_params gen;             /* k is forced to 1; gen.stop is set per model from chat */
    int chunk_prompts;          /* prompts per saved chunk, >= 1 */
    chat_options chat;          /* --chat-template, --stop, --stop-string (both models) */
    int max_batch;              /* responses decoded together (model/decode.h) */
    double kv_cache_mb;         /* KV cache budget per model that caps max_batch; <= 0: none */
    const char *max_memory;     /* --max-memory (NULL: what the machine has, core/pp_memory.h) */
    pp_memory *mem;             /* the estimate, for the summary line (may be NULL) */
} eval_options;

typedef struct {
    char name[32];
    int64_t n, wins, ties, losses, flips, failures;
    double win_rate, win_rate_se, tie_rate, loss_rate, flip_rate;
    int has_oracle;
    double acc[2], acc_se[2], score[2], score_se[2]; /* 0 policy, 1 baseline */
} eval_split_summary;

/* Evaluate over every prompts file (the split name is the file's `split`
 * attribute, else its basename) and write out.  Collective. */
PP_MUST_CHECK pp_status eval_run(const char *policy_path, const char *baseline_path, const char *const *prompt_paths,
                   int n_splits, const char *out_path, const eval_options *o, const pp_provenance *prov,
                   MPI_Comm comm, const pp_log *log, eval_split_summary *summary, pp_err *err);
/* Read the per-split summaries back from an eval file. */
PP_MUST_CHECK pp_status eval_load_summary(const char *path, eval_split_summary *s, int *n_splits, pp_err *err);
/* The summary table as text (rank 0 prints it). */
void eval_print_table(FILE *f, const eval_split_summary *s, int n_splits);

#endif
