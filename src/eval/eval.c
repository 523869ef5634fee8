/* eval.c - policy vs baseline, judged in both orders (eval.h). */
#include "eval/eval.h"
#include "core/pp_testhook.h"

#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/pp_gather.h"
#include "core/pp_mpi.h"
#include "core/pp_parts.h"
#include "core/pp_runkey.h"
#include "judge/judge.h"
#include "model/decode.h"
#include "model/model_io.h"
#include "prompts/prompts.h"
#include "suite/tasks.h"

#define EVAL_CHUNK_SCHEMA "eval_chunk" /* OUT.parts/S-NNNNNN.h5: finished prompts of a run */
#define EVAL_KEY_MAX 65536 /* longest run_key attribute read back */

/* A split's name: the prompt file's split attribute, else its file name
 * without the extension.  It names an HDF5 group and is an item of the
 * comma-separated `splits` attribute. */
static void split_name(const prompt_set *p, const char *path, char *name, size_t cap) {
    if (p->split[0]) {
        snprintf(name, cap, "%s", p->split);
        return;
    }
    char b[PP_PATH_MAX];
    snprintf(b, sizeof b, "%s", path);
    snprintf(name, cap, "%.20s", basename(b));
    char *dot = strrchr(name, '.');
    if (dot && dot != name) *dot = '\0';
}

/* Letters, digits, '_', '-' and '.' (not first), not too long, and the
 * names of one run distinct: checked before any work. */
static pp_status check_split_names(const char *const *paths, int n, pp_err *err) {
    char names[EVAL_MAX_SPLITS][64];
    for (int s = 0; s < n; s++) {
        prompt_set p;
        PP_TRY(prompts_load(&p, paths[s], err));
        split_name(&p, paths[s], names[s], sizeof names[s]);
        int from_attr = p.split[0] != 0;
        prompts_free(&p);
        const char *v = names[s];
        size_t len = strlen(v), ok = strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.");
        if (len == 0 || ok != len || v[0] == '.' || len >= 32)
            return pp_fail(err, PP_EINPUT, "%s: split name '%s' (from its %s) is not usable: letters, digits, '_', '-' and '.' "
                           "(not first), at most 31", paths[s], v, from_attr ? "split attribute" : "file name");
        for (int k = 0; k < s; k++)
            if (!strcmp(names[k], v))
                return pp_fail(err, PP_EINPUT, "%s: split name '%s' given twice (also %s)", paths[s], v, paths[k]);
    }
    return PP_OK;
}

/* One split's results on this rank (rows lo..hi of the prompt file). */
typedef struct {
    int64_t lo, hi, n_file;
    double *outcome, *score[2];
    int32_t *verdict[2], *exact[2];
    char **text[2];
    char name[32];
} split_rows;

static void rows_free(split_rows *r) {
    free(r->outcome);
    for (int s = 0; s < 2; s++) {
        free(r->score[s]);
        free(r->verdict[s]);
        free(r->exact[s]);
        if (r->text[s])
            for (int64_t i = 0; i < r->hi - r->lo; i++) free(r->text[s][i]);
        free(r->text[s]);
    }
    memset(r, 0, sizeof *r);
}

/* +1 when the policy is preferred in this order, -1 the baseline, 0 otherwise. */
static int policy_view(int verdict, int policy_first) {
    if (verdict == JUDGE_FIRST) return policy_first ? 1 : -1;
    if (verdict == JUDGE_SECOND) return policy_first ? -1 : 1;
    return 0;
}

typedef struct {
    const eval_options *o;
    judge_handle j;
} judges;

/* A stop signal abandons a judge call in flight (judge_cmd.h). */
static int judge_should_stop(void *ctx) {
    (void)ctx;
    return pp_stop_requested();
}

/* Prompt i's two responses in both orders: (policy, baseline) is order 0,
 * (baseline, policy) order 1; the oracle's stream is keyed by split and
 * prompt id. */
static pp_status judge_both_orders(judges *j, const prompt_set *p, int64_t i, int split, char *const text[2],
                                   judge_verdict v[2], pp_err *err) {
    judge_match m[2];
    char id[2][96];
    for (int order = 0; order < 2; order++) {
        snprintf(id[order], sizeof id[order], "%s%d:%lld:%d", j->o->j.id_prefix, split, (long long)p->ids[i], order);
        m[order] = (judge_match){id[order],
                                 p->text[i],
                                 text[order],
                                 text[1 - order],
                                 p->family ? p->family[i] : NULL,
                                 p->reference ? p->reference[i] : NULL,
                                 ((uint64_t)split << 40) ^ (uint64_t)p->ids[i],
                                 (uint64_t)order,
                                 NULL};
    }
    return judge_matches(&j->j, m, 2, v, err);
}

/* ---------------------------------------------------------------- resume
 * The prompts of a split are cut into chunks of chunk_prompts; each rank
 * works through a contiguous range of chunks and saves every finished chunk
 * (texts and verdicts) as OUT.parts/S-NNNNNN.h5, written .tmp and renamed
 * like every output.  A chunk file carries the run key (models, prompts,
 * judge and sampling settings); a rerun reuses each chunk that loads with
 * the same key and redoes the others.  Outcomes, scores and exact matches
 * are recomputed from the saved texts and verdicts, so a resumed run writes
 * the same file as an uninterrupted one. */

static void chunk_file(const char *parts, int split, int64_t c, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%d-%06lld.h5", parts, split, (long long)c);
}

