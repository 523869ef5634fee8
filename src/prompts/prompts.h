/* prompts.h - prompt sets: import (JSONL, YAML list, plain text), clean-up
 * (empty and duplicate prompts), and the `prompts` HDF5 file. */
#ifndef PROMPTS_H
#define PROMPTS_H

#include <mpi.h>
#include <stdint.h>

#include "chat/chat.h"
#include "core/pp_error.h"
#include "io/pp_h5.h"

#define PROMPTS_SCHEMA_VERSION 2 /* 2: /messages (conversations); version 1 files still load */
#define PROMPT_MAX_BYTES (1 << 20)   /* one prompt */
#define PROMPT_FILE_MAX_BYTES (1u << 30)

typedef struct {
    int64_t n, cap;
    int64_t *ids;       /* stable ids: position in the source */
    char **text;        /* UTF-8; a conversation's last user turn */
    char **messages;    /* a conversation as JSON [{role, content}...] (chat.h), else NULL */
    char **rendered;    /* prompts_render: a conversation as the model's template writes it, else NULL */
    size_t *bos_len;    /* prompts_render: bytes of rendered[i] that are the template's leading BOS text */
    char **family;      /* builtin suite only, else NULL */
    char **reference;   /* builtin suite only, else NULL */
    char source[16];    /* jsonl | yaml | text | builtin */
    char source_file[PP_PATH_MAX];
    char suite[128];    /* builtin */
    char split[16];     /* builtin */
    int64_t seed;       /* builtin */
} prompt_set;

typedef struct {
    int64_t empty;      /* dropped: empty or whitespace only */
    int64_t duplicate;  /* dropped unless keep_duplicates */
    int64_t first_empty_id, first_duplicate_id;
} prompt_cleanup;

/* Append one prompt (copies the strings). */
PP_MUST_CHECK pp_status prompts_add(prompt_set *s, int64_t id, const char *text, const char *family,
                      const char *reference, pp_err *err);
/* Append a conversation (chat_conv_check_prompt's rules): its text is the
 * last user turn, its messages the whole conversation. */
PP_MUST_CHECK pp_status prompts_add_conversation(prompt_set *s, int64_t id, const chat_conv *c, const char *where,
                                                 pp_err *err);
/* field: key or dotted path into the object ("turns.0"); its value is a
 * string, or a list of messages {role, content} (TRL's conversational
 * format: --field messages or --field prompt) stored as a conversation. */
PP_MUST_CHECK pp_status prompts_read_jsonl(prompt_set *s, const char *path, const char *field, pp_err *err);
/* A YAML sequence of scalars (e.g. block scalars "- |-"). */
PP_MUST_CHECK pp_status prompts_read_yaml(prompt_set *s, const char *path, pp_err *err);
/* One prompt per non-empty line. */
PP_MUST_CHECK pp_status prompts_read_text(prompt_set *s, const char *path, pp_err *err);
/* The built-in task suite: n prompts of `split` ("train|test|ood") over
 * `families` ("all" or a comma list), deterministic for seed. */
PP_MUST_CHECK pp_status prompts_from_suite(prompt_set *s, const char *families, const char *split, int64_t n, uint64_t seed,
                             pp_err *err);
/* Drop empty prompts (a conversation: its last user turn is empty) and
 * (unless keep_duplicates) repeats: the same text, or the same conversation. */
void prompts_cleanup(prompt_set *s, int keep_duplicates, prompt_cleanup *report);
/* Keep only the prompts at positions [first, first + count) (ids unchanged):
 * a disjoint slice per round of an iterative run.  Too few prompts is an
 * input error naming what (the source's name). */
PP_MUST_CHECK pp_status prompts_keep_range(prompt_set *s, int64_t first, int64_t count, const char *what, pp_err *err);
/* Write the file: collective over comm; rank 0's set is written. */
PP_MUST_CHECK pp_status prompts_write(const prompt_set *s, const char *path, MPI_Comm comm, const pp_provenance *prov,
                        pp_err *err);
/* Read a prompts file (any rank, independently). */
PP_MUST_CHECK pp_status prompts_load(prompt_set *s, const char *path, pp_err *err);
/* Render every conversation with a chat template: `family` names it
 * (--chat-template, or the model's chat_family; "" or NULL: none) and
 * template_text is the model's own template (NULL: none; it gives chatml's
 * default system turn).  A set with conversations and no family is
 * refused naming both files.  Plain prompts stay as they are. */
PP_MUST_CHECK pp_status prompts_render(prompt_set *s, const char *family, const char *template_text, const char *prompts_path,
                                       const char *model_path, pp_err *err);
/* The text prompt i is tokenized from: its rendering without the leading
 * BOS text (the tokenizer adds BOS as its id, so it is never doubled;
 * docs/chat.md), or its plain text. */
const char *prompts_model_text(const prompt_set *s, int64_t i);
void prompts_free(prompt_set *s);

#endif
