/* model_io.c - model files in HDF5 (model_io.h). */
#include "model/model_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"

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
    PP_TRY(pp_h5_attr_i64(f, "/", "head_dim", model_head_dim(c), err));
    PP_TRY(pp_h5_attr_str(f, "/", "rope_scaling", c->rope_scaling == MODEL_ROPE_LLAMA3 ? "llama3" : "none", err));
    if (c->rope_scaling == MODEL_ROPE_LLAMA3) {
        PP_TRY(pp_h5_attr_f64(f, "/", "rope_factor", c->rope_factor, err));
        PP_TRY(pp_h5_attr_f64(f, "/", "rope_low_freq_factor", c->rope_low_freq_factor, err));
        PP_TRY(pp_h5_attr_f64(f, "/", "rope_high_freq_factor", c->rope_high_freq_factor, err));
        PP_TRY(pp_h5_attr_i64(f, "/", "rope_original_max_position_embeddings", c->rope_original_max_pos, err));
    }
    /* only a reward model says so: language model files stay as they were */
    if (c->reward_head) PP_TRY(pp_h5_attr_i64(f, "/", "reward_head", 1, err));
    char fp[17];
    model_fingerprint_hex(m, fp);
    PP_TRY(pp_h5_attr_str(f, "/", "fingerprint", fp, err));
    return PP_OK;
}

/* The vocabulary as text h5dump shows: one string per token.  The byte
 * kind's raw bytes 0..255 are written as "<0xXX>" (a NUL or a lone high
 * byte is no string); pieces are otherwise stored as they are. */
static pp_status write_pieces(pp_h5 *f, const tokenizer *t, pp_err *err) {
    int64_t V = t->vocab_size, blob = t->piece_offsets[V];
    char *buf = malloc((size_t)(blob + 7 * V + 1));
    const char **strs = malloc((size_t)V * sizeof *strs);
    pp_status st = buf && strs ? PP_OK : pp_fail(err, PP_ESYS, "out of memory");
    char *o = buf;
    for (int64_t i = 0; st == PP_OK && i < V; i++) {
        size_t n = (size_t)(t->piece_offsets[i + 1] - t->piece_offsets[i]);
        const char *p = t->pieces + t->piece_offsets[i];
        strs[i] = o;
        if (t->kind == TOK_BYTE && i < 256) {
            o += sprintf(o, "<0x%02X>", (unsigned)i) + 1;
            continue;
        }
        if (memchr(p, 0, n)) st = pp_fail(err, PP_EINPUT, "%s: /tokenizer/pieces: token %lld contains a NUL byte", f->path, (long long)i);
        memcpy(o, p, n);
        o[n] = '\0';
        o += n + 1;
    }
    if (st == PP_OK) st = pp_h5_write_text(f, "/tokenizer/pieces", V, strs, err);
    free(buf);
    free(strs);
    return st;
}

/* Written in the serial phase (text datasets). */
static pp_status write_tokenizer(pp_h5 *f, const tokenizer *t, pp_err *err) {
    PP_TRY(pp_h5_group(f, "/tokenizer", err));
    PP_TRY(pp_h5_attr_str(f, "/tokenizer", "kind", tok_kind_name(t->kind), err));
    PP_TRY(pp_h5_attr_i64(f, "/tokenizer", "bos_id", t->bos_id, err));
    PP_TRY(pp_h5_attr_i64(f, "/tokenizer", "eos_id", t->eos_id, err));
    PP_TRY(pp_h5_attr_i64(f, "/tokenizer", "pad_id", t->pad_id, err));
    PP_TRY(pp_h5_attr_i64(f, "/tokenizer", "max_token_length", t->max_token_length, err));
    PP_TRY(pp_h5_attr_i64(f, "/tokenizer", "vocab_size", t->vocab_size, err));
    int64_t dv[1] = {t->vocab_size}, de[1] = {t->n_eos};
    int64_t eos[TOK_MAX_EOS];
    for (int i = 0; i < t->n_eos; i++) eos[i] = t->eos_ids[i];
    PP_TRY(write_pieces(f, t, err));
    PP_TRY(pp_h5_write_root(f, "/tokenizer/scores", PP_F32, 1, dv, t->scores, err));
    PP_TRY(pp_h5_write_root(f, "/tokenizer/eos_ids", PP_I64, 1, de, eos, err));
    size_t json_len;
    const char *json = tok_hf_json(t, &json_len), *config = tok_hf_config(t);
    if (json) {
        /* encoding needs the whole tokenizer.json: kept as it came, parsed
         * again on load */
        PP_TRY(pp_h5_write_text(f, "/tokenizer/hf_tokenizer_json", 1, &json, err));
        if (config) PP_TRY(pp_h5_write_text(f, "/tokenizer/hf_tokenizer_config", 1, &config, err));
    }
    return PP_OK;
}

