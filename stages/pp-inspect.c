/* pp-inspect - summarise any prefpipe file, or validate it against its
 * schema (hdf5-schemas/). */
#include <stdio.h>

#include "report/inspect.h"
#include "io/pp_schema.h"
#include "stage/pp_stage.h"

int main(int argc, char **argv) {
    const char *file = NULL;
    int validate = 0, items = 3, score = 0;
    const char *get = NULL, *jsonl = NULL;
    pp_option opts[] = {
        {"validate", OPT_FLAG, &validate, NULL, "check the file against its schema; exit 1 at the first violation", NULL, 0, 0, 0},
        {"get", OPT_STRING, &get, "NAMES", "for scripts: print these datasets (/metrics/loss; texts such as /chosen_text as JSON strings; 2-D ones a line per row) or attributes (n_pairs, test/win_rate), comma-separated", NULL, 0, 0, 0},
        {"score", OPT_FLAG, &score, NULL, "candidates from the built-in suite: exact-match rate, pass@k, mean score per family", NULL, 0, 0, 0},
        {"jsonl", OPT_STRING, &jsonl, "OUT", "export as JSON lines: candidates (prompt, K responses, log-probs, finish reasons), pairs (TRL format), eval (responses and verdicts)", NULL, 0, 0, 0},
        {"items", OPT_INT, &items, "N", "show the first N entries of each 1-D dataset", NULL, 0, 0, 1e6},
    };
    pp_cli cli = {.synopsis = "FILE [--validate | --score | --get NAMES | --jsonl OUT] [--items N]",
                  .description = "Prints what a prefpipe HDF5 file holds: kind, schema version, provenance, datasets "
                                 "and their first entries. With --validate, checks it against the schema of its kind.",
                  .opts = opts, .n_opts = 5, .positional = &file, .positional_name = "FILE"};
    pp_stage s;
    int rc = pp_stage_begin(&s, "pp-inspect", &cli, argc, argv);
    if (rc >= 0) return rc;
    s.no_done_line = 1; /* its stdout is read by scripts (--get) */
    /* the estimate (silent: no log): at most the file, read on rank 0 */
    pp_memory_part mem_parts[] = {{"file", pp_file_bytes(file)}, {"runtime", PP_MEMORY_RUNTIME_BYTES}};
    pp_status st = pp_memory_check(&s.mem, NULL, mem_parts, 2, s.comm, NULL, &s.err);
    if (st == PP_OK && s.rank == 0) {
        if (validate) {
            st = pp_validate_file(file, &s.err);
            if (st == PP_OK) printf("%s: valid\n", file);
        } else if (get) st = inspect_get(file, get, stdout, &s.err);
        else if (jsonl) st = inspect_jsonl(file, jsonl, &s.err);
        else if (score) st = inspect_score_candidates(file, stdout, &s.err);
        else st = inspect_print(file, stdout, items, &s.err);
    }
    return pp_stage_end(&s, st);
}
