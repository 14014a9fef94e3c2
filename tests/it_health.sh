#!/bin/sh
# it_health.sh - target health in the switchyard daemon, each case under
# steady load (tests/load_client.py, 4 keep-alive connections) against
# switchyard-registry, with switchyard-demo and tests/health_backend.py
# (a backend told to answer, answer 500 or hang through a file):
#   1. kill -9 of one of three backends whose Consul checks run every 10 s:
#      passive detection ejects it within 1 s of the kill (reason
#      connect_refused), at most the requests in flight to it fail (one
#      per load connection), none from the ejection on;
#   2. a backend answering 500 to everything: ejected after 5 answers (5
#      up to 5 + the requests in flight), then put right, it is back when
#      the ejection (health.outlier.basetime=2s here) ends and answers 200;
#   3. a backend that accepts and never answers, on a route with
#      check=/health: its requests get 504 after
#      proxy.responseheadertimeout (1 s), the probes (every 500 ms,
#      timeout 300 ms, fall 3) take it down about fall x interval after it
#      hung, and no request goes to it from then on; it comes back after
#      rise passing probes;
#   4. Consul marks a target critical (its TTL check failed through the
#      agent API): no request starts to it later than 100 ms after the
#      agent answered the update (median of 3; 250 ms in a sanitizer build);
#   5. answers without a fit target: 503 with Retry-After (1 for a service
#      Consul holds down; the seconds until the ejection ends for a route
#      of one ejected target, after a SIGHUP that raised
#      health.outlier.maxpercent to 100 through the -cfg file).
# Every case prints its figures as "# ..." lines, the failed requests
# among them. Each transition is logged once: the test counts the
# health_transition lines against the ejections /api/health reports.
# A sanitizer build is recognised by libasan/libtsan in the running
# daemon's memory map; SY_SANITIZED=1 in the environment forces it.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

SY=$top_builddir/switchyard
REGISTRY=$top_builddir/switchyard-registry
DEMO=$top_builddir/switchyard-demo
BACKEND=$top_srcdir/tests/health_backend.py
LOAD=$top_srcdir/tests/load_client.py
for p in "$SY" "$REGISTRY" "$DEMO"; do
	[ -x "$p" ] || { echo "# skip: $p is not built"; exit 77; }
done
command -v python3 >/dev/null || { echo "# skip: no python3"; exit 77; }
command -v curl >/dev/null || { echo "# skip: no curl"; exit 77; }

AGENT=127.0.0.1:$(free_port)
PP=$(free_port); PU=$(free_port)
URL=http://127.0.0.1:$PP
UI=http://127.0.0.1:$PU
CONNS=4
BASE_MS=2000            # health.outlier.basetime
INTER_MS=500 FALL=3     # health.check.interval, .fall (timeout 300ms)
RESP_MS=1000            # proxy.responseheadertimeout

now() { date +%s.%N; }
ms_since() {
	awk -v a="$1" -v b="${2:-$(now)}" \
		'BEGIN { d = (b - a) * 1000; printf "%d\n", d < 0 ? 0 : d }'
}
plus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f\n", a + b }'; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# ---- the registry and registrations ----
spawn registry "$REGISTRY" -addr "$AGENT" -interval-min 100ms \
	-deregister-min 1s -reap-interval 1s
wait_http "http://$AGENT/v1/status/leader" 10 || { fail "registry answers"; finish; }

# register ID NAME PORT TAG CHECK: a service at 127.0.0.1:PORT with one
# tag and the check definition CHECK (JSON).
register() {
	curl -sf -o /dev/null -X PUT --data \
		"{\"ID\":\"$1\",\"Name\":\"$2\",\"Address\":\"127.0.0.1\",\"Port\":$3,\"Tags\":[\"$4\"],\"Check\":$5}" \
		"http://$AGENT/v1/agent/service/register"
}
# a TTL check the test sets itself (check id service:<ID>)
TTL='{"TTL":"10m","Status":"passing"}'
# an HTTP check every 10 s, passing from the start
http_check() {
	echo "{\"HTTP\":\"http://127.0.0.1:$1/health\",\"Interval\":\"10s\",\"Timeout\":\"1s\",\"Status\":\"passing\"}"
}
ttl() { curl -sf -o /dev/null -X PUT "http://$AGENT/v1/agent/check/$2/service:$1"; }

