/* fuzz_vocab.h - a small llama2.c-style vocabulary made in code, for the
 * fuzz targets and the seed generator.
 *
 * Layout as llama2.c's tokenizer.bin: <unk>, <s>, </s>, the 256
 * byte-fallback pieces <0x00>..<0xFF> (ids 3..258), then the pieces below,
 * then fillers up to the requested size.  The pieces cover what the encoder
 * must handle: chains of merges, equal scores (leftmost wins), a duplicate
 * piece (lowest id wins), an empty piece, a score at run.c's floor (never
 * merged), an infinite score, multi-byte code points and a lone invalid
 * byte.  No piece but the byte-fallback ones starts with '<' and none
 * contains a NUL, so decode(encode(text)) == text holds for every
 * NUL-free text (fuzz_tokenizer_text checks it). */
#ifndef FUZZ_VOCAB_H
#define FUZZ_VOCAB_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/tokenizer.h"

static const struct {
    const char *piece;
    float score;
} fuzz_pieces[] = {
    {" ", -1.0f},    {"e", -2.0f},     {"t", -2.0f},    {"h", -3.0f},        {"th", -4.0f},
    {"he", -4.0f},   {"the", -5.0f},   {" t", -5.0f},   {" the", -6.0f},     {"a", -2.0f},
    {"b", -2.0f},    {"c", -2.0f},     {"ab", -3.0f},   {"bc", -3.0f},       {"abc", -7.0f},
    {"e", -9.0f},    {"", 0.0f},       {"ee", -1e10f},  {"tt", INFINITY},    {"  ", -1.0f},
    {"\xc3\xa9", -1.0f} /* é */,       {"\xe6\x97\xa5", -1.0f} /* 日 */,
    {"\xe6\x9c\xac", -1.0f} /* 本 */,  {"\xe6\x97\xa5\xe6\x9c\xac", -2.0f} /* 日本 */,
    {"\xf0\x9f\x98\x80", -1.0f} /* U+1F600 */, {"\xff", -1.0f}, {"\n", -1.0f}, {"\n\n", -2.0f},
};
#define FUZZ_N_PIECES ((int)(sizeof fuzz_pieces / sizeof *fuzz_pieces))
#define FUZZ_VOCAB_FULL (259 + FUZZ_N_PIECES)

/* Build the vocabulary with vocab_size tokens (>= 259; fewer than
 * FUZZ_VOCAB_FULL drops pieces from the end of the list). */
static inline pp_status fuzz_make_vocab(tokenizer *t, int vocab_size, pp_err *err) {
    if (vocab_size < 259) return pp_fail(err, PP_EINPUT, "fuzz vocabulary needs >= 259 tokens");
    size_t cap = 64 + 6 * 256 + 16 * (size_t)vocab_size;
    char *blob = malloc(cap);
    int64_t *off = malloc(((size_t)vocab_size + 1) * sizeof *off);
    float *scores = calloc((size_t)vocab_size, sizeof *scores);
    if (!blob || !off || !scores) {
        free(blob), free(off), free(scores);
        return pp_fail(err, PP_ESYS, "out of memory");
    }
    size_t n = 0;
    for (int i = 0; i < vocab_size; i++) {
        off[i] = (int64_t)n;
        char tmp[32];
        const char *p = tmp;
        if (i == 0) p = "<unk>";
        else if (i == 1) p = "<s>";
        else if (i == 2) p = "</s>";
        else if (i < 259) snprintf(tmp, sizeof tmp, "<0x%02X>", i - 3);
        else if (i - 259 < FUZZ_N_PIECES) {
            p = fuzz_pieces[i - 259].piece;
            scores[i] = fuzz_pieces[i - 259].score;
        } else {
            snprintf(tmp, sizeof tmp, "<fill%d>", i);
            scores[i] = -100.0f;
        }
        size_t len = strlen(p);
        memcpy(blob + n, p, len);
        n += len;
    }
    off[vocab_size] = (int64_t)n;
    pp_status st = tok_from_arrays(t, TOK_LLAMA2C, vocab_size, 1, 2, -1, blob, off, scores, err);
    free(blob);
    free(off);
    free(scores);
    return st;
}

#endif
