/* rowmatmul.c - the batch-invariant product (rowmatmul.h).
 *
 * A tile is R rows x one panel (COLV vectors of VL output columns), held in
 * R*COLV vector accumulators; each step of k loads the panel's COLV weight
 * vectors once and uses them for all R rows (broadcasting in[r][k]).
 * Panels are the outer loop, so one panel (in_dim x ROWMATMUL_PANEL floats)
 * stays in cache while every row block passes over it.  In the last panel,
 * the vectors wholly past out_dim are skipped; a vector's lanes past
 * out_dim are computed (on zero padding) and not stored.  Only the blocking changes with
 * n_rows, never the arithmetic of one element:
 * acc = fma(in[r][k], w[j][k], acc) for k in order, from 0. */
#include "model/rowmatmul.h"

#include <math.h>

#if defined(__AVX512F__)
#include <immintrin.h>
typedef __m512 vf;
typedef __mmask16 vmask;
#define VL 16
#define ROWS 6 /* 6 x 4 accumulators + 4 weights of the 32 registers */
#define COLV 4
static inline vmask vmask_first(int n) { return (vmask)(n >= VL ? 0xFFFFu : n <= 0 ? 0u : (1u << n) - 1u); }
static inline vf vzero(void) { return _mm512_setzero_ps(); }
static inline vf vload(const float *p) { return _mm512_loadu_ps(p); }
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
static inline vf vload(const float *p) { return _mm256_loadu_ps(p); }
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
static inline vf vload(const float *p) { return *p; }
static inline vf vloadm(const float *p, vmask m) { return m ? *p : 0.0f; }
static inline void vstorem(float *p, vmask m, vf v) {
    if (m) *p = v;
}
static inline vf vbcast(float x) { return x; }
static inline vf vfma(vf a, vf b, vf c) { return fmaf(a, b, c); }
static inline vf vadd(vf a, vf b) { return a + b; }
#endif

#define MAXR 6
#define CACHE_LINE 64
/* One prefetch every other step of k (PREFETCH_EVERY - 1 as a mask),
 * into every cache level (locality 3).  Measured at d=288, 64 sequences
 * (docs/performance.md): every step slowed the products more than it sped
 * the attention; 3 (to L2) and 0 (non-temporal) were no better. */
#define PREFETCH_EVERY 2
#define PREFETCH_LOCALITY 3
#define J COLV
_Static_assert(ROWMATMUL_PANEL == COLV * VL, "rowmatmul.h's panel width must match the kernel");

/* R rows x the panel of columns c0 .. c0 + J*VL; lanes at or past out_dim
 * are not stored.  Inlined with a constant R, so acc stays in registers. */
