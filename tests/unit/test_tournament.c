/* test_tournament.c - exact judge-call counts, correctness with a perfect
 * judge, replay determinism, both-orders flips, failures, ranking rules and
 * edge cases for src/rank/tournament.c. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/pp_rng.h"
#include "rank/tournament.h"

#define MAXK 16
#define MAX_CALLS (MAXK * (MAXK - 1)) /* round robin, both orders */

static const tourn_method methods[3] = {TOURN_ITERATIVE, TOURN_KNOCKOUT, TOURN_ROUNDROBIN};

/* ---- a judge and a scheduler ---- */

typedef enum { JUDGE_PERFECT, JUDGE_NOISY, JUDGE_ALWAYS_FIRST, JUDGE_ALL_TIE } judge_kind;

typedef struct {
    judge_kind kind;
    const double *score; /* true scores (perfect, noisy) */
    uint64_t seed;       /* noisy: verdict is a function of (seed, call) only */
    int fail_mod;        /* > 0: calls with id % fail_mod == fail_rem FAIL */
    int fail_rem;
} judge;

static judge_verdict judge_call(const judge *j, const tourn_call *c) {
    if (j->fail_mod > 0 && c->id % j->fail_mod == j->fail_rem) return JUDGE_FAILED;
    switch (j->kind) {
    case JUDGE_ALWAYS_FIRST: return JUDGE_FIRST;
    case JUDGE_ALL_TIE: return JUDGE_TIE;
    case JUDGE_NOISY: {
        pp_rng r = pp_rng_stream(j->seed, (uint64_t)c->id, (uint64_t)(c->first * 1000 + c->second));
        double u = pp_rng_uniform(&r);
        if (u < 0.15) return JUDGE_TIE;
        if (u < 0.35) return j->score[c->first] > j->score[c->second] ? JUDGE_SECOND : JUDGE_FIRST;
        break; /* otherwise as the perfect judge */
    }
    default: break;
    }
    double a = j->score[c->first], b = j->score[c->second];
    return a > b ? JUDGE_FIRST : a < b ? JUDGE_SECOND : JUDGE_TIE;
}

typedef struct {
    int n;
    tourn_call call[MAX_CALLS];
    judge_verdict verdict[MAX_CALLS];
} match_log;

/* Drives t to the end: keeps a pool of taken calls and answers them in a
 * random order (sched_seed; 0 = in the order they were taken), as a pool of
 * MPI ranks would.  Returns the largest number of calls that were ready at
 * once. */
static int run(tourn *t, const judge *j, uint64_t sched_seed, match_log *log) {
    tourn_call pool[MAX_CALLS];
    int n = 0, widest = 0;
    pp_rng r = pp_rng_stream(sched_seed, 77, 0);
    if (log) log->n = 0;
    for (;;) {
        n += tourn_take_ready(t, pool + n, MAX_CALLS - n);
        if (n > widest) widest = n;
        if (n == 0) break;
        int pick = sched_seed ? (int)pp_rng_below(&r, (uint64_t)n) : 0;
        tourn_call c = pool[pick];
        memmove(pool + pick, pool + pick + 1, sizeof(tourn_call) * (size_t)(n - pick - 1));
        n--;
        judge_verdict v = judge_call(j, &c);
        pp_err err = {0};
        if (tourn_submit(t, c.id, c.first, c.second, v, &err) != PP_OK) fail_msg("submit: %s", err.msg);
        if (log) {
            log->call[log->n] = c;
            log->verdict[log->n] = v;
            log->n++;
        }
    }
    assert_true(tourn_done(t));
    return widest;
}

static tourn *make(tourn_method m, int k, int both) {
    tourn *t = NULL;
    pp_err err = {0};
    if (tourn_create(m, k, both, &t, &err) != PP_OK) fail_msg("create: %s", err.msg);
    return t;
}

typedef struct {
    tourn_summary s;
    int order[MAXK];
    int npairs;
    int better[MAXK * MAXK], worse[MAXK * MAXK];
    int rejected[3];
} outcome;

