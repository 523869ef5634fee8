/* test_decode.c - the continuous-batching decoder (src/model/decode.h).
 *
 * A candidate's tokens, per-token log-probs (bits), log-prob sum and finish
 * reason must not depend on --max-batch, on the KV budget, on the order the
 * prompts arrive in or on which other prompts share the run, and must equal
 * generate_prompt's (one prompt's K candidates as one batch).  Checked on a
 * small random model whose sizes are not multiples of the SIMD width, and
 * on stories260K (skipped without $PP_SHARED or ../shared): greedy from BOS,
 * 200 tokens, co-scheduled with other prompts, must give llama2.c's golden
 * text at every batch size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/pp_rng.h"
#include "generate/generate.h"
#include "io/candidates.h"
#include "model/decode.h"
#include "model/llama2c.h"

enum { NP = 12, K = 4, NEW = 24, MAXP = 20, MAXK = 8, MAXNEW = 200 };

/* What a run produced, filed by (prompt id, k). */
typedef struct {
    int n[64][MAXK], finish[64][MAXK], tok[64][MAXK][MAXNEW];
    float lp[64][MAXK][MAXNEW];
    double logp[64][MAXK];
    int seen[64][MAXK];
    const decoder_prompt *prompts;
} results;

static pp_status file_result(void *ctx, const decoder_result *r, pp_err *err) {
    results *R = ctx;
    int id = (int)R->prompts[r->prompt].id;
    assert_true(id >= 0 && id < 64 && r->k < MAXK && r->n_tokens <= MAXNEW);
    assert_int_equal(R->seen[id][r->k], 0);
    R->seen[id][r->k] = 1;
    R->n[id][r->k] = r->n_tokens;
    R->finish[id][r->k] = r->finish;
    R->logp[id][r->k] = r->logp;
    memcpy(R->tok[id][r->k], r->tokens, (size_t)r->n_tokens * sizeof(int));
    memcpy(R->lp[id][r->k], r->logprobs, (size_t)r->n_tokens * sizeof(float));
    return PP_OK;
}

/* Candidate (id, k) identical, bit for bit, in a and b. */
static void assert_same(const results *a, const results *b, int id, int k) {
    assert_true(a->seen[id][k] && b->seen[id][k]);
    assert_int_equal(a->n[id][k], b->n[id][k]);
    assert_int_equal(a->finish[id][k], b->finish[id][k]);
    assert_memory_equal(a->tok[id][k], b->tok[id][k], (size_t)a->n[id][k] * sizeof(int));
    assert_memory_equal(a->lp[id][k], b->lp[id][k], (size_t)a->n[id][k] * sizeof(float));
    assert_memory_equal(&a->logp[id][k], &b->logp[id][k], sizeof(double));
}

static void run(const model *m, const decoder_params *p, const decoder_prompt *pr, int n, results *R) {
    pp_err err = {0};
    decoder d;
    memset(R, 0, sizeof *R);
    R->prompts = pr;
    pp_status st = decoder_init(&d, m, p, &err);
    if (st != PP_OK) print_message("%s\n", err.msg);
    assert_int_equal(st, PP_OK);
    st = decoder_run(&d, pr, n, file_result, R, &err);
    if (st != PP_OK) print_message("%s\n", err.msg);
    assert_int_equal(st, PP_OK);
    decoder_free(&d);
}

