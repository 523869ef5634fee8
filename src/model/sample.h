/* sample.h - choosing the next token from a row of logits.
 *
 * Temperature 0 is greedy (argmax, lowest id on ties, no random draw).
 * Otherwise the logits are divided by the temperature, softmaxed, cut to
 * the top_k most likely tokens (top_k <= 0: no cut), then to the smallest
 * most-likely set whose probability reaches top_p (top_p >= 1: no cut), and
 * one uniform draw of the caller's pp_rng stream picks a token from what is
 * left, renormalised.
 *
 * The log-prob returned with the token is always under the UNMODIFIED model
 * distribution (softmax of the raw logits at temperature 1), which is what
 * DPO and the reports use, whatever temperature/top-k/top-p sampled it.
 *
 * Exponentials are fast_expf (fastmath.h) and sums run in SIMD
 * lanes, so a row of logits costs a few vector passes, not one libm call
 * per vocabulary entry. */
#ifndef SAMPLE_H
#define SAMPLE_H

#include <stdint.h>
#include <string.h>

#include "core/pp_error.h"
#include "core/pp_rng.h"

typedef struct {
    float temperature; /* 0 = greedy */
    int top_k;         /* <= 0: off */
    float top_p;       /* in (0, 1]; 1 = off */
} sample_params;

/* Scratch for one call: vocab_size entries, owned by the caller and reused
 * across calls (no allocation per token). */
typedef struct {
    float prob;
    int id;
} sample_candidate;

/* Reject temperature < 0 or non-finite, top_p outside (0, 1]. */
PP_MUST_CHECK pp_status sample_params_check(const sample_params *p, pp_err *err);

/* Pick a token from logits[vocab].  rng is advanced by one draw when
 * temperature > 0 and not at all when greedy.  *logprob (may be NULL)
 * receives log softmax(logits)[token]. */
int sample_token(const float *logits, int vocab, const sample_params *p, pp_rng *rng,
                 sample_candidate *scratch, float *logprob);

/* Index of the largest logit (lowest id on ties). */
int sample_argmax(const float *logits, int vocab);

/* log softmax(logits)[token], computed stably (max-shifted, fast_expf,
 * double sum). */
float sample_logprob(const float *logits, int vocab, int token);
/* The same log-prob, and *lse (may be NULL) = log sum exp(logits) in
 * float, what a backward pass needs for the softmax.  The training forward
 * (model_train.c) and the scorer (score.h) take a token's log-prob from
 * here, so it has the sampler's bits. */
float sample_logprob_lse(const float *logits, int vocab, int token, float *lse);

#endif
