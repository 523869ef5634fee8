#!/bin/sh
# check-layers.sh SRC_DIR - the layering rule of src/ (docs/architecture.md).
#
# Every folder src/F/ has a README.md with one line
#     May include: core, io            (or: May include: nothing)
# naming the other folders whose headers F's files may include.  This script
# fails (exit 1, one line per offence) when
#   - a folder has no such line, or names a folder that does not exist;
#   - a file in src/F/ includes "G/..." with G neither F nor in F's list
#     (an upward or sideways include);
#   - the lists themselves contain a cycle (so no layer order exists);
#   - a file includes a src header without its folder ("x.h").
# It prints the layers, lowest first, when all is well.
set -u
SRC=${1:-src}
bad=0
complain() { printf 'check-layers: %s\n' "$*" >&2; bad=1; }

folders=""
for d in "$SRC"/*/; do
    f=$(basename "$d")
    folders="$folders $f"
done
allowed() { # FOLDER -> its list, space-separated ("" for nothing)
    sed -n 's/^May include:[[:space:]]*//p' "$SRC/$1/README.md" 2>/dev/null | head -n 1 |
        tr ',' ' ' | sed 's/\bnothing\b//'
}
for f in $folders; do
    if ! grep -q '^May include:' "$SRC/$f/README.md" 2>/dev/null; then
        complain "$SRC/$f/README.md: no 'May include:' line"
        continue
    fi
    for g in $(allowed "$f"); do
        [ -d "$SRC/$g" ] || complain "$SRC/$f/README.md: names folder '$g', which does not exist"
    done
done

for file in "$SRC"/*/*.[ch]; do
    [ -f "$file" ] || continue
    f=$(basename "$(dirname "$file")")
    list=" $(allowed "$f") "
    # grep -n gives LINE:#include "path"
    grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$file" | while IFS= read -r line; do
        num=${line%%:*}
        path=$(printf '%s\n' "$line" | sed 's/^[^"]*"\([^"]*\)".*/\1/')
        case $path in
            */*) g=${path%%/*} ;;
            *) if [ -f "$SRC/$f/$path" ] || ls "$SRC"/*/"$path" >/dev/null 2>&1; then
                   echo "$file:$num: includes \"$path\" without its folder"
               fi
               continue ;;
        esac
        [ "$g" = "$f" ] && continue
        [ -d "$SRC/$g" ] || continue
        case $list in *" $g "*) ;; *) echo "$file:$num: $f/ may not include $path ($SRC/$f/README.md)" ;; esac
    done
done >"${TMPDIR:-/tmp}/check-layers.$$"
if [ -s "${TMPDIR:-/tmp}/check-layers.$$" ]; then
    sed 's/^/check-layers: /' "${TMPDIR:-/tmp}/check-layers.$$" >&2
    bad=1
fi
rm -f "${TMPDIR:-/tmp}/check-layers.$$"

# Layer order: repeatedly take the folders whose allowed folders are all taken.
left=$folders order=""
while [ -n "$(echo $left)" ]; do
    took=""
    for f in $left; do
        ready=1
        for g in $(allowed "$f"); do
            case " $order " in *" $g "*) ;; *) ready=0 ;; esac
        done
        [ "$ready" = 1 ] && took="$took $f"
    done
    if [ -z "$took" ]; then
        complain "the 'May include' lists form a cycle among:$left"
        break
    fi
    order="$order$took"
    rest=""
    for f in $left; do case " $took " in *" $f "*) ;; *) rest="$rest $f" ;; esac; done
    left=$rest
    [ "$bad" = 0 ] && echo "layer:$took"
done
exit $bad
