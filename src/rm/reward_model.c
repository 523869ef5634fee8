/* reward_model.c - features, the pp-rm fit driver, RM files and scoring
 * (see reward_model.h for the model and the determinism argument). */
#include "rm/reward_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "rm/bt_fit.h"
#include "model/model_io.h"
#include "io/pairs.h"
#include "core/pp_rng.h"
#include "core/pp_mpi.h"
#include "rm/scalapack.h"

#define RM_MAX_DIM (1 << 20)

const char *rm_feature_name(rm_feature_kind k) { return k == RM_FEATURES_MEAN ? "mean" : "last"; }

pp_status rm_feature_parse(const char *name, rm_feature_kind *k, pp_err *err) {
    if (name && !strcmp(name, "last")) *k = RM_FEATURES_LAST;
    else if (name && !strcmp(name, "mean")) *k = RM_FEATURES_MEAN;
    else return pp_fail(err, PP_EINPUT, "unknown feature recipe '%s' (last | mean)", name ? name : "");
    return PP_OK;
}

static const char *tokenizer_name(const tokenizer *t) { return tok_kind_name(t->kind); }

/* ------------------------------------------------------------- workspace */

pp_status rm_ws_alloc(rm_ws *ws, const model *m, int max_tokens, pp_err *err) {
    return rm_ws_alloc_shared(ws, m, max_tokens, 0, MPI_COMM_NULL, err);
}

pp_status rm_ws_alloc_shared(rm_ws *ws, const model *m, int max_tokens, int share, MPI_Comm comm, pp_err *err) {
    memset(ws, 0, sizeof *ws);
    const int S = m->cfg.seq_len;
    if (max_tokens <= 0) max_tokens = RM_DEFAULT_BATCH_TOKENS > S ? RM_DEFAULT_BATCH_TOKENS : S;
    if (max_tokens < S)
        return pp_fail(err, PP_EINPUT, "reward model: %d tokens per forward pass is below the model's context (%d)",
                       max_tokens, S);
    ws->max_tokens = max_tokens;
    ws->d = m->cfg.dim;
    PP_TRY(scorer_init_shared(&ws->sc, m, 0, 0, 0, share, comm, err));
    size_t N = (size_t)max_tokens;
    ws->lens = malloc(N * sizeof *ws->lens);
    ws->tokens = malloc(N * sizeof *ws->tokens);
    ws->hidden = malloc(N * (size_t)ws->d * sizeof *ws->hidden);
    ws->resp_start = malloc(N * sizeof *ws->resp_start);
    ws->phi = malloc(N * (size_t)ws->d * sizeof *ws->phi);
    if (!ws->lens || !ws->tokens || !ws->hidden || !ws->resp_start || !ws->phi) {
        rm_ws_free(ws);
        return pp_fail(err, PP_ESYS, "reward model: out of memory for a %d-token workspace", max_tokens);
    }
    return PP_OK;
}

void rm_ws_free(rm_ws *ws) {
    scorer_free(&ws->sc);
    free(ws->lens);
    free(ws->tokens);
    free(ws->hidden);
    free(ws->resp_start);
    free(ws->phi);
    memset(ws, 0, sizeof *ws);
}

/* ---------------------------------------------------------------- features */

/* The inputs of one call: n sequences prompt[i] + resp[i]. */
typedef struct {
    int n;
    const int32_t *const *prompt, *const *resp;
    const int64_t *prompt_len, *resp_len;
} seq_list;

/* One forward pass over the sequences idx[k0], idx[k0 + 1], ... that fit
 * in the workspace; their features go to ws->phi rows 0.., *k_end = the
 * first not done.  The packing depends only on the lengths, so the same
 * inputs always give the same passes. */
