/* test_bt_serial.c - the serial Bradley–Terry reference (bt_newton_serial,
 * bt_newton_step_serial) against sums and solves written out here by hand,
 * plus its errors and the BLACS grid shapes.  The MPI path is tested by
 * tests/tools/test_bt_mpi.c (tests/integration/bt_fit.sh). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rm/bt_fit.h"
#include "core/pp_rng.h"

/* x_i ~ N(0, 1), flipped with probability 1 - sigma(w_true.x_i) */
static double *make_pairs(int64_t n, int d, const double *w_true, uint64_t seed) {
    double *x = malloc((size_t)n * d * sizeof *x);
    for (int64_t i = 0; i < n; i++) {
        pp_rng r = pp_rng_stream(seed, (uint64_t)i, 0);
        double m = 0;
        for (int j = 0; j < d; j++) {
            x[i * d + j] = pp_rng_normal(&r);
            m += w_true[j] * x[i * d + j];
        }
        if (pp_rng_uniform(&r) >= 1.0 / (1.0 + exp(-m)))
            for (int j = 0; j < d; j++) x[i * d + j] = -x[i * d + j];
    }
    return x;
}

/* Loss and gradient by the textbook formulas, one pair at a time. */
static double naive_loss_grad(const double *x, int64_t n, int d, double lambda, const double *w,
                              double *g) {
    double loss = 0;
    for (int j = 0; j < d; j++) g[j] = lambda * w[j], loss += 0.5 * lambda * w[j] * w[j];
    for (int64_t i = 0; i < n; i++) {
        double z = 0;
        for (int j = 0; j < d; j++) z += w[j] * x[i * d + j];
        double p = 1.0 / (1.0 + exp(-z));
        loss -= log(p);
        for (int j = 0; j < d; j++) g[j] -= (1.0 - p) * x[i * d + j];
    }
    return loss;
}

/* Newton step by explicit H and Gaussian elimination (no LAPACK). */
static void naive_step(const double *x, int64_t n, int d, double lambda, const double *w, double *dw) {
    double *a = calloc((size_t)d * (d + 1), sizeof *a); /* [d][d+1] augmented */
    double *g = malloc(d * sizeof *g);
    naive_loss_grad(x, n, d, lambda, w, g);
    for (int64_t i = 0; i < n; i++) {
        double z = 0;
        for (int j = 0; j < d; j++) z += w[j] * x[i * d + j];
        double p = 1.0 / (1.0 + exp(-z)), s = p * (1 - p);
        for (int j = 0; j < d; j++)
            for (int k = 0; k < d; k++) a[j * (d + 1) + k] += s * x[i * d + j] * x[i * d + k];
    }
    for (int j = 0; j < d; j++) a[j * (d + 1) + j] += lambda, a[j * (d + 1) + d] = -g[j];
    for (int c = 0; c < d; c++) /* SPD: no pivoting needed */
        for (int r = c + 1; r < d; r++) {
            double f = a[r * (d + 1) + c] / a[c * (d + 1) + c];
            for (int k = c; k <= d; k++) a[r * (d + 1) + k] -= f * a[c * (d + 1) + k];
        }
    for (int r = d - 1; r >= 0; r--) {
        double v = a[r * (d + 1) + d];
        for (int k = r + 1; k < d; k++) v -= a[r * (d + 1) + k] * dw[k];
        dw[r] = v / a[r * (d + 1) + r];
    }
    free(a);
    free(g);
}

static void test_step_matches_hand_solve(void **state) {
    (void)state;
    enum { D = 7 };
    const int64_t n = 301;
    double w_true[D] = {0.8, -0.3, 0.5, 0, 1.2, -0.7, 0.1}, w[D], dw[D], ref[D];
    double *x = make_pairs(n, D, w_true, 5);
    for (int j = 0; j < D; j++) w[j] = 0.1 * (j - 3);
    pp_err err = {0};
    assert_int_equal(bt_newton_step_serial(x, n, D, 0.3, w, NULL, dw, &err), PP_OK);
    naive_step(x, n, D, 0.3, w, ref);
    for (int j = 0; j < D; j++) assert_true(fabs(dw[j] - ref[j]) <= 1e-10 * (1 + fabs(ref[j])));
    free(x);
}

