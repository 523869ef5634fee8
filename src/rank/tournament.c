/* tournament.c - pairwise ranking methods as replayable state machines
 * (see tournament.h for the methods, tie rules and what the ranking means).
 *
 * The whole structure (which match feeds which) is built at creation from
 * (method, K); the only mutable state is the verdict of each call, plus a
 * "taken" flag that only serves the scheduler.  Winners and losers of decided
 * matches are cached in the match so readiness is a constant-time check. */
#include "rank/tournament.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { SRC_CAND, SRC_WINNER, SRC_LOSER };
enum { OUT_NONE, OUT_SLOT0, OUT_SLOT1, OUT_TIE, OUT_FAILED };

#define BT_PRIOR 0.1      /* precision of the Gaussian prior on log-strengths */
#define STRENGTH_TOL 1e-7 /* strengths closer than this count as equal */

/* A slot's input: candidate `value`, or the winner/loser of match `value`. */
typedef struct {
    int kind;
    int value;
} source;

typedef struct {
    source in[2];
    int loser_advances;     /* worst chain / losers' bracket */
    signed char verdict[2]; /* per order; −1 = not answered */
    unsigned char taken[2];
    signed char outcome;    /* OUT_*; set when every order is answered */
    unsigned char flip;
    int winner, loser;      /* candidates, −1 until decided */
} match;

struct tourn {
    tourn_method method;
    int k;
    int orders;    /* 2 with both orders, else 1 */
    int n_matches;
    int answered;
    int scan_from; /* first match that may still have a call to hand out */
    source best, worst;
    match *m;
};

int tourn_matches_total(tourn_method method, int k) {
    if (k < 1) return 0;
    switch (method) {
    case TOURN_ITERATIVE: return 2 * (k - 1);
    case TOURN_KNOCKOUT: return (k - 1) + ((k + 1) / 2 - 1); /* = ⌈3K/2⌉ − 2 */
    case TOURN_ROUNDROBIN: return k * (k - 1) / 2;
    }
    return 0;
}

int tourn_calls_total(tourn_method method, int k, int both_orders) {
    return tourn_matches_total(method, k) * (both_orders ? 2 : 1);
}

/* ---- building the structure ---- */

static source cand(int c) { return (source){SRC_CAND, c}; }

static int add_match(tourn *t, source a, source b, int loser_advances) {
    match *m = &t->m[t->n_matches];
    memset(m, 0, sizeof *m);
    m->in[0] = a;
    m->in[1] = b;
    m->loser_advances = loser_advances;
    m->verdict[0] = m->verdict[1] = -1;
    m->outcome = OUT_NONE;
    m->winner = m->loser = -1;
    return t->n_matches++;
}

/* What moves on from match id: its winner, or in a losers' bracket its loser. */
static source advancer(int id, int loser_advances) {
    return (source){loser_advances ? SRC_LOSER : SRC_WINNER, id};
}

/* Plays s[0..n) off round by round — pairs (s0,s1), (s2,s3), ..., the last
 * one has a bye when n is odd — until one source is left, and returns it.
 * s is overwritten (each round's survivors keep their order). */
static source bracket(tourn *t, source *s, int n, int loser_advances) {
    while (n > 1) {
        int next = 0;
        for (int i = 0; i + 1 < n; i += 2)
            s[next++] = advancer(add_match(t, s[i], s[i + 1], loser_advances), loser_advances);
        if (n % 2) s[next++] = s[n - 1];
        n = next;
    }
    return s[0];
}

