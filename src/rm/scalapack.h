/* scalapack.h - prototypes for the BLACS, PBLAS, ScaLAPACK and LAPACK
 * routines we call.  Debian ships no C headers for them (see
 * ../shared/hpc/NOTES.md section 3), so we declare them here, once.
 *
 * Calling conventions:
 *  - BLACS C interface (Cblacs_*) takes plain ints.
 *  - PBLAS (pd*mm, pdsyrk) and the redistribution routine pdgemr2d are
 *    written in C: every argument by pointer, no hidden string lengths.
 *  - ScaLAPACK drivers (pdposv, pdpocon) and LAPACK (dposv) are gfortran
 *    code: every argument by pointer, plus one hidden size_t length per
 *    CHARACTER argument, appended at the end (always 1 here).
 *  - Descriptors are int[9]; local arrays are column-major with leading
 *    dimension LLD = max(1, local rows).
 *  - A program that used the BLACS calls Cblacs_exit(1) before its own
 *    MPI_Finalize (1 = leave MPI running). */
#ifndef PP_SCALAPACK_H
#define PP_SCALAPACK_H

#include <stddef.h>

#include <mpi.h>

/* ---- BLACS ---- */
void Cblacs_pinfo(int *mypnum, int *nprocs);
void Cblacs_get(int icontxt, int what, int *val);
void Cblacs_gridinit(int *icontxt, const char *order, int nprow, int npcol);
void Cblacs_gridinfo(int icontxt, int *nprow, int *npcol, int *myrow, int *mycol);
void Cblacs_gridexit(int icontxt);
void Cblacs_exit(int notdone);
/* A BLACS system handle for an MPI communicator (grids over that comm). */
int Csys2blacs_handle(MPI_Comm comm);
void Cfree_blacs_system_handle(int handle);

/* ---- ScaLAPACK tools ---- */
int numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc,
            const int *nprocs);
void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb,
               const int *irsrc, const int *icsrc, const int *ictxt, const int *lld,
               int *info);

/* ---- PBLAS (C) ---- */
void pdgemm_(const char *transa, const char *transb, const int *m, const int *n,
             const int *k, const double *alpha, const double *a, const int *ia,
             const int *ja, const int *desca, const double *b, const int *ib,
             const int *jb, const int *descb, const double *beta, double *c,
             const int *ic, const int *jc, const int *descc);
void pdsyrk_(const char *uplo, const char *trans, const int *n, const int *k,
             const double *alpha, const double *a, const int *ia, const int *ja,
             const int *desca, const double *beta, double *c, const int *ic,
             const int *jc, const int *descc);
/* Copy sub(A) (in one grid) to sub(B) (in another); ictxt must span every
 * process of both grids. */
void pdgemr2d_(const int *m, const int *n, const double *a, const int *ia,
               const int *ja, const int *desca, double *b, const int *ib,
               const int *jb, const int *descb, const int *ictxt);

/* ---- ScaLAPACK drivers (Fortran: hidden CHARACTER lengths) ---- */
void pdposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *ia,
             const int *ja, const int *desca, double *b, const int *ib, const int *jb,
             const int *descb, int *info, size_t uplo_len);
/* Reciprocal 1-norm condition estimate from a Cholesky factor (pdpotrf /
 * pdposv output).  lwork = liwork = -1 is a workspace query. */
void pdpocon_(const char *uplo, const int *n, const double *a, const int *ia,
              const int *ja, const int *desca, const double *anorm, double *rcond,
              double *work, const int *lwork, int *iwork, const int *liwork, int *info,
              size_t uplo_len);

/* ---- LAPACK (in OpenBLAS; Fortran conventions) ---- */
void dposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda,
            double *b, const int *ldb, int *info, size_t uplo_len);
void dpocon_(const char *uplo, const int *n, const double *a, const int *lda,
             const double *anorm, double *rcond, double *work, int *iwork, int *info,
             size_t uplo_len);

#endif
