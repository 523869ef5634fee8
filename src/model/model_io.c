/* model_io.c - model files in HDF5 (model_io.h). */
#include "model/model_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void model_fingerprint_hex(const model *m, char out[17]) {
    snprintf(out, 17, "%016llx", (unsigned long long)m->fingerprint);
}

static pp_status write_config(pp_h5 *f, const model *m, pp_err *err) {
    const model_config *c = &m->cfg;
    struct {
        const char *name;
        int64_t v;
    } ints[] = {{"dim", c->dim},           {"hidden_dim", c->hidden_dim}, {"n_layers", c->n_layers},
                {"n_heads", c->n_heads},   {"n_kv_heads", c->n_kv_heads}, {"vocab_size", c->vocab_size},
                {"seq_len", c->seq_len},   {"tied_embeddings", c->tied_embeddings},
                {"n_params", (int64_t)m->n_params}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) PP_TRY(pp_h5_attr_i64(f, "/", ints[i].name, ints[i].v, err));
    PP_TRY(pp_h5_attr_f64(f, "/", "norm_eps", c->norm_eps, err));
    PP_TRY(pp_h5_attr_f64(f, "/", "rope_theta", c->rope_theta, err));
    PP_TRY(pp_h5_attr_str(f, "/", "rope_layout", "interleaved-pairs", err));
    char fp[17];
    model_fingerprint_hex(m, fp);
    PP_TRY(pp_h5_attr_str(f, "/", "fingerprint", fp, err));
    return PP_OK;
}

static pp_status write_tokenizer(pp_h5 *f, const tokenizer *t, pp_err *err) {
    PP_TRY(pp_h5_group(f, "/tokenizer", err));
    PP_TRY(pp_h5_attr_str(f, "/tokenizer", "kind", t->kind == TOK_BYTE ? "byte" : "llama2c", err));
    PP_TRY(pp_h5_attr_i64(f, "/tokenizer", "bos_id", t->bos_id, err));
    PP_TRY(pp_h5_attr_i64(f, "/tokenizer", "eos_id", t->eos_id, err));
    PP_TRY(pp_h5_attr_i64(f, "/tokenizer", "pad_id", t->pad_id, err));
    PP_TRY(pp_h5_attr_i64(f, "/tokenizer", "max_token_length", t->max_token_length, err));
    int64_t V = t->vocab_size;
    int64_t dv[1] = {V}, dv1[1] = {V + 1}, db[1] = {t->piece_offsets[V]};
    PP_TRY(pp_h5_write_root(f, "/tokenizer/offsets", PP_I64, 1, dv1, t->piece_offsets, err));
    PP_TRY(pp_h5_write_root(f, "/tokenizer/pieces", PP_U8, 1, db, t->pieces, err));
    PP_TRY(pp_h5_write_root(f, "/tokenizer/scores", PP_F32, 1, dv, t->scores, err));
    return PP_OK;
}

static pp_status write_extra(pp_h5 *f, const model *m, const model_extra *x, pp_err *err) {
    if (x->kind) PP_TRY(pp_h5_attr_str(f, "/", "training", x->kind, err));
    if (x->adam_m || x->n_attrs > 0) {
        PP_TRY(pp_h5_group(f, "/train", err));
        PP_TRY(pp_h5_attr_i64(f, "/train", "step", x->step, err));
        if (x->run_key) PP_TRY(pp_h5_attr_str(f, "/train", "run_key", x->run_key, err));
        for (int i = 0; i < x->n_attrs; i++) PP_TRY(pp_h5_attr_f64(f, "/train", x->attr_names[i], x->attr_values[i], err));
    }
    if (x->adam_m) {
        int64_t d[1] = {(int64_t)m->n_params};
        if (x->adam_count > 0) { /* every rank its slice, one collective write */
            PP_TRY(pp_h5_write_rows(f, "/train/adam_m", PP_F32, 1, d, x->adam_first, x->adam_count, x->adam_m, err));
            PP_TRY(pp_h5_write_rows(f, "/train/adam_v", PP_F32, 1, d, x->adam_first, x->adam_count, x->adam_v, err));
        } else {
            PP_TRY(pp_h5_write_root(f, "/train/adam_m", PP_F32, 1, d, x->adam_m, err));
            PP_TRY(pp_h5_write_root(f, "/train/adam_v", PP_F32, 1, d, x->adam_v, err));
        }
    }
    if (x->blob_name && x->blob) {
        int64_t d[1] = {x->blob_count};
        PP_TRY(pp_h5_write_root(f, x->blob_name, PP_F32, 1, d, x->blob, err));
    }
    if (x->n_metrics > 0) {
        PP_TRY(pp_h5_group(f, "/metrics", err));
        PP_TRY(pp_h5_attr_i64(f, "/metrics", "n_rows", x->n_rows, err));
        for (int i = 0; i < x->n_metrics; i++) {
            char name[160];
            snprintf(name, sizeof name, "/metrics/%s", x->metric_names[i]);
            int64_t d[1] = {x->n_rows};
            PP_TRY(pp_h5_write_root(f, name, PP_F64, 1, d, x->metric_values[i], err));
        }
    }
    return PP_OK;
}