static pp_status build(tourn *t, pp_err *err) {
    int k = t->k;
    switch (t->method) {
    case TOURN_ITERATIVE: {
        source best = cand(0), worst = cand(0);
        for (int c = 1; c < k; c++) best = advancer(add_match(t, best, cand(c), 0), 0);
        for (int c = 1; c < k; c++) worst = advancer(add_match(t, worst, cand(c), 1), 1);
        t->best = best;
        t->worst = worst;
        return PP_OK;
    }
    case TOURN_KNOCKOUT: {
        source *up = malloc(sizeof(source) * (size_t)k);
        source *down = malloc(sizeof(source) * (size_t)k);
        if (!up || !down) {
            free(up);
            free(down);
            return pp_fail(err, PP_ESYS, "tournament: out of memory for a %d-candidate bracket", k);
        }
        /* first round by hand: its losers (and the bye) seed the losers' bracket */
        int nu = 0, nd = 0;
        for (int c = 0; c + 1 < k; c += 2) {
            int id = add_match(t, cand(c), cand(c + 1), 0);
            up[nu++] = (source){SRC_WINNER, id};
            down[nd++] = (source){SRC_LOSER, id};
        }
        if (k % 2) {
            up[nu++] = cand(k - 1);
            down[nd++] = cand(k - 1);
        }
        t->best = bracket(t, up, nu, 0);
        t->worst = bracket(t, down, nd, 1);
        free(up);
        free(down);
        return PP_OK;
    }
    case TOURN_ROUNDROBIN:
        for (int i = 0; i < k; i++)
            for (int j = i + 1; j < k; j++) add_match(t, cand(i), cand(j), 0);
        t->best = t->worst = cand(0); /* decided by the ranking */
        return PP_OK;
    }
    return pp_fail(err, PP_EINPUT, "tournament: unknown method %d", (int)t->method);
}

pp_status tourn_create(tourn_method method, int k, int both_orders, tourn **out, pp_err *err) {
    *out = NULL;
    if ((unsigned)method > TOURN_ROUNDROBIN)
        return pp_fail(err, PP_EINPUT, "tournament: unknown method %d", (int)method);
    if (k < 1 || k > TOURN_MAX_K)
        return pp_fail(err, PP_EINPUT, "tournament: %d candidates (must be 1..%d)", k, TOURN_MAX_K);
    tourn *t = calloc(1, sizeof *t);
    int total = tourn_matches_total(method, k);
    if (!t) return pp_fail(err, PP_ESYS, "tournament: out of memory");
    t->m = malloc(sizeof(match) * (size_t)(total > 0 ? total : 1));
    if (!t->m) {
        free(t);
        return pp_fail(err, PP_ESYS, "tournament: out of memory for %d matches", total);
    }
    t->method = method;
    t->k = k;
    t->orders = both_orders ? 2 : 1;
    pp_status st = build(t, err);
    if (st == PP_OK && t->n_matches != total)
        st = pp_fail(err, PP_ESYS, "tournament: built %d matches, expected %d", t->n_matches, total);
    if (st != PP_OK) {
        tourn_free(t);
        return st;
    }
    *out = t;
    return PP_OK;
}

void tourn_free(tourn *t) {
    if (!t) return;
    free(t->m);
    free(t);
}

/* ---- running it ---- */

/* The candidate a source stands for, or −1 while it is undecided. */
static int resolve(const tourn *t, source s) {
    switch (s.kind) {
    case SRC_CAND: return s.value;
    case SRC_WINNER: return t->m[s.value].winner;
    default: return t->m[s.value].loser;
    }
}

/* Order 0 shows (slot 0, slot 1); order 1 swaps them. */
static tourn_call call_of(const tourn *t, int id) {
    const match *m = &t->m[id / t->orders];
    int a = resolve(t, m->in[0]), b = resolve(t, m->in[1]);
    int swapped = id % t->orders == 1;
    return (tourn_call){id, swapped ? b : a, swapped ? a : b};
}

/* Every call of match m is out (taken) or answered. */
static int all_out(const tourn *t, const match *m) {
    for (int o = 0; o < t->orders; o++)
        if (m->verdict[o] < 0 && !m->taken[o]) return 0;
    return 1;
}

