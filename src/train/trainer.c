/* trainer.c - data-parallel training loop with checkpoints and exact resume. */
#include "train/trainer.h"
#include "core/pp_testhook.h"

#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model_io.h"
#include "model/model_train.h"
#include "core/pp_mpi.h"
#include "core/pp_parts.h"

typedef struct {
    int n;                 /* metric columns: caller's + grad_norm + learning_rate */
    const char *names[TRAINER_MAX_METRICS + 2];
    double *rows;          /* [total_steps][n] */
    double *series;        /* [n][total_steps] transposed for writing */
} history;

/* How the gradients are summed over ranks, sharded or not: the flat buffer
 * is cut into one contiguous block per rank, rank r's block being
 * [first[r], first[r + 1]), first[r] = n * r / P (blocks cut across
 * tensors).  MPI_Reduce_scatter sums each block onto its rank.  With
 * --shard-optimizer the rank then clips and updates its block only (AdamW
 * moments of that block only) and MPI_Allgatherv shares the parameters
 * back; without it, MPI_Allgatherv shares the summed gradient blocks and
 * every rank updates everything.  Both compute the global norm from the
 * blocks' sums of squares added in rank order, so the two give the same
 * bits: a sharded run writes the model an unsharded run writes.  The
 * exchanges go in rounds of at most SHARD_CHUNK floats of every block, so
 * MPI's own scratch stays a few MB whatever the model's size. */
#define SHARD_CHUNK ((size_t)1 << 22)

typedef struct {
    int rank, size;
    int sharded;          /* --shard-optimizer on more than one rank */
    size_t *first;        /* [size + 1] */
    int *counts, *displs; /* [size] one round's */
    float *stage;         /* [size * SHARD_CHUNK] one round's blocks, rank by rank */
    double *sq;           /* [size] each block's sum of squares */
    size_t rounds;
} shard_plan;

static pp_status shard_plan_init(shard_plan *p, int sharded, size_t n, MPI_Comm comm, pp_err *err) {
    memset(p, 0, sizeof *p);
    MPI_Comm_rank(comm, &p->rank);
    MPI_Comm_size(comm, &p->size);
    p->sharded = sharded && p->size > 1;
    if (p->size == 1) return PP_OK;
    if (n < (size_t)p->size) return pp_fail(err, PP_EINPUT, "%zu parameters for %d ranks", n, p->size);
    if (n > (size_t)INT_MAX) /* MPI counts and displacements are int */
        return pp_fail(err, PP_EINPUT, "%zu parameters exceed the %d an MPI displacement holds", n, INT_MAX);
    p->first = malloc((size_t)(p->size + 1) * sizeof *p->first);
    p->counts = malloc((size_t)p->size * sizeof *p->counts);
    p->displs = malloc((size_t)p->size * sizeof *p->displs);
    p->sq = malloc((size_t)p->size * sizeof *p->sq);
    for (int r = 0; p->first && r <= p->size; r++)
        p->first[r] = (size_t)((unsigned long long)n * (unsigned)r / (unsigned)p->size);
    size_t widest = 0;
    for (int r = 0; p->first && r < p->size; r++)
        if (p->first[r + 1] - p->first[r] > widest) widest = p->first[r + 1] - p->first[r];
    p->rounds = (widest + SHARD_CHUNK - 1) / SHARD_CHUNK;
    p->stage = malloc((size_t)p->size * (widest < SHARD_CHUNK ? widest : SHARD_CHUNK) * sizeof *p->stage);
    if (!p->first || !p->counts || !p->displs || !p->sq || !p->stage)
        return pp_fail(err, PP_ESYS, "out of memory for the gradient exchange's buffers");
    return PP_OK;
}

static void shard_plan_free(shard_plan *p) {
    free(p->first);
    free(p->counts);
    free(p->displs);
    free(p->stage);
    free(p->sq);
    memset(p, 0, sizeof *p);
}

/* Round j covers floats [j * SHARD_CHUNK, (j + 1) * SHARD_CHUNK) of every
 * rank's block: counts and displacements (into the flat buffer) of it. */
