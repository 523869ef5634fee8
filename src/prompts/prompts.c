/* prompts.c - prompt import and the prompts file (prompts.h). */
#include "prompts/prompts.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/pp_mpi.h"
#include "core/pp_file.h"
#include "core/pp_text.h"
#include "suite/tasks.h"

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

pp_status prompts_add(prompt_set *s, int64_t id, const char *text, const char *family,
                      const char *reference, pp_err *err) {
    if (s->n == s->cap) {
        int64_t cap = s->cap ? 2 * s->cap : 16;
        int64_t *ids = realloc(s->ids, (size_t)cap * sizeof *ids);
        if (ids) s->ids = ids;
        char **t = realloc(s->text, (size_t)cap * sizeof *t);
        if (t) s->text = t;
        char **f = realloc(s->family, (size_t)cap * sizeof *f);
        if (f) s->family = f;
        char **r = realloc(s->reference, (size_t)cap * sizeof *r);
        if (r) s->reference = r;
        char **msg = realloc(s->messages, (size_t)cap * sizeof *msg);
        if (msg) s->messages = msg;
        if (!ids || !t || !f || !r || !msg) return pp_fail(err, PP_ESYS, "out of memory adding prompt %lld", (long long)id);
        s->cap = cap;
    }
    s->ids[s->n] = id;
    s->text[s->n] = strdup(text);
    s->family[s->n] = dup_or_null(family);
    s->reference[s->n] = dup_or_null(reference);
    s->messages[s->n] = NULL;
    if (!s->text[s->n]) return pp_fail(err, PP_ESYS, "out of memory");
    s->n++;
    return PP_OK;
}

pp_status prompts_add_conversation(prompt_set *s, int64_t id, const chat_conv *c, const char *where, pp_err *err) {
    PP_TRY(chat_conv_check_prompt(c, where, err));
    char *json;
    PP_TRY(chat_conv_to_json(c, &json, err));
    pp_status st = prompts_add(s, id, chat_conv_last_user(c), NULL, NULL, err);
    if (st == PP_OK) s->messages[s->n - 1] = json;
    else free(json);
    return st;
}

/* A JSONL value that is a list of messages: checked and added. */
static pp_status add_json_conversation(prompt_set *s, int64_t id, const json_t *v, const char *path, long line,
                                       pp_err *err) {
    char where[PP_PATH_MAX + 32];
    snprintf(where, sizeof where, "%s:%ld", path, line);
    char *json = json_dumps(v, JSON_COMPACT);
    if (!json) return pp_fail(err, PP_ESYS, "out of memory");
    chat_conv c = {0};
    pp_status st = chat_conv_from_json(json, where, &c, err);
    free(json);
    if (st == PP_OK) st = prompts_add_conversation(s, id, &c, where, err);
    chat_conv_free(&c);
    return st;
}

static pp_status check_text(const char *path, const char *what, long line, const char *text, size_t len,
                            pp_err *err) {
    size_t bad;
    if (memchr(text, '\0', len)) return pp_fail(err, PP_EINPUT, "%s:%ld: %s contains a NUL byte", path, line, what);
    if (!pp_utf8_valid(text, len, &bad))
        return pp_fail(err, PP_EINPUT, "%s:%ld: %s is not valid UTF-8 (byte %zu)", path, line, what, bad + 1);
    if (len > PROMPT_MAX_BYTES) return pp_fail(err, PP_EINPUT, "%s:%ld: %s is longer than %d bytes", path, line, what, PROMPT_MAX_BYTES);
    return PP_OK;
}

/* Read a prompt file.  One rule for text, JSONL and YAML: a single leading
 * UTF-8 byte-order mark is dropped (editors on Windows add one), any other
 * U+FEFF is text. */
static pp_status slurp(const char *path, char **data, size_t *len, pp_err *err) {
    PP_TRY(pp_read_file(path, PROMPT_FILE_MAX_BYTES, "prompt file", data, len, err));
    if (*len >= 3 && memcmp(*data, "\xEF\xBB\xBF", 3) == 0) {
        memmove(*data, *data + 3, *len - 3 + 1);
        *len -= 3;
    }
    return PP_OK;
}

