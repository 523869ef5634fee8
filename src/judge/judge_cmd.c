/* judge_cmd.c - run an external pairwise judge over pipes (see judge_cmd.h).
 *
 * One judge process at a time.  Each attempt writes one request line and
 * reads one answer line before a deadline, with both pipe ends non-blocking
 * and poll() watching them together (a judge that writes before it has read
 * everything must not deadlock us).  Every attempt ends in exactly one of:
 * a valid answer, a timeout, a crash (EOF/EPIPE) or a bad answer.  After a
 * timeout or crash the judge is gone or killed; after a bad answer that
 * still named the right id the stream is in step and the judge is kept,
 * otherwise it is out of step and is restarted so that the next answer
 * belongs to the next question.  Restarts happen lazily, at the next attempt.
 *
 * About 800 lines, one file on purpose: the argv splitter, the answer
 * parser, the process lifecycle and the attempt/retry loop are one
 * protocol, and its judge.h table at the end is a thin adapter. */
#include "judge/judge_cmd.h"
#include "judge/judge_cli.h"
#include "core/pp_text.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct judge_cmd {
    judge_cmd_options opt;
    char **argv;          /* argv[0] names the program in messages */
    char program[4096];   /* argv[0] found on PATH */
    char *stderr_path;    /* our copy of opt.stderr_path */
    int stderr_fd;        /* -1: the judge inherits our stderr */
    pid_t pid;            /* -1 when no judge runs */
    int to_judge;         /* our end of its stdin, -1 when closed */
    int from_judge;       /* our end of its stdout */
    char *buf;            /* bytes read from the judge, not yet consumed */
    size_t buf_len, buf_cap;
    char *req;            /* the request line being sent (reused) */
    size_t req_cap;
    int fresh;            /* no attempt made yet by this judge process */
    int fails_in_row;     /* failed attempts since the last valid answer */
    int broken;           /* gave up: every further match is an error */
    char exit_note[160];  /* how the last judge process ended */
    char last_problem[1024];
    judge_cmd_counters n;
};

/* ---------------------------------------------------------------- helpers */

static int stop_seen(const judge_cmd *j) { return j->opt.stop_requested && j->opt.stop_requested(j->opt.stop_ctx); }

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void sleep_s(double s) {
    if (s <= 0) return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* Printable excerpt of untrusted bytes for a one-line message. */
static void preview(const char *s, size_t n, char *dst, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i >= 80) {
            memcpy(dst + o, "...", 3);
            o += 3;
            break;
        }
        if (c >= 0x20 && c < 0x7f) dst[o++] = (char)c;
        else o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", c);
    }
    dst[o] = '\0';
}

/* write() with SIGPIPE blocked for this thread: a dead judge gives EPIPE,
 * and the SIGPIPE it raised is taken off the pending set again. */
static ssize_t write_no_sigpipe(int fd, const char *p, size_t n) {
    sigset_t pipe_set, old_set, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGPIPE);
    ssize_t w = write(fd, p, n);
    int saved = errno;
    if (w < 0 && saved == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {}
    }
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    errno = saved;
    return w;
}

/* Keep our descriptors off 0-2, so the dup2s into the child cannot clash
 * even when the caller runs with stdin or stdout closed. */
static int fd_above_stdio(int fd) {
    if (fd < 0 || fd > 2) return fd;
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return moved;
}

static void close_fd(int *fd) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

/* ------------------------------------------------------------ argv split */

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

void judge_argv_free(char **argv) {
    if (!argv) return;
    for (char **a = argv; *a; a++) free(*a);
    free(argv);
}

pp_status judge_split_argv(const char *cmdline, char ***argv_out, int *argc_out, pp_err *err) {
    *argv_out = NULL;
    if (argc_out) *argc_out = 0;
    if (!cmdline) cmdline = "";
    size_t len = strlen(cmdline);
    char *word = malloc(len + 1);
    char **argv = malloc((len / 2 + 2) * sizeof *argv); /* words need a blank between */
    if (!word || !argv) {
        free(word);
        free(argv);
        return pp_fail(err, PP_ESYS, "judge command: out of memory");
    }
    int argc = 0;
    const char *why = NULL;
    const char *p = cmdline;
    for (;;) {
        while (is_blank(*p)) p++;
        if (!*p) break;
        size_t w = 0;
        while (*p && !is_blank(*p) && !why) {
            if (*p == '\'') {
                for (p++; *p && *p != '\''; p++) word[w++] = *p;
                if (*p) p++;
                else why = "unterminated single quote";
            } else if (*p == '"') {
                for (p++; *p && *p != '"'; p++) {
                    if (*p == '\\' && (p[1] == '"' || p[1] == '\\')) p++;
                    word[w++] = *p;
                }
                if (*p) p++;
                else why = "unterminated double quote";
            } else if (*p == '\\') {
                if (p[1]) {
                    word[w++] = p[1];
                    p += 2;
                } else why = "ends with a lone backslash";
            } else word[w++] = *p++;
        }
        if (why) break;
        word[w] = '\0';
        argv[argc] = strdup(word);
        if (!argv[argc]) {
            why = "out of memory";
            break;
        }
        argc++;
    }
    argv[argc] = NULL;
    free(word);
    if (!why && argc == 0) why = "is empty (want \"PROGRAM ARGS\")";
    if (why) {
        judge_argv_free(argv);
        return pp_fail(err, PP_EINPUT, "judge command \"%.200s\": %s", cmdline, why);
    }
    *argv_out = argv;
    if (argc_out) *argc_out = argc;
    return PP_OK;
}

