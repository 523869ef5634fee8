/* pp_schema.h - the machine-readable file schemas of hdf5-schemas/,
 * embedded at build time, and a validator that checks a file against them.
 *
 * A schema lists attributes (type, required) and datasets (type, symbolic
 * dims such as ["n_prompts"], required, and simple value rules: min/max,
 * finite, unique, "offsets_of" for ragged arrays).  A symbolic dim takes its
 * value from an attribute of the same name when there is one, else from its
 * first use; every later use must agree. */
#ifndef PP_SCHEMA_H
#define PP_SCHEMA_H

#include "core/pp_error.h"
#include "io/pp_h5.h"

/* Newest version of a schema this build knows, 0 when unknown. */
int pp_schema_version(const char *name);
/* The JSON text of a schema, NULL when unknown. */
const char *pp_schema_text(const char *name);
/* Names of all embedded schemas (NULL-terminated static array). */
const char *const *pp_schema_names(void);
/* Validate a file against the schema its "schema" attribute names: first
 * violation in err (PP_EINPUT). */
PP_MUST_CHECK pp_status pp_validate_file(const char *path, pp_err *err);

/* Writing: a `description` attribute (the schema's "doc") on every dataset
 * of f that schema `kind` documents ("{i}" names: each index present).
 * Collective while f is parallel, like every attribute write. */
PP_MUST_CHECK pp_status pp_schema_describe(pp_h5 *f, const char *kind, pp_err *err);

#endif
