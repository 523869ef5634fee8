/* test_infer.c - KV-cache inference and sampling.
 *
 * Batched decode must equal decoding each sequence alone; a shared prefill
 * must equal an independent one; prefill must equal token-by-token decode;
 * sampling must honour greedy / top-k / top-p, follow softmax, report the
 * unmodified log-prob and be a pure function of its rng stream. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/infer.h"
#include "model/model.h"
#include "core/pp_rng.h"
#include "model/sample.h"

static void tiny_model(model *m, int tied, int seq_len) {
    model_config c = {.dim = 64, .hidden_dim = 96, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
                      .vocab_size = 97, .seq_len = seq_len, .tied_embeddings = tied,
                      .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    pp_err err;
    assert_int_equal(model_alloc(m, &c, &err), PP_OK);
    model_init_random(m, 1234 + tied);
    /* larger weights than the 0.02 init, so logits differ visibly between
     * positions and a wrong cache row or RoPE angle shows */
    for (size_t i = 0; i < m->n_params; i++) m->params[i] *= 10.0f;
    for (int i = 0; i < c.n_layers * c.dim; i++) m->w.attn_norm[i] = m->w.ffn_norm[i] = 1.0f;
}

static void random_tokens(int *out, int n, int vocab, uint64_t id) {
    pp_rng r = pp_rng_stream(77, id, 0);
    for (int i = 0; i < n; i++) out[i] = (int)pp_rng_below(&r, (uint64_t)vocab);
}

static float max_abs_diff(const float *a, const float *b, int n) {
    float d = 0.0f;
    for (int i = 0; i < n; i++)
        if (fabsf(a[i] - b[i]) > d) d = fabsf(a[i] - b[i]);
    return d;
}

/* Largest difference relative to the logits' scale (at least 1): BLAS
 * sums in a different order for different row counts, so float rounding of
 * logits of size ~30 reaches ~1e-5 absolute. */
static float max_rel_diff(const float *a, const float *b, int n) {
    float scale = 1.0f;
    for (int i = 0; i < n; i++)
        if (fabsf(b[i]) > scale) scale = fabsf(b[i]);
    return max_abs_diff(a, b, n) / scale;
}

/* Sequence s has a prompt of 3 + 2s tokens, then decodes `steps[s]` more
 * tokens (all fixed in advance), so sequences finish at different times. */
#define K 5
#define MAXLEN 40
static const int prompt_len[K] = {3, 5, 7, 9, 11};
static const int steps[K] = {12, 4, 9, 1, 15};

static void test_batched_equals_single(void **state) {
    (void)state;
    for (int tied = 0; tied <= 1; tied++) {
        model m;
        tiny_model(&m, tied, 64);
        int V = m.cfg.vocab_size;
        pp_err err;
        int toks[K][MAXLEN];
        for (int s = 0; s < K; s++) random_tokens(toks[s], MAXLEN, V, (uint64_t)s);

        /* reference: each sequence alone, one slot, one token per decode */
        float *ref = calloc((size_t)K * MAXLEN * V, sizeof(float));
        for (int s = 0; s < K; s++) {
            infer_state st;
            assert_int_equal(infer_init(&st, &m, 1, 0, &err), PP_OK);
            int slot = 0;
            for (int t = 0; t < prompt_len[s] + steps[s]; t++)
                assert_int_equal(infer_decode(&st, 1, &slot, &toks[s][t], ref + ((size_t)s * MAXLEN + t) * V, &err),
                                 PP_OK);
            infer_free(&st);
        }

        /* batched: prefill each slot, then decode the still-active subset */
        infer_state st;
        assert_int_equal(infer_init(&st, &m, K, 0, &err), PP_OK);
        float *logits = malloc((size_t)K * V * sizeof(float));
        for (int s = 0; s < K; s++) {
            assert_int_equal(infer_prefill(&st, s, toks[s], prompt_len[s], logits, &err), PP_OK);
            assert_int_equal(infer_position(&st, s), prompt_len[s]);
            float d = max_rel_diff(logits, ref + ((size_t)s * MAXLEN + prompt_len[s] - 1) * V, V);
            assert_true(d < 1e-5f);
        }
        for (int step = 0;; step++) {
            int slots[K], feed[K], n = 0;
            for (int s = 0; s < K; s++)
                if (step < steps[s]) {
                    slots[n] = s;
                    feed[n++] = toks[s][prompt_len[s] + step];
                }
            if (n == 0) break;
            assert_int_equal(infer_decode(&st, n, slots, feed, logits, &err), PP_OK);
            for (int i = 0; i < n; i++) {
                int s = slots[i], t = prompt_len[s] + step;
                float d = max_rel_diff(logits + (size_t)i * V, ref + ((size_t)s * MAXLEN + t) * V, V);
                if (d >= 1e-5f) print_error("tied %d seq %d pos %d: max rel diff %g\n", tied, s, t, (double)d);
                assert_true(d < 1e-5f);
            }
        }
        /* the logits really depend on the sequence (not a vacuous match) */
        assert_true(max_abs_diff(ref, ref + (size_t)MAXLEN * V, V) > 1e-3f);
        infer_free(&st);
        free(logits);
        free(ref);
        model_free(&m);
    }
}

