/* bench_step.c - where a full decode step's time goes, per generated token.
 *
 *   OPENBLAS_NUM_THREADS=1 build/tests/tools/bench_step --model M.h5 [--batch 64] [--prompt 13] [--steps 128]
 *                                                      [--reps 3]
 *
 * Every slot of a batch is prefilled with a --prompt-token prompt, then
 * the whole batch decodes --steps steps together (positions prompt ..
 * prompt + steps - 1, as pp-generate's 128 new tokens after a short
 * prompt), feeding back arbitrary tokens.  Three timings, best of --reps,
 * in microseconds per generated token:
 *   decode      infer_decode, the whole step (products, attention, stores,
 *               norms; the classifier's logits for every row);
 *   products    the step's weight products alone (infer_step_products), on
 *               the same number of rows;
 *   attention   kern_attend alone over the same slots and lengths, in the
 *               decode's order (layer by layer, slot by slot), without the
 *               products in between.
 * decode - products is what the rest of the step costs inside a real step,
 * where the products and the attention share the caches; the attention
 * alone shows what it costs from wherever the batch's keys and values sit
 * (in cache for a few slots, DRAM for many).  pp-generate adds sampling and
 * bookkeeping on top (its own tokens/s, tests/tools/bench_decoder.sh). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/infer.h"
#include "model/kernels.h"
#include "model/model_io.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "bench_step: %s\n", what);
    exit(2);
}

/* Every slot refilled with its prompt (the first token differs per slot). */
static void prefill_all(infer_state *st, int batch, int prompt_len) {
    pp_err err;
    int V = st->m->cfg.vocab_size, tokens[512];
    for (int s = 0; s < batch; s++) {
        for (int i = 0; i < prompt_len; i++) tokens[i] = (i * 37 + s * 7 + 3) % V;
        infer_reset(st, s);
        if (infer_prefill(st, s, tokens, prompt_len, NULL, &err) != PP_OK) die(err.msg);
    }
}

/* Seconds for `steps` decode steps of the whole batch. */
static double time_decode(infer_state *st, int batch, int steps, int *slots, int *feed, float *logits) {
    pp_err err;
    int V = st->m->cfg.vocab_size;
    for (int s = 0; s < batch; s++) slots[s] = s, feed[s] = (s * 13 + 1) % V;
    double t0 = now();
    for (int t = 0; t < steps; t++) {
        if (infer_decode(st, batch, slots, feed, logits, &err) != PP_OK) die(err.msg);
        for (int s = 0; s < batch; s++) feed[s] = (feed[s] * 31 + t + s) % V;
    }
    return now() - t0;
}

/* Seconds for the attention of the same steps alone, over the slots'
 * cached keys and values (filled by the decode). */
static double time_attention(infer_state *st, int batch, int prompt_len, int steps, const float *q, float *out) {
    const model_config *c = &st->m->cfg;
    size_t key_slot = kern_keys_floats(st->max_pos, st->kv_dim), val_slot = (size_t)st->max_pos * st->kv_dim;
    double t0 = now();
    for (int t = 0; t < steps; t++)
        for (int l = 0; l < c->n_layers; l++)
            for (int s = 0; s < batch; s++) {
                size_t at = (size_t)l * st->max_seqs + (size_t)s;
                kern_attend(out, st->att, (size_t)st->max_pos, q, st->key_cache + at * key_slot,
                            st->value_cache + at * val_slot, c->n_heads, c->n_kv_heads, model_head_dim(c),
                            prompt_len + t + 1);
            }
    return now() - t0;
}

int main(int argc, char **argv) {
    const char *path = NULL;
    int batch = 64, prompt_len = 13, steps = 128, reps = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) path = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--prompt") && i + 1 < argc) prompt_len = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_step --model M.h5 [--batch 64] [--prompt 13] [--steps 128] [--reps 3]\n");
            return 2;
        }
    }
    if (!path || batch < 1 || batch > 4096 || prompt_len < 1 || prompt_len > 512 || steps < 1 || reps < 1)
        die("--model is required; --batch 1..4096, --prompt 1..512, --steps and --reps >= 1");
    MPI_Init(&argc, &argv);
    model m;
    infer_state st;
    pp_err err;
    if (model_load(path, &m, &err) != PP_OK) die(err.msg);
    const model_config *c = &m.cfg;
    if (prompt_len + steps > c->seq_len) die("--prompt + --steps exceed the model's context");
    if (infer_init_rows(&st, &m, batch, prompt_len + steps, 0, &err) != PP_OK) die(err.msg);
    size_t V = (size_t)c->vocab_size, width = (size_t)(c->dim > c->hidden_dim ? c->dim : c->hidden_dim);
    size_t out_width = width > V ? width : V, qd = (size_t)model_q_dim(c);
    float *logits = malloc((size_t)batch * V * sizeof(float)), *in = calloc((size_t)batch * width, sizeof(float));
    float *out = malloc((size_t)batch * out_width * sizeof(float)), *q = malloc(qd * sizeof(float));
    int *slots = malloc((size_t)batch * sizeof(int)), *feed = malloc((size_t)batch * sizeof(int));
    if (!logits || !in || !out || !q || !slots || !feed) die("out of memory");
    for (size_t i = 0; i < (size_t)batch * width; i++) in[i] = 0.01f * (float)(i % 7);
    for (size_t i = 0; i < qd; i++) q[i] = 0.01f * (float)(i % 13);

    double best_decode = 1e30, best_products = 1e30, best_attention = 1e30;
    for (int rep = 0; rep < reps; rep++) {
        prefill_all(&st, batch, prompt_len);
        double t = time_decode(&st, batch, steps, slots, feed, logits);
        best_decode = t < best_decode ? t : best_decode;
        t = time_attention(&st, batch, prompt_len, steps, q, out);
        best_attention = t < best_attention ? t : best_attention;
        double t0 = now();
        for (int s = 0; s < steps; s++) infer_step_products(&st, batch, in, out);
        t = now() - t0;
        best_products = t < best_products ? t : best_products;
    }
    double tokens = (double)batch * steps, us = 1e6 / tokens;
    printf("%s: d=%d L=%d heads=%d/%d, batch %d, positions %d..%d, best of %d, us per generated token:\n", path,
           c->dim, c->n_layers, c->n_heads, c->n_kv_heads, batch, prompt_len, prompt_len + steps - 1, reps);
    printf("  decode %.1f (%.0f tok/s)   products alone %.1f   decode - products %.1f   attention alone %.1f\n",
           best_decode * us, tokens / best_decode, best_products * us, (best_decode - best_products) * us,
           best_attention * us);
    free(logits), free(in), free(out), free(q), free(slots), free(feed);
    infer_free(&st);
    model_free(&m);
    MPI_Finalize();
    return 0;
}
