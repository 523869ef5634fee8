/* test_tokenizer.c - byte-level and llama2.c tokenizers.
 *
 * Ground truth for the llama2.c kind is tests/fixtures/runc_encode.txt and
 * runc_greedy.txt, produced by llama2.c's own run.c (see their headers).
 * Tests that need ../shared/models/tok512.bin skip, saying so, when it is
 * absent (env PP_SHARED, default <repo>/../shared). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/tokenizer.h"

static char root_dir[900];
static char shared_dir[1024];
static char tmp_dir[256];

/* ------------------------------------------------------------------------ */
/* helpers */

static void set_paths(void) {
    const char *root = getenv("ROOT"); /* exported by tests/run-tests.sh */
    if (root && *root) {
        snprintf(root_dir, sizeof root_dir, "%s", root);
    } else {
        /* built from the repo root as tests/unit/test_tokenizer.c */
        const char *f = __FILE__, *cut = strstr(f, "tests/unit/");
        if (cut && cut > f)
            snprintf(root_dir, sizeof root_dir, "%.*s", (int)(cut - f - 1), f);
        else
            snprintf(root_dir, sizeof root_dir, ".");
    }
    const char *sh = getenv("PP_SHARED");
    if (sh && *sh)
        snprintf(shared_dir, sizeof shared_dir, "%s", sh);
    else
        snprintf(shared_dir, sizeof shared_dir, "%s/../shared", root_dir);
}

/* Path of tok512.bin, or NULL (after printing why) when it is absent. */
static const char *tok512_path(void) {
    static char path[1200];
    snprintf(path, sizeof path, "%s/models/tok512.bin", shared_dir);
    if (access(path, R_OK) != 0) {
        print_message("skip: needs %s (set PP_SHARED to the shared data directory)\n", path);
        return NULL;
    }
    return path;
}

static unsigned char *read_all(const char *path, long *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(*size > 0 ? (size_t)*size : 1);
    if (buf && fread(buf, 1, (size_t)*size, f) != (size_t)*size) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

static void write_all(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n) assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Undo the fixture escapes: \\ \n \t \xHH. */
static size_t unescape(const char *s, char *out) {
    size_t n = 0;
    while (*s) {
        if (s[0] == '\\' && s[1] == 'n') { out[n++] = '\n'; s += 2; }
        else if (s[0] == '\\' && s[1] == 't') { out[n++] = '\t'; s += 2; }
        else if (s[0] == '\\' && s[1] == '\\') { out[n++] = '\\'; s += 2; }
        else if (s[0] == '\\' && s[1] == 'x') {
            unsigned v;
            assert_int_equal(sscanf(s + 2, "%2x", &v), 1);
            out[n++] = (char)v;
            s += 4;
        } else {
            out[n++] = *s++;
        }
    }
    out[n] = '\0';
    return n;
}

/* "prompt TEXT" -> unescaped TEXT (a bare "prompt" is the empty prompt, in
 * case an editor trimmed the trailing space). */
static size_t parse_prompt(const char *line, char *out) {
    if (strcmp(line, "prompt") == 0) {
        out[0] = '\0';
        return 0;
    }
    assert_memory_equal(line, "prompt ", 7);
    return unescape(line + 7, out);
}

/* "KEY N id id ..." -> ids; returns N. */
static int parse_ids(const char *line, const char *key, int *ids, int cap) {
    size_t k = strlen(key);
    assert_memory_equal(line, key, k);
    const char *p = line + k;
    char *end;
    int n = (int)strtol(p, &end, 10);
    assert_true(n >= 0 && n <= cap);
    p = end;
    for (int i = 0; i < n; i++) {
        ids[i] = (int)strtol(p, &end, 10);
        assert_true(end != p);
        p = end;
    }
    return n;
}

/* Next non-comment line without its newline, or NULL at EOF. */
static char *next_line(FILE *f, char *buf, size_t cap) {
    while (fgets(buf, (int)cap, f)) {
        size_t n = strlen(buf);
        assert_true(n > 0 && buf[n - 1] == '\n'); /* line fits */
        buf[n - 1] = '\0';
        if (buf[0] != '#') return buf;
    }
    return NULL;
}

static FILE *open_fixture(const char *name) {
    char path[1200];
    snprintf(path, sizeof path, "%s/tests/fixtures/%s", root_dir, name);
    FILE *f = fopen(path, "r");
    if (!f) print_message("missing fixture %s\n", path);
    assert_non_null(f);
    return f;
}

/* A small llama2.c tokenizer.bin: <unk>, BOS, EOS, 256 byte pieces, then
 * `extra` pieces with their scores. */
static int write_l2c(const char *path, int32_t max_len, const char **extra, const float *scores,
                     int n_extra) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(&max_len, 4, 1, f);
    for (int i = 0; i < 259 + n_extra; i++) {
        char piece[64];
        float score = 0.0f;
        if (i == 0) strcpy(piece, "<unk>");
        else if (i == 1) strcpy(piece, "\n<s>\n");
        else if (i == 2) strcpy(piece, "\n</s>\n");
        else if (i < 259) sprintf(piece, "<0x%02X>", i - 3);
        else {
            strcpy(piece, extra[i - 259]);
            score = scores[i - 259];
        }
        int32_t len = (int32_t)strlen(piece);
        fwrite(&score, 4, 1, f);
        fwrite(&len, 4, 1, f);
        fwrite(piece, 1, (size_t)len, f);
    }
    assert_int_equal(fclose(f), 0);
    return 259 + n_extra;
}

