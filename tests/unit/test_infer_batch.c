/* test_infer_batch.c - the fast paths of batched decode against plain
 * reference arithmetic.
 *
 * infer.c multiplies by its own transposed copy of the weights (rowmatmul,
 * the same arithmetic for one row or many), computes exp with fast_expf and sums the
 * softmax and the attention-weighted values in SIMD-friendly orders.  Here
 * a straightforward double-precision forward pass (loops over the model's
 * own weights, libm exp) checks the logits of batch-1 and batch-8 decode,
 * fast_expf / fast_max / sample_argmax are checked against libm and
 * simple loops, and on stories260K (skipped when ../shared or $PP_SHARED
 * lacks it) 8 sequences decoded greedily as one batch must pick the same
 * tokens as each decoded alone. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "model/infer.h"
#include "model/llama2c.h"
#include "model/model.h"
#include "core/pp_rng.h"
#include "model/fastmath.h"
#include "model/sample.h"

/* ---- reference forward pass ------------------------------------------- */

typedef struct {
    const model *m;
    int max_pos;
    double *keys, *vals; /* [L][max_pos][kv_dim] */
} ref_state;

static void ref_init(ref_state *r, const model *m, int max_pos) {
    int kv_dim = m->cfg.n_kv_heads * model_head_dim(&m->cfg);
    r->m = m;
    r->max_pos = max_pos;
    r->keys = calloc((size_t)m->cfg.n_layers * max_pos * kv_dim, sizeof(double));
    r->vals = calloc((size_t)m->cfg.n_layers * max_pos * kv_dim, sizeof(double));
}

static void ref_free(ref_state *r) {
    free(r->keys);
    free(r->vals);
}

/* out[o] = sum_i w[o][i] * x[i] */
static void ref_matvec(double *out, const float *w, const double *x, int out_dim, int in_dim) {
    for (int o = 0; o < out_dim; o++) {
        double s = 0.0;
        for (int i = 0; i < in_dim; i++) s += (double)w[(size_t)o * in_dim + i] * x[i];
        out[o] = s;
    }
}

static void ref_rmsnorm(double *out, const double *x, const float *g, int n, double eps) {
    double ss = 0.0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    double inv = 1.0 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++) out[i] = (double)g[i] * x[i] * inv;
}

/* Feed token at position pos; logits[vocab] out. */
static void ref_step(ref_state *r, int token, int pos, double *logits) {
    const model_config *c = &r->m->cfg;
    const model_tensors *w = &r->m->w;
    int d = c->dim, hd = model_head_dim(c), kv_dim = c->n_kv_heads * hd, h = c->hidden_dim;
    int kv_mul = c->n_heads / c->n_kv_heads;
    double *x = calloc((size_t)d, sizeof(double)), *xb = calloc((size_t)d, sizeof(double));
    double *q = calloc((size_t)d, sizeof(double)), *o = calloc((size_t)d, sizeof(double));
    double *h1 = calloc((size_t)h, sizeof(double)), *h3 = calloc((size_t)h, sizeof(double));
    double *att = calloc((size_t)pos + 1, sizeof(double));
    for (int i = 0; i < d; i++) x[i] = w->embed[(size_t)token * d + i];
    for (int l = 0; l < c->n_layers; l++) {
        double *kc = r->keys + ((size_t)l * r->max_pos + pos) * kv_dim;
        double *vc = r->vals + ((size_t)l * r->max_pos + pos) * kv_dim;
        ref_rmsnorm(xb, x, w->attn_norm + (size_t)l * d, d, c->norm_eps);
        ref_matvec(q, w->wq + (size_t)l * d * d, xb, d, d);
        ref_matvec(kc, w->wk + (size_t)l * kv_dim * d, xb, kv_dim, d);
        ref_matvec(vc, w->wv + (size_t)l * kv_dim * d, xb, kv_dim, d);
        for (int i = 0; i < d; i += 2) {
            double angle = pos * pow(c->rope_theta, -(double)(i % hd) / hd);
            double cs = cos(angle), sn = sin(angle);
            double q0 = q[i], q1 = q[i + 1];
            q[i] = q0 * cs - q1 * sn;
            q[i + 1] = q0 * sn + q1 * cs;
            if (i < kv_dim) {
                double k0 = kc[i], k1 = kc[i + 1];
                kc[i] = k0 * cs - k1 * sn;
                kc[i + 1] = k0 * sn + k1 * cs;
            }
        }
        for (int head = 0; head < c->n_heads; head++) {
            int kvh = head / kv_mul;
            double mx = -INFINITY, sum = 0.0;
            for (int t = 0; t <= pos; t++) {
                const double *k = r->keys + ((size_t)l * r->max_pos + t) * kv_dim + (size_t)kvh * hd;
                double s = 0.0;
                for (int i = 0; i < hd; i++) s += q[head * hd + i] * k[i];
                att[t] = s / sqrt((double)hd);
                if (att[t] > mx) mx = att[t];
            }
            for (int t = 0; t <= pos; t++) sum += (att[t] = exp(att[t] - mx));
            for (int i = 0; i < hd; i++) {
                double s = 0.0;
                for (int t = 0; t <= pos; t++)
                    s += att[t] / sum * r->vals[((size_t)l * r->max_pos + t) * kv_dim + (size_t)kvh * hd + i];
                xb[head * hd + i] = s;
            }
        }
        ref_matvec(o, w->wo + (size_t)l * d * d, xb, d, d);
        for (int i = 0; i < d; i++) x[i] += o[i];
        ref_rmsnorm(xb, x, w->ffn_norm + (size_t)l * d, d, c->norm_eps);
        ref_matvec(h1, w->w_gate + (size_t)l * h * d, xb, h, d);
        ref_matvec(h3, w->w_up + (size_t)l * h * d, xb, h, d);
        for (int i = 0; i < h; i++) h1[i] = h1[i] / (1.0 + exp(-h1[i])) * h3[i];
        ref_matvec(o, w->w_down + (size_t)l * d * h, h1, d, h);
        for (int i = 0; i < d; i++) x[i] += o[i];
    }
    ref_rmsnorm(xb, x, w->final_norm, d, c->norm_eps);
    ref_matvec(logits, w->lm_head, xb, c->vocab_size, d);
    free(x);
    free(xb);
    free(q);
    free(o);
    free(h1);
    free(h3);
    free(att);
}

