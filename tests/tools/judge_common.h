/* judge_common.h - what the test judges (tests/tools/judge_*.c) share:
 * reading one request line and writing one answer line, with jansson. */
#ifndef JUDGE_COMMON_H
#define JUDGE_COMMON_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    json_t *root;  /* owns everything below */
    json_t *id;
    const char *prompt, *a, *b;
    char *line;    /* getline buffer, reused */
    size_t cap;
} judge_request;

/* Read and parse the next request; 0 at EOF.  A malformed request is a bug
 * on prefpipe's side: say so on stderr and exit 2. */
static inline int judge_read(judge_request *r, const char *me) {
    if (r->root) json_decref(r->root);
    r->root = NULL;
    ssize_t n = getline(&r->line, &r->cap, stdin);
    if (n < 0) return 0;
    json_error_t je;
    r->root = json_loadb(r->line, (size_t)n, 0, &je);
    r->id = json_object_get(r->root, "id");
    r->prompt = json_string_value(json_object_get(r->root, "prompt"));
    r->a = json_string_value(json_object_get(r->root, "a"));
    r->b = json_string_value(json_object_get(r->root, "b"));
    if (!r->root || !r->id || !r->prompt || !r->a || !r->b) {
        fprintf(stderr, "%s: malformed request: %s\n", me, r->root ? "missing field" : je.text);
        exit(2);
    }
    return 1;
}

/* The deterministic preference of the test judges: the longer answer (in
 * bytes) wins, equal lengths tie. */
static inline const char *judge_prefer_longer(const judge_request *r) {
    size_t la = strlen(r->a), lb = strlen(r->b);
    return la > lb ? "a" : lb > la ? "b" : "tie";
}

static inline void judge_answer(json_t *id, const char *winner) {
    json_t *o = json_pack("{s:O, s:s}", "id", id, "winner", winner);
    char *s = json_dumps(o, JSON_COMPACT);
    printf("%s\n", s);
    fflush(stdout);
    free(s);
    json_decref(o);
}

static inline void judge_done(judge_request *r) {
    if (r->root) json_decref(r->root);
    free(r->line);
}

#endif
