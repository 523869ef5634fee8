/* decode.h - the continuous-batching decoder: K sampled candidates for
 * each of many prompts, every active sequence of every prompt advanced by
 * one forward call per step.
 *
 *   decoder d;
 *   decoder_init(&d, m, &params, err);          // all memory, once
 *   decoder_run(&d, prompts, n, sink, ctx, err); // sink gets each candidate
 *   decoder_free(&d);
 *
 * or, when the prompts arrive while the decoder runs (pp-generate pulls
 * its next chunk of prompts while the current one drains):
 *
 *   decoder_pull(&d, source, src_ctx, sink, ctx, err);
 *
 * A step feeds one row for every slot that is decoding and up to
 * DECODER_PREFILL_ROWS prompt rows of slots that are starting, all in one
 * infer_rows call (one rowmatmul per weight matrix over all rows).  When a
 * sequence ends (decoder_finish: EOS or BOS as in run.c, max_new_tokens,
 * or the context; or a stop token or string of p.stop), the sink gets it
 * and its slot takes the next candidate at once.
 *
 * Candidate k of a prompt of n tokens shares positions 0..n-2 with its
 * siblings: the first one of them to run prefills them, the others copy
 * them (infer_copy_prefix) from any slot that still holds them, and every
 * candidate then feeds the prompt's last token itself, whose logits give
 * its first token.  With rowmatmul every row's bits are independent of the
 * other rows, so a candidate's tokens and log-probs do not depend on
 * max_batch, on which sequences shared its steps, on the prompts' order or
 * on whether its prefix was computed or copied: they equal what
 * generate_prompt (one prompt's K candidates alone) gives.  Random draws
 * come from pp_rng_stream(seed, prompt id, k), one per token, as there.
 *
 * Memory, allocated by decoder_init only (decoder_memory_bytes):
 *   KV cache   2 x n_layers x slots x max_pos x kv_dim x 4 bytes, where
 *              max_pos = min(max_prompt_tokens + max_new_tokens - 1, seq_len)
 *              and slots = max_batch, lowered to fit kv_cache_mb;
 *   weights    a packed copy, about 4 x n_params bytes (infer.h), held once
 *              per node when p.share_weights (pp-generate does);
 *   rows       (slots + DECODER_PREFILL_ROWS) x (3 dim + 2 kv_dim + 2 hidden)
 *              floats of activations, slots x vocab floats of logits,
 *              2 x slots x max_new_tokens for the tokens and log-probs,
 *              and a table of slots + 1 open prompts.
 * Example: d=512, L=8 (kv_dim 512), prompts of 8 tokens, 128 new tokens:
 * max_pos 135, 4.2 MiB of KV cache per slot, 270 MiB at max_batch 64. */
#ifndef DECODE_H
#define DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/pp_error.h"
#include "core/pp_rng.h"
#include "model/infer.h"
#include "model/model.h"
#include "model/sample.h"
#include "model/stop.h"

/* Prompt rows a step takes at most (prefills are split over steps). */
#define DECODER_PREFILL_ROWS 256

typedef struct {
    int max_batch;          /* sequences decoded together, >= 1 */
    double kv_cache_mb;     /* KV cache budget in MiB, caps max_batch; <= 0: no cap */
    int max_prompt_tokens;  /* longest prompt decoder_run accepts */
    int max_new_tokens;
    int k;                  /* candidates per prompt */
    sample_params sample;
    uint64_t seed;
    const stop_set *stop;   /* stop tokens and strings (FINISH_STOP); NULL: none */
    int share_weights;      /* 1: the packed weights are held once per node (infer_init_shared
                               over share_comm; decoder_init and decoder_free are then
                               collective over it); 0: a private copy */
    MPI_Comm share_comm;
} decoder_params;

typedef struct {
    int64_t id;             /* keys the random streams: (seed, id, k) */
    const int *tokens;      /* n_tokens >= 1 (normally BOS first) */
    int n_tokens;
    int64_t tag;            /* the caller's number for it, returned as decoder_result.prompt */
} decoder_prompt;

