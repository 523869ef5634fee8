/* infer.c - KV-cache forward pass, batched over rows (see infer.h).
 *
 * A "row" is one token of one sequence slot at one position.  Prefill sends
 * consecutive positions of one slot as rows; decode sends one row per active
 * slot; infer_rows sends any mix of both.  Every projection is one
 * rowmatmul over all rows (a row's bits never depend on the other rows), and
 * RoPE and attention (which read a row's own slot and position) loop per row. */
#include "model/infer.h"


#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/pp_testhook.h"
#include "model/rowmatmul.h"
#include "model/sample.h"

/* Rows per prefill chunk: enough for sgemm to run near its peak, small
 * enough that long prompts do not need prompt-sized activation buffers. */
#define PREFILL_CHUNK 256

/* Bytes of the next attention's keys and values prefetched during the
 * products: what the L3 can hold beside the weights it also streams (half
 * of it; 16 MB when the size is unknown).  Past that the first lines would
 * be evicted before the attention reads them. */
static size_t prefetch_budget(void) {
    long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
    return l3 > 0 ? (size_t)l3 / 2 : (size_t)16 << 20;
}

/* Packed weights below this size are held per rank, not once per node:
 * a private copy can be in huge pages (cache_alloc), a node-shared window
 * cannot (shared memory gets 4 KiB pages here), and at d=288 the products
 * ran 5% faster and a decode step 12% faster from huge pages
 * (docs/performance.md); ranks x 128 MiB is little next to a node. */
#define INFER_SHARE_MIN_BYTES ((double)(128 << 20))

int infer_share_weights(const model_config *c) {
    return (double)packed_weights_floats(c) * sizeof(float) >= INFER_SHARE_MIN_BYTES ||
           pp_test_hook_ms(PP_HOOK_SHARE_WEIGHTS) > 0;
}

/* The KV cache and private packed weights in 2 MiB pages where the kernel
 * offers them (transparent huge pages on request): a decode step streams
 * every slot's keys and values and all the weights, tens of MB, and with
 * 4 KiB pages every 4 KiB of that stream is a TLB miss and a page walk. */
static void *cache_alloc(size_t bytes) {
#if defined(MADV_HUGEPAGE)
    size_t huge = (size_t)2 << 20;
    if (bytes >= huge) {
        void *p = NULL;
        if (posix_memalign(&p, huge, (bytes + huge - 1) / huge * huge) != 0) return NULL;
        madvise(p, (bytes + huge - 1) / huge * huge, MADV_HUGEPAGE); /* advice only: 4 KiB pages if refused */
        return p;
    }
#endif
    return malloc(bytes);
}

pp_status infer_init(infer_state *st, const model *m, int max_seqs, int max_pos, pp_err *err) {
    return infer_init_rows(st, m, max_seqs, max_pos, 0, err);
}

pp_status infer_init_rows(infer_state *st, const model *m, int max_seqs, int max_pos, int max_rows, pp_err *err) {
    return infer_init_shared(st, m, max_seqs, max_pos, max_rows, MPI_COMM_NULL, err);
}

