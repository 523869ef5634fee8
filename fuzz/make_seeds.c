/* make_seeds.c - write the binary seed inputs of fuzz_llama2c and
 * fuzz_tokenizer into DIR/llama2c/ and DIR/tokenizer/ (the text seeds of
 * the other targets are written by hand).  Deterministic: rerunning gives
 * the same bytes.  Usage: make_seeds DIR  (make -f fuzz/Makefile seeds). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_vocab.h"
#include "model/llama2c.h"

static void die(const char *msg) {
    fprintf(stderr, "make_seeds: %s\n", msg);
    exit(1);
}

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) die(path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)size + 1);
    if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) die(path);
    fclose(f);
    *n = (size_t)size;
    return buf;
}

static void spit(const char *dir, const char *name, const void *prefix, size_t np, const void *data,
                 size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(prefix, 1, np, f) != np || fwrite(data, 1, n, f) != n || fclose(f) != 0) die(path);
}

/* A random model of the given shape saved as llama2.c version v; returns
 * its bytes. */
static unsigned char *tiny_model(const char *tmp, int dim, int hidden, int layers, int heads, int kv,
                                 int vocab, int seq, int tied, int version, size_t *n) {
    model_config c = {dim, hidden, layers, heads, kv, vocab, seq, tied, 1e-5f, 10000.0f};
    model m;
    pp_err err;
    if (model_alloc(&m, &c, &err) != PP_OK) die(err.msg);
    model_init_random(&m, 42);
    if (llama2c_save(&m, tmp, version, NULL, &err) != PP_OK) die(err.msg);
    model_free(&m);
    return slurp(tmp, n);
}

static void llama2c_seeds(const char *dir) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s/model.tmpseed", dir);
    struct {
        const char *name;
        int dim, hidden, layers, heads, kv, vocab, seq, tied, version;
    } shapes[] = {
        {"v0_tied.bin", 4, 4, 1, 1, 1, 8, 4, 1, 0},
        {"v0_untied.bin", 4, 4, 1, 1, 1, 8, 4, 0, 0},
        {"v1_shared.bin", 4, 4, 1, 1, 1, 8, 4, 1, 1},
        {"v1_unshared.bin", 4, 4, 1, 1, 1, 8, 4, 0, 1},
        {"v0_gqa_2layers.bin", 8, 6, 2, 2, 1, 6, 3, 1, 0},
        {"v0_vocab259.bin", 2, 2, 1, 1, 1, 259, 2, 1, 0},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        size_t n;
        unsigned char *b = tiny_model(tmp, shapes[i].dim, shapes[i].hidden, shapes[i].layers, shapes[i].heads,
                                      shapes[i].kv, shapes[i].vocab, shapes[i].seq, shapes[i].tied,
                                      shapes[i].version, &n);
        spit(dir, shapes[i].name, "", 0, b, n);
        if (i == 0) {
            /* broken variants of the first one */
            spit(dir, "v0_truncated.bin", "", 0, b, n - 4);
            spit(dir, "v0_header_only.bin", "", 0, b, 28);
            spit(dir, "v0_short_header.bin", "", 0, b, 20);
            float nan = NAN;
            memcpy(b + 28 + 8 * 4, &nan, 4);
            spit(dir, "v0_nan_weight.bin", "", 0, b, n);
        }
        if (i == 2) {
            int32_t two = 2;
            memcpy(b + 4, &two, 4);
            spit(dir, "v1_version2.bin", "", 0, b, n);
        }
        free(b);
    }
    remove(tmp);
    /* the 7-int header of stories260K (its README gives the shape), then
     * zeros: far too short for what the header promises */
    int32_t header[7] = {64, 172, 5, 8, 4, 512, 512};
    unsigned char zeros[996] = {0};
    spit(dir, "stories260K_header_truncated.bin", header, sizeof header, zeros, sizeof zeros);
    spit(dir, "empty.bin", "", 0, "", 0);
}

static void tokenizer_seeds(const char *dir) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s/tokenizer.tmpseed", dir);
    int sizes[] = {259, FUZZ_VOCAB_FULL, 300};
    const char *names[] = {"vocab259.bin", "vocab_full.bin", "vocab300_fillers.bin"};
    for (int i = 0; i < 3; i++) {
        tokenizer t;
        pp_err err;
        if (fuzz_make_vocab(&t, sizes[i], &err) != PP_OK || tok_save_llama2c(&t, tmp, &err) != PP_OK)
            die(err.msg);
        tok_free(&t);
        size_t n;
        unsigned char *b = slurp(tmp, &n);
        /* the target's first two bytes: vocab_size, little-endian */
        unsigned char vs[2] = {(unsigned char)(sizes[i] & 0xff), (unsigned char)(sizes[i] >> 8)};
        spit(dir, names[i], vs, 2, b, n);
        if (i == 0) {
            unsigned char wrong[2] = {(260 & 0xff), 260 >> 8};
            spit(dir, "vocab259_said_260.bin", wrong, 2, b, n);
            spit(dir, "vocab259_truncated.bin", vs, 2, b, n - 3);
            int32_t zero = 0;
            unsigned char *c = malloc(n);
            memcpy(c, b, n);
            memcpy(c, &zero, 4);
            spit(dir, "max_len_zero.bin", vs, 2, c, n);
            /* token 3 must be <0x00>: make it <0xZ0> */
            memcpy(c, b, n);
            unsigned char *p = memmem(c, n, "<0x00>", 6);
            if (!p) die("no <0x00> piece");
            p[3] = 'Z';
            spit(dir, "bad_byte_piece.bin", vs, 2, c, n);
            free(c);
        }
        free(b);
    }
    remove(tmp);
}

int main(int argc, char **argv) {
    if (argc != 2) die("usage: make_seeds DIR");
    char dir[900];
    snprintf(dir, sizeof dir, "%s/llama2c", argv[1]);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) die(dir);
    llama2c_seeds(dir);
    snprintf(dir, sizeof dir, "%s/tokenizer", argv[1]);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) die(dir);
    tokenizer_seeds(dir);
    return 0;
}
