/* tokenizer_hf.c - Hugging Face tokenizer.json BPE tokenizers (tokenizer.h).
 *
 * Encoding follows the tokenizers library's pipeline for the components the
 * Llama family uses (docs/tokenizers.md lists them):
 *   1. added tokens are cut out of the raw text first (longest match at the
 *      leftmost position) and become their own ids;
 *   2. each remaining segment is normalized (NFC, Prepend, Replace),
 *   3. pre-tokenized: Split by a regex (run by PCRE2, "Isolated": matches and
 *      the gaps between them are pieces), ByteLevel (the GPT-2 regex when
 *      use_regex, optional prefix space, then every byte becomes one
 *      printable character) or Metaspace (spaces become U+2581);
 *   4. each piece goes through BPE: its characters looked up (missing ones
 *      become <0xXX> byte tokens with byte_fallback, else <unk>), then
 *      adjacent pairs merged lowest rank first, leftmost among equals;
 *   5. the post-processor's special tokens (TemplateProcessing) are added.
 * Decoding maps each token to the bytes the decoder would give (ByteLevel:
 * characters back to bytes; SentencePiece: U+2581 -> space, <0xXX> -> the
 * byte, one leading space stripped at the start). */
#include "model/tokenizer_impl.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/pp_file.h"
#include "core/pp_text.h"

#define HF_MAX_JSON_BYTES ((size_t)512 << 20)
#define HF_MAX_STEPS 8      /* pre-tokenizer / normalizer steps */
#define HF_MAX_TEMPLATE 8   /* special tokens around the sequence */
#define METASPACE "\xe2\x96\x81" /* U+2581 */

/* The GPT-2 ByteLevel pre-tokenizer's split regex (use_regex=true). */
static const char GPT2_REGEX[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

typedef enum { NORM_NFC, NORM_PREPEND, NORM_REPLACE } norm_kind;
typedef struct {
    norm_kind kind;
    char *from, *to; /* Prepend: to; Replace: from -> to */
} norm_step;

typedef enum { PRE_SPLIT, PRE_BYTELEVEL, PRE_METASPACE } pre_kind;
typedef struct {
    pre_kind kind;
    pcre2_code *re;       /* Split, ByteLevel with use_regex */
    int add_prefix_space; /* ByteLevel */
    int prepend;          /* Metaspace: 0 never, 1 first, 2 always */
    int split;            /* Metaspace: a piece starts at each U+2581 */
} pre_step;

typedef struct {
    int id;
    char *content;
    size_t len;
    int special, lstrip, rstrip, single_word;
} added_token;

/* One merge: the pair (a, b) -> id with its rank; open addressing on a|b. */
typedef struct {
    uint64_t key; /* 0 = empty; else ((a+1) << 32) | (b+1) */
    int rank, id;
} merge_slot;

struct hf_bpe {
    char *json;   /* tokenizer.json as given */
    size_t json_len;
    char *config; /* tokenizer_config.json or NULL */
    int n_norm, n_pre;
    norm_step norm[HF_MAX_STEPS];
    pre_step pre[HF_MAX_STEPS];
    int byte_level;   /* a ByteLevel pre-tokenizer maps bytes to characters */
    int byte_to_cp[256];
    short cp_to_byte[324]; /* -1 where no byte */
    merge_slot *merges;
    size_t merge_mask;
    int ignore_merges, byte_fallback, fuse_unk, unk_id;
    int byte_ids[256]; /* id of <0xXX>, -1 if missing */
    int n_added;
    added_token *added;
    unsigned char added_first[256]; /* 1: some added token starts with this byte */
    int n_prefix, n_suffix;
    int prefix[HF_MAX_TEMPLATE], suffix[HF_MAX_TEMPLATE];
    unsigned char *special; /* per id */
    /* decoder */
    int strip_start; /* drop one leading space at the start of the text */
    int dec_byte_fallback; /* a ByteFallback decoder: <0xXX> -> the byte */
    char *dec;       /* decoded bytes of token i: dec[dec_off[i] .. dec_off[i+1]) */
    int64_t *dec_off;
};

/* ------------------------------------------------------------------------ */
/* small helpers */

static char *dup_bytes(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static int utf8_put(unsigned cp, char *out) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the UTF-8 character at s (text is valid UTF-8 here). */
static size_t utf8_len(unsigned char c) { return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }

static unsigned utf8_get(const unsigned char *s, size_t *len) {
    *len = utf8_len(s[0]);
    if (*len == 1) return s[0];
    unsigned cp = s[0] & (0x3F >> (*len - 1));
    for (size_t i = 1; i < *len; i++) cp = (cp << 6) | (s[i] & 0x3F);
    return cp;
}

/* GPT-2's byte -> character table: printable Latin-1 bytes stand for
 * themselves, the other 68 take the code points from 256 on, in order. */
static void byte_level_table(hf_bpe *hf) {
    int next = 256;
    for (int cp = 0; cp < 324; cp++) hf->cp_to_byte[cp] = -1;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        hf->byte_to_cp[b] = printable ? b : next++;
        hf->cp_to_byte[hf->byte_to_cp[b]] = (short)b;
    }
}

static uint64_t merge_key(int a, int b) { return ((uint64_t)(uint32_t)(a + 1) << 32) | (uint32_t)(b + 1); }

static size_t merge_hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k;
}

int hf_pair_merge(const hf_bpe *hf, int a, int b, float *score) {
    uint64_t key = merge_key(a, b);
    for (size_t i = merge_hash(key) & hf->merge_mask;; i = (i + 1) & hf->merge_mask) {
        if (hf->merges[i].key == 0) return -1;
        if (hf->merges[i].key == key) {
            *score = -(float)hf->merges[i].rank; /* ranks < 2^24: exact */
            return hf->merges[i].id;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* reading tokenizer.json */

/* The parse context: names the file in every message. */
typedef struct {
    const char *what;
    pp_err *err;
} hf_ctx;

static pp_status refuse(hf_ctx *c, const char *part, const char *name) {
    return pp_fail(c->err, PP_EINPUT, "%s: %s %s is not supported", c->what, part, name);
}

static pp_status bad(hf_ctx *c, const char *what) {
    return pp_fail(c->err, PP_EINPUT, "%s: %s", c->what, what);
}

static const char *type_of(json_t *o) {
    const char *s = json_string_value(json_object_get(o, "type"));
    return s ? s : "(without type)";
}

static int json_flag(json_t *o, const char *key, int fallback) {
    json_t *v = json_object_get(o, key);
    return json_is_boolean(v) ? json_is_true(v) : fallback;
}

static pp_status compile_regex(hf_ctx *c, const char *pattern, pcre2_code **out) {
    int code;
    PCRE2_SIZE at;
    *out = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &code, &at, NULL);
    if (!*out) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        return pp_fail(c->err, PP_EINPUT, "%s: regex /%s/ does not compile at offset %zu: %s", c->what, pattern,
                       (size_t)at, (const char *)msg);
    }
    pcre2_jit_compile(*out, PCRE2_JIT_COMPLETE); /* faster when available; the interpreter otherwise */
    return PP_OK;
}

static pp_status add_normalizer(hf_ctx *c, hf_bpe *hf, json_t *n) {
    const char *type = type_of(n);
    if (!strcmp(type, "Sequence")) {
        json_t *list = json_object_get(n, "normalizers");
        if (!json_is_array(list)) return bad(c, "normalizer Sequence has no normalizers list");
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v) PP_TRY(add_normalizer(c, hf, v));
        return PP_OK;
    }
    if (hf->n_norm == HF_MAX_STEPS) return bad(c, "too many normalizers");
    norm_step *s = &hf->norm[hf->n_norm];
    if (!strcmp(type, "NFC")) {
        s->kind = NORM_NFC;
    } else if (!strcmp(type, "Prepend")) {
        const char *p = json_string_value(json_object_get(n, "prepend"));
        if (!p) return bad(c, "normalizer Prepend has no prepend string");
        s->kind = NORM_PREPEND;
        s->to = strdup(p);
    } else if (!strcmp(type, "Replace")) {
        const char *from = json_string_value(json_object_get(json_object_get(n, "pattern"), "String"));
        const char *to = json_string_value(json_object_get(n, "content"));
        if (!from || !to || !from[0])
            return refuse(c, "normalizer", "Replace with a Regex pattern (only String)");
        s->kind = NORM_REPLACE;
        s->from = strdup(from);
        s->to = strdup(to);
    } else {
        return refuse(c, "normalizer", type);
    }
    hf->n_norm++;
    return PP_OK;
}

