/* sgemm_batch - can ONE cblas_sgemm over many decode rows give each row
 * bits that do not depend on the other rows, their number or the row's
 * place?  (docs/architecture.md, "Batch-invariant forward".)
 *
 * A pool of random rows x_i is multiplied by a weight matrix W [out][in]
 * alone (batch 1: the reference of row i) and then as batches of B rows
 * (pool rows o .. o+B-1, B = 1..64 and 65..256 in steps, two offsets o),
 * and every row of every batch is compared with its reference, bit for
 * bit.  Formulations (rows = batch, "internal" = OpenBLAS's column-major
 * view of the call):
 *   nt      C[B][out] = X W^T      (training's; internal m = out, n = B)
 *   nn-wt   C[B][out] = X Wt       (infer.c's, on the transposed copy Wt)
 *   tr      C'[out][B] = W X^T     (batch along internal m), C = C'^T
 *   tr-p16  tr with B padded by zero rows to a multiple of 16
 *   tr-p64  tr with B padded to a multiple of 64
 *   rowmm   src/model/rowmatmul.c on W packed (no BLAS; invariant by construction)
 * Each line: batches with any differing row / batches tried, rows that
 * differ, the first B that differs, and a hash of the batch-1 references
 * (compare it across OPENBLAS_NUM_THREADS=1 and 2).  Then the speed of
 * nn-wt sgemm and rowmm at B = 1, 8, 64, 256 (GFLOP/s, best of 5 timed
 * batches of calls, thread CPU time).
 *
 *   sgemm_batch [dim hidden kv_dim vocab]   (default: stories260K's shapes) */
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/pp_rng.h"
#include "model/rowmatmul.h"

enum { POOL = 320, BMAX = 256 };
enum { F_NT, F_NN_WT, F_TR, F_TR_P16, F_TR_P64, F_ROWMM, N_FORMS };
static const char *form_name[N_FORMS] = {"nt", "nn-wt", "tr", "tr-p16", "tr-p64", "rowmm"};

typedef struct {
    int in, out;
    const float *w, *wt; /* [out][in], [in][out] */
    const float *packed; /* w packed for rowmatmul */
    float *xpad, *ct;    /* scratch: padded rows, C' [out][BMAX] */
} shape;

