/* pp-convert - llama2.c checkpoints and Hugging Face checkpoint directories
 * <-> prefpipe model files. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/hf.h"
#include "model/llama2c.h"
#include "model/model_io.h"
#include "stage/pp_stage.h"

typedef struct {
    const char *from, *from_hf, *tok_path_in, *out, *to, *to_hf, *model_path, *dtype, *max_memory;
    int version, max_seq_len, seq_len;
} convert_args;

/* The estimate per rank, from the headers alone, before any weight is
 * read: the fp32 model every direction holds, plus, from Hugging Face, one
 * mapped tensor of the checkpoint at a time (its pages dropped after) and
 * the row-permutation scratch of q/k both ways.  A llama2.c checkpoint is
 * fp32: its size is the model's. */
static pp_status convert_memory_check(pp_stage *s, const convert_args *a) {
    model_config c = {0};
    char arch[64];
    double weights = 0, tensor = 0, scratch = 0;
    pp_status st = PP_OK;
    if (a->from) weights = pp_file_bytes(a->from); /* llama2c_load names a bad file */
    else if (a->from_hf) st = hf_read_config(a->from_hf, a->max_seq_len, &c, arch, &s->err);
    else st = model_read_config(a->model_path, &c, &s->err);
    if (st == PP_OK && !a->from) {
        weights = 4.0 * (double)model_param_count(&c);
        scratch = a->to ? 0.0 : 4.0 * model_q_dim(&c) * (double)c.dim;
        if (a->from_hf) tensor = 4.0 * (double)c.dim * (c.vocab_size > c.hidden_dim ? c.vocab_size : c.hidden_dim);
    }
    st = pp_agree(s->comm, st, &s->err);
    if (st != PP_OK) return st;
    pp_memory_part parts[] = {{"model (fp32)", weights}, {"mapped checkpoint tensor", tensor},
                              {"q/k permutation scratch", scratch}, {"runtime", PP_MEMORY_RUNTIME_BYTES}};
    return pp_memory_check(&s->mem, a->max_memory, parts, 4, s->comm, &s->log, &s->err);
}

static pp_status import_llama2c(pp_stage *s, pp_cli *cli, const convert_args *a, model *m) {
    pp_input in[2] = {{"llama2c", a->from}, {"tokenizer", a->tok_path_in}};
    llama2c_extras x = {0};
    pp_status st = pp_check_output(a->out, in, 2, &s->err);
    if (st == PP_OK) st = llama2c_load(m, a->from, a->tok_path_in, &x, &s->err);
    st = pp_agree(s->comm, st, &s->err);
    if (st == PP_OK) {
        pp_provenance prov = {"pp-convert", pp_cli_effective(cli), in, 2};
        model_extra e = {.kind = "import", .blob_name = x.rope_tables ? "/llama2c/rope_tables" : NULL,
                         .blob = x.rope_tables, .blob_count = (int64_t)x.rope_table_count};
        st = model_save(a->out, m, s->comm, &prov, &e, &s->err);
    }
    if (st == PP_OK)
        pp_info(&s->log, "wrote %s: llama2.c v%d, dim %d, %d layers, vocab %d, %zu parameters", a->out, x.version,
                m->cfg.dim, m->cfg.n_layers, m->cfg.vocab_size, m->n_params);
    llama2c_extras_free(&x);
    return st;
}

static pp_status export_llama2c(pp_stage *s, const convert_args *a, model *m) {
    pp_input in[1] = {{"model", a->model_path}};
    float *rope = NULL;
    int64_t nrope = 0;
    pp_status st = pp_check_output(a->to, in, 1, &s->err);
    if (st == PP_OK) st = model_load(a->model_path, m, &s->err);
    if (st == PP_OK) st = model_read_blob(a->model_path, "/llama2c/rope_tables", &rope, &nrope, &s->err);
    if (st == PP_OK && s->rank == 0) {
        st = llama2c_save(m, a->to, a->version, a->version == 0 ? rope : NULL, &s->err);
        if (st == PP_OK && m->tok.kind == TOK_LLAMA2C) {
            char tok_path[PP_PATH_MAX];
            snprintf(tok_path, sizeof tok_path, "%s.tok", a->to);
            st = tok_save_llama2c(&m->tok, tok_path, &s->err);
        }
    }
    if (st == PP_OK) pp_info(&s->log, "wrote %s (llama2.c v%d)", a->to, a->version);
    free(rope);
    return st;
}

/* Provenance names the files of the checkpoint (a directory has no bytes
 * to fingerprint): config.json, and the weights file or the shard index. */