static inline __attribute__((always_inline)) void tile(float *out, const float *in, const float *panel, int R,
                                                       int NJ, int in_dim, int out_dim, int c0, int accumulate,
                                                       rowmatmul_prefetch *pf) {
    const char *pf_next = pf ? pf->next : NULL, *pf_end = pf ? pf->end : NULL;
    vf acc[MAXR][J];
    vmask m[J];
    for (int j = 0; j < NJ; j++) m[j] = vmask_first(out_dim - c0 - j * VL);
    for (int r = 0; r < R; r++)
        for (int j = 0; j < NJ; j++) acc[r][j] = vzero();
    for (int k = 0; k < in_dim; k++) {
        const float *w = panel + (size_t)k * J * VL;
        vf wv[J];
        for (int j = 0; j < NJ; j++) wv[j] = vload(w + j * VL);
        if (pf && k % PREFETCH_EVERY == 0) {
            if (pf_next >= pf_end && pf->at < pf->n_ranges) { /* the next range, without a call */
                const rowmatmul_range *next = &pf->ranges[pf->at++];
                pf_next = next->base;
                pf_end = next->base + next->bytes;
            }
            if (pf_next < pf_end) {
                __builtin_prefetch(pf_next, 0, PREFETCH_LOCALITY);
                pf_next += CACHE_LINE;
            }
        }
        for (int r = 0; r < R; r++) {
            vf x = vbcast(in[(size_t)r * in_dim + k]);
            for (int j = 0; j < NJ; j++) acc[r][j] = vfma(x, wv[j], acc[r][j]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int j = 0; j < NJ; j++) {
            float *o = out + (size_t)r * out_dim + c0 + j * VL;
            vstorem(o, m[j], accumulate ? vadd(vloadm(o, m[j]), acc[r][j]) : acc[r][j]);
        }
    if (pf) pf->next = pf_next, pf->end = pf_end;
}

/* One instance of tile per row count the blocking can ask for, with all
 * J vectors of the panel live, or (the last panel of a matrix whose
 * out_dim is not a multiple of the panel) only the first NJ: the vectors
 * wholly past out_dim are padding, not computed at all.  The other
 * vectors' arithmetic is the same either way. */
static inline __attribute__((always_inline)) void tile_rows(float *out, const float *in, const float *panel, int R,
                                                            int NJ, int in_dim, int out_dim, int c0, int accumulate,
                                                            rowmatmul_prefetch *pf) {
#define TILE_CASE(r)                                                                                                  \
    case r:                                                                                                           \
        if (NJ >= J) tile(out, in, panel, (r) <= ROWS ? (r) : 1, J, in_dim, out_dim, c0, accumulate, pf);            \
        else if (NJ == 1) tile(out, in, panel, (r) <= ROWS ? (r) : 1, 1, in_dim, out_dim, c0, accumulate, pf);       \
        else if (NJ == 2)                                                                                             \
            tile(out, in, panel, (r) <= ROWS ? (r) : 1, J > 2 ? 2 : J, in_dim, out_dim, c0, accumulate, pf);          \
        else tile(out, in, panel, (r) <= ROWS ? (r) : 1, J > 3 ? 3 : J, in_dim, out_dim, c0, accumulate, pf);       \
        return;
    switch (R) { TILE_CASE(1) TILE_CASE(2) TILE_CASE(3) TILE_CASE(4) TILE_CASE(5) TILE_CASE(6) }
#undef TILE_CASE
}

size_t rowmatmul_packed_size(int in_dim, int out_dim) {
    size_t panels = ((size_t)out_dim + ROWMATMUL_PANEL - 1) / ROWMATMUL_PANEL;
    return panels * ROWMATMUL_PANEL * (size_t)in_dim;
}

void rowmatmul_pack(float *dst, const float *w, int out_dim, int in_dim) {
    for (int c0 = 0; c0 < out_dim; c0 += ROWMATMUL_PANEL) {
        float *panel = dst + (size_t)c0 * in_dim;
        for (int k = 0; k < in_dim; k++)
            for (int c = 0; c < ROWMATMUL_PANEL; c++)
                panel[(size_t)k * ROWMATMUL_PANEL + c] = c0 + c < out_dim ? w[(size_t)(c0 + c) * in_dim + k] : 0.0f;
    }
}

void rowmatmul_prefetch_start(rowmatmul_prefetch *pf, const rowmatmul_range *ranges, int n) {
    pf->ranges = ranges;
    pf->n_ranges = n;
    pf->at = 0;
    pf->next = pf->end = NULL;
}

static inline __attribute__((always_inline)) void product(float *out, const float *in, const float *packed,
                                                          int n_rows, int in_dim, int out_dim, int accumulate,
                                                          rowmatmul_prefetch *pf) {
    for (int c0 = 0; c0 < out_dim; c0 += ROWMATMUL_PANEL) {
        const float *panel = packed + (size_t)c0 * in_dim;
        int NJ = (out_dim - c0 + VL - 1) / VL; /* vectors holding a column < out_dim */
        for (int r0 = 0; r0 < n_rows; r0 += ROWS) {
            int R = n_rows - r0 < ROWS ? n_rows - r0 : ROWS;
            tile_rows(out + (size_t)r0 * out_dim, in + (size_t)r0 * in_dim, panel, R, NJ, in_dim, out_dim, c0,
                      accumulate, pf);
        }
    }
}

void rowmatmul(float *out, const float *in, const float *packed, int n_rows, int in_dim, int out_dim, int accumulate) {
    product(out, in, packed, n_rows, in_dim, out_dim, accumulate, NULL);
}

void rowmatmul_prefetching(float *out, const float *in, const float *packed, int n_rows, int in_dim, int out_dim,
                           int accumulate, rowmatmul_prefetch *pf) {
    if (!pf) product(out, in, packed, n_rows, in_dim, out_dim, accumulate, NULL);
    else product(out, in, packed, n_rows, in_dim, out_dim, accumulate, pf);
}
