/* dpo.c - preference data, reference log-probs, DPO-family gradient (dpo.h). */
#include "train/dpo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_io.h"
#include "model/score.h"
#include "core/pp_rng.h"
#include "core/pp_mpi.h"
#include "core/pp_runkey.h"
#include "core/pp_testhook.h"
#include <unistd.h>

#define DPO_STREAM_ORDER 0xD7000000u

const char *const dpo_metric_names[DPO_M_N] = {
    "loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies",
    "logps/chosen", "logps/rejected", "bcr/over_budget_fraction", "delta/chosen_mean"};

pp_status dpo_data_build(dpo_data *d, const pairs_set *p, int max_len, pp_err *err) {
    memset(d, 0, sizeof *d);
    if (p->n_pairs <= 0) return pp_fail(err, PP_EINPUT, "the pairs file has no pairs");
    int64_t n = p->n_pairs;
    size_t total[2] = {0, 0};
    for (int64_t i = 0; i < n; i++) {
        int64_t np, nc, nr;
        pairs_prompt_tokens(p, i, &np);
        pairs_chosen_tokens(p, i, &nc);
        pairs_rejected_tokens(p, i, &nr);
        total[0] += (size_t)(np + nc);
        total[1] += (size_t)(np + nr);
    }
    for (int s = 0; s < 2; s++) {
        d->len[s] = malloc((size_t)n * sizeof(int));
        d->resp[s] = malloc((size_t)n * sizeof(int));
        d->start[s] = malloc((size_t)n * sizeof(int64_t));
        d->tokens[s] = malloc((total[s] + 1) * sizeof(int));
        d->ref_logp[s] = calloc((size_t)n, sizeof(double));
        if (!d->len[s] || !d->resp[s] || !d->start[s] || !d->tokens[s] || !d->ref_logp[s]) {
            dpo_data_free(d);
            return pp_fail(err, PP_ESYS, "out of memory for %lld pairs", (long long)n);
        }
    }
    int64_t pos[2] = {0, 0};
    for (int64_t i = 0; i < n; i++) {
        int64_t np, nresp[2];
        const int32_t *pt = pairs_prompt_tokens(p, i, &np);
        const int32_t *rt[2] = {pairs_chosen_tokens(p, i, &nresp[0]), pairs_rejected_tokens(p, i, &nresp[1])};
        if (np + 1 > max_len) {
            dpo_data_free(d);
            return pp_fail(err, PP_EINPUT, "pair %lld: its prompt (%lld tokens) leaves no room for the response in %d",
                           (long long)i, (long long)np, max_len);
        }
        int cut = 0;
        for (int s = 0; s < 2; s++) {
            int64_t keep = nresp[s];
            if (np + keep > max_len) {
                keep = max_len - np;
                cut = 1;
            }
            if (keep < 1) {
                dpo_data_free(d);
                return pp_fail(err, PP_EINPUT, "pair %lld: the %s response is empty", (long long)i, s ? "rejected" : "chosen");
            }
            d->start[s][i] = pos[s];
            for (int64_t t = 0; t < np; t++) d->tokens[s][pos[s] + t] = pt[t];
            for (int64_t t = 0; t < keep; t++) d->tokens[s][pos[s] + np + t] = rt[s][t];
            d->len[s][i] = (int)(np + keep);
            d->resp[s][i] = (int)keep;
            if (d->len[s][i] > d->max_len) d->max_len = d->len[s][i];
            pos[s] += np + keep;
        }
        d->truncated += cut;
    }
    d->n = n;
    return PP_OK;
}

void dpo_data_free(dpo_data *d) {
    for (int s = 0; s < 2; s++) {
        free(d->len[s]);
        free(d->resp[s]);
        free(d->start[s]);
        free(d->tokens[s]);
        free(d->ref_logp[s]);
    }
    memset(d, 0, sizeof *d);
}

/* Copy sequences into one micro-batch: entries (pair idx[j], side) for j <
 * nb, chosen and rejected interleaved; mask the response tokens. */
