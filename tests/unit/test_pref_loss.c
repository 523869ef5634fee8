/* test_pref_loss.c - hand-computed loss values, gradients by finite
 * differences, metrics and option parsing for src/train/pref_loss.c. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/pp_rng.h"
#include "train/pref_loss.h"

/* |actual − expected| ≤ tol, printing both values when it fails (this
 * cmocka has no assert_double_equal). */
#define assert_near(actual, expected, tol)                                              \
    do {                                                                                \
        double a_ = (actual), e_ = (expected);                                          \
        if (!(fabs(a_ - e_) <= (tol)))                                                  \
            fail_msg("%s = %.17g, expected %.17g (tolerance %g)", #actual, a_, e_,       \
                     (double)(tol));                                                    \
    } while (0)

/* The worked example of issue 8: β = 0.1, πw = −10, πl = −14, rw = −9,
 * rl = −12, so Dw = −1, Dl = −2, Δw − Δl = 1, z = β·1 = 0.1.
 * Lengths |yw| = 4, |yl| = 5 for the length-dependent losses. */
static const pref_pair example = {-10.0, -14.0, -9.0, -12.0, 4, 5};
#define DPO_EXAMPLE 0.6443966600735709 /* softplus(−0.1) = log(1 + e^−0.1) */

static double loss_of(const pref_loss_opts *o, const pref_pair *p) {
    pref_pair_result r;
    pp_err err = {0};
    pp_status st = pref_loss_pair(o, p, &r, &err);
    if (st != PP_OK) fail_msg("pref_loss_pair: %s", err.msg);
    return r.loss;
}

static pref_loss_opts opts(pref_loss_kind kind) {
    pref_loss_opts o;
    pref_loss_defaults(&o);
    o.kind = kind;
    o.beta = 0.1;
    return o;
}

static void test_issue_values(void **state) {
    (void)state;
    pref_loss_opts o = opts(PREF_DPO);
    assert_near(loss_of(&o, &example), DPO_EXAMPLE, 1e-12);

    /* dpop, λp = 50: Δw = −1 < 0, so the logit is β(1 − 50·1) = −4.9;
     * L = softplus(4.9) = 4.907418994148687 */
    o = opts(PREF_DPOP);
    o.dpop_lambda = 50;
    assert_near(loss_of(&o, &example), 4.907418994148687, 1e-12);

    /* bcr outside, λ = 1, δ = 0.5: excess = −Δw − δ = 1 − 0.5 = 0.5;
     * L = dpo + 1·0.5 = 1.1443966600735709 */
    o = opts(PREF_BCR);
    o.bcr_weight = 1;
    o.bcr_budget = 0.5;
    assert_near(loss_of(&o, &example), 1.1443966600735709, 1e-12);
    /* δ = 1.5: −Δw = 1 is within the budget, no penalty: exactly dpo */
    o.bcr_budget = 1.5;
    assert_near(loss_of(&o, &example), DPO_EXAMPLE, 1e-12);
}

