/* rank_pool.c - pairwise ranking as one work pool over the ranks (rank.h):
 * the judge every rank starts, the pool of ready calls on rank 0 fed from
 * the tournaments, the workers' loop, and rank 0's loop that keeps their
 * queues full, judges in between, and journals every verdict.
 *
 * Reading order: the messages, the judge on any rank, the pool and how a
 * verdict is taken in, a worker's loop, the coordinator's loop, and the run
 * that puts them together. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/pp_mpi.h"
#include "rank/rank_engine.h"
#include "suite/tasks.h"

enum { TAG_WORK = 1, TAG_VERDICT = 2, TAG_STOP = 3, TAG_BYE = 4 };

#define MATCH_ID_STRIDE 65536 /* > matches of any tournament (K <= 256) */

/* Sleep a little while nothing happens, longer the longer it lasts: MPI's
 * blocking calls would spin and take the CPU from the judge processes. */
static void idle_wait(double *backoff_s) {
    struct timespec ts = {0, (long)(*backoff_s * 1e9)};
    nanosleep(&ts, NULL);
    *backoff_s = *backoff_s * 2 > 1e-3 ? 1e-3 : *backoff_s * 2;
}
#define IDLE_START 20e-6

/* A send slot whose previous send is complete (waits only if none is). */
static int free_slot(MPI_Request *req, int n) {
    for (int i = 0; i < n; i++) {
        int done = 1;
        if (req[i] != MPI_REQUEST_NULL) MPI_Test(&req[i], &done, MPI_STATUS_IGNORE);
        if (done) return i;
    }
    int i;
    MPI_Waitany(n, req, &i, MPI_STATUS_IGNORE);
    return i;
}

/* ============================================================ the judge */

/* Who asks the judge whether to stop (judge_config.stop_ctx). */
typedef struct {
    int rank;
    MPI_Comm comm;
} stop_probe;

/* The judge's stop test: a signal here, or, on a worker, rank 0 has said
 * stop (it may have seen the signal alone, or failed); the TAG_STOP
 * message stays queued for work() to receive. */
static int judge_should_stop(void *ctx) {
    const stop_probe *s = ctx;
    if (pp_stop_requested()) return 1;
    int flag = 0;
    if (s->rank != 0) MPI_Iprobe(0, TAG_STOP, s->comm, &flag, MPI_STATUS_IGNORE);
    return flag;
}

/* Start this rank's judge; one that needs the task checks every prompt
 * has one before any call. */
static pp_status open_judge(judge_handle *j, const rank_options *o, const candidate_set *c, stop_probe *probe, pp_err *err) {
    judge_config cfg = {.cli = &o->j, .stop_requested = judge_should_stop, .stop_ctx = probe};
    PP_TRY(judge_start(j, o->judge, &cfg, err));
    for (int64_t p = 0; j->ops->needs_task && p < c->n_prompts; p++) {
        const char *f = c->family ? c->family[p] : NULL;
        const char *r = c->reference ? c->reference[p] : NULL;
        if (!f || !*f || !r)
            return pp_fail(err, PP_EINPUT,
                           "--judge %s needs the task family and reference of every prompt (builtin suite); "
                           "prompt row %lld (id %lld) has none: use --judge cmd",
                           o->judge, (long long)p, (long long)c->prompt_id[p]);
        task_family fam;
        if (tasks_family_from_name(f, &fam, err) != PP_OK)
            return pp_wrap(err, "prompt row %lld (id %lld)", (long long)p, (long long)c->prompt_id[p]);
    }
    return PP_OK;
}

static void set_error(verdict_msg *v, const char *text) {
    snprintf(v->error, sizeof v->error, "%.*s", (int)sizeof v->error - 1, text ? text : "");
}

/* Judge n calls in one judge_matches call (a judge that batches takes
 * them together), on whatever rank this is.  Never fails: a judge that
 * cannot go on sets v->fatal and the message (on every call of the batch);
 * a stop sets v->stopped.  The fault counters of the batch are charged to
 * its first call, so the sums stay right. */
