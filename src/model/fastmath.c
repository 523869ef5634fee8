/* fastmath.c - lane-parallel max, exp-sum and softmax (fastmath.h). */
#include "model/fastmath.h"

/* static functions pass fast_vec by value: see fastmath.h on -Wpsabi */
#pragma GCC diagnostic ignored "-Wpsabi"

/* The FAST_LANES running maxima of x[0..n): lane u starts at x[0], then
 * takes x[u], x[u + 16], ... of the whole blocks in order, then the tail
 * (the last n % FAST_LANES floats, the lanes past n padded with x[0],
 * which is in the set: no effect on the max). */
static inline __attribute__((always_inline)) fast_vec max_lanes(const float *x, int n) {
    int end = n - n % FAST_LANES;
    fast_vec lane = fast_splat(x[0]);
    for (int j = 0; j < end; j += FAST_LANES) lane = fast_select_greater(fast_load(x + j), lane);
    return fast_select_greater(fast_load_first(x + end, n - end, fast_splat(x[0])), lane);
}

/* The lanes reduced in order: lane 0, then each later lane that is larger. */
static inline float max_of_lanes(const float *lane) {
    float best = lane[0];
    for (int u = 1; u < FAST_LANES; u++) best = lane[u] > best ? lane[u] : best;
    return best;
}

/* x[j] = e^(x[j] - shift) for j < n, in place.  Returns the lanes' sums
 * over the whole blocks of FAST_LANES (from 0, block by block); *tail gets
 * the exponentials of the rest (computed as one more block: elementwise,
 * so the same bits as one at a time), lanes from n % FAST_LANES on
 * unused. */
static inline __attribute__((always_inline)) fast_vec exp_lanes(float *x, int n, float shift, fast_vec *tail) {
    int end = n - n % FAST_LANES;
    fast_vec acc = {0};
    for (int j = 0; j < end; j += FAST_LANES) {
        fast_vec e = fast_expf_lanes(fast_load(x + j) - shift);
        fast_store(x + j, e);
        acc = acc + e;
    }
    fast_vec e = fast_expf_lanes(fast_load_first(x + end, n - end, fast_splat(shift)) - shift);
    fast_store_first(x + end, e, n - end);
    *tail = e;
    return acc;
}

/* The sum of a row's exponentials: the tail one at a time from 0, then
 * the lanes in order. */
static inline float sum_of_lanes(const float *tail, int n_tail, const float *lane) {
    float s = 0.0f;
    for (int j = 0; j < n_tail; j++) s += tail[j];
    for (int u = 0; u < FAST_LANES; u++) s += lane[u];
    return s;
}

float fast_max(const float *x, int n) {
    float lane[FAST_LANES];
    fast_store(lane, max_lanes(x, n));
    return max_of_lanes(lane);
}

float fast_exp_shift_sum(float *x, int n, float shift) {
    float lane[FAST_LANES], tail[FAST_LANES];
    fast_vec t;
    fast_store(lane, exp_lanes(x, n, shift, &t));
    fast_store(tail, t);
    return sum_of_lanes(tail, n % FAST_LANES, lane);
}

void fast_softmax(float *x, int n) { fast_softmax_rows(x, 0, 1, n); }

/* Rows softmaxed side by side, R of them (a constant, inlined): every
 * sweep takes one block of each row in turn, so R independent chains of
 * exponentials are in flight and the loops' trip counts are the same for
 * all rows; a row's max and sum end in chains of dependent scalar steps
 * (15 compares, up to 31 additions), which for a short attention row (a
 * few blocks) would take longer than its vector work if reduced row after
 * row.  Each reduction below is one row's own, in that row's order, so
 * every row has the bits of fast_softmax alone. */
#define SOFTMAX_GROUP 8

static inline __attribute__((always_inline)) void softmax_group(float *x, size_t stride, int n, int R) {
    fast_vec lane[SOFTMAX_GROUP], tail[SOFTMAX_GROUP];
    float *y[SOFTMAX_GROUP], best[SOFTMAX_GROUP], sum[SOFTMAX_GROUP];
    int end = n - n % FAST_LANES, n_tail = n - end;
    for (int r = 0; r < R; r++) y[r] = x + (size_t)r * stride, lane[r] = fast_splat(y[r][0]);
    for (int j = 0; j < end; j += FAST_LANES)
        for (int r = 0; r < R; r++) lane[r] = fast_select_greater(fast_load(y[r] + j), lane[r]);
    for (int r = 0; r < R; r++)
        lane[r] = fast_select_greater(fast_load_first(y[r] + end, n_tail, fast_splat(y[r][0])), lane[r]);
    for (int r = 0; r < R; r++) best[r] = lane[r][0];
    for (int u = 1; u < FAST_LANES; u++)
        for (int r = 0; r < R; r++) best[r] = lane[r][u] > best[r] ? lane[r][u] : best[r];

    for (int r = 0; r < R; r++) lane[r] = (fast_vec){0};
    for (int j = 0; j < end; j += FAST_LANES)
        for (int r = 0; r < R; r++) {
            fast_vec e = fast_expf_lanes(fast_load(y[r] + j) - best[r]);
            fast_store(y[r] + j, e);
            lane[r] = lane[r] + e;
        }
    for (int r = 0; r < R; r++) {
        tail[r] = fast_expf_lanes(fast_load_first(y[r] + end, n_tail, fast_splat(best[r])) - best[r]);
        fast_store_first(y[r] + end, tail[r], n_tail);
        sum[r] = 0.0f;
    }
    for (int j = 0; j < n_tail; j++)
        for (int r = 0; r < R; r++) sum[r] += tail[r][j];
    for (int u = 0; u < FAST_LANES; u++)
        for (int r = 0; r < R; r++) sum[r] += lane[r][u];

    for (int r = 0; r < R; r++) best[r] = 1.0f / sum[r];
    for (int j = 0; j < end; j += FAST_LANES)
        for (int r = 0; r < R; r++) fast_store(y[r] + j, fast_load(y[r] + j) * best[r]);
    for (int r = 0; r < R; r++)
        fast_store_first(y[r] + end, fast_load_first(y[r] + end, n_tail, fast_splat(0.0f)) * best[r], n_tail);
}

void fast_softmax_rows(float *x, size_t stride, int rows, int n) {
    int r = 0;
    for (; r + SOFTMAX_GROUP <= rows; r += SOFTMAX_GROUP) softmax_group(x + (size_t)r * stride, stride, n, SOFTMAX_GROUP);
    if ((rows - r) & 4) softmax_group(x + (size_t)r * stride, stride, n, 4), r += 4;
    if ((rows - r) & 2) softmax_group(x + (size_t)r * stride, stride, n, 2), r += 2;
    if ((rows - r) & 1) softmax_group(x + (size_t)r * stride, stride, n, 1);
}
