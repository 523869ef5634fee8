/* pp_mpi.c - agreement over ranks and stop requests (pp_mpi.h). */
#include "core/pp_mpi.h"

#include <signal.h>
#include <string.h>

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

int pp_node_comm(MPI_Comm comm, MPI_Comm *node) {
    return MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, node);
}
