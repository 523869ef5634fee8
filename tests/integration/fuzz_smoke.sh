#!/bin/sh
# fuzz_smoke: every libFuzzer target (fuzz/fuzz_*.c) builds and runs a few
# seconds from its committed seeds without a crash, leak or sanitizer report
# (the short form of `make fuzz`; fuzz/run.sh does the work).
# PP_FUZZ_SECONDS sets the time per target (default 5).
. "$(dirname "$0")/../lib.sh"

if [ -n "${PP_SANITIZED:-}" ]; then
    skip fuzz_smoke "the fuzz targets are sanitized builds already; they run in make test"
    exit 0
fi
cc=${FUZZ_CC:-clang}
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }\n' >"$T/probe.c"
if ! command -v "$cc" >/dev/null 2>&1; then
    skip fuzz_smoke "$cc not installed (apt-get install -y clang)"
    exit 0
fi
if ! "$cc" -fsanitize=fuzzer,address,undefined "$T/probe.c" -o "$T/probe" >"$T/probe.err" 2>&1; then
    skip fuzz_smoke "$cc cannot link libFuzzer (-fsanitize=fuzzer): $(head -n 1 "$T/probe.err")"
    exit 0
fi

sh "$ROOT/fuzz/run.sh" "${PP_FUZZ_SECONDS:-5}" >"$T/run.txt" 2>&1
code=$?
if [ "$code" -eq 2 ]; then
    fail fuzz_build "$(tail -n 5 "$T/run.txt" | tr '\n' ' ')"
    exit 0
fi
n=0
# table rows: target executions exec/s corpus cov crashes
while read -r target execs _rate _corpus _cov crashes; do
    case $target in fuzz_*) ;; *) continue ;; esac
    n=$((n + 1))
    if [ "$crashes" != 0 ]; then
        fail "$target" "$crashes crash(es); reproducer and log in fuzz/crashes/${target#fuzz_}/"
    elif [ "${execs:-0}" -gt 0 ] 2>/dev/null; then
        ok "$target"
    else
        fail "$target" "no executions recorded (see fuzz/build/logs/${target#fuzz_}.log)"
    fi
done <"$T/run.txt"
[ "$n" -gt 0 ] || fail fuzz_smoke "no target ran: $(tail -n 5 "$T/run.txt" | tr '\n' ' ')"
[ "$code" -eq 0 ] || grep -E '^ *(reproducer|\|)' "$T/run.txt" | head -n 20
