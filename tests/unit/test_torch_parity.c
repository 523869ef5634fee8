/* test_torch_parity.c - the training engine against a PyTorch reference.
 *
 * tests/fixtures/torch_{tied,untied}.bin were written once by
 * tests/torch/make_fixture.py (float64 PyTorch, the model written from the
 * formulas).  For the same weights and batch this test recomputes, with
 * model_train.c and adamw.c: the logits of every position, the per-sequence
 * log-probs and counts, the loss (mean NLL + a DPO term), every parameter
 * gradient, and 10 AdamW steps (their losses, gradient norms and the final
 * weights).  Tolerance: 1e-4 relative, elementwise, to |reference| + the
 * RMS of the reference tensor (see compare()).  For scale: PyTorch itself
 * in float32 lands at a few 1e-6 on this measure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/adamw.h"
#include "model/model.h"
#include "model/model_train.h"

#define RTOL 1e-4

typedef struct {
    char name[33];
    int is_int;
    int64_t count;
    void *data;
} record;

typedef struct {
    record rec[32];
    int n;
} fixture;

static const record *find(const fixture *fx, const char *name) {
    for (int i = 0; i < fx->n; i++)
        if (strcmp(fx->rec[i].name, name) == 0) return &fx->rec[i];
    fail_msg("fixture has no record %s", name);
    return NULL;
}
static const float *fvals(const fixture *fx, const char *name) { return find(fx, name)->data; }
static const int *ivals(const fixture *fx, const char *name) { return find(fx, name)->data; }

/* The fixture directory: $ROOT/tests/fixtures (run-tests.sh sets ROOT),
 * ./tests/fixtures, or two levels above this binary (build/tests/). */
static FILE *open_fixture(const char *file) {
    char path[PATH_MAX + 64], exe[PATH_MAX];
    const char *root = getenv("ROOT");
    if (root) {
        snprintf(path, sizeof path, "%s/tests/fixtures/%s", root, file);
        FILE *f = fopen(path, "rb");
        if (f) return f;
    }
    snprintf(path, sizeof path, "tests/fixtures/%s", file);
    FILE *f = fopen(path, "rb");
    if (f) return f;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        snprintf(path, sizeof path, "%s/../../tests/fixtures/%s", exe, file);
        f = fopen(path, "rb");
    }
    return f;
}

static void load_fixture(fixture *fx, const char *file) {
    memset(fx, 0, sizeof *fx);
    FILE *f = open_fixture(file);
    if (!f) fail_msg("cannot open tests/fixtures/%s (set ROOT to the repository)", file);
    for (;;) {
        char name[32];
        int32_t type, pad;
        int64_t count;
        if (fread(name, 1, 32, f) != 32) break;
        assert_true(fread(&type, 4, 1, f) == 1 && fread(&pad, 4, 1, f) == 1 && fread(&count, 8, 1, f) == 1);
        assert_true(fx->n < 32 && count >= 0 && count < 1000000);
        record *r = &fx->rec[fx->n++];
        memcpy(r->name, name, 32);
        r->is_int = type == 1;
        r->count = count;
        r->data = malloc((size_t)count * 4 + 4);
        assert_true(fread(r->data, 4, (size_t)count, f) == (size_t)count);
    }
    fclose(f);
}

static void free_fixture(fixture *fx) {
    for (int i = 0; i < fx->n; i++) free(fx->rec[i].data);
}

/* Compare got[] with want[] (n values of one tensor): the error of each
 * element relative to |want| + the tensor's RMS, so entries near zero are
 * judged against the tensor's scale (float32 rounding is relative to the
 * terms that were summed, not to a result that cancelled to ~0). */
static double compare(const char *what, const float *got, const float *want, size_t n) {
    double ss = 0, worst = 0;
    for (size_t i = 0; i < n; i++) ss += (double)want[i] * want[i];
    double rms = sqrt(ss / (double)n);
    for (size_t i = 0; i < n; i++) {
        double scale = fabs(want[i]) + rms;
        double e = scale > 0 ? fabs(got[i] - want[i]) / scale : fabs(got[i] - want[i]);
        if (e > worst) worst = e;
        if (e > RTOL) fail_msg("%s[%zu]: got %.8g, PyTorch %.8g (relative error %.2e)", what, i, got[i], want[i], e);
    }
    return worst;
}