/* ---- tests ---------------------------------------------------------------- */

static void random_model(model *m, int tied) {
    /* GQA (4 query heads on 2 key/value heads) and head size 16 */
    model_config c = {.dim = 64, .hidden_dim = 160, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
                      .vocab_size = 211, .seq_len = 48, .tied_embeddings = tied,
                      .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    pp_err err;
    assert_int_equal(model_alloc(m, &c, &err), PP_OK);
    model_init_random(m, 99 + tied);
    /* weights larger than the 0.02 init so attention is far from uniform */
    for (size_t i = 0; i < m->n_params; i++) m->params[i] *= 8.0f;
    for (int i = 0; i < c.n_layers * c.dim; i++) m->w.attn_norm[i] = m->w.ffn_norm[i] = 1.0f;
    for (int i = 0; i < c.dim; i++) m->w.final_norm[i] = 1.0f;
}

/* Largest |a - b| over the row, relative to the row's largest |b| (>= 1). */
static double rel_err(const float *a, const double *b, int n) {
    double scale = 1.0, e = 0.0;
    for (int i = 0; i < n; i++) scale = fmax(scale, fabs(b[i]));
    for (int i = 0; i < n; i++) e = fmax(e, fabs((double)a[i] - b[i]));
    return e / scale;
}

/* 8 sequences with different prompts, decoded one token per step as one
 * batch (and, for sequence 0, alone at batch 1): every logit row within
 * 2e-5 of the double-precision reference. */
static void test_decode_matches_reference(void **state) {
    (void)state;
    enum { S = 8, STEPS = 40 };
    for (int tied = 0; tied <= 1; tied++) {
        model m;
        random_model(&m, tied);
        int V = m.cfg.vocab_size;
        pp_err err;
        infer_state batch, single;
        assert_int_equal(infer_init(&batch, &m, S, 0, &err), PP_OK);
        assert_int_equal(infer_init(&single, &m, 1, 0, &err), PP_OK);
        ref_state ref[S];
        for (int s = 0; s < S; s++) ref_init(&ref[s], &m, m.cfg.seq_len);
        float *logits = malloc((size_t)S * V * sizeof(float)), *one = malloc((size_t)V * sizeof(float));
        double *want = malloc((size_t)V * sizeof(double));
        pp_rng rng = pp_rng_stream(3, (uint64_t)tied, 0);
        int slots[S], feed[S];
        double worst = 0.0;
        for (int step = 0; step < STEPS; step++) {
            for (int s = 0; s < S; s++) {
                slots[s] = s;
                feed[s] = (int)pp_rng_below(&rng, (uint64_t)V);
            }
            assert_int_equal(infer_decode(&batch, S, slots, feed, logits, &err), PP_OK);
            int zero = 0;
            assert_int_equal(infer_decode(&single, 1, &zero, &feed[0], one, &err), PP_OK);
            for (int s = 0; s < S; s++) {
                ref_step(&ref[s], feed[s], step, want);
                worst = fmax(worst, rel_err(logits + (size_t)s * V, want, V));
                if (s == 0) worst = fmax(worst, rel_err(one, want, V));
            }
        }
        print_message("tied %d: worst relative logit error %.2e\n", tied, worst);
        assert_true(worst < 2e-5);
        for (int s = 0; s < S; s++) ref_free(&ref[s]);
        free(logits);
        free(one);
        free(want);
        infer_free(&batch);
        infer_free(&single);
        model_free(&m);
    }
}

/* fast_expf within 2 ulp-ish (3e-7 relative) of exp over the range it
 * serves, 0 for very negative inputs, finite at the top. */
static void test_expf_accuracy(void **state) {
    (void)state;
    double worst = 0.0;
    for (int i = 0; i <= 400000; i++) {
        float x = -87.0f + 175.0f * (float)i / 400000.0f;
        double want = exp((double)x);
        if (want < 1.2e-38) continue; /* float subnormals: not served */
        worst = fmax(worst, fabs((double)fast_expf(x) - want) / want);
    }
    for (int i = -2000; i <= 2000; i++) { /* dense near 0, where softmax lives */
        float x = (float)i * 1e-3f;
        worst = fmax(worst, fabs((double)fast_expf(x) - exp((double)x)) / exp((double)x));
    }
    print_message("fast_expf worst relative error %.2e\n", worst);
    assert_true(worst < 3e-7);
    assert_true(fast_expf(-1000.0f) < 1.2e-37f && fast_expf(-1000.0f) >= 0.0f);
    assert_true(fast_expf(-INFINITY) < 1.2e-37f);
    assert_true(isfinite(fast_expf(1000.0f)) && fast_expf(1000.0f) > 1e38f);
    assert_true(fast_expf(0.0f) == 1.0f);
}

static void test_max_and_argmax(void **state) {
    (void)state;
    enum { N = 203 };
    float x[N];
    pp_rng r = pp_rng_stream(8, 1, 1);
    for (int trial = 0; trial < 200; trial++) {
        int n = 1 + trial % N;
        for (int i = 0; i < n; i++) x[i] = (float)pp_rng_normal(&r);
        if (trial % 3 == 0 && n > 5) x[n - 2] = x[2] = 9.0f; /* a tie: the lower id wins */
        int best = 0;
        for (int i = 1; i < n; i++)
            if (x[i] > x[best]) best = i;
        assert_true(fast_max(x, n) == x[best]);
        assert_int_equal(sample_argmax(x, n), best);
    }
    float nan_later[10] = {1, 2, NAN, 3, 0, 0, 0, 0, 0, -1};
    assert_int_equal(sample_argmax(nan_later, 10), 3);
}

/* stories260K: 8 sequences, each starting from BOS and a different token,
 * decoded greedily as one batch, pick the same tokens as each alone. */
static void test_stories_batch8_greedy_equals_single(void **state) {
    (void)state;
    enum { S = 8, STEPS = 120 };
    const char *env = getenv("PP_SHARED"), *root = getenv("ROOT");
    char dir[4096], path[4200];
    if (env && *env) snprintf(dir, sizeof dir, "%s", env);
    else if (root && *root) snprintf(dir, sizeof dir, "%s/../shared", root);
    else snprintf(dir, sizeof dir, "../shared");
    snprintf(path, sizeof path, "%s/models/stories260K.bin", dir);
    if (access(path, R_OK) != 0) {
        print_message("skip: %s missing (set PP_SHARED)\n", path);
        skip();
    }
    model m;
    pp_err err;
    if (llama2c_load(&m, path, NULL, NULL, &err) != PP_OK) fail_msg("%s", err.msg);
    int V = m.cfg.vocab_size;
    static int alone[S][STEPS + 2], together[S][STEPS + 2];
    float *logits = malloc((size_t)S * V * sizeof(float));
    for (int s = 0; s < S; s++) alone[s][0] = together[s][0] = 1, alone[s][1] = together[s][1] = 300 + 17 * s;
    for (int s = 0; s < S; s++) {
        infer_state st;
        assert_int_equal(infer_init(&st, &m, 1, 0, &err), PP_OK);
        int slot = 0;
        for (int t = 0; t <= STEPS; t++) {
            assert_int_equal(infer_decode(&st, 1, &slot, &alone[s][t], logits, &err), PP_OK);
            if (t >= 1) alone[s][t + 1] = sample_argmax(logits, V);
        }
        infer_free(&st);
    }
    infer_state st;
    assert_int_equal(infer_init(&st, &m, S, 0, &err), PP_OK);
    int slots[S], feed[S];
    for (int t = 0; t <= STEPS; t++) {
        for (int s = 0; s < S; s++) slots[s] = s, feed[s] = together[s][t];
        assert_int_equal(infer_decode(&st, S, slots, feed, logits, &err), PP_OK);
        if (t >= 1)
            for (int s = 0; s < S; s++) together[s][t + 1] = sample_argmax(logits + (size_t)s * V, V);
    }
    assert_memory_equal(alone, together, sizeof alone);
    /* the sequences really differ */
    assert_memory_not_equal(together[0], together[1], sizeof together[0]);
    infer_free(&st);
    free(logits);
    model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_matches_reference),
        cmocka_unit_test(test_expf_accuracy),
        cmocka_unit_test(test_max_and_argmax),
        cmocka_unit_test(test_stories_batch8_greedy_equals_single),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
