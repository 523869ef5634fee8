/* rank_journal.c - pp-rank's resume journal (rank.h "Resume"): the run key,
 * the parts directory, and the verdict records.
 *
 * OUT.parts/ holds run.key and lock (core/pp_parts.h) and journal.bin:
 * JOURNAL_MAGIC, then one record per verdict in arrival order.  A record is
 * its magic, eleven int32 fields, the seconds, the model judge's two
 * probabilities (float64, NaN for other judges), the error text (u16 length
 * and bytes) and a checksum of all that.  Little-endian hosts are assumed
 * (the journal never leaves the machine family that wrote it; the HDF5
 * output is portable). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/pp_file.h"
#include "core/pp_rng.h"
#include "core/pp_runkey.h"
#include "rank/rank_engine.h"

#define JOURNAL_NAME "journal.bin"
#define JOURNAL_MAGIC "PPRANKJ3"
#define JOURNAL_MAX ((size_t)1 << 40)
#define RECORD_MAGIC 0x314A5250u /* "PRJ1" */
#define JOURNAL_SYNC_S 5.0       /* fdatasync at most this often */

/* ------------------------------------------------------------ run key */

/* Everything that decides the verdicts and the tournaments, in a fixed
 * order.  --rejected and --pairs are not in it: they only read the
 * finished rankings.  Every judge setting is (a judge ignores the others). */
static pp_status run_key(const rank_options *o, const candidate_set *c, pp_runkey *k, pp_err *err) {
    char fp[17];
    PP_TRY(pp_file_fingerprint(o->candidates_path, fp, err));
    pp_runkey_init(k);
    pp_runkey_i64(k, "journal_version", 2);
    pp_runkey_str(k, "candidates_fingerprint", fp);
    pp_runkey_i64(k, "n_prompts", c->n_prompts);
    pp_runkey_i64(k, "k", c->k);
    pp_runkey_str(k, "method", tourn_method_name(o->method));
    pp_runkey_i64(k, "both_orders", o->both_orders);
    pp_runkey_str(k, "judge", o->judge);
    pp_runkey_f64(k, "judge_noise", o->j.noise);
    pp_runkey_f64(k, "judge_position_bias", o->j.position_bias);
    pp_runkey_f64(k, "judge_close_threshold", o->j.close);
    pp_runkey_i64(k, "judge_seed", o->j.seed);
    pp_runkey_str(k, "judge_cmd", o->j.cmdline);
    pp_runkey_str(k, "judge_id_prefix", o->j.id_prefix);
    if (!pp_runkey_text(k)) {
        pp_runkey_free(k);
        return pp_fail(err, PP_ESYS, "out of memory for the run key");
    }
    return PP_OK;
}

/* ------------------------------------------------------------- records */

static uint64_t checksum(const unsigned char *p, size_t n) { return pp_hash_bytes(0x9E3779B97F4A7C15ULL ^ n, p, n); }

#define RECORD_INTS 11
#define RECORD_FIXED (4 + 4 * RECORD_INTS + 8 + 16 + 2)
#define RECORD_MAX (RECORD_FIXED + RANK_ERROR_TEXT + 8)

