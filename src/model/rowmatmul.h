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
 * Weights are taken transposed, wt[in_dim][out_dim] (the layout of
 * infer_weights_t), so a vector load reads consecutive output columns. */
#ifndef ROWMATMUL_H
#define ROWMATMUL_H

/* out[r][j] (+)= sum_k in[r][k] * wt[k][j] for r < n_rows, j < out_dim;
 * accumulate = 0 overwrites out, 1 adds the product to it (one rounding of
 * the finished sum onto out). */
void rowmatmul(float *out, const float *in, const float *wt, int n_rows, int in_dim, int out_dim, int accumulate);

#endif
