/* generate.h - the distributed, resumable run behind pp-generate
 * (generate_run), and the per-prompt generator it was built on.
 *
 * The generator (generator_init / generate_prompt; the stages no longer use
 * it, it stays as the simple reference test_decode checks the decoder
 * against): one prefill of the prompt into cache slot 0, copied to slots
 * 1..K-1, then the prompt's unfinished candidates decode together, one
 * infer_decode per step.  Candidate j of the prompt with id P draws from
 * pp_rng_stream(seed, P, j) only, and every row's bits are independent of
 * the other rows (rowmatmul), so a candidate is a pure function of (model,
 * prompt, parameters, seed): the output does not depend on the number of
 * ranks, the batch or the order in which work was done.
 *
 * A prompt is tokenized as llama2.c's run.c does it (BOS, then tok_encode),
 * so at temperature 0 an imported llama2.c model continues a prompt with the
 * tokens `run.c -t 0` picks.  A candidate ends at (finish_reason):
 *   0  EOS or BOS (run.c stops on BOS; the stop token is kept in the tokens,
 *      not in the text),
 *   1  max_new_tokens generated,
 *   2  the context is full (the next token would need position seq_len),
 *   3  a stop token (the chat template's end of turn, --stop; kept in the
 *      tokens, not in the text) or a --stop-string (the text ends where the
 *      string starts; model/stop.h).
 *
 * generate_run: prompts are cut into chunks of chunk_prompts; rank 0 hands
 * chunk numbers out on request (master/worker; rank 0 works too and answers
 * requests between its own decode steps with MPI_Iprobe).  Every rank runs
 * one continuous-batching decoder (model/decode.h, max_batch sequences,
 * allocated once) fed from its chunks: a worker asks for its next chunk
 * when the decoder takes the last prompt of the current one, so the
 * decoder stays full across chunks.  A chunk whose candidates have all
 * ended is saved as <out>.parts/chunk-NNNNNN.h5 (a small candidates file,
 * written .tmp then renamed) and <out>.parts/run.json records the run key
 * (model and prompts fingerprints, every sampling argument, chunk size).  A
 * rerun with the same key reuses every chunk that loads and validates and
 * redoes the rest; a different key is refused.  When all chunks exist, the
 * ranks assemble <out> collectively (each rank a contiguous range of
 * chunks) and the parts directory is removed.  A stop signal finishes the
 * current chunks and returns PP_EINTERRUPTED.
 *
 * Test hook: PP_HOOK_CHUNK_DELAY (core/pp_testhook.h) sleeps after each
 * saved chunk, so tests can kill a run between chunks. */
#ifndef GENERATE_H
#define GENERATE_H

#include <mpi.h>
#include <stdint.h>

#include "io/candidates.h"
#include "model/infer.h"
#include "model/model.h"
#include "core/pp_error.h"
#include "io/pp_h5.h"
#include "core/pp_log.h"
#include "core/pp_memory.h"
#include "core/pp_rng.h"
#include "model/sample.h"
#include "model/stop.h"
#include "generate/chat_setup.h"

typedef struct {
    int k;              /* candidates per prompt, >= 1 */
    int max_new_tokens; /* >= 1 */
    sample_params sample;
    uint64_t seed;
    const stop_set *stop; /* stop tokens and strings (FINISH_STOP); NULL: none */
} gen_params;

typedef struct {
    int64_t id;         /* stable prompt id: keys the random streams */
    const char *text, *family, *reference; /* copied into the candidate set; family/reference may be NULL */
    const char *rendered; /* a conversation as its chat template wrote it (candidates' /prompt_rendered), or NULL */
    const int *tokens;  /* BOS + encoded text (generate_encode) */
    int n_tokens;
} gen_prompt;

/* Buffers turning generated ids into a candidate's text (grown rarely). */
typedef struct {
    char *raw, *text;
    size_t raw_cap;
} gen_text;

/* t->text = the text of a candidate's ids (finish: its FINISH_*) decoded
 * after the token prev, sanitized to UTF-8 (core/pp_text.h); valid until
 * the next call.  A final EOS/BOS, or a stop token of stop, is kept in the
 * tokens, not in the text; a candidate stopped by a stop string ends where
 * the string starts (stop may be NULL: none). */
