/* pp_memory.h - the one memory mechanism of every stage: an estimate of
 * the peak memory per rank made from the configuration BEFORE anything
 * large is allocated, printed with its parts, a refusal in one line when it
 * exceeds the limit (--max-memory; default: what the machine has, the
 * node's MemAvailable shared by the ranks on the node), and the estimate
 * kept so the stage's summary prints it next to the measured peak
 * (pp_stage_end).
 *
 *   pp_memory_part parts[] = {{"weights", 4.0 * n}, {"gradients", 4.0 * n}};
 *   st = pp_memory_check(mem, max_memory_text, parts, 2, comm, log, err);
 */
#ifndef PP_MEMORY_H
#define PP_MEMORY_H

#include <mpi.h>

#include "core/pp_error.h"
#include "core/pp_log.h"

typedef struct {
    double limit;    /* bytes per rank the run was allowed (set by pp_memory_check) */
    double estimate; /* bytes per rank estimated before allocating; 0: no estimate */
} pp_memory;

typedef struct {
    const char *name;
    double bytes;
} pp_memory_part;

/* What a stage holds besides its data (libraries, MPI, HDF5 caches): the
 * "runtime" part of every estimate (measured: about 25-30 MiB per rank). */
#define PP_MEMORY_RUNTIME_BYTES (32.0 * 1048576.0)

/* The --max-memory option's help, the same in every stage. */
#define PP_MAX_MEMORY_HELP                                                                                              \
    "refuse to start when the estimated memory per rank exceeds SIZE (e.g. 8G; default: the node's available "      \
    "memory shared by its ranks)"

/* "24G", "512M", "1.5T", "800K" (binary units) or a plain number of
 * bytes; what names the option in the error line. */
PP_MUST_CHECK pp_status pp_memory_parse(const char *text, const char *what, double *bytes, pp_err *err);

/* MemAvailable of /proc/meminfo divided by the ranks of comm on this node
 * (MPI_Comm_split_type, MPI_COMM_TYPE_SHARED); 0 when unknown.  Collective. */
double pp_memory_default_limit(MPI_Comm comm);

/* Sum the parts (bytes per rank), record the estimate in mem (may be NULL),
 * print it on rank 0 and refuse with one line (PP_EINPUT) when it exceeds
 * max_memory (NULL or "": pp_memory_default_limit).  Collective: every
 * rank passes its own parts, the largest rank decides. */
PP_MUST_CHECK pp_status pp_memory_check(pp_memory *mem, const char *max_memory, const pp_memory_part *parts, int n_parts,
                                        MPI_Comm comm, const pp_log *log, pp_err *err);

/* Human-readable size: "1.23 GiB", "45.6 MiB" (buf of 32). */
const char *pp_memory_str(double bytes, char buf[32]);

#endif
