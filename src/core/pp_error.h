/* pp_error.h - the one error convention of the library.
 *
 * Every fallible function returns a pp_status and fills a caller-owned
 * pp_err with a one-line message that names the file and dataset involved.
 * Programs print that line once ("pp-NAME: error: ...") and exit with the
 * status as exit code.  Nothing in the library calls exit(). */
#ifndef PP_ERROR_H
#define PP_ERROR_H

typedef enum {
    PP_OK = 0,
    PP_EINPUT = 1,       /* bad input or usage: the user can fix it */
    PP_ESYS = 2,         /* internal or system error (I/O, MPI, out of memory) */
    PP_EINTERRUPTED = 75 /* stopped by a signal after saving state: requeue me
                            (75 = EX_TEMPFAIL from sysexits.h) */
} pp_status;

/* On every declaration of a function returning pp_status (but pp_fail and
 * pp_wrap): a dropped status is a compiler warning.  A result ignored on
 * purpose goes through a helper that says so (e.g. pp_h5_opt_attr_*). */
#define PP_MUST_CHECK __attribute__((warn_unused_result))

typedef struct {
    pp_status status;
    char msg[1024];
} pp_err;

/* Record an error (printf-style) and return its status, so callers can write
 *   return pp_fail(err, PP_EINPUT, "%s: dataset /x: wrong rank %d", path, r); */
pp_status pp_fail(pp_err *err, pp_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Add context in front of an existing message ("while reading X: ...").
 * Returns the existing status. */
pp_status pp_wrap(pp_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clear an error record. */
void pp_err_clear(pp_err *err);

/* For programs: print "PROG: error: MSG" on stderr and return the exit code. */
int pp_report_error(const char *prog, const pp_err *err);

/* Propagate: PP_TRY(call) returns the call's status from the current
 * function when it failed. */
#define PP_TRY(expr)                         \
    do {                                     \
        pp_status pp_try_st_ = (expr);       \
        if (pp_try_st_ != PP_OK) return pp_try_st_; \
    } while (0)

#endif
