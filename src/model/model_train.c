/* model_train.c - full-sequence forward and backward of the Llama model.
 *
 * Rows are the tokens of all sequences back to back.  The forward pass is
 * the inference pass's arithmetic (kernels.h): every projection is one
 * rowmatmul over all rows with the weights packed at the start of the
 * call, and RMSNorm, RoPE, attention (per query row, over the sequence's
 * keys transposed into a scratch, as the KV cache holds them), SwiGLU and
 * the final log-softmax (sample_logprob_lse) are the functions infer.c
 * calls.  So a token's log-prob has the same bits here, in a prefill, a
 * decode step or the scorer (score.h), in any batch: the reference
 * log-probs of DPO can come from the scorer and still equal the policy's
 * at step 1 exactly (docs/architecture.md, "One arithmetic").
 * The backward pass need not be batch-invariant: it runs each projection
 * over all rows at once with cblas_sgemm and attention per sequence and
 * head on causal row blocks.  It mirrors the forward pass from the top,
 * reading the activations kept in the workspace; only the logits are
 * recomputed (one block of scored rows at a time). */
#include "model/model_train.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/fastmath.h"
#include "model/kernels.h"
#include "model/rowmatmul.h"
#include "model/sample.h"

/* Query rows per causal attention block (backward). */
#define ATT_BLOCK 64
/* Upper bound of floats in one logits block (rows * vocab). */
#define LOGITS_BLOCK_FLOATS (1 << 21)

/* ---- allocation ---------------------------------------------------------- */

/* Lay the float arrays of ws out from base (NULL: only count) and return
 * the floats needed.  With recompute, the per-layer activations are kept
 * for one layer (slot 0) instead of L; the residual stream entering each
 * layer is always kept, it is what a layer is recomputed from. */
static size_t carve_workspace(train_ws *ws, float *base) {
    const model_config *cfg = &ws->cfg;
    size_t N = (size_t)ws->max_tokens, S = (size_t)ws->max_seq, L = (size_t)cfg->n_layers, R = ws->row_block;
    size_t Lk = ws->recompute ? 1 : L; /* layers whose activations are kept */
    size_t d = cfg->dim, hd = model_head_dim(cfg), V = cfg->vocab_size, hid = cfg->hidden_dim;
    size_t qd = (size_t)cfg->n_heads * hd, kvd = (size_t)cfg->n_kv_heads * hd;

    /* Every float array, in this order. */
    struct { float **p; size_t n; } parts[] = {
        {&ws->lse, N}, {&ws->tok_logp, N},
        {&ws->rope_cos, S * hd / 2}, {&ws->rope_sin, S * hd / 2}, {&ws->keys_t, kern_keys_floats((int)S, (int)kvd)},
        {&ws->resid, (L + 1) * N * d},
        {&ws->xn1, Lk * N * d}, {&ws->rstd1, Lk * N},
        {&ws->q, Lk * N * qd}, {&ws->k, Lk * N * kvd}, {&ws->v, Lk * N * kvd},
        {&ws->att, Lk * ws->att_layer_stride},
        {&ws->att_out, Lk * N * qd}, {&ws->xmid, Lk * N * d},
        {&ws->xn2, Lk * N * d}, {&ws->rstd2, Lk * N},
        {&ws->h1, Lk * N * hid}, {&ws->h3, Lk * N * hid}, {&ws->hg, N * hid},
        {&ws->xf, N * d}, {&ws->rstdf, N},
        {&ws->logits, R * V}, {&ws->rows, R * d}, {&ws->drows, R * d},
        {&ws->dx, N * d}, {&ws->dxn, N * d},
        {&ws->dq, N * qd}, {&ws->datt, N * qd}, {&ws->dk, N * kvd}, {&ws->dv, N * kvd},
        {&ws->dh1, N * hid}, {&ws->dh3, N * hid},
        {&ws->dscore, S * S},
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (base) *parts[i].p = base + total;
        total += (parts[i].n + 15) & ~(size_t)15; /* 64-byte aligned starts */
    }
    /* last: the packed copy of the weights the forward pass multiplies by */
    if (base) ws->packed = base + total;
    return total + packed_weights_floats(cfg);
}