#define JUDGE_BATCH_MAX 64
static void judge_calls(judge_handle *j, int orders, const char *id_prefix, int rank, const candidate_set *c,
                        const call_item *calls, int n, verdict_msg *v) {
    char ids[JUDGE_BATCH_MAX][96];
    judge_match m[JUDGE_BATCH_MAX];
    judge_verdict jv[JUDGE_BATCH_MAX];
    const int64_t k = c->k;
    for (int i = 0; i < n; i++) {
        const call_item *call = &calls[i];
        const int64_t p = call->prompt;
        const int order = call->call % orders, match = call->call / orders;
        memset(&v[i], 0, sizeof v[i]);
        v[i].prompt = call->prompt;
        v[i].call = call->call;
        v[i].first = call->first;
        v[i].second = call->second;
        v[i].rank = rank;
        v[i].probs[0] = v[i].probs[1] = NAN;
        snprintf(ids[i], sizeof ids[i], "%s%lld-%d", id_prefix, (long long)c->prompt_id[p], call->call);
        m[i] = (judge_match){ids[i],
                             c->prompt_text[p],
                             c->candidate_text[p * k + call->first],
                             c->candidate_text[p * k + call->second],
                             c->family ? c->family[p] : NULL,
                             c->reference ? c->reference[p] : NULL,
                             (uint64_t)c->prompt_id[p] * MATCH_ID_STRIDE + (uint64_t)match,
                             (uint64_t)order,
                             v[i].probs};
        jv[i] = JUDGE_FAILED;
    }
    judge_counters before, after;
    judge_get_counters(j, &before);
    pp_err e = {0};
    double t0 = pp_now();
    pp_status st = judge_matches(j, m, n, jv, &e);
    double dt = pp_now() - t0;
    judge_get_counters(j, &after);
    v[0].attempts = (int32_t)(after.attempts - before.attempts);
    v[0].timeouts = (int32_t)(after.timeouts - before.timeouts);
    v[0].crashes = (int32_t)(after.crashes - before.crashes);
    v[0].bad_answers = (int32_t)(after.bad_answers - before.bad_answers);
    v[0].restarts = (int32_t)(after.restarts - before.restarts);
    for (int i = 0; i < n; i++) {
        v[i].seconds = dt / n;
        v[i].verdict = jv[i];
        if (st == PP_EINTERRUPTED) {
            v[i].stopped = 1;
        } else if (st != PP_OK) {
            v[i].fatal = 1;
            set_error(&v[i], e.msg);
        } else if (v[i].verdict == JUDGE_FAILED) {
            set_error(&v[i], judge_last_problem(j));
        }
    }
}

/* ============================================================= the pool */

typedef struct {
    const rank_options *opt;
    const candidate_set *c;
    const pp_log *log;
    MPI_Comm comm; /* a private duplicate: our messages meet no one else's */
    int rank, size;
    judge_handle judge;
    stop_probe probe;
    int depth;  /* calls queued at a worker: --queue-depth, raised to hold two batches */
    int batch;  /* calls handed to the judge at once (judge_batch, 1 for most judges) */

    /* rank 0 only */
    tourn **t;
    int64_t n_prompts;
    call_item *pool; /* FIFO of ready calls; every call enters it at most once */
    int64_t pool_head, pool_tail, total;
    verdict_log *log_v; /* every verdict, in arrival order (journal first) */
    int64_t n_log, answered, replayed;
    int *outstanding;   /* per worker: calls sent, verdict not back yet */
    int *said_bye;
    int *batch_count;   /* feed_workers' per-worker counts and slots [2 * size] */
    rank_journal jr;
    pp_progress progress;
    /* messages go out with MPI_Isend: a blocking send could wait for the
     * receiver to finish a judge call first (rendezvous) */
    call_item *batch_items; /* rank 0: [size][depth slots][depth calls] */
    MPI_Request *batch_req; /* rank 0: [size][depth slots] */
    call_item *queue;       /* worker: ring of depth calls */
    verdict_msg *out;       /* worker: [depth + 1][batch] verdicts being sent */
    verdict_msg *mine_out;  /* rank 0: [batch] verdicts of its own calls */
    MPI_Request *out_req;
} engine;

