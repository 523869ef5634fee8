/* import.c - TRL-format preference data into a pairs file (import.h). */
#include "import/import.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"
#include "core/pp_file.h"
#include "core/pp_mpi.h"
#include "core/pp_text.h"
#include "io/pairs.h"
#include "model/model_io.h"

#define IMPORT_MAX_FILE ((size_t)4 << 30) /* 4 GiB of JSON lines */
#define IMPORT_WARN_ROWS 5                /* skipped rows named one by one */

/* A growing int32 token array. */
typedef struct {
    int32_t *v;
    int64_t n, cap;
} token_list;

/* What is kept: one entry per imported pair. */
typedef struct {
    int64_t n, cap;
    int64_t *line;                  /* prompt ids: the line numbers */
    char **prompt, **chosen, **rejected;
    int64_t *off[3];                /* prompt, chosen, rejected: n + 1 offsets */
    token_list tok[3];
    int64_t rows, skipped, truncated_prompts, truncated_responses;
} import_acc;

/* One row being read: where it is, for messages. */
typedef struct {
    const char *path;
    long line;
    const tokenizer *tok;
    int max_length, max_prompt;
    const chat_template *chat; /* the run's template; NULL: the model has none */
    const char *model_path;    /* named when a conversation finds no template */
    size_t prompt_bos;         /* bytes of the row's prompt text that are the template's BOS text */
    int fatal; /* set when the row needs a setting, not a fix: never skipped */
} row_ctx;

static pp_status row_fail(const row_ctx *r, pp_err *err, const char *field, const char *what) {
    if (field) return pp_fail(err, PP_EINPUT, "%s:%ld: field '%s': %s", r->path, r->line, field, what);
    return pp_fail(err, PP_EINPUT, "%s:%ld: %s", r->path, r->line, what);
}

/* ---------------------------------------------------------------- texts */

