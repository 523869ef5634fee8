#!/bin/sh
# bench_generate.sh - pp-generate throughput, run by hand (not a test):
#   1. tokens/s of -np 2 against -np 1 (one BLAS thread per rank), on
#      stories260K with the TinyStories prompts and on a random d256/L4
#      model with built-in suite prompts; target >= 1.8x on 2 free cores;
#   2. batched K = 8 against the same candidates one at a time
#      (build/tests/tools/bench_generate); target >= 4x.
# Ratios are measured in the same run.  Needs `make` (bin/ and
# build/tests/tools/bench_generate).  The machine should be otherwise idle.
#
#   sh tests/tools/bench_generate.sh [K] [MAX_NEW_TOKENS]
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/bin
TOOL=$ROOT/build/tests/tools/bench_generate
SHARED=${PP_SHARED:-$ROOT/../shared}
K=${1:-8}
NEW=${2:-64}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OPENBLAS_NUM_THREADS=1
T=$(mktemp -d "${TMPDIR:-/tmp}/pp-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
for f in "$BIN/pp-generate" "$BIN/pp-prompts" "$BIN/pp-convert" "$TOOL"; do
    [ -x "$f" ] || { echo "bench_generate: $f missing; run make first" >&2; exit 1; }
done

# tokens/s of the generation phase, from pp-generate's summary line
rate() { # NP MODEL PROMPTS
    mpirun --oversubscribe --bind-to none -np "$1" "$BIN/pp-generate" --model "$2" --prompts "$3" --out "$T/c.h5" \
        --k "$K" --max-new-tokens "$NEW" --temperature 1 --chunk-prompts 2 2>&1 |
        sed -n 's/.*this run: .* = \([0-9]*\) tokens\/s.*/\1/p'
    rm -f "$T/c.h5"
}

scaling() { # NAME MODEL PROMPTS
    r1=$(rate 1 "$2" "$3")
    r2=$(rate 2 "$2" "$3")
    r1b=$(rate 1 "$2" "$3") # again, to see the noise
    awk -v n="$1" -v a="$r1" -v b="$r2" -v c="$r1b" \
        'BEGIN { printf "%-24s %10.0f %10.0f %10.0f %8.2fx\n", n, a, c, b, b / ((a + c) / 2) }'
}

echo "pp-generate -np scaling: K=$K, $NEW new tokens, chunks of 2 prompts, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-24s %10s %10s %10s %9s\n' model "np1 tok/s" "np1 again" "np2 tok/s" ratio
if [ -f "$SHARED/models/stories260K.bin" ]; then
    "$BIN/pp-convert" --from-llama2c "$SHARED/models/stories260K.bin" --tokenizer "$SHARED/models/tok512.bin" \
        --out "$T/s.h5" >/dev/null 2>&1
    "$BIN/pp-prompts" --yaml "$SHARED/data/tinystories_evaluation_prompts.yaml" --out "$T/ts.h5" >/dev/null 2>&1
    scaling "stories260K, 44 prompts" "$T/s.h5" "$T/ts.h5"
else
    echo "stories260K: skipped ($SHARED/models missing)"
fi
"$TOOL" --write-model "$T/r.h5" --dim 256 --layers 4 >/dev/null 2>&1
"$BIN/pp-prompts" --suite builtin --split test --n 16 --out "$T/b.h5" >/dev/null 2>&1
scaling "random d256 L4, 16 prompts" "$T/r.h5" "$T/b.h5"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
"$TOOL" --new "$NEW" --prompts 4
echo
"$TOOL" --new "$NEW" --prompts 4 --cpu-time