static void engine_judge_calls(engine *e, const call_item *calls, int n, verdict_msg *v) {
    judge_calls(&e->judge, e->opt->both_orders ? 2 : 1, e->opt->j.id_prefix ? e->opt->j.id_prefix : "", e->rank, e->c,
                calls, n, v);
}

static pp_status refill_pool(engine *e, int64_t p, pp_err *err) {
    tourn_call calls[64];
    int n;
    while ((n = tourn_take_ready(e->t[p], calls, 64)) > 0) {
        if (e->pool_tail + n > e->total)
            return pp_fail(err, PP_ESYS, "internal: the call pool overflows (%lld calls)", (long long)e->total);
        for (int i = 0; i < n; i++)
            e->pool[e->pool_tail++] = (call_item){(int32_t)p, calls[i].id, calls[i].first, calls[i].second};
    }
    return PP_OK;
}

static int pool_pop(engine *e, call_item *out) {
    if (e->pool_head == e->pool_tail) return 0;
    *out = e->pool[e->pool_head++];
    return 1;
}

/* Take a verdict into the state: tournament, match log, journal (unless it
 * comes from the journal), progress. */
static pp_status accept_verdict(engine *e, const verdict_msg *v, int from_journal, pp_err *err) {
    if (v->prompt < 0 || v->prompt >= e->n_prompts || v->verdict < 0 || v->verdict > JUDGE_FAILED)
        return pp_fail(err, PP_EINPUT, "verdict for prompt row %d, verdict %d is out of range", v->prompt, v->verdict);
    PP_TRY(tourn_submit(e->t[v->prompt], v->call, v->first, v->second, (judge_verdict)v->verdict, err));
    if (!from_journal) PP_TRY(journal_append(&e->jr, v, err));
    verdict_log *l = &e->log_v[e->n_log++];
    *l = (verdict_log){v->prompt, v->call, v->first, v->second, v->verdict, v->attempts, v->timeouts,
                       v->crashes, v->bad_answers, v->restarts, v->rank, v->seconds, {v->probs[0], v->probs[1]}, NULL};
    if (v->error[0] && v->verdict == JUDGE_FAILED) l->error = strdup(v->error);
    e->answered++;
    /* while replaying, nothing is taken: calls the journal answers later
     * must not enter the pool; coordinator_setup fills it afterwards */
    if (from_journal) {
        e->replayed++;
        return PP_OK;
    }
    pp_progress_update(&e->progress, e->answered, NULL);
    return refill_pool(e, v->prompt, err);
}

/* The journal's records, in log order (journal_open). */
static pp_status replay_verdict(void *ctx, const verdict_msg *v, pp_err *err) { return accept_verdict(ctx, v, 1, err); }

/* ============================================================ a worker */

