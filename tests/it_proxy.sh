#!/bin/sh
# it_proxy.sh - the data path end to end: lb_proxy_harness (two workers)
# in front of small Python backends (tests/proxy_backend.py). Routing by
# prefix and by host; strip, prepend, host=, redirect, allow/deny; weights
# over 2,000 requests; the no-route page; connect refused (502, and the
# other target instead when there is one); no healthy target (503); an
# upstream that never answers (504 after the response-header timeout) or
# answers garbage (502); a target given by name; X-Forwarded-*, Forwarded
# and hop-by-hop removal; Connection: close and HTTP/1.0 keep-alive;
# bodies both ways and 413; a 50 MB response (and 20 MB chunked) through
# a slow client with flat memory; a client leaving mid-stream; keep-alive
# reuse, idle expiry and the resend on a kept-alive connection the
# upstream dropped; pipelining; strict request framing (chunked request
# bodies, 100-continue, a body split across reads, and 400/431/501/505
# with a close for heads that are ambiguous or malformed); a table
# reload; the access log; and a graceful stop that lets the request in
# flight finish and answers a kept-alive connection idle at the stop.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

HARNESS=$top_builddir/lb_proxy_harness
BACKEND=$top_srcdir/tests/proxy_backend.py
[ -x "$HARNESS" ] || { echo "# skip: $HARNESS is not built"; exit 77; }
command -v python3 >/dev/null || { echo "# skip: no python3"; exit 77; }
command -v curl >/dev/null || { echo "# skip: no curl"; exit 77; }

PA=$(free_port); PB=$(free_port); PC=$(free_port); PD=$(free_port)
PDEAD=$(free_port); PDOWN=$(free_port)
spawn backend-a python3 "$BACKEND" serve "$PA" A
spawn backend-b python3 "$BACKEND" serve "$PB" B
spawn backend-c python3 "$BACKEND" serve "$PC" C
spawn backend-d python3 "$BACKEND" serve "$PD" D
for p in "$PA" "$PB" "$PC" "$PD"; do
	wait_http "http://127.0.0.1:$p/stats" || { fail "backend on $p"; finish; }
done

ROUTES=$SY_TMP/routes
cat >"$ROUTES" <<EOF
route add a /a http://127.0.0.1:$PA/
route add b /b http://127.0.0.1:$PB/ opts "strip=/b"
route add c /p http://127.0.0.1:$PC/ opts "prepend=/pre"
route add h host.example/ http://127.0.0.1:$PB/
route add r /r https://example.com\$path opts "redirect=301"
route add deny /deny http://127.0.0.1:$PA/ opts "deny=ip:127.0.0.1"
route add allow /allow http://127.0.0.1:$PA/ opts "allow=ip:127.0.0.0/8"
route add wa /w http://127.0.0.1:$PA/ weight 0.25
route add wb /w http://127.0.0.1:$PB/
route add dead /dead http://127.0.0.1:$PDEAD/
route add half /half http://127.0.0.1:$PDEAD/
route add half /half http://127.0.0.1:$PC/
route add hang /hang http://127.0.0.1:$PA/
route add hd /hd http://127.0.0.1:$PA/ opts "host=dst"
route add hn /hn http://127.0.0.1:$PA/ opts "host=named.example"
route add big /big http://127.0.0.1:$PA/
route add ka /ka http://127.0.0.1:$PD/
route add once /once http://127.0.0.1:$PD/
route add slow /slow http://127.0.0.1:$PA/
route add dns /dns http://localhost:$PA/
route add down /down http://127.0.0.1:$PDOWN/
route add garbage /garbage http://127.0.0.1:$PC/
EOF

NOROUTE='<html><body>no route here</body></html>'
# under AddressSanitizer freed memory waits in a quarantine, which would
# look like the growth the streaming checks look for (ignored otherwise)
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1"
export ASAN_OPTIONS
spawn harness "$HARNESS" -listen 127.0.0.1:0 -workers 2 \
	-routes-file "$ROUTES" -response-timeout 800 -dial-timeout 2000 \
	-idle-timeout 1500 -maxbody 1048576 -noroute-html "$NOROUTE" \
	-access-log "$SY_TMP/access.log" -access-format json \
	-port-file "$SY_TMP/port" -shutdown-wait 5000 -down "127.0.0.1:$PDOWN"
HPID=$SPAWNED
wait_until 10 test -s "$SY_TMP/port" || { fail "harness started"; finish; }
P=$(cat "$SY_TMP/port")
URL=http://127.0.0.1:$P
wait_http "$URL/" || { fail "harness answers"; finish; }

