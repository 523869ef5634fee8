/* rm_score RM.h5 MODEL.h5 PAIRS.h5 [PAIRS_PER_CALL] - score both sides of
 * every pair with the reward-model scoring API (rm_load, rm_check_model,
 * rm_score_batch), the way pp-rank --judge rm does, PAIRS_PER_CALL pairs
 * (default 8, at most 64) per call, and print
 *     accuracy A on N pairs
 *     scores_hash H
 * (chosen scored above rejected; a tie counts one half), so a test can
 * compare it with the accuracy pp-rm measured on feature differences; H
 * hashes the bits of every score, so calls of other sizes must give the
 * same H (the features are batch-invariant).
 * Exit 0 ok, 1 bad input (message on stderr), 2 other errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pp_rng.h"

#include "model/model_io.h"
#include "io/pairs.h"
#include "rm/reward_model.h"

#define MAX_PAIRS_PER_CALL 64

static pp_status run(const char *rm_path, const char *model_path, const char *pairs_path, int per_call, pp_err *err) {
    reward_model rm;
    model m = {0};
    rm_ws ws = {0};
    pairs_set s = {0};
    PP_TRY(rm_load(&rm, rm_path, err));
    pp_status st = model_load(model_path, &m, err);
    if (st == PP_OK) st = rm_check_model(&rm, &m, err);
    if (st == PP_OK) st = rm_ws_alloc(&ws, &m, 0, err);
    if (st == PP_OK) st = pairs_load(&s, pairs_path, 0, err);
    double right = 0;
    uint64_t hash = 0;
    for (int64_t g = 0; st == PP_OK && g < s.n_pairs; g += per_call) {
        const int32_t *p[2 * MAX_PAIRS_PER_CALL], *r[2 * MAX_PAIRS_PER_CALL];
        int64_t np[2 * MAX_PAIRS_PER_CALL], nr[2 * MAX_PAIRS_PER_CALL];
        double score[2 * MAX_PAIRS_PER_CALL];
        int n = s.n_pairs - g < per_call ? (int)(s.n_pairs - g) : per_call;
        for (int j = 0; j < n; j++) {
            p[j] = p[n + j] = pairs_prompt_tokens(&s, g + j, &np[j]);
            np[n + j] = np[j];
            r[j] = pairs_chosen_tokens(&s, g + j, &nr[j]);
            r[n + j] = pairs_rejected_tokens(&s, g + j, &nr[n + j]);
        }
        st = rm_score_batch(&rm, &m, &ws, 2 * n, p, np, r, nr, score, err);
        for (int j = 0; st == PP_OK && j < n; j++) {
            right += score[j] > score[n + j] ? 1.0 : score[j] == score[n + j] ? 0.5 : 0.0;
            for (int side = 0; side < 2; side++) {
                uint64_t bits;
                memcpy(&bits, &score[side * n + j], sizeof bits);
                hash = pp_hash64(hash ^ bits);
            }
        }
    }
    if (st == PP_OK) printf("accuracy %.6f on %lld pairs\nscores_hash %016llx\n",
                            s.n_pairs ? right / (double)s.n_pairs : 0.0, (long long)s.n_pairs,
                            (unsigned long long)hash);
    pairs_free(&s);
    rm_ws_free(&ws);
    model_free(&m);
    rm_free(&rm);
    return st;
}

int main(int argc, char **argv) {
    pp_err err = {0};
    int per_call = argc == 5 ? atoi(argv[4]) : 8;
    if ((argc != 4 && argc != 5) || per_call < 1 || per_call > MAX_PAIRS_PER_CALL) {
        fprintf(stderr, "usage: rm_score RM.h5 MODEL.h5 PAIRS.h5 [PAIRS_PER_CALL 1..%d]\n", MAX_PAIRS_PER_CALL);
        return 1;
    }
    pp_status st = run(argv[1], argv[2], argv[3], per_call, &err);
    if (st != PP_OK) fprintf(stderr, "rm_score: %s\n", err.msg);
    return (int)st;
}
