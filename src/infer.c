/* infer.c - KV-cache forward pass, batched over rows (see infer.h).
 *
 * A "row" is one token of one sequence slot at one position.  Prefill sends
 * consecutive positions of one slot as rows; decode sends one row per active
 * slot.  Either way every projection is one sgemm over all rows, and only
 * RoPE and attention (which read a row's own slot and position) loop per row. */
#include "infer.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rows per prefill chunk: enough for sgemm to run near its peak, small
 * enough that long prompts do not need prompt-sized activation buffers. */
#define PREFILL_CHUNK 256

pp_status infer_init(infer_state *st, const model *m, int max_seqs, int max_pos, pp_err *err) {
    memset(st, 0, sizeof *st);
    const model_config *c = &m->cfg;
    if (max_pos <= 0) max_pos = c->seq_len;
    if (max_seqs <= 0 || max_seqs > 1 << 16)
        return pp_fail(err, PP_EINPUT, "inference cache: %d sequence slots is out of range", max_seqs);
    if (max_pos > c->seq_len)
        return pp_fail(err, PP_EINPUT, "inference cache: %d positions exceed the model's seq_len %d",
                       max_pos, c->seq_len);
    int hd = model_head_dim(c);
    st->m = m;
    st->max_seqs = max_seqs;
    st->max_pos = max_pos;
    st->kv_dim = c->n_kv_heads * hd;
    int chunk = max_pos < PREFILL_CHUNK ? max_pos : PREFILL_CHUNK;
    st->max_rows = max_seqs > chunk ? max_seqs : chunk;

    size_t rows = (size_t)st->max_rows, d = (size_t)c->dim, h = (size_t)c->hidden_dim;
    size_t cache = (size_t)c->n_layers * (size_t)max_seqs * (size_t)max_pos * (size_t)st->kv_dim;
    size_t half = (size_t)max_pos * (size_t)(hd / 2);
    st->pos = calloc((size_t)max_seqs, sizeof *st->pos);
    st->key_cache = malloc(cache * sizeof(float));
    st->value_cache = malloc(cache * sizeof(float));
    st->rope_cos = malloc(half * sizeof(float));
    st->rope_sin = malloc(half * sizeof(float));
    st->x = malloc(rows * d * sizeof(float));
    st->xb = malloc(rows * d * sizeof(float));
    st->q = malloc(rows * d * sizeof(float));
    st->k = malloc(rows * (size_t)st->kv_dim * sizeof(float));
    st->v = malloc(rows * (size_t)st->kv_dim * sizeof(float));
    st->hb = malloc(rows * h * sizeof(float));
    st->hb2 = malloc(rows * h * sizeof(float));
    st->att = malloc((size_t)max_pos * sizeof(float));
    st->row_slot = malloc(rows * sizeof(int));
    st->row_pos = malloc(rows * sizeof(int));
    if (!st->pos || !st->key_cache || !st->value_cache || !st->rope_cos || !st->rope_sin || !st->x ||
        !st->xb || !st->q || !st->k || !st->v || !st->hb || !st->hb2 || !st->att || !st->row_slot ||
        !st->row_pos) {
        infer_free(st);
        return pp_fail(err, PP_ESYS, "inference cache: out of memory for %d slots x %d positions (%.1f MB)",
                       max_seqs, max_pos, 2.0 * (double)cache * sizeof(float) / 1e6);
    }
    /* RoPE angles exactly as run.c forms them: float exponent, powf, float
     * product with the position, then cosf/sinf. */
    for (int p = 0; p < max_pos; p++)
        for (int i = 0; i < hd / 2; i++) {
            float freq = 1.0f / powf(c->rope_theta, (float)(2 * i) / (float)hd);
            float angle = (float)p * freq;
            st->rope_cos[(size_t)p * (hd / 2) + i] = cosf(angle);
            st->rope_sin[(size_t)p * (hd / 2) + i] = sinf(angle);
        }
    return PP_OK;
}

void infer_free(infer_state *st) {
    free(st->pos);
    free(st->key_cache);
    free(st->value_cache);
    free(st->rope_cos);
    free(st->rope_sin);
    free(st->x);
    free(st->xb);
    free(st->q);
    free(st->k);
    free(st->v);
    free(st->hb);
    free(st->hb2);
    free(st->att);
    free(st->row_slot);
    free(st->row_pos);
    memset(st, 0, sizeof *st);
}

