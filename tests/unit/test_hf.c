/* test_hf.c - Hugging Face checkpoints against a PyTorch reference.
 *
 * tests/fixtures/hf/ holds tiny checkpoints in Hugging Face's layout and
 * the logits a float64 PyTorch forward written from modeling_llama's
 * conventions gives for one token sequence (tests/torch/make_hf_fixture.py,
 * run once).  Imported here, the inference path (infer_rows, every
 * position) and the training forward (model_forward_logps, per-token
 * log-probs) must match within 1e-5 relative to the logits' scale: that
 * covers the q/k row permutation (rotate_half vs pairs), GQA, head_dim !=
 * dim / heads, llama3 RoPE scaling, tied and untied heads, F32, BF16, F16
 * and shards.  Also: export -> import is bit-exact (f32) and rounds to
 * nearest even (bf16); the permutation inverts itself; the bf16 rounding
 * of edge values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>
#include <mpi.h>

#include "io/pp_schema.h"
#include "model/hf.h"
#include "model/model_io.h"
#include "model/infer.h"
#include "model/model_train.h"
#include "model/safetensors.h"

#define RTOL 1e-5

typedef struct {
    int n_tokens, T, V;
    int tokens[64];
    double *logits; /* [T][V] */
} expected;

static void fixture_dir(const char *name, char *out, size_t cap) {
    const char *root = getenv("ROOT");
    snprintf(out, cap, "%s/tests/fixtures/hf/%s", root ? root : ".", name);
}

static void read_expected(const char *dir, expected *e) {
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/expected_logits.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("cannot open %s (run from the repository root or set ROOT)", path);
    assert_int_equal(fscanf(f, "tokens %d", &e->n_tokens), 1);
    assert_true(e->n_tokens > 0 && e->n_tokens <= 64);
    for (int i = 0; i < e->n_tokens; i++) assert_int_equal(fscanf(f, "%d", &e->tokens[i]), 1);
    assert_int_equal(fscanf(f, " logits %d %d", &e->T, &e->V), 2);
    assert_int_equal(e->T, e->n_tokens);
    e->logits = malloc((size_t)e->T * e->V * sizeof *e->logits);
    for (int i = 0; i < e->T * e->V; i++) assert_int_equal(fscanf(f, "%lf", &e->logits[i]), 1);
    fclose(f);
}

static void import(const char *name, model *m, expected *e) {
    char dir[PATH_MAX];
    fixture_dir(name, dir, sizeof dir);
    hf_import_opts o = {.dir = dir, .weights_only = 1};
    hf_import_info info;
    pp_err err = {0};
    if (hf_import(m, &o, &info, &err) != PP_OK) fail_msg("%s", err.msg);
    if (e) read_expected(dir, e);
}

static double max_abs(const double *x, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
    return m;
}

/* Every position's logits through the inference engine. */
static void check_inference_logits(const char *name) {
    model m;
    expected e;
    import(name, &m, &e);
    assert_int_equal(m.cfg.vocab_size, e.V);
    infer_state st;
    pp_err err = {0};
    assert_int_equal(infer_init_rows(&st, &m, 1, e.T, e.T, &err), PP_OK);
    int slots[64] = {0}, rows[64];
    for (int i = 0; i < e.T; i++) rows[i] = i;
    float *logits = malloc((size_t)e.T * e.V * sizeof *logits);
    assert_int_equal(infer_rows(&st, e.T, slots, e.tokens, e.T, rows, logits, &err), PP_OK);
    double scale = max_abs(e.logits, (size_t)e.T * e.V), worst = 0;
    for (int i = 0; i < e.T * e.V; i++) worst = fmax(worst, fabs(logits[i] - e.logits[i]) / scale);
    printf("%s: inference logits, max |diff| / max |logit| = %.2e (scale %.2f)\n", name, worst, scale);
    assert_true(worst <= RTOL);
    free(logits);
    infer_free(&st);
    free(e.logits);
    model_free(&m);
}