PP_MUST_CHECK pp_status gen_text_decode(gen_text *t, const tokenizer *tok, const stop_set *stop, int prev, const int *ids,
                                        int n, int finish, pp_err *err);
void gen_text_free(gen_text *t);

typedef struct {
    const model *m;
    gen_params p;
    infer_state st;
    int max_prompt_tokens;
    float *logits;               /* [k][vocab] */
    sample_candidate *scratch;   /* [vocab] */
    int row_tokens;              /* min(max_new_tokens, seq_len) */
    int *tokens;                 /* [k][row_tokens] generated ids */
    int *n_gen, *finish, *slots, *feed;
    double *logp;
    pp_rng *rng;
    stop_state *stop_st;         /* [k] stop-string matching */
    int prompt_last;             /* the prompt's last token: the first piece decodes after it */
    gen_text text;
    /* called after every decode step when set: rank 0 serves work requests */
    void (*poll)(void *ctx);
    void *poll_ctx;
    int64_t tokens_generated;    /* running total */
} generator;

/* Buffers for k candidates of prompts up to max_prompt_tokens tokens. */
PP_MUST_CHECK pp_status generator_init(generator *g, const model *m, const gen_params *p, int max_prompt_tokens, pp_err *err);
void generator_free(generator *g);

/* BOS + tok_encode(text), exactly as run.c: *ids is malloc'd.  Checks every
 * id is inside the model's vocabulary (vocab_size). */
PP_MUST_CHECK pp_status generate_encode(const tokenizer *t, int vocab_size, const char *text, int **ids, int *n, pp_err *err);

/* Generate the k candidates of one prompt and append the prompt and them
 * to out (a set from candidates_init with the same k). */
PP_MUST_CHECK pp_status generate_prompt(generator *g, const gen_prompt *pr, candidate_set *out, pp_err *err);

/* ---- the pp-generate run ---- */

/* --max-batch and --kv-cache-mb, shared by pp-generate and pp-eval.  The
 * default batch is where the benchmark (docs/performance.md) stops gaining
 * much: 64 sequences reach most of 256's speed on the d=512 model with a
 * quarter of its KV cache. */
#define GENERATE_DEFAULT_MAX_BATCH 64
#define GENERATE_MAX_BATCH_HELP                                                                            \
    "sequences (prompts x K candidates) decoded together, one forward step for all, a finished one "        \
    "replaced at once; results do not depend on it. Default 64: within 10% of the fastest batch measured "  \
    "on d=288 and d=512 models, with a quarter of 256's KV cache (docs/performance.md)"
#define GENERATE_KV_CACHE_HELP                                                                             \
    "memory budget of the KV cache in MiB, lowers --max-batch to fit; 0 = no cap. Per sequence the cache "  \
    "takes 2 x n_layers x kv_dim x (longest prompt + max-new-tokens - 1, at most seq_len) x 4 bytes"

typedef struct {
    gen_params gen;     /* gen.stop is set by generate_run from chat */
    int chunk_prompts;  /* prompts per saved chunk, >= 1 */
    chat_options chat;  /* --chat-template, --stop, --stop-string */
    int max_batch;      /* sequences one decode step runs (model/decode.h) */
    double kv_cache_mb; /* KV cache budget that caps max_batch; <= 0: none */
    const char *max_memory; /* --max-memory (NULL: what the machine has, core/pp_memory.h) */
    pp_memory *mem;         /* the estimate, for the summary line (may be NULL) */
} generate_options;

typedef struct {
    int64_t prompts, candidates, tokens; /* in the output file (tokens: generated) */
    int64_t chunks, chunks_reused;
    int64_t tokens_this_run;             /* generated by this run, all ranks */
    double seconds;                      /* wall time of the generation phase */
    int n_ranks;                         /* rank 0: per-rank figures below */
    int64_t *rank_tokens, *rank_chunks;
    double *rank_busy;                   /* seconds spent generating */
} generate_report;

/* The whole stage, collective over comm.  prov: provenance of the output
 * (inputs "model" and "prompts").  Returns PP_EINTERRUPTED after a stop
 * signal with the finished chunks saved. */
PP_MUST_CHECK pp_status generate_run(const char *model_path, const char *prompts_path, const char *out_path,
                       const generate_options *o, const pp_provenance *prov, MPI_Comm comm, const pp_log *log,
                       generate_report *rep, pp_err *err);
void generate_report_free(generate_report *rep);

#endif