/* ---------------------------------------------------- process lifecycle */

static void describe_status(int status, char *dst, size_t cap) {
    if (WIFEXITED(status)) snprintf(dst, cap, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(dst, cap, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else snprintf(dst, cap, "ended with wait status %d", status);
}

enum { RUNNING = 0, EXITED = 1, GONE = 2 };

/* Has the judge exited?  EXITED: it is a zombie now, so its pid and process
 * group id cannot be reused yet; GONE: someone else reaped it (SIGCHLD
 * ignored, or a waitpid(-1) elsewhere).  Polls for up to `within` seconds. */
static int judge_exited(judge_cmd *j, double within) {
    double end = now_s() + within, nap = 0.001;
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        int r = waitid(P_PID, (id_t)j->pid, &si, WEXITED | WNOHANG | WNOWAIT);
        if (r == 0 && si.si_pid == j->pid) return EXITED;
        if (r < 0 && errno != EINTR) return GONE;
        double left = end - now_s();
        if (left <= 0) return 0;
        sleep_s(nap < left ? nap : left);
        if (nap < 0.02) nap *= 2;
    }
}

/* Close the pipes (EOF on the judge's stdin), give the judge wait_first
 * seconds to exit, then SIGTERM and later SIGKILL its process group; reap
 * it.  Never blocks for more than wait_first + kill_grace_s + 5 s. */
static void stop_judge(judge_cmd *j, double wait_first) {
    close_fd(&j->to_judge);
    close_fd(&j->from_judge);
    j->buf_len = 0;
    if (j->pid < 0) return;
    int killed = 0, exited = judge_exited(j, wait_first);
    if (exited == RUNNING) {
        j->n.kills++;
        killed = 1;
        kill(-j->pid, SIGTERM);
        exited = judge_exited(j, j->opt.kill_grace_s);
        if (exited == RUNNING) {
            kill(-j->pid, SIGKILL);
            exited = judge_exited(j, 5.0);
        }
    }
    if (exited == GONE) {
        snprintf(j->exit_note, sizeof j->exit_note, "%sended (status unknown)",
                 killed ? "did not stop by itself and " : "");
    } else if (exited == EXITED) {
        /* the leader is a zombie, so its group id is still ours to signal:
         * end whatever it left behind (e.g. children of a wrapper script) */
        kill(-j->pid, SIGTERM);
        int status;
        pid_t r;
        char how[100] = "ended (status unknown)";
        while ((r = waitpid(j->pid, &status, 0)) < 0 && errno == EINTR) {}
        if (r == j->pid) describe_status(status, how, sizeof how);
        snprintf(j->exit_note, sizeof j->exit_note, "%s%s",
                 killed ? "did not stop by itself and " : "", how);
    } else {
        /* unkillable (stuck in the kernel): leave it rather than hang */
        snprintf(j->exit_note, sizeof j->exit_note, "could not be killed (pid %d left behind)",
                 (int)j->pid);
    }
    j->pid = -1;
}

/* Find the program like execvp does (PATH search when the name has no '/')
 * and check that it can be executed, so that a wrong --judge-cmd is a clear
 * error at open, whatever posix_spawn can report. */
static int resolve_program(const char *name, char *out, size_t cap) {
    struct stat st;
    if (strchr(name, '/')) {
        snprintf(out, cap, "%s", name);
        if (access(out, X_OK) != 0) return errno;
        return stat(out, &st) == 0 && S_ISDIR(st.st_mode) ? EISDIR : 0;
    }
    const char *path = getenv("PATH");
    if (!path) path = "/usr/local/bin:/usr/bin:/bin";
    int why = ENOENT;
    for (const char *dir = path;; dir++) {
        size_t n = strcspn(dir, ":");
        if (n == 0) snprintf(out, cap, "%s", name); /* empty entry: the current directory */
        else snprintf(out, cap, "%.*s/%s", (int)n, dir, name);
        if (access(out, X_OK) == 0 && stat(out, &st) == 0 && !S_ISDIR(st.st_mode)) return 0;
        if (errno == EACCES) why = EACCES; /* found but not executable: say so */
        dir += n;
        if (!*dir) break;
    }
    return why;
}

static int can_fix_exec_error(int e) {
    return e == ENOENT || e == EACCES || e == ENOEXEC || e == ENOTDIR || e == ELOOP ||
           e == ENAMETOOLONG || e == EISDIR;
}

/* Start a judge process: its stdin and stdout are pipes to us, its stderr is
 * ours or the log file, nothing else is inherited (on glibc >= 2.34), signals
 * the caller may ignore or block are back to default, and it leads its own
 * process group so that a wrapper script and its children die together. */
static pp_status spawn_judge(judge_cmd *j, pp_err *err) {
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
        int e = errno;
        close_fd(&in[0]);
        close_fd(&in[1]);
        return pp_fail(err, PP_ESYS, "judge '%s': cannot make pipes: %s", j->argv[0], strerror(e));
    }
    for (int k = 0; k < 2; k++) {
        in[k] = fd_above_stdio(in[k]);
        out[k] = fd_above_stdio(out[k]);
    }
    if (in[0] < 0 || in[1] < 0 || out[0] < 0 || out[1] < 0) {
        int e = errno;
        for (int k = 0; k < 2; k++) close_fd(&in[k]), close_fd(&out[k]);
        return pp_fail(err, PP_ESYS, "judge '%s': cannot place pipes: %s", j->argv[0], strerror(e));
    }

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    if (j->stderr_fd >= 0) posix_spawn_file_actions_adddup2(&fa, j->stderr_fd, 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    posix_spawn_file_actions_addclosefrom_np(&fa, 3); /* MPI sockets, HDF5 files... */
#endif
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    const int reset[] = {SIGPIPE, SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGCHLD, SIGALRM,
                         SIGUSR1, SIGUSR2, SIGTSTP, SIGTTIN, SIGTTOU};
    for (size_t k = 0; k < sizeof reset / sizeof reset[0]; k++) sigaddset(&defaults, reset[k]);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &defaults);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETPGROUP);
    pid_t pid;
    int rc = posix_spawn(&pid, j->program, &fa, &at, j->argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close_fd(&in[0]);
    close_fd(&out[1]);
    if (rc != 0) {
        close_fd(&in[1]);
        close_fd(&out[0]);
        return pp_fail(err, can_fix_exec_error(rc) ? PP_EINPUT : PP_ESYS,
                       "judge program '%s' cannot be run: %s%s", j->argv[0], strerror(rc),
                       strchr(j->argv[0], '/') ? "" : " (searched PATH)");
    }
    fcntl(in[1], F_SETFL, fcntl(in[1], F_GETFL) | O_NONBLOCK);
    fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);
    j->pid = pid;
    j->to_judge = in[1];
    j->from_judge = out[0];
    j->buf_len = 0;
    j->fresh = 1;
    return PP_OK;
}

