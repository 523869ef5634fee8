/* test_tokenizer_hf.c - the tokenizer.json BPE kind on small hand-made
 * files: both merge forms, rank order, added tokens, byte fallback and
 * <unk>, byte-level streaming decode, ignore_merges, EOS ids from
 * generation_config.json, tok_save_hf, refusals and bad JSON, and a model
 * file of schema version 1 (uint8 pieces) still loading.  The comparison
 * with Hugging Face's own library on real files is tests/integration/hftok.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <hdf5.h>
#include <jansson.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/model_io.h"
#include "model/tokenizer.h"

static char tmp_dir[256];

static void write_text(const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *path_of(const char *name) {
    static char path[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", tmp_dir, name);
    return path[k];
}

static void write_json(const char *name, json_t *j) {
    char *s = json_dumps(j, JSON_COMPACT);
    write_text(name, s);
    free(s);
    json_decref(j);
}

/* SentencePiece-style: <unk> <s> </s>, <0x00>..<0xFF> at 3.., then
 * U+2581 a b c and the merge results; merges as "a b" strings or pairs. */
static json_t *sp_tokenizer(int pairs, int byte_fallback) {
    json_t *vocab = json_object();
    json_object_set_new(vocab, "<unk>", json_integer(0));
    json_object_set_new(vocab, "<s>", json_integer(1));
    json_object_set_new(vocab, "</s>", json_integer(2));
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        json_object_set_new(vocab, name, json_integer(3 + b));
    }
    const char *extra[] = {"\xe2\x96\x81", "a", "b", "c", "\xe2\x96\x81" "a", "ab", "\xe2\x96\x81" "ab", "bc"};
    for (int i = 0; i < 8; i++) json_object_set_new(vocab, extra[i], json_integer(259 + i));
    /* rank 0: a b, 1: ▁ a, 2: ▁a b, 3: b c */
    const char *merge[4][2] = {{"a", "b"}, {"\xe2\x96\x81", "a"}, {"\xe2\x96\x81" "a", "b"}, {"b", "c"}};
    json_t *merges = json_array();
    for (int i = 0; i < 4; i++) {
        char s[32];
        snprintf(s, sizeof s, "%s %s", merge[i][0], merge[i][1]);
        json_array_append_new(merges, pairs ? json_pack("[ss]", merge[i][0], merge[i][1]) : json_string(s));
    }
    return json_pack(
        "{s:[{s:i,s:s,s:b,s:b,s:b,s:b,s:b},{s:i,s:s,s:b,s:b,s:b,s:b,s:b},{s:i,s:s,s:b,s:b,s:b,s:b,s:b},"
        "{s:i,s:s,s:b,s:b,s:b,s:b,s:b}],"
        " s:{s:s,s:[{s:s,s:s},{s:s,s:{s:s},s:s}]}, s:n,"
        " s:{s:s,s:[{s:{s:s,s:i}},{s:{s:s,s:i}}],s:{s:{s:s,s:[i],s:[s]}}},"
        " s:{s:s,s:[{s:s,s:{s:s},s:s},{s:s},{s:s},{s:s,s:s,s:i,s:i}]},"
        " s:{s:s,s:s,s:b,s:b,s:o,s:o}}",
        "added_tokens", "id", 0, "content", "<unk>", "special", 1, "lstrip", 0, "rstrip", 0, "single_word", 0, "normalized", 0,
        "id", 1, "content", "<s>", "special", 1, "lstrip", 0, "rstrip", 0, "single_word", 0, "normalized", 0,
        "id", 2, "content", "</s>", "special", 1, "lstrip", 0, "rstrip", 0, "single_word", 0, "normalized", 0,
        "id", 267, "content", "<tag>", "special", 0, "lstrip", 1, "rstrip", 0, "single_word", 0, "normalized", 0,
        "normalizer", "type", "Sequence", "normalizers", "type", "Prepend", "prepend", "\xe2\x96\x81", "type", "Replace",
        "pattern", "String", " ", "content", "\xe2\x96\x81", "pre_tokenizer",
        "post_processor", "type", "TemplateProcessing", "single", "SpecialToken", "id", "<s>", "type_id", 0, "Sequence", "id",
        "A", "type_id", 0, "special_tokens", "<s>", "id", "<s>", "ids", 1, "tokens", "<s>",
        "decoder", "type", "Sequence", "decoders", "type", "Replace", "pattern", "String", "\xe2\x96\x81", "content", " ",
        "type", "ByteFallback", "type", "Fuse", "type", "Strip", "content", " ", "start", 1, "stop", 0,
        "model", "type", "BPE", "unk_token", "<unk>", "byte_fallback", byte_fallback, "fuse_unk", 1, "vocab", vocab, "merges",
        merges);
}

