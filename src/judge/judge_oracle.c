/* judge_oracle.c - verdicts from true task scores, with emulated noise and
 * position bias (see judge_oracle.h for the exact rule). */
#include "judge/judge_oracle.h"

#include <math.h>
#include <stdlib.h>

#include "judge/judge_cli.h"

pp_status oracle_judge_init(oracle_judge *j, double noise, double position_bias,
                            double close_threshold, uint64_t seed, pp_err *err) {
    if (!(noise >= 0.0 && noise <= 1.0))
        return pp_fail(err, PP_EINPUT, "oracle judge: --judge-noise %g is not in [0, 1]", noise);
    if (!(position_bias >= 0.0 && position_bias <= 1.0))
        return pp_fail(err, PP_EINPUT, "oracle judge: --judge-position-bias %g is not in [0, 1]",
                       position_bias);
    if (!(close_threshold >= 0.0 && isfinite(close_threshold)))
        return pp_fail(err, PP_EINPUT, "oracle judge: close threshold %g is not a finite number >= 0",
                       close_threshold);
    j->noise = noise;
    j->position_bias = position_bias;
    j->close_threshold = close_threshold;
    j->seed = seed;
    return PP_OK;
}

oracle_result oracle_judge_match(const oracle_judge *j, task_family family, const char *prompt,
                                 const char *reference, const char *first, const char *second,
                                 uint64_t match_id, uint64_t order) {
    oracle_result res = {0};
    res.score_first = tasks_score(family, prompt, reference, first);
    res.score_second = tasks_score(family, prompt, reference, second);
    double diff = res.score_first - res.score_second;
    res.truth = diff > 0 ? JUDGE_FIRST : diff < 0 ? JUDGE_SECOND : JUDGE_TIE;
    res.verdict = res.truth;

    /* always two draws, in this order, so every match uses its stream alike */
    pp_rng r = pp_rng_stream(j->seed, match_id, ORACLE_STREAM + order);
    double u_bias = pp_rng_uniform(&r);
    double u_noise = pp_rng_uniform(&r);

    if (fabs(diff) < j->close_threshold && u_bias < j->position_bias) {
        res.biased = 1;
        res.verdict = JUDGE_FIRST;
    }
    if (res.verdict != JUDGE_TIE && u_noise < j->noise) {
        res.flipped = 1;
        res.verdict = res.verdict == JUDGE_FIRST ? JUDGE_SECOND : JUDGE_FIRST;
    }
    return res;
}


/* ------------------------------------------------------- judge.h table */

#define SCORE_ID_STRIDE 65536 /* prompt id * stride + candidate: one stream each */

typedef struct {
    oracle_judge j;
    judge_counters n;
} oracle_state;

static pp_status oracle_start(void **ctx, const judge_config *cfg, pp_err *err) {
    const judge_cli *cli = cfg->cli;
    oracle_state *o = calloc(1, sizeof *o);
    if (!o) return pp_fail(err, PP_ESYS, "out of memory");
    pp_status st = PP_OK;
    if (cfg->pointwise) { /* noise is a standard deviation; bias and closeness do not apply */
        if (!(cli->noise >= 0) || !isfinite(cli->noise))
            st = pp_fail(err, PP_EINPUT, "--judge-noise must be >= 0 with --method score, got %g", cli->noise);
        o->j = (oracle_judge){cli->noise, cli->position_bias, cli->close, (uint64_t)cli->seed};
    } else {
        st = oracle_judge_init(&o->j, cli->noise, cli->position_bias, cli->close, (uint64_t)cli->seed, err);
    }
    if (st != PP_OK) {
        free(o);
        return st;
    }
    *ctx = o;
    return PP_OK;
}

static pp_status oracle_match(void *ctx, const judge_match *m, int n, judge_verdict *out, pp_err *err) {
    oracle_state *o = ctx;
    for (int i = 0; i < n; i++) {
        task_family f;
        PP_TRY(tasks_family_from_name(m[i].family, &f, err));
        out[i] = oracle_judge_match(&o->j, f, m[i].prompt, m[i].reference, m[i].first, m[i].second, m[i].match_id,
                                    m[i].order).verdict;
        o->n.calls++, o->n.ok++, o->n.attempts++;
    }
    return PP_OK;
}

static pp_status oracle_score(void *ctx, const candidate_set *c, int64_t p, double *scores, pp_err *err) {
    const oracle_state *o = ctx;
    task_family f;
    if (!c->family || !c->reference || !c->family[p] || !c->family[p][0] || !c->reference[p])
        return pp_fail(err, PP_EINPUT,
                       "--judge oracle needs the task family and reference of every prompt (builtin suite); prompt "
                       "row %lld (id %lld) has none",
                       (long long)p, (long long)c->prompt_id[p]);
    PP_TRY(tasks_family_from_name(c->family[p], &f, err));
    for (int64_t j = 0; j < c->k; j++) {
        scores[j] = tasks_score(f, c->prompt_text[p], c->reference[p], c->candidate_text[p * c->k + j]);
        if (o->j.noise > 0) {
            pp_rng r = pp_rng_stream(o->j.seed, (uint64_t)c->prompt_id[p] * SCORE_ID_STRIDE + (uint64_t)j,
                                     ORACLE_SCORE_STREAM);
            scores[j] += o->j.noise * pp_rng_normal(&r);
        }
    }
    return PP_OK;
}

static void oracle_counters(const void *ctx, judge_counters *out) { *out = ((const oracle_state *)ctx)->n; }

static void oracle_describe(const void *ctx, pairs_set *s) {
    const oracle_state *o = ctx;
    s->has_oracle_params = 1;
    s->judge_noise = o->j.noise;
    s->judge_position_bias = o->j.position_bias;
    s->judge_close_threshold = o->j.close_threshold;
    s->judge_seed = (int64_t)o->j.seed;
}

static void oracle_stop(void *ctx) { free(ctx); }

const judge_ops judge_oracle_ops = {"oracle",        1,          oracle_start,    oracle_match, oracle_score,
                                    oracle_counters, NULL,       oracle_describe, oracle_stop, NULL};
