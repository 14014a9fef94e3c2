#!/bin/sh
# it_daemon_load.sh - the switchyard daemon under steady load
# (tests/load_client.py: 4 keep-alive connections, requests back to back)
# against switchyard-registry, with failures made on purpose:
#   1. retag: /app moves between two instances (blue, green) of one
#      service by retags through libregistrar (tests/registrar_ctl);
#      traffic follows within 100 ms of the retag call returning (median
#      of 3; 250 ms in a sanitizer build) and no request fails;
#   2. kill -9 of one of three switchyard-demo instances: at most one
#      failure per load connection, none from 1 s after the kill on nor
#      once its port refuses connections (switchyard tries another
#      target), and the dead instance leaves the table;
#   3. a 100 MB answer through a slow reader: switchyard's VmHWM grows by
#      less than 16 MB;
#   5. kill -9 of the registry: no request fails, the routes stay,
#      /health says consul=down; after a restart on the same port the
#      services register again, /health says consul=up and a service
#      registered afterwards is routed;
#   4. SIGTERM with -proxy.shutdownwait=5s, slow requests in flight and
#      load running: /health answers 503 while draining, the slow
#      requests get their 200, no accepted request fails (connections
#      refused after the close, and new ones reset before any answer when
#      the listener closes, are counted apart), exit 0 in time;
#   6. bad configuration (flag values, unknown key, a -cfg file line):
#      exit status non-zero, stderr names the key and the value, nothing
#      listens.
# A sanitizer build is recognised by libasan/libtsan in the running
# daemon's memory map; SY_SANITIZED=1 in the environment forces the
# sanitizer bound (for builds that link a sanitizer statically).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

SY=$top_builddir/switchyard
REGISTRY=$top_builddir/switchyard-registry
DEMO=$top_builddir/switchyard-demo
CTL=$top_builddir/tests/registrar_ctl
BACKEND=$top_srcdir/tests/proxy_backend.py
LOAD=$top_srcdir/tests/load_client.py
for p in "$SY" "$REGISTRY" "$DEMO" "$CTL"; do
	[ -x "$p" ] || { echo "# skip: $p is not built"; exit 77; }
done
command -v python3 >/dev/null || { echo "# skip: no python3"; exit 77; }
command -v curl >/dev/null || { echo "# skip: no curl"; exit 77; }

# under AddressSanitizer freed memory waits in a quarantine, which would
# look like the growth the streaming check looks for
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1"
export ASAN_OPTIONS
# should a registrar_ctl die, writes to its fifo must fail, not end us
trap '' PIPE

AGENT=127.0.0.1:$(free_port)
PP=$(free_port); PU=$(free_port)
URL=http://127.0.0.1:$PP
UI=http://127.0.0.1:$PU
CONNS=4

now() { date +%s.%N; }
# ms_since T0 [T1]: milliseconds from T0 to T1 (default now), floored at 0.
ms_since() {
	awk -v a="$1" -v b="${2:-$(now)}" \
		'BEGIN { d = (b - a) * 1000; printf "%d\n", d < 0 ? 0 : d }'
}
plus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f\n", a + b }'; }
# json EXPR: a Python expression over the JSON on stdin (as d).
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
code() { curl -s -o /dev/null -w '%{http_code}' --max-time "${2:-5}" "$1"; }
health_body() { curl -s --max-time 2 "$UI/health"; }
routes() { curl -s --max-time 2 "$UI/api/routes"; }
routes_have() { routes | grep -q -- "$1"; }
routes_lack() { ! routes_have "$1"; }
answers() { [ "$(code "$URL$1")" = "${2:-200}" ]; }

start_registry() {
	spawn "registry$1" "$REGISTRY" -addr "$AGENT" -interval-min 100ms \
		-deregister-min 1s -reap-interval 1s
	REGISTRY_PID=$SPAWNED
	wait_http "http://$AGENT/v1/status/leader" 10
}

# ---- registrar_ctl with time-stamped answers ----
# ctl_start NAME FD SERVICE PORT TAGS: a registrar_ctl registering SERVICE
# (id NAME) at 127.0.0.1:PORT with a TTL check; commands go in on file
# descriptor FD; each answer line lands in $SY_TMP/NAME.out prefixed with
# the wall-clock time it came out, so a retag's return is known to the ms.
STAMP='import sys, time
for line in sys.stdin:
    print("%.6f %s" % (time.time(), line.rstrip("\n")), flush=True)'