/* Byte-level: the 256 byte characters at ids 0..255 (id = byte), "he",
 * "Ġw", "hel" (no merge makes it), the added special <|end|>. */
static json_t *bl_tokenizer(int ignore_merges) {
    json_t *vocab = json_object();
    int next = 256;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        unsigned cp = printable ? (unsigned)b : (unsigned)next++;
        char s[4] = {0};
        if (cp < 0x80) {
            s[0] = (char)cp;
        } else {
            s[0] = (char)(0xC0 | (cp >> 6));
            s[1] = (char)(0x80 | (cp & 0x3F));
        }
        json_object_set_new(vocab, s, json_integer(b));
    }
    json_object_set_new(vocab, "he", json_integer(256));
    json_object_set_new(vocab, "\xc4\xa0w", json_integer(257)); /* Ġw */
    json_object_set_new(vocab, "hel", json_integer(259));
    return json_pack("{s:[{s:i,s:s,s:b}], s:n, s:{s:s,s:b,s:b}, s:n, s:{s:s}, s:{s:s,s:b,s:o,s:[[ss],[ss]]}}",
                     "added_tokens", "id", 258, "content", "<|end|>", "special", 1, "normalizer", "pre_tokenizer", "type",
                     "ByteLevel", "add_prefix_space", 0, "use_regex", 1, "post_processor", "decoder", "type", "ByteLevel",
                     "model", "type", "BPE", "ignore_merges", ignore_merges, "vocab", vocab, "merges", "h", "e",
                     "\xc4\xa0", "w");
}

static void load(tokenizer *t, const char *json_name, const char *config_name) {
    pp_err err = {0};
    pp_status st = tok_load_hf(t, path_of(json_name), config_name ? path_of(config_name) : NULL, &err);
    if (st != PP_OK) fail_msg("%s", err.msg);
}

/* The SentencePiece-style test tokenizer with its config (BOS <s>, EOS
 * </s> given as {"content": ...}). */
static void load_sp(tokenizer *t, int pairs, int byte_fallback) {
    char name[32];
    snprintf(name, sizeof name, "sp_%d%d.json", pairs, byte_fallback);
    write_json(name, sp_tokenizer(pairs, byte_fallback));
    write_text("sp_config.json", "{\"bos_token\": \"<s>\", \"eos_token\": {\"content\": \"</s>\"}}");
    load(t, name, "sp_config.json");
}

static int encode(const tokenizer *t, const char *text, int add_bos, int *ids) {
    pp_err err = {0};
    int n = 0;
    pp_status st = tok_encode(t, text, add_bos, 0, ids, &n, &err);
    if (st != PP_OK) fail_msg("%s", err.msg);
    return n;
}

static void expect_ids(const tokenizer *t, const char *text, int add_bos, const int *want, int n_want) {
    int ids[256];
    int n = encode(t, text, add_bos, ids);
    char got[512] = "";
    for (int i = 0; i < n; i++) snprintf(got + strlen(got), sizeof got - strlen(got), " %d", ids[i]);
    if (n != n_want) fail_msg("\"%s\": %d ids (%s), want %d", text, n, got, n_want);
    for (int i = 0; i < n; i++)
        if (ids[i] != want[i]) fail_msg("\"%s\": id %d is %d, want %d (%s)", text, i, ids[i], want[i], got);
}