static void set_source(prompt_set *s, const char *kind, const char *path) {
    snprintf(s->source, sizeof s->source, "%s", kind);
    snprintf(s->source_file, sizeof s->source_file, "%s", path);
}

/* Follow a dotted path ("turns.0") through objects and arrays. */
static json_t *follow(json_t *v, const char *field) {
    char key[256];
    const char *p = field;
    while (v && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof key) return NULL;
        memcpy(key, p, n);
        key[n] = '\0';
        if (json_is_object(v)) v = json_object_get(v, key);
        else if (json_is_array(v)) {
            char *end;
            long idx = strtol(key, &end, 10);
            v = (*key && !*end && idx >= 0) ? json_array_get(v, (size_t)idx) : NULL;
        } else v = NULL;
        p = dot ? dot + 1 : p + n;
    }
    return v;
}

pp_status prompts_read_jsonl(prompt_set *s, const char *path, const char *field, pp_err *err) {
    char *data;
    size_t len;
    PP_TRY(slurp(path, &data, &len, err));
    set_source(s, "jsonl", path);
    pp_status st = PP_OK;
    long lineno = 0;
    int64_t item = 0;
    char *line = data, *end = data + len;
    while (st == PP_OK && line < end) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);
        lineno++;
        char *next = nl ? nl + 1 : end;
        line[n] = '\0';
        char *t = line;
        while (isspace((unsigned char)*t)) t++;
        if (*t) {
            st = check_text(path, "line", lineno, line, n, err);
            json_error_t je;
            json_t *obj = st == PP_OK ? json_loads(line, JSON_REJECT_DUPLICATES, &je) : NULL;
            if (st == PP_OK && !obj)
                st = pp_fail(err, PP_EINPUT, "%s:%ld: not valid JSON: %s", path, lineno, je.text);
            json_t *v = obj ? follow(obj, field) : NULL;
            if (st == PP_OK && !v)
                st = pp_fail(err, PP_EINPUT, "%s:%ld: no field '%s' in this object", path, lineno, field);
            else if (st == PP_OK && json_is_array(v)) st = add_json_conversation(s, item++, v, path, lineno, err);
            else if (st == PP_OK && !json_is_string(v))
                st = pp_fail(err, PP_EINPUT, "%s:%ld: field '%s' is neither a string nor a list of messages", path, lineno,
                             field);
            else if (st == PP_OK) st = prompts_add(s, item++, json_string_value(v), NULL, NULL, err);
            json_decref(obj);
        }
        line = next;
    }
    free(data);
    return st;
}

pp_status prompts_read_text(prompt_set *s, const char *path, pp_err *err) {
    char *data;
    size_t len;
    PP_TRY(slurp(path, &data, &len, err));
    set_source(s, "text", path);
    pp_status st = PP_OK;
    long lineno = 0;
    char *line = data, *end = data + len;
    while (st == PP_OK && line < end) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);
        lineno++;
        char *next = nl ? nl + 1 : end;
        if (n > 0 && line[n - 1] == '\r') n--; /* CRLF files */
        st = check_text(path, "line", lineno, line, n, err);
        line[n] = '\0';
        /* ids are line numbers - 1, stable whatever lines are dropped */
        if (st == PP_OK) st = prompts_add(s, lineno - 1, line, NULL, NULL, err);
        line = next;
    }
    free(data);
    return st;
}

