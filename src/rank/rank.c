/* rank.c - the ranking engine of pp-rank (rank.h, docs/ranking.md).
 *
 * Reading order: the judges (one call on any rank), the resume journal,
 * the coordinator (rank 0) and worker loops, the pointwise `score` method,
 * and finally building the pairs set from the rankings. */
#include "rank/rank.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "judge/judge_cmd.h"
#include "judge/judge_oracle.h"
#include "io/pp_h5.h"
#include "core/pp_rng.h"
#include "core/pp_mpi.h"
#include "core/pp_parts.h"
#include "model/model_io.h"
#include "rm/reward_model.h"
#include "suite/tasks.h"

enum { TAG_WORK = 1, TAG_VERDICT = 2, TAG_STOP = 3, TAG_BYE = 4 };

#define ERROR_TEXT 512
#define MATCH_ID_STRIDE 65536     /* > matches of any tournament (K <= 256) */
#define SCORE_STREAM 0x5C0E0000u  /* pp_rng id2 of the pointwise oracle's noise */
#define JOURNAL_NAME "journal.bin"
#define JOURNAL_MAGIC "PPRANKJ1"
#define RECORD_MAGIC 0x314A5250u  /* "PRJ1" */
#define JOURNAL_SYNC_S 5.0        /* fdatasync at most this often */

void rank_options_default(rank_options *o) {
    memset(o, 0, sizeof *o);
    o->method = TOURN_ITERATIVE;
    o->judge = RANK_JUDGE_ORACLE;
    o->rejected.kind = TOURN_REJECT_WORST;
    o->rejected.q = 1.0;
    snprintf(o->rejected_text, sizeof o->rejected_text, "worst");
    o->close_threshold = ORACLE_DEFAULT_CLOSE;
    o->seed = 1;
    judge_cmd_options_default(&o->cmd_opts);
    o->id_prefix = "";
    o->queue_depth = 3;
}

/* One call handed to a judge: candidates `first` and `second` of prompt
 * row `prompt`, call id `call` of that prompt's tournament. */
typedef struct {
    int32_t prompt, call, first, second;
} call_item;

/* A verdict as it travels to rank 0 and into the journal. */
typedef struct {
    int32_t prompt, call, first, second, verdict;
    int32_t attempts, timeouts, crashes, bad_answers, restarts, rank;
    int32_t fatal; /* the judge is broken: error holds the message, stop the run */
    int32_t stopped; /* a stop cut the call short: no verdict, not journaled */
    double seconds;
    char error[ERROR_TEXT];
} verdict_msg;

/* A verdict as rank 0 keeps it for the match log. */
typedef struct {
    int32_t prompt, call, first, second, verdict;
    int32_t attempts, timeouts, crashes, bad_answers, restarts, rank;
    double seconds;
    char *error; /* NULL unless the call failed */
} verdict_log;

static double elapsed_since(double t0) { return pp_now() - t0; }

/* Sleep a little while nothing happens, longer the longer it lasts: MPI's
 * blocking calls would spin and take the CPU from the judge processes. */
static void idle_wait(double *backoff_s) {
    struct timespec ts = {0, (long)(*backoff_s * 1e9)};
    nanosleep(&ts, NULL);
    *backoff_s = *backoff_s * 2 > 1e-3 ? 1e-3 : *backoff_s * 2;
}
#define IDLE_START 20e-6

/* ================================================================ judges */

typedef struct {
    rank_judge_kind kind;
    oracle_judge oracle;
    task_family *family; /* per prompt row (oracle) */
    judge_cmd *cmd;
    const char *id_prefix;
    int orders;
    int rank;
    MPI_Comm comm;
} judge_state;

/* The judge's stop test: a signal here, or, on a worker, rank 0 has said
 * stop (it may have seen the signal alone, or failed); the TAG_STOP
 * message stays queued for work() to receive. */
static int judge_should_stop(void *ctx) {
    const judge_state *j = ctx;
    if (pp_stop_requested()) return 1;
    int flag = 0;
    if (j->rank != 0) MPI_Iprobe(0, TAG_STOP, j->comm, &flag, MPI_STATUS_IGNORE);
    return flag;
}

static pp_status judge_open(judge_state *j, const rank_options *o, const candidate_set *c, int rank, MPI_Comm comm,
                            pp_err *err) {
    memset(j, 0, sizeof *j);
    j->comm = comm;
    j->kind = o->judge;
    j->orders = o->both_orders ? 2 : 1;
    j->rank = rank;
    j->id_prefix = o->id_prefix ? o->id_prefix : "";
    if (o->judge == RANK_JUDGE_ORACLE) {
        PP_TRY(oracle_judge_init(&j->oracle, o->noise, o->position_bias, o->close_threshold, o->seed, err));
        j->family = malloc((size_t)(c->n_prompts > 0 ? c->n_prompts : 1) * sizeof *j->family);
        if (!j->family) return pp_fail(err, PP_ESYS, "out of memory");
        for (int64_t p = 0; p < c->n_prompts; p++) {
            const char *f = c->family ? c->family[p] : NULL;
            const char *r = c->reference ? c->reference[p] : NULL;
            if (!f || !*f || !r)
                return pp_fail(err, PP_EINPUT,
                               "--judge oracle needs the task family and reference of every prompt (builtin suite); "
                               "prompt row %lld (id %lld) has none: use --judge cmd",
                               (long long)p, (long long)c->prompt_id[p]);
            pp_status st = tasks_family_from_name(f, &j->family[p], err);
            if (st != PP_OK)
                return pp_wrap(err, "prompt row %lld (id %lld)", (long long)p, (long long)c->prompt_id[p]);
        }
        return PP_OK;
    }
    judge_cmd_options jo = o->cmd_opts;
    jo.stop_requested = judge_should_stop;
    jo.stop_ctx = j;
    return judge_cmd_open(&j->cmd, o->judge_cmd, &jo, err);
}

static void judge_close(judge_state *j) {
    judge_cmd_close(j->cmd);
    free(j->family);
    memset(j, 0, sizeof *j);
}

static void set_error(verdict_msg *v, const char *text) {
    snprintf(v->error, sizeof v->error, "%.*s", (int)sizeof v->error - 1, text ? text : "");
}

/* Judge one call, on whatever rank this is.  Never fails: a judge that
 * cannot go on sets v->fatal and the message. */