static void results(const tourn *t, outcome *o) {
    pp_err err = {0};
    memset(o, 0, sizeof *o);
    assert_int_equal(tourn_summarize(t, &o->s, &err), PP_OK);
    assert_int_equal(tourn_ranking(t, o->order, &err), PP_OK);
    assert_int_equal(tourn_pairs(t, o->better, o->worse, MAXK * MAXK, &o->npairs, &err), PP_OK);
    tourn_reject_rule rules[3] = {{TOURN_REJECT_WORST, 1}, {TOURN_REJECT_RUNNER_UP, 0},
                                  {TOURN_REJECT_QUANTILE, 0.5}};
    for (int i = 0; i < 3; i++)
        assert_int_equal(tourn_pick_rejected(t, &rules[i], &o->rejected[i], &err), PP_OK);
}

static void random_scores(double *s, int k, uint64_t seed, int levels) {
    pp_rng r = pp_rng_stream(seed, 5, 0);
    for (int i = 0; i < k; i++)
        s[i] = levels ? (double)pp_rng_below(&r, (uint64_t)levels) : pp_rng_uniform(&r);
}

/* ---- tests ---- */

static int expected_matches(tourn_method m, int k) {
    switch (m) {
    case TOURN_ITERATIVE: return 2 * (k - 1);
    case TOURN_KNOCKOUT: return (3 * k + 1) / 2 - 2; /* ⌈3K/2⌉ − 2 */
    default: return k * (k - 1) / 2;
    }
}

static void test_call_counts(void **state) {
    (void)state;
    /* the documented knockout formula at a few points, by hand */
    assert_int_equal(tourn_matches_total(TOURN_KNOCKOUT, 8), 10); /* 7 + 3 */
    assert_int_equal(tourn_matches_total(TOURN_KNOCKOUT, 5), 6);  /* 4 + 2 */
    assert_int_equal(tourn_matches_total(TOURN_KNOCKOUT, 16), 22);
    assert_int_equal(tourn_matches_total(TOURN_KNOCKOUT, 1), 0);
    for (int mi = 0; mi < 3; mi++)
        for (int both = 0; both < 2; both++)
            for (int k = 1; k <= MAXK; k++) {
                double score[MAXK];
                random_scores(score, k, (uint64_t)(k + 100 * mi), 0);
                judge j = {JUDGE_NOISY, score, 3, 0, 0};
                tourn *t = make(methods[mi], k, both);
                match_log log;
                run(t, &j, (uint64_t)k, &log);
                int want = expected_matches(methods[mi], k) * (both ? 2 : 1);
                if (log.n != want || tourn_calls_total(methods[mi], k, both) != want)
                    fail_msg("%s K=%d both=%d: %d calls made, %d by formula, expected %d",
                             tourn_method_name(methods[mi]), k, both, log.n,
                             tourn_calls_total(methods[mi], k, both), want);
                outcome o;
                results(t, &o);
                assert_int_equal(o.s.calls, want);
                assert_int_equal(o.s.matches, expected_matches(methods[mi], k));
                tourn_free(t);
            }
}