pp_status infer_init_shared(infer_state *st, const model *m, int max_seqs, int max_pos, int max_rows, MPI_Comm comm,
                            pp_err *err) {
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
    if (max_rows < 0 || max_rows > 1 << 20)
        return pp_fail(err, PP_EINPUT, "inference buffers: %d rows is out of range", max_rows);
    st->max_rows = max_seqs > chunk ? max_seqs : chunk;
    if (max_rows > st->max_rows) st->max_rows = max_rows;

    size_t rows = (size_t)st->max_rows, d = (size_t)c->dim, h = (size_t)c->hidden_dim, qd = (size_t)model_q_dim(c);
    size_t cache = (size_t)c->n_layers * (size_t)max_seqs * (size_t)max_pos * (size_t)st->kv_dim;
    size_t key_cache = (size_t)c->n_layers * (size_t)max_seqs * kern_keys_floats(max_pos, st->kv_dim);
    size_t half = (size_t)max_pos * (size_t)(hd / 2);
    size_t wt = packed_weights_floats(c);
    st->pos = calloc((size_t)max_seqs, sizeof *st->pos);
    st->key_cache = cache_alloc(key_cache * sizeof(float));
    st->value_cache = cache_alloc(cache * sizeof(float));
    st->rope_cos = malloc(half * sizeof(float));
    st->rope_sin = malloc(half * sizeof(float));
    pp_status shared = PP_OK;
    if (comm == MPI_COMM_NULL) st->wt_buffer = cache_alloc(wt * sizeof(float));
    else if ((shared = pp_node_shared_alloc(&st->wt_node, comm, wt * sizeof(float), err)) == PP_OK)
        st->wt_buffer = st->wt_node.base;
    if (shared != PP_OK) {
        infer_free(st);
        return shared;
    }
    st->x = malloc(rows * d * sizeof(float));
    st->xb = malloc(rows * (qd > d ? qd : d) * sizeof(float)); /* normed input, then attention output */
    st->q = malloc(rows * qd * sizeof(float));
    st->k = malloc(rows * (size_t)st->kv_dim * sizeof(float));
    st->v = malloc(rows * (size_t)st->kv_dim * sizeof(float));
    st->hb = malloc(rows * h * sizeof(float));
    st->hb2 = malloc(rows * h * sizeof(float));
    st->att = malloc((size_t)c->n_heads * max_pos * sizeof(float));
    st->row_slot = malloc(rows * sizeof(int));
    st->row_pos = malloc(rows * sizeof(int));
    st->slot_rows = malloc((rows > (size_t)max_seqs ? rows : (size_t)max_seqs) * sizeof(int));
    st->prefetch_ranges = malloc(4 * rows * sizeof *st->prefetch_ranges);
    st->prefetch_budget = prefetch_budget();
    if (!st->prefetch_ranges || !st->slot_rows ||!st->pos || !st->key_cache || !st->value_cache || !st->rope_cos || !st->rope_sin || !st->wt_buffer ||
        !st->x || !st->xb || !st->q || !st->k || !st->v || !st->hb || !st->hb2 || !st->att || !st->row_slot ||
        !st->row_pos) {
        infer_free(st);
        return pp_fail(err, PP_ESYS,
                       "inference cache: out of memory for %d slots x %d positions (%.1f MB) and the "
                       "packed weights (%.1f MB)",
                       max_seqs, max_pos, (double)(cache + key_cache) * sizeof(float) / 1e6,
                       (double)wt * sizeof(float) / 1e6);
    }
    /* one rank of a node packs a node-shared copy; the others wait for it */
    packed_weights_place(&st->wt, st->wt_buffer, m, comm == MPI_COMM_NULL || st->wt_node.owner);
    if (comm != MPI_COMM_NULL) pp_node_shared_sync(&st->wt_node);
    model_rope_tables(c, max_pos, st->rope_cos, st->rope_sin);
    return PP_OK;
}

void infer_free(infer_state *st) {
    free(st->pos);
    free(st->key_cache);
    free(st->value_cache);
    free(st->rope_cos);
    free(st->rope_sin);
    if (st->wt_node.have_win) pp_node_shared_free(&st->wt_node); /* collective on the node */
    else free(st->wt_buffer);
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
    free(st->slot_rows);
    free(st->prefetch_ranges);
    memset(st, 0, sizeof *st);
}

void infer_reset(infer_state *st, int slot) {
    if (slot >= 0 && slot < st->max_seqs) st->pos[slot] = 0;
}

int infer_position(const infer_state *st, int slot) {
    return slot >= 0 && slot < st->max_seqs ? st->pos[slot] : -1;
}

/* out[n][out_dim] (+)= in[n][in_dim] . W^T, W packed by rowmatmul_pack:
 * each row's result is the same in any batch (beta is 0 or 1). */
static void matmul_rows(float *out, const float *in, const float *wt, int n, int in_dim, int out_dim, float beta) {
    rowmatmul(out, in, wt, n, in_dim, out_dim, beta != 0.0f);
}

