/* rmtrain.c - the learned judges of pp-rm trained end to end (rmtrain.h).
 *
 * Reading order: the examples built from a pairs file, one micro-batch
 * through the forward pass and the outcome of its pairs, the gradient for
 * trainer_run, the evaluation, the whole run. */
#include "rmtrain/rmtrain.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pp_file.h"
#include "core/pp_mpi.h"
#include "core/pp_rng.h"
#include "core/pp_runkey.h"
#include "io/pairs.h"
#include "judge/judge_model.h"
#include "model/model_io.h"
#include "model/model_train.h"
#include "rm/reward_model.h"
#include "train/step_batch.h"

#define RMTRAIN_STREAM_ORDER 0x5E700000u /* the pairs' order (step_batch) */

pp_status rmtrain_kind_parse(const char *name, rmtrain_kind *kind, pp_err *err) {
    if (name && !strcmp(name, "pointwise")) *kind = RMTRAIN_POINTWISE;
    else if (name && !strcmp(name, "pairwise")) *kind = RMTRAIN_PAIRWISE;
    else return pp_fail(err, PP_EINPUT, "--kind '%s': want pointwise or pairwise", name ? name : "");
    return PP_OK;
}

static const char *kind_name(rmtrain_kind k) { return k == RMTRAIN_POINTWISE ? "pointwise" : "pairwise"; }

/* ------------------------------------------------------------ examples */

/* Two sequences per pair: pointwise, prompt + chosen and prompt +
 * rejected; pairwise, the judge prompt with A = chosen (view 0) and with
 * A = rejected (view 1), the label token appended when a batch is made. */
typedef struct {
    int64_t n;          /* pairs kept */
    int64_t *start;     /* [2 n] offset of each view in tokens */
    int *lens;          /* [2 n] */
    int *tokens;
    int max_len;        /* longest sequence of a batch (label included) */
    int64_t skipped;    /* pairwise: pairs whose judge prompt does not fit */
} rmt_data;

static void data_free(rmt_data *d) {
    free(d->start);
    free(d->lens);
    free(d->tokens);
    memset(d, 0, sizeof *d);
}

/* View v (0 or 1) of the next pair: len tokens appended. */
static pp_status data_push(rmt_data *d, int v, size_t *cap, size_t *used, const int *ids, int len, pp_err *err) {
    if (*used + (size_t)len > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < *used + (size_t)len) c *= 2;
        int *t = realloc(d->tokens, c * sizeof *t);
        if (!t) return pp_fail(err, PP_ESYS, "out of memory for the examples");
        d->tokens = t;
        *cap = c;
    }
    d->start[2 * d->n + v] = (int64_t)*used;
    d->lens[2 * d->n + v] = len;
    memcpy(d->tokens + *used, ids, (size_t)len * sizeof *ids);
    *used += (size_t)len;
    return PP_OK;
}

/* The judge prompt of (prompt, a, b) encoded with BOS into *ids. */
static pp_status encode_judge_prompt(const tokenizer *tok, const char *templ, const char *prompt, const char *a,
                                     const char *b, char **text, size_t *text_cap, int **ids, size_t *ids_cap, int *n,
                                     pp_err *err) {
    size_t len = judge_model_render(templ, prompt, a, b, text, text_cap);
    if (len == 0) return pp_fail(err, PP_ESYS, "out of memory rendering a judge prompt");
    size_t need = tok_max_ids(tok, len);
    if (need > *ids_cap) {
        int *p = realloc(*ids, need * sizeof *p);
        if (!p) return pp_fail(err, PP_ESYS, "out of memory encoding a judge prompt");
        *ids = p;
        *ids_cap = need;
    }
    return tok_encode_cap(tok, *text, 1, 0, *ids, (int)need, n, err);
}

