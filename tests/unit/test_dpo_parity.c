/* test_dpo_parity.c - one full pp-train step against a PyTorch reference.
 *
 * tests/fixtures/torch_dpo_{tied,untied}.bin were written once by
 * tests/torch/make_dpo_fixture.py (float64 PyTorch, the losses written
 * from DESIGN.md, not from pref_loss.c).  For the same tiny model, three
 * preference pairs of different lengths and fixed reference log-probs,
 * this test goes through the library as pp-train does: dpo_data_build on
 * an in-memory pairs set, dpo_compute_logps (per-pair policy log-probs),
 * dpo_ctx_init + dpo_grad for step 0 with the whole set as the global
 * batch on one rank (micro-batches of 2 then 1, so gradients accumulate),
 * then adamw_step configured as pp-train configures it (betas 0.9/0.999,
 * decay on matrices only, clipping at 1.0, update 0 of a 10-step warmup).
 * Compared, for plain dpo and for bcr (outside, β 0.1, λ 1, δ 0.5, the
 * budget exceeded by one pair of three): the per-pair log-probs, the loss
 * and every metric, every parameter gradient, the gradient norm and the
 * updated weights.  Tolerance 1e-4 relative, measured as in
 * test_torch_parity.c (elementwise, to |reference| + the tensor's RMS). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/adamw.h"
#include "train/dpo.h"
#include "model/model.h"
#include "io/pairs.h"
#include "train/pref_loss.h"

#define RTOL 1e-4
#define MAX_RECORDS 64

typedef struct {
    char name[33];
    int is_int;
    int64_t count;
    void *data;
} record;

typedef struct {
    record rec[MAX_RECORDS];
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

/* $ROOT/tests/fixtures, ./tests/fixtures, or two levels above this binary. */
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
        assert_true(fx->n < MAX_RECORDS && count >= 0 && count < 1000000);
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

/* Worst error of got[] against want[] (one tensor): each element relative
 * to |want| + the tensor's RMS; fails above RTOL. */
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

/* A pairs set holding only what dpo_data_build reads: one prompt per pair. */
typedef struct {
    pairs_set s;
    int64_t pair_prompt[8], off[3][9];
    int32_t tok[3][64];
} mem_pairs;

static void make_pairs(mem_pairs *mp, const fixture *fx) {
    memset(mp, 0, sizeof *mp);
    const char *part[3] = {"prompt", "chosen", "rejected"};
    int64_t n = find(fx, "prompt_lens")->count;
    assert_true(n >= 1 && n <= 8);
    for (int k = 0; k < 3; k++) {
        char name[40];
        snprintf(name, sizeof name, "%s_lens", part[k]);
        const int *lens = ivals(fx, name);
        assert_int_equal(find(fx, name)->count, n);
        for (int64_t i = 0; i < n; i++) mp->off[k][i + 1] = mp->off[k][i] + lens[i];
        snprintf(name, sizeof name, "%s_tokens", part[k]);
        assert_int_equal(find(fx, name)->count, mp->off[k][n]);
        assert_true(mp->off[k][n] <= 64);
        for (int64_t t = 0; t < mp->off[k][n]; t++) mp->tok[k][t] = ivals(fx, name)[t];
    }
    for (int64_t i = 0; i < n; i++) mp->pair_prompt[i] = i;
    mp->s.n_prompts = n;
    mp->s.n_pairs = n;
    mp->s.pair_prompt = mp->pair_prompt;
    mp->s.prompt_token_offsets = mp->off[0];
    mp->s.prompt_tokens = mp->tok[0];
    mp->s.chosen_token_offsets = mp->off[1];
    mp->s.chosen_tokens = mp->tok[1];
    mp->s.rejected_token_offsets = mp->off[2];
    mp->s.rejected_tokens = mp->tok[2];
}

