/* rounds.c - the summary file of an iterative run (rounds.h). */
#include "report/rounds.h"

#include <math.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eval/eval.h"
#include "io/pairs.h"
#include "model/model_io.h"

const char *const rounds_eval_names[ROUNDS_N_EVAL] = {"win_rate", "win_rate_se", "policy_accuracy", "policy_accuracy_se",
                                                      "baseline_accuracy", "baseline_accuracy_se"};
const char *const rounds_train_names[ROUNDS_N_TRAIN] = {"loss", "rewards_accuracies", "rewards_margins", "logps_chosen",
                                                        "chosen_drift", "heldout_rewards_accuracy"};
const char *const rounds_count_names[ROUNDS_N_COUNTS] = {"n_pairs", "n_prompts", "prompts_without_pair", "steps"};
const char *const rounds_truth_names[ROUNDS_N_TRUTH] = {"truth_pair_accuracy", "truth_mean_gap"};
const char *const rounds_baseline_names[ROUNDS_N_BASELINES] = {"base", "previous"};

/* where each kind of value lives in the rounds file */
static const char *const count_groups[ROUNDS_N_COUNTS] = {"pairs", "pairs", "pairs", "train"};
/* the pp-train /metrics series behind the training values (the last one
 * is the /train attribute heldout_rewards_accuracy) */
static const char *const train_series[ROUNDS_N_TRAIN - 1] = {"/metrics/loss", "/metrics/rewards/accuracies",
                                                              "/metrics/rewards/margins", "/metrics/logps/chosen",
                                                              "/metrics/delta/chosen_mean"};

static pp_status rounds_alloc(rounds_summary *s, int n_rounds, int n_splits, pp_err *err) {
    s->n_rounds = n_rounds;
    s->n_splits = n_splits;
    size_t n = (size_t)n_rounds, ns = n * (size_t)n_splits;
    int ok = (s->policy_fp = calloc(n, sizeof *s->policy_fp)) && (s->generator_fp = calloc(n, sizeof *s->generator_fp)) &&
             (s->reference_fp = calloc(n, sizeof *s->reference_fp));
    for (int i = 0; ok && i < ROUNDS_N_COUNTS; i++) ok = (s->count[i] = calloc(n, sizeof(int64_t))) != NULL;
    for (int i = 0; ok && i < ROUNDS_N_TRUTH; i++) ok = (s->truth[i] = calloc(n, sizeof(double))) != NULL;
    for (int i = 0; ok && i < ROUNDS_N_TRAIN; i++) ok = (s->train[i] = calloc(n, sizeof(double))) != NULL;
    for (int b = 0; ok && b < ROUNDS_N_BASELINES; b++)
        for (int i = 0; ok && i < ROUNDS_N_EVAL; i++) ok = (s->eval[b][i] = calloc(ns, sizeof(double))) != NULL;
    return ok ? PP_OK : pp_fail(err, PP_ESYS, "out of memory");
}

void rounds_free(rounds_summary *s) {
    free(s->policy_fp);
    free(s->generator_fp);
    free(s->reference_fp);
    for (int i = 0; i < ROUNDS_N_COUNTS; i++) free(s->count[i]);
    for (int i = 0; i < ROUNDS_N_TRUTH; i++) free(s->truth[i]);
    for (int i = 0; i < ROUNDS_N_TRAIN; i++) free(s->train[i]);
    for (int b = 0; b < ROUNDS_N_BASELINES; b++)
        for (int i = 0; i < ROUNDS_N_EVAL; i++) free(s->eval[b][i]);
    memset(s, 0, sizeof *s);
}

/* dir/round-RR/name (name NULL: the directory) */
static pp_status round_path(char *out, const char *dir, int r, const char *name, pp_err *err) {
    int n = name ? snprintf(out, PP_PATH_MAX, "%s/round-%02d/%s", dir, r, name) : snprintf(out, PP_PATH_MAX, "%s/round-%02d", dir, r);
    return n < PP_PATH_MAX ? PP_OK : pp_fail(err, PP_EINPUT, "%s: path too long", dir);
}

