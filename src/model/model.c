/* model.c - configuration checks, flat-buffer layout, tensor table, init. */
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pp_rng.h"

pp_status model_config_check(const model_config *c, const char *what, pp_err *err) {
#define BAD(...) return pp_fail(err, PP_EINPUT, __VA_ARGS__)
    if (c->dim <= 0 || c->dim > 65536) BAD("%s: dim %d out of range", what, c->dim);
    if (c->hidden_dim <= 0 || c->hidden_dim > 262144) BAD("%s: hidden_dim %d out of range", what, c->hidden_dim);
    if (c->n_layers <= 0 || c->n_layers > 1024) BAD("%s: n_layers %d out of range", what, c->n_layers);
    if (c->n_heads <= 0 || c->n_heads > 4096) BAD("%s: n_heads %d out of range", what, c->n_heads);
    if (c->head_dim < 0 || c->head_dim > MODEL_MAX_HEAD_DIM) BAD("%s: head_dim %d out of range", what, c->head_dim);
    if (c->head_dim == 0 && c->dim % c->n_heads != 0)
        BAD("%s: n_heads %d does not divide dim %d (and no head_dim is given)", what, c->n_heads, c->dim);
    if (c->n_kv_heads <= 0 || c->n_heads % c->n_kv_heads != 0)
        BAD("%s: n_kv_heads %d does not divide n_heads %d", what, c->n_kv_heads, c->n_heads);
    if (model_head_dim(c) % 2 != 0) BAD("%s: head size %d is odd (RoPE needs pairs)", what, model_head_dim(c));
    if (model_head_dim(c) > MODEL_MAX_HEAD_DIM)
        BAD("%s: head size %d is above %d", what, model_head_dim(c), MODEL_MAX_HEAD_DIM);
    if (c->vocab_size <= 0 || c->vocab_size > 1 << 22) BAD("%s: vocab_size %d out of range", what, c->vocab_size);
    if (c->seq_len <= 0 || c->seq_len > MODEL_MAX_SEQ_LEN)
        BAD("%s: seq_len %d out of range (1 to %d)", what, c->seq_len, MODEL_MAX_SEQ_LEN);
    /* the negated tests also catch NaN; isfinite catches a double that
     * overflowed float when read */
    if (!(c->norm_eps > 0 && c->norm_eps < 1)) BAD("%s: norm_eps %g out of range (0 to 1, exclusive)", what, c->norm_eps);
    if (!(isfinite(c->rope_theta) && c->rope_theta > 1 && c->rope_theta <= 1e9f))
        BAD("%s: rope_theta %g out of range (above 1, at most 1e9)", what, c->rope_theta);
    if (c->rope_scaling != MODEL_ROPE_PLAIN && c->rope_scaling != MODEL_ROPE_LLAMA3)
        BAD("%s: rope scaling kind %d unknown", what, c->rope_scaling);
    if (c->rope_scaling == MODEL_ROPE_LLAMA3 &&
        !(c->rope_factor >= 1 && c->rope_factor <= 1024 && c->rope_low_freq_factor > 0 &&
          c->rope_high_freq_factor > c->rope_low_freq_factor && c->rope_high_freq_factor <= 1024 &&
          c->rope_original_max_pos > 0 && c->rope_original_max_pos <= MODEL_MAX_SEQ_LEN))
        BAD("%s: llama3 rope scaling (factor %g, low_freq_factor %g, high_freq_factor %g, "
            "original_max_position_embeddings %d) out of range",
            what, c->rope_factor, c->rope_low_freq_factor, c->rope_high_freq_factor, c->rope_original_max_pos);
    double n = (double)model_param_count(c);
    if (n > 4e9) BAD("%s: %.0f parameters is more than this engine holds", what, n);
#undef BAD
    return PP_OK;
}

pp_status model_parse_arch(const char *spec, model_config *c, pp_err *err) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) return pp_fail(err, PP_EINPUT, "--arch: expected key=value, got '%s'", tok);
        *eq = '\0';
        char *end;
        long v = strtol(eq + 1, &end, 10);
        if (*end || end == eq + 1 || v < 0 || v > (1 << 24))
            return pp_fail(err, PP_EINPUT, "--arch: %s wants a non-negative integer, not '%s'", tok, eq + 1);
        if (!strcmp(tok, "dim")) c->dim = (int)v;
        else if (!strcmp(tok, "layers")) c->n_layers = (int)v;
        else if (!strcmp(tok, "heads")) c->n_heads = (int)v;
        else if (!strcmp(tok, "kv-heads") || !strcmp(tok, "kv_heads")) c->n_kv_heads = (int)v;
        else if (!strcmp(tok, "hidden")) c->hidden_dim = (int)v;
        else if (!strcmp(tok, "seq-len") || !strcmp(tok, "seq_len")) c->seq_len = (int)v;
        else if (!strcmp(tok, "tied")) c->tied_embeddings = v != 0;
        else if (!strcmp(tok, "head-dim") || !strcmp(tok, "head_dim")) c->head_dim = (int)v;
        else return pp_fail(err, PP_EINPUT, "--arch: unknown key '%s' (dim, layers, heads, kv-heads, head-dim, hidden, seq-len, tied)", tok);
    }
    return PP_OK;
}