/* ------------------------------------------------------------ the answer */

/* A parsed answer: a verdict (pairwise) or a score (score protocol). */
typedef struct {
    judge_verdict verdict;
    double score;
} cmd_answer;

/* Check the answer's "id" against the one sent. */
static pp_status check_answer_id(json_t *root, const char *line, size_t len, const char *expect_id, pp_err *err) {
    char show[400], got[64];
    json_t *id = json_object_get(root, "id"); /* NULL when root is no object */
    if (!json_is_object(root)) {
        preview(line, len, show, sizeof show);
        return pp_fail(err, PP_EINPUT, "judge answer is not a JSON object: \"%s\"", show);
    }
    if (!id) return pp_fail(err, PP_EINPUT, "judge answer has no \"id\" (expected \"%.100s\")", expect_id);
    if (json_is_string(id)) {
        const char *s = json_string_value(id);
        size_t n = json_string_length(id);
        if (n != strlen(expect_id) || memcmp(s, expect_id, n) != 0) {
            preview(s, n, show, sizeof show);
            return pp_fail(err, PP_EINPUT, "judge answer is for id \"%s\", expected \"%.100s\"", show, expect_id);
        }
        return PP_OK;
    }
    if (json_is_integer(id)) {
        snprintf(got, sizeof got, "%" JSON_INTEGER_FORMAT, json_integer_value(id));
        if (strcmp(got, expect_id) != 0)
            return pp_fail(err, PP_EINPUT, "judge answer is for id %s, expected \"%.100s\"", got, expect_id);
        return PP_OK;
    }
    return pp_fail(err, PP_EINPUT, "judge answer \"id\" is neither a string nor an integer");
}

