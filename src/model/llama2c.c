/* llama2c.c - llama2.c checkpoint reader and writer (see llama2c.h). */
#include "model/llama2c.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "llama2.c checkpoints are little-endian; this reader assumes a little-endian host"
#endif

#define V0_HEADER_BYTES 28   /* 7 int32 */
#define V1_HEADER_BYTES 256

/* One contiguous run of floats in the file, in file order. */
typedef struct {
    float *data;
    size_t count;
} segment;

static size_t rope_table_count(const model_config *c) {
    return 2 * (size_t)c->seq_len * (size_t)(model_head_dim(c) / 2);
}

/* The file order of the tensors of m for a version; `rope` stands for the
 * v0 RoPE tables.  Returns the number of segments. */
static int file_segments(const model *m, int version, float *rope, segment *seg) {
    const model_config *c = &m->cfg;
    const model_tensors *w = &m->w;
    size_t d = c->dim, L = c->n_layers, h = c->hidden_dim, V = c->vocab_size;
    size_t kv = (size_t)c->n_kv_heads * model_head_dim(c);
    segment embed = {w->embed, V * d}, attn_norm = {w->attn_norm, L * d};
    segment wq = {w->wq, L * d * d}, wk = {w->wk, L * kv * d}, wv = {w->wv, L * kv * d};
    segment wo = {w->wo, L * d * d}, ffn_norm = {w->ffn_norm, L * d};
    segment w1 = {w->w_gate, L * h * d}, w2 = {w->w_down, L * d * h}, w3 = {w->w_up, L * h * d};
    segment final_norm = {w->final_norm, d}, head = {w->lm_head, V * d};
    int n = 0;
    if (version == 0) {
        segment order[] = {embed, attn_norm, wq, wk, wv, wo, ffn_norm, w1, w2, w3, final_norm};
        for (size_t i = 0; i < sizeof order / sizeof *order; i++) seg[n++] = order[i];
        seg[n++] = (segment){rope, rope_table_count(c)};
    } else {
        segment order[] = {attn_norm, ffn_norm, final_norm, embed, wq, wk, wv, wo, w1, w2, w3};
        for (size_t i = 0; i < sizeof order / sizeof *order; i++) seg[n++] = order[i];
    }
    if (!c->tied_embeddings) seg[n++] = head;
    return n;
}

void llama2c_rope_tables(const model_config *c, float *out) {
    int hd = model_head_dim(c), half = hd / 2;
    float *cos_table = out, *sin_table = out + (size_t)c->seq_len * half;
    float freq[MODEL_MAX_HEAD_DIM / 2];
    /* export.py: 1 / theta ** (arange(0, hd, 2) / hd), all float32 */
    model_rope_freqs(c, freq);
    for (int i = 0; i < half; i++) {
        for (int t = 0; t < c->seq_len; t++) {
            float angle = (float)t * freq[i];
            cos_table[(size_t)t * half + i] = (float)cos((double)angle);
            sin_table[(size_t)t * half + i] = (float)sin((double)angle);
        }
    }
}

