/* test_kernels.c - kern_attend computes every score, probability and
 * output element by the documented operations in the documented order.
 *
 * The reference below is the plain per-head, per-element form of
 * kernels.h's contract (run.c's order for the scores: one dimension at a
 * time from 0, then divided by sqrt(head_dim); fast_softmax per head; the
 * values in blocks of eight positions whose products are summed left to
 * right before joining the total, then the remaining positions one at a
 * time).  kern_attend (all heads at once, keys in 16-position blocks,
 * vectorised) must give the same bits for many head sizes, grouped-query
 * layouts and lengths: the decoder's speed work may reorder memory
 * traffic, never arithmetic, so inference, training and every stored
 * fixture keep their numbers.  The same holds for the pieces under it
 * (fast_max and fast_softmax_rows against the scalar lane form, kern_rope
 * against its scalar form, kern_rmsnorm_rows against kern_rmsnorm) and for
 * the sampler's uncut draw (against the candidate list it skips). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/pp_rng.h"
#include "model/fastmath.h"
#include "model/kernels.h"
#include "model/sample.h"

/* One head: keys k[t][hd] and values v[t][hd] at row stride `stride`. */
static void reference_head(float *out, float *att, const float *q, const float *k, const float *v, size_t stride,
                           int hd, int len) {
    float scale = sqrtf((float)hd);
    for (int t = 0; t < len; t++) {
        float s = 0.0f;
        for (int i = 0; i < hd; i++) s = s + q[i] * k[(size_t)t * stride + i];
        att[t] = s / scale;
    }
    fast_softmax(att, len);
    for (int j = 0; j < hd; j++) {
        float o = 0.0f;
        int t = 0;
        for (; t + 8 <= len; t += 8) {
            float block = att[t] * v[(size_t)t * stride + j];
            for (int u = 1; u < 8; u++) block = block + att[t + u] * v[(size_t)(t + u) * stride + j];
            o = o + block;
        }
        for (; t < len; t++) o = o + att[t] * v[(size_t)t * stride + j];
        out[j] = o;
    }
}

/* fastmath.h's softmax contract in its plain scalar form: the max in 16
 * lanes (each from x[0], over the whole blocks, then the tail padded with
 * x[0]) reduced lane 0 first; the exponentials' sum in 16 lanes over the
 * whole blocks, the tail one at a time from 0, then the lanes in order;
 * then every element times 1 / the sum.  fast_softmax_rows reduces rows
 * side by side in vectors and must give these bits. */
static float reference_max(const float *x, int n) {
    float lane[16], tail[16];
    int end = n - n % 16;
    for (int u = 0; u < 16; u++) lane[u] = x[0], tail[u] = end + u < n ? x[end + u] : x[0];
    for (int j = 0; j < end; j += 16)
        for (int u = 0; u < 16; u++) lane[u] = x[j + u] > lane[u] ? x[j + u] : lane[u];
    for (int u = 0; u < 16; u++) lane[u] = tail[u] > lane[u] ? tail[u] : lane[u];
    float best = lane[0];
    for (int u = 1; u < 16; u++) best = lane[u] > best ? lane[u] : best;
    return best;
}

static void reference_softmax(float *x, int n) {
    float shift = reference_max(x, n), acc[16] = {0}, s = 0.0f;
    int end = n - n % 16;
    for (int j = 0; j < end; j += 16)
        for (int u = 0; u < 16; u++) {
            x[j + u] = fast_expf(x[j + u] - shift);
            acc[u] += x[j + u];
        }
    for (int j = end; j < n; j++) {
        x[j] = fast_expf(x[j] - shift);
        s += x[j];
    }
    for (int u = 0; u < 16; u++) s += acc[u];
    float inv = 1.0f / s;
    for (int j = 0; j < n; j++) x[j] *= inv;
}

/* Rows of many lengths (any tail), 1 to 19 rows (more than one group of
 * rows), values from tiny to beyond the exp clamp, signed zeros, and a
 * row whose maximum is a zero of either sign. */