/* The same, prefetching the next attention's keys and values meanwhile. */
static void matmul_rows_prefetching(infer_state *st, float *out, const float *in, const float *wt, int n, int in_dim,
                                    int out_dim, float beta) {
    rowmatmul_prefetching(out, in, wt, n, in_dim, out_dim, beta != 0.0f, &st->prefetch);
}

/* The keys and values the rows' attention at this layer will read, in the
 * order it reads them, queued for the products before it.  First each
 * row's key block and value row that this layer's store writes (before
 * the attention; a miss there stalls the store), then each slot's whole
 * run (a prefill's rows of one slot read one run, its last row the
 * longest); at most prefetch_budget bytes. */
static void plan_prefetch(infer_state *st, int n, int layer) {
    size_t budget = st->prefetch_budget, key_slot = kern_keys_floats(st->max_pos, st->kv_dim);
    size_t kv_bytes = (size_t)st->kv_dim * sizeof(float), block_bytes = kv_bytes * KERN_KEY_BLOCK;
    int k = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int r = 0; r < n && budget > 0; r++) {
            if (r + 1 < n && st->row_slot[r + 1] == st->row_slot[r]) continue;
            size_t slot = (size_t)layer * st->max_seqs + (size_t)st->row_slot[r], pos = (size_t)st->row_pos[r];
            const char *keys = (const char *)(st->key_cache + slot * key_slot);
            const char *vals = (const char *)(st->value_cache + slot * st->max_pos * st->kv_dim);
            size_t key_from = pass ? 0 : pos / KERN_KEY_BLOCK * block_bytes, key_to = (pos / KERN_KEY_BLOCK + 1) * block_bytes;
            size_t val_from = pass ? 0 : pos * kv_bytes, val_to = (pos + 1) * kv_bytes;
            size_t key_bytes = key_to - key_from < budget ? key_to - key_from : budget;
            budget -= key_bytes;
            size_t val_bytes = val_to - val_from < budget ? val_to - val_from : budget;
            budget -= val_bytes;
            st->prefetch_ranges[k++] = (rowmatmul_range){keys + key_from, key_bytes};
            st->prefetch_ranges[k++] = (rowmatmul_range){vals + val_from, val_bytes};
        }
    rowmatmul_prefetch_start(&st->prefetch, st->prefetch_ranges, k);
}

/* Causal attention of row r over its own slot, positions 0..pos, for all
 * heads; the output goes to st->xb row r. */
static void attend_row(infer_state *st, int r, int layer) {
    const model_config *c = &st->m->cfg;
    int qd = model_q_dim(c), slot = st->row_slot[r];
    const float *keys = st->key_cache + ((size_t)layer * st->max_seqs + slot) * kern_keys_floats(st->max_pos, st->kv_dim);
    const float *vals = st->value_cache + ((size_t)layer * st->max_seqs + slot) * st->max_pos * st->kv_dim;
    kern_attend(st->xb + (size_t)r * qd, st->att, (size_t)st->max_pos, st->q + (size_t)r * qd, keys, vals, c->n_heads,
                c->n_kv_heads, model_head_dim(c), st->row_pos[r] + 1);
}

/* Ask for the cache lines row r's attention will read (its slot's keys
 * and values of this layer, positions 0..pos), ahead of time: issued
 * before the previous row's attention, they arrive while it computes.
 * Each row reads its own slot, one new stream of about 2 x 4 x kv_dim x
 * len bytes that the hardware prefetcher would only find after its first
 * misses; at 64 sequences the cache is far larger than the L3. */
static void prefetch_row(const infer_state *st, int r, int layer) {
    size_t slot = (size_t)layer * st->max_seqs + (size_t)st->row_slot[r], len = (size_t)st->row_pos[r] + 1;
    const char *keys = (const char *)(st->key_cache + slot * kern_keys_floats(st->max_pos, st->kv_dim));
    const char *vals = (const char *)(st->value_cache + slot * st->max_pos * st->kv_dim);
    size_t key_bytes = kern_keys_floats((int)len, st->kv_dim) * sizeof(float), val_bytes = len * st->kv_dim * sizeof(float);
    for (size_t o = 0; o < key_bytes; o += 64) __builtin_prefetch(keys + o, 0, 3);
    for (size_t o = 0; o < val_bytes; o += 64) __builtin_prefetch(vals + o, 0, 3);
}