/* The run key (core/pp_runkey.h): everything the chunks' texts and
 * verdicts depend on, every split's prompts included.  OUT.parts/run.key
 * holds it, and every chunk carries it as its run_key attribute. */
static pp_status run_key(const eval_options *o, const char fp[2][17], const char *const *prompt_paths, int n_splits,
                         pp_runkey *k, pp_err *err) {
    pp_runkey_init(k);
    pp_runkey_i64(k, "eval_parts_version", 2);
    pp_runkey_str(k, "program_version", PP_VERSION);
    pp_runkey_str(k, "policy", fp[0]);
    pp_runkey_str(k, "baseline", fp[1]);
    for (int s = 0; s < n_splits; s++) {
        char name[32], pfp[17];
        pp_status st = pp_file_fingerprint(prompt_paths[s], pfp, err);
        if (st != PP_OK) {
            pp_runkey_free(k);
            return st;
        }
        snprintf(name, sizeof name, "prompts%d", s);
        pp_runkey_str(k, name, pfp);
    }
    pp_runkey_str(k, "judge", o->judge);
    pp_runkey_str(k, "judge_cmd", o->j.cmdline);
    pp_runkey_f64(k, "judge_timeout", o->j.cmd.timeout_s);
    pp_runkey_f64(k, "judge_noise", o->j.noise);
    pp_runkey_f64(k, "judge_position_bias", o->j.position_bias);
    pp_runkey_f64(k, "judge_close", o->j.close);
    pp_runkey_i64(k, "judge_seed", o->j.seed);
    pp_runkey_f64(k, "temperature", o->gen.sample.temperature);
    pp_runkey_f64(k, "top_p", o->gen.sample.top_p);
    pp_runkey_i64(k, "top_k", o->gen.sample.top_k);
    pp_runkey_i64(k, "max_new_tokens", o->gen.max_new_tokens);
    pp_runkey_i64(k, "seed", (int64_t)o->gen.seed);
    pp_runkey_i64(k, "chunk_prompts", o->chunk_prompts);
    pp_runkey_str(k, "judge_id_prefix", o->j.id_prefix);
    if (!pp_runkey_text(k)) {
        pp_runkey_free(k);
        return pp_fail(err, PP_ESYS, "out of memory for the run key");
    }
    return PP_OK;
}

/* Fill rows [p0, p1) of r from a saved chunk.  Returns 1 when the chunk is
 * there, complete and of this run; otherwise 0 (it will be redone). */
static int chunk_load(const char *path, const char *key, const prompt_set *p, int64_t p0, int64_t p1, split_rows *r) {
    if (access(path, F_OK) != 0) return 0;
    pp_err e;
    pp_h5 f;
    if (pp_h5_open(&f, path, EVAL_CHUNK_SCHEMA, 1, &e) != PP_OK) return 0;
    int64_t n = p1 - p0, want[1] = {n}, *ids = malloc((size_t)(n > 0 ? n : 1) * sizeof *ids);
    int32_t *v[2] = {malloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t)), malloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t))};
    char **texts[2] = {NULL, NULL}, have[EVAL_KEY_MAX];
    int64_t got[2];
    int ok = ids && v[0] && v[1] && pp_h5_get_attr_str(&f, "/", "run_key", have, sizeof have, &e) == PP_OK &&
             !strcmp(have, key) && pp_h5_expect(&f, "/prompt_id", PP_I64, 1, want, NULL, &e) == PP_OK &&
             pp_h5_read_all(&f, "/prompt_id", PP_I64, ids, &e) == PP_OK &&
             pp_h5_expect(&f, "/verdict_policy_first", PP_I32, 1, want, NULL, &e) == PP_OK &&
             pp_h5_read_all(&f, "/verdict_policy_first", PP_I32, v[0], &e) == PP_OK &&
             pp_h5_expect(&f, "/verdict_baseline_first", PP_I32, 1, want, NULL, &e) == PP_OK &&
             pp_h5_read_all(&f, "/verdict_baseline_first", PP_I32, v[1], &e) == PP_OK &&
             pp_h5_read_text(&f, "/policy_text", n, &got[0], &texts[0], &e) == PP_OK &&
             pp_h5_read_text(&f, "/baseline_text", n, &got[1], &texts[1], &e) == PP_OK;
    pp_h5_close(&f);
    for (int64_t i = 0; ok && i < n; i++)
        ok = ids[i] == p->ids[p0 + i] && v[0][i] >= 0 && v[0][i] <= JUDGE_FAILED && v[1][i] >= 0 && v[1][i] <= JUDGE_FAILED;
    for (int64_t i = 0; ok && i < n; i++) {
        int64_t row = p0 + i - r->lo;
        for (int s = 0; s < 2; s++) {
            r->verdict[s][row] = v[s][i];
            free(r->text[s][row]);
            r->text[s][row] = strdup(texts[s][i]);
            ok = ok && r->text[s][row];
        }
    }
    free(ids);
    free(v[0]);
    free(v[1]);
    free(texts[0]);
    free(texts[1]);
    return ok;
}

