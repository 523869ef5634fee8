/* tokenizer.c - byte-level and llama2.c SentencePiece-BPE tokenizers.
 *
 * Both kinds keep every token's bytes in one blob with offsets (see
 * tokenizer.h).  The llama2.c kind follows run.c's encode/decode exactly:
 *   encode: [BOS] [" " if text non-empty] code points looked up as pieces,
 *           else byte fallback (id = byte + 3); then, while any adjacent pair
 *           concatenates to a vocabulary piece, merge the pair whose piece
 *           has the highest score (leftmost on ties); [EOS].
 *   decode: after BOS drop a leading space; "<0xXX>" pieces are raw bytes.
 * Lookups use an index of ids sorted by piece bytes (binary search), as
 * run.c does with qsort/bsearch. */
#include "model/tokenizer_impl.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* llama2.c ids 0..2 are <unk>, BOS, EOS; raw byte b is token b + 3. */
#define L2C_BOS 1
#define L2C_EOS 2
#define L2C_BYTE0 3
/* run.c starts its best-score search here, so merges scoring at or below
 * it are never taken; we keep that. */
#define MERGE_SCORE_FLOOR -1e10f

/* Every byte value once, so tok_piece can hand out a raw byte without
 * allocating and without pointing into a struct that may be copied. */
#define B4(n) (n), (n) + 1, (n) + 2, (n) + 3
#define B16(n) B4(n), B4((n) + 4), B4((n) + 8), B4((n) + 12)
#define B64(n) B16(n), B16((n) + 16), B16((n) + 32), B16((n) + 48)
static const unsigned char all_bytes[256] = {B64(0), B64(64), B64(128), B64(192)};

#define piece_of tok_piece_bytes

const char *tok_raw_byte(int b) { return (const char *)&all_bytes[b & 255]; }

/* ------------------------------------------------------------------------ */
/* sorted piece index */

/* Compare the concatenation a||b with piece p, bytewise unsigned like
 * strcmp (shorter prefix first). */
static int cmp_concat(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen,
                      const unsigned char *p, size_t plen) {
    size_t n = alen < plen ? alen : plen;
    int c = n ? memcmp(a, p, n) : 0;
    if (c) return c;
    if (plen <= alen) return (alen + blen > plen) ? 1 : 0;
    size_t rest = plen - alen;
    n = blen < rest ? blen : rest;
    c = n ? memcmp(b, p + alen, n) : 0;
    if (c) return c;
    return (blen > rest) - (blen < rest);
}

/* Id of the piece equal to a||b (lowest id if duplicated), or -1. */
int tok_find_piece(const tokenizer *t, const char *a, size_t alen, const char *b, size_t blen) {
    int lo = 0, hi = t->vocab_size; /* first index whose piece >= key */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        size_t plen;
        const char *p = piece_of(t, t->sorted_ids[mid], &plen);
        if (cmp_concat((const unsigned char *)a, alen, (const unsigned char *)b, blen,
                       (const unsigned char *)p, plen) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == t->vocab_size) return -1;
    int id = t->sorted_ids[lo];
    size_t plen;
    const char *p = piece_of(t, id, &plen);
    return cmp_concat((const unsigned char *)a, alen, (const unsigned char *)b, blen,
                      (const unsigned char *)p, plen) == 0 ? id : -1;
}

typedef struct {
    const unsigned char *s;
    size_t len;
    int id;
} sort_entry;

static int cmp_sort_entry(const void *x, const void *y) {
    const sort_entry *a = x, *b = y;
    int c = cmp_concat(a->s, a->len, NULL, 0, b->s, b->len);
    if (c) return c;
    return (a->id > b->id) - (a->id < b->id); /* duplicates: lowest id first */
}

pp_status tok_build_index(tokenizer *t, const char *what, pp_err *err) {
    sort_entry *tmp = malloc((size_t)t->vocab_size * sizeof *tmp);
    t->sorted_ids = malloc((size_t)t->vocab_size * sizeof *t->sorted_ids);
    if (!tmp || !t->sorted_ids) {
        free(tmp);
        return pp_fail(err, PP_ESYS, "%s: out of memory for the sorted index of %d tokens", what,
                       t->vocab_size);
    }
    for (int i = 0; i < t->vocab_size; i++) {
        size_t len;
        tmp[i].s = (const unsigned char *)piece_of(t, i, &len);
        tmp[i].len = len;
        tmp[i].id = i;
    }
    qsort(tmp, (size_t)t->vocab_size, sizeof *tmp, cmp_sort_entry);
    for (int i = 0; i < t->vocab_size; i++) t->sorted_ids[i] = tmp[i].id;
    free(tmp);
    return PP_OK;
}

