#!/bin/sh
# it_hardening.sh - switchyard's strict HTTP/1.1 front end, end to end.
# switchyard-registry stands in for Consul; tests/recording_backend.py,
# registered with a `urlprefix-/` route, records the exact bytes it
# receives. Four daemons (one worker each) sit in front of it: defaults;
# proxy.header.trustedcidrs=127.0.0.0/8; small limits and 1 s deadlines
# (one limit from a -cfg file, changed by SIGHUP); and
# proxy.maxclientconns=2. Raw over sockets: every case of
# tests/hardening_cases.py (the A7 smuggling payloads, the limits, the
# valid edge cases) gets switchyard's status, a rejected one closes the
# connection with nothing at all reaching the backend, and a valid one
# reaches the backend intact (one Host, the body re-framed by
# Content-Length, no Transfer-Encoding, no Expect, no hop-by-hop field);
# forwarding headers replaced or, for a trusted peer, kept; Connection
# cannot remove the fields switchyard sets; hop-by-hop fields removed
# from responses; a backend's ambiguous or invalid response is a 502;
# 414/431/413 at small limits and a limit changed live; the header, body
# and idle deadlines (408 and a close, or a silent close); a connection
# cap that holds new connections in the backlog until one closes.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

SWITCHYARD=$top_builddir/switchyard
REGISTRY=$top_builddir/switchyard-registry
TESTS_DIR=$top_srcdir/tests
for p in "$SWITCHYARD" "$REGISTRY"; do
	[ -x "$p" ] || { echo "# skip: $p is not built"; exit 77; }
done
command -v python3 >/dev/null || { echo "# skip: no python3"; exit 77; }
command -v curl >/dev/null || { echo "# skip: no curl"; exit 77; }
PY=$(python3 -c 'import sys; print(sys.executable)')
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE

# shellcheck disable=SC2046  # split on purpose
set -- $("$PY" -c '
import socket
ss = [socket.socket() for _ in range(10)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
[ $# -eq 10 ] || { fail "10 free ports"; finish; }
REG=127.0.0.1:$1 PBK=$2 PA=$3 UA=$4 PT=$5 UT=$6 PL=$7 UL=$8 PC=$9
shift 9
UC=$1

REC=$SY_TMP/rec
mkdir -p "$REC"
spawn registry "$REGISTRY" -addr "$REG" -interval-min 100ms \
	-deregister-min 1s -reap-interval 1s
spawn backend "$PY" "$TESTS_DIR/recording_backend.py" "$PBK" "$REC"
wait_http "http://$REG/v1/status/leader" 20 || { fail "registry answers"; finish; }
wait_http "http://127.0.0.1:$PBK/" 20 || { fail "recording backend answers"; finish; }
check "the recording backend registered with urlprefix-/" \
	curl -sf -o /dev/null --max-time 5 -X PUT --data "{\"ID\":\"rec-1\",\
\"Name\":\"rec\",\"Address\":\"127.0.0.1\",\"Port\":$PBK,\"Tags\":[\"urlprefix-/\"]}" \
	"http://$REG/v1/agent/service/register"

# sy NAME PROXYPORT UIPORT FLAG...: a daemon with one worker in front of it
sy() {
	_n=$1 _p=$2 _u=$3; shift 3
	spawn "$_n" "$SWITCHYARD" -proxy.addr="127.0.0.1:$_p" -ui.addr="127.0.0.1:$_u" \
		-registry.consul.addr="$REG" -registry.consul.register.enabled=false \
		-proxy.workers=1 -log.access.target= "$@"
}
CFG=$SY_TMP/limits.properties
printf 'proxy.maxheaders = 10\n' >"$CFG"
sy sy-default "$PA" "$UA"
sy sy-trusted "$PT" "$UT" -proxy.header.trustedcidrs=127.0.0.0/8
sy sy-limits "$PL" "$UL" -cfg "$CFG" -proxy.maxrequestline=1k \
	-proxy.maxheaderbytes=2k -proxy.maxbody=1k -proxy.headertimeout=1s \
	-proxy.bodytimeout=1s -proxy.idletimeout=1s \
	-log.access.target="$SY_TMP/limits-access.log" -log.access.format=common
PID_LIMITS=$SPAWNED
sy sy-conns "$PC" "$UC" -proxy.maxclientconns=2

routed() {
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$1/")" = 200 ]
}
for p in "$PA" "$PT" "$PL" "$PC"; do
	wait_until 30 routed "$p" || {
		fail "switchyard on $p routes / to the backend"
		for f in "$SY_TMP"/sy-*.log; do echo "# $f:"; tail -n 5 "$f"; done
		finish
	}
done
ok "four switchyards route / to the recording backend"

# tap FILE: the check lines a Python part wrote, counted here.
tap() {
	while IFS= read -r line; do
		case $line in
		"ok - "*) ok "${line#ok - }" ;;
		"not ok - "*) fail "${line#not ok - }" ;;
		*) printf '%s\n' "$line" ;;
		esac
	done <"$1"
}
# part NAME ARGS... <<'EOF': run the Python on stdin with the shared module
# importable; its check lines go through tap.
part() {
	_name=$1; shift
	"$PY" - "$TESTS_DIR" "$REC" "$@" >"$SY_TMP/$_name.out" 2>&1 ||
		echo "not ok - the $_name part ran to its end (exit $?)" >>"$SY_TMP/$_name.out"
	tap "$SY_TMP/$_name.out"
}