static void test_softmax_rows_match_reference(void **state) {
    (void)state;
    enum { MAX_N = 100, MAX_ROWS = 19, STRIDE = MAX_N + 5 };
    static float x[MAX_ROWS * STRIDE + 1], ref[MAX_ROWS * STRIDE + 1];
    pp_rng rng = pp_rng_stream(5, 1, 2);
    for (int n = 1; n <= MAX_N; n += n < 40 ? 1 : 7)
        for (int rows = 1; rows <= MAX_ROWS; rows += 6) {
            for (size_t i = 0; i < sizeof x / sizeof x[0]; i++) {
                double u = pp_rng_uniform(&rng);
                x[i] = (float)(u < 0.05 ? 0.0 : u < 0.1 ? -0.0 : u < 0.15 ? -200.0 * u : (u - 0.5) * 30.0);
            }
            for (int j = 0; j < n; j++) x[STRIDE + j] = j % 3 ? -1.0f - (float)j : (j % 2 ? -0.0f : 0.0f);
            memcpy(ref, x, sizeof x);
            for (int r = 0; r < rows; r++) {
                assert_true(fast_max(x + r * STRIDE, n) == reference_max(ref + r * STRIDE, n));
                reference_softmax(ref + r * STRIDE, n);
            }
            fast_softmax_rows(x, STRIDE, rows, n);
            if (memcmp(x, ref, sizeof x) != 0) fail_msg("softmax of %d rows of %d differs from the reference", rows, n);
        }
}

/* sample_token without a cut (top_k 0, top_p 1) against the plain form of
 * its draw: the whole candidate list in id order with probabilities
 * fast_expf((logit - max) / T), their sum in double over 8 lanes (whole
 * blocks, the rest one at a time, then the lanes), u = draw * sum, the
 * first id whose running double sum passes u; at T = 1 the log-prob from
 * that max and sum.  The sampler skips building the list there (and finds
 * the token through block sums, scanning exactly only near a rounding
 * margin, below 16 entries, or in a last partial block: vocabularies 1,
 * 7, 17, 300 and 1000 take that scan too) and must give the same token
 * and log-prob bits. */
static int reference_draw(const float *logits, int V, float T, pp_rng *rng, float *logprob) {
    enum { L = 8 };
    static float prob[1000];
    float max = reference_max(logits, V);
    double lane[L] = {0}, total = 0.0, cum = 0.0;
    for (int i = 0; i < V; i++) prob[i] = fast_expf((logits[i] - max) / T);
    int i = 0;
    for (; i + L <= V; i += L)
        for (int u = 0; u < L; u++) lane[u] += (double)prob[i + u];
    for (; i < V; i++) total += (double)prob[i];
    for (int u = 0; u < L; u++) total += lane[u];
    double u = pp_rng_uniform(rng) * total;
    int token = V - 1;
    for (int j = 0; j < V; j++) {
        cum += prob[j];
        if (u < cum) {
            token = j;
            break;
        }
    }
    *logprob = T == 1.0f ? (float)((double)(logits[token] - max) - log(total)) : sample_logprob(logits, V, token);
    return token;
}

static void test_sample_uncut_matches_list(void **state) {
    (void)state;
    enum { MAX_V = 1000 };
    static float logits[MAX_V];
    static sample_candidate scratch[MAX_V];
    static const int vocab[] = {1, 7, 16, 17, 300, 512, 1000};
    static const float temperature[] = {1.0f, 0.7f, 1.3f};
    for (size_t v = 0; v < sizeof vocab / sizeof vocab[0]; v++)
        for (size_t k = 0; k < sizeof temperature / sizeof temperature[0]; k++)
            for (uint64_t trial = 0; trial < 200; trial++) {
                int V = vocab[v];
                pp_rng init = pp_rng_stream(9, v * 100 + trial, k);
                for (int i = 0; i < V; i++) logits[i] = (float)(pp_rng_uniform(&init) * 24.0 - 12.0);
                sample_params p = {temperature[k], 0, 1.0f};
                pp_rng a = pp_rng_stream(3, trial, v), b = a;
                float lp, ref_lp;
                int t = sample_token(logits, V, &p, &a, scratch, &lp), ref = reference_draw(logits, V, p.temperature, &b, &ref_lp);
                if (t != ref || memcmp(&lp, &ref_lp, sizeof lp) != 0)
                    fail_msg("vocab %d, T %g, trial %d: token %d log-prob %a, the list's %d %a", V,
                             (double)p.temperature, (int)trial, t, (double)lp, ref, (double)ref_lp);
            }
}

