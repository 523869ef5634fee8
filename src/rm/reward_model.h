/* reward_model.h - the scoring reward model of pp-rm (the paper's pointwise
 * baseline): a Bradley–Terry head on frozen features of a language model.
 *
 * Reward r(x, y) = w . phi(x, y), where phi is read off the frozen model's
 * final hidden state (after the last RMSNorm, the vector the lm_head sees)
 * for the sequence prompt x + response y:
 *   last   the hidden state at the last token of prompt + response
 *          (usually the EOS that ended the response);
 *   mean   the mean of the hidden states over the response tokens (the
 *          last prompt token's state when the response is empty).
 * Sequences longer than the model's context are cut to their first seq_len
 * tokens (the model never saw further; counted in rm_ws.truncated).
 * There is no bias: P(chosen > rejected) = sigma(r_c - r_r) only sees
 * differences, in which a bias cancels, so scores are meaningful only
 * relative to each other (same prompt or not).
 *
 * Fitting (rm_fit, the body of pp-rm): the pairs are cut into groups of
 * RM_GROUP_PAIRS consecutive pairs, the groups split evenly and
 * contiguously over the ranks; each rank computes x_i = phi(chosen_i) -
 * phi(rejected_i) for its pairs and bt_fit (bt_fit.h: Newton/IRLS, system
 * assembled and solved with ScaLAPACK) fits w.  A group is the unit of the
 * forward passes, so a pair's features are computed in exactly the same
 * batches whatever the rank count, and the weights of 1, 2 or 4 ranks
 * differ only by bt_fit's summation order (~1e-15 relative).
 *
 * Scoring (pp-rank --method score --judge rm):
 *     reward_model rm; model m; rm_ws ws;
 *     rm_load(&rm, "RM.h5", &err);
 *     model_load(rm.model_path, &m, &err);   // or the model the user names
 *     rm_check_model(&rm, &m, &err);          // refuses another model
 *     rm_ws_alloc(&ws, &m, 0, &err);
 *     rm_score_batch(&rm, &m, &ws, k, prompts, prompt_lens, resps, resp_lens, scores, &err);
 *     rm_ws_free(&ws); model_free(&m); rm_free(&rm);
 * A sequence's features depend only on its own tokens, to the bit: the
 * forward passes run through the scorer (score.h), whose rows are
 * batch-invariant, so a score is the same whatever the call, its batch or
 * the rank that computes it. */
#ifndef REWARD_MODEL_H
#define REWARD_MODEL_H

#include <mpi.h>
#include <stdint.h>

#include "model/model.h"
#include "model/score.h"
#include "core/pp_error.h"
#include "io/pairs.h"
#include "io/pp_h5.h"
#include "core/pp_log.h"

#define RM_SCHEMA_VERSION 1
#define RM_GROUP_PAIRS 16        /* pairs per forward-pass group (fit) */
#define RM_DEFAULT_BATCH_TOKENS 1024
#define RM_MAX_HELDOUT 16

typedef enum { RM_FEATURES_LAST = 0, RM_FEATURES_MEAN = 1 } rm_feature_kind;

/* "last" / "mean" */
const char *rm_feature_name(rm_feature_kind k);
PP_MUST_CHECK pp_status rm_feature_parse(const char *name, rm_feature_kind *k, pp_err *err);

/* A fitted reward model (what rm_load reads). */
typedef struct {
    int d;                        /* = dim of the feature model */
    double *w;                    /* [d] */
    rm_feature_kind features;
    double lambda;
    char model_fingerprint[64];   /* of the feature model */
    char model_path[PP_PATH_MAX]; /* the feature model as given to pp-rm */
    char tokenizer[16];           /* byte | llama2c */
    int vocab_size;
    int64_t n_pairs;              /* training pairs */
    int iterations, converged;
    double loss, train_accuracy;
} reward_model;

/* Workspace of the feature forward passes: a scorer (score.h: the
 * inference pass, hidden rows only, no logits) plus the packing buffers.
 * The scorer packs the model's weights at rm_ws_alloc: the model must not
 * change while the workspace is used. */
typedef struct {
    scorer sc;
    int max_tokens;   /* tokens per forward pass */
    int d;
    int *lens;        /* [max_tokens] sequence lengths of one pass */
    int *tokens;      /* [max_tokens] */
    float *hidden;    /* [max_tokens][d] final hidden rows of one pass */
    int *resp_start;  /* [max_tokens] first response position of each sequence */
    double *phi;      /* [max_tokens][d] features of one pass */
    int64_t truncated; /* sequences cut at seq_len since rm_ws_alloc */
} rm_ws;

