/* generate.c - K candidates per prompt, and the resumable distributed run (generate.h). */
#include "generate/generate.h"
#include "core/pp_testhook.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/decode.h"
#include "model/model_io.h"
#include "core/pp_mpi.h"
#include "core/pp_parts.h"
#include "core/pp_runkey.h"
#include "core/pp_text.h"
#include "prompts/prompts.h"

/* ------------------------------------------------------------ generator */

pp_status generator_init(generator *g, const model *m, const gen_params *p, int max_prompt_tokens, pp_err *err) {
    memset(g, 0, sizeof *g);
    const model_config *c = &m->cfg;
    if (p->k < 1 || p->k > 4096) return pp_fail(err, PP_EINPUT, "--k %d: must be between 1 and 4096", p->k);
    if (p->max_new_tokens < 1) return pp_fail(err, PP_EINPUT, "--max-new-tokens %d: must be at least 1", p->max_new_tokens);
    PP_TRY(sample_params_check(&p->sample, err));
    if (max_prompt_tokens < 1 || max_prompt_tokens > c->seq_len)
        return pp_fail(err, PP_EINPUT, "prompts of %d tokens do not fit the model's context of %d", max_prompt_tokens,
                       c->seq_len);
    g->m = m;
    g->p = *p;
    g->max_prompt_tokens = max_prompt_tokens;
    /* positions used: the prompt, then every generated token but the last */
    int64_t need = (int64_t)max_prompt_tokens + p->max_new_tokens - 1;
    int max_pos = need < c->seq_len ? (int)need : c->seq_len;
    PP_TRY(infer_init(&g->st, m, p->k, max_pos, err));
    /* a candidate never outgrows the context, whatever max_new_tokens says */
    g->row_tokens = p->max_new_tokens < c->seq_len ? p->max_new_tokens : c->seq_len;
    size_t K = (size_t)p->k, V = (size_t)c->vocab_size;
    g->logits = malloc(K * V * sizeof *g->logits);
    g->scratch = malloc(V * sizeof *g->scratch);
    g->tokens = malloc(K * (size_t)g->row_tokens * sizeof *g->tokens);
    g->n_gen = malloc(K * sizeof *g->n_gen);
    g->finish = malloc(K * sizeof *g->finish);
    g->slots = malloc(K * sizeof *g->slots);
    g->feed = malloc(K * sizeof *g->feed);
    g->logp = malloc(K * sizeof *g->logp);
    g->rng = malloc(K * sizeof *g->rng);
    g->stop_st = malloc(K * sizeof *g->stop_st);
    if (!g->logits || !g->scratch || !g->tokens || !g->n_gen || !g->finish || !g->slots || !g->feed || !g->logp ||
        !g->rng || !g->stop_st) {
        generator_free(g);
        return pp_fail(err, PP_ESYS, "out of memory for %d candidates of %d tokens", p->k, p->max_new_tokens);
    }
    return PP_OK;
}

void generator_free(generator *g) {
    infer_free(&g->st);
    free(g->logits);
    free(g->scratch);
    free(g->tokens);
    free(g->n_gen);
    free(g->finish);
    free(g->slots);
    free(g->feed);
    free(g->logp);
    free(g->rng);
    free(g->stop_st);
    gen_text_free(&g->text);
    memset(g, 0, sizeof *g);
}

pp_status generate_encode(const tokenizer *t, int vocab_size, const char *text, int **ids, int *n, pp_err *err) {
    *ids = NULL;
    size_t len = strlen(text);
    if (len > (size_t)INT_MAX / 2) return pp_fail(err, PP_EINPUT, "prompt of %zu bytes is too long", len);
    int *v = malloc(tok_max_ids(t, len) * sizeof *v);
    if (!v) return pp_fail(err, PP_ESYS, "out of memory tokenizing a prompt of %zu bytes", len);
    pp_status st = tok_encode_cap(t, text, 1, 0, v, (int)tok_max_ids(t, len), n, err);
    for (int i = 0; st == PP_OK && i < *n; i++)
        if (v[i] < 0 || v[i] >= vocab_size)
            st = pp_fail(err, PP_EINPUT, "token id %d is outside the model's vocabulary (size %d)", v[i], vocab_size);
    if (st != PP_OK) {
        free(v);
        return st;
    }
    *ids = v;
    return PP_OK;
}

/* Sample candidate j's next token from its logits row and decide whether it
 * is finished.  The prompt had n_prompt tokens. */
static void accept_token(generator *g, int j, const float *logits, int n_prompt) {
    const model_config *c = &g->m->cfg;
    const tokenizer *tok = &g->m->tok;
    float lp = 0.0f;
    int t = sample_token(logits, c->vocab_size, &g->p.sample, &g->rng[j], g->scratch, &lp);
    int i = g->n_gen[j]++;
    g->tokens[(size_t)j * g->row_tokens + i] = t;
    g->logp[j] += (double)lp;
    int generated = i + 1;
    if (tok_is_eos(tok, t) || t == tok->bos_id) g->finish[j] = FINISH_EOS; /* run.c stops on BOS */
    else if (g->p.stop && stop_hit(g->p.stop, &g->stop_st[j], tok,
                                   i ? g->tokens[(size_t)j * g->row_tokens + i - 1] : g->prompt_last, t))
        g->finish[j] = FINISH_STOP;
    else if (generated >= g->p.max_new_tokens) g->finish[j] = FINISH_MAX_TOKENS;
    else if (n_prompt - 1 + generated >= c->seq_len) g->finish[j] = FINISH_CONTEXT; /* no position to feed it */
}

