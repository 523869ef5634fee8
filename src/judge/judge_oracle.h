/* judge_oracle.h - the oracle judge: decides a match between two
 * completions from their true task scores (tasks_score), with two
 * emulated imperfections of an LLM judge.
 *
 * A match shows the judge a prompt and two completions in an order
 * (first, second).  The verdict is made in three steps:
 *   1. truth: FIRST if score_first > score_second, SECOND if lower, TIE if
 *      equal;
 *   2. position bias: when |score_first - score_second| < close_threshold
 *      (equal scores included when the threshold is > 0), with probability position_bias the verdict
 *      becomes FIRST, whatever step 1 said;
 *   3. noise: with probability noise FIRST and SECOND swap (a TIE stays a
 *      TIE: noise models a judge that misreads which answer is better, and
 *      there is no better one to misread).
 * Two uniforms are drawn for every match, in that order, from
 * pp_rng_stream(seed, match_id, ORACLE_STREAM + order), so a verdict is a
 * pure function of (seed, match id, order, texts) whichever rank asks.
 * `order` is the caller's label of the presentation (e.g. 0 = as listed,
 * 1 = swapped, for --both-orders), so the two orders of a match get
 * independent draws. */
#ifndef JUDGE_ORACLE_H
#define JUDGE_ORACLE_H

#include <stdint.h>

#include "core/pp_error.h"
#include "judge/judge.h"
#include "suite/tasks.h"

#define ORACLE_STREAM 0x0A4C0000u
#define ORACLE_DEFAULT_CLOSE 0.25

typedef struct {
    double noise;           /* probability of swapping FIRST/SECOND */
    double position_bias;   /* probability of answering FIRST on a close pair */
    double close_threshold; /* |score difference| below which a pair is close */
    uint64_t seed;
} oracle_judge;

typedef struct {
    judge_verdict verdict;
    judge_verdict truth;   /* step 1's verdict, before bias and noise */
    double score_first, score_second;
    int biased;             /* 1: position bias fired */
    int flipped;            /* 1: noise swapped the verdict */
} oracle_result;

/* Checks noise and position_bias in [0, 1] and close_threshold >= 0
 * (finite); the message names the offending option. */
PP_MUST_CHECK pp_status oracle_judge_init(oracle_judge *j, double noise, double position_bias,
                            double close_threshold, uint64_t seed, pp_err *err);

/* Judge one match: `first` and `second` are the completions in the order
 * shown; family, prompt and reference describe the task. */
oracle_result oracle_judge_match(const oracle_judge *j, task_family family, const char *prompt,
                                 const char *reference, const char *first, const char *second,
                                 uint64_t match_id, uint64_t order);

/* The judge's table for judge.h ("oracle").  Pairwise: oracle_judge_match
 * with the family of judge_match parsed per match.  Pointwise (pp-rank
 * --method score): a candidate's score is its true task score, plus
 * noise * N(0,1) drawn from pp_rng_stream(seed, prompt id * 65536 + j,
 * ORACLE_SCORE_STREAM) when --judge-noise (a standard deviation there) is
 * above 0. */
#define ORACLE_SCORE_STREAM 0x5C0E0000u
extern const judge_ops judge_oracle_ops;

#endif
