/* make_big_fixture - a random model of any shape with a vocabulary of any
 * size, and random-token pairs for it: what the memory benchmark of a
 * TinyLlama-shaped model trains on (docs/performance.md, "Memory at
 * scale").  No real weights or vocabulary are involved.
 *
 *   make_big_fixture model ARCH VOCAB OUT.h5 [SEED]
 *       ARCH as pp-sft --arch ("dim=2048,layers=22,heads=32,kv-heads=4,
 *       hidden=5632,seq-len=256,tied=0"), model_init_random(SEED); the
 *       tokenizer is a llama2c-kind table of VOCAB synthetic pieces
 *       ("<unk>", "<s>", "</s>", the 256 byte pieces "<0x00>".., then
 *       "t259", "t260", ...).
 *   make_big_fixture pairs MODEL.h5 OUT.h5 N PROMPT RESPONSE [SEED]
 *       N pairs of PROMPT prompt tokens (BOS first) and two responses of
 *       RESPONSE random tokens each, for MODEL's vocabulary (only its
 *       configuration is read).
 * Run it as a single process; exit 0 ok, 1 usage or error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_io.h"
#include "io/pairs.h"
#include "core/pp_rng.h"

static pp_status synthetic_tokenizer(tokenizer *t, int V, pp_err *err) {
    int64_t *off = malloc((size_t)(V + 1) * sizeof *off);
    char *pieces = malloc((size_t)V * 12);
    if (!off || !pieces) {
        free(off);
        free(pieces);
        return pp_fail(err, PP_ESYS, "out of memory");
    }
    int64_t at = 0;
    for (int i = 0; i < V; i++) {
        off[i] = at;
        char buf[16];
        int n = i == 0 ? snprintf(buf, sizeof buf, "<unk>") : i == 1 ? snprintf(buf, sizeof buf, "<s>")
              : i == 2 ? snprintf(buf, sizeof buf, "</s>") : i < 259 ? snprintf(buf, sizeof buf, "<0x%02X>", i - 3)
              : snprintf(buf, sizeof buf, "t%d", i);
        memcpy(pieces + at, buf, (size_t)n);
        at += n;
    }
    off[V] = at;
    pp_status st = tok_from_arrays(t, TOK_LLAMA2C, V, 1, 2, -1, pieces, off, NULL, err);
    free(off);
    free(pieces);
    return st;
}

static pp_status make_model(const char *arch, int V, const char *out, uint64_t seed, pp_err *err) {
    model_config c = {.dim = 128, .hidden_dim = 344, .n_layers = 4, .n_heads = 4, .n_kv_heads = 4, .seq_len = 256,
                      .tied_embeddings = 0, .norm_eps = 1e-5f, .rope_theta = 10000.0f, .vocab_size = V};
    PP_TRY(model_parse_arch(arch, &c, err));
    model m = {0};
    PP_TRY(model_alloc(&m, &c, err));
    pp_status st = synthetic_tokenizer(&m.tok, V, err);
    if (st == PP_OK) {
        model_init_random(&m, seed);
        m.fingerprint = model_fingerprint(&m);
        pp_provenance prov = {"make_big_fixture", arch, NULL, 0};
        st = model_save(out, &m, MPI_COMM_WORLD, &prov, NULL, err);
    }
    model_free(&m);
    return st;
}

static pp_status make_pairs(const char *model_path, const char *out, int64_t n, int plen, int rlen, uint64_t seed,
                            pp_err *err) {
    model_config c;
    PP_TRY(model_read_config(model_path, &c, err));
    pairs_set s;
    PP_TRY(pairs_alloc(&s, n, 2, n, 0, 0, 0, 0, err));
    s.prompt_tokens = malloc((size_t)(n * plen) * sizeof(int32_t));
    s.chosen_tokens = malloc((size_t)(n * rlen) * sizeof(int32_t));
    s.rejected_tokens = malloc((size_t)(n * rlen) * sizeof(int32_t));
    const char **empty = calloc((size_t)n, sizeof *empty);
    pp_status st = s.prompt_tokens && s.chosen_tokens && s.rejected_tokens && empty ? PP_OK : pp_fail(err, PP_ESYS, "out of memory");
    pp_rng r = pp_rng_stream(seed, 1, 2);
    for (int64_t i = 0; st == PP_OK && i < n; i++) {
        for (int j = 0; j < plen; j++)
            s.prompt_tokens[i * plen + j] = j == 0 ? 1 : 3 + (int32_t)pp_rng_below(&r, (uint64_t)(c.vocab_size - 3));
        for (int j = 0; j < rlen; j++) {
            s.chosen_tokens[i * rlen + j] = 3 + (int32_t)pp_rng_below(&r, (uint64_t)(c.vocab_size - 3));
            s.rejected_tokens[i * rlen + j] = 3 + (int32_t)pp_rng_below(&r, (uint64_t)(c.vocab_size - 3));
        }
        s.prompt_token_offsets[i + 1] = (i + 1) * plen;
        s.chosen_token_offsets[i + 1] = s.rejected_token_offsets[i + 1] = (i + 1) * rlen;
        s.prompt_id[i] = i;
        s.best[i] = 0;
        s.worst[i] = 1;
        s.ranking[2 * i] = 0;
        s.ranking[2 * i + 1] = 1;
        s.judge_calls[i] = 1;
        s.pair_prompt[i] = i;
        s.chosen[i] = 0;
        s.rejected[i] = 1;
    }
    if (st == PP_OK) st = pairs_pack_text(&s.prompt_text, n, empty, err);
    if (st == PP_OK) st = pairs_pack_text(&s.chosen_text, n, empty, err);
    if (st == PP_OK) st = pairs_pack_text(&s.rejected_text, n, empty, err);
    free(empty);
    if (st == PP_OK) {
        strcpy(s.method, "iterative");
        strcpy(s.judge, "oracle");
        strcpy(s.rejected_rule, "worst");
        strcpy(s.pairs_mode, "best");
        s.judge_calls_total = s.matches_total = n;
        strcpy(s.tokenizer, "llama2c");
        s.vocab_size = c.vocab_size;
        pp_input in[1] = {{"model", model_path}};
        pp_provenance prov = {"make_big_fixture", "pairs", in, 1};
        st = pairs_write(&s, out, MPI_COMM_WORLD, &prov, err);
    }
    pairs_free(&s);
    return st;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    pp_err err = {0};
    pp_status st;
    if ((argc == 5 || argc == 6) && !strcmp(argv[1], "model"))
        st = make_model(argv[2], atoi(argv[3]), argv[4], argc > 5 ? strtoull(argv[5], NULL, 10) : 1, &err);
    else if ((argc == 7 || argc == 8) && !strcmp(argv[1], "pairs"))
        st = make_pairs(argv[2], argv[3], atoll(argv[4]), atoi(argv[5]), atoi(argv[6]),
                        argc > 7 ? strtoull(argv[7], NULL, 10) : 1, &err);
    else
        st = pp_fail(&err, PP_EINPUT,
                     "usage: make_big_fixture model ARCH VOCAB OUT.h5 [SEED] | pairs MODEL.h5 OUT.h5 N PROMPT RESPONSE [SEED]");
    if (st != PP_OK) fprintf(stderr, "make_big_fixture: %s\n", err.msg);
    MPI_Finalize();
    return st == PP_OK ? 0 : 1;
}