# get PATH [curl args]: the body; status PATH [curl args]: the status.
get() { _p=$1; shift; curl -s --max-time 10 "$@" "$URL$_p"; }
status() {
	_p=$1; shift
	curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@" "$URL$_p"
}
# json FILE EXPR: EXPR (python, d = the document) of a JSON file.
json() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
# header FILE NAME: the value of a header the backend received.
header() { json "$1" "[v for k, v in d['headers'] if k.lower() == '$2'.lower()]"; }
stats() { curl -s --max-time 5 "http://127.0.0.1:$1/stats" >"$SY_TMP/stats.json"; }

# ---- routing ----
get /a/x?y=1 >"$SY_TMP/a.json"
check "prefix /a goes to A" [ "$(json "$SY_TMP/a.json" "d['name']")" = A ]
check "path and query pass" [ "$(json "$SY_TMP/a.json" "d['path']")" = "/a/x?y=1" ]
get /anything -H 'Host: host.example' >"$SY_TMP/h.json"
check "host route goes to B" [ "$(json "$SY_TMP/h.json" "d['name']")" = B ]
check "the client's Host is kept" \
	[ "$(header "$SY_TMP/h.json" host)" = "['host.example']" ]
get /anything -H 'Host: HOST.example:80' >"$SY_TMP/h2.json"
check "host match ignores case and :80" \
	[ "$(json "$SY_TMP/h2.json" "d['name']")" = B ]
get /b/x/y >"$SY_TMP/b.json"
check "strip=/b" [ "$(json "$SY_TMP/b.json" "d['path']")" = /x/y ]
check "X-Forwarded-Prefix with strip" \
	[ "$(header "$SY_TMP/b.json" x-forwarded-prefix)" = "['/b']" ]
get /p/x >"$SY_TMP/p.json"
check "prepend=/pre" [ "$(json "$SY_TMP/p.json" "d['path']")" = /pre/p/x ]
get /a/../p/z >"$SY_TMP/dots.json"
check "dot segments are resolved before routing" \
	[ "$(json "$SY_TMP/dots.json" "d['path']")" = /pre/p/z ]
get /hd >"$SY_TMP/hd.json"
check "host=dst sends the target's address" \
	[ "$(header "$SY_TMP/hd.json" host)" = "['127.0.0.1:$PA']" ]
get /hn >"$SY_TMP/hn.json"
check "host=NAME sends the name" \
	[ "$(header "$SY_TMP/hn.json" host)" = "['named.example']" ]

# ---- redirect, allow/deny, no route ----
curl -s -o /dev/null -D "$SY_TMP/r.head" --max-time 5 "$URL/r/a?q=1"
check "redirect=301 answers 301" grep -q '^HTTP/1.1 301' "$SY_TMP/r.head"
check "redirect Location has \$path and the query" \
	grep -q '^Location: https://example.com/r/a?q=1' "$SY_TMP/r.head"
check "deny=ip:127.0.0.1 gives 403" [ "$(status /deny)" = 403 ]
check "allow=ip:127.0.0.0/8 lets us in" [ "$(status /allow)" = 200 ]
check "allow checks X-Forwarded-For too" \
	[ "$(status /allow -H 'X-Forwarded-For: 10.9.9.9')" = 403 ]
check "no route: 404" [ "$(status /nothing)" = 404 ]
check "no route: the page" [ "$(get /nothing)" = "$NOROUTE" ]

# ---- weights ----
python3 "$BACKEND" fetch "$URL/w" 2000 >"$SY_TMP/w.json"
WA=$(json "$SY_TMP/w.json" "d['names'].get('A', 0)")
WB=$(json "$SY_TMP/w.json" "d['names'].get('B', 0)")
echo "# weights: A=$WA B=$WB of 2000 (want 500/1500)"
check "weight 0.25 gets its share (+-3 points)" [ "$WA" -ge 440 ] && [ "$WA" -le 560 ]
check "the rest gets the rest" [ $((WA + WB)) -eq 2000 ]

# ---- failures ----
check "connect refused: 502" [ "$(status /dead)" = 502 ]
python3 "$BACKEND" fetch "$URL/half" 20 >"$SY_TMP/half.json"
check "a refused target is skipped for the other: 20 x 200" \
	[ "$(json "$SY_TMP/half.json" "d['status'].get('200', 0)")" = 20 ]
T0=$(date +%s%N)
check "no answer: 504" [ "$(status /hang)" = 504 ]
T1=$(date +%s%N)
MS=$(( (T1 - T0) / 1000000 ))
echo "# 504 after $MS ms (timeout 800 ms)"
check "504 comes after the response-header timeout" [ "$MS" -ge 700 ] && [ "$MS" -lt 5000 ]

