/* pp-rank - rank the candidates of every prompt with a judge and write
 * chosen/rejected pairs (docs/ranking.md). */
#include <stdio.h>
#include <string.h>

#include "io/candidates.h"
#include "judge/judge_cli.h"
#include "io/pairs.h"
#include "stage/pp_stage.h"
#include "rank/rank.h"

int main(int argc, char **argv) {
    const char *cand_path = NULL, *out = NULL, *method = "iterative", *judge = "oracle";
    const char *rm = NULL, *rejected = "worst", *pairs_mode = "best", *jsonl = NULL, *rm_model = NULL;
    int both_orders = 0, queue_depth = 3;
    judge_cli jc;
    judge_cli_defaults(&jc);
    pp_option opts[32] = {
        {"candidates", OPT_STRING, &cand_path, "C.h5", "candidates file (pp-generate)", NULL, 1, 0, 0},
        {"out", OPT_STRING, &out, "R.h5", "pairs file to write", NULL, 1, 0, 0},
        {"method", OPT_CHOICE, &method, "M", "ranking method", "iterative|knockout|roundrobin|score", 0, 0, 0},
        {"judge", OPT_CHOICE, &judge, "J", "judge: built-in task oracle, external command, reward model", "oracle|cmd|rm", 0, 0, 0},
        {"rm", OPT_STRING, &rm, "RM.h5", "--judge rm: reward model file (pp-rm)", NULL, 0, 0, 0},
        {"rm-model", OPT_STRING, &rm_model, "M.h5", "--judge rm: its feature model (default: the one the RM file names)", NULL, 0, 0, 0},
        {"both-orders", OPT_FLAG, &both_orders, NULL, "ask every match in both orders; disagreement is a tie", NULL, 0, 0, 0},
        {"rejected", OPT_STRING, &rejected, "RULE", "rejected candidate: worst | runner-up | quantile:Q", NULL, 0, 0, 0},
        {"pairs", OPT_CHOICE, &pairs_mode, "MODE", "best: (best, rejected) per prompt; all: every pair the ranking implies", "best|all", 0, 0, 0},
        {"queue-depth", OPT_INT, &queue_depth, "N", "calls queued at each worker rank", NULL, 0, 1, 64},
        {"jsonl", OPT_STRING, &jsonl, "FILE", "also write the pairs as TRL JSON lines {prompt, chosen, rejected}", NULL, 0, 0, 0},
    };
    pp_cli cli = {.synopsis = "--candidates C.h5 --out R.h5 --method iterative|knockout|roundrobin|score "
                              "--judge oracle|cmd|rm [--judge-cmd \"PROGRAM ARGS\"] [--rm RM.h5] [--both-orders]",
                  .description = "Ranks the K candidates of every prompt with a pairwise judge (or scores them one by "
                                 "one with --method score) and writes chosen/rejected pairs. The matches of all prompts "
                                 "are one work pool over the MPI ranks. Every verdict goes to a resume journal in "
                                 "OUT.parts/ as it arrives: a killed run started again with the same command judges "
                                 "only what is missing and writes the same pairs.",
                  .opts = opts};
    while (opts[cli.n_opts].name) cli.n_opts++;
    judge_cli_options(&jc, opts + cli.n_opts);
    cli.n_opts += JUDGE_CLI_N_OPTIONS;
    pp_stage s;
    int rc = pp_stage_begin(&s, "pp-rank", &cli, argc, argv);
    if (rc >= 0) return rc;

    rank_options o;
    rank_options_default(&o);
    pp_status st = PP_OK;
    o.score_method = strcmp(method, "score") == 0;
    if (!o.score_method) st = tourn_method_parse(method, "--method", &o.method, &s.err);
    o.judge = judge;
    if (st == PP_OK) st = tourn_reject_parse(rejected, "--rejected", &o.rejected, &s.err);
    snprintf(o.rejected_text, sizeof o.rejected_text, "%s", rejected);
    o.pairs_all = strcmp(pairs_mode, "all") == 0;
    o.both_orders = both_orders;
    o.j = jc;
    o.rm_path = rm;
    o.rm_model_path = rm_model;
    o.queue_depth = queue_depth;
    o.candidates_path = cand_path;
    o.out_path = out;
    char parts[PP_PATH_MAX];
    snprintf(parts, sizeof parts, "%s.parts", out);
    o.parts_dir = parts;
    int is_cmd = !strcmp(judge, "cmd"), is_rm = !strcmp(judge, "rm");

    /* combinations that make no sense, refused up front */
    if (st == PP_OK) st = judge_cli_check(&jc, is_cmd, o.score_method, &s.err);
    if (st == PP_OK && is_rm && !o.score_method)
        st = pp_fail(&s.err, PP_EINPUT, "--judge rm scores candidates one by one: use it with --method score");
    if (st == PP_OK && is_rm && !rm)
        st = pp_fail(&s.err, PP_EINPUT, "--judge rm needs --rm RM.h5");
    if (st == PP_OK && !is_rm && (rm || rm_model))
        st = pp_fail(&s.err, PP_EINPUT, "--rm and --rm-model are only used with --judge rm");
    if (st == PP_OK && o.score_method && is_cmd)
        st = pp_fail(&s.err, PP_EINPUT, "--method score needs a pointwise judge (oracle or rm), not a pairwise --judge cmd");
    if (st == PP_OK && o.score_method && (both_orders || jc.position_bias > 0))
        st = pp_fail(&s.err, PP_EINPUT, "--both-orders and --judge-position-bias apply to pairwise methods, not --method score");

    pp_input inputs[2] = {{"candidates", cand_path}, {"rm", rm}};
    if (st == PP_OK) st = pp_check_output(out, inputs, 2, &s.err);
    if (st == PP_OK && jsonl) st = pp_check_output(jsonl, inputs, 2, &s.err);
    if (st == PP_OK && jsonl && !strcmp(jsonl, out)) st = pp_fail(&s.err, PP_EINPUT, "--jsonl and --out name the same file");
    st = pp_agree(s.comm, st, &s.err);

    candidate_set cs = {0};
    if (st == PP_OK) st = pp_agree(s.comm, candidates_load(&cs, cand_path, &s.err), &s.err);
    if (st == PP_OK)
        pp_info(&s.log, "%s: %lld prompts x %lld candidates; method %s, judge %s%s, %d rank(s)", cand_path,
                (long long)cs.n_prompts, (long long)cs.k, method, judge, both_orders ? ", both orders" : "", s.size);

    pairs_set ps = {0};
    rank_report rep = {.parts.lock.fd = -1};
    pp_debug(&s.log, "started and loaded the candidates in %.2fs", pp_now() - s.t_start);
    if (st == PP_OK) st = rank_run(&o, &cs, &s.log, s.comm, &ps, &rep, &s.err);
    pp_debug(&s.log, "ranked after %.2fs", pp_now() - s.t_start);
    if (st == PP_OK) {
        pp_provenance prov = {"pp-rank", pp_cli_effective(&cli), inputs, rm ? 2 : 1};
        st = pairs_write(&ps, out, s.comm, &prov, &s.err);
    }
    pp_debug(&s.log, "wrote the pairs after %.2fs", pp_now() - s.t_start);
    if (st == PP_OK && jsonl && s.rank == 0) st = pairs_write_jsonl(&ps, jsonl, &s.err);
    st = pp_agree(s.comm, st, &s.err);
    if (s.rank == 0) rank_end(&rep, st == PP_OK, out, &ps, &s.log);
    pairs_free(&ps);
    candidates_free(&cs);
    return pp_stage_end(&s, st);
}