static void shard_round(shard_plan *p, size_t j) {
    for (int r = 0; r < p->size; r++) {
        size_t lo = p->first[r] + j * SHARD_CHUNK, hi = p->first[r + 1];
        if (lo > hi) lo = hi;
        p->counts[r] = (int)(hi - lo < SHARD_CHUNK ? hi - lo : SHARD_CHUNK);
        p->displs[r] = (int)lo; /* < 2^31: shard_plan_init */
    }
}

/* Sum the gradients over the ranks, each rank receiving its own block
 * (MPI_Reduce_scatter), left in place at grads[first[rank]...]. */
static void shard_reduce_scatter(shard_plan *p, float *grads, MPI_Comm comm) {
    for (size_t j = 0; j < p->rounds; j++) {
        shard_round(p, j);
        size_t at = 0;
        for (int r = 0; r < p->size; r++) {
            memcpy(p->stage + at, grads + p->displs[r], (size_t)p->counts[r] * sizeof(float));
            at += (size_t)p->counts[r];
        }
        MPI_Reduce_scatter(p->stage, grads + p->displs[p->rank], p->counts, MPI_FLOAT, MPI_SUM, comm);
    }
}

/* Every rank's block of buf to every rank (MPI_Allgatherv, in place). */
static void shard_allgather(shard_plan *p, float *buf, MPI_Comm comm) {
    for (size_t j = 0; j < p->rounds; j++) {
        shard_round(p, j);
        MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, p->counts, p->displs, MPI_FLOAT, comm);
    }
}

/* Sum the step's gradients over the ranks and return their global norm:
 * grads then holds the sum in this rank's block (sharded) or everywhere. */
static double exchange_gradients(shard_plan *p, float *grads, size_t n, MPI_Comm comm) {
    if (p->size == 1) return grad_global_norm(grads, n);
    shard_reduce_scatter(p, grads, comm);
    size_t mine = p->first[p->rank];
    double own = grad_sum_squares(grads + mine, p->first[p->rank + 1] - mine);
    MPI_Allgather(&own, 1, MPI_DOUBLE, p->sq, 1, MPI_DOUBLE, comm);
    if (!p->sharded) shard_allgather(p, grads, comm);
    double sum = 0;
    for (int r = 0; r < p->size; r++) sum += p->sq[r]; /* rank order: the same bits either way */
    return sqrt(sum);
}

/* With the sharded optimizer on ranks that all share one node, the
 * parameters are held once per node: a node-shared window (pp_node_shared)
 * replaces every rank's copy, each rank's AdamW writes only its own block
 * of it, and a node barrier replaces the all-gather.  Ranks on several
 * nodes keep their own copies (the all-gather).  Done after resuming (a
 * checkpoint is read into private memory) and undone before returning
 * (the caller owns m's buffer). */
static pp_status share_params(pp_node_shared *sh, const shard_plan *p, model *m, MPI_Comm comm, pp_err *err) {
    memset(sh, 0, sizeof *sh);
    if (!p->sharded) return PP_OK;
    int on_node = pp_ranks_on_node(comm);
    if (on_node != p->size) return PP_OK;
    size_t bytes = m->n_params * sizeof(float);
    PP_TRY(pp_node_shared_alloc(sh, comm, bytes, err));
    if (sh->owner) memcpy(sh->base, m->params, bytes);
    pp_node_shared_sync(sh);
    free(m->params);
    m->params = sh->base;
    model_point(&m->w, m->params, &m->cfg);
    return PP_OK;
}

/* Back to a private copy of the parameters (the caller frees it). */
static pp_status unshare_params(pp_node_shared *sh, model *m, pp_err *err) {
    if (!sh->have_win) return PP_OK;
    float *own = malloc(m->n_params * sizeof *own);
    pp_status st = own ? PP_OK : pp_fail(err, PP_ESYS, "out of memory for %zu parameters", m->n_params);
    if (own) memcpy(own, m->params, m->n_params * sizeof *own);
    MPI_Barrier(sh->node); /* everyone has its copy before the window goes */
    pp_node_shared_free(sh);
    m->params = own;
    if (own) model_point(&m->w, m->params, &m->cfg);
    return st;
}

static void ckpt_path(const trainer_config *c, int64_t step, char *buf, size_t cap) {
    snprintf(buf, cap, "%s.ckpt/step-%09lld.h5", c->out_path, (long long)step);
}

