#!/bin/sh
# bench_rank.sh - does a slow judge keep every rank busy?  pp-rank with an
# external judge that sleeps MS milliseconds per call (judge_slow), timed at
# -np 1 and -np 2; prints both times and their ratio (ideal 0.5, target
# <= 0.55).  Usage: sh tests/tools/bench_rank.sh [MS [PROMPTS [K [METHOD]]]]
# Run from the repository root after `make`.
set -eu
MS=${1:-50}
NP=${2:-24}
K=${3:-8}
METHOD=${4:-iterative}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/bin
TOOLS=$ROOT/build/tests/tools
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OPENBLAS_NUM_THREADS=1
T=$(mktemp -d "${TMPDIR:-/tmp}/bench-rank.XXXXXX")
trap 'rm -rf "$T"' EXIT

"$BIN/pp-prompts" --suite builtin --split test --n "$NP" --out "$T/p.h5" >/dev/null
"$TOOLS/make_candidates" "$T/p.h5" "$T/c.h5" "$K" suite
calls=$((NP * 2 * (K - 1)))
[ "$METHOD" = iterative ] || calls="(see the output)"
echo "pp-rank --method $METHOD: $NP prompts x K=$K, judge_slow $MS ms per call, $calls calls"

now() { date +%s.%N; }
run() { # NP -> prints wall seconds and the stage's own ranking seconds
    t0=$(now)
    mpirun --oversubscribe --bind-to none -np "$1" "$BIN/pp-rank" --candidates "$T/c.h5" --out "$T/r$1.h5" \
        --method "$METHOD" --judge cmd --judge-cmd "$TOOLS/judge_slow $MS" >"$T/log$1" 2>&1
    t1=$(now)
    inner=$(sed -n 's/.*; \([0-9.]*\)s$/\1/p' "$T/log$1" | tail -n 1)
    awk -v a="$t0" -v b="$t1" -v i="$inner" 'BEGIN { printf "%.3f %s\n", b - a, i }'
}
set -- $(run 1)
w1=$1 i1=$2
set -- $(run 2)
w2=$1 i2=$2
printf 'np 1: %6.2f s wall (ranking %s s)\n' "$w1" "$i1"
printf 'np 2: %6.2f s wall (ranking %s s)\n' "$w2" "$i2"
awk -v w1="$w1" -v w2="$w2" -v i1="$i1" -v i2="$i2" \
    'BEGIN { printf "ratio np2/np1: wall %.3f, ranking %.3f (target <= 0.55)\n", w2 / w1, i2 / i1 }'
