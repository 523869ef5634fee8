#!/bin/sh
# jobs/stories260k.conf: the whole chain on the real stories260K model runs
# to the end with jobs/run-local.sh from a fresh copy of the project that
# sits beside a `shared` directory (${shared} = ../shared, no PP_SHARED),
# and without the model it says where to download it.
. "$(dirname "$0")/../lib.sh"
need_shared stories260k_chain models/stories260K.bin || exit 0
need_shared stories260k_chain models/tok512.bin || exit 0
need_shared stories260k_chain data/tinystories_evaluation_prompts.yaml || exit 0
command -v python3 >/dev/null 2>&1 || { skip stories260k_chain "needs python3 (the example judge)"; exit 0; }

# a clean copy: what a clone holds (job files, scripts, the example judge),
# the programs of this build, and ../shared beside it
P=$T/clone/prefpipe
mkdir -p "$P"
cp -R "$ROOT/jobs" "$ROOT/slurm" "$ROOT/examples" "$P/"
ln -s "$BIN" "$P/bin"
ln -s "$(cd "$SHARED" && pwd)" "$T/clone/shared"
(cd "$P" && env -u PP_SHARED bash jobs/run-local.sh jobs/stories260k.conf) >"$T/run.log" 2>&1
code=$?
W=$P/out/stories260k
[ $code = 0 ] && grep -q 'pipeline done' "$T/run.log" && ok stories260k_chain_runs_to_the_end ||
    fail stories260k_chain_runs_to_the_end "exit $code: $(tail -n 3 "$T/run.log" | tr '\n' ' ')"
for f in prompts_train base candidates pairs policy eval; do
    "$BIN/pp-inspect" --validate "$W/$f.h5" >/dev/null 2>&1 && ok "stories260k_${f}_valid" || fail "stories260k_${f}_valid" "$W/$f.h5"
done
grep -q "from-llama2c = $T/clone/shared/models/stories260K.bin" "$W/config/convert.conf" &&
    ok stories260k_shared_is_beside_the_project || fail stories260k_shared_is_beside_the_project "$(grep from-llama2c "$W/config/convert.conf")"
n=$(h5dump -a /n_pairs "$W/pairs.h5" 2>/dev/null | sed -n 's/.*(0): \([0-9]*\).*/\1/p')
[ "${n:-0}" -gt 0 ] && ok "stories260k_pairs_from_the_external_judge ($n)" || fail stories260k_pairs_from_the_external_judge "n_pairs '$n'"
if command -v gnuplot >/dev/null 2>&1; then
    [ -s "$W/eval.png" ] && [ -s "$W/training.png" ] && ok stories260k_plots || fail stories260k_plots "no PNGs in $W"
fi

# no model: refused before any stage runs, naming the file and the download
mkdir -p "$T/empty"
(cd "$P" && PP_SHARED=$T/empty bash jobs/run-local.sh jobs/stories260k.conf --force) >"$T/out.txt" 2>"$T/err.txt"
code=$?
if [ $code = 1 ] && grep -q "$T/empty/models/stories260K.bin: no such file" "$T/err.txt" &&
    grep -q 'https://huggingface.co/karpathy/tinyllamas/tree/main/stories260K' "$T/err.txt" && ! grep -q 'prompts: mpirun' "$T/err.txt"; then
    ok stories260k_missing_model_says_where_to_download
else fail stories260k_missing_model_says_where_to_download "exit $code: $(cat "$T/err.txt")"; fi
