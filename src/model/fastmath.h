/* fastmath.h - the vectorisable exp, max, softmax and dot-product pieces
 * shared by training (model_train.c), inference (infer.c) and sampling
 * (sample.c).
 *
 * Without -ffast-math GCC neither vectorises a loop that calls expf (a
 * library call, one element at a time) nor reorders a float sum or max
 * into SIMD lanes.  So exp is an inline polynomial, and sums and maxima run
 * in FAST_LANES independent partial results: 16 floats, one 512-bit
 * register or two 256-bit ones.  Sums in double use FAST_LANES_F64 lanes,
 * the same width.  The lane count fixes the order of the additions, so it
 * is part of every result: changing it changes the numbers in the last
 * bits. */
#ifndef FASTMATH_H
#define FASTMATH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#define FAST_LANES 16
#define FAST_LANES_F64 (FAST_LANES / 2)

/* e^x, clamped to [e^-87.3, e^88.3] (beyond that it is 0 or inf for
 * softmax and sigmoid purposes: added to numbers >= 1, or dividing one),
 * relative error about 1e-7.  The clamp compares the float's bits as
 * integers: a float compare-and-select stops GCC from vectorising under the
 * default -ftrapping-math.  As unsigned, every float below -87.3 (sign bit
 * set, larger magnitude) is above the bits of -87.3; as signed, only
 * positive floats above 88.3 are above the bits of 88.3 (a NaN input
 * therefore comes out finite; callers feed finite values). */
static inline float fast_expf(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    u = u > 0xC2AE999Au ? 0xC2AE999Au : u; /* -87.3f */
    int32_t i = (int32_t)u;
    i = i > 0x42B0999A ? 0x42B0999A : i;   /* 88.3f */
    memcpy(&x, &i, sizeof x);
    /* x = n ln2 + r, |r| <= ln2/2; n rounded by the 1.5 * 2^23 trick */
    float t = x * 1.44269504088896341f + 12582912.0f;
    float n = t - 12582912.0f;
    int32_t ni;
    memcpy(&ni, &t, sizeof ni);
    ni -= 0x4B400000; /* bits of 12582912.0f: the integer n in the low bits */
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f; /* Cody-Waite: ln2 = 0.693359375 - 2.12194440e-4 */
    /* e^r = 1 + r + r^2 p(r), p a minimax polynomial on |r| <= ln2/2 */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    int32_t bits = (ni + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* sum of a[j] * b[j] over j < n, in FAST_LANES partial sums */
static inline float fast_dot(const float *a, const float *b, int n) {
    float acc[FAST_LANES] = {0}, s = 0.0f;
    int j = 0;
    for (; j + FAST_LANES <= n; j += FAST_LANES)
        for (int u = 0; u < FAST_LANES; u++) acc[u] += a[j + u] * b[j + u];
    for (; j < n; j++) s += a[j] * b[j];
    for (int u = 0; u < FAST_LANES; u++) s += acc[u];
    return s;
}

/* sum of a[j] * b[j] * c[j] over j < n, likewise */
static inline float fast_dot3(const float *a, const float *b, const float *c, int n) {
    float acc[FAST_LANES] = {0}, s = 0.0f;
    int j = 0;
    for (; j + FAST_LANES <= n; j += FAST_LANES)
        for (int u = 0; u < FAST_LANES; u++) acc[u] += a[j + u] * b[j + u] * c[j + u];
    for (; j < n; j++) s += a[j] * b[j] * c[j];
    for (int u = 0; u < FAST_LANES; u++) s += acc[u];
    return s;
}

/* FAST_LANES floats as one value (one 512-bit register, or two or four
 * narrower ones): GCC's vector extension, whose + - * / are the IEEE
 * operations, one rounding each (no contraction under -std=c11), lane by
 * lane, so a vector loop gives each lane the bits of the scalar loop. */
/* (Built for a baseline ISA, GCC warns that passing a 64-byte vector by
 * value has no fixed ABI there; these are static inline, never called
 * across a library boundary, so the warning is silenced for them.) */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float fast_vec __attribute__((vector_size(FAST_LANES * sizeof(float))));
typedef int32_t fast_ivec __attribute__((vector_size(FAST_LANES * sizeof(int32_t))));

static inline fast_vec fast_load(const float *p) {
    fast_vec v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void fast_store(float *p, fast_vec v) { memcpy(p, &v, sizeof v); }
static inline fast_vec fast_splat(float x) { return (fast_vec){0} + x; }

/* The first m < FAST_LANES floats of p, the other lanes pad (nothing past
 * p + m is read), and the store of the first m lanes of v (nothing past
 * p + m is written): a row's tail goes through the vector code instead of
 * a scalar loop or a library memcpy of a variable size. */
#if defined(__AVX512F__) && FAST_LANES == 16
static inline fast_vec fast_load_first(const float *p, int m, fast_vec pad) {
    return (fast_vec)_mm512_mask_loadu_ps((__m512)pad, (__mmask16)((1u << m) - 1), p);
}
static inline void fast_store_first(float *p, fast_vec v, int m) {
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << m) - 1), (__m512)v);
}
#else
static inline fast_vec fast_load_first(const float *p, int m, fast_vec pad) {
    float lane[FAST_LANES];
    fast_store(lane, pad);
    for (int u = 0; u < m; u++) lane[u] = p[u];
    return fast_load(lane);
}
static inline void fast_store_first(float *p, fast_vec v, int m) {
    float lane[FAST_LANES];
    fast_store(lane, v);
    for (int u = 0; u < m; u++) p[u] = lane[u];
}
#endif

/* e^x of each lane: fast_expf lane by lane (GCC vectorises the loop, the
 * same operations on every lane, so the same bits as one at a time). */
static inline __attribute__((always_inline)) fast_vec fast_expf_lanes(fast_vec x) {
    float lane[FAST_LANES];
    fast_store(lane, x);
    for (int u = 0; u < FAST_LANES; u++) lane[u] = fast_expf(lane[u]);
    return fast_load(lane);
}

/* The lanes of a where a > b, else b's: the compare-and-select of the
 * scalar `a > b ? a : b`, lane by lane (NaN and -0/+0 ties keep b, as the
 * scalar form does).  Written on the bits, since GCC does not vectorise a
 * float select under the default -ftrapping-math. */
static inline fast_vec fast_select_greater(fast_vec a, fast_vec b) {
    fast_ivec take = a > b, ai, bi;
    memcpy(&ai, &a, sizeof ai);
    memcpy(&bi, &b, sizeof bi);
    ai = (ai & take) | (bi & ~take);
    memcpy(&a, &ai, sizeof a);
    return a;
}

#pragma GCC diagnostic pop

/* The largest of x[0..n), n >= 1 (NaNs after x[0] are ignored). */
float fast_max(const float *x, int n);

/* x[j] = e^(x[j] - shift) for j < n; returns their sum. */
float fast_exp_shift_sum(float *x, int n, float shift);

/* softmax over x[0..n), in place: max-shifted exp, then multiplied by
 * 1 / the sum. */
void fast_softmax(float *x, int n);
/* fast_softmax of each of rows rows of n floats, stride floats apart,
 * with the bits of one fast_softmax per row: the rows only share the
 * sweeps (their maxima and sums are reduced side by side, each in its own
 * order), so a short row's chain of dependent scalar steps overlaps the
 * other rows' instead of running alone. */
void fast_softmax_rows(float *x, size_t stride, int rows, int n);

#endif