int tourn_take_ready(tourn *t, tourn_call *calls, int cap) {
    /* matches before scan_from have every call out already (monotone), so a
     * caller polling after each verdict does not rescan a big round robin */
    while (t->scan_from < t->n_matches && all_out(t, &t->m[t->scan_from])) t->scan_from++;
    int n = 0;
    for (int i = t->scan_from; i < t->n_matches && n < cap; i++) {
        match *m = &t->m[i];
        if (m->outcome != OUT_NONE) continue;
        if (resolve(t, m->in[0]) < 0 || resolve(t, m->in[1]) < 0) continue;
        for (int o = 0; o < t->orders && n < cap; o++) {
            if (m->verdict[o] >= 0 || m->taken[o]) continue;
            m->taken[o] = 1;
            calls[n++] = call_of(t, i * t->orders + o);
        }
    }
    return n;
}

/* All orders answered: combine them in the match's frame (see header). */
static void decide(tourn *t, match *m) {
    int sum = 0, valid = 0, for0 = 0, for1 = 0;
    for (int o = 0; o < t->orders; o++) {
        int v = m->verdict[o];
        if (v == JUDGE_FAILED) continue;
        valid++;
        int s = v == JUDGE_TIE ? 0 : ((v == JUDGE_FIRST) == (o == 0) ? 1 : -1);
        sum += s;
        for0 |= s > 0;
        for1 |= s < 0;
    }
    if (!valid) {
        m->outcome = OUT_FAILED;
    } else if (for0 && for1) { /* position flip */
        m->outcome = OUT_TIE;
        m->flip = 1;
    } else {
        m->outcome = sum > 0 ? OUT_SLOT0 : sum < 0 ? OUT_SLOT1 : OUT_TIE;
    }

    int a = resolve(t, m->in[0]), b = resolve(t, m->in[1]);
    int slot0_wins = m->outcome == OUT_SLOT0 ||
                     (m->outcome != OUT_SLOT1 && !m->loser_advances); /* tie: slot 0 advances */
    m->winner = slot0_wins ? a : b;
    m->loser = slot0_wins ? b : a;
}

pp_status tourn_submit(tourn *t, int id, int first, int second, judge_verdict v, pp_err *err) {
    int total = t->n_matches * t->orders;
    if (id < 0 || id >= total)
        return pp_fail(err, PP_EINPUT, "tournament: call id %d out of range (this tournament has %d calls)",
                       id, total);
    if ((unsigned)v > JUDGE_FAILED)
        return pp_fail(err, PP_EINPUT, "tournament: call %d: invalid verdict %d", id, (int)v);
    match *m = &t->m[id / t->orders];
    int o = id % t->orders;
    if (m->verdict[o] >= 0)
        return pp_fail(err, PP_EINPUT, "tournament: call %d already has a verdict (%s)", id,
                       judge_verdict_name((judge_verdict)m->verdict[o]));
    tourn_call c = call_of(t, id);
    if (c.first < 0 || c.second < 0)
        return pp_fail(err, PP_EINPUT, "tournament: call %d is not ready (it waits for earlier matches)", id);
    if (c.first != first || c.second != second)
        return pp_fail(err, PP_EINPUT, "tournament: call %d shows candidates %d, %d, not %d, %d", id,
                       c.first, c.second, first, second);
    m->verdict[o] = (signed char)v;
    t->answered++;
    int all = 1;
    for (int i = 0; i < t->orders; i++) all &= m->verdict[i] >= 0;
    if (all) decide(t, m);
    return PP_OK;
}

int tourn_done(const tourn *t) { return t->answered == t->n_matches * t->orders; }
int tourn_answered(const tourn *t) { return t->answered; }

/* ---- Bradley–Terry fit ---- */

