/* test_bt_mpi.c - MPI test of the distributed Bradley–Terry fit (bt_fit.h)
 * against the serial LAPACK reference, for whatever rank count it runs on:
 *   mpirun -np 1|2|4 build/tests/tools/test_bt_mpi
 * Rank 0 prints one "ok NAME detail" or "FAIL NAME detail" line per case
 * (names carry the rank count) and the process exits non-zero on failure.
 *   test_bt_mpi --bench N D [LAMBDA]   times one fit of N pairs x D features.
 *
 * Pairs are synthetic and drawn from the model itself: x_i ~ N(0, scale_j),
 * and with probability 1 - sigma(w_true.x_i) the pair is flipped (x_i = -x_i),
 * which is exactly "chosen preferred" under Bradley–Terry with w_true.
 * Pair i is a pure function of (seed, i) (pp_rng streams), so every rank
 * makes its own rows, and rank 0 the whole set for the serial reference. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "rm/bt_fit.h"
#include "core/pp_rng.h"
#include "rm/scalapack.h"

static int rank = 0, nranks = 1, n_fail = 0;

/* Collective: passes when it passed on every rank; rank 0 prints. */
static void report(const char *name, int local_ok, const char *detail) {
    int ok = 0;
    MPI_Allreduce(&local_ok, &ok, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    if (!ok) n_fail++;
    if (rank == 0) printf("%s %s_np%d %s\n", ok ? "ok" : "FAIL", name, nranks, detail);
    fflush(stdout);
}

/* Uneven split of n pairs: rank r gets a share proportional to r + 1. */
static void my_range(int64_t n, int64_t *first, int64_t *count) {
    int64_t total = (int64_t)nranks * (nranks + 1) / 2, before = (int64_t)rank * (rank + 1) / 2;
    int64_t lo = n * before / total, hi = n * (before + rank + 1) / total;
    *first = lo, *count = hi - lo;
}

/* Rows [first, first + n) of the synthetic pair set. */
static void make_pairs(double *x, int64_t first, int64_t n, int d, const double *w_true,
                       uint64_t seed) {
    for (int64_t i = 0; i < n; i++) {
        pp_rng r = pp_rng_stream(seed, (uint64_t)(first + i), 0);
        double *xi = x + i * d, m = 0;
        for (int j = 0; j < d; j++) {
            xi[j] = pp_rng_normal(&r) * (1.0 + 0.5 * (j % 3));
            m += w_true[j] * xi[j];
        }
        if (pp_rng_uniform(&r) >= 1.0 / (1.0 + exp(-m)))
            for (int j = 0; j < d; j++) xi[j] = -xi[j];
    }
}

static void random_vector(double *v, int d, double scale, uint64_t seed) {
    pp_rng r = pp_rng_stream(seed, 999, 0);
    for (int j = 0; j < d; j++) v[j] = scale * pp_rng_normal(&r);
}

static double norm(const double *a, int d) {
    double s = 0;
    for (int j = 0; j < d; j++) s += a[j] * a[j];
    return sqrt(s);
}

static double rel_diff(const double *a, const double *b, int d) {
    double s = 0;
    for (int j = 0; j < d; j++) s += (a[j] - b[j]) * (a[j] - b[j]);
    double nb = norm(b, d);
    return sqrt(s) / (nb > 0 ? nb : 1.0);
}

/* Is this hash the same on every rank? */
static int same_everywhere(uint64_t h) {
    uint64_t lo = 0, hi = 0;
    MPI_Allreduce(&h, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&h, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    return lo == hi;
}

/* Same status and same message on every rank? */
static int agreed(pp_status st, const char *msg) {
    uint64_t h = (uint64_t)st;
    for (const char *c = msg; *c; c++) h = pp_hash64(h ^ (unsigned char)*c);
    return same_everywhere(h);
}

/* Bitwise the same vector on every rank? */
static int identical(const double *v, int n) {
    uint64_t h = 0, bits;
    for (int j = 0; j < n; j++) {
        memcpy(&bits, &v[j], sizeof bits);
        h = pp_hash64(h ^ bits);
    }
    return same_everywhere(h);
}

typedef struct {
    int64_t n, first, n_local;
    int d;
    double *x;     /* my rows */
    double *x_all; /* rank 0 only: every pair, for the serial reference */
} dataset;

static dataset make_dataset(int64_t n, int d, const double *w_true, uint64_t seed) {
    dataset s = {.n = n, .d = d};
    my_range(n, &s.first, &s.n_local);
    s.x = malloc((size_t)(s.n_local > 0 ? s.n_local : 1) * d * sizeof(double));
    make_pairs(s.x, s.first, s.n_local, d, w_true, seed);
    if (rank == 0) {
        s.x_all = malloc((size_t)n * d * sizeof(double));
        make_pairs(s.x_all, 0, n, d, w_true, seed);
    }
    return s;
}

static void free_dataset(dataset *s) {
    free(s->x);
    free(s->x_all);
}

/* Overwrite feature j of global pair i (wherever it lives) with v. */
static void set_feature(dataset *s, int64_t i, int j, double v) {
    if (i >= s->first && i < s->first + s->n_local) s->x[(i - s->first) * s->d + j] = v;
    if (s->x_all) s->x_all[i * s->d + j] = v;
}

/* Copy column src into column dst for every pair (a linearly dependent feature). */
static void duplicate_column(dataset *s, int dst, int src) {
    for (int64_t i = 0; i < s->n_local; i++) s->x[i * s->d + dst] = s->x[i * s->d + src];
    if (s->x_all)
        for (int64_t i = 0; i < s->n; i++) s->x_all[i * s->d + dst] = s->x_all[i * s->d + src];
}

/* (1) one Newton system at a non-zero w: ScaLAPACK vs LAPACK dposv */
static void test_step(int64_t n, int d, int block, double lambda) {
    double *w_true = malloc(d * sizeof(double)), *w = malloc(d * sizeof(double));
    double *dw = malloc(d * sizeof(double)), *ref = malloc(d * sizeof(double));
    random_vector(w_true, d, 0.5, 1);
    random_vector(w, d, 0.1, 2);
    dataset s = make_dataset(n, d, w_true, 11);
    bt_options opt = {.block = block};
    pp_err err = {0}, serr = {0};
    pp_status st = bt_newton_step(MPI_COMM_WORLD, s.x, s.n_local, d, lambda, w, &opt, dw, &err);
    int sst = PP_OK;
    if (rank == 0) sst = bt_newton_step_serial(s.x_all, n, d, lambda, w, &opt, ref, &serr);
    MPI_Bcast(&sst, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Bcast(ref, d, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    double rel = rel_diff(dw, ref, d);
    char name[96], detail[2200];
    snprintf(name, sizeof name, "newton_step_n%lld_d%d_nb%d_lambda%g", (long long)n, d, block, lambda);
    snprintf(detail, sizeof detail, "rel diff vs serial dposv %.2e (|dw| %.3g) %s%s", rel, norm(ref, d),
             st ? err.msg : "", sst ? serr.msg : "");
    report(name, st == PP_OK && sst == PP_OK && rel <= 1e-8, detail);
    free_dataset(&s);
    free(w_true); free(w); free(dw); free(ref);
}

/* (2) the whole fit: distributed vs serial Newton.  A start w0 far from
 * the optimum (w0_scale > 0) makes full Newton steps overshoot, so the line
 * search must act (halvings > 0 is required then). */
static void test_fit(int64_t n, int d, int block, double lambda, double w_scale, double w0_scale) {
    double *w_true = malloc(d * sizeof(double)), *w = malloc(d * sizeof(double));
    double *ref = malloc(d * sizeof(double)), *w0 = malloc(d * sizeof(double));
    random_vector(w_true, d, w_scale, 3);
    random_vector(w0, d, w0_scale, 4);
    dataset s = make_dataset(n, d, w_true, 12);
    bt_options opt = {.block = block, .w0 = w0_scale > 0 ? w0 : NULL};
    bt_result res = {0}, sres = {0};
    pp_err err = {0}, serr = {0};
    pp_status st = bt_fit(MPI_COMM_WORLD, s.x, s.n_local, d, lambda, &opt, w, &res, &err);
    int sst = PP_OK;
    if (rank == 0) sst = bt_newton_serial(s.x_all, n, d, lambda, &opt, ref, &sres, &serr);
    MPI_Bcast(&sst, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Bcast(ref, d, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    MPI_Bcast(&sres.iterations, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Bcast(&sres.converged, 1, MPI_INT, 0, MPI_COMM_WORLD);
    double rel = rel_diff(w, ref, d);
    int same_w = identical(w, d); /* w must be bitwise the same on every rank */
    char name[96], detail[2400];
    snprintf(name, sizeof name, "fit_n%lld_d%d_nb%d_lambda%g%s", (long long)n, d, block, lambda,
             w0_scale > 0 ? "_far_start" : "");
    snprintf(detail, sizeof detail,
             "grid %dx%d, %d iterations (serial %d), %d halvings, %s, loss %.10g, |grad| %.2e, rel diff vs serial %.2e %s%s",
             res.grid_rows, res.grid_cols, res.iterations, sres.iterations, res.halvings,
             res.converged ? res.stop_reason : "NOT converged", res.loss, res.grad_norm, rel,
             st ? err.msg : "", sst ? serr.msg : "");
    report(name,
           st == PP_OK && sst == PP_OK && res.converged && sres.converged && rel <= 1e-8 &&
               same_w && res.grad_norm <= 1e-6 * (double)n && (w0_scale == 0 || res.halvings > 0),
           detail);
    free_dataset(&s);
    free(w_true); free(w); free(ref); free(w0);
}

/* (3) known weights are recovered; accuracy on held-out pairs is Bayes-like */
static void test_recovery(void) {
    enum { D = 8 };
    const int64_t n = 20000;
    const double w_true[D] = {1.0, -0.5, 0.25, 2.0, 0.0, -1.0, 0.5, 1.5};
    double w[D];
    dataset s = make_dataset(n, D, w_true, 21), held = make_dataset(n, D, w_true, 22);
    bt_result res = {0};
    pp_err err = {0};
    pp_status st = bt_fit(MPI_COMM_WORLD, s.x, s.n_local, D, 0.0, NULL, w, &res, &err);
    /* The MLE's standard error here is about 0.015-0.03 per weight (Fisher
     * information ~ N E[p(1-p) x_j^2]); 0.15 is > 5 sigma for every one. */
    double max_err = 0;
    for (int j = 0; j < D; j++) max_err = fmax(max_err, fabs(w[j] - w_true[j]));
    double acc_fit = 0, acc_true = 0;
    pp_status st1 = bt_accuracy(MPI_COMM_WORLD, held.x, held.n_local, D, w, &acc_fit, &err);
    pp_status st2 = bt_accuracy(MPI_COMM_WORLD, held.x, held.n_local, D, w_true, &acc_true, &err);
    char detail[1400];
    snprintf(detail, sizeof detail,
             "%d iterations, max |w - w_true| %.4f (tol 0.15), held-out accuracy %.4f vs w_true %.4f %s",
             res.iterations, max_err, acc_fit, acc_true, st || st1 || st2 ? err.msg : "");
    report("recover_known_w_n20000_d8",
           st == PP_OK && st1 == PP_OK && st2 == PP_OK && res.converged && max_err <= 0.15 &&
               fabs(acc_fit - acc_true) <= 0.01 && acc_true > 0.75,
           detail);
    free_dataset(&s);
    free_dataset(&held);
}

/* (4) failures: the same clear error on every rank, serial agrees */
static void expect_error(const char *name, dataset *s, int d_local, double lambda, const char *want,
                         int check_serial) {
    double *w = malloc(s->d * sizeof(double));
    pp_err err = {0}, serr = {0};
    pp_status st = bt_fit(MPI_COMM_WORLD, s->x, s->n_local, d_local, lambda, NULL, w, NULL, &err);
    int sst = PP_EINPUT;
    if (rank == 0 && check_serial)
        sst = bt_newton_serial(s->x_all, s->n, s->d, lambda, NULL, w, NULL, &serr);
    MPI_Bcast(&sst, 1, MPI_INT, 0, MPI_COMM_WORLD);
    int same = agreed(st, err.msg);
    char detail[1200];
    snprintf(detail, sizeof detail, "status %d%s: %s", st, same ? "" : " (ranks DISAGREE)", err.msg);
    report(name, st == PP_EINPUT && sst == PP_EINPUT && same && strstr(err.msg, want) != NULL, detail);
    free(w);
}

static void test_errors(void) {
    enum { D = 6 };
    const int64_t n = 1001;
    double w_true[D];
    random_vector(w_true, D, 0.5, 4);

    dataset s = make_dataset(n, D, w_true, 31);
    duplicate_column(&s, 4, 1);
    expect_error("error_duplicated_column_lambda0", &s, D, 0.0, "linearly dependent", 1);
    free_dataset(&s);

    s = make_dataset(n, D, w_true, 32);
    for (int64_t i = 0; i < n; i++) set_feature(&s, i, 2, 0.0);
    expect_error("error_zero_column_lambda0", &s, D, 0.0, "linearly dependent", 1);
    free_dataset(&s);

    s = make_dataset(n, D, w_true, 33);
    set_feature(&s, n - 2, 3, NAN); /* on the last rank */
    expect_error("error_nan_feature", &s, D, 1.0, "feature 3 of pair 999 ", 1);
    free_dataset(&s);

    s = make_dataset(n, D, w_true, 34);
    set_feature(&s, 17, 0, INFINITY);
    expect_error("error_inf_feature", &s, D, 1.0, "feature 0 of pair 17 ", 1);
    free_dataset(&s);

    if (nranks > 1) { /* one rank passes another d: an error, not a hang */
        s = make_dataset(n, D, w_true, 35);
        expect_error("error_d_mismatch", &s, rank == nranks - 1 ? D - 1 : D, 1.0, "differs between ranks", 0);
        free_dataset(&s);
    }

    s = make_dataset(n, D, w_true, 37); /* feature 0 alone orders every pair */
    for (int64_t i = 0; i < n; i++) {
        double *xi = s.x_all ? s.x_all + i * D : NULL;
        if (xi) xi[0] = fabs(xi[0]) + 0.1;
        if (i >= s.first && i < s.first + s.n_local) s.x[(i - s.first) * D] = fabs(s.x[(i - s.first) * D]) + 0.1;
    }
    expect_error("error_separable_lambda0", &s, D, 0.0, "separable", 1);
    free_dataset(&s);

    s = make_dataset(n, D, w_true, 36);
    s.n_local = 0;
    expect_error("error_no_pairs", &s, D, 1.0, "no pairs", 0);
    free_dataset(&s);
}

static int bench(int64_t n, int d, double lambda) {
    double *w_true = malloc(d * sizeof(double)), *w = malloc(d * sizeof(double));
    random_vector(w_true, d, 1.0 / sqrt(d), 5);
    dataset s = {.n = n, .d = d};
    s.first = n * rank / nranks, s.n_local = n * (rank + 1) / nranks - s.first; /* even split */
    s.x = malloc((size_t)(s.n_local > 0 ? s.n_local : 1) * d * sizeof(double));
    make_pairs(s.x, s.first, s.n_local, d, w_true, 41);
    bt_result res = {0};
    pp_err err = {0};
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    pp_status st = bt_fit(MPI_COMM_WORLD, s.x, s.n_local, d, lambda, NULL, w, &res, &err);
    double t = MPI_Wtime() - t0;
    if (rank == 0) {
        if (st) printf("bench: error: %s\n", err.msg);
        else
            printf("bench: N=%lld d=%d lambda=%g ranks=%d grid %dx%d: %d iterations (%s), loss %.6g, "
                   "|grad| %.2e, %.3f s (%.3f s per iteration)\n",
                   (long long)n, d, lambda, nranks, res.grid_rows, res.grid_cols, res.iterations,
                   res.stop_reason, res.loss, res.grad_norm, t, t / (res.iterations ? res.iterations : 1));
    }
    free(s.x); free(w_true); free(w);
    return st != PP_OK;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    int status;
    if (argc >= 4 && strcmp(argv[1], "--bench") == 0) {
        status = bench(atoll(argv[2]), atoi(argv[3]), argc > 4 ? atof(argv[4]) : 1.0);
    } else {
        /* N not divisible by 2, 3 or 4; d not a multiple of the block */
        test_step(1003, 37, 8, 0.5);
        test_step(1003, 37, 64, 0.5);
        test_step(2001, 5, 2, 0.0);
        test_fit(1003, 37, 8, 1.0, 0.5, 0);
        test_fit(2001, 5, 2, 0.0, 0.5, 0);
        test_fit(3, 2, 1, 0.1, 0.5, 0); /* fewer pairs than ranks at 4: a rank holds none */
        test_fit(501, 10, 4, 0.1, 2.0, 10.0);
        test_recovery();
        test_errors();
        status = n_fail != 0;
        if (rank == 0) printf("test_bt_mpi: %d ranks, %d failed\n", nranks, n_fail);
    }
    Cblacs_exit(1); /* leave MPI to our own MPI_Finalize */
    MPI_Finalize();
    return status;
}
