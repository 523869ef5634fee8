/* judge_hang N [--ignore-term] [--linger] - answers like judge_good but
 * hangs forever on every Nth request of its life.
 *   --ignore-term  ignore SIGTERM (only SIGKILL ends it)
 *   --linger       keep running after stdin reaches EOF */
#include <signal.h>
#include <unistd.h>

#include "judge_common.h"

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 3;
    int linger = 0;
    for (int k = 2; k < argc; k++) {
        if (strcmp(argv[k], "--ignore-term") == 0) signal(SIGTERM, SIG_IGN);
        if (strcmp(argv[k], "--linger") == 0) linger = 1;
    }
    if (n < 1) n = 1;
    judge_request r = {0};
    for (long call = 1; judge_read(&r, "judge_hang"); call++) {
        if (call % n == 0)
            for (;;) pause();
        judge_answer(r.id, judge_prefer_longer(&r));
    }
    judge_done(&r);
    while (linger) pause();
    return 0;
}
