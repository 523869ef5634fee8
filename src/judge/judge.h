/* judge.h - the one judge interface: what pp-rank and pp-eval call to have
 * two answers compared (pairwise) or a prompt's candidates scored
 * (pointwise), whatever the judge is.
 *
 * A judge is a table of functions (judge_ops) and its state.  Each judge
 * lives in one file and exports its table; judge.c lists the tables by
 * name, so a new judge is one new file and one line there.  The callers
 * never ask which judge they have: they read the table's capabilities
 * (match, score, needs_task).
 *
 *   judge_handle j;
 *   judge_start(&j, "oracle", &cfg, err);        (validates the settings)
 *   judge_matches(&j, m, n, verdicts, err);      (pairwise: n matches)
 *   judge_score(&j, c, p, scores, err);          (pointwise: one prompt)
 *   judge_get_counters(&j, &counters);
 *   judge_stop(&j);
 *
 * The judges: oracle (judge_oracle.h: the suite's scorer, emulated noise
 * and position bias; pairwise and pointwise), cmd (judge_cmd.h: an external
 * program, JSON lines over pipes; pairwise, or pointwise with the score
 * protocol), rm (judge_rm.c: the reward model of pp-rm; pointwise), model
 * (judge_model.h: an LLM judge on prefpipe's own engine; pairwise). */
#ifndef JUDGE_H
#define JUDGE_H

#include <stdint.h>

#include "core/pp_error.h"
#include "io/candidates.h"
#include "io/pairs.h"

/* The verdict of one match, in the order the answers were shown.  The
 * values are stored in files (pairs /matches, eval verdicts): keep them. */
typedef enum {
    JUDGE_FIRST = 0,  /* the answer shown first ("a") is better */
    JUDGE_SECOND = 1, /* the answer shown second ("b") is better */
    JUDGE_TIE = 2,
    JUDGE_FAILED = 3  /* the judge gave no valid answer, retries included */
} judge_verdict;

/* "first", "second", "tie", "failed". */
const char *judge_verdict_name(judge_verdict v);

/* What a judge did so far.  Every attempt ends one way:
 * attempts == ok + timeouts + crashes + bad_answers + abandoned,
 * and calls == ok + failures unless a call returned an error.  A judge
 * without retries counts one attempt per match. */
typedef struct {
    long calls;        /* matches asked */
    long ok;           /* matches that got a verdict first, second or tie */
    long failures;     /* matches that ended JUDGE_FAILED */
    long attempts;     /* requests made, retries included */
    long timeouts;     /* attempts without an answer in time (judge killed) */
    long crashes;      /* attempts during which the judge exited or closed stdout */
    long bad_answers;  /* attempts answered with an invalid line */
    long restarts;     /* judge processes started after the first (counted when
                          started: at the attempt after the failure) */
    long kills;        /* judge processes that had to be sent SIGTERM or SIGKILL */
    long abandoned;    /* attempts cut short by a stop request (judge killed) */
    double seconds;    /* wall time inside the matches */
} judge_counters;

/* One match: prompt and the two answers in the order shown. */
typedef struct {
    const char *id;                 /* request id, unique in the run (cmd sends it) */
    const char *prompt, *first, *second;
    const char *family, *reference; /* the task; needed when ops->needs_task */
    uint64_t match_id, order;       /* keys of the oracle's random stream */
    double *probs;                  /* out, may be NULL: [0], [1] = the judge's probability
                                       for the first / second answer (model judge; other
                                       judges leave it alone) */
} judge_match;

struct judge_cli;

/* Everything a judge may be started with; each takes what it needs. */
typedef struct {
    const struct judge_cli *cli;  /* the shared judge options (judge_cli.h) */
    int pointwise;                /* 1: pp-rank --method score (judge_score) */
    const char *rm_path;          /* rm: the pp-rm file */
    const char *rm_model_path;    /* rm: its feature model (NULL: the one it names) */
    const char *tokenizer;        /* rm: tokenizer and vocabulary of the texts, */
    int64_t vocab_size;           /*     checked against the feature model's */
    int (*stop_requested)(void *ctx); /* cmd: abandon a call once this says stop */
    void *stop_ctx;
} judge_config;

typedef struct {
    const char *name;
    int needs_task; /* matches and scores need family and reference */
    pp_status (*start)(void **ctx, const judge_config *cfg, pp_err *err);
    /* Pairwise (NULL: the judge is pointwise).  PP_OK with JUDGE_FAILED for
     * a match the judge could not answer; PP_EINTERRUPTED when a stop cut
     * the batch short (out[] from there on is no verdict); another status
     * when the judge cannot go on. */
    pp_status (*match)(void *ctx, const judge_match *m, int n, judge_verdict *out, pp_err *err);
    /* Pointwise (NULL: pairwise only): scores[j] for the k candidates of
     * prompt row p, higher = better, a function of (judge, prompt,
     * candidate) alone. */
    pp_status (*score)(void *ctx, const candidate_set *c, int64_t p, double *scores, pp_err *err);
    void (*counters)(const void *ctx, judge_counters *out);
    const char *(*last_problem)(const void *ctx); /* why the last match failed, or NULL */
    /* The judge's settings into the pairs file's attributes (NULL: none). */
    void (*describe)(const void *ctx, pairs_set *s);
    void (*stop)(void *ctx); /* ends the judge and frees ctx */
    /* Matches it judges best together (NULL: 1): callers with many ready
     * matches hand over up to this many in one match call. */
    int (*batch)(const void *ctx);
} judge_ops;

typedef struct {
    const judge_ops *ops; /* NULL: not started */
    void *ctx;
} judge_handle;

/* The table of the judge called name, or NULL. */
const judge_ops *judge_find(const char *name);
/* PP_EINPUT for an unknown name, or whatever the judge's start says. */
PP_MUST_CHECK pp_status judge_start(judge_handle *j, const char *name, const judge_config *cfg, pp_err *err);
/* Bytes one rank's judge called name will hold once started, from cfg and
 * the files' headers alone: the model judge's model and inference state,
 * the rm judge's feature model and workspace; 0 for the oracle and cmd
 * (an external command's own process is not this rank's memory). */
PP_MUST_CHECK pp_status judge_estimate_bytes(const char *name, const judge_config *cfg, double *bytes, pp_err *err);
PP_MUST_CHECK pp_status judge_matches(judge_handle *j, const judge_match *m, int n, judge_verdict *out, pp_err *err);
PP_MUST_CHECK pp_status judge_score(judge_handle *j, const candidate_set *c, int64_t p, double *scores, pp_err *err);
void judge_get_counters(const judge_handle *j, judge_counters *out);
/* Matches the judge takes best in one judge_matches call (>= 1). */
int judge_batch(const judge_handle *j);
const char *judge_last_problem(const judge_handle *j); /* "" when nothing went wrong */
void judge_describe(const judge_handle *j, pairs_set *s);
void judge_stop(judge_handle *j); /* a judge not started is fine */

#endif
