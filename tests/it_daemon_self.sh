#!/bin/sh
# it_daemon_self.sh - switchyard registers itself in Consul as fabio does,
# against switchyard-registry:
#   - service <name>-<hostname>-<ui port> at 127.0.0.1 with two checks: a
#     TTL check <id>-ttl (TTL 15s, DeregisterCriticalServiceAfter 1m) sent
#     first, and an HTTP check on /health (service:<id>:2, interval and
#     timeout from registry.consul.register.checkInterval/.checkTimeout,
#     no deregister-after); the registration body is read on the wire
#     through a recording relay, because the registry does not show a
#     check's TTL;
#   - the TTL check is passed right after the registration and both checks
#     pass; /health answers 200;
#   - -registry.consul.register.name/.tags/.checkInterval/.checkTimeout
#     are honoured; -registry.consul.register.enabled=false registers
#     nothing;
#   - the TTL check is passed again 10 s later and stays passing;
#   - the registry is killed (-9) and started again on its port: switchyard
#     is registered again, with both checks, within a few seconds;
#   - SIGTERM: switchyard deregisters (service and checks gone) and exits 0.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

REGISTRY=$top_builddir/switchyard-registry
SY=$top_builddir/switchyard
for p in "$REGISTRY" "$SY"; do
	[ -x "$p" ] || { echo "# skip: $p is not built"; exit 77; }
done
command -v python3 >/dev/null || { echo "# skip: no python3"; exit 77; }
command -v curl >/dev/null || { echo "# skip: no curl"; exit 77; }

AGENT=127.0.0.1:$(free_port)
RELAY=127.0.0.1:$(free_port)
WIRE=$SY_TMP/wire.jsonl
# gethostname() as switchyard sees it (it keeps 63 bytes).
HOST=$(python3 -c 'import socket; print(socket.gethostname()[:63])')
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

start_registry() {
	spawn "registry$1" "$REGISTRY" -addr "$AGENT" -interval-min 100ms \
		-deregister-min 1s -reap-interval 1s
	REGISTRY_PID=$SPAWNED
	wait_http "http://$AGENT/v1/status/leader" 10
}

# The relay: every request to $RELAY goes on to the registry, and each
# /v1/agent/ request is appended to $WIRE as one JSON line (ms, method,
# path, body). When the registry does not answer, the relay closes the
# connection without an answer, so switchyard sees the agent as down, as
# it would without the relay.
cat >"$SY_TMP/relay.py" <<'EOF'
import http.client, http.server, json, socketserver, sys, threading, time

host, port = sys.argv[1].rsplit(":", 1)
up_host, up_port = sys.argv[2].rsplit(":", 1)
wire = sys.argv[3]
lock = threading.Lock()
SKIP = {"connection", "keep-alive", "transfer-encoding", "content-length",
        "te", "trailer", "upgrade", "date", "server"}

