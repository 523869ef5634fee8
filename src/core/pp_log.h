/* pp_log.h - messages and progress, printed by rank 0 only.
 *
 * Progress is "label: done/total (pct) rate unit/s ETA"; on a terminal it
 * rewrites one line with \r, otherwise (Slurm logs) it prints one line per
 * update, at most every `min_interval` seconds, so logs stay readable. */
#ifndef PP_LOG_H
#define PP_LOG_H

#include <stdint.h>
#include <stdio.h>

typedef struct {
    const char *prog;   /* program name, prefixes every line */
    int rank;           /* only rank 0 prints */
    int verbose;        /* 0 normal, 1 --verbose */
    int quiet;          /* 1: warnings and errors only */
    FILE *out;          /* information and progress: stdout by default; warnings: stderr */
} pp_log;

void pp_log_init(pp_log *lg, const char *prog, int rank, int verbose);
void pp_info(const pp_log *lg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pp_debug(const pp_log *lg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pp_warn(const pp_log *lg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef struct {
    const pp_log *log;
    char label[64];
    char unit[24];
    int64_t total;
    int64_t start_done;  /* already done when started (resume) */
    double t_start, t_last;
    double min_interval; /* seconds between non-terminal lines (default 10) */
    int tty;
    int printed;
} pp_progress;

double pp_now(void); /* monotonic seconds */
void pp_progress_start(pp_progress *p, const pp_log *lg, const char *label, int64_t total,
                       int64_t already_done, const char *unit);
/* Report `done` items of `total`; `extra` (may be NULL) is appended, e.g. "loss 0.69". */
void pp_progress_update(pp_progress *p, int64_t done, const char *extra);
void pp_progress_finish(pp_progress *p, int64_t done, const char *extra);
/* Format seconds as "1h02m", "3m05s", "12.3s". */
void pp_format_duration(double seconds, char *buf, int cap);

#endif
