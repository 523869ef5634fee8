#!/bin/sh
# pp-eval and pp-report: a model against itself is a 50% win rate, swapping
# policy and baseline gives 100 - the win rate, both splits are reported,
# the cmd judge works, the plots render.
. "$(dirname "$0")/../lib.sh"
attr() { h5dump -a "$2" "$1" 2>/dev/null | sed -n 's/.*(0): \([-0-9.e]*\).*/\1/p'; }

"$BIN/pp-prompts" --out "$T/train.h5" --suite builtin --split train --n 200 --seed 4 >/dev/null 2>&1
"$BIN/pp-prompts" --out "$T/test.h5" --suite builtin --split test --n 60 --seed 5 >/dev/null 2>&1
"$BIN/pp-prompts" --out "$T/ood.h5" --suite builtin --split ood --n 40 --seed 5 >/dev/null 2>&1
ARCH="--arch dim=32,layers=2,heads=4,kv-heads=2,hidden=64,seq-len=48 --batch 16 --lr 3e-3"
pp_mpirun 2 "$BIN/pp-sft" --out "$T/a.h5" --data "$T/train.h5" $ARCH --steps 40 >/dev/null 2>&1
pp_mpirun 2 "$BIN/pp-sft" --out "$T/b.h5" --data "$T/train.h5" $ARCH --steps 80 --init-seed 9 >/dev/null 2>&1

check eval_self pp_mpirun 2 "$BIN/pp-eval" --policy "$T/a.h5" --baseline "$T/a.h5" --prompts "$T/test.h5" --out "$T/self.h5" --temperature 1
w=$(attr "$T/self.h5" /test/win_rate)
se=$(attr "$T/self.h5" /test/win_rate_se)
awk "BEGIN{exit !($w >= 0.5 - $se - 1e-12 && $w <= 0.5 + $se + 1e-12)}" && ok "eval_self_is_50_percent ($w ± $se)" ||
    fail eval_self_is_50_percent "win rate $w ± $se"

check eval_ab pp_mpirun 2 "$BIN/pp-eval" --policy "$T/a.h5" --baseline "$T/b.h5" --prompts "$T/test.h5,$T/ood.h5" --out "$T/ab.h5"
check eval_ba pp_mpirun 1 "$BIN/pp-eval" --policy "$T/b.h5" --baseline "$T/a.h5" --prompts "$T/test.h5,$T/ood.h5" --out "$T/ba.h5"
check eval_validates "$BIN/pp-inspect" --validate "$T/ab.h5"
for s in test ood; do
    ab=$(attr "$T/ab.h5" /$s/win_rate)
    ba=$(attr "$T/ba.h5" /$s/win_rate)
    awk "BEGIN{d=$ab+$ba-1; exit !(d < 1e-12 && d > -1e-12)}" && ok "eval_swap_${s}_is_complement ($ab + $ba)" ||
        fail "eval_swap_${s}_is_complement" "$ab + $ba != 1"
    pa=$(attr "$T/ab.h5" /$s/policy_accuracy)
    bb=$(attr "$T/ba.h5" /$s/baseline_accuracy)
    [ "$pa" = "$bb" ] && ok "eval_swap_${s}_accuracy_follows_model" || fail "eval_swap_${s}_accuracy_follows_model" "$pa vs $bb"
done
"$BIN/pp-inspect" "$T/ab.h5" | grep -q '^ood ' && ok eval_table_has_both_splits || fail eval_table_has_both_splits "no ood row"
h5dump -A 0 -d /test/policy_text "$T/ab.h5" | grep -q 'DATA {' && ok eval_texts_readable || fail eval_texts_readable "no /test/policy_text"

