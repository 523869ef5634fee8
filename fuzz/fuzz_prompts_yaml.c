/* fuzz_prompts_yaml.c - prompts_read_yaml on arbitrary bytes, then
 * prompts_cleanup (fuzz_prompts.h says what is checked). */
#include "fuzz_prompts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size, 0);
    prompt_set s = {0};
    pp_err err;
    fuzz_import(prompts_read_yaml(&s, path, &err), &s, &err);
    return 0;
}