static pp_status write_extra(pp_h5 *f, const model *m, const model_extra *x, pp_err *err) {
    if (x->kind) PP_TRY(pp_h5_attr_str(f, "/", "training", x->kind, err));
    for (int i = 0; i < x->n_text_attrs; i++)
        PP_TRY(pp_h5_attr_str(f, "/", x->text_attr_names[i], x->text_attr_values[i], err));
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
    if (st == PP_OK && m->chat_family[0]) st = pp_h5_attr_str(&f, "/", "chat_family", m->chat_family, err);
    if (st == PP_OK && m->chat_template) st = pp_h5_attr_str(&f, "/", "chat_template", m->chat_template, err);
    if (st == PP_OK && extra) st = write_extra(&f, m, extra, err);
    if (st == PP_OK) st = pp_h5_serial_begin(&f, err);
    if (st == PP_OK) st = write_tokenizer(&f, &m->tok, err);
    if (st != PP_OK) {
        pp_h5_abort(&f);
        return st;
    }
    return pp_h5_commit(&f, err);
}

/* head_dim and RoPE scaling (schema version 2); version 1 files have
 * neither: head size dim / n_heads, plain RoPE. */
static pp_status read_config_v2(pp_h5 *f, model_config *c, pp_err *err) {
    int64_t hd = 0;
    char scaling[32] = "none";
    if (pp_h5_has_attr(f, "/", "head_dim")) PP_TRY(pp_h5_get_attr_i64(f, "/", "head_dim", &hd, err));
    if (hd < 0 || hd > MODEL_MAX_HEAD_DIM)
        return pp_fail(err, PP_EINPUT, "%s: attribute head_dim = %lld is out of range", f->path, (long long)hd);
    /* store 0 for the llama2.c shape, so a round trip keeps the config as it was */
    c->head_dim = (c->n_heads > 0 && hd * c->n_heads == c->dim) ? 0 : (int)hd;
    if (pp_h5_has_attr(f, "/", "rope_scaling"))
        PP_TRY(pp_h5_get_attr_str(f, "/", "rope_scaling", scaling, sizeof scaling, err));
    if (!strcmp(scaling, "llama3")) {
        double factor, low, high;
        int64_t orig;
        c->rope_scaling = MODEL_ROPE_LLAMA3;
        PP_TRY(pp_h5_get_attr_f64(f, "/", "rope_factor", &factor, err));
        PP_TRY(pp_h5_get_attr_f64(f, "/", "rope_low_freq_factor", &low, err));
        PP_TRY(pp_h5_get_attr_f64(f, "/", "rope_high_freq_factor", &high, err));
        PP_TRY(pp_h5_get_attr_i64(f, "/", "rope_original_max_position_embeddings", &orig, err));
        if (orig < 1 || orig > MODEL_MAX_SEQ_LEN)
            return pp_fail(err, PP_EINPUT, "%s: attribute rope_original_max_position_embeddings = %lld is out of range",
                           f->path, (long long)orig);
        c->rope_factor = (float)factor;
        c->rope_low_freq_factor = (float)low;
        c->rope_high_freq_factor = (float)high;
        c->rope_original_max_pos = (int)orig;
    } else if (strcmp(scaling, "none") != 0) {
        return pp_fail(err, PP_EINPUT, "%s: attribute rope_scaling '%s' is not 'none' or 'llama3'", f->path, scaling);
    }
    return model_config_check(c, f->path, err);
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
    int64_t head = 0;
    if (pp_h5_has_attr(f, "/", "reward_head")) PP_TRY(pp_h5_get_attr_i64(f, "/", "reward_head", &head, err));
    if (head != 0 && head != 1)
        return pp_fail(err, PP_EINPUT, "%s: attribute reward_head = %lld is not 0 or 1", f->path, (long long)head);
    c->reward_head = (int)head;
    return read_config_v2(f, c, err);
}

/* Files before schema change: /tokenizer/pieces as one uint8 blob with
 * /tokenizer/offsets. */