/* One step of loss `kind` from the initial weights, compared with the fixture. */
static void check_step(const fixture *fx, const char *file, const char *kind_name, pref_loss_kind kind, model *m,
                       const dpo_data *d) {
    pp_err err;
    char rec[48];
    memcpy(m->params, fvals(fx, "params"), m->n_params * sizeof(float));
    const float *lo_v = fvals(fx, "loss_opts");
    pref_loss_opts lo;
    pref_loss_defaults(&lo);
    lo.kind = kind;
    lo.beta = lo_v[0];
    lo.bcr_weight = lo_v[1];
    lo.bcr_budget = lo_v[2];
    lo.bcr_form = PREF_BCR_OUTSIDE;
    assert_int_equal(pref_loss_check(&lo, &err), PP_OK);

    /* the whole set is the global batch of step 0; micro-batches 2 + 1 */
    int B = (int)d->n;
    dpo_ctx ctx;
    assert_int_equal(dpo_ctx_init(&ctx, d, &m->cfg, &lo, B, 2, 0, 7, MPI_COMM_WORLD, &err), PP_OK);
    float *grads = calloc(m->n_params, sizeof(float));
    double metrics[DPO_M_N];
    assert_int_equal(dpo_grad(&ctx, 0, m, grads, metrics, &err), PP_OK);

    snprintf(rec, sizeof rec, "%s_metrics", kind_name);
    assert_int_equal(find(fx, rec)->count, DPO_M_N);
    double e_metrics = 0;
    for (int i = 0; i < DPO_M_N; i++) {
        float got = (float)metrics[i];
        char label[96];
        snprintf(label, sizeof label, "%s %s %s", file, kind_name, dpo_metric_names[i]);
        e_metrics = fmax(e_metrics, compare(label, &got, fvals(fx, rec) + i, 1));
    }
    snprintf(rec, sizeof rec, "%s_loss", kind_name);
    float loss = (float)metrics[DPO_M_LOSS], want_loss = fvals(fx, rec)[0];
    double e_loss = compare("loss", &loss, &want_loss, 1);
    snprintf(rec, sizeof rec, "%s_grads", kind_name);
    assert_int_equal(find(fx, rec)->count, (int64_t)m->n_params);
    double e_grads = compare_tensors("grad", &m->cfg, grads, fvals(fx, rec));

    /* AdamW as pp-train sets it up (stages/pp-train.c), first update */
    const float *ah = fvals(fx, "adamw");
    adamw_config ac = {.lr = ah[0], .beta1 = ah[1], .beta2 = ah[2], .eps = ah[3], .weight_decay = ah[4],
                       .grad_clip = ah[5], .warmup_steps = (int64_t)ah[6], .total_steps = 100,
                       .min_lr_ratio = 0.1f, .schedule = LR_COSINE};
    adamw opt;
    assert_int_equal(adamw_init(&opt, &ac, &m->cfg, &err), PP_OK);
    double norm;
    float lr = adamw_step(&opt, m->params, grads, &norm);
    assert_float_equal(lr, ah[7], 1e-9);
    float fnorm = (float)norm;
    snprintf(rec, sizeof rec, "%s_grad_norm", kind_name);
    double e_norm = compare("grad norm", &fnorm, fvals(fx, rec), 1);
    assert_true(norm > ac.grad_clip); /* clipping took part in both cases */
    snprintf(rec, sizeof rec, "%s_params", kind_name);
    double e_after = compare_tensors("after AdamW", &m->cfg, m->params, fvals(fx, rec));

    /* the update itself, against PyTorch's (after - before): stricter than
     * the weights, whose scale hides small update errors */
    float *upd = malloc(m->n_params * sizeof(float)), *want_upd = malloc(m->n_params * sizeof(float));
    for (size_t i = 0; i < m->n_params; i++) {
        upd[i] = m->params[i] - fvals(fx, "params")[i];
        want_upd[i] = fvals(fx, rec)[i] - fvals(fx, "params")[i];
    }
    double e_upd = compare_tensors("AdamW update", &m->cfg, upd, want_upd);

    print_message("%s %s: loss %.6f (PyTorch %.6f), grad norm %.4f; worst relative error: loss %.1e metrics %.1e "
                  "grads %.1e grad norm %.1e weights after %.1e update %.1e\n",
                  file, kind_name, metrics[DPO_M_LOSS], want_loss, norm,
                  e_loss, e_metrics, e_grads, e_norm, e_after, e_upd);
    free(upd), free(want_upd), free(grads);
    adamw_free(&opt);
    dpo_ctx_free(&ctx);
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

    mem_pairs mp;
    make_pairs(&mp, &fx);
    dpo_data d;
    assert_int_equal(dpo_data_build(&d, &mp.s, c.seq_len, &err), PP_OK);
    assert_int_equal(d.truncated, 0);
    for (int64_t i = 0; i < d.n; i++) {
        assert_int_equal(d.resp[0][i], ivals(&fx, "chosen_lens")[i]);
        assert_int_equal(d.resp[1][i], ivals(&fx, "rejected_lens")[i]);
        d.ref_logp[0][i] = fvals(&fx, "ref_chosen")[i];
        d.ref_logp[1][i] = fvals(&fx, "ref_rejected")[i];
    }

    /* per-pair policy log-probs of the responses */
    double pc[8], pr[8];
    float got[16];
    assert_int_equal(dpo_compute_logps(&d, &m, 2, MPI_COMM_WORLD, pc, pr, &err), PP_OK);
    for (int64_t i = 0; i < d.n; i++) got[i] = (float)pc[i], got[d.n + i] = (float)pr[i];
    double e_pc = compare("policy chosen logps", got, fvals(&fx, "policy_chosen"), (size_t)d.n);
    double e_pr = compare("policy rejected logps", got + d.n, fvals(&fx, "policy_rejected"), (size_t)d.n);
    print_message("%s: policy log-probs, worst relative error chosen %.1e rejected %.1e\n", file, e_pc, e_pr);

    check_step(&fx, file, "dpo", PREF_DPO, &m, &d);
    check_step(&fx, file, "bcr", PREF_BCR, &m, &d);

    dpo_data_free(&d);
    model_free(&m);
    free_fixture(&fx);
}

static void test_dpo_step_tied(void **state) { (void)state; check_case("torch_dpo_tied.bin"); }
static void test_dpo_step_untied(void **state) { (void)state; check_case("torch_dpo_untied.bin"); }

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dpo_step_tied),
        cmocka_unit_test(test_dpo_step_untied),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    MPI_Finalize();
    return rc;
}
