/* sample.c - temperature / top-k / top-p sampling (see sample.h). */
#include "model/sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/fastmath.h"

/* static functions pass vectors by value: see fastmath.h on -Wpsabi */
#pragma GCC diagnostic ignored "-Wpsabi"

pp_status sample_params_check(const sample_params *p, pp_err *err) {
    if (!(p->temperature >= 0.0f) || !isfinite(p->temperature))
        return pp_fail(err, PP_EINPUT, "sampling: temperature %g must be a finite number >= 0",
                       (double)p->temperature);
    if (!(p->top_p > 0.0f && p->top_p <= 1.0f))
        return pp_fail(err, PP_EINPUT, "sampling: top_p %g must be in (0, 1]", (double)p->top_p);
    return PP_OK;
}

int sample_argmax(const float *logits, int vocab) {
    float best = fast_max(logits, vocab);
    for (int i = 0; i < vocab; i++)
        if (logits[i] == best) return i;
    return 0; /* logits[0] is NaN */
}

/* The tempered probability of logit x before normalisation:
 * e^((x - max) / temperature).  At temperature 1 the division is left out:
 * x / 1.0f is x exactly, so the bits are the same and a divide per
 * vocabulary entry is saved. */
static inline float tempered(float x, float max, float temperature) {
    float z = x - max;
    return fast_expf(temperature == 1.0f ? z : z / temperature);
}

/* The same for FAST_LANES logits from x, as two vectors of doubles (the
 * conversion is exact): lo the first FAST_LANES_F64, hi the rest. */
typedef double vec_f64 __attribute__((vector_size(FAST_LANES_F64 * sizeof(double))));
typedef float vec_f32_half __attribute__((vector_size(FAST_LANES_F64 * sizeof(float))));
_Static_assert(FAST_LANES == 2 * FAST_LANES_F64, "a float vector is two vectors of doubles");

static inline __attribute__((always_inline)) void tempered_f64(const float *x, float max, float temperature,
                                                               vec_f64 *lo, vec_f64 *hi) {
    fast_vec z = fast_load(x) - max;
    if (temperature != 1.0f) z = z / temperature;
    fast_vec e = fast_expf_lanes(z);
    vec_f32_half half[2];
    memcpy(half, &e, sizeof half);
    *lo = __builtin_convertvector(half[0], vec_f64);
    *hi = __builtin_convertvector(half[1], vec_f64);
}

/* sum over i < n of tempered(x[i]), in double lanes: the lanes over the
 * whole blocks of FAST_LANES_F64 (two at a time while they last), the
 * rest one at a time, then the lanes in order (the order prob_sum adds a
 * candidate list's probabilities in). */
static double exp_sum(const float *x, int n, float shift, float temperature) {
    vec_f64 lane = {0};
    double sum = 0.0;
    int i = 0;
    for (; i + FAST_LANES <= n; i += FAST_LANES) {
        vec_f64 lo, hi;
        tempered_f64(x + i, shift, temperature, &lo, &hi);
        lane = lane + lo;
        lane = lane + hi;
    }
    for (; i + FAST_LANES_F64 <= n; i += FAST_LANES_F64)
        for (int u = 0; u < FAST_LANES_F64; u++) lane[u] += (double)tempered(x[i + u], shift, temperature);
    for (; i < n; i++) sum += (double)tempered(x[i], shift, temperature);
    for (int u = 0; u < FAST_LANES_F64; u++) sum += lane[u];
    return sum;
}

/* The first i whose running sum (in double, from 0, in id order) of the
 * tempered probabilities exceeds u; the last id if rounding leaves u past
 * the sum.  What sample_token's draw over an uncut candidate list in id
 * order gives, without storing the list: the probabilities are computed
 * again here, FAST_LANES at a time (the same bits), and only the running
 * sum is a chain of dependent steps. */
static int draw_uncut(const float *logits, int vocab, float max, float temperature, double u) {
    double cum = 0.0;
    int i = 0;
    for (; i + FAST_LANES <= vocab; i += FAST_LANES) {
        vec_f64 prob[2];
        tempered_f64(logits + i, max, temperature, &prob[0], &prob[1]);
        for (int j = 0; j < FAST_LANES; j++) {
            cum += prob[j / FAST_LANES_F64][j % FAST_LANES_F64];
            if (u < cum) return i + j;
        }
    }
    for (; i < vocab; i++) {
        cum += (double)tempered(logits[i], max, temperature);
        if (u < cum) return i;
    }
    return vocab - 1;
}

