/* decode.c - the continuous-batching decoder (decode.h). */
#include "model/decode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/candidates.h"

/* Bytes of one sequence's KV cache of max_pos positions: values row by
 * row, keys in whole blocks of KERN_KEY_BLOCK positions (kernels.h). */
static double kv_bytes_per_seq(const model_config *c, int max_pos) {
    int kv = c->n_kv_heads * model_head_dim(c);
    return (double)c->n_layers * ((double)max_pos * kv + (double)kern_keys_floats(max_pos, kv)) * sizeof(float);
}

pp_status decoder_init(decoder *d, const model *m, const decoder_params *p, pp_err *err) {
    memset(d, 0, sizeof *d);
    const model_config *c = &m->cfg;
    if (p->k < 1 || p->k > 4096) return pp_fail(err, PP_EINPUT, "--k %d: must be between 1 and 4096", p->k);
    if (p->max_batch < 1 || p->max_batch > 1 << 16)
        return pp_fail(err, PP_EINPUT, "--max-batch %d: must be between 1 and 65536", p->max_batch);
    if (p->max_new_tokens < 1)
        return pp_fail(err, PP_EINPUT, "--max-new-tokens %d: must be at least 1", p->max_new_tokens);
    PP_TRY(sample_params_check(&p->sample, err));
    if (p->max_prompt_tokens < 1 || p->max_prompt_tokens > c->seq_len)
        return pp_fail(err, PP_EINPUT, "prompts of %d tokens do not fit the model's context of %d",
                       p->max_prompt_tokens, c->seq_len);
    d->m = m;
    d->p = *p;
    /* positions used: the prompt, then every generated token but the last */
    int64_t need = (int64_t)p->max_prompt_tokens + p->max_new_tokens - 1;
    d->max_pos = need < c->seq_len ? (int)need : c->seq_len;
    d->row_tokens = p->max_new_tokens < c->seq_len ? p->max_new_tokens : c->seq_len;
    double per_seq = kv_bytes_per_seq(c, d->max_pos);
    d->slots = p->max_batch;
    if (p->kv_cache_mb > 0) {
        double fit = p->kv_cache_mb * 1048576.0 / per_seq;
        if (fit < 1.0)
            return pp_fail(err, PP_EINPUT,
                           "--kv-cache-mb %g holds no sequence: one of %d positions needs %.2f MiB of KV cache",
                           p->kv_cache_mb, d->max_pos, per_seq / 1048576.0);
        if (fit < d->slots) d->slots = (int)fit;
    }
    int S = d->slots, rows = S + DECODER_PREFILL_ROWS;
    if (p->share_weights && infer_share_weights(c)) PP_TRY(infer_init_shared(&d->st, m, S, d->max_pos, rows, p->share_comm, err));
    else PP_TRY(infer_init_rows(&d->st, m, S, d->max_pos, rows, err));
    size_t V = (size_t)c->vocab_size, T = (size_t)d->row_tokens;
    d->open = malloc((size_t)(S + 1) * sizeof *d->open);
    d->open_left = calloc((size_t)(S + 1), sizeof(int));
    d->seq_prompt = malloc((size_t)S * sizeof(int));
    d->seq_k = malloc((size_t)S * sizeof(int));
    d->fed = malloc((size_t)S * sizeof(int));
    d->prefix_of = malloc((size_t)S * sizeof(int));
    d->n_gen = malloc((size_t)S * sizeof(int));
    d->gen = malloc((size_t)S * T * sizeof(int));
    d->gen_lp = malloc((size_t)S * T * sizeof(float));
    d->logp = malloc((size_t)S * sizeof(double));
    d->rng = malloc((size_t)S * sizeof(pp_rng));
    d->stop_st = malloc((size_t)S * sizeof(stop_state));
    d->row_slot = malloc((size_t)rows * sizeof(int));
    d->row_token = malloc((size_t)rows * sizeof(int));
    d->out_row = malloc((size_t)S * sizeof(int));
    d->out_slot = malloc((size_t)S * sizeof(int));
    d->logits = malloc((size_t)S * V * sizeof(float));
    d->scratch = malloc(V * sizeof(sample_candidate));
    if (!d->open || !d->open_left || !d->seq_prompt || !d->seq_k || !d->fed || !d->prefix_of || !d->n_gen || !d->gen ||
        !d->gen_lp || !d->logp || !d->rng || !d->stop_st || !d->row_slot || !d->row_token || !d->out_row ||
        !d->out_slot || !d->logits || !d->scratch) {
        decoder_free(d);
        return pp_fail(err, PP_ESYS, "out of memory for a decoder of %d sequences", S);
    }
    for (int s = 0; s < S; s++) d->seq_prompt[s] = d->prefix_of[s] = -1;
    return PP_OK;
}