static pp_status add_pre_tokenizer(hf_ctx *c, hf_bpe *hf, json_t *p) {
    const char *type = type_of(p);
    if (!strcmp(type, "Sequence")) {
        json_t *list = json_object_get(p, "pretokenizers");
        if (!json_is_array(list)) return bad(c, "pre_tokenizer Sequence has no pretokenizers list");
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v) PP_TRY(add_pre_tokenizer(c, hf, v));
        return PP_OK;
    }
    if (hf->n_pre == HF_MAX_STEPS) return bad(c, "too many pre-tokenizers");
    /* ByteLevel turns bytes into characters: a later step would split a
     * different text than ours */
    if (hf->byte_level) return bad(c, "a pre-tokenizer after ByteLevel is not supported");
    pre_step *s = &hf->pre[hf->n_pre];
    if (!strcmp(type, "Split")) {
        json_t *pat = json_object_get(p, "pattern");
        const char *re = json_string_value(json_object_get(pat, "Regex"));
        const char *str = json_string_value(json_object_get(pat, "String"));
        const char *behavior = json_string_value(json_object_get(p, "behavior"));
        if (!behavior || strcmp(behavior, "Isolated"))
            return refuse(c, "pre_tokenizer Split behavior", behavior ? behavior : "(none)");
        if (json_flag(p, "invert", 0)) return refuse(c, "pre_tokenizer", "Split with invert=true");
        if (!re && !str) return bad(c, "pre_tokenizer Split has no Regex or String pattern");
        s->kind = PRE_SPLIT;
        if (re) {
            PP_TRY(compile_regex(c, re, &s->re));
        } else {
            /* a literal: quote it for PCRE2 */
            size_t n = strlen(str);
            char *q = malloc(n + 5);
            if (!q) return pp_fail(c->err, PP_ESYS, "%s: out of memory", c->what);
            snprintf(q, n + 5, "\\Q%s\\E", str);
            pp_status st = compile_regex(c, q, &s->re);
            free(q);
            PP_TRY(st);
        }
    } else if (!strcmp(type, "Digits")) {
        /* numeric characters (Rust's is_numeric: categories Nd, Nl, No)
         * split off, one at a time or as runs; SmolLM uses it */
        s->kind = PRE_SPLIT;
        PP_TRY(compile_regex(c, json_flag(p, "individual_digits", 0) ? "\\p{N}" : "\\p{N}+", &s->re));
    } else if (!strcmp(type, "ByteLevel")) {
        s->kind = PRE_BYTELEVEL;
        s->add_prefix_space = json_flag(p, "add_prefix_space", 1);
        int use_regex = json_flag(p, "use_regex", 1);
        /* the prefix space goes before the regex split: only exact when
         * this is the first step (or there is no regex) */
        if (s->add_prefix_space && use_regex && hf->n_pre > 0)
            return refuse(c, "pre_tokenizer", "ByteLevel with add_prefix_space and use_regex after another pre-tokenizer");
        if (use_regex) PP_TRY(compile_regex(c, GPT2_REGEX, &s->re));
        hf->byte_level = 1;
    } else if (!strcmp(type, "Metaspace")) {
        const char *rep = json_string_value(json_object_get(p, "replacement"));
        const char *scheme = json_string_value(json_object_get(p, "prepend_scheme"));
        if (!rep || strcmp(rep, METASPACE)) return refuse(c, "pre_tokenizer", "Metaspace with a replacement other than U+2581");
        s->kind = PRE_METASPACE;
        if (scheme) {
            if (!strcmp(scheme, "never")) s->prepend = 0;
            else if (!strcmp(scheme, "first")) s->prepend = 1;
            else if (!strcmp(scheme, "always")) s->prepend = 2;
            else return refuse(c, "pre_tokenizer Metaspace prepend_scheme", scheme);
        } else {
            s->prepend = json_flag(p, "add_prefix_space", 1) ? 2 : 0; /* older files */
        }
        s->split = json_flag(p, "split", 1);
    } else {
        return refuse(c, "pre_tokenizer", type);
    }
    hf->n_pre++;
    return PP_OK;
}

/* Decoder: ByteLevel, or the SentencePiece family (Replace U+2581 by a
 * space, ByteFallback, Fuse, Strip one leading space; or Metaspace). */
static pp_status add_decoder(hf_ctx *c, hf_bpe *hf, json_t *d, int *byte_level, int *fused) {
    const char *type = type_of(d);
    if (!strcmp(type, "Sequence")) {
        json_t *list = json_object_get(d, "decoders");
        if (!json_is_array(list)) return bad(c, "decoder Sequence has no decoders list");
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v) PP_TRY(add_decoder(c, hf, v, byte_level, fused));
        return PP_OK;
    }
    if (!strcmp(type, "ByteLevel")) {
        *byte_level = 1;
    } else if (!strcmp(type, "Replace")) {
        const char *from = json_string_value(json_object_get(json_object_get(d, "pattern"), "String"));
        const char *to = json_string_value(json_object_get(d, "content"));
        if (!from || !to || strcmp(from, METASPACE) || strcmp(to, " "))
            return refuse(c, "decoder", "Replace other than U+2581 -> space");
    } else if (!strcmp(type, "ByteFallback")) {
        hf->dec_byte_fallback = 1;
    } else if (!strcmp(type, "Fuse")) {
        *fused = 1;
    } else if (!strcmp(type, "Strip")) {
        const char *content = json_string_value(json_object_get(d, "content"));
        json_int_t start = json_integer_value(json_object_get(d, "start"));
        json_int_t stop = json_integer_value(json_object_get(d, "stop"));
        if (!*fused || !content || strcmp(content, " ") || start > 1 || stop != 0)
            return refuse(c, "decoder", "Strip other than one leading space after Fuse");
        hf->strip_start = start == 1;
    } else if (!strcmp(type, "Metaspace")) {
        const char *scheme = json_string_value(json_object_get(d, "prepend_scheme"));
        hf->strip_start = !scheme || strcmp(scheme, "never");
    } else {
        return refuse(c, "decoder", type);
    }
    return PP_OK;
}

/* The special-token ids of a TemplateProcessing "single" template. */
static pp_status read_template(hf_ctx *c, hf_bpe *hf, json_t *pp) {
    json_t *single = json_object_get(pp, "single"), *specials = json_object_get(pp, "special_tokens");
    if (!json_is_array(single)) return bad(c, "post_processor TemplateProcessing has no single template");
    int seen_sequence = 0;
    size_t i;
    json_t *item;
    json_array_foreach(single, i, item) {
        if (json_object_get(item, "Sequence")) {
            seen_sequence = 1;
            continue;
        }
        const char *name = json_string_value(json_object_get(json_object_get(item, "SpecialToken"), "id"));
        json_t *ids = json_object_get(json_object_get(specials, name ? name : ""), "ids");
        if (!name || !json_is_array(ids)) return bad(c, "post_processor template names a special token it does not define");
        size_t j;
        json_t *id;
        json_array_foreach(ids, j, id) {
            int *n = seen_sequence ? &hf->n_suffix : &hf->n_prefix;
            if (*n == HF_MAX_TEMPLATE || !json_is_integer(id)) return bad(c, "post_processor template too long or not ids");
            (seen_sequence ? hf->suffix : hf->prefix)[(*n)++] = (int)json_integer_value(id);
        }
    }
    return PP_OK;
}