/* Save rows [p0, p1) of r atomically (one process, MPI_COMM_SELF). */
static pp_status chunk_save(const char *path, const char *key, const prompt_set *p, int64_t p0, int64_t p1,
                            const split_rows *r, pp_err *err) {
    pp_h5 f;
    pp_provenance prov = {"pp-eval", "one chunk of a run (see run_key)", NULL, 0};
    PP_TRY(pp_h5_create(&f, path, MPI_COMM_SELF, EVAL_CHUNK_SCHEMA, 1, &prov, err));
    int64_t n = p1 - p0, dims[1] = {n}, row = p0 - r->lo;
    pp_status st = pp_h5_attr_str(&f, "/", "run_key", key, err);
    if (st == PP_OK) st = pp_h5_write_rows(&f, "/prompt_id", PP_I64, 1, dims, 0, n, p->ids + p0, err);
    if (st == PP_OK) st = pp_h5_write_rows(&f, "/verdict_policy_first", PP_I32, 1, dims, 0, n, r->verdict[0] + row, err);
    if (st == PP_OK) st = pp_h5_write_rows(&f, "/verdict_baseline_first", PP_I32, 1, dims, 0, n, r->verdict[1] + row, err);
    if (st == PP_OK) st = pp_h5_serial_begin(&f, err);
    if (st == PP_OK) st = pp_h5_write_text(&f, "/policy_text", n, (const char *const *)r->text[0] + row, err);
    if (st == PP_OK) st = pp_h5_write_text(&f, "/baseline_text", n, (const char *const *)r->text[1] + row, err);
    if (st == PP_OK) return pp_h5_commit(&f, err);
    pp_h5_abort(&f);
    return st;
}

/* BOS + the prompt in a model's tokens (generate_encode), with room for at
 * least one generated token. */
static pp_status encode_prompt(const model *m, const char *path, const prompt_set *p, int64_t i, int **ids, int *n,
                               pp_err *err) {
    PP_TRY(generate_encode(&m->tok, m->cfg.vocab_size, prompts_model_text(p, i), ids, n, err));
    if (*n < m->cfg.seq_len) return PP_OK;
    free(*ids);
    *ids = NULL;
    return pp_fail(err, PP_EINPUT, "%s: prompt id %lld (%d tokens) does not fit the context of %d", path,
                   (long long)p->ids[i], *n, m->cfg.seq_len);
}

/* The longest prompt of every split in either model's tokens (rendered with
 * the chat template as the run renders them): what the decoders' KV caches
 * are sized for. */
static pp_status longest_prompt(const char *const *paths, int n_splits, const model models[2],
                                const chat_options *chat, int longest[2], pp_err *err) {
    longest[0] = longest[1] = 1;
    for (int sp = 0; sp < n_splits; sp++) {
        prompt_set p;
        PP_TRY(prompts_load(&p, paths[sp], err));
        pp_status st = chat_render_prompts(&models[0], chat, &p, paths[sp], "the policy", err);
        for (int64_t i = 0; st == PP_OK && i < p.n; i++)
            for (int s = 0; st == PP_OK && s < 2; s++) {
                int *ids = NULL, n = 0;
                st = encode_prompt(&models[s], paths[sp], &p, i, &ids, &n, err);
                if (st == PP_OK && n > longest[s]) longest[s] = n;
                free(ids);
            }
        prompts_free(&p);
        PP_TRY(st);
    }
    return PP_OK;
}

/* The decoder's sink: a response's text into its row. */
typedef struct {
    split_rows *r;
    int s;                      /* 0 policy, 1 baseline */
    const tokenizer *tok;
    const stop_set *stop;       /* the model's stop tokens and strings (NULL: none) */
    const decoder_prompt *prompts;
    int64_t first;              /* prompt index of prompts[0] */
    gen_text text;
} response_sink;

static pp_status keep_response(void *ctx, const decoder_result *res, pp_err *err) {
    response_sink *rs = ctx;
    const decoder_prompt *pr = &rs->prompts[res->prompt];
    PP_TRY(gen_text_decode(&rs->text, rs->tok, rs->stop, pr->tokens[pr->n_tokens - 1], res->tokens, res->n_tokens,
                           res->finish, err));
    int64_t row = rs->first + res->prompt - rs->r->lo;
    free(rs->r->text[rs->s][row]); /* a text left by a chunk that failed to load */
    rs->r->text[rs->s][row] = strdup(rs->text.text);
    return rs->r->text[rs->s][row] ? PP_OK : pp_fail(err, PP_ESYS, "out of memory");
}

/* Both models' responses to prompts [i0, i1), each model's as one decoder
 * run (many prompts per step). */
static pp_status generate_responses(const char *path, const prompt_set *p, int64_t i0, int64_t i1, decoder dec[2],
                                    split_rows *r, pp_err *err) {
    int n = (int)(i1 - i0);
    decoder_prompt *pr = calloc((size_t)n, sizeof *pr);
    int **ids = calloc((size_t)n, sizeof *ids);
    pp_status st = pr && ids ? PP_OK : pp_fail(err, PP_ESYS, "out of memory for %d prompts", n);
    for (int s = 0; st == PP_OK && s < 2; s++) {
        const model *m = dec[s].m;
        for (int i = 0; st == PP_OK && i < n; i++) {
            int nid = 0;
            st = encode_prompt(m, path, p, i0 + i, &ids[i], &nid, err);
            pr[i] = (decoder_prompt){.id = p->ids[i0 + i], .tokens = ids[i], .n_tokens = nid};
        }
        response_sink rs = {r, s, &m->tok, dec[s].p.stop, pr, i0, {0}};
        if (st == PP_OK) st = decoder_run(&dec[s], pr, n, keep_response, &rs, err);
        gen_text_free(&rs.text);
        for (int i = 0; i < n; i++) {
            free(ids[i]);
            ids[i] = NULL;
        }
    }
    free(ids);
    free(pr);
    return st;
}