/* Sizes of the stacked kinds, in layout order. */
#define N_KINDS 13
static void kind_sizes(const model_config *c, size_t s[N_KINDS]) {
    size_t d = c->dim, L = c->n_layers, hd = model_head_dim(c);
    size_t q = c->n_heads * hd, kv = c->n_kv_heads * hd, h = c->hidden_dim, V = c->vocab_size;
    s[0] = V * d;      /* embed */
    s[1] = L * d;      /* attn_norm */
    s[2] = L * q * d;  /* wq */
    s[3] = L * kv * d; /* wk */
    s[4] = L * kv * d; /* wv */
    s[5] = L * d * q;  /* wo */
    s[6] = L * d;      /* ffn_norm */
    s[7] = L * h * d;  /* w_gate */
    s[8] = L * d * h;  /* w_down */
    s[9] = L * h * d;  /* w_up */
    s[10] = d;         /* final_norm */
    s[11] = c->tied_embeddings ? 0 : V * d; /* lm_head */
    s[12] = c->reward_head ? d : 0;         /* reward_head, last: a language model's layout is unchanged */
}

void model_rope_freqs(const model_config *c, float *freq) {
    int hd = model_head_dim(c);
    for (int i = 0; i < hd / 2; i++) {
        /* float exponent and powf, as llama2.c's run.c forms it, so imported
         * llama2.c models give run.c's bits */
        float f = 1.0f / powf(c->rope_theta, (float)(2 * i) / (float)hd);
        if (c->rope_scaling == MODEL_ROPE_LLAMA3) {
            /* Llama 3.1: long wavelengths slow down by `factor`, short ones
             * stay, the band between is blended linearly in 1/wavelength. */
            double two_pi = 6.283185307179586, wavelen = two_pi / f, old = c->rope_original_max_pos;
            double low_wavelen = old / c->rope_low_freq_factor, high_wavelen = old / c->rope_high_freq_factor;
            if (wavelen > low_wavelen) f = f / c->rope_factor;
            else if (wavelen >= high_wavelen) {
                double smooth = (old / wavelen - c->rope_low_freq_factor) /
                                (c->rope_high_freq_factor - c->rope_low_freq_factor);
                f = (float)((1.0 - smooth) * f / c->rope_factor + smooth * f);
            }
        }
        freq[i] = f;
    }
}

size_t model_param_count(const model_config *c) {
    size_t s[N_KINDS], n = 0;
    kind_sizes(c, s);
    for (int i = 0; i < N_KINDS; i++) n += s[i];
    return n;
}

void model_point(model_tensors *t, float *base, const model_config *c) {
    size_t s[N_KINDS];
    kind_sizes(c, s);
    float **ptrs[N_KINDS] = {&t->embed, &t->attn_norm, &t->wq,   &t->wk,         &t->wv,      &t->wo,         &t->ffn_norm,
                             &t->w_gate, &t->w_down,  &t->w_up, &t->final_norm, &t->lm_head, &t->reward_head};
    float *p = base;
    for (int i = 0; i < N_KINDS; i++) {
        *ptrs[i] = p;
        p += s[i];
    }
    if (c->tied_embeddings) t->lm_head = t->embed;
    if (!c->reward_head) t->reward_head = NULL;
}

int model_tensor_count(const model_config *c) {
    return 2 + 9 * c->n_layers + (c->tied_embeddings ? 0 : 1) + (c->reward_head ? 1 : 0);
}

static void add_tensor(tensor_info **out, const char *name, int rank, int64_t d0, int64_t d1,
                       size_t offset, int is_matrix, int is_embedding) {
    tensor_info *t = (*out)++;
    snprintf(t->name, sizeof t->name, "%s", name);
    t->rank = rank;
    t->dims[0] = d0;
    t->dims[1] = rank == 2 ? d1 : 1;
    t->offset = offset;
    t->count = (size_t)d0 * (size_t)(rank == 2 ? d1 : 1);
    t->is_matrix = is_matrix;
    t->is_embedding = is_embedding;
}

