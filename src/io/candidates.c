/* candidates.c - candidate sets in memory and the candidates file (candidates.h). */
#include "io/candidates.h"
#include "core/pp_gather.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/pp_mpi.h"
#include "io/pp_jsonl.h"

#define CANDIDATES_FINISH_NAME(id, name) name,
static const char *const finish_names[] = {CANDIDATES_FINISH_REASONS(CANDIDATES_FINISH_NAME)};
#undef CANDIDATES_FINISH_NAME
const pp_enum candidates_finish_enum = {"finish reason", FINISH_N, finish_names};

/* ------------------------------------------------------------- building */

/* realloc *p to n elements, zeroing the new part (old_n..n). */
static int resize(void **p, int64_t old_n, int64_t n, size_t elem) {
    void *q = realloc(*p, (size_t)(n > 0 ? n : 1) * elem);
    if (!q) return -1;
    if (n > old_n) memset((char *)q + (size_t)old_n * elem, 0, (size_t)(n - old_n) * elem);
    *p = q;
    return 0;
}

static int64_t grown(int64_t cap, int64_t need) {
    int64_t c = cap > 0 ? cap : 16;
    while (c < need) c *= 2;
    return c;
}

static char *copy_str(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s);
    char *c = malloc(n + 1);
    if (c) memcpy(c, s, n + 1);
    return c;
}

pp_status candidates_init(candidate_set *s, int64_t k, pp_err *err) {
    memset(s, 0, sizeof *s);
    s->k = k;
    s->prompt_token_offsets = calloc(1, sizeof(int64_t));
    s->candidate_token_offsets = calloc(1, sizeof(int64_t));
    if (!s->prompt_token_offsets || !s->candidate_token_offsets) {
        candidates_free(s);
        return pp_fail(err, PP_ESYS, "out of memory for a candidate set");
    }
    return PP_OK;
}

