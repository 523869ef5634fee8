/* judge_model.c - the LLM judge on prefpipe's own engine (judge_model.h).
 *
 * Reading order: the template and its rendering, the labels, the state,
 * one batch of matches through infer_rows, the judge.h table. */
#include "judge/judge_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pp_file.h"
#include "core/pp_log.h"
#include "judge/judge_cli.h"
#include "model/infer.h"
#include "model/model_io.h"
#include "model/sample.h"

/* Our own wording, in the shape of MT-Bench's pairwise judge prompt. */
const char judge_model_default_template[] =
    "You are an impartial judge. Compare the two answers to the user's question below and decide which one "
    "follows the instructions and answers the question better. Weigh correctness first, then helpfulness, "
    "relevance and precision. The order in which the answers appear, their length and the names of the "
    "assistants must not influence you. Answer [[A]] if the first answer is better and [[B]] if the second "
    "answer is better.\n\n"
    "[Question]\n{prompt}\n\n"
    "[Answer A]\n{a}\n[End of Answer A]\n\n"
    "[Answer B]\n{b}\n[End of Answer B]\n";

/* What follows the filled template: the model continues it with a label. */
static const char verdict_cue[] = "\nVerdict: [[";

/* ------------------------------------------------------------ rendering */

static int grow(char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return 1;
    size_t c = *cap ? *cap : 256;
    while (c < need) c *= 2;
    char *p = realloc(*buf, c);
    if (!p) return 0;
    *buf = p;
    *cap = c;
    return 1;
}

size_t judge_model_render(const char *templ, const char *prompt, const char *a, const char *b, char **buf,
                          size_t *cap) {
    static const char *const names[3] = {"{prompt}", "{a}", "{b}"};
    const char *texts[3] = {prompt ? prompt : "", a ? a : "", b ? b : ""};
    size_t len = 0;
    for (const char *t = templ; *t;) {
        const char *put = t;
        size_t n = 1, skip = 1;
        for (int k = 0; k < 3; k++) {
            size_t nl = strlen(names[k]);
            if (strncmp(t, names[k], nl) == 0) {
                put = texts[k], n = strlen(texts[k]), skip = nl;
                break;
            }
        }
        if (!grow(buf, cap, len + n + 1)) return 0;
        memcpy(*buf + len, put, n);
        len += n;
        t += skip;
    }
    size_t cue = strlen(verdict_cue);
    if (!grow(buf, cap, len + cue + 1)) return 0;
    memcpy(*buf + len, verdict_cue, cue + 1);
    return len + cue;
}

pp_status judge_model_check_template(const char *templ, const char *what, pp_err *err) {
    static const char *const names[3] = {"{prompt}", "{a}", "{b}"};
    for (int k = 0; k < 3; k++)
        if (!strstr(templ, names[k]))
            return pp_fail(err, PP_EINPUT, "%s: the judge template has no %s placeholder", what, names[k]);
    return PP_OK;
}

/* ------------------------------------------------------------------ state */

typedef struct {
    model m;
    infer_state st;
    char *templ;           /* owned copy */
    int label[2];          /* token ids of the labels for the first / second answer */
    double tie_margin;
    int batch;             /* matches per forward stream = cache slots */
    int max_rows;          /* rows per infer_rows call */
    int ctx_len;           /* tokens a judge prompt may take */
    int *tokens;           /* [batch][ctx_len + 3]: tok_encode needs strlen + 3, checked */
    int *n_tokens;         /* [batch]; 0: the match failed before the forward pass */
    int *fed;              /* [batch] tokens fed so far */
    int *row_slot, *row_token, *out_rows, *out_slot;
    float *logits;         /* [batch][vocab]: each slot's next-token logits */
    float *call_logits;    /* [batch][vocab]: one infer_rows call's output rows */
    char *text;            /* rendered prompt */
    size_t text_cap;
    int *enc;              /* encoder scratch for long prompts */
    size_t enc_cap;
    judge_counters n;
    char last_problem[256];
} model_judge;

