/* test_judge_oracle.c - the oracle judge: truth, noise rate, position bias
 * on close pairs only, determinism. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "judge/judge_oracle.h"

static oracle_judge judge(double noise, double bias, double close, uint64_t seed) {
    oracle_judge j;
    pp_err err = {0};
    assert_int_equal(oracle_judge_init(&j, noise, bias, close, seed, &err), PP_OK);
    return j;
}

/* |observed rate - p| within 4 standard errors */
static void assert_rate(int hits, int n, double p) {
    double sigma = sqrt(p * (1 - p) / n);
    assert_true(fabs((double)hits / n - p) <= 4 * sigma + 1e-12);
}

static void test_init_validation(void **state) {
    (void)state;
    oracle_judge j;
    pp_err err = {0};
    assert_int_equal(oracle_judge_init(&j, -0.1, 0, 0.25, 1, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "--judge-noise"));
    assert_int_equal(oracle_judge_init(&j, 1.5, 0, 0.25, 1, &err), PP_EINPUT);
    assert_int_equal(oracle_judge_init(&j, NAN, 0, 0.25, 1, &err), PP_EINPUT);
    assert_int_equal(oracle_judge_init(&j, 0, 2, 0.25, 1, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "--judge-position-bias"));
    assert_int_equal(oracle_judge_init(&j, 0, NAN, 0.25, 1, &err), PP_EINPUT);
    assert_int_equal(oracle_judge_init(&j, 0, 0, -1, 1, &err), PP_EINPUT);
    assert_int_equal(oracle_judge_init(&j, 0, 0, INFINITY, 1, &err), PP_EINPUT);
    assert_int_equal(oracle_judge_init(&j, 0, 1, 0, 1, &err), PP_OK);
    assert_int_equal(oracle_judge_init(&j, 1, 0, ORACLE_DEFAULT_CLOSE, 1, &err), PP_OK);
    assert_string_equal(judge_verdict_name(JUDGE_FIRST), "first");
    assert_string_equal(judge_verdict_name(JUDGE_SECOND), "second");
    assert_string_equal(judge_verdict_name(JUDGE_TIE), "tie");
}

/* Candidates of various quality for a task: the answer, wrong answers,
 * trailing text, empty. */
static void candidates(const task_item *t, uint64_t k, char out[8][2 * TASK_TEXT_MAX]) {
    for (int c = 0; c < 8; c++) {
        pp_rng r = tasks_demo_rng(k, (uint64_t)c);
        if (c == 0 || c == 5) snprintf(out[c], 2 * TASK_TEXT_MAX, "%s", t->answer);
        else if (c == 6) snprintf(out[c], 2 * TASK_TEXT_MAX, "%s!!", t->answer);
        else if (c == 7) out[c][0] = '\0';
        else tasks_wrong_answer(t, &r, out[c]);
    }
}

static void test_noiseless_picks_higher(void **state) {
    (void)state;
    oracle_judge j = judge(0, 0, ORACLE_DEFAULT_CLOSE, 3);
    task_family_set all;
    pp_err err = {0};
    assert_int_equal(tasks_parse_families("all", &all, &err), PP_OK);
    int seen[3] = {0};
    for (uint64_t i = 0; i < 300; i++) {
        task_item t;
        assert_int_equal(tasks_make(&all, (task_split)(i % 3), i, 5, &t, &err), PP_OK);
        char cand[8][2 * TASK_TEXT_MAX];
        candidates(&t, i, cand);
        for (int a = 0; a < 8; a++)
            for (int b = 0; b < 8; b++) {
                oracle_result r = oracle_judge_match(&j, t.family, t.prompt, t.answer, cand[a],
                                                     cand[b], i * 64 + (uint64_t)(a * 8 + b), 0);
                double sa = tasks_score(t.family, t.prompt, t.answer, cand[a]);
                double sb = tasks_score(t.family, t.prompt, t.answer, cand[b]);
                assert_true(r.score_first == sa && r.score_second == sb);
                judge_verdict want = sa > sb ? JUDGE_FIRST : sa < sb ? JUDGE_SECOND : JUDGE_TIE;
                assert_int_equal(r.verdict, want);
                assert_int_equal(r.truth, want);
                assert_false(r.biased || r.flipped);
                seen[r.verdict]++;
            }
        /* the exact answer beats its near misses and the empty answer */
        oracle_result r = oracle_judge_match(&j, t.family, t.prompt, t.answer, cand[7], cand[0], i, 1);
        assert_int_equal(r.verdict, JUDGE_SECOND);
    }
    for (int v = 0; v < 3; v++) assert_true(seen[v] > 0);
}

