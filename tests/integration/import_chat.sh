#!/bin/sh
# pp-import of TRL's conversational preference formats (issue 21): explicit
# prompt ({prompt, chosen, rejected} as lists of messages) and implicit
# prompt ({chosen, rejected} conversations sharing their first messages),
# rendered with the model's chat template or --chat-template.  The token ids
# are checked against renderings made independently by tests/tools/chat_render
# and encoded here byte by byte (the byte tokenizer: BOS 256, EOS 257);
# the pairs train with dpo and bcr from ln 2; bad rows each give their line.
. "$(dirname "$0")/../lib.sh"
I=$BIN/pp-inspect
E=$BUILD/tests/tools/h5edit
R=$BUILD/tests/tools/chat_render
get() { "$I" "$1" --get "$2" 2>/dev/null | grep -v '^pp-inspect:'; }
if [ ! -x "$R" ] || [ ! -x "$E" ]; then
    skip import_chat "tests/tools/chat_render or h5edit is not built (make tests)"
    exit 0
fi

# ---- a tiny byte-level model; a copy that carries a chatml template
"$BIN/pp-prompts" --out "$T/p.h5" --suite builtin --split train --n 8 --seed 4 >/dev/null 2>&1
pp_mpirun 1 "$BIN/pp-sft" --out "$T/m.h5" --data "$T/p.h5" --arch dim=32,layers=2,heads=4,kv-heads=2,hidden=64,seq-len=384 \
    --batch 4 --steps 2 --lr 1e-3 >/dev/null 2>&1
cp "$T/m.h5" "$T/mc.h5"
"$E" "$T/mc.h5" sattr chat_family chatml
check chat_model_validates "$I" --validate "$T/mc.h5"

