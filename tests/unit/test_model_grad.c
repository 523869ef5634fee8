/* test_model_grad.c - the training forward/backward of model_train.c:
 * log-probs against a naive double-precision full-softmax forward, the
 * target mask, independence of the sequences of a batch (bit for bit with
 * stories260K's shapes), bad batches, and
 * every parameter tensor's gradient against central finite differences on
 * a tiny random model with tied and with untied heads, also with a reward
 * head whose loss seeds the final hidden rows (model_backward_hidden). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/model_train.h"
#include "core/pp_rng.h"

/* Four sequences: prompts of 3, 2 and 1 tokens, and one of length 1 that
 * scores nothing. */
enum { NSEQ = 4, NTOK = 9 + 6 + 4 + 1 };
static const int lens[NSEQ] = {9, 6, 4, 1};
static const int toks[NTOK] = {1, 5, 7, 3, 18, 0, 2, 2, 9,   /* seq 0 */
                               4, 11, 6, 6, 17, 12,          /* seq 1 */
                               3, 8, 14, 10,                 /* seq 2 */
                               13};                          /* seq 3 */
static const uint8_t mask[NTOK] = {0, 0, 0, 1, 1, 1, 1, 1, 1,
                                   0, 0, 1, 1, 1, 1,
                                   0, 1, 1, 1,
                                   0};