static int fill_batch(const dpo_data *d, const int *idx, int nb, int *lens, int *tokens, uint8_t *mask) {
    int pos = 0;
    for (int j = 0; j < nb; j++)
        for (int s = 0; s < 2; s++) {
            int i = idx[j], len = d->len[s][i], np = len - d->resp[s][i];
            memcpy(tokens + pos, d->tokens[s] + d->start[s][i], (size_t)len * sizeof(int));
            memset(mask + pos, 0, (size_t)np);
            memset(mask + pos + np, 1, (size_t)(len - np));
            lens[2 * j + s] = len;
            pos += len;
        }
    return pos;
}

/* Pairs per scorer call: enough sequences to fill the scorer's rows; the
 * log-probs do not depend on it (score.h). */
#define SCORE_PAIRS 64

pp_status dpo_compute_logps(dpo_data *d, const model *m, int micro_batch, MPI_Comm comm, double *out_chosen,
                            double *out_rejected, pp_err *err) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int64_t lo = d->n * rank / size, hi = d->n * (rank + 1) / size;
    int chunk = micro_batch > SCORE_PAIRS ? micro_batch : SCORE_PAIRS;
    scorer sc;
    /* the ranks of a node hold the reference's packed weights once */
    pp_status st = scorer_init_shared(&sc, m, d->max_len, 0, 0, 1, comm, err);
    int *idx = malloc((size_t)chunk * sizeof *idx), *lens = malloc((size_t)2 * chunk * sizeof *lens);
    int *tokens = malloc((size_t)2 * chunk * d->max_len * sizeof *tokens);
    uint8_t *mask = malloc((size_t)2 * chunk * d->max_len);
    float *logp = malloc((size_t)2 * chunk * sizeof *logp);
    double *both = calloc((size_t)(2 * d->n), sizeof *both);
    if (st == PP_OK && (!idx || !lens || !tokens || !mask || !logp || !both)) st = pp_fail(err, PP_ESYS, "out of memory");
    for (int64_t i0 = lo; st == PP_OK && i0 < hi; i0 += chunk) {
        int nb = (int)(hi - i0 < chunk ? hi - i0 : chunk);
        for (int j = 0; j < nb; j++) idx[j] = (int)(i0 + j);
        fill_batch(d, idx, nb, lens, tokens, mask);
        train_batch tb = {.n_seq = 2 * nb, .lens = lens, .tokens = tokens, .target_mask = mask};
        st = scorer_run(&sc, &tb, logp, NULL, NULL, err);
        for (int j = 0; st == PP_OK && j < nb; j++) {
            both[i0 + j] = logp[2 * j];
            both[d->n + i0 + j] = logp[2 * j + 1];
        }
        pp_test_hook_sleep(PP_HOOK_CHUNK_DELAY); /* lets tests kill the reference phase midway */
    }
    st = pp_agree(comm, st, err);
    if (st == PP_OK) { /* each rank filled its own range, zeros elsewhere: a sum gathers */
        MPI_Allreduce(MPI_IN_PLACE, both, (int)(2 * d->n), MPI_DOUBLE, MPI_SUM, comm);
        memcpy(out_chosen, both, (size_t)d->n * sizeof *both);
        memcpy(out_rejected, both + d->n, (size_t)d->n * sizeof *both);
    }
    scorer_free(&sc);
    free(idx);
    free(lens);
    free(tokens);
    free(mask);
    free(logp);
    free(both);
    return st;
}

/* Reads one log-prob dataset of n finite values from an open cache. */
static pp_status read_cached_logps(pp_h5 *f, const char *name, int64_t n, double *out, pp_err *err) {
    int64_t want[1] = {n};
    PP_TRY(pp_h5_expect(f, name, PP_F64, 1, want, NULL, err));
    PP_TRY(pp_h5_read_all(f, name, PP_F64, out, err));
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(out[i])) return pp_fail(err, PP_EINPUT, "%s: %s element %lld is %g", f->path, name, (long long)i, out[i]);
    return PP_OK;
}

