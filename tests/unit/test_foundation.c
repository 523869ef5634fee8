/* Unit tests of the library basics: options/config, RNG streams, UTF-8,
 * errors, the HDF5 layer and the schema validator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/pp_error.h"
#include "io/pp_h5.h"
#include "core/pp_options.h"
#include "core/pp_rng.h"
#include "io/pp_schema.h"
#include "core/pp_text.h"
#include "prompts/prompts.h"

static char scratch[256];

static const char *tmp_path(const char *name) {
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", scratch, name);
    return buf;
}

static void write_text_file(const char *path, const char *content) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

/* ---------------------------------------------------------------- options */
typedef struct {
    const char *out, *method;
    int k, flag;
    double beta;
    pp_option opts[5];
    pp_cli cli;
} opt_fixture;

static void opt_setup(opt_fixture *o) {
    memset(o, 0, sizeof *o);
    o->method = "iterative";
    o->k = 8;
    o->beta = 0.1;
    pp_option opts[5] = {
        {"out", OPT_STRING, &o->out, "FILE", "output", NULL, 1, 0, 0},
        {"k", OPT_INT, &o->k, "K", "candidates", NULL, 0, 1, 1024},
        {"beta", OPT_DOUBLE, &o->beta, "B", "beta", NULL, 0, 0, 0},
        {"method", OPT_CHOICE, &o->method, "M", "method", "iterative|knockout", 0, 0, 0},
        {"both-orders", OPT_FLAG, &o->flag, NULL, "flag", NULL, 0, 0, 0},
    };
    memcpy(o->opts, opts, sizeof opts);
    o->cli.prog = "test";
    o->cli.opts = o->opts;
    o->cli.n_opts = 5;
}

static void test_options_command_line(void **state) {
    (void)state;
    opt_fixture o;
    opt_setup(&o);
    char *argv[] = {"prog", "--out", "x.h5", "--k=4", "--beta", "0.5", "--method", "knockout", "--both-orders", NULL};
    pp_err err = {0};
    assert_int_equal(pp_cli_parse(&o.cli, 9, argv, &err), PP_OK);
    assert_string_equal(o.out, "x.h5");
    assert_int_equal(o.k, 4);
    assert_true(fabs(o.beta - 0.5) < 1e-15);
    assert_string_equal(o.method, "knockout");
    assert_int_equal(o.flag, 1);
    assert_non_null(strstr(pp_cli_effective(&o.cli), "--k=4"));
    pp_cli_free(&o.cli);
}

static void test_options_config_and_precedence(void **state) {
    (void)state;
    opt_fixture o;
    opt_setup(&o);
    write_text_file(tmp_path("a.conf"), "# comment\nout = from-file.h5\nk = 3   # trailing comment\nboth_orders = true\nmethod = \"knockout\"\n");
    char conf[512];
    snprintf(conf, sizeof conf, "%s", tmp_path("a.conf"));
    char *argv[] = {"prog", "--config", conf, "--k", "5", NULL};
    pp_err err = {0};
    assert_int_equal(pp_cli_parse(&o.cli, 5, argv, &err), PP_OK);
    assert_string_equal(o.out, "from-file.h5");
    assert_int_equal(o.k, 5); /* command line wins */
    assert_int_equal(o.flag, 1);
    assert_string_equal(o.method, "knockout");
    pp_cli_free(&o.cli);
}

static void test_options_errors(void **state) {
    (void)state;
    pp_err err = {0};
    opt_fixture o;
    struct {
        int argc;
        char *argv[6];
        const char *want;
    } cases[] = {
        {3, {"p", "--bogus", "1"}, "unknown option '--bogus'"},
        {3, {"p", "--k", "abc"}, "--k wants an integer"},
        {5, {"p", "--out", "x", "--k", "0"}, "outside [1, 1024]"},
        {5, {"p", "--out", "x", "--method", "nope"}, "must be one of iterative|knockout"},
        {2, {"p", "--k"}, "--k needs a value"},
        {1, {"p"}, "--out is required"},
        {4, {"p", "--out", "x", "stray"}, "unexpected argument 'stray'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        opt_setup(&o);
        cases[i].argv[cases[i].argc] = NULL;
        int argc = 0;
        while (cases[i].argv[argc]) argc++;
        if (pp_cli_parse(&o.cli, argc, cases[i].argv, &err) != PP_EINPUT) fail_msg("case %zu parsed", i);
        if (!strstr(err.msg, cases[i].want)) fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].want);
        pp_cli_free(&o.cli);
    }
    opt_setup(&o);
    write_text_file(tmp_path("b.conf"), "out = x\nk = 2\nnonsense line\n");
    char conf[512];
    snprintf(conf, sizeof conf, "%s", tmp_path("b.conf"));
    char *argv[] = {"p", "--config", conf, NULL};
    assert_int_equal(pp_cli_parse(&o.cli, 3, argv, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "b.conf:3: expected 'key = value'"));
    pp_cli_free(&o.cli);
}

