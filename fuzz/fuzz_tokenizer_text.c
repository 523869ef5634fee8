/* fuzz_tokenizer_text.c - tok_encode / tok_decode / tok_piece on arbitrary
 * text and ids, with two fixed tokenizers: the byte-level one and the small
 * llama2.c vocabulary of fuzz_vocab.h.
 *
 * Checked: ids stay inside the vocabulary and inside the documented buffer
 * (strlen + 3), decode(encode(text)) is the text again for both (llama2c:
 * with BOS the dummy-prefix space is dropped, without BOS it stays), short
 * decode buffers behave like snprintf, and decoding the input read as
 * arbitrary int32 ids (out of range included) stays in bounds. */
#include "fuzz_common.h"
#include "fuzz_vocab.h"
#include "model/tokenizer.h"

static tokenizer byte_tok, l2c_tok;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    pp_err err;
    if (tok_init_bytes(&byte_tok, &err) != PP_OK || fuzz_make_vocab(&l2c_tok, FUZZ_VOCAB_FULL, &err) != PP_OK) {
        fprintf(stderr, "fuzz harness: %s\n", err.msg);
        abort();
    }
    return 0;
}

/* Decode ids into a buffer of exactly the needed size and into short ones;
 * returns the full text (caller frees). */
static char *decode_checked(const tokenizer *t, const int *ids, int n) {
    size_t need = tok_decode(t, ids, n, NULL, 0);
    char *full = malloc(need + 1);
    if (!full) fuzz_die("malloc");
    FUZZ_CHECK(tok_decode(t, ids, n, full, need + 1) == need);
    for (size_t cap = 1; cap <= 4; cap++) {
        char *small = malloc(cap);
        if (!small) fuzz_die("malloc");
        FUZZ_CHECK(tok_decode(t, ids, n, small, cap) == need);
        size_t got = need < cap - 1 ? need : cap - 1; /* the text may hold NULs */
        FUZZ_CHECK(small[got] == '\0' && memcmp(small, full, got) == 0);
        free(small);
    }
    return full;
}

static void roundtrip(const tokenizer *t, const char *text, int add_bos) {
    size_t len = strlen(text);
    int *ids = malloc((len + 3) * sizeof *ids);
    if (!ids) fuzz_die("malloc");
    int n = -1;
    pp_err err;
    pp_status st = tok_encode(t, text, add_bos, 1, ids, &n, &err);
    FUZZ_CHECK(st == PP_OK && n >= 1 && n <= (int)len + 3);
    for (int i = 0; i < n; i++) FUZZ_CHECK(ids[i] >= 0 && ids[i] < t->vocab_size);
    FUZZ_CHECK(ids[n - 1] == t->eos_id);
    if (add_bos) FUZZ_CHECK(ids[0] == t->bos_id);
    char *back = decode_checked(t, ids, n);
    /* llama2c without BOS keeps the dummy-prefix space it added */
    const char *want_prefix = (t->kind == TOK_LLAMA2C && !add_bos && len > 0) ? " " : "";
    FUZZ_CHECK(strlen(back) == strlen(want_prefix) + len);
    FUZZ_CHECK(strncmp(back, want_prefix, strlen(want_prefix)) == 0);
    FUZZ_CHECK(memcmp(back + strlen(want_prefix), text, len) == 0);
    free(back);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_cstr(data, size);
    roundtrip(&byte_tok, text, 1);
    roundtrip(&byte_tok, text, 0);
    roundtrip(&l2c_tok, text, 1);
    roundtrip(&l2c_tok, text, 0);
    free(text);

    /* the input as ids: anything, negative and huge included */
    int n = (int)(size / 4);
    int *ids = malloc((size_t)(n > 0 ? n : 1) * sizeof *ids);
    if (!ids) fuzz_die("malloc");
    memcpy(ids, data, (size_t)n * 4);
    free(decode_checked(&byte_tok, ids, n));
    free(decode_checked(&l2c_tok, ids, n));
    for (int i = 0; i < n; i++) {
        size_t len = 99;
        const char *p = tok_piece(&l2c_tok, i > 0 ? ids[i - 1] : -1, ids[i], &len);
        FUZZ_CHECK(p != NULL && len <= (size_t)l2c_tok.max_token_length);
    }
    free(ids);
    return 0;
}