static void test_perfect_judge_finds_true_best_and_worst(void **state) {
    (void)state;
    for (int mi = 0; mi < 3; mi++)
        for (int both = 0; both < 2; both++)
            for (int trial = 0; trial < 120; trial++) {
                int k = 1 + trial % MAXK;
                int levels = trial % 3 == 0 ? 3 : 0; /* some runs with tied true scores */
                double score[MAXK];
                random_scores(score, k, (uint64_t)(trial * 7 + mi), levels);
                double top = score[0], bottom = score[0];
                for (int i = 1; i < k; i++) {
                    top = fmax(top, score[i]);
                    bottom = fmin(bottom, score[i]);
                }
                judge j = {JUDGE_PERFECT, score, 0, 0, 0};
                tourn *t = make(methods[mi], k, both);
                run(t, &j, (uint64_t)trial + 1, NULL);
                outcome o;
                results(t, &o);
                if (score[o.s.best] != top || score[o.s.worst] != bottom)
                    fail_msg("%s K=%d both=%d trial %d: best %d (%g, top %g), worst %d (%g, bottom %g)",
                             tourn_method_name(methods[mi]), k, both, trial, o.s.best,
                             score[o.s.best], top, o.s.worst, score[o.s.worst], bottom);
                assert_int_equal(o.order[0], o.s.best);
                assert_int_equal(o.s.flips, 0);
                assert_int_equal(o.s.failures, 0);
                /* the ranking is a permutation */
                int seen[MAXK] = {0};
                for (int i = 0; i < k; i++) seen[o.order[i]]++;
                for (int i = 0; i < k; i++) assert_int_equal(seen[i], 1);
                /* every implied pair is truly ordered */
                for (int p = 0; p < o.npairs; p++)
                    assert_true(score[o.better[p]] > score[o.worse[p]]);
                if (levels) {
                    tourn_free(t);
                    continue;
                }
                /* distinct scores: the worst is last, best beats everyone by
                 * a chain and everyone beats the worst */
                assert_int_equal(o.order[k - 1], o.s.worst);
                int from_best = 0, to_worst = 0;
                for (int p = 0; p < o.npairs; p++) {
                    from_best += o.better[p] == o.s.best;
                    to_worst += o.worse[p] == o.s.worst;
                }
                assert_int_equal(from_best, k - 1);
                assert_int_equal(to_worst, k - 1);
                assert_int_equal(o.rejected[0], k >= 2 ? o.s.worst : -1);
                if (methods[mi] == TOURN_ROUNDROBIN) { /* the full order is the true order */
                    for (int i = 0; i + 1 < k; i++)
                        assert_true(score[o.order[i]] > score[o.order[i + 1]]);
                    assert_int_equal(o.npairs, k * (k - 1) / 2);
                }
                tourn_free(t);
            }
}

static void assert_same_outcome(const outcome *a, const outcome *b, int k) {
    assert_memory_equal(&a->s, &b->s, sizeof a->s);
    assert_memory_equal(a->order, b->order, sizeof(int) * (size_t)k);
    assert_int_equal(a->npairs, b->npairs);
    assert_memory_equal(a->better, b->better, sizeof(int) * (size_t)a->npairs);
    assert_memory_equal(a->worse, b->worse, sizeof(int) * (size_t)a->npairs);
    assert_memory_equal(a->rejected, b->rejected, sizeof a->rejected);
}

static void test_replay_is_deterministic(void **state) {
    (void)state;
    for (int mi = 0; mi < 3; mi++)
        for (int both = 0; both < 2; both++)
            for (int k = 1; k <= MAXK; k += 3) {
                double score[MAXK];
                random_scores(score, k, (uint64_t)k, 0);
                judge j = {JUDGE_NOISY, score, 11, 7, 3}; /* noise, ties and failures */
                tourn *t = make(methods[mi], k, both);
                match_log log;
                run(t, &j, 1234, &log);
                outcome live;
                results(t, &live);

                /* replay the log, in log order, into a fresh tournament */
                tourn *r = make(methods[mi], k, both);
                pp_err err = {0};
                for (int i = 0; i < log.n; i++)
                    if (tourn_submit(r, log.call[i].id, log.call[i].first, log.call[i].second,
                                     log.verdict[i], &err) != PP_OK)
                        fail_msg("replay %d: %s", i, err.msg);
                assert_true(tourn_done(r));
                outcome replayed;
                results(r, &replayed);
                assert_same_outcome(&live, &replayed, k);

                /* a resumed run: half the log replayed, the rest judged anew */
                tourn *h = make(methods[mi], k, both);
                for (int i = 0; i < log.n / 2; i++)
                    assert_int_equal(tourn_submit(h, log.call[i].id, log.call[i].first,
                                                  log.call[i].second, log.verdict[i], &err),
                                     PP_OK);
                run(h, &j, 99, NULL);
                outcome resumed;
                results(h, &resumed);
                assert_same_outcome(&live, &resumed, k);

                /* another schedule (other arrival order), same verdict per call */
                tourn *u = make(methods[mi], k, both);
                run(u, &j, 0, NULL);
                outcome other;
                results(u, &other);
                assert_same_outcome(&live, &other, k);
                tourn_free(t);
                tourn_free(r);
                tourn_free(h);
                tourn_free(u);
            }
}

