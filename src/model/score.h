/* score.h - scoring given sequences through the inference pass: the
 * log-prob of their tokens and, optionally, their final hidden states.
 *
 * A scorer batches the rows of many sequences of different lengths into
 * infer_rows_hidden calls of up to max_rows rows: sequences take cache
 * slots in order, each call feeds every slot's next tokens (a sequence's
 * rows may span calls), a finished sequence's slot goes to the next one.
 * Nothing of a sequence is kept after it is done: no activations, no
 * logits beyond one call's scored rows, no B x T x V tensor.
 *
 * The arithmetic is the training forward's (kernels.h): a token's log-prob
 * and hidden row have the bits model_forward_logps gives it, in any batch,
 * with any max_rows or slot count.  So DPO's reference log-probs from here
 * equal the policy's at step 1 exactly (the loss is exactly ln 2). */
#ifndef SCORE_H
#define SCORE_H

#include "model/infer.h"
#include "model/model_train.h"

typedef struct {
    infer_state inf;  /* the cache and packed weights (made at init) */
    int max_rows;     /* rows per infer_rows call */
    int *row_slot, *row_token, *row_seq, *row_pos; /* [max_rows] this call's rows */
    int *out_rows;    /* [max_rows] rows whose next token is scored */
    int *slot_seq;    /* [slots] sequence in each slot, -1 when free */
    int *fed;         /* [slots] tokens of that sequence fed so far */
    double *slot_sum; /* [slots] its log-prob so far */
    int *slot_count;  /* [slots] its scored tokens so far */
    float *logits;    /* [max_rows][vocab] */
    float *hidden;    /* [max_rows][dim] */
} scorer;

/* A scorer for sequences of up to max_len tokens (<= seq_len; <= 0: the
 * model's seq_len), with up to max_rows rows per call (<= 0: 256) and as
 * many cache slots (2 x layers x max_len x kv width floats each) as fit in
 * cache_bytes (0: 256 MB), at least 1 and at most max_rows.  Packs the weights: m must not change while the
 * scorer is used (make a new one). */
PP_MUST_CHECK pp_status scorer_init(scorer *sc, const model *m, int max_len, int max_rows, size_t cache_bytes,
                                    pp_err *err);
/* The same with the packed weights held once per node when share
 * (infer_init_shared over comm: collective, and scorer_free then is too);
 * the same bits either way. */
PP_MUST_CHECK pp_status scorer_init_shared(scorer *sc, const model *m, int max_len, int max_rows, size_t cache_bytes,
                                           int share, MPI_Comm comm, pp_err *err);
void scorer_free(scorer *sc);
/* Bytes the scorer allocated. */
size_t scorer_memory_bytes(const scorer *sc);
/* What scorer_init (node_ranks 1) or scorer_init_shared with share (the
 * ranks on the node) would allocate for config c: a memory estimate. */
double scorer_estimate_bytes(const model_config *c, int max_len, int max_rows, size_t cache_bytes, int node_ranks);

/* Score a batch laid out as for model_forward_logps (train_batch: back to
 * back, target_mask NULL = every token but the first).  logp_out[s]: the
 * float of the double sum, in token order, of the float log-probs of
 * sequence s's scored tokens; ntok_out[s]: their number; hidden_out (may be
 * NULL): [sum lens][dim] every row's hidden state after the final RMSNorm.
 * Any output may be NULL; with logp_out and ntok_out NULL no logits are
 * computed.  The same checks as model_forward_logps, plus a sequence
 * longer than max_len is an error. */
PP_MUST_CHECK pp_status scorer_run(scorer *sc, const train_batch *b, float *logp_out, int *ntok_out,
                                   float *hidden_out, pp_err *err);

#endif
