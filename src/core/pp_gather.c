/* pp_gather.c - strings from every rank to rank 0 (pp_gather.h). */
#include "core/pp_gather.h"

#include <stdlib.h>
#include <string.h>

#include "core/pp_mpi.h"

pp_status pp_gather_strings(MPI_Comm comm, int64_t n_local, const char *const *local, char ***all,
                            int64_t *n_all, pp_err *err) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    *all = NULL;
    *n_all = 0;
    /* pack local strings NUL-separated */
    size_t bytes = 0;
    for (int64_t i = 0; i < n_local; i++) bytes += strlen(local[i] ? local[i] : "") + 1;
    pp_status st = bytes > (size_t)1 << 30 ? pp_fail(err, PP_EINPUT, "texts of one rank exceed 1 GiB") : PP_OK;
    char *buf = malloc(bytes + 1);
    if (st == PP_OK && !buf) st = pp_fail(err, PP_ESYS, "out of memory gathering texts");
    st = pp_agree(comm, st, err);
    if (st != PP_OK) {
        free(buf);
        return st;
    }
    size_t pos = 0;
    for (int64_t i = 0; i < n_local; i++) {
        const char *s = local[i] ? local[i] : "";
        size_t l = strlen(s) + 1;
        memcpy(buf + pos, s, l);
        pos += l;
    }
    int mine[2] = {(int)bytes, (int)n_local};
    int *counts = rank == 0 ? malloc((size_t)size * 2 * sizeof(int)) : NULL;
    MPI_Gather(mine, 2, MPI_INT, counts, 2, MPI_INT, 0, comm);
    int *rc = NULL, *displ = NULL;
    char *joined = NULL;
    int64_t total_bytes = 0, total_n = 0;
    if (rank == 0) {
        rc = malloc((size_t)size * sizeof(int));
        displ = malloc((size_t)size * sizeof(int));
        for (int r = 0; r < size; r++) {
            rc[r] = counts[2 * r];
            displ[r] = (int)total_bytes;
            total_bytes += counts[2 * r];
            total_n += counts[2 * r + 1];
        }
        joined = malloc((size_t)total_bytes + 1);
    }
    MPI_Gatherv(buf, (int)bytes, MPI_CHAR, joined, rc, displ, MPI_CHAR, 0, comm);
    free(buf);
    if (rank == 0) {
        /* one block: pointers then bytes */
        char **out = malloc((size_t)(total_n > 0 ? total_n : 1) * sizeof(char *) + (size_t)total_bytes + 1);
        if (out) {
            char *text = (char *)(out + (total_n > 0 ? total_n : 1));
            memcpy(text, joined, (size_t)total_bytes);
            size_t p = 0;
            for (int64_t i = 0; i < total_n; i++) {
                out[i] = text + p;
                p += strlen(text + p) + 1;
            }
            *all = out;
            *n_all = total_n;
        } else st = pp_fail(err, PP_ESYS, "out of memory gathering texts");
    }
    free(joined);
    free(rc);
    free(displ);
    free(counts);
    return pp_agree(comm, st, err);
}