/* The capacities of a workspace for cfg and max_tokens, nothing allocated. */
static void size_workspace(train_ws *ws, const model_config *cfg, int max_tokens, int recompute) {
    memset(ws, 0, sizeof *ws);
    ws->cfg = *cfg;
    ws->max_tokens = max_tokens;
    ws->max_seq = cfg->seq_len < max_tokens ? cfg->seq_len : max_tokens;
    ws->recompute = recompute;
    int R = LOGITS_BLOCK_FLOATS / cfg->vocab_size;
    if (R < 16) R = 16;
    if (R > 512) R = 512;
    if (R > max_tokens) R = max_tokens;
    ws->row_block = R;
    ws->att_layer_stride = (size_t)cfg->n_heads * (size_t)max_tokens * (size_t)ws->max_seq;
}

double train_ws_bytes(const model_config *cfg, int max_tokens, int recompute) {
    train_ws ws;
    size_workspace(&ws, cfg, max_tokens, recompute);
    return (double)carve_workspace(&ws, NULL) * sizeof(float) + (double)(6 * max_tokens + 2) * sizeof(int);
}

pp_status train_ws_alloc(train_ws *ws, const model_config *cfg, int max_tokens, pp_err *err) {
    return train_ws_alloc_mode(ws, cfg, max_tokens, 0, err);
}

pp_status train_ws_alloc_mode(train_ws *ws, const model_config *cfg, int max_tokens, int recompute, pp_err *err) {
    memset(ws, 0, sizeof *ws);
    PP_TRY(model_config_check(cfg, "train workspace", err));
    if (max_tokens < 1) return pp_fail(err, PP_EINPUT, "train workspace: max_tokens %d < 1", max_tokens);
    size_workspace(ws, cfg, max_tokens, recompute);
    size_t N = (size_t)max_tokens, S = (size_t)ws->max_seq;
    size_t total = carve_workspace(ws, NULL);
    ws->mem = malloc(total * sizeof(float));
    ws->imem = malloc((6 * N + 2) * sizeof(int));
    if (!ws->mem || !ws->imem) {
        train_ws_free(ws);
        return pp_fail(err, PP_ESYS, "train workspace: out of memory for %.1f MB of activations",
                       (double)total * 4 / 1e6);
    }
    carve_workspace(ws, ws->mem);
    ws->lens = ws->imem;
    ws->tokens = ws->imem + N;
    ws->scored_row = ws->imem + 2 * N;
    ws->scored_seq = ws->imem + 3 * N;
    ws->seq_start = ws->imem + 4 * N;        /* N + 1 entries */
    ws->scored_start = ws->imem + 5 * N + 1; /* N + 1 entries */

    model_rope_tables(cfg, (int)S, ws->rope_cos, ws->rope_sin);
    return PP_OK;
}

void train_ws_free(train_ws *ws) {
    free(ws->mem);
    free(ws->imem);
    memset(ws, 0, sizeof *ws);
}

/* ---- vectorisable helpers ---------------------------------------------------
 * Sums run in fastmath's lanes (fast_dot, fast_dot3) and exp is fastmath's
 * polynomial, which turns the softmax and SiLU loops into AVX code instead
 * of one call per element (see fastmath.h for why). */

static inline float sigmoid_fast(float x) { return 1.0f / (1.0f + fast_expf(-x)); }

/* ---- building blocks ----------------------------------------------------- */

/* One sgemm per group: a group's rows see only its own rows, so their
 * results cannot depend on the other groups (docs/architecture.md,
 * "Batch-invariant forward").  No longer used by the forward pass (which
 * multiplies with rowmatmul, as inference does); kept for the sgemm
 * measurements of tests/tools/sgemm_rows.c. */
void model_matmul_groups(float *out, const float *x, const float *w, int n_groups, const int *group_start, int in,
                         int o, float beta) {
    for (int g = 0; g < n_groups; g++) {
        int r0 = group_start[g], n = group_start[g + 1] - r0;
        if (n > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, o, in, 1.0f, x + (size_t)r0 * in, in, w, in,
                        beta, out + (size_t)r0 * o, o);
    }
}

