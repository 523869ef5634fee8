/* kernels.c - the per-row arithmetic shared by both forward passes
 * (kernels.h). */
#include "model/kernels.h"

#include <math.h>
#include <string.h>

#include "model/fastmath.h"

size_t packed_weights_floats(const model_config *c) {
    int d = c->dim, h = c->hidden_dim, hd = model_head_dim(c);
    int qd = c->n_heads * hd, kvd = c->n_kv_heads * hd;
    return (size_t)c->n_layers * (rowmatmul_packed_size(d, qd) + 2 * rowmatmul_packed_size(d, kvd) +
                                  rowmatmul_packed_size(qd, d) + 2 * rowmatmul_packed_size(d, h) +
                                  rowmatmul_packed_size(h, d)) +
           rowmatmul_packed_size(d, c->vocab_size);
}

/* Pack `count` stacked [out][in] matrices, each into its own block (fill
 * 0: only step over them); returns the end. */
static float *pack_stack(float *dst, const float *src, int count, int out, int in, int fill) {
    for (int m = 0; m < count; m++) {
        if (fill) rowmatmul_pack(dst, src + (size_t)m * out * in, out, in);
        dst += rowmatmul_packed_size(in, out);
    }
    return dst;
}

void packed_weights_fill(packed_weights *pw, float *buffer, const model *m) { packed_weights_place(pw, buffer, m, 1); }

void packed_weights_place(packed_weights *pw, float *buffer, const model *m, int fill) {
    const model_config *c = &m->cfg;
    const model_tensors *w = &m->w;
    int L = c->n_layers, d = c->dim, h = c->hidden_dim, hd = model_head_dim(c);
    int qd = c->n_heads * hd, kvd = c->n_kv_heads * hd;
    float *p = buffer;
    pw->wq = p, p = pack_stack(p, w->wq, L, qd, d, fill);
    pw->wk = p, p = pack_stack(p, w->wk, L, kvd, d, fill);
    pw->wv = p, p = pack_stack(p, w->wv, L, kvd, d, fill);
    pw->wo = p, p = pack_stack(p, w->wo, L, d, qd, fill);
    pw->w_gate = p, p = pack_stack(p, w->w_gate, L, h, d, fill);
    pw->w_up = p, p = pack_stack(p, w->w_up, L, h, d, fill);
    pw->w_down = p, p = pack_stack(p, w->w_down, L, d, h, fill);
    pw->lm_head = p;
    pack_stack(p, w->lm_head, 1, c->vocab_size, d, fill);
}

float kern_rmsnorm(float *out, const float *x, const float *gain, int d, float eps) {
    float ss = 0.0f;
    for (int j = 0; j < d; j++) ss += x[j] * x[j];
    ss /= (float)d;
    ss += eps;
    float r = 1.0f / sqrtf(ss);
    for (int j = 0; j < d; j++) out[j] = gain[j] * (r * x[j]);
    return r;
}

void kern_rope(float *vec, int n_heads, int hd, const float *cos_p, const float *sin_p) {
    for (int h = 0; h < n_heads; h++) {
        float *v = vec + (size_t)h * hd;
        for (int i = 0; i < hd / 2; i++) {
            float v0 = v[2 * i], v1 = v[2 * i + 1];
            v[2 * i] = v0 * cos_p[i] - v1 * sin_p[i];
            v[2 * i + 1] = v0 * sin_p[i] + v1 * cos_p[i];
        }
    }
}

void kern_keys_put(float *keys, int kv_dim, int t, const float *k) {
    float *dst = keys + (size_t)(t / KERN_KEY_BLOCK) * kv_dim * KERN_KEY_BLOCK + t % KERN_KEY_BLOCK;
    for (int j = 0; j < kv_dim; j++) dst[(size_t)j * KERN_KEY_BLOCK] = k[j];
}

/* Sixteen floats, one SIMD register (or two or four on narrower
 * machines): GCC's vector extension, so the accumulators of the scores
 * stay in registers.  Its + and * are the IEEE operations, one rounding
 * each (no contraction: the build is -std=c11). */
typedef float vec16 __attribute__((vector_size(16 * sizeof(float))));
_Static_assert(KERN_KEY_BLOCK == 16, "a key block is one vec16 of positions");

