#!/bin/sh
# pp-convert: llama2.c -> HDF5 -> llama2.c gives back the same bytes; the
# imported model generates run.c's golden text; malformed checkpoints are
# one clear line.
. "$(dirname "$0")/../lib.sh"

# --seq-len: a copy with a longer context (a random model made here): the
# same weights, seq_len raised, a new fingerprint; greedy continuations
# that fit the old context are the same; a shorter context is refused.
R=$BUILD/tests/tools/random_model
if [ -x "$R" ]; then
    "$R" "dim=32,layers=2,heads=4,kv-heads=2,hidden=64,seq-len=24,tied=1" 300 5 "$T/ctx.h5" "$T/ctx_tok.bin" >/dev/null
    check convert_seq_len "$BIN/pp-convert" --model "$T/ctx.h5" --seq-len 80 --out "$T/ctx80.h5"
    check convert_seq_len_validates "$BIN/pp-inspect" --validate "$T/ctx80.h5"
    got=$("$BIN/pp-inspect" "$T/ctx80.h5" --get seq_len,training 2>/dev/null | paste -sd' ')
    [ "$got" = "80 extend-context" ] && ok convert_seq_len_attributes || fail convert_seq_len_attributes "seq_len, training: $got"
    tensors() { h5dump -d /tensors/model.layers.1.mlp.down_proj.weight -d /tensors/model.embed_tokens.weight "$1" 2>&1 | sed 1d; }
    fp() { "$BIN/pp-inspect" "$1" --get fingerprint 2>/dev/null; }
    [ "$(tensors "$T/ctx.h5")" = "$(tensors "$T/ctx80.h5")" ] && [ "$(fp "$T/ctx.h5")" != "$(fp "$T/ctx80.h5")" ] &&
        ok convert_seq_len_same_weights_new_fingerprint || fail convert_seq_len_same_weights_new_fingerprint "tensors differ or same fingerprint"
    printf 'ab\ncd e\n' >"$T/ctxp.txt"
    "$BIN/pp-prompts" --text "$T/ctxp.txt" --out "$T/ctxp.h5" >/dev/null 2>&1
    gen() { "$BIN/pp-generate" --model "$1" --prompts "$T/ctxp.h5" --out "$2" --k 1 --temperature 0 --max-new-tokens "$3" >/dev/null 2>&1 &&
        "$BIN/pp-inspect" "$2" --get /candidate_text 2>/dev/null; }
    a=$(gen "$T/ctx.h5" "$T/g24.h5" 12) b=$(gen "$T/ctx80.h5" "$T/g80.h5" 12)
    [ -n "$a" ] && [ "$a" = "$b" ] && ok convert_seq_len_same_continuations || fail convert_seq_len_same_continuations "'$a' vs '$b'"
    long=$(gen "$T/ctx80.h5" "$T/g80l.h5" 60 | head -n 1 | wc -c) short=$(gen "$T/ctx.h5" "$T/g24l.h5" 60 | head -n 1 | wc -c)
    [ "$long" -gt "$short" ] && ok "convert_seq_len_longer_continuations ($short vs $long bytes)" ||
        fail convert_seq_len_longer_continuations "$short vs $long bytes"
    check_fails convert_seq_len_shorter 1 '--seq-len 16 is shorter than the context of .*ctx.h5 \(24\)' \
        "$BIN/pp-convert" --model "$T/ctx.h5" --seq-len 16 --out "$T/x.h5"
    check_fails convert_seq_len_needs_out 1 'seq-len needs --model and --out' "$BIN/pp-convert" --model "$T/ctx.h5" --seq-len 64
    [ ! -e "$T/x.h5" ] && ok convert_seq_len_refused_no_output || fail convert_seq_len_refused_no_output "x.h5 written"
else skip convert_seq_len "$R not built (make)"; fi

need_shared convert_roundtrip models/stories260K.bin || exit 0
M=$SHARED/models
check convert_import "$BIN/pp-convert" --from-llama2c "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --out "$T/s.h5"
check convert_validates "$BIN/pp-inspect" --validate "$T/s.h5"
check convert_export "$BIN/pp-convert" --to-llama2c "$T/back.bin" --model "$T/s.h5"
cmp -s "$T/back.bin" "$M/stories260K.bin" && ok convert_roundtrip_bit_exact || fail convert_roundtrip_bit_exact "weights differ"
cmp -s "$T/back.bin.tok" "$M/tok512.bin" && ok convert_tokenizer_roundtrip || fail convert_tokenizer_roundtrip "tokenizer differs"
check convert_export_v1 "$BIN/pp-convert" --to-llama2c "$T/v1.bin" --model "$T/s.h5" --llama2c-version 1
check convert_import_v1 "$BIN/pp-convert" --from-llama2c "$T/v1.bin" --tokenizer "$M/tok512.bin" --out "$T/s1.h5"
a=$(h5dump -a /fingerprint "$T/s.h5" | sed -n 's/.*(0): "\(.*\)"/\1/p')
b=$(h5dump -a /fingerprint "$T/s1.h5" | sed -n 's/.*(0): "\(.*\)"/\1/p')
[ -n "$a" ] && [ "$a" = "$b" ] && ok convert_v1_same_weights || fail convert_v1_same_weights "$a vs $b"

# greedy from BOS through the model file reproduces run.c's golden text
printf 'Once upon a time\n' >"$T/p.txt"
"$BIN/pp-prompts" --out "$T/p.h5" --text "$T/p.txt" >/dev/null 2>&1
check convert_generate pp_mpirun 1 "$BIN/pp-generate" --model "$T/s.h5" --prompts "$T/p.h5" --out "$T/c.h5" --k 1 --temperature 0 --max-new-tokens 196
h5dump -A 0 -b -o "$T/text.bin" -d /candidate_text "$T/c.h5" >/dev/null 2>&1
gold=$(head -c 200 "$M/stories260K_greedy200.txt" | tail -c +17)
if grep -qF "$(printf '%s' "$gold" | head -c 120)" "$T/text.bin" 2>/dev/null; then ok convert_model_continues_like_runc
else fail convert_model_continues_like_runc "continuation differs from the golden text"; fi

# malformed checkpoints
head -c 1000 "$M/stories260K.bin" >"$T/trunc.bin"
check_fails convert_truncated 1 'trunc.bin' "$BIN/pp-convert" --from-llama2c "$T/trunc.bin" --tokenizer "$M/tok512.bin" --out "$T/x.h5"
printf '\377\377\377\377\0\0\0\0' >"$T/bad.bin"
check_fails convert_bad_header 1 'bad.bin' "$BIN/pp-convert" --from-llama2c "$T/bad.bin" --tokenizer "$M/tok512.bin" --out "$T/x.h5"
cp "$M/stories260K.bin" "$T/nan.bin"
printf '\377\377\377\177' | dd of="$T/nan.bin" bs=1 seek=1000 conv=notrunc 2>/dev/null
check_fails convert_nan_weight 1 'nan.bin.*(not finite|non-finite|NaN)' "$BIN/pp-convert" --from-llama2c "$T/nan.bin" --tokenizer "$M/tok512.bin" --out "$T/x.h5"
check_fails convert_needs_direction 1 'give one of --from-llama2c, --to-llama2c, --from-hf, --to-hf' "$BIN/pp-convert"
check_fails convert_wrong_kind 1 "expected a 'model' file" "$BIN/pp-convert" --to-llama2c "$T/y.bin" --model "$T/p.h5"
[ ! -e "$T/x.h5" ] && [ ! -e "$T/y.bin" ] && ok convert_bad_input_no_output || fail convert_bad_input_no_output "output left"