# ---- every case with the default limits ----
part cases "$PA" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
from hardening_cases import CASES, Recording, judge, report

rec = Recording(sys.argv[2])
port = int(sys.argv[3])
before = rec.settle()
for case in CASES:
    passed, what, details, before = judge(port, rec, case, before)
    report(passed, what, details)
EOF

# ---- forwarding headers: replaced by default, kept for a trusted peer ----
part forwarding "$PA" "$PT" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
from hardening_cases import Recording, report, shorten, talk

rec = Recording(sys.argv[2])
pa, pt = int(sys.argv[3]), int(sys.argv[4])

CLIENT = (b"GET /fwd HTTP/1.1\r\nHost: fwd.example:8080\r\n"
          b"X-Forwarded-For: 1.2.3.4\r\nX-Real-Ip: 6.6.6.6\r\n"
          b"X-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\n"
          b"X-Forwarded-Port: 1\r\nX-Forwarded-Prefix: /evil\r\n"
          b"Forwarded: for=6.6.6.6\r\n\r\n")
OURS = 'for=127.0.0.1;proto=http;host="fwd.example:8080"'


def seen(port, payload):
    before = rec.settle()
    r = talk(port, payload)
    rec.settle()
    reqs = rec.requests_since(before)
    code = r.responses[0].code if r.responses else None
    return code, (reqs[0] if len(reqs) == 1 else None), rec.since(before)


def fields(port, payload, label, want):
    """One check per field: its values at the backend, joined with ", "
    (None: the field must be absent)."""
    code, req, raw = seen(port, payload)
    if code != 200 or req is None:
        report(False, "%s: the request is forwarded once" % label,
               ["status %s; the backend saw %s" % (code, shorten(raw))])
        return
    for name, value in want:
        got = ", ".join(v.decode() for v in req.values(name)) or None
        if name == "forwarded" and got:
            got = ", ".join(e.strip() for e in got.split(","))
        report(got == value, "%s: %s %s" % (
            label, name, "absent" if value is None else "= %s" % value),
               ["got %r; the backend saw %s" % (got, shorten(raw, 600))])


fields(pa, CLIENT, "default", [
    ("x-forwarded-for", "1.2.3.4, 127.0.0.1"),
    ("x-real-ip", "127.0.0.1"),
    ("x-forwarded-proto", "http"),
    ("x-forwarded-host", "fwd.example:8080"),
    ("x-forwarded-port", str(pa)),
    ("x-forwarded-prefix", None),
    ("forwarded", OURS)])
