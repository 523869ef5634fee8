/* pp_rng.h - counter-based random streams.
 *
 * A stream is keyed by (seed, id1, id2), e.g. (seed, prompt id, candidate k):
 * draw n of a stream is a pure function of the key and n, so results never
 * depend on which rank did the work or in what order.  The whole state is
 * two integers, which makes saving it for resume trivial. */
#ifndef PP_RNG_H
#define PP_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t key;
    uint64_t counter;
} pp_rng;

pp_rng pp_rng_stream(uint64_t seed, uint64_t id1, uint64_t id2);
uint64_t pp_rng_u64(pp_rng *r);
double pp_rng_uniform(pp_rng *r);  /* [0, 1), 53 random bits */
float pp_rng_uniformf(pp_rng *r);  /* [0, 1), 24 random bits */
double pp_rng_normal(pp_rng *r);   /* standard normal (Box-Muller, one draw) */
uint64_t pp_rng_below(pp_rng *r, uint64_t n); /* uniform in [0, n), n > 0 */
uint64_t pp_hash64(uint64_t x);
/* Fold n bytes into h through pp_hash64: 8 at a time, then the tail one by
 * one (file fingerprints, journal checksums).  Chunks whose sizes are
 * multiples of 8 may be folded one after another. */
uint64_t pp_hash_bytes(uint64_t h, const void *data, size_t n);
/* perm[0..n) = a random permutation of 0..n-1 drawn from stream
 * (seed, id1, id2) (Fisher-Yates): e.g. the data order of one epoch. */
void pp_rng_permutation(uint64_t seed, uint64_t id1, uint64_t id2, int64_t n, int64_t *perm);    /* the mixing function, for fingerprints */

#endif
