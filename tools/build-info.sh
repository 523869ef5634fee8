#!/bin/sh
# build-info.sh OUT - write OUT (a C header) with the git commit the build
# is made from, for --version: PP_GIT_COMMIT "abc123def456", with "-dirty"
# when tracked files differ from it, "unknown" outside a git checkout (a
# tarball).  OUT is rewritten only when its text changes, so a build of an
# unchanged tree recompiles nothing.
out=$1
root=$(cd "$(dirname "$0")/.." && pwd -P)
c=unknown
# only this tree's own repository (a tarball unpacked inside another
# checkout must not report that checkout's commit)
if [ "$(git -C "$root" rev-parse --show-toplevel 2>/dev/null)" = "$root" ]; then
    c=$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
    if [ "$c" != unknown ] && ! git -C "$root" diff --quiet HEAD -- 2>/dev/null; then c="$c-dirty"; fi
fi
printf '#define PP_GIT_COMMIT "%s"\n' "$c" >"$out.tmp"
if cmp -s "$out.tmp" "$out"; then rm -f "$out.tmp"; else mv "$out.tmp" "$out"; fi
