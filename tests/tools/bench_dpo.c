/* bench_dpo.c - measurements for tests/tools/bench_dpo.sh besides
 * pp-train's own pairs/s.
 *
 *   OPENBLAS_NUM_THREADS=1 build/tests/tools/bench_dpo --model M.h5 --pairs R.h5 [--max-len N] [--micro-batch B]
 *   mpirun -np N build/tests/tools/bench_dpo --model M.h5 --pairs R.h5 --steps S --batch B [--micro-batch B]
 *
 * Without --steps (one process): the model FLOPs of one training pair and
 * the sgemm rate of one core, for MFU.  A pair is two sequences (prompt +
 * chosen, prompt + rejected), truncated as pp-train does (dpo_data_build,
 * max_len = the model context unless --max-len).  FLOPs, forward +
 * backward, as bench_train.c counts them: 6 x (layer projection
 * parameters) x all tokens + 6 x (vocab x dim head) x scored (response)
 * tokens + attention (QK^T and PV over the causal triangle, x3 with
 * backward); the embedding lookup, norms and AdamW are not counted.  The
 * sgemm rate is GFLOP/s of cblas_sgemm, best of 8 rounds, per wall second
 * and per CPU second, on a 1024^3 product (the peak) and on the model's FFN
 * up-projection for a micro-batch of average pairs (what this model's
 * kernels can reach).  Output lines:
 *   pairs N tokens_per_pair T scored_per_pair S params P gflop_per_pair G
 *   sgemm_peak WALL CPU
 *   sgemm_model WALL CPU MxNxK
 *
 * With --steps (under mpirun): pp-train's step loop (trainer.c) taken
 * apart - dpo_grad on this rank's slice (bcr loss, reference log-probs 0:
 * the cost does not depend on them), a barrier (its time is waiting for
 * the slowest rank: uneven slices, or a rank without a core), the gradient
 * MPI_Allreduce, AdamW - each timed per step, wall and CPU, after one
 * warm-up step.  One line per rank, then
 *   loop ranks R steps S batch B wall_per_step W grad_cpu_slowest G allreduce_best A adamw_cpu O token_imbalance I
 * G: mean over steps of the slowest rank's gradient CPU time; I: mean over
 * steps of the largest rank slice's tokens / the mean slice's; A: the
 * fastest allreduce seen (its cost when both ranks hold a core, not the
 * waiting); O: AdamW CPU time.  G + A + O estimates a step on free cores
 * (CPU time leaves out the time a rank waits to be scheduled). */
