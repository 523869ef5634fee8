/* pp_gather.c - strings from every rank to rank 0 (pp_gather.h).
 *
 * Sizes travel as 64-bit counts; the bytes go point to point in pieces of
 * at most 1 GiB, since MPI counts are int.  Rank 0 allocates one block
 * (pointers, then the NUL-separated bytes) and tells every rank whether it
 * could before any byte moves, so an allocation failure anywhere is one
 * agreed error, never a hang. */
#include "core/pp_gather.h"

#include <stdlib.h>
#include <string.h>

#include "core/pp_mpi.h"

#define PIECE ((int64_t)1 << 30)

pp_status pp_gather_strings(MPI_Comm comm, int64_t n_local, const char *const *local, char ***all,
                            int64_t *n_all, pp_err *err) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    *all = NULL;
    *n_all = 0;

    /* this rank's strings, NUL-separated (NULL list or entry: "") */
    int64_t bytes = 0;
    for (int64_t i = 0; i < n_local; i++) bytes += (int64_t)strlen(local && local[i] ? local[i] : "") + 1;
    char *mine = malloc((size_t)(bytes > 0 ? bytes : 1));
    if (mine) {
        char *p = mine;
        for (int64_t i = 0; i < n_local; i++) {
            const char *s = local && local[i] ? local[i] : "";
            size_t l = strlen(s) + 1;
            memcpy(p, s, l);
            p += l;
        }
    }

    /* rank 0 learns every rank's count and bytes, and allocates the block */
    int64_t sizes[2] = {mine ? n_local : -1, bytes}, dummy[2];
    int64_t *every = rank == 0 ? malloc((size_t)size * sizeof sizes) : NULL;
    MPI_Gather(sizes, 2, MPI_INT64_T, every ? every : dummy, 2, MPI_INT64_T, 0, comm);
    int go = 1;
    int64_t n_total = 0, b_total = 0;
    char **out = NULL;
    if (rank == 0) {
        if (!every) go = 0;
        for (int r = 0; go && r < size; r++) {
            if (every[2 * r] < 0) go = 0;
            n_total += every[2 * r];
            b_total += every[2 * r + 1];
        }
        if (go) {
            out = malloc((size_t)(n_total > 0 ? n_total : 1) * sizeof *out + (size_t)b_total + 1);
            if (!out) go = 0;
        }
    }
    MPI_Bcast(&go, 1, MPI_INT, 0, comm);

    if (go && rank == 0) {
        char *text = (char *)(out + (n_total > 0 ? n_total : 1));
        memcpy(text, mine, (size_t)bytes);
        int64_t at = bytes;
        for (int r = 1; r < size; r++) {
            for (int64_t off = 0; off < every[2 * r + 1]; off += PIECE) {
                int64_t m = every[2 * r + 1] - off < PIECE ? every[2 * r + 1] - off : PIECE;
                MPI_Recv(text + at + off, (int)m, MPI_BYTE, r, 0, comm, MPI_STATUS_IGNORE);
            }
            at += every[2 * r + 1];
        }
        size_t p = 0;
        for (int64_t i = 0; i < n_total; i++) {
            out[i] = text + p;
            p += strlen(text + p) + 1;
        }
        *all = out;
        *n_all = n_total;
    } else if (go) {
        for (int64_t off = 0; off < bytes; off += PIECE) {
            int64_t m = bytes - off < PIECE ? bytes - off : PIECE;
            MPI_Send(mine + off, (int)m, MPI_BYTE, 0, 0, comm);
        }
    }
    pp_status st = go ? PP_OK
                      : pp_fail(err, PP_ESYS, "out of memory gathering %lld bytes of text to rank 0",
                                (long long)(rank == 0 ? b_total : bytes));
    free(every);
    free(mine);
    return pp_agree(comm, st, err);
}
