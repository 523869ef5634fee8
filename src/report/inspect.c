/* inspect.c - generic summary of a prefpipe HDF5 file. */
#include "report/inspect.h"

#include <stdlib.h>
#include <string.h>

#include "io/candidates.h"
#include "io/pairs.h"
#include "eval/eval.h"
#include "io/pp_h5.h"
#include "io/pp_jsonl.h"
#include "suite/tasks.h"

typedef struct {
    pp_h5 *f;
    FILE *out;
    int n_items;
} walk_ctx;

static void print_items(walk_ctx *c, const char *name, hid_t d, hid_t ty, int64_t n) {
    H5T_class_t cls = H5Tget_class(ty);
    int64_t k = n < c->n_items ? n : c->n_items;
    if (k <= 0) return;
    if (cls == H5T_STRING && H5Tis_variable_str(ty) > 0) {
        char **strs;
        int64_t got;
        pp_err e;
        if (pp_h5_read_text(c->f, name, -1, &got, &strs, &e) != PP_OK) return;
        for (int64_t i = 0; i < k; i++) {
            fprintf(c->out, "      [%lld] \"", (long long)i);
            int len = 0;
            for (const char *p = strs[i]; *p && len < 160; p++, len++) {
                if (*p == '\n') fputs("\\n", c->out);
                else if (*p == '"') fputs("\\\"", c->out);
                else fputc(*p, c->out);
            }
            fprintf(c->out, "\"%s\n", strlen(strs[i]) > 160 ? "..." : "");
        }
        free(strs);
    } else if (cls == H5T_INTEGER || cls == H5T_FLOAT || cls == H5T_ENUM) {
        double v[8];
        int64_t m = k < 8 ? k : 8;
        if (pp_h5_read_rows(c->f, name, PP_F64, 0, m, v, &(pp_err){0}) != PP_OK) return;
        fprintf(c->out, "      first: ");
        for (int64_t i = 0; i < m; i++) fprintf(c->out, "%s%.6g", i ? ", " : "", v[i]);
        fprintf(c->out, "%s\n", n > m ? ", ..." : "");
    }
    (void)d;
}

static herr_t visit(hid_t obj, const char *name, const H5O_info_t *info, void *op) {
    walk_ctx *c = op;
    if (info->type != H5O_TYPE_DATASET) return 0;
    char full[512];
    snprintf(full, sizeof full, "/%s", name);
    hid_t d = H5Dopen2(obj, name, H5P_DEFAULT);
    if (d < 0) return 0;
    hid_t sp = H5Dget_space(d), ty = H5Dget_type(d);
    int nd = H5Sget_simple_extent_ndims(sp);
    hsize_t dims[H5S_MAX_RANK] = {0};
    H5Sget_simple_extent_dims(sp, dims, NULL);
    char shape[128] = "";
    for (int i = 0; i < nd; i++)
        snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%llu", i ? " x " : "", (unsigned long long)dims[i]);
    const char *tn = "other";
    H5T_class_t cls = H5Tget_class(ty);
    if (cls == H5T_STRING) tn = "text";
    else if (cls == H5T_FLOAT) tn = H5Tget_size(ty) == 4 ? "float32" : "float64";
    else if (cls == H5T_INTEGER) tn = H5Tget_size(ty) == 8 ? "int64" : H5Tget_size(ty) == 4 ? "int32" : "int8";
    else if (cls == H5T_ENUM) tn = "enum";
    fprintf(c->out, "  %-44s %-8s [%s]\n", full, tn, shape);
    if (nd == 1) print_items(c, full, d, ty, (int64_t)dims[0]);
    H5Tclose(ty);
    H5Sclose(sp);
    H5Dclose(d);
    return 0;
}

static herr_t print_attr(hid_t loc, const char *name, const H5A_info_t *info, void *op) {
    walk_ctx *c = op;
    char buf[1024];
    pp_err e;
    if (pp_h5_get_attr_str(c->f, "/", name, buf, sizeof buf, &e) == PP_OK) {
        fprintf(c->out, "  %-24s %s\n", name, buf);
        return 0;
    }
    double v;
    if (pp_h5_get_attr_f64(c->f, "/", name, &v, &e) == PP_OK) fprintf(c->out, "  %-24s %.10g\n", name, v);
    (void)loc;
    (void)info;
    return 0;
}

