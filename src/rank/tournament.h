/* tournament.h - ranking K candidates with a pairwise judge, as a resumable
 * state machine that can be driven from anywhere.
 *
 * The caller loops:
 *     tourn_take_ready()  -> judge calls whose candidates are known now
 *     (judge them anywhere: any MPI rank, any order)
 *     tourn_submit()      -> feed each verdict back, by call id
 * until tourn_done(); then reads the summary, ranking, pairs.
 *
 * Structure.  A tournament is a fixed set of matches built from (method, K)
 * alone.  Each match has two slots; a slot holds a candidate, or the winner or
 * the loser of an earlier match, so a match becomes ready the moment both of
 * its inputs are decided (no round barriers).  Match and call ids are fixed
 * by the structure, never by the order verdicts arrive, so
 *     state = f(method, K, both_orders, set of (call id, verdict))
 * and a run is resumed by replaying its logged verdicts (in log order) into a
 * fresh tournament: the result is identical to an uninterrupted run, whatever
 * order the verdicts came in.  Call id = match * orders + order, where
 * orders = 2 with both_orders (order 1 shows the two slots swapped), else 1.
 *
 * Methods (matches for K candidates; judge calls = matches × orders):
 *   iterative   king of the hill (the paper's).  Best chain: best = c0; for
 *               k = 1..K−1 the current best meets c_k, the winner stays.
 *               Worst chain, independent and run concurrently: the loser stays.
 *               2(K−1) matches.  Slot 0 (shown first) is the incumbent.
 *   knockout    winners' bracket: each round pairs the survivors in index
 *               order, (s0,s1), (s2,s3), ...; with an odd count the last one
 *               gets a bye.  K−1 matches give the best.  Losers' bracket for
 *               the worst: the first-round losers plus the first-round bye
 *               (K odd) — ⌈K/2⌉ candidates, a superset of the possible worst —
 *               play a bracket where the loser advances: ⌈K/2⌉−1 matches.
 *               Total ⌈3K/2⌉ − 2 (K=8: 7+3 = 10; K=5: 4+2 = 6; K=1: 0).
 *               Losers'-bracket matches start as soon as their two inputs
 *               are known, in parallel with later winners' rounds.
 *   roundrobin  every pair (i, j), i < j, once: K(K−1)/2 matches.
 *
 * Verdicts (judge/judge.h): JUDGE_FIRST / JUDGE_SECOND = the candidate shown first / second
 * is better, JUDGE_TIE, JUDGE_FAILED = the judge could not answer.
 * Both orders: the two verdicts are put in the match's frame (+1 slot 0,
 * −1 slot 1, 0 tie; FAILED ones ignored) and summed: opposite winners are a
 * position flip -> tie (counted in flips and ties); a winner plus a tie ->
 * that winner; one FAILED -> the other verdict decides; both FAILED -> failed.
 * Tie rule: a tied or failed match lets slot 0 advance — in iterative the
 * incumbent stays, in knockout the lower index (slots are always in index
 * order) — as winner in the best chain/winners' bracket and as loser in the
 * worst chain/losers' bracket.  Failed matches count as ties for ranking
 * purposes but are counted in failed_matches, not in ties.
 *
 * Ranking (order[0] best ... order[K−1] worst):
 *   roundrobin  by wins (win 1, tie or failed ½), ties in wins broken by the
 *               Bradley–Terry strength, then by lower index.  Note: in a
 *               complete round robin the wins are a sufficient statistic, so
 *               the BT fit separates equal wins only when failed matches
 *               (left out of the fit) unbalance the design.
 *   iterative, knockout
 *               the method's best first, its worst last; the middle follows
 *               what the matches determine: a is placed before b when a beat
 *               b directly or through a chain of wins and no chain leads back
 *               from b to a; where that leaves a choice, higher BT strength,
 *               then lower index.
 * BT strengths: Newton fit of log-strengths on all decided matches (a tie is
 * half a win each way, failed matches are left out) with a Gaussian prior of
 * precision 0.1 so the fit is defined when someone never loses.
 * best == worst means the judge expressed no usable preference (e.g. all
 * ties): iterative with a tie in both chains, or a round robin in which every
 * candidate has equal wins and strength.  Then no pair should be made. */
#ifndef TOURNAMENT_H
#define TOURNAMENT_H

#include "core/pp_error.h"
#include "judge/judge.h"

#define TOURN_MAX_K 256

typedef enum { TOURN_ITERATIVE, TOURN_KNOCKOUT, TOURN_ROUNDROBIN } tourn_method;