ctl_start() {
	mkfifo "$SY_TMP/$1.in" "$SY_TMP/$1.pipe"
	"$CTL" -consul "$AGENT" -name "$3" -id "$1" -address 127.0.0.1 \
		-port "$4" -ttl 3000 -deregister 60000 -tags "$5" \
		<"$SY_TMP/$1.in" >"$SY_TMP/$1.pipe" 2>"$SY_TMP/$1.err" &
	SY_PIDS="$SY_PIDS $!"
	python3 -u -c "$STAMP" <"$SY_TMP/$1.pipe" >"$SY_TMP/$1.out" &
	SY_PIDS="$SY_PIDS $!"
	eval "exec $2>\"\$SY_TMP/\$1.in\""
	wait_until 10 grep -q ' ok start$' "$SY_TMP/$1.out"
}
# ctl_tags NAME FD TAGS: retag; prints the time the call returned.
ctl_tags() {
	_n=$(grep -c ' ok tags$' "$SY_TMP/$1.out")
	eval "echo \"tags \$3\" >&$2"
	wait_until 10 sh -c "[ \$(grep -c ' ok tags\$' '$SY_TMP/$1.out') -gt $_n ]" ||
		{ echo 0; return 1; }
	grep ' ok tags$' "$SY_TMP/$1.out" | tail -1 | cut -d' ' -f1
}

# ---- load ----
# load_start NAME PATH: the load client on PATH until load_stop NAME.
load_start() {
	python3 "$LOAD" run "$URL$2" --conns "$CONNS" --duration 80 \
		--stop-file "$SY_TMP/$1.stop" --ready-file "$SY_TMP/$1.ready" \
		--records "$SY_TMP/$1.tsv" >"$SY_TMP/$1.json" 2>"$SY_TMP/$1.err" &
	LOAD_PID=$!
	SY_PIDS="$SY_PIDS $LOAD_PID"
	wait_until 10 test -s "$SY_TMP/$1.ready"
}
load_stop() {
	touch "$SY_TMP/$1.stop"
	wait "$LOAD_PID"
	echo "# load $1: $(json "'%d requests (%.0f/s), %d ok, %d failed, %d refused, %d unanswered, kinds %s, status %s' % (d['requests'], d['rate'], d['ok'], d['failed'], d['refused'], d['unanswered'], d['kinds'], d['status'])" <"$SY_TMP/$1.json")"
}
# window NAME FROM TO EXPR: EXPR over the summary of requests started in
# [FROM, TO).
window() {
	python3 "$LOAD" summary "$SY_TMP/$1.tsv" --from "$2" --to "$3" | json "$4"
}
field() { json "$2" <"$SY_TMP/$1.json"; }

# ---- start: registry, backends, registrations, switchyard ----
start_registry 0 || { fail "registry answers"; finish; }
PBLUE=$(free_port); PGREEN=$(free_port); PFILES=$(free_port)
spawn blue python3 "$BACKEND" serve "$PBLUE" blue
spawn green python3 "$BACKEND" serve "$PGREEN" green
spawn files python3 "$BACKEND" serve "$PFILES" files
for p in "$PBLUE" "$PGREEN" "$PFILES"; do
	wait_http "http://127.0.0.1:$p/stats" || { fail "backend on $p"; finish; }
done
ctl_start app-blue 3 app "$PBLUE" urlprefix-/app || { fail "blue registers"; finish; }
ctl_start app-green 4 app "$PGREEN" idle || { fail "green registers"; finish; }
ctl_start files 5 files "$PFILES" urlprefix-/big,urlprefix-/slow ||
	{ fail "files registers"; finish; }

start_switchyard() {
	spawn switchyard "$SY" -proxy.addr="127.0.0.1:$PP" -ui.addr="127.0.0.1:$PU" \
		-registry.consul.addr="$AGENT" -registry.consul.register.enabled=false \
		-proxy.workers=2 -proxy.shutdownwait=5s
	SY_PID=$SPAWNED
}
start_switchyard
# alive: switchyard still runs (a sanitizer stops it on a finding); the
# cases after would only fail for that reason
alive() {
	kill -0 "$SY_PID" 2>/dev/null && return 0
	fail "switchyard is still running (see $SY_TMP/switchyard.log)"
	return 1
}
check "switchyard's admin answers" wait_http "$UI/health" 20
check "/app is routed to blue" wait_until 20 routes_have "127.0.0.1:$PBLUE"
check "/app answers through the proxy" wait_until 10 answers /app
SANITIZED=${SY_SANITIZED:-0}
if grep -qE 'lib(asan|tsan)' "/proc/$SY_PID/maps" 2>/dev/null; then SANITIZED=1; fi
if [ "$SANITIZED" = 1 ]; then BOUND=250; else BOUND=100; fi
echo "# sanitizer build: $SANITIZED (retag bound $BOUND ms)"