static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static double sigmoid(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* Negative log posterior: w[i*k+j] = wins of i over j. */
static double bt_objective(int k, const double *w, const double *theta) {
    double f = 0;
    for (int i = 0; i < k; i++) {
        f += 0.5 * BT_PRIOR * theta[i] * theta[i];
        for (int j = 0; j < k; j++)
            if (w[i * k + j] > 0) f += w[i * k + j] * softplus(theta[j] - theta[i]);
    }
    return f;
}

/* In-place Cholesky of the SPD matrix h (lower part), then solve h x = b. */
static void cholesky_solve(int k, double *h, const double *b, double *x) {
    for (int j = 0; j < k; j++) {
        double d = h[j * k + j];
        for (int p = 0; p < j; p++) d -= h[j * k + p] * h[j * k + p];
        d = sqrt(d);
        h[j * k + j] = d;
        for (int i = j + 1; i < k; i++) {
            double s = h[i * k + j];
            for (int p = 0; p < j; p++) s -= h[i * k + p] * h[j * k + p];
            h[i * k + j] = s / d;
        }
    }
    for (int i = 0; i < k; i++) { /* L y = b */
        double s = b[i];
        for (int p = 0; p < i; p++) s -= h[i * k + p] * x[p];
        x[i] = s / h[i * k + i];
    }
    for (int i = k - 1; i >= 0; i--) { /* Lᵀ x = y */
        double s = x[i];
        for (int p = i + 1; p < k; p++) s -= h[p * k + i] * x[p];
        x[i] = s / h[i * k + i];
    }
}

/* Newton with backtracking on the strictly convex objective; theta[k] out.
 * scratch holds k*k + 3k doubles. */
static void bt_fit(int k, const double *w, double *theta, double *scratch) {
    double *h = scratch, *g = h + (size_t)k * k, *step = g + k, *trial = step + k;
    for (int i = 0; i < k; i++) theta[i] = 0;
    double f = bt_objective(k, w, theta);
    for (int it = 0; it < 100; it++) {
        for (int i = 0; i < k; i++) {
            g[i] = BT_PRIOR * theta[i];
            h[i * k + i] = BT_PRIOR;
        }
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++) {
                if (i == j) continue;
                double n = w[i * k + j] + w[j * k + i];
                double s = sigmoid(theta[i] - theta[j]);
                g[i] += n * s - w[i * k + j];
                h[i * k + i] += n * s * (1 - s);
                h[i * k + j] = -n * s * (1 - s);
            }
        cholesky_solve(k, h, g, step);
        double slope = 0, biggest = 0;
        for (int i = 0; i < k; i++) slope += g[i] * step[i];
        double t = 1, ft = f;
        for (int halvings = 0; halvings < 40; halvings++, t *= 0.5) {
            for (int i = 0; i < k; i++) trial[i] = theta[i] - t * step[i];
            ft = bt_objective(k, w, trial);
            if (ft <= f - 1e-4 * t * slope) break;
        }
        if (!(ft <= f)) break; /* no progress possible: at the optimum to rounding */
        for (int i = 0; i < k; i++) {
            biggest = fmax(biggest, fabs(trial[i] - theta[i]));
            theta[i] = trial[i];
        }
        f = ft;
        if (biggest < 1e-11) break;
    }
}

/* ---- results ---- */

typedef struct {
    double *wins, *strength;
    unsigned char *reach; /* reach[a*k+b]: a beat b directly or by a chain of wins */
    int *order;
    int best, worst;
    void *block;
} analysis;

/* a strictly above b in the implied partial order */
static int above(const analysis *an, int k, int a, int b) {
    return an->reach[a * k + b] && !an->reach[b * k + a];
}

/* Higher key first: wins (round robin only), then strength; equal -> 0. */
static int compare_keys(const analysis *an, int use_wins, int a, int b) {
    if (use_wins && an->wins[a] != an->wins[b]) return an->wins[a] > an->wins[b] ? 1 : -1;
    double d = an->strength[a] - an->strength[b];
    if (fabs(d) > STRENGTH_TOL) return d > 0 ? 1 : -1;
    return 0;
}

