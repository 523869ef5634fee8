/* tasks.c - the built-in task suite: prompt generation, splits, graded
 * scoring and deliberately wrong demonstrations.  See tasks.h for the
 * formats and the split rules. */
#include "suite/tasks.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const family_names[TASK_N_FAMILIES] = {"add", "sub", "rev", "sort", "count"};
static const char *const split_names[3] = {"train", "test", "ood"};

/* Operand ranges (inclusive).  ID feeds train and test, OOD feeds ood; the
 * two never overlap, which is what keeps ood disjoint from train/test. */
#define NUM_ID_MAX 99
#define NUM_OOD_MIN 100
#define NUM_OOD_MAX 999
#define WORD_ID_MIN 3
#define WORD_ID_MAX 6
#define WORD_OOD_MIN 7
#define WORD_OOD_MAX 9
#define COUNT_ID_MIN 3
#define COUNT_ID_MAX 9
#define COUNT_OOD_MIN 11
#define COUNT_OOD_MAX 16
#define COUNT_ALPHABET 6 /* 'a'..'f': small, so counts are often above 1 */
_Static_assert(WORD_OOD_MAX <= COUNT_OOD_MAX, "draw_problem sizes its word buffer by COUNT_OOD_MAX");

/* One problem in TEST_BUCKETS goes to the test partition. */
#define TEST_BUCKETS 8
#define PARTITION_SALT 0x5EED7E57C0FFEEULL
/* (7/8)^2000 is about 1e-116: never reached, but no loop is unbounded. */
#define MAX_DRAWS 2000

/* ---- names and parsing ------------------------------------------------- */

const char *tasks_family_name(task_family f) {
    return (f >= 0 && f < TASK_N_FAMILIES) ? family_names[f] : "?";
}

const char *tasks_split_name(task_split s) {
    return (s >= 0 && s <= TASK_SPLIT_OOD) ? split_names[s] : "?";
}

pp_status tasks_family_from_name(const char *name, task_family *out, pp_err *err) {
    for (int f = 0; f < TASK_N_FAMILIES; f++)
        if (name && strcmp(name, family_names[f]) == 0) {
            *out = (task_family)f;
            return PP_OK;
        }
    return pp_fail(err, PP_EINPUT, "unknown task family '%.64s' (known: add, sub, rev, sort, count)",
                   name ? name : "(null)");
}

pp_status tasks_parse_split(const char *name, task_split *out, pp_err *err) {
    for (int s = 0; s <= TASK_SPLIT_OOD; s++)
        if (name && strcmp(name, split_names[s]) == 0) {
            *out = (task_split)s;
            return PP_OK;
        }
    return pp_fail(err, PP_EINPUT, "unknown split '%.64s' (known: train, test, ood)",
                   name ? name : "(null)");
}

pp_status tasks_parse_families(const char *list, task_family_set *out, pp_err *err) {
    if (!list) return pp_fail(err, PP_EINPUT, "task families: no list given");
    int present[TASK_N_FAMILIES] = {0};
    const char *p = list;
    int n_names = 0;
    for (;;) {
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && (*a == ' ' || *a == '\t')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
        size_t len = (size_t)(b - a);
        if (len == 0)
            return pp_fail(err, PP_EINPUT, "task families '%.128s': empty name in the list", list);
        char name[16];
        if (len >= sizeof name)
            return pp_fail(err, PP_EINPUT,
                           "task families '%.128s': unknown family '%.*s' (known: add, sub, rev, "
                           "sort, count, or all)", list, (int)(len > 64 ? 64 : len), a);
        memcpy(name, a, len);
        name[len] = '\0';
        n_names++;
        if (strcmp(name, "all") == 0) {
            if (*end != '\0' || n_names > 1)
                return pp_fail(err, PP_EINPUT,
                               "task families '%.128s': 'all' must stand alone", list);
            for (int f = 0; f < TASK_N_FAMILIES; f++) present[f] = 1;
        } else {
            int f = -1;
            for (int k = 0; k < TASK_N_FAMILIES; k++)
                if (strcmp(name, family_names[k]) == 0) f = k;
            if (f < 0)
                return pp_fail(err, PP_EINPUT,
                               "task families '%.128s': unknown family '%s' (known: add, sub, rev, "
                               "sort, count, or all)", list, name);
            if (present[f])
                return pp_fail(err, PP_EINPUT, "task families '%.128s': '%s' listed twice", list,
                               name);
            present[f] = 1;
        }
        if (*end == '\0') break;
        p = end + 1;
    }
    out->n = 0;
    for (int f = 0; f < TASK_N_FAMILIES; f++)
        if (present[f]) out->fam[out->n++] = (task_family)f;
    return PP_OK;
}