static pp_status save_model(const trainer_config *c, const char *path, model *m, const adamw *opt,
                            history *h, int64_t steps_done, int with_state, pp_err *err) {
    model_extra x = {.kind = c->kind, .run_key = with_state ? c->run_key : NULL, .step = steps_done,
                     .n_text_attrs = c->n_text_attrs};
    for (int i = 0; i < c->n_text_attrs; i++) {
        x.text_attr_names[i] = c->text_attr_names[i];
        x.text_attr_values[i] = c->text_attr_values[i];
    }
    if (!with_state && c->final_fn) /* the final file: the caller's closing figures */
        PP_TRY(pp_agree(c->comm, c->final_fn(c->final_ctx, m, &x.n_attrs, x.attr_names, x.attr_values, err), err));
    if (with_state) {
        x.adam_m = opt->m;
        x.adam_v = opt->v;
        if (opt->count < opt->n) { /* sharded: every rank writes its slice */
            x.adam_first = (int64_t)opt->first;
            x.adam_count = (int64_t)opt->count;
        }
    }
    x.n_metrics = h->n;
    x.n_rows = steps_done;
    for (int j = 0; j < h->n; j++) {
        for (int64_t i = 0; i < steps_done; i++) h->series[(size_t)j * c->total_steps + i] = h->rows[i * h->n + j];
        x.metric_names[j] = h->names[j];
        x.metric_values[j] = h->series + (size_t)j * c->total_steps;
    }
    m->fingerprint = model_fingerprint(m);
    return model_save(path, m, c->comm, c->prov, &x, err);
}

/* Newest checkpoint step found in OUT.ckpt/, -1 when none. */
static int64_t newest_checkpoint(const trainer_config *c, int64_t below) {
    char dir[PP_PATH_MAX];
    snprintf(dir, sizeof dir, "%s.ckpt", c->out_path);
    DIR *d = opendir(dir);
    if (!d) return -1;
    int64_t best = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        long long s;
        char tail[8];
        if (sscanf(e->d_name, "step-%lld.%7s", &s, tail) == 2 && !strcmp(tail, "h5") && s > best && s < below) best = s;
    }
    closedir(d);
    return best;
}

static void remove_old_checkpoints(const trainer_config *c, int64_t newest) {
    int kept = 0;
    for (int64_t s = newest_checkpoint(c, newest + 1); s >= 0; s = newest_checkpoint(c, s)) {
        if (++kept <= c->keep_last) continue;
        char p[PP_PATH_MAX];
        ckpt_path(c, s, p, sizeof p);
        unlink(p);
    }
}

/* Load checkpoint `path` of step s into m, opt and h, all or nothing: the
 * weights (checked against their fingerprint by model_load) and the metric
 * rows are read into scratch and only copied over once all of it passed;
 * the moments (finite, v >= 0) are read straight into opt, which holds
 * zeros before a resume, and zeroed again when anything failed - so a
 * resume never holds two copies of them.  Each rank reads its own slice of
 * the moments (any rank count wrote the file): the outcome is agreed over
 * the ranks.  PP_EINPUT for a damaged file; *other_run is set when the file
 * is intact but belongs to another run. */
