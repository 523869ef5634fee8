/* bench_attend.c - kern_attend alone, on one row's shapes, in cache.
 *
 *   build/tests/tools/bench_attend [--heads 8] [--kv-heads 4] [--head-dim 8]
 *                                  [--min-len 13] [--max-len 141] [--reps 2000] [--slots 1]
 *                                  [--cpu-time]
 *
 * The default is stories260K's attention (8 query heads and 4 kv heads of
 * 8 floats) over the lengths a decode of 64 prompts x 128 new tokens sees
 * (prompts of about 13 tokens, so 13 .. 141 positions, 77 on average).
 * Every length from min to max is one call per repetition, over one
 * slot's keys (kern_keys_put's block layout) and values; the figure is
 * the mean nanoseconds per call, best of 5 rounds, and that times the
 * layers of stories260K (5): the attention's part of a decoded token.
 * --slots N spreads the calls over N slots' caches in turn (as a decode
 * step's rows read theirs): with enough of them the keys and values come
 * from DRAM, not the caches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/kernels.h"

static clockid_t bench_clock = CLOCK_MONOTONIC;

static double now(void) {
    struct timespec ts;
    clock_gettime(bench_clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int int_arg(int argc, char **argv, const char *name, int fallback) {
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return atoi(argv[i + 1]);
    return fallback;
}

int main(int argc, char **argv) {
    int n_heads = int_arg(argc, argv, "--heads", 8), n_kv = int_arg(argc, argv, "--kv-heads", 4);
    int hd = int_arg(argc, argv, "--head-dim", 8), min_len = int_arg(argc, argv, "--min-len", 13);
    int max_len = int_arg(argc, argv, "--max-len", 141), reps = int_arg(argc, argv, "--reps", 2000);
    int slots = int_arg(argc, argv, "--slots", 1);
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--cpu-time") == 0) bench_clock = CLOCK_THREAD_CPUTIME_ID;
    if (n_heads < 1 || n_kv < 1 || n_heads % n_kv != 0 || hd < 1 || min_len < 1 || max_len < min_len || reps < 1 ||
        slots < 1) {
        fprintf(stderr, "bench_attend: bad shape (heads a multiple of kv-heads, 1 <= min-len <= max-len)\n");
        return 1;
    }
    int kv_dim = n_kv * hd, qd = n_heads * hd;
    float *q = malloc((size_t)qd * sizeof(float)), *out = malloc((size_t)qd * sizeof(float));
    size_t key_slot = kern_keys_floats(max_len, kv_dim), val_slot = (size_t)max_len * kv_dim;
    float *keys = malloc(key_slot * slots * sizeof(float)), *vals = malloc(val_slot * slots * sizeof(float));
    float *att = malloc((size_t)n_heads * max_len * sizeof(float)), *k = malloc((size_t)kv_dim * sizeof(float));
    if (!q || !out || !keys || !vals || !att || !k) {
        fprintf(stderr, "bench_attend: out of memory\n");
        return 1;
    }
    srand(1);
    for (int i = 0; i < qd; i++) q[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    for (int s = 0; s < slots; s++)
        for (int t = 0; t < max_len; t++) {
            for (int j = 0; j < kv_dim; j++) k[j] = (float)rand() / (float)RAND_MAX - 0.5f;
            kern_keys_put(keys + s * key_slot, kv_dim, t, k);
            for (int j = 0; j < kv_dim; j++) vals[s * val_slot + (size_t)t * kv_dim + j] = (float)rand() / (float)RAND_MAX - 0.5f;
        }
    double best = 1e30, check = 0.0;
    for (int round = 0; round < 5; round++) {
        double t0 = now();
        for (int r = 0, s = 0; r < reps; r++)
            for (int len = min_len; len <= max_len; len++, s = (s + 1) % slots) {
                kern_attend(out, att, (size_t)max_len, q, keys + s * key_slot, vals + s * val_slot, n_heads, n_kv,
                            hd, len);
                check += out[len % qd];
            }
        double ns = (now() - t0) * 1e9 / ((double)reps * (max_len - min_len + 1));
        best = ns < best ? ns : best;
    }
    printf("kern_attend: %d heads / %d kv heads of %d, lengths %d..%d, %d slot(s): %.1f ns per call, %.2f us per 5 "
           "layers (checksum %.6g)\n",
           n_heads, n_kv, hd, min_len, max_len, slots, best, best * 5 / 1000, check);
    free(q), free(out), free(keys), free(vals), free(att), free(k);
    return 0;
}