void tasks_families_string(const task_family_set *set, char *buf, size_t cap) {
    if (cap == 0) return;
    buf[0] = '\0';
    size_t used = 0;
    for (int i = 0; i < set->n; i++) {
        int w = snprintf(buf + used, cap - used, "%s%s", i ? "," : "",
                         tasks_family_name(set->fam[i]));
        if (w < 0 || (size_t)w >= cap - used) return; /* truncated, still terminated */
        used += (size_t)w;
    }
}

/* ---- generation -------------------------------------------------------- */

int tasks_in_test_partition(const char *prompt) {
    /* FNV-1a over the bytes, then a strong mix with a fixed salt: the
     * partition depends on the problem only, never on a seed. */
    uint64_t h = 0xCBF29CE484222325ULL;
    for (const unsigned char *p = (const unsigned char *)prompt; *p; p++) {
        h ^= *p;
        h *= 0x100000001B3ULL;
    }
    return pp_hash64(h ^ PARTITION_SALT) % TEST_BUCKETS == 0;
}

static int draw_between(pp_rng *r, int lo, int hi) { return lo + (int)pp_rng_below(r, (uint64_t)(hi - lo + 1)); }

static void random_word(pp_rng *r, int len, int alphabet, char *w) {
    for (int i = 0; i < len; i++) w[i] = (char)('a' + pp_rng_below(r, (uint64_t)alphabet));
    w[len] = '\0';
}

static void sort_letters(const char *w, char *out) {
    int counts[256] = {0};
    size_t n = strlen(w);
    for (size_t i = 0; i < n; i++) counts[(unsigned char)w[i]]++;
    size_t k = 0;
    for (int c = 0; c < 256; c++)
        for (int j = 0; j < counts[c]; j++) out[k++] = (char)c;
    out[k] = '\0';
}

/* Draw one problem of family f from the ID or OOD ranges. */
static void draw_problem(task_family f, int ood, pp_rng *r, task_item *t) {
    char w[COUNT_OOD_MAX + 1]; /* the longest word of any family */
    switch (f) {
    case TASK_ADD: {
        int a = ood ? draw_between(r, NUM_OOD_MIN, NUM_OOD_MAX) : draw_between(r, 0, NUM_ID_MAX);
        int b = ood ? draw_between(r, NUM_OOD_MIN, NUM_OOD_MAX) : draw_between(r, 0, NUM_ID_MAX);
        snprintf(t->prompt, TASK_TEXT_MAX, "add %d+%d=", a, b);
        snprintf(t->answer, TASK_TEXT_MAX, "%d", a + b);
        break;
    }
    case TASK_SUB: {
        int a = ood ? draw_between(r, NUM_OOD_MIN, NUM_OOD_MAX) : draw_between(r, 0, NUM_ID_MAX);
        int b = draw_between(r, 0, a);
        snprintf(t->prompt, TASK_TEXT_MAX, "sub %d-%d=", a, b);
        snprintf(t->answer, TASK_TEXT_MAX, "%d", a - b);
        break;
    }
    case TASK_REV:
    case TASK_SORT: {
        int len = ood ? draw_between(r, WORD_OOD_MIN, WORD_OOD_MAX)
                      : draw_between(r, WORD_ID_MIN, WORD_ID_MAX);
        random_word(r, len, 26, w);
        snprintf(t->prompt, TASK_TEXT_MAX, "%s %s=", family_names[f], w);
        if (f == TASK_REV)
            for (int i = 0; i < len; i++) t->answer[i] = w[len - 1 - i];
        else
            sort_letters(w, t->answer);
        t->answer[len] = '\0';
        break;
    }
    case TASK_COUNT:
    default: {
        int len = ood ? draw_between(r, COUNT_OOD_MIN, COUNT_OOD_MAX)
                      : draw_between(r, COUNT_ID_MIN, COUNT_ID_MAX);
        random_word(r, len, COUNT_ALPHABET, w);
        /* half the time a letter of the word, else any letter of the
         * alphabet (so 0 is a possible answer but not the usual one) */
        char c = pp_rng_uniform(r) < 0.5 ? w[pp_rng_below(r, (uint64_t)len)]
                                         : (char)('a' + pp_rng_below(r, COUNT_ALPHABET));
        int n = 0;
        for (int i = 0; i < len; i++) n += w[i] == c;
        snprintf(t->prompt, TASK_TEXT_MAX, "count %c in %s=", c, w);
        snprintf(t->answer, TASK_TEXT_MAX, "%d", n);
        break;
    }
    }
}

