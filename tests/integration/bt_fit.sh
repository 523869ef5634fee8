#!/bin/sh
# bt_fit.sh - the distributed Bradley–Terry fit (src/rm/bt_fit.c) under 1, 2
# and 4 ranks: each run checks one Newton system and the whole fit against
# the serial LAPACK reference, recovery of known weights, and that singular
# systems and non-finite features fail the same way on every rank.  The
# cases are printed by build/tests/tools/test_bt_mpi itself ("ok NAME_npN").
. "$(dirname "$0")/../lib.sh"

tool=$BUILD/tests/tools/test_bt_mpi
if [ ! -x "$tool" ]; then
    fail bt_fit "missing $tool (run make tests)"
    exit 0
fi

for np in 1 2 4; do
    # --timeout: a rank stuck in a collective must fail the test, not hang it
    pp_mpirun "$np" --timeout 120 "$tool" >"$T/np$np.txt" 2>&1
    code=$?
    grep -E '^(ok|FAIL) ' "$T/np$np.txt"
    if ! grep -q "^test_bt_mpi: $np ranks, 0 failed" "$T/np$np.txt"; then
        grep -q '^FAIL ' "$T/np$np.txt" ||
            fail "bt_fit_np$np" "exit $code, no summary line: $(tail -n 5 "$T/np$np.txt" | tr '\n' ' ')"
    elif [ "$code" -ne 0 ]; then
        fail "bt_fit_np$np" "exit $code after all cases passed"
    fi
done
