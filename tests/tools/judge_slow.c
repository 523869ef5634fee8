/* judge_slow [MS] - judge_good's answers after MS milliseconds (default 50)
 * per call: a stand-in for an LLM judge in benchmarks. */
#include <time.h>

#include "judge_common.h"

int main(int argc, char **argv) {
    long ms = argc > 1 ? atol(argv[1]) : 50;
    struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
    judge_request r = {0};
    while (judge_read(&r, "judge_slow")) {
        nanosleep(&pause, NULL);
        judge_answer(r.id, judge_prefer_longer(&r));
    }
    judge_done(&r);
    return 0;
}
