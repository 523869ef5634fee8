/* trainer.h - the data-parallel training loop shared by pp-sft and
 * pp-train: every rank holds the model, computes the gradient of its slice
 * of each global batch, the gradients are summed over the flat buffer
 * (MPI_Reduce_scatter of one block per rank, then MPI_Allgatherv), and
 * every rank applies the same AdamW update.  With --shard-optimizer each
 * rank keeps the AdamW moments of its block only, updates that block and
 * the parameters are shared back (all-gathered, or held once per node in
 * a shared window when the ranks share one node): docs/architecture.md,
 * "Memory at scale".
 *
 * The loop owns checkpoints (complete-or-absent files under OUT.ckpt/, a
 * parts directory of the resume kit: locked by rank 0, its run.key checked),
 * exact resume, stop signals (save, then PP_EINTERRUPTED), NaN/Inf
 * detection, the replica checksum, progress and the metric history.  The
 * caller supplies one function: the gradient of one step. */
#ifndef TRAINER_H
#define TRAINER_H

#include <mpi.h>
#include <stdint.h>

#include "model/adamw.h"
#include "model/model.h"
#include "io/pp_h5.h"
#include "core/pp_log.h"
#include "core/pp_memory.h"
#include "core/pp_options.h"
#include "core/pp_runkey.h"

#define TRAINER_MAX_METRICS 16

/* Gradient of step `step` (0-based).  grads is zeroed; the function ADDS
 * this rank's contribution to the gradient of the global batch's mean loss,
 * so that the sum over ranks is the full gradient.  metrics[i] receives
 * this rank's contribution to metric i likewise (summed over ranks). */
typedef pp_status (*trainer_grad_fn)(void *ctx, int64_t step, const model *m, float *grads,
                                     double *metrics, pp_err *err);

/* Called once on the trained model before the final file is written; it
 * may add up to 16 attributes (names must outlive the call) to /train. */
typedef pp_status (*trainer_final_fn)(void *ctx, const model *m, int *n_attrs, const char **names,
                                      double *values, pp_err *err);

typedef struct {
    const char *out_path;      /* final model file */
    const char *kind;          /* "sft", or pp-train's loss ("dpo", "bcr", ...): the
                                  model's `training` attribute and the progress label */
    int64_t total_steps;
    int64_t checkpoint_every;  /* 0: only when stopped */
    int keep_last;             /* checkpoints kept (>= 1) */
    adamw_config opt;
    const char *run_key;       /* everything that defines the run */
    int n_metrics;             /* metrics from the grad function; trainer adds grad_norm, learning_rate */
    const char *metric_names[TRAINER_MAX_METRICS];
    MPI_Comm comm;
    const pp_log *log;
    const pp_provenance *prov;
    int log_every;             /* progress line every N steps (terminal: always) */
    int shard_optimizer;       /* 1: ZeRO-1 - gradients reduce-scattered, each rank
                                  keeps the AdamW moments of its block and updates
                                  it, parameters all-gathered (trainer.c) */
    trainer_final_fn final_fn; /* optional */
    void *final_ctx;
    int n_text_attrs;          /* text attributes of the root group of every file written */
    const char *text_attr_names[4], *text_attr_values[4];
} trainer_config;

/* The optimisation options pp-sft and pp-train share; set the defaults in
 * the struct (each program keeps its own: pp-sft's adam_beta2 is 0.95, the
 * value its embedded base model was trained with; pp-train's is 0.999),
 * then trainer_cli_options fills TRAINER_CLI_N_OPTIONS entries of an
 * option table pointing into it, so --help shows the true defaults and
 * the effective-arguments provenance records the values used. */
typedef struct {
    double lr, warmup, min_lr_ratio, weight_decay, grad_clip;
    double adam_beta1, adam_beta2, adam_eps;
    const char *schedule;       /* cosine | linear | constant */
    long long checkpoint_every;
    int keep_last, log_every;
    int shard_optimizer;        /* trainer_config.shard_optimizer */
    int recompute;              /* activation checkpointing (train_ws_alloc_mode) */
    const char *max_memory;     /* per rank, "20G"; NULL: MemAvailable / ranks on the node */
} trainer_cli;
#define TRAINER_CLI_N_OPTIONS 15
void trainer_cli_options(trainer_cli *t, pp_option *out);
/* AdamW settings from those options. */
adamw_config trainer_cli_adamw(const trainer_cli *t, int64_t total_steps);

/* The run key of a training run (stage "train" or "sft"): the data file's
 * fingerprint (computed on rank 0, agreed over comm: a failure is an error
 * on every rank), the starting model's, the steps and the effective
 * arguments.  A key too long for a checkpoint's run_key attribute (read
 * back into 8192 bytes) is refused rather than cut.  Collective. */
PP_MUST_CHECK pp_status trainer_run_key(pp_runkey *k, const char *stage, const char *data_role, const char *data_path,
                          const char *model_role, const model *m, int64_t steps, const char *arguments, MPI_Comm comm,
                          pp_err *err);

/* The estimate of a training run's peak memory per rank, made from the
 * configuration before the model is loaded, printed and checked against
 * t->max_memory (pp_memory_check; recorded in mem, may be NULL): weights,
 * gradients, AdamW moments (1/ranks of them with --shard-optimizer, plus
 * the exchange's staging), the activations of a micro-batch of max_tokens
 * tokens (train_ws_bytes, with or without --recompute) and the runtime
 * (MPI, HDF5, BLAS: TRAINER_RUNTIME_BYTES, measured).  What a stage holds
 * before training (pp-train's reference model while computing reference
 * log-probs: a second copy of the weights and a forward workspace) is less
 * than the training step's gradients and moments, so the step is the peak.
 * Collective. */
#define TRAINER_RUNTIME_BYTES (32.0 * 1048576.0) /* a 27k-parameter pp-sft run peaks at 30 MiB */
PP_MUST_CHECK pp_status trainer_memory_check(const trainer_cli *t, const model_config *cfg, int max_tokens, MPI_Comm comm,
                                             pp_memory *mem, const pp_log *log, pp_err *err);

/* Train m in place from step 0 (or from the newest valid checkpoint of the
 * same run) to total_steps, then write out_path and remove the checkpoints.
 * Returns PP_EINTERRUPTED after saving when a stop signal arrived. */
PP_MUST_CHECK pp_status trainer_run(const trainer_config *cfg, model *m, trainer_grad_fn fn, void *ctx, pp_err *err);

#endif
