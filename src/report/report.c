/* report.c - training and evaluation plots with gnuplot (report.h). */
#include "report/report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model/model_io.h"
#include "io/pp_h5.h"

/* Run gnuplot on a script file; its output is the PNG the script names. */
static pp_status run_gnuplot(const char *gnuplot, const char *script, const char *png, pp_err *err) {
    pid_t pid = fork();
    if (pid < 0) return pp_fail(err, PP_ESYS, "fork failed: %s", strerror(errno));
    if (pid == 0) {
        execlp(gnuplot, gnuplot, script, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 127)
        return pp_fail(err, PP_EINPUT, "cannot run '%s' (install gnuplot, e.g. the gnuplot-nox package)", gnuplot);
    if (WEXITSTATUS(status) != 0) return pp_fail(err, PP_ESYS, "gnuplot failed on %s (exit %d)", script, WEXITSTATUS(status));
    struct stat s;
    if (stat(png, &s) != 0 || s.st_size == 0) return pp_fail(err, PP_ESYS, "gnuplot did not write %s", png);
    return PP_OK;
}

/* gnuplot strings are in single quotes: refuse paths that would break them. */
static pp_status plain_path(const char *p, pp_err *err) {
    if (strchr(p, '\'') || strchr(p, '\n')) return pp_fail(err, PP_EINPUT, "%s: quotes and newlines are not allowed in plot paths", p);
    return PP_OK;
}

static double budget_from_arguments(const char *args) {
    const char *b = strstr(args, "--bcr-budget=");
    return b ? atof(b + 13) : -1;
}

pp_status report_training(const char *model_path, const char *png_path, const char *gnuplot, pp_err *err) {
    PP_TRY(plain_path(png_path, err));
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
    char args[8192] = "", kind[32] = "";
    if (st == PP_OK) {
        pp_h5 f;
        if (pp_h5_open(&f, model_path, "model", MODEL_SCHEMA_VERSION, err) == PP_OK) {
            pp_err e2;
            pp_h5_get_attr_str(&f, "/", "arguments", args, sizeof args, &e2);
            pp_h5_get_attr_str(&f, "/", "training", kind, sizeof kind, &e2);
            pp_h5_close(&f);
        }
    }
    char dat[PP_PATH_MAX], gp[PP_PATH_MAX];
    snprintf(dat, sizeof dat, "%s.dat", png_path);
    snprintf(gp, sizeof gp, "%s.gp", png_path);
    FILE *d = st == PP_OK ? fopen(dat, "w") : NULL;
    if (st == PP_OK && !d) st = pp_fail(err, PP_EINPUT, "%s: cannot write: %s", dat, strerror(errno));
    for (int64_t r = 0; d && r < n[0]; r++) {
        fprintf(d, "%lld", (long long)r + 1);
        for (int i = 0; i < N; i++) fprintf(d, " %.9g", i < N && r < n[i] ? v[i][r] : 0.0 / 0.0);
        fprintf(d, "\n");
    }
    if (d) fclose(d);
    int dpo = n[1] > 0;
    double budget = budget_from_arguments(args);
    FILE *g = st == PP_OK ? fopen(gp, "w") : NULL;
    if (st == PP_OK && !g) st = pp_fail(err, PP_EINPUT, "%s: cannot write: %s", gp, strerror(errno));
    if (g) {
        fprintf(g, "set terminal pngcairo noenhanced size 1200,%d font 'sans,10'\nset output '%s'\n", dpo ? 900 : 450, png_path);
        fprintf(g, "set datafile missing 'nan'\nset grid\nset key top right\nset xlabel 'step'\n");
        if (dpo) {
            fprintf(g, "set multiplot layout 2,2 title '%s (%s)'\n", model_path, kind);
            fprintf(g, "set title 'loss'\nplot '%s' u 1:2 w l lw 2 t 'loss', log(2) w l dt 2 lc rgb 'gray' t 'ln 2'\n", dat);
            fprintf(g, "set title 'rewards'\nplot '%s' u 1:3 w l lw 2 t 'rewards/margins', '' u 1:7 w l t 'rewards/chosen', "
                       "'' u 1:8 w l t 'rewards/rejected'\n", dat);
            fprintf(g, "set title 'rewards/accuracies'\nset yrange [0:1]\nplot '%s' u 1:4 w l lw 2 t 'accuracy', 0.5 w l dt 2 "
                       "lc rgb 'gray' t 'chance'\nset autoscale y\n", dat);
            fprintf(g, "set title 'change of the chosen log-likelihood (policy - reference)'\n");
            fprintf(g, "plot '%s' u 1:6 w l lw 2 t 'mean Δw (nats)', 0 w l dt 2 lc rgb 'gray' t ''", dat);
            if (budget >= 0) fprintf(g, ", %g w l lw 2 lc rgb 'red' t 'BCR budget -δ = %g'", -budget, -budget);
            fprintf(g, "\nunset multiplot\n");
        } else {
            fprintf(g, "set multiplot layout 1,2 title '%s (%s)'\n", model_path, kind);
            fprintf(g, "set title 'loss'\nplot '%s' u 1:2 w l lw 2 t 'loss'\n", dat);
            fprintf(g, "set title 'gradient norm'\nplot '%s' u 1:9 w l t 'grad_norm'\nunset multiplot\n", dat);
        }
        fclose(g);
        st = run_gnuplot(gnuplot, gp, png_path, err);
    }
    unlink(dat);
    unlink(gp);
    for (int i = 0; i < N; i++) free(v[i]);
    return st;
}

pp_status report_eval(const char *eval_path, const char *png_path, const char *gnuplot, pp_err *err) {
    PP_TRY(plain_path(png_path, err));
    pp_h5 f;
    PP_TRY(pp_h5_open(&f, eval_path, "eval", 1, err));
    char splits[512] = "";
    pp_status st = pp_h5_get_attr_str(&f, "/", "splits", splits, sizeof splits, err);
    char dat[PP_PATH_MAX], gp[PP_PATH_MAX];
    snprintf(dat, sizeof dat, "%s.dat", png_path);
    snprintf(gp, sizeof gp, "%s.gp", png_path);
    FILE *d = st == PP_OK ? fopen(dat, "w") : NULL;
    if (st == PP_OK && !d) st = pp_fail(err, PP_EINPUT, "%s: cannot write: %s", dat, strerror(errno));
    int has_acc = 0, rows = 0;
    for (char *save = NULL, *t = strtok_r(splits, ",", &save); st == PP_OK && t; t = strtok_r(NULL, ",", &save)) {
        char g[64];
        snprintf(g, sizeof g, "/%s", t);
        double w = 0, wse = 0, pa = 0, pase = 0, ba = 0, base = 0;
        st = pp_h5_get_attr_f64(&f, g, "win_rate", &w, err);
        if (st == PP_OK) st = pp_h5_get_attr_f64(&f, g, "win_rate_se", &wse, err);
        if (st == PP_OK && pp_h5_has_attr(&f, g, "policy_accuracy")) {
            has_acc = 1;
            pp_h5_get_attr_f64(&f, g, "policy_accuracy", &pa, err);
            pp_h5_get_attr_f64(&f, g, "policy_accuracy_se", &pase, err);
            pp_h5_get_attr_f64(&f, g, "baseline_accuracy", &ba, err);
            pp_h5_get_attr_f64(&f, g, "baseline_accuracy_se", &base, err);
        }
        if (st == PP_OK) fprintf(d, "%s %g %g %g %g %g %g\n", t, 100 * w, 100 * wse, 100 * pa, 100 * pase, 100 * ba, 100 * base);
        rows++;
    }
    pp_h5_close(&f);
    if (d) fclose(d);
    FILE *g = st == PP_OK ? fopen(gp, "w") : NULL;
    if (st == PP_OK && !g) st = pp_fail(err, PP_EINPUT, "%s: cannot write: %s", gp, strerror(errno));
    if (g) {
        fprintf(g, "set terminal pngcairo noenhanced size %d,450 font 'sans,10'\nset output '%s'\n", has_acc ? 1100 : 600, png_path);
        fprintf(g, "set style data histograms\nset style histogram errorbars gap 1 lw 1\nset style fill solid 0.6 border -1\n");
        fprintf(g, "set yrange [0:100]\nset grid ytics\nset key top right\n");
        if (has_acc) fprintf(g, "set multiplot layout 1,2 title '%s'\n", eval_path);
        fprintf(g, "set title 'win rate of the policy against the baseline (%%)'\n");
        fprintf(g, "plot '%s' u 2:3:xtic(1) t 'win rate', 50 w l dt 2 lc rgb 'gray' t '50%%'\n", dat);
        if (has_acc) {
            fprintf(g, "set title 'exact-match accuracy (%%)'\n");
            fprintf(g, "plot '%s' u 4:5:xtic(1) t 'policy', '' u 6:7 t 'baseline'\nunset multiplot\n", dat);
        }
        fclose(g);
        st = run_gnuplot(gnuplot, gp, png_path, err);
    }
    unlink(dat);
    unlink(gp);
    (void)rows;
    return st;
}

/* Runs of one label, averaged step by step. */
typedef struct {
    char label[128];
    double *sum;   /* per step */
    int64_t steps; /* shortest run so far */
    int runs;
} compare_curve;

pp_status report_compare(const char *const *runs, int n_runs, const char *metric, const char *png_path,
                         const char *gnuplot, pp_err *err) {
    PP_TRY(plain_path(png_path, err));
    if (n_runs <= 0) return pp_fail(err, PP_EINPUT, "--compare: no runs given");
    compare_curve *c = calloc((size_t)n_runs, sizeof *c);
    if (!c) return pp_fail(err, PP_ESYS, "out of memory");
    int n_curves = 0;
    char series[160];
    snprintf(series, sizeof series, "/metrics/%s", metric);
    pp_status st = PP_OK;
    for (int i = 0; st == PP_OK && i < n_runs; i++) {
        const char *eq = strchr(runs[i], '=');
        if (!eq || eq == runs[i] || !eq[1] || (size_t)(eq - runs[i]) >= sizeof c[0].label) {
            st = pp_fail(err, PP_EINPUT, "--compare: '%s' is not LABEL=MODEL.h5", runs[i]);
            break;
        }
        char label[128];
        snprintf(label, sizeof label, "%.*s", (int)(eq - runs[i]), runs[i]);
        if ((st = plain_path(label, err)) != PP_OK) break;
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
    char dat[PP_PATH_MAX], gp[PP_PATH_MAX];
    snprintf(dat, sizeof dat, "%s.dat", png_path);
    snprintf(gp, sizeof gp, "%s.gp", png_path);
    FILE *d = st == PP_OK ? fopen(dat, "w") : NULL;
    if (st == PP_OK && !d) st = pp_fail(err, PP_EINPUT, "%s: cannot write: %s", dat, strerror(errno));
    enum { SMOOTH = 10 }; /* per-batch values are noisy: a trailing mean over 10 steps */
    for (int k = 0; d && k < n_curves; k++) { /* one gnuplot data block per curve */
        double window = 0;
        for (int64_t r = 0; r < c[k].steps; r++) {
            window += c[k].sum[r] - (r >= SMOOTH ? c[k].sum[r - SMOOTH] : 0);
            int64_t w = r + 1 < SMOOTH ? r + 1 : SMOOTH;
            fprintf(d, "%lld %.9g\n", (long long)r + 1, window / (double)w / c[k].runs);
        }
        fprintf(d, "\n\n");
    }
    if (d) fclose(d);
    FILE *g = st == PP_OK ? fopen(gp, "w") : NULL;
    if (st == PP_OK && !g) st = pp_fail(err, PP_EINPUT, "%s: cannot write: %s", gp, strerror(errno));
    if (g) {
        fprintf(g, "set terminal pngcairo noenhanced size 1000,600 font 'sans,10'\nset output '%s'\n", png_path);
        fprintf(g, "set grid\nset key outside right\nset xlabel 'step'\nset ylabel '%s'\n", metric);
        fprintf(g, "set title '%s: mean over the runs of each setting, trailing mean over %d steps'\nplot ", metric, (int)SMOOTH);
        for (int k = 0; k < n_curves; k++)
            /* gnuplot cycles through 8 colours: past them, change the dash too */
            fprintf(g, "%s'%s' index %d u 1:2 w l lw 2 lt %d dt %d t '%s (%d run%s)'", k ? ", " : "", dat, k, k % 8 + 1,
                    k / 8 + 1, c[k].label, c[k].runs, c[k].runs == 1 ? "" : "s");
        fprintf(g, ", 0 w l dt 2 lc rgb 'gray' t ''\n");
        fclose(g);
        st = run_gnuplot(gnuplot, gp, png_path, err);
    }
    unlink(dat);
    unlink(gp);
    for (int k = 0; k < n_curves; k++) free(c[k].sum);
    free(c);
    return st;
}
