/* test_generate.c - the generator (src/generate/generate.h).
 *
 * Ground truth: tests/fixtures/runc_greedy.txt, made with llama2.c's own
 * run.c (see its header), and ../shared/models/stories260K_greedy200.txt.
 * Greedy generation with stories260K must give run.c's ids for every case
 * (empty prompt, curly quotes, invalid UTF-8 included), with K = 1 and with
 * K = 3 batched.  With a small random model: finish reasons, log-probs
 * under the T = 1 distribution, and random streams keyed by (seed, id, j).
 * Tests needing ../shared skip, saying so, when it is absent. */
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

#include "io/candidates.h"
#include "generate/generate.h"
#include "model/llama2c.h"

static char root_dir[900], shared_dir[1024];

static void set_paths(void) {
    const char *root = getenv("ROOT");
    if (root && *root) snprintf(root_dir, sizeof root_dir, "%s", root);
    else {
        const char *f = __FILE__, *cut = strstr(f, "tests/unit/");
        if (cut && cut > f) snprintf(root_dir, sizeof root_dir, "%.*s", (int)(cut - f - 1), f);
        else snprintf(root_dir, sizeof root_dir, ".");
    }
    const char *sh = getenv("PP_SHARED");
    snprintf(shared_dir, sizeof shared_dir, "%s", sh && *sh ? sh : "");
    if (!shared_dir[0]) snprintf(shared_dir, sizeof shared_dir, "%s/../shared", root_dir);
}

/* stories260K with tok512, or 0 (after saying why) when ../shared lacks it. */
static int load_stories(model *m) {
    char bin[1200], tok[1200];
    snprintf(bin, sizeof bin, "%s/models/stories260K.bin", shared_dir);
    snprintf(tok, sizeof tok, "%s/models/tok512.bin", shared_dir);
    if (access(bin, R_OK) != 0 || access(tok, R_OK) != 0) {
        print_message("skip: needs %s and tok512.bin (set PP_SHARED to the shared data directory)\n", bin);
        return 0;
    }
    pp_err err = {0};
    memset(m, 0, sizeof *m);
    pp_status st = llama2c_load(m, bin, tok, NULL, &err);
    if (st != PP_OK) print_message("%s\n", err.msg);
    assert_int_equal(st, PP_OK);
    return 1;
}

/* Undo the fixture escapes: \\ \n \t \xHH. */
static size_t unescape(const char *s, char *out) {
    size_t n = 0;
    while (*s) {
        if (s[0] == '\\' && s[1] == 'n') { out[n++] = '\n'; s += 2; }
        else if (s[0] == '\\' && s[1] == 't') { out[n++] = '\t'; s += 2; }
        else if (s[0] == '\\' && s[1] == '\\') { out[n++] = '\\'; s += 2; }
        else if (s[0] == '\\' && s[1] == 'x') {
            unsigned v;
            assert_int_equal(sscanf(s + 2, "%2x", &v), 1);
            out[n++] = (char)v;
            s += 4;
        } else out[n++] = *s++;
    }
    out[n] = '\0';
    return n;
}

static char *next_line(FILE *f, char *buf, size_t cap) {
    while (fgets(buf, (int)cap, f)) {
        size_t n = strlen(buf);
        assert_true(n > 0 && buf[n - 1] == '\n');
        buf[n - 1] = '\0';
        if (buf[0] != '#') return buf;
    }
    return NULL;
}

/* "KEY N id id ..." -> ids; returns N. */
static int parse_ids(const char *line, const char *key, int *ids, int cap) {
    size_t k = strlen(key);
    assert_memory_equal(line, key, k);
    char *end;
    int n = (int)strtol(line + k, &end, 10);
    assert_true(n >= 0 && n <= cap);
    for (int i = 0; i < n; i++) {
        const char *p = end;
        ids[i] = (int)strtol(p, &end, 10);
        assert_true(end != p);
    }
    return n;
}

/* Every case of runc_greedy.txt: same prompt ids, same generated ids, the
 * right finish reason; K candidates (batched decode) all equal it. */
