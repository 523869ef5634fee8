#!/bin/sh
# Crash tests (issue 11): every stage is SIGKILLed at PP_KILL_POINTS
# seeded-random moments (default 5; tests/soak.sh runs 50), then the same
# command is run again; after each kill the final output must be absent or
# valid, and the rerun must write exactly what an uninterrupted run wrote.
# Inputs are tiny and the runs slowed by the test hooks so that the kills
# land inside them (crash_test in tests/lib.sh).  PP_CRASH_STAGES="sft eval"
# limits the stages.
. "$(dirname "$0")/../lib.sh"
TOOLS=$BUILD/tests/tools
for tool in "$TOOLS/judge_slow" "$BIN/pp-inspect" "$BIN/pp-rm"; do
    [ -x "$tool" ] || { fail crash_setup "missing $tool (run make)"; exit 0; }
done
stages=${PP_CRASH_STAGES:-sft generate rank train eval rm}
want() { case " $stages " in *" $1 "*) return 0 ;; esac; return 1; }

# ---- tiny inputs: prompts, two small models, candidates, oracle pairs
ARCH="--arch dim=16,layers=1,heads=2,kv-heads=1,hidden=32,seq-len=32"
setup() {
    "$BIN/pp-prompts" --out "$T/p.h5" --suite builtin --split train --n 40 --seed 3 &&
        "$BIN/pp-prompts" --out "$T/pt.h5" --suite builtin --split test --n 16 --seed 4 &&
        "$BIN/pp-sft" --out "$T/m.h5" --data "$T/p.h5" $ARCH --steps 12 --batch 4 &&
        "$BIN/pp-sft" --out "$T/m2.h5" --data "$T/p.h5" $ARCH --steps 24 --batch 4 --init-seed 9 &&
        "$BIN/pp-generate" --model "$T/m.h5" --prompts "$T/p.h5" --out "$T/c.h5" --k 2 --max-new-tokens 6 --seed 3 &&
        "$BIN/pp-rank" --candidates "$T/c.h5" --out "$T/r.h5" --judge oracle
}
if ! setup >"$T/setup.log" 2>&1; then
    fail crash_setup "$(tail -n 2 "$T/setup.log" | tr '\n' ' ')"
    exit 0
fi
mkdir "$T/k"
K=$T/k
# crash_test runs commands through env and setsid: mpirun itself, not pp_mpirun
NP2="mpirun --oversubscribe --bind-to none -np 2"

# pp-sft: 2 ranks, a checkpoint every 4 of 24 steps
want sft && crash_test sft "$K/sft.h5" PP_TEST_STEP_DELAY_MS=60 \
    $NP2 "$BIN/pp-sft" --out "$K/sft.h5" --data "$T/p.h5" $ARCH --steps 24 --batch 4 --micro-batch 2 \
    --checkpoint-every 4 --seed 5

# pp-generate: 2 ranks, 20 chunks of 2 prompts
want generate && crash_test generate "$K/gen.h5" PP_TEST_CHUNK_DELAY_MS=80 \
    $NP2 "$BIN/pp-generate" --model "$T/m.h5" --prompts "$T/p.h5" --out "$K/gen.h5" --k 3 \
    --max-new-tokens 8 --temperature 0.9 --seed 7 --chunk-prompts 2

# pp-rank: 2 ranks, an external judge taking 30 ms a call (80 calls)
# left out of the comparison: when, how long and on which rank each call was
# judged (they differ between two uninterrupted runs too)
CRASH_IGNORE="judge_seconds seconds rank sequence"
want rank && crash_test rank "$K/rank.h5" "" \
    $NP2 "$BIN/pp-rank" --candidates "$T/c.h5" --out "$K/rank.h5" --method roundrobin --both-orders \
    --judge cmd --judge-cmd "$TOOLS/judge_slow 30"

CRASH_IGNORE=

# pp-train: 2 ranks, a checkpoint every 3 of 18 steps (and the reference cache)
want train && crash_test train "$K/train.h5" PP_TEST_STEP_DELAY_MS=70 \
    $NP2 "$BIN/pp-train" --policy "$T/m.h5" --pairs "$T/r.h5" --out "$K/train.h5" --loss dpo \
    --steps 18 --batch 4 --micro-batch 2 --lr 1e-3 --warmup 2 --checkpoint-every 3

# pp-eval: 2 ranks, 16 chunks of 1 prompt (each: two responses, two verdicts)
want eval && crash_test eval "$K/eval.h5" PP_TEST_CHUNK_DELAY_MS=200 \
    $NP2 "$BIN/pp-eval" --policy "$T/m2.h5" --baseline "$T/m.h5" --prompts "$T/pt.h5" --out "$K/eval.h5" \
    --temperature 0.8 --max-new-tokens 8 --chunk-prompts 1

# pp-rm: short, starts over; the commit hook holds the .tmp-to-final window
# open so that kills land in it too
want rm && crash_test rm "$K/rm.h5" PP_TEST_COMMIT_DELAY_MS=700 \
    $NP2 "$BIN/pp-rm" --pairs "$T/r.h5" --model "$T/m.h5" --out "$K/rm.h5"
exit 0
