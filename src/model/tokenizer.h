/* tokenizer.h - byte-level, llama2.c SentencePiece-BPE and Hugging Face
 * tokenizer.json BPE tokenizers.
 *
 * One struct serves every kind.  Token strings are kept as one byte blob
 * plus offsets; a model file stores them as one string per token, and an
 * HF tokenizer also its tokenizer.json text, parsed again on load (see
 * model_io and docs/tokenizers.md). */
#ifndef TOKENIZER_H
#define TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/pp_error.h"

typedef enum { TOK_BYTE = 0, TOK_LLAMA2C = 1, TOK_HF_BPE = 2 } tok_kind;

/* Most end-of-sequence ids a tokenizer keeps (Llama-3 has 3). */
#define TOK_MAX_EOS 8

/* Private state of a TOK_HF_BPE tokenizer (tokenizer_hf.c). */
typedef struct hf_bpe hf_bpe;

typedef struct {
    tok_kind kind;
    int vocab_size;
    int bos_id, eos_id, pad_id;  /* pad_id = -1 when the vocabulary has none;
                                    bos_id = -1 for an HF tokenizer without BOS */
    /* every end-of-sequence id (eos_ids[0] == eos_id); generation stops on
     * any of them (tok_is_eos) */
    int n_eos;
    int eos_ids[TOK_MAX_EOS];
    int max_token_length;
    /* token i's bytes are pieces[piece_offsets[i] .. piece_offsets[i+1]) */
    char *pieces;
    int64_t *piece_offsets;      /* vocab_size + 1 */
    float *scores;               /* merge scores (llama2c); zeros for byte */
    /* private: sorted index for encoding */
    int *sorted_ids;
    hf_bpe *hf;                  /* private: TOK_HF_BPE only, else NULL */
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

/* Hugging Face tokenizer.json (BPE model; see docs/tokenizers.md for the
 * components understood).  tokenizer_config.json (may be NULL) gives
 * bos_token / eos_token / pad_token and add_bos_token; a
 * generation_config.json beside it (or beside tokenizer.json) adds its
 * eos_token_id(s).  A component not implemented is refused by name; bad JSON
 * or a missing field gives one line naming the file.  PP_EINPUT then. */
PP_MUST_CHECK pp_status tok_load_hf(tokenizer *t, const char *tokenizer_json_path,
                                    const char *tokenizer_config_path_or_NULL, pp_err *err);
/* The same from texts already in memory (a model file keeps them): json and
 * config (NULL = none) are copied; eos_ids (n_eos >= 1) and bos/pad (-2 =
 * from the texts) replace what the texts say.  what names the source. */
PP_MUST_CHECK pp_status tok_from_hf_text(tokenizer *t, const char *json, size_t json_len, const char *config,
                                         int bos, int pad, const int *eos_ids, int n_eos, const char *what,
                                         pp_err *err);
/* Write DIR/tokenizer.json and DIR/tokenizer_config.json (atomically).  An
 * HF tokenizer writes back the texts it was loaded from (config: generated
 * when there was none); a llama2.c tokenizer becomes a SentencePiece-style
 * BPE tokenizer.json that encodes as run.c does (merges ranked by the
 * merged piece's score).  The byte kind is refused. */
PP_MUST_CHECK pp_status tok_save_hf(const tokenizer *t, const char *dir, pp_err *err);
/* The tokenizer.json / tokenizer_config.json texts of an HF tokenizer
 * (config may be NULL), for storing in a model file; NULL for other kinds. */
const char *tok_hf_json(const tokenizer *t, size_t *len);
const char *tok_hf_config(const tokenizer *t);
/* "byte", "llama2c" or "hf-bpe": the name files record. */
const char *tok_kind_name(tok_kind k);
/* 1 when id ends a sequence (any of t->eos_ids). */
int tok_is_eos(const tokenizer *t, int id);
/* 1 when id is a special token: decodes to nothing (BOS, EOS, PAD, HF
 * added tokens marked special). */
int tok_is_special(const tokenizer *t, int id);

/* Encode UTF-8 text.  For TOK_LLAMA2C this is exactly run.c's algorithm:
 * optional BOS, dummy-prefix space when text is non-empty, code points
 * looked up with byte fallback (id = byte + 3), then greedy best-score
 * pair merges.  For TOK_BYTE: optional BOS then raw bytes.
 * For TOK_HF_BPE: added tokens split the text first, the rest goes through
 * normalizer, pre-tokenizer and BPE as Hugging Face tokenizers does;
 * add_bos adds the post-processor's special tokens (TemplateProcessing, or
 * BOS when tokenizer_config.json says add_bos_token and the tokenizer.json
 * has no template); invalid UTF-8 is first replaced by U+FFFD per bad byte
 * (as text reaching HF from a lossy decode would be).
 * `ids` must hold at least strlen(text) + 3 entries; *n_ids receives the
 * count.  Any byte string is accepted: invalid UTF-8 falls back to byte
 * tokens.  An hf-bpe text that needs more ids than that fails with
 * PP_EINPUT: callers that take any text size their buffer with
 * tok_max_ids and call tok_encode_cap. */
PP_MUST_CHECK pp_status tok_encode(const tokenizer *t, const char *text, int add_bos, int add_eos,
                     int *ids, int *n_ids, pp_err *err);
/* The most ids a text of len bytes can encode to, BOS and EOS included:
 * len + 3 for the byte and llama2.c kinds; for hf-bpe a byte can become
 * three (a space normalized to U+2581, or an invalid byte to U+FFFD, each
 * byte-fallen-back), plus the prepended U+2581 and the post-processor's
 * special tokens. */
size_t tok_max_ids(const tokenizer *t, size_t len);
PP_MUST_CHECK pp_status tok_encode_cap(const tokenizer *t, const char *text, int add_bos, int add_eos,
                                       int *ids, int cap, int *n_ids, pp_err *err);

/* Bytes of token `id` as it appears in decoded text given the previous
 * token (llama2c: strip the leading space after BOS, turn <0xXX> pieces
 * into the raw byte).  Returns a pointer to static-per-tokenizer storage or
 * into t->pieces plus its length; BOS/EOS/PAD decode to nothing.
 * Ids outside the vocabulary also give "" (length 0); <unk> gives its piece
 * text, as run.c does.  TOK_HF_BPE: the decoder's bytes of the token
 * (byte-level: the raw bytes, possibly part of a UTF-8 character that the
 * next token completes; SentencePiece: "\xe2\x96\x81" as a space, <0xXX> as
 * the byte, one leading space dropped at the start (prev_id < 0 or BOS));
 * special tokens give "".  Nothing is allocated; the pointer stays valid while
 * the tokenizer lives (raw bytes point into a constant table). */
const char *tok_piece(const tokenizer *t, int prev_id, int id, size_t *len);

/* Decode a sequence into buf (NUL-terminated, truncated to cap).  Returns
 * the number of bytes the full text needs (like snprintf). */
size_t tok_decode(const tokenizer *t, const int *ids, int n, char *buf, size_t cap);

#endif
