/* kernels.c - the per-row arithmetic shared by both forward passes
 * (kernels.h). */
#include "model/kernels.h"

#include <math.h>
#include <string.h>

#include "model/fastmath.h"

/* static functions pass fast_vec by value: see fastmath.h on -Wpsabi */
#pragma GCC diagnostic ignored "-Wpsabi"

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

/* out = gain * (x * 1/rms) from x's sum of squares ss; returns 1/rms. */
static float rms_scale(float *out, const float *x, const float *gain, int d, float eps, float ss) {
    ss /= (float)d;
    ss += eps;
    float r = 1.0f / sqrtf(ss);
    for (int j = 0; j < d; j++) out[j] = gain[j] * (r * x[j]);
    return r;
}

float kern_rmsnorm(float *out, const float *x, const float *gain, int d, float eps) {
    float ss = 0.0f;
    for (int j = 0; j < d; j++) ss += x[j] * x[j];
    return rms_scale(out, x, gain, d, eps, ss);
}

/* R rows (a constant, inlined): their sums of squares side by side, each
 * in its own order, R independent chains of additions instead of one. */
#define RMSNORM_GROUP 8

static inline __attribute__((always_inline)) void rmsnorm_group(float *out, const float *x, const float *gain,
                                                                int d, float eps, float *rinv, int R) {
    float ss[RMSNORM_GROUP];
    for (int r = 0; r < R; r++) ss[r] = 0.0f;
    for (int j = 0; j < d; j++)
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) ss[r] += x[(size_t)r * d + j] * x[(size_t)r * d + j];
    for (int r = 0; r < R; r++) {
        float inv = rms_scale(out + (size_t)r * d, x + (size_t)r * d, gain, d, eps, ss[r]);
        if (rinv) rinv[r] = inv;
    }
}

void kern_rmsnorm_rows(float *out, const float *x, const float *gain, int n, int d, float eps, float *rinv) {
    int r = 0;
    for (; r + RMSNORM_GROUP <= n; r += RMSNORM_GROUP)
        rmsnorm_group(out + (size_t)r * d, x + (size_t)r * d, gain, d, eps, rinv ? rinv + r : NULL, RMSNORM_GROUP);
    for (int R = 4; R >= 1; R /= 2)
        if ((n - r) & R) {
            rmsnorm_group(out + (size_t)r * d, x + (size_t)r * d, gain, d, eps, rinv ? rinv + r : NULL, R);
            r += R;
        }
}

/* RoPE of heads that tile a fast_vec (hd divides FAST_LANES: stories260K's
 * 8), FAST_LANES floats at a time: out = v * C + swap(v) * S, with swap
 * exchanging the two floats of each pair, C = (c0, c0, c1, c1, ...) and S
 * = (-s0, s0, -s1, s1, ...) repeated per head; one add for every lane.
 * The bits are the scalar form's for every non-NaN value: the first of a
 * pair is v0*c + v1*(-s), which is v0*c - v1*s exactly (subtracting is
 * adding the negation; x*(-s) is -(x*s)), the second v1*c + v0*s, which is
 * v0*s + v1*c (addition commutes).  Written with alternating subtractions
 * and additions instead, GCC 12's vectoriser fuses the lanes into FMAs
 * (vfmaddsub) despite -ffp-contract=off and the bits change
 * (test_kernels' rope test caught it). */
static void rope_small_heads(float *vec, int n, int hd, const float *cos_p, const float *sin_p) {
    float c[FAST_LANES], sn[FAST_LANES], v[FAST_LANES];
    for (int h0 = 0; h0 < FAST_LANES; h0 += hd)
        for (int i = 0; i < hd / 2; i++) {
            c[h0 + 2 * i] = c[h0 + 2 * i + 1] = cos_p[i];
            sn[h0 + 2 * i] = -sin_p[i];
            sn[h0 + 2 * i + 1] = sin_p[i];
        }
    fast_vec cv = fast_load(c), sv = fast_load(sn);
    for (int j = 0; j < n; j += FAST_LANES) {
        int m = n - j < FAST_LANES ? n - j : FAST_LANES;
        fast_vec x = m == FAST_LANES ? fast_load(vec + j) : fast_load_first(vec + j, m, (fast_vec){0});
        fast_store(v, x);
        float swapped[FAST_LANES];
        for (int u = 0; u < FAST_LANES; u++) swapped[u] = v[u ^ 1];
        x = x * cv + fast_load(swapped) * sv;
        if (m == FAST_LANES) fast_store(vec + j, x);
        else fast_store_first(vec + j, x, m);
    }
}

