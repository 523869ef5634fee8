/* random_model.c - a random model file of any Llama shape and vocabulary,
 * for benchmarks of big models (docs/performance.md, "Hugging Face import").
 *
 *   random_model ARCH VOCAB SEED OUT.h5 TOKENIZER_OUT.bin
 *
 * ARCH is model_parse_arch's spec ("dim=2048,layers=22,heads=32,
 * kv-heads=4,hidden=5632,seq-len=2048,tied=0").  The tokenizer is a
 * synthetic llama2.c one of VOCAB pieces (<unk>, <s>, </s>, the 256 byte
 * pieces, then "t<i>"), also written to TOKENIZER_OUT.bin so that
 * pp-convert --from-hf can attach it again after --to-hf. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_io.h"

static pp_status synthetic_tokenizer(tokenizer *t, int vocab, pp_err *err) {
    int64_t *off = malloc((size_t)(vocab + 1) * sizeof *off);
    char *pieces = malloc((size_t)vocab * 16);
    if (!off || !pieces) return pp_fail(err, PP_ESYS, "out of memory");
    size_t pos = 0;
    for (int i = 0; i < vocab; i++) {
        off[i] = (int64_t)pos;
        char buf[16];
        if (i == 0) snprintf(buf, sizeof buf, "<unk>");
        else if (i == 1) snprintf(buf, sizeof buf, "<s>");
        else if (i == 2) snprintf(buf, sizeof buf, "</s>");
        else if (i < 259) snprintf(buf, sizeof buf, "<0x%02X>", i - 3);
        else snprintf(buf, sizeof buf, "t%d", i);
        memcpy(pieces + pos, buf, strlen(buf));
        pos += strlen(buf);
    }
    off[vocab] = (int64_t)pos;
    pp_status st = tok_from_arrays(t, TOK_LLAMA2C, vocab, 1, 2, -1, pieces, off, NULL, err);
    free(off);
    free(pieces);
    return st;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    if (argc != 6) {
        fprintf(stderr, "usage: random_model ARCH VOCAB SEED OUT.h5 TOKENIZER_OUT.bin\n");
        MPI_Finalize();
        return 1;
    }
    model_config c = {.n_layers = 1, .norm_eps = 1e-5f, .rope_theta = 10000.0f, .seq_len = 256};
    c.vocab_size = atoi(argv[2]);
    pp_err err = {0};
    model m = {0};
    pp_status st = model_parse_arch(argv[1], &c, &err);
    if (st == PP_OK && c.n_kv_heads == 0) c.n_kv_heads = c.n_heads;
    if (st == PP_OK) st = model_alloc(&m, &c, &err);
    if (st == PP_OK) {
        model_init_random(&m, strtoull(argv[3], NULL, 10));
        st = synthetic_tokenizer(&m.tok, c.vocab_size, &err);
    }
    if (st == PP_OK) {
        m.fingerprint = model_fingerprint(&m);
        pp_provenance prov = {"random_model", "", NULL, 0};
        model_extra e = {.kind = "random"};
        st = model_save(argv[4], &m, MPI_COMM_SELF, &prov, &e, &err);
    }
    if (st == PP_OK) st = tok_save_llama2c(&m.tok, argv[5], &err);
    if (st != PP_OK) fprintf(stderr, "random_model: %s\n", err.msg);
    else printf("random_model: %s: %zu parameters\n", argv[4], m.n_params);
    model_free(&m);
    MPI_Finalize();
    return st == PP_OK ? 0 : 1;
}