class Relay(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def relay(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.path.startswith("/v1/agent/"):
            line = json.dumps({"ms": int(time.time() * 1000), "method": self.command,
                               "path": self.path, "body": body.decode("utf-8", "replace")})
            with lock, open(wire, "a") as f:
                f.write(line + "\n")
        try:
            up = http.client.HTTPConnection(up_host, int(up_port), timeout=700)
            hdrs = {k: v for k, v in self.headers.items() if k.lower() not in SKIP}
            up.request(self.command, self.path, body=body, headers=hdrs)
            r = up.getresponse()
            data = r.read()
            up.close()
        except (OSError, http.client.HTTPException):
            self.close_connection = True
            return
        self.send_response(r.status, r.reason)
        for k, v in r.getheaders():
            if k.lower() not in SKIP:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = relay

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

Server((host, int(port)), Relay).serve_forever()
EOF

# The checks, as one Python program over the registry's answers and the
# wire log: self.py WHAT ARGS... exits 0 when WHAT holds, and says why not
# on stderr.
cat >"$SY_TMP/self.py" <<'EOF'
import json, re, sys, urllib.request

agent, wire, what, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]

def get(path):
    with urllib.request.urlopen("http://%s%s" % (agent, path), timeout=3) as r:
        return json.load(r)

def ms(d):
    """A Go duration string in ms, or None."""
    if not isinstance(d, str):
        return None
    total, parts = 0.0, re.findall(r"([0-9.]+)(ms|h|m|s)", d)
    if not parts or "".join(a + b for a, b in parts) != d:
        return None
    for v, unit in parts:
        total += float(v) * {"ms": 1, "s": 1000, "m": 60000, "h": 3600000}[unit]
    return int(total)

def wire_lines():
    try:
        with open(wire) as f:
            return [json.loads(l) for l in f if l.strip()]
    except FileNotFoundError:
        return []

def no(why):
    print("# " + why, file=sys.stderr)
    sys.exit(1)

def registrations(sid):
    out = []
    for l in wire_lines():
        if l["method"] == "PUT" and l["path"].split("?")[0] == "/v1/agent/service/register":
            b = json.loads(l["body"])
            if b.get("ID") == sid:
                out.append((l["ms"], b))
    return out

def passes(check_id):
    pat = re.compile(r"^/v1/agent/check/(pass|update)/" + re.escape(check_id.replace(":", "%3A")) + r"(\?|$)")
    return [l["ms"] for l in wire_lines() if l["method"] == "PUT" and
            pat.match(l["path"].replace("%3a", "%3A"))]

if what == "listed":                      # ID NAME PORT TAGS(comma)
    sid, name, port, tags = args
    s = get("/v1/agent/services").get(sid)
    if not s:
        no("%s not in /v1/agent/services" % sid)
    want = {"Service": name, "Address": "127.0.0.1", "Port": int(port),
            "Tags": [t for t in tags.split(",") if t]}
    for k, v in want.items():
        if s.get(k) != v:
            no("%s: %s is %r, want %r" % (sid, k, s.get(k), v))
elif what == "gone":                      # ID
    sid = args[0]
    if sid in get("/v1/agent/services"):
        no("%s still in /v1/agent/services" % sid)
    left = [c for c, v in get("/v1/agent/checks").items() if v.get("ServiceID") == sid]
    if left:
        no("checks of %s left: %s" % (sid, left))
elif what == "services":                  # print the service IDs
    print(",".join(sorted(get("/v1/agent/services"))))
elif what == "checks":                    # ID NAME INTERVAL TIMEOUT [passing]
    sid, name, interval, timeout = args[:4]
    mine = {c: v for c, v in get("/v1/agent/checks").items() if v.get("ServiceID") == sid}
    ttl, http = sid + "-ttl", "service:%s:2" % sid
    if set(mine) != {ttl, http}:
        no("checks of %s: %s, want %s" % (sid, sorted(mine), sorted({ttl, http})))
    t, h = mine[ttl], mine[http]
    label = "Service '%s' check" % name
    for c, field, want in ((t, "Type", "ttl"), (h, "Type", "http"),
                           (t, "Name", label), (h, "Name", label),
                           (h, "Interval", interval), (h, "Timeout", timeout),
                           (t, "ServiceName", name), (h, "ServiceName", name)):
        if c.get(field) != want:
            no("%s: %s is %r, want %r" % (c["CheckID"], field, c.get(field), want))
    if args[4:] == ["passing"]:
        for c in (t, h):
            if c["Status"] != "passing":
                no("%s is %s" % (c["CheckID"], c["Status"]))
elif what == "status":                    # CHECK STATUS
    c = get("/v1/agent/checks").get(args[0])
    if not c or c["Status"] != args[1]:
        no("%s is %s" % (args[0], c and c["Status"]))
elif what == "wire-register":             # ID PORT: the body fabio sends
    sid, port = args
    regs = registrations(sid)
    if not regs:
        no("no registration of %s on the wire" % sid)
    b = regs[0][1]
    if b.get("Check") is not None:
        no("a single Check was sent: %r" % b.get("Check"))
    cs = b.get("Checks")
    if not isinstance(cs, list) or len(cs) != 2:
        no("Checks: %r" % cs)
    t, h = cs
    errs = []
    if t.get("CheckID") != sid + "-ttl": errs.append("TTL CheckID %r" % t.get("CheckID"))
    if ms(t.get("TTL")) != 15000: errs.append("TTL %r" % t.get("TTL"))
    if ms(t.get("DeregisterCriticalServiceAfter")) != 60000:
        errs.append("TTL DeregisterCriticalServiceAfter %r" % t.get("DeregisterCriticalServiceAfter"))
    for k in ("HTTP", "TCP", "Interval", "Timeout"):
        if t.get(k): errs.append("TTL check has %s" % k)
    if h.get("CheckID") not in (None, "service:%s:2" % sid): errs.append("HTTP CheckID %r" % h.get("CheckID"))
    if h.get("HTTP") != "http://127.0.0.1:%s/health" % port: errs.append("HTTP %r" % h.get("HTTP"))
    if ms(h.get("Interval")) != 1000: errs.append("Interval %r" % h.get("Interval"))
    if ms(h.get("Timeout")) != 3000: errs.append("Timeout %r" % h.get("Timeout"))
    if h.get("DeregisterCriticalServiceAfter"): errs.append("HTTP check has a deregister-after")
    if h.get("TTL"): errs.append("HTTP check has a TTL")
    if errs:
        no("; ".join(errs))
elif what == "first-pass-ms":             # ID: ms from the registration to the TTL pass
    sid = args[0]
    regs, ps = registrations(sid), passes(sid + "-ttl")
    later = [p for p in ps if regs and p >= regs[0][0]]
    if not later:
        no("no TTL pass of %s on the wire" % sid)
    print(later[0] - regs[0][0])
elif what == "periodic-pass-ms":          # ID: gap before the first pass not right after a registration
    sid = args[0]
    regs = [r for r, _ in registrations(sid)]
    ps = passes(sid + "-ttl")
    for prev, cur in zip(ps, ps[1:]):
        if not any(prev <= r <= cur for r in regs):
            print(cur - prev)
            break
    else:
        no("no periodic TTL pass of %s yet" % sid)
elif what == "wire-deregister":           # ID
    path = "/v1/agent/service/deregister/" + args[0]
    if not any(l["method"] == "PUT" and l["path"].split("?")[0] == path for l in wire_lines()):
        no("no %s on the wire" % path)
else:
    no("unknown check " + what)
EOF
self() { python3 "$SY_TMP/self.py" "$AGENT" "$WIRE" "$@"; }
# expect SECONDS WHAT ARGS...: poll `self WHAT ARGS` (every 0.2 s, each
# poll starts Python) until it holds; when it never does, say why once.
expect() {
	_deadline=$(( $(now_ms) + $1 * 1000 )); shift
	while [ "$(now_ms)" -le "$_deadline" ]; do
		if self "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.2
	done
	self "$@" >/dev/null
	return 1
}

# sy NAME UIPORT CONSUL ARGS...: start switchyard; sets SY_PID.
sy() {
	_name=$1 _ui=$2 _consul=$3; shift 3
	spawn "$_name" "$SY" -proxy.addr="127.0.0.1:$(free_port)" -proxy.workers=1 \
		-ui.addr="127.0.0.1:$_ui" -registry.consul.addr="$_consul" "$@"
	SY_PID=$SPAWNED
	wait_http "http://127.0.0.1:$_ui/health" 20
}
# stop PID: SIGTERM and wait; sets STOP_RC.
stop() {
	kill -TERM "$1"
	wait "$1"
	STOP_RC=$?
}
health_ok() {
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:$1/health")" = 200 ]
}