/* run.c's encode written out plainly (linear lookups, full rescans), to
 * check the faster merge bookkeeping in tokenizer.c against. */
static int ref_lookup(const tokenizer *t, const char *s, size_t n) {
    for (int i = 0; i < t->vocab_size; i++) {
        size_t len = (size_t)(t->piece_offsets[i + 1] - t->piece_offsets[i]);
        if (len == n && memcmp(t->pieces + t->piece_offsets[i], s, n) == 0) return i;
    }
    return -1;
}

static int ref_encode(const tokenizer *t, const char *text, int *ids) {
    int n = 0;
    ids[n++] = 1;
    if (text[0]) ids[n++] = ref_lookup(t, " ", 1);
    const unsigned char *s = (const unsigned char *)text;
    while (*s) {
        size_t len = 1;
        while (len < 4 && (s[len] & 0xC0) == 0x80) len++;
        int id = ref_lookup(t, (const char *)s, len);
        if (id >= 0) ids[n++] = id;
        else for (size_t i = 0; i < len; i++) ids[n++] = s[i] + 3;
        s += len;
    }
    char buf[512];
    for (;;) {
        float best = -1e10f;
        int best_i = -1, best_id = -1;
        for (int i = 0; i + 1 < n; i++) {
            size_t la = (size_t)(t->piece_offsets[ids[i] + 1] - t->piece_offsets[ids[i]]);
            size_t lb = (size_t)(t->piece_offsets[ids[i + 1] + 1] - t->piece_offsets[ids[i + 1]]);
            memcpy(buf, t->pieces + t->piece_offsets[ids[i]], la);
            memcpy(buf + la, t->pieces + t->piece_offsets[ids[i + 1]], lb);
            int id = ref_lookup(t, buf, la + lb);
            if (id >= 0 && t->scores[id] > best) {
                best = t->scores[id];
                best_i = i;
                best_id = id;
            }
        }
        if (best_i < 0) break;
        ids[best_i] = best_id;
        memmove(ids + best_i + 1, ids + best_i + 2, (size_t)(n - best_i - 2) * sizeof *ids);
        n--;
    }
    return n;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t next_rand(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

/* Random text mixing ASCII words, valid multi-byte code points and bytes
 * that are not valid UTF-8; never contains NUL. */
static size_t random_text(char *out, size_t max_len) {
    static const char *parts[] = {"the", " ", "a", "Once", " upon", "e", "\n", "\xe2\x80\x9c",
                                  "\xc3\xa9", "\xf0\x9f\x98\x80", "!", "ing", "  ", "\t", "Lily"};
    size_t n = 0, want = next_rand() % max_len;
    while (n < want) {
        uint32_t r = next_rand() % 10;
        if (r < 7) {
            const char *p = parts[next_rand() % (sizeof parts / sizeof *parts)];
            size_t len = strlen(p);
            if (n + len > max_len) break;
            memcpy(out + n, p, len);
            n += len;
        } else {
            out[n++] = (char)(1 + next_rand() % 255);
        }
    }
    out[n] = '\0';
    return n;
}

/* ------------------------------------------------------------------------ */
/* byte-level */

static void test_bytes_layout(void **state) {
    (void)state;
    tokenizer t;
    pp_err err = {0};
    assert_int_equal(tok_init_bytes(&t, &err), PP_OK);
    assert_int_equal(t.kind, TOK_BYTE);
    assert_int_equal(t.vocab_size, 259);
    assert_int_equal(t.bos_id, 256);
    assert_int_equal(t.eos_id, 257);
    assert_int_equal(t.pad_id, 258);
    const char *want[3] = {"<s>", "</s>", "<pad>"};
    for (int i = 0; i < 3; i++) {
        int64_t a = t.piece_offsets[256 + i], b = t.piece_offsets[257 + i];
        assert_int_equal(b - a, (int64_t)strlen(want[i]));
        assert_memory_equal(t.pieces + a, want[i], strlen(want[i]));
        size_t len = 99;
        tok_piece(&t, -1, 256 + i, &len);
        assert_int_equal(len, 0); /* specials decode to nothing */
    }
    for (int b = 0; b < 256; b++) {
        size_t len = 0;
        const char *p = tok_piece(&t, 256, b, &len); /* no space stripping here */
        assert_int_equal(len, 1);
        assert_int_equal((unsigned char)p[0], b);
    }
    tok_free(&t);
}

static void test_bytes_roundtrip(void **state) {
    (void)state;
    tokenizer t;
    pp_err err = {0};
    assert_int_equal(tok_init_bytes(&t, &err), PP_OK);
    char text[300];
    for (int i = 0; i < 255; i++) text[i] = (char)(i + 1); /* every non-NUL byte */
    text[255] = '\0';
    const char *samples[] = {text, "", " leading space", "h\xc3\xa9llo \xe2\x80\x9cHi\xe2\x80\x9d",
                             "bad \xff\xfe\x80 \xc3( utf8"};
    for (size_t s = 0; s < sizeof samples / sizeof *samples; s++) {
        size_t len = strlen(samples[s]);
        int ids[300];
        int n = -1;
        assert_int_equal(tok_encode(&t, samples[s], 1, 1, ids, &n, &err), PP_OK);
        assert_int_equal(n, (int)len + 2);
        assert_int_equal(ids[0], 256);
        assert_int_equal(ids[n - 1], 257);
        for (size_t i = 0; i < len; i++) assert_int_equal(ids[i + 1], (unsigned char)samples[s][i]);
        char out[300];
        assert_int_equal(tok_decode(&t, ids, n, out, sizeof out), len);
        assert_string_equal(out, samples[s]);
    }
    tok_free(&t);
}

/* ------------------------------------------------------------------------ */
/* llama2.c: against run.c */

static void test_l2c_encode_matches_runc(void **state) {
    (void)state;
    const char *path = tok512_path();
    if (!path) { skip(); return; }
    tokenizer t;
    pp_err err = {0};
    assert_int_equal(tok_load_llama2c(&t, path, 512, &err), PP_OK);
    FILE *f = open_fixture("runc_encode.txt");
    static char line[1 << 16], text[1 << 15];
    int want[4096], got[4096], cases = 0;
    while (next_line(f, line, sizeof line)) {
        size_t len = parse_prompt(line, text);
        assert_non_null(next_line(f, line, sizeof line));
        int n_want = parse_ids(line, "ids", want, 4096);
        /* canaries: encode may use at most strlen + 3 entries */
        for (int i = 0; i < 4096; i++) got[i] = -777;
        int n = -1;
        assert_int_equal(tok_encode(&t, text, 1, 0, got, &n, &err), PP_OK);
        assert_int_equal(n, n_want);
        assert_memory_equal(got, want, (size_t)n * sizeof *got);
        assert_int_equal(got[len + 3], -777);
        /* with EOS: the same ids plus 2 */
        assert_int_equal(tok_encode(&t, text, 1, 1, got, &n, &err), PP_OK);
        assert_int_equal(n, n_want + 1);
        assert_int_equal(got[n - 1], 2);
        /* decoding BOS + ids gives the prompt back, byte for byte */
        char out[1 << 15];
        assert_int_equal(tok_decode(&t, want, n_want, out, sizeof out), len);
        assert_memory_equal(out, text, len + 1);
        cases++;
    }
    fclose(f);
    assert_true(cases >= 6);
    tok_free(&t);
}

/* Decode BOS + prompt + generated ids with run.c's printing rule (single
 * bytes that are neither printable nor space are skipped) and compare with
 * run.c's stdout. */
static void test_l2c_decode_matches_runc(void **state) {
    (void)state;
    const char *path = tok512_path();
    if (!path) { skip(); return; }
    tokenizer t;
    pp_err err = {0};
    assert_int_equal(tok_load_llama2c(&t, path, 512, &err), PP_OK);
    FILE *f = open_fixture("runc_greedy.txt");
    static char line[1 << 16], want[1 << 15], got[1 << 15], raw[1 << 15];
    int ids[4096], cases = 0;
    while (next_line(f, line, sizeof line)) {
        parse_prompt(line, want);
        assert_non_null(next_line(f, line, sizeof line)); /* steps */
        assert_non_null(next_line(f, line, sizeof line));
        int n = parse_ids(line, "prompt_ids", ids, 4096);
        assert_non_null(next_line(f, line, sizeof line));
        n += parse_ids(line, "generated_ids", ids + n, 4096 - n);
        assert_non_null(next_line(f, line, sizeof line));
        assert_memory_equal(line, "text ", 5);
        size_t want_len = unescape(line + 5, want);
        assert_int_equal(ids[0], 1);
        size_t len = 0, raw_len = 0;
        for (int i = 1; i < n && ids[i] != 1; i++) { /* run.c stops at BOS */
            size_t plen;
            const char *p = tok_piece(&t, ids[i - 1], ids[i], &plen);
            memcpy(raw + raw_len, p, plen);
            raw_len += plen;
            if (plen == 1 && !(isprint((unsigned char)p[0]) || isspace((unsigned char)p[0])))
                continue;
            memcpy(got + len, p, plen);
            len += plen;
        }
        assert_int_equal(len, want_len);
        assert_memory_equal(got, want, len);
        /* tok_decode is the same walk, without the print filter */
        int upto = 0;
        while (upto < n && !(upto > 0 && ids[upto] == 1)) upto++;
        assert_int_equal(tok_decode(&t, ids, upto, got, sizeof got), raw_len);
        assert_memory_equal(got, raw, raw_len);
        cases++;
    }
    fclose(f);
    assert_true(cases >= 6);
    tok_free(&t);
}

/* The merge bookkeeping equals run.c's plain rescans, on random text that
 * includes invalid UTF-8, and decode(encode(x)) == x. */
static void test_l2c_random_vs_reference(void **state) {
    (void)state;
    const char *path = tok512_path();
    if (!path) { skip(); return; }
    tokenizer t;
    pp_err err = {0};
    assert_int_equal(tok_load_llama2c(&t, path, 512, &err), PP_OK);
    char text[128], out[256];
    int got[140], want[140];
    for (int iter = 0; iter < 40; iter++) {
        size_t len = random_text(text, 100);
        int n = -1;
        for (int i = 0; i < 140; i++) got[i] = -777;
        assert_int_equal(tok_encode(&t, text, 1, 0, got, &n, &err), PP_OK);
        assert_int_equal(got[len + 3], -777);
        int n_ref = ref_encode(&t, text, want);
        assert_int_equal(n, n_ref);
        assert_memory_equal(got, want, (size_t)n * sizeof *got);
        assert_int_equal(tok_decode(&t, got, n, out, sizeof out), len);
        assert_string_equal(out, text);
    }
    tok_free(&t);
}

/* ------------------------------------------------------------------------ */
/* llama2.c: synthetic vocabularies (no shared data needed) */

static void test_l2c_merge_rules(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/merge.bin", tmp_dir);
    /* "ab" and "bc" tie: the leftmost pair wins; "xy" scores below run.c's
     * -1e10 floor and is never merged; "é" is a code point piece. */
    const char *extra[] = {" ", "a", "b", "c", "ab", "bc", "x", "y", "xy", "\xc3\xa9", " ab"};
    const float scores[] = {-1, -2, -3, -4, -5, -5, -6, -7, -2e10f, -8, -9};
    int v = write_l2c(path, 6, extra, scores, 11);
    tokenizer t;
    pp_err err = {0};
    assert_int_equal(tok_load_llama2c(&t, path, v, &err), PP_OK);
    int ids[64], n;
    int id_sp = 259, id_c = 262, id_ab = 263, id_bc = 264, id_x = 265, id_y = 266, id_e = 268,
        id_sab = 269;
    assert_int_equal(tok_encode(&t, "abc", 0, 0, ids, &n, &err), PP_OK);
    /* " " a b c -> " " ab c (tie with bc, leftmost) -> " ab" c */
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], id_sab);
    assert_int_equal(ids[1], id_c);
    assert_int_equal(tok_encode(&t, "bc", 0, 0, ids, &n, &err), PP_OK);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], id_sp);
    assert_int_equal(ids[1], id_bc);
    assert_int_equal(tok_encode(&t, "cab", 0, 0, ids, &n, &err), PP_OK);
    assert_int_equal(n, 3);
    assert_int_equal(ids[1], id_c);
    assert_int_equal(ids[2], id_ab);
    assert_int_equal(tok_encode(&t, "xy", 0, 0, ids, &n, &err), PP_OK);
    assert_int_equal(n, 3);
    assert_int_equal(ids[1], id_x);
    assert_int_equal(ids[2], id_y);
    /* é is a piece; ü is not: byte fallback (0xC3 0xBC -> +3) */
    assert_int_equal(tok_encode(&t, "\xc3\xa9\xc3\xbc", 0, 0, ids, &n, &err), PP_OK);
    assert_int_equal(n, 4);
    assert_int_equal(ids[1], id_e);
    assert_int_equal(ids[2], 0xC3 + 3);
    assert_int_equal(ids[3], 0xBC + 3);
    /* empty text: no dummy prefix */
    assert_int_equal(tok_encode(&t, "", 1, 1, ids, &n, &err), PP_OK);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 2);
    /* decode: space dropped only right after BOS; <0xXX> -> raw byte */
    int seq[] = {1, id_sab, id_c, 0xC3 + 3, 0xBC + 3, 2};
    char out[64];
    assert_int_equal(tok_decode(&t, seq, 6, out, sizeof out), 5);
    assert_string_equal(out, "abc\xc3\xbc");
    assert_int_equal(tok_decode(&t, seq + 1, 2, out, sizeof out), 4);
    assert_string_equal(out, " abc");
    /* snprintf-like truncation */
    assert_int_equal(tok_decode(&t, seq, 6, out, 3), 5);
    assert_string_equal(out, "ab");
    assert_int_equal(tok_decode(&t, seq, 6, NULL, 0), 5);
    /* out-of-range ids decode to nothing */
    size_t len = 9;
    tok_piece(&t, -1, -5, &len);
    assert_int_equal(len, 0);
    tok_piece(&t, -1, v, &len);
    assert_int_equal(len, 0);
    tok_free(&t);
}