/* ------------------------------------------------------------------------ */
/* construction */

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* The byte a "<0xXX>" piece stands for, or -1 if it is not one. */
int tok_byte_piece_value(const char *p, size_t len) {
    if (len != 6 || p[0] != '<' || p[1] != '0' || p[2] != 'x' || p[5] != '>') return -1;
    int hi = hex_value(p[3]), lo = hex_value(p[4]);
    return (hi < 0 || lo < 0) ? -1 : hi * 16 + lo;
}

/* Checks shared by the file loader and tok_from_arrays, run on the final
 * arrays: ids in range, and the pieces the encoders rely on. */
static pp_status check_layout(const tokenizer *t, const char *what, pp_err *err) {
    if (t->bos_id < 0 || t->bos_id >= t->vocab_size || t->eos_id < 0 || t->eos_id >= t->vocab_size)
        return pp_fail(err, PP_EINPUT, "%s: bos id %d / eos id %d outside vocabulary of %d", what,
                       t->bos_id, t->eos_id, t->vocab_size);
    if (t->pad_id < -1 || t->pad_id >= t->vocab_size)
        return pp_fail(err, PP_EINPUT, "%s: pad id %d outside vocabulary of %d (-1 = none)", what,
                       t->pad_id, t->vocab_size);
    if (t->kind == TOK_BYTE) {
        if (t->vocab_size < 256)
            return pp_fail(err, PP_EINPUT, "%s: byte-level vocabulary has %d tokens, needs >= 256",
                           what, t->vocab_size);
        for (int i = 0; i < 256; i++) {
            size_t len;
            const char *p = piece_of(t, i, &len);
            if (len != 1 || (unsigned char)p[0] != i)
                return pp_fail(err, PP_EINPUT, "%s: byte-level token %d is not the single byte 0x%02X",
                               what, i, i);
        }
    } else {
        if (t->vocab_size < L2C_BYTE0 + 256)
            return pp_fail(err, PP_EINPUT,
                           "%s: llama2.c vocabulary has %d tokens, needs >= 259 (<unk>, <s>, </s>, "
                           "256 byte-fallback tokens)", what, t->vocab_size);
        for (int b = 0; b < 256; b++) {
            size_t len;
            const char *p = piece_of(t, L2C_BYTE0 + b, &len);
            if (tok_byte_piece_value(p, len) != b)
                return pp_fail(err, PP_EINPUT,
                               "%s: token %d should be the byte-fallback piece <0x%02X> (run.c "
                               "encodes byte b as id b+3)", what, L2C_BYTE0 + b, b);
        }
    }
    return PP_OK;
}

pp_status tok_init_bytes(tokenizer *t, pp_err *err) {
    static const char *specials[3] = {"<s>", "</s>", "<pad>"};
    memset(t, 0, sizeof *t);
    t->kind = TOK_BYTE;
    t->vocab_size = 259;
    t->bos_id = 256;
    t->eos_id = 257;
    t->pad_id = 258;
    t->n_eos = 1;
    t->eos_ids[0] = t->eos_id;
    size_t blob = 256;
    for (int i = 0; i < 3; i++) blob += strlen(specials[i]);
    t->pieces = malloc(blob);
    t->piece_offsets = malloc((size_t)(t->vocab_size + 1) * sizeof *t->piece_offsets);
    t->scores = calloc((size_t)t->vocab_size, sizeof *t->scores);
    if (!t->pieces || !t->piece_offsets || !t->scores) {
        tok_free(t);
        return pp_fail(err, PP_ESYS, "byte-level tokenizer: out of memory");
    }
    int64_t off = 0;
    for (int i = 0; i < 256; i++) {
        t->piece_offsets[i] = off;
        t->pieces[off++] = (char)i;
    }
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(specials[i]);
        t->piece_offsets[256 + i] = off;
        memcpy(t->pieces + off, specials[i], n);
        off += (int64_t)n;
    }
    t->piece_offsets[t->vocab_size] = off;
    t->max_token_length = 5;
    return PP_OK;
}