/* Room for need raw bytes and their sanitized copy (up to 3 bytes each);
 * grows rarely, never per token. */
static pp_status reserve_text(gen_text *t, size_t need, pp_err *err) {
    if (need <= t->raw_cap) return PP_OK;
    size_t cap = t->raw_cap ? t->raw_cap : 4096;
    while (cap < need) cap *= 2;
    char *r = realloc(t->raw, cap), *x = r ? realloc(t->text, 3 * cap + 1) : NULL;
    if (r) t->raw = r;
    if (!x) return pp_fail(err, PP_ESYS, "out of memory decoding a candidate (%zu bytes)", need);
    t->text = x;
    t->raw_cap = cap;
    return PP_OK;
}

pp_status gen_text_decode(gen_text *t, const tokenizer *tok, const stop_set *stop, int prev, const int *ids, int n,
                          int finish, pp_err *err) {
    /* a final EOS, or a stop token, is kept in the tokens, not in the text */
    if (n > 0 && (finish == FINISH_EOS || (finish == FINISH_STOP && stop && stop_is_token(stop, ids[n - 1])))) n--;
    size_t used = 0;
    PP_TRY(reserve_text(t, 1, err));
    for (int i = 0; i < n; i++) {
        size_t len;
        const char *piece = tok_piece(tok, prev, ids[i], &len);
        PP_TRY(reserve_text(t, used + len + 1, err));
        memcpy(t->raw + used, piece, len);
        used += len;
        prev = ids[i];
    }
    if (finish == FINISH_STOP && stop) used = stop_text_end(stop, t->raw, used);
    pp_utf8_sanitize(t->raw, used, t->text);
    return PP_OK;
}

void gen_text_free(gen_text *t) {
    free(t->raw);
    free(t->text);
    memset(t, 0, sizeof *t);
}

pp_status generate_prompt(generator *g, const gen_prompt *pr, candidate_set *out, pp_err *err) {
    int K = g->p.k, V = g->m->cfg.vocab_size, n_prompt = pr->n_tokens;
    if (n_prompt < 1 || n_prompt > g->max_prompt_tokens)
        return pp_fail(err, PP_EINPUT, "prompt id %lld: %d tokens, the generator holds at most %d", (long long)pr->id,
                       n_prompt, g->max_prompt_tokens);
    /* one prefill, shared by the K candidates */
    infer_reset(&g->st, 0);
    PP_TRY(infer_prefill(&g->st, 0, pr->tokens, n_prompt, g->logits, err));
    for (int j = 1; j < K; j++) PP_TRY(infer_copy_seq(&g->st, 0, j, err));
    for (int j = 0; j < K; j++) {
        g->rng[j] = pp_rng_stream(g->p.seed, (uint64_t)pr->id, (uint64_t)j);
        g->n_gen[j] = 0;
        g->logp[j] = 0.0;
        g->finish[j] = -1;
        stop_state_reset(&g->stop_st[j]);
    }
    g->prompt_last = pr->tokens[n_prompt - 1];
    for (int j = 0; j < K; j++) accept_token(g, j, g->logits, n_prompt);
    /* then every unfinished candidate advances together, one batch per step */
    for (;;) {
        int n = 0;
        for (int j = 0; j < K; j++) {
            if (g->finish[j] >= 0) continue;
            g->slots[n] = j;
            g->feed[n] = g->tokens[(size_t)j * g->row_tokens + g->n_gen[j] - 1];
            n++;
        }
        if (n == 0) break;
        PP_TRY(infer_decode(&g->st, n, g->slots, g->feed, g->logits, err));
        for (int i = 0; i < n; i++) accept_token(g, g->slots[i], g->logits + (size_t)i * V, n_prompt);
        if (g->poll) g->poll(g->poll_ctx);
    }

    PP_TRY(candidates_add_prompt(out, pr->id, pr->text, pr->family, pr->reference, pr->tokens, n_prompt, err));
    PP_TRY(candidates_set_rendered(out, pr->rendered, err));
    for (int j = 0; j < K; j++) {
        const int *ids = g->tokens + (size_t)j * g->row_tokens;
        int n = g->n_gen[j];
        PP_TRY(gen_text_decode(&g->text, &g->m->tok, g->p.stop, pr->tokens[n_prompt - 1], ids, n, g->finish[j], err));
        PP_TRY(candidates_add_candidate(out, ids, n, g->text.text, g->logp[j], g->finish[j], err));
        g->tokens_generated += n;
    }
    return PP_OK;
}

/* ----------------------------------------------------------- the run */

enum { TAG_REQUEST = 701, TAG_WORK = 702 };

/* A chunk this rank is generating: its prompts went to the decoder, not
 * all their candidates have ended.  Candidates arrive in completion order
 * and are filed by (prompt, k); the chunk is saved when the last ends. */
