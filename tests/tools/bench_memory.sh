#!/bin/sh
# bench_memory.sh - peak memory per rank and step time of pp-sft on a
# random d=1024/L=16 model (~206M parameters, byte tokenizer) at -np 1 and
# -np 2: unsharded, --shard-optimizer, --shard-optimizer --recompute.  Run
# by hand (not a test).  Prints one table row per run: the stage's own
# estimate (made before allocating) and measured peak per rank (getrusage
# high-water mark, largest rank), the training loop's wall time per step.
# The machine this ran on was shared with other jobs: compare rows of one
# run (the same load), never a figure alone.
#
#   sh tests/tools/bench_memory.sh [STEPS] [BATCH] [MICRO] [ARCH]
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/bin}
STEPS=${1:-2}
BATCH=${2:-4}
MICRO=${3:-2}
ARCH=${4:-dim=1024,layers=16,heads=16,kv-heads=16,hidden=2816,seq-len=128}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OPENBLAS_NUM_THREADS=1
T=$(mktemp -d "${TMPDIR:-/tmp}/pp-bench-mem.XXXXXX")
trap 'rm -rf "$T"' EXIT
"$BIN/pp-prompts" --out "$T/p.h5" --suite builtin --split train --n 200 --seed 3 >/dev/null 2>&1
printf '| ranks | options | estimate per rank (MiB) | peak per rank (MiB) | s per step | load before |\n'
printf '|---|---|---|---|---|---|\n'
for np in 1 2; do
    for opts in "" "--shard-optimizer" "--shard-optimizer --recompute"; do
        load=$(cut -d' ' -f1 /proc/loadavg)
        rm -rf "$T/m.h5" "$T/m.h5.ckpt"
        mpirun --oversubscribe --bind-to none -np $np "$BIN/pp-sft" --out "$T/m.h5" --data "$T/p.h5" --arch "$ARCH" \
            --steps "$STEPS" --batch "$BATCH" --micro-batch "$MICRO" --checkpoint-every 0 $opts >"$T/log" 2>&1
        est=$(sed -n 's/.*estimated \([0-9.]*\) MiB.*/\1/p' "$T/log")
        peak=$(sed -n 's/.*peak memory per rank \([0-9.]*\) MiB.*/\1/p' "$T/log")
        secs=$(tr '\r' '\n' <"$T/log" | sed -n 's/.* steps done in \([0-9.]*\)s.*/\1/p' | tail -n 1)
        per=$(echo "$secs" | awk -v n="$STEPS" '$1 != "" { printf "%.1f", $1 / n }')
        printf '| %d | %s | %s | %s | %s | %s |\n' $np "${opts:-(none)}" "$est" "$peak" "$per" "$load"
        [ -n "$peak" ] || sed 's/^/    /' "$T/log" | tail -n 3
    done
done