pp_status prompts_read_yaml(prompt_set *s, const char *path, pp_err *err) {
    char *data;
    size_t len;
    PP_TRY(slurp(path, &data, &len, err));
    set_source(s, "yaml", path);
    size_t bad;
    if (!pp_utf8_valid(data, len, &bad)) {
        long line = 1;
        for (size_t i = 0; i < bad; i++) line += data[i] == '\n';
        free(data);
        return pp_fail(err, PP_EINPUT, "%s:%ld: not valid UTF-8", path, line);
    }
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    pp_status st = PP_OK;
    int depth = 0, in_list = 0, done = 0;
    int64_t item = 0;
    /* anchored items, so that an alias (*name) repeats its text: the id of
     * every item stays its position in the list */
    typedef struct {
        char *name, *text;
    } anchor;
    anchor *anchors = NULL;
    int n_anchors = 0;
    while (st == PP_OK && !done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            st = pp_fail(err, PP_EINPUT, "%s:%lu: YAML error: %s", path, (unsigned long)parser.problem_mark.line + 1,
                         parser.problem ? parser.problem : "unknown");
            break;
        }
        long line = (long)ev.start_mark.line + 1;
        switch (ev.type) {
        case YAML_SEQUENCE_START_EVENT:
            if (depth == 0) in_list = 1;
            else st = pp_fail(err, PP_EINPUT, "%s:%ld: nested lists are not prompts (expected a list of strings)", path, line);
            depth++;
            break;
        case YAML_SEQUENCE_END_EVENT: depth--; break;
        case YAML_MAPPING_START_EVENT:
            st = pp_fail(err, PP_EINPUT, "%s:%ld: expected a list of strings, found a mapping", path, line);
            break;
        case YAML_SCALAR_EVENT:
            if (!in_list) st = pp_fail(err, PP_EINPUT, "%s:%ld: expected a list of strings at the top level", path, line);
            else {
                const char *v = (const char *)ev.data.scalar.value;
                st = check_text(path, "item", line, v, ev.data.scalar.length, err);
                if (st == PP_OK) st = prompts_add(s, item++, v, NULL, NULL, err);
                if (st == PP_OK && ev.data.scalar.anchor) {
                    anchor *a = realloc(anchors, (size_t)(n_anchors + 1) * sizeof *a);
                    if (a) anchors = a;
                    if (!a || !(a[n_anchors].name = strdup((const char *)ev.data.scalar.anchor))) {
                        st = pp_fail(err, PP_ESYS, "out of memory");
                        break;
                    }
                    if (!(a[n_anchors].text = strdup(v))) {
                        free(a[n_anchors].name);
                        st = pp_fail(err, PP_ESYS, "out of memory");
                        break;
                    }
                    n_anchors++;
                }
            }
            break;
        case YAML_ALIAS_EVENT: {
            const char *name = (const char *)ev.data.alias.anchor;
            int k = n_anchors - 1; /* YAML: the latest anchor of that name */
            while (k >= 0 && strcmp(anchors[k].name, name) != 0) k--;
            if (!in_list) st = pp_fail(err, PP_EINPUT, "%s:%ld: expected a list of strings at the top level", path, line);
            else if (k < 0) st = pp_fail(err, PP_EINPUT, "%s:%ld: alias *%s names no anchored item before it", path, line, name);
            else st = prompts_add(s, item++, anchors[k].text, NULL, NULL, err);
            break;
        }
        case YAML_STREAM_END_EVENT: done = 1; break;
        default: break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    for (int k = 0; k < n_anchors; k++) {
        free(anchors[k].name);
        free(anchors[k].text);
    }
    free(anchors);
    free(data);
    if (st == PP_OK && !in_list && item == 0)
        st = pp_fail(err, PP_EINPUT, "%s: no YAML list of prompts found", path);
    return st;
}

pp_status prompts_from_suite(prompt_set *s, const char *families, const char *split, int64_t n, uint64_t seed,
                             pp_err *err) {
    task_family_set set;
    task_split sp;
    PP_TRY(tasks_parse_families(families, &set, err));
    PP_TRY(tasks_parse_split(split, &sp, err));
    snprintf(s->source, sizeof s->source, "builtin");
    tasks_families_string(&set, s->suite, sizeof s->suite);
    snprintf(s->split, sizeof s->split, "%s", tasks_split_name(sp));
    s->seed = (int64_t)seed;
    for (int64_t i = 0; i < n; i++) {
        task_item t;
        PP_TRY(tasks_make(&set, sp, (uint64_t)i, seed, &t, err));
        PP_TRY(prompts_add(s, i, t.prompt, tasks_family_name(t.family), t.answer, err));
    }
    return PP_OK;
}

static const char *dedup_key(const prompt_set *s, int64_t i) { return s->messages[i] ? s->messages[i] : s->text[i]; }

static int blank(const char *t) {
    for (; *t; t++)
        if (!isspace((unsigned char)*t)) return 0;
    return 1;
}

/* Duplicate detection with a hash set over texts. */
static uint64_t text_hash(const char *t) {
    uint64_t h = 0xCBF29CE484222325ULL;
    for (; *t; t++) h = (h ^ (unsigned char)*t) * 0x100000001B3ULL;
    return h;
}

pp_status prompts_keep_range(prompt_set *s, int64_t first, int64_t count, const char *what, pp_err *err) {
    if (first < 0 || count < 1 || first > s->n - count)
        return pp_fail(err, PP_EINPUT, "%s: has %lld prompts, the range %lld:%lld needs %lld", what, (long long)s->n,
                       (long long)first, (long long)count, (long long)(first + count));
    for (int64_t i = 0; i < s->n; i++) {
        if (i >= first && i < first + count) continue;
        free(s->text[i]);
        if (s->family) free(s->family[i]);
        if (s->reference) free(s->reference[i]);
    }
    memmove(s->ids, s->ids + first, (size_t)count * sizeof *s->ids);
    memmove(s->text, s->text + first, (size_t)count * sizeof *s->text);
    if (s->family) memmove(s->family, s->family + first, (size_t)count * sizeof *s->family);
    if (s->reference) memmove(s->reference, s->reference + first, (size_t)count * sizeof *s->reference);
    s->n = count;
    return PP_OK;
}

void prompts_cleanup(prompt_set *s, int keep_duplicates, prompt_cleanup *r) {
    memset(r, 0, sizeof *r);
    r->first_empty_id = r->first_duplicate_id = -1;
    size_t cap = 16;
    while (cap < 2 * (size_t)s->n) cap *= 2;
    int64_t *slot = malloc(cap * sizeof *slot);
    if (slot)
        for (size_t i = 0; i < cap; i++) slot[i] = -1;
    int64_t w = 0;
    for (int64_t i = 0; i < s->n; i++) {
        int drop = 0;
        const char *key = dedup_key(s, i); /* a conversation: the whole of it */
        if (blank(s->text[i])) {
            drop = 1;
            if (r->empty++ == 0) r->first_empty_id = s->ids[i];
        } else if (slot && !keep_duplicates) {
            size_t h = (size_t)text_hash(key) & (cap - 1);
            while (slot[h] >= 0 && strcmp(dedup_key(s, slot[h]), key) != 0) h = (h + 1) & (cap - 1);
            if (slot[h] >= 0) {
                drop = 1;
                if (r->duplicate++ == 0) r->first_duplicate_id = s->ids[i];
            } else slot[h] = w; /* the kept copy will live at index w */
        }
        if (drop) {
            free(s->text[i]);
            free(s->family[i]);
            free(s->reference[i]);
            free(s->messages[i]);
            continue;
        }
        s->ids[w] = s->ids[i];
        s->text[w] = s->text[i];
        s->family[w] = s->family[i];
        s->reference[w] = s->reference[i];
        s->messages[w] = s->messages[i];
        w++;
    }
    free(slot);
    s->n = w;
}

pp_status prompts_write(const prompt_set *s, const char *path, MPI_Comm comm, const pp_provenance *prov,
                        pp_err *err) {
    pp_h5 f;
    int rank;
    MPI_Comm_rank(comm, &rank);
    /* every rank needs the same count and attributes: broadcast rank 0's */
    int64_t n = s->n;
    MPI_Bcast(&n, 1, MPI_INT64_T, 0, comm);
    char attrs[4][PP_PATH_MAX];
    int has_builtin = s->family != NULL && n > 0 && s->family[0] != NULL;
    int has_messages = 0; /* any conversation: /messages, "" for the plain prompts */
    for (int64_t i = 0; rank == 0 && i < s->n; i++) has_messages |= s->messages[i] != NULL;
    if (rank == 0) {
        snprintf(attrs[0], sizeof attrs[0], "%s", s->source);
        snprintf(attrs[1], sizeof attrs[1], "%s", s->source_file);
        snprintf(attrs[2], sizeof attrs[2], "%s", s->suite);
        snprintf(attrs[3], sizeof attrs[3], "%s", s->split);
    }
    MPI_Bcast(attrs, sizeof attrs, MPI_CHAR, 0, comm);
    MPI_Bcast(&has_builtin, 1, MPI_INT, 0, comm);
    MPI_Bcast(&has_messages, 1, MPI_INT, 0, comm);
    int64_t seed = s->seed;
    MPI_Bcast(&seed, 1, MPI_INT64_T, 0, comm);

    PP_TRY(pp_h5_create(&f, path, comm, "prompts", PROMPTS_SCHEMA_VERSION, prov, err));
    pp_status st = pp_h5_attr_i64(&f, "/", "n_prompts", n, err);
    if (st == PP_OK) st = pp_h5_attr_str(&f, "/", "source", attrs[0], err);
    if (st == PP_OK && attrs[1][0]) st = pp_h5_attr_str(&f, "/", "source_file", attrs[1], err);
    if (st == PP_OK && has_builtin) {
        st = pp_h5_attr_str(&f, "/", "suite", attrs[2], err);
        if (st == PP_OK) st = pp_h5_attr_str(&f, "/", "split", attrs[3], err);
        if (st == PP_OK) st = pp_h5_attr_i64(&f, "/", "seed", seed, err);
    }
    int64_t dims[1] = {n};
    if (st == PP_OK) st = pp_h5_write_root(&f, "/id", PP_I64, 1, dims, s->ids, err);
    if (st == PP_OK) st = pp_h5_serial_begin(&f, err);
    if (st == PP_OK) st = pp_h5_write_text(&f, "/text", n, (const char *const *)s->text, err);
    if (st == PP_OK && has_builtin) {
        st = pp_h5_write_text(&f, "/family", n, (const char *const *)s->family, err);
        if (st == PP_OK) st = pp_h5_write_text(&f, "/reference", n, (const char *const *)s->reference, err);
    }
    if (st == PP_OK && has_messages) {
        const char **msg = malloc((size_t)(n > 0 ? n : 1) * sizeof *msg);
        if (!msg) st = pp_fail(err, PP_ESYS, "out of memory");
        for (int64_t i = 0; msg && i < n; i++) msg[i] = s->messages[i] ? s->messages[i] : "";
        if (st == PP_OK) st = pp_h5_write_text(&f, "/messages", n, msg, err);
        free(msg);
    }
    /* the serial phase may have failed on rank 0 only: agree before anything
     * is renamed, so a failure never leaves a partial file under the final name */
    st = pp_agree(comm, st, err);
    if (st != PP_OK) {
        pp_h5_abort(&f);
        return st;
    }
    return pp_h5_commit(&f, err);
}

/* Row i's stored conversation, checked as on import, becomes its messages. */
static pp_status check_stored_conversation(prompt_set *s, const char *path, int64_t i, const char *json, pp_err *err) {
    char where[PP_PATH_MAX + 48];
    snprintf(where, sizeof where, "%s: dataset /messages: row %lld", path, (long long)i);
    chat_conv c = {0};
    pp_status st = chat_conv_from_json(json, where, &c, err);
    if (st == PP_OK) st = chat_conv_check_prompt(&c, where, err);
    chat_conv_free(&c);
    if (st == PP_OK && !(s->messages[i] = strdup(json))) st = pp_fail(err, PP_ESYS, "out of memory");
    return st;
}

pp_status prompts_load(prompt_set *s, const char *path, pp_err *err) {
    memset(s, 0, sizeof *s);
    pp_h5 f;
    PP_TRY(pp_h5_open(&f, path, "prompts", PROMPTS_SCHEMA_VERSION, err));
    int64_t n = 0, dims[4];
    pp_status st = pp_h5_get_attr_i64(&f, "/", "n_prompts", &n, err);
    if (st == PP_OK && n < 0) st = pp_fail(err, PP_EINPUT, "%s: n_prompts is negative", path);
    int64_t want[1] = {n};
    if (st == PP_OK) st = pp_h5_expect(&f, "/id", PP_I64, 1, want, dims, err);
    char **text = NULL, **fam = NULL, **ref = NULL, **msg = NULL;
    int64_t got;
    if (st == PP_OK) st = pp_h5_read_text(&f, "/text", n, &got, &text, err);
    int builtin = pp_h5_exists(&f, "/family");
    if (st == PP_OK && builtin) st = pp_h5_read_text(&f, "/family", n, &got, &fam, err);
    if (st == PP_OK && builtin) st = pp_h5_read_text(&f, "/reference", n, &got, &ref, err);
    if (st == PP_OK && pp_h5_exists(&f, "/messages")) st = pp_h5_read_text(&f, "/messages", n, &got, &msg, err);
    int64_t *ids = st == PP_OK ? malloc((size_t)(n > 0 ? n : 1) * sizeof *ids) : NULL;
    if (st == PP_OK && !ids) st = pp_fail(err, PP_ESYS, "out of memory");
    if (st == PP_OK) st = pp_h5_read_all(&f, "/id", PP_I64, ids, err);
    for (int64_t i = 0; st == PP_OK && i < n; i++) {
        st = prompts_add(s, ids[i], text[i], fam ? fam[i] : NULL, ref ? ref[i] : NULL, err);
        if (st == PP_OK && msg && msg[i][0]) st = check_stored_conversation(s, path, i, msg[i], err);
    }
    if (st == PP_OK) {
        pp_h5_opt_attr_str(&f, "/", "source", s->source, sizeof s->source, s->source);
        if (builtin) {
            pp_h5_opt_attr_str(&f, "/", "suite", s->suite, sizeof s->suite, s->suite);
            pp_h5_opt_attr_str(&f, "/", "split", s->split, sizeof s->split, s->split);
            pp_h5_opt_attr_i64(&f, "/", "seed", &s->seed, s->seed);
        }
    }
    free(ids);
    free(text);
    free(fam);
    free(ref);
    free(msg);
    pp_h5_close(&f);
    if (st != PP_OK) prompts_free(s);
    return st;
}

pp_status prompts_render(prompt_set *s, const char *family, const char *template_text, const char *prompts_path,
                         const char *model_path, pp_err *err) {
    int64_t first = -1;
    for (int64_t i = 0; i < s->n && first < 0; i++)
        if (s->messages[i]) first = i;
    if (first < 0) return PP_OK;
    if (!family || !*family)
        return pp_fail(err, PP_EINPUT, "%s: prompt id %lld is a conversation and %s has no chat template; choose one with "
                       "--chat-template (%s)", prompts_path, (long long)s->ids[first], model_path, CHAT_FAMILY_LIST);
    chat_family fam;
    chat_template t;
    PP_TRY(chat_family_parse(family, &fam, err));
    PP_TRY(chat_template_init(&t, fam, template_text, err));
    s->rendered = calloc((size_t)(s->n > 0 ? s->n : 1), sizeof *s->rendered);
    s->bos_len = calloc((size_t)(s->n > 0 ? s->n : 1), sizeof *s->bos_len);
    pp_status st = s->rendered && s->bos_len ? PP_OK : pp_fail(err, PP_ESYS, "out of memory");
    for (int64_t i = 0; st == PP_OK && i < s->n; i++) {
        if (!s->messages[i]) continue;
        char where[PP_PATH_MAX + 48];
        snprintf(where, sizeof where, "%s: prompt id %lld", prompts_path, (long long)s->ids[i]);
        chat_conv c = {0};
        st = chat_conv_from_json(s->messages[i], where, &c, err);
        if (st == PP_OK && (st = chat_render(&t, &c, 1, &s->rendered[i], err)) != PP_OK) pp_wrap(err, "%s", where);
        if (st == PP_OK) s->bos_len[i] = chat_leading_bos(&t, s->rendered[i]);
        chat_conv_free(&c);
    }
    chat_template_free(&t);
    return st;
}

const char *prompts_model_text(const prompt_set *s, int64_t i) {
    return s->rendered && s->rendered[i] ? s->rendered[i] + s->bos_len[i] : s->text[i];
}

void prompts_free(prompt_set *s) {
    for (int64_t i = 0; i < s->n; i++) {
        free(s->text[i]);
        if (s->family) free(s->family[i]);
        if (s->reference) free(s->reference[i]);
        if (s->messages) free(s->messages[i]);
        if (s->rendered) free(s->rendered[i]);
    }
    free(s->rendered);
    free(s->bos_len);
    free(s->ids);
    free(s->text);
    free(s->family);
    free(s->reference);
    free(s->messages);
    memset(s, 0, sizeof *s);
}