static pp_status feature_pass(const model *m, rm_ws *ws, rm_feature_kind kind, const seq_list *q, const int *idx,
                              int k0, int nk, int *k_end, pp_err *err) {
    const int S = m->cfg.seq_len, V = m->cfg.vocab_size, d = m->cfg.dim;
    int total = 0, ns = 0, k = k0;
    while (k < nk) {
        int i = idx[k];
        int64_t np = q->prompt_len[i], nr = q->resp_len[i];
        if (np < 1 || nr < 0)
            return pp_fail(err, PP_EINPUT, "reward model: sequence %d has a prompt of %lld and a response of %lld tokens",
                           i, (long long)np, (long long)nr);
        if (nr > 0 && np >= S)
            return pp_fail(err, PP_EINPUT,
                           "reward model: sequence %d: its prompt (%lld tokens) fills the model's context (%d), "
                           "no response token is visible", i, (long long)np, S);
        int len = np + nr > S ? S : (int)(np + nr);
        if (total + len > ws->max_tokens) break; /* max_tokens >= S: the first always fits */
        int *dst = ws->tokens + total;
        for (int t = 0; t < len; t++) {
            int id = t < np ? q->prompt[i][t] : q->resp[i][t - np];
            if (id < 0 || id >= V)
                return pp_fail(err, PP_EINPUT, "reward model: sequence %d: token %d at position %d is outside the "
                               "model's vocabulary (%d)", i, id, t, V);
            dst[t] = id;
        }
        if (np + nr > S) ws->truncated++;
        ws->lens[ns] = len;
        ws->resp_start[ns] = (int)np;
        total += len;
        ns++;
        k++;
    }
    train_batch b = {.n_seq = ns, .lens = ws->lens, .tokens = ws->tokens, .target_mask = NULL};
    PP_TRY(scorer_run(&ws->sc, &b, NULL, NULL, ws->hidden, err)); /* hidden rows only: no logits */
    const float *h = ws->hidden;
    for (int s = 0, row0 = 0; s < ns; row0 += ws->lens[s], s++) {
        double *phi = ws->phi + (size_t)s * d;
        int first = ws->resp_start[s], len = ws->lens[s];
        if (kind == RM_FEATURES_LAST || first >= len) {
            const float *row = h + (size_t)(row0 + len - 1) * d;
            for (int j = 0; j < d; j++) phi[j] = row[j];
        } else {
            for (int j = 0; j < d; j++) phi[j] = 0;
            for (int t = first; t < len; t++) {
                const float *row = h + (size_t)(row0 + t) * d;
                for (int j = 0; j < d; j++) phi[j] += row[j];
            }
            double inv = 1.0 / (len - first);
            for (int j = 0; j < d; j++) phi[j] *= inv;
        }
    }
    *k_end = k;
    return PP_OK;
}

static uint64_t hash_tokens(uint64_t h, const int32_t *t, int64_t n) {
    h = pp_hash64(h ^ (uint64_t)n);
    for (int64_t i = 0; i < n; i++) h = pp_hash64(h ^ (uint32_t)t[i]);
    return h;
}

static int same_tokens(const int32_t *a, int64_t na, const int32_t *b, int64_t nb) {
    return na == nb && (na == 0 || a == b || memcmp(a, b, (size_t)na * sizeof *a) == 0);
}

/* first[i] = the first sequence of the call with exactly i's prompt and
 * response (i itself when new).  Identical sequences are computed once:
 * the scorer would give them bitwise-identical features anyway (score.h),
 * this saves the work. */
static void find_duplicates(const seq_list *q, uint64_t *hash, int *first) {
    for (int i = 0; i < q->n; i++) {
        hash[i] = hash_tokens(hash_tokens(0x5eed, q->prompt[i], q->prompt_len[i]), q->resp[i], q->resp_len[i]);
        first[i] = i;
        for (int j = 0; j < i; j++)
            if (first[j] == j && hash[j] == hash[i] &&
                same_tokens(q->prompt[i], q->prompt_len[i], q->prompt[j], q->prompt_len[j]) &&
                same_tokens(q->resp[i], q->resp_len[i], q->resp[j], q->resp_len[j])) {
                first[i] = j;
                break;
            }
    }
}

/* Features (phi[n][d], may be NULL) and/or scores w . phi (scores[n], may
 * be NULL) of the call's sequences. */