static pp_status fingerprint_attr(pp_h5 *f, const char *path, const char *name, char out[17], pp_err *err) {
    char buf[64];
    PP_TRY(pp_h5_get_attr_str(f, "/", name, buf, sizeof buf, err));
    if (strlen(buf) != 16) return pp_fail(err, PP_EINPUT, "%s: attribute %s: '%s' is not a 16-digit fingerprint", path, name, buf);
    memcpy(out, buf, 17);
    return PP_OK;
}

static pp_status read_pairs(const char *path, rounds_summary *s, int i, pp_err *err) {
    pp_h5 f;
    PP_TRY(pp_h5_open(&f, path, "pairs", PAIRS_SCHEMA_VERSION, err));
    const char *attrs[] = {"n_pairs", "n_prompts", "prompts_without_pair"};
    pp_status st = PP_OK;
    for (int k = 0; st == PP_OK && k < 3; k++) st = pp_h5_get_attr_i64(&f, "/", attrs[k], &s->count[k][i], err);
    if (st == PP_OK) st = fingerprint_attr(&f, path, "model_fingerprint", s->generator_fp[i], err);
    for (int k = 0; k < ROUNDS_N_TRUTH; k++) pp_h5_opt_attr_f64(&f, "/", rounds_truth_names[k], &s->truth[k][i], NAN);
    pp_h5_close(&f);
    return st;
}

static pp_status read_policy(const char *path, rounds_summary *s, int i, pp_err *err) {
    pp_h5 f;
    PP_TRY(pp_h5_open(&f, path, "model", MODEL_SCHEMA_VERSION, err));
    pp_status st = fingerprint_attr(&f, path, "fingerprint", s->policy_fp[i], err);
    if (st == PP_OK && !pp_h5_has_attr(&f, "/", "input_reference_fingerprint"))
        st = pp_fail(err, PP_EINPUT, "%s: no attribute input_reference_fingerprint (not made by pp-train)", path);
    if (st == PP_OK) st = fingerprint_attr(&f, path, "input_reference_fingerprint", s->reference_fp[i], err);
    s->train[ROUNDS_HELDOUT_ACC][i] = NAN;
    if (st == PP_OK && pp_h5_exists(&f, "/train"))
        pp_h5_opt_attr_f64(&f, "/train", "heldout_rewards_accuracy", &s->train[ROUNDS_HELDOUT_ACC][i], NAN);
    pp_h5_close(&f);
    for (int k = 0; st == PP_OK && k < ROUNDS_N_TRAIN - 1; k++) {
        double *v = NULL;
        int64_t n = 0;
        st = model_read_series(path, train_series[k], &v, &n, err);
        if (st == PP_OK && n == 0) st = pp_fail(err, PP_EINPUT, "%s: %s: no training metrics", path, train_series[k]);
        double sum = 0;
        int64_t tail = n < ROUNDS_TAIL_STEPS ? n : ROUNDS_TAIL_STEPS;
        for (int64_t j = n - tail; st == PP_OK && j < n; j++) sum += v[j];
        if (st == PP_OK) s->train[k][i] = sum / (double)tail;
        if (st == PP_OK && k == ROUNDS_LOSS) s->count[ROUNDS_STEPS][i] = n;
        free(v);
    }
    return st;
}

/* One eval file's summary per split; its splits must be s->splits. */
static pp_status read_eval(const char *path, rounds_summary *s, int b, int i, pp_err *err) {
    pp_h5 f;
    PP_TRY(pp_h5_open(&f, path, "eval", EVAL_SCHEMA_VERSION, err));
    char splits[sizeof s->splits];
    pp_status st = pp_h5_get_attr_str(&f, "/", "splits", splits, sizeof splits, err);
    if (st == PP_OK && strcmp(splits, s->splits) != 0)
        st = pp_fail(err, PP_EINPUT, "%s: splits '%s' differ from round 1's '%s' (every round is evaluated on the same prompts)",
                     path, splits, s->splits);
    char *save = NULL, *t = strtok_r(splits, ",", &save);
    for (int k = 0; st == PP_OK && t; k++, t = strtok_r(NULL, ",", &save)) {
        char grp[600];
        snprintf(grp, sizeof grp, "/%s", t);
        for (int m = 0; st == PP_OK && m < ROUNDS_N_EVAL; m++) {
            double *v = &s->eval[b][m][(size_t)i * s->n_splits + k];
            if (m <= ROUNDS_WIN_SE) st = pp_h5_get_attr_f64(&f, grp, rounds_eval_names[m], v, err);
            else pp_h5_opt_attr_f64(&f, grp, rounds_eval_names[m], v, NAN); /* accuracy: oracle judge only */
        }
    }
    pp_h5_close(&f);
    return st;
}