/* The examples of a pairs file s for model m (templ: pairwise only). */
static pp_status data_build(rmt_data *d, rmtrain_kind kind, const pairs_set *s, const model *m, const char *templ,
                            pp_err *err) {
    memset(d, 0, sizeof *d);
    d->start = calloc((size_t)(2 * s->n_pairs), sizeof *d->start);
    d->lens = calloc((size_t)(2 * s->n_pairs), sizeof *d->lens);
    if (!d->start || !d->lens) return pp_fail(err, PP_ESYS, "out of memory for %lld pairs", (long long)s->n_pairs);
    const int ctx = m->cfg.seq_len;
    size_t cap = 0, used = 0, text_cap = 0, ids_cap = 0;
    char *text = NULL;
    int *ids = NULL;
    pp_status st = PP_OK;
    for (int64_t i = 0; st == PP_OK && i < s->n_pairs; i++) {
        int64_t p = s->pair_prompt[i], np, nc, nr;
        const int32_t *pt = pairs_prompt_tokens(s, i, &np);
        if (kind == RMTRAIN_POINTWISE) {
            const int32_t *views[2] = {pairs_chosen_tokens(s, i, &nc), pairs_rejected_tokens(s, i, &nr)};
            int64_t vlen[2] = {nc, nr};
            for (int v = 0; st == PP_OK && v < 2; v++) {
                size_t len = (size_t)(np + vlen[v]) < (size_t)ctx ? (size_t)(np + vlen[v]) : (size_t)ctx;
                if (len > ids_cap) {
                    int *q = realloc(ids, len * sizeof *q);
                    if (!q) st = pp_fail(err, PP_ESYS, "out of memory");
                    else ids = q, ids_cap = len;
                }
                for (size_t k = 0; st == PP_OK && k < len; k++)
                    ids[k] = (int)(k < (size_t)np ? pt[k] : views[v][k - (size_t)np]);
                if (st == PP_OK) st = data_push(d, v, &cap, &used, ids, (int)len, err);
            }
        } else { /* both orders; a pair that does not fit is taken back (its views are not counted yet) */
            const char *prompt = s->prompt_text[p], *c = s->chosen_text[i], *r = s->rejected_text[i];
            size_t before = used;
            int fits = 1;
            for (int v = 0; st == PP_OK && fits && v < 2; v++) {
                int n = 0;
                st = encode_judge_prompt(&m->tok, templ, prompt, v ? r : c, v ? c : r, &text, &text_cap, &ids,
                                         &ids_cap, &n, err);
                fits = st == PP_OK && n + 1 <= ctx; /* the label follows */
                if (fits) st = data_push(d, v, &cap, &used, ids, n, err);
            }
            if (st == PP_OK && !fits) {
                used = before;
                d->skipped++;
                continue;
            }
        }
        if (st != PP_OK) break;
        for (int v = 0; v < 2; v++) {
            int len = d->lens[2 * d->n + v] + (kind == RMTRAIN_PAIRWISE ? 1 : 0);
            if (len > d->max_len) d->max_len = len;
        }
        d->n++;
    }
    free(text);
    free(ids);
    if (st != PP_OK) data_free(d);
    return st;
}

/* ------------------------------------------------------------ one micro-batch */

typedef struct {
    rmtrain_kind kind;
    const rmt_data *data;
    int global_batch, micro_batch, rank, size;
    int label[2];         /* pairwise: the label tokens of the first / second answer */
    step_batch b;         /* workspace, data order, batch buffers */
    float *dhidden;       /* pointwise: [max tokens][dim] seed of the hidden rows */
    double *row_a, *row_b; /* pointwise: [dim] a hidden row and the head in double */
} rmt_ctx;

/* Sequences per pair in a batch: pointwise 2 (chosen, rejected); pairwise
 * 4: order o (0: A = chosen) with label l at 4 b + 2 o + l. */
static int seqs_per_pair(rmtrain_kind k) { return k == RMTRAIN_POINTWISE ? 2 : 4; }

/* Fill the micro-batch buffers with pairs idx[0..nb) of d and run the
 * forward pass. */