static void test_shared_prefill(void **state) {
    (void)state;
    model m;
    tiny_model(&m, 1, 64);
    int V = m.cfg.vocab_size;
    pp_err err;
    int prompt[20], next[4] = {5, 17, 5, 90};
    random_tokens(prompt, 20, V, 99);
    infer_state shared, indep;
    assert_int_equal(infer_init(&shared, &m, 4, 0, &err), PP_OK);
    assert_int_equal(infer_init(&indep, &m, 4, 0, &err), PP_OK);
    float *first = malloc((size_t)V * sizeof(float)), *first2 = malloc((size_t)V * sizeof(float));
    float *a = malloc((size_t)4 * V * sizeof(float)), *b = malloc((size_t)4 * V * sizeof(float));
    assert_int_equal(infer_prefill(&shared, 2, prompt, 20, first, &err), PP_OK);
    int order[4] = {2, 0, 1, 3};
    for (int k = 0; k < 4; k++) assert_int_equal(infer_copy_seq(&shared, 2, k, &err), PP_OK);
    for (int k = 0; k < 4; k++) {
        assert_int_equal(infer_prefill(&indep, k, prompt, 20, first2, &err), PP_OK);
        assert_true(max_abs_diff(first, first2, V) == 0.0f);
        assert_int_equal(infer_position(&shared, k), 20);
    }
    for (int step = 0; step < 6; step++) {
        assert_int_equal(infer_decode(&shared, 4, order, next, a, &err), PP_OK);
        assert_int_equal(infer_decode(&indep, 4, order, next, b, &err), PP_OK);
        assert_true(max_abs_diff(a, b, 4 * V) == 0.0f);
        for (int k = 0; k < 4; k++) next[k] = (next[k] * 7 + step) % V;
    }
    /* rows with the same token and history agree; different tokens differ */
    assert_true(max_abs_diff(a, a + (size_t)V, V) > 1e-3f);
    infer_free(&shared);
    infer_free(&indep);
    free(first);
    free(first2);
    free(a);
    free(b);
    model_free(&m);
}

/* A prompt longer than one prefill chunk (256 rows) equals feeding it one
 * token at a time. */
static void test_prefill_chunks_equal_decode(void **state) {
    (void)state;
    model m;
    tiny_model(&m, 0, 320);
    int V = m.cfg.vocab_size, n = 300;
    pp_err err;
    int *prompt = malloc((size_t)n * sizeof(int));
    random_tokens(prompt, n, V, 5);
    infer_state a, b;
    assert_int_equal(infer_init(&a, &m, 1, 0, &err), PP_OK);
    assert_int_equal(infer_init(&b, &m, 1, 0, &err), PP_OK);
    assert_true(a.max_rows < n); /* really chunked */
    float *la = malloc((size_t)V * sizeof(float)), *lb = malloc((size_t)V * sizeof(float));
    assert_int_equal(infer_prefill(&a, 0, prompt, n, la, &err), PP_OK);
    int slot = 0;
    for (int t = 0; t < n; t++) assert_int_equal(infer_decode(&b, 1, &slot, &prompt[t], lb, &err), PP_OK);
    assert_true(max_rel_diff(la, lb, V) < 1e-5f);
    /* and decoding continues identically from both */
    int tok = 3;
    assert_int_equal(infer_decode(&a, 1, &slot, &tok, la, &err), PP_OK);
    assert_int_equal(infer_decode(&b, 1, &slot, &tok, lb, &err), PP_OK);
    assert_true(max_rel_diff(la, lb, V) < 1e-5f);
    infer_free(&a);
    infer_free(&b);
    free(la);
    free(lb);
    free(prompt);
    model_free(&m);
}

