/* import.h - TRL-format preference data (JSON lines) into a pairs file.
 *
 * Each non-empty line is one JSON object, one of TRL's preference formats:
 *   standard:         {"prompt": "...", "chosen": "...", "rejected": "..."}
 *   implicit prompt:  {"chosen": "...", "rejected": "..."}: the prompt is
 *                     their longest common prefix (TRL's extract_prompt: a
 *                     space just before the point where they differ goes to
 *                     the responses; the cut never splits a UTF-8 character)
 *   conversational:   the same fields as lists of {"role", "content"}
 *                     messages, rendered with --chat-template or the model's
 *                     template as TRL's maybe_apply_chat_template does: the
 *                     prompt with the generation prompt; a response as the
 *                     rendering of prompt + response less the prompt's
 *                     rendering at its front (a row where it is not there is
 *                     bad).  Implicit prompt on conversations: the messages
 *                     chosen and rejected share (TRL's extract_prompt).
 * Other fields are ignored.  Every pair becomes one prompt row with k = 2
 * candidates (chosen 0, rejected 1); /prompt_id is the line number.
 *
 * Tokens (the policy's tokenizer, --model): the prompt gets BOS in front
 * (a rendered prompt loses its leading BOS text first: one BOS, docs/chat.md);
 * each response is encoded as a continuation (no BOS; with the llama2c
 * tokenizer a response starting with a space is encoded without an extra
 * dummy-prefix space; one not starting with a space gets SentencePiece's
 * dummy-prefix space, as encoding it alone does) and gets EOS at its end,
 * as TRL appends it.
 *
 * Truncation, TRL's rule (DPO's tokenize_row, truncation_mode keep_end),
 * with L = max_length (default the model's context) and P =
 * max_prompt_tokens (default L / 2), lengths counting BOS and EOS:
 *   1. when prompt + the longer response > L, a prompt longer than P keeps
 *      BOS and its last P - 1 tokens (its start is cut);
 *   2. when still > L, both responses keep their first L - P tokens (their
 *      end, EOS included, is cut).
 * The output counts truncated_prompts and truncated_responses.
 *
 * Bad rows (each an input error "FILE:LINE: field 'F': what", exit 1):
 * not JSON or not an object, invalid UTF-8, a missing field, a field of the
 * wrong type, an empty chosen or rejected (also after the implicit prompt
 * is taken off), chosen equal to rejected, and chosen and rejected equal
 * after truncation.  With skip_bad such rows are skipped, counted
 * (skipped_rows attribute, the summary) and the first few named in
 * warnings; bad conversations likewise (docs/formats.md lists them).  A
 * conversational row when there is no template is never skipped: the run
 * needs --chat-template, not a fixed row. */
#ifndef IMPORT_H
#define IMPORT_H

#include <mpi.h>

#include "core/pp_error.h"
#include "core/pp_log.h"
#include "core/pp_memory.h"

typedef struct {
    const char *input;     /* the JSONL file */
    const char *model;     /* whose tokenizer (and context) to use */
    const char *out;       /* pairs file to write */
    int max_length;        /* L; 0: the model's context (seq_len) */
    int max_prompt_tokens; /* P; 0: L / 2 */
    int skip_bad;
    const char *chat_template; /* --chat-template NAME; NULL: the model's own */
    const char *arguments; /* effective options, for the provenance */
    const char *max_memory; /* --max-memory (NULL: what the machine has, core/pp_memory.h) */
    pp_memory *mem;        /* the estimate, for the summary line (may be NULL) */
} import_options;

/* Read, check, tokenize and write.  Rank 0 does the work; the others wait
 * and take part in the collective write.  Collective: the status is agreed. */
PP_MUST_CHECK pp_status import_run(const import_options *o, MPI_Comm comm, const pp_log *log, pp_err *err);

#endif
