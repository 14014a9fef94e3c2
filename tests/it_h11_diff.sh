#!/bin/sh
# it_h11_diff.sh - the request validation against h11 (Debian's
# python3-h11, run by /usr/bin/python3): every request h11 refuses,
# switchyard refuses too, and where both take one they agree where it
# ends. The corpus: the seeds in tests/fixtures/lb/h1req, 3000 mutations
# of them made with a fixed random seed, and the corpus scripts/fuzz
# leaves for fuzz_lb_h1req, when there is one. tests/h11_diff.py names
# the few places where h11 is stricter than the RFCs.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

VERDICT=$top_builddir/h1_verdict
PY=/usr/bin/python3
[ -x "$VERDICT" ] || { echo "# skip: $VERDICT is not built"; exit 77; }
[ -x "$PY" ] || { echo "# skip: no $PY"; exit 77; }
"$PY" -c 'import h11' 2>/dev/null || { echo "# skip: $PY cannot import h11 (python3-h11)"; exit 77; }

set -- "$top_srcdir/tests/fixtures/lb/h1req"
fuzzed=${FUZZ_OUT:-$top_srcdir/build-fuzz}/fuzz_lb_h1req-corpus
[ -d "$fuzzed" ] && set -- "$@" "$fuzzed"

rc=0
"$PY" "$top_srcdir/tests/h11_diff.py" --mutations 3000 --seed 6 \
	--keep "$SY_TMP/mutations" "$VERDICT" "$@" >"$SY_TMP/diff.log" 2>&1 || rc=$?
cat "$SY_TMP/diff.log"
case $rc in
0) ok "h11 and switchyard agree: nothing h11 refuses is taken" ;;
1) fail "switchyard takes requests h11 refuses, or frames them differently (listed above)" ;;
77) exit 77 ;;
*) fail "h11_diff.py failed ($rc)" ;;
esac
finish