static pp_status forward_pairs(rmt_ctx *c, const rmt_data *d, const model *m, const int *idx, int nb, pp_err *err) {
    step_batch *b = &c->b;
    int pos = 0, s = 0;
    for (int j = 0; j < nb; j++)
        for (int v = 0; v < 2; v++) {
            int64_t view = 2 * (int64_t)idx[j] + v;
            int len = d->lens[view];
            for (int l = 0; l < (c->kind == RMTRAIN_PAIRWISE ? 2 : 1); l++) {
                memcpy(b->mb_tokens + pos, d->tokens + d->start[view], (size_t)len * sizeof(int));
                memset(b->mb_mask + pos, 0, (size_t)len);
                int n = len;
                if (c->kind == RMTRAIN_PAIRWISE) { /* the label after the cue, the one scored token */
                    b->mb_tokens[pos + len] = c->label[l];
                    b->mb_mask[pos + len] = 1;
                    n++;
                }
                b->mb_lens[s++] = n;
                pos += n;
            }
        }
    train_batch tb = {.n_seq = s, .lens = b->mb_lens, .tokens = b->mb_tokens, .target_mask = b->mb_mask};
    return model_forward_logps(m, &b->ws, &tb, b->logp, b->ntok, err);
}

/* Reward of sequence s of the last forward: head . final hidden state of
 * its last token, in double with cblas_ddot as the rm judge scores
 * (reward_model.c), so training, evaluation and judging agree to the bit. */
static double reward_of(rmt_ctx *c, const model *m, int s) {
    const train_ws *ws = &c->b.ws;
    int d = m->cfg.dim, row = train_ws_seq_start(ws, s) + c->b.mb_lens[s] - 1;
    const float *h = train_ws_hidden(ws) + (size_t)row * d;
    for (int j = 0; j < d; j++) {
        c->row_a[j] = h[j];
        c->row_b[j] = m->w.reward_head[j];
    }
    return cblas_ddot(d, c->row_b, 1, c->row_a, 1);
}

/* margin[o] of pair j of the last forward: pointwise (o = 0 only) r(chosen)
 * - r(rejected); pairwise logp(correct label) - logp(wrong label) of order
 * o (order 0: A = chosen, so A is correct; order 1: B is). */
static void pair_margins(rmt_ctx *c, const model *m, int j, double margin[2]) {
    if (c->kind == RMTRAIN_POINTWISE) {
        margin[0] = reward_of(c, m, 2 * j) - reward_of(c, m, 2 * j + 1);
        margin[1] = margin[0];
        return;
    }
    const float *lp = c->b.logp + 4 * j;
    margin[0] = (double)lp[0] - (double)lp[1];
    margin[1] = (double)lp[3] - (double)lp[2];
}

static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* ------------------------------------------------------------ gradient */

/* This rank's share [lo, hi) of a global batch of B pairs. */
static void my_slice(int64_t B, int rank, int size, int64_t *lo, int64_t *hi) {
    *lo = B * rank / size;
    *hi = B * (rank + 1) / size;
}

/* Backward of pair j's loss (weight g = dL/dmargin of each order). */
static void seed_pair(rmt_ctx *c, const model *m, int j, const double g[2], float *grads) {
    step_batch *b = &c->b;
    if (c->kind == RMTRAIN_PAIRWISE) {
        b->dlogp[4 * j + 0] = (float)g[0], b->dlogp[4 * j + 1] = (float)-g[0];
        b->dlogp[4 * j + 3] = (float)g[1], b->dlogp[4 * j + 2] = (float)-g[1];
        return;
    }
    const train_ws *ws = &b->ws;
    int d = m->cfg.dim;
    model_tensors gt;
    model_point(&gt, grads, &m->cfg);
    for (int v = 0; v < 2; v++) { /* r = head . h: dL/dh = g head, dL/dhead = g h */
        int s = 2 * j + v, row = train_ws_seq_start(ws, s) + b->mb_lens[s] - 1;
        float gv = (float)(v == 0 ? g[0] : -g[0]);
        const float *h = train_ws_hidden(ws) + (size_t)row * d;
        float *dh = c->dhidden + (size_t)row * d;
        for (int k = 0; k < d; k++) {
            dh[k] = gv * m->w.reward_head[k];
            gt.reward_head[k] += gv * h[k];
        }
    }
}

