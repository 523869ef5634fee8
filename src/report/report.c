/* report.c - training and evaluation plots with gnuplot (report.h).
 *
 * Nothing read from an input (file paths, attributes, labels, split names,
 * the metric name) is ever written into gnuplot code as it is.  Each plot
 * is drawn in a private directory made next to the PNG: the script there
 * names only fixed files (plot.dat, plot.png), numbers go through the data
 * file, and every text shown on the plot goes through report_gp_string. */
#include "report/report.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "model/model_io.h"
#include "io/pp_h5.h"
#include "core/pp_mpi.h"
#include "report/rounds.h"

/* gnuplot runs code from a newline ('!cmd'), a closed quote ('.system()'),
 * backquotes and @macros, so a literal keeps letters, digits, space and a
 * few punctuation marks that mean nothing to it inside single quotes;
 * every other byte (UTF-8 too) becomes '_'. */
const char *report_gp_string(const char *s, char *out, size_t cap) {
    static const char allowed[] = " -_.,:/+=()[]%#";
    size_t n = 0;
    if (cap < 3) {
        if (cap) out[0] = '\0';
        return out;
    }
    out[n++] = '\'';
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && n + 2 < cap; p++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr(allowed, *p);
        out[n++] = ok ? (char)*p : '_';
    }
    out[n++] = '\'';
    out[n] = '\0';
    return out;
}

/* The private directory of one plot and the fixed names inside it. */
typedef struct {
    char dir[PP_PATH_MAX], dat[PP_PATH_MAX + 16], gp[PP_PATH_MAX + 16], png[PP_PATH_MAX + 16], log[PP_PATH_MAX + 16];
} plot_dir;

static pp_status plot_dir_make(plot_dir *p, const char *png_path, pp_err *err) {
    memset(p, 0, sizeof *p);
    if (snprintf(p->dir, sizeof p->dir, "%s.tmp.XXXXXX", png_path) >= (int)sizeof p->dir)
        return pp_fail(err, PP_EINPUT, "%s: path too long", png_path);
    if (!mkdtemp(p->dir)) {
        p->dir[0] = '\0';
        return pp_fail(err, PP_EINPUT, "%s: cannot make a directory beside it: %s", png_path, strerror(errno));
    }
    snprintf(p->dat, sizeof p->dat, "%s/plot.dat", p->dir);
    snprintf(p->gp, sizeof p->gp, "%s/plot.gp", p->dir);
    snprintf(p->png, sizeof p->png, "%s/plot.png", p->dir);
    snprintf(p->log, sizeof p->log, "%s/gnuplot.log", p->dir);
    return PP_OK;
}

static void plot_dir_remove(plot_dir *p) {
    if (!p->dir[0]) return;
    unlink(p->dat);
    unlink(p->gp);
    unlink(p->png);
    unlink(p->log);
    rmdir(p->dir);
}

static pp_status open_for_writing(const char *path, FILE **f, pp_err *err) {
    *f = fopen(path, "w");
    return *f ? PP_OK : pp_fail(err, PP_EINPUT, "%s: cannot write: %s", path, strerror(errno));
}

static pp_status close_written(FILE *f, const char *path, pp_status st, pp_err *err) {
    if (!f) return st;
    int bad = ferror(f) | fclose(f);
    return st == PP_OK && bad ? pp_fail(err, PP_ESYS, "%s: write failed (disk full?)", path) : st;
}

/* The first line gnuplot wrote to its log, for a one-line error. */
static void first_line(const char *path, char *buf, size_t cap) {
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    while (fgets(buf, (int)cap, f)) {
        buf[strcspn(buf, "\r\n")] = '\0';
        char *s = buf;
        while (*s == ' ' || *s == '\t' || *s == '^') s++;
        if (*s) {
            memmove(buf, s, strlen(s) + 1);
            break;
        }
        buf[0] = '\0';
    }
    fclose(f);
}

/* Run gnuplot on plot.gp inside the plot directory (no shell; its output
 * goes to gnuplot.log), then move plot.png to png_path.  A stop signal
 * (pp_stop_requested) is passed on to gnuplot, and nothing is written. */