/* Judge prompt i's two responses in both orders. */
static pp_status judge_row(int split, const prompt_set *p, int64_t i, judges *j, split_rows *r, pp_err *err) {
    int64_t row = i - r->lo;
    judge_verdict v[2];
    PP_TRY(judge_both_orders(j, p, i, split, (char *const[2]){r->text[0][row], r->text[1][row]}, v, err));
    r->verdict[0][row] = v[0];
    r->verdict[1][row] = v[1];
    return PP_OK;
}

/* What follows from a row's texts and verdicts: outcome, scores, exact matches. */
static void finish_row(const prompt_set *p, int64_t i, int has_ref, split_rows *r) {
    int64_t row = i - r->lo;
    int sum = policy_view(r->verdict[0][row], 1) + policy_view(r->verdict[1][row], 0);
    r->outcome[row] = sum > 0 ? 1.0 : sum < 0 ? 0.0 : 0.5;
    task_family fam;
    pp_err e;
    if (has_ref && tasks_family_from_name(p->family[i], &fam, &e) == PP_OK)
        for (int s = 0; s < 2; s++) {
            r->score[s][row] = tasks_score(fam, p->text[i], p->reference[i], r->text[s][row]);
            r->exact[s][row] = tasks_exact(p->reference[i], r->text[s][row]);
        }
}

static pp_status run_split(int split, const char *path, const char *parts, const char *key, decoder dec[2], judges *j, MPI_Comm comm, const pp_log *log, split_rows *r,
                           pp_progress *prog, int64_t *done, int64_t *reused, pp_err *err) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    prompt_set p;
    PP_TRY(prompts_load(&p, path, err));
    pp_status st = chat_render_prompts(dec[0].m, &j->o->chat, &p, path, "the policy", err);
    split_name(&p, path, r->name, sizeof r->name);
    int has_ref = p.n > 0 && p.reference && p.reference[0] && p.family && p.family[0];
    if (p.n == 0) st = pp_fail(err, PP_EINPUT, "%s: no prompts (an empty prompt set)", path);
    else if (j->j.ops->needs_task && !has_ref)
        st = pp_fail(err, PP_EINPUT, "%s: --judge %s needs prompts from the built-in suite (with references)", path,
                     j->o->judge);
    /* contiguous chunks per rank: rows lo..hi */
    int64_t cp = j->o->chunk_prompts, nc = (p.n + cp - 1) / cp;
    int64_t c0 = nc * rank / size, c1 = nc * (rank + 1) / size;
    r->n_file = p.n;
    r->lo = c0 * cp < p.n ? c0 * cp : p.n;
    r->hi = c1 * cp < p.n ? c1 * cp : p.n;
    int64_t n = r->hi - r->lo;
    size_t cnt = (size_t)(n > 0 ? n : 1);
    r->outcome = calloc(cnt, sizeof(double));
    for (int s = 0; s < 2; s++) {
        r->score[s] = calloc(cnt, sizeof(double));
        r->verdict[s] = calloc(cnt, sizeof(int32_t));
        r->exact[s] = calloc(cnt, sizeof(int32_t));
        r->text[s] = calloc(cnt, sizeof(char *));
        if (!r->score[s] || !r->verdict[s] || !r->exact[s] || !r->text[s]) st = pp_fail(err, PP_ESYS, "out of memory");
    }
    if (!r->outcome) st = pp_fail(err, PP_ESYS, "out of memory");
    /* chunks saved by an earlier run are loaded; the others get their
       responses in groups of whole chunks of at least one decoder's worth
       of prompts, then are judged and saved one by one */
    unsigned char *saved = calloc((size_t)(c1 > c0 ? c1 - c0 : 1), 1);
    if (!saved && st == PP_OK) st = pp_fail(err, PP_ESYS, "out of memory");
    for (int64_t c = c0; st == PP_OK && c < c1; c++) {
        int64_t p0 = c * cp, p1 = p0 + cp < p.n ? p0 + cp : p.n;
        char file[PP_PATH_MAX + 64];
        chunk_file(parts, split, c, file, sizeof file);
        saved[c - c0] = (unsigned char)chunk_load(file, key, &p, p0, p1, r);
    }
    int64_t generated_to = c0; /* chunks before it have their responses */
    for (int64_t c = c0; st == PP_OK && c < c1; c++) {
        int64_t p0 = c * cp, p1 = p0 + cp < p.n ? p0 + cp : p.n;
        char file[PP_PATH_MAX + 64];
        chunk_file(parts, split, c, file, sizeof file);
        int from_file = saved[c - c0];
        if (!from_file && c >= generated_to) {
            generated_to = c + 1;
            while (generated_to < c1 && !saved[generated_to - c0] && (generated_to - c) * cp < dec[0].slots)
                generated_to++;
            st = generate_responses(path, &p, p0, generated_to * cp < p.n ? generated_to * cp : p.n, dec, r, err);
        }
        for (int64_t i = p0; st == PP_OK && !from_file && i < p1; i++) st = judge_row(split, &p, i, j, r, err);
        if (st == PP_OK && !from_file) st = chunk_save(file, key, &p, p0, p1, r, err);
        if (st == PP_EINTERRUPTED) /* during a judge call: the chunk is done again on resume */
            st = pp_fail(err, PP_EINTERRUPTED, "stopped by a signal; finished prompts are saved in %s, run the same "
                         "command again to resume", parts);
        if (st != PP_OK) break;
        for (int64_t i = p0; i < p1; i++) finish_row(&p, i, has_ref, r);
        *done += p1 - p0;
        if (from_file) *reused += p1 - p0;
        pp_progress_update(prog, *done * size, NULL);
        if (!from_file) pp_test_hook_sleep(PP_HOOK_CHUNK_DELAY);
        if (pp_stop_requested() && c + 1 < c1)
            st = pp_fail(err, PP_EINTERRUPTED, "stopped by a signal; finished prompts are saved in %s, run the same "
                         "command again to resume", parts);
    }
    free(saved);
    (void)log;
    prompts_free(&p);
    return st;
}

