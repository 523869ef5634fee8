/* pp_runkey.h - the run key of a resumable stage.
 *
 * Partial results (chunks, a journal, checkpoints) may only be reused by a
 * run that would have produced them: same inputs (by fingerprint), same
 * options that change results, same program version.  The run key lists
 * those as "name=value" lines in a fixed order; the kit compares a saved key
 * with the current one and names the first difference, so the refusal can
 * say "temperature was 1, now 0.7".  Values are escaped (backslash, newline)
 * so any string fits on its line and the text is an injective encoding.
 *
 *   pp_runkey k;
 *   pp_runkey_init(&k);
 *   pp_runkey_str(&k, "model_fingerprint", fp);
 *   pp_runkey_f64(&k, "temperature", t);
 *   ... pp_runkey_text(&k) ...   (NULL if memory ran out)
 *   pp_runkey_free(&k); */
#ifndef PP_RUNKEY_H
#define PP_RUNKEY_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *text;   /* the lines, NUL-terminated */
    size_t len, cap;
    int failed;   /* an allocation failed: pp_runkey_text gives NULL */
} pp_runkey;

void pp_runkey_init(pp_runkey *k);
void pp_runkey_free(pp_runkey *k);
void pp_runkey_str(pp_runkey *k, const char *name, const char *value);
void pp_runkey_i64(pp_runkey *k, const char *name, int64_t value);
/* %.17g: a double read back from the text is the same double */
void pp_runkey_f64(pp_runkey *k, const char *name, double value);
const char *pp_runkey_text(const pp_runkey *k);

/* 1 when the key texts saved and now are equal.  Else 0, and what gets the
 * first difference in key order: "NAME was A, now B", "NAME is new (B)" or
 * "NAME is gone (was A)". */
int pp_runkey_same(const char *saved, const char *now, char *what, size_t cap);

#endif
