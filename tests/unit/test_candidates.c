/* test_candidates.c - candidate sets and the candidates file (src/io/candidates.h):
 * build -> write -> validate -> load gives the same set; a range load
 * rebases offsets; joining sets; damaged files are refused naming the
 * dataset. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/candidates.h"
#include "io/pp_schema.h"

static char scratch[256];

static const char *tmp_path(const char *name) {
    static char buf[2][512];
    static int which;
    which ^= 1;
    snprintf(buf[which], sizeof buf[which], "%s/%s", scratch, name);
    return buf[which];
}

/* 3 prompts x k = 2, with family/reference, one empty candidate. */
static void build(candidate_set *s) {
    pp_err err = {0};
    assert_int_equal(candidates_init(s, 2, &err), PP_OK);
    snprintf(s->model_fingerprint, sizeof s->model_fingerprint, "0123456789abcdef");
    snprintf(s->tokenizer, sizeof s->tokenizer, "byte");
    s->vocab_size = 259;
    s->temperature = 0.7;
    s->top_p = 0.9;
    s->top_k = 40;
    s->max_new_tokens = 8;
    s->seed = 3;
    snprintf(s->source, sizeof s->source, "builtin");
    snprintf(s->suite, sizeof s->suite, "add");
    snprintf(s->split, sizeof s->split, "test");
    const char *texts[3] = {"1+1=", "2+2=", "caf\xc3\xa9 \xe2\x80\x9cq\xe2\x80\x9d"};
    const char *refs[3] = {"2", "4", "x"};
    int ptoks[3][4] = {{256, '1', '+', '1'}, {256, '2', '+', '2'}, {256, 'c', 'a', 'f'}};
    for (int p = 0; p < 3; p++) {
        assert_int_equal(candidates_add_prompt(s, 10 + p * 7, texts[p], "add", refs[p], ptoks[p], 2 + p, &err), PP_OK);
        for (int j = 0; j < 2; j++) {
            int toks[4] = {'a' + p, 'b' + j, 257, 0};
            int n = (p == 1 && j == 1) ? 0 : 3;
            char text[16];
            snprintf(text, sizeof text, "%c%c", n ? 'a' + p : 0, 'b' + j);
            assert_int_equal(candidates_add_candidate(s, toks, n, n ? text : "", -1.5 * (p + j + 1), n ? FINISH_EOS : FINISH_MAX_TOKENS, &err),
                             PP_OK);
        }
    }
}

static void assert_same(const candidate_set *a, int64_t a0, const candidate_set *b, int64_t n_prompts) {
    for (int64_t p = 0; p < n_prompts; p++) {
        assert_int_equal(a->prompt_id[a0 + p], b->prompt_id[p]);
        assert_string_equal(a->prompt_text[a0 + p], b->prompt_text[p]);
        assert_string_equal(a->family[a0 + p], b->family[p]);
        assert_string_equal(a->reference[a0 + p], b->reference[p]);
        int64_t na, nb;
        const int32_t *ta = candidates_prompt_tokens(a, a0 + p, &na), *tb = candidates_prompt_tokens(b, p, &nb);
        assert_int_equal(na, nb);
        assert_memory_equal(ta, tb, (size_t)na * sizeof *ta);
        for (int64_t j = 0; j < a->k; j++) {
            int64_t ca = (a0 + p) * a->k + j, cb = p * b->k + j;
            ta = candidates_tokens(a, ca, &na);
            tb = candidates_tokens(b, cb, &nb);
            assert_int_equal(na, nb);
            if (na) assert_memory_equal(ta, tb, (size_t)na * sizeof *ta);
            assert_string_equal(a->candidate_text[ca], b->candidate_text[cb]);
            assert_true(a->candidate_logp[ca] == b->candidate_logp[cb]);
            assert_int_equal(a->candidate_length[ca], b->candidate_length[cb]);
            assert_int_equal(a->finish_reason[ca], b->finish_reason[cb]);
        }
    }
}

static void write_file(const candidate_set *s, const char *path) {
    pp_err err = {0};
    pp_provenance prov = {"test_candidates", "", NULL, 0};
    const char *extra[] = {"note", "hello", NULL};
    pp_status st = candidates_write(s, path, MPI_COMM_SELF, &prov, extra, &err);
    if (st != PP_OK) print_message("%s\n", err.msg);
    assert_int_equal(st, PP_OK);
}

