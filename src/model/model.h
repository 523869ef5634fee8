/* model.h - the Llama model: configuration, the flat parameter buffer with
 * named pointers, and the tensor table used for checkpoints.
 *
 * Every tensor kind is stacked across layers (as llama2.c stores them), so a
 * llama2.c checkpoint maps onto the buffer in order and all-reduce, checksum
 * and checkpoint I/O are each one call over one buffer.  Gradients and AdamW
 * moments use the same layout (model_point on another buffer).
 *
 * RoPE follows the llama2.c/Meta convention: consecutive pairs (2i, 2i+1) of
 * each head are rotated by angle pos * freq_i, freq_i = theta^(-2i/head_dim)
 * (model_rope_freqs, optionally rescaled as Llama 3.1 does).  Hugging Face
 * checkpoints rotate halves instead; model/hf.c permutes q and k rows on
 * the way in and out. */
#ifndef MODEL_H
#define MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/pp_error.h"
#include "core/pp_mpi.h"
#include "model/tokenizer.h"

typedef struct {
    int dim;           /* d_model */
    int hidden_dim;    /* SwiGLU inner width */
    int n_layers;
    int n_heads;       /* query heads */
    int n_kv_heads;    /* key/value heads (GQA: n_heads % n_kv_heads == 0) */
    int vocab_size;
    int seq_len;       /* maximum context */
    int tied_embeddings; /* 1: lm_head is the token embedding */
    float norm_eps;    /* RMSNorm epsilon (llama2.c: 1e-5) */
    float rope_theta;  /* 10000 */
    int head_dim;      /* width of one head; 0 means dim / n_heads (llama2.c) */
    /* RoPE frequency scaling: MODEL_ROPE_PLAIN, or MODEL_ROPE_LLAMA3 with
     * Hugging Face's rope_scaling fields (type "llama3") */
    int rope_scaling;
    float rope_factor, rope_low_freq_factor, rope_high_freq_factor;
    int rope_original_max_pos;
    /* 1: a scalar reward head reward_head.weight [dim] ends the buffer
     * (pp-rm --kind pointwise: r = head . final hidden state at the last
     * token); 0 for every language model */
    int reward_head;
} model_config;

enum { MODEL_ROPE_PLAIN = 0, MODEL_ROPE_LLAMA3 = 1 };

/* Named pointers into one flat float buffer. */
typedef struct {
    float *embed;      /* [V][d]                 model.embed_tokens.weight */
    float *attn_norm;  /* [L][d]                 layers.l.input_layernorm.weight */
    float *wq;         /* [L][Hq*hd][d]          layers.l.self_attn.q_proj.weight */
    float *wk;         /* [L][Hkv*hd][d]         layers.l.self_attn.k_proj.weight */
    float *wv;         /* [L][Hkv*hd][d]         layers.l.self_attn.v_proj.weight */
    float *wo;         /* [L][d][Hq*hd]          layers.l.self_attn.o_proj.weight */
    float *ffn_norm;   /* [L][d]                 layers.l.post_attention_layernorm.weight */
    float *w_gate;     /* [L][hidden][d]         layers.l.mlp.gate_proj.weight (llama2.c w1) */
    float *w_down;     /* [L][d][hidden]         layers.l.mlp.down_proj.weight (w2) */
    float *w_up;       /* [L][hidden][d]         layers.l.mlp.up_proj.weight   (w3) */
    float *final_norm; /* [d]                    model.norm.weight */
    float *lm_head;    /* [V][d]                 lm_head.weight; == embed when tied */
    float *reward_head; /* [d]                   reward_head.weight; NULL without cfg.reward_head */
} model_tensors;

/* One named tensor of the table (per layer, Hugging Face Llama names). */
typedef struct {
    char name[80];
    int rank;          /* 1 or 2 */
    int64_t dims[2];
    size_t offset;     /* in floats from the start of the flat buffer */
    size_t count;
    int is_matrix;     /* weight decay applies by default to matrices only */
    int is_embedding;
} tensor_info;