/* Every other rank: judge what rank 0 sends until it says stop. */
static void work(engine *e) {
    int depth = e->depth, head = 0, n = 0, stop = 0, broken = 0;
    call_item calls[JUDGE_BATCH_MAX];
    call_item *queue = e->queue;
    double backoff = IDLE_START;
    while (!stop) {
        int flag = 1, got = 0;
        while (flag && !stop) {
            MPI_Status s;
            MPI_Iprobe(0, MPI_ANY_TAG, e->comm, &flag, &s);
            if (!flag) break;
            got = 1;
            if (s.MPI_TAG == TAG_STOP) {
                MPI_Recv(NULL, 0, MPI_BYTE, 0, TAG_STOP, e->comm, MPI_STATUS_IGNORE);
                stop = 1;
                break;
            }
            call_item in[64];
            int cnt;
            MPI_Get_count(&s, MPI_INT32_T, &cnt);
            MPI_Recv(in, 4 * 64, MPI_INT32_T, 0, TAG_WORK, e->comm, MPI_STATUS_IGNORE);
            for (int i = 0; i < cnt / 4 && n < depth; i++) queue[(head + n++) % depth] = in[i];
        }
        if (stop) break;
        if (n > 0 && !broken) {
            int nb = n < e->batch ? n : e->batch;
            for (int i = 0; i < nb; i++) calls[i] = queue[(head + i) % depth];
            head = (head + nb) % depth;
            n -= nb;
            int o = free_slot(e->out_req, depth + 1);
            verdict_msg *v = &e->out[(size_t)o * e->batch];
            engine_judge_calls(e, calls, nb, v);
            MPI_Isend(v, (int)(nb * sizeof *v), MPI_BYTE, 0, TAG_VERDICT, e->comm, &e->out_req[o]);
            if (v->fatal) broken = 1; /* rank 0 will stop everyone */
            backoff = IDLE_START;
        } else if (got) {
            backoff = IDLE_START;
        } else {
            idle_wait(&backoff);
        }
    }
    MPI_Waitall(depth + 1, e->out_req, MPI_STATUSES_IGNORE);
    MPI_Send(NULL, 0, MPI_BYTE, 0, TAG_BYE, e->comm);
}

/* ======================================================= the coordinator */

/* Top every worker's queue up to `level` calls, one call per worker per
 * pass so scarce work is spread evenly. */
static void feed_workers(engine *e, int level) {
    const int depth = e->depth;
    if (e->size == 1 || e->pool_head == e->pool_tail) return;
    /* a worker has fewer than depth calls outstanding, so fewer than depth
     * batches in flight: one of its depth slots is free */
    int *count = e->batch_count, *slot = e->batch_count + e->size;
    for (int w = 1; w < e->size; w++) {
        count[w] = 0;
        slot[w] = e->outstanding[w] < level ? free_slot(&e->batch_req[w * depth], depth) : -1;
    }
    for (int lvl = 1; lvl <= level; lvl++)
        for (int w = 1; w < e->size; w++)
            if (e->outstanding[w] + count[w] < lvl && e->pool_head < e->pool_tail)
                e->batch_items[(w * depth + slot[w]) * depth + count[w]++] = e->pool[e->pool_head++];
    for (int w = 1; w < e->size; w++)
        if (count[w] > 0) {
            MPI_Isend(&e->batch_items[(w * depth + slot[w]) * depth], 4 * count[w], MPI_INT32_T, w, TAG_WORK, e->comm,
                      &e->batch_req[w * depth + slot[w]]);
            e->outstanding[w] += count[w];
        }
}

/* Handle every message waiting; returns how many there were.  A worker's
 * fatal verdict becomes *fatal (first one wins). */
static int poll_workers(engine *e, pp_status *st, pp_err *err) {
    int got = 0, flag = 1;
    while (flag) {
        MPI_Status s;
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, e->comm, &flag, &s);
        if (!flag) break;
        got++;
        if (s.MPI_TAG == TAG_BYE) {
            MPI_Recv(NULL, 0, MPI_BYTE, s.MPI_SOURCE, TAG_BYE, e->comm, MPI_STATUS_IGNORE);
            e->said_bye[s.MPI_SOURCE] = 1;
            continue;
        }
        verdict_msg vs[JUDGE_BATCH_MAX]; /* a worker's batch comes as one message */
        int bytes;
        MPI_Get_count(&s, MPI_BYTE, &bytes);
        MPI_Recv(vs, (int)sizeof vs, MPI_BYTE, s.MPI_SOURCE, TAG_VERDICT, e->comm, MPI_STATUS_IGNORE);
        int nv = bytes / (int)sizeof vs[0];
        e->outstanding[s.MPI_SOURCE] -= nv;
        for (int i = 0; i < nv; i++) {
            const verdict_msg *v = &vs[i];
            if (v->stopped) continue; /* judged again on resume */
            if (v->fatal) {
                if (*st == PP_OK) *st = pp_fail(err, PP_ESYS, "judge on rank %d: %s", s.MPI_SOURCE, v->error);
                continue;
            }
            pp_err e2;
            pp_status a = accept_verdict(e, v, 0, *st == PP_OK ? err : &e2);
            if (a != PP_OK && *st == PP_OK) *st = a;
        }
    }
    return got;
}