# backend NAME MODE: a health_backend.py in MODE; sets PORT and PID_<NAME>.
backend() {
	PORT=$(free_port)
	echo "$2" >"$SY_TMP/$1.mode"
	spawn "$1" python3 "$BACKEND" "$PORT" "$1" "$SY_TMP/$1.mode"
	eval "PID_$1=\$SPAWNED PORT_$1=\$PORT"
	wait_until 10 grep -q ready "$SY_TMP/$1.log"
}
mode() { echo "$2" >"$SY_TMP/$1.mode"; }
# demo NAME PREFIX: a switchyard-demo (HTTP check on /health every 1 s).
demo() {
	PORT=$(free_port)
	spawn "$1" "$DEMO" -name "$1" -prefix "$2" -addr "127.0.0.1:$PORT" \
		-consul "$AGENT" -deregister 5s
}

# ---- switchyard ----
echo "health.outlier.maxpercent = 50" >"$SY_TMP/sy.props"
spawn switchyard "$SY" -cfg "$SY_TMP/sy.props" \
	-proxy.addr="127.0.0.1:$PP" -ui.addr="127.0.0.1:$PU" \
	-registry.consul.addr="$AGENT" -registry.consul.register.enabled=false \
	-proxy.workers=2 -proxy.responseheadertimeout=1s \
	-health.check.interval=${INTER_MS}ms -health.check.timeout=300ms \
	-health.check.fall=$FALL -health.outlier.basetime=2s \
	-health.outlier.maxtime=8s
SY_PID=$SPAWNED
SYLOG=$SY_TMP/switchyard.log
check "switchyard's admin answers" wait_http "$UI/health" 20 || finish
SANITIZED=${SY_SANITIZED:-0}
if grep -qE 'lib(asan|tsan)' "/proc/$SY_PID/maps" 2>/dev/null; then SANITIZED=1; fi
if [ "$SANITIZED" = 1 ]; then CBOUND=250; else CBOUND=100; fi
echo "# sanitizer build: $SANITIZED (Consul bound $CBOUND ms)"
alive() {
	kill -0 "$SY_PID" 2>/dev/null && return 0
	fail "switchyard is still running (see $SYLOG)"
	return 1
}

# ---- reading health ----
# hget SERVICE PORT EXPR: EXPR over the /api/health element (as e) of
# SERVICE at 127.0.0.1:PORT; "none" when there is no such element.
hget() {
	curl -s --max-time 2 "$UI/api/health" | python3 -c "
import json, sys
l = [e for e in json.load(sys.stdin)
     if e['service'] == '$1' and e['addr'] == '127.0.0.1:$2']
e = l[0] if l else None
print($3 if e else 'none')" 2>/dev/null
}
state_is() { [ "$(hget "$1" "$2" "e['state']")" = "$3" ]; }
# tr_time TARGET TO [AFTER]: the wall-clock time (seconds) of the first
# logged transition of TARGET (svc@addr) to TO at or after AFTER; empty
# when none.
TR_PY='import datetime, re, sys
target, to, after = sys.argv[2], sys.argv[3], float(sys.argv[4])
pat = re.compile(r"^(\S+)Z .*event=health_transition target=(\S+) from=\S+ to=(\S+)")
for line in open(sys.argv[1], errors="replace"):
    m = pat.match(line)
    if not m or m.group(2) != target or m.group(3) != to:
        continue
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f")
    t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
    if t >= after - 0.001:
        print("%.3f" % t)
        break'
tr_time() { python3 -c "$TR_PY" "$SYLOG" "$1" "$2" "${3:-0}"; }
# transitions TARGET TO: how many transitions of TARGET to TO were logged
transitions() { grep -c "event=health_transition target=$1 from=[a-z_]* to=$2 " "$SYLOG"; }

# ---- load ----
load_start() {
	python3 "$LOAD" run "$URL$2" --conns "$CONNS" --duration 60 \
		--stop-file "$SY_TMP/$1.stop" --ready-file "$SY_TMP/$1.ready" \
		--records "$SY_TMP/$1.tsv" >"$SY_TMP/$1.json" 2>"$SY_TMP/$1.err" &
	LOAD_PID=$!
	SY_PIDS="$SY_PIDS $LOAD_PID"
	wait_until 10 test -s "$SY_TMP/$1.ready"
}
load_stop() {
	touch "$SY_TMP/$1.stop"
	wait "$LOAD_PID"
	echo "# load $1: $(json "'%d requests (%.0f/s), %d ok, %d failed, kinds %s, status %s' % (d['requests'], d['rate'], d['ok'], d['failed'], d['kinds'], d['status'])" <"$SY_TMP/$1.json")"
}
window() {
	python3 "$LOAD" summary "$SY_TMP/$1.tsv" --from "$2" --to "$3" | json "$4"
}
# records NAME PYEXPR: PYEXPR over the records (r: start, end, conn,
# status, backend, kind) of load NAME, as the list rs
records() {
	python3 -c "
rs = []
for line in open('$SY_TMP/$1.tsv'):
    s, e, c, code, b, k = line.rstrip('\n').split('\t')
    rs.append((float(s), float(e), int(c), int(code), b, k))
print($2)"
}
routed() { # routed PATH N: N targets of PATH in /api/routes
	[ "$(curl -s --max-time 2 "$UI/api/routes" | json "len([x for x in d if x['path'] == '$1'])")" = "$2" ]
}

