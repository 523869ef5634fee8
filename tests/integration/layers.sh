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

# ---- stage programs are short: no function in stages/*.c over 100 lines
# (tools/check-stage-length.sh, run by the build next to check-layers.sh)
LEN="sh $ROOT/tools/check-stage-length.sh"
# fake_main FILE NAME BODY_LINES: a function of BODY_LINES + 2 lines
# (signature, body, closing brace), its signature over two lines
fake_main() {
    { printf '#include <stdio.h>\n\nstatic int helper(void) { return 0; }\n\n'
      printf 'int %s(int argc,\n         char **argv) {\n' "$2"
      i=1; while [ $i -lt "$3" ]; do printf '    printf("%%d\\n", argc + %d); /* { */\n' $i; i=$((i + 1)); done
      printf '}\n'; } >"$1"
}
if $LEN "$ROOT/stages" >"$T/len.out" 2>"$T/len.err"; then ok stage_length_tree_clean
else fail stage_length_tree_clean "$(head -n 2 "$T/len.err" | tr '\n' ' ')"; fi
mkdir -p "$T/st_ok" "$T/st_long" "$T/st_helper"
fake_main "$T/st_ok/pp-a.c" main 98          # 100 lines: allowed
if out=$($LEN "$T/st_ok" 2>&1) && echo "$out" | grep -q 'pp-a.c:5: main(), 100 lines'; then ok stage_length_100_allowed
else fail stage_length_100_allowed "$out"; fi
fake_main "$T/st_long/pp-a.c" main 99        # 101 lines
cp "$T/st_ok/pp-a.c" "$T/st_long/pp-b.c"
check_fails stage_length_long_main 1 'pp-a.c:5: main\(\) is 101 lines \(at most 100' $LEN "$T/st_long"
fake_main "$T/st_helper/pp-c.c" report_all 150
check_fails stage_length_long_helper 1 'pp-c.c:5: report_all\(\) is 152 lines' $LEN "$T/st_helper"