/* c[b][out] = rows x[b][in] times W^T in formulation f. */
static void product(const shape *s, int f, const float *x, int B, float *c) {
    int in = s->in, out = s->out;
    if (f == F_NT) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, out, in, 1.0f, x, in, s->w, in, 0.0f, c, out);
        return;
    }
    if (f == F_ROWMM) {
        rowmatmul(c, x, s->packed, B, in, out, 0);
        return;
    }
    if (f == F_NN_WT) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, out, in, 1.0f, x, in, s->wt, out, 0.0f, c, out);
        return;
    }
    int P = f == F_TR_P16 ? (B + 15) / 16 * 16 : f == F_TR_P64 ? (B + 63) / 64 * 64 : B;
    const float *xs = x;
    if (P != B) {
        memcpy(s->xpad, x, (size_t)B * in * sizeof(float));
        memset(s->xpad + (size_t)B * in, 0, (size_t)(P - B) * in * sizeof(float));
        xs = s->xpad;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, out, P, in, 1.0f, s->w, in, xs, in, 0.0f, s->ct, P);
    for (int b = 0; b < B; b++)
        for (int o = 0; o < out; o++) c[(size_t)b * out + o] = s->ct[(size_t)o * P + b];
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t hash_floats(const float *p, size_t n, uint64_t h) {
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < n * sizeof(float); i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

static void probe(const char *label, int in, int out, pp_rng *r) {
    shape s = {in, out, NULL, NULL, NULL, NULL, NULL};
    float *w = malloc((size_t)in * out * sizeof *w), *wt = malloc((size_t)in * out * sizeof *wt);
    float *x = malloc((size_t)POOL * in * sizeof *x), *ref = malloc((size_t)POOL * out * sizeof *ref);
    float *c = malloc((size_t)BMAX * out * sizeof *c);
    s.xpad = malloc((size_t)BMAX * in * sizeof(float));
    s.ct = malloc((size_t)BMAX * out * sizeof(float));
    for (size_t i = 0; i < (size_t)in * out; i++) w[i] = (float)pp_rng_normal(r) * 0.05f;
    for (int o = 0; o < out; o++)
        for (int i = 0; i < in; i++) wt[(size_t)i * out + o] = w[(size_t)o * in + i];
    for (size_t i = 0; i < (size_t)POOL * in; i++) x[i] = (float)pp_rng_normal(r);
    float *packed = malloc(rowmatmul_packed_size(in, out) * sizeof *packed);
    rowmatmul_pack(packed, w, out, in);
    s.w = w, s.wt = wt, s.packed = packed;
    for (int f = 0; f < N_FORMS; f++) {
        for (int i = 0; i < POOL; i++) product(&s, f, x + (size_t)i * in, 1, ref + (size_t)i * out);
        int bad_batches = 0, tried = 0, first_bad = 0;
        long bad_rows = 0;
        for (int B = 1; B <= BMAX; B += B < 64 ? 1 : 7) {
            int offs[2] = {0, (B * 37 + 11) % (POOL - B + 1)};
            for (int t = 0; t < 2; t++) {
                int o = offs[t], bad = 0;
                product(&s, f, x + (size_t)o * in, B, c);
                for (int b = 0; b < B; b++)
                    bad += memcmp(c + (size_t)b * out, ref + (size_t)(o + b) * out, (size_t)out * sizeof(float)) != 0;
                tried++;
                bad_rows += bad;
                if (bad && !bad_batches) first_bad = B;
                bad_batches += bad > 0;
            }
        }
        printf("%-6s in=%-4d out=%-4d %-7s %3d/%3d batches differ, %6ld rows, first B=%-3d ref hash %016llx\n", label, in,
               out, form_name[f], bad_batches, tried, bad_rows, first_bad,
               (unsigned long long)hash_floats(ref, (size_t)POOL * out, 1469598103934665603ULL));
        fflush(stdout);
    }
    /* speed: nn-wt (infer.c before rowmm) against rowmm */
    static const int Bs[] = {1, 8, 64, 256};
    printf("%-6s in=%-4d out=%-4d GFLOP/s", label, in, out);
    for (int i = 0; i < 4; i++) {
        int B = Bs[i];
        double best[2] = {0, 0};
        int calls = 1 + (int)(2e7 / ((double)B * in * out));
        for (int rep = 0; rep < 5; rep++)
            for (int t = 0; t < 2; t++) {
                double t0 = cpu_now();
                for (int j = 0; j < calls; j++) product(&s, t ? F_ROWMM : F_NN_WT, x, B, c);
                double g = 2.0 * B * in * out * calls / (cpu_now() - t0) / 1e9;
                if (g > best[t]) best[t] = g;
            }
        printf("  B=%d sgemm %.1f rowmm %.1f", B, best[0], best[1]);
    }
    printf("\n");
    free(packed), free(w), free(wt), free(x), free(ref), free(c), free(s.xpad), free(s.ct);
}

int main(int argc, char **argv) {
    int dim = 64, hidden = 172, kv = 32, vocab = 512;
    if (argc == 5) {
        dim = atoi(argv[1]), hidden = atoi(argv[2]), kv = atoi(argv[3]), vocab = atoi(argv[4]);
    } else if (argc != 1) {
        fprintf(stderr, "usage: sgemm_batch [dim hidden kv_dim vocab]\n");
        return 1;
    }
    const char *th = getenv("OPENBLAS_NUM_THREADS");
    printf("sgemm_batch: OPENBLAS_NUM_THREADS=%s, %s\n", th ? th : "unset", openblas_get_config());
    const int shapes[][2] = {{dim, dim}, {dim, kv}, {dim, hidden}, {hidden, dim}, {dim, vocab}};
    const char *names[] = {"wq/wo", "wk/wv", "gate", "down", "head"};
    pp_rng r = pp_rng_stream(1, 2, 3);
    for (int i = 0; i < 5; i++) {
        if (i == 1 && kv == dim) continue;
        probe(names[i], shapes[i][0], shapes[i][1], &r);
    }
    return 0;
}