static void free_strs(char **v, int64_t n) {
    if (!v) return;
    for (int64_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

void candidates_free(candidate_set *s) {
    free(s->prompt_id);
    free_strs(s->prompt_text, s->n_prompts);
    free_strs(s->family, s->n_prompts);
    free_strs(s->reference, s->n_prompts);
    free_strs(s->prompt_rendered, s->n_prompts);
    free(s->prompt_token_offsets);
    free(s->prompt_tokens);
    free(s->candidate_token_offsets);
    free(s->candidate_tokens);
    free_strs(s->candidate_text, s->n_candidates);
    free(s->candidate_logp);
    free(s->candidate_length);
    free(s->finish_reason);
    memset(s, 0, sizeof *s);
}

static pp_status grow_tokens(int32_t **v, int64_t *cap, int64_t used, int64_t need, pp_err *err) {
    if (used + need <= *cap) return PP_OK;
    int64_t c = grown(*cap, used + need);
    if (resize((void **)v, *cap, c, sizeof **v)) return pp_fail(err, PP_ESYS, "out of memory for %lld tokens", (long long)c);
    *cap = c;
    return PP_OK;
}

pp_status candidates_add_prompt(candidate_set *s, int64_t prompt_id, const char *text, const char *family,
                                const char *reference, const int *tokens, int n_tokens, pp_err *err) {
    if (s->n_candidates != s->n_prompts * s->k)
        return pp_fail(err, PP_ESYS, "candidate set: prompt %lld added before the previous one has its %lld candidates",
                       (long long)prompt_id, (long long)s->k);
    int64_t n = s->n_prompts;
    if (n + 1 > s->cap_prompts) {
        int64_t c = grown(s->cap_prompts, n + 1), o = s->cap_prompts;
        if (resize((void **)&s->prompt_id, o, c, sizeof *s->prompt_id) ||
            resize((void **)&s->prompt_text, o, c, sizeof *s->prompt_text) ||
            resize((void **)&s->family, o, c, sizeof *s->family) ||
            resize((void **)&s->reference, o, c, sizeof *s->reference) ||
            resize((void **)&s->prompt_rendered, o, c, sizeof *s->prompt_rendered) ||
            resize((void **)&s->prompt_token_offsets, o + 1, c + 1, sizeof *s->prompt_token_offsets))
            return pp_fail(err, PP_ESYS, "out of memory for %lld prompts", (long long)c);
        s->cap_prompts = c;
    }
    int64_t used = s->prompt_token_offsets[n];
    PP_TRY(grow_tokens(&s->prompt_tokens, &s->cap_prompt_tokens, used, n_tokens, err));
    for (int i = 0; i < n_tokens; i++) s->prompt_tokens[used + i] = tokens[i];
    s->prompt_id[n] = prompt_id;
    s->prompt_text[n] = copy_str(text ? text : "");
    s->family[n] = copy_str(family);
    s->reference[n] = copy_str(reference);
    s->prompt_rendered[n] = NULL;
    s->prompt_token_offsets[n + 1] = used + n_tokens;
    s->n_prompts = n + 1;
    s->file_n_prompts = s->n_prompts;
    if (!s->prompt_text[n] || (family && !s->family[n]) || (reference && !s->reference[n]))
        return pp_fail(err, PP_ESYS, "out of memory copying prompt %lld", (long long)prompt_id);
    return PP_OK;
}

pp_status candidates_set_rendered(candidate_set *s, const char *rendered, pp_err *err) {
    if (s->n_prompts == 0 || !rendered) return PP_OK;
    free(s->prompt_rendered[s->n_prompts - 1]);
    if (!(s->prompt_rendered[s->n_prompts - 1] = copy_str(rendered)))
        return pp_fail(err, PP_ESYS, "out of memory copying a rendered prompt");
    return PP_OK;
}

pp_status candidates_add_candidate(candidate_set *s, const int *tokens, int n_tokens, const char *text,
                                   double logp, int finish_reason, pp_err *err) {
    int64_t c = s->n_candidates;
    if (c + 1 > s->n_prompts * s->k)
        return pp_fail(err, PP_ESYS, "candidate set: more than %lld candidates for prompt row %lld", (long long)s->k,
                       (long long)(s->n_prompts - 1));
    if (c + 1 > s->cap_candidates) {
        int64_t cap = grown(s->cap_candidates, c + 1), o = s->cap_candidates;
        if (resize((void **)&s->candidate_token_offsets, o + 1, cap + 1, sizeof *s->candidate_token_offsets) ||
            resize((void **)&s->candidate_text, o, cap, sizeof *s->candidate_text) ||
            resize((void **)&s->candidate_logp, o, cap, sizeof *s->candidate_logp) ||
            resize((void **)&s->candidate_length, o, cap, sizeof *s->candidate_length) ||
            resize((void **)&s->finish_reason, o, cap, sizeof *s->finish_reason))
            return pp_fail(err, PP_ESYS, "out of memory for %lld candidates", (long long)cap);
        s->cap_candidates = cap;
    }
    int64_t used = s->candidate_token_offsets[c];
    PP_TRY(grow_tokens(&s->candidate_tokens, &s->cap_candidate_tokens, used, n_tokens, err));
    for (int i = 0; i < n_tokens; i++) s->candidate_tokens[used + i] = tokens[i];
    s->candidate_token_offsets[c + 1] = used + n_tokens;
    s->candidate_text[c] = copy_str(text ? text : "");
    s->candidate_logp[c] = logp;
    s->candidate_length[c] = n_tokens;
    s->finish_reason[c] = finish_reason;
    s->n_candidates = c + 1;
    if (!s->candidate_text[c]) return pp_fail(err, PP_ESYS, "out of memory copying a candidate text");
    return PP_OK;
}

pp_status candidates_append(candidate_set *dst, const candidate_set *src, pp_err *err) {
    if (dst->k != src->k)
        return pp_fail(err, PP_ESYS, "candidate sets with k = %lld and %lld cannot be joined", (long long)dst->k,
                       (long long)src->k);
    int *buf = NULL;
    int64_t cap = 0;
    pp_status st = PP_OK;
    for (int64_t p = 0; st == PP_OK && p < src->n_prompts; p++) {
        for (int64_t j = -1; st == PP_OK && j < src->k; j++) {
            int64_t n;
            const int32_t *t = j < 0 ? candidates_prompt_tokens(src, p, &n) : candidates_tokens(src, p * src->k + j, &n);
            if (n > cap) {
                cap = grown(cap, n);
                int *q = realloc(buf, (size_t)cap * sizeof *buf);
                if (!q) {
                    st = pp_fail(err, PP_ESYS, "out of memory joining candidate sets");
                    break;
                }
                buf = q;
            }
            for (int64_t i = 0; i < n; i++) buf[i] = t[i];
            if (j < 0)
                st = candidates_add_prompt(dst, src->prompt_id[p], src->prompt_text[p],
                                           src->family ? src->family[p] : NULL,
                                           src->reference ? src->reference[p] : NULL, buf, (int)n, err);
            if (j < 0 && st == PP_OK && src->prompt_rendered && src->prompt_rendered[p] && src->prompt_rendered[p][0])
                st = candidates_set_rendered(dst, src->prompt_rendered[p], err);
            else if (j >= 0) {
                int64_t c = p * src->k + j;
                st = candidates_add_candidate(dst, buf, (int)n, src->candidate_text[c], src->candidate_logp[c],
                                              src->finish_reason[c], err);
            }
        }
    }
    free(buf);
    return st;
}

/* -------------------------------------------------------------- reading */

/* Rows [row0, row0 + n) of a 1-D variable-length text dataset of file_n
 * entries, each copied into its own malloc. */
static pp_status read_text_rows(pp_h5 *f, const char *name, int64_t file_n, int64_t row0, int64_t n, char ***out,
                                pp_err *err) {
    *out = NULL;
    int64_t want[1] = {file_n}, dims[4];
    int nd;
    PP_TRY(pp_h5_dims(f, name, &nd, dims, err));
    if (nd != 1 || dims[0] != want[0])
        return pp_fail(err, PP_EINPUT, "%s: text dataset %s has %lld entries, expected %lld", f->path, name,
                       (long long)(nd == 1 ? dims[0] : -1), (long long)file_n);
    PP_TRY(pp_h5_check_stored(f, name, err));
    char **v = calloc((size_t)(n > 0 ? n : 1), sizeof *v);
    char **raw = calloc((size_t)(n > 0 ? n : 1), sizeof *raw);
    if (!v || !raw) {
        free(v);
        free(raw);
        return pp_fail(err, PP_ESYS, "out of memory reading %s", name);
    }
    hid_t d = H5Dopen2(f->id, name, H5P_DEFAULT);
    hid_t ty = H5Dget_type(d);
    int is_text = H5Tget_class(ty) == H5T_STRING && H5Tis_variable_str(ty) > 0;
    H5Tclose(ty);
    pp_status st = PP_OK;
    if (!is_text) st = pp_fail(err, PP_EINPUT, "%s: dataset %s is not variable-length text", f->path, name);
    if (st == PP_OK && n > 0) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5T_CSET_UTF8);
        hid_t fs = H5Dget_space(d);
        hsize_t start = (hsize_t)row0, count = (hsize_t)n;
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL);
        hid_t ms = H5Screate_simple(1, &count, NULL);
        if (H5Dread(d, mt, ms, fs, H5P_DEFAULT, raw) < 0)
            st = pp_fail(err, PP_EINPUT, "%s: cannot read text dataset %s (damaged file?)", f->path, name);
        for (int64_t i = 0; st == PP_OK && i < n; i++)
            if (!(v[i] = copy_str(raw[i] ? raw[i] : ""))) st = pp_fail(err, PP_ESYS, "out of memory reading %s", name);
        for (int64_t i = 0; i < n; i++)
            if (raw[i]) H5free_memory(raw[i]);
        H5Sclose(ms);
        H5Sclose(fs);
        H5Tclose(mt);
    }
    H5Dclose(d);
    free(raw);
    if (st != PP_OK) {
        free_strs(v, n);
        return st;
    }
    *out = v;
    return PP_OK;
}

