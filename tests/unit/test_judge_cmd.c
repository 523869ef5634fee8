/* test_judge_cmd.c - the external-command judge against good and faulty
 * test judges (build/tests/tools/judge_*, found next to this binary or under
 * $PP_BUILD/tests/tools).
 *
 * Every faulty judge must leave the run complete in bounded time with each
 * failure counted where it belongs; texts must reach the judge byte for byte;
 * the argv splitter must never do shell things; a missing program must be a
 * clear error; and no child process may outlive a test. */
#include <errno.h>
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "judge/judge_cmd.h"

static char tools_dir[PATH_MAX]; /* .../build/tests/tools */
static char root_dir[PATH_MAX];  /* the repository, for examples/ */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* "TOOLS/NAME ARGS" (tools_dir has no blanks or quotes in our builds; quote
 * it anyway, which also exercises the splitter). */
static void tool_cmd(char *dst, size_t cap, const char *name_and_args) {
    snprintf(dst, cap, "'%s'/%s", tools_dir, name_and_args);
}

/* Count processes whose field `which` (4: parent pid, 5: process group) of
 * /proc/PID/stat equals `value`; zombies too unless living_only. */
static int count_procs(int which, long value, int living_only) {
    DIR *d = opendir("/proc");
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        char path[300], buf[1024];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue; /* gone meanwhile */
        size_t got = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[got] = '\0';
        char *close_paren = strrchr(buf, ')'); /* comm may hold blanks and parens */
        char state;
        long ppid, pgrp;
        if (close_paren && sscanf(close_paren + 1, " %c %ld %ld", &state, &ppid, &pgrp) == 3)
            if ((which == 4 ? ppid : pgrp) == value && !(living_only && state == 'Z')) n++;
    }
    closedir(d);
    return n;
}

/* Children of this process, zombies included; 0 also means waitpid has
 * nothing left to reap. */
static int my_children(void) {
    int n = count_procs(4, (long)getpid(), 0);
    if (n == 0 && (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD)) n = -1;
    return n;
}

/* Living members of a process group.  (An orphaned grandchild that died is
 * a zombie until init reaps it, which may take a while in containers.) */
static int group_alive(pid_t pgid) { return count_procs(5, (long)pgid, 1); }

static void fast_options(judge_cmd_options *o) {
    judge_cmd_options_default(o);
    o->timeout_s = 3.0;
    o->startup_timeout_s = 0; /* just timeout_s */
    o->kill_grace_s = 0.3;
    o->close_timeout_s = 1.0;
    o->restart_backoff_s = 0.001;
}

static judge_cmd *open_tool(const char *name_and_args, const judge_cmd_options *o) {
    char cmd[PATH_MAX + 200];
    tool_cmd(cmd, sizeof cmd, name_and_args);
    judge_cmd *j = NULL;
    pp_err err;
    pp_err_clear(&err);
    pp_status st = judge_cmd_open(&j, cmd, o, &err);
    if (st != PP_OK) fail_msg("judge_cmd_open(%s): %s", cmd, err.msg);
    return j;
}

static judge_verdict match(judge_cmd *j, const char *id, const char *a, const char *b) {
    judge_verdict v;
    pp_err err;
    pp_err_clear(&err);
    double secs = -1;
    pp_status st = judge_cmd_match(j, id, "prompt", a, b, &v, &secs, &err);
    if (st != PP_OK) fail_msg("match %s: %s", id ? id : "(null)", err.msg);
    assert_true(secs >= 0);
    return v;
}

static void assert_consistent(const judge_cmd_counters *n) {
    assert_int_equal(n->attempts, n->ok + n->timeouts + n->crashes + n->bad_answers + n->abandoned);
    assert_int_equal(n->calls, n->ok + n->failures);
}

/* ------------------------------------------------------------ splitting */

static void test_split_argv(void **state) {
    (void)state;
    static const struct {
        const char *line;
        int argc;
        const char *argv[12];
    } ok[] = {
        {"judge --x 1", 3, {"judge", "--x", "1"}},
        {"  a\t b\n", 2, {"a", "b"}},
        {"'a b' \"c d\"", 2, {"a b", "c d"}},
        {"a\\ b", 1, {"a b"}},
        {"\"a\\\"b\\\\c\"", 1, {"a\"b\\c"}},
        {"\"a\\nb\"", 1, {"a\\nb"}},
        {"''", 1, {""}},
        {"x '' y", 3, {"x", "", "y"}},
        {"'it''s'", 1, {"its"}},
        {"'don'\\''t'", 1, {"don't"}},
        {"a\"b c\"d", 1, {"ab cd"}},
        {"python3 -c 'print(\"$(rm -rf /)\")'", 3, {"python3", "-c", "print(\"$(rm -rf /)\")"}},
        {"$(rm -rf /) `id` ; | & > < $HOME *", 11,
         {"$(rm", "-rf", "/)", "`id`", ";", "|", "&", ">", "<", "$HOME", "*"}},
        {"gr\xc3\xbc\xc3\x9f" "e \"\xe2\x9c\x93 x\"", 2, {"gr\xc3\xbc\xc3\x9f" "e", "\xe2\x9c\x93 x"}},
    };
    for (size_t t = 0; t < sizeof ok / sizeof ok[0]; t++) {
        char **argv = NULL;
        int argc = -1;
        pp_err err;
        pp_err_clear(&err);
        pp_status st = judge_split_argv(ok[t].line, &argv, &argc, &err);
        if (st != PP_OK) fail_msg("split [%s]: %s", ok[t].line, err.msg);
        assert_int_equal(argc, ok[t].argc);
        for (int k = 0; k < argc && k < 12; k++) assert_string_equal(argv[k], ok[t].argv[k]);
        assert_null(argv[argc]);
        judge_argv_free(argv);
    }
    static const char *bad[] = {"", "   \t", "'abc", "x \"abc", "abc\\", "a 'b\"", NULL};
    for (size_t t = 0; t < sizeof bad / sizeof bad[0]; t++) {
        char **argv = (char **)1;
        pp_err err;
        pp_err_clear(&err);
        assert_int_equal(judge_split_argv(bad[t], &argv, NULL, &err), PP_EINPUT);
        assert_null(argv);
        assert_non_null(strstr(err.msg, "judge command"));
    }
}

