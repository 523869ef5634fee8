/* bench_generate.c - the generator's batching gain, and a model file for
 * tests/tools/bench_generate.sh.
 *
 *   OPENBLAS_NUM_THREADS=1 build/tests/tools/bench_generate [--new N] [--prompts N] [--cpu-time]
 *                                    [--reps N] [--only stories260K|d256|d512]
 *       K = 8 candidates per prompt generated together (one prefill, one
 *       batched decode step for all) against the same number of candidates
 *       generated one at a time (K = 1: own prefill, batch-1 decode), in
 *       tokens/s, on stories260K (when ../shared has it) and random models
 *       of the sizes the pipeline trains.  Temperature 1, every candidate
 *       runs to N new tokens (EOS disabled by the random models' size; the
 *       count of generated tokens is what is divided).  With --reps N the
 *       two runs alternate N times and each keeps its best.
 *   build/tests/tools/bench_generate --write-model PATH --dim D --layers L
 *                                    [--vocab V] [--tokenizer T.bin]
 *       writes a random model file for pp-generate runs: vocab V (default
 *       4096), the byte tokenizer padded to V, or llama2.c tokenizer T.bin
 *       (tok512.bin with V = 512, so run.c can read the exported model). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "generate/generate.h"
#include "model/llama2c.h"
#include "model/model_io.h"

static clockid_t bench_clock = CLOCK_MONOTONIC;

static double now(void) {
    struct timespec ts;
    clock_gettime(bench_clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what, const pp_err *err) {
    fprintf(stderr, "bench_generate: %s: %s\n", what, err->msg);
    exit(2);
}

/* Tokens/s generating n_prompts x 8 candidates with k per generate call. */
static double rate(const model *m, int k, int n_prompts, int new_tokens) {
    pp_err err;
    gen_params p = {.k = k, .max_new_tokens = new_tokens, .sample = {1.0f, 0, 1.0f}, .seed = 1};
    int prompt[16];
    for (int i = 0; i < 16; i++) prompt[i] = i == 0 ? m->tok.bos_id : 'a' + (i * 7) % 26;
    generator g;
    if (generator_init(&g, m, &p, 16, &err) != PP_OK) die("generator_init", &err);
    candidate_set s;
    if (candidates_init(&s, k, &err) != PP_OK) die("candidates_init", &err);
    double t0 = now();
    int64_t id = 0;
    for (int q = 0; q < n_prompts; q++)
        for (int rep = 0; rep < 8 / k; rep++) {
            gen_prompt pr = {.id = id++, .text = "", .tokens = prompt, .n_tokens = 16};
            if (generate_prompt(&g, &pr, &s, &err) != PP_OK) die("generate_prompt", &err);
        }
    double t = now() - t0;
    double tokens = (double)g.tokens_generated;
    candidates_free(&s);
    generator_free(&g);
    return tokens / t;
}

