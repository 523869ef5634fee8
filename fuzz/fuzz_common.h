/* fuzz_common.h - helpers shared by the libFuzzer targets in fuzz/.
 *
 * The library's readers take file paths, so each input is handed over as an
 * in-memory file (memfd) reached through /proc/self/fd/N: nothing touches
 * the disk and nothing is left behind when a run is killed.  A few targets
 * also write files (save then compare); they use one scratch directory made
 * at start-up and removed at exit.
 *
 * Harness failures (cannot create a memfd, ...) abort: they are not findings
 * about the library, but they must not pass silently either. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define FUZZ_SLOTS 4

static inline void fuzz_die(const char *what) {
    perror(what);
    abort();
}

/* Put data[0..size) into in-memory file number `slot` (created on first use)
 * and return a path that opens it. */
static inline const char *fuzz_file(const uint8_t *data, size_t size, int slot) {
    static int fds[FUZZ_SLOTS] = {-1, -1, -1, -1};
    static char paths[FUZZ_SLOTS][64];
    if (fds[slot] < 0) {
        fds[slot] = memfd_create("pp-fuzz-input", 0);
        if (fds[slot] < 0) fuzz_die("memfd_create");
        snprintf(paths[slot], sizeof paths[slot], "/proc/self/fd/%d", fds[slot]);
    }
    if (ftruncate(fds[slot], 0) != 0) fuzz_die("ftruncate");
    size_t done = 0;
    while (done < size) {
        ssize_t w = pwrite(fds[slot], data + done, size - done, (off_t)done);
        if (w <= 0) fuzz_die("pwrite");
        done += (size_t)w;
    }
    return paths[slot];
}

/* A NUL-terminated copy of the input (embedded NULs end the string early,
 * as they would for any C string the library is given). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) fuzz_die("malloc");
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Whole file into a new buffer; *size receives its length. */
static inline uint8_t *fuzz_slurp(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) fuzz_die(path);
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) fuzz_die("fstat");
    uint8_t *buf = malloc((size_t)sb.st_size + 1);
    if (!buf) fuzz_die("malloc");
    *size = fread(buf, 1, (size_t)sb.st_size, f);
    fclose(f);
    return buf;
}

static char fuzz_dir_path[256];

static inline void fuzz_remove_dir(void) {
    DIR *d = opendir(fuzz_dir_path);
    if (!d) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", fuzz_dir_path, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(fuzz_dir_path);
}

/* A private scratch directory (tmpfs when there is one), removed at exit. */
static inline const char *fuzz_dir(void) {
    if (!fuzz_dir_path[0]) {
        struct stat sb;
        const char *base = stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/dev/shm" : "/tmp";
        snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/pp-fuzz-XXXXXX", base);
        if (!mkdtemp(fuzz_dir_path)) fuzz_die("mkdtemp");
        atexit(fuzz_remove_dir);
    }
    return fuzz_dir_path;
}

/* A property the library promises does not hold: report it as a crash. */
#define FUZZ_CHECK(cond)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                  \
        }                                                                             \
    } while (0)

/* pp_error.h promises one line per error: non-empty, no newline. */
#define FUZZ_CHECK_ERR(st, err)                                                       \
    do {                                                                              \
        if ((st) != PP_OK) {                                                          \
            FUZZ_CHECK((err).msg[0] != '\0');                                         \
            FUZZ_CHECK(strchr((err).msg, '\n') == NULL);                              \
            FUZZ_CHECK((st) == PP_EINPUT || (st) == PP_ESYS);                         \
        }                                                                             \
    } while (0)

#endif