static pp_status run_gnuplot(const char *gnuplot, plot_dir *p, const char *png_path, pp_err *err) {
    /* the child changes directory: a relative program path must not */
    char prog[PATH_MAX];
    if (strchr(gnuplot, '/') && gnuplot[0] != '/') {
        if (!realpath(gnuplot, prog)) return pp_fail(err, PP_EINPUT, "cannot run '%s': %s", gnuplot, strerror(errno));
    } else snprintf(prog, sizeof prog, "%s", gnuplot);
    pid_t pid = fork();
    if (pid < 0) return pp_fail(err, PP_ESYS, "fork failed: %s", strerror(errno));
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY), log = open(p->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || log < 0 || chdir(p->dir) != 0) _exit(126);
        dup2(in, 0);
        dup2(log, 1);
        dup2(log, 2);
        execlp(prog, prog, "plot.gp", (char *)NULL);
        _exit(127);
    }
    /* poll, so a signal that lands just before a blocking wait is not lost */
    int status = 0, stopped = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) break;
        if (!stopped && pp_stop_requested()) {
            kill(pid, SIGTERM);
            stopped = 1;
        }
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    if (stopped || pp_stop_requested())
        return pp_fail(err, PP_EINTERRUPTED, "stopped by a signal while gnuplot drew %s; nothing written (run again)", png_path);
    char why[200];
    first_line(p->log, why, sizeof why);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return pp_fail(err, PP_EINPUT, "cannot run '%s' (install gnuplot, e.g. the gnuplot-nox package)", gnuplot);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return pp_fail(err, PP_ESYS, "gnuplot failed on %s (%s %d)%s%s; nothing written", png_path,
                       WIFEXITED(status) ? "exit" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                       why[0] ? ": " : "", why);
    struct stat s;
    if (stat(p->png, &s) != 0 || s.st_size == 0) return pp_fail(err, PP_ESYS, "gnuplot wrote no image for %s; nothing written", png_path);
    if (rename(p->png, png_path) != 0) return pp_fail(err, PP_EINPUT, "%s: cannot write: %s", png_path, strerror(errno));
    return PP_OK;
}

/* Close the script, run gnuplot, remove the plot directory: the end of every plot. */
static pp_status plot_draw(plot_dir *p, FILE *g, pp_status st, const char *gnuplot, const char *png_path, pp_err *err) {
    st = close_written(g, p->gp, st, err);
    if (st == PP_OK) st = run_gnuplot(gnuplot, p, png_path, err);
    plot_dir_remove(p);
    return st;
}

/* "--NAME=VALUE" in a provenance argument string, copied into buf; "" when absent. */
static void argument_value(const char *args, const char *name, char *buf, size_t cap) {
    buf[0] = '\0';
    size_t n = strlen(name);
    for (const char *a = args; (a = strstr(a, "--")) != NULL; a += 2) {
        if ((a == args || a[-1] == ' ') && strncmp(a + 2, name, n) == 0 && a[2 + n] == '=') {
            const char *v = a + 3 + n;
            size_t len = strcspn(v, " ");
            snprintf(buf, cap, "%.*s", (int)(len < cap ? len : cap - 1), v);
            return;
        }
    }
}

void report_training_script(FILE *g, const char *title, int dpo, double budget) {
    char t[512];
    fprintf(g, "set terminal pngcairo noenhanced size 1200,%d font 'sans,10'\nset output 'plot.png'\n", dpo ? 900 : 450);
    fprintf(g, "set datafile missing 'nan'\nset grid\nset key top right\nset xlabel 'step'\n");
    fprintf(g, "set multiplot layout %s title %s\n", dpo ? "2,2" : "1,2", report_gp_string(title, t, sizeof t));
    if (dpo) {
        fprintf(g, "set title 'loss'\nplot 'plot.dat' u 1:2 w l lw 2 t 'loss', log(2) w l dt 2 lc rgb 'gray' t 'ln 2'\n");
        fprintf(g, "set title 'rewards'\nplot 'plot.dat' u 1:3 w l lw 2 t 'rewards/margins', '' u 1:7 w l t 'rewards/chosen', "
                   "'' u 1:8 w l t 'rewards/rejected'\n");
        fprintf(g, "set title 'rewards/accuracies'\nset yrange [0:1]\nplot 'plot.dat' u 1:4 w l lw 2 t 'accuracy', 0.5 w l dt 2 "
                   "lc rgb 'gray' t 'chance'\nset autoscale y\n");
        fprintf(g, "set title 'change of the chosen log-likelihood (policy - reference)'\n");
        fprintf(g, "plot 'plot.dat' u 1:6 w l lw 2 t 'mean Δw (nats)', 0 w l dt 2 lc rgb 'gray' t ''");
        if (budget >= 0 && isfinite(budget)) fprintf(g, ", %.9g w l lw 2 lc rgb 'red' t 'BCR budget -δ = %.9g'", -budget, -budget);
        fprintf(g, "\nunset multiplot\n");
    } else {
        fprintf(g, "set title 'loss'\nplot 'plot.dat' u 1:2 w l lw 2 t 'loss'\n");
        fprintf(g, "set title 'gradient norm'\nplot 'plot.dat' u 1:9 w l t 'grad_norm'\nunset multiplot\n");
    }
}

