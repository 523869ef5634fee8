/* bt_fit.c - Bradley–Terry Newton fit (see bt_fit.h for the maths, the
 * stopping rule and the error contract).
 *
 * One Newton loop drives two back ends that differ only in how a step's
 * linear algebra is done:
 *   serial       cblas_dsyrk / cblas_dgemv, then LAPACK dposv + dpocon;
 *   distributed  the pairs form Xt = [x_1 .. x_N] (d x N), split into one
 *                column block per rank on a 1 x P BLACS grid: a rank's
 *                row-major rows are exactly its column-major local block,
 *                zero-padded to the largest rank's count (zero pairs add
 *                nothing).  Per step the rows are copied into that block,
 *                PDGEMM gives Xt r, the block is scaled in place to
 *                Xs = Xt diag(sqrt(p(1-p))) and PDSYRK gives H = Xs Xs^T;
 *                PDGEMR2D moves H to the 2-D grid, where PDPOSV + PDPOCON
 *                solve.  Memory: one copy of the local rows plus 2 d^2 / P. */
#include "rm/bt_fit.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "rm/scalapack.h"

#define DEFAULT_MAX_ITER 50
#define DEFAULT_DECREMENT_TOL 1e-10
#define DEFAULT_STEP_TOL 1e-10
#define DEFAULT_MIN_RCOND 1e-13
#define DEFAULT_BLOCK 64
#define ARMIJO_C 1e-4    /* sufficient-decrease constant of the line search */
#define MAX_HALVINGS 40

enum { EVAL_GRAD = 1, EVAL_HESS = 2 };

typedef struct {
    /* the problem */
    const double *x;  /* [n_local][d], the caller's rows */
    int64_t n_local, n_total;
    int d;
    double lambda;
    bt_options opt;
    int distributed;  /* 0: serial reference, no MPI calls at all */

    /* per-pair and per-feature scratch, used by both back ends */
    double *z;        /* [n_local] margins w.x_i, then row scales sqrt(p_i (1 - p_i)) */
    double min_margin; /* smallest w.x_i over all pairs, after EVAL_GRAD */
    double *xs;       /* serial: [n][d] rows sqrt(s_i) x_i; distributed: the local
                         block of Xt [m_max][d], zero-padded, scaled in place */
    double *r;        /* residuals 1 - p_i; distributed: [m_max] padded */
    double *g;        /* [d] gradient, identical on every rank */
    double *dw, *wt;  /* [d] Newton step, line-search trial point */
    double *colsum;   /* [d] column sums of |H| for its 1-norm */
    double *work;     /* condition-estimate workspace */
    int *iwork;
    int lwork, liwork;

    /* serial: H [d][d] column-major (lower triangle used), rhs [d] */
    double *h, *b;

    /* distributed */
    MPI_Comm comm;
    int rank, nranks;
    int blacs, ctx_pairs, ctx_grid; /* system handle, 1 x P grid, pr x pc grid */
    int pr, pc, myrow, mycol;       /* the 2-D grid and my place in it */
    int nb, m_max, n_pad;           /* block size, pairs per block, P * m_max */
    double *h1, *g1;                /* H and Xt r on the 1 x P grid */
    double *h2, *b2;                /* H and rhs/solution on the 2-D grid */
    int h1_cols, h2_rows, h2_cols, b2_cols;
    int desc_x[9], desc_r[9], desc_h1[9], desc_g1[9], desc_h2[9], desc_b2[9];
} bt_problem;

/* ------------------------------------------------------------ small maths */