check "a target given by name (localhost) is resolved" [ "$(status /dns)" = 200 ]
check "no healthy target: 503" [ "$(status /down)" = 503 ]
check "an upstream answer that is not HTTP: 502" [ "$(status /garbage)" = 502 ]
curl -s -o /dev/null -D "$SY_TMP/close.head" --max-time 5 -H 'Connection: close' "$URL/a/c"
check "Connection: close is answered in kind" grep -qi '^Connection: close' "$SY_TMP/close.head"
curl -s -o /dev/null -D "$SY_TMP/ka10.head" --max-time 5 --http1.0 \
	-H 'Connection: keep-alive' "$URL/a/k"
check "an HTTP/1.0 keep-alive client is told keep-alive" \
	grep -qi '^Connection: keep-alive' "$SY_TMP/ka10.head"

# ---- forwarded headers ----
get /a/f -H 'X-Forwarded-For: 1.2.3.4' -H 'Host: fwd.example:8080' \
	>"$SY_TMP/f.json"
check "X-Forwarded-For appended" \
	[ "$(header "$SY_TMP/f.json" x-forwarded-for)" = "['1.2.3.4, 127.0.0.1']" ]
check "X-Real-Ip" [ "$(header "$SY_TMP/f.json" x-real-ip)" = "['127.0.0.1']" ]
check "X-Forwarded-Proto" \
	[ "$(header "$SY_TMP/f.json" x-forwarded-proto)" = "['http']" ]
check "X-Forwarded-Port is the proxy's port" \
	[ "$(header "$SY_TMP/f.json" x-forwarded-port)" = "['$P']" ]
check "X-Forwarded-Host" \
	[ "$(header "$SY_TMP/f.json" x-forwarded-host)" = "['fwd.example:8080']" ]
check "Forwarded (RFC 7239)" [ "$(header "$SY_TMP/f.json" forwarded)" = \
	"['for=127.0.0.1;proto=http;host=\"fwd.example:8080\"']" ]
get /a/hop -H 'Connection: keep-alive, X-Private' -H 'X-Private: 1' \
	-H 'Keep-Alive: 5' -H 'TE: trailers' >"$SY_TMP/hop.json"
check "hop-by-hop request fields removed" \
	[ "$(json "$SY_TMP/hop.json" "len([k for k, v in d['headers'] if k.lower() in ('connection','x-private','keep-alive','te')])")" = 0 ]

# ---- bodies ----
head -c 100000 /dev/zero | tr '\0' 'q' >"$SY_TMP/body"
get /a/post -X POST --data-binary @"$SY_TMP/body" >"$SY_TMP/post.json"
check "a 100 kB request body arrives whole" \
	[ "$(json "$SY_TMP/post.json" "d['body_len']")" = 100000 ]
head -c 2000000 /dev/zero >"$SY_TMP/bigbody"
check "a body over -maxbody: 413" \
	[ "$(status /a/post -X POST --data-binary @"$SY_TMP/bigbody")" = 413 ]
check "HEAD keeps the length of GET" \
	curl -s -I --max-time 5 "$URL/big?size=12345" -o "$SY_TMP/head.txt"
check "HEAD Content-Length" grep -qi '^Content-Length: 12345' "$SY_TMP/head.txt"
check "a small chunked answer arrives whole" \
	[ "$(get '/big?size=1000&chunked=1' | wc -c)" -eq 1000 ]
check "an HTTP/1.0 client is answered" \
	[ "$(get /a/old --http1.0 | python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])')" = A ]

# ---- a 50 MB response through a slow client, memory stays flat ----
hwm() { awk '/VmHWM/ {print $2}' "/proc/$HPID/status"; }
RSS0=$(hwm)
N=$(curl -s --max-time 60 --limit-rate 25M -o /dev/null -w '%{size_download}' \
	"$URL/big?size=52428800")
RSS1=$(hwm)
echo "# 50 MB streamed: $N bytes, peak RSS $RSS0 -> $RSS1 kB"
check "50 MB arrive whole" [ "$N" = 52428800 ]
check "peak RSS grows by less than 16 MB" [ $((RSS1 - RSS0)) -lt 16384 ]
N=$(curl -s --max-time 60 --limit-rate 25M -o /dev/null -w '%{size_download}' \
	"$URL/big?size=20971520&chunked=1")
RSS2=$(hwm)
check "20 MB chunked arrive whole" [ "$N" = 20971520 ]
check "chunked streaming keeps RSS flat too" [ $((RSS2 - RSS0)) -lt 16384 ]

