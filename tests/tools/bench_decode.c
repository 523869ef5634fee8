/* bench_decode.c - KV-cache decode throughput at batch 1 and batch 8.
 *
 *   OPENBLAS_NUM_THREADS=1 build/tests/tools/bench_decode [--steps N] [--reps N] [--cpu-time]
 *                                                         [--only stories260K|d256|d512]
 *
 * For each model: every slot is prefilled with the same 8-token prompt,
 * then `steps` decode steps (default 128) run with all slots active,
 * feeding back the argmax token; only the decode loop is timed, best of
 * `reps` (default 5).  tokens/s counts generated tokens (batch x steps).
 * Models: stories260K from $PP_SHARED/models (or ../shared/models; skipped
 * when absent) and random models of the sizes the pipeline trains,
 * d=256/L=4 and d=512/L=8 (vocab 4096, seq 512).
 *
 * The last column is the ceiling batching can reach on this machine: the
 * same weight products infer.c does for one decode step (every layer's
 * projections and the classifier, rowmatmul on its packed weights), batch
 * 8 against batch 1, without attention, norms or sampling.  Where
 * the weights sit in cache (stories260K: 1 MB) a batch-1 sgemv is already
 * fast and this ceiling is far below 8. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/infer.h"
#include "model/llama2c.h"
#include "model/model.h"
#include "model/sample.h"

/* Wall time, or with --cpu-time this thread's CPU time (on a machine
 * shared with other jobs, time spent descheduled is not ours). */
static clockid_t bench_clock = CLOCK_MONOTONIC;

