/* hf.c - Hugging Face Llama-family checkpoints in and out (see hf.h). */
#include "model/hf.h"

#include "chat/chat.h"

#include "core/pp_text.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- config.json ------------------------------------------------------------- */

/* Architectures seen in the wild that this engine does not compute, and
 * what in them differs from Llama. */
static const struct {
    const char *arch, *why;
} refused_archs[] = {
    {"Qwen2ForCausalLM", "q/k/v biases"},
    {"Qwen3ForCausalLM", "per-head q/k norms"},
    {"GemmaForCausalLM", "GeGLU, scaled embeddings and (1 + w) norms"},
    {"Gemma2ForCausalLM", "GeGLU, logit soft-capping and extra norms"},
    {"MixtralForCausalLM", "mixture-of-experts feed-forward"},
    {"Phi3ForCausalLM", "fused qkv and gate/up projections"},
    {"PhiForCausalLM", "LayerNorm, GELU and partial rotary embeddings"},
    {"GPT2LMHeadModel", "learned positions, LayerNorm and GELU"},
    {"GPTNeoXForCausalLM", "parallel residual and LayerNorm"},
    {"OlmoForCausalLM", "non-parametric LayerNorm"},
    {"StableLmForCausalLM", "LayerNorm and partial rotary embeddings"},
};

