/* bench_decoder.c - throughput of the continuous-batching decoder
 * (src/model/decode.h) against the sgemm rate and llama2.c's run.c.
 *
 *   OPENBLAS_NUM_THREADS=1 build/tests/tools/bench_decoder --model M.h5 [--name NAME]
 *       [--prompts 64] [--k 8] [--new 128] [--batches 1,8,64,256] [--runc TOK_PER_S | --runc-skipped WHY]
 *       [--program B=TOK_PER_S,...]
 *
 * With --program (what tests/tools/bench_decoder.sh does) the rates are
 * pp-generate's, measured by the script (program runs at each
 * --max-batch B); this tool adds the sgemm and rowmatmul figures.
 * Without it the decoder is driven directly (for profiling): `prompts`
 * prompts of 4..16 tokens cut from a fixed text (BOS first), K candidates
 * each, up to `new` new tokens at temperature 1, for each --max-batch of
 * the list; tokens/s counts generated tokens over the wall time of
 * decoder_run (the CPU-time rate is printed beside it).
 *
 * Then, in the same process: the sgemm rate on the decode shapes (every
 * weight matrix of one step, as cblas_sgemm over 256 rows, the best case
 * for OpenBLAS), the model's FLOPs per token (2 x
 * the matrix parameters, attention excluded) and so the sgemm ceiling in
 * tokens/s; and the rate of the decoder's own weight products (rowmatmul
 * on the same shapes at each batch size).  Printed: tokens/s, the ratio to
 * run.c's tokens/s (measured by tests/tools/bench_decoder.sh just before,
 * passed with --runc), the fraction of the sgemm ceiling reached, and
 * rowmatmul's rate as a fraction of sgemm's. */
#include <cblas.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/decode.h"
#include "model/model_io.h"

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what, const pp_err *err) {
    fprintf(stderr, "bench_decoder: %s: %s\n", what, err->msg);
    exit(2);
}

static pp_status count_tokens(void *ctx, const decoder_result *r, pp_err *err) {
    *(int64_t *)ctx += r->n_tokens;
    return PP_OK;
}

/* Seconds of one step's weight products over `rows` rows, best of 7:
 * the decoder's own (infer_step_products), or with use_sgemm every
 * layer's seven matrices and the classifier as cblas_sgemm on the model's
 * [out][in] weights (y = x W^T, the formulation training uses). */
static double products_time(const infer_state *st, int rows, int use_sgemm, float *in, float *out) {
    const model_config *c = &st->m->cfg;
    const model_tensors *w = &st->m->w;
    int d = c->dim, kv = st->kv_dim, h = c->hidden_dim, V = c->vocab_size;
    double best = 1e30;
    for (int rep = 0; rep < 7; rep++) {
        double t0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
        if (!use_sgemm) infer_step_products(st, rows, in, out);
        for (int l = 0; use_sgemm && l <= c->n_layers; l++) {
            const float *mats[7] = {w->lm_head};
            int ins[7] = {d}, outs[7] = {V}, n_mats = 1;
            if (l < c->n_layers) {
                const float *m7[7] = {w->wq + (size_t)l * d * d,     w->wk + (size_t)l * d * kv,
                                      w->wv + (size_t)l * d * kv,    w->wo + (size_t)l * d * d,
                                      w->w_gate + (size_t)l * d * h, w->w_up + (size_t)l * d * h,
                                      w->w_down + (size_t)l * h * d};
                int i7[7] = {d, d, d, d, d, d, h}, o7[7] = {d, kv, kv, d, h, h, d};
                memcpy(mats, m7, sizeof mats), memcpy(ins, i7, sizeof ins), memcpy(outs, o7, sizeof outs);
                n_mats = 7;
            }
            for (int j = 0; j < n_mats; j++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, outs[j], ins[j], 1.0f, in, ins[j], mats[j],
                            ins[j], 0.0f, out, outs[j]);
        }
        double t = clock_s(CLOCK_THREAD_CPUTIME_ID) - t0;
        if (t < best) best = t;
    }
    return best;
}