static void test_both_orders_flips(void **state) {
    (void)state;
    for (int mi = 0; mi < 3; mi++)
        for (int k = 1; k <= MAXK; k++) {
            /* a judge that always prefers the answer shown first: every match
             * is a position flip, hence a tie */
            judge j = {JUDGE_ALWAYS_FIRST, NULL, 0, 0, 0};
            tourn *t = make(methods[mi], k, 1);
            run(t, &j, 5, NULL);
            outcome o;
            results(t, &o);
            int m = expected_matches(methods[mi], k);
            assert_int_equal(o.s.calls, 2 * m);
            assert_int_equal(o.s.flips, m);
            assert_int_equal(o.s.ties, m);
            assert_int_equal(o.s.best, 0); /* ties keep the incumbent / lower index */
            for (int i = 0; i < 3; i++) assert_int_equal(o.rejected[i], -1); /* no evidence */
            assert_int_equal(o.npairs, 0);
            tourn_free(t);

            /* asked once, the same judge decides every match for slot 0 */
            t = make(methods[mi], k, 0);
            run(t, &j, 5, NULL);
            results(t, &o);
            assert_int_equal(o.s.flips, 0);
            assert_int_equal(o.s.ties, 0);
            tourn_free(t);
        }

    /* the noisy judge flips some matches but not all; flips ≤ ties ≤ matches */
    double score[MAXK];
    random_scores(score, MAXK, 4, 0);
    judge j = {JUDGE_NOISY, score, 21, 0, 0};
    tourn *t = make(TOURN_ROUNDROBIN, MAXK, 1);
    run(t, &j, 8, NULL);
    outcome o;
    results(t, &o);
    assert_true(o.s.flips > 0);
    assert_true(o.s.flips <= o.s.ties && o.s.ties < o.s.matches);
    tourn_free(t);
}

static void test_failures_counted(void **state) {
    (void)state;
    for (int mi = 0; mi < 3; mi++)
        for (int k = 2; k <= MAXK; k++) {
            double score[MAXK];
            random_scores(score, k, (uint64_t)k + 40, 0);
            /* single order: every third call fails */
            judge j = {JUDGE_PERFECT, score, 0, 3, 1};
            tourn *t = make(methods[mi], k, 0);
            match_log log;
            run(t, &j, 3, &log);
            int want = 0;
            for (int i = 0; i < log.n; i++) want += log.call[i].id % 3 == 1;
            outcome o;
            results(t, &o);
            assert_int_equal(o.s.failures, want);
            assert_int_equal(o.s.failed_matches, want);
            assert_int_equal(o.s.ties, 0);
            tourn_free(t);

            /* both orders, order 0 always fails: order 1 decides every match,
             * so a perfect judge is still right about best and worst */
            judge j2 = {JUDGE_PERFECT, score, 0, 2, 0};
            t = make(methods[mi], k, 1);
            run(t, &j2, 3, NULL);
            results(t, &o);
            int m = expected_matches(methods[mi], k);
            assert_int_equal(o.s.failures, m);
            assert_int_equal(o.s.failed_matches, 0);
            double top = score[0], bottom = score[0];
            for (int i = 1; i < k; i++) {
                top = fmax(top, score[i]);
                bottom = fmin(bottom, score[i]);
            }
            assert_true(score[o.s.best] == top && score[o.s.worst] == bottom);
            tourn_free(t);

            /* every call fails: all matches failed, nothing to pair */
            judge j3 = {JUDGE_PERFECT, score, 0, 1, 0};
            t = make(methods[mi], k, 1);
            run(t, &j3, 3, NULL);
            results(t, &o);
            assert_int_equal(o.s.failures, 2 * m);
            assert_int_equal(o.s.failed_matches, m);
            for (int i = 0; i < 3; i++) assert_int_equal(o.rejected[i], -1);
            tourn_free(t);
        }
}