/* --------------------------------------------------------------- parsing */

static void test_parse_answer(void **state) {
    (void)state;
    static const struct {
        const char *line, *id;
        judge_verdict want;
    } ok[] = {
        {"{\"id\":\"7\",\"winner\":\"a\"}", "7", JUDGE_FIRST},
        {"{\"id\":\"7\",\"winner\":\"b\"}", "7", JUDGE_SECOND},
        {"{\"id\":\"7\",\"winner\":\"tie\"}", "7", JUDGE_TIE},
        {" {\"winner\":\"b\", \"id\":\"x y\"} \r", "x y", JUDGE_SECOND},
        {"{\"id\":7,\"winner\":\"tie\"}", "7", JUDGE_TIE},
        {"{\"id\":\"gr\xc3\xbc\xc3\x9f" "e\",\"winner\":\"a\"}", "gr\xc3\xbc\xc3\x9f" "e", JUDGE_FIRST},
        {"{\"id\":\"7\",\"winner\":\"a\",\"reason\":{\"why\":[1,2]}}", "7", JUDGE_FIRST},
    };
    for (size_t t = 0; t < sizeof ok / sizeof ok[0]; t++) {
        judge_verdict v = JUDGE_FAILED;
        pp_err err;
        pp_err_clear(&err);
        pp_status st = judge_parse_answer(ok[t].line, ok[t].id, &v, &err);
        if (st != PP_OK) fail_msg("parse [%s]: %s", ok[t].line, err.msg);
        assert_int_equal(v, ok[t].want);
    }
    static const char *bad[] = {
        "",
        "not json",
        "[1,2]",
        "\"a\"",
        "null",
        "{\"id\":\"8\",\"winner\":\"a\"}",
        "{\"id\":8,\"winner\":\"a\"}",
        "{\"id\":7.0,\"winner\":\"a\"}",
        "{\"id\":true,\"winner\":\"a\"}",
        "{\"winner\":\"a\"}",
        "{\"id\":\"7\"}",
        "{\"id\":\"7\",\"winner\":\"A\"}",
        "{\"id\":\"7\",\"winner\":\"maybe\"}",
        "{\"id\":\"7\",\"winner\":1}",
        "{\"id\":\"7\",\"winner\":\"a\\u0000\"}",
        "{\"id\":\"7\\u0000\",\"winner\":\"a\"}",
        "{\"id\":\"7\",\"id\":\"7\",\"winner\":\"a\"}",
        "{\"id\":\"7\",\"winner\":\"a\"} {",
        "{\"id\":\"7\",\"winner\":\"a\"",
        "\x01\xff\xfe garbage \x1b[31m",
    };
    for (size_t t = 0; t < sizeof bad / sizeof bad[0]; t++) {
        judge_verdict v = JUDGE_FIRST;
        pp_err err;
        pp_err_clear(&err);
        if (judge_parse_answer(bad[t], "7", &v, &err) != PP_EINPUT)
            fail_msg("accepted bad answer [%s]", bad[t]);
        assert_int_equal(v, JUDGE_FAILED);
        assert_true(strlen(err.msg) > 10);
        for (const char *p = err.msg; *p; p++) /* printable one-line message */
            assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
    }
    assert_string_equal(judge_verdict_name(JUDGE_TIE), "tie");
    assert_string_equal(judge_verdict_name(JUDGE_FAILED), "failed");
}

