/* fuzz_tokenizer.c - the llama2.c tokenizer.bin reader (tok_load_llama2c).
 *
 * Input: 2 bytes little-endian vocab_size (what the model header would
 * say), then the tokenizer.bin bytes.  A file that loads must save back to
 * the same bytes, encode and decode text (including its own bytes) without
 * overflowing the documented buffer sizes, and decode into short buffers
 * exactly like snprintf (same length, a prefix of the full text). */
#include "fuzz_common.h"
#include "model/tokenizer.h"

static const char *samples[] = {"", " ", "Once upon a time, there was a little girl.",
                                "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80",
                                "bad \xff\xfe \xc3 utf8 \xed\xa0\x80", "<0x41><s></s><unk>"};

/* Encode text, decode it into buffers of every small size and a big one. */
static void roundtrip(const tokenizer *t, const char *text) {
    size_t len = strlen(text);
    int *ids = malloc((len + 3) * sizeof *ids); /* exactly what tokenizer.h asks for */
    if (!ids) fuzz_die("malloc");
    int n = -1;
    pp_err err;
    pp_status st = tok_encode(t, text, 1, 1, ids, &n, &err);
    FUZZ_CHECK_ERR(st, err);
    FUZZ_CHECK(st == PP_OK && n >= 2 && n <= (int)len + 3);
    for (int i = 0; i < n; i++) FUZZ_CHECK(ids[i] >= 0 && ids[i] < t->vocab_size);
    size_t need = tok_decode(t, ids, n, NULL, 0);
    char *full = malloc(need + 1);
    if (!full) fuzz_die("malloc");
    FUZZ_CHECK(tok_decode(t, ids, n, full, need + 1) == need && full[need] == '\0');
    for (size_t cap = 1; cap < 8 && cap <= need; cap++) {
        char small[8];
        FUZZ_CHECK(tok_decode(t, ids, n, small, cap) == need);
        size_t got = need < cap - 1 ? need : cap - 1; /* pieces may hold NULs */
        FUZZ_CHECK(small[got] == '\0' && memcmp(small, full, got) == 0);
    }
    free(full);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    int vocab = data[0] | data[1] << 8;
    const char *path = fuzz_file(data + 2, size - 2, 0);
    tokenizer t;
    pp_err err;
    pp_status st = tok_load_llama2c(&t, path, vocab, &err);
    FUZZ_CHECK_ERR(st, err);
    if (st != PP_OK) {
        FUZZ_CHECK(t.pieces == NULL && t.sorted_ids == NULL && t.vocab_size == 0);
        return 0;
    }
    FUZZ_CHECK(t.kind == TOK_LLAMA2C && t.vocab_size == vocab);

    char out[300];
    snprintf(out, sizeof out, "%s/tokenizer.bin", fuzz_dir());
    st = tok_save_llama2c(&t, out, &err);
    FUZZ_CHECK_ERR(st, err);
    FUZZ_CHECK(st == PP_OK);
    size_t n;
    uint8_t *back = fuzz_slurp(out, &n);
    FUZZ_CHECK(n == size - 2 && memcmp(back, data + 2, n) == 0);
    free(back);
    unlink(out);

    for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) roundtrip(&t, samples[i]);
    char *text = fuzz_cstr(data + 2, size - 2 < 512 ? size - 2 : 512);
    roundtrip(&t, text);
    free(text);
    tok_free(&t);
    return 0;
}
