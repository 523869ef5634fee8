/* pp_h5.h - the HDF5 layer every stage reads and writes through.
 *
 * Writing (collective over a communicator):
 *   pp_h5_create      opens NAME.tmp with the MPI-IO driver, tags it with
 *                     schema, schema_version and provenance
 *   pp_h5_write_rows  collective hyperslab write of a numeric array, each rank
 *                     giving a block of rows (dimension 0)
 *   pp_h5_serial_begin  closes the parallel handle; rank 0 reopens the file
 *                     alone: variable-length UTF-8 text can only be written
 *                     that way with HDF5 1.10 (see docs/formats.md)
 *   pp_h5_write_text  rank 0, serial phase: a 1-D dataset of UTF-8 strings
 *   pp_h5_commit      adds a `description` attribute to every dataset its
 *                     schema documents (hdf5-schemas/), closes and renames NAME.tmp to NAME (rank 0), so an
 *                     output exists under its final name only when complete
 *   pp_h5_abort       closes and removes NAME.tmp
 * Reading (any rank, independently, read-only): pp_h5_open checks the file
 * kind and version; pp_h5_dims / pp_h5_read* check rank and dimensions before
 * anything is allocated or read. */
#ifndef PP_H5_H
#define PP_H5_H

#include <hdf5.h>
#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pp_error.h"
#include "core/pp_file.h"

#define PP_VERSION "0.1.0"

typedef enum { PP_F32, PP_F64, PP_I32, PP_I64, PP_U8 } pp_dtype;

typedef struct {
    hid_t id;              /* file handle, H5I_INVALID_HID on ranks without one */
    MPI_Comm comm;
    int rank, size;
    int writing;           /* created by pp_h5_create */
    int serial;            /* in the serial phase */
    char path[PP_PATH_MAX]; /* final name */
    char tmp[PP_PATH_MAX];  /* NAME.tmp while writing */
    char schema[32];        /* the kind being written (descriptions come from its schema) */
} pp_h5;

typedef struct {
    const char *program;   /* "pp-generate" */
    const char *arguments; /* effective options (pp_cli_effective) */
    const pp_input *inputs;
    int n_inputs;
} pp_provenance;

/* ---- writing ---- */
PP_MUST_CHECK pp_status pp_h5_create(pp_h5 *f, const char *path, MPI_Comm comm, const char *schema,
                       int schema_version, const pp_provenance *prov, pp_err *err);
/* Global dims; this rank writes rows [row0, row0 + nrows) of dimension 0. */
PP_MUST_CHECK pp_status pp_h5_write_rows(pp_h5 *f, const char *name, pp_dtype t, int ndims, const int64_t *dims,
                           int64_t row0, int64_t nrows, const void *data, pp_err *err);
/* Named values (an HDF5 enum type, so h5dump prints names): value i is
 * names[i].  Each file kind keeps its enums in one table (candidates.h,
 * pairs.h). */
typedef struct {
    const char *type_name;   /* "finish reason", for messages */
    int n;
    const char *const *names;
} pp_enum;
/* As pp_h5_write_rows for int32 values 0..e->n-1 (any other is an error);
 * stored as an enum over int32.  Readers read such datasets with
 * pp_h5_read_rows / pp_h5_read_all as integers, like the int32 columns of
 * older files. */
PP_MUST_CHECK pp_status pp_h5_write_enum_rows(pp_h5 *f, const char *name, const pp_enum *e, int ndims,
                                              const int64_t *dims, int64_t row0, int64_t nrows, const int32_t *data,
                                              pp_err *err);
/* A 1-D enum dataset of n values from rank 0 (collective, like pp_h5_write_root). */
PP_MUST_CHECK pp_status pp_h5_write_enum_root(pp_h5 *f, const char *name, const pp_enum *e, int64_t n,
                                              const int32_t *data, pp_err *err);
/* Whole array from rank 0 (others pass anything, NULL ok): collective. */
PP_MUST_CHECK pp_status pp_h5_write_root(pp_h5 *f, const char *name, pp_dtype t, int ndims, const int64_t *dims,
                           const void *data, pp_err *err);
/* Attributes on an object ("/" or a dataset); every rank passes the same value
 * while parallel; only rank 0 in the serial phase. */
PP_MUST_CHECK pp_status pp_h5_attr_str(pp_h5 *f, const char *obj, const char *name, const char *value, pp_err *err);
PP_MUST_CHECK pp_status pp_h5_attr_i64(pp_h5 *f, const char *obj, const char *name, int64_t value, pp_err *err);
PP_MUST_CHECK pp_status pp_h5_attr_f64(pp_h5 *f, const char *obj, const char *name, double value, pp_err *err);
PP_MUST_CHECK pp_status pp_h5_serial_begin(pp_h5 *f, pp_err *err);
/* Rank 0 in the serial phase: n UTF-8 strings (NULL = ""), lengths given or
 * NUL-terminated when lens == NULL. */