/* "winner": "a" | "b" | "tie". */
static pp_status read_winner(json_t *root, judge_verdict *out, pp_err *err) {
    json_t *winner = json_object_get(root, "winner");
    const char *w = json_string_value(winner);
    size_t n = w ? json_string_length(winner) : 0;
    char show[400];
    if (!w) return pp_fail(err, PP_EINPUT, "judge answer has no string \"winner\"");
    if (n == 1 && w[0] == 'a') *out = JUDGE_FIRST;
    else if (n == 1 && w[0] == 'b') *out = JUDGE_SECOND;
    else if (n == 3 && memcmp(w, "tie", 3) == 0) *out = JUDGE_TIE;
    else {
        preview(w, n, show, sizeof show);
        return pp_fail(err, PP_EINPUT, "judge answer \"winner\" is \"%s\", not \"a\", \"b\" or \"tie\"", show);
    }
    return PP_OK;
}

/* "score": a finite number (jansson refuses NaN and infinities in JSON). */
static pp_status read_score(json_t *root, double *out, pp_err *err) {
    json_t *score = json_object_get(root, "score");
    if (!json_is_number(score)) return pp_fail(err, PP_EINPUT, "judge answer has no number \"score\"");
    double v = json_number_value(score);
    if (!isfinite(v)) return pp_fail(err, PP_EINPUT, "judge answer \"score\" is not finite");
    *out = v;
    return PP_OK;
}

/* Parse one answer line of either protocol.  *id_ok says whether the id
 * matched (the stream is in step even when the rest is bad). */
static pp_status parse_answer(const char *line, size_t len, const char *expect_id, int score_protocol,
                              cmd_answer *out, int *id_ok, pp_err *err) {
    out->verdict = JUDGE_FAILED;
    out->score = NAN;
    *id_ok = 0;
    json_error_t je;
    json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        char why[200], show[400]; /* jansson quotes the offending bytes: untrusted too */
        preview(je.text, strlen(je.text), why, sizeof why);
        preview(line, len, show, sizeof show);
        return pp_fail(err, PP_EINPUT, "judge answer is not JSON (%s, column %d): \"%s\"", why, je.column, show);
    }
    pp_status st = check_answer_id(root, line, len, expect_id, err);
    if (st == PP_OK) {
        *id_ok = 1;
        st = score_protocol ? read_score(root, &out->score, err) : read_winner(root, &out->verdict, err);
    }
    json_decref(root);
    return st;
}

pp_status judge_parse_answer(const char *line, const char *expect_id, judge_verdict *out,
                             pp_err *err) {
    int id_ok;
    cmd_answer a;
    pp_status st = parse_answer(line, strlen(line), expect_id ? expect_id : "", 0, &a, &id_ok, err);
    *out = a.verdict;
    return st;
}

pp_status judge_parse_score_answer(const char *line, const char *expect_id, double *score, pp_err *err) {
    int id_ok;
    cmd_answer a;
    pp_status st = parse_answer(line, strlen(line), expect_id ? expect_id : "", 1, &a, &id_ok, err);
    *score = a.score;
    return st;
}


/* --------------------------------------------------------------- exchange */

typedef enum { GOT_LINE, GOT_EARLY_LINE, GOT_TIMEOUT, GOT_EOF, GOT_TOO_LONG, GOT_STOPPED } got;

static int is_blank_line(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!is_blank(s[i])) return 0;
    return 1;
}

static void consume_line(judge_cmd *j, size_t line_len) {
    size_t used = line_len + 1;
    memmove(j->buf, j->buf + used, j->buf_len - used);
    j->buf_len -= used;
}

/* Send req and wait for one full answer line before the deadline.  On
 * GOT_LINE / GOT_EARLY_LINE the line is buf[0 .. *line_len) and its newline
 * is at buf[*line_len].  Blank lines are dropped (a judge that prints one
 * after each answer is common and harmless).  A stop request pulls the
 * deadline in to stop_grace_s after it was seen: GOT_STOPPED. */