/* Forward n rows (st->row_slot/row_pos set, tokens valid).  Writes each
 * row's keys and values into the cache.  Rows out_rows[0..n_out) (may be
 * 0) get their next-token logits, row i of logits for out_rows[i]. */
static void forward_rows(infer_state *st, int n, const int *tokens, int n_out, const int *out_rows, float *logits,
                         float *final_hidden) {
    const model_config *c = &st->m->cfg;
    const model_tensors *w = &st->m->w;
    const infer_weights_t *wt = &st->wt;
    int d = c->dim, hd = model_head_dim(c), kv_dim = st->kv_dim, hidden = c->hidden_dim, qd = model_q_dim(c);
    size_t slot_stride = (size_t)st->max_pos * kv_dim, key_slot = kern_keys_floats(st->max_pos, kv_dim);
    float eps = c->norm_eps;
    /* floats per layer of each packed matrix kind */
    size_t sz_dq = rowmatmul_packed_size(d, qd), sz_qd = rowmatmul_packed_size(qd, d);
    size_t sz_dkv = rowmatmul_packed_size(d, kv_dim);
    size_t sz_dh = rowmatmul_packed_size(d, hidden), sz_hd = rowmatmul_packed_size(hidden, d);

    for (int r = 0; r < n; r++)
        memcpy(st->x + (size_t)r * d, w->embed + (size_t)tokens[r] * d, (size_t)d * sizeof(float));
    plan_prefetch(st, n, 0);

    for (int l = 0; l < c->n_layers; l++) {
        /* attention: q, k, v for all rows at once */
        kern_rmsnorm_rows(st->xb, st->x, w->attn_norm + (size_t)l * d, n, d, eps, NULL);
        matmul_rows_prefetching(st, st->q, st->xb, wt->wq + l * sz_dq, n, d, qd, 0.0f);
        matmul_rows_prefetching(st, st->k, st->xb, wt->wk + l * sz_dkv, n, d, kv_dim, 0.0f);
        matmul_rows_prefetching(st, st->v, st->xb, wt->wv + l * sz_dkv, n, d, kv_dim, 0.0f);

        /* RoPE, then store this row's key and value in its slot */
        for (int r = 0; r < n; r++) {
            const float *cs = st->rope_cos + (size_t)st->row_pos[r] * (hd / 2);
            const float *sn = st->rope_sin + (size_t)st->row_pos[r] * (hd / 2);
            float *kr = st->k + (size_t)r * kv_dim;
            kern_rope(st->q + (size_t)r * qd, c->n_heads, hd, cs, sn);
            kern_rope(kr, c->n_kv_heads, hd, cs, sn);
            size_t slot = (size_t)l * st->max_seqs + (size_t)st->row_slot[r];
            kern_keys_put(st->key_cache + slot * key_slot, kv_dim, st->row_pos[r], kr);
            memcpy(st->value_cache + slot * slot_stride + (size_t)st->row_pos[r] * kv_dim, st->v + (size_t)r * kv_dim,
                   (size_t)kv_dim * sizeof(float));
        }
        for (int r = 0; r < n; r++) {
            if (r + 1 < n && st->row_slot[r + 1] != st->row_slot[r]) prefetch_row(st, r + 1, l); /* not a prefill's next row */
            attend_row(st, r, l);
        }
        /* the products from here to the next attention fetch its keys and
           values; after the last layer, layer 0's for the next step, whose
           rows are mostly the same slots one position on */
        plan_prefetch(st, n, l + 1 < c->n_layers ? l + 1 : 0);
        /* x += attention output . wo^T */
        matmul_rows_prefetching(st, st->x, st->xb, wt->wo + l * sz_qd, n, qd, d, 1.0f);

        /* SwiGLU feed-forward: x += (silu(xb.w1^T) * (xb.w3^T)) . w2^T */
        kern_rmsnorm_rows(st->xb, st->x, w->ffn_norm + (size_t)l * d, n, d, eps, NULL);
        matmul_rows_prefetching(st, st->hb, st->xb, wt->w_gate + l * sz_dh, n, d, hidden, 0.0f);
        matmul_rows_prefetching(st, st->hb2, st->xb, wt->w_up + l * sz_dh, n, d, hidden, 0.0f);
        kern_swiglu(st->hb, st->hb, st->hb2, (size_t)n * hidden);
        matmul_rows_prefetching(st, st->x, st->hb, wt->w_down + l * sz_hd, n, hidden, d, 1.0f);
    }

    if (final_hidden)
        for (int r = 0; r < n; r++)
            kern_rmsnorm(final_hidden + (size_t)r * d, st->x + (size_t)r * d, w->final_norm, d, eps);
    if (n_out <= 0) return;
    for (int r = 0; r < n_out; r++)
        kern_rmsnorm(st->xb + (size_t)r * d, st->x + (size_t)out_rows[r] * d, w->final_norm, d, eps);
    matmul_rows_prefetching(st, logits, st->xb, wt->lm_head, n_out, d, c->vocab_size, 0.0f);
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
        int last = start + rows == n && logits, out_row = rows - 1;
        forward_rows(st, rows, tokens + start, last, &out_row, logits, NULL);
        st->pos[slot] += rows;
    }
    return PP_OK;
}

