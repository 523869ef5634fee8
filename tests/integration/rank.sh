#!/bin/sh
# pp-rank: judge calls per method, truth found by a noiseless oracle, pairs
# independent of the rank count, external judges that crash, hang or talk
# garbage, texts that reach the judge intact, kill-and-resume, bad input.
. "$(dirname "$0")/../lib.sh"
R=$BIN/pp-rank
I=$BIN/pp-inspect
TOOLS=$BUILD/tests/tools
MK=$TOOLS/make_candidates
GUARD="timeout 60" # a hang fails the test instead of stopping it

attr() { h5dump -a "/$2" "$1" 2>/dev/null | sed -n 's/.*(0): //p'; }
vals() { h5dump -A 0 -y -w 0 -d "$2" "$1" 2>/dev/null | sed -n '/DATA {/{n;p;}' | tr -d ' ' | tr ',' '\n'; }
# what must not depend on ranks or restarts (the match log without times and ranks)
pairs_dump() {
    h5dump -A 0 -y -w 0 -d /best -d /worst -d /ranking -d /judge_calls -d /ties -d /failures -d /pair_prompt \
        -d /chosen -d /rejected -d /chosen_tokens -d /rejected_tokens -d /chosen_text -d /rejected_text \
        -d /matches/prompt -d /matches/call -d /matches/a -d /matches/b -d /matches/verdict "$1" 2>&1 | sed 1d
}
same_pairs() { # NAME A B
    if [ -f "$2" ] && [ -f "$3" ] && [ "$(pairs_dump "$2")" = "$(pairs_dump "$3")" ]; then ok "$1"
    else fail "$1" "$2 and $3 differ: $(pairs_dump "$2" >"$T/d1"; pairs_dump "$3" >"$T/d2"; diff "$T/d1" "$T/d2" | head -c 300)"; fi
}
# wait (up to 20 s) until a journal holds some verdicts
wait_journal() {
    i=0
    while [ $i -lt 200 ]; do
        [ -f "$1" ] && [ "$(wc -c <"$1")" -gt 1200 ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
valid() { # NAME FILE
    if out=$("$I" --validate "$2" 2>&1); then ok "$1"; else fail "$1" "$out"; fi
}

"$BIN/pp-prompts" --suite builtin --split test --n 12 --out "$T/p.h5" >/dev/null 2>&1
for k in 4 5 6; do "$MK" "$T/p.h5" "$T/c$k.h5" $k suite 7 || fail make_candidates "k=$k"; done

# ---- exact judge calls per prompt; a noiseless oracle finds a true best and worst
for k in 5 6; do
    for m in iterative knockout roundrobin; do
        bos="--both-orders"
        [ $k = 5 ] && bos="" # odd K once, both orders on even K
        case $m in
        iterative) want=$((2 * (k - 1))) ;;
        knockout) want=$(((3 * k + 1) / 2 - 2)) ;;
        roundrobin) want=$((k * (k - 1) / 2)) ;;
        esac
        for bo in "" $bos; do
            name=calls_${m}_k${k}${bo:+_both}
            w=$want
            [ -n "$bo" ] && w=$((2 * want))
            out=$T/$m$k$bo.h5
            if ! "$R" --candidates "$T/c$k.h5" --out "$out" --method $m --judge oracle $bo >/dev/null 2>"$T/err"; then
                fail "$name" "$(cat "$T/err")"
                continue
            fi
            got=$(vals "$out" /judge_calls | sort -u | tr '\n' ' ')
            [ "$got" = "$w " ] && ok "$name" || fail "$name" "judge calls per prompt '$got', want $w"
            b=$(attr "$out" truth_best_rate) wr=$(attr "$out" truth_worst_rate)
            [ "$b" = 1 ] && [ "$wr" = 1 ] && ok "truth_${name#calls_}" ||
                fail "truth_${name#calls_}" "best rate $b, worst rate $wr (want 1, 1)"
            [ $k = 6 ] && [ -z "$bo" ] && valid "valid_${name#calls_}" "$out"
        done
    done