static void model_judge_free(model_judge *j) {
    if (!j) return;
    infer_free(&j->st);
    model_free(&j->m);
    free(j->templ);
    free(j->tokens);
    free(j->n_tokens);
    free(j->fed);
    free(j->row_slot);
    free(j->row_token);
    free(j->out_rows);
    free(j->out_slot);
    free(j->logits);
    free(j->call_logits);
    free(j->text);
    free(j->enc);
    free(j);
}

/* Encode text (BOS first, as pp-generate does) into the scratch buffer. */
static pp_status encode(model_judge *j, const char *text, int **ids, int *n, pp_err *err) {
    size_t need = tok_max_ids(&j->m.tok, strlen(text));
    if (need > j->enc_cap) {
        int *p = realloc(j->enc, need * sizeof *p);
        if (!p) return pp_fail(err, PP_ESYS, "judge model: out of memory encoding a judge prompt");
        j->enc = p;
        j->enc_cap = need;
    }
    PP_TRY(tok_encode_cap(&j->m.tok, text, 1, 0, j->enc, (int)need, n, err));
    *ids = j->enc;
    return PP_OK;
}

/* The token a label adds after the cue: encode(cue + label) must be
 * encode(cue) plus exactly one token. */
static pp_status label_token(const tokenizer *tok, const char *label, size_t len, int *id, pp_err *err) {
    char probe[128];
    if (len == 0 || len > 64) return pp_fail(err, PP_EINPUT, "--judge-labels: a label must have 1 to 64 bytes");
    size_t cap = tok_max_ids(tok, sizeof probe);
    int *ids = malloc(cap * sizeof *ids), n0 = 0, n1 = 0;
    if (!ids) return pp_fail(err, PP_ESYS, "judge model: out of memory");
    snprintf(probe, sizeof probe, "%s", verdict_cue);
    pp_status st = tok_encode_cap(tok, probe, 1, 0, ids, (int)cap, &n0, err);
    int last0 = n0 > 0 ? ids[n0 - 1] : -1;
    snprintf(probe, sizeof probe, "%s%.*s", verdict_cue, (int)len, label);
    if (st == PP_OK) st = tok_encode_cap(tok, probe, 1, 0, ids, (int)cap, &n1, err);
    if (st == PP_OK && (n1 != n0 + 1 || (n0 > 0 && ids[n0 - 1] != last0)))
        st = pp_fail(err, PP_EINPUT,
                     "--judge-labels: label '%.*s' is not one token after \"Verdict: [[\" with the judge model's "
                     "tokenizer (it gives %d tokens); choose other labels",
                     (int)len, label, n1 - n0);
    if (st == PP_OK) *id = ids[n1 - 1];
    free(ids);
    return st;
}

pp_status judge_model_labels(const tokenizer *tok, const char *labels, int ids[2], pp_err *err) {
    const char *comma = labels ? strchr(labels, ',') : NULL;
    if (!comma || strchr(comma + 1, ','))
        return pp_fail(err, PP_EINPUT, "--judge-labels '%s': want two labels separated by a comma, e.g. \"A,B\"",
                       labels ? labels : "");
    PP_TRY(label_token(tok, labels, (size_t)(comma - labels), &ids[0], err));
    PP_TRY(label_token(tok, comma + 1, strlen(comma + 1), &ids[1], err));
    if (ids[0] == ids[1])
        return pp_fail(err, PP_EINPUT, "--judge-labels '%s': both labels are the same token", labels);
    return PP_OK;
}

/* The template a judge model was trained with (pp-rm --kind pairwise
 * records it as the root attribute judge_template): the default when no
 * --judge-template is given.  *templ stays NULL when the file has none. */
static pp_status trained_template(const char *path, char **templ, pp_err *err) {
    *templ = NULL;
    pp_h5 f;
    PP_TRY(pp_h5_open(&f, path, "model", MODEL_SCHEMA_VERSION, err));
    pp_status st = PP_OK;
    if (pp_h5_has_attr(&f, "/", "judge_template")) {
        *templ = malloc(1 << 20);
        st = *templ ? pp_h5_get_attr_str(&f, "/", "judge_template", *templ, 1 << 20, err)
                    : pp_fail(err, PP_ESYS, "judge model: out of memory");
    }
    pp_h5_close(&f);
    if (st != PP_OK) free(*templ), *templ = NULL;
    return st;
}