fields(pa, b"GET /fwd HTTP/1.1\r\nHost: fwd.example:8080\r\n\r\n",
       "default, no client values", [
           ("x-forwarded-for", "127.0.0.1"),
           ("x-real-ip", "127.0.0.1"),
           ("forwarded", OURS)])
fields(pt, CLIENT, "trustedcidrs=127.0.0.0/8", [
    ("x-forwarded-for", "1.2.3.4, 127.0.0.1"),
    ("x-real-ip", "6.6.6.6"),
    ("x-forwarded-proto", "https"),
    ("x-forwarded-host", "evil.example"),
    ("x-forwarded-port", "1"),
    ("x-forwarded-prefix", "/evil"),
    ("forwarded", "for=6.6.6.6, " + OURS)])

# Connection names fields to drop, but never one switchyard sets
fields(pa, b"GET /conn HTTP/1.1\r\nHost: backend\r\n"
       b"Connection: x-forwarded-host, x-custom\r\nX-Custom: c\r\n"
       b"X-Other: o\r\n\r\n", "Connection: x-forwarded-host, x-custom", [
           ("x-custom", None),
           ("x-forwarded-host", "backend"),
           ("x-other", "o"),
           ("connection", None)])
fields(pa, b"GET /conn HTTP/1.1\r\nHost: backend\r\n"
       b"Connection: keep-alive, x-real-ip, x-forwarded-for, forwarded, "
       b"x-forwarded-proto, x-forwarded-port, x-forwarded-host\r\n\r\n",
       "Connection naming every field switchyard sets", [
           ("x-real-ip", "127.0.0.1"),
           ("x-forwarded-for", "127.0.0.1"),
           ("forwarded", 'for=127.0.0.1;proto=http;host=backend'),
           ("x-forwarded-proto", "http"),
           ("x-forwarded-port", str(pa)),
           ("x-forwarded-host", "backend")])
# hop-by-hop fields never reach the backend
fields(pa, b"GET /hop-req HTTP/1.1\r\nHost: backend\r\n"
       b"Connection: keep-alive, x-a\r\nX-A: a\r\nKeep-Alive: timeout=5\r\n"
       b"Proxy-Connection: keep-alive\r\nTE: trailers\r\nTrailer: X-T\r\n"
       b"Upgrade: h2c\r\nX-B: b\r\n\r\n", "hop-by-hop request fields", [
           ("connection", None), ("keep-alive", None),
           ("proxy-connection", None), ("te", None), ("trailer", None),
           ("upgrade", None), ("transfer-encoding", None), ("x-a", None),
           ("x-b", "b")])
EOF

# ---- responses: hop-by-hop fields removed, bad framing a 502 ----
part responses "$PA" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
from hardening_cases import header_values, report, shorten, talk

port = int(sys.argv[3])
r = talk(port, b"GET /hop HTTP/1.1\r\nHost: backend\r\n\r\n")
resp = r.responses[0] if r.responses else None
if resp is None or resp.code != 200:
    report(False, "/hop answers 200", ["got %s" % shorten(r.data)])
else:
    for name in (b"x-secret", b"keep-alive", b"upgrade"):
        vals = header_values(resp.head, name)
        report(not vals, "/hop: the response reaches the client without %s"
               % name.decode(), ["its head: %s" % shorten(resp.head)])
    conn = b",".join(header_values(resp.head, b"connection")).lower()
    report(b"x-secret" not in conn,
           "/hop: the backend's Connection field is not passed on",
           ["its head: %s" % shorten(resp.head)])
    report(header_values(resp.head, b"x-visible") == [b"v"] and
           resp.body == b"ok", "/hop: X-Visible and the body arrive",
           ["got %s" % shorten(r.data)])