/* Rank 0: run the pool until every call is answered, a stop signal
 * arrives, or something fails; then stop the workers and collect what they
 * still send. */
static pp_status coordinate(engine *e, pp_err *err) {
    pp_status st = PP_OK;
    double backoff = IDLE_START;
    while (st == PP_OK && e->answered < e->total) {
        if (pp_stop_requested()) {
            st = pp_fail(err, PP_EINTERRUPTED,
                         "stopped by a signal after %lld of %lld judge calls; they are kept in %s: run the same "
                         "command again to resume",
                         (long long)e->answered, (long long)e->total, e->jr.path);
            break;
        }
        int got = poll_workers(e, &st, err);
        if (st != PP_OK) break;
        feed_workers(e, 1);
        call_item mine[JUDGE_BATCH_MAX];
        int have = 0;
        while (have < e->batch && pool_pop(e, &mine[have])) have++;
        feed_workers(e, e->depth);
        if (have) {
            verdict_msg *v = e->mine_out;
            engine_judge_calls(e, mine, have, v);
            for (int i = 0; i < have && st == PP_OK; i++) {
                if (v[i].stopped) continue; /* the loop's stop test says so */
                if (v[i].fatal) st = pp_fail(err, PP_ESYS, "judge on rank 0: %s", v[i].error);
                else st = accept_verdict(e, &v[i], 0, err);
            }
            backoff = IDLE_START;
        } else if (got) {
            backoff = IDLE_START;
        } else {
            int busy = 0;
            for (int w = 1; w < e->size; w++) busy += e->outstanding[w];
            if (busy == 0 && e->pool_head == e->pool_tail)
                st = pp_fail(err, PP_ESYS, "internal: ranking stalled with %lld of %lld calls answered",
                             (long long)e->answered, (long long)e->total);
            else idle_wait(&backoff);
        }
    }
    /* stop the workers; verdicts still in flight are kept (journal too) */
    for (int w = 1; w < e->size; w++) MPI_Send(NULL, 0, MPI_BYTE, w, TAG_STOP, e->comm);
    pp_status late = PP_OK;
    pp_err late_err = {0};
    for (;;) {
        int all = 1;
        for (int w = 1; w < e->size; w++) all &= e->said_bye[w];
        if (all) break;
        if (poll_workers(e, &late, &late_err) == 0) idle_wait(&backoff);
    }
    if (st == PP_OK && late != PP_OK) {
        st = late;
        *err = late_err;
    }
    MPI_Waitall(e->size * e->depth, e->batch_req, MPI_STATUSES_IGNORE);
    return st;
}

/* ============================================================== the run */

static void engine_free(engine *e) {
    for (int64_t p = 0; e->t && p < e->n_prompts; p++) tourn_free(e->t[p]);
    free(e->t);
    free(e->pool);
    for (int64_t i = 0; e->log_v && i < e->n_log; i++) free(e->log_v[i].error);
    free(e->log_v);
    free(e->outstanding);
    free(e->said_bye);
    free(e->batch_count);
    free(e->batch_items);
    free(e->batch_req);
    free(e->queue);
    free(e->out);
    free(e->mine_out);
    free(e->out_req);
    judge_stop(&e->judge);
    if (e->rank == 0) journal_close(&e->jr);
    /* still ours after a failure or a stop: keep what the journal holds for
     * the rerun; a journal without a verdict holds nothing to lose, so it
     * goes (the rerun may then change its options) */
    if (e->jr.parts.lock.fd >= 0) {
        if (e->answered == 0) pp_parts_remove(&e->jr.parts, e->log);
        else pp_parts_close(&e->jr.parts);
    }
    if (e->comm != MPI_COMM_NULL) MPI_Comm_free(&e->comm);
}

