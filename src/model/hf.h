/* hf.h - Hugging Face Llama-family checkpoints in and out.
 *
 * A checkpoint directory holds config.json, model.safetensors (or shards
 * with model.safetensors.index.json) and the tokenizer files.  Import reads
 * LlamaForCausalLM and MistralForCausalLM (GQA, tied or untied head,
 * rope_theta, rms_norm_eps, head_dim, rope_scaling type llama3) and refuses
 * every other architecture or option by name.  F32, F16 and BF16 weights
 * become fp32; the file is mapped, so the import holds the fp32 model plus
 * one tensor of scratch.
 *
 * Hugging Face rotates the two halves of each head (rotate_half); this
 * engine rotates consecutive pairs (llama2.c).  The q and k projection rows
 * are permuted on import and back on export (hf_permute_rows), so the
 * engine has one RoPE layout. */
#ifndef HF_H
#define HF_H

#include "core/pp_error.h"
#include "core/pp_log.h"
#include "model/model.h"
#include "model/safetensors.h"

typedef struct {
    const char *dir;
    /* llama2.c tokenizer.bin to attach; NULL: the directory's tokenizer.json */
    const char *llama2c_tokenizer;
    int max_seq_len;      /* > 0: cap max_position_embeddings to this context */
    int weights_only;     /* 1: no tokenizer (tests that compare weights and logits) */
    const pp_log *log;    /* progress lines; may be NULL */
} hf_import_opts;

typedef struct {
    char architecture[64];
    int n_files;          /* safetensors files read */
    int n_tensors;
    char dtypes[32];      /* e.g. "BF16" or "F32+BF16" */
} hf_import_info;

/* Read DIR/config.json into c (checked by model_config_check). */
PP_MUST_CHECK pp_status hf_read_config(const char *dir, int max_seq_len, model_config *c, char arch[64], pp_err *err);
/* Import a checkpoint directory into m (allocated here). */
PP_MUST_CHECK pp_status hf_import(model *m, const hf_import_opts *o, hf_import_info *info, pp_err *err);
/* Write DIR/config.json, DIR/model.safetensors (ST_F32 or ST_BF16) and
 * DIR/generation_config.json; DIR is created when missing. */
PP_MUST_CHECK pp_status hf_export(const model *m, const char *dir, st_dtype dtype, const pp_log *log, pp_err *err);

/* Reorder the rows of a [n_heads * hd][cols] projection: to_hf = 0 takes
 * Hugging Face's half-split rows (i, i + hd/2) to pairs (2i, 2i + 1);
 * to_hf = 1 is the inverse.  dst and src must not overlap. */
void hf_permute_rows(float *dst, const float *src, int n_heads, int hd, int cols, int to_hf);

#endif