static inline vec16 load16(const float *p) {
    vec16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Up to this many key blocks are scored together: independent chains of
 * additions for the out-of-order core while one chain waits. */
#define SCORE_BLOCKS 4

/* The scores of NB key blocks (k: the first, `block` floats apart) for
 * query head qh: acc[g][u] = sum over i < hd of qh[i] * k[g][i][u], from
 * 0, one dimension at a time in order.  Inlined with a constant NB. */
static inline __attribute__((always_inline)) void score_blocks(float *a, int n, const float *qh, const float *k,
                                                               size_t block, int hd, float scale, int NB) {
    vec16 acc[SCORE_BLOCKS];
    for (int g = 0; g < NB; g++) acc[g] = (vec16){0};
    for (int i = 0; i < hd; i++)
        for (int g = 0; g < NB; g++) acc[g] = acc[g] + qh[i] * load16(k + g * block + (size_t)i * KERN_KEY_BLOCK);
    for (int g = 0; g < NB; g++) {
        vec16 s = acc[g] / scale;
        int m = n - g * KERN_KEY_BLOCK; /* positions of this block that exist */
        memcpy(a + g * KERN_KEY_BLOCK, &s, m >= KERN_KEY_BLOCK ? sizeof s : (size_t)m * sizeof(float));
    }
}

/* att_h[t] = (q_h . key of position t) / sqrt(hd) for every head h and
 * t < len.  Each score adds its hd products one dimension at a time, from
 * 0, in order (run.c's summation order); the SIMD lanes are the 16
 * positions of a key block.  The blocks are swept in memory order, every
 * head of a group of blocks before the next group: the keys stream from
 * memory once. */
static void attention_scores(float *restrict att, size_t att_stride, const float *restrict q,
                             const float *restrict keys, int n_heads, int group, int hd, int kv_dim, int len) {
    enum { B = KERN_KEY_BLOCK };
    float scale = sqrtf((float)hd);
    size_t block = (size_t)kv_dim * B;
    int n_blocks = (len + B - 1) / B;
    for (int b0 = 0; b0 < n_blocks; b0 += SCORE_BLOCKS) {
        int nb = n_blocks - b0 < SCORE_BLOCKS ? n_blocks - b0 : SCORE_BLOCKS, n = len - b0 * B;
        for (int h = 0; h < n_heads; h++) {
            const float *k = keys + (size_t)b0 * block + (size_t)(h / group) * hd * B, *qh = q + (size_t)h * hd;
            float *a = att + (size_t)h * att_stride + (size_t)b0 * B;
            switch (nb) {
            case 1: score_blocks(a, n, qh, k, block, hd, scale, 1); break;
            case 2: score_blocks(a, n, qh, k, block, hd, scale, 2); break;
            case 3: score_blocks(a, n, qh, k, block, hd, scale, 3); break;
            default: score_blocks(a, n, qh, k, block, hd, scale, 4); break;
            }
        }
    }
}

/* Blocks of eight positions whose sums are formed together: independent
 * loads from that many places for the memory system to overlap. */
#define VALUE_BLOCKS 4

typedef float vec8 __attribute__((vector_size(8 * sizeof(float))));

/* One head's output columns j0 .. j0 + W - 1 (W = 16 or 8, a vec16 or a
 * vec8) over the NB blocks of eight positions from t: each block's eight
 * products summed left to right, then the block sums added to o in block
 * order.  a: the head's probabilities, v: its value columns at position 0,
 * s: the value row stride. */
#define VALUE_CHUNK(NAME, VEC, W)                                                                                     \
    static inline __attribute__((always_inline)) void NAME(float *o, const float *a, const float *v, size_t s,       \
                                                           int t, int NB) {                                          \
        VEC out;                                                                                                      \
        memcpy(&out, o, sizeof out);                                                                                  \
        VEC sum[VALUE_BLOCKS];                                                                                        \
        for (int g = 0; g < NB; g++) {                                                                                \
            const float *x = a + t + 8 * g, *y = v + (size_t)(t + 8 * g) * s;                                          \
            VEC r[8];                                                                                                 \
            for (int u = 0; u < 8; u++) memcpy(&r[u], y + (size_t)u * s, sizeof r[u]);                                \
            sum[g] = x[0] * r[0] + x[1] * r[1] + x[2] * r[2] + x[3] * r[3] + x[4] * r[4] + x[5] * r[5] +               \
                     x[6] * r[6] + x[7] * r[7];                                                                       \
        }                                                                                                             \
        for (int g = 0; g < NB; g++) out = out + sum[g];                                                              \
        memcpy(o, &out, sizeof out);                                                                                  \
    }
VALUE_CHUNK(value_chunk16, vec16, 16)
VALUE_CHUNK(value_chunk8, vec8, 8)
#undef VALUE_CHUNK

/* The same for any width, one column at a time. */
static inline __attribute__((always_inline)) void value_columns(float *o, const float *a, const float *v, size_t s,
                                                                int t, int n_cols, int NB) {
    for (int j = 0; j < n_cols; j++)
        for (int g = 0; g < NB; g++) {
            const float *x = a + t + 8 * g, *y = v + (size_t)(t + 8 * g) * s + j;
            o[j] += x[0] * y[0] + x[1] * y[s] + x[2] * y[2 * s] + x[3] * y[3 * s] + x[4] * y[4 * s] +
                    x[5] * y[5 * s] + x[6] * y[6 * s] + x[7] * y[7 * s];
        }
}

/* NB blocks of eight positions from t, every head. */
static inline __attribute__((always_inline)) void value_blocks(float *out, const float *att, size_t att_stride,
                                                               const float *vals, int n_heads, int group, int hd,
                                                               int kv_dim, int t, int NB) {
    for (int h = 0; h < n_heads; h++) {
        const float *a = att + (size_t)h * att_stride, *v = vals + (size_t)(h / group) * hd;
        float *o = out + (size_t)h * hd;
        int j = 0;
        for (; j + 16 <= hd; j += 16) value_chunk16(o + j, a, v + j, (size_t)kv_dim, t, NB);
        for (; j + 8 <= hd; j += 8) value_chunk8(o + j, a, v + j, (size_t)kv_dim, t, NB);
        value_columns(o + j, a, v + j, (size_t)kv_dim, t, hd - j, NB);
    }
}

/* out_h[j] = sum over t < len of att_h[t] * vals[t * kv_dim + kv offset
 * of h + j].  Positions go in blocks of eight whose eight products are
 * summed (left to right) before the block joins the running total, in
 * block order; the positions after the last whole block join one at a
 * time.  With small heads (stories260K's are 8 wide, one SIMD register) a
 * strictly sequential sum over t would be one long chain of dependent
 * additions, while the blocks' products are independent work.  The sums
 * of VALUE_BLOCKS blocks are formed together for every head, the values
 * of 32 positions in flight from memory at once. */
static void attention_values(float *restrict out, const float *restrict att, size_t att_stride,
                             const float *restrict vals, int n_heads, int group, int hd, int kv_dim, int len) {
    memset(out, 0, (size_t)n_heads * hd * sizeof(float));
    int n_blocks = len / 8, b = 0;
    for (; b + VALUE_BLOCKS <= n_blocks; b += VALUE_BLOCKS)
        value_blocks(out, att, att_stride, vals, n_heads, group, hd, kv_dim, 8 * b, VALUE_BLOCKS);
    switch (n_blocks - b) {
    case 1: value_blocks(out, att, att_stride, vals, n_heads, group, hd, kv_dim, 8 * b, 1); break;
    case 2: value_blocks(out, att, att_stride, vals, n_heads, group, hd, kv_dim, 8 * b, 2); break;
    case 3: value_blocks(out, att, att_stride, vals, n_heads, group, hd, kv_dim, 8 * b, 3); break;
    default: break;
    }
    for (int t = n_blocks * 8; t < len; t++) {
        const float *vt = vals + (size_t)t * kv_dim;
        for (int h = 0; h < n_heads; h++) {
            const float *v = vt + (size_t)(h / group) * hd;
            float a = att[(size_t)h * att_stride + t], *o = out + (size_t)h * hd;
            for (int j = 0; j < hd; j++) o[j] += a * v[j];
        }
    }
}

void kern_attend(float *out, float *att, size_t att_stride, const float *q, const float *keys, const float *vals,
                 int n_heads, int n_kv_heads, int hd, int len) {
    int group = n_heads / n_kv_heads, kv_dim = n_kv_heads * hd;
    attention_scores(att, att_stride, q, keys, n_heads, group, hd, kv_dim, len);
    fast_softmax_rows(att, att_stride, n_heads, len);
    attention_values(out, att, att_stride, vals, n_heads, group, hd, kv_dim, len);
}

void kern_swiglu(float *out, const float *gate, const float *up, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        g *= 1.0f / (1.0f + fast_expf(-g));
        out[i] = g * up[i];
    }
}