static pp_status read_round(const char *dir, int r, rounds_summary *s, pp_err *err) {
    char path[PP_PATH_MAX];
    int i = r - 1;
    PP_TRY(round_path(path, dir, r, "pairs.h5", err));
    PP_TRY(read_pairs(path, s, i, err));
    PP_TRY(round_path(path, dir, r, "policy.h5", err));
    PP_TRY(read_policy(path, s, i, err));
    for (int b = 0; b < ROUNDS_N_BASELINES; b++) {
        if (b == ROUNDS_VS_PREVIOUS && r == 1) { /* round 1's previous policy is the base model */
            for (int m = 0; m < ROUNDS_N_EVAL; m++)
                for (int k = 0; k < s->n_splits; k++) s->eval[b][m][(size_t)i * s->n_splits + k] = NAN;
            continue;
        }
        char name[32];
        snprintf(name, sizeof name, "eval_%s.h5", rounds_baseline_names[b]);
        PP_TRY(round_path(path, dir, r, name, err));
        PP_TRY(read_eval(path, s, b, i, err));
    }
    return PP_OK;
}

/* base: every round trained against round 1's reference; previous: round
 * r > 1 against round r - 1's policy; else mixed. */
static void reference_mode(rounds_summary *s) {
    int base = 1, previous = 1;
    for (int i = 1; i < s->n_rounds; i++) {
        base &= strcmp(s->reference_fp[i], s->reference_fp[0]) == 0;
        previous &= strcmp(s->reference_fp[i], s->policy_fp[i - 1]) == 0;
    }
    snprintf(s->reference, sizeof s->reference, "%s", base ? "base" : previous ? "previous" : "mixed");
}

pp_status rounds_collect(const char *dir, rounds_summary *s, pp_err *err) {
    memset(s, 0, sizeof *s);
    char path[PP_PATH_MAX];
    int n = 0;
    struct stat sb;
    while (n < ROUNDS_MAX && round_path(path, dir, n + 1, NULL, err) == PP_OK && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) n++;
    if (n == 0) return pp_fail(err, PP_EINPUT, "%s: no round-01/ directory (not the work directory of a rounds job)", dir);
    /* the splits (and their number) of round 1's evaluation against the base */
    PP_TRY(round_path(path, dir, 1, "eval_base.h5", err));
    pp_h5 f;
    PP_TRY(pp_h5_open(&f, path, "eval", EVAL_SCHEMA_VERSION, err));
    pp_status st = pp_h5_get_attr_str(&f, "/", "splits", s->splits, sizeof s->splits, err);
    pp_h5_close(&f);
    int n_splits = 1;
    for (const char *c = s->splits; *c; c++) n_splits += *c == ',';
    if (st == PP_OK && n_splits > ROUNDS_MAX_SPLITS)
        st = pp_fail(err, PP_EINPUT, "%s: %d splits, at most %d", path, n_splits, ROUNDS_MAX_SPLITS);
    if (st == PP_OK) st = rounds_alloc(s, n, n_splits, err); /* keeps s->splits */
    for (int r = 1; st == PP_OK && r <= n; r++) st = read_round(dir, r, s, err);
    if (st == PP_OK) reference_mode(s);
    if (st != PP_OK) rounds_free(s);
    return st;
}

