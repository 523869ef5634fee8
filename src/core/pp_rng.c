/* pp_rng.c - keyed counter-based generator: output n = mix(key + n * golden).
 * mix is the splitmix64 finaliser, whose outputs pass BigCrush when fed a
 * Weyl sequence; keying it by hashing the ids gives independent streams. */
#include "core/pp_rng.h"

#include <math.h>
#include <string.h>

#define GOLDEN 0x9E3779B97F4A7C15ULL

uint64_t pp_hash64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBULL;
    x ^= x >> 31;
    return x;
}

uint64_t pp_hash_bytes(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = pp_hash64(h ^ w);
    }
    for (; i < n; i++) h = pp_hash64(h ^ p[i]);
    return h;
}

pp_rng pp_rng_stream(uint64_t seed, uint64_t id1, uint64_t id2) {
    uint64_t k = pp_hash64(seed + GOLDEN);
    k = pp_hash64(k ^ (id1 + 0x632BE59BD9B4E019ULL));
    k = pp_hash64(k ^ (id2 + 0x8CB92BA72F3D8DD7ULL));
    return (pp_rng){.key = k, .counter = 0};
}

uint64_t pp_rng_u64(pp_rng *r) {
    r->counter++;
    return pp_hash64(r->key + r->counter * GOLDEN);
}

double pp_rng_uniform(pp_rng *r) { return (double)(pp_rng_u64(r) >> 11) * 0x1.0p-53; }

float pp_rng_uniformf(pp_rng *r) { return (float)(pp_rng_u64(r) >> 40) * 0x1.0p-24f; }

double pp_rng_normal(pp_rng *r) {
    double u1 = pp_rng_uniform(r), u2 = pp_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t pp_rng_below(pp_rng *r, uint64_t n) {
    /* rejection sampling avoids modulo bias */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = pp_rng_u64(r);
    while (x >= limit);
    return x % n;
}

void pp_rng_permutation(uint64_t seed, uint64_t id1, uint64_t id2, int64_t n, int64_t *perm) {
    pp_rng r = pp_rng_stream(seed, id1, id2);
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t k = (int64_t)pp_rng_below(&r, (uint64_t)i + 1), t = perm[i];
        perm[i] = perm[k];
        perm[k] = t;
    }
}