/* trainer_grad_fn: metrics loss (per pair), accuracy, agreement. */
static pp_status rmt_grad(void *vctx, int64_t step, const model *m, float *grads, double *metrics, pp_err *err) {
    rmt_ctx *c = vctx;
    const int B = c->global_batch;
    for (int j = 0; j < B; j++) c->b.idx[j] = (int)step_batch_item(&c->b, step, j);
    int64_t lo, hi;
    my_slice(B, c->rank, c->size, &lo, &hi);
    double loss = 0, correct = 0, agree = 0;
    const int orders = c->kind == RMTRAIN_PAIRWISE ? 2 : 1;
    for (int64_t j0 = lo; j0 < hi; j0 += c->micro_batch) {
        int nb = (int)(hi - j0 < c->micro_batch ? hi - j0 : c->micro_batch);
        PP_TRY(forward_pairs(c, c->data, m, c->b.idx + j0, nb, err));
        if (c->kind == RMTRAIN_POINTWISE)
            memset(c->dhidden, 0, (size_t)c->b.ws.n_tokens * m->cfg.dim * sizeof *c->dhidden);
        for (int j = 0; j < nb; j++) {
            double mg[2], g[2] = {0, 0};
            pair_margins(c, m, j, mg);
            for (int o = 0; o < orders; o++) { /* -log sigmoid(margin), averaged over the ordered examples */
                loss += softplus(-mg[o]) / orders;
                correct += (mg[o] > 0) / (double)orders;
                g[o] = -sigmoid(-mg[o]) / ((double)B * orders);
            }
            agree += orders == 1 || (mg[0] > 0) == (mg[1] > 0);
            seed_pair(c, m, j, g, grads);
        }
        if (c->kind == RMTRAIN_POINTWISE)
            PP_TRY(model_backward_hidden(m, &c->b.ws, NULL, NULL, c->dhidden, grads, err));
        else PP_TRY(model_backward(m, &c->b.ws, c->b.dlogp, NULL, grads, err));
    }
    metrics[0] = loss / B;
    metrics[1] = correct / B;
    metrics[2] = agree / B;
    return PP_OK;
}

/* ------------------------------------------------------------ evaluation */

/* Accuracy and agreement of m on the examples d: whole micro-batches of
 * pairs, split over the ranks; the counts are integers (halves for
 * pairwise accuracy, counted in units of one order) summed over comm, so
 * the figures do not depend on the rank count.  Collective. */
static pp_status evaluate(rmt_ctx *c, const rmt_data *d, const model *m, MPI_Comm comm, double *accuracy,
                          double *agreement, pp_err *err) {
    int64_t lo, hi, counts[2] = {0, 0}; /* correct orders, agreeing pairs */
    my_slice(d->n, c->rank, c->size, &lo, &hi);
    int *idx = malloc((size_t)c->micro_batch * sizeof *idx);
    pp_status st = idx ? PP_OK : pp_fail(err, PP_ESYS, "out of memory");
    const int orders = c->kind == RMTRAIN_PAIRWISE ? 2 : 1;
    for (int64_t j0 = lo; st == PP_OK && j0 < hi; j0 += c->micro_batch) {
        int nb = (int)(hi - j0 < c->micro_batch ? hi - j0 : c->micro_batch);
        for (int j = 0; j < nb; j++) idx[j] = (int)(j0 + j);
        st = forward_pairs(c, d, m, idx, nb, err);
        for (int j = 0; st == PP_OK && j < nb; j++) {
            double mg[2];
            pair_margins(c, m, j, mg);
            for (int o = 0; o < orders; o++) counts[0] += mg[o] > 0;
            counts[1] += orders == 1 || (mg[0] > 0) == (mg[1] > 0);
        }
    }
    free(idx);
    PP_TRY(pp_agree(comm, st, err));
    MPI_Allreduce(MPI_IN_PLACE, counts, 2, MPI_INT64_T, MPI_SUM, comm);
    *accuracy = d->n ? (double)counts[0] / ((double)d->n * orders) : 0;
    *agreement = d->n ? (double)counts[1] / (double)d->n : 0;
    return PP_OK;
}

