/* pairs.h - the `pairs` file (hdf5-schemas/pairs.json): chosen/rejected
 * pairs made by pp-rank, read by pp-train and pp-rm.
 *
 * One struct holds everything, in three parts:
 *   per prompt (n_prompts rows, row p = row p of the candidates file):
 *       id, text, tokens, best/worst, the full ranking, judge counts;
 *   per pair (n_pairs): prompt row, chosen and rejected candidate index,
 *       their token ids (exactly as generated) and texts;
 *   the match log (n_matches): every judge call, sorted by (prompt, call).
 * Ragged token arrays are one flat array plus offsets: the tokens of item i
 * are tokens[off[i] .. off[i+1]).  Optional arrays are NULL when absent.
 * Every text array (char **) is one block, pointers and bytes together, so
 * free(array) frees it (pairs_pack_text makes one).
 *
 * Training reads only what it needs:
 *     pairs_set s;
 *     pairs_load(&s, path, 0, &err);             // no match log
 *     for (i = 0; i < s.n_pairs; i++) {
 *         int64_t np, nc, nr;
 *         const int32_t *p = pairs_prompt_tokens(&s, i, &np);   // BOS included
 *         const int32_t *c = pairs_chosen_tokens(&s, i, &nc);   // EOS included
 *         const int32_t *r = pairs_rejected_tokens(&s, i, &nr); //   when generated
 *         ...
 *     }
 *     pairs_free(&s);
 * and checks s.model_fingerprint / s.tokenizer / s.vocab_size against its
 * model.  pairs_load checks every size before allocating, every offset
 * array (starts at 0, never decreases, ends at its token count), every
 * index (prompt rows, candidate indices) and every token id (< vocab_size),
 * so a loaded set can be indexed without further checks.
 *
 * Writing (pp-rank): fill a pairs_set on rank 0 (pairs_alloc,
 * pairs_pack_text) and call pairs_write collectively. */
#ifndef PAIRS_H
#define PAIRS_H

#include <mpi.h>
#include <stdint.h>

#include "core/pp_error.h"
#include "io/pp_h5.h"

/* Version 2: verdicts and match orders are HDF5 enums, the match log's
 * size is n_logged_calls (was n_matches).  Version 1 files still load. */
#define PAIRS_SCHEMA_VERSION 2

/* Names of the stored verdicts (value i = names[i]; judge.h's
 * judge_verdict has the same values) and of the match orders. */
extern const pp_enum pairs_verdict_enum; /* first, second, tie, failed */
extern const pp_enum pairs_order_enum;   /* as_scheduled, swapped */

/* One judge call of the match log. */
typedef struct {
    int64_t prompt;   /* prompt row */
    int call;         /* call id in the prompt's tournament: match * orders + order */
    int match, order; /* order 1: the two slots shown swapped */
    int a, b;         /* candidates shown first and second */
    int verdict;      /* 0 a better, 1 b better, 2 tie, 3 failed (judge_verdict) */
    double seconds;   /* wall time of the call, retries included */
    int attempts, timeouts, crashes, bad_answers, restarts; /* cmd judge only */
    int rank;         /* MPI rank that judged it */
    int64_t sequence; /* arrival position, across resumed runs */
    double p_first, p_second; /* the model judge's label probabilities (NAN otherwise) */
} pairs_match;

