/* pp_jsonl.c - JSON-lines files (pp_jsonl.h). */
#include "io/pp_jsonl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/pp_text.h"

json_t *pp_json_text(const char *text) {
    char *owned;
    const char *clean = pp_utf8_clean(text ? text : "", &owned);
    json_t *j = clean ? json_string(clean) : NULL;
    free(owned);
    return j;
}

pp_status pp_jsonl_open(pp_jsonl *w, const char *path, pp_err *err) {
    memset(w, 0, sizeof *w);
    if (snprintf(w->tmp, sizeof w->tmp, "%s.tmp", path) >= (int)sizeof w->tmp)
        return pp_fail(err, PP_EINPUT, "%s: path too long", path);
    snprintf(w->path, sizeof w->path, "%s", path);
    w->f = fopen(w->tmp, "wb");
    if (!w->f) return pp_fail(err, PP_EINPUT, "%s: cannot create: %s", w->tmp, strerror(errno));
    return PP_OK;
}

pp_status pp_jsonl_put(pp_jsonl *w, json_t *obj, pp_err *err) {
    char *line = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(obj);
    if (!line) return pp_fail(err, PP_ESYS, "out of memory writing %s", w->path);
    int rc = fprintf(w->f, "%s\n", line);
    free(line);
    if (rc < 0) return pp_fail(err, PP_ESYS, "%s: write failed: %s", w->tmp, strerror(errno));
    w->lines++;
    return PP_OK;
}

pp_status pp_jsonl_commit(pp_jsonl *w, pp_err *err) {
    pp_status st = PP_OK;
    if (fflush(w->f) != 0) st = pp_fail(err, PP_ESYS, "%s: write failed: %s", w->tmp, strerror(errno));
    if (st == PP_OK) fsync(fileno(w->f));
    if (fclose(w->f) != 0 && st == PP_OK) st = pp_fail(err, PP_ESYS, "%s: write failed: %s", w->tmp, strerror(errno));
    w->f = NULL;
    if (st == PP_OK && rename(w->tmp, w->path) != 0)
        st = pp_fail(err, PP_ESYS, "%s: cannot rename to %s: %s", w->tmp, w->path, strerror(errno));
    if (st != PP_OK) unlink(w->tmp);
    return st;
}

void pp_jsonl_abort(pp_jsonl *w) {
    if (w->f) fclose(w->f);
    w->f = NULL;
    if (w->tmp[0]) unlink(w->tmp);
}

pp_status pp_jsonl_write_rows(const char *path, int64_t n, json_t *(*row)(const void *ctx, int64_t i), const void *ctx,
                              pp_err *err) {
    pp_jsonl w;
    PP_TRY(pp_jsonl_open(&w, path, err));
    pp_status st = PP_OK;
    for (int64_t i = 0; st == PP_OK && i < n; i++) st = pp_jsonl_put(&w, row(ctx, i), err);
    if (st == PP_OK) return pp_jsonl_commit(&w, err);
    pp_jsonl_abort(&w);
    return st;
}