/* Invalid UTF-8 of every shape: no crash, never more than strlen+3 ids. */
static void test_encode_bounds_invalid_utf8(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/small.bin", tmp_dir);
    const char *extra[] = {" ", "\x80\x80", "\xe2\x80\x9c"};
    const float scores[] = {-1, -2, -3};
    int v = write_l2c(path, 6, extra, scores, 3);
    tokenizer kinds[2];
    pp_err err = {0};
    assert_int_equal(tok_load_llama2c(&kinds[0], path, v, &err), PP_OK);
    assert_int_equal(tok_init_bytes(&kinds[1], &err), PP_OK);
    const char *texts[] = {"\x80", "\x80\x80\x80\x80\x80\x80\x80\x80\x80", "\xff", "\xc3",
                           "\xe2\x80", "\xf0\x9f\x98", "\xe2\x80\x9c\x80\x80\x80\x80\x80",
                           "a\xfe\xff\xc0\xc1 b", "\xed\xa0\x80 surrogate"};
    for (int k = 0; k < 2; k++)
        for (size_t s = 0; s < sizeof texts / sizeof *texts; s++) {
            size_t len = strlen(texts[s]);
            int ids[64];
            for (int i = 0; i < 64; i++) ids[i] = -777;
            int n = -1;
            assert_int_equal(tok_encode(&kinds[k], texts[s], 1, 1, ids, &n, &err), PP_OK);
            assert_true(n >= 2 && n <= (int)len + 3);
            assert_int_equal(ids[len + 3], -777);
            for (int i = 0; i < n; i++) assert_true(ids[i] >= 0 && ids[i] < kinds[k].vocab_size);
            char out[64];
            assert_int_equal(tok_decode(&kinds[k], ids, n, out, sizeof out), len);
            assert_string_equal(out, texts[s]);
        }
    tok_free(&kinds[0]);
    tok_free(&kinds[1]);
}