static pp_status model_start(void **ctx, const judge_config *cfg, pp_err *err) {
    const judge_cli *cli = cfg->cli;
    if (!cli->model_path) return pp_fail(err, PP_EINPUT, "--judge model needs --judge-model J.h5");
    model_judge *j = calloc(1, sizeof *j);
    if (!j) return pp_fail(err, PP_ESYS, "judge model: out of memory");
    pp_status st = model_load(cli->model_path, &j->m, err);
    if (st == PP_OK && cli->template_path) {
        size_t len;
        st = pp_read_file(cli->template_path, 1 << 20, "judge template", &j->templ, &len, err);
        if (st == PP_OK && strlen(j->templ) != len)
            st = pp_fail(err, PP_EINPUT, "%s: the judge template holds a NUL byte", cli->template_path);
    } else if (st == PP_OK) {
        st = trained_template(cli->model_path, &j->templ, err);
        if (st == PP_OK && !j->templ) j->templ = strdup(judge_model_default_template);
        if (st == PP_OK && !j->templ) st = pp_fail(err, PP_ESYS, "judge model: out of memory");
    }
    if (st == PP_OK)
        st = judge_model_check_template(j->templ, cli->template_path ? cli->template_path : "built-in", err);
    if (st == PP_OK) st = judge_model_labels(&j->m.tok, cli->labels, j->label, err);
    if (st == PP_OK) {
        const model_config *c = &j->m.cfg;
        j->tie_margin = cli->tie_margin;
        j->batch = cli->batch > 0 ? cli->batch : 1;
        j->ctx_len = c->seq_len;
        j->max_rows = 256;
        size_t B = (size_t)j->batch, R = (size_t)j->max_rows;
        st = infer_init_rows(&j->st, &j->m, j->batch, j->ctx_len, j->max_rows, err);
        j->tokens = malloc(B * ((size_t)j->ctx_len + 3) * sizeof(int));
        j->n_tokens = malloc(B * sizeof(int));
        j->fed = malloc(B * sizeof(int));
        j->row_slot = malloc(R * sizeof(int));
        j->row_token = malloc(R * sizeof(int));
        j->out_rows = malloc(B * sizeof(int));
        j->out_slot = malloc(B * sizeof(int));
        j->logits = malloc(B * (size_t)c->vocab_size * sizeof(float));
        j->call_logits = malloc(B * (size_t)c->vocab_size * sizeof(float));
        if (st == PP_OK && (!j->tokens || !j->n_tokens || !j->fed || !j->row_slot || !j->row_token || !j->out_rows ||
                            !j->out_slot || !j->logits || !j->call_logits))
            st = pp_fail(err, PP_ESYS, "judge model: out of memory for a batch of %d matches", j->batch);
    }
    if (st != PP_OK) {
        model_judge_free(j);
        return st;
    }
    *ctx = j;
    return PP_OK;
}

/* --------------------------------------------------------------- a batch */

/* Render and encode match m into slot s; a prompt too long for the context
 * leaves the slot empty (n_tokens 0) and the reason in last_problem. */
static pp_status prepare(model_judge *j, const judge_match *m, int s, pp_err *err) {
    j->n_tokens[s] = 0;
    j->fed[s] = 0;
    if (!judge_model_render(j->templ, m->prompt, m->first, m->second, &j->text, &j->text_cap))
        return pp_fail(err, PP_ESYS, "judge model: out of memory rendering a judge prompt");
    int *ids = NULL, n = 0;
    PP_TRY(encode(j, j->text, &ids, &n, err));
    if (n > j->ctx_len) {
        snprintf(j->last_problem, sizeof j->last_problem,
                 "judge prompt of %d tokens is longer than the judge model's context of %d", n, j->ctx_len);
        return PP_OK;
    }
    memcpy(j->tokens + (size_t)s * (j->ctx_len + 3), ids, (size_t)n * sizeof(int));
    j->n_tokens[s] = n;
    infer_reset(&j->st, s);
    return PP_OK;
}

