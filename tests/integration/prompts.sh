#!/bin/sh
# pp-prompts and pp-inspect: real prompt files in, valid readable files out;
# bad input gives one line and exit 1 with no output left behind.
. "$(dirname "$0")/../lib.sh"
P=$BIN/pp-prompts
I=$BIN/pp-inspect

if need_shared yaml_import data/tinystories_evaluation_prompts.yaml; then
    check yaml_import pp_mpirun 2 "$P" --out "$T/ts.h5" --yaml "$SHARED/data/tinystories_evaluation_prompts.yaml"
    check yaml_validates "$I" --validate "$T/ts.h5"
    n=$(h5dump -a /n_prompts "$T/ts.h5" | sed -n 's/.*(0): //p')
    [ "$n" = 44 ] && ok yaml_44_prompts || fail yaml_44_prompts "n_prompts=$n"
    # h5dump shows the text readably (first prompt's opening words)
    if h5dump -A 0 -d /text "$T/ts.h5" | grep -q '"Once upon a time, there lived a bunny in a field'; then ok yaml_h5dump_readable
    else fail yaml_h5dump_readable "first prompt not visible in h5dump"; fi
    # curly quotes survive byte for byte (UTF-8 in, UTF-8 stored)
    h5dump -A 0 -b -o "$T/raw.bin" -d /text "$T/ts.h5" >/dev/null 2>&1
    if grep -q '“' "$SHARED/data/tinystories_evaluation_prompts.yaml" && pp_mpirun 1 "$I" --items 44 "$T/ts.h5" | grep -q '“'; then
        ok yaml_utf8_intact
    else fail yaml_utf8_intact "curly quotes lost"; fi
fi

if need_shared jsonl_import data/vicuna_bench_question.jsonl; then
    check jsonl_import pp_mpirun 2 "$P" --out "$T/vb.h5" --jsonl "$SHARED/data/vicuna_bench_question.jsonl" --field turns.0
    check jsonl_validates "$I" --validate "$T/vb.h5"
    if h5dump -A 0 -d /text "$T/vb.h5" | grep -q 'How can I improve my time management skills?'; then ok jsonl_h5dump_readable
    else fail jsonl_h5dump_readable "first question not visible"; fi
    check_fails jsonl_missing_field 1 'vicuna_bench_question.jsonl:1: no field .nope.' \
        "$P" --out "$T/x.h5" --jsonl "$SHARED/data/vicuna_bench_question.jsonl" --field nope
    [ ! -e "$T/x.h5" ] && [ ! -e "$T/x.h5.tmp" ] && ok jsonl_missing_field_no_output || fail jsonl_missing_field_no_output "output left"
fi

printf 'first prompt\n\nsecond prompt\nfirst prompt\n' >"$T/p.txt"
"$P" --out "$T/txt.h5" --text "$T/p.txt" 2>"$T/warn.txt"
n=$(h5dump -a /n_prompts "$T/txt.h5" | sed -n 's/.*(0): //p')
ids=$(h5dump -A 0 -d /id "$T/txt.h5" | sed -n 's/.*(0): //p')
[ "$n" = 2 ] && [ "$ids" = "0, 2" ] && ok text_drops_empty_and_duplicate || fail text_drops_empty_and_duplicate "n=$n ids=$ids"
grep -q 'dropped 1 empty' "$T/warn.txt" && grep -q 'dropped 1 duplicate' "$T/warn.txt" &&
    ok text_reports_drops || fail text_reports_drops "$(cat "$T/warn.txt")"
check text_validates "$I" --validate "$T/txt.h5"

check builtin_suite "$P" --out "$T/b.h5" --suite builtin --split test --n 50 --seed 7
check builtin_validates "$I" --validate "$T/b.h5"
"$P" --out "$T/b2.h5" --suite builtin --split test --n 50 --seed 7 2>/dev/null
if [ "$(h5dump -A 0 -d /text "$T/b.h5" | sed 1d)" = "$(h5dump -A 0 -d /text "$T/b2.h5" | sed 1d)" ]; then ok builtin_deterministic
else fail builtin_deterministic "same seed gave different prompts"; fi

# YAML aliases repeat their anchored item; ids stay positions in the source
printf -- '- first\n- &a lol\n- *a\n- other\n' >"$T/alias.yaml"
"$P" --out "$T/alias.h5" --yaml "$T/alias.yaml" --keep-duplicates >/dev/null 2>&1
ids=$(h5dump -A 0 -d /id "$T/alias.h5" 2>/dev/null | sed -n 's/.*(0): //p')
texts=$(h5dump -A 0 -d /text "$T/alias.h5" 2>/dev/null | sed -n 's/.*(0): //p')
[ "$ids" = "0, 1, 2, 3" ] && [ "$texts" = '"first", "lol", "lol", "other"' ] && ok yaml_alias_resolved_ids_stable ||
    fail yaml_alias_resolved_ids_stable "ids '$ids' texts '$texts'"
printf -- '- first\n- *nowhere\n' >"$T/alias2.yaml"
check_fails yaml_alias_without_anchor 1 'alias2.yaml:2: alias \*nowhere names no anchored item' "$P" --out "$T/bad.h5" --yaml "$T/alias2.yaml"