for path, what in ((b"/bad/clte", "Content-Length and Transfer-Encoding"),
                   (b"/bad/status", "the status line HTTP/1.1 2x0 OK")):
    r = talk(port, b"GET " + path + b" HTTP/1.1\r\nHost: backend\r\n\r\n")
    got = [x.code for x in r.responses]
    report(got == [502], "%s (%s from the backend): 502"
           % (path.decode(), what), ["got %s" % shorten(r.data)])
EOF

# ---- small limits, and one changed by SIGHUP ----
part limits "$PL" "$PID_LIMITS" "$CFG" <<'EOF'
import os, signal, sys, time
sys.path.insert(0, sys.argv[1])
from hardening_cases import (CHUNK0, Case, Recording, forwarded, get_fields,
                             get_line, has_fields, judge, post, report, talk)

rec = Recording(sys.argv[2])
port, pid, cfg = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
H = b"Host: backend\r\n"


def big_field(n):
    return b"GET / HTTP/1.1\r\n" + H + b"X-Big: " + b"v" * n + b"\r\n\r\n"


def chunks(total):
    return b"".join(b"%x\r\n%s\r\n" % (n, b"c" * n)
                    for n in (1000, total - 1000)) + CHUNK0


C = [
    Case("maxrequestline=1k: a 1024-byte line", "", get_line(1024), "200", 1,
         forwarded((b"GET", b"/" + b"a" * (1024 - 14), b""))),
    Case("maxrequestline=1k: a 1025-byte line", "", get_line(1025), "414", 1,
         None),
    Case("maxheaderbytes=2k: a 1942-byte head", "", big_field(1900), "200", 1,
         forwarded((b"GET", b"/", b""))),
    Case("maxheaderbytes=2k: a 2142-byte head", "", big_field(2100), "431", 1,
         None),
    Case("maxheaders=10 (-cfg): 10 fields", "", get_fields(10), "200", 1,
         forwarded((b"GET", b"/", b"", has_fields(b"x-h", 9)))),
    Case("maxheaders=10 (-cfg): 11 fields", "", get_fields(11), "431", 1,
         None),
    Case("maxbody=1k: Content-Length 1024", "",
         post(b"Content-Length: 1024\r\n", b"b" * 1024), "200", 1,
         forwarded((b"POST", b"/", b"b" * 1024))),
    Case("maxbody=1k: Content-Length 1025", "",
         post(b"Content-Length: 1025\r\n", b"b" * 1025), "413", 1, None),
    Case("maxbody=1k: 1024 bytes chunked", "",
         post(b"Transfer-Encoding: chunked\r\n", chunks(1024)), "200", 1,
         forwarded((b"POST", b"/", b"c" * 1024))),
    Case("maxbody=1k: 1025 bytes chunked", "",
         post(b"Transfer-Encoding: chunked\r\n", chunks(1025)), "413", 1,
         None),
]
before = rec.settle()
for case in C:
    passed, what, details, before = judge(port, rec, case, before)
    report(passed, what, details)

with open(cfg, "w") as fh:
    fh.write("proxy.maxheaders = 20\n")
os.kill(pid, signal.SIGHUP)
t0, codes = time.monotonic(), []
while time.monotonic() - t0 < 10:
    r = talk(port, get_fields(11))
    codes = [x.code for x in r.responses]
    if codes == [200]:
        break
    time.sleep(0.2)
print("# SIGHUP maxheaders 10 -> 20: 11 fields answered 200 after %.2f s"
      % (time.monotonic() - t0))
report(codes == [200], "SIGHUP: proxy.maxheaders = 20 applies live",
       ["11 fields still got %s 10 s after the SIGHUP" % codes])
before = rec.settle()
for case in [
        Case("maxheaders=20 after SIGHUP: 20 fields", "", get_fields(20),
             "200", 1, forwarded((b"GET", b"/", b"", has_fields(b"x-h", 19)))),
        Case("maxheaders=20 after SIGHUP: 21 fields", "", get_fields(21),
             "431", 1, None),
        Case("after SIGHUP the flags still hold: a 1025-byte line", "",
             get_line(1025), "414", 1, None)]:
    passed, what, details, before = judge(port, rec, case, before)
    report(passed, what, details)
