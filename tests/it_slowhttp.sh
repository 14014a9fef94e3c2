#!/bin/sh
# it_slowhttp.sh - slow clients (slowhttptest) against switchyard, with its
# client deadlines shortened to 2 s (-proxy.headertimeout, .bodytimeout,
# .sendtimeout) and one worker. Three attacks, each of 150 connections for
# up to 8 s: slow headers (-H: an unfinished head, a field more every
# second), slow body (-B: a head and then a body that stalls for 5 s) and
# slow read (-X: three pipelined requests for 1 MB answers, read 32 bytes
# every 5 s through a window of 512-1024 bytes). During each attack a probe
# asks for a page through switchyard once a second on a fresh connection.
# For every attack:
#   - every probe is answered 200 within 3 s (figures printed as # lines);
#   - the attack really held its connections (at least half at once);
#   - switchyard is still running, and answers after the three attacks.
# Slow headers and slow bodies: switchyard answers every slow connection
# 408 and closes it, the last one by second deadline + ramp + slack.
# Slow read: switchyard lets go of the slow readers (its descriptors are
# back to where they were before the attack ends), and a second before
# the end no connection it closed is left in the kernel with unsent bytes
# (FIN-WAIT-1 with a send queue: megabytes each, until the slow reader
# takes them). The readers themselves may not notice within the attack:
# slowhttptest reads 32 bytes every 5 s, and what its kernel received
# comes before the end of the stream.
# Skipped when slowhttptest (Debian package slowhttptest) is missing.
# shellcheck disable=SC2154 # probes_*, fds_*, slow_*: set by eval of slowhttp_probe.py
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

REGISTRY=$top_builddir/switchyard-registry
SY=$top_builddir/switchyard
BACKEND=$top_srcdir/tests/proxy_backend.py
PROBE=$top_srcdir/tests/slowhttp_probe.py
for p in "$REGISTRY" "$SY"; do
	[ -x "$p" ] || { echo "# skip: $p is not built"; exit 77; }
done
command -v slowhttptest >/dev/null ||
	{ echo "# skip: no slowhttptest (install the Debian package slowhttptest: scripts/deps)"; exit 77; }
command -v python3 >/dev/null || { echo "# skip: no python3"; exit 77; }
command -v curl >/dev/null || { echo "# skip: no curl"; exit 77; }

CONNS=150          # slow connections per attack
ATTACK_S=8         # at most this long per attack
DEADLINE_S=2       # every client deadline of switchyard
RAMP_S=1           # slowhttptest opens CONNS connections per second
SLACK_S=4          # on top of deadline + ramp (sanitizer builds are slow)
PROBE_BOUND_MS=3000

PREG=$(free_port); PBE=$(free_port); PSY=$(free_port); PUI=$(free_port)
spawn registry "$REGISTRY" -addr "127.0.0.1:$PREG" -interval-min 100ms \
	-deregister-min 1s -reap-interval 1s
wait_http "http://127.0.0.1:$PREG/v1/status/leader" 10 || { fail "registry starts"; finish; }
spawn backend python3 "$BACKEND" serve "$PBE" slow
wait_http "http://127.0.0.1:$PBE/stats" 10 || { fail "backend starts"; finish; }
curl -sf -o /dev/null -X PUT -H 'Content-Type: application/json' \
	--data "{\"Name\":\"slow-backend\",\"ID\":\"slow-backend-1\",\"Address\":\"127.0.0.1\",\"Port\":$PBE,\"Tags\":[\"urlprefix-/\"]}" \
	"http://127.0.0.1:$PREG/v1/agent/service/register" || { fail "backend registered"; finish; }

spawn switchyard "$SY" -proxy.addr="127.0.0.1:$PSY" -ui.addr="127.0.0.1:$PUI" \
	-registry.consul.addr="127.0.0.1:$PREG" -registry.consul.register.enabled=false \
	-proxy.workers=1 -log.level=DEBUG -proxy.headertimeout="${DEADLINE_S}s" \
	-proxy.bodytimeout="${DEADLINE_S}s" -proxy.sendtimeout="${DEADLINE_S}s"
SYPID=$SPAWNED
URL=http://127.0.0.1:$PSY