static int32_t read_i32(const unsigned char *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Read the whole file (size bytes, already checked against the header) into a new buffer. */
static pp_status read_file_bounded(FILE *f, const char *path, long size, unsigned char **out,
                                   pp_err *err) {
    unsigned char *buf = malloc(size > 0 ? (size_t)size : 1);
    if (!buf) return pp_fail(err, PP_ESYS, "%s: out of memory reading %ld bytes", path, size);
    if (fseek(f, 0, SEEK_SET) != 0 || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        return pp_fail(err, PP_ESYS, "%s: read failed: %s", path, strerror(errno));
    }
    *out = buf;
    return PP_OK;
}

pp_status tok_load_llama2c(tokenizer *t, const char *path, int vocab_size, pp_err *err) {
    memset(t, 0, sizeof *t);
    if (vocab_size < L2C_BYTE0 + 256 || vocab_size > TOK_MAX_VOCAB)
        return pp_fail(err, PP_EINPUT,
                       "%s: model vocab_size %d is not a llama2.c vocabulary (need 259..%d)", path,
                       vocab_size, TOK_MAX_VOCAB);
    FILE *f = fopen(path, "rb");
    if (!f) return pp_fail(err, PP_EINPUT, "%s: cannot open tokenizer: %s", path, strerror(errno));
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size < 0) {
        fclose(f);
        return pp_fail(err, PP_ESYS, "%s: cannot determine file size: %s", path, strerror(errno));
    }
    if (size == 0) {
        fclose(f);
        return pp_fail(err, PP_EINPUT, "%s: empty file (0 bytes), not a llama2.c tokenizer.bin", path);
    }
    if (size < 4) {
        fclose(f);
        return pp_fail(err, PP_EINPUT, "%s: truncated: %ld bytes, header needs 4", path, size);
    }
    /* The header bounds the largest plausible file before we allocate. */
    unsigned char head[4];
    if (fseek(f, 0, SEEK_SET) != 0 || fread(head, 1, 4, f) != 4) {
        fclose(f);
        return pp_fail(err, PP_ESYS, "%s: cannot read header: %s", path, strerror(errno));
    }
    int32_t max_len = read_i32(head);
    if (max_len < 1 || max_len > TOK_MAX_PIECE_LEN) {
        fclose(f);
        return pp_fail(err, PP_EINPUT, "%s: max_token_length %d outside 1..%d", path, (int)max_len,
                       TOK_MAX_PIECE_LEN);
    }
    int64_t largest = 4 + (int64_t)vocab_size * (8 + (int64_t)max_len);
    if ((int64_t)size > largest) {
        fclose(f);
        return pp_fail(err, PP_EINPUT,
                       "%s: %ld bytes is more than %d tokens of at most %d bytes can take (%lld); "
                       "wrong vocab_size for this tokenizer?", path, size, vocab_size, (int)max_len,
                       (long long)largest);
    }
    unsigned char *buf = NULL;
    pp_status st = read_file_bounded(f, path, size, &buf, err);
    fclose(f);
    if (st != PP_OK) return st;

    /* Pass 1: validate every record against the file before building. */
    int64_t pos = 4, blob = 0;
    for (int i = 0; i < vocab_size; i++) {
        if (pos + 8 > size) {
            free(buf);
            return pp_fail(err, PP_EINPUT,
                           "%s: truncated at token %d of %d (offset %lld of %ld bytes)", path, i,
                           vocab_size, (long long)pos, size);
        }
        int32_t len = read_i32(buf + pos + 4);
        if (len < 0 || len > max_len) {
            free(buf);
            return pp_fail(err, PP_EINPUT, "%s: token %d has length %d, outside 0..max_token_length %d",
                           path, i, (int)len, (int)max_len);
        }
        if (pos + 8 + len > size) {
            free(buf);
            return pp_fail(err, PP_EINPUT, "%s: truncated inside token %d of %d (needs %d bytes at "
                           "offset %lld, file has %ld)", path, i, vocab_size, (int)len,
                           (long long)(pos + 8), size);
        }
        pos += 8 + len;
        blob += len;
    }
    if (pos != size) {
        free(buf);
        return pp_fail(err, PP_EINPUT,
                       "%s: %lld bytes left after %d tokens; the tokenizer does not match the "
                       "model's vocab_size", path, (long long)(size - pos), vocab_size);
    }

    /* Pass 2: build. */
    t->kind = TOK_LLAMA2C;
    t->vocab_size = vocab_size;
    t->bos_id = L2C_BOS;
    t->eos_id = L2C_EOS;
    t->pad_id = -1;
    t->n_eos = 1;
    t->eos_ids[0] = L2C_EOS;
    t->max_token_length = max_len;
    t->pieces = malloc(blob > 0 ? (size_t)blob : 1);
    t->piece_offsets = malloc((size_t)(vocab_size + 1) * sizeof *t->piece_offsets);
    t->scores = malloc((size_t)vocab_size * sizeof *t->scores);
    if (!t->pieces || !t->piece_offsets || !t->scores) {
        free(buf);
        tok_free(t);
        return pp_fail(err, PP_ESYS, "%s: out of memory for %d tokens", path, vocab_size);
    }
    pos = 4;
    int64_t off = 0;
    for (int i = 0; i < vocab_size; i++) {
        int32_t len = read_i32(buf + pos + 4);
        memcpy(&t->scores[i], buf + pos, sizeof(float));
        t->piece_offsets[i] = off;
        memcpy(t->pieces + off, buf + pos + 8, (size_t)len);
        off += len;
        pos += 8 + len;
    }
    t->piece_offsets[vocab_size] = off;
    free(buf);

    st = check_layout(t, path, err);
    if (st == PP_OK) st = tok_build_index(t, path, err);
    if (st != PP_OK) tok_free(t);
    return st;
}