static pp_status features_or_scores(const model *m, rm_ws *ws, rm_feature_kind kind, const seq_list *q,
                                    double *phi, const double *w, double *scores, pp_err *err) {
    const int d = m->cfg.dim, n = q->n;
    if (ws->d != d) return pp_fail(err, PP_ESYS, "reward model: workspace built for dim %d, model has %d", ws->d, d);
    if (ws->sc.inf.m != m) return pp_fail(err, PP_ESYS, "reward model: workspace built for another model");
    if (n <= 0) return PP_OK;
    /* one allocation per call, not per sequence */
    uint64_t *hash = malloc((size_t)n * (sizeof *hash + 2 * sizeof(int)));
    if (!hash) return pp_fail(err, PP_ESYS, "reward model: out of memory for %d sequences", n);
    int *first = (int *)(hash + n), *uniq = first + n, nu = 0;
    find_duplicates(q, hash, first);
    for (int i = 0; i < n; i++)
        if (first[i] == i) uniq[nu++] = i;
    pp_status st = PP_OK;
    for (int k0 = 0; st == PP_OK && k0 < nu;) {
        int k1;
        st = feature_pass(m, ws, kind, q, uniq, k0, nu, &k1, err);
        for (int k = k0; st == PP_OK && k < k1; k++) {
            const double *f = ws->phi + (size_t)(k - k0) * d;
            if (phi) memcpy(phi + (size_t)uniq[k] * d, f, (size_t)d * sizeof *phi);
            if (scores) scores[uniq[k]] = cblas_ddot(d, w, 1, f, 1);
        }
        k0 = k1;
    }
    for (int i = 0; st == PP_OK && i < n; i++)
        if (first[i] != i) {
            if (phi) memcpy(phi + (size_t)i * d, phi + (size_t)first[i] * d, (size_t)d * sizeof *phi);
            if (scores) scores[i] = scores[first[i]];
        }
    free(hash);
    return st;
}

pp_status rm_features(const model *m, rm_ws *ws, rm_feature_kind kind, int n, const int32_t *const *prompt,
                      const int64_t *prompt_len, const int32_t *const *resp, const int64_t *resp_len,
                      double *phi, pp_err *err) {
    seq_list q = {n, prompt, resp, prompt_len, resp_len};
    return features_or_scores(m, ws, kind, &q, phi, NULL, NULL, err);
}

/* ------------------------------------------------------------ RM files */

void rm_free(reward_model *rm) {
    free(rm->w);
    memset(rm, 0, sizeof *rm);
}

static pp_status read_rm(pp_h5 *f, reward_model *rm, pp_err *err) {
    int64_t d, v, n, it, conv;
    char feat[16];
    PP_TRY(pp_h5_get_attr_i64(f, "/", "d", &d, err));
    if (d < 1 || d > RM_MAX_DIM)
        return pp_fail(err, PP_EINPUT, "%s: attribute d = %lld is outside [1, %d]", f->path, (long long)d, RM_MAX_DIM);
    rm->d = (int)d;
    PP_TRY(pp_h5_get_attr_str(f, "/", "features", feat, sizeof feat, err));
    if (rm_feature_parse(feat, &rm->features, err) != PP_OK)
        return pp_fail(err, PP_EINPUT, "%s: attribute features = '%s' is not last or mean", f->path, feat);
    PP_TRY(pp_h5_get_attr_f64(f, "/", "lambda", &rm->lambda, err));
    PP_TRY(pp_h5_get_attr_str(f, "/", "model_fingerprint", rm->model_fingerprint, sizeof rm->model_fingerprint, err));
    PP_TRY(pp_h5_get_attr_str(f, "/", "model_path", rm->model_path, sizeof rm->model_path, err));
    PP_TRY(pp_h5_get_attr_str(f, "/", "tokenizer", rm->tokenizer, sizeof rm->tokenizer, err));
    PP_TRY(pp_h5_get_attr_i64(f, "/", "vocab_size", &v, err));
    PP_TRY(pp_h5_get_attr_i64(f, "/", "n_pairs", &n, err));
    PP_TRY(pp_h5_get_attr_i64(f, "/", "iterations", &it, err));
    PP_TRY(pp_h5_get_attr_i64(f, "/", "converged", &conv, err));
    PP_TRY(pp_h5_get_attr_f64(f, "/", "loss", &rm->loss, err));
    PP_TRY(pp_h5_get_attr_f64(f, "/", "train_accuracy", &rm->train_accuracy, err));
    if (v < 1 || v > INT32_MAX)
        return pp_fail(err, PP_EINPUT, "%s: attribute vocab_size = %lld is out of range", f->path, (long long)v);
    rm->vocab_size = (int)v;
    rm->n_pairs = n;
    rm->iterations = (int)it;
    rm->converged = conv != 0;
    int64_t want[1] = {d};
    PP_TRY(pp_h5_expect(f, "/weights", PP_F64, 1, want, NULL, err));
    rm->w = malloc((size_t)d * sizeof *rm->w);
    if (!rm->w) return pp_fail(err, PP_ESYS, "%s: out of memory for %lld weights", f->path, (long long)d);
    PP_TRY(pp_h5_read_all(f, "/weights", PP_F64, rm->w, err));
    for (int j = 0; j < rm->d; j++)
        if (!isfinite(rm->w[j]))
            return pp_fail(err, PP_EINPUT, "%s: dataset /weights element %d is not finite", f->path, j);
    return PP_OK;
}

