/* pp-convert - llama2.c checkpoints <-> prefpipe model files. */
#include <stdlib.h>
#include <string.h>

#include "model/llama2c.h"
#include "model/model_io.h"
#include "stage/pp_stage.h"

int main(int argc, char **argv) {
    const char *from = NULL, *tok_path_in = NULL, *out = NULL, *to = NULL, *model_path = NULL;
    int version = 0;
    pp_option opts[] = {
        {"from-llama2c", OPT_STRING, &from, "X.bin", "import a llama2.c checkpoint (v0 or v1 header)", NULL, 0, 0, 0},
        {"tokenizer", OPT_STRING, &tok_path_in, "T.bin", "with --from-llama2c: the llama2.c tokenizer.bin", NULL, 0, 0, 0},
        {"out", OPT_STRING, &out, "M.h5", "with --from-llama2c: model file to write", NULL, 0, 0, 0},
        {"to-llama2c", OPT_STRING, &to, "X.bin", "export a model file to a llama2.c checkpoint", NULL, 0, 0, 0},
        {"model", OPT_STRING, &model_path, "M.h5", "with --to-llama2c: the model file to export", NULL, 0, 0, 0},
        {"llama2c-version", OPT_INT, &version, "V", "with --to-llama2c: header version 0 (legacy) or 1", NULL, 0, 0, 1},
    };
    pp_cli cli = {.synopsis = "--from-llama2c X.bin --tokenizer T.bin --out M.h5 | --to-llama2c X.bin --model M.h5",
                  .description = "Imports a llama2.c checkpoint with its tokenizer into a model file, or exports a model "
                                 "file so llama2.c's run.c can run it (its tokenizer is written next to it as X.bin.tok "
                                 "when it is a llama2.c tokenizer). Import then export gives back the same bytes.",
                  .opts = opts, .n_opts = (int)(sizeof opts / sizeof opts[0])};
    pp_stage s;
    int rc = pp_stage_begin(&s, "pp-convert", &cli, argc, argv);
    if (rc >= 0) return rc;
    pp_status st = PP_OK;
    model m = {0};
    if (!!from == !!to) st = pp_fail(&s.err, PP_EINPUT, "give either --from-llama2c or --to-llama2c (see --help)");
    else if (from && (!tok_path_in || !out)) st = pp_fail(&s.err, PP_EINPUT, "--from-llama2c needs --tokenizer and --out");
    else if (to && !model_path) st = pp_fail(&s.err, PP_EINPUT, "--to-llama2c needs --model");
    if (st == PP_OK && from) {
        pp_input in[2] = {{"llama2c", from}, {"tokenizer", tok_path_in}};
        llama2c_extras x = {0};
        st = pp_check_output(out, in, 2, &s.err);
        if (st == PP_OK) st = llama2c_load(&m, from, tok_path_in, &x, &s.err);
        st = pp_agree(s.comm, st, &s.err);
        if (st == PP_OK) {
            pp_provenance prov = {"pp-convert", pp_cli_effective(&cli), in, 2};
            model_extra e = {.kind = "import", .blob_name = x.rope_tables ? "/llama2c/rope_tables" : NULL,
                             .blob = x.rope_tables, .blob_count = (int64_t)x.rope_table_count};
            st = model_save(out, &m, s.comm, &prov, &e, &s.err);
        }
        if (st == PP_OK)
            pp_info(&s.log, "wrote %s: llama2.c v%d, dim %d, %d layers, vocab %d, %zu parameters", out, x.version,
                    m.cfg.dim, m.cfg.n_layers, m.cfg.vocab_size, m.n_params);
        llama2c_extras_free(&x);
    } else if (st == PP_OK) {
        pp_input in[1] = {{"model", model_path}};
        float *rope = NULL;
        int64_t nrope = 0;
        st = pp_check_output(to, in, 1, &s.err);
        if (st == PP_OK) st = model_load(model_path, &m, &s.err);
        if (st == PP_OK) st = model_read_blob(model_path, "/llama2c/rope_tables", &rope, &nrope, &s.err);
        if (st == PP_OK && s.rank == 0) {
            st = llama2c_save(&m, to, version, version == 0 ? rope : NULL, &s.err);
            if (st == PP_OK && m.tok.kind == TOK_LLAMA2C) {
                char tok_path[PP_PATH_MAX];
                snprintf(tok_path, sizeof tok_path, "%s.tok", to);
                st = tok_save_llama2c(&m.tok, tok_path, &s.err);
            }
        }
        if (st == PP_OK) pp_info(&s.log, "wrote %s (llama2.c v%d)", to, version);
        free(rope);
    }
    model_free(&m);
    return pp_stage_end(&s, st);
}
