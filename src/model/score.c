/* score.c - scoring sequences through infer_rows (score.h). */
#include "model/score.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "model/sample.h"

#define SCORE_ROWS 256
#define SCORE_CACHE_BYTES ((size_t)256 << 20)

pp_status scorer_init(scorer *sc, const model *m, int max_len, int max_rows, size_t cache_bytes, pp_err *err) {
    return scorer_init_shared(sc, m, max_len, max_rows, cache_bytes, 0, MPI_COMM_NULL, err);
}

/* The defaults of max_len and max_rows, and the cache slots that
 * cache_bytes holds (at least 1, at most max_rows): the one place that
 * sizes a scorer (scorer_init_shared, scorer_estimate_bytes). */
static int scorer_shape(const model_config *c, int *max_len, int *max_rows, size_t cache_bytes) {
    if (*max_len <= 0 || *max_len > c->seq_len) *max_len = c->seq_len;
    if (*max_rows <= 0) *max_rows = SCORE_ROWS;
    if (cache_bytes == 0) cache_bytes = SCORE_CACHE_BYTES;
    double slot_bytes = 2.0 * c->n_layers * *max_len * c->n_kv_heads * model_head_dim(c) * sizeof(float);
    double fit = (double)cache_bytes / slot_bytes;
    return fit < 1 ? 1 : fit > *max_rows ? *max_rows : (int)fit;
}

pp_status scorer_init_shared(scorer *sc, const model *m, int max_len, int max_rows, size_t cache_bytes, int share,
                             MPI_Comm comm, pp_err *err) {
    memset(sc, 0, sizeof *sc);
    const model_config *c = &m->cfg;
    int slots = scorer_shape(c, &max_len, &max_rows, cache_bytes);
    if (share && infer_share_weights(c)) PP_TRY(infer_init_shared(&sc->inf, m, slots, max_len, max_rows, comm, err));
    else PP_TRY(infer_init_rows(&sc->inf, m, slots, max_len, max_rows, err));
    sc->max_rows = max_rows;
    size_t R = (size_t)max_rows, S = (size_t)slots;
    sc->row_slot = malloc(5 * R * sizeof(int));
    sc->slot_seq = malloc(3 * S * sizeof(int));
    sc->slot_sum = malloc(S * sizeof(double));
    sc->logits = malloc(R * (size_t)c->vocab_size * sizeof(float));
    sc->hidden = malloc(R * (size_t)c->dim * sizeof(float));
    if (!sc->row_slot || !sc->slot_seq || !sc->slot_sum || !sc->logits || !sc->hidden) {
        scorer_free(sc);
        return pp_fail(err, PP_ESYS, "scorer: out of memory for %d rows of %d logits", max_rows, c->vocab_size);
    }
    sc->row_token = sc->row_slot + R;
    sc->row_seq = sc->row_token + R;
    sc->row_pos = sc->row_seq + R;
    sc->out_rows = sc->row_pos + R;
    sc->fed = sc->slot_seq + S;
    sc->slot_count = sc->fed + S;
    return PP_OK;
}

void scorer_free(scorer *sc) {
    infer_free(&sc->inf);
    free(sc->row_slot);
    free(sc->slot_seq);
    free(sc->slot_sum);
    free(sc->logits);
    free(sc->hidden);
    memset(sc, 0, sizeof *sc);
}

double scorer_estimate_bytes(const model_config *c, int max_len, int max_rows, size_t cache_bytes, int node_ranks) {
    int slots = scorer_shape(c, &max_len, &max_rows, cache_bytes);
    return infer_estimate_bytes(c, slots, max_len, max_rows, node_ranks) +
           (double)max_rows * ((double)c->vocab_size + c->dim) * sizeof(float) + (5.0 * max_rows + 3.0 * slots) * sizeof(int) +
           slots * sizeof(double);
}

size_t scorer_memory_bytes(const scorer *sc) {
    const model_config *c = &sc->inf.m->cfg;
    size_t R = (size_t)sc->max_rows, S = (size_t)sc->inf.max_seqs;
    return infer_memory_bytes(&sc->inf) + R * ((size_t)c->vocab_size + (size_t)c->dim) * sizeof(float) +
           5 * R * sizeof(int) + S * (3 * sizeof(int) + sizeof(double));
}

/* Put sequences next, next + 1, ... into the free slots, in order;
 * returns the first sequence not admitted. */
