/* pp_stage.c - program start/end shared by every stage (pp_stage.h). */
#include "stage/pp_stage.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/pp_h5.h"

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
    if (st == PP_OK && cli->help_requested) {
        if (s->rank == 0) pp_cli_help(cli);
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

int pp_stage_end(pp_stage *s, pp_status st) {
    st = pp_agree(s->comm, st, &s->err);
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