static void test_parallel_readiness(void **state) {
    (void)state;
    tourn_call calls[MAX_CALLS];
    for (int k = 2; k <= MAXK; k++)
        for (int both = 0; both < 2; both++) {
            int orders = both ? 2 : 1;
            tourn *t = make(TOURN_ITERATIVE, k, both);
            /* both chains start at once, with the same first pair */
            assert_int_equal(tourn_take_ready(t, calls, MAX_CALLS), 2 * orders);
            assert_int_equal(calls[0].first, 0);
            assert_int_equal(calls[0].second, 1);
            assert_int_equal(tourn_take_ready(t, calls, MAX_CALLS), 0); /* all taken */
            tourn_free(t);

            t = make(TOURN_KNOCKOUT, k, both);
            assert_int_equal(tourn_take_ready(t, calls, MAX_CALLS), (k / 2) * orders);
            tourn_free(t);

            t = make(TOURN_ROUNDROBIN, k, both);
            assert_int_equal(tourn_take_ready(t, calls, MAX_CALLS), k * (k - 1) / 2 * orders);
            tourn_free(t);
        }

    /* knockout K=8: after round 1 the winners' round 2 (2 matches) and the
     * losers' round 1 (2 matches) are ready together */
    double score[8] = {3, 1, 4, 1.5, 5, 9, 2, 6};
    judge j = {JUDGE_PERFECT, score, 0, 0, 0};
    tourn *t = make(TOURN_KNOCKOUT, 8, 0);
    int n = tourn_take_ready(t, calls, MAX_CALLS);
    assert_int_equal(n, 4);
    pp_err err = {0};
    for (int i = 0; i < n; i++)
        assert_int_equal(tourn_submit(t, calls[i].id, calls[i].first, calls[i].second,
                                      judge_call(&j, &calls[i]), &err),
                         PP_OK);
    n = tourn_take_ready(t, calls, MAX_CALLS);
    assert_int_equal(n, 4);
    /* winners: (0 v 1 -> 0, 2 v 3 -> 2), (4 v 5 -> 5, 6 v 7 -> 7);
     * losers: (1, 3), (4, 6) */
    int want[4][2] = {{0, 2}, {5, 7}, {1, 3}, {4, 6}};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(calls[i].first, want[i][0]);
        assert_int_equal(calls[i].second, want[i][1]);
    }
    tourn_free(t);

    /* a full run: the ready width never exceeds the bracket's */
    t = make(TOURN_KNOCKOUT, 8, 0);
    assert_int_equal(run(t, &j, 0, NULL), 4);
    outcome o;
    results(t, &o);
    assert_int_equal(o.s.best, 5);  /* score 9 */
    assert_int_equal(o.s.worst, 1); /* score 1 */
    tourn_free(t);
}

static void test_tie_rules(void **state) {
    (void)state;
    judge j = {JUDGE_ALL_TIE, NULL, 0, 0, 0};
    outcome o;
    /* iterative: the incumbent c0 stays in both chains */
    tourn *t = make(TOURN_ITERATIVE, 5, 0);
    run(t, &j, 2, NULL);
    results(t, &o);
    assert_int_equal(o.s.best, 0);
    assert_int_equal(o.s.worst, 0);
    assert_int_equal(o.s.ties, 8);
    for (int i = 0; i < 5; i++) assert_int_equal(o.order[i], i); /* no information: index order */
    assert_int_equal(o.rejected[0], -1);
    tourn_free(t);

    /* knockout: the lower index advances in both brackets; K=5 → winners'
     * bracket keeps 0; losers' bracket of {1, 3, 4} keeps 1 */
    t = make(TOURN_KNOCKOUT, 5, 0);
    run(t, &j, 2, NULL);
    results(t, &o);
    assert_int_equal(o.s.best, 0);
    assert_int_equal(o.s.worst, 1);
    assert_int_equal(o.rejected[0], -1); /* ties only: no pair */
    tourn_free(t);

    /* round robin: everyone level, no preference */
    t = make(TOURN_ROUNDROBIN, 5, 0);
    run(t, &j, 2, NULL);
    results(t, &o);
    assert_int_equal(o.s.best, 0);
    assert_int_equal(o.s.worst, 0);
    assert_int_equal(o.rejected[0], -1);
    tourn_free(t);
}

