/* pref_loss.h - per-pair preference losses (DPO family + BCR) and their
 * gradients with respect to the four sequence log-probabilities.
 *
 * Inputs per pair: summed completion-token log-probs of the policy and of the
 * reference for the chosen (w) and rejected (l) completion, and the two
 * completion lengths |yw|, |yl| (tokens).  The raw log-ratios are
 *     Dw = πw − rw,   Dl = πl − rl          (rw = rl = 0 when reference_free)
 * and the log-ratios the losses use are
 *     Δw = Dw, Δl = Dl                      (default: summed over tokens)
 *     Δw = Dw/|yw|, Δl = Dl/|yl|            (length_normalize)
 * With z = β(Δw − Δl) and softplus(x) = log(1 + e^x), so −log σ(z) =
 * softplus(−z):
 *   dpo    L = −log σ(z)
 *   ipo    L = (Dw/|yw| − Dl/|yl| − 1/(2β))²       (always per-token log-ratios,
 *                                                  length_normalize changes nothing)
 *   hinge  L = max(0, 1 − z)
 *   dpop   L = −log σ(β(Δw − Δl − λp·max(0, −Δw)))  (λp = dpop_lambda)
 *   rpo    L = −log σ(z) + α·(−πw/|yw|)             (per-token NLL of the chosen
 *                                                  completion under the policy)
 *   bcr    with b = Δw (bcr_per_token = 0) or b = Dw/|yw| (bcr_per_token = 1:
 *          budget and penalty on the mean per-token log-ratio), the budget
 *          excess e = max(0, −b − δ) and λ = bcr_weight:
 *            outside  L = −log σ(z) + λ·e
 *            inside   L = −log σ(z − λ·e)
 *          "inside" subtracts λ·e from the logit without a β factor; so with
 *          δ = 0, summed budget and λ = β·λp it equals dpop.  The penalty is
 *          zero while the chosen log-likelihood has fallen by at most δ
 *          (nats, total or per token) below the reference.
 * At the kinks of max(0, ·) the derivative of the inactive branch (0) is used.
 *
 * Metrics per pair (TRL's names, averaged by the caller):
 *   rewards/chosen = β Δw, rewards/rejected = β Δl, rewards/margins = their
 *   difference, rewards/accuracies = (chosen > rejected), and the budget flag
 *   over_budget = (−b > δ) with b as for bcr (computed for every loss). */
#ifndef PREF_LOSS_H
#define PREF_LOSS_H

#include "core/pp_error.h"

typedef enum { PREF_DPO, PREF_IPO, PREF_HINGE, PREF_DPOP, PREF_RPO, PREF_BCR } pref_loss_kind;
typedef enum { PREF_BCR_OUTSIDE, PREF_BCR_INSIDE } pref_bcr_form;

typedef struct {
    pref_loss_kind kind;
    double beta;          /* β > 0 */
    double dpop_lambda;   /* λp ≥ 0 */
    double rpo_alpha;     /* α ≥ 0 */
    double bcr_weight;    /* λ ≥ 0 */
    double bcr_budget;    /* δ ≥ 0 */
    pref_bcr_form bcr_form;
    int bcr_per_token;    /* 1: budget on Dw/|yw| instead of Δw */
    int length_normalize; /* 1: Δ = D/|y| */
    int reference_free;   /* 1: rw = rl = 0 (reference inputs ignored) */
} pref_loss_opts;

typedef struct {
    double policy_chosen, policy_rejected; /* πw, πl: summed log-probs */
    double ref_chosen, ref_rejected;       /* rw, rl */
    int len_chosen, len_rejected;          /* |yw|, |yl| ≥ 1 (completion tokens) */
} pref_pair;

typedef struct {
    double loss;
    double d_policy_chosen, d_policy_rejected; /* ∂L/∂πw, ∂L/∂πl */
    double d_ref_chosen, d_ref_rejected;       /* ∂L/∂rw, ∂L/∂rl (0 when reference_free) */
    double delta_chosen, delta_rejected;       /* Δw, Δl as the loss uses them */
    double reward_chosen, reward_rejected;     /* β Δw, β Δl */
    double margin;                             /* reward_chosen − reward_rejected */
    int accuracy;                              /* reward_chosen > reward_rejected */
    int over_budget;                           /* −b > δ */
} pref_pair_result;

/* Running sums for a batch, all doubles so ranks can MPI_Allreduce the struct
 * as an array of PREF_METRICS_N doubles (MPI_SUM). */
typedef struct {
    double pairs;
    double loss, reward_chosen, reward_rejected, margin, accuracy;
    double logp_chosen, logp_rejected, delta_chosen, over_budget;
} pref_metrics;
#define PREF_METRICS_N ((int)(sizeof(pref_metrics) / sizeof(double)))

/* Defaults: dpo, β = 0.1, λp = 50, α = 1, λ = 1, δ = 0, outside, summed. */
void pref_loss_defaults(pref_loss_opts *o);

/* Checks the option values (β > 0, weights and budget ≥ 0, finite). */
PP_MUST_CHECK pp_status pref_loss_check(const pref_loss_opts *o, pp_err *err);

/* Loss, gradients and metrics of one pair.  Fails (PP_EINPUT) on a length
 * < 1 or a non-finite input or result, naming the offending value. */
PP_MUST_CHECK pp_status pref_loss_pair(const pref_loss_opts *o, const pref_pair *in, pref_pair_result *out,
                         pp_err *err);

/* Accumulate one pair's result into batch sums; the mean of a field is
 * sum / pairs (pref_metrics_mean). */
void pref_metrics_add(pref_metrics *m, const pref_pair *in, const pref_pair_result *r);
void pref_metrics_mean(const pref_metrics *sum, pref_metrics *mean);

/* Option strings.  kind: dpo|ipo|hinge|dpop|rpo|bcr.  BCR form: outside |
 * inside | per-token (= outside-per-token) | outside-per-token |
 * inside-per-token.  `what` names the option in the message, e.g. "--loss". */
PP_MUST_CHECK pp_status pref_loss_kind_parse(const char *s, const char *what, pref_loss_kind *kind, pp_err *err);
PP_MUST_CHECK pp_status pref_bcr_form_parse(const char *s, const char *what, pref_bcr_form *form,
                              int *per_token, pp_err *err);
const char *pref_loss_kind_name(pref_loss_kind kind);
const char *pref_bcr_form_name(pref_bcr_form form, int per_token);

#endif