pp_status report_training(const char *model_path, const char *png_path, const char *gnuplot, pp_err *err) {
    const char *names[] = {"loss", "rewards/margins", "rewards/accuracies", "logps/chosen", "delta/chosen_mean",
                           "rewards/chosen", "rewards/rejected", "grad_norm"};
    enum { N = 8 };
    double *v[N] = {0};
    int64_t n[N] = {0};
    pp_status st = PP_OK;
    for (int i = 0; st == PP_OK && i < N; i++) {
        char name[96];
        snprintf(name, sizeof name, "/metrics/%s", names[i]);
        st = model_read_series(model_path, name, &v[i], &n[i], err);
    }
    if (st == PP_OK && n[0] == 0) st = pp_fail(err, PP_EINPUT, "%s: no training metrics (/metrics/loss)", model_path);
    /* the loss actually used: pp-train's --loss (its provenance), else what
     * made the model (sft, import); the budget line belongs to bcr only */
    char args[8192] = "", kind[64] = "", loss[64] = "", budget_s[64] = "";
    if (st == PP_OK) {
        pp_h5 f;
        if (pp_h5_open(&f, model_path, "model", MODEL_SCHEMA_VERSION, err) == PP_OK) {
            pp_h5_opt_attr_str(&f, "/", "arguments", args, sizeof args, "");
            pp_h5_opt_attr_str(&f, "/", "training", kind, sizeof kind, "");
            pp_h5_close(&f);
        }
        argument_value(args, "loss", loss, sizeof loss);
        argument_value(args, "bcr-budget", budget_s, sizeof budget_s);
    }
    const char *label = loss[0] ? loss : kind[0] ? kind : "?";
    char *end;
    double budget = strtod(budget_s, &end);
    if (strcmp(label, "bcr") != 0 || end == budget_s) budget = -1;
    plot_dir p = {0};
    FILE *d = NULL, *g = NULL;
    if (st == PP_OK) st = plot_dir_make(&p, png_path, err);
    if (st == PP_OK) st = open_for_writing(p.dat, &d, err);
    for (int64_t r = 0; d && r < n[0]; r++) {
        fprintf(d, "%lld", (long long)r + 1);
        for (int i = 0; i < N; i++) fprintf(d, " %.9g", r < n[i] ? v[i][r] : 0.0 / 0.0);
        fprintf(d, "\n");
    }
    st = close_written(d, p.dat, st, err);
    if (st == PP_OK) st = open_for_writing(p.gp, &g, err);
    if (g) {
        char title[PP_PATH_MAX + 80];
        snprintf(title, sizeof title, "%s (%s)", model_path, label);
        report_training_script(g, title, n[1] > 0, budget);
    }
    st = plot_draw(&p, g, st, gnuplot, png_path, err);
    for (int i = 0; i < N; i++) free(v[i]);
    return st;
}

void report_eval_script(FILE *g, const char *title, const char *const *splits, int n_splits, int has_acc) {
    char t[512];
    fprintf(g, "set terminal pngcairo noenhanced size %d,450 font 'sans,10'\nset output 'plot.png'\n", has_acc ? 1100 : 600);
    fprintf(g, "set style data histograms\nset style histogram errorbars gap 1 lw 1\nset style fill solid 0.6 border -1\n");
    fprintf(g, "set yrange [0:100]\nset grid ytics\nset key top right\nset xtics (");
    for (int i = 0; i < n_splits; i++) fprintf(g, "%s%s %d", i ? ", " : "", report_gp_string(splits[i], t, sizeof t), i);
    fprintf(g, ")\n");
    if (has_acc) fprintf(g, "set multiplot layout 1,2 title %s\n", report_gp_string(title, t, sizeof t));
    fprintf(g, "set title 'win rate of the policy against the baseline (%%)'\n");
    fprintf(g, "plot 'plot.dat' u 2:3 t 'win rate', 50 w l dt 2 lc rgb 'gray' t '50%%'\n");
    if (has_acc) {
        fprintf(g, "set title 'exact-match accuracy (%%)'\n");
        fprintf(g, "plot 'plot.dat' u 4:5 t 'policy', '' u 6:7 t 'baseline'\nunset multiplot\n");
    }
}