/* *hit = 1 when the cache holds the log-probs of this reference, pairs file
 * and length.  A cache made for other inputs is a plain miss; one that claims
 * to match but is damaged (missing or short datasets, non-finite values) is
 * a miss with a warning: the log-probs are recomputed and the cache rewritten. */
static void read_cache(dpo_data *d, const char *cache, const char *ref_fp, const char *pairs_fp, int *hit,
                       const pp_log *log) {
    *hit = 0;
    if (access(cache, R_OK) != 0) return;
    pp_h5 f;
    pp_err e;
    if (pp_h5_open(&f, cache, "ref_logps", REF_LOGPS_SCHEMA_VERSION, &e) != PP_OK) {
        pp_warn(log, "%s; recomputing the reference log-probs", e.msg);
        return;
    }
    char a[64] = "", b[64] = "";
    int64_t n = -1, maxlen = -1;
    /* a cache without them is another program's file: it is not a hit */
    pp_h5_opt_attr_str(&f, "/", "reference_fingerprint", a, sizeof a, "");
    pp_h5_opt_attr_str(&f, "/", "pairs_fingerprint", b, sizeof b, "");
    pp_h5_opt_attr_i64(&f, "/", "n_pairs", &n, -1);
    pp_h5_opt_attr_i64(&f, "/", "max_len", &maxlen, -1);
    if (!strcmp(a, ref_fp) && !strcmp(b, pairs_fp) && n == d->n && maxlen == d->max_len) {
        pp_status st = read_cached_logps(&f, "/chosen_logp", n, d->ref_logp[0], &e);
        if (st == PP_OK) st = read_cached_logps(&f, "/rejected_logp", n, d->ref_logp[1], &e);
        if (st == PP_OK) *hit = 1;
        else pp_warn(log, "damaged reference log-prob cache: %s; recomputing it", e.msg);
    }
    pp_h5_close(&f);
}

pp_status dpo_reference_logps(dpo_data *d, const char *ref_path, const char *pairs_path, const char *cache_path,
                              int micro_batch, MPI_Comm comm, const pp_log *log, int *reused, pp_err *err) {
    int rank;
    MPI_Comm_rank(comm, &rank);
    /* The cache is keyed on the fingerprint of the reference as loaded (its
     * weights, config and tokenizer), not on what the file claims: a model
     * with other heads or another RoPE base must not reuse the log-probs. */
    model ref;
    pp_status st = model_load_shared(ref_path, &ref, comm, err); /* read only: once per node */
    PP_TRY(st);
    char ref_fp[17] = "", pairs_fp[17] = "";
    model_fingerprint_hex(&ref, ref_fp);
    st = pp_file_fingerprint(pairs_path, pairs_fp, err);
    int hit = 0;
    if (st == PP_OK && rank == 0) read_cache(d, cache_path, ref_fp, pairs_fp, &hit, log);
    st = pp_agree(comm, st, err);
    MPI_Bcast(&hit, 1, MPI_INT, 0, comm);
    *reused = hit;
    if (st == PP_OK && hit) {
        MPI_Bcast(d->ref_logp[0], (int)d->n, MPI_DOUBLE, 0, comm);
        MPI_Bcast(d->ref_logp[1], (int)d->n, MPI_DOUBLE, 0, comm);
    } else if (st == PP_OK) {
        pp_info(log, "reference log-probs: scoring %lld pairs", (long long)d->n);
        st = dpo_compute_logps(d, &ref, micro_batch, comm, d->ref_logp[0], d->ref_logp[1], err);
    }
    model_free(&ref); /* the reference is not held during training */
    if (st != PP_OK || hit) return st;
    /* write the cache */
    pp_provenance prov = {"pp-train", "reference log-probs", (pp_input[]){{"reference", ref_path}, {"pairs", pairs_path}}, 2};
    pp_h5 f;
    PP_TRY(pp_h5_create(&f, cache_path, comm, "ref_logps", REF_LOGPS_SCHEMA_VERSION, &prov, err));
    int64_t dims[1] = {d->n};
    st = pp_h5_attr_i64(&f, "/", "n_pairs", d->n, err);
    if (st == PP_OK) st = pp_h5_attr_str(&f, "/", "reference_fingerprint", ref_fp, err);
    if (st == PP_OK) st = pp_h5_attr_str(&f, "/", "pairs_fingerprint", pairs_fp, err);
    if (st == PP_OK) st = pp_h5_attr_i64(&f, "/", "max_len", d->max_len, err);
    if (st == PP_OK) st = pp_h5_write_root(&f, "/chosen_logp", PP_F64, 1, dims, d->ref_logp[0], err);
    if (st == PP_OK) st = pp_h5_write_root(&f, "/rejected_logp", PP_F64, 1, dims, d->ref_logp[1], err);
    if (st == PP_OK) st = pp_h5_write_root(&f, "/chosen_len", PP_I32, 1, dims, d->resp[0], err);
    if (st == PP_OK) st = pp_h5_write_root(&f, "/rejected_len", PP_I32, 1, dims, d->resp[1], err);
    if (st != PP_OK) {
        pp_h5_abort(&f);
        return st;
    }
    return pp_h5_commit(&f, err);
}