typedef struct {
    int64_t idx;            /* chunk number, -1: a free buffer */
    int left;               /* candidates not ended yet */
    int *tokens;            /* [chunk_prompts * k][row_tokens] */
    int *n_tokens, *finish; /* [chunk_prompts * k] */
    double *logp;
} open_chunk;

typedef struct {
    /* fixed for the run */
    const generate_options *o;
    const model *m;
    const prompt_set *ps;
    const int *ptok;          /* every prompt tokenized */
    const int64_t *ptok_off;  /* n + 1 */
    const candidate_set *header;
    const char *parts;        /* <out>.parts */
    const char *run_key;
    int64_t n_chunks;
    decoder dec;
    gen_text text;
    MPI_Comm comm;
    int rank, size;
    const pp_log *log;
    /* the chunks in the decoder, and the one whose prompts go in next */
    open_chunk *open;
    int n_open;
    int64_t next_prompt, end_prompt;
    /* rank 0: the work queue */
    int64_t *todo, n_todo, next;
    int stop, workers_left;
    /* other ranks: the request for the next chunk, sent ahead */
    int64_t request[3], reply;
    MPI_Request pending[2];
    int asked, told_done, failing;
    int64_t unreported_prompts, unreported_tokens;
    double waited;
    /* rank 0: progress of all ranks; every rank: its own work */
    pp_progress progress;
    int64_t prompts_done, tokens_done;
    int64_t my_tokens, my_chunks;
    double my_busy;
} run_state;

static void chunk_path(const run_state *r, int64_t idx, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/chunk-%06lld.h5", r->parts, (long long)idx);
}

static void chunk_rows(const run_state *r, int64_t idx, int64_t *p0, int64_t *p1) {
    *p0 = idx * r->o->chunk_prompts;
    *p1 = *p0 + r->o->chunk_prompts < r->ps->n ? *p0 + r->o->chunk_prompts : r->ps->n;
}

static void copy_header(candidate_set *dst, const candidate_set *h) {
    memcpy(dst->model_fingerprint, h->model_fingerprint, sizeof dst->model_fingerprint);
    memcpy(dst->tokenizer, h->tokenizer, sizeof dst->tokenizer);
    dst->vocab_size = h->vocab_size;
    dst->temperature = h->temperature;
    dst->top_p = h->top_p;
    dst->top_k = h->top_k;
    dst->max_new_tokens = h->max_new_tokens;
    dst->seed = h->seed;
    memcpy(dst->source, h->source, sizeof dst->source);
    memcpy(dst->suite, h->suite, sizeof dst->suite);
    memcpy(dst->split, h->split, sizeof dst->split);
}

static void progress_note(run_state *r) {
    char extra[64];
    double el = pp_now() - r->progress.t_start;
    snprintf(extra, sizeof extra, "%.0f tokens/s", el > 0 ? (double)r->tokens_done / el : 0.0);
    pp_progress_update(&r->progress, r->prompts_done, extra);
}

/* A buffer for chunk idx: a free one, else a new one (there are at most
 * as many as chunks with a running candidate, plus one). */
static pp_status chunk_open(run_state *r, int64_t idx, pp_err *err) {
    int64_t p0, p1;
    chunk_rows(r, idx, &p0, &p1);
    int c = 0;
    while (c < r->n_open && r->open[c].idx >= 0) c++;
    if (c == r->n_open) {
        open_chunk *grown = realloc(r->open, (size_t)(r->n_open + 1) * sizeof *grown);
        if (!grown) return pp_fail(err, PP_ESYS, "out of memory for an open chunk");
        r->open = grown;
        size_t rows = (size_t)r->o->chunk_prompts * (size_t)r->o->gen.k;
        open_chunk *oc = &r->open[r->n_open++];
        oc->tokens = malloc(rows * (size_t)r->dec.row_tokens * sizeof(int));
        oc->n_tokens = malloc(rows * sizeof(int));
        oc->finish = malloc(rows * sizeof(int));
        oc->logp = malloc(rows * sizeof(double));
        oc->idx = -1;
        if (!oc->tokens || !oc->n_tokens || !oc->finish || !oc->logp)
            return pp_fail(err, PP_ESYS, "out of memory for an open chunk of %zu candidates", rows);
    }
    r->open[c].idx = idx;
    r->open[c].left = (int)(p1 - p0) * r->o->gen.k;
    return PP_OK;
}

/* Save a chunk whose candidates have all ended, atomically, in the parts
 * directory, and count it. */
