/* rank.c - the ranking engine's entry (rank.h): defaults, the choice
 * between the pairwise pool (rank_pool.c) and pointwise scoring
 * (rank_score.c), and the end of the parts directory. */
#include "rank/rank.h"

#include <stdio.h>
#include <string.h>

#include "core/pp_file.h"
#include "core/pp_mpi.h"
#include "judge/judge.h"
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

/* Combinations that make no sense, refused before any work. */
static pp_status check_combination(const rank_options *o, pp_err *err) {
    int is_rm = !strcmp(o->judge, "rm");
    PP_TRY(judge_cli_check(&o->j, o->judge, o->score_method, err));
    if (is_rm && !o->score_method)
        return pp_fail(err, PP_EINPUT, "--judge rm scores candidates one by one: use it with --method score");
    if (is_rm && !o->rm_path) return pp_fail(err, PP_EINPUT, "--judge rm needs --rm RM.h5");
    if (!is_rm && (o->rm_path || o->rm_model_path))
        return pp_fail(err, PP_EINPUT, "--rm and --rm-model are only used with --judge rm");
    if (o->score_method && (o->both_orders || o->j.position_bias > 0))
        return pp_fail(err, PP_EINPUT, "--both-orders and --judge-position-bias apply to pairwise methods, not --method score");
    return PP_OK;
}

/* The estimate per rank, before the candidates and the judge are loaded:
 * the candidates file every rank reads, the pairs made of them, and the
 * judge's model and workspace (judge_estimate_bytes).  Collective. */
static pp_status memory_check(const rank_options *o, MPI_Comm comm, const pp_log *log, pp_err *err) {
    judge_config cfg = {.cli = &o->j, .rm_path = o->rm_path, .rm_model_path = o->rm_model_path};
    double judge = 0;
    PP_TRY(pp_agree(comm, judge_estimate_bytes(o->judge, &cfg, &judge, err), err));
    double file = pp_file_bytes(o->candidates_path);
    pp_memory_part parts[] = {{"candidates", file},
                              {"pairs", file},
                              {"judge", judge},
                              {"runtime", PP_MEMORY_RUNTIME_BYTES}};
    return pp_memory_check(o->mem, o->max_memory, parts, 4, comm, log, err);
}

pp_status rank_file(rank_options *o, const rank_file_options *f, const pp_log *log, MPI_Comm comm, pp_err *err) {
    int rank;
    MPI_Comm_rank(comm, &rank);
    o->score_method = strcmp(f->method, "score") == 0;
    pp_status st = o->score_method ? PP_OK : tourn_method_parse(f->method, "--method", &o->method, err);
    if (st == PP_OK) st = tourn_reject_parse(f->rejected, "--rejected", &o->rejected, err);
    snprintf(o->rejected_text, sizeof o->rejected_text, "%s", f->rejected);
    char parts[PP_PATH_MAX];
    snprintf(parts, sizeof parts, "%s.parts", o->out_path);
    o->parts_dir = parts;
    if (st == PP_OK) st = check_combination(o, err);
    /* the model judge's position bias is cancelled by design: every match
     * is asked in both orders */
    if (st == PP_OK && !strcmp(o->judge, "model")) o->both_orders = 1;

    pp_input inputs[3] = {{"candidates", o->candidates_path}};
    int n_inputs = 1;
    if (o->rm_path) inputs[n_inputs++] = (pp_input){"rm", o->rm_path};
    if (o->j.model_path) inputs[n_inputs++] = (pp_input){"judge_model", o->j.model_path};
    if (st == PP_OK) st = pp_check_output(o->out_path, inputs, n_inputs, err);
    if (st == PP_OK && f->jsonl) st = pp_check_output(f->jsonl, inputs, n_inputs, err);
    if (st == PP_OK && f->jsonl && !strcmp(f->jsonl, o->out_path))
        st = pp_fail(err, PP_EINPUT, "--jsonl and --out name the same file");
    st = pp_agree(comm, st, err);

    if (st == PP_OK) st = memory_check(o, comm, log, err);
    candidate_set cs = {0};
    if (st == PP_OK) st = pp_agree(comm, candidates_load(&cs, o->candidates_path, err), err);
    if (st == PP_OK) {
        int size;
        MPI_Comm_size(comm, &size);
        pp_info(log, "%s: %lld prompts x %lld candidates; method %s, judge %s%s, %d rank(s)", o->candidates_path,
                (long long)cs.n_prompts, (long long)cs.k, f->method, o->judge, o->both_orders ? ", both orders" : "",
                size);
    }
    pairs_set ps = {0};
    rank_report rep = {.parts.lock.fd = -1};
    if (st == PP_OK) st = rank_run(o, &cs, log, comm, &ps, &rep, err);
    if (st == PP_OK) {
        pp_provenance prov = {"pp-rank", f->arguments, inputs, n_inputs};
        st = pairs_write(&ps, o->out_path, comm, &prov, err);
    }
    if (st == PP_OK && f->jsonl && rank == 0) st = pairs_write_jsonl(&ps, f->jsonl, err);
    st = pp_agree(comm, st, err);
    if (rank == 0) rank_end(&rep, st == PP_OK, o->out_path, &ps, log);
    o->parts_dir = NULL; /* it pointed into this frame */
    pairs_free(&ps);
    candidates_free(&cs);
    return st;
}
