/* judge_cmd.h - the external-command judge ("--judge cmd"), pairwise or
 * pointwise.
 *
 * A judge is a program started once per MPI rank.  prefpipe writes one JSON
 * object per line to its stdin,
 *     {"id":"17","prompt":"...","a":"...","b":"..."}
 * and reads one JSON object per line from its stdout,
 *     {"id":"17","winner":"a"|"b"|"tie"}
 * or, with the score protocol (--judge-protocol score, for pp-rank --method
 * score: an external reward model),
 *     {"id":"17-c3","prompt":"...","response":"..."}  ->  {"id":"17-c3","score":0.82}
 * (docs/judge-protocol.md).  The command line is split into an argv here and
 * run directly, never through a shell, and the texts travel only through the
 * pipe, so quotes, newlines and shell metacharacters in them are harmless.
 *
 * Faults are absorbed: a judge that does not answer within the timeout is
 * killed, one that dies (or closes its stdout) is reaped, and either is
 * restarted; a bad answer is counted and the match retried a bounded number
 * of times.  A match that still has no verdict gets JUDGE_FAILED and the
 * caller goes on.  Only a judge that cannot be started, or that fails
 * `give_up_after` attempts in a row without one valid answer, is an error.
 *
 * SIGPIPE: writes to a dead judge are made with SIGPIPE blocked for the
 * calling thread and any resulting pending SIGPIPE is consumed, so callers
 * need not ignore SIGPIPE.  Callers must not set SIGCHLD to SIG_IGN (the
 * judge's exit status would be lost; it still works, but reports less). */
#ifndef JUDGE_CMD_H
#define JUDGE_CMD_H

#include <stddef.h>
#include <sys/types.h>

#include "core/pp_error.h"
#include "judge/judge.h"

typedef struct {
    double timeout_s;          /* per attempt: write request + read answer (30) */
    double startup_timeout_s;  /* the first attempt of each judge process may take
                                  this long instead, if longer: model loading (60) */
    int max_retries;           /* extra attempts per match after a failed one (2) */
    int give_up_after;         /* failed attempts in a row, with no valid answer in
                                  between, after which the judge counts as broken
                                  and judge_cmd_match returns PP_ESYS (10) */
    size_t max_answer_bytes;   /* longer answer lines are bad answers (65536) */
    double restart_backoff_s;  /* pause before the 2nd restart in a row, doubled
                                  for each further one, capped at 1 s (0.05) */
    double kill_grace_s;       /* SIGTERM to SIGKILL (2) */
    double close_timeout_s;    /* at close: wait this long for exit after EOF (5) */
    const char *stderr_path;   /* NULL: the judge's stderr is ours; else appended
                                  to this file */
    int (*stop_requested)(void *ctx); /* NULL, or nonzero once the program should
                                  stop (a signal, or the MPI coordinator says so;
                                  called with stop_ctx): then no new attempt and no
                                  restart is made, and an attempt in flight is
                                  abandoned stop_grace_s after the stop was seen
                                  (earlier if its own deadline comes first) */
    void *stop_ctx;
    double stop_grace_s;       /* (5); with kill_grace_s the longest a stop waits
                                  for a judge call: 5 + 2 s by default */
    int score_protocol;        /* 0: pairwise ({"id","prompt","a","b"} answered by
                                  {"id","winner"}); 1: pointwise scores
                                  ({"id","prompt","response"} answered by
                                  {"id","score"}) */
} judge_cmd_options;

/* The counters of judge.h; calls are judge_cmd_match calls. */
typedef judge_counters judge_cmd_counters;

typedef struct judge_cmd judge_cmd;

void judge_cmd_options_default(judge_cmd_options *opt);

/* Split cmdline into an argv: words are separated by blanks (space, tab,
 * newline); 'single quotes' keep everything literally; "double quotes" keep
 * everything except \" and \\; outside quotes a backslash keeps the next
 * character.  No variables, globs or other shell syntax: "$(x)" is just text.
 * On success *argv is a NULL-terminated array (free with judge_argv_free). */
PP_MUST_CHECK pp_status judge_split_argv(const char *cmdline, char ***argv, int *argc, pp_err *err);
void judge_argv_free(char **argv);

/* Start the judge.  opt may be NULL for the defaults.  A command line that
 * cannot be split or a program that cannot be executed is PP_EINPUT with a
 * message naming the program. */
PP_MUST_CHECK pp_status judge_cmd_open(judge_cmd **j, const char *cmdline, const judge_cmd_options *opt,
                         pp_err *err);

/* Judge one match.  id may be NULL (the call number is used).  Texts may hold
 * anything; invalid UTF-8 sequences are sent as U+FFFD.  Returns PP_OK with
 * *out = JUDGE_FAILED when the match could not be judged; PP_ESYS (and
 * JUDGE_FAILED) only when the judge can no longer be run or has given no
 * valid answer for give_up_after attempts in a row; PP_EINTERRUPTED (and
 * JUDGE_FAILED, not a verdict: do not record it) when opt.stop_requested
 * said stop before or during the match.  *seconds (may be NULL) gets the
 * wall time of the match, retries included.  Blank answer lines (whitespace
 * only) are skipped. */
PP_MUST_CHECK pp_status judge_cmd_match(judge_cmd *j, const char *id, const char *prompt, const char *a,
                          const char *b, judge_verdict *out, double *seconds, pp_err *err);

/* Score one response (a judge opened with opt.score_protocol = 1): the same
 * attempts, retries, timeouts, restarts and counters as judge_cmd_match.
 * PP_OK with *score = NAN when the call could not be answered; the other
 * statuses as judge_cmd_match. */
PP_MUST_CHECK pp_status judge_cmd_score(judge_cmd *j, const char *id, const char *prompt, const char *response,
                                        double *score, double *seconds, pp_err *err);

void judge_cmd_stats(const judge_cmd *j, judge_cmd_counters *out);

/* Process id of the running judge, or -1 when none runs (between a failure
 * and the restart that the next attempt makes). */
pid_t judge_cmd_pid(const judge_cmd *j);

/* What went wrong in the last failed attempt, one line ("" if nothing yet):
 * for the match log of a JUDGE_FAILED match. */
const char *judge_cmd_last_problem(const judge_cmd *j);

/* Close the judge's stdin, wait up to close_timeout_s for it to exit, then
 * SIGTERM and SIGKILL it; reap it and free everything.  NULL is a no-op. */
void judge_cmd_close(judge_cmd *j);

/* Parse one answer line (without its newline).  PP_OK and *out in
 * {A, B, TIE} when the line is a JSON object whose "id" equals expect_id
 * (a string, or an integer with the same decimal form) and whose "winner" is
 * "a", "b" or "tie"; other keys are ignored.  Otherwise PP_EINPUT with a
 * message saying what is wrong and *out = JUDGE_FAILED.  For fuzzing. */
PP_MUST_CHECK pp_status judge_parse_answer(const char *line, const char *expect_id, judge_verdict *out,
                             pp_err *err);
/* The same for a score answer: "score" must be a finite JSON number. */
PP_MUST_CHECK pp_status judge_parse_score_answer(const char *line, const char *expect_id, double *score, pp_err *err);

/* The judge's table for judge.h ("cmd"). */
extern const judge_ops judge_cmd_ops;

#endif
