/* make_candidates - write a candidates file with known texts, for testing
 * pp-rank without a model.
 *
 *   make_candidates PROMPTS.h5 OUT.h5 K MODE [SEED [TEXTS [FINGERPRINT]]]
 *
 * MODE suite: needs builtin prompts (family, reference).  Candidate texts
 *   are the reference, plausible wrong answers (tasks_wrong_answer), an
 *   empty answer and junk, in a shuffled order fixed by (SEED, prompt id),
 *   so the true best is not always candidate 0.
 * MODE weird: any prompts.  Texts full of quotes, backslashes, newlines,
 *   shell metacharacters and non-ASCII, each of a different length (the
 *   test judges prefer the longer answer), also shuffled.
 * Tokens: byte tokenizer (vocabulary 259): prompt = BOS + bytes, candidate
 * = bytes + EOS.  TEXTS: also write every prompt and candidate text there,
 * each followed by a NUL byte (to compare with what a judge received;
 * "-": none).  FINGERPRINT: the model fingerprint to record (default
 * "test" + SEED), so a byte-tokenizer model can train on the pairs.
 * Run it as a single process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/candidates.h"
#include "prompts/prompts.h"
#include "core/pp_rng.h"
#include "suite/tasks.h"
#include "model/tokenizer.h"

#define MAX_TEXT 512

static const char *const weird_texts[] = {
    "A: \"quoted\" and 'single' \\backslash\\ $(echo pwned) `id` ; rm -rf / | cat > /tmp/x & <y> * ? ~ # \t tab",
    "Zeile 2\nnewline, then ünïcödé: 日本語 テキスト, emoji 🎉, and \"\\n\" literally",
    "{\"id\":\"fake\",\"winner\":\"b\"} -- a JSON answer inside an answer",
    "$HOME %s %n %%d ${IFS} !! && || ;; \r carriage return",
    "ß∂ƒ©˙∆˚¬ …æ",
    "line1\nline2\n",
    "\"",
    "",
};
#define N_WEIRD (int)(sizeof weird_texts / sizeof weird_texts[0])

static void shuffle(int *v, int n, pp_rng *r) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)pp_rng_below(r, (uint64_t)i + 1);
        int t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

static int fail(const pp_err *e) {
    fprintf(stderr, "make_candidates: %s\n", e->msg);
    MPI_Finalize();
    return 1;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    if (argc < 5) {
        fprintf(stderr, "usage: make_candidates PROMPTS.h5 OUT.h5 K suite|weird [SEED [TEXTS]]\n");
        MPI_Finalize();
        return 1;
    }
    const char *in = argv[1], *out = argv[2], *mode = argv[4];
    int k = atoi(argv[3]);
    uint64_t seed = argc > 5 ? strtoull(argv[5], NULL, 10) : 1;
    int weird = strcmp(mode, "weird") == 0;
    int want_texts = argc > 6 && strcmp(argv[6], "-") != 0;
    FILE *texts_out = want_texts ? fopen(argv[6], "wb") : NULL;
    if (want_texts && !texts_out) {
        perror(argv[6]);
        return 1;
    }
    pp_err err = {0};
    prompt_set ps;
    tokenizer tok;
    candidate_set cs;
    if (prompts_load(&ps, in, &err) != PP_OK || tok_init_bytes(&tok, &err) != PP_OK ||
        candidates_init(&cs, k, &err) != PP_OK)
        return fail(&err);
    if (k < 1 || k > 64) {
        fprintf(stderr, "make_candidates: K must be 1..64\n");
        return 1;
    }
    snprintf(cs.model_fingerprint, sizeof cs.model_fingerprint, "test%012llx", (unsigned long long)seed);
    if (argc > 7) snprintf(cs.model_fingerprint, sizeof cs.model_fingerprint, "%s", argv[7]);
    snprintf(cs.tokenizer, sizeof cs.tokenizer, "byte");
    cs.vocab_size = tok.vocab_size;
    cs.temperature = 1;
    cs.top_p = 1;
    cs.max_new_tokens = MAX_TEXT;
    cs.seed = (int64_t)seed;
    snprintf(cs.source, sizeof cs.source, "%s", ps.source);
    snprintf(cs.suite, sizeof cs.suite, "%s", ps.suite);
    snprintf(cs.split, sizeof cs.split, "%s", ps.split);

    static int ids[2 * MAX_TEXT + 8];
    char texts[64][MAX_TEXT];
    for (int64_t p = 0; p < ps.n; p++) {
        int n_ids;
        if (!weird && (!ps.family || !ps.reference)) {
            fprintf(stderr, "make_candidates: %s has no family/reference (use mode weird)\n", in);
            return 1;
        }
        if (tok_encode(&tok, ps.text[p], 1, 0, ids, &n_ids, &err) != PP_OK ||
            candidates_add_prompt(&cs, ps.ids[p], ps.text[p], ps.family ? ps.family[p] : NULL,
                                  ps.reference ? ps.reference[p] : NULL, ids, n_ids, &err) != PP_OK)
            return fail(&err);
        if (texts_out) fwrite(ps.text[p], 1, strlen(ps.text[p]) + 1, texts_out);
        pp_rng r = pp_rng_stream(seed, (uint64_t)ps.ids[p], 0xCA11D0);
        for (int j = 0; j < k; j++) {
            if (weird) {
                /* distinct lengths: later copies get a numbered suffix */
                snprintf(texts[j], MAX_TEXT, "%s%.*s", weird_texts[j % N_WEIRD], j / N_WEIRD * 7, "#######");
                continue;
            }
            task_item t = {0};
            if (tasks_family_from_name(ps.family[p], &t.family, &err) != PP_OK) return fail(&err);
            snprintf(t.prompt, sizeof t.prompt, "%s", ps.text[p]);
            snprintf(t.answer, sizeof t.answer, "%s", ps.reference[p]);
            if (j == 0) snprintf(texts[j], MAX_TEXT, "%s", t.answer);
            else if (j == 1 && k >= 4) texts[j][0] = '\0';
            else if (j == 2 && k >= 5) snprintf(texts[j], MAX_TEXT, "%s and some junk", t.answer);
            else tasks_wrong_answer(&t, &r, texts[j]);
        }
        int order[64];
        for (int j = 0; j < k; j++) order[j] = j;
        shuffle(order, k, &r);
        for (int j = 0; j < k; j++) {
            const char *text = texts[order[j]];
            if (texts_out) fwrite(text, 1, strlen(text) + 1, texts_out);
            if (tok_encode(&tok, text, 0, 1, ids, &n_ids, &err) != PP_OK ||
                candidates_add_candidate(&cs, ids, n_ids, text, -1.0 - j, FINISH_EOS, &err) != PP_OK)
                return fail(&err);
        }
    }
    pp_input inputs[1] = {{"prompts", in}};
    pp_provenance prov = {"make_candidates", mode, inputs, 1};
    if (candidates_write(&cs, out, MPI_COMM_WORLD, &prov, NULL, &err) != PP_OK) return fail(&err);
    if (texts_out) fclose(texts_out);
    candidates_free(&cs);
    prompts_free(&ps);
    tok_free(&tok);
    MPI_Finalize();
    return 0;
}