/* Rank 0's part of the setup: tournaments, pool, journal replay. */
static pp_status coordinator_setup(engine *e, pp_err *err) {
    const rank_options *o = e->opt;
    const int k = (int)e->c->k;
    e->n_prompts = e->c->n_prompts;
    e->total = e->n_prompts * tourn_calls_total(o->method, k, o->both_orders);
    e->t = calloc((size_t)(e->n_prompts > 0 ? e->n_prompts : 1), sizeof *e->t);
    e->pool = malloc((size_t)(e->total > 0 ? e->total : 1) * sizeof *e->pool);
    e->log_v = malloc((size_t)(e->total > 0 ? e->total : 1) * sizeof *e->log_v);
    if (!e->t || !e->pool || !e->log_v)
        return pp_fail(err, PP_ESYS, "out of memory for %lld judge calls", (long long)e->total);
    for (int64_t p = 0; p < e->n_prompts; p++) PP_TRY(tourn_create(o->method, k, o->both_orders, &e->t[p], err));
    PP_TRY(journal_open(&e->jr, o, e->c, e->log, replay_verdict, e, err));
    /* the journal's calls are answered; everything else ready goes in the pool */
    for (int64_t p = 0; p < e->n_prompts; p++) PP_TRY(refill_pool(e, p, err));
    return PP_OK;
}

static int cmp_log(const void *x, const void *y) {
    const verdict_log *a = *(const verdict_log *const *)x, *b = *(const verdict_log *const *)y;
    if (a->prompt != b->prompt) return a->prompt < b->prompt ? -1 : 1;
    return (a->call > b->call) - (a->call < b->call);
}

