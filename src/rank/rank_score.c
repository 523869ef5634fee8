/* rank_score.c - pp-rank --method score: every candidate gets a scalar from
 * a pointwise judge (judge.h `score`), prompts split in blocks over the
 * ranks and the scores gathered on rank 0, which ranks each prompt's
 * candidates by score.  A score depends only on (judge, prompt,
 * candidate), so the pairs do not depend on the rank count.  A candidate
 * the judge could not score (an external scorer that failed every retry)
 * has score NAN and takes no part in its prompt's pairs. */
#include <math.h>
#include <stdlib.h>

#include "core/pp_mpi.h"
#include "rank/rank_engine.h"

pp_status rank_score(const rank_options *o, const candidate_set *c, MPI_Comm comm, pairs_set *out, rank_report *rep,
                     pp_err *err) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    const int64_t np = c->n_prompts, k = c->k;
    double t0 = pp_now();
    judge_handle j;
    judge_config cfg = {.cli = &o->j, .pointwise = 1, .rm_path = o->rm_path, .rm_model_path = o->rm_model_path,
                        .tokenizer = c->tokenizer, .vocab_size = c->vocab_size};
    if (pp_agree(comm, judge_start(&j, o->judge, &cfg, err), err) != PP_OK) {
        judge_stop(&j);
        return err->status;
    }
    if (np * k > INT32_MAX) {
        judge_stop(&j);
        return pp_fail(err, PP_EINPUT, "%lld candidates: --method score takes at most %d", (long long)(np * k),
                       INT32_MAX);
    }
    /* prompts in blocks over the ranks, the scores gathered on rank 0 */
    int64_t lo = np * rank / size, hi = np * (rank + 1) / size;
    double *mine = malloc((size_t)((hi - lo) * k > 0 ? (hi - lo) * k : 1) * sizeof *mine);
    double *all = rank == 0 ? malloc((size_t)(np * k > 0 ? np * k : 1) * sizeof *all) : NULL;
    int *counts = malloc((size_t)size * sizeof *counts), *displs = malloc((size_t)size * sizeof *displs);
    pp_status st = PP_OK;
    if (!mine || (rank == 0 && !all) || !counts || !displs) st = pp_fail(err, PP_ESYS, "out of memory");
    for (int64_t p = lo; st == PP_OK && p < hi; p++) st = judge_score(&j, c, p, &mine[(p - lo) * k], err);
    /* a NAN is a call the judge could not answer (counted in its failures);
     * any other non-finite score, or more NANs than failures, is a bug */
    judge_counters jc;
    judge_get_counters(&j, &jc);
    long unanswered = 0;
    for (int64_t i = 0; st == PP_OK && i < (hi - lo) * k; i++) {
        if (isnan(mine[i]) && ++unanswered <= jc.failures) continue;
        if (!isfinite(mine[i]))
            st = pp_fail(err, PP_ESYS, "scorer %s gave a non-finite score to candidate %lld of prompt row %lld",
                         j.ops->name, (long long)(i % k), (long long)(lo + i / k));
    }
    st = pp_agree(comm, st, err);
    /* the judges' fault counters, summed over the ranks (the pairwise
     * methods sum them from the match log) */
    double mine_faults[5] = {(double)jc.timeouts, (double)jc.crashes, (double)jc.bad_answers, (double)jc.restarts,
                             jc.seconds},
           faults[5] = {0};
    if (st == PP_OK) MPI_Reduce(mine_faults, faults, 5, MPI_DOUBLE, MPI_SUM, 0, comm);
    if (st == PP_OK) {
        for (int r = 0; r < size; r++) {
            counts[r] = (int)((np * (r + 1) / size - np * r / size) * k);
            displs[r] = (int)(np * r / size * k);
        }
        MPI_Gatherv(mine, (int)((hi - lo) * k), MPI_DOUBLE, all, counts, displs, MPI_DOUBLE, 0, comm);
    }
    if (st == PP_OK && rank == 0) {
        rank_results r;
        st = results_from_scores(o, all, np, (int)k, &r, err);
        if (st == PP_OK) {
            st = build_pairs(o, &j, c, &r, NULL, 0, out, err);
            results_free(&r);
            out->timeouts = (int64_t)faults[0];
            out->crashes = (int64_t)faults[1];
            out->bad_answers = (int64_t)faults[2];
            out->restarts = (int64_t)faults[3];
            out->judge_seconds = faults[4];
        }
        rep->calls_total = rep->calls_judged = np * k;
    }
    rep->seconds = pp_now() - t0;
    free(mine);
    free(all);
    free(counts);
    free(displs);
    judge_stop(&j);
    return pp_agree(comm, st, err);
}