pp_status model_save(const char *path, const model *m, MPI_Comm comm, const pp_provenance *prov,
                     const model_extra *extra, pp_err *err) {
    pp_h5 f;
    PP_TRY(pp_h5_create(&f, path, comm, "model", MODEL_SCHEMA_VERSION, prov, err));
    pp_status st = write_config(&f, m, err);
    if (st == PP_OK) st = pp_h5_group(&f, "/tensors", err);
    int n = model_tensor_count(&m->cfg);
    tensor_info *tab = malloc((size_t)n * sizeof *tab);
    if (!tab && st == PP_OK) st = pp_fail(err, PP_ESYS, "out of memory");
    if (tab) model_tensor_table(&m->cfg, tab);
    for (int i = 0; st == PP_OK && i < n; i++) {
        char name[128];
        snprintf(name, sizeof name, "/tensors/%s", tab[i].name);
        st = pp_h5_write_root(&f, name, PP_F32, tab[i].rank, tab[i].dims, m->params + tab[i].offset, err);
    }
    free(tab);
    if (st == PP_OK) st = write_tokenizer(&f, &m->tok, err);
    if (st == PP_OK && extra) st = write_extra(&f, m, extra, err);
    if (st != PP_OK) {
        pp_h5_abort(&f);
        return st;
    }
    return pp_h5_commit(&f, err);
}

static pp_status read_config(pp_h5 *f, model_config *c, pp_err *err) {
    int64_t v[8];
    const char *names[8] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len", "tied_embeddings"};
    for (int i = 0; i < 8; i++) {
        PP_TRY(pp_h5_get_attr_i64(f, "/", names[i], &v[i], err));
        if (v[i] < 0 || v[i] > (1 << 24))
            return pp_fail(err, PP_EINPUT, "%s: attribute %s = %lld is out of range", f->path, names[i], (long long)v[i]);
    }
    c->dim = (int)v[0];
    c->hidden_dim = (int)v[1];
    c->n_layers = (int)v[2];
    c->n_heads = (int)v[3];
    c->n_kv_heads = (int)v[4];
    c->vocab_size = (int)v[5];
    c->seq_len = (int)v[6];
    c->tied_embeddings = v[7] != 0;
    double eps, theta;
    PP_TRY(pp_h5_get_attr_f64(f, "/", "norm_eps", &eps, err));
    PP_TRY(pp_h5_get_attr_f64(f, "/", "rope_theta", &theta, err));
    c->norm_eps = (float)eps;
    c->rope_theta = (float)theta;
    return model_config_check(c, f->path, err);
}

