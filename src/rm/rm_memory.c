/* rm_memory.c - memory estimates of the reward model's users (rm_memory.h). */
#include "rm/rm_memory.h"

#include "core/pp_file.h"
#include "core/pp_mpi.h"
#include "io/pairs.h"
#include "model/model_io.h"
#include "model/score.h"

double rm_ws_estimate_bytes(const model_config *c, int max_tokens, int node_ranks) {
    const int S = c->seq_len;
    if (max_tokens <= 0) max_tokens = RM_DEFAULT_BATCH_TOKENS > S ? RM_DEFAULT_BATCH_TOKENS : S;
    /* lens, tokens, resp_start (int), hidden (float) and phi (double) rows */
    double per_token = 3.0 * sizeof(int) + (double)c->dim * (sizeof(float) + sizeof(double));
    return scorer_estimate_bytes(c, 0, 0, 0, node_ranks) + (double)max_tokens * per_token;
}

/* The number of pairs a pairs file says it holds (0 when it cannot be
 * read: rm_fit then names the problem). */
static int64_t pairs_count(const char *path) {
    pp_h5 f;
    pp_err quiet = {0};
    int64_t n = 0;
    if (pp_h5_open(&f, path, "pairs", PAIRS_SCHEMA_VERSION, &quiet) != PP_OK) return 0;
    if (pp_h5_get_attr_i64(&f, "/", "n_pairs", &n, &quiet) != PP_OK) n = 0;
    pp_h5_close(&f);
    return n;
}

pp_status rm_fit_memory_check(const rm_fit_config *c, const char *max_memory, pp_memory *mem, pp_err *err) {
    model_config mc;
    pp_status st = pp_agree(c->comm, model_read_config(c->model_path, &mc, err), err);
    if (st != PP_OK) return st;
    int nranks, on_node = pp_ranks_on_node(c->comm);
    MPI_Comm_size(c->comm, &nranks);
    double d = mc.dim, pairs = 0, largest_file = pp_file_bytes(c->pairs_path);
    int64_t n = pairs_count(c->pairs_path);
    pairs = (double)n;
    for (int h = 0; h < c->n_heldout; h++) { /* one file at a time after the training pairs */
        double b = pp_file_bytes(c->heldout_paths[h]);
        if (b > largest_file) largest_file = b;
    }
    /* whole groups of RM_GROUP_PAIRS per rank, so a rank may get one more group */
    double local = (double)RM_GROUP_PAIRS * (double)((n / RM_GROUP_PAIRS + nranks) / nranks);
    if (local > pairs) local = pairs;
    pp_memory_part parts[] = {
        {on_node > 1 ? "feature model (1/ranks: node-shared)" : "feature model",
         4.0 * (double)model_param_count(&mc) / on_node},
        {"feature workspace", rm_ws_estimate_bytes(&mc, c->batch_tokens, on_node)},
        {"pairs file", 2.0 * largest_file},
        {"feature differences (and the fit's copy)", 2.0 * local * d * sizeof(double)},
        {"Newton system (d x d)", 2.0 * d * d * sizeof(double)},
        {"runtime", PP_MEMORY_RUNTIME_BYTES},
    };
    return pp_memory_check(mem, max_memory, parts, (int)(sizeof parts / sizeof parts[0]), c->comm, c->log, err);
}

pp_status rm_judge_estimate_bytes(const char *rm_path, const char *model_path, double *bytes, pp_err *err) {
    reward_model rm;
    *bytes = 0;
    PP_TRY(rm_load(&rm, rm_path, err));
    model_config mc;
    pp_status st = model_read_config(model_path && *model_path ? model_path : rm.model_path, &mc, err);
    if (st != PP_OK) pp_wrap(err, "the reward model's feature model");
    if (st == PP_OK) *bytes = 4.0 * (double)model_param_count(&mc) + rm_ws_estimate_bytes(&mc, 0, 1) + 8.0 * rm.d;
    rm_free(&rm);
    return st;
}
