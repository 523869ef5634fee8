#!/bin/sh
# Conversations through the pipeline: pp-prompts keeps TRL messages rows
# as conversations (and refuses bad ones with one line), pp-generate renders
# them with the model's chat template or --chat-template, tokenizes the
# rendering with exactly one BOS, stores it in /prompt_rendered apart from
# the reply, and stops on --stop / --stop-string (finish reason 3).
. "$(dirname "$0")/../lib.sh"
P=$BIN/pp-prompts
G=$BIN/pp-generate
I=$BIN/pp-inspect
E=$BUILD/tests/tools/h5edit

cat >"$T/conv.jsonl" <<'JSONL'
{"messages": [{"role": "system", "content": "Tell a story."}, {"role": "user", "content": "Once upon a time"}]}
{"messages": [{"role": "user", "content": "Lily had a ball."}, {"role": "assistant", "content": "She liked it."}, {"role": "user", "content": "Then what? 😀"}]}
{"messages": "a plain prompt among conversations"}
{"messages": [{"role": "system", "content": "Tell a story."}, {"role": "user", "content": "Once upon a time"}]}
JSONL
check import_messages "$P" --out "$T/p.h5" --jsonl "$T/conv.jsonl" --field messages
check import_validates "$I" --validate "$T/p.h5"
n=$(h5dump -a /n_prompts "$T/p.h5" | sed -n 's/.*(0): //p')
[ "$n" = 3 ] && ok import_drops_repeated_conversation || fail import_drops_repeated_conversation "n_prompts=$n"
if h5dump -d /messages "$T/p.h5" | grep -q '(0): "\[{"role":"system","content":"Tell a story."},{"role":"user","content":"Once upon a time"}\]"' &&
    h5dump -d /text "$T/p.h5" | grep -q '(0): "Once upon a time"'; then ok messages_stored_whole
else fail messages_stored_whole "$(h5dump -d /messages "$T/p.h5" | grep '(0)')"; fi

printf '%s\n' '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}' >"$T/trail.jsonl"
check_fails trailing_assistant_refused 1 'trail.jsonl:1: the conversation.s last turn is the assistant.s; a prompt ends with the user.s turn' \
    "$P" --out "$T/x.h5" --jsonl "$T/trail.jsonl" --field messages
[ ! -e "$T/x.h5" ] && [ ! -e "$T/x.h5.tmp" ] && ok trailing_assistant_no_output || fail trailing_assistant_no_output "output left"
printf '%s\n' '{"messages": [{"role": "tool", "content": "q"}]}' >"$T/role.jsonl"
check_fails unknown_role_refused 1 "role.jsonl:1: turn 0 has role 'tool', not one of system, user, assistant" \
    "$P" --out "$T/x.h5" --jsonl "$T/role.jsonl" --field messages
printf '%s\n' '{"messages": 3}' >"$T/num.jsonl"
check_fails field_not_messages 1 "num.jsonl:1: field 'messages' is neither a string nor a list of messages" \
    "$P" --out "$T/x.h5" --jsonl "$T/num.jsonl" --field messages

need_shared chat_generate models/stories260K.bin || exit 0
"$BIN/pp-convert" --from-llama2c "$SHARED/models/stories260K.bin" --tokenizer "$SHARED/models/tok512.bin" \
    --out "$T/m.h5" >/dev/null 2>&1 || fail import_model "pp-convert failed"

check_fails conversation_needs_template 1 'p.h5: prompt id 0 is a conversation and .*m.h5 has no chat template; choose one with --chat-template' \
    "$G" --model "$T/m.h5" --prompts "$T/p.h5" --out "$T/x.h5" --k 1
check_fails unknown_template_refused 1 '--chat-template gemma: not one of llama2, llama3, chatml, mistral, zephyr' \
    "$G" --model "$T/m.h5" --prompts "$T/p.h5" --out "$T/x.h5" --k 1 --chat-template gemma
check_fails stop_not_a_token 1 '--stop <\|eot_id\|>: not a token of the model.s vocabulary' \
    "$G" --model "$T/m.h5" --prompts "$T/p.h5" --out "$T/x.h5" --k 1 --chat-template llama3 --stop '<|eot_id|>'

# zephyr: the rendering is stored as the template writes it
check generate_zephyr pp_mpirun 2 "$G" --model "$T/m.h5" --prompts "$T/p.h5" --out "$T/z.h5" --k 2 --max-new-tokens 24 \
    --chat-template zephyr
check zephyr_validates "$I" --validate "$T/z.h5"
"$G" --model "$T/m.h5" --prompts "$T/p.h5" --out "$T/z1.h5" --k 2 --max-new-tokens 24 --chat-template zephyr >/dev/null 2>&1
if why=$(h5_same "$T/z.h5" "$T/z1.h5" arguments mpi_ranks host); then ok zephyr_same_at_np1_and_np2
else fail zephyr_same_at_np1_and_np2 "$why"; fi
h5dump -d /prompt_rendered "$T/z.h5" >"$T/r.txt"
if grep -q '(0): "<|system|>' "$T/r.txt" && grep -q 'Tell a story.</s>' "$T/r.txt" && grep -q '(2): ""' "$T/r.txt"; then
    ok prompt_rendered_stored
else fail prompt_rendered_stored "$(head -c 400 "$T/r.txt")"; fi