static pp_status read_tokenizer(pp_h5 *f, model *m, pp_err *err) {
    char kind[32];
    int64_t bos, eos, pad, maxlen;
    PP_TRY(pp_h5_get_attr_str(f, "/tokenizer", "kind", kind, sizeof kind, err));
    PP_TRY(pp_h5_get_attr_i64(f, "/tokenizer", "max_token_length", &maxlen, err));
    PP_TRY(pp_h5_get_attr_i64(f, "/tokenizer", "bos_id", &bos, err));
    PP_TRY(pp_h5_get_attr_i64(f, "/tokenizer", "eos_id", &eos, err));
    PP_TRY(pp_h5_get_attr_i64(f, "/tokenizer", "pad_id", &pad, err));
    tok_kind tk;
    if (!strcmp(kind, "byte")) tk = TOK_BYTE;
    else if (!strcmp(kind, "llama2c")) tk = TOK_LLAMA2C;
    else return pp_fail(err, PP_EINPUT, "%s: unknown tokenizer kind '%s'", f->path, kind);
    int64_t V = m->cfg.vocab_size, want_off[1] = {V + 1}, want_v[1] = {V}, db[4];
    PP_TRY(pp_h5_expect(f, "/tokenizer/offsets", PP_I64, 1, want_off, NULL, err));
    PP_TRY(pp_h5_expect(f, "/tokenizer/scores", PP_F32, 1, want_v, NULL, err));
    PP_TRY(pp_h5_expect(f, "/tokenizer/pieces", PP_U8, 1, NULL, db, err));
    if (db[0] > (int64_t)V * 1024)
        return pp_fail(err, PP_EINPUT, "%s: /tokenizer/pieces is implausibly large (%lld bytes)", f->path, (long long)db[0]);
    int64_t *off = malloc((size_t)(V + 1) * sizeof *off);
    float *scores = malloc((size_t)V * sizeof *scores);
    char *pieces = malloc((size_t)db[0] + 1);
    pp_status st = (off && scores && pieces) ? PP_OK : pp_fail(err, PP_ESYS, "out of memory");
    if (st == PP_OK) st = pp_h5_read_all(f, "/tokenizer/offsets", PP_I64, off, err);
    if (st == PP_OK) st = pp_h5_read_all(f, "/tokenizer/scores", PP_F32, scores, err);
    if (st == PP_OK) st = pp_h5_read_all(f, "/tokenizer/pieces", PP_U8, pieces, err);
    if (st == PP_OK && off[V] != db[0])
        st = pp_fail(err, PP_EINPUT, "%s: /tokenizer/offsets ends at %lld but /tokenizer/pieces has %lld bytes", f->path,
                     (long long)off[V], (long long)db[0]);
    if (st == PP_OK) {
        st = tok_from_arrays(&m->tok, tk, (int)V, (int)bos, (int)eos, (int)pad, pieces, off, scores, err);
        if (st != PP_OK) pp_wrap(err, "%s: /tokenizer", f->path);
        /* llama2.c files store a bound that may exceed the longest piece */
        if (st == PP_OK && maxlen >= m->tok.max_token_length && maxlen <= 65536) m->tok.max_token_length = (int)maxlen;
    }
    free(off);
    free(scores);
    free(pieces);
    return st;
}

pp_status model_read_config(const char *path, model_config *c, pp_err *err) {
    pp_h5 f;
    memset(c, 0, sizeof *c);
    PP_TRY(pp_h5_open(&f, path, "model", MODEL_SCHEMA_VERSION, err));
    pp_status st = read_config(&f, c, err);
    pp_h5_close(&f);
    return st;
}

pp_status model_load(const char *path, model *m, pp_err *err) {
    memset(m, 0, sizeof *m);
    pp_h5 f;
    PP_TRY(pp_h5_open(&f, path, "model", MODEL_SCHEMA_VERSION, err));
    model_config c = {0};
    pp_status st = read_config(&f, &c, err);
    int n = st == PP_OK ? model_tensor_count(&c) : 0;
    tensor_info *tab = st == PP_OK ? malloc((size_t)n * sizeof *tab) : NULL;
    if (st == PP_OK && !tab) st = pp_fail(err, PP_ESYS, "out of memory");
    if (tab) model_tensor_table(&c, tab);
    /* every tensor is where the config says, stored in full, before the
     * config sizes an allocation */
    for (int i = 0; st == PP_OK && i < n; i++) {
        char name[128];
        snprintf(name, sizeof name, "/tensors/%s", tab[i].name);
        st = pp_h5_expect(&f, name, PP_F32, tab[i].rank, tab[i].dims, NULL, err);
    }
    if (st == PP_OK) st = model_alloc(m, &c, err);
    for (int i = 0; st == PP_OK && i < n; i++) {
        char name[128];
        snprintf(name, sizeof name, "/tensors/%s", tab[i].name);
        st = pp_h5_read_all(&f, name, PP_F32, m->params + tab[i].offset, err);
    }
    free(tab);
    if (st == PP_OK) st = model_check_finite(m, path, err);
    if (st == PP_OK) st = read_tokenizer(&f, m, err);
    if (st == PP_OK) {
        m->fingerprint = model_fingerprint(m);
        char want[17], have[17], legacy[17];
        model_fingerprint_hex(m, have);
        /* files written before the fingerprint covered config and tokenizer
         * store the parameter hash: still a valid damage check on the weights */
        snprintf(legacy, sizeof legacy, "%016llx", (unsigned long long)model_params_hash(m));
        if (pp_h5_get_attr_str(&f, "/", "fingerprint", want, sizeof want, err) == PP_OK && strcmp(want, have) != 0 &&
            strcmp(want, legacy) != 0)
            st = pp_fail(err, PP_EINPUT,
                         "%s: weights, config or tokenizer do not match the stored fingerprint %s (got %s): file damaged or edited",
                         path, want, have);
    }
    pp_h5_close(&f);
    if (st != PP_OK) model_free(m);
    return st;
}

