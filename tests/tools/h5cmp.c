/* h5cmp A.h5 B.h5 DATASET [RTOL [zero-mean]] - compare one numeric dataset
 * of two files.  RTOL absent: must be bit-identical.  With RTOL: every
 * element within RTOL relative (|a-b| <= RTOL * max(|a|,|b|, 1e-30)); with
 * "zero-mean" the signed residuals must also not drift one way (|mean| <=
 * 3 standard errors, or all zero).  Prints the largest relative difference;
 * exit 0 equal, 1 different, 2 error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/pp_h5.h"

static double *load(const char *path, const char *name, int64_t *n) {
    pp_h5 f;
    pp_err err = {0};
    if (pp_h5_open(&f, path, NULL, 0, &err) != PP_OK) {
        fprintf(stderr, "h5cmp: %s\n", err.msg);
        return NULL;
    }
    int nd;
    int64_t d[4];
    double *v = NULL;
    if (pp_h5_dims(&f, name, &nd, d, &err) == PP_OK) {
        *n = d[0] * d[1] * d[2] * d[3];
        v = malloc((size_t)(*n > 0 ? *n : 1) * sizeof *v);
        if (v && pp_h5_read_all(&f, name, PP_F64, v, &err) != PP_OK) {
            free(v);
            v = NULL;
        }
    }
    if (!v) fprintf(stderr, "h5cmp: %s\n", err.msg);
    pp_h5_close(&f);
    return v;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: h5cmp A.h5 B.h5 DATASET [RTOL [zero-mean]]\n");
        return 2;
    }
    int64_t na = 0, nb = 0;
    double *a = load(argv[1], argv[3], &na), *b = load(argv[2], argv[3], &nb);
    if (!a || !b) return 2;
    if (na != nb) {
        printf("%s: %lld vs %lld elements\n", argv[3], (long long)na, (long long)nb);
        return 1;
    }
    double rtol = argc > 4 ? atof(argv[4]) : -1, worst = 0, sum = 0, sum2 = 0;
    int64_t bad = 0;
    for (int64_t i = 0; i < na; i++) {
        double diff = a[i] - b[i], scale = fmax(fmax(fabs(a[i]), fabs(b[i])), 1e-30);
        double rel = diff == 0 ? 0 : fabs(diff) / scale;
        if (rel > worst) worst = rel;
        sum += diff / scale;
        sum2 += (diff / scale) * (diff / scale);
        if (rtol < 0 ? memcmp(&a[i], &b[i], sizeof a[i]) != 0 : rel > rtol) bad++;
    }
    printf("%s: %lld elements, max relative difference %.3g, %lld outside tolerance\n", argv[3], (long long)na, worst,
           (long long)bad);
    if (argc > 5 && !strcmp(argv[5], "zero-mean") && na > 1) {
        double mean = sum / na, sd = sqrt(fmax(sum2 / na - mean * mean, 0)), se = sd / sqrt((double)na);
        printf("%s: mean relative residual %.3g (standard error %.3g)\n", argv[3], mean, se);
        if (sd > 0 && fabs(mean) > 3 * se + 1e-12) bad++;
    }
    return bad ? 1 : 0;
}