/* ---- the file ---- */
static pp_status write_numbers(pp_h5 *f, const rounds_summary *s, pp_err *err) {
    char name[96];
    int64_t d1[1] = {s->n_rounds}, d2[2] = {s->n_rounds, s->n_splits};
    int64_t *round = malloc((size_t)s->n_rounds * sizeof *round);
    if (!round) return pp_fail(err, PP_ESYS, "out of memory");
    for (int i = 0; i < s->n_rounds; i++) round[i] = i + 1;
    pp_status st = pp_h5_write_root(f, "/round", PP_I64, 1, d1, round, err);
    free(round);
    const char *groups[] = {"/pairs", "/train", "/eval", "/eval/base", "/eval/previous"};
    for (int g = 0; st == PP_OK && g < 5; g++) st = pp_h5_group(f, groups[g], err);
    for (int k = 0; st == PP_OK && k < ROUNDS_N_COUNTS; k++) {
        snprintf(name, sizeof name, "/%s/%s", count_groups[k], rounds_count_names[k]);
        st = pp_h5_write_root(f, name, PP_I64, 1, d1, s->count[k], err);
    }
    for (int k = 0; st == PP_OK && k < ROUNDS_N_TRUTH; k++) {
        snprintf(name, sizeof name, "/pairs/%s", rounds_truth_names[k]);
        st = pp_h5_write_root(f, name, PP_F64, 1, d1, s->truth[k], err);
    }
    for (int k = 0; st == PP_OK && k < ROUNDS_N_TRAIN; k++) {
        snprintf(name, sizeof name, "/train/%s", rounds_train_names[k]);
        st = pp_h5_write_root(f, name, PP_F64, 1, d1, s->train[k], err);
    }
    for (int b = 0; st == PP_OK && b < ROUNDS_N_BASELINES; b++)
        for (int m = 0; st == PP_OK && m < ROUNDS_N_EVAL; m++) {
            snprintf(name, sizeof name, "/eval/%s/%s", rounds_baseline_names[b], rounds_eval_names[m]);
            st = pp_h5_write_root(f, name, PP_F64, 2, d2, s->eval[b][m], err);
        }
    return st;
}

static pp_status write_fingerprints(pp_h5 *f, const char *name, const char (*fp)[17], int n, pp_err *err) {
    const char **p = malloc((size_t)n * sizeof *p);
    if (!p) return pp_fail(err, PP_ESYS, "out of memory");
    for (int i = 0; i < n; i++) p[i] = fp[i];
    pp_status st = pp_h5_write_text(f, name, n, p, err);
    free(p);
    return st;
}

/* The provenance inputs: every round's pairs, policy and eval files. */
enum { FILES_PER_ROUND = 4 };
typedef struct {
    char role[32], path[PP_PATH_MAX];
} round_input;

static pp_status round_inputs(const rounds_summary *s, const char *dir, round_input *ri, pp_input *in, int *n_in, pp_err *err) {
    const char *files[FILES_PER_ROUND] = {"pairs", "policy", "eval_base", "eval_previous"};
    int n = 0;
    for (int r = 1; r <= s->n_rounds; r++)
        for (int k = 0; k < FILES_PER_ROUND; k++) {
            if (k == 3 && r == 1) continue;
            char name[32];
            snprintf(name, sizeof name, "%s.h5", files[k]);
            PP_TRY(round_path(ri[n].path, dir, r, name, err));
            snprintf(ri[n].role, sizeof ri[n].role, "round%02d_%s", r, files[k]);
            in[n] = (pp_input){ri[n].role, ri[n].path};
            n++;
        }
    *n_in = n;
    return PP_OK;
}

