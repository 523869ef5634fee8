/* pairs.c - the `pairs` file: write and load (pairs.h). */
#include "io/pairs.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/pp_jsonl.h"

_Static_assert(sizeof(int) == 4, "token and index arrays are stored as int32");

/* Upper bounds that keep a damaged file from asking for absurd memory. */
#define PAIRS_MAX_ROWS ((int64_t)1 << 31)
#define PAIRS_MAX_K 65536

static const char *const verdict_names[] = {"first", "second", "tie", "failed"};
const pp_enum pairs_verdict_enum = {"verdict", 4, verdict_names};
static const char *const order_names[] = {"as_scheduled", "swapped"};
const pp_enum pairs_order_enum = {"match order", 2, order_names};

/* ------------------------------------------------------------ memory */

pp_status pairs_pack_text(char ***dst, int64_t n, const char *const *src, pp_err *err) {
    *dst = NULL;
    size_t slots = (size_t)(n > 0 ? n : 1), bytes = 0;
    for (int64_t i = 0; i < n; i++) bytes += (src[i] ? strlen(src[i]) : 0) + 1;
    char **out = malloc(slots * sizeof *out + bytes);
    if (!out) return pp_fail(err, PP_ESYS, "out of memory packing %lld texts", (long long)n);
    char *p = (char *)(out + slots);
    for (int64_t i = 0; i < n; i++) {
        size_t l = src[i] ? strlen(src[i]) : 0;
        memcpy(p, src[i] ? src[i] : "", l);
        p[l] = '\0';
        out[i] = p;
        p += l + 1;
    }
    *dst = out;
    return PP_OK;
}

static void *zalloc(int64_t n, size_t size) { return calloc((size_t)(n > 0 ? n : 1), size); }

pp_status pairs_alloc(pairs_set *s, int64_t n_prompts, int k, int64_t n_pairs, int64_t n_matches,
                      int with_truth, int with_score, int with_strength, pp_err *err) {
    memset(s, 0, sizeof *s);
    s->n_prompts = n_prompts;
    s->k = k;
    s->n_pairs = n_pairs;
    s->n_matches = n_matches;
    int64_t nk = n_prompts * k;
    s->prompt_id = zalloc(n_prompts, sizeof(int64_t));
    s->prompt_token_offsets = zalloc(n_prompts + 1, sizeof(int64_t));
    s->best = zalloc(n_prompts, sizeof(int));
    s->worst = zalloc(n_prompts, sizeof(int));
    s->ranking = zalloc(nk, sizeof(int));
    s->judge_calls = zalloc(n_prompts, sizeof(int));
    s->ties = zalloc(n_prompts, sizeof(int));
    s->failures = zalloc(n_prompts, sizeof(int));
    s->pair_prompt = zalloc(n_pairs, sizeof(int64_t));
    s->chosen = zalloc(n_pairs, sizeof(int));
    s->rejected = zalloc(n_pairs, sizeof(int));
    s->chosen_token_offsets = zalloc(n_pairs + 1, sizeof(int64_t));
    s->rejected_token_offsets = zalloc(n_pairs + 1, sizeof(int64_t));
    s->matches = zalloc(n_matches, sizeof(pairs_match));
    int ok = s->prompt_id && s->prompt_token_offsets && s->best && s->worst && s->ranking && s->judge_calls &&
             s->ties && s->failures && s->pair_prompt && s->chosen && s->rejected && s->chosen_token_offsets &&
             s->rejected_token_offsets && s->matches;
    if (with_truth) {
        s->true_score = zalloc(nk, sizeof(double));
        s->chosen_true_score = zalloc(n_pairs, sizeof(double));
        s->rejected_true_score = zalloc(n_pairs, sizeof(double));
        ok = ok && s->true_score && s->chosen_true_score && s->rejected_true_score;
    }
    if (with_score) ok = ok && (s->score = zalloc(nk, sizeof(double))) != NULL;
    if (with_strength) ok = ok && (s->strength = zalloc(nk, sizeof(double))) != NULL;
    if (!ok) {
        pairs_free(s);
        return pp_fail(err, PP_ESYS, "out of memory for %lld prompts x %d candidates, %lld pairs",
                       (long long)n_prompts, k, (long long)n_pairs);
    }
    return PP_OK;
}

void pairs_free(pairs_set *s) {
    void *all[] = {s->prompt_id, s->prompt_text, s->family, s->reference, s->prompt_token_offsets,
                   s->prompt_tokens, s->best, s->worst, s->ranking, s->judge_calls, s->ties, s->failures,
                   s->score, s->strength, s->true_score, s->pair_prompt, s->chosen, s->rejected,
                   s->chosen_text, s->rejected_text, s->chosen_token_offsets, s->rejected_token_offsets,
                   s->chosen_tokens, s->rejected_tokens, s->chosen_true_score, s->rejected_true_score,
                   s->matches, s->match_error};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    memset(s, 0, sizeof *s);
}