# ---- the responses come from the continuous-batching decoder: every
# dataset and attribute is identical (h5_same, full precision; the
# command line, rank count and host of the provenance left out) for
# -np 1 and -np 2, --max-batch 1, 8 and 64, and a killed-and-resumed run
EV2="$BIN/pp-eval --policy $T/a.h5 --baseline $T/b.h5 --prompts $T/test.h5,$T/ood.h5 --temperature 1 --max-new-tokens 16 --chunk-prompts 4"
check eval_np1_run pp_mpirun 1 $EV2 --out "$T/e1.h5"
check eval_np2_run pp_mpirun 2 $EV2 --out "$T/e2.h5"
check eval_maxbatch1_run pp_mpirun 1 $EV2 --max-batch 1 --out "$T/em1.h5"
check eval_maxbatch8_run pp_mpirun 2 $EV2 --max-batch 8 --out "$T/em8.h5"
for f in e2 em1 em8; do
    if why=$(h5_same "$T/e1.h5" "$T/$f.h5" arguments mpi_ranks host); then ok "eval_${f}_identical_to_np1"
    else fail "eval_${f}_identical_to_np1" "$why"; fi
done
# killed (SIGKILL) after some chunks, at --max-batch 8 (responses made two
# chunks at a time), then finished by -np 2
parts() { ls "$T/ek.h5.parts" 2>/dev/null | grep -c '^[0-9]-.*\.h5$'; }
PP_TEST_CHUNK_DELAY_MS=150 $EV2 --max-batch 8 --out "$T/ek.h5" >/dev/null 2>&1 &
pid=$!
i=0
while [ "$(parts)" -lt 5 ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
nk=$(parts)
[ "$nk" -ge 5 ] && [ "$nk" -lt 25 ] && [ ! -e "$T/ek.h5" ] && ok eval_killed_midway || fail eval_killed_midway "$nk of 25 chunks saved"
pp_mpirun 2 $EV2 --out "$T/ek.h5" >"$T/ek.log" 2>&1 && ok eval_resume_finishes || fail eval_resume_finishes "$(tail -n 2 "$T/ek.log")"
grep -q "resumed: $((nk * 4)) of 100 prompts reused" "$T/ek.log" && ok eval_resume_reuses_chunks ||
    fail eval_resume_reuses_chunks "want $((nk * 4)) reused: $(grep resumed "$T/ek.log")"
if why=$(h5_same "$T/e1.h5" "$T/ek.h5" arguments mpi_ranks host); then ok eval_resumed_identical_to_uninterrupted
else fail eval_resumed_identical_to_uninterrupted "$why"; fi
check_fails eval_kv_budget_too_small 1 '--kv-cache-mb 0.0001 holds no sequence' $EV2 --kv-cache-mb 0.0001 --out "$T/kvbad.h5"
[ ! -e "$T/kvbad.h5" ] && [ ! -e "$T/kvbad.h5.parts" ] && ok eval_kv_refusal_leaves_nothing ||
    fail eval_kv_refusal_leaves_nothing "$(ls "$T" | grep kvbad)"

# the external judge gives the same kind of answer
check eval_cmd_judge pp_mpirun 2 "$BIN/pp-eval" --policy "$T/a.h5" --baseline "$T/b.h5" --prompts "$T/test.h5" --out "$T/cmd.h5" \
    --judge cmd --judge-cmd "$BUILD/tests/tools/judge_good"

# one writer at a time (core/pp_parts): while a run works on an --out, a
# second one on it is refused naming the first; the first finishes and
# removes its parts
PP_TEST_CHUNK_DELAY_MS=300 "$BIN/pp-eval" --policy "$T/a.h5" --baseline "$T/b.h5" --prompts "$T/test.h5" --out "$T/lk.h5" \
    --chunk-prompts 4 >/dev/null 2>"$T/lk.err" &
pid=$!
i=0
while [ ! -f "$T/lk.h5.parts/lock" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
check_fails eval_second_writer_refused 1 "another run is writing $T/lk\.h5 \(pid $pid" \
    "$BIN/pp-eval" --policy "$T/a.h5" --baseline "$T/b.h5" --prompts "$T/test.h5" --out "$T/lk.h5" --chunk-prompts 4
wait $pid
code=$?
[ $code = 0 ] && [ -f "$T/lk.h5" ] && [ ! -e "$T/lk.h5.parts" ] && ok eval_first_writer_finishes ||
    fail eval_first_writer_finishes "exit $code: $(tail -n 1 "$T/lk.err"); $(ls "$T" | grep lk)"

# the judge options are pp-rank's (one set, src/judge/judge_cli.h): the id prefix
# reaches the judge (judge_garbage answers badly the first time it sees an
# id that starts "badwinner_once:"), --judge-retries and --judge-give-up
# are honoured, --judge-stderr collects the judges' stderr
G="$BUILD/tests/tools/judge_garbage"
EV="$BIN/pp-eval --policy $T/a.h5 --baseline $T/b.h5 --prompts $T/test.h5 --judge cmd"
n=$(attr "$T/cmd.h5" /test/n)
check eval_judge_prefix_no_retry $EV --out "$T/g0.h5" --judge-cmd "$G" --judge-id-prefix badwinner_once: --judge-retries 0 --judge-give-up 1000
check eval_judge_prefix_retried $EV --out "$T/g2.h5" --judge-cmd "$G" --judge-id-prefix badwinner_once: --judge-retries 1
f0=$(attr "$T/g0.h5" /test/judge_failures) f2=$(attr "$T/g2.h5" /test/judge_failures)
[ -n "$n" ] && [ "$f0" = "$((2 * n))" ] && [ "$f2" = 0 ] && ok "eval_judge_id_prefix_and_retries_honoured ($f0 of $((2 * n)) without retries)" ||
    fail eval_judge_id_prefix_and_retries_honoured "failures $f0 (want $((2 * n))) without retries, $f2 (want 0) with one"
check_fails eval_judge_give_up 2 'gave no valid answer' $EV --out "$T/g3.h5" --judge-cmd "$G" \
    --judge-id-prefix notjson: --judge-retries 0 --judge-give-up 2
rm -f "$T/judge.log"
check eval_judge_stderr_run pp_mpirun 2 $EV --out "$T/g4.h5" --judge-cmd "$BUILD/tests/tools/judge_good --hello" --judge-stderr "$T/judge.log"
[ "$(grep -c '^judge_good: hello$' "$T/judge.log" 2>/dev/null)" = 2 ] && ok eval_judge_stderr_collects_both_ranks ||
    fail eval_judge_stderr_collects_both_ranks "$(head -c 200 "$T/judge.log" 2>&1)"
check_fails eval_judge_id_prefix_too_long 1 'judge-id-prefix is longer than' $EV --out "$T/g5.h5" --judge-cmd "$G" \
    --judge-id-prefix "$(printf '%070d' 0)"

check_fails eval_oracle_needs_suite 1 'judge oracle needs prompts from the built-in suite' \
    sh -c "printf 'hello\n' >'$T/plain.txt' && '$BIN/pp-prompts' --out '$T/plain.h5' --text '$T/plain.txt' >/dev/null 2>&1 && '$BIN/pp-eval' --policy '$T/a.h5' --baseline '$T/b.h5' --prompts '$T/plain.h5' --out '$T/x.h5'"
[ ! -e "$T/x.h5" ] && ok eval_bad_input_no_output || fail eval_bad_input_no_output "x.h5 exists"

# plots: exist and are real PNGs of some size
if command -v gnuplot >/dev/null 2>&1; then
    check report_runs "$BIN/pp-report" --model "$T/b.h5" --eval "$T/ab.h5" --out-dir "$T"
    for png in training eval; do
        f="$T/$png.png"
        if [ -f "$f" ] && [ "$(head -c 8 "$f" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] && [ "$(wc -c <"$f")" -gt 5000 ]; then
            ok "report_${png}_png ($(wc -c <"$f") bytes)"
        else fail "report_${png}_png" "missing or too small"; fi
    done
else skip report_runs "gnuplot is not installed (make deps installs gnuplot-nox)"; fi
check_fails eval_max_memory_refused 1 'needs an estimated .* per rank .*more than the --max-memory of 1.0 MiB' \
    "$BIN/pp-eval" --policy "$T/a.h5" --baseline "$T/b.h5" --prompts "$T/test.h5" --out "$T/mem.h5" --max-memory 1M
[ ! -e "$T/mem.h5" ] && ok eval_max_memory_no_output || fail eval_max_memory_no_output "mem.h5 written"
check_fails report_needs_input 1 'give --model, --eval, --compare or --rounds' "$BIN/pp-report"