# ---- 1. kill -9 under load, Consul checks every 10 s ----
for n in k1 k2 k3; do
	backend $n ok || fail "backend $n starts"
	eval "register $n kill \$PORT_$n urlprefix-/kill \"\$(http_check \$PORT_$n)\"" ||
		fail "$n registers"
done
check "kill: three targets routed" wait_until 20 routed /kill 3
load_start kill /kill || fail "kill: load starts"
sleep 1
# the time first: the ejection may be logged within a millisecond
TK=$(now)
kill -9 "$PID_k2"
if wait_until 10 state_is kill "$PORT_k2" ejected; then
	ok "kill: the dead target is ejected"
else
	fail "kill: the dead target is ejected"
	echo "# kill: its entry in /api/health now: $(hget kill "$PORT_k2" "e")"
fi
TE=$(tr_time "kill@127.0.0.1:$PORT_k2" ejected "$TK")
sleep 1.5
load_stop kill
DETECT=$(ms_since "$TK" "${TE:-0}")
EARLY=$(window kill 0 "${TE:-$TK}" "d['failed']")
LATE=$(window kill "${TE:-$TK}" 1e12 "d['failed']")
echo "# kill: ejected ${DETECT} ms after kill -9 (Consul's check: every 10 s); failed requests: $EARLY before the ejection, $LATE after"
check "kill: out of rotation within 1 s (passive)" [ -n "$TE" ] && [ "$DETECT" -le 1000 ]
check "kill: ejected for the refused connects" sh -c "grep -q 'target=kill@127.0.0.1:$PORT_k2 from=up to=ejected reason=connect_refused' '$SYLOG'"
check "kill: at most the requests in flight failed ($EARLY <= $CONNS)" [ "$EARLY" -le "$CONNS" ]
check "kill: no request failed after the ejection" [ "$LATE" = 0 ]
check "kill: the other two kept answering" \
	[ "$(window kill "$(plus "$TK" 0.5)" 1e12 "sorted(d['backends'])")" = "['k1', 'k3']" ]
alive || finish

# ---- 2. a backend answering 500 to everything ----
# the failing backend joins once the load runs, so that the load client
# sees every 500 it sends
demo e1 /err
demo e2 /err
check "500: two demos routed" wait_until 20 routed /err 2
check "500: the demos answer" wait_until 20 sh -c \
	"[ \"\$(curl -s -o /dev/null -w '%{http_code}' $URL/err)\" = 200 ]"
load_start err /err || fail "500: load starts"
backend e3 500 || fail "backend e3 starts"
register e3 err "$PORT_e3" urlprefix-/err "$TTL" || fail "e3 registers"
check "500: the target is ejected" wait_until 10 state_is err "$PORT_e3" ejected
T5=$(tr_time "err@127.0.0.1:$PORT_e3" ejected 0)
mode e3 ok
TOK=$(now)
check "500: back when the ejection ended" wait_until 10 state_is err "$PORT_e3" up
TB=$(tr_time "err@127.0.0.1:$PORT_e3" up "$TOK")
sleep 1
load_stop err
N500=$(records err "sum(1 for r in rs if r[3] == 500 and r[4] == 'e3')")
OTHER=$(records err "sum(1 for r in rs if r[5] != 'ok' and not (r[3] == 500 and r[4] == 'e3'))")
BACK=$(records err "sum(1 for r in rs if r[5] == 'ok' and r[4] == 'e3' and r[0] >= ${TB:-1e12})")
LATE500=$(records err "sum(1 for r in rs if r[3] == 500 and r[0] >= ${T5:-0} + 0.1)")
echo "# 500: $N500 answers of 500 before the ejection (threshold 5, $CONNS in flight at most), none after: $LATE500; back $(ms_since "${T5:-0}" "${TB:-0}") ms after the ejection (basetime $BASE_MS ms), then $BACK answers of 200 from it; other failures $OTHER"
check "500: ejected after 5 answers (5 <= $N500 <= $((5 + CONNS)))" \
	[ "$N500" -ge 5 ] && [ "$N500" -le $((5 + CONNS)) ]
