/* test_judge.c - the judge interface (judge/judge.h) dispatches to each
 * judge: oracle through the table gives exactly the verdicts and scores of
 * the oracle called directly, cmd through the table those of judge_cmd
 * called directly, rm is found, pointwise only, and starting it reaches its
 * loader; capabilities are refused with the stage's messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/pp_rng.h"
#include "judge/judge.h"
#include "judge/judge_cli.h"
#include "judge/judge_cmd.h"
#include "judge/judge_oracle.h"
#include "suite/tasks.h"

static char tools_dir[PATH_MAX];

#define N_MATCHES 200

/* Matches from the built-in suite: the reference against a wrong answer,
 * and two wrong answers (close pairs, where the position bias acts). */
typedef struct {
    task_item item[N_MATCHES];
    judge_match m[N_MATCHES];
} match_set;

static void make_matches(match_set *s) {
    task_family_set all;
    pp_err err = {0};
    assert_int_equal(tasks_parse_families("all", &all, &err), PP_OK);
    for (int i = 0; i < N_MATCHES; i++) {
        task_item *t = &s->item[i];
        assert_int_equal(tasks_make(&all, TASK_SPLIT_TRAIN, (uint64_t)i, 3, t, &err), PP_OK);
        const char *wrong = i % 3 == 0 ? "x" : i % 3 == 1 ? "12" : "";
        s->m[i] = (judge_match){"id", t->prompt,
                                i % 2 ? t->answer : wrong,
                                i % 2 ? wrong : (i % 5 ? t->answer : "zz"),
                                tasks_family_name(t->family), t->answer, (uint64_t)i * 7 + 1, (uint64_t)(i % 2), NULL};
    }
}

static void test_oracle_same_as_direct(void **state) {
    (void)state;
    static match_set s;
    make_matches(&s);
    judge_cli cli;
    judge_cli_defaults(&cli);
    cli.noise = 0.2;
    cli.position_bias = 0.5;
    cli.seed = 11;
    judge_config cfg = {.cli = &cli};
    judge_handle j;
    pp_err err = {0};
    assert_int_equal(judge_start(&j, "oracle", &cfg, &err), PP_OK);
    assert_string_equal(j.ops->name, "oracle");
    assert_true(j.ops->needs_task);
    judge_verdict got[N_MATCHES];
    assert_int_equal(judge_matches(&j, s.m, N_MATCHES, got, &err), PP_OK);

    oracle_judge direct;
    assert_int_equal(oracle_judge_init(&direct, 0.2, 0.5, cli.close, 11, &err), PP_OK);
    int kinds[4] = {0};
    for (int i = 0; i < N_MATCHES; i++) {
        oracle_result r = oracle_judge_match(&direct, s.item[i].family, s.m[i].prompt, s.m[i].reference, s.m[i].first,
                                             s.m[i].second, s.m[i].match_id, s.m[i].order);
        assert_int_equal(got[i], r.verdict);
        kinds[got[i]]++;
    }
    /* the comparison means something: all three verdicts occur */
    assert_true(kinds[JUDGE_FIRST] > 0 && kinds[JUDGE_SECOND] > 0 && kinds[JUDGE_TIE] > 0);
    judge_counters n;
    judge_get_counters(&j, &n);
    assert_int_equal(n.calls, N_MATCHES);
    assert_int_equal(n.attempts, N_MATCHES);
    assert_string_equal(judge_last_problem(&j), "");
    judge_stop(&j);
    assert_null(j.ops);
}

/* Pointwise: the true score plus noise * N(0,1) from the documented stream. */
static void test_oracle_scores(void **state) {
    (void)state;
    char *texts[3] = {NULL, "7", "x"}, *family[1], *reference[1], *prompt[1];
    task_family_set all;
    task_item t;
    pp_err err = {0};
    assert_int_equal(tasks_parse_families("add", &all, &err), PP_OK);
    assert_int_equal(tasks_make(&all, TASK_SPLIT_TRAIN, 0, 3, &t, &err), PP_OK);
    texts[0] = t.answer;
    family[0] = (char *)tasks_family_name(t.family);
    reference[0] = t.answer;
    prompt[0] = t.prompt;
    int64_t ids[1] = {42};
    candidate_set c = {0};
    c.n_prompts = 1;
    c.k = 3;
    c.candidate_text = texts;
    c.family = family;
    c.reference = reference;
    c.prompt_text = prompt;
    c.prompt_id = ids;

    judge_cli cli;
    judge_cli_defaults(&cli);
    cli.noise = 0.5;
    cli.seed = 9;
    judge_config cfg = {.cli = &cli, .pointwise = 1};
    judge_handle j;
    assert_int_equal(judge_start(&j, "oracle", &cfg, &err), PP_OK);
    double sc[3];
    assert_int_equal(judge_score(&j, &c, 0, sc, &err), PP_OK);
    for (int k = 0; k < 3; k++) {
        pp_rng r = pp_rng_stream(9, 42 * 65536 + (uint64_t)k, ORACLE_SCORE_STREAM);
        double want = tasks_score(t.family, t.prompt, t.answer, texts[k]) + 0.5 * pp_rng_normal(&r);
        assert_true(sc[k] == want);
    }
    judge_stop(&j);
    cli.noise = -1;
    assert_int_equal(judge_start(&j, "oracle", &cfg, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "--judge-noise must be >= 0 with --method score"));
    assert_null(j.ops);
}

