/* test_llama2c.c - llama2.c checkpoint import/export against a real model.
 *
 * stories260K (../shared/models, or $PP_SHARED/models) decoded greedily
 * from BOS must reproduce llama2.c's own output byte for byte; import ->
 * export must give back the same file; malformed files must be one clear
 * PP_EINPUT, never a crash.  Tests that need the shared model skip with the
 * reason when it is absent. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "model/infer.h"
#include "model/llama2c.h"
#include "model/model.h"
#include "model/sample.h"
#include "model/tokenizer.h"

static char shared_dir[4096];
static char tmp_dir[64];
static char model_path[4200], tok_path[4200], golden_path[4200];

static int have_file(const char *p) { return access(p, R_OK) == 0; }

/* Skip the calling test when the shared model files are absent. */
#define NEED_SHARED()                                                                   \
    do {                                                                                \
        if (!have_file(model_path) || !have_file(tok_path) || !have_file(golden_path)) { \
            print_message("skip: %s, %s or %s missing (set PP_SHARED)\n", model_path,  \
                          tok_path, golden_path);                                       \
            skip();                                                                     \
        }                                                                               \
    } while (0)

static unsigned char *read_all(const char *path, size_t *n) {
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)size + 1);
    *n = fread(buf, 1, (size_t)size, f);
    fclose(f);
    return buf;
}

