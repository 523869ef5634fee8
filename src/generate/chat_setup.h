/* chat_setup.h - the chat side of a generating run (pp-generate, pp-eval):
 * conversation prompts rendered with the model's chat template (or the one
 * --chat-template names), and the stop set: that template's end-of-turn
 * token, --stop tokens and --stop-string (docs/chat.md). */
#ifndef CHAT_SETUP_H
#define CHAT_SETUP_H

#include "core/pp_error.h"
#include "core/pp_runkey.h"
#include "model/model.h"
#include "model/stop.h"
#include "prompts/prompts.h"

typedef struct {
    const char *chat_template; /* --chat-template NAME; NULL: the model's chat_family */
    const char *stop_tokens;   /* --stop: comma-separated token texts; NULL: none */
    const char *stop_string;   /* --stop-string; NULL: none */
} chat_options;

/* The three options in a stage's pp_option table (pp-generate, pp-eval). */
#define CHAT_STAGE_OPTIONS(c)                                                                                         \
    {"chat-template", OPT_STRING, &(c).chat_template, "NAME",                                                         \
     "render conversation prompts as llama2, llama3, chatml, mistral or zephyr (default: the model's own)", NULL, 0, 0, 0}, \
    {"stop", OPT_STRING, &(c).stop_tokens, "TOKENS",                                                                 \
     "also end a candidate at these tokens (comma-separated token texts, e.g. <|eot_id|>)", NULL, 0, 0, 0},          \
    {"stop-string", OPT_STRING, &(c).stop_string, "S",                                                               \
     "also end a candidate where its text contains S (the text stops before S)", NULL, 0, 0, 0}

/* The family a run renders with: --chat-template, else the model's own
 * ("" when neither: the model has no chat format). */
const char *chat_run_family(const model *m, const chat_options *o);
/* A run's stop set: the end-of-turn token of the run's template when it
 * has one (a chat model ends its turn there, whatever the prompt), --stop
 * and --stop-string.  A bad --chat-template name fails here. */
PP_MUST_CHECK pp_status chat_stop_set(const model *m, const chat_options *o, stop_set *stop, pp_err *err);
/* Render ps's conversations with the run's template (prompts_render). */
PP_MUST_CHECK pp_status chat_render_prompts(const model *m, const chat_options *o, prompt_set *ps, const char *prompts_path,
                                            const char *model_path, pp_err *err);
/* What of it changes results, for a run key. */
void chat_run_key(pp_runkey *k, const model *m, const chat_options *o, const stop_set *stop);

#endif