/* The score protocol's answers: a finite number under "score". */
static void test_parse_score_answer(void **state) {
    (void)state;
    static const struct {
        const char *line;
        double want;
    } ok[] = {
        {"{\"id\":\"7-c0\",\"score\":0.25}", 0.25},
        {"{\"score\":-3, \"id\":\"7-c0\"} \r", -3.0},
        {"{\"id\":\"7-c0\",\"score\":1e300,\"why\":\"long\"}", 1e300},
    };
    for (size_t t = 0; t < sizeof ok / sizeof ok[0]; t++) {
        double v = 0;
        pp_err err;
        pp_err_clear(&err);
        if (judge_parse_score_answer(ok[t].line, "7-c0", &v, &err) != PP_OK) fail_msg("parse [%s]: %s", ok[t].line, err.msg);
        assert_true(v == ok[t].want);
    }
    static const char *bad[] = {
        "{\"id\":\"7-c0\"}",                     /* no score */
        "{\"id\":\"7-c0\",\"score\":\"0.5\"}",   /* a string */
        "{\"id\":\"7-c0\",\"score\":NaN}",       /* not JSON */
        "{\"id\":\"7-c0\",\"score\":1e999}",     /* overflows to infinity */
        "{\"id\":\"7-c1\",\"score\":1}",         /* another id */
        "{\"id\":\"7-c0\",\"winner\":\"a\"}",    /* a pairwise answer */
        "{\"id\":\"7-c0\",\"score\":null}",
    };
    for (size_t t = 0; t < sizeof bad / sizeof bad[0]; t++) {
        double v = 1;
        pp_err err;
        pp_err_clear(&err);
        if (judge_parse_score_answer(bad[t], "7-c0", &v, &err) != PP_EINPUT) fail_msg("accepted bad answer [%s]", bad[t]);
        assert_true(isnan(v));
        assert_true(strlen(err.msg) > 10);
    }
}

/* ------------------------------------------------------------ good judge */

static void test_good_judge(void **state) {
    (void)state;
    judge_cmd_options o;
    fast_options(&o);
    judge_cmd *j = open_tool("judge_good", &o);
    assert_true(judge_cmd_pid(j) > 0);
    for (int k = 0; k < 20; k++) {
        char id[32];
        snprintf(id, sizeof id, "m%d", k);
        const char *a = k % 3 == 0 ? "long answer" : k % 3 == 1 ? "x" : "same";
        const char *b = k % 3 == 0 ? "short" : k % 3 == 1 ? "longer" : "SAME";
        judge_verdict want = k % 3 == 0 ? JUDGE_FIRST : k % 3 == 1 ? JUDGE_SECOND : JUDGE_TIE;
        assert_int_equal(match(j, id, a, b), want);
    }
    /* no id: the call number is used and echoed */
    assert_int_equal(match(j, NULL, "aa", "b"), JUDGE_FIRST);
    judge_cmd_counters n;
    judge_cmd_stats(j, &n);
    assert_int_equal(n.calls, 21);
    assert_int_equal(n.ok, 21);
    assert_int_equal(n.attempts, 21);
    assert_int_equal(n.failures + n.timeouts + n.crashes + n.bad_answers + n.restarts + n.kills, 0);
    assert_true(n.seconds > 0 && n.seconds < 5);
    double t0 = now_s();
    judge_cmd_close(j);
    assert_true(now_s() - t0 < 0.5); /* it exits at EOF: no waiting for timeouts */
    assert_int_equal(my_children(), 0);
    judge_cmd_close(NULL);
}