static pp_status load_checkpoint(const trainer_config *c, const char *path, int64_t s, model *m, adamw *opt,
                                 history *h, int *other_run, pp_err *err) {
    *other_run = 0;
    pp_h5 f;
    PP_TRY(pp_h5_open(&f, path, "model", MODEL_SCHEMA_VERSION, err));
    char key[8192] = "";
    pp_status st = pp_h5_get_attr_str(&f, "/train", "run_key", key, sizeof key, err);
    pp_h5_close(&f);
    if (st != PP_OK || strcmp(key, c->run_key) != 0) { /* no key: a model file, not a checkpoint of this run */
        *other_run = 1;
        return pp_fail(err, PP_EINPUT,
                       "%s: checkpoint of a different run (other arguments or inputs); delete %s.ckpt to start over",
                       path, c->out_path);
    }
    model loaded = {0};
    st = model_load(path, &loaded, err);
    size_t n = opt->count; /* this rank's moments: all, or its slice */
    double *rows = NULL;
    if (st == PP_OK && (loaded.n_params != m->n_params || memcmp(&loaded.cfg, &m->cfg, sizeof m->cfg) != 0))
        st = pp_fail(err, PP_EINPUT, "%s: checkpoint has another model shape", path);
    if (st == PP_OK) {
        rows = calloc((size_t)(s > 0 ? s : 1) * (size_t)h->n, sizeof *rows);
        if (!rows) st = pp_fail(err, PP_ESYS, "out of memory loading %s", path);
    }
    int64_t step = 0;
    if (st == PP_OK) st = model_load_train_state(path, m, opt->m, opt->v, opt->first, n, &step, 0, NULL, NULL, err);
    if (st == PP_OK && (step != s || step > c->total_steps))
        st = pp_fail(err, PP_EINPUT, "%s: checkpoint step %lld does not match its name", path, (long long)step);
    for (size_t i = 0; st == PP_OK && i < n; i++)
        if (!isfinite(opt->m[i]) || !isfinite(opt->v[i]) || opt->v[i] < 0)
            st = pp_fail(err, PP_EINPUT, "%s: /train/adam_%s element %zu is %g", path, isfinite(opt->m[i]) ? "v" : "m",
                         opt->first + i, isfinite(opt->m[i]) ? opt->v[i] : opt->m[i]);
    for (int j = 0; st == PP_OK && j < h->n; j++) {
        char name[160];
        double *v;
        int64_t got;
        snprintf(name, sizeof name, "/metrics/%s", h->names[j]);
        st = model_read_series(path, name, &v, &got, err);
        if (st == PP_OK && got != step)
            st = pp_fail(err, PP_EINPUT, "%s: metric %s has %lld rows, expected %lld", path, name, (long long)got,
                         (long long)step);
        for (int64_t i = 0; st == PP_OK && i < got; i++) rows[i * h->n + j] = v[i];
        free(v);
    }
    st = pp_agree(c->comm, st, err);
    if (st == PP_OK) { /* all checked on every rank: take it */
        memcpy(m->params, loaded.params, m->n_params * sizeof(float));
        opt->step = step;
        memcpy(h->rows, rows, (size_t)step * (size_t)h->n * sizeof *rows);
    } else {
        memset(opt->m, 0, n * sizeof *opt->m);
        memset(opt->v, 0, n * sizeof *opt->v);
    }
    model_free(&loaded);
    free(rows);
    return st;
}

/* Try to resume from the newest usable checkpoint of this run; a damaged one
 * (truncated, weights not matching their fingerprint, non-finite moments)
 * is skipped with a warning naming it, and the one before it tried, as far
 * back as --keep-last kept.  *start is the step to continue from (0: fresh). */
static pp_status try_resume(const trainer_config *c, model *m, adamw *opt, history *h, int64_t *start,
                            pp_err *err) {
    *start = 0;
    int skipped = 0;
    for (int64_t s = newest_checkpoint(c, INT64_MAX); s >= 0; s = newest_checkpoint(c, s)) {
        char path[PP_PATH_MAX];
        ckpt_path(c, s, path, sizeof path);
        int other_run = 0;
        pp_err e;
        pp_status st = load_checkpoint(c, path, s, m, opt, h, &other_run, &e);
        if (st == PP_OK) {
            *start = s;
            return PP_OK;
        }
        if (other_run || st != PP_EINPUT) {
            *err = e;
            return st;
        }
        pp_warn(c->log, "skipping a damaged checkpoint: %s", e.msg);
        skipped++;
    }
    if (skipped) pp_warn(c->log, "no usable checkpoint in %s.ckpt: starting from step 0", c->out_path);
    return PP_OK;
}

static pp_status check_replicas(const trainer_config *c, const model *m, int64_t step, pp_err *err) {
    uint64_t h = model_params_hash(m), lo = h, hi = h;
    MPI_Allreduce(&h, &lo, 1, MPI_UINT64_T, MPI_MIN, c->comm);
    MPI_Allreduce(&h, &hi, 1, MPI_UINT64_T, MPI_MAX, c->comm);
    if (lo != hi) return pp_fail(err, PP_ESYS, "replicas diverged at step %lld (parameter checksums differ across ranks)", (long long)step);
    return PP_OK;
}

