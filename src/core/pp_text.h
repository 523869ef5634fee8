/* pp_text.h - UTF-8 checks and the one sanitizer. */
#ifndef PP_TEXT_H
#define PP_TEXT_H

#include <stddef.h>

/* 1 when s[0..len) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF);
 * else 0 and *bad = offset of the first bad byte. */
int pp_utf8_valid(const char *s, size_t len, size_t *bad);
/* Copy in[0..n) to out as valid UTF-8 with no NUL inside: each byte that
 * does not start a valid sequence, and each NUL, becomes U+FFFD.  out must
 * hold 3 n + 1 bytes; it is NUL-terminated; returns its length.  The one
 * sanitizer for text that leaves the program (HDF5 text, JSON). */
size_t pp_utf8_sanitize(const char *in, size_t n, char *out);
/* The same into a new allocation when s (NUL-terminated) needs it: returns s
 * itself when it is already valid, else a sanitized copy in *owned (free
 * it); NULL when out of memory. */
const char *pp_utf8_clean(const char *s, char **owned);
/* s when it has no control characters (below 0x20, or 0x7f), else
 * `instead`: for names read from a file that go into a one-line error. */
const char *pp_text_shown(const char *s, const char *instead);
#endif
