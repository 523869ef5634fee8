/* rmtrain.h - the two learned judges of pp-rm, trained end to end from a
 * base model on chosen/rejected pairs with the data-parallel trainer
 * (train/trainer.h): pp-rm --kind pointwise | pairwise.
 *
 * pointwise  a reward model: the base model plus a scalar head
 *            (reward_head.weight, [dim], in the model's one flat buffer,
 *            model.h) on the final hidden state (after the final RMSNorm)
 *            at the last token of prompt + response, r = head . h.
 *            Loss per pair: -log sigmoid(r(chosen) - r(rejected)) (Bradley-
 *            Terry).  The backbone and the head are trained; the gradient
 *            enters the backbone as a seed on the hidden rows
 *            (model_backward_hidden).  The file is a model file with the
 *            head; `--judge rm --rm OUT.h5` scores with it (reward_model.h).
 * pairwise   a preference model in the manner of PairRM that answers
 *            through the model judge's label tokens: the example is the
 *            judge prompt exactly as the model judge renders it
 *            (judge_model_render: template, then the verdict cue) for
 *            (prompt, A = chosen, B = rejected) and for the swapped order;
 *            the loss per ordered example is -log sigmoid(logp(correct
 *            label) - logp(wrong label)), the two-way softmax over the
 *            labels, i.e. P(A) / (P(A) + P(B)) as the model judge reads it.
 *            The file is a language model file: `--judge model
 *            --judge-model OUT.h5`; it records the template and labels it
 *            was trained with (root attributes judge_template,
 *            judge_labels), which the model judge uses by default.
 *
 * Data: the same pairs and the same --steps / --batch give the same pairs
 * per step for both kinds (step_batch's order over the pairs; pairwise
 * uses each pair in both orders).  A pair whose judge prompt does not fit
 * the model's context (pairwise only) is left out, counted and reported;
 * pointwise sequences longer than the context are cut to it, as the
 * linear reward model cuts them.  --context N gives the trained model a
 * longer context than the base model's (RoPE has no table to grow; the
 * positions beyond the base's are learned by this training): a judge
 * prompt holds the prompt and two answers.
 *
 * At the end the trained model is evaluated on the training pairs and on
 * every held-out file (the same forward passes on any rank count: whole
 * pairs per rank, counts summed) and the accuracies are attributes of
 * /train in OUT.h5 (pp-inspect OUT.h5 --get train/ATTR):
 *   train_accuracy, heldout_accuracy_H, heldout_pairs_H (H = 0, 1, ...);
 *   pointwise accuracy: r(chosen) > r(rejected);
 *   pairwise accuracy: the mean over both orders of P(correct) > 1/2, and
 *   train_agreement, heldout_agreement_H: the fraction of pairs whose two
 *   orders prefer the same answer. */
#ifndef RMTRAIN_H
#define RMTRAIN_H

#include <mpi.h>

#include "core/pp_error.h"
#include "core/pp_log.h"
#include "core/pp_memory.h"
#include "train/trainer.h"

#define RMTRAIN_MAX_HELDOUT 4 /* attributes of /train: 2 + 3 per file, at most 16 */

typedef enum { RMTRAIN_POINTWISE = 1, RMTRAIN_PAIRWISE = 2 } rmtrain_kind;

/* pp-rm's options for the end-to-end kinds, as on the command line. */
typedef struct {
    rmtrain_kind kind;
    const char *pairs, *model, *out;
    const char *const *heldout;
    int n_heldout;
    long long steps, seed;
    int batch, micro_batch;        /* pairs per step (all ranks), pairs per forward pass */
    int context;                   /* the trained model's context (seq_len); 0: the base model's */
    const char *judge_template;    /* pairwise: template file (NULL: the built-in) */
    const char *judge_labels;      /* pairwise: "A,B" */
    trainer_cli opt;
    const char *arguments;         /* the effective arguments: provenance and run key */
    pp_memory *mem;                /* the stage's memory record, may be NULL */
} rmtrain_options;

/* "pointwise" / "pairwise" */
PP_MUST_CHECK pp_status rmtrain_kind_parse(const char *name, rmtrain_kind *kind, pp_err *err);

/* pp-rm --kind pointwise|pairwise: check the options, load the base model
 * and the pairs (checked against it), build the examples and the run key,
 * train with trainer_run (checkpoints, exact resume), evaluate, write OUT.
 * Collective over comm; PP_EINTERRUPTED after saving on a stop signal. */
PP_MUST_CHECK pp_status rmtrain_run(const rmtrain_options *o, MPI_Comm comm, const pp_log *log, pp_err *err);

#endif
