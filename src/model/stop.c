/* stop.c - stop tokens and incremental stop-string matching (stop.h). */
#include "model/stop.h"

#include <stdio.h>
#include <string.h>

pp_status stop_add_token(stop_set *s, int id, int vocab_size, pp_err *err) {
    if (id < 0 || id >= vocab_size) return pp_fail(err, PP_EINPUT, "stop token %d is outside the vocabulary (0..%d)", id, vocab_size - 1);
    if (stop_is_token(s, id)) return PP_OK;
    if (s->n_tokens == STOP_MAX_TOKENS) return pp_fail(err, PP_EINPUT, "more than %d stop tokens", STOP_MAX_TOKENS);
    s->tokens[s->n_tokens++] = id;
    return PP_OK;
}

pp_status stop_add_string(stop_set *s, const char *text, pp_err *err) {
    size_t n = strlen(text);
    if (n == 0) return pp_fail(err, PP_EINPUT, "--stop-string: an empty stop string would end every candidate at once");
    if (n > STOP_STRING_MAX)
        return pp_fail(err, PP_EINPUT, "--stop-string: '%.20s...' is %zu bytes, longer than %d", text, n, STOP_STRING_MAX);
    for (int i = 0; i < s->n_strings; i++)
        if (strcmp(s->strings[i], text) == 0) return PP_OK;
    if (s->n_strings == STOP_MAX_STRINGS) return pp_fail(err, PP_EINPUT, "more than %d stop strings", STOP_MAX_STRINGS);
    snprintf(s->strings[s->n_strings++], sizeof s->strings[0], "%s", text);
    return PP_OK;
}

pp_status stop_add_token_text(stop_set *s, const tokenizer *tok, const char *text, int *as_string, pp_err *err) {
    size_t n = strlen(text);
    *as_string = 0;
    for (int id = 0; id < tok->vocab_size; id++) {
        int64_t a = tok->piece_offsets[id], b = tok->piece_offsets[id + 1];
        if ((size_t)(b - a) == n && memcmp(tok->pieces + a, text, n) == 0) return stop_add_token(s, id, tok->vocab_size, err);
    }
    *as_string = 1;
    return stop_add_string(s, text, err);
}

pp_status stop_from_options(stop_set *s, const tokenizer *tok, const char *end_of_turn, const char *stop_tokens,
                            const char *stop_string, pp_err *err) {
    memset(s, 0, sizeof *s);
    int as_string;
    if (end_of_turn && *end_of_turn) PP_TRY(stop_add_token_text(s, tok, end_of_turn, &as_string, err));
    for (const char *p = stop_tokens; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char text[STOP_STRING_MAX + 1];
        if (n == 0 || n > STOP_STRING_MAX) return pp_fail(err, PP_EINPUT, "--stop: empty or over-long token in '%s'", stop_tokens);
        memcpy(text, p, n);
        text[n] = '\0';
        PP_TRY(stop_add_token_text(s, tok, text, &as_string, err));
        if (as_string)
            return pp_fail(err, PP_EINPUT, "--stop %s: not a token of the model's vocabulary (--stop-string matches text)", text);
        p = comma ? comma + 1 : p + n;
    }
    if (stop_string) PP_TRY(stop_add_string(s, stop_string, err));
    return PP_OK;
}

int stop_is_token(const stop_set *s, int id) {
    for (int i = 0; i < s->n_tokens; i++)
        if (s->tokens[i] == id) return 1;
    return 0;
}

void stop_state_reset(stop_state *st) {
    st->n_tail = 0;
    st->bytes = 0;
    st->match_at = -1;
}

/* The first stop string that ends exactly at buf[end] (exclusive), or -1. */
static int string_ending_at(const stop_set *s, const char *buf, size_t end) {
    for (int i = 0; i < s->n_strings; i++) {
        size_t n = strlen(s->strings[i]);
        if (n <= end && memcmp(buf + end - n, s->strings[i], n) == 0) return i;
    }
    return -1;
}

int64_t stop_feed(const stop_set *s, stop_state *st, const char *piece, size_t len) {
    for (size_t i = 0; i < len && st->match_at < 0; i++) {
        if (st->n_tail == sizeof st->tail) { /* keep the last STOP_STRING_MAX bytes */
            memmove(st->tail, st->tail + STOP_STRING_MAX, STOP_STRING_MAX);
            st->n_tail = STOP_STRING_MAX;
        }
        st->tail[st->n_tail++] = piece[i];
        st->bytes++;
        int k = string_ending_at(s, st->tail, st->n_tail);
        if (k >= 0) st->match_at = st->bytes - (int64_t)strlen(s->strings[k]);
    }
    return st->match_at;
}

int stop_hit(const stop_set *s, stop_state *st, const tokenizer *tok, int prev, int t) {
    if (stop_is_token(s, t)) return 1;
    if (s->n_strings == 0) return 0;
    size_t len;
    const char *piece = tok_piece(tok, prev, t, &len);
    return stop_feed(s, st, piece, len) >= 0;
}

size_t stop_text_end(const stop_set *s, const char *text, size_t len) {
    for (size_t end = 1; end <= len; end++) {
        int k = string_ending_at(s, text, end);
        if (k >= 0) return end - strlen(s->strings[k]);
    }
    return len;
}