pp_status rounds_write(const rounds_summary *s, const char *path, const char *dir, const char *arguments, pp_err *err) {
    size_t cap = (size_t)s->n_rounds * FILES_PER_ROUND;
    round_input *ri = calloc(cap, sizeof *ri);
    pp_input *in = calloc(cap, sizeof *in);
    int n_in = 0;
    pp_status st = ri && in ? PP_OK : pp_fail(err, PP_ESYS, "out of memory");
    if (st == PP_OK) st = round_inputs(s, dir, ri, in, &n_in, err);
    pp_h5 f;
    pp_provenance prov = {"pp-report", arguments, in, n_in};
    if (st == PP_OK) st = pp_h5_create(&f, path, MPI_COMM_SELF, "rounds", ROUNDS_SCHEMA_VERSION, &prov, err);
    if (st == PP_OK) {
        st = pp_h5_attr_i64(&f, "/", "n_rounds", s->n_rounds, err);
        if (st == PP_OK) st = pp_h5_attr_i64(&f, "/", "n_splits", s->n_splits, err);
        if (st == PP_OK) st = pp_h5_attr_str(&f, "/", "splits", s->splits, err);
        if (st == PP_OK) st = pp_h5_attr_str(&f, "/", "reference", s->reference, err);
        if (st == PP_OK) st = pp_h5_attr_i64(&f, "/", "train_tail_steps", ROUNDS_TAIL_STEPS, err);
        if (st == PP_OK) st = write_numbers(&f, s, err);
        if (st == PP_OK) st = pp_h5_serial_begin(&f, err);
        if (st == PP_OK) st = write_fingerprints(&f, "/policy_fingerprint", (const char (*)[17])s->policy_fp, s->n_rounds, err);
        if (st == PP_OK) st = write_fingerprints(&f, "/generator_fingerprint", (const char (*)[17])s->generator_fp, s->n_rounds, err);
        if (st == PP_OK) st = write_fingerprints(&f, "/reference_fingerprint", (const char (*)[17])s->reference_fp, s->n_rounds, err);
        if (st == PP_OK) st = pp_h5_commit(&f, err);
        else pp_h5_abort(&f);
    }
    free(ri);
    free(in);
    return st;
}

static pp_status load_fingerprints(pp_h5 *f, const char *path, const char *name, char (*fp)[17], int n, pp_err *err) {
    char **strs = NULL;
    int64_t got = 0;
    PP_TRY(pp_h5_read_text(f, name, n, &got, &strs, err));
    pp_status st = PP_OK;
    for (int i = 0; st == PP_OK && i < n; i++) {
        if (strlen(strs[i]) != 16) st = pp_fail(err, PP_EINPUT, "%s: %s[%d]: not a 16-digit fingerprint", path, name, i);
        else memcpy(fp[i], strs[i], 17);
    }
    free(strs);
    return st;
}

pp_status rounds_load(const char *path, rounds_summary *s, pp_err *err) {
    memset(s, 0, sizeof *s);
    pp_h5 f;
    PP_TRY(pp_h5_open(&f, path, "rounds", ROUNDS_SCHEMA_VERSION, err));
    int64_t nr = 0, ns = 0;
    char splits[sizeof s->splits] = "", reference[sizeof s->reference] = "";
    pp_status st = pp_h5_get_attr_i64(&f, "/", "n_rounds", &nr, err);
    if (st == PP_OK) st = pp_h5_get_attr_i64(&f, "/", "n_splits", &ns, err);
    if (st == PP_OK && (nr < 1 || nr > ROUNDS_MAX || ns < 1 || ns > ROUNDS_MAX_SPLITS))
        st = pp_fail(err, PP_EINPUT, "%s: n_rounds %lld or n_splits %lld out of range", path, (long long)nr, (long long)ns);
    if (st == PP_OK) st = pp_h5_get_attr_str(&f, "/", "splits", splits, sizeof splits, err);
    if (st == PP_OK) st = pp_h5_get_attr_str(&f, "/", "reference", reference, sizeof reference, err);
    if (st == PP_OK) st = rounds_alloc(s, (int)nr, (int)ns, err);
    if (st == PP_OK) {
        memcpy(s->splits, splits, sizeof splits);
        memcpy(s->reference, reference, sizeof reference);
    }
    char name[96];
    int64_t d1[1] = {nr}, d2[2] = {nr, ns};
    for (int k = 0; st == PP_OK && k < ROUNDS_N_COUNTS; k++) {
        snprintf(name, sizeof name, "/%s/%s", count_groups[k], rounds_count_names[k]);
        st = pp_h5_expect(&f, name, PP_I64, 1, d1, NULL, err);
        if (st == PP_OK) st = pp_h5_read_all(&f, name, PP_I64, s->count[k], err);
    }
    for (int k = 0; st == PP_OK && k < ROUNDS_N_TRUTH + ROUNDS_N_TRAIN; k++) {
        int truth = k < ROUNDS_N_TRUTH;
        snprintf(name, sizeof name, "/%s/%s", truth ? "pairs" : "train",
                 truth ? rounds_truth_names[k] : rounds_train_names[k - ROUNDS_N_TRUTH]);
        st = pp_h5_expect(&f, name, PP_F64, 1, d1, NULL, err);
        if (st == PP_OK) st = pp_h5_read_all(&f, name, PP_F64, truth ? s->truth[k] : s->train[k - ROUNDS_N_TRUTH], err);
    }
    for (int b = 0; st == PP_OK && b < ROUNDS_N_BASELINES; b++)
        for (int m = 0; st == PP_OK && m < ROUNDS_N_EVAL; m++) {
            snprintf(name, sizeof name, "/eval/%s/%s", rounds_baseline_names[b], rounds_eval_names[m]);
            st = pp_h5_expect(&f, name, PP_F64, 2, d2, NULL, err);
            if (st == PP_OK) st = pp_h5_read_all(&f, name, PP_F64, s->eval[b][m], err);
        }
    if (st == PP_OK) st = load_fingerprints(&f, path, "/policy_fingerprint", s->policy_fp, (int)nr, err);
    if (st == PP_OK) st = load_fingerprints(&f, path, "/generator_fingerprint", s->generator_fp, (int)nr, err);
    if (st == PP_OK) st = load_fingerprints(&f, path, "/reference_fingerprint", s->reference_fp, (int)nr, err);
    pp_h5_close(&f);
    if (st != PP_OK) rounds_free(s);
    return st;
}

