/* judge_rm.c - the reward model of a pp-rm file as a pointwise judge
 * ("rm", judge.h): a candidate's score is the model's reward for (prompt,
 * candidate).  Started with the RM file and its feature model (the one the
 * RM file names, or cfg->rm_model_path); checks that the model is the RM's
 * and that the texts' tokenizer and vocabulary match it. */
#include <stdlib.h>
#include <string.h>

#include "judge/judge.h"
#include "model/model_io.h"
#include "rm/reward_model.h"

typedef struct {
    reward_model rm;
    model m;
    rm_ws ws;
    const int32_t **resp; /* [k] per-call pointers */
    const int32_t **prompt;
    int64_t *resp_len, *prompt_len;
    int64_t k;            /* their length (grown on demand) */
} rm_judge;

static void rm_judge_stop(void *ctx) {
    rm_judge *r = ctx;
    if (!r) return;
    rm_ws_free(&r->ws);
    model_free(&r->m);
    rm_free(&r->rm);
    free(r->resp), free(r->prompt), free(r->resp_len), free(r->prompt_len);
    free(r);
}

static pp_status rm_judge_start(void **ctx, const judge_config *cfg, pp_err *err) {
    rm_judge *r = calloc(1, sizeof *r);
    if (!r) return pp_fail(err, PP_ESYS, "out of memory");
    pp_status st = rm_load(&r->rm, cfg->rm_path, err);
    const char *mp = cfg->rm_model_path && *cfg->rm_model_path ? cfg->rm_model_path : r->rm.model_path;
    if (st == PP_OK) {
        st = model_load(mp, &r->m, err);
        if (st != PP_OK) pp_wrap(err, "the reward model's feature model");
    }
    if (st == PP_OK) st = rm_check_model(&r->rm, &r->m, err);
    if (st == PP_OK && cfg->tokenizer &&
        (cfg->vocab_size != r->m.cfg.vocab_size || strcmp(cfg->tokenizer, r->rm.tokenizer) != 0))
        st = pp_fail(err, PP_EINPUT,
                     "the candidates use tokenizer %s with vocabulary %lld, but the reward model's feature model %s "
                     "has %s with %d",
                     cfg->tokenizer, (long long)cfg->vocab_size, mp, r->rm.tokenizer, r->m.cfg.vocab_size);
    if (st == PP_OK) st = rm_ws_alloc(&r->ws, &r->m, 0, err);
    if (st != PP_OK) {
        rm_judge_stop(r);
        return st;
    }
    *ctx = r;
    return PP_OK;
}

/* Room for k candidates' pointers. */
static pp_status reserve(rm_judge *r, int64_t k, pp_err *err) {
    if (k <= r->k) return PP_OK;
    free(r->resp), free(r->prompt), free(r->resp_len), free(r->prompt_len);
    r->resp = calloc((size_t)k, sizeof *r->resp);
    r->prompt = calloc((size_t)k, sizeof *r->prompt);
    r->resp_len = calloc((size_t)k, sizeof *r->resp_len);
    r->prompt_len = calloc((size_t)k, sizeof *r->prompt_len);
    r->k = r->resp && r->prompt && r->resp_len && r->prompt_len ? k : 0;
    return r->k ? PP_OK : pp_fail(err, PP_ESYS, "out of memory");
}

/* One prompt's k candidates in one call: the same forward passes on any
 * rank (reward_model.h), so the scores do not depend on the rank count. */
static pp_status rm_judge_score(void *ctx, const candidate_set *c, int64_t p, double *scores, pp_err *err) {
    rm_judge *r = ctx;
    PP_TRY(reserve(r, c->k, err));
    int64_t np;
    const int32_t *pt = candidates_prompt_tokens(c, p, &np);
    for (int64_t j = 0; j < c->k; j++) {
        r->prompt[j] = pt;
        r->prompt_len[j] = np;
        r->resp[j] = candidates_tokens(c, p * c->k + j, &r->resp_len[j]);
    }
    return rm_score_batch(&r->rm, &r->m, &r->ws, (int)c->k, r->prompt, r->prompt_len, r->resp, r->resp_len, scores,
                          err);
}

const judge_ops judge_rm_ops = {"rm", 0, rm_judge_start, NULL, rm_judge_score, NULL, NULL, NULL, rm_judge_stop, NULL};