static void check_shape(int n_heads, int n_kv_heads, int hd, int len, uint64_t seed) {
    int kv_dim = n_kv_heads * hd, qd = n_heads * hd, group = n_heads / n_kv_heads;
    pp_rng rng = pp_rng_stream(seed, (uint64_t)hd, (uint64_t)len);
    float *q = malloc((size_t)qd * sizeof(float));
    float *k = malloc((size_t)len * kv_dim * sizeof(float));
    float *v = malloc((size_t)len * kv_dim * sizeof(float));
    float *keys = malloc(kern_keys_floats(len, kv_dim) * sizeof(float));
    float *att = malloc((size_t)n_heads * len * sizeof(float)), *ref_att = malloc((size_t)len * sizeof(float));
    float *out = malloc((size_t)qd * sizeof(float)), *ref_out = malloc((size_t)hd * sizeof(float));
    assert_non_null(q), assert_non_null(k), assert_non_null(v), assert_non_null(keys);
    assert_non_null(att), assert_non_null(ref_att), assert_non_null(out), assert_non_null(ref_out);
    for (int i = 0; i < qd; i++) q[i] = (float)(pp_rng_uniform(&rng) * 4.0 - 2.0);
    for (size_t i = 0; i < (size_t)len * kv_dim; i++) {
        k[i] = (float)(pp_rng_uniform(&rng) * 2.0 - 1.0);
        v[i] = (float)(pp_rng_uniform(&rng) * 2.0 - 1.0);
    }
    for (int t = 0; t < len; t++) kern_keys_put(keys, kv_dim, t, k + (size_t)t * kv_dim);
    kern_attend(out, att, (size_t)len, q, keys, v, n_heads, n_kv_heads, hd, len);
    for (int h = 0; h < n_heads; h++) {
        size_t kvo = (size_t)(h / group) * hd;
        reference_head(ref_out, ref_att, q + (size_t)h * hd, k + kvo, v + kvo, (size_t)kv_dim, hd, len);
        if (memcmp(ref_att, att + (size_t)h * len, (size_t)len * sizeof(float)) != 0 ||
            memcmp(ref_out, out + (size_t)h * hd, (size_t)hd * sizeof(float)) != 0)
            fail_msg("heads %d/%d, head_dim %d, len %d: head %d differs from the reference", n_heads, n_kv_heads, hd,
                     len, h);
    }
    free(q), free(k), free(v), free(keys), free(att), free(ref_att), free(out), free(ref_out);
}

static void test_attend_matches_reference(void **state) {
    (void)state;
    /* stories260K's 8 heads / 4 kv heads of 8 floats first, then heads of
     * 8 in every grouping and head count the 8-float path splits (8, 4,
     * 2, 1 heads at a time), then other widths */
    static const int shapes[][3] = {{8, 4, 8},  {8, 8, 8},  {16, 4, 8}, {15, 5, 8}, {7, 7, 8},  {6, 3, 8},
                                    {2, 1, 8},  {1, 1, 8},  {4, 4, 48}, {6, 6, 48}, {4, 2, 16}, {8, 2, 64},
                                    {4, 4, 72}, {3, 1, 6},  {2, 2, 5},  {8, 8, 64}, {1, 1, 24}, {2, 2, 40},
                                    {13, 13, 8 * 12}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int len = 1; len <= 150; len += len < 40 ? 1 : 13)
            check_shape(shapes[s][0], shapes[s][1], shapes[s][2], len, 11 + s);
}

/* kern_rope against its scalar form (v0*c - v1*s, v0*s + v1*c per pair)
 * for head sizes that tile a vector (the vector path), and others. */