pp_status inspect_print(const char *path, FILE *out, int n_items, pp_err *err) {
    pp_h5 f;
    PP_TRY(pp_h5_open(&f, path, NULL, 0, err));
    char kind[64];
    int64_t version = 0;
    /* pp_h5_open checked that both exist; a failure here is a damaged file */
    pp_status st = pp_h5_get_attr_str(&f, "/", "schema", kind, sizeof kind, err);
    if (st == PP_OK) st = pp_h5_get_attr_i64(&f, "/", "schema_version", &version, err);
    if (st != PP_OK) {
        pp_h5_close(&f);
        return st;
    }
    fprintf(out, "%s: a '%s' file, schema version %lld\n", path, kind, (long long)version);
    if (!strcmp(kind, "eval")) { /* the result first: it is what the reader wants */
        eval_split_summary sum[EVAL_MAX_SPLITS];
        int n = 0;
        pp_err e2;
        if (eval_load_summary(path, sum, &n, &e2) == PP_OK) eval_print_table(out, sum, n);
    }
    walk_ctx c = {&f, out, n_items};
    fprintf(out, "attributes:\n");
    hsize_t idx = 0;
    H5Aiterate2(f.id, H5_INDEX_NAME, H5_ITER_INC, &idx, print_attr, &c);
    fprintf(out, "datasets:\n");
    H5Ovisit(f.id, H5_INDEX_NAME, H5_ITER_INC, visit, &c);
    pp_h5_close(&f);
    return PP_OK;
}

pp_status inspect_score_candidates(const char *path, FILE *out, pp_err *err) {
    candidate_set c;
    PP_TRY(candidates_load(&c, path, err));
    if (!c.reference) {
        candidates_free(&c);
        return pp_fail(err, PP_EINPUT, "%s: no /reference answers (not made from the built-in suite)", path);
    }
    double exact[TASK_N_FAMILIES + 1] = {0}, pass[TASK_N_FAMILIES + 1] = {0}, score[TASK_N_FAMILIES + 1] = {0};
    double np[TASK_N_FAMILIES + 1] = {0};
    pp_status st = PP_OK;
    for (int64_t p = 0; st == PP_OK && p < c.n_prompts; p++) {
        task_family f;
        st = tasks_family_from_name(c.family[p], &f, err);
        if (st != PP_OK) break;
        int any = 0;
        for (int64_t j = 0; j < c.k; j++) {
            const char *t = c.candidate_text[p * c.k + j];
            int e = tasks_exact(c.reference[p], t);
            double sc = tasks_score(f, c.prompt_text[p], c.reference[p], t);
            any |= e;
            exact[f] += e;
            exact[TASK_N_FAMILIES] += e;
            score[f] += sc;
            score[TASK_N_FAMILIES] += sc;
        }
        pass[f] += any;
        pass[TASK_N_FAMILIES] += any;
        np[f] += 1;
        np[TASK_N_FAMILIES] += 1;
    }
    if (st == PP_OK) {
        fprintf(out, "%s: %lld prompts x %lld candidates (temperature %g)\n", path, (long long)c.n_prompts,
                (long long)c.k, c.temperature);
        fprintf(out, "%-8s %7s %10s %8s %10s\n", "family", "prompts", "exact", "pass@k", "score");
        for (int f = 0; f <= TASK_N_FAMILIES; f++) {
            if (np[f] == 0) continue;
            fprintf(out, "%-8s %7.0f %9.1f%% %7.1f%% %10.3f\n", f == TASK_N_FAMILIES ? "all" : tasks_family_name((task_family)f),
                    np[f], 100 * exact[f] / (np[f] * (double)c.k), 100 * pass[f] / np[f], score[f] / (np[f] * (double)c.k));
        }
    }
    candidates_free(&c);
    return st;
}

/* A text dataset for --get: one line, each string JSON-quoted (so newlines
 * and quotes inside stay on the line), separated by spaces. */
static pp_status get_text_dataset(pp_h5 *f, const char *name, FILE *out, pp_err *err) {
    int64_t n;
    char **strs;
    PP_TRY(pp_h5_read_text(f, name, -1, &n, &strs, err));
    pp_status st = PP_OK;
    for (int64_t i = 0; st == PP_OK && i < n; i++) {
        json_t *j = pp_json_text(strs[i]);
        char *q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
        if (!q) st = pp_fail(err, PP_ESYS, "out of memory printing %s", name);
        else fprintf(out, "%s%s", i ? " " : "", q);
        free(q);
        json_decref(j);
    }
    free(strs);
    if (st == PP_OK) fputc('\n', out);
    return st;
}

/* A numeric dataset for --get: 1-D on one line; N-D one line per row of
 * dimension 0, the rest of the row flattened. */