/* out[n][o] (+)= x[n][in] . W^T over the n rows of the batch, W packed in
 * ws->pw (packed_layer): the rows' bits do not depend on the batch. */
static void matmul_packed(float *out, const float *x, const float *packed, int n, int in, int o, int accumulate) {
    rowmatmul(out, x, packed, n, in, o, accumulate);
}

/* dx[n][i] = dout[n][o] . w[o][i]  (+ dx when beta = 1) */
static void matmul_dx(float *dx, const float *dout, const float *w, int n, int in, int o, float beta) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, o, 1.0f, dout, o, w, in, beta, dx, in);
}

/* dw[o][i] += dout[n][o]^T . x[n][i] */
static void matmul_dw(float *dw, const float *dout, const float *x, int n, int in, int o) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, o, in, n, 1.0f, dout, o, x, in, 1.0f, dw, in);
}

/* RMSNorm of n rows (kern_rmsnorm's bits each), keeping 1/rms for backward. */
static void rmsnorm(float *out, float *rstd, const float *x, const float *w, int n, int d, float eps) {
    kern_rmsnorm_rows(out, x, w, n, d, eps, rstd);
}

/* Backward of out = w * x * r, r = 1/rms(x): dx += ..., dw += ...
 * dx_j = r * w_j * g_j - x_j * r^3 * (sum_k g_k w_k x_k) / d. */
static void rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                             const float *rstd, int n, int d) {
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * d, *gi = dout + (size_t)i * d;
        float *dxi = dx + (size_t)i * d;
        float r = rstd[i];
        float c = r * r * r * fast_dot3(gi, w, xi, d) / (float)d;
        for (int j = 0; j < d; j++) {
            dxi[j] += r * w[j] * gi[j] - c * xi[j];
            dw[j] += gi[j] * xi[j] * r;
        }
    }
}

/* RoPE over rows [0, n) of one sequence (row i at position i), width / hd
 * heads per row: kern_rope forward; with inverse, the opposite rotation
 * (the backward of a rotation). */
static void rope(float *x, int n, int width, int hd, const float *cosp, const float *sinp, int inverse) {
    int half = hd / 2;
    for (int pos = 0; pos < n; pos++) {
        float *row = x + (size_t)pos * width;
        const float *c = cosp + (size_t)pos * half, *s = sinp + (size_t)pos * half;
        if (!inverse) {
            kern_rope(row, width / hd, hd, c, s);
            continue;
        }
        for (int h = 0; h < width; h += hd)
            for (int j = 0; j < half; j++) {
                float a = row[h + 2 * j], b = row[h + 2 * j + 1];
                row[h + 2 * j] = a * c[j] + b * s[j];
                row[h + 2 * j + 1] = b * c[j] - a * s[j];
            }
    }
}

/* ---- attention ------------------------------------------------------------- */

/* Causal self-attention of one sequence (T rows starting at q, k, v),
 * all heads, each query row by kern_attend as infer.c's attend_row runs it:
 * the keys go into keys (the KV cache's block layout, kern_keys_put).  P
 * gets the probabilities [Hq][T][T], zero right of the diagonal (backward
 * reads them), out the weighted values. */
static void attention_forward(const model_config *c, int T, const float *q, const float *k, const float *v,
                              float *keys, float *P, float *out) {
    int hd = model_head_dim(c), qd = c->n_heads * hd, kvd = c->n_kv_heads * hd;
    for (int t = 0; t < T; t++) kern_keys_put(keys, kvd, t, k + (size_t)t * kvd);
    for (int i = 0; i < T; i++) {
        kern_attend(out + (size_t)i * qd, P + (size_t)i * T, (size_t)T * T, q + (size_t)i * qd, keys, v, c->n_heads,
                    c->n_kv_heads, hd, i + 1);
        for (int h = 0; h < c->n_heads; h++)
            memset(P + ((size_t)h * T + i) * T + i + 1, 0, (size_t)(T - i - 1) * sizeof(float));
    }
}

/* Backward of attention_forward: dout -> dq (overwritten), dk, dv (added;
 * heads of a group share them).  dS is T*T scratch. */
