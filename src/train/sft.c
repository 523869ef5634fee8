/* sft.c - demonstrations and the next-token (NLL) gradient (sft.h). */
#include "train/sft.h"

#include <stdlib.h>
#include <string.h>

#include "core/pp_mpi.h"
#include "core/pp_rng.h"
#include "core/pp_runkey.h"
#include "model/model_io.h"
#include "suite/tasks.h"

#define SFT_STREAM_ORDER 0x5F700000u

pp_status sft_data_build(sft_data *d, const prompt_set *p, const tokenizer *tok, int seq_len,
                         double wrong_fraction, double habit_fraction, uint64_t seed, pp_err *err) {
    memset(d, 0, sizeof *d);
    if (p->n <= 0) return pp_fail(err, PP_EINPUT, "no demonstrations");
    int with_answers = p->reference && p->reference[0];
    size_t cap = 0;
    for (int64_t i = 0; i < p->n; i++)
        cap += tok_max_ids(tok, strlen(p->text[i])) +
               (with_answers ? tok_max_ids(tok, strlen(p->reference[i]) + TASK_TEXT_MAX) : 0) + 8;
    d->lens = malloc((size_t)p->n * sizeof *d->lens);
    d->start = malloc((size_t)p->n * sizeof *d->start);
    d->tokens = malloc(cap * sizeof *d->tokens);
    d->mask = calloc(cap, 1);
    int *scratch = malloc((cap + 8) * sizeof *scratch);
    if (!d->lens || !d->start || !d->tokens || !d->mask || !scratch) {
        free(scratch);
        sft_data_free(d);
        return pp_fail(err, PP_ESYS, "out of memory for %lld demonstrations", (long long)p->n);
    }
    int64_t pos = 0;
    pp_status st = PP_OK;
    for (int64_t i = 0; st == PP_OK && i < p->n; i++) {
        int n_prompt = 0, n_ans = 0;
        st = tok_encode_cap(tok, p->text[i], 1, 0, scratch, (int)tok_max_ids(tok, strlen(p->text[i])), &n_prompt, err);
        if (st != PP_OK) break;
        d->start[i] = pos;
        memcpy(d->tokens + pos, scratch, (size_t)n_prompt * sizeof(int));
        if (with_answers) {
            char answer[TASK_TEXT_MAX];
            const char *a = p->reference[i];
            task_family fam;
            pp_err ignore;
            if ((wrong_fraction > 0 || habit_fraction > 0) && p->family && p->family[i] &&
                tasks_family_from_name(p->family[i], &fam, &ignore) == PP_OK && strlen(a) < TASK_TEXT_MAX) {
                task_item t = {.family = fam};
                snprintf(t.prompt, sizeof t.prompt, "%s", p->text[i]);
                snprintf(t.answer, sizeof t.answer, "%s", a);
                pp_rng r = tasks_demo_rng(seed, (uint64_t)p->ids[i]);
                d->n_wrong += tasks_demo_answer(&t, wrong_fraction, habit_fraction, &r, answer);
                a = answer;
            }
            /* the answer continues the prompt: encode it alone, no BOS */
            st = tok_encode_cap(tok, a, 0, 1, scratch, (int)tok_max_ids(tok, strlen(a)), &n_ans, err);
            if (st != PP_OK) break;
            if (tok->kind == TOK_LLAMA2C && n_ans > 0 && scratch[0] == tok->bos_id) n_ans--; /* defensive */
            memcpy(d->tokens + pos + n_prompt, scratch, (size_t)n_ans * sizeof(int));
            for (int k = 0; k < n_ans; k++) d->mask[pos + n_prompt + k] = 1;
        } else {
            for (int k = 1; k < n_prompt; k++) d->mask[pos + k] = 1;
            d->tokens[pos + n_prompt] = tok->eos_id; /* end of text is learned too */
            d->mask[pos + n_prompt] = 1;
            n_ans = 1;
        }
        d->lens[i] = n_prompt + n_ans;
        if (d->lens[i] > seq_len)
            st = pp_fail(err, PP_EINPUT, "prompt id %lld: demonstration of %d tokens is longer than the context (%d)",
                         (long long)p->ids[i], d->lens[i], seq_len);
        if (d->lens[i] > d->max_len) d->max_len = d->lens[i];
        pos += d->lens[i];
    }
    free(scratch);
    if (st != PP_OK) {
        sft_data_free(d);
        return st;
    }
    d->n = p->n;
    return PP_OK;
}