static void check_runc_cases(int K) {
    model m;
    if (!load_stories(&m)) {
        skip();
        return;
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/tests/fixtures/runc_greedy.txt", root_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char line[1 << 16], text[1 << 15];
    int want_prompt[4096], want_gen[4096], cases = 0;
    pp_err err = {0};
    while (next_line(f, line, sizeof line)) {
        if (!strcmp(line, "prompt")) text[0] = '\0';
        else unescape(line + 7, text);
        assert_non_null(next_line(f, line, sizeof line));
        int steps = atoi(line + 6);
        assert_non_null(next_line(f, line, sizeof line));
        int np = parse_ids(line, "prompt_ids", want_prompt, 4096);
        assert_non_null(next_line(f, line, sizeof line));
        int ng = parse_ids(line, "generated_ids", want_gen, 4096);
        assert_non_null(next_line(f, line, sizeof line)); /* text */

        int *ids, n;
        assert_int_equal(generate_encode(&m.tok, m.cfg.vocab_size, text, &ids, &n, &err), PP_OK);
        assert_int_equal(n, np);
        assert_memory_equal(ids, want_prompt, (size_t)n * sizeof *ids);
        /* run.c -n steps: positions 0..steps-1, so steps - n + 1 new tokens */
        gen_params p = {.k = K, .max_new_tokens = steps - n + 1, .sample = {0.0f, 0, 1.0f}, .seed = 5};
        generator g;
        assert_int_equal(generator_init(&g, &m, &p, n, &err), PP_OK);
        candidate_set s;
        assert_int_equal(candidates_init(&s, K, &err), PP_OK);
        gen_prompt pr = {.id = cases, .text = text, .tokens = ids, .n_tokens = n};
        assert_int_equal(generate_prompt(&g, &pr, &s, &err), PP_OK);
        for (int j = 0; j < K; j++) {
            int64_t got_n;
            const int32_t *got = candidates_tokens(&s, j, &got_n);
            assert_int_equal(got_n, ng);
            for (int i = 0; i < ng; i++) assert_int_equal(got[i], want_gen[i]);
            int stopped = want_gen[ng - 1] == 1 && ng < p.max_new_tokens;
            assert_int_equal(s.finish_reason[j], stopped ? FINISH_EOS : FINISH_MAX_TOKENS);
            assert_true(s.candidate_logp[j] < 0.0 && isfinite(s.candidate_logp[j]));
        }
        candidates_free(&s);
        generator_free(&g);
        free(ids);
        cases++;
    }
    fclose(f);
    assert_true(cases >= 7);
    model_free(&m);
}

static void test_greedy_matches_runc(void **state) {
    (void)state;
    check_runc_cases(1);
}

static void test_greedy_matches_runc_batched(void **state) {
    (void)state;
    check_runc_cases(3);
}

/* From BOS alone, 200 positions: the golden text of llama2.c's test_all.py. */
static void test_greedy200_from_bos(void **state) {
    (void)state;
    model m;
    if (!load_stories(&m)) {
        skip();
        return;
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/models/stories260K_greedy200.txt", shared_dir);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char want[4096];
    size_t want_len = fread(want, 1, sizeof want - 1, f);
    want[want_len] = '\0';
    fclose(f);
    pp_err err = {0};
    int *ids, n;
    assert_int_equal(generate_encode(&m.tok, m.cfg.vocab_size, "", &ids, &n, &err), PP_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], m.tok.bos_id);
    gen_params p = {.k = 1, .max_new_tokens = 200, .sample = {0.0f, 0, 1.0f}, .seed = 1};
    generator g;
    assert_int_equal(generator_init(&g, &m, &p, n, &err), PP_OK);
    candidate_set s;
    assert_int_equal(candidates_init(&s, 1, &err), PP_OK);
    gen_prompt pr = {.id = 0, .text = "", .tokens = ids, .n_tokens = n};
    assert_int_equal(generate_prompt(&g, &pr, &s, &err), PP_OK);
    assert_int_equal(s.candidate_length[0], 200);
    assert_string_equal(s.candidate_text[0], want);
    candidates_free(&s);
    generator_free(&g);
    free(ids);
    model_free(&m);
}

/* A small random model with the byte tokenizer and a short context. */
static void random_model(model *m, int seq_len) {
    model_config c = {.dim = 32, .hidden_dim = 64, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .vocab_size = 259,
                      .seq_len = seq_len, .tied_embeddings = 1, .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    pp_err err = {0};
    memset(m, 0, sizeof *m);
    assert_int_equal(model_alloc(m, &c, &err), PP_OK);
    model_init_random(m, 99);
    /* larger logits than the default init so samples vary */
    for (size_t i = 0; i < (size_t)c.vocab_size * c.dim; i++) m->w.embed[i] *= 5.0f;
    assert_int_equal(tok_init_bytes(&m->tok, &err), PP_OK);
}

static void run_one(const model *m, const gen_params *p, int64_t id, const char *text, candidate_set *s) {
    pp_err err = {0};
    int *ids, n;
    assert_int_equal(generate_encode(&m->tok, m->cfg.vocab_size, text, &ids, &n, &err), PP_OK);
    generator g;
    assert_int_equal(generator_init(&g, m, p, n, &err), PP_OK);
    assert_int_equal(candidates_init(s, p->k, &err), PP_OK);
    gen_prompt pr = {.id = id, .text = text, .tokens = ids, .n_tokens = n};
    assert_int_equal(generate_prompt(&g, &pr, s, &err), PP_OK);
    generator_free(&g);
    free(ids);
}

/* Context full: 12 positions, a 4-token prompt: at most 9 new tokens. */
static void test_finish_reasons(void **state) {
    (void)state;
    model m;
    random_model(&m, 12);
    gen_params p = {.k = 16, .max_new_tokens = 100, .sample = {1.0f, 0, 1.0f}, .seed = 3};
    candidate_set s;
    run_one(&m, &p, 0, "abc", &s);
    int context = 0;
    for (int j = 0; j < p.k; j++) {
        int64_t n;
        const int32_t *t = candidates_tokens(&s, j, &n);
        if (s.finish_reason[j] == FINISH_CONTEXT) {
            assert_int_equal(n, 12 - 4 + 1);
            context++;
        } else {
            assert_int_equal(s.finish_reason[j], FINISH_EOS);
            assert_true(t[n - 1] == m.tok.eos_id || t[n - 1] == m.tok.bos_id);
            assert_true(n <= 9);
        }
    }
    assert_true(context > 0);
    candidates_free(&s);
    p.max_new_tokens = 5;
    run_one(&m, &p, 0, "abc", &s);
    for (int j = 0; j < p.k; j++)
        if (s.finish_reason[j] != FINISH_EOS) {
            assert_int_equal(s.finish_reason[j], FINISH_MAX_TOKENS);
            assert_int_equal(s.candidate_length[j], 5);
        }
    candidates_free(&s);
    model_free(&m);
}

/* candidate_logp is the sum of log softmax(raw logits) of the chosen
 * tokens, whatever temperature / top-k / top-p chose them: recomputed here
 * token by token through an independent cache. */
static void test_logp_is_untempered(void **state) {
    (void)state;
    model m;
    random_model(&m, 64);
    gen_params p = {.k = 4, .max_new_tokens = 20, .sample = {0.7f, 20, 0.9f}, .seed = 11};
    candidate_set s;
    run_one(&m, &p, 42, "hello", &s);
    pp_err err = {0};
    infer_state st;
    assert_int_equal(infer_init(&st, &m, 1, 0, &err), PP_OK);
    float *logits = malloc(259 * sizeof *logits);
    int64_t np;
    const int32_t *pt = candidates_prompt_tokens(&s, 0, &np);
    int prompt[16];
    for (int i = 0; i < np; i++) prompt[i] = pt[i];
    for (int j = 0; j < p.k; j++) {
        infer_reset(&st, 0);
        assert_int_equal(infer_prefill(&st, 0, prompt, (int)np, logits, &err), PP_OK);
        int64_t n;
        const int32_t *t = candidates_tokens(&s, j, &n);
        double sum = 0.0;
        for (int64_t i = 0; i < n; i++) {
            sum += sample_logprob(logits, 259, t[i]);
            int slot = 0, tok = t[i];
            if (i + 1 < n) assert_int_equal(infer_decode(&st, 1, &slot, &tok, logits, &err), PP_OK);
        }
        assert_true(fabs(sum - s.candidate_logp[j]) < 1e-3 * (1.0 + fabs(sum)));
    }
    free(logits);
    infer_free(&st);
    candidates_free(&s);
    model_free(&m);
}

/* Streams: same (seed, prompt id) -> same candidates; another prompt id or
 * seed -> others; candidates of one prompt differ from each other. */
static void test_streams(void **state) {
    (void)state;
    model m;
    random_model(&m, 64);
    gen_params p = {.k = 4, .max_new_tokens = 24, .sample = {1.0f, 0, 1.0f}, .seed = 7};
    candidate_set a, b, c, d;
    run_one(&m, &p, 5, "the cat", &a);
    run_one(&m, &p, 5, "the cat", &b);
    run_one(&m, &p, 6, "the cat", &c);
    p.seed = 8;
    run_one(&m, &p, 5, "the cat", &d);
    int64_t na = a.candidate_token_offsets[4];
    assert_int_equal(na, b.candidate_token_offsets[4]);
    assert_memory_equal(a.candidate_tokens, b.candidate_tokens, (size_t)na * sizeof(int32_t));
    assert_memory_equal(a.candidate_logp, b.candidate_logp, 4 * sizeof(double));
    int same_c = c.candidate_token_offsets[4] == na &&
                 !memcmp(a.candidate_tokens, c.candidate_tokens, (size_t)na * sizeof(int32_t));
    int same_d = d.candidate_token_offsets[4] == na &&
                 !memcmp(a.candidate_tokens, d.candidate_tokens, (size_t)na * sizeof(int32_t));
    assert_false(same_c);
    assert_false(same_d);
    int64_t n0, n1;
    const int32_t *t0 = candidates_tokens(&a, 0, &n0), *t1 = candidates_tokens(&a, 1, &n1);
    assert_false(n0 == n1 && !memcmp(t0, t1, (size_t)n0 * sizeof *t0));
    candidates_free(&a);
    candidates_free(&b);
    candidates_free(&c);
    candidates_free(&d);
    model_free(&m);
}

/* Bad parameters and prompts are refused with a message. */
static void test_bad_input(void **state) {
    (void)state;
    model m;
    random_model(&m, 8);
    pp_err err = {0};
    generator g;
    gen_params p = {.k = 0, .max_new_tokens = 4, .sample = {1.0f, 0, 1.0f}, .seed = 1};
    assert_int_equal(generator_init(&g, &m, &p, 4, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "--k 0"));
    p.k = 2;
    p.sample.top_p = 0.0f;
    assert_int_equal(generator_init(&g, &m, &p, 4, &err), PP_EINPUT);
    p.sample.top_p = 1.0f;
    assert_int_equal(generator_init(&g, &m, &p, 9, &err), PP_EINPUT); /* longer than seq_len 8 */
    assert_int_equal(generator_init(&g, &m, &p, 8, &err), PP_OK);     /* a full context leaves one token */
    candidate_set s;
    assert_int_equal(candidates_init(&s, 2, &err), PP_OK);
    int toks[8] = {256, 'a', 'b', 'c', 'd', 'e', 'f', 'g'};
    gen_prompt pr = {.id = 1, .text = "abcdefg", .tokens = toks, .n_tokens = 8};
    assert_int_equal(generate_prompt(&g, &pr, &s, &err), PP_OK);
    for (int j = 0; j < 2; j++) {
        assert_int_equal(s.candidate_length[j], 1);
        assert_true(s.finish_reason[j] == FINISH_CONTEXT || s.finish_reason[j] == FINISH_EOS);
    }
    candidates_free(&s);
    generator_free(&g);
    /* a model whose vocabulary is smaller than the tokenizer's */
    int *ids, n;
    assert_int_equal(generate_encode(&m.tok, 100, "z", &ids, &n, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "outside the model's vocabulary"));
    model_free(&m);
}

int main(void) {
    set_paths();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_matches_runc),
        cmocka_unit_test(test_greedy_matches_runc_batched),
        cmocka_unit_test(test_greedy200_from_bos),
        cmocka_unit_test(test_finish_reasons),
        cmocka_unit_test(test_logp_is_untempered),
        cmocka_unit_test(test_streams),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
