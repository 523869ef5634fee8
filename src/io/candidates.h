/* candidates.h - the candidates file (schema `candidates`, made by
 * pp-generate, read by pp-rank, pp-rm and pp-eval) and the in-memory set.
 *
 * A set holds n_prompts prompts and k completions ("candidates") of each;
 * candidate c = p * k + j is completion j of prompt row p.  Ragged token
 * arrays live in one array each with offsets: the tokens of candidate c are
 * candidate_tokens[candidate_token_offsets[c] .. candidate_token_offsets[c+1]).
 * In memory the offsets always start at 0, also for a set loaded from the
 * middle of a file (candidates_load_range).
 *
 * Reading:
 *   candidate_set s;
 *   st = candidates_load(&s, "C.h5", &err);     // whole file, validated
 *   for (p = 0; p < s.n_prompts; p++)
 *       for (j = 0; j < s.k; j++) {
 *           int64_t c = p * s.k + j, n;
 *           const int32_t *toks = candidates_tokens(&s, c, &n);
 *           ... s.candidate_text[c], s.candidate_logp[c], s.finish_reason[c] ...
 *       }
 *   candidates_free(&s);
 *
 * Building and writing (pp-generate): set the header fields, then
 * candidates_add_prompt once and candidates_add_candidate k times per
 * prompt; candidates_write writes the file, collectively: every rank gives
 * the next contiguous block of prompts (rank order), numeric arrays are
 * written by hyperslab in parallel, texts are gathered to rank 0. */
#ifndef CANDIDATES_H
#define CANDIDATES_H

#include <mpi.h>
#include <stdint.h>

#include "core/pp_error.h"
#include "io/pp_h5.h"

/* Version 2: /finish_reason is an HDF5 enum.  Version 1 files still load. */
#define CANDIDATES_SCHEMA_VERSION 2

/* Why a candidate ended: the one table of finish reasons.  Stored as an
 * HDF5 enum (/finish_reason), so h5dump prints the names; adding a reason
 * is one line here (plus its name in hdf5-schemas/candidates.json). */
#define CANDIDATES_FINISH_REASONS(X) \
    X(FINISH_EOS, "eos")                 /* the model ended it (EOS, or BOS as run.c) */ \
    X(FINISH_MAX_TOKENS, "max_tokens")   /* max_new_tokens reached */ \
    X(FINISH_CONTEXT, "context")         /* the context window is full */ \
    X(FINISH_STOP, "stop")               /* a stop token or string (model/stop.h) */
#define CANDIDATES_FINISH_ID(id, name) id,
enum { CANDIDATES_FINISH_REASONS(CANDIDATES_FINISH_ID) FINISH_N };
#undef CANDIDATES_FINISH_ID
extern const pp_enum candidates_finish_enum;

typedef struct {
    /* header: the file's root attributes (every rank sets the same values
     * before candidates_write) */
    int64_t k;                  /* candidates per prompt */
    char model_fingerprint[32];
    char tokenizer[16];         /* "byte" | "llama2c" */
    int64_t vocab_size;
    double temperature, top_p;
    int64_t top_k, max_new_tokens, seed;
    char source[16], suite[128], split[16]; /* copied from the prompts file; "" = absent */

    /* rows held: prompts [first_row, first_row + n_prompts) of a file with
     * file_n_prompts prompts (first_row 0 and file_n_prompts = n_prompts
     * for a whole file or a set being built) */
    int64_t n_prompts, n_candidates; /* n_candidates = n_prompts * k */
    int64_t first_row, file_n_prompts;

    /* per prompt */
    int64_t *prompt_id;            /* stable id from the prompts file */
    char **prompt_text;            /* UTF-8, one malloc each */
    char **family, **reference;    /* builtin suite; NULL arrays when the file has none */
    char **prompt_rendered;        /* a conversation as the chat template wrote it (the
                                      model's input, BOS text included); NULL entries or
                                      array when none (prompt_text is then the input) */
    int64_t *prompt_token_offsets; /* n_prompts + 1 */
    int32_t *prompt_tokens;        /* what the model was given, BOS included */

    /* per candidate */
    int64_t *candidate_token_offsets; /* n_candidates + 1 */
    int32_t *candidate_tokens;        /* generated; a final EOS is included */
    char **candidate_text;            /* decoded, without EOS, valid UTF-8 */
    double *candidate_logp;           /* sum of log p(token) at temperature 1 */
    int32_t *candidate_length;        /* tokens generated */
    int32_t *finish_reason;           /* FINISH_* (candidates_finish_enum) */

    /* private: capacities while building */
    int64_t cap_prompts, cap_candidates, cap_prompt_tokens, cap_candidate_tokens;
} candidate_set;