/* ------------------------------------------------------------ the run */


typedef struct {
    const rmtrain_options *o;
    model m;
    char *templ;                       /* pairwise: the template's text */
    pairs_set pairs, held[RMTRAIN_MAX_HELDOUT];
    rmt_data data, held_data[RMTRAIN_MAX_HELDOUT];
    rmt_ctx ctx;
    MPI_Comm comm;
    const pp_log *log;
    char names[3 * RMTRAIN_MAX_HELDOUT + 2][32];
} rmt_job;

static void job_free(rmt_job *j) {
    step_batch_free(&j->ctx.b);
    free(j->ctx.dhidden), free(j->ctx.row_a), free(j->ctx.row_b);
    data_free(&j->data);
    pairs_free(&j->pairs);
    for (int h = 0; h < RMTRAIN_MAX_HELDOUT; h++) data_free(&j->held_data[h]), pairs_free(&j->held[h]);
    free(j->templ);
    model_free(&j->m);
}

/* trainer_final_fn: the accuracies of the trained model, logged and kept
 * as attributes of /train. */
static pp_status final_figures(void *vjob, const model *m, int *n, const char **names, double *values, pp_err *err) {
    rmt_job *j = vjob;
    const rmtrain_options *o = j->o;
    double acc, agr;
    int k = 0;
    PP_TRY(evaluate(&j->ctx, &j->data, m, j->comm, &acc, &agr, err));
    names[k] = "train_accuracy", values[k++] = acc;
    if (o->kind == RMTRAIN_PAIRWISE) names[k] = "train_agreement", values[k++] = agr;
    pp_info(j->log, "training pairwise accuracy %.4f on %lld pairs", acc, (long long)j->data.n);
    if (o->kind == RMTRAIN_PAIRWISE) pp_info(j->log, "training order agreement %.4f", agr);
    for (int h = 0; h < o->n_heldout; h++) {
        PP_TRY(evaluate(&j->ctx, &j->held_data[h], m, j->comm, &acc, &agr, err));
        snprintf(j->names[k], sizeof j->names[k], "heldout_accuracy_%d", h);
        names[k] = j->names[k], values[k++] = acc;
        snprintf(j->names[k], sizeof j->names[k], "heldout_pairs_%d", h);
        names[k] = j->names[k], values[k++] = (double)j->held_data[h].n;
        if (o->kind == RMTRAIN_PAIRWISE) {
            snprintf(j->names[k], sizeof j->names[k], "heldout_agreement_%d", h);
            names[k] = j->names[k], values[k++] = agr;
        }
        pp_info(j->log, "held-out pairwise accuracy %.4f on %lld pairs of %s%s%s%s", acc,
                (long long)j->held_data[h].n, o->heldout[h], j->held[h].split[0] ? " (split " : "", j->held[h].split,
                j->held[h].split[0] ? ")" : "");
        if (o->kind == RMTRAIN_PAIRWISE) pp_info(j->log, "held-out order agreement %.4f on %s", agr, o->heldout[h]);
    }
    *n = k;
    return PP_OK;
}

/* The options a run checks before loading anything. */
static pp_status check_options(const rmtrain_options *o, pp_err *err) {
    if (o->steps < 1) return pp_fail(err, PP_EINPUT, "--steps must be at least 1 for --kind %s", kind_name(o->kind));
    if (o->batch < 1) return pp_fail(err, PP_EINPUT, "--batch must be at least 1");
    if (o->micro_batch < 1) return pp_fail(err, PP_EINPUT, "--micro-batch must be at least 1");
    if (o->n_heldout > RMTRAIN_MAX_HELDOUT)
        return pp_fail(err, PP_EINPUT, "--kind %s takes at most %d --heldout files (got %d)", kind_name(o->kind),
                       RMTRAIN_MAX_HELDOUT, o->n_heldout);
    return PP_OK;
}