static double sigmoid(double z) {
    if (z >= 0) return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

/* -log sigmoid(z) without overflow or cancellation */
static double neg_log_sigmoid(double z) {
    return z > 0 ? log1p(exp(-z)) : -z + log1p(exp(z));
}

/* global index of local index l in a block-cyclic distribution from process 0 */
static int local_to_global(int l, int nb, int iproc, int nprocs) {
    return (l / nb) * nprocs * nb + iproc * nb + l % nb;
}

void bt_grid_shape(int nranks, int *rows, int *cols) {
    int r = (int)sqrt((double)nranks);
    while (r > 1 && nranks % r) r--;
    if (r < 1) r = 1;
    *rows = r;
    *cols = nranks / r;
}

static bt_options resolve_options(const bt_options *opt) {
    bt_options o = opt ? *opt : (bt_options){0};
    if (o.max_iter <= 0) o.max_iter = DEFAULT_MAX_ITER;
    if (!(o.decrement_tol > 0)) o.decrement_tol = DEFAULT_DECREMENT_TOL;
    if (!(o.step_tol > 0)) o.step_tol = DEFAULT_STEP_TOL;
    if (!(o.min_rcond > 0)) o.min_rcond = DEFAULT_MIN_RCOND;
    if (o.block <= 0) o.block = DEFAULT_BLOCK;
    return o;
}

/* Sum a vector over the ranks so that every rank gets bitwise the same
 * result (reduce at rank 0, then broadcast): the line search and the
 * stopping test must take the same branch everywhere. */
static void sum_over_ranks(const bt_problem *p, double *v, int n) {
    if (!p->distributed) return;
    MPI_Reduce(p->rank == 0 ? MPI_IN_PLACE : v, v, n, MPI_DOUBLE, MPI_SUM, 0, p->comm);
    MPI_Bcast(v, n, MPI_DOUBLE, 0, p->comm);
}

/* Agree on a local failure flag: 1 when any rank raised it. */
static int any_rank(const bt_problem *p, int flag) {
    if (!p->distributed) return flag;
    int any = 0;
    MPI_Allreduce(&flag, &any, 1, MPI_INT, MPI_MAX, p->comm);
    return any;
}

/* First non-finite feature of rows [0, n): flat index i*d + j, or -1. */
static int64_t first_non_finite(const double *x, int64_t n, int d) {
    for (int64_t k = 0; k < n * d; k++)
        if (!isfinite(x[k])) return k;
    return -1;
}

/* ------------------------------------------------------------------ setup */

static void problem_free(bt_problem *p) {
    free(p->z); free(p->xs); free(p->r); free(p->g); free(p->dw); free(p->wt);
    free(p->colsum); free(p->work); free(p->iwork); free(p->h); free(p->b);
    free(p->h1); free(p->g1); free(p->h2); free(p->b2);
    if (p->distributed && p->blacs >= 0) {
        if (p->ctx_pairs >= 0) Cblacs_gridexit(p->ctx_pairs);
        if (p->ctx_grid >= 0) Cblacs_gridexit(p->ctx_grid);
        Cfree_blacs_system_handle(p->blacs);
    }
    memset(p, 0, sizeof *p);
}

static void *alloc_zero(size_t n, size_t size, int *oom) {
    void *q = calloc(n ? n : 1, size);
    if (!q) *oom = 1;
    return q;
}

/* Buffers both back ends need; xs/r sized by the caller's row count. */
static void alloc_common(bt_problem *p, size_t rows, int *oom) {
    size_t d = (size_t)p->d;
    p->z = alloc_zero((size_t)p->n_local, sizeof(double), oom);
    p->xs = alloc_zero(rows * d, sizeof(double), oom);
    p->r = alloc_zero(rows, sizeof(double), oom);
    p->g = alloc_zero(d, sizeof(double), oom);
    p->dw = alloc_zero(d, sizeof(double), oom);
    p->wt = alloc_zero(d, sizeof(double), oom);
    p->colsum = alloc_zero(d, sizeof(double), oom);
}

static pp_status problem_init_serial(bt_problem *p, const double *x, int64_t n, int d,
                                     double lambda, const bt_options *opt, pp_err *err) {
    memset(p, 0, sizeof *p);
    p->x = x, p->n_local = p->n_total = n, p->d = d, p->lambda = lambda;
    p->opt = resolve_options(opt);
    p->blacs = -1;
    if (d < 1 || n < 1 || !x)
        return pp_fail(err, PP_EINPUT, "bt_newton_serial: need pairs and d >= 1 (n = %lld, d = %d)",
                       (long long)n, d);
    if (n > INT_MAX || (int64_t)d * d > INT_MAX)
        return pp_fail(err, PP_EINPUT, "bt_newton_serial: %lld pairs x %d features exceed 32-bit BLAS sizes",
                       (long long)n, d);
    if (!(lambda >= 0) || !isfinite(lambda))
        return pp_fail(err, PP_EINPUT, "bt_newton_serial: lambda must be finite and >= 0, got %g", lambda);
    int64_t bad = first_non_finite(x, n, d);
    if (bad >= 0)
        return pp_fail(err, PP_EINPUT, "bt_newton_serial: feature %d of pair %lld is not finite",
                       (int)(bad % d), (long long)(bad / d));
    int oom = 0;
    alloc_common(p, (size_t)n, &oom);
    p->h = alloc_zero((size_t)d * d, sizeof(double), &oom);
    p->b = alloc_zero((size_t)d, sizeof(double), &oom);
    p->lwork = 3 * d, p->liwork = d;
    p->work = alloc_zero((size_t)p->lwork, sizeof(double), &oom);
    p->iwork = alloc_zero((size_t)p->liwork, sizeof(int), &oom);
    if (oom) {
        problem_free(p);
        return pp_fail(err, PP_ESYS, "bt_newton_serial: out of memory for %lld pairs x %d features",
                       (long long)n, d);
    }
    return PP_OK;
}

/* Collective.  Checks that every rank agrees on d and lambda and that the
 * features are finite, then builds the two BLACS grids and descriptors. */
static pp_status problem_init_dist(bt_problem *p, MPI_Comm comm, const double *x, int64_t n_local,
                                   int d, double lambda, const bt_options *opt, const char *who,
                                   pp_err *err) {
    memset(p, 0, sizeof *p);
    p->x = x, p->n_local = n_local, p->d = d, p->lambda = lambda;
    p->opt = resolve_options(opt);
    p->distributed = 1, p->comm = comm;
    p->blacs = p->ctx_pairs = p->ctx_grid = -1;
    MPI_Comm_rank(comm, &p->rank);
    MPI_Comm_size(comm, &p->nranks);

    /* one reduction settles the argument checks on every rank */
    int bad_args = n_local < 0 || (n_local > 0 && !x) || d < 1;
    int bad_lambda = !(lambda >= 0) || !isfinite(lambda);
    double lam = bad_lambda ? 0 : lambda;
    double mx[7] = {(double)n_local, (double)d, -(double)d, bad_args, bad_lambda, lam, -lam};
    MPI_Allreduce(MPI_IN_PLACE, mx, 7, MPI_DOUBLE, MPI_MAX, comm);
    int64_t n_total = n_local > 0 ? n_local : 0;
    MPI_Allreduce(MPI_IN_PLACE, &n_total, 1, MPI_INT64_T, MPI_SUM, comm);
    p->n_total = n_total;
    if (mx[3] > 0)
        return pp_fail(err, PP_EINPUT, "%s: invalid arguments on some rank (n_local < 0, NULL features or d < 1)", who);
    if (mx[1] != -mx[2])
        return pp_fail(err, PP_EINPUT, "%s: feature dimension differs between ranks (%g to %g)", who, -mx[2], mx[1]);
    if (mx[4] > 0)
        return pp_fail(err, PP_EINPUT, "%s: lambda must be finite and >= 0 on every rank", who);
    if (mx[5] != -mx[6])
        return pp_fail(err, PP_EINPUT, "%s: lambda differs between ranks (%g to %g)", who, -mx[6], mx[5]);
    if (n_total == 0) return pp_fail(err, PP_EINPUT, "%s: no pairs on any rank", who);
    if (mx[0] * p->nranks > INT_MAX || (double)d * d > INT_MAX)
        return pp_fail(err, PP_EINPUT, "%s: %g pairs per rank x %d ranks or d = %d exceed ScaLAPACK's 32-bit indices",
                       who, mx[0], p->nranks, d);
    p->m_max = (int)mx[0];
    p->n_pad = p->m_max * p->nranks;

    /* non-finite features: report the first one in global pair order */
    int64_t offset = 0;
    MPI_Exscan(&p->n_local, &offset, 1, MPI_INT64_T, MPI_SUM, comm);
    if (p->rank == 0) offset = 0;
    int64_t bad = first_non_finite(x, n_local, d);
    int64_t first = bad >= 0 ? (offset + bad / d) * d + bad % d : INT64_MAX;
    MPI_Allreduce(MPI_IN_PLACE, &first, 1, MPI_INT64_T, MPI_MIN, comm);
    if (first != INT64_MAX)
        return pp_fail(err, PP_EINPUT, "%s: feature %d of pair %lld (0-based, pairs counted in rank order) is not finite",
                       who, (int)(first % d), (long long)(first / d));

    /* grids: pairs on 1 x P (rank = process column), solve on pr x pc */
    bt_grid_shape(p->nranks, &p->pr, &p->pc);
    int iam, nprocs, rows, cols, row;
    Cblacs_pinfo(&iam, &nprocs);
    p->blacs = Csys2blacs_handle(comm);
    p->ctx_pairs = p->blacs;
    Cblacs_gridinit(&p->ctx_pairs, "Row", 1, p->nranks);
    p->ctx_grid = p->blacs;
    Cblacs_gridinit(&p->ctx_grid, "Row", p->pr, p->pc);
    int col_pairs;
    Cblacs_gridinfo(p->ctx_pairs, &rows, &cols, &row, &col_pairs);
    int grid_bad = rows != 1 || cols != p->nranks || col_pairs != p->rank;
    Cblacs_gridinfo(p->ctx_grid, &rows, &cols, &p->myrow, &p->mycol);
    grid_bad |= rows != p->pr || cols != p->pc;
    if (any_rank(p, grid_bad))
        return pp_fail(err, PP_ESYS, "%s: BLACS grid setup failed (%d ranks, %dx%d grid)", who,
                       p->nranks, p->pr, p->pc);

    /* local sizes (see numroc: rows/cols of a block-cyclic matrix I own) */
    const int izero = 0, ione = 1;
    p->nb = p->opt.block;
    p->h1_cols = numroc_(&d, &p->nb, &p->rank, &izero, &p->nranks);
    p->h2_rows = numroc_(&d, &p->nb, &p->myrow, &izero, &p->pr);
    p->h2_cols = numroc_(&d, &p->nb, &p->mycol, &izero, &p->pc);
    p->b2_cols = numroc_(&ione, &p->nb, &p->mycol, &izero, &p->pc);
    int lld2 = p->h2_rows > 1 ? p->h2_rows : 1;

    int info[6];
    descinit_(p->desc_x, &d, &p->n_pad, &p->nb, &p->m_max, &izero, &izero, &p->ctx_pairs, &d, &info[0]);
    descinit_(p->desc_r, &ione, &p->n_pad, &ione, &p->m_max, &izero, &izero, &p->ctx_pairs, &ione, &info[1]);
    descinit_(p->desc_h1, &d, &d, &p->nb, &p->nb, &izero, &izero, &p->ctx_pairs, &d, &info[2]);
    descinit_(p->desc_g1, &d, &ione, &p->nb, &ione, &izero, &izero, &p->ctx_pairs, &d, &info[3]);
    descinit_(p->desc_h2, &d, &d, &p->nb, &p->nb, &izero, &izero, &p->ctx_grid, &lld2, &info[4]);
    descinit_(p->desc_b2, &d, &ione, &p->nb, &p->nb, &izero, &izero, &p->ctx_grid, &lld2, &info[5]);
    int desc_bad = 0;
    for (int k = 0; k < 6; k++) desc_bad |= info[k] != 0;
    if (any_rank(p, desc_bad))
        return pp_fail(err, PP_ESYS, "%s: descinit failed (d = %d, block %d, %d pairs per rank)", who, d,
                       p->nb, p->m_max);

    /* condition-estimate workspace: ask pdpocon how much it needs */
    double wq = 0;
    int iq = 0, qinfo = 0, minus1 = -1;
    double anorm = 1, rcond = 0;
    pdpocon_("L", &d, p->h2, &ione, &ione, p->desc_h2, &anorm, &rcond, &wq, &minus1, &iq, &minus1,
             &qinfo, 1);
    if (any_rank(p, qinfo != 0))
        return pp_fail(err, PP_ESYS, "%s: pdpocon workspace query failed (info %d)", who, qinfo);
    p->lwork = (int)wq + 1, p->liwork = iq + 1;

    int oom = 0;
    size_t dd = (size_t)d;
    alloc_common(p, (size_t)p->m_max, &oom);
    p->h1 = alloc_zero(dd * (size_t)p->h1_cols, sizeof(double), &oom);
    p->g1 = alloc_zero(dd, sizeof(double), &oom);
    p->h2 = alloc_zero((size_t)lld2 * (size_t)p->h2_cols, sizeof(double), &oom);
    p->b2 = alloc_zero((size_t)lld2 * (size_t)p->b2_cols, sizeof(double), &oom);
    p->work = alloc_zero((size_t)p->lwork, sizeof(double), &oom);
    p->iwork = alloc_zero((size_t)p->liwork, sizeof(int), &oom);
    if (any_rank(p, oom))
        return pp_fail(err, PP_ESYS, "%s: out of memory for %d pairs x %d features per rank", who,
                       p->m_max, d);
    return PP_OK;
}

/* ------------------------------------------------------------- evaluation */

/* L(w) into *loss; with EVAL_GRAD also g (identical on every rank); with
 * EVAL_HESS also the data part X^T W X of H (serial: p->h; distributed:
 * p->h1 on the 1 x P grid).  lambda is added to H's diagonal by solve(). */
static pp_status evaluate(bt_problem *p, const double *w, int what, double *loss, pp_err *err) {
    const int d = p->d, n = (int)p->n_local;
    if (n > 0) cblas_dgemv(CblasRowMajor, CblasNoTrans, n, d, 1.0, p->x, d, w, 1, 0.0, p->z, 1);
    double sum = 0, min_margin = INFINITY;
    for (int i = 0; i < n; i++) {
        double z = p->z[i];
        sum += neg_log_sigmoid(z);
        min_margin = fmin(min_margin, z);
        double q = sigmoid(z), r = sigmoid(-z); /* p_i and 1 - p_i, both accurate */
        p->r[i] = r;
        p->z[i] = sqrt(q * r); /* the margin is used up: keep the row scale */
    }
    sum_over_ranks(p, &sum, 1);
    *loss = sum + 0.5 * p->lambda * cblas_ddot(d, w, 1, w, 1);
    if (!(what & EVAL_GRAD)) return PP_OK;
    if (p->distributed) MPI_Allreduce(MPI_IN_PLACE, &min_margin, 1, MPI_DOUBLE, MPI_MIN, p->comm);
    p->min_margin = min_margin;

    if (!p->distributed) {
        cblas_dgemv(CblasRowMajor, CblasTrans, n, d, -1.0, p->x, d, p->r, 1, 0.0, p->g, 1);
        if (what & EVAL_HESS) {
            for (int i = 0; i < n; i++)
                for (int j = 0; j < d; j++) p->xs[(size_t)i * d + j] = p->z[i] * p->x[(size_t)i * d + j];
            cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, d, n, 1.0, p->xs, d, 0.0, p->h, d);
        }
    } else {
        const int ione = 1;
        const double one = 1.0, zero = 0.0;
        if (n > 0) memcpy(p->xs, p->x, (size_t)n * d * sizeof(double)); /* padding stays 0 */
        /* g1 = Xt r: the result lands in process column 0, i.e. rank 0 */
        pdgemm_("N", "T", &d, &ione, &p->n_pad, &one, p->xs, &ione, &ione, p->desc_x, p->r, &ione,
                &ione, p->desc_r, &zero, p->g1, &ione, &ione, p->desc_g1);
        if (p->rank == 0)
            for (int j = 0; j < d; j++) p->g[j] = -p->g1[j];
        MPI_Bcast(p->g, d, MPI_DOUBLE, 0, p->comm);
        if (what & EVAL_HESS) {
            for (int i = 0; i < n; i++) cblas_dscal(d, p->z[i], p->xs + (size_t)i * d, 1);
            pdsyrk_("L", "N", &d, &p->n_pad, &one, p->xs, &ione, &ione, p->desc_x, &zero, p->h1,
                    &ione, &ione, p->desc_h1);
        }
    }
    for (int j = 0; j < d; j++) p->g[j] += p->lambda * w[j];
    int finite = isfinite(*loss);
    for (int j = 0; j < d; j++) finite &= isfinite(p->g[j]) != 0;
    if (!finite) /* g and loss are identical on every rank: no reduction needed */
        return pp_fail(err, PP_EINPUT, "bt_fit: loss or gradient is not finite (feature values too large?)");
    return PP_OK;
}