/* Sum and sum of squares of a column whose rows are spread over the ranks
 * (rank order is file order), added in file order on every rank: a sum
 * split by ranks would round differently with another rank count. */
static pp_status ordered_sums(const double *mine, int64_t n_mine, MPI_Comm comm, double *sum, double *sum2, pp_err *err) {
    int size;
    MPI_Comm_size(comm, &size);
    int cnt = (int)n_mine, *counts = malloc((size_t)size * sizeof(int)), *displs = malloc((size_t)size * sizeof(int));
    pp_status st = counts && displs ? PP_OK : pp_fail(err, PP_ESYS, "out of memory");
    st = pp_agree(comm, st, err);
    double *all = NULL;
    if (st == PP_OK) {
        MPI_Allgather(&cnt, 1, MPI_INT, counts, 1, MPI_INT, comm);
        int64_t total = 0;
        for (int q = 0; q < size; q++) {
            displs[q] = (int)total;
            total += counts[q];
        }
        all = malloc((size_t)(total > 0 ? total : 1) * sizeof *all);
        st = pp_agree(comm, all ? PP_OK : pp_fail(err, PP_ESYS, "out of memory for %lld scores", (long long)total), err);
        if (st == PP_OK) MPI_Allgatherv(mine, cnt, MPI_DOUBLE, all, counts, displs, MPI_DOUBLE, comm);
        *sum = *sum2 = 0;
        for (int64_t i = 0; st == PP_OK && i < total; i++) {
            *sum += all[i];
            *sum2 += all[i] * all[i];
        }
    }
    free(all);
    free(counts);
    free(displs);
    return st;
}

static pp_status summarize(const split_rows *r, int has_oracle, MPI_Comm comm, eval_split_summary *s, pp_err *err) {
    /* local sums, then one reduction; outcomes (multiples of 1/2) and
       counts sum exactly, the scores are summed in file order */
    double a[16] = {0};
    for (int64_t i = 0; i < r->hi - r->lo; i++) {
        double o = r->outcome[i];
        int p0 = policy_view(r->verdict[0][i], 1), p1 = policy_view(r->verdict[1][i], 0);
        a[0] += 1;
        a[1] += o == 1.0;
        a[2] += o == 0.5;
        a[3] += o == 0.0;
        a[4] += p0 * p1 == -1;
        a[5] += (r->verdict[0][i] == JUDGE_FAILED) + (r->verdict[1][i] == JUDGE_FAILED);
        a[6] += o;
        a[7] += o * o;
        for (int m = 0; m < 2; m++) a[8 + 4 * m] += r->exact[m][i];
    }
    MPI_Allreduce(MPI_IN_PLACE, a, 16, MPI_DOUBLE, MPI_SUM, comm);
    for (int m = 0; m < 2; m++) PP_TRY(ordered_sums(r->score[m], r->hi - r->lo, comm, &a[9 + 4 * m], &a[10 + 4 * m], err));
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", r->name);
    double n = a[0];
    s->n = (int64_t)n;
    s->wins = (int64_t)a[1];
    s->ties = (int64_t)a[2];
    s->losses = (int64_t)a[3];
    s->flips = (int64_t)a[4];
    s->failures = (int64_t)a[5];
    if (n > 0) {
        s->win_rate = a[6] / n;
        double var = fmax(a[7] / n - s->win_rate * s->win_rate, 0);
        s->win_rate_se = n > 1 ? sqrt(var * n / (n - 1) / n) : 0;
        s->tie_rate = a[2] / n;
        s->loss_rate = a[3] / n;
        s->flip_rate = a[4] / n;
    }
    s->has_oracle = has_oracle;
    for (int m = 0; has_oracle && n > 0 && m < 2; m++) {
        double acc = a[8 + 4 * m] / n, sc = a[9 + 4 * m] / n, sc2 = a[10 + 4 * m] / n;
        s->acc[m] = acc;
        s->acc_se[m] = n > 1 ? sqrt(acc * (1 - acc) / (n - 1)) : 0;
        s->score[m] = sc;
        s->score_se[m] = n > 1 ? sqrt(fmax(sc2 - sc * sc, 0) / (n - 1)) : 0;
    }
    return PP_OK;
}

