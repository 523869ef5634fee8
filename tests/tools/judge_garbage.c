/* judge_garbage - a judge that misbehaves in the way the request id asks:
 * the part of the id before ':' picks the answer (otherwise it answers like
 * judge_good).  An id made of digits only is echoed as a JSON integer.
 *   notjson        a line that is not JSON
 *   array          a JSON array
 *   empty          an empty line, then a good answer (blank lines are skipped)
 *   blankafter     a good answer followed by a line of blanks (a common slip)
 *   wrongid        the right shape, another id
 *   nowinner       {"id":ID}
 *   badwinner      {"id":ID,"winner":"maybe"}
 *   badwinner_once badwinner the first time this process sees the id, then good
 *   huge           a valid answer padded to 100000 bytes
 *   nul            a line with a NUL byte inside
 *   partial        a good answer written in two pieces 100 ms apart
 *   partialexit    half an answer, then exit 3
 *   twolines       a good answer followed by an extra line
 *   crlf           a good answer ending in \r\n
 *   extra          a good answer with an extra "reason" key */
#include <time.h>
#include <unistd.h>

#include "judge_common.h"

static int kind_is(const char *id, const char *kind) {
    size_t n = strlen(kind);
    return strncmp(id, kind, n) == 0 && id[n] == ':';
}

static void put(const char *s, size_t n) {
    fwrite(s, 1, n, stdout);
    fflush(stdout);
}

int main(void) {
    judge_request r = {0};
    char *last_id = NULL;
    while (judge_read(&r, "judge_garbage")) {
        const char *id = json_is_string(r.id) ? json_string_value(r.id) : "";
        const char *win = judge_prefer_longer(&r);
        char good[4096];
        json_t *echo = json_incref(r.id);
        if (*id && strspn(id, "0123456789") == strlen(id)) {
            json_decref(echo);
            echo = json_integer(atoll(id));
        }
        json_t *o = json_pack("{s:O, s:s}", "id", echo, "winner", win);
        char *g = json_dumps(o, JSON_COMPACT);
        snprintf(good, sizeof good, "%s", g);
        free(g);
        json_decref(o);
        json_decref(echo);
        size_t glen = strlen(good);

        if (kind_is(id, "notjson")) printf("this is not json\n");
        else if (kind_is(id, "array")) printf("[1,2,3]\n");
        else if (kind_is(id, "empty")) printf("\n%s\n", good);
        else if (kind_is(id, "blankafter")) printf("%s\n  \r\n", good);
        else if (kind_is(id, "wrongid")) printf("{\"id\":\"%s-x\",\"winner\":\"a\"}\n", id);
        else if (kind_is(id, "nowinner")) printf("{\"id\":\"%s\"}\n", id);
        else if (kind_is(id, "badwinner")) printf("{\"id\":\"%s\",\"winner\":\"maybe\"}\n", id);
        else if (kind_is(id, "badwinner_once")) {
            if (last_id && strcmp(last_id, id) == 0) printf("%s\n", good);
            else printf("{\"id\":\"%s\",\"winner\":\"A\"}\n", id);
        } else if (kind_is(id, "huge")) {
            printf("{\"id\":\"%s\",\"winner\":\"a\",\"pad\":\"", id);
            for (int k = 0; k < 100000; k++) putchar('x');
            printf("\"}\n");
        } else if (kind_is(id, "nul")) {
            put("{\"id\":\"", 7);
            put(id, strlen(id));
            put("\",\"winner\":\"a\0\"}\n", 17);
        } else if (kind_is(id, "partial")) {
            put(good, glen / 2);
            struct timespec pause = {0, 100000000L};
            nanosleep(&pause, NULL);
            printf("%s\n", good + glen / 2);
        } else if (kind_is(id, "partialexit")) {
            put(good, glen / 2);
            return 3;
        } else if (kind_is(id, "twolines")) printf("%s\nextra line\n", good);
        else if (kind_is(id, "crlf")) printf("%s\r\n", good);
        else if (kind_is(id, "extra")) {
            good[glen - 1] = '\0'; /* drop the closing brace */
            printf("%s,\"reason\":\"longer is better \\\"obviously\\\"\"}\n", good);
        } else printf("%s\n", good);
        fflush(stdout);
        free(last_id);
        last_id = strdup(id);
    }
    free(last_id);
    judge_done(&r);
    return 0;
}
