/* pref_loss.c - DPO-family preference losses with gradients (see pref_loss.h).
 *
 * Everything is computed in double: the inputs are sums of many token
 * log-probs, and the differences Δw − Δl that matter can be small against
 * them.  Each loss is written as a function of the raw log-ratios Dw, Dl;
 * its gradient gDw = ∂L/∂Dw, gDl = ∂L/∂Dl is then spread onto the four
 * inputs (∂Dw/∂πw = 1, ∂Dw/∂rw = −1), plus rpo's direct term in πw. */
#include "train/pref_loss.h"

#include <math.h>
#include <string.h>

/* log(1 + e^x) without overflow; softplus(0) = log1p(1) = ln 2. */
static double softplus(double x) {
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

static double sigmoid(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

void pref_loss_defaults(pref_loss_opts *o) {
    memset(o, 0, sizeof *o);
    o->kind = PREF_DPO;
    o->beta = 0.1;
    o->dpop_lambda = 50.0;
    o->rpo_alpha = 1.0;
    o->bcr_weight = 1.0;
    o->bcr_budget = 0.0;
    o->bcr_form = PREF_BCR_OUTSIDE;
}

pp_status pref_loss_check(const pref_loss_opts *o, pp_err *err) {
    if (!(o->beta > 0) || !isfinite(o->beta))
        return pp_fail(err, PP_EINPUT, "loss option beta = %g: must be a finite number > 0", o->beta);
    const struct { const char *name; double v; } nonneg[] = {
        {"dpop lambda", o->dpop_lambda}, {"rpo alpha", o->rpo_alpha},
        {"bcr weight", o->bcr_weight},   {"bcr budget", o->bcr_budget},
    };
    for (int i = 0; i < 4; i++)
        if (!(nonneg[i].v >= 0) || !isfinite(nonneg[i].v))
            return pp_fail(err, PP_EINPUT, "loss option %s = %g: must be a finite number >= 0",
                           nonneg[i].name, nonneg[i].v);
    if ((unsigned)o->kind > PREF_BCR)
        return pp_fail(err, PP_EINPUT, "loss kind %d: unknown", (int)o->kind);
    if ((unsigned)o->bcr_form > PREF_BCR_INSIDE)
        return pp_fail(err, PP_EINPUT, "bcr form %d: unknown", (int)o->bcr_form);
    return PP_OK;
}

pp_status pref_loss_pair(const pref_loss_opts *o, const pref_pair *in, pref_pair_result *out,
                         pp_err *err) {
    memset(out, 0, sizeof *out);
    if (in->len_chosen < 1 || in->len_rejected < 1)
        return pp_fail(err, PP_EINPUT, "pair lengths chosen %d, rejected %d: must be >= 1",
                       in->len_chosen, in->len_rejected);
    const double inputs[4] = {in->policy_chosen, in->policy_rejected, in->ref_chosen,
                              in->ref_rejected};
    const char *names[4] = {"policy chosen", "policy rejected", "reference chosen",
                            "reference rejected"};
    for (int i = 0; i < 4; i++)
        if (!isfinite(inputs[i]) && !(o->reference_free && i >= 2))
            return pp_fail(err, PP_EINPUT, "%s log-prob is %g: not finite", names[i], inputs[i]);

    const double beta = o->beta;
    const double nw = in->len_chosen, nl = in->len_rejected;
    const double rw = o->reference_free ? 0.0 : in->ref_chosen;
    const double rl = o->reference_free ? 0.0 : in->ref_rejected;
    const double Dw = in->policy_chosen - rw, Dl = in->policy_rejected - rl;
    /* Δ = s·D: s is 1 for summed log-ratios, 1/|y| for length-normalised ones */
    const double sw = o->length_normalize ? 1.0 / nw : 1.0;
    const double sl = o->length_normalize ? 1.0 / nl : 1.0;
    const double dw = sw * Dw, dl = sl * Dl;
    const double z = beta * (dw - dl);
    /* the budgeted quantity b and db/dDw */
    const double b = o->bcr_per_token ? Dw / nw : dw;
    const double sb = o->bcr_per_token ? 1.0 / nw : sw;

    double loss = 0, gDw = 0, gDl = 0, g_policy_chosen_direct = 0;
    switch (o->kind) {
    case PREF_DPO:
    case PREF_RPO: {
        double dz = -sigmoid(-z); /* d softplus(−z)/dz */
        loss = softplus(-z);
        gDw = dz * beta * sw;
        gDl = -dz * beta * sl;
        if (o->kind == PREF_RPO) {
            loss += o->rpo_alpha * (-in->policy_chosen / nw);
            g_policy_chosen_direct = -o->rpo_alpha / nw;
        }
        break;
    }
    case PREF_IPO: {
        double x = Dw / nw - Dl / nl - 1.0 / (2.0 * beta);
        loss = x * x;
        gDw = 2.0 * x / nw;
        gDl = -2.0 * x / nl;
        break;
    }
    case PREF_HINGE: {
        double h = 1.0 - z;
        loss = h > 0 ? h : 0.0;
        double dz = h > 0 ? -1.0 : 0.0;
        gDw = dz * beta * sw;
        gDl = -dz * beta * sl;
        break;
    }
    case PREF_DPOP: {
        int falling = dw < 0; /* chosen log-ratio below the reference */
        double y = beta * (dw - dl - o->dpop_lambda * (falling ? -dw : 0.0));
        double dy = -sigmoid(-y);
        loss = softplus(-y);
        gDw = dy * beta * (1.0 + (falling ? o->dpop_lambda : 0.0)) * sw;
        gDl = -dy * beta * sl;
        break;
    }
    case PREF_BCR: {
        double excess = -b - o->bcr_budget;
        int active = excess > 0;
        double e = active ? excess : 0.0;
        double de_dDw = active ? -sb : 0.0;
        if (o->bcr_form == PREF_BCR_OUTSIDE) {
            double dz = -sigmoid(-z);
            loss = softplus(-z) + o->bcr_weight * e;
            gDw = dz * beta * sw + o->bcr_weight * de_dDw;
            gDl = -dz * beta * sl;
        } else {
            double y = z - o->bcr_weight * e;
            double dy = -sigmoid(-y);
            loss = softplus(-y);
            gDw = dy * (beta * sw - o->bcr_weight * de_dDw);
            gDl = -dy * beta * sl;
        }
        break;
    }
    default:
        return pp_fail(err, PP_EINPUT, "loss kind %d: unknown", (int)o->kind);
    }

    out->loss = loss;
    out->d_policy_chosen = gDw + g_policy_chosen_direct;
    out->d_policy_rejected = gDl;
    out->d_ref_chosen = o->reference_free ? 0.0 : -gDw;
    out->d_ref_rejected = o->reference_free ? 0.0 : -gDl;
    out->delta_chosen = dw;
    out->delta_rejected = dl;
    out->reward_chosen = beta * dw;
    out->reward_rejected = beta * dl;
    out->margin = out->reward_chosen - out->reward_rejected;
    out->accuracy = out->reward_chosen > out->reward_rejected;
    out->over_budget = -b > o->bcr_budget;
    if (!isfinite(loss) || !isfinite(out->d_policy_chosen) || !isfinite(out->d_policy_rejected))
        return pp_fail(err, PP_EINPUT,
                       "%s loss is %g (policy %g/%g, reference %g/%g): not finite",
                       pref_loss_kind_name(o->kind), loss, in->policy_chosen,
                       in->policy_rejected, rw, rl);
    return PP_OK;
}

void pref_metrics_add(pref_metrics *m, const pref_pair *in, const pref_pair_result *r) {
    m->pairs += 1;
    m->loss += r->loss;
    m->reward_chosen += r->reward_chosen;
    m->reward_rejected += r->reward_rejected;
    m->margin += r->margin;
    m->accuracy += r->accuracy;
    m->logp_chosen += in->policy_chosen;
    m->logp_rejected += in->policy_rejected;
    m->delta_chosen += r->delta_chosen;
    m->over_budget += r->over_budget;
}

void pref_metrics_mean(const pref_metrics *sum, pref_metrics *mean) {
    const double *s = (const double *)sum;
    double *d = (double *)mean;
    double n = sum->pairs;
    d[0] = n;
    for (int i = 1; i < PREF_METRICS_N; i++) d[i] = n > 0 ? s[i] / n : 0.0;
}

static const char *const kind_names[] = {"dpo", "ipo", "hinge", "dpop", "rpo", "bcr"};

const char *pref_loss_kind_name(pref_loss_kind kind) {
    return (unsigned)kind <= PREF_BCR ? kind_names[kind] : "unknown";
}

pp_status pref_loss_kind_parse(const char *s, const char *what, pref_loss_kind *kind, pp_err *err) {
    for (int i = 0; i <= PREF_BCR; i++)
        if (s && strcmp(s, kind_names[i]) == 0) {
            *kind = (pref_loss_kind)i;
            return PP_OK;
        }
    return pp_fail(err, PP_EINPUT, "%s '%s': unknown loss (expected dpo, ipo, hinge, dpop, rpo or bcr)",
                   what ? what : "loss", s ? s : "(none)");
}

const char *pref_bcr_form_name(pref_bcr_form form, int per_token) {
    if (form == PREF_BCR_INSIDE) return per_token ? "inside-per-token" : "inside";
    return per_token ? "outside-per-token" : "outside";
}

pp_status pref_bcr_form_parse(const char *s, const char *what, pref_bcr_form *form,
                              int *per_token, pp_err *err) {
    static const struct { const char *name; pref_bcr_form form; int per_token; } forms[] = {
        {"outside", PREF_BCR_OUTSIDE, 0},
        {"inside", PREF_BCR_INSIDE, 0},
        {"per-token", PREF_BCR_OUTSIDE, 1},
        {"outside-per-token", PREF_BCR_OUTSIDE, 1},
        {"inside-per-token", PREF_BCR_INSIDE, 1},
    };
    for (int i = 0; i < (int)(sizeof forms / sizeof forms[0]); i++)
        if (s && strcmp(s, forms[i].name) == 0) {
            *form = forms[i].form;
            *per_token = forms[i].per_token;
            return PP_OK;
        }
    return pp_fail(err, PP_EINPUT,
                   "%s '%s': unknown BCR form (expected outside, inside, per-token, "
                   "outside-per-token or inside-per-token)",
                   what ? what : "bcr form", s ? s : "(none)");
}