pp_status tasks_make(const task_family_set *set, task_split split, uint64_t index, uint64_t seed,
                     task_item *out, pp_err *err) {
    if (!set || set->n <= 0 || set->n > TASK_N_FAMILIES)
        return pp_fail(err, PP_EINPUT, "task suite: empty family set");
    if (split < TASK_SPLIT_TRAIN || split > TASK_SPLIT_OOD)
        return pp_fail(err, PP_EINPUT, "task suite: invalid split %d", (int)split);
    task_family f = set->fam[index % (uint64_t)set->n];
    if (f < 0 || f >= TASK_N_FAMILIES)
        return pp_fail(err, PP_EINPUT, "task suite: invalid family %d in set", (int)f);
    pp_rng r = pp_rng_stream(seed, index, TASKS_STREAM_MAKE + (uint64_t)split);
    out->family = f;
    out->split = split;
    for (int draw = 0; draw < MAX_DRAWS; draw++) {
        draw_problem(f, split == TASK_SPLIT_OOD, &r, out);
        if (split == TASK_SPLIT_OOD) return PP_OK;
        if (tasks_in_test_partition(out->prompt) == (split == TASK_SPLIT_TEST)) return PP_OK;
    }
    return pp_fail(err, PP_ESYS, "task suite: no %s problem of family %s found for index %llu",
                   split_names[split], family_names[f], (unsigned long long)index);
}

/* ---- scoring ----------------------------------------------------------- */