static pp_status write_split(pp_h5 *f, const split_rows *r, const eval_split_summary *s, pp_err *err) {
    char g[64], name[96];
    snprintf(g, sizeof g, "/%s", r->name);
    PP_TRY(pp_h5_group(f, g, err));
    int64_t dims[1] = {r->n_file}, n = r->hi - r->lo;
    struct {
        const char *n;
        pp_dtype t;
        const void *d;
        const pp_enum *e; /* named values (the verdicts), else NULL */
    } cols[] = {{"outcome", PP_F64, r->outcome, NULL},
                {"verdict_policy_first", PP_I32, r->verdict[0], &pairs_verdict_enum},
                {"verdict_baseline_first", PP_I32, r->verdict[1], &pairs_verdict_enum},
                {"policy_score", PP_F64, r->score[0], NULL},
                {"baseline_score", PP_F64, r->score[1], NULL},
                {"policy_exact", PP_I32, r->exact[0], NULL},
                {"baseline_exact", PP_I32, r->exact[1], NULL}};
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
        if (!s->has_oracle && c >= 3) break;
        snprintf(name, sizeof name, "%s/%s", g, cols[c].n);
        if (cols[c].e) PP_TRY(pp_h5_write_enum_rows(f, name, cols[c].e, 1, dims, r->lo, n, cols[c].d, err));
        else PP_TRY(pp_h5_write_rows(f, name, cols[c].t, 1, dims, r->lo, n, cols[c].d, err));
    }
    struct {
        const char *n;
        double v;
    } at[] = {{"n", (double)s->n},         {"wins", (double)s->wins},   {"ties", (double)s->ties},
              {"losses", (double)s->losses}, {"flips", (double)s->flips}, {"judge_failures", (double)s->failures},
              {"win_rate", s->win_rate},   {"win_rate_se", s->win_rate_se}, {"tie_rate", s->tie_rate},
              {"loss_rate", s->loss_rate}, {"flip_rate", s->flip_rate}};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) PP_TRY(pp_h5_attr_f64(f, g, at[i].n, at[i].v, err));
    if (s->has_oracle) {
        PP_TRY(pp_h5_attr_f64(f, g, "policy_accuracy", s->acc[0], err));
        PP_TRY(pp_h5_attr_f64(f, g, "policy_accuracy_se", s->acc_se[0], err));
        PP_TRY(pp_h5_attr_f64(f, g, "baseline_accuracy", s->acc[1], err));
        PP_TRY(pp_h5_attr_f64(f, g, "baseline_accuracy_se", s->acc_se[1], err));
        PP_TRY(pp_h5_attr_f64(f, g, "policy_mean_score", s->score[0], err));
        PP_TRY(pp_h5_attr_f64(f, g, "policy_mean_score_se", s->score_se[0], err));
        PP_TRY(pp_h5_attr_f64(f, g, "baseline_mean_score", s->score[1], err));
        PP_TRY(pp_h5_attr_f64(f, g, "baseline_mean_score_se", s->score_se[1], err));
    }
    return PP_OK;
}