int main(int argc, char **argv) {
    const char *path = NULL, *name = NULL, *runc_skip = NULL, *batches = "1,8,64,256", *program = NULL;
    int n_prompts = 64, K = 8, new_tokens = 128;
    double runc = 0.0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) path = argv[++i];
        else if (!strcmp(argv[i], "--name") && i + 1 < argc) name = argv[++i];
        else if (!strcmp(argv[i], "--prompts") && i + 1 < argc) n_prompts = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--k") && i + 1 < argc) K = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--new") && i + 1 < argc) new_tokens = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batches") && i + 1 < argc) batches = argv[++i];
        else if (!strcmp(argv[i], "--runc") && i + 1 < argc) runc = atof(argv[++i]);
        else if (!strcmp(argv[i], "--runc-skipped") && i + 1 < argc) runc_skip = argv[++i];
        else if (!strcmp(argv[i], "--program") && i + 1 < argc) program = argv[++i];
        else {
            fprintf(stderr, "usage: bench_decoder --model M.h5 [--name N] [--prompts N] [--k K] [--new N] "
                            "[--batches 1,8,64,256] [--runc TOK_PER_S | --runc-skipped WHY] [--program B=R,...]\n");
            return 1;
        }
    }
    if (!path || n_prompts < 1 || n_prompts > 4096 || K < 1 || K > 64 || new_tokens < 1 || new_tokens > 1024) {
        fprintf(stderr, "bench_decoder: --model is required; --prompts 1..4096, --k 1..64, --new 1..1024\n");
        return 1;
    }
    MPI_Init(&argc, &argv);
    model m;
    pp_err err;
    if (model_load(path, &m, &err) != PP_OK) die(path, &err);
    const model_config *c = &m.cfg;

    /* prompts: windows of a fixed text, 4..16 tokens after BOS */
    static const char text[] = "Once upon a time, there was a little girl named Lily. She loved to play outside in "
                               "the park with her dog. One day, she saw a big red ball in the tree and wanted it.";
    int ids[sizeof text + 3], n_ids;
    if (tok_encode(&m.tok, text, 0, 0, ids, &n_ids, &err) != PP_OK) die("tok_encode", &err);
    int *ptok = malloc((size_t)n_prompts * 17 * sizeof *ptok);
    decoder_prompt *pr = malloc((size_t)n_prompts * sizeof *pr);
    int max_prompt = 1;
    for (int i = 0; i < n_prompts; i++) {
        int len = 4 + i % 13, off = (i * 7) % (n_ids > len ? n_ids - len : 1);
        int *t = ptok + (size_t)i * 17;
        t[0] = m.tok.bos_id;
        for (int j = 0; j < len && off + j < n_ids; j++) t[1 + j] = ids[off + j] % c->vocab_size;
        int n = 1 + (len < n_ids - off ? len : n_ids - off);
        pr[i] = (decoder_prompt){.id = i, .tokens = t, .n_tokens = n};
        if (n > max_prompt) max_prompt = n;
    }

    double flops_token = 0.0;
    int kv = c->n_kv_heads * model_head_dim(c);
    flops_token = 2.0 * ((double)c->n_layers * (2.0 * c->dim * c->dim + 2.0 * c->dim * kv + 3.0 * c->dim * c->hidden_dim) +
                         (double)c->dim * c->vocab_size);
    printf("%s: d=%d L=%d hidden=%d heads=%d/%d vocab=%d, %.2f MFLOP/token; %d prompts x K=%d x %d new tokens, "
           "temperature 1 (%s)\n",
           name ? name : path, c->dim, c->n_layers, c->hidden_dim, c->n_heads, c->n_kv_heads, c->vocab_size,
           flops_token / 1e6, n_prompts, K, new_tokens,
           program ? "the pp-generate program, generation phase" : "the decoder driven directly");
    if (runc > 0) printf("  run.c (llama2.c, -Ofast -march=native, batch 1): %.0f tok/s\n", runc);
    else printf("  run.c: skipped: %s\n", runc_skip ? runc_skip : "no anchor");

    /* the sgemm rate on the decode shapes, 256 rows */
    decoder_params p = {.max_batch = 256, .max_prompt_tokens = max_prompt, .max_new_tokens = new_tokens, .k = K,
                        .sample = {1.0f, 0, 1.0f}, .seed = 1};
    decoder probe;
    if (decoder_init(&probe, &m, &p, &err) != PP_OK) die("decoder_init", &err);
    size_t widest = (size_t)(c->hidden_dim > c->vocab_size ? c->hidden_dim : c->vocab_size);
    if ((size_t)c->dim > widest) widest = (size_t)c->dim;
    float *in = malloc(256 * widest * sizeof *in), *out = malloc(256 * widest * sizeof *out);
    for (size_t i = 0; i < 256 * widest; i++) in[i] = 0.01f * (float)(i % 13) - 0.06f;
    double sgemm_rate = 256.0 * flops_token / products_time(&probe.st, 256, 1, in, out);
    double ceiling = sgemm_rate / flops_token;
    printf("  sgemm on the decode shapes (256 rows): %.1f GFLOP/s -> ceiling %.0f tok/s\n", sgemm_rate / 1e9, ceiling);
    if (program) {
        printf("  %9s %10s %8s %9s %12s %8s\n", "max-batch", "tok/s", "x run.c", "% ceiling", "rowmm GF/s", "% sgemm");
        for (const char *b = program; *b;) {
            int B = atoi(b);
            const char *eq = strchr(b, '=');
            double rate = eq ? atof(eq + 1) : 0.0;
            if (B < 1 || B > 256) {
                fprintf(stderr, "bench_decoder: --program: each batch must be in 1..256\n");
                return 1;
            }
            double mm_rate = B * flops_token / products_time(&probe.st, B, 0, in, out);
            char ratio[16];
            if (runc > 0) snprintf(ratio, sizeof ratio, "%.2fx", rate / runc);
            else snprintf(ratio, sizeof ratio, "skipped");
            printf("  %9d %10.0f %8s %8.1f%% %12.1f %7.1f%%\n", B, rate, ratio, 100.0 * rate / ceiling, mm_rate / 1e9,
                   100.0 * mm_rate / sgemm_rate);
            while (*b && *b != ',') b++;
            if (*b == ',') b++;
        }
        batches = "";
    } else
        printf("  %9s %10s %10s %8s %9s %12s %8s %8s %9s\n", "max-batch", "tok/s", "tok/s cpu", "x run.c", "% ceiling",
               "rowmm GF/s", "% sgemm", "rows/st", "MiB");
    fflush(stdout);
    for (const char *b = batches; *b;) {
        int B = atoi(b);
        if (B < 1 || B > 256) {
            fprintf(stderr, "bench_decoder: --batches: each batch must be in 1..256\n");
            return 1;
        }
        p.max_batch = B;
        decoder d;
        if (decoder_init(&d, &m, &p, &err) != PP_OK) die("decoder_init", &err);
        int64_t toks = 0;
        double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
        if (decoder_run(&d, pr, n_prompts, count_tokens, &toks, &err) != PP_OK) die("decoder_run", &err);
        double wall = clock_s(CLOCK_MONOTONIC) - w0, cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
        double rate = (double)toks / wall, mm_rate = B * flops_token / products_time(&probe.st, B, 0, in, out);
        char ratio[16];
        if (runc > 0) snprintf(ratio, sizeof ratio, "%.2fx", rate / runc);
        else snprintf(ratio, sizeof ratio, "skipped");
        printf("  %9d %10.0f %10.0f %8s %8.1f%% %12.1f %7.1f%% %8.1f %9.1f\n", B, rate, (double)toks / cpu, ratio,
               100.0 * rate / ceiling, mm_rate / 1e9, 100.0 * mm_rate / sgemm_rate, (double)d.rows / (double)d.steps,
               (double)decoder_memory_bytes(&d) / 1048576.0);
        fflush(stdout);
        decoder_free(&d);
        while (*b && *b != ',') b++;
        if (*b == ',') b++;
    }
    decoder_free(&probe);
    free(in), free(out), free(ptok), free(pr);
    model_free(&m);
    MPI_Finalize();
    return 0;
}