/* ------------------------------------------------------------------ solve */

/* Add |H_ij| of the lower-triangle entry (i, j) to both column sums. */
static void add_to_colsum(double *colsum, int i, int j, double v) {
    colsum[j] += fabs(v);
    if (i != j) colsum[i] += fabs(v);
}

static pp_status check_factorisation(const bt_problem *p, int info_min, int info_max, double rcond,
                                     int iter, pp_err *err) {
    if (info_min < 0)
        return pp_fail(err, PP_ESYS, "bt_fit: Cholesky solver rejected argument %d (internal error)", -info_min);
    if (info_max > 0)
        return pp_fail(err, PP_EINPUT,
                       "bt_fit: Newton system %d is not positive definite (leading minor %d of %d): "
                       "features are linearly dependent or lambda (%g) is too small",
                       iter, info_max, p->d, p->lambda);
    if (!(rcond >= p->opt.min_rcond))
        return pp_fail(err, PP_EINPUT,
                       "bt_fit: Newton system %d is singular to working precision (rcond %.1e < %.1e): "
                       "features are linearly dependent (e.g. a duplicated column) or the pairs are "
                       "separable; use lambda > 0 (now %g)",
                       iter, rcond, p->opt.min_rcond, p->lambda);
    return PP_OK;
}

/* Solve (H + lambda I) dw = -g for the H and g of the last evaluate(). */
static pp_status solve(bt_problem *p, double *dw, int iter, pp_err *err) {
    const int d = p->d, ione = 1;
    int info = 0, non_finite = 0;
    double rcond = 0;
    memset(p->colsum, 0, (size_t)d * sizeof(double));

    if (!p->distributed) {
        for (int j = 0; j < d; j++) {
            p->h[j + (size_t)j * d] += p->lambda;
            for (int i = j; i < d; i++) {
                double v = p->h[i + (size_t)j * d];
                non_finite |= !isfinite(v);
                add_to_colsum(p->colsum, i, j, v);
            }
            p->b[j] = -p->g[j];
        }
        if (non_finite)
            return pp_fail(err, PP_EINPUT, "bt_fit: Newton system %d has non-finite entries (feature values too large?)", iter);
        double anorm = 0;
        for (int j = 0; j < d; j++) anorm = fmax(anorm, p->colsum[j]);
        dposv_("L", &d, &ione, p->h, &d, p->b, &d, &info, 1);
        if (info == 0) dpocon_("L", &d, p->h, &d, &anorm, &rcond, p->work, p->iwork, &info, 1);
        PP_TRY(check_factorisation(p, info, info, rcond, iter, err));
        memcpy(dw, p->b, (size_t)d * sizeof(double));
        return PP_OK;
    }

    /* H to the 2-D grid (the context argument must span both grids) */
    pdgemr2d_(&d, &d, p->h1, &ione, &ione, p->desc_h1, p->h2, &ione, &ione, p->desc_h2, &p->ctx_pairs);
    int lld2 = p->desc_h2[8];
    for (int jl = 0; jl < p->h2_cols; jl++) {
        int j = local_to_global(jl, p->nb, p->mycol, p->pc);
        for (int il = 0; il < p->h2_rows; il++) {
            int i = local_to_global(il, p->nb, p->myrow, p->pr);
            if (i < j) continue; /* upper triangle: not assembled, not read */
            double *v = &p->h2[il + (size_t)jl * lld2];
            if (i == j) *v += p->lambda;
            non_finite |= !isfinite(*v);
            add_to_colsum(p->colsum, i, j, *v);
        }
    }
    for (int il = 0; il < p->h2_rows && p->b2_cols > 0; il++)
        p->b2[il] = -p->g[local_to_global(il, p->nb, p->myrow, p->pr)];
    if (any_rank(p, non_finite))
        return pp_fail(err, PP_EINPUT, "bt_fit: Newton system %d has non-finite entries (feature values too large?)", iter);
    sum_over_ranks(p, p->colsum, d);
    double anorm = 0;
    for (int j = 0; j < d; j++) anorm = fmax(anorm, p->colsum[j]);

    pdposv_("L", &d, &ione, p->h2, &ione, &ione, p->desc_h2, p->b2, &ione, &ione, p->desc_b2, &info, 1);
    int range[2] = {info, -info}; /* agree on the worst info before going on */
    MPI_Allreduce(MPI_IN_PLACE, range, 2, MPI_INT, MPI_MAX, p->comm);
    if (range[0] == 0 && range[1] == 0) {
        pdpocon_("L", &d, p->h2, &ione, &ione, p->desc_h2, &anorm, &rcond, p->work, &p->lwork,
                 p->iwork, &p->liwork, &info, 1);
        MPI_Bcast(&rcond, 1, MPI_DOUBLE, 0, p->comm);
        range[0] = info, range[1] = -info;
        MPI_Allreduce(MPI_IN_PLACE, range, 2, MPI_INT, MPI_MAX, p->comm);
    }
    PP_TRY(check_factorisation(p, -range[1], range[0], rcond, iter, err));

    /* gather: each entry has exactly one owner, so the sum is exact */
    memset(dw, 0, (size_t)d * sizeof(double));
    for (int il = 0; il < p->h2_rows && p->b2_cols > 0; il++)
        dw[local_to_global(il, p->nb, p->myrow, p->pr)] = p->b2[il];
    MPI_Allreduce(MPI_IN_PLACE, dw, d, MPI_DOUBLE, MPI_SUM, p->comm);
    return PP_OK;
}

