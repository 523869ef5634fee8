/* test_infer_train_tie.c - the two transformer implementations agree.
 *
 * pp-generate scores its candidates with the KV-cache forward (infer.c,
 * through the generator), pp-train and pp-rm score sequences with the
 * full-sequence forward (model_train.c).  Each is checked against an outside
 * reference elsewhere (run.c, PyTorch); this ties them to each other: a
 * candidate's stored log-prob (the double sum of the float log softmax of
 * the RAW logits of its tokens, whatever temperature, top-k or top-p chose
 * them) equals EXACTLY the same sum, in the same order, of the per-token
 * log-probs of model_forward_logps on the same prompt + candidate tokens
 * with the candidate tokens scored, and the float sequence log-prob is that
 * sum rounded to float.  The two passes share their arithmetic (kernels.h),
 * so every token's log-prob has the same bits.  All K candidates of a
 * prompt go through one training batch.  Random models (untied with GQA,
 * tied without) always; stories260K from PP_SHARED (../shared) when it is
 * there, else that case skips, saying so. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "generate/generate.h"
#include "io/candidates.h"
#include "model/llama2c.h"
#include "model/model_train.h"

static void random_model(model *m, int tied, int n_kv_heads) {
    model_config c = {.dim = 32, .hidden_dim = 64, .n_layers = 2, .n_heads = 4, .n_kv_heads = n_kv_heads,
                      .vocab_size = 259, .seq_len = 64, .tied_embeddings = tied, .norm_eps = 1e-5f,
                      .rope_theta = 10000.0f};
    pp_err err = {0};
    memset(m, 0, sizeof *m);
    assert_int_equal(model_alloc(m, &c, &err), PP_OK);
    model_init_random(m, 7);
    /* larger logits than the default init, so samples vary and log-probs
       are far from uniform */
    for (size_t i = 0; i < (size_t)c.vocab_size * c.dim; i++) m->w.embed[i] *= 5.0f;
    assert_int_equal(tok_init_bytes(&m->tok, &err), PP_OK);
}

/* Candidates of one prompt from the generator (infer.c). */
static void generate(const model *m, const gen_params *p, const char *text, candidate_set *s) {
    pp_err err = {0};
    int *ids, n;
    assert_int_equal(generate_encode(&m->tok, m->cfg.vocab_size, text, &ids, &n, &err), PP_OK);
    generator g;
    assert_int_equal(generator_init(&g, m, p, n, &err), PP_OK);
    assert_int_equal(candidates_init(s, p->k, &err), PP_OK);
    gen_prompt pr = {.id = 3, .text = text, .tokens = ids, .n_tokens = n};
    assert_int_equal(generate_prompt(&g, &pr, s, &err), PP_OK);
    generator_free(&g);
    free(ids);
}

/* Every candidate of s: prompt + its tokens, the candidate tokens scored,
 * one batch through model_train.c's forward.  Returns the largest absolute
 * difference between the stored log-prob and the double sum of the
 * forward's token log-probs; *scored_ok is 0 when a sequence's scored-token
 * count is not its candidate length or its float log-prob is not that sum
 * rounded.  With corrupt, the last token of every candidate is replaced
 * (the negative control), and the smallest difference is returned. */
static double max_rel_diff(const model *m, const candidate_set *s, int corrupt, int *scored_ok) {
    int K = s->k;
    int64_t np;
    const int32_t *pt = candidates_prompt_tokens(s, 0, &np);
    int *lens = malloc((size_t)K * sizeof *lens), *ntok = malloc((size_t)K * sizeof *ntok);
    float *logp = malloc((size_t)K * sizeof *logp);
    int total = 0;
    for (int j = 0; j < K; j++) {
        int64_t n;
        candidates_tokens(s, j, &n);
        lens[j] = (int)(np + n);
        assert_true(lens[j] <= m->cfg.seq_len);
        total += lens[j];
    }
    int *tokens = malloc((size_t)total * sizeof *tokens);
    uint8_t *mask = calloc((size_t)total, 1);
    int at = 0;
    for (int j = 0; j < K; j++) {
        int64_t n;
        const int32_t *t = candidates_tokens(s, j, &n);
        for (int64_t i = 0; i < np; i++) tokens[at++] = pt[i];
        for (int64_t i = 0; i < n; i++) {
            mask[at] = 1;
            tokens[at++] = t[i];
        }
        if (corrupt && n > 0) tokens[at - 1] = (tokens[at - 1] + 1) % m->cfg.vocab_size;
    }
    pp_err err = {0};
    train_ws ws;
    assert_int_equal(train_ws_alloc(&ws, &m->cfg, total, &err), PP_OK);
    train_batch b = {.n_seq = K, .lens = lens, .tokens = tokens, .target_mask = mask};
    pp_status st = model_forward_logps(m, &ws, &b, logp, ntok, &err);
    if (st != PP_OK) print_message("%s\n", err.msg);
    assert_int_equal(st, PP_OK);
    double worst = corrupt ? INFINITY : 0.0;
    *scored_ok = 1;
    const float *tok_logp = train_ws_token_logps(&ws);
    for (int j = 0, row0 = 0; j < K; row0 += lens[j], j++) {
        int64_t n;
        candidates_tokens(s, j, &n);
        if (ntok[j] != n) *scored_ok = 0;
        double got = 0.0; /* the generator's order: token by token, in double */
        for (int i = lens[j] - (int)n; i < lens[j]; i++) got += (double)tok_logp[row0 + i];
        if (logp[j] != (float)got) *scored_ok = 0;
        double diff = fabs(got - s->candidate_logp[j]);
        if (corrupt ? diff < worst : diff > worst) worst = diff;
    }
    train_ws_free(&ws);
    free(lens);
    free(ntok);
    free(logp);
    free(tokens);
    free(mask);
    return worst;
}