/* Submits the verdict for the round-robin match (a, b), a < b. */
static void rr_result(tourn *t, int k, int a, int b, judge_verdict v) {
    int id = 0;
    for (int i = 0; i < a; i++) id += k - 1 - i;
    id += b - a - 1;
    pp_err err = {0};
    if (tourn_submit(t, id, a, b, v, &err) != PP_OK) fail_msg("%s", err.msg);
}

static void test_roundrobin_ranking_rules(void **state) {
    (void)state;
    pp_err err = {0};
    /* K=4: wins 0: 1.5, 1: 1.5, 2: 1, 3: 2.  0 and 1 level on wins; 1's
     * extra half comes from a tie with the strongest (3), 0's from a failed
     * match (left out of the fit), so BT ranks 1 above 0 and the index
     * rule never gets to decide. */
    tourn *t = make(TOURN_ROUNDROBIN, 4, 0);
    rr_result(t, 4, 0, 1, JUDGE_SECOND);
    rr_result(t, 4, 0, 2, JUDGE_FIRST);
    rr_result(t, 4, 0, 3, JUDGE_FAILED);
    rr_result(t, 4, 1, 2, JUDGE_SECOND);
    rr_result(t, 4, 1, 3, JUDGE_TIE);
    rr_result(t, 4, 2, 3, JUDGE_SECOND);
    assert_true(tourn_done(t));
    double wins[4], strength[4];
    assert_int_equal(tourn_scores(t, wins, strength, &err), PP_OK);
    double want_wins[4] = {1.5, 1.5, 1, 2};
    for (int i = 0; i < 4; i++) assert_true(wins[i] == want_wins[i]);
    assert_true(strength[1] > strength[0] + 1e-3);
    int order[4];
    assert_int_equal(tourn_ranking(t, order, &err), PP_OK);
    int want_order[4] = {3, 1, 0, 2};
    assert_memory_equal(order, want_order, sizeof order);
    tourn_free(t);

    /* the BT fit itself: K=2, 0 beat 1.  By symmetry θ0 = −θ1 = s with
     * ∂/∂θ0: σ(2s) − 1 + 0.1 s = 0; solve by bisection and compare */
    t = make(TOURN_ROUNDROBIN, 2, 0);
    rr_result(t, 2, 0, 1, JUDGE_FIRST);
    assert_int_equal(tourn_scores(t, wins, strength, &err), PP_OK);
    double lo = 0, hi = 50;
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi);
        if (1.0 / (1.0 + exp(-2 * mid)) - 1 + 0.1 * mid > 0) hi = mid;
        else lo = mid;
    }
    if (fabs(strength[0] - lo) > 1e-9 || fabs(strength[1] + lo) > 1e-9)
        fail_msg("BT strengths %.12g, %.12g; expected ±%.12g", strength[0], strength[1], lo);
    tourn_free(t);

    /* noisy runs with failures: the ranking is sorted by (wins, strength,
     * index) */
    for (int trial = 0; trial < 40; trial++) {
        int k = 2 + trial % 15;
        double score[MAXK];
        random_scores(score, k, (uint64_t)trial + 300, 4);
        judge j = {JUDGE_NOISY, score, (uint64_t)trial, 5, 2};
        t = make(TOURN_ROUNDROBIN, k, trial % 2);
        run(t, &j, 6, NULL);
        int ord[MAXK];
        double w[MAXK], s[MAXK];
        assert_int_equal(tourn_ranking(t, ord, &err), PP_OK);
        assert_int_equal(tourn_scores(t, w, s, &err), PP_OK);
        for (int i = 0; i + 1 < k; i++) {
            int a = ord[i], b = ord[i + 1];
            int ok = w[a] > w[b] || (w[a] == w[b] && s[a] > s[b] + 1e-7) ||
                     (w[a] == w[b] && fabs(s[a] - s[b]) <= 1e-7 && a < b);
            if (!ok)
                fail_msg("trial %d: %d (wins %g, strength %.10g) ranked above %d (%g, %.10g)", trial,
                         a, w[a], s[a], b, w[b], s[b]);
        }
        tourn_free(t);
    }
}