EOF

check "SIGHUP: the change of proxy.maxheaders is logged" \
	grep -q 'reload: key changed" key=proxy.maxheaders' "$SY_TMP/sy-limits.log"

# ---- deadlines: 1 s for the head, the body and keep-alive idling ----
part deadlines "$PL" <<'EOF'
import select, socket, sys, time
sys.path.insert(0, sys.argv[1])
from hardening_cases import (Recording, answer, header_values, report,
                             responses_in, shorten)

rec = Recording(sys.argv[2])
port = int(sys.argv[3])
# the deadline is 1 s, checked every 250 ms; a slow (sanitizer) build may
# take longer, so the upper bound has slack
LOW, HIGH = 0.9, 4.0


def watch(s, t0, most=6.0, feed=None):
    """Reads s until the peer closes or most seconds from t0 pass; feed
    (a list of (when, bytes)) is sent meanwhile. Returns the bytes read,
    whether the peer closed, and the seconds from t0 to the close."""
    buf, feed = b"", list(feed or [])
    while True:
        now = time.monotonic() - t0
        if now >= most:
            return buf, False, now
        if feed and feed[0][0] <= now:
            try:
                s.sendall(feed.pop(0)[1])
            except OSError:
                feed = []
            continue
        wait = (feed[0][0] if feed else most) - now
        r, _, _ = select.select([s], [], [], max(0.0, min(wait, most - now)))
        if not r:
            continue
        try:
            data = s.recv(65536)
        except OSError:
            return buf, True, time.monotonic() - t0
        if not data:
            return buf, True, time.monotonic() - t0
        buf += data


def timed_408(what, first, feed=None):
    """Sends first, then feed, and wants a 408 with Connection: close and
    then a close, between LOW and HIGH seconds from the connect, with
    nothing forwarded."""
    before = rec.settle()
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    t0 = time.monotonic()
    s.sendall(first)
    buf, closed, t = watch(s, t0, feed=feed)
    s.close()
    after = rec.settle()
    resp = responses_in(buf)
    codes = [x.code for x in resp]
    probs = []
    if codes != [408]:
        probs.append("want 408, got %s" % (shorten(buf) if buf else "no bytes"))
    elif not any(b"close" in v.lower()
                 for v in header_values(resp[0].head, b"connection")):
        probs.append("the 408 has no Connection: close")
    if not closed:
        probs.append("no close within %.1f s" % t)
    print("# %s: %s and %s after %.2f s" % (
        what, codes or "no answer", "a close" if closed else "no close", t))
    if closed and not LOW <= t <= HIGH:
        probs.append("the close came after %.2f s, want %.1f-%.1f s"
                     % (t, LOW, HIGH))
    if after != before and rec.since(before):
        probs.append("the backend saw %s" % shorten(rec.since(before)))
    report(not probs, "%s: 408 and a close at the deadline" % what, probs)


timed_408("headertimeout=1s, half a head then silence",
          b"GET / HTTP/1.1\r\nHost: bac")
# a byte every 200 ms keeps an inactivity timer alive for ever; the head
# deadline is total
head = b"GET / HTTP/1.1\r\nHost: backend\r\nX-Slow: " + b"s" * 40 + b"\r\n\r\n"
timed_408("headertimeout=1s, a head trickled a byte per 200 ms",
          head[:1], feed=[(0.2 * (i + 1), head[i + 1:i + 2])
                          for i in range(len(head) - 1)])
timed_408("bodytimeout=1s, Content-Length 10 with 3 bytes",
          b"POST / HTTP/1.1\r\nHost: backend\r\nContent-Length: 10\r\n\r\nabc")

# a fresh connection that sends nothing is closed without a byte
s = socket.create_connection(("127.0.0.1", port), timeout=5)
t0 = time.monotonic()
buf, closed, t = watch(s, t0)
s.close()
print("# headertimeout=1s, nothing sent: %d bytes and %s after %.2f s"
      % (len(buf), "a close" if closed else "no close", t))