static model_config tiny_config(int tied) {
    model_config c = {.dim = 16, .hidden_dim = 24, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
                      .vocab_size = 19, .seq_len = 16, .tied_embeddings = tied,
                      .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    return c;
}

/* Weights large enough that attention, norms and the head all matter
 * (model_init_random's 0.02 would make most gradients tiny). */
static void tiny_model(model *m, int tied, uint64_t seed) {
    model_config c = tiny_config(tied);
    pp_err err;
    assert_int_equal(model_alloc(m, &c, &err), PP_OK);
    int n = model_tensor_count(&c);
    tensor_info *tab = malloc((size_t)n * sizeof *tab);
    model_tensor_table(&c, tab);
    for (int t = 0; t < n; t++) {
        pp_rng r = pp_rng_stream(seed, 7, (uint64_t)t);
        float *p = m->params + tab[t].offset;
        for (size_t i = 0; i < tab[t].count; i++)
            p[i] = tab[t].rank == 1 ? 1.0f + 0.2f * (float)pp_rng_normal(&r) : 0.35f * (float)pp_rng_normal(&r);
    }
    free(tab);
}

static train_batch the_batch(void) {
    train_batch b = {.n_seq = NSEQ, .lens = lens, .tokens = toks, .target_mask = mask};
    return b;
}

/* ---- naive reference: one sequence, double precision, full softmax ---- */

static void naive_rmsnorm(double *out, const double *x, const float *w, int d, double eps) {
    double ss = 0;
    for (int j = 0; j < d; j++) ss += x[j] * x[j];
    double r = 1.0 / sqrt(ss / d + eps);
    for (int j = 0; j < d; j++) out[j] = w[j] * x[j] * r;
}

/* y[o] = sum_i W[o][i] x[i] */
static void naive_matvec(double *y, const float *W, const double *x, int o, int in) {
    for (int a = 0; a < o; a++) {
        double s = 0;
        for (int i = 0; i < in; i++) s += (double)W[(size_t)a * in + i] * x[i];
        y[a] = s;
    }
}

/* logprobs[T][V] and the final hidden states hidden[T][d] of one sequence */
static void naive_forward(const model *m, const int *tok, int T, double *logprobs, double *hidden) {
    const model_config *c = &m->cfg;
    int d = c->dim, hd = model_head_dim(c), qd = c->n_heads * hd, kvd = c->n_kv_heads * hd;
    int hid = c->hidden_dim, V = c->vocab_size, group = c->n_heads / c->n_kv_heads;
    double *x = calloc((size_t)T * d, sizeof(double)), *xn = calloc(d, sizeof(double));
    double *q = calloc((size_t)T * qd, sizeof(double)), *k = calloc((size_t)T * kvd, sizeof(double));
    double *v = calloc((size_t)T * kvd, sizeof(double)), *o = calloc(qd, sizeof(double));
    double *y = calloc(d, sizeof(double)), *a = calloc(hid, sizeof(double)), *b = calloc(hid, sizeof(double));
    double *att = calloc(T, sizeof(double)), *z = calloc(V, sizeof(double));
    double *ao = calloc((size_t)T * qd, sizeof(double));
    for (int t = 0; t < T; t++)
        for (int j = 0; j < d; j++) x[t * d + j] = m->w.embed[(size_t)tok[t] * d + j];
    for (int l = 0; l < c->n_layers; l++) {
        for (int t = 0; t < T; t++) {
            naive_rmsnorm(xn, x + t * d, m->w.attn_norm + l * d, d, c->norm_eps);
            naive_matvec(q + t * qd, m->w.wq + (size_t)l * qd * d, xn, qd, d);
            naive_matvec(k + t * kvd, m->w.wk + (size_t)l * kvd * d, xn, kvd, d);
            naive_matvec(v + t * kvd, m->w.wv + (size_t)l * kvd * d, xn, kvd, d);
            for (int i = 0; i < qd; i += 2) { /* pairs (2j, 2j+1) of each head */
                double ang = t * pow(c->rope_theta, -(double)(i % hd) / hd);
                double cs = cos(ang), sn = sin(ang);
                double q0 = q[t * qd + i], q1 = q[t * qd + i + 1];
                q[t * qd + i] = q0 * cs - q1 * sn;
                q[t * qd + i + 1] = q0 * sn + q1 * cs;
                if (i < kvd) {
                    double k0 = k[t * kvd + i], k1 = k[t * kvd + i + 1];
                    k[t * kvd + i] = k0 * cs - k1 * sn;
                    k[t * kvd + i + 1] = k0 * sn + k1 * cs;
                }
            }
        }
        for (int t = 0; t < T; t++)
            for (int h = 0; h < c->n_heads; h++) {
                const double *qh = q + t * qd + h * hd;
                int kv = (h / group) * hd;
                double mx = -1e300, sum = 0;
                for (int s = 0; s <= t; s++) {
                    double dot = 0;
                    for (int j = 0; j < hd; j++) dot += qh[j] * k[s * kvd + kv + j];
                    att[s] = dot / sqrt((double)hd);
                    if (att[s] > mx) mx = att[s];
                }
                for (int s = 0; s <= t; s++) sum += (att[s] = exp(att[s] - mx));
                for (int j = 0; j < hd; j++) {
                    double acc = 0;
                    for (int s = 0; s <= t; s++) acc += att[s] / sum * v[s * kvd + kv + j];
                    ao[t * qd + h * hd + j] = acc;
                }
            }
        for (int t = 0; t < T; t++) {
            naive_matvec(y, m->w.wo + (size_t)l * d * qd, ao + t * qd, d, qd);
            for (int j = 0; j < d; j++) x[t * d + j] += y[j];
            naive_rmsnorm(xn, x + t * d, m->w.ffn_norm + l * d, d, c->norm_eps);
            naive_matvec(a, m->w.w_gate + (size_t)l * hid * d, xn, hid, d);
            naive_matvec(b, m->w.w_up + (size_t)l * hid * d, xn, hid, d);
            for (int j = 0; j < hid; j++) a[j] = a[j] / (1 + exp(-a[j])) * b[j];
            naive_matvec(y, m->w.w_down + (size_t)l * d * hid, a, d, hid);
            for (int j = 0; j < d; j++) x[t * d + j] += y[j];
        }
    }
    for (int t = 0; t < T; t++) {
        naive_rmsnorm(hidden + t * d, x + t * d, m->w.final_norm, d, c->norm_eps);
        naive_matvec(z, m->w.lm_head, hidden + t * d, V, d);
        double mx = z[0], sum = 0;
        for (int j = 1; j < V; j++) mx = z[j] > mx ? z[j] : mx;
        for (int j = 0; j < V; j++) sum += exp(z[j] - mx);
        for (int j = 0; j < V; j++) logprobs[(size_t)t * V + j] = z[j] - mx - log(sum);
    }
    free(x), free(xn), free(q), free(k), free(v), free(o), free(y), free(a), free(b), free(att), free(z), free(ao);
}

static void check_against_naive(int tied) {
    model m;
    tiny_model(&m, tied, 42);
    train_ws ws;
    pp_err err;
    assert_int_equal(train_ws_alloc(&ws, &m.cfg, 64, &err), PP_OK);
    train_batch b = the_batch();
    float logp[NSEQ];
    int ntok[NSEQ];
    assert_int_equal(model_forward_logps(&m, &ws, &b, logp, ntok, &err), PP_OK);
    int V = m.cfg.vocab_size, d = m.cfg.dim, off = 0;
    double *lp = malloc(sizeof(double) * 16 * V), *hidden = malloc(sizeof(double) * 16 * d);
    for (int s = 0; s < NSEQ; s++) {
        naive_forward(&m, toks + off, lens[s], lp, hidden);
        double want = 0;
        int want_n = 0;
        for (int t = 1; t < lens[s]; t++) {
            double tok_lp = lp[(size_t)(t - 1) * V + toks[off + t]];
            float got_tok = train_ws_token_logps(&ws)[off + t];
            if (mask[off + t]) {
                want += tok_lp;
                want_n++;
                assert_true(fabs(got_tok - tok_lp) <= 2e-5 * (1 + fabs(tok_lp)));
            } else {
                assert_true(got_tok == 0.0f); /* prompt targets are not scored */
            }
        }
        assert_int_equal(ntok[s], want_n);
        if (fabs(logp[s] - want) > 1e-5 * (1 + fabs(want)))
            fail_msg("seq %d: logp %.7g, naive %.7g", s, logp[s], want);
        for (int t = 0; t < lens[s]; t++)
            for (int j = 0; j < d; j++) {
                double h = train_ws_hidden(&ws)[(size_t)(train_ws_seq_start(&ws, s) + t) * d + j];
                assert_true(fabs(h - hidden[t * d + j]) <= 1e-5 * (1 + fabs(hidden[t * d + j])));
            }
        off += lens[s];
    }
    assert_int_equal(ntok[3], 0);
    assert_true(logp[3] == 0.0f);
    free(lp), free(hidden);
    train_ws_free(&ws);
    model_free(&m);
}

static void test_logp_matches_naive_tied(void **state) { (void)state; check_against_naive(1); }
static void test_logp_matches_naive_untied(void **state) { (void)state; check_against_naive(0); }

/* Sequences of a batch do not see each other, and the mask only selects. */
static void test_sequences_independent_and_mask(void **state) {
    (void)state;
    model m;
    tiny_model(&m, 0, 5);
    train_ws ws;
    pp_err err;
    assert_int_equal(train_ws_alloc(&ws, &m.cfg, 64, &err), PP_OK);
    train_batch b = the_batch();
    float logp[NSEQ], alone;
    int ntok[NSEQ], n1;
    assert_int_equal(model_forward_logps(&m, &ws, &b, logp, ntok, &err), PP_OK);
    int off = 0;
    for (int s = 0; s < NSEQ; s++) {
        train_batch one = {.n_seq = 1, .lens = &lens[s], .tokens = toks + off, .target_mask = mask + off};
        assert_int_equal(model_forward_logps(&m, &ws, &one, &alone, &n1, &err), PP_OK);
        assert_int_equal(n1, ntok[s]);
        assert_true(fabsf(alone - logp[s]) <= 1e-5f * (1 + fabsf(alone)));
        off += lens[s];
    }
    /* NULL mask scores every token but the first; it adds the prompt terms */
    train_batch all = b;
    all.target_mask = NULL;
    float logp_all[NSEQ];
    int ntok_all[NSEQ];
    assert_int_equal(model_forward_logps(&m, &ws, &all, logp_all, ntok_all, &err), PP_OK);
    for (int s = 0; s < NSEQ; s++) {
        assert_int_equal(ntok_all[s], lens[s] - 1);
        if (ntok_all[s] > ntok[s]) assert_true(logp_all[s] < logp[s]); /* more negative terms */
    }
    /* nothing scored (reward features): no logits, same hidden states */
    float *hidden = malloc((size_t)NTOK * m.cfg.dim * sizeof(float));
    memcpy(hidden, train_ws_hidden(&ws), (size_t)NTOK * m.cfg.dim * sizeof(float));
    uint8_t none[NTOK] = {0};
    train_batch features = b;
    features.target_mask = none;
    assert_int_equal(model_forward_logps(&m, &ws, &features, logp_all, ntok_all, &err), PP_OK);
    for (int s = 0; s < NSEQ; s++) assert_true(ntok_all[s] == 0 && logp_all[s] == 0.0f);
    assert_memory_equal(hidden, train_ws_hidden(&ws), (size_t)NTOK * m.cfg.dim * sizeof(float));
    free(hidden);
    train_ws_free(&ws);
    model_free(&m);
}

/* A sequence's log-prob, and each token's, is bit-identical alone and
 * inside batches of 2, 7 and 32 sequences, wherever it sits: what makes
 * policy - reference exactly 0 at the reference (docs/architecture.md,
 * "Batch-invariant forward").  stories260K's layer shapes, so OpenBLAS
 * runs the kernels it runs for the real model; before the forward made one
 * sgemm per sequence, the probe's log-prob changed in its last bits with
 * the batch around it. */
static void test_logp_batch_invariant(void **state) {
    (void)state;
    enum { PROBE = 45, MAXLEN = 60, MAXSEQ = 32 };
    model_config c = {.dim = 64, .hidden_dim = 172, .n_layers = 2, .n_heads = 8, .n_kv_heads = 4,
                      .vocab_size = 512, .seq_len = 64, .tied_embeddings = 1, .norm_eps = 1e-5f,
                      .rope_theta = 10000.0f};
    model m;
    pp_err err;
    assert_int_equal(model_alloc(&m, &c, &err), PP_OK);
    model_init_random(&m, 11);
    train_ws ws;
    assert_int_equal(train_ws_alloc(&ws, &c, MAXSEQ * MAXLEN, &err), PP_OK);
    int probe[PROBE], *tok = malloc(MAXSEQ * MAXLEN * sizeof *tok), lens_b[MAXSEQ];
    uint8_t probe_mask[PROBE], *msk = malloc(MAXSEQ * MAXLEN);
    pp_rng r = pp_rng_stream(3, 4, 5);
    for (int i = 0; i < PROBE; i++) {
        probe[i] = (int)pp_rng_below(&r, 512);
        probe_mask[i] = i >= 9; /* a 9-token prompt */
    }
    float alone, *tok_alone = malloc(PROBE * sizeof *tok_alone);
    train_batch one = {.n_seq = 1, .lens = (int[]){PROBE}, .tokens = probe, .target_mask = probe_mask};
    assert_int_equal(model_forward_logps(&m, &ws, &one, &alone, NULL, &err), PP_OK);
    memcpy(tok_alone, train_ws_token_logps(&ws), PROBE * sizeof *tok_alone);
    assert_true(alone < 0);
    static const int sizes[] = {2, 7, 32};
    for (int si = 0; si < 3; si++) {
        int B = sizes[si];
        for (int at = 0; at < B; at += B > 7 ? 5 : 1) { /* the probe's place in the batch */
            int n = 0, at_row = 0;
            for (int s = 0; s < B; s++) {
                int len = s == at ? PROBE : 1 + (int)pp_rng_below(&r, MAXLEN);
                lens_b[s] = len;
                if (s == at) at_row = n;
                for (int i = 0; i < len; i++, n++) {
                    tok[n] = s == at ? probe[i] : (int)pp_rng_below(&r, 512);
                    msk[n] = s == at ? probe_mask[i] : i > 0 && pp_rng_below(&r, 2);
                }
            }
            float logp[MAXSEQ];
            train_batch b = {.n_seq = B, .lens = lens_b, .tokens = tok, .target_mask = msk};
            assert_int_equal(model_forward_logps(&m, &ws, &b, logp, NULL, &err), PP_OK);
            if (memcmp(&logp[at], &alone, sizeof alone) != 0)
                fail_msg("batch of %d, probe at %d: logp %.9g, alone %.9g", B, at, logp[at], alone);
            assert_memory_equal(train_ws_token_logps(&ws) + at_row, tok_alone, PROBE * sizeof *tok_alone);
        }
    }
    free(tok);
    free(msk);
    free(tok_alone);
    train_ws_free(&ws);
    model_free(&m);
}

static void test_bad_batches(void **state) {
    (void)state;
    model m;
    tiny_model(&m, 1, 5);
    train_ws ws;
    pp_err err;
    assert_int_equal(train_ws_alloc(&ws, &m.cfg, 24, &err), PP_OK);
    train_batch b = the_batch();
    uint8_t bad_mask[NTOK];
    memcpy(bad_mask, mask, sizeof bad_mask);
    bad_mask[9] = 1; /* first token of sequence 1 */
    b.target_mask = bad_mask;
    assert_int_equal(model_forward_logps(&m, &ws, &b, NULL, NULL, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "sequence 1"));
    float dl[NSEQ] = {0};
    float *g = calloc(m.n_params, sizeof(float));
    assert_int_equal(model_backward(&m, &ws, dl, NULL, g, &err), PP_EINPUT); /* no forward */

    int bad_toks[NTOK];
    memcpy(bad_toks, toks, sizeof bad_toks);
    bad_toks[4] = 19;
    train_batch b2 = {.n_seq = NSEQ, .lens = lens, .tokens = bad_toks, .target_mask = mask};
    assert_int_equal(model_forward_logps(&m, &ws, &b2, NULL, NULL, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "vocabulary"));

    int long_len[1] = {17}; /* > seq_len 16 */
    int many[17] = {0};
    train_batch b3 = {.n_seq = 1, .lens = long_len, .tokens = many, .target_mask = NULL};
    assert_int_equal(model_forward_logps(&m, &ws, &b3, NULL, NULL, &err), PP_EINPUT);

    int two_long[2] = {16, 16}; /* 32 > workspace's 24 tokens */
    int toks32[32] = {0};
    train_batch b4 = {.n_seq = 2, .lens = two_long, .tokens = toks32, .target_mask = NULL};
    assert_int_equal(model_forward_logps(&m, &ws, &b4, NULL, NULL, &err), PP_EINPUT);
    free(g);
    train_ws_free(&ws);
    model_free(&m);
}

/* ---- finite differences ---------------------------------------------------- */

/* The loss being differentiated: a weighted sum of sequence log-probs plus
 * weights on single tokens (exercises both inputs of model_backward). */
static const float seq_w[NSEQ] = {-0.7f, 0.4f, -1.1f, 0.3f};

static float tok_weight(int i) { return mask[i] ? 0.05f * (float)((i * 7) % 5 - 2) : 0.0f; }

static double loss_at(const model *m, train_ws *ws) {
    train_batch b = the_batch();
    float logp[NSEQ];
    pp_err err;
    assert_int_equal(model_forward_logps(m, ws, &b, logp, NULL, &err), PP_OK);
    double L = 0;
    for (int s = 0; s < NSEQ; s++) L += (double)seq_w[s] * logp[s];
    for (int i = 0; i < NTOK; i++) L += (double)tok_weight(i) * train_ws_token_logps(ws)[i];
    return L;
}

static void check_gradients(int tied) {
    model m;
    tiny_model(&m, tied, 1234 + tied);
    train_ws ws;
    pp_err err;
    assert_int_equal(train_ws_alloc(&ws, &m.cfg, 64, &err), PP_OK);
    float *grads = calloc(m.n_params, sizeof(float)), dtok[NTOK];
    for (int i = 0; i < NTOK; i++) dtok[i] = tok_weight(i);
    train_batch b = the_batch();
    assert_int_equal(model_forward_logps(&m, &ws, &b, NULL, NULL, &err), PP_OK);
    assert_int_equal(model_backward(&m, &ws, seq_w, dtok, grads, &err), PP_OK);

    /* backward accumulates: a second call doubles the gradient */
    float *twice = calloc(m.n_params, sizeof(float));
    assert_int_equal(model_backward(&m, &ws, seq_w, dtok, twice, &err), PP_OK);
    assert_int_equal(model_backward(&m, &ws, seq_w, dtok, twice, &err), PP_OK);
    for (size_t i = 0; i < m.n_params; i++) assert_true(fabsf(twice[i] - 2 * grads[i]) <= 1e-6f * (1 + fabsf(grads[i])));
    free(twice);

    int nt = model_tensor_count(&m.cfg);
    tensor_info *tab = malloc((size_t)nt * sizeof *tab);
    model_tensor_table(&m.cfg, tab);
    pp_rng r = pp_rng_stream(99, (uint64_t)tied, 0);
    int checked = 0;
    double worst = 0;
    for (int t = 0; t < nt; t++) {
        double gmax = 0; /* the tensor's gradient scale, for a floor on the tolerance */
        for (size_t i = 0; i < tab[t].count; i++) gmax = fmax(gmax, fabs(grads[tab[t].offset + i]));
        assert_true(gmax > 0); /* every tensor receives gradient */
        for (int sample = 0; sample < 6; sample++) {
            size_t i = pp_rng_below(&r, tab[t].count);
            if (tab[t].is_embedding && sample < 4) /* rows of tokens in the batch */
                i = (size_t)toks[pp_rng_below(&r, NTOK)] * m.cfg.dim + pp_rng_below(&r, m.cfg.dim);
            float *p = m.params + tab[t].offset + i, saved = *p;
            float h = 1e-2f * fmaxf(1.0f, fabsf(saved));
            *p = saved + h;
            double lp = loss_at(&m, &ws);
            *p = saved - h;
            double lm = loss_at(&m, &ws);
            *p = saved;
            double fd = (lp - lm) / (2.0 * h), an = grads[tab[t].offset + i];
            double e = fabs(fd - an) / (fabs(an) + 2e-2 * gmax + 1e-4);
            worst = fmax(worst, e);
            if (e > 1e-2)
                fail_msg("%s tensor %s[%zu]: analytic %.6g, finite difference %.6g (gmax %.3g)",
                         tied ? "tied" : "untied", tab[t].name, i, an, fd, gmax);
            checked++;
        }
    }
    print_message("%s head: %d elements of %d tensors, worst scaled error %.2e\n", tied ? "tied" : "untied",
                  checked, nt, worst);
    free(tab);
    free(grads);
    train_ws_free(&ws);
    model_free(&m);
}

static void test_gradients_tied(void **state) { (void)state; check_gradients(1); }
static void test_gradients_untied(void **state) { (void)state; check_gradients(0); }

/* ---- a seed on the hidden rows (model_backward_hidden): a reward head ----- */

/* The loss of pp-rm --kind pointwise's shape, plus log-prob terms so both
 * kinds of seed meet in the final RMSNorm's backward:
 *   L = sum_s seq_w[s] logp[s] + sum_s reward_w[s] r_s,
 *   r_s = reward_head . (final hidden state at the last token of s). */
static const double reward_w[NSEQ] = {0.9, -1.3, 0.6, -0.4};

static double reward_of_seq(const model *m, const train_ws *ws, int s) {
    const float *h = train_ws_hidden(ws) + (size_t)(train_ws_seq_start(ws, s) + lens[s] - 1) * m->cfg.dim;
    double r = 0;
    for (int j = 0; j < m->cfg.dim; j++) r += (double)m->w.reward_head[j] * h[j];
    return r;
}

static double reward_loss_at(const model *m, train_ws *ws) {
    train_batch b = the_batch();
    float logp[NSEQ];
    pp_err err;
    assert_int_equal(model_forward_logps(m, ws, &b, logp, NULL, &err), PP_OK);
    double L = 0;
    for (int s = 0; s < NSEQ; s++) L += (double)seq_w[s] * logp[s] + reward_w[s] * reward_of_seq(m, ws, s);
    return L;
}

static void check_hidden_gradients(int tied) {
    model m;
    tiny_model(&m, tied, 4321 + tied);
    pp_err err;
    assert_int_equal(model_add_reward_head(&m, &err), PP_OK);
    assert_int_equal(m.cfg.reward_head, 1);
    assert_ptr_equal(m.w.reward_head, m.params + m.n_params - m.cfg.dim); /* the buffer's last dim floats */
    pp_rng hr = pp_rng_stream(77, (uint64_t)tied, 1);
    for (int j = 0; j < m.cfg.dim; j++) m.w.reward_head[j] = 0.5f * (float)pp_rng_normal(&hr);
    train_ws ws;
    assert_int_equal(train_ws_alloc(&ws, &m.cfg, 64, &err), PP_OK);
    float *grads = calloc(m.n_params, sizeof(float)), *dhidden = calloc((size_t)NTOK * m.cfg.dim, sizeof(float));
    train_batch b = the_batch();
    assert_int_equal(model_forward_logps(&m, &ws, &b, NULL, NULL, &err), PP_OK);
    /* dL/dh = reward_w[s] head on each last row; dL/dhead = sum_s reward_w[s] h_s */
    model_tensors g;
    model_point(&g, grads, &m.cfg);
    for (int s = 0; s < NSEQ; s++) {
        int row = train_ws_seq_start(&ws, s) + lens[s] - 1;
        const float *h = train_ws_hidden(&ws) + (size_t)row * m.cfg.dim;
        for (int j = 0; j < m.cfg.dim; j++) {
            dhidden[(size_t)row * m.cfg.dim + j] = (float)reward_w[s] * m.w.reward_head[j];
            g.reward_head[j] += (float)reward_w[s] * h[j];
        }
    }
    assert_int_equal(model_backward_hidden(&m, &ws, seq_w, NULL, dhidden, grads, &err), PP_OK);

    int nt = model_tensor_count(&m.cfg);
    tensor_info *tab = malloc((size_t)nt * sizeof *tab);
    model_tensor_table(&m.cfg, tab);
    assert_string_equal(tab[nt - 1].name, "reward_head.weight");
    pp_rng r = pp_rng_stream(98, (uint64_t)tied, 0);
    double worst = 0;
    for (int t = 0; t < nt; t++) {
        double gmax = 0;
        for (size_t i = 0; i < tab[t].count; i++) gmax = fmax(gmax, fabs(grads[tab[t].offset + i]));
        assert_true(gmax > 0);
        for (int sample = 0; sample < 6; sample++) {
            size_t i = pp_rng_below(&r, tab[t].count);
            if (tab[t].is_embedding && sample < 4)
                i = (size_t)toks[pp_rng_below(&r, NTOK)] * m.cfg.dim + pp_rng_below(&r, m.cfg.dim);
            float *p = m.params + tab[t].offset + i, saved = *p;
            /* a smaller step than above: the reward term curves more (head
             * weights of 0.5), 1e-2 leaves a truncation error near the tolerance */
            float h = 3e-3f * fmaxf(1.0f, fabsf(saved));
            *p = saved + h;
            double lp = reward_loss_at(&m, &ws);
            *p = saved - h;
            double lm = reward_loss_at(&m, &ws);
            *p = saved;
            double fd = (lp - lm) / (2.0 * h), an = grads[tab[t].offset + i];
            double e = fabs(fd - an) / (fabs(an) + 2e-2 * gmax + 1e-4);
            worst = fmax(worst, e);
            if (e > 1e-2)
                fail_msg("reward head (%s): tensor %s[%zu]: analytic %.6g, finite difference %.6g (gmax %.3g)",
                         tied ? "tied" : "untied", tab[t].name, i, an, fd, gmax);
        }
    }
    print_message("reward head, %s embeddings: %d tensors, worst scaled error %.2e\n", tied ? "tied" : "untied", nt,
                  worst);

    /* without the hidden seed, model_backward_hidden is model_backward */
    float *g1 = calloc(m.n_params, sizeof(float)), *g2 = calloc(m.n_params, sizeof(float));
    assert_int_equal(model_backward(&m, &ws, seq_w, NULL, g1, &err), PP_OK);
    assert_int_equal(model_backward_hidden(&m, &ws, seq_w, NULL, NULL, g2, &err), PP_OK);
    assert_memory_equal(g1, g2, m.n_params * sizeof(float));
    free(g1), free(g2);
    free(tab);
    free(grads);
    free(dhidden);
    train_ws_free(&ws);
    model_free(&m);
}

static void test_reward_head_gradients_tied(void **state) { (void)state; check_hidden_gradients(1); }
static void test_reward_head_gradients_untied(void **state) { (void)state; check_hidden_gradients(0); }

/* --recompute: the workspace that keeps one layer's activations and
 * recomputes the others in backward gives the same gradient bits, the same
 * log-probs, and is smaller; a second backward on the same forward too. */
static void check_recompute(int tied) {
    model m;
    tiny_model(&m, tied, 5);
    m.cfg.n_layers = 2;
    pp_err err;
    train_ws keep, redo;
    assert_int_equal(train_ws_alloc_mode(&keep, &m.cfg, 64, 0, &err), PP_OK);
    assert_int_equal(train_ws_alloc_mode(&redo, &m.cfg, 64, 1, &err), PP_OK);
    assert_true(train_ws_bytes(&m.cfg, 64, 1) < train_ws_bytes(&m.cfg, 64, 0));
    train_batch b = the_batch();
    float lp_keep[NSEQ], lp_redo[NSEQ], dlogp[NSEQ] = {-1.0f, 0.5f, -0.25f, 2.0f};
    float dtok[NTOK];
    for (int i = 0; i < NTOK; i++) dtok[i] = 0.1f * (float)(i % 5) - 0.2f;
    float *g_keep = calloc(m.n_params, sizeof(float)), *g_redo = calloc(m.n_params, sizeof(float));
    assert_int_equal(model_forward_logps(&m, &keep, &b, lp_keep, NULL, &err), PP_OK);
    assert_int_equal(model_forward_logps(&m, &redo, &b, lp_redo, NULL, &err), PP_OK);
    assert_memory_equal(lp_keep, lp_redo, sizeof lp_keep);
    for (int pass = 0; pass < 2; pass++) {
        assert_int_equal(model_backward(&m, &keep, dlogp, dtok, g_keep, &err), PP_OK);
        assert_int_equal(model_backward(&m, &redo, dlogp, dtok, g_redo, &err), PP_OK);
        assert_memory_equal(g_keep, g_redo, m.n_params * sizeof(float));
    }
    double norm = 0;
    for (size_t i = 0; i < m.n_params; i++) norm += (double)g_keep[i] * g_keep[i];
    assert_true(norm > 0); /* a gradient, not two zero buffers */
    free(g_keep), free(g_redo);
    train_ws_free(&keep);
    train_ws_free(&redo);
    model_free(&m);
}

static void test_recompute_bit_identical_tied(void **state) { (void)state; check_recompute(1); }
static void test_recompute_bit_identical_untied(void **state) { (void)state; check_recompute(0); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logp_matches_naive_tied),
        cmocka_unit_test(test_logp_matches_naive_untied),
        cmocka_unit_test(test_sequences_independent_and_mask),
        cmocka_unit_test(test_logp_batch_invariant),
        cmocka_unit_test(test_bad_batches),
        cmocka_unit_test(test_gradients_tied),
        cmocka_unit_test(test_gradients_untied),
        cmocka_unit_test(test_reward_head_gradients_tied),
        cmocka_unit_test(test_reward_head_gradients_untied),
        cmocka_unit_test(test_recompute_bit_identical_tied),
        cmocka_unit_test(test_recompute_bit_identical_untied),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
