#!/bin/sh
# pp-convert --from-hf / --to-hf: stories260K written out as a Hugging Face
# checkpoint (f32 and bf16) by pp-convert and, independently, by
# tests/tools/llama2c_to_hf.py (Python standard library) reads back to the
# llama2.c import's exact model and generates run.c's golden 200 tokens;
# llama2.c -> HF -> llama2.c is bit-exact; malformed checkpoints (bad
# safetensors headers, offsets, dtypes, truncation, missing tensors,
# refused architectures and options) each give one line and exit 1.
# The logits of the random PyTorch fixtures are checked by test_hf.
. "$(dirname "$0")/../lib.sh"
C=$BIN/pp-convert
FX=$ROOT/tests/fixtures/hf
fp() { h5dump -a /fingerprint "$1" 2>/dev/null | sed -n 's/.*(0): "\(.*\)"/\1/p'; }
attr() { h5dump -a "/$2" "$1" 2>/dev/null | sed -n 's/.*(0): \(.*\)/\1/p'; }

# ---- malformed checkpoints (no shared data needed) -------------------------
if command -v python3 >/dev/null 2>&1; then
    # rewrite(src_dir, dst_dir, case): a copy of a fixture with one defect
    cat >"$T/defect.py" <<'EOF'
import json, os, shutil, struct, sys
src, dst, case = sys.argv[1:4]
shutil.copytree(src, dst)
st = os.path.join(dst, "model.safetensors")
raw = open(st, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head, data = json.loads(raw[8:8 + n]), raw[8 + n:]
cfg = json.load(open(os.path.join(dst, "config.json")))
k0, v0 = "model.layers.0.self_attn.k_proj.weight", "model.layers.0.self_attn.v_proj.weight"
def put(h, d=data):
    t = json.dumps(h).encode()
    open(st, "wb").write(struct.pack("<Q", len(t)) + t + d)
if case == "header_length": open(st, "wb").write(struct.pack("<Q", len(raw)) + raw[8:])
elif case == "header_100mb": open(st, "wb").write(struct.pack("<Q", 200_000_000) + raw[8:])
elif case == "header_not_json": open(st, "wb").write(raw[:8] + b"x" * n + data)
elif case == "overlap": head[v0]["data_offsets"] = head[k0]["data_offsets"]; put(head)
elif case == "dtype_size": head[k0]["dtype"] = "BF16"; put(head)
elif case == "unknown_dtype": head[k0]["dtype"] = "F64"; put(head)
elif case == "truncated": open(st, "wb").write(raw[:-100])
elif case == "missing_tensor": del head["model.layers.1.self_attn.k_proj.weight"]; put(head)
elif case == "bias_tensor":
    head["model.layers.0.self_attn.q_proj.bias"] = {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}; put(head)
elif case == "shape": head[k0]["shape"] = head[k0]["shape"][::-1]; put(head)
else:
    edits = {"qwen2": {"architectures": ["Qwen2ForCausalLM"]}, "unknown_arch": {"architectures": ["FooForCausalLM"]},
             "attention_bias": {"attention_bias": True}, "gelu": {"hidden_act": "gelu"},
             "mistral_window": {"architectures": ["MistralForCausalLM"], "sliding_window": 16},
             "rope_linear": {"rope_scaling": {"rope_type": "linear", "factor": 2.0}}}
    cfg.update(edits[case])
    json.dump(cfg, open(os.path.join(dst, "config.json"), "w"))
EOF
    bad() { # NAME PATTERN: the fixture with defect NAME is refused with PATTERN
        python3 "$T/defect.py" "$FX/llama3_gqa" "$T/bad_$1" "$1"
        check_fails "convert_hf_rejects_$1" 1 "$2" "$C" --from-hf "$T/bad_$1" --out "$T/x.h5"
    }
    bad header_length 'bad_header_length/model.safetensors: header length [0-9]+ does not fit'
    bad header_100mb 'bad_header_100mb/model.safetensors: header length 200000000 is above the 100 MB limit'
    bad header_not_json 'bad_header_not_json/model.safetensors: header is not JSON'
    bad overlap 'bad_overlap/model.safetensors: tensors .*k_proj.weight and .*v_proj.weight overlap'
    bad dtype_size 'bad_dtype_size/model.safetensors: tensor model.layers.0.self_attn.k_proj.weight: shape needs 1536 bytes of BF16 but data_offsets span 3072'
    bad unknown_dtype 'bad_unknown_dtype/model.safetensors: tensor model.layers.0.self_attn.k_proj.weight: dtype F64 is not supported'
    bad truncated 'bad_truncated/model.safetensors: tensor .*run past the data.*truncated'
    bad missing_tensor 'bad_missing_tensor: tensor model.layers.1.self_attn.k_proj.weight is missing'
    bad bias_tensor 'bad_bias_tensor/model.safetensors: tensor model.layers.0.self_attn.q_proj.bias is not part of a Llama model'
    bad shape 'bad_shape/model.safetensors: tensor model.layers.0.self_attn.k_proj.weight has shape \[32, 24\], config.json implies \[24, 32\]'
    bad qwen2 'bad_qwen2/config.json: architecture Qwen2ForCausalLM is not supported \(q/k/v biases\)'
    bad unknown_arch 'architecture FooForCausalLM is not supported \(only LlamaForCausalLM and MistralForCausalLM\)'
    bad attention_bias 'config.json: attention_bias is set'
    bad gelu 'config.json: hidden_act gelu is not supported \(only silu\)'
    bad mistral_window 'sliding_window 16 is smaller than the context kept \(64\).*--max-seq-len 16'
    bad rope_linear 'rope_scaling type linear is not supported \(only llama3\)'
    [ ! -e "$T/x.h5" ] && ok convert_hf_bad_input_no_output || fail convert_hf_bad_input_no_output "x.h5 left behind"
else
    skip convert_hf_malformed "needs python3 to make the malformed copies"
fi
check_fails convert_hf_no_tokenizer 1 'llama3_gqa: no tokenizer.json \(give a llama2.c tokenizer with --tokenizer T.bin\)' \
    "$C" --from-hf "$FX/llama3_gqa" --out "$T/x.h5"
cp -R "$FX/llama3_gqa" "$T/with_tok" && echo '{}' >"$T/with_tok/tokenizer.json"
check_fails convert_hf_tokenizer_json_bad 1 'with_tok/tokenizer.json: ' "$C" --from-hf "$T/with_tok" --out "$T/x.h5"
mkdir "$T/no_weights" && cp "$FX/llama3_gqa/config.json" "$T/no_weights/"
check_fails convert_hf_no_checkpoint 1 'no_weights: no model.safetensors or model.safetensors.index.json' \
    "$C" --from-hf "$T/no_weights" --out "$T/x.h5"

# ---- a random untied model with the Llama-2 vocabulary (32000), made here ----
# (its logits are the fixture's job; this proves the layout at full vocab
# size, GQA and head_dim != dim / heads, both ways)
R=$BUILD/tests/tools/random_model
if [ -x "$R" ]; then
    "$R" "dim=64,layers=2,heads=4,kv-heads=2,head-dim=24,hidden=96,seq-len=128,tied=0" 32000 3 "$T/r.h5" "$T/r_tok.bin" >/dev/null
    check convert_hf_random32k_export "$C" --to-hf "$T/rhf" --model "$T/r.h5"
    check convert_hf_random32k_import "$C" --from-hf "$T/rhf" --tokenizer "$T/r_tok.bin" --out "$T/r_back.h5"
    a=$(fp "$T/r.h5") b=$(fp "$T/r_back.h5")
    [ -n "$a" ] && [ "$a" = "$b" ] && ok convert_hf_random32k_bit_exact || fail convert_hf_random32k_bit_exact "$a vs $b"
    grep -q '"head_dim": 24' "$T/rhf/config.json" && grep -q '"tie_word_embeddings": false' "$T/rhf/config.json" &&
        ok convert_hf_random32k_config || fail convert_hf_random32k_config "$(tr -d '\n' <"$T/rhf/config.json")"
    check convert_hf_random32k_export_bf16 "$C" --to-hf "$T/rhf16" --model "$T/r.h5" --dtype bf16
    s32=$(wc -c <"$T/rhf/model.safetensors") s16=$(wc -c <"$T/rhf16/model.safetensors")
    [ $((s16 * 2)) -lt $((s32 + 100000)) ] && [ $((s16 * 2)) -gt $((s32 - 100000)) ] && ok convert_hf_random32k_bf16_half_size ||
        fail convert_hf_random32k_bf16_half_size "$s16 vs $s32 bytes"
else
    skip convert_hf_random32k "tests/tools/random_model is not built (make tests)"
fi

# ---- stories260K through Hugging Face's layout ------------------------------
need_shared convert_hf_stories models/stories260K.bin || exit 0
M=$SHARED/models
check convert_hf_llama2c_import "$C" --from-llama2c "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --out "$T/s.h5"
check convert_hf_export_f32 "$C" --to-hf "$T/hf32" --model "$T/s.h5"
check convert_hf_export_bf16 "$C" --to-hf "$T/hf16" --model "$T/s.h5" --dtype bf16
check convert_hf_import_f32 "$C" --from-hf "$T/hf32" --tokenizer "$M/tok512.bin" --out "$T/h32.h5"
check convert_hf_import_validates "$BIN/pp-inspect" --validate "$T/h32.h5"
# same weights, config and tokenizer: the fingerprint covers all three
a=$(fp "$T/s.h5") b=$(fp "$T/h32.h5")
[ -n "$a" ] && [ "$a" = "$b" ] && ok convert_hf_f32_round_trip_same_model || fail convert_hf_f32_round_trip_same_model "$a vs $b"
# llama2.c -> HF -> llama2.c: the weights bit for bit (a v0 file's RoPE
# tables, which nothing reads, are recomputed: compare the v1 files whole)
check convert_hf_back_to_llama2c "$C" --to-llama2c "$T/back.bin" --model "$T/h32.h5"
wbytes=$(( $(wc -c <"$M/stories260K.bin") - 4 * 512 * 8 ))
cmp -s -n "$wbytes" "$T/back.bin" "$M/stories260K.bin" && ok convert_hf_llama2c_weights_bit_exact ||
    fail convert_hf_llama2c_weights_bit_exact "weights differ"
"$C" --to-llama2c "$T/v1a.bin" --model "$T/s.h5" --llama2c-version 1 >/dev/null 2>&1
"$C" --to-llama2c "$T/v1b.bin" --model "$T/h32.h5" --llama2c-version 1 >/dev/null 2>&1
[ -s "$T/v1a.bin" ] && cmp -s "$T/v1a.bin" "$T/v1b.bin" && ok convert_hf_llama2c_v1_bit_exact || fail convert_hf_llama2c_v1_bit_exact "v1 files differ"
# --max-seq-len caps the context
check convert_hf_max_seq_len "$C" --from-hf "$T/hf32" --tokenizer "$M/tok512.bin" --max-seq-len 128 --out "$T/h128.h5"
[ "$(attr "$T/h128.h5" seq_len)" = 128 ] && ok convert_hf_max_seq_len_kept || fail convert_hf_max_seq_len_kept "seq_len $(attr "$T/h128.h5" seq_len)"

# the independent writer: f32 reads to the same model, bf16 to the same bits
if command -v python3 >/dev/null 2>&1; then
    python3 "$ROOT/tests/tools/llama2c_to_hf.py" "$M/stories260K.bin" "$T/py32" f32
    python3 "$ROOT/tests/tools/llama2c_to_hf.py" "$M/stories260K.bin" "$T/py16" bf16
    check convert_hf_import_python_f32 "$C" --from-hf "$T/py32" --tokenizer "$M/tok512.bin" --out "$T/p32.h5"
    check convert_hf_import_python_bf16 "$C" --from-hf "$T/py16" --tokenizer "$M/tok512.bin" --out "$T/p16.h5"
    check convert_hf_import_ours_bf16 "$C" --from-hf "$T/hf16" --tokenizer "$M/tok512.bin" --out "$T/h16.h5"
    b=$(fp "$T/p32.h5")
    [ "$a" = "$b" ] && ok convert_hf_python_f32_same_model || fail convert_hf_python_f32_same_model "$a vs $b"
    c=$(fp "$T/p16.h5") d=$(fp "$T/h16.h5")
    [ -n "$c" ] && [ "$c" = "$d" ] && [ "$c" != "$a" ] && ok convert_hf_bf16_writers_agree || fail convert_hf_bf16_writers_agree "$c vs $d"
else
    skip convert_hf_python_writer "needs python3"
fi

# greedy generation from the HF import reproduces run.c's 200 tokens
printf 'Once upon a time\n' >"$T/p.txt"
"$BIN/pp-prompts" --out "$T/p.h5" --text "$T/p.txt" >/dev/null 2>&1
check convert_hf_generate pp_mpirun 1 "$BIN/pp-generate" --model "$T/h32.h5" --prompts "$T/p.h5" --out "$T/c.h5" \
    --k 1 --temperature 0 --max-new-tokens 196
greedy_text() { h5dump -A 0 -d /candidate_text "$1" | sed -n '/DATA {/,/^   }/p' | sed '1d;$d' |
    sed '1s/^ *(0): "//; 2,$s/^           //; $s/"$//'; }
text=$(greedy_text "$T/c.h5")
golden=$(cat "$M/stories260K_greedy200.txt")
[ "Once upon a time$text" = "$golden" ] && ok convert_hf_greedy200_golden || fail convert_hf_greedy200_golden "text [$text]"
# the whole HF path: --to-hf wrote tokenizer.json (tok512 as a SentencePiece-style
# BPE), --from-hf reads it with no llama2.c file, and greedy decoding still
# gives run.c's 200 tokens
check convert_hf_import_tokenizer_json "$C" --from-hf "$T/hf32" --out "$T/hj.h5"
check convert_hf_generate_tokenizer_json pp_mpirun 1 "$BIN/pp-generate" --model "$T/hj.h5" --prompts "$T/p.h5" \
    --out "$T/cj.h5" --k 1 --temperature 0 --max-new-tokens 196
text=$(greedy_text "$T/cj.h5")
[ "Once upon a time$text" = "$golden" ] && ok convert_hf_tokenizer_json_greedy200_golden ||
    fail convert_hf_tokenizer_json_greedy200_golden "text [$text]"
# a chat template travels: tokenizer_config.json -> model file (family detected) -> tokenizer_config.json
if command -v python3 >/dev/null 2>&1; then
    cp -R "$T/hf32" "$T/hfchat"
    python3 - "$T/hfchat/tokenizer_config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["chat_template"] = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
json.dump(c, open(p, "w"))
PY
    check convert_hf_chat_import "$C" --from-hf "$T/hfchat" --out "$T/hc.h5"
    fam=$(h5dump -a /chat_family "$T/hc.h5" 2>/dev/null | sed -n 's/.*(0): "\(.*\)".*/\1/p')
    [ "$fam" = chatml ] && ok convert_hf_chat_family_detected || fail convert_hf_chat_family_detected "family [$fam]"
    check convert_hf_chat_export "$C" --to-hf "$T/hfchat2" --model "$T/hc.h5"
    python3 -c "import json,sys; a=json.load(open(sys.argv[1]))['chat_template']; b=json.load(open(sys.argv[2]))['chat_template']; sys.exit(a != b)" \
        "$T/hfchat/tokenizer_config.json" "$T/hfchat2/tokenizer_config.json" && ok convert_hf_chat_template_round_trip ||
        fail convert_hf_chat_template_round_trip "templates differ"
else
    skip convert_hf_chat "needs python3"
fi