/* The examples of a pairs file (loaded and checked against the base
 * model) for the model as it will be trained. */
static pp_status build_examples(rmt_job *j, const char *path, const pairs_set *s, rmt_data *d, pp_err *err) {
    PP_TRY(data_build(d, j->o->kind, s, &j->m, j->templ, err));
    if (d->n == 0)
        return pp_fail(err, PP_EINPUT, "%s: no pair's judge prompt fits the model's context (%d tokens): use a "
                       "shorter --judge-template or a longer --context", path, j->m.cfg.seq_len);
    if (d->skipped > 0)
        pp_warn(j->log, "%s: %lld of %lld pairs left out: their judge prompt does not fit the context (%d tokens)",
                path, (long long)d->skipped, (long long)s->n_pairs, j->m.cfg.seq_len);
    return PP_OK;
}

/* Model, template, labels, examples and the workspace of every rank. */
static pp_status job_setup(rmt_job *j, pp_err *err) {
    const rmtrain_options *o = j->o;
    PP_TRY(model_load(o->model, &j->m, err));
    if (j->m.cfg.reward_head)
        return pp_fail(err, PP_EINPUT, "%s: the model already has a reward head; give the base model", o->model);
    if (o->kind == RMTRAIN_PAIRWISE) {
        if (o->judge_template) {
            size_t len;
            PP_TRY(pp_read_file(o->judge_template, 1 << 20, "judge template", &j->templ, &len, err));
            if (strlen(j->templ) != len)
                return pp_fail(err, PP_EINPUT, "%s: the judge template holds a NUL byte", o->judge_template);
        } else if (!(j->templ = strdup(judge_model_default_template))) return pp_fail(err, PP_ESYS, "out of memory");
        PP_TRY(judge_model_check_template(j->templ, o->judge_template ? o->judge_template : "built-in", err));
        PP_TRY(judge_model_labels(&j->m.tok, o->judge_labels, j->ctx.label, err));
    }
    /* the pairs were generated by the base model: checked before its context grows */
    PP_TRY(rm_load_pairs(o->pairs, &j->m, o->model, &j->pairs, err));
    for (int h = 0; h < o->n_heldout; h++) PP_TRY(rm_load_pairs(o->heldout[h], &j->m, o->model, &j->held[h], err));
    if (o->context > 0) PP_TRY(model_extend_context(&j->m, o->context, "--context", o->model, err)); /* never lowered */
    PP_TRY(build_examples(j, o->pairs, &j->pairs, &j->data, err));
    for (int h = 0; h < o->n_heldout; h++) PP_TRY(build_examples(j, o->heldout[h], &j->held[h], &j->held_data[h], err));
    if (o->kind == RMTRAIN_POINTWISE) PP_TRY(model_add_reward_head(&j->m, err));

    rmt_ctx *c = &j->ctx;
    c->kind = o->kind;
    c->data = &j->data;
    c->global_batch = o->batch;
    c->micro_batch = o->micro_batch;
    MPI_Comm_rank(j->comm, &c->rank);
    MPI_Comm_size(j->comm, &c->size);
    if (o->batch < c->size)
        return pp_fail(err, PP_EINPUT, "--batch %d is smaller than the number of ranks (%d)", o->batch, c->size);
    int max_len = j->data.max_len;
    for (int h = 0; h < o->n_heldout; h++)
        if (j->held_data[h].max_len > max_len) max_len = j->held_data[h].max_len;
    int seqs = seqs_per_pair(o->kind) * o->micro_batch, d = j->m.cfg.dim;
    PP_TRY(step_batch_alloc(&c->b, &j->m.cfg, j->data.n, o->batch, seqs, seqs * max_len, o->opt.recompute,
                            (uint64_t)o->seed, RMTRAIN_STREAM_ORDER, err));
    if (o->kind == RMTRAIN_POINTWISE) {
        c->dhidden = malloc((size_t)seqs * max_len * d * sizeof *c->dhidden);
        c->row_a = malloc((size_t)d * sizeof *c->row_a);
        c->row_b = malloc((size_t)d * sizeof *c->row_b);
        if (!c->dhidden || !c->row_a || !c->row_b) return pp_fail(err, PP_ESYS, "out of memory for the reward head");
    }
    return PP_OK;
}

