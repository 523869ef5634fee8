/* test_shared_weights.c - run under mpirun (tests/integration/memory.sh):
 * inference with the packed weights held once per node
 * (infer_init_shared) gives the same logits, bit for bit, as each rank's
 * own packed copy (infer_init_rows), on every rank - including the ranks
 * that never packed anything and only read the node's window - and counts
 * the shared copy once per node in its memory.  Given a model file
 * (test_shared_weights [M.h5]), model_load_shared holds its parameters in
 * a node window (when the node has several ranks) with the same floats and
 * fingerprint as model_load's private copy, and inference on it gives the
 * same logits.  Prints "ok NAME" / "FAIL NAME: why" lines and a last line
 * "test_shared_weights: N ranks, F failed". */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/infer.h"
#include "model/model.h"
#include "model/model_io.h"

/* model_load_shared against model_load on the file at path. */
static int check_load_shared(const char *path, int rank) {
    model own, shared;
    pp_err err;
    int failed = 0, on_node = pp_ranks_on_node(MPI_COMM_WORLD);
    if (model_load(path, &own, &err) != PP_OK) {
        printf("FAIL load_private_rank%d: %s\n", rank, err.msg);
        return 1;
    }
    if (model_load_shared(path, &shared, MPI_COMM_WORLD, &err) != PP_OK) {
        printf("FAIL load_shared_rank%d: %s\n", rank, err.msg);
        model_free(&own);
        return 1;
    }
    int same = own.n_params == shared.n_params && own.fingerprint == shared.fingerprint &&
               memcmp(own.params, shared.params, own.n_params * sizeof(float)) == 0;
    if (same) printf("ok load_shared_same_params_rank%d\n", rank);
    else printf("FAIL load_shared_same_params_rank%d: parameters or fingerprint differ\n", rank), failed++;
    int in_window = shared.params_node.have_win && shared.params == (float *)shared.params_node.base;
    if (on_node > 1 ? in_window : !in_window) printf("ok load_shared_one_copy_per_node_rank%d\n", rank);
    else printf("FAIL load_shared_one_copy_per_node_rank%d: window %d, %d ranks on the node\n", rank,
                shared.params_node.have_win, on_node), failed++;
    infer_state a = {0}, b = {0};
    int V = own.cfg.vocab_size, tokens[4] = {1, 5 % V, 9 % V, 3 % V};
    float *la = malloc(sizeof(float) * V), *lb = malloc(sizeof(float) * V);
    if (la && lb && infer_init(&a, &own, 1, 8, &err) == PP_OK && infer_init(&b, &shared, 1, 8, &err) == PP_OK &&
        infer_prefill(&a, 0, tokens, 4, la, &err) == PP_OK && infer_prefill(&b, 0, tokens, 4, lb, &err) == PP_OK &&
        memcmp(la, lb, sizeof(float) * V) == 0)
        printf("ok load_shared_same_logits_rank%d\n", rank);
    else printf("FAIL load_shared_same_logits_rank%d: %s\n", rank, err.msg), failed++;
    infer_free(&a);
    infer_free(&b);
    free(la);
    free(lb);
    model_free(&shared); /* collective on the node */
    model_free(&own);
    return failed;
}

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
    if (argc > 1) failed += check_load_shared(argv[1], rank);
    int total = 0;
    MPI_Allreduce(&failed, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) printf("test_shared_weights: %d ranks, %d failed\n", size, total);
    MPI_Finalize();
    return total ? 1 : 0;
}
