/* rank_pairs.c - from rankings to the pairs file's contents (rank 0): the
 * chosen/rejected pairs of each prompt, the per-prompt rankings, the match
 * log, the judge's settings, and the agreement with the task scorer where
 * the truth is known. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rank/rank_engine.h"
#include "suite/tasks.h"

static pp_status pair_add(pair_list *l, int64_t p, int chosen, int rejected, pp_err *err) {
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 256;
        pair_item *nv = realloc(l->v, (size_t)cap * sizeof *nv);
        if (!nv) return pp_fail(err, PP_ESYS, "out of memory for %lld pairs", (long long)cap);
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = (pair_item){p, chosen, rejected};
    return PP_OK;
}

void results_free(rank_results *r) {
    free(r->ranking), free(r->best), free(r->worst), free(r->calls), free(r->ties), free(r->failures);
    free(r->score), free(r->strength), free(r->pairs.v);
    memset(r, 0, sizeof *r);
}

static pp_status results_alloc(rank_results *r, int64_t np, int k, int with_strength, pp_err *err) {
    memset(r, 0, sizeof *r);
    r->n_prompts = np;
    r->k = k;
    size_t n = (size_t)(np > 0 ? np : 1), nk = n * (size_t)k;
    r->ranking = malloc(nk * sizeof(int));
    r->best = malloc(n * sizeof(int));
    r->worst = malloc(n * sizeof(int));
    r->calls = calloc(n, sizeof(int));
    r->ties = calloc(n, sizeof(int));
    r->failures = calloc(n, sizeof(int));
    r->score = calloc(nk, sizeof(double));
    if (with_strength) r->strength = calloc(nk, sizeof(double));
    if (!r->ranking || !r->best || !r->worst || !r->calls || !r->ties || !r->failures || !r->score ||
        (with_strength && !r->strength)) {
        results_free(r);
        return pp_fail(err, PP_ESYS, "out of memory for the rankings of %lld prompts", (long long)np);
    }
    return PP_OK;
}

pp_status results_from_tournaments(const rank_options *o, tourn *const *t, int64_t n_prompts, int k, rank_results *r,
                                   pp_err *err) {
    PP_TRY(results_alloc(r, n_prompts, k, 1, err));
    int cap = k * (k - 1) / 2 + 1;
    int *better = malloc((size_t)cap * sizeof(int)), *worse = malloc((size_t)cap * sizeof(int));
    pp_status st = better && worse ? PP_OK : pp_fail(err, PP_ESYS, "out of memory");
    for (int64_t p = 0; st == PP_OK && p < n_prompts; p++) {
        tourn_summary s;
        st = tourn_summarize(t[p], &s, err);
        if (st == PP_OK) st = tourn_ranking(t[p], r->ranking + p * k, err);
        if (st == PP_OK) st = tourn_scores(t[p], r->score + p * k, r->strength + p * k, err);
        if (st != PP_OK) break;
        r->best[p] = s.best;
        r->worst[p] = s.worst;
        r->calls[p] = s.calls;
        r->ties[p] = s.ties;
        r->failures[p] = s.failures;
        r->calls_total += s.calls;
        r->matches += s.matches;
        r->ties_total += s.ties;
        r->flips += s.flips;
        r->failures_total += s.failures;
        r->failed_matches += s.failed_matches;
        if (o->both_orders) r->both_matches += s.matches;
        int64_t before = r->pairs.n;
        if (o->pairs_all) {
            int n;
            st = tourn_pairs(t[p], better, worse, cap, &n, err);
            for (int i = 0; st == PP_OK && i < n && i < cap; i++) st = pair_add(&r->pairs, p, better[i], worse[i], err);
        } else {
            int rej;
            st = tourn_pick_rejected(t[p], &o->rejected, &rej, err);
            if (st == PP_OK && rej >= 0) st = pair_add(&r->pairs, p, s.best, rej, err);
        }
        if (r->pairs.n == before) r->no_pair++;
    }
    free(better);
    free(worse);
    if (st != PP_OK) results_free(r);
    return st;
}

/* Score order: higher first; an unscored candidate (NAN) after every scored one. */
static int scores_before(double a, double b) { return !isnan(a) && (isnan(b) || a > b); }