static got exchange(judge_cmd *j, const char *req, size_t req_len, double deadline,
                    size_t *line_len) {
    size_t sent = 0;
    double stop_deadline = -1;
    for (;;) {
        char *nl = memchr(j->buf, '\n', j->buf_len);
        if (nl && is_blank_line(j->buf, (size_t)(nl - j->buf))) {
            consume_line(j, (size_t)(nl - j->buf));
            continue;
        }
        if (nl) {
            *line_len = (size_t)(nl - j->buf);
            return sent < req_len ? GOT_EARLY_LINE : GOT_LINE;
        }
        if (j->buf_len >= j->buf_cap) return GOT_TOO_LONG;
        double t = now_s();
        if (stop_deadline < 0 && stop_seen(j))
            stop_deadline = t + j->opt.stop_grace_s;
        if (stop_deadline >= 0 && stop_deadline < deadline && t >= stop_deadline) return GOT_STOPPED;
        double left = (stop_deadline >= 0 && stop_deadline < deadline ? stop_deadline : deadline) - t;
        if (left <= 0) return GOT_TIMEOUT;
        /* a signal may land between the check above and poll(): with a stop
         * callback, look again at least every 100 ms */
        if (j->opt.stop_requested && left > 0.1) left = 0.1;
        struct pollfd p[2] = {{j->from_judge, POLLIN, 0}, {j->to_judge, POLLOUT, 0}};
        int ms = left > 1000.0 ? 1000000 : (int)(left * 1000.0) + 1;
        int r = poll(p, sent < req_len ? 2 : 1, ms);
        if (r < 0) {
            if (errno == EINTR) continue;
            return GOT_EOF;
        }
        if (sent < req_len && p[1].revents) {
            ssize_t w = write_no_sigpipe(j->to_judge, req + sent, req_len - sent);
            if (w > 0) sent += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EINTR) return GOT_EOF; /* EPIPE */
        }
        if (p[0].revents) {
            ssize_t got_n = read(j->from_judge, j->buf + j->buf_len, j->buf_cap - j->buf_len);
            if (got_n > 0) j->buf_len += (size_t)got_n;
            else if (got_n == 0) return GOT_EOF;
            else if (errno != EAGAIN && errno != EINTR) return GOT_EOF;
        }
    }
}

typedef enum { ATTEMPT_OK, ATTEMPT_FAILED, ATTEMPT_STOPPED } attempt_end;

/* One request, one answer.  Counts the outcome; stops the judge when it is
 * dead, hung or out of step. */
static attempt_end attempt_once(judge_cmd *j, size_t req_len, const char *id,
                                cmd_answer *out) {
    j->n.attempts++;
    /* a freshly started judge may first have a model to load */
    double limit = j->opt.timeout_s;
    if (j->fresh && j->opt.startup_timeout_s > limit) limit = j->opt.startup_timeout_s;
    j->fresh = 0;
    size_t line_len = 0;
    got g = exchange(j, j->req, req_len, now_s() + limit, &line_len);
    pp_err perr;
    int id_ok = 0;
    switch (g) {
    case GOT_STOPPED:
        j->n.abandoned++;
        stop_judge(j, 0); /* out of step now; the run is ending anyway */
        snprintf(j->last_problem, sizeof j->last_problem,
                 "stopped by a signal while waiting for the answer to id \"%.100s\"", id);
        return ATTEMPT_STOPPED;
    case GOT_TIMEOUT:
        j->n.timeouts++;
        stop_judge(j, 0);
        snprintf(j->last_problem, sizeof j->last_problem,
                 "no answer to id \"%.100s\" within %g s; the judge %s", id, limit,
                 j->exit_note);
        return ATTEMPT_FAILED;
    case GOT_EOF:
        j->n.crashes++;
        stop_judge(j, 0.2);
        snprintf(j->last_problem, sizeof j->last_problem,
                 "the judge closed its stdout before answering id \"%.100s\" and %s", id,
                 j->exit_note);
        return ATTEMPT_FAILED;
    case GOT_TOO_LONG:
        j->n.bad_answers++;
        stop_judge(j, 0.1);
        snprintf(j->last_problem, sizeof j->last_problem,
                 "answer to id \"%.100s\" is longer than %zu bytes (judge restarted)", id,
                 j->opt.max_answer_bytes);
        return ATTEMPT_FAILED;
    case GOT_EARLY_LINE: {
        char show[200];
        j->n.bad_answers++;
        preview(j->buf, line_len, show, sizeof show);
        snprintf(j->last_problem, sizeof j->last_problem,
                 "a line came before request \"%.100s\" was read (an extra line after an "
                 "earlier answer?): \"%s\" (judge restarted)", id, show);
        stop_judge(j, 0.1);
        return ATTEMPT_FAILED;
    }
    case GOT_LINE:
        break;
    }
    pp_status st = parse_answer(j->buf, line_len, id, j->opt.score_protocol, out, &id_ok, &perr);
    consume_line(j, line_len);
    if (st == PP_OK) return ATTEMPT_OK;
    j->n.bad_answers++;
    snprintf(j->last_problem, sizeof j->last_problem, "%.900s%s", perr.msg,
             id_ok ? "" : " (judge restarted)");
    if (!id_ok) stop_judge(j, 0.1); /* out of step: the next line could be anything */
    return ATTEMPT_FAILED;
}

/* ---------------------------------------------------------------- public */