void sft_data_free(sft_data *d) {
    free(d->lens);
    free(d->start);
    free(d->tokens);
    free(d->mask);
    memset(d, 0, sizeof *d);
}

/* This rank's share [lo, hi) of a global batch of B slots. */
static void my_slice(int B, int rank, int size, int *lo, int *hi) {
    *lo = (int)((int64_t)B * rank / size);
    *hi = (int)((int64_t)B * (rank + 1) / size);
}

pp_status sft_ctx_init(sft_ctx *c, const sft_data *d, const model_config *cfg, int global_batch,
                       int micro_batch, int recompute, uint64_t seed, MPI_Comm comm, pp_err *err) {
    memset(c, 0, sizeof *c);
    c->data = d;
    c->global_batch = global_batch;
    c->micro_batch = micro_batch;
    MPI_Comm_rank(comm, &c->rank);
    MPI_Comm_size(comm, &c->size);
    if (global_batch < c->size)
        return pp_fail(err, PP_EINPUT, "--batch %d is smaller than the number of ranks (%d)", global_batch, c->size);
    return step_batch_alloc(&c->b, cfg, d->n, global_batch, micro_batch, micro_batch * d->max_len, recompute, seed,
                             SFT_STREAM_ORDER, err);
}

void sft_ctx_free(sft_ctx *c) {
    step_batch_free(&c->b);
    memset(c, 0, sizeof *c);
}

pp_status sft_grad(void *vctx, int64_t step, const model *m, float *grads, double *metrics, pp_err *err) {
    sft_ctx *c = vctx;
    const sft_data *d = c->data;
    /* every rank computes the whole batch's indices and token count, so the
     * mean over the global batch needs no extra communication */
    int64_t total = 0;
    for (int j = 0; j < c->global_batch; j++) {
        c->b.idx[j] = (int)step_batch_item(&c->b, step, j);
        const uint8_t *mk = d->mask + d->start[c->b.idx[j]];
        for (int t = 0; t < d->lens[c->b.idx[j]]; t++) total += mk[t];
    }
    if (total == 0) return pp_fail(err, PP_EINPUT, "step %lld: the batch has no scored tokens", (long long)step + 1);
    int lo, hi;
    my_slice(c->global_batch, c->rank, c->size, &lo, &hi);
    double nll = 0;
    for (int j0 = lo; j0 < hi; j0 += c->micro_batch) {
        int nb = hi - j0 < c->micro_batch ? hi - j0 : c->micro_batch;
        int pos = 0;
        for (int b = 0; b < nb; b++) {
            int i = c->b.idx[j0 + b], len = d->lens[i];
            memcpy(c->b.mb_tokens + pos, d->tokens + d->start[i], (size_t)len * sizeof(int));
            memcpy(c->b.mb_mask + pos, d->mask + d->start[i], (size_t)len);
            c->b.mb_lens[b] = len;
            pos += len;
        }
        train_batch tb = {.n_seq = nb, .lens = c->b.mb_lens, .tokens = c->b.mb_tokens, .target_mask = c->b.mb_mask};
        PP_TRY(model_forward_logps(m, &c->b.ws, &tb, c->b.logp, c->b.ntok, err));
        for (int b = 0; b < nb; b++) {
            nll -= c->b.logp[b];
            c->b.dlogp[b] = -1.0f / (float)total;
        }
        PP_TRY(model_backward(m, &c->b.ws, c->b.dlogp, NULL, grads, err));
    }
    metrics[0] = nll / (double)total;
    metrics[1] = c->rank == 0 ? (double)total : 0;
    return PP_OK;
}

/* ------------------------------------------------------------ pp-sft */

/* The shape spec (--arch) over the defaults, with the byte tokenizer's
 * vocabulary (tok: that tokenizer, owned by the caller). */