void decoder_free(decoder *d) {
    infer_free(&d->st);
    free(d->open);
    free(d->open_left);
    free(d->seq_prompt);
    free(d->seq_k);
    free(d->fed);
    free(d->prefix_of);
    free(d->n_gen);
    free(d->gen);
    free(d->gen_lp);
    free(d->logp);
    free(d->rng);
    free(d->stop_st);
    free(d->row_slot);
    free(d->row_token);
    free(d->out_row);
    free(d->out_slot);
    free(d->logits);
    free(d->scratch);
    memset(d, 0, sizeof *d);
}

double decoder_estimate_bytes(const model *m, const decoder_params *p, int node_ranks) {
    const model_config *c = &m->cfg;
    double need = (double)p->max_prompt_tokens + p->max_new_tokens - 1;
    int max_pos = need < c->seq_len ? (int)need : c->seq_len;
    double row_tokens = p->max_new_tokens < c->seq_len ? p->max_new_tokens : c->seq_len;
    double per_seq = kv_bytes_per_seq(c, max_pos);
    double slots = p->max_batch;
    if (p->kv_cache_mb > 0 && p->kv_cache_mb * 1048576.0 / per_seq < slots)
        slots = floor(p->kv_cache_mb * 1048576.0 / per_seq);
    if (slots < 1) slots = 1;
    /* the inference state (decoder_init's infer_init_rows), then the
       decoder's own per-slot logits and token/log-prob rows */
    double inference = infer_estimate_bytes(c, (int)slots, max_pos, (int)slots + DECODER_PREFILL_ROWS,
                                            p->share_weights ? node_ranks : 1);
    return inference + slots * (double)c->vocab_size * 4 + slots * row_tokens * 8 +
           (double)c->vocab_size * sizeof(sample_candidate);
}

size_t decoder_memory_bytes(const decoder *d) {
    size_t S = (size_t)d->slots, T = (size_t)d->row_tokens, rows = S + DECODER_PREFILL_ROWS;
    return infer_memory_bytes(&d->st) + (S + 1) * (sizeof(decoder_prompt) + sizeof(int)) + S * (5 * sizeof(int) + sizeof(double) + sizeof(pp_rng)) +
           S * T * (sizeof(int) + sizeof(float)) + rows * 2 * sizeof(int) + S * 2 * sizeof(int) +
           S * (size_t)d->m->cfg.vocab_size * sizeof(float) + (size_t)d->m->cfg.vocab_size * sizeof(sample_candidate);
}

/* Put candidate k of open prompt e into free slot s.  Returns 0 when it
 * must wait: a sibling is still prefilling the shared positions. */
static int admit(decoder *d, int e, int k, int s, pp_err *err) {
    const decoder_prompt *pr = &d->open[e];
    int shared = pr->n_tokens - 1, src = -1;
    if (shared > 0 && d->prefix_of[s] != e)
        for (int q = 0; q < d->slots && src < 0; q++)
            if (d->prefix_of[q] == e) src = q;
    if (shared > 0 && d->prefix_of[s] != e && src < 0)
        for (int q = 0; q < d->slots; q++)
            if (d->seq_prompt[q] == e) return 0; /* its prefill will be there next step */
    if (shared == 0) {
        infer_reset(&d->st, s);
        d->fed[s] = 0;
    } else if (d->prefix_of[s] == e || src >= 0) {
        /* cannot fail: src holds at least `shared` positions */
        if (infer_copy_prefix(&d->st, d->prefix_of[s] == e ? s : src, s, shared, err) != PP_OK) return -1;
        d->fed[s] = shared;
        d->prefix_of[s] = e;
    } else {
        infer_reset(&d->st, s);
        d->fed[s] = 0;
        d->prefix_of[s] = -1;
    }
    d->seq_prompt[s] = e;
    d->seq_k[s] = k;
    d->n_gen[s] = 0;
    d->logp[s] = 0.0;
    d->rng[s] = pp_rng_stream(d->p.seed, (uint64_t)pr->id, (uint64_t)k);
    stop_state_reset(&d->stop_st[s]);
    return 1;
}

