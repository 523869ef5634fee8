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

pp_status pp_dir_lock_take(pp_dir_lock *l, const char *dir, const char *out, pp_err *err) {
    l->fd = -1;
    snprintf(l->path, sizeof l->path, "%s/" PP_DIR_LOCK_NAME, dir);
    /* the file may be removed (with DIR) by a run that just finished: the
     * lock counts only while the path still names the locked file */
    for (int tries = 0; tries < 3; tries++) {
        int fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0) return pp_fail(err, PP_EINPUT, "%s: cannot create the lock file: %s", l->path, strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            char pid[32] = "";
            ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
            pid[n > 0 ? n : 0] = '\0';
            pid[strcspn(pid, "\n")] = '\0';
            close(fd);
            if (e == EWOULDBLOCK)
                return pp_fail(err, PP_EINPUT, "another run is writing %s (pid %s; lock %s): wait for it to end or stop it",
                               out, pid[0] ? pid : "unknown", l->path);
            return pp_fail(err, PP_ESYS, "%s: cannot lock: %s", l->path, strerror(e));
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(l->path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            char buf[32];
            int len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
            if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)len, 0) != len) { /* the pid is for messages only */
            }
            l->fd = fd;
            return PP_OK;
        }
        close(fd);
    }
    return pp_fail(err, PP_ESYS, "%s: the lock file keeps disappearing", l->path);
}

void pp_dir_unlock(pp_dir_lock *l) {
    if (l->fd >= 0) close(l->fd);
    l->fd = -1;
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
    p->lock.fd = -1;
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
    PP_TRY(pp_dir_lock_take(&p->lock, dir, out, err));
    pp_status st = check_key(p, run_key, err);
    if (st != PP_OK) {
        pp_parts_close(p);
        return st;
    }
    remove_files(p, 0);
    return PP_OK;
}

void pp_parts_close(pp_parts *p) { pp_dir_unlock(&p->lock); }

void pp_parts_remove(pp_parts *p, const pp_log *log) {
    remove_files(p, 1);
    pp_parts_close(p);
    if (rmdir(p->dir) != 0 && errno != ENOENT) pp_warn(log, "could not remove %s: %s", p->dir, strerror(errno));
}