static void check_tie(const model *m, const gen_params *p, const char *prompt) {
    candidate_set s;
    generate(m, p, prompt, &s);
    int ok;
    double diff = max_rel_diff(m, &s, 0, &ok);
    print_message("T=%g top_k=%d top_p=%g: largest difference %.3g over %d candidates\n",
                  (double)p->sample.temperature, p->sample.top_k, (double)p->sample.top_p, diff, p->k);
    assert_true(ok);
    assert_true(diff == 0.0);
    /* negative control: a candidate with another last token is told apart */
    double other = max_rel_diff(m, &s, 1, &ok);
    print_message("  with the last token changed: smallest difference %.3g\n", other);
    assert_true(other > 0.0);
    candidates_free(&s);
}

static void test_random_model(void **state) {
    (void)state;
    model m;
    random_model(&m, 0, 2);
    /* greedy, plain sampling, and tempered/truncated sampling: the stored
       log-prob is the untempered one in every case */
    gen_params greedy = {.k = 2, .max_new_tokens = 30, .sample = {0.0f, 0, 1.0f}, .seed = 1};
    gen_params plain = {.k = 5, .max_new_tokens = 30, .sample = {1.0f, 0, 1.0f}, .seed = 2};
    gen_params warped = {.k = 5, .max_new_tokens = 30, .sample = {0.6f, 20, 0.9f}, .seed = 3};
    gen_params hot = {.k = 5, .max_new_tokens = 30, .sample = {1.7f, 0, 0.95f}, .seed = 4};
    check_tie(&m, &greedy, "hello world");
    check_tie(&m, &plain, "hello world");
    check_tie(&m, &warped, "the cat sat");
    check_tie(&m, &hot, "");
    model_free(&m);
}

/* Tied embeddings (the classifier is the embedding), no GQA. */
static void test_random_tied(void **state) {
    (void)state;
    model m;
    random_model(&m, 1, 4);
    gen_params plain = {.k = 4, .max_new_tokens = 40, .sample = {1.0f, 0, 1.0f}, .seed = 9};
    gen_params warped = {.k = 3, .max_new_tokens = 40, .sample = {0.7f, 10, 0.8f}, .seed = 10};
    check_tie(&m, &plain, "a tied model");
    check_tie(&m, &warped, "x");
    model_free(&m);
}

static void test_stories260k(void **state) {
    (void)state;
    char root[1024], bin[1200], tok[1200];
    const char *sh = getenv("PP_SHARED");
    if (sh && *sh) snprintf(root, sizeof root, "%s", sh);
    else snprintf(root, sizeof root, "../shared");
    snprintf(bin, sizeof bin, "%s/models/stories260K.bin", root);
    snprintf(tok, sizeof tok, "%s/models/tok512.bin", root);
    if (access(bin, R_OK) != 0 || access(tok, R_OK) != 0) {
        print_message("skip: needs %s and tok512.bin (set PP_SHARED to the shared data directory)\n", bin);
        skip();
        return;
    }
    model m;
    pp_err err = {0};
    memset(&m, 0, sizeof m);
    assert_int_equal(llama2c_load(&m, bin, tok, NULL, &err), PP_OK);
    gen_params p = {.k = 4, .max_new_tokens = 60, .sample = {0.8f, 40, 0.9f}, .seed = 5};
    check_tie(&m, &p, "Once upon a time, there was a little girl");
    model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_model),
        cmocka_unit_test(test_random_tied),
        cmocka_unit_test(test_stories260k),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
