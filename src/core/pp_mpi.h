/* pp_mpi.h - what library code needs from MPI beyond plain calls: one
 * agreed status over all ranks, and stop requests from signals.  Library
 * modules include this, never the program-lifecycle header pp_stage.h. */
#ifndef PP_MPI_H
#define PP_MPI_H

#include <mpi.h>

#include "core/pp_error.h"

/* All ranks agree on a status: the worst wins and the message of the lowest
 * failing rank is copied to every rank.  Collective. */
PP_MUST_CHECK pp_status pp_agree(MPI_Comm comm, pp_status st, pp_err *err);

/* Stop requests (SIGTERM, SIGUSR1 from Slurm's --signal, SIGINT): the
 * handler only sets a flag; long loops poll pp_stop_requested() at safe
 * points (collectively: pp_stop_agreed) and save their state. */
void pp_install_stop_handlers(void);
int pp_stop_requested(void);
int pp_stop_agreed(MPI_Comm comm);

/* The ranks of comm that share this node's memory (MPI_Comm_split_type,
 * MPI_COMM_TYPE_SHARED); free it with MPI_Comm_free.  Collective. */
int pp_node_comm(MPI_Comm comm, MPI_Comm *node);
/* How many ranks of comm share this rank's node (1 when MPI cannot say).
 * Collective. */
int pp_ranks_on_node(MPI_Comm comm);

/* One buffer per node, seen by every rank of the node at `base`: an MPI-3
 * shared-memory window (MPI_Win_allocate_shared over pp_node_comm, all of
 * it allocated by the node's first rank).  What identical ranks would each
 * hold a copy of - read-only weights - is held once per node.  The node's
 * first rank (owner) fills it, then pp_node_shared_sync before anyone
 * reads. */
typedef struct {
    MPI_Win win;
    MPI_Comm node;        /* the ranks of this node */
    int have_win, have_node;
    int node_rank, node_size;
    int owner;            /* 1 on the node's first rank */
    void *base;
    size_t bytes;
} pp_node_shared;

/* Collective over comm.  PP_ESYS when the window cannot be had. */
PP_MUST_CHECK pp_status pp_node_shared_alloc(pp_node_shared *s, MPI_Comm comm, size_t bytes, pp_err *err);
/* Make the owner's writes visible to the node's ranks (collective on the node). */
void pp_node_shared_sync(pp_node_shared *s);
/* Collective on the node; a zeroed struct is a no-op. */
void pp_node_shared_free(pp_node_shared *s);

#endif