pp_status dpo_ctx_init(dpo_ctx *c, const dpo_data *d, const model_config *cfg, const pref_loss_opts *loss,
                       int global_batch, int micro_batch, int recompute, uint64_t seed, MPI_Comm comm, pp_err *err) {
    memset(c, 0, sizeof *c);
    c->data = d;
    c->loss = *loss;
    c->global_batch = global_batch;
    c->micro_batch = micro_batch;
    MPI_Comm_rank(comm, &c->rank);
    MPI_Comm_size(comm, &c->size);
    if (global_batch < c->size)
        return pp_fail(err, PP_EINPUT, "--batch %d is smaller than the number of ranks (%d)", global_batch, c->size);
    /* a micro-batch holds both sides of micro_batch pairs */
    return step_batch_alloc(&c->b, cfg, d->n, global_batch, 2 * micro_batch, 2 * micro_batch * d->max_len, recompute, seed,
                             DPO_STREAM_ORDER, err);
}

void dpo_ctx_free(dpo_ctx *c) {
    step_batch_free(&c->b);
    memset(c, 0, sizeof *c);
}

pp_status dpo_grad(void *vctx, int64_t step, const model *m, float *grads, double *metrics, pp_err *err) {
    dpo_ctx *c = vctx;
    const dpo_data *d = c->data;
    int B = c->global_batch;
    for (int j = 0; j < B; j++) c->b.idx[j] = (int)step_batch_item(&c->b, step, j);
    int lo = (int)((int64_t)B * c->rank / c->size), hi = (int)((int64_t)B * (c->rank + 1) / c->size);
    pref_metrics sum = {0};
    for (int j0 = lo; j0 < hi; j0 += c->micro_batch) {
        int nb = hi - j0 < c->micro_batch ? hi - j0 : c->micro_batch;
        fill_batch(d, c->b.idx + j0, nb, c->b.mb_lens, c->b.mb_tokens, c->b.mb_mask);
        train_batch tb = {.n_seq = 2 * nb, .lens = c->b.mb_lens, .tokens = c->b.mb_tokens, .target_mask = c->b.mb_mask};
        PP_TRY(model_forward_logps(m, &c->b.ws, &tb, c->b.logp, c->b.ntok, err));
        for (int j = 0; j < nb; j++) {
            int i = c->b.idx[j0 + j];
            pref_pair in = {.policy_chosen = c->b.logp[2 * j], .policy_rejected = c->b.logp[2 * j + 1],
                            .ref_chosen = d->ref_logp[0][i], .ref_rejected = d->ref_logp[1][i],
                            .len_chosen = d->resp[0][i], .len_rejected = d->resp[1][i]};
            pref_pair_result r;
            pp_status st = pref_loss_pair(&c->loss, &in, &r, err);
            if (st != PP_OK) return pp_wrap(err, "step %lld, pair %d", (long long)step + 1, i);
            pref_metrics_add(&sum, &in, &r);
            /* the loss is the mean over the global batch */
            c->b.dlogp[2 * j] = (float)(r.d_policy_chosen / B);
            c->b.dlogp[2 * j + 1] = (float)(r.d_policy_rejected / B);
        }
        PP_TRY(model_backward(m, &c->b.ws, c->b.dlogp, NULL, grads, err));
    }
    metrics[DPO_M_LOSS] = sum.loss / B;
    metrics[DPO_M_REWARD_CHOSEN] = sum.reward_chosen / B;
    metrics[DPO_M_REWARD_REJECTED] = sum.reward_rejected / B;
    metrics[DPO_M_MARGIN] = sum.margin / B;
    metrics[DPO_M_ACCURACY] = sum.accuracy / B;
    metrics[DPO_M_LOGP_CHOSEN] = sum.logp_chosen / B;
    metrics[DPO_M_LOGP_REJECTED] = sum.logp_rejected / B;
    metrics[DPO_M_OVER_BUDGET] = sum.over_budget / B;
    metrics[DPO_M_DELTA_CHOSEN] = sum.delta_chosen / B;
    return PP_OK;
}