static int32_t read_i32(const unsigned char *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Decode and check a header; *header_bytes gets its size. */
static pp_status parse_header(const char *path, const unsigned char *buf, long long file_size,
                              model_config *cfg, int *version, size_t *header_bytes, pp_err *err) {
    if (file_size < V0_HEADER_BYTES)
        return pp_fail(err, PP_EINPUT, "%s: %lld bytes is too short for a llama2.c checkpoint header",
                       path, file_size);
    uint32_t magic;
    memcpy(&magic, buf, 4);
    const unsigned char *ints;
    int shared = 1;
    if (magic == LLAMA2C_MAGIC) {
        if (file_size < V1_HEADER_BYTES)
            return pp_fail(err, PP_EINPUT, "%s: %lld bytes is too short for a llama2.c v1 header (256 bytes)",
                           path, file_size);
        int32_t v = read_i32(buf + 4);
        if (v != 1)
            return pp_fail(err, PP_EINPUT,
                           "%s: llama2.c checkpoint version %d is not supported (only 0 and 1; 2 is int8)",
                           path, (int)v);
        ints = buf + 8;
        if (buf[36] > 1)
            return pp_fail(err, PP_EINPUT, "%s: bad llama2.c v1 header: shared_classifier flag is %d",
                           path, buf[36]);
        shared = buf[36];
        *version = 1;
        *header_bytes = V1_HEADER_BYTES;
    } else {
        ints = buf;
        *version = 0;
        *header_bytes = V0_HEADER_BYTES;
    }
    static const char *names[7] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads",
                                   "vocab_size", "seq_len"};
    int32_t h[7];
    for (int i = 0; i < 7; i++) h[i] = read_i32(ints + 4 * i);
    for (int i = 0; i < 7; i++) {
        if (i == 5 && *version == 0) continue; /* sign of v0 vocab_size is the tying flag */
        if (h[i] <= 0)
            return pp_fail(err, PP_EINPUT, "%s: bad llama2.c v%d header: %s = %d is not positive", path,
                           *version, names[i], (int)h[i]);
    }
    if (*version == 0) {
        if (h[5] == 0 || h[5] == INT32_MIN)
            return pp_fail(err, PP_EINPUT, "%s: bad llama2.c header: vocab_size = %d", path, (int)h[5]);
        shared = h[5] > 0;
        if (h[5] < 0) h[5] = -h[5];
    }
    memset(cfg, 0, sizeof *cfg);
    cfg->dim = h[0];
    cfg->hidden_dim = h[1];
    cfg->n_layers = h[2];
    cfg->n_heads = h[3];
    cfg->n_kv_heads = h[4];
    cfg->vocab_size = h[5];
    cfg->seq_len = h[6];
    cfg->tied_embeddings = shared;
    cfg->norm_eps = 1e-5f;
    cfg->rope_theta = 10000.0f;
    PP_TRY(model_config_check(cfg, path, err));

    double expect = (double)*header_bytes +
                    4.0 * ((double)model_param_count(cfg) + (*version == 0 ? (double)rope_table_count(cfg) : 0.0));
    if ((double)file_size != expect)
        return pp_fail(err, PP_EINPUT,
                       "%s: file is %lld bytes but its llama2.c v%d header (dim %d, hidden %d, layers %d, heads %d, "
                       "kv heads %d, vocab %d, seq_len %d, %s classifier) implies %.0f bytes",
                       path, file_size, *version, cfg->dim, cfg->hidden_dim, cfg->n_layers, cfg->n_heads,
                       cfg->n_kv_heads, cfg->vocab_size, cfg->seq_len, shared ? "shared" : "separate", expect);
    return PP_OK;
}

void llama2c_extras_free(llama2c_extras *x) {
    free(x->rope_tables);
    memset(x, 0, sizeof *x);
}

pp_status llama2c_load(model *m, const char *bin_path, const char *tokenizer_path,
                       llama2c_extras *extras, pp_err *err) {
    memset(m, 0, sizeof *m);
    if (extras) memset(extras, 0, sizeof *extras);
    FILE *f = fopen(bin_path, "rb");
    if (!f) return pp_fail(err, PP_EINPUT, "%s: cannot open llama2.c checkpoint", bin_path);
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return pp_fail(err, PP_EINPUT, "%s: not a regular file", bin_path);
    }
    long long file_size = (long long)sb.st_size;
    unsigned char header[V1_HEADER_BYTES] = {0};
    size_t got = fread(header, 1, sizeof header, f);
    (void)got; /* a short file is judged by its size below */

    model_config cfg;
    int version = 0;
    size_t header_bytes = 0;
    pp_status st = parse_header(bin_path, header, file_size, &cfg, &version, &header_bytes, err);
    if (st != PP_OK) {
        fclose(f);
        return st;
    }
    float *rope = NULL;
    if (version == 0 && !(rope = malloc(rope_table_count(&cfg) * sizeof(float)))) {
        fclose(f);
        return pp_fail(err, PP_ESYS, "%s: out of memory", bin_path);
    }
    st = model_alloc(m, &cfg, err);
    if (st == PP_OK && fseek(f, (long)header_bytes, SEEK_SET) != 0)
        st = pp_fail(err, PP_ESYS, "%s: cannot seek past the header", bin_path);
    if (st == PP_OK) {
        segment seg[16];
        int n = file_segments(m, version, rope, seg);
        for (int i = 0; i < n && st == PP_OK; i++)
            if (fread(seg[i].data, sizeof(float), seg[i].count, f) != seg[i].count)
                st = pp_fail(err, PP_ESYS, "%s: short read (file changed while loading?)", bin_path);
    }
    fclose(f);
    if (st == PP_OK) st = model_check_finite(m, bin_path, err);
    if (st == PP_OK && tokenizer_path) st = tok_load_llama2c(&m->tok, tokenizer_path, cfg.vocab_size, err);
    if (st != PP_OK) {
        free(rope);
        model_free(m);
        return st;
    }
    m->fingerprint = model_fingerprint(m);
    if (extras) {
        extras->version = version;
        extras->rope_tables = rope;
        extras->rope_table_count = rope ? rope_table_count(&cfg) : 0;
    } else {
        free(rope);
    }
    return PP_OK;
}