static void test_hand_computed_values(void **state) {
    (void)state;
    pref_loss_opts o;

    /* ipo: Dw/|yw| − Dl/|yl| − 1/(2β) = −1/4 + 2/5 − 5 = −0.25 + 0.4 − 5
     * = −4.85; L = 4.85² = 23.5225 */
    o = opts(PREF_IPO);
    assert_near(loss_of(&o, &example), 23.5225, 1e-12);
    o.length_normalize = 1; /* ipo is per-token already: unchanged */
    assert_near(loss_of(&o, &example), 23.5225, 1e-12);

    /* hinge: 1 − β(Δw − Δl) = 1 − 0.1·1 = 0.9 */
    o = opts(PREF_HINGE);
    assert_near(loss_of(&o, &example), 0.9, 1e-12);
    /* β = 2: 1 − 2·1 < 0, so L = 0 */
    o.beta = 2;
    assert_near(loss_of(&o, &example), 0.0, 1e-12);

    /* rpo, α = 0.5: dpo + 0.5·(−πw/|yw|) = 0.6443966600735709 + 0.5·10/4
     * = 0.6443966600735709 + 1.25 = 1.8943966600735709 */
    o = opts(PREF_RPO);
    o.rpo_alpha = 0.5;
    assert_near(loss_of(&o, &example), 1.8943966600735709, 1e-12);

    /* bcr inside, λ = 1, δ = 0.5: logit = 0.1 − 1·0.5 = −0.4;
     * L = softplus(0.4) = log(1 + e^0.4) = 0.9130152523999526 */
    o = opts(PREF_BCR);
    o.bcr_weight = 1;
    o.bcr_budget = 0.5;
    o.bcr_form = PREF_BCR_INSIDE;
    assert_near(loss_of(&o, &example), 0.9130152523999526, 1e-12);

    /* bcr inside with δ = 0 and λ = β·λp = 0.1·50 = 5 is dpop(λp = 50):
     * logit = 0.1 − 5·1 = −4.9 */
    o.bcr_budget = 0;
    o.bcr_weight = 5;
    assert_near(loss_of(&o, &example), 4.907418994148687, 1e-12);

    /* bcr outside per-token, λ = 2, δ = 0.1: b = Dw/|yw| = −0.25, excess
     * = 0.25 − 0.1 = 0.15, penalty 2·0.15 = 0.3; L = dpo + 0.3
     * = 0.9443966600735709 */
    o = opts(PREF_BCR);
    o.bcr_weight = 2;
    o.bcr_budget = 0.1;
    o.bcr_per_token = 1;
    assert_near(loss_of(&o, &example), 0.9443966600735709, 1e-12);
    /* δ = 0.3 > 0.25: no penalty */
    o.bcr_budget = 0.3;
    assert_near(loss_of(&o, &example), DPO_EXAMPLE, 1e-12);

    /* length-normalised dpo: Δw = −1/4, Δl = −2/5, z = 0.1·0.15 = 0.015;
     * L = softplus(−0.015) = 0.6856753052962774 */
    o = opts(PREF_DPO);
    o.length_normalize = 1;
    assert_near(loss_of(&o, &example), 0.6856753052962774, 1e-12);

    /* reference-free dpo: Δw − Δl = −10 + 14 = 4, z = 0.4;
     * L = softplus(−0.4) = 0.5130152523999526 */
    o = opts(PREF_DPO);
    o.reference_free = 1;
    assert_near(loss_of(&o, &example), 0.5130152523999526, 1e-12);
}

static void test_policy_equals_reference_is_ln2(void **state) {
    (void)state;
    pref_pair p = {-37.25, -12.5, -37.25, -12.5, 9, 3};
    pref_loss_opts o = opts(PREF_DPO);
    pref_pair_result r;
    pp_err err = {0};
    assert_int_equal(pref_loss_pair(&o, &p, &r, &err), PP_OK);
    assert_true(r.loss == log(2.0)); /* exact, not approximately */
    /* the gradient is ±β/2 and the rewards are zero */
    assert_near(r.d_policy_chosen, -0.05, 1e-15);
    assert_near(r.d_policy_rejected, 0.05, 1e-15);
    assert_true(r.reward_chosen == 0 && r.reward_rejected == 0 && r.accuracy == 0);
    /* bcr at step 1 with any budget: no penalty, still ln 2 */
    o = opts(PREF_BCR);
    assert_int_equal(pref_loss_pair(&o, &p, &r, &err), PP_OK);
    assert_true(r.loss == log(2.0));
    assert_int_equal(r.over_budget, 0);
}

static void test_metrics(void **state) {
    (void)state;
    pref_loss_opts o = opts(PREF_BCR);
    o.bcr_budget = 0.5;
    pref_pair_result r;
    pp_err err = {0};
    assert_int_equal(pref_loss_pair(&o, &example, &r, &err), PP_OK);
    assert_near(r.reward_chosen, -0.1, 1e-15);   /* β Δw = 0.1·(−1) */
    assert_near(r.reward_rejected, -0.2, 1e-15); /* β Δl = 0.1·(−2) */
    assert_near(r.margin, 0.1, 1e-15);
    assert_int_equal(r.accuracy, 1);
    assert_int_equal(r.over_budget, 1); /* −Δw = 1 > 0.5 */
    assert_near(r.delta_chosen, -1.0, 1e-15);

    pref_metrics sum = {0}, mean;
    pref_metrics_add(&sum, &example, &r);
    o.bcr_budget = 1.5;
    assert_int_equal(pref_loss_pair(&o, &example, &r, &err), PP_OK);
    assert_int_equal(r.over_budget, 0);
    pref_metrics_add(&sum, &example, &r);
    pref_metrics_mean(&sum, &mean);
    assert_near(mean.pairs, 2, 0);
    assert_near(mean.over_budget, 0.5, 1e-15);
    assert_near(mean.loss, (1.1443966600735709 + DPO_EXAMPLE) / 2, 1e-12);
    assert_near(mean.logp_chosen, -10, 1e-15);
    assert_near(mean.accuracy, 1, 1e-15);
    assert_int_equal(PREF_METRICS_N, 10);
}

/* Every configuration whose gradient is checked. */
typedef struct {
    const char *name;
    pref_loss_opts o;
} config;

