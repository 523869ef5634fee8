/* pp-rank - rank the candidates of every prompt with a judge and write
 * chosen/rejected pairs (docs/ranking.md). */
#include <stdio.h>
#include <string.h>

#include "judge/judge_cli.h"
#include "stage/pp_stage.h"
#include "rank/rank.h"

int main(int argc, char **argv) {
    const char *cand_path = NULL, *out = NULL, *method = "iterative", *judge = "oracle";
    const char *rm = NULL, *rejected = "worst", *pairs_mode = "best", *jsonl = NULL, *rm_model = NULL;
    const char *max_memory = NULL;
    int both_orders = 0, queue_depth = 3;
    judge_cli jc;
    judge_cli_defaults(&jc);
    pp_option opts[64] = {
        {"candidates", OPT_STRING, &cand_path, "C.h5", "candidates file (pp-generate)", NULL, 1, 0, 0},
        {"out", OPT_STRING, &out, "R.h5", "pairs file to write", NULL, 1, 0, 0},
        {"method", OPT_CHOICE, &method, "M", "ranking method", "iterative|knockout|roundrobin|score", 0, 0, 0},
        {"judge", OPT_CHOICE, &judge, "J", "judge: built-in task oracle, external command, reward model, LLM judge model", "oracle|cmd|rm|model", 0, 0, 0},
        {"rm", OPT_STRING, &rm, "RM.h5", "--judge rm: reward model file (pp-rm)", NULL, 0, 0, 0},
        {"rm-model", OPT_STRING, &rm_model, "M.h5", "--judge rm: its feature model (default: the one the RM file names)", NULL, 0, 0, 0},
        {"both-orders", OPT_FLAG, &both_orders, NULL, "ask every match in both orders; disagreement is a tie", NULL, 0, 0, 0},
        {"rejected", OPT_STRING, &rejected, "RULE", "rejected candidate: worst | runner-up | quantile:Q", NULL, 0, 0, 0},
        {"pairs", OPT_CHOICE, &pairs_mode, "MODE", "best: (best, rejected) per prompt; all: every pair the ranking implies", "best|all", 0, 0, 0},
        {"queue-depth", OPT_INT, &queue_depth, "N", "calls queued at each worker rank", NULL, 0, 1, 64},
        {"jsonl", OPT_STRING, &jsonl, "FILE", "also write the pairs as TRL JSON lines {prompt, chosen, rejected}", NULL, 0, 0, 0},
        {"max-memory", OPT_STRING, &max_memory, "SIZE", PP_MAX_MEMORY_HELP, NULL, 0, 0, 0},
    };
    pp_cli cli = {.synopsis = "--candidates C.h5 --out R.h5 --method iterative|knockout|roundrobin|score "
                              "--judge oracle|cmd|rm|model [--judge-cmd \"PROGRAM ARGS\"] [--rm RM.h5] [--judge-model J.h5] [--both-orders]",
                  .description = "Ranks the K candidates of every prompt with a pairwise judge (or scores them one by "
                                 "one with --method score) and writes chosen/rejected pairs. The matches of all prompts "
                                 "are one work pool over the MPI ranks. Every verdict goes to a resume journal in "
                                 "OUT.parts/ as it arrives: a killed run started again with the same command judges "
                                 "only what is missing and writes the same pairs.",
                  .opts = opts};
    while (opts[cli.n_opts].name) cli.n_opts++;
    if (cli.n_opts + JUDGE_CLI_N_OPTIONS + 1 > (int)(sizeof opts / sizeof opts[0])) {
        fprintf(stderr, "%s: internal error: the option table is too small\n", argv[0]);
        return 2;
    }
    judge_cli_options(&jc, opts + cli.n_opts);
    cli.n_opts += JUDGE_CLI_N_OPTIONS;
    pp_stage s;
    int rc = pp_stage_begin(&s, "pp-rank", &cli, argc, argv);
    if (rc >= 0) return rc;

    rank_options o;
    rank_options_default(&o);
    o.judge = judge;
    o.pairs_all = strcmp(pairs_mode, "all") == 0;
    o.both_orders = both_orders;
    o.j = jc;
    o.rm_path = rm;
    o.rm_model_path = rm_model;
    o.queue_depth = queue_depth;
    o.candidates_path = cand_path;
    o.out_path = out;
    o.max_memory = max_memory;
    o.mem = &s.mem;
    rank_file_options f = {.method = method, .rejected = rejected, .jsonl = jsonl, .arguments = pp_cli_effective(&cli)};
    pp_status st = rank_file(&o, &f, &s.log, s.comm, &s.err);
    return pp_stage_end(&s, st);
}