/* A model file with a reward head (pp-rm --kind pointwise): the head is
 * the weight vector, on the model's own features ("last"); the feature
 * model is the file itself (the scorer does not read the head). */
static pp_status read_head_model(pp_h5 *f, reward_model *rm, pp_err *err) {
    model_config c = {0};
    PP_TRY(model_read_config(f->path, &c, err));
    if (!c.reward_head)
        return pp_fail(err, PP_EINPUT,
                       "%s: a model file without a reward head is no reward model (a pairwise judge is used with "
                       "--judge model --judge-model FILE)", f->path);
    rm->d = c.dim;
    rm->vocab_size = c.vocab_size;
    rm->features = RM_FEATURES_LAST;
    PP_TRY(pp_h5_get_attr_str(f, "/", "fingerprint", rm->model_fingerprint, sizeof rm->model_fingerprint, err));
    PP_TRY(pp_h5_get_attr_str(f, "/tokenizer", "kind", rm->tokenizer, sizeof rm->tokenizer, err));
    snprintf(rm->model_path, sizeof rm->model_path, "%s", f->path);
    pp_h5_opt_attr_f64(f, "/train", "train_accuracy", &rm->train_accuracy, NAN);
    int64_t want[1] = {c.dim};
    PP_TRY(pp_h5_expect(f, "/tensors/reward_head.weight", PP_F32, 1, want, NULL, err));
    float *head = malloc((size_t)c.dim * sizeof *head);
    rm->w = malloc((size_t)c.dim * sizeof *rm->w);
    pp_status st = head && rm->w ? PP_OK : pp_fail(err, PP_ESYS, "%s: out of memory", f->path);
    if (st == PP_OK) st = pp_h5_read_all(f, "/tensors/reward_head.weight", PP_F32, head, err);
    for (int j = 0; st == PP_OK && j < c.dim; j++) {
        rm->w[j] = head[j];
        if (!isfinite(rm->w[j]))
            st = pp_fail(err, PP_EINPUT, "%s: dataset /tensors/reward_head.weight element %d is not finite", f->path, j);
    }
    free(head);
    return st;
}

pp_status rm_load(reward_model *rm, const char *path, pp_err *err) {
    memset(rm, 0, sizeof *rm);
    pp_h5 f;
    char kind[32] = "";
    PP_TRY(pp_h5_open(&f, path, NULL, 1 << 30, err)); /* the kind decides the reader, which checks the version */
    pp_h5_opt_attr_str(&f, "/", "schema", kind, sizeof kind, "");
    pp_h5_close(&f);
    int head_model = !strcmp(kind, "model");
    PP_TRY(pp_h5_open(&f, path, head_model ? "model" : "reward_model", head_model ? MODEL_SCHEMA_VERSION : RM_SCHEMA_VERSION,
                      err));
    pp_status st = head_model ? read_head_model(&f, rm, err) : read_rm(&f, rm, err);
    pp_h5_close(&f);
    if (st != PP_OK) rm_free(rm);
    return st;
}