static void test_roundtrip(void **state) {
    (void)state;
    candidate_set s, l;
    build(&s);
    const char *path = tmp_path("c.h5");
    write_file(&s, path);
    pp_err err = {0};
    assert_int_equal(access(tmp_path("c.h5.tmp"), F_OK), -1);
    pp_status st = pp_validate_file(path, &err);
    if (st != PP_OK) print_message("%s\n", err.msg);
    assert_int_equal(st, PP_OK);
    assert_int_equal(candidates_load(&l, path, &err), PP_OK);
    assert_int_equal(l.n_prompts, 3);
    assert_int_equal(l.k, 2);
    assert_int_equal(l.n_candidates, 6);
    assert_string_equal(l.model_fingerprint, "0123456789abcdef");
    assert_string_equal(l.tokenizer, "byte");
    assert_string_equal(l.suite, "add");
    assert_int_equal(l.vocab_size, 259);
    assert_true(l.temperature == 0.7 && l.top_p == 0.9);
    assert_int_equal(l.top_k, 40);
    assert_int_equal(l.max_new_tokens, 8);
    assert_int_equal(l.seed, 3);
    assert_same(&s, 0, &l, 3);
    int64_t n, k;
    assert_int_equal(candidates_count(path, &n, &k, &err), PP_OK);
    assert_int_equal(n, 3);
    assert_int_equal(k, 2);
    candidates_free(&l);

    /* a middle range: offsets rebased to 0 */
    assert_int_equal(candidates_load_range(&l, path, 1, 2, &err), PP_OK);
    assert_int_equal(l.n_prompts, 2);
    assert_int_equal(l.first_row, 1);
    assert_int_equal(l.file_n_prompts, 3);
    assert_int_equal(l.prompt_token_offsets[0], 0);
    assert_int_equal(l.candidate_token_offsets[0], 0);
    assert_same(&s, 1, &l, 2);
    candidates_free(&l);
    assert_int_equal(candidates_load_range(&l, path, 2, 5, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "requested"));

    /* joining two halves gives the whole */
    candidate_set a, whole;
    assert_int_equal(candidates_load_range(&a, path, 0, 1, &err), PP_OK);
    assert_int_equal(candidates_load_range(&l, path, 1, -1, &err), PP_OK);
    assert_int_equal(candidates_init(&whole, 2, &err), PP_OK);
    assert_int_equal(candidates_append(&whole, &a, &err), PP_OK);
    assert_int_equal(candidates_append(&whole, &l, &err), PP_OK);
    assert_same(&s, 0, &whole, 3);
    candidates_free(&a);
    candidates_free(&l);
    candidates_free(&whole);
    candidates_free(&s);
}

/* The dataset's own type in memory: raw values, also for an enum (HDF5
 * converts no integer to an enum, and 5 is no finish reason's value). */
#define OWN_TYPE ((hid_t)-1)

/* Overwrite one element of a dataset in place. */
static void poke(const char *path, const char *name, hid_t type, hsize_t at, const void *value) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (type == OWN_TYPE) {
        hid_t ft = H5Dget_type(d);
        type = H5Tget_native_type(ft, H5T_DIR_ASCEND);
        H5Tclose(ft);
    }
    hid_t fs = H5Dget_space(d);
    hsize_t one = 1;
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &at, NULL, &one, NULL);
    hid_t ms = H5Screate_simple(1, &one, NULL);
    assert_true(H5Dwrite(d, type, ms, fs, H5P_DEFAULT, value) >= 0);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    H5Fclose(f);
}

static void expect_damage(const char *dataset, hid_t type, hsize_t at, const void *value, const char *words) {
    candidate_set s, l;
    build(&s);
    const char *path = tmp_path("bad.h5");
    write_file(&s, path);
    candidates_free(&s);
    poke(path, dataset, type, at, value);
    pp_err err = {0};
    pp_status st = candidates_load(&l, path, &err);
    if (st != PP_EINPUT) print_message("%s element %d: loaded anyway\n", dataset, (int)at);
    assert_int_equal(st, PP_EINPUT);
    if (!strstr(err.msg, words)) print_message("message: %s\n", err.msg);
    assert_non_null(strstr(err.msg, words));
    assert_non_null(strstr(err.msg, "bad.h5"));
}

static void test_damaged_files(void **state) {
    (void)state;
    int32_t big = 9999, len = 7, reason = 5;
    int64_t two = 2, one = 1, eight = 8, dup = 10;
    double nan_ = 0.0 / 0.0;
    expect_damage("/candidate_tokens", H5T_NATIVE_INT32, 1, &big, "outside the vocabulary");
    expect_damage("/prompt_tokens", H5T_NATIVE_INT32, 0, &big, "/prompt_tokens");
    expect_damage("/candidate_length", H5T_NATIVE_INT32, 2, &len, "/candidate_length");
    expect_damage("/finish_reason", OWN_TYPE, 0, &reason, "/finish_reason");
    expect_damage("/candidate_token_offsets", H5T_NATIVE_INT64, 1, &two, "/candidate_length");
    expect_damage("/candidate_token_offsets", H5T_NATIVE_INT64, 2, &one, "out of order");
    expect_damage("/prompt_token_offsets", H5T_NATIVE_INT64, 0, &one, "must start at 0");
    expect_damage("/prompt_token_offsets", H5T_NATIVE_INT64, 3, &eight, "ends at 8");
    expect_damage("/candidate_logp", H5T_NATIVE_DOUBLE, 4, &nan_, "not finite");
    expect_damage("/prompt_id", H5T_NATIVE_INT64, 1, &dup, "repeated");
}

static void test_wrong_kind(void **state) {
    (void)state;
    /* a file of another kind is named as such */
    pp_err err = {0};
    pp_h5 f;
    pp_provenance prov = {"test", "", NULL, 0};
    const char *path = tmp_path("other.h5");
    assert_int_equal(pp_h5_create(&f, path, MPI_COMM_SELF, "prompts", 1, &prov, &err), PP_OK);
    assert_int_equal(pp_h5_commit(&f, &err), PP_OK);
    candidate_set s;
    assert_int_equal(candidates_load(&s, path, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "expected a 'candidates' file"));
    assert_int_equal(candidates_load(&s, tmp_path("missing.h5"), &err), PP_EINPUT);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    pp_h5_quiet();
    snprintf(scratch, sizeof scratch, "/tmp/pp-cand.XXXXXX");
    if (!mkdtemp(scratch)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_damaged_files),
        cmocka_unit_test(test_wrong_kind),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", scratch);
    if (system(cmd) != 0) rc |= 0;
    MPI_Finalize();
    return rc;
}
