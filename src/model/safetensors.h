/* safetensors.h - reader and writer of Hugging Face safetensors files.
 *
 * A file is an 8-byte little-endian header length N, N bytes of JSON (an
 * object: tensor name -> {dtype, shape, data_offsets}, plus an optional
 * "__metadata__" object of strings), then the data; data_offsets are
 * [begin, end) bytes from the start of the data.  The reader checks the
 * whole header before any tensor is used (length at most 100 MB, offsets in
 * range and non-overlapping, shape x dtype size = byte length) and maps the
 * data read-only, so a billion-parameter import holds no second copy.  A
 * checkpoint may be one model.safetensors or shards named by
 * model.safetensors.index.json. */
#ifndef SAFETENSORS_H
#define SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/pp_error.h"
#include "core/pp_file.h"

#define SAFETENSORS_MAX_HEADER (100u * 1000u * 1000u)
#define SAFETENSORS_MAX_DIMS 8

typedef enum { ST_F32 = 0, ST_F16 = 1, ST_BF16 = 2 } st_dtype;

typedef struct {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[SAFETENSORS_MAX_DIMS];
    size_t begin, nbytes; /* in the file's data section */
    int file;             /* index into safetensors.files */
} st_tensor;

typedef struct {
    char path[PP_PATH_MAX];
    unsigned char *map;   /* whole file, read-only */
    size_t size;
    size_t data_start;    /* 8 + header length */
} st_file;

typedef struct {
    int n_files;
    st_file *files;
    int n_tensors;
    st_tensor *tensors;
} safetensors;

/* Open DIR/model.safetensors, or the shards DIR/model.safetensors.index.json
 * lists (each tensor must be in the shard the index names). */
PP_MUST_CHECK pp_status st_open_dir(safetensors *s, const char *dir, pp_err *err);
/* Open one file (adds its tensors; a name seen before is an error). */
PP_MUST_CHECK pp_status st_open_file(safetensors *s, const char *path, pp_err *err);
/* The tensor called name, or NULL. */
const st_tensor *st_find(const safetensors *s, const char *name);
/* Convert a tensor to fp32 into out (it has st_count(t) elements), then
 * drop its pages from memory (they are the file's, read again if needed). */
void st_read_f32(const safetensors *s, const st_tensor *t, float *out);
size_t st_count(const st_tensor *t);
const char *st_dtype_name(st_dtype d);
void st_close(safetensors *s);

/* fp32 -> bf16 bits, round to nearest even (NaN stays NaN). */
uint16_t st_f32_to_bf16(float f);
float st_bf16_to_f32(uint16_t b);

/* Writer: the header names every tensor first, then the data follows in
 * the same order, one st_writer_put per tensor. */
typedef struct {
    const char *name;
    int ndim;             /* 1 or 2 */
    int64_t shape[2];
} st_out_tensor;

typedef struct {
    char path[PP_PATH_MAX], tmp[PP_PATH_MAX + 8];
    void *f;              /* FILE * */
    st_dtype dtype;       /* ST_F32 or ST_BF16 */
    int n, next;
    const st_out_tensor *list;
    uint16_t *scratch;    /* bf16 conversion, one chunk */
} st_writer;

/* Start path.tmp with the header for list[0..n) stored as dtype;
 * metadata_format is written as __metadata__ {"format": ...}. */
PP_MUST_CHECK pp_status st_writer_begin(st_writer *w, const char *path, const st_out_tensor *list, int n, st_dtype dtype,
                                        pp_err *err);
/* Append the next tensor's fp32 values (converted to the file's dtype). */
PP_MUST_CHECK pp_status st_writer_put(st_writer *w, const float *data, pp_err *err);
/* After the last tensor: close and rename into place. */
PP_MUST_CHECK pp_status st_writer_end(st_writer *w, pp_err *err);
/* Drop a half-written file. */
void st_writer_abort(st_writer *w);

#endif