static void judge_call(judge_state *j, const candidate_set *c, const call_item *call, verdict_msg *v) {
    memset(v, 0, sizeof *v);
    v->prompt = call->prompt;
    v->call = call->call;
    v->first = call->first;
    v->second = call->second;
    v->rank = j->rank;
    v->attempts = 1;
    const int64_t p = call->prompt, k = c->k;
    const char *a = c->candidate_text[p * k + call->first];
    const char *b = c->candidate_text[p * k + call->second];
    const int order = call->call % j->orders, match = call->call / j->orders;
    double t0 = pp_now();
    if (j->kind == RANK_JUDGE_ORACLE) {
        uint64_t match_id = (uint64_t)c->prompt_id[p] * MATCH_ID_STRIDE + (uint64_t)match;
        oracle_result r = oracle_judge_match(&j->oracle, j->family[p], c->prompt_text[p], c->reference[p], a, b,
                                             match_id, (uint64_t)order);
        v->verdict = r.verdict == ORACLE_FIRST ? TOURN_FIRST : r.verdict == ORACLE_SECOND ? TOURN_SECOND : TOURN_TIE;
        v->seconds = elapsed_since(t0);
        return;
    }
    char id[96];
    snprintf(id, sizeof id, "%s%lld-%d", j->id_prefix, (long long)c->prompt_id[p], call->call);
    judge_cmd_counters before, after;
    judge_cmd_stats(j->cmd, &before);
    judge_verdict jv = JUDGE_FAILED;
    double secs = 0;
    pp_err e = {0};
    pp_status st = judge_cmd_match(j->cmd, id, c->prompt_text[p], a, b, &jv, &secs, &e);
    judge_cmd_stats(j->cmd, &after);
    v->seconds = secs;
    v->attempts = (int32_t)(after.attempts - before.attempts);
    v->timeouts = (int32_t)(after.timeouts - before.timeouts);
    v->crashes = (int32_t)(after.crashes - before.crashes);
    v->bad_answers = (int32_t)(after.bad_answers - before.bad_answers);
    v->restarts = (int32_t)(after.restarts - before.restarts);
    v->verdict = jv == JUDGE_A ? TOURN_FIRST : jv == JUDGE_B ? TOURN_SECOND : jv == JUDGE_TIE ? TOURN_TIE : TOURN_FAILED;
    if (st == PP_EINTERRUPTED) {
        v->stopped = 1;
    } else if (st != PP_OK) {
        v->fatal = 1;
        set_error(v, e.msg);
    } else if (v->verdict == TOURN_FAILED) {
        set_error(v, judge_cmd_last_problem(j->cmd));
    }
}

/* =============================================================== journal */

/* Little-endian hosts are assumed (the journal never leaves the machine
 * family that wrote it; the HDF5 output is portable). */
typedef struct {
    int fd;
    char path[PP_PATH_MAX];
    double last_sync;
} journal;

static uint64_t checksum(const unsigned char *p, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = pp_hash64(h ^ w);
    }
    for (; i < n; i++) h = pp_hash64(h ^ p[i]);
    return h;
}

#define RECORD_INTS 11
#define RECORD_FIXED (4 + 4 * RECORD_INTS + 8 + 2)
#define RECORD_MAX (RECORD_FIXED + ERROR_TEXT + 8)

static size_t record_encode(const verdict_msg *v, unsigned char *buf) {
    uint32_t magic = RECORD_MAGIC;
    int32_t ints[RECORD_INTS] = {v->prompt, v->call, v->first, v->second, v->verdict, v->attempts,
                                 v->timeouts, v->crashes, v->bad_answers, v->restarts, v->rank};
    size_t elen = strnlen(v->error, ERROR_TEXT - 1);
    uint16_t e16 = (uint16_t)elen;
    size_t o = 0;
    memcpy(buf + o, &magic, 4), o += 4;
    memcpy(buf + o, ints, sizeof ints), o += sizeof ints;
    memcpy(buf + o, &v->seconds, 8), o += 8;
    memcpy(buf + o, &e16, 2), o += 2;
    memcpy(buf + o, v->error, elen), o += elen;
    uint64_t h = checksum(buf, o);
    memcpy(buf + o, &h, 8), o += 8;
    return o;
}

/* Decode the record at buf[0..avail); returns its size, or 0 when it is
 * torn or damaged (the end of the usable journal). */
static size_t record_decode(const unsigned char *buf, size_t avail, verdict_msg *v) {
    if (avail < RECORD_FIXED + 8) return 0;
    uint32_t magic;
    memcpy(&magic, buf, 4);
    if (magic != RECORD_MAGIC) return 0;
    uint16_t elen;
    memcpy(&elen, buf + RECORD_FIXED - 2, 2);
    if (elen >= ERROR_TEXT || avail < RECORD_FIXED + (size_t)elen + 8) return 0;
    size_t body = RECORD_FIXED + elen;
    uint64_t h;
    memcpy(&h, buf + body, 8);
    if (h != checksum(buf, body)) return 0;
    int32_t ints[RECORD_INTS];
    memcpy(ints, buf + 4, sizeof ints);
    memset(v, 0, sizeof *v);
    v->prompt = ints[0], v->call = ints[1], v->first = ints[2], v->second = ints[3], v->verdict = ints[4];
    v->attempts = ints[5], v->timeouts = ints[6], v->crashes = ints[7], v->bad_answers = ints[8];
    v->restarts = ints[9], v->rank = ints[10];
    memcpy(&v->seconds, buf + 4 + sizeof ints, 8);
    memcpy(v->error, buf + RECORD_FIXED, elen);
    v->error[elen] = '\0';
    return body + 8;
}

static pp_status write_all_bytes(int fd, const void *data, size_t n, const char *path, pp_err *err) {
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        /* a full disk or quota is the user's to fix (exit 1), like a full disk under an HDF5 output */
        if (w < 0 && (errno == ENOSPC || errno == EDQUOT))
            return pp_fail(err, PP_EINPUT, "%s: disk full: %s; free some space or choose another --out", path,
                           strerror(errno));
        if (w <= 0) return pp_fail(err, PP_ESYS, "%s: write failed: %s", path, strerror(errno));
        p += w;
        n -= (size_t)w;
    }
    return PP_OK;
}

/* Copy a value for the key with its newlines made spaces (a newline
 * would start a fake field). */
static void one_line(const char *in, char *out, size_t cap) {
    snprintf(out, cap, "%s", in ? in : "");
    for (char *q = out; *q; q++)
        if (*q == '\n' || *q == '\r') *q = ' ';
}

/* The run key: everything that decides the verdicts and the tournaments,
 * one "name=value" per line.  --rejected and --pairs are not in it: they
 * only read the finished rankings. */
static pp_status journal_key(const rank_options *o, const candidate_set *c, char *key, size_t cap, pp_err *err) {
    char fp[17];
    PP_TRY(pp_file_fingerprint(o->candidates_path, fp, err));
    int n = snprintf(key, cap,
                     "journal_version=1\ncandidates_fingerprint=%s\nn_prompts=%lld\nk=%lld\nmethod=%s\n"
                     "both_orders=%d\njudge=%s\n",
                     fp, (long long)c->n_prompts, (long long)c->k, tourn_method_name(o->method), o->both_orders,
                     o->judge == RANK_JUDGE_ORACLE ? "oracle" : "cmd");
    if (o->judge == RANK_JUDGE_ORACLE) {
        n += snprintf(key + n, cap - (size_t)n,
                      "judge_noise=%.17g\njudge_position_bias=%.17g\njudge_close_threshold=%.17g\njudge_seed=%llu\n",
                      o->noise, o->position_bias, o->close_threshold, (unsigned long long)o->seed);
    } else {
        char cmd[4096], prefix[256];
        one_line(o->judge_cmd, cmd, sizeof cmd);
        one_line(o->id_prefix, prefix, sizeof prefix);
        n += snprintf(key + n, cap - (size_t)n, "judge_cmd=%s\njudge_id_prefix=%s\n", cmd, prefix);
    }
    if (n < 0 || (size_t)n >= cap) return pp_fail(err, PP_EINPUT, "--judge-cmd is too long for the journal key");
    return PP_OK;
}