static void test_decode_errors(void **state) {
    (void)state;
    model m;
    tiny_model(&m, 1, 8);
    pp_err err;
    infer_state st;
    float *logits = malloc((size_t)2 * m.cfg.vocab_size * sizeof(float));
    assert_int_equal(infer_init(&st, &m, 2, 0, &err), PP_OK);
    int slots[2] = {0, 0}, toks[2] = {1, 2};
    assert_int_equal(infer_decode(&st, 2, slots, toks, logits, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "twice"));
    int bad = m.cfg.vocab_size;
    assert_int_equal(infer_decode(&st, 1, slots, &bad, logits, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "vocabulary"));
    bad = -1;
    assert_int_equal(infer_prefill(&st, 0, &bad, 1, logits, &err), PP_EINPUT);
    int far = 2;
    assert_int_equal(infer_decode(&st, 1, &far, toks, logits, &err), PP_EINPUT);
    int prompt[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    assert_int_equal(infer_prefill(&st, 1, prompt, 9, logits, &err), PP_EINPUT);
    assert_int_equal(infer_prefill(&st, 1, prompt, 8, logits, &err), PP_OK);
    assert_int_equal(infer_decode(&st, 1, &slots[0], toks, logits, &err), PP_OK); /* slot 0 has room */
    int one = 1;
    assert_int_equal(infer_decode(&st, 1, &one, toks, logits, &err), PP_EINPUT); /* slot 1 full */
    assert_non_null(strstr(err.msg, "full"));
    infer_free(&st);
    assert_int_equal(infer_init(&st, &m, 1, 9, &err), PP_EINPUT); /* beyond seq_len */
    free(logits);
    model_free(&m);
}

/* ---- sampling ---- */

static void random_logits(float *l, int n, uint64_t id) {
    pp_rng r = pp_rng_stream(5, id, 1);
    for (int i = 0; i < n; i++) l[i] = 3.0f * (float)pp_rng_normal(&r);
}

static void test_sample_greedy_variants(void **state) {
    (void)state;
    enum { V = 300 };
    float logits[V];
    sample_candidate scratch[V];
    for (uint64_t trial = 0; trial < 50; trial++) {
        random_logits(logits, V, trial);
        int best = 0;
        for (int i = 1; i < V; i++)
            if (logits[i] > logits[best]) best = i;
        pp_rng r = pp_rng_stream(1, trial, 0);
        sample_params greedy = {0.0f, 0, 1.0f}, k1 = {1.0f, 1, 1.0f}, p_tiny = {1.5f, 0, 1e-6f};
        float lp;
        assert_int_equal(sample_token(logits, V, &greedy, &r, scratch, &lp), best);
        assert_int_equal(r.counter, 0); /* greedy draws nothing */
        assert_int_equal(sample_token(logits, V, &k1, &r, scratch, NULL), best);
        assert_int_equal(sample_token(logits, V, &p_tiny, &r, scratch, NULL), best);
        assert_int_equal(sample_argmax(logits, V), best);
        /* log-prob under the unmodified softmax */
        double sum = 0.0;
        for (int i = 0; i < V; i++) sum += exp((double)logits[i]);
        double want = (double)logits[best] - log(sum);
        assert_true(fabs((double)lp - want) < 1e-5);
        assert_true(fabs((double)sample_logprob(logits, V, 7) - ((double)logits[7] - log(sum))) < 1e-5);
    }
    /* ties go to the lowest id */
    float tie[4] = {1.0f, 3.0f, 3.0f, 0.0f};
    assert_int_equal(sample_argmax(tie, 4), 1);
}

/* Draw many samples of a 6-token distribution and compare frequencies with
 * the expected distribution after temperature / top-k / top-p. */
static void check_frequencies(const float *logits, const sample_params *p, const double *expect) {
    enum { V = 6, N = 40000 };
    sample_candidate scratch[V];
    int count[V] = {0};
    pp_rng r = pp_rng_stream(2024, 3, 4);
    for (int i = 0; i < N; i++) {
        float lp;
        int t = sample_token(logits, V, p, &r, scratch, &lp);
        assert_true(t >= 0 && t < V);
        assert_true(fabsf(lp - sample_logprob(logits, V, t)) < 1e-6f);
        count[t]++;
    }
    for (int i = 0; i < V; i++) {
        double f = (double)count[i] / N;
        /* 5 standard errors of a binomial proportion, at least 0.005 */
        double tol = 5.0 * sqrt(expect[i] * (1 - expect[i]) / N) + 0.005;
        if (fabs(f - expect[i]) > tol)
            print_error("token %d: frequency %.4f expected %.4f (T %g k %d p %g)\n", i, f, expect[i],
                        (double)p->temperature, p->top_k, (double)p->top_p);
        assert_true(fabs(f - expect[i]) <= tol);
    }
}

static void softmax_d(const float *l, int n, double t, double *out) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s += (out[i] = exp((double)l[i] / t));
    for (int i = 0; i < n; i++) out[i] /= s;
}

