#!/bin/sh
# docs/formats.md must be what the schemas say (make docs regenerates it),
# and every program must answer --help.
. "$(dirname "$0")/../lib.sh"
"$BUILD/tests/tools/schema2md" "$ROOT"/hdf5-schemas/*.json >"$T/formats.md"
if cmp -s "$T/formats.md" "$ROOT/docs/formats.md"; then ok formats_doc_matches_schemas
else fail formats_doc_matches_schemas "docs/formats.md is stale: run make docs"; fi
for p in "$BIN"/pp-*; do
    name=$(basename "$p")
    if "$p" --help >"$T/help.txt" 2>&1 && grep -q "^usage: $name" "$T/help.txt" && grep -q -- '--config FILE' "$T/help.txt"; then
        ok "help_$name"
    else fail "help_$name" "$(head -n 2 "$T/help.txt")"; fi
done
