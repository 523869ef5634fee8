/* fuzz_tokenizer_json.c - the tokenizer.json reader and the hf-bpe encoder
 * (tok_from_hf_text, tok_encode, tok_decode).
 *
 * Input: tokenizer.json text.  A bad file must give one line (PP_EINPUT or
 * PP_ESYS) and leave nothing allocated; a file that loads must encode the
 * samples (and the input's own first bytes as text) into ids inside the
 * vocabulary, without overflowing the documented buffer, and decode them. */
#include "fuzz_common.h"
#include "model/tokenizer.h"

static const char *samples[] = {"", " ", "Once upon a time,  there was\ta girl.\n\n", "ab c a\xc3\xa9 <tag> bc",
                                "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 12345678",
                                "bad \xff\xfe \xc3 utf8", "<s></s><unk><|end|>"};

static void encode_decode(const tokenizer *t, const char *text) {
    size_t len = strlen(text);
    int *ids = malloc((len + 3) * sizeof *ids);
    if (!ids) fuzz_die("malloc");
    int n = -1;
    pp_err err;
    pp_status st = tok_encode(t, text, 1, 1, ids, &n, &err);
    FUZZ_CHECK_ERR(st, err);
    if (st == PP_OK) {
        FUZZ_CHECK(n >= 0 && n <= (int)len + 3);
        for (int i = 0; i < n; i++) FUZZ_CHECK(ids[i] >= 0 && ids[i] < t->vocab_size);
        size_t need = tok_decode(t, ids, n, NULL, 0);
        char *full = malloc(need + 1);
        if (!full) fuzz_die("malloc");
        FUZZ_CHECK(tok_decode(t, ids, n, full, need + 1) == need && full[need] == '\0');
        free(full);
    }
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tokenizer t;
    pp_err err;
    pp_status st = tok_from_hf_text(&t, (const char *)data, size, NULL, -2, -2, (const int[]){0}, 1, "fuzz.json", &err);
    FUZZ_CHECK_ERR(st, err);
    if (st != PP_OK) {
        FUZZ_CHECK(t.hf == NULL && t.pieces == NULL);
        return 0;
    }
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) encode_decode(&t, samples[i]);
    char own[64];
    size_t k = size < sizeof own - 1 ? size : sizeof own - 1;
    memcpy(own, data, k);
    own[k] = '\0';
    encode_decode(&t, own);
    tok_free(&t);
    return 0;
}