static void test_noise_rate(void **state) {
    (void)state;
    const double p = 0.2;
    oracle_judge j = judge(p, 0, ORACLE_DEFAULT_CLOSE, 17);
    const int n = 20000;
    int flips = 0, tie_changed = 0;
    for (int i = 0; i < n; i++) {
        /* a clear pair, in alternating order */
        const char *good = "132", *bad = "7";
        int swap = i & 1;
        oracle_result r = oracle_judge_match(&j, TASK_ADD, "add 47+85=", "132", swap ? bad : good,
                                             swap ? good : bad, (uint64_t)i, 0);
        assert_int_equal(r.truth, swap ? JUDGE_SECOND : JUDGE_FIRST);
        assert_int_equal(r.flipped, r.verdict != r.truth);
        assert_true(r.verdict != JUDGE_TIE);
        flips += r.flipped;
        /* noise never turns a tie into a win */
        oracle_result t = oracle_judge_match(&j, TASK_ADD, "add 47+85=", "132", "133", "131",
                                             (uint64_t)i, 1);
        tie_changed += t.verdict != JUDGE_TIE;
    }
    assert_rate(flips, n, p);
    assert_int_equal(tie_changed, 0);

    /* noise 1 always flips, noise 0 never does */
    oracle_judge always = judge(1, 0, ORACLE_DEFAULT_CLOSE, 17);
    for (int i = 0; i < 100; i++) {
        oracle_result r = oracle_judge_match(&always, TASK_REV, "rev abc=", "cba", "cba", "abc",
                                             (uint64_t)i, 0);
        assert_int_equal(r.verdict, JUDGE_SECOND);
    }
}

static void test_position_bias_close_only(void **state) {
    (void)state;
    const double p = 0.6;
    oracle_judge j = judge(0, p, ORACLE_DEFAULT_CLOSE, 23);
    const int n = 20000;
    int first_close = 0, first_tie = 0;
    /* reference "abcdefgh": one edit 0.7875, two edits 0.675: close (0.1125 < 0.25) */
    const char *ref = "abcdefgh", *one = "abcdefgx", *two = "abcdefxx";
    double s1 = tasks_score(TASK_SORT, "", ref, one), s2 = tasks_score(TASK_SORT, "", ref, two);
    assert_true(s1 > s2 && s1 - s2 < ORACLE_DEFAULT_CLOSE);
    for (int i = 0; i < n; i++) {
        /* close pair, better one second: biased to FIRST at rate p */
        oracle_result r = oracle_judge_match(&j, TASK_SORT, "", ref, two, one, (uint64_t)i, 0);
        assert_int_equal(r.truth, JUDGE_SECOND);
        assert_int_equal(r.biased, r.verdict == JUDGE_FIRST);
        first_close += r.verdict == JUDGE_FIRST;
        /* exact tie: FIRST at rate p, TIE otherwise */
        oracle_result t = oracle_judge_match(&j, TASK_SORT, "", ref, one, one, (uint64_t)i, 1);
        assert_true(t.verdict == JUDGE_FIRST || t.verdict == JUDGE_TIE);
        first_tie += t.verdict == JUDGE_FIRST;
        /* far pair (1 vs 0): bias never acts, whichever order */
        oracle_result f = oracle_judge_match(&j, TASK_SORT, "", ref, "", ref, (uint64_t)i, 2);
        assert_int_equal(f.verdict, JUDGE_SECOND);
        assert_false(f.biased);
        /* correct vs one edit: 1 - 0.7875 = 0.21 is close, 1 - 0.675 is not */
        oracle_result g = oracle_judge_match(&j, TASK_SORT, "", ref, two, ref, (uint64_t)i, 3);
        assert_int_equal(g.verdict, JUDGE_SECOND);
    }
    assert_rate(first_close, n, p);
    assert_rate(first_tie, n, p);

    /* threshold 0: nothing is close, not even an exact tie */
    oracle_judge strict = judge(0, 1, 0, 23);
    for (int i = 0; i < 100; i++) {
        oracle_result t = oracle_judge_match(&strict, TASK_SORT, "", ref, one, one, (uint64_t)i, 0);
        assert_int_equal(t.verdict, JUDGE_TIE);
        oracle_result r = oracle_judge_match(&strict, TASK_SORT, "", ref, two, one, (uint64_t)i, 0);
        assert_int_equal(r.verdict, JUDGE_SECOND);
    }
}