static void test_rejected_rules(void **state) {
    (void)state;
    /* perfect judge, distinct scores: scores are the negated index, so the
     * true order is 0, 1, ..., 8 */
    double score[9];
    for (int i = 0; i < 9; i++) score[i] = -i;
    judge j = {JUDGE_PERFECT, score, 0, 0, 0};
    tourn *t = make(TOURN_ROUNDROBIN, 9, 0);
    run(t, &j, 1, NULL);
    pp_err err = {0};
    struct { const char *rule; int want; } cases[] = {
        {"worst", 8}, {"runner-up", 1}, {"quantile:0.5", 4}, {"quantile:1", 8},
        {"quantile:0.01", 1}, {"quantile:0.3", 2}, /* round(0.3·8) = 2 */
    };
    for (int i = 0; i < 6; i++) {
        tourn_reject_rule r;
        assert_int_equal(tourn_reject_parse(cases[i].rule, "--rejected", &r, &err), PP_OK);
        int rejected;
        assert_int_equal(tourn_pick_rejected(t, &r, &rejected, &err), PP_OK);
        if (rejected != cases[i].want)
            fail_msg("%s: picked %d, expected %d", cases[i].rule, rejected, cases[i].want);
    }
    tourn_free(t);
}

static void test_edge_cases(void **state) {
    (void)state;
    tourn_call calls[4];
    pp_err err = {0};
    for (int mi = 0; mi < 3; mi++)
        for (int both = 0; both < 2; both++) {
            /* K = 1: nothing to judge, the only candidate is best and worst */
            tourn *t = make(methods[mi], 1, both);
            assert_true(tourn_done(t));
            assert_int_equal(tourn_take_ready(t, calls, 4), 0);
            outcome o;
            results(t, &o);
            assert_int_equal(o.s.best, 0);
            assert_int_equal(o.s.worst, 0);
            assert_int_equal(o.order[0], 0);
            assert_int_equal(o.npairs, 0);
            assert_int_equal(o.rejected[0], -1);
            tourn_free(t);

            /* K = 2, candidate 1 better */
            double score[2] = {0, 1};
            judge j = {JUDGE_PERFECT, score, 0, 0, 0};
            t = make(methods[mi], 2, both);
            match_log log;
            run(t, &j, 0, &log);
            assert_int_equal(log.n, (methods[mi] == TOURN_ITERATIVE ? 2 : 1) * (both ? 2 : 1));
            results(t, &o);
            assert_int_equal(o.s.best, 1);
            assert_int_equal(o.s.worst, 0);
            assert_int_equal(o.order[0], 1);
            assert_int_equal(o.order[1], 0);
            assert_int_equal(o.npairs, 1);
            assert_true(o.better[0] == 1 && o.worse[0] == 0);
            for (int i = 0; i < 3; i++) assert_int_equal(o.rejected[i], 0);
            tourn_free(t);
        }

    /* K = 2 iterative with a noisy judge can name the same candidate in both
     * chains: then there is no pair */
    tourn *t = make(TOURN_ITERATIVE, 2, 0);
    assert_int_equal(tourn_take_ready(t, calls, 4), 2);
    assert_int_equal(tourn_submit(t, calls[0].id, 0, 1, JUDGE_FIRST, &err), PP_OK);  /* best 0 */
    assert_int_equal(tourn_submit(t, calls[1].id, 0, 1, JUDGE_SECOND, &err), PP_OK); /* worst 0 */
    outcome o;
    results(t, &o);
    assert_int_equal(o.s.best, 0);
    assert_int_equal(o.s.worst, 0);
    assert_int_equal(o.rejected[0], -1);
    tourn_free(t);
}