pp_status rmtrain_run(const rmtrain_options *o, MPI_Comm comm, const pp_log *log, pp_err *err) {
    pp_input in[2 + RMTRAIN_MAX_HELDOUT] = {{"pairs", o->pairs}, {"model", o->model}};
    int n_in = 2;
    for (int h = 0; h < o->n_heldout && h < RMTRAIN_MAX_HELDOUT; h++) in[n_in++] = (pp_input){"heldout", o->heldout[h]};
    rmt_job j = {.o = o, .comm = comm, .log = log};
    pp_runkey key;
    pp_runkey_init(&key);
    pp_status st = check_options(o, err);
    if (st == PP_OK) st = pp_check_output(o->out, in, n_in, err);
    model_config shape;
    if (st == PP_OK) st = pp_agree(comm, model_read_config(o->model, &shape, err), err);
    if (st == PP_OK && o->context > shape.seq_len) shape.seq_len = o->context;
    if (st == PP_OK) /* the estimate: at most 4 sequences of a context each per pair of a micro-batch */
        st = trainer_memory_check(&o->opt, &shape, seqs_per_pair(o->kind) * o->micro_batch * shape.seq_len, comm,
                                  o->mem, log, err);
    if (st == PP_OK) st = job_setup(&j, err);
    st = pp_agree(comm, st, err);
    if (st == PP_OK) {
        pp_info(log, "--kind %s: %lld pairs of %s, %zu parameters, %d ranks, batch %d pairs", kind_name(o->kind),
                (long long)j.data.n, o->pairs, j.m.n_params, j.ctx.size, o->batch);
        char stage[32];
        snprintf(stage, sizeof stage, "rm-%s", kind_name(o->kind));
        st = trainer_run_key(&key, stage, "pairs", o->pairs, "model", &j.m, o->steps, o->arguments, comm, err);
        /* the template's text, not only its path (the same on every rank: each read the file) */
        if (st == PP_OK && j.templ)
            pp_runkey_i64(&key, "judge_template_hash", (int64_t)pp_hash_bytes(0, j.templ, strlen(j.templ)));
    }
    if (st == PP_OK) {
        pp_provenance prov = {"pp-rm", o->arguments, in, n_in};
        trainer_config tc = {.out_path = o->out, .kind = o->kind == RMTRAIN_POINTWISE ? "rm-pointwise" : "rm-pairwise",
                             .total_steps = o->steps, .checkpoint_every = o->opt.checkpoint_every,
                             .keep_last = o->opt.keep_last, .run_key = pp_runkey_text(&key), .n_metrics = 3,
                             .metric_names = {"loss", "accuracy", "agreement"}, .comm = comm, .log = log,
                             .prov = &prov, .log_every = o->opt.log_every,
                             .opt = trainer_cli_adamw(&o->opt, o->steps), .shard_optimizer = o->opt.shard_optimizer,
                             .final_fn = final_figures, .final_ctx = &j};
        if (o->kind == RMTRAIN_PAIRWISE) { /* what the model judge needs to read it as trained */
            tc.n_text_attrs = 2;
            tc.text_attr_names[0] = "judge_template", tc.text_attr_values[0] = j.templ;
            tc.text_attr_names[1] = "judge_labels", tc.text_attr_values[1] = o->judge_labels;
        }
        double t0 = pp_now();
        st = trainer_run(&tc, &j.m, rmt_grad, &j.ctx, err);
        if (st == PP_OK) pp_info(log, "wrote %s in %.1fs", o->out, pp_now() - t0);
    }
    pp_runkey_free(&key);
    job_free(&j);
    return st;
}