pp_status trainer_run(const trainer_config *c, model *m, trainer_grad_fn fn, void *ctx, pp_err *err) {
    int rank;
    MPI_Comm_rank(c->comm, &rank);
    if (c->n_metrics > TRAINER_MAX_METRICS) return pp_fail(err, PP_ESYS, "too many metrics");
    history h = {.n = c->n_metrics + 2};
    for (int j = 0; j < c->n_metrics; j++) h.names[j] = c->metric_names[j];
    h.names[c->n_metrics] = "grad_norm";
    h.names[c->n_metrics + 1] = "learning_rate";
    size_t cells = (size_t)(c->total_steps > 0 ? c->total_steps : 1) * (size_t)h.n;
    h.rows = calloc(cells, sizeof *h.rows);
    h.series = calloc(cells, sizeof *h.series);
    float *grads = NULL; /* allocated after resuming: a checkpoint's scratch copy and it are never held together */
    adamw opt = {0};
    shard_plan shard = {0};
    pp_node_shared params_node = {0}; /* the parameters, once per node (share_params) */
    pp_status st = (h.rows && h.series) ? PP_OK : pp_fail(err, PP_ESYS, "out of memory for training state");
    if (st == PP_OK) st = shard_plan_init(&shard, c->shard_optimizer, m->n_params, c->comm, err);
    if (st == PP_OK && shard.sharded)
        st = adamw_init_slice(&opt, &c->opt, &m->cfg, shard.first[shard.rank],
                              shard.first[shard.rank + 1] - shard.first[shard.rank], err);
    else if (st == PP_OK)
        st = adamw_init(&opt, &c->opt, &m->cfg, err);

    /* rank 0 holds the checkpoint directory for the whole run: one writer,
       only the same run key resumes, kill leftovers (*.tmp) removed */
    char dir[PP_PATH_MAX];
    snprintf(dir, sizeof dir, "%s.ckpt", c->out_path);
    pp_parts kit = {.lock = {.fd = -1}};
    if (st == PP_OK && rank == 0) st = pp_parts_open(&kit, dir, c->out_path, c->run_key, err);
    int64_t start = 0;
    st = pp_agree(c->comm, st, err);
    if (st == PP_OK) st = try_resume(c, m, &opt, &h, &start, err);
    st = pp_agree(c->comm, st, err);
    if (st == PP_OK && start > 0) pp_info(c->log, "resuming from %s/step-%09lld.h5", dir, (long long)start);
    if (st == PP_OK) {
        st = pp_agree(c->comm, share_params(&params_node, &shard, m, c->comm, err), err);
        grads = st == PP_OK ? malloc(m->n_params * sizeof *grads) : NULL;
        if (st == PP_OK)
            st = pp_agree(c->comm, grads ? PP_OK : pp_fail(err, PP_ESYS, "out of memory for %zu gradients", m->n_params), err);
    }

    pp_progress prog;
    pp_progress_start(&prog, c->log, c->kind, c->total_steps, start, "steps");
    double metrics[TRAINER_MAX_METRICS], summed[TRAINER_MAX_METRICS];
    int64_t step = start;
    int stopped = 0;
    for (; st == PP_OK && step < c->total_steps; step++) {
        memset(grads, 0, m->n_params * sizeof *grads);
        memset(metrics, 0, sizeof metrics);
        st = pp_agree(c->comm, fn(ctx, step, m, grads, metrics, err), err);
        if (st != PP_OK) break;
        double gnorm = exchange_gradients(&shard, grads, m->n_params, c->comm);
        MPI_Allreduce(metrics, summed, c->n_metrics, MPI_DOUBLE, MPI_SUM, c->comm);
        if (!isfinite(gnorm) || !isfinite(summed[0])) {
            st = pp_fail(err, PP_EINPUT, "non-finite %s at step %lld; stopped, the last checkpoint in %s is intact",
                         isfinite(summed[0]) ? "gradient" : "loss", (long long)step + 1, dir);
            break;
        }
        float lr = adamw_update(&opt, m->params, grads + opt.first, gnorm);
        if (params_node.have_win) pp_node_shared_sync(&params_node); /* every block written, for every rank */
        else if (shard.sharded) shard_allgather(&shard, m->params, c->comm);
        double *row = h.rows + step * h.n;
        memcpy(row, summed, (size_t)c->n_metrics * sizeof *row);
        row[c->n_metrics] = gnorm;
        row[c->n_metrics + 1] = lr;
        char extra[160];
        snprintf(extra, sizeof extra, "%s %.4f, grad_norm %.3g, lr %.3g", h.names[0], summed[0], gnorm, lr);
        if (c->log_every > 0 && (step + 1) % c->log_every == 0) {
            prog.t_last = 0; /* force a line */
        }
        pp_progress_update(&prog, step + 1, extra);
        pp_test_hook_sleep(PP_HOOK_STEP_DELAY); /* crash tests widen each step */
        int stop = pp_stop_agreed(c->comm);
        int due = c->checkpoint_every > 0 && (step + 1) % c->checkpoint_every == 0 && step + 1 < c->total_steps;
        if (stop || due) {
            st = check_replicas(c, m, step + 1, err);
            char p[PP_PATH_MAX];
            ckpt_path(c, step + 1, p, sizeof p);
            if (st == PP_OK) st = save_model(c, p, m, &opt, &h, step + 1, 1, err);
            if (st == PP_OK && rank == 0) remove_old_checkpoints(c, step + 1);
            MPI_Barrier(c->comm);
            if (stop) {
                stopped = 1;
                step++;
                break;
            }
        }
    }
    if (st == PP_OK && stopped) {
        pp_info(c->log, "stopped by a signal at step %lld; checkpoint saved, run the same command to resume", (long long)step);
        st = pp_fail(err, PP_EINTERRUPTED, "stopped by a signal after step %lld (state saved in %s)", (long long)step, dir);
    } else if (st == PP_OK) {
        pp_progress_finish(&prog, step, NULL);
        st = check_replicas(c, m, step, err);
        if (st == PP_OK) st = save_model(c, c->out_path, m, &opt, &h, step, 0, err);
        /* the run is complete: checkpoints are no longer needed */
        if (st == PP_OK && rank == 0) pp_parts_remove(&kit, c->log);
    }
    pp_parts_close(&kit); /* a stopped or failed run keeps its checkpoints */
    free(h.rows);
    free(h.series);
    free(grads);
    adamw_free(&opt);
    shard_plan_free(&shard);
    pp_status back = unshare_params(&params_node, m, err);
    if (st == PP_OK) st = back;
    return st;
}