/* ---- the table ---- */
const char *rounds_reference_words(const rounds_summary *s) {
    if (strcmp(s->reference, "base") == 0) return "the base model";
    if (strcmp(s->reference, "previous") == 0) return "the policy of the previous round (round 1: the base model)";
    return "the base model or the policy of the previous round (mixed)";
}

static double at(const rounds_summary *s, int b, int m, int r, int k) { return s->eval[b][m][(size_t)r * s->n_splits + k]; }

/* "12.3% ± 1.4%", or "-" when there is no value */
static const char *pct(double v, double se, char *buf, size_t cap) {
    if (!isfinite(v)) snprintf(buf, cap, "-");
    else snprintf(buf, cap, "%.1f%% ± %.1f%%", 100 * v, 100 * se);
    return buf;
}

/* Round r against round 1 on split k for one measure (m, its se m + 1)
 * of the evaluations against the base model.  The two are measured on the
 * same prompts; the standard error of the difference below treats them as
 * independent, which overstates it when they are positively correlated. */
static void verdict_line(FILE *f, const rounds_summary *s, int r, int k, int m, const char *what, const char *split) {
    double a = at(s, ROUNDS_VS_BASE, m, r, k), a1 = at(s, ROUNDS_VS_BASE, m, 0, k);
    double se = sqrt(pow(at(s, ROUNDS_VS_BASE, m + 1, r, k), 2) + pow(at(s, ROUNDS_VS_BASE, m + 1, 0, k), 2));
    if (!isfinite(a) || !isfinite(a1)) return;
    double d = a - a1;
    const char *word = d > 2 * se ? "improved on round 1" : d < -2 * se ? "worse than round 1" : "no difference from round 1 beyond 2 standard errors";
    fprintf(f, "- round %d, %s, %s: %+.1f ± %.1f points (%.1f%% -> %.1f%%): %s\n", r + 1, split, what, 100 * d, 100 * se, 100 * a1,
            100 * a, word);
}