/* max_tokens: tokens per forward pass, at least the model's seq_len
 * (0 -> max(RM_DEFAULT_BATCH_TOKENS, seq_len)). */
PP_MUST_CHECK pp_status rm_ws_alloc(rm_ws *ws, const model *m, int max_tokens, pp_err *err);
/* The same with the scorer's packed weights held once per node when share
 * (scorer_init_shared over comm: collective; rm_ws_free then is too). */
PP_MUST_CHECK pp_status rm_ws_alloc_shared(rm_ws *ws, const model *m, int max_tokens, int share, MPI_Comm comm,
                                           pp_err *err);
void rm_ws_free(rm_ws *ws);

/* Features of n sequences prompt[i] + resp[i] into phi[n][d] (row-major,
 * double).  prompt_len[i] >= 1 (BOS included), resp_len[i] >= 0.  Token
 * ids must be below the model's vocabulary. */
PP_MUST_CHECK pp_status rm_features(const model *m, rm_ws *ws, rm_feature_kind kind, int n, const int32_t *const *prompt,
                      const int64_t *prompt_len, const int32_t *const *resp, const int64_t *resp_len,
                      double *phi, pp_err *err);

/* ---- using a fitted reward model ---- */

/* Read an RM file (schema reward_model): weights checked for size and
 * finiteness.  On error *rm is left empty. */
PP_MUST_CHECK pp_status rm_load(reward_model *rm, const char *path, pp_err *err);
void rm_free(reward_model *rm);
/* PP_EINPUT unless m is the RM's feature model (same fingerprint, dim and
 * vocabulary): features of another model mean nothing to these weights. */
PP_MUST_CHECK pp_status rm_check_model(const reward_model *rm, const model *m, pp_err *err);
/* scores[i] = w . phi(prompt[i] + resp[i]) for n sequences (any n >= 0;
 * packed into forward passes of ws->max_tokens tokens).  Call
 * rm_check_model once before. */
PP_MUST_CHECK pp_status rm_score_batch(const reward_model *rm, const model *m, rm_ws *ws, int n, const int32_t *const *prompt,
                         const int64_t *prompt_len, const int32_t *const *resp, const int64_t *resp_len,
                         double *scores, pp_err *err);

/* ---- fitting (pp-rm) ---- */

/* A pairs file for training on model m (model_path: as the user named it,
 * for messages): loaded, its candidates generated by m (fingerprint),
 * its tokenizer and vocabulary m's, at least one pair.  pp-rm's kinds all
 * read their pairs through it. */
PP_MUST_CHECK pp_status rm_load_pairs(const char *path, const model *m, const char *model_path, pairs_set *s,
                                      pp_err *err);

typedef struct {
    const char *pairs_path;
    const char *model_path;
    const char *out_path;
    const char *const *heldout_paths; /* evaluated, not fitted */
    int n_heldout;                    /* <= RM_MAX_HELDOUT */
    rm_feature_kind features;
    double lambda;                    /* L2 weight, >= 0 */
    int max_iter;                     /* Newton systems; 0 -> bt_fit's default */
    int batch_tokens;                 /* 0 -> default (rm_ws_alloc) */
    MPI_Comm comm;
    const pp_log *log;                /* progress and results (rank 0) */
    const char *program, *arguments;  /* provenance */
} rm_fit_config;

typedef struct {
    int d;
    int64_t n_pairs;
    int iterations, converged;
    char stop_reason[16];
    double loss, grad_norm, train_accuracy;
    int n_heldout;
    int64_t heldout_pairs[RM_MAX_HELDOUT];
    double heldout_accuracy[RM_MAX_HELDOUT];
    double feature_seconds, fit_seconds;
    int blacs_used; /* 1 once BLACS was started: call Cblacs_exit(1) before MPI_Finalize */
} rm_fit_report;

/* Load the model and pairs, check that the pairs came from this model,
 * compute features, fit, evaluate, write out_path (atomically).  Collective
 * over c->comm; every rank returns the same status and message. */
PP_MUST_CHECK pp_status rm_fit(const rm_fit_config *c, rm_fit_report *rep, pp_err *err);

#endif
