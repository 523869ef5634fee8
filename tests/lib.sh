# tests/lib.sh - helpers for integration tests (sourced by tests/integration/*.sh).
#
# A test script prints one line per case: "ok NAME", "FAIL NAME: why" or
# "skip NAME: why".  tests/run-tests.sh counts them.  Helpers:
#   pp_mpirun N PROG ARGS...   run under mpirun -np N, root-safe, 1 BLAS thread
#   check NAME CMD...          run CMD; ok when it exits 0
#   check_fails NAME CODE PATTERN CMD...  CMD must exit CODE with one stderr
#                              line matching PATTERN (grep -E)
#   ok NAME / fail NAME WHY / skip NAME WHY
#   need_shared NAME FILE      skip (return 1) when ../shared lacks FILE
#   h5_same A B [NAME...]      same contents (h5dump, floats to 17 digits)
#                              apart from the creation time and the
#                              attributes and datasets NAME (statistics of
#                              the run such as timings)
#   kill_at SECONDS CMD...     run CMD in a session of its own, SIGKILL every
#                              process of it after SECONDS; 0 when the kill
#                              landed before CMD ended
#   crash_test NAME OUT SLOW CMD...  seeded SIGKILLs + reruns (see below)
#   $ROOT $BUILD $BIN $SHARED $T (a fresh scratch directory, removed at exit)

ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-build}
BIN=${BIN:-bin}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
case $BIN in /*) ;; *) BIN=$ROOT/$BIN ;; esac
SHARED=${PP_SHARED:-$ROOT/../shared}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OPENBLAS_NUM_THREADS=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# Sanitized builds: MPI's own allocations are not ours to report.
if [ -n "${PP_SANITIZED:-}" ]; then
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/pp-test.XXXXXX")
trap 'rm -rf "$T"' EXIT

ok() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; }
skip() { echo "skip $1: $2"; }

pp_mpirun() {
    np=$1
    shift
    mpirun --oversubscribe --bind-to none -np "$np" "$@"
}

check() {
    name=$1
    shift
    if out=$("$@" 2>&1); then ok "$name"; else fail "$name" "exit $? from: $* :: $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"; fi
}

check_fails() {
    name=$1 want=$2 pattern=$3
    shift 3
    "$@" >"$T/out.txt" 2>"$T/err.txt"
    code=$?
    nlines=$(grep -c . "$T/err.txt")
    if [ "$code" != "$want" ]; then
        fail "$name" "exit $code, want $want; stderr: $(head -c 300 "$T/err.txt")"
    elif [ "$nlines" -ne 1 ]; then
        fail "$name" "want one stderr line, got $nlines: $(head -c 300 "$T/err.txt" | tr '\n' '|')"
    elif ! grep -Eq -- "$pattern" "$T/err.txt"; then
        fail "$name" "stderr does not match /$pattern/: $(cat "$T/err.txt")"
    else
        ok "$name"
    fi
}

# train_step1_ln2 NAME POLICY PAIRS: 3 steps of pp-train with dpo and with
# bcr at -np 2; at step 1 the policy is its reference, so the loss is ln 2.
train_step1_ln2() {
    for loss in dpo bcr; do
        pp_mpirun 2 "$BIN/pp-train" --policy "$2" --pairs "$3" --out "$T/$1_$loss.h5" --loss $loss --bcr-budget 0.5 \
            --steps 3 --batch 4 --micro-batch 1 --lr 1e-3 --warmup 1 >"$T/$1.log" 2>&1
        l0=$(h5dump -d /metrics/loss "$T/$1_$loss.h5" 2>/dev/null | sed -n 's/.*(0): \([-0-9.e]*\).*/\1/p')
        [ -n "$l0" ] && awk "BEGIN{d=$l0-log(2); exit !(d < 1e-6 && d > -1e-6)}" && ok "$1_${loss}_step1_ln2 ($l0)" ||
            fail "$1_${loss}_step1_ln2" "loss '$l0': $(tail -n 2 "$T/$1.log" | tr '\n' ' ')"
    done
}

need_shared() {
    if [ -f "$SHARED/$2" ]; then return 0; fi
    skip "$1" "needs $SHARED/$2 (see README: test data)"
    return 1
}

h5_same() {
    ha=$1 hb=$2
    shift 2
    for f in "$ha" "$hb"; do
        h5dump -m '%.17g' "$f" 2>&1 | sed 1d |
            sed -E '/^ *\(0\): "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z"$/d' |
            awk -v skip=" $* " '
                skipping { if ($0 == ind "}") skipping = 0; next }
                /^ *(ATTRIBUTE|DATASET) "[^"]*" \{$/ {
                    name = $0; sub(/^ *[A-Z]+ "/, "", name); sub(/" \{$/, "", name)
                    if (index(skip, " " name " ")) { ind = $0; sub(/[^ ].*/, "", ind); skipping = 1; next }
                }
                { print }' >"$f.dump" || return 1
    done
    set -- "$ha" "$hb"
    cmp -s "$1.dump" "$2.dump" || { diff "$1.dump" "$2.dump" | head -n 4 | tr '\n' ' '; rm -f "$1.dump" "$2.dump"; return 1; }
    rm -f "$1.dump" "$2.dump"
}

