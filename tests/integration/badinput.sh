#!/bin/sh
# The bad-input matrix of issue 11: every case on every stage it applies
# to must give one stderr line naming what is wrong, exit status 1, leave
# nothing under the final output name, and damage no existing file.
#
# Damaged HDF5 files are made from good ones by a small HDF5 editor
# (tests/tools/h5edit.c): remove a dataset, drop the last row of one, set an
# attribute, overwrite one element with NaN/Inf or an out-of-vocabulary id.  "Not writable" and "disk full" need mounts: a
# read-only tmpfs and tmpfs of 48 KB and 1.3 MB (we run as root, for whom
# chmod does not stop writes); without mount permission those cases skip.
. "$(dirname "$0")/../lib.sh"
TOOLS=$BUILD/tests/tools
trap 'umount "$T/ro" "$T/full" "$T/half" 2>/dev/null; rm -rf "$T"' EXIT
IN=$T/in
X=$T/out/x.h5 # every case writes here; it must never appear
mkdir -p "$IN" "$T/out"

# the HDF5 editor (tests/tools/h5edit.c)
E=$TOOLS/h5edit
[ -x "$E" ] || { fail badinput_setup "$E is not built (make tests)"; exit 0; }

# ---- good inputs, then damaged copies
ARCH="--arch dim=16,layers=1,heads=2,kv-heads=1,hidden=32,seq-len=32"
setup() {
    "$BIN/pp-prompts" --out "$IN/p.h5" --suite builtin --split train --n 30 --seed 3 &&
        "$BIN/pp-sft" --out "$IN/m.h5" --data "$IN/p.h5" $ARCH --steps 6 --batch 4 &&
        "$BIN/pp-generate" --model "$IN/m.h5" --prompts "$IN/p.h5" --out "$IN/c.h5" --k 2 --max-new-tokens 6 &&
        "$BIN/pp-rank" --candidates "$IN/c.h5" --out "$IN/r.h5" --judge oracle || return 1
    # prompts longer than a 32-token context, and pairs made from them by a
    # model with a 512-token context
    awk 'BEGIN { s = ""; for (i = 0; i < 20; i++) s = s "zebra quilt "; print s; print "short one" }' >"$IN/long.txt"
    "$BIN/pp-prompts" --text "$IN/long.txt" --out "$IN/long.h5" &&
        "$BIN/pp-sft" --out "$IN/m512.h5" --data "$IN/p.h5" --arch dim=16,layers=1,heads=2,kv-heads=1,hidden=32,seq-len=512 \
            --steps 2 --batch 4 &&
        "$BIN/pp-generate" --model "$IN/m512.h5" --prompts "$IN/long.h5" --out "$IN/lc.h5" --k 2 --max-new-tokens 4 &&
        "$BIN/pp-rank" --candidates "$IN/lc.h5" --out "$IN/lr.h5" --judge cmd --judge-cmd "$TOOLS/judge_good" || return 1
    # an empty prompt set (pp-prompts refuses to write one)
    "$BIN/pp-prompts" --out "$IN/p0.h5" --suite builtin --split test --n 1 &&
        for d in id text family reference; do "$E" "$IN/p0.h5" shorten /$d || return 1; done &&
        "$E" "$IN/p0.h5" attr n_prompts 0 || return 1
    for k in p m c r; do
        f=$IN/$k.h5
        n=$(wc -c <"$f")
        head -c $((n / 2)) "$f" >"$IN/${k}_trunc.h5"
        cp "$f" "$IN/${k}_v99.h5" && "$E" "$IN/${k}_v99.h5" attr schema_version 99 || return 1
        cp "$f" "$IN/${k}_v19.h5" && "$E" "$IN/${k}_v19.h5" fattr schema_version 1.9 || return 1
    done
    # split names pp-eval cannot use: '.' (from the file name) and 'x,y'
    cp "$IN/p.h5" "$IN/..h5" && "$E" "$IN/..h5" sattr split "" &&
        cp "$IN/p.h5" "$IN/p_xy.h5" && "$E" "$IN/p_xy.h5" sattr split "x,y" || return 1
    : >"$IN/zero.h5"
    printf 'not an HDF5 file\n' >"$IN/notes.txt"
    edit() { cp "$IN/$1" "$IN/$2" && shift 2 && "$E" "$@"; }
    edit p.h5 p_notext.h5 "$IN/p_notext.h5" delete /text &&
        edit c.h5 c_nologp.h5 "$IN/c_nologp.h5" delete /candidate_logp &&
        edit r.h5 r_nochosen.h5 "$IN/r_nochosen.h5" delete /chosen_tokens &&
        edit m.h5 m_nonorm.h5 "$IN/m_nonorm.h5" delete /tensors/model.norm.weight &&
        edit p.h5 p_short.h5 "$IN/p_short.h5" shorten /id &&
        edit c.h5 c_short.h5 "$IN/c_short.h5" shorten /candidate_token_offsets &&
        edit r.h5 r_short.h5 "$IN/r_short.h5" shorten /chosen &&
        edit m.h5 m_short.h5 "$IN/m_short.h5" shorten /tensors/model.norm.weight &&
        edit m.h5 m_nan.h5 "$IN/m_nan.h5" poke /tensors/model.norm.weight 3 nan &&
        edit m.h5 m_inf.h5 "$IN/m_inf.h5" poke /tensors/model.layers.0.mlp.up_proj.weight 7 -inf &&
        edit r.h5 r_tok.h5 "$IN/r_tok.h5" poke /chosen_tokens 2 5000 &&
        edit c.h5 c_tok.h5 "$IN/c_tok.h5" poke /candidate_tokens 1 5000 || return 1
    # model config: not finite, not sane, or edited under the old fingerprint
    # (4 heads / 2 KV heads have the same tensor shapes as 2 / 1 when the
    # head size is edited with them: dim 16 / 4 heads = 4)
    edit m.h5 m_theta_inf.h5 "$IN/m_theta_inf.h5" attrf rope_theta inf &&
        edit m.h5 m_seq_huge.h5 "$IN/m_seq_huge.h5" attr seq_len 1048576 &&
        edit m.h5 m_eps_nan.h5 "$IN/m_eps_nan.h5" attrf norm_eps nan &&
        edit m.h5 m_heads.h5 "$IN/m_heads.h5" attr n_heads 4 && "$E" "$IN/m_heads.h5" attr n_kv_heads 2 &&
        "$E" "$IN/m_heads.h5" attr head_dim 4 &&
        edit m.h5 m_theta.h5 "$IN/m_theta.h5" attrf rope_theta 20000 || return 1
    # sizes from attributes backed by datasets of that shape with nothing
    # stored (chunks never written): a few KB claiming 2^33 or 2^27 rows
    for big in 8589934592 134217728; do
        f=$IN/c_big$big.h5
        cp "$IN/c.h5" "$f" && "$E" "$f" attr n_prompts $big && "$E" "$f" attr n_candidates $((big * 2)) &&
            "$E" "$f" hollow /prompt_id $big && "$E" "$f" hollow /prompt_token_offsets $((big + 1)) || return 1
        for d in candidate_logp candidate_length finish_reason; do "$E" "$f" hollow /$d $((big * 2)) || return 1; done
    done
    edit r.h5 r_big.h5 "$IN/r_big.h5" attr n_prompts 134217728 && "$E" "$IN/r_big.h5" hollow /prompt_id 134217728 &&
        edit p.h5 p_big.h5 "$IN/p_big.h5" attr n_prompts 134217728 && "$E" "$IN/p_big.h5" hollow /id 134217728 &&
        "$E" "$IN/p_big.h5" hollow /text 134217728 || return 1
    printf '\n   \n\n' >"$IN/empty.txt"
    printf 'good line\nbad \377\376 line\n' >"$IN/bad8.txt"
    printf '{"prompt":"fine"}\n{"prompt":"bad \377"}\n' >"$IN/bad8.jsonl"
    printf -- '- fine\n- "bad \377"\n' >"$IN/bad8.yaml"
    printf '{"prompt":"a"}\n{"question":"b"}\n' >"$IN/nofield.jsonl"
    printf 'steps = 3\nbogus = 1\n' >"$IN/unknown.conf"
    printf 'steps = many\n' >"$IN/badvalue.conf"
    printf 'k = 0\n' >"$IN/k0.conf"
    printf 'steps = 3\nlr = 1e-3\nsteps = 4\n' >"$IN/twice.conf"
    printf 'lr = 1e-3\n' >"$IN/good.conf"
}
if ! setup >"$T/setup.log" 2>&1; then
    fail badinput_setup "$(tail -n 3 "$T/setup.log" | tr '\n' ' ')"
    exit 0
