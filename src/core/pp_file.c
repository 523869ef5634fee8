/* pp_file.c - output-path checks and file hashes (pp_file.h). */
#include "core/pp_file.h"
#include "core/pp_text.h"

#include <errno.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/pp_rng.h"

pp_status pp_check_output(const char *out, const pp_input *inputs, int n_inputs, pp_err *err) {
    if (!out || !*out) return pp_fail(err, PP_EINPUT, "no output file given");
    if (strlen(out) + 5 >= PP_PATH_MAX) return pp_fail(err, PP_EINPUT, "%s: path too long", out);
    struct stat so, si;
    int have_out = stat(out, &so) == 0;
    for (int i = 0; i < n_inputs; i++) {
        if (!inputs[i].path) continue;
        if (!strcmp(inputs[i].path, out) ||
            (have_out && stat(inputs[i].path, &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino))
            return pp_fail(err, PP_EINPUT, "%s: the output file is also the %s input; choose another --out",
                           out, inputs[i].role);
    }
    char dirbuf[PP_PATH_MAX];
    snprintf(dirbuf, sizeof dirbuf, "%s", out);
    const char *dir = dirname(dirbuf);
    struct stat sd;
    if (stat(dir, &sd) != 0) return pp_fail(err, PP_EINPUT, "%s: output directory %s does not exist", out, dir);
    if (!S_ISDIR(sd.st_mode)) return pp_fail(err, PP_EINPUT, "%s: %s is not a directory", out, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return pp_fail(err, PP_EINPUT, "%s: output directory %s is not writable", out, dir);
    if (have_out && S_ISDIR(so.st_mode)) return pp_fail(err, PP_EINPUT, "%s: is a directory", out);
    return PP_OK;
}

pp_status pp_file_hash(const char *path, char out[17], pp_err *err) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return pp_fail(err, PP_EINPUT, "%s: %s", path, strerror(errno));
    uint64_t h = 0xCBF29CE484222325ULL;
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0) h = pp_hash_bytes(h, buf, n);
    fclose(fp);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
    return PP_OK;
}

pp_status pp_read_file(const char *path, size_t max_bytes, const char *what, char **data, size_t *len, pp_err *err) {
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return pp_fail(err, PP_EINPUT, "%s: %s", path, strerror(errno));
    struct stat st;
    pp_status status = PP_OK;
    if (fstat(fileno(f), &st) != 0) status = pp_fail(err, PP_EINPUT, "%s: %s", path, strerror(errno));
    else if (S_ISDIR(st.st_mode)) status = pp_fail(err, PP_EINPUT, "%s: is a directory, not a %s", path, what);
    else if ((uint64_t)st.st_size > max_bytes)
        status = pp_fail(err, PP_EINPUT, "%s: %s is larger than %zu bytes", path, what, max_bytes);
    char *buf = status == PP_OK ? malloc((size_t)st.st_size + 1) : NULL;
    if (status == PP_OK && !buf) status = pp_fail(err, PP_ESYS, "%s: out of memory reading %s", path, what);
    size_t got = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
    if (status == PP_OK && ferror(f)) status = pp_fail(err, PP_EINPUT, "%s: read error", path);
    fclose(f);
    if (status != PP_OK) {
        free(buf);
        return status;
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return PP_OK;
}

pp_status pp_read_json(const char *path, size_t max_bytes, const char *what, size_t flags, json_t **out,
                       pp_err *err) {
    *out = NULL;
    char *text;
    size_t len;
    PP_TRY(pp_read_file(path, max_bytes, what, &text, &len, err));
    json_error_t je;
    *out = json_loadb(text, len, flags, &je);
    free(text);
    if (!*out)
        return pp_fail(err, PP_EINPUT, "%s: not JSON (line %d: %.100s)", path, je.line,
                       pp_text_shown(je.text, "(unprintable)"));
    return PP_OK;
}

double pp_file_bytes(const char *path) {
    struct stat sb;
    return path && stat(path, &sb) == 0 ? (double)sb.st_size : 0.0;
}
