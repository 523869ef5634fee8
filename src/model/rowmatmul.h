/* rowmatmul.h - a matrix product whose every output row is bit-identical
 * whatever the other rows of the call, their number and the row's place.
 *
 * OpenBLAS 0.3.21 does not give that (docs/architecture.md, "Batch-invariant
 * forward", measured by tests/tools/sgemm_rows.c and sgemm_batch.c): with
 * any formulation we tried, a row's bits depend on the batch size and on
 * its position.  Here each output element is one fused multiply-add chain
 * over the inner dimension, k = 0, 1, ..., in_dim - 1, starting from 0; the
 * SIMD lanes run across output columns and the register blocks across rows
 * only reuse loaded weights, so no row ever changes another row's order of
 * operations.  The same row therefore gives the same bits in a decode step
 * of 1 or 256 rows and in a prefill chunk.
 *
 * The weights are packed once (rowmatmul_pack) into panels of
 * ROWMATMUL_PANEL output columns, each panel [in_dim][ROWMATMUL_PANEL]
 * contiguous and the last one padded with zeros: a step of k reads one
 * contiguous run of the panel, which the hardware prefetchers can stream
 * from memory (a plain [in][out] matrix is read at a stride of out_dim
 * floats, more than a page for the wider matrices). */
#ifndef ROWMATMUL_H
#define ROWMATMUL_H

#include <stddef.h>

/* Output columns per panel: 4 vectors of the widest SIMD compiled for. */
#if defined(__AVX512F__)
#define ROWMATMUL_PANEL 64
#elif defined(__AVX2__) && defined(__FMA__)
#define ROWMATMUL_PANEL 24
#else
#define ROWMATMUL_PANEL 4
#endif

/* Floats of the packed form of an out_dim x in_dim matrix. */
size_t rowmatmul_packed_size(int in_dim, int out_dim);

/* Pack w[out_dim][in_dim] (the model's layout, y = W x) into dst. */
void rowmatmul_pack(float *dst, const float *w, int out_dim, int in_dim);

/* out[r][j] (+)= sum_k in[r][k] * w[j][k] for r < n_rows, j < out_dim, w
 * packed by rowmatmul_pack; accumulate = 0 overwrites out, 1 adds the
 * product to it (one rounding of the finished sum onto out). */
void rowmatmul(float *out, const float *in, const float *packed, int n_rows, int in_dim, int out_dim, int accumulate);

/* Memory a later phase will read, pulled toward the caches while a
 * product computes.  The products run at the core's arithmetic peak and
 * leave the memory system idle; the decoder's attention is the opposite
 * (it streams every sequence's keys and values once per step).  Handing
 * the next attention's byte ranges to the products overlaps the two: each
 * step of the inner loop issues one prefetch of the next cache line, so
 * the loads are spread evenly over the product's time.  Prefetching never
 * changes a result. */
typedef struct {
    const char *base;
    size_t bytes;
} rowmatmul_range;

typedef struct {
    const rowmatmul_range *ranges; /* in the order they will be read */
    int n_ranges, at;              /* at: the next range to open */
    const char *next, *end;        /* the open range's next line and its end */
} rowmatmul_prefetch;

/* Start prefetching ranges[0..n) (the array must outlive the stream). */
void rowmatmul_prefetch_start(rowmatmul_prefetch *pf, const rowmatmul_range *ranges, int n);

/* rowmatmul, issuing pf's prefetches as it goes (pf may be NULL): the
 * same bits as rowmatmul. */
void rowmatmul_prefetching(float *out, const float *in, const float *packed, int n_rows, int in_dim, int out_dim,
                           int accumulate, rowmatmul_prefetch *pf);

#endif