pp_status results_from_scores(const rank_options *o, const double *scores, int64_t np, int k, rank_results *r,
                                     pp_err *err) {
    PP_TRY(results_alloc(r, np, k, 0, err));
    memcpy(r->score, scores, sizeof(double) * (size_t)(np * k));
    pp_status st = PP_OK;
    for (int64_t p = 0; st == PP_OK && p < np; p++) {
        const double *sc = scores + p * k;
        int *ord = r->ranking + p * k;
        int scored = 0;
        for (int j = 0; j < k; j++) { /* insertion sort: k is small */
            int i = j;
            while (i > 0 && scores_before(sc[j], sc[ord[i - 1]])) {
                ord[i] = ord[i - 1];
                i--;
            }
            ord[i] = j;
            scored += !isnan(sc[j]);
        }
        int last = scored > 0 ? scored - 1 : 0; /* the worst scored candidate */
        r->best[p] = ord[0];
        r->worst[p] = sc[ord[0]] > sc[ord[last]] ? ord[last] : ord[0];
        r->calls[p] = k;
        r->failures[p] = k - scored;
        r->failures_total += k - scored;
        r->calls_total += k;
        int64_t before = r->pairs.n;
        if (o->pairs_all) {
            for (int i = 0; st == PP_OK && i < scored; i++)
                for (int j = i + 1; st == PP_OK && j < scored; j++)
                    if (sc[ord[i]] > sc[ord[j]]) st = pair_add(&r->pairs, p, ord[i], ord[j], err);
        } else if (scored >= 2) {
            long pos = scored - 1;
            if (o->rejected.kind == TOURN_REJECT_RUNNER_UP) pos = 1;
            if (o->rejected.kind == TOURN_REJECT_QUANTILE) {
                pos = lround(o->rejected.q * (scored - 1));
                pos = pos < 1 ? 1 : pos > scored - 1 ? scored - 1 : pos;
            }
            if (sc[ord[0]] > sc[ord[pos]]) st = pair_add(&r->pairs, p, ord[0], ord[pos], err);
        }
        if (r->pairs.n == before) r->no_pair++;
    }
    if (st != PP_OK) results_free(r);
    return st;
}

/* Concatenate the tokens of the given candidates into one ragged array. */
static pp_status gather_tokens(const candidate_set *c, const rank_results *r, int chosen, int64_t *off, int32_t **tok,
                               pp_err *err) {
    const pair_list *l = &r->pairs;
    off[0] = 0;
    for (int64_t i = 0; i < l->n; i++) {
        int64_t n;
        candidates_tokens(c, l->v[i].prompt * c->k + (chosen ? l->v[i].chosen : l->v[i].rejected), &n);
        off[i + 1] = off[i] + n;
    }
    *tok = malloc((size_t)(off[l->n] > 0 ? off[l->n] : 1) * sizeof **tok);
    if (!*tok) return pp_fail(err, PP_ESYS, "out of memory for pair tokens");
    for (int64_t i = 0; i < l->n; i++) {
        int64_t n;
        const int32_t *t = candidates_tokens(c, l->v[i].prompt * c->k + (chosen ? l->v[i].chosen : l->v[i].rejected), &n);
        memcpy(*tok + off[i], t, (size_t)n * sizeof **tok);
    }
    return PP_OK;
}

/* Truth: the task scorer's score of every candidate of prompts that have
 * a known family and a reference; NaN elsewhere.  Returns how many prompts
 * have it. */
static int64_t true_scores(const candidate_set *c, double *ts) {
    int64_t with = 0;
    for (int64_t p = 0; p < c->n_prompts; p++) {
        task_family f;
        pp_err ignore;
        int ok = c->family && c->reference && c->family[p] && c->family[p][0] && c->reference[p] &&
                 tasks_family_from_name(c->family[p], &f, &ignore) == PP_OK;
        for (int64_t j = 0; j < c->k; j++)
            ts[p * c->k + j] = ok ? tasks_score(f, c->prompt_text[p], c->reference[p], c->candidate_text[p * c->k + j])
                                  : NAN;
        with += ok;
    }
    return with;
}