/* ----------------------------------------------------------------- Newton */

static pp_status newton(bt_problem *p, double *w, bt_result *out, pp_err *err) {
    const int d = p->d;
    const bt_options *o = &p->opt;
    bt_result res = {.stop_reason = "max_iter", .n_pairs = p->n_total, .grid_rows = 1, .grid_cols = 1};
    if (p->distributed) res.grid_rows = p->pr, res.grid_cols = p->pc;
    double loss;
    if (o->w0) memcpy(w, o->w0, (size_t)d * sizeof(double));
    else memset(w, 0, (size_t)d * sizeof(double));
    if (p->distributed) MPI_Bcast(w, d, MPI_DOUBLE, 0, p->comm); /* one start for all */
    PP_TRY(evaluate(p, w, EVAL_GRAD | EVAL_HESS, &loss, err));
    while (res.iterations < o->max_iter) {
        PP_TRY(solve(p, p->dw, res.iterations + 1, err));
        res.iterations++;
        double dec = -0.5 * cblas_ddot(d, p->g, 1, p->dw, 1); /* delta^2 / 2 */
        res.decrement = dec;
        double step = cblas_dnrm2(d, p->dw, 1), wnorm = cblas_dnrm2(d, w, 1);
        int small_dec = dec <= o->decrement_tol * (double)p->n_total;
        if (small_dec || step <= o->step_tol * wnorm) {
            /* in the quadratic regime: the full step only adds digits */
            cblas_daxpy(d, 1.0, p->dw, 1, w, 1);
            res.converged = 1;
            res.stop_reason = small_dec ? "decrement" : "step";
            break;
        }
        /* backtracking: accept t when L(w + t dw) <= L(w) - c t delta^2 */
        double t = 1.0, trial = 0;
        int accepted = 0;
        for (int k = 0; k <= MAX_HALVINGS && !accepted; k++) {
            if (k > 0) t *= 0.5, res.halvings++;
            for (int j = 0; j < d; j++) p->wt[j] = w[j] + t * p->dw[j];
            PP_TRY(evaluate(p, p->wt, 0, &trial, err));
            accepted = trial <= loss - ARMIJO_C * t * 2.0 * dec;
        }
        if (!accepted) {
            res.stop_reason = "line_search";
            break;
        }
        memcpy(w, p->wt, (size_t)d * sizeof(double));
        PP_TRY(evaluate(p, w, EVAL_GRAD | EVAL_HESS, &loss, err));
    }
    PP_TRY(evaluate(p, w, EVAL_GRAD, &loss, err));
    /* Without regularisation a w with every margin positive cannot be a
     * stationary point (L decreases along t*w as t grows): the pairs are
     * separable and the loss has no minimiser. */
    if (p->lambda == 0 && p->min_margin > 0)
        return pp_fail(err, PP_EINPUT,
                       "bt_fit: the %lld pairs are linearly separable (|w| grew to %.3g with every pair ordered correctly), "
                       "so with lambda = 0 the loss has no minimiser; use lambda > 0",
                       (long long)p->n_total, cblas_dnrm2(d, w, 1));
    res.loss = loss;
    res.grad_norm = cblas_dnrm2(d, p->g, 1);
    if (out) *out = res;
    return PP_OK;
}