/* An integer field: absent or null gives dflt (required: an error). */
static pp_status get_int(json_t *cfg, const char *path, const char *key, int required, long dflt, long lo, long hi,
                         int *out, pp_err *err) {
    json_t *v = json_object_get(cfg, key);
    if (!v || json_is_null(v)) {
        if (required) return pp_fail(err, PP_EINPUT, "%s: %s is missing", path, key);
        *out = (int)dflt;
        return PP_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return pp_fail(err, PP_EINPUT, "%s: %s is not an integer from %ld to %ld", path, key, lo, hi);
    *out = (int)json_integer_value(v);
    return PP_OK;
}

static pp_status get_float(json_t *cfg, const char *path, const char *key, double dflt, float *out, pp_err *err) {
    json_t *v = json_object_get(cfg, key);
    if (!v || json_is_null(v)) {
        *out = (float)dflt;
        return PP_OK;
    }
    if (!json_is_number(v)) return pp_fail(err, PP_EINPUT, "%s: %s is not a number", path, key);
    *out = (float)json_number_value(v);
    return PP_OK;
}

/* A boolean option the engine does not have must be absent or false. */
static pp_status refuse_true(json_t *cfg, const char *path, const char *key, const char *why, pp_err *err) {
    json_t *v = json_object_get(cfg, key);
    if (v && !json_is_null(v) && !json_is_false(v))
        return pp_fail(err, PP_EINPUT, "%s: %s is set: %s is not supported", path, key, why);
    return PP_OK;
}

static pp_status check_architecture(json_t *cfg, const char *path, char arch[64], pp_err *err) {
    json_t *a = json_object_get(cfg, "architectures");
    const char *name = json_string_value(json_array_get(a, 0));
    if (!json_is_array(a) || json_array_size(a) != 1 || !name)
        return pp_fail(err, PP_EINPUT, "%s: architectures must list one architecture", path);
    snprintf(arch, 64, "%s", name);
    if (!strcmp(name, "LlamaForCausalLM") || !strcmp(name, "MistralForCausalLM")) return PP_OK;
    for (size_t i = 0; i < sizeof refused_archs / sizeof refused_archs[0]; i++)
        if (!strcmp(name, refused_archs[i].arch))
            return pp_fail(err, PP_EINPUT, "%s: architecture %s is not supported (%s)", path, name, refused_archs[i].why);
    return pp_fail(err, PP_EINPUT, "%s: architecture %.60s is not supported (only LlamaForCausalLM and MistralForCausalLM)",
                   path, pp_text_shown(name, "(unprintable)"));
}

/* rope_scaling: null, type "default", or type "llama3" with its four fields. */
static pp_status read_rope_scaling(json_t *cfg, const char *path, model_config *c, pp_err *err) {
    json_t *rs = json_object_get(cfg, "rope_scaling");
    if (!rs || json_is_null(rs)) return PP_OK;
    if (!json_is_object(rs)) return pp_fail(err, PP_EINPUT, "%s: rope_scaling is not an object", path);
    const char *type = json_string_value(json_object_get(rs, "rope_type"));
    if (!type) type = json_string_value(json_object_get(rs, "type"));
    if (!type) return pp_fail(err, PP_EINPUT, "%s: rope_scaling has no rope_type", path);
    if (!strcmp(type, "default")) return PP_OK;
    if (strcmp(type, "llama3") != 0)
        return pp_fail(err, PP_EINPUT, "%s: rope_scaling type %.40s is not supported (only llama3)", path,
                       pp_text_shown(type, "(unprintable)"));
    c->rope_scaling = MODEL_ROPE_LLAMA3;
    const char *keys[] = {"factor", "low_freq_factor", "high_freq_factor"};
    float *dst[] = {&c->rope_factor, &c->rope_low_freq_factor, &c->rope_high_freq_factor};
    for (int i = 0; i < 3; i++) {
        if (!json_is_number(json_object_get(rs, keys[i])))
            return pp_fail(err, PP_EINPUT, "%s: rope_scaling.%s is missing", path, keys[i]);
        PP_TRY(get_float(rs, path, keys[i], 0, dst[i], err));
    }
    return get_int(rs, path, "original_max_position_embeddings", 1, 0, 1, MODEL_MAX_SEQ_LEN, &c->rope_original_max_pos,
                   err);
}

static pp_status parse_config(json_t *cfg, const char *path, int max_seq_len, model_config *c, char arch[64],
                              pp_err *err) {
    memset(c, 0, sizeof *c);
    if (!json_is_object(cfg)) return pp_fail(err, PP_EINPUT, "%s: not a JSON object", path);
    PP_TRY(check_architecture(cfg, path, arch, err));
    const char *act = json_string_value(json_object_get(cfg, "hidden_act"));
    if (act && strcmp(act, "silu") != 0)
        return pp_fail(err, PP_EINPUT, "%s: hidden_act %.40s is not supported (only silu)", path,
                       pp_text_shown(act, "(unprintable)"));
    PP_TRY(refuse_true(cfg, path, "attention_bias", "attention with biases", err));
    PP_TRY(refuse_true(cfg, path, "mlp_bias", "a feed-forward with biases", err));
    PP_TRY(get_int(cfg, path, "hidden_size", 1, 0, 1, 65536, &c->dim, err));
    PP_TRY(get_int(cfg, path, "intermediate_size", 1, 0, 1, 262144, &c->hidden_dim, err));
    PP_TRY(get_int(cfg, path, "num_hidden_layers", 1, 0, 1, 1024, &c->n_layers, err));
    PP_TRY(get_int(cfg, path, "num_attention_heads", 1, 0, 1, 4096, &c->n_heads, err));
    PP_TRY(get_int(cfg, path, "num_key_value_heads", 0, c->n_heads, 1, 4096, &c->n_kv_heads, err));
    PP_TRY(get_int(cfg, path, "vocab_size", 1, 0, 1, 1 << 22, &c->vocab_size, err));
    PP_TRY(get_int(cfg, path, "head_dim", 0, 0, 2, MODEL_MAX_HEAD_DIM, &c->head_dim, err));
    int max_pos;
    PP_TRY(get_int(cfg, path, "max_position_embeddings", 1, 0, 1, 1 << 30, &max_pos, err));
    PP_TRY(get_float(cfg, path, "rms_norm_eps", 1e-6, &c->norm_eps, err));   /* LlamaConfig's defaults */
    PP_TRY(get_float(cfg, path, "rope_theta", 10000.0, &c->rope_theta, err));
    json_t *tie = json_object_get(cfg, "tie_word_embeddings");
    if (tie && !json_is_boolean(tie)) return pp_fail(err, PP_EINPUT, "%s: tie_word_embeddings is not true or false", path);
    c->tied_embeddings = json_is_true(tie);
    PP_TRY(read_rope_scaling(cfg, path, c, err));
    /* store 0 for the llama2.c shape: one config, whichever way it came */
    if (c->head_dim > 0 && c->head_dim * c->n_heads == c->dim) c->head_dim = 0;
    if (c->head_dim == 0 && c->dim % c->n_heads != 0)
        return pp_fail(err, PP_EINPUT, "%s: num_attention_heads %d does not divide hidden_size %d and head_dim is not given",
                       path, c->n_heads, c->dim);

    c->seq_len = max_seq_len > 0 && max_seq_len < max_pos ? max_seq_len : max_pos;
    if (c->seq_len > MODEL_MAX_SEQ_LEN)
        return pp_fail(err, PP_EINPUT, "%s: max_position_embeddings %d is above %d: give --max-seq-len", path, max_pos,
                       MODEL_MAX_SEQ_LEN);
    if (!strcmp(arch, "MistralForCausalLM")) {
        int window;
        PP_TRY(get_int(cfg, path, "sliding_window", 0, 4096, 1, 1 << 30, &window, err)); /* MistralConfig's default */
        if (json_is_null(json_object_get(cfg, "sliding_window"))) window = c->seq_len;
        if (window < c->seq_len)
            return pp_fail(err, PP_EINPUT,
                           "%s: sliding_window %d is smaller than the context kept (%d); this engine attends over the "
                           "whole context: give --max-seq-len %d",
                           path, window, c->seq_len, window);
    }
    return model_config_check(c, path, err);
}

pp_status hf_read_config(const char *dir, int max_seq_len, model_config *c, char arch[64], pp_err *err) {
    char path[PP_PATH_MAX];
    snprintf(path, sizeof path, "%s/config.json", dir);
    json_t *cfg;
    PP_TRY(pp_read_json(path, 1 << 20, "config.json", JSON_REJECT_DUPLICATES, &cfg, err));
    pp_status st = parse_config(cfg, path, max_seq_len, c, arch, err);
    json_decref(cfg);
    return st;
}

/* ---- RoPE layout --------------------------------------------------------------- */

void hf_permute_rows(float *dst, const float *src, int n_heads, int hd, int cols, int to_hf) {
    int half = hd / 2;
    size_t row = (size_t)cols * sizeof(float);
    for (int h = 0; h < n_heads; h++) {
        const float *s = src + (size_t)h * hd * cols;
        float *d = dst + (size_t)h * hd * cols;
        for (int i = 0; i < half; i++) {
            /* pair layout row 2i + j  <->  half layout row i + j * half */
            for (int j = 0; j < 2; j++) {
                size_t pair = (size_t)(2 * i + j) * cols, split = (size_t)(i + j * half) * cols;
                if (to_hf) memcpy(d + split, s + pair, row);
                else memcpy(d + pair, s + split, row);
            }
        }
    }
}

/* q_proj and k_proj carry RoPE'd rows: their head count, else 0. */
static int rope_heads(const model_config *c, const char *name) {
    if (strstr(name, ".self_attn.q_proj.weight")) return c->n_heads;
    if (strstr(name, ".self_attn.k_proj.weight")) return c->n_kv_heads;
    return 0;
}

/* ---- the tokenizer: one call point each way -------------------------------------- */

static pp_status write_json(const char *path, json_t *j, pp_err *err);

/* The chat template of tokenizer_config.json (a string, or a list of named
 * templates of which "default" is taken) into the model: the text is kept
 * as data, and the family prefpipe renders it as when it is one it knows
 * (chat_detect_family); an unknown template is kept without a family, so
 * conversation prompts are refused by name later (docs/chat.md). */
static pp_status load_chat_template(model *m, const char *config_path, const pp_log *log, pp_err *err) {
    json_t *root;
    PP_TRY(pp_read_json(config_path, 1 << 26, "tokenizer_config.json", JSON_DECODE_INT_AS_REAL, &root, err));
    json_t *t = json_object_get(root, "chat_template");
    const char *text = json_string_value(t);
    for (size_t i = 0; !text && json_is_array(t) && i < json_array_size(t); i++) {
        json_t *e = json_array_get(t, i);
        if (!strcmp(json_string_value(json_object_get(e, "name")) ? json_string_value(json_object_get(e, "name")) : "",
                    "default"))
            text = json_string_value(json_object_get(e, "template"));
    }
    pp_status st = PP_OK;
    if (text) {
        m->chat_template = strdup(text);
        if (!m->chat_template) st = pp_fail(err, PP_ESYS, "out of memory");
        chat_family fam;
        pp_err quiet = {0};
        if (st == PP_OK && chat_detect_family(text, config_path, &fam, &quiet) == PP_OK)
            snprintf(m->chat_family, sizeof m->chat_family, "%s", chat_family_name(fam));
        else if (st == PP_OK && log)
            pp_warn(log, "%s: kept the chat template as text, but %s", config_path, quiet.msg);
    }
    json_decref(root);
    return st;
}

/* The tokenizer: a llama2.c tokenizer.bin when given, else the checkpoint's
 * tokenizer.json (with tokenizer_config.json and its chat template). */
static pp_status load_tokenizer(model *m, const char *dir, const char *llama2c_tokenizer, const pp_log *log,
                                pp_err *err) {
    if (llama2c_tokenizer) return tok_load_llama2c(&m->tok, llama2c_tokenizer, m->cfg.vocab_size, err);
    char path[PP_PATH_MAX], config[PP_PATH_MAX];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    snprintf(config, sizeof config, "%s/tokenizer_config.json", dir);
    if (access(path, F_OK) != 0)
        return pp_fail(err, PP_EINPUT, "%s: no tokenizer.json (give a llama2.c tokenizer with --tokenizer T.bin)", dir);
    int has_config = access(config, F_OK) == 0;
    PP_TRY(tok_load_hf(&m->tok, path, has_config ? config : NULL, err));
    if (m->tok.vocab_size > m->cfg.vocab_size)
        return pp_fail(err, PP_EINPUT, "%s: %d tokens, more than the model's vocab_size %d", path, m->tok.vocab_size,
                       m->cfg.vocab_size);
    return has_config ? load_chat_template(m, config, log, err) : PP_OK;
}

/* tokenizer.json and tokenizer_config.json (with the chat template); a byte
 * tokenizer has no tokenizer.json form: the model file keeps it. */
static pp_status save_tokenizer(const model *m, const char *dir, const pp_log *log, pp_err *err) {
    if (m->tok.kind == TOK_BYTE) {
        if (log) pp_warn(log, "%s: no tokenizer.json written: a byte-level tokenizer has none", dir);
        return PP_OK;
    }
    PP_TRY(tok_save_hf(&m->tok, dir, err));
    if (!m->chat_template) return PP_OK;
    char config[PP_PATH_MAX];
    snprintf(config, sizeof config, "%s/tokenizer_config.json", dir);
    json_t *root;
    PP_TRY(pp_read_json(config, 1 << 26, "tokenizer_config.json", JSON_DECODE_INT_AS_REAL, &root, err));
    json_object_set_new(root, "chat_template", json_string(m->chat_template));
    pp_status st = write_json(config, root, err);
    json_decref(root);
    return st;
}

/* ---- import --------------------------------------------------------------------- */

/* Every tensor of the checkpoint is one the model has, or one to ignore. */
static pp_status check_no_extra(const safetensors *s, const tensor_info *tab, int n, const char *dir, pp_err *err) {
    for (int i = 0; i < s->n_tensors; i++) {
        const char *name = s->tensors[i].name;
        int known = !strcmp(name, "lm_head.weight"); /* a tied head saved anyway is the embedding */
        for (int k = 0; k < n && !known; k++) known = !strcmp(tab[k].name, name);
        size_t len = strlen(name), tail = strlen(".rotary_emb.inv_freq");
        if (len > tail && !strcmp(name + len - tail, ".rotary_emb.inv_freq")) known = 1; /* recomputed here */
        if (!known)
            return pp_fail(err, PP_EINPUT, "%s: tensor %.80s is not part of a Llama model (biases or extra norms?)",
                           s->files[s->tensors[i].file].path, pp_text_shown(name, "(name with control characters)"));
    }
    return PP_OK;
}

/* "[a, b]" of n sizes. */
static void shape_text(char *buf, size_t cap, int n, const int64_t *dims) {
    size_t at = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < n && at < cap; i++) at += (size_t)snprintf(buf + at, cap - at, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (at < cap) snprintf(buf + at, cap - at, "]");
}

static pp_status check_shape(const safetensors *s, const st_tensor *t, const tensor_info *want, pp_err *err) {
    int same = t->ndim == want->rank && t->shape[0] == want->dims[0] && (want->rank == 1 || t->shape[1] == want->dims[1]);
    if (!same) {
        char have[128], need[64];
        shape_text(have, sizeof have, t->ndim, t->shape);
        shape_text(need, sizeof need, want->rank, want->dims);
        return pp_fail(err, PP_EINPUT, "%s: tensor %s has shape %s, config.json implies %s", s->files[t->file].path,
                       want->name, have, need);
    }
    return PP_OK;
}

/* Read every tensor of the table into m, permuting q and k. */
static pp_status read_tensors(model *m, const safetensors *s, const tensor_info *tab, int n, const char *dir,
                              const pp_log *log, hf_import_info *info, pp_err *err) {
    const model_config *c = &m->cfg;
    float *scratch = NULL;
    pp_progress prog;
    if (log) pp_progress_start(&prog, log, "import", n, 0, "tensors");
    pp_status st = PP_OK;
    for (int i = 0; i < n && st == PP_OK; i++) {
        const st_tensor *t = st_find(s, tab[i].name);
        if (!t) {
            st = pp_fail(err, PP_EINPUT, "%s: tensor %s is missing from the safetensors files", dir, tab[i].name);
            break;
        }
        if ((st = check_shape(s, t, &tab[i], err)) != PP_OK) break;
        if (!strstr(info->dtypes, st_dtype_name(t->dtype)) && strlen(info->dtypes) + 6 < sizeof info->dtypes) {
            if (info->dtypes[0]) strcat(info->dtypes, "+");
            strcat(info->dtypes, st_dtype_name(t->dtype));
        }
        float *dst = m->params + tab[i].offset;
        int heads = rope_heads(c, tab[i].name);
        if (heads == 0) {
            st_read_f32(s, t, dst);
        } else {
            if (!scratch && !(scratch = malloc((size_t)model_q_dim(c) * c->dim * sizeof *scratch)))
                st = pp_fail(err, PP_ESYS, "out of memory for one tensor of scratch");
            if (st == PP_OK) {
                st_read_f32(s, t, scratch);
                hf_permute_rows(dst, scratch, heads, model_head_dim(c), c->dim, 0);
            }
        }
        if (log) pp_progress_update(&prog, i + 1, NULL);
    }
    if (log && st == PP_OK) pp_progress_finish(&prog, n, NULL);
    free(scratch);
    return st;
}

pp_status hf_import(model *m, const hf_import_opts *o, hf_import_info *info, pp_err *err) {
    memset(m, 0, sizeof *m);
    memset(info, 0, sizeof *info);
    model_config c;
    PP_TRY(hf_read_config(o->dir, o->max_seq_len, &c, info->architecture, err));
    safetensors s;
    PP_TRY(st_open_dir(&s, o->dir, err));
    info->n_files = s.n_files;
    info->n_tensors = s.n_tensors;
    int n = model_tensor_count(&c);
    tensor_info *tab = malloc((size_t)n * sizeof *tab);
    pp_status st = tab ? PP_OK : pp_fail(err, PP_ESYS, "out of memory");
    if (st == PP_OK) {
        model_tensor_table(&c, tab);
        st = check_no_extra(&s, tab, n, o->dir, err);
    }
    if (st == PP_OK) st = model_alloc(m, &c, err);
    if (st == PP_OK) st = read_tensors(m, &s, tab, n, o->dir, o->log, info, err);
    free(tab);
    st_close(&s);
    if (st == PP_OK) st = model_check_finite(m, o->dir, err);
    if (st == PP_OK && !o->weights_only) st = load_tokenizer(m, o->dir, o->llama2c_tokenizer, o->log, err);
    if (st != PP_OK) {
        model_free(m);
        return st;
    }
    m->fingerprint = model_fingerprint(m);
    return PP_OK;
}

/* ---- export --------------------------------------------------------------------- */

/* The shortest decimal that reads back as the same float, as a JSON real
 * (1e-05, not 9.99999974737875e-06). */
static json_t *json_float(float f) {
    char buf[32];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        if (strtof(buf, NULL) == f) break;
    }
    return json_real(strtod(buf, NULL));
}

