/* pp_stage.c - program start/end shared by every stage (pp_stage.h). */
#include "stage/pp_stage.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "io/pp_h5.h"
#include "pp_build_info.h" /* PP_GIT_COMMIT, written by make into build/ */

/* OpenBLAS's own description of its build (core, threads, ISA). */
extern char *openblas_get_config(void);

void pp_stage_print_version(const char *prog, FILE *out) {
    char mpi[MPI_MAX_LIBRARY_VERSION_STRING] = "";
    int len = 0;
    MPI_Get_library_version(mpi, &len);
    mpi[strcspn(mpi, "\n")] = '\0'; /* Open MPI adds repository details on later lines */
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    fprintf(out, "%s %s (prefpipe)\ngit commit: %s\nMPI: %s\nHDF5: %u.%u.%u\nOpenBLAS: %s\n", prog, PP_VERSION,
            PP_GIT_COMMIT, mpi, maj, min, rel, openblas_get_config());
}

int pp_stage_begin(pp_stage *s, const char *prog, pp_cli *cli, int argc, char **argv) {
    memset(s, 0, sizeof *s);
    s->prog = prog;
    s->cli = cli;
    MPI_Init(&argc, &argv);
    s->comm = MPI_COMM_WORLD;
    MPI_Comm_rank(s->comm, &s->rank);
    MPI_Comm_size(s->comm, &s->size);
    s->t_start = pp_now();
    pp_h5_quiet();
    pp_install_stop_handlers();
    cli->prog = prog;
    pp_status st = pp_cli_parse(cli, argc, argv, &s->err);
    pp_log_init(&s->log, prog, s->rank, cli->verbose);
    if (st == PP_OK && (cli->help_requested || cli->version_requested)) {
        if (s->rank == 0 && cli->help_requested) pp_cli_help(cli);
        if (s->rank == 0 && !cli->help_requested) pp_stage_print_version(prog, stdout);
        pp_cli_free(cli);
        MPI_Finalize();
        return 0;
    }
    if (st != PP_OK) return pp_stage_end(s, st);
    return -1;
}

/* mpirun exits 1 after it forwarded SIGTERM or SIGINT, whatever the ranks
 * returned, so a stage that saved its state and exited 75 would look like
 * bad input.  With PP_EXIT_STATUS_FILE set (the job scripts set it), rank 0
 * also writes its exit code there. */
static void write_exit_status(int code) {
    const char *path = getenv("PP_EXIT_STATUS_FILE");
    if (!path || !*path) return;
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f, "%d\n", code);
    fclose(f);
}

/* Peak resident memory of this process in bytes (getrusage: the kernel's
 * high-water mark, so memory freed before the end still counts). */
static double peak_rss_bytes(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0.0;
    return (double)ru.ru_maxrss * 1024.0; /* Linux reports KiB */
}

/* The summary's last line on success: wall time and the peak resident
 * memory per rank (largest and mean over the ranks), next to the estimate
 * the stage made before it allocated, when it made one. */
static void report_done(const pp_stage *s) {
    double mine = peak_rss_bytes(), mx = 0.0, sum = 0.0;
    MPI_Reduce(&mine, &mx, 1, MPI_DOUBLE, MPI_MAX, 0, s->comm);
    MPI_Reduce(&mine, &sum, 1, MPI_DOUBLE, MPI_SUM, 0, s->comm);
    char est[96] = "";
    if (s->mem.estimate > 0) snprintf(est, sizeof est, "; estimated %.1f MiB", s->mem.estimate / 1048576.0);
    if (s->rank == 0)
        pp_info(&s->log, "done in %.1f s; peak memory per rank %.1f MiB (largest of %d; mean %.1f MiB%s)",
                pp_now() - s->t_start, mx / 1048576.0, s->size, sum / s->size / 1048576.0, est);
}

int pp_stage_end(pp_stage *s, pp_status st) {
    st = pp_agree(s->comm, st, &s->err);
    if (st == PP_OK && !s->no_done_line && !(s->cli && (s->cli->help_requested || s->cli->version_requested))) report_done(s);
    int code = 0;
    if (st != PP_OK) {
        s->err.status = st;
        if (s->rank == 0) code = pp_report_error(s->prog, &s->err);
        else code = (int)st;
    }
    if (s->rank == 0) write_exit_status(code);
    if (s->cli) pp_cli_free(s->cli);
    if (s->before_finalize) s->before_finalize();
    MPI_Finalize();
    return code;
}