static const char *json_kind(json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* Field `name` of a string row as text (a copy in *out).  Missing: *out
 * NULL (an error when required). */
static pp_status field_text(row_ctx *r, json_t *obj, const char *name, int required, char **out, pp_err *err) {
    *out = NULL;
    json_t *v = json_object_get(obj, name);
    if (!v) return required ? row_fail(r, err, name, "is missing") : PP_OK;
    if (!json_is_string(v)) {
        char what[96];
        snprintf(what, sizeof what, "must be a string or a list of messages, not %s", json_kind(v));
        return row_fail(r, err, name, what);
    }
    *out = strdup(json_string_value(v));
    return *out ? PP_OK : pp_fail(err, PP_ESYS, "out of memory");
}

/* TRL's implicit prompt: the longest common prefix of chosen and rejected
 * becomes the prompt; a space just before the divergence goes with the
 * responses; the cut lands on a UTF-8 character boundary. */
static pp_status split_implicit_prompt(char **prompt, char **chosen, char **rejected, pp_err *err) {
    const char *c = *chosen, *j = *rejected;
    size_t i = 0;
    while (c[i] && c[i] == j[i]) i++;
    while (i > 0 && ((unsigned char)c[i] & 0xC0) == 0x80) i--; /* not inside a character */
    if (i > 0 && c[i - 1] == ' ') i--;
    char *p = strndup(c, i), *nc = strdup(c + i), *nr = strdup(j + i);
    if (!p || !nc || !nr) {
        free(p);
        free(nc);
        free(nr);
        return pp_fail(err, PP_ESYS, "out of memory");
    }
    free(*chosen);
    free(*rejected);
    *prompt = p;
    *chosen = nc;
    *rejected = nr;
    return PP_OK;
}

/* ---------------------------------------------------------- conversations */

/* Field `name` of a conversational row: a non-empty list of messages
 * (chat_conv_from_json's rules). */
static pp_status field_conv(row_ctx *r, json_t *obj, const char *name, chat_conv *c, pp_err *err) {
    json_t *v = json_object_get(obj, name);
    if (!v) return row_fail(r, err, name, "is missing");
    if (!json_is_array(v)) {
        char what[120];
        snprintf(what, sizeof what, "must be a list of messages like the row's other fields, not %s", json_kind(v));
        return row_fail(r, err, name, what);
    }
    if (json_array_size(v) == 0) return row_fail(r, err, name, "is an empty conversation");
    char *text = json_dumps(v, JSON_COMPACT);
    if (!text) return pp_fail(err, PP_ESYS, "out of memory");
    char where[PP_PATH_MAX + 64];
    snprintf(where, sizeof where, "%s:%ld: field '%s'", r->path, r->line, name);
    pp_status st = chat_conv_from_json(text, where, c, err);
    free(text);
    return st;
}

/* Messages [from, to) of src appended to dst. */
static pp_status conv_append(chat_conv *dst, const chat_conv *src, int from, int to, pp_err *err) {
    for (int i = from; i < to; i++) PP_TRY(chat_conv_add(dst, src->msg[i].role, src->msg[i].content, err));
    return PP_OK;
}

/* The first k messages of c dropped. */
static void conv_drop_front(chat_conv *c, int k) {
    for (int i = 0; i < k; i++) free(c->msg[i].content);
    memmove(c->msg, c->msg + k, (size_t)(c->n - k) * sizeof *c->msg);
    c->n -= k;
}

static int same_message(const chat_message *a, const chat_message *b) {
    return a->role == b->role && strcmp(a->content, b->content) == 0;
}

/* TRL's extract_prompt on conversations: the prompt is chosen's messages
 * before the first index where chosen and rejected differ; when they do
 * not differ within the shorter one, TRL's loop stops at its last index,
 * so that last message stays with the responses.  No shared first
 * message: no prompt, refused. */
static pp_status split_conversations(row_ctx *r, chat_conv *prompt, chat_conv *c, chat_conv *j, pp_err *err) {
    int n = c->n < j->n ? c->n : j->n, i = 0;
    while (i < n && same_message(&c->msg[i], &j->msg[i])) i++;
    if (i == n) i = n - 1;
    if (i == 0)
        return row_fail(r, err, "rejected", "shares no first message with chosen: with no \"prompt\" field, the prompt "
                                            "is the messages chosen and rejected start with");
    PP_TRY(conv_append(prompt, c, 0, i, err));
    conv_drop_front(c, i);
    conv_drop_front(j, i);
    return PP_OK;
}

/* A response: the assistant's turn(s) after the prompt, no system turn,
 * the last turn the assistant's. */
static pp_status check_response(row_ctx *r, const char *name, const chat_conv *c, pp_err *err) {
    for (int i = 0; i < c->n; i++)
        if (c->msg[i].role == CHAT_SYSTEM) {
            char what[96];
            snprintf(what, sizeof what, "message %d is a system message; a response continues the prompt", i);
            return row_fail(r, err, name, what);
        }
    if (c->n == 0 || c->msg[c->n - 1].role != CHAT_ASSISTANT)
        return row_fail(r, err, name, "does not end with an assistant message (a response is the assistant's turn)");
    return PP_OK;
}

/* TRL's maybe_apply_chat_template: the prompt rendered with the generation
 * prompt; each response the rendering of prompt + response (no generation
 * prompt) less the prompt's rendering at its front, which must be there. */
static pp_status render_row(row_ctx *r, const chat_conv *prompt, chat_conv *resp[2], char *t[3], pp_err *err) {
    static const char *const names[3] = {"prompt", "chosen", "rejected"};
    pp_status st = chat_render(r->chat, prompt, 1, &t[0], err);
    if (st != PP_OK) return pp_wrap(err, "%s:%ld: field 'prompt'", r->path, r->line);
    size_t np = strlen(t[0]);
    for (int s = 1; st == PP_OK && s < 3; s++) {
        chat_conv whole = {0};
        char *full = NULL;
        st = conv_append(&whole, prompt, 0, prompt->n, err);
        if (st == PP_OK) st = conv_append(&whole, resp[s - 1], 0, resp[s - 1]->n, err);
        if (st == PP_OK && (st = chat_render(r->chat, &whole, 0, &full, err)) != PP_OK)
            pp_wrap(err, "%s:%ld: field '%s'", r->path, r->line, names[s]);
        if (st == PP_OK && strncmp(full, t[0], np) != 0)
            st = row_fail(r, err, names[s], "the chat template's rendering of prompt + response does not start with "
                                            "its rendering of the prompt, so the response cannot be cut off it");
        if (st == PP_OK && !(t[s] = strdup(full + np))) st = pp_fail(err, PP_ESYS, "out of memory");
        free(full);
        chat_conv_free(&whole);
    }
    if (st == PP_OK) r->prompt_bos = chat_leading_bos(r->chat, t[0]);
    return st;
}

static int row_is_conversational(json_t *obj) {
    return json_is_array(json_object_get(obj, "prompt")) || json_is_array(json_object_get(obj, "chosen")) ||
           json_is_array(json_object_get(obj, "rejected"));
}

/* A conversational row (explicit or implicit prompt) as its three texts. */
static pp_status conversation_texts(row_ctx *r, json_t *obj, char *t[3], pp_err *err) {
    int implicit = json_object_get(obj, "prompt") == NULL;
    if (!r->chat) {
        char what[PP_PATH_MAX + 160];
        snprintf(what, sizeof what, "is a conversation and %s has no chat template; choose one with --chat-template (%s)",
                 r->model_path, CHAT_FAMILY_LIST);
        r->fatal = 1; /* a setting is missing, not a row's fault */
        return row_fail(r, err, implicit ? "chosen" : "prompt", what);
    }
    chat_conv prompt = {0}, chosen = {0}, rejected = {0};
    pp_status st = field_conv(r, obj, "chosen", &chosen, err);
    if (st == PP_OK) st = field_conv(r, obj, "rejected", &rejected, err);
    if (st == PP_OK && !implicit) st = field_conv(r, obj, "prompt", &prompt, err);
    if (st == PP_OK && implicit) st = split_conversations(r, &prompt, &chosen, &rejected, err);
    if (st == PP_OK) {
        char where[PP_PATH_MAX + 80];
        snprintf(where, sizeof where, "%s:%ld: field '%s'%s", r->path, r->line, implicit ? "chosen" : "prompt",
                 implicit ? " (its messages shared with rejected: the prompt)" : "");
        st = chat_conv_check_prompt(&prompt, where, err);
    }
    if (st == PP_OK) st = check_response(r, "chosen", &chosen, err);
    if (st == PP_OK) st = check_response(r, "rejected", &rejected, err);
    chat_conv *resp[2] = {&chosen, &rejected};
    if (st == PP_OK) st = render_row(r, &prompt, resp, t, err);
    chat_conv_free(&prompt);
    chat_conv_free(&chosen);
    chat_conv_free(&rejected);
    return st;
}

/* ------------------------------------------------------------ row texts */

/* A string row (standard or implicit prompt) as its three texts. */
static pp_status string_texts(row_ctx *r, json_t *obj, char *t[3], pp_err *err) {
    pp_status st = field_text(r, obj, "chosen", 1, &t[1], err);
    if (st == PP_OK) st = field_text(r, obj, "rejected", 1, &t[2], err);
    if (st == PP_OK) st = field_text(r, obj, "prompt", 0, &t[0], err);
    if (st == PP_OK && !t[0]) st = split_implicit_prompt(&t[0], &t[1], &t[2], err);
    return st;
}

/* The three texts of a row, checked.  On error nothing is left allocated. */
static pp_status row_texts(row_ctx *r, json_t *obj, char *t[3], pp_err *err) {
    t[0] = t[1] = t[2] = NULL;
    if (!json_is_object(obj)) return row_fail(r, err, NULL, "not a JSON object");
    r->prompt_bos = 0;
    pp_status st = row_is_conversational(obj) ? conversation_texts(r, obj, t, err) : string_texts(r, obj, t, err);
    if (st == PP_OK && !*t[1]) st = row_fail(r, err, "chosen", "is empty");
    if (st == PP_OK && !*t[2]) st = row_fail(r, err, "rejected", "is empty");
    if (st == PP_OK && !strcmp(t[1], t[2])) st = row_fail(r, err, "rejected", "is the same text as chosen");
    if (st != PP_OK)
        for (int i = 0; i < 3; i++) {
            free(t[i]);
            t[i] = NULL;
        }
    return st;
}

/* --------------------------------------------------------------- tokens */

/* A response as the model would continue the prompt with it: no BOS, EOS
 * at the end.  llama2c puts a dummy-prefix space before any non-empty
 * text: a leading space of the response stands in for it. */
static pp_status encode_response(const tokenizer *tok, const char *text, int *ids, int *n, pp_err *err) {
    if (tok->kind == TOK_LLAMA2C && text[0] == ' ') text++;
    return tok_encode_cap(tok, text, 0, 1, ids, (int)tok_max_ids(tok, strlen(text)), n, err);
}

/* TRL's truncation (import.h): ids[0] prompt, ids[1] chosen, ids[2] rejected. */
static void truncate_row(const row_ctx *r, int *ids[3], int n[3], import_acc *a) {
    int longer = n[1] > n[2] ? n[1] : n[2];
    if (n[0] + longer <= r->max_length) return;
    if (n[0] > r->max_prompt) {
        int keep = r->max_prompt - 1; /* after BOS */
        memmove(ids[0] + 1, ids[0] + n[0] - keep, (size_t)keep * sizeof(int));
        n[0] = r->max_prompt;
        a->truncated_prompts++;
    }
    if (n[0] + longer <= r->max_length) return;
    int room = r->max_length - r->max_prompt;
    for (int s = 1; s < 3; s++)
        if (n[s] > room) n[s] = room;
    a->truncated_responses++;
}

static pp_status push_tokens(token_list *l, const int *ids, int n, pp_err *err) {
    if (l->n + n > l->cap) {
        int64_t cap = l->cap ? l->cap : 1024;
        while (cap < l->n + n) cap *= 2;
        int32_t *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return pp_fail(err, PP_ESYS, "out of memory for %lld tokens", (long long)cap);
        l->v = v;
        l->cap = cap;
    }
    for (int i = 0; i < n; i++) l->v[l->n + i] = ids[i];
    l->n += n;
    return PP_OK;
}

/* Room for one more pair in every per-pair array. */
static pp_status acc_reserve(import_acc *a, pp_err *err) {
    if (a->n + 1 < a->cap) return PP_OK;
    int64_t cap = a->cap ? 2 * a->cap : 256;
    void **arrays[] = {(void **)&a->line, (void **)&a->prompt, (void **)&a->chosen, (void **)&a->rejected,
                       (void **)&a->off[0], (void **)&a->off[1], (void **)&a->off[2]};
    size_t sizes[] = {sizeof(int64_t), sizeof(char *), sizeof(char *), sizeof(char *), sizeof(int64_t),
                      sizeof(int64_t), sizeof(int64_t)};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) {
        void *p = realloc(*arrays[i], (size_t)cap * sizes[i]);
        if (!p) return pp_fail(err, PP_ESYS, "out of memory for %lld pairs", (long long)cap);
        *arrays[i] = p;
    }
    if (a->cap == 0) a->off[0][0] = a->off[1][0] = a->off[2][0] = 0;
    a->cap = cap;
    return PP_OK;
}

