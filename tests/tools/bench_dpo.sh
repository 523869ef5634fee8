#!/bin/sh
# bench_dpo.sh - pp-train throughput, run by hand (not a test):
#   1. makes a realistic pairs file quickly: built-in suite prompts, a d=128
#      L=4 base model from a short pp-sft run, K=8 candidates from
#      pp-generate, oracle pairs from pp-rank;
#   2. runs pp-train (bcr, the same global batch and steps) at -np 1 and
#      -np 2, alternating, ROUNDS times each, and prints pairs/s of the
#      training loop (pp-train's own steps/s x batch: setup, the reference
#      log-probs and the final write are not in it) and the -np 2 / -np 1
#      ratio (target >= 1.7x on 2 free cores);
#   3. times the same step loop in parts (build/tests/tools/bench_dpo
#      --steps: gradient, waiting for the slowest rank, allreduce, AdamW)
#      and from CPU times estimates the ratio on 2 free cores;
#   4. MFU = model FLOPs per second / (ranks x the sgemm rate of one core);
#      FLOPs per pair and the sgemm rate (per CPU second: an unshared core,
#      best of a measurement before and after) come from bench_dpo.
# On a shared machine the wall-clock ratio says as much about the load as
# about pp-train: the load average is printed around every run.
# BIND=none|core (default core, Open MPI's default for 2 ranks): with
# --bind-to none two ranks sometimes share one core under load, and each
# gradient allreduce then costs ~0.3 s instead of ~2 ms.
# Needs `make` (bin/ and build/tests/tools/bench_dpo).
#
#   [BIND=core] sh tests/tools/bench_dpo.sh [STEPS] [BATCH] [ROUNDS]
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/bin
TOOL=$ROOT/build/tests/tools/bench_dpo
STEPS=${1:-40}
BATCH=${2:-32}
ROUNDS=${3:-2}
BIND=${BIND:-core}
MICRO=4
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OPENBLAS_NUM_THREADS=1
T=$(mktemp -d "${TMPDIR:-/tmp}/pp-bench-dpo.XXXXXX")
trap 'rm -rf "$T"' EXIT
for f in "$BIN/pp-prompts" "$BIN/pp-sft" "$BIN/pp-generate" "$BIN/pp-rank" "$BIN/pp-train" "$TOOL"; do
    [ -x "$f" ] || { echo "bench_dpo: $f missing; run make first" >&2; exit 1; }
done
run() { # NP PROGRAM ARGS... (output in $T/log)
    np=$1
    shift
    mpirun --oversubscribe --bind-to "$BIND" -np "$np" "$@" >"$T/log" 2>&1 ||
        { echo "bench_dpo: failed: $*" >&2; tail -n 5 "$T/log" >&2; exit 1; }
}
load() { cut -d' ' -f1 /proc/loadavg; }

echo "pp-train benchmark: $(nproc) cores, mpirun --bind-to $BIND, load $(cut -d' ' -f1-3 /proc/loadavg)"
t0=$(date +%s)
run 1 "$BIN/pp-prompts" --suite builtin --split train --n 256 --seed 1 --out "$T/p.h5"
run 2 "$BIN/pp-sft" --out "$T/base.h5" --data "$T/p.h5" --arch dim=128,layers=4,heads=4,kv-heads=4,seq-len=96 \
    --steps 20 --batch 32 --lr 3e-3 --warmup 5 --checkpoint-every 0
run 2 "$BIN/pp-generate" --model "$T/base.h5" --prompts "$T/p.h5" --out "$T/c.h5" --k 8 --max-new-tokens 32
run 1 "$BIN/pp-rank" --candidates "$T/c.h5" --out "$T/r.h5" --method iterative --judge oracle
MODEL="--model $T/base.h5 --pairs $T/r.h5 --micro-batch $MICRO"
"$TOOL" $MODEL >"$T/model.txt" 2>&1 || { cat "$T/model.txt" >&2; exit 1; }
field() { sed -n "s/.*$1 \([0-9.e+-]*\).*/\1/p" "$T/model.txt" | head -n 1; }
gf_pair=$(field gflop_per_pair)
echo "pairs file: $(field pairs) pairs, $(field tokens_per_pair) tokens per pair ($(field scored_per_pair) scored)," \
    "model $(field params) parameters (d=128 L=4), $gf_pair GFLOP per pair; setup $(($(date +%s) - t0)) s"

ARGS="--policy $T/base.h5 --pairs $T/r.h5 --ref-cache $T/ref.h5 --loss bcr --bcr-budget 0.5 --beta 0.1
      --batch $BATCH --micro-batch $MICRO --lr 1e-4 --warmup 5 --checkpoint-every 0 --log-every 1000"
