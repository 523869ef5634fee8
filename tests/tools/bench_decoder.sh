#!/bin/sh
# bench_decoder.sh - issue 19's benchmark (BENCH=generate in tests/bench.sh),
# one core (OPENBLAS_NUM_THREADS=1), every ratio measured in the same run:
#   run.c: ../shared/anchors/llama2c-run.c (or $PP_SHARED/anchors), built
#          here with -Ofast -march=native into build/anchors/ (never copied
#          into the tree), one thread, batch 1, temperature 1, 144 positions
#          from "Once upon a time", seeds 1-9 (RUNC_SEEDS); the model
#          exported with pp-convert --to-llama2c.  The table's run.c column
#          is the best of seeds 1-7.  Without the anchor the column says
#          "skipped: no anchor".
#   same protocol: after the table, pp-generate runs twice more at its
#          best --max-batch, and the spread (min / median / best) of its 3
#          runs is set against run.c's spread over the 9 seeds: median
#          against median and best against best.
#   pp-generate: the program, one rank, --max-batch 1, 8, 64, 256, on 64
#          prompts (pp-prompts --text, 3..12 words each) x K=8 x 128 new
#          tokens at temperature 1 (BENCH_PROMPTS, BENCH_NEW); --max-batch 1
#          on BENCH_PROMPTS_B1 = 4 prompts only (a batch of one gains
#          nothing from more, and 64 would take minutes).  tokens/s is the
#          program's own figure: generated tokens over the generation phase.
#   sgemm: build/tests/tools/bench_decoder measures the sgemm rate on the
#          decode shapes and the decoder's products (rowmatmul) on them,
#          and prints the table: tokens/s, x run.c, % of the sgemm ceiling.
#   -np 2 vs -np 1: pp-generate on the d=288 model at the default batch.
#   models: stories260K (from ../shared/models), random d=288/L=6 and
#          d=512/L=8, vocab 512 (tok512.bin when ../shared has it, so run.c
#          can read them; else the byte tokenizer padded to 512).
# The load is printed before each model: on a loaded machine the ratios
# are still same-minute ratios, the absolute rates are not.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/bin
TOOLS=$ROOT/build/tests/tools
SHARED=${PP_SHARED:-$ROOT/../shared}
PROMPTS=${BENCH_PROMPTS:-64}
PROMPTS_B1=${BENCH_PROMPTS_B1:-4}
NEW=${BENCH_NEW:-128}
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
for f in "$BIN/pp-convert" "$BIN/pp-generate" "$BIN/pp-prompts" "$TOOLS/bench_decoder" "$TOOLS/bench_generate"; do
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

# run.c's tokens/s on model M.h5 (exported to llama2.c), one line per
# seed, seeds 1..RUNC_SEEDS (9): each run lasts 0.1 s (d=288) or a few
# milliseconds (stories260K), so one run says little
runc_rates() {
    "$BIN/pp-convert" --to-llama2c "$T/runc.bin" --model "$1" >/dev/null 2>&1 || { echo 0; return; }
    seed=1
    while [ "$seed" -le "${RUNC_SEEDS:-9}" ]; do
        "$RUNC" "$T/runc.bin" -z "$TOK" -t 1.0 -p 1.0 -s "$seed" -n 144 -i "Once upon a time" 2>&1 >/dev/null |
            sed -n 's/^achieved tok\/s: //p'
        seed=$((seed + 1))
    done
}

# min, median and max of the numbers on stdin, as "min median max"
spread() { sort -g | awk '{ v[NR] = $1 } END { if (NR) printf "%.0f %.0f %.0f", v[1], v[int((NR + 1) / 2)], v[NR] }'; }

# The prompt files: N lines of 3..12 words cut from a fixed story.
prompt_file() { # N OUT.h5
    awk -v n="$1" 'BEGIN {
        s = "Once upon a time there was a little girl named Lily who loved to play outside in the park " \
            "with her dog and one day she saw a big red ball stuck high in the old tree and wanted it"
        w = split(s, word, " ")
        for (i = 0; i < n; i++) {
            len = 3 + i % 10; off = (i * 7) % (w - len); line = word[off + 1]
            for (j = 2; j <= len; j++) line = line " " word[off + j]
            print line
        } }' >"$T/prompts.txt"
    "$BIN/pp-prompts" --text "$T/prompts.txt" --out "$2" >/dev/null 2>&1
}
prompt_file "$PROMPTS" "$T/p.h5"
prompt_file "$PROMPTS_B1" "$T/p1.h5"