/* The token candidate in slot s feeds at index i: the prompt's, then its own. */
static int token_at(const decoder *d, const decoder_prompt *pr, int s, int i) {
    return i < pr->n_tokens ? pr->tokens[i] : d->gen[(size_t)s * d->row_tokens + (i - pr->n_tokens)];
}

int decoder_finish(const decoder *d, int t, int generated, int n_prompt) {
    if (tok_is_eos(&d->m->tok, t) || t == d->m->tok.bos_id) return FINISH_EOS; /* run.c stops on BOS */
    if (generated >= d->p.max_new_tokens) return FINISH_MAX_TOKENS;
    if (n_prompt - 1 + generated >= d->m->cfg.seq_len) return FINISH_CONTEXT; /* no position to feed it */
    return -1;
}

/* Sample slot s's next token from its logits row; returns its FINISH_* or
 * -1 when it goes on: decoder_finish's rules, and a stop token or string
 * of p.stop (matched on every token, so its state follows the text). */
static int sample_next(decoder *d, int s, const float *logits, const decoder_prompt *pr) {
    int n_prompt = pr->n_tokens;
    float lp = 0.0f;
    int t = sample_token(logits, d->m->cfg.vocab_size, &d->p.sample, &d->rng[s], d->scratch, &lp);
    int i = d->n_gen[s]++;
    d->gen[(size_t)s * d->row_tokens + i] = t;
    d->gen_lp[(size_t)s * d->row_tokens + i] = lp;
    d->logp[s] += (double)lp;
    int fin = decoder_finish(d, t, i + 1, n_prompt);
    if (fin != FINISH_EOS && d->p.stop &&
        stop_hit(d->p.stop, &d->stop_st[s], &d->m->tok, token_at(d, pr, s, n_prompt + i - 1), t))
        fin = FINISH_STOP;
    return fin;
}

/* Take the next prompt from the source into a free entry of the open
 * table: *entry gets it, or -1 when the source has no more.  A free entry
 * always exists: every open prompt but the one being admitted has a
 * running candidate, and there are slots + 1 entries. */
static pp_status pull_prompt(decoder *d, decoder_source source, void *src_ctx, int *entry, pp_err *err) {
    int e = 0, got = 0;
    while (e <= d->slots && d->open_left[e] > 0) e++;
    if (e > d->slots) return pp_fail(err, PP_ESYS, "decoder: no free entry for a prompt");
    decoder_prompt pr;
    PP_TRY(source(src_ctx, &pr, &got, err));
    *entry = -1;
    if (!got) return PP_OK;
    if (pr.n_tokens < 1 || pr.n_tokens > d->p.max_prompt_tokens)
        return pp_fail(err, PP_EINPUT, "prompt id %lld: %d tokens, the decoder holds at most %d", (long long)pr.id,
                       pr.n_tokens, d->p.max_prompt_tokens);
    for (int s = 0; s < d->slots; s++) /* a cached prefix of the entry's last prompt is stale now */
        if (d->prefix_of[s] == e) d->prefix_of[s] = -1;
    d->open[e] = pr;
    d->open_left[e] = d->p.k;
    *entry = e;
    return PP_OK;
}

/* Fill the rows of one step: one per decoding slot, then prompt rows up
 * to DECODER_PREFILL_ROWS.  Returns the number of rows; *n_out gets the
 * number of rows whose logits are wanted. */