/* Feed every prepared slot's tokens, max_rows rows per call; the logits of
 * each slot's last token land in its row of j->logits. */
static pp_status forward(model_judge *j, int used, pp_err *err) {
    const int V = j->m.cfg.vocab_size;
    for (;;) {
        int nr = 0, no = 0;
        for (int s = 0; s < used && nr < j->max_rows; s++) {
            int left = j->n_tokens[s] - j->fed[s];
            if (left <= 0) continue;
            int take = left < j->max_rows - nr ? left : j->max_rows - nr;
            const int *t = j->tokens + (size_t)s * (j->ctx_len + 3) + j->fed[s];
            for (int i = 0; i < take; i++) {
                j->row_slot[nr] = s;
                j->row_token[nr++] = t[i];
            }
            j->fed[s] += take;
            if (j->fed[s] == j->n_tokens[s]) {
                j->out_rows[no] = nr - 1;
                j->out_slot[no++] = s;
            }
        }
        if (nr == 0) return PP_OK;
        PP_TRY(infer_rows(&j->st, nr, j->row_slot, j->row_token, no, j->out_rows, j->call_logits, err));
        for (int o = 0; o < no; o++) /* rows come in out_rows order: to their slots */
            memcpy(j->logits + (size_t)j->out_slot[o] * V, j->call_logits + (size_t)o * V, (size_t)V * sizeof(float));
    }
}

static judge_verdict decide(const model_judge *j, const float *logits, double probs[2]) {
    const int V = j->m.cfg.vocab_size;
    double pa = exp((double)sample_logprob(logits, V, j->label[0]));
    double pb = exp((double)sample_logprob(logits, V, j->label[1]));
    probs[0] = pa, probs[1] = pb;
    if (fabs(pa - pb) <= j->tie_margin * (pa + pb)) return JUDGE_TIE;
    return pa > pb ? JUDGE_FIRST : JUDGE_SECOND;
}

static pp_status model_match(void *ctx, const judge_match *m, int n, judge_verdict *out, pp_err *err) {
    model_judge *j = ctx;
    double t0 = pp_now();
    for (int i0 = 0; i0 < n; i0 += j->batch) {
        int used = n - i0 < j->batch ? n - i0 : j->batch;
        for (int s = 0; s < used; s++) PP_TRY(prepare(j, &m[i0 + s], s, err));
        PP_TRY(forward(j, used, err));
        for (int s = 0; s < used; s++) {
            const judge_match *mi = &m[i0 + s];
            double probs[2] = {NAN, NAN};
            j->n.calls++;
            j->n.attempts++;
            if (j->n_tokens[s] == 0) {
                out[i0 + s] = JUDGE_FAILED;
                j->n.failures++;
                j->n.bad_answers++;
            } else {
                out[i0 + s] = decide(j, j->logits + (size_t)s * j->m.cfg.vocab_size, probs);
                j->n.ok++;
            }
            if (mi->probs) mi->probs[0] = probs[0], mi->probs[1] = probs[1];
        }
    }
    j->n.seconds += pp_now() - t0;
    return PP_OK;
}

/* -------------------------------------------------------- judge.h table */

static void model_counters(const void *ctx, judge_counters *out) { *out = ((const model_judge *)ctx)->n; }

static const char *model_last_problem(const void *ctx) { return ((const model_judge *)ctx)->last_problem; }

static void model_describe(const void *ctx, pairs_set *s) {
    const model_judge *j = ctx;
    snprintf(s->judge_cmd, sizeof s->judge_cmd, "model fingerprint %016llx, labels %d/%d, tie margin %g",
             (unsigned long long)j->m.fingerprint, j->label[0], j->label[1], j->tie_margin);
}

static void model_stop(void *ctx) { model_judge_free(ctx); }

static int model_batch(const void *ctx) { return ((const model_judge *)ctx)->batch; }

const judge_ops judge_model_ops = {"model", 0, model_start, model_match, NULL, model_counters, model_last_problem,
                                   model_describe, model_stop, model_batch};
