#!/bin/sh
# fuzz/run.sh SECONDS [TARGET...] - build the libFuzzer targets and run each
# for SECONDS (one after the other: total time = targets x SECONDS).
#
#   sh fuzz/run.sh 600     the `make fuzz` run (10 minutes per target)
#   sh fuzz/run.sh 10      the short CI form
#
# Target fuzz_NAME starts from its committed seeds (fuzz/corpus/NAME) plus
# what earlier runs found (fuzz/build/corpus/NAME, not committed).  Per target
# it prints executions, corpus size, coverage and crashes.  A crash, leak,
# timeout or out-of-memory input is moved to fuzz/crashes/NAME/ with the
# log beside it, and the script exits 1.  Exit 2: cannot build.
set -u
cd "$(dirname "$0")/.." || exit 2
secs=${1:-}
case $secs in '' | *[!0-9]*) echo "usage: sh fuzz/run.sh SECONDS [TARGET...]" >&2; exit 2 ;; esac
shift
FB=fuzz/build

# libFuzzer ships with clang (Debian: libclang-rt-N-dev).
probe=$(mktemp -d "${TMPDIR:-/tmp}/pp-fuzz-probe.XXXXXX")
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }\n' >"$probe/p.c"
if ! ${FUZZ_CC:-clang} -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>"$probe/err"; then
    echo "fuzz: ${FUZZ_CC:-clang} cannot build libFuzzer targets: $(head -n 1 "$probe/err")" >&2
    echo "fuzz: install clang (apt-get install -y clang) and retry" >&2
    rm -rf "$probe"
    exit 2
fi
rm -rf "$probe"

mkdir -p "$FB"
if ! make -s -f fuzz/Makefile -j"${FUZZ_BUILD_JOBS:-2}" >"$FB/build.log" 2>&1; then
    echo "fuzz: build failed:" >&2
    tail -n 30 "$FB/build.log" >&2
    exit 2
fi

targets=${*:-$(for f in fuzz/fuzz_*.c; do basename "$f" .c; done)}

# What each target needs beyond the defaults: input size cap, dictionary.
target_opts() {
    case $1 in
    fuzz_llama2c | fuzz_tokenizer) echo "-max_len=8192" ;;
    fuzz_safetensors) echo "-max_len=8192 -dict=fuzz/json.dict" ;;
    fuzz_prompts_jsonl | fuzz_judge_answer) echo "-max_len=4096 -dict=fuzz/json.dict" ;;
    fuzz_tokenizer_json) echo "-max_len=16384 -dict=fuzz/json.dict" ;;
    fuzz_prompts_yaml) echo "-max_len=4096 -dict=fuzz/yaml.dict" ;;
    fuzz_config) echo "-max_len=4096 -dict=fuzz/config.dict" ;;
    *) echo "-max_len=4096" ;;
    esac
}

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
printf '%-22s %12s %8s %10s %6s %8s\n' target executions exec/s corpus cov crashes
total_crashes=0 total_execs=0
for t in $targets; do
    bin=$FB/$t
    if [ ! -x "$bin" ]; then
        echo "fuzz: no target $t" >&2
        exit 2
    fi
    name=${t#fuzz_}
    work=$FB/corpus/$name art=$FB/artifacts/$name log=$FB/logs/$name.log
    mkdir -p "$work" "$art" "$FB/logs"
    # shellcheck disable=SC2046
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$art/" $(target_opts "$t") "$work" "fuzz/corpus/$name" >"$log" 2>&1
    code=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    corp=$(grep -o 'corp: [0-9]*/[0-9a-zA-Z]*' "$log" | tail -n 1 | sed 's/corp: //')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | sed 's/cov: //')
    found=$(find "$art" -type f | grep -c .)
    if [ "$code" -ne 0 ] && [ "$found" -eq 0 ]; then found=1; fi
    printf '%-22s %12s %8s %10s %6s %8s\n' "$t" "${execs:-?}" "${rate:-?}" "${corp:-?}" "${cov:-?}" "$found"
    total_execs=$((total_execs + ${execs:-0}))
    if [ "$found" -gt 0 ]; then
        total_crashes=$((total_crashes + found))
        mkdir -p "fuzz/crashes/$name"
        for a in "$art"/*; do
            [ -f "$a" ] || continue
            mv "$a" "fuzz/crashes/$name/"
            cp "$log" "fuzz/crashes/$name/$(basename "$a").log"
            echo "    reproducer: fuzz/crashes/$name/$(basename "$a")  (rerun: $bin fuzz/crashes/$name/$(basename "$a"))"
        done
        grep -E 'ERROR|SUMMARY|runtime error|property failed|#[0-9]+ 0x' "$log" | head -n 25 | sed 's/^/    | /'
    fi
done
echo "total: $total_execs executions, $total_crashes crashes"
[ "$total_crashes" -eq 0 ] || exit 1