static pp_status chunk_save(run_state *r, open_chunk *oc, pp_err *err) {
    int64_t p0, p1;
    chunk_rows(r, oc->idx, &p0, &p1);
    int K = r->o->gen.k, T = r->dec.row_tokens;
    const prompt_set *ps = r->ps;
    candidate_set s;
    PP_TRY(candidates_init(&s, K, err));
    copy_header(&s, r->header);
    pp_status st = PP_OK;
    for (int64_t p = p0; st == PP_OK && p < p1; p++) {
        const int *pt = r->ptok + r->ptok_off[p];
        int np = (int)(r->ptok_off[p + 1] - r->ptok_off[p]);
        st = candidates_add_prompt(&s, ps->ids[p], ps->text[p], ps->family ? ps->family[p] : NULL,
                                   ps->reference ? ps->reference[p] : NULL, pt, np, err);
        if (st == PP_OK) st = candidates_set_rendered(&s, ps->rendered ? ps->rendered[p] : NULL, err);
        for (int k = 0; st == PP_OK && k < K; k++) {
            size_t row = (size_t)(p - p0) * K + k;
            const int *ids = oc->tokens + row * T;
            int n = oc->n_tokens[row], fin = oc->finish[row];
            st = gen_text_decode(&r->text, &r->m->tok, r->dec.p.stop, pt[np - 1], ids, n, fin, err);
            if (st == PP_OK) st = candidates_add_candidate(&s, ids, n, r->text.text, oc->logp[row], fin, err);
        }
    }
    if (st == PP_OK) {
        char path[PP_PATH_MAX + 32], idxs[32];
        chunk_path(r, oc->idx, path, sizeof path);
        snprintf(idxs, sizeof idxs, "%lld", (long long)oc->idx);
        const char *extra[] = {"run_key", r->run_key, "chunk", idxs, NULL};
        pp_provenance prov = {"pp-generate", "one chunk of a run (see run_key)", NULL, 0};
        st = candidates_write(&s, path, MPI_COMM_SELF, &prov, extra, err);
    }
    int64_t n_tokens = s.candidate_token_offsets[s.n_candidates];
    candidates_free(&s);
    PP_TRY(st);
    oc->idx = -1;
    r->my_tokens += n_tokens;
    r->my_chunks++;
    if (r->rank == 0) {
        r->prompts_done += p1 - p0;
        r->tokens_done += n_tokens;
        progress_note(r);
    } else {
        r->unreported_prompts += p1 - p0;
        r->unreported_tokens += n_tokens;
    }
    pp_test_hook_sleep(PP_HOOK_CHUNK_DELAY);
    return PP_OK;
}

/* The decoder's sink: file candidate (prompt, k) in its chunk. */
static pp_status file_candidate(void *ctx, const decoder_result *res, pp_err *err) {
    run_state *r = ctx;
    int64_t idx = res->prompt / r->o->chunk_prompts;
    int c = 0;
    while (c < r->n_open && r->open[c].idx != idx) c++;
    if (c == r->n_open) return pp_fail(err, PP_ESYS, "pp-generate: a candidate of chunk %lld, which is not open",
                                       (long long)idx);
    open_chunk *oc = &r->open[c];
    size_t row = (size_t)(res->prompt - idx * r->o->chunk_prompts) * r->o->gen.k + res->k;
    memcpy(oc->tokens + row * r->dec.row_tokens, res->tokens, (size_t)res->n_tokens * sizeof(int));
    oc->n_tokens[row] = res->n_tokens;
    oc->finish[row] = res->finish;
    oc->logp[row] = res->logp;
    if (--oc->left > 0) return PP_OK;
    return chunk_save(r, oc, err);
}

/* Rank 0: the next chunk to hand out, or -1. */
static int64_t take_chunk(run_state *r) {
    if (pp_stop_requested()) r->stop = 1;
    if (r->stop || r->next >= r->n_todo) return -1;
    return r->todo[r->next++];
}

/* Rank 0: answer one request.  msg = {stopping, prompts done, tokens done}
 * of the sender's chunks saved since its last request. */
static void serve(run_state *r, const int64_t msg[3], int source) {
    r->prompts_done += msg[1];
    r->tokens_done += msg[2];
    if (msg[0]) r->stop = 1;
    int64_t idx = msg[0] ? -1 : take_chunk(r);
    if (idx < 0) r->workers_left--;
    MPI_Send(&idx, 1, MPI_INT64_T, source, TAG_WORK, r->comm);
    if (msg[1]) progress_note(r);
}

/* Rank 0, between its own decode steps: answer every waiting request. */
static void serve_waiting(void *ctx) {
    run_state *r = ctx;
    for (;;) {
        int flag = 0;
        MPI_Status status;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_REQUEST, r->comm, &flag, &status);
        if (!flag) return;
        int64_t msg[3];
        MPI_Recv(msg, 3, MPI_INT64_T, status.MPI_SOURCE, TAG_REQUEST, r->comm, MPI_STATUS_IGNORE);
        serve(r, msg, status.MPI_SOURCE);
    }
}

/* Other ranks: ask rank 0 for the next chunk without waiting for the
 * answer, reporting the chunks saved since the last request. */
static void worker_ask(run_state *r) {
    r->request[0] = r->failing || pp_stop_requested();
    r->request[1] = r->unreported_prompts;
    r->request[2] = r->unreported_tokens;
    r->unreported_prompts = r->unreported_tokens = 0;
    MPI_Isend(r->request, 3, MPI_INT64_T, 0, TAG_REQUEST, r->comm, &r->pending[0]);
    MPI_Irecv(&r->reply, 1, MPI_INT64_T, 0, TAG_WORK, r->comm, &r->pending[1]);
    r->asked = 1;
}

