/* fake_stage - TEST FIXTURE, not a pipeline stage.  A resumable MPI program
 * that behaves like a training stage towards Slurm, so the requeue
 * mechanics of the slurm/ scripts can be tested without a real stage
 * (tests/integration/slurm.sh uses it when bin/pp-train is not built).
 *
 * It runs --steps steps of --step-ms milliseconds each.  Every step folds a
 * value computed by all ranks (8 fixed shards spread over the ranks, XOR
 * reduced, so the result does not depend on the rank count) into a running
 * 64-bit value.  After each step rank 0 saves "step value" to OUT.state
 * (write .tmp, rename).  On SIGTERM/SIGUSR1 it stops at the next step
 * boundary and exits 75; run again with the same options it resumes from
 * OUT.state.  At the end it writes OUT (one line) and removes OUT.state.
 * --needs FILE makes it fail (exit 1) unless FILE exists: a dependent job
 * that started too early is caught.  --policy/--pairs are accepted and
 * ignored so it can stand in for pp-train in a job file. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stage/pp_stage.h"

static uint64_t mix64(uint64_t x) { /* splitmix64 finaliser */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static pp_status read_state(const char *path, long long steps, long long *step, uint64_t *value, pp_err *err) {
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return PP_OK; /* fresh start */
        return pp_fail(err, PP_ESYS, "%s: cannot open: %s", path, strerror(errno));
    }
    long long s = -1;
    uint64_t v = 0;
    int got = fscanf(f, "%lld %" SCNx64, &s, &v);
    fclose(f);
    if (got != 2 || s < 0 || s > steps)
        return pp_fail(err, PP_EINPUT, "%s: not a state file of this run (step %lld of %lld)", path, s, steps);
    *step = s;
    *value = v;
    return PP_OK;
}

static pp_status write_text(const char *path, const char *text, pp_err *err) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return pp_fail(err, PP_ESYS, "%s: cannot write: %s", tmp, strerror(errno));
    int bad = fputs(text, f) < 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) return pp_fail(err, PP_ESYS, "%s: cannot write: %s", path, strerror(errno));
    return PP_OK;
}

int main(int argc, char **argv) {
    const char *out = NULL, *needs = NULL, *policy = NULL, *pairs = NULL;
    long long steps = 20, step_ms = 100, seed = 1;
    pp_option opts[] = {
        {"out", OPT_STRING, &out, "FILE", "result file (one line); progress in FILE.state", NULL, 1, 0, 0},
        {"steps", OPT_INT64, &steps, "N", "number of steps", NULL, 0, 1, 1e6},
        {"step-ms", OPT_INT64, &step_ms, "MS", "milliseconds per step", NULL, 0, 0, 60000},
        {"seed", OPT_INT64, &seed, "S", "seed of the computed value", NULL, 0, 0, 9.2e18},
        {"needs", OPT_STRING, &needs, "FILE", "fail unless FILE exists", NULL, 0, 0, 0},
        {"policy", OPT_STRING, &policy, "FILE", "ignored (stands in for pp-train)", NULL, 0, 0, 0},
        {"pairs", OPT_STRING, &pairs, "FILE", "ignored (stands in for pp-train)", NULL, 0, 0, 0},
    };
    pp_cli cli = {.synopsis = "--out FILE [--steps N --step-ms MS --seed S --needs FILE]",
                  .description = "Test fixture: a resumable fake stage for the Slurm requeue tests.",
                  .opts = opts, .n_opts = (int)(sizeof opts / sizeof opts[0])};
    pp_stage s;
    int rc = pp_stage_begin(&s, "fake_stage", &cli, argc, argv);
    if (rc >= 0) return rc;

    pp_status st = PP_OK;
    char state_path[4200];
    snprintf(state_path, sizeof state_path, "%s.state", out);
    if (needs && access(needs, F_OK) != 0) st = pp_fail(&s.err, PP_EINPUT, "%s: needed file is missing", needs);

    long long step = 0;
    uint64_t value = (uint64_t)seed;
    if (st == PP_OK && s.rank == 0) st = read_state(state_path, steps, &step, &value, &s.err);
    st = pp_agree(s.comm, st, &s.err);
    MPI_Bcast(&step, 1, MPI_LONG_LONG, 0, s.comm);
    MPI_Bcast(&value, 1, MPI_UINT64_T, 0, s.comm);
    if (st == PP_OK)
        pp_info(&s.log, "%s at step %lld of %lld on %d rank(s)", step ? "resuming" : "starting", step, steps, s.size);

    struct timespec pause = {step_ms / 1000, (step_ms % 1000) * 1000000L};
    while (st == PP_OK && step < steps) {
        if (pp_stop_agreed(s.comm)) {
            st = pp_fail(&s.err, PP_EINTERRUPTED, "stopped by a signal at step %lld of %lld; state saved in %s",
                         step, steps, state_path);
            break;
        }
        nanosleep(&pause, NULL);
        uint64_t mine = 0, all = 0;
        for (int shard = s.rank; shard < 8; shard += s.size)
            mine ^= mix64((uint64_t)seed * 0x9e3779b97f4a7c15ULL + (uint64_t)step * 8 + (uint64_t)shard);
        MPI_Allreduce(&mine, &all, 1, MPI_UINT64_T, MPI_BXOR, s.comm);
        value = mix64(value ^ all);
        step++;
        if (s.rank == 0) {
            char line[64];
            snprintf(line, sizeof line, "%lld %016" PRIx64 "\n", step, value);
            st = write_text(state_path, line, &s.err);
            pp_info(&s.log, "step %lld/%lld", step, steps);
        }
        st = pp_agree(s.comm, st, &s.err);
    }
    if (st == PP_OK && s.rank == 0) {
        char line[128];
        snprintf(line, sizeof line, "steps=%lld seed=%lld value=%016" PRIx64 "\n", steps, seed, value);
        st = write_text(out, line, &s.err);
        if (st == PP_OK) remove(state_path);
    }
    if (st == PP_OK) pp_info(&s.log, "wrote %s", out);
    return pp_stage_end(&s, st);
}