/* Tokenize, truncate and keep a row's texts (taken over on success). */
static pp_status keep_row(row_ctx *r, char *t[3], import_acc *a, pp_err *err) {
    int *ids[3] = {NULL, NULL, NULL}, n[3];
    pp_status st = acc_reserve(a, err);
    for (int s = 0; st == PP_OK && s < 3; s++) {
        ids[s] = malloc(tok_max_ids(r->tok, strlen(t[s])) * sizeof(int));
        if (!ids[s]) st = pp_fail(err, PP_ESYS, "out of memory");
        else if (s == 0) /* docs/chat.md: one BOS */
            st = tok_encode_cap(r->tok, t[0] + r->prompt_bos, 1, 0, ids[0], (int)tok_max_ids(r->tok, strlen(t[0])), &n[0],
                                err);
        else st = encode_response(r->tok, t[s], ids[s], &n[s], err);
    }
    if (st == PP_OK) truncate_row(r, ids, n, a);
    if (st == PP_OK && n[1] == n[2] && !memcmp(ids[1], ids[2], (size_t)n[1] * sizeof(int)))
        st = row_fail(r, err, "rejected", "has the same tokens as chosen after truncation to --max-length");
    for (int s = 0; st == PP_OK && s < 3; s++) {
        st = push_tokens(&a->tok[s], ids[s], n[s], err);
        if (st == PP_OK) a->off[s][a->n + 1] = a->tok[s].n;
    }
    for (int s = 0; s < 3; s++) free(ids[s]);
    if (st != PP_OK) return st;
    a->line[a->n] = r->line;
    a->prompt[a->n] = t[0];
    a->chosen[a->n] = t[1];
    a->rejected[a->n] = t[2];
    a->n++;
    return PP_OK;
}

