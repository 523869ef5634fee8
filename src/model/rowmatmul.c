/* rowmatmul.c - the batch-invariant product (rowmatmul.h).
 *
 * A tile is R rows x J vectors of VL output columns, held in R*J vector
 * accumulators; each step of k loads J weight vectors once and uses them for
 * all R rows (broadcasting in[r][k]).  Column tiles are the outer loop, so
 * one tile's weight panel (in_dim x J*VL floats) stays in cache while every
 * row block passes over it.  The last column tile masks its lanes past
 * out_dim.  Only the blocking changes with n_rows, never the arithmetic of
 * one element: acc = fma(in[r][k], wt[k][j], acc) for k in order. */
#include "model/rowmatmul.h"

#include <math.h>

#if defined(__AVX512F__)
#include <immintrin.h>
typedef __m512 vf;
typedef __mmask16 vmask;
#define VL 16
#define ROWS 6 /* 6 x 4 accumulators + 4 weights of the 32 registers */
#define COLV 4
static inline vmask vmask_first(int n) { return (vmask)(n >= VL ? 0xFFFF : (1u << n) - 1u); }
static inline vf vzero(void) { return _mm512_setzero_ps(); }
static inline vf vloadm(const float *p, vmask m) { return _mm512_maskz_loadu_ps(m, p); }
static inline void vstorem(float *p, vmask m, vf v) { _mm512_mask_storeu_ps(p, m, v); }
static inline vf vbcast(float x) { return _mm512_set1_ps(x); }
static inline vf vfma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
static inline vf vadd(vf a, vf b) { return _mm512_add_ps(a, b); }
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
typedef __m256 vf;
typedef __m256i vmask;
#define VL 8
#define ROWS 4 /* 4 x 3 accumulators + 3 weights + 1 broadcast of the 16 */
#define COLV 3
static inline vmask vmask_first(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline vf vzero(void) { return _mm256_setzero_ps(); }
static inline vf vloadm(const float *p, vmask m) { return _mm256_maskload_ps(p, m); }
static inline void vstorem(float *p, vmask m, vf v) { _mm256_maskstore_ps(p, m, v); }
static inline vf vbcast(float x) { return _mm256_set1_ps(x); }
static inline vf vfma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
static inline vf vadd(vf a, vf b) { return _mm256_add_ps(a, b); }
#else
/* portable: one column per "vector"; fmaf keeps the single rounding */
typedef float vf;
typedef int vmask;
#define VL 1
#define ROWS 4
#define COLV 4
static inline vmask vmask_first(int n) { return n > 0; }
static inline vf vzero(void) { return 0.0f; }
static inline vf vloadm(const float *p, vmask m) { return m ? *p : 0.0f; }
static inline void vstorem(float *p, vmask m, vf v) {
    if (m) *p = v;
}
static inline vf vbcast(float x) { return x; }
static inline vf vfma(vf a, vf b, vf c) { return fmaf(a, b, c); }
static inline vf vadd(vf a, vf b) { return a + b; }
#endif

#define MAXR 6
#define MAXJ 4

/* R rows from row0 x J vectors from column c0; lanes at or past out_dim
 * are masked off.  Inlined with constant R and J, so acc stays in registers. */
static inline __attribute__((always_inline)) void tile(float *out, const float *in, const float *wt, int R, int J,
                                                       int in_dim, int out_dim, int c0, int accumulate) {
    vf acc[MAXR][MAXJ];
    vmask m[MAXJ];
    for (int j = 0; j < J; j++) m[j] = vmask_first(out_dim - c0 - j * VL);
    for (int r = 0; r < R; r++)
        for (int j = 0; j < J; j++) acc[r][j] = vzero();
    for (int k = 0; k < in_dim; k++) {
        const float *w = wt + (size_t)k * out_dim + c0;
        vf wv[MAXJ];
        for (int j = 0; j < J; j++) wv[j] = vloadm(w + j * VL, m[j]);
        for (int r = 0; r < R; r++) {
            vf x = vbcast(in[(size_t)r * in_dim + k]);
            for (int j = 0; j < J; j++) acc[r][j] = vfma(x, wv[j], acc[r][j]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int j = 0; j < J; j++) {
            float *o = out + (size_t)r * out_dim + c0 + j * VL;
            vstorem(o, m[j], accumulate ? vadd(vloadm(o, m[j]), acc[r][j]) : acc[r][j]);
        }
}

/* One instance of tile per (R, J) the blocking can ask for. */
static void tile_any(float *out, const float *in, const float *wt, int R, int J, int in_dim, int out_dim, int c0,
                     int accumulate) {
#define TILE_CASE(r, j)                                                                                               \
    case (r) * 8 + (j):                                                                                               \
        tile(out, in, wt, (r) <= ROWS ? (r) : 1, (j) <= COLV ? (j) : 1, in_dim, out_dim, c0, accumulate);          \
        return;
#define TILE_ROW(r) TILE_CASE(r, 1) TILE_CASE(r, 2) TILE_CASE(r, 3) TILE_CASE(r, 4)
    switch (R * 8 + J) {
        TILE_ROW(1) TILE_ROW(2) TILE_ROW(3) TILE_ROW(4) TILE_ROW(5) TILE_ROW(6)
    }
#undef TILE_ROW
#undef TILE_CASE
}

void rowmatmul(float *out, const float *in, const float *wt, int n_rows, int in_dim, int out_dim, int accumulate) {
    int vecs = (out_dim + VL - 1) / VL;
    for (int v0 = 0; v0 < vecs; v0 += COLV) {
        int J = vecs - v0 < COLV ? vecs - v0 : COLV;
        for (int r0 = 0; r0 < n_rows; r0 += ROWS) {
            int R = n_rows - r0 < ROWS ? n_rows - r0 : ROWS;
            tile_any(out + (size_t)r0 * out_dim, in + (size_t)r0 * in_dim, wt, R, J, in_dim, out_dim, v0 * VL,
                     accumulate);
        }
    }
}
