/* judge_good - a correct test judge: the longer answer wins, equal lengths
 * tie, the id is echoed.  With JUDGE_DUMP=FILE it appends every request's
 * prompt, a and b to FILE, each followed by a NUL byte, so a test can check
 * that texts arrive byte for byte.  "--hello" says hello on stderr first. */
#include "judge_common.h"

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--hello") == 0) fprintf(stderr, "judge_good: hello\n");
    const char *dump = getenv("JUDGE_DUMP");
    judge_request r = {0};
    while (judge_read(&r, "judge_good")) {
        if (dump) {
            FILE *f = fopen(dump, "ab");
            if (!f) {
                perror(dump);
                return 2;
            }
            fwrite(r.prompt, 1, strlen(r.prompt) + 1, f);
            fwrite(r.a, 1, strlen(r.a) + 1, f);
            fwrite(r.b, 1, strlen(r.b) + 1, f);
            fclose(f);
        }
        judge_answer(r.id, judge_prefer_longer(&r));
    }
    judge_done(&r);
    return 0;
}