static void test_rope_matches_reference(void **state) {
    (void)state;
    static const int head_dims[] = {2, 4, 8, 16, 6, 48, 72};
    pp_rng rng = pp_rng_stream(17, 0, 0);
    for (size_t k = 0; k < sizeof head_dims / sizeof head_dims[0]; k++)
        for (int n_heads = 1; n_heads <= 9; n_heads++) {
            int hd = head_dims[k], n = n_heads * hd;
            float v[9 * 72 + 1], ref[9 * 72 + 1], c[36], sn[36];
            for (int i = 0; i < hd / 2; i++)
                c[i] = (float)(pp_rng_uniform(&rng) * 2 - 1), sn[i] = (float)(pp_rng_uniform(&rng) * 2 - 1);
            for (int i = 0; i <= n; i++) v[i] = ref[i] = (float)(pp_rng_uniform(&rng) * 8 - 4);
            v[0] = ref[0] = -0.0f;
            for (int h = 0; h < n_heads; h++)
                for (int i = 0; i < hd / 2; i++) {
                    float *p = ref + h * hd + 2 * i, v0 = p[0], v1 = p[1];
                    p[0] = v0 * c[i] - v1 * sn[i];
                    p[1] = v0 * sn[i] + v1 * c[i];
                }
            kern_rope(v, n_heads, hd, c, sn);
            if (memcmp(v, ref, (size_t)(n + 1) * sizeof(float)) != 0)
                fail_msg("rope of %d heads of %d differs from the reference", n_heads, hd);
        }
}

/* kern_rmsnorm_rows gives each row kern_rmsnorm's bits (and 1/rms). */
static void test_rmsnorm_rows_match_single(void **state) {
    (void)state;
    static const int dims[] = {1, 7, 64, 288};
    static float x[19 * 288], gain[288], out[19 * 288 + 1], ref[19 * 288 + 1], rinv[19];
    pp_rng rng = pp_rng_stream(23, 0, 0);
    for (size_t k = 0; k < sizeof dims / sizeof dims[0]; k++)
        for (int n = 1; n <= 19; n += 3) {
            int d = dims[k];
            for (int i = 0; i < n * d; i++) x[i] = (float)(pp_rng_uniform(&rng) * 6 - 3);
            for (int j = 0; j < d; j++) gain[j] = (float)(pp_rng_uniform(&rng) * 2);
            out[n * d] = ref[n * d] = 7.0f;
            kern_rmsnorm_rows(out, x, gain, n, d, 1e-5f, rinv);
            for (int r = 0; r < n; r++) {
                float want = kern_rmsnorm(ref + (size_t)r * d, x + (size_t)r * d, gain, d, 1e-5f);
                assert_memory_equal(&rinv[r], &want, sizeof want);
            }
            assert_memory_equal(out, ref, (size_t)(n * d + 1) * sizeof(float));
        }
}

/* A key block holds 16 positions; a store of n positions holds whole blocks. */
static void test_key_layout(void **state) {
    (void)state;
    assert_int_equal(kern_keys_floats(1, 3), 16 * 3);
    assert_int_equal(kern_keys_floats(16, 3), 16 * 3);
    assert_int_equal(kern_keys_floats(17, 3), 32 * 3);
    float keys[32 * 3], k[3] = {1.0f, 2.0f, 3.0f};
    memset(keys, 0, sizeof keys);
    kern_keys_put(keys, 3, 17, k);
    assert_true(keys[16 * 3 + 0 * 16 + 1] == 1.0f);
    assert_true(keys[16 * 3 + 1 * 16 + 1] == 2.0f);
    assert_true(keys[16 * 3 + 2 * 16 + 1] == 3.0f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_softmax_rows_match_reference),
        cmocka_unit_test(test_sample_uncut_matches_list),
        cmocka_unit_test(test_attend_matches_reference),
        cmocka_unit_test(test_rope_matches_reference),
        cmocka_unit_test(test_rmsnorm_rows_match_single),
        cmocka_unit_test(test_key_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