pp_status infer_copy_seq(infer_state *st, int src, int dst, pp_err *err) {
    PP_TRY(check_slot(st, src, err));
    return infer_copy_prefix(st, src, dst, st->pos[src], err);
}

pp_status infer_copy_prefix(infer_state *st, int src, int dst, int n, pp_err *err) {
    PP_TRY(check_slot(st, src, err));
    PP_TRY(check_slot(st, dst, err));
    if (n < 0 || n > st->pos[src])
        return pp_fail(err, PP_EINPUT, "inference: copy of %d positions from slot %d, which has %d", n, src,
                       st->pos[src]);
    if (src == dst) {
        st->pos[dst] = n;
        return PP_OK;
    }
    size_t kv_dim = (size_t)st->kv_dim, slot_stride = (size_t)st->max_pos * kv_dim;
    size_t key_slot = kern_keys_floats(st->max_pos, st->kv_dim);
    for (int l = 0; l < st->m->cfg.n_layers; l++) {
        size_t at = (size_t)l * st->max_seqs;
        /* whole key blocks: the positions past n are written before they are read */
        memcpy(st->key_cache + (at + dst) * key_slot, st->key_cache + (at + src) * key_slot,
               kern_keys_floats(n, st->kv_dim) * sizeof(float));
        memcpy(st->value_cache + (at + dst) * slot_stride, st->value_cache + (at + src) * slot_stride,
               (size_t)n * kv_dim * sizeof(float));
    }
    st->pos[dst] = n;
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
    for (int i = 0; i < n; i++) st->slot_rows[i] = i;
    forward_rows(st, n, tokens, logits ? n : 0, st->slot_rows, logits, NULL);
    for (int i = 0; i < n; i++) st->pos[slots[i]]++;
    return PP_OK;
}

pp_status infer_rows(infer_state *st, int n, const int *slots, const int *tokens, int n_out, const int *out_rows,
                     float *logits, pp_err *err) {
    return infer_rows_hidden(st, n, slots, tokens, n_out, out_rows, logits, NULL, err);
}

pp_status infer_rows_hidden(infer_state *st, int n, const int *slots, const int *tokens, int n_out,
                            const int *out_rows, float *logits, float *hidden, pp_err *err) {
    if (n <= 0 || n > st->max_rows)
        return pp_fail(err, PP_EINPUT, "inference: batch of %d rows (at most %d)", n, st->max_rows);
    for (int i = 0; i < n; i++) {
        PP_TRY(check_slot(st, slots[i], err));
        PP_TRY(check_token(st, tokens[i], err));
        st->slot_rows[slots[i]] = 0;
    }
    /* a slot's rows take its next positions in the order they appear */
    for (int i = 0; i < n; i++) {
        int s = slots[i], p = st->pos[s] + st->slot_rows[s]++;
        if (p >= st->max_pos)
            return pp_fail(err, PP_EINPUT, "inference: slot %d is full (%d positions)", s, st->max_pos);
        st->row_slot[i] = s;
        st->row_pos[i] = p;
    }
    for (int i = 0; i < n_out; i++)
        if (out_rows[i] < 0 || out_rows[i] >= n)
            return pp_fail(err, PP_EINPUT, "inference: logits of row %d of a batch of %d", out_rows[i], n);
    forward_rows(st, n, tokens, n_out, out_rows, logits, hidden);
    for (int i = 0; i < n; i++) st->pos[slots[i]]++;
    return PP_OK;
}