static void test_cmd_same_as_direct(void **state) {
    (void)state;
    char cmdline[PATH_MAX + 32];
    snprintf(cmdline, sizeof cmdline, "%s/judge_good", tools_dir);
    judge_cli cli;
    judge_cli_defaults(&cli);
    cli.cmdline = cmdline;
    judge_config cfg = {.cli = &cli};
    judge_handle j;
    pp_err err = {0};
    assert_int_equal(judge_start(&j, "cmd", &cfg, &err), PP_OK);
    assert_string_equal(j.ops->name, "cmd");
    assert_false(j.ops->needs_task);
    assert_non_null(j.ops->score); /* both protocols; --judge-protocol picks one */
    judge_cmd *direct;
    assert_int_equal(judge_cmd_open(&direct, cmdline, &cli.cmd, &err), PP_OK);
    const char *texts[][2] = {{"long answer", "short"}, {"a", "bbb"}, {"same", "four"}, {"", "x"}};
    judge_match m[4];
    char ids[4][8];
    for (int i = 0; i < 4; i++) {
        snprintf(ids[i], sizeof ids[i], "m%d", i);
        m[i] = (judge_match){ids[i], "which?", texts[i][0], texts[i][1], NULL, NULL, 0, 0, NULL};
    }
    judge_verdict got[4];
    assert_int_equal(judge_matches(&j, m, 4, got, &err), PP_OK);
    for (int i = 0; i < 4; i++) {
        judge_verdict want;
        assert_int_equal(judge_cmd_match(direct, ids[i], "which?", texts[i][0], texts[i][1], &want, NULL, &err), PP_OK);
        assert_int_equal(got[i], want);
        assert_true(got[i] != JUDGE_FAILED);
    }
    assert_int_equal(got[0], JUDGE_FIRST);
    assert_int_equal(got[1], JUDGE_SECOND);
    judge_counters n;
    judge_get_counters(&j, &n);
    assert_int_equal(n.calls, 4);
    assert_int_equal(n.ok, 4);
    pairs_set ps = {0};
    judge_describe(&j, &ps);
    assert_string_equal(ps.judge_cmd, cmdline);
    assert_int_equal(ps.has_timeout, 1);
    judge_cmd_close(direct);
    judge_stop(&j);

    cli.cmdline = NULL;
    assert_int_equal(judge_start(&j, "cmd", &cfg, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "--judge cmd needs --judge-cmd"));
}

/* rm: found, pointwise only, and its start is what runs (its loader names
 * the missing file). */
static void test_rm_and_names(void **state) {
    (void)state;
    const judge_ops *rm = judge_find("rm");
    assert_non_null(rm);
    assert_null(rm->match);
    assert_non_null(rm->score);
    judge_cli cli;
    judge_cli_defaults(&cli);
    judge_config cfg = {.cli = &cli, .pointwise = 1, .rm_path = "/nonexistent/rm.h5"};
    judge_handle j;
    pp_err err = {0};
    assert_int_equal(judge_start(&j, "rm", &cfg, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "/nonexistent/rm.h5"));
    assert_null(j.ops);
    assert_null(judge_find("llm"));
    assert_int_equal(judge_start(&j, "llm", &cfg, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "unknown judge 'llm'"));
    /* a pairwise call to a pointwise judge, through the table */
    judge_handle fake = {rm, NULL};
    judge_verdict v;
    assert_int_equal(judge_matches(&fake, NULL, 0, &v, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "--judge rm scores candidates one by one"));
    assert_string_equal(judge_verdict_name(JUDGE_FIRST), "first");
    assert_string_equal(judge_verdict_name(JUDGE_FAILED), "failed");
}

int main(int argc, char **argv) {
    (void)argc;
    /* this binary is BUILD/tests/test_judge; the judges are in BUILD/tests/tools */
    char base[PATH_MAX];
    if (!realpath(argv[0], base)) return 1;
    char *slash = strrchr(base, '/');
    if (slash) *slash = '\0';
    snprintf(tools_dir, sizeof tools_dir, "%.4000s/tools", base);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oracle_same_as_direct),
        cmocka_unit_test(test_oracle_scores),
        cmocka_unit_test(test_cmd_same_as_direct),
        cmocka_unit_test(test_rm_and_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