/* Every byte of every text must arrive; invalid UTF-8 becomes U+FFFD. */
static void test_texts_intact(void **state) {
    (void)state;
    char dir[] = "/tmp/pp-judge-test.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char dump[PATH_MAX];
    snprintf(dump, sizeof dump, "%s/dump.bin", dir);
    setenv("JUDGE_DUMP", dump, 1);

    size_t big_n = 1 << 20; /* far beyond any pipe buffer */
    char *big = malloc(big_n + 1);
    assert_non_null(big);
    for (size_t i = 0; i < big_n; i++) big[i] = "ab\"\\\n\xc3\xa9 $`"[i % 11];
    big[big_n] = '\0';
    if ((unsigned char)big[big_n - 1] == 0xc3) big[big_n - 1] = 'z'; /* keep it valid UTF-8 */

    const char *sent[][3] = {
        {"He said \"hi\" and 'bye'\nnext line\r\ncrlf\ttab \\ backslash \\n not a newline",
         "$(rm -rf /) `rm -rf ~` ; rm -rf / && echo pwned | cat > /etc/passwd; ${HOME} *",
         "gr\xc3\xbc\xc3\x9f" "e \xe2\x80\x94 \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80"},
        {"", "{\"id\":\"fake\",\"winner\":\"b\"}\n{\"id\":\"fake\"}", "\x01\x02\x1f\x7f control \x1b[31m"},
        {big, "x", "yy"},
        {"p", "\xe2\x80\xa8 line separator \xe2\x80\xa9", "\"\"\"\n\n\n"},
    };
    judge_verdict want[] = {JUDGE_FIRST, JUDGE_FIRST, JUDGE_SECOND, JUDGE_FIRST};
    size_t n_sent = sizeof sent / sizeof sent[0];
    const char *bad_a = "bad \xff\xfe and \xc3 end";
    const char *bad_b = "overlong \xc0\xaf surrogate \xed\xa0\x80 high \xf4\x90\x80\x80";
    const char *fixed_a = "bad \xef\xbf\xbd\xef\xbf\xbd and \xef\xbf\xbd end";
    const char *fixed_b = "overlong \xef\xbf\xbd\xef\xbf\xbd surrogate \xef\xbf\xbd\xef\xbf\xbd"
                          "\xef\xbf\xbd high \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd";

    judge_cmd_options o;
    fast_options(&o);
    judge_cmd *j = open_tool("judge_good", &o);
    unsetenv("JUDGE_DUMP");
    for (size_t t = 0; t < n_sent; t++) {
        char id[16];
        snprintf(id, sizeof id, "t%zu", t);
        judge_verdict v;
        pp_err err;
        pp_err_clear(&err);
        if (judge_cmd_match(j, id, sent[t][0], sent[t][1], sent[t][2], &v, NULL, &err) != PP_OK)
            fail_msg("%s", err.msg);
        assert_int_equal(v, want[t]);
    }
    judge_verdict v;
    pp_err err;
    /* an id that is not UTF-8 is sent (and must come back) cleaned too */
    assert_int_equal(judge_cmd_match(j, "bad\xff", "\xff", bad_a, bad_b, &v, NULL, &err), PP_OK);
    assert_int_not_equal(v, JUDGE_FAILED);
    judge_cmd_counters n;
    judge_cmd_stats(j, &n);
    assert_int_equal(n.ok, (long)n_sent + 1);
    assert_int_equal(n.attempts, (long)n_sent + 1);
    judge_cmd_close(j);

    FILE *f = fopen(dump, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *got = malloc((size_t)size + 1);
    assert_int_equal(fread(got, 1, (size_t)size, f), (size_t)size);
    got[size] = '\0';
    fclose(f);
    size_t at = 0;
    for (size_t t = 0; t <= n_sent; t++) {
        for (int k = 0; k < 3; k++) {
            const char *expect = t < n_sent ? sent[t][k]
                                 : k == 0   ? "\xef\xbf\xbd"
                                 : k == 1   ? fixed_a
                                            : fixed_b;
            size_t len = strlen(expect);
            assert_true(at + len < (size_t)size + 1);
            if (memcmp(got + at, expect, len) != 0 || got[at + len] != '\0')
                fail_msg("text %zu.%d arrived changed", t, k);
            at += len + 1;
        }
    }
    assert_int_equal(at, (size_t)size);
    free(got);
    free(big);
    unlink(dump);
    rmdir(dir);
    assert_int_equal(my_children(), 0);
}

static void test_missing_program(void **state) {
    (void)state;
    judge_cmd *j = (judge_cmd *)1;
    pp_err err;
    pp_err_clear(&err);
    assert_int_equal(judge_cmd_open(&j, "/nonexistent/dir/judge --x 1", NULL, &err), PP_EINPUT);
    assert_null(j);
    assert_non_null(strstr(err.msg, "'/nonexistent/dir/judge'"));
    assert_non_null(strstr(err.msg, "No such file"));

    assert_int_equal(judge_cmd_open(&j, "no-such-judge-prefpipe-xyz arg", NULL, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "no-such-judge-prefpipe-xyz"));
    assert_non_null(strstr(err.msg, "searched PATH"));

    char path[] = "/tmp/pp-judge-noexec.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "#!/bin/sh\n", 10), 10);
    close(fd);
    chmod(path, 0644);
    if (geteuid() != 0 || access(path, X_OK) != 0) { /* root may execute anything with an x bit */
        assert_int_equal(judge_cmd_open(&j, path, NULL, &err), PP_EINPUT);
        assert_non_null(strstr(err.msg, path));
    }
    unlink(path);

    assert_int_equal(judge_cmd_open(&j, "'unterminated", NULL, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "unterminated"));
    assert_int_equal(judge_cmd_open(&j, "   ", NULL, &err), PP_EINPUT);

    judge_cmd_options o;
    judge_cmd_options_default(&o);
    o.timeout_s = 0;
    assert_int_equal(judge_cmd_open(&j, "/bin/cat", &o, &err), PP_EINPUT);
    judge_cmd_options_default(&o);
    o.give_up_after = 0;
    assert_int_equal(judge_cmd_open(&j, "/bin/cat", &o, &err), PP_EINPUT);
    judge_cmd_options_default(&o);
    o.stderr_path = "/nonexistent/dir/judge.log";
    assert_int_equal(judge_cmd_open(&j, "/bin/cat", &o, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "/nonexistent/dir/judge.log"));
    assert_int_equal(my_children(), 0);
}

/* ---------------------------------------------------------- faulty judges */

/* judge_crashy N: each process answers N-1 requests and dies on the next. */
static void test_crashy(void **state) {
    (void)state;
    static const char *modes[] = {"exit", "abort", "partial"};
    static const char *note[] = {"exited with status 3", "signal 6", "exited with status 3"};
    for (int m = 0; m < 3; m++) {
        judge_cmd_options o;
        fast_options(&o);
        char args[64];
        snprintf(args, sizeof args, "judge_crashy 3 %s", modes[m]);
        judge_cmd *j = open_tool(args, &o);
        double t0 = now_s();
        for (int k = 0; k < 10; k++) {
            char id[16];
            snprintf(id, sizeof id, "c%d", k);
            assert_int_equal(match(j, id, k % 2 ? "aa" : "b", k % 2 ? "a" : "bb"),
                             k % 2 ? JUDGE_FIRST : JUDGE_SECOND);
        }
        /* P1 answers 1,2 and dies on 3; P2 answers 3,4, dies on 5; ... P5 answers 9,10 */
        judge_cmd_counters n;
        judge_cmd_stats(j, &n);
        assert_int_equal(n.ok, 10);
        assert_int_equal(n.failures, 0);
        assert_int_equal(n.crashes, 4);
        assert_int_equal(n.restarts, 4);
        assert_int_equal(n.attempts, 14);
        assert_int_equal(n.kills, 0); /* they died by themselves */
        assert_consistent(&n);
        if (!strstr(judge_cmd_last_problem(j), note[m]))
            fail_msg("mode %s: last problem [%s]", modes[m], judge_cmd_last_problem(j));
        assert_true(now_s() - t0 < 5);
        judge_cmd_close(j);
        assert_int_equal(my_children(), 0);
    }
}

/* A judge that died between matches: the next write meets EPIPE.  SIGPIPE
 * keeps its default action here, so a raised one would kill this test. */
static void test_epipe(void **state) {
    (void)state;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &sa, NULL);
    judge_cmd_options o;
    fast_options(&o);
    judge_cmd *j = open_tool("judge_crashy 2 after", &o);
    assert_int_equal(match(j, "e1", "aa", "b"), JUDGE_FIRST);
    assert_int_equal(match(j, "e2", "aa", "b"), JUDGE_FIRST); /* answered, then it exits */
    sleep_s(0.2);
    assert_int_equal(match(j, "e3", "a", "bb"), JUDGE_SECOND);
    judge_cmd_counters n;
    judge_cmd_stats(j, &n);
    assert_int_equal(n.ok, 3);
    assert_int_equal(n.crashes, 1);
    assert_int_equal(n.restarts, 1);
    sigset_t pending;
    sigpending(&pending);
    assert_false(sigismember(&pending, SIGPIPE));
    judge_cmd_close(j);
    assert_int_equal(my_children(), 0);
}