/* ------------------------------------------------------------------------ */
/* files and arrays */

static void test_l2c_load_save_identical(void **state) {
    (void)state;
    const char *path = tok512_path();
    if (!path) { skip(); return; }
    tokenizer t, u;
    pp_err err = {0};
    assert_int_equal(tok_load_llama2c(&t, path, 512, &err), PP_OK);
    assert_int_equal(t.kind, TOK_LLAMA2C);
    assert_int_equal(t.vocab_size, 512);
    assert_int_equal(t.bos_id, 1);
    assert_int_equal(t.eos_id, 2);
    assert_int_equal(t.pad_id, -1);
    assert_int_equal(t.max_token_length, 7);
    char out1[512], out2[512];
    snprintf(out1, sizeof out1, "%s/saved.bin", tmp_dir);
    snprintf(out2, sizeof out2, "%s/from_arrays.bin", tmp_dir);
    assert_int_equal(tok_save_llama2c(&t, out1, &err), PP_OK);
    /* through the arrays a model file stores */
    assert_int_equal(tok_from_arrays(&u, TOK_LLAMA2C, t.vocab_size, t.bos_id, t.eos_id, t.pad_id,
                                     t.pieces, t.piece_offsets, t.scores, &err), PP_OK);
    assert_int_equal(tok_save_llama2c(&u, out2, &err), PP_OK);
    long n0, n1, n2;
    unsigned char *a = read_all(path, &n0), *b = read_all(out1, &n1), *c = read_all(out2, &n2);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_int_equal(n0, 6227);
    assert_int_equal(n1, n0);
    assert_int_equal(n2, n0);
    assert_memory_equal(a, b, (size_t)n0);
    assert_memory_equal(a, c, (size_t)n0);
    free(a);
    free(b);
    free(c);
    /* the copy encodes identically */
    int x[64], y[64], nx, ny;
    const char *s = "Once upon a time, \xe2\x80\x9cHi\xe2\x80\x9d";
    assert_int_equal(tok_encode(&t, s, 1, 0, x, &nx, &err), PP_OK);
    assert_int_equal(tok_encode(&u, s, 1, 0, y, &ny, &err), PP_OK);
    assert_int_equal(nx, ny);
    assert_memory_equal(x, y, (size_t)nx * sizeof *x);
    tok_free(&t);
    tok_free(&u);
    /* a byte-level tokenizer is not a tokenizer.bin */
    assert_int_equal(tok_init_bytes(&t, &err), PP_OK);
    assert_int_equal(tok_save_llama2c(&t, out1, &err), PP_EINPUT);
    tok_free(&t);
}

