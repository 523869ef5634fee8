/* test_pairs.c - the pairs file (src/io/pairs.h): build -> write -> validate ->
 * load gives the same set, token accessors, optional arrays, the TRL JSON
 * lines export, and damaged files refused naming the dataset. */
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

#include <hdf5.h>

#include "io/pairs.h"
#include "io/pp_schema.h"

static char scratch[256];

static const char *tmp_path(const char *name) {
    static char buf[2][512];
    static int which;
    which ^= 1;
    snprintf(buf[which], sizeof buf[which], "%s/%s", scratch, name);
    return buf[which];
}

static int32_t *ints(int n, const int32_t *v) {
    int32_t *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    if (n > 0) memcpy(p, v, (size_t)n * sizeof *p);
    return p;
}

/* 2 prompts x k = 3, 3 pairs (one prompt has two), 4 logged calls. */
static void build(pairs_set *s, int with_truth) {
    pp_err err = {0};
    assert_int_equal(pairs_alloc(s, 2, 3, 3, 4, with_truth, 1, 1, &err), PP_OK);
    s->prompt_id[0] = 5, s->prompt_id[1] = 9;
    const char *pt[2] = {"add 1+1=", "caf\xc3\xa9 \"q\"\nline"};
    const char *fam[2] = {"add", "add"}, *ref[2] = {"2", "x"};
    assert_int_equal(pairs_pack_text(&s->prompt_text, 2, pt, &err), PP_OK);
    assert_int_equal(pairs_pack_text(&s->family, 2, fam, &err), PP_OK);
    assert_int_equal(pairs_pack_text(&s->reference, 2, ref, &err), PP_OK);
    int64_t poff[3] = {0, 3, 5};
    memcpy(s->prompt_token_offsets, poff, sizeof poff);
    s->prompt_tokens = ints(5, (int32_t[]){256, 'a', 'b', 256, 'c'});
    int rk[6] = {2, 0, 1, 1, 2, 0};
    memcpy(s->ranking, rk, sizeof rk);
    s->best[0] = 2, s->worst[0] = 1, s->best[1] = 1, s->worst[1] = 0;
    for (int p = 0; p < 2; p++) s->judge_calls[p] = 4, s->ties[p] = p, s->failures[p] = 0;
    for (int i = 0; i < 6; i++) s->score[i] = i * 0.5, s->strength[i] = -i;
    int64_t pp[3] = {0, 1, 1};
    memcpy(s->pair_prompt, pp, sizeof pp);
    s->chosen[0] = 2, s->rejected[0] = 1, s->chosen[1] = 1, s->rejected[1] = 0, s->chosen[2] = 1, s->rejected[2] = 2;
    const char *ct[3] = {"2", "x\xe2\x80\x9c", "x\xe2\x80\x9c"}, *rt[3] = {"3", "", "\xff bad"};
    assert_int_equal(pairs_pack_text(&s->chosen_text, 3, ct, &err), PP_OK);
    assert_int_equal(pairs_pack_text(&s->rejected_text, 3, rt, &err), PP_OK);
    int64_t coff[4] = {0, 2, 4, 6}, roff[4] = {0, 2, 3, 4};
    memcpy(s->chosen_token_offsets, coff, sizeof coff);
    memcpy(s->rejected_token_offsets, roff, sizeof roff);
    s->chosen_tokens = ints(6, (int32_t[]){'2', 257, 'x', 257, 'x', 257});
    s->rejected_tokens = ints(4, (int32_t[]){'3', 257, 257, 255});
    if (with_truth) {
        for (int i = 0; i < 6; i++) s->true_score[i] = i < 3 ? 0.25 * i : NAN;
        for (int i = 0; i < 3; i++) s->chosen_true_score[i] = 1, s->rejected_true_score[i] = 0.5;
        s->has_truth = 1, s->truth_prompts = 1, s->truth_best_rate = 1, s->truth_pair_accuracy = 1;
    }
    for (int i = 0; i < 4; i++)
        s->matches[i] = (pairs_match){i / 2, i % 2, i % 2, 0, 0, 1, i == 3 ? 3 : 0, 0.01 * i, 1, 0, 0, 0, 0, 0, 3 - i, NAN, NAN};
    const char *errs[4] = {"", "", "", "judge timed out \"x\""};
    assert_int_equal(pairs_pack_text(&s->match_error, 4, errs, &err), PP_OK);
    snprintf(s->method, sizeof s->method, "knockout");
    snprintf(s->judge, sizeof s->judge, "cmd");
    snprintf(s->rejected_rule, sizeof s->rejected_rule, "quantile:0.5");
    snprintf(s->pairs_mode, sizeof s->pairs_mode, "all");
    snprintf(s->judge_cmd, sizeof s->judge_cmd, "judge --flag 'a b'");
    s->has_timeout = 1, s->judge_timeout = 2.5;
    s->both_orders = 1, s->judge_calls_total = 8, s->flips = 1, s->flip_rate = 0.25, s->failures_total = 1;
    s->timeouts = 2, s->restarts = 3, s->bad_answers = 4, s->judge_seconds = 0.06;
    snprintf(s->model_fingerprint, sizeof s->model_fingerprint, "0123456789abcdef");
    snprintf(s->tokenizer, sizeof s->tokenizer, "byte");
    s->vocab_size = 259;
    snprintf(s->source, sizeof s->source, "builtin");
}