pp_status dpo_heldout_metrics(dpo_data *d, const model *m, const pref_loss_opts *loss, int micro_batch,
                              MPI_Comm comm, double *accuracy, double *margin, pp_err *err) {
    double *lc = malloc((size_t)d->n * sizeof *lc), *lr = malloc((size_t)d->n * sizeof *lr);
    pp_status st = lc && lr ? PP_OK : pp_fail(err, PP_ESYS, "out of memory");
    if (st == PP_OK) st = dpo_compute_logps(d, m, micro_batch, comm, lc, lr, err);
    pref_metrics sum = {0};
    for (int64_t i = 0; st == PP_OK && i < d->n; i++) {
        pref_pair in = {.policy_chosen = lc[i], .policy_rejected = lr[i], .ref_chosen = d->ref_logp[0][i],
                        .ref_rejected = d->ref_logp[1][i], .len_chosen = d->resp[0][i], .len_rejected = d->resp[1][i]};
        pref_pair_result r;
        st = pref_loss_pair(loss, &in, &r, err);
        if (st == PP_OK) pref_metrics_add(&sum, &in, &r);
    }
    if (st == PP_OK) {
        *accuracy = sum.accuracy / (double)d->n;
        *margin = sum.margin / (double)d->n;
    }
    free(lc);
    free(lr);
    return st;
}

/* ------------------------------------------------------------ pp-train */

/* Closing figures: implicit-reward accuracy on held-out pairs. */
typedef struct {
    dpo_data *heldout;
    const pref_loss_opts *loss;
    int micro;
    MPI_Comm comm;
    const pp_log *log;
} heldout_ctx;

static pp_status heldout_final(void *vctx, const model *m, int *n, const char **names, double *values, pp_err *err) {
    heldout_ctx *h = vctx;
    double acc = 0, margin = 0;
    PP_TRY(dpo_heldout_metrics(h->heldout, m, h->loss, h->micro, h->comm, &acc, &margin, err));
    names[0] = "heldout_pairs";
    values[0] = (double)h->heldout->n;
    names[1] = "heldout_rewards_accuracy";
    values[1] = acc;
    names[2] = "heldout_rewards_margin";
    values[2] = margin;
    *n = 3;
    pp_info(h->log, "held-out pairs: rewards/accuracies %.3f, rewards/margins %.4f over %lld pairs", acc, margin,
            (long long)h->heldout->n);
    return PP_OK;
}

/* Everything a pp-train run holds. */
typedef struct {
    pref_loss_opts lo;
    const char *ref, *cache;
    char cache_buf[PP_PATH_MAX];
    pp_input in[4];
    int n_in;
    model m;
    pairs_set p, hp;
    dpo_data d, hd;
    dpo_ctx ctx;
} dpo_job;

