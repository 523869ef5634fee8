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

int pp_ranks_on_node(MPI_Comm comm) {
    MPI_Comm node;
    int on_node = 1;
    if (pp_node_comm(comm, &node) == MPI_SUCCESS) {
        MPI_Comm_size(node, &on_node);
        MPI_Comm_free(&node);
    }
    return on_node;
}

pp_status pp_node_shared_alloc(pp_node_shared *s, MPI_Comm comm, size_t bytes, pp_err *err) {
    memset(s, 0, sizeof *s);
    s->bytes = bytes;
    if (pp_node_comm(comm, &s->node) != MPI_SUCCESS) return pp_fail(err, PP_ESYS, "cannot split the ranks by node");
    s->have_node = 1;
    MPI_Comm_rank(s->node, &s->node_rank);
    MPI_Comm_size(s->node, &s->node_size);
    s->owner = s->node_rank == 0;
    void *mine = NULL;
    int rc = MPI_Win_allocate_shared(s->owner ? (MPI_Aint)bytes : 0, 1, MPI_INFO_NULL, s->node, &mine, &s->win);
    s->have_win = rc == MPI_SUCCESS;
    int all = 0;
    MPI_Allreduce(&s->have_win, &all, 1, MPI_INT, MPI_MIN, comm);
    if (!all) {
        pp_node_shared_free(s);
        return pp_fail(err, PP_ESYS, "cannot allocate %.1f MB of node-shared memory (MPI_Win_allocate_shared)",
                       (double)bytes / 1e6);
    }
    MPI_Aint size = 0;
    int disp = 0;
    MPI_Win_shared_query(s->win, 0, &size, &disp, &s->base);
    return PP_OK;
}

void pp_node_shared_sync(pp_node_shared *s) {
    if (!s->have_win) return;
    MPI_Win_lock_all(MPI_MODE_NOCHECK, s->win);
    MPI_Win_sync(s->win); /* memory barrier: the owner's stores, then everyone's loads */
    MPI_Barrier(s->node);
    MPI_Win_sync(s->win);
    MPI_Win_unlock_all(s->win);
}

void pp_node_shared_free(pp_node_shared *s) {
    if (s->have_win) MPI_Win_free(&s->win);
    if (s->have_node) MPI_Comm_free(&s->node);
    memset(s, 0, sizeof *s);
}
