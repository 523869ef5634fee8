/* judge_oracle.c - verdicts from true task scores, with emulated noise and
 * position bias (see judge_oracle.h for the exact rule). */
#include "judge/judge_oracle.h"

#include <math.h>

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
    res.truth = diff > 0 ? ORACLE_FIRST : diff < 0 ? ORACLE_SECOND : ORACLE_TIE;
    res.verdict = res.truth;

    /* always two draws, in this order, so every match uses its stream alike */
    pp_rng r = pp_rng_stream(j->seed, match_id, ORACLE_STREAM + order);
    double u_bias = pp_rng_uniform(&r);
    double u_noise = pp_rng_uniform(&r);

    if (fabs(diff) < j->close_threshold && u_bias < j->position_bias) {
        res.biased = 1;
        res.verdict = ORACLE_FIRST;
    }
    if (res.verdict != ORACLE_TIE && u_noise < j->noise) {
        res.flipped = 1;
        res.verdict = res.verdict == ORACLE_FIRST ? ORACLE_SECOND : ORACLE_FIRST;
    }
    return res;
}

const char *oracle_verdict_name(oracle_verdict v) {
    switch (v) {
    case ORACLE_FIRST: return "first";
    case ORACLE_SECOND: return "second";
    case ORACLE_TIE: return "tie";
    }
    return "?";
}
