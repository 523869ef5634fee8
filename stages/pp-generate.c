/* pp-generate - sample K candidates per prompt with a model, spread over
 * MPI ranks, resumable (see src/generate/generate.h). */
#include <stdio.h>

#include "generate/generate.h"
#include "stage/pp_stage.h"

int main(int argc, char **argv) {
    const char *model_path = NULL, *prompts_path = NULL, *out = NULL;
    chat_options chat = {0};
    const char *max_memory = NULL;
    int k = 0, top_k = 0, max_new = 128, chunk = 8, max_batch = GENERATE_DEFAULT_MAX_BATCH;
    double temperature = 1.0, top_p = 1.0, kv_mb = 0;
    long long seed = 1;
    pp_option opts[] = {
        {"model", OPT_STRING, &model_path, "M.h5", "model file that generates", NULL, 1, 0, 0},
        {"prompts", OPT_STRING, &prompts_path, "P.h5", "prompts file (pp-prompts)", NULL, 1, 0, 0},
        {"out", OPT_STRING, &out, "C.h5", "candidates file to write", NULL, 1, 0, 0},
        {"k", OPT_INT, &k, "K", "candidates per prompt", NULL, 1, 0, 0},
        {"temperature", OPT_DOUBLE, &temperature, "T", "sampling temperature; 0 = greedy", NULL, 0, 0, 0},
        {"top-p", OPT_DOUBLE, &top_p, "P", "nucleus sampling mass in (0, 1]; 1 = off", NULL, 0, 0, 0},
        {"top-k", OPT_INT, &top_k, "N", "sample among the N most likely tokens; 0 = off", NULL, 0, 0, 1e9},
        {"max-new-tokens", OPT_INT, &max_new, "N", "at most N generated tokens per candidate", NULL, 0, 0, 0},
        {"seed", OPT_INT64, &seed, "S", "random seed: candidate j of prompt id P uses stream (S, P, j)", NULL, 0, 0,
         9.2e18},
        {"chunk-prompts", OPT_INT, &chunk, "N", "prompts per unit of work and per saved chunk (resume)", NULL, 0, 0, 0},
        CHAT_STAGE_OPTIONS(chat),
        {"max-batch", OPT_INT, &max_batch, "N", GENERATE_MAX_BATCH_HELP, NULL, 0, 1, 65536},
        {"kv-cache-mb", OPT_DOUBLE, &kv_mb, "MB", GENERATE_KV_CACHE_HELP, NULL, 0, 0, 1e9},
        {"max-memory", OPT_STRING, &max_memory, "SIZE", PP_MAX_MEMORY_HELP, NULL, 0, 0, 0},
    };
    pp_cli cli = {.synopsis = "--model M.h5 --prompts P.h5 --out C.h5 --k K [--temperature T --top-p P --top-k N "
                              "--max-new-tokens N --seed S --chunk-prompts N --max-batch N --kv-cache-mb MB "
                              "--chat-template NAME --stop TOKENS --stop-string S]",
                  .description = "Samples K completions of every prompt. A prompt gets BOS and is tokenized as llama2.c's "
                                 "run.c does, so --temperature 0 continues it with run.c's tokens; a conversation is first "
                                 "rendered with the model's chat template (docs/chat.md). The output does not "
                                 "depend on the number of ranks. Finished chunks are kept in C.h5.parts/; a run stopped "
                                 "or killed resumes from them when started again with the same command (exit status 75 "
                                 "after a stop signal). Every rank decodes many prompts at once (--max-batch sequences per "
                                 "step, prompts pulled chunk by chunk); it allocates once the KV cache (--kv-cache-mb), "
                                 "a packed copy of the weights (4 bytes per parameter; the model is held once per node, "
                                 "the packed copy too from 128 MiB up, else per rank in huge pages) and row buffers, and logs the total. Example: d=512, 8 layers, 8-token prompts, 128 new tokens: 4.2 MiB of cache "
                                 "per sequence, 270 MiB at --max-batch 64, plus 110 MB of weights.",
                  .opts = opts, .n_opts = (int)(sizeof opts / sizeof opts[0])};
    pp_stage s;
    int rc = pp_stage_begin(&s, "pp-generate", &cli, argc, argv);
    if (rc >= 0) return rc;

    pp_input inputs[2] = {{"model", model_path}, {"prompts", prompts_path}};
    pp_status st = pp_check_output(out, inputs, 2, &s.err);
    generate_options o = {.gen = {.k = k,
                                  .max_new_tokens = max_new,
                                  .sample = {.temperature = (float)temperature, .top_k = top_k, .top_p = (float)top_p},
                                  .seed = (uint64_t)seed},
                          .chunk_prompts = chunk,
                          .chat = chat,
                          .max_batch = max_batch,
                          .kv_cache_mb = kv_mb,
                          .max_memory = max_memory,
                          .mem = &s.mem};
    generate_report rep = {0};
    if (st == PP_OK) {
        pp_provenance prov = {"pp-generate", pp_cli_effective(&cli), inputs, 2};
        st = generate_run(model_path, prompts_path, out, &o, &prov, s.comm, &s.log, &rep, &s.err);
    }
    if (st == PP_OK) {
        pp_info(&s.log, "wrote %s: %lld prompts x %d = %lld candidates, %lld generated tokens", out,
                (long long)rep.prompts, k, (long long)rep.candidates, (long long)rep.tokens);
        pp_info(&s.log, "this run: %lld tokens in %.2f s = %.0f tokens/s (%lld of %lld chunks reused)",
                (long long)rep.tokens_this_run, rep.seconds,
                rep.seconds > 0 ? (double)rep.tokens_this_run / rep.seconds : 0.0, (long long)rep.chunks_reused,
                (long long)rep.chunks);
        /* idle time (waiting for work, the tail of the run) shows as busy < 100% */
        double busy = 0.0;
        for (int r = 0; s.rank == 0 && rep.rank_busy && r < rep.n_ranks; r++) busy += rep.rank_busy[r];
        if (s.rank == 0 && rep.rank_busy && rep.seconds > 0)
            pp_info(&s.log, "ranks were busy %.0f%% of the time", 100.0 * busy / (rep.n_ranks * rep.seconds));
        for (int r = 0; s.rank == 0 && rep.rank_tokens && r < rep.n_ranks; r++)
            pp_info(&s.log, "  rank %d: %lld chunks, %lld tokens, busy %.2f s, %.0f tokens/s", r,
                    (long long)rep.rank_chunks[r], (long long)rep.rank_tokens[r], rep.rank_busy[r],
                    rep.rank_busy[r] > 0 ? (double)rep.rank_tokens[r] / rep.rank_busy[r] : 0.0);
    }
    generate_report_free(&rep);
    return pp_stage_end(&s, st);
}
