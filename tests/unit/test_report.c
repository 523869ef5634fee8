/* test_report.c - pp-report's gnuplot scripts (src/report/report.h): the one
 * escaping function turns quotes, newlines, '!', backquotes, '@' macros and
 * 'system(' into inert text, and over 1,000 random strings no script holds
 * an input byte outside a safe literal: the code around the literals is the
 * same as with a harmless input, and each literal that differs holds only
 * the allowed characters. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pp_rng.h"
#include "report/report.h"

static const char allowed[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.,:/+=()[]%#";

static void test_escaping(void **state) {
    (void)state;
    char out[128];
    assert_string_equal(report_gp_string("plain/path-1_a.h5", out, sizeof out), "'plain/path-1_a.h5'");
    assert_string_equal(report_gp_string("x'\n!touch /tmp/pwned\n#", out, sizeof out), "'x___touch /tmp/pwned_#'");
    assert_string_equal(report_gp_string("e'.system('touch pwned').'.h5", out, sizeof out), "'e_.system(_touch pwned_)._.h5'");
    assert_string_equal(report_gp_string("`id` @m $x \\' \"q\"", out, sizeof out), "'_id_ _m _x __ _q_'");
    assert_string_equal(report_gp_string("Δw", out, sizeof out), "'__w'"); /* UTF-8 bytes too */
    assert_string_equal(report_gp_string("", out, sizeof out), "''");
    assert_string_equal(report_gp_string(NULL, out, sizeof out), "''");
    assert_string_equal(report_gp_string("abcdefgh", out, 6), "'abc'"); /* cut, still closed */
}

static char *random_text(pp_rng *r, char *buf, size_t cap) {
    static const char nasty[] = "'\"\n\r`!@$\\;{}system(";
    size_t n = (size_t)pp_rng_below(r, cap - 1);
    for (size_t i = 0; i < n; i++) {
        uint64_t k = pp_rng_below(r, 3);
        buf[i] = k == 0 ? nasty[pp_rng_below(r, sizeof nasty - 1)] : (char)(1 + pp_rng_below(r, 255));
    }
    buf[n] = '\0';
    return buf;
}

/* The script with literal contents removed, and the literals one by one. */
typedef struct {
    char code[16384];
    char lit[64][600];
    int n_lit;
} split_script;

static void split(const char *s, split_script *o) {
    size_t c = 0;
    o->n_lit = 0;
    while (*s) {
        o->code[c++] = *s;
        if (*s++ != '\'') continue;
        const char *e = strchr(s, '\'');
        assert_non_null(e); /* every literal is closed */
        assert_true(o->n_lit < 64);
        snprintf(o->lit[o->n_lit++], sizeof o->lit[0], "%.*s", (int)(e - s), s);
        o->code[c++] = '\'';
        s = e + 1;
    }
    o->code[c] = '\0';
}

enum { WHICH_TRAINING, WHICH_EVAL, WHICH_COMPARE, WHICH_ROUNDS };

static char *script(int which, const char *const *t) {
    char *buf = NULL;
    size_t len = 0;
    FILE *g = open_memstream(&buf, &len);
    assert_non_null(g);
    const int runs[3] = {1, 2, 3};
    if (which == WHICH_TRAINING) report_training_script(g, t[0], 1, 0.5);
    else if (which == WHICH_EVAL) report_eval_script(g, t[0], t + 1, 3, 1);
    else if (which == WHICH_COMPARE) report_compare_script(g, t[0], 10, t + 1, runs, 3);
    else report_rounds_script(g, t[0], t + 1, 3, 3); /* title, split names */
    fclose(g);
    return buf;
}

static void test_random_inputs_stay_literal(void **state) {
    (void)state;
    static split_script base, got;
    const char *harmless[4] = {"X", "X", "X", "X"};
    pp_rng r = pp_rng_stream(17, 1, 0);
    for (int i = 0; i < 1000; i++) {
        char text[4][300];
        const char *t[4];
        for (int k = 0; k < 4; k++) t[k] = random_text(&r, text[k], sizeof text[k]);
        for (int which = WHICH_TRAINING; which <= WHICH_ROUNDS; which++) {
            char *a = script(which, harmless), *b = script(which, t);
            split(a, &base);
            split(b, &got);
            assert_string_equal(got.code, base.code);
            assert_int_equal(got.n_lit, base.n_lit);
            for (int k = 0; k < got.n_lit; k++)
                if (strcmp(got.lit[k], base.lit[k]) != 0) assert_int_equal(strspn(got.lit[k], allowed), strlen(got.lit[k]));
            free(a);
            free(b);
        }
    }
}

static void test_budget_line_only_when_asked(void **state) {
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *g = open_memstream(&buf, &len);
    report_training_script(g, "m.h5 (dpo)", 1, -1);
    fclose(g);
    assert_null(strstr(buf, "budget"));
    free(buf);
    g = open_memstream(&buf, &len);
    report_training_script(g, "m.h5 (bcr)", 1, 0.25);
    fclose(g);
    assert_non_null(strstr(buf, "BCR budget -δ = -0.25"));
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_random_inputs_stay_literal),
        cmocka_unit_test(test_budget_line_only_when_asked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