static void test_sample_frequencies(void **state) {
    (void)state;
    /* token order by probability: 1, 4, 0, 2, 5, 3 */
    const float logits[6] = {0.5f, 1.5f, 0.0f, -2.0f, 1.0f, -1.0f};
    double e[6];
    sample_params p = {1.0f, 0, 1.0f};
    softmax_d(logits, 6, 1.0, e);
    check_frequencies(logits, &p, e);

    p.temperature = 0.5f;
    softmax_d(logits, 6, 0.5, e);
    check_frequencies(logits, &p, e);

    /* top-k = 3 keeps tokens 1, 4, 0, renormalised */
    double full[6];
    softmax_d(logits, 6, 1.0, full);
    p = (sample_params){1.0f, 3, 1.0f};
    double z = full[1] + full[4] + full[0];
    for (int i = 0; i < 6; i++) e[i] = (i == 1 || i == 4 || i == 0) ? full[i] / z : 0.0;
    check_frequencies(logits, &p, e);

    /* top-p: the smallest most-likely set reaching p.  full = .433 .263
     * .159 .097 ... for tokens 1, 4, 0, 2, so p = 0.8 needs 1, 4 and 0 */
    assert_true(full[1] + full[4] < 0.8 && full[1] + full[4] + full[0] >= 0.8);
    p = (sample_params){1.0f, 0, 0.8f};
    check_frequencies(logits, &p, e);

    /* top-k = 3, then top-p = 0.8 of what is left: 1 and 4 hold 0.81 of
     * the three, so token 0 goes too */
    assert_true((full[1] + full[4]) / z > 0.8);
    p = (sample_params){1.0f, 3, 0.8f};
    double z2 = full[1] + full[4];
    for (int i = 0; i < 6; i++) e[i] = (i == 1 || i == 4) ? full[i] / z2 : 0.0;
    check_frequencies(logits, &p, e);
}

static void test_sample_determinism(void **state) {
    (void)state;
    enum { V = 50, N = 200 };
    float logits[V];
    sample_candidate scratch[V];
    random_logits(logits, V, 42);
    for (int i = 0; i < V; i++) logits[i] *= 0.3f; /* flat enough for varied draws */
    sample_params p = {0.9f, 20, 0.95f};
    int a[N], b[N], c[N];
    pp_rng ra = pp_rng_stream(7, 11, 2), rb = pp_rng_stream(7, 11, 2), rc = pp_rng_stream(7, 11, 3);
    for (int i = 0; i < N; i++) {
        a[i] = sample_token(logits, V, &p, &ra, scratch, NULL);
        b[i] = sample_token(logits, V, &p, &rb, scratch, NULL);
        c[i] = sample_token(logits, V, &p, &rc, scratch, NULL);
    }
    assert_memory_equal(a, b, sizeof a);
    assert_memory_not_equal(a, c, sizeof a);
    assert_int_equal(ra.counter, N); /* exactly one draw per sampled token */
}

static void test_sample_params_check(void **state) {
    (void)state;
    pp_err err;
    sample_params ok = {0.7f, 40, 0.9f}, neg = {-1.0f, 0, 1.0f}, p0 = {1.0f, 0, 0.0f}, p2 = {1.0f, 0, 1.5f};
    sample_params nan_t = {NAN, 0, 1.0f};
    assert_int_equal(sample_params_check(&ok, &err), PP_OK);
    assert_int_equal(sample_params_check(&neg, &err), PP_EINPUT);
    assert_int_equal(sample_params_check(&p0, &err), PP_EINPUT);
    assert_int_equal(sample_params_check(&p2, &err), PP_EINPUT);
    assert_int_equal(sample_params_check(&nan_t, &err), PP_EINPUT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batched_equals_single),
        cmocka_unit_test(test_shared_prefill),
        cmocka_unit_test(test_prefill_chunks_equal_decode),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_sample_greedy_variants),
        cmocka_unit_test(test_sample_frequencies),
        cmocka_unit_test(test_sample_determinism),
        cmocka_unit_test(test_sample_params_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