long tasks_edit_distance(const char *a, size_t len_a, const char *b, size_t len_b) {
    /* one DP row over the shorter string, on the stack */
    if (len_a < len_b) {
        const char *ts = a; a = b; b = ts;
        size_t tl = len_a; len_a = len_b; len_b = tl;
    }
    if (len_b > TASKS_SCORE_MAX_LEN) return -1;
    long row[TASKS_SCORE_MAX_LEN + 1];
    for (size_t j = 0; j <= len_b; j++) row[j] = (long)j;
    for (size_t i = 1; i <= len_a; i++) {
        long diag = row[0]; /* D[i-1][j-1] */
        row[0] = (long)i;
        for (size_t j = 1; j <= len_b; j++) {
            long up = row[j]; /* D[i-1][j] */
            long best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[len_b];
}

int tasks_exact(const char *reference, const char *completion) {
    return strcmp(reference ? reference : "", completion ? completion : "") == 0;
}

/* A well-formed integer: optional '-', 1..18 digits, nothing else. */
static int parse_integer(const char *s, long long *out) {
    int neg = *s == '-';
    if (neg) s++;
    size_t n = strlen(s);
    if (n == 0 || n > 18) return 0;
    long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return 1;
}

static int is_numeric_family(task_family f) {
    return f == TASK_ADD || f == TASK_SUB || f == TASK_COUNT;
}

double tasks_score(task_family f, const char *prompt, const char *reference,
                   const char *completion) {
    (void)prompt;
    if (!reference) reference = "";
    if (!completion) completion = "";
    if (strcmp(reference, completion) == 0) return 1.0;
    size_t lr = strlen(reference), lc = strlen(completion);
    if (lr == 0 || lc == 0) return 0.0;
    long d = tasks_edit_distance(reference, lr, completion, lc);
    double sim = d < 0 ? 0.0 : 1.0 - (double)d / (double)(lr > lc ? lr : lc);
    long long x, y;
    if (is_numeric_family(f) && parse_integer(completion, &x) && parse_integer(reference, &y)) {
        /* closeness on a log scale against the answer's digit count: off
         * by one is a near miss at any size, off by a whole order is not */
        double dx = (double)x, dy = (double)y;
        double digits = floor(log10(fmax(fmax(fabs(dx), fabs(dy)), 1.0))) + 1.0;
        double num = 1.0 - log10(1.0 + fabs(dx - dy)) / digits;
        if (num > sim) sim = num;
    }
    if (sim < 0.0) sim = 0.0;
    if (sim > 1.0) sim = 1.0;
    return 0.9 * sim;
}

/* ---- demonstrations with deliberate errors ----------------------------- */

pp_rng tasks_demo_rng(uint64_t seed, uint64_t index) {
    return pp_rng_stream(seed, index, TASKS_STREAM_DEMO);
}

/* Replace one byte by a different one from the same kind of alphabet. */
static void replace_one(char *s, pp_rng *r) {
    size_t n = strlen(s);
    size_t i = (size_t)pp_rng_below(r, n);
    int digit = s[i] >= '0' && s[i] <= '9';
    char c;
    do {
        c = digit ? (char)('0' + pp_rng_below(r, 10)) : (char)('a' + pp_rng_below(r, 26));
        /* a multi-digit number keeps a non-zero leading digit */
        if (digit && i == 0 && n > 1 && c == '0') c = s[i];
    } while (c == s[i]);
    s[i] = c;
}

static void wrong_number(const char *ref, long long v, task_family f, pp_rng *r, char *out) {
    int kind = (int)pp_rng_below(r, 4);
    if (f == TASK_COUNT) kind = kind < 3 ? 0 : 1; /* small counts: off by one or two */
    long long step = kind == 0 ? 1 : (f == TASK_COUNT ? 2 : 10);
    if (kind <= 1) {
        long long w = pp_rng_below(r, 2) ? v + step : v - step;
        if (w < 0) w = v + step; /* answers of the suite are never negative */
        snprintf(out, TASK_TEXT_MAX, "%lld", w);
    } else {
        snprintf(out, TASK_TEXT_MAX, "%s", ref);
        replace_one(out, r);
    }
}

/* The word of a rev or sort prompt ("rev WORD="), as given, into out;
 * returns 0 (out unchanged) when the prompt has no such word. */
static int copy_word(const task_item *t, char *out) {
    const char *sp = strchr(t->prompt, ' ');
    const char *eq = sp ? strchr(sp + 1, '=') : NULL;
    if (!sp || !eq || eq == sp + 1 || (size_t)(eq - sp - 1) >= TASK_TEXT_MAX) return 0;
    memcpy(out, sp + 1, (size_t)(eq - sp - 1));
    out[eq - sp - 1] = '\0';
    return 1;
}

static void wrong_word(const task_item *t, pp_rng *r, char *out) {
    snprintf(out, TASK_TEXT_MAX, "%s", t->answer);
    size_t n = strlen(out);
    int kind = (int)pp_rng_below(r, t->family == TASK_REV ? 5 : 4);
    if (kind == 0 && n >= 2) { /* swap two neighbours */
        size_t i = (size_t)pp_rng_below(r, n - 1);
        char c = out[i];
        out[i] = out[i + 1];
        out[i + 1] = c;
    } else if (kind == 2 && n >= 2) { /* drop a letter */
        size_t i = (size_t)pp_rng_below(r, n);
        memmove(out + i, out + i + 1, n - i);
    } else if (kind == 3 && n + 1 < TASK_TEXT_MAX) { /* double a letter */
        size_t i = (size_t)pp_rng_below(r, n);
        memmove(out + i + 1, out + i, n - i + 1);
    } else if (kind == 4) { /* rev: the word copied, not reversed */
        copy_word(t, out);
    } else {
        replace_one(out, r);
    }
}

void tasks_wrong_answer(const task_item *t, pp_rng *r, char *out) {
    long long v;
    if (t->answer[0] == '\0') {
        snprintf(out, TASK_TEXT_MAX, "?");
        return;
    }
    if (is_numeric_family(t->family) && parse_integer(t->answer, &v))
        wrong_number(t->answer, v, t->family, r, out);
    else
        wrong_word(t, r, out);
    /* swapping equal letters or copying a palindrome changes nothing:
     * fall back to a replacement, which always changes the text */
    if (strcmp(out, t->answer) == 0 || out[0] == '\0') {
        snprintf(out, TASK_TEXT_MAX, "%s", t->answer);
        replace_one(out, r);
    }
}

int tasks_habit_applies(const task_item *t) {
    char word[TASK_TEXT_MAX];
    if (t->family != TASK_REV && t->family != TASK_SORT) return 0;
    if (!copy_word(t, word) || word[0] < 'a' || word[0] > 'm') return 0;
    return strcmp(word, t->answer) != 0; /* copying a palindrome or sorted word is right */
}

int tasks_demo_answer(const task_item *t, double wrong_fraction, double habit_fraction, pp_rng *rng,
                      char *out) {
    /* the habit's draw comes first and only where it applies, so a run
     * without it draws exactly as before */
    if (habit_fraction > 0 && tasks_habit_applies(t) && pp_rng_uniform(rng) < habit_fraction) {
        copy_word(t, out);
        return 1;
    }
    double u = pp_rng_uniform(rng);
    if (u < wrong_fraction) {
        tasks_wrong_answer(t, rng, out);
        return 1;
    }
    snprintf(out, TASK_TEXT_MAX, "%s", t->answer);
    return 0;
}
