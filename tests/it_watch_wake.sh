#!/bin/sh
# it_watch_wake.sh - a consul_watch blocked on /v1/health/service/<name>
# at switchyard-registry wakes within 50 ms of each of 20 changes
# (registrations with new tags through consul_api). One change of the 20
# may be slower, as an allowance for a busy CI machine.
. "$(dirname "$0")/lib.sh"

registry="$top_builddir/switchyard-registry"
bench="$top_builddir/bench_watch_latency"
for prog in "$registry" "$bench"; do
	if [ ! -x "$prog" ]; then
		echo "# $prog is not built"
		exit 77
	fi
done

port=$(free_port)
spawn registry "$registry" -addr "127.0.0.1:$port"
if ! wait_http "http://127.0.0.1:$port/v1/status/leader" 10; then
	fail "switchyard-registry answers on 127.0.0.1:$port"
	finish
fi
ok "switchyard-registry answers on 127.0.0.1:$port"

if "$bench" -addr "127.0.0.1:$port" -changes 20 -max-ms 50 -allow-over 1 \
	>"$SY_TMP/bench.log" 2>&1; then
	ok "a blocked watch woke within 50 ms of each change (1 slow of 20 allowed)"
else
	fail "a blocked watch woke within 50 ms of each change (1 slow of 20 allowed)"
fi
sed 's/^/# /' "$SY_TMP/bench.log"
finish