static int hf_inputs(const convert_args *a, char paths[2][PP_PATH_MAX], pp_input in[3]) {
    snprintf(paths[0], PP_PATH_MAX, "%s/config.json", a->from_hf);
    snprintf(paths[1], PP_PATH_MAX, "%s/model.safetensors", a->from_hf);
    if (access(paths[1], F_OK) != 0) snprintf(paths[1], PP_PATH_MAX, "%s/model.safetensors.index.json", a->from_hf);
    in[0] = (pp_input){"hf_config", paths[0]};
    in[1] = (pp_input){"hf_weights", paths[1]};
    in[2] = (pp_input){"tokenizer", a->tok_path_in};
    return a->tok_path_in ? 3 : 2;
}

static pp_status import_hf(pp_stage *s, pp_cli *cli, const convert_args *a, model *m) {
    char paths[2][PP_PATH_MAX];
    pp_input in[3];
    int n_in = hf_inputs(a, paths, in);
    hf_import_opts o = {.dir = a->from_hf, .llama2c_tokenizer = a->tok_path_in, .max_seq_len = a->max_seq_len,
                        .log = &s->log};
    hf_import_info info;
    pp_status st = pp_check_output(a->out, in, n_in, &s->err);
    if (st == PP_OK) st = hf_import(m, &o, &info, &s->err);
    st = pp_agree(s->comm, st, &s->err);
    if (st == PP_OK) {
        pp_provenance prov = {"pp-convert", pp_cli_effective(cli), in, n_in};
        model_extra e = {.kind = "import"};
        st = model_save(a->out, m, s->comm, &prov, &e, &s->err);
    }
    if (st == PP_OK)
        pp_info(&s->log, "wrote %s: %s from %d file(s) (%s), dim %d, %d layers, %d/%d heads of %d, vocab %d, context %d, %zu parameters",
                a->out, info.architecture, info.n_files, info.dtypes, m->cfg.dim, m->cfg.n_layers, m->cfg.n_heads,
                m->cfg.n_kv_heads, model_head_dim(&m->cfg), m->cfg.vocab_size, m->cfg.seq_len, m->n_params);
    return st;
}

static pp_status export_hf(pp_stage *s, const convert_args *a, model *m) {
    st_dtype dtype = strcmp(a->dtype, "bf16") ? ST_F32 : ST_BF16;
    pp_status st = model_load(a->model_path, m, &s->err);
    if (st == PP_OK && s->rank == 0) st = hf_export(m, a->to_hf, dtype, &s->log, &s->err);
    st = pp_agree(s->comm, st, &s->err);
    if (st == PP_OK) pp_info(&s->log, "wrote %s: config.json, model.safetensors (%s), generation_config.json", a->to_hf, a->dtype);
    return st;
}

/* A copy with a longer context.  RoPE rotates by position and has no
 * learned table, so only seq_len changes: the weights compute the same
 * logits on every prefix that fit before, and fine-tuning adapts the
 * model to the new positions.  A v0 llama2.c RoPE table (sized by the old
 * context) is not copied: export computes it again. */
static pp_status copy_longer_context(pp_stage *s, pp_cli *cli, const convert_args *a, model *m) {
    pp_input in[1] = {{"model", a->model_path}};
    pp_status st = pp_check_output(a->out, in, 1, &s->err);
    if (st == PP_OK) st = model_load(a->model_path, m, &s->err);
    int old = m->cfg.seq_len;
    if (st == PP_OK) st = model_extend_context(m, a->seq_len, "--seq-len", a->model_path, &s->err);
    if (st == PP_OK) {
        pp_provenance prov = {"pp-convert", pp_cli_effective(cli), in, 1};
        model_extra e = {.kind = "extend-context"};
        st = model_save(a->out, m, s->comm, &prov, &e, &s->err);
    }
    if (st == PP_OK) pp_info(&s->log, "wrote %s: %s with a context of %d tokens (was %d)", a->out, a->model_path, a->seq_len, old);
    return st;
}

