/* pp_jsonl.h - JSON-lines files: one JSON object per line, text always
 * valid UTF-8 (invalid bytes become U+FFFD through pp_utf8_clean, the one
 * sanitizer).  The one writer of every JSONL export (pairs in TRL format,
 * candidates, pp-eval's responses and verdicts):
 *
 *   pp_jsonl w;
 *   PP_TRY(pp_jsonl_open(&w, path, err));        // writes PATH.tmp
 *   for (...) {
 *       json_t *o = json_object();
 *       json_object_set_new(o, "prompt", pp_json_text(text));
 *       st = pp_jsonl_put(&w, o, err);            // takes o
 *   }
 *   st == PP_OK ? pp_jsonl_commit(&w, err) : pp_jsonl_abort(&w);  // rename or remove
 * or, for n rows each made by one function, pp_jsonl_write_rows.
 * One process writes a file. */
#ifndef PP_JSONL_H
#define PP_JSONL_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "core/pp_error.h"
#include "core/pp_file.h"

typedef struct {
    FILE *f;
    char path[PP_PATH_MAX], tmp[PP_PATH_MAX];
    long long lines;
} pp_jsonl;

PP_MUST_CHECK pp_status pp_jsonl_open(pp_jsonl *w, const char *path, pp_err *err);
/* Append obj as one compact line (keys in insertion order) and release it;
 * obj NULL (a failed allocation upstream) is an out-of-memory error. */
PP_MUST_CHECK pp_status pp_jsonl_put(pp_jsonl *w, json_t *obj, pp_err *err);
/* Flush, fsync and rename PATH.tmp to PATH. */
PP_MUST_CHECK pp_status pp_jsonl_commit(pp_jsonl *w, pp_err *err);
/* Close and remove PATH.tmp. */
void pp_jsonl_abort(pp_jsonl *w);

/* The whole file in one call: row(ctx, i) for i = 0..n-1, each a new
 * object (NULL: out of memory), through open, put and commit. */
PP_MUST_CHECK pp_status pp_jsonl_write_rows(const char *path, int64_t n, json_t *(*row)(const void *ctx, int64_t i),
                                            const void *ctx, pp_err *err);

/* A JSON string of text (NULL = ""), sanitized to valid UTF-8; NULL when
 * out of memory. */
json_t *pp_json_text(const char *text);

#endif
