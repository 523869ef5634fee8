/* pp-prompts - turn prompts (JSONL, YAML list, plain text, the built-in
 * task suite, or a slice of another prompts file) into a prompts HDF5 file. */
#include <stdio.h>
#include <string.h>

#include "stage/pp_stage.h"
#include "prompts/prompts.h"

int main(int argc, char **argv) {
    const char *out = NULL, *jsonl = NULL, *field = "prompt", *yaml = NULL, *text = NULL;
    const char *suite = NULL, *split = "train", *families = "all", *from = NULL, *range = NULL;
    long long n = 100, seed = 1;
    int keep_duplicates = 0;
    pp_option opts[] = {
        {"out", OPT_STRING, &out, "FILE", "prompts file to write", NULL, 1, 0, 0},
        {"jsonl", OPT_STRING, &jsonl, "FILE", "import a JSON-lines file", NULL, 0, 0, 0},
        {"field", OPT_STRING, &field, "KEY",
         "JSONL: key or dotted path of the prompt (e.g. turns.0): a string, or a list of messages {role, content} "
         "(TRL's messages; ends with the user's turn) kept as a conversation (docs/chat.md)", NULL, 0, 0, 0},
        {"yaml", OPT_STRING, &yaml, "FILE", "import a YAML list of strings", NULL, 0, 0, 0},
        {"text", OPT_STRING, &text, "FILE", "import plain text, one prompt per line", NULL, 0, 0, 0},
        {"prompts", OPT_STRING, &from, "P.h5", "take the prompts of a prompts file (with --range: a slice of it)", NULL, 0, 0, 0},
        {"suite", OPT_CHOICE, &suite, "NAME", "generate prompts from a built-in task suite", "builtin", 0, 0, 0},
        {"split", OPT_CHOICE, &split, "SPLIT", "built-in suite split", "train|test|ood", 0, 0, 0},
        {"families", OPT_STRING, &families, "LIST", "built-in task families (comma list or all)", NULL, 0, 0, 0},
        {"n", OPT_INT64, &n, "N", "built-in suite: number of prompts", NULL, 0, 1, 1e9},
        {"seed", OPT_INT64, &seed, "S", "built-in suite: generation seed", NULL, 0, 0, 9.2e18},
        {"range", OPT_STRING, &range, "FIRST:COUNT", "keep COUNT prompts from position FIRST of the source (ids kept; e.g. one round's slice)", NULL, 0, 0, 0},
        {"keep-duplicates", OPT_FLAG, &keep_duplicates, NULL, "keep repeated prompts (default: drop and report)", NULL, 0, 0, 0},
    };
    pp_cli cli = {.synopsis = "--out P.h5 (--jsonl F [--field KEY] | --yaml F | --text F | --suite builtin --split S --n N | --prompts P.h5) [--seed S] [--range FIRST:COUNT]",
                  .description = "Imports prompts into a prompts file. Every prompt keeps a stable id (its position in the "
                                 "source). Empty prompts are dropped and reported; duplicates too unless --keep-duplicates.",
                  .opts = opts, .n_opts = (int)(sizeof opts / sizeof opts[0])};
    pp_stage s;
    int rc = pp_stage_begin(&s, "pp-prompts", &cli, argc, argv);
    if (rc >= 0) return rc;

    int nsrc = !!jsonl + !!yaml + !!text + !!suite + !!from;
    const char *src = jsonl ? jsonl : yaml ? yaml : text ? text : from;
    long long first = 0, count = 0;
    char tail = 0;
    int bad_range = range && (sscanf(range, "%lld:%lld%c", &first, &count, &tail) != 2 || first < 0 || count < 1);
    pp_input inputs[1] = {{"source", src}};
    pp_status st = PP_OK;
    if (nsrc != 1) st = pp_fail(&s.err, PP_EINPUT, "give exactly one of --jsonl, --yaml, --text, --suite, --prompts (see --help)");
    if (st == PP_OK && bad_range) st = pp_fail(&s.err, PP_EINPUT, "--range '%s': expected FIRST:COUNT, FIRST >= 0, COUNT >= 1", range);
    if (st == PP_OK) st = pp_check_output(out, inputs, src ? 1 : 0, &s.err);
    /* the estimate: rank 0 holds the prompts read (about 4 x the source; a
       suite prompt is under 1 KiB) while it writes them */
    pp_memory_part mem_parts[] = {{"prompts", src ? 4.0 * pp_file_bytes(src) : 1024.0 * (double)n},
                                  {"runtime", PP_MEMORY_RUNTIME_BYTES}};
    if (st == PP_OK) st = pp_memory_check(&s.mem, NULL, mem_parts, 2, s.comm, &s.log, &s.err);

    prompt_set set = {0};
    prompt_cleanup report = {0};
    if (st == PP_OK && s.rank == 0) { /* import is serial and cheap */
        if (jsonl) st = prompts_read_jsonl(&set, jsonl, field, &s.err);
        else if (yaml) st = prompts_read_yaml(&set, yaml, &s.err);
        else if (text) st = prompts_read_text(&set, text, &s.err);
        else if (from) st = prompts_load(&set, from, &s.err);
        else st = prompts_from_suite(&set, families, split, (int64_t)n, (uint64_t)seed, &s.err);
        if (st == PP_OK) prompts_cleanup(&set, keep_duplicates, &report);
        if (st == PP_OK && range) st = prompts_keep_range(&set, first, count, src ? src : "suite", &s.err);
        if (st == PP_OK && set.n == 0)
            st = pp_fail(&s.err, PP_EINPUT, "%s: no prompts found (empty input)", src ? src : "suite");
    }
    st = pp_agree(s.comm, st, &s.err);
    if (st == PP_OK) {
        if (report.empty)
            pp_warn(&s.log, "dropped %lld empty prompt(s), first id %lld", (long long)report.empty,
                    (long long)report.first_empty_id);
        if (report.duplicate)
            pp_warn(&s.log, "dropped %lld duplicate prompt(s), first id %lld (--keep-duplicates keeps them)",
                    (long long)report.duplicate, (long long)report.first_duplicate_id);
        pp_provenance prov = {"pp-prompts", pp_cli_effective(&cli), inputs, src ? 1 : 0};
        st = prompts_write(&set, out, s.comm, &prov, &s.err);
    }
    if (st == PP_OK) pp_info(&s.log, "wrote %s: %lld prompts", out, (long long)set.n);
    prompts_free(&set);
    return pp_stage_end(&s, st);
}
