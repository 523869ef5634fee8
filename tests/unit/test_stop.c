/* test_stop.c - stop tokens and stop strings (src/model/stop). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_strings_refused),
        cmocka_unit_test(test_across_tokens),
        cmocka_unit_test(test_long_and_random_splits),
        cmocka_unit_test(test_token_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