/* Offsets rows [row0, row0 + n + 1) of an offsets dataset of file_rows + 1
 * entries into a token array of `total` entries: never decreasing, inside
 * [0, total], 0 at row 0 and `total` at the last row.  Rebased to start at 0;
 * *base receives the first token row. */
static pp_status read_offsets(pp_h5 *f, const char *name, int64_t file_rows, int64_t total, int64_t row0, int64_t n,
                              int64_t **out, int64_t *base, pp_err *err) {
    int64_t want[1] = {file_rows + 1};
    PP_TRY(pp_h5_expect(f, name, PP_I64, 1, want, NULL, err));
    int64_t *o = malloc((size_t)(n + 1) * sizeof *o);
    if (!o) return pp_fail(err, PP_ESYS, "out of memory reading %s", name);
    pp_status st = pp_h5_read_rows(f, name, PP_I64, row0, n + 1, o, err);
    for (int64_t i = 0; st == PP_OK && i <= n; i++) {
        if (o[i] < 0 || o[i] > total || (i > 0 && o[i] < o[i - 1]))
            st = pp_fail(err, PP_EINPUT, "%s: dataset %s: offset %lld = %lld is out of order or outside 0..%lld", f->path,
                         name, (long long)(row0 + i), (long long)o[i], (long long)total);
    }
    if (st == PP_OK && row0 == 0 && o[0] != 0)
        st = pp_fail(err, PP_EINPUT, "%s: dataset %s must start at 0", f->path, name);
    if (st == PP_OK && row0 + n == file_rows && o[n] != total)
        st = pp_fail(err, PP_EINPUT, "%s: dataset %s ends at %lld but the tokens hold %lld entries", f->path, name,
                     (long long)o[n], (long long)total);
    if (st != PP_OK) {
        free(o);
        return st;
    }
    *base = o[0];
    for (int64_t i = n; i >= 0; i--) o[i] -= o[0];
    *out = o;
    return PP_OK;
}

