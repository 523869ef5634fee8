/* dpo.h - preference training data, reference log-probs and the gradient
 * of the DPO family of losses (pref_loss.h) for trainer_run.
 *
 * A pair becomes two sequences, prompt + chosen and prompt + rejected,
 * scored on the response tokens only.  Truncation rule: the prompt is kept
 * whole and the response is cut at the end so the sequence fits max_len; a
 * pair whose prompt leaves no room for one response token is an error.
 *
 * Reference log-probs are computed once, spread over ranks, through the
 * scorer (model/score.h: the inference pass, bit-identical to the training
 * forward, so Δw = 0 exactly at the reference), and kept in a
 * `ref_logps` file tagged with the fingerprints of the reference model and
 * the pairs file; a later run with the same two reuses it, so the
 * reference model is never held during training. */
#ifndef DPO_H
#define DPO_H

#include <mpi.h>
#include <stdint.h>

#include "core/pp_options.h"
#include "model/model.h"
#include "model/model_train.h"
#include "io/pairs.h"
#include "core/pp_log.h"
#include "train/pref_loss.h"
#include "train/step_batch.h"
#include "train/trainer.h"

#define REF_LOGPS_SCHEMA_VERSION 1

typedef struct {
    int64_t n;                 /* pairs */
    int *len[2];               /* [n] sequence length: 0 chosen, 1 rejected */
    int *resp[2];              /* [n] response tokens kept */
    int64_t *start[2];         /* [n] offset into tokens[side] */
    int *tokens[2];            /* prompt + response, back to back */
    double *ref_logp[2];       /* [n] reference log-probs */
    int max_len;
    int64_t truncated;         /* pairs with a response cut */
} dpo_data;

PP_MUST_CHECK pp_status dpo_data_build(dpo_data *d, const pairs_set *p, int max_len, pp_err *err);
void dpo_data_free(dpo_data *d);

/* Log-probs of both responses of every pair under model m, spread over the
 * ranks of comm (every rank ends with all of them), through the scorer
 * (score.h): the training forward's arithmetic, so the values are those
 * dpo_grad's forward gives the same model, whatever the ranks or
 * micro_batch (which only sets the pairs per scorer call, at least 64). */
PP_MUST_CHECK pp_status dpo_compute_logps(dpo_data *d, const model *m, int micro_batch, MPI_Comm comm, double *out_chosen,
                            double *out_rejected, pp_err *err);

/* Fill d->ref_logp from the cache file when its fingerprints match (the
 * reference model's as loaded, the pairs file's), else compute them with the
 * reference model at ref_path and write the cache (atomically).  A matching
 * but damaged cache is recomputed with a warning on log.  *reused tells which. */
PP_MUST_CHECK pp_status dpo_reference_logps(dpo_data *d, const char *ref_path, const char *pairs_path, const char *cache_path,
                              int micro_batch, MPI_Comm comm, const pp_log *log, int *reused, pp_err *err);

enum {
    DPO_M_LOSS, DPO_M_REWARD_CHOSEN, DPO_M_REWARD_REJECTED, DPO_M_MARGIN, DPO_M_ACCURACY,
    DPO_M_LOGP_CHOSEN, DPO_M_LOGP_REJECTED, DPO_M_OVER_BUDGET, DPO_M_DELTA_CHOSEN, DPO_M_N
};
/* TRL's names (and ours for the last two), index = enum above. */
extern const char *const dpo_metric_names[DPO_M_N];

typedef struct {
    const dpo_data *data;
    pref_loss_opts loss;
    int global_batch, micro_batch;
    int rank, size;
    step_batch b;             /* workspace (both sides of micro_batch pairs) and data order */
} dpo_ctx;

PP_MUST_CHECK pp_status dpo_ctx_init(dpo_ctx *c, const dpo_data *d, const model_config *cfg, const pref_loss_opts *loss,
                       int global_batch, int micro_batch, int recompute, uint64_t seed, MPI_Comm comm, pp_err *err);
void dpo_ctx_free(dpo_ctx *c);
/* trainer_grad_fn: metrics in dpo_metric_names order, means over the batch. */
PP_MUST_CHECK pp_status dpo_grad(void *ctx, int64_t step, const model *m, float *grads, double *metrics, pp_err *err);

/* Held-out pairs: implicit-reward accuracy and mean margin of model m
 * (reference log-probs must be in d->ref_logp). Collective. */
PP_MUST_CHECK pp_status dpo_heldout_metrics(dpo_data *d, const model *m, const pref_loss_opts *loss, int micro_batch,
                              MPI_Comm comm, double *accuracy, double *margin, pp_err *err);

/* ---- pp-train's whole run ---- */

/* What pp-train is asked to do: its options, as on the command line. */
typedef struct {
    const char *policy, *pairs, *out;
    const char *ref;          /* reference model; NULL: the policy */
    const char *ref_cache;    /* NULL: OUT.ref.h5 */
    const char *heldout;      /* pairs for the closing accuracy, or NULL */
    const char *loss_name;    /* dpo|ipo|hinge|dpop|rpo|bcr */
    const char *bcr_form;     /* outside|inside|per-token|... */
    pref_loss_opts loss;      /* beta, weights, flags (kind and bcr_form come from the names) */
    double epochs;            /* used when steps is 0 */
    long long steps, seed;
    int batch, micro_batch, max_len; /* max_len 0: the model's context */
    trainer_cli opt;
    pp_memory *mem;           /* the stage's memory record (pp_stage.mem), may be NULL */
    pp_cli *cli;              /* the options' table: its effective arguments go to the
                                 provenance and the run key, taken after dpo_run has
                                 filled in the defaults it resolves (ref, ref_cache,
                                 steps), so the output says what was used */
} dpo_run_options;

/* pp-train: check the options, load the policy and pairs, compute or reuse
 * the reference log-probs (and the held-out pairs'), build the run key
 * (fingerprints agreed over ranks), train with trainer_run and write OUT.
 * Collective over comm; PP_EINTERRUPTED after saving on a stop signal.
 * o->ref, o->ref_cache and o->steps are set to the values used while the
 * arguments are recorded, and restored before it returns. */
PP_MUST_CHECK pp_status dpo_run(dpo_run_options *o, MPI_Comm comm, const pp_log *log, pp_err *err);

#endif