# ---- 1. retag under load ----
load_start retag /app || fail "load on /app starts"
# Each round: the new instance gets the route (both serve for a while),
# then the old one loses it. Times are read back from the records after.
FROM=app-blue FROMFD=3 TO=app-green TOFD=4
ROUNDS=""
for round in 1 2 3; do
	TA=$(ctl_tags "$TO" "$TOFD" urlprefix-/app) || fail "retag $round: add"
	sleep 0.3
	TR=$(ctl_tags "$FROM" "$FROMFD" idle) || fail "retag $round: remove"
	sleep 0.7
	ROUNDS="$ROUNDS $round:${FROM#app-}:${TO#app-}:$TA:$TR"
	_t=$FROM; FROM=$TO; TO=$_t
	_t=$FROMFD; FROMFD=$TOFD; TOFD=$_t
done
load_stop retag
DELAYS=""
for r in $ROUNDS; do
	# shellcheck disable=SC2046
	set -- $(echo "$r" | tr : ' ')
	round=$1 from=$2 to=$3 TA=$4 TR=$5
	# the last answer from the old instance, counted from the return of
	# the call that took its route away (requests that started from 1 s
	# before, when both served, to 0.7 s after)
	LAST=$(window retag "$(plus "$TR" -1)" "$(plus "$TR" 0.7)" \
		"d['last'].get('$from', 0)")
	FIRST=$(window retag "$TA" "$(plus "$TA" 0.3)" "d['first'].get('$to', 0)")
	D=$(ms_since "$TR" "$LAST")
	echo "# retag $round: $from -> $to; first $to answer $(ms_since "$TA" "$FIRST") ms after its add returned, last $from answer $D ms after its removal returned"
	check "retag $round: $to answered after the removal" \
		[ "$(window retag "$(plus "$TR" 0.3)" "$(plus "$TR" 0.7)" "d['backends'].get('$to', 0)")" -gt 0 ]
	check "retag $round: only $to answers from 300 ms after the removal" \
		[ "$(window retag "$(plus "$TR" 0.3)" "$(plus "$TR" 0.7)" "d['backends'].get('$from', 0)")" = 0 ]
	DELAYS="$DELAYS $D"
done
# shellcheck disable=SC2086
MEDIAN=$(printf '%s\n' $DELAYS | sort -n | sed -n 2p)
echo "# retag: traffic left the old instance after$DELAYS ms (median $MEDIAN ms, bound $BOUND ms)"
check "retag: traffic follows within $BOUND ms (median of 3)" [ "$MEDIAN" -le "$BOUND" ]
check "retag: no request failed" [ "$(field retag "d['failed'] + d['unanswered'] + d['refused']")" = 0 ]
check "retag: both instances answered" [ "$(field retag "len(d['backends'])")" = 2 ]
# /app now on green (round 3 moved it there), blue is idle

alive || finish

# ---- 2. kill -9 one of three backends under load ----
PW1=$(free_port); PW2=$(free_port); PW3=$(free_port)
for p in "$PW1" "$PW2" "$PW3"; do
	spawn "web-$p" "$DEMO" -name web -prefix /web -addr "127.0.0.1:$p" \
		-consul "$AGENT" -deregister 2s
	[ "$p" = "$PW2" ] && W2_PID=$SPAWNED
done
# ready when all three answer through the proxy (a route is listed
# before its instance's first check has passed)
web_ready() {
	python3 "$LOAD" run "$URL/web" --conns 1 --duration 0.3 >"$SY_TMP/web.json" &&
		[ "$(field web "len(d['backends']) == 3 and d['ok'] == d['requests']")" = True ]
}
check "three web instances answer" wait_until 20 web_ready
# A killed process keeps its sockets until the kernel has torn down its
# memory (tens of ms for a sanitizer build): until then connections to it
# are still accepted. This notes when its port first refused one.
REFUSED_AT='import os, socket, sys, time
port, go = int(sys.argv[1]), sys.argv[2]
end = time.time() + 20
while not os.path.exists(go) and time.time() < end:
    time.sleep(0.001)