static pp_status write_json(const char *path, json_t *j, pp_err *err) {
    char tmp[PP_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int bad = json_dump_file(j, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9)) != 0;
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        return pp_fail(err, PP_ESYS, "%s: cannot write", path);
    }
    return PP_OK;
}

static json_t *config_json(const model *m, st_dtype dtype) {
    const model_config *c = &m->cfg;
    json_t *j = json_object();
    json_t *arch = json_array();
    json_array_append_new(arch, json_string("LlamaForCausalLM"));
    json_object_set_new(j, "architectures", arch);
    json_object_set_new(j, "model_type", json_string("llama"));
    json_object_set_new(j, "hidden_size", json_integer(c->dim));
    json_object_set_new(j, "intermediate_size", json_integer(c->hidden_dim));
    json_object_set_new(j, "num_hidden_layers", json_integer(c->n_layers));
    json_object_set_new(j, "num_attention_heads", json_integer(c->n_heads));
    json_object_set_new(j, "num_key_value_heads", json_integer(c->n_kv_heads));
    json_object_set_new(j, "head_dim", json_integer(model_head_dim(c)));
    json_object_set_new(j, "vocab_size", json_integer(c->vocab_size));
    json_object_set_new(j, "max_position_embeddings", json_integer(c->seq_len));
    json_object_set_new(j, "rms_norm_eps", json_float(c->norm_eps));
    json_object_set_new(j, "rope_theta", json_float(c->rope_theta));
    if (c->rope_scaling == MODEL_ROPE_LLAMA3) {
        json_t *rs = json_object();
        json_object_set_new(rs, "rope_type", json_string("llama3"));
        json_object_set_new(rs, "factor", json_float(c->rope_factor));
        json_object_set_new(rs, "low_freq_factor", json_float(c->rope_low_freq_factor));
        json_object_set_new(rs, "high_freq_factor", json_float(c->rope_high_freq_factor));
        json_object_set_new(rs, "original_max_position_embeddings", json_integer(c->rope_original_max_pos));
        json_object_set_new(j, "rope_scaling", rs);
    } else {
        json_object_set_new(j, "rope_scaling", json_null());
    }
    json_object_set_new(j, "tie_word_embeddings", json_boolean(c->tied_embeddings));
    json_object_set_new(j, "hidden_act", json_string("silu"));
    json_object_set_new(j, "attention_bias", json_false());
    json_object_set_new(j, "mlp_bias", json_false());
    json_object_set_new(j, "bos_token_id", json_integer(m->tok.bos_id));
    json_object_set_new(j, "eos_token_id", json_integer(m->tok.eos_id));
    json_object_set_new(j, "torch_dtype", json_string(dtype == ST_BF16 ? "bfloat16" : "float32"));
    return j;
}

