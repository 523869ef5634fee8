#!/bin/sh
# pp-convert: llama2.c -> HDF5 -> llama2.c gives back the same bytes; the
# imported model generates run.c's golden text; malformed checkpoints are
# one clear line.
. "$(dirname "$0")/../lib.sh"
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