start_registry 0 || { fail "registry starts"; finish; }
spawn relay python3 "$SY_TMP/relay.py" "$RELAY" "$AGENT" "$WIRE"
wait_http "http://$RELAY/v1/status/leader" 10 || { fail "relay starts"; finish; }

# ---- defaults, through the relay ----
U1=$(free_port)
ID1=switchyard-$HOST-$U1
T0=$(now_ms)
sy sy1 "$U1" "$RELAY" || { fail "switchyard starts"; finish; }
S1=$SY_PID
check "registered as <name>-<hostname>-<port> at its address" \
	expect 10 listed "$ID1" switchyard "$U1" ""
check "the registration on the wire is fabio's: TTL check first, then HTTP" \
	self wire-register "$ID1" "$U1"
check "two checks, IDs <id>-ttl and service:<id>:2, as fabio's" \
	self checks "$ID1" switchyard 1s 3s
check "the TTL check passes" expect 10 status "$ID1-ttl" passing
PASS_MS=$(self first-pass-ms "$ID1")
echo "# TTL pass ${PASS_MS:-none} ms after the registration was sent"
check "the TTL check is passed right after the registration" \
	[ "${PASS_MS:-99999}" -le 3000 ]
check "the HTTP check on /health passes" \
	expect 10 status "service:$ID1:2" passing
