#!/bin/sh
# npm-cache.sh PKG@VERSION... - install npm packages the tests compare
# against into a cache OUTSIDE the tree, once, and print its node_modules.
#
# The cache is $PP_NPM_CACHE (default $HOME/.cache/prefpipe-npm); a package
# already there at that version is not fetched again.  Each npm call has a
# timeout ($PP_NPM_TIMEOUT seconds, default 300).  Exit 1, with the reason on
# stderr, when node or npm is missing or the registry cannot be reached, so
# a test can report "skip NAME: reason".  Nothing is installed in the
# repository: the vocabularies these packages bundle carry their own licenses.
set -u
CACHE=${PP_NPM_CACHE:-$HOME/.cache/prefpipe-npm}
command -v node >/dev/null 2>&1 || { echo "node is not installed" >&2; exit 1; }
command -v npm >/dev/null 2>&1 || { echo "npm is not installed" >&2; exit 1; }
mkdir -p "$CACHE" 2>/dev/null || { echo "cannot create the npm cache $CACHE (set PP_NPM_CACHE)" >&2; exit 1; }
missing=""
for spec in "$@"; do
    name=${spec%@*}
    want=${spec##*@}
    have=$(node -e 'try { console.log(require(process.argv[1] + "/package.json").version) } catch (e) {}' \
        "$CACHE/node_modules/$name" 2>/dev/null)
    [ "$have" = "$want" ] || missing="$missing $spec"
done
if [ -n "$missing" ]; then
    # shellcheck disable=SC2086
    if ! out=$(timeout "${PP_NPM_TIMEOUT:-300}" npm install --prefix "$CACHE" --no-audit --no-fund --no-save $missing 2>&1); then
        echo "npm install$missing failed: $(printf '%s' "$out" | grep -m1 -i 'err' || printf '%s' "$out" | tail -n 1)" >&2
        exit 1
    fi
fi
echo "$CACHE/node_modules"
