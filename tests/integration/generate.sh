#!/bin/sh
# pp-generate: rank-count independence, run.c parity at temperature 0,
# kill-and-resume, stop signals, refused reruns, bad input.
. "$(dirname "$0")/../lib.sh"
G=$BIN/pp-generate
P=$BIN/pp-prompts
I=$BIN/pp-inspect

need_shared stories260K models/stories260K.bin || exit 0
need_shared tinystories_prompts data/tinystories_evaluation_prompts.yaml || exit 0
"$BIN/pp-convert" --from-llama2c "$SHARED/models/stories260K.bin" --tokenizer "$SHARED/models/tok512.bin" \
    --out "$T/m.h5" >/dev/null 2>&1 || fail import_model "pp-convert failed"
"$P" --yaml "$SHARED/data/tinystories_evaluation_prompts.yaml" --out "$T/p.h5" >/dev/null 2>&1 || fail yaml_prompts "pp-prompts failed"

# Values of a numeric dataset, one per line (via h5dump's binary output in
# the stored type, little-endian in every prefpipe file; "-b LE" writes
# nothing for an enum such as /finish_reason).
values() { # FILE DATASET od-type
    rm -f "$T/v.bin"
    h5dump -A 0 -d "$2" -b FILE -o "$T/v.bin" "$1" >/dev/null 2>&1
    od -An -v -t "$3" "$T/v.bin" | tr -s ' ' '\n' | sed '/^$/d'
}
# Byte-identical datasets: numeric ones compared as raw little-endian
# bytes, texts as h5dump prints them.
same_data() { # A B
    for d in prompt_id prompt_token_offsets prompt_tokens candidate_token_offsets candidate_tokens \
        candidate_logp candidate_length finish_reason; do
        h5dump -A 0 -d /$d -b FILE -o "$T/a.bin" "$1" >/dev/null 2>&1 || return 1
        h5dump -A 0 -d /$d -b FILE -o "$T/b.bin" "$2" >/dev/null 2>&1 || return 1
        [ -s "$T/a.bin" ] && cmp -s "$T/a.bin" "$T/b.bin" || { echo "/$d differs or is empty"; return 1; }
    done
    for d in prompt_text candidate_text; do
        [ "$(h5dump -A 0 -d /$d "$1" | sed 1d)" = "$(h5dump -A 0 -d /$d "$2" | sed 1d)" ] || { echo "/$d differs"; return 1; }
    done
}

# ---- -np 1 and -np 2 give identical datasets
ARGS="--model $T/m.h5 --prompts $T/p.h5 --k 4 --max-new-tokens 24 --temperature 0.9 --top-p 0.95 --seed 7 --chunk-prompts 3"
check np1_run pp_mpirun 1 "$G" $ARGS --out "$T/c1.h5"
check np2_run pp_mpirun 2 "$G" $ARGS --out "$T/c2.h5"
if why=$(same_data "$T/c1.h5" "$T/c2.h5"); then ok np1_np2_identical; else fail np1_np2_identical "$why"; fi
# the node-shared packed weights (small models are held per rank: the
# test switch shares them anyway) give the same datasets
pp_mpirun 2 "$G" $ARGS --out "$T/c2p.h5" >"$T/c2p.log" 2>&1
PP_TEST_SHARE_WEIGHTS=1 pp_mpirun 2 "$G" $ARGS --out "$T/c2s.h5" >"$T/c2s.log" 2>&1
decoder_mib() { sed -n 's/.*decoder: .* \([0-9.]*\) MiB allocated once per rank.*/\1/p' "$1" | head -n 1; }
mp=$(decoder_mib "$T/c2p.log") ms=$(decoder_mib "$T/c2s.log")
if [ -n "$mp" ] && [ -n "$ms" ] && awk -v p="$mp" -v s="$ms" 'BEGIN { exit !(s < p) }'; then
    ok np2_shared_weights_counted_once