/* Token rows [base, base + n) of a 1-D int32 dataset, each checked < vocab. */
static pp_status read_tokens(pp_h5 *f, const char *name, int64_t base, int64_t n, int64_t vocab, int32_t **out,
                             pp_err *err) {
    int32_t *t = malloc((size_t)(n > 0 ? n : 1) * sizeof *t);
    if (!t) return pp_fail(err, PP_ESYS, "out of memory for %lld tokens of %s", (long long)n, name);
    pp_status st = pp_h5_read_rows(f, name, PP_I32, base, n, t, err);
    for (int64_t i = 0; st == PP_OK && i < n; i++)
        if (t[i] < 0 || t[i] >= vocab)
            st = pp_fail(err, PP_EINPUT, "%s: dataset %s: token %lld = %d is outside the vocabulary (size %lld)", f->path,
                         name, (long long)(base + i), t[i], (long long)vocab);
    if (st != PP_OK) {
        free(t);
        return st;
    }
    *out = t;
    return PP_OK;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static pp_status read_header(pp_h5 *f, candidate_set *s, int64_t *n_file, pp_err *err) {
    const char *path = f->path;
    int64_t nc = 0;
    PP_TRY(pp_h5_get_attr_i64(f, "/", "n_prompts", n_file, err));
    PP_TRY(pp_h5_get_attr_i64(f, "/", "k", &s->k, err));
    PP_TRY(pp_h5_get_attr_i64(f, "/", "n_candidates", &nc, err));
    if (*n_file < 0 || s->k < 1 || s->k > (1 << 20))
        return pp_fail(err, PP_EINPUT, "%s: attributes n_prompts = %lld, k = %lld are out of range", path,
                       (long long)*n_file, (long long)s->k);
    if (*n_file > INT64_MAX / s->k / 2 || nc != *n_file * s->k)
        return pp_fail(err, PP_EINPUT, "%s: attribute n_candidates = %lld is not n_prompts * k = %lld * %lld", path,
                       (long long)nc, (long long)*n_file, (long long)s->k);
    PP_TRY(pp_h5_get_attr_str(f, "/", "model_fingerprint", s->model_fingerprint, sizeof s->model_fingerprint, err));
    PP_TRY(pp_h5_get_attr_str(f, "/", "tokenizer", s->tokenizer, sizeof s->tokenizer, err));
    PP_TRY(pp_h5_get_attr_i64(f, "/", "vocab_size", &s->vocab_size, err));
    PP_TRY(pp_h5_get_attr_f64(f, "/", "temperature", &s->temperature, err));
    PP_TRY(pp_h5_get_attr_f64(f, "/", "top_p", &s->top_p, err));
    PP_TRY(pp_h5_get_attr_i64(f, "/", "top_k", &s->top_k, err));
    PP_TRY(pp_h5_get_attr_i64(f, "/", "max_new_tokens", &s->max_new_tokens, err));
    PP_TRY(pp_h5_get_attr_i64(f, "/", "seed", &s->seed, err));
    if (s->vocab_size < 1 || s->vocab_size > (1 << 24))
        return pp_fail(err, PP_EINPUT, "%s: attribute vocab_size = %lld is out of range", path, (long long)s->vocab_size);
    if (s->max_new_tokens < 1)
        return pp_fail(err, PP_EINPUT, "%s: attribute max_new_tokens = %lld is below 1", path,
                       (long long)s->max_new_tokens);
    pp_h5_opt_attr_str(f, "/", "source", s->source, sizeof s->source, s->source);
    pp_h5_opt_attr_str(f, "/", "suite", s->suite, sizeof s->suite, s->suite);
    pp_h5_opt_attr_str(f, "/", "split", s->split, sizeof s->split, s->split);
    return PP_OK;
}

static pp_status load_body(pp_h5 *f, candidate_set *s, int64_t N, int64_t first, int64_t count, pp_err *err) {
    const char *path = f->path;
    int64_t k = s->k, NC = N * k, c0 = first * k, nc = count * k;
    int64_t pt_dims[4], ct_dims[4], want_n[1] = {N}, want_nc[1] = {NC}, any[1] = {-1};
    PP_TRY(pp_h5_expect(f, "/prompt_id", PP_I64, 1, want_n, NULL, err));
    PP_TRY(pp_h5_expect(f, "/prompt_tokens", PP_I32, 1, any, pt_dims, err));
    PP_TRY(pp_h5_expect(f, "/candidate_tokens", PP_I32, 1, any, ct_dims, err));
    PP_TRY(pp_h5_expect(f, "/candidate_logp", PP_F64, 1, want_nc, NULL, err));
    PP_TRY(pp_h5_expect(f, "/candidate_length", PP_I32, 1, want_nc, NULL, err));
    PP_TRY(pp_h5_expect(f, "/finish_reason", PP_I32, 1, want_nc, NULL, err));

    int64_t pbase, cbase;
    PP_TRY(read_offsets(f, "/prompt_token_offsets", N, pt_dims[0], first, count, &s->prompt_token_offsets, &pbase, err));
    PP_TRY(read_offsets(f, "/candidate_token_offsets", NC, ct_dims[0], c0, nc, &s->candidate_token_offsets, &cbase,
                        err));
    PP_TRY(read_tokens(f, "/prompt_tokens", pbase, s->prompt_token_offsets[count], s->vocab_size, &s->prompt_tokens,
                       err));
    PP_TRY(read_tokens(f, "/candidate_tokens", cbase, s->candidate_token_offsets[nc], s->vocab_size,
                       &s->candidate_tokens, err));

    size_t np_ = (size_t)(count > 0 ? count : 1), nc_ = (size_t)(nc > 0 ? nc : 1);
    s->prompt_id = malloc(np_ * sizeof *s->prompt_id);
    s->candidate_logp = malloc(nc_ * sizeof *s->candidate_logp);
    s->candidate_length = malloc(nc_ * sizeof *s->candidate_length);
    s->finish_reason = malloc(nc_ * sizeof *s->finish_reason);
    if (!s->prompt_id || !s->candidate_logp || !s->candidate_length || !s->finish_reason)
        return pp_fail(err, PP_ESYS, "out of memory reading %s", path);
    PP_TRY(pp_h5_read_rows(f, "/prompt_id", PP_I64, first, count, s->prompt_id, err));
    PP_TRY(pp_h5_read_rows(f, "/candidate_logp", PP_F64, c0, nc, s->candidate_logp, err));
    PP_TRY(pp_h5_read_rows(f, "/candidate_length", PP_I32, c0, nc, s->candidate_length, err));
    PP_TRY(pp_h5_read_rows(f, "/finish_reason", PP_I32, c0, nc, s->finish_reason, err));

    PP_TRY(read_text_rows(f, "/prompt_text", N, first, count, &s->prompt_text, err));
    PP_TRY(read_text_rows(f, "/candidate_text", NC, c0, nc, &s->candidate_text, err));
    if (pp_h5_exists(f, "/family")) PP_TRY(read_text_rows(f, "/family", N, first, count, &s->family, err));
    if (pp_h5_exists(f, "/reference")) PP_TRY(read_text_rows(f, "/reference", N, first, count, &s->reference, err));
    if (pp_h5_exists(f, "/prompt_rendered"))
        PP_TRY(read_text_rows(f, "/prompt_rendered", N, first, count, &s->prompt_rendered, err));

    for (int64_t c = 0; c < nc; c++) {
        int64_t len = s->candidate_token_offsets[c + 1] - s->candidate_token_offsets[c];
        if (s->candidate_length[c] != len)
            return pp_fail(err, PP_EINPUT, "%s: dataset /candidate_length: candidate %lld says %d tokens, offsets say %lld",
                           path, (long long)(c0 + c), s->candidate_length[c], (long long)len);
        if (s->finish_reason[c] < 0 || s->finish_reason[c] >= FINISH_N)
            return pp_fail(err, PP_EINPUT, "%s: dataset /finish_reason: candidate %lld has %d (must be 0 to %d)", path,
                           (long long)(c0 + c), s->finish_reason[c], FINISH_N - 1);
        if (!isfinite(s->candidate_logp[c]))
            return pp_fail(err, PP_EINPUT, "%s: dataset /candidate_logp: candidate %lld is not finite", path,
                           (long long)(c0 + c));
    }
    int64_t *sorted = malloc(np_ * sizeof *sorted);
    if (!sorted) return pp_fail(err, PP_ESYS, "out of memory reading %s", path);
    memcpy(sorted, s->prompt_id, (size_t)count * sizeof *sorted);
    qsort(sorted, (size_t)count, sizeof *sorted, cmp_i64);
    pp_status st = PP_OK;
    for (int64_t i = 0; st == PP_OK && i < count; i++)
        if (sorted[i] < 0 || (i > 0 && sorted[i] == sorted[i - 1]))
            st = pp_fail(err, PP_EINPUT, "%s: dataset /prompt_id: id %lld is negative or repeated", path,
                         (long long)sorted[i]);
    free(sorted);
    return st;
}

pp_status candidates_load_range(candidate_set *s, const char *path, int64_t first, int64_t count, pp_err *err) {
    memset(s, 0, sizeof *s);
    pp_h5 f;
    PP_TRY(pp_h5_open(&f, path, "candidates", CANDIDATES_SCHEMA_VERSION, err));
    int64_t N = 0;
    pp_status st = read_header(&f, s, &N, err);
    if (st == PP_OK) {
        if (count < 0) count = N - first;
        if (first < 0 || count < 0 || first > N || count > N - first)
            st = pp_fail(err, PP_EINPUT, "%s: prompts [%lld, %lld) requested, the file has %lld", path, (long long)first,
                         (long long)(first + count), (long long)N);
    }
    if (st == PP_OK) {
        /* n_prompts/n_candidates are set first so candidates_free frees the
         * right number of strings whatever was read */
        s->n_prompts = count;
        s->n_candidates = count * s->k;
        s->first_row = first;
        s->file_n_prompts = N;
        st = load_body(&f, s, N, first, count, err);
    }
    pp_h5_close(&f);
    if (st != PP_OK) candidates_free(s);
    return st;
}

pp_status candidates_load(candidate_set *s, const char *path, pp_err *err) {
    return candidates_load_range(s, path, 0, -1, err);
}

pp_status candidates_count(const char *path, int64_t *n_prompts, int64_t *k, pp_err *err) {
    pp_h5 f;
    PP_TRY(pp_h5_open(&f, path, "candidates", CANDIDATES_SCHEMA_VERSION, err));
    candidate_set hdr;
    memset(&hdr, 0, sizeof hdr);
    pp_status st = read_header(&f, &hdr, n_prompts, err);
    *k = hdr.k;
    pp_h5_close(&f);
    return st;
}

/* -------------------------------------------------------------- writing */

static pp_status write_text_gathered(pp_h5 *f, MPI_Comm comm, const char *name, char *const *strs, int64_t n,
                                     int64_t n_total, pp_err *err) {
    char **all;
    int64_t n_all;
    pp_status st = pp_gather_strings(comm, n, (const char *const *)strs, &all, &n_all, err);
    if (st == PP_OK) st = pp_h5_write_text(f, name, n_total, (const char *const *)all, err);
    free(all);
    return st;
}

/* offsets of this rank's rows made global; the last rank adds the end */
static int64_t *global_offsets(const int64_t *local, int64_t n, int64_t base, int last) {
    int64_t *g = malloc((size_t)(n + 1) * sizeof *g);
    if (!g) return NULL;
    for (int64_t i = 0; i < n + last; i++) g[i] = base + local[i];
    return g;
}

static pp_status write_header(pp_h5 *f, const candidate_set *s, int64_t N, const char *const *extra, pp_err *err) {
    PP_TRY(pp_h5_attr_i64(f, "/", "n_prompts", N, err));
    PP_TRY(pp_h5_attr_i64(f, "/", "k", s->k, err));
    PP_TRY(pp_h5_attr_i64(f, "/", "n_candidates", N * s->k, err));
    PP_TRY(pp_h5_attr_str(f, "/", "model_fingerprint", s->model_fingerprint, err));
    PP_TRY(pp_h5_attr_str(f, "/", "tokenizer", s->tokenizer, err));
    PP_TRY(pp_h5_attr_i64(f, "/", "vocab_size", s->vocab_size, err));
    PP_TRY(pp_h5_attr_f64(f, "/", "temperature", s->temperature, err));
    PP_TRY(pp_h5_attr_f64(f, "/", "top_p", s->top_p, err));
    PP_TRY(pp_h5_attr_i64(f, "/", "top_k", s->top_k, err));
    PP_TRY(pp_h5_attr_i64(f, "/", "max_new_tokens", s->max_new_tokens, err));
    PP_TRY(pp_h5_attr_i64(f, "/", "seed", s->seed, err));
    if (s->source[0]) PP_TRY(pp_h5_attr_str(f, "/", "source", s->source, err));
    if (s->suite[0]) PP_TRY(pp_h5_attr_str(f, "/", "suite", s->suite, err));
    if (s->split[0]) PP_TRY(pp_h5_attr_str(f, "/", "split", s->split, err));
    for (int i = 0; extra && extra[i] && extra[i + 1]; i += 2) PP_TRY(pp_h5_attr_str(f, "/", extra[i], extra[i + 1], err));
    return PP_OK;
}

pp_status candidates_write(const candidate_set *s, const char *path, MPI_Comm comm, const pp_provenance *prov,
                           const char *const *extra_attrs, pp_err *err) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int last = rank == size - 1;
    int64_t np = s->n_prompts, nc = s->n_candidates;
    int64_t npt = s->prompt_token_offsets ? s->prompt_token_offsets[np] : 0;
    int64_t nct = s->candidate_token_offsets ? s->candidate_token_offsets[nc] : 0;
    int has_family = 0, has_reference = 0, has_rendered = 0;
    for (int64_t p = 0; p < np; p++) {
        if (s->family && s->family[p]) has_family = 1;
        if (s->reference && s->reference[p]) has_reference = 1;
        if (s->prompt_rendered && s->prompt_rendered[p]) has_rendered = 1;
    }
    /* where this rank's rows start (exclusive prefix sums) and the totals */
    int64_t mine[7] = {np, nc, npt, nct, has_family, has_reference, has_rendered}, before[4] = {0, 0, 0, 0}, total[7];
    MPI_Exscan(mine, before, 4, MPI_INT64_T, MPI_SUM, comm);
    if (rank == 0) memset(before, 0, sizeof before);
    MPI_Allreduce(mine, total, 4, MPI_INT64_T, MPI_SUM, comm);
    MPI_Allreduce(mine + 4, total + 4, 3, MPI_INT64_T, MPI_MAX, comm);
    int64_t N = total[0], NC = total[1];

    pp_status st = PP_OK;
    if (nc != np * s->k) st = pp_fail(err, PP_ESYS, "%s: %lld candidates for %lld prompts with k = %lld", path,
                                      (long long)nc, (long long)np, (long long)s->k);
    int64_t *poff = NULL, *coff = NULL;
    if (st == PP_OK) {
        poff = global_offsets(s->prompt_token_offsets, np, before[2], last);
        coff = global_offsets(s->candidate_token_offsets, nc, before[3], last);
        if (!poff || !coff) st = pp_fail(err, PP_ESYS, "out of memory writing %s", path);
    }
    st = pp_agree(comm, st, err);
    if (st != PP_OK) {
        free(poff);
        free(coff);
        return st;
    }

    pp_h5 f;
    st = pp_h5_create(&f, path, comm, "candidates", CANDIDATES_SCHEMA_VERSION, prov, err);
    if (st == PP_OK) {
        int64_t d_n[1] = {N}, d_n1[1] = {N + 1}, d_c[1] = {NC}, d_c1[1] = {NC + 1};
        int64_t d_pt[1] = {total[2]}, d_ct[1] = {total[3]};
        st = write_header(&f, s, N, extra_attrs, err);
        if (st == PP_OK) st = pp_h5_write_rows(&f, "/prompt_id", PP_I64, 1, d_n, before[0], np, s->prompt_id, err);
        if (st == PP_OK)
            st = pp_h5_write_rows(&f, "/prompt_token_offsets", PP_I64, 1, d_n1, before[0], np + last, poff, err);
        if (st == PP_OK) st = pp_h5_write_rows(&f, "/prompt_tokens", PP_I32, 1, d_pt, before[2], npt, s->prompt_tokens, err);
        if (st == PP_OK)
            st = pp_h5_write_rows(&f, "/candidate_token_offsets", PP_I64, 1, d_c1, before[1], nc + last, coff, err);
        if (st == PP_OK)
            st = pp_h5_write_rows(&f, "/candidate_tokens", PP_I32, 1, d_ct, before[3], nct, s->candidate_tokens, err);
        if (st == PP_OK) st = pp_h5_write_rows(&f, "/candidate_logp", PP_F64, 1, d_c, before[1], nc, s->candidate_logp, err);
        if (st == PP_OK)
            st = pp_h5_write_rows(&f, "/candidate_length", PP_I32, 1, d_c, before[1], nc, s->candidate_length, err);
        if (st == PP_OK) st = pp_h5_write_enum_rows(&f, "/finish_reason", &candidates_finish_enum, 1, d_c, before[1], nc,
                                       s->finish_reason, err);
        /* texts: variable-length strings go through rank 0 alone, which
         * writes them while the others wait; agree after each step */
        if (st == PP_OK) st = pp_agree(comm, pp_h5_serial_begin(&f, err), err);
        if (st == PP_OK) st = pp_agree(comm, write_text_gathered(&f, comm, "/prompt_text", s->prompt_text, np, N, err), err);
        if (st == PP_OK && total[4])
            st = pp_agree(comm, write_text_gathered(&f, comm, "/family", s->family, np, N, err), err);
        if (st == PP_OK && total[5])
            st = pp_agree(comm, write_text_gathered(&f, comm, "/reference", s->reference, np, N, err), err);
        if (st == PP_OK && total[6])
            st = pp_agree(comm, write_text_gathered(&f, comm, "/prompt_rendered", s->prompt_rendered, np, N, err), err);
        if (st == PP_OK)
            st = pp_agree(comm, write_text_gathered(&f, comm, "/candidate_text", s->candidate_text, nc, NC, err), err);
        if (st == PP_OK) st = pp_h5_commit(&f, err);
        else pp_h5_abort(&f);
    }
    free(poff);
    free(coff);
    return st;
}

