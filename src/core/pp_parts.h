/* pp_parts.h - the parts directory of a resumable stage.
 *
 * A stage that can be stopped keeps its partial work in one declared
 * directory next to its output (OUT.parts/ for pp-generate, pp-eval and
 * pp-rank, OUT.ckpt/ for the trainers).  The kit gives every stage the same
 * rules for it:
 *   - one run at a time: an exclusive flock on DIR/lock, which holds the
 *     writer's pid, so a second run on the same output is refused with
 *     "another run is writing OUT (pid N)";
 *   - only the same run resumes: DIR/run.key holds the run key
 *     (pp_runkey.h); a different key is refused naming its first
 *     difference; no key yet means a fresh start;
 *   - leftovers of a kill (*.tmp) are removed on open;
 *   - when the output is complete, pp_parts_remove deletes the directory.
 * Rank 0 calls these; the caller agrees the status over its ranks.  flock
 * works across nodes on Lustre (mounted with -o flock), GPFS and NFSv4. */
#ifndef PP_PARTS_H
#define PP_PARTS_H

#include "core/pp_error.h"
#include "core/pp_file.h"
#include "core/pp_log.h"

/* An exclusive lock on a resume directory (OUT.parts, OUT.ckpt): a second
 * run on the same --out fails at once, exit 1, with "another run is writing
 * OUT (pid N)", instead of both writing the same files.  Rank 0 only; DIR
 * must exist.  The lock is DIR/lock (flock; it holds the owner's pid) and
 * ends with the process or pp_dir_unlock; whoever removes DIR removes the
 * lock file first (PP_DIR_LOCK_NAME). */
#define PP_DIR_LOCK_NAME "lock"
typedef struct {
    int fd; /* -1: not held */
    char path[4200];
} pp_dir_lock;
PP_MUST_CHECK pp_status pp_dir_lock_take(pp_dir_lock *l, const char *dir, const char *out, pp_err *err);
/* Release (keeps the file); a no-op when not held. */
void pp_dir_unlock(pp_dir_lock *l);

typedef struct {
    char dir[PP_PATH_MAX];
    char out[PP_PATH_MAX]; /* the output the parts belong to (for messages) */
    pp_dir_lock lock;
    int resuming;          /* 1: run.key existed and matched */
} pp_parts;

/* Create or reopen dir for the output out, lock it, check or write the run
 * key, remove *.tmp leftovers. */
PP_MUST_CHECK pp_status pp_parts_open(pp_parts *p, const char *dir, const char *out, const char *run_key, pp_err *err);
/* dir/name into buf; a path that does not fit is an input error. */
PP_MUST_CHECK pp_status pp_parts_path(const pp_parts *p, const char *name, char *buf, size_t cap, pp_err *err);
/* Release the lock, keep the contents (the run stopped; it resumes later). */
void pp_parts_close(pp_parts *p);
/* The output is complete: delete every file of the directory, then the
 * directory (a warning when something is left). */
void pp_parts_remove(pp_parts *p, const pp_log *log);

#endif
