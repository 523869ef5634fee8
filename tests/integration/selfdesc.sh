#!/bin/sh
# Issue 21, the file side: files that explain themselves in h5dump (enum
# names, descriptions, one name per count), --version everywhere,
# pp-inspect --get on text and 2-D datasets, JSON-lines export of
# candidates, pairs and eval files, and pp-import of TRL-format preference
# data (standard and implicit prompt), trained, round-tripped, and its bad
# rows one by one.
. "$(dirname "$0")/../lib.sh"
I=$BIN/pp-inspect
get() { "$I" "$1" --get "$2" 2>/dev/null | grep -v '^pp-inspect:'; }

# ---- a tiny byte-level model, candidates, oracle pairs, an eval
"$BIN/pp-prompts" --out "$T/p.h5" --suite builtin --split train --n 40 --seed 4 >/dev/null 2>&1
"$BIN/pp-prompts" --out "$T/test.h5" --suite builtin --split test --n 6 --seed 5 >/dev/null 2>&1
ARCH="--arch dim=32,layers=2,heads=4,kv-heads=2,hidden=64,seq-len=48 --batch 8 --lr 3e-3"
pp_mpirun 1 "$BIN/pp-sft" --out "$T/base.h5" --data "$T/p.h5" $ARCH --steps 60 --wrong-fraction 0.3 >/dev/null 2>&1
pp_mpirun 2 "$BIN/pp-generate" --model "$T/base.h5" --prompts "$T/p.h5" --out "$T/c.h5" --k 4 --max-new-tokens 8 >/dev/null 2>&1
pp_mpirun 1 "$BIN/pp-rank" --candidates "$T/c.h5" --out "$T/r.h5" --method iterative --judge oracle --both-orders \
    --jsonl "$T/r.rank.jsonl" >/dev/null 2>&1
pp_mpirun 2 "$BIN/pp-eval" --policy "$T/base.h5" --baseline "$T/base.h5" --prompts "$T/test.h5" --out "$T/e.h5" \
    --max-new-tokens 6 >/dev/null 2>&1
for f in base c r e; do [ -f "$T/$f.h5" ] || { fail selfdesc_setup "no $f.h5"; exit 0; }; done

# ---- (a) h5dump shows names, not numbers
h5dump -d /finish_reason "$T/c.h5" >"$T/fr.txt" 2>&1
grep -q 'H5T_ENUM' "$T/fr.txt" && grep -q '"max_tokens" *1;' "$T/fr.txt" && grep -Eq '\(0\): (eos|max_tokens|context)' "$T/fr.txt" &&
    ok h5dump_candidates_finish_reason_names || fail h5dump_candidates_finish_reason_names "$(head -n 12 "$T/fr.txt" | tr '\n' ' ')"
h5dump -d /matches/verdict -d /matches/order "$T/r.h5" >"$T/v.txt" 2>&1
grep -q '"tie" *2;' "$T/v.txt" && grep -Eq '\(0\): (first|second|tie|failed)' "$T/v.txt" && grep -q '"swapped" *1;' "$T/v.txt" &&
    grep -Eq 'swapped' "$T/v.txt" && ok h5dump_pairs_verdict_and_order_names ||
    fail h5dump_pairs_verdict_and_order_names "$(head -n 12 "$T/v.txt" | tr '\n' ' ')"
h5dump -d /test/verdict_policy_first "$T/e.h5" 2>&1 | grep -Eq '\(0\): (first|second|tie|failed)' &&
    ok h5dump_eval_verdict_names || fail h5dump_eval_verdict_names "$(h5dump -d /test/verdict_policy_first "$T/e.h5" 2>&1 | head -n 5)"
# programs read the enums back as numbers: pp-rank's match log through pairs_load
[ "$(get "$T/r.h5" n_logged_calls)" = "$(get "$T/r.h5" judge_calls)" ] && ! h5dump -a /n_matches "$T/r.h5" >/dev/null 2>&1 &&
    ok pairs_one_name_per_count || fail pairs_one_name_per_count "n_logged_calls=$(get "$T/r.h5" n_logged_calls)"
h5dump -a /chosen_tokens/description "$T/r.h5" 2>&1 | grep -q 'generated tokens of the chosen' &&
    h5dump -a /candidate_logp/description "$T/c.h5" 2>&1 | grep -q 'sum of log-probs' &&
    ok datasets_carry_description || fail datasets_carry_description "no description attribute"