/* draw_uncut's token, found faster, or -1 when this cannot be sure of it.
 * The scan's running sum C_j is a chain of dependent additions (about 3
 * cycles each, half the vocabulary on average).  Here the sums of whole
 * blocks of FAST_LANES probabilities (in any order, a vector's worth at a
 * time) are added until they pass u, and only that block is scanned one
 * by one, from the blocks' sum.  This approximate running sum a_j and C_j
 * each differ from the exact sum S_j of the first j + 1 probabilities by
 * at most about (vocab + 25) * 2^-53 * S_j (the standard bound for sums
 * of non-negative terms: one rounding of at most 2^-53 relative per
 * addition a term goes through: vocab for C_j; for a_j, 9 within its
 * block's sum, one per earlier block, 16 within the block), so from each
 * other by at most about (2 vocab + 50) * 2^-53 * S_j; `margin` is twice
 * that (total >= S_j up to the same rounding).  If a_j > u + margin and
 * a_{j-1} < u - margin, then C_j > u > C_{j-1} >= every earlier C (the
 * running sum never decreases): the scan would stop at j too.  Otherwise,
 * and for a crossing in a last partial block, -1, and the caller scans
 * exactly; with margins of about 1e-13 of the total, practically never.
 * NaN or infinite sums fail every comparison and go to the scan too. */
static int draw_uncut_search(const float *logits, int vocab, float max, float temperature, double u,
                             double total) {
    double margin = total * (double)(2 * vocab + 64) * 0x1p-52, before = 0.0;
    for (int i = 0; i + FAST_LANES <= vocab; i += FAST_LANES) {
        vec_f64 lo, hi;
        tempered_f64(logits + i, max, temperature, &lo, &hi);
        vec_f64 pair = lo + hi;
        double block = 0.0;
        for (int k = 0; k < FAST_LANES_F64; k++) block += pair[k];
        if (!(before + block > u + margin)) {
            before += block;
            continue;
        }
        double prob[FAST_LANES], a = before;
        memcpy(prob, &lo, sizeof lo);
        memcpy(prob + FAST_LANES_F64, &hi, sizeof hi);
        for (int j = 0; j < FAST_LANES; j++) {
            double previous = a;
            a += prob[j];
            if (a > u) return a - u > margin && (i + j == 0 || u - previous > margin) ? i + j : -1;
        }
        return -1;
    }
    return -1;
}

/* sum of c[0..n).prob, in double lanes */
static double prob_sum(const sample_candidate *c, int n) {
    double lane[FAST_LANES_F64] = {0}, sum = 0.0;
    int i = 0;
    for (; i + FAST_LANES_F64 <= n; i += FAST_LANES_F64)
        for (int u = 0; u < FAST_LANES_F64; u++) lane[u] += (double)c[i + u].prob;
    for (; i < n; i++) sum += (double)c[i].prob;
    for (int u = 0; u < FAST_LANES_F64; u++) sum += lane[u];
    return sum;
}

float sample_logprob(const float *logits, int vocab, int token) {
    return sample_logprob_lse(logits, vocab, token, NULL);
}

float sample_logprob_lse(const float *logits, int vocab, int token, float *lse) {
    float max = fast_max(logits, vocab);
    double log_total = log(exp_sum(logits, vocab, max, 1.0f));
    if (lse) *lse = max + (float)log_total;
    return (float)((double)(logits[token] - max) - log_total);
}

/* Total order "a ranks before b": more probable, then lower id, so every
 * selection and sort below is deterministic. */
static int ranks_before(const sample_candidate *a, const sample_candidate *b) {
    return a->prob > b->prob || (a->prob == b->prob && a->id < b->id);
}

static int compare_candidates(const void *pa, const void *pb) {
    const sample_candidate *a = pa, *b = pb;
    if (ranks_before(a, b)) return -1;
    if (ranks_before(b, a)) return 1;
    return 0;
}

static void swap(sample_candidate *a, sample_candidate *b) {
    sample_candidate t = *a;
    *a = *b;
    *b = t;
}