static void expect_decode(const tokenizer *t, const char *text, const char *want) {
    int ids[256];
    int n = encode(t, text, 1, ids);
    char buf[256];
    tok_decode(t, ids, n, buf, sizeof buf);
    assert_string_equal(buf, want);
}

/* ------------------------------------------------------------------------ */

/* Both merge forms load the same merges (a reader of one form only would
 * load none and give single characters); lower rank merges first. */
static void test_merge_forms_and_rank_order(void **state) {
    (void)state;
    tokenizer a, b;
    load_sp(&a, 0, 1);
    load_sp(&b, 1, 1);
    /* "ab c" -> ▁ a b ▁ c: "a b" (rank 0) before "▁ a" (rank 1), so ▁ab
     * is never reached */
    const int want[] = {1, 259, 264, 259, 262};
    expect_ids(&a, "ab c", 1, want, 5);
    expect_ids(&b, "ab c", 1, want, 5);
    /* "a": ▁ a -> ▁a; "bc": ▁ b c -> ▁ bc */
    expect_ids(&a, "a", 0, (const int[]){263}, 1);
    expect_ids(&b, "bc", 0, (const int[]){259, 266}, 2);
    assert_int_equal(a.bos_id, 1);
    assert_int_equal(a.eos_id, 2);
    expect_decode(&a, "ab c", "ab c");
    tok_free(&a);
    tok_free(&b);
}

/* Characters outside the vocabulary: <0xXX> bytes with byte_fallback, else
 * one <unk> for a run (fuse_unk); decoding gives the bytes back. */
static void test_byte_fallback_and_unk(void **state) {
    (void)state;
    tokenizer fb, unk;
    load_sp(&fb, 0, 1);
    load_sp(&unk, 0, 0);
    /* é = C3 A9 */
    expect_ids(&fb, "a\xc3\xa9", 0, (const int[]){263, 3 + 0xC3, 3 + 0xA9}, 3);
    expect_decode(&fb, "a\xc3\xa9 cab", "a\xc3\xa9 cab");
    expect_ids(&unk, "a\xc3\xa9\xc3\xa9", 0, (const int[]){263, 0}, 2);
    tok_free(&fb);
    tok_free(&unk);
    /* only <0x41> exists: as HF's BPE does, the <unk> of "L" waits past the
     * byte token of "A" and takes in the next "L" (checked against HF in
     * tests/integration/hftok.sh, seed sentencepiece.json) */
    write_text("partial.json",
               "{\"added_tokens\": [{\"id\": 0, \"content\": \"<unk>\", \"special\": true}],"
               " \"normalizer\": {\"type\": \"Prepend\", \"prepend\": \"\xe2\x96\x81\"},"
               " \"decoder\": {\"type\": \"ByteFallback\"}, \"model\": {\"type\": \"BPE\", \"unk_token\": \"<unk>\","
               " \"byte_fallback\": true, \"fuse_unk\": true, \"vocab\": {\"<unk>\": 0, \"\xe2\x96\x81\": 1,"
               " \"a\": 2, \"<0x41>\": 3}, \"merges\": []}}");
    write_text("partial_config.json", "{\"eos_token\": \"<unk>\"}");
    tokenizer partial;
    load(&partial, "partial.json", "partial_config.json");
    expect_ids(&partial, "aLAL", 0, (const int[]){1, 2, 3, 0}, 4);
    expect_ids(&partial, "aLa", 0, (const int[]){1, 2, 0, 2}, 4);
    tok_free(&partial);
}

/* Added tokens are cut out before normalization and BPE; lstrip takes the
 * spaces before one; special ones decode to nothing. */
