/* judge.c - the judges by name and the calls through their tables
 * (judge.h). */
#include "judge/judge.h"

#include <string.h>

#include "judge/judge_model.h"
#include "rm/rm_memory.h"

extern const judge_ops judge_oracle_ops, judge_cmd_ops, judge_rm_ops, judge_model_ops;

/* A new judge: its file, and its table here. */
static const judge_ops *const all_judges[] = {&judge_oracle_ops, &judge_cmd_ops, &judge_rm_ops,
                                               &judge_model_ops};

const judge_ops *judge_find(const char *name) {
    for (size_t i = 0; name && i < sizeof all_judges / sizeof all_judges[0]; i++)
        if (!strcmp(all_judges[i]->name, name)) return all_judges[i];
    return NULL;
}

pp_status judge_start(judge_handle *j, const char *name, const judge_config *cfg, pp_err *err) {
    memset(j, 0, sizeof *j);
    const judge_ops *ops = judge_find(name);
    if (!ops) return pp_fail(err, PP_EINPUT, "unknown judge '%s'", name ? name : "");
    PP_TRY(ops->start(&j->ctx, cfg, err));
    j->ops = ops;
    return PP_OK;
}

pp_status judge_estimate_bytes(const char *name, const judge_config *cfg, double *bytes, pp_err *err) {
    *bytes = 0;
    if (name && !strcmp(name, "model")) return judge_model_estimate_bytes(cfg->cli, bytes, err);
    if (name && !strcmp(name, "rm") && cfg->rm_path) return rm_judge_estimate_bytes(cfg->rm_path, cfg->rm_model_path, bytes, err);
    return PP_OK;
}

pp_status judge_matches(judge_handle *j, const judge_match *m, int n, judge_verdict *out, pp_err *err) {
    if (!j->ops->match)
        return pp_fail(err, PP_EINPUT, "--judge %s scores candidates one by one: use it with --method score",
                       j->ops->name);
    return j->ops->match(j->ctx, m, n, out, err);
}

pp_status judge_score(judge_handle *j, const candidate_set *c, int64_t p, double *scores, pp_err *err) {
    if (!j->ops->score)
        return pp_fail(err, PP_EINPUT, "--judge %s compares two answers: it cannot score one", j->ops->name);
    return j->ops->score(j->ctx, c, p, scores, err);
}

void judge_get_counters(const judge_handle *j, judge_counters *out) {
    memset(out, 0, sizeof *out);
    if (j->ops && j->ops->counters) j->ops->counters(j->ctx, out);
}

int judge_batch(const judge_handle *j) {
    int b = j->ops && j->ops->batch ? j->ops->batch(j->ctx) : 1;
    return b > 1 ? b : 1;
}

const char *judge_last_problem(const judge_handle *j) {
    const char *s = j->ops && j->ops->last_problem ? j->ops->last_problem(j->ctx) : NULL;
    return s ? s : "";
}

void judge_describe(const judge_handle *j, pairs_set *s) {
    if (j->ops && j->ops->describe) j->ops->describe(j->ctx, s);
}

void judge_stop(judge_handle *j) {
    if (j->ops) j->ops->stop(j->ctx);
    memset(j, 0, sizeof *j);
}

/* The names stored in files (pairs_verdict_enum) are the one table. */
const char *judge_verdict_name(judge_verdict v) {
    return v >= 0 && (int)v < pairs_verdict_enum.n ? pairs_verdict_enum.names[v] : "failed";
}