/* Compare a flat parameter-shaped buffer tensor by tensor. */
static double compare_tensors(const char *what, const model_config *c, const float *got, const float *want) {
    int nt = model_tensor_count(c);
    tensor_info *tab = malloc((size_t)nt * sizeof *tab);
    model_tensor_table(c, tab);
    double worst = 0;
    char label[160];
    for (int t = 0; t < nt; t++) {
        snprintf(label, sizeof label, "%s %s", what, tab[t].name);
        worst = fmax(worst, compare(label, got + tab[t].offset, want + tab[t].offset, tab[t].count));
    }
    free(tab);
    return worst;
}

/* loss = -sum logp / n_scored - log sigmoid(beta (logp0 - logp1)); dL/dlogp */
static double loss_and_grad(const float *logp, const int *cnt, int nseq, float beta, float *dlogp) {
    int total = 0;
    for (int s = 0; s < nseq; s++) total += cnt[s];
    double nll = 0, z = beta * ((double)logp[0] - logp[1]);
    for (int s = 0; s < nseq; s++) nll -= logp[s];
    double loss = nll / total + log1p(exp(-z)); /* -log sigmoid(z) */
    double sig_neg = 1.0 / (1.0 + exp(z));      /* sigmoid(-z) */
    for (int s = 0; s < nseq; s++) dlogp[s] = (float)(-1.0 / total);
    dlogp[0] += (float)(-beta * sig_neg);
    dlogp[1] += (float)(beta * sig_neg);
    return loss;
}

static void check_case(const char *file) {
    fixture fx;
    load_fixture(&fx, file);
    const int *ci = ivals(&fx, "config");
    const float *cf = fvals(&fx, "norm_eps_rope_theta");
    model_config c = {.dim = ci[0], .hidden_dim = ci[1], .n_layers = ci[2], .n_heads = ci[3], .n_kv_heads = ci[4],
                      .vocab_size = ci[5], .seq_len = ci[6], .tied_embeddings = ci[7], .norm_eps = cf[0],
                      .rope_theta = cf[1]};
    model m;
    pp_err err;
    assert_int_equal(model_alloc(&m, &c, &err), PP_OK);
    assert_int_equal((int64_t)m.n_params, find(&fx, "params")->count);
    memcpy(m.params, fvals(&fx, "params"), m.n_params * sizeof(float));

    const record *lr = find(&fx, "lens");
    int nseq = (int)lr->count, ntok = (int)find(&fx, "tokens")->count;
    const int *imask = ivals(&fx, "mask");
    uint8_t *mask = malloc((size_t)ntok);
    for (int i = 0; i < ntok; i++) mask[i] = (uint8_t)imask[i];
    train_batch b = {.n_seq = nseq, .lens = lr->data, .tokens = ivals(&fx, "tokens"), .target_mask = mask};
    float beta = fvals(&fx, "dpo_beta")[0];

    train_ws ws;
    assert_int_equal(train_ws_alloc(&ws, &c, ntok, &err), PP_OK);
    float *logp = malloc(nseq * sizeof(float)), *dlogp = malloc(nseq * sizeof(float));
    int *cnt = malloc(nseq * sizeof(int));
    assert_int_equal(model_forward_logps(&m, &ws, &b, logp, cnt, &err), PP_OK);

    /* logits of every position = final hidden . lm_head^T */
    float *logits = malloc((size_t)ntok * c.vocab_size * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ntok, c.vocab_size, c.dim, 1.0f, train_ws_hidden(&ws),
                c.dim, m.w.lm_head, c.dim, 0.0f, logits, c.vocab_size);
    double e_logits = compare("logits", logits, fvals(&fx, "logits"), (size_t)ntok * c.vocab_size);
    for (int s = 0; s < nseq; s++) assert_int_equal(cnt[s], ivals(&fx, "counts")[s]);
    double e_logp = compare("logps", logp, fvals(&fx, "logps"), nseq);
    float loss = (float)loss_and_grad(logp, cnt, nseq, beta, dlogp);
    double e_loss = compare("loss", &loss, fvals(&fx, "loss"), 1);

    float *grads = calloc(m.n_params, sizeof(float));
    assert_int_equal(model_backward(&m, &ws, dlogp, NULL, grads, &err), PP_OK);
    double e_grads = compare_tensors("grad", &c, grads, fvals(&fx, "grads"));

    /* 10 AdamW steps, as torch.optim.AdamW + clip_grad_norm_ */
    const float *ah = fvals(&fx, "adamw");
    adamw_config ac = adamw_defaults();
    ac.lr = ah[0], ac.beta1 = ah[1], ac.beta2 = ah[2], ac.eps = ah[3], ac.weight_decay = ah[4], ac.grad_clip = ah[5];
    ac.schedule = LR_CONSTANT;
    adamw opt;
    assert_int_equal(adamw_init(&opt, &ac, &c, &err), PP_OK);
    int steps = (int)find(&fx, "step_losses")->count;
    float *losses = malloc(steps * sizeof(float)), *norms = malloc(steps * sizeof(float));
    for (int t = 0; t < steps; t++) {
        memset(grads, 0, m.n_params * sizeof(float));
        assert_int_equal(model_forward_logps(&m, &ws, &b, logp, cnt, &err), PP_OK);
        losses[t] = (float)loss_and_grad(logp, cnt, nseq, beta, dlogp);
        assert_int_equal(model_backward(&m, &ws, dlogp, NULL, grads, &err), PP_OK);
        double norm;
        assert_true(adamw_step(&opt, m.params, grads, &norm) == ac.lr);
        norms[t] = (float)norm;
    }
    assert_true(opt.step == steps);
    double e_steps = compare("AdamW step losses", losses, fvals(&fx, "step_losses"), steps);
    double e_norms = compare("AdamW grad norms", norms, fvals(&fx, "step_grad_norms"), steps);
    double e_final = compare_tensors("after AdamW", &c, m.params, fvals(&fx, "final_params"));
    print_message("%s: worst relative error: logits %.1e logps %.1e loss %.1e grads %.1e "
                  "step losses %.1e grad norms %.1e final weights %.1e\n",
                  file, e_logits, e_logp, e_loss, e_grads, e_steps, e_norms, e_final);

    adamw_free(&opt);
    free(losses), free(norms), free(grads), free(logits), free(logp), free(dlogp), free(cnt), free(mask);
    train_ws_free(&ws);
    model_free(&m);
    free_fixture(&fx);
}