else fail np2_shared_weights_counted_once "decoder $ms MiB shared vs $mp MiB per rank: $(tail -n 2 "$T/c2s.log")"; fi
if why=$(same_data "$T/c1.h5" "$T/c2s.h5"); then ok np2_shared_weights_identical; else fail np2_shared_weights_identical "$why"; fi
check np1_validates "$I" --validate "$T/c1.h5"
check np2_validates "$I" --validate "$T/c2.h5"
# ---- --max-batch 1, 8 and the default 64, and a KV budget that caps the
# batch: identical datasets (the decoder's rows are batch-invariant)
check maxbatch1_run pp_mpirun 1 "$G" $ARGS --max-batch 1 --out "$T/mb1.h5"
check maxbatch8_run pp_mpirun 2 "$G" $ARGS --max-batch 8 --out "$T/mb8.h5"
pp_mpirun 1 "$G" $ARGS --max-batch 256 --kv-cache-mb 0.5 --out "$T/kv.h5" >"$T/kv.log" 2>&1
grep -q 'decoder: [0-9]* sequences per step (--max-batch 256, capped by --kv-cache-mb), [0-9.]* MiB' "$T/kv.log" &&
    ok kv_budget_caps_batch || fail kv_budget_caps_batch "$(grep -E 'decoder|error' "$T/kv.log")"
for f in mb1 mb8 kv; do
    if why=$(same_data "$T/c1.h5" "$T/$f.h5"); then ok "max_batch_${f}_identical"; else fail "max_batch_${f}_identical" "$why"; fi
done
check_fails kv_budget_too_small 1 '--kv-cache-mb 0.001 holds no sequence' "$G" $ARGS --kv-cache-mb 0.001 --out "$T/bad.h5"
# the memory estimate is printed before the decoder allocates, and a run over --max-memory stops there
check_fails max_memory_refused 1 'needs an estimated .* per rank .*more than the --max-memory of 1.0 MiB' \
    "$G" $ARGS --max-memory 1M --out "$T/bad_mem.h5"
[ ! -e "$T/bad_mem.h5" ] && ok max_memory_no_output || fail max_memory_no_output "bad_mem.h5 written"
"$G" $ARGS --out "$T/est.h5" >"$T/est.out" 2>&1
grep -q 'memory estimate per rank' "$T/est.out" && grep -q 'peak memory per rank .*estimated' "$T/est.out" &&
    ok memory_estimate_and_peak_printed || fail memory_estimate_and_peak_printed "$(tail -n 2 "$T/est.out")"
[ ! -e "$T/c2.h5.parts" ] && [ ! -e "$T/c2.h5.tmp" ] && ok parts_removed || fail parts_removed "$(ls "$T")"
n=$(h5dump -a /n_candidates "$T/c2.h5" | sed -n 's/.*(0): //p')
[ "$n" = 176 ] && ok n_candidates_44x4 || fail n_candidates_44x4 "n_candidates=$n"
if h5dump -A 0 -d /candidate_text "$T/c2.h5" | grep -q '(0): "' && h5dump -A 0 -d /prompt_text "$T/c2.h5" |
    grep -q '"Once upon a time, there lived a bunny in a field'; then ok h5dump_text_readable
else fail h5dump_text_readable "texts not readable in h5dump"; fi
# finish reasons: 1 (max new tokens) has exactly 24 tokens, 2 cannot happen here
bad=$(values "$T/c2.h5" /finish_reason d4 >"$T/fr"; values "$T/c2.h5" /candidate_length d4 >"$T/len"
    paste "$T/fr" "$T/len" | awk '$1 == 1 && $2 != 24 || $1 == 2 || $2 < 1' | wc -l)
[ "$bad" -eq 0 ] && ok finish_reasons_consistent || fail finish_reasons_consistent "$bad candidates"

# ---- temperature 0 continues a prompt with run.c's tokens
# tests/fixtures/runc_greedy.txt, case 1: "Once upon a time", run.c -n 60
printf 'Once upon a time\n' >"$T/once.txt"
"$P" --text "$T/once.txt" --out "$T/once.h5" >/dev/null 2>&1
check greedy_run pp_mpirun 1 "$G" --model "$T/m.h5" --prompts "$T/once.h5" --out "$T/g.h5" --k 2 \
    --temperature 0 --max-new-tokens 56