cat >"$T/conv.jsonl" <<'J'
{"prompt": [{"role": "system", "content": "Tell a story."}, {"role": "user", "content": "Once upon a time"}], "chosen": [{"role": "assistant", "content": "there was a cat."}], "rejected": [{"role": "assistant", "content": "no."}]}
{"prompt": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "A colour? \ud83d\ude00"}], "chosen": [{"role": "assistant", "content": "Blue."}], "rejected": [{"role": "assistant", "content": "Seven."}]}
{"chosen": [{"role": "user", "content": "2+3="}, {"role": "assistant", "content": "5"}], "rejected": [{"role": "user", "content": "2+3="}, {"role": "assistant", "content": "6"}]}
{"chosen": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Sky?"}, {"role": "assistant", "content": "Blue."}], "rejected": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Sky?"}, {"role": "assistant", "content": "Green, and then a long story."}]}
J
# The same rows as chat_render cases: prompt (rendered with the generation
# prompt), prompt + chosen and prompt + rejected (rendered without); the
# implicit rows' prompts are the messages chosen and rejected share.
cat >"$T/prompts.jsonl" <<'J'
[{"role": "system", "content": "Tell a story."}, {"role": "user", "content": "Once upon a time"}]
[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "A colour? \ud83d\ude00"}]
[{"role": "user", "content": "2+3="}]
[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Sky?"}]
J
cat >"$T/chosen.jsonl" <<'J'
[{"role": "system", "content": "Tell a story."}, {"role": "user", "content": "Once upon a time"}, {"role": "assistant", "content": "there was a cat."}]
[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "A colour? \ud83d\ude00"}, {"role": "assistant", "content": "Blue."}]
[{"role": "user", "content": "2+3="}, {"role": "assistant", "content": "5"}]
[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Sky?"}, {"role": "assistant", "content": "Blue."}]
J
cat >"$T/rejected.jsonl" <<'J'
[{"role": "system", "content": "Tell a story."}, {"role": "user", "content": "Once upon a time"}, {"role": "assistant", "content": "no."}]
[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "A colour? \ud83d\ude00"}, {"role": "assistant", "content": "Seven."}]
[{"role": "user", "content": "2+3="}, {"role": "assistant", "content": "6"}]
[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Sky?"}, {"role": "assistant", "content": "Green, and then a long story."}]
J
bytes() { od -An -v -tu1 "$1" | tr -s ' \n' '  ' | sed 's/^ //; s/ $//'; }
# expected ids of one family: $1 a template text chat_render detects, $2 the BOS text it writes
expect_ids() {
    printf '%s' "$1" >"$T/tpl.txt"
    for c in prompts chosen rejected; do
        rm -rf "$T/r_$c" && mkdir -p "$T/r_$c"
        gen=0
        [ $c = prompts ] && gen=1
        "$R" "$T/tpl.txt" "$T/$c.jsonl" $gen "$T/r_$c" >/dev/null || return 1
    done
    : >"$T/want_prompt" && : >"$T/want_chosen" && : >"$T/want_rejected"
    for i in 0 1 2 3; do
        p="$T/r_prompts/$i.txt"
        np=$(wc -c <"$p")
        nb=${#2}
        tail -c +$((nb + 1)) "$p" >"$T/pb.txt" # the BOS text goes; BOS is the id 256
        echo "256 $(bytes "$T/pb.txt")" >>"$T/want_prompt"
        for s in chosen rejected; do
            head -c "$np" "$T/r_$s/$i.txt" | cmp -s - "$p" || { echo "rendering $s $i does not start with the prompt's" >&2; return 1; }
            tail -c +$((np + 1)) "$T/r_$s/$i.txt" >"$T/resp.txt"
            echo "$(bytes "$T/resp.txt") 257" >>"$T/want_$s"
        done
    done
}
same_ids() { # $1 the pairs file
    for s in prompt chosen rejected; do
        want=$(tr '\n' ' ' <"$T/want_$s" | sed 's/ $//')
        have=$(get "$1" /${s}_tokens)
        [ -n "$have" ] && [ "$want" = "$have" ] || { echo "/${s}_tokens: want [$want] have [$have]"; return 1; }
    done
}

# ---- chatml from the model file: explicit and implicit prompts
check import_chatml "$BIN/pp-import" --data "$T/conv.jsonl" --model "$T/mc.h5" --out "$T/c.h5"
check import_chatml_validates "$I" --validate "$T/c.h5"
[ "$(get "$T/c.h5" n_pairs)" = 4 ] && [ "$(get "$T/c.h5" truncated_prompts)" = 0 ] &&
    [ "$(get "$T/c.h5" truncated_responses)" = 0 ] && ok chatml_four_pairs_untruncated ||
    fail chatml_four_pairs_untruncated "n_pairs $(get "$T/c.h5" n_pairs), truncated $(get "$T/c.h5" truncated_prompts)"
if expect_ids '{{ "<|im_start|>" }}{{ "<|im_end|>" }}' ""; then
    if why=$(same_ids "$T/c.h5"); then ok chatml_token_ids_as_rendered; else fail chatml_token_ids_as_rendered "$why"; fi
else fail chatml_token_ids_as_rendered "chat_render failed"; fi
get "$T/c.h5" /chosen_text | grep -qF '"5<|im_end|>' && ok chatml_implicit_prompt_split ||
    fail chatml_implicit_prompt_split "$(get "$T/c.h5" /chosen_text)"
get "$T/c.h5" /prompt_text | grep -qF '<|im_start|>user\n2+3=<|im_end|>\n<|im_start|>assistant\n' &&
    ok chatml_prompt_text_rendered || fail chatml_prompt_text_rendered "$(get "$T/c.h5" /prompt_text)"

# ---- --chat-template llama3 on a model without one: the BOS text is
# kept in the text, and the prompt's tokens start with one BOS id
check import_llama3_option "$BIN/pp-import" --data "$T/conv.jsonl" --model "$T/m.h5" --out "$T/l.h5" --chat-template llama3
if expect_ids '<|start_header_id|><|eot_id|>' '<|begin_of_text|>'; then
    if why=$(same_ids "$T/l.h5"); then ok llama3_token_ids_one_bos; else fail llama3_token_ids_one_bos "$why"; fi
else fail llama3_token_ids_one_bos "chat_render failed"; fi
get "$T/l.h5" /prompt_text | grep -q '^"<|begin_of_text|><|start_header_id|>system' && ok llama3_text_keeps_bos_text ||
    fail llama3_text_keeps_bos_text "$(get "$T/l.h5" /prompt_text | head -c 200)"
check_fails chat_template_option_overrides 1 'conv.jsonl:1: field .prompt.: mistral chat template: it has no system role' \
    "$BIN/pp-import" --data "$T/conv.jsonl" --model "$T/mc.h5" --out "$T/x.h5" --chat-template mistral

# ---- trained: at step 1 policy = reference, so the loss is ln 2
train_step1_ln2 chat_train "$T/mc.h5" "$T/c.h5"

# ---- no template: one line naming the model file and the option, even with --skip-bad
check_fails no_template_refused 1 "conv.jsonl:1: field 'prompt': is a conversation and .*m.h5 has no chat template; choose one with --chat-template" \
    "$BIN/pp-import" --data "$T/conv.jsonl" --model "$T/m.h5" --out "$T/x.h5"
check_fails no_template_not_skipped 1 "has no chat template" \
    "$BIN/pp-import" --data "$T/conv.jsonl" --model "$T/m.h5" --out "$T/x.h5" --skip-bad
check_fails bad_template_name 1 '--chat-template gemma: not one of llama2' \
    "$BIN/pp-import" --data "$T/conv.jsonl" --model "$T/m.h5" --out "$T/x.h5" --chat-template gemma

# ---- bad conversational rows: FILE:LINE, the field, exit 1
U='{"role": "user", "content": "q"}'
A='{"role": "assistant", "content": "a"}'
B='{"role": "assistant", "content": "b"}'
bad() { # name pattern row
    printf '%s\n' "$3" >"$T/bad.jsonl"
    check_fails "bad_$1" 1 "bad.jsonl:1: field $2" "$BIN/pp-import" --data "$T/bad.jsonl" --model "$T/mc.h5" --out "$T/x.h5"
}
bad chosen_not_list "'chosen': must be a list of messages like the row's other fields, not a string" \
    "{\"prompt\": [$U], \"chosen\": \"a\", \"rejected\": [$B]}"
bad prompt_not_list "'prompt': must be a list of messages like the row's other fields, not a number" \
    "{\"prompt\": 3, \"chosen\": [$A], \"rejected\": [$B]}"
bad message_no_role "'chosen': turn 0 has no string 'role'" "{\"prompt\": [$U], \"chosen\": [{\"content\": \"a\"}], \"rejected\": [$B]}"
bad message_no_content "'rejected': turn 0 has no string 'content'" "{\"prompt\": [$U], \"chosen\": [$A], \"rejected\": [{\"role\": \"assistant\"}]}"
bad message_not_object "'chosen': turn 0 is not an object" "{\"prompt\": [$U], \"chosen\": [\"a\"], \"rejected\": [$B]}"
bad unknown_role "'prompt': turn 0 has role 'tool'" "{\"prompt\": [{\"role\": \"tool\", \"content\": \"q\"}], \"chosen\": [$A], \"rejected\": [$B]}"
bad empty_conversation "'chosen': is an empty conversation" "{\"prompt\": [$U], \"chosen\": [], \"rejected\": [$B]}"
bad missing_rejected "'rejected': is missing" "{\"prompt\": [$U], \"chosen\": [$A]}"
bad trailing_user_in_chosen "'chosen': does not end with an assistant message" \
    "{\"prompt\": [$U], \"chosen\": [$A, $U], \"rejected\": [$B]}"
bad system_in_response "'rejected': message 0 is a system message" \
    "{\"prompt\": [$U], \"chosen\": [$A], \"rejected\": [{\"role\": \"system\", \"content\": \"s\"}, $B]}"
bad prompt_ends_with_assistant "'prompt': the conversation's last turn is the assistant's" \
    "{\"prompt\": [$U, $A], \"chosen\": [$B], \"rejected\": [$A]}"
bad no_common_prefix "'rejected': shares no first message with chosen" \
    "{\"chosen\": [$U, $A], \"rejected\": [{\"role\": \"user\", \"content\": \"other\"}, $B]}"
bad implicit_prompt_not_user "'chosen' \\(its messages shared with rejected: the prompt\\): the conversation's last turn is the assistant's" \
    "{\"chosen\": [$U, $A, $U, $A], \"rejected\": [$U, $A, {\"role\": \"user\", \"content\": \"other\"}, $B]}"
bad same_as_chosen "'rejected': is the same text as chosen" "{\"prompt\": [$U], \"chosen\": [$A], \"rejected\": [$A]}"

# --skip-bad: the bad rows are counted, the good ones kept
{ cat "$T/conv.jsonl"; printf '%s\n' "{\"prompt\": [$U], \"chosen\": [], \"rejected\": [$B]}" \
    "{\"chosen\": [$U, $A], \"rejected\": [{\"role\": \"user\", \"content\": \"x\"}, $B]}"; } >"$T/mixed.jsonl"
check import_skip_bad "$BIN/pp-import" --data "$T/mixed.jsonl" --model "$T/mc.h5" --out "$T/s.h5" --skip-bad
[ "$(get "$T/s.h5" skipped_rows)" = 2 ] && [ "$(get "$T/s.h5" n_pairs)" = 4 ] && ok skip_bad_counts_conversations ||
    fail skip_bad_counts_conversations "skipped $(get "$T/s.h5" skipped_rows), pairs $(get "$T/s.h5" n_pairs)"

# ---- stories260K (llama2.c tokenizer) with --chat-template llama2: the
# conversational import tokenizes as the string import of chat_render's
# renderings does (the prompt without its <s> text, BOS as an id), and trains
need_shared import_chat_stories260k models/stories260K.bin || exit 0
"$BIN/pp-convert" --from-llama2c "$SHARED/models/stories260K.bin" --tokenizer "$SHARED/models/tok512.bin" \
    --out "$T/s.h5" >/dev/null 2>&1 || fail stories_model "pp-convert failed"
check import_stories_llama2 "$BIN/pp-import" --data "$T/conv.jsonl" --model "$T/s.h5" --out "$T/sc.h5" --chat-template llama2
printf '%s' '[INST]<<SYS>>' >"$T/tpl.txt"
for c in prompts chosen rejected; do
    rm -rf "$T/r_$c" && mkdir -p "$T/r_$c"
    gen=0
    [ $c = prompts ] && gen=1
    "$R" "$T/tpl.txt" "$T/$c.jsonl" $gen "$T/r_$c" >/dev/null
done
# a text file as a JSON string (the renderings here hold no quote, backslash
# or control character but newlines, and do not end with one)
json_str() { awk 'BEGIN { ORS = ""; print "\"" } { if (NR > 1) print "\\n"; print } END { print "\"" }' "$1"; }
: >"$T/str.jsonl"
for i in 0 1 2 3; do
    np=$(wc -c <"$T/r_prompts/$i.txt")
    tail -c +4 "$T/r_prompts/$i.txt" >"$T/p.txt" # without "<s>"
    tail -c +$((np + 1)) "$T/r_chosen/$i.txt" >"$T/c.txt"
    tail -c +$((np + 1)) "$T/r_rejected/$i.txt" >"$T/j.txt"
    printf '{"prompt": %s, "chosen": %s, "rejected": %s}\n' "$(json_str "$T/p.txt")" "$(json_str "$T/c.txt")" \
        "$(json_str "$T/j.txt")" >>"$T/str.jsonl"
done
check import_stories_strings "$BIN/pp-import" --data "$T/str.jsonl" --model "$T/s.h5" --out "$T/ss.h5"
same=1
for d in /prompt_tokens /prompt_token_offsets /chosen_tokens /chosen_token_offsets /rejected_tokens /rejected_token_offsets; do
    [ -n "$(get "$T/sc.h5" $d)" ] && [ "$(get "$T/sc.h5" $d)" = "$(get "$T/ss.h5" $d)" ] ||
        { same=0; fail stories_same_tokens_as_rendered_strings "$d: $(get "$T/sc.h5" $d | head -c 200) vs $(get "$T/ss.h5" $d | head -c 200)"; }
done
[ $same = 1 ] && ok stories_same_tokens_as_rendered_strings
train_step1_ln2 stories_chat_train "$T/s.h5" "$T/sc.h5"