typedef struct {
    model_config cfg;
    size_t n_params;
    float *params;     /* flat buffer, n_params floats */
    model_tensors w;   /* named pointers into params */
    tokenizer tok;
    uint64_t fingerprint; /* model_fingerprint, set by loaders */
    /* chat template (docs/chat.md): the text of tokenizer_config.json's
     * chat_template (NULL when none) and the family prefpipe renders it as
     * (chat_family_name; "" when the model has no chat format) */
    char *chat_template;
    char chat_family[16];
    /* set by model_load_shared: params is this node's one read-only copy
       (an MPI-3 shared window), and model_free is collective on the node */
    pp_node_shared params_node;
} model;

/* Longest context accepted (Llama 3.1 has 131072). */
#define MODEL_MAX_SEQ_LEN (1 << 17)
/* Widest head accepted (real models use 64 to 256). */
#define MODEL_MAX_HEAD_DIM 1024

static inline int model_head_dim(const model_config *c) { return c->head_dim > 0 ? c->head_dim : c->dim / c->n_heads; }
/* Width of the concatenated query heads (n_heads * head_dim; may differ from dim). */
static inline int model_q_dim(const model_config *c) { return c->n_heads * model_head_dim(c); }

/* The RoPE rotation frequency of each pair of a head: freq[i] for
 * i < head_dim / 2, angle = (float)pos * freq[i].  The one place the
 * frequencies are made (inference and training both call it). */
void model_rope_freqs(const model_config *c, float *freq);

/* RoPE angles of positions 0..n_pos-1: cos_out and sin_out get
 * [n_pos][head_dim/2] floats, entry (p, i) of angle p * theta^(-2i/hd)
 * formed as run.c forms it (float exponent, powf, float product with the
 * position, cosf/sinf).  The one place the frequencies are computed: the
 * inference and training forward passes both take their tables from here. */
void model_rope_tables(const model_config *c, int n_pos, float *cos_out, float *sin_out);

/* Check a configuration for sanity before anything is allocated. */
PP_MUST_CHECK pp_status model_config_check(const model_config *c, const char *what, pp_err *err);
/* Parse "dim=128,layers=4,heads=4,kv-heads=2,hidden=344,seq-len=64,tied=1"
 * into c (keys not given keep c's values; vocab comes from the tokenizer). */
PP_MUST_CHECK pp_status model_parse_arch(const char *spec, model_config *c, pp_err *err);
/* Number of floats in the flat buffer. */
size_t model_param_count(const model_config *c);
/* Point the named pointers at a buffer laid out for c (params, grads, m, v). */
void model_point(model_tensors *t, float *base, const model_config *c);
/* Number of tensors in the table (2 + 9 * L + 1 untied head + 1 reward head). */
int model_tensor_count(const model_config *c);
/* Fill the table; out must hold model_tensor_count(c) entries. */
void model_tensor_table(const model_config *c, tensor_info *out);

/* Allocate params (zeroed) for cfg; tokenizer left empty. */
PP_MUST_CHECK pp_status model_alloc(model *m, const model_config *cfg, pp_err *err);
/* Deterministic random initialisation (normal(0, 0.02); norms = 1; output
 * projections scaled by 1/sqrt(2L)). */
void model_init_random(model *m, uint64_t seed);
/* 64-bit content hash of the parameters (order-dependent, exact bits). */
uint64_t model_params_hash(const model *m);
/* Identity of a model: the parameters, every config value and the tokenizer
 * (kind, special ids, pieces, scores).  Keys caches and run keys. */
uint64_t model_fingerprint(const model *m);
/* Reject NaN/Inf weights: names the first bad tensor. */
PP_MUST_CHECK pp_status model_check_finite(const model *m, const char *what, pp_err *err);
/* Free what the model holds; collective over the node's ranks when the
 * parameters are node-shared (model_load_shared). */
void model_free(model *m);
/* Give a loaded model a reward head of zeros (cfg.reward_head = 1): the
 * buffer grows by dim floats at its end, every other tensor keeps its
 * place, the fingerprint is made again.  No-op when it has one. */
PP_MUST_CHECK pp_status model_add_reward_head(model *m, pp_err *err);
/* A longer context: seq_len raised to n and the fingerprint renewed (RoPE
 * has no learned positions, so the weights compute the same on every
 * prefix that fitted before; fine-tuning teaches the new positions).  An n
 * below the model's context is refused, naming OPTION and WHAT (the file). */
PP_MUST_CHECK pp_status model_extend_context(model *m, int n, const char *option, const char *what, pp_err *err);

#endif
