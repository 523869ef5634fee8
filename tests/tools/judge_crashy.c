/* judge_crashy N [exit|abort|partial|after] - answers like judge_good but
 * dies on its Nth request (every process lives for N requests):
 *   exit     exit status 3 without answering (default)
 *   abort    abort() (SIGABRT) without answering
 *   partial  write half an answer line, then exit 3
 *   after    answer the Nth request, then exit 3 at once (so the next write
 *            to it meets a closed pipe: EPIPE) */
#include <sys/resource.h>

#include "judge_common.h"

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 3;
    const char *how = argc > 2 ? argv[2] : "exit";
    if (n < 1) n = 1;
    judge_request r = {0};
    for (long call = 1; judge_read(&r, "judge_crashy"); call++) {
        if (call < n) {
            judge_answer(r.id, judge_prefer_longer(&r));
            continue;
        }
        if (strcmp(how, "abort") == 0) {
            struct rlimit no_core = {0, 0}; /* a test should not litter core files */
            setrlimit(RLIMIT_CORE, &no_core);
            abort();
        }
        if (strcmp(how, "partial") == 0) {
            printf("{\"id\":");
            fflush(stdout);
        }
        if (strcmp(how, "after") == 0) judge_answer(r.id, judge_prefer_longer(&r));
        return 3;
    }
    judge_done(&r);
    return 0;
}