report(closed and not buf and LOW <= t <= HIGH,
       "headertimeout=1s: a connection that sends nothing is closed "
       "silently at the deadline",
       ["got %s, %s after %.2f s" % (shorten(buf), "closed" if closed
                                     else "not closed", t)])

# keep-alive: a second request within the idle timeout is answered; then
# the idle connection is closed without a byte about 1 s after the answer
REQ = b"GET / HTTP/1.1\r\nHost: backend\r\n\r\n"


s = socket.create_connection(("127.0.0.1", port), timeout=5)
time.sleep(0.3)  # within the head deadline of a fresh connection
s.sendall(REQ)
buf, _ = answer(s)
report([x.code for x in responses_in(buf)] == [200],
       "a head sent 0.3 s after the connect is in time and answered",
       ["got %s" % shorten(buf)])
time.sleep(0.3)
s.sendall(REQ)
buf, _ = answer(s)
report([x.code for x in responses_in(buf)] == [200],
       "idletimeout=1s: a request after 0.3 s idle is answered",
       ["got %s" % shorten(buf)])
rest, closed, t = watch(s, time.monotonic())
s.close()
print("# idletimeout=1s: the kept-alive connection closed after %.2f s idle"
      " (%s)" % (t, "closed" if closed else "not closed"))
report(closed and not rest and LOW <= t <= HIGH,
       "idletimeout=1s: an idle kept-alive connection is closed silently",
       ["got %s, %s after %.2f s" % (shorten(rest), "closed" if closed
                                     else "not closed", t)])
EOF

# ---- maxclientconns=2: a third connection waits in the backlog ----
part conns "$PC" <<'EOF'
import select, socket, sys, time
sys.path.insert(0, sys.argv[1])
from hardening_cases import answer, report, responses_in, shorten

port = int(sys.argv[3])
REQ = b"GET / HTTP/1.1\r\nHost: backend\r\n\r\n"


def codes(buf):
    return [x.code for x in responses_in(buf)]


c1 = socket.create_connection(("127.0.0.1", port), timeout=5)
c2 = socket.create_connection(("127.0.0.1", port), timeout=5)
got = []
for c in (c1, c2):
    c.sendall(REQ)
    got.append(answer(c, 5)[0])
report(all(codes(b) == [200] for b in got),
       "maxclientconns=2: two connections answered and kept alive",
       ["got %s" % [shorten(b) for b in got]])
c3 = socket.create_connection(("127.0.0.1", port), timeout=5)
c3.sendall(REQ)
early, _ = answer(c3, 1.5)
report(not early, "maxclientconns=2: a third connection gets no answer "
       "while two are open", ["it got %s" % shorten(early)])
t0 = time.monotonic()
c1.close()
late, _ = answer(c3, 5)
t = time.monotonic() - t0
print("# maxclientconns=2: the third connection answered %.2f s after one "
      "of the two closed" % t)
report(codes(early + late) == [200] and t <= 4.0,
       "maxclientconns=2: once one closes, the third is answered",
       ["it got %s within %.2f s" % (shorten(early + late), t)])
c2.sendall(REQ)
b2, _ = answer(c2, 5)
report(codes(b2) == [200], "maxclientconns=2: the other kept-alive "
       "connection still works", ["got %s" % shorten(b2)])
c2.close()
c3.close()
EOF

# refused requests are counted and logged like answered ones: a line per
# 414, 431 and 408 (method and target "-" when the head never parsed)
for st in 414 431 408 413; do
	check "a refused request ($st) has its access log line" \
		wait_until 5 grep -q "\" $st " "$SY_TMP/limits-access.log"
done
kill -TERM "$PID_LIMITS"
check "switchyard stops on SIGTERM" wait_until 20 sh -c "! kill -0 $PID_LIMITS 2>/dev/null"
finish