static pp_status read_legacy_pieces(pp_h5 *f, int64_t V, char **pieces, int64_t **off, pp_err *err) {
    int64_t want_off[1] = {V + 1}, db[4];
    PP_TRY(pp_h5_expect(f, "/tokenizer/offsets", PP_I64, 1, want_off, NULL, err));
    PP_TRY(pp_h5_expect(f, "/tokenizer/pieces", PP_U8, 1, NULL, db, err));
    if (db[0] > V * 1024)
        return pp_fail(err, PP_EINPUT, "%s: /tokenizer/pieces is implausibly large (%lld bytes)", f->path, (long long)db[0]);
    *off = malloc((size_t)(V + 1) * sizeof **off);
    *pieces = malloc((size_t)db[0] + 1);
    if (!*off || !*pieces) return pp_fail(err, PP_ESYS, "out of memory");
    PP_TRY(pp_h5_read_all(f, "/tokenizer/offsets", PP_I64, *off, err));
    PP_TRY(pp_h5_read_all(f, "/tokenizer/pieces", PP_U8, *pieces, err));
    if ((*off)[V] != db[0])
        return pp_fail(err, PP_EINPUT, "%s: /tokenizer/offsets ends at %lld but /tokenizer/pieces has %lld bytes", f->path,
                       (long long)(*off)[V], (long long)db[0]);
    return PP_OK;
}

/* /tokenizer/pieces as V strings (the byte kind's "<0xXX>" back to bytes). */
static pp_status read_text_pieces(pp_h5 *f, tok_kind kind, int64_t V, char **pieces, int64_t **off, pp_err *err) {
    int64_t n;
    char **strs = NULL;
    PP_TRY(pp_h5_read_text(f, "/tokenizer/pieces", V, &n, &strs, err));
    int64_t blob = 0;
    for (int64_t i = 0; i < V; i++) blob += (int64_t)strlen(strs[i]);
    *off = malloc((size_t)(V + 1) * sizeof **off);
    *pieces = malloc((size_t)blob + 1);
    pp_status st = *off && *pieces ? PP_OK : pp_fail(err, PP_ESYS, "out of memory");
    int64_t o = 0;
    for (int64_t i = 0; st == PP_OK && i < V; i++) {
        (*off)[i] = o;
        unsigned b;
        if (kind == TOK_BYTE && i < 256 && sscanf(strs[i], "<0x%2X>", &b) == 1 && b == (unsigned)i) {
            (*pieces)[o++] = (char)b;
            continue;
        }
        size_t len = strlen(strs[i]);
        memcpy(*pieces + o, strs[i], len);
        o += (int64_t)len;
    }
    if (st == PP_OK) (*off)[V] = o;
    free(strs);
    return st;
}

/* The HF tokenizer: its tokenizer.json (and config) parsed again; the ids
 * stored beside them take precedence (generation_config.json's EOS ids are
 * not in the texts). */