static pp_status write_weights(const model *m, const char *path, st_dtype dtype, const pp_log *log, pp_err *err) {
    const model_config *c = &m->cfg;
    int n = model_tensor_count(c);
    tensor_info *tab = malloc((size_t)n * sizeof *tab);
    st_out_tensor *list = malloc((size_t)n * sizeof *list);
    float *scratch = malloc((size_t)model_q_dim(c) * c->dim * sizeof *scratch);
    pp_status st = tab && list && scratch ? PP_OK : pp_fail(err, PP_ESYS, "out of memory");
    st_writer w;
    if (st == PP_OK) {
        model_tensor_table(c, tab);
        for (int i = 0; i < n; i++)
            list[i] = (st_out_tensor){tab[i].name, tab[i].rank, {tab[i].dims[0], tab[i].dims[1]}};
        st = st_writer_begin(&w, path, list, n, dtype, err);
    }
    pp_progress prog;
    if (st == PP_OK && log) pp_progress_start(&prog, log, "export", n, 0, "tensors");
    for (int i = 0; st == PP_OK && i < n; i++) {
        const float *src = m->params + tab[i].offset;
        int heads = rope_heads(c, tab[i].name);
        if (heads > 0) {
            hf_permute_rows(scratch, src, heads, model_head_dim(c), c->dim, 1);
            src = scratch;
        }
        st = st_writer_put(&w, src, err); /* aborts the file itself on failure */
        if (st == PP_OK && log) pp_progress_update(&prog, i + 1, NULL);
    }
    if (st == PP_OK) st = st_writer_end(&w, err);
    if (st == PP_OK && log) pp_progress_finish(&prog, n, NULL);
    free(tab);
    free(list);
    free(scratch);
    return st;
}

