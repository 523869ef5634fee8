/* Unit tests of the resume kit: run keys (pp_runkey) and the parts
 * directory (pp_parts): first difference named, one writer at a time, only
 * the same run resumes, leftovers cleaned, the directory removed at the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/pp_log.h"
#include "core/pp_parts.h"
#include "core/pp_runkey.h"

static char scratch[256];

static void make_key(pp_runkey *k, double temperature, const char *extra) {
    pp_runkey_init(k);
    pp_runkey_str(k, "model_fingerprint", "0123456789abcdef");
    pp_runkey_f64(k, "temperature", temperature);
    pp_runkey_i64(k, "k", 8);
    if (extra) pp_runkey_str(k, "judge_cmd", extra);
}

static void test_runkey_difference(void **state) {
    (void)state;
    pp_runkey a, b;
    char what[256];
    make_key(&a, 1.0, NULL);
    make_key(&b, 1.0, NULL);
    assert_true(pp_runkey_same(pp_runkey_text(&a), pp_runkey_text(&b), what, sizeof what));
    pp_runkey_free(&b);
    make_key(&b, 0.7, NULL);
    assert_false(pp_runkey_same(pp_runkey_text(&a), pp_runkey_text(&b), what, sizeof what));
    assert_string_equal(what, "temperature was 1, now 0.69999999999999996");
    pp_runkey_free(&b);
    make_key(&b, 1.0, "judge --x");
    assert_false(pp_runkey_same(pp_runkey_text(&a), pp_runkey_text(&b), what, sizeof what));
    assert_string_equal(what, "judge_cmd is new (judge --x)");
    assert_false(pp_runkey_same(pp_runkey_text(&b), pp_runkey_text(&a), what, sizeof what));
    assert_string_equal(what, "judge_cmd is gone (was judge --x)");
    pp_runkey_free(&a);
    pp_runkey_free(&b);
}

/* A value with a newline or a backslash stays on its line, and two values
 * that differ only there give different keys. */
static void test_runkey_escaping(void **state) {
    (void)state;
    pp_runkey a, b;
    make_key(&a, 1.0, "x\nk=9");
    make_key(&b, 1.0, "x\\nk=9");
    const char *ta = pp_runkey_text(&a), *tb = pp_runkey_text(&b);
    assert_non_null(strstr(ta, "judge_cmd=x\\nk=9\n"));
    assert_non_null(strstr(tb, "judge_cmd=x\\\\nk=9\n"));
    assert_string_not_equal(ta, tb);
    int lines = 0;
    for (const char *p = ta; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, 4);
    pp_runkey_free(&a);
    pp_runkey_free(&b);
}

static void test_parts_lock_key_cleanup(void **state) {
    (void)state;
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/out.h5.parts", scratch);
    pp_log log = {0};
    pp_err err = {0};
    pp_runkey k, other;
    make_key(&k, 1.0, NULL);
    make_key(&other, 0.5, NULL);

    pp_parts p, q;
    assert_int_equal(pp_parts_open(&p, dir, "out.h5", pp_runkey_text(&k), &err), PP_OK);
    assert_int_equal(p.resuming, 0);
    /* a second writer (another open file description) is refused, with our pid */
    assert_int_equal(pp_parts_open(&q, dir, "out.h5", pp_runkey_text(&k), &err), PP_EINPUT);
    char pid[32];
    snprintf(pid, sizeof pid, "(pid %ld;", (long)getpid());
    assert_non_null(strstr(err.msg, "another run is writing out.h5"));
    assert_non_null(strstr(err.msg, pid));
    /* leftovers of a kill go, saved parts stay */
    snprintf(path, sizeof path, "%s/chunk-000001.h5.tmp", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(path, sizeof path, "%s/chunk-000000.h5", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    pp_parts_close(&p);

    assert_int_equal(pp_parts_open(&p, dir, "out.h5", pp_runkey_text(&k), &err), PP_OK);
    assert_int_equal(p.resuming, 1);
    struct stat sb;
    snprintf(path, sizeof path, "%s/chunk-000001.h5.tmp", dir);
    assert_int_not_equal(stat(path, &sb), 0);
    snprintf(path, sizeof path, "%s/chunk-000000.h5", dir);
    assert_int_equal(stat(path, &sb), 0);
    pp_parts_close(&p);

    /* another run's parts are refused, naming the difference */
    assert_int_equal(pp_parts_open(&p, dir, "out.h5", pp_runkey_text(&other), &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "temperature was 1, now 0.5"));
    assert_non_null(strstr(err.msg, "delete"));
    /* and the refusal let go of the lock */
    assert_int_equal(pp_parts_open(&p, dir, "out.h5", pp_runkey_text(&k), &err), PP_OK);
    pp_parts_remove(&p, &log);
    assert_int_not_equal(stat(dir, &sb), 0);

    /* a file where the directory should be */
    f = fopen(dir, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(pp_parts_open(&p, dir, "out.h5", pp_runkey_text(&k), &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "is not a directory"));
    unlink(dir);
    pp_runkey_free(&k);
    pp_runkey_free(&other);
}

int main(void) {
    snprintf(scratch, sizeof scratch, "/tmp/pp-unit.XXXXXX");
    if (!mkdtemp(scratch)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runkey_difference),
        cmocka_unit_test(test_runkey_escaping),
        cmocka_unit_test(test_parts_lock_key_cleanup),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rmdir(scratch);
    return rc;
}
