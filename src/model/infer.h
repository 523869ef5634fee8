/* infer.h - incremental (KV-cache) forward pass for generation.
 *
 * One infer_state holds a key/value cache for up to max_seqs sequence slots
 * of up to max_pos positions each, plus activation buffers, all allocated
 * once by infer_init; nothing is allocated per token.
 *
 * Typical use for K candidates of one prompt:
 *
 *   infer_reset(st, 0);
 *   infer_prefill(st, 0, prompt, n, first_logits, err);   // sgemm over n rows
 *   for (k = 1; k < K; k++) infer_copy_seq(st, 0, k, err); // share the prefill
 *   ... sample K first tokens from first_logits ...
 *   while (some active) infer_decode(st, n_active, slots, tokens, logits, err);
 *
 * infer_decode runs one step for any subset of slots, each at its own
 * position, as one batch; infer_rows runs any mix of prefill and decode
 * rows of many slots (the continuous-batching decoder, decode.h).  Every
 * weight matrix is applied with one rowmatmul over all rows: a row's bits
 * do not depend on the other rows, their number or its place (rowmatmul.h),
 * so a token fed in a prefill chunk, alone, or in a step of 256 rows gives
 * the same keys, values and logits.
 *
 * Memory: besides the cache, the state holds its own copy of every matrix
 * the forward pass multiplies by (the layers' projections and the
 * classifier), packed for rowmatmul, about as many floats as the model
 * has parameters (4 bytes x n_params: 1 MB for stories260K, 17 MB at
 * d=256/L=4, 110 MB at d=512/L=8; each matrix's output columns are
 * padded to a multiple of ROWMATMUL_PANEL).
 * The copy is made by infer_init, so weights changed afterwards are not
 * seen: make a new state.
 *
 * The arithmetic follows llama2.c's run.c: RMSNorm (x * 1/sqrt(mean(x^2)+eps)
 * then gain), RoPE on consecutive pairs with cosf/sinf of pos * theta^(-2i/hd),
 * grouped-query attention with softmax(q.k / sqrt(hd)), SwiGLU FFN, final
 * RMSNorm and the (tied or untied) classifier.  What differs is rounding
 * only: the summation order of the matrix products (rowmatmul), of the
 * softmax sums and of the attention-weighted values (in SIMD-friendly
 * blocks), and exp, which is fast_expf (about 1e-7 relative, fastmath.h)
 * instead of expf.  Every per-row step is a function of kernels.h, which
 * the training forward (model_train.c) calls too: both passes give a token
 * the same bits. */
#ifndef INFER_H
#define INFER_H

#include <mpi.h>

#include "model/kernels.h"
#include "model/model.h"
#include "core/pp_error.h"
#include "core/pp_mpi.h"
#include "model/rowmatmul.h"

/* The packed copy of the model's matrices (kernels.h). */
typedef packed_weights infer_weights_t;

typedef struct {
    const model *m;     /* borrowed; must outlive the state */
    infer_weights_t wt; /* packed copy of m's matrices (kernels.h) */
    float *wt_buffer;   /* the floats wt points into */
    pp_node_shared wt_node; /* its node-shared window (infer_init_shared), else unused */
    int max_seqs;       /* sequence slots in the cache */
    int max_pos;        /* positions per slot (<= m->cfg.seq_len) */
    int max_rows;       /* rows of the activation buffers (batch or prefill chunk) */
    int kv_dim;         /* n_kv_heads * head_dim */
    int *pos;           /* [max_seqs] positions filled in each slot */
    float *key_cache;   /* [L][max_seqs][max_pos / 16 rounded up][kv_dim][16]: the key
                           blocks of kernels.h (kern_keys_put) */
    float *value_cache; /* [L][max_seqs][max_pos][kv_dim] */
    float *rope_cos;    /* [max_pos][head_dim/2] */
    float *rope_sin;    /* [max_pos][head_dim/2] */
    /* activations, max_rows rows each */
    float *x;           /* [rows][dim] residual stream */
    float *xb;          /* [rows][max(dim, q_dim)] normed input / attention output */
    float *q;           /* [rows][q_dim] (q_dim = n_heads * head_dim) */
    float *k;           /* [rows][kv_dim] */
    float *v;           /* [rows][kv_dim] */
    float *hb;          /* [rows][hidden_dim] */
    float *hb2;         /* [rows][hidden_dim] */
    float *att;         /* [n_heads][max_pos] attention scores of one row */
    int *row_slot;      /* [rows] slot of each row of the current batch */
    int *row_pos;       /* [rows] position of each row */
    int *slot_rows;     /* [max(rows, max_seqs)] scratch: rows per slot in infer_rows */
    /* the next attention's keys and values, prefetched during the products
       before it (rowmatmul_prefetching); at most prefetch_budget bytes */
    rowmatmul_range *prefetch_ranges; /* [4 * rows] */
    rowmatmul_prefetch prefetch;
    size_t prefetch_budget;
} infer_state;