pp_status tok_save_llama2c(const tokenizer *t, const char *path, pp_err *err) {
    if (t->kind != TOK_LLAMA2C)
        return pp_fail(err, PP_EINPUT, "%s: only a llama2.c tokenizer can be written as tokenizer.bin",
                       path);
    int longest = 0;
    for (int i = 0; i < t->vocab_size; i++) {
        int64_t len = t->piece_offsets[i + 1] - t->piece_offsets[i];
        if (len > longest) longest = (int)len;
    }
    if (t->max_token_length < longest)
        return pp_fail(err, PP_EINPUT, "%s: max_token_length %d is shorter than the longest token (%d)",
                       path, t->max_token_length, longest);
    /* Write beside the target and rename, so a failed write leaves no
     * half file under the real name. */
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return pp_fail(err, PP_EINPUT, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return pp_fail(err, PP_ESYS, "%s: cannot create: %s", tmp, strerror(errno));
    int ok = 1;
    int32_t max_len = t->max_token_length;
    ok &= fwrite(&max_len, sizeof max_len, 1, f) == 1;
    for (int i = 0; ok && i < t->vocab_size; i++) {
        size_t len;
        const char *p = piece_of(t, i, &len);
        int32_t len32 = (int32_t)len;
        ok &= fwrite(&t->scores[i], sizeof(float), 1, f) == 1;
        ok &= fwrite(&len32, sizeof len32, 1, f) == 1;
        if (len) ok &= fwrite(p, 1, len, f) == len;
    }
    return tok_close_and_rename(f, ok, tmp, path, err);
}

pp_status tok_close_and_rename(FILE *f, int ok, const char *tmp, const char *path, pp_err *err) {
    if (fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return pp_fail(err, PP_ESYS, "%s: write failed: %s", path, strerror(e));
    }
    return PP_OK;
}

pp_status tok_from_arrays(tokenizer *t, tok_kind kind, int vocab_size, int bos, int eos, int pad,
                          const char *pieces, const int64_t *offsets, const float *scores,
                          pp_err *err) {
    const char *what = "tokenizer arrays";
    memset(t, 0, sizeof *t);
    if (kind != TOK_BYTE && kind != TOK_LLAMA2C)
        return pp_fail(err, PP_EINPUT, "%s: unknown tokenizer kind %d", what, (int)kind);
    if (vocab_size < 1 || vocab_size > TOK_MAX_VOCAB)
        return pp_fail(err, PP_EINPUT, "%s: vocab_size %d outside 1..%d", what, vocab_size,
                       TOK_MAX_VOCAB);
    if (!offsets || (!pieces && offsets[vocab_size] > 0))
        return pp_fail(err, PP_EINPUT, "%s: missing pieces or offsets", what);
    if (offsets[0] != 0)
        return pp_fail(err, PP_EINPUT, "%s: offsets[0] is %lld, must be 0", what,
                       (long long)offsets[0]);
    int longest = 0;
    for (int i = 0; i < vocab_size; i++) {
        int64_t len = offsets[i + 1] - offsets[i];
        if (len < 0)
            return pp_fail(err, PP_EINPUT, "%s: offsets decrease at token %d (%lld then %lld)", what,
                           i, (long long)offsets[i], (long long)offsets[i + 1]);
        if (len > TOK_MAX_PIECE_LEN)
            return pp_fail(err, PP_EINPUT, "%s: token %d is %lld bytes long (limit %d)", what, i,
                           (long long)len, TOK_MAX_PIECE_LEN);
        if (len > longest) longest = (int)len;
    }
    int64_t blob = offsets[vocab_size];
    t->kind = kind;
    t->vocab_size = vocab_size;
    t->bos_id = bos;
    t->eos_id = eos;
    t->pad_id = pad;
    t->n_eos = 1;
    t->eos_ids[0] = eos;
    t->max_token_length = longest;
    t->pieces = malloc(blob > 0 ? (size_t)blob : 1);
    t->piece_offsets = malloc((size_t)(vocab_size + 1) * sizeof *t->piece_offsets);
    t->scores = calloc((size_t)vocab_size, sizeof *t->scores);
    if (!t->pieces || !t->piece_offsets || !t->scores) {
        tok_free(t);
        return pp_fail(err, PP_ESYS, "%s: out of memory for %d tokens", what, vocab_size);
    }
    if (blob > 0) memcpy(t->pieces, pieces, (size_t)blob);
    memcpy(t->piece_offsets, offsets, (size_t)(vocab_size + 1) * sizeof *offsets);
    if (scores) memcpy(t->scores, scores, (size_t)vocab_size * sizeof *scores);
    pp_status st = check_layout(t, what, err);
    if (st == PP_OK && kind == TOK_LLAMA2C) st = tok_build_index(t, what, err);
    if (st != PP_OK) tok_free(t);
    return st;
}

void tok_free(tokenizer *t) {
    hf_free(t->hf);
    free(t->pieces);
    free(t->piece_offsets);
    free(t->scores);
    free(t->sorted_ids);
    memset(t, 0, sizeof *t);
}

/* ------------------------------------------------------------------------ */
/* encode */

/* run.c takes the highest score, and the leftmost pair among equals. */
static int cand_first(const merge_cand *x, const merge_cand *y) {
    return x->score > y->score || (x->score == y->score && x->left < y->left);
}

static void heap_push(merge_cand *heap, int *n, merge_cand c) {
    int i = (*n)++;
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (!cand_first(&c, &heap[parent])) break;
        heap[i] = heap[parent];
        i = parent;
    }
    heap[i] = c;
}

