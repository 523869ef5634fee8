/* step_batch.h - what a gradient function of trainer_run (sft.c, dpo.c)
 * needs on each rank besides the model: the engine's workspace for one
 * micro-batch, the buffers a micro-batch is assembled in, and the data
 * order of the current epoch.
 *
 * Data order: slot j of step s is item perm_e[(s * global_batch + j) mod n]
 * of epoch e = (s * global_batch + j) / n, perm_e a permutation keyed by
 * (seed, e, stream).  It depends on the step alone, so a resumed run sees
 * the same batches, whatever the rank count. */
#ifndef STEP_BATCH_H
#define STEP_BATCH_H

#include <stdint.h>

#include "model/model.h"
#include "model/model_train.h"
#include "core/pp_error.h"

typedef struct {
    train_ws ws;               /* activations of one micro-batch */
    int *idx;                  /* [global_batch] items of the current step */
    int *mb_lens, *mb_tokens;  /* [max_seqs], [max_tokens] the micro-batch's sequences */
    uint8_t *mb_mask;          /* [max_tokens] scored tokens */
    float *logp, *dlogp;       /* [max_seqs] summed log-probs and their gradients */
    int *ntok;                 /* [max_seqs] scored tokens per sequence */
    int64_t n_items;           /* items in the data set */
    int global_batch;
    uint64_t seed, stream;     /* data order */
    int64_t *perm, perm_epoch; /* [n_items] order of epoch perm_epoch */
} step_batch;

/* Room for micro-batches of at most max_seqs sequences and max_tokens
 * tokens of a model with config cfg, over a data set of n_items;
 * recompute 1: the workspace recomputes activations (train_ws_alloc_mode). */
PP_MUST_CHECK pp_status step_batch_alloc(step_batch *b, const model_config *cfg, int64_t n_items, int global_batch,
                            int max_seqs, int max_tokens, int recompute, uint64_t seed, uint64_t stream, pp_err *err);
void step_batch_free(step_batch *b);

/* The item in slot j (0 <= j < global_batch) of step `step` (0-based). */
int64_t step_batch_item(step_batch *b, int64_t step, int j);

#endif
