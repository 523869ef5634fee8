#!/bin/sh
# The Slurm side: job files, slurm/submit.sh, slurm/pp-*.sbatch on a real
# one-node Slurm (tools/slurm-local.sh, started here on free ports with its
# state under $T), jobs/run-local.sh.
#
# A tiny pipeline goes through submit.sh as a chain of afterok jobs; every
# job must complete and every file it made must pass pp-inspect --validate.
# The training job is preempted mid-run (SIGUSR1 to its batch shell, as
# Slurm's --signal=B:USR1 warning does): it must save, requeue itself, keep
# its dependents waiting, resume, and end with the same model as a run that
# was never stopped.  A stage that fails must cancel the rest of its chain.
# Stages whose program is not built yet are reported as skip; until pp-train
# exists, tests/tools/fake_stage (a resumable fixture) stands in for it.
. "$(dirname "$0")/../lib.sh"
SUBMIT=$ROOT/slurm/submit.sh
LOCAL=$ROOT/jobs/run-local.sh
SL=$ROOT/tools/slurm-local.sh
FAKE=$BUILD/tests/tools/fake_stage
INSPECT=$BIN/pp-inspect

# ------------------------------------------------ job files (no Slurm needed)
cat >"$T/bad.conf" <<EOF
[common]
workdir = $T/bad
stages = prompts trian
EOF
"$SUBMIT" "$T/bad.conf" --dry-run >"$T/out.txt" 2>"$T/err.txt"
code=$?
if [ $code = 1 ] && grep -q "unknown stage 'trian'" "$T/err.txt"; then ok jobfile_unknown_stage_refused
else fail jobfile_unknown_stage_refused "exit $code: $(cat "$T/err.txt")"; fi
printf '[common]\nworkdir = %s\n[prompts]\nn = 3\nn = 4\n[trian]\nx = 1\n' "$T/bad" >"$T/bad.conf"
"$SUBMIT" "$T/bad.conf" --dry-run >"$T/out.txt" 2>"$T/err.txt"
code=$?
if [ $code = 1 ] && grep -q "bad.conf:5: 'n' given twice in \[prompts\]" "$T/err.txt" &&
    grep -q 'bad.conf:6: unknown section \[trian\]' "$T/err.txt"; then ok jobfile_errors_name_file_and_line
else fail jobfile_errors_name_file_and_line "exit $code: $(cat "$T/err.txt")"; fi
printf '[common]\nworkdir = %s\n[prompts]\nsuite = builtin\nnn = 3\n' "$T/bad" >"$T/bad.conf"
"$SUBMIT" "$T/bad.conf" --to prompts --dry-run >"$T/out.txt" 2>"$T/err.txt"
code=$?
if [ $code = 1 ] && grep -q "^$T/bad.conf:5: \[prompts\]: unknown key 'nn': pp-prompts has no option --nn" "$T/err.txt"; then
    ok jobfile_unknown_stage_key_refused_with_file_and_line
else fail jobfile_unknown_stage_key_refused_with_file_and_line "exit $code: $(cat "$T/err.txt")"; fi
# the judge program must be runnable: on PATH or an executable file, its
# name split from judge-cmd like the programs split it, never by a shell
judge_job() { # judge_job JUDGE-CMD: a job file whose rank (line 6) and eval (line 9) use it
    printf '[common]\nworkdir = %s\nstages = rank eval\n[rank]\njudge = cmd\njudge-cmd = %s\n[eval]\njudge = cmd\njudge-cmd = %s\n' \
        "$T/jw" "$1" "$1" >"$T/judge.conf"
}
judge_job '"no_such_judge --flag"'
"$SUBMIT" "$T/judge.conf" --dry-run >"$T/out.txt" 2>"$T/err.txt"
code=$?
if [ $code = 1 ] && [ "$(grep -c "^$T/judge.conf:6: \[rank\]: judge program 'no_such_judge' is not on PATH\$" "$T/err.txt")" = 1 ] &&
    grep -q "^$T/judge.conf:9: \[eval\]: judge program 'no_such_judge' is not on PATH\$" "$T/err.txt"; then ok dryrun_missing_judge_exits_1_naming_file_and_line