static void attention_backward(const model_config *c, int T, const float *q, const float *k, const float *v,
                               const float *P, const float *dout, float *dq, float *dk, float *dv, float *dS) {
    int hd = model_head_dim(c), qd = c->n_heads * hd, kvd = c->n_kv_heads * hd;
    int group = c->n_heads / c->n_kv_heads;
    float scale = 1.0f / sqrtf((float)hd);
    for (int h = 0; h < c->n_heads; h++) {
        int kvo = (h / group) * hd;
        const float *Ph = P + (size_t)h * T * T;
        for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
            int r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T, nr = r1 - r0;
            const float *Pb = Ph + (size_t)r0 * T, *dO = dout + (size_t)r0 * qd + h * hd;
            float *dSb = dS + (size_t)r0 * T;
            /* dP = dO V^T, then dS = P * (dP - rowsum(P * dP)) in place */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, r1, hd, 1.0f, dO, qd, v + kvo, kvd, 0.0f,
                        dSb, T);
            /* dV += P^T dO */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r1, hd, nr, 1.0f, Pb, T, dO, qd, 1.0f,
                        dv + kvo, kvd);
            for (int i = 0; i < nr; i++) {
                const float *p = Pb + (size_t)i * T;
                float *g = dSb + (size_t)i * T, pg = fast_dot(p, g, r1);
                for (int j = 0; j < r1; j++) g[j] = p[j] * (g[j] - pg);
            }
            /* dQ = scale dS K ; dK += scale dS^T Q */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr, hd, r1, scale, dSb, T, k + kvo, kvd, 0.0f,
                        dq + (size_t)r0 * qd + h * hd, qd);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r1, hd, nr, scale, dSb, T,
                        q + (size_t)r0 * qd + h * hd, qd, 1.0f, dk + kvo, kvd);
        }
    }
}

/* ---- forward --------------------------------------------------------------- */

pp_status train_batch_check(const model_config *c, const train_batch *b, int max_seq, long max_tokens,
                            pp_err *err) {
    if (b->n_seq < 1 || b->n_seq > max_tokens)
        return pp_fail(err, PP_EINPUT, "train batch: %d sequences (workspace holds 1..%ld)", b->n_seq, max_tokens);
    long total = 0;
    for (int s = 0; s < b->n_seq; s++) {
        if (b->lens[s] < 1 || b->lens[s] > max_seq)
            return pp_fail(err, PP_EINPUT, "train batch: sequence %d has %d tokens (allowed 1..%d)", s,
                           b->lens[s], max_seq);
        if (b->target_mask && b->target_mask[total] != 0)
            return pp_fail(err, PP_EINPUT,
                           "train batch: sequence %d scores its first token, which nothing predicts", s);
        total += b->lens[s];
        if (total > max_tokens)
            return pp_fail(err, PP_EINPUT, "train batch: more than %ld tokens in total", max_tokens);
    }
    for (long i = 0; i < total; i++) {
        if (b->tokens[i] < 0 || b->tokens[i] >= c->vocab_size)
            return pp_fail(err, PP_EINPUT, "train batch: token %ld has id %d outside the vocabulary (0..%d)", i,
                           b->tokens[i], c->vocab_size - 1);
        if (b->target_mask && b->target_mask[i] > 1)
            return pp_fail(err, PP_EINPUT, "train batch: target_mask[%ld] = %d is not 0 or 1", i,
                           b->target_mask[i]);
    }
    return PP_OK;
}

static pp_status check_batch(const model *m, const train_ws *ws, const train_batch *b, pp_err *err) {
    const model_config *c = &m->cfg, *wc = &ws->cfg;
    if (c->dim != wc->dim || c->hidden_dim != wc->hidden_dim || c->n_layers != wc->n_layers ||
        c->n_heads != wc->n_heads || c->n_kv_heads != wc->n_kv_heads || c->vocab_size != wc->vocab_size ||
        c->tied_embeddings != wc->tied_embeddings || c->rope_theta != wc->rope_theta ||
        model_head_dim(c) != model_head_dim(wc) || c->rope_scaling != wc->rope_scaling ||
        c->rope_factor != wc->rope_factor || c->rope_low_freq_factor != wc->rope_low_freq_factor ||
        c->rope_high_freq_factor != wc->rope_high_freq_factor || c->rope_original_max_pos != wc->rope_original_max_pos)
        return pp_fail(err, PP_EINPUT, "train batch: workspace was made for another model shape");
    return train_batch_check(c, b, ws->max_seq, ws->max_tokens, err);
}

