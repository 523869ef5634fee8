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
 * Exponentials are sample_expf (below, about 1 ulp) and sums run in SIMD
 * lanes, so a row of logits costs a few vector passes, not one libm call
 * per vocabulary entry. */
#ifndef SAMPLE_H
#define SAMPLE_H

#include <stdint.h>
#include <string.h>

#include "pp_error.h"
#include "pp_rng.h"

/* e^x to about 1 ulp for x in [-87, 88], written so that GCC vectorises a
 * loop that calls it (a loop calling expf runs one element at a time
 * without -ffast-math).  x is clamped to that range first: below it e^x is
 * under 1.7e-38, which softmax and sigmoid treat as 0, and they never go
 * above it.  x = n ln2 + r with |r| <= ln2/2, then e^r by its Taylor series
 * to r^7 (truncation error below 6e-9 relative) and 2^n built in the
 * exponent bits.  The clamp is an integer min on the bit pattern, which
 * vectorises where a float compare-and-select does not (-ftrapping-math):
 * as unsigned, negative floats order by magnitude above every positive one;
 * as signed, positive floats order by value (a NaN input therefore comes
 * out finite; callers feed finite logits).  Used by the sampler and by the
 * inference softmax and SiLU (infer.c). */
static inline float sample_expf(float x) {
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    bits = bits > 0xC2AE0000u ? 0xC2AE0000u : bits; /* -87.0f */
    int32_t sbits = (int32_t)bits;
    sbits = sbits > 0x42B00000 ? 0x42B00000 : sbits; /* 88.0f */
    memcpy(&x, &sbits, sizeof x);
    /* n = round(x / ln2): adding 1.5 * 2^23 leaves n in the low mantissa bits */
    float shifted = x * 1.44269504088896341f + 12582912.0f;
    float n = shifted - 12582912.0f;
    int32_t n_int;
    memcpy(&n_int, &shifted, sizeof n_int);
    n_int -= 0x4B400000; /* the bits of 12582912.0f */
    /* r = x - n ln2, with ln2 split so that n times the high part is exact */
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t scale_bits = (n_int + 127) << 23;
    float scale;
    memcpy(&scale, &scale_bits, sizeof scale);
    return p * scale;
}

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
pp_status sample_params_check(const sample_params *p, pp_err *err);

/* Pick a token from logits[vocab].  rng is advanced by one draw when
 * temperature > 0 and not at all when greedy.  *logprob (may be NULL)
 * receives log softmax(logits)[token]. */
int sample_token(const float *logits, int vocab, const sample_params *p, pp_rng *rng,
                 sample_candidate *scratch, float *logprob);

/* Index of the largest logit (lowest id on ties). */
int sample_argmax(const float *logits, int vocab);

/* The largest of x[0..n), n >= 1 (NaNs after x[0] are ignored), computed
 * in independent lanes so the loop is not one chain of dependent maxima. */
float sample_max(const float *x, int n);

/* log softmax(logits)[token], computed stably (max-shifted, sample_expf,
 * double sum). */
float sample_logprob(const float *logits, int vocab, int token);

#endif
