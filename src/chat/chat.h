/* chat.h - conversations and chat templates, rendered in C.
 *
 *   chat_conv c = {0};
 *   chat_conv_from_json("[{\"role\":\"user\",\"content\":\"Hi\"}]", "x.jsonl:3", &c, err);
 *   chat_template t;
 *   chat_template_init(&t, CHAT_LLAMA3, NULL, err);   // or chat_detect_family first
 *   char *text;
 *   chat_render(&t, &c, 1, &text, err);               // 1: add the generation prompt
 *
 * No template text is ever interpreted: chat_detect_family looks for the
 * distinctive substrings of the families below in it and chat_render writes
 * that family's format itself, equal byte for byte to what Hugging Face's
 * Jinja renderer makes of the real template (tests/integration/chat.sh).
 * The rules, the BOS rule and the deviations are in docs/chat.md. */
#ifndef CHAT_H
#define CHAT_H

#include <stddef.h>

#include "core/pp_error.h"

typedef enum { CHAT_SYSTEM, CHAT_USER, CHAT_ASSISTANT } chat_role;

typedef struct {
    chat_role role;
    char *content; /* UTF-8 */
} chat_message;

typedef struct {
    int n, cap;
    chat_message *msg;
} chat_conv;

typedef enum { CHAT_LLAMA2, CHAT_LLAMA3, CHAT_CHATML, CHAT_MISTRAL, CHAT_ZEPHYR, CHAT_N_FAMILIES } chat_family;

#define CHAT_FAMILY_LIST "llama2, llama3, chatml, mistral, zephyr"
#define CHAT_TOKEN_MAX 64

typedef struct {
    chat_family family;
    char bos[CHAT_TOKEN_MAX];  /* bos_token as the template writes it ("" for none) */
    char eos[CHAT_TOKEN_MAX];  /* eos_token as the template writes it */
    char *default_system;      /* chatml only: the system turn the template adds
                                  when a conversation has none (SmolLM2, Qwen2.5), or NULL */
} chat_template;

const char *chat_role_name(chat_role r);
PP_MUST_CHECK pp_status chat_conv_add(chat_conv *c, chat_role role, const char *content, pp_err *err);
void chat_conv_free(chat_conv *c);

/* Parse a JSON array of {"role": "system"|"user"|"assistant", "content":
 * string} (other keys are refused by name).  `where` prefixes errors. */
PP_MUST_CHECK pp_status chat_conv_from_json(const char *json, const char *where, chat_conv *c, pp_err *err);
/* The compact JSON array of c (malloc'd; keys in the order role, content). */
PP_MUST_CHECK pp_status chat_conv_to_json(const chat_conv *c, char **json, pp_err *err);
/* A prompt conversation: at least one turn, a system turn only first, and
 * the last turn the user's (a trailing assistant turn is refused: the
 * families disagree on what continuing it means, docs/chat.md). */
PP_MUST_CHECK pp_status chat_conv_check_prompt(const chat_conv *c, const char *where, pp_err *err);
/* Content of the last user turn ("" when none): the prompt judges see. */
const char *chat_conv_last_user(const chat_conv *c);

const char *chat_family_name(chat_family f);
/* A family by name, as --chat-template gives it. */
PP_MUST_CHECK pp_status chat_family_parse(const char *name, chat_family *f, pp_err *err);
/* The family of a tokenizer_config.json chat_template text, from its
 * distinctive substrings; anything else is refused naming `where`:
 * "WHERE: chat template is not one of llama2, ...; choose one with --chat-template". */
PP_MUST_CHECK pp_status chat_detect_family(const char *template_text, const char *where, chat_family *f, pp_err *err);
/* The family's BOS/EOS texts, and for chatml the default system turn found
 * as a string literal in template_text (may be NULL). */
PP_MUST_CHECK pp_status chat_template_init(chat_template *t, chat_family f, const char *template_text, pp_err *err);
void chat_template_free(chat_template *t);

/* Render c with t (malloc'd, NUL-terminated).  add_generation_prompt opens
 * the assistant's turn where the family has such a prompt. */
PP_MUST_CHECK pp_status chat_render(const chat_template *t, const chat_conv *c, int add_generation_prompt, char **out,
                                    pp_err *err);
/* The text that ends an assistant turn: <|eot_id|>, <|im_end|>, else eos. */
const char *chat_end_of_turn(const chat_template *t);
/* Bytes of `rendered` that are the template's leading BOS text (0 when it
 * does not start with it): the tokenizer then adds no BOS of its own. */
size_t chat_leading_bos(const chat_template *t, const char *rendered);

#endif