static pp_status read_hf_tokenizer(pp_h5 *f, model *m, int bos, int pad, const char *pieces, const int64_t *off, int64_t V,
                                   pp_err *err) {
    int64_t n, de[4];
    char **json = NULL, **config = NULL;
    int64_t eos[TOK_MAX_EOS];
    int eos_ids[TOK_MAX_EOS];
    pp_status st = pp_h5_expect(f, "/tokenizer/eos_ids", PP_I64, 1, NULL, de, err);
    if (st == PP_OK && (de[0] < 1 || de[0] > TOK_MAX_EOS))
        st = pp_fail(err, PP_EINPUT, "%s: /tokenizer/eos_ids has %lld ids (1..%d)", f->path, (long long)de[0], TOK_MAX_EOS);
    if (st == PP_OK) st = pp_h5_read_all(f, "/tokenizer/eos_ids", PP_I64, eos, err);
    if (st == PP_OK) st = pp_h5_read_text(f, "/tokenizer/hf_tokenizer_json", 1, &n, &json, err);
    if (st == PP_OK && pp_h5_exists(f, "/tokenizer/hf_tokenizer_config"))
        st = pp_h5_read_text(f, "/tokenizer/hf_tokenizer_config", 1, &n, &config, err);
    for (int i = 0; st == PP_OK && i < de[0]; i++) eos_ids[i] = (int)eos[i];
    char what[PP_PATH_MAX + 40];
    snprintf(what, sizeof what, "%s: /tokenizer/hf_tokenizer_json", f->path);
    if (st == PP_OK)
        st = tok_from_hf_text(&m->tok, json[0], strlen(json[0]), config ? config[0] : NULL, bos, pad, eos_ids, (int)de[0],
                              what, err);
    /* the stored vocabulary must be the one the texts give */
    if (st == PP_OK && (m->tok.vocab_size != V || memcmp(m->tok.piece_offsets, off, (size_t)(V + 1) * sizeof *off) != 0 ||
                        memcmp(m->tok.pieces, pieces, (size_t)off[V]) != 0)) {
        tok_free(&m->tok);
        st = pp_fail(err, PP_EINPUT, "%s: /tokenizer/pieces differ from the vocabulary of /tokenizer/hf_tokenizer_json", f->path);
    }
    free(json);
    free(config);
    return st;
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
    if (!strcmp(kind, tok_kind_name(TOK_BYTE))) tk = TOK_BYTE;
    else if (!strcmp(kind, tok_kind_name(TOK_LLAMA2C))) tk = TOK_LLAMA2C;
    else if (!strcmp(kind, tok_kind_name(TOK_HF_BPE))) tk = TOK_HF_BPE;
    else return pp_fail(err, PP_EINPUT, "%s: unknown tokenizer kind '%s'", f->path, kind);
    /* an HF vocabulary may be smaller than the model's (padded) embedding */
    int64_t V = m->cfg.vocab_size, want_v[1];
    if (tk == TOK_HF_BPE) {
        PP_TRY(pp_h5_get_attr_i64(f, "/tokenizer", "vocab_size", &V, err));
        if (V < 1 || V > m->cfg.vocab_size)
            return pp_fail(err, PP_EINPUT, "%s: /tokenizer vocab_size %lld outside 1..%d (the model's)", f->path, (long long)V,
                           m->cfg.vocab_size);
    }
    want_v[0] = V;
    PP_TRY(pp_h5_expect(f, "/tokenizer/scores", PP_F32, 1, want_v, NULL, err));
    int64_t *off = NULL;
    char *pieces = NULL;
    float *scores = malloc((size_t)V * sizeof *scores);
    pp_status st = scores ? PP_OK : pp_fail(err, PP_ESYS, "out of memory");
    if (st == PP_OK) st = pp_h5_read_all(f, "/tokenizer/scores", PP_F32, scores, err);
    if (st == PP_OK)
        st = pp_h5_exists(f, "/tokenizer/offsets") ? read_legacy_pieces(f, V, &pieces, &off, err)
                                                   : read_text_pieces(f, tk, V, &pieces, &off, err);
    if (st == PP_OK && tk == TOK_HF_BPE) {
        st = read_hf_tokenizer(f, m, (int)bos, (int)pad, pieces, off, V, err);
    } else if (st == PP_OK) {
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

/* The optional chat attributes: a family prefpipe renders, and the
 * template text it was chosen from. */
static pp_status read_chat(pp_h5 *f, model *m, pp_err *err) {
    if (pp_h5_has_attr(f, "/", "chat_family")) {
        chat_family fam;
        PP_TRY(pp_h5_get_attr_str(f, "/", "chat_family", m->chat_family, sizeof m->chat_family, err));
        if (chat_family_parse(m->chat_family, &fam, err) != PP_OK)
            return pp_fail(err, PP_EINPUT, "%s: attribute chat_family '%s' is not one of %s", f->path, m->chat_family,
                           CHAT_FAMILY_LIST);
    }
    if (!pp_h5_has_attr(f, "/", "chat_template")) return PP_OK;
    char *text = malloc(MODEL_CHAT_TEMPLATE_MAX + 1);
    if (!text) return pp_fail(err, PP_ESYS, "out of memory");
    pp_status st = pp_h5_get_attr_str(f, "/", "chat_template", text, MODEL_CHAT_TEMPLATE_MAX + 1, err);
    if (st == PP_OK && strlen(text) == MODEL_CHAT_TEMPLATE_MAX)
        st = pp_fail(err, PP_EINPUT, "%s: attribute chat_template is longer than %d bytes", f->path, MODEL_CHAT_TEMPLATE_MAX);
    if (st == PP_OK && !(m->chat_template = strdup(text))) st = pp_fail(err, PP_ESYS, "out of memory");
    free(text);
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
    if (st == PP_OK) st = read_chat(&f, m, err);
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