static pp_status analyze(const tourn *t, analysis *an, pp_err *err) {
    memset(an, 0, sizeof *an);
    if (!tourn_done(t))
        return pp_fail(err, PP_EINPUT, "tournament: not finished (%d of %d judge calls answered)",
                       t->answered, t->n_matches * t->orders);
    const int k = t->k;
    size_t kk = (size_t)k * k;
    size_t doubles = 2 * (size_t)k + kk /* w */ + kk + 3 * (size_t)k /* bt scratch */;
    an->block = malloc(doubles * sizeof(double) + (size_t)k * sizeof(int) + kk);
    if (!an->block) return pp_fail(err, PP_ESYS, "tournament: out of memory analysing %d candidates", k);
    an->wins = an->block;
    an->strength = an->wins + k;
    double *w = an->strength + k;
    double *scratch = w + kk;
    an->order = (int *)(scratch + kk + 3 * (size_t)k);
    an->reach = (unsigned char *)(an->order + k);
    memset(an->wins, 0, sizeof(double) * (size_t)k);
    memset(w, 0, sizeof(double) * kk);
    memset(an->reach, 0, kk);

    for (int i = 0; i < t->n_matches; i++) {
        const match *m = &t->m[i];
        int a = m->winner, b = m->loser;
        if (m->outcome == OUT_SLOT0 || m->outcome == OUT_SLOT1) {
            an->wins[a] += 1;
            w[a * k + b] += 1;
            an->reach[a * k + b] = 1;
        } else { /* tie or failed: half a win each; failed ones stay out of the fit */
            an->wins[a] += 0.5;
            an->wins[b] += 0.5;
            if (m->outcome == OUT_TIE) {
                w[a * k + b] += 0.5;
                w[b * k + a] += 0.5;
            }
        }
    }
    bt_fit(k, w, an->strength, scratch);
    for (int via = 0; via < k; via++) /* transitive closure (Warshall) */
        for (int a = 0; a < k; a++)
            if (an->reach[a * k + via])
                for (int b = 0; b < k; b++) an->reach[a * k + b] |= an->reach[via * k + b];

    int *order = an->order;
    if (t->method == TOURN_ROUNDROBIN) {
        for (int i = 0; i < k; i++) { /* insertion sort: wins, strength, index */
            int c = i, j = i;
            while (j > 0 && compare_keys(an, 1, c, order[j - 1]) > 0) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = c;
        }
        an->best = order[0];
        /* everyone level: no preference at all */
        an->worst = compare_keys(an, 1, order[0], order[k - 1]) == 0 ? order[0] : order[k - 1];
        return PP_OK;
    }

    an->best = resolve(t, t->best);
    an->worst = resolve(t, t->worst);
    /* placed[] reuses the bt scratch (no longer needed) */
    unsigned char *placed = (unsigned char *)scratch;
    memset(placed, 0, (size_t)k);
    int pos = 0, end = k;
    order[pos++] = an->best;
    placed[an->best] = 1;
    if (an->worst != an->best) {
        order[--end] = an->worst;
        placed[an->worst] = 1;
    }
    while (pos < end) {
        int pick = -1;
        for (int c = 0; c < k; c++) {
            if (placed[c]) continue;
            int free_to_go = 1; /* nothing unplaced stands above c */
            for (int d = 0; d < k && free_to_go; d++)
                if (!placed[d] && d != c && above(an, k, d, c)) free_to_go = 0;
            if (free_to_go && (pick < 0 || compare_keys(an, 0, c, pick) > 0)) pick = c;
        }
        order[pos++] = pick;
        placed[pick] = 1;
    }
    return PP_OK;
}

static void analysis_free(analysis *an) { free(an->block); }

pp_status tourn_summarize(const tourn *t, tourn_summary *s, pp_err *err) {
    memset(s, 0, sizeof *s);
    analysis an;
    PP_TRY(analyze(t, &an, err));
    s->k = t->k;
    s->best = an.best;
    s->worst = an.worst;
    s->matches = t->n_matches;
    s->calls = t->answered;
    for (int i = 0; i < t->n_matches; i++) {
        const match *m = &t->m[i];
        s->ties += m->outcome == OUT_TIE;
        s->flips += m->flip;
        s->failed_matches += m->outcome == OUT_FAILED;
        for (int o = 0; o < t->orders; o++) s->failures += m->verdict[o] == JUDGE_FAILED;
    }
    analysis_free(&an);
    return PP_OK;
}