static int make_configs(config *c) {
    int n = 0;
    pref_loss_kind kinds[] = {PREF_DPO, PREF_IPO, PREF_HINGE, PREF_DPOP, PREF_RPO, PREF_BCR};
    for (int k = 0; k < 6; k++)
        for (int ln = 0; ln < 2; ln++)
            for (int rf = 0; rf < 2; rf++) {
                int forms = kinds[k] == PREF_BCR ? 4 : 1;
                for (int f = 0; f < forms; f++) {
                    pref_loss_opts o = opts(kinds[k]);
                    o.beta = 0.5;
                    o.dpop_lambda = 4;
                    o.rpo_alpha = 0.7;
                    o.bcr_weight = 1.5;
                    o.bcr_budget = 0.4;
                    o.length_normalize = ln;
                    o.reference_free = rf;
                    o.bcr_form = (f & 1) ? PREF_BCR_INSIDE : PREF_BCR_OUTSIDE;
                    o.bcr_per_token = (f >> 1) & 1;
                    c[n].name = pref_loss_kind_name(o.kind);
                    c[n].o = o;
                    n++;
                }
            }
    return n;
}

/* Distance of a point from the kinks of max(0, ·) of its loss, in the
 * kink's own units: finite differences are only meaningful away from them. */
static double kink_distance(const pref_loss_opts *o, const pref_pair *p) {
    double rw = o->reference_free ? 0 : p->ref_chosen, rl = o->reference_free ? 0 : p->ref_rejected;
    double Dw = p->policy_chosen - rw, Dl = p->policy_rejected - rl;
    double dw = o->length_normalize ? Dw / p->len_chosen : Dw;
    double dl = o->length_normalize ? Dl / p->len_rejected : Dl;
    double b = o->bcr_per_token ? Dw / p->len_chosen : dw;
    switch (o->kind) {
    case PREF_HINGE: return fabs(1 - o->beta * (dw - dl));
    case PREF_DPOP: return fabs(dw);
    case PREF_BCR: return fabs(-b - o->bcr_budget);
    default: return INFINITY;
    }
}

static void test_gradients_finite_difference(void **state) {
    (void)state;
    config cfg[64];
    int ncfg = make_configs(cfg);
    assert_int_equal(ncfg, 4 * 5 + 16);
    for (int c = 0; c < ncfg; c++) {
        const pref_loss_opts *o = &cfg[c].o;
        pp_rng rng = pp_rng_stream(8, (uint64_t)c, 0);
        int checked = 0, active = 0, inactive = 0;
        for (int trial = 0; trial < 60; trial++) {
            pref_pair p;
            p.len_chosen = 1 + (int)pp_rng_below(&rng, 12);
            p.len_rejected = 1 + (int)pp_rng_below(&rng, 12);
            p.ref_chosen = -2.0 * p.len_chosen * (0.2 + pp_rng_uniform(&rng));
            p.ref_rejected = -2.0 * p.len_rejected * (0.2 + pp_rng_uniform(&rng));
            /* log-ratios of up to a few nats per token either way, so that
             * both sides of every kink are reached, summed or per token */
            p.policy_chosen = p.ref_chosen + 4.0 * p.len_chosen * (pp_rng_uniform(&rng) - 0.6);
            p.policy_rejected =
                p.ref_rejected + 4.0 * p.len_rejected * (pp_rng_uniform(&rng) - 0.4);
            if (kink_distance(o, &p) < 1e-3) continue;

            pref_pair_result r;
            pp_err err = {0};
            assert_int_equal(pref_loss_pair(o, &p, &r, &err), PP_OK);
            if (o->kind == PREF_BCR) *(r.over_budget ? &active : &inactive) += 1;
            if (o->kind == PREF_HINGE) *(r.loss > 0 ? &active : &inactive) += 1;
            if (o->kind == PREF_DPOP) *(r.delta_chosen < 0 ? &active : &inactive) += 1;

            double analytic[4] = {r.d_policy_chosen, r.d_policy_rejected, r.d_ref_chosen,
                                  r.d_ref_rejected};
            double *field[4] = {&p.policy_chosen, &p.policy_rejected, &p.ref_chosen,
                                &p.ref_rejected};
            for (int i = 0; i < 4; i++) {
                const double h = 1e-5;
                double keep = *field[i];
                *field[i] = keep + h;
                double up = loss_of(o, &p);
                *field[i] = keep - h;
                double down = loss_of(o, &p);
                *field[i] = keep;
                double numeric = (up - down) / (2 * h);
                double tol = 1e-7 + 1e-6 * fabs(numeric);
                if (fabs(numeric - analytic[i]) > tol)
                    fail_msg("%s (len_norm %d, ref_free %d, form %s) input %d: analytic %.12g, "
                             "numeric %.12g",
                             cfg[c].name, o->length_normalize, o->reference_free,
                             pref_bcr_form_name(o->bcr_form, o->bcr_per_token), i, analytic[i],
                             numeric);
            }
            if (o->reference_free) {
                assert_true(r.d_ref_chosen == 0 && r.d_ref_rejected == 0);
            }
            checked++;
        }
        if (checked < 40) fail_msg("config %d (%s): only %d points checked", c, cfg[c].name, checked);
        /* the random points reach both sides of every kink */
        if ((o->kind == PREF_BCR || o->kind == PREF_HINGE || o->kind == PREF_DPOP) &&
            (active == 0 || inactive == 0))
            fail_msg("config %d (%s, len_norm %d, form %s): %d points on the active side of "
                     "the kink, %d on the inactive side",
                     c, cfg[c].name, o->length_normalize,
                     pref_bcr_form_name(o->bcr_form, o->bcr_per_token), active, inactive);
    }
}