/* Copy the batch into the workspace and list the scored rows, sequence by
 * sequence. */
static void record_batch(train_ws *ws, const train_batch *b) {
    ws->n_seq = b->n_seq;
    int n = 0, ns = 0;
    for (int s = 0; s < b->n_seq; s++) {
        ws->lens[s] = b->lens[s];
        ws->seq_start[s] = n;
        ws->scored_start[s] = ns;
        for (int i = 0; i < b->lens[s]; i++, n++) {
            ws->tokens[n] = b->tokens[n];
            int scored = i > 0 && (b->target_mask ? b->target_mask[n] : 1);
            if (scored) {
                ws->scored_row[ns] = n - 1; /* the row that predicts token n */
                ws->scored_seq[ns] = s;
                ns++;
            }
        }
    }
    ws->seq_start[b->n_seq] = n;
    ws->scored_start[b->n_seq] = ns;
    ws->n_tokens = n;
    ws->n_scored = ns;
}

/* Copy the hidden rows of scored block [b0, b0 + nr) into ws->rows and
 * compute their logits into ws->logits.  Callers cut blocks per sequence,
 * from its first scored row, so a block is the same in any batch. */
static void block_logits(const model *m, train_ws *ws, int b0, int nr) {
    int d = m->cfg.dim, V = m->cfg.vocab_size;
    for (int r = 0; r < nr; r++)
        memcpy(ws->rows + (size_t)r * d, ws->xf + (size_t)ws->scored_row[b0 + r] * d, (size_t)d * sizeof(float));
    matmul_packed(ws->logits, ws->rows, ws->pw.lm_head, nr, d, V, 0);
}

/* Size of the logits block that starts at scored row b0: row_block rows,
 * fewer at the end of b0's sequence. */
static int block_rows(const train_ws *ws, int b0) {
    int left = ws->scored_start[ws->scored_seq[b0] + 1] - b0;
    return left < ws->row_block ? left : ws->row_block;
}

/* Layer l of the forward pass over the batch's rows: from resid[l] to
 * resid[l + 1], keeping what backward reads. */
static void layer_forward(const model *m, train_ws *ws, int l) {
    const model_config *c = &m->cfg;
    const model_tensors *w = &m->w;
    const packed_weights *pw = &ws->pw;
    int N = ws->n_tokens, d = c->dim, hd = model_head_dim(c), hid = c->hidden_dim;
    int qd = c->n_heads * hd, kvd = c->n_kv_heads * hd;
    size_t Nmax = ws->max_tokens, sl = train_ws_slot(ws, l);
    float *x = ws->resid + l * Nmax * d, *xnext = ws->resid + (l + 1) * Nmax * d;
    float *xn1 = ws->xn1 + sl * Nmax * d, *q = ws->q + sl * Nmax * qd;
    float *k = ws->k + sl * Nmax * kvd, *v = ws->v + sl * Nmax * kvd;
    float *ao = ws->att_out + sl * Nmax * qd, *xmid = ws->xmid + sl * Nmax * d;
    float *xn2 = ws->xn2 + sl * Nmax * d;
    float *h1 = ws->h1 + sl * Nmax * hid, *h3 = ws->h3 + sl * Nmax * hid, *hg = ws->hg;
    float *att = ws->att + sl * ws->att_layer_stride;

    rmsnorm(xn1, ws->rstd1 + sl * Nmax, x, w->attn_norm + (size_t)l * d, N, d, c->norm_eps);
    matmul_packed(q, xn1, packed_layer(pw->wq, l, d, qd), N, d, qd, 0);
    matmul_packed(k, xn1, packed_layer(pw->wk, l, d, kvd), N, d, kvd, 0);
    matmul_packed(v, xn1, packed_layer(pw->wv, l, d, kvd), N, d, kvd, 0);
    size_t att_off = 0;
    for (int s = 0; s < ws->n_seq; s++) {
        int st = ws->seq_start[s], T = ws->lens[s];
        rope(q + (size_t)st * qd, T, qd, hd, ws->rope_cos, ws->rope_sin, 0);
        rope(k + (size_t)st * kvd, T, kvd, hd, ws->rope_cos, ws->rope_sin, 0);
        attention_forward(c, T, q + (size_t)st * qd, k + (size_t)st * kvd, v + (size_t)st * kvd, ws->keys_t,
                          att + att_off, ao + (size_t)st * qd);
        att_off += (size_t)c->n_heads * T * T;
    }
    memcpy(xmid, x, (size_t)N * d * sizeof(float));
    matmul_packed(xmid, ao, packed_layer(pw->wo, l, qd, d), N, qd, d, 1);

    rmsnorm(xn2, ws->rstd2 + sl * Nmax, xmid, w->ffn_norm + (size_t)l * d, N, d, c->norm_eps);
    matmul_packed(h1, xn2, packed_layer(pw->w_gate, l, d, hid), N, d, hid, 0);
    matmul_packed(h3, xn2, packed_layer(pw->w_up, l, d, hid), N, d, hid, 0);
    kern_swiglu(hg, h1, h3, (size_t)N * hid);
    memcpy(xnext, xmid, (size_t)N * d * sizeof(float));
    matmul_packed(xnext, hg, packed_layer(pw->w_down, l, hid, d), N, hid, d, 1);
}