# a client that goes away in the middle of a response leaves no trace
curl -s --max-time 1 --limit-rate 1M -o /dev/null "$URL/big?size=52428800"
check "after a client left mid-stream, the proxy still answers" \
	[ "$(status /a/after)" = 200 ]

# ---- keep-alive ----
stats "$PD"; C0=$(json "$SY_TMP/stats.json" "d['connections']")
R0=$(json "$SY_TMP/stats.json" "d['requests']")
python3 "$BACKEND" fetch "$URL/ka" 50 >"$SY_TMP/ka.json"
stats "$PD"; C1=$(json "$SY_TMP/stats.json" "d['connections']")
R1=$(json "$SY_TMP/stats.json" "d['requests']")
echo "# keep-alive: $((R1 - R0 - 1)) requests over $((C1 - C0 - 1)) new backend connections"
check "50 requests arrive" [ $((R1 - R0 - 1)) -eq 50 ]
check "over at most 2 backend connections" [ $((C1 - C0 - 1)) -le 2 ]

# the pool forgets connections idle longer than -idle-timeout
sleep 2.5
kill -USR1 "$HPID"
wait_until 5 grep -q '^stats' "$SY_TMP/harness.log"
check "idle connections closed after the idle timeout" \
	[ "$(grep '^stats' "$SY_TMP/harness.log" | tail -1 | sed 's/.* idle=//')" = 0 ]

# an upstream that drops a kept-alive connection when the next request
# comes: the request goes again on a fresh connection, the client sees 200
python3 - "$P" "$PD" <<'EOF' >"$SY_TMP/once.txt"
import http.client, json, sys
port = int(sys.argv[1])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
out = []
for path in ("/once/1", "/once/drop", "/once/2"):
    c.request("GET", path)
    r = c.getresponse()
    r.read()
    out.append(str(r.status))
print(" ".join(out))
EOF
check "a dropped kept-alive connection is retried (200 200 200)" \
	[ "$(cat "$SY_TMP/once.txt")" = "200 200 200" ]