static const int32_t *ragged(const int64_t *off, const int32_t *tok, int64_t i, int64_t *n) {
    *n = off[i + 1] - off[i];
    return tok + off[i];
}

const int32_t *pairs_prompt_tokens(const pairs_set *s, int64_t pair, int64_t *n) {
    return ragged(s->prompt_token_offsets, s->prompt_tokens, s->pair_prompt[pair], n);
}
const int32_t *pairs_chosen_tokens(const pairs_set *s, int64_t pair, int64_t *n) {
    return ragged(s->chosen_token_offsets, s->chosen_tokens, pair, n);
}
const int32_t *pairs_rejected_tokens(const pairs_set *s, int64_t pair, int64_t *n) {
    return ragged(s->rejected_token_offsets, s->rejected_tokens, pair, n);
}

/* ------------------------------------------------------------- write */

static pp_status put_1d(pp_h5 *f, const char *name, pp_dtype t, int64_t n, const void *data, pp_err *err) {
    int64_t dims[1] = {n};
    return pp_h5_write_root(f, name, t, 1, dims, data, err);
}

static pp_status put_2d(pp_h5 *f, const char *name, pp_dtype t, int64_t n, int64_t m, const void *data,
                        pp_err *err) {
    int64_t dims[2] = {n, m};
    return pp_h5_write_root(f, name, t, 2, dims, data, err);
}

/* strs NULL: n empty strings. */
static pp_status put_text(pp_h5 *f, const char *name, int64_t n, char *const *strs, pp_err *err) {
    if (strs) return pp_h5_write_text(f, name, n, (const char *const *)strs, err);
    const char **empty = zalloc(n, sizeof *empty);
    if (!empty) return pp_fail(err, PP_ESYS, "out of memory writing %s", name);
    pp_status st = pp_h5_write_text(f, name, n, empty, err);
    free(empty);
    return st;
}

