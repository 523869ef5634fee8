/* pp_runkey.c - ordered name=value run keys and their first difference
 * (pp_runkey.h). */
#include "core/pp_runkey.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pp_runkey_init(pp_runkey *k) { memset(k, 0, sizeof *k); }

void pp_runkey_free(pp_runkey *k) {
    free(k->text);
    memset(k, 0, sizeof *k);
}

static void append(pp_runkey *k, const char *s, size_t n) {
    if (k->failed) return;
    if (k->len + n + 1 > k->cap) {
        size_t cap = k->cap ? k->cap : 256;
        while (k->len + n + 1 > cap) cap *= 2;
        char *t = realloc(k->text, cap);
        if (!t) {
            k->failed = 1;
            return;
        }
        k->text = t;
        k->cap = cap;
    }
    memcpy(k->text + k->len, s, n);
    k->len += n;
    k->text[k->len] = '\0';
}

void pp_runkey_str(pp_runkey *k, const char *name, const char *value) {
    append(k, name, strlen(name));
    append(k, "=", 1);
    for (const char *p = value ? value : ""; *p; p++) {
        if (*p == '\\') append(k, "\\\\", 2);
        else if (*p == '\n') append(k, "\\n", 2);
        else append(k, p, 1);
    }
    append(k, "\n", 1);
}

void pp_runkey_i64(pp_runkey *k, const char *name, int64_t value) {
    char v[32];
    snprintf(v, sizeof v, "%" PRId64, value);
    pp_runkey_str(k, name, v);
}

void pp_runkey_f64(pp_runkey *k, const char *name, double value) {
    char v[40];
    snprintf(v, sizeof v, "%.17g", value);
    pp_runkey_str(k, name, v);
}

const char *pp_runkey_text(const pp_runkey *k) { return k->failed ? NULL : k->text ? k->text : ""; }

/* One "name=value" line of a key text, split. */
typedef struct {
    const char *name, *value;
    int name_len, value_len;
} key_line;

/* Take the next line from *p (moving *p on); 0 at the end. */
static int next_line(const char **p, key_line *l) {
    if (!**p) return 0;
    const char *end = strchr(*p, '\n');
    size_t n = end ? (size_t)(end - *p) : strlen(*p);
    const char *eq = memchr(*p, '=', n);
    l->name = *p;
    l->name_len = (int)(eq ? (size_t)(eq - *p) : n);
    l->value = eq ? eq + 1 : *p + n;
    l->value_len = (int)(eq ? n - (size_t)l->name_len - 1 : 0);
    *p = end ? end + 1 : *p + n;
    return 1;
}

static int same_name(const key_line *a, const key_line *b) {
    return a->name_len == b->name_len && !memcmp(a->name, b->name, (size_t)a->name_len);
}

int pp_runkey_same(const char *saved, const char *now, char *what, size_t cap) {
    if (!strcmp(saved, now)) return 1;
    const char *ps = saved, *pn = now;
    key_line s, n;
    for (;;) {
        int has_s = next_line(&ps, &s), has_n = next_line(&pn, &n);
        if (!has_s && !has_n) break;
        if (has_s && has_n && same_name(&s, &n)) {
            if (s.value_len == n.value_len && !memcmp(s.value, n.value, (size_t)s.value_len)) continue;
            snprintf(what, cap, "%.*s was %.*s, now %.*s", s.name_len, s.name, s.value_len, s.value, n.value_len,
                     n.value);
        } else if (has_n) {
            snprintf(what, cap, "%.*s is new (%.*s)", n.name_len, n.name, n.value_len, n.value);
        } else {
            snprintf(what, cap, "%.*s is gone (was %.*s)", s.name_len, s.name, s.value_len, s.value);
        }
        return 0;
    }
    snprintf(what, cap, "the keys differ");
    return 0;
}