pp_status rm_check_model(const reward_model *rm, const model *m, pp_err *err) {
    char fp[17];
    model_fingerprint_hex(m, fp);
    if (strcmp(fp, rm->model_fingerprint) != 0)
        return pp_fail(err, PP_EINPUT,
                       "reward model was fitted on features of model %s (%s) but the scoring model has fingerprint "
                       "%s: features of another model do not match the RM's weights",
                       rm->model_fingerprint, rm->model_path, fp);
    if (m->cfg.dim != rm->d || m->cfg.vocab_size != rm->vocab_size)
        return pp_fail(err, PP_EINPUT, "reward model expects dim %d and vocabulary %d, the model has %d and %d",
                       rm->d, rm->vocab_size, m->cfg.dim, m->cfg.vocab_size);
    return PP_OK;
}

pp_status rm_score_batch(const reward_model *rm, const model *m, rm_ws *ws, int n, const int32_t *const *prompt,
                         const int64_t *prompt_len, const int32_t *const *resp, const int64_t *resp_len,
                         double *scores, pp_err *err) {
    if (m->cfg.dim != rm->d)
        return pp_fail(err, PP_EINPUT, "reward model has %d weights, the model's dim is %d", rm->d, m->cfg.dim);
    seq_list q = {n, prompt, resp, prompt_len, resp_len};
    return features_or_scores(m, ws, rm->features, &q, NULL, rm->w, scores, err);
}

/* ------------------------------------------------------------------- fit */

pp_status rm_load_pairs(const char *path, const model *m, const char *model_path, pairs_set *s, pp_err *err) {
    PP_TRY(pairs_load(s, path, 0, err));
    char fp[17];
    model_fingerprint_hex(m, fp);
    pp_status st = PP_OK;
    if (strcmp(s->model_fingerprint, fp) != 0)
        st = pp_fail(err, PP_EINPUT,
                     "%s: pairs file from another model: its candidates were generated by model %s, but --model %s "
                     "has fingerprint %s",
                     path, s->model_fingerprint, model_path, fp);
    else if (s->vocab_size != m->cfg.vocab_size || strcmp(s->tokenizer, tokenizer_name(&m->tok)) != 0)
        st = pp_fail(err, PP_EINPUT, "%s: tokenizer %s with vocabulary %d, but --model %s has %s with %d", path,
                     s->tokenizer, s->vocab_size, model_path, tokenizer_name(&m->tok), m->cfg.vocab_size);
    else if (s->n_pairs < 1) st = pp_fail(err, PP_EINPUT, "%s: the file holds no pairs (n_pairs = 0)", path);
    if (st != PP_OK) pairs_free(s);
    return st;
}

/* This rank's pairs [*lo, *hi): whole groups, split evenly over ranks. */
static void my_pairs(int64_t n_pairs, int rank, int nranks, int64_t *lo, int64_t *hi) {
    int64_t groups = (n_pairs + RM_GROUP_PAIRS - 1) / RM_GROUP_PAIRS;
    int64_t g0 = groups * rank / nranks, g1 = groups * (rank + 1) / nranks;
    *lo = g0 * RM_GROUP_PAIRS;
    *hi = g1 * RM_GROUP_PAIRS < n_pairs ? g1 * RM_GROUP_PAIRS : n_pairs;
    if (*lo > *hi) *lo = *hi;
}

/* Feature differences x[i] = phi(chosen) - phi(rejected) of pairs [lo, hi). */
static pp_status pair_differences(const model *m, rm_ws *ws, rm_feature_kind kind, const pairs_set *s, int64_t lo,
                                  int64_t hi, double *x, const pp_log *log, const char *path, pp_err *err) {
    const int d = m->cfg.dim, G = RM_GROUP_PAIRS;
    const int32_t *pr[2 * RM_GROUP_PAIRS], *rs[2 * RM_GROUP_PAIRS];
    int64_t npr[2 * RM_GROUP_PAIRS], nrs[2 * RM_GROUP_PAIRS];
    double *phi = malloc((size_t)2 * G * d * sizeof *phi);
    if (!phi) return pp_fail(err, PP_ESYS, "reward model: out of memory for features");
    pp_progress prog;
    pp_progress_start(&prog, log, "features (rank 0's pairs)", hi - lo, 0, "pairs");
    pp_status st = PP_OK;
    for (int64_t g = lo; st == PP_OK && g < hi; g += G) {
        int np = hi - g < G ? (int)(hi - g) : G;
        for (int j = 0; j < np; j++) { /* chosen, rejected, chosen, ... */
            pr[2 * j] = pr[2 * j + 1] = pairs_prompt_tokens(s, g + j, &npr[2 * j]);
            npr[2 * j + 1] = npr[2 * j];
            rs[2 * j] = pairs_chosen_tokens(s, g + j, &nrs[2 * j]);
            rs[2 * j + 1] = pairs_rejected_tokens(s, g + j, &nrs[2 * j + 1]);
        }
        st = rm_features(m, ws, kind, 2 * np, pr, npr, rs, nrs, phi, err);
        if (st != PP_OK) {
            pp_wrap(err, "%s: pairs %lld..%lld", path, (long long)g, (long long)(g + np - 1));
            break;
        }
        for (int j = 0; j < np; j++)
            for (int k = 0; k < d; k++)
                x[(size_t)(g - lo + j) * d + k] = phi[(size_t)(2 * j) * d + k] - phi[(size_t)(2 * j + 1) * d + k];
        pp_progress_update(&prog, g + np - lo, NULL);
    }
    if (st == PP_OK) pp_progress_finish(&prog, hi - lo, NULL);
    free(phi);
    return st;
}

