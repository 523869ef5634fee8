/* kernels.h - the arithmetic of one row of the Llama forward pass, in one
 * place for the two forward passes: inference (infer.c: generation and
 * scoring) and the training forward (model_train.c).
 *
 * Both passes call exactly these functions on each row, in the same order,
 * and multiply by the same packed weights with rowmatmul (rowmatmul.h), so
 * a token's hidden states, logits and log-prob have the same bits whether
 * it was scored by the training forward, prefilled, decoded, or scored
 * through infer_rows (docs/architecture.md, "One arithmetic").  A change
 * to any of them changes both passes together.
 *
 * The arithmetic follows llama2.c's run.c: RMSNorm (sum of squares in
 * order, x * 1/sqrt(mean + eps), then the gain), RoPE on consecutive pairs,
 * attention scores divided by sqrt(head_dim), softmax with fast_expf,
 * SwiGLU silu(gate) * up.  The final log-softmax of a token is
 * sample_logprob (sample.h). */
#ifndef KERNELS_H
#define KERNELS_H

#include <stddef.h>

#include "model/model.h"
#include "model/rowmatmul.h"

/* The matrices the forward pass multiplies by, each packed for rowmatmul
 * (rowmatmul_pack: panels of ROWMATMUL_PANEL output columns, [in][panel]
 * each, rowmatmul_packed_size floats per matrix) and stacked over layers
 * like model_tensors; pointers into a caller's buffer of
 * packed_weights_floats floats.  The shapes are those of the logical
 * [in][out] product; packed_layer finds layer l's matrix. */
typedef struct {
    float *wq;          /* [L][d][Hq*hd] */
    float *wk;          /* [L][d][Hkv*hd] */
    float *wv;          /* [L][d][Hkv*hd] */
    float *wo;          /* [L][Hq*hd][d] */
    float *w_gate;      /* [L][d][hidden] */
    float *w_up;        /* [L][d][hidden] */
    float *w_down;      /* [L][hidden][d] */
    float *lm_head;     /* [d][V] */
} packed_weights;

/* Floats of the packed copy of c's matrices (about model_param_count, the
 * output columns padded to a multiple of ROWMATMUL_PANEL). */
size_t packed_weights_floats(const model_config *c);
/* Point pw into buffer and pack m's current weights into it. */
void packed_weights_fill(packed_weights *pw, float *buffer, const model *m);
/* The same pointers into buffer; the matrices are packed only when fill
 * (a node-shared copy that another rank of the node packs: fill 0). */
void packed_weights_place(packed_weights *pw, float *buffer, const model *m, int fill);
/* Layer l's matrix of a stack of in x out products. */
static inline const float *packed_layer(const float *stack, int l, int in, int out) {
    return stack + (size_t)l * rowmatmul_packed_size(in, out);
}

/* out = gain * (x / rms(x)), x of d floats (the sum of squares runs in
 * order); returns 1/rms(x) (what the backward pass needs). */
float kern_rmsnorm(float *out, const float *x, const float *gain, int d, float eps);
/* kern_rmsnorm of n rows of d floats (x and out row after row), with the
 * same bits row by row: the rows' sums of squares run side by side (each
 * a chain of d dependent additions, which one row alone leaves the core
 * waiting on).  rinv (n floats, may be NULL) gets each row's 1/rms. */
void kern_rmsnorm_rows(float *out, const float *x, const float *gain, int n, int d, float eps, float *rinv);

/* Rotate the consecutive pairs of each of n_heads heads of vec by the
 * angles of one position (cos_p, sin_p: head_dim/2 floats, from
 * model_rope_tables). */
void kern_rope(float *vec, int n_heads, int hd, const float *cos_p, const float *sin_p);

/* Positions per block of the key layout: the keys of positions
 * b*16 .. b*16+15 are one block [kv_dim][16], dimension-major, so the
 * scores of 16 positions are one SIMD sweep over a head's dimensions, and
 * a sequence's keys are one contiguous run of blocks (read from memory as
 * one stream, not kv_dim short rows). */
#define KERN_KEY_BLOCK 16
/* Floats of a key store for n_pos positions (whole blocks). */
static inline size_t kern_keys_floats(int n_pos, int kv_dim) {
    return (size_t)(n_pos + KERN_KEY_BLOCK - 1) / KERN_KEY_BLOCK * KERN_KEY_BLOCK * (size_t)kv_dim;
}
/* Store the kv_dim floats of k as the keys of position t. */
void kern_keys_put(float *keys, int kv_dim, int t, const float *k);

/* Causal attention of one query row, every head, over positions
 * 0..len-1: q has n_heads * hd floats; keys in the block layout above
 * (kern_keys_put), values row by row (position t at vals[t * kv_dim],
 * kv_dim = n_kv_heads * hd; query head h reads kv head h / (n_heads /
 * n_kv_heads)).  Head h's att row (att + h * att_stride, len floats) ends
 * holding its softmax probabilities; out (n_heads * hd floats) the
 * weighted values.  Each score, probability and output element is
 * computed by the same operations in the same order whatever the number
 * of heads or the layout (run.c's order for the scores). */
void kern_attend(float *out, float *att, size_t att_stride, const float *q, const float *keys, const float *vals,
                 int n_heads, int n_kv_heads, int hd, int len);

/* out[i] = silu(gate[i]) * up[i] for i < n (out may be gate). */
void kern_swiglu(float *out, const float *gate, const float *up, size_t n);

#endif