static int gather_rows(decoder *d, int *n_out) {
    int nr = 0, no = 0, budget = DECODER_PREFILL_ROWS;
    for (int pass = 0; pass < 2; pass++)
        for (int s = 0; s < d->slots; s++) {
            int e = d->seq_prompt[s];
            if (e < 0 || (pass == 0) != (d->n_gen[s] > 0)) continue;
            const decoder_prompt *pr = &d->open[e];
            int known = pr->n_tokens + d->n_gen[s], take = known - d->fed[s];
            if (pass == 1 && take > budget) take = budget;
            if (pass == 1) budget -= take;
            for (int i = 0; i < take; i++) {
                d->row_slot[nr] = s;
                d->row_token[nr++] = token_at(d, pr, s, d->fed[s] + i);
            }
            d->fed[s] += take;
            if (take > 0 && d->fed[s] == known) {
                d->out_row[no] = nr - 1;
                d->out_slot[no++] = s;
            }
            if (d->fed[s] >= pr->n_tokens - 1 && d->prefix_of[s] != e && d->fed[s] > 0) d->prefix_of[s] = e;
        }
    *n_out = no;
    return nr;
}

pp_status decoder_pull(decoder *d, decoder_source source, void *src_ctx, decoder_sink sink, void *ctx,
                       pp_err *err) {
    int K = d->p.k, S = d->slots, V = d->m->cfg.vocab_size;
    for (int s = 0; s < S; s++) d->seq_prompt[s] = d->prefix_of[s] = -1;
    for (int e = 0; e <= S; e++) d->open_left[e] = 0;
    int cur = -1, next_k = 0, running = 0, more = 1;
    pp_status st = PP_OK;
    while (st == PP_OK && (more || running > 0)) {
        /* refill free slots, candidates in (prompt, k) order */
        for (int s = 0; s < S && more; s++) {
            if (d->seq_prompt[s] >= 0) continue;
            if (cur < 0) {
                PP_TRY(pull_prompt(d, source, src_ctx, &cur, err));
                if (cur < 0) {
                    more = 0;
                    break;
                }
                next_k = 0;
            }
            int ok = admit(d, cur, next_k, s, err);
            if (ok < 0) return PP_ESYS;
            if (!ok) break;
            running++;
            if (++next_k == K) cur = -1;
        }
        if (running == 0) continue;
        int no, nr = gather_rows(d, &no);
        if (nr == 0) return pp_fail(err, PP_ESYS, "decoder: a step with nothing to feed");
        PP_TRY(infer_rows(&d->st, nr, d->row_slot, d->row_token, no, d->out_row, d->logits, err));
        d->steps++;
        d->rows += nr;
        for (int j = 0; j < no && st == PP_OK; j++) {
            int s = d->out_slot[j], e = d->seq_prompt[s];
            int fin = sample_next(d, s, d->logits + (size_t)j * V, &d->open[e]);
            d->tokens++;
            if (fin < 0) continue;
            decoder_result r = {d->open[e].tag, d->seq_k[s], d->gen + (size_t)s * d->row_tokens,
                                d->gen_lp + (size_t)s * d->row_tokens, d->n_gen[s], d->logp[s], fin};
            st = sink(ctx, &r, err);
            d->seq_prompt[s] = -1;
            d->open_left[e]--;
            running--;
        }
        if (d->poll) d->poll(d->poll_ctx);
    }
    return st;
}

/* decoder_run's source: the next prompt of an array, tagged with its index. */
typedef struct {
    const decoder_prompt *prompts;
    int n, next;
} array_source;

static pp_status next_of_array(void *ctx, decoder_prompt *pr, int *got, pp_err *err) {
    array_source *a = ctx;
    *got = a->next < a->n;
    if (*got) {
        *pr = a->prompts[a->next];
        pr->tag = a->next++;
    }
    return PP_OK;
}

pp_status decoder_run(decoder *d, const decoder_prompt *prompts, int n, decoder_sink sink, void *ctx, pp_err *err) {
    for (int i = 0; i < n; i++)
        if (prompts[i].n_tokens < 1 || prompts[i].n_tokens > d->p.max_prompt_tokens)
            return pp_fail(err, PP_EINPUT, "prompt id %lld: %d tokens, the decoder holds at most %d",
                           (long long)prompts[i].id, prompts[i].n_tokens, d->p.max_prompt_tokens);
    array_source a = {prompts, n, 0};
    return decoder_pull(d, next_of_array, &a, sink, ctx, err);
}