pp_status report_eval(const char *eval_path, const char *png_path, const char *gnuplot, pp_err *err) {
    pp_h5 f;
    PP_TRY(pp_h5_open(&f, eval_path, "eval", 1, err));
    char splits[512] = "";
    pp_status st = pp_h5_get_attr_str(&f, "/", "splits", splits, sizeof splits, err);
    enum { MAX_SPLITS = 64 };
    const char *names[MAX_SPLITS];
    int n_splits = 0, has_acc = 0;
    plot_dir p = {0};
    FILE *d = NULL, *g = NULL;
    if (st == PP_OK) st = plot_dir_make(&p, png_path, err);
    if (st == PP_OK) st = open_for_writing(p.dat, &d, err);
    for (char *save = NULL, *t = strtok_r(splits, ",", &save); st == PP_OK && t; t = strtok_r(NULL, ",", &save)) {
        if (n_splits == MAX_SPLITS) {
            st = pp_fail(err, PP_EINPUT, "%s: more than %d splits", eval_path, MAX_SPLITS);
            break;
        }
        char grp[600];
        snprintf(grp, sizeof grp, "/%s", t);
        double w = 0, wse = 0, pa = 0, pase = 0, ba = 0, base = 0;
        st = pp_h5_get_attr_f64(&f, grp, "win_rate", &w, err);
        if (st == PP_OK) st = pp_h5_get_attr_f64(&f, grp, "win_rate_se", &wse, err);
        if (st == PP_OK && pp_h5_has_attr(&f, grp, "policy_accuracy")) {
            has_acc = 1;
            st = pp_h5_get_attr_f64(&f, grp, "policy_accuracy", &pa, err);
            if (st == PP_OK) st = pp_h5_get_attr_f64(&f, grp, "policy_accuracy_se", &pase, err);
            if (st == PP_OK) st = pp_h5_get_attr_f64(&f, grp, "baseline_accuracy", &ba, err);
            if (st == PP_OK) st = pp_h5_get_attr_f64(&f, grp, "baseline_accuracy_se", &base, err);
        }
        if (st == PP_OK) fprintf(d, "%d %g %g %g %g %g %g\n", n_splits, 100 * w, 100 * wse, 100 * pa, 100 * pase, 100 * ba, 100 * base);
        names[n_splits++] = t;
    }
    pp_h5_close(&f);
    st = close_written(d, p.dat, st, err);
    if (st == PP_OK) st = open_for_writing(p.gp, &g, err);
    if (g) report_eval_script(g, eval_path, names, n_splits, has_acc);
    return plot_draw(&p, g, st, gnuplot, png_path, err);
}

/* Runs of one label, averaged step by step. */
typedef struct {
    char label[128];
    double *sum;   /* per step */
    int64_t steps; /* shortest run so far */
    int runs;
} compare_curve;

void report_compare_script(FILE *g, const char *metric, int smooth, const char *const *labels, const int *runs, int n_curves) {
    char t[512], s[256];
    fprintf(g, "set terminal pngcairo noenhanced size 1000,600 font 'sans,10'\nset output 'plot.png'\n");
    fprintf(g, "set grid\nset key outside right\nset xlabel 'step'\nset ylabel %s\n", report_gp_string(metric, t, sizeof t));
    snprintf(s, sizeof s, "%s: mean over the runs of each setting, trailing mean over %d steps", metric, smooth);
    fprintf(g, "set title %s\nplot ", report_gp_string(s, t, sizeof t));
    for (int k = 0; k < n_curves; k++) {
        snprintf(s, sizeof s, "%s (%d run%s)", labels[k], runs[k], runs[k] == 1 ? "" : "s");
        /* gnuplot cycles through 8 colours: past them, change the dash too */
        fprintf(g, "%s'plot.dat' index %d u 1:2 w l lw 2 lt %d dt %d t %s", k ? ", " : "", k, k % 8 + 1, k / 8 + 1,
                report_gp_string(s, t, sizeof t));
    }
    fprintf(g, ", 0 w l dt 2 lc rgb 'gray' t ''\n");
}