want=$(sed -n '/^prompt Once upon a time$/,/^text/p' "$ROOT/tests/fixtures/runc_greedy.txt" |
    sed -n 's/^generated_ids [0-9]* //p')
got=$(values "$T/g.h5" /candidate_tokens d4 | head -n 56 | tr '\n' ' ' | sed 's/ $//')
got2=$(values "$T/g.h5" /candidate_tokens d4 | tail -n 56 | tr '\n' ' ' | sed 's/ $//')
[ -n "$want" ] && [ "$got" = "$want" ] && [ "$got2" = "$want" ] && ok greedy_equals_runc ||
    fail greedy_equals_runc "want [$want] got [$got] / [$got2]"
# 200 positions from BOS (the golden text): "Once upon a time" is BOS + 4
# tokens, and 196 more make the same 200 positions
check greedy200_run pp_mpirun 1 "$G" --model "$T/m.h5" --prompts "$T/once.h5" --out "$T/g200.h5" --k 1 \
    --temperature 0 --max-new-tokens 196
# h5dump prints a string's newlines followed by 11 spaces of indentation
text=$(h5dump -A 0 -d /candidate_text "$T/g200.h5" | sed -n '/DATA {/,/^   }/p' | sed '1d;$d' |
    sed '1s/^ *(0): "//; 2,$s/^           //; $s/"$//')
golden=$(cat "$SHARED/models/stories260K_greedy200.txt")
len=$(values "$T/g200.h5" /candidate_length d4)
if [ "$len" = 196 ] && [ "Once upon a time$text" = "$golden" ]; then ok greedy200_golden_text
else fail greedy200_golden_text "length $len, text [$text]"; fi
# the three TinyStories prompts of the fixture (yaml rows 4, 14, 15), -np 2:
# run.c's ids are a prefix of a longer greedy run (greedy decoding only
# looks back)
check greedy_yaml_run pp_mpirun 2 "$G" --model "$T/m.h5" --prompts "$T/p.h5" --out "$T/gy.h5" --k 1 \
    --temperature 0 --max-new-tokens 32 --chunk-prompts 5
values "$T/gy.h5" /candidate_token_offsets d8 >"$T/off"
values "$T/gy.h5" /candidate_tokens d4 >"$T/tok"
for row in 4 14 15; do
    line=$(awk -v r=$row 'FILENAME == ARGV[1] { off[NR - 1] = $1; next }
        { tok[FNR - 1] = $1 }
        END { s = ""; for (i = off[r]; i < off[r + 1]; i++) s = s " " tok[i]; print substr(s, 2) }' "$T/off" "$T/tok")
    case $row in 4) key='^prompt Alice was bored' ;; 14) key='^prompt Once upon a time, there lived two' ;;
        15) key='^prompt Jack and Sally' ;; esac
    want=$(sed -n "/$key/,/^text/p" "$ROOT/tests/fixtures/runc_greedy.txt" | sed -n 's/^generated_ids [0-9]* //p')
    case "$line " in "$want "*) ok "greedy_equals_runc_yaml_$row" ;;
        *) fail "greedy_equals_runc_yaml_$row" "want prefix [$want] got [$line]" ;; esac
done

# ---- builtin suite: family and reference are carried over for the oracle
"$P" --suite builtin --split test --n 6 --seed 3 --out "$T/b.h5" >/dev/null 2>&1
check builtin_run pp_mpirun 2 "$G" --model "$T/m.h5" --prompts "$T/b.h5" --out "$T/cb.h5" --k 2 --max-new-tokens 8
check builtin_validates "$I" --validate "$T/cb.h5"
[ "$(h5dump -A 0 -d /reference "$T/cb.h5" | sed 1d)" = "$(h5dump -A 0 -d /reference "$T/b.h5" | sed 1d)" ] &&
    [ "$(h5dump -A 0 -d /family "$T/cb.h5" | sed 1d)" = "$(h5dump -A 0 -d /family "$T/b.h5" | sed 1d)" ] &&
    ok family_reference_copied || fail family_reference_copied "differ from the prompts file"