/* With SIGCHLD ignored the kernel reaps judges itself: still no hang, and
 * crashes and timeouts are still counted (only exit statuses are lost). */
static void test_sigchld_ignored(void **state) {
    (void)state;
    struct sigaction ign, old;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGCHLD, &ign, &old);
    judge_cmd_options o;
    fast_options(&o);
    o.timeout_s = 0.3;
    judge_verdict v[6];
    judge_cmd_counters crashy, hang;
    judge_cmd *j = open_tool("judge_crashy 2", &o);
    for (int k = 0; k < 3; k++) v[k] = match(j, "i", "aa", "b");
    judge_cmd_stats(j, &crashy);
    judge_cmd_close(j);
    j = open_tool("judge_hang 2", &o); /* P1 hangs on m2, P2 on m3, P3 answers m3 */
    for (int k = 3; k < 6; k++) v[k] = match(j, "i", "aa", "b");
    judge_cmd_stats(j, &hang);
    judge_cmd_close(j);
    int left = count_procs(4, (long)getpid(), 0);
    sigaction(SIGCHLD, &old, NULL); /* before any assertion can jump out */
    for (int k = 0; k < 6; k++) assert_int_equal(v[k], JUDGE_FIRST);
    assert_int_equal(crashy.crashes, 2); /* P1 dies on m2, P2 on m3 */
    assert_int_equal(crashy.ok, 3);
    assert_int_equal(hang.timeouts, 2);
    assert_int_equal(hang.ok, 3);
    assert_int_equal(left, 0);
}

/* A judge that never answers: matches fail, then the judge is given up
 * after give_up_after attempts in a row, with a message naming it. */
static void test_always_crashing(void **state) {
    (void)state;
    judge_cmd_options o;
    fast_options(&o);
    judge_cmd *j = open_tool("judge_crashy 1", &o);
    double t0 = now_s();
    for (int k = 0; k < 3; k++) assert_int_equal(match(j, "x", "a", "b"), JUDGE_FAILED);
    judge_verdict v = JUDGE_FIRST;
    pp_err err;
    pp_err_clear(&err);
    assert_int_equal(judge_cmd_match(j, "x", "p", "a", "b", &v, NULL, &err), PP_ESYS);
    assert_int_equal(v, JUDGE_FAILED);
    assert_non_null(strstr(err.msg, "judge_crashy"));
    assert_non_null(strstr(err.msg, "10 attempts in a row"));
    assert_non_null(strstr(err.msg, "exited with status 3"));
    assert_int_equal(judge_cmd_match(j, "x", "p", "a", "b", &v, NULL, &err), PP_ESYS);
    assert_true(now_s() - t0 < 5);
    judge_cmd_counters n;
    judge_cmd_stats(j, &n);
    assert_int_equal(n.calls, 5);
    assert_int_equal(n.failures, 3);
    assert_int_equal(n.ok, 0);
    assert_int_equal(n.crashes, 10);
    assert_int_equal(n.attempts, 10);
    assert_int_equal(n.restarts, 9);
    assert_int_equal(judge_cmd_pid(j), -1); /* stopped when given up */
    judge_cmd_close(j);
    assert_int_equal(my_children(), 0);
}