# one BOM rule for text, JSONL and YAML: a leading UTF-8 BOM is dropped
printf '\357\273\277hello\n' >"$T/bom.txt"
printf '\357\273\277{"prompt":"hello"}\n' >"$T/bom.jsonl"
printf '\357\273\277- hello\n' >"$T/bom.yaml"
for f in txt jsonl yaml; do
    opt=--$f
    [ $f = txt ] && opt=--text
    "$P" --out "$T/bom_$f.h5" $opt "$T/bom.$f" >/dev/null 2>"$T/bom.err"
    t=$(h5dump -A 0 -d /text "$T/bom_$f.h5" 2>/dev/null | sed -n 's/.*(0): //p')
    [ "$t" = '"hello"' ] && ok "bom_dropped_$f" || fail "bom_dropped_$f" "text '$t' $(cat "$T/bom.err")"
done

# several --config files are read in order, a later one winning
printf 'n = 5\nseed = 9\n' >"$T/a.conf"
printf 'n = 7\n' >"$T/b.conf"
"$P" --config "$T/a.conf" --config "$T/b.conf" --out "$T/two.h5" --suite builtin --split test >/dev/null 2>&1
n=$(h5dump -a /n_prompts "$T/two.h5" 2>/dev/null | sed -n 's/.*(0): //p')
h5dump -a /arguments "$T/two.h5" 2>/dev/null | grep -q -- '--seed=9 ' && [ "$n" = 7 ] && ok config_files_merge_in_order ||
    fail config_files_merge_in_order "n_prompts=$n; $(h5dump -a /arguments "$T/two.h5" 2>&1 | grep '(0)')"

# ---- bad input: one line, exit 1, nothing under the output name
check_fails missing_file 1 '/nonexistent/p.yaml: No such file' "$P" --out "$T/bad.h5" --yaml /nonexistent/p.yaml
printf 'ok line\nbad \377\376 line\n' >"$T/bad.txt"
check_fails invalid_utf8 1 'bad.txt:2: line is not valid UTF-8' "$P" --out "$T/bad.h5" --text "$T/bad.txt"
printf '{"prompt":"a"}\n{"other":"b"}\n' >"$T/bad.jsonl"
check_fails jsonl_line_without_field 1 'bad.jsonl:2: no field .prompt.' "$P" --out "$T/bad.h5" --jsonl "$T/bad.jsonl"
printf 'out = %s/bad.h5\nnot_a_key = 3\n' "$T" >"$T/bad.conf"
check_fails config_unknown_key 1 'bad.conf:2: unknown key .not_a_key.' "$P" --config "$T/bad.conf" --text "$T/p.txt"
printf 'n = many\n' >"$T/bad2.conf"
check_fails config_bad_value 1 'bad2.conf:1: --n wants an integer' "$P" --config "$T/bad2.conf" --out "$T/bad.h5" --suite builtin
check_fails wrong_kind 1 'is a .prompts. file, expected a .model. file' "$BUILD/tests/tools/h5kind" "$T/b.h5" model
head -c 3000 "$T/ts.h5" >"$T/trunc.h5" 2>/dev/null || head -c 3000 "$T/b.h5" >"$T/trunc.h5"
check_fails truncated_hdf5 1 'trunc.h5: (cannot open|not an HDF5)' "$I" --validate "$T/trunc.h5"
: >"$T/zero.h5"
check_fails zero_byte_hdf5 1 'zero.h5: empty file' "$I" "$T/zero.h5"
check_fails same_output_as_input 1 'output file is also the source input' "$P" --out "$T/p.txt" --text "$T/p.txt"
check_fails unwritable_dir 1 'output directory /nonexistent-dir does not exist' "$P" --out /nonexistent-dir/x.h5 --text "$T/p.txt"
: >"$T/empty.txt"
check_fails empty_prompt_set 1 'no prompts found' "$P" --out "$T/bad.h5" --text "$T/empty.txt"
[ ! -e "$T/bad.h5" ] && [ ! -e "$T/bad.h5.tmp" ] && ok bad_input_leaves_no_output || fail bad_input_leaves_no_output "$(ls "$T")"

# ---- a run killed while writing leaves no file under the final name
PP_TEST_COMMIT_DELAY_MS=4000 "$P" --out "$T/killed.h5" --suite builtin --n 200 2>/dev/null &
pid=$!
i=0
while [ ! -e "$T/killed.h5.tmp" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
if [ -e "$T/killed.h5.tmp" ] && [ ! -e "$T/killed.h5" ]; then ok sigkill_leaves_no_final_file
else fail sigkill_leaves_no_final_file "tmp=$(test -e "$T/killed.h5.tmp" && echo yes) final=$(test -e "$T/killed.h5" && echo yes)"; fi
check rerun_after_kill "$P" --out "$T/killed.h5" --suite builtin --n 200
check rerun_validates "$I" --validate "$T/killed.h5"
[ ! -e "$T/killed.h5.tmp" ] && ok rerun_cleans_tmp || fail rerun_cleans_tmp "tmp left"