/* ... and wait for rank 0's answer: a chunk number, or -1 for "no more". */
static int64_t worker_answer(run_state *r) {
    if (!r->asked) worker_ask(r);
    double t0 = pp_now();
    MPI_Waitall(2, r->pending, MPI_STATUSES_IGNORE);
    r->waited += pp_now() - t0;
    r->asked = 0;
    if (r->reply < 0) r->told_done = 1;
    return r->reply;
}

/* Other ranks, at the end: a chunk handed out but not started (after a
 * stop or an error) is given back by a last "stopping" request, so that
 * rank 0 stops counting on this rank. */
static void worker_finish(run_state *r) {
    if (r->asked) worker_answer(r);
    if (r->told_done) return;
    r->failing = 1;
    worker_ask(r);
    worker_answer(r);
}

/* The decoder's source: the next prompt of the current chunk; at its end
 * the next chunk (rank 0 takes it from its queue, the others asked for it
 * when they handed out the last prompt of the current one). */
static pp_status next_prompt(void *ctx, decoder_prompt *pr, int *got, pp_err *err) {
    run_state *r = ctx;
    *got = 0;
    if (r->next_prompt >= r->end_prompt) {
        if (r->told_done) return PP_OK;
        int64_t idx = r->rank == 0 ? take_chunk(r) : worker_answer(r);
        if (idx < 0 || (r->rank != 0 && pp_stop_requested())) return PP_OK;
        PP_TRY(chunk_open(r, idx, err));
        chunk_rows(r, idx, &r->next_prompt, &r->end_prompt);
    }
    int64_t p = r->next_prompt++;
    *pr = (decoder_prompt){.id = r->ps->ids[p], .tokens = r->ptok + r->ptok_off[p],
                           .n_tokens = (int)(r->ptok_off[p + 1] - r->ptok_off[p]), .tag = p};
    *got = 1;
    if (r->rank != 0 && r->next_prompt == r->end_prompt) worker_ask(r);
    return PP_OK;
}

/* Every rank runs its decoder over the chunks it is given; rank 0 also
 * answers the others between its decode steps, then until all of them
 * have been told there is no more work. */
static pp_status generate_chunks(run_state *r, pp_err *err) {
    double t0 = pp_now();
    r->dec.poll = r->rank == 0 && r->size > 1 ? serve_waiting : NULL;
    r->dec.poll_ctx = r;
    pp_status st = decoder_pull(&r->dec, next_prompt, r, file_candidate, r, err);
    r->my_busy = pp_now() - t0 - r->waited;
    if (r->rank != 0) {
        if (st != PP_OK) r->failing = 1;
        worker_finish(r);
        return st;
    }
    if (st != PP_OK) r->stop = 1;
    while (r->workers_left > 0) {
        int64_t msg[3];
        MPI_Status status;
        MPI_Recv(msg, 3, MPI_INT64_T, MPI_ANY_SOURCE, TAG_REQUEST, r->comm, &status);
        serve(r, msg, status.MPI_SOURCE);
    }
    return st;
}

/* Is chunk idx saved, complete and made by this run?  A damaged or foreign
 * chunk file is removed (it will be redone). */
static int chunk_valid(const run_state *r, int64_t idx) {
    char path[PP_PATH_MAX + 32];
    chunk_path(r, idx, path, sizeof path);
    if (access(path, F_OK) != 0) return 0;
    pp_err e;
    pp_h5 f;
    int ok = pp_h5_open(&f, path, "candidates", CANDIDATES_SCHEMA_VERSION, &e) == PP_OK;
    if (ok) {
        char key[4096];
        ok = pp_h5_get_attr_str(&f, "/", "run_key", key, sizeof key, &e) == PP_OK && !strcmp(key, r->run_key);
        pp_h5_close(&f);
    }
    candidate_set s;
    if (ok && candidates_load(&s, path, &e) == PP_OK) {
        int64_t p0, p1;
        chunk_rows(r, idx, &p0, &p1);
        ok = s.n_prompts == p1 - p0 && s.k == r->o->gen.k;
        for (int64_t p = 0; ok && p < s.n_prompts; p++) {
            int64_t n, want = r->ptok_off[p0 + p + 1] - r->ptok_off[p0 + p];
            const int32_t *t = candidates_prompt_tokens(&s, p, &n);
            ok = s.prompt_id[p] == r->ps->ids[p0 + p] && n == want;
            for (int64_t i = 0; ok && i < n; i++) ok = t[i] == r->ptok[r->ptok_off[p0 + p] + i];
        }
        candidates_free(&s);
    } else ok = 0;
    if (!ok) unlink(path);
    return ok;
}

/* The run key: everything the chunks depend on. */
static void make_run_key(pp_runkey *k, const model *m, const char *prompts_fp, int64_t n_prompts,
                         const generate_options *o) {
    char mfp[17];
    model_fingerprint_hex(m, mfp);
    pp_runkey_init(k);
    pp_runkey_str(k, "program_version", PP_VERSION);
    pp_runkey_str(k, "model_fingerprint", mfp);
    pp_runkey_str(k, "prompts_fingerprint", prompts_fp);
    pp_runkey_i64(k, "n_prompts", n_prompts);
    pp_runkey_i64(k, "k", o->gen.k);
    pp_runkey_f64(k, "temperature", (double)o->gen.sample.temperature);
    pp_runkey_f64(k, "top_p", (double)o->gen.sample.top_p);
    pp_runkey_i64(k, "top_k", o->gen.sample.top_k);
    pp_runkey_i64(k, "max_new_tokens", o->gen.max_new_tokens);
    pp_runkey_i64(k, "seed", (int64_t)o->gen.seed);
    pp_runkey_i64(k, "chunk_prompts", o->chunk_prompts);
}

