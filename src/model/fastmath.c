/* fastmath.c - lane-parallel max, exp-sum and softmax (fastmath.h). */
#include "model/fastmath.h"

/* The last n % FAST_LANES floats of x[0..n) in tail[0..), the rest of
 * tail filled with pad: a short row's tail goes through the same SIMD
 * loop as the whole blocks instead of a scalar one. */
static int load_tail(float *tail, const float *x, int n, float pad) {
    int start = n - n % FAST_LANES;
    for (int u = 0; u < FAST_LANES; u++) tail[u] = start + u < n ? x[start + u] : pad;
    return start;
}

static inline __attribute__((always_inline)) float max_of(const float *x, int n) {
    float lane[FAST_LANES], tail[FAST_LANES];
    for (int u = 0; u < FAST_LANES; u++) lane[u] = x[0];
    int end = load_tail(tail, x, n, x[0]); /* x[0] is in the set: no effect on the max */
    for (int j = 0; j < end; j += FAST_LANES)
        for (int u = 0; u < FAST_LANES; u++) lane[u] = x[j + u] > lane[u] ? x[j + u] : lane[u];
    for (int u = 0; u < FAST_LANES; u++) lane[u] = tail[u] > lane[u] ? tail[u] : lane[u];
    float best = lane[0];
    for (int u = 1; u < FAST_LANES; u++) best = lane[u] > best ? lane[u] : best;
    return best;
}

/* The sum is the lanes' sums over the whole blocks of FAST_LANES, then the
 * rest one at a time into s, then the lanes into s in order; the
 * exponentials of the rest are computed as one more block (elementwise,
 * so the same bits as one at a time). */
static inline __attribute__((always_inline)) float exp_shift_sum(float *x, int n, float shift) {
    float acc[FAST_LANES] = {0}, tail[FAST_LANES], s = 0.0f;
    int end = load_tail(tail, x, n, shift);
    for (int j = 0; j < end; j += FAST_LANES)
        for (int u = 0; u < FAST_LANES; u++) {
            x[j + u] = fast_expf(x[j + u] - shift);
            acc[u] += x[j + u];
        }
    for (int u = 0; u < FAST_LANES; u++) tail[u] = fast_expf(tail[u] - shift);
    for (int j = end; j < n; j++) {
        x[j] = tail[j - end];
        s += x[j];
    }
    for (int u = 0; u < FAST_LANES; u++) s += acc[u];
    return s;
}

float fast_max(const float *x, int n) { return max_of(x, n); }

float fast_exp_shift_sum(float *x, int n, float shift) { return exp_shift_sum(x, n, shift); }

void fast_softmax(float *x, int n) { fast_softmax_rows(x, 0, 1, n); }

/* One function for all rows, so the exp polynomial's constants are set up
 * once per call, not once per row (a short attention row is only a few
 * SIMD blocks). */
void fast_softmax_rows(float *x, size_t stride, int rows, int n) {
    for (int r = 0; r < rows; r++) {
        float *y = x + (size_t)r * stride;
        float sum = exp_shift_sum(y, n, max_of(y, n));
        float inv = 1.0f / sum;
        for (int j = 0; j < n; j++) y[j] *= inv;
    }
}