/* Tokens of candidate c (0-based within the set) and their count. */
static inline const int32_t *candidates_tokens(const candidate_set *s, int64_t c, int64_t *n) {
    *n = s->candidate_token_offsets[c + 1] - s->candidate_token_offsets[c];
    return s->candidate_tokens + s->candidate_token_offsets[c];
}
/* Prompt tokens of prompt row p (0-based within the set). */
static inline const int32_t *candidates_prompt_tokens(const candidate_set *s, int64_t p, int64_t *n) {
    *n = s->prompt_token_offsets[p + 1] - s->prompt_token_offsets[p];
    return s->prompt_tokens + s->prompt_token_offsets[p];
}

/* An empty set with k candidates per prompt (header fields zeroed; fill
 * them in).  candidates_free releases everything. */
PP_MUST_CHECK pp_status candidates_init(candidate_set *s, int64_t k, pp_err *err);
void candidates_free(candidate_set *s);

/* Append a prompt (strings copied; family/reference may be NULL), then its
 * k candidates in order j = 0..k-1. */
PP_MUST_CHECK pp_status candidates_add_prompt(candidate_set *s, int64_t prompt_id, const char *text, const char *family,
                                const char *reference, const int *tokens, int n_tokens, pp_err *err);
/* The rendered conversation of the prompt added last (copied). */
PP_MUST_CHECK pp_status candidates_set_rendered(candidate_set *s, const char *rendered, pp_err *err);
PP_MUST_CHECK pp_status candidates_add_candidate(candidate_set *s, const int *tokens, int n_tokens, const char *text,
                                   double logp, int finish_reason, pp_err *err);
/* Append every prompt and candidate of src to dst (same k). */
PP_MUST_CHECK pp_status candidates_append(candidate_set *dst, const candidate_set *src, pp_err *err);

/* Read a whole candidates file; everything is checked before use: dims
 * against the attributes, offsets (start 0, never decreasing, end at the
 * token array's length), lengths equal offset differences, token ids inside
 * the vocabulary, finish reasons 0..FINISH_N-1, finite log-probs, unique prompt ids.
 * Any rank may call it, independently. */
PP_MUST_CHECK pp_status candidates_load(candidate_set *s, const char *path, pp_err *err);
/* Read prompts [first, first + count) and their candidates only (count < 0:
 * to the end), with the same checks; s->first_row = first. */
PP_MUST_CHECK pp_status candidates_load_range(candidate_set *s, const char *path, int64_t first, int64_t count,
                                pp_err *err);
/* Number of prompts and k of a file without loading it. */
PP_MUST_CHECK pp_status candidates_count(const char *path, int64_t *n_prompts, int64_t *k, pp_err *err);

/* Write a candidates file, collective over comm: rank r's set holds the
 * r-th contiguous block of prompts (an empty set is fine), every rank's
 * header holds the same values.  Written as NAME.tmp, renamed when
 * complete.  extra_attrs: NULL or a NULL-terminated list of name, value
 * pairs of text attributes added to the root (e.g. "run_key", KEY, NULL). */
PP_MUST_CHECK pp_status candidates_write(const candidate_set *s, const char *path, MPI_Comm comm, const pp_provenance *prov,
                           const char *const *extra_attrs, pp_err *err);

/* The set as JSON lines (io/pp_jsonl.h), one object per prompt:
 * {"prompt_id", "prompt", "responses": [k texts], "logps": [k sums of
 * log-probs], "finish_reasons": [k names]}.  One process. */
PP_MUST_CHECK pp_status candidates_write_jsonl(const candidate_set *s, const char *path, pp_err *err);

#endif