static void test_bad_use(void **state) {
    (void)state;
    pp_err err = {0};
    tourn *t = NULL;
    assert_int_equal(tourn_create(TOURN_KNOCKOUT, 0, 0, &t, &err), PP_EINPUT);
    assert_null(t);
    assert_non_null(strstr(err.msg, "0 candidates"));
    assert_int_equal(tourn_create(TOURN_KNOCKOUT, TOURN_MAX_K + 1, 0, &t, &err), PP_EINPUT);
    assert_int_equal(tourn_create((tourn_method)7, 4, 0, &t, &err), PP_EINPUT);

    t = make(TOURN_ITERATIVE, 4, 0);
    tourn_summary s;
    assert_int_equal(tourn_summarize(t, &s, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "not finished (0 of 6"));
    assert_int_equal(tourn_submit(t, 6, 0, 1, JUDGE_FIRST, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "out of range"));
    assert_int_equal(tourn_submit(t, 1, 0, 2, JUDGE_FIRST, &err), PP_EINPUT); /* best chain step 2 */
    assert_non_null(strstr(err.msg, "not ready"));
    assert_int_equal(tourn_submit(t, 0, 1, 0, JUDGE_FIRST, &err), PP_EINPUT); /* wrong order */
    assert_non_null(strstr(err.msg, "shows candidates 0, 1"));
    assert_int_equal(tourn_submit(t, 0, 0, 1, (judge_verdict)9, &err), PP_EINPUT);
    assert_int_equal(tourn_answered(t), 0);
    assert_int_equal(tourn_submit(t, 0, 0, 1, JUDGE_SECOND, &err), PP_OK);
    assert_int_equal(tourn_submit(t, 0, 0, 1, JUDGE_SECOND, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "already has a verdict"));
    assert_int_equal(tourn_answered(t), 1);
    /* the next step of the best chain now shows the new incumbent 1 */
    assert_int_equal(tourn_submit(t, 1, 1, 2, JUDGE_FIRST, &err), PP_OK);
    tourn_free(t);
    tourn_free(NULL);
}

static void test_parse(void **state) {
    (void)state;
    pp_err err = {0};
    tourn_method m;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tourn_method_parse(tourn_method_name(methods[i]), "--method", &m, &err), PP_OK);
        assert_int_equal(m, methods[i]);
    }
    assert_int_equal(tourn_method_parse("score", "--method", &m, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "--method 'score'"));
    tourn_reject_rule r;
    assert_int_equal(tourn_reject_parse("quantile:0.25", "--rejected", &r, &err), PP_OK);
    assert_true(r.kind == TOURN_REJECT_QUANTILE && r.q == 0.25);
    const char *bad[] = {"quantile:", "quantile:0", "quantile:1.5", "quantile:0.5x", "best", ""};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(tourn_reject_parse(bad[i], "--rejected", &r, &err), PP_EINPUT);
        assert_non_null(strstr(err.msg, "--rejected"));
    }
    assert_string_equal(judge_verdict_name(JUDGE_FAILED), "failed");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_counts),
        cmocka_unit_test(test_perfect_judge_finds_true_best_and_worst),
        cmocka_unit_test(test_replay_is_deterministic),
        cmocka_unit_test(test_both_orders_flips),
        cmocka_unit_test(test_failures_counted),
        cmocka_unit_test(test_parallel_readiness),
        cmocka_unit_test(test_tie_rules),
        cmocka_unit_test(test_roundrobin_ranking_rules),
        cmocka_unit_test(test_rejected_rules),
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_bad_use),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