/* Where decoder_pull gets its prompts, one per call: *got = 1 with *pr
 * filled (pr->tokens must stay valid until the prompt's last candidate
 * reached the sink), *got = 0 when there are no more. */
typedef pp_status (*decoder_source)(void *ctx, decoder_prompt *pr, int *got, pp_err *err);

/* One finished candidate, valid during the sink call only. */
typedef struct {
    int64_t prompt;         /* the prompt's tag (decoder_run: its index) */
    int k;
    const int *tokens;      /* generated tokens (a final EOS/BOS included) */
    const float *logprobs;  /* log-prob of each under the model (sample.h) */
    int n_tokens;
    double logp;            /* their sum, in token order */
    int finish;             /* FINISH_* of io/candidates.h */
} decoder_result;

typedef pp_status (*decoder_sink)(void *ctx, const decoder_result *r, pp_err *err);

typedef struct {
    const model *m;
    decoder_params p;
    infer_state st;
    int slots;              /* max_batch capped by kv_cache_mb */
    int max_pos;
    int row_tokens;         /* generated tokens kept per slot */
    /* open prompts: pulled from the source, not all candidates ended */
    decoder_prompt *open;   /* [slots + 1] */
    int *open_left;         /* candidates of it not yet given to the sink; 0: free entry */
    /* per slot */
    int *seq_prompt;        /* open entry of the running candidate, -1 when free */
    int *seq_k;
    int *fed;               /* tokens fed: the prompt's, then generated ones */
    int *prefix_of;         /* open entry whose positions 0..n-2 the slot holds, or -1 */
    int *n_gen;
    int *gen;               /* [slots][row_tokens] */
    float *gen_lp;          /* [slots][row_tokens] */
    double *logp;
    pp_rng *rng;
    stop_state *stop_st;    /* stop-string matching */
    /* one step */
    int *row_slot, *row_token, *out_row, *out_slot;
    float *logits;          /* [slots][vocab] */
    sample_candidate *scratch;
    /* called after every step when set (rank 0 of pp-generate answers the
     * other ranks' requests there) */
    void (*poll)(void *ctx);
    void *poll_ctx;
    /* totals over decoder_run calls */
    int64_t steps, rows, tokens;
} decoder;

PP_MUST_CHECK pp_status decoder_init(decoder *d, const model *m, const decoder_params *p, pp_err *err);
void decoder_free(decoder *d);

/* Bytes decoder_init would allocate for m and p, per rank, before it runs
 * (the same arithmetic as decoder_init's; the packed weights divided by
 * node_ranks when p->share_weights): a stage's memory estimate. */
double decoder_estimate_bytes(const model *m, const decoder_params *p, int node_ranks);

/* Bytes decoder_init allocated (cache, weight copy, buffers). */
size_t decoder_memory_bytes(const decoder *d);

/* Generate p.k candidates for each of n prompts; the sink receives each
 * candidate when it ends, in completion order (the caller files them by
 * (prompt, k)).  A sink error stops the run and is returned. */
PP_MUST_CHECK pp_status decoder_run(decoder *d, const decoder_prompt *prompts, int n, decoder_sink sink, void *ctx, pp_err *err);

/* The same with prompts taken from source whenever a slot is free, until
 * it says there are no more and every candidate has ended.  A source or
 * sink error stops the run and is returned. */
PP_MUST_CHECK pp_status decoder_pull(decoder *d, decoder_source source, void *src_ctx, decoder_sink sink, void *ctx,
                                     pp_err *err);

/* Whether a candidate that just drew token t as its generated-th token
 * (of a prompt of n_prompt tokens) ends: its FINISH_* (io/candidates.h),
 * or -1 when it goes on.  The one place where the end of a candidate is
 * decided. */
int decoder_finish(const decoder *d, int t, int generated, int n_prompt);

#endif