static merge_cand heap_pop(merge_cand *heap, int *n) {
    merge_cand top = heap[0], last = heap[--(*n)];
    int i = 0;
    for (;;) {
        int child = 2 * i + 1;
        if (child >= *n) break;
        if (child + 1 < *n && cand_first(&heap[child + 1], &heap[child])) child++;
        if (!cand_first(&heap[child], &last)) break;
        heap[i] = heap[child];
        i = child;
    }
    heap[i] = last;
    return top;
}

/* The merge of adjacent ids a, b: the merged id and its score, or -1. */
static int pair_merge(const tokenizer *t, int a, int b, float *score) {
    if (t->kind == TOK_HF_BPE) return hf_pair_merge(t->hf, a, b, score);
    size_t alen, blen;
    const char *pa = piece_of(t, a, &alen);
    const char *pb = piece_of(t, b, &blen);
    int id = tok_find_piece(t, pa, alen, pb, blen);
    /* run.c never takes merges scoring at or below its floor */
    if (id < 0 || t->scores[id] <= MERGE_SCORE_FLOOR) return -1;
    *score = t->scores[id];
    return id;
}

static void push_pair(const tokenizer *t, const int *tok, int left, int right, merge_cand *heap,
                      int *n_heap) {
    float score;
    int id = pair_merge(t, tok[left], tok[right], &score);
    if (id >= 0) {
        merge_cand c = {score, left, right, tok[left], tok[right], id};
        heap_push(heap, n_heap, c);
    }
}

