/* tokenizer.h - byte-level and llama2.c SentencePiece-BPE tokenizers.
 *
 * One struct serves both kinds.  Token strings are stored as one byte blob
 * plus offsets, so the tokenizer can be saved in a model file as plain
 * arrays (see model_io) and loaded back identically. */
#ifndef TOKENIZER_H
#define TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/pp_error.h"

typedef enum { TOK_BYTE = 0, TOK_LLAMA2C = 1 } tok_kind;

typedef struct {
    tok_kind kind;
    int vocab_size;
    int bos_id, eos_id, pad_id;  /* pad_id = -1 when the vocabulary has none */
    int max_token_length;
    /* token i's bytes are pieces[piece_offsets[i] .. piece_offsets[i+1]) */
    char *pieces;
    int64_t *piece_offsets;      /* vocab_size + 1 */
    float *scores;               /* merge scores (llama2c); zeros for byte */
    /* private: sorted index for encoding */
    int *sorted_ids;
} tokenizer;

/* Byte-level: ids 0..255 are bytes, 256 BOS, 257 EOS, 258 PAD. */
PP_MUST_CHECK pp_status tok_init_bytes(tokenizer *t, pp_err *err);
/* llama2.c tokenizer.bin (int32 max_token_length, then per token: float
 * score, int32 length, bytes).  vocab_size comes from the model header. */
/* The whole file is validated before anything is built: a size within what
 * vocab_size tokens of max_token_length bytes can take, every length in
 * 0..max_token_length and inside the file, no bytes left over, ids 3..258
 * the byte-fallback pieces <0x00>..<0xFF>.  Bad files give PP_EINPUT with a
 * one-line message naming the path; t is then left empty. */
PP_MUST_CHECK pp_status tok_load_llama2c(tokenizer *t, const char *path, int vocab_size, pp_err *err);
/* Write llama2.c tokenizer.bin. */
PP_MUST_CHECK pp_status tok_save_llama2c(const tokenizer *t, const char *path, pp_err *err);
/* Build from arrays (as stored in a model file); copies them, validates. */
/* pieces must hold offsets[vocab_size] bytes (the caller checks that against
 * its dataset size); offsets[0] == 0 and never decreasing; bos/eos in range,
 * pad in range or -1.  scores may be NULL (zeros).  max_token_length is set
 * to the longest piece; assign a stored value afterwards if it differs. */
PP_MUST_CHECK pp_status tok_from_arrays(tokenizer *t, tok_kind kind, int vocab_size, int bos, int eos, int pad,
                          const char *pieces, const int64_t *offsets, const float *scores,
                          pp_err *err);
void tok_free(tokenizer *t);

/* Encode UTF-8 text.  For TOK_LLAMA2C this is exactly run.c's algorithm:
 * optional BOS, dummy-prefix space when text is non-empty, code points
 * looked up with byte fallback (id = byte + 3), then greedy best-score
 * pair merges.  For TOK_BYTE: optional BOS then raw bytes.
 * `ids` must hold at least strlen(text) + 3 entries; *n_ids receives the count.
 * Any byte string is accepted: invalid UTF-8 falls back to byte tokens. */
PP_MUST_CHECK pp_status tok_encode(const tokenizer *t, const char *text, int add_bos, int add_eos,
                     int *ids, int *n_ids, pp_err *err);

/* Bytes of token `id` as it appears in decoded text given the previous
 * token (llama2c: strip the leading space after BOS, turn <0xXX> pieces
 * into the raw byte).  Returns a pointer to static-per-tokenizer storage or
 * into t->pieces plus its length; BOS/EOS/PAD decode to nothing.
 * Ids outside the vocabulary also give "" (length 0); <unk> gives its piece
 * text, as run.c does.  Nothing is allocated; the pointer stays valid while
 * the tokenizer lives (raw bytes point into a constant table). */
const char *tok_piece(const tokenizer *t, int prev_id, int id, size_t *len);

/* Decode a sequence into buf (NUL-terminated, truncated to cap).  Returns
 * the number of bytes the full text needs (like snprintf). */
size_t tok_decode(const tokenizer *t, const int *ids, int n, char *buf, size_t cap);

#endif