void judge_cmd_options_default(judge_cmd_options *opt) {
    opt->timeout_s = 30.0;
    opt->startup_timeout_s = 60.0;
    opt->max_retries = 2;
    opt->give_up_after = 10;
    opt->max_answer_bytes = 65536;
    opt->restart_backoff_s = 0.05;
    opt->kill_grace_s = 2.0;
    opt->close_timeout_s = 5.0;
    opt->stderr_path = NULL;
    opt->stop_requested = NULL;
    opt->stop_ctx = NULL;
    opt->stop_grace_s = 5.0;
    opt->score_protocol = 0;
}

static pp_status check_options(const judge_cmd_options *o, pp_err *err) {
    if (!(o->timeout_s > 0))
        return pp_fail(err, PP_EINPUT, "judge timeout must be > 0 s, got %g", o->timeout_s);
    if (o->max_retries < 0)
        return pp_fail(err, PP_EINPUT, "judge retries must be >= 0, got %d", o->max_retries);
    if (o->give_up_after < 1)
        return pp_fail(err, PP_EINPUT, "judge give-up count must be >= 1, got %d",
                       o->give_up_after);
    if (o->max_answer_bytes < 16 || o->max_answer_bytes > ((size_t)1 << 30))
        return pp_fail(err, PP_EINPUT, "judge answer limit must be 16 B .. 1 GiB, got %zu",
                       o->max_answer_bytes);
    if (!(o->startup_timeout_s >= 0) || !(o->restart_backoff_s >= 0) || !(o->kill_grace_s >= 0) ||
        !(o->close_timeout_s >= 0) || !(o->stop_grace_s >= 0))
        return pp_fail(err, PP_EINPUT,
                       "judge startup timeout, backoff, kill grace, close timeout and stop grace must be >= 0");
    return PP_OK;
}

