/* inspect.h - human summary of any prefpipe file (pp-inspect). */
#ifndef INSPECT_H
#define INSPECT_H

#include <stdio.h>

#include "pp_error.h"

/* Print kind, schema version, provenance, every dataset with its shape and
 * type, and the first `n_items` entries of each 1-D dataset. */
pp_status inspect_print(const char *path, FILE *out, int n_items, pp_err *err);

/* For a candidates file made from the built-in suite: exact-match rate of
 * all candidates, pass@k (a prompt counts when any of its k candidates is
 * exact), mean score, per family and overall. */
pp_status inspect_score_candidates(const char *path, FILE *out, pp_err *err);

#endif
