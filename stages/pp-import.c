/* pp-import - preference data in TRL's JSON-lines formats into a pairs file
 * pp-train takes as it is.  The work is import_run (import/import.h). */
#include "import/import.h"
#include "stage/pp_stage.h"

int main(int argc, char **argv) {
    import_options o = {0};
    pp_option opts[] = {
        {"data", OPT_STRING, &o.input, "FILE.jsonl", "TRL preference data: {prompt, chosen, rejected} or {chosen, rejected} (implicit prompt) per line, as strings or lists of messages", NULL, 1, 0, 0},
        {"model", OPT_STRING, &o.model, "M.h5", "the policy whose tokenizer (and context length) to use", NULL, 1, 0, 0},
        {"out", OPT_STRING, &o.out, "R.h5", "pairs file to write", NULL, 1, 0, 0},
        {"max-length", OPT_INT, &o.max_length, "L", "longest prompt + response in tokens (0: the model's context)", NULL, 0, 0, 1e7},
        {"max-prompt-tokens", OPT_INT, &o.max_prompt_tokens, "P", "longest prompt; over L, a prompt keeps BOS and its last P-1 tokens and responses their first L-P (0: L/2)", NULL, 0, 0, 1e7},
        {"chat-template", OPT_STRING, &o.chat_template, "NAME", "render conversational rows as llama2, llama3, chatml, mistral or zephyr (default: the model's own template)", NULL, 0, 0, 0},
        {"skip-bad", OPT_FLAG, &o.skip_bad, NULL, "skip bad rows (counted in the output's skipped_rows) instead of stopping at the first", NULL, 0, 0, 0},
        {"max-memory", OPT_STRING, &o.max_memory, "SIZE", PP_MAX_MEMORY_HELP, NULL, 0, 0, 0},
    };
    pp_cli cli = {.synopsis = "--data FILE.jsonl --model M.h5 --out R.h5 [--max-length L] [--max-prompt-tokens P] [--chat-template NAME] [--skip-bad]",
                  .description = "Imports preference data in TRL's formats (standard, implicit prompt, and both as "
                                 "conversations: lists of {role, content} messages rendered with the model's chat "
                                 "template or --chat-template, as TRL's apply_chat_template does) into a pairs file, "
                                 "tokenized with the model's tokenizer and truncated as TRL does (docs/formats.md, "
                                 "pairs; docs/chat.md). A bad row stops the import with FILE:LINE and the field. "
                                 "pp-train computes the reference log-probs.",
                  .opts = opts, .n_opts = 8};
    pp_stage s;
    int rc = pp_stage_begin(&s, "pp-import", &cli, argc, argv);
    if (rc >= 0) return rc;
    o.arguments = pp_cli_effective(&cli);
    o.mem = &s.mem;
    return pp_stage_end(&s, import_run(&o, s.comm, &s.log, &s.err));
}