/* The training forward's per-token log-probs against log_softmax of the
 * reference logits. */
static void check_training_logps(const char *name) {
    model m;
    expected e;
    import(name, &m, &e);
    train_ws ws;
    pp_err err = {0};
    assert_int_equal(train_ws_alloc(&ws, &m.cfg, e.T, &err), PP_OK);
    int lens[1] = {e.T};
    train_batch b = {.n_seq = 1, .lens = lens, .tokens = e.tokens};
    float seq_logp;
    int ntok;
    assert_int_equal(model_forward_logps(&m, &ws, &b, &seq_logp, &ntok, &err), PP_OK);
    const float *tok = train_ws_token_logps(&ws);
    double worst = 0;
    for (int i = 1; i < e.T; i++) {
        const double *z = e.logits + (size_t)(i - 1) * e.V;
        double mx = z[0], sum = 0;
        for (int j = 1; j < e.V; j++) mx = fmax(mx, z[j]);
        for (int j = 0; j < e.V; j++) sum += exp(z[j] - mx);
        double want = z[e.tokens[i]] - mx - log(sum);
        worst = fmax(worst, fabs(tok[i] - want) / fmax(fabs(want), 1.0));
    }
    printf("%s: training log-probs, max relative diff = %.2e\n", name, worst);
    assert_true(worst <= RTOL);
    train_ws_free(&ws);
    free(e.logits);
    model_free(&m);
}

static void test_logits_llama3_gqa(void **s) { check_inference_logits("llama3_gqa"), check_training_logps("llama3_gqa"); }
static void test_logits_bf16(void **s) { check_inference_logits("llama3_gqa_bf16"), check_training_logps("llama3_gqa_bf16"); }
static void test_logits_sharded(void **s) { check_inference_logits("llama3_gqa_sharded"), check_training_logps("llama3_gqa_sharded"); }
static void test_logits_tied_f16(void **s) { check_inference_logits("tied_plain"), check_training_logps("tied_plain"); }

static void test_config_read(void **s) {
    model m;
    import("llama3_gqa", &m, NULL);
    assert_int_equal(model_head_dim(&m.cfg), 12);
    assert_int_equal(model_q_dim(&m.cfg), 48);
    assert_int_equal(m.cfg.n_kv_heads, 2);
    assert_int_equal(m.cfg.tied_embeddings, 0);
    assert_int_equal(m.cfg.rope_scaling, MODEL_ROPE_LLAMA3);
    assert_int_equal(m.cfg.rope_original_max_pos, 16);
    assert_int_equal(m.cfg.seq_len, 64);
    model_free(&m);
    import("tied_plain", &m, NULL);
    assert_int_equal(m.cfg.head_dim, 0); /* dim / heads: the llama2.c shape */
    assert_int_equal(m.cfg.tied_embeddings, 1);
    assert_int_equal(m.cfg.rope_scaling, MODEL_ROPE_PLAIN);
    assert_true(m.cfg.rope_theta == 500000.0f && m.cfg.norm_eps == 1e-6f);
    model_free(&m);
}

/* The shards hold the same tensors as the single file: same bits. */
static void test_sharded_equals_single(void **s) {
    model a, b;
    import("llama3_gqa", &a, NULL);
    import("llama3_gqa_sharded", &b, NULL);
    assert_int_equal(a.n_params, b.n_params);
    assert_memory_equal(a.params, b.params, a.n_params * sizeof(float));
    model_free(&a);
    model_free(&b);
}

/* BF16 import = the F32 weights rounded to bf16 (torch rounds to nearest
 * even when it made the BF16 copy; so does st_f32_to_bf16). */
