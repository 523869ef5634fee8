/* rank.c - the ranking engine's entry (rank.h): defaults, the choice
 * between the pairwise pool (rank_pool.c) and pointwise scoring
 * (rank_score.c), and the end of the parts directory. */
#include "rank/rank.h"

#include <stdio.h>
#include <string.h>

#include "rank/rank_engine.h"

void rank_options_default(rank_options *o) {
    memset(o, 0, sizeof *o);
    o->method = TOURN_ITERATIVE;
    o->judge = "oracle";
    o->rejected.kind = TOURN_REJECT_WORST;
    o->rejected.q = 1.0;
    snprintf(o->rejected_text, sizeof o->rejected_text, "worst");
    judge_cli_defaults(&o->j);
    o->queue_depth = 3;
}

pp_status rank_run(const rank_options *o, const candidate_set *c, const pp_log *log, MPI_Comm comm,
                   pairs_set *out, rank_report *report, pp_err *err) {
    memset(out, 0, sizeof *out);
    memset(report, 0, sizeof *report);
    report->parts.lock.fd = -1;
    if (c->k < 1 || c->n_prompts < 1)
        return pp_fail(err, PP_EINPUT, "the candidate set is empty (%lld prompts, k = %lld)", (long long)c->n_prompts,
                       (long long)c->k);
    /* the judge must do what the method asks (judge.h) */
    const judge_ops *ops = judge_find(o->judge);
    if (!ops) return pp_fail(err, PP_EINPUT, "unknown judge '%s'", o->judge ? o->judge : "");
    if (!o->score_method && !ops->match)
        return pp_fail(err, PP_EINPUT, "--judge %s scores candidates one by one: use it with --method score", o->judge);
    if (o->score_method && !ops->score)
        return pp_fail(err, PP_EINPUT, "--method score needs a pointwise judge, not a pairwise --judge %s", o->judge);
    if (o->score_method) return rank_score(o, c, comm, out, report, err);
    return rank_pairwise(o, c, log, comm, out, report, err);
}

void rank_end(rank_report *rep, int committed, const char *out, const pairs_set *ps, const pp_log *log) {
    if (rep->parts.lock.fd >= 0) {
        if (committed) pp_parts_remove(&rep->parts, log);
        else pp_parts_close(&rep->parts);
    }
    if (!committed) return;
    pp_info(log, "wrote %s: %lld pairs from %lld prompts (%lld without a pair); %lld judge calls (%lld replayed), "
            "%lld ties, %lld flips, %lld failures, %lld timeouts, %lld restarts, %lld bad answers; %.1fs",
            out, (long long)ps->n_pairs, (long long)ps->n_prompts, (long long)ps->prompts_without_pair,
            (long long)ps->judge_calls_total, (long long)rep->calls_replayed, (long long)ps->ties_total,
            (long long)ps->flips, (long long)ps->failures_total, (long long)ps->timeouts, (long long)ps->restarts,
            (long long)ps->bad_answers, rep->seconds);
    if (ps->has_truth)
        pp_info(log, "agreement with the task scorer over %lld prompts: best %.3f, worst %.3f, both %.3f; "
                "pairs ordered right %.3f, mean true gap %.3f",
                (long long)ps->truth_prompts, ps->truth_best_rate, ps->truth_worst_rate, ps->truth_agreement,
                ps->truth_pair_accuracy, ps->truth_mean_gap);
}