static void test_bias_then_noise(void **state) {
    (void)state;
    /* both on: a biased FIRST can still be flipped by noise; rates compose */
    const double pb = 0.5, pn = 0.1;
    oracle_judge j = judge(pn, pb, ORACLE_DEFAULT_CLOSE, 29);
    const int n = 20000;
    int first = 0;
    for (int i = 0; i < n; i++) {
        oracle_result r = oracle_judge_match(&j, TASK_SORT, "", "abcdefgh", "abcdefxx", "abcdefgx",
                                             (uint64_t)i, 0);
        first += r.verdict == JUDGE_FIRST;
    }
    /* P(FIRST) = pb (1 - pn) + (1 - pb) pn */
    assert_rate(first, n, pb * (1 - pn) + (1 - pb) * pn);
}

static void test_determinism(void **state) {
    (void)state;
    oracle_judge j = judge(0.3, 0.5, ORACLE_DEFAULT_CLOSE, 31);
    oracle_judge other_seed = judge(0.3, 0.5, ORACLE_DEFAULT_CLOSE, 32);
    const int n = 2000;
    judge_verdict forward[2000];
    int differ_order = 0, differ_seed = 0;
    for (int i = 0; i < n; i++)
        forward[i] = oracle_judge_match(&j, TASK_ADD, "add 1+1=", "2", "3", "2", (uint64_t)i, 0)
                         .verdict;
    /* the same matches asked in another sequence give the same verdicts */
    for (int i = n - 1; i >= 0; i--) {
        oracle_result r = oracle_judge_match(&j, TASK_ADD, "add 1+1=", "2", "3", "2", (uint64_t)i, 0);
        assert_int_equal(r.verdict, forward[i]);
        oracle_result o = oracle_judge_match(&j, TASK_ADD, "add 1+1=", "2", "3", "2", (uint64_t)i, 1);
        differ_order += o.verdict != forward[i];
        oracle_result s = oracle_judge_match(&other_seed, TASK_ADD, "add 1+1=", "2", "3", "2",
                                             (uint64_t)i, 0);
        differ_seed += s.verdict != forward[i];
    }
    /* the order key and the seed each give independent draws: with noise 0.3
     * two independent verdicts differ with probability 2 * 0.3 * 0.7 = 0.42 */
    assert_rate(differ_order, n, 0.42);
    assert_rate(differ_seed, n, 0.42);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_validation),
        cmocka_unit_test(test_noiseless_picks_higher),
        cmocka_unit_test(test_noise_rate),
        cmocka_unit_test(test_position_bias_close_only),
        cmocka_unit_test(test_bias_then_noise),
        cmocka_unit_test(test_determinism),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
