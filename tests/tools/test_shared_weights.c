/* test_shared_weights.c - run under mpirun (tests/integration/memory.sh):
 * inference with the packed weights held once per node
 * (infer_init_shared) gives the same logits, bit for bit, as each rank's
 * own packed copy (infer_init_rows), on every rank - including the ranks
 * that never packed anything and only read the node's window - and counts
 * the shared copy once per node in its memory.  Prints "ok NAME" / "FAIL
 * NAME: why" lines and a last line "test_shared_weights: N ranks, F failed". */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/infer.h"
#include "model/model.h"

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size, failed = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    model_config c = {.dim = 64, .hidden_dim = 160, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .vocab_size = 97,
                      .seq_len = 32, .tied_embeddings = 0, .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    model m;
    pp_err err;
    if (model_alloc(&m, &c, &err) != PP_OK) return 2;
    model_init_random(&m, 77);
    infer_state own, shared;
    if (infer_init_rows(&own, &m, 1, 0, 0, &err) != PP_OK) return 2;
    pp_status st = infer_init_shared(&shared, &m, 1, 0, 0, MPI_COMM_WORLD, &err);
    if (st != PP_OK) {
        printf("FAIL shared_init: %s\n", err.msg);
        failed++;
    }
    int tokens[12] = {1, 5, 9, 33, 2, 71, 8, 8, 40, 13, 96, 0};
    float *a = malloc(sizeof(float) * 97), *b = malloc(sizeof(float) * 97);
    if (st == PP_OK) {
        pp_status s1 = infer_prefill(&own, 0, tokens, 12, a, &err);
        pp_status s2 = infer_prefill(&shared, 0, tokens, 12, b, &err);
        int same = s1 == PP_OK && s2 == PP_OK && memcmp(a, b, sizeof(float) * 97) == 0;
        if (same) printf("ok shared_weights_same_logits_rank%d\n", rank);
        else printf("FAIL shared_weights_same_logits_rank%d: logits differ (%g vs %g)\n", rank, a[0], b[0]), failed++;
        int on_node = pp_ranks_on_node(MPI_COMM_WORLD);
        size_t mo = infer_memory_bytes(&own), ms = infer_memory_bytes(&shared);
        if (on_node == 1 ? ms == mo : ms < mo) printf("ok shared_weights_counted_once_rank%d\n", rank);
        else printf("FAIL shared_weights_counted_once_rank%d: %zu vs %zu bytes, %d ranks on the node\n", rank, ms, mo, on_node), failed++;
        infer_free(&shared);
    }
    infer_free(&own);
    free(a);
    free(b);
    model_free(&m);
    int total = 0;
    MPI_Allreduce(&failed, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) printf("test_shared_weights: %d ranks, %d failed\n", size, total);
    MPI_Finalize();
    return total ? 1 : 0;
}