pp_status merge_scratch_reserve(merge_scratch *s, int cap, pp_err *err) {
    if (cap <= s->cap) return PP_OK;
    merge_scratch_free(s);
    s->next = malloc((size_t)cap * sizeof *s->next);
    s->prev = malloc((size_t)cap * sizeof *s->prev);
    s->heap = malloc(3 * (size_t)cap * sizeof *s->heap);
    if (!s->next || !s->prev || !s->heap) {
        merge_scratch_free(s);
        return pp_fail(err, PP_ESYS, "tokenizer: out of memory encoding %d tokens", cap);
    }
    s->cap = cap;
    return PP_OK;
}

void merge_scratch_free(merge_scratch *s) {
    free(s->next);
    free(s->prev);
    free(s->heap);
    memset(s, 0, sizeof *s);
}

/* run.c repeatedly rescans all adjacent pairs for the best merge (and HF
 * takes the lowest rank, leftmost first: the same order with score =
 * -rank).  Here the candidates sit in a heap ordered that way and tokens in
 * a linked list; a candidate whose tokens changed since it was queued is
 * dropped when popped.  Same merges, O(n log n). */
void tok_merge_pairs(const tokenizer *t, int *tok, int *n_tok, merge_scratch *s) {
    int m = *n_tok;
    if (m < 2) return;
    int *next = s->next, *prev = s->prev;
    merge_cand *heap = s->heap; /* each merge queues at most two new candidates */
    int n_heap = 0;
    for (int i = 0; i < m; i++) {
        next[i] = i + 1;
        prev[i] = i - 1;
    }
    for (int i = 0; i + 1 < m; i++) push_pair(t, tok, i, i + 1, heap, &n_heap);
    while (n_heap > 0) {
        merge_cand c = heap_pop(heap, &n_heap);
        if (tok[c.left] != c.a || next[c.left] != c.right || tok[c.right] != c.b) continue;
        tok[c.left] = c.id;
        tok[c.right] = -1;
        next[c.left] = next[c.right];
        if (next[c.right] < m) prev[next[c.right]] = c.left;
        if (prev[c.left] >= 0) push_pair(t, tok, prev[c.left], c.left, heap, &n_heap);
        if (next[c.left] < m) push_pair(t, tok, c.left, next[c.left], heap, &n_heap);
    }
    int n = 0;
    for (int i = 0; i < m; i = next[i]) tok[n++] = tok[i];
    *n_tok = n;
}

static pp_status encode_llama2c(const tokenizer *t, const char *text, int *ids, int *n_ids,
                                pp_err *err) {
    int n = *n_ids; /* BOS may already be there; run.c lets it take part in
                       merges too (its piece never matches in practice) */
    if (text[0] != '\0') {
        int space = tok_find_piece(t, " ", 1, NULL, 0);
        ids[n++] = space >= 0 ? space : ' ' + L2C_BYTE0;
    }
    /* Code points: a lead (or stray) byte plus up to three continuation
     * bytes, exactly how run.c groups them; invalid UTF-8 simply falls back
     * to bytes.  Each input byte yields at most one id. */
    const unsigned char *s = (const unsigned char *)text;
    while (*s) {
        size_t len = 1;
        while (len < 4 && (s[len] & 0xC0) == 0x80) len++;
        int id = tok_find_piece(t, (const char *)s, len, NULL, 0);
        if (id >= 0) {
            ids[n++] = id;
        } else {
            for (size_t i = 0; i < len; i++) ids[n++] = s[i] + L2C_BYTE0;
        }
        s += len;
    }
    *n_ids = n;
    merge_scratch scratch = {0};
    PP_TRY(merge_scratch_reserve(&scratch, n, err));
    tok_merge_pairs(t, ids, n_ids, &scratch);
    merge_scratch_free(&scratch);
    return PP_OK;
}

size_t tok_max_ids(const tokenizer *t, size_t len) { return t->kind == TOK_HF_BPE ? 4 * len + 16 : len + 3; }