void kern_rope(float *vec, int n_heads, int hd, const float *cos_p, const float *sin_p) {
    if (FAST_LANES % hd == 0 && hd % 2 == 0) {
        rope_small_heads(vec, n_heads * hd, hd, cos_p, sin_p);
        return;
    }
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

/* The key blocks' 16 positions are the lanes of a fast_vec (fastmath.h):
 * one SIMD register, or two or four on narrower machines, so the
 * accumulators of the scores stay in registers. */
_Static_assert(KERN_KEY_BLOCK == FAST_LANES, "a key block is one fast_vec of positions");

/* The scores are formed in tiles of up to SCORE_TILE accumulators (one
 * fast_vec of 16 positions each): independent chains of additions for the
 * out-of-order core.  Heads of up to SMALL_HEAD floats (stories260K's 8:
 * a head's chain is only 8 additions long) tile as 8 query heads over one
 * key block, the key blocks swept once in memory order; larger heads as
 * one head over 4 key blocks (4 streams of keys in flight, which is what
 * the memory system wants when the cache is far larger than the L3). */
#define SCORE_TILE 8
#define SCORE_BLOCKS 4
#define SMALL_HEAD 16

/* The kv head of query head h + g, g < the NH heads handled together
 * from h: with G a constant 1 or 2 (the group; h a multiple of it, as
 * every call below makes it) the query heads of one kv head have the same
 * pointer expression, so their shared loads are issued once; G 0: any
 * group, computed. */
static inline __attribute__((always_inline)) int kv_head(int h, int g, int group, int G) {
    return G ? h / G + g / G : (h + g) / group;
}

/* The scores of NH query heads from h over NB key blocks from k (`block`
 * floats apart; n positions from the first block's start exist):
 * acc[g][b][u] = sum over i < hd of q_{h+g}[i] * k[b][kv head][i][u], from
 * 0, one dimension at a time in order, then divided by scale.  Inlined
 * with constant NH, NB (NH * NB <= SCORE_TILE) and G. */
static inline __attribute__((always_inline)) void score_tile(float *att, size_t att_stride, const float *q,
                                                             const float *k, size_t block, int h, int group, int hd,
                                                             float scale, int n, int NH, int NB, int G) {
    fast_vec acc[SCORE_TILE];
    const float *kh[SCORE_TILE], *qh[SCORE_TILE];
    for (int g = 0; g < NH; g++) {
        kh[g] = k + (size_t)kv_head(h, g, group, G) * hd * KERN_KEY_BLOCK;
        qh[g] = q + (size_t)(h + g) * hd;
        for (int b = 0; b < NB; b++) acc[g * NB + b] = (fast_vec){0};
    }
    for (int i = 0; i < hd; i++)
#pragma GCC unroll 8
        for (int g = 0; g < NH; g++)
#pragma GCC unroll 4
            for (int b = 0; b < NB; b++)
                acc[g * NB + b] =
                    acc[g * NB + b] + qh[g][i] * fast_load(kh[g] + b * block + (size_t)i * KERN_KEY_BLOCK);
    for (int g = 0; g < NH; g++)
        for (int b = 0; b < NB; b++) {
            float *a = att + (size_t)(h + g) * att_stride + b * KERN_KEY_BLOCK;
            int m = n - b * KERN_KEY_BLOCK; /* positions of this block that exist */
            if (m >= KERN_KEY_BLOCK) fast_store(a, acc[g * NB + b] / scale);
            else fast_store_first(a, acc[g * NB + b] / scale, m);
        }
}

/* Small heads: every head's scores over one key block, SCORE_TILE heads
 * at a time, then 4, 2, 1 (h stays a multiple of the group: the head
 * count is one). */
static inline __attribute__((always_inline)) void score_block(float *a, size_t att_stride, const float *q,
                                                              const float *k, int n_heads, int group, int hd,
                                                              float scale, int n, int G) {
    int h = 0;
    for (; h + SCORE_TILE <= n_heads; h += SCORE_TILE)
        score_tile(a, att_stride, q, k, 0, h, group, hd, scale, n, SCORE_TILE, 1, G);
    if ((n_heads - h) & 4) score_tile(a, att_stride, q, k, 0, h, group, hd, scale, n, 4, 1, G), h += 4;
    if ((n_heads - h) & 2) score_tile(a, att_stride, q, k, 0, h, group, hd, scale, n, 2, 1, G), h += 2;
    if ((n_heads - h) & 1) score_tile(a, att_stride, q, k, 0, h, group, hd, scale, n, 1, 1, G);
}

/* att_h[t] = (q_h . key of position t) / sqrt(hd) for every head h and
 * t < len.  Each score adds its hd products one dimension at a time, from
 * 0, in order (run.c's summation order); the SIMD lanes are the 16
 * positions of a key block.  The blocks are swept in memory order, every
 * head of a block (or of a group of SCORE_BLOCKS blocks) before the next:
 * the keys stream from memory once. */
static void attention_scores(float *restrict att, size_t att_stride, const float *restrict q,
                             const float *restrict keys, int n_heads, int group, int hd, int kv_dim, int len) {
    enum { B = KERN_KEY_BLOCK };
    float scale = sqrtf((float)hd);
    size_t block = (size_t)kv_dim * B;
    int n_blocks = (len + B - 1) / B;
    if (hd <= SMALL_HEAD) {
        for (int b = 0; b < n_blocks; b++) {
            const float *k = keys + (size_t)b * block;
            float *a = att + (size_t)b * B;
            switch (group) {
            case 1: score_block(a, att_stride, q, k, n_heads, group, hd, scale, len - b * B, 1); break;
            case 2: score_block(a, att_stride, q, k, n_heads, group, hd, scale, len - b * B, 2); break;
            default: score_block(a, att_stride, q, k, n_heads, group, hd, scale, len - b * B, 0); break;
            }
        }
        return;
    }
    for (int b0 = 0; b0 < n_blocks; b0 += SCORE_BLOCKS) {
        const float *k = keys + (size_t)b0 * block;
        float *a = att + (size_t)b0 * B;
        int n = len - b0 * B;
        for (int h = 0; h < n_heads; h++) switch (n_blocks - b0) {
            case 1: score_tile(a, att_stride, q, k, block, h, group, hd, scale, n, 1, 1, 0); break;
            case 2: score_tile(a, att_stride, q, k, block, h, group, hd, scale, n, 1, 2, 0); break;
            case 3: score_tile(a, att_stride, q, k, block, h, group, hd, scale, n, 1, 3, 0); break;
            default: score_tile(a, att_stride, q, k, block, h, group, hd, scale, n, 1, SCORE_BLOCKS, 0); break;
            }
    }
}

/* Blocks of eight positions whose sums are formed together: independent
 * loads from that many places for the memory system to overlap. */
#define VALUE_BLOCKS 4

typedef float vec16 __attribute__((vector_size(16 * sizeof(float))));
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

/* Heads of exactly 8 floats (stories260K's), NH of them from h: each
 * head's output is one vec8 that stays in a register for the whole sweep
 * over the positions (the general path above loads and stores it per
 * group of blocks), and a kv head's value rows are read once for all the
 * query heads of the group that share them.  The arithmetic is the
 * general path's: block sums left to right, joined in block order, then
 * the positions after the last whole block one at a time.  Inlined with
 * a constant NH. */
#define VALUE_HEADS 8

static inline __attribute__((always_inline)) void values_hd8(float *out, const float *att, size_t att_stride,
                                                             const float *vals, int h, int group, int kv_dim,
                                                             int len, int NH, int G) {
    vec8 o[VALUE_HEADS];
    const float *a[VALUE_HEADS], *v[VALUE_HEADS];
    for (int g = 0; g < NH; g++) {
        o[g] = (vec8){0};
        a[g] = att + (size_t)(h + g) * att_stride;
        v[g] = vals + (size_t)kv_head(h, g, group, G) * 8;
    }
    int t = 0;
    for (; t + 8 <= len; t += 8) {
        size_t row = (size_t)t * kv_dim;
#pragma GCC unroll 8
        for (int g = 0; g < NH; g++) {
            const float *x = a[g] + t, *y = v[g] + row;
            vec8 r[8];
            for (int u = 0; u < 8; u++) memcpy(&r[u], y + (size_t)u * kv_dim, sizeof r[u]);
            o[g] = o[g] + (x[0] * r[0] + x[1] * r[1] + x[2] * r[2] + x[3] * r[3] + x[4] * r[4] + x[5] * r[5] +
                           x[6] * r[6] + x[7] * r[7]);
        }
    }
    for (; t < len; t++)
#pragma GCC unroll 8
        for (int g = 0; g < NH; g++) {
            vec8 r;
            memcpy(&r, v[g] + (size_t)t * kv_dim, sizeof r);
            o[g] = o[g] + a[g][t] * r;
        }
    for (int g = 0; g < NH; g++) memcpy(out + (size_t)(h + g) * 8, &o[g], sizeof o[g]);
}

/* Every head through values_hd8: VALUE_HEADS at a time, then 4, 2, 1. */
static inline __attribute__((always_inline)) void values_heads_hd8(float *out, const float *att, size_t att_stride,
                                                                   const float *vals, int n_heads, int group,
                                                                   int kv_dim, int len, int G) {
    int h = 0;
    for (; h + VALUE_HEADS <= n_heads; h += VALUE_HEADS)
        values_hd8(out, att, att_stride, vals, h, group, kv_dim, len, VALUE_HEADS, G);
    if ((n_heads - h) & 4) values_hd8(out, att, att_stride, vals, h, group, kv_dim, len, 4, G), h += 4;
    if ((n_heads - h) & 2) values_hd8(out, att, att_stride, vals, h, group, kv_dim, len, 2, G), h += 2;
    if ((n_heads - h) & 1) values_hd8(out, att, att_stride, vals, h, group, kv_dim, len, 1, G);
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
    if (hd == 8) {
        switch (group) {
        case 1: values_heads_hd8(out, att, att_stride, vals, n_heads, group, kv_dim, len, 1); break;
        case 2: values_heads_hd8(out, att, att_stride, vals, n_heads, group, kv_dim, len, 2); break;
        default: values_heads_hd8(out, att, att_stride, vals, n_heads, group, kv_dim, len, 0); break;
        }
        return;
    }
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