else fail dryrun_missing_judge_exits_1_naming_file_and_line "exit $code: $(cat "$T/err.txt")"; fi
judge_job "\"'$T/no dir/judge' --x\""
"$SUBMIT" "$T/judge.conf" --dry-run >"$T/out.txt" 2>"$T/err.txt"
code=$?
[ $code = 1 ] && grep -q "judge.conf:6: \[rank\]: judge program '$T/no dir/judge' is not an executable file" "$T/err.txt" &&
    ok dryrun_judge_path_not_executable || fail dryrun_judge_path_not_executable "exit $code: $(cat "$T/err.txt")"
judge_job "\"\$(touch $T/pwned) x\""
"$SUBMIT" "$T/judge.conf" --dry-run >"$T/out.txt" 2>"$T/err.txt"
code=$?
[ $code = 1 ] && [ ! -e "$T/pwned" ] && grep -q "judge program '\$(touch' is not on PATH" "$T/err.txt" &&
    ok dryrun_judge_cmd_not_evaluated || fail dryrun_judge_cmd_not_evaluated "exit $code, pwned: $(ls "$T/pwned" 2>&1): $(cat "$T/err.txt")"
judge_job "\"'$BUILD/tests/tools/judge_good' --hello\""
"$SUBMIT" "$T/judge.conf" --dry-run >"$T/out.txt" 2>"$T/err.txt"
code=$?
[ $code = 0 ] && ok dryrun_runnable_judge_passes || fail dryrun_runnable_judge_passes "exit $code: $(cat "$T/err.txt")"
judge_job '"no_such_judge"'
"$LOCAL" "$T/judge.conf" --dry-run >"$T/out.txt" 2>"$T/err.txt"
code=$?
[ $code = 1 ] && grep -q "judge.conf:6: \[rank\]: judge program 'no_such_judge' is not on PATH" "$T/err.txt" &&
    ok run_local_missing_judge_refused || fail run_local_missing_judge_refused "exit $code: $(cat "$T/err.txt")"

# jobs/template.conf documents every option of every built program, no more
awk '/^#? ?\[[a-z]+(\.[a-z]+)?\]/ { s = $0; sub(/^# ?\[/, "", s); sub(/^\[/, "", s); sub(/[].].*/, "", s); sec = s; next }
    sec != "" && sec != "common" && /^#? ?[a-z0-9-]+ = / { k = $0; sub(/^# ?/, "", k); sub(/ = .*/, "", k); print sec, k }' \
    "$ROOT/jobs/template.conf" | sort -u >"$T/template.keys"
for st in prompts convert sft generate rank rm train eval report; do
    [ -x "$BIN/pp-$st" ] && "$BIN/pp-$st" --help 2>/dev/null | sed -n "s/^  --\([a-z0-9-]*\).*/$st \1/p" |
        grep -v ' config$\| verbose$\| help$\| version$' >"$T/help.$st" &
done
wait
for st in prompts convert sft generate rank rm train eval report; do
    if [ ! -x "$BIN/pp-$st" ]; then skip "template_documents_pp-$st" "bin/pp-$st not built yet"; continue; fi
    sort -u "$T/help.$st" >"$T/help.sorted"
    grep "^$st " "$T/template.keys" >"$T/doc.sorted"
    d=$(comm -3 "$T/help.sorted" "$T/doc.sorted" | tr -s ' \t' ' ')
    [ -s "$T/help.sorted" ] && [ -z "$d" ] && ok "template_documents_pp-$st" ||
        fail "template_documents_pp-$st" "jobs/template.conf vs pp-$st --help (left: undocumented, right: unknown):$d"