check "500: no 500 from 100 ms after the ejection" [ "$LATE500" = 0 ]
check "500: returned when the ejection ended" [ -n "$TB" ] && \
	[ "$(ms_since "$T5" "$TB")" -ge $((BASE_MS - 100)) ] && \
	[ "$(ms_since "$T5" "$TB")" -le $((BASE_MS + 1000)) ]
check "500: answers 200 once back" [ "$BACK" -gt 0 ]
check "500: no other request failed" [ "$OTHER" = 0 ]
check "500: reason consecutive_failures" sh -c "grep -q 'target=err@127.0.0.1:$PORT_e3 from=up to=ejected reason=consecutive_failures' '$SYLOG'"
check "500: up again by ejection_expired" sh -c "grep -q 'target=err@127.0.0.1:$PORT_e3 from=ejected to=up reason=ejection_expired' '$SYLOG'"
EJ=$(hget err "$PORT_e3" "e['outlier']['ejections']")
check "500: each ejection logged once ($EJ)" \
	[ "$(transitions "err@127.0.0.1:$PORT_e3" ejected)" = "$EJ" ]
check "500: each return logged once" \
	[ "$(transitions "err@127.0.0.1:$PORT_e3" up)" = "$EJ" ]
alive || finish

# ---- 3. a backend that accepts and never answers; probes on ----
demo h1 "/hang check=/health"
demo h2 "/hang check=/health"
backend h3 ok || fail "backend h3 starts"
register h3 hang "$PORT_h3" "urlprefix-/hang check=/health" "$TTL" || fail "h3 registers"
check "hang: three targets routed" wait_until 20 routed /hang 3
probed_up() { [ "$(hget hang "$PORT_h3" "e['probe']['enabled'] and e['probe']['up']")" = True ]; }
check "hang: probes on and passing for it" wait_until 10 probed_up
check "hang: the demos answer" wait_until 20 sh -c \
	"[ \"\$(curl -s -o /dev/null -w '%{http_code}' $URL/hang)\" = 200 ]"
load_start hang /hang || fail "hang: load starts"
sleep 0.5
mode h3 hang
TH=$(now)
check "hang: probes take it down" wait_until 10 state_is hang "$PORT_h3" probe_down
TD=$(tr_time "hang@127.0.0.1:$PORT_h3" probe_down "$TH")
check "hang: /api/routes shows it" sh -c \
	"curl -s $UI/api/routes | grep -q '\"dst\":\"http://127.0.0.1:$PORT_h3/\",[^}]*\"health\":\"probe_down\"'"
sleep 1.5
mode h3 ok
TU=$(now)
check "hang: back up after rise passing probes" wait_until 10 state_is hang "$PORT_h3" up
TUP=$(tr_time "hang@127.0.0.1:$PORT_h3" up "$TU")
load_stop hang
DOWN=$(ms_since "$TH" "${TD:-0}")
N504=$(records hang "sum(1 for r in rs if r[3] == 504)")
SLOW=$(records hang "min([r[1] - r[0] for r in rs if r[3] == 504] or [0])")
LATE504=$(records hang "sum(1 for r in rs if r[3] == 504 and r[0] >= ${TD:-0})")
OTHER=$(records hang "sum(1 for r in rs if r[5] != 'ok' and r[3] != 504)")
echo "# hang: $N504 requests got 504 (the quickest after ${SLOW} s; responseheadertimeout $RESP_MS ms), $LATE504 of them started after the probes took it down; down $DOWN ms after it hung (fall x interval = $((FALL * INTER_MS)) ms, timeout 300 ms); up again $(ms_since "$TU" "${TUP:-0}") ms after it answered (rise 2); other failures $OTHER"
check "hang: its requests got 504" [ "$N504" -gt 0 ]
check "hang: 504 after the response-header timeout" \
	[ "$(awk -v s="$SLOW" 'BEGIN { print (s >= 0.95) }')" = 1 ]
check "hang: down after about fall x interval ($DOWN ms)" [ -n "$TD" ] && \
	[ "$DOWN" -ge $(((FALL - 1) * INTER_MS)) ] && [ "$DOWN" -le $((FALL * INTER_MS + 1000)) ]
check "hang: no request started to it once down" [ "$LATE504" = 0 ]
check "hang: nothing else failed" [ "$OTHER" = 0 ]
alive || finish

# ---- 4. Consul marks a target critical ----
for n in c1 c2 c3; do
	backend $n ok || fail "backend $n starts"
	eval "register $n crit \$PORT_$n urlprefix-/crit \"\$TTL\"" || fail "$n registers"