static void write_all(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void tmp_file(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", tmp_dir, name); }

static int setup(void **state) {
    (void)state;
    const char *env = getenv("PP_SHARED"), *root = getenv("ROOT");
    if (env && *env) snprintf(shared_dir, sizeof shared_dir, "%s", env);
    else if (root && *root) snprintf(shared_dir, sizeof shared_dir, "%s/../shared", root);
    else snprintf(shared_dir, sizeof shared_dir, "../shared");
    snprintf(model_path, sizeof model_path, "%s/models/stories260K.bin", shared_dir);
    snprintf(tok_path, sizeof tok_path, "%s/models/tok512.bin", shared_dir);
    snprintf(golden_path, sizeof golden_path, "%s/models/stories260K_greedy200.txt", shared_dir);
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/pp-test-llama2c.XXXXXX");
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* run.c -n 200 from BOS: 200 forward steps (positions 0..199), each
 * printing the argmax token, so 200 tokens follow BOS. */
#define GREEDY_STEPS 200

static void check_golden(const tokenizer *tok, const int *ids, int n) {
    size_t golden_n;
    unsigned char *golden = read_all(golden_path, &golden_n);
    assert_non_null(golden);
    size_t need = tok_decode(tok, ids, n, NULL, 0);
    char *text = malloc(need + 1);
    tok_decode(tok, ids, n, text, need + 1);
    if (need != golden_n || memcmp(text, golden, golden_n) != 0)
        print_error("decoded %zu bytes, golden %zu:\n%s\n", need, golden_n, text);
    assert_int_equal(need, golden_n);
    assert_memory_equal(text, golden, golden_n);
    free(text);
    free(golden);
}

static void test_greedy_golden(void **state) {
    (void)state;
    NEED_SHARED();
    model m;
    pp_err err;
    if (llama2c_load(&m, model_path, tok_path, NULL, &err) != PP_OK) fail_msg("%s", err.msg);
    assert_int_equal(m.cfg.dim, 64);
    assert_int_equal(m.cfg.n_kv_heads, 4);
    assert_true(m.cfg.tied_embeddings);
    assert_int_equal(m.fingerprint, model_fingerprint(&m));
    int V = m.cfg.vocab_size;
    float *logits = malloc((size_t)V * sizeof(float));
    int ids[GREEDY_STEPS + 1];
    ids[0] = m.tok.bos_id;
    infer_state st;
    assert_int_equal(infer_init(&st, &m, 1, 0, &err), PP_OK);
    int slot = 0;
    for (int t = 0; t < GREEDY_STEPS; t++) {
        assert_int_equal(infer_decode(&st, 1, &slot, &ids[t], logits, &err), PP_OK);
        ids[t + 1] = sample_argmax(logits, V);
    }
    check_golden(&m.tok, ids, GREEDY_STEPS + 1);
    infer_free(&st);
    free(logits);
    model_free(&m);
}

/* Four candidates share one prefill of BOS and decode as one batch (the
 * sgemm path); one stops early.  All must still follow the golden text. */
static void test_greedy_golden_batched(void **state) {
    (void)state;
    NEED_SHARED();
    enum { S = 4, EARLY = 3, EARLY_STEPS = 60 };
    model m;
    pp_err err;
    if (llama2c_load(&m, model_path, tok_path, NULL, &err) != PP_OK) fail_msg("%s", err.msg);
    int V = m.cfg.vocab_size;
    float *logits = malloc((size_t)S * V * sizeof(float));
    static int ids[S][GREEDY_STEPS + 1];
    infer_state st;
    assert_int_equal(infer_init(&st, &m, S, 0, &err), PP_OK);
    int bos = m.tok.bos_id;
    assert_int_equal(infer_prefill(&st, 0, &bos, 1, logits, &err), PP_OK);
    for (int s = 0; s < S; s++) {
        assert_int_equal(infer_copy_seq(&st, 0, s, &err), PP_OK);
        ids[s][0] = bos;
        ids[s][1] = sample_argmax(logits, V);
    }
    for (int t = 1; t < GREEDY_STEPS; t++) {
        int slots[S], feed[S], n = 0;
        for (int s = 0; s < S; s++)
            if (s != EARLY || t < EARLY_STEPS) {
                slots[n] = s;
                feed[n++] = ids[s][t];
            }
        assert_int_equal(infer_decode(&st, n, slots, feed, logits, &err), PP_OK);
        for (int i = 0; i < n; i++) ids[slots[i]][t + 1] = sample_argmax(logits + (size_t)i * V, V);
    }
    for (int s = 0; s < S; s++)
        if (s != EARLY) check_golden(&m.tok, ids[s], GREEDY_STEPS + 1);
    assert_memory_equal(ids[EARLY], ids[0], (EARLY_STEPS + 1) * sizeof(int));
    assert_int_equal(infer_position(&st, EARLY), EARLY_STEPS);
    infer_free(&st);
    free(logits);
    model_free(&m);
}

/* A prompt prefilled in one batch and continued greedily: "Once upon a
 * time" encodes to the golden text's first tokens, so the continuation must
 * be the rest of the golden text. */
static void test_prompt_prefill_continues_golden(void **state) {
    (void)state;
    NEED_SHARED();
    model m;
    pp_err err;
    if (llama2c_load(&m, model_path, tok_path, NULL, &err) != PP_OK) fail_msg("%s", err.msg);
    int V = m.cfg.vocab_size;
    int ids[GREEDY_STEPS + 8], n = 0;
    const char *prompt = "Once upon a time";
    assert_int_equal(tok_encode(&m.tok, prompt, 1, 0, ids, &n, &err), PP_OK);
    assert_true(n > 2);
    float *logits = malloc((size_t)V * sizeof(float));
    infer_state st;
    assert_int_equal(infer_init(&st, &m, 1, 0, &err), PP_OK);
    assert_int_equal(infer_prefill(&st, 0, ids, n, logits, &err), PP_OK);
    int slot = 0;
    while (n < GREEDY_STEPS + 1) {
        ids[n] = sample_argmax(logits, V);
        if (n == GREEDY_STEPS) break;
        assert_int_equal(infer_decode(&st, 1, &slot, &ids[n], logits, &err), PP_OK);
        n++;
    }
    check_golden(&m.tok, ids, GREEDY_STEPS + 1);
    infer_free(&st);
    free(logits);
    model_free(&m);
}

static void test_round_trip_v0_bitwise(void **state) {
    (void)state;
    NEED_SHARED();
    model m;
    llama2c_extras ex;
    pp_err err;
    if (llama2c_load(&m, model_path, NULL, &ex, &err) != PP_OK) fail_msg("%s", err.msg);
    assert_int_equal(ex.version, 0);
    assert_int_equal(ex.rope_table_count, 2 * 512 * 4);
    char out[256];
    tmp_file(out, sizeof out, "rt0.bin");
    assert_int_equal(llama2c_save(&m, out, 0, ex.rope_tables, &err), PP_OK);
    size_t na, nb;
    unsigned char *a = read_all(model_path, &na), *b = read_all(out, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    free(b);

    /* without the file's tables: identical but for recomputed tables that
     * are within 1 ulp of PyTorch's */
    assert_int_equal(llama2c_save(&m, out, 0, NULL, &err), PP_OK);
    b = read_all(out, &nb);
    assert_int_equal(na, nb);
    size_t table_start = na - ex.rope_table_count * sizeof(float);
    assert_memory_equal(a, b, table_start);
    int max_ulp = 0, differing = 0;
    for (size_t i = table_start; i < na; i += 4) {
        int32_t x, y;
        memcpy(&x, a + i, 4);
        memcpy(&y, b + i, 4);
        int d = abs(x - y);
        if (d > max_ulp) max_ulp = d;
        differing += d != 0;
    }
    print_message("recomputed RoPE tables: %d of %zu entries differ, by at most %d ulp\n", differing,
                  ex.rope_table_count, max_ulp);
    assert_true(max_ulp <= 1);
    free(a);
    free(b);
    llama2c_extras_free(&ex);
    model_free(&m);
}

static void test_round_trip_v1(void **state) {
    (void)state;
    NEED_SHARED();
    model m, m1;
    llama2c_extras ex, ex1;
    pp_err err;
    if (llama2c_load(&m, model_path, NULL, &ex, &err) != PP_OK) fail_msg("%s", err.msg);
    char v1[256], v1b[256], v0[256];
    tmp_file(v1, sizeof v1, "rt1.bin");
    tmp_file(v1b, sizeof v1b, "rt1b.bin");
    tmp_file(v0, sizeof v0, "rt10.bin");
    assert_int_equal(llama2c_save(&m, v1, 1, NULL, &err), PP_OK);
    if (llama2c_load(&m1, v1, NULL, &ex1, &err) != PP_OK) fail_msg("%s", err.msg);
    assert_int_equal(ex1.version, 1);
    assert_null(ex1.rope_tables);
    assert_memory_equal(&m1.cfg, &m.cfg, sizeof m.cfg);
    assert_int_equal(m1.fingerprint, m.fingerprint);
    /* v1 -> v1 and v1 -> v0 (with the original tables) are byte-identical */
    assert_int_equal(llama2c_save(&m1, v1b, 1, NULL, &err), PP_OK);
    assert_int_equal(llama2c_save(&m1, v0, 0, ex.rope_tables, &err), PP_OK);
    size_t na, nb, nc, nd;
    unsigned char *a = read_all(v1, &na), *b = read_all(v1b, &nb);
    unsigned char *c = read_all(model_path, &nc), *d = read_all(v0, &nd);
    assert_int_equal(na, 256 + 4 * m.n_params);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    assert_int_equal(nc, nd);
    assert_memory_equal(c, d, nc);
    free(a);
    free(b);
    free(c);
    free(d);
    llama2c_extras_free(&ex);
    llama2c_extras_free(&ex1);
    model_free(&m);
    model_free(&m1);
}

static void test_rope_tables_recomputed(void **state) {
    (void)state;
    /* a value that export.py's float32 arithmetic gives exactly: t=3, i=1
     * of head_dim 8: angle = 3 * (1/10000^0.25) = 0.3 (in float) */
    model_config c = {.dim = 16, .hidden_dim = 32, .n_layers = 1, .n_heads = 2, .n_kv_heads = 2,
                      .vocab_size = 10, .seq_len = 5, .tied_embeddings = 1, .norm_eps = 1e-5f,
                      .rope_theta = 10000.0f};
    float tab[2 * 5 * 4];
    llama2c_rope_tables(&c, tab);
    float freq = 1.0f / powf(10000.0f, 0.25f);
    assert_true(tab[3 * 4 + 1] == (float)cos((double)(3.0f * freq)));
    assert_true(tab[5 * 4 + 3 * 4 + 1] == (float)sin((double)(3.0f * freq)));
    assert_true(tab[0] == 1.0f && tab[5 * 4] == 0.0f);
}

/* ---- malformed checkpoints (no shared data needed) ---- */

static void tiny_config(model_config *c, int tied) {
    *c = (model_config){.dim = 16, .hidden_dim = 40, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
                        .vocab_size = 30, .seq_len = 12, .tied_embeddings = tied, .norm_eps = 1e-5f,
                        .rope_theta = 10000.0f};
}

static void test_untied_round_trips(void **state) {
    (void)state;
    model_config c;
    tiny_config(&c, 0);
    model m, back;
    pp_err err;
    llama2c_extras ex;
    assert_int_equal(model_alloc(&m, &c, &err), PP_OK);
    model_init_random(&m, 9);
    assert_true(m.w.lm_head != m.w.embed);
    char p0[256], p1[256], p0b[256];
    tmp_file(p0, sizeof p0, "u0.bin");
    tmp_file(p1, sizeof p1, "u1.bin");
    tmp_file(p0b, sizeof p0b, "u0b.bin");
    assert_int_equal(llama2c_save(&m, p0, 0, NULL, &err), PP_OK);
    size_t n0;
    unsigned char *b0 = read_all(p0, &n0);
    int32_t vocab;
    memcpy(&vocab, b0 + 20, 4);
    assert_int_equal(vocab, -30); /* v0 marks an untied classifier by a negative vocab */
    assert_int_equal(n0, 28 + 4 * (m.n_params + 2 * 12 * 2));

    if (llama2c_load(&back, p0, NULL, &ex, &err) != PP_OK) fail_msg("%s", err.msg);
    assert_int_equal(back.cfg.tied_embeddings, 0);
    assert_int_equal(back.fingerprint, model_fingerprint(&m));
    assert_memory_equal(back.w.lm_head, m.w.lm_head, (size_t)30 * 16 * sizeof(float));
    model_free(&back);

    assert_int_equal(llama2c_save(&m, p1, 1, NULL, &err), PP_OK);
    if (llama2c_load(&back, p1, NULL, NULL, &err) != PP_OK) fail_msg("%s", err.msg);
    assert_int_equal(back.cfg.tied_embeddings, 0);
    assert_int_equal(back.fingerprint, model_fingerprint(&m));
    assert_int_equal(llama2c_save(&back, p0b, 0, ex.rope_tables, &err), PP_OK);
    size_t n0b;
    unsigned char *b0b = read_all(p0b, &n0b);
    assert_int_equal(n0, n0b);
    assert_memory_equal(b0, b0b, n0);
    free(b0);
    free(b0b);
    llama2c_extras_free(&ex);
    model_free(&back);
    model_free(&m);

    /* run.c cannot express other eps / theta: refuse rather than lie */
    c.rope_theta = 500000.0f;
    assert_int_equal(model_alloc(&m, &c, &err), PP_OK);
    assert_int_equal(llama2c_save(&m, p0, 0, NULL, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "rope_theta"));
    model_free(&m);
}

/* Load must fail with PP_EINPUT, a message naming the file and containing
 * `want`, and leave nothing allocated. */
static void expect_bad(const char *path, const char *want) {
    model m;
    llama2c_extras ex;
    pp_err err;
    memset(&err, 0, sizeof err);
    pp_status st = llama2c_load(&m, path, NULL, &ex, &err);
    if (st != PP_EINPUT || !strstr(err.msg, path) || !strstr(err.msg, want))
        print_error("%s: status %d, message '%s' (wanted '%s')\n", path, st, err.msg, want);
    assert_int_equal(st, PP_EINPUT);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, want));
    assert_null(strchr(err.msg, '\n'));
    assert_null(m.params);
    assert_null(ex.rope_tables);
}

static void put_i32(unsigned char *b, size_t at, int32_t v) { memcpy(b + at, &v, 4); }

static void test_malformed(void **state) {
    (void)state;
    model_config c;
    tiny_config(&c, 1);
    model m;
    pp_err err;
    assert_int_equal(model_alloc(&m, &c, &err), PP_OK);
    model_init_random(&m, 3);
    char good0[256], good1[256], bad[256];
    tmp_file(good0, sizeof good0, "good0.bin");
    tmp_file(good1, sizeof good1, "good1.bin");
    tmp_file(bad, sizeof bad, "bad.bin");
    assert_int_equal(llama2c_save(&m, good0, 0, NULL, &err), PP_OK);
    assert_int_equal(llama2c_save(&m, good1, 1, NULL, &err), PP_OK);
    size_t n0, n1;
    unsigned char *b0 = read_all(good0, &n0), *b1 = read_all(good1, &n1);
    unsigned char *work = malloc((n0 > n1 ? n0 : n1) + 16);

    /* sanity: the good files load */
    model ok;
    assert_int_equal(llama2c_load(&ok, good0, NULL, NULL, &err), PP_OK);
    model_free(&ok);
    assert_int_equal(llama2c_load(&ok, good1, NULL, NULL, &err), PP_OK);
    model_free(&ok);

    write_all(bad, b0, n0 - 4); /* truncated */
    expect_bad(bad, "implies");
    memcpy(work, b0, n0);
    memset(work + n0, 0, 16);
    write_all(bad, work, n0 + 16); /* trailing bytes */
    expect_bad(bad, "implies");
    write_all(bad, b1, n1 - 1); /* truncated v1 */
    expect_bad(bad, "v1 header");
    write_all(bad, b0, 10);
    expect_bad(bad, "too short");
    write_all(bad, b0, 0);
    expect_bad(bad, "too short");
    write_all(bad, b1, 100); /* v1 magic, header cut */
    expect_bad(bad, "too short");

    static const struct {
        int field;
        int32_t value;
        const char *want;
    } header_cases[] = {
        {0, -16, "dim = -16 is not positive"},
        {1, 0, "hidden_dim = 0"},
        {2, -1, "n_layers"},
        {3, 5, "n_heads 5 does not divide"},
        {4, 3, "n_kv_heads 3"},
        {4, 0, "n_kv_heads = 0"},
        {5, 0, "vocab_size = 0"},
        {5, INT32_MIN, "vocab_size"},
        {6, -12, "seq_len"},
        {0, 32, "implies"},            /* consistent dims, wrong size */
        {1, 2000000000, "hidden_dim"}, /* absurd */
        {5, 4000000, "implies"},       /* large but legal: refused by size, no allocation */
        {2, 1000, "implies"},
    };
    for (size_t i = 0; i < sizeof header_cases / sizeof *header_cases; i++) {
        memcpy(work, b0, n0);
        put_i32(work, 4 * (size_t)header_cases[i].field, header_cases[i].value);
        write_all(bad, work, n0);
        expect_bad(bad, header_cases[i].want);
        /* the same in a v1 header (ints start at byte 8) */
        memcpy(work, b1, n1);
        put_i32(work, 8 + 4 * (size_t)header_cases[i].field, header_cases[i].value);
        write_all(bad, work, n1);
        expect_bad(bad, header_cases[i].field == 5 && header_cases[i].value == INT32_MIN
                            ? "vocab_size = " : header_cases[i].want);
    }
    /* v1 specifics: other versions, a bad flag, a negative vocab */
    memcpy(work, b1, n1);
    put_i32(work, 4, 2);
    write_all(bad, work, n1);
    expect_bad(bad, "version 2 is not supported");
    memcpy(work, b1, n1);
    work[36] = 7;
    write_all(bad, work, n1);
    expect_bad(bad, "shared_classifier");
    memcpy(work, b1, n1);
    put_i32(work, 8 + 20, -30);
    write_all(bad, work, n1);
    expect_bad(bad, "vocab_size = -30");

    /* non-finite weights name the tensor */
    float nan = NAN, inf = INFINITY;
    memcpy(work, b0, n0);
    memcpy(work + 28 + (size_t)((char *)m.w.wq - (char *)m.params) + 4 * 5, &nan, 4);
    write_all(bad, work, n0);
    expect_bad(bad, "q_proj");
    memcpy(work, b1, n1); /* v1: final norm sits after the 2L layer norms */
    memcpy(work + 256 + 4 * (size_t)(2 * 2 * 16 + 3), &inf, 4);
    write_all(bad, work, n1);
    expect_bad(bad, "model.norm.weight");

    /* missing file, directory */
    char missing[300];
    tmp_file(missing, sizeof missing, "no-such.bin");
    expect_bad(missing, "cannot open");
    expect_bad(tmp_dir, "not a regular file");

    /* a bad tokenizer path fails cleanly too */
    model t;
    assert_int_not_equal(llama2c_load(&t, good0, missing, NULL, &err), PP_OK);
    assert_null(t.params);

    free(work);
    free(b0);
    free(b1);
    model_free(&m);
}

/* Issue 17.2: the fingerprint covers every config value and the tokenizer,
 * not only the parameters (same tensor shapes, other heads, RoPE base, eps). */
static void test_fingerprint_covers_config_and_tokenizer(void **state) {
    (void)state;
    model_config c;
    tiny_config(&c, 1);
    c.vocab_size = 259; /* the byte tokenizer's */
    model m;
    pp_err err;
    assert_int_equal(model_alloc(&m, &c, &err), PP_OK);
    model_init_random(&m, 5);
    assert_int_equal(tok_init_bytes(&m.tok, &err), PP_OK);
    uint64_t base = model_fingerprint(&m);
    model_config *k = &m.cfg;
#define CHANGED(stmt)                                                     \
    do {                                                                  \
        model_config keep = *k;                                           \
        stmt;                                                             \
        if (model_fingerprint(&m) == base) fail_msg("unchanged by " #stmt); \
        *k = keep;                                                        \
    } while (0)
    CHANGED((k->n_heads = 8, k->n_kv_heads = 4)); /* same tensor shapes */
    CHANGED(k->n_kv_heads = 4);
    CHANGED(k->rope_theta = 500000.0f);
    CHANGED(k->norm_eps = 1e-6f);
    CHANGED(k->seq_len = 64);
    CHANGED((k->dim = 8, k->hidden_dim = 80)); /* same parameter count */
    CHANGED(k->tied_embeddings = 0);
#undef CHANGED
    assert_int_equal(model_fingerprint(&m), base);
    m.tok.eos_id = 0;
    assert_true(model_fingerprint(&m) != base);
    m.tok.eos_id = 257;
    m.tok.pieces[100] ^= 1;
    assert_true(model_fingerprint(&m) != base);
    m.tok.pieces[100] ^= 1;
    m.tok.scores[3] = 1.0f;
    assert_true(model_fingerprint(&m) != base);
    m.tok.scores[3] = 0.0f;
    assert_int_equal(model_fingerprint(&m), base);
    model_free(&m);

    /* values that are not finite or not sane are refused */
    tiny_config(&c, 1);
    c.rope_theta = INFINITY;
    assert_int_equal(model_config_check(&c, "x.h5", &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "x.h5: rope_theta inf"));
    c.rope_theta = NAN;
    assert_int_equal(model_config_check(&c, "x.h5", &err), PP_EINPUT);
    tiny_config(&c, 1);
    c.seq_len = 1 << 20;
    assert_int_equal(model_config_check(&c, "x.h5", &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "x.h5: seq_len 1048576"));
    c.seq_len = MODEL_MAX_SEQ_LEN;
    assert_int_equal(model_config_check(&c, "x.h5", &err), PP_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_golden),
        cmocka_unit_test(test_greedy_golden_batched),
        cmocka_unit_test(test_prompt_prefill_continues_golden),
        cmocka_unit_test(test_round_trip_v0_bitwise),
        cmocka_unit_test(test_round_trip_v1),
        cmocka_unit_test(test_rope_tables_recomputed),
        cmocka_unit_test(test_untied_round_trips),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_fingerprint_covers_config_and_tokenizer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