pp_status judge_cmd_open(judge_cmd **out, const char *cmdline, const judge_cmd_options *opt,
                         pp_err *err) {
    *out = NULL;
    judge_cmd_options o;
    if (opt) o = *opt;
    else judge_cmd_options_default(&o);
    PP_TRY(check_options(&o, err));
    judge_cmd *j = calloc(1, sizeof *j);
    if (!j) return pp_fail(err, PP_ESYS, "judge: out of memory");
    j->opt = o;
    j->pid = -1;
    j->to_judge = j->from_judge = j->stderr_fd = -1;
    pp_status st = judge_split_argv(cmdline, &j->argv, NULL, err);
    if (st != PP_OK) {
        free(j);
        return st;
    }
    j->buf_cap = o.max_answer_bytes + 1; /* the longest line plus its newline */
    j->buf = malloc(j->buf_cap);
    if (!j->buf) st = pp_fail(err, PP_ESYS, "judge '%s': out of memory", j->argv[0]);
    if (st == PP_OK && o.stderr_path) {
        j->stderr_path = strdup(o.stderr_path);
        j->opt.stderr_path = j->stderr_path;
        j->stderr_fd = open(o.stderr_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (j->stderr_fd < 0)
            st = pp_fail(err, PP_EINPUT, "judge stderr log %s: %s", o.stderr_path,
                         strerror(errno));
        else j->stderr_fd = fd_above_stdio(j->stderr_fd);
    }
    if (st == PP_OK) {
        int e = resolve_program(j->argv[0], j->program, sizeof j->program);
        if (e != 0)
            st = pp_fail(err, can_fix_exec_error(e) ? PP_EINPUT : PP_ESYS,
                         "judge program '%s' cannot be run: %s%s", j->argv[0], strerror(e),
                         strchr(j->argv[0], '/') ? "" : " (searched PATH)");
    }
    if (st == PP_OK) st = spawn_judge(j, err);
    if (st != PP_OK) {
        judge_cmd_close(j);
        return st;
    }
    *out = j;
    return PP_OK;
}

/* Build the request line {"id":id, keys[0]:texts[0], ...} in j->req; returns
 * its length, 0 when out of memory.  id is valid UTF-8 already; the texts
 * may hold anything (invalid sequences are sent as U+FFFD). */
static size_t build_request(judge_cmd *j, const char *id, const char *const *keys, const char *const *texts, int n) {
    char *owned[3] = {NULL, NULL, NULL};
    size_t len = 0;
    json_t *obj = json_pack("{s:s}", "id", id);
    for (int k = 0; obj && k < n; k++) {
        const char *clean = pp_utf8_clean(texts[k] ? texts[k] : "", &owned[k]);
        if (!clean || json_object_set_new(obj, keys[k], json_string(clean)) != 0) {
            json_decref(obj);
            obj = NULL;
        }
    }
    if (obj) {
        /* JSON_COMPACT without JSON_ENSURE_ASCII: UTF-8 goes through as is;
         * newlines and control characters are escaped, so one line.  Keys
         * keep their insertion order (jansson >= 2.8). */
        size_t need = json_dumpb(obj, NULL, 0, JSON_COMPACT);
        if (need > 0 && need + 1 > j->req_cap) {
            char *grown = realloc(j->req, need + 1);
            if (grown) j->req = grown, j->req_cap = need + 1;
        }
        if (need > 0 && need + 1 <= j->req_cap &&
            json_dumpb(obj, j->req, need, JSON_COMPACT) == need) {
            j->req[need] = '\n';
            len = need + 1;
        }
        json_decref(obj);
    }
    for (int k = 0; k < n; k++) free(owned[k]);
    return len;
}

/* One call of either protocol: the request's text fields, then attempts
 * with retries and restarts until a valid answer, a give-up or a stop.
 * *done says whether *out holds an answer. */
static pp_status judge_call(judge_cmd *j, const char *id, const char *const *keys, const char *const *texts, int n,
                            cmd_answer *out, int *done, double *seconds, pp_err *err) {
    double t0 = now_s();
    out->verdict = JUDGE_FAILED;
    out->score = NAN;
    *done = 0;
    if (seconds) *seconds = 0;
    j->n.calls++;
    if (j->broken)
        return pp_fail(err, PP_ESYS, "judge '%s' was given up earlier: %s", j->argv[0],
                       j->last_problem);
    char id_buf[32];
    if (!id) {
        snprintf(id_buf, sizeof id_buf, "%ld", j->n.calls);
        id = id_buf;
    }
    char *id_owned; /* the answer must echo the id as sent */
    id = pp_utf8_clean(id, &id_owned);
    size_t req_len = id ? build_request(j, id, keys, texts, n) : 0;
    if (req_len == 0) {
        free(id_owned);
        return pp_fail(err, PP_ESYS, "judge '%s': out of memory building a request", j->argv[0]);
    }

    pp_status st = PP_OK;
    for (int attempt = 0; attempt <= j->opt.max_retries && !*done && st == PP_OK; attempt++) {
        if (stop_seen(j)) { /* no new attempt, no restart */
            st = pp_fail(err, PP_EINTERRUPTED, "stopped by a signal before judge call \"%.100s\"", id);
            break;
        }
        if (j->pid < 0) {
            /* first restart after a failure at once, further ones in a row back off */
            if (j->fails_in_row >= 2) {
                double pause = j->opt.restart_backoff_s;
                for (int k = 2; k < j->fails_in_row && pause < 1.0; k++) pause *= 2;
                sleep_s(pause < 1.0 ? pause : 1.0);
            }
            j->n.restarts++;
            st = spawn_judge(j, err);
            if (st != PP_OK) {
                st = err->status = PP_ESYS;
                j->broken = 1;
                snprintf(j->last_problem, sizeof j->last_problem, "%.900s", err->msg);
                break;
            }
        }
        attempt_end how = attempt_once(j, req_len, id, out);
        if (how == ATTEMPT_OK) {
            j->n.ok++;
            j->fails_in_row = 0;
            *done = 1;
        } else if (how == ATTEMPT_STOPPED) {
            st = pp_fail(err, PP_EINTERRUPTED, "%s", j->last_problem);
        } else if (++j->fails_in_row >= j->opt.give_up_after) {
            j->broken = 1;
            stop_judge(j, 0.1);
            st = pp_fail(err, PP_ESYS,
                         "judge '%s' gave no valid answer in %d attempts in a row, giving up "
                         "(see its stderr); last problem: %s",
                         j->argv[0], j->fails_in_row, j->last_problem);
        }
    }
    if (!*done) {
        out->verdict = JUDGE_FAILED;
        out->score = NAN;
        if (st == PP_OK) j->n.failures++;
    }
    free(id_owned);
    double dt = now_s() - t0;
    j->n.seconds += dt;
    if (seconds) *seconds = dt;
    return st;
}

pp_status judge_cmd_match(judge_cmd *j, const char *id, const char *prompt, const char *a,
                          const char *b, judge_verdict *out, double *seconds, pp_err *err) {
    static const char *const keys[3] = {"prompt", "a", "b"};
    const char *texts[3] = {prompt, a, b};
    cmd_answer ans;
    int done;
    if (j->opt.score_protocol) {
        *out = JUDGE_FAILED;
        return pp_fail(err, PP_EINPUT, "judge '%s' speaks the score protocol: it cannot judge a match", j->argv[0]);
    }
    pp_status st = judge_call(j, id, keys, texts, 3, &ans, &done, seconds, err);
    *out = ans.verdict;
    return st;
}

pp_status judge_cmd_score(judge_cmd *j, const char *id, const char *prompt, const char *response, double *score,
                          double *seconds, pp_err *err) {
    static const char *const keys[2] = {"prompt", "response"};
    const char *texts[2] = {prompt, response};
    cmd_answer ans;
    int done;
    if (!j->opt.score_protocol) {
        *score = NAN;
        return pp_fail(err, PP_EINPUT, "judge '%s' speaks the pairwise protocol: it cannot score", j->argv[0]);
    }
    pp_status st = judge_call(j, id, keys, texts, 2, &ans, &done, seconds, err);
    *score = ans.score;
    return st;
}

void judge_cmd_stats(const judge_cmd *j, judge_cmd_counters *out) { *out = j->n; }

pid_t judge_cmd_pid(const judge_cmd *j) { return j->pid; }

const char *judge_cmd_last_problem(const judge_cmd *j) { return j->last_problem; }

void judge_cmd_close(judge_cmd *j) {
    if (!j) return;
    /* when stopping, a judge that does not exit at EOF is not waited for long */
    double wait = j->opt.close_timeout_s;
    if (wait > 0.5 && stop_seen(j)) wait = 0.5;
    stop_judge(j, wait);
    close_fd(&j->stderr_fd);
    judge_argv_free(j->argv);
    free(j->stderr_path);
    free(j->buf);
    free(j->req);
    free(j);
}

/* ------------------------------------------------------- judge.h table */

typedef struct {
    judge_cmd *cmd;
    const char *cmdline;
    const char *id_prefix;
    double timeout_s;
} cmd_judge;

static pp_status cmd_start(void **ctx, const judge_config *cfg, pp_err *err) {
    const judge_cli *cli = cfg->cli;
    if (!cli->cmdline) return pp_fail(err, PP_EINPUT, "--judge cmd needs --judge-cmd");
    int score_protocol = judge_cli_score_protocol(cli);
    if (cfg->pointwise && !score_protocol)
        return pp_fail(err, PP_EINPUT, "--method score with --judge cmd needs --judge-protocol score");
    if (!cfg->pointwise && score_protocol)
        return pp_fail(err, PP_EINPUT, "--judge-protocol score scores candidates one by one: use it with pp-rank --method score");
    cmd_judge *c = calloc(1, sizeof *c);
    if (!c) return pp_fail(err, PP_ESYS, "out of memory");
    judge_cmd_options jo = cli->cmd;
    jo.stop_requested = cfg->stop_requested;
    jo.stop_ctx = cfg->stop_ctx;
    jo.score_protocol = score_protocol;
    c->cmdline = cli->cmdline;
    c->id_prefix = cli->id_prefix ? cli->id_prefix : "";
    c->timeout_s = cli->cmd.timeout_s;
    pp_status st = judge_cmd_open(&c->cmd, cli->cmdline, &jo, err);
    if (st != PP_OK) {
        free(c);
        return st;
    }
    *ctx = c;
    return PP_OK;
}

static pp_status cmd_match(void *ctx, const judge_match *m, int n, judge_verdict *out, pp_err *err) {
    cmd_judge *c = ctx;
    for (int i = 0; i < n; i++)
        PP_TRY(judge_cmd_match(c->cmd, m[i].id, m[i].prompt, m[i].first, m[i].second, &out[i], NULL, err));
    return PP_OK;
}

/* Score protocol: candidate j of prompt row p is asked as id
 * "<prefix><prompt id>-c<j>"; a call that got no valid answer scores NAN
 * (rank_score leaves such candidates out of the pairs). */
static pp_status cmd_score(void *ctx, const candidate_set *c, int64_t p, double *scores, pp_err *err) {
    cmd_judge *cj = ctx;
    char id[96];
    for (int j = 0; j < c->k; j++) {
        snprintf(id, sizeof id, "%s%lld-c%d", cj->id_prefix, (long long)c->prompt_id[p], j);
        PP_TRY(judge_cmd_score(cj->cmd, id, c->prompt_text[p], c->candidate_text[p * c->k + j], &scores[j], NULL,
                               err));
    }
    return PP_OK;
}

static void cmd_counters(const void *ctx, judge_counters *out) { judge_cmd_stats(((const cmd_judge *)ctx)->cmd, out); }

static const char *cmd_last_problem(const void *ctx) { return judge_cmd_last_problem(((const cmd_judge *)ctx)->cmd); }

static void cmd_describe(const void *ctx, pairs_set *s) {
    const cmd_judge *c = ctx;
    snprintf(s->judge_cmd, sizeof s->judge_cmd, "%s", c->cmdline);
    s->has_timeout = 1;
    s->judge_timeout = c->timeout_s;
}

static void cmd_stop(void *ctx) {
    cmd_judge *c = ctx;
    judge_cmd_close(c->cmd);
    free(c);
}

/* Both protocols: which one a run speaks is chosen by --judge-protocol and
 * checked at start against what the caller asked for. */
const judge_ops judge_cmd_ops = {"cmd", 0, cmd_start, cmd_match, cmd_score, cmd_counters, cmd_last_problem,
                                 cmd_describe, cmd_stop, NULL};
