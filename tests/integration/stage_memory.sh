#!/bin/sh
# Every stage estimates its memory per rank before it allocates (issues 20
# and 24): the stages that load a model (pp-convert, pp-import, pp-rank's
# model and rm judges, pp-rm) refuse a run over --max-memory with one line,
# exit 1 and no output, before any work; every summary line prints the
# estimate next to the measured peak; and on a model whose weights dominate
# (random, d=512, 8 layers, vocabulary 4096: 29M parameters, 117 MB of
# fp32) the estimate is within a factor of the peak (getrusage high-water
# mark, one rank: with several ranks on a node the node-shared weights are
# counted once per node in the estimate but in full in every rank's peak).
# pp-generate's and pp-eval's checks are in generate.sh and eval.sh, pp-sft's
# and pp-train's in memory.sh and train.sh.
. "$(dirname "$0")/../lib.sh"
RAND=$BUILD/tests/tools/random_model
for tool in "$RAND" "$BIN/pp-rm" "$BIN/pp-rank" "$BIN/pp-convert" "$BIN/pp-import"; do
    if [ ! -x "$tool" ]; then
        fail stage_memory_setup "missing $tool (run make tests)"
        exit 0
    fi
done
# the estimate may be at most HI and at least LO times the measured peak:
# the peak adds what no estimate counts (page-cache pages of files read
# through mmap or HDF5, allocator slack, libraries' own buffers), and an
# estimate counts buffers a short run never touches (the KV cache's unused
# positions), so neither side is exact; half to twice is what the stages
# meet on this model with room for the machine's noise.  The scorer of the
# reward model (pp-rm's features, the rm judge) allocates a 256 MiB KV
# cache whole and a short sequence touches a few MiB of it: up to 3 times
# there (measured: 1.6 for pp-rm, 2.0 for pp-rank --judge rm)
LO=0.5 HI=2.0
# est_vs_peak NAME LOG
est_vs_peak() {
    line=$(grep 'peak memory per rank' "$2" | tail -n 1)
    peak=$(echo "$line" | sed -n 's/.*peak memory per rank \([0-9.]*\) MiB.*/\1/p')
    est=$(echo "$line" | sed -n 's/.*estimated \([0-9.]*\) MiB.*/\1/p')
    if [ -n "$peak" ] && [ -n "$est" ] && awk "BEGIN{r = $est / $peak; exit !(r >= $LO && r <= $HI)}"; then
        ok "$1 (estimate $est MiB, peak $peak MiB)"
    else
        fail "$1" "estimate '$est' MiB, peak '$peak' MiB, want a ratio in [$LO, $HI]: $(tail -n 1 "$2")"
    fi
}
# printed NAME LOG: the estimate's line before the work, the summary with both
printed() {
    grep -q 'memory estimate per rank' "$2" && grep -Eq 'peak memory per rank [0-9.]+ MiB .*estimated [0-9.]+ MiB' "$2" &&
        ok "$1" || fail "$1" "$(grep -E 'memory' "$2" | tr '\n' ' ')"
}
REFUSED='needs an estimated .* per rank .*more than the --max-memory of 1.0 MiB'

# ---- the model, prompts, candidates and pairs
"$RAND" dim=512,layers=8,heads=8,kv-heads=8,hidden=1376,seq-len=128,tied=0 4096 5 "$T/m.h5" "$T/tok.bin" \
    >"$T/setup.txt" 2>&1 &&
    "$BIN/pp-prompts" --out "$T/p.h5" --suite builtin --split train --n 24 >"$T/prompts.log" 2>&1 &&
    "$BIN/pp-generate" --model "$T/m.h5" --prompts "$T/p.h5" --out "$T/c.h5" --k 3 --max-new-tokens 6 \
        >>"$T/setup.txt" 2>&1 &&
    "$BIN/pp-rank" --candidates "$T/c.h5" --out "$T/r.h5" --judge oracle >"$T/rank.log" 2>&1
if [ ! -s "$T/r.h5" ]; then
    fail stage_memory_setup "$(tail -n 3 "$T/setup.txt" "$T/rank.log" | tr '\n' ' ')"
    exit 0
fi
ok stage_memory_setup

# ---- pp-prompts (no model: the source's size and the runtime)
printed prompts_estimate_printed "$T/prompts.log"
est_vs_peak prompts_estimate_vs_peak "$T/prompts.log"

