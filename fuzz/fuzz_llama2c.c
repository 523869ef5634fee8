/* fuzz_llama2c.c - the llama2.c checkpoint reader (llama2c_load) on
 * arbitrary bytes.
 *
 * Every input is loaded as a checkpoint without a tokenizer.  When that
 * works, the model must agree with its header, exporting it must give the
 * input back (v0 byte for byte, v1 all but the header padding), and loading
 * it with a tokenizer of the model's vocabulary size must work while one of
 * another size must fail cleanly (no leak). */
#include "fuzz_common.h"
#include "fuzz_vocab.h"
#include "model/llama2c.h"

#define MAX_TOKENIZER_VOCAB 4096 /* bigger ones are not worth writing per input */

/* Path of a tokenizer.bin with exactly vocab_size tokens; `which` keeps two
 * files (right size, wrong size) so neither is rewritten every time. */
static const char *tokenizer_file(int which, int vocab_size) {
    static int cached[2] = {-1, -1};
    static char path[2][300];
    if (cached[which] == vocab_size) return path[which];
    snprintf(path[which], sizeof path[which], "%s/tokenizer%d.bin", fuzz_dir(), which);
    tokenizer t;
    pp_err err;
    if (fuzz_make_vocab(&t, vocab_size, &err) != PP_OK ||
        tok_save_llama2c(&t, path[which], &err) != PP_OK) {
        fprintf(stderr, "fuzz harness: %s\n", err.msg);
        abort();
    }
    tok_free(&t);
    cached[which] = vocab_size;
    return path[which];
}

/* Export m as `version` and compare with the input it was loaded from. */
static void check_export(const model *m, const llama2c_extras *x, const uint8_t *data, size_t size) {
    char out[300];
    snprintf(out, sizeof out, "%s/export.bin", fuzz_dir());
    pp_err err;
    pp_status st = llama2c_save(m, out, x->version, x->rope_tables, &err);
    FUZZ_CHECK_ERR(st, err);
    FUZZ_CHECK(st == PP_OK);
    size_t n;
    uint8_t *back = fuzz_slurp(out, &n);
    FUZZ_CHECK(n == size);
    if (x->version == 0) {
        FUZZ_CHECK(memcmp(back, data, size) == 0);
    } else {
        /* magic, version, 7 ints, shared flag; then zero padding; then weights */
        FUZZ_CHECK(memcmp(back, data, 37) == 0);
        for (int i = 37; i < 256; i++) FUZZ_CHECK(back[i] == 0);
        FUZZ_CHECK(memcmp(back + 256, data + 256, size - 256) == 0);
    }
    free(back);
    unlink(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *bin = fuzz_file(data, size, 0);
    model m;
    llama2c_extras x;
    pp_err err;
    pp_status st = llama2c_load(&m, bin, NULL, &x, &err);
    FUZZ_CHECK_ERR(st, err);
    if (st != PP_OK) {
        FUZZ_CHECK(m.params == NULL && x.rope_tables == NULL);
        return 0;
    }
    const model_config *c = &m.cfg;
    FUZZ_CHECK(m.n_params == model_param_count(c));
    FUZZ_CHECK(m.fingerprint == model_fingerprint(&m)); /* weights, config and tokenizer */
    FUZZ_CHECK(x.version == 0 || x.version == 1);
    FUZZ_CHECK(x.version == 0 ? x.rope_table_count == 2 * (size_t)c->seq_len * (size_t)(model_head_dim(c) / 2)
                              : x.rope_tables == NULL);
    FUZZ_CHECK(model_check_finite(&m, "fuzz", &err) == PP_OK);
    check_export(&m, &x, data, size);
    int vocab = c->vocab_size;
    uint64_t params_hash = model_params_hash(&m);
    model_free(&m);
    llama2c_extras_free(&x);

    if (vocab >= 259 && vocab < MAX_TOKENIZER_VOCAB) {
        st = llama2c_load(&m, bin, tokenizer_file(0, vocab), NULL, &err);
        FUZZ_CHECK_ERR(st, err);
        FUZZ_CHECK(st == PP_OK);
        /* the same weights; the fingerprint now covers the tokenizer too */
        FUZZ_CHECK(m.tok.vocab_size == vocab && model_params_hash(&m) == params_hash);
        FUZZ_CHECK(m.fingerprint == model_fingerprint(&m));
        model_free(&m);
        st = llama2c_load(&m, bin, tokenizer_file(1, vocab + 1), NULL, &err);
        FUZZ_CHECK_ERR(st, err);
        FUZZ_CHECK(st == PP_EINPUT && m.params == NULL);
    }
    return 0;
}
