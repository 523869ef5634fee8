/* bt_fit.h - Bradley–Terry logistic fit by Newton's method, assembled and
 * solved distributed with ScaLAPACK (the numerical core of pp-rm).
 *
 * Each pair i has a feature difference x_i = phi(chosen) - phi(rejected) in
 * R^d (a bias would cancel in the difference, so there is none) and the
 * label "chosen preferred".  The model is P(chosen > rejected) = sigma(w.x_i)
 * and we minimise
 *     L(w) = sum_i -log sigma(w.x_i) + (lambda/2) |w|^2
 * with Newton steps H dw = -g, where
 *     g = -sum_i (1 - p_i) x_i + lambda w,
 *     H = X^T diag(p_i (1 - p_i)) X + lambda I.
 *
 * Distribution: pairs are split over the ranks of `comm` (any split, any
 * rank may hold none); every rank passes its rows, row-major
 * x_local[n_local][d].  Each step H and g are assembled as block-cyclic
 * matrices (PDSYRK and PDGEMM over the pairs on a 1 x P BLACS grid),
 * H is redistributed to a 2-D grid (1x1, 1x2, 2x2, 2x3, ...: rows = the
 * largest divisor of P not above sqrt(P)) and solved there with PDPOSV.
 * The step is gathered so that w is bitwise identical on every rank, and
 * every decision (line search, stopping) uses values broadcast from rank 0,
 * so all ranks take the same path.  Different rank counts differ only in
 * summation order (w agrees with the serial reference to ~1e-16 relative
 * in tests/tools/test_bt_mpi.c).
 *
 * Stopping rule, with delta^2 = -g.dw = dw^T H dw (the Newton decrement):
 *   converged when delta^2/2 <= decrement_tol * N   (default 1e-10 * N)
 *              or |dw| <= step_tol * |w|            (default 1e-10);
 *   the final (tiny, quadratic-regime) Newton step is then applied in full.
 *   Otherwise a backtracking line search on L (Armijo, c = 1e-4, halving,
 *   at most 40 halvings) picks the step.  It stops unconverged after
 *   max_iter Newton systems (default 50) or when the line search cannot
 *   decrease L (rounding floor): result.converged = 0 with stop_reason.
 *
 * Errors (the same status and message on every rank; no rank hangs):
 *   PP_EINPUT  non-finite feature (names the global pair index, counting
 *              pairs in rank order), d or lambda differing between ranks,
 *              no pairs at all, lambda < 0, a Newton system that is not
 *              positive definite or is singular to working precision
 *              (reciprocal condition < min_rcond: duplicated/linearly
 *              dependent features with lambda = 0), linearly separable
 *              pairs with lambda = 0 (the fitted w classifies every pair
 *              correctly: the loss has no minimiser, |w| only grows),
 *              non-finite loss/gradient/Hessian (features too large).
 *   PP_ESYS    out of memory, BLACS grid or ScaLAPACK argument failure.
 *
 * Cost per Newton step: N d^2 / P flops per rank (PDSYRK; a rank's share is
 * padded to the largest rank's pair count, so split pairs evenly) plus a
 * d^3 / 3 Cholesky on the grid; memory per rank: one copy of its rows plus
 * 2 d^2 / P doubles.
 *
 * All functions taking comm are collective over it.  They create and free
 * their own BLACS grids; a program calls Cblacs_exit(1) (scalapack.h)
 * once before MPI_Finalize. */
#ifndef BT_FIT_H
#define BT_FIT_H

#include <stdint.h>

#include <mpi.h>

#include "core/pp_error.h"

typedef struct {
    int max_iter;         /* Newton systems to solve at most; 0 -> 50 */
    double decrement_tol; /* per pair: stop when delta^2/2 <= tol * N; 0 -> 1e-10 */
    double step_tol;      /* stop when |dw| <= step_tol * |w|; 0 -> 1e-10 */
    double min_rcond;     /* reject H whose 1-norm rcond is below; 0 -> 1e-13 */
    int block;            /* ScaLAPACK block size for H; 0 -> 64 */
    const double *w0;     /* start point [d] (rank 0's is used); NULL -> zeros */
} bt_options;

typedef struct {
    int iterations;          /* Newton systems solved */
    int converged;           /* 1 when the stopping rule was met */
    const char *stop_reason; /* "decrement", "step", "max_iter", "line_search" */
    double loss;             /* L(w) at the returned w */
    double grad_norm;        /* |grad L(w)| at the returned w */
    double decrement;        /* delta^2/2 of the last Newton system */
    int halvings;            /* line-search step halvings, all iterations */
    int64_t n_pairs;         /* N, over all ranks */
    int grid_rows, grid_cols; /* BLACS grid of the solve (1 x 1 for serial) */
} bt_result;

/* Fit w[d] (output, the same on every rank) starting from w = 0.
 * opt may be NULL (defaults); out may be NULL. */
PP_MUST_CHECK pp_status bt_fit(MPI_Comm comm, const double *x_local, int64_t n_local, int d,
                 double lambda, const bt_options *opt, double *w, bt_result *out,
                 pp_err *err);

/* One Newton system at the given w (the same on every rank): dw[d] solves
 * H dw = -g, on every rank.  For tests and diagnostics. */
PP_MUST_CHECK pp_status bt_newton_step(MPI_Comm comm, const double *x_local, int64_t n_local, int d,
                         double lambda, const double *w, const bt_options *opt,
                         double *dw, pp_err *err);

/* Pairwise accuracy of w over all ranks' pairs: the fraction with w.x > 0,
 * a tie (w.x == 0) counting one half. */
PP_MUST_CHECK pp_status bt_accuracy(MPI_Comm comm, const double *x_local, int64_t n_local, int d,
                      const double *w, double *accuracy, pp_err *err);

/* Serial reference (no MPI): the same algorithm with LAPACK dposv/dpocon
 * on the whole x[n][d].  grid is reported as 1 x 1. */
PP_MUST_CHECK pp_status bt_newton_serial(const double *x, int64_t n, int d, double lambda,
                           const bt_options *opt, double *w, bt_result *out,
                           pp_err *err);
PP_MUST_CHECK pp_status bt_newton_step_serial(const double *x, int64_t n, int d, double lambda,
                                const double *w, const bt_options *opt, double *dw,
                                pp_err *err);

/* The 2-D grid used for nranks processes: rows <= cols, rows * cols = nranks. */
void bt_grid_shape(int nranks, int *rows, int *cols);

/* Leave BLACS but not MPI (Cblacs_exit(1)); a program that ran bt_fit calls
 * it once, just before MPI_Finalize. */
void bt_blacs_exit(void);

#endif