static void table_rows(FILE *f, const rounds_summary *s, char names[][64]) {
    char b1[48], b2[48], b3[48], b4[48];
    fprintf(f, "| round | candidates by | pairs | chosen drift (nats) | split | win rate vs base | win rate vs previous round | "
               "policy accuracy | base accuracy |\n|---|---|---|---|---|---|---|---|---|\n");
    for (int r = 0; r < s->n_rounds; r++)
        for (int k = 0; k < s->n_splits; k++) {
            const char *by = r == 0 ? "base model" : "previous policy";
            if (r > 0 && strcmp(s->generator_fp[r], s->policy_fp[r - 1]) != 0) by = s->generator_fp[r];
            fprintf(f, "| %d | %s | %lld | %+.3f | %s | %s | %s | %s | %s |\n", r + 1, by, (long long)s->count[ROUNDS_PAIRS][r],
                    s->train[ROUNDS_DRIFT][r], names[k], pct(at(s, 0, ROUNDS_WIN, r, k), at(s, 0, ROUNDS_WIN_SE, r, k), b1, sizeof b1),
                    pct(at(s, 1, ROUNDS_WIN, r, k), at(s, 1, ROUNDS_WIN_SE, r, k), b2, sizeof b2),
                    pct(at(s, 0, ROUNDS_POLICY_ACC, r, k), at(s, 0, ROUNDS_POLICY_ACC_SE, r, k), b3, sizeof b3),
                    pct(at(s, 0, ROUNDS_BASELINE_ACC, r, k), at(s, 0, ROUNDS_BASELINE_ACC_SE, r, k), b4, sizeof b4));
        }
}

pp_status rounds_write_table(const rounds_summary *s, const char *path, pp_err *err) {
    char tmp[PP_PATH_MAX + 8], names[ROUNDS_MAX_SPLITS][64], splits[sizeof s->splits];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return pp_fail(err, PP_EINPUT, "%s: path too long", path);
    memcpy(splits, s->splits, sizeof splits);
    int n = 0;
    for (char *save = NULL, *t = strtok_r(splits, ",", &save); t && n < ROUNDS_MAX_SPLITS; t = strtok_r(NULL, ",", &save))
        snprintf(names[n++], sizeof names[0], "%s", t);
    if (n != s->n_splits) return pp_fail(err, PP_EINPUT, "splits '%s' do not name %d splits", s->splits, s->n_splits);
    FILE *f = fopen(tmp, "w");
    if (!f) return pp_fail(err, PP_EINPUT, "%s: cannot write: %s", tmp, strerror(errno));
    fprintf(f, "%d rounds, each trained against %s. Win rate: 1 win, 0.5 tie, 0 loss per prompt, judged in both "
               "orders; accuracy: exact match; ± one standard error. Chosen drift: mean change of the chosen "
               "log-likelihood (policy - reference) over the last %d training steps.\n\n",
            s->n_rounds, rounds_reference_words(s), ROUNDS_TAIL_STEPS);
    table_rows(f, s, names);
    if (s->n_rounds > 1)
        fprintf(f, "\nDid the later rounds improve on round 1? (differences against the base model's evaluation; their "
                   "standard error treats the two rounds as independent samples, though they share the prompts)\n\n");
    for (int r = 1; r < s->n_rounds; r++)
        for (int k = 0; k < s->n_splits; k++) {
            verdict_line(f, s, r, k, ROUNDS_POLICY_ACC, "accuracy", names[k]);
            verdict_line(f, s, r, k, ROUNDS_WIN, "win rate vs base", names[k]);
            double w = at(s, ROUNDS_VS_PREVIOUS, ROUNDS_WIN, r, k), se = at(s, ROUNDS_VS_PREVIOUS, ROUNDS_WIN_SE, r, k);
            if (isfinite(w))
                fprintf(f, "- round %d, %s, head to head against round %d: win rate %.1f%% ± %.1f%%: %s\n", r + 1, names[k], r,
                        100 * w, 100 * se, w - 0.5 > 2 * se ? "better" : 0.5 - w > 2 * se ? "worse" : "no difference beyond 2 standard errors");
        }
    int bad = ferror(f) | fclose(f);
    if (bad) {
        unlink(tmp);
        return pp_fail(err, PP_ESYS, "%s: write failed (disk full?)", tmp);
    }
    if (rename(tmp, path) != 0) return pp_fail(err, PP_EINPUT, "%s: cannot write: %s", path, strerror(errno));
    return PP_OK;
}
