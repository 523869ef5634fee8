#!/bin/sh
# layers: the layering rule of src/ holds on the tree, and the checker
# (tools/check-layers.sh, run by the build) catches an upward include, an
# include without its folder and a cycle in the folder READMEs.
. "$(dirname "$0")/../lib.sh"
CHK="sh $ROOT/tools/check-layers.sh"

if $CHK "$ROOT/src" >"$T/layers.out" 2>"$T/layers.err"; then ok layers_tree_clean
else fail layers_tree_clean "$(head -n 2 "$T/layers.err" | tr '\n' ' ')"; fi

fresh() { rm -rf "$T/src"; cp -R "$ROOT/src" "$T/src"; }

fresh
printf '#include "eval/eval.h"\n' >>"$T/src/model/infer.c"
check_fails layers_upward_include 1 'model/ may not include eval/eval.h' $CHK "$T/src"

fresh
printf '#include "pp_error.h"\n' >>"$T/src/core/pp_log.c"
check_fails layers_include_without_folder 1 'without its folder' $CHK "$T/src"

fresh
sed 's/^May include: core$/May include: core, report/' "$ROOT/src/io/README.md" >"$T/src/io/README.md"
check_fails layers_cycle 1 'form a cycle' $CHK "$T/src"

fresh
sed '/^May include:/d' "$ROOT/src/judge/README.md" >"$T/src/judge/README.md"
$CHK "$T/src" >/dev/null 2>"$T/err"; code=$?
if [ "$code" = 1 ] && grep -q "judge/README.md: no 'May include:' line" "$T/err"; then ok layers_readme_rule_missing
else fail layers_readme_rule_missing "exit $code: $(head -n 1 "$T/err")"; fi
