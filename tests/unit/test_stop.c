/* test_stop.c - stop tokens and stop strings (src/model/stop). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate/generate.h"
#include "io/candidates.h"
#include "model/decode.h"
#include "model/stop.h"

static void test_tokens(void **state) {
    (void)state;
    stop_set s = {0};
    pp_err err = {0};
    assert_int_equal(stop_add_token(&s, 7, 10, &err), PP_OK);
    assert_int_equal(stop_add_token(&s, 7, 10, &err), PP_OK); /* once */
    assert_int_equal(s.n_tokens, 1);
    assert_true(stop_is_token(&s, 7));
    assert_false(stop_is_token(&s, 6));
    assert_int_equal(stop_add_token(&s, 10, 10, &err), PP_EINPUT);
    assert_int_equal(stop_add_token(&s, -1, 10, &err), PP_EINPUT);
}

static void test_strings_refused(void **state) {
    (void)state;
    stop_set s = {0};
    pp_err err = {0};
    assert_int_equal(stop_add_string(&s, "", &err), PP_EINPUT);
    char longer[STOP_STRING_MAX + 2];
    memset(longer, 'x', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    assert_int_equal(stop_add_string(&s, longer, &err), PP_EINPUT);
    longer[STOP_STRING_MAX] = '\0';
    assert_int_equal(stop_add_string(&s, longer, &err), PP_OK);
}

/* Feed pieces; return the offset stop_feed reports at the end. */
static int64_t feed_all(const stop_set *s, const char *const *pieces, int n) {
    stop_state st;
    stop_state_reset(&st);
    int64_t at = -1;
    for (int i = 0; i < n; i++) at = stop_feed(s, &st, pieces[i], strlen(pieces[i]));
    return at;
}

static void test_across_tokens(void **state) {
    (void)state;
    stop_set s = {0};
    pp_err err = {0};
    assert_int_equal(stop_add_string(&s, "\nUser:", &err), PP_OK);
    assert_int_equal(stop_add_string(&s, "###", &err), PP_OK);
    const char *a[] = {"Hello", " there", ".\nUs", "er", ": more"};
    assert_int_equal(feed_all(&s, a, 5), 12); /* "Hello there." is 12 bytes */
    const char *b[] = {"no", " stop", " #", "# here"};
    assert_int_equal(feed_all(&s, b, 4), -1);
    const char *c[] = {"x##", "#\nUser:"}; /* both complete in the last piece: ### ends first */
    assert_int_equal(feed_all(&s, c, 2), 1);
    const char *d[] = {"#", "#", "#"};
    assert_int_equal(feed_all(&s, d, 3), 0);
    assert_int_equal(stop_text_end(&s, "Hello there.\nUser: more", 23), 12);
    assert_int_equal(stop_text_end(&s, "none", 4), 4);
}

/* A piece longer than the state's buffer, the match at its very end, and
 * random splits of one text: stop_feed and stop_text_end always agree. */
static void test_long_and_random_splits(void **state) {
    (void)state;
    stop_set s = {0};
    pp_err err = {0};
    char stop[STOP_STRING_MAX + 1];
    for (int i = 0; i < STOP_STRING_MAX; i++) stop[i] = (char)('a' + i % 26);
    stop[STOP_STRING_MAX] = '\0';
    assert_int_equal(stop_add_string(&s, stop, &err), PP_OK);
    assert_int_equal(stop_add_string(&s, "END", &err), PP_OK);
    static char text[4096];
    memset(text, '-', 1000);
    memcpy(text + 1000, stop, STOP_STRING_MAX);
    size_t len = 1000 + STOP_STRING_MAX;
    memcpy(text + len, "END tail", 9);
    len += 8;
    assert_int_equal(stop_text_end(&s, text, len), 1000);
    srand(7);
    for (int trial = 0; trial < 200; trial++) {
        stop_state st;
        stop_state_reset(&st);
        int64_t at = -1;
        for (size_t i = 0; i < len;) {
            size_t n = 1 + (size_t)rand() % (trial < 100 ? 5 : 400);
            if (n > len - i) n = len - i;
            at = stop_feed(&s, &st, text + i, n);
            i += n;
        }
        assert_int_equal(at, 1000);
    }
    /* one byte short of the long string: only END matches */
    text[1000 + STOP_STRING_MAX - 1] = '!';
    assert_int_equal(stop_text_end(&s, text, len), 1000 + STOP_STRING_MAX);
}

static void test_token_text(void **state) {
    (void)state;
    /* vocabulary: "a", "b", "<|im_end|>", "</s>" */
    char pieces[] = "ab<|im_end|></s>";
    int64_t off[] = {0, 1, 2, 12, 16};
    tokenizer tok = {.vocab_size = 4, .pieces = pieces, .piece_offsets = off}; /* only what the lookup reads */
    pp_err err = {0};
    stop_set s = {0};
    int as_string = -1;
    assert_int_equal(stop_add_token_text(&s, &tok, "<|im_end|>", &as_string, &err), PP_OK);
    assert_int_equal(as_string, 0);
    assert_true(stop_is_token(&s, 2));
    assert_int_equal(stop_add_token_text(&s, &tok, "<|eot_id|>", &as_string, &err), PP_OK);
    assert_int_equal(as_string, 1);
    assert_int_equal(s.n_strings, 1);
    assert_string_equal(s.strings[0], "<|eot_id|>");
}

/* Both decoding paths stop alike: the generator (pp-generate today) and
 * the continuous-batching decoder give the same tokens and finish reasons
 * with a stop set, some candidates do stop, and a stopped candidate's text
 * ends before its stop string (or without its stop token). */
enum { NPR = 6, KK = 3, NEW = 40 };
typedef struct {
    int n[NPR][KK], finish[NPR][KK], tok[NPR][KK][NEW];
} runs;

static pp_status keep(void *ctx, const decoder_result *r, pp_err *err) {
    runs *R = ctx;
    R->n[r->prompt][r->k] = r->n_tokens;
    R->finish[r->prompt][r->k] = r->finish;
    memcpy(R->tok[r->prompt][r->k], r->tokens, (size_t)r->n_tokens * sizeof(int));
    return PP_OK;
}

static void decode_all(const model *m, decoder_params *dp, const decoder_prompt *pr, runs *R) {
    pp_err err = {0};
    decoder d;
    memset(R, 0, sizeof *R);
    assert_int_equal(decoder_init(&d, m, dp, &err), PP_OK);
    assert_int_equal(decoder_run(&d, pr, NPR, keep, R, &err), PP_OK);
    decoder_free(&d);
}

static void test_decoders_stop_alike(void **state) {
    (void)state;
    model m = {0};
    pp_err err = {0};
    model_config c = {.dim = 32, .hidden_dim = 48, .n_layers = 1, .n_heads = 4, .n_kv_heads = 4, .vocab_size = 259,
                      .seq_len = 64, .tied_embeddings = 1, .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    assert_int_equal(model_alloc(&m, &c, &err), PP_OK);
    model_init_random(&m, 9);
    for (size_t i = 0; i < m.n_params; i++) m.params[i] *= 4.0f; /* peaked, varied samples */
    assert_int_equal(tok_init_bytes(&m.tok, &err), PP_OK);
    static int ptok[NPR][4];
    decoder_prompt pr[NPR];
    for (int i = 0; i < NPR; i++) {
        ptok[i][0] = m.tok.bos_id, ptok[i][1] = 'a' + i, ptok[i][2] = 'b', ptok[i][3] = 'c';
        pr[i] = (decoder_prompt){.id = i, .tokens = ptok[i], .n_tokens = 4};
    }
    /* without stops first: a stop token and a two-byte stop string taken
     * from what the model writes, so that both kinds happen */
    decoder_params dp = {.max_batch = 4, .max_prompt_tokens = 4, .max_new_tokens = NEW, .k = KK,
                         .sample = {1.0f, 0, 1.0f}, .seed = 5};
    static runs R;
    decode_all(&m, &dp, pr, &R);
    assert_true(R.n[0][0] >= 12 && R.n[1][1] >= 12);
    int stop_tok = R.tok[0][0][10], s0 = R.tok[1][1][5], s1 = R.tok[1][1][6]; /* bytes 0..255 */
    char token_text[2] = {(char)stop_tok, 0}, string[3] = {(char)s0, (char)s1, 0};
    assert_true(stop_tok > 0 && s0 > 0 && s1 > 0 && stop_tok < 256 && s0 < 256 && s1 < 256 && stop_tok != s0 && stop_tok != s1);
    stop_set stop;
    assert_int_equal(stop_from_options(&stop, &m.tok, NULL, token_text, string, &err), PP_OK);
    dp.stop = &stop;
    decode_all(&m, &dp, pr, &R);
    gen_params gp = {.k = KK, .max_new_tokens = NEW, .sample = dp.sample, .seed = dp.seed, .stop = &stop};
    generator g;
    assert_int_equal(generator_init(&g, &m, &gp, 4, &err), PP_OK);
    int by_token = 0, by_string = 0;
    for (int i = 0; i < NPR; i++) {
        candidate_set s;
        assert_int_equal(candidates_init(&s, KK, &err), PP_OK);
        gen_prompt gpr = {.id = i, .text = "", .tokens = ptok[i], .n_tokens = 4};
        assert_int_equal(generate_prompt(&g, &gpr, &s, &err), PP_OK);
        for (int k = 0; k < KK; k++) {
            int64_t n;
            const int32_t *t = candidates_tokens(&s, k, &n);
            assert_int_equal(n, R.n[i][k]);
            assert_int_equal(s.finish_reason[k], R.finish[i][k]);
            for (int64_t j = 0; j < n; j++) assert_int_equal(t[j], R.tok[i][k][j]);
            for (int64_t j = 0; j + 1 < n; j++) /* nothing past the first stop */
                assert_false(j + 2 < n && t[j] == s0 && t[j + 1] == s1);
            for (int64_t j = 0; j + 1 < n; j++) assert_int_not_equal(t[j], stop_tok);
            if (s.finish_reason[k] != FINISH_STOP) continue;
            if (t[n - 1] == stop_tok) by_token++;
            else { /* the last two tokens spell the stop string; the text ends before it */
                assert_true(n >= 2 && t[n - 2] == s0 && t[n - 1] == s1);
                by_string++;
            }
        }
        candidates_free(&s);
    }
    generator_free(&g);
    model_free(&m);
    print_message("of %d candidates %d stopped at the token, %d at the string\n", NPR * KK, by_token, by_string);
    assert_true(by_token > 0 && by_string > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_strings_refused),
        cmocka_unit_test(test_across_tokens),
        cmocka_unit_test(test_long_and_random_splits),
        cmocka_unit_test(test_token_text),
        cmocka_unit_test(test_decoders_stop_alike),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
