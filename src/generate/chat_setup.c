/* chat_setup.c - rendering and stop set of a generating run (chat_setup.h). */
#include "generate/chat_setup.h"

#include <stdio.h>
#include <string.h>

#include "chat/chat.h"
#include "core/pp_rng.h"

const char *chat_run_family(const model *m, const chat_options *o) {
    return o->chat_template && *o->chat_template ? o->chat_template : m->chat_family;
}

pp_status chat_stop_set(const model *m, const chat_options *o, stop_set *stop, pp_err *err) {
    const char *family = chat_run_family(m, o), *end_of_turn = NULL;
    chat_template t = {0};
    chat_family f;
    if (family[0]) {
        PP_TRY(chat_family_parse(family, &f, err));
        PP_TRY(chat_template_init(&t, f, NULL, err));
        end_of_turn = chat_end_of_turn(&t);
    }
    return stop_from_options(stop, &m->tok, end_of_turn, o->stop_tokens, o->stop_string, err);
}

pp_status chat_render_prompts(const model *m, const chat_options *o, prompt_set *ps, const char *prompts_path,
                              const char *model_path, pp_err *err) {
    return prompts_render(ps, chat_run_family(m, o), m->chat_template, prompts_path, model_path, err);
}

void chat_run_key(pp_runkey *k, const model *m, const chat_options *o, const stop_set *stop) {
    pp_runkey_str(k, "chat_template", chat_run_family(m, o));
    char hash[17] = ""; /* the text is long: its hash stands for it */
    if (m->chat_template)
        snprintf(hash, sizeof hash, "%016llx",
                 (unsigned long long)pp_hash_bytes(0, m->chat_template, strlen(m->chat_template)));
    pp_runkey_str(k, "chat_template_text", hash);
    char ids[STOP_MAX_TOKENS * 12 + 1] = "";
    size_t used = 0;
    for (int i = 0; i < stop->n_tokens; i++)
        used += (size_t)snprintf(ids + used, sizeof ids - used, "%s%d", i ? "," : "", stop->tokens[i]);
    pp_runkey_str(k, "stop_tokens", ids);
    for (int i = 0; i < stop->n_strings; i++) {
        char name[32];
        snprintf(name, sizeof name, "stop_string_%d", i);
        pp_runkey_str(k, name, stop->strings[i]);
    }
}
