/* kernels.c - the per-row arithmetic shared by both forward passes
 * (kernels.h). */
#include "model/kernels.h"

#include <math.h>
#include <string.h>

#include "model/fastmath.h"

size_t packed_weights_floats(const model_config *c) {
    int d = c->dim, h = c->hidden_dim, hd = model_head_dim(c);
    int qd = c->n_heads * hd, kvd = c->n_kv_heads * hd;
    return (size_t)c->n_layers * (rowmatmul_packed_size(d, qd) + 2 * rowmatmul_packed_size(d, kvd) +
                                  rowmatmul_packed_size(qd, d) + 2 * rowmatmul_packed_size(d, h) +
                                  rowmatmul_packed_size(h, d)) +
           rowmatmul_packed_size(d, c->vocab_size);
}

/* Pack `count` stacked [out][in] matrices, each into its own block (fill
 * 0: only step over them); returns the end. */
static float *pack_stack(float *dst, const float *src, int count, int out, int in, int fill) {
    for (int m = 0; m < count; m++) {
        if (fill) rowmatmul_pack(dst, src + (size_t)m * out * in, out, in);
        dst += rowmatmul_packed_size(in, out);
    }
    return dst;
}

void packed_weights_fill(packed_weights *pw, float *buffer, const model *m) { packed_weights_place(pw, buffer, m, 1); }

void packed_weights_place(packed_weights *pw, float *buffer, const model *m, int fill) {
    const model_config *c = &m->cfg;
    const model_tensors *w = &m->w;
    int L = c->n_layers, d = c->dim, h = c->hidden_dim, hd = model_head_dim(c);
    int qd = c->n_heads * hd, kvd = c->n_kv_heads * hd;
    float *p = buffer;
    pw->wq = p, p = pack_stack(p, w->wq, L, qd, d, fill);
    pw->wk = p, p = pack_stack(p, w->wk, L, kvd, d, fill);
    pw->wv = p, p = pack_stack(p, w->wv, L, kvd, d, fill);
    pw->wo = p, p = pack_stack(p, w->wo, L, d, qd, fill);
    pw->w_gate = p, p = pack_stack(p, w->w_gate, L, h, d, fill);
    pw->w_up = p, p = pack_stack(p, w->w_up, L, h, d, fill);
    pw->w_down = p, p = pack_stack(p, w->w_down, L, d, h, fill);
    pw->lm_head = p;
    pack_stack(p, w->lm_head, 1, c->vocab_size, d, fill);
}

float kern_rmsnorm(float *out, const float *x, const float *gain, int d, float eps) {
    float ss = 0.0f;
    for (int j = 0; j < d; j++) ss += x[j] * x[j];
    ss /= (float)d;
    ss += eps;
    float r = 1.0f / sqrtf(ss);
    for (int j = 0; j < d; j++) out[j] = gain[j] * (r * x[j]);
    return r;
}

void kern_rope(float *vec, int n_heads, int hd, const float *cos_p, const float *sin_p) {
    for (int h = 0; h < n_heads; h++) {
        float *v = vec + (size_t)h * hd;
        for (int i = 0; i < hd / 2; i++) {
            float v0 = v[2 * i], v1 = v[2 * i + 1];
            v[2 * i] = v0 * cos_p[i] - v1 * sin_p[i];
            v[2 * i + 1] = v0 * sin_p[i] + v1 * cos_p[i];
        }
    }
}

/* att[t] = (q . key of position t) / scale for t < len.  The dot products
 * accumulate one dimension at a time over all positions, which is SIMD
 * over t and also run.c's summation order; eight (then four) dimensions
 * per pass, added left to right, give the same sums with an eighth of the
 * memory round trips. */
static void attention_scores(float *restrict att, const float *restrict q, const float *restrict keys_t, size_t T,
                             int hd, int len, float scale) {
    memset(att, 0, (size_t)len * sizeof(float));
    int i = 0;
    for (; i + 8 <= hd; i += 8) {
        const float *k0 = keys_t + (size_t)i * T, *k1 = k0 + T, *k2 = k1 + T, *k3 = k2 + T, *k4 = k3 + T,
                    *k5 = k4 + T, *k6 = k5 + T, *k7 = k6 + T;
        const float *qi = q + i;
        for (int t = 0; t < len; t++)
            att[t] = att[t] + qi[0] * k0[t] + qi[1] * k1[t] + qi[2] * k2[t] + qi[3] * k3[t] + qi[4] * k4[t] +
                     qi[5] * k5[t] + qi[6] * k6[t] + qi[7] * k7[t];
    }
    for (; i + 4 <= hd; i += 4) {
        const float *k0 = keys_t + (size_t)i * T, *k1 = k0 + T, *k2 = k1 + T, *k3 = k2 + T;
        float q0 = q[i], q1 = q[i + 1], q2 = q[i + 2], q3 = q[i + 3];
        for (int t = 0; t < len; t++) att[t] = att[t] + q0 * k0[t] + q1 * k1[t] + q2 * k2[t] + q3 * k3[t];
    }
    for (; i < hd; i++) {
        const float *ki = keys_t + (size_t)i * T;
        for (int t = 0; t < len; t++) att[t] += q[i] * ki[t];
    }
    for (int t = 0; t < len; t++) att[t] /= scale;
}

/* out[j] = sum over t < len of att[t] * vals[t * stride + j].  Positions
 * go in blocks of eight whose eight products are summed before they join
 * the running total: with small heads (stories260K's are 8 wide, one SIMD
 * register) a strictly sequential sum over t would be one long chain of
 * dependent additions, while the blocks' products are independent work. */
static void attention_values(float *restrict out, const float *restrict att, const float *restrict vals,
                             size_t stride, int hd, int len) {
    memset(out, 0, (size_t)hd * sizeof(float));
    int t = 0;
    for (; t + 8 <= len; t += 8) {
        const float *v0 = vals + (size_t)t * stride, *v1 = v0 + stride, *v2 = v1 + stride, *v3 = v2 + stride,
                    *v4 = v3 + stride, *v5 = v4 + stride, *v6 = v5 + stride, *v7 = v6 + stride;
        const float *a = att + t;
        for (int j = 0; j < hd; j++)
            out[j] += a[0] * v0[j] + a[1] * v1[j] + a[2] * v2[j] + a[3] * v3[j] + a[4] * v4[j] + a[5] * v5[j] +
                      a[6] * v6[j] + a[7] * v7[j];
    }
    for (; t < len; t++) {
        const float *vt = vals + (size_t)t * stride;
        for (int j = 0; j < hd; j++) out[j] += att[t] * vt[j];
    }
}

void kern_attend(float *out, float *att, const float *q, const float *keys_t, size_t key_stride,
                 const float *vals, size_t val_stride, int hd, int len) {
    attention_scores(att, q, keys_t, key_stride, hd, len, sqrtf((float)hd));
    fast_softmax(att, len);
    attention_values(out, att, vals, val_stride, hd, len);
}

void kern_swiglu(float *out, const float *gate, const float *up, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        g *= 1.0f / (1.0f + fast_expf(-g));
        out[i] = g * up[i];
    }
}