/* ------------------------------------------------------------- public API */

pp_status bt_fit(MPI_Comm comm, const double *x_local, int64_t n_local, int d, double lambda,
                 const bt_options *opt, double *w, bt_result *out, pp_err *err) {
    bt_problem p;
    pp_status st = problem_init_dist(&p, comm, x_local, n_local, d, lambda, opt, "bt_fit", err);
    if (st == PP_OK) st = newton(&p, w, out, err);
    problem_free(&p);
    return st;
}

pp_status bt_newton_step(MPI_Comm comm, const double *x_local, int64_t n_local, int d,
                         double lambda, const double *w, const bt_options *opt, double *dw,
                         pp_err *err) {
    bt_problem p;
    double loss;
    pp_status st = problem_init_dist(&p, comm, x_local, n_local, d, lambda, opt, "bt_newton_step", err);
    if (st == PP_OK) st = evaluate(&p, w, EVAL_GRAD | EVAL_HESS, &loss, err);
    if (st == PP_OK) st = solve(&p, dw, 1, err);
    problem_free(&p);
    return st;
}

pp_status bt_newton_serial(const double *x, int64_t n, int d, double lambda, const bt_options *opt,
                           double *w, bt_result *out, pp_err *err) {
    bt_problem p;
    pp_status st = problem_init_serial(&p, x, n, d, lambda, opt, err);
    if (st == PP_OK) st = newton(&p, w, out, err);
    problem_free(&p);
    return st;
}