static pp_status add_post_processor(hf_ctx *c, hf_bpe *hf, json_t *pp) {
    const char *type = type_of(pp);
    if (!strcmp(type, "Sequence")) {
        json_t *list = json_object_get(pp, "processors");
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v) PP_TRY(add_post_processor(c, hf, v));
        return PP_OK;
    }
    if (!strcmp(type, "ByteLevel")) return PP_OK; /* offsets only */
    if (!strcmp(type, "TemplateProcessing")) return read_template(c, hf, pp);
    return refuse(c, "post_processor", type);
}

/* Vocabulary + added tokens -> t->pieces / piece_offsets (id order). */
static pp_status read_vocab(hf_ctx *c, tokenizer *t, json_t *vocab, json_t *added) {
    hf_bpe *hf = t->hf;
    if (!json_is_object(vocab)) return bad(c, "model.vocab is missing or not an object");
    if (!json_is_array(added) && added) return bad(c, "added_tokens is not a list");
    size_t n_added = json_array_size(added);
    int64_t top = -1;
    const char *key;
    json_t *v;
    json_object_foreach(vocab, key, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= TOK_MAX_VOCAB)
            return pp_fail(c->err, PP_EINPUT, "%s: model.vocab[\"%s\"] is not an id in 0..%d", c->what, key, TOK_MAX_VOCAB - 1);
        if (json_integer_value(v) > top) top = json_integer_value(v);
    }
    hf->added = calloc(n_added ? n_added : 1, sizeof *hf->added);
    if (!hf->added) return pp_fail(c->err, PP_ESYS, "%s: out of memory", c->what);
    for (size_t i = 0; i < n_added; i++) {
        json_t *a = json_array_get(added, i);
        json_t *id = json_object_get(a, "id"), *content = json_object_get(a, "content");
        if (!json_is_integer(id) || !json_is_string(content) || json_integer_value(id) < 0 ||
            json_integer_value(id) >= TOK_MAX_VOCAB || json_string_length(content) == 0)
            return pp_fail(c->err, PP_EINPUT, "%s: added_tokens[%zu] needs an id and a non-empty content", c->what, i);
        added_token *at = &hf->added[hf->n_added++];
        at->id = (int)json_integer_value(id);
        at->len = json_string_length(content);
        at->content = dup_bytes(json_string_value(content), at->len);
        if (!at->content) return pp_fail(c->err, PP_ESYS, "%s: out of memory", c->what);
        hf->added_first[(unsigned char)at->content[0]] = 1;
        at->special = json_flag(a, "special", 0);
        at->lstrip = json_flag(a, "lstrip", 0);
        at->rstrip = json_flag(a, "rstrip", 0);
        at->single_word = json_flag(a, "single_word", 0);
        if (json_flag(a, "normalized", 0) && hf->n_norm > 0)
            return pp_fail(c->err, PP_EINPUT, "%s: added token \"%s\" with normalized=true under a normalizer is not supported",
                           c->what, at->content);
        if (at->id > top) top = at->id;
    }
    int V = (int)top + 1;
    if (V < 1) return bad(c, "model.vocab is empty");
    const char **text = calloc((size_t)V, sizeof *text);
    size_t *len = calloc((size_t)V, sizeof *len);
    pp_status st = (text && len) ? PP_OK : pp_fail(c->err, PP_ESYS, "%s: out of memory", c->what);
    json_object_foreach(vocab, key, v) {
        if (st != PP_OK) break;
        int id = (int)json_integer_value(v);
        if (text[id]) st = pp_fail(c->err, PP_EINPUT, "%s: id %d appears twice in model.vocab", c->what, id);
        text[id] = key;
        len[id] = strlen(key);
    }
    for (int i = 0; st == PP_OK && i < hf->n_added; i++) {
        added_token *at = &hf->added[i];
        if (text[at->id] && (len[at->id] != at->len || memcmp(text[at->id], at->content, at->len)))
            st = pp_fail(c->err, PP_EINPUT, "%s: added token %d \"%s\" differs from model.vocab's \"%s\"", c->what, at->id,
                         at->content, text[at->id]);
        if (memchr(at->content, 0, at->len)) st = pp_fail(c->err, PP_EINPUT, "%s: added token %d contains a NUL", c->what, at->id);
        text[at->id] = at->content;
        len[at->id] = at->len;
    }
    int64_t blob = 0;
    for (int i = 0; st == PP_OK && i < V; i++) {
        if (len[i] > TOK_MAX_PIECE_LEN) st = pp_fail(c->err, PP_EINPUT, "%s: token %d is %zu bytes long", c->what, i, len[i]);
        blob += (int64_t)len[i];
    }
    if (st == PP_OK) {
        t->vocab_size = V;
        t->pieces = malloc(blob > 0 ? (size_t)blob : 1);
        t->piece_offsets = malloc((size_t)(V + 1) * sizeof *t->piece_offsets);
        t->scores = calloc((size_t)V, sizeof *t->scores);
        hf->special = calloc((size_t)V, 1);
        if (!t->pieces || !t->piece_offsets || !t->scores || !hf->special)
            st = pp_fail(c->err, PP_ESYS, "%s: out of memory for %d tokens", c->what, V);
    }
    if (st == PP_OK) {
        int64_t off = 0;
        for (int i = 0; i < V; i++) {
            t->piece_offsets[i] = off;
            if (len[i]) memcpy(t->pieces + off, text[i], len[i]);
            off += (int64_t)len[i];
            if ((int)len[i] > t->max_token_length) t->max_token_length = (int)len[i];
        }
        t->piece_offsets[V] = off;
        for (int i = 0; i < hf->n_added; i++) hf->special[hf->added[i].id] = (unsigned char)hf->added[i].special;
    }
    free(text);
    free(len);
    return st;
}

static int lookup(const tokenizer *t, const char *s, size_t n) { return tok_find_piece(t, s, n, NULL, 0); }

/* model.merges: "a b" strings or ["a", "b"] pairs, in rank order. */
static pp_status read_merges(hf_ctx *c, tokenizer *t, json_t *merges) {
    hf_bpe *hf = t->hf;
    if (!json_is_array(merges)) return bad(c, "model.merges is missing or not a list");
    size_t n = json_array_size(merges), cap = 16;
    while (cap < 2 * n + 2) cap *= 2;
    hf->merges = calloc(cap, sizeof *hf->merges);
    if (!hf->merges) return pp_fail(c->err, PP_ESYS, "%s: out of memory for %zu merges", c->what, n);
    hf->merge_mask = cap - 1;
    char *joined = malloc(2 * TOK_MAX_PIECE_LEN + 2);
    if (!joined) return pp_fail(c->err, PP_ESYS, "%s: out of memory", c->what);
    pp_status st = PP_OK;
    for (size_t r = 0; st == PP_OK && r < n; r++) {
        json_t *m = json_array_get(merges, r);
        const char *a, *b;
        size_t alen, blen;
        if (json_is_string(m)) {
            a = json_string_value(m);
            const char *sp = strchr(a, ' ');
            if (!sp || strchr(sp + 1, ' ')) {
                st = pp_fail(c->err, PP_EINPUT, "%s: model.merges[%zu] \"%s\" is not two tokens split by one space", c->what, r, a);
                break;
            }
            alen = (size_t)(sp - a);
            b = sp + 1;
            blen = strlen(b);
        } else if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
                   json_is_string(json_array_get(m, 1))) {
            a = json_string_value(json_array_get(m, 0));
            b = json_string_value(json_array_get(m, 1));
            alen = json_string_length(json_array_get(m, 0));
            blen = json_string_length(json_array_get(m, 1));
        } else {
            st = pp_fail(c->err, PP_EINPUT, "%s: model.merges[%zu] is neither \"a b\" nor [\"a\", \"b\"]", c->what, r);
            break;
        }
        if (alen > TOK_MAX_PIECE_LEN || blen > TOK_MAX_PIECE_LEN) {
            st = bad(c, "a merge is longer than a token can be");
            break;
        }
        int ia = lookup(t, a, alen), ib = lookup(t, b, blen), id = tok_find_piece(t, a, alen, b, blen);
        if (ia < 0 || ib < 0 || id < 0) {
            memcpy(joined, a, alen);
            joined[alen] = ' ';
            memcpy(joined + alen + 1, b, blen);
            joined[alen + 1 + blen] = '\0';
            st = pp_fail(c->err, PP_EINPUT, "%s: model.merges[%zu] \"%s\": %s not in the vocabulary", c->what, r, joined,
                         ia < 0 ? "its first token is" : ib < 0 ? "its second token is" : "the merged token is");
            break;
        }
        uint64_t key = merge_key(ia, ib);
        size_t i = merge_hash(key) & hf->merge_mask;
        while (hf->merges[i].key != 0 && hf->merges[i].key != key) i = (i + 1) & hf->merge_mask;
        if (hf->merges[i].key == 0) { /* the first (best) rank of a repeated pair stays */
            hf->merges[i].key = key;
            hf->merges[i].rank = (int)r;
            hf->merges[i].id = id;
        }
    }
    free(joined);
    return st;
}

