/* pp_stage.c - program start/end shared by every stage (pp_stage.h). */
#include "pp_stage.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pp_h5.h"
#include "scalapack.h"

/* The one piece of process-wide mutable state: a signal can only tell the
 * program something through a flag like this. */
static volatile sig_atomic_t stop_signal_seen;

static void on_stop_signal(int sig) { stop_signal_seen = sig; }

void pp_install_stop_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* a dead judge process must show up as EPIPE, not kill us */
    signal(SIGPIPE, SIG_IGN);
}

int pp_stop_requested(void) { return stop_signal_seen != 0; }

int pp_stop_agreed(MPI_Comm comm) {
    int mine = stop_signal_seen != 0, any = 0;
    MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, comm);
    return any;
}

pp_status pp_agree(MPI_Comm comm, pp_status st, pp_err *err) {
    int size;
    MPI_Comm_size(comm, &size);
    if (size == 1) return st;
    int rank;
    MPI_Comm_rank(comm, &rank);
    int mine = (int)st, worst = 0;
    MPI_Allreduce(&mine, &worst, 1, MPI_INT, MPI_MAX, comm);
    if (worst == PP_OK) return PP_OK;
    int who = st != PP_OK ? rank : size, first = 0;
    MPI_Allreduce(&who, &first, 1, MPI_INT, MPI_MIN, comm);
    char msg[sizeof err->msg];
    if (rank == first) memcpy(msg, err->msg, sizeof msg);
    MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, first, comm);
    memcpy(err->msg, msg, sizeof msg);
    err->status = (pp_status)worst;
    return (pp_status)worst;
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
    if (s->blacs_started) Cblacs_exit(1); /* 1: leave MPI to us */
    MPI_Finalize();
    return code;
}

pp_status pp_dir_lock_take(pp_dir_lock *l, const char *dir, const char *out, pp_err *err) {
    l->fd = -1;
    snprintf(l->path, sizeof l->path, "%s/" PP_DIR_LOCK_NAME, dir);
    /* the file may be removed (with DIR) by a run that just finished: the
     * lock counts only while the path still names the locked file */
    for (int tries = 0; tries < 3; tries++) {
        int fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0) return pp_fail(err, PP_EINPUT, "%s: cannot create the lock file: %s", l->path, strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            char pid[32] = "";
            ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
            pid[n > 0 ? n : 0] = '\0';
            pid[strcspn(pid, "\n")] = '\0';
            close(fd);
            if (e == EWOULDBLOCK)
                return pp_fail(err, PP_EINPUT, "another run is writing %s (pid %s; lock %s): wait for it to end or stop it",
                               out, pid[0] ? pid : "unknown", l->path);
            return pp_fail(err, PP_ESYS, "%s: cannot lock: %s", l->path, strerror(e));
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(l->path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            char buf[32];
            int len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
            if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)len, 0) != len) { /* the pid is for messages only */
            }
            l->fd = fd;
            return PP_OK;
        }
        close(fd);
    }
    return pp_fail(err, PP_ESYS, "%s: the lock file keeps disappearing", l->path);
}

void pp_dir_unlock(pp_dir_lock *l) {
    if (l->fd >= 0) close(l->fd);
    l->fd = -1;
}
