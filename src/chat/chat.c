/* chat.c - conversations and the five chat template families (chat.h). */
#include "chat/chat.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const role_names[] = {"system", "user", "assistant"};
static const char *const family_names[CHAT_N_FAMILIES] = {"llama2", "llama3", "chatml", "mistral", "zephyr"};

const char *chat_role_name(chat_role r) { return role_names[r]; }
const char *chat_family_name(chat_family f) { return family_names[f]; }

pp_status chat_conv_add(chat_conv *c, chat_role role, const char *content, pp_err *err) {
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 4;
        chat_message *m = realloc(c->msg, (size_t)cap * sizeof *m);
        if (!m) return pp_fail(err, PP_ESYS, "out of memory adding a chat turn");
        c->msg = m;
        c->cap = cap;
    }
    char *copy = strdup(content);
    if (!copy) return pp_fail(err, PP_ESYS, "out of memory adding a chat turn");
    c->msg[c->n].role = role;
    c->msg[c->n].content = copy;
    c->n++;
    return PP_OK;
}

void chat_conv_free(chat_conv *c) {
    for (int i = 0; i < c->n; i++) free(c->msg[i].content);
    free(c->msg);
    memset(c, 0, sizeof *c);
}

/* One {"role", "content"} object of a conversation. */
static pp_status add_turn_json(chat_conv *c, json_t *turn, const char *where, size_t i, pp_err *err) {
    if (!json_is_object(turn)) return pp_fail(err, PP_EINPUT, "%s: turn %zu is not an object {role, content}", where, i);
    const char *key;
    json_t *value;
    json_object_foreach(turn, key, value) {
        if (strcmp(key, "role") != 0 && strcmp(key, "content") != 0)
            return pp_fail(err, PP_EINPUT, "%s: turn %zu has a key '%s' (only role and content are read)", where, i, key);
    }
    json_t *role = json_object_get(turn, "role"), *content = json_object_get(turn, "content");
    if (!json_is_string(role)) return pp_fail(err, PP_EINPUT, "%s: turn %zu has no string 'role'", where, i);
    if (!json_is_string(content)) return pp_fail(err, PP_EINPUT, "%s: turn %zu has no string 'content'", where, i);
    const char *name = json_string_value(role);
    for (int r = 0; r < 3; r++)
        if (strcmp(name, role_names[r]) == 0) {
            if (strlen(json_string_value(content)) != json_string_length(content))
                return pp_fail(err, PP_EINPUT, "%s: turn %zu: content contains a NUL character", where, i);
            return chat_conv_add(c, (chat_role)r, json_string_value(content), err);
        }
    return pp_fail(err, PP_EINPUT, "%s: turn %zu has role '%s', not one of system, user, assistant", where, i, name);
}

pp_status chat_conv_from_json(const char *json, const char *where, chat_conv *c, pp_err *err) {
    json_error_t je;
    json_t *arr = json_loads(json, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!arr) return pp_fail(err, PP_EINPUT, "%s: conversation is not valid JSON: %s", where, je.text);
    pp_status st = PP_OK;
    if (!json_is_array(arr)) st = pp_fail(err, PP_EINPUT, "%s: conversation is not a JSON array of turns", where);
    for (size_t i = 0; st == PP_OK && i < json_array_size(arr); i++)
        st = add_turn_json(c, json_array_get(arr, i), where, i, err);
    json_decref(arr);
    if (st != PP_OK) chat_conv_free(c);
    return st;
}