/* -------------------------------------------------------------------- rng */
static void test_rng_streams(void **state) {
    (void)state;
    pp_rng a = pp_rng_stream(42, 7, 3), b = pp_rng_stream(42, 7, 3), c = pp_rng_stream(42, 7, 4);
    int same_c = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = pp_rng_u64(&a), y = pp_rng_u64(&b), z = pp_rng_u64(&c);
        assert_true(x == y);
        same_c += x == z;
    }
    assert_true(same_c < 2);
    /* draw n depends only on (key, n): restoring the counter resumes exactly */
    pp_rng r = pp_rng_stream(1, 2, 3);
    for (int i = 0; i < 10; i++) pp_rng_u64(&r);
    pp_rng saved = r;
    uint64_t next = pp_rng_u64(&r);
    assert_true(pp_rng_u64(&saved) == next);
    /* uniform moments */
    pp_rng u = pp_rng_stream(9, 0, 0);
    double s = 0, s2 = 0;
    int n = 200000;
    for (int i = 0; i < n; i++) {
        double x = pp_rng_uniform(&u);
        assert_true(x >= 0 && x < 1);
        s += x;
        s2 += x * x;
    }
    assert_true(fabs(s / n - 0.5) < 0.005);
    assert_true(fabs(s2 / n - 1.0 / 3) < 0.005);
    double m = 0, v = 0;
    for (int i = 0; i < n; i++) {
        double x = pp_rng_normal(&u);
        m += x;
        v += x * x;
    }
    assert_true(fabs(m / n) < 0.01);
    assert_true(fabs(v / n - 1) < 0.02);
    int counts[5] = {0};
    for (int i = 0; i < 50000; i++) counts[pp_rng_below(&u, 5)]++;
    for (int i = 0; i < 5; i++) assert_true(abs(counts[i] - 10000) < 500);
}

/* ------------------------------------------------------------------ text */
static void test_utf8(void **state) {
    (void)state;
    size_t bad = 99;
    assert_true(pp_utf8_valid("plain", 5, &bad));
    const char *ok = "gr\xc3\xbc\xc3\x9f" "e \xe2\x80\x94 \xe2\x9c\x93 \xf0\x9f\x98\x80";
    assert_true(pp_utf8_valid(ok, strlen(ok), &bad));
    assert_false(pp_utf8_valid("ab\xff", 3, &bad));
    assert_int_equal(bad, 2);
    assert_false(pp_utf8_valid("\xc3", 1, &bad));          /* truncated */
    assert_false(pp_utf8_valid("\xc0\xaf", 2, &bad));      /* overlong */
    assert_false(pp_utf8_valid("\xed\xa0\x80", 3, &bad));  /* surrogate */
    assert_false(pp_utf8_valid("\xf4\x90\x80\x80", 4, &bad)); /* > U+10FFFF */
}

/* The one sanitizer: valid text passes unchanged; a bad byte, a truncated
 * sequence at the end and an embedded NUL each become one U+FFFD. */
static void test_utf8_sanitize(void **state) {
    (void)state;
    char out[64];
    const char *ok = "gr\xc3\xbc\xc3\x9f \xf0\x9f\x98\x80";
    assert_int_equal(pp_utf8_sanitize(ok, strlen(ok), out), strlen(ok));
    assert_string_equal(out, ok);
    const char in[] = {'a', (char)0xff, 'b', '\0', 'c', (char)0xe2, (char)0x80};
    size_t n = pp_utf8_sanitize(in, sizeof in, out);
    assert_string_equal(out, "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd");
    assert_int_equal(n, strlen(out));
    assert_true(pp_utf8_valid(out, n, NULL));
    char *owned = (char *)1;
    assert_ptr_equal(pp_utf8_clean(ok, &owned), ok);
    assert_null(owned);
    const char *fixed = pp_utf8_clean("x\xc0\xafy", &owned);
    assert_non_null(owned);
    assert_string_equal(fixed, "x\xef\xbf\xbd\xef\xbf\xbdy");
    free(owned);
}

static void test_error_wrap(void **state) {
    (void)state;
    pp_err err = {0};
    assert_int_equal(pp_fail(&err, PP_EINPUT, "a.h5: dataset /x: bad\nthing"), PP_EINPUT);
    assert_null(strchr(err.msg, '\n'));
    pp_wrap(&err, "reading %s", "a.h5");
    assert_string_equal(err.msg, "reading a.h5: a.h5: dataset /x: bad thing");
    assert_int_equal(err.status, PP_EINPUT);
}

