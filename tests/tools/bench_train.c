/* bench_train.c - training throughput and MFU of model_train.c + adamw.c.
 *
 *   OPENBLAS_NUM_THREADS=1 build/tests/tools/bench_train [--steps N]
 *
 * First it measures what cblas_sgemm reaches on this machine, in this run,
 * on the shapes a training step is made of (activations x weights with
 * 2048 rows, weight gradients, a square one); the best of them is the
 * roofline.  Then for d=256/L=4 and d=512/L=8 (head size 64, no GQA,
 * SwiGLU hidden 8d/3 rounded to 32, vocab 4096, tied head) it times full
 * training steps - zero grads, forward, backward, AdamW - on 8 sequences of
 * 256 tokens with every target scored (SFT), best of N steps after one
 * warm-up.
 *
 * Model FLOPs per step = 6 x (parameters in matmuls: the layer projections
 * plus the vocab x d head; not the embedding lookup) x tokens scored by
 * each (all rows for the layers, the scored rows for the head)
 * + attention: 3 x 4 x head_dim x heads x layers x T(T+1)/2 per sequence
 * (QK^T and PV forward over the causal triangle only, backward twice that).
 * MFU = model FLOPs per second / the measured sgemm rate (wall clock).
 * "MFU cpu" is the same ratio per CPU second of this process, for both the
 * step and the sgemm rate: on a machine shared with other jobs it discounts
 * the time spent waiting for a core (with one BLAS thread it is the MFU a
 * quiet machine would show).  "pack cpu" is the CPU time of packing the
 * weights for rowmatmul (packed_weights_fill, best of 5), which every
 * forward pass does first (it is inside "fwd s"). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "model/adamw.h"
#include "model/model.h"
#include "model/model_train.h"

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }
/* CPU seconds of this process (all threads): on a shared machine, time
 * spent waiting for a core is not counted. */
