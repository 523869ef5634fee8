/* judge_closeout N - answers N requests like judge_good, then closes its
 * stdout and keeps running (never exits by itself, not even at EOF). */
#include <unistd.h>

#include "judge_common.h"

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 2;
    judge_request r = {0};
    for (long call = 0; call < n && judge_read(&r, "judge_closeout"); call++)
        judge_answer(r.id, judge_prefer_longer(&r));
    fclose(stdout);
    for (;;) pause();
}