/* Allocate a cache for max_seqs slots of max_pos positions (max_pos <= 0
 * means the model's seq_len).  All slots start empty. */
PP_MUST_CHECK pp_status infer_init(infer_state *st, const model *m, int max_seqs, int max_pos, pp_err *err);
/* The same with activation buffers for at least max_rows rows per call
 * (infer_rows); infer_init's are max(max_seqs, 256 or max_pos). */
PP_MUST_CHECK pp_status infer_init_rows(infer_state *st, const model *m, int max_seqs, int max_pos, int max_rows,
                                        pp_err *err);
/* The same with the packed weights held once per node: an MPI-3
 * shared-memory window over the ranks of comm on this node
 * (pp_node_shared), packed by the node's first rank, read by all; m must
 * be the same model on every rank of comm.  Collective over comm, and
 * infer_free of such a state is collective over the node's ranks.  The
 * results are the same bits as infer_init_rows' (the same packed floats). */
PP_MUST_CHECK pp_status infer_init_shared(infer_state *st, const model *m, int max_seqs, int max_pos, int max_rows,
                                          MPI_Comm comm, pp_err *err);
void infer_free(infer_state *st);
/* What infer_init_rows (node_ranks 1) or infer_init_shared (the ranks on
 * the node) would allocate for config c, before anything is: a stage's
 * memory estimate (core/pp_memory.h). */
double infer_estimate_bytes(const model_config *c, int max_seqs, int max_pos, int max_rows, int node_ranks);
/* 1 when config c's packed weights are large enough to be held once per
 * node (infer_init_shared) by the callers that may share them (the
 * decoder, the scorer); smaller ones are faster as a private copy in huge
 * pages.  The same answer on every rank. */
int infer_share_weights(const model_config *c);
/* Bytes the state allocated: cache, packed weights, buffers. */
size_t infer_memory_bytes(const infer_state *st);

/* For benchmarks: the weight products of one forward step of n rows
 * (n <= max_rows), as forward_rows issues them, every one from in (n rows
 * of max(dim, hidden) floats, any values) into out (n x max(hidden, dim,
 * vocab) floats): the decoder's matrix-product cost without the rest. */
void infer_step_products(const infer_state *st, int n, const float *in, float *out);

/* Empty a slot (its position goes back to 0). */
void infer_reset(infer_state *st, int slot);
/* Positions filled in a slot, i.e. the position the next token will get. */
int infer_position(const infer_state *st, int slot);

/* Run n tokens through slot `slot`, at positions infer_position(slot) ..
 * +n-1 (normally a whole prompt into an empty slot), in batched chunks.
 * logits (may be NULL) receives vocab_size floats: the next-token logits
 * after the last of the n tokens. */
PP_MUST_CHECK pp_status infer_prefill(infer_state *st, int slot, const int *tokens, int n, float *logits,
                        pp_err *err);

/* Make slot dst a copy of slot src (its cache rows and position): the K
 * candidates of one prompt share one prefill. */
PP_MUST_CHECK pp_status infer_copy_seq(infer_state *st, int src, int dst, pp_err *err);
/* Make slot dst hold the first n positions of slot src (n <= its position);
 * src == dst just cuts the slot back to n. */
PP_MUST_CHECK pp_status infer_copy_prefix(infer_state *st, int src, int dst, int n, pp_err *err);

/* One decode step for n distinct slots: row i feeds tokens[i] to slots[i]
 * at that slot's current position, and logits row i (n x vocab_size floats,
 * caller-owned) receives its next-token logits.  n <= max_seqs. */
PP_MUST_CHECK pp_status infer_decode(infer_state *st, int n, const int *slots, const int *tokens,
                       float *logits, pp_err *err);

/* One forward call over n rows (n <= max_rows): row i feeds tokens[i] to
 * slots[i]; the rows of one slot take its next positions in the order they
 * appear (a prefill chunk), and any number of slots may share the call.
 * Row out_rows[j] (j < n_out) writes its next-token logits to row j of
 * logits (n_out x vocab_size floats, caller-owned). */
PP_MUST_CHECK pp_status infer_rows(infer_state *st, int n, const int *slots, const int *tokens, int n_out,
                                   const int *out_rows, float *logits, pp_err *err);
/* infer_rows that also writes every row's hidden state after the final
 * RMSNorm (what the classifier reads) to hidden (n x dim floats; NULL:
 * none).  n_out may be 0 (logits NULL) when only the hidden states are
 * wanted: a scorer of features (score.h). */
PP_MUST_CHECK pp_status infer_rows_hidden(infer_state *st, int n, const int *slots, const int *tokens, int n_out,
                                          const int *out_rows, float *logits, float *hidden, pp_err *err);

#endif