static pp_status read_model(hf_ctx *c, tokenizer *t, json_t *root) {
    hf_bpe *hf = t->hf;
    json_t *model = json_object_get(root, "model");
    if (!json_is_object(model)) return bad(c, "no model object");
    const char *type = json_string_value(json_object_get(model, "type"));
    if (type && strcmp(type, "BPE")) return refuse(c, "model", type);
    json_t *dropout = json_object_get(model, "dropout");
    if (dropout && !json_is_null(dropout) && json_number_value(dropout) != 0.0) return refuse(c, "model", "BPE with dropout");
    const char *cont = json_string_value(json_object_get(model, "continuing_subword_prefix"));
    const char *suffix = json_string_value(json_object_get(model, "end_of_word_suffix"));
    if ((cont && cont[0]) || (suffix && suffix[0]))
        return refuse(c, "model", "BPE with continuing_subword_prefix or end_of_word_suffix");
    PP_TRY(read_vocab(c, t, json_object_get(model, "vocab"), json_object_get(root, "added_tokens")));
    PP_TRY(tok_build_index(t, c->what, c->err));
    PP_TRY(read_merges(c, t, json_object_get(model, "merges")));
    hf->ignore_merges = json_flag(model, "ignore_merges", 0);
    hf->byte_fallback = json_flag(model, "byte_fallback", 0);
    hf->fuse_unk = json_flag(model, "fuse_unk", 0);
    const char *unk = json_string_value(json_object_get(model, "unk_token"));
    hf->unk_id = unk ? lookup(t, unk, strlen(unk)) : -1;
    if (unk && hf->unk_id < 0) return pp_fail(c->err, PP_EINPUT, "%s: unk_token \"%s\" is not in the vocabulary", c->what, unk);
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        hf->byte_ids[b] = lookup(t, name, 6);
    }
    return PP_OK;
}

/* ------------------------------------------------------------------------ */
/* tokenizer_config.json, generation_config.json */

/* A token named in the config: "text" or {"content": "text"}; -1 when
 * absent or null, -2 (with an error) when named but not in the vocabulary. */
static int config_token(hf_ctx *c, const tokenizer *t, json_t *cfg, const char *key) {
    json_t *v = json_object_get(cfg, key);
    if (json_is_object(v)) v = json_object_get(v, "content");
    if (!json_is_string(v)) return -1;
    int id = lookup(t, json_string_value(v), json_string_length(v));
    if (id < 0) pp_fail(c->err, PP_EINPUT, "%s: %s \"%s\" is not in the vocabulary", c->what, key, json_string_value(v));
    return id < 0 ? -2 : id;
}

static void add_eos(tokenizer *t, int id) {
    if (id < 0 || id >= t->vocab_size || tok_is_eos(t, id) || t->n_eos == TOK_MAX_EOS) return;
    t->eos_ids[t->n_eos++] = id;
}

static pp_status read_config(hf_ctx *c, tokenizer *t, const char *config, const char *config_what) {
    t->bos_id = t->hf->n_prefix > 0 ? t->hf->prefix[0] : -1;
    t->eos_id = t->pad_id = -1;
    if (!config) return PP_OK;
    json_error_t je;
    /* model_max_length is often 1e30 written as an integer */
    json_t *cfg = json_loads(config, JSON_DECODE_INT_AS_REAL, &je);
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        return pp_fail(c->err, PP_EINPUT, "%s: bad JSON at line %d: %s", config_what, je.line, je.text);
    }
    int bos = config_token(c, t, cfg, "bos_token"), eos = config_token(c, t, cfg, "eos_token");
    int pad = config_token(c, t, cfg, "pad_token");
    int add_bos = json_flag(cfg, "add_bos_token", -1);
    json_decref(cfg);
    if (bos == -2 || eos == -2 || pad == -2) return PP_EINPUT;
    if (bos >= 0) t->bos_id = bos;
    t->pad_id = pad;
    add_eos(t, eos);
    /* a tokenizer.json without a template: add_bos_token says whether BOS
     * is added (as transformers' Llama tokenizers do) */
    if (t->hf->n_prefix == 0 && t->hf->n_suffix == 0 && add_bos == 1 && t->bos_id >= 0) t->hf->prefix[t->hf->n_prefix++] = t->bos_id;
    return PP_OK;
}

/* generation_config.json in dir (if any): eos_token_id as an int or list. */
static pp_status read_generation_config(hf_ctx *c, tokenizer *t, const char *dir) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/generation_config.json", dir) >= (int)sizeof path) return PP_OK;
    FILE *f = fopen(path, "rb");
    if (!f) return PP_OK;
    fclose(f);
    json_t *g;
    PP_TRY(pp_read_json(path, 1 << 26, "generation_config.json", 0, &g, c->err));
    if (!json_is_object(g)) {
        json_decref(g);
        return pp_fail(c->err, PP_EINPUT, "%s: not a JSON object", path);
    }
    json_t *e = json_object_get(g, "eos_token_id");
    pp_status st = PP_OK;
    if (json_is_integer(e)) {
        add_eos(t, (int)json_integer_value(e));
    } else if (json_is_array(e)) {
        size_t i;
        json_t *v;
        json_array_foreach(e, i, v) add_eos(t, json_is_integer(v) ? (int)json_integer_value(v) : -1);
    } else if (e && !json_is_null(e)) {
        st = pp_fail(c->err, PP_EINPUT, "%s: eos_token_id is neither an id nor a list of ids", path);
    }
    json_decref(g);
    return st;
}

/* ------------------------------------------------------------------------ */
/* decoded bytes per token */

/* The decoder's bytes for one token into out (room for 4 * len). */
static size_t decode_piece(const hf_bpe *hf, int byte_level_decoder, const char *p, size_t n, char *out) {
    if (byte_level_decoder) {
        /* every character back to its byte; a token with a character
         * outside the table is taken as its UTF-8 text */
        size_t k = 0, i = 0;
        while (i < n) {
            size_t cl;
            unsigned cp = utf8_get((const unsigned char *)p + i, &cl);
            int b = cp < 324 ? hf->cp_to_byte[cp] : -1;
            if (b < 0) {
                memcpy(out, p, n);
                return n;
            }
            out[k++] = (char)b;
            i += cl;
        }
        return k;
    }
    int b = hf->dec_byte_fallback ? tok_byte_piece_value(p, n) : -1;
    if (b >= 0) {
        out[0] = (char)b;
        return 1;
    }
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (n - i >= 3 && !memcmp(p + i, METASPACE, 3)) {
            out[k++] = ' ';
            i += 3;
        } else {
            out[k++] = p[i++];
        }
    }
    return k;
}