# ---- kill and resume: SIGKILL at a few points, then the same datasets
# as the uninterrupted run c1.h5 (22 chunks of 2 prompts, slowed down by
# the test hook so kills land between and inside chunks)
KARGS="--model $T/m.h5 --prompts $T/p.h5 --k 4 --max-new-tokens 24 --temperature 0.9 --top-p 0.95 --seed 7 --chunk-prompts 2"
chunks() { ls "$T/k.h5.parts" 2>/dev/null | grep -c '^chunk-.*\.h5$'; }
wait_chunks() { # N: until at least N chunks are saved (at most ~20 s)
    i=0
    while [ "$(chunks)" -lt "$1" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
}
# 1: one process, killed after 3 chunks
PP_TEST_CHUNK_DELAY_MS=150 "$G" $KARGS --out "$T/k.h5" 2>/dev/null &
pid=$!
wait_chunks 3
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
n1=$(chunks)
# 2: two ranks, every process of the job killed after 4 more chunks
PP_TEST_CHUNK_DELAY_MS=150 mpirun --oversubscribe --bind-to none -np 2 "$G" $KARGS --out "$T/k.h5" >"$T/k2.log" 2>&1 &
pid=$!
wait_chunks $((n1 + 4))
kill -9 $(ps -o pid= --ppid $pid) $pid 2>/dev/null
wait $pid 2>/dev/null
sleep 0.3
n2=$(chunks)
if [ "$n1" -ge 3 ] && [ "$n2" -gt "$n1" ] && [ "$n2" -lt 22 ] && [ ! -e "$T/k.h5" ]; then ok killed_midway
else fail killed_midway "chunks after kills: $n1, $n2 of 22; $(cat "$T/k2.log" | tail -n 2)"; fi
grep -qx 'seed=7' "$T/k.h5.parts/run.key" && ok run_key_recorded || fail run_key_recorded "$(cat "$T/k.h5.parts/run.key")"
# a different seed is refused, nothing is touched
check_fails resume_other_args_refused 1 'k.h5.parts holds partial results of a different run \(seed was 7, now 8\)' \
    "$G" $(echo "$KARGS" | sed 's/--seed 7/--seed 8/') --out "$T/k.h5"
[ "$(chunks)" = "$n2" ] && ok refused_run_keeps_parts || fail refused_run_keeps_parts "$(chunks) chunks"
# a damaged chunk and a leftover .tmp: the chunk is redone, the .tmp removed
first=$(ls "$T/k.h5.parts" | grep '^chunk-.*\.h5$' | head -n 1)
head -c 1000 "$T/k.h5.parts/$first" >"$T/trunc" && mv "$T/trunc" "$T/k.h5.parts/$first"
: >"$T/k.h5.parts/chunk-000021.h5.tmp"
# 3: SIGTERM: finish the current chunk, exit 75, keep the parts
PP_TEST_CHUNK_DELAY_MS=300 "$G" $KARGS --out "$T/k.h5" >"$T/term.log" 2>&1 &
pid=$!
i=0 # signal handlers are installed once it says it resumes
while ! grep -q resuming "$T/term.log" && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
# while it runs, a second run on the same output is refused (the parts
# directory's lock), naming the first one's pid, and touches nothing
check_fails second_run_refused 1 "another run is writing $T/k.h5 \\(pid $pid" "$G" $KARGS --out "$T/k.h5"
sleep 0.2
kill -TERM $pid
wait $pid
code=$?
n3=$(chunks)
if [ "$code" = 75 ] && grep -q 'run the same command again to resume' "$T/term.log" && [ ! -e "$T/k.h5" ] &&
    [ "$n3" -lt 22 ]; then ok sigterm_exit_75
else fail sigterm_exit_75 "exit $code, $n3 chunks, $(tail -n 1 "$T/term.log")"; fi
grep -q "resuming: $((n2 - 1)) of 22 chunks" "$T/term.log" && ok resume_reuses_valid_chunks_only ||
    fail resume_reuses_valid_chunks_only "want $((n2 - 1)) reused: $(grep resuming "$T/term.log")"
ls "$T/k.h5.parts" | grep -q '\.tmp$' && fail stale_tmp_removed "$(ls "$T/k.h5.parts")" || ok stale_tmp_removed
# 4: finish with two ranks (both check saved chunks: all n3 are reused)
pp_mpirun 2 "$G" $KARGS --out "$T/k.h5" >"$T/fin.log" 2>&1 && ok resume_finishes || fail resume_finishes "$(tail -n 3 "$T/fin.log")"
grep -q "resuming: $n3 of 22 chunks" "$T/fin.log" && grep -q "($n3 of 22 chunks reused)" "$T/fin.log" &&
    ok np2_resume_reuses_all_saved || fail np2_resume_reuses_all_saved "$n3 saved: $(grep -E 'resuming|this run' "$T/fin.log")"
if why=$(same_data "$T/c1.h5" "$T/k.h5"); then ok resumed_equals_uninterrupted
else fail resumed_equals_uninterrupted "$why"; fi
check resumed_validates "$I" --validate "$T/k.h5"
[ ! -e "$T/k.h5.parts" ] && ok resumed_parts_removed || fail resumed_parts_removed "$(ls "$T/k.h5.parts")"

# ---- bad input: one line, exit 1, nothing under the output name
awk 'BEGIN { s = ""; for (i = 0; i < 400; i++) s = s "zebra quilt "; print s }' >"$T/long.txt"
"$P" --text "$T/long.txt" --out "$T/long.h5" >/dev/null 2>&1
check_fails prompt_too_long 1 'long.h5: prompt id 0 is [0-9]+ tokens long .*seq_len 512' \
    "$G" --model "$T/m.h5" --prompts "$T/long.h5" --out "$T/bad.h5" --k 2
check_fails k_zero 1 '--k 0: must be at least 1' "$G" --model "$T/m.h5" --prompts "$T/p.h5" --out "$T/bad.h5" --k 0
check_fails model_is_prompts 1 "p.h5: is a 'prompts' file, expected a 'model' file" \
    "$G" --model "$T/p.h5" --prompts "$T/p.h5" --out "$T/bad.h5" --k 2
check_fails prompts_is_model 1 "m.h5: is a 'model' file, expected a 'prompts' file" \
    "$G" --model "$T/m.h5" --prompts "$T/m.h5" --out "$T/bad.h5" --k 2
check_fails bad_temperature 1 'temperature -1 must be' \
    "$G" --model "$T/m.h5" --prompts "$T/p.h5" --out "$T/bad.h5" --k 2 --temperature -1
check_fails output_dir_missing 1 'output directory /nonexistent-dir does not exist' \
    "$G" --model "$T/m.h5" --prompts "$T/p.h5" --out /nonexistent-dir/c.h5 --k 2
check_fails output_is_input 1 'output file is also the model input' \
    "$G" --model "$T/m.h5" --prompts "$T/p.h5" --out "$T/m.h5" --k 2
# under mpirun (which adds its own banner): exit 1, one line from us
pp_mpirun 2 "$G" --model "$T/m.h5" --prompts "$T/p.h5" --out "$T/bad.h5" --k 0 >/dev/null 2>"$T/err2.txt"
code=$?
[ "$code" = 1 ] && [ "$(grep -c '^pp-generate: error: --k 0: must be at least 1$' "$T/err2.txt")" = 1 ] &&
    [ "$(grep -c '^pp-generate' "$T/err2.txt")" = 1 ] && ok np2_k_zero || fail np2_k_zero "exit $code: $(head -c 300 "$T/err2.txt")"
ls "$T" | grep -q '^bad\.h5' && fail bad_input_leaves_no_output "$(ls "$T" | grep bad)" || ok bad_input_leaves_no_output
