/* pp_file.h - paths and files, below any file format: the path limit, the
 * checks on an output path, and the hash of a file's bytes. */
#ifndef PP_FILE_H
#define PP_FILE_H

#include <stddef.h>

#include <jansson.h>

#include "core/pp_error.h"

#define PP_PATH_MAX 4096

/* One input of a stage: recorded in provenance, and never to be
 * overwritten by its output. */
typedef struct {
    const char *role;      /* "model", "prompts", ... */
    const char *path;
} pp_input;

/* Refuse an output path that names an input (same file), and check that its
 * directory exists and is writable. */
PP_MUST_CHECK pp_status pp_check_output(const char *out, const pp_input *inputs, int n_inputs, pp_err *err);
/* A 64-bit hash of a file's bytes as 16 hex digits (fingerprints of files
 * that carry none of their own). */
/* Size of a file in bytes; 0 when it cannot be stat'ed (the reader that
 * opens it then names the problem).  For memory estimates. */
double pp_file_bytes(const char *path);
PP_MUST_CHECK pp_status pp_file_hash(const char *path, char out[17], pp_err *err);

/* The one whole-file reader: path into a NUL-terminated copy (*len bytes;
 * the data may contain NULs, *len tells).  what names the file in messages
 * ("config file", "prompt file", ...); a directory, a missing file or one
 * over max_bytes is an input error naming the file. */
PP_MUST_CHECK pp_status pp_read_file(const char *path, size_t max_bytes, const char *what, char **data, size_t *len, pp_err *err);

/* The one JSON file reader: pp_read_file, then jansson (flags: json_loadb's,
 * e.g. JSON_REJECT_DUPLICATES); a file that is not JSON is an input error
 * naming the file, the line and jansson's reason (shown printable). */
PP_MUST_CHECK pp_status pp_read_json(const char *path, size_t max_bytes, const char *what, size_t flags, json_t **out,
                                     pp_err *err);

#endif
