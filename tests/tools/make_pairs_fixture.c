/* make_pairs_fixture - pairs files and models for testing pp-rm without
 * generating and ranking (tests/integration/rm.sh).
 *
 *   make_pairs_fixture pairs MODEL.h5 OUT.h5 MODE N [SEED]
 *       N pairs from built-in train-split problems (tasks_make, SEED),
 *       tagged with MODEL's fingerprint and tokenizer (byte only).
 *       MODE answers: chosen = the reference answer, rejected = a plausible
 *                     wrong one (tasks_wrong_answer);
 *       MODE same:    chosen = rejected = the reference, so every feature
 *                     difference is 0 (a singular system without --l2).
 *       Prompt tokens = BOS + bytes, answers = bytes + EOS, as pp-generate.
 *   make_pairs_fixture scale-model MODEL.h5 OUT.h5 FACTOR
 *       a copy of MODEL with its final RMSNorm weight times FACTOR (a
 *       huge factor makes the features overflow float: non-finite).
 * Run it as a single process; exit 0 ok, 1 usage or error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_io.h"
#include "io/pairs.h"
#include "core/pp_rng.h"
#include "suite/tasks.h"

static pp_status encode(const tokenizer *t, const char *text, int bos, int eos, int32_t **tok, int64_t *used,
                        int64_t *cap, pp_err *err) {
    int ids[TASK_TEXT_MAX + 3], n = 0;
    PP_TRY(tok_encode(t, text, bos, eos, ids, &n, err));
    if (*used + n > *cap) {
        *cap = 2 * (*used + n);
        int32_t *p = realloc(*tok, (size_t)*cap * sizeof *p);
        if (!p) return pp_fail(err, PP_ESYS, "out of memory");
        *tok = p;
    }
    for (int i = 0; i < n; i++) (*tok)[(*used)++] = ids[i];
    return PP_OK;
}

static pp_status make_pairs(const char *model_path, const char *out, const char *mode, int64_t n, uint64_t seed,
                            pp_err *err) {
    int same = !strcmp(mode, "same");
    if (!same && strcmp(mode, "answers")) return pp_fail(err, PP_EINPUT, "unknown mode '%s' (answers | same)", mode);
    model m = {0};
    PP_TRY(model_load(model_path, &m, err));
    pairs_set s;
    pp_status st = m.tok.kind == TOK_BYTE ? PP_OK : pp_fail(err, PP_EINPUT, "%s: byte tokenizer only", model_path);
    if (st == PP_OK) st = pairs_alloc(&s, n, 2, n, 0, 0, 0, 0, err);
    if (st != PP_OK) {
        model_free(&m);
        return st;
    }
    task_family_set fams;
    PP_TRY(tasks_parse_families("all", &fams, err));
    char **ptext = calloc((size_t)n, sizeof *ptext), **ctext = calloc((size_t)n, sizeof *ctext);
    char **rtext = calloc((size_t)n, sizeof *rtext);
    int64_t cap[3] = {64, 64, 64}, used[3] = {0, 0, 0};
    s.prompt_tokens = malloc(64 * sizeof(int32_t));
    s.chosen_tokens = malloc(64 * sizeof(int32_t));
    s.rejected_tokens = malloc(64 * sizeof(int32_t));
    if (!ptext || !ctext || !rtext || !s.prompt_tokens || !s.chosen_tokens || !s.rejected_tokens)
        st = pp_fail(err, PP_ESYS, "out of memory");
    for (int64_t i = 0; st == PP_OK && i < n; i++) {
        task_item t;
        st = tasks_make(&fams, TASK_SPLIT_TRAIN, (uint64_t)i, seed, &t, err);
        char wrong[TASK_TEXT_MAX];
        pp_rng r = pp_rng_stream(seed, (uint64_t)i, 99);
        tasks_wrong_answer(&t, &r, wrong);
        const char *rej = same ? t.answer : wrong;
        ptext[i] = strdup(t.prompt);
        ctext[i] = strdup(t.answer);
        rtext[i] = strdup(rej);
        if (st == PP_OK) st = encode(&m.tok, t.prompt, 1, 0, &s.prompt_tokens, &used[0], &cap[0], err);
        if (st == PP_OK) st = encode(&m.tok, t.answer, 0, 1, &s.chosen_tokens, &used[1], &cap[1], err);
        if (st == PP_OK) st = encode(&m.tok, rej, 0, 1, &s.rejected_tokens, &used[2], &cap[2], err);
        s.prompt_token_offsets[i + 1] = used[0];
        s.chosen_token_offsets[i + 1] = used[1];
        s.rejected_token_offsets[i + 1] = used[2];
        s.prompt_id[i] = i;
        s.best[i] = 0;
        s.worst[i] = 1;
        s.ranking[2 * i] = 0;
        s.ranking[2 * i + 1] = 1;
        s.judge_calls[i] = 1;
        s.pair_prompt[i] = i;
        s.chosen[i] = 0;
        s.rejected[i] = 1;
    }
    if (st == PP_OK) st = pairs_pack_text(&s.prompt_text, n, (const char *const *)ptext, err);
    if (st == PP_OK) st = pairs_pack_text(&s.chosen_text, n, (const char *const *)ctext, err);
    if (st == PP_OK) st = pairs_pack_text(&s.rejected_text, n, (const char *const *)rtext, err);
    for (int64_t i = 0; i < n; i++) {
        if (ptext) free(ptext[i]);
        if (ctext) free(ctext[i]);
        if (rtext) free(rtext[i]);
    }
    free(ptext);
    free(ctext);
    free(rtext);
    if (st == PP_OK) {
        strcpy(s.method, "iterative");
        strcpy(s.judge, "oracle");
        strcpy(s.rejected_rule, "worst");
        strcpy(s.pairs_mode, "best");
        s.judge_calls_total = s.matches_total = n;
        model_fingerprint_hex(&m, s.model_fingerprint);
        strcpy(s.tokenizer, "byte");
        s.vocab_size = m.cfg.vocab_size;
        strcpy(s.source, "builtin");
        strcpy(s.split, "train");
        pp_input in[1] = {{"model", model_path}};
        pp_provenance prov = {"make_pairs_fixture", mode, in, 1};
        st = pairs_write(&s, out, MPI_COMM_WORLD, &prov, err);
    }
    pairs_free(&s);
    model_free(&m);
    return st;
}

static pp_status scale_model(const char *model_path, const char *out, double factor, pp_err *err) {
    model m = {0};
    PP_TRY(model_load(model_path, &m, err));
    for (int j = 0; j < m.cfg.dim; j++) m.w.final_norm[j] *= (float)factor;
    m.fingerprint = model_fingerprint(&m);
    pp_input in[1] = {{"model", model_path}};
    pp_provenance prov = {"make_pairs_fixture", "scale-model", in, 1};
    pp_status st = model_save(out, &m, MPI_COMM_WORLD, &prov, NULL, err);
    model_free(&m);
    return st;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    pp_err err = {0};
    pp_status st;
    if (argc >= 6 && !strcmp(argv[1], "pairs"))
        st = make_pairs(argv[2], argv[3], argv[4], atoll(argv[5]), argc > 6 ? strtoull(argv[6], NULL, 10) : 1, &err);
    else if (argc == 5 && !strcmp(argv[1], "scale-model"))
        st = scale_model(argv[2], argv[3], atof(argv[4]), &err);
    else
        st = pp_fail(&err, PP_EINPUT,
                     "usage: make_pairs_fixture pairs MODEL.h5 OUT.h5 answers|same N [SEED] | "
                     "scale-model MODEL.h5 OUT.h5 FACTOR");
    if (st != PP_OK) fprintf(stderr, "make_pairs_fixture: %s\n", err.msg);
    MPI_Finalize();
    return st == PP_OK ? 0 : 1;
}
