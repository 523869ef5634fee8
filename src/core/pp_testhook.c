/* pp_testhook.c - test-only delays and switches read from the environment (pp_testhook.h). */
#include "core/pp_testhook.h"

#include <stdlib.h>
#include <unistd.h>

int pp_test_hook_ms(pp_test_hook hook) {
    static const char *const names[] = {
        [PP_HOOK_CHUNK_DELAY] = "PP_TEST_CHUNK_DELAY_MS",
        [PP_HOOK_COMMIT_DELAY] = "PP_TEST_COMMIT_DELAY_MS",
        [PP_HOOK_STEP_DELAY] = "PP_TEST_STEP_DELAY_MS",
        [PP_HOOK_SHARE_WEIGHTS] = "PP_TEST_SHARE_WEIGHTS",
    };
    const char *v = getenv(names[hook]);
    if (!v) return 0;
    long ms = strtol(v, NULL, 10);
    return ms > 0 && ms < 3600 * 1000 ? (int)ms : 0;
}

void pp_test_hook_sleep(pp_test_hook hook) {
    int ms = pp_test_hook_ms(hook);
    if (ms > 0) usleep((useconds_t)ms * 1000);
}