static pp_status write_attributes(pp_h5 *f, const pairs_set *s, pp_err *err) {
    struct { const char *name; int64_t v; } ints[] = {
        {"n_prompts", s->n_prompts}, {"k", s->k}, {"n_pairs", s->n_pairs}, {"n_logged_calls", s->n_matches},
        {"both_orders", s->both_orders}, {"judge_calls", s->judge_calls_total}, {"matches", s->matches_total},
        {"ties", s->ties_total}, {"flips", s->flips}, {"failures", s->failures_total},
        {"failed_matches", s->failed_matches}, {"timeouts", s->timeouts}, {"crashes", s->crashes},
        {"bad_answers", s->bad_answers}, {"restarts", s->restarts},
        {"prompts_without_pair", s->prompts_without_pair}, {"vocab_size", s->vocab_size},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        PP_TRY(pp_h5_attr_i64(f, "/", ints[i].name, ints[i].v, err));
    struct { const char *name; const char *v; } strs[] = {
        {"method", s->method}, {"judge", s->judge}, {"rejected_rule", s->rejected_rule},
        {"pairs_mode", s->pairs_mode}, {"model_fingerprint", s->model_fingerprint},
        {"tokenizer", s->tokenizer},
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        PP_TRY(pp_h5_attr_str(f, "/", strs[i].name, strs[i].v, err));
    PP_TRY(pp_h5_attr_f64(f, "/", "flip_rate", s->flip_rate, err));
    PP_TRY(pp_h5_attr_f64(f, "/", "judge_seconds", s->judge_seconds, err));
    /* optional ones only when they mean something */
    if (s->judge_cmd[0]) PP_TRY(pp_h5_attr_str(f, "/", "judge_cmd", s->judge_cmd, err));
    if (s->has_oracle_params) {
        PP_TRY(pp_h5_attr_f64(f, "/", "judge_noise", s->judge_noise, err));
        PP_TRY(pp_h5_attr_f64(f, "/", "judge_position_bias", s->judge_position_bias, err));
        PP_TRY(pp_h5_attr_f64(f, "/", "judge_close_threshold", s->judge_close_threshold, err));
        PP_TRY(pp_h5_attr_i64(f, "/", "judge_seed", s->judge_seed, err));
    }
    if (s->has_timeout) PP_TRY(pp_h5_attr_f64(f, "/", "judge_timeout", s->judge_timeout, err));
    if (s->source[0]) PP_TRY(pp_h5_attr_str(f, "/", "source", s->source, err));
    if (s->suite[0]) PP_TRY(pp_h5_attr_str(f, "/", "suite", s->suite, err));
    if (s->split[0]) PP_TRY(pp_h5_attr_str(f, "/", "split", s->split, err));
    if (s->has_import) {
        struct { const char *name; int64_t v; } imp[] = {
            {"import_rows", s->import_rows}, {"skipped_rows", s->skipped_rows},
            {"truncated_prompts", s->truncated_prompts}, {"truncated_responses", s->truncated_responses},
            {"max_length", s->max_length}, {"max_prompt_tokens", s->max_prompt_tokens},
        };
        for (size_t i = 0; i < sizeof imp / sizeof imp[0]; i++) PP_TRY(pp_h5_attr_i64(f, "/", imp[i].name, imp[i].v, err));
    }
    if (s->has_truth) {
        PP_TRY(pp_h5_attr_i64(f, "/", "truth_prompts", s->truth_prompts, err));
        PP_TRY(pp_h5_attr_f64(f, "/", "truth_best_rate", s->truth_best_rate, err));
        PP_TRY(pp_h5_attr_f64(f, "/", "truth_worst_rate", s->truth_worst_rate, err));
        PP_TRY(pp_h5_attr_f64(f, "/", "truth_agreement", s->truth_agreement, err));
        PP_TRY(pp_h5_attr_f64(f, "/", "truth_pair_accuracy", s->truth_pair_accuracy, err));
        PP_TRY(pp_h5_attr_f64(f, "/", "truth_mean_gap", s->truth_mean_gap, err));
    }
    return PP_OK;
}

static pp_status write_matches(pp_h5 *f, const pairs_set *s, pp_err *err) {
    const int64_t n = s->n_matches;
    int64_t *i64 = zalloc(n, sizeof *i64);
    int *i32 = zalloc(n, sizeof *i32);
    double *f64 = zalloc(n, sizeof *f64);
    pp_status st = PP_OK;
    if (!i64 || !i32 || !f64) st = pp_fail(err, PP_ESYS, "out of memory writing the match log");
    if (st == PP_OK) {
        for (int64_t i = 0; i < n; i++) i64[i] = s->matches[i].prompt;
        st = put_1d(f, "/matches/prompt", PP_I64, n, i64, err);
    }
    /* the int32 columns, one after another through the same buffer;
     * verdict and order are named values (enum NULL: plain numbers) */
    struct { const char *name; size_t off; const pp_enum *e; } cols[] = {
        {"/matches/call", offsetof(pairs_match, call), NULL},
        {"/matches/match", offsetof(pairs_match, match), NULL},
        {"/matches/order", offsetof(pairs_match, order), &pairs_order_enum},
        {"/matches/a", offsetof(pairs_match, a), NULL},
        {"/matches/b", offsetof(pairs_match, b), NULL},
        {"/matches/verdict", offsetof(pairs_match, verdict), &pairs_verdict_enum},
        {"/matches/attempts", offsetof(pairs_match, attempts), NULL},
        {"/matches/timeouts", offsetof(pairs_match, timeouts), NULL},
        {"/matches/crashes", offsetof(pairs_match, crashes), NULL},
        {"/matches/bad_answers", offsetof(pairs_match, bad_answers), NULL},
        {"/matches/restarts", offsetof(pairs_match, restarts), NULL},
        {"/matches/rank", offsetof(pairs_match, rank), NULL},
    };
    for (size_t c = 0; st == PP_OK && c < sizeof cols / sizeof cols[0]; c++) {
        for (int64_t i = 0; i < n; i++) memcpy(&i32[i], (const char *)&s->matches[i] + cols[c].off, sizeof(int));
        st = cols[c].e ? pp_h5_write_enum_root(f, cols[c].name, cols[c].e, n, i32, err)
                       : put_1d(f, cols[c].name, PP_I32, n, i32, err);
    }
    if (st == PP_OK) {
        for (int64_t i = 0; i < n; i++) f64[i] = s->matches[i].seconds;
        st = put_1d(f, "/matches/seconds", PP_F64, n, f64, err);
    }
    if (st == PP_OK) {
        for (int64_t i = 0; i < n; i++) i64[i] = s->matches[i].sequence;
        st = put_1d(f, "/matches/sequence", PP_I64, n, i64, err);
    }
    /* the model judge's probabilities, when the judge gave any */
    int has_probs = 0;
    for (int64_t i = 0; i < n; i++) has_probs |= !isnan(s->matches[i].p_first);
    if (st == PP_OK && has_probs) {
        for (int64_t i = 0; i < n; i++) f64[i] = s->matches[i].p_first;
        st = put_1d(f, "/matches/p_first", PP_F64, n, f64, err);
    }
    if (st == PP_OK && has_probs) {
        for (int64_t i = 0; i < n; i++) f64[i] = s->matches[i].p_second;
        st = put_1d(f, "/matches/p_second", PP_F64, n, f64, err);
    }
    if (st == PP_OK) st = put_text(f, "/matches/error", n, s->match_error, err);
    free(i64);
    free(i32);
    free(f64);
    return st;
}

/* Everything, by rank 0 alone: the pairs are small next to the candidates
 * and only rank 0 holds them (it ran the tournaments). */
static pp_status write_all(pp_h5 *f, const pairs_set *s, pp_err *err) {
    const int64_t np = s->n_prompts, n = s->n_pairs;
    PP_TRY(write_attributes(f, s, err));
    PP_TRY(put_1d(f, "/prompt_id", PP_I64, np, s->prompt_id, err));
    PP_TRY(put_text(f, "/prompt_text", np, s->prompt_text, err));
    if (s->family) PP_TRY(put_text(f, "/family", np, s->family, err));
    if (s->reference) PP_TRY(put_text(f, "/reference", np, s->reference, err));
    PP_TRY(put_1d(f, "/prompt_token_offsets", PP_I64, np + 1, s->prompt_token_offsets, err));
    PP_TRY(put_1d(f, "/prompt_tokens", PP_I32, s->prompt_token_offsets[np], s->prompt_tokens, err));
    PP_TRY(put_1d(f, "/best", PP_I32, np, s->best, err));
    PP_TRY(put_1d(f, "/worst", PP_I32, np, s->worst, err));
    PP_TRY(put_2d(f, "/ranking", PP_I32, np, s->k, s->ranking, err));
    PP_TRY(put_1d(f, "/judge_calls", PP_I32, np, s->judge_calls, err));
    PP_TRY(put_1d(f, "/ties", PP_I32, np, s->ties, err));
    PP_TRY(put_1d(f, "/failures", PP_I32, np, s->failures, err));
    if (s->score) PP_TRY(put_2d(f, "/score", PP_F64, np, s->k, s->score, err));
    if (s->strength) PP_TRY(put_2d(f, "/strength", PP_F64, np, s->k, s->strength, err));
    if (s->true_score) PP_TRY(put_2d(f, "/true_score", PP_F64, np, s->k, s->true_score, err));

    PP_TRY(put_1d(f, "/pair_prompt", PP_I64, n, s->pair_prompt, err));
    PP_TRY(put_1d(f, "/chosen", PP_I32, n, s->chosen, err));
    PP_TRY(put_1d(f, "/rejected", PP_I32, n, s->rejected, err));
    PP_TRY(put_text(f, "/chosen_text", n, s->chosen_text, err));
    PP_TRY(put_text(f, "/rejected_text", n, s->rejected_text, err));
    PP_TRY(put_1d(f, "/chosen_token_offsets", PP_I64, n + 1, s->chosen_token_offsets, err));
    PP_TRY(put_1d(f, "/chosen_tokens", PP_I32, s->chosen_token_offsets[n], s->chosen_tokens, err));
    PP_TRY(put_1d(f, "/rejected_token_offsets", PP_I64, n + 1, s->rejected_token_offsets, err));
    PP_TRY(put_1d(f, "/rejected_tokens", PP_I32, s->rejected_token_offsets[n], s->rejected_tokens, err));
    if (s->chosen_true_score) PP_TRY(put_1d(f, "/chosen_true_score", PP_F64, n, s->chosen_true_score, err));
    if (s->rejected_true_score)
        PP_TRY(put_1d(f, "/rejected_true_score", PP_F64, n, s->rejected_true_score, err));
    return write_matches(f, s, err);
}

/* Rank 0 writes the file on its own (MPI_COMM_SELF): a collective MPI-IO
 * create and the switch to the serial phase cost more than the writing
 * itself when only one rank has data.  The others wait for the outcome. */
pp_status pairs_write(const pairs_set *s, const char *path, MPI_Comm comm, const pp_provenance *prov,
                      pp_err *err) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    pp_status st = PP_OK;
    if (rank == 0) {
        pp_h5 f;
        st = pp_h5_create(&f, path, MPI_COMM_SELF, "pairs", PAIRS_SCHEMA_VERSION, prov, err);
        if (st == PP_OK) st = pp_h5_serial_begin(&f, err);
        if (st == PP_OK) st = pp_h5_attr_i64(&f, "/", "mpi_ranks", size, err); /* the run's, not the writer's */
        if (st == PP_OK) st = write_all(&f, s, err);
        if (st == PP_OK) st = pp_h5_commit(&f, err);
        else pp_h5_abort(&f);
    }
    int code = (int)st;
    MPI_Bcast(&code, 1, MPI_INT, 0, comm);
    if (code != PP_OK) {
        MPI_Bcast(err->msg, (int)sizeof err->msg, MPI_CHAR, 0, comm);
        err->status = (pp_status)code;
    }
    return (pp_status)code;
}

/* ------------------------------------------------------------- JSONL */

/* One pair in TRL's standard format. */
static json_t *pair_json(const void *ctx, int64_t i) {
    const pairs_set *s = ctx;
    json_t *o = json_object();
    if (!o) return NULL;
    int bad = json_object_set_new(o, "prompt", pp_json_text(s->prompt_text[s->pair_prompt[i]])) ||
              json_object_set_new(o, "chosen", pp_json_text(s->chosen_text[i])) ||
              json_object_set_new(o, "rejected", pp_json_text(s->rejected_text[i]));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

pp_status pairs_write_jsonl(const pairs_set *s, const char *path, pp_err *err) {
    return pp_jsonl_write_rows(path, s->n_pairs, pair_json, s, err);
}

/* -------------------------------------------------------------- load */

/* Read a numeric dataset whose shape must be [d0] (d1 < 0) or [d0, d1]. */
static pp_status get_array(pp_h5 *f, const char *name, pp_dtype t, size_t elem, int64_t d0, int64_t d1,
                           void **out, pp_err *err) {
    *out = NULL;
    int64_t want[2] = {d0, d1};
    PP_TRY(pp_h5_expect(f, name, t, d1 < 0 ? 1 : 2, want, NULL, err));
    int64_t count = d0 * (d1 < 0 ? 1 : d1);
    void *p = zalloc(count, elem);
    if (!p) return pp_fail(err, PP_ESYS, "%s: out of memory for dataset %s (%lld values)", f->path, name,
                           (long long)count);
    pp_status st = pp_h5_read_all(f, name, t, p, err);
    if (st != PP_OK) {
        free(p);
        return st;
    }
    *out = p;
    return PP_OK;
}

/* An optional dataset: left NULL when absent. */
static pp_status get_optional(pp_h5 *f, const char *name, pp_dtype t, size_t elem, int64_t d0, int64_t d1,
                              void **out, pp_err *err) {
    *out = NULL;
    if (!pp_h5_exists(f, name)) return PP_OK;
    return get_array(f, name, t, elem, d0, d1, out, err);
}

static pp_status check_range(const char *path, const char *name, const int *v, int64_t n, int64_t lo, int64_t hi,
                             pp_err *err) {
    for (int64_t i = 0; i < n; i++)
        if (v[i] < lo || v[i] >= hi)
            return pp_fail(err, PP_EINPUT, "%s: dataset %s element %lld = %d is outside [%lld, %lld)", path, name,
                           (long long)i, v[i], (long long)lo, (long long)hi);
    return PP_OK;
}

/* offsets[n + 1] and the tokens they index; token ids below vocab. */
static pp_status get_ragged(pp_h5 *f, const char *off_name, const char *tok_name, int64_t n, int vocab,
                            int64_t **off_out, int32_t **tok_out, pp_err *err) {
    int64_t *off = NULL;
    int32_t *tok = NULL;
    PP_TRY(get_array(f, off_name, PP_I64, sizeof *off, n + 1, -1, (void **)&off, err));
    pp_status st = PP_OK;
    if (off[0] != 0) st = pp_fail(err, PP_EINPUT, "%s: offsets %s must start at 0", f->path, off_name);
    for (int64_t i = 1; st == PP_OK && i <= n; i++)
        if (off[i] < off[i - 1])
            st = pp_fail(err, PP_EINPUT, "%s: offsets %s decrease at %lld", f->path, off_name, (long long)i);
    if (st == PP_OK && off[n] > PAIRS_MAX_ROWS)
        st = pp_fail(err, PP_EINPUT, "%s: offsets %s claim %lld tokens (too many)", f->path, off_name,
                     (long long)off[n]);
    if (st == PP_OK) st = get_array(f, tok_name, PP_I32, sizeof *tok, off[n], -1, (void **)&tok, err);
    if (st == PP_OK) st = check_range(f->path, tok_name, tok, off[n], 0, vocab, err);
    if (st != PP_OK) {
        free(off);
        free(tok);
        return st;
    }
    *off_out = off;
    *tok_out = tok;
    return PP_OK;
}

static pp_status get_text(pp_h5 *f, const char *name, int64_t n, int optional, char ***out, pp_err *err) {
    *out = NULL;
    if (optional && !pp_h5_exists(f, name)) return PP_OK;
    int64_t got;
    return pp_h5_read_text(f, name, n, &got, out, err);
}

static pp_status get_int_attr(pp_h5 *f, const char *name, int64_t lo, int64_t hi, int64_t *v, pp_err *err) {
    PP_TRY(pp_h5_get_attr_i64(f, "/", name, v, err));
    if (*v < lo || *v > hi)
        return pp_fail(err, PP_EINPUT, "%s: attribute %s = %lld is outside [%lld, %lld]", f->path, name,
                       (long long)*v, (long long)lo, (long long)hi);
    return PP_OK;
}

static void opt_str(pp_h5 *f, const char *name, char *buf, size_t cap) { pp_h5_opt_attr_str(f, "/", name, buf, cap, ""); }

static void opt_i64(pp_h5 *f, const char *name, int64_t *v) { pp_h5_opt_attr_i64(f, "/", name, v, *v); }

static void opt_f64(pp_h5 *f, const char *name, double *v) { pp_h5_opt_attr_f64(f, "/", name, v, *v); }

static pp_status load_attributes(pp_h5 *f, pairs_set *s, pp_err *err) {
    int64_t v;
    PP_TRY(get_int_attr(f, "n_prompts", 1, PAIRS_MAX_ROWS, &s->n_prompts, err));
    PP_TRY(get_int_attr(f, "k", 1, PAIRS_MAX_K, &v, err));
    s->k = (int)v;
    PP_TRY(get_int_attr(f, "n_pairs", 0, PAIRS_MAX_ROWS, &s->n_pairs, err));
    /* version 1 called the match log's size n_matches */
    PP_TRY(get_int_attr(f, pp_h5_has_attr(f, "/", "n_logged_calls") ? "n_logged_calls" : "n_matches", 0,
                        PAIRS_MAX_ROWS, &s->n_matches, err));
    PP_TRY(get_int_attr(f, "vocab_size", 1, INT32_MAX, &v, err));
    s->vocab_size = (int)v;
    PP_TRY(pp_h5_get_attr_str(f, "/", "method", s->method, sizeof s->method, err));
    PP_TRY(pp_h5_get_attr_str(f, "/", "judge", s->judge, sizeof s->judge, err));
    PP_TRY(pp_h5_get_attr_str(f, "/", "model_fingerprint", s->model_fingerprint, sizeof s->model_fingerprint, err));
    PP_TRY(pp_h5_get_attr_str(f, "/", "tokenizer", s->tokenizer, sizeof s->tokenizer, err));
    opt_str(f, "rejected_rule", s->rejected_rule, sizeof s->rejected_rule);
    opt_str(f, "pairs_mode", s->pairs_mode, sizeof s->pairs_mode);
    opt_str(f, "judge_cmd", s->judge_cmd, sizeof s->judge_cmd);
    opt_str(f, "source", s->source, sizeof s->source);
    opt_str(f, "suite", s->suite, sizeof s->suite);
    opt_str(f, "split", s->split, sizeof s->split);
    v = 0;
    opt_i64(f, "both_orders", &v);
    s->both_orders = v != 0;
    opt_i64(f, "judge_calls", &s->judge_calls_total);
    opt_i64(f, "matches", &s->matches_total);
    opt_i64(f, "ties", &s->ties_total);
    opt_i64(f, "flips", &s->flips);
    opt_i64(f, "failures", &s->failures_total);
    opt_i64(f, "failed_matches", &s->failed_matches);
    opt_i64(f, "timeouts", &s->timeouts);
    opt_i64(f, "crashes", &s->crashes);
    opt_i64(f, "bad_answers", &s->bad_answers);
    opt_i64(f, "restarts", &s->restarts);
    opt_i64(f, "prompts_without_pair", &s->prompts_without_pair);
    opt_f64(f, "flip_rate", &s->flip_rate);
    opt_f64(f, "judge_seconds", &s->judge_seconds);
    s->has_oracle_params = pp_h5_has_attr(f, "/", "judge_noise");
    opt_f64(f, "judge_noise", &s->judge_noise);
    opt_f64(f, "judge_position_bias", &s->judge_position_bias);
    opt_f64(f, "judge_close_threshold", &s->judge_close_threshold);
    opt_i64(f, "judge_seed", &s->judge_seed);
    s->has_timeout = pp_h5_has_attr(f, "/", "judge_timeout");
    opt_f64(f, "judge_timeout", &s->judge_timeout);
    s->has_import = pp_h5_has_attr(f, "/", "import_rows");
    opt_i64(f, "import_rows", &s->import_rows);
    opt_i64(f, "skipped_rows", &s->skipped_rows);
    opt_i64(f, "truncated_prompts", &s->truncated_prompts);
    opt_i64(f, "truncated_responses", &s->truncated_responses);
    opt_i64(f, "max_length", &s->max_length);
    opt_i64(f, "max_prompt_tokens", &s->max_prompt_tokens);
    s->has_truth = pp_h5_has_attr(f, "/", "truth_prompts");
    opt_i64(f, "truth_prompts", &s->truth_prompts);
    opt_f64(f, "truth_best_rate", &s->truth_best_rate);
    opt_f64(f, "truth_worst_rate", &s->truth_worst_rate);
    opt_f64(f, "truth_agreement", &s->truth_agreement);
    opt_f64(f, "truth_pair_accuracy", &s->truth_pair_accuracy);
    opt_f64(f, "truth_mean_gap", &s->truth_mean_gap);
    return PP_OK;
}

static pp_status load_matches(pp_h5 *f, pairs_set *s, pp_err *err) {
    const int64_t n = s->n_matches;
    s->matches = zalloc(n, sizeof *s->matches);
    if (!s->matches) return pp_fail(err, PP_ESYS, "%s: out of memory for %lld matches", f->path, (long long)n);
    int64_t *i64 = NULL;
    int *i32 = NULL;
    double *f64 = NULL;
    pp_status st = get_array(f, "/matches/prompt", PP_I64, sizeof *i64, n, -1, (void **)&i64, err);
    for (int64_t i = 0; st == PP_OK && i < n; i++) {
        if (i64[i] < 0 || i64[i] >= s->n_prompts)
            st = pp_fail(err, PP_EINPUT, "%s: dataset /matches/prompt element %lld = %lld is not a prompt row",
                         f->path, (long long)i, (long long)i64[i]);
        else s->matches[i].prompt = i64[i];
    }
    free(i64);
    i64 = NULL;
    /* hi: values must lie in [0, hi) (0: no check) */
    struct { const char *name; size_t off; int64_t hi; } cols[] = {
        {"/matches/call", offsetof(pairs_match, call), 0},
        {"/matches/match", offsetof(pairs_match, match), 0},
        {"/matches/order", offsetof(pairs_match, order), pairs_order_enum.n},
        {"/matches/a", offsetof(pairs_match, a), s->k},
        {"/matches/b", offsetof(pairs_match, b), s->k},
        {"/matches/verdict", offsetof(pairs_match, verdict), pairs_verdict_enum.n},
        {"/matches/attempts", offsetof(pairs_match, attempts), 0},
        {"/matches/timeouts", offsetof(pairs_match, timeouts), 0},
        {"/matches/crashes", offsetof(pairs_match, crashes), 0},
        {"/matches/bad_answers", offsetof(pairs_match, bad_answers), 0},
        {"/matches/restarts", offsetof(pairs_match, restarts), 0},
        {"/matches/rank", offsetof(pairs_match, rank), 0},
    };
    for (size_t c = 0; st == PP_OK && c < sizeof cols / sizeof cols[0]; c++) {
        st = get_array(f, cols[c].name, PP_I32, sizeof *i32, n, -1, (void **)&i32, err);
        if (st == PP_OK && cols[c].hi) st = check_range(f->path, cols[c].name, i32, n, 0, cols[c].hi, err);
        for (int64_t i = 0; st == PP_OK && i < n; i++)
            memcpy((char *)&s->matches[i] + cols[c].off, &i32[i], sizeof(int));
        free(i32);
        i32 = NULL;
    }
    if (st == PP_OK) st = get_array(f, "/matches/seconds", PP_F64, sizeof *f64, n, -1, (void **)&f64, err);
    for (int64_t i = 0; st == PP_OK && i < n; i++) s->matches[i].seconds = f64[i];
    if (st == PP_OK) st = get_array(f, "/matches/sequence", PP_I64, sizeof *i64, n, -1, (void **)&i64, err);
    for (int64_t i = 0; st == PP_OK && i < n; i++) s->matches[i].sequence = i64[i];
    for (int64_t i = 0; st == PP_OK && i < n; i++) s->matches[i].p_first = s->matches[i].p_second = NAN;
    if (st == PP_OK && pp_h5_exists(f, "/matches/p_first")) { /* model judge only */
        free(f64);
        f64 = NULL;
        st = get_array(f, "/matches/p_first", PP_F64, sizeof *f64, n, -1, (void **)&f64, err);
        for (int64_t i = 0; st == PP_OK && i < n; i++) s->matches[i].p_first = f64[i];
        free(f64);
        f64 = NULL;
        if (st == PP_OK) st = get_array(f, "/matches/p_second", PP_F64, sizeof *f64, n, -1, (void **)&f64, err);
        for (int64_t i = 0; st == PP_OK && i < n; i++) s->matches[i].p_second = f64[i];
    }
    if (st == PP_OK) st = get_text(f, "/matches/error", n, 0, &s->match_error, err);
    free(i64);
    free(f64);
    return st;
}

static pp_status load_body(pp_h5 *f, pairs_set *s, int flags, pp_err *err) {
    PP_TRY(load_attributes(f, s, err));
    const int64_t np = s->n_prompts, n = s->n_pairs, k = s->k;
    if (np * k > PAIRS_MAX_ROWS)
        return pp_fail(err, PP_EINPUT, "%s: n_prompts x k = %lld is too large", f->path, (long long)(np * k));
    PP_TRY(get_array(f, "/prompt_id", PP_I64, sizeof(int64_t), np, -1, (void **)&s->prompt_id, err));
    PP_TRY(get_text(f, "/prompt_text", np, 0, &s->prompt_text, err));
    PP_TRY(get_text(f, "/family", np, 1, &s->family, err));
    PP_TRY(get_text(f, "/reference", np, 1, &s->reference, err));
    PP_TRY(get_ragged(f, "/prompt_token_offsets", "/prompt_tokens", np, s->vocab_size, &s->prompt_token_offsets,
                      &s->prompt_tokens, err));
    PP_TRY(get_array(f, "/best", PP_I32, sizeof(int), np, -1, (void **)&s->best, err));
    PP_TRY(check_range(f->path, "/best", s->best, np, 0, k, err));
    PP_TRY(get_array(f, "/worst", PP_I32, sizeof(int), np, -1, (void **)&s->worst, err));
    PP_TRY(check_range(f->path, "/worst", s->worst, np, 0, k, err));
    PP_TRY(get_array(f, "/ranking", PP_I32, sizeof(int), np, k, (void **)&s->ranking, err));
    PP_TRY(check_range(f->path, "/ranking", s->ranking, np * k, 0, k, err));
    PP_TRY(get_array(f, "/judge_calls", PP_I32, sizeof(int), np, -1, (void **)&s->judge_calls, err));
    PP_TRY(get_array(f, "/ties", PP_I32, sizeof(int), np, -1, (void **)&s->ties, err));
    PP_TRY(get_array(f, "/failures", PP_I32, sizeof(int), np, -1, (void **)&s->failures, err));
    PP_TRY(get_optional(f, "/score", PP_F64, sizeof(double), np, k, (void **)&s->score, err));
    PP_TRY(get_optional(f, "/strength", PP_F64, sizeof(double), np, k, (void **)&s->strength, err));
    PP_TRY(get_optional(f, "/true_score", PP_F64, sizeof(double), np, k, (void **)&s->true_score, err));

    int64_t *rows = NULL;
    PP_TRY(get_array(f, "/pair_prompt", PP_I64, sizeof(int64_t), n, -1, (void **)&rows, err));
    s->pair_prompt = rows;
    for (int64_t i = 0; i < n; i++)
        if (rows[i] < 0 || rows[i] >= np)
            return pp_fail(err, PP_EINPUT, "%s: dataset /pair_prompt element %lld = %lld is not a prompt row",
                           f->path, (long long)i, (long long)rows[i]);
    PP_TRY(get_array(f, "/chosen", PP_I32, sizeof(int), n, -1, (void **)&s->chosen, err));
    PP_TRY(check_range(f->path, "/chosen", s->chosen, n, 0, k, err));
    PP_TRY(get_array(f, "/rejected", PP_I32, sizeof(int), n, -1, (void **)&s->rejected, err));
    PP_TRY(check_range(f->path, "/rejected", s->rejected, n, 0, k, err));
    PP_TRY(get_text(f, "/chosen_text", n, 0, &s->chosen_text, err));
    PP_TRY(get_text(f, "/rejected_text", n, 0, &s->rejected_text, err));
    PP_TRY(get_ragged(f, "/chosen_token_offsets", "/chosen_tokens", n, s->vocab_size, &s->chosen_token_offsets,
                      &s->chosen_tokens, err));
    PP_TRY(get_ragged(f, "/rejected_token_offsets", "/rejected_tokens", n, s->vocab_size,
                      &s->rejected_token_offsets, &s->rejected_tokens, err));
    PP_TRY(get_optional(f, "/chosen_true_score", PP_F64, sizeof(double), n, -1, (void **)&s->chosen_true_score, err));
    PP_TRY(get_optional(f, "/rejected_true_score", PP_F64, sizeof(double), n, -1, (void **)&s->rejected_true_score,
                        err));
    if (flags & PAIRS_LOAD_MATCHES) PP_TRY(load_matches(f, s, err));
    return PP_OK;
}

pp_status pairs_load(pairs_set *s, const char *path, int flags, pp_err *err) {
    memset(s, 0, sizeof *s);
    pp_h5 f;
    PP_TRY(pp_h5_open(&f, path, "pairs", PAIRS_SCHEMA_VERSION, err));
    pp_status st = load_body(&f, s, flags, err);
    pp_h5_close(&f);
    if (st != PP_OK) pairs_free(s);
    return st;
}