done
# jobs/run-local.sh reports 75 when SIGTERM reaches mpirun itself (issue
# 17.4): mpirun then exits 1 whatever its ranks return, and kills them 1 s
# after forwarding the signal unless told otherwise
if [ -x "$FAKE" ]; then
    printf '[common]\nworkdir = %s\nstages = train\nranks = 2\ntrain.program = %s\n[train]\nout = %s\nsteps = 400\nstep-ms = 25\n' \
        "$T/lt" "$FAKE" "$T/lt/fake.txt" >"$T/lt.conf"
    "$LOCAL" "$T/lt.conf" >"$T/lt.log" 2>&1 &
    lpid=$!
    i=0
    while [ ! -s "$T/lt/fake.txt.state" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
    mp=$(pgrep -f "^mpirun -np 2 .*$FAKE --config" | head -n 1)
    [ -n "$mp" ] && kill -TERM "$mp"
    wait $lpid
    code=$?
    if [ -n "$mp" ] && [ $code = 75 ] && grep -q 'stopped by a signal after saving its state' "$T/lt.log" &&
        [ -s "$T/lt/fake.txt.state" ]; then ok run_local_sigterm_to_mpirun_exits_75
    else fail run_local_sigterm_to_mpirun_exits_75 "mpirun pid '$mp', exit $code: $(tail -n 3 "$T/lt.log" | tr '\n' ' ')"; fi
    "$LOCAL" "$T/lt.conf" >"$T/lt.log" 2>&1 && [ -s "$T/lt/fake.txt" ] && ok run_local_resumes_after_sigterm ||
        fail run_local_resumes_after_sigterm "$(tail -n 3 "$T/lt.log" | tr '\n' ' ')"
fi

# ------------------------------------------------ the tiny pipeline's job file
have() { [ -x "$BIN/pp-$1" ]; }
pp_in_list_sh() { # WORD LIST...
    w=$1
    shift
    for x in "$@"; do [ "$x" = "$w" ] && return 0; done
    return 1
}
if ! have prompts || [ ! -x "$INSPECT" ] || [ ! -x "$FAKE" ]; then
    skip slurm "needs bin/pp-prompts, bin/pp-inspect and $FAKE (make tests)"
    exit 0
fi
W=$T/run
STAGES=prompts
{
    echo "[common]"
    echo "workdir = $W"
    echo "bin = $BIN"
    echo "ranks = 2"
    echo "prompts.ranks = 1"
    echo "convert.ranks = 1"
    echo "report.ranks = 1"
    echo "[prompts]"
    echo "suite = builtin"
    echo "seed = 7"
    printf '[prompts.train]\nn = 16\n[prompts.test]\nn = 8\n[prompts.ood]\nn = 8\n' # split from the name
} >"$T/tiny.conf"
if ! have convert; then
    skip slurm_convert "bin/pp-convert not built yet"
elif [ ! -f "$SHARED/models/stories260K.bin" ]; then
    skip slurm_convert "needs $SHARED/models/stories260K.bin (see README: test data)"
else
    STAGES="$STAGES convert"
    printf '[convert]\nfrom-llama2c = %s\ntokenizer = %s\nout = ${workdir}/stories260K.h5\n' \
        "$SHARED/models/stories260K.bin" "$SHARED/models/tok512.bin" >>"$T/tiny.conf"
fi
# Each later stage needs the one before it.
missing=""
add_stage() { # add_stage STAGE SECTION-TEXT
    if [ -n "$missing" ]; then
        skip "slurm_$1" "needs pp-$missing, which is not built yet"
    elif ! have "$1"; then
        missing=$1
        skip "slurm_$1" "bin/pp-$1 not built yet"
    else
        STAGES="$STAGES $1"
        printf '%s\n' "$2" >>"$T/tiny.conf"
    fi
}
add_stage sft "[sft]
arch = dim=32,layers=1,heads=2,kv-heads=2,hidden=64,seq-len=64
steps = 10
batch = 8
micro-batch = 4
log-every = 5"
add_stage generate "[generate]
k = 4
max-new-tokens = 8
chunk-prompts = 4"
add_stage rank "[rank]
method = iterative
judge = oracle"
# The training job is the one preempted: pp-train when it and its inputs
# exist, else the fixture in its place.
TRAIN_OUT=$W/policy.h5
if [ -z "$missing" ] && have train; then
    REAL_TRAIN=1
    printf '[train]\nsteps = 40\nbatch = 8\nmicro-batch = 2\ncheckpoint-every = 4\nlog-every = 1\n' >>"$T/tiny.conf"
else
    REAL_TRAIN=0
    TRAIN_OUT=$W/fake_train.txt
    if [ -n "$missing" ]; then why="needs pp-$missing"; else why="bin/pp-train not built yet"; fi
    skip slurm_real_pp_train "$why; tests/tools/fake_stage stands in for it"
    printf '[train]\npolicy =\npairs =\nout = ${workdir}/fake_train.txt\nsteps = 40\nstep-ms = 150\n' >>"$T/tiny.conf"
    sed -i "s|^bin = .*|&\ntrain.program = $FAKE|" "$T/tiny.conf"
    missing=${missing:-train}
fi
STAGES="$STAGES train"
add_stage eval "[eval]
judge = oracle"
add_stage report "[report]"
sed -i "s|^workdir = .*|&\nstages = $STAGES|" "$T/tiny.conf"

"$SUBMIT" "$T/tiny.conf" --dry-run --no-check >"$T/dry.txt" 2>"$T/err.txt"
code=$?
n=$(grep -c '^sbatch ' "$T/dry.txt")
n_want=$(echo $STAGES | wc -w)
if [ $code = 0 ] && [ "$n" = "$n_want" ] &&
    grep 'pp-train.sbatch' "$T/dry.txt" | grep -q -- '--signal=B:USR1@300 --requeue --dependency=afterok:<' &&
    grep 'pp-prompts.sbatch' "$T/dry.txt" | grep -q -- '--no-requeue' &&
    [ "$(grep -c -- '--kill-on-invalid-dep=yes' "$T/dry.txt")" = $((n_want - 1)) ] &&
    grep -q "out = $W/prompts_ood.h5" "$T/dry.txt" && grep -q "split = ood" "$T/dry.txt" && [ ! -e "$W" ]; then ok submit_dry_run
else fail submit_dry_run "exit $code, $n sbatch lines for $n_want stages: $(cat "$T/err.txt" "$T/dry.txt" | head -c 600)"; fi

# ------------------------------------------------ a local Slurm
if [ "$(id -u)" != 0 ]; then skip slurm "the local Slurm needs root"; exit 0; fi
for c in slurmctld slurmd munged sbatch scontrol; do
    command -v $c >/dev/null 2>&1 || { skip slurm "$c not installed (make deps installs slurmctld slurmd slurm-client munge)"; exit 0; }
done
chmod 711 "$T" # munged wants every directory above its socket searchable
export PP_SLURM_DIR="$T/slurm" PP_SLURM_CPUS=4
cleanup() {
    trap '' INT TERM # a second signal must not cut the cleanup short
    bash "$SL" stop >/dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
t_start=$(date +%s)
started=0
for base in 7817 7827 7837 7847 7857 7867 7877 7887; do
    PP_SLURM_CTLD_PORT=$base PP_SLURM_SLURMD_PORT=$((base + 1)) bash "$SL" start >"$T/start.log" 2>&1
    code=$?
    [ $code = 3 ] && continue # ports taken (another test run?): next pair
    [ $code = 0 ] && started=1
    break
done
if [ $started = 0 ]; then
    fail slurm_local_start "exit $code: $(tail -n 15 "$T/start.log")"
    exit 0
fi
export PP_SLURM_CTLD_PORT=$base PP_SLURM_SLURMD_PORT=$((base + 1))
ok "slurm_local_start (ports $base/$((base + 1)), $(($(date +%s) - t_start)) s)"
eval "$(bash "$SL" env)"
bash "$SL" start >"$T/start2.log" 2>&1 && grep -q 'already running' "$T/start2.log" &&
    ok slurm_local_start_is_idempotent || fail slurm_local_start_is_idempotent "$(cat "$T/start2.log")"
PP_SLURM_DIR="$T/slurm2" bash "$SL" start >"$T/out.txt" 2>"$T/err.txt"
code=$?
if [ $code = 3 ] && grep -q "port $base (slurmctld) is already in use" "$T/err.txt"; then ok slurm_local_port_taken_is_clear
else fail slurm_local_port_taken_is_clear "exit $code: $(cat "$T/err.txt")"; fi

state() { scontrol show -o job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }
final() {
    case $(state "$1" JobState) in
    COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE | PREEMPTED) return 0 ;;
    esac
    return 1
}
wait_until() { # wait_until SECONDS COMMAND...
    end=$(($(date +%s) + $1))
    shift
    until "$@"; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 0.3
    done
}
all_final() {
    for j in "$@"; do final "$j" || return 1; done
}

# ------------------------------------------------ a failing stage cancels its chain
cat >"$T/fails.conf" <<EOF
[common]
workdir = $T/fails
bin = $BIN
stages = prompts sft
[prompts]
suite = builtin
n = 0
EOF
"$SUBMIT" "$T/fails.conf" --no-check >"$T/fails.ids" 2>"$T/err.txt" || fail submit_failing_chain "$(cat "$T/err.txt")"
fp=$(awk '$1 == "prompts" { print $2 }' "$T/fails.ids")
fs=$(awk '$1 == "sft" { print $2 }' "$T/fails.ids")

# ------------------------------------------------ the tiny pipeline
# Training steps are slowed down (a pp-train test hook) so that the
# preemption lands mid-run.
PP_TEST_STEP_DELAY_MS=150 "$SUBMIT" "$T/tiny.conf" >"$T/ids.txt" 2>"$T/err.txt"
code=$?
if [ $code = 0 ] && [ "$(wc -l <"$T/ids.txt")" = "$n_want" ]; then ok "submit_chain ($(echo $STAGES | tr ' ' '>'))"
else fail submit_chain "exit $code: $(cat "$T/err.txt")"; exit 0; fi
id_of() { awk -v s="$1" '$1 == s { print $2 }' "$T/ids.txt"; }
ids=$(awk '{ print $2 }' "$T/ids.txt")
train=$(id_of train)
# a job of our own that must wait for the training job through its requeue
after=$(sbatch --parsable --output="$T/after.out" --dependency="afterok:$train" --kill-on-invalid-dep=yes \
    --wrap "test -s '$TRAIN_OUT' && echo saw \$(basename '$TRAIN_OUT')")

# The same training, never stopped, run here meanwhile (its inputs and
# config exist once the Slurm training job has started).
start_reference() {
    if [ $REAL_TRAIN = 1 ]; then
        pp_mpirun 2 "$BIN/pp-train" --config "$W/config/train.conf" --out "$T/ref_policy.h5" >"$T/ref.log" 2>&1 &
    else
        pp_mpirun 2 "$FAKE" --config "$W/config/train.conf" --out "$T/ref.txt" --step-ms 0 >"$T/ref.log" 2>&1 &
    fi
    ref_pid=$!
}
ref_pid=""

# Preempt training once it is stepping (its first checkpoint or state file
# is there): SIGUSR1 to the batch shell, as Slurm's warning signal.
tlog=$W/logs/pp-train-$train.out
stepping() { ls -d "$TRAIN_OUT".ckpt/step-* "$TRAIN_OUT".state 2>/dev/null | grep -q .; }
if wait_until 90 stepping; then
    scancel --signal=USR1 --batch "$train"
    # Slurm holds a requeued job (BeginTime, ~2 min); start it now instead.
    requeued() { [ "$(state "$train" Restarts)" = 1 ] && [ "$(state "$train" JobState)" = PENDING ]; }
    if wait_until 30 requeued; then
        ok "slurm_train_requeued_itself (reason $(state "$train" Reason))"
        [ "$(state "$after" JobState)" = PENDING ] && ok slurm_dependent_waits_through_requeue ||
            fail slurm_dependent_waits_through_requeue "job $after is $(state "$after" JobState)"
        # Not at once: slurmd revoked the killed run's credential with a
        # one-second clock, and a relaunch within that second is refused
        # ("already killed, do not launch batch job"): the job would fail.
        sleep 2
        scontrol update JobId="$train" StartTime=now
        start_reference
    else
        fail slurm_train_requeued_itself "job $train: $(state "$train" JobState), restarts $(state "$train" Restarts); $(tail -n 5 "$tlog")"
    fi
else
    fail slurm_train_preempted "training never started stepping; $(tail -n 5 "$tlog" 2>/dev/null)"
    # shellcheck disable=SC2086
    for j in $ids; do echo "$j $(state $j JobState) $(state $j Reason)"; done
fi

if wait_until 120 all_final $ids $after $fp $fs; then :; else
    fail slurm_chain_finishes "not all jobs ended: $(squeue -h -o '%i %j %T %r' | tr '\n' ';')"
fi
for st in $STAGES; do
    j=$(id_of "$st")
    s=$(state "$j" JobState)
    [ "$s" = COMPLETED ] && ok "slurm_job_${st}_completed" ||
        fail "slurm_job_${st}_completed" "job $j is $s (exit $(state "$j" ExitCode), $(state "$j" Reason)): $(tail -n 4 "$W/logs/pp-$st-$j.out" 2>/dev/null | tr '\n' ' ') slurm: $(grep -h "$j" "$PP_SLURM_DIR"/log/slurm*.log | tail -n 8 | tr '\n' ' ')"
    [ -s "$W/logs/pp-$st-$j.out" ] && ok "slurm_log_pp-$st-$j.out" || fail "slurm_log_pp-$st-$j.out" "no log file"
done
# Every file the pipeline made, two at a time (each check is an MPI start).
n=0
for f in "$W"/*.h5; do
    case $f in *.ref.h5) continue ;; esac # pp-train's reference log-prob cache
    [ -f "$f" ] || continue
    n=$((n + 1))
    ("$INSPECT" "$f" --validate >"$T/valid.$n.out" 2>&1; echo $? >"$T/valid.$n.rc") &
    echo "$f" >"$T/valid.$n.name"
    [ $((n % 2)) = 1 ] || wait
done
wait
i=1
while [ $i -le $n ]; do
    f=$(cat "$T/valid.$i.name")
    [ "$(cat "$T/valid.$i.rc")" = 0 ] && ok "slurm_output_valid_$(basename "$f")" ||
        fail "slurm_output_valid_$(basename "$f")" "$(tail -n 3 "$T/valid.$i.out" | tr '\n' ' ')"
    i=$((i + 1))
done

if pp_in_list_sh report $STAGES; then
    [ -s "$W/training.png" ] && [ -s "$W/eval.png" ] && ok slurm_report_made_plots ||
        fail slurm_report_made_plots "no training.png/eval.png in $W: $(ls "$W" | tr '\n' ' ')"
fi

# The preempted training: stopped with 75, requeued, resumed, same result.
[ "$(state "$train" Restarts)" = 1 ] && grep -q 'exited 75' "$tlog" && grep -q 'requeueing job' "$tlog" &&
    grep -q 'resuming' "$tlog" && ok slurm_train_saved_requeued_resumed ||
    fail slurm_train_saved_requeued_resumed "restarts $(state "$train" Restarts): $(grep prefpipe "$tlog" | tail -n 6 | tr '\n' ' ')"
[ -z "$ref_pid" ] || wait $ref_pid
if [ $REAL_TRAIN = 1 ]; then
    fp_ref=$(h5dump -a /fingerprint "$T/ref_policy.h5" 2>/dev/null | sed -n 's/.*(0): "\(.*\)"/\1/p')
    fp_got=$(h5dump -a /fingerprint "$TRAIN_OUT" 2>/dev/null | sed -n 's/.*(0): "\(.*\)"/\1/p')
else
    fp_ref=$(cat "$T/ref.txt" 2>/dev/null)
    fp_got=$(cat "$TRAIN_OUT" 2>/dev/null)
fi
[ -n "$fp_ref" ] && [ "$fp_ref" = "$fp_got" ] && ok "slurm_requeued_train_equals_uninterrupted_run ($fp_got)" ||
    fail slurm_requeued_train_equals_uninterrupted_run "preempted '$fp_got' vs uninterrupted '$fp_ref': $(tail -n 2 "$T/ref.log")"
[ "$(state "$after" JobState)" = COMPLETED ] && grep -q saw "$T/after.out" && ok slurm_dependent_ran_after_requeued_job ||
    fail slurm_dependent_ran_after_requeued_job "job $after: $(state "$after" JobState) $(cat "$T/after.out" 2>/dev/null)"

# The failing chain: prompts fails (exit 1), sft is cancelled, never run.
[ "$(state "$fp" JobState)" = FAILED ] && [ "$(state "$fs" JobState)" = CANCELLED ] && [ ! -e "$T/fails/base.h5" ] &&
    ok slurm_failed_stage_cancels_its_chain ||
    fail slurm_failed_stage_cancels_its_chain "prompts $(state "$fp" JobState), sft $(state "$fs" JobState)"

# ------------------------------------------------ the local runner on the same job file
# What the Slurm run made is valid, so nothing runs again.
second=$(echo $STAGES | cut -d ' ' -f 2)
"$LOCAL" "$T/tiny.conf" --to "$second" >"$T/local.log" 2>&1
code=$?
n_skip=$(grep -c 'skipped, .* exists and is valid' "$T/local.log")
n_ran=$(grep -c ': done in' "$T/local.log")
[ $code = 0 ] && [ "$n_skip" -ge 3 ] && [ "$n_ran" = 0 ] && ok "run_local_skips_valid_outputs ($n_skip runs)" ||
    fail run_local_skips_valid_outputs "exit $code, $n_skip skipped, $n_ran ran: $(tail -n 3 "$T/local.log")"
rm -f "$W/prompts_test.h5"
"$LOCAL" "$T/tiny.conf" --to prompts >"$T/local.log" 2>&1 && [ -s "$W/prompts_test.h5" ] &&
    grep -q 'prompts.test: done' "$T/local.log" && ok run_local_remakes_missing_output ||
    fail run_local_remakes_missing_output "$(tail -n 3 "$T/local.log")"
echo "slurm test: $(($(date +%s) - t_start)) s with the local Slurm"