static pp_status build_decoded(hf_ctx *c, tokenizer *t, int byte_level_decoder) {
    hf_bpe *hf = t->hf;
    int V = t->vocab_size;
    hf->dec = malloc((size_t)t->piece_offsets[V] + 1);
    hf->dec_off = malloc((size_t)(V + 1) * sizeof *hf->dec_off);
    if (!hf->dec || !hf->dec_off) return pp_fail(c->err, PP_ESYS, "%s: out of memory", c->what);
    int64_t off = 0;
    for (int i = 0; i < V; i++) {
        size_t n;
        const char *p = tok_piece_bytes(t, i, &n);
        hf->dec_off[i] = off;
        /* decoding never lengthens a token (characters -> bytes, U+2581 -> space) */
        off += (int64_t)decode_piece(hf, byte_level_decoder, p, n, hf->dec + off);
    }
    hf->dec_off[V] = off;
    return PP_OK;
}

/* ------------------------------------------------------------------------ */
/* loading */

static pp_status parse_json(hf_ctx *c, tokenizer *t, const char *json, size_t len) {
    hf_bpe *hf = t->hf;
    json_error_t je;
    json_t *root = json_loadb(json, len, 0, &je);
    if (!root) return pp_fail(c->err, PP_EINPUT, "%s: bad JSON at line %d column %d: %s", c->what, je.line, je.column, je.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return pp_fail(c->err, PP_EINPUT, "%s: bad JSON: the top level is not an object", c->what);
    }
    pp_status st = PP_OK;
    json_t *n = json_object_get(root, "normalizer"), *p = json_object_get(root, "pre_tokenizer");
    json_t *d = json_object_get(root, "decoder"), *pp = json_object_get(root, "post_processor");
    if (n && !json_is_null(n)) st = add_normalizer(c, hf, n);
    if (st == PP_OK && p && !json_is_null(p)) st = add_pre_tokenizer(c, hf, p);
    if (st == PP_OK) st = read_model(c, t, root);
    if (st == PP_OK && pp && !json_is_null(pp)) st = add_post_processor(c, hf, pp);
    int byte_level_decoder = 0, fused = 0;
    if (st == PP_OK && (!d || json_is_null(d))) st = refuse(c, "decoder", "(none)");
    if (st == PP_OK) st = add_decoder(c, hf, d, &byte_level_decoder, &fused);
    if (st == PP_OK && byte_level_decoder != hf->byte_level)
        st = bad(c, "decoder ByteLevel and pre_tokenizer ByteLevel must come together");
    if (st == PP_OK) st = build_decoded(c, t, byte_level_decoder);
    json_t *trunc = json_object_get(root, "truncation"), *pad = json_object_get(root, "padding");
    if (st == PP_OK && trunc && !json_is_null(trunc)) st = refuse(c, "truncation", "(set)");
    if (st == PP_OK && pad && !json_is_null(pad)) st = refuse(c, "padding", "(set)");
    json_decref(root);
    return st;
}

static pp_status read_generation_config(hf_ctx *c, tokenizer *t, const char *dir);

/* Build from the texts; gen_dir (or NULL) holds a generation_config.json. */
static pp_status hf_build(tokenizer *t, const char *json, size_t json_len, const char *config, const char *config_what,
                          const char *gen_dir, int bos, int pad, const int *eos_ids, int n_eos, const char *what,
                          pp_err *err) {
    memset(t, 0, sizeof *t);
    hf_ctx c = {what, err};
    t->kind = TOK_HF_BPE;
    t->hf = calloc(1, sizeof *t->hf);
    if (!t->hf) return pp_fail(err, PP_ESYS, "%s: out of memory", what);
    hf_bpe *hf = t->hf;
    byte_level_table(hf);
    hf->json = dup_bytes(json, json_len);
    hf->json_len = json_len;
    hf->config = config ? strdup(config) : NULL;
    pp_status st = (hf->json && (!config || hf->config)) ? PP_OK : pp_fail(err, PP_ESYS, "%s: out of memory", what);
    if (st == PP_OK) st = parse_json(&c, t, json, json_len);
    if (st == PP_OK) st = read_config(&c, t, config, config_what);
    if (st == PP_OK && gen_dir) st = read_generation_config(&c, t, gen_dir);
    if (st == PP_OK && bos != -2) t->bos_id = bos;
    if (st == PP_OK && pad != -2) t->pad_id = pad;
    for (int i = 0; st == PP_OK && eos_ids && i < n_eos; i++) {
        if (i == 0) t->n_eos = 0;
        add_eos(t, eos_ids[i]);
    }
    if (st == PP_OK && t->n_eos == 0)
        st = pp_fail(err, PP_EINPUT, "%s: no end-of-sequence token (tokenizer_config.json eos_token, generation_config.json "
                     "eos_token_id)", what);
    if (st == PP_OK) t->eos_id = t->eos_ids[0];
    if (st == PP_OK && (t->bos_id >= t->vocab_size || t->bos_id < -1 || t->pad_id >= t->vocab_size || t->pad_id < -1))
        st = pp_fail(err, PP_EINPUT, "%s: bos id %d / pad id %d outside the vocabulary of %d", what, t->bos_id, t->pad_id,
                     t->vocab_size);
    if (st != PP_OK) tok_free(t);
    return st;
}

pp_status tok_from_hf_text(tokenizer *t, const char *json, size_t json_len, const char *config, int bos, int pad,
                           const int *eos_ids, int n_eos, const char *what, pp_err *err) {
    return hf_build(t, json, json_len, config, what, NULL, bos, pad, eos_ids, n_eos, what, err);
}

static void dir_of(const char *path, char *dir, size_t cap) {
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, cap, ".");
    else snprintf(dir, cap, "%.*s", (int)(slash - path), path);
}

pp_status tok_load_hf(tokenizer *t, const char *tokenizer_json_path, const char *tokenizer_config_path_or_NULL,
                      pp_err *err) {
    memset(t, 0, sizeof *t);
    char *json = NULL, *config = NULL;
    size_t json_len = 0, config_len = 0;
    PP_TRY(pp_read_file(tokenizer_json_path, HF_MAX_JSON_BYTES, "tokenizer.json", &json, &json_len, err));
    pp_status st = PP_OK;
    if (tokenizer_config_path_or_NULL)
        st = pp_read_file(tokenizer_config_path_or_NULL, HF_MAX_JSON_BYTES, "tokenizer_config.json", &config, &config_len, err);
    if (st == PP_OK && config && strlen(config) != config_len)
        st = pp_fail(err, PP_EINPUT, "%s: contains a NUL byte", tokenizer_config_path_or_NULL);
    char dir[4096];
    dir_of(tokenizer_config_path_or_NULL ? tokenizer_config_path_or_NULL : tokenizer_json_path, dir, sizeof dir);
    if (st == PP_OK) st = hf_build(t, json, json_len, config, tokenizer_config_path_or_NULL, dir, -2, -2, NULL, 0,
                                   tokenizer_json_path, err);
    free(json);
    free(config);
    return st;
}

void hf_free(hf_bpe *hf) {
    if (!hf) return;
    free(hf->json);
    free(hf->config);
    for (int i = 0; i < hf->n_norm; i++) {
        free(hf->norm[i].from);
        free(hf->norm[i].to);
    }
    for (int i = 0; i < hf->n_pre; i++) pcre2_code_free(hf->pre[i].re);
    free(hf->merges);
    for (int i = 0; i < hf->n_added; i++) free(hf->added[i].content);
    free(hf->added);
    free(hf->special);
    free(hf->dec);
    free(hf->dec_off);
    free(hf);
}

const char *tok_hf_json(const tokenizer *t, size_t *len) {
    if (t->kind != TOK_HF_BPE || !t->hf) return NULL;
    *len = t->hf->json_len;
    return t->hf->json;
}

const char *tok_hf_config(const tokenizer *t) { return t->kind == TOK_HF_BPE && t->hf ? t->hf->config : NULL; }