pp_status hf_export(const model *m, const char *dir, st_dtype dtype, const pp_log *log, pp_err *err) {
    if (m->cfg.reward_head) /* a LlamaForCausalLM config would not say what it is */
        return pp_fail(err, PP_EINPUT, "%s: the model has a reward head (pp-rm --kind pointwise), which this export "
                       "(LlamaForCausalLM) cannot hold", dir);
    struct stat sb;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) return pp_fail(err, PP_EINPUT, "%s: cannot create directory (%s)", dir, strerror(errno));
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) return pp_fail(err, PP_EINPUT, "%s: not a directory", dir);
    char path[PP_PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/model.safetensors", dir) >= sizeof path - 32)
        return pp_fail(err, PP_EINPUT, "%s: path too long", dir);
    PP_TRY(write_weights(m, path, dtype, log, err));

    json_t *cfg = config_json(m, dtype);
    snprintf(path, sizeof path, "%s/config.json", dir);
    pp_status st = write_json(path, cfg, err);
    json_decref(cfg);
    if (st != PP_OK) return st;

    json_t *gen = json_object();
    json_object_set_new(gen, "bos_token_id", json_integer(m->tok.bos_id));
    json_object_set_new(gen, "eos_token_id", json_integer(m->tok.eos_id));
    snprintf(path, sizeof path, "%s/generation_config.json", dir);
    st = write_json(path, gen, err);
    json_decref(gen);
    if (st != PP_OK) return st;
    return save_tokenizer(m, dir, log, err);
}