pp_status report_compare(const char *const *runs, int n_runs, const char *metric, const char *png_path,
                         const char *gnuplot, pp_err *err) {
    if (n_runs <= 0) return pp_fail(err, PP_EINPUT, "--compare: no runs given");
    compare_curve *c = calloc((size_t)n_runs, sizeof *c);
    const char **labels = calloc((size_t)n_runs, sizeof *labels);
    int *counts = calloc((size_t)n_runs, sizeof *counts);
    pp_status st = c && labels && counts ? PP_OK : pp_fail(err, PP_ESYS, "out of memory");
    int n_curves = 0;
    char series[160];
    snprintf(series, sizeof series, "/metrics/%s", metric);
    for (int i = 0; st == PP_OK && i < n_runs; i++) {
        const char *eq = strchr(runs[i], '=');
        if (!eq || eq == runs[i] || !eq[1] || (size_t)(eq - runs[i]) >= sizeof c[0].label) {
            st = pp_fail(err, PP_EINPUT, "--compare: '%s' is not LABEL=MODEL.h5", runs[i]);
            break;
        }
        char label[128];
        snprintf(label, sizeof label, "%.*s", (int)(eq - runs[i]), runs[i]);
        double *v = NULL;
        int64_t n = 0;
        if ((st = model_read_series(eq + 1, series, &v, &n, err)) != PP_OK) break;
        if (n == 0) {
            free(v);
            st = pp_fail(err, PP_EINPUT, "%s: no %s (a pp-train output?)", eq + 1, series);
            break;
        }
        int k = 0;
        while (k < n_curves && strcmp(c[k].label, label)) k++;
        if (k == n_curves) {
            snprintf(c[k].label, sizeof c[k].label, "%s", label);
            c[k].sum = calloc((size_t)n, sizeof *c[k].sum);
            c[k].steps = n;
            n_curves++;
            if (!c[k].sum) st = pp_fail(err, PP_ESYS, "out of memory");
        }
        if (n < c[k].steps) c[k].steps = n;
        for (int64_t r = 0; st == PP_OK && r < c[k].steps; r++) c[k].sum[r] += v[r];
        c[k].runs++;
        free(v);
    }
    plot_dir p = {0};
    FILE *d = NULL, *g = NULL;
    if (st == PP_OK) st = plot_dir_make(&p, png_path, err);
    if (st == PP_OK) st = open_for_writing(p.dat, &d, err);
    enum { SMOOTH = 10 }; /* per-batch values are noisy: a trailing mean over 10 steps */
    for (int k = 0; d && k < n_curves; k++) { /* one gnuplot data block per curve */
        double window = 0;
        for (int64_t r = 0; r < c[k].steps; r++) {
            window += c[k].sum[r] - (r >= SMOOTH ? c[k].sum[r - SMOOTH] : 0);
            int64_t w = r + 1 < SMOOTH ? r + 1 : SMOOTH;
            fprintf(d, "%lld %.9g\n", (long long)r + 1, window / (double)w / c[k].runs);
        }
        fprintf(d, "\n\n");
        labels[k] = c[k].label;
        counts[k] = c[k].runs;
    }
    st = close_written(d, p.dat, st, err);
    if (st == PP_OK) st = open_for_writing(p.gp, &g, err);
    if (g) report_compare_script(g, metric, SMOOTH, labels, counts, n_curves);
    st = plot_draw(&p, g, st, gnuplot, png_path, err);
    for (int k = 0; c && k < n_curves; k++) free(c[k].sum);
    free(c);
    free(labels);
    free(counts);
    return st;
}

/* Columns of the rounds data file: round, then per split s from column
 * 2 + RCOLS * s: win rate vs base and its se, vs previous and its se,
 * policy accuracy and its se, base-model accuracy and its se (percent);
 * the last column is the chosen log-likelihood's drift. */
enum { RCOLS = 8 };

