/* adamw.c - AdamW with global-norm clipping and an lr schedule. */
#include "model/adamw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

adamw_config adamw_defaults(void) {
    adamw_config c = {0};
    c.lr = 1e-3f;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.eps = 1e-8f;
    c.weight_decay = 0.01f;
    c.grad_clip = 1.0f;
    c.schedule = LR_CONSTANT;
    c.min_lr_ratio = 0.0f;
    return c;
}

pp_status adamw_init(adamw *opt, const adamw_config *cfg, const model_config *mc, pp_err *err) {
    return adamw_init_slice(opt, cfg, mc, 0, model_param_count(mc), err);
}

pp_status adamw_init_slice(adamw *opt, const adamw_config *cfg, const model_config *mc, size_t first, size_t count,
                           pp_err *err) {
    memset(opt, 0, sizeof *opt);
    if (first + count > model_param_count(mc))
        return pp_fail(err, PP_ESYS, "adamw: slice [%zu, %zu) outside %zu parameters", first, first + count,
                       model_param_count(mc));
    if (!(cfg->lr >= 0) || !(cfg->beta1 >= 0 && cfg->beta1 < 1) || !(cfg->beta2 >= 0 && cfg->beta2 < 1) ||
        !(cfg->eps > 0) || !(cfg->weight_decay >= 0) || cfg->warmup_steps < 0 ||
        !(cfg->min_lr_ratio >= 0 && cfg->min_lr_ratio <= 1))
        return pp_fail(err, PP_EINPUT,
                       "adamw: bad settings (lr %g, betas %g %g, eps %g, weight decay %g, warmup %lld, "
                       "min lr ratio %g)",
                       cfg->lr, cfg->beta1, cfg->beta2, cfg->eps, cfg->weight_decay,
                       (long long)cfg->warmup_steps, cfg->min_lr_ratio);
    opt->cfg = *cfg;
    opt->n = model_param_count(mc);
    opt->n_tensors = model_tensor_count(mc);
    opt->first = first;
    opt->count = count;
    opt->m = calloc(count > 0 ? count : 1, sizeof(float));
    opt->v = calloc(count > 0 ? count : 1, sizeof(float));
    opt->decay = malloc((size_t)opt->n_tensors);
    opt->tensors = malloc((size_t)opt->n_tensors * sizeof *opt->tensors);
    if (!opt->m || !opt->v || !opt->decay || !opt->tensors) {
        adamw_free(opt);
        return pp_fail(err, PP_ESYS, "adamw: out of memory for the moments of %zu parameters",
                       model_param_count(mc));
    }
    model_tensor_table(mc, opt->tensors);
    for (int i = 0; i < opt->n_tensors; i++) {
        const tensor_info *t = &opt->tensors[i];
        opt->decay[i] = t->is_matrix || (cfg->decay_embeddings && t->is_embedding) ||
                        (cfg->decay_norms && t->rank == 1);
    }
    return PP_OK;
}

void adamw_free(adamw *opt) {
    free(opt->m);
    free(opt->v);
    free(opt->decay);
    free(opt->tensors);
    memset(opt, 0, sizeof *opt);
}

float adamw_lr(const adamw_config *c, int64_t step) {
    if (step < c->warmup_steps) return c->lr * (float)(step + 1) / (float)c->warmup_steps;
    if (c->schedule == LR_CONSTANT || c->total_steps <= c->warmup_steps) return c->lr;
    double progress = (double)(step - c->warmup_steps) / (double)(c->total_steps - c->warmup_steps);
    if (progress > 1) progress = 1;
    double lo = c->min_lr_ratio, f;
    if (c->schedule == LR_COSINE)
        f = lo + (1 - lo) * 0.5 * (1 + cos(M_PI * progress));
    else
        f = 1 - (1 - lo) * progress;
    return (float)(c->lr * f);
}

double grad_sum_squares(const float *g, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)g[i] * g[i];
    return s;
}

double grad_global_norm(const float *g, size_t n) { return sqrt(grad_sum_squares(g, n)); }

float adamw_step(adamw *opt, float *params, const float *grads, double *grad_norm) {
    double norm = grad_global_norm(grads + opt->first, opt->count);
    if (grad_norm) *grad_norm = norm;
    return adamw_update(opt, params, grads + opt->first, norm);
}

float adamw_update(adamw *opt, float *params, const float *grads, double norm) {
    const adamw_config *c = &opt->cfg;
    /* as torch.nn.utils.clip_grad_norm_: scale by clip / (norm + 1e-6) when below 1 */
    float gscale = 1.0f;
    if (c->grad_clip > 0 && norm + 1e-6 > c->grad_clip) gscale = (float)(c->grad_clip / (norm + 1e-6));

    float lr = adamw_lr(c, opt->step);
    opt->step++;
    double bc1 = 1.0 - pow(c->beta1, (double)opt->step);
    double bc2 = 1.0 - pow(c->beta2, (double)opt->step);
    float step_size = (float)(lr / bc1), inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    float b1 = c->beta1, b2 = c->beta2, eps = c->eps;
    size_t s0 = opt->first, s1 = opt->first + opt->count;
    for (int t = 0; t < opt->n_tensors; t++) {
        /* the part of tensor t inside the slice */
        size_t lo = opt->tensors[t].offset, hi = lo + opt->tensors[t].count;
        if (lo < s0) lo = s0;
        if (hi > s1) hi = s1;
        if (lo >= hi) continue;
        float keep = opt->decay[t] ? 1.0f - lr * c->weight_decay : 1.0f;
        float *p = params + lo, *m = opt->m + (lo - s0), *v = opt->v + (lo - s0);
        const float *g = grads + (lo - s0);
        for (size_t i = 0; i < hi - lo; i++) {
            float gi = g[i] * gscale;
            m[i] = b1 * m[i] + (1.0f - b1) * gi;
            v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
            p[i] = p[i] * keep - step_size * m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + eps);
        }
    }
    return lr;
}