pp_status tok_encode(const tokenizer *t, const char *text, int add_bos, int add_eos, int *ids,
                     int *n_ids, pp_err *err) {
    size_t len = text ? strlen(text) : 0;
    int cap = len > (size_t)INT_MAX - 3 ? INT_MAX : (int)len + 3;
    return tok_encode_cap(t, text, add_bos, add_eos, ids, cap, n_ids, err);
}

pp_status tok_encode_cap(const tokenizer *t, const char *text, int add_bos, int add_eos, int *ids,
                         int cap, int *n_ids, pp_err *err) {
    *n_ids = 0;
    if (!text || !ids) return pp_fail(err, PP_EINPUT, "tokenizer: encode needs text and an id buffer");
    if (t->vocab_size == 0) return pp_fail(err, PP_EINPUT, "tokenizer: encode on an empty tokenizer");
    size_t len = strlen(text);
    if (len > (size_t)INT_MAX - 3)
        return pp_fail(err, PP_EINPUT, "tokenizer: text of %zu bytes is too long to encode", len);
    int n = 0;
    if (t->kind == TOK_HF_BPE) {
        PP_TRY(hf_encode(t, text, add_bos, ids, add_eos ? cap - 1 : cap, &n, err));
        if (add_eos) ids[n++] = t->eos_id;
        *n_ids = n;
        return PP_OK;
    }
    if (len + 3 > (size_t)cap)
        return pp_fail(err, PP_EINPUT, "tokenizer: %d ids are too few for %zu bytes of text", cap, len);
    if (add_bos) ids[n++] = t->bos_id;
    if (t->kind == TOK_BYTE) {
        for (const unsigned char *s = (const unsigned char *)text; *s; s++) ids[n++] = *s;
    } else {
        if (!t->sorted_ids)
            return pp_fail(err, PP_EINPUT, "tokenizer: llama2.c tokenizer has no piece index");
        *n_ids = n;
        PP_TRY(encode_llama2c(t, text, ids, n_ids, err));
        n = *n_ids;
    }
    if (add_eos) ids[n++] = t->eos_id;
    *n_ids = n;
    return PP_OK;
}

/* ------------------------------------------------------------------------ */
/* decode */

const char *tok_kind_name(tok_kind k) {
    return k == TOK_BYTE ? "byte" : k == TOK_LLAMA2C ? "llama2c" : "hf-bpe";
}

int tok_is_eos(const tokenizer *t, int id) {
    if (id == t->eos_id) return 1; /* also for a struct filled by hand (n_eos 0) */
    for (int i = 0; i < t->n_eos; i++)
        if (t->eos_ids[i] == id) return 1;
    return 0;
}

const char *tok_piece(const tokenizer *t, int prev_id, int id, size_t *len) {
    *len = 0;
    if (t->kind == TOK_HF_BPE) return hf_piece(t, prev_id, id, len);
    if (id < 0 || id >= t->vocab_size || id == t->bos_id || id == t->eos_id || id == t->pad_id)
        return "";
    size_t n;
    const char *p = piece_of(t, id, &n);
    if (t->kind == TOK_LLAMA2C) {
        /* SentencePiece drops the dummy-prefix space of the first piece */
        if (prev_id == t->bos_id && n > 0 && p[0] == ' ') {
            p++;
            n--;
        }
        int b = tok_byte_piece_value(p, n);
        if (b >= 0) {
            *len = 1;
            return tok_raw_byte(b);
        }
    }
    *len = n;
    return p;
}

size_t tok_decode(const tokenizer *t, const int *ids, int n, char *buf, size_t cap) {
    size_t total = 0;
    int prev = -1;
    for (int i = 0; i < n; i++) {
        size_t len;
        const char *p = tok_piece(t, prev, ids[i], &len);
        /* HF decoders see the text without its special tokens: the text
         * starts at the first token that is not one, and a special token
         * in the middle does not start it again */
        if (t->kind == TOK_HF_BPE && tok_is_special(t, ids[i])) continue;
        if (cap > 0 && total < cap - 1) {
            size_t room = cap - 1 - total;
            memcpy(buf + total, p, len < room ? len : room);
        }
        total += len;
        prev = ids[i];
    }
    if (cap > 0) buf[total < cap - 1 ? total : cap - 1] = '\0';
    return total;
}