# ---- pp-rank: the oracle, the rm judge and the model judge
printed rank_oracle_estimate_printed "$T/rank.log"
est_vs_peak rank_oracle_estimate_vs_peak "$T/rank.log"
check_fails rank_max_memory_refused 1 "$REFUSED" "$BIN/pp-rank" --candidates "$T/c.h5" --out "$T/rx.h5" \
    --judge oracle --max-memory 1M
[ ! -e "$T/rx.h5" ] && [ ! -e "$T/rx.h5.parts" ] && ok rank_max_memory_no_output ||
    fail rank_max_memory_no_output "$(ls -d "$T"/rx.h5*)"

# ---- pp-rm: the feature model (node-shared), its workspace, the fit
"$BIN/pp-rm" --pairs "$T/r.h5" --model "$T/m.h5" --out "$T/rm.h5" --l2 10 >"$T/rm.log" 2>&1
printed rm_estimate_printed "$T/rm.log"
HI=3.0 est_vs_peak rm_estimate_vs_peak "$T/rm.log"
check_fails rm_max_memory_refused 1 "$REFUSED" "$BIN/pp-rm" --pairs "$T/r.h5" --model "$T/m.h5" --out "$T/rmx.h5" \
    --max-memory 1M
[ ! -e "$T/rmx.h5" ] && ok rm_max_memory_no_output || fail rm_max_memory_no_output "rmx.h5 written"
if grep -q 'feature model (1/ranks: node-shared)' "$T/rm.log"; then fail rm_one_rank_not_shared "$(grep estimate "$T/rm.log")"
else ok rm_one_rank_not_shared; fi
pp_mpirun 2 "$BIN/pp-rm" --pairs "$T/r.h5" --model "$T/m.h5" --out "$T/rm2.h5" --l2 10 >"$T/rm2.log" 2>&1
grep -q 'feature model (1/ranks: node-shared)' "$T/rm2.log" &&
    "$BUILD/tests/tools/h5cmp" "$T/rm.h5" "$T/rm2.h5" /weights 1e-8 >/dev/null 2>&1 && ok rm_np2_shared_model_same_weights ||
    fail rm_np2_shared_model_same_weights "$(grep -E 'estimate|error' "$T/rm2.log" | tr '\n' ' ')"

if [ -s "$T/rm.h5" ]; then
    "$BIN/pp-rank" --candidates "$T/c.h5" --out "$T/rs.h5" --method score --judge rm --rm "$T/rm.h5" >"$T/rs.log" 2>&1
    grep -q 'judge [1-9]' "$T/rs.log" && printed rank_rm_estimate_printed "$T/rs.log" ||
        fail rank_rm_estimate_printed "$(grep -E 'memory|error' "$T/rs.log" | tr '\n' ' ')"
    HI=3.0 est_vs_peak rank_rm_estimate_vs_peak "$T/rs.log"
    check_fails rank_rm_max_memory_refused 1 "$REFUSED" "$BIN/pp-rank" --candidates "$T/c.h5" --out "$T/rsx.h5" \
        --method score --judge rm --rm "$T/rm.h5" --max-memory 1M
else
    fail rank_rm_estimate "no rm.h5: $(tail -n 1 "$T/rm.log")"
fi
# the model judge: the random model judges (labels A and B are byte pieces)
"$BIN/pp-rank" --candidates "$T/c.h5" --out "$T/rj.h5" --judge model --judge-model "$T/m.h5" --judge-batch 4 \
    >"$T/rj.log" 2>&1
grep -q 'judge [1-9]' "$T/rj.log" && printed rank_model_judge_estimate_printed "$T/rj.log" ||
    fail rank_model_judge_estimate_printed "$(grep -E 'memory|error' "$T/rj.log" | tr '\n' ' ')"
est_vs_peak rank_model_judge_estimate_vs_peak "$T/rj.log"
check_fails rank_model_judge_max_memory_refused 1 "$REFUSED" "$BIN/pp-rank" --candidates "$T/c.h5" --out "$T/rjx.h5" \
    --judge model --judge-model "$T/m.h5" --max-memory 1M