/* judge_hang N: each process hangs on its Nth request. */
static void test_hang(void **state) {
    (void)state;
    judge_cmd_options o;
    fast_options(&o);
    o.timeout_s = 0.3;
    judge_cmd *j = open_tool("judge_hang 3", &o);
    double t0 = now_s();
    for (int k = 0; k < 6; k++) {
        char id[16];
        snprintf(id, sizeof id, "h%d", k);
        assert_int_equal(match(j, id, "aa", "b"), JUDGE_FIRST);
    }
    double took = now_s() - t0;
    judge_cmd_counters n;
    judge_cmd_stats(j, &n);
    assert_int_equal(n.ok, 6);
    assert_int_equal(n.timeouts, 2);
    assert_int_equal(n.kills, 2);
    assert_int_equal(n.restarts, 2);
    assert_int_equal(n.attempts, 8);
    assert_consistent(&n);
    assert_non_null(strstr(judge_cmd_last_problem(j), "within 0.3 s"));
    assert_true(took > 0.55 && took < 3);
    judge_cmd_close(j);
    assert_int_equal(my_children(), 0);

    /* ignoring SIGTERM only delays the end until SIGKILL */
    j = open_tool("judge_hang 2 --ignore-term", &o);
    t0 = now_s();
    assert_int_equal(match(j, "s1", "a", "bb"), JUDGE_SECOND);
    assert_int_equal(match(j, "s2", "a", "bb"), JUDGE_SECOND);
    took = now_s() - t0;
    judge_cmd_stats(j, &n);
    assert_int_equal(n.timeouts, 1);
    assert_int_equal(n.kills, 1);
    if (!strstr(judge_cmd_last_problem(j), "signal 9"))
        fail_msg("last problem [%s]", judge_cmd_last_problem(j));
    assert_true(took > 0.55 && took < 3); /* timeout + kill grace */
    judge_cmd_close(j);
    assert_int_equal(my_children(), 0);
}

/* Stop requests (issue 17.3): a call in flight is abandoned stop_grace_s
 * after the stop is seen, whatever the timeout; after it no attempt and no
 * restart is made. */
static double stop_at;
static int stop_after_deadline(void *ctx) {
    (void)ctx;
    return now_s() >= stop_at;
}

static void test_stop_during_call(void **state) {
    (void)state;
    judge_cmd_options o;
    fast_options(&o);
    o.timeout_s = 30; /* a hung call would take this long */
    o.startup_timeout_s = 60;
    o.stop_grace_s = 0.5;
    o.stop_requested = stop_after_deadline;
    stop_at = now_s() + 1e9;
    judge_cmd *j = open_tool("judge_hang 2 --ignore-term", &o);
    assert_int_equal(match(j, "ok1", "aa", "b"), JUDGE_FIRST);
    double t0 = now_s();
    stop_at = t0 + 0.3; /* the "signal" lands while the 2nd call hangs */
    judge_verdict v = JUDGE_FIRST;
    pp_err err;
    assert_int_equal(judge_cmd_match(j, "hung", "p", "aa", "b", &v, NULL, &err), PP_EINTERRUPTED);
    double took = now_s() - t0;
    assert_int_equal(v, JUDGE_FAILED);
    assert_non_null(strstr(err.msg, "stopped by a signal"));
    /* 0.3 s to the stop + 0.5 s grace + 0.3 s SIGTERM-to-SIGKILL grace */
    if (!(took > 0.7 && took < 2.0)) fail_msg("abandoned after %.2f s", took);
    assert_int_equal(judge_cmd_match(j, "next", "p", "aa", "b", &v, NULL, &err), PP_EINTERRUPTED);
    judge_cmd_counters n;
    judge_cmd_stats(j, &n);
    assert_int_equal(n.abandoned, 1);
    assert_int_equal(n.restarts, 0); /* no judge started after the stop */
    assert_int_equal(n.attempts, 2);
    assert_int_equal(n.attempts, n.ok + n.timeouts + n.crashes + n.bad_answers + n.abandoned);
    t0 = now_s();
    judge_cmd_close(j);
    assert_true(now_s() - t0 < 1.0);
    assert_int_equal(my_children(), 0);
}

/* A wrapper shell whose child hangs: the whole process group is killed. */
static void test_hang_wrapper(void **state) {
    (void)state;
    judge_cmd_options o;
    fast_options(&o);
    o.timeout_s = 0.3;
    o.max_retries = 0;
    char cmd[PATH_MAX + 200];
    snprintf(cmd, sizeof cmd, "/bin/sh -c \"'%s/judge_hang' 1; exit 0\"", tools_dir);
    judge_cmd *j = NULL;
    pp_err err;
    assert_int_equal(judge_cmd_open(&j, cmd, &o, &err), PP_OK);
    pid_t leader = judge_cmd_pid(j);
    double t0 = now_s();
    while (group_alive(leader) < 2 && now_s() - t0 < 2) sleep_s(0.01);
    assert_int_equal(group_alive(leader), 2); /* sh and its judge_hang */
    assert_int_equal(match(j, "w", "a", "b"), JUDGE_FAILED);
    judge_cmd_counters n;
    judge_cmd_stats(j, &n);
    assert_int_equal(n.timeouts, 1);
    assert_int_equal(n.failures, 1);
    t0 = now_s();
    while (group_alive(leader) > 0 && now_s() - t0 < 2) sleep_s(0.01);
    int left = group_alive(leader);
    if (left > 0) kill(-leader, SIGKILL); /* do not leak it when failing */
    assert_int_equal(left, 0); /* the grandchild is gone too */
    judge_cmd_close(j);
    assert_int_equal(my_children(), 0);
}

