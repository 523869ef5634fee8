/* fuzz_prompts_jsonl.c - prompts_read_jsonl on arbitrary bytes, with a plain
 * field ("prompt") and a dotted path into an array ("turns.0"), then
 * prompts_cleanup (fuzz_prompts.h says what is checked). */
#include "fuzz_prompts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size, 0);
    static const char *fields[] = {"prompt", "turns.0", "a.b.c.1"};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        prompt_set s = {0};
        pp_err err;
        fuzz_import(prompts_read_jsonl(&s, path, fields[i], &err), &s, &err);
    }
    return 0;
}
