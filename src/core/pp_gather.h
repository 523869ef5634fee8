/* pp_gather.h - gather variable-length strings from all ranks to rank 0
 * (texts are written by rank 0 in the serial phase of a pp_h5 file). */
#ifndef PP_GATHER_H
#define PP_GATHER_H

#include <mpi.h>
#include <stdint.h>

#include "core/pp_error.h"

/* Rank r contributes n_local strings; on root, *all (one malloc block:
 * free(*all) frees everything) holds the strings of rank 0, then rank 1, ...
 * and *n_all their count.  Collective; other ranks get *all = NULL. */
PP_MUST_CHECK pp_status pp_gather_strings(MPI_Comm comm, int64_t n_local, const char *const *local, char ***all,
                            int64_t *n_all, pp_err *err);

#endif
