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

#endif