static void write_file(const pairs_set *s, const char *path) {
    pp_err err = {0};
    pp_provenance prov = {"test_pairs", "", NULL, 0};
    assert_int_equal(pairs_write(s, path, MPI_COMM_WORLD, &prov, &err), PP_OK);
}

static void test_round_trip(void **state) {
    (void)state;
    pairs_set a, b;
    pp_err err = {0};
    build(&a, 1);
    const char *path = tmp_path("r.h5");
    write_file(&a, path);
    assert_int_equal(access(tmp_path("r.h5.tmp"), F_OK), -1);
    if (pp_validate_file(path, &err) != PP_OK) fail_msg("validate: %s", err.msg);
    assert_int_equal(pairs_load(&b, path, PAIRS_LOAD_MATCHES, &err), PP_OK);
    assert_int_equal(b.n_prompts, 2);
    assert_int_equal(b.k, 3);
    assert_int_equal(b.n_pairs, 3);
    assert_int_equal(b.n_matches, 4);
    assert_string_equal(b.prompt_text[1], a.prompt_text[1]);
    assert_string_equal(b.reference[1], "x");
    assert_memory_equal(b.ranking, a.ranking, 6 * sizeof(int));
    assert_int_equal(b.best[0], 2);
    assert_int_equal(b.worst[1], 0);
    assert_string_equal(b.chosen_text[1], a.chosen_text[1]);
    assert_string_equal(b.rejected_text[1], "");
    assert_true(isnan(b.true_score[4]));
    assert_true(b.strength && b.score && b.score[5] == 2.5);
    assert_int_equal(b.matches[3].verdict, 3);
    assert_int_equal(b.matches[3].sequence, 0);
    assert_string_equal(b.match_error[3], "judge timed out \"x\"");
    assert_string_equal(b.method, "knockout");
    assert_string_equal(b.rejected_rule, "quantile:0.5");
    assert_string_equal(b.judge_cmd, "judge --flag 'a b'");
    assert_true(b.has_timeout && b.judge_timeout == 2.5);
    assert_false(b.has_oracle_params);
    assert_int_equal(b.restarts, 3);
    assert_true(b.has_truth && b.truth_pair_accuracy == 1);
    assert_string_equal(b.model_fingerprint, "0123456789abcdef");
    assert_int_equal(b.vocab_size, 259);
    /* what training reads */
    int64_t n;
    const int32_t *t = pairs_prompt_tokens(&b, 2, &n);
    assert_int_equal(n, 2);
    assert_int_equal(t[0], 256);
    assert_int_equal(t[1], 'c');
    t = pairs_chosen_tokens(&b, 1, &n);
    assert_int_equal(n, 2);
    assert_int_equal(t[0], 'x');
    t = pairs_rejected_tokens(&b, 1, &n);
    assert_int_equal(n, 1);
    assert_int_equal(t[0], 257);
    t = pairs_rejected_tokens(&b, 2, &n);
    assert_int_equal(n, 1);
    assert_int_equal(t[0], 255);
    pairs_free(&b);
    /* without the flag the match log stays on disk */
    assert_int_equal(pairs_load(&b, path, 0, &err), PP_OK);
    assert_null(b.matches);
    assert_int_equal(b.n_matches, 4);
    pairs_free(&b);
    pairs_free(&a);
}

static void test_optional_absent(void **state) {
    (void)state;
    pairs_set a, b;
    pp_err err = {0};
    build(&a, 0);
    free(a.strength);
    a.strength = NULL;
    const char *path = tmp_path("o.h5");
    write_file(&a, path);
    if (pp_validate_file(path, &err) != PP_OK) fail_msg("validate: %s", err.msg);
    assert_int_equal(pairs_load(&b, path, 0, &err), PP_OK);
    assert_null(b.true_score);
    assert_null(b.chosen_true_score);
    assert_false(b.has_truth);
    assert_null(b.strength);
    assert_non_null(b.score);
    pairs_free(&b);
    pairs_free(&a);
}

static void test_jsonl(void **state) {
    (void)state;
    pairs_set a;
    pp_err err = {0};
    build(&a, 0);
    const char *path = tmp_path("p.jsonl");
    assert_int_equal(pairs_write_jsonl(&a, path, &err), PP_OK);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *want = "{\"prompt\":\"add 1+1=\",\"chosen\":\"2\",\"rejected\":\"3\"}\n"
                       "{\"prompt\":\"caf\xc3\xa9 \\\"q\\\"\\nline\",\"chosen\":\"x\xe2\x80\x9c\",\"rejected\":\"\"}\n"
                       "{\"prompt\":\"caf\xc3\xa9 \\\"q\\\"\\nline\",\"chosen\":\"x\xe2\x80\x9c\",\"rejected\":\"\xef\xbf\xbd bad\"}\n";
    assert_string_equal(buf, want);
    assert_int_equal(access(tmp_path("p.jsonl.tmp"), F_OK), -1);
    pairs_free(&a);
}