#include <cblas.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/adamw.h"
#include "train/dpo.h"
#include "model/model.h"
#include "model/model_io.h"
#include "io/pairs.h"

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static double wall(void) { return clock_s(CLOCK_MONOTONIC); }
static double cpu(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

/* GFLOP/s of C[M][N] = A[M][K] B[K][N], best of 8 rounds of >= 0.2 s. */
static void sgemm_rate(int M, int N, int K, double *wall_rate, double *cpu_rate) {
    float *A = malloc((size_t)M * K * sizeof(float)), *B = malloc((size_t)K * N * sizeof(float));
    float *C = calloc((size_t)M * N, sizeof(float));
    for (size_t i = 0; i < (size_t)M * K; i++) A[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.5f;
    for (size_t i = 0; i < (size_t)K * N; i++) B[i] = (float)((i * 104729) % 1000) * 1e-3f - 0.5f;
    double flops = 2.0 * M * N * K;
    *wall_rate = *cpu_rate = 0;
    for (int round = 0; round < 8; round++) {
        double t0 = wall(), c0 = cpu();
        int reps = 0;
        do {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
            reps++;
        } while (wall() - t0 < 0.2);
        double w = flops * reps / (wall() - t0) / 1e9, c = flops * reps / (cpu() - c0) / 1e9;
        if (w > *wall_rate) *wall_rate = w;
        if (c > *cpu_rate) *cpu_rate = c;
    }
    free(A), free(B), free(C);
}

static void model_flops(const model *m, const dpo_data *d, int micro) {
    const model_config *c = &m->cfg;
    double hd = (double)c->dim / c->n_heads;
    double layer_params = (double)c->n_layers * (2.0 * c->dim * c->n_heads * hd + 2.0 * c->dim * c->n_kv_heads * hd +
                                                 3.0 * (double)c->dim * c->hidden_dim);
    double head_params = (double)c->vocab_size * c->dim;
    double tokens = 0, scored = 0, att = 0;
    for (int64_t i = 0; i < d->n; i++)
        for (int s = 0; s < 2; s++) {
            double T = d->len[s][i];
            tokens += T;
            scored += d->resp[s][i];
            att += 3.0 * 4.0 * hd * c->n_heads * c->n_layers * T * (T + 1) / 2.0;
        }
    double flops = 6.0 * layer_params * tokens + 6.0 * head_params * scored + att;
    printf("pairs %lld tokens_per_pair %.2f scored_per_pair %.2f params %zu gflop_per_pair %.6f\n", (long long)d->n,
           tokens / d->n, scored / d->n, m->n_params, flops / d->n / 1e9);
    fflush(stdout);
    double w, cr;
    sgemm_rate(1024, 1024, 1024, &w, &cr);
    printf("sgemm_peak %.2f %.2f\n", w, cr);
    int rows = (int)(micro * tokens / d->n + 0.5);
    if (rows < 1) rows = 1;
    sgemm_rate(rows, c->hidden_dim, c->dim, &w, &cr);
    printf("sgemm_model %.2f %.2f %dx%dx%d\n", w, cr, rows, c->hidden_dim, c->dim);
    fflush(stdout);
}

/* pp-train's step, timed in parts; returns nonzero on error. */
static int step_loop(model *m, const dpo_data *d, int steps, int batch, int micro, pp_err *err) {
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    pref_loss_opts lo;
    pref_loss_defaults(&lo);
    lo.kind = PREF_BCR;
    lo.bcr_budget = 0.5;
    dpo_ctx ctx;
    if (dpo_ctx_init(&ctx, d, &m->cfg, &lo, batch, micro, 0, 1, MPI_COMM_WORLD, err) != PP_OK) return 1;
    adamw_config ac = adamw_defaults();
    ac.lr = 1e-4f;
    ac.weight_decay = 0;
    adamw opt;
    if (adamw_init(&opt, &ac, &m->cfg, err) != PP_OK) return 1;
    float *grads = malloc(m->n_params * sizeof(float));
    double metrics[DPO_M_N];
    /* sums over steps (means printed); AR_BEST is a minimum */
    enum { GRAD_WALL, GRAD_CPU, WAIT, AR_WALL, AR_CPU, AR_BEST, ADAMW_CPU, NT };
    double t[NT] = {0}, slowest_grad_cpu = 0, imbalance = 0, loop0 = 0;
    t[AR_BEST] = 1e30;
    for (int s = 0; s <= steps; s++) { /* step 0 warms up */
        if (s == 1) {
            MPI_Barrier(MPI_COMM_WORLD);
            loop0 = wall();
        }
        memset(grads, 0, m->n_params * sizeof(float));
        double w0 = wall(), c0 = cpu();
        if (dpo_grad(&ctx, s, m, grads, metrics, err) != PP_OK) return 1;
        double w1 = wall(), c1 = cpu();
        MPI_Barrier(MPI_COMM_WORLD);
        double w2 = wall(), c2 = cpu();
        MPI_Allreduce(MPI_IN_PLACE, grads, (int)m->n_params, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        double w3 = wall(), c3 = cpu();
        adamw_step(&opt, m->params, grads, NULL);
        double c4 = cpu();
        if (s > 0) {
            t[GRAD_WALL] += w1 - w0, t[GRAD_CPU] += c1 - c0, t[WAIT] += w2 - w1;
            t[AR_WALL] += w3 - w2, t[AR_CPU] += c3 - c2, t[ADAMW_CPU] += c4 - c3;
            if (w3 - w2 < t[AR_BEST]) t[AR_BEST] = w3 - w2;
            /* a step waits for its slowest rank (outside the timed parts) */
            double mine = c1 - c0, slowest;
            MPI_Allreduce(&mine, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            slowest_grad_cpu += slowest;
            /* tokens of this rank's slice against the mean over ranks */
            int first = (int)((int64_t)batch * rank / size), end = (int)((int64_t)batch * (rank + 1) / size);
            double tok = 0, tok_max, tok_sum;
            for (int j = first; j < end; j++) tok += d->len[0][ctx.b.idx[j]] + d->len[1][ctx.b.idx[j]];
            MPI_Allreduce(&tok, &tok_max, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            MPI_Allreduce(&tok, &tok_sum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
            imbalance += tok_max / (tok_sum / size);
        }
    }
    double loop_wall = (wall() - loop0) / steps;
    for (int i = 0; i < NT; i++)
        if (i != AR_BEST) t[i] /= steps;
    double *all = malloc((size_t)NT * size * sizeof(double));
    MPI_Gather(t, NT, MPI_DOUBLE, all, NT, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        double ar_best = 0, adamw_cpu = 0;
        for (int r = 0; r < size; r++) {
            const double *x = all + NT * r;
            printf("rank %d, means per step: grad %.4f s wall, %.4f s CPU; barrier wait %.4f s; allreduce %.4f s wall, "
                   "%.4f s CPU, best %.4f s; adamw %.4f s CPU\n",
                   r, x[GRAD_WALL], x[GRAD_CPU], x[WAIT], x[AR_WALL], x[AR_CPU], x[AR_BEST], x[ADAMW_CPU]);
            if (x[AR_BEST] > ar_best) ar_best = x[AR_BEST];
            adamw_cpu += x[ADAMW_CPU] / size;
        }
        printf("loop ranks %d steps %d batch %d wall_per_step %.5f grad_cpu_slowest %.5f allreduce_best %.5f "
               "adamw_cpu %.5f token_imbalance %.4f\n", size, steps, batch, loop_wall, slowest_grad_cpu / steps,
               size > 1 ? ar_best : 0.0, adamw_cpu, imbalance / steps);
        fflush(stdout);
    }
    free(all);
    free(grads);
    adamw_free(&opt);
    dpo_ctx_free(&ctx);
    return 0;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    const char *model_path = NULL, *pairs_path = NULL;
    int max_len = 0, micro = 4, steps = 0, batch = 32, bad = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) model_path = argv[++i];
        else if (!strcmp(argv[i], "--pairs") && i + 1 < argc) pairs_path = argv[++i];
        else if (!strcmp(argv[i], "--max-len") && i + 1 < argc) max_len = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--micro-batch") && i + 1 < argc) micro = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else bad = 1;
    }
    if (bad || !model_path || !pairs_path || micro < 1 || steps < 0 || batch < 1) {
        fprintf(stderr, "usage: bench_dpo --model M.h5 --pairs R.h5 [--max-len N] [--micro-batch B] "
                        "[--steps S --batch B]\n");
        MPI_Finalize();
        return 1;
    }
    pp_err err;
    model m = {0};
    pairs_set p = {0};
    dpo_data d = {0};
    int rc = 0;
    if (model_load(model_path, &m, &err) != PP_OK || pairs_load(&p, pairs_path, 0, &err) != PP_OK ||
        dpo_data_build(&d, &p, max_len > 0 && max_len < m.cfg.seq_len ? max_len : m.cfg.seq_len, &err) != PP_OK)
        rc = 2;
    else if (steps == 0)
        model_flops(&m, &d, micro);
    else if (step_loop(&m, &d, steps, batch, micro, &err) != 0)
        rc = 2;
    if (rc) fprintf(stderr, "bench_dpo: %s\n", err.msg);
    dpo_data_free(&d);
    pairs_free(&p);
    model_free(&m);
    if (rc) MPI_Abort(MPI_COMM_WORLD, rc);
    MPI_Finalize();
    return rc;
}