static pp_status arch_config(const char *spec, model_config *c, tokenizer *tok, pp_err *err) {
    *c = (model_config){.dim = 128, .hidden_dim = 344, .n_layers = 4, .n_heads = 4, .n_kv_heads = 4, .seq_len = 64,
                        .tied_embeddings = 1, .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    PP_TRY(tok_init_bytes(tok, err));
    c->vocab_size = tok->vocab_size;
    return model_parse_arch(spec, c, err);
}

/* The model's shape before anything is loaded (the memory estimate). */
static pp_status run_config(const sft_run_options *o, model_config *c, pp_err *err) {
    if (o->init) return model_read_config(o->init, c, err);
    tokenizer tok = {0};
    pp_status st = arch_config(o->arch, c, &tok, err);
    tok_free(&tok);
    return st;
}

/* A random model of the shape spec with the byte tokenizer (--arch). */
static pp_status random_model(model *m, const char *spec, uint64_t seed, pp_err *err) {
    model_config c;
    tokenizer tok = {0};
    pp_status st = arch_config(spec, &c, &tok, err);
    if (st == PP_OK) st = model_alloc(m, &c, err);
    if (st != PP_OK) {
        tok_free(&tok);
        return st;
    }
    model_init_random(m, seed);
    m->tok = tok;
    m->fingerprint = model_fingerprint(m); /* now with the tokenizer */
    return PP_OK;
}

pp_status sft_run(const sft_run_options *o, MPI_Comm comm, const pp_log *log, pp_err *err) {
    pp_input in[2] = {{"data", o->data}, {"init", o->init}};
    pp_status st = PP_OK;
    model m = {0};
    prompt_set p = {0};
    sft_data d = {0};
    sft_ctx ctx = {0};
    pp_runkey key;
    pp_runkey_init(&key);
    if (!!o->init == !!o->arch) st = pp_fail(err, PP_EINPUT, "give either --init or --arch (see --help)");
    if (st == PP_OK) st = pp_check_output(o->out, in, 2, err);
    model_config shape;
    if (st == PP_OK) st = pp_agree(comm, run_config(o, &shape, err), err);
    if (st == PP_OK) /* sequences are at most the context long */
        st = trainer_memory_check(&o->opt, &shape, o->micro_batch * shape.seq_len, comm, o->mem, log, err);
    if (st == PP_OK) st = prompts_load(&p, o->data, err);
    if (st == PP_OK && p.n == 0) st = pp_fail(err, PP_EINPUT, "%s: no prompts", o->data);
    if (st == PP_OK && o->init) st = model_load(o->init, &m, err);
    if (st == PP_OK && o->arch) st = random_model(&m, o->arch, (uint64_t)o->init_seed, err);
    if (st == PP_OK)
        st = sft_data_build(&d, &p, &m.tok, m.cfg.seq_len, o->wrong_fraction, o->habit_fraction, (uint64_t)o->seed,
                            err);
    if (st == PP_OK) st = sft_ctx_init(&ctx, &d, &m.cfg, o->batch, o->micro_batch, o->opt.recompute, (uint64_t)o->seed, comm, err);
    st = pp_agree(comm, st, err);
    if (st == PP_OK) {
        int size;
        MPI_Comm_size(comm, &size);
        pp_info(log, "%lld demonstrations (%lld with a wrong answer), %zu parameters, %d ranks, batch %d",
                (long long)d.n, (long long)d.n_wrong, m.n_params, size, o->batch);
        st = trainer_run_key(&key, "sft", "data", o->data, "init", &m, o->steps, o->arguments, comm, err);
    }
    if (st == PP_OK) {
        pp_provenance prov = {"pp-sft", o->arguments, in, o->init ? 2 : 1};
        trainer_config tc = {.out_path = o->out, .kind = "sft", .total_steps = o->steps,
                             .checkpoint_every = o->opt.checkpoint_every, .keep_last = o->opt.keep_last,
                             .run_key = pp_runkey_text(&key), .n_metrics = 2, .metric_names = {"loss", "tokens"},
                             .comm = comm, .log = log, .prov = &prov, .log_every = o->opt.log_every,
                             .opt = trainer_cli_adamw(&o->opt, o->steps), .shard_optimizer = o->opt.shard_optimizer};
        double t0 = pp_now();
        st = trainer_run(&tc, &m, sft_grad, &ctx, err);
        if (st == PP_OK) pp_info(log, "wrote %s in %.1fs", o->out, pp_now() - t0);
    }
    pp_runkey_free(&key);
    sft_ctx_free(&ctx);
    sft_data_free(&d);
    prompts_free(&p);
    model_free(&m);
    return st;
}