# ---- pp-convert, every direction
C=$BIN/pp-convert
"$C" --to-hf "$T/hf" --model "$T/m.h5" --dtype bf16 >"$T/tohf.log" 2>&1
"$C" --from-hf "$T/hf" --tokenizer "$T/tok.bin" --out "$T/m16.h5" >"$T/fromhf.log" 2>&1
"$C" --to-llama2c "$T/m.bin" --model "$T/m.h5" >"$T/tol2c.log" 2>&1
"$C" --from-llama2c "$T/m.bin" --tokenizer "$T/m.bin.tok" --out "$T/ml.h5" >"$T/froml2c.log" 2>&1
for d in tohf fromhf tol2c froml2c; do
    printed "convert_${d}_estimate_printed" "$T/$d.log"
    est_vs_peak "convert_${d}_estimate_vs_peak" "$T/$d.log"
done
check_fails convert_to_hf_max_memory_refused 1 "$REFUSED" "$C" --to-hf "$T/hfx" --model "$T/m.h5" --max-memory 1M
[ ! -e "$T/hfx" ] && ok convert_to_hf_refused_no_output || fail convert_to_hf_refused_no_output "hfx written"
check_fails convert_from_hf_max_memory_refused 1 "$REFUSED" "$C" --from-hf "$T/hf" --tokenizer "$T/tok.bin" \
    --out "$T/x.h5" --max-memory 1M
check_fails convert_to_llama2c_max_memory_refused 1 "$REFUSED" "$C" --to-llama2c "$T/x.bin" --model "$T/m.h5" --max-memory 1M
check_fails convert_from_llama2c_max_memory_refused 1 "$REFUSED" "$C" --from-llama2c "$T/m.bin" \
    --tokenizer "$T/m.bin.tok" --out "$T/x.h5" --max-memory 1M
[ ! -e "$T/x.h5" ] && [ ! -e "$T/x.bin" ] && ok convert_refused_no_output || fail convert_refused_no_output "$(ls "$T"/x.*)"

# ---- pp-import: the model it takes the tokenizer from, and the rows
i=0
while [ $i -lt 40 ]; do
    printf '{"prompt": "Question %d: what is %d + %d?", "chosen": "It is %d.", "rejected": "I do not know."}\n' \
        $i $i $i $((i + i))
    i=$((i + 1))
done >"$T/trl.jsonl"
"$BIN/pp-import" --data "$T/trl.jsonl" --model "$T/m.h5" --out "$T/imp.h5" >"$T/import.log" 2>&1
printed import_estimate_printed "$T/import.log"
est_vs_peak import_estimate_vs_peak "$T/import.log"
check_fails import_max_memory_refused 1 "$REFUSED" "$BIN/pp-import" --data "$T/trl.jsonl" --model "$T/m.h5" \
    --out "$T/impx.h5" --max-memory 1M
[ ! -e "$T/impx.h5" ] && ok import_refused_no_output || fail import_refused_no_output "impx.h5 written"

# ---- pp-report (an eval file read whole; a fake gnuplot that writes the PNG)
cat >"$T/fakeplot" <<'EOS'
#!/bin/sh
out=$(sed -n "s/^set output '\(.*\)'\$/\1/p" "$1")
printf 'PNG' >"$out"
EOS
chmod +x "$T/fakeplot"
if "$BUILD/tests/tools/make_report_inputs" eval "$T/e.h5" test,ood >/dev/null 2>&1; then
    "$BIN/pp-report" --eval "$T/e.h5" --out-dir "$T" --gnuplot "$T/fakeplot" >"$T/report.log" 2>&1
    printed report_estimate_printed "$T/report.log"
    est_vs_peak report_estimate_vs_peak "$T/report.log"
else
    fail report_estimate_printed "make_report_inputs eval failed"
fi

# ---- pp-inspect: its stdout is for scripts, so neither the estimate nor a summary line
"$BIN/pp-inspect" "$T/r.h5" --get n_pairs >"$T/inspect.out" 2>"$T/inspect.err"
[ "$(grep -c . "$T/inspect.out")" = 1 ] && grep -qx '[1-9][0-9]*' "$T/inspect.out" && [ ! -s "$T/inspect.err" ] &&
    ok inspect_stdout_only_the_answer || fail inspect_stdout_only_the_answer "$(cat "$T/inspect.out" "$T/inspect.err")"
