/* chat_render - prefpipe's side of the chat template parity test
 * (tests/integration/chat.sh; tests/chat/render.cjs is Hugging Face's side).
 *
 *   chat_render TEMPLATE_FILE CASES.jsonl GEN OUTDIR
 *
 * Detects the family from the template text (a tokenizer_config.json's
 * "chat_template", or a bare template file), renders each line of CASES (a
 * JSON array of turns) with add_generation_prompt = GEN and writes
 * OUTDIR/N.txt (the rendering, byte for byte) or OUTDIR/N.err (the error),
 * N counting non-blank lines from 0.  Prints the family on stdout. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"
#include "core/pp_file.h"

static int write_file(const char *dir, int n, const char *ext, const char *text) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%d.%s", dir, n, ext);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(text, 1, strlen(text), f) != strlen(text) || fclose(f) != 0) {
        fprintf(stderr, "chat_render: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

/* The template text: the file itself, or its "chat_template" when it is JSON. */
static char *template_text(const char *path, pp_err *err) {
    char *data;
    size_t len;
    if (pp_read_file(path, 1 << 26, "template", &data, &len, err) != PP_OK) return NULL;
    size_t n = strlen(path);
    if (n < 5 || strcmp(path + n - 5, ".json") != 0) return data;
    json_error_t je;
    json_t *cfg = json_loads(data, JSON_DECODE_INT_AS_REAL, &je); /* model_max_length: 1e30 as an integer */
    free(data);
    json_t *t = cfg ? json_object_get(cfg, "chat_template") : NULL;
    char *text = json_is_string(t) ? strdup(json_string_value(t)) : NULL;
    json_decref(cfg);
    if (!text) pp_fail(err, PP_EINPUT, "%s: no chat_template string", path);
    return text;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: chat_render TEMPLATE_FILE CASES.jsonl GEN OUTDIR\n");
        return 2;
    }
    pp_err err = {0};
    char *text = template_text(argv[1], &err);
    chat_family fam;
    chat_template t;
    if (!text || chat_detect_family(text, argv[1], &fam, &err) != PP_OK || chat_template_init(&t, fam, text, &err) != PP_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("%s\n", chat_family_name(fam));
    char *cases;
    size_t len;
    if (pp_read_file(argv[2], 1 << 26, "cases", &cases, &len, &err) != PP_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int n = 0, bad = 0;
    for (char *line = strtok(cases, "\n"); line; line = strtok(NULL, "\n")) {
        if (strspn(line, " \t\r") == strlen(line)) continue;
        chat_conv c = {0};
        char *out = NULL;
        pp_err e = {0};
        if (chat_conv_from_json(line, argv[2], &c, &e) == PP_OK && chat_render(&t, &c, atoi(argv[3]), &out, &e) == PP_OK)
            bad |= write_file(argv[4], n, "txt", out);
        else bad |= write_file(argv[4], n, "err", e.msg);
        free(out);
        chat_conv_free(&c);
        n++;
    }
    free(cases);
    free(text);
    chat_template_free(&t);
    return bad;
}
