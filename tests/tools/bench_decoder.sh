#!/bin/sh
# bench_decoder.sh - issue 19's benchmark (BENCH=generate in tests/bench.sh):
# the continuous-batching decoder at --max-batch 1, 8, 64, 256 against
# llama2.c's run.c on the same model, and against the sgemm rate measured
# in the same process (build/tests/tools/bench_decoder prints the table).
#   run.c: ../shared/anchors/llama2c-run.c (or $PP_SHARED/anchors), built
#          here with -Ofast -march=native into build/anchors/ (never copied
#          into the tree), one thread, batch 1, temperature 1, 144 positions
#          from "Once upon a time", best of 7 seeds; the model exported with
#          pp-convert --to-llama2c.  Without the anchor the column says
#          "skipped: no anchor".
#   models: stories260K (from ../shared/models), random d=288/L=6 and
#          d=512/L=8, vocab 512 (tok512.bin when ../shared has it, so run.c
#          can read them; else the byte tokenizer padded to 512).
#   workload: 64 prompts x K=8 x 128 new tokens (BENCH_PROMPTS, BENCH_NEW).
# Ratios are measured minutes apart in one run; the load is printed.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/bin
TOOLS=$ROOT/build/tests/tools
SHARED=${PP_SHARED:-$ROOT/../shared}
PROMPTS=${BENCH_PROMPTS:-64}
NEW=${BENCH_NEW:-128}
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
for f in "$BIN/pp-convert" "$TOOLS/bench_decoder" "$TOOLS/bench_generate"; do
    [ -x "$f" ] || { echo "bench_decoder: $f missing; run make first" >&2; exit 1; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/pp-bench-dec.XXXXXX")
trap 'rm -rf "$T"' EXIT

ANCHOR=$SHARED/anchors/llama2c-run.c
TOK=$SHARED/models/tok512.bin
RUNC=
if [ -f "$ANCHOR" ] && [ -f "$TOK" ]; then
    mkdir -p "$ROOT/build/anchors"
    if cc -Ofast -march=native -o "$ROOT/build/anchors/llama2c-run" "$ANCHOR" -lm; then
        RUNC=$ROOT/build/anchors/llama2c-run
    fi
fi

# run.c's best tokens/s over 7 seeds on model M.h5 (exported to llama2.c);
# the best, because one stories260K run lasts only milliseconds
runc_rate() {
    "$BIN/pp-convert" --to-llama2c "$T/runc.bin" --model "$1" >/dev/null 2>&1 || { echo 0; return; }
    for seed in 1 2 3 4 5 6 7; do
        "$RUNC" "$T/runc.bin" -z "$TOK" -t 1.0 -p 1.0 -s "$seed" -n 144 -i "Once upon a time" 2>&1 >/dev/null |
            sed -n 's/^achieved tok\/s: //p'
    done | sort -g | tail -n 1
}

bench() { # NAME MODEL.h5
    echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
    if [ -n "$RUNC" ]; then
        r=$(runc_rate "$2")
        "$TOOLS/bench_decoder" --model "$2" --name "$1" --prompts "$PROMPTS" --new "$NEW" --runc "${r:-0}"
    else
        "$TOOLS/bench_decoder" --model "$2" --name "$1" --prompts "$PROMPTS" --new "$NEW" --runc-skipped "no anchor"
    fi
}

echo "continuous-batching decoder vs run.c, one core: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)"
if [ -f "$SHARED/models/stories260K.bin" ] && [ -f "$TOK" ]; then
    "$BIN/pp-convert" --from-llama2c "$SHARED/models/stories260K.bin" --tokenizer "$TOK" --out "$T/s.h5" >/dev/null 2>&1
    bench stories260K "$T/s.h5"
else
    echo "stories260K: skipped ($SHARED/models missing)"
fi
tokarg=
[ -f "$TOK" ] && tokarg="--tokenizer $TOK"
# shellcheck disable=SC2086 # tokarg is two words or none
"$TOOLS/bench_generate" --write-model "$T/d288.h5" --dim 288 --layers 6 --vocab 512 $tokarg >/dev/null 2>&1
bench "random d=288 L=6" "$T/d288.h5"
# shellcheck disable=SC2086
"$TOOLS/bench_generate" --write-model "$T/d512.h5" --dim 512 --layers 8 --vocab 512 $tokarg >/dev/null 2>&1
bench "random d=512 L=8" "$T/d512.h5"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
