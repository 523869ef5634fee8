/* llama2c.h - read and write llama2.c `.bin` checkpoints.
 *
 * Two layouts, both little-endian float32 (llama2.c's export.py):
 *
 *   v0 (legacy): 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 *      vocab_size, seq_len; vocab_size < 0 means an untied classifier), then
 *      token embedding, attention norms, wq, wk, wv, wo, ffn norms, w1, w2,
 *      w3, final norm (each kind stacked over layers), then the RoPE tables
 *      freq_cis_real and freq_cis_imag [seq_len][head_dim/2] that run.c
 *      skips, then the classifier when untied.
 *   v1: a 256-byte header: uint32 magic 0x616b3432 ("ak42"), int32 version
 *      1, the same 7 int32 (vocab_size positive), uint8 shared_classifier,
 *      zero padding; then all norms first (attention norms, ffn norms, final
 *      norm), token embedding, wq, wk, wv, wo, w1, w2, w3, classifier when
 *      not shared.  No RoPE tables.
 *
 * The v0 order is exactly the order of model.h's flat buffer.  llama2.c
 * models use RMSNorm eps 1e-5 and RoPE theta 10000 (run.c hard-codes both).
 *
 * RoPE tables (v0): the stored tables come from PyTorch's cos/sin, which are
 * not correctly rounded, so they cannot be recomputed bit for bit in C (for
 * stories260K 199 of 4096 entries differ by 1 ulp from the correctly
 * rounded values).  The loader therefore hands the file's tables back in
 * llama2c_extras, and the writer uses tables passed to it, so import ->
 * export is identical byte for byte.  Without them (a model we trained) the
 * writer computes them as export.py does (float32 frequencies and angles)
 * with correctly rounded cos/sin; run.c never reads them. */
#ifndef LLAMA2C_H
#define LLAMA2C_H

#include <stddef.h>

#include "model/model.h"
#include "core/pp_error.h"

#define LLAMA2C_MAGIC 0x616b3432u

typedef struct {
    int version;          /* layout that was read: 0 or 1 */
    float *rope_tables;   /* v0: cos table then sin table, 2*seq_len*(head_dim/2)
                             floats as stored; NULL for v1 */
    size_t rope_table_count;
} llama2c_extras;

/* Load a v0 or v1 checkpoint into m (allocated here; model_free releases
 * it).  The file size is checked against the header before anything is
 * allocated; bad headers, wrong sizes and NaN/Inf weights are PP_EINPUT
 * with one message naming the file.  tokenizer_path (llama2.c
 * tokenizer.bin) is loaded into m->tok; NULL leaves m->tok empty.
 * extras may be NULL; otherwise it receives the version and the v0 RoPE
 * tables (free with llama2c_extras_free).  Sets m->fingerprint. */
PP_MUST_CHECK pp_status llama2c_load(model *m, const char *bin_path, const char *tokenizer_path,
                       llama2c_extras *extras, pp_err *err);
void llama2c_extras_free(llama2c_extras *x);

/* Write m as a llama2.c checkpoint, version 0 or 1.  rope_tables (v0 only,
 * may be NULL) are written as given, 2*seq_len*(head_dim/2) floats;
 * NULL computes them (llama2c_rope_tables).  Refuses models whose norm_eps
 * or rope_theta run.c would not reproduce.  Writes PATH.tmp, then renames. */
PP_MUST_CHECK pp_status llama2c_save(const model *m, const char *path, int version, const float *rope_tables,
                       pp_err *err);

/* The v0 RoPE tables for c as export.py computes them (see above):
 * out receives 2 * seq_len * (head_dim/2) floats. */
void llama2c_rope_tables(const model_config *c, float *out);

#endif