typedef struct {
    /* sizes */
    int64_t n_prompts;
    int k;
    int64_t n_pairs;
    int64_t n_matches;

    /* per prompt */
    int64_t *prompt_id;
    char **prompt_text;
    char **family, **reference;    /* NULL unless the builtin suite made the prompts */
    int64_t *prompt_token_offsets; /* n_prompts + 1 */
    int32_t *prompt_tokens;
    int *best, *worst;             /* candidate indices 0..k-1 */
    int *ranking;                  /* [n_prompts * k], best first */
    int *judge_calls, *ties, *failures;
    double *score;                 /* [n_prompts * k] or NULL: see the schema */
    double *strength;              /* [n_prompts * k] or NULL */
    double *true_score;            /* [n_prompts * k] or NULL */

    /* per pair */
    int64_t *pair_prompt;
    int *chosen, *rejected;        /* candidate indices 0..k-1 */
    char **chosen_text, **rejected_text;
    int64_t *chosen_token_offsets, *rejected_token_offsets; /* n_pairs + 1 */
    int32_t *chosen_tokens, *rejected_tokens;
    double *chosen_true_score, *rejected_true_score; /* NULL when unknown */

    /* match log: loaded only with PAIRS_LOAD_MATCHES (n_matches is always
     * the file's count; the arrays stay NULL without the flag) */
    pairs_match *matches;
    char **match_error;            /* [n_matches]: "" unless the verdict is failed */

    /* how the pairs were made */
    char method[16];               /* iterative | knockout | roundrobin | score | import */
    char judge[16];                /* oracle | cmd | rm | none (imported) */
    int both_orders;
    char rejected_rule[32];        /* worst | runner-up | quantile:Q */
    char pairs_mode[8];            /* best | all */
    char judge_cmd[1024];          /* "" unless judge = cmd */
    double judge_noise, judge_position_bias, judge_close_threshold; /* oracle */
    int64_t judge_seed;
    double judge_timeout;          /* cmd */
    int has_oracle_params, has_timeout;

    /* counters */
    int64_t judge_calls_total, matches_total, ties_total, flips, failures_total, failed_matches;
    int64_t timeouts, crashes, bad_answers, restarts, prompts_without_pair;
    double flip_rate, judge_seconds;

    /* pp-import (has_import): rows read, skipped as bad (--skip-bad),
     * truncated, and the limits used (src/import/import.h) */
    int has_import;
    int64_t import_rows, skipped_rows, truncated_prompts, truncated_responses, max_length, max_prompt_tokens;

    /* agreement with the truth (has_truth: the oracle could score) */
    int has_truth;
    int64_t truth_prompts;
    double truth_best_rate, truth_worst_rate, truth_agreement, truth_pair_accuracy, truth_mean_gap;

    /* copied from the candidates file */
    char model_fingerprint[64];
    char tokenizer[16];
    int vocab_size;
    char source[16], suite[128], split[16]; /* "" when absent */
} pairs_set;

enum { PAIRS_LOAD_MATCHES = 1 };

/* Read a pairs file (any rank, independently).  flags: PAIRS_LOAD_MATCHES
 * to read the match log too.  On error *s is left empty. */
PP_MUST_CHECK pp_status pairs_load(pairs_set *s, const char *path, int flags, pp_err *err);

/* Write a pairs file: collective over comm; rank 0's set is written (other
 * ranks may pass an empty set).  NAME.tmp then rename, as every output. */
PP_MUST_CHECK pp_status pairs_write(const pairs_set *s, const char *path, MPI_Comm comm, const pp_provenance *prov,
                      pp_err *err);

/* TRL's preference format, one JSON object per pair and line:
 * {"prompt": ..., "chosen": ..., "rejected": ...} (texts; invalid UTF-8
 * bytes become U+FFFD).  Written as PATH.tmp, then renamed.  One process. */
PP_MUST_CHECK pp_status pairs_write_jsonl(const pairs_set *s, const char *path, pp_err *err);

void pairs_free(pairs_set *s);

/* Tokens of pair i (no copy; valid while the set lives); *n gets the count.
 * int32_t like candidate_set's token arrays. */
const int32_t *pairs_prompt_tokens(const pairs_set *s, int64_t pair, int64_t *n);
const int32_t *pairs_chosen_tokens(const pairs_set *s, int64_t pair, int64_t *n);
const int32_t *pairs_rejected_tokens(const pairs_set *s, int64_t pair, int64_t *n);

/* Copy n strings (NULL = "") into one block: *dst[i] point into it. */
PP_MUST_CHECK pp_status pairs_pack_text(char ***dst, int64_t n, const char *const *src, pp_err *err);

/* Allocate the per-prompt, per-pair and match arrays for the given sizes
 * (zeroed; texts NULL).  with_truth / with_score / with_strength allocate
 * the optional arrays too.  The token arrays are not allocated here (their
 * sizes are known later): assign malloc'd arrays to prompt_tokens,
 * chosen_tokens and rejected_tokens; pairs_free frees them. */
PP_MUST_CHECK pp_status pairs_alloc(pairs_set *s, int64_t n_prompts, int k, int64_t n_pairs, int64_t n_matches,
                      int with_truth, int with_score, int with_strength, pp_err *err);

#endif