/* Name the first field in which two keys differ. */
static void key_difference(const char *have, const char *want, char *out, size_t cap) {
    const char *a = have, *b = want;
    while (*a || *b) {
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        if (la != lb || memcmp(a, b, la) != 0) {
            snprintf(out, cap, "journal has '%.*s', this run '%.*s'", (int)(la > 300 ? 300 : la), a,
                     (int)(lb > 300 ? 300 : lb), b);
            return;
        }
        a += la + (a[la] == '\n');
        b += lb + (b[lb] == '\n');
    }
    snprintf(out, cap, "the keys differ");
}

/* Read a whole file (the journal) into memory; *len = 0 when missing. */
static pp_status slurp(const char *path, unsigned char **data, size_t *len, pp_err *err) {
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return PP_OK;
        return pp_fail(err, PP_ESYS, "%s: %s", path, strerror(errno));
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
        if (n == cap) {
            unsigned char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) return pp_fail(err, PP_ESYS, "%s: out of memory reading the journal", path);
    if (bad) {
        free(buf);
        return pp_fail(err, PP_ESYS, "%s: read error", path);
    }
    *data = buf;
    *len = n;
    return PP_OK;
}

/* =========================================================== coordinator */

typedef struct {
    const rank_options *opt;
    const candidate_set *c;
    const pp_log *log;
    MPI_Comm comm; /* a private duplicate: our messages meet no one else's */
    int rank, size;
    judge_state judge;

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
    journal jr;
    pp_dir_lock lock;   /* on OUT.parts: one run at a time */
    pp_progress progress;
    /* messages go out with MPI_Isend: a blocking send could wait for the
     * receiver to finish a judge call first (rendezvous) */
    call_item *batch;      /* rank 0: [size][depth slots][depth calls] */
    MPI_Request *batch_req; /* rank 0: [size][depth slots] */
    call_item *queue;      /* worker: ring of depth calls */
    verdict_msg *out;      /* worker: [depth + 1] verdicts being sent */
    MPI_Request *out_req;
} engine;

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
    if (v->prompt < 0 || v->prompt >= e->n_prompts || v->verdict < 0 || v->verdict > TOURN_FAILED)
        return pp_fail(err, PP_EINPUT, "verdict for prompt row %d, verdict %d is out of range", v->prompt, v->verdict);
    PP_TRY(tourn_submit(e->t[v->prompt], v->call, v->first, v->second, (tourn_verdict)v->verdict, err));
    if (!from_journal) {
        unsigned char buf[RECORD_MAX];
        size_t n = record_encode(v, buf);
        PP_TRY(write_all_bytes(e->jr.fd, buf, n, e->jr.path, err));
        if (elapsed_since(e->jr.last_sync) > JOURNAL_SYNC_S) {
            fdatasync(e->jr.fd);
            e->jr.last_sync = pp_now();
        }
    }
    verdict_log *l = &e->log_v[e->n_log++];
    *l = (verdict_log){v->prompt, v->call, v->first, v->second, v->verdict, v->attempts, v->timeouts,
                       v->crashes, v->bad_answers, v->restarts, v->rank, v->seconds, NULL};
    if (v->error[0] && v->verdict == TOURN_FAILED) l->error = strdup(v->error);
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

/* Open the journal: replay a matching one, refuse another run's, start a
 * new one otherwise.  Rank 0. */
static pp_status journal_open(engine *e, pp_err *err) {
    const rank_options *o = e->opt;
    if (mkdir(o->parts_dir, 0777) != 0 && errno != EEXIST)
        return pp_fail(err, PP_EINPUT, "%s: cannot create the resume directory: %s", o->parts_dir, strerror(errno));
    char out[PP_PATH_MAX]; /* OUT of OUT.parts, for the message */
    snprintf(out, sizeof out, "%s", o->parts_dir);
    size_t ol = strlen(out);
    if (ol > 6 && !strcmp(out + ol - 6, ".parts")) out[ol - 6] = '\0';
    PP_TRY(pp_dir_lock_take(&e->lock, o->parts_dir, out, err));
    if (snprintf(e->jr.path, sizeof e->jr.path, "%s/%s", o->parts_dir, JOURNAL_NAME) >= (int)sizeof e->jr.path)
        return pp_fail(err, PP_EINPUT, "%s: path too long", o->parts_dir);
    char key[8192];
    PP_TRY(journal_key(o, e->c, key, sizeof key, err));
    size_t key_len = strlen(key);

    unsigned char *data;
    size_t len;
    PP_TRY(slurp(e->jr.path, &data, &len, err));
    size_t head = 8 + 4 + key_len + 8, good = 0;
    pp_status st = PP_OK;
    if (len >= 12 && memcmp(data, JOURNAL_MAGIC, 8) == 0) {
        uint32_t klen;
        memcpy(&klen, data + 8, 4);
        size_t h = 8 + 4 + (size_t)klen + 8;
        uint64_t sum;
        if (klen < 65536 && len >= h && (memcpy(&sum, data + h - 8, 8), sum == checksum(data, h - 8))) {
            if ((klen != key_len || memcmp(data + 12, key, key_len) != 0) && len == h) {
                /* another run's journal without a single verdict: nothing to lose */
                pp_info(e->log, "%s: starting over (the journal of another run held no verdicts)", e->jr.path);
                h = 0;
            } else if (klen != key_len || memcmp(data + 12, key, key_len) != 0) {
                char have[65536 + 1], diff[800];
                memcpy(have, data + 12, klen);
                have[klen] = '\0';
                key_difference(have, key, diff, sizeof diff);
                st = pp_fail(err, PP_EINPUT,
                             "%s: this resume journal belongs to another run (%s); rerun with the same candidates "
                             "and judge options, or delete %s to start over",
                             e->jr.path, diff, o->parts_dir);
            }
            good = h;
        }
    } else if (len >= 8 && memcmp(data, JOURNAL_MAGIC, 8) != 0) {
        st = pp_fail(err, PP_EINPUT, "%s: not a pp-rank journal; delete %s to start over", e->jr.path, o->parts_dir);
    }
    /* Replay the records after a valid header.  Each record carries its own
     * checksum, so a damaged one is skipped and the scan resumes at the next
     * record that checks out: a flipped byte costs one verdict, not the rest
     * of the journal.  After a loss, records that no longer fit (a later
     * round of the prompt whose verdict was lost) are dropped too; they are
     * all judged again.  The records kept are compacted in data[0, keep). */
    int64_t nrec = 0, damaged = 0, unfit = 0;
    size_t pos = good, keep = good, lost_bytes = 0;
    int in_damage = 0;
    while (st == PP_OK && good > 0 && pos < len) {
        verdict_msg v;
        size_t n = record_decode(data + pos, len - pos, &v);
        if (n == 0) {
            damaged += !in_damage;
            in_damage = 1;
            pos++;
            lost_bytes++;
            continue;
        }
        in_damage = 0;
        pp_err unfit_err;
        pp_status a = accept_verdict(e, &v, 1, damaged ? &unfit_err : err);
        if (a != PP_OK && damaged) {
            unfit++;
            lost_bytes += n;
            pos += n;
            continue;
        }
        if (a != PP_OK) {
            st = pp_wrap(err, "%s: record %lld does not fit this run (delete %s to start over)", e->jr.path,
                         (long long)nrec, o->parts_dir);
            break;
        }
        memmove(data + keep, data + pos, n);
        keep += n;
        pos += n;
        nrec++;
    }
    int rewrite = st == PP_OK && good > 0 && keep < len && !(damaged == 1 && in_damage && unfit == 0);
    if (st == PP_OK && good > 0 && keep < len) {
        char also[96] = "";
        if (unfit) snprintf(also, sizeof also, " and %lld later one(s) that depend on them", (long long)unfit);
        if (!rewrite) pp_warn(e->log, "%s: dropped a torn record at the end (%zu bytes)", e->jr.path, len - keep);
        else
            pp_warn(e->log, "%s: dropped %lld damaged record(s) (%zu bytes; their checksums fail)%s; kept %lld, "
                    "the dropped verdicts are judged again", e->jr.path, (long long)damaged, lost_bytes, also,
                    (long long)nrec);
        good = keep;
    }
    /* damage before the end: write the kept records back (.tmp, rename) */
    if (rewrite) {
        char tmp[PP_PATH_MAX + 8];
        snprintf(tmp, sizeof tmp, "%s.tmp", e->jr.path);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (fd < 0) st = pp_fail(err, PP_EINPUT, "%s: cannot write: %s", tmp, strerror(errno));
        if (st == PP_OK) st = write_all_bytes(fd, data, keep, tmp, err);
        if (fd >= 0) {
            if (st == PP_OK && fdatasync(fd) != 0) st = pp_fail(err, PP_ESYS, "%s: write failed: %s", tmp, strerror(errno));
            close(fd);
        }
        if (st == PP_OK && rename(tmp, e->jr.path) != 0)
            st = pp_fail(err, PP_ESYS, "%s: cannot rename to %s: %s", tmp, e->jr.path, strerror(errno));
        if (st != PP_OK) unlink(tmp);
    }
    free(data);
    PP_TRY(st);
    /* cut anything after the good part (or everything without a valid
     * header) and append from there */
    e->jr.fd = open(e->jr.path, O_WRONLY | O_CREAT, 0666);
    if (e->jr.fd < 0) return pp_fail(err, PP_EINPUT, "%s: cannot open the journal: %s", e->jr.path, strerror(errno));
    if (ftruncate(e->jr.fd, (off_t)good) != 0 || lseek(e->jr.fd, (off_t)good, SEEK_SET) < 0)
        return pp_fail(err, PP_ESYS, "%s: cannot truncate the journal: %s", e->jr.path, strerror(errno));
    if (good == 0) {
        unsigned char *hb = malloc(head);
        if (!hb) return pp_fail(err, PP_ESYS, "out of memory");
        uint32_t kl = (uint32_t)key_len;
        memcpy(hb, JOURNAL_MAGIC, 8);
        memcpy(hb + 8, &kl, 4);
        memcpy(hb + 12, key, key_len);
        uint64_t sum = checksum(hb, head - 8);
        memcpy(hb + head - 8, &sum, 8);
        st = write_all_bytes(e->jr.fd, hb, head, e->jr.path, err);
        free(hb);
        PP_TRY(st);
    }
    e->jr.last_sync = pp_now();
    return PP_OK;
}