/* ------------------------------------------------------------------ hdf5 */
static void test_h5_roundtrip_and_validate(void **state) {
    (void)state;
    prompt_set s = {0};
    pp_err err = {0};
    const char *texts[] = {"one", "tw\xc3\xb6 \"quoted\"\nline", "three"};
    for (int i = 0; i < 3; i++) assert_int_equal(prompts_add(&s, 10 + i, texts[i], NULL, NULL, &err), PP_OK);
    snprintf(s.source, sizeof s.source, "text");
    char path[512];
    snprintf(path, sizeof path, "%s", tmp_path("p.h5"));
    pp_provenance prov = {"test", "--x=1", NULL, 0};
    assert_int_equal(prompts_write(&s, path, MPI_COMM_WORLD, &prov, &err), PP_OK);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_not_equal(access(tmp, F_OK), 0);
    assert_int_equal(pp_validate_file(path, &err), PP_OK);
    prompt_set r;
    assert_int_equal(prompts_load(&r, path, &err), PP_OK);
    assert_int_equal(r.n, 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(r.text[i], texts[i]);
        assert_int_equal(r.ids[i], 10 + i);
    }
    prompts_free(&r);
    prompts_free(&s);

    /* the fingerprint is stable and content-based */
    char fp1[17], fp2[17];
    assert_int_equal(pp_file_fingerprint(path, fp1, &err), PP_OK);
    assert_int_equal(pp_file_fingerprint(path, fp2, &err), PP_OK);
    assert_string_equal(fp1, fp2);
    assert_int_equal((int)strlen(fp1), 16);
}

/* Write a prompts-like file by hand with one defect and expect the validator
 * to name it. */
static void write_defective(const char *path, int defect) {
    pp_h5 f;
    pp_err err = {0};
    pp_provenance prov = {"test", "", NULL, 0};
    assert_int_equal(pp_h5_create(&f, path, MPI_COMM_WORLD, "prompts", defect == 3 ? 99 : 1, &prov, &err), PP_OK);
    assert_int_equal(pp_h5_attr_i64(&f, "/", "n_prompts", 3, &err), PP_OK);
    assert_int_equal(pp_h5_attr_str(&f, "/", "source", "text", &err), PP_OK);
    int64_t ids[3] = {0, 1, defect == 4 ? 1 : 2};
    int64_t dims[1] = {defect == 1 ? 2 : 3};
    assert_int_equal(pp_h5_write_root(&f, "/id", PP_I64, 1, dims, ids, &err), PP_OK);
    assert_int_equal(pp_h5_serial_begin(&f, &err), PP_OK);
    const char *t[3] = {"a", "b", "c"};
    if (defect != 2) assert_int_equal(pp_h5_write_text(&f, "/text", 3, t, &err), PP_OK);
    assert_int_equal(pp_h5_commit(&f, &err), PP_OK);
}

static void test_validator_finds_defects(void **state) {
    (void)state;
    const char *want[] = {NULL, "dataset /id dimension 0 is 2", "required dataset /text is missing",
                          "schema version 99 is newer", "has the value 1 twice"};
    for (int d = 0; d <= 4; d++) {
        char path[512];
        snprintf(path, sizeof path, "%s/defect%d.h5", scratch, d);
        write_defective(path, d);
        pp_err err = {0};
        pp_status st = pp_validate_file(path, &err);
        if (d == 0) assert_int_equal(st, PP_OK);
        else {
            assert_int_equal(st, PP_EINPUT);
            if (!strstr(err.msg, want[d]) && !(d == 1 && strstr(err.msg, "n_prompts")))
                fail_msg("defect %d: '%s' lacks '%s'", d, err.msg, want[d]);
        }
    }
    /* the reader refuses a newer schema version before reading anything */
    pp_h5 f;
    pp_err err = {0};
    char path[512];
    snprintf(path, sizeof path, "%s/defect3.h5", scratch);
    assert_int_equal(pp_h5_open(&f, path, "prompts", 1, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "schema version 99 is not supported"));
}

static void test_check_output(void **state) {
    (void)state;
    pp_err err = {0};
    pp_input in[1] = {{"model", "/etc/hostname"}};
    assert_int_equal(pp_check_output("/etc/hostname", in, 1, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "also the model input"));
    assert_int_equal(pp_check_output("/nonexistent/dir/x.h5", NULL, 0, &err), PP_EINPUT);
    assert_int_equal(pp_check_output(tmp_path("fine.h5"), in, 1, &err), PP_OK);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    pp_h5_quiet();
    snprintf(scratch, sizeof scratch, "/tmp/pp-unit.XXXXXX");
    if (!mkdtemp(scratch)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_command_line),
        cmocka_unit_test(test_options_config_and_precedence),
        cmocka_unit_test(test_options_errors),
        cmocka_unit_test(test_rng_streams),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_utf8_sanitize),
        cmocka_unit_test(test_error_wrap),
        cmocka_unit_test(test_h5_roundtrip_and_validate),
        cmocka_unit_test(test_validator_finds_defects),
        cmocka_unit_test(test_check_output),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", scratch);
    if (system(cmd) != 0) rc |= 0;
    MPI_Finalize();
    return rc;
}