/* ------------------------------------------------------------------ rows */

/* One non-empty line: parsed, checked, kept. */
static pp_status import_line(row_ctx *r, const char *line, size_t len, import_acc *a, pp_err *err) {
    size_t bad;
    if (!pp_utf8_valid(line, len, &bad)) {
        char what[80];
        snprintf(what, sizeof what, "not valid UTF-8 (byte %zu of the line)", bad + 1);
        return row_fail(r, err, NULL, what);
    }
    json_error_t je;
    json_t *obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (!obj) {
        char what[200];
        snprintf(what, sizeof what, "not valid JSON: %s", je.text);
        return row_fail(r, err, NULL, what);
    }
    char *t[3];
    pp_status st = row_texts(r, obj, t, err);
    json_decref(obj);
    if (st == PP_OK) {
        st = keep_row(r, t, a, err);
        if (st != PP_OK)
            for (int i = 0; i < 3; i++) free(t[i]);
    }
    return st;
}

/* Every line of the file; bad rows stop it or, with skip_bad, are counted. */
static pp_status read_rows(const import_options *o, row_ctx *r, import_acc *a, const pp_log *log, pp_err *err) {
    char *data;
    size_t len;
    PP_TRY(pp_read_file(o->input, IMPORT_MAX_FILE, "preference data file", &data, &len, err));
    pp_status st = PP_OK;
    const char *p = data, *end = data + len;
    while (st == PP_OK && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        r->line++;
        size_t i = 0;
        while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r')) i++;
        if (i < n) {
            a->rows++;
            r->fatal = 0;
            st = import_line(r, p, n, a, err);
            if (st == PP_EINPUT && o->skip_bad && !r->fatal) {
                if (++a->skipped <= IMPORT_WARN_ROWS) pp_warn(log, "skipped: %s", err->msg);
                st = PP_OK;
            }
        }
        p += n + (nl != NULL);
    }
    free(data);
    if (st == PP_OK && a->n == 0)
        st = pp_fail(err, PP_EINPUT, "%s: no usable pairs (%lld rows, %lld skipped)", o->input, (long long)a->rows,
                     (long long)a->skipped);
    return st;
}