/* The options checked, in the order of the command line's checks. */
static pp_status job_options(dpo_job *j, const dpo_run_options *o, pp_err *err) {
    j->ref = o->ref ? o->ref : o->policy;
    j->cache = o->ref_cache;
    if (!j->cache && o->out) {
        snprintf(j->cache_buf, sizeof j->cache_buf, "%s.ref.h5", o->out);
        j->cache = j->cache_buf;
    }
    j->in[0] = (pp_input){"policy", o->policy};
    j->in[1] = (pp_input){"pairs", o->pairs};
    j->in[2] = (pp_input){"reference", j->ref};
    j->in[3] = (pp_input){"heldout", o->heldout};
    j->n_in = o->heldout ? 4 : 3;
    j->lo = o->loss;
    PP_TRY(pref_loss_kind_parse(o->loss_name, "--loss", &j->lo.kind, err));
    PP_TRY(pref_bcr_form_parse(o->bcr_form, "--bcr-form", &j->lo.bcr_form, &j->lo.bcr_per_token, err));
    PP_TRY(pref_loss_check(&j->lo, err));
    PP_TRY(pp_check_output(o->out, j->in, j->n_in, err));
    return pp_check_output(j->cache, j->in, j->n_in, err);
}

/* Policy, pairs, reference log-probs (of the held-out pairs too) and the
 * gradient context, once job_options passed.  Collective: the status is
 * agreed. */
static pp_status job_load(dpo_job *j, const dpo_run_options *o, MPI_Comm comm, const pp_log *log, pp_err *err) {
    pp_status st = model_load(o->policy, &j->m, err);
    if (st == PP_OK) st = pairs_load(&j->p, o->pairs, 0, err);
    if (st == PP_OK) {
        const char *kind = tok_kind_name(j->m.tok.kind);
        if (strcmp(j->p.tokenizer, kind) != 0 || j->p.vocab_size != j->m.cfg.vocab_size)
            st = pp_fail(err, PP_EINPUT, "%s: pairs were made with a %s tokenizer of %d tokens, the policy %s has %s of %d",
                         o->pairs, j->p.tokenizer, j->p.vocab_size, o->policy, kind, j->m.cfg.vocab_size);
    }
    int max_len = o->max_len > 0 && o->max_len < j->m.cfg.seq_len ? o->max_len : j->m.cfg.seq_len;
    if (st == PP_OK) st = dpo_data_build(&j->d, &j->p, max_len, err);
    st = pp_agree(comm, st, err);
    int reused = 0;
    if (st == PP_OK && !j->lo.reference_free) {
        double t0 = pp_now();
        st = dpo_reference_logps(&j->d, j->ref, o->pairs, j->cache, o->micro_batch, comm, log, &reused, err);
        if (st == PP_OK)
            pp_info(log, "reference log-probs %s %s (%.1fs)", reused ? "reused from" : "computed into", j->cache,
                    pp_now() - t0);
    }
    if (st == PP_OK && o->heldout) {
        char hcache[PP_PATH_MAX];
        snprintf(hcache, sizeof hcache, "%s.heldout.ref.h5", o->out);
        st = pairs_load(&j->hp, o->heldout, 0, err);
        if (st == PP_OK) st = dpo_data_build(&j->hd, &j->hp, max_len, err);
        st = pp_agree(comm, st, err);
        if (st == PP_OK && !j->lo.reference_free)
            st = dpo_reference_logps(&j->hd, j->ref, o->heldout, hcache, o->micro_batch, comm, log, &reused, err);
    }
    if (st == PP_OK)
        st = dpo_ctx_init(&j->ctx, &j->d, &j->m.cfg, &j->lo, o->batch, o->micro_batch, o->opt.recompute, (uint64_t)o->seed,
                          comm, err);
    return pp_agree(comm, st, err);
}

static void job_free(dpo_job *j) {
    dpo_ctx_free(&j->ctx);
    dpo_data_free(&j->d);
    dpo_data_free(&j->hd);
    pairs_free(&j->hp);
    pairs_free(&j->p);
    model_free(&j->m);
}

/* The effective arguments with the defaults dpo_run resolved written in
 * (the command line's own variables are o's fields), as pp-train has
 * always recorded them. */