/* Bytes of a state for config c whose packed weights are shared by
 * `sharing` ranks (1: a private copy). */
static double state_bytes(const model_config *c, int max_seqs, int max_pos, int max_rows, int sharing) {
    if (max_pos <= 0 || max_pos > c->seq_len) max_pos = c->seq_len;
    int chunk = max_pos < PREFILL_CHUNK ? max_pos : PREFILL_CHUNK, rows = max_seqs > chunk ? max_seqs : chunk;
    if (max_rows > rows) rows = max_rows;
    double kv = (double)c->n_kv_heads * model_head_dim(c), d = c->dim, qd = model_q_dim(c);
    /* values [pos][kv]; keys in blocks of positions (kern_keys_floats) */
    double cache = (double)c->n_layers * max_seqs * (max_pos * kv + (double)kern_keys_floats(max_pos, (int)kv));
    double acts = rows * (d + (qd > d ? qd : d) + qd + 2 * kv + 2.0 * c->hidden_dim);
    double wt = (double)packed_weights_floats(c) / (sharing > 1 ? sharing : 1);
    double rope = (double)max_pos * 2 * (model_head_dim(c) / 2), att = (double)c->n_heads * max_pos;
    return (cache + acts + rope + wt + att) * sizeof(float) + (max_seqs + 3.0 * rows) * sizeof(int) +
           4.0 * rows * sizeof(rowmatmul_range);
}

size_t infer_memory_bytes(const infer_state *st) {
    int sharing = st->wt_node.have_win ? st->wt_node.node_size : 1;
    return (size_t)state_bytes(&st->m->cfg, st->max_seqs, st->max_pos, st->max_rows, sharing);
}

double infer_estimate_bytes(const model_config *c, int max_seqs, int max_pos, int max_rows, int node_ranks) {
    return state_bytes(c, max_seqs, max_pos, max_rows, infer_share_weights(c) ? node_ranks : 1);
}

void infer_step_products(const infer_state *st, int n, const float *in, float *out) {
    const model_config *c = &st->m->cfg;
    const infer_weights_t *wt = &st->wt;
    int d = c->dim, kv = st->kv_dim, h = c->hidden_dim, qd = model_q_dim(c);
    size_t sz_dq = rowmatmul_packed_size(d, qd), sz_qd = rowmatmul_packed_size(qd, d);
    size_t sz_dkv = rowmatmul_packed_size(d, kv);
    size_t sz_dh = rowmatmul_packed_size(d, h), sz_hd = rowmatmul_packed_size(h, d);
    for (int l = 0; l < c->n_layers; l++) {
        matmul_rows(out, in, wt->wq + l * sz_dq, n, d, qd, 0.0f);
        matmul_rows(out, in, wt->wk + l * sz_dkv, n, d, kv, 0.0f);
        matmul_rows(out, in, wt->wv + l * sz_dkv, n, d, kv, 0.0f);
        matmul_rows(out, in, wt->wo + l * sz_qd, n, qd, d, 0.0f);
        matmul_rows(out, in, wt->w_gate + l * sz_dh, n, d, h, 0.0f);
        matmul_rows(out, in, wt->w_up + l * sz_dh, n, d, h, 0.0f);
        matmul_rows(out, in, wt->w_down + l * sz_hd, n, h, d, 0.0f);
    }
    matmul_rows(out, in, wt->lm_head, n, d, c->vocab_size, 0.0f);
}