static pp_status get_numeric_dataset(pp_h5 *f, const char *name, int nd, const int64_t *dims, FILE *out, pp_err *err) {
    int64_t row = 1;
    for (int i = 1; i < nd; i++) row *= dims[i];
    int64_t count = dims[0] * row;
    PP_TRY(pp_h5_check_stored(f, name, err));
    double *v = malloc((size_t)(count > 0 ? count : 1) * sizeof *v);
    if (!v) return pp_fail(err, PP_ESYS, "out of memory reading %s", name);
    pp_status st = pp_h5_read_all(f, name, PP_F64, v, err);
    for (int64_t i = 0; st == PP_OK && i < count; i++) {
        int end_of_row = nd > 1 && (i + 1) % row == 0;
        fprintf(out, "%.10g%s", v[i], end_of_row ? "\n" : i + 1 < count ? " " : "");
    }
    free(v);
    if (st == PP_OK && nd == 1) fputc('\n', out);
    return st;
}

/* One name of inspect_get: a dataset or an attribute. */
static pp_status get_one(pp_h5 *f, const char *name, FILE *out, pp_err *err) {
    char obj[520] = "/", attr[520];
    const char *slash = strrchr(name, '/');
    if (name[0] == '/' && pp_h5_exists(f, name)) {
        int nd = 0;
        int64_t dims[4];
        PP_TRY(pp_h5_dims(f, name, &nd, dims, err));
        hid_t d = H5Dopen2(f->id, name, H5P_DEFAULT), ty = H5Dget_type(d);
        H5T_class_t cls = H5Tget_class(ty);
        H5Tclose(ty);
        H5Dclose(d);
        if (cls == H5T_STRING) return get_text_dataset(f, name, out, err);
        if (cls != H5T_INTEGER && cls != H5T_FLOAT && cls != H5T_ENUM)
            return pp_fail(err, PP_EINPUT, "%s: dataset %s is neither numbers nor text", f->path, name);
        return get_numeric_dataset(f, name, nd, dims, out, err);
    }
    if (slash) {
        snprintf(obj, sizeof obj, "%s%.*s", name[0] == '/' ? "" : "/", (int)(slash - name), name);
        if (!obj[1]) snprintf(obj, sizeof obj, "/");
        snprintf(attr, sizeof attr, "%s", slash + 1);
    } else {
        snprintf(attr, sizeof attr, "%s", name);
    }
    if (!pp_h5_has_attr(f, obj, attr))
        return pp_fail(err, PP_EINPUT, "%s: no dataset or attribute named %s", f->path, name);
    double d;
    char text[4096];
    pp_err ignore;
    if (pp_h5_get_attr_f64(f, obj, attr, &d, &ignore) == PP_OK) fprintf(out, "%.10g\n", d);
    else if (pp_h5_get_attr_str(f, obj, attr, text, sizeof text, err) == PP_OK) fprintf(out, "%s\n", text);
    else return PP_EINPUT;
    return PP_OK;
}

pp_status inspect_get(const char *path, const char *names, FILE *out, pp_err *err) {
    pp_h5 f;
    PP_TRY(pp_h5_open(&f, path, NULL, 0, err));
    pp_status st = PP_OK;
    const char *p = names;
    while (st == PP_OK && *p) {
        size_t n = strcspn(p, ",");
        char name[512];
        if (n == 0 || n >= sizeof name) st = pp_fail(err, PP_EINPUT, "--get: empty or too long name in '%s'", names);
        else {
            memcpy(name, p, n);
            name[n] = '\0';
            st = get_one(&f, name, out, err);
        }
        p += n + (p[n] == ',');
    }
    pp_h5_close(&f);
    return st;
}

/* ---------------------------------------------------------------- JSONL */

/* One split of an eval file's rows. */
typedef struct {
    int64_t n;
    int64_t *id;
    char **prompt, **text[2];
    int32_t *verdict[2];
    double *outcome;
} eval_rows;

static void eval_rows_free(eval_rows *r) {
    void *all[] = {r->id, r->prompt, r->text[0], r->text[1], r->verdict[0], r->verdict[1], r->outcome};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    memset(r, 0, sizeof *r);
}

/* A numeric column /SPLIT/NAME of n rows into a new array. */
static pp_status eval_column(pp_h5 *f, const char *split, const char *name, pp_dtype t, size_t elem, int64_t n,
                             void **out, pp_err *err) {
    char full[128];
    snprintf(full, sizeof full, "/%s/%s", split, name);
    int64_t want[1] = {n};
    PP_TRY(pp_h5_expect(f, full, t, 1, want, NULL, err));
    *out = malloc((size_t)(n > 0 ? n : 1) * elem);
    if (!*out) return pp_fail(err, PP_ESYS, "out of memory reading %s", full);
    return pp_h5_read_all(f, full, t, *out, err);
}

