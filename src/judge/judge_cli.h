/* judge_cli.h - the judge options pp-rank and pp-eval share: one option
 * table fragment, one check, one set of defaults, documented once in
 * docs/judge-protocol.md ("Options").
 *
 * Usage: judge_cli_defaults(&j), judge_cli_options(&j, opts + n) fills
 * JUDGE_CLI_N_OPTIONS entries of the program's option table pointing into
 * j, and after parsing judge_cli_check refuses combinations that make no
 * sense.  The external judge's settings are j.cmd itself (the table points
 * into a judge_cmd_options), so a new judge_cmd option needs one entry in
 * judge_cli_options and nothing in the programs. */
#ifndef JUDGE_CLI_H
#define JUDGE_CLI_H

#include "judge/judge_cmd.h"
#include "core/pp_error.h"
#include "core/pp_options.h"

/* Longest --judge-id-prefix: pp-rank and pp-eval put it before ids of at
 * most 32 characters in a 96-byte buffer. */
#define JUDGE_CLI_MAX_ID_PREFIX 60

typedef struct judge_cli {
    const char *cmdline;        /* --judge-cmd "PROGRAM ARGS" (NULL: not given) */
    judge_cmd_options cmd;      /* --judge-timeout, -startup-timeout, -retries, -give-up, -stderr */
    const char *id_prefix;      /* --judge-id-prefix, "" none */
    double noise, position_bias, close; /* oracle: --judge-noise, -position-bias, -close */
    long long seed;             /* oracle: --judge-seed */
    const char *protocol;       /* cmd: --judge-protocol pairwise|score */
    const char *model_path;     /* model: --judge-model J.h5 */
    const char *template_path;  /* model: --judge-template FILE (NULL: built in) */
    const char *labels;         /* model: --judge-labels "A,B" */
    double tie_margin;          /* model: --judge-tie-margin M */
    int batch;                  /* model: --judge-batch N (matches per forward stream) */
} judge_cli;

#define JUDGE_CLI_N_OPTIONS 17

void judge_cli_defaults(judge_cli *j);
void judge_cli_options(judge_cli *j, pp_option *out);
/* judge: the --judge name; pointwise: pp-rank --method score, where
 * --judge-noise is a standard deviation rather than a probability. */
PP_MUST_CHECK pp_status judge_cli_check(const judge_cli *j, const char *judge, int pointwise, pp_err *err);
/* 1 when --judge-protocol score was chosen (checked by judge_cli_check). */
int judge_cli_score_protocol(const judge_cli *j);

#endif