done

# ---- h5dump shows the texts: a noiseless oracle chooses the reference answers
ref=$(h5dump -A 0 -y -w 0 -d /reference "$T/iterative6.h5" | sed -n '/DATA {/{n;p;}')
cho=$(h5dump -A 0 -y -w 0 -d /chosen_text "$T/iterative6.h5" | sed -n '/DATA {/{n;p;}')
case $ref in *'"'*) [ "$ref" = "$cho" ] && ok h5dump_readable || fail h5dump_readable "chosen $cho, references $ref" ;;
*) fail h5dump_readable "no quoted texts in h5dump: $ref" ;; esac

# ---- --pairs all, --rejected rules, noisy oracle, score method
check pairs_all "$R" --candidates "$T/c6.h5" --out "$T/all.h5" --method roundrobin --pairs all
n=$(attr "$T/all.h5" n_pairs) acc=$(attr "$T/all.h5" truth_pair_accuracy)
[ "${n:-0}" -gt 12 ] && [ "$acc" = 1 ] && ok pairs_all_ordered || fail pairs_all_ordered "n_pairs $n, pair accuracy $acc"
valid pairs_all_valid "$T/all.h5"
check rejected_quantile "$R" --candidates "$T/c6.h5" --out "$T/q.h5" --method knockout --rejected quantile:0.5 --jsonl "$T/q.jsonl"
[ "$(grep -c '^{"prompt":.*"chosen":.*"rejected":' "$T/q.jsonl")" = "$(attr "$T/q.h5" n_pairs)" ] && ok jsonl_trl_lines ||
    fail jsonl_trl_lines "$(head -c 200 "$T/q.jsonl")"
check noisy_oracle "$R" --candidates "$T/c6.h5" --out "$T/noisy.h5" --judge-noise 0.3 --judge-position-bias 0.5 --both-orders
f=$(attr "$T/noisy.h5" flips)
[ "${f:-0}" -gt 0 ] && ok noisy_oracle_flips_counted || fail noisy_oracle_flips_counted "flips=$f"
check score_oracle "$R" --candidates "$T/c6.h5" --out "$T/score.h5" --method score
[ "$(attr "$T/score.h5" truth_agreement)" = 1 ] && ok score_oracle_truth || fail score_oracle_truth "agreement $(attr "$T/score.h5" truth_agreement)"
valid score_valid "$T/score.h5"

# ---- -np 1 and -np 2 give the same pairs with deterministic judges
"$R" --candidates "$T/c6.h5" --out "$T/n1.h5" --method knockout --judge-noise 0.2 --judge-position-bias 0.4 --both-orders >/dev/null 2>&1
pp_mpirun 2 "$R" --candidates "$T/c6.h5" --out "$T/n2.h5" --method knockout --judge-noise 0.2 --judge-position-bias 0.4 --both-orders >/dev/null 2>&1
same_pairs np1_np2_oracle "$T/n1.h5" "$T/n2.h5"
"$R" --candidates "$T/c6.h5" --out "$T/g1.h5" --method iterative --judge cmd --judge-cmd "$TOOLS/judge_good" >/dev/null 2>&1
$GUARD mpirun --oversubscribe --bind-to none -np 2 "$R" --candidates "$T/c6.h5" --out "$T/g2.h5" --method iterative --judge cmd --judge-cmd "$TOOLS/judge_good" >/dev/null 2>&1
same_pairs np1_np2_cmd "$T/g1.h5" "$T/g2.h5"
valid cmd_valid "$T/g2.h5"
[ "$(vals "$T/g2.h5" /matches/rank | sort -u | tr '\n' ' ')" = "0 1 " ] && ok np2_both_ranks_judge ||
    fail np2_both_ranks_judge "ranks in the match log: $(vals "$T/g2.h5" /matches/rank | sort -u | tr '\n' ' ')"

