/* hf_tok - prefpipe's side of the tokenizer comparison with Hugging Face
 * (tests/integration/hftok.sh; tests/hf_reference.js is HF's side).
 *
 *   hf_tok yaml FILE                  the prompts of a YAML list, one JSON string a line
 *   hf_tok encode TOKENIZER_JSON CONFIG_JSON|- [MODEL_OUT.h5]
 *       reads one JSON string a line on stdin, prints {"ids":[...],"text":"..."}
 *       a line: the ids with the post-processor's special tokens, and their
 *       decoding (special tokens skipped; invalid UTF-8 shown as U+FFFD).
 *       MODEL_OUT.h5: no encoding; instead a tiny model carrying this
 *       tokenizer is written there (for the model-file round trip).
 *   hf_tok encode-model MODEL.h5      the same with the tokenizer of a model file
 *   hf_tok encode-llama2c TOKENIZER.bin VOCAB_SIZE   the same with a llama2.c tokenizer
 *   hf_tok save-hf TOKENIZER.bin VOCAB_SIZE DIR      llama2.c tokenizer -> DIR/tokenizer.json */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pp_text.h"
#include "model/model_io.h"
#include "model/tokenizer.h"
#include "prompts/prompts.h"

static int die(const pp_err *err) {
    fprintf(stderr, "hf_tok: %s\n", err->msg);
    return 1;
}

static int print_yaml(const char *path) {
    prompt_set s = {0};
    pp_err err = {0};
    if (prompts_read_yaml(&s, path, &err) != PP_OK) return die(&err);
    for (int64_t i = 0; i < s.n; i++) {
        json_t *j = json_string(s.text[i]);
        char *line = json_dumps(j, JSON_ENCODE_ANY);
        puts(line);
        free(line);
        json_decref(j);
    }
    prompts_free(&s);
    return 0;
}

static int encode_lines(const tokenizer *t) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    pp_err err = {0};
    while ((n = getline(&line, &cap, stdin)) > 0) {
        json_error_t je;
        json_t *in = json_loads(line, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        if (!json_is_string(in)) {
            fprintf(stderr, "hf_tok: stdin: not a JSON string: %s\n", line);
            return 1;
        }
        const char *text = json_string_value(in);
        int *ids = malloc((strlen(text) + 3) * sizeof *ids);
        int n_ids = 0;
        if (!ids || tok_encode(t, text, 1, 0, ids, &n_ids, &err) != PP_OK) return die(&err);
        size_t need = tok_decode(t, ids, n_ids, NULL, 0);
        char *dec = malloc(need + 1), *clean = malloc(3 * need + 1);
        tok_decode(t, ids, n_ids, dec, need + 1);
        pp_utf8_sanitize(dec, need, clean);
        json_t *out = json_object(), *arr = json_array();
        for (int i = 0; i < n_ids; i++) json_array_append_new(arr, json_integer(ids[i]));
        json_object_set_new(out, "ids", arr);
        json_object_set_new(out, "text", json_string(clean));
        char *s = json_dumps(out, JSON_COMPACT);
        puts(s);
        free(s);
        json_decref(out);
        json_decref(in);
        free(ids);
        free(dec);
        free(clean);
    }
    free(line);
    return 0;
}

/* A 1-layer model around t, written to path (collective, np 1). */
static int write_model(tokenizer *t, const char *path) {
    pp_err err = {0};
    model m;
    model_config c = {.dim = 8, .hidden_dim = 16, .n_layers = 1, .n_heads = 2, .n_kv_heads = 2,
                      .vocab_size = t->vocab_size, .seq_len = 16, .tied_embeddings = 1,
                      .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    if (model_alloc(&m, &c, &err) != PP_OK) return die(&err);
    m.tok = *t;
    memset(t, 0, sizeof *t);
    m.fingerprint = model_fingerprint(&m);
    pp_provenance prov = {0};
    int rc = model_save(path, &m, MPI_COMM_WORLD, &prov, NULL, &err) == PP_OK ? 0 : die(&err);
    model_free(&m);
    return rc;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    pp_err err = {0};
    tokenizer t = {0};
    int rc = 2;
    if (argc == 3 && !strcmp(argv[1], "yaml")) {
        rc = print_yaml(argv[2]);
    } else if ((argc == 4 || argc == 5) && !strcmp(argv[1], "encode")) {
        if (tok_load_hf(&t, argv[2], strcmp(argv[3], "-") ? argv[3] : NULL, &err) != PP_OK) rc = die(&err);
        else rc = argc == 5 ? write_model(&t, argv[4]) : encode_lines(&t);
    } else if (argc == 3 && !strcmp(argv[1], "encode-model")) {
        model m;
        if (model_load(argv[2], &m, &err) != PP_OK) rc = die(&err);
        else {
            rc = encode_lines(&m.tok);
            model_free(&m);
        }
    } else if (argc == 4 && !strcmp(argv[1], "encode-llama2c")) {
        if (tok_load_llama2c(&t, argv[2], atoi(argv[3]), &err) != PP_OK) rc = die(&err);
        else rc = encode_lines(&t);
    } else if (argc == 5 && !strcmp(argv[1], "save-hf")) {
        if (tok_load_llama2c(&t, argv[2], atoi(argv[3]), &err) != PP_OK || tok_save_hf(&t, argv[4], &err) != PP_OK)
            rc = die(&err);
        else rc = 0;
    } else {
        fprintf(stderr, "usage: see the head of tests/tools/hf_tok.c\n");
    }
    tok_free(&t);
    MPI_Finalize();
    return rc;
}