/* Load a pairs file on every rank and compute this rank's differences.
 * Collective: the status is agreed. */
static pp_status pairs_features(const rm_fit_config *c, const model *m, rm_ws *ws, const char *path, int rank,
                                int nranks, double **x_out, int64_t *n_local, int64_t *n_total, char split[16],
                                pp_err *err) {
    pairs_set s = {0};
    *x_out = NULL;
    *n_local = *n_total = 0;
    pp_status st = rm_load_pairs(path, m, c->model_path, &s, err);
    st = pp_agree(c->comm, st, err);
    if (st != PP_OK) return st;
    int64_t lo, hi;
    my_pairs(s.n_pairs, rank, nranks, &lo, &hi);
    double *x = malloc((size_t)((hi - lo) > 0 ? hi - lo : 1) * (size_t)m->cfg.dim * sizeof *x);
    if (!x) st = pp_fail(err, PP_ESYS, "%s: out of memory for %lld x %d features", path, (long long)(hi - lo), m->cfg.dim);
    if (st == PP_OK) st = pair_differences(m, ws, c->features, &s, lo, hi, x, c->log, path, err);
    st = pp_agree(c->comm, st, err);
    *n_total = s.n_pairs;
    snprintf(split, 16, "%s", s.split);
    pairs_free(&s);
    if (st != PP_OK) {
        free(x);
        return st;
    }
    *x_out = x;
    *n_local = hi - lo;
    return PP_OK;
}

