/* adamw.h - AdamW over the flat parameter buffer, with global-norm gradient
 * clipping and a learning-rate schedule.
 *
 * The update is PyTorch's torch.optim.AdamW (decoupled weight decay, bias
 * correction) and the clipping is torch.nn.utils.clip_grad_norm_, so a
 * reference run in PyTorch can be matched step for step.  Weight decay
 * applies to the matrices of the tensor table (tensor_info.is_matrix) and,
 * when asked, to the token embedding and the RMSNorm gains.
 *
 * The whole state is plain data - the step counter and the m and v arrays,
 * laid out like the parameters - so a checkpoint saves and restores it
 * exactly and a resumed run continues bit for bit. */
#ifndef ADAMW_H
#define ADAMW_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"
#include "core/pp_error.h"

typedef enum { LR_CONSTANT = 0, LR_COSINE = 1, LR_LINEAR = 2 } lr_schedule;

typedef struct {
    float lr;              /* peak learning rate */
    float beta1, beta2, eps;
    float weight_decay;
    int decay_embeddings;  /* 1: decay the token embedding too (tied head included) */
    int decay_norms;       /* 1: decay the RMSNorm gains too */
    float grad_clip;       /* maximum global gradient norm; <= 0: no clipping */
    lr_schedule schedule;
    int64_t warmup_steps;  /* lr rises linearly over these updates */
    int64_t total_steps;   /* decay ends here (cosine, linear) */
    float min_lr_ratio;    /* lr at the end of decay, as a fraction of lr */
} adamw_config;

/* Usual defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.01,
 * clip 1.0, constant schedule, no warmup.  The programs set their own from
 * their options (trainer_cli: --adam-beta1/2, --adam-eps; pp-sft's default
 * beta2 is 0.95). */
adamw_config adamw_defaults(void);

typedef struct {
    adamw_config cfg;
    size_t n;              /* floats in params */
    size_t first, count;   /* the slice of params this optimizer updates
                              (0, n unless sharded); m, v and the gradient
                              given to adamw_update hold count floats */
    int64_t step;          /* updates done so far */
    float *m, *v;          /* first and second moments of the slice */
    uint8_t *decay;        /* per tensor of the table: 1 = weight decay applies */
    tensor_info *tensors;  /* the model's tensor table */
    int n_tensors;
} adamw;

/* Allocate zeroed moments for a model of config mc. */
PP_MUST_CHECK pp_status adamw_init(adamw *opt, const adamw_config *cfg, const model_config *mc, pp_err *err);
/* The same for the parameters [first, first + count) only (a sharded
 * optimizer: each rank updates its slice, adamw_update). */
PP_MUST_CHECK pp_status adamw_init_slice(adamw *opt, const adamw_config *cfg, const model_config *mc, size_t first,
                                         size_t count, pp_err *err);
void adamw_free(adamw *opt);

/* Learning rate of update number step (0-based): linear warmup from
 * lr/warmup to lr, then the schedule down to lr * min_lr_ratio at
 * total_steps (constant afterwards). */
float adamw_lr(const adamw_config *cfg, int64_t step);

/* Euclidean norm of a flat gradient buffer (accumulated in double). */
double grad_global_norm(const float *grads, size_t n);

/* One update: clip the gradient to cfg.grad_clip by global norm (the
 * gradient buffer is left as it was: clipping scales inside the update),
 * then AdamW with the scheduled lr.  Returns the lr used; *grad_norm (may
 * be NULL) gets the norm before clipping.  The grads must already be
 * summed or averaged over ranks. */
float adamw_step(adamw *opt, float *params, const float *grads, double *grad_norm);

/* The update of the optimizer's slice given the global gradient norm
 * (computed by the caller, e.g. from every rank's slice): grads holds the
 * slice's count floats, params the whole buffer (only the slice changes).
 * Element for element the arithmetic of adamw_step, so a sharded update
 * equals the unsharded one given the same gradient and norm. */
float adamw_update(adamw *opt, float *params, const float *grads, double grad_norm);
/* Sum of squares of n floats in double: the slices' part of the norm. */
double grad_sum_squares(const float *grads, size_t n);

#endif