/* judge_garbage misbehaves as each id's prefix says. */
static void test_garbage(void **state) {
    (void)state;
    static const struct {
        const char *id;
        judge_verdict want;
        long bad, crashes, restarts; /* restarts this row causes (the next attempt makes them) */
    } rows[] = {
        {"notjson:1", JUDGE_FAILED, 3, 0, 3},   {"array:1", JUDGE_FAILED, 3, 0, 3},
        {"empty:1", JUDGE_FIRST, 0, 0, 0},          {"wrongid:1", JUDGE_FAILED, 3, 0, 3},
        {"blankafter:1", JUDGE_FIRST, 0, 0, 0}, /* and no restart before the next call (17.10) */
        {"nowinner:1", JUDGE_FAILED, 3, 0, 0},  {"badwinner:1", JUDGE_FAILED, 3, 0, 0},
        {"badwinner_once:1", JUDGE_FIRST, 1, 0, 0}, {"huge:1", JUDGE_FAILED, 3, 0, 3},
        {"nul:1", JUDGE_FAILED, 3, 0, 3},       {"partial:1", JUDGE_FIRST, 0, 0, 0},
        {"partialexit:1", JUDGE_FAILED, 0, 3, 3}, {"crlf:1", JUDGE_FIRST, 0, 0, 0},
        {"extra:1", JUDGE_FIRST, 0, 0, 0},          {"42", JUDGE_FIRST, 0, 0, 0},
        {"twolines:1", JUDGE_FIRST, 0, 0, 0},
    };
    judge_cmd_options o;
    fast_options(&o);
    judge_cmd *j = open_tool("judge_garbage", &o);
    double t0 = now_s();
    long restarts_due = 0, failures = 0;
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        judge_cmd_counters before, after;
        judge_cmd_stats(j, &before);
        judge_verdict v = match(j, rows[r].id, "aa", "b");
        judge_cmd_stats(j, &after);
        if (v != rows[r].want) fail_msg("%s: verdict %s", rows[r].id, judge_verdict_name(v));
        assert_int_equal(after.bad_answers - before.bad_answers, rows[r].bad);
        assert_int_equal(after.crashes - before.crashes, rows[r].crashes);
        assert_int_equal(after.timeouts, 0);
        failures += v == JUDGE_FAILED;
        /* a good match after each: it resets the failures-in-a-row count and
         * makes the restart the row left due; after "twolines" it first
         * meets the extra line (a bad answer, restart) and then succeeds */
        int extra_line = strncmp(rows[r].id, "twolines", 8) == 0;
        char id[32];
        snprintf(id, sizeof id, "good:%zu", r);
        assert_int_equal(match(j, id, "aa", "b"), JUDGE_FIRST);
        judge_cmd_counters good;
        judge_cmd_stats(j, &good);
        assert_int_equal(good.bad_answers - after.bad_answers, extra_line);
        restarts_due += rows[r].restarts + extra_line;
        assert_int_equal(good.restarts, restarts_due);
    }
    judge_cmd_counters n;
    judge_cmd_stats(j, &n);
    assert_int_equal(n.failures, failures);
    assert_int_equal(n.calls, 2 * (long)(sizeof rows / sizeof rows[0]));
    assert_consistent(&n);
    assert_true(now_s() - t0 < 8);
    judge_cmd_close(j);
    assert_int_equal(my_children(), 0);
}

/* judge_closeout 2: answers twice, closes stdout, keeps running. */
static void test_closeout(void **state) {
    (void)state;
    judge_cmd_options o;
    fast_options(&o);
    o.close_timeout_s = 0.2; /* the last one ignores EOF too */
    judge_cmd *j = open_tool("judge_closeout 2", &o);
    double t0 = now_s();
    for (int k = 0; k < 6; k++) assert_int_equal(match(j, "q", "aa", "b"), JUDGE_FIRST);
    judge_cmd_counters n;
    judge_cmd_stats(j, &n);
    assert_int_equal(n.ok, 6);
    assert_int_equal(n.crashes, 2);
    assert_int_equal(n.kills, 2); /* still running after the EOF: killed */
    assert_int_equal(n.restarts, 2);
    assert_consistent(&n);
    assert_true(now_s() - t0 < 5);
    judge_cmd_close(j);
    assert_int_equal(my_children(), 0);
}

/* A judge that ignores EOF and SIGTERM at close: close still ends in
 * close_timeout + kill_grace, and the judge is reaped. */
static void test_close_stubborn(void **state) {
    (void)state;
    judge_cmd_options o;
    fast_options(&o);
    o.close_timeout_s = 0.2;
    o.kill_grace_s = 0.2;
    judge_cmd *j = open_tool("judge_hang 1000 --linger --ignore-term", &o);
    assert_int_equal(match(j, "l", "aa", "b"), JUDGE_FIRST);
    double t0 = now_s();
    judge_cmd_close(j);
    double took = now_s() - t0;
    assert_true(took > 0.35 && took < 2);
    assert_int_equal(my_children(), 0);
}

static void test_stderr_log_and_time(void **state) {
    (void)state;
    char dir[] = "/tmp/pp-judge-log.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char log[PATH_MAX];
    snprintf(log, sizeof log, "%s/judge.log", dir);
    judge_cmd_options o;
    fast_options(&o);
    o.stderr_path = log;
    judge_cmd *j = open_tool("judge_good --hello", &o);
    judge_cmd_close(j);
    FILE *f = fopen(log, "r");
    assert_non_null(f);
    char line[200] = "";
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    assert_string_equal(line, "judge_good: hello\n");
    unlink(log);
    rmdir(dir);

    fast_options(&o);
    j = open_tool("judge_slow 30", &o);
    judge_verdict v;
    double secs = 0;
    pp_err err;
    assert_int_equal(judge_cmd_match(j, "s", "p", "a", "bb", &v, &secs, &err), PP_OK);
    assert_int_equal(v, JUDGE_SECOND);
    assert_true(secs >= 0.029 && secs < 1.0);
    judge_cmd_close(j);
    assert_int_equal(my_children(), 0);
}