# llama2 writes "<s>" itself: its tokens are one BOS and the rest of the
# rendering, exactly as a plain prompt of that text (BOS never doubled)
check generate_llama2 "$G" --model "$T/m.h5" --prompts "$T/p.h5" --out "$T/l.h5" --k 1 --max-new-tokens 4 --chat-template llama2
printf '%s\n' '[INST] <<SYS>>' 'Tell a story.' '<</SYS>>' '' 'Once upon a time [/INST]' | python3 -c \
    'import json,sys; print(json.dumps({"messages": sys.stdin.read().rstrip("\n")}))' >"$T/plain.jsonl"
"$P" --out "$T/plain.h5" --jsonl "$T/plain.jsonl" --field messages >/dev/null 2>&1
"$G" --model "$T/m.h5" --prompts "$T/plain.h5" --out "$T/pl.h5" --k 1 --max-new-tokens 4 >/dev/null 2>&1
a=$(h5dump -A 0 -d /prompt_tokens -s 0 -c "$(h5dump -A 0 -d /prompt_token_offsets -s 1 -c 1 "$T/l.h5" | sed -n 's/.*(1): //p')" "$T/l.h5" | sed -n '/DATA {/,/}/p' | sed 's/([0-9]*)://g' | tr -d ' \n')
b=$(h5dump -A 0 -d /prompt_tokens "$T/pl.h5" | sed -n '/DATA {/,/}/p' | sed 's/([0-9]*)://g' | tr -d ' \n')
first=$(h5dump -A 0 -d /prompt_tokens -s 0 -c 2 "$T/l.h5" | sed -n 's/.*(0): //p')
if [ -n "$a" ] && [ "$a" = "$b" ] && [ "$first" = "1, 1" ]; then fail bos_once "two BOS tokens"
elif [ -n "$a" ] && [ "$a" = "$b" ]; then ok bos_once
else fail bos_once "rendered tokens $a vs plain $b"; fi

# the model file's own chat family is used without --chat-template
cp "$T/m.h5" "$T/mz.h5"
"$E" "$T/mz.h5" sattr chat_family zephyr
check model_chat_family_validates "$I" --validate "$T/mz.h5"
check generate_model_family "$G" --model "$T/mz.h5" --prompts "$T/p.h5" --out "$T/z2.h5" --k 2 --max-new-tokens 24
h5dump -d /prompt_rendered "$T/z2.h5" >"$T/r2.txt"
cmp -s "$T/r.txt" "$T/r2.txt" 2>/dev/null || sed -i "s|$T/z2.h5|$T/z.h5|" "$T/r2.txt"
cmp -s "$T/r.txt" "$T/r2.txt" && ok model_family_renders_same || fail model_family_renders_same "renderings differ"
cp "$T/m.h5" "$T/mbad.h5"
"$E" "$T/mbad.h5" sattr chat_family gemma
check_fails model_bad_family_refused 1 'mbad.h5: attribute chat_family .gemma. is not one of llama2, llama3, chatml, mistral, zephyr' \
    "$G" --model "$T/mbad.h5" --prompts "$T/p.h5" --out "$T/x.h5" --k 1

# stops: the template's end of turn is a string here (tok512 has no </s>
# piece); --stop-string "." ends candidates, whose text stops before it
check generate_stop pp_mpirun 2 "$G" --model "$T/m.h5" --prompts "$T/p.h5" --out "$T/s.h5" --k 4 --max-new-tokens 60 \
    --chat-template chatml --stop-string .
fr=$(h5dump -d /finish_reason "$T/s.h5" | sed -n '/DATA {/,/}/p' | grep -o '[0-9]' | sort | uniq -c | tr -s ' ')
texts=$(h5dump -d /candidate_text "$T/s.h5" | sed -n '/DATA {/,/}/p' | sed 's/^ *([0-9]*): //')
case $fr in *" 3"*) stopped=1 ;; *) stopped=0 ;; esac
if [ "$stopped" = 1 ] && ! printf '%s' "$texts" | grep -q '[^"]\.'; then ok stop_string_ends_candidates
else fail stop_string_ends_candidates "finish reasons [$fr] texts: $(printf '%s' "$texts" | head -c 300)"; fi
check stop_validates "$I" --validate "$T/s.h5"

# a prompts file of version 1 (before conversations) still loads
"$P" --out "$T/v1.h5" --text "$T/conv.jsonl" >/dev/null 2>&1
"$E" "$T/v1.h5" attr schema_version 1
check prompts_v1_loads "$G" --model "$T/m.h5" --prompts "$T/v1.h5" --out "$T/v1c.h5" --k 1 --max-new-tokens 4

# pp-eval renders the conversations once for both models
JG=$BUILD/tests/tools/judge_good
check eval_conversations "$BIN/pp-eval" --policy "$T/m.h5" --baseline "$T/m.h5" --prompts "$T/p.h5" --out "$T/e.h5" \
    --judge cmd --judge-cmd "$JG" --chat-template llama3 --stop-string . --max-new-tokens 30
check_fails eval_templates_differ 1 'mz.h5 and .*m.h5 have different chat templates ..zephyr., ...: choose one with --chat-template' \
    "$BIN/pp-eval" --policy "$T/mz.h5" --baseline "$T/m.h5" --prompts "$T/p.h5" --out "$T/x.h5" --judge cmd --judge-cmd "$JG"
