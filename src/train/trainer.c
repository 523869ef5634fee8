/* trainer.c - data-parallel training loop with checkpoints and exact resume. */
#include "train/trainer.h"
#include "core/pp_testhook.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model_io.h"
#include "core/pp_mpi.h"
#include "core/pp_parts.h"

typedef struct {
    int n;                 /* metric columns: caller's + grad_norm + learning_rate */
    const char *names[TRAINER_MAX_METRICS + 2];
    double *rows;          /* [total_steps][n] */
    double *series;        /* [n][total_steps] transposed for writing */
} history;

static void ckpt_path(const trainer_config *c, int64_t step, char *buf, size_t cap) {
    snprintf(buf, cap, "%s.ckpt/step-%09lld.h5", c->out_path, (long long)step);
}

static pp_status save_model(const trainer_config *c, const char *path, model *m, const adamw *opt,
                            history *h, int64_t steps_done, int with_state, pp_err *err) {
    model_extra x = {.kind = c->kind, .run_key = with_state ? c->run_key : NULL, .step = steps_done};
    if (!with_state && c->final_fn) /* the final file: the caller's closing figures */
        PP_TRY(pp_agree(c->comm, c->final_fn(c->final_ctx, m, &x.n_attrs, x.attr_names, x.attr_values, err), err));
    if (with_state) {
        x.adam_m = opt->m;
        x.adam_v = opt->v;
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
 * weights (checked against their fingerprint by model_load), the moments
 * (finite, v >= 0) and the metric rows are read into scratch and only copied
 * over once all of it passed.  PP_EINPUT for a damaged file; *other_run is
 * set when the file is intact but belongs to another run. */
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
    model loaded;
    PP_TRY(model_load(path, &loaded, err));
    size_t n = m->n_params;
    float *mv = NULL;
    double *rows = NULL;
    if (loaded.n_params != n || memcmp(&loaded.cfg, &m->cfg, sizeof m->cfg) != 0)
        st = pp_fail(err, PP_EINPUT, "%s: checkpoint has another model shape", path);
    if (st == PP_OK) {
        mv = malloc(2 * n * sizeof *mv);
        rows = calloc((size_t)(s > 0 ? s : 1) * (size_t)h->n, sizeof *rows);
        if (!mv || !rows) st = pp_fail(err, PP_ESYS, "out of memory loading %s", path);
    }
    int64_t step = 0;
    if (st == PP_OK) st = model_load_train_state(path, m, mv, mv + n, &step, 0, NULL, NULL, err);
    if (st == PP_OK && (step != s || step > c->total_steps))
        st = pp_fail(err, PP_EINPUT, "%s: checkpoint step %lld does not match its name", path, (long long)step);
    for (size_t i = 0; st == PP_OK && i < n; i++)
        if (!isfinite(mv[i]) || !isfinite(mv[n + i]) || mv[n + i] < 0)
            st = pp_fail(err, PP_EINPUT, "%s: /train/adam_%s element %zu is %g", path, isfinite(mv[i]) ? "v" : "m", i,
                         isfinite(mv[i]) ? mv[n + i] : mv[i]);
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
    if (st == PP_OK) { /* all checked: take it */
        memcpy(m->params, loaded.params, n * sizeof(float));
        memcpy(opt->m, mv, n * sizeof *mv);
        memcpy(opt->v, mv + n, n * sizeof *mv);
        opt->step = step;
        memcpy(h->rows, rows, (size_t)step * (size_t)h->n * sizeof *rows);
    }
    model_free(&loaded);
    free(mv);
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
    float *grads = malloc(m->n_params * sizeof *grads);
    adamw opt = {0};
    pp_status st = (h.rows && h.series && grads) ? PP_OK : pp_fail(err, PP_ESYS, "out of memory for training state");
    if (st == PP_OK) st = adamw_init(&opt, &c->opt, &m->cfg, err);

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
        MPI_Allreduce(MPI_IN_PLACE, grads, (int)m->n_params, MPI_FLOAT, MPI_SUM, c->comm);
        MPI_Allreduce(metrics, summed, c->n_metrics, MPI_DOUBLE, MPI_SUM, c->comm);
        double gnorm = grad_global_norm(grads, m->n_params);
        if (!isfinite(gnorm) || !isfinite(summed[0])) {
            st = pp_fail(err, PP_EINPUT, "non-finite %s at step %lld; stopped, the last checkpoint in %s is intact",
                         isfinite(summed[0]) ? "gradient" : "loss", (long long)step + 1, dir);
            break;
        }
        float lr = adamw_step(&opt, m->params, grads, NULL);
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
    return st;
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
}

adamw_config trainer_cli_adamw(const trainer_cli *t, int64_t total_steps) {
    lr_schedule sch = !strcmp(t->schedule, "cosine") ? LR_COSINE : !strcmp(t->schedule, "linear") ? LR_LINEAR : LR_CONSTANT;
    return (adamw_config){.lr = (float)t->lr, .beta1 = (float)t->adam_beta1, .beta2 = (float)t->adam_beta2,
                          .eps = (float)t->adam_eps,
                          .weight_decay = (float)t->weight_decay, .grad_clip = (float)t->grad_clip,
                          .schedule = sch, .warmup_steps = (int64_t)t->warmup, .total_steps = total_steps,
                          .min_lr_ratio = (float)t->min_lr_ratio};
}