/* Write `bytes` to a file and expect PP_EINPUT naming the file and `what`. */
static void expect_bad_file(const char *name, const void *bytes, size_t n, int vocab,
                            const char *what) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    write_all(path, bytes, n);
    tokenizer t;
    memset(&t, 0xAB, sizeof t); /* loader must not rely on a clean struct */
    pp_err err = {0};
    pp_status st = tok_load_llama2c(&t, path, vocab, &err);
    if (st != PP_EINPUT || !strstr(err.msg, path) || !strstr(err.msg, what))
        print_message("%s: status %d, message: %s\n", name, st, err.msg);
    assert_int_equal(st, PP_EINPUT);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, what));
    assert_null(strchr(err.msg, '\n'));
    assert_null(t.pieces); /* nothing left allocated */
    tok_free(&t);
}

static void test_l2c_malformed_files(void **state) {
    (void)state;
    char good[512];
    snprintf(good, sizeof good, "%s/good.bin", tmp_dir);
    const char *extra[] = {" ", "ab"};
    const float scores[] = {-1, -2};
    int v = write_l2c(good, 6, extra, scores, 2);
    long size;
    unsigned char *buf = read_all(good, &size);
    assert_non_null(buf);
    tokenizer t;
    pp_err err = {0};
    assert_int_equal(tok_load_llama2c(&t, good, v, &err), PP_OK);
    tok_free(&t);

    unsigned char *bad = malloc((size_t)size + 16);
    assert_non_null(bad);
    expect_bad_file("empty.bin", buf, 0, v, "empty");
    expect_bad_file("short_header.bin", buf, 2, v, "truncated");
    expect_bad_file("truncated_record.bin", buf, 4 + 5, v, "truncated");
    expect_bad_file("truncated_piece.bin", buf, (size_t)size - 1, v, "truncated");
    memcpy(bad, buf, (size_t)size);
    memcpy(bad + size, "xyz", 3);
    expect_bad_file("trailing.bin", bad, (size_t)size + 3, v, "left after");

    /* token 0 (<unk>, 5 bytes) claims length 7 > max_token_length 6 */
    memcpy(bad, buf, (size_t)size);
    int32_t len = 7;
    memcpy(bad + 8, &len, 4);
    expect_bad_file("too_long.bin", bad, (size_t)size, v, "max_token_length");
    len = -3;
    memcpy(bad + 8, &len, 4);
    expect_bad_file("negative.bin", bad, (size_t)size, v, "length -3");
    int32_t max_len = 0;
    memcpy(bad, buf, (size_t)size);
    memcpy(bad, &max_len, 4);
    expect_bad_file("zero_max.bin", bad, (size_t)size, v, "max_token_length");
    /* a byte-fallback piece that is not <0x41> */
    memcpy(bad, buf, (size_t)size);
    unsigned char *p = memmem(bad, (size_t)size, "<0x41>", 6);
    assert_non_null(p);
    p[4] = '2';
    expect_bad_file("bad_fallback.bin", bad, (size_t)size, v, "<0x41>");
    /* far more bytes than vocab_size tokens can hold */
    expect_bad_file("small_vocab.bin", buf, (size_t)size, 259, "vocab_size");
    free(bad);
    free(buf);

    /* vocab too small for byte fallback, and a missing file */
    assert_int_equal(tok_load_llama2c(&t, good, 100, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "vocab_size"));
    char missing[512];
    snprintf(missing, sizeof missing, "%s/no_such_file.bin", tmp_dir);
    assert_int_equal(tok_load_llama2c(&t, missing, v, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, missing));
}