pp_status model_load_train_state(const char *path, const model *m, float *adam_m, float *adam_v,
                                  size_t first, size_t count, int64_t *step, int n_attrs,
                                  const char *const *attr_names, double *attr_values, pp_err *err) {
    pp_h5 f;
    PP_TRY(pp_h5_open(&f, path, "model", MODEL_SCHEMA_VERSION, err));
    pp_status st = PP_OK;
    if (!pp_h5_exists(&f, "/train")) st = pp_fail(err, PP_EINPUT, "%s: no training state (/train)", path);
    if (st == PP_OK) st = pp_h5_get_attr_i64(&f, "/train", "step", step, err);
    int64_t want[1] = {(int64_t)m->n_params};
    if (st == PP_OK && adam_m) {
        st = pp_h5_expect(&f, "/train/adam_m", PP_F32, 1, want, NULL, err);
        if (st == PP_OK) st = pp_h5_expect(&f, "/train/adam_v", PP_F32, 1, want, NULL, err);
        if (st == PP_OK && first + count > m->n_params)
            st = pp_fail(err, PP_ESYS, "%s: moments [%zu, %zu) asked of %zu", path, first, first + count, m->n_params);
        if (st == PP_OK) st = pp_h5_read_rows(&f, "/train/adam_m", PP_F32, (int64_t)first, (int64_t)count, adam_m, err);
        if (st == PP_OK) st = pp_h5_read_rows(&f, "/train/adam_v", PP_F32, (int64_t)first, (int64_t)count, adam_v, err);
    }
    for (int i = 0; st == PP_OK && i < n_attrs; i++) st = pp_h5_get_attr_f64(&f, "/train", attr_names[i], &attr_values[i], err);
    pp_h5_close(&f);
    return st;
}

pp_status model_read_blob(const char *path, const char *name, float **out, int64_t *count, pp_err *err) {
    *out = NULL;
    *count = 0;
    pp_h5 f;
    PP_TRY(pp_h5_open(&f, path, "model", MODEL_SCHEMA_VERSION, err));
    pp_status st = PP_OK;
    if (pp_h5_exists(&f, name)) {
        int64_t d[4];
        st = pp_h5_expect(&f, name, PP_F32, 1, NULL, d, err);
        if (st == PP_OK && d[0] > ((int64_t)1 << 30)) st = pp_fail(err, PP_EINPUT, "%s: %s is implausibly large", path, name);
        if (st == PP_OK) {
            *out = malloc((size_t)(d[0] > 0 ? d[0] : 1) * sizeof **out);
            if (!*out) st = pp_fail(err, PP_ESYS, "out of memory");
        }
        if (st == PP_OK) st = pp_h5_read_all(&f, name, PP_F32, *out, err);
        if (st == PP_OK) *count = d[0];
        else {
            free(*out);
            *out = NULL;
        }
    }
    pp_h5_close(&f);
    return st;
}

pp_status model_read_series(const char *path, const char *name, double **out, int64_t *n, pp_err *err) {
    *out = NULL;
    *n = 0;
    pp_h5 f;
    PP_TRY(pp_h5_open(&f, path, "model", MODEL_SCHEMA_VERSION, err));
    pp_status st = PP_OK;
    if (pp_h5_exists(&f, name)) {
        int64_t d[4];
        st = pp_h5_expect(&f, name, PP_F64, 1, NULL, d, err);
        if (st == PP_OK && d[0] > ((int64_t)1 << 28)) st = pp_fail(err, PP_EINPUT, "%s: %s is implausibly large", path, name);
        if (st == PP_OK && !(*out = malloc((size_t)(d[0] > 0 ? d[0] : 1) * sizeof **out)))
            st = pp_fail(err, PP_ESYS, "out of memory");
        if (st == PP_OK) st = pp_h5_read_all(&f, name, PP_F64, *out, err);
        if (st == PP_OK) *n = d[0];
        else {
            free(*out);
            *out = NULL;
        }
    }
    pp_h5_close(&f);
    return st;
}
