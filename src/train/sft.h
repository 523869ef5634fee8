/* sft.h - next-token training data and the SFT gradient for trainer_run.
 *
 * Demonstrations come from a prompts file.  With a reference answer (the
 * built-in suite) a demonstration is BOS + prompt + answer + EOS and only
 * the answer and EOS are scored; a chosen fraction of answers can be
 * replaced by plausible wrong ones and a fraction of those where the
 * demonstrator's habit applies by its systematic mistake
 * (tasks_demo_answer), so the model we train is imperfect as real SFT
 * models are.  Without references the whole
 * text is scored (plain language-model training). */
#ifndef SFT_H
#define SFT_H

#include <mpi.h>
#include <stdint.h>

#include "model/model.h"
#include "model/model_train.h"
#include "prompts/prompts.h"
#include "train/step_batch.h"
#include "train/trainer.h"

typedef struct {
    int64_t n;            /* demonstrations */
    int *lens;            /* [n] tokens per sequence */
    int64_t *start;       /* [n] offset into tokens */
    int *tokens;          /* all sequences back to back */
    uint8_t *mask;        /* scored tokens, same layout */
    int64_t n_wrong;      /* demonstrations with a deliberately wrong answer */
    int max_len;
} sft_data;

/* Tokenize a prompt set for model m.  Sequences longer than the context are
 * an error naming the prompt id. */
PP_MUST_CHECK pp_status sft_data_build(sft_data *d, const prompt_set *p, const tokenizer *tok, int seq_len,
                         double wrong_fraction, double habit_fraction, uint64_t seed, pp_err *err);
void sft_data_free(sft_data *d);

typedef struct {
    const sft_data *data;
    int global_batch;     /* sequences per step, over all ranks */
    int micro_batch;      /* sequences per forward/backward on one rank */
    int rank, size;
    step_batch b;        /* workspace and data order */
} sft_ctx;

PP_MUST_CHECK pp_status sft_ctx_init(sft_ctx *c, const sft_data *d, const model_config *cfg, int global_batch,
                       int micro_batch, int recompute, uint64_t seed, MPI_Comm comm, pp_err *err);
void sft_ctx_free(sft_ctx *c);
/* trainer_grad_fn: metrics[0] = mean NLL per scored token, metrics[1] =
 * scored tokens in the batch. */
PP_MUST_CHECK pp_status sft_grad(void *ctx, int64_t step, const model *m, float *grads, double *metrics, pp_err *err);

/* ---- pp-sft's whole run ---- */

/* What pp-sft is asked to do: its options, as on the command line. */
typedef struct {
    const char *out, *data;
    const char *init;         /* start from this model file, or */
    const char *arch;         /* from a random model of this shape (byte tokenizer) */
    long long init_seed, steps, seed;
    int batch, micro_batch;
    double wrong_fraction, habit_fraction;
    trainer_cli opt;
    const char *arguments;    /* the effective arguments: provenance and run key */
    pp_memory *mem;           /* the stage's memory record (pp_stage.mem), may be NULL */
} sft_run_options;

/* pp-sft: check the options, make or load the starting model, build the
 * demonstrations and the run key (fingerprints agreed over ranks), train
 * with trainer_run and write OUT.  Collective over comm;
 * PP_EINTERRUPTED after saving on a stop signal. */
PP_MUST_CHECK pp_status sft_run(const sft_run_options *o, MPI_Comm comm, const pp_log *log, pp_err *err);

#endif