static void test_from_arrays_validation(void **state) {
    (void)state;
    tokenizer b, t;
    pp_err err = {0};
    assert_int_equal(tok_init_bytes(&b, &err), PP_OK);
    /* the byte tokenizer rebuilt from its own arrays */
    assert_int_equal(tok_from_arrays(&t, TOK_BYTE, b.vocab_size, b.bos_id, b.eos_id, b.pad_id,
                                     b.pieces, b.piece_offsets, b.scores, &err), PP_OK);
    int ids[16], n;
    assert_int_equal(tok_encode(&t, "hi", 1, 1, ids, &n, &err), PP_OK);
    assert_int_equal(n, 4);
    assert_int_equal(ids[0], 256);
    assert_int_equal(ids[1], 'h');
    assert_int_equal(ids[3], 257);
    tok_free(&t);

    int64_t off[260];
    memcpy(off, b.piece_offsets, sizeof off);
    /* ids out of range */
    assert_int_equal(tok_from_arrays(&t, TOK_BYTE, 259, 259, 257, 258, b.pieces, off, NULL, &err),
                     PP_EINPUT);
    assert_non_null(strstr(err.msg, "bos"));
    assert_int_equal(tok_from_arrays(&t, TOK_BYTE, 259, 256, 257, 300, b.pieces, off, NULL, &err),
                     PP_EINPUT);
    assert_non_null(strstr(err.msg, "pad"));
    /* offsets must start at 0 and never decrease */
    off[0] = 1;
    assert_int_equal(tok_from_arrays(&t, TOK_BYTE, 259, 256, 257, 258, b.pieces, off, NULL, &err),
                     PP_EINPUT);
    assert_non_null(strstr(err.msg, "offsets[0]"));
    memcpy(off, b.piece_offsets, sizeof off);
    off[10] = off[12];
    assert_int_equal(tok_from_arrays(&t, TOK_BYTE, 259, 256, 257, 258, b.pieces, off, NULL, &err),
                     PP_EINPUT);
    assert_non_null(strstr(err.msg, "decrease"));
    /* a byte vocabulary whose token 65 is not 'A' */
    memcpy(off, b.piece_offsets, sizeof off);
    char pieces[300];
    memcpy(pieces, b.pieces, (size_t)b.piece_offsets[259]);
    pieces[65] = 'B';
    assert_int_equal(tok_from_arrays(&t, TOK_BYTE, 259, 256, 257, 258, pieces, off, NULL, &err),
                     PP_EINPUT);
    /* llama2.c arrays need byte-fallback pieces at 3..258 */
    assert_int_equal(tok_from_arrays(&t, TOK_LLAMA2C, 259, 1, 2, -1, b.pieces, off, NULL, &err),
                     PP_EINPUT);
    assert_int_equal(tok_from_arrays(&t, (tok_kind)7, 259, 1, 2, -1, b.pieces, off, NULL, &err),
                     PP_EINPUT);
    assert_null(t.pieces);
    tok_free(&b);
}

/* ------------------------------------------------------------------------ */

static int setup(void **state) {
    (void)state;
    set_paths();
    const char *base = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/pp-test-tok.XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes_layout),
        cmocka_unit_test(test_bytes_roundtrip),
        cmocka_unit_test(test_l2c_encode_matches_runc),
        cmocka_unit_test(test_l2c_decode_matches_runc),
        cmocka_unit_test(test_l2c_random_vs_reference),
        cmocka_unit_test(test_l2c_merge_rules),
        cmocka_unit_test(test_encode_bounds_invalid_utf8),
        cmocka_unit_test(test_l2c_load_save_identical),
        cmocka_unit_test(test_l2c_malformed_files),
        cmocka_unit_test(test_from_arrays_validation),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