# ---- misbehaving judges: every run completes, failures are counted
"$R" --candidates "$T/c4.h5" --out "$T/good4.h5" --method knockout --judge cmd --judge-cmd "$TOOLS/judge_good" >/dev/null 2>&1
if $GUARD "$R" --candidates "$T/c4.h5" --out "$T/crashy.h5" --method knockout --judge cmd --judge-cmd "$TOOLS/judge_crashy 3" >/dev/null 2>"$T/err"; then
    r=$(attr "$T/crashy.h5" restarts) c=$(attr "$T/crashy.h5" crashes)
    [ "${r:-0}" -gt 0 ] && [ "${c:-0}" -gt 0 ] && ok crashy_counted || fail crashy_counted "restarts $r crashes $c"
    same_pairs crashy_same_pairs "$T/good4.h5" "$T/crashy.h5"
else fail crashy_completes "$(tail -n 1 "$T/err")"; fi
if $GUARD mpirun --oversubscribe --bind-to none -np 2 "$R" --candidates "$T/c4.h5" --out "$T/hang.h5" --method knockout \
    --judge cmd --judge-cmd "$TOOLS/judge_hang 7" --judge-timeout 0.2 >/dev/null 2>"$T/err"; then
    t=$(attr "$T/hang.h5" timeouts)
    [ "${t:-0}" -gt 0 ] && ok hang_timeouts_counted || fail hang_timeouts_counted "timeouts $t"
    same_pairs hang_same_pairs "$T/good4.h5" "$T/hang.h5"
else fail hang_completes "$(tail -n 1 "$T/err")"; fi
if $GUARD "$R" --candidates "$T/c4.h5" --out "$T/garb.h5" --method knockout --judge cmd --judge-cmd "$TOOLS/judge_garbage" \
    --judge-id-prefix badwinner_once: >/dev/null 2>"$T/err"; then
    b=$(attr "$T/garb.h5" bad_answers) n=$(attr "$T/garb.h5" judge_calls)
    [ "$b" = "$n" ] && [ "$(attr "$T/garb.h5" failures)" = 0 ] && ok garbage_retried_counted ||
        fail garbage_retried_counted "bad answers $b of $n calls"
else fail garbage_completes "$(tail -n 1 "$T/err")"; fi
# a judge that never answers sensibly: every call fails, the run still ends
"$BIN/pp-prompts" --suite builtin --split test --n 3 --out "$T/p3.h5" >/dev/null 2>&1
"$MK" "$T/p3.h5" "$T/c2.h5" 2 suite
if $GUARD "$R" --candidates "$T/c2.h5" --out "$T/nj.h5" --judge cmd --judge-cmd "$TOOLS/judge_garbage" \
    --judge-id-prefix notjson: --judge-retries 0 --judge-give-up 1000 >/dev/null 2>"$T/err"; then
    [ "$(attr "$T/nj.h5" failures)" = 6 ] && [ "$(attr "$T/nj.h5" n_pairs)" = 0 ] && ok garbage_failures_counted ||
        fail garbage_failures_counted "failures $(attr "$T/nj.h5" failures), pairs $(attr "$T/nj.h5" n_pairs)"
    h5dump -A 0 -d /matches/error "$T/nj.h5" | grep -q 'not JSON' && ok failure_reason_logged ||
        fail failure_reason_logged "$(h5dump -A 0 -d /matches/error "$T/nj.h5" | head -c 300)"
    valid failed_valid "$T/nj.h5"
else fail garbage_failures_complete "$(tail -n 1 "$T/err")"; fi
check_fails broken_judge_one_line 2 'gave no valid answer' $GUARD "$R" --candidates "$T/c2.h5" --out "$T/bj.h5" \
    --judge cmd --judge-cmd "$TOOLS/judge_garbage" --judge-id-prefix notjson: --judge-retries 0 --judge-give-up 2