/* Every prompt tokenized (every rank does it; it is cheap next to
 * generation), checked against the vocabulary and the context. */
static pp_status tokenize_all(const model *m, const prompt_set *ps, const char *prompts_path, const char *model_path,
                              int **ptok, int64_t **off, int *longest, pp_err *err) {
    *ptok = NULL;
    *longest = 0;
    *off = malloc((size_t)(ps->n + 1) * sizeof **off);
    if (!*off) return pp_fail(err, PP_ESYS, "out of memory for %lld prompts", (long long)ps->n);
    (*off)[0] = 0;
    int64_t cap = 0;
    for (int64_t p = 0; p < ps->n; p++) {
        int *ids, n;
        pp_status st = generate_encode(&m->tok, m->cfg.vocab_size, prompts_model_text(ps, p), &ids, &n, err);
        if (st != PP_OK) return pp_wrap(err, "%s: prompt id %lld", prompts_path, (long long)ps->ids[p]);
        if (n > m->cfg.seq_len) {
            free(ids);
            return pp_fail(err, PP_EINPUT, "%s: prompt id %lld is %d tokens long (BOS included), more than the context "
                           "of %s (seq_len %d)", prompts_path, (long long)ps->ids[p], n, model_path, m->cfg.seq_len);
        }
        if ((*off)[p] + n > cap) {
            int64_t c = cap ? cap : 4096;
            while (c < (*off)[p] + n) c *= 2;
            int *q = realloc(*ptok, (size_t)c * sizeof *q);
            if (!q) {
                free(ids);
                return pp_fail(err, PP_ESYS, "out of memory for the prompts' tokens");
            }
            *ptok = q;
            cap = c;
        }
        memcpy(*ptok + (*off)[p], ids, (size_t)n * sizeof *ids);
        (*off)[p + 1] = (*off)[p] + n;
        if (n > *longest) *longest = n;
        free(ids);
    }
    return PP_OK;
}

static pp_status check_options(const generate_options *o, pp_err *err) {
    if (o->gen.k < 1) return pp_fail(err, PP_EINPUT, "--k %d: must be at least 1", o->gen.k);
    if (o->gen.max_new_tokens < 1)
        return pp_fail(err, PP_EINPUT, "--max-new-tokens %d: must be at least 1", o->gen.max_new_tokens);
    if (o->chunk_prompts < 1) return pp_fail(err, PP_EINPUT, "--chunk-prompts %d: must be at least 1", o->chunk_prompts);
    return sample_params_check(&o->gen.sample, err);
}

/* Each rank loads a contiguous range of chunks; together they write out. */
static pp_status assemble(run_state *r, const char *out_path, const pp_provenance *prov, int64_t *tokens,
                          pp_err *err) {
    int64_t a = r->n_chunks * r->rank / r->size, b = r->n_chunks * (r->rank + 1) / r->size;
    candidate_set mine;
    pp_status st = candidates_init(&mine, r->o->gen.k, err);
    if (st != PP_OK) return pp_agree(r->comm, st, err);
    copy_header(&mine, r->header);
    for (int64_t i = a; st == PP_OK && i < b; i++) {
        char path[PP_PATH_MAX + 32];
        chunk_path(r, i, path, sizeof path);
        candidate_set s;
        st = candidates_load(&s, path, err);
        if (st == PP_OK) {
            st = candidates_append(&mine, &s, err);
            candidates_free(&s);
        }
    }
    st = pp_agree(r->comm, st, err);
    int64_t n_tok = mine.candidate_token_offsets[mine.n_candidates];
    MPI_Allreduce(&n_tok, tokens, 1, MPI_INT64_T, MPI_SUM, r->comm);
    if (st == PP_OK) st = candidates_write(&mine, out_path, r->comm, prov, NULL, err);
    candidates_free(&mine);
    return st;
}

/* Which chunks are saved already (ranks check them round-robin, then
 * share); rank 0 queues the others. */
static pp_status find_saved_chunks(run_state *r, int resuming, int64_t *reused, int64_t *reused_prompts,
                                   pp_err *err) {
    unsigned char *done = calloc((size_t)r->n_chunks, 1);
    pp_status st = done ? PP_OK : pp_fail(err, PP_ESYS, "out of memory for %lld chunks", (long long)r->n_chunks);
    if (r->rank == 0 && st == PP_OK) {
        r->todo = malloc((size_t)r->n_chunks * sizeof *r->todo);
        if (!r->todo) st = pp_fail(err, PP_ESYS, "out of memory for %lld chunks", (long long)r->n_chunks);
    }
    st = pp_agree(r->comm, st, err);
    if (st != PP_OK) {
        free(done);
        return st;
    }
    if (resuming)
        for (int64_t i = r->rank; i < r->n_chunks; i += r->size) done[i] = (unsigned char)chunk_valid(r, i);
    for (int64_t i = 0; i < r->n_chunks; i += INT_MAX)
        MPI_Allreduce(MPI_IN_PLACE, done + i, (int)(r->n_chunks - i < INT_MAX ? r->n_chunks - i : INT_MAX),
                      MPI_UINT8_T, MPI_MAX, r->comm);
    for (int64_t i = 0; i < r->n_chunks; i++) {
        int64_t p0, p1;
        chunk_rows(r, i, &p0, &p1);
        if (done[i]) {
            (*reused)++;
            *reused_prompts += p1 - p0;
        } else if (r->todo) r->todo[r->n_todo++] = i;
    }
    free(done);
    return PP_OK;
}

