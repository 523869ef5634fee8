/* model_io.h - model files (schema `model`): configuration as attributes,
 * one dataset per tensor with Hugging Face Llama names under /tensors, the
 * tokenizer under /tokenizer, and optional training state under /train
 * (AdamW moments as two flat datasets, step counters, resume attributes)
 * and metrics under /metrics.  The chat template, when the model has one,
 * is two root attributes: chat_family and chat_template (model.h). */
#ifndef MODEL_IO_H
#define MODEL_IO_H

#include <mpi.h>
#include <stdint.h>

#include "model/model.h"
#include "io/pp_h5.h"

/* 2: head_dim and rope_scaling attributes; the vocabulary as text, the
 * tokenizer.json of hf-bpe tokenizers, eos_ids (version 1 files still load) */
#define MODEL_SCHEMA_VERSION 2
#define MODEL_MAX_METRICS 24
#define MODEL_CHAT_TEMPLATE_MAX (1 << 18) /* bytes of a stored chat template */

/* Everything besides the weights that a checkpoint may carry. */
typedef struct {
    /* optimizer: NULL when absent.  adam_count 0: rank 0 holds all
     * n_params moments; else every rank holds the slice [adam_first,
     * adam_first + adam_count) and the slices are written collectively
     * (parallel HDF5) into the same two flat datasets, so a file does not
     * say how many ranks wrote it */
    const float *adam_m, *adam_v;
    int64_t adam_first, adam_count;
    int64_t step;
    /* resume attributes on /train, e.g. "data_cursor", "rng_counter" */
    int n_attrs;
    const char *attr_names[16];
    double attr_values[16];
    /* metrics: n_metrics series of n_rows values each, written as
     * /metrics/<name> (names like "rewards/chosen" make groups) */
    int n_metrics;
    int64_t n_rows;
    const char *metric_names[MODEL_MAX_METRICS];
    const double *metric_values[MODEL_MAX_METRICS];
    /* identifies a training run; a checkpoint of another run is refused */
    const char *run_key;
    /* one optional extra float array, e.g. "/llama2c/rope_tables" */
    const char *blob_name;
    const float *blob;
    int64_t blob_count;
    /* free-form description attribute ("sft", "dpo", "import") */
    const char *kind;
    /* text attributes of the root group, e.g. the judge template a
     * pairwise judge was trained with (pp-rm --kind pairwise) */
    int n_text_attrs;
    const char *text_attr_names[4], *text_attr_values[4];
} model_extra;

/* Write the model (collective; rank 0's copy is written). */
PP_MUST_CHECK pp_status model_save(const char *path, const model *m, MPI_Comm comm, const pp_provenance *prov,
                     const model_extra *extra, pp_err *err);
/* Only the configuration of a model file (checked): what a stage needs to
 * estimate its memory before it loads anything. */
PP_MUST_CHECK pp_status model_read_config(const char *path, model_config *c, pp_err *err);
/* Read a model file: config checked before allocating, every tensor checked
 * for shape, weights checked for NaN/Inf, tokenizer validated. */
PP_MUST_CHECK pp_status model_load(const char *path, model *m, pp_err *err);
/* Read the optimizer moments of the parameters [first, first + count)
 * (count floats each, caller-owned buffers; 0, n_params for all of them:
 * any slice, so a checkpoint resumes at another rank count), the step and
 * resume attributes; PP_EINPUT when the file has none. */
PP_MUST_CHECK pp_status model_load_train_state(const char *path, const model *m, float *adam_m, float *adam_v,
                                  size_t first, size_t count, int64_t *step, int n_attrs,
                                  const char *const *attr_names, double *attr_values, pp_err *err);
/* Read an optional float dataset; *out = NULL and *count = 0 when absent. */
PP_MUST_CHECK pp_status model_read_blob(const char *path, const char *name, float **out, int64_t *count, pp_err *err);
/* Read a float64 series such as "/metrics/loss"; *out = NULL, *n = 0 when absent. */
PP_MUST_CHECK pp_status model_read_series(const char *path, const char *name, double **out, int64_t *n, pp_err *err);
/* 16-hex-digit fingerprint string of a loaded model. */
void model_fingerprint_hex(const model *m, char out[17]);

#endif