# pp-generate's tokens/s (generation phase), NP ranks, max-batch B
program_rate() { # NP MODEL PROMPTS B
    rm -rf "$T/c.h5" "$T/c.h5.parts"
    mpirun --oversubscribe --bind-to none -np "$1" "$BIN/pp-generate" --model "$2" --prompts "$3" --out "$T/c.h5" \
        --k 8 --max-new-tokens "$NEW" --temperature 1 --seed 1 --max-batch "$4" 2>&1 |
        sed -n 's/.*this run: .* = \([0-9]*\) tokens\/s.*/\1/p'
}

bench() { # NAME MODEL.h5
    echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
    rates= best_b=1 best_rate=0
    for b in 1 8 64 256; do
        pf=$T/p.h5
        [ "$b" = 1 ] && pf=$T/p1.h5
        r=$(program_rate 1 "$2" "$pf" "$b")
        rates="$rates${rates:+,}$b=$r"
        if [ "${r:-0}" -gt "$best_rate" ]; then best_b=$b best_rate=$r; fi
    done
    if [ -n "$RUNC" ]; then
        runc_rates "$2" >"$T/runc.rates"
        r=$(head -n 7 "$T/runc.rates" | sort -g | tail -n 1) # the table: the best of seeds 1-7, as always
        "$TOOLS/bench_decoder" --model "$2" --name "$1" --prompts "$PROMPTS" --new "$NEW" --runc "${r:-0}" --program "$rates"
        # both programs measured the same way: pp-generate twice more at
        # its best batch, the spread of 3 runs against run.c's spread over
        # the seeds (its fastest runs are often those that sampled BOS early
        # and stopped, or caught the quietest milliseconds)
        { echo "$best_rate"; program_rate 1 "$2" "$T/p.h5" "$best_b"; program_rate 1 "$2" "$T/p.h5" "$best_b"; } |
            spread >"$T/prog.spread"
        awk -v p="$(cat "$T/prog.spread")" -v r="$(spread <"$T/runc.rates")" -v b="$best_b" \
            -v n="$(wc -l <"$T/runc.rates")" 'BEGIN {
            split(p, P, " "); split(r, R, " ")
            printf "  same protocol: pp-generate --max-batch %s, 3 runs: %s / %s / %s tok/s (min / median / best);\n", b, P[1], P[2], P[3]
            printf "    run.c, %d seeds: %s / %s / %s tok/s; median / median = %.2fx, best / best = %.2fx\n", n, R[1], R[2], R[3], P[2] / R[2], P[3] / R[3] }'
    else
        "$TOOLS/bench_decoder" --model "$2" --name "$1" --prompts "$PROMPTS" --new "$NEW" --runc-skipped "no anchor" \
            --program "$rates"
    fi
}

echo "pp-generate (continuous-batching decoder) vs run.c, one core: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)"
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
# -np 2 against -np 1 (twice, to see the noise), d=288, default batch
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
a=$(program_rate 1 "$T/d288.h5" "$T/p.h5" 64)
b=$(program_rate 2 "$T/d288.h5" "$T/p.h5" 64)
c=$(program_rate 1 "$T/d288.h5" "$T/p.h5" 64)
awk -v a="$a" -v b="$b" -v c="$c" -v w="$PROMPTS prompts x K=8 x $NEW new tokens, --max-batch 64" 'BEGIN {
    printf "pp-generate -np scaling, random d=288 L=6, %s:\n", w
    printf "  -np 1 %.0f tok/s, -np 2 %.0f tok/s, -np 1 again %.0f tok/s: -np 2 / -np 1 = %.2fx\n", a, b, c, b / ((a + c) / 2) }'
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