pp_status llama2c_save(const model *m, const char *path, int version, const float *rope_tables,
                       pp_err *err) {
    const model_config *c = &m->cfg;
    if (version != 0 && version != 1)
        return pp_fail(err, PP_EINPUT, "%s: llama2.c version %d cannot be written (0 or 1)", path, version);
    if (c->reward_head)
        return pp_fail(err, PP_EINPUT, "%s: the model has a reward head (pp-rm --kind pointwise), which a llama2.c "
                       "checkpoint cannot hold", path);
    if (c->norm_eps != 1e-5f || c->rope_theta != 10000.0f)
        return pp_fail(err, PP_EINPUT,
                       "%s: llama2.c's run.c assumes norm_eps 1e-5 and rope_theta 10000; this model has %g and %g",
                       path, (double)c->norm_eps, (double)c->rope_theta);
    if (model_q_dim(c) != c->dim || c->rope_scaling != MODEL_ROPE_PLAIN)
        return pp_fail(err, PP_EINPUT,
                       "%s: llama2.c checkpoints have head size dim / n_heads and plain RoPE; this model has head_dim %d "
                       "(dim %d, %d heads)%s",
                       path, model_head_dim(c), c->dim, c->n_heads, c->rope_scaling ? " and llama3 RoPE scaling" : "");
    float *own_rope = NULL;
    if (version == 0 && !rope_tables) {
        own_rope = malloc(rope_table_count(c) * sizeof(float));
        if (!own_rope) return pp_fail(err, PP_ESYS, "%s: out of memory", path);
        llama2c_rope_tables(c, own_rope);
        rope_tables = own_rope;
    }

    unsigned char header[V1_HEADER_BYTES] = {0};
    size_t header_bytes = 0;
    int32_t ints[7] = {c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->vocab_size,
                       c->seq_len};
    if (version == 0) {
        if (!c->tied_embeddings) ints[5] = -ints[5];
        memcpy(header, ints, sizeof ints);
        header_bytes = V0_HEADER_BYTES;
    } else {
        uint32_t magic = LLAMA2C_MAGIC;
        int32_t v = 1;
        memcpy(header, &magic, 4);
        memcpy(header + 4, &v, 4);
        memcpy(header + 8, ints, sizeof ints);
        header[36] = (unsigned char)(c->tied_embeddings ? 1 : 0);
        header_bytes = V1_HEADER_BYTES;
    }

    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        free(own_rope);
        return pp_fail(err, PP_EINPUT, "%s: path too long", path);
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        free(own_rope);
        return pp_fail(err, PP_ESYS, "%s: cannot create", tmp);
    }
    int ok = fwrite(header, 1, header_bytes, f) == header_bytes;
    segment seg[16];
    int n = file_segments(m, version, (float *)rope_tables, seg);
    for (int i = 0; i < n && ok; i++) ok = fwrite(seg[i].data, sizeof(float), seg[i].count, f) == seg[i].count;
    ok = (fclose(f) == 0) && ok;
    free(own_rope);
    if (!ok) {
        remove(tmp);
        return pp_fail(err, PP_ESYS, "%s: write failed (disk full?)", tmp);
    }
    if (rename(tmp, path) != 0) {
        remove(tmp);
        return pp_fail(err, PP_ESYS, "%s: cannot rename %s into place", path, tmp);
    }
    return PP_OK;
}