answers_200() {
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$URL$1")" = 200 ]
}
wait_until 30 answers_200 /probe || { fail "switchyard routes to the backend"; finish; }
running() { # running PID: not exited, and not a zombie waiting for wait
	_s=$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$_s" ] && [ "$_s" != Z ]
}
alive() { running "$SYPID"; }
fds() { # the descriptors switchyard holds
	set -- "/proc/$SYPID/fd"/*
	[ -e "$1" ] && echo $# || echo 0
}

# attack NAME SLOWHTTPTEST-ARGS...: one attack with the probe beside it;
# sets the figures of slowhttp_probe.py (probes_*, fds_*, slow_*) and
# prints them.
attack() {
	_n=$1; shift
	spawn "probe-$_n" python3 "$PROBE" probe "$URL/probe" "$SY_TMP/$_n.probe" 10 "$SYPID"
	_probe=$SPAWNED
	spawn "slow-$_n" timeout -k 5 $((ATTACK_S + 30)) slowhttptest "$@" -c "$CONNS" \
		-r "$CONNS" -l "$ATTACK_S" -p 3 -v 4 -g -o "$SY_TMP/$_n"
	_slow=$SPAWNED
	# the kernel's view a second before the attack ends (its end closes
	# the client sides, which ends what the kernel still held)
	_end=$(($(date +%s) + ATTACK_S - 1))
	while running "$_slow" && [ "$(date +%s)" -lt "$_end" ]; do sleep 0.2; done
	# shellcheck disable=SC2046 # two numbers
	set -- $(python3 "$PROBE" orphans "$PSY")
	orphan_n=$1 orphan_bytes=$2
	wait "$_slow" || echo "# slowhttptest -$_n exited with $?"
	kill -TERM "$_probe" 2>/dev/null
	wait "$_probe" 2>/dev/null
	eval "$(python3 "$PROBE" probes "$SY_TMP/$_n.probe" "$PROBE_BOUND_MS")"
	[ -s "$SY_TMP/$_n.csv" ] || : >"$SY_TMP/$_n.csv"
	eval "$(python3 "$PROBE" attack "$SY_TMP/slow-$_n.log" "$SY_TMP/$_n.csv")"
	echo "# -$_n probes: $probes_sent sent, $probes_ok ok, $probes_failed failed; p50 $probe_p50_ms ms, max $probe_max_ms ms${probe_bad:+; failed: $probe_bad}"
	echo "# -$_n slowhttptest ($slow_exit): $slow_opened opened, at most $slow_connected_max at once; closed by switchyard $slow_closed ($slow_reset of them by an error), first at ${slow_first_close_s} s, last at ${slow_last_close_s} s; still open at the end $slow_open_end; replies: ${slow_replies:-none}; its own probe unanswered $slow_unavailable_s s"
	echo "# -$_n switchyard: descriptors at most $fds_max during the attack, $fds_last at its end ($FDS_BEFORE before); 408 in its log so far: $(grep -c 'status=408' "$SY_TMP/switchyard.log"); closed by it with unsent bytes still in the kernel (FIN-WAIT-1) a second before the end: $orphan_n, $orphan_bytes bytes"
}

# the conditions, on the figures of the last attack
probes_all_ok() { [ "$probes_sent" -ge 2 ] && [ "$probes_failed" -eq 0 ]; }
attack_held() { [ "$slow_connected_max" -ge $((CONNS / 2)) ]; }
all_closed() { [ "$slow_opened" -ge $((CONNS / 2)) ] && [ "$slow_open_end" -eq 0 ]; }
all_408() { [ "$slow_closed" -gt 0 ] && [ "$slow_408" -ge "$slow_closed" ]; }
closed_by() { [ "$slow_last_close_s" != - ] && [ "$slow_last_close_s" -le "$1" ]; }
fds_back() { [ "$fds_last" != - ] && [ "$fds_last" -le $((FDS_BEFORE + 20)) ]; }
no_orphans() { [ "$orphan_n" -eq 0 ]; }

# held NAME: the probe kept being answered and the attack was real
held() {
	check "-$1: every probe during the attack got 200 within $PROBE_BOUND_MS ms ($probes_ok of $probes_sent)" \
		probes_all_ok
	check "-$1: the attack held at least $((CONNS / 2)) connections at once ($slow_connected_max)" \
		attack_held
	check "-$1: switchyard is still running" alive
}

# cut_with_408 NAME: every slow connection was answered 408 and closed,
# the last one by second deadline + ramp + slack of the attack
cut_with_408() {
	_by=$((DEADLINE_S + RAMP_S + SLACK_S))
	check "-$1: switchyard closed every slow connection ($slow_closed of $slow_opened, $slow_open_end left open)" \
		all_closed
	check "-$1: each with a 408 answer ($slow_408 of $slow_closed)" all_408
	check "-$1: the last one by second $_by (at $slow_last_close_s)" closed_by "$_by"
}

FDS_BEFORE=$(fds)

attack H -H -i 1 -x 24 -t GET -u "$URL/"
held H
cut_with_408 H
sleep 1

attack B -B -i 5 -s 8192 -x 10 -t POST -u "$URL/"
held B
cut_with_408 B
sleep 1

attack X -X -w 512 -y 1024 -n 5 -z 32 -k 3 -t GET -u "$URL/big?size=1048576"
held X
check "-X: switchyard let go of the slow readers before the attack ended ($fds_last descriptors at its end, $FDS_BEFORE before)" \
	fds_back
check "-X: and none of them is left in the kernel with unsent bytes ($orphan_n closed connections in FIN-WAIT-1 holding $orphan_bytes bytes)" \
	no_orphans

check "switchyard answers after the attacks" answers_200 /probe
finish