static double cpu_now(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

static void die(const char *what, const pp_err *err) {
    fprintf(stderr, "bench_train: %s: %s\n", what, err->msg);
    exit(2);
}

/* GFLOP/s of C[M][N] = A[M][K] B (B stored [N][K] when transB), best of
 * 6 rounds, per wall second (*rate) and per CPU second (*cpu_rate). */
static void sgemm_rate(int M, int N, int K, int transA, int transB, double *rate, double *cpu_rate) {
    float *A = malloc((size_t)M * K * sizeof(float)), *B = malloc((size_t)K * N * sizeof(float));
    float *C = calloc((size_t)M * N, sizeof(float));
    for (size_t i = 0; i < (size_t)M * K; i++) A[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.5f;
    for (size_t i = 0; i < (size_t)K * N; i++) B[i] = (float)((i * 104729) % 1000) * 1e-3f - 0.5f;
    double flops = 2.0 * M * N * K;
    *rate = *cpu_rate = 0;
    for (int round = 0; round < 6; round++) {
        double t0 = now(), c0 = cpu_now();
        int reps = 0;
        do {
            cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, M, N,
                        K, 1.0f, A, transA ? M : K, B, transB ? K : N, 0.0f, C, N);
            reps++;
        } while (now() - t0 < 0.15);
        double r = flops * reps / (now() - t0) / 1e9, rc = flops * reps / (cpu_now() - c0) / 1e9;
        if (r > *rate) *rate = r;
        if (rc > *cpu_rate) *cpu_rate = rc;
    }
    free(A), free(B), free(C);
}

typedef struct {
    double step_s, cpu_s, tok_s, gflop, mfu, cpu_mfu, fwd_s, bwd_s, opt_s, pack_cpu_s;
} result;

static result bench_model(int dim, int layers, int vocab, int nseq, int T, int steps, double roofline,
                          double cpu_roofline) {
    int hidden = (2 * 4 * dim / 3 + 31) / 32 * 32;
    model_config c = {.dim = dim, .hidden_dim = hidden, .n_layers = layers, .n_heads = dim / 64,
                      .n_kv_heads = dim / 64, .vocab_size = vocab, .seq_len = T, .tied_embeddings = 1,
                      .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    model m;
    pp_err err;
    if (model_alloc(&m, &c, &err) != PP_OK) die("model", &err);
    model_init_random(&m, 1);
    int N = nseq * T;
    train_ws ws;
    if (train_ws_alloc(&ws, &c, N, &err) != PP_OK) die("workspace", &err);
    adamw opt;
    adamw_config ac = adamw_defaults();
    ac.lr = 1e-4f; /* small: the weights stay in the same regime across steps */
    if (adamw_init(&opt, &ac, &c, &err) != PP_OK) die("adamw", &err);
    int *lens = malloc(nseq * sizeof(int)), *toks = malloc(N * sizeof(int));
    for (int s = 0; s < nseq; s++) lens[s] = T;
    for (int i = 0; i < N; i++) toks[i] = (int)((i * 2654435761u) % (unsigned)vocab);
    train_batch b = {.n_seq = nseq, .lens = lens, .tokens = toks, .target_mask = NULL};
    float *grads = malloc(m.n_params * sizeof(float)), *logp = malloc(nseq * sizeof(float));
    float *dlogp = malloc(nseq * sizeof(float));
    int *cnt = malloc(nseq * sizeof(int));

    result best = {0};
    best.step_s = best.cpu_s = 1e30;
    for (int step = 0; step <= steps; step++) { /* step 0 warms up */
        double t0 = now(), c0 = cpu_now();
        memset(grads, 0, m.n_params * sizeof(float));
        if (model_forward_logps(&m, &ws, &b, logp, cnt, &err) != PP_OK) die("forward", &err);
        double t1 = now();
        int total = 0;
        for (int s = 0; s < nseq; s++) total += cnt[s];
        for (int s = 0; s < nseq; s++) dlogp[s] = -1.0f / (float)total;
        if (model_backward(&m, &ws, dlogp, NULL, grads, &err) != PP_OK) die("backward", &err);
        double t2 = now();
        adamw_step(&opt, m.params, grads, NULL);
        double t3 = now(), cpu = cpu_now() - c0;
        if (step > 0 && cpu < best.cpu_s) best.cpu_s = cpu;
        if (step > 0 && t3 - t0 < best.step_s) {
            best.step_s = t3 - t0;
            best.fwd_s = t1 - t0;
            best.bwd_s = t2 - t1;
            best.opt_s = t3 - t2;
        }
    }
    best.pack_cpu_s = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        double c0 = cpu_now();
        packed_weights_fill(&ws.pw, ws.packed, &m);
        double dc = cpu_now() - c0;
        if (dc < best.pack_cpu_s) best.pack_cpu_s = dc;
    }
    int hd = dim / c.n_heads;
    double layer_params = (double)layers * (2.0 * dim * c.n_heads * hd + 2.0 * dim * c.n_kv_heads * hd +
                                            3.0 * dim * hidden);
    double scored = (double)nseq * (T - 1);
    double flops = 6.0 * layer_params * N + 6.0 * (double)vocab * dim * scored +
                   (double)nseq * 3.0 * 4.0 * hd * c.n_heads * layers * (double)T * (T + 1) / 2.0;
    best.gflop = flops / 1e9;
    best.tok_s = N / best.step_s;
    best.mfu = flops / best.step_s / 1e9 / roofline;
    best.cpu_mfu = flops / best.cpu_s / 1e9 / cpu_roofline;
    free(lens), free(toks), free(grads), free(logp), free(dlogp), free(cnt);
    adamw_free(&opt);
    train_ws_free(&ws);
    model_free(&m);
    return best;
}

int main(int argc, char **argv) {
    int steps = 3;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc) steps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_train [--steps N]\n");
            return 2;
        }
    }
    if (steps < 1) steps = 1;
    printf("bench_train: OpenBLAS %s, %d thread(s)\n", openblas_get_config(), openblas_get_num_threads());
    struct { const char *what; int M, N, K, ta, tb; } shapes[] = {
        {"x.W^T   2048x512x512", 2048, 512, 512, 0, 1},
        {"x.W^T   2048x1376x512", 2048, 1376, 512, 0, 1},
        {"dy.W    2048x512x1376", 2048, 512, 1376, 0, 0},
        {"dy^T.x  512x1376x2048", 512, 1376, 2048, 1, 0},
        {"square  1024", 1024, 1024, 1024, 0, 0},
    };
    double roofline = 0, cpu_roofline = 0;
    printf("\n%-24s %10s %14s\n", "sgemm shape (MxNxK)", "GFLOP/s", "per CPU second");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        double r, rc;
        sgemm_rate(shapes[i].M, shapes[i].N, shapes[i].K, shapes[i].ta, shapes[i].tb, &r, &rc);
        printf("%-24s %10.1f %14.1f\n", shapes[i].what, r, rc);
        if (r > roofline) roofline = r;
        if (rc > cpu_roofline) cpu_roofline = rc;
    }
    printf("roofline (best of the above): %.1f GFLOP/s, %.1f per CPU second\n", roofline, cpu_roofline);
    printf("\ntraining step: 8 sequences x 256 tokens, vocab 4096, tied head, head size 64, all targets scored\n");
    printf("%-12s %8s %10s %7s %7s %7s %7s %9s %7s %8s %9s\n", "model", "params", "GFLOP/step", "fwd s", "bwd s",
           "adamw s", "step s", "tokens/s", "MFU", "MFU cpu", "pack cpu");
    int cfgs[2][2] = {{256, 4}, {512, 8}};
    for (int i = 0; i < 2; i++) {
        int dim = cfgs[i][0], layers = cfgs[i][1];
        model_config c = {.dim = dim, .hidden_dim = (2 * 4 * dim / 3 + 31) / 32 * 32, .n_layers = layers,
                          .n_heads = dim / 64, .n_kv_heads = dim / 64, .vocab_size = 4096, .seq_len = 256,
                          .tied_embeddings = 1, .norm_eps = 1e-5f, .rope_theta = 1e4f};
        result r = bench_model(dim, layers, 4096, 8, 256, steps, roofline, cpu_roofline);
        char name[32];
        snprintf(name, sizeof name, "d=%d/L=%d", dim, layers);
        printf("%-12s %7.2fM %10.1f %7.3f %7.3f %7.3f %7.3f %9.0f %6.1f%% %7.1f%% %8.4fs\n", name,
               (double)model_param_count(&c) / 1e6, r.gflop, r.fwd_s, r.bwd_s, r.opt_s, r.step_s, r.tok_s,
               100 * r.mfu, 100 * r.cpu_mfu, r.pack_cpu_s);
        fflush(stdout);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak resident memory %.0f MB (d=512/L=8 workspace for 2048 tokens + model, grads, AdamW state)\n",
           (double)ru.ru_maxrss / 1024);
    return 0;
}