pp_status rank_pairwise(const rank_options *o, const candidate_set *c, const pp_log *log, MPI_Comm comm,
                        pairs_set *out, rank_report *rep, pp_err *err) {
    engine e;
    memset(&e, 0, sizeof e);
    e.opt = o;
    e.c = c;
    e.log = log;
    e.jr.fd = -1;
    e.jr.parts.lock.fd = -1;
    MPI_Comm_dup(comm, &e.comm);
    MPI_Comm_rank(e.comm, &e.rank);
    MPI_Comm_size(e.comm, &e.size);
    pp_status st = PP_OK;
    if (c->k > TOURN_MAX_K) st = pp_fail(err, PP_EINPUT, "k = %lld candidates per prompt: pairwise methods take at most %d",
                                         (long long)c->k, TOURN_MAX_K);
    if (st == PP_OK && c->n_prompts > INT32_MAX)
        st = pp_fail(err, PP_EINPUT, "%lld prompts: at most %d", (long long)c->n_prompts, INT32_MAX);
    if (st == PP_OK && (o->queue_depth < 1 || o->queue_depth > 64))
        st = pp_fail(err, PP_EINPUT, "--queue-depth must be 1..64, got %d", o->queue_depth);
    /* every rank starts its judge (a judge that cannot start stops all),
     * before the journal is touched */
    st = pp_agree(e.comm, st, err);
    e.probe = (stop_probe){e.rank, e.comm};
    if (st == PP_OK) st = pp_agree(e.comm, open_judge(&e.judge, o, c, &e.probe, err), err);
    if (st == PP_OK) {
        /* a judge that batches gets up to its batch at once, and a worker's
         * queue holds two batches so the next one is there when it is done */
        e.batch = judge_batch(&e.judge) < JUDGE_BATCH_MAX ? judge_batch(&e.judge) : JUDGE_BATCH_MAX;
        e.depth = o->queue_depth;
        if (e.batch > 1 && e.depth < 2 * e.batch) e.depth = 2 * e.batch < 64 ? 2 * e.batch : 64;
        e.outstanding = calloc((size_t)e.size, sizeof(int));
        e.said_bye = calloc((size_t)e.size, sizeof(int));
        size_t n = (size_t)e.size, d = (size_t)e.depth, b = (size_t)e.batch;
        e.batch_count = calloc(2 * n, sizeof(int)); /* counts, then slots */
        e.batch_req = malloc(n * d * sizeof *e.batch_req);
        e.queue = malloc(d * sizeof *e.queue);
        e.out = malloc((d + 1) * b * sizeof *e.out);
        e.mine_out = malloc(b * sizeof *e.mine_out);
        e.out_req = malloc((d + 1) * sizeof *e.out_req);
        e.batch_items = malloc(n * d * d * sizeof *e.batch_items);
        if (!e.outstanding || !e.said_bye || !e.batch_count || !e.batch_items || !e.batch_req || !e.queue || !e.out ||
            !e.mine_out || !e.out_req)
            st = pp_fail(err, PP_ESYS, "out of memory");
        for (size_t i = 0; st == PP_OK && i < n * d; i++) e.batch_req[i] = MPI_REQUEST_NULL;
        for (size_t i = 0; st == PP_OK && i <= d; i++) e.out_req[i] = MPI_REQUEST_NULL;
    }
    st = pp_agree(e.comm, st, err);
    if (st == PP_OK && e.rank == 0) st = coordinator_setup(&e, err);
    st = pp_agree(e.comm, st, err);
    double t0 = pp_now();
    if (st == PP_OK) {
        if (e.rank == 0) {
            if (e.replayed > 0)
                pp_info(log, "resuming: %lld of %lld judge calls replayed from %s", (long long)e.replayed,
                        (long long)e.total, e.jr.path);
            pp_progress_start(&e.progress, log, "judge calls", e.total, e.answered, "calls");
            st = coordinate(&e, err);
            if (st == PP_OK) pp_progress_finish(&e.progress, e.answered, NULL);
        } else {
            work(&e);
        }
    }
    st = pp_agree(e.comm, st, err);
    if (st == PP_OK && e.rank == 0) {
        journal_close(&e.jr);
        rank_results r = {0};
        st = results_from_tournaments(o, e.t, e.n_prompts, (int)c->k, &r, err);
        verdict_log **sorted = NULL;
        if (st == PP_OK) {
            sorted = malloc((size_t)(e.n_log > 0 ? e.n_log : 1) * sizeof *sorted);
            if (!sorted) st = pp_fail(err, PP_ESYS, "out of memory");
            for (int64_t i = 0; st == PP_OK && i < e.n_log; i++) sorted[i] = &e.log_v[i];
            if (st == PP_OK) qsort(sorted, (size_t)e.n_log, sizeof *sorted, cmp_log);
        }
        if (st == PP_OK) st = build_pairs(o, &e.judge, c, &r, sorted, e.n_log, out, err);
        /* the arrival order of each logged call */
        for (int64_t i = 0; st == PP_OK && i < e.n_log; i++) out->matches[i].sequence = sorted[i] - e.log_v;
        free(sorted);
        results_free(&r);
        rep->calls_total = e.total;
        rep->calls_replayed = e.replayed;
        rep->calls_judged = e.answered - e.replayed;
    }
    if (st == PP_OK && e.rank == 0) { /* the parts stay locked until the output is committed */
        rep->parts = e.jr.parts;
        e.jr.parts.lock.fd = -1;
    }
    rep->seconds = pp_now() - t0;
    engine_free(&e);
    return pp_agree(comm, st, err);
}