/* ------------------------------------------------------------------------ */
/* writing tokenizer.json */

/* dir/name <- data, through name.tmp and a rename. */
static pp_status write_file_atomic(const char *dir, const char *name, const char *data, size_t len, pp_err *err) {
    char path[4096], tmp[4200];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return pp_fail(err, PP_EINPUT, "%s: path too long", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return pp_fail(err, PP_ESYS, "%s: cannot create: %s", tmp, strerror(errno));
    return tok_close_and_rename(f, fwrite(data, 1, len, f) == len, tmp, path, err);
}

static pp_status write_json_atomic(const char *dir, const char *name, json_t *j, pp_err *err) {
    char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (!text) return pp_fail(err, PP_ESYS, "%s/%s: out of memory", dir, name);
    pp_status st = write_file_atomic(dir, name, text, strlen(text), err);
    free(text);
    return st;
}

/* A llama2.c piece as tokenizer.json text: spaces become U+2581. */
static json_t *l2c_piece_json(const tokenizer *t, int id) {
    size_t n;
    const char *p = tok_piece_bytes(t, id, &n);
    if (!pp_utf8_valid(p, n, &(size_t){0}) || memchr(p, 0, n)) return NULL;
    char *buf = malloc(3 * n + 1);
    if (!buf) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == ' ') {
            memcpy(buf + k, METASPACE, 3);
            k += 3;
        } else {
            buf[k++] = p[i];
        }
    }
    json_t *j = json_stringn(buf, k);
    free(buf);
    return j;
}

typedef struct {
    float score;
    int id, left, right;
} l2c_merge;

static int cmp_l2c_merge(const void *x, const void *y) {
    const l2c_merge *a = x, *b = y;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    if (a->id != b->id) return a->id - b->id;
    return a->left - b->left;
}

/* run.c merges the pair whose merged piece scores highest: as ranked
 * merges, every split (left, right) of every piece into two pieces, best
 * merged score first. */
static json_t *l2c_merges(const tokenizer *t, json_t **names) {
    size_t cap = 1024, n = 0;
    l2c_merge *m = malloc(cap * sizeof *m);
    for (int id = 0; m && id < t->vocab_size; id++) {
        size_t len;
        const char *p = tok_piece_bytes(t, id, &len);
        if (id < 3 + 256 || len < 2) continue; /* specials and byte pieces are never merge results here */
        for (size_t k = utf8_len((unsigned char)p[0]); k < len; k += utf8_len((unsigned char)p[k])) {
            int l = lookup(t, p, k), r = lookup(t, p + k, len - k);
            if (l < 0 || r < 0) continue;
            if (n == cap) {
                l2c_merge *g = realloc(m, 2 * cap * sizeof *m);
                if (!g) {
                    free(m);
                    return NULL;
                }
                m = g;
                cap *= 2;
            }
            m[n++] = (l2c_merge){t->scores[id], id, l, r};
        }
    }
    if (!m) return NULL;
    qsort(m, n, sizeof *m, cmp_l2c_merge);
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++)
        json_array_append_new(list, json_pack("[OO]", names[m[i].left], names[m[i].right]));
    free(m);
    return list;
}

static json_t *l2c_tokenizer_json(const tokenizer *t, const char *path, pp_err *err) {
    json_t **names = calloc((size_t)t->vocab_size, sizeof *names);
    json_t *vocab = json_object();
    pp_status st = names && vocab ? PP_OK : pp_fail(err, PP_ESYS, "%s: out of memory", path);
    for (int i = 0; st == PP_OK && i < t->vocab_size; i++) {
        names[i] = l2c_piece_json(t, i);
        if (!names[i]) st = pp_fail(err, PP_EINPUT, "%s: token %d is not valid UTF-8 text", path, i);
        else if (json_object_get(vocab, json_string_value(names[i])))
            st = pp_fail(err, PP_EINPUT, "%s: token %d \"%s\" appears twice; tokenizer.json needs distinct tokens", path, i,
                         json_string_value(names[i]));
        else json_object_set_new(vocab, json_string_value(names[i]), json_integer(i));
    }
    json_t *merges = st == PP_OK ? l2c_merges(t, names) : NULL;
    if (st == PP_OK && !merges) st = pp_fail(err, PP_ESYS, "%s: out of memory", path);
    json_t *root = NULL;
    if (st == PP_OK) {
        json_t *added = json_array();
        for (int i = 0; i < 3; i++)
            json_array_append_new(added, json_pack("{s:i,s:O,s:b,s:b,s:b,s:b,s:b}", "id", i, "content", names[i],
                                                   "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", 0, "special", 1));
        const char *bos = json_string_value(names[1]);
        root = json_pack(
            "{s:s, s:n, s:n, s:o, s:o,"
            " s:{s:s,s:[{s:s,s:s},{s:s,s:{s:s},s:s}]}, s:n,"
            " s:{s:s, s:[{s:{s:s,s:i}},{s:{s:s,s:i}}], s:[], s:{s:{s:s,s:[i],s:[s]}}},"
            " s:{s:s,s:[{s:s,s:{s:s},s:s},{s:s},{s:s},{s:s,s:s,s:i,s:i}]},"
            " s:{s:s,s:n,s:s,s:n,s:n,s:b,s:b,s:b,s:o,s:o}}",
            "version", "1.0", "truncation", "padding", "added_tokens", added, "_comment",
            json_string("written by prefpipe from a llama2.c tokenizer"),
            "normalizer", "type", "Sequence", "normalizers", "type", "Prepend", "prepend", METASPACE, "type", "Replace",
            "pattern", "String", " ", "content", METASPACE, "pre_tokenizer",
            "post_processor", "type", "TemplateProcessing", "single", "SpecialToken", "id", bos, "type_id", 0, "Sequence",
            "id", "A", "type_id", 0, "pair", "special_tokens", bos, "id", bos, "ids", 1, "tokens", bos,
            "decoder", "type", "Sequence", "decoders", "type", "Replace", "pattern", "String", METASPACE, "content", " ",
            "type", "ByteFallback", "type", "Fuse", "type", "Strip", "content", " ", "start", 1, "stop", 0,
            "model", "type", "BPE", "dropout", "unk_token", json_string_value(names[0]), "continuing_subword_prefix",
            "end_of_word_suffix", "fuse_unk", 1, "byte_fallback", 1, "ignore_merges", 0, "vocab", vocab, "merges", merges);
        if (!root) st = pp_fail(err, PP_ESYS, "%s: cannot build tokenizer.json", path);
        else vocab = NULL;
        json_object_del(root, "_comment");
    }
    for (int i = 0; names && i < t->vocab_size; i++) json_decref(names[i]);
    free(names);
    json_decref(vocab);
    return st == PP_OK ? root : NULL;
}

pp_status tok_save_hf(const tokenizer *t, const char *dir, pp_err *err) {
    if (t->kind == TOK_BYTE)
        return pp_fail(err, PP_EINPUT, "%s: the byte-level test tokenizer has no tokenizer.json form", dir);
    if (t->kind == TOK_HF_BPE) {
        PP_TRY(write_file_atomic(dir, "tokenizer.json", t->hf->json, t->hf->json_len, err));
        if (t->hf->config) return write_file_atomic(dir, "tokenizer_config.json", t->hf->config, strlen(t->hf->config), err);
    } else {
        json_t *root = l2c_tokenizer_json(t, dir, err);
        if (!root) return PP_EINPUT;
        pp_status st = write_json_atomic(dir, "tokenizer.json", root, err);
        json_decref(root);
        PP_TRY(st);
    }
    /* a config saying which tokens are BOS / EOS / PAD */
    size_t n;
    json_t *cfg = json_pack("{s:b,s:b,s:s}", "add_bos_token", t->kind == TOK_LLAMA2C || (t->hf && t->hf->n_prefix > 0),
                            "add_eos_token", 0, "tokenizer_class", "PreTrainedTokenizerFast");
    const char *keys[3] = {"bos_token", "eos_token", "pad_token"};
    int ids[3] = {t->bos_id, t->eos_id, t->pad_id};
    for (int i = 0; cfg && i < 3; i++)
        if (ids[i] >= 0) {
            /* the token as tokenizer.json names it */
            const char *p = tok_piece_bytes(t, ids[i], &n);
            json_t *name = t->kind == TOK_LLAMA2C ? l2c_piece_json(t, ids[i]) : json_stringn(p, n);
            if (name) json_object_set_new(cfg, keys[i], name);
        }
    pp_status st = write_json_atomic(dir, "tokenizer_config.json", cfg, err);
    json_decref(cfg);
    return st;
}

