#!/bin/sh
# bench_dpo.sh - pp-train throughput, run by hand (not a test):
#   1. makes a realistic pairs file quickly: built-in suite prompts, a d=128
#      L=4 base model from a short pp-sft run, K=8 candidates from
#      pp-generate, oracle pairs from pp-rank;
#   2. runs pp-train (bcr, the same global batch and steps) at -np 1 and
#      -np 2, alternating, ROUNDS times each, and prints pairs/s of the
#      training loop (pp-train's own steps/s x batch: setup, the reference
#      log-probs and the final write are not in it), the -np 2 / -np 1
#      ratio (target >= 1.7x on 2 free cores), and MFU.
# MFU = model FLOPs per second / (ranks x one core's sgemm rate); model
# FLOPs per pair and the sgemm rate come from build/tests/tools/bench_dpo
# (see its header), measured in the same run.  The sgemm rate is given per
# wall second (what a core gave us just now, under the current load) and
# per CPU second (an unshared core).  The load average is printed around
# every run: on a shared machine the ratio says as much about the load as
# about pp-train.  Needs `make` (bin/ and build/tests/tools/bench_dpo).
#
#   sh tests/tools/bench_dpo.sh [STEPS] [BATCH] [ROUNDS]
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/bin
TOOL=$ROOT/build/tests/tools/bench_dpo
STEPS=${1:-40}
BATCH=${2:-32}
ROUNDS=${3:-2}
MICRO=4
[ "$STEPS" -ge 2 ] || { echo "bench_dpo: STEPS must be >= 2" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OPENBLAS_NUM_THREADS=1
T=$(mktemp -d "${TMPDIR:-/tmp}/pp-bench-dpo.XXXXXX")
trap 'rm -rf "$T"' EXIT
for f in "$BIN/pp-prompts" "$BIN/pp-sft" "$BIN/pp-generate" "$BIN/pp-rank" "$BIN/pp-train" "$TOOL"; do
    [ -x "$f" ] || { echo "bench_dpo: $f missing; run make first" >&2; exit 1; }
done
run() { # NP PROGRAM ARGS... (output kept in $T/log, CPU seconds of all ranks in $T/cpu)
    np=$1
    shift
    /usr/bin/time -f "%U %S" -o "$T/time" mpirun --oversubscribe --bind-to none -np "$np" "$@" >"$T/log" 2>&1 ||
        { echo "bench_dpo: failed: $*" >&2; tail -n 5 "$T/log" >&2; exit 1; }
    awk '{ print $1 + $2 }' "$T/time" >"$T/cpu"
}
load() { cut -d' ' -f1 /proc/loadavg; }

echo "pp-train benchmark: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
t0=$(date +%s)
run 1 "$BIN/pp-prompts" --suite builtin --split train --n 256 --seed 1 --out "$T/p.h5"
run 2 "$BIN/pp-sft" --out "$T/base.h5" --data "$T/p.h5" --arch dim=128,layers=4,heads=4,kv-heads=4,seq-len=96 \
    --steps 20 --batch 32 --lr 3e-3 --warmup 5 --checkpoint-every 0
run 2 "$BIN/pp-generate" --model "$T/base.h5" --prompts "$T/p.h5" --out "$T/c.h5" --k 8 --max-new-tokens 32
run 1 "$BIN/pp-rank" --candidates "$T/c.h5" --out "$T/r.h5" --method iterative --judge oracle
"$TOOL" --model "$T/base.h5" --pairs "$T/r.h5" --micro-batch $MICRO >"$T/model.txt" 2>&1 ||
    { cat "$T/model.txt" >&2; exit 1; }
field() { sed -n "s/.*$1 \([0-9.e+-]*\).*/\1/p" "$T/model.txt"; }
n_pairs=$(field pairs)
gf_pair=$(field gflop_per_pair)
sg_wall=$(sed -n 's/^sgemm_peak \([0-9.]*\) .*/\1/p' "$T/model.txt")
sg_cpu=$(sed -n 's/^sgemm_peak [0-9.]* \([0-9.]*\).*/\1/p' "$T/model.txt")
echo "pairs file: $n_pairs pairs, $(field tokens_per_pair) tokens per pair ($(field scored_per_pair) scored)," \
    "model $(field params) parameters (d=128 L=4), $gf_pair GFLOP per pair; setup $(($(date +%s) - t0)) s"
echo "sgemm 1024^3, one core: $sg_wall GFLOP/s per wall second, $sg_cpu per CPU second;" \
    "model-shaped $(sed -n 's/^sgemm_model \([0-9.]*\) \([0-9.]*\) \(.*\)/\1 \/ \2 (\3)/p' "$T/model.txt")"

ARGS="--policy $T/base.h5 --pairs $T/r.h5 --ref-cache $T/ref.h5 --loss bcr --bcr-budget 0.5 --beta 0.1
      --batch $BATCH --micro-batch $MICRO --lr 1e-4 --warmup 5 --checkpoint-every 0 --log-every 1000"
run 2 "$BIN/pp-train" $ARGS --steps 1 --out "$T/warm.h5" # reference log-probs, computed once, reused below

echo "pp-train --loss bcr, global batch $BATCH, micro-batch $MICRO, $STEPS steps, one BLAS thread per rank"
# CPU seconds of setup + one step, per rank count: subtracted below to get the CPU cost of a step
for np in 1 2; do
    rm -f "$T/t.h5"
    run $np "$BIN/pp-train" $ARGS --steps 1 --out "$T/t.h5"
    echo "$np $(cat "$T/cpu")" >>"$T/base_cpu"
done
printf '%-6s %3s %10s %10s %10s %12s\n' round np steps/s pairs/s "CPU s" "load before/after"
for r in $(seq 1 "$ROUNDS"); do
    for np in 1 2; do
        l0=$(load)
        rm -f "$T/t.h5"
        run $np "$BIN/pp-train" $ARGS --steps "$STEPS" --out "$T/t.h5"
        sps=$(sed -n 's/.* steps done in .*(\([0-9.e+]*\) steps\/s).*/\1/p' "$T/log" | tail -n 1)
        [ -n "$sps" ] || { echo "bench_dpo: no rate in pp-train's output" >&2; cat "$T/log" >&2; exit 1; }
        cpu=$(cat "$T/cpu")
        echo "$r $np $sps $cpu" >>"$T/rates"
        awk -v r="$r" -v np="$np" -v s="$sps" -v b="$BATCH" -v c="$cpu" -v l0="$l0" -v l1="$(load)" \
            'BEGIN { printf "%-6s %3d %10.3g %10.1f %10.2f %7s/%s\n", r, np, s, s * b, c, l0, l1 }'
    done
done
awk -v b="$BATCH" -v steps="$STEPS" -v gf="$gf_pair" -v sw="$sg_wall" -v sc="$sg_cpu" '
    FILENAME ~ /base_cpu$/ { base[$1] = $2; next }
    {
        rate[$1, $2] = $3 * b; if ($3 * b > best[$2]) best[$2] = $3 * b; rounds = $1
        c = ($4 - base[$2]) / (steps - 1) # CPU seconds of one step, all ranks
        if (!($2 in cstep) || c < cstep[$2]) cstep[$2] = c
    }
    END {
        for (r = 1; r <= rounds; r++) ratios = ratios sprintf(" %.2fx", rate[r, 2] / rate[r, 1])
        printf "-np 2 / -np 1 pairs/s (wall): best %.1f / %.1f = %.2fx (per round:%s); target >= 1.7x on 2 free cores\n",
            best[2], best[1], best[2] / best[1], ratios
        printf "CPU seconds per step (all ranks, setup subtracted, best round): -np 1 %.3f, -np 2 %.3f: parallel efficiency %.2f,\n" \
            "  i.e. %.2fx on 2 free cores if waiting were the only loss (time spinning in MPI counts as CPU, so this errs low)\n",
            cstep[1], cstep[2], cstep[1] / cstep[2], 2 * cstep[1] / cstep[2]
        for (np = 1; np <= 2; np++)
            printf "MFU -np %d: %.1f pairs/s x %.4f GFLOP = %.2f GFLOP/s = %.1f%% of %d x sgemm per wall second, %.1f%% of %d x sgemm per CPU second\n",
                np, best[np], gf, best[np] * gf, 100 * best[np] * gf / (np * sw), np, 100 * best[np] * gf / (np * sc), np
        printf "MFU per CPU second (-np 1): %.1f%% (%.1f pairs per CPU second, against sgemm per CPU second)\n",
            100 * b / cstep[1] * gf / sc, b / cstep[1]
    }' "$T/base_cpu" "$T/rates"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
