/* judge_slow [MS [START_MS]] - judge_good's answers after MS milliseconds
 * (default 50) per call, after START_MS (default 0) at startup: a stand-in
 * for an LLM judge that loads a model and then takes time per answer. */
#include <time.h>

#include "judge_common.h"

int main(int argc, char **argv) {
    long ms = argc > 1 ? atol(argv[1]) : 50;
    long start_ms = argc > 2 ? atol(argv[2]) : 0;
    struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
    struct timespec loading = {start_ms / 1000, (start_ms % 1000) * 1000000L};
    nanosleep(&loading, NULL);
    judge_request r = {0};
    while (judge_read(&r, "judge_slow")) {
        nanosleep(&pause, NULL);
        judge_answer(r.id, judge_prefer_longer(&r));
    }
    judge_done(&r);
    return 0;
}