static pp_status write_rm(const rm_fit_config *c, const model *m, const double *w, const rm_fit_report *rep,
                          const char *train_split, const char *const *heldout_split, int64_t truncated,
                          pp_err *err) {
    pp_input in[2 + RM_MAX_HELDOUT];
    char roles[RM_MAX_HELDOUT][24];
    in[0] = (pp_input){"pairs", c->pairs_path};
    in[1] = (pp_input){"model", c->model_path};
    for (int h = 0; h < c->n_heldout; h++) {
        snprintf(roles[h], sizeof roles[h], "heldout_%d", h);
        in[2 + h] = (pp_input){roles[h], c->heldout_paths[h]};
    }
    pp_provenance prov = {c->program, c->arguments, in, 2 + c->n_heldout};
    /* absolute, so pp-rank finds the feature model from any directory */
    char model_abs[PP_PATH_MAX];
    if (!realpath(c->model_path, model_abs)) snprintf(model_abs, sizeof model_abs, "%s", c->model_path);
    char fp[17];
    model_fingerprint_hex(m, fp);

    pp_h5 f;
    PP_TRY(pp_h5_create(&f, c->out_path, c->comm, "reward_model", RM_SCHEMA_VERSION, &prov, err));
    pp_status st = pp_h5_serial_begin(&f, err);
    if (st == PP_OK && f.rank == 0) { /* a few hundred bytes: rank 0 writes it all */
        struct { const char *name; int64_t v; } ints[] = {
            {"d", rep->d}, {"n_pairs", rep->n_pairs}, {"iterations", rep->iterations},
            {"converged", rep->converged}, {"vocab_size", m->cfg.vocab_size}, {"n_heldout", rep->n_heldout},
            {"group_pairs", RM_GROUP_PAIRS}, {"truncated_sequences", truncated},
        };
        struct { const char *name; double v; } reals[] = {
            {"lambda", c->lambda}, {"loss", rep->loss}, {"grad_norm", rep->grad_norm},
            {"train_accuracy", rep->train_accuracy},
        };
        struct { const char *name; const char *v; } strs[] = {
            {"features", rm_feature_name(c->features)}, {"stop_reason", rep->stop_reason},
            {"model_fingerprint", fp}, {"model_path", model_abs}, {"tokenizer", tokenizer_name(&m->tok)},
        };
        for (size_t i = 0; st == PP_OK && i < sizeof ints / sizeof ints[0]; i++)
            st = pp_h5_attr_i64(&f, "/", ints[i].name, ints[i].v, err);
        for (size_t i = 0; st == PP_OK && i < sizeof reals / sizeof reals[0]; i++)
            st = pp_h5_attr_f64(&f, "/", reals[i].name, reals[i].v, err);
        for (size_t i = 0; st == PP_OK && i < sizeof strs / sizeof strs[0]; i++)
            st = pp_h5_attr_str(&f, "/", strs[i].name, strs[i].v, err);
        if (st == PP_OK && train_split[0]) st = pp_h5_attr_str(&f, "/", "pairs_split", train_split, err);
        int64_t dims[1] = {rep->d};
        if (st == PP_OK) st = pp_h5_write_root(&f, "/weights", PP_F64, 1, dims, w, err);
        if (st == PP_OK && rep->n_heldout > 0) {
            dims[0] = rep->n_heldout;
            st = pp_h5_write_root(&f, "/heldout/accuracy", PP_F64, 1, dims, rep->heldout_accuracy, err);
            if (st == PP_OK) st = pp_h5_write_root(&f, "/heldout/n_pairs", PP_I64, 1, dims, rep->heldout_pairs, err);
            if (st == PP_OK) st = pp_h5_write_text(&f, "/heldout/path", rep->n_heldout, c->heldout_paths, err);
            if (st == PP_OK) st = pp_h5_write_text(&f, "/heldout/split", rep->n_heldout, heldout_split, err);
        }
    }
    /* rank 0 alone may have failed: agree before anything is renamed, so a
     * failure never leaves a partial file under the final name */
    st = pp_agree(c->comm, st, err);
    if (st != PP_OK) {
        pp_h5_abort(&f);
        return st;
    }
    return pp_h5_commit(&f, err);
}