# every kind still validates
pp_mpirun 1 "$BIN/pp-train" --policy "$T/base.h5" --pairs "$T/r.h5" --out "$T/t.h5" --steps 2 --batch 4 --micro-batch 2 >/dev/null 2>&1
for f in p.h5 base.h5 c.h5 r.h5 e.h5 t.h5 t.h5.ref.h5; do
    check "validate_${f%%.h5*}$(echo "$f" | grep -q ref && echo _ref)" "$I" --validate "$T/$f"
done
# (version-1 files, int32 columns and n_matches, still load: tests/unit/test_pairs.c)

# ---- (b) --version on every program
for p in "$BIN"/pp-*; do
    out=$("$p" --version 2>&1)
    n=$(basename "$p")
    if echo "$out" | grep -q "^$n [0-9][.0-9]*" && echo "$out" | grep -Eq '^git commit: ([0-9a-f]{7,}(-dirty)?|unknown)$' &&
        echo "$out" | grep -q '^MPI: .*MPI' && echo "$out" | grep -Eq '^HDF5: [0-9]+\.[0-9]+\.[0-9]+$' &&
        echo "$out" | grep -q '^OpenBLAS: OpenBLAS'; then ok "version_$n"
    else fail "version_$n" "$(echo "$out" | tr '\n' '|')"; fi
done
# the commit baked into the build is a commit of this repository
commit=$("$BIN/pp-train" --version | sed -n 's/^git commit: \([0-9a-f]*\).*/\1/p')
if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
    [ -n "$commit" ] && git -C "$ROOT" cat-file -e "$commit^{commit}" 2>/dev/null &&
        grep -q "\"$commit" "$BUILD/pp_build_info.h" && ok version_names_a_commit_of_this_repo ||
        fail version_names_a_commit_of_this_repo "'$commit'"
fi
mkdir -p "$T/tarball/tools" && cp "$ROOT/tools/build-info.sh" "$T/tarball/tools/" && sh "$T/tarball/tools/build-info.sh" "$T/bi.h" &&
    grep -q 'PP_GIT_COMMIT "unknown"' "$T/bi.h" && ok version_unknown_without_git || fail version_unknown_without_git "$(cat "$T/bi.h")"

# ---- (c) --get on text and 2-D datasets
get "$T/r.h5" /chosen_text >"$T/ct.txt"
[ "$(wc -l <"$T/ct.txt")" = 1 ] && [ "$(head -c 1 "$T/ct.txt")" = '"' ] && ok get_text_dataset || fail get_text_dataset "$(head -c 200 "$T/ct.txt")"
np=$(get "$T/r.h5" n_prompts)
get "$T/r.h5" /ranking >"$T/rk.txt"
[ "$(wc -l <"$T/rk.txt")" = "$np" ] && [ "$(head -n 1 "$T/rk.txt" | wc -w)" = 4 ] && ok get_2d_dataset_row_per_line ||
    fail get_2d_dataset_row_per_line "$(wc -l <"$T/rk.txt") lines for $np prompts"
printf '%s\n' "$(get "$T/p.h5" /text | head -c 300)" | grep -q '^"' && ok get_prompt_text || fail get_prompt_text "no quoted text"