/* -------------------------------------------------------------- output */

/* The kept pairs as a pairs file's contents (the token arrays move over). */
static pp_status acc_to_pairs(import_acc *a, const model *m, const row_ctx *r, pairs_set *s, pp_err *err) {
    const int64_t n = a->n;
    PP_TRY(pairs_alloc(s, n, 2, n, 0, 0, 0, 0, err));
    pp_status st = pairs_pack_text(&s->prompt_text, n, (const char *const *)a->prompt, err);
    if (st == PP_OK) st = pairs_pack_text(&s->chosen_text, n, (const char *const *)a->chosen, err);
    if (st == PP_OK) st = pairs_pack_text(&s->rejected_text, n, (const char *const *)a->rejected, err);
    if (st != PP_OK) return st;
    for (int64_t i = 0; i < n; i++) {
        s->prompt_id[i] = a->line[i];
        s->pair_prompt[i] = i;
        s->best[i] = s->chosen[i] = s->ranking[2 * i] = 0;
        s->worst[i] = s->rejected[i] = s->ranking[2 * i + 1] = 1;
    }
    int64_t *offs[3] = {s->prompt_token_offsets, s->chosen_token_offsets, s->rejected_token_offsets};
    for (int k = 0; k < 3; k++) memcpy(offs[k], a->off[k], (size_t)(n + 1) * sizeof(int64_t));
    s->prompt_tokens = a->tok[0].v;
    s->chosen_tokens = a->tok[1].v;
    s->rejected_tokens = a->tok[2].v;
    a->tok[0].v = a->tok[1].v = a->tok[2].v = NULL;
    snprintf(s->method, sizeof s->method, "import");
    snprintf(s->judge, sizeof s->judge, "none");
    snprintf(s->pairs_mode, sizeof s->pairs_mode, "best");
    snprintf(s->source, sizeof s->source, "trl-jsonl");
    snprintf(s->tokenizer, sizeof s->tokenizer, "%s", m->tok.kind == TOK_BYTE ? "byte" : "llama2c");
    model_fingerprint_hex(m, s->model_fingerprint);
    s->vocab_size = m->cfg.vocab_size;
    s->has_import = 1;
    s->import_rows = a->rows;
    s->skipped_rows = a->skipped;
    s->truncated_prompts = a->truncated_prompts;
    s->truncated_responses = a->truncated_responses;
    s->max_length = r->max_length;
    s->max_prompt_tokens = r->max_prompt;
    return PP_OK;
}