# ---- pipelining ----
python3 - "$P" <<'EOF' >"$SY_TMP/pipe.txt"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET /a/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /a/2 HTTP/1.1\r\nHost: x\r\n\r\n")
time.sleep(0.05)
s.sendall(b"GET /a/3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
print(data.count(b"HTTP/1.1 200"))
EOF
check "three pipelined requests, three answers" [ "$(cat "$SY_TMP/pipe.txt")" = 3 ]

# ---- request framing (strict RFC 9112 parsing) ----
# raw NAME BYTES: send BYTES (a Python bytes literal) on one connection,
# read to the end (or 5 s), print the status codes of the answers, the
# body_len each backend saw, and "closed" when the proxy closed.
raw() {
	python3 - "$P" "$2" <<'EOF' >"$SY_TMP/$1.txt"
import json, re, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
data = eval(sys.argv[2])
for part in data if isinstance(data, list) else [data]:
    s.sendall(part)
    time.sleep(0.05)
got = b""
closed = False
try:
    while True:
        b = s.recv(65536)
        if not b:
            closed = True
            break
        got += b
except socket.timeout:
    pass
out = [m.decode() for m in re.findall(rb"HTTP/1\.1 (\d{3}) [A-Z]", got)]
out += ["len=%d" % int(m) for m in re.findall(rb'"body_len": (\d+)', got)]
print(" ".join(out + (["closed"] if closed else [])))
EOF
}
raw chunked 'b"POST /a/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=1\r\n world\r\n0\r\nT: v\r\n\r\nGET /a/n HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"'
check "a chunked request body arrives decoded, the next request after it" \
	[ "$(cat "$SY_TMP/chunked.txt")" = "200 200 len=11 len=0 closed" ]
raw continue '[b"POST /a/e HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n", b"body"]'
check "Expect: 100-continue gets 100, then the answer" \
	[ "$(cat "$SY_TMP/continue.txt")" = "100 200 len=4 closed" ]
raw splitbody '[b"POST /a/s HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234", b"56789GET /a/t HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]'
check "a body in two pieces, a request right behind it" \
	[ "$(cat "$SY_TMP/splitbody.txt")" = "200 200 len=10 len=0 closed" ]
raw nohost 'b"GET /a/x HTTP/1.1\r\n\r\n"'
check "HTTP/1.1 without Host: 400 and close" [ "$(cat "$SY_TMP/nohost.txt")" = "400 closed" ]
raw clte 'b"POST /a/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /a/y HTTP/1.1\r\nHost: x\r\n\r\n"'
check "Content-Length with Transfer-Encoding: 400, nothing behind it served" \
	[ "$(cat "$SY_TMP/clte.txt")" = "400 closed" ]
raw twocl 'b"POST /a/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"'
check "two different Content-Lengths: 400" [ "$(cat "$SY_TMP/twocl.txt")" = "400 closed" ]
raw gzip 'b"POST /a/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"'
check "an unknown transfer coding: 501" [ "$(cat "$SY_TMP/gzip.txt")" = "501 closed" ]
raw barelf 'b"GET /a/x HTTP/1.1\nHost: x\n\n"'
check "bare LF line ends: 400" [ "$(cat "$SY_TMP/barelf.txt")" = "400 closed" ]
raw fold 'b"GET /a/x HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n"'
check "obsolete line folding: 400" [ "$(cat "$SY_TMP/fold.txt")" = "400 closed" ]
raw http2 'b"GET /a/x HTTP/2.0\r\nHost: x\r\n\r\n"'
check "not HTTP/1.x: 505" [ "$(cat "$SY_TMP/http2.txt")" = "505 closed" ]
raw bighead "b'GET /a/x HTTP/1.1\r\nHost: x\r\nX-Big: ' + b'a' * 70000 + b'\r\n\r\n'"
check "a head over 64 KiB: 431" [ "$(cat "$SY_TMP/bighead.txt")" = "431 closed" ]
raw crlf 'b"\r\nGET /a/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"'
check "an empty line before the request line is ignored" \
	[ "$(cat "$SY_TMP/crlf.txt")" = "200 len=0 closed" ]
raw absform 'b"GET http://host.example/z?q=1 HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n"'
check "absolute-form: the URI's host routes" \
	grep -q '^200 len=0 closed$' "$SY_TMP/absform.txt"
check "after the bad requests, the proxy still answers" [ "$(status /a/ok)" = 200 ]

# ---- a new table ----
echo "route add new /new http://127.0.0.1:$PC/" >>"$ROUTES"
check "before the reload /new has no route" [ "$(status /new)" = 404 ]
kill -HUP "$HPID"
check "after SIGHUP /new is routed" wait_until 5 sh -c \
	"[ \"\$(curl -s -o /dev/null -w '%{http_code}' $URL/new)\" = 200 ]"

# ---- access log ----
sleep 0.3
check "access log: json lines" grep -q '"status":200' "$SY_TMP/access.log"
check "access log: the 504" grep -q '"uri":"/hang","proto":"HTTP/1.1","status":504' \
	"$SY_TMP/access.log"
check "access log: the upstream" grep -q "\"upstream\":\"127.0.0.1:$PA\"" \
	"$SY_TMP/access.log"

# ---- graceful stop: a request in flight finishes ----
# and a kept-alive connection idle at SIGTERM still gets its next request
# answered (with Connection: close) instead of being closed under it
python3 - "$P" "$SY_TMP" <<'EOF' >"$SY_TMP/idle.txt" &
import http.client, os, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
c.request("GET", "/a/before")
c.getresponse().read()
open(sys.argv[2] + "/idle.ready", "w").close()
deadline = time.time() + 10
while not os.path.exists(sys.argv[2] + "/idle.go") and time.time() < deadline:
    time.sleep(0.01)
c.request("GET", "/a/after-term")
r = c.getresponse()
r.read()
print(r.status, (r.getheader("Connection") or "-").lower())
EOF
IDLE=$!
wait_until 10 test -f "$SY_TMP/idle.ready"
curl -s -o "$SY_TMP/slow.out" -w '%{http_code}' --max-time 10 \
	"$URL/slow?ms=700" >"$SY_TMP/slow.code" &
CURL=$!
sleep 0.3   # the request is on its way (its answer takes 700 ms)
kill -TERM "$HPID"
sleep 0.1
touch "$SY_TMP/idle.go"
wait "$CURL"
wait "$IDLE"
check "the request in flight at SIGTERM got its 200" [ "$(cat "$SY_TMP/slow.code")" = 200 ]
check "a request on a connection idle at SIGTERM: 200, Connection: close" \
	[ "$(cat "$SY_TMP/idle.txt")" = "200 close" ]
wait_until 10 sh -c "! kill -0 $HPID 2>/dev/null"
check "the harness stopped" sh -c "! kill -0 $HPID 2>/dev/null"
check "nothing was cut" grep -q '^stopped cut=0' "$SY_TMP/harness.log"
check "no new connections after the stop" sh -c "! curl -s --max-time 2 $URL/a >/dev/null"
# sanitizer builds report leaks, races and undefined behaviour here
check "no sanitizer report from the harness" \
	sh -c "! grep -E 'Sanitizer|runtime error:' $SY_TMP/harness.log"

finish