/* Totals of this run, and per-rank figures on rank 0.  Returns the number
 * of chunks now saved. */
static int64_t collect_report(run_state *r, int64_t reused, generate_report *rep) {
    int64_t mine[2] = {r->my_chunks, r->my_tokens}, all[2];
    MPI_Allreduce(mine, all, 2, MPI_INT64_T, MPI_SUM, r->comm);
    rep->chunks = r->n_chunks;
    rep->chunks_reused = reused;
    rep->tokens_this_run = all[1];
    rep->n_ranks = r->size;
    if (r->rank == 0) {
        rep->rank_tokens = malloc((size_t)r->size * sizeof *rep->rank_tokens);
        rep->rank_chunks = malloc((size_t)r->size * sizeof *rep->rank_chunks);
        rep->rank_busy = malloc((size_t)r->size * sizeof *rep->rank_busy);
    }
    int have = rep->rank_tokens && rep->rank_chunks && rep->rank_busy;
    MPI_Bcast(&have, 1, MPI_INT, 0, r->comm);
    if (have) {
        MPI_Gather(&r->my_tokens, 1, MPI_INT64_T, rep->rank_tokens, 1, MPI_INT64_T, 0, r->comm);
        MPI_Gather(&r->my_chunks, 1, MPI_INT64_T, rep->rank_chunks, 1, MPI_INT64_T, 0, r->comm);
        MPI_Gather(&r->my_busy, 1, MPI_DOUBLE, rep->rank_busy, 1, MPI_DOUBLE, 0, r->comm);
    }
    return reused + all[0];
}

