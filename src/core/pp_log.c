/* pp_log.c - rank-0 messages and progress lines. */
#include "core/pp_log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void pp_log_init(pp_log *lg, const char *prog, int rank, int verbose) {
    memset(lg, 0, sizeof *lg);
    lg->prog = prog;
    lg->rank = rank;
    lg->verbose = verbose;
    lg->out = stdout;
}

static void vsay(const pp_log *lg, const char *tag, const char *fmt, va_list ap) {
    if (!lg || lg->rank != 0) return;
    /* warnings go to stderr; information and progress to stdout, so that a
     * failing run's stderr is exactly its one error line */
    FILE *o = tag[0] ? stderr : (lg->out ? lg->out : stdout);
    fprintf(o, "%s: %s", lg->prog, tag);
    vfprintf(o, fmt, ap);
    fputc('\n', o);
    fflush(o);
}

void pp_info(const pp_log *lg, const char *fmt, ...) {
    if (lg && lg->quiet) return;
    va_list ap;
    va_start(ap, fmt);
    vsay(lg, "", fmt, ap);
    va_end(ap);
}

void pp_debug(const pp_log *lg, const char *fmt, ...) {
    if (!lg || !lg->verbose) return;
    va_list ap;
    va_start(ap, fmt);
    vsay(lg, "", fmt, ap);
    va_end(ap);
}

void pp_warn(const pp_log *lg, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsay(lg, "warning: ", fmt, ap);
    va_end(ap);
}

double pp_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void pp_format_duration(double s, char *buf, int cap) {
    if (s < 0 || s != s) snprintf(buf, (size_t)cap, "?");
    else if (s < 60) snprintf(buf, (size_t)cap, "%.1fs", s);
    else if (s < 3600) snprintf(buf, (size_t)cap, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, (size_t)cap, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

void pp_progress_start(pp_progress *p, const pp_log *lg, const char *label, int64_t total,
                       int64_t already_done, const char *unit) {
    memset(p, 0, sizeof *p);
    p->log = lg;
    snprintf(p->label, sizeof p->label, "%s", label);
    snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "items");
    p->total = total;
    p->start_done = already_done;
    p->t_start = p->t_last = pp_now();
    p->min_interval = 10.0;
    FILE *o = lg && lg->out ? lg->out : stdout;
    /* mpirun gives its ranks a pseudo-terminal even when its own output is
     * a file, so under a launcher only PP_PROGRESS=tty asks for \r lines */
    const char *mode = getenv("PP_PROGRESS");
    int launched = getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_RANK") || getenv("PMIX_RANK") || getenv("SLURM_PROCID");
    if (mode && !strcmp(mode, "tty")) p->tty = 1;
    else if (mode && !strcmp(mode, "lines")) p->tty = 0;
    else p->tty = isatty(fileno(o)) && !launched;
}

static void emit(pp_progress *p, int64_t done, const char *extra, int final) {
    const pp_log *lg = p->log;
    if (!lg || lg->rank != 0 || lg->quiet) return;
    FILE *o = lg->out ? lg->out : stdout;
    double now = pp_now(), el = now - p->t_start;
    double rate = el > 0 ? (double)(done - p->start_done) / el : 0;
    char eta[32] = "?", elapsed[32];
    if (rate > 0 && p->total > 0) pp_format_duration((double)(p->total - done) / rate, eta, sizeof eta);
    pp_format_duration(el, elapsed, sizeof elapsed);
    double pct = p->total > 0 ? 100.0 * (double)done / (double)p->total : 0;
    char line[512];
    if (final)
        snprintf(line, sizeof line, "%s: %s: %lld/%lld %s done in %s (%.3g %s/s)%s%s", lg->prog,
                 p->label, (long long)done, (long long)p->total, p->unit, elapsed, rate, p->unit,
                 extra ? ", " : "", extra ? extra : "");
    else
        snprintf(line, sizeof line, "%s: %s: %lld/%lld (%.0f%%) %.3g %s/s ETA %s%s%s", lg->prog,
                 p->label, (long long)done, (long long)p->total, pct, rate, p->unit, eta,
                 extra ? ", " : "", extra ? extra : "");
    if (p->tty) fprintf(o, "\r%-100s%s", line, final ? "\n" : "");
    else fprintf(o, "%s\n", line);
    fflush(o);
    p->printed = 1;
}

void pp_progress_update(pp_progress *p, int64_t done, const char *extra) {
    double now = pp_now();
    double gap = p->tty ? 0.25 : p->min_interval;
    if (now - p->t_last < gap) return;
    p->t_last = now;
    emit(p, done, extra, 0);
}

void pp_progress_finish(pp_progress *p, int64_t done, const char *extra) { emit(p, done, extra, 1); }