static void test_parity_tied(void **state) { (void)state; check_case("torch_tied.bin"); }
static void test_parity_untied(void **state) { (void)state; check_case("torch_untied.bin"); }

/* ---- AdamW on its own ------------------------------------------------------ */

static void test_adamw_schedule(void **state) {
    (void)state;
    adamw_config c = adamw_defaults();
    c.lr = 1.0f;
    c.warmup_steps = 4;
    c.total_steps = 104;
    c.min_lr_ratio = 0.1f;
    c.schedule = LR_COSINE;
    assert_float_equal(adamw_lr(&c, 0), 0.25, 1e-7);   /* warmup: (step+1)/warmup */
    assert_float_equal(adamw_lr(&c, 3), 1.0, 1e-7);
    assert_float_equal(adamw_lr(&c, 4), 1.0, 1e-7);    /* decay starts at the peak */
    assert_float_equal(adamw_lr(&c, 54), 0.55, 1e-6);  /* halfway: (1 + 0.1) / 2 */
    assert_float_equal(adamw_lr(&c, 104), 0.1, 1e-7);  /* floor, and it stays there */
    assert_float_equal(adamw_lr(&c, 500), 0.1, 1e-7);
    c.schedule = LR_LINEAR;
    assert_float_equal(adamw_lr(&c, 29), 1.0 - 0.9 * 0.25, 1e-6);
    assert_float_equal(adamw_lr(&c, 104), 0.1, 1e-7);
    c.schedule = LR_CONSTANT;
    assert_float_equal(adamw_lr(&c, 1000), 1.0, 0);
}

