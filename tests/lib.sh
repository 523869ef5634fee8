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

need_shared() {
    if [ -f "$SHARED/$2" ]; then return 0; fi
    skip "$1" "needs $SHARED/$2 (see README: test data)"
    return 1
}
