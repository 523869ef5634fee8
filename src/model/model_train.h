/* model_train.h - full-sequence forward and backward of the Llama model for
 * training (SFT, DPO and its relatives) and for scoring sequences.
 *
 * A batch is B variable-length sequences stored back to back (no padding).
 * A target mask marks which tokens are scored: token i counts when
 * target_mask[i] is 1, and it is predicted by the position before it in the
 * same sequence, so the first token of a sequence can never be scored
 * (prompt tokens are simply left at 0).
 *
 * The forward pass returns, per sequence, the SUM of the log-probabilities
 * of its scored tokens and how many there were - the DPO primitive.  The
 * backward pass takes dL/dlogp for each sequence (and optionally for each
 * token) and ADDS the parameter gradients into a flat buffer laid out like
 * the parameters (model_point).  Token-level NLL for SFT is the same call
 * with dL/dlogp = -1/(scored tokens in the global batch) for every sequence.
 *
 * Logits are never held for the whole batch: they are computed for a block
 * of scored rows at a time, and recomputed block by block in backward.
 *
 * The forward pass is inference's arithmetic (kernels.h, rowmatmul with
 * weights packed at each call): a token's log-prob has the bits the decoder
 * and the scorer (score.h) give it, whatever the batch.
 *
 * One workspace holds every activation for up to max_tokens tokens; it is
 * allocated once and reused, so a training step makes no allocation.  The
 * workspace remembers the batch of the last forward pass: call
 * model_backward after model_forward_logps on the same workspace. */
#ifndef MODEL_TRAIN_H
#define MODEL_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "model/kernels.h"
#include "model/model.h"
#include "core/pp_error.h"

typedef struct {
    int n_seq;                  /* B >= 1 */
    const int *lens;            /* [B] tokens per sequence, 1..cfg.seq_len */
    const int *tokens;          /* [sum lens] the sequences back to back */
    const uint8_t *target_mask; /* [sum lens] 1 = score this token; must be 0
                                   at each sequence's first token.  NULL =
                                   score every token except the first. */
} train_batch;

/* Everything the forward pass keeps for backward.  Read-only for callers
 * except through the functions below; rows are tokens in batch order, and
 * row i of sequence s is row seq_start[s] + i. */
typedef struct {
    model_config cfg;
    int max_tokens;   /* capacity: total tokens of a batch */
    int max_seq;      /* capacity: tokens of one sequence */
    int row_block;    /* scored rows per logits block */
    int recompute;    /* 1: per-layer activations kept for one layer only;
                         backward recomputes each layer from its input */
    float *mem;       /* the single float allocation */
    int *imem;        /* the single int allocation */

    /* the batch of the last forward pass */
    int ready;        /* 1 after a successful forward */
    int n_seq, n_tokens, n_scored;
    int *lens, *seq_start, *tokens; /* copies: [max_tokens] each */
    int *scored_row;  /* [n_scored] predictor row of each scored target */
    int *scored_seq;  /* [n_scored] its sequence */
    int *scored_start; /* [n_seq + 1] first scored row of each sequence */
    float *lse;       /* [n_scored] log-sum-exp of the row's logits */
    float *tok_logp;  /* [n_tokens] log p of token i (0 where not scored) */

    float *rope_cos, *rope_sin; /* [max_seq][head_dim/2] (model_rope_tables) */
    packed_weights pw;          /* the model's matrices packed for rowmatmul, */
    float *packed;              /* made again by every forward pass (kernels.h) */
    float *keys_t;              /* [kv width][max_seq] one sequence's keys, transposed */

    /* activations; per-layer arrays are [L][max_tokens][width], or
       [1][max_tokens][width] when recompute (train_ws_slot) */
    float *resid;     /* [L+1] residual stream entering each layer (+ final) */
    float *xn1, *rstd1;         /* attention RMSNorm output and 1/rms */
    float *q, *k, *v;           /* after RoPE (q, k) */
    float *att;                 /* softmax probabilities, per sequence and head */
    size_t att_layer_stride;    /* floats per layer in att */
    float *att_out;             /* attention output before o_proj */
    float *xmid;                /* residual after attention */
    float *xn2, *rstd2;         /* FFN RMSNorm output and 1/rms */
    float *h1, *h3;             /* gate and up projections */
    float *hg;                  /* silu(gate) * up, one layer [max_tokens][hidden] */
    float *xf, *rstdf;          /* after the final RMSNorm [max_tokens][d] */

    /* scratch */
    float *logits;              /* [row_block][V] */
    float *rows, *drows;        /* [row_block][d] gathered hidden rows, grads */
    float *dx, *dxn;            /* [max_tokens][d] */
    float *dq, *dk, *dv, *datt; /* [max_tokens][q or kv width] */
    float *dh1, *dh3;           /* [max_tokens][hidden] */
    float *dscore;              /* [max_seq][max_seq] */
} train_ws;

