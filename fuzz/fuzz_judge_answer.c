/* fuzz_judge_answer.c - judge_parse_answer on arbitrary answer lines, and
 * judge_split_argv on the same bytes as a judge command line.
 *
 * Input: the first byte picks the expected id (the ids prefpipe sends are
 * decimal strings, but odd ones are tried too), the rest is the line.
 * The same line is parsed as a score-protocol answer too.
 * Checked: PP_OK exactly when the verdict is a, b or tie (a finite score), PP_EINPUT with
 * JUDGE_FAILED otherwise, one-line messages; split words never exceed the
 * input and the argv is NULL-terminated. */
#include <math.h>

#include "fuzz_common.h"
#include "judge/judge_cmd.h"

static const char *ids[] = {"17", "0", "-3", "", "9223372036854775807", "a\"b\\c", "id with spaces",
                            "caf\xc3\xa9", "00017"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *expect = ids[data[0] % (sizeof ids / sizeof *ids)];
    char *line = fuzz_cstr(data + 1, size - 1);
    judge_verdict v = JUDGE_FIRST;
    pp_err err;
    pp_status st = judge_parse_answer(line, expect, &v, &err);
    FUZZ_CHECK_ERR(st, err);
    if (st == PP_OK) FUZZ_CHECK(v == JUDGE_FIRST || v == JUDGE_SECOND || v == JUDGE_TIE);
    else FUZZ_CHECK(st == PP_EINPUT && v == JUDGE_FAILED);
    FUZZ_CHECK(strlen(judge_verdict_name(v)) > 0);
    double score = 0;
    st = judge_parse_score_answer(line, expect, &score, &err);
    FUZZ_CHECK_ERR(st, err);
    FUZZ_CHECK(st == PP_OK ? isfinite(score) : st == PP_EINPUT && isnan(score));

    char **argv = NULL;
    int argc = -1;
    st = judge_split_argv(line, &argv, &argc, &err);
    FUZZ_CHECK_ERR(st, err);
    if (st == PP_OK) {
        FUZZ_CHECK(argv != NULL && argc >= 0 && argv[argc] == NULL);
        size_t total = 0;
        for (int i = 0; i < argc; i++) total += strlen(argv[i]);
        FUZZ_CHECK(total <= strlen(line));
        judge_argv_free(argv);
    } else {
        FUZZ_CHECK(argv == NULL);
    }
    free(line);
    return 0;
}