pp_status chat_conv_to_json(const chat_conv *c, char **json, pp_err *err) {
    json_t *arr = json_array();
    for (int i = 0; arr && i < c->n; i++) {
        json_t *turn = json_object();
        if (!turn || json_object_set_new(turn, "role", json_string(role_names[c->msg[i].role])) != 0 ||
            json_object_set_new(turn, "content", json_string(c->msg[i].content)) != 0 ||
            json_array_append_new(arr, turn) != 0) {
            json_decref(turn);
            json_decref(arr);
            arr = NULL;
        }
    }
    *json = arr ? json_dumps(arr, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(arr);
    if (!*json) return pp_fail(err, PP_ESYS, "out of memory writing a conversation as JSON");
    return PP_OK;
}

pp_status chat_conv_check_prompt(const chat_conv *c, const char *where, pp_err *err) {
    if (c->n == 0) return pp_fail(err, PP_EINPUT, "%s: conversation has no turns", where);
    for (int i = 1; i < c->n; i++)
        if (c->msg[i].role == CHAT_SYSTEM)
            return pp_fail(err, PP_EINPUT, "%s: turn %d is a system turn; a system turn may only come first", where, i);
    chat_role last = c->msg[c->n - 1].role;
    if (last != CHAT_USER)
        return pp_fail(err, PP_EINPUT,
                       "%s: the conversation's last turn is the %s's; a prompt ends with the user's turn (the reply is generated)",
                       where, role_names[last]);
    return PP_OK;
}

const char *chat_conv_last_user(const chat_conv *c) {
    for (int i = c->n - 1; i >= 0; i--)
        if (c->msg[i].role == CHAT_USER) return c->msg[i].content;
    return "";
}

pp_status chat_family_parse(const char *name, chat_family *f, pp_err *err) {
    for (int i = 0; i < CHAT_N_FAMILIES; i++)
        if (strcmp(name, family_names[i]) == 0) {
            *f = (chat_family)i;
            return PP_OK;
        }
    return pp_fail(err, PP_EINPUT, "--chat-template %s: not one of %s", name, CHAT_FAMILY_LIST);
}

/* Detection: each family by the substrings its templates write and the
 * others do not.  Variants of a family that render differently are refused
 * by what gives them away (docs/chat.md lists them). */
pp_status chat_detect_family(const char *text, const char *where, chat_family *f, pp_err *err) {
    const char *why = NULL;
    if (!text || !*text) why = "there is no chat_template";
    else if (strstr(text, "<|start_header_id|>") && strstr(text, "<|eot_id|>")) {
        if (strstr(text, "Cutting Knowledge Date")) why = "Llama 3.1+ template: it writes a date header and tools";
        else *f = CHAT_LLAMA3;
    } else if (strstr(text, "<|im_start|>") && strstr(text, "<|im_end|>")) *f = CHAT_CHATML;
    else if (strstr(text, "<|user|>") && strstr(text, "<|assistant|>")) *f = CHAT_ZEPHYR;
    else if (strstr(text, "[INST]") && strstr(text, "<<SYS>>")) *f = CHAT_LLAMA2;
    else if (strstr(text, "[INST]")) {
        if (strstr(text, "[SYSTEM_PROMPT]") || strstr(text, "[AVAILABLE_TOOLS]")) why = "Mistral v3/v7 template (tools, [SYSTEM_PROMPT])";
        else if (strstr(text, "' [INST] '") || !strstr(text, "'[INST] '")) why = "a Mistral [INST] variant other than v0.1's";
        else *f = CHAT_MISTRAL;
    } else why = "no known family's markers found";
    if (why)
        return pp_fail(err, PP_EINPUT, "%s: chat template is not one of %s; choose one with --chat-template (%s)", where,
                       CHAT_FAMILY_LIST, why);
    return PP_OK;
}

/* A chatml template's own system turn: the text of a string literal that
 * starts "<|im_start|>system" + newline and runs, with no quote, to
 * "<|im_end|>" (SmolLM2, Qwen2.5).  Literals that go on with the
 * conversation's own system message end at their quote instead. */
static pp_status find_default_system(const char *text, char **out, pp_err *err) {
    static const char open[] = "<|im_start|>system";
    *out = NULL;
    for (const char *p = text ? strstr(text, open) : NULL; p; p = strstr(p + 1, open)) {
        const char *q = p + strlen(open);
        if (*q == '\n') q++;
        else if (q[0] == '\\' && q[1] == 'n') q += 2;
        else continue;
        const char *end = strstr(q, "<|im_end|>"), *r = q;
        if (!end || end <= q) continue;
        while (r < end && *r != '\'' && *r != '"') r += *r == '\\' ? 2 : 1; /* an unescaped quote ends the literal */
        if (r < end) continue;
        char *s = malloc((size_t)(end - q) + 1), *w = s;
        if (!s) return pp_fail(err, PP_ESYS, "out of memory");
        for (r = q; r < end; r++) { /* Jinja string escapes */
            if (*r == '\\' && r + 1 < end) {
                r++;
                *w++ = *r == 'n' ? '\n' : *r == 't' ? '\t' : *r;
            } else *w++ = *r;
        }
        *w = '\0';
        *out = s;
        return PP_OK;
    }
    return PP_OK;
}

pp_status chat_template_init(chat_template *t, chat_family f, const char *template_text, pp_err *err) {
    memset(t, 0, sizeof *t);
    t->family = f;
    const char *bos = f == CHAT_LLAMA3 ? "<|begin_of_text|>" : f == CHAT_CHATML ? "" : "<s>";
    const char *eos = f == CHAT_LLAMA3 ? "<|eot_id|>" : f == CHAT_CHATML ? "<|im_end|>" : "</s>";
    snprintf(t->bos, sizeof t->bos, "%s", bos);
    snprintf(t->eos, sizeof t->eos, "%s", eos);
    if (f == CHAT_CHATML) return find_default_system(template_text, &t->default_system, err);
    return PP_OK;
}

void chat_template_free(chat_template *t) {
    free(t->default_system);
    t->default_system = NULL;
}

const char *chat_end_of_turn(const chat_template *t) {
    return t->family == CHAT_LLAMA3 ? "<|eot_id|>" : t->family == CHAT_CHATML ? "<|im_end|>" : t->eos;
}

size_t chat_leading_bos(const chat_template *t, const char *rendered) {
    size_t n = strlen(t->bos);
    return n && strncmp(rendered, t->bos, n) == 0 ? n : 0;
}

/* ------------------------------------------------------------------------ */
/* rendering */

typedef struct {
    char *s;
    size_t n, cap;
    int oom;
} text_buf;

static void put_n(text_buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void put(text_buf *b, const char *s) { put_n(b, s, strlen(s)); }

/* Python's str.isspace() code points, which Jinja's trim and strip() use. */
static int python_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

/* Decode the UTF-8 character at s (valid UTF-8 assumed); its length in *len. */
static uint32_t utf8_at(const unsigned char *s, int *len) {
    if (s[0] < 0x80) return *len = 1, s[0];
    if (s[0] < 0xe0) return *len = 2, (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
    if (s[0] < 0xf0) return *len = 3, (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
    return *len = 4, (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 | (uint32_t)(s[2] & 0x3f) << 6 |
                         (s[3] & 0x3f);
}

/* Append s without leading and trailing whitespace (Python's strip()). */
static void put_stripped(text_buf *b, const char *s) {
    const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
    int len;
    while (p < end && python_space(utf8_at(p, &len))) p += len;
    const unsigned char *last = p; /* end of the last non-space character */
    for (const unsigned char *q = p; q < end; q += len)
        if (!python_space(utf8_at(q, &len))) last = q + len;
    put_n(b, (const char *)p, (size_t)(last - p));
}

/* llama2 and mistral: user and assistant turns alternate, user first,
 * after llama2's optional leading system turn. */
static pp_status check_alternating(const chat_conv *c, int first, const char *family, pp_err *err) {
    for (int i = first; i < c->n; i++) {
        chat_role want = (i - first) % 2 == 0 ? CHAT_USER : CHAT_ASSISTANT;
        if (c->msg[i].role != want)
            return pp_fail(err, PP_EINPUT, "%s chat template: turn %d is %s; after %s the turns must alternate user, assistant, ...",
                           family, i, role_names[c->msg[i].role], first ? "the system turn" : "the start");
    }
    return PP_OK;
}

/* Llama-2 chat: BOS "[INST] " (<<SYS>> block in the first) content " [/INST]",
 * replies " " content " " EOS; each turn stripped; no generation prompt. */
static pp_status render_llama2(const chat_template *t, const chat_conv *c, text_buf *b, pp_err *err) {
    int first = c->n > 0 && c->msg[0].role == CHAT_SYSTEM;
    PP_TRY(check_alternating(c, first, "llama2", err));
    for (int i = first; i < c->n; i++) {
        text_buf content = {0};
        if (i == first && first) {
            put(&content, "<<SYS>>\n");
            put(&content, c->msg[0].content);
            put(&content, "\n<</SYS>>\n\n");
        }
        put(&content, c->msg[i].content);
        if (content.oom) return pp_fail(err, PP_ESYS, "out of memory rendering a conversation");
        if (c->msg[i].role == CHAT_USER) {
            put(b, t->bos);
            put(b, "[INST] ");
            put_stripped(b, content.s);
            put(b, " [/INST]");
        } else {
            put(b, " ");
            put_stripped(b, content.s);
            put(b, " ");
            put(b, t->eos);
        }
        free(content.s);
    }
    return PP_OK;
}

/* Mistral v0.1: BOS, then "[INST] " content " [/INST]" and replies
 * content EOS " "; no system role. */
static pp_status render_mistral(const chat_template *t, const chat_conv *c, text_buf *b, pp_err *err) {
    PP_TRY(check_alternating(c, 0, "mistral", err));
    put(b, t->bos);
    for (int i = 0; i < c->n; i++) {
        if (c->msg[i].role == CHAT_USER) {
            put(b, "[INST] ");
            put(b, c->msg[i].content);
            put(b, " [/INST]");
        } else {
            put(b, c->msg[i].content);
            put(b, t->eos);
            put(b, " ");
        }
    }
    return PP_OK;
}

/* The header-content-footer turn of llama3, chatml and zephyr:
 * open role mid content close1 close2 (content stripped when strip). */
static void put_turn(text_buf *b, const char *open, const char *role, const char *mid, const char *content, int strip,
                     const char *close1, const char *close2) {
    put(b, open);
    put(b, role);
    put(b, mid);
    if (strip) put_stripped(b, content);
    else put(b, content);
    put(b, close1);
    put(b, close2);
}

/* Llama-3: BOS, then per turn a header, the stripped content and <|eot_id|>. */
static void render_llama3(const chat_template *t, const chat_conv *c, int gen, text_buf *b) {
    if (c->n > 0) put(b, t->bos);
    for (int i = 0; i < c->n; i++)
        put_turn(b, "<|start_header_id|>", role_names[c->msg[i].role], "<|end_header_id|>\n\n", c->msg[i].content, 1,
                 "<|eot_id|>", "");
    if (gen) put(b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

/* ChatML: <|im_start|>role\ncontent<|im_end|>\n, after the template's own
 * system turn when it has one and the conversation does not start with one. */
static void render_chatml(const chat_template *t, const chat_conv *c, int gen, text_buf *b) {
    if (t->default_system && c->n > 0 && c->msg[0].role != CHAT_SYSTEM)
        put_turn(b, "<|im_start|>", "system", "\n", t->default_system, 0, "<|im_end|>\n", "");
    for (int i = 0; i < c->n; i++)
        put_turn(b, "<|im_start|>", role_names[c->msg[i].role], "\n", c->msg[i].content, 0, "<|im_end|>\n", "");
    if (gen) put(b, "<|im_start|>assistant\n");
}

/* Zephyr: <|role|>\ncontent EOS \n; the generation prompt only after a turn. */
static void render_zephyr(const chat_template *t, const chat_conv *c, int gen, text_buf *b) {
    for (int i = 0; i < c->n; i++) put_turn(b, "<|", role_names[c->msg[i].role], "|>\n", c->msg[i].content, 0, t->eos, "\n");
    if (gen && c->n > 0) put(b, "<|assistant|>\n");
}

pp_status chat_render(const chat_template *t, const chat_conv *c, int add_generation_prompt, char **out, pp_err *err) {
    text_buf b = {0};
    *out = NULL;
    put(&b, ""); /* an empty conversation renders as "" */
    pp_status st = PP_OK;
    switch (t->family) {
    case CHAT_LLAMA2: st = render_llama2(t, c, &b, err); break;
    case CHAT_MISTRAL:
        for (int i = 0; i < c->n && st == PP_OK; i++)
            if (c->msg[i].role == CHAT_SYSTEM)
                st = pp_fail(err, PP_EINPUT, "mistral chat template: it has no system role (turn %d is a system turn)", i);
        if (st == PP_OK) st = render_mistral(t, c, &b, err);
        break;
    case CHAT_LLAMA3: render_llama3(t, c, add_generation_prompt, &b); break;
    case CHAT_CHATML: render_chatml(t, c, add_generation_prompt, &b); break;
    case CHAT_ZEPHYR: render_zephyr(t, c, add_generation_prompt, &b); break;
    default: st = pp_fail(err, PP_ESYS, "chat template family %d is not known", (int)t->family);
    }
    if (st == PP_OK && b.oom) st = pp_fail(err, PP_ESYS, "out of memory rendering a conversation");
    if (st != PP_OK) {
        free(b.s);
        return st;
    }
    *out = b.s;
    return PP_OK;
}