static void test_bf16_is_rounded_f32(void **s) {
    model a, b;
    import("llama3_gqa", &a, NULL);
    import("llama3_gqa_bf16", &b, NULL);
    for (size_t i = 0; i < a.n_params; i++) {
        float want = st_bf16_to_f32(st_f32_to_bf16(a.params[i]));
        if (b.params[i] != want) fail_msg("parameter %zu: bf16 import %g, rounded f32 %g", i, b.params[i], want);
    }
    model_free(&a);
    model_free(&b);
}

static void export_import(const model *m, st_dtype dtype, model *back) {
    char dir[] = "/tmp/test_hf.XXXXXX";
    assert_non_null(mkdtemp(dir));
    pp_err err = {0};
    if (hf_export(m, dir, dtype, NULL, &err) != PP_OK) fail_msg("%s", err.msg);
    hf_import_opts o = {.dir = dir, .weights_only = 1};
    hf_import_info info;
    if (hf_import(back, &o, &info, &err) != PP_OK) fail_msg("%s", err.msg);
    const char *files[] = {"config.json", "model.safetensors", "generation_config.json"};
    for (int i = 0; i < 3; i++) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        assert_int_equal(unlink(p), 0);
    }
    assert_int_equal(rmdir(dir), 0);
}

/* Export then import: the same config and bits (f32); bf16 rounds. */
static void test_export_round_trip(void **s) {
    model m, back;
    import("llama3_gqa", &m, NULL);
    export_import(&m, ST_F32, &back);
    assert_memory_equal(&m.cfg, &back.cfg, sizeof m.cfg);
    assert_memory_equal(m.params, back.params, m.n_params * sizeof(float));
    model_free(&back);
    export_import(&m, ST_BF16, &back);
    for (size_t i = 0; i < m.n_params; i++) assert_true(back.params[i] == st_bf16_to_f32(st_f32_to_bf16(m.params[i])));
    model_free(&back);
    model_free(&m);
}

/* to_hf undoes from-hf, and pairs (2i, 2i+1) come from rows (i, i + hd/2). */
static void test_permutation(void **s) {
    enum { H = 3, HD = 6, C = 2, N = H * HD * C };
    float src[N], mid[N], back[N];
    for (int i = 0; i < N; i++) src[i] = (float)i;
    hf_permute_rows(mid, src, H, HD, C, 0);
    for (int h = 0; h < H; h++)
        for (int i = 0; i < HD / 2; i++) {
            assert_true(mid[(h * HD + 2 * i) * C] == src[(h * HD + i) * C]);
            assert_true(mid[(h * HD + 2 * i + 1) * C + 1] == src[(h * HD + i + HD / 2) * C + 1]);
        }
    hf_permute_rows(back, mid, H, HD, C, 1);
    assert_memory_equal(back, src, sizeof src);
}

static void test_bf16_rounding(void **s) {
    assert_int_equal(st_f32_to_bf16(1.0f), 0x3f80);
    assert_int_equal(st_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80);           /* tie: to even (down) */
    assert_int_equal(st_f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82);       /* tie: to even (up) */
    assert_int_equal(st_f32_to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81); /* above the tie */
    assert_int_equal(st_f32_to_bf16(INFINITY), 0x7f80);
    assert_true(isnan(st_bf16_to_f32(st_f32_to_bf16(NAN))));
    assert_int_equal(st_f32_to_bf16(-2.0f), 0xc000);
}

/* The fingerprint covers head_dim and RoPE scaling, but only when they
 * differ from the llama2.c shape (older files keep their fingerprints). */
static void test_fingerprint_covers_new_fields(void **s) {
    model m;
    import("llama3_gqa", &m, NULL);
    uint64_t base = model_fingerprint(&m);
    m.cfg.rope_factor = 4.0f;
    assert_true(model_fingerprint(&m) != base);
    m.cfg.rope_factor = 8.0f;
    m.cfg.rope_scaling = MODEL_ROPE_PLAIN;
    assert_true(model_fingerprint(&m) != base);
    uint64_t plain = model_fingerprint(&m);
    m.cfg.head_dim = 16; /* another head size, same buffer: only the config differs */
    assert_true(model_fingerprint(&m) != plain);
    m.cfg.head_dim = 0;
    m.cfg.dim = 48; /* q_dim = dim: the llama2.c shape, head_dim not hashed */
    uint64_t shaped = model_fingerprint(&m);
    m.cfg.head_dim = 12;
    assert_true(model_fingerprint(&m) == shaped);
    model_free(&m);
}

