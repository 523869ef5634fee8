/* test_score.c - the scorer (score.h) against the training forward.
 *
 * A batch of sequences of different lengths (1 to 47 tokens, some masks
 * scoring only a suffix, one sequence scoring nothing) is scored by
 * model_forward_logps and by scorers with 1, 5, 64 and 256 rows per call
 * and 1 or many cache slots.  Every sequence log-prob, scored-token count
 * and final hidden row must be bit-identical to the training forward's
 * (the two passes share kernels.h).  Then the negative control (another
 * token changes the log-prob) and the errors: a sequence longer than the
 * scorer's max_len, a token outside the vocabulary, a mask that scores a
 * first token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/model_train.h"
#include "model/score.h"

#define NSEQ 9
static const int LENS[NSEQ] = {12, 1, 47, 3, 30, 8, 19, 2, 25};

typedef struct {
    int lens[NSEQ], total;
    int *tokens;
    uint8_t *mask;
} batch_data;

static void make_model(model *m, int tied, int n_kv_heads) {
    model_config c = {.dim = 32, .hidden_dim = 64, .n_layers = 2, .n_heads = 4, .n_kv_heads = n_kv_heads,
                      .vocab_size = 97, .seq_len = 48, .tied_embeddings = tied, .norm_eps = 1e-5f,
                      .rope_theta = 10000.0f};
    pp_err err = {0};
    memset(m, 0, sizeof *m);
    assert_int_equal(model_alloc(m, &c, &err), PP_OK);
    model_init_random(m, 11 + (uint64_t)tied);
    for (size_t i = 0; i < (size_t)c.vocab_size * c.dim; i++) m->w.embed[i] *= 4.0f;
}

static void make_batch(batch_data *bd, int vocab) {
    bd->total = 0;
    for (int s = 0; s < NSEQ; s++) bd->total += bd->lens[s] = LENS[s];
    bd->tokens = malloc((size_t)bd->total * sizeof(int));
    bd->mask = calloc((size_t)bd->total, 1);
    uint32_t x = 12345;
    for (int s = 0, at = 0; s < NSEQ; at += LENS[s], s++)
        for (int i = 0; i < LENS[s]; i++) {
            x = x * 1664525u + 1013904223u;
            bd->tokens[at + i] = (int)(x >> 8) % vocab;
            /* sequence 5 scores nothing; the others score from a third on */
            bd->mask[at + i] = s != 5 && i > 0 && i >= LENS[s] / 3;
        }
}

/* Score with the training forward: logp, ntok, hidden rows. */
static void train_score(const model *m, const batch_data *bd, float *logp, int *ntok, float *hidden) {
    pp_err err = {0};
    train_ws ws;
    assert_int_equal(train_ws_alloc(&ws, &m->cfg, bd->total, &err), PP_OK);
    train_batch b = {.n_seq = NSEQ, .lens = bd->lens, .tokens = bd->tokens, .target_mask = bd->mask};
    assert_int_equal(model_forward_logps(m, &ws, &b, logp, ntok, &err), PP_OK);
    memcpy(hidden, train_ws_hidden(&ws), (size_t)bd->total * m->cfg.dim * sizeof(float));
    train_ws_free(&ws);
}

static void check_scorer(const model *m, const batch_data *bd, int max_rows, size_t cache_bytes, const float *want_logp,
                         const int *want_ntok, const float *want_hidden) {
    pp_err err = {0};
    scorer sc;
    assert_int_equal(scorer_init(&sc, m, 0, max_rows, cache_bytes, &err), PP_OK);
    float logp[NSEQ], *hidden = malloc((size_t)bd->total * m->cfg.dim * sizeof(float));
    int ntok[NSEQ];
    train_batch b = {.n_seq = NSEQ, .lens = bd->lens, .tokens = bd->tokens, .target_mask = bd->mask};
    pp_status st = scorer_run(&sc, &b, logp, ntok, hidden, &err);
    if (st != PP_OK) print_message("%s\n", err.msg);
    assert_int_equal(st, PP_OK);
    print_message("max_rows %d, %d slots: logp[0] %.9g, logp[2] %.9g\n", max_rows, sc.inf.max_seqs,
                  (double)logp[0], (double)logp[2]);
    assert_memory_equal(logp, want_logp, sizeof logp);
    assert_memory_equal(ntok, want_ntok, sizeof ntok);
    assert_memory_equal(hidden, want_hidden, (size_t)bd->total * m->cfg.dim * sizeof(float));
    /* logits not wanted: hidden rows only, the same */
    memset(hidden, 0, (size_t)bd->total * m->cfg.dim * sizeof(float));
    assert_int_equal(scorer_run(&sc, &b, NULL, NULL, hidden, &err), PP_OK);
    assert_memory_equal(hidden, want_hidden, (size_t)bd->total * m->cfg.dim * sizeof(float));
    scorer_free(&sc);
    free(hidden);
}