void report_rounds_script(FILE *g, const char *title, const char *const *splits, int n_splits, int n_rounds) {
    char t[512], l[256];
    fprintf(g, "set terminal pngcairo noenhanced size 1500,480 font 'sans,10'\nset output 'plot.png'\n");
    fprintf(g, "set datafile missing 'nan'\nset grid\nset key bottom left\nset xlabel 'round'\nset xtics 1\n");
    fprintf(g, "set xrange [0.5:%d.5]\nset offsets 0, 0, 0.05, 0.05\n", n_rounds);
    fprintf(g, "set multiplot layout 1,3 title %s\n", report_gp_string(title, t, sizeof t));
    fprintf(g, "set title 'win rate %% (solid: vs the base model, dashed: vs the previous round)'\nset yrange [0:100]\nplot ");
    for (int k = 0; k < n_splits; k++) {
        int c = 2 + RCOLS * k;
        snprintf(l, sizeof l, "%s vs base", splits[k]);
        fprintf(g, "'plot.dat' u 1:%d:%d w yerrorlines lw 2 lt %d t %s, ", c, c + 1, k + 1, report_gp_string(l, t, sizeof t));
        snprintf(l, sizeof l, "%s vs previous", splits[k]);
        fprintf(g, "'' u 1:%d:%d w yerrorlines lw 2 dt 2 lt %d t %s, ", c + 2, c + 3, k + 1, report_gp_string(l, t, sizeof t));
    }
    fprintf(g, "50 w l dt 3 lc rgb 'gray' t ''\n");
    fprintf(g, "set title 'exact-match accuracy %% (solid: policy, dotted: base model)'\nset autoscale y\nplot ");
    for (int k = 0; k < n_splits; k++) {
        int c = 2 + RCOLS * k;
        snprintf(l, sizeof l, "%s policy", splits[k]);
        fprintf(g, "%s'plot.dat' u 1:%d:%d w yerrorlines lw 2 lt %d t %s", k ? ", " : "", c + 4, c + 5, k + 1,
                report_gp_string(l, t, sizeof t));
        snprintf(l, sizeof l, "%s base model", splits[k]);
        fprintf(g, ", '' u 1:%d w l dt 3 lt %d t %s", c + 6, k + 1, report_gp_string(l, t, sizeof t));
    }
    fprintf(g, "\nset title 'chosen log-likelihood drift, policy - reference (nats, last %d steps)'\n",
            ROUNDS_TAIL_STEPS);
    fprintf(g, "plot 'plot.dat' u 1:%d w lp lw 2 pt 7 t 'drift', 0 w l dt 2 lc rgb 'gray' t ''\nunset multiplot\n",
            2 + RCOLS * n_splits);
}

pp_status report_rounds(const char *rounds_path, const char *png_path, const char *gnuplot, pp_err *err) {
    rounds_summary s;
    PP_TRY(rounds_load(rounds_path, &s, err));
    const char *names[ROUNDS_MAX_SPLITS];
    char splits[sizeof s.splits];
    memcpy(splits, s.splits, sizeof splits);
    int n_names = 0;
    for (char *save = NULL, *t = strtok_r(splits, ",", &save); t && n_names < ROUNDS_MAX_SPLITS; t = strtok_r(NULL, ",", &save))
        names[n_names++] = t;
    pp_status st = n_names == s.n_splits ? PP_OK
                                         : pp_fail(err, PP_EINPUT, "%s: splits '%s' do not name n_splits = %d splits", rounds_path,
                                                   s.splits, s.n_splits);
    plot_dir p = {0};
    FILE *d = NULL, *g = NULL;
    if (st == PP_OK) st = plot_dir_make(&p, png_path, err);
    if (st == PP_OK) st = open_for_writing(p.dat, &d, err);
    const int order[RCOLS][2] = {{ROUNDS_VS_BASE, ROUNDS_WIN},          {ROUNDS_VS_BASE, ROUNDS_WIN_SE},
                                 {ROUNDS_VS_PREVIOUS, ROUNDS_WIN},      {ROUNDS_VS_PREVIOUS, ROUNDS_WIN_SE},
                                 {ROUNDS_VS_BASE, ROUNDS_POLICY_ACC},   {ROUNDS_VS_BASE, ROUNDS_POLICY_ACC_SE},
                                 {ROUNDS_VS_BASE, ROUNDS_BASELINE_ACC}, {ROUNDS_VS_BASE, ROUNDS_BASELINE_ACC_SE}};
    for (int r = 0; d && r < s.n_rounds; r++) {
        fprintf(d, "%d", r + 1);
        for (int k = 0; k < s.n_splits; k++)
            for (int c = 0; c < RCOLS; c++) fprintf(d, " %.9g", 100 * s.eval[order[c][0]][order[c][1]][(size_t)r * s.n_splits + k]);
        fprintf(d, " %.9g\n", s.train[ROUNDS_DRIFT][r]);
    }
    st = close_written(d, p.dat, st, err);
    if (st == PP_OK) st = open_for_writing(p.gp, &g, err);
    if (g) {
        char title[PP_PATH_MAX + 80];
        snprintf(title, sizeof title, "%s: %d rounds, each trained against %s", rounds_path, s.n_rounds,
                 rounds_reference_words(&s));
        report_rounds_script(g, title, names, s.n_splits, s.n_rounds);
    }
    st = plot_draw(&p, g, st, gnuplot, png_path, err);
    rounds_free(&s);
    return st;
}