# ---- (d) JSON-lines exports: one valid object per row
if ! command -v python3 >/dev/null 2>&1; then skip selfdesc_jsonl "needs python3 to parse JSON"; exit 0; fi
valid_jsonl() { python3 -c '
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    o = json.loads(line); n += 1
    for k in sys.argv[3].split(","):
        assert k in o, k
print(n)' "$@"; }
"$I" "$T/c.h5" --jsonl "$T/c.jsonl" >/dev/null 2>&1
n=$(valid_jsonl "$T/c.jsonl" x prompt_id,prompt,responses,logps,finish_reasons 2>&1)
[ "$n" = "$np" ] && python3 -c 'import json,sys; o=json.loads(open(sys.argv[1]).readline()); assert len(o["responses"])==4 and len(o["logps"])==4 and set(o["finish_reasons"]) <= {"eos","max_tokens","context"}' "$T/c.jsonl" &&
    ok jsonl_candidates || fail jsonl_candidates "$n"
"$I" "$T/r.h5" --jsonl "$T/r.jsonl" >/dev/null 2>&1
cmp -s "$T/r.jsonl" "$T/r.rank.jsonl" && [ "$(valid_jsonl "$T/r.jsonl" x prompt,chosen,rejected)" = "$(get "$T/r.h5" n_pairs)" ] &&
    ok jsonl_pairs_same_as_pp_rank || fail jsonl_pairs_same_as_pp_rank "differs from pp-rank --jsonl"
"$I" "$T/e.h5" --jsonl "$T/e.jsonl" >/dev/null 2>&1
n=$(valid_jsonl "$T/e.jsonl" x split,prompt_id,prompt,policy,baseline,verdict_policy_first,verdict_baseline_first,outcome 2>&1)
[ "$n" = 6 ] && grep -Eq '"verdict_policy_first":"(first|second|tie|failed)"' "$T/e.jsonl" && ok jsonl_eval || fail jsonl_eval "$n"
check_fails jsonl_other_kind_refused 1 "a 'model' file has no JSON-lines export" "$I" "$T/base.h5" --jsonl "$T/m.jsonl"

# ---- (e) pp-import: standard and implicit prompt, trained with dpo and bcr
cat >"$T/trl.jsonl" <<'J'
{"prompt": "add 2+3=", "chosen": "5", "rejected": "6"}
{"prompt": "Capital of France?", "chosen": " Paris", "rejected": " Rome", "id": 7}

{"chosen": "The sky is blue.", "rejected": "The sky is green."}
{"prompt": "rev abc=", "chosen": "cba", "rejected": "abc"}
{"prompt": "caf\u00e9 ol\u00e9", "chosen": " ol\u00e9", "rejected": " non"}
J
check import_standard "$BIN/pp-import" --data "$T/trl.jsonl" --model "$T/base.h5" --out "$T/imp.h5"
check import_validates "$I" --validate "$T/imp.h5"
[ "$(get "$T/imp.h5" n_pairs)" = 5 ] && [ "$(get "$T/imp.h5" /prompt_id)" = "1 2 4 5 6" ] && ok import_one_pair_per_row ||
    fail import_one_pair_per_row "n_pairs $(get "$T/imp.h5" n_pairs), ids $(get "$T/imp.h5" /prompt_id)"
get "$T/imp.h5" /prompt_text | grep -qF '"Capital of France?" "The sky is" "rev abc="' &&
    [ "$(get "$T/imp.h5" /chosen_text)" = '"5" " Paris" " blue." "cba" " olé"' ] && ok import_implicit_prompt_split ||
    fail import_implicit_prompt_split "$(get "$T/imp.h5" /prompt_text) / $(get "$T/imp.h5" /chosen_text)"
# byte tokenizer: BOS 256, the bytes, EOS 257 at the end of each response
[ "$(get "$T/imp.h5" /chosen_tokens | cut -d' ' -f1-2)" = "53 257" ] && [ "$(get "$T/imp.h5" /prompt_tokens | cut -d' ' -f1-3)" = "256 97 100" ] &&
    ok import_tokens_bos_eos || fail import_tokens_bos_eos "$(get "$T/imp.h5" /chosen_tokens)"
train_step1_ln2 import_train "$T/base.h5" "$T/imp.h5"

# round trip: pairs -> JSONL -> import gives the same token ids
"$I" "$T/imp.h5" --jsonl "$T/back.jsonl" >/dev/null 2>&1
"$BIN/pp-import" --data "$T/back.jsonl" --model "$T/base.h5" --out "$T/imp2.h5" >/dev/null 2>&1
same=1
for d in /prompt_tokens /prompt_token_offsets /chosen_tokens /chosen_token_offsets /rejected_tokens /rejected_token_offsets; do
    [ -n "$(get "$T/imp.h5" $d)" ] && [ "$(get "$T/imp.h5" $d)" = "$(get "$T/imp2.h5" $d)" ] || { same=0; fail import_round_trip_same_tokens "$d differs"; }
done
[ $same = 1 ] && ok import_round_trip_same_tokens
# ... and for pp-rank's pairs: every pair whose texts are valid UTF-8 (no
# U+FFFD from the sanitizer) and whose candidates ended with EOS (the
# import appends one) comes back with the same token ids
"$BIN/pp-import" --data "$T/r.jsonl" --model "$T/base.h5" --out "$T/rr.h5" --skip-bad >/dev/null 2>&1
cmp_rank_pairs() {
    python3 - "$I" "$T/r.h5" "$T/rr.h5" 257 "$T/r.jsonl" <<'PY'
import json, subprocess, sys
inspect, orig, back, eos, jsonl = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
def get(f, name):
    out = subprocess.run([inspect, f, "--get", name], capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if not l.startswith("pp-inspect:")][0]
def ragged(f, what):
    off = [int(x) for x in get(f, "/%s_token_offsets" % what).split()]
    tok = [int(x) for x in get(f, "/%s_tokens" % what).split()]
    return [tok[off[i]:off[i + 1]] for i in range(len(off) - 1)]
rows = [json.loads(l) for l in open(jsonl, encoding="utf-8")]
ids = [int(x) for x in get(back, "/prompt_id").split()]
o = {w: ragged(orig, w) for w in ("chosen", "rejected")}
b = {w: ragged(back, w) for w in ("chosen", "rejected")}
opt = [int(x) for x in get(orig, "/pair_prompt").split()]
same = differ = 0
for j, line in enumerate(ids):
    i = line - 1
    if any("\ufffd" in v for v in rows[i].values()) or o["chosen"][i][-1:] != [eos] or o["rejected"][i][-1:] != [eos]:
        continue
    if o["chosen"][i] == b["chosen"][j] and o["rejected"][i] == b["rejected"][j]: same += 1
    else: differ += 1
print(same, differ)
PY
}
res=$(cmp_rank_pairs 2>&1)
case $res in
"0 0") skip import_round_trip_rank_pairs "no pair of valid text ending with EOS" ;;
*" 0") ok "import_round_trip_rank_pairs (${res% 0} pairs)" ;;
*) fail import_round_trip_rank_pairs "same/differ: $res" ;;
esac

