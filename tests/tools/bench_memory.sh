#!/bin/sh
# bench_memory.sh - peak memory per rank and step time at -np 1 and -np 2:
# unsharded, --shard-optimizer, --shard-optimizer --recompute.  Run by hand
# (not a test).  One table row per run: the stage's own estimate (made
# before allocating) and the measured peak per rank (getrusage high-water
# mark, largest rank), the training loop's wall time per step (its own
# steps/s).  The machine this ran on was shared with other jobs: compare
# rows of one run (the same load, printed), never a figure alone.
#
#   sh tests/tools/bench_memory.sh sft [STEPS] [BATCH] [MICRO] [ARCH]
#       pp-sft on a random model of ARCH with the byte tokenizer
#       (default d=1024/L=16, hidden 2816: ~206M parameters), built-in
#       suite demonstrations (short: ~100 tokens).
#   sh tests/tools/bench_memory.sh dpo [STEPS] [BATCH] [MICRO] [ARCH] [VOCAB] [PROMPT] [RESPONSE] [NPS]
#       pp-train (DPO) on a random model of ARCH with a VOCAB-token
#       synthetic vocabulary and random-token pairs of PROMPT + RESPONSE
#       tokens (build/tests/tools/make_big_fixture): long sequences, where
#       activations matter.  NPS: the rank counts (default "1 2").
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/bin}
FIX=${FIX:-$ROOT/build/tests/tools/make_big_fixture}
MODE=${1:-sft}
STEPS=${2:-2}
BATCH=${3:-4}
MICRO=${4:-2}
ARCH=${5:-dim=1024,layers=16,heads=16,kv-heads=16,hidden=2816,seq-len=256}
VOCAB=${6:-4096}
PROMPT=${7:-64}
RESPONSE=${8:-192}
NPS=${9:-1 2}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OPENBLAS_NUM_THREADS=1
T=$(mktemp -d "${TMPDIR:-/tmp}/pp-bench-mem.XXXXXX")
trap 'rm -rf "$T"' EXIT
if [ "$MODE" = dpo ]; then
    "$FIX" model "$ARCH,tied=1" "$VOCAB" "$T/policy.h5" || exit 1
    "$FIX" pairs "$T/policy.h5" "$T/pairs.h5" $((BATCH * 4)) "$PROMPT" "$RESPONSE" || exit 1
    PROG="$BIN/pp-train --policy $T/policy.h5 --pairs $T/pairs.h5 --ref-cache $T/ref.h5"
else
    "$BIN/pp-prompts" --out "$T/p.h5" --suite builtin --split train --n 200 --seed 3 >/dev/null 2>&1
    PROG="$BIN/pp-sft --data $T/p.h5 --arch $ARCH"
fi
printf '| ranks | options | estimate per rank (MiB) | peak per rank (MiB) | s per step | load before |\n'
printf '|---|---|---|---|---|---|\n'
for np in $NPS; do
    for opts in "" "--shard-optimizer" "--shard-optimizer --recompute"; do
        load=$(cut -d' ' -f1 /proc/loadavg)
        rm -rf "$T/m.h5" "$T/m.h5.ckpt"
        mpirun --oversubscribe --bind-to none -np $np $PROG --out "$T/m.h5" \
            --steps "$STEPS" --batch "$BATCH" --micro-batch "$MICRO" --checkpoint-every 0 $opts >"$T/log" 2>&1
        est=$(sed -n 's/.*estimated \([0-9.]*\) MiB.*/\1/p' "$T/log")
        peak=$(sed -n 's/.*peak memory per rank \([0-9.]*\) MiB.*/\1/p' "$T/log")
        rate=$(tr '\r' '\n' <"$T/log" | sed -n 's/.* steps done in .* (\([0-9.e+-]*\) steps\/s).*/\1/p' | tail -n 1)
        per=$(echo "$rate" | awk '$1 > 0 { printf "%.1f", 1 / $1 }')
        printf '| %d | %s | %s | %s | %s | %s |\n' $np "${opts:-(none)}" "$est" "$peak" "$per" "$load"
        [ -n "$peak" ] || sed 's/^/    /' "$T/log" | tail -n 3
    done
done