pp_status model_forward_logps(const model *m, train_ws *ws, const train_batch *b, float *logp_out,
                              int *ntok_out, pp_err *err) {
    ws->ready = 0;
    PP_TRY(check_batch(m, ws, b, err));
    record_batch(ws, b);
    const model_config *c = &m->cfg;
    const model_tensors *w = &m->w;
    int N = ws->n_tokens, d = c->dim, V = c->vocab_size;
    size_t Nmax = ws->max_tokens;

    /* the weights may have changed since the last call (an optimizer
       step): pack them again, a copy as large as the model */
    packed_weights_fill(&ws->pw, ws->packed, m);
    for (int i = 0; i < N; i++)
        memcpy(ws->resid + (size_t)i * d, w->embed + (size_t)ws->tokens[i] * d, (size_t)d * sizeof(float));
    for (int l = 0; l < c->n_layers; l++) layer_forward(m, ws, l);
    rmsnorm(ws->xf, ws->rstdf, ws->resid + (size_t)c->n_layers * Nmax * d, w->final_norm, N, d, c->norm_eps);

    /* log-probabilities of the scored tokens, a block of rows at a time */
    memset(ws->tok_logp, 0, (size_t)N * sizeof(float));
    for (int b0 = 0, nr; b0 < ws->n_scored; b0 += nr) {
        nr = block_rows(ws, b0);
        block_logits(m, ws, b0, nr);
        for (int r = 0; r < nr; r++) {
            int target_row = ws->scored_row[b0 + r] + 1;
            ws->tok_logp[target_row] = sample_logprob_lse(ws->logits + (size_t)r * V, V, ws->tokens[target_row],
                                                          &ws->lse[b0 + r]);
        }
    }
    for (int s = 0; s < ws->n_seq; s++) {
        double sum = 0.0;
        int cnt = 0;
        for (int i = ws->seq_start[s] + 1; i < ws->seq_start[s + 1]; i++) {
            int scored = b->target_mask ? b->target_mask[i] : 1;
            sum += ws->tok_logp[i];
            cnt += scored;
        }
        if (logp_out) logp_out[s] = (float)sum;
        if (ntok_out) ntok_out[s] = cnt;
    }
    ws->ready = 1;
    return PP_OK;
}

/* ---- backward -------------------------------------------------------------- */

/* Backward of layer l: ws->dx holds dL/d(resid[l + 1]) and becomes
 * dL/d(resid[l]); the layer's parameter gradients are added into g.  Reads
 * the activations in the layer's slot: the caller recomputes them first
 * when the workspace does not keep every layer's. */