fi
(cd "$IN" && md5sum ./*) >"$T/sums"

# bad NAME PATTERN CMD...: CMD exits 1 with one stderr line matching
# PATTERN and leaves nothing under $X (leftover resume state is removed)
bad() {
    bname=$1 bpat=$2
    shift 2
    line=$(check_fails "$bname" "${BAD_CODE:-1}" "$bpat" "$@")
    if [ -e "$X" ]; then fail "$bname" "$X exists after the failed run"
    else echo "$line"; fi
    rm -rf "$X" "$X".*
}
G=$BIN/pp-generate
S=$BIN/pp-sft
R=$BIN/pp-rank
TR=$BIN/pp-train
EV=$BIN/pp-eval
RM=$BIN/pp-rm
PR=$BIN/pp-prompts
m=$IN/m.h5 p=$IN/p.h5 c=$IN/c.h5 r=$IN/r.h5

# missing file
bad missing_sft 'nope\.h5: No such file' $S --data "$IN/nope.h5" $ARCH --out "$X"
bad missing_generate 'nope\.h5: No such file' $G --model "$IN/nope.h5" --prompts "$p" --out "$X" --k 2
bad missing_rank 'nope\.h5: No such file' $R --candidates "$IN/nope.h5" --out "$X"
bad missing_train 'nope\.h5: No such file' $TR --policy "$m" --pairs "$IN/nope.h5" --out "$X"
bad missing_eval 'nope\.h5: No such file' $EV --policy "$m" --baseline "$IN/nope.h5" --prompts "$p" --out "$X"
bad missing_rm 'nope\.h5: No such file' $RM --pairs "$r" --model "$IN/nope.h5" --out "$X"
bad missing_prompts 'nope\.txt: No such file' $PR --text "$IN/nope.txt" --out "$X"
# file of the wrong kind (another prefpipe kind; not HDF5 at all)
bad wrongkind_sft "m\.h5: is a 'model' file, expected a 'prompts' file" $S --data "$m" $ARCH --out "$X"
bad wrongkind_generate "c\.h5: is a 'candidates' file, expected a 'prompts' file" $G --model "$m" --prompts "$c" --out "$X" --k 2
bad wrongkind_rank "p\.h5: is a 'prompts' file, expected a 'candidates' file" $R --candidates "$p" --out "$X"
bad wrongkind_train "r\.h5: is a 'pairs' file, expected a 'model' file" $TR --policy "$r" --pairs "$r" --out "$X"
bad wrongkind_eval "m\.h5: is a 'model' file, expected a 'prompts' file" $EV --policy "$m" --baseline "$m" --prompts "$m" --out "$X"
bad wrongkind_rm "c\.h5: is a 'candidates' file, expected a 'pairs' file" $RM --pairs "$c" --model "$m" --out "$X"
bad notanhdf5_generate 'notes\.txt: not an HDF5 file' $G --model "$IN/notes.txt" --prompts "$p" --out "$X" --k 2
bad notanhdf5_train 'notes\.txt: not an HDF5 file' $TR --policy "$m" --pairs "$IN/notes.txt" --out "$X"
# truncated HDF5
bad truncated_sft 'p_trunc\.h5: (not an HDF5 file|cannot open)' $S --data "$IN/p_trunc.h5" $ARCH --out "$X"
bad truncated_generate 'm_trunc\.h5: (not an HDF5 file|cannot open)' $G --model "$IN/m_trunc.h5" --prompts "$p" --out "$X" --k 2
bad truncated_rank 'c_trunc\.h5: (not an HDF5 file|cannot open)' $R --candidates "$IN/c_trunc.h5" --out "$X"
bad truncated_train 'r_trunc\.h5: (not an HDF5 file|cannot open)' $TR --policy "$m" --pairs "$IN/r_trunc.h5" --out "$X"
bad truncated_eval 'm_trunc\.h5: (not an HDF5 file|cannot open)' $EV --policy "$IN/m_trunc.h5" --baseline "$m" --prompts "$p" --out "$X"
bad truncated_rm 'r_trunc\.h5: (not an HDF5 file|cannot open)' $RM --pairs "$IN/r_trunc.h5" --model "$m" --out "$X"
# zero-byte HDF5
for st in sft generate rank train eval rm; do
    case $st in
    sft) set -- $S --data "$IN/zero.h5" $ARCH --out "$X" ;;
    generate) set -- $G --model "$m" --prompts "$IN/zero.h5" --out "$X" --k 2 ;;
    rank) set -- $R --candidates "$IN/zero.h5" --out "$X" ;;
    train) set -- $TR --policy "$IN/zero.h5" --pairs "$r" --out "$X" ;;
    eval) set -- $EV --policy "$m" --baseline "$m" --prompts "$IN/zero.h5" --out "$X" ;;
    rm) set -- $RM --pairs "$r" --model "$IN/zero.h5" --out "$X" ;;
    esac
    bad "zerobyte_$st" 'zero\.h5: empty file \(0 bytes\)' "$@"
done
# a required dataset missing
bad nodataset_sft 'p_notext\.h5: dataset /text is missing' $S --data "$IN/p_notext.h5" $ARCH --out "$X"
bad nodataset_generate 'm_nonorm\.h5: dataset /tensors/model\.norm\.weight is missing' $G --model "$IN/m_nonorm.h5" --prompts "$p" --out "$X" --k 2
bad nodataset_rank 'c_nologp\.h5: dataset /candidate_logp is missing' $R --candidates "$IN/c_nologp.h5" --out "$X"
bad nodataset_train 'r_nochosen\.h5: dataset /chosen_tokens is missing' $TR --policy "$m" --pairs "$IN/r_nochosen.h5" --out "$X"
bad nodataset_eval 'm_nonorm\.h5: dataset /tensors/model\.norm\.weight is missing' $EV --policy "$IN/m_nonorm.h5" --baseline "$m" --prompts "$p" --out "$X"
bad nodataset_rm 'r_nochosen\.h5: dataset /chosen_tokens is missing' $RM --pairs "$IN/r_nochosen.h5" --model "$m" --out "$X"
# mismatched shapes between datasets
bad shape_sft 'p_short\.h5: dataset /id dimension 0 is 29, expected 30' $S --data "$IN/p_short.h5" $ARCH --out "$X"
bad shape_generate 'm_short\.h5: .*model\.norm\.weight' $G --model "$IN/m_short.h5" --prompts "$p" --out "$X" --k 2
bad shape_rank 'c_short\.h5: dataset /candidate_token_offsets dimension 0 is [0-9]+, expected [0-9]+' $R --candidates "$IN/c_short.h5" --out "$X"
bad shape_train 'r_short\.h5: dataset /chosen dimension 0 is [0-9]+, expected [0-9]+' $TR --policy "$m" --pairs "$IN/r_short.h5" --out "$X"
bad shape_eval 'p_short\.h5: dataset /id dimension 0 is 29, expected 30' $EV --policy "$m" --baseline "$m" --prompts "$IN/p_short.h5" --out "$X"
bad shape_rm 'r_short\.h5: dataset /chosen dimension 0 is [0-9]+, expected [0-9]+' $RM --pairs "$IN/r_short.h5" --model "$m" --out "$X"
# schema version newer than the program
bad newer_sft 'p_v99\.h5: prompts schema version 99 is not supported by this program' $S --data "$IN/p_v99.h5" $ARCH --out "$X"
bad newer_generate 'm_v99\.h5: model schema version 99 is not supported' $G --model "$IN/m_v99.h5" --prompts "$p" --out "$X" --k 2
bad newer_rank 'c_v99\.h5: candidates schema version 99 is not supported' $R --candidates "$IN/c_v99.h5" --out "$X"
bad newer_train 'r_v99\.h5: pairs schema version 99 is not supported' $TR --policy "$m" --pairs "$IN/r_v99.h5" --out "$X"
bad newer_eval 'p_v99\.h5: prompts schema version 99 is not supported' $EV --policy "$m" --baseline "$m" --prompts "$IN/p_v99.h5" --out "$X"
bad newer_rm 'r_v99\.h5: pairs schema version 99 is not supported' $RM --pairs "$IN/r_v99.h5" --model "$m" --out "$X"
# a float schema version is not read as its integer part
bad floatversion_sft 'p_v19\.h5: schema_version 1\.9 is not an integer' $S --data "$IN/p_v19.h5" $ARCH --out "$X"
bad floatversion_generate 'm_v19\.h5: schema_version 1\.9 is not an integer' $G --model "$IN/m_v19.h5" --prompts "$p" --out "$X" --k 2
bad floatversion_rank 'c_v19\.h5: schema_version 1\.9 is not an integer' $R --candidates "$IN/c_v19.h5" --out "$X"
bad floatversion_train 'r_v19\.h5: schema_version 1\.9 is not an integer' $TR --policy "$m" --pairs "$IN/r_v19.h5" --out "$X"
bad floatversion_validate 'p_v19\.h5: schema_version 1\.9 is not an integer' "$BIN/pp-inspect" --validate "$IN/p_v19.h5"
# pp-eval split names it cannot use, refused before any work
bad splitname_dot_eval "\.\.h5: split name '\.' \(from its file name\) is not usable" $EV --policy "$m" --baseline "$m" --prompts "$IN/..h5" --out "$X"
bad splitname_comma_eval "p_xy\.h5: split name 'x,y' \(from its split attribute\) is not usable" $EV --policy "$m" --baseline "$m" --prompts "$IN/p_xy.h5" --out "$X"
bad splitname_twice_eval "p\.h5: split name 'train' given twice" $EV --policy "$m" --baseline "$m" --prompts "$p,$p" --out "$X"
# NaN/Inf weights in a model file
bad nan_sft_init 'm_nan\.h5: tensor model\.norm\.weight has a non-finite value at element 3' $S --init "$IN/m_nan.h5" --data "$p" --out "$X"
bad nan_generate 'm_nan\.h5: tensor model\.norm\.weight has a non-finite value' $G --model "$IN/m_nan.h5" --prompts "$p" --out "$X" --k 2
bad inf_train 'm_inf\.h5: tensor model\.layers\.0\.mlp\.up_proj\.weight has a non-finite value at element 7' $TR --policy "$IN/m_inf.h5" --pairs "$r" --out "$X"
bad nan_eval 'm_nan\.h5: tensor model\.norm\.weight has a non-finite value' $EV --policy "$m" --baseline "$IN/m_nan.h5" --prompts "$p" --out "$X"
bad inf_rm 'm_inf\.h5: tensor .* has a non-finite value' $RM --pairs "$r" --model "$IN/m_inf.h5" --out "$X"
# model config values not finite or not sane; a config edited under the
# stored fingerprint (which covers config and tokenizer, issue 17.2)
bad config_theta_inf_generate 'm_theta_inf\.h5: rope_theta inf out of range' $G --model "$IN/m_theta_inf.h5" --prompts "$p" --out "$X" --k 2
bad config_seq_huge_train 'm_seq_huge\.h5: seq_len 1048576 out of range' $TR --policy "$IN/m_seq_huge.h5" --pairs "$r" --out "$X"
bad config_eps_nan_eval 'm_eps_nan\.h5: norm_eps nan out of range' $EV --policy "$m" --baseline "$IN/m_eps_nan.h5" --prompts "$p" --out "$X"
bad fingerprint_heads_generate 'm_heads\.h5: weights, config or tokenizer do not match the stored fingerprint' \
    $G --model "$IN/m_heads.h5" --prompts "$p" --out "$X" --k 2
bad fingerprint_theta_train_ref 'm_theta\.h5: weights, config or tokenizer do not match the stored fingerprint' \
    $TR --policy "$m" --ref "$IN/m_theta.h5" --pairs "$r" --out "$X"
# counts from attributes checked against what is stored before any
# allocation (issue 17.5): no "out of memory", no GB resident
for big in 8589934592 134217728; do
    bad "hollow_candidates_rank_$big" "c_big$big\\.h5: dataset /prompt_id declares $big elements \\([0-9]+ bytes\\) but stores 0 bytes" \
        $R --candidates "$IN/c_big$big.h5" --out "$X"
done
bad hollow_pairs_train 'r_big\.h5: dataset /prompt_id declares 134217728 elements .* but stores 0 bytes' \
    $TR --policy "$m" --pairs "$IN/r_big.h5" --out "$X"
bad hollow_prompts_generate 'p_big\.h5: dataset /id declares 134217728 elements .* but stores 0 bytes' \
    $G --model "$m" --prompts "$IN/p_big.h5" --out "$X" --k 2
# token ids past the vocabulary
bad vocab_train 'r_tok\.h5: dataset /chosen_tokens element 2 = 5000 is outside \[0, 259\)' $TR --policy "$m" --pairs "$IN/r_tok.h5" --out "$X"
bad vocab_rm 'r_tok\.h5: dataset /chosen_tokens element 2 = 5000 is outside \[0, 259\)' $RM --pairs "$IN/r_tok.h5" --model "$m" --out "$X"
bad vocab_rank 'c_tok\.h5: dataset /candidate_tokens: token 1 = 5000 is outside the vocabulary \(size 259\)' $R --candidates "$IN/c_tok.h5" --out "$X"
# a prompt longer than the context
bad longprompt_generate 'long\.h5: prompt id 0 is [0-9]+ tokens long .*seq_len 32' $G --model "$m" --prompts "$IN/long.h5" --out "$X" --k 2
bad longprompt_sft 'prompt id 0: demonstration of [0-9]+ tokens is longer than the context \(32\)' $S --data "$IN/long.h5" $ARCH --out "$X"
bad longprompt_train 'pair 0: its prompt \([0-9]+ tokens\) leaves no room for the response in 32' $TR --policy "$m" --pairs "$IN/lr.h5" --out "$X"
bad longprompt_eval 'long\.h5: prompt id 0 \([0-9]+ tokens\) does not fit the context of 32' $EV --policy "$m" --baseline "$m" --prompts "$IN/long.h5" \
    --out "$X" --judge cmd --judge-cmd "$TOOLS/judge_good"
# empty prompt set
bad empty_prompts 'empty\.txt: no prompts found' $PR --text "$IN/empty.txt" --out "$X"
bad empty_generate 'p0\.h5: no prompts' $G --model "$m" --prompts "$IN/p0.h5" --out "$X" --k 2
bad empty_eval 'p0\.h5: no prompts' $EV --policy "$m" --baseline "$m" --prompts "$IN/p0.h5" --out "$X"
bad empty_sft 'p0\.h5: no prompts' $S --data "$IN/p0.h5" $ARCH --out "$X"
# invalid UTF-8, a JSONL line without the field
bad utf8_text 'bad8\.txt:2: line is not valid UTF-8' $PR --text "$IN/bad8.txt" --out "$X"
bad utf8_jsonl 'bad8\.jsonl:2: .*UTF-8' $PR --jsonl "$IN/bad8.jsonl" --out "$X"
bad utf8_yaml 'bad8\.yaml:2: not valid UTF-8' $PR --yaml "$IN/bad8.yaml" --out "$X"
bad jsonl_no_field "nofield\.jsonl:2: no field 'prompt'" $PR --jsonl "$IN/nofield.jsonl" --out "$X"
# config: an unknown key, a bad value
bad config_unknown_sft "unknown\.conf:2: unknown key 'bogus'" $S --config "$IN/unknown.conf" --data "$p" $ARCH --out "$X"
bad config_unknown_eval "unknown\.conf:1: unknown key 'steps'" $EV --config "$IN/unknown.conf" --policy "$m" --baseline "$m" --prompts "$p" --out "$X"
bad config_badvalue_train "badvalue\.conf:1: --steps wants an integer, not 'many'" $TR --config "$IN/badvalue.conf" --policy "$m" --pairs "$r" --out "$X"
bad config_k0_generate '--k 0: must be at least 1' $G --config "$IN/k0.conf" --model "$m" --prompts "$p" --out "$X"
# config: a key twice in one file, a directory, the first of two files is read too
bad config_key_twice_train "twice\.conf:3: 'steps' given twice \(first on line 1\)" $TR --config "$IN/twice.conf" --policy "$m" --pairs "$r" --out "$X"
bad config_directory_sft "$IN: is a directory, not a config file" $S --config "$IN" --data "$p" $ARCH --out "$X"
bad config_first_of_two_read_sft "unknown\.conf:2: unknown key 'bogus'" $S --config "$IN/unknown.conf" --config "$IN/good.conf" --data "$p" $ARCH --out "$X"
# K or batch <= 0
bad k0_generate '--k 0: must be at least 1' $G --model "$m" --prompts "$p" --out "$X" --k 0
bad kneg_generate '--k -3: must be at least 1' $G --model "$m" --prompts "$p" --out "$X" --k -3
bad batch0_sft '--batch 0 is outside \[1,' $S --data "$p" $ARCH --out "$X" --batch 0
bad batchneg_train '--batch -4 is outside \[1,' $TR --policy "$m" --pairs "$r" --out "$X" --batch -4
bad microbatch0_train '--micro-batch 0 is outside \[1,' $TR --policy "$m" --pairs "$r" --out "$X" --micro-batch 0
bad chunk0_eval '--chunk-prompts 0 is outside \[1,' $EV --policy "$m" --baseline "$m" --prompts "$p" --out "$X" --chunk-prompts 0
bad batchtokens_rm '--batch-tokens -1 is outside \[0,' $RM --pairs "$r" --model "$m" --out "$X" --batch-tokens -1
# the same output path given as input
bad sameout_sft 'p\.h5: the output file is also the data input' $S --data "$p" $ARCH --out "$p"
bad sameout_generate 'm\.h5: the output file is also the model input' $G --model "$m" --prompts "$p" --out "$m" --k 2
bad sameout_rank 'c\.h5: the output file is also the candidates input' $R --candidates "$c" --out "$c"
bad sameout_train 'r\.h5: the output file is also the pairs input' $TR --policy "$m" --pairs "$r" --out "$r"
bad sameout_eval 'm\.h5: the output file is also the (policy|baseline) input' $EV --policy "$m" --baseline "$m" --prompts "$p" --out "$m"
bad sameout_rm 'r\.h5: the output file is also the pairs input' $RM --pairs "$r" --model "$m" --out "$r"
# output directory missing or not a directory
bad outdir_missing_rank "output directory $T/out/none does not exist" $R --candidates "$c" --out "$T/out/none/x.h5"
bad outdir_is_file_train "notes\.txt is not a directory" $TR --policy "$m" --pairs "$r" --out "$IN/notes.txt/x.h5"

# output directory not writable: a read-only tmpfs (root ignores modes)
mkdir "$T/ro"
if mount -t tmpfs -o ro,size=64k tmpfs "$T/ro" 2>/dev/null; then
    for st in sft generate rank train eval rm; do
        case $st in
        sft) set -- $S --data "$p" $ARCH --out "$T/ro/x.h5" ;;
        generate) set -- $G --model "$m" --prompts "$p" --out "$T/ro/x.h5" --k 2 ;;
        rank) set -- $R --candidates "$c" --out "$T/ro/x.h5" ;;
        train) set -- $TR --policy "$m" --pairs "$r" --out "$T/ro/x.h5" ;;
        eval) set -- $EV --policy "$m" --baseline "$m" --prompts "$p" --out "$T/ro/x.h5" ;;
        rm) set -- $RM --pairs "$r" --model "$m" --out "$T/ro/x.h5" ;;
        esac
        bad "readonly_dir_$st" "output directory .*/ro is not writable" "$@"
    done
    umount "$T/ro"
else skip readonly_dir "cannot mount a read-only tmpfs here (needs root); chmod does not stop root"; fi

# disk full: a 48 KB tmpfs (no room for any file) and a 1.3 MB one (room
# for small files, not for the model of pp-sft or the texts of pp-eval);
# an older output in the way is left as it was
mkdir "$T/full" "$T/half"
if mount -t tmpfs -o size=48k tmpfs "$T/full" 2>/dev/null && mount -t tmpfs -o size=1300k tmpfs "$T/half" 2>/dev/null; then
    printf 'an older output\n' >"$T/full/x.h5"
    for st in prompts sft generate rank train eval rm; do
        case $st in
        prompts) set -- $PR --suite builtin --split train --n 50 --out "$T/full/x.h5" ;;
        sft) set -- $S --data "$p" $ARCH --out "$T/full/x.h5" ;;
        generate) set -- $G --model "$m" --prompts "$p" --out "$T/full/x.h5" --k 2 ;;
        rank) set -- $R --candidates "$c" --out "$T/full/x.h5" --judge oracle ;;
        train) set -- $TR --policy "$m" --pairs "$r" --out "$T/full/x.h5" ;;
        eval) set -- $EV --policy "$m" --baseline "$m" --prompts "$p" --out "$T/full/x.h5" ;;
        rm) set -- $RM --pairs "$r" --model "$m" --out "$T/full/x.h5" ;;
        esac
        check_fails "diskfull_$st" 1 'full/x\.h5.*: disk full: [0-9.]+ MB free' "$@"
        [ "$(cat "$T/full/x.h5")" = "an older output" ] || fail "diskfull_${st}_keeps_older_output" "$T/full/x.h5 was changed"
        rm -rf "$T/full/x.h5".*
    done
    check_fails diskfull_midrun_sft 1 'half/x\.h5: disk full: [0-9.]+ MB free, /tensors/.* needs' \
        $S --data "$p" --arch dim=128,layers=2,heads=4,kv-heads=4,hidden=256,seq-len=32 --steps 2 --out "$T/half/x.h5"
    [ ! -e "$T/half/x.h5" ] && [ ! -e "$T/half/x.h5.tmp" ] && ok diskfull_midrun_no_output ||
        fail diskfull_midrun_no_output "$(ls "$T/half")"
    umount "$T/full" "$T/half"
else skip disk_full "cannot mount a small tmpfs here (needs root)"; fi

# nothing existing was damaged, nothing left under the output name
(cd "$IN" && md5sum -c --quiet "$T/sums") >"$T/sums.log" 2>&1 && ok inputs_unchanged ||
    fail inputs_unchanged "$(head -n 3 "$T/sums.log" | tr '\n' ' ')"
[ -z "$(ls -A "$T/out")" ] && ok no_output_left || fail no_output_left "$(ls -A "$T/out")"
