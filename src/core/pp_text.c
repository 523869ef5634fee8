/* pp_text.c - UTF-8 validation and whole-file reads. */
#include "core/pp_text.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int pp_utf8_valid(const char *s, size_t len, size_t *bad) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned c = u[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) { i++; continue; }
        else if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { n = 2; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; }
        else goto invalid;
        for (size_t k = 1; k <= n; k++) {
            if (i + k >= len || (u[i + k] & 0xC0) != 0x80) goto invalid;
            cp = cp << 6 | (u[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            goto invalid;
        i += n + 1;
    }
    return 1;
invalid:
    if (bad) *bad = i;
    return 0;
}

size_t pp_utf8_sanitize(const char *in, size_t n, char *out) {
    static const char replacement[] = "\xEF\xBF\xBD";
    size_t o = 0, i = 0;
    while (i < n) {
        size_t bad = n - i;
        int ok = pp_utf8_valid(in + i, n - i, &bad);
        size_t good = ok ? n - i : bad;
        for (size_t j = 0; j < good; j++) {
            if (in[i + j] == '\0') {
                memcpy(out + o, replacement, 3);
                o += 3;
            } else out[o++] = in[i + j];
        }
        i += good;
        if (!ok) {
            memcpy(out + o, replacement, 3);
            o += 3;
            i++;
        }
    }
    out[o] = '\0';
    return o;
}

const char *pp_utf8_clean(const char *s, char **owned) {
    *owned = NULL;
    size_t n = strlen(s);
    if (pp_utf8_valid(s, n, NULL)) return s;
    char *o = malloc(3 * n + 1);
    if (!o) return NULL;
    pp_utf8_sanitize(s, n, o);
    *owned = o;
    return o;
}

const char *pp_text_shown(const char *s, const char *instead) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return instead;
    return s;
}
