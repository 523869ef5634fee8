/* pp_stage.h - what every stage program does around its real work:
 * MPI start, option parsing (--help, --config, --verbose), logging, one
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

#include "pp_error.h"
#include "pp_log.h"
#include "pp_options.h"

typedef struct {
    const char *prog;
    MPI_Comm comm;
    int rank, size;
    pp_log log;
    pp_err err;
    pp_cli *cli;
    double t_start;
    int blacs_started;  /* set when ScaLAPACK/BLACS ran: pp_stage_end leaves
                           BLACS (Cblacs_exit(1)) before MPI_Finalize */
} pp_stage;

/* Returns -1 to go on, else the exit code to return from main (after
 * MPI_Finalize was called). */
int pp_stage_begin(pp_stage *s, const char *prog, pp_cli *cli, int argc, char **argv);
/* Agree on the outcome over all ranks, print one error line on rank 0,
 * finalize MPI; returns the exit code. */
int pp_stage_end(pp_stage *s, pp_status st);

/* All ranks agree on a status: the worst wins and the message of the lowest
 * failing rank is copied to every rank.  Collective. */
pp_status pp_agree(MPI_Comm comm, pp_status st, pp_err *err);

/* Stop requests (SIGTERM, SIGUSR1 from Slurm's --signal, SIGINT): the
 * handler only sets a flag; long loops poll pp_stop_requested() at safe
 * points (collectively: pp_stop_agreed) and save their state. */
void pp_install_stop_handlers(void);
int pp_stop_requested(void);
int pp_stop_agreed(MPI_Comm comm);

/* An exclusive lock on a resume directory (OUT.parts, OUT.ckpt): a second
 * run on the same --out fails at once, exit 1, with "another run is writing
 * OUT (pid N)", instead of both writing the same files.  Rank 0 only; DIR
 * must exist.  The lock is DIR/lock (flock; it holds the owner's pid) and
 * ends with the process or pp_dir_unlock; whoever removes DIR removes the
 * lock file first (PP_DIR_LOCK_NAME). */
#define PP_DIR_LOCK_NAME "lock"
typedef struct {
    int fd; /* -1: not held */
    char path[4200];
} pp_dir_lock;
pp_status pp_dir_lock_take(pp_dir_lock *l, const char *dir, const char *out, pp_err *err);
/* Release (keeps the file); a no-op when not held. */
void pp_dir_unlock(pp_dir_lock *l);

#endif