done
check "critical: three targets routed" wait_until 20 routed /crit 3
load_start crit /crit || fail "critical: load starts"
sleep 0.5
ROUNDS=""
for n in c2 c3 c1; do
	ttl $n fail || fail "critical: $n fails its check"
	TF=$(now)
	sleep 0.7
	ttl $n pass || fail "critical: $n passes again"
	wait_until 10 routed /crit 3
	sleep 0.5
	ROUNDS="$ROUNDS $n:$TF"
done
load_stop crit
GAPS=""
for r in $ROUNDS; do
	n=${r%%:*} TF=${r#*:}
	LAST=$(records crit "max([r[0] for r in rs if r[4] == '$n' and r[0] < $TF + 0.6] or [0])")
	GAP=$(awk -v a="$TF" -v b="$LAST" 'BEGIN { d = (b - a) * 1000; printf "%d\n", d < 0 ? 0 : d }')
	GAPS="$GAPS $GAP"
done
# shellcheck disable=SC2086
MEDIAN=$(printf '%s\n' $GAPS | sort -n | sed -n 2p)
echo "# critical: the last request to the failed target started$GAPS ms after the agent answered (median $MEDIAN ms, bound $CBOUND ms)"
check "critical: no new request after ${CBOUND} ms (median of 3)" [ "$MEDIAN" -le "$CBOUND" ]
check "critical: no request failed" [ "$(json "d['failed']" <"$SY_TMP/crit.json")" = 0 ]
alive || finish

# ---- 5. no fit target: 503 with Retry-After ----
backend s1 ok || fail "backend s1 starts"
register s1 solo "$PORT_s1" urlprefix-/solo "$TTL" || fail "s1 registers"
check "solo: routed" wait_until 20 routed /solo 1
ttl s1 fail
check "solo: Consul holds it down" wait_until 10 state_is solo "$PORT_s1" consul_down
curl -s -D "$SY_TMP/solo.head" -o /dev/null --max-time 5 "$URL/solo"
echo "# solo, Consul down: $(head -1 "$SY_TMP/solo.head" | tr -d '\r'), $(grep -i '^retry-after' "$SY_TMP/solo.head" | tr -d '\r')"
check "solo, Consul down: 503 with Retry-After: 1" sh -c \
	"head -1 '$SY_TMP/solo.head' | grep -q ' 503 ' && grep -qix 'retry-after: 1.' '$SY_TMP/solo.head'"
ttl s1 pass
check "solo: up again" wait_until 10 state_is solo "$PORT_s1" up
# a route of one target is never ejected at 50 %; at 100 % it is
mode s1 500
for i in 1 2 3 4 5 6; do curl -s -o /dev/null --max-time 5 "$URL/solo"; done
check "solo at 50 %: the cap keeps it" state_is solo "$PORT_s1" up
CAPPED=$(hget solo "$PORT_s1" "e['outlier']['capped']")
echo "health.outlier.maxpercent = 100" >"$SY_TMP/sy.props"
kill -HUP "$SY_PID"
check "SIGHUP: maxpercent applied" wait_until 5 grep -q 'key changed" key=health.outlier.maxpercent' "$SYLOG"
curl -s -o /dev/null --max-time 5 "$URL/solo"
check "solo at 100 %: ejected" wait_until 5 state_is solo "$PORT_s1" ejected
curl -s -D "$SY_TMP/solo2.head" -o /dev/null --max-time 5 "$URL/solo"
RA=$(grep -i '^retry-after' "$SY_TMP/solo2.head" | tr -d '\r' | sed 's/.*: *//')
echo "# solo, ejected: $(head -1 "$SY_TMP/solo2.head" | tr -d '\r'), Retry-After: $RA (basetime $BASE_MS ms); ejections the cap held back before: $CAPPED"
check "solo at 50 %: the cap was counted" [ "$CAPPED" -ge 1 ]
check "solo, ejected: 503" sh -c "head -1 '$SY_TMP/solo2.head' | grep -q ' 503 '"
check "solo, ejected: Retry-After is the ejection's end (1..2 s)" \
	[ -n "$RA" ] && [ "$RA" -ge 1 ] && [ "$RA" -le $((BASE_MS / 1000)) ]
alive || finish

# ---- the admin API and the log ----
check "/api/health lists every target" [ "$(curl -s "$UI/api/health" | json 'len(d)')" -ge 12 ]
check "transitions logged with target, from, to and reason" \
	grep -qE 'event=health_transition target=[^ ]+@[0-9.:]+ from=[a-z_]+ to=[a-z_]+ reason=[^ ]+$' "$SYLOG"
kill -TERM "$SY_PID"
wait "$SY_PID"
check "switchyard exits 0" [ $? = 0 ]
finish