static void run_model(int tied, int n_kv_heads) {
    model m;
    make_model(&m, tied, n_kv_heads);
    batch_data bd;
    make_batch(&bd, m.cfg.vocab_size);
    float want_logp[NSEQ], *want_hidden = malloc((size_t)bd.total * m.cfg.dim * sizeof(float));
    int want_ntok[NSEQ];
    train_score(&m, &bd, want_logp, want_ntok, want_hidden);
    assert_int_equal(want_ntok[5], 0);
    assert_true(want_logp[5] == 0.0f);
    assert_true(want_logp[2] < 0.0f);
    check_scorer(&m, &bd, 1, 0, want_logp, want_ntok, want_hidden);   /* one row per call */
    /* two slots: the sequences wait for one, the 47 tokens take 10 calls */
    size_t slot_bytes = 2 * (size_t)m.cfg.n_layers * m.cfg.seq_len * m.cfg.n_kv_heads * (m.cfg.dim / m.cfg.n_heads) * 4;
    check_scorer(&m, &bd, 5, 2 * slot_bytes, want_logp, want_ntok, want_hidden);
    check_scorer(&m, &bd, 64, 0, want_logp, want_ntok, want_hidden);
    check_scorer(&m, &bd, 256, 0, want_logp, want_ntok, want_hidden); /* everything in one call */

    /* negative control: another token in sequence 2 changes its log-prob */
    bd.tokens[LENS[0] + LENS[1] + 40] = (bd.tokens[LENS[0] + LENS[1] + 40] + 1) % m.cfg.vocab_size;
    pp_err err = {0};
    scorer sc;
    assert_int_equal(scorer_init(&sc, &m, 0, 0, 0, &err), PP_OK);
    float logp[NSEQ];
    train_batch b = {.n_seq = NSEQ, .lens = bd.lens, .tokens = bd.tokens, .target_mask = bd.mask};
    assert_int_equal(scorer_run(&sc, &b, logp, NULL, NULL, &err), PP_OK);
    assert_true(logp[2] != want_logp[2]);
    assert_true(logp[0] == want_logp[0]);
    scorer_free(&sc);
    free(want_hidden);
    free(bd.tokens);
    free(bd.mask);
    model_free(&m);
}

static void test_untied_gqa(void **state) {
    (void)state;
    run_model(0, 2);
}

static void test_tied(void **state) {
    (void)state;
    run_model(1, 4);
}

static void test_errors(void **state) {
    (void)state;
    model m;
    make_model(&m, 0, 2);
    pp_err err = {0};
    scorer sc;
    assert_int_equal(scorer_init(&sc, &m, 10, 0, 0, &err), PP_OK);
    int tokens[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, lens[1] = {12};
    train_batch b = {.n_seq = 1, .lens = lens, .tokens = tokens};
    float logp[1];
    assert_int_equal(scorer_run(&sc, &b, logp, NULL, NULL, &err), PP_EINPUT); /* longer than max_len 10 */
    assert_non_null(strstr(err.msg, "12 tokens"));
    lens[0] = 4;
    tokens[2] = 97;
    assert_int_equal(scorer_run(&sc, &b, logp, NULL, NULL, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "outside the vocabulary"));
    tokens[2] = 3;
    uint8_t mask[4] = {1, 0, 1, 1};
    b.target_mask = mask;
    assert_int_equal(scorer_run(&sc, &b, logp, NULL, NULL, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "first token"));
    mask[0] = 0;
    assert_int_equal(scorer_run(&sc, &b, logp, NULL, NULL, &err), PP_OK);
    scorer_free(&sc);
    model_free(&m);
}

/* The estimates a stage makes before allocating (scorer_estimate_bytes,
 * infer_estimate_bytes) are the bytes the scorer then allocates, for the
 * defaults and for given sizes (cache slots from cache_bytes, capped by
 * max_rows). */
static void test_estimate_is_allocation(void **state) {
    (void)state;
    model m;
    make_model(&m, 0, 2);
    pp_err err = {0};
    struct { int max_len, max_rows; size_t cache; } cases[] = {{0, 0, 0}, {10, 0, 0}, {48, 7, 0}, {20, 64, 30000}, {0, 3, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        scorer sc;
        assert_int_equal(scorer_init(&sc, &m, cases[i].max_len, cases[i].max_rows, cases[i].cache, &err), PP_OK);
        double est = scorer_estimate_bytes(&m.cfg, cases[i].max_len, cases[i].max_rows, cases[i].cache, 1);
        assert_int_equal((long long)est, (long long)scorer_memory_bytes(&sc));
        scorer_free(&sc);
    }
    infer_state st;
    assert_int_equal(infer_init_rows(&st, &m, 5, 20, 300, &err), PP_OK);
    assert_int_equal((long long)infer_estimate_bytes(&m.cfg, 5, 20, 300, 1), (long long)infer_memory_bytes(&st));
    infer_free(&st);
    model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_estimate_is_allocation),
        cmocka_unit_test(test_untied_gqa),
        cmocka_unit_test(test_tied),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
