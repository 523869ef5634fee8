/* pp_file.h - paths and files, below any file format: the path limit, the
 * checks on an output path, and the hash of a file's bytes. */
#ifndef PP_FILE_H
#define PP_FILE_H

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
pp_status pp_check_output(const char *out, const pp_input *inputs, int n_inputs, pp_err *err);
/* A 64-bit hash of a file's bytes as 16 hex digits (fingerprints of files
 * that carry none of their own). */
pp_status pp_file_hash(const char *path, char out[17], pp_err *err);

#endif