static void test_fit_is_stationary(void **state) {
    (void)state;
    enum { D = 5 };
    const int64_t n = 500;
    double w_true[D] = {1, -1, 0.5, 2, -0.25}, w[D], g[D];
    double *x = make_pairs(n, D, w_true, 6);
    bt_result res = {0};
    pp_err err = {0};
    assert_int_equal(bt_newton_serial(x, n, D, 0.5, NULL, w, &res, &err), PP_OK);
    assert_true(res.converged);
    assert_true(res.iterations >= 2 && res.iterations <= 20);
    double loss = naive_loss_grad(x, n, D, 0.5, w, g);
    double gn = 0;
    for (int j = 0; j < D; j++) gn += g[j] * g[j];
    assert_true(sqrt(gn) < 1e-8);                    /* the hand gradient vanishes */
    assert_true(fabs(loss - res.loss) < 1e-10 * loss); /* and the losses agree */
    assert_true(res.grad_norm < 1e-8);
    assert_int_equal(res.grid_rows, 1);
    free(x);
}

/* From a far start full Newton steps overshoot: the line search must halve
 * and the fit must land on the same optimum as from w = 0. */
static void test_far_start_uses_line_search(void **state) {
    (void)state;
    enum { D = 6 };
    const int64_t n = 400;
    double w_true[D] = {1, -2, 0.5, 0.3, -0.6, 2}, w0[D], w[D], ref[D];
    double *x = make_pairs(n, D, w_true, 9);
    for (int j = 0; j < D; j++) w0[j] = (j % 2 ? -10.0 : 12.0);
    bt_options opt = {.w0 = w0};
    bt_result res = {0}, res0 = {0};
    pp_err err = {0};
    assert_int_equal(bt_newton_serial(x, n, D, 0.1, NULL, ref, &res0, &err), PP_OK);
    assert_int_equal(bt_newton_serial(x, n, D, 0.1, &opt, w, &res, &err), PP_OK);
    assert_int_equal(res0.halvings, 0);
    assert_true(res.halvings > 0);
    assert_true(res.converged);
    for (int j = 0; j < D; j++) assert_true(fabs(w[j] - ref[j]) < 1e-8);
    free(x);
}

static void test_recovers_known_weights(void **state) {
    (void)state;
    enum { D = 4 };
    const int64_t n = 20000;
    double w_true[D] = {1.5, -1.0, 0.5, 0.0}, w[D];
    double *x = make_pairs(n, D, w_true, 7);
    pp_err err = {0};
    assert_int_equal(bt_newton_serial(x, n, D, 0.0, NULL, w, NULL, &err), PP_OK);
    for (int j = 0; j < D; j++) assert_true(fabs(w[j] - w_true[j]) < 0.12); /* ~5 standard errors */
    free(x);
}

static void test_errors_are_clear(void **state) {
    (void)state;
    enum { D = 3 };
    const int64_t n = 200;
    double w_true[D] = {1, 2, 3}, w[D];
    double *x = make_pairs(n, D, w_true, 8);
    pp_err err = {0};

    x[41 * D + 2] = NAN;
    assert_int_equal(bt_newton_serial(x, n, D, 1.0, NULL, w, NULL, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "feature 2 of pair 41 is not finite"));
    x[41 * D + 2] = 0.5;

    for (int64_t i = 0; i < n; i++) x[i * D + 1] = x[i * D + 0]; /* duplicated column */
    assert_int_equal(bt_newton_serial(x, n, D, 0.0, NULL, w, NULL, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "linearly dependent"));
    /* the same data is fine once regularised */
    assert_int_equal(bt_newton_serial(x, n, D, 1e-3, NULL, w, NULL, &err), PP_OK);

    assert_int_equal(bt_newton_serial(x, n, D, -1.0, NULL, w, NULL, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "lambda"));
    assert_int_equal(bt_newton_serial(x, 0, D, 1.0, NULL, w, NULL, &err), PP_EINPUT);

    free(x);
    x = make_pairs(n, D, w_true, 10);
    for (int64_t i = 0; i < n; i++) x[i * D + 2] = fabs(x[i * D + 2]) + 0.1; /* separable */
    assert_int_equal(bt_newton_serial(x, n, D, 0.0, NULL, w, NULL, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "separable"));
    assert_int_equal(bt_newton_serial(x, n, D, 0.1, NULL, w, NULL, &err), PP_OK);
    free(x);
}

static void test_grid_shapes(void **state) {
    (void)state;
    const int want[][3] = {{1, 1, 1}, {2, 1, 2}, {3, 1, 3}, {4, 2, 2}, {6, 2, 3},
                           {7, 1, 7}, {8, 2, 4}, {9, 3, 3}, {12, 3, 4}, {16, 4, 4}};
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        int r = 0, c = 0;
        bt_grid_shape(want[k][0], &r, &c);
        assert_int_equal(r, want[k][1]);
        assert_int_equal(c, want[k][2]);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step_matches_hand_solve),
        cmocka_unit_test(test_fit_is_stationary),
        cmocka_unit_test(test_far_start_uses_line_search),
        cmocka_unit_test(test_recovers_known_weights),
        cmocka_unit_test(test_errors_are_clear),
        cmocka_unit_test(test_grid_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