PP_MUST_CHECK pp_status pp_h5_write_text(pp_h5 *f, const char *name, int64_t n, const char *const *strs, pp_err *err);
/* Create a group (collective while parallel). */
PP_MUST_CHECK pp_status pp_h5_group(pp_h5 *f, const char *name, pp_err *err);
PP_MUST_CHECK pp_status pp_h5_commit(pp_h5 *f, pp_err *err);
void pp_h5_abort(pp_h5 *f);

/* ---- reading ---- */
/* Open read-only; schema NULL accepts any kind.  max_version: the newest
 * schema version this program understands. */
PP_MUST_CHECK pp_status pp_h5_open(pp_h5 *f, const char *path, const char *schema, int max_version, pp_err *err);
void pp_h5_close(pp_h5 *f);
int pp_h5_exists(pp_h5 *f, const char *name);
/* Rank and dims of a dataset (dims[0..3]); error naming file and dataset when missing. */
PP_MUST_CHECK pp_status pp_h5_dims(pp_h5 *f, const char *name, int *ndims, int64_t dims[4], pp_err *err);
/* PP_EINPUT unless every element a dataset's shape declares is stored (no
 * unwritten chunks; storage not implausibly small): shapes size allocations. */
PP_MUST_CHECK pp_status pp_h5_check_stored(pp_h5 *f, const char *name, pp_err *err);
/* Check a dataset has ndims dims equal to want[] (-1 = any), numeric class
 * compatible with t, and all its data stored (pp_h5_check_stored). */
PP_MUST_CHECK pp_status pp_h5_expect(pp_h5 *f, const char *name, pp_dtype t, int ndims, const int64_t *want,
                       int64_t dims_out[4], pp_err *err);
/* Read rows [row0, row0+nrows) of dimension 0 (all columns) converting to t. */
PP_MUST_CHECK pp_status pp_h5_read_rows(pp_h5 *f, const char *name, pp_dtype t, int64_t row0, int64_t nrows,
                          void *out, pp_err *err);
/* Read the whole dataset into out (caller checked dims). */
PP_MUST_CHECK pp_status pp_h5_read_all(pp_h5 *f, const char *name, pp_dtype t, void *out, pp_err *err);
/* Read a 1-D string dataset: *strs is one malloc'd array of n pointers into one
 * block (free(*strs) frees all).  Checks the count equals want_n (-1 any). */
PP_MUST_CHECK pp_status pp_h5_read_text(pp_h5 *f, const char *name, int64_t want_n, int64_t *n, char ***strs,
                          pp_err *err);
PP_MUST_CHECK pp_status pp_h5_get_attr_str(pp_h5 *f, const char *obj, const char *name, char *buf, size_t cap, pp_err *err);
PP_MUST_CHECK pp_status pp_h5_get_attr_i64(pp_h5 *f, const char *obj, const char *name, int64_t *v, pp_err *err);
PP_MUST_CHECK pp_status pp_h5_get_attr_f64(pp_h5 *f, const char *obj, const char *name, double *v, pp_err *err);
int pp_h5_has_attr(pp_h5 *f, const char *obj, const char *name);
/* Optional attributes: the value when present and readable, else the
 * fallback, never an error.  Return 1 when the attribute was read. */
int pp_h5_opt_attr_str(pp_h5 *f, const char *obj, const char *name, char *buf, size_t cap, const char *fallback);
int pp_h5_opt_attr_i64(pp_h5 *f, const char *obj, const char *name, int64_t *v, int64_t fallback);
int pp_h5_opt_attr_f64(pp_h5 *f, const char *obj, const char *name, double *v, double fallback);

/* ---- files ---- */
/* Fingerprint of a file: its "fingerprint" attribute when it has one (models:
 * hash of the parameters), else pp_file_hash of its bytes; 16 hex digits. */
PP_MUST_CHECK pp_status pp_file_fingerprint(const char *path, char out[17], pp_err *err);
/* The same, computed once on rank 0 of comm and given to every rank; a
 * failure is agreed over the ranks (no rank goes on with an empty one).
 * Collective. */
PP_MUST_CHECK pp_status pp_file_fingerprint_agreed(const char *path, MPI_Comm comm, char out[17], pp_err *err);
/* Turn HDF5's own error printing off (we report our own line). */
void pp_h5_quiet(void);

#endif