static void test_added_tokens(void **state) {
    (void)state;
    tokenizer t;
    load_sp(&t, 0, 1);
    /* "a <tag> b": "a" -> ▁a; <tag> (its space taken by lstrip); " b" -> ▁ ▁ b */
    expect_ids(&t, "a <tag> b", 0, (const int[]){263, 267, 259, 259, 261}, 5);
    /* the special tokens themselves, also glued to text */
    expect_ids(&t, "<s>a</s>", 0, (const int[]){1, 263, 2}, 3);
    expect_decode(&t, "<s>a</s>", "a");
    assert_true(tok_is_special(&t, 1));
    assert_false(tok_is_special(&t, 267));
    tok_free(&t);
}

/* Byte-level: the GPT-2 split, bytes as characters, an emoji as four byte
 * tokens that decode one byte at a time into the right text (streaming). */
static void test_byte_level_streaming(void **state) {
    (void)state;
    write_json("bl.json", bl_tokenizer(0));
    write_text("bl_config.json", "{\"eos_token\": \"<|end|>\"}");
    tokenizer t;
    load(&t, "bl.json", "bl_config.json");
    assert_int_equal(t.bos_id, -1);
    const char *text = "he w\xf0\x9f\x98\x80<|end|>";
    expect_ids(&t, text, 1, (const int[]){256, 257, 0xF0, 0x9F, 0x98, 0x80, 258}, 7);
    int ids[64];
    int n = encode(&t, text, 0, ids);
    char out[64] = "";
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        size_t k;
        const char *p = tok_piece(&t, i ? ids[i - 1] : -1, ids[i], &k);
        if (i >= 2 && i <= 5) assert_int_equal(k, 1); /* one byte of the emoji each */
        memcpy(out + len, p, k);
        len += k;
    }
    out[len] = '\0';
    assert_string_equal(out, "he w\xf0\x9f\x98\x80");
    /* no merge makes "hel": without ignore_merges it is he + l */
    expect_ids(&t, "hel", 0, (const int[]){256, 'l'}, 2);
    tok_free(&t);
    write_json("bl_ignore.json", bl_tokenizer(1));
    load(&t, "bl_ignore.json", "bl_config.json");
    expect_ids(&t, "hel", 0, (const int[]){259}, 1);
    tok_free(&t);
}

/* generation_config.json beside the config adds its EOS ids (int or list). */
static void test_eos_ids_from_generation_config(void **state) {
    (void)state;
    write_json("sp.json", sp_tokenizer(0, 1));
    write_text("sp_config.json", "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\"}");
    write_text("generation_config.json", "{\"eos_token_id\": [2, 267]}");
    tokenizer t;
    load(&t, "sp.json", "sp_config.json");
    unlink(path_of("generation_config.json"));
    assert_int_equal(t.n_eos, 2);
    assert_int_equal(t.eos_ids[0], 2);
    assert_int_equal(t.eos_ids[1], 267);
    assert_true(tok_is_eos(&t, 267));
    assert_false(tok_is_eos(&t, 266));
    tok_free(&t);
}

/* tok_save_hf writes the texts back; loading them again encodes the same. */
static void test_save_hf_roundtrip(void **state) {
    (void)state;
    tokenizer t, back;
    load_sp(&t, 1, 1);
    char dir[300];
    snprintf(dir, sizeof dir, "%s/saved", tmp_dir);
    mkdir(dir, 0755);
    pp_err err = {0};
    assert_int_equal(tok_save_hf(&t, dir, &err), PP_OK);
    assert_int_equal(tok_load_hf(&back, path_of("saved/tokenizer.json"), path_of("saved/tokenizer_config.json"), &err), PP_OK);
    int a[64], b[64];
    const char *text = "abc a\xc3\xa9 <tag> bc";
    int na = encode(&t, text, 1, a), nb = encode(&back, text, 1, b);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, (size_t)na * sizeof *a);
    tok_free(&t);
    tok_free(&back);
}