static void acc_free(import_acc *a) {
    for (int64_t i = 0; i < a->n; i++) {
        free(a->prompt[i]);
        free(a->chosen[i]);
        free(a->rejected[i]);
    }
    void *all[] = {a->line, a->prompt, a->chosen, a->rejected, a->off[0], a->off[1], a->off[2],
                   a->tok[0].v, a->tok[1].v, a->tok[2].v};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    memset(a, 0, sizeof *a);
}

/* The limits, from the options and the model's context. */
static pp_status set_limits(const import_options *o, const model *m, row_ctx *r, pp_err *err) {
    r->max_length = o->max_length > 0 ? o->max_length : m->cfg.seq_len;
    r->max_prompt = o->max_prompt_tokens > 0 ? o->max_prompt_tokens : r->max_length / 2;
    if (r->max_length > m->cfg.seq_len)
        return pp_fail(err, PP_EINPUT, "--max-length %d is longer than the context of %s (%d tokens)", r->max_length,
                       o->model, m->cfg.seq_len);
    if (r->max_prompt < 2 || r->max_prompt >= r->max_length)
        return pp_fail(err, PP_EINPUT, "--max-prompt-tokens %d must be at least 2 (BOS and one token) and below "
                       "--max-length %d", r->max_prompt, r->max_length);
    return PP_OK;
}

/* The chat template conversational rows are rendered with: --chat-template
 * NAME, else the model's own (the rule of pp-generate's chat_run_family);
 * neither: r->chat stays NULL and a conversational row says so. */
static pp_status chat_setup(const import_options *o, const model *m, chat_template *t, row_ctx *r, pp_err *err) {
    const char *family = o->chat_template && *o->chat_template ? o->chat_template : m->chat_family;
    if (!family[0]) return PP_OK;
    chat_family f;
    PP_TRY(chat_family_parse(family, &f, err));
    PP_TRY(chat_template_init(t, f, m->chat_template, err));
    r->chat = t;
    return PP_OK;
}

/* Rank 0's part: everything up to the pairs set. */
static pp_status import_rows(const import_options *o, pairs_set *s, const pp_log *log, pp_err *err) {
    model m = {0};
    import_acc a = {0};
    row_ctx r = {.path = o->input, .model_path = o->model};
    chat_template chat = {0};
    pp_status st = model_load(o->model, &m, err);
    if (st == PP_OK) st = set_limits(o, &m, &r, err);
    if (st == PP_OK) st = chat_setup(o, &m, &chat, &r, err);
    r.tok = &m.tok;
    if (st == PP_OK) st = read_rows(o, &r, &a, log, err);
    if (st == PP_OK) st = acc_to_pairs(&a, &m, &r, s, err);
    if (st == PP_OK)
        pp_info(log, "%s: %lld pairs from %lld rows (%lld skipped); %lld prompts and %lld response pairs truncated "
                "(max length %d, max prompt %d tokens)", o->input, (long long)a.n, (long long)a.rows,
                (long long)a.skipped, (long long)a.truncated_prompts, (long long)a.truncated_responses, r.max_length,
                r.max_prompt);
    acc_free(&a);
    chat_template_free(&chat);
    model_free(&m);
    return st;
}

pp_status import_run(const import_options *o, MPI_Comm comm, const pp_log *log, pp_err *err) {
    int rank;
    MPI_Comm_rank(comm, &rank);
    pp_input inputs[2] = {{"data", o->input}, {"model", o->model}};
    pp_status st = pp_check_output(o->out, inputs, 2, err);
    /* the estimate, before anything is read: rank 0 loads the model for its
       tokenizer and keeps the rows' texts and tokens (about 4 x the JSONL) */
    model_config c;
    st = pp_agree(comm, st == PP_OK ? model_read_config(o->model, &c, err) : st, err);
    if (st == PP_OK) {
        pp_memory_part parts[] = {{"model", 4.0 * (double)model_param_count(&c)},
                                  {"rows (4 x the JSONL)", 4.0 * pp_file_bytes(o->input)},
                                  {"runtime", PP_MEMORY_RUNTIME_BYTES}};
        st = pp_memory_check(o->mem, o->max_memory, parts, 3, comm, log, err);
    }
    pairs_set s = {0};
    if (st == PP_OK && rank == 0) st = import_rows(o, &s, log, err);
    st = pp_agree(comm, st, err);
    if (st == PP_OK) {
        pp_provenance prov = {"pp-import", o->arguments, inputs, 2};
        st = pairs_write(&s, o->out, comm, &prov, err);
    }
    pairs_free(&s);
    return st;
}