while time.time() < end:
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
    except ConnectionRefusedError:
        print("%.6f" % time.time())
        break
    finally:
        s.close()
    time.sleep(0.002)'
python3 -c "$REFUSED_AT" "$PW2" "$SY_TMP/killed" >"$SY_TMP/refused.time" &
REFUSED_PID=$!
load_start kill /web || fail "load on /web starts"
sleep 1
kill -9 "$W2_PID"
TK=$(now)
touch "$SY_TMP/killed"
check "the dead instance leaves the table" wait_until 15 routes_lack "127.0.0.1:$PW2"
echo "# dead instance dropped from the table $(ms_since "$TK") ms after kill -9"
sleep 1
load_stop kill
EARLY=$(window kill 0 "$(plus "$TK" 1)" "d['failed'] + d['unanswered']")
LATE=$(window kill "$(plus "$TK" 1)" 1e12 "d['failed'] + d['unanswered']")
wait "$REFUSED_PID"
TREF=$(cat "$SY_TMP/refused.time")
echo "# kill -9: the dead instance's port refused connections $(ms_since "$TK" "$TREF") ms after the kill"
echo "# kill -9: $EARLY failed up to 1 s after the kill, $LATE after"
awk -F'\t' -v k="$TK" '$6 != "ok" && n++ < 10 {
	printf "# kill -9: a %s (status %d) sent %+d ms from the kill, on connection %d\n",
		$6, $4, ($1 - k) * 1000, $3 }' "$SY_TMP/kill.tsv"
check "kill -9: at most $CONNS requests failed (those in flight)" [ "$EARLY" -le "$CONNS" ]
check "kill -9: none failed from 1 s after the kill" [ "$LATE" = 0 ]
check "kill -9: none failed of those sent once its port refused (retried elsewhere)" \
	[ -n "$TREF" ] && [ "$(window kill "$TREF" 1e12 "d['failed'] + d['unanswered']")" = 0 ]
check "kill -9: requests kept being answered after the kill" \
	[ "$(window kill "$(plus "$TK" 1)" 1e12 "d['ok']")" -gt 0 ]
check "kill -9: the other two answered after it" \
	[ "$(window kill "$(plus "$TK" 1)" 1e12 \
		"sorted(d['backends']) == sorted(['127.0.0.1:$PW1', '127.0.0.1:$PW3'])")" = True ]

alive || finish

# ---- 3. a 100 MB answer through a slow reader ----
hwm() { awk '/VmHWM/ {print $2}' "/proc/$SY_PID/status"; }
RSS0=$(hwm)
N=$(curl -s --max-time 60 --limit-rate 25M -o /dev/null -w '%{size_download}' \
	"$URL/big?size=104857600")
RSS1=$(hwm)
echo "# 100 MB streamed: $N bytes, switchyard VmHWM $RSS0 -> $RSS1 kB"
check "100 MB arrive whole" [ "$N" = 104857600 ]
check "switchyard's VmHWM grows by less than 16 MB" [ $((RSS1 - RSS0)) -lt 16384 ]

alive || finish

# ---- 5. the registry goes away and comes back ----
consul_is() { health_body | grep -qx "consul=$1"; }
check "/health says consul=up" consul_is up
load_start regdown /app || fail "load on /app starts"
kill -9 "$REGISTRY_PID"
wait "$REGISTRY_PID" 2>/dev/null
TD=$(now)
check "registry down: /health says consul=down" wait_until 10 consul_is down
echo "# consul=down seen $(ms_since "$TD") ms after kill -9"
check "registry down: /health still answers 200" [ "$(code "$UI/health")" = 200 ]
sleep 1
check "registry down: the routes stay" routes_have "127.0.0.1:$PGREEN"
check "registry down: /app still answers" answers /app
start_registry 1 || fail "registry restarts"
TU=$(now)
check "registry back: /health says consul=up" wait_until 20 consul_is up
echo "# consul=up seen $(ms_since "$TU") ms after the registry answered again"
check "registry back: the services registered again" wait_until 10 sh -c \
	"curl -s http://$AGENT/v1/catalog/services | grep -q '\"app\"'"
sleep 1
load_stop regdown
check "registry down and back: no request failed" \
	[ "$(field regdown "d['failed'] + d['unanswered'] + d['refused']")" = 0 ]
check "registry down and back: /app answered throughout" \
	[ "$(field regdown "d['backends'].get('green', 0) > 0")" = True ]