# ---- --method score with an external pointwise scorer (--judge-protocol score):
# the scorer's score is the answer's length, so the chosen answer is the
# longest of its prompt; faults are retried and counted, the pairs unchanged
SC="$TOOLS/scorer_test"
score_run() { # OUT EXTRA-ARGS...
    out=$1
    shift
    $GUARD "$R" --candidates "$T/c6.h5" --out "$out" --method score --judge cmd --judge-protocol score "$@" >/dev/null 2>"$T/err"
}
if score_run "$T/sc_good.h5" --judge-cmd "$SC good"; then
    n=$(attr "$T/sc_good.h5" n_pairs)
    # every pair: the chosen answer has its prompt's highest score (the longest), the rejected a lower one
    h5dump -A 0 -y -w 0 -d /score "$T/sc_good.h5" | sed -n '/DATA {/,/}/p' | sed '1d;$d' | tr -d ' ' | tr ',' '\n' | grep . >"$T/sc"
    vals "$T/sc_good.h5" /pair_prompt >"$T/pp"
    vals "$T/sc_good.h5" /chosen >"$T/ch"
    vals "$T/sc_good.h5" /rejected >"$T/rj"
    right=$(paste "$T/pp" "$T/ch" "$T/rj" | awk -v K=6 'NR == FNR { s[NR - 1] = $1; next }
        { m = s[$1 * K]; for (j = 1; j < K; j++) if (s[$1 * K + j] > m) m = s[$1 * K + j]
          if (s[$1 * K + $2] == m && s[$1 * K + $3] < m) n++ } END { print n + 0 }' "$T/sc" -)
    [ "${n:-0}" -gt 0 ] && [ "$right" = "$n" ] && ok score_cmd_longest_chosen ||
        fail score_cmd_longest_chosen "pairs $n, chosen has the highest score in $right"
    [ "$(attr "$T/sc_good.h5" judge_calls)" = 72 ] && [ "$(attr "$T/sc_good.h5" failures)" = 0 ] && ok score_cmd_calls ||
        fail score_cmd_calls "calls $(attr "$T/sc_good.h5" judge_calls) failures $(attr "$T/sc_good.h5" failures)"
    valid score_cmd_valid "$T/sc_good.h5"
else fail score_cmd_completes "$(tail -n 1 "$T/err")"; fi
if $GUARD mpirun --oversubscribe --bind-to none -np 2 "$R" --candidates "$T/c6.h5" --out "$T/sc_np2.h5" --method score \
    --judge cmd --judge-protocol score --judge-cmd "$SC good" >/dev/null 2>"$T/err"; then
    same_pairs score_cmd_np2_same "$T/sc_good.h5" "$T/sc_np2.h5"
else fail score_cmd_np2_completes "$(tail -n 1 "$T/err")"; fi
if score_run "$T/sc_crash.h5" --judge-cmd "$SC crash 5"; then
    [ "$(attr "$T/sc_crash.h5" crashes)" -gt 0 ] && [ "$(attr "$T/sc_crash.h5" restarts)" -gt 0 ] && ok score_cmd_crash_counted ||
        fail score_cmd_crash_counted "crashes $(attr "$T/sc_crash.h5" crashes)"
    same_pairs score_cmd_crash_same "$T/sc_good.h5" "$T/sc_crash.h5"
else fail score_cmd_crash_completes "$(tail -n 1 "$T/err")"; fi
if score_run "$T/sc_hang.h5" --judge-cmd "$SC hang 9" --judge-timeout 0.2; then
    [ "$(attr "$T/sc_hang.h5" timeouts)" -gt 0 ] && ok score_cmd_hang_counted || fail score_cmd_hang_counted "no timeouts"
    same_pairs score_cmd_hang_same "$T/sc_good.h5" "$T/sc_hang.h5"
else fail score_cmd_hang_completes "$(tail -n 1 "$T/err")"; fi
for mode in garbage wrongid; do
    if score_run "$T/sc_$mode.h5" --judge-cmd "$SC $mode 4"; then
        [ "$(attr "$T/sc_$mode.h5" bad_answers)" -gt 0 ] && [ "$(attr "$T/sc_$mode.h5" failures)" = 0 ] &&
            ok "score_cmd_${mode}_retried" || fail "score_cmd_${mode}_retried" "bad answers $(attr "$T/sc_$mode.h5" bad_answers)"
        same_pairs "score_cmd_${mode}_same" "$T/sc_good.h5" "$T/sc_$mode.h5"
    else fail "score_cmd_${mode}_completes" "$(tail -n 1 "$T/err")"; fi
done
# no retries: the unanswered candidates (every 4th call) are counted and left out of the pairs
if score_run "$T/sc_noscore.h5" --judge-cmd "$SC noscore 4" --judge-retries 0; then
    [ "$(attr "$T/sc_noscore.h5" failures)" = 18 ] && ok score_cmd_unanswered_counted ||
        fail score_cmd_unanswered_counted "failures $(attr "$T/sc_noscore.h5" failures), want 18 of 72"
    valid score_cmd_unanswered_valid "$T/sc_noscore.h5"
else fail score_cmd_unanswered_completes "$(tail -n 1 "$T/err")"; fi
check_fails score_protocol_pairwise_method 1 'answers pp-rank --method score only' \
    "$R" --candidates "$T/c4.h5" --out "$T/x2.h5" --method iterative --judge cmd --judge-protocol score --judge-cmd "$SC good"
check_fails score_protocol_unknown 1 'must be pairwise or score' \
    "$R" --candidates "$T/c4.h5" --out "$T/x3.h5" --method score --judge cmd --judge-protocol points --judge-cmd "$SC good"

# ---- texts with quotes, newlines, shell metacharacters, non-ASCII reach the judge intact
printf '%s\n' '{"prompt":"Say \"hi\" $(touch /tmp/pwned) `id`; rm -rf / | cat > x & <y> \u00fcn\u00efc\u00f8d\u00e9 \u65e5\u672c\nline two \\ backslash\ttab"}' \
    '{"prompt":"a plain prompt"}' >"$T/w.jsonl"
"$BIN/pp-prompts" --jsonl "$T/w.jsonl" --out "$T/wp.h5" >/dev/null 2>&1
"$MK" "$T/wp.h5" "$T/wc.h5" 8 weird 1 "$T/sent.bin"
if JUDGE_DUMP=$T/dump.bin $GUARD "$R" --candidates "$T/wc.h5" --out "$T/w.h5" --judge cmd \
    --judge-cmd "'$TOOLS/judge_good'" --jsonl "$T/w.out.jsonl" >/dev/null 2>"$T/err"; then
    sort -z -u "$T/dump.bin" >"$T/got" && sort -z -u "$T/sent.bin" >"$T/want"
    cmp -s "$T/got" "$T/want" && ok texts_intact || fail texts_intact "the judge received other bytes than were sent"
    grep -q 'line two \\\\ backslash\\ttab' "$T/w.out.jsonl" && ok jsonl_escapes || fail jsonl_escapes "$(head -c 300 "$T/w.out.jsonl")"
    valid weird_valid "$T/w.h5"
else fail texts_run "$(tail -n 1 "$T/err")"; fi

# ---- killed runs resume to the same pairs
SLOW="$TOOLS/judge_slow 10"
"$R" --candidates "$T/c5.h5" --out "$T/ref.h5" --method roundrobin --both-orders --judge cmd --judge-cmd "$TOOLS/judge_good" >/dev/null 2>&1
"$R" --candidates "$T/c5.h5" --out "$T/k.h5" --method roundrobin --both-orders --judge cmd --judge-cmd "$SLOW" >/dev/null 2>&1 &
pid=$!
wait_journal "$T/k.h5.parts/journal.bin"
if kill -KILL $pid 2>/dev/null; then
    wait $pid 2>/dev/null
    [ ! -e "$T/k.h5" ] && [ -s "$T/k.h5.parts/journal.bin" ] && ok kill_leaves_journal_only || fail kill_leaves_journal_only "$(ls "$T")"
    # a torn last record (killed mid-write) is cut off
    truncate -s -3 "$T/k.h5.parts/journal.bin"
    check_fails resume_other_args_refused 1 'k\.h5\.parts holds partial results of a different run \(method was roundrobin, now knockout\)' \
        "$R" --candidates "$T/c5.h5" --out "$T/k.h5" --method knockout --both-orders --judge cmd --judge-cmd "$SLOW"
    if $GUARD mpirun --oversubscribe --bind-to none -np 2 "$R" --candidates "$T/c5.h5" --out "$T/k.h5" --method roundrobin \
        --both-orders --judge cmd --judge-cmd "$SLOW" >"$T/out" 2>"$T/err"; then
        grep -q 'resuming: [1-9][0-9]* of 240' "$T/out" && ok resume_replays || fail resume_replays "$(grep -v 'judge calls:' "$T/out" | head -c 300)"
        same_pairs resume_same_pairs "$T/ref.h5" "$T/k.h5"
        [ ! -e "$T/k.h5.parts" ] && ok resume_cleans_parts || fail resume_cleans_parts "k.h5.parts left"
        valid resume_valid "$T/k.h5"
    else fail resume_completes "$(tail -n 1 "$T/err")"; fi
else fail kill_during_run "the run ended before the kill"; fi
# a stop signal: exit 75 after saving, the same command finishes the job
"$R" --candidates "$T/c5.h5" --out "$T/s.h5" --method roundrobin --both-orders --judge cmd --judge-cmd "$SLOW" >/dev/null 2>"$T/err" &
pid=$!
wait_journal "$T/s.h5.parts/journal.bin"
kill -TERM $pid
wait $pid
code=$?
[ $code = 75 ] && grep -q 'run the same command again to resume' "$T/err" && ok sigterm_exit_75 || fail sigterm_exit_75 "exit $code: $(tail -n 1 "$T/err")"
$GUARD mpirun --oversubscribe --bind-to none -np 2 "$R" --candidates "$T/c5.h5" --out "$T/s.h5" --method roundrobin \
    --both-orders --judge cmd --judge-cmd "$SLOW" >/dev/null 2>&1
same_pairs sigterm_resume_same_pairs "$T/ref.h5" "$T/s.h5"
# one damaged record in the middle of the journal costs one verdict, not the
# rest of the journal (issue 17.9): flip a byte at 25% of it
"$R" --candidates "$T/c5.h5" --out "$T/j.h5" --method roundrobin --both-orders --judge cmd --judge-cmd "$SLOW" >/dev/null 2>"$T/err" &
pid=$!
wait_journal "$T/j.h5.parts/journal.bin"
sleep 1
kill -TERM $pid
wait $pid
kept=$(sed -n 's/.*stopped by a signal after \([0-9]*\) of 240 judge calls.*/\1/p' "$T/err")
J=$T/j.h5.parts/journal.bin
pos=$(($(wc -c <"$J") / 4))
b=$(od -An -tu1 -j $pos -N1 "$J" | tr -d ' ')
printf "\\$(printf %03o $((b ^ 85)))" | dd of="$J" bs=1 seek=$pos conv=notrunc 2>/dev/null
if $GUARD "$R" --candidates "$T/c5.h5" --out "$T/j.h5" --method roundrobin --both-orders --judge cmd --judge-cmd "$SLOW" \
    >"$T/out" 2>"$T/err"; then
    got=$(sed -n 's/.*resuming: \([0-9]*\) of 240.*/\1/p' "$T/out" "$T/err" | head -n 1)
    if [ -n "$kept" ] && [ "$got" = $((kept - 1)) ] && grep -q 'dropped 1 damaged record(s)' "$T/err"; then
        ok "journal_damaged_record_costs_one_verdict ($got of $kept replayed)"
    else fail journal_damaged_record_costs_one_verdict "$kept journaled, $got replayed: $(grep journal "$T/err" | head -n 2)"; fi
    same_pairs journal_damaged_same_pairs "$T/ref.h5" "$T/j.h5"
else fail journal_damaged_resume "$(tail -n 1 "$T/err")"; fi
# two runs on one --out: the second stops at once, naming the first (17.10)
"$R" --candidates "$T/c5.h5" --out "$T/two.h5" --method roundrobin --both-orders --judge cmd --judge-cmd "$SLOW" >/dev/null 2>&1 &
pid=$!
wait_journal "$T/two.h5.parts/journal.bin"
check_fails rank_second_run_on_same_out 1 "another run is writing .*two\.h5 \(pid $pid" \
    "$R" --candidates "$T/c5.h5" --out "$T/two.h5" --method roundrobin --both-orders --judge cmd --judge-cmd "$SLOW"
wait $pid && same_pairs rank_first_run_unharmed "$T/ref.h5" "$T/two.h5"
[ ! -e "$T/two.h5.parts" ] && ok rank_lock_removed_with_parts || fail rank_lock_removed_with_parts "$(ls "$T/two.h5.parts")"
# a stop signal during a hung judge call (issue 17.3): no retry, no restart,
# the call is abandoned within the documented bound (5 s + 2 s kill grace
# by default, here with a 30 s --judge-timeout), exit 75; the resume works
HANG="$TOOLS/judge_hang 50 --ignore-term"
"$R" --candidates "$T/c5.h5" --out "$T/sh.h5" --method roundrobin --both-orders --judge cmd --judge-cmd "$HANG" \
    --judge-timeout 30 >/dev/null 2>"$T/err" &
pid=$!
wait_journal "$T/sh.h5.parts/journal.bin"
sleep 1 # 49 quick answers, then the 50th call hangs
t0=$(date +%s.%N)
kill -TERM $pid
wait $pid
code=$?
dt=$(echo "$(date +%s.%N) $t0" | awk '{printf "%.1f", $1 - $2}')
if [ $code = 75 ] && awk "BEGIN{exit !($dt <= 10)}" && grep -q 'run the same command again to resume' "$T/err"; then
    ok "sigterm_during_hung_call_exit_75_in_${dt}s"
else fail sigterm_during_hung_call_exit_75 "exit $code after ${dt}s: $(tail -n 1 "$T/err")"; fi
if $GUARD "$R" --candidates "$T/c5.h5" --out "$T/sh.h5" --method roundrobin --both-orders --judge cmd --judge-cmd "$HANG" \
    --judge-timeout 0.3 --judge-startup-timeout 0.3 >"$T/out" 2>"$T/err"; then
    grep -q 'resuming: [1-9][0-9]* of 240' "$T/out" && ok sigterm_hung_resume_replays || fail sigterm_hung_resume_replays "$(head -c 300 "$T/out")"
    same_pairs sigterm_hung_resume_same_pairs "$T/ref.h5" "$T/sh.h5"
else fail sigterm_hung_resume "$(tail -n 1 "$T/err")"; fi
# a judge that prints a blank line after each answer is not restarted (17.10)
if $GUARD "$R" --candidates "$T/c4.h5" --out "$T/blank.h5" --method knockout --judge cmd --judge-cmd "$TOOLS/judge_garbage" \
    --judge-id-prefix blankafter: >/dev/null 2>"$T/err"; then
    [ "$(attr "$T/blank.h5" restarts)" = 0 ] && [ "$(attr "$T/blank.h5" bad_answers)" = 0 ] && ok blank_lines_ignored ||
        fail blank_lines_ignored "restarts $(attr "$T/blank.h5" restarts), bad answers $(attr "$T/blank.h5" bad_answers)"
    same_pairs blank_lines_same_pairs "$T/good4.h5" "$T/blank.h5"
else fail blank_lines_run "$(tail -n 1 "$T/err")"; fi

# ---- --method score --judge rm: a real reward model (pp-sft -> pp-generate -> pp-rank -> pp-rm)
rm_setup() {
    "$BIN/pp-prompts" --out "$T/rp.h5" --suite builtin --split train --n 160 &&
        "$BIN/pp-sft" --out "$T/m.h5" --data "$T/rp.h5" --arch dim=32,layers=2,heads=4,hidden=64,seq-len=48 --steps 20 &&
        "$BIN/pp-generate" --model "$T/m.h5" --prompts "$T/rp.h5" --out "$T/rc.h5" --k 4 --max-new-tokens 8 --seed 3 &&
        "$R" --candidates "$T/rc.h5" --out "$T/rr.h5" --judge oracle && "$BIN/pp-rm" --pairs "$T/rr.h5" --model "$T/m.h5" --out "$T/rm.h5"
}
if rm_setup >"$T/rm_setup.txt" 2>&1; then
    check score_rm "$R" --candidates "$T/rc.h5" --out "$T/srm1.h5" --method score --judge rm --rm "$T/rm.h5" --pairs all
    pp_mpirun 2 "$R" --candidates "$T/rc.h5" --out "$T/srm2.h5" --method score --judge rm --rm "$T/rm.h5" --pairs all >/dev/null 2>&1
    if [ "$(h5dump -A 0 -y -w 0 -d /score "$T/srm1.h5" 2>&1 | sed 1d)" = "$(h5dump -A 0 -y -w 0 -d /score "$T/srm2.h5" 2>&1 | sed 1d)" ]; then
        ok score_rm_np1_np2_same
    else fail score_rm_np1_np2_same "reward model scores differ between 1 and 2 ranks"; fi
    same_pairs score_rm_pairs_np1_np2 "$T/srm1.h5" "$T/srm2.h5"
    valid score_rm_valid "$T/srm2.h5"
    check_fails rm_other_model 1 'feature model: .*p.h5' "$R" --candidates "$T/rc.h5" --out "$T/x.h5" --method score --judge rm \
        --rm "$T/rm.h5" --rm-model "$T/p.h5"
else fail score_rm_setup "$(tail -n 2 "$T/rm_setup.txt" | tr '\n' ' ')"; fi
check_fails rm_not_rm_file 1 "p.h5: is a 'prompts' file" "$R" --candidates "$T/c4.h5" --out "$T/x.h5" --method score \
    --judge rm --rm "$T/p.h5"

# ---- bad input: one line, exit 1, no output
check_fails missing_candidates 1 'nope.h5: No such file' "$R" --candidates "$T/nope.h5" --out "$T/x.h5"
check_fails oracle_needs_truth 1 'needs the task family' "$R" --candidates "$T/wc.h5" --out "$T/x.h5"
check_fails cmd_needs_program 1 'needs --judge-cmd' "$R" --candidates "$T/c4.h5" --out "$T/x.h5" --judge cmd
check_fails judge_not_found 1 "judge program '/nonexistent/judge' cannot be run" "$R" --candidates "$T/c4.h5" \
    --out "$T/x.h5" --judge cmd --judge-cmd "/nonexistent/judge --flag"
check_fails score_needs_pointwise 1 'needs a pointwise scorer: --judge-protocol score' "$R" --candidates "$T/c4.h5" --out "$T/x.h5" --method score \
    --judge cmd --judge-cmd "$TOOLS/judge_good"
check_fails rm_needs_file 1 'needs --rm' "$R" --candidates "$T/c4.h5" --out "$T/x.h5" --method score --judge rm
check_fails rm_pairwise 1 'use it with --method score' "$R" --candidates "$T/c4.h5" --out "$T/x.h5" --judge rm --rm "$T/p.h5"
check_fails bad_rejected 1 'quantile must be' "$R" --candidates "$T/c4.h5" --out "$T/x.h5" --rejected quantile:2
check_fails not_candidates 1 "is a 'prompts' file" "$R" --candidates "$T/p.h5" --out "$T/x.h5"
[ ! -e "$T/x.h5" ] && [ ! -e "$T/x.h5.tmp" ] && [ ! -e "$T/x.h5.parts" ] && ok bad_input_no_output || fail bad_input_no_output "$(ls "$T" | grep x.h5)"