pp_status tourn_ranking(const tourn *t, int *order, pp_err *err) {
    analysis an;
    PP_TRY(analyze(t, &an, err));
    memcpy(order, an.order, sizeof(int) * (size_t)t->k);
    analysis_free(&an);
    return PP_OK;
}

pp_status tourn_scores(const tourn *t, double *wins, double *strength, pp_err *err) {
    analysis an;
    PP_TRY(analyze(t, &an, err));
    if (wins) memcpy(wins, an.wins, sizeof(double) * (size_t)t->k);
    if (strength) memcpy(strength, an.strength, sizeof(double) * (size_t)t->k);
    analysis_free(&an);
    return PP_OK;
}

pp_status tourn_pairs(const tourn *t, int *better, int *worse, int cap, int *n, pp_err *err) {
    *n = 0;
    analysis an;
    PP_TRY(analyze(t, &an, err));
    const int k = t->k;
    for (int i = 0; i < k; i++)
        for (int j = i + 1; j < k; j++) {
            int a = an.order[i], b = an.order[j];
            if (!above(&an, k, a, b)) continue;
            if (*n < cap) {
                better[*n] = a;
                worse[*n] = b;
            }
            (*n)++;
        }
    analysis_free(&an);
    return PP_OK;
}

pp_status tourn_pick_rejected(const tourn *t, const tourn_reject_rule *rule, int *rejected,
                              pp_err *err) {
    *rejected = -1;
    analysis an;
    PP_TRY(analyze(t, &an, err));
    const int k = t->k;
    int r = -1;
    if (k >= 2 && an.best != an.worst) {
        switch (rule->kind) {
        case TOURN_REJECT_WORST: r = an.worst; break;
        case TOURN_REJECT_RUNNER_UP: r = an.order[1]; break;
        case TOURN_REJECT_QUANTILE: {
            long pos = lround(rule->q * (k - 1));
            if (pos < 1) pos = 1;
            if (pos > k - 1) pos = k - 1;
            r = an.order[pos];
            break;
        }
        }
    }
    /* only a pair the judge supports: best beat r, directly or by a chain */
    if (r >= 0 && r != an.best && an.reach[an.best * k + r]) *rejected = r;
    analysis_free(&an);
    return PP_OK;
}

/* ---- names ---- */

static const char *const method_names[] = {"iterative", "knockout", "roundrobin"};

const char *tourn_method_name(tourn_method method) {
    return (unsigned)method <= TOURN_ROUNDROBIN ? method_names[method] : "unknown";
}


pp_status tourn_method_parse(const char *s, const char *what, tourn_method *method, pp_err *err) {
    for (int i = 0; i <= TOURN_ROUNDROBIN; i++)
        if (s && strcmp(s, method_names[i]) == 0) {
            *method = (tourn_method)i;
            return PP_OK;
        }
    return pp_fail(err, PP_EINPUT, "%s '%s': unknown ranking method (expected iterative, knockout or roundrobin)",
                   what ? what : "method", s ? s : "(none)");
}

pp_status tourn_reject_parse(const char *s, const char *what, tourn_reject_rule *rule, pp_err *err) {
    const char *name = what ? what : "rejected";
    rule->q = 1.0;
    if (s && strcmp(s, "worst") == 0) {
        rule->kind = TOURN_REJECT_WORST;
        return PP_OK;
    }
    if (s && strcmp(s, "runner-up") == 0) {
        rule->kind = TOURN_REJECT_RUNNER_UP;
        return PP_OK;
    }
    if (s && strncmp(s, "quantile:", 9) == 0) {
        char *end;
        double q = strtod(s + 9, &end);
        if (end == s + 9 || *end != '\0' || !(q > 0 && q <= 1))
            return pp_fail(err, PP_EINPUT, "%s '%s': the quantile must be a number in (0, 1]", name, s);
        rule->kind = TOURN_REJECT_QUANTILE;
        rule->q = q;
        return PP_OK;
    }
    return pp_fail(err, PP_EINPUT, "%s '%s': unknown rule (expected worst, runner-up or quantile:Q)",
                   name, s ? s : "(none)");
}