void infer_reset(infer_state *st, int slot) {
    if (slot >= 0 && slot < st->max_seqs) st->pos[slot] = 0;
}

int infer_position(const infer_state *st, int slot) {
    return slot >= 0 && slot < st->max_seqs ? st->pos[slot] : -1;
}

/* out[n][out_dim] = in[n][in_dim] . w[out_dim][in_dim]^T + beta * out.
 * A single row goes through gemv, which OpenBLAS runs about twice as fast
 * as a one-row gemm; both read the weights once. */
static void matmul_rows(float *out, const float *in, const float *w, int n, int in_dim, int out_dim,
                        float beta) {
    if (n == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, out_dim, in_dim, 1.0f, w, in_dim, in, 1, beta, out, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out_dim, in_dim, 1.0f, in, in_dim, w,
                    in_dim, beta, out, out_dim);
}

static void rmsnorm(float *out, const float *x, const float *gain, int size, float eps) {
    float ss = 0.0f;
    for (int j = 0; j < size; j++) ss += x[j] * x[j];
    ss /= (float)size;
    ss += eps;
    ss = 1.0f / sqrtf(ss);
    for (int j = 0; j < size; j++) out[j] = gain[j] * (ss * x[j]);
}

static void softmax(float *x, int size) {
    float max = x[0];
    for (int i = 1; i < size; i++)
        if (x[i] > max) max = x[i];
    float sum = 0.0f;
    for (int i = 0; i < size; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    for (int i = 0; i < size; i++) x[i] /= sum;
}

/* Rotate consecutive pairs of each head of vec (n_heads heads) by the
 * angles of position pos. */
static void rope(float *vec, int n_heads, int hd, const float *cos_p, const float *sin_p) {
    for (int h = 0; h < n_heads; h++) {
        float *v = vec + (size_t)h * hd;
        for (int i = 0; i < hd / 2; i++) {
            float v0 = v[2 * i], v1 = v[2 * i + 1];
            v[2 * i] = v0 * cos_p[i] - v1 * sin_p[i];
            v[2 * i + 1] = v0 * sin_p[i] + v1 * cos_p[i];
        }
    }
}

/* Forward n rows (st->row_slot/row_pos set, tokens valid).  Writes each
 * row's keys and values into the cache.  When logits is not NULL, rows
 * first_logit_row..n-1 get their next-token logits there, one row each. */
static void forward_rows(infer_state *st, int n, const int *tokens, float *logits, int first_logit_row) {
    const model_config *c = &st->m->cfg;
    const model_tensors *w = &st->m->w;
    int d = c->dim, hd = model_head_dim(c), kv_dim = st->kv_dim, hidden = c->hidden_dim;
    int kv_mul = c->n_heads / c->n_kv_heads;
    size_t T = (size_t)st->max_pos, slot_stride = T * kv_dim;
    float eps = c->norm_eps, scale = sqrtf((float)hd);

    for (int r = 0; r < n; r++)
        memcpy(st->x + (size_t)r * d, w->embed + (size_t)tokens[r] * d, (size_t)d * sizeof(float));

    for (int l = 0; l < c->n_layers; l++) {
        size_t layer_cache = (size_t)l * st->max_seqs * slot_stride;
        /* attention: q, k, v for all rows at once */
        for (int r = 0; r < n; r++)
            rmsnorm(st->xb + (size_t)r * d, st->x + (size_t)r * d, w->attn_norm + (size_t)l * d, d, eps);
        matmul_rows(st->q, st->xb, w->wq + (size_t)l * d * d, n, d, d, 0.0f);
        matmul_rows(st->k, st->xb, w->wk + (size_t)l * kv_dim * d, n, d, kv_dim, 0.0f);
        matmul_rows(st->v, st->xb, w->wv + (size_t)l * kv_dim * d, n, d, kv_dim, 0.0f);

        /* RoPE, then store this row's key (transposed) and value in its slot */
        for (int r = 0; r < n; r++) {
            const float *cs = st->rope_cos + (size_t)st->row_pos[r] * (hd / 2);
            const float *sn = st->rope_sin + (size_t)st->row_pos[r] * (hd / 2);
            float *kr = st->k + (size_t)r * kv_dim;
            rope(st->q + (size_t)r * d, c->n_heads, hd, cs, sn);
            rope(kr, c->n_kv_heads, hd, cs, sn);
            float *keys_t = st->key_cache + layer_cache + (size_t)st->row_slot[r] * slot_stride;
            for (int j = 0; j < kv_dim; j++) keys_t[(size_t)j * T + st->row_pos[r]] = kr[j];
            memcpy(st->value_cache + layer_cache + (size_t)st->row_slot[r] * slot_stride +
                       (size_t)st->row_pos[r] * kv_dim,
                   st->v + (size_t)r * kv_dim, (size_t)kv_dim * sizeof(float));
        }

        /* causal attention of each row over its own slot, positions 0..pos.
         * Scores accumulate one head dimension at a time over all positions
         * (contiguous in the transposed key cache, so the loop is SIMD), which
         * is also run.c's summation order. */
        for (int r = 0; r < n; r++) {
            const float *keys_t = st->key_cache + layer_cache + (size_t)st->row_slot[r] * slot_stride;
            const float *vals = st->value_cache + layer_cache + (size_t)st->row_slot[r] * slot_stride;
            int len = st->row_pos[r] + 1;
            float *att = st->att;
            for (int h = 0; h < c->n_heads; h++) {
                const float *qh = st->q + (size_t)r * d + (size_t)h * hd;
                size_t kv_off = (size_t)(h / kv_mul) * hd;
                /* four terms per pass, added left to right: the same sums as
                 * one term per pass, with a quarter of the memory round trips */
                memset(att, 0, (size_t)len * sizeof(float));
                int i = 0;
                for (; i + 4 <= hd; i += 4) {
                    const float *k0 = keys_t + (kv_off + i) * T, *k1 = k0 + T, *k2 = k1 + T, *k3 = k2 + T;
                    float q0 = qh[i], q1 = qh[i + 1], q2 = qh[i + 2], q3 = qh[i + 3];
                    for (int t = 0; t < len; t++) att[t] = att[t] + q0 * k0[t] + q1 * k1[t] + q2 * k2[t] + q3 * k3[t];
                }
                for (; i < hd; i++) {
                    const float *ki = keys_t + (kv_off + i) * T;
                    for (int t = 0; t < len; t++) att[t] += qh[i] * ki[t];
                }
                for (int t = 0; t < len; t++) att[t] /= scale;
                softmax(att, len);
                /* out = sum over t of att[t] * value[t], in order of t */
                float *out = st->xb + (size_t)r * d + (size_t)h * hd;
                memset(out, 0, (size_t)hd * sizeof(float));
                int t = 0;
                for (; t + 4 <= len; t += 4) {
                    const float *v0 = vals + (size_t)t * kv_dim + kv_off, *v1 = v0 + kv_dim, *v2 = v1 + kv_dim,
                                *v3 = v2 + kv_dim;
                    float a0 = att[t], a1 = att[t + 1], a2 = att[t + 2], a3 = att[t + 3];
                    for (int j = 0; j < hd; j++) out[j] = out[j] + a0 * v0[j] + a1 * v1[j] + a2 * v2[j] + a3 * v3[j];
                }
                for (; t < len; t++) {
                    const float *vt = vals + (size_t)t * kv_dim + kv_off;
                    for (int j = 0; j < hd; j++) out[j] += att[t] * vt[j];
                }
            }
        }
        /* x += attention output . wo^T */
        matmul_rows(st->x, st->xb, w->wo + (size_t)l * d * d, n, d, d, 1.0f);

        /* SwiGLU feed-forward: x += (silu(xb.w1^T) * (xb.w3^T)) . w2^T */
        for (int r = 0; r < n; r++)
            rmsnorm(st->xb + (size_t)r * d, st->x + (size_t)r * d, w->ffn_norm + (size_t)l * d, d, eps);
        matmul_rows(st->hb, st->xb, w->w_gate + (size_t)l * hidden * d, n, d, hidden, 0.0f);
        matmul_rows(st->hb2, st->xb, w->w_up + (size_t)l * hidden * d, n, d, hidden, 0.0f);
        for (size_t i = 0; i < (size_t)n * hidden; i++) {
            float g = st->hb[i];
            g *= 1.0f / (1.0f + expf(-g));
            st->hb[i] = g * st->hb2[i];
        }
        matmul_rows(st->x, st->hb, w->w_down + (size_t)l * d * hidden, n, hidden, d, 1.0f);
    }

    if (!logits) return;
    int n_out = n - first_logit_row;
    for (int r = 0; r < n_out; r++)
        rmsnorm(st->xb + (size_t)r * d, st->x + (size_t)(first_logit_row + r) * d, w->final_norm, d, eps);
    matmul_rows(logits, st->xb, w->lm_head, n_out, d, c->vocab_size, 0.0f);
}

static pp_status check_slot(const infer_state *st, int slot, pp_err *err) {
    if (slot < 0 || slot >= st->max_seqs)
        return pp_fail(err, PP_EINPUT, "inference: slot %d out of range (%d slots)", slot, st->max_seqs);
    return PP_OK;
}

static pp_status check_token(const infer_state *st, int token, pp_err *err) {
    if (token < 0 || token >= st->m->cfg.vocab_size)
        return pp_fail(err, PP_EINPUT, "inference: token id %d outside the vocabulary (size %d)", token,
                       st->m->cfg.vocab_size);
    return PP_OK;
}

pp_status infer_prefill(infer_state *st, int slot, const int *tokens, int n, float *logits,
                        pp_err *err) {
    PP_TRY(check_slot(st, slot, err));
    if (n <= 0) return pp_fail(err, PP_EINPUT, "inference: prefill of %d tokens", n);
    if (n > st->max_pos - st->pos[slot])
        return pp_fail(err, PP_EINPUT, "inference: %d tokens do not fit slot %d (%d of %d positions used)",
                       n, slot, st->pos[slot], st->max_pos);
    for (int i = 0; i < n; i++) PP_TRY(check_token(st, tokens[i], err));

    for (int start = 0; start < n; start += st->max_rows) {
        int rows = n - start < st->max_rows ? n - start : st->max_rows;
        for (int r = 0; r < rows; r++) {
            st->row_slot[r] = slot;
            st->row_pos[r] = st->pos[slot] + r;
        }
        int last = start + rows == n;
        forward_rows(st, rows, tokens + start, last ? logits : NULL, rows - 1);
        st->pos[slot] += rows;
    }
    return PP_OK;
}

pp_status infer_copy_seq(infer_state *st, int src, int dst, pp_err *err) {
    PP_TRY(check_slot(st, src, err));
    PP_TRY(check_slot(st, dst, err));
    if (src == dst) return PP_OK;
    size_t T = (size_t)st->max_pos, kv_dim = (size_t)st->kv_dim, slot_stride = T * kv_dim;
    size_t used = (size_t)st->pos[src];
    for (int l = 0; l < st->m->cfg.n_layers; l++) {
        size_t layer = (size_t)l * st->max_seqs * slot_stride;
        const float *ks = st->key_cache + layer + (size_t)src * slot_stride;
        float *kd = st->key_cache + layer + (size_t)dst * slot_stride;
        for (size_t j = 0; j < kv_dim; j++) memcpy(kd + j * T, ks + j * T, used * sizeof(float));
        memcpy(st->value_cache + layer + (size_t)dst * slot_stride,
               st->value_cache + layer + (size_t)src * slot_stride, used * kv_dim * sizeof(float));
    }
    st->pos[dst] = st->pos[src];
    return PP_OK;
}

pp_status infer_decode(infer_state *st, int n, const int *slots, const int *tokens, float *logits,
                       pp_err *err) {
    if (n <= 0 || n > st->max_seqs)
        return pp_fail(err, PP_EINPUT, "inference: decode batch of %d rows (at most %d)", n, st->max_seqs);
    for (int i = 0; i < n; i++) {
        PP_TRY(check_slot(st, slots[i], err));
        PP_TRY(check_token(st, tokens[i], err));
        if (st->pos[slots[i]] >= st->max_pos)
            return pp_fail(err, PP_EINPUT, "inference: slot %d is full (%d positions)", slots[i], st->max_pos);
        for (int j = 0; j < i; j++)
            if (slots[j] == slots[i])
                return pp_fail(err, PP_EINPUT, "inference: slot %d appears twice in one decode batch", slots[i]);
        st->row_slot[i] = slots[i];
        st->row_pos[i] = st->pos[slots[i]];
    }
    forward_rows(st, n, tokens, logits, 0);
    for (int i = 0; i < n; i++) st->pos[slots[i]]++;
    return PP_OK;
}
