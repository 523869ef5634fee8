#!/bin/sh
# bench_score.sh - scoring through the inference pass (score.h) against a
# build from before it, run by hand (not a test):
#   1. makes a pairs file: built-in suite prompts, a model of ARCH
#      (default dim=128,layers=4,heads=4,hidden=344,seq-len=160) from a
#      short pp-sft run, K=4 candidates of up to 96 tokens, oracle pairs;
#   2. pp-train's reference phase (--steps 1, a fresh --ref-cache): the
#      wall seconds pp-train reports for "reference log-probs computed",
#      and its user CPU seconds: the run's user CPU minus that of the same
#      run reusing the cache (the model load, the step and the write
#      cancel); old and new binaries alternating, ROUNDS times each;
#   3. pp-rm (features 'mean': one forward pass per sequence, then a tiny
#      Newton fit): wall and user CPU seconds, old and new alternating;
#   4. bench_train (training steps and MFU, d=256/L=4 and d=512/L=8), old
#      and new tool binaries, one run each (BENCH_TRAIN=0 skips it).
# Every ratio is old / new from the same run.  On a shared machine wall
# times say as much about the load as about the code: the user CPU time
# and the load average are printed too.
#
#   [ARCH=dim=..,layers=..] sh tests/tools/bench_score.sh OLD_DIR [ROUNDS]
# OLD_DIR holds bin/ (pp-train, pp-rm) and bench_train of the old build
# (e.g. `git worktree add /tmp/old <rev> && make -C /tmp/old all
# build/tests/tools/bench_train`, then OLD_DIR=/tmp/old/build/.. with
# bin/ and build/tests/tools/bench_train in it).
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OLD=${1:?usage: bench_score.sh OLD_DIR [ROUNDS]}
ROUNDS=${2:-2}
ARCH=${ARCH:-dim=128,layers=4,heads=4,hidden=344,seq-len=160}
NEW=$ROOT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
T=$(mktemp -d "${TMPDIR:-/tmp}/pp-bench-score.XXXXXX")
trap 'rm -rf "$T"' EXIT
tool() { # DIR: the bench_train of that build
    if [ -x "$1/build/tests/tools/bench_train" ]; then echo "$1/build/tests/tools/bench_train"; else echo "$1/bench_train"; fi
}
for f in "$OLD/bin/pp-train" "$OLD/bin/pp-rm" "$NEW/bin/pp-train" "$NEW/bin/pp-rm" "$(tool "$OLD")" "$(tool "$NEW")"; do
    [ -x "$f" ] || { echo "bench_score: $f missing" >&2; exit 1; }
done
B=$NEW/bin
echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"

# 1. pairs
"$B/pp-prompts" --out "$T/p.h5" --suite builtin --split train --n 400 --seed 5 >/dev/null 2>&1 &&
    "$B/pp-sft" --out "$T/m.h5" --data "$T/p.h5" --arch "$ARCH" \
        --steps 20 --batch 16 >/dev/null 2>&1 &&
    "$B/pp-generate" --model "$T/m.h5" --prompts "$T/p.h5" --out "$T/c.h5" --k 4 --max-new-tokens 96 \
        --temperature 1.2 >/dev/null 2>&1 &&
    "$B/pp-rank" --candidates "$T/c.h5" --out "$T/r.h5" --method iterative --judge oracle >/dev/null 2>&1 ||
    { echo "bench_score: could not make the pairs" >&2; exit 1; }
npairs=$(h5dump -a /n_pairs "$T/r.h5" 2>/dev/null | sed -n 's/.*(0): \([0-9]*\).*/\1/p')
echo "pairs: $npairs (model $ARCH)"

# 2. reference phase
train_once() { # DIR -> "wall_of_the_reference_phase user_cpu_of_the_run"; keeps the cache when $2 = reuse
    rm -rf "$T/o.h5" "$T/o.h5.ckpt"
    [ "${2:-}" = reuse ] || rm -f "$T/o.ref.h5"
    /usr/bin/time -f "%U" -o "$T/time" "$1/bin/pp-train" --policy "$T/m.h5" --pairs "$T/r.h5" --out "$T/o.h5" \
        --ref-cache "$T/o.ref.h5" --steps 1 --batch 8 --micro-batch 4 >"$T/train.log" 2>&1
    w=$(sed -n 's/.*reference log-probs computed into .* (\([0-9.]*\)s).*/\1/p' "$T/train.log")
    echo "${w:-0} $(cat "$T/time")"
}
ref_phase() { # DIR -> "wall cpu" of one reference phase
    set -- "$1" "$(train_once "$1")" "$(train_once "$1" reuse)"
    echo "${2% *} $(awk "BEGIN{printf \"%.2f\", ${2#* } - ${3#* }}")"
}
best() { sort -g | head -n 1; }
: >"$T/ref_old"; : >"$T/ref_new"
for i in $(seq "$ROUNDS"); do
    ref_phase "$OLD" >>"$T/ref_old"
    ref_phase "$NEW" >>"$T/ref_new"
done
ro=$(cut -d' ' -f1 "$T/ref_old" | best); rn=$(cut -d' ' -f1 "$T/ref_new" | best)
co=$(cut -d' ' -f2 "$T/ref_old" | best); cn=$(cut -d' ' -f2 "$T/ref_new" | best)
echo "reference phase (best of $ROUNDS): wall old $ro new $rn old/new $(awk "BEGIN{printf \"%.2f\", $ro/$rn}"); user CPU old $co new $cn old/new $(awk "BEGIN{printf \"%.2f\", $co/$cn}")  [wall cpu, old: $(tr '\n' ' ' <"$T/ref_old")new: $(tr '\n' ' ' <"$T/ref_new")]"

# 3. pp-rm
rm_times() { # DIR -> "wall user"
    rm -f "$T/rm.h5"
    /usr/bin/time -f "%e %U" -o "$T/time" "$1/bin/pp-rm" --pairs "$T/r.h5" --model "$T/m.h5" --out "$T/rm.h5" \
        --features mean >/dev/null 2>&1
    cat "$T/time"
}
: >"$T/rm_old"; : >"$T/rm_new"
for i in $(seq "$ROUNDS"); do
    rm_times "$OLD" >>"$T/rm_old"
    rm_times "$NEW" >>"$T/rm_new"
done
wo=$(cut -d' ' -f1 "$T/rm_old" | best); wn=$(cut -d' ' -f1 "$T/rm_new" | best)
uo=$(cut -d' ' -f2 "$T/rm_old" | best); un=$(cut -d' ' -f2 "$T/rm_new" | best)
echo "pp-rm --features mean (best of $ROUNDS): wall old $wo new $wn old/new $(awk "BEGIN{printf \"%.2f\", $wo/$wn}"); user CPU old $uo new $un old/new $(awk "BEGIN{printf \"%.2f\", $uo/$un}")"

# 4. training steps
[ "${BENCH_TRAIN:-1}" = 0 ] && exit 0
echo "bench_train, old build:"
"$(tool "$OLD")" --steps 2 2>&1 | sed 's/^/  /'
echo "bench_train, new build:"
"$(tool "$NEW")" --steps 2 2>&1 | sed 's/^/  /'
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