void model_tensor_table(const model_config *c, tensor_info *out) {
    size_t s[N_KINDS], start[N_KINDS], off = 0;
    kind_sizes(c, s);
    for (int i = 0; i < N_KINDS; i++) {
        start[i] = off;
        off += s[i];
    }
    int64_t d = c->dim, hd = model_head_dim(c), L = c->n_layers;
    int64_t q = c->n_heads * hd, kv = c->n_kv_heads * hd, h = c->hidden_dim;
    char name[80];
    add_tensor(&out, "model.embed_tokens.weight", 2, c->vocab_size, d, start[0], 0, 1);
    for (int64_t l = 0; l < L; l++) {
#define LAYER(kind_idx, suffix, rank, d0, d1, mat)                                  \
    snprintf(name, sizeof name, "model.layers.%d." suffix, (int)l);                 \
    add_tensor(&out, name, rank, d0, d1, start[kind_idx] + (size_t)l * (s[kind_idx] / L), mat, 0)
        LAYER(1, "input_layernorm.weight", 1, d, 1, 0);
        LAYER(2, "self_attn.q_proj.weight", 2, q, d, 1);
        LAYER(3, "self_attn.k_proj.weight", 2, kv, d, 1);
        LAYER(4, "self_attn.v_proj.weight", 2, kv, d, 1);
        LAYER(5, "self_attn.o_proj.weight", 2, d, q, 1);
        LAYER(6, "post_attention_layernorm.weight", 1, d, 1, 0);
        LAYER(7, "mlp.gate_proj.weight", 2, h, d, 1);
        LAYER(8, "mlp.down_proj.weight", 2, d, h, 1);
        LAYER(9, "mlp.up_proj.weight", 2, h, d, 1);
#undef LAYER
    }
    add_tensor(&out, "model.norm.weight", 1, d, 1, start[10], 0, 0);
    if (!c->tied_embeddings) add_tensor(&out, "lm_head.weight", 2, c->vocab_size, d, start[11], 1, 0);
    if (c->reward_head) add_tensor(&out, "reward_head.weight", 1, d, 1, start[12], 0, 0);
}

pp_status model_alloc(model *m, const model_config *cfg, pp_err *err) {
    memset(m, 0, sizeof *m);
    PP_TRY(model_config_check(cfg, "model config", err));
    m->cfg = *cfg;
    m->n_params = model_param_count(cfg);
    m->params = calloc(m->n_params, sizeof(float));
    if (!m->params)
        return pp_fail(err, PP_ESYS, "out of memory for %zu parameters", m->n_params);
    model_point(&m->w, m->params, cfg);
    return PP_OK;
}

void model_init_random(model *m, uint64_t seed) {
    const model_config *c = &m->cfg;
    int n = model_tensor_count(c);
    tensor_info *tab = malloc((size_t)n * sizeof *tab);
    if (!tab) return;
    model_tensor_table(c, tab);
    float out_scale = 1.0f / sqrtf(2.0f * (float)c->n_layers);
    for (int i = 0; i < n; i++) {
        float *p = m->params + tab[i].offset;
        if (!strcmp(tab[i].name, "reward_head.weight")) continue; /* zeros: every reward 0 at the start */
        if (tab[i].rank == 1) { /* norm gains */
            for (size_t j = 0; j < tab[i].count; j++) p[j] = 1.0f;
            continue;
        }
        pp_rng r = pp_rng_stream(seed, 0x11117ULL, (uint64_t)i);
        float std = 0.02f;
        if (strstr(tab[i].name, "o_proj") || strstr(tab[i].name, "down_proj")) std *= out_scale;
        for (size_t j = 0; j < tab[i].count; j++) p[j] = std * (float)pp_rng_normal(&r);
    }
    free(tab);
    m->fingerprint = model_fingerprint(m);
}

uint64_t model_params_hash(const model *m) {
    uint64_t h = 0x6A09E667F3BCC908ULL ^ m->n_params;
    const uint32_t *u = (const uint32_t *)m->params;
    /* mix 64 bits at a time: fast enough to run at every checkpoint */
    size_t n = m->n_params, i = 0;
    for (; i + 1 < n; i += 2) h = pp_hash64(h ^ ((uint64_t)u[i] | (uint64_t)u[i + 1] << 32));
    if (i < n) h = pp_hash64(h ^ u[i]);
    return h;
}

/* Fold n bytes into h, 8 at a time (the tail zero-padded). */
static uint64_t hash_bytes(uint64_t h, const void *data, size_t n) {
    const unsigned char *b = data;
    h = pp_hash64(h ^ n);
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = 0;
        memcpy(&w, b + i, n - i < 8 ? n - i : 8);
        h = pp_hash64(h ^ w);
    }
    return h;
}

