/* make_judge_data - labelled judge prompts, to train a judge model with
 * pp-sft (the demonstration is the label of the correct answer).
 *
 *   make_judge_data OUT.h5 N SEED [TEMPLATE]
 *
 * Prompt i: built-in suite train item (i, SEED), its reference and a wrong
 * answer (a plausible one from tasks_wrong_answer, or an empty one) in an
 * order drawn from
 * (SEED, i), written into the judge prompt exactly as pp-rank's model judge
 * renders it (judge_model_render: TEMPLATE or the built-in template, then
 * the verdict cue).  The reference is "A" when the correct answer is shown
 * first, else "B".  Run it as a single process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pp_file.h"
#include "core/pp_rng.h"
#include "judge/judge_model.h"
#include "prompts/prompts.h"
#include "suite/tasks.h"

static int fail(const pp_err *e) {
    fprintf(stderr, "make_judge_data: %s\n", e->msg);
    MPI_Finalize();
    return 1;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    if (argc < 4) {
        fprintf(stderr, "usage: make_judge_data OUT.h5 N SEED [TEMPLATE]\n");
        MPI_Finalize();
        return 1;
    }
    const char *out = argv[1], *templ_path = argc > 4 ? argv[4] : NULL;
    long long n = atoll(argv[2]);
    uint64_t seed = strtoull(argv[3], NULL, 10);
    pp_err err = {0};
    char *templ = NULL;
    size_t templ_len = 0;
    if (templ_path && pp_read_file(templ_path, 1 << 20, "judge template", &templ, &templ_len, &err) != PP_OK)
        return fail(&err);
    task_family_set all;
    if (tasks_parse_families("all", &all, &err) != PP_OK) return fail(&err);
    prompt_set ps = {0};
    snprintf(ps.source, sizeof ps.source, "text");
    char *text = NULL;
    size_t cap = 0;
    for (long long i = 0; i < n; i++) {
        task_item t;
        if (tasks_make(&all, TASK_SPLIT_TRAIN, (uint64_t)i, seed, &t, &err) != PP_OK) return fail(&err);
        pp_rng r = pp_rng_stream(seed, (uint64_t)i, 0x4A554447u /* "JUDG" */);
        /* the wrong answer: plausible (two thirds) or empty, the kinds
         * make_candidates writes for K = 4 */
        char wrong[TASK_TEXT_MAX];
        if (pp_rng_below(&r, 3) == 0) wrong[0] = '\0';
        else tasks_wrong_answer(&t, &r, wrong);
        int correct_first = (int)pp_rng_below(&r, 2);
        const char *a = correct_first ? t.answer : wrong, *b = correct_first ? wrong : t.answer;
        if (!judge_model_render(templ ? templ : judge_model_default_template, t.prompt, a, b, &text, &cap)) {
            fprintf(stderr, "make_judge_data: out of memory\n");
            return 1;
        }
        /* family "judge": not a suite task (pp-sft then uses the reference as it is) */
        if (prompts_add(&ps, i, text, "judge", correct_first ? "A" : "B", &err) != PP_OK) return fail(&err);
    }
    pp_provenance prov = {"make_judge_data", "labelled judge prompts", NULL, 0};
    if (prompts_write(&ps, out, MPI_COMM_WORLD, &prov, &err) != PP_OK) return fail(&err);
    prompts_free(&ps);
    free(text);
    free(templ);
    MPI_Finalize();
    return 0;
}