static size_t record_encode(const verdict_msg *v, unsigned char *buf) {
    uint32_t magic = RECORD_MAGIC;
    int32_t ints[RECORD_INTS] = {v->prompt, v->call, v->first, v->second, v->verdict, v->attempts,
                                 v->timeouts, v->crashes, v->bad_answers, v->restarts, v->rank};
    size_t elen = strnlen(v->error, RANK_ERROR_TEXT - 1);
    uint16_t e16 = (uint16_t)elen;
    size_t o = 0;
    memcpy(buf + o, &magic, 4), o += 4;
    memcpy(buf + o, ints, sizeof ints), o += sizeof ints;
    memcpy(buf + o, &v->seconds, 8), o += 8;
    memcpy(buf + o, v->probs, 16), o += 16;
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
    if (elen >= RANK_ERROR_TEXT || avail < RECORD_FIXED + (size_t)elen + 8) return 0;
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
    memcpy(v->probs, buf + 4 + sizeof ints + 8, 16);
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

/* -------------------------------------------------------------- journal */

/* Replay the records of data[0, len) after the magic.  Each record carries
 * its own checksum, so a damaged one is skipped and the scan resumes at the
 * next record that checks out: a flipped byte costs one verdict, not the
 * rest of the journal.  After a loss, records that no longer fit (a later
 * round of the prompt whose verdict was lost) are dropped too; they are all
 * judged again.  The records kept are compacted in data[0, *good); *rewrite
 * says the file must be written back (damage before the end, not just a
 * torn last record). */
static pp_status replay_records(rank_journal *jr, unsigned char *data, size_t len, const pp_log *log,
                                pp_status (*replay)(void *ctx, const verdict_msg *v, pp_err *err), void *ctx,
                                size_t *good, int *rewrite, pp_err *err) {
    int64_t nrec = 0, damaged = 0, unfit = 0;
    size_t pos = *good, keep = *good, lost_bytes = 0;
    int in_damage = 0;
    while (pos < len) {
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
        pp_status a = replay(ctx, &v, damaged ? &unfit_err : err);
        if (a != PP_OK && damaged) {
            unfit++;
            lost_bytes += n;
            pos += n;
            continue;
        }
        if (a != PP_OK)
            return pp_wrap(err, "%s: record %lld does not fit this run (delete %s to start over)", jr->path,
                           (long long)nrec, jr->parts.dir);
        memmove(data + keep, data + pos, n);
        keep += n;
        pos += n;
        nrec++;
    }
    *rewrite = keep < len && !(damaged == 1 && in_damage && unfit == 0);
    if (keep < len) {
        char also[96] = "";
        if (unfit) snprintf(also, sizeof also, " and %lld later one(s) that depend on them", (long long)unfit);
        if (!*rewrite) pp_warn(log, "%s: dropped a torn record at the end (%zu bytes)", jr->path, len - keep);
        else
            pp_warn(log, "%s: dropped %lld damaged record(s) (%zu bytes; their checksums fail)%s; kept %lld, "
                    "the dropped verdicts are judged again", jr->path, (long long)damaged, lost_bytes, also,
                    (long long)nrec);
    }
    *good = keep;
    return PP_OK;
}

/* Write data[0, n) over the journal (.tmp, rename). */
static pp_status write_back(rank_journal *jr, const unsigned char *data, size_t n, pp_err *err) {
    char tmp[PP_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", jr->path);
    pp_status st = PP_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) st = pp_fail(err, PP_EINPUT, "%s: cannot write: %s", tmp, strerror(errno));
    if (st == PP_OK) st = write_all_bytes(fd, data, n, tmp, err);
    if (fd >= 0) {
        if (st == PP_OK && fdatasync(fd) != 0) st = pp_fail(err, PP_ESYS, "%s: write failed: %s", tmp, strerror(errno));
        close(fd);
    }
    if (st == PP_OK && rename(tmp, jr->path) != 0)
        st = pp_fail(err, PP_ESYS, "%s: cannot rename to %s: %s", tmp, jr->path, strerror(errno));
    if (st != PP_OK) unlink(tmp);
    return st;
}

/* The journal of the run the parts directory resumes: replay what is good,
 * say how much of the file to keep.  No file yet keeps nothing. */
static pp_status read_journal(rank_journal *jr, const pp_log *log,
                              pp_status (*replay)(void *ctx, const verdict_msg *v, pp_err *err), void *ctx,
                              size_t *good, pp_err *err) {
    *good = 0;
    struct stat sb;
    if (stat(jr->path, &sb) != 0 && errno == ENOENT) return PP_OK;
    char *data;
    size_t len;
    PP_TRY(pp_read_file(jr->path, JOURNAL_MAX, "pp-rank journal", &data, &len, err));
    pp_status st = PP_OK;
    int rewrite = 0;
    if (len >= 8 && memcmp(data, JOURNAL_MAGIC, 8) != 0)
        st = pp_fail(err, PP_EINPUT, "%s: not a pp-rank journal; delete %s to start over", jr->path, jr->parts.dir);
    else if (len >= 8) {
        *good = 8;
        st = replay_records(jr, (unsigned char *)data, len, log, replay, ctx, good, &rewrite, err);
    }
    if (st == PP_OK && rewrite) st = write_back(jr, (const unsigned char *)data, *good, err);
    free(data);
    return st;
}

pp_status journal_open(rank_journal *jr, const rank_options *o, const candidate_set *c, const pp_log *log,
                       pp_status (*replay)(void *ctx, const verdict_msg *v, pp_err *err), void *ctx, pp_err *err) {
    memset(jr, 0, sizeof *jr);
    jr->fd = -1;
    jr->parts.lock.fd = -1;
    pp_runkey key;
    PP_TRY(run_key(o, c, &key, err));
    pp_status st = pp_parts_open(&jr->parts, o->parts_dir, o->out_path, pp_runkey_text(&key), err);
    pp_runkey_free(&key);
    PP_TRY(st);
    size_t good = 0;
    st = pp_parts_path(&jr->parts, JOURNAL_NAME, jr->path, sizeof jr->path, err);
    /* a journal without run.key is no one's: start over */
    if (st == PP_OK && jr->parts.resuming) st = read_journal(jr, log, replay, ctx, &good, err);
    /* cut anything after the good part (all of it without a valid magic)
     * and append from there */
    if (st == PP_OK) {
        jr->fd = open(jr->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
        if (jr->fd < 0) st = pp_fail(err, PP_EINPUT, "%s: cannot open the journal: %s", jr->path, strerror(errno));
    }
    if (st == PP_OK && (ftruncate(jr->fd, (off_t)good) != 0 || lseek(jr->fd, (off_t)good, SEEK_SET) < 0))
        st = pp_fail(err, PP_ESYS, "%s: cannot truncate the journal: %s", jr->path, strerror(errno));
    if (st == PP_OK && good == 0) st = write_all_bytes(jr->fd, JOURNAL_MAGIC, 8, jr->path, err);
    if (st != PP_OK) {
        journal_close(jr);
        pp_parts_close(&jr->parts);
        return st;
    }
    jr->last_sync = pp_now();
    return PP_OK;
}

pp_status journal_append(rank_journal *jr, const verdict_msg *v, pp_err *err) {
    unsigned char buf[RECORD_MAX];
    size_t n = record_encode(v, buf);
    PP_TRY(write_all_bytes(jr->fd, buf, n, jr->path, err));
    if (pp_now() - jr->last_sync > JOURNAL_SYNC_S) {
        fdatasync(jr->fd);
        jr->last_sync = pp_now();
    }
    return PP_OK;
}

void journal_close(rank_journal *jr) {
    if (jr->fd >= 0) {
        fdatasync(jr->fd);
        close(jr->fd);
    }
    jr->fd = -1;
}