static double now(void) {
    struct timespec ts;
    clock_gettime(bench_clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One timed run: `batch` slots share an 8-token prefill, then decode
 * `steps` steps together.  Returns generated tokens per second. */
static double decode_run(infer_state *st, int batch, int steps, float *logits) {
    pp_err err;
    int V = st->m->cfg.vocab_size;
    int prompt[8], slots[8], feed[8];
    for (int i = 0; i < 8; i++) prompt[i] = (i * 37 + 1) % V;
    infer_reset(st, 0);
    if (infer_prefill(st, 0, prompt, 8, logits, &err) != PP_OK) {
        fprintf(stderr, "bench_decode: %s\n", err.msg);
        exit(2);
    }
    for (int s = 0; s < batch; s++) {
        if (infer_copy_seq(st, 0, s, &err) != PP_OK) {
            fprintf(stderr, "bench_decode: %s\n", err.msg);
            exit(2);
        }
        slots[s] = s;
        feed[s] = (sample_argmax(logits, V) + s) % V; /* distinct candidates */
    }
    double t0 = now();
    for (int step = 0; step < steps; step++) {
        if (infer_decode(st, batch, slots, feed, logits, &err) != PP_OK) {
            fprintf(stderr, "bench_decode: %s\n", err.msg);
            exit(2);
        }
        for (int s = 0; s < batch; s++) feed[s] = sample_argmax(logits + (size_t)s * V, V);
    }
    return (double)batch * steps / (now() - t0);
}

/* Seconds for the weight products of one decode step of `rows` rows,
 * exactly as infer.c issues them (infer_step_products); best of 20. */
static double matmul_step(const infer_state *st, int rows, float *in, float *out) {
    double best = 1e30;
    for (int rep = 0; rep < 20; rep++) {
        double t0 = now();
        infer_step_products(st, rows, in, out);
        double t = now() - t0;
        if (t < best) best = t;
    }
    return best;
}

/* Batch 1 and batch 8 runs alternate and each keeps its best, so load
 * from other processes on a shared machine hits both alike. */
static void bench(const char *name, const model *m, int steps, int reps) {
    pp_err err;
    infer_state s1, s8;
    if (infer_init(&s1, m, 1, 8 + steps + 1, &err) != PP_OK || infer_init(&s8, m, 8, 8 + steps + 1, &err) != PP_OK) {
        fprintf(stderr, "bench_decode: %s\n", err.msg);
        exit(2);
    }
    float *logits = malloc((size_t)8 * m->cfg.vocab_size * sizeof(float));
    double r1 = 0.0, r8 = 0.0;
    for (int rep = 0; rep < reps; rep++) {
        double a = decode_run(&s1, 1, steps, logits), b = decode_run(&s8, 8, steps, logits);
        if (a > r1) r1 = a;
        if (b > r8) r8 = b;
    }
    /* the matmul-only ceiling, inputs any finite numbers */
    size_t widest = (size_t)(m->cfg.hidden_dim > m->cfg.vocab_size ? m->cfg.hidden_dim : m->cfg.vocab_size);
    float *in = calloc(8 * widest, sizeof(float)), *out = calloc(8 * widest, sizeof(float));
    for (size_t i = 0; i < 8 * widest; i++) in[i] = 0.01f * (float)(i % 13);
    double mm1 = matmul_step(&s8, 1, in, out), mm8 = matmul_step(&s8, 8, in, out);
    free(in);
    free(out);
    printf("%-22s %9.2f %6d %12.0f %12.0f %8.2fx %11.2fx\n", name, (double)m->n_params / 1e6, steps, r1, r8, r8 / r1,
           8.0 * mm1 / mm8);
    fflush(stdout);
    infer_free(&s1);
    infer_free(&s8);
    free(logits);
}

static void random_model(model *m, int dim, int layers, int vocab) {
    int hidden = (2 * 4 * dim / 3 + 31) / 32 * 32; /* Llama's 8d/3, rounded to 32 */
    model_config c = {.dim = dim, .hidden_dim = hidden, .n_layers = layers, .n_heads = dim / 64,
                      .n_kv_heads = dim / 64, .vocab_size = vocab, .seq_len = 512, .tied_embeddings = 1,
                      .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    pp_err err;
    if (model_alloc(m, &c, &err) != PP_OK) {
        fprintf(stderr, "bench_decode: %s\n", err.msg);
        exit(2);
    }
    model_init_random(m, 1);
}

int main(int argc, char **argv) {
    int steps = 128, reps = 5;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cpu-time")) bench_clock = CLOCK_THREAD_CPUTIME_ID;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else {
            fprintf(stderr, "usage: bench_decode [--steps N] [--reps N] [--cpu-time] [--only stories260K|d256|d512]\n");
            return 1;
        }
    }
    if (steps < 1 || steps > 400 || reps < 1 || reps > 100) {
        fprintf(stderr, "bench_decode: --steps must be in 1..400 and --reps in 1..100\n");
        return 1;
    }
    const char *env = getenv("PP_SHARED"), *blas = getenv("OPENBLAS_NUM_THREADS");
    char path[4096];
    snprintf(path, sizeof path, "%s/models/stories260K.bin", env && *env ? env : "../shared");

    printf("decode throughput (KV cache, greedy feed-back), OPENBLAS_NUM_THREADS=%s, %s time, best of %d\n",
           blas ? blas : "unset", bench_clock == CLOCK_MONOTONIC ? "wall" : "thread CPU", reps);
    printf("%-22s %9s %6s %12s %12s %9s %12s\n", "model", "Mparams", "steps", "batch1 tok/s", "batch8 tok/s",
           "ratio", "matmul-only");
    model m;
    pp_err err;
    if (!only || !strcmp(only, "stories260K")) {
        if (llama2c_load(&m, path, NULL, NULL, &err) == PP_OK) {
            bench("stories260K", &m, steps, reps);
            model_free(&m);
        } else {
            printf("%-22s skipped: %s\n", "stories260K", err.msg);
        }
    }
    if (!only || !strcmp(only, "d256")) {
        random_model(&m, 256, 4, 4096);
        bench("random d256 L4 V4096", &m, steps, reps);
        model_free(&m);
    }
    if (!only || !strcmp(only, "d512")) {
        random_model(&m, 512, 8, 4096);
        bench("random d512 L8 V4096", &m, steps, reps);
        model_free(&m);
    }
    return 0;
}
