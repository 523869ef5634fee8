/* pp-eval - win rate and accuracy of a policy against a baseline, per
 * prompt set (e.g. test and ood), judged pairwise in both orders. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"
#include "judge/judge_cli.h"
#include "stage/pp_stage.h"

int main(int argc, char **argv) {
    const char *policy = NULL, *baseline = NULL, *prompts = NULL, *out = NULL, *judge = "oracle";
    double temperature = 0, top_p = 1, kv_mb = 0;
    int top_k = 0, max_new = 16, chunk = EVAL_DEFAULT_CHUNK_PROMPTS, max_batch = GENERATE_DEFAULT_MAX_BATCH;
    long long seed = 1;
    judge_cli jc;
    judge_cli_defaults(&jc);
    chat_options chat = {0};
    const char *max_memory = NULL;
    pp_option opts[64] = {
        {"policy", OPT_STRING, &policy, "M2.h5", "the model to evaluate", NULL, 1, 0, 0},
        {"baseline", OPT_STRING, &baseline, "M.h5", "the model to compare against (normally the reference)", NULL, 1, 0, 0},
        {"prompts", OPT_STRING, &prompts, "P.h5[,P2.h5]", "prompt files, comma-separated; each is one split of the report", NULL, 1, 0, 0},
        {"out", OPT_STRING, &out, "E.h5", "eval file to write", NULL, 1, 0, 0},
        {"judge", OPT_CHOICE, &judge, "J", "pairwise judge (model: an LLM judge, --judge-model)", "oracle|cmd|model", 0, 0, 0},
        {"temperature", OPT_DOUBLE, &temperature, "T", "sampling temperature (0: greedy)", NULL, 0, 0, 100},
        {"top-p", OPT_DOUBLE, &top_p, "P", "nucleus sampling", NULL, 0, 1e-9, 1},
        {"top-k", OPT_INT, &top_k, "N", "top-k sampling (0: off)", NULL, 0, 0, 1e9},
        {"max-new-tokens", OPT_INT, &max_new, "N", "longest response", NULL, 0, 1, 1e6},
        {"seed", OPT_INT64, &seed, "S", "sampling seed (the same for both models)", NULL, 0, 0, 0},
        {"chunk-prompts", OPT_INT, &chunk, "N", "prompts per saved chunk (OUT.parts: a killed run resumes from them)", NULL, 0, 1, 1e9},
        CHAT_STAGE_OPTIONS(chat),
        {"max-batch", OPT_INT, &max_batch, "N", GENERATE_MAX_BATCH_HELP, NULL, 0, 1, 65536},
        {"kv-cache-mb", OPT_DOUBLE, &kv_mb, "MB", GENERATE_KV_CACHE_HELP " (each model has its own)", NULL, 0, 0, 1e9},
        {"max-memory", OPT_STRING, &max_memory, "SIZE", PP_MAX_MEMORY_HELP, NULL, 0, 0, 0},
    };
    pp_cli cli = {.synopsis = "--policy M2.h5 --baseline M.h5 --prompts P.h5[,P2.h5] --out E.h5 --judge oracle|cmd ...",
                  .description = "Generates one response per prompt from each model (same seeds), asks the judge about "
                                 "every pair in both orders, and reports win, tie and loss rates with a standard error; "
                                 "with the oracle also exact-match accuracy and mean score of both models. Responses are "
                                 "decoded --max-batch at a time per model (a KV cache and a packed weight copy per model, "
                                 "allocated once: see pp-generate --help for the formula; the total is logged).",
                  .opts = opts};
    while (opts[cli.n_opts].name) cli.n_opts++;
    if (cli.n_opts + JUDGE_CLI_N_OPTIONS + 1 > (int)(sizeof opts / sizeof opts[0])) {
        fprintf(stderr, "%s: internal error: the option table is too small\n", argv[0]);
        return 2;
    }
    judge_cli_options(&jc, opts + cli.n_opts);
    cli.n_opts += JUDGE_CLI_N_OPTIONS;
    pp_stage s;
    int rc = pp_stage_begin(&s, "pp-eval", &cli, argc, argv);
    if (rc >= 0) return rc;

    /* split the comma list of prompt files */
    char list[8192];
    const char *paths[EVAL_MAX_SPLITS + 1];
    int n = 0;
    snprintf(list, sizeof list, "%s", prompts);
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t && n <= EVAL_MAX_SPLITS; t = strtok_r(NULL, ",", &save))
        paths[n++] = t;
    pp_input in[2 + EVAL_MAX_SPLITS] = {{"policy", policy}, {"baseline", baseline}};
    char roles[EVAL_MAX_SPLITS][16];
    for (int i = 0; i < n && i < EVAL_MAX_SPLITS; i++) {
        snprintf(roles[i], sizeof roles[i], "prompts%d", i);
        in[2 + i] = (pp_input){roles[i], paths[i]};
    }
    pp_status st = PP_OK;
    if (n < 1 || n > EVAL_MAX_SPLITS) st = pp_fail(&s.err, PP_EINPUT, "--prompts: give 1 to %d files", EVAL_MAX_SPLITS);
    if (st == PP_OK) st = judge_cli_check(&jc, judge, 0, &s.err);
    if (st == PP_OK) st = pp_check_output(out, in, 2 + n, &s.err);
    eval_options o = {.judge = judge, .j = jc, .chunk_prompts = chunk, .chat = chat, .max_batch = max_batch, .kv_cache_mb = kv_mb,
                      .max_memory = max_memory, .mem = &s.mem,
                      .gen = {.k = 1, .max_new_tokens = max_new, .seed = (uint64_t)seed,
                              .sample = {.temperature = (float)temperature, .top_k = top_k, .top_p = (float)top_p}}};
    eval_split_summary sum[EVAL_MAX_SPLITS];
    if (st == PP_OK) {
        pp_provenance prov = {"pp-eval", pp_cli_effective(&cli), in, 2 + n};
        st = eval_run(policy, baseline, paths, n, out, &o, &prov, s.comm, &s.log, sum, &s.err);
    }
    if (st == PP_OK && s.rank == 0) {
        printf("policy %s against baseline %s (judge %s, both orders):\n", policy, baseline, judge);
        eval_print_table(stdout, sum, n);
        printf("wrote %s\n", out);
    }
    return pp_stage_end(&s, st);
}