pp_status rm_fit(const rm_fit_config *c, rm_fit_report *rep, pp_err *err) {
    memset(rep, 0, sizeof *rep);
    int rank, nranks;
    MPI_Comm_rank(c->comm, &rank);
    MPI_Comm_size(c->comm, &nranks);
    if (c->n_heldout < 0 || c->n_heldout > RM_MAX_HELDOUT)
        return pp_fail(err, PP_EINPUT, "at most %d held-out pairs files (got %d)", RM_MAX_HELDOUT, c->n_heldout);
    if (!(c->lambda >= 0) || !isfinite(c->lambda))
        return pp_fail(err, PP_EINPUT, "--l2 must be a finite value >= 0 (got %g)", c->lambda);

    pp_input in[2 + RM_MAX_HELDOUT] = {{"pairs", c->pairs_path}, {"model", c->model_path}};
    for (int h = 0; h < c->n_heldout; h++) in[2 + h] = (pp_input){"heldout", c->heldout_paths[h]};
    pp_status st = pp_check_output(c->out_path, in, 2 + c->n_heldout, err);

    model m = {0};
    rm_ws ws = {0};
    double *x = NULL, *w = NULL;
    int64_t n_local = 0;
    char split[RM_MAX_HELDOUT][16], train_split[16] = "";
    const char *split_ptr[RM_MAX_HELDOUT];
    if (st == PP_OK) st = model_load(c->model_path, &m, err);
    /* the frozen feature model's packed weights, once per node (collective) */
    st = pp_agree(c->comm, st, err);
    if (st == PP_OK) st = rm_ws_alloc_shared(&ws, &m, c->batch_tokens, 1, c->comm, err);
    st = pp_agree(c->comm, st, err);
    const int d = m.cfg.dim;
    rep->d = d;

    /* training features */
    double t0 = pp_now();
    if (st == PP_OK) {
        pp_info(c->log, "%s: features '%s' of %s (dim %d), %d rank(s)", c->pairs_path, rm_feature_name(c->features),
                c->model_path, d, nranks);
        st = pairs_features(c, &m, &ws, c->pairs_path, rank, nranks, &x, &n_local, &rep->n_pairs, train_split, err);
    }
    rep->feature_seconds = pp_now() - t0;

    /* the fit: BLACS starts here (bt_fit's grids); the program ends it */
    if (st == PP_OK) {
        w = calloc((size_t)d, sizeof *w);
        if (!w) st = pp_fail(err, PP_ESYS, "out of memory for %d weights", d);
        st = pp_agree(c->comm, st, err);
    }
    if (st == PP_OK) {
        int iam, np;
        Cblacs_pinfo(&iam, &np);
        rep->blacs_used = 1;
        bt_options opt = {.max_iter = c->max_iter};
        bt_result res;
        double t1 = pp_now();
        st = bt_fit(c->comm, x, n_local, d, c->lambda, &opt, w, &res, err);
        rep->fit_seconds = pp_now() - t1;
        if (st != PP_OK) pp_wrap(err, "%s: fitting %lld pairs with lambda %g", c->pairs_path,
                                 (long long)rep->n_pairs, c->lambda);
        else {
            rep->iterations = res.iterations;
            rep->converged = res.converged;
            snprintf(rep->stop_reason, sizeof rep->stop_reason, "%s", res.stop_reason ? res.stop_reason : "");
            rep->loss = res.loss;
            rep->grad_norm = res.grad_norm;
            pp_info(c->log, "Newton: %d system(s) on a %dx%d grid, stop '%s'%s, loss %.6g (%.4g per pair), |grad| %.3g, %.2fs",
                    res.iterations, res.grid_rows, res.grid_cols, rep->stop_reason,
                    res.converged ? "" : " (NOT converged)", res.loss, res.loss / (double)rep->n_pairs,
                    res.grad_norm, rep->fit_seconds);
            if (!res.converged)
                pp_warn(c->log, "the Newton solver stopped without meeting its stopping rule (%s); "
                        "raise --max-iter or --l2", rep->stop_reason);
        }
    }
    if (st == PP_OK) st = bt_accuracy(c->comm, x, n_local, d, w, &rep->train_accuracy, err);
    if (st == PP_OK)
        pp_info(c->log, "training pairwise accuracy %.4f on %lld pairs", rep->train_accuracy, (long long)rep->n_pairs);
    free(x);
    x = NULL;

    /* held-out files: same features, accuracy only */
    for (int h = 0; st == PP_OK && h < c->n_heldout; h++) {
        const char *path = c->heldout_paths[h];
        split[h][0] = '\0';
        split_ptr[h] = split[h];
        st = pairs_features(c, &m, &ws, path, rank, nranks, &x, &n_local, &rep->heldout_pairs[h], split[h], err);
        if (st == PP_OK) st = bt_accuracy(c->comm, x, n_local, d, w, &rep->heldout_accuracy[h], err);
        free(x);
        x = NULL;
        if (st == PP_OK) {
            rep->n_heldout = h + 1;
            pp_info(c->log, "held-out pairwise accuracy %.4f on %lld pairs of %s%s%s%s", rep->heldout_accuracy[h],
                    (long long)rep->heldout_pairs[h], path, split[h][0] ? " (split " : "", split[h],
                    split[h][0] ? ")" : "");
        }
    }

    int64_t truncated = ws.truncated;
    if (st == PP_OK) MPI_Allreduce(MPI_IN_PLACE, &truncated, 1, MPI_INT64_T, MPI_SUM, c->comm);
    if (st == PP_OK && truncated > 0)
        pp_warn(c->log, "%lld sequence(s) were longer than the model's context (%d) and were cut", (long long)truncated,
                m.cfg.seq_len);
    if (st == PP_OK) st = write_rm(c, &m, w, rep, train_split, split_ptr, truncated, err);
    free(w);
    rm_ws_free(&ws);
    model_free(&m);
    return st;
}