run 2 "$BIN/pp-train" $ARGS --steps 1 --out "$T/warm.h5" # reference log-probs, computed once, reused below

echo "pp-train --loss bcr, global batch $BATCH, micro-batch $MICRO, $STEPS steps, one BLAS thread per rank"
printf '%-6s %3s %10s %10s %16s   %s\n' round np steps/s pairs/s "load before/after" \
    "step in parts (bench_dpo, per step: slowest rank's gradient CPU, allreduce mean wall / best, AdamW CPU)"
for r in $(seq 1 "$ROUNDS"); do
    for np in 1 2; do
        l0=$(load)
        rm -f "$T/t.h5"
        run $np "$BIN/pp-train" $ARGS --steps "$STEPS" --out "$T/t.h5"
        sps=$(sed -n 's/.* steps done in .*(\([0-9.e+]*\) steps\/s).*/\1/p' "$T/log" | tail -n 1)
        [ -n "$sps" ] || { echo "bench_dpo: no rate in pp-train's output" >&2; cat "$T/log" >&2; exit 1; }
        l1=$(load)
        run $np "$TOOL" $MODEL --steps "$STEPS" --batch "$BATCH"
        loop=$(grep '^loop' "$T/log")
        ar_mean=$(sed -n 's/.*allreduce \([0-9.]*\) s wall.*/\1/p' "$T/log" | awk '{ s += $1 } END { printf "%.4f", NR ? s / NR : 0 }')
        echo "$r $np $sps $loop $ar_mean" >>"$T/rates"
        echo "$loop" | awk -v r="$r" -v np="$np" -v s="$sps" -v b="$BATCH" -v l0="$l0" -v l1="$l1" -v am="$ar_mean" \
            '{ printf "%-6s %3d %10.3g %10.1f %8s/%-7s   %.4f s, %.4f / %.4f s, %.4f s\n", r, np, s, s * b, l0, l1, $11, am, $13, $15 }'
    done
done
"$TOOL" $MODEL >"$T/model2.txt" 2>&1 || { cat "$T/model2.txt" >&2; exit 1; }
sg_cpu=$(cat "$T/model.txt" "$T/model2.txt" | awk '/^sgemm_peak/ { if ($3 > m) m = $3 } END { print m }')
sg_wall=$(cat "$T/model.txt" "$T/model2.txt" | awk '/^sgemm_peak/ { printf "%s ", $2 }')
sg_model=$(cat "$T/model.txt" "$T/model2.txt" | awk '/^sgemm_model/ { if ($3 > m) { m = $3; s = $4 } } END { print m " (" s ")" }')
echo "sgemm 1024^3, one core: $sg_cpu GFLOP/s per CPU second (per wall second, before/after: $sg_wall);" \
    "model-shaped: $sg_model"

# rates: round np steps/s "loop" ranks R steps S batch B wall_per_step W grad_cpu_slowest G allreduce_best A adamw_cpu O ar_mean
awk -v b="$BATCH" -v gf="$gf_pair" -v sc="$sg_cpu" '
    {
        rate[$1, $2] = $3 * b; if ($3 * b > best[$2]) best[$2] = $3 * b; rounds = $1
        c = $14 + $16 + $18 # a step with every rank on its own core
        if (!($2 in cstep) || c < cstep[$2]) cstep[$2] = c
    }
    END {
        for (r = 1; r <= rounds; r++) ratios = ratios sprintf(" %.2fx", rate[r, 2] / rate[r, 1])
        printf "-np 2 / -np 1 pairs/s (pp-train, wall clock): best %.1f / %.1f = %.2fx (per round:%s); target >= 1.7x on 2 free cores\n",
            best[2], best[1], best[2] / best[1], ratios
        printf "estimate for 2 free cores (CPU time of the step parts, best round): -np 1 %.4f s/step = %.0f pairs/s, -np 2 %.4f s/step = %.0f pairs/s: %.2fx\n",
            cstep[1], b / cstep[1], cstep[2], b / cstep[2], cstep[1] / cstep[2]
        for (np = 1; np <= 2; np++)
            printf "MFU -np %d: wall clock %.1f pairs/s x %.4f GFLOP = %.2f GFLOP/s = %.1f%% of %d x %.1f; free-core estimate %.1f%%\n",
                np, best[np], gf, best[np] * gf, 100 * best[np] * gf / (np * sc), np, sc, 100 * b / cstep[np] * gf / (np * sc)
    }' "$T/rates"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
