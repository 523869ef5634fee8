/* fuzz_prompts.h - what every prompt importer must deliver, checked after
 * each successful import and again after prompts_cleanup. */
#ifndef FUZZ_PROMPTS_H
#define FUZZ_PROMPTS_H

#include <ctype.h>

#include "fuzz_common.h"
#include "core/pp_text.h"
#include "prompts/prompts.h"

/* Every prompt valid UTF-8 (NULs cannot be in a C string, so none got in),
 * within the size limit, without builtin-suite fields; ids increasing; a
 * conversation is a valid prompt conversation whose last user turn is the
 * text. */
static inline void fuzz_check_prompts(const prompt_set *s) {
    FUZZ_CHECK(s->n >= 0 && s->n <= s->cap);
    for (int64_t i = 0; i < s->n; i++) {
        size_t len = strlen(s->text[i]), bad;
        FUZZ_CHECK(pp_utf8_valid(s->text[i], len, &bad));
        FUZZ_CHECK(len <= PROMPT_MAX_BYTES);
        FUZZ_CHECK(s->family[i] == NULL && s->reference[i] == NULL);
        if (i > 0) FUZZ_CHECK(s->ids[i] > s->ids[i - 1]);
        if (!s->messages[i]) continue;
        chat_conv c = {0};
        pp_err err;
        FUZZ_CHECK(chat_conv_from_json(s->messages[i], "fuzz", &c, &err) == PP_OK);
        FUZZ_CHECK(chat_conv_check_prompt(&c, "fuzz", &err) == PP_OK);
        FUZZ_CHECK(strcmp(chat_conv_last_user(&c), s->text[i]) == 0);
        chat_conv_free(&c);
    }
}

/* What duplicates are judged by: the whole conversation, or the text. */
static inline const char *fuzz_prompt_key(const prompt_set *s, int64_t i) {
    return s->messages[i] ? s->messages[i] : s->text[i];
}

/* Import with `read`, clean up, check both states, free. */
static inline void fuzz_import(pp_status st, prompt_set *s, pp_err *err) {
    FUZZ_CHECK_ERR(st, *err);
    if (st == PP_OK) fuzz_check_prompts(s);
    prompt_cleanup r;
    prompts_cleanup(s, 0, &r);
    fuzz_check_prompts(s);
    for (int64_t i = 0; i < s->n; i++) {
        const char *t = s->text[i];
        while (isspace((unsigned char)*t)) t++;
        FUZZ_CHECK(*t != '\0'); /* no blank prompt survives */
        if (s->n <= 256)
            for (int64_t j = 0; j < i; j++) FUZZ_CHECK(strcmp(fuzz_prompt_key(s, i), fuzz_prompt_key(s, j)) != 0);
    }
    prompts_free(s);
}

#endif