/* Components not implemented are refused by name; bad files are one line
 * naming the file. */
static void test_refusals_and_bad_json(void **state) {
    (void)state;
    struct {
        const char *json, *want;
    } cases[] = {
        {"{\"normalizer\": {\"type\": \"NFKC\"}, \"model\": {}}", "normalizer NFKC is not supported"},
        {"{\"model\": {\"type\": \"WordPiece\"}}", "model WordPiece is not supported"},
        {"{\"pre_tokenizer\": {\"type\": \"Whitespace\"}, \"model\": {}}", "pre_tokenizer Whitespace is not supported"},
        {"{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"a\"}, \"behavior\": \"Removed\"}}",
         "pre_tokenizer Split behavior Removed is not supported"},
        {"{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}, \"behavior\": \"Isolated\"}}",
         "does not compile"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"decoder\": {\"type\": \"WordPiece\"}}",
         "decoder WordPiece is not supported"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b\"]}}", "merges[0] \"a b\": its second token"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a\"]}}", "is not two tokens"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [[\"a\"]]}}", "neither"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}}", "model.merges is missing"},
        {"{\"model\": {\"type\": \"BPE\", \"merges\": []}}", "model.vocab is missing"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"decoder\": {\"type\": \"ByteLevel\"}, "
         "\"post_processor\": {\"type\": \"RobertaProcessing\"}}", "post_processor RobertaProcessing is not supported"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}, \"merges\": []}}", "id 0 appears twice"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"decoder\": {\"type\": \"Fuse\"}}",
         "no end-of-sequence token"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0", "bad JSON at line 1"},
        {"", "bad JSON"},
        {"[1, 2]", "bad JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_text("bad.json", cases[i].json);
        tokenizer t;
        pp_err err = {0};
        pp_status st = tok_load_hf(&t, path_of("bad.json"), NULL, &err);
        if (st != PP_EINPUT || !strstr(err.msg, cases[i].want) || !strstr(err.msg, "bad.json") || strchr(err.msg, '\n'))
            fail_msg("case %zu: status %d, message \"%s\", want \"%s\" naming bad.json", i, (int)st, err.msg, cases[i].want);
        assert_null(t.hf);
    }
    tokenizer t;
    pp_err err = {0};
    assert_int_equal(tok_load_hf(&t, path_of("missing.json"), NULL, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "missing.json"));
    write_json("sp.json", sp_tokenizer(0, 1));
    write_text("bad_config.json", "{\"eos_token\": ");
    assert_int_equal(tok_load_hf(&t, path_of("sp.json"), path_of("bad_config.json"), &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "bad_config.json: bad JSON"));
    write_text("bad_config.json", "{\"eos_token\": \"<nope>\"}");
    assert_int_equal(tok_load_hf(&t, path_of("sp.json"), path_of("bad_config.json"), &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "eos_token \"<nope>\" is not in the vocabulary"));
}

/* A model file keeps the tokenizer (text pieces, the tokenizer.json);
 * and a file of schema version 1, with pieces as uint8 bytes plus
 * offsets, still loads and encodes the same. */
static void test_model_file_and_version_1(void **state) {
    (void)state;
    pp_err err = {0};
    model m;
    model_config c = {.dim = 8, .hidden_dim = 16, .n_layers = 1, .n_heads = 2, .n_kv_heads = 2, .vocab_size = 300,
                      .seq_len = 8, .tied_embeddings = 1, .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    assert_int_equal(model_alloc(&m, &c, &err), PP_OK);
    load_sp(&m.tok, 0, 1); /* 268 tokens: smaller than the model's 300 */
    m.fingerprint = model_fingerprint(&m);
    pp_provenance prov = {0};
    const char *hf_path = path_of("hf.h5");
    assert_int_equal(model_save(hf_path, &m, MPI_COMM_SELF, &prov, NULL, &err), PP_OK);
    model back;
    if (model_load(hf_path, &back, &err) != PP_OK) fail_msg("%s", err.msg);
    assert_int_equal(back.tok.kind, TOK_HF_BPE);
    int a[64], b[64];
    int na = encode(&m.tok, "abc a\xc3\xa9 <tag>", 1, a), nb = encode(&back.tok, "abc a\xc3\xa9 <tag>", 1, b);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, (size_t)na * sizeof *a);
    model_free(&back);
    tok_free(&m.tok);

    /* a llama2.c-kind tokenizer written the version-1 way */
    tokenizer l2c;
    assert_int_equal(tok_init_bytes(&l2c, &err), PP_OK); /* the byte kind: raw bytes incl. NUL */
    model m2;
    assert_int_equal(model_alloc(&m2, &(model_config){.dim = 8, .hidden_dim = 16, .n_layers = 1, .n_heads = 2,
                                                       .n_kv_heads = 2, .vocab_size = 259, .seq_len = 8,
                                                       .tied_embeddings = 1, .norm_eps = 1e-5f, .rope_theta = 10000.0f},
                                 &err),
                     PP_OK);
    m2.tok = l2c;
    m2.fingerprint = model_fingerprint(&m2);
    const char *v1 = path_of("v1.h5");
    assert_int_equal(model_save(v1, &m2, MPI_COMM_SELF, &prov, NULL, &err), PP_OK);
    /* new file: loads, byte pieces written as <0xXX> strings come back as bytes */
    model check;
    if (model_load(v1, &check, &err) != PP_OK) fail_msg("%s", err.msg);
    assert_memory_equal(check.tok.pieces, l2c.pieces, (size_t)l2c.piece_offsets[l2c.vocab_size]);
    model_free(&check);
    /* rewrite as version 1 */
    hid_t f = H5Fopen(v1, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    H5Ldelete(f, "/tokenizer/pieces", H5P_DEFAULT);
    H5Ldelete(f, "/tokenizer/eos_ids", H5P_DEFAULT);
    hsize_t nb_bytes = (hsize_t)l2c.piece_offsets[l2c.vocab_size], n_off = (hsize_t)l2c.vocab_size + 1;
    hid_t sp = H5Screate_simple(1, &nb_bytes, NULL);
    hid_t d = H5Dcreate2(f, "/tokenizer/pieces", H5T_NATIVE_UINT8, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, l2c.pieces);
    H5Dclose(d);
    H5Sclose(sp);
    sp = H5Screate_simple(1, &n_off, NULL);
    d = H5Dcreate2(f, "/tokenizer/offsets", H5T_NATIVE_INT64, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, l2c.piece_offsets);
    H5Dclose(d);
    H5Sclose(sp);
    int64_t one = 1;
    hid_t at = H5Aopen(f, "schema_version", H5P_DEFAULT);
    H5Awrite(at, H5T_NATIVE_INT64, &one);
    H5Aclose(at);
    H5Fclose(f);
    if (model_load(v1, &check, &err) != PP_OK) fail_msg("version 1 file: %s", err.msg);
    assert_int_equal(check.tok.kind, TOK_BYTE);
    assert_memory_equal(check.tok.pieces, l2c.pieces, (size_t)l2c.piece_offsets[l2c.vocab_size]);
    model_free(&check);
    model_free(&m2);
    free(m.params);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    snprintf(tmp_dir, sizeof tmp_dir, "%s/pp-tokhf-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp_dir)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_forms_and_rank_order),
        cmocka_unit_test(test_byte_fallback_and_unk),
        cmocka_unit_test(test_added_tokens),
        cmocka_unit_test(test_byte_level_streaming),
        cmocka_unit_test(test_eos_ids_from_generation_config),
        cmocka_unit_test(test_save_hf_roundtrip),
        cmocka_unit_test(test_refusals_and_bad_json),
        cmocka_unit_test(test_model_file_and_version_1),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    if (system(cmd) != 0) rc = rc ? rc : 1;
    MPI_Finalize();
    return rc;
}