pp_status eval_run(const char *policy_path, const char *baseline_path, const char *const *prompt_paths,
                   int n_splits, const char *out_path, const eval_options *o, const pp_provenance *prov,
                   MPI_Comm comm, const pp_log *log, eval_split_summary *summary, pp_err *err) {
    if (n_splits < 1 || n_splits > EVAL_MAX_SPLITS)
        return pp_fail(err, PP_EINPUT, "give 1 to %d prompt files", EVAL_MAX_SPLITS);
    if (o->chunk_prompts < 1) return pp_fail(err, PP_EINPUT, "--chunk-prompts %d: must be at least 1", o->chunk_prompts);
    PP_TRY(check_split_names(prompt_paths, n_splits, err));
    model models[2];
    memset(models, 0, sizeof models);
    decoder dec[2];
    memset(dec, 0, sizeof dec);
    int longest[2];
    judges j = {.o = o};
    split_rows rows[EVAL_MAX_SPLITS];
    memset(rows, 0, sizeof rows);
    int rank;
    MPI_Comm_rank(comm, &rank);
    stop_set stop[2];
    /* the weights are only read: one copy per node (collective) */
    pp_status st = model_load_shared(policy_path, &models[0], comm, err);
    if (st == PP_OK) st = model_load_shared(baseline_path, &models[1], comm, err);
    /* one rendering of the prompts serves both models: they must agree on it */
    if (st == PP_OK && strcmp(chat_run_family(&models[0], &o->chat), chat_run_family(&models[1], &o->chat)) != 0)
        st = pp_fail(err, PP_EINPUT, "%s and %s have different chat templates ('%s', '%s'): choose one with --chat-template",
                     policy_path, baseline_path, chat_run_family(&models[0], &o->chat), chat_run_family(&models[1], &o->chat));
    if (st == PP_OK) st = longest_prompt(prompt_paths, n_splits, models, &o->chat, longest, err);
    decoder_params dp[2];
    for (int s = 0; s < 2; s++)
        dp[s] = (decoder_params){.max_batch = o->max_batch, .kv_cache_mb = o->kv_cache_mb,
                                 .max_prompt_tokens = longest[s], .max_new_tokens = o->gen.max_new_tokens, .k = 1,
                                 .sample = o->gen.sample, .seed = o->gen.seed, .stop = &stop[s]};
    /* the estimate, before the decoders allocate (the models are loaded) */
    st = pp_agree(comm, st, err);
    if (st == PP_OK) {
        int on_node = pp_ranks_on_node(comm);
        pp_memory_part parts[] = {{on_node > 1 ? "models (1/ranks: node-shared)" : "models",
                                   4.0 * (double)(models[0].n_params + models[1].n_params) / on_node},
                                  {"decoders (KV caches, packed weights, buffers)",
                                   decoder_estimate_bytes(&models[0], &dp[0], 1) +
                                       decoder_estimate_bytes(&models[1], &dp[1], 1)},
                                  {"runtime", PP_MEMORY_RUNTIME_BYTES}};
        st = pp_memory_check(o->mem, o->max_memory, parts, 3, comm, log, err);
    }
    for (int s = 0; st == PP_OK && s < 2; s++) {
        st = chat_stop_set(&models[s], &o->chat, &stop[s], err);
        if (st == PP_OK) st = decoder_init(&dec[s], &models[s], &dp[s], err);
    }
    if (st == PP_OK && rank == 0)
        pp_info(log, "decoders: %d and %d sequences per step (--max-batch %d), %.1f MiB allocated once per rank",
                dec[0].slots, dec[1].slots, o->max_batch,
                (double)(decoder_memory_bytes(&dec[0]) + decoder_memory_bytes(&dec[1])) / 1048576.0);
    judge_config jcfg = {.cli = &o->j, .stop_requested = judge_should_stop};
    if (st == PP_OK) st = judge_start(&j.j, o->judge, &jcfg, err);
    if (st == PP_OK && !j.j.ops->match)
        st = pp_fail(err, PP_EINPUT, "--judge %s scores one answer at a time: pp-eval needs a pairwise judge", o->judge);
    /* the run key, and the resume directory it guards, locked by rank 0 */
    char parts[PP_PATH_MAX + 8], fp[2][17];
    snprintf(parts, sizeof parts, "%s.parts", out_path);
    pp_runkey key;
    pp_runkey_init(&key);
    pp_parts pd = {.lock.fd = -1};
    if (st == PP_OK) {
        model_fingerprint_hex(&models[0], fp[0]);
        model_fingerprint_hex(&models[1], fp[1]);
        st = run_key(o, (const char(*)[17])fp, prompt_paths, n_splits, &key, err);
        if (st == PP_OK) chat_run_key(&key, &models[0], &o->chat, &stop[0]); /* the policy's; the baseline's family is the same */
    }
    if (st == PP_OK && rank == 0) st = pp_parts_open(&pd, parts, out_path, pp_runkey_text(&key), err);
    st = pp_agree(comm, st, err);
    /* total prompts for progress */
    int64_t total = 0, done = 0, reused = 0;
    for (int s = 0; st == PP_OK && s < n_splits; s++) {
        prompt_set p;
        st = prompts_load(&p, prompt_paths[s], err);
        total += p.n;
        prompts_free(&p);
    }
    st = pp_agree(comm, st, err);
    pp_progress prog;
    pp_progress_start(&prog, log, "eval", total, 0, "prompts");
    for (int s = 0; st == PP_OK && s < n_splits; s++) {
        st = run_split(s, prompt_paths[s], parts, pp_runkey_text(&key), dec, &j, comm, log, &rows[s], &prog, &done, &reused, err);
        st = pp_agree(comm, st, err);
        if (st == PP_OK) st = summarize(&rows[s], j.j.ops->needs_task, comm, &summary[s], err);
    }
    pp_runkey_free(&key);
    if (st == PP_OK) pp_progress_finish(&prog, total, NULL);
    if (st == PP_OK) {
        MPI_Allreduce(MPI_IN_PLACE, &reused, 1, MPI_INT64_T, MPI_SUM, comm);
        if (reused) pp_info(log, "resumed: %lld of %lld prompts reused from %s", (long long)reused, (long long)total, parts);
    }
    /* write */
    pp_h5 f;
    int created = 0;
    if (st == PP_OK) {
        st = pp_h5_create(&f, out_path, comm, "eval", EVAL_SCHEMA_VERSION, prov, err);
        created = st == PP_OK;
    }
    if (st == PP_OK) {
        char names[EVAL_MAX_SPLITS * 34] = "";
        for (int s = 0; s < n_splits; s++) snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", s ? "," : "", rows[s].name);
        st = pp_h5_attr_i64(&f, "/", "n_splits", n_splits, err);
        if (st == PP_OK) st = pp_h5_attr_str(&f, "/", "splits", names, err);
        if (st == PP_OK) st = pp_h5_attr_str(&f, "/", "judge", o->judge, err);
        if (st == PP_OK) st = pp_h5_attr_str(&f, "/", "policy_fingerprint", fp[0], err);
        if (st == PP_OK) st = pp_h5_attr_str(&f, "/", "baseline_fingerprint", fp[1], err);
        if (st == PP_OK) st = pp_h5_attr_f64(&f, "/", "temperature", o->gen.sample.temperature, err);
        if (st == PP_OK) st = pp_h5_attr_i64(&f, "/", "max_new_tokens", o->gen.max_new_tokens, err);
        if (st == PP_OK) st = pp_h5_attr_i64(&f, "/", "seed", (int64_t)o->gen.seed, err);
    }
    for (int s = 0; st == PP_OK && s < n_splits; s++) st = write_split(&f, &rows[s], &summary[s], err);
    /* texts: gathered to rank 0, written in the serial phase */
    char **texts[EVAL_MAX_SPLITS][2];
    memset(texts, 0, sizeof texts);
    for (int s = 0; st == PP_OK && s < n_splits; s++)
        for (int m = 0; st == PP_OK && m < 2; m++) {
            int64_t nall;
            st = pp_gather_strings(comm, rows[s].hi - rows[s].lo, (const char *const *)rows[s].text[m], &texts[s][m], &nall, err);
        }
    if (st == PP_OK) st = pp_h5_serial_begin(&f, err);
    for (int s = 0; st == PP_OK && s < n_splits && rank == 0; s++) {
        char name[96];
        prompt_set p;
        st = prompts_load(&p, prompt_paths[s], err);
        snprintf(name, sizeof name, "/%s/prompt_text", rows[s].name);
        if (st == PP_OK) st = pp_h5_write_text(&f, name, p.n, (const char *const *)p.text, err);
        snprintf(name, sizeof name, "/%s/prompt_id", rows[s].name);
        int64_t dims[1] = {p.n};
        if (st == PP_OK) st = pp_h5_write_rows(&f, name, PP_I64, 1, dims, 0, p.n, p.ids, err);
        snprintf(name, sizeof name, "/%s/policy_text", rows[s].name);
        if (st == PP_OK) st = pp_h5_write_text(&f, name, p.n, (const char *const *)texts[s][0], err);
        snprintf(name, sizeof name, "/%s/baseline_text", rows[s].name);
        if (st == PP_OK) st = pp_h5_write_text(&f, name, p.n, (const char *const *)texts[s][1], err);
        prompts_free(&p);
    }
    if (created) {
        /* the serial phase ran on rank 0 alone: agree before anything is renamed,
         * so a failure there never leaves a partial file under the final name */
        st = pp_agree(comm, st, err);
        if (st == PP_OK) st = pp_h5_commit(&f, err);
        else pp_h5_abort(&f);
    }
    /* the parts go with the committed output, or when they hold nothing
     * (then a rerun may change its options); else they wait for the rerun */
    MPI_Allreduce(MPI_IN_PLACE, &done, 1, MPI_INT64_T, MPI_SUM, comm);
    if (pd.lock.fd >= 0) {
        if (st == PP_OK || done == 0) pp_parts_remove(&pd, log);
        else pp_parts_close(&pd);
    }
    for (int s = 0; s < n_splits; s++) {
        free(texts[s][0]);
        free(texts[s][1]);
        rows_free(&rows[s]);
    }
    judge_stop(&j.j);
    for (int s = 0; s < 2; s++) {
        if (dec[s].m) decoder_free(&dec[s]);
        model_free(&models[s]);
    }
    return st;
}