static const char *resolved_arguments(dpo_run_options *o, const dpo_job *j, long long steps) {
    if (!o->cli) return "";
    dpo_run_options given = *o;
    o->ref = j->ref;
    o->ref_cache = j->cache;
    o->steps = steps;
    const char *args = pp_cli_effective(o->cli);
    o->ref = given.ref;
    o->ref_cache = given.ref_cache;
    o->steps = given.steps;
    return args;
}

/* The memory estimate from the policy's shape, before anything is loaded:
 * a micro-batch holds both sides of micro_batch pairs of at most max_len. */
static pp_status job_memory_check(const dpo_run_options *o, MPI_Comm comm, const pp_log *log, pp_err *err) {
    model_config c;
    PP_TRY(pp_agree(comm, model_read_config(o->policy, &c, err), err));
    int max_len = o->max_len > 0 && o->max_len < c.seq_len ? o->max_len : c.seq_len;
    return trainer_memory_check(&o->opt, &c, 2 * o->micro_batch * max_len, comm, o->mem, log, err);
}

pp_status dpo_run(dpo_run_options *o, MPI_Comm comm, const pp_log *log, pp_err *err) {
    dpo_job j;
    memset(&j, 0, sizeof j);
    pp_status st = job_options(&j, o, err);
    st = pp_agree(comm, st, err);
    if (st == PP_OK) st = job_memory_check(o, comm, log, err);
    if (st == PP_OK) st = job_load(&j, o, comm, log, err);
    long long steps = o->steps;
    pp_runkey key;
    pp_runkey_init(&key);
    if (st == PP_OK) {
        int size;
        MPI_Comm_size(comm, &size);
        if (steps == 0) steps = (long long)(o->epochs * (double)j.d.n / o->batch + 0.5);
        if (steps < 1) steps = 1;
        pp_info(log, "%lld pairs (%lld truncated), loss %s, %lld steps of %d pairs, %d ranks", (long long)j.d.n,
                (long long)j.d.truncated, o->loss_name, steps, o->batch, size);
        if (strcmp(j.p.model_fingerprint, "") != 0) {
            char fp[17];
            model_fingerprint_hex(&j.m, fp);
            if (strcmp(fp, j.p.model_fingerprint) != 0)
                pp_warn(log, "the pairs were generated by model %s, the policy is %s", j.p.model_fingerprint, fp);
        }
    }
    const char *arguments = st == PP_OK ? resolved_arguments(o, &j, steps) : "";
    if (st == PP_OK) st = trainer_run_key(&key, "train", "pairs", o->pairs, "policy", &j.m, steps, arguments, comm, err);
    if (st == PP_OK) {
        pp_provenance prov = {"pp-train", arguments, j.in, j.n_in};
        trainer_config tc = {.out_path = o->out, .kind = pref_loss_kind_name(j.lo.kind), .total_steps = steps,
                             .checkpoint_every = o->opt.checkpoint_every, .keep_last = o->opt.keep_last,
                             .run_key = pp_runkey_text(&key), .n_metrics = DPO_M_N, .comm = comm, .log = log,
                             .prov = &prov, .log_every = o->opt.log_every, .opt = trainer_cli_adamw(&o->opt, steps),
                             .shard_optimizer = o->opt.shard_optimizer};
        for (int i = 0; i < DPO_M_N; i++) tc.metric_names[i] = dpo_metric_names[i];
        heldout_ctx hc = {&j.hd, &j.lo, o->micro_batch, comm, log};
        if (o->heldout) {
            tc.final_fn = heldout_final;
            tc.final_ctx = &hc;
        }
        double t0 = pp_now();
        st = trainer_run(&tc, &j.m, dpo_grad, &j.ctx, err);
        if (st == PP_OK) {
            double el = pp_now() - t0;
            pp_info(log, "wrote %s in %.1fs (%.1f pairs/s)", o->out, el, el > 0 ? (double)steps * o->batch / el : 0);
        }
    }
    pp_runkey_free(&key);
    job_free(&j);
    return st;
}