# truncation as documented: prompt keeps BOS + its last P-1 tokens, responses their first L-P
printf '{"prompt": "abcdefghijklmnopqrstuvwxyz", "chosen": "0123456789ABCDEFGHIJ", "rejected": "0123456789abcdefghij"}\n{"prompt": "short", "chosen": "ok", "rejected": "no"}\n' >"$T/long.jsonl"
"$BIN/pp-import" --data "$T/long.jsonl" --model "$T/base.h5" --out "$T/long.h5" --max-length 20 --max-prompt-tokens 8 >"$T/long.log" 2>&1
[ "$(get "$T/long.h5" /prompt_tokens | cut -d' ' -f1-8)" = "256 116 117 118 119 120 121 122" ] &&
    [ "$(get "$T/long.h5" /chosen_token_offsets)" = "0 12 15" ] && [ "$(get "$T/long.h5" truncated_prompts)" = 1 ] &&
    [ "$(get "$T/long.h5" truncated_responses)" = 1 ] && ok import_truncation_trl_rule ||
    fail import_truncation_trl_rule "prompt $(get "$T/long.h5" /prompt_tokens | cut -d' ' -f1-9); offsets $(get "$T/long.h5" /chosen_token_offsets)"

check_fails import_max_length_over_context 1 "--max-length 49 is longer than the context of .*base\.h5 \(48 tokens\)" \
    "$BIN/pp-import" --data "$T/long.jsonl" --model "$T/base.h5" --out "$T/x.h5" --max-length 49
check_fails import_max_prompt_not_below_max_length 1 "--max-prompt-tokens 20 must be at least 2 .* below --max-length 20" \
    "$BIN/pp-import" --data "$T/long.jsonl" --model "$T/base.h5" --out "$T/x.h5" --max-length 20 --max-prompt-tokens 20

# bad rows: one line FILE:LINE naming the field, exit 1; --skip-bad counts them
good='{"prompt": "a", "chosen": "b", "rejected": "c"}'
bad_row() { # NAME ROW PATTERN
    printf '%s\n%s\n%s\n' "$good" "$2" "$good" >"$T/bad_$1.jsonl"
    check_fails "import_bad_$1" 1 "bad_$1\.jsonl:2: $3" "$BIN/pp-import" --data "$T/bad_$1.jsonl" --model "$T/base.h5" --out "$T/bad.h5" $4
    rm -f "$T/skip.h5"
    "$BIN/pp-import" --data "$T/bad_$1.jsonl" --model "$T/base.h5" --out "$T/skip.h5" --skip-bad $4 >"$T/skip.log" 2>&1
    if [ "$(get "$T/skip.h5" skipped_rows)" = 1 ] && [ "$(get "$T/skip.h5" n_pairs)" = 2 ] && grep -q "(1 skipped)" "$T/skip.log" &&
        grep -q "skipped: .*bad_$1\.jsonl:2" "$T/skip.log"; then ok "import_skip_bad_$1"
    else fail "import_skip_bad_$1" "$(tr '\n' ' ' <"$T/skip.log" | head -c 300)"; fi
}
bad_row missing_field '{"prompt": "a", "chosen": "b"}' "field 'rejected': is missing"
bad_row wrong_type '{"prompt": "a", "chosen": 5, "rejected": "c"}' "field 'chosen': must be a string or a list of messages, not a number"
bad_row empty_chosen '{"prompt": "a", "chosen": "", "rejected": "c"}' "field 'chosen': is empty"
bad_row chosen_equals_rejected '{"prompt": "a", "chosen": "same", "rejected": "same"}' "field 'rejected': is the same text as chosen"
bad_row over_long '{"prompt": "a", "chosen": "0123456789X", "rejected": "0123456789Y"}' \
    "field 'rejected': has the same tokens as chosen after truncation" "--max-length 12 --max-prompt-tokens 4"