pp_status bt_newton_step_serial(const double *x, int64_t n, int d, double lambda, const double *w,
                                const bt_options *opt, double *dw, pp_err *err) {
    bt_problem p;
    double loss;
    pp_status st = problem_init_serial(&p, x, n, d, lambda, opt, err);
    if (st == PP_OK) st = evaluate(&p, w, EVAL_GRAD | EVAL_HESS, &loss, err);
    if (st == PP_OK) st = solve(&p, dw, 1, err);
    problem_free(&p);
    return st;
}

pp_status bt_accuracy(MPI_Comm comm, const double *x_local, int64_t n_local, int d,
                      const double *w, double *accuracy, pp_err *err) {
    /* counts[0] = 2 * correct + ties, counts[1] = pairs, counts[2] = bad args,
     * counts[3..4] = d range, counts[5] = non-finite margins */
    int64_t counts[6] = {0, n_local > 0 ? n_local : 0, n_local < 0 || (n_local > 0 && !x_local) || !w || d < 1,
                         d, -(int64_t)d, 0};
    if (!counts[2])
        for (int64_t i = 0; i < n_local; i++) {
            double m = cblas_ddot(d, x_local + (size_t)i * d, 1, w, 1);
            if (!isfinite(m)) counts[5] = 1;
            counts[0] += m > 0 ? 2 : m == 0 ? 1 : 0;
        }
    int64_t sums[2], maxes[4] = {counts[2], counts[3], counts[4], counts[5]};
    MPI_Allreduce(counts, sums, 2, MPI_INT64_T, MPI_SUM, comm);
    MPI_Allreduce(MPI_IN_PLACE, maxes, 4, MPI_INT64_T, MPI_MAX, comm);
    if (maxes[0])
        return pp_fail(err, PP_EINPUT, "bt_accuracy: invalid arguments on some rank (n_local < 0, NULL features/weights or d < 1)");
    if (maxes[1] != -maxes[2])
        return pp_fail(err, PP_EINPUT, "bt_accuracy: feature dimension differs between ranks (%lld to %lld)",
                       (long long)-maxes[2], (long long)maxes[1]);
    if (maxes[3])
        return pp_fail(err, PP_EINPUT, "bt_accuracy: a pair's score w.x is not finite (non-finite features?)");
    if (sums[1] == 0) return pp_fail(err, PP_EINPUT, "bt_accuracy: no pairs on any rank");
    *accuracy = (double)sums[0] / (2.0 * (double)sums[1]);
    return PP_OK;
}

void bt_blacs_exit(void) { Cblacs_exit(1); /* 1: MPI stays up for MPI_Finalize */ }