/* out[r][o] = x[r][in] . w[o][in]^T (+ beta * out) for the rows r of
 * n_groups groups, group g being rows [group_start[g], group_start[g+1]),
 * with one cblas_sgemm per group.  A row's result then depends only on the
 * rows of its own group: OpenBLAS's result for a row depends on how many
 * rows share the call and on the row's place in it (docs/architecture.md,
 * "Batch-invariant forward").  The forward pass no longer uses it (it
 * multiplies with rowmatmul, like inference: kernels.h); the sgemm
 * measurements of tests/tools/sgemm_rows.c do. */
void model_matmul_groups(float *out, const float *x, const float *w, int n_groups, const int *group_start, int in,
                         int o, float beta);

/* Allocate a workspace for batches of up to max_tokens tokens in total
 * (each sequence at most min(cfg->seq_len, max_tokens) tokens).  Size, in
 * floats, about max_tokens * L * (5 d + 2 hidden + 2 (q + kv width))
 * + L * n_heads * max_tokens * max_seq for the attention probabilities (of
 * which a batch touches only n_heads * sum len^2 per layer)
 * + packed_weights_floats (about the model's parameter count: the packed
 * weights the forward pass multiplies by). */
PP_MUST_CHECK pp_status train_ws_alloc(train_ws *ws, const model_config *cfg, int max_tokens, pp_err *err);
/* The same with activation checkpointing when recompute is 1: the forward
 * pass keeps each layer's input (the residual stream) and the activations
 * of one layer; backward recomputes each layer's forward before its
 * backward.  The gradients are bit-identical to recompute 0 (the same calls
 * on the same inputs); the cost is one more forward of the layers, the
 * saving L - 1 layers of activations and attention probabilities. */
PP_MUST_CHECK pp_status train_ws_alloc_mode(train_ws *ws, const model_config *cfg, int max_tokens, int recompute,
                                            pp_err *err);
/* Bytes train_ws_alloc_mode would allocate (the memory estimate of a stage). */
double train_ws_bytes(const model_config *cfg, int max_tokens, int recompute);
/* Slot of layer l's activations in the per-layer arrays. */
static inline size_t train_ws_slot(const train_ws *ws, int l) { return ws->recompute ? 0 : (size_t)l; }
void train_ws_free(train_ws *ws);

/* Check a batch for a model of configuration c: 1..max_tokens sequences of
 * 1..max_seq tokens each, max_tokens in total, ids in the vocabulary, a
 * mask of 0/1 that never scores a sequence's first token. */
PP_MUST_CHECK pp_status train_batch_check(const model_config *c, const train_batch *b, int max_seq, long max_tokens,
                                          pp_err *err);

/* Forward pass.  logp_out[s] = sum of log p(token | prefix) over the scored
 * tokens of sequence s (0 when none), ntok_out[s] = their number; either
 * may be NULL.  Rejects a batch that does not fit the workspace, token ids
 * outside the vocabulary and masks that score a sequence's first token. */
PP_MUST_CHECK pp_status model_forward_logps(const model *m, train_ws *ws, const train_batch *b,
                              float *logp_out, int *ntok_out, pp_err *err);

/* Backward pass of the last forward on ws.  dlogp_seq[s] = dL/dlogp_out[s]
 * (may be NULL: none); dlogp_tok[i] = dL/d(log p of token i), indexed like
 * tokens ([n_tokens]; entries of unscored tokens are ignored; may be NULL).
 * Gradients are ADDED to grads (flat, model_param_count floats, laid out as
 * model_point describes; zero it yourself at the start of a step), so
 * micro-batches accumulate.  Can be called more than once per forward. */
PP_MUST_CHECK pp_status model_backward(const model *m, train_ws *ws, const float *dlogp_seq,
                         const float *dlogp_tok, float *grads, pp_err *err);

/* The same with a seed on the hidden rows: dhidden[i][j] = dL/d(hidden
 * state after the final RMSNorm, row i, component j), [n_tokens][dim]
 * indexed like train_ws_hidden (may be NULL: model_backward).  What a loss
 * on a reward head over those rows (pp-rm --kind pointwise) needs; it is
 * added to the gradient the log-probs send there, then the final RMSNorm
 * and every layer below are differentiated as always. */
PP_MUST_CHECK pp_status model_backward_hidden(const model *m, train_ws *ws, const float *dlogp_seq,
                                              const float *dlogp_tok, const float *dhidden, float *grads,
                                              pp_err *err);

/* Hidden state after the final RMSNorm from the last forward:
 * [n_tokens][dim], row seq_start[s] + i is position i of sequence s.
 * (What a reward head reads; the logits are this times lm_head^T.) */
static inline const float *train_ws_hidden(const train_ws *ws) { return ws->xf; }
/* First row of sequence s in the last forward's batch. */
static inline int train_ws_seq_start(const train_ws *ws, int s) { return ws->seq_start[s]; }
/* log p(token i | the tokens before it in its sequence) from the last
 * forward, [n_tokens] indexed like tokens, 0 where not scored. */
static inline const float *train_ws_token_logps(const train_ws *ws) { return ws->tok_logp; }

#endif
