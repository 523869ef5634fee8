#!/bin/sh
# Values from a job file are data for slurm/common.sh, never shell code or
# patterns (issue 17.1, the audit of slurm/ and jobs/): a stage key is
# checked as a name, not a grep pattern, and `modules` is split on blanks
# without pathname expansion.  No Slurm needed.
. "$(dirname "$0")/../lib.sh"
SUBMIT=$ROOT/slurm/submit.sh
[ -x "$BIN/pp-prompts" ] || { skip jobfile "needs bin/pp-prompts (make)"; exit 0; }

# "se.d" is a pattern that matches "seed": it must still be an unknown key
printf '[common]\nworkdir = %s\nbin = %s\n[prompts]\nsuite = builtin\nse.d = 3\n' "$T/w" "$BIN" >"$T/key.conf"
"$SUBMIT" "$T/key.conf" --to prompts --dry-run >"$T/out.txt" 2>"$T/err.txt"
code=$?
if [ $code = 1 ] && grep -q "key.conf:6: \[prompts\]: unknown key 'se.d'" "$T/err.txt"; then ok jobfile_key_is_not_a_pattern
else fail jobfile_key_is_not_a_pattern "exit $code: $(cat "$T/err.txt")"; fi

# modules = * must reach `module load` as '*', not as the files here
mkdir -p "$T/glob" && : >"$T/glob/file_a" && : >"$T/glob/file_b"
printf '[common]\nworkdir = %s\nmodules = hdf5/1.14 *\n[prompts]\nsuite = builtin\n' "$T/w" >"$T/mod.conf"
(cd "$T/glob" && bash -c '. "$1/slurm/common.sh"; out=$2; module() { printf "%s\n" "$@" >"$out"; }
    pp_job_load "$3" && pp_load_modules prompts' sh "$ROOT" "$T/mods.txt" "$T/mod.conf") 2>"$T/err.txt"
if [ "$(tr '\n' ' ' <"$T/mods.txt" 2>/dev/null)" = "load hdf5/1.14 * " ]; then ok jobfile_modules_not_globbed
else fail jobfile_modules_not_globbed "module got: $(tr '\n' ' ' <"$T/mods.txt" 2>&1) $(cat "$T/err.txt")"; fi
