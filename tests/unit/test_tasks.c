/* test_tasks.c - the built-in task suite: parsing, formats, determinism,
 * split disjointness, scoring edge cases, wrong demonstrations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "suite/tasks.h"

/* ---- a small string set (open addressing) for disjointness checks ---- */

typedef struct {
    size_t cap;
    char (*keys)[TASK_TEXT_MAX];
    unsigned char *used;
    size_t n;
} str_set;

static void set_init(str_set *s, size_t cap) {
    s->cap = cap;
    s->keys = calloc(cap, TASK_TEXT_MAX);
    s->used = calloc(cap, 1);
    s->n = 0;
    assert_non_null(s->keys);
    assert_non_null(s->used);
}

static void set_free(str_set *s) {
    free(s->keys);
    free(s->used);
}

static uint64_t str_hash(const char *p) {
    uint64_t h = 1469598103934665603ULL;
    for (; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

/* Returns 1 when newly added. */
static int set_add(str_set *s, const char *k) {
    size_t i = str_hash(k) % s->cap;
    while (s->used[i]) {
        if (strcmp(s->keys[i], k) == 0) return 0;
        i = (i + 1) % s->cap;
    }
    assert_true(s->n + 1 < s->cap);
    s->used[i] = 1;
    snprintf(s->keys[i], TASK_TEXT_MAX, "%s", k);
    s->n++;
    return 1;
}

static int set_has(const str_set *s, const char *k) {
    size_t i = str_hash(k) % s->cap;
    while (s->used[i]) {
        if (strcmp(s->keys[i], k) == 0) return 1;
        i = (i + 1) % s->cap;
    }
    return 0;
}

static task_family_set one_family(task_family f) {
    task_family_set s = {.n = 1};
    s.fam[0] = f;
    return s;
}

static task_item make(task_family f, task_split split, uint64_t i, uint64_t seed) {
    task_family_set s = one_family(f);
    task_item t;
    pp_err err = {0};
    assert_int_equal(tasks_make(&s, split, i, seed, &t, &err), PP_OK);
    return t;
}

/* ---- an independent solver: checks each prompt's format and answer ---- */

static int all_in(const char *w, char lo, char hi) {
    if (!*w) return 0;
    for (; *w; w++)
        if (*w < lo || *w > hi) return 0;
    return 1;
}

/* Checks t and returns the "size" of its problem: the larger operand for
 * add/sub, the word length for the others. */
static int check_item(const task_item *t) {
    char expect[TASK_TEXT_MAX], word[TASK_TEXT_MAX];
    int a, b, n = -1;
    char c, tail;
    switch (t->family) {
    case TASK_ADD:
        assert_int_equal(sscanf(t->prompt, "add %d+%d%c", &a, &b, &tail), 3);
        assert_int_equal(tail, '=');
        snprintf(expect, sizeof expect, "add %d+%d=", a, b);
        assert_string_equal(t->prompt, expect);
        snprintf(expect, sizeof expect, "%d", a + b);
        n = a > b ? a : b;
        break;
    case TASK_SUB:
        assert_int_equal(sscanf(t->prompt, "sub %d-%d%c", &a, &b, &tail), 3);
        assert_int_equal(tail, '=');
        assert_true(b >= 0 && b <= a);
        snprintf(expect, sizeof expect, "sub %d-%d=", a, b);
        assert_string_equal(t->prompt, expect);
        snprintf(expect, sizeof expect, "%d", a - b);
        n = a;
        break;
    case TASK_REV:
    case TASK_SORT: {
        const char *pre = t->family == TASK_REV ? "rev " : "sort ";
        size_t lp = strlen(pre), len = strlen(t->prompt);
        assert_memory_equal(t->prompt, pre, lp);
        assert_int_equal(t->prompt[len - 1], '=');
        memcpy(word, t->prompt + lp, len - lp - 1);
        word[len - lp - 1] = '\0';
        assert_true(all_in(word, 'a', 'z'));
        n = (int)strlen(word);
        if (t->family == TASK_REV) {
            for (int i = 0; i < n; i++) expect[i] = word[n - 1 - i];
            expect[n] = '\0';
        } else { /* insertion sort, unlike the library's counting sort */
            snprintf(expect, sizeof expect, "%s", word);
            for (int i = 1; i < n; i++)
                for (int j = i; j > 0 && expect[j - 1] > expect[j]; j--) {
                    char x = expect[j];
                    expect[j] = expect[j - 1];
                    expect[j - 1] = x;
                }
        }
        break;
    }
    case TASK_COUNT:
    default: {
        assert_int_equal(sscanf(t->prompt, "count %c in %40[a-z]%c", &c, word, &tail), 3);
        assert_int_equal(tail, '=');
        snprintf(expect, sizeof expect, "count %c in %.30s=", c, word);
        assert_string_equal(t->prompt, expect);
        assert_true(all_in(word, 'a', 'f'));
        assert_true(c >= 'a' && c <= 'f');
        int k = 0;
        for (const char *p = word; *p; p++) k += *p == c;
        snprintf(expect, sizeof expect, "%d", k);
        n = (int)strlen(word);
        break;
    }
    }
    assert_string_equal(t->answer, expect);
    /* short enough for a tiny byte model */
    assert_true(strlen(t->prompt) <= 40);
    assert_true(strlen(t->answer) >= 1 && strlen(t->answer) <= 12);
    return n;
}

/* ---- parsing ---------------------------------------------------------- */

static void test_parse_families(void **state) {
    (void)state;
    task_family_set s;
    pp_err err = {0};
    char buf[64];
    assert_int_equal(tasks_parse_families("all", &s, &err), PP_OK);
    assert_int_equal(s.n, TASK_N_FAMILIES);
    tasks_families_string(&s, buf, sizeof buf);
    assert_string_equal(buf, "add,sub,rev,sort,count");

    /* canonical order whatever the order given, spaces allowed */
    assert_int_equal(tasks_parse_families(" sort , add,count", &s, &err), PP_OK);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.fam[0], TASK_ADD);
    assert_int_equal(s.fam[1], TASK_SORT);
    assert_int_equal(s.fam[2], TASK_COUNT);
    tasks_families_string(&s, buf, sizeof buf);
    assert_string_equal(buf, "add,sort,count");

    struct { const char *in, *needle; } bad[] = {
        {"", "empty name"},          {"add,,rev", "empty name"}, {"add,", "empty name"},
        {"mul", "unknown family 'mul'"}, {"add,rev,add", "listed twice"},
        {"all,add", "'all' must stand alone"}, {"add,all", "'all' must stand alone"},
        {"averyveryverylongfamilyname", "unknown family"}, {"Add", "unknown family 'Add'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pp_err_clear(&err);
        assert_int_equal(tasks_parse_families(bad[i].in, &s, &err), PP_EINPUT);
        assert_non_null(strstr(err.msg, bad[i].needle));
        assert_non_null(strstr(err.msg, "task families"));
    }
    assert_int_equal(tasks_parse_families(NULL, &s, &err), PP_EINPUT);

    task_family f;
    for (int k = 0; k < TASK_N_FAMILIES; k++) {
        assert_int_equal(tasks_family_from_name(tasks_family_name((task_family)k), &f, &err), PP_OK);
        assert_int_equal(f, k);
    }
    assert_int_equal(tasks_family_from_name("reverse", &f, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "'reverse'"));

    /* a tiny buffer truncates but stays a string */
    assert_int_equal(tasks_parse_families("all", &s, &err), PP_OK);
    tasks_families_string(&s, buf, 6);
    assert_true(strlen(buf) < 6);
}

static void test_parse_split(void **state) {
    (void)state;
    task_split sp;
    pp_err err = {0};
    const char *names[] = {"train", "test", "ood"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tasks_parse_split(names[i], &sp, &err), PP_OK);
        assert_int_equal(sp, i);
        assert_string_equal(tasks_split_name(sp), names[i]);
    }
    assert_int_equal(tasks_parse_split("valid", &sp, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "'valid'"));
    assert_int_equal(tasks_parse_split("", &sp, &err), PP_EINPUT);

    task_family_set empty = {.n = 0};
    task_item t;
    assert_int_equal(tasks_make(&empty, TASK_SPLIT_TRAIN, 0, 1, &t, &err), PP_EINPUT);
}

/* ---- generation ------------------------------------------------------- */

static void test_formats_and_answers(void **state) {
    (void)state;
    for (int f = 0; f < TASK_N_FAMILIES; f++)
        for (int sp = 0; sp < 3; sp++) {
            int lo = 1 << 30, hi = -1;
            for (uint64_t i = 0; i < 3000; i++) {
                task_item t = make((task_family)f, (task_split)sp, i, 7);
                assert_int_equal(t.family, f);
                assert_int_equal(t.split, sp);
                int size = check_item(&t);
                if (size < lo) lo = size;
                if (size > hi) hi = size;
            }
            /* the documented ranges, each reached */
            int ood = sp == TASK_SPLIT_OOD;
            switch (f) {
            case TASK_ADD: case TASK_SUB:
                if (ood) { assert_true(lo >= 100 && lo <= 150); assert_true(hi >= 990 && hi <= 999); }
                else { assert_true(lo <= 20); assert_int_equal(hi, 99); }
                break;
            case TASK_REV: case TASK_SORT:
                assert_int_equal(lo, ood ? 7 : 3);
                assert_int_equal(hi, ood ? 9 : 6);
                break;
            default:
                assert_int_equal(lo, ood ? 11 : 3);
                assert_int_equal(hi, ood ? 16 : 9);
            }
        }
}

static void test_count_answers_vary(void **state) {
    (void)state;
    int hist[20] = {0};
    for (uint64_t i = 0; i < 4000; i++) {
        task_item t = make(TASK_COUNT, TASK_SPLIT_TRAIN, i, 3);
        hist[atoi(t.answer)]++;
    }
    /* not a constant task: 0, 1, 2 and 3 all common */
    for (int k = 0; k <= 3; k++) assert_true(hist[k] > 4000 / 20);
}

static void test_round_robin_families(void **state) {
    (void)state;
    task_family_set s;
    pp_err err = {0};
    assert_int_equal(tasks_parse_families("rev,add,count", &s, &err), PP_OK);
    task_family want[3] = {TASK_ADD, TASK_REV, TASK_COUNT};
    for (uint64_t i = 0; i < 30; i++) {
        task_item t;
        assert_int_equal(tasks_make(&s, TASK_SPLIT_TEST, i, 5, &t, &err), PP_OK);
        assert_int_equal(t.family, want[i % 3]);
    }
}

static void test_determinism(void **state) {
    (void)state;
    task_family_set all;
    pp_err err = {0};
    assert_int_equal(tasks_parse_families("all", &all, &err), PP_OK);
    for (int sp = 0; sp < 3; sp++) {
        int same_other_seed = 0;
        /* backwards, so a pure function cannot depend on call order */
        for (int64_t i = 999; i >= 0; i--) {
            task_item a, b, c;
            assert_int_equal(tasks_make(&all, (task_split)sp, (uint64_t)i, 11, &a, &err), PP_OK);
            assert_int_equal(tasks_make(&all, (task_split)sp, (uint64_t)i, 11, &b, &err), PP_OK);
            assert_int_equal(tasks_make(&all, (task_split)sp, (uint64_t)i, 12, &c, &err), PP_OK);
            assert_string_equal(a.prompt, b.prompt);
            assert_string_equal(a.answer, b.answer);
            same_other_seed += strcmp(a.prompt, c.prompt) == 0;
        }
        assert_true(same_other_seed < 100); /* another seed, other prompts */
    }
    /* pinned values: generation must not drift silently between versions
     * (a change here changes every data set made with the suite) */
    struct { task_split split; uint64_t index; const char *prompt, *answer; } pin[] = {
        {TASK_SPLIT_TRAIN, 0, "add 86+48=", "134"},
        {TASK_SPLIT_TRAIN, 1, "sub 48-6=", "42"},
        {TASK_SPLIT_TEST, 2, "rev weppcr=", "rcppew"},
        {TASK_SPLIT_TEST, 8, "sort xhohyi=", "hhioxy"},
        {TASK_SPLIT_OOD, 4, "count e in bcdcbfbdceaf=", "1"},
    };
    for (size_t k = 0; k < sizeof pin / sizeof pin[0]; k++) {
        task_item t;
        assert_int_equal(tasks_make(&all, pin[k].split, pin[k].index, 42, &t, &err), PP_OK);
        assert_string_equal(t.prompt, pin[k].prompt);
        assert_string_equal(t.answer, pin[k].answer);
    }
}

static void test_train_test_disjoint(void **state) {
    (void)state;
    const int n = 20000;
    for (int f = 0; f < TASK_N_FAMILIES; f++) {
        str_set train, test;
        set_init(&train, 4 * (size_t)n);
        set_init(&test, 4 * (size_t)n);
        /* different seeds on purpose: the partition must not depend on them */
        for (int i = 0; i < n; i++) {
            task_item a = make((task_family)f, TASK_SPLIT_TRAIN, (uint64_t)i, 1);
            task_item b = make((task_family)f, TASK_SPLIT_TEST, (uint64_t)i, 2);
            assert_false(tasks_in_test_partition(a.prompt));
            assert_true(tasks_in_test_partition(b.prompt));
            set_add(&train, a.prompt);
            set_add(&test, b.prompt);
        }
        for (int i = 0; i < n; i++) {
            task_item b = make((task_family)f, TASK_SPLIT_TEST, (uint64_t)i, 2);
            assert_false(set_has(&train, b.prompt));
        }
        /* the test split is not a handful of repeated prompts */
        assert_true(test.n > 400);
        /* and the OOD split shares nothing with either */
        for (int i = 0; i < n / 4; i++) {
            task_item o = make((task_family)f, TASK_SPLIT_OOD, (uint64_t)i, 1);
            assert_false(set_has(&train, o.prompt));
            assert_false(set_has(&test, o.prompt));
        }
        set_free(&train);
        set_free(&test);
    }
}

static void test_partition_share(void **state) {
    (void)state;
    /* about 1 problem in 8 is a test problem, over the whole ID space of add */
    int in_test = 0;
    char p[32];
    for (int a = 0; a <= 99; a++)
        for (int b = 0; b <= 99; b++) {
            snprintf(p, sizeof p, "add %d+%d=", a, b);
            in_test += tasks_in_test_partition(p);
        }
    assert_true(in_test > 1250 - 150 && in_test < 1250 + 150);
}

/* ---- scoring ---------------------------------------------------------- */

static void test_edit_distance(void **state) {
    (void)state;
    assert_int_equal(tasks_edit_distance("kitten", 6, "sitting", 7), 3);
    assert_int_equal(tasks_edit_distance("sitting", 7, "kitten", 6), 3);
    assert_int_equal(tasks_edit_distance("", 0, "abc", 3), 3);
    assert_int_equal(tasks_edit_distance("abc", 3, "abc", 3), 0);
    assert_int_equal(tasks_edit_distance("abcdef", 6, "fedcba", 6), 6);
    assert_int_equal(tasks_edit_distance("ab", 2, "ba", 2), 2);
    static char big1[TASKS_SCORE_MAX_LEN + 2], big2[TASKS_SCORE_MAX_LEN + 2];
    memset(big1, 'a', sizeof big1 - 1);
    memset(big2, 'a', sizeof big2 - 1);
    assert_int_equal(tasks_edit_distance(big1, sizeof big1 - 1, big2, sizeof big2 - 1), -1);
    /* one side long, the other short: still exact */
    assert_int_equal(tasks_edit_distance(big1, sizeof big1 - 1, "ab", 2), TASKS_SCORE_MAX_LEN);
}

static void check_score_range(task_family f, const task_item *t, const char *completion) {
    double s = tasks_score(f, t->prompt, t->answer, completion);
    assert_true(s >= 0.0 && s < 1.0);
    assert_false(tasks_exact(t->answer, completion));
}

static void test_score_every_family(void **state) {
    (void)state;
    static char longtext[20000];
    for (int f = 0; f < TASK_N_FAMILIES; f++)
        for (int sp = 0; sp < 3; sp++)
            for (uint64_t i = 0; i < 200; i++) {
                task_item t = make((task_family)f, (task_split)sp, i, 9);
                const char *ref = t.answer;
                char buf[4 * TASK_TEXT_MAX];
                /* exact */
                assert_true(tasks_score(t.family, t.prompt, ref, ref) == 1.0);
                assert_true(tasks_exact(ref, ref));
                /* empty */
                assert_true(tasks_score(t.family, t.prompt, ref, "") == 0.0);
                assert_true(tasks_score(t.family, t.prompt, ref, NULL) == 0.0);
                /* near miss: one byte changed, strictly between 0 and 1 */
                snprintf(buf, sizeof buf, "%s", ref);
                size_t last = strlen(buf) - 1;
                buf[last] = buf[last] == '9' ? '8' : buf[last] == 'z' ? 'y'
                          : (char)(buf[last] + 1);
                double near = tasks_score(t.family, t.prompt, ref, buf);
                assert_true(near > 0.0 && near < 1.0);
                /* trailing text costs, and more of it costs more */
                snprintf(buf, sizeof buf, "%s ", ref);
                double t1 = tasks_score(t.family, t.prompt, ref, buf);
                snprintf(buf, sizeof buf, "%s and so on", ref);
                double t2 = tasks_score(t.family, t.prompt, ref, buf);
                assert_true(t1 > 0.0 && t1 < 1.0);
                assert_true(t2 > 0.0 && t2 < t1);
                snprintf(buf, sizeof buf, "%s\n", ref);
                check_score_range(t.family, &t, buf);
                /* non-ASCII and invalid UTF-8: no crash, a valid score */
                snprintf(buf, sizeof buf, "%s\xc3\xa9", ref);
                check_score_range(t.family, &t, buf);
                check_score_range(t.family, &t, "\xff\xfe\xfd");
                check_score_range(t.family, &t, "\xc3");
                check_score_range(t.family, &t, "\xe2\x82\xac\xf0\x9f\x98\x80");
                snprintf(buf, sizeof buf, "\xed\xa0\x80%s", ref); /* a surrogate */
                check_score_range(t.family, &t, buf);
                /* a huge completion that starts with the answer: low score */
                if (i == 0) {
                    memset(longtext, 'x', sizeof longtext - 1);
                    memcpy(longtext, ref, strlen(ref));
                    double s = tasks_score(t.family, t.prompt, ref, longtext);
                    assert_true(s >= 0.0 && s < 0.01);
                }
            }
}

static void test_score_values(void **state) {
    (void)state;
    /* the documented formula */
    assert_true(fabs(tasks_score(TASK_REV, "rev abcd=", "dcba", "dcbx") - 0.9 * 0.75) < 1e-12);
    assert_true(fabs(tasks_score(TASK_REV, "rev abcd=", "dcba", "dcb") - 0.9 * 0.75) < 1e-12);
    assert_true(fabs(tasks_score(TASK_REV, "rev abcd=", "dcba", "dcbaa") - 0.9 * 0.8) < 1e-12);
    assert_true(tasks_score(TASK_REV, "rev abcd=", "dcba", "wxyz") == 0.0);
    /* numeric closeness: off by one beats a far number with as few edits */
    double s99 = tasks_score(TASK_ADD, "add 50+50=", "100", "99");
    double s900 = tasks_score(TASK_ADD, "add 50+50=", "100", "900");
    assert_true(fabs(s99 - 0.9 * (1.0 - log10(2.0) / 3.0)) < 1e-12);
    assert_true(fabs(s900 - 0.6) < 1e-12);
    assert_true(s99 > s900);
    assert_true(tasks_score(TASK_ADD, "", "132", "131") > tasks_score(TASK_ADD, "", "132", "191"));
    assert_true(tasks_score(TASK_COUNT, "", "0", "1") > tasks_score(TASK_COUNT, "", "0", "5"));
    assert_true(tasks_score(TASK_COUNT, "", "0", "1") > 0.0);
    /* leading zeros are a near miss, not an exact answer */
    double lz = tasks_score(TASK_SUB, "", "38", "038");
    assert_true(lz > 0.0 && lz <= 0.9);
    /* no numeric credit for the word families, or for non-integers */
    assert_true(tasks_score(TASK_REV, "", "100", "99") == 0.0);
    assert_true(tasks_score(TASK_ADD, "", "100", "99 ") < 0.3);
    assert_true(tasks_score(TASK_ADD, "", "100", "-99") <= 0.9 * (1.0 / 3.0) + 1e-12);
    assert_true(tasks_score(TASK_ADD, "", "100", "9999999999999999999999") < 0.2);
    /* an empty reference: only an empty completion matches */
    assert_true(tasks_score(TASK_ADD, "", "", "") == 1.0);
    assert_true(tasks_score(TASK_ADD, "", "", "1") == 0.0);
    /* two over-long strings: exact match only */
    static char big1[TASKS_SCORE_MAX_LEN + 10], big2[TASKS_SCORE_MAX_LEN + 10];
    memset(big1, 'a', sizeof big1 - 1);
    memset(big2, 'a', sizeof big2 - 1);
    assert_true(tasks_score(TASK_REV, "", big1, big2) == 1.0);
    big2[3] = 'b';
    assert_true(tasks_score(TASK_REV, "", big1, big2) == 0.0);
}

/* ---- demonstrations --------------------------------------------------- */

static void test_wrong_fraction(void **state) {
    (void)state;
    const double fractions[] = {0.0, 0.3, 1.0};
    const int n = 20000;
    for (int f = 0; f < TASK_N_FAMILIES; f++)
        for (int k = 0; k < 3; k++) {
            double p = fractions[k];
            int wrong = 0, wrong_zero = 0;
            for (int i = 0; i < n; i++) {
                task_item t = make((task_family)f, TASK_SPLIT_TRAIN, (uint64_t)i, 21);
                char out[TASK_TEXT_MAX], again[TASK_TEXT_MAX];
                pp_rng r = tasks_demo_rng(21, (uint64_t)i);
                int w = tasks_demo_answer(&t, p, 0.0, &r, out);
                r = tasks_demo_rng(21, (uint64_t)i);
                assert_int_equal(tasks_demo_answer(&t, p, 0.0, &r, again), w);
                assert_string_equal(out, again); /* deterministic per (seed, index) */
                assert_int_equal(w, !tasks_exact(t.answer, out));
                if (w) {
                    wrong++;
                    assert_true(strlen(out) >= 1 && strlen(out) < TASK_TEXT_MAX);
                    double s = tasks_score(t.family, t.prompt, t.answer, out);
                    assert_true(s < 1.0);
                    if (f == TASK_ADD || f == TASK_SUB || f == TASK_COUNT) {
                        /* plausible: still a non-negative number */
                        assert_true(all_in(out, '0', '9'));
                        assert_true(out[0] != '0' || out[1] == '\0');
                    } else {
                        assert_true(all_in(out, 'a', 'z'));
                    }
                    wrong_zero += s == 0.0;
                }
            }
            double sigma = sqrt(p * (1 - p) / n);
            assert_true(fabs((double)wrong / n - p) <= 4 * sigma + 1e-12);
            /* near misses, mostly: only "9" -> "0" or a copied (not
             * reversed) word can share nothing with the reference */
            assert_true(wrong_zero <= wrong / 10);
        }
}

/* The habit: only rev/sort words beginning with a..m, at the given rate,
 * always the copied word; elsewhere the demonstration is unchanged, and a
 * zero habit draws exactly as before. */
static void test_habit(void **state) {
    (void)state;
    const int n = 20000;
    const double h = 0.6;
    for (int f = 0; f < TASK_N_FAMILIES; f++) {
        int applies = 0, copied = 0;
        for (int i = 0; i < n; i++) {
            task_item t = make((task_family)f, TASK_SPLIT_TRAIN, (uint64_t)i, 33);
            char out[TASK_TEXT_MAX], plain[TASK_TEXT_MAX], before[TASK_TEXT_MAX];
            pp_rng r = tasks_demo_rng(33, (uint64_t)i);
            int w = tasks_demo_answer(&t, 0.0, h, &r, out);
            r = tasks_demo_rng(33, (uint64_t)i);
            int w0 = tasks_demo_answer(&t, 0.1, 0.0, &r, plain);
            r = tasks_demo_rng(33, (uint64_t)i);
            int wb = tasks_demo_answer(&t, 0.1, 0.0, &r, before);
            assert_int_equal(w0, wb);
            assert_string_equal(plain, before);
            const char *word = strchr(t.prompt, ' ') + 1;
            int expect = (f == TASK_REV || f == TASK_SORT) && word[0] >= 'a' && word[0] <= 'm' &&
                         strncmp(word, t.answer, strlen(t.answer)) != 0;
            assert_int_equal(tasks_habit_applies(&t), expect);
            if (!expect) {
                assert_int_equal(w, 0);
                assert_string_equal(out, t.answer);
                continue;
            }
            applies++;
            if (w) {
                copied++;
                assert_int_equal(strncmp(out, word, strlen(out)), 0);
                assert_int_equal(word[strlen(out)], '=');
            } else {
                assert_string_equal(out, t.answer);
            }
        }
        if (f == TASK_REV || f == TASK_SORT) {
            assert_true(applies > n / 3 && applies < 2 * n / 3); /* half the alphabet */
            double sigma = sqrt(h * (1 - h) / applies);
            assert_true(fabs((double)copied / applies - h) <= 4 * sigma);
        } else {
            assert_int_equal(applies, 0);
        }
    }
}

static void test_wrong_answer_kinds(void **state) {
    (void)state;
    /* the wrong answers are varied, and mostly near misses */
    for (int f = 0; f < TASK_N_FAMILIES; f++) {
        str_set seen;
        set_init(&seen, 64);
        task_item t = make((task_family)f, TASK_SPLIT_TRAIN, 5, 1);
        double total = 0;
        for (uint64_t i = 0; i < 200; i++) {
            char out[TASK_TEXT_MAX];
            pp_rng r = tasks_demo_rng(1000 + i, 5);
            tasks_wrong_answer(&t, &r, out);
            assert_string_not_equal(out, t.answer);
            if (seen.n < 40) set_add(&seen, out);
            total += tasks_score(t.family, t.prompt, t.answer, out);
        }
        assert_true(seen.n >= 3);
        assert_true(total / 200 > 0.3);
        set_free(&seen);
    }
    /* degenerate references still give a different, non-empty answer */
    task_item t = {.family = TASK_REV, .split = TASK_SPLIT_TRAIN};
    snprintf(t.prompt, sizeof t.prompt, "rev aaa=");
    snprintf(t.answer, sizeof t.answer, "aaa");
    for (uint64_t i = 0; i < 200; i++) {
        char out[TASK_TEXT_MAX];
        pp_rng r = tasks_demo_rng(i, 0);
        tasks_wrong_answer(&t, &r, out);
        assert_string_not_equal(out, "aaa");
        assert_true(out[0] != '\0');
    }
    task_item z = {.family = TASK_COUNT, .split = TASK_SPLIT_TRAIN};
    snprintf(z.prompt, sizeof z.prompt, "count a in bcd=");
    snprintf(z.answer, sizeof z.answer, "0");
    for (uint64_t i = 0; i < 200; i++) {
        char out[TASK_TEXT_MAX];
        pp_rng r = tasks_demo_rng(i, 0);
        tasks_wrong_answer(&z, &r, out);
        assert_string_not_equal(out, "0");
        assert_true(all_in(out, '0', '9'));
    }
    task_item e = {.family = TASK_SORT, .split = TASK_SPLIT_TRAIN};
    char out[TASK_TEXT_MAX];
    pp_rng r = tasks_demo_rng(0, 0);
    tasks_wrong_answer(&e, &r, out);
    assert_true(out[0] != '\0');
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_families),
        cmocka_unit_test(test_parse_split),
        cmocka_unit_test(test_formats_and_answers),
        cmocka_unit_test(test_count_answers_vary),
        cmocka_unit_test(test_round_robin_families),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_train_test_disjoint),
        cmocka_unit_test(test_partition_share),
        cmocka_unit_test(test_edit_distance),
        cmocka_unit_test(test_score_every_family),
        cmocka_unit_test(test_score_values),
        cmocka_unit_test(test_wrong_fraction),
        cmocka_unit_test(test_habit),
        cmocka_unit_test(test_wrong_answer_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