pp_status trainer_memory_check(const trainer_cli *t, const model_config *cfg, int max_tokens, MPI_Comm comm,
                               pp_memory *mem, const pp_log *log, pp_err *err) {
    int size;
    MPI_Comm_size(comm, &size);
    double n = (double)model_param_count(cfg);
    int sharded = t->shard_optimizer && size > 1;
    double block = ceil(n / size), slice = sharded ? block : n;
    int on_node = pp_ranks_on_node(comm);
    int shared = sharded && on_node == size; /* share_params */
    pp_memory_part parts[] = {
        {shared ? "weights (1/ranks: node-shared)" : "weights", shared ? 4 * n / on_node : 4 * n},
        {"gradients", 4 * n},
        {sharded ? "AdamW moments (1/ranks)" : "AdamW moments", 8 * slice},
        {"exchange staging", size > 1 ? (double)size * fmin((double)SHARD_CHUNK, block) * 4 : 0},
        {t->recompute ? "activations (recompute)" : "activations", train_ws_bytes(cfg, max_tokens, t->recompute)},
        {"runtime", TRAINER_RUNTIME_BYTES},
    };
    return pp_memory_check(mem, t->max_memory, parts, (int)(sizeof parts / sizeof parts[0]), comm, log, err);
}

pp_status trainer_run_key(pp_runkey *k, const char *stage, const char *data_role, const char *data_path,
                          const char *model_role, const model *m, int64_t steps, const char *arguments, MPI_Comm comm,
                          pp_err *err) {
    char fp_data[17] = "", fp_model[17], name[64];
    PP_TRY(pp_file_fingerprint_agreed(data_path, comm, fp_data, err));
    model_fingerprint_hex(m, fp_model);
    pp_runkey_str(k, "stage", stage);
    snprintf(name, sizeof name, "%s_fingerprint", data_role);
    pp_runkey_str(k, name, fp_data);
    snprintf(name, sizeof name, "%s_fingerprint", model_role);
    pp_runkey_str(k, name, fp_model);
    pp_runkey_i64(k, "steps", steps);
    pp_runkey_str(k, "arguments", arguments);
    const char *text = pp_runkey_text(k);
    if (!text) return pp_fail(err, PP_ESYS, "out of memory for the run key");
    if (strlen(text) >= 8192)
        return pp_fail(err, PP_EINPUT, "the arguments are too long to make a resumable run key (%zu bytes, at most 8191)",
                       strlen(text));
    return PP_OK;
}

