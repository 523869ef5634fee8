/* tokenizer_impl.h - what tokenizer.c and tokenizer_hf.c share; private to
 * src/model (nothing outside includes it). */
#ifndef TOKENIZER_IMPL_H
#define TOKENIZER_IMPL_H

#include <stdio.h>

#include "model/tokenizer.h"

/* Sanity limits for files we did not write (real vocabularies are ~1e5
 * tokens of at most a few hundred bytes). */
#define TOK_MAX_VOCAB (1 << 24)
#define TOK_MAX_PIECE_LEN 65536

/* Bytes of token id (not NUL-terminated). */
static inline const char *tok_piece_bytes(const tokenizer *t, int id, size_t *len) {
    *len = (size_t)(t->piece_offsets[id + 1] - t->piece_offsets[id]);
    return t->pieces + t->piece_offsets[id];
}

/* Id of the piece equal to a||b (lowest id if duplicated), or -1; needs the
 * sorted index. */
int tok_find_piece(const tokenizer *t, const char *a, size_t alen, const char *b, size_t blen);
PP_MUST_CHECK pp_status tok_build_index(tokenizer *t, const char *what, pp_err *err);
/* The byte a "<0xXX>" piece stands for, or -1. */
int tok_byte_piece_value(const char *p, size_t len);
/* One raw byte as a stable one-byte string. */
const char *tok_raw_byte(int b);

/* Close f (written to tmp; ok = 0 when a write failed) and rename tmp to
 * path, or remove tmp: the output exists under its name only when whole. */
PP_MUST_CHECK pp_status tok_close_and_rename(FILE *f, int ok, const char *tmp, const char *path, pp_err *err);

/* A possible merge of the adjacent tokens at positions left and right
 * (holding ids a and b) into token id; higher score first. */
typedef struct {
    float score;
    int left, right, a, b, id;
} merge_cand;

/* Work space for tok_merge_pairs on up to cap tokens (allocated once per
 * encode call, not per word). */
typedef struct {
    int cap;
    int *next, *prev;
    merge_cand *heap; /* 3 * cap */
} merge_scratch;

PP_MUST_CHECK pp_status merge_scratch_reserve(merge_scratch *s, int cap, pp_err *err);
void merge_scratch_free(merge_scratch *s);
/* Merge adjacent tokens of tok[0..*n_tok) in place: best score first, then
 * leftmost, until no pair merges (llama2c: by the merged piece's score;
 * HF: by merge rank).  s must have room for *n_tok. */
void tok_merge_pairs(const tokenizer *t, int *tok, int *n_tok, merge_scratch *s);

/* tokenizer_hf.c */
int hf_pair_merge(const hf_bpe *hf, int a, int b, float *score);
PP_MUST_CHECK pp_status hf_encode(const tokenizer *t, const char *text, int add_bos, int *ids, int cap,
                                  int *n_ids, pp_err *err);
const char *hf_piece(const tokenizer *t, int prev_id, int id, size_t *len);
void hf_free(hf_bpe *hf);

#endif
