#!/bin/sh
# valgrind: memcheck of real program runs (single process, MPI singleton, no
# mpirun): pp-prompts importing the shared YAML prompt set, pp-prompts on bad
# input (the error path must free everything too), pp-convert importing
# stories260K and exporting it again (byte-identical).  Only errors and leaks
# in our code count: Open MPI/PMIx/hwloc start-up and shut-down noise is
# suppressed by tests/valgrind.supp, and a deliberately leaking MPI program
# checks first that the suppressions do not hide a leak of ours.
. "$(dirname "$0")/../lib.sh"

if [ -n "${PP_SANITIZED:-}" ]; then
    skip valgrind "sanitized (ASan) binaries cannot run under valgrind; runs in make test"
    exit 0
fi
if ! command -v valgrind >/dev/null 2>&1; then
    skip valgrind "valgrind not installed (apt-get install -y valgrind)"
    exit 0
fi
# The programs run here are built for the baseline ISA (make valgrind-programs,
# run by make test): valgrind 3.19 dies with SIGILL on AVX-512 instructions.
VGBIN=${VG_BIN:-bin-vg}
case $VGBIN in /*) ;; *) VGBIN=$ROOT/$VGBIN ;; esac
for p in pp-prompts pp-convert; do
    if [ ! -x "$VGBIN/$p" ]; then
        fail valgrind_programs "$VGBIN/$p is missing: run 'make valgrind-programs' (make test does)"
        exit 0
    fi
done
SUPP=$ROOT/tests/valgrind.supp
# 99: valgrind found something; any other code is the program's own.
VG="valgrind --error-exitcode=99 --leak-check=full --num-callers=50 --suppressions=$SUPP"

# vg NAME WANT_EXIT CMD...: run CMD under memcheck; ok when it exits
# WANT_EXIT and memcheck reports no error.
vg() {
    name=$1 want=$2
    shift 2
    $VG --log-file="$T/$name.vg" "$@" >"$T/$name.out" 2>"$T/$name.err"
    code=$?
    if [ "$code" = 99 ]; then
        fail "$name" "memcheck: $(grep -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|[0-9,]+ .*bytes in .* lost)' "$T/$name.vg" | head -n 3 | sed 's/^==[0-9]*== //' | tr '\n' ' ') (log: keep with PP_KEEP_VG)"
        [ -n "${PP_KEEP_VG:-}" ] && cp "$T/$name.vg" "$ROOT/$name.vg"
    elif [ "$code" != "$want" ]; then
        fail "$name" "exit $code, want $want: $(grep -v '^hwloc\|^May be\|^and reloading' "$T/$name.err" | head -n 2 | tr '\n' ' ')"
    elif ! grep -q 'ERROR SUMMARY: 0 errors' "$T/$name.vg"; then
        fail "$name" "no clean ERROR SUMMARY in the memcheck log"
    else
        ok "$name"
    fi
}

# The suppressions must not swallow a leak made after MPI_Init.
if command -v mpicc >/dev/null 2>&1; then
    cat >"$T/leaky.c" <<'SRC'
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    char *p = malloc(1000);
    memset(p, 1, 1000);
    p = NULL;
    MPI_Finalize();
    return 0;
}
SRC
    if mpicc -g -O0 "$T/leaky.c" -o "$T/leaky" 2>"$T/leaky.cc"; then
        $VG --log-file="$T/leaky.vg" "$T/leaky" >/dev/null 2>&1
        code=$?
        if [ "$code" = 99 ] && grep -q 'definitely lost' "$T/leaky.vg" && grep -q 'leaky.c:6' "$T/leaky.vg"; then
            ok valgrind_supp_keeps_our_leaks
        else
            fail valgrind_supp_keeps_our_leaks "a 1000-byte leak after MPI_Init was not reported (exit $code)"
        fi
    else
        skip valgrind_supp_keeps_our_leaks "mpicc cannot build a test program: $(head -n 1 "$T/leaky.cc")"
    fi
fi

if need_shared valgrind_prompts_yaml data/tinystories_evaluation_prompts.yaml; then
    vg valgrind_prompts_yaml 0 "$VGBIN/pp-prompts" --out "$T/p.h5" --yaml "$SHARED/data/tinystories_evaluation_prompts.yaml"
fi
printf 'key: value\n' >"$T/mapping.yaml"
vg valgrind_prompts_bad_input 1 "$VGBIN/pp-prompts" --out "$T/bad.h5" --yaml "$T/mapping.yaml"
# conversations (TRL messages): kept, repeated, and a trailing assistant turn refused
printf '%s\n' '{"m": [{"role": "system", "content": "s"}, {"role": "user", "content": "q 😀"}]}' \
    '{"m": "plain"}' '{"m": [{"role": "system", "content": "s"}, {"role": "user", "content": "q 😀"}]}' >"$T/conv.jsonl"
vg valgrind_prompts_messages 0 "$VGBIN/pp-prompts" --out "$T/c.h5" --jsonl "$T/conv.jsonl" --field m
printf '%s\n' '{"m": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}' >"$T/trail.jsonl"
vg valgrind_prompts_messages_refused 1 "$VGBIN/pp-prompts" --out "$T/t.h5" --jsonl "$T/trail.jsonl" --field m

if need_shared valgrind_convert_import models/stories260K.bin && need_shared valgrind_convert_import models/tok512.bin; then
    vg valgrind_convert_import 0 "$VGBIN/pp-convert" --from-llama2c "$SHARED/models/stories260K.bin" \
        --tokenizer "$SHARED/models/tok512.bin" --out "$T/m.h5"
    vg valgrind_convert_export 0 "$VGBIN/pp-convert" --to-llama2c "$T/back.bin" --model "$T/m.h5"
    if cmp -s "$T/back.bin" "$SHARED/models/stories260K.bin"; then ok valgrind_convert_roundtrip_identical
    else fail valgrind_convert_roundtrip_identical "exported checkpoint differs from stories260K.bin"; fi
fi

# Hugging Face checkpoints: export, import (mmap, permutation), bad input
if [ -s "$T/m.h5" ]; then
    vg valgrind_convert_to_hf 0 "$VGBIN/pp-convert" --to-hf "$T/hf" --model "$T/m.h5" --dtype bf16
    vg valgrind_convert_from_hf 0 "$VGBIN/pp-convert" --from-hf "$T/hf" --tokenizer "$SHARED/models/tok512.bin" \
        --out "$T/hf.h5"
fi
vg valgrind_convert_from_hf_sharded_no_tokenizer 1 "$VGBIN/pp-convert" --from-hf "$ROOT/tests/fixtures/hf/llama3_gqa_sharded" \
    --out "$T/x.h5"