kill_at() {
    kt=$1
    shift
    setsid "$@" >/dev/null 2>&1 &
    kpid=$!
    sleep "$kt"
    # mpirun puts each rank in a process group of its own, but all stay in
    # the session setsid made: kill that session (mpirun, ranks, judges)
    kill -9 $(ps -o pid= --sid $kpid) 2>/dev/null
    wait $kpid 2>/dev/null
    kcode=$?
    kw=0 # until no process of the session is left
    while [ -n "$(ps -o pid= --sid $kpid)" ] && [ $kw -lt 100 ]; do
        kill -9 $(ps -o pid= --sid $kpid) 2>/dev/null
        sleep 0.05
        kw=$((kw + 1))
    done
    [ "$kcode" = 137 ]
}

# crash_test NAME OUT SLOW CMD...
#   The issue-11 crash test of one stage.  CMD writes OUT (and may keep
#   partial state next to it: OUT.ckpt, OUT.parts, OUT.*).  SLOW is
#   environment assignments ("PP_TEST_STEP_DELAY_MS=50", or "") that widen
#   the run so kills land inside it; they never change the output.
#   1. the reference: CMD run slowed and uninterrupted, its wall time D;
#   2. PP_KILL_POINTS times (default 5): CMD slowed, SIGKILL of every
#      process at a moment drawn from PP_KILL_SEED (default 11) in
#      [0.03 D, 0.97 D]; OUT must then be absent or valid
#      (pp-inspect --validate); the same CMD again must succeed and write
#      an OUT equal to the reference (h5_same; the attributes and datasets
#      named in CRASH_IGNORE, statistics of the run, are left out).  Each point
#      starts afresh.
#   Prints one line per kill point and a summary line
#   "crash_NAME: P kill points, M mid-run, R resumed, E exact".
crash_test() {
    cname=$1 cout=$2 cslow=$3
    shift 3
    points=${PP_KILL_POINTS:-5}
    seed=${PP_KILL_SEED:-11}
    rm -rf "$cout" "$cout".*
    t0=$(date +%s.%N)
    if ! env $cslow "$@" >"$T/crash_ref.log" 2>&1; then
        fail "crash_${cname}_reference" "$(tail -n 2 "$T/crash_ref.log" | tr '\n' ' ')"
        return 1
    fi
    dur=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
    mv "$cout" "$T/crash_${cname}_ref.h5"
    rm -rf "$cout".*
    mid=0 resumed=0 exact=0 ci=1
    while [ $ci -le "$points" ]; do
        ct=$(awk -v s="$seed" -v n="$cname" -v i="$ci" -v d="$dur" 'BEGIN {
            h = 0; for (c = 1; c <= length(n); c++) h = (h * 31 + index("abcdefghijklmnopqrstuvwxyz-_", substr(n, c, 1))) % 100003
            x = (s * 7919 + h * 104729) % 2147483647; if (x < 1) x = 1
            # draw number 3i of a Park-Miller stream (exact in doubles)
            for (r = 0; r < 3 * i + 5; r++) x = (x * 16807) % 2147483647
            printf "%.3f", d * (0.03 + 0.94 * x / 2147483647) }')
        rm -rf "$cout" "$cout".*
        where="after it ended"
        if kill_at "$ct" env $cslow "$@"; then where=mid-run; mid=$((mid + 1)); fi
        why=""
        if [ -e "$cout" ] && ! "$BIN/pp-inspect" --validate "$cout" >"$T/crash_val.log" 2>&1; then
            why="after the kill $cout exists and is not valid: $(tail -n 1 "$T/crash_val.log")"
        elif ! "$@" >"$T/crash_rerun.log" 2>&1; then
            why="the rerun failed: $(tail -n 2 "$T/crash_rerun.log" | tr '\n' ' ')"
        elif ! cdiff=$(h5_same "$T/crash_${cname}_ref.h5" "$cout" ${CRASH_IGNORE:-}); then
            why="output differs from the uninterrupted run: $cdiff"
        fi
        how=restarted
        if grep -qi 'resum' "$T/crash_rerun.log"; then how=resumed; fi
        if [ -z "$why" ]; then
            exact=$((exact + 1))
            [ $how = resumed ] && resumed=$((resumed + 1))
            ok "crash_${cname}_$ci (SIGKILL at ${ct}s of ${dur}s, $where; $how; exact)"
        else fail "crash_${cname}_$ci" "SIGKILL at ${ct}s of ${dur}s, $where: $why"; fi
        ci=$((ci + 1))
    done
    rm -rf "$cout" "$cout".*
    echo "crash_${cname}: $points kill points, $mid mid-run, $resumed resumed, $exact exact"
    [ $mid -gt 0 ] && ok "crash_${cname}_kills_land_mid_run ($mid of $points)" ||
        fail "crash_${cname}_kills_land_mid_run" "every run ended before its kill (reference ${dur}s)"
}