/* ------------------------------------------------------------------------ */
/* encoding */

/* Growable byte buffer and piece list, owned by one encode call. */
typedef struct {
    char *buf;
    size_t len, cap;
} bytes;

typedef struct {
    size_t start, len;
    int prefix_space; /* ByteLevel add_prefix_space: a space goes first */
} piece;

typedef struct {
    const tokenizer *t;
    pp_err *err;
    bytes norm, word;
    piece *pieces, *next_pieces;
    size_t n_pieces, pieces_cap;
    int *syms;
    int syms_cap;
    merge_scratch merge;
    pcre2_match_data *md;
    int *ids;
    int cap, n;
} enc;

static pp_status bytes_reserve(enc *e, bytes *b, size_t need) {
    if (need <= b->cap) return PP_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap *= 2;
    char *p = realloc(b->buf, cap);
    if (!p) return pp_fail(e->err, PP_ESYS, "tokenizer: out of memory (%zu bytes)", cap);
    b->buf = p;
    b->cap = cap;
    return PP_OK;
}

static pp_status bytes_put(enc *e, bytes *b, const char *s, size_t n) {
    PP_TRY(bytes_reserve(e, b, b->len + n + 1));
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
    return PP_OK;
}

static pp_status emit(enc *e, int id) {
    if (e->n >= e->cap)
        return pp_fail(e->err, PP_EINPUT, "tokenizer: the text needs more than the %d ids given", e->cap);
    e->ids[e->n++] = id;
    return PP_OK;
}

/* BPE on one word (already in the vocabulary's alphabet). */
static pp_status bpe_word(enc *e, const char *w, size_t n) {
    const tokenizer *t = e->t;
    const hf_bpe *hf = t->hf;
    if (n == 0) return PP_OK;
    if (hf->ignore_merges) {
        int id = lookup(t, w, n);
        if (id >= 0) return emit(e, id);
    }
    if ((size_t)e->syms_cap < 4 * n) {
        int *p = realloc(e->syms, 4 * n * sizeof *p);
        if (!p) return pp_fail(e->err, PP_ESYS, "tokenizer: out of memory");
        e->syms = p;
        e->syms_cap = (int)(4 * n);
    }
    /* An <unk> waits until the next character found in the vocabulary (or
     * the end): byte-fallback tokens do not end the wait, and with fuse_unk
     * the unknown characters on either side of them make one <unk> after
     * them.  Odd, but what HF's BPE does (it matters only for vocabularies
     * missing some <0xXX> tokens). */
    int m = 0, unk_waiting = 0;
    for (size_t i = 0; i < n;) {
        size_t cl = utf8_len((unsigned char)w[i]);
        if (cl > n - i) cl = n - i;
        int id = lookup(t, w + i, cl);
        int all_bytes = 1;
        for (size_t k = 0; k < cl; k++) all_bytes &= hf->byte_ids[(unsigned char)w[i + k]] >= 0;
        if (id >= 0) {
            if (unk_waiting) e->syms[m++] = hf->unk_id;
            unk_waiting = 0;
            e->syms[m++] = id;
        } else if (hf->byte_fallback && all_bytes) {
            for (size_t k = 0; k < cl; k++) e->syms[m++] = hf->byte_ids[(unsigned char)w[i + k]];
        } else if (hf->unk_id >= 0) {
            if (unk_waiting && !hf->fuse_unk) e->syms[m++] = hf->unk_id;
            unk_waiting = 1;
        } /* no unk token: the character is dropped, as HF does */
        i += cl;
    }
    if (unk_waiting) e->syms[m++] = hf->unk_id;
    PP_TRY(merge_scratch_reserve(&e->merge, m, e->err));
    tok_merge_pairs(t, e->syms, &m, &e->merge);
    for (int i = 0; i < m; i++) PP_TRY(emit(e, e->syms[i]));
    return PP_OK;
}

/* Normalize seg into e->norm (normalizers, then Metaspace's replacement). */
static pp_status normalize(enc *e, const char *seg, size_t n, int at_start) {
    const hf_bpe *hf = e->t->hf;
    e->norm.len = 0;
    PP_TRY(bytes_put(e, &e->norm, seg, n));
    for (int k = 0; k < hf->n_norm + hf->n_pre; k++) {
        const norm_step *s = k < hf->n_norm ? &hf->norm[k] : NULL;
        const pre_step *p = k >= hf->n_norm ? &hf->pre[k - hf->n_norm] : NULL;
        if (p && p->kind != PRE_METASPACE) continue;
        if (e->norm.len == 0) return PP_OK;
        if (s && s->kind == NORM_NFC) {
            utf8proc_uint8_t *out = utf8proc_NFC((const utf8proc_uint8_t *)e->norm.buf);
            if (!out) return pp_fail(e->err, PP_ESYS, "tokenizer: NFC failed (out of memory)");
            e->norm.len = 0;
            pp_status st = bytes_put(e, &e->norm, (const char *)out, strlen((const char *)out));
            free(out);
            PP_TRY(st);
            continue;
        }
        const char *from = s ? s->from : " ", *to = s ? s->to : METASPACE;
        /* rebuild into word (scratch), then swap */
        e->word.len = 0;
        PP_TRY(bytes_reserve(e, &e->word, 1));
        int prepend = s ? s->kind == NORM_PREPEND
                        : (p->prepend == 2 || (p->prepend == 1 && at_start)) &&
                              strncmp(e->norm.buf, METASPACE, 3) != 0 && strncmp(e->norm.buf, " ", 1) != 0;
        if (prepend) PP_TRY(bytes_put(e, &e->word, to, strlen(to)));
        if (s && s->kind == NORM_PREPEND) {
            PP_TRY(bytes_put(e, &e->word, e->norm.buf, e->norm.len));
        } else {
            size_t fl = strlen(from);
            for (size_t i = 0; i < e->norm.len;) {
                if (e->norm.len - i >= fl && !memcmp(e->norm.buf + i, from, fl)) {
                    PP_TRY(bytes_put(e, &e->word, to, strlen(to)));
                    i += fl;
                } else {
                    PP_TRY(bytes_put(e, &e->word, e->norm.buf + i, 1));
                    i++;
                }
            }
        }
        bytes tmp = e->norm;
        e->norm = e->word;
        e->word = tmp;
    }
    return PP_OK;
}

static pp_status pieces_reserve(enc *e, size_t need) {
    if (need <= e->pieces_cap) return PP_OK;
    size_t cap = e->pieces_cap ? e->pieces_cap : 64;
    while (cap < need) cap *= 2;
    piece *a = realloc(e->pieces, cap * sizeof *a);
    if (a) e->pieces = a;
    piece *b = a ? realloc(e->next_pieces, cap * sizeof *b) : NULL;
    if (b) e->next_pieces = b;
    if (!a || !b) return pp_fail(e->err, PP_ESYS, "tokenizer: out of memory");
    e->pieces_cap = cap;
    return PP_OK;
}