/* Weight decay only on matrices by default; clipping leaves grads alone. */
static void test_adamw_decay_and_clip(void **state) {
    (void)state;
    model_config mc = {.dim = 8, .hidden_dim = 16, .n_layers = 1, .n_heads = 2, .n_kv_heads = 1,
                       .vocab_size = 11, .seq_len = 8, .tied_embeddings = 0, .norm_eps = 1e-5f,
                       .rope_theta = 1e4f};
    adamw_config c = adamw_defaults();
    c.lr = 0.1f;
    c.weight_decay = 0.5f;
    c.grad_clip = 1.0f;
    adamw opt;
    pp_err err;
    assert_int_equal(adamw_init(&opt, &c, &mc, &err), PP_OK);
    size_t n = model_param_count(&mc);
    float *p = malloc(n * sizeof(float)), *g = calloc(n, sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = 1.0f;
    g[0] = 3.0f, g[1] = 4.0f; /* norm 5 -> scaled by 1/5 */
    double norm;
    adamw_step(&opt, p, g, &norm);
    assert_float_equal(norm, 5.0, 1e-9);
    assert_float_equal(g[0], 3.0, 0); /* untouched */
    model_tensors t;
    model_point(&t, p, &mc);
    /* zero-gradient entries move only by decay: matrices shrink by lr * wd */
    assert_float_equal(t.wq[0], 1.0 - 0.1 * 0.5, 1e-6);
    assert_float_equal(t.lm_head[0], 1.0 - 0.1 * 0.5, 1e-6);
    assert_float_equal(t.attn_norm[0], 1.0, 0);
    assert_float_equal(t.final_norm[3], 1.0, 0);
    assert_float_equal(t.embed[5], 1.0, 0);
    /* first step of Adam moves a gradient entry by lr (bias-corrected m/sqrt v = sign) */
    assert_float_equal(t.embed[0], 1.0 - 0.1, 1e-5);
    free(p), free(g);
    adamw_free(&opt);

    adamw_config bad = adamw_defaults();
    bad.beta2 = 1.0f;
    assert_int_equal(adamw_init(&opt, &bad, &mc, &err), PP_EINPUT);
}

/* The state (step, m, v, params) is everything: copying it into a fresh
 * optimizer continues the run bit for bit. */
static void test_adamw_resume_exact(void **state) {
    (void)state;
    model_config mc = {.dim = 8, .hidden_dim = 16, .n_layers = 2, .n_heads = 2, .n_kv_heads = 2,
                       .vocab_size = 13, .seq_len = 8, .tied_embeddings = 1, .norm_eps = 1e-5f,
                       .rope_theta = 1e4f};
    adamw_config c = adamw_defaults();
    c.warmup_steps = 2, c.total_steps = 6, c.schedule = LR_COSINE, c.grad_clip = 0.5f;
    size_t n = model_param_count(&mc);
    float *pa = malloc(n * sizeof(float)), *pb = malloc(n * sizeof(float)), *g = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) pa[i] = (float)((i * 37) % 19) / 19.0f - 0.5f;
    adamw a, b;
    pp_err err;
    assert_int_equal(adamw_init(&a, &c, &mc, &err), PP_OK);
    assert_int_equal(adamw_init(&b, &c, &mc, &err), PP_OK);
    for (int step = 0; step < 6; step++) {
        if (step == 3) { /* "checkpoint": copy the plain state into b */
            b.step = a.step;
            memcpy(b.m, a.m, n * sizeof(float));
            memcpy(b.v, a.v, n * sizeof(float));
            memcpy(pb, pa, n * sizeof(float));
        }
        for (size_t i = 0; i < n; i++) g[i] = (float)(((i + 7 * step) * 53) % 29) / 29.0f - 0.5f;
        adamw_step(&a, pa, g, NULL);
        if (step >= 3) adamw_step(&b, pb, g, NULL);
    }
    assert_true(a.step == 6 && b.step == 6);
    assert_memory_equal(pa, pb, n * sizeof(float));
    assert_memory_equal(a.m, b.m, n * sizeof(float));
    assert_memory_equal(a.v, b.v, n * sizeof(float));
    free(pa), free(pb), free(g);
    adamw_free(&a);
    adamw_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parity_tied),
        cmocka_unit_test(test_parity_untied),
        cmocka_unit_test(test_adamw_schedule),
        cmocka_unit_test(test_adamw_decay_and_clip),
        cmocka_unit_test(test_adamw_resume_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
