/* scorer_test MODE [N] - a pointwise scorer for the score protocol
 * ({"id","prompt","response"} -> {"id","score"}); the score is the
 * response's length in bytes, so tests know the right ranking.  MODE:
 *   good           always answers
 *   crash N        exits without answering on every Nth request of its life
 *   hang N         never answers the Nth request (the caller's timeout kills it)
 *   garbage N      answers the Nth request with a line that is not JSON
 *   wrongid N      answers the Nth request with another id
 *   noscore N      answers the Nth request without a "score"
 * A request without "response" (a pairwise request) is a bug on prefpipe's
 * side: exit 2. */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void answer(json_t *o) {
    char *s = json_dumps(o, JSON_COMPACT);
    printf("%s\n", s);
    fflush(stdout);
    free(s);
    json_decref(o);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "good";
    long n = argc > 2 ? atol(argv[2]) : 3;
    if (n < 1) n = 1;
    char *line = NULL;
    size_t cap = 0;
    for (long call = 1; getline(&line, &cap, stdin) >= 0; call++) {
        json_error_t je;
        json_t *req = json_loads(line, 0, &je);
        json_t *id = json_object_get(req, "id");
        const char *response = json_string_value(json_object_get(req, "response"));
        if (!req || !id || !json_string_value(json_object_get(req, "prompt")) || !response) {
            fprintf(stderr, "scorer_test: malformed request\n");
            return 2;
        }
        int fault = strcmp(mode, "good") != 0 && call % n == 0;
        if (fault && strcmp(mode, "crash") == 0) return 3;
        if (fault && strcmp(mode, "hang") == 0)
            for (;;) pause();
        if (fault && strcmp(mode, "garbage") == 0) {
            printf("score: 12\n");
            fflush(stdout);
        } else if (fault && strcmp(mode, "wrongid") == 0) {
            answer(json_pack("{s:s, s:f}", "id", "not-the-id", "score", 1.0));
        } else if (fault && strcmp(mode, "noscore") == 0) {
            answer(json_pack("{s:O, s:s}", "id", id, "winner", "a"));
        } else {
            answer(json_pack("{s:O, s:f}", "id", id, "score", (double)strlen(response)));
        }
        json_decref(req);
    }
    free(line);
    return 0;
}
