/* step_batch.c - micro-batch workspace and epoch order (step_batch.h). */
#include "train/step_batch.h"

#include <stdlib.h>
#include <string.h>

#include "core/pp_rng.h"

pp_status step_batch_alloc(step_batch *b, const model_config *cfg, int64_t n_items, int global_batch,
                            int max_seqs, int max_tokens, int recompute, uint64_t seed, uint64_t stream, pp_err *err) {
    memset(b, 0, sizeof *b);
    b->n_items = n_items;
    b->global_batch = global_batch;
    b->seed = seed;
    b->stream = stream;
    b->perm_epoch = -1;
    PP_TRY(train_ws_alloc_mode(&b->ws, cfg, max_tokens, recompute, err));
    b->idx = malloc((size_t)global_batch * sizeof *b->idx);
    b->mb_lens = malloc((size_t)max_seqs * sizeof *b->mb_lens);
    b->mb_tokens = malloc((size_t)max_tokens * sizeof *b->mb_tokens);
    b->mb_mask = malloc((size_t)max_tokens);
    b->logp = malloc((size_t)max_seqs * sizeof *b->logp);
    b->dlogp = malloc((size_t)max_seqs * sizeof *b->dlogp);
    b->ntok = malloc((size_t)max_seqs * sizeof *b->ntok);
    b->perm = malloc((size_t)(n_items > 0 ? n_items : 1) * sizeof *b->perm);
    if (!b->idx || !b->mb_lens || !b->mb_tokens || !b->mb_mask || !b->logp || !b->dlogp || !b->ntok || !b->perm) {
        step_batch_free(b);
        return pp_fail(err, PP_ESYS, "out of memory for the training workspace (%d sequences, %d tokens)", max_seqs,
                       max_tokens);
    }
    return PP_OK;
}

void step_batch_free(step_batch *b) {
    train_ws_free(&b->ws);
    free(b->idx);
    free(b->mb_lens);
    free(b->mb_tokens);
    free(b->mb_mask);
    free(b->logp);
    free(b->dlogp);
    free(b->ntok);
    free(b->perm);
    memset(b, 0, sizeof *b);
}

int64_t step_batch_item(step_batch *b, int64_t step, int j) {
    int64_t n = b->n_items;
    int64_t slot = step * b->global_batch + j;
    int64_t epoch = slot / n;
    if (epoch != b->perm_epoch) {
        pp_rng_permutation(b->seed, (uint64_t)epoch, b->stream, n, b->perm);
        b->perm_epoch = epoch;
    }
    return b->perm[slot % n];
}
