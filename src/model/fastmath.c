/* fastmath.c - lane-parallel max, exp-sum and softmax (fastmath.h). */
#include "model/fastmath.h"

float fast_max(const float *x, int n) {
    float lane[FAST_LANES];
    for (int u = 0; u < FAST_LANES; u++) lane[u] = x[0];
    int j = 0;
    for (; j + FAST_LANES <= n; j += FAST_LANES)
        for (int u = 0; u < FAST_LANES; u++) lane[u] = x[j + u] > lane[u] ? x[j + u] : lane[u];
    float best = lane[0];
    for (int u = 1; u < FAST_LANES; u++) best = lane[u] > best ? lane[u] : best;
    for (; j < n; j++) best = x[j] > best ? x[j] : best;
    return best;
}

float fast_exp_shift_sum(float *x, int n, float shift) {
    float acc[FAST_LANES] = {0}, s = 0.0f;
    int j = 0;
    for (; j + FAST_LANES <= n; j += FAST_LANES)
        for (int u = 0; u < FAST_LANES; u++) {
            x[j + u] = fast_expf(x[j + u] - shift);
            acc[u] += x[j + u];
        }
    for (; j < n; j++) {
        x[j] = fast_expf(x[j] - shift);
        s += x[j];
    }
    for (int u = 0; u < FAST_LANES; u++) s += acc[u];
    return s;
}

void fast_softmax(float *x, int n) {
    float sum = fast_exp_shift_sum(x, n, fast_max(x, n));
    float inv = 1.0f / sum;
    for (int j = 0; j < n; j++) x[j] *= inv;
}
