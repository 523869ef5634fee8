/* pp_parts.c - lock, run key, clean-up of a stage's parts directory
 * (pp_parts.h). */
#include "core/pp_parts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/pp_runkey.h"

#define RUN_KEY_MAX (1 << 20)

pp_status pp_parts_path(const pp_parts *p, const char *name, char *buf, size_t cap, pp_err *err) {
    if ((size_t)snprintf(buf, cap, "%s/%s", p->dir, name) >= cap)
        return pp_fail(err, PP_EINPUT, "%s/%s: path too long", p->dir, name);
    return PP_OK;
}

/* Take the lock or name who holds it. */
static pp_status take_lock(pp_parts *p, pp_err *err) {
    char path[PP_PATH_MAX];
    PP_TRY(pp_parts_path(p, "lock", path, sizeof path, err));
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return pp_fail(err, PP_EINPUT, "%s: cannot open the lock file: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int why = errno;
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(fd);
        if (why == EWOULDBLOCK)
            return pp_fail(err, PP_EINPUT, "another run is writing %s (pid %s, lock %s); wait for it or stop it",
                           p->out, pid[0] ? pid : "unknown", path);
        return pp_fail(err, PP_EINPUT, "%s: cannot lock: %s", path, strerror(why));
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) { /* the pid is only for the message */ }
    p->lock_fd = fd;
    return PP_OK;
}

/* Compare with the saved key, or save this one (atomically). */
static pp_status check_key(pp_parts *p, const char *run_key, pp_err *err) {
    char path[PP_PATH_MAX], tmp[PP_PATH_MAX + 8];
    PP_TRY(pp_parts_path(p, "run.key", path, sizeof path, err));
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    char *saved;
    size_t len;
    struct stat sb;
    if (stat(path, &sb) == 0) {
        PP_TRY(pp_read_file(path, RUN_KEY_MAX, "run key", &saved, &len, err));
        char what[512];
        int same = strlen(saved) == len && pp_runkey_same(saved, run_key, what, sizeof what);
        if (strlen(saved) != len) snprintf(what, sizeof what, "the saved key is not text");
        free(saved);
        if (!same)
            return pp_fail(err, PP_EINPUT,
                           "%s holds partial results of a different run (%s); rerun with the same inputs and "
                           "options, or delete %s to start over", p->dir, what, p->dir);
        p->resuming = 1;
        return PP_OK;
    }
    FILE *f = fopen(tmp, "wb");
    int ok = f && fputs(run_key, f) >= 0;
    if (f && fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        int why = errno;
        unlink(tmp);
        return pp_fail(err, PP_ESYS, "%s: cannot write: %s", path, strerror(why));
    }
    return PP_OK;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* Remove the directory's files: those ending in .tmp, or all. */
static void remove_files(const pp_parts *p, int everything) {
    DIR *d = opendir(p->dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (!everything && !ends_with(e->d_name, ".tmp")) continue;
        char path[PP_PATH_MAX + 256];
        snprintf(path, sizeof path, "%s/%s", p->dir, e->d_name);
        struct stat sb;
        if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode)) unlink(path);
    }
    closedir(d);
}

pp_status pp_parts_open(pp_parts *p, const char *dir, const char *out, const char *run_key, pp_err *err) {
    memset(p, 0, sizeof *p);
    p->lock_fd = -1;
    if ((size_t)snprintf(p->dir, sizeof p->dir, "%s", dir) >= sizeof p->dir - 64)
        return pp_fail(err, PP_EINPUT, "%s: path too long", dir);
    snprintf(p->out, sizeof p->out, "%s", out);
    struct stat sb;
    if (stat(dir, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode))
            return pp_fail(err, PP_EINPUT, "%s exists and is not a directory; remove it (partial results of %s go there)",
                           dir, out);
    } else if (mkdir(dir, 0777) != 0)
        return pp_fail(err, PP_EINPUT, "%s: cannot create the directory for partial results: %s", dir, strerror(errno));
    PP_TRY(take_lock(p, err));
    pp_status st = check_key(p, run_key, err);
    if (st != PP_OK) {
        pp_parts_close(p);
        return st;
    }
    remove_files(p, 0);
    return PP_OK;
}

void pp_parts_close(pp_parts *p) {
    if (p->lock_fd >= 0) close(p->lock_fd);
    p->lock_fd = -1;
}

void pp_parts_remove(pp_parts *p, const pp_log *log) {
    remove_files(p, 1);
    pp_parts_close(p);
    if (rmdir(p->dir) != 0 && errno != ENOENT) pp_warn(log, "could not remove %s: %s", p->dir, strerror(errno));
}