pp_status generate_run(const char *model_path, const char *prompts_path, const char *out_path,
                       const generate_options *o, const pp_provenance *prov, MPI_Comm comm, const pp_log *log,
                       generate_report *rep, pp_err *err) {
    memset(rep, 0, sizeof *rep);
    run_state r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.comm = comm;
    r.log = log;
    MPI_Comm_rank(comm, &r.rank);
    MPI_Comm_size(comm, &r.size);
    model m;
    memset(&m, 0, sizeof m);
    prompt_set ps;
    memset(&ps, 0, sizeof ps);
    int *ptok = NULL;
    int64_t *ptok_off = NULL;
    char parts[PP_PATH_MAX];
    pp_runkey key;
    pp_runkey_init(&key);
    pp_parts kit = {.lock = {.fd = -1}}; /* rank 0's hold on the parts directory */
    candidate_set header;
    memset(&header, 0, sizeof header);
    int longest = 0;

    pp_status st = check_options(o, err);
    /* the weights are only read: one copy per node (collective) */
    st = pp_agree(comm, st, err);
    if (st == PP_OK) st = model_load_shared(model_path, &m, comm, err);
    if (st == PP_OK) st = prompts_load(&ps, prompts_path, err);
    if (st == PP_OK && ps.n < 1) st = pp_fail(err, PP_EINPUT, "%s: no prompts", prompts_path);
    stop_set stop;
    if (st == PP_OK) st = chat_stop_set(&m, &o->chat, &stop, err);
    if (st == PP_OK) st = chat_render_prompts(&m, &o->chat, &ps, prompts_path, model_path, err);
    if (st == PP_OK) st = tokenize_all(&m, &ps, prompts_path, model_path, &ptok, &ptok_off, &longest, err);
    /* the decoder's memory, once, before anything is written */
    decoder_params dp = {.max_batch = o->max_batch, .kv_cache_mb = o->kv_cache_mb, .max_prompt_tokens = longest,
                         .max_new_tokens = o->gen.max_new_tokens, .k = o->gen.k, .sample = o->gen.sample,
                         .seed = o->gen.seed, .stop = &stop, .share_weights = 1, .share_comm = comm};
    /* the ranks of a node share one packed copy of large weights: collective */
    st = pp_agree(comm, st, err);
    if (st == PP_OK) {
        /* the estimate, before the decoder allocates (the model is loaded) */
        int on_node = pp_ranks_on_node(comm);
        pp_memory_part mem_parts[] = {{on_node > 1 ? "model (1/ranks: node-shared)" : "model",
                                       4.0 * (double)m.n_params / on_node},
                                  {"decoder (KV cache, packed weights, buffers)",
                                   decoder_estimate_bytes(&m, &dp, on_node)},
                                  {"runtime", PP_MEMORY_RUNTIME_BYTES}};
        st = pp_memory_check(o->mem, o->max_memory, mem_parts, 3, comm, log, err);
    }
    if (st == PP_OK) st = decoder_init(&r.dec, &m, &dp, err);
    if (st == PP_OK && strlen(out_path) + 64 >= sizeof parts) st = pp_fail(err, PP_EINPUT, "%s: path too long", out_path);
    st = pp_agree(comm, st, err);
    if (st != PP_OK) goto done;

    /* the run key: rank 0 hashes the prompts file, everyone builds the key;
       rank 0 locks the parts directory and checks the key saved there */
    char pfp[17] = "";
    st = pp_file_fingerprint_agreed(prompts_path, comm, pfp, err);
    if (st != PP_OK) goto done;
    make_run_key(&key, &m, pfp, ps.n, o);
    chat_run_key(&key, &m, &o->chat, &stop);
    const char *key_text = pp_runkey_text(&key);
    if (!key_text) st = pp_fail(err, PP_ESYS, "out of memory for the run key");
    snprintf(parts, sizeof parts, "%s.parts", out_path);
    if (st == PP_OK && r.rank == 0) st = pp_parts_open(&kit, parts, out_path, key_text, err);
    int resuming = kit.resuming;
    MPI_Bcast(&resuming, 1, MPI_INT, 0, comm);
    st = pp_agree(comm, st, err);
    if (st != PP_OK) goto done;

    /* header of every chunk and of the output */
    header.k = o->gen.k;
    model_fingerprint_hex(&m, header.model_fingerprint);
    snprintf(header.tokenizer, sizeof header.tokenizer, "%s", tok_kind_name(m.tok.kind));
    header.vocab_size = m.cfg.vocab_size;
    header.temperature = o->gen.sample.temperature;
    header.top_p = o->gen.sample.top_p;
    header.top_k = o->gen.sample.top_k;
    header.max_new_tokens = o->gen.max_new_tokens;
    header.seed = (int64_t)o->gen.seed;
    snprintf(header.source, sizeof header.source, "%s", ps.source);
    snprintf(header.suite, sizeof header.suite, "%s", ps.suite);
    snprintf(header.split, sizeof header.split, "%s", ps.split);

    r.m = &m;
    r.ps = &ps;
    r.ptok = ptok;
    r.ptok_off = ptok_off;
    r.header = &header;
    r.parts = parts;
    r.run_key = key_text;
    r.n_chunks = (ps.n + o->chunk_prompts - 1) / o->chunk_prompts;

    int64_t reused = 0, reused_prompts = 0;
    st = find_saved_chunks(&r, resuming, &reused, &reused_prompts, err);
    st = pp_agree(comm, st, err);
    if (st != PP_OK) goto done;
    if (r.rank == 0)
        pp_info(log, "decoder: %d sequences per step (--max-batch %d%s), %.1f MiB allocated once per rank",
                r.dec.slots, o->max_batch, r.dec.slots < o->max_batch ? ", capped by --kv-cache-mb" : "",
                (double)decoder_memory_bytes(&r.dec) / 1048576.0);
    if (reused) pp_info(log, "resuming: %lld of %lld chunks already saved in %s", (long long)reused, (long long)r.n_chunks, parts);

    /* generate */
    double t0 = pp_now();
    r.prompts_done = reused_prompts;
    r.workers_left = r.size - 1;
    if (r.rank == 0) pp_progress_start(&r.progress, log, "prompts", ps.n, reused_prompts, "prompts");
    st = generate_chunks(&r, err);
    st = pp_agree(comm, st, err);
    rep->seconds = pp_now() - t0;

    int64_t chunks_done = collect_report(&r, reused, rep);
    if (st != PP_OK) goto done;
    if (chunks_done < r.n_chunks) {
        st = pp_fail(err, PP_EINTERRUPTED, "stopped by a signal with %lld of %lld chunks saved in %s; run the same "
                     "command again to resume", (long long)chunks_done, (long long)r.n_chunks, parts);
        goto done;
    }
    if (r.rank == 0) {
        char extra[64];
        snprintf(extra, sizeof extra, "%.0f tokens/s",
                 rep->seconds > 0 ? (double)rep->tokens_this_run / rep->seconds : 0.0);
        pp_progress_finish(&r.progress, ps.n, extra);
    }

    /* assemble the output from the chunks, then drop them */
    st = assemble(&r, out_path, prov, &rep->tokens, err);
    if (st == PP_OK && r.rank == 0) pp_parts_remove(&kit, log);
    rep->prompts = ps.n;
    rep->candidates = ps.n * o->gen.k;

done:
    if (r.dec.m) decoder_free(&r.dec);
    gen_text_free(&r.text);
    for (int c = 0; c < r.n_open; c++) {
        free(r.open[c].tokens);
        free(r.open[c].n_tokens);
        free(r.open[c].finish);
        free(r.open[c].logp);
    }
    free(r.open);
    free(r.todo);
    pp_parts_close(&kit); /* a stopped or failed run keeps its parts */
    pp_runkey_free(&key);
    free(ptok);
    free(ptok_off);
    prompts_free(&ps);
    model_free(&m);
    return st;
}

void generate_report_free(generate_report *rep) {
    free(rep->rank_tokens);
    free(rep->rank_chunks);
    free(rep->rank_busy);
    memset(rep, 0, sizeof *rep);
}