void eval_print_table(FILE *f, const eval_split_summary *s, int n) {
    fprintf(f, "%-8s %5s  %-16s %-7s %-7s", "split", "n", "win rate", "ties", "flips");
    if (n > 0 && s[0].has_oracle) fprintf(f, "  %-16s %-16s", "policy acc", "baseline acc");
    fprintf(f, "\n");
    for (int i = 0; i < n; i++) {
        fprintf(f, "%-8s %5lld  %5.1f%% ± %4.1f%%  %5.1f%%  %5.1f%%", s[i].name, (long long)s[i].n, 100 * s[i].win_rate,
                100 * s[i].win_rate_se, 100 * s[i].tie_rate, 100 * s[i].flip_rate);
        if (s[i].has_oracle)
            fprintf(f, "  %5.1f%% ± %4.1f%%  %5.1f%% ± %4.1f%%", 100 * s[i].acc[0], 100 * s[i].acc_se[0],
                    100 * s[i].acc[1], 100 * s[i].acc_se[1]);
        fprintf(f, "\n");
    }
}

pp_status eval_load_summary(const char *path, eval_split_summary *out, int *n_splits, pp_err *err) {
    pp_h5 f;
    PP_TRY(pp_h5_open(&f, path, "eval", EVAL_SCHEMA_VERSION, err));
    char splits[EVAL_MAX_SPLITS * 34] = "";
    pp_status st = pp_h5_get_attr_str(&f, "/", "splits", splits, sizeof splits, err);
    int n = 0;
    for (char *save = NULL, *t = strtok_r(splits, ",", &save); st == PP_OK && t && n < EVAL_MAX_SPLITS;
         t = strtok_r(NULL, ",", &save), n++) {
        eval_split_summary *s = &out[n];
        memset(s, 0, sizeof *s);
        snprintf(s->name, sizeof s->name, "%s", t);
        char g[64];
        snprintf(g, sizeof g, "/%s", t);
        double v[8];
        const char *names[8] = {"n", "wins", "ties", "losses", "flips", "win_rate", "win_rate_se", "tie_rate"};
        for (int i = 0; st == PP_OK && i < 8; i++) st = pp_h5_get_attr_f64(&f, g, names[i], &v[i], err);
        if (st != PP_OK) break;
        s->n = (int64_t)v[0];
        s->wins = (int64_t)v[1];
        s->ties = (int64_t)v[2];
        s->losses = (int64_t)v[3];
        s->flips = (int64_t)v[4];
        s->win_rate = v[5];
        s->win_rate_se = v[6];
        s->tie_rate = v[7];
        s->flip_rate = s->n ? (double)s->flips / (double)s->n : 0;
        s->loss_rate = s->n ? (double)s->losses / (double)s->n : 0;
        if (pp_h5_has_attr(&f, g, "policy_accuracy")) {
            s->has_oracle = 1;
            const char *an[8] = {"policy_accuracy", "policy_accuracy_se", "baseline_accuracy", "baseline_accuracy_se",
                                 "policy_mean_score", "policy_mean_score_se", "baseline_mean_score", "baseline_mean_score_se"};
            double a[8];
            for (int i = 0; st == PP_OK && i < 8; i++) st = pp_h5_get_attr_f64(&f, g, an[i], &a[i], err);
            s->acc[0] = a[0];
            s->acc_se[0] = a[1];
            s->acc[1] = a[2];
            s->acc_se[1] = a[3];
            s->score[0] = a[4];
            s->score_se[0] = a[5];
            s->score[1] = a[6];
            s->score_se[1] = a[7];
        }
    }
    pp_h5_close(&f);
    *n_splits = n;
    return st;
}