static void journal_close(journal *j) {
    if (j->fd >= 0) {
        fdatasync(j->fd);
        close(j->fd);
    }
    j->fd = -1;
}

void rank_remove_parts(const char *parts_dir) {
    char path[PP_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", parts_dir, JOURNAL_NAME);
    unlink(path);
    snprintf(path, sizeof path, "%s/%s", parts_dir, PP_DIR_LOCK_NAME);
    unlink(path);
    rmdir(parts_dir);
}

/* Top every worker's queue up to `level` calls, one call per worker per
 * pass so scarce work is spread evenly. */
static void feed_workers(engine *e, int level) {
    const int depth = e->opt->queue_depth;
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
                e->batch[(w * depth + slot[w]) * depth + count[w]++] = e->pool[e->pool_head++];
    for (int w = 1; w < e->size; w++)
        if (count[w] > 0) {
            MPI_Isend(&e->batch[(w * depth + slot[w]) * depth], 4 * count[w], MPI_INT32_T, w, TAG_WORK, e->comm,
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
        verdict_msg v;
        MPI_Recv(&v, (int)sizeof v, MPI_BYTE, s.MPI_SOURCE, TAG_VERDICT, e->comm, MPI_STATUS_IGNORE);
        e->outstanding[s.MPI_SOURCE]--;
        if (v.stopped) continue; /* judged again on resume */
        if (v.fatal) {
            if (*st == PP_OK) *st = pp_fail(err, PP_ESYS, "judge on rank %d: %s", s.MPI_SOURCE, v.error);
            continue;
        }
        pp_err e2;
        pp_status a = accept_verdict(e, &v, 0, *st == PP_OK ? err : &e2);
        if (a != PP_OK && *st == PP_OK) *st = a;
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
        call_item mine;
        int have = pool_pop(e, &mine);
        feed_workers(e, e->opt->queue_depth);
        if (have) {
            verdict_msg v;
            judge_call(&e->judge, e->c, &mine, &v);
            if (v.stopped) continue; /* the loop's stop test says so */
            if (v.fatal) st = pp_fail(err, PP_ESYS, "judge on rank 0: %s", v.error);
            else st = accept_verdict(e, &v, 0, err);
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
    MPI_Waitall(e->size * e->opt->queue_depth, e->batch_req, MPI_STATUSES_IGNORE);
    return st;
}

/* Every other rank: judge what rank 0 sends until it says stop. */
static void work(engine *e) {
    int depth = e->opt->queue_depth, head = 0, n = 0, stop = 0, broken = 0;
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
            call_item c = queue[head];
            head = (head + 1) % depth;
            n--;
            int o = free_slot(e->out_req, depth + 1);
            verdict_msg *v = &e->out[o];
            judge_call(&e->judge, e->c, &c, v);
            MPI_Isend(v, (int)sizeof *v, MPI_BYTE, 0, TAG_VERDICT, e->comm, &e->out_req[o]);
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

/* ======================================================== pairs building */

typedef struct {
    int64_t prompt;
    int chosen, rejected;
} pair_item;

typedef struct {
    pair_item *v;
    int64_t n, cap;
} pair_list;

static pp_status pair_add(pair_list *l, int64_t p, int chosen, int rejected, pp_err *err) {
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 256;
        pair_item *nv = realloc(l->v, (size_t)cap * sizeof *nv);
        if (!nv) return pp_fail(err, PP_ESYS, "out of memory for %lld pairs", (long long)cap);
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = (pair_item){p, chosen, rejected};
    return PP_OK;
}

/* Per-prompt results before the pairs set is allocated. */
typedef struct {
    int64_t n_prompts;
    int k;
    int *ranking, *best, *worst, *calls, *ties, *failures;
    double *score, *strength; /* NULL when not made */
    pair_list pairs;
    /* totals over prompts */
    int64_t calls_total, matches, ties_total, flips, failures_total, failed_matches, no_pair, both_matches;
} results;

static void results_free(results *r) {
    free(r->ranking), free(r->best), free(r->worst), free(r->calls), free(r->ties), free(r->failures);
    free(r->score), free(r->strength), free(r->pairs.v);
    memset(r, 0, sizeof *r);
}

static pp_status results_alloc(results *r, int64_t np, int k, int with_strength, pp_err *err) {
    memset(r, 0, sizeof *r);
    r->n_prompts = np;
    r->k = k;
    size_t n = (size_t)(np > 0 ? np : 1), nk = n * (size_t)k;
    r->ranking = malloc(nk * sizeof(int));
    r->best = malloc(n * sizeof(int));
    r->worst = malloc(n * sizeof(int));
    r->calls = calloc(n, sizeof(int));
    r->ties = calloc(n, sizeof(int));
    r->failures = calloc(n, sizeof(int));
    r->score = calloc(nk, sizeof(double));
    if (with_strength) r->strength = calloc(nk, sizeof(double));
    if (!r->ranking || !r->best || !r->worst || !r->calls || !r->ties || !r->failures || !r->score ||
        (with_strength && !r->strength)) {
        results_free(r);
        return pp_fail(err, PP_ESYS, "out of memory for the rankings of %lld prompts", (long long)np);
    }
    return PP_OK;
}

/* Tournaments -> rankings and pairs (rank 0). */
static pp_status results_from_tournaments(engine *e, results *r, pp_err *err) {
    const rank_options *o = e->opt;
    const int k = (int)e->c->k;
    PP_TRY(results_alloc(r, e->n_prompts, k, 1, err));
    int cap = k * (k - 1) / 2 + 1;
    int *better = malloc((size_t)cap * sizeof(int)), *worse = malloc((size_t)cap * sizeof(int));
    pp_status st = better && worse ? PP_OK : pp_fail(err, PP_ESYS, "out of memory");
    for (int64_t p = 0; st == PP_OK && p < e->n_prompts; p++) {
        tourn_summary s;
        st = tourn_summarize(e->t[p], &s, err);
        if (st == PP_OK) st = tourn_ranking(e->t[p], r->ranking + p * k, err);
        if (st == PP_OK) st = tourn_scores(e->t[p], r->score + p * k, r->strength + p * k, err);
        if (st != PP_OK) break;
        r->best[p] = s.best;
        r->worst[p] = s.worst;
        r->calls[p] = s.calls;
        r->ties[p] = s.ties;
        r->failures[p] = s.failures;
        r->calls_total += s.calls;
        r->matches += s.matches;
        r->ties_total += s.ties;
        r->flips += s.flips;
        r->failures_total += s.failures;
        r->failed_matches += s.failed_matches;
        if (o->both_orders) r->both_matches += s.matches;
        int64_t before = r->pairs.n;
        if (o->pairs_all) {
            int n;
            st = tourn_pairs(e->t[p], better, worse, cap, &n, err);
            for (int i = 0; st == PP_OK && i < n && i < cap; i++) st = pair_add(&r->pairs, p, better[i], worse[i], err);
        } else {
            int rej;
            st = tourn_pick_rejected(e->t[p], &o->rejected, &rej, err);
            if (st == PP_OK && rej >= 0) st = pair_add(&r->pairs, p, s.best, rej, err);
        }
        if (r->pairs.n == before) r->no_pair++;
    }
    free(better);
    free(worse);
    if (st != PP_OK) results_free(r);
    return st;
}

/* Scores -> rankings and pairs: higher score first, ties by lower index;
 * a pair only where the scores differ. */
static pp_status results_from_scores(const rank_options *o, const double *scores, int64_t np, int k, results *r,
                                     pp_err *err) {
    PP_TRY(results_alloc(r, np, k, 0, err));
    memcpy(r->score, scores, sizeof(double) * (size_t)(np * k));
    pp_status st = PP_OK;
    for (int64_t p = 0; st == PP_OK && p < np; p++) {
        const double *sc = scores + p * k;
        int *ord = r->ranking + p * k;
        for (int j = 0; j < k; j++) { /* insertion sort: k is small */
            int i = j;
            while (i > 0 && sc[ord[i - 1]] < sc[j]) {
                ord[i] = ord[i - 1];
                i--;
            }
            ord[i] = j;
        }
        r->best[p] = ord[0];
        r->worst[p] = sc[ord[0]] > sc[ord[k - 1]] ? ord[k - 1] : ord[0];
        r->calls[p] = k;
        r->calls_total += k;
        int64_t before = r->pairs.n;
        if (o->pairs_all) {
            for (int i = 0; st == PP_OK && i < k; i++)
                for (int j = i + 1; st == PP_OK && j < k; j++)
                    if (sc[ord[i]] > sc[ord[j]]) st = pair_add(&r->pairs, p, ord[i], ord[j], err);
        } else if (k >= 2) {
            long pos = k - 1;
            if (o->rejected.kind == TOURN_REJECT_RUNNER_UP) pos = 1;
            if (o->rejected.kind == TOURN_REJECT_QUANTILE) {
                pos = lround(o->rejected.q * (k - 1));
                pos = pos < 1 ? 1 : pos > k - 1 ? k - 1 : pos;
            }
            if (sc[ord[0]] > sc[ord[pos]]) st = pair_add(&r->pairs, p, ord[0], ord[pos], err);
        }
        if (r->pairs.n == before) r->no_pair++;
    }
    if (st != PP_OK) results_free(r);
    return st;
}

/* Concatenate the tokens of the given candidates into one ragged array. */
static pp_status gather_tokens(const candidate_set *c, const results *r, int chosen, int64_t *off, int32_t **tok,
                               pp_err *err) {
    const pair_list *l = &r->pairs;
    off[0] = 0;
    for (int64_t i = 0; i < l->n; i++) {
        int64_t n;
        candidates_tokens(c, l->v[i].prompt * c->k + (chosen ? l->v[i].chosen : l->v[i].rejected), &n);
        off[i + 1] = off[i] + n;
    }
    *tok = malloc((size_t)(off[l->n] > 0 ? off[l->n] : 1) * sizeof **tok);
    if (!*tok) return pp_fail(err, PP_ESYS, "out of memory for pair tokens");
    for (int64_t i = 0; i < l->n; i++) {
        int64_t n;
        const int32_t *t = candidates_tokens(c, l->v[i].prompt * c->k + (chosen ? l->v[i].chosen : l->v[i].rejected), &n);
        memcpy(*tok + off[i], t, (size_t)n * sizeof **tok);
    }
    return PP_OK;
}

static int cmp_log(const void *x, const void *y) {
    const verdict_log *a = *(const verdict_log *const *)x, *b = *(const verdict_log *const *)y;
    if (a->prompt != b->prompt) return a->prompt < b->prompt ? -1 : 1;
    return (a->call > b->call) - (a->call < b->call);
}

/* Truth: the task scorer's score of every candidate of prompts that have
 * a known family and a reference; NaN elsewhere.  Returns how many prompts
 * have it. */
static int64_t true_scores(const candidate_set *c, double *ts) {
    int64_t with = 0;
    for (int64_t p = 0; p < c->n_prompts; p++) {
        task_family f;
        pp_err ignore;
        int ok = c->family && c->reference && c->family[p] && c->family[p][0] && c->reference[p] &&
                 tasks_family_from_name(c->family[p], &f, &ignore) == PP_OK;
        for (int64_t j = 0; j < c->k; j++)
            ts[p * c->k + j] = ok ? tasks_score(f, c->prompt_text[p], c->reference[p], c->candidate_text[p * c->k + j])
                                  : NAN;
        with += ok;
    }
    return with;
}

/* Everything the pairs file holds, from the results (rank 0). */
static pp_status build_pairs(const rank_options *o, const candidate_set *c, const results *r,
                             verdict_log *const *logs, int64_t n_logs, pairs_set *s, pp_err *err) {
    const int64_t np = c->n_prompts, k = c->k, n = r->pairs.n;
    double *ts = malloc((size_t)(np * k > 0 ? np * k : 1) * sizeof *ts);
    if (!ts) return pp_fail(err, PP_ESYS, "out of memory");
    int64_t truth_prompts = true_scores(c, ts);
    pp_status st = pairs_alloc(s, np, (int)k, n, n_logs, truth_prompts > 0, 1, r->strength != NULL, err);
    if (st != PP_OK) {
        free(ts);
        return st;
    }
    /* per prompt */
    memcpy(s->prompt_id, c->prompt_id, (size_t)np * sizeof(int64_t));
    memcpy(s->prompt_token_offsets, c->prompt_token_offsets, (size_t)(np + 1) * sizeof(int64_t));
    memcpy(s->best, r->best, (size_t)np * sizeof(int));
    memcpy(s->worst, r->worst, (size_t)np * sizeof(int));
    memcpy(s->ranking, r->ranking, (size_t)(np * k) * sizeof(int));
    memcpy(s->judge_calls, r->calls, (size_t)np * sizeof(int));
    memcpy(s->ties, r->ties, (size_t)np * sizeof(int));
    memcpy(s->failures, r->failures, (size_t)np * sizeof(int));
    memcpy(s->score, r->score, (size_t)(np * k) * sizeof(double));
    if (r->strength) memcpy(s->strength, r->strength, (size_t)(np * k) * sizeof(double));
    if (s->true_score) memcpy(s->true_score, ts, (size_t)(np * k) * sizeof(double));
    int64_t npt = c->prompt_token_offsets[np];
    s->prompt_tokens = malloc((size_t)(npt > 0 ? npt : 1) * sizeof(int32_t));
    if (!s->prompt_tokens) st = pp_fail(err, PP_ESYS, "out of memory");
    else memcpy(s->prompt_tokens, c->prompt_tokens, (size_t)npt * sizeof(int32_t));
    if (st == PP_OK) st = pairs_pack_text(&s->prompt_text, np, (const char *const *)c->prompt_text, err);
    if (st == PP_OK && c->family) st = pairs_pack_text(&s->family, np, (const char *const *)c->family, err);
    if (st == PP_OK && c->reference) st = pairs_pack_text(&s->reference, np, (const char *const *)c->reference, err);

    /* per pair */
    const char **ct = malloc((size_t)(n > 0 ? n : 1) * sizeof *ct), **rt = malloc((size_t)(n > 0 ? n : 1) * sizeof *rt);
    if (st == PP_OK && (!ct || !rt)) st = pp_fail(err, PP_ESYS, "out of memory");
    double gap = 0;
    int64_t with_truth = 0, correct = 0;
    for (int64_t i = 0; st == PP_OK && i < n; i++) {
        const pair_item *pi = &r->pairs.v[i];
        s->pair_prompt[i] = pi->prompt;
        s->chosen[i] = pi->chosen;
        s->rejected[i] = pi->rejected;
        ct[i] = c->candidate_text[pi->prompt * k + pi->chosen];
        rt[i] = c->candidate_text[pi->prompt * k + pi->rejected];
        if (s->chosen_true_score) {
            double a = ts[pi->prompt * k + pi->chosen], b = ts[pi->prompt * k + pi->rejected];
            s->chosen_true_score[i] = a;
            s->rejected_true_score[i] = b;
            if (!isnan(a)) {
                with_truth++;
                gap += a - b;
                correct += a > b;
            }
        }
    }
    if (st == PP_OK) st = pairs_pack_text(&s->chosen_text, n, ct, err);
    if (st == PP_OK) st = pairs_pack_text(&s->rejected_text, n, rt, err);
    free(ct);
    free(rt);
    if (st == PP_OK) st = gather_tokens(c, r, 1, s->chosen_token_offsets, &s->chosen_tokens, err);
    if (st == PP_OK) st = gather_tokens(c, r, 0, s->rejected_token_offsets, &s->rejected_tokens, err);

    /* match log, sorted by (prompt, call) so it does not depend on the ranks */
    const char **errs = malloc((size_t)(n_logs > 0 ? n_logs : 1) * sizeof *errs);
    if (st == PP_OK && !errs) st = pp_fail(err, PP_ESYS, "out of memory");
    for (int64_t i = 0; st == PP_OK && i < n_logs; i++) {
        const verdict_log *l = logs[i];
        int orders = o->both_orders ? 2 : 1;
        s->matches[i] = (pairs_match){l->prompt, l->call, l->call / orders, l->call % orders, l->first, l->second,
                                      l->verdict, l->seconds, l->attempts, l->timeouts, l->crashes,
                                      l->bad_answers, l->restarts, l->rank, 0};
        errs[i] = l->error ? l->error : "";
    }
    if (st == PP_OK) st = pairs_pack_text(&s->match_error, n_logs, errs, err);
    free(errs);

    /* attributes */
    snprintf(s->method, sizeof s->method, "%s", o->score_method ? "score" : tourn_method_name(o->method));
    snprintf(s->judge, sizeof s->judge, "%s",
             o->judge == RANK_JUDGE_ORACLE ? "oracle" : o->judge == RANK_JUDGE_CMD ? "cmd" : "rm");
    s->both_orders = o->both_orders;
    snprintf(s->rejected_rule, sizeof s->rejected_rule, "%s", o->rejected_text);
    snprintf(s->pairs_mode, sizeof s->pairs_mode, "%s", o->pairs_all ? "all" : "best");
    if (o->judge == RANK_JUDGE_CMD) snprintf(s->judge_cmd, sizeof s->judge_cmd, "%s", o->judge_cmd);
    if (o->judge == RANK_JUDGE_ORACLE) {
        s->has_oracle_params = 1;
        s->judge_noise = o->noise;
        s->judge_position_bias = o->position_bias;
        s->judge_close_threshold = o->close_threshold;
        s->judge_seed = (int64_t)o->seed;
    }
    if (o->judge == RANK_JUDGE_CMD) {
        s->has_timeout = 1;
        s->judge_timeout = o->cmd_opts.timeout_s;
    }
    s->judge_calls_total = r->calls_total;
    s->matches_total = r->matches;
    s->ties_total = r->ties_total;
    s->flips = r->flips;
    s->flip_rate = r->both_matches > 0 ? (double)r->flips / (double)r->both_matches : 0;
    s->failures_total = r->failures_total;
    s->failed_matches = r->failed_matches;
    s->prompts_without_pair = r->no_pair;
    for (int64_t i = 0; i < n_logs; i++) {
        s->timeouts += logs[i]->timeouts;
        s->crashes += logs[i]->crashes;
        s->bad_answers += logs[i]->bad_answers;
        s->restarts += logs[i]->restarts;
        s->judge_seconds += logs[i]->seconds;
    }
    if (truth_prompts > 0) {
        int64_t best_ok = 0, worst_ok = 0, both_ok = 0;
        for (int64_t p = 0; p < np; p++) {
            const double *t = ts + p * k;
            if (isnan(t[0])) continue;
            double hi = t[0], lo = t[0];
            for (int64_t j = 1; j < k; j++) hi = t[j] > hi ? t[j] : hi, lo = t[j] < lo ? t[j] : lo;
            int b = t[r->ranking[p * k]] == hi, w = t[r->ranking[p * k + k - 1]] == lo;
            best_ok += b;
            worst_ok += w;
            both_ok += b && w;
        }
        s->has_truth = 1;
        s->truth_prompts = truth_prompts;
        s->truth_best_rate = (double)best_ok / (double)truth_prompts;
        s->truth_worst_rate = (double)worst_ok / (double)truth_prompts;
        s->truth_agreement = (double)both_ok / (double)truth_prompts;
        s->truth_pair_accuracy = with_truth ? (double)correct / (double)with_truth : 0;
        s->truth_mean_gap = with_truth ? gap / (double)with_truth : 0;
    }
    snprintf(s->model_fingerprint, sizeof s->model_fingerprint, "%s", c->model_fingerprint);
    snprintf(s->tokenizer, sizeof s->tokenizer, "%s", c->tokenizer);
    s->vocab_size = (int)c->vocab_size;
    snprintf(s->source, sizeof s->source, "%s", c->source);
    snprintf(s->suite, sizeof s->suite, "%s", c->suite);
    snprintf(s->split, sizeof s->split, "%s", c->split);
    free(ts);
    if (st != PP_OK) pairs_free(s);
    return st;
}

/* ===================================================== pairwise: the run */

static void engine_free(engine *e) {
    pp_dir_unlock(&e->lock);
    for (int64_t p = 0; e->t && p < e->n_prompts; p++) tourn_free(e->t[p]);
    free(e->t);
    free(e->pool);
    for (int64_t i = 0; e->log_v && i < e->n_log; i++) free(e->log_v[i].error);
    free(e->log_v);
    free(e->outstanding);
    free(e->said_bye);
    free(e->batch_count);
    free(e->batch);
    free(e->batch_req);
    free(e->queue);
    free(e->out);
    free(e->out_req);
    judge_close(&e->judge);
    if (e->rank == 0) journal_close(&e->jr);
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
    PP_TRY(journal_open(e, err));
    /* the journal's calls are answered; everything else ready goes in the pool */
    for (int64_t p = 0; p < e->n_prompts; p++) PP_TRY(refill_pool(e, p, err));
    return PP_OK;
}

static pp_status run_pairwise(const rank_options *o, const candidate_set *c, const pp_log *log, MPI_Comm comm,
                              pairs_set *out, rank_report *rep, pp_err *err) {
    engine e;
    memset(&e, 0, sizeof e);
    e.opt = o;
    e.c = c;
    e.log = log;
    e.jr.fd = -1;
    e.lock.fd = -1;
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
    if (st == PP_OK) {
        e.outstanding = calloc((size_t)e.size, sizeof(int));
        e.said_bye = calloc((size_t)e.size, sizeof(int));
        size_t n = (size_t)e.size, d = (size_t)o->queue_depth;
        e.batch_count = calloc(2 * n, sizeof(int)); /* counts, then slots */
        e.batch = malloc(n * d * d * sizeof *e.batch);
        e.batch_req = malloc(n * d * sizeof *e.batch_req);
        e.queue = malloc(d * sizeof *e.queue);
        e.out = malloc((d + 1) * sizeof *e.out);
        e.out_req = malloc((d + 1) * sizeof *e.out_req);
        if (!e.outstanding || !e.said_bye || !e.batch_count || !e.batch || !e.batch_req || !e.queue || !e.out ||
            !e.out_req)
            st = pp_fail(err, PP_ESYS, "out of memory");
        for (size_t i = 0; st == PP_OK && i < n * d; i++) e.batch_req[i] = MPI_REQUEST_NULL;
        for (size_t i = 0; st == PP_OK && i <= d; i++) e.out_req[i] = MPI_REQUEST_NULL;
    }
    /* every rank starts its judge (a judge that cannot start stops all),
     * before the journal is touched */
    st = pp_agree(e.comm, st, err);
    if (st == PP_OK) st = pp_agree(e.comm, judge_open(&e.judge, o, c, e.rank, e.comm, err), err);
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
        results r = {0};
        st = results_from_tournaments(&e, &r, err);
        verdict_log **sorted = NULL;
        if (st == PP_OK) {
            sorted = malloc((size_t)(e.n_log > 0 ? e.n_log : 1) * sizeof *sorted);
            if (!sorted) st = pp_fail(err, PP_ESYS, "out of memory");
            for (int64_t i = 0; st == PP_OK && i < e.n_log; i++) sorted[i] = &e.log_v[i];
            if (st == PP_OK) qsort(sorted, (size_t)e.n_log, sizeof *sorted, cmp_log);
        }
        if (st == PP_OK) st = build_pairs(o, c, &r, sorted, e.n_log, out, err);
        /* the arrival order of each logged call */
        for (int64_t i = 0; st == PP_OK && i < e.n_log; i++) out->matches[i].sequence = sorted[i] - e.log_v;
        free(sorted);
        results_free(&r);
        rep->calls_total = e.total;
        rep->calls_replayed = e.replayed;
        rep->calls_judged = e.answered - e.replayed;
    }
    rep->seconds = elapsed_since(t0);
    engine_free(&e);
    return pp_agree(comm, st, err);
}

/* ========================================================== score method */

typedef struct {
    double noise;
    uint64_t seed;
} oracle_scorer;

static pp_status oracle_score(void *ctx, const candidate_set *c, int64_t p, double *scores, pp_err *err) {
    const oracle_scorer *s = ctx;
    task_family f;
    if (!c->family || !c->reference || !c->family[p] || !c->family[p][0] || !c->reference[p])
        return pp_fail(err, PP_EINPUT,
                       "--judge oracle needs the task family and reference of every prompt (builtin suite); prompt "
                       "row %lld (id %lld) has none",
                       (long long)p, (long long)c->prompt_id[p]);
    PP_TRY(tasks_family_from_name(c->family[p], &f, err));
    for (int64_t j = 0; j < c->k; j++) {
        scores[j] = tasks_score(f, c->prompt_text[p], c->reference[p], c->candidate_text[p * c->k + j]);
        if (s->noise > 0) {
            pp_rng r = pp_rng_stream(s->seed, (uint64_t)c->prompt_id[p] * MATCH_ID_STRIDE + (uint64_t)j, SCORE_STREAM);
            scores[j] += s->noise * pp_rng_normal(&r);
        }
    }
    return PP_OK;
}

static void free_ctx(void *ctx) { free(ctx); }

pp_status rank_scorer_oracle(rank_scorer *s, double noise, uint64_t seed, pp_err *err) {
    memset(s, 0, sizeof *s);
    if (!(noise >= 0) || !isfinite(noise))
        return pp_fail(err, PP_EINPUT, "--judge-noise must be >= 0 with --method score, got %g", noise);
    oracle_scorer *o = malloc(sizeof *o);
    if (!o) return pp_fail(err, PP_ESYS, "out of memory");
    o->noise = noise;
    o->seed = seed;
    *s = (rank_scorer){"oracle", o, oracle_score, free_ctx};
    return PP_OK;
}

typedef struct {
    reward_model rm;
    model m;
    rm_ws ws;
    const int32_t **resp; /* [k] per-call pointers */
    const int32_t **prompt;
    int64_t *resp_len, *prompt_len;
} rm_scorer;

static void rm_scorer_close(void *ctx) {
    rm_scorer *r = ctx;
    if (!r) return;
    rm_ws_free(&r->ws);
    model_free(&r->m);
    rm_free(&r->rm);
    free(r->resp), free(r->prompt), free(r->resp_len), free(r->prompt_len);
    free(r);
}

/* One prompt's k candidates in one call: the same forward passes on any
 * rank (reward_model.h), so the scores do not depend on the rank count. */
static pp_status rm_score(void *ctx, const candidate_set *c, int64_t p, double *scores, pp_err *err) {
    rm_scorer *r = ctx;
    int64_t np;
    const int32_t *pt = candidates_prompt_tokens(c, p, &np);
    for (int64_t j = 0; j < c->k; j++) {
        r->prompt[j] = pt;
        r->prompt_len[j] = np;
        r->resp[j] = candidates_tokens(c, p * c->k + j, &r->resp_len[j]);
    }
    return rm_score_batch(&r->rm, &r->m, &r->ws, (int)c->k, r->prompt, r->prompt_len, r->resp, r->resp_len, scores,
                          err);
}

pp_status rank_scorer_rm(rank_scorer *s, const char *rm_path, const char *model_path, const candidate_set *c,
                         pp_err *err) {
    memset(s, 0, sizeof *s);
    rm_scorer *r = calloc(1, sizeof *r);
    if (!r) return pp_fail(err, PP_ESYS, "out of memory");
    size_t k = (size_t)c->k;
    r->resp = calloc(k, sizeof *r->resp);
    r->prompt = calloc(k, sizeof *r->prompt);
    r->resp_len = calloc(k, sizeof *r->resp_len);
    r->prompt_len = calloc(k, sizeof *r->prompt_len);
    pp_status st = r->resp && r->prompt && r->resp_len && r->prompt_len ? PP_OK : pp_fail(err, PP_ESYS, "out of memory");
    if (st == PP_OK) st = rm_load(&r->rm, rm_path, err);
    const char *mp = model_path && *model_path ? model_path : r->rm.model_path;
    if (st == PP_OK) {
        st = model_load(mp, &r->m, err);
        if (st != PP_OK) pp_wrap(err, "the reward model's feature model");
    }
    if (st == PP_OK) st = rm_check_model(&r->rm, &r->m, err);
    if (st == PP_OK && (c->vocab_size != r->m.cfg.vocab_size || strcmp(c->tokenizer, r->rm.tokenizer) != 0))
        st = pp_fail(err, PP_EINPUT,
                     "the candidates use tokenizer %s with vocabulary %lld, but the reward model's feature model %s "
                     "has %s with %d",
                     c->tokenizer, (long long)c->vocab_size, mp, r->rm.tokenizer, r->m.cfg.vocab_size);
    if (st == PP_OK) st = rm_ws_alloc(&r->ws, &r->m, 0, err);
    if (st != PP_OK) {
        rm_scorer_close(r);
        return st;
    }
    *s = (rank_scorer){"rm", r, rm_score, rm_scorer_close};
    return PP_OK;
}

static pp_status run_score(const rank_options *o, const candidate_set *c, const pp_log *log, MPI_Comm comm,
                           pairs_set *out, rank_report *rep, pp_err *err) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    const int64_t np = c->n_prompts, k = c->k;
    double t0 = pp_now();
    rank_scorer sc;
    pp_status st = o->judge == RANK_JUDGE_RM ? rank_scorer_rm(&sc, o->rm_path, o->rm_model_path, c, err)
                                             : rank_scorer_oracle(&sc, o->noise, o->seed, err);
    if (pp_agree(comm, st, err) != PP_OK) {
        if (st == PP_OK && sc.close) sc.close(sc.ctx);
        return err->status;
    }
    if (np * k > INT32_MAX) {
        if (sc.close) sc.close(sc.ctx);
        return pp_fail(err, PP_EINPUT, "%lld candidates: --method score takes at most %d", (long long)(np * k),
                       INT32_MAX);
    }
    /* prompts in blocks over the ranks, the scores gathered on rank 0 */
    int64_t lo = np * rank / size, hi = np * (rank + 1) / size;
    double *mine = malloc((size_t)((hi - lo) * k > 0 ? (hi - lo) * k : 1) * sizeof *mine);
    double *all = rank == 0 ? malloc((size_t)(np * k > 0 ? np * k : 1) * sizeof *all) : NULL;
    int *counts = malloc((size_t)size * sizeof *counts), *displs = malloc((size_t)size * sizeof *displs);
    if (!mine || (rank == 0 && !all) || !counts || !displs) st = pp_fail(err, PP_ESYS, "out of memory");
    for (int64_t p = lo; st == PP_OK && p < hi; p++) st = sc.score(sc.ctx, c, p, &mine[(p - lo) * k], err);
    for (int64_t i = 0; st == PP_OK && i < (hi - lo) * k; i++)
        if (!isfinite(mine[i]))
            st = pp_fail(err, PP_ESYS, "scorer %s gave a non-finite score to candidate %lld of prompt row %lld", sc.name,
                         (long long)(i % k), (long long)(lo + i / k));
    st = pp_agree(comm, st, err);
    if (st == PP_OK) {
        for (int r = 0; r < size; r++) {
            counts[r] = (int)((np * (r + 1) / size - np * r / size) * k);
            displs[r] = (int)(np * r / size * k);
        }
        MPI_Gatherv(mine, (int)((hi - lo) * k), MPI_DOUBLE, all, counts, displs, MPI_DOUBLE, 0, comm);
    }
    if (st == PP_OK && rank == 0) {
        results r;
        st = results_from_scores(o, all, np, (int)k, &r, err);
        if (st == PP_OK) {
            st = build_pairs(o, c, &r, NULL, 0, out, err);
            results_free(&r);
        }
        rep->calls_total = rep->calls_judged = np * k;
    }
    rep->seconds = elapsed_since(t0);
    (void)log;
    free(mine);
    free(all);
    free(counts);
    free(displs);
    if (sc.close) sc.close(sc.ctx);
    return pp_agree(comm, st, err);
}

/* ================================================================ entry */

pp_status rank_run(const rank_options *o, const candidate_set *c, const pp_log *log, MPI_Comm comm,
                   pairs_set *out, rank_report *report, pp_err *err) {
    memset(out, 0, sizeof *out);
    memset(report, 0, sizeof *report);
    if (c->k < 1 || c->n_prompts < 1)
        return pp_fail(err, PP_EINPUT, "the candidate set is empty (%lld prompts, k = %lld)", (long long)c->n_prompts,
                       (long long)c->k);
    if (o->score_method) return run_score(o, c, log, comm, out, report, err);
    if (o->judge == RANK_JUDGE_RM)
        return pp_fail(err, PP_EINPUT, "--judge rm scores candidates one by one: use it with --method score");
    return run_pairwise(o, c, log, comm, out, report, err);
}
