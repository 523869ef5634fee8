/* fuzz_prompts_text.c - prompts_read_text on arbitrary bytes, then
 * prompts_cleanup (fuzz_prompts.h says what is checked).  A text file that
 * imports has one prompt per line (after a leading BOM), ids = line numbers - 1. */
#include "fuzz_prompts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size, 0);
    prompt_set s = {0};
    pp_err err;
    pp_status st = prompts_read_text(&s, path, &err);
    if (st == PP_OK) {
        /* a leading UTF-8 BOM is dropped (the one BOM rule of prompts.c) */
        size_t from = size >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3) ? 3 : 0;
        int64_t lines = 0;
        for (size_t i = from; i < size; i++) lines += data[i] == '\n';
        if (size > from && data[size - 1] != '\n') lines++;
        FUZZ_CHECK(s.n == lines);
        for (int64_t i = 0; i < s.n; i++) FUZZ_CHECK(s.ids[i] == i);
    }
    fuzz_import(st, &s, &err);
    return 0;
}
