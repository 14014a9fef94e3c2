# shellcheck shell=sh
# tests/lib.sh - shared by the integration scripts (sourced, not run).
#
# Every test gets its own scratch folder and loopback ports, starts the
# processes it needs with spawn, and has them killed on exit, whatever
# happens. Exit 77 means skipped (automake's convention).

set -u
: "${top_builddir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_srcdir:=$top_builddir}"
SY_TMP=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-test.XXXXXX")
SY_PIDS=""
SY_FAILS=0

sy_cleanup() {
	for p in $SY_PIDS; do kill -TERM "$p" 2>/dev/null; done
	sleep 0.1
	for p in $SY_PIDS; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [ "$SY_FAILS" -eq 0 ]; then rm -rf "$SY_TMP"; else echo "# logs kept in $SY_TMP"; fi
}
trap sy_cleanup EXIT
trap 'exit 1' INT TERM

# A TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# spawn NAME CMD...: start CMD in the background, output in $SY_TMP/NAME.log;
# sets SPAWNED to its pid.
spawn() {
	name=$1; shift
	"$@" >"$SY_TMP/$name.log" 2>&1 &
	SPAWNED=$!
	SY_PIDS="$SY_PIDS $SPAWNED"
}

# wait_http URL [SECONDS]: until URL answers with any HTTP status.
wait_http() {
	_deadline=$(( $(date +%s) + ${2:-10} ))
	while [ "$(date +%s)" -le "$_deadline" ]; do
		if curl -s -o /dev/null --max-time 1 "$1"; then return 0; fi
		sleep 0.05
	done
	echo "# no answer from $1" >&2
	return 1
}

# wait_until SECONDS CMD...: until CMD succeeds.
wait_until() {
	_deadline=$(( $(date +%s%N) / 1000000 + $1 * 1000 )); shift
	while [ "$(( $(date +%s%N) / 1000000 ))" -le "$_deadline" ]; do
		if "$@"; then return 0; fi
		sleep 0.05
	done
	return 1
}

ok() { echo "ok - $*"; }
fail() { echo "not ok - $*"; SY_FAILS=$((SY_FAILS + 1)); }
check() { _what=$1; shift; if "$@"; then ok "$_what"; else fail "$_what"; fi; }

# finish: the exit status from the failures counted so far.
finish() {
	if [ "$SY_FAILS" -eq 0 ]; then exit 0; fi
	echo "# $SY_FAILS failed"
	exit 1
}