check "/health answers 200" health_ok "$U1"

# ---- name, tags and check timing honoured; straight to the registry ----
U2=$(free_port)
ID2=edge-$HOST-$U2
sy sy2 "$U2" "$AGENT" -registry.consul.register.name=edge \
	-registry.consul.register.tags=blue,green \
	-registry.consul.register.checkInterval=2s \
	-registry.consul.register.checkTimeout=1s || fail "switchyard 2 starts"
S2=$SY_PID
check "register.name and .tags honoured" expect 10 listed "$ID2" edge "$U2" "blue,green"
check "with both checks, named after it, interval 2s and timeout 1s, passing" \
	expect 10 checks "$ID2" edge 2s 1s passing
stop "$S2"
check "switchyard 2 exits 0 on SIGTERM" [ "$STOP_RC" = 0 ]
check "and is deregistered, checks too" self gone "$ID2"

# ---- register.enabled=false ----
BEFORE=$(self services)
U3=$(free_port)
sy sy3 "$U3" "$AGENT" -registry.consul.register.enabled=false || fail "switchyard 3 starts"
S3=$SY_PID
# The registration is made before the admin server answers; give a
# retry loop time to show itself all the same.
sleep 1.5
check "register.enabled=false registers nothing" [ "$(self services)" = "$BEFORE" ]
check "and its registrar never ran" sh -c "! grep -q component=registrar '$SY_TMP/sy3.log'"
stop "$S3"
check "switchyard 3 exits 0 on SIGTERM" [ "$STOP_RC" = 0 ]

# ---- the TTL check is passed every 10 s ----
check "a periodic TTL pass comes within 10 s" \
	expect 15 periodic-pass-ms "$ID1"
GAP=$(self periodic-pass-ms "$ID1" 2>/dev/null)
echo "# periodic TTL pass ${GAP:-none} ms after the previous one (fabio: 10 s, TTL 15 s)"
check "10 s apart, inside the 15 s TTL" sh -c "[ '${GAP:-0}' -ge 9500 ] && [ '${GAP:-0}' -lt 15000 ]"
check "both checks still pass $(( ($(now_ms) - T0) / 1000 )) s in" \
	self checks "$ID1" switchyard 1s 3s passing

# ---- the registry restarts empty: registered again ----
kill -9 "$REGISTRY_PID"
wait "$REGISTRY_PID" 2>/dev/null
sleep 0.5
start_registry 1 || fail "registry restarts"
T1=$(now_ms)
check "registered again after the registry restart" \
	expect 15 listed "$ID1" switchyard "$U1" ""
BACK=$(( $(now_ms) - T1 ))
echo "# registered again ${BACK} ms after the registry answered"
check "within a few seconds (5 s)" [ "$BACK" -le 5000 ]
check "with both checks" self checks "$ID1" switchyard 1s 3s
check "its TTL check passing at once" expect 3 status "$ID1-ttl" passing
check "and its HTTP check passing" expect 10 status "service:$ID1:2" passing
check "the re-registration was logged" \
	grep -q 'component=registrar msg="event=reregistered' "$SY_TMP/sy1.log"

# ---- SIGTERM deregisters ----
stop "$S1"
check "switchyard exits 0 on SIGTERM" [ "$STOP_RC" = 0 ]
check "deregistered: gone from /v1/agent/services, checks too" self gone "$ID1"
check "by a deregistration on the wire" self wire-deregister "$ID1"

finish