/* Reorder c[0..n) so its k best-ranked entries come first (any order):
 * quickselect, expected O(n), with a median-of-three pivot. */
static void select_top(sample_candidate *c, int n, int k) {
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (ranks_before(&c[mid], &c[lo])) swap(&c[mid], &c[lo]);
        if (ranks_before(&c[hi], &c[lo])) swap(&c[hi], &c[lo]);
        if (ranks_before(&c[hi], &c[mid])) swap(&c[hi], &c[mid]);
        sample_candidate pivot = c[mid];
        int i = lo, j = hi;
        while (i <= j) {
            while (ranks_before(&c[i], &pivot)) i++;
            while (ranks_before(&pivot, &c[j])) j--;
            if (i <= j) swap(&c[i++], &c[j--]);
        }
        /* now c[lo..j] rank before-or-equal pivot, c[i..hi] after-or-equal */
        if (k - 1 <= j) hi = j;
        else if (k - 1 >= i) lo = i;
        else break;
    }
}

int sample_token(const float *logits, int vocab, const sample_params *p, pp_rng *rng,
                 sample_candidate *scratch, float *logprob) {
    int token, n_kept = 0;
    float max_kept = 0.0f;
    double total_kept = 0.0;
    if (p->temperature == 0.0f) {
        token = sample_argmax(logits, vocab);
    } else if (!(p->top_k > 0 && p->top_k < vocab) && !(p->top_p < 1.0f)) {
        /* no cut: the draw below over the whole list in id order, without
         * building the list (its sum is the one prob_sum takes) */
        max_kept = fast_max(logits, vocab);
        total_kept = exp_sum(logits, vocab, max_kept, p->temperature);
        n_kept = vocab;
        double u = pp_rng_uniform(rng) * total_kept;
        token = draw_uncut_search(logits, vocab, max_kept, p->temperature, u, total_kept);
        if (token < 0) token = draw_uncut(logits, vocab, max_kept, p->temperature, u);
    } else {
        /* unnormalised tempered probabilities; the max-shift keeps exp finite */
        float max = fast_max(logits, vocab);
        for (int i = 0; i < vocab; i++) {
            scratch[i].prob = tempered(logits[i], max, p->temperature);
            scratch[i].id = i;
        }
        double total = prob_sum(scratch, vocab);
        int n = vocab;
        max_kept = max, total_kept = total;
        if (p->top_k > 0 && p->top_k < n) {
            select_top(scratch, n, p->top_k);
            n = p->top_k;
            total = prob_sum(scratch, n);
        }
        if (p->top_p < 1.0f) {
            if (n == vocab && n > 1) {
                /* Tokens below (1-top_p)/(n-1) of the mass cannot be in the
                 * nucleus (all of them together hold less than 1-top_p), so
                 * drop them before sorting, as llama2.c does. */
                double cutoff = (1.0 - p->top_p) / (double)(n - 1) * total;
                if (cutoff > 1.0) cutoff = 1.0; /* the argmax (prob exactly 1) always stays */
                int kept = 0;
                for (int i = 0; i < n; i++)
                    if (scratch[i].prob >= cutoff) scratch[kept++] = scratch[i];
                n = kept;
            }
            qsort(scratch, (size_t)n, sizeof *scratch, compare_candidates);
            double want = p->top_p * total, cum = 0.0;
            int keep = n;
            for (int i = 0; i < n; i++) {
                cum += scratch[i].prob;
                if (cum >= want) {
                    keep = i + 1;
                    break;
                }
            }
            n = keep;
            total = cum;
        }
        n_kept = n;
        double u = pp_rng_uniform(rng) * total, cum = 0.0;
        token = scratch[n - 1].id; /* if rounding leaves u past the sum */
        for (int i = 0; i < n; i++) {
            cum += scratch[i].prob;
            if (u < cum) {
                token = scratch[i].id;
                break;
            }
        }
    }
    if (logprob) {
        /* At temperature 1 with no cut, max and total are exactly the max and
         * the sum sample_logprob would compute again (the same fast_expf of
         * logits - max, x / 1.0f being x, summed in the same lanes). */
        if (p->temperature == 1.0f && n_kept == vocab && vocab > 0)
            *logprob = (float)((double)(logits[token] - max_kept) - log(total_kept));
        else
            *logprob = sample_logprob(logits, vocab, token);
    }
    return token;
}