typedef struct tourn tourn; /* opaque */

/* One judge call: is `first` or `second` better?  Show them in that order. */
typedef struct {
    int id;     /* stable call id: log it, and pass it back to tourn_submit */
    int first;  /* candidate shown first ("a") */
    int second; /* candidate shown second ("b") */
} tourn_call;

typedef struct {
    int k;
    int best, worst;     /* candidate indices (equal when no preference) */
    int matches;         /* matches played */
    int calls;           /* judge calls answered, failed ones included */
    int ties;            /* matches decided as a tie (judge tie or position flip) */
    int flips;           /* both-orders matches whose orders named opposite winners */
    int failures;        /* judge calls answered FAILED */
    int failed_matches;  /* matches with no usable verdict (treated as ties) */
} tourn_summary;

typedef enum { TOURN_REJECT_WORST, TOURN_REJECT_RUNNER_UP, TOURN_REJECT_QUANTILE } tourn_reject_kind;
typedef struct {
    tourn_reject_kind kind;
    double q; /* quantile in (0, 1]: 1 = worst */
} tourn_reject_rule;

/* Exact sizes, known before any judging (for logs and progress). */
int tourn_matches_total(tourn_method method, int k);
int tourn_calls_total(tourn_method method, int k, int both_orders);

/* 1 <= k <= TOURN_MAX_K.  Free with tourn_free (NULL is fine). */
PP_MUST_CHECK pp_status tourn_create(tourn_method method, int k, int both_orders, tourn **out, pp_err *err);
void tourn_free(tourn *t);

/* Writes up to cap calls that are ready and not yet taken, in id order,
 * marks them taken, and returns how many it wrote.  Taken calls are not
 * returned again (a fresh tournament replayed from a log returns every call
 * without a verdict).  Returns 0 when everything ready is already out. */
int tourn_take_ready(tourn *t, tourn_call *calls, int cap);

/* Record the verdict of call `id`.  first/second must be the candidates the
 * call showed (checks a replayed log).  PP_EINPUT for an unknown id, a call
 * whose inputs are not decided yet, a second verdict for the same call, or a
 * mismatch; the state is unchanged then. */
PP_MUST_CHECK pp_status tourn_submit(tourn *t, int id, int first, int second, judge_verdict v, pp_err *err);

int tourn_done(const tourn *t);     /* every call answered */
int tourn_answered(const tourn *t); /* calls answered so far */

/* Results; PP_EINPUT if the tournament is not done, PP_ESYS if out of memory. */
PP_MUST_CHECK pp_status tourn_summarize(const tourn *t, tourn_summary *s, pp_err *err);
/* order[k]: candidate indices, best first. */
PP_MUST_CHECK pp_status tourn_ranking(const tourn *t, int *order, pp_err *err);
/* wins[k] (win 1, tie/failed ½) and strength[k] (BT log-strength); either may be NULL. */
PP_MUST_CHECK pp_status tourn_scores(const tourn *t, double *wins, double *strength, pp_err *err);
/* `--pairs all`: every (better, worse) pair the judged matches imply — better
 * beat worse directly or by a chain of wins, no chain leads back, and the
 * ranking agrees — ordered by the ranking position of better, then of worse.
 * *n = number of such pairs (at most k(k−1)/2); the first min(*n, cap) are
 * written. */
PP_MUST_CHECK pp_status tourn_pairs(const tourn *t, int *better, int *worse, int cap, int *n, pp_err *err);
/* The rejected candidate for the pair (best, rejected) under `rule`:
 * worst -> the method's worst; runner-up -> order[1]; quantile:Q ->
 * order[round(Q·(K−1))], at least position 1.  *rejected = −1 when there is
 * no pair to make: K = 1, best == worst, or the judged matches do not show
 * best beating that candidate directly or through a chain of wins (e.g. it
 * only ever tied).  With decisive verdicts the iterative and knockout best
 * beats everyone by such a chain, so `worst` always yields a pair then. */
PP_MUST_CHECK pp_status tourn_pick_rejected(const tourn *t, const tourn_reject_rule *rule, int *rejected,
                              pp_err *err);

/* Option strings: iterative|knockout|roundrobin; worst|runner-up|quantile:Q. */
PP_MUST_CHECK pp_status tourn_method_parse(const char *s, const char *what, tourn_method *method, pp_err *err);
PP_MUST_CHECK pp_status tourn_reject_parse(const char *s, const char *what, tourn_reject_rule *rule, pp_err *err);
const char *tourn_method_name(tourn_method method);

#endif