/* ---------------------------------------------------------------- JSONL */

/* Prompt p and its k candidates as one JSON object. */
static json_t *prompt_json(const void *ctx, int64_t p) {
    const candidate_set *s = ctx;
    json_t *o = json_object(), *texts = json_array(), *logps = json_array(), *reasons = json_array();
    int bad = !o || !texts || !logps || !reasons;
    for (int64_t j = 0; !bad && j < s->k; j++) {
        int64_t c = p * s->k + j;
        int r = s->finish_reason[c];
        bad = json_array_append_new(texts, pp_json_text(s->candidate_text[c])) ||
              json_array_append_new(logps, json_real(s->candidate_logp[c])) ||
              json_array_append_new(reasons, json_string(r >= 0 && r < FINISH_N ? finish_names[r] : "?"));
    }
    if (!bad)
        bad = json_object_set_new(o, "prompt_id", json_integer(s->prompt_id[p])) ||
              json_object_set_new(o, "prompt", pp_json_text(s->prompt_text[p])) ||
              json_object_set(o, "responses", texts) || json_object_set(o, "logps", logps) ||
              json_object_set(o, "finish_reasons", reasons);
    json_decref(texts);
    json_decref(logps);
    json_decref(reasons);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

pp_status candidates_write_jsonl(const candidate_set *s, const char *path, pp_err *err) {
    return pp_jsonl_write_rows(path, s->n_prompts, prompt_json, s, err);
}