/* Split every piece by one step into e->next_pieces, then swap. */
static pp_status split_step(enc *e, const pre_step *s) {
    size_t out = 0;
    const char *text = e->norm.buf;
    for (size_t i = 0; i < e->n_pieces; i++) {
        piece pc = e->pieces[i];
        /* at most one piece per character plus one */
        PP_TRY(pieces_reserve(e, out + pc.len + 2));
        piece *dst = e->next_pieces;
        if (s->kind == PRE_METASPACE) {
            size_t from = pc.start, end = pc.start + pc.len;
            for (size_t k = pc.start + 1; k + 3 <= end; k++)
                if (!memcmp(text + k, METASPACE, 3)) {
                    dst[out++] = (piece){from, k - from, 0};
                    from = k;
                }
            dst[out++] = (piece){from, end - from, 0};
            continue;
        }
        /* the regex sees this piece only, as HF's does */
        const char *sub = text + pc.start;
        size_t pos = 0, end = pc.len, gap = 0;
        while (pos <= end) {
            int rc = pcre2_match(s->re, (PCRE2_SPTR)sub, end, pos, PCRE2_NO_UTF_CHECK, e->md, NULL);
            if (rc < 0) break;
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(e->md);
            size_t ms = ov[0], me = ov[1];
            if (me == ms) { /* empty match: step one character on */
                if (ms >= end) break;
                pos = ms + utf8_len((unsigned char)sub[ms]);
                continue;
            }
            if (ms > gap) dst[out++] = (piece){pc.start + gap, ms - gap, 0};
            dst[out++] = (piece){pc.start + ms, me - ms, 0};
            gap = pos = me;
        }
        if (gap < end) dst[out++] = (piece){pc.start + gap, end - gap, 0};
    }
    piece *tmp = e->pieces;
    e->pieces = e->next_pieces;
    e->next_pieces = tmp;
    e->n_pieces = out;
    return PP_OK;
}

/* One segment of text between added tokens. */
static pp_status encode_segment(enc *e, const char *seg, size_t n, int at_start) {
    const hf_bpe *hf = e->t->hf;
    if (n == 0) return PP_OK;
    PP_TRY(normalize(e, seg, n, at_start));
    /* ByteLevel's prefix space, when it is the first step, comes before
     * any split (add_pre_tokenizer refuses the other regex cases) */
    if (hf->n_pre > 0 && hf->pre[0].kind == PRE_BYTELEVEL && hf->pre[0].add_prefix_space && e->norm.len > 0 &&
        e->norm.buf[0] != ' ') {
        e->word.len = 0;
        PP_TRY(bytes_put(e, &e->word, " ", 1));
        PP_TRY(bytes_put(e, &e->word, e->norm.buf, e->norm.len));
        bytes tmp = e->norm;
        e->norm = e->word;
        e->word = tmp;
    }
    PP_TRY(pieces_reserve(e, 1));
    e->pieces[0] = (piece){0, e->norm.len, 0};
    e->n_pieces = e->norm.len > 0;
    for (int k = 0; k < hf->n_pre; k++) {
        const pre_step *s = &hf->pre[k];
        if ((s->kind == PRE_METASPACE && s->split) || s->re) PP_TRY(split_step(e, s));
        if (s->kind == PRE_BYTELEVEL && s->add_prefix_space && k > 0)
            for (size_t i = 0; i < e->n_pieces; i++) e->pieces[i].prefix_space = e->norm.buf[e->pieces[i].start] != ' ';
    }
    for (size_t i = 0; i < e->n_pieces; i++) {
        piece pc = e->pieces[i];
        const char *w = e->norm.buf + pc.start;
        if (!hf->byte_level) {
            PP_TRY(bpe_word(e, w, pc.len));
            continue;
        }
        /* every byte as its printable character (at most 2 UTF-8 bytes) */
        e->word.len = 0;
        PP_TRY(bytes_reserve(e, &e->word, 2 * pc.len + 3));
        char *o = e->word.buf;
        if (pc.prefix_space) o += utf8_put((unsigned)hf->byte_to_cp[' '], o);
        for (size_t k = 0; k < pc.len; k++) o += utf8_put((unsigned)hf->byte_to_cp[(unsigned char)w[k]], o);
        e->word.len = (size_t)(o - e->word.buf);
        PP_TRY(bpe_word(e, e->word.buf, e->word.len));
    }
    return PP_OK;
}

static int is_word_byte(unsigned char c) { return c >= 0x80 || c == '_' || (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z'); }
static int is_space_byte(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* The added token matching at s[i] (longest; single_word ones only at
 * word boundaries), or -1. */
static int match_added(const hf_bpe *hf, const char *s, size_t n, size_t i) {
    int best = -1;
    for (int k = 0; k < hf->n_added; k++) {
        const added_token *a = &hf->added[k];
        if (a->len > n - i || memcmp(s + i, a->content, a->len)) continue;
        if (a->single_word && ((i > 0 && is_word_byte((unsigned char)s[i - 1])) ||
                               (i + a->len < n && is_word_byte((unsigned char)s[i + a->len]))))
            continue;
        if (best < 0 || a->len > hf->added[best].len) best = k;
    }
    return best;
}

static pp_status encode_text(enc *e, const char *s, size_t n) {
    const hf_bpe *hf = e->t->hf;
    size_t seg = 0;
    for (size_t i = 0; i < n;) {
        int k = hf->added_first[(unsigned char)s[i]] ? match_added(hf, s, n, i) : -1;
        if (k < 0) {
            i++;
            continue;
        }
        const added_token *a = &hf->added[k];
        size_t seg_end = i, next = i + a->len;
        if (a->lstrip)
            while (seg_end > seg && is_space_byte((unsigned char)s[seg_end - 1])) seg_end--;
        if (a->rstrip)
            while (next < n && is_space_byte((unsigned char)s[next])) next++;
        PP_TRY(encode_segment(e, s + seg, seg_end - seg, seg == 0));
        PP_TRY(emit(e, a->id));
        seg = i = next;
    }
    return encode_segment(e, s + seg, n - seg, seg == 0);
}

pp_status hf_encode(const tokenizer *t, const char *text, int add_bos, int *ids, int cap, int *n_ids, pp_err *err) {
    const hf_bpe *hf = t->hf;
    *n_ids = 0;
    char *owned = NULL;
    const char *s = pp_utf8_clean(text, &owned);
    if (!s) return pp_fail(err, PP_ESYS, "tokenizer: out of memory");
    enc e = {.t = t, .err = err, .ids = ids, .cap = cap};
    e.md = pcre2_match_data_create(4, NULL);
    pp_status st = e.md ? PP_OK : pp_fail(err, PP_ESYS, "tokenizer: out of memory");
    for (int i = 0; st == PP_OK && add_bos && i < hf->n_prefix; i++) st = emit(&e, hf->prefix[i]);
    if (st == PP_OK) st = encode_text(&e, s, strlen(s));
    for (int i = 0; st == PP_OK && add_bos && i < hf->n_suffix; i++) st = emit(&e, hf->suffix[i]);
    if (st == PP_OK) *n_ids = e.n;
    pcre2_match_data_free(e.md);
    free(e.norm.buf);
    free(e.word.buf);
    free(e.pieces);
    free(e.next_pieces);
    free(e.syms);
    merge_scratch_free(&e.merge);
    free(owned);
    return st;
}

/* ------------------------------------------------------------------------ */
/* decoding */

const char *hf_piece(const tokenizer *t, int prev_id, int id, size_t *len) {
    const hf_bpe *hf = t->hf;
    *len = 0;
    if (id < 0 || id >= t->vocab_size || tok_is_special(t, id)) return "";
    const char *p = hf->dec + hf->dec_off[id];
    size_t n = (size_t)(hf->dec_off[id + 1] - hf->dec_off[id]);
    if (hf->strip_start && (prev_id < 0 || prev_id == t->bos_id) && n > 0 && p[0] == ' ') {
        p++;
        n--;
    }
    *len = n;
    return p;
}

int tok_is_special(const tokenizer *t, int id) {
    if (id < 0 || id >= t->vocab_size) return 0;
    if (id == t->bos_id || id == t->pad_id || tok_is_eos(t, id)) return 1;
    return t->kind == TOK_HF_BPE && t->hf->special[id];
}