PLATE=$(free_port)
spawn late python3 "$BACKEND" serve "$PLATE" late
wait_http "http://127.0.0.1:$PLATE/stats" || fail "late backend"
ctl_start late 6 late "$PLATE" urlprefix-/late || fail "late registers"
check "a service registered after the restart is routed" wait_until 10 answers /late
check "and answers from its backend" sh -c \
	"curl -s --max-time 5 $URL/late | grep -q '\"name\": \"late\"'"

alive || finish

# ---- 4. graceful stop under load ----
load_start stop /app || fail "load on /app starts"
for i in 1 2 3; do
	curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
		"$URL/slow?ms=1000&n=$i" >"$SY_TMP/slow$i.code" &
	eval "SLOW$i=\$!"
done
sleep 0.3  # the slow requests are on their way (each takes 1 s)
kill -TERM "$SY_PID"
TS=$(now)
# the exit time, seen from outside while this shell looks at /health
(while kill -0 "$SY_PID" 2>/dev/null; do sleep 0.02; done; now >"$SY_TMP/exit.time") &
health_code() { [ "$(code "$UI/health" 0.5)" = 503 ]; }
check "stopping: /health answers 503 while draining" wait_until 2 health_code
wait "$SLOW1" "$SLOW2" "$SLOW3"
for i in 1 2 3; do
	check "stopping: slow request $i got its 200" [ "$(cat "$SY_TMP/slow$i.code")" = 200 ]
done
check "stopping: switchyard exits" wait_until 10 test -s "$SY_TMP/exit.time"
wait "$SY_PID"
RC=$?
TE=$(cat "$SY_TMP/exit.time")
echo "# SIGTERM to exit: $(ms_since "$TS" "$TE") ms (shutdownwait 5 s)"
check "stopping: exit status 0" [ "$RC" = 0 ]
check "stopping: exited within the shutdown wait" [ "$(ms_since "$TS" "$TE")" -le 5500 ]
sleep 0.3  # the load meets the closed listener
load_stop stop
# A new connection reset before any answer may have sat in the kernel's
# listen queue when the listener closed (switchyard never accepted it):
# at most one per load connection, counted apart and printed.
RESETS=$(field stop "d['kinds'].get('reset', 0)")
echo "# stopping: $RESETS new connections reset at the listener close"
check "stopping: no accepted request failed (no non-2xx, truncation, timeout)" \
	[ "$(field stop "d['failed'] - d['kinds'].get('reset', 0)")" = 0 ]
check "stopping: at most one reset new connection per load connection" \
	[ "$RESETS" -le "$CONNS" ]
check "stopping: no request went unanswered on a kept-alive connection" \
	[ "$(field stop "d['unanswered']")" = 0 ]
check "stopping: requests after the close were refused, not accepted" \
	[ "$(field stop "d['refused']")" -gt 0 ]
check "stopping: nothing was cut" sh -c "! grep -q 'requests cut' '$SY_TMP/switchyard.log'"

# ---- 6. bad configuration fails startup, naming key and value ----
# bad_start NAME EXPECTED ARGS...: switchyard must exit non-zero at once
# with EXPECTED (a fixed string) on stderr, and nothing listening.
bad_start() {
	_name=$1 _want=$2; shift 2
	timeout 10 "$SY" -proxy.addr="127.0.0.1:$PP" -ui.addr="127.0.0.1:$PU" \
		-registry.consul.addr="$AGENT" -registry.consul.register.enabled=false \
		"$@" >"$SY_TMP/$_name.out" 2>"$SY_TMP/$_name.err"
	_rc=$?
	check "$_name: exits non-zero ($_rc)" [ "$_rc" != 0 ] && [ "$_rc" != 124 ]
	check "$_name: stderr names key and value" grep -qF -- "$_want" "$SY_TMP/$_name.err"
	check "$_name: nothing listens" sh -c \
		"! curl -s --max-time 1 $URL/ >/dev/null && ! curl -s --max-time 1 $UI/health >/dev/null"
}
bad_start strategy 'proxy.strategy: bad value "bogus"' -proxy.strategy=bogus
bad_start dialtimeout 'proxy.dialtimeout: bad value "abc"' -proxy.dialtimeout=abc
bad_start unknown 'unknown key "no.such.key"' -no.such.key=1
printf 'log.level = INFO\nproxy.workers = 2\nproxy.maxbody = lots\n' >"$SY_TMP/bad.props"
bad_start cfgfile "bad.props:3: proxy.maxbody: bad value \"lots\"" -cfg "$SY_TMP/bad.props"

finish

