/* pp_text.h - small text utilities shared by importers and judges. */
#ifndef PP_TEXT_H
#define PP_TEXT_H

#include <stddef.h>

/* 1 when s[0..len) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF);
 * else 0 and *bad = offset of the first bad byte. */
int pp_utf8_valid(const char *s, size_t len, size_t *bad);
/* Read a whole file (NUL-terminated copy, may contain NULs: *len tells).
 * Refuses files larger than max_bytes.  Returns 0 or an errno-like code:
 * -1 too large; positive errno otherwise. */
int pp_read_file(const char *path, size_t max_bytes, char **data, size_t *len);

#endif