/* Random model, sizes off the SIMD widths (dim 40, hidden 72, kv 20). */
static void random_model(model *m) {
    model_config c = {.dim = 40, .hidden_dim = 72, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .vocab_size = 259,
                      .seq_len = 64, .tied_embeddings = 1, .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    pp_err err = {0};
    memset(m, 0, sizeof *m);
    assert_int_equal(model_alloc(m, &c, &err), PP_OK);
    model_init_random(m, 5);
    for (size_t i = 0; i < (size_t)c.vocab_size * c.dim; i++) m->w.embed[i] *= 5.0f; /* samples vary */
    assert_int_equal(tok_init_bytes(&m->tok, &err), PP_OK);
}

static int prompt_tokens[64][MAXP];

/* Prompts with ids id0.., BOS then 0..MAXP-1 random bytes. */
static void make_prompts(decoder_prompt *pr, int n, int id0, const model *m) {
    pp_rng r = pp_rng_stream(11, (uint64_t)id0, 0);
    for (int i = 0; i < n; i++) {
        int len = 1 + (int)pp_rng_below(&r, MAXP);
        prompt_tokens[id0 + i][0] = m->tok.bos_id;
        for (int j = 1; j < len; j++) prompt_tokens[id0 + i][j] = 'a' + (int)pp_rng_below(&r, 26);
        pr[i] = (decoder_prompt){.id = id0 + i, .tokens = prompt_tokens[id0 + i], .n_tokens = len};
    }
}

static void test_batch_invariant(void **state) {
    (void)state;
    model m;
    random_model(&m);
    decoder_prompt pr[NP], other[NP], rev[NP], mixed[2 * NP];
    make_prompts(pr, NP, 0, &m);
    make_prompts(other, NP, 32, &m);
    for (int i = 0; i < NP; i++) rev[i] = pr[NP - 1 - i];
    for (int i = 0; i < NP; i++) mixed[2 * i] = other[i], mixed[2 * i + 1] = pr[(i * 5) % NP];
    decoder_params p = {.max_batch = 1, .max_prompt_tokens = MAXP, .max_new_tokens = NEW, .k = K,
                        .sample = {1.0f, 0, 1.0f}, .seed = 7};
    static results base, r;
    run(&m, &p, pr, NP, &base);
    int eos = 0, maxed = 0;
    for (int i = 0; i < NP; i++)
        for (int k = 0; k < K; k++) eos += base.finish[i][k] == FINISH_EOS, maxed += base.finish[i][k] == FINISH_MAX_TOKENS;
    assert_true(maxed > 0); /* both kinds of ending happen (and free slots early) */
    print_message("max_batch 1: %d of %d candidates ended on EOS/BOS\n", eos, NP * K);
    static const int batches[] = {2, 3, 8, 64};
    for (int b = 0; b < 4; b++) {
        p.max_batch = batches[b];
        run(&m, &p, pr, NP, &r);
        for (int i = 0; i < NP; i++)
            for (int k = 0; k < K; k++) assert_same(&base, &r, i, k);
        run(&m, &p, rev, NP, &r);
        for (int i = 0; i < NP; i++)
            for (int k = 0; k < K; k++) assert_same(&base, &r, i, k);
        run(&m, &p, mixed, 2 * NP, &r);
        for (int i = 0; i < NP; i++)
            for (int k = 0; k < K; k++) assert_same(&base, &r, i, k);
    }
    /* a KV budget of 5.5 sequences caps max_batch 64 at 5 slots */
    pp_err err = {0};
    decoder d;
    p.max_batch = 64;
    int max_pos = MAXP + NEW - 1;
    double per_seq = 2.0 * 2 * max_pos * 20 * sizeof(float) / 1048576.0;
    p.kv_cache_mb = 5.5 * per_seq;
    assert_int_equal(decoder_init(&d, &m, &p, &err), PP_OK);
    assert_int_equal(d.slots, 5);
    memset(&r, 0, sizeof r);
    r.prompts = pr;
    assert_int_equal(decoder_run(&d, pr, NP, file_result, &r, &err), PP_OK);
    decoder_free(&d);
    for (int i = 0; i < NP; i++)
        for (int k = 0; k < K; k++) assert_same(&base, &r, i, k);
    p.kv_cache_mb = 0.5 * per_seq;
    assert_int_equal(decoder_init(&d, &m, &p, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "--kv-cache-mb"));
    model_free(&m);
}

/* The decoder's candidates are generate_prompt's: same tokens, log-prob
 * sum and finish reason for every (prompt, k). */
static void test_equals_generate_prompt(void **state) {
    (void)state;
    model m;
    random_model(&m);
    decoder_prompt pr[NP];
    make_prompts(pr, NP, 0, &m);
    decoder_params p = {.max_batch = 8, .max_prompt_tokens = MAXP, .max_new_tokens = NEW, .k = K,
                        .sample = {0.8f, 40, 0.95f}, .seed = 3};
    static results r;
    run(&m, &p, pr, NP, &r);
    gen_params gp = {.k = K, .max_new_tokens = NEW, .sample = p.sample, .seed = p.seed};
    generator g;
    pp_err err = {0};
    assert_int_equal(generator_init(&g, &m, &gp, MAXP, &err), PP_OK);
    for (int i = 0; i < NP; i++) {
        candidate_set s;
        assert_int_equal(candidates_init(&s, K, &err), PP_OK);
        gen_prompt gpr = {.id = pr[i].id, .text = "", .tokens = pr[i].tokens, .n_tokens = pr[i].n_tokens};
        assert_int_equal(generate_prompt(&g, &gpr, &s, &err), PP_OK);
        for (int k = 0; k < K; k++) {
            int64_t n;
            const int32_t *t = candidates_tokens(&s, k, &n);
            assert_int_equal(n, r.n[i][k]);
            for (int64_t j = 0; j < n; j++) assert_int_equal(t[j], r.tok[i][k][j]);
            assert_memory_equal(&s.candidate_logp[k], &r.logp[i][k], sizeof(double));
            assert_int_equal(s.finish_reason[k], r.finish[i][k]);
        }
        candidates_free(&s);
    }
    generator_free(&g);
    model_free(&m);
}

/* stories260K, greedy from BOS: llama2.c's 200 golden tokens, for each of 3
 * candidates, at max_batch 1, 8 and 64, among 7 other prompts. */
static void test_stories_greedy200(void **state) {
    (void)state;
    const char *sh = getenv("PP_SHARED");
    char dir[1024], bin[1200], tok[1200], gold[1200];
    snprintf(dir, sizeof dir, "%s", sh && *sh ? sh : "../shared");
    snprintf(bin, sizeof bin, "%s/models/stories260K.bin", dir);
    snprintf(tok, sizeof tok, "%s/models/tok512.bin", dir);
    snprintf(gold, sizeof gold, "%s/models/stories260K_greedy200.txt", dir);
    if (access(bin, R_OK) || access(tok, R_OK) || access(gold, R_OK)) {
        print_message("skip: needs %s, tok512.bin and stories260K_greedy200.txt (set PP_SHARED)\n", bin);
        skip();
        return;
    }
    static char want[4096], got[8192];
    FILE *f = fopen(gold, "rb");
    assert_non_null(f);
    size_t want_len = fread(want, 1, sizeof want - 1, f);
    want[want_len] = '\0';
    fclose(f);
    model m;
    pp_err err = {0};
    assert_int_equal(llama2c_load(&m, bin, tok, NULL, &err), PP_OK);
    decoder_prompt pr[8];
    make_prompts(pr, 8, 40, &m);
    pr[5] = (decoder_prompt){.id = 63, .tokens = &m.tok.bos_id, .n_tokens = 1};
    static results r;
    static const int batches[] = {1, 8, 64};
    for (int b = 0; b < 3; b++) {
        decoder_params p = {.max_batch = batches[b], .max_prompt_tokens = MAXP, .max_new_tokens = 200, .k = 3,
                            .sample = {0.0f, 0, 1.0f}, .seed = 1};
        run(&m, &p, pr, 8, &r);
        for (int k = 0; k < 3; k++) {
            assert_int_equal(r.n[63][k], 200);
            size_t used = 0;
            int prev = m.tok.bos_id;
            for (int i = 0; i < 200; i++) {
                size_t len;
                const char *piece = tok_piece(&m.tok, prev, r.tok[63][k][i], &len);
                assert_true(used + len < sizeof got);
                memcpy(got + used, piece, len);
                used += len;
                prev = r.tok[63][k][i];
            }
            got[used] = '\0';
            assert_string_equal(got, want);
        }
    }
    model_free(&m);
}

/* decoder_pull's source: prompts of an array in a given order (tag = the
 * index in the array), one per call, failing after fail_after of them
 * when fail_after >= 0. */
typedef struct {
    const decoder_prompt *prompts;
    const int *order;
    int n, next, fail_after;
} order_source;

static pp_status next_in_order(void *ctx, decoder_prompt *pr, int *got, pp_err *err) {
    order_source *o = ctx;
    if (o->fail_after >= 0 && o->next == o->fail_after) return pp_fail(err, PP_EINPUT, "source gave up");
    *got = o->next < o->n;
    if (*got) {
        int i = o->order[o->next++];
        *pr = o->prompts[i];
        pr->tag = i;
    }
    return PP_OK;
}

/* Prompts pulled one at a time from a source, in a scrambled order,
 * through a decoder of 3 slots (its table of 4 open prompts is reused many
 * times, shared prefixes included), give decoder_run's candidates; a
 * source error stops the run and is returned. */
static void test_pull_source(void **state) {
    (void)state;
    model m;
    random_model(&m);
    decoder_prompt pr[2 * NP];
    make_prompts(pr, 2 * NP, 0, &m);
    decoder_params p = {.max_batch = 64, .max_prompt_tokens = MAXP, .max_new_tokens = NEW, .k = K,
                        .sample = {1.0f, 0, 1.0f}, .seed = 7};
    static results base, r;
    run(&m, &p, pr, 2 * NP, &base);
    int order[2 * NP];
    for (int i = 0; i < 2 * NP; i++) order[i] = (i * 7) % (2 * NP); /* 7 is prime to 24 */
    p.max_batch = 3;
    pp_err err = {0};
    decoder d;
    assert_int_equal(decoder_init(&d, &m, &p, &err), PP_OK);
    memset(&r, 0, sizeof r);
    r.prompts = pr;
    order_source src = {pr, order, 2 * NP, 0, -1};
    assert_int_equal(decoder_pull(&d, next_in_order, &src, file_result, &r, &err), PP_OK);
    for (int i = 0; i < 2 * NP; i++)
        for (int k = 0; k < K; k++) assert_same(&base, &r, i, k);
    memset(&r, 0, sizeof r);
    r.prompts = pr;
    order_source failing = {pr, order, 2 * NP, 0, 5};
    assert_int_equal(decoder_pull(&d, next_in_order, &failing, file_result, &r, &err), PP_EINPUT);
    assert_string_equal(err.msg, "source gave up");
    decoder_free(&d);
    model_free(&m);
}

/* sample_token's log-prob at temperature 1 (which reuses its own max and
 * sum) has the bits of sample_logprob's, which the decoder's sums rely on. */
static void test_logprob_shortcut(void **state) {
    (void)state;
    enum { V = 517 };
    static float logits[V];
    static sample_candidate scratch[V];
    pp_rng r = pp_rng_stream(5, 6, 7);
    const sample_params ps[] = {{1.0f, 0, 1.0f}, {1.0f, 0, 0.9999999f}, {1.0f, V, 1.0f}, {1.0f, 40, 1.0f}};
    for (int trial = 0; trial < 200; trial++) {
        for (int i = 0; i < V; i++) logits[i] = (float)(pp_rng_normal(&r) * (1 + trial % 7));
        for (int j = 0; j < 4; j++) {
            float lp;
            int t = sample_token(logits, V, &ps[j], &r, scratch, &lp);
            float want = sample_logprob(logits, V, t);
            assert_memory_equal(&lp, &want, sizeof lp);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_invariant),
        cmocka_unit_test(test_equals_generate_prompt),
        cmocka_unit_test(test_pull_source),
        cmocka_unit_test(test_stories_greedy200),
        cmocka_unit_test(test_logprob_shortcut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
