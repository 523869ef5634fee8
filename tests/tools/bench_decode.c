/* bench_decode.c - KV-cache decode throughput at batch 1 and batch 8.
 *
 *   OPENBLAS_NUM_THREADS=1 build/tests/tools/bench_decode [--steps N]
 *
 * For each model: every slot is prefilled with the same 8-token prompt,
 * then `steps` decode steps run with all slots active, feeding back the
 * argmax token; only the decode loop is timed.  tokens/s counts generated
 * tokens (batch x steps).  Models: stories260K from $PP_SHARED/models (or
 * ../shared/models; skipped when absent) and random models of the sizes
 * the pipeline trains, d=256/L=4 and d=512/L=8 (vocab 4096, seq 512),
 * which are the representative ones: stories260K's 1 MB of weights sits in
 * cache, so batching has little memory traffic to save there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "infer.h"
#include "llama2c.h"
#include "model.h"
#include "sample.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Decode tokens/s of `batch` slots for `steps` steps (best of `reps`). */
static double decode_rate(const model *m, int batch, int steps, int reps) {
    pp_err err;
    infer_state st;
    int V = m->cfg.vocab_size;
    if (infer_init(&st, m, batch, 8 + steps + 1, &err) != PP_OK) {
        fprintf(stderr, "bench_decode: %s\n", err.msg);
        exit(2);
    }
    float *logits = malloc((size_t)batch * V * sizeof(float));
    int prompt[8], slots[8], feed[8];
    for (int i = 0; i < 8; i++) prompt[i] = (i * 37 + 1) % V;
    double best = 0.0;
    for (int rep = 0; rep < reps; rep++) {
        infer_reset(&st, 0);
        if (infer_prefill(&st, 0, prompt, 8, logits, &err) != PP_OK) {
            fprintf(stderr, "bench_decode: %s\n", err.msg);
            exit(2);
        }
        for (int s = 0; s < batch; s++) {
            infer_copy_seq(&st, 0, s, &err);
            slots[s] = s;
            feed[s] = (sample_argmax(logits, V) + s) % V; /* distinct candidates */
        }
        double t0 = now();
        for (int step = 0; step < steps; step++) {
            if (infer_decode(&st, batch, slots, feed, logits, &err) != PP_OK) {
                fprintf(stderr, "bench_decode: %s\n", err.msg);
                exit(2);
            }
            for (int s = 0; s < batch; s++) feed[s] = sample_argmax(logits + (size_t)s * V, V);
        }
        double rate = (double)batch * steps / (now() - t0);
        if (rate > best) best = rate;
    }
    infer_free(&st);
    free(logits);
    return best;
}

static void bench(const char *name, const model *m, int steps) {
    double r1 = decode_rate(m, 1, steps, 3);
    double r8 = decode_rate(m, 8, steps, 3);
    printf("%-22s %9.2f %6d %12.0f %12.0f %8.2fx\n", name, (double)m->n_params / 1e6, steps, r1, r8, r8 / r1);
    fflush(stdout);
}

static void random_model(model *m, int dim, int layers, int vocab) {
    int hidden = (2 * 4 * dim / 3 + 31) / 32 * 32; /* Llama's 8d/3, rounded to 32 */
    model_config c = {.dim = dim, .hidden_dim = hidden, .n_layers = layers, .n_heads = dim / 64,
                      .n_kv_heads = dim / 64, .vocab_size = vocab, .seq_len = 512, .tied_embeddings = 1,
                      .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    pp_err err;
    if (model_alloc(m, &c, &err) != PP_OK) {
        fprintf(stderr, "bench_decode: %s\n", err.msg);
        exit(2);
    }
    model_init_random(m, 1);
}

int main(int argc, char **argv) {
    int steps = 128;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_decode [--steps N]\n");
            return 1;
        }
    }
    if (steps < 1 || steps > 400) {
        fprintf(stderr, "bench_decode: --steps must be in 1..400\n");
        return 1;
    }
    const char *env = getenv("PP_SHARED"), *blas = getenv("OPENBLAS_NUM_THREADS");
    char path[4096];
    snprintf(path, sizeof path, "%s/models/stories260K.bin", env && *env ? env : "../shared");

    printf("decode throughput (KV cache, greedy feed-back), OPENBLAS_NUM_THREADS=%s\n", blas ? blas : "unset");
    printf("%-22s %9s %6s %12s %12s %9s\n", "model", "Mparams", "steps", "batch1 tok/s", "batch8 tok/s",
           "ratio");
    model m;
    pp_err err;
    if (llama2c_load(&m, path, NULL, NULL, &err) == PP_OK) {
        bench("stories260K", &m, steps);
        model_free(&m);
    } else {
        printf("%-22s skipped: %s\n", "stories260K", err.msg);
    }
    random_model(&m, 256, 4, 4096);
    bench("random d256 L4 V4096", &m, steps);
    model_free(&m);
    random_model(&m, 512, 8, 4096);
    bench("random d512 L8 V4096", &m, steps);
    model_free(&m);
    return 0;
}