static void random_model(model *m, int dim, int layers, int vocab) {
    int hidden = (2 * 4 * dim / 3 + 31) / 32 * 32;
    model_config c = {.dim = dim, .hidden_dim = hidden, .n_layers = layers, .n_heads = dim / 64 > 0 ? dim / 64 : 1,
                      .n_kv_heads = dim / 64 > 0 ? dim / 64 : 1, .vocab_size = vocab, .seq_len = 512,
                      .tied_embeddings = 1, .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    pp_err err;
    if (model_alloc(m, &c, &err) != PP_OK) die("model_alloc", &err);
    model_init_random(m, 1);
    /* a byte tokenizer padded to the vocabulary: the extra ids decode to nothing */
    tokenizer bytes;
    if (tok_init_bytes(&bytes, &err) != PP_OK) die("tok_init_bytes", &err);
    int64_t *off = malloc((size_t)(vocab + 1) * sizeof *off);
    for (int i = 0; i <= vocab; i++) off[i] = i <= bytes.vocab_size ? bytes.piece_offsets[i] : bytes.piece_offsets[bytes.vocab_size];
    if (tok_from_arrays(&m->tok, TOK_BYTE, vocab, bytes.bos_id, bytes.eos_id, bytes.pad_id, bytes.pieces, off, NULL,
                        &err) != PP_OK)
        die("tok_from_arrays", &err);
    m->fingerprint = model_fingerprint(m);
    free(off);
    tok_free(&bytes);
}

static void bench(const char *name, const model *m, int n_prompts, int new_tokens, int reps) {
    double one = 0.0, batched = 0.0;
    for (int rep = 0; rep < reps; rep++) {
        double a = rate(m, 1, n_prompts, new_tokens), b = rate(m, 8, n_prompts, new_tokens);
        if (a > one) one = a;
        if (b > batched) batched = b;
    }
    printf("%-22s %8.2f %12.0f %12.0f %8.2fx\n", name, (double)m->n_params / 1e6, one, batched, batched / one);
    fflush(stdout);
}

int main(int argc, char **argv) {
    int n_prompts = 4, new_tokens = 64, dim = 256, layers = 4, reps = 1, vocab = 4096;
    const char *write_model = NULL, *only = NULL, *tok_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--new") && i + 1 < argc) new_tokens = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--prompts") && i + 1 < argc) n_prompts = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cpu-time")) bench_clock = CLOCK_PROCESS_CPUTIME_ID;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--write-model") && i + 1 < argc) write_model = argv[++i];
        else if (!strcmp(argv[i], "--dim") && i + 1 < argc) dim = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--layers") && i + 1 < argc) layers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--vocab") && i + 1 < argc) vocab = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc) tok_path = argv[++i];
        else {
            fprintf(stderr, "usage: bench_generate [--new N] [--prompts N] [--cpu-time] [--reps N] "
                            "[--only stories260K|d256|d512] | --write-model PATH [--dim D --layers L --vocab V "
                            "--tokenizer T.bin]\n");
            return 1;
        }
    }
    if (new_tokens < 1 || new_tokens > 400 || n_prompts < 1 || dim < 64 || dim % 32 || layers < 1 || reps < 1 ||
        reps > 100 || vocab < 259 || vocab > 1 << 20) {
        fprintf(stderr, "bench_generate: --new 1..400, --prompts >= 1, --dim >= 64 and a multiple of 32, --layers >= 1, "
                        "--reps 1..100, --vocab 259..2^20\n");
        return 1;
    }
    model m;
    pp_err err;
    if (write_model) {
        MPI_Init(&argc, &argv);
        random_model(&m, dim, layers, vocab);
        if (tok_path) {
            tok_free(&m.tok);
            if (tok_load_llama2c(&m.tok, tok_path, vocab, &err) != PP_OK) die(tok_path, &err);
            m.fingerprint = model_fingerprint(&m);
        }
        pp_provenance prov = {"bench_generate", "random model", NULL, 0};
        model_extra x = {.kind = "random"};
        if (model_save(write_model, &m, MPI_COMM_WORLD, &prov, &x, &err) != PP_OK) die(write_model, &err);
        model_free(&m);
        MPI_Finalize();
        return 0;
    }
    const char *env = getenv("PP_SHARED"), *blas = getenv("OPENBLAS_NUM_THREADS");
    char bin[4096], tok[4096];
    snprintf(bin, sizeof bin, "%s/models/stories260K.bin", env && *env ? env : "../shared");
    snprintf(tok, sizeof tok, "%s/models/tok512.bin", env && *env ? env : "../shared");
    printf("generation, %d prompts x 8 candidates x %d new tokens, OPENBLAS_NUM_THREADS=%s, %s time, best of %d\n",
           n_prompts, new_tokens, blas ? blas : "unset", bench_clock == CLOCK_MONOTONIC ? "wall" : "process CPU", reps);
    printf("%-22s %8s %12s %12s %9s\n", "model", "Mparams", "K=1 x8 tok/s", "K=8 tok/s", "ratio");
    if (!only || !strcmp(only, "stories260K")) {
        if (llama2c_load(&m, bin, tok, NULL, &err) == PP_OK) {
            bench("stories260K", &m, n_prompts, new_tokens, reps);
            model_free(&m);
        } else printf("%-22s skipped: %s\n", "stories260K", err.msg);
    }
    if (!only || !strcmp(only, "d256")) {
        random_model(&m, 256, 4, 4096);
        bench("random d256 L4 V4096", &m, n_prompts, new_tokens, reps);
        model_free(&m);
    }
    if (!only || !strcmp(only, "d512")) {
        random_model(&m, 512, 8, 4096);
        bench("random d512 L8 V4096", &m, n_prompts, new_tokens, reps);
        model_free(&m);
    }
    return 0;
}