static pp_status eval_load_rows(pp_h5 *f, const char *split, eval_rows *r, pp_err *err) {
    memset(r, 0, sizeof *r);
    char name[128];
    const char *texts[3] = {"prompt_text", "policy_text", "baseline_text"};
    char ***dst[3] = {&r->prompt, &r->text[0], &r->text[1]};
    pp_status st = PP_OK;
    for (int i = 0; st == PP_OK && i < 3; i++) {
        snprintf(name, sizeof name, "/%s/%s", split, texts[i]);
        int64_t got;
        st = pp_h5_read_text(f, name, i ? r->n : -1, &got, dst[i], err);
        if (i == 0) r->n = got;
    }
    if (st == PP_OK) st = eval_column(f, split, "prompt_id", PP_I64, sizeof(int64_t), r->n, (void **)&r->id, err);
    if (st == PP_OK)
        st = eval_column(f, split, "verdict_policy_first", PP_I32, sizeof(int32_t), r->n, (void **)&r->verdict[0], err);
    if (st == PP_OK)
        st = eval_column(f, split, "verdict_baseline_first", PP_I32, sizeof(int32_t), r->n, (void **)&r->verdict[1], err);
    if (st == PP_OK) st = eval_column(f, split, "outcome", PP_F64, sizeof(double), r->n, (void **)&r->outcome, err);
    return st;
}

static json_t *verdict_json(int32_t v) {
    return json_string(v >= 0 && v < pairs_verdict_enum.n ? pairs_verdict_enum.names[v] : "?");
}

/* Row i of a split: the prompt, both responses, both verdicts, the outcome. */
static json_t *eval_row_json(const char *split, const eval_rows *r, int64_t i) {
    json_t *o = json_object();
    if (!o) return NULL;
    int bad = json_object_set_new(o, "split", json_string(split)) ||
              json_object_set_new(o, "prompt_id", json_integer(r->id[i])) ||
              json_object_set_new(o, "prompt", pp_json_text(r->prompt[i])) ||
              json_object_set_new(o, "policy", pp_json_text(r->text[0][i])) ||
              json_object_set_new(o, "baseline", pp_json_text(r->text[1][i])) ||
              json_object_set_new(o, "verdict_policy_first", verdict_json(r->verdict[0][i])) ||
              json_object_set_new(o, "verdict_baseline_first", verdict_json(r->verdict[1][i])) ||
              json_object_set_new(o, "outcome", json_real(r->outcome[i]));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static pp_status eval_write_jsonl(pp_h5 *f, const char *out, pp_err *err) {
    char splits[1024];
    PP_TRY(pp_h5_get_attr_str(f, "/", "splits", splits, sizeof splits, err));
    pp_jsonl w;
    PP_TRY(pp_jsonl_open(&w, out, err));
    pp_status st = PP_OK;
    for (char *save = NULL, *t = strtok_r(splits, ",", &save); st == PP_OK && t; t = strtok_r(NULL, ",", &save)) {
        eval_rows r;
        st = eval_load_rows(f, t, &r, err);
        for (int64_t i = 0; st == PP_OK && i < r.n; i++) st = pp_jsonl_put(&w, eval_row_json(t, &r, i), err);
        eval_rows_free(&r);
    }
    if (st == PP_OK) return pp_jsonl_commit(&w, err);
    pp_jsonl_abort(&w);
    return st;
}

pp_status inspect_jsonl(const char *path, const char *out, pp_err *err) {
    pp_h5 f;
    PP_TRY(pp_h5_open(&f, path, NULL, 0, err));
    char kind[64];
    pp_status st = pp_h5_get_attr_str(&f, "/", "schema", kind, sizeof kind, err);
    if (st == PP_OK && !strcmp(out, path)) st = pp_fail(err, PP_EINPUT, "--jsonl %s would overwrite the file it reads", out);
    if (st == PP_OK && !strcmp(kind, "eval")) st = eval_write_jsonl(&f, out, err);
    pp_h5_close(&f);
    if (st != PP_OK || !strcmp(kind, "eval")) return st;
    if (!strcmp(kind, "pairs")) {
        pairs_set s;
        PP_TRY(pairs_load(&s, path, 0, err));
        st = pairs_write_jsonl(&s, out, err);
        pairs_free(&s);
        return st;
    }
    if (!strcmp(kind, "candidates")) {
        candidate_set c;
        PP_TRY(candidates_load(&c, path, err));
        st = candidates_write_jsonl(&c, out, err);
        candidates_free(&c);
        return st;
    }
    return pp_fail(err, PP_EINPUT, "%s: a '%s' file has no JSON-lines export (candidates, pairs and eval files have)",
                   path, kind);
}
