/* judge_cli.c - the judge options shared by pp-rank and pp-eval (judge_cli.h). */
#include <string.h>

#include "judge/judge_cli.h"
#include "judge/judge_oracle.h"

void judge_cli_defaults(judge_cli *j) {
    memset(j, 0, sizeof *j);
    judge_cmd_options_default(&j->cmd);
    j->id_prefix = "";
    j->close = ORACLE_DEFAULT_CLOSE;
    j->seed = 1;
    j->protocol = "pairwise";
    j->labels = "A,B";
    j->batch = 16;
}

int judge_cli_score_protocol(const judge_cli *j) { return j->protocol && strcmp(j->protocol, "score") == 0; }

void judge_cli_options(judge_cli *j, pp_option *o) {
    o[0] = (pp_option){"judge-cmd", OPT_STRING, &j->cmdline, "\"PROGRAM ARGS\"",
                       "--judge cmd: the judge program (JSON lines on stdin/stdout, no shell)", NULL, 0, 0, 0};
    o[1] = (pp_option){"judge-noise", OPT_DOUBLE, &j->noise, "P",
                       "oracle: probability of a swapped verdict (pp-rank --method score: std of added noise)", NULL, 0, 0, 1e9};
    o[2] = (pp_option){"judge-position-bias", OPT_DOUBLE, &j->position_bias, "P",
                       "oracle: probability of answering 'first' on a close pair", NULL, 0, 0, 1};
    o[3] = (pp_option){"judge-close", OPT_DOUBLE, &j->close, "D", "oracle: score difference below which a pair is close", NULL, 0, 0, 1e9};
    o[4] = (pp_option){"judge-seed", OPT_INT64, &j->seed, "S", "oracle: seed of the verdict noise", NULL, 0, 0, 9.2e18};
    o[5] = (pp_option){"judge-timeout", OPT_DOUBLE, &j->cmd.timeout_s, "SECONDS",
                       "cmd: seconds per attempt before the judge is killed and restarted", NULL, 0, 0, 1e6};
    o[6] = (pp_option){"judge-retries", OPT_INT, &j->cmd.max_retries, "N", "cmd: extra attempts for a match after a failed one", NULL, 0, 0, 100};
    o[7] = (pp_option){"judge-give-up", OPT_INT, &j->cmd.give_up_after, "N",
                       "cmd: failed attempts in a row after which the judge counts as broken", NULL, 0, 1, 1e9};
    o[8] = (pp_option){"judge-id-prefix", OPT_STRING, &j->id_prefix, "TEXT", "cmd: text put before every request id", NULL, 0, 0, 0};
    o[10] = (pp_option){"judge-startup-timeout", OPT_DOUBLE, &j->cmd.startup_timeout_s, "SECONDS",
                        "cmd: seconds for the first answer of each judge process (started or restarted), if longer "
                        "than --judge-timeout", NULL, 0, 0, 1e6};
    o[9] = (pp_option){"judge-stderr", OPT_STRING, &j->cmd.stderr_path, "FILE",
                       "cmd: append the judges' stderr to FILE (default: ours)", NULL, 0, 0, 0};
    o[11] = (pp_option){"judge-protocol", OPT_STRING, &j->protocol, "pairwise|score",
                        "cmd: pairwise verdicts {id,prompt,a,b} -> {id,winner}, or pointwise scores {id,prompt,response} "
                        "-> {id,score} (pp-rank --method score)", NULL, 0, 0, 0};
    o[12] = (pp_option){"judge-model", OPT_STRING, &j->model_path, "J.h5",
                        "--judge model: the model file that judges (any model here; its next-token probabilities of the "
                        "labels give the verdict)", NULL, 0, 0, 0};
    o[13] = (pp_option){"judge-template", OPT_STRING, &j->template_path, "FILE",
                        "model: judge prompt with {prompt}, {a} and {b} (default: built in, after MT-Bench's pairwise judge)",
                        NULL, 0, 0, 0};
    o[14] = (pp_option){"judge-labels", OPT_STRING, &j->labels, "\"A,B\"",
                        "model: the answer labels for the first and second answer, one token each after the cue", NULL, 0,
                        0, 0};
    o[15] = (pp_option){"judge-tie-margin", OPT_DOUBLE, &j->tie_margin, "M",
                        "model: a tie when |P(A) - P(B)| <= M x (P(A) + P(B))", NULL, 0, 0, 1};
    o[16] = (pp_option){"judge-batch", OPT_INT, &j->batch, "N",
                        "model: matches judged together in one forward stream (memory: N KV caches of the context)", NULL,
                        0, 1, 4096};
}

pp_status judge_cli_check(const judge_cli *j, const char *judge, int pointwise, pp_err *err) {
    int is_cmd = judge && !strcmp(judge, "cmd"), is_model = judge && !strcmp(judge, "model");
    if (is_model && (!j->model_path || !*j->model_path)) return pp_fail(err, PP_EINPUT, "--judge model needs --judge-model J.h5");
    if (!is_model && (j->model_path || j->template_path))
        return pp_fail(err, PP_EINPUT, "--judge-model and --judge-template are only used with --judge model");
    if (is_model && pointwise) return pp_fail(err, PP_EINPUT, "--judge model is pairwise: use a pairwise --method");
    if (is_cmd && (!j->cmdline || !*j->cmdline)) return pp_fail(err, PP_EINPUT, "--judge cmd needs --judge-cmd \"PROGRAM ARGS\"");
    if (!is_cmd && j->cmdline) return pp_fail(err, PP_EINPUT, "--judge-cmd is only used with --judge cmd");
    if (!pointwise && j->noise > 1)
        return pp_fail(err, PP_EINPUT, "--judge-noise must be a probability in [0, 1], got %g", j->noise);
    if (strcmp(j->protocol, "pairwise") != 0 && strcmp(j->protocol, "score") != 0)
        return pp_fail(err, PP_EINPUT, "--judge-protocol %s: must be pairwise or score", j->protocol);
    if (!is_cmd && judge_cli_score_protocol(j))
        return pp_fail(err, PP_EINPUT, "--judge-protocol is only used with --judge cmd");
    if (is_cmd && pointwise && !judge_cli_score_protocol(j))
        return pp_fail(err, PP_EINPUT, "--method score with --judge cmd needs a pointwise scorer: --judge-protocol score");
    if (is_cmd && !pointwise && judge_cli_score_protocol(j))
        return pp_fail(err, PP_EINPUT, "--judge-protocol score answers pp-rank --method score only; pairwise "
                                       "methods and pp-eval need --judge-protocol pairwise");
    if (!(j->cmd.timeout_s > 0)) return pp_fail(err, PP_EINPUT, "--judge-timeout must be > 0, got %g", j->cmd.timeout_s);
    if (j->id_prefix && strlen(j->id_prefix) > JUDGE_CLI_MAX_ID_PREFIX)
        return pp_fail(err, PP_EINPUT, "--judge-id-prefix is longer than %d characters", JUDGE_CLI_MAX_ID_PREFIX);
    return PP_OK;
}