int main(int argc, char **argv) {
    convert_args a = {.dtype = "f32"};
    pp_option opts[] = {
        {"from-llama2c", OPT_STRING, &a.from, "X.bin", "import a llama2.c checkpoint (v0 or v1 header)", NULL, 0, 0, 0},
        {"from-hf", OPT_STRING, &a.from_hf, "DIR", "import a Hugging Face checkpoint directory (LlamaForCausalLM, MistralForCausalLM)", NULL, 0, 0, 0},
        {"tokenizer", OPT_STRING, &a.tok_path_in, "T.bin", "a llama2.c tokenizer.bin (needed by --from-llama2c; with --from-hf instead of DIR/tokenizer.json)", NULL, 0, 0, 0},
        {"max-seq-len", OPT_INT, &a.max_seq_len, "N", "with --from-hf: keep at most N positions of max_position_embeddings", NULL, 0, 0, 1 << 30},
        {"out", OPT_STRING, &a.out, "M.h5", "with --from-llama2c, --from-hf or --seq-len: model file to write", NULL, 0, 0, 0},
        {"to-llama2c", OPT_STRING, &a.to, "X.bin", "export a model file to a llama2.c checkpoint", NULL, 0, 0, 0},
        {"to-hf", OPT_STRING, &a.to_hf, "DIR", "export a model file to a Hugging Face checkpoint directory", NULL, 0, 0, 0},
        {"model", OPT_STRING, &a.model_path, "M.h5", "with --to-llama2c, --to-hf or --seq-len: the model file to read", NULL, 0, 0, 0},
        {"seq-len", OPT_INT, &a.seq_len, "N", "copy --model to --out with a context of N tokens (at least the model's; RoPE has no learned positions, fine-tune to use them)", NULL, 0, 1, MODEL_MAX_SEQ_LEN},
        {"llama2c-version", OPT_INT, &a.version, "V", "with --to-llama2c: header version 0 (legacy) or 1", NULL, 0, 0, 1},
        {"dtype", OPT_CHOICE, &a.dtype, "T", "with --to-hf: weight type of model.safetensors (bf16 rounds to nearest even)", "f32|bf16", 0, 0, 0},
        {"max-memory", OPT_STRING, &a.max_memory, "SIZE", PP_MAX_MEMORY_HELP, NULL, 0, 0, 0},
    };
    pp_cli cli = {.synopsis = "--from-llama2c X.bin --tokenizer T.bin --out M.h5 | --to-llama2c X.bin --model M.h5 | "
                              "--from-hf DIR [--tokenizer T.bin] [--max-seq-len N] --out M.h5 | --to-hf DIR --model M.h5 [--dtype f32|bf16] | --model M.h5 --seq-len N --out M2.h5",
                  .description = "Imports a llama2.c checkpoint with its tokenizer, or a Hugging Face Llama/Mistral checkpoint "
                                 "directory (config.json, model.safetensors or shards, F32/F16/BF16), into a model file; or "
                                 "exports a model file to llama2.c (its tokenizer next to it as X.bin.tok) or to a Hugging Face "
                                 "directory (config.json, model.safetensors, generation_config.json); or copies a model file with a "
                                 "longer context (--seq-len). Import then export gives back the same bytes (f32). Other architectures, biases, non-silu activations and RoPE "
                                 "scaling other than llama3 are refused by name; see docs/models.md.",
                  .opts = opts, .n_opts = (int)(sizeof opts / sizeof opts[0])};
    pp_stage s;
    int rc = pp_stage_begin(&s, "pp-convert", &cli, argc, argv);
    if (rc >= 0) return rc;
    pp_status st = PP_OK;
    model m = {0};
    int modes = !!a.from + !!a.to + !!a.from_hf + !!a.to_hf + (a.seq_len > 0);
    if (modes != 1) st = pp_fail(&s.err, PP_EINPUT, "give one of --from-llama2c, --to-llama2c, --from-hf, --to-hf, --seq-len (see --help)");
    else if (a.from && (!a.tok_path_in || !a.out)) st = pp_fail(&s.err, PP_EINPUT, "--from-llama2c needs --tokenizer and --out");
    else if (a.from_hf && !a.out) st = pp_fail(&s.err, PP_EINPUT, "--from-hf needs --out");
    else if ((a.to || a.to_hf) && !a.model_path) st = pp_fail(&s.err, PP_EINPUT, "--to-llama2c and --to-hf need --model");
    else if (a.seq_len > 0 && (!a.model_path || !a.out)) st = pp_fail(&s.err, PP_EINPUT, "--seq-len needs --model and --out");
    if (st == PP_OK) st = convert_memory_check(&s, &a);
    if (st == PP_OK && a.from) st = import_llama2c(&s, &cli, &a, &m);
    else if (st == PP_OK && a.to) st = export_llama2c(&s, &a, &m);
    else if (st == PP_OK && a.from_hf) st = import_hf(&s, &cli, &a, &m);
    else if (st == PP_OK && a.seq_len > 0) st = copy_longer_context(&s, &cli, &a, &m);
    else if (st == PP_OK) st = export_hf(&s, &a, &m);
    model_free(&m);
    return pp_stage_end(&s, st);
}