uint64_t model_fingerprint(const model *m) {
    const model_config *c = &m->cfg;
    /* Every value that changes what the model computes: two files with the
     * same tensors but other heads, RoPE base, epsilon or vocabulary must not
     * share caches or run keys. */
    int64_t ints[] = {c->dim,        c->hidden_dim, c->n_layers,   c->n_heads,       c->n_kv_heads,
                      c->vocab_size, c->seq_len,    c->tied_embeddings};
    float floats[] = {c->norm_eps, c->rope_theta};
    uint64_t h = model_params_hash(m);
    h = hash_bytes(h, ints, sizeof ints);
    h = hash_bytes(h, floats, sizeof floats);
    /* head_dim and RoPE scaling join the hash only when they change what a
     * llama2.c-shaped model computes, so fingerprints of files written
     * before these fields existed still match */
    if (model_q_dim(c) != c->dim) {
        int64_t hd = model_head_dim(c);
        h = hash_bytes(h, &hd, sizeof hd);
    }
    if (c->rope_scaling != MODEL_ROPE_PLAIN) {
        float scaling[] = {(float)c->rope_scaling, c->rope_factor, c->rope_low_freq_factor, c->rope_high_freq_factor,
                           (float)c->rope_original_max_pos};
        h = hash_bytes(h, scaling, sizeof scaling);
    }
    const tokenizer *t = &m->tok;
    int64_t tints[] = {t->kind, t->vocab_size, t->bos_id, t->eos_id, t->pad_id, t->max_token_length};
    h = hash_bytes(h, tints, sizeof tints);
    if (t->piece_offsets) { /* NULL until a tokenizer is attached (model_init_random) */
        h = hash_bytes(h, t->piece_offsets, (size_t)(t->vocab_size + 1) * sizeof *t->piece_offsets);
        h = hash_bytes(h, t->pieces, (size_t)t->piece_offsets[t->vocab_size]);
        h = hash_bytes(h, t->scores, (size_t)t->vocab_size * sizeof *t->scores);
    }
    /* an HF tokenizer encodes by its whole tokenizer.json (normalizer,
     * regexes, merges), not only by its vocabulary */
    size_t json_len;
    const char *json = tok_hf_json(t, &json_len);
    if (json) h = hash_bytes(h, json, json_len);
    return h;
}

pp_status model_check_finite(const model *m, const char *what, pp_err *err) {
    int n = model_tensor_count(&m->cfg);
    tensor_info tab_small[64];
    tensor_info *tab = n <= 64 ? tab_small : malloc((size_t)n * sizeof *tab);
    if (!tab) return pp_fail(err, PP_ESYS, "out of memory");
    model_tensor_table(&m->cfg, tab);
    pp_status st = PP_OK;
    for (int i = 0; i < n && st == PP_OK; i++) {
        const float *p = m->params + tab[i].offset;
        for (size_t j = 0; j < tab[i].count; j++)
            if (!isfinite(p[j])) {
                st = pp_fail(err, PP_EINPUT, "%s: tensor %s has a non-finite value at element %zu",
                             what, tab[i].name, j);
                break;
            }
    }
    if (tab != tab_small) free(tab);
    return st;
}

void model_free(model *m) {
    if (m->params_node.have_win) pp_node_shared_free(&m->params_node);
    else free(m->params);
    free(m->chat_template);
    tok_free(&m->tok);
    memset(m, 0, sizeof *m);
}

pp_status model_add_reward_head(model *m, pp_err *err) {
    if (m->cfg.reward_head) return PP_OK;
    model_config c = m->cfg;
    c.reward_head = 1;
    size_t n = model_param_count(&c);
    float *p = realloc(m->params, n * sizeof *p);
    if (!p) return pp_fail(err, PP_ESYS, "out of memory for a reward head");
    memset(p + m->n_params, 0, (n - m->n_params) * sizeof *p);
    m->params = p;
    m->n_params = n;
    m->cfg = c;
    model_point(&m->w, m->params, &m->cfg);
    m->fingerprint = model_fingerprint(m);
    return PP_OK;
}

pp_status model_extend_context(model *m, int n, const char *option, const char *what, pp_err *err) {
    if (n < m->cfg.seq_len)
        return pp_fail(err, PP_EINPUT, "%s %d is shorter than the context of %s (%d): a context can only grow", option, n,
                       what, m->cfg.seq_len);
    m->cfg.seq_len = n;
    PP_TRY(model_config_check(&m->cfg, what, err));
    m->fingerprint = model_fingerprint(m);
    return PP_OK;
}

void model_rope_tables(const model_config *c, int n_pos, float *cos_out, float *sin_out) {
    int hd = model_head_dim(c), half = hd / 2;
    float freqs[MODEL_MAX_HEAD_DIM / 2];
    model_rope_freqs(c, freqs);
    for (int p = 0; p < n_pos; p++)
        for (int i = 0; i < half; i++) {
            /* RoPE angles exactly as run.c forms them: float product of the
             * position and the frequency, then cosf/sinf */
            float angle = (float)p * freqs[i];
            cos_out[(size_t)p * half + i] = cosf(angle);
            sin_out[(size_t)p * half + i] = sinf(angle);
        }
}
