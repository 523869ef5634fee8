#!/bin/sh
# check-stage-length.sh STAGES_DIR [MAX] - a stage program is parse, one
# library call, report (docs/architecture.md): no function in
# STAGES_DIR/*.c may be longer than MAX lines (default 100), counted from
# the first line of its signature to its closing brace.  Library logic that
# grows a main belongs in src/.  Fails (exit 1, one line per offence);
# prints the longest function when all is well.
#
# Functions are found the way this code base writes them: the signature
# starts in column 0 (a return type, then NAME(...)), the body's closing
# brace is a "}" in column 0.
set -u
DIR=${1:-stages}
MAX=${2:-100}
status=0
for f in "$DIR"/*.c; do
    [ -f "$f" ] || continue
    awk -v max="$MAX" -v file="$f" '
        function report(len) {
            if (len > max) { printf "check-stage-length: %s:%d: %s() is %d lines (at most %d: move the work into the library)\n", file, start, name, len, max > "/dev/stderr"; bad = 1 }
            if (len > best) { best = len; best_name = file ":" start ": " name "()" }
        }
        !pending && !infunc && /^[A-Za-z_]/ && /\(/ && !/;[[:space:]]*$/ {
            head = $0; sub(/\(.*/, "", head)
            if (head !~ /=/ && match(head, /[A-Za-z_][A-Za-z0-9_]*[[:space:]]*$/)) {
                name = substr(head, RSTART, RLENGTH); sub(/[[:space:]]+$/, "", name)
                start = NR; pending = 1
            }
        }
        pending && /;[[:space:]]*$/ && !/\{/ { pending = 0 }       # a prototype after all
        pending && /\{.*\}[[:space:]]*$/ { pending = 0; report(NR - start + 1); next } # body on one line
        pending && /\{[[:space:]]*$/ { pending = 0; infunc = 1; next }
        infunc && /^\}/ { infunc = 0; report(NR - start + 1) }
        END { if (best) printf "%d %s\n", best, best_name; exit bad }
    ' "$f" >>"${TMPDIR:-/tmp}/check-stage-length.$$" || status=1
done
if [ "$status" = 0 ] && [ -s "${TMPDIR:-/tmp}/check-stage-length.$$" ]; then
    sort -n -r "${TMPDIR:-/tmp}/check-stage-length.$$" | head -n 1 | sed 's/^\([0-9]*\) \(.*\)/longest stage function: \2, \1 lines/'
fi
rm -f "${TMPDIR:-/tmp}/check-stage-length.$$"
exit $status
