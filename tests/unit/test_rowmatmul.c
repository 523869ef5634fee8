/* test_rowmatmul.c - the batch-invariant product with and without the
 * prefetch stream the decoder hands it (rowmatmul.h).
 *
 * Prefetching must never change a result: rowmatmul_prefetching gives the
 * bits of rowmatmul for every shape the decoder uses (whole and partial
 * panels, row counts that are and are not multiples of the register
 * block, overwrite and accumulate).  And the stream must really be walked:
 * ranges shorter than the product's steps, empty ones and ones that end
 * inside a tile are all opened, in order, and each is finished. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/pp_rng.h"
#include "model/rowmatmul.h"

static float *random_floats(pp_rng *rng, size_t n) {
    float *x = malloc(n * sizeof(float));
    assert_non_null(x);
    for (size_t i = 0; i < n; i++) x[i] = (float)(pp_rng_uniform(rng) * 2.0 - 1.0);
    return x;
}

/* One shape: the product with the stream equals the product without it,
 * and the stream (ranges over `memory`) is consumed to its end when it is
 * shorter than the product. */
static void check_shape(int rows, int in_dim, int out_dim, int accumulate) {
    pp_rng rng = pp_rng_stream(7, (uint64_t)rows * 1000 + (uint64_t)in_dim, (uint64_t)out_dim);
    float *w = random_floats(&rng, (size_t)out_dim * in_dim), *in = random_floats(&rng, (size_t)rows * in_dim);
    float *start = random_floats(&rng, (size_t)rows * out_dim);
    float *packed = malloc(rowmatmul_packed_size(in_dim, out_dim) * sizeof(float));
    float *plain = malloc((size_t)rows * out_dim * sizeof(float)), *with = malloc((size_t)rows * out_dim * sizeof(float));
    assert_non_null(packed), assert_non_null(plain), assert_non_null(with);
    rowmatmul_pack(packed, w, out_dim, in_dim);
    memcpy(plain, start, (size_t)rows * out_dim * sizeof(float));
    memcpy(with, start, (size_t)rows * out_dim * sizeof(float));

    static char memory[1 << 16];
    /* a short range, an empty one, one of 5 lines and a partial line: far
       fewer lines than the product's steps, so all must be opened */
    rowmatmul_range ranges[] = {{memory, 3 * 64}, {memory + 4096, 0}, {memory + 8192, 5 * 64}, {memory + 30000, 10}};
    int n_ranges = (int)(sizeof ranges / sizeof ranges[0]);
    rowmatmul_prefetch pf;
    rowmatmul_prefetch_start(&pf, ranges, n_ranges);
    rowmatmul(plain, in, packed, rows, in_dim, out_dim, accumulate);
    rowmatmul_prefetching(with, in, packed, rows, in_dim, out_dim, accumulate, &pf);
    if (memcmp(plain, with, (size_t)rows * out_dim * sizeof(float)) != 0)
        fail_msg("%d rows x %d -> %d (accumulate %d): the prefetching product differs", rows, in_dim, out_dim,
                 accumulate);
    assert_int_equal(pf.at, n_ranges);
    assert_true(pf.next >= pf.end);

    /* no stream at all: the same bits again */
    memcpy(with, start, (size_t)rows * out_dim * sizeof(float));
    rowmatmul_prefetching(with, in, packed, rows, in_dim, out_dim, accumulate, NULL);
    assert_memory_equal(plain, with, (size_t)rows * out_dim * sizeof(float));
    free(w), free(in), free(start), free(packed), free(plain), free(with);
}

static void test_prefetching_changes_no_bit(void **state) {
    (void)state;
    int rows[] = {1, 5, 6, 7, 13, 64};
    int dims[][2] = {{64, 64}, {288, 288}, {288, 768}, {768, 288}, {64, 172}, {172, 64}, {288, 512}, {33, 17}};
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++)
        for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
            for (int acc = 0; acc < 2; acc++) check_shape(rows[r], dims[d][0], dims[d][1], acc);
}

/* A stream longer than one product carries over to the next product where
 * it stopped, so consecutive products walk it once, in order. */
static void test_stream_carries_over(void **state) {
    (void)state;
    static char memory[1 << 20];
    rowmatmul_range ranges[] = {{memory, sizeof memory}};
    rowmatmul_prefetch pf;
    rowmatmul_prefetch_start(&pf, ranges, 1);
    pp_rng rng = pp_rng_stream(9, 1, 2);
    int in_dim = 64, out_dim = 64, rows = 6;
    float *w = random_floats(&rng, (size_t)out_dim * in_dim), *in = random_floats(&rng, (size_t)rows * in_dim);
    float *packed = malloc(rowmatmul_packed_size(in_dim, out_dim) * sizeof(float));
    float *out = malloc((size_t)rows * out_dim * sizeof(float));
    assert_non_null(packed), assert_non_null(out);
    rowmatmul_pack(packed, w, out_dim, in_dim);
    rowmatmul_prefetching(out, in, packed, rows, in_dim, out_dim, 0, &pf);
    const char *after_one = pf.next;
    assert_true(after_one > memory && after_one < memory + sizeof memory);
    rowmatmul_prefetching(out, in, packed, rows, in_dim, out_dim, 0, &pf);
    assert_true(pf.next - memory == 2 * (after_one - memory));
    free(w), free(in), free(packed), free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefetching_changes_no_bit),
        cmocka_unit_test(test_stream_carries_over),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