bad_row invalid_utf8 "$(printf '{"prompt": "a", "chosen": "\377", "rejected": "c"}')" "not valid UTF-8 \(byte 28 of the line\)"
bad_row not_json '{"prompt": "a", "chosen": ' "not valid JSON"
printf '%s\n{"prompt": [{"role": "user", "content": "hi"}], "chosen": [{"role": "assistant", "content": "b"}], "rejected": [{"role": "assistant", "content": "c"}]}\n' "$good" >"$T/conv.jsonl"
check_fails import_conversational_needs_chat_template 1 "conv\.jsonl:2: field 'prompt': is a conversation and .*base\.h5 has no chat template; choose one with --chat-template" \
    "$BIN/pp-import" --data "$T/conv.jsonl" --model "$T/base.h5" --out "$T/conv.h5" --skip-bad
[ ! -e "$T/bad.h5" ] && [ ! -e "$T/bad.h5.tmp" ] && ok import_bad_rows_leave_no_output || fail import_bad_rows_leave_no_output "$(ls "$T" | grep bad.h5)"

# the llama2c tokenizer (stories260K): a round trip of responses that start with a space
if need_shared import_llama2c models/stories260K.bin && need_shared import_llama2c models/tok512.bin; then
    "$BIN/pp-convert" --from-llama2c "$SHARED/models/stories260K.bin" --tokenizer "$SHARED/models/tok512.bin" --out "$T/s.h5" >/dev/null 2>&1
    printf '{"prompt": "Once upon a time", "chosen": " there was a little girl.", "rejected": " the sun was hot."}\n{"chosen": "Lily saw a big dog.", "rejected": "Lily saw a small cat."}\n' >"$T/s.jsonl"
    "$BIN/pp-import" --data "$T/s.jsonl" --model "$T/s.h5" --out "$T/s_imp.h5" >/dev/null 2>&1
    "$I" "$T/s_imp.h5" --jsonl "$T/s_back.jsonl" >/dev/null 2>&1
    "$BIN/pp-import" --data "$T/s_back.jsonl" --model "$T/s.h5" --out "$T/s_imp2.h5" >/dev/null 2>&1
    [ -n "$(get "$T/s_imp.h5" /chosen_tokens)" ] && [ "$(get "$T/s_imp.h5" /chosen_tokens)" = "$(get "$T/s_imp2.h5" /chosen_tokens)" ] &&
        [ "$(get "$T/s_imp.h5" /rejected_tokens)" = "$(get "$T/s_imp2.h5" /rejected_tokens)" ] && ok import_llama2c_round_trip ||
        fail import_llama2c_round_trip "$(get "$T/s_imp.h5" /chosen_tokens) vs $(get "$T/s_imp2.h5" /chosen_tokens)"
    pp_mpirun 1 "$BIN/pp-train" --policy "$T/s.h5" --pairs "$T/s_imp.h5" --out "$T/s_t.h5" --loss dpo --steps 2 --batch 2 --micro-batch 1 >/dev/null 2>&1
    l0=$(h5dump -d /metrics/loss "$T/s_t.h5" 2>/dev/null | sed -n 's/.*(0): \([-0-9.e]*\).*/\1/p')
    [ -n "$l0" ] && awk "BEGIN{d=$l0-log(2); exit !(d < 1e-6 && d > -1e-6)}" && ok "import_llama2c_train_step1_ln2 ($l0)" ||
        fail import_llama2c_train_step1_ln2 "loss '$l0'"
fi
