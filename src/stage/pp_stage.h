/* pp_stage.h - what every stage program does around its real work:
 * MPI start, option parsing (--help, --version, --config, --verbose), logging, one
 * agreed error line at the end, exit codes, and stop-signal requests.
 *
 *   pp_stage s;
 *   int rc = pp_stage_begin(&s, "pp-x", &cli, argc, argv);
 *   if (rc >= 0) return rc;            // --help or a usage error
 *   ... st = work(..., &s.err) ...
 *   return pp_stage_end(&s, st);
 */
#ifndef PP_STAGE_H
#define PP_STAGE_H

#include <mpi.h>
#include <stdio.h>

#include "core/pp_error.h"
#include "core/pp_log.h"
#include "core/pp_options.h"
#include "core/pp_mpi.h"
#include "core/pp_memory.h"

typedef struct {
    const char *prog;
    MPI_Comm comm;
    int rank, size;
    pp_log log;
    pp_err err;
    pp_cli *cli;
    double t_start;
    /* the stage's memory estimate (pp_memory_check fills it; give the
       library &s.mem): the summary prints it next to the measured peak */
    pp_memory mem;
    /* run by pp_stage_end just before MPI_Finalize when set: a library that
       keeps MPI state of its own (BLACS, see bt_blacs_exit) hands its
       clean-up here, so this module knows nothing of it */
    void (*before_finalize)(void);
    /* 1: no closing "done in ..., peak memory" line (a program whose
       output is for scripts: pp-inspect) */
    int no_done_line;
} pp_stage;

/* Returns -1 to go on, else the exit code to return from main (after
 * MPI_Finalize was called). */
int pp_stage_begin(pp_stage *s, const char *prog, pp_cli *cli, int argc, char **argv);
/* What --version prints: "PROG VERSION", the git commit the build was
 * made from ("unknown" outside a git checkout), the MPI library
 * (MPI_Get_library_version, first line), HDF5 (H5get_libversion) and the
 * OpenBLAS build (openblas_get_config). */
void pp_stage_print_version(const char *prog, FILE *out);
/* Agree on the outcome over all ranks, print one error line on rank 0,
 * finalize MPI; returns the exit code. */
int pp_stage_end(pp_stage *s, pp_status st);

#endif
