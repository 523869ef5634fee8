/* sgemm_rows - does one row of C = A . W^T from cblas_sgemm depend on how
 * many other rows (M) share the call, or on where the row sits in A?
 *
 * For each (K, N) shape of a model's forward matmuls (model_train.c) it
 * computes a fixed probe row alone (M = 1) and then at row 0 and at row
 * M - 1 of calls with M = 2, 7, 32, 64, 100, 256 (the other rows random),
 * and counts the output elements whose bits differ from the M = 1 result;
 * then at every row of a call of 64.  Then model_matmul_groups, one sgemm
 * per group: a group of 1, 17 or 33 rows alone and inside batches of 2, 7
 * and 32 groups, which must agree bit for bit.
 *
 *   sgemm_rows [dim hidden kv_dim vocab]     (default: stories260K's shapes)
 *
 * Exit 0 when model_matmul_groups is bit-identical in every batch, 1 when
 * not.  Raw sgemm differences are only reported. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_train.h"
#include "core/pp_rng.h"

static void fill(float *p, size_t n, pp_rng *r) {
    for (size_t i = 0; i < n; i++) p[i] = (float)pp_rng_normal(r);
}

/* Elements of row `row` of C (width n) whose bits differ from ref. */
static int diff_row(const float *c, int row, int n, const float *ref) {
    int bad = 0;
    for (int j = 0; j < n; j++) bad += memcmp(&c[(size_t)row * n + j], &ref[j], sizeof(float)) != 0;
    return bad;
}

static void sgemm_nt(float *c, const float *a, const float *w, int m, int k, int n) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a, k, w, k, 0.0f, c, n);
}

/* Raw sgemm: the probe row alone (M = 1), then at row 0 and row M - 1 of
 * calls of M rows, and at every row of a call of 64.  Returns the number
 * of cases that differ from M = 1. */
static int probe_sgemm(const char *label, int k, int n, pp_rng *r) {
    static const int Ms[] = {2, 7, 32, 64, 100, 256};
    int Mmax = 256;
    float *w = malloc((size_t)n * k * sizeof *w), *a = malloc((size_t)Mmax * k * sizeof *a);
    float *c = malloc((size_t)Mmax * n * sizeof *c), *ref = malloc((size_t)n * sizeof *ref);
    float *probe_row = malloc((size_t)k * sizeof *probe_row);
    fill(w, (size_t)n * k, r);
    fill(probe_row, (size_t)k, r);
    sgemm_nt(ref, probe_row, w, 1, k, n);
    printf("%-6s K=%-4d N=%-4d", label, k, n);
    int cases = 0;
    for (size_t i = 0; i < sizeof Ms / sizeof Ms[0]; i++) {
        int M = Ms[i], d_first, d_last;
        fill(a, (size_t)M * k, r);
        memcpy(a, probe_row, (size_t)k * sizeof *a);
        sgemm_nt(c, a, w, M, k, n);
        d_first = diff_row(c, 0, n, ref);
        fill(a, (size_t)M * k, r);
        memcpy(a + (size_t)(M - 1) * k, probe_row, (size_t)k * sizeof *a);
        sgemm_nt(c, a, w, M, k, n);
        d_last = diff_row(c, M - 1, n, ref);
        printf("  M=%d:%d/%d", M, d_first, d_last);
        cases += (d_first > 0) + (d_last > 0);
    }
    /* every position inside one call of 64 rows: '.' same as M = 1 */
    printf("\n       M=64 by position: ");
    for (int p = 0; p < 64; p++) {
        fill(a, (size_t)64 * k, r);
        memcpy(a + (size_t)p * k, probe_row, (size_t)k * sizeof *a);
        sgemm_nt(c, a, w, 64, k, n);
        int bad = diff_row(c, p, n, ref) > 0;
        putchar(bad ? 'x' : '.');
        cases += bad;
    }
    printf("\n");
    free(w);
    free(a);
    free(c);
    free(ref);
    free(probe_row);
    return cases;
}

/* model_matmul_groups: a probe group of G rows alone, then as group j of
 * a batch of groups of random sizes (1..40 rows), for batches of 2, 7 and
 * 32 groups and every j; returns the number of batches where any element
 * of the probe group differs. */
static int probe_groups(const char *label, int k, int n, int G, pp_rng *r) {
    enum { MAXG = 32, MAXROWS = 40 };
    static const int Bs[] = {2, 7, 32};
    size_t cap = (size_t)MAXG * MAXROWS;
    float *w = malloc((size_t)n * k * sizeof *w), *a = malloc(cap * k * sizeof *a);
    float *c = malloc(cap * n * sizeof *c), *ref = malloc((size_t)G * n * sizeof *ref);
    float *pg = malloc((size_t)G * k * sizeof *pg);
    int start[MAXG + 1];
    fill(w, (size_t)n * k, r);
    fill(pg, (size_t)G * k, r);
    int alone[2] = {0, G};
    model_matmul_groups(ref, pg, w, 1, alone, k, n, 0.0f);
    int bad = 0, tried = 0;
    for (size_t i = 0; i < sizeof Bs / sizeof Bs[0]; i++)
        for (int j = 0; j < Bs[i]; j++) {
            start[0] = 0;
            for (int g = 0; g < Bs[i]; g++)
                start[g + 1] = start[g] + (g == j ? G : 1 + (int)pp_rng_below(r, MAXROWS));
            fill(a, (size_t)start[Bs[i]] * k, r);
            memcpy(a + (size_t)start[j] * k, pg, (size_t)G * k * sizeof *a);
            model_matmul_groups(c, a, w, Bs[i], start, k, n, 0.0f);
            bad += memcmp(c + (size_t)start[j] * n, ref, (size_t)G * n * sizeof *c) != 0;
            tried++;
        }
    printf("%-6s K=%-4d N=%-4d group of %d rows: %d of %d batches differ\n", label, k, n, G, bad, tried);
    free(w);
    free(a);
    free(c);
    free(ref);
    free(pg);
    return bad;
}

int main(int argc, char **argv) {
    int dim = 64, hidden = 172, kv = 32, vocab = 512;
    if (argc == 5) {
        dim = atoi(argv[1]);
        hidden = atoi(argv[2]);
        kv = atoi(argv[3]);
        vocab = atoi(argv[4]);
    } else if (argc != 1) {
        fprintf(stderr, "usage: sgemm_rows [dim hidden kv_dim vocab]\n");
        return 1;
    }
    const int shapes[][2] = {{dim, dim}, {dim, kv}, {dim, hidden}, {hidden, dim}, {dim, vocab}};
    const char *names[] = {"wq/wo", "wk/wv", "gate", "down", "head"};
    pp_rng r = pp_rng_stream(1, 2, 3);
    printf("cblas_sgemm: elements of the probe row that differ from M=1 (probe at row 0 / row M-1)\n");
    int raw = 0, grouped = 0;
    for (int s = 0; s < 5; s++) raw += probe_sgemm(names[s], shapes[s][0], shapes[s][1], &r);
    printf("model_matmul_groups (one sgemm per group):\n");
    for (int s = 0; s < 5; s++)
        for (int G = 1; G <= 33; G += 16) grouped += probe_groups(names[s], shapes[s][0], shapes[s][1], G, &r);
    printf("sgemm: %d differing cases; model_matmul_groups: %d\n", raw, grouped);
    return grouped ? 1 : 0;
}
