/* pp_error.c - status codes plus one-line messages (see pp_error.h). */
#include "core/pp_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

pp_status pp_fail(pp_err *err, pp_status status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        /* messages are one line: fold any newline a caller let through */
        for (char *p = err->msg; *p; p++)
            if (*p == '\n' || *p == '\r') *p = ' ';
        err->status = status;
    }
    return status;
}

pp_status pp_wrap(pp_err *err, const char *fmt, ...) {
    if (!err) return PP_ESYS;
    char prefix[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t n = strlen(prefix);
    if (n > sizeof err->msg - 3) n = sizeof err->msg - 3;
    memcpy(err->msg, prefix, n);
    memcpy(err->msg + n, ": ", 2);
    size_t room = sizeof err->msg - n - 3;
    size_t m = strlen(old);
    if (m > room) m = room;
    memcpy(err->msg + n + 2, old, m);
    err->msg[n + 2 + m] = '\0';
    return err->status;
}

void pp_err_clear(pp_err *err) {
    if (!err) return;
    err->status = PP_OK;
    err->msg[0] = '\0';
}

int pp_report_error(const char *prog, const pp_err *err) {
    int code = err->status == PP_OK ? PP_ESYS : (int)err->status;
    fprintf(stderr, "%s: error: %s\n", prog, err->msg[0] ? err->msg : "unknown error");
    return code;
}
