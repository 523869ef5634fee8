/* stop.h - when a candidate ends besides EOS: stop tokens and stop strings.
 *
 *   stop_set s = {0};
 *   stop_add_token_text(&s, &m->tok, "<|eot_id|>", err);  // the template's end of turn
 *   stop_add_string(&s, "\nUser:", err);                  // --stop-string
 *   stop_state st;  stop_state_reset(&st);               // per candidate, no allocation
 *   ... for each sampled token t after prev:
 *   if (stop_is_token(&s, t)) finish = FINISH_STOP;       // the token is kept, not decoded
 *   else if (stop_feed(&s, &st, piece, len) >= 0) finish = FINISH_STOP;
 *
 * Strings are matched on the decoded bytes as they come, across token
 * boundaries; a candidate's text then ends where the stop string starts
 * (stop_text_end).  Tokens are ids of the vocabulary: a text that is not one
 * token of it is matched as a string instead (stop_add_token_text says
 * which).  No per-token allocation: the state is a fixed buffer. */
#ifndef STOP_H
#define STOP_H

#include <stddef.h>
#include <stdint.h>

#include "core/pp_error.h"
#include "model/tokenizer.h"

#define STOP_MAX_TOKENS 32
#define STOP_MAX_STRINGS 16
#define STOP_STRING_MAX 128 /* bytes of one stop string */

typedef struct {
    int n_tokens;
    int tokens[STOP_MAX_TOKENS];
    int n_strings;
    char strings[STOP_MAX_STRINGS][STOP_STRING_MAX + 1];
} stop_set;

/* One candidate's matching state: the last decoded bytes. */
typedef struct {
    char tail[2 * STOP_STRING_MAX];
    size_t n_tail;
    int64_t bytes;      /* decoded bytes fed so far */
    int64_t match_at;   /* where the matched stop string starts, or -1 */
} stop_state;

PP_MUST_CHECK pp_status stop_add_token(stop_set *s, int id, int vocab_size, pp_err *err);
PP_MUST_CHECK pp_status stop_add_string(stop_set *s, const char *text, pp_err *err);
/* The token whose piece is exactly `text` (e.g. "<|im_end|>"); when the
 * vocabulary has none, `text` becomes a stop string (*as_string = 1). */
PP_MUST_CHECK pp_status stop_add_token_text(stop_set *s, const tokenizer *tok, const char *text, int *as_string,
                                            pp_err *err);
int stop_is_token(const stop_set *s, int id);
/* A run's stop set: end_of_turn (the chat template's; NULL or "": none)
 * as stop_add_token_text, stop_tokens (--stop: comma-separated texts, each
 * a token of the vocabulary, else refused) and stop_string (--stop-string;
 * NULL: none). */
PP_MUST_CHECK pp_status stop_from_options(stop_set *s, const tokenizer *tok, const char *end_of_turn,
                                          const char *stop_tokens, const char *stop_string, pp_err *err);

void stop_state_reset(stop_state *st);
/* Token t (after prev) ends a candidate: a stop token, or its decoded
 * bytes (tok_piece) complete a stop string. */
int stop_hit(const stop_set *s, stop_state *st, const tokenizer *tok, int prev, int t);
/* Feed a token's decoded bytes.  Returns the offset in the candidate's
 * decoded text at which the first stop string to complete starts, or -1
 * while none has completed (after a match it keeps returning that offset). */
int64_t stop_feed(const stop_set *s, stop_state *st, const char *piece, size_t len);
/* Where a decoded text ends for s: the start of the first stop string to
 * complete in text[0..len), or len when none does. */
size_t stop_text_end(const stop_set *s, const char *text, size_t len);

#endif