static int admit(scorer *sc, const train_batch *b, int next) {
    for (int slot = 0; slot < sc->inf.max_seqs && next < b->n_seq; slot++) {
        if (sc->slot_seq[slot] >= 0) continue;
        sc->slot_seq[slot] = next++;
        sc->fed[slot] = 0;
        sc->slot_sum[slot] = 0.0;
        sc->slot_count[slot] = 0;
        infer_reset(&sc->inf, slot);
    }
    return next;
}

/* Lay out one call: each occupied slot's next tokens, slot by slot, up to
 * max_rows rows; the rows whose next token is scored are out_rows.
 * Returns the number of rows; *n_out the scored ones. */
static int fill_rows(scorer *sc, const train_batch *b, const long *seq_start, int want_logits, int *n_out) {
    int n = 0;
    *n_out = 0;
    for (int slot = 0; slot < sc->inf.max_seqs && n < sc->max_rows; slot++) {
        int s = sc->slot_seq[slot];
        if (s < 0) continue;
        int len = b->lens[s], take = len - sc->fed[slot];
        if (take > sc->max_rows - n) take = sc->max_rows - n;
        for (int i = 0; i < take; i++, n++) {
            int p = sc->fed[slot] + i;
            long g = seq_start[s] + p;
            sc->row_slot[n] = slot;
            sc->row_token[n] = b->tokens[g];
            sc->row_seq[n] = s;
            sc->row_pos[n] = p;
            if (want_logits && p + 1 < len && (b->target_mask ? b->target_mask[g + 1] : 1))
                sc->out_rows[(*n_out)++] = n;
        }
        sc->fed[slot] += take;
    }
    return n;
}

pp_status scorer_run(scorer *sc, const train_batch *b, float *logp_out, int *ntok_out, float *hidden_out,
                     pp_err *err) {
    const model_config *c = &sc->inf.m->cfg;
    int V = c->vocab_size, d = c->dim, want_logits = logp_out || ntok_out;
    PP_TRY(train_batch_check(c, b, sc->inf.max_pos, LONG_MAX, err));
    long *seq_start = malloc(((size_t)b->n_seq + 1) * sizeof *seq_start); /* one per call, not per token */
    if (!seq_start) return pp_fail(err, PP_ESYS, "scorer: out of memory for %d sequences", b->n_seq);
    seq_start[0] = 0;
    for (int s = 0; s < b->n_seq; s++) seq_start[s + 1] = seq_start[s] + b->lens[s];
    for (int slot = 0; slot < sc->inf.max_seqs; slot++) sc->slot_seq[slot] = -1;

    pp_status st = PP_OK;
    for (int next = admit(sc, b, 0), n_out; st == PP_OK;) {
        int n = fill_rows(sc, b, seq_start, want_logits, &n_out);
        if (n == 0) break; /* every sequence done */
        st = infer_rows_hidden(&sc->inf, n, sc->row_slot, sc->row_token, n_out, sc->out_rows,
                               n_out ? sc->logits : NULL, hidden_out ? sc->hidden : NULL, err);
        if (st != PP_OK) break;
        if (hidden_out)
            for (int r = 0; r < n; r++)
                memcpy(hidden_out + (size_t)(seq_start[sc->row_seq[r]] + sc->row_pos[r]) * d,
                       sc->hidden + (size_t)r * d, (size_t)d * sizeof(float));
        /* a slot's scored rows come in position order: the sums run in
           model_forward_logps's order */
        for (int j = 0; j < n_out; j++) {
            int r = sc->out_rows[j], slot = sc->row_slot[r];
            int target = b->tokens[seq_start[sc->row_seq[r]] + sc->row_pos[r] + 1];
            sc->slot_sum[slot] += sample_logprob(sc->logits + (size_t)j * V, V, target);
            sc->slot_count[slot]++;
        }
        for (int slot = 0; slot < sc->inf.max_seqs; slot++) {
            int s = sc->slot_seq[slot];
            if (s < 0 || sc->fed[slot] < b->lens[s]) continue;
            if (logp_out) logp_out[s] = (float)sc->slot_sum[slot];
            if (ntok_out) ntok_out[s] = sc->slot_count[slot];
            sc->slot_seq[slot] = -1;
        }
        next = admit(sc, b, next);
    }
    free(seq_start);
    return st;
}