/* A model file keeps head_dim and llama3 scaling, validates against its
 * schema, and a version 1 file (no such attributes) still loads with its
 * fingerprint. */
static void test_model_file_v2_and_v1(void **s) {
    model m, back;
    import("llama3_gqa", &m, NULL);
    pp_err err = {0};
    assert_int_equal(tok_init_bytes(&m.tok, &err), PP_OK);
    /* the byte tokenizer has its own vocabulary size: use a model of that size */
    model_config c = m.cfg;
    c.vocab_size = m.tok.vocab_size;
    tokenizer tok = m.tok;
    memset(&m.tok, 0, sizeof m.tok);
    model_free(&m);
    assert_int_equal(model_alloc(&m, &c, &err), PP_OK);
    model_init_random(&m, 5);
    m.tok = tok;
    m.fingerprint = model_fingerprint(&m);
    char path[] = "/tmp/test_hf_model.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    pp_provenance prov = {"test", "", NULL, 0};
    assert_int_equal(model_save(path, &m, MPI_COMM_SELF, &prov, NULL, &err), PP_OK);
    if (pp_validate_file(path, &err) != PP_OK) fail_msg("%s", err.msg);
    assert_int_equal(model_load(path, &back, &err), PP_OK);
    assert_memory_equal(&back.cfg, &m.cfg, sizeof m.cfg);
    assert_true(back.fingerprint == m.fingerprint);
    model_free(&back);
    model_free(&m);

    /* a plain (llama2.c-shaped) model written as version 1 would be */
    c.head_dim = 0;
    c.dim = 48;
    c.rope_scaling = MODEL_ROPE_PLAIN;
    assert_int_equal(model_alloc(&m, &c, &err), PP_OK);
    model_init_random(&m, 6);
    assert_int_equal(tok_init_bytes(&m.tok, &err), PP_OK);
    m.fingerprint = model_fingerprint(&m);
    assert_int_equal(model_save(path, &m, MPI_COMM_SELF, &prov, NULL, &err), PP_OK);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    assert_true(H5Adelete(f, "head_dim") >= 0);
    assert_true(H5Adelete(f, "rope_scaling") >= 0);
    hid_t a = H5Aopen(f, "schema_version", H5P_DEFAULT);
    int64_t one = 1;
    assert_true(H5Awrite(a, H5T_NATIVE_INT64, &one) >= 0);
    H5Aclose(a);
    H5Fclose(f);
    if (model_load(path, &back, &err) != PP_OK) fail_msg("%s", err.msg);
    assert_int_equal(back.cfg.head_dim, 0);
    assert_int_equal(model_head_dim(&back.cfg), 12);
    assert_true(back.fingerprint == m.fingerprint);
    model_free(&back);
    model_free(&m);
    unlink(path);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_read),
        cmocka_unit_test(test_logits_llama3_gqa),
        cmocka_unit_test(test_logits_bf16),
        cmocka_unit_test(test_logits_sharded),
        cmocka_unit_test(test_logits_tied_f16),
        cmocka_unit_test(test_sharded_equals_single),
        cmocka_unit_test(test_bf16_is_rounded_f32),
        cmocka_unit_test(test_export_round_trip),
        cmocka_unit_test(test_permutation),
        cmocka_unit_test(test_bf16_rounding),
        cmocka_unit_test(test_fingerprint_covers_new_fields),
        cmocka_unit_test(test_model_file_v2_and_v1),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    MPI_Finalize();
    return rc;
}
