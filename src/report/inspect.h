/* inspect.h - human summary of any prefpipe file (pp-inspect). */
#ifndef INSPECT_H
#define INSPECT_H

#include <stdio.h>

#include "core/pp_error.h"

/* Print kind, schema version, provenance, every dataset with its shape and
 * type, and the first `n_items` entries of each 1-D dataset. */
PP_MUST_CHECK pp_status inspect_print(const char *path, FILE *out, int n_items, pp_err *err);

/* For a candidates file made from the built-in suite: exact-match rate of
 * all candidates, pass@k (a prompt counts when any of its k candidates is
 * exact), mean score, per family and overall. */
PP_MUST_CHECK pp_status inspect_score_candidates(const char *path, FILE *out, pp_err *err);

/* For scripts: one line per name in the comma-separated list `names`.  A
 * name is a dataset path or an attribute.  A 1-D dataset prints one line:
 * numbers ("/metrics/loss"; enums as their values) or texts ("/chosen_text"),
 * each text a JSON string, space-separated; a 2-D dataset ("/ranking")
 * prints one line per row.  An attribute is "ATTR" of the root group or
 * "GROUP/ATTR" ("test/win_rate"); numbers print with %.10g.  A name that
 * is neither is an error naming it. */
PP_MUST_CHECK pp_status inspect_get(const char *path, const char *names, FILE *out, pp_err *err);

/* Export a file as JSON lines (io/pp_jsonl.h: one object per line, valid
 * UTF-8), written OUT.tmp then renamed:
 *   candidates: {"prompt_id", "prompt", "responses", "logps", "finish_reasons"}
 *               per prompt (candidates_write_jsonl);
 *   pairs:      TRL's standard format {"prompt", "chosen", "rejected"} per
 *               pair (pairs_write_jsonl, the writer of pp-rank --jsonl);
 *               pp-import reads it back;
 *   eval:       {"split", "prompt_id", "prompt", "policy", "baseline",
 *               "verdict_policy_first", "verdict_baseline_first", "outcome"}
 *               per prompt of every split (verdicts by name).
 * Other kinds are an input error naming the kind. */
PP_MUST_CHECK pp_status inspect_jsonl(const char *path, const char *out, pp_err *err);

#endif