static void layer_backward(const model *m, train_ws *ws, int l, const model_tensors *gt) {
    const model_config *c = &m->cfg;
    const model_tensors *w = &m->w, g = *gt;
    int N = ws->n_tokens, d = c->dim, hd = model_head_dim(c), hid = c->hidden_dim;
    int qd = c->n_heads * hd, kvd = c->n_kv_heads * hd;
    size_t Nmax = ws->max_tokens, sl = train_ws_slot(ws, l);
    const float *x = ws->resid + l * Nmax * d;
    const float *xn1 = ws->xn1 + sl * Nmax * d, *q = ws->q + sl * Nmax * qd;
    const float *k = ws->k + sl * Nmax * kvd, *v = ws->v + sl * Nmax * kvd;
    const float *ao = ws->att_out + sl * Nmax * qd, *xmid = ws->xmid + sl * Nmax * d;
    const float *xn2 = ws->xn2 + sl * Nmax * d;
    const float *h1 = ws->h1 + sl * Nmax * hid, *h3 = ws->h3 + sl * Nmax * hid;
    const float *att = ws->att + sl * ws->att_layer_stride;
    float *dx = ws->dx, *dxn = ws->dxn, *dh1 = ws->dh1, *dh3 = ws->dh3;

    /* FFN: x_out = xmid + W_down (silu(W_gate xn2) * W_up xn2) */
    float *hg = ws->hg; /* silu(gate) * up is recomputed: cheaper than keeping L of them */
    kern_swiglu(hg, h1, h3, (size_t)N * hid);
    matmul_dw(g.w_down + (size_t)l * d * hid, dx, hg, N, hid, d);
    matmul_dx(dh1, dx, w->w_down + (size_t)l * d * hid, N, hid, d, 0.0f); /* d(hg) */
    for (size_t i = 0; i < (size_t)N * hid; i++) {
        float a = h1[i], s = sigmoid_fast(a), dhg = dh1[i];
        dh3[i] = dhg * a * s;
        dh1[i] = dhg * h3[i] * s * (1.0f + a * (1.0f - s));
    }
    matmul_dx(dxn, dh1, w->w_gate + (size_t)l * hid * d, N, d, hid, 0.0f);
    matmul_dx(dxn, dh3, w->w_up + (size_t)l * hid * d, N, d, hid, 1.0f);
    matmul_dw(g.w_gate + (size_t)l * hid * d, dh1, xn2, N, d, hid);
    matmul_dw(g.w_up + (size_t)l * hid * d, dh3, xn2, N, d, hid);
    rmsnorm_backward(dx, g.ffn_norm + (size_t)l * d, dxn, xmid, w->ffn_norm + (size_t)l * d,
                     ws->rstd2 + sl * Nmax, N, d);

    /* attention: xmid = x + W_o attention(rope(W_q xn1), rope(W_k xn1), W_v xn1) */
    matmul_dx(ws->datt, dx, w->wo + (size_t)l * d * qd, N, qd, d, 0.0f);
    matmul_dw(g.wo + (size_t)l * d * qd, dx, ao, N, qd, d);
    memset(ws->dk, 0, (size_t)N * kvd * sizeof(float));
    memset(ws->dv, 0, (size_t)N * kvd * sizeof(float));
    size_t att_off = 0;
    for (int s = 0; s < ws->n_seq; s++) {
        int st = ws->seq_start[s], T = ws->lens[s];
        attention_backward(c, T, q + (size_t)st * qd, k + (size_t)st * kvd, v + (size_t)st * kvd,
                           att + att_off, ws->datt + (size_t)st * qd, ws->dq + (size_t)st * qd,
                           ws->dk + (size_t)st * kvd, ws->dv + (size_t)st * kvd, ws->dscore);
        rope(ws->dq + (size_t)st * qd, T, qd, hd, ws->rope_cos, ws->rope_sin, 1);
        rope(ws->dk + (size_t)st * kvd, T, kvd, hd, ws->rope_cos, ws->rope_sin, 1);
        att_off += (size_t)c->n_heads * T * T;
    }
    matmul_dx(dxn, ws->dq, w->wq + (size_t)l * qd * d, N, d, qd, 0.0f);
    matmul_dx(dxn, ws->dk, w->wk + (size_t)l * kvd * d, N, d, kvd, 1.0f);
    matmul_dx(dxn, ws->dv, w->wv + (size_t)l * kvd * d, N, d, kvd, 1.0f);
    matmul_dw(g.wq + (size_t)l * qd * d, ws->dq, xn1, N, d, qd);
    matmul_dw(g.wk + (size_t)l * kvd * d, ws->dk, xn1, N, d, kvd);
    matmul_dw(g.wv + (size_t)l * kvd * d, ws->dv, xn1, N, d, kvd);
    rmsnorm_backward(dx, g.attn_norm + (size_t)l * d, dxn, x, w->attn_norm + (size_t)l * d,
                     ws->rstd1 + sl * Nmax, N, d);
}