static void test_extreme_logits_stay_finite(void **state) {
    (void)state;
    /* |z| = 0.1·5000: naive log(1 + exp(·)) would overflow */
    pref_pair far_good = {-10, -5010, -10, -10, 10, 10};
    pref_pair far_bad = {-5010, -10, -10, -10, 10, 10};
    pref_loss_opts o = opts(PREF_DPO);
    pref_pair_result r;
    pp_err err = {0};
    assert_int_equal(pref_loss_pair(&o, &far_good, &r, &err), PP_OK);
    assert_true(r.loss >= 0 && r.loss < 1e-200);
    assert_int_equal(pref_loss_pair(&o, &far_bad, &r, &err), PP_OK);
    assert_near(r.loss, 500.0, 1e-9);
    assert_near(r.d_policy_chosen, -0.1, 1e-15);
}

static void test_bad_input(void **state) {
    (void)state;
    pref_loss_opts o = opts(PREF_DPO);
    pref_pair_result r;
    pp_err err = {0};
    pref_pair p = example;
    p.len_chosen = 0;
    assert_int_equal(pref_loss_pair(&o, &p, &r, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "lengths"));
    p = example;
    p.policy_rejected = NAN;
    assert_int_equal(pref_loss_pair(&o, &p, &r, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "policy rejected"));
    /* reference_free ignores the (missing) reference values */
    p = example;
    p.ref_chosen = NAN;
    o.reference_free = 1;
    assert_int_equal(pref_loss_pair(&o, &p, &r, &err), PP_OK);

    o = opts(PREF_DPO);
    assert_int_equal(pref_loss_check(&o, &err), PP_OK);
    o.beta = 0;
    assert_int_equal(pref_loss_check(&o, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "beta"));
    o = opts(PREF_BCR);
    o.bcr_budget = -0.1;
    assert_int_equal(pref_loss_check(&o, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "bcr budget"));
}

static void test_parse(void **state) {
    (void)state;
    pp_err err = {0};
    pref_loss_kind k;
    const char *names[] = {"dpo", "ipo", "hinge", "dpop", "rpo", "bcr"};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(pref_loss_kind_parse(names[i], "--loss", &k, &err), PP_OK);
        assert_int_equal((int)k, i);
        assert_string_equal(pref_loss_kind_name(k), names[i]);
    }
    assert_int_equal(pref_loss_kind_parse("DPO", "--loss", &k, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "--loss 'DPO'"));
    assert_int_equal(pref_loss_kind_parse(NULL, "--loss", &k, &err), PP_EINPUT);

    pref_bcr_form f;
    int per_token;
    assert_int_equal(pref_bcr_form_parse("inside", "--bcr-form", &f, &per_token, &err), PP_OK);
    assert_true(f == PREF_BCR_INSIDE && per_token == 0);
    assert_int_equal(pref_bcr_form_parse("per-token", "--bcr-form", &f, &per_token, &err), PP_OK);
    assert_true(f == PREF_BCR_OUTSIDE && per_token == 1);
    assert_int_equal(pref_bcr_form_parse("inside-per-token", "--bcr-form", &f, &per_token, &err),
                     PP_OK);
    assert_true(f == PREF_BCR_INSIDE && per_token == 1);
    assert_string_equal(pref_bcr_form_name(f, per_token), "inside-per-token");
    assert_int_equal(pref_bcr_form_parse("middle", "--bcr-form", &f, &per_token, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "--bcr-form 'middle'"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_values),
        cmocka_unit_test(test_hand_computed_values),
        cmocka_unit_test(test_policy_equals_reference_is_ln2),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_gradients_finite_difference),
        cmocka_unit_test(test_extreme_logits_stay_finite),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