/* A judge that needs 0.5 s to start: the first answer of each process gets
 * startup_timeout_s; without it every start times out. */
static void test_startup(void **state) {
    (void)state;
    judge_cmd_options o;
    fast_options(&o);
    o.timeout_s = 0.2;
    o.startup_timeout_s = 3;
    judge_cmd *j = open_tool("judge_slow 10 500", &o);
    double t0 = now_s();
    for (int k = 0; k < 3; k++) assert_int_equal(match(j, "s", "a", "bb"), JUDGE_SECOND);
    double took = now_s() - t0;
    judge_cmd_counters n;
    judge_cmd_stats(j, &n);
    assert_int_equal(n.ok, 3);
    assert_int_equal(n.timeouts, 0);
    assert_true(took > 0.45 && took < 2.5);
    judge_cmd_close(j);

    o.startup_timeout_s = 0;
    o.max_retries = 1;
    j = open_tool("judge_slow 10 500", &o);
    assert_int_equal(match(j, "s", "a", "bb"), JUDGE_FAILED);
    judge_cmd_stats(j, &n);
    assert_int_equal(n.timeouts, 2);
    assert_int_equal(n.kills, 2);
    judge_cmd_close(j);
    assert_int_equal(my_children(), 0);
}

/* examples/judge_example.py, when python3 is there. */
static void test_example_judge(void **state) {
    (void)state;
    char script[PATH_MAX + 64], cmd[2 * PATH_MAX];
    snprintf(script, sizeof script, "%s/examples/judge_example.py", root_dir);
    if (access("/usr/bin/python3", X_OK) != 0) skip();
    assert_int_equal(access(script, R_OK), 0);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' --target 10", script);
    judge_cmd_options o;
    fast_options(&o);
    judge_cmd *j = NULL;
    pp_err err;
    if (judge_cmd_open(&j, cmd, &o, &err) != PP_OK) fail_msg("%s", err.msg);
    /* the example prefers the answer whose length is nearer the target
     * (in characters, not bytes), ties when equally near */
    assert_int_equal(match(j, "1", "0123456789", "01"), JUDGE_FIRST);
    assert_int_equal(match(j, "2", "0123456789abcdefghij", "012345678"), JUDGE_SECOND);
    assert_int_equal(match(j, "3", "0123", "abcd"), JUDGE_TIE);
    assert_int_equal(match(j, "4", "\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93"
                                   "\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93",
                           "0123456789abcdefghij"),
                     JUDGE_FIRST);
    judge_cmd_counters n;
    judge_cmd_stats(j, &n);
    assert_int_equal(n.ok, 4);
    assert_int_equal(n.attempts, 4);
    judge_cmd_close(j);
    assert_int_equal(my_children(), 0);
}

static int find_dirs(void **state) {
    (void)state;
    const char *b = getenv("PP_BUILD");
    char base[PATH_MAX];
    if (b && *b) snprintf(base, sizeof base, "%s/tests", b);
    else {
        /* this binary is BUILD/tests/test_judge_cmd */
        snprintf(base, sizeof base, "%s", (const char *)*state);
        char *slash = strrchr(base, '/');
        if (slash) *slash = '\0';
        else snprintf(base, sizeof base, ".");
    }
    char abs_base[PATH_MAX];
    if (!realpath(base, abs_base)) return -1;
    snprintf(tools_dir, sizeof tools_dir, "%.4000s/tools", abs_base);
    const char *root = getenv("ROOT");
    if (root && *root) snprintf(root_dir, sizeof root_dir, "%s", root);
    else snprintf(root_dir, sizeof root_dir, "%.4000s/../..", abs_base);
    char probe[PATH_MAX + 32];
    snprintf(probe, sizeof probe, "%s/judge_good", tools_dir);
    if (access(probe, X_OK) != 0) {
        fprintf(stderr, "test_judge_cmd: %s missing (make tests builds it)\n", probe);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    (void)argc;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_argv),      cmocka_unit_test(test_parse_answer),
        cmocka_unit_test(test_parse_score_answer),
        cmocka_unit_test(test_good_judge),      cmocka_unit_test(test_texts_intact),
        cmocka_unit_test(test_missing_program), cmocka_unit_test(test_crashy),
        cmocka_unit_test(test_epipe),           cmocka_unit_test(test_sigchld_ignored),
        cmocka_unit_test(test_always_crashing),
        cmocka_unit_test(test_hang),            cmocka_unit_test(test_hang_wrapper),
        cmocka_unit_test(test_stop_during_call),
        cmocka_unit_test(test_garbage),         cmocka_unit_test(test_closeout),
        cmocka_unit_test(test_close_stubborn),  cmocka_unit_test(test_stderr_log_and_time),
        cmocka_unit_test(test_startup),
        cmocka_unit_test(test_example_judge),
    };
    void *self = argv[0];
    if (find_dirs(&self) != 0) return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