/* Write a set with one thing broken; loading must fail naming the dataset. */
static void expect_refused(void (*breakit)(pairs_set *), const char *name, const char *needle) {
    pairs_set a, b;
    pp_err err = {0};
    build(&a, 1);
    breakit(&a);
    const char *path = tmp_path(name);
    write_file(&a, path);
    assert_int_equal(pairs_load(&b, path, PAIRS_LOAD_MATCHES, &err), PP_EINPUT);
    if (!strstr(err.msg, needle)) fail_msg("message '%s' lacks '%s'", err.msg, needle);
    assert_null(b.prompt_id);
    pairs_free(&a);
}

static void bad_chosen(pairs_set *s) { s->chosen[1] = 3; }
static void bad_token(pairs_set *s) { s->rejected_tokens[3] = 259; }
static void bad_offsets(pairs_set *s) { s->chosen_token_offsets[1] = 5, s->chosen_token_offsets[2] = 4; }
static void bad_row(pairs_set *s) { s->pair_prompt[2] = 2; }
static void bad_match(pairs_set *s) { s->matches[0].b = 7; }

static void test_damaged_refused(void **state) {
    (void)state;
    expect_refused(bad_chosen, "b1.h5", "/chosen");
    expect_refused(bad_token, "b2.h5", "/rejected_tokens");
    expect_refused(bad_offsets, "b3.h5", "/chosen_token_offsets decrease");
    expect_refused(bad_row, "b4.h5", "/pair_prompt");
    expect_refused(bad_match, "b5.h5", "/matches/b");
    pairs_set b;
    pp_err err = {0};
    assert_int_equal(pairs_load(&b, tmp_path("missing.h5"), 0, &err), PP_EINPUT);
}

/* Rewrite an enum column the version-1 way: plain int32 values. */
static void enum_to_int32(hid_t f, const char *name) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT), ft = H5Dget_type(d), sp = H5Dget_space(d);
    assert_int_equal(H5Tget_class(ft), H5T_ENUM);
    hid_t native = H5Tget_native_type(ft, H5T_DIR_ASCEND);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    int32_t *v = calloc((size_t)n + 1, sizeof *v);
    assert_true(H5Dread(d, native, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(d);
    H5Ldelete(f, name, H5P_DEFAULT);
    d = H5Dcreate2(f, name, H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(d);
    H5Tclose(native);
    H5Tclose(ft);
    H5Sclose(sp);
    free(v);
}

/* Version 2 stores verdicts and orders as enums and the log size as
 * n_logged_calls; a version-1 file (int32 columns, n_matches) still loads
 * with the same values. */
static void test_version1_still_loads(void **state) {
    (void)state;
    pairs_set a, b;
    pp_err err = {0};
    build(&a, 0);
    a.matches[1].order = 1; /* both names of each enum in the file */
    const char *path = tmp_path("v1.h5");
    write_file(&a, path);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    enum_to_int32(f, "/matches/verdict");
    enum_to_int32(f, "/matches/order");
    int64_t n = 4, one = 1;
    H5Adelete(f, "n_logged_calls");
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t at = H5Acreate2(f, "n_matches", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(at, H5T_NATIVE_INT64, &n);
    H5Aclose(at);
    at = H5Aopen(f, "schema_version", H5P_DEFAULT);
    H5Awrite(at, H5T_NATIVE_INT64, &one);
    H5Aclose(at);
    H5Sclose(sp);
    H5Fclose(f);
    assert_int_equal(pairs_load(&b, path, PAIRS_LOAD_MATCHES, &err), PP_OK);
    assert_int_equal(b.n_matches, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(b.matches[i].verdict, a.matches[i].verdict);
        assert_int_equal(b.matches[i].order, a.matches[i].order);
    }
    pairs_free(&b);
    /* and the version-2 file it came from reads the same */
    write_file(&a, tmp_path("v2.h5"));
    assert_int_equal(pairs_load(&b, tmp_path("v2.h5"), PAIRS_LOAD_MATCHES, &err), PP_OK);
    assert_int_equal(b.matches[3].verdict, 3);
    assert_int_equal(b.matches[1].order, 1);
    pairs_free(&b);
    pairs_free(&a);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    snprintf(scratch, sizeof scratch, "%s/test_pairs.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(scratch)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_optional_absent),
        cmocka_unit_test(test_jsonl),
        cmocka_unit_test(test_damaged_refused),
        cmocka_unit_test(test_version1_still_loads),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    if (system(cmd) != 0) rc = rc ? rc : 1;
    MPI_Finalize();
    return rc;
}