pp_status model_backward(const model *m, train_ws *ws, const float *dlogp_seq, const float *dlogp_tok,
                         float *grads, pp_err *err) {
    return model_backward_hidden(m, ws, dlogp_seq, dlogp_tok, NULL, grads, err);
}

pp_status model_backward_hidden(const model *m, train_ws *ws, const float *dlogp_seq, const float *dlogp_tok,
                                const float *dhidden, float *grads, pp_err *err) {
    if (!ws->ready) return pp_fail(err, PP_EINPUT, "model_backward: no forward pass on this workspace");
    const model_config *c = &m->cfg;
    const model_tensors *w = &m->w;
    model_tensors g;
    model_point(&g, grads, c);
    int N = ws->n_tokens, d = c->dim, V = c->vocab_size, L = c->n_layers;
    size_t Nmax = ws->max_tokens;

    /* Head: dlogits = weight * (onehot(target) - softmax), block by block;
     * the hidden-state gradient of the final norm's output goes to dxn. */
    float *dxf = ws->dxn;
    memset(dxf, 0, (size_t)N * d * sizeof(float));
    for (int b0 = 0, nr; b0 < ws->n_scored; b0 += nr) {
        nr = block_rows(ws, b0);
        block_logits(m, ws, b0, nr);
        for (int r = 0; r < nr; r++) {
            int target_row = ws->scored_row[b0 + r] + 1;
            float wgt = (dlogp_seq ? dlogp_seq[ws->scored_seq[b0 + r]] : 0.0f) +
                        (dlogp_tok ? dlogp_tok[target_row] : 0.0f);
            float *z = ws->logits + (size_t)r * V, lse = ws->lse[b0 + r];
            for (int j = 0; j < V; j++) z[j] = -wgt * fast_expf(z[j] - lse);
            z[ws->tokens[target_row]] += wgt;
        }
        matmul_dx(ws->drows, ws->logits, w->lm_head, nr, d, V, 0.0f);
        matmul_dw(g.lm_head, ws->logits, ws->rows, nr, d, V);
        for (int r = 0; r < nr; r++)
            memcpy(dxf + (size_t)ws->scored_row[b0 + r] * d, ws->drows + (size_t)r * d, (size_t)d * sizeof(float));
    }
    /* a loss that reads the hidden rows themselves (a reward head) seeds
     * them directly; from here on the backward pass is the same */
    if (dhidden)
        for (size_t i = 0; i < (size_t)N * d; i++) dxf[i] += dhidden[i];
    memset(ws->dx, 0, (size_t)N * d * sizeof(float));
    rmsnorm_backward(ws->dx, g.final_norm, dxf, ws->resid + (size_t)L * Nmax * d, w->final_norm, ws->rstdf, N, d);

    /* ws->dx now holds dL/d(residual) at the top; walk the layers down. */
    for (int l = L - 1; l >= 0; l--) {
        if (ws->recompute) layer_forward(m, ws, l); /* the layer's activations again, from resid[l] */
        layer_backward(m, ws, l, &g);
    }

    /* token embeddings: scatter-add the residual gradient */
    for (int i = 0; i < N; i++) {
        float *ge = g.embed + (size_t)ws->tokens[i] * d;
        const float *dxi = ws->dx + (size_t)i * d;
        for (int j = 0; j < d; j++) ge[j] += dxi[j];
    }
    return PP_OK;
}