void trainer_cli_options(trainer_cli *t, pp_option *o) {
    o[0] = (pp_option){"lr", OPT_DOUBLE, &t->lr, "LR", "peak learning rate", NULL, 0, 0, 0};
    o[1] = (pp_option){"warmup", OPT_DOUBLE, &t->warmup, "N", "warmup steps", NULL, 0, 0, 1e12};
    o[2] = (pp_option){"schedule", OPT_CHOICE, &t->schedule, "S", "learning-rate decay after warmup", "cosine|linear|constant", 0, 0, 0};
    o[3] = (pp_option){"min-lr-ratio", OPT_DOUBLE, &t->min_lr_ratio, "R", "final lr as a fraction of --lr", NULL, 0, 0, 1};
    o[4] = (pp_option){"weight-decay", OPT_DOUBLE, &t->weight_decay, "W", "AdamW decoupled weight decay (matrices only)", NULL, 0, 0, 10};
    o[5] = (pp_option){"grad-clip", OPT_DOUBLE, &t->grad_clip, "C", "clip the global gradient norm (0: off)", NULL, 0, 0, 1e9};
    o[6] = (pp_option){"checkpoint-every", OPT_INT64, &t->checkpoint_every, "N",
                       "save a resumable checkpoint every N steps (0: only on a stop signal)", NULL, 0, 0, 1e12};
    o[7] = (pp_option){"keep-last", OPT_INT, &t->keep_last, "N", "checkpoints kept", NULL, 0, 1, 1000};
    o[8] = (pp_option){"log-every", OPT_INT, &t->log_every, "N", "progress line every N steps", NULL, 0, 1, 1e9};
    /* Ranges as torch.optim.AdamW checks them: 0 <= beta < 1, eps >= 0. */
    o[9] = (pp_option){"adam-beta1", OPT_DOUBLE, &t->adam_beta1, "B1", "AdamW decay rate of the first moment", NULL, 0, 0, 0.999999};
    o[10] = (pp_option){"adam-beta2", OPT_DOUBLE, &t->adam_beta2, "B2", "AdamW decay rate of the second moment", NULL, 0, 0, 0.999999};
    o[11] = (pp_option){"adam-eps", OPT_DOUBLE, &t->adam_eps, "E", "AdamW term added to the root of the second moment", NULL, 0, 0, 1};
    o[12] = (pp_option){"shard-optimizer", OPT_FLAG, &t->shard_optimizer, NULL,
                        "each rank keeps the AdamW moments of 1/ranks of the parameters (gradients reduce-scattered, "
                        "parameters all-gathered)", NULL, 0, 0, 0};
    o[13] = (pp_option){"recompute", OPT_FLAG, &t->recompute, NULL,
                        "keep one layer's activations, recompute each layer in backward (less memory, ~1/3 more compute)",
                        NULL, 0, 0, 0};
    o[14] = (pp_option){"max-memory", OPT_STRING, &t->max_memory, "SIZE",
                        "refuse to start when the estimated peak per rank exceeds SIZE (e.g. 20G; default: "
                        "MemAvailable / ranks on the node)", NULL, 0, 0, 0};
}

adamw_config trainer_cli_adamw(const trainer_cli *t, int64_t total_steps) {
    lr_schedule sch = !strcmp(t->schedule, "cosine") ? LR_COSINE : !strcmp(t->schedule, "linear") ? LR_LINEAR : LR_CONSTANT;
    return (adamw_config){.lr = (float)t->lr, .beta1 = (float)t->adam_beta1, .beta2 = (float)t->adam_beta2,
                          .eps = (float)t->adam_eps,
                          .weight_decay = (float)t->weight_decay, .grad_clip = (float)t->grad_clip,
                          .schedule = sch, .warmup_steps = (int64_t)t->warmup, .total_steps = total_steps,
                          .min_lr_ratio = (float)t->min_lr_ratio};
}