pp_status build_pairs(const rank_options *o, const judge_handle *jd, const candidate_set *c, const rank_results *r,
                      verdict_log *const *logs, int64_t n_logs, pairs_set *s, pp_err *err) {
    const int64_t np = c->n_prompts, k = c->k, n = r->pairs.n;
    double *ts = malloc((size_t)(np * k > 0 ? np * k : 1) * sizeof *ts);
    if (!ts) return pp_fail(err, PP_ESYS, "out of memory");
    int64_t truth_prompts = true_scores(c, ts);
    pp_status st = pairs_alloc(s, np, (int)k, n, n_logs, truth_prompts > 0, 1, r->strength != NULL, err);
    if (st != PP_OK) {
        free(ts);
        return st;
    }
    /* per prompt */
    memcpy(s->prompt_id, c->prompt_id, (size_t)np * sizeof(int64_t));
    memcpy(s->prompt_token_offsets, c->prompt_token_offsets, (size_t)(np + 1) * sizeof(int64_t));
    memcpy(s->best, r->best, (size_t)np * sizeof(int));
    memcpy(s->worst, r->worst, (size_t)np * sizeof(int));
    memcpy(s->ranking, r->ranking, (size_t)(np * k) * sizeof(int));
    memcpy(s->judge_calls, r->calls, (size_t)np * sizeof(int));
    memcpy(s->ties, r->ties, (size_t)np * sizeof(int));
    memcpy(s->failures, r->failures, (size_t)np * sizeof(int));
    memcpy(s->score, r->score, (size_t)(np * k) * sizeof(double));
    if (r->strength) memcpy(s->strength, r->strength, (size_t)(np * k) * sizeof(double));
    if (s->true_score) memcpy(s->true_score, ts, (size_t)(np * k) * sizeof(double));
    int64_t npt = c->prompt_token_offsets[np];
    s->prompt_tokens = malloc((size_t)(npt > 0 ? npt : 1) * sizeof(int32_t));
    if (!s->prompt_tokens) st = pp_fail(err, PP_ESYS, "out of memory");
    else memcpy(s->prompt_tokens, c->prompt_tokens, (size_t)npt * sizeof(int32_t));
    if (st == PP_OK) st = pairs_pack_text(&s->prompt_text, np, (const char *const *)c->prompt_text, err);
    if (st == PP_OK && c->family) st = pairs_pack_text(&s->family, np, (const char *const *)c->family, err);
    if (st == PP_OK && c->reference) st = pairs_pack_text(&s->reference, np, (const char *const *)c->reference, err);

    /* per pair */
    const char **ct = malloc((size_t)(n > 0 ? n : 1) * sizeof *ct), **rt = malloc((size_t)(n > 0 ? n : 1) * sizeof *rt);
    if (st == PP_OK && (!ct || !rt)) st = pp_fail(err, PP_ESYS, "out of memory");
    double gap = 0;
    int64_t with_truth = 0, correct = 0;
    for (int64_t i = 0; st == PP_OK && i < n; i++) {
        const pair_item *pi = &r->pairs.v[i];
        s->pair_prompt[i] = pi->prompt;
        s->chosen[i] = pi->chosen;
        s->rejected[i] = pi->rejected;
        ct[i] = c->candidate_text[pi->prompt * k + pi->chosen];
        rt[i] = c->candidate_text[pi->prompt * k + pi->rejected];
        if (s->chosen_true_score) {
            double a = ts[pi->prompt * k + pi->chosen], b = ts[pi->prompt * k + pi->rejected];
            s->chosen_true_score[i] = a;
            s->rejected_true_score[i] = b;
            if (!isnan(a)) {
                with_truth++;
                gap += a - b;
                correct += a > b;
            }
        }
    }
    if (st == PP_OK) st = pairs_pack_text(&s->chosen_text, n, ct, err);
    if (st == PP_OK) st = pairs_pack_text(&s->rejected_text, n, rt, err);
    free(ct);
    free(rt);
    if (st == PP_OK) st = gather_tokens(c, r, 1, s->chosen_token_offsets, &s->chosen_tokens, err);
    if (st == PP_OK) st = gather_tokens(c, r, 0, s->rejected_token_offsets, &s->rejected_tokens, err);

    /* match log, sorted by (prompt, call) so it does not depend on the ranks */
    const char **errs = malloc((size_t)(n_logs > 0 ? n_logs : 1) * sizeof *errs);
    if (st == PP_OK && !errs) st = pp_fail(err, PP_ESYS, "out of memory");
    for (int64_t i = 0; st == PP_OK && i < n_logs; i++) {
        const verdict_log *l = logs[i];
        int orders = o->both_orders ? 2 : 1;
        s->matches[i] = (pairs_match){l->prompt, l->call, l->call / orders, l->call % orders, l->first, l->second,
                                      l->verdict, l->seconds, l->attempts, l->timeouts, l->crashes,
                                      l->bad_answers, l->restarts, l->rank, 0, l->probs[0], l->probs[1]};
        errs[i] = l->error ? l->error : "";
    }
    if (st == PP_OK) st = pairs_pack_text(&s->match_error, n_logs, errs, err);
    free(errs);

    /* attributes */
    snprintf(s->method, sizeof s->method, "%s", o->score_method ? "score" : tourn_method_name(o->method));
    snprintf(s->judge, sizeof s->judge, "%s", jd->ops->name);
    s->both_orders = o->both_orders;
    snprintf(s->rejected_rule, sizeof s->rejected_rule, "%s", o->rejected_text);
    snprintf(s->pairs_mode, sizeof s->pairs_mode, "%s", o->pairs_all ? "all" : "best");
    judge_describe(jd, s);
    s->judge_calls_total = r->calls_total;
    s->matches_total = r->matches;
    s->ties_total = r->ties_total;
    s->flips = r->flips;
    s->flip_rate = r->both_matches > 0 ? (double)r->flips / (double)r->both_matches : 0;
    s->failures_total = r->failures_total;
    s->failed_matches = r->failed_matches;
    s->prompts_without_pair = r->no_pair;
    for (int64_t i = 0; i < n_logs; i++) {
        s->timeouts += logs[i]->timeouts;
        s->crashes += logs[i]->crashes;
        s->bad_answers += logs[i]->bad_answers;
        s->restarts += logs[i]->restarts;
        s->judge_seconds += logs[i]->seconds;
    }
    if (truth_prompts > 0) {
        int64_t best_ok = 0, worst_ok = 0, both_ok = 0;
        for (int64_t p = 0; p < np; p++) {
            const double *t = ts + p * k;
            if (isnan(t[0])) continue;
            double hi = t[0], lo = t[0];
            for (int64_t j = 1; j < k; j++) hi = t[j] > hi ? t[j] : hi, lo = t[j] < lo ? t[j] : lo;
            int b = t[r->ranking[p * k]] == hi, w = t[r->ranking[p * k + k - 1]] == lo;
            best_ok += b;
            worst_ok += w;
            both_ok += b && w;
        }
        s->has_truth = 1;
        s->truth_prompts = truth_prompts;
        s->truth_best_rate = (double)best_ok / (double)truth_prompts;
        s->truth_worst_rate = (double)worst_ok / (double)truth_prompts;
        s->truth_agreement = (double)both_ok / (double)truth_prompts;
        s->truth_pair_accuracy = with_truth ? (double)correct / (double)with_truth : 0;
        s->truth_mean_gap = with_truth ? gap / (double)with_truth : 0;
    }
    snprintf(s->model_fingerprint, sizeof s->model_fingerprint, "%s", c->model_fingerprint);
    snprintf(s->tokenizer, sizeof s->tokenizer, "%s", c->tokenizer);
    s->vocab_size = (int)c->vocab_size;
    snprintf(s->source, sizeof s->source, "%s", c->source);
    snprintf(s->suite, sizeof s->suite, "%s", c->suite);
    snprintf(s->split, sizeof s->split, "%s", c->split);
    free(ts);
    if (st != PP_OK) pairs_free(s);
    return st;
}
