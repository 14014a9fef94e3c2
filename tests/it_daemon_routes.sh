#!/bin/sh
# it_daemon_routes.sh - the switchyard daemon routing what Consul says.
# switchyard-registry stands in for Consul; echo backends
# (tests/proxy_backend.py) are registered with curl, with tags and a TTL
# check this script passes and fails; switchyard-demo instances register
# themselves (HTTP checks) for the weight cases. Checked through the
# daemon's proxy port: longest prefix, host routes (any case, :80
# stripped) and the host-less fallback; strip, prepend, redirect,
# allow/deny, host=dst; a `route weight` override in KV and a weight=
# tag over 10,000 requests each; an override added and removed while
# running; the no-route status and page from KV; instances leaving on a
# critical check or maintenance and coming back; 503 when every instance
# of a route is critical; the forwarded headers as the backend sees
# them; /api/routes (JSON and ?raw); the route-change log lines.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

SWITCHYARD=$top_builddir/switchyard
REGISTRY=$top_builddir/switchyard-registry
DEMO=$top_builddir/switchyard-demo
BACKEND=$top_srcdir/tests/proxy_backend.py
CLIENT=$top_srcdir/tests/daemon_client.py
for p in "$SWITCHYARD" "$REGISTRY" "$DEMO"; do
	[ -x "$p" ] || { echo "# skip: $p is not built"; exit 77; }
done
command -v python3 >/dev/null || { echo "# skip: no python3"; exit 77; }
command -v curl >/dev/null || { echo "# skip: no curl"; exit 77; }
# the interpreter itself: a version-manager shim in front of it costs a
# few hundred ms per start, and this script starts Python often
PY=$(python3 -c 'import sys; print(sys.executable)')

# all the ports at once, distinct (free_port's way, one interpreter)
# shellcheck disable=SC2046  # split on purpose
set -- $("$PY" -c '
import socket
ss = [socket.socket() for _ in range(12)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
[ $# -eq 12 ] || { fail "12 free ports"; finish; }
REG=127.0.0.1:$1 PA=$2 PB=$3 PC=$4 PD=$5 PE=$6
WP1=$7 WP2=$8 WP3=$9; shift 9
WP4=$1 PP=$2 PU=$3

# ---- the registry, echo backends, demos ----
spawn registry "$REGISTRY" -addr "$REG" -interval-min 100ms \
	-deregister-min 1s -reap-interval 1s
spawn echo-a "$PY" "$BACKEND" serve "$PA" A
spawn echo-b "$PY" "$BACKEND" serve "$PB" B
spawn echo-c "$PY" "$BACKEND" serve "$PC" C
spawn echo-d "$PY" "$BACKEND" serve "$PD" D
spawn echo-e "$PY" "$BACKEND" serve "$PE" E
wait_http "http://$REG/v1/status/leader" 20 || { fail "registry answers"; finish; }

# weights: four demos of wt, two tagged green; /wf has one weight=0.25.
# They register themselves and pass their HTTP checks within a second.
spawn demo-1 "$DEMO" -name wt -addr "127.0.0.1:$WP1" -consul "$REG" \
	-prefix /wt -prefix "/wf weight=0.25" -tags green
spawn demo-2 "$DEMO" -name wt -addr "127.0.0.1:$WP2" -consul "$REG" \
	-prefix /wt -tags green
spawn demo-3 "$DEMO" -name wt -addr "127.0.0.1:$WP3" -consul "$REG" \
	-prefix /wt -prefix /wf -tags blue
spawn demo-4 "$DEMO" -name wt -addr "127.0.0.1:$WP4" -consul "$REG" \
	-prefix /wt -tags blue

for p in "$PA" "$PB" "$PC" "$PD" "$PE"; do
	wait_http "http://127.0.0.1:$p/stats" 20 || { fail "backend on $p"; finish; }
done

# reg ID NAME PORT TAG...: an instance on 127.0.0.1:PORT whose TTL check
# (service:ID) starts passing and stays so until failed here.
reg() {
	_id=$1 _name=$2 _port=$3; shift 3
	_tags=""
	for _t in "$@"; do _tags="$_tags${_tags:+,}\"$_t\""; done
	curl -sf -o /dev/null --max-time 5 -X PUT --data "{\"ID\":\"$_id\",\
\"Name\":\"$_name\",\"Address\":\"127.0.0.1\",\"Port\":$_port,\
\"Tags\":[$_tags],\"Check\":{\"TTL\":\"1h\",\"Status\":\"passing\"}}" \
		"http://$REG/v1/agent/service/register"
}
ttl() { curl -sf -o /dev/null --max-time 5 -X PUT "http://$REG/v1/agent/check/$1/service:$2"; }
maint() {
	curl -sf -o /dev/null --max-time 5 -X PUT \
		"http://$REG/v1/agent/service/maintenance/$1?enable=$2&reason=test"
}
kv_put() { curl -sf -o /dev/null --max-time 5 -X PUT --data-binary "$2" "http://$REG/v1/kv/$1"; }
kv_del() { curl -sf -o /dev/null --max-time 5 -X DELETE "http://$REG/v1/kv/$1"; }

register_echoes() {
	reg foo-a foo "$PA" "urlprefix-/foo" "urlprefix-/s strip=/s" \
		"urlprefix-/p prepend=/pre" "urlprefix-/sp strip=/sp prepend=/v2" \
		"urlprefix-/r redirect=301,http://x.example\$path" \
		"urlprefix-/allow allow=ip:127.0.0.0/8" \
		"urlprefix-/deny deny=ip:127.0.0.1" "urlprefix-/hd host=dst" &&
	reg foobar-b foobar "$PB" "urlprefix-/foobar" &&
	reg hosta-c hosta "$PC" "urlprefix-a.example/" "urlprefix-b.example/bonly" &&
	reg hc-a hc "$PA" "urlprefix-/hc" &&
	reg hc-b hc "$PB" "urlprefix-/hc" &&
	reg hc-c hc "$PC" "urlprefix-/hc" &&
	reg down-d down "$PD" "urlprefix-/down" &&
	reg down-e down "$PE" "urlprefix-/down"
}
check "echo services registered with tags and TTL checks" register_echoes

NOROUTE='<html><body>nothing routed here</body></html>'
check "KV fabio/config: route weight wt /wt weight 0.2 tags green" \
	kv_put fabio/config 'route weight wt /wt weight 0.2 tags "green"'
check "KV fabio/noroute.html" kv_put fabio/noroute.html "$NOROUTE"

# ---- the daemon ----
URL=http://127.0.0.1:$PP
UI=http://127.0.0.1:$PU
CFG=$SY_TMP/switchyard.properties
ACCESS=$SY_TMP/access.log
printf 'proxy.noroutestatus = 404\nlog.access.target = %s\n' "$ACCESS" >"$CFG"
spawn switchyard "$SWITCHYARD" -cfg "$CFG" -proxy.addr="127.0.0.1:$PP" \
	-ui.addr="127.0.0.1:$PU" -registry.consul.addr="$REG" \
	-registry.consul.register.enabled=false -proxy.workers=2
SY_PID=$SPAWNED
LOG=$SY_TMP/switchyard.log
wait_http "$UI/health" 30 || { fail "switchyard admin answers"; finish; }

# status PATH [curl args]: the status of a request through the proxy.
status() {
	_p=$1; shift
	curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@" "$URL$_p"
}
status_is() { [ "$(status "$1")" = "$2" ]; }
# name_of PATH [curl args]: the name of the echo backend that answered.
name_of() {
	_p=$1; shift
	curl -s --max-time 10 "$@" "$URL$_p" | sed -n 's/^{"name": "\([^"]*\)".*/\1/p'
}
# echo_to FILE PATH [curl args]: what the echo backend received, as lines
# "name N", "path P", and "h:field value" (field in lower case) per header.
echo_to() {
	_f=$1 _p=$2; shift 2
	curl -s --max-time 10 "$@" "$URL$_p" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
print("name", d["name"])
print("path", d["path"])
for k, v in d["headers"]:
    print("h:%s %s" % (k.lower(), v))' >"$_f"
}
# val FILE KEY: the values of KEY in an echo_to file, one a line.
val() { sed -n "s|^$2 ||p" "$1"; }
# names PATH [N]: the backends (names, or demo addresses) that answered
# N requests, sorted, joined with ','.
names() { "$PY" "$CLIENT" "$URL$1" "${2:-30}" -c 1 -d 1 -names; }
names_are() { [ "$(names "$1")" = "$2" ]; }

# every route of the start there, the demos' checks passing
check "the first routes are up" wait_until 30 sh -c "
	for p in /foo /foobar /hc /down /wf /bonly; do
		[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: b.example' --max-time 5 $URL\$p)\" = 200 ] || exit 1
	done"
check "all four wt demos are routed" wait_until 30 sh -c \
	"[ \"\$('$PY' '$CLIENT' '$URL/wt' 40 -c 1 -d 1 -names | tr ',' '\n' | wc -l)\" -eq 4 ]"

# ---- routing by prefix and host ----
check "prefix /foo goes to foo (A)" [ "$(name_of /foo/x)" = A ]
check "longest prefix wins: /foobar goes to foobar (B)" [ "$(name_of /foobar/x)" = B ]
check "/foob is still /foo's (prefix, not segment)" [ "$(name_of /foob)" = A ]
check "host route a.example/" [ "$(name_of /anything -H 'Host: a.example')" = C ]
check "host route in any case" [ "$(name_of /anything -H 'Host: A.Example')" = C ]
check "host route with :80 stripped" [ "$(name_of /foo -H 'Host: a.example:80')" = C ]
check "a.example:8080 is another host (falls back to /foo)" \
	[ "$(name_of /foo -H 'Host: a.example:8080')" = A ]
check "host route b.example/bonly" [ "$(name_of /bonly/1 -H 'Host: b.example')" = C ]
check "host-less fallback: b.example has no /foo route, /foo has" \
	[ "$(name_of /foo/1 -H 'Host: b.example')" = A ]
check "neither a host route nor a path route: 404" \
	[ "$(status /bonly -H 'Host: c.example')" = 404 ]

# ---- route options ----
echo_to "$SY_TMP/s" /s/x/y
check "strip=/s" [ "$(val "$SY_TMP/s" path)" = /x/y ]
check "strip sets X-Forwarded-Prefix" [ "$(val "$SY_TMP/s" h:x-forwarded-prefix)" = /s ]
echo_to "$SY_TMP/p" '/p/x?q=1'
check "prepend=/pre (query kept)" [ "$(val "$SY_TMP/p" path)" = '/pre/p/x?q=1' ]
check "prepend alone sets no X-Forwarded-Prefix" \
	[ -z "$(val "$SY_TMP/p" h:x-forwarded-prefix)" ]
echo_to "$SY_TMP/sp" /sp/x
check "strip=/sp prepend=/v2" [ "$(val "$SY_TMP/sp" path)" = /v2/x ]
check "strip and prepend: X-Forwarded-Prefix is the stripped part" \
	[ "$(val "$SY_TMP/sp" h:x-forwarded-prefix)" = /sp ]
curl -s -o /dev/null -D "$SY_TMP/r.head" --max-time 10 "$URL/r/a?q=1"
check "redirect=301 answers 301" grep -q '^HTTP/1.1 301' "$SY_TMP/r.head"
check "redirect Location is http://x.example\$path" \
	grep -q '^Location: http://x.example/r/a?q=1' "$SY_TMP/r.head"
check "allow=ip:127.0.0.0/8 passes" [ "$(status /allow)" = 200 ]
check "deny=ip:127.0.0.1 gives 403" [ "$(status /deny)" = 403 ]
echo_to "$SY_TMP/hd" /hd
check "host=dst sends the target's address as Host" \
	[ "$(val "$SY_TMP/hd" h:host)" = "127.0.0.1:$PA" ]
echo_to "$SY_TMP/kept" /foo -H 'Host: kept.example'
check "without host= the client's Host is kept" \
	[ "$(val "$SY_TMP/kept" h:host)" = kept.example ]

# ---- weights over 10,000 requests each ----
# shares FILE WANT:KEY...: "+" and each KEY's share of the answers in
# percent, or "-" first when one is more than 1 point from its WANT.
shares() {
	"$PY" - "$@" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
n = sum(d["names"].values())
got, ok = [], n == 10000 and d["status"] == {"200": 10000}
for arg in sys.argv[2:]:
    want, key = arg.split(":", 1)
    share = 100.0 * d["names"].get(key, 0) / max(n, 1)
    ok = ok and abs(share - float(want)) <= 1.0
    got.append("%.2f" % share)
status = ",".join("%s=%s" % kv for kv in sorted(d["status"].items()))
print("+" if ok else "-", " ".join(got), "status:" + (status or "none"),
      d["seconds"])
EOF
}
"$PY" "$CLIENT" "$URL/wt" 10000 -c 2 -d 16 >"$SY_TMP/wt.json"
# shellcheck disable=SC2046  # split on purpose
set -- $(shares "$SY_TMP/wt.json" "10:127.0.0.1:$WP1" "10:127.0.0.1:$WP2" \
	"40:127.0.0.1:$WP3" "40:127.0.0.1:$WP4")
echo "# route weight 0.2 tags green: green ${2:-?}% ${3:-?}%, blue ${4:-?}% ${5:-?}% of 10000 (want 10/10/40/40); ${6:-?}; ${7:-?} s"
check "route weight in KV: 20% to green, each share within 1 point" [ "${1:-}" = + ]

"$PY" "$CLIENT" "$URL/wf" 10000 -c 2 -d 16 >"$SY_TMP/wf.json"
# shellcheck disable=SC2046
set -- $(shares "$SY_TMP/wf.json" "25:127.0.0.1:$WP1" "75:127.0.0.1:$WP3")
echo "# tag weight=0.25: ${2:-?}% and ${3:-?}% of 10000 (want 25/75); ${4:-?}; ${5:-?} s"
check "weight=0.25 tag: 25% and 75%, each within 1 point" [ "${1:-}" = + ]

# ---- an override added while running, then removed ----
check "before: /extra has no route" [ "$(status /extra)" = 404 ]
check "KV put fabio/config/extra" \
	kv_put fabio/config/extra "route add extra /extra http://127.0.0.1:$PE/"
check "the route added in KV is routed" wait_until 20 sh -c \
	"curl -s --max-time 5 $URL/extra | grep -q '^{\"name\": \"E\"'"
check "KV delete fabio/config/extra" kv_del fabio/config/extra
check "deleting the key removes the route" wait_until 20 status_is /extra 404

# ---- no route ----
check "no route: 404 (proxy.noroutestatus)" [ "$(status /nothing/here)" = 404 ]
check "no route: the page from KV fabio/noroute.html" \
	[ "$(curl -s --max-time 10 "$URL/nothing/here")" = "$NOROUTE" ]

# ---- health ----
check "hc: three instances" names_are /hc A,B,C
check "hc-b's check fails" ttl fail hc-b
check "a critical instance is left out" wait_until 20 names_are /hc A,C
check "hc-c into maintenance" maint hc-c true
check "an instance in maintenance is left out" wait_until 20 names_are /hc A
check "hc-b's check passes" ttl pass hc-b
check "the instance passing again is back" wait_until 20 names_are /hc A,B
check "hc-c out of maintenance" maint hc-c false
check "the instance out of maintenance is back" wait_until 20 names_are /hc A,B,C

check "down: both instances routed" names_are /down D,E
check "down-d's and down-e's checks fail" sh -c \
	"curl -sf -X PUT http://$REG/v1/agent/check/fail/service:down-d &&
	 curl -sf -X PUT http://$REG/v1/agent/check/fail/service:down-e"
check "every instance of a route critical: 503" wait_until 20 status_is /down 503
check "down-e's check passes" ttl pass down-e
check "one instance passing again: only it answers" wait_until 20 names_are /down E

# ---- forwarded headers ----
echo_to "$SY_TMP/f" /foo/f -H 'X-Forwarded-For: 1.2.3.4' -H 'Host: fwd.example:8080'
check "X-Forwarded-For appended to the client's" \
	[ "$(val "$SY_TMP/f" h:x-forwarded-for)" = "1.2.3.4, 127.0.0.1" ]
check "X-Real-Ip" [ "$(val "$SY_TMP/f" h:x-real-ip)" = 127.0.0.1 ]
check "X-Forwarded-Proto" [ "$(val "$SY_TMP/f" h:x-forwarded-proto)" = http ]
check "X-Forwarded-Port is the proxy's port" \
	[ "$(val "$SY_TMP/f" h:x-forwarded-port)" = "$PP" ]
check "X-Forwarded-Host" [ "$(val "$SY_TMP/f" h:x-forwarded-host)" = fwd.example:8080 ]
check "Forwarded (RFC 7239)" [ "$(val "$SY_TMP/f" h:forwarded)" = \
	'for=127.0.0.1;proto=http;host="fwd.example:8080"' ]

# ---- /api/routes ----
curl -s --max-time 10 "$UI/api/routes" >"$SY_TMP/api.json"
curl -s --max-time 10 "$UI/api/routes?raw" >"$SY_TMP/api.raw"
# The JSON checks in one interpreter; each prints its check line.
"$PY" - "$SY_TMP/api.json" "$PB" <<'EOF' >"$SY_TMP/api.checks"
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except ValueError as e:
    d = None
    print("# /api/routes is not JSON (%s): %r"
          % (e, open(sys.argv[1]).read(60)))

def check(what, cond):
    try:
        ok = d is not None and cond()
    except Exception as e:
        print("# %s: %s" % (type(e).__name__, e))
        ok = False
    print("%s - %s" % ("ok" if ok else "not ok", what))

check("/api/routes is a JSON list of routes",
      lambda: isinstance(d, list) and len(d) > 0)

def foobar():
    r = [r for r in d if r.get("service") == "foobar"]
    assert len(r) == 1, r
    r = r[0]
    assert r.get("host") == "" and r.get("path") == "/foobar", r
    assert r.get("src") == "/foobar", r
    assert r.get("dst") == "http://127.0.0.1:%s/" % sys.argv[2], r
    return True
check("/api/routes: /foobar with service, host, path, src, dst", foobar)

def green():
    g = [r for r in d if r.get("path") == "/wt"
         and "green" in (r.get("tags") or [])]
    assert len(g) == 2, g
    assert all(abs(float(r.get("weight")) - 0.1) < 1e-6 for r in g), g
    return True
check("/api/routes: the two green /wt targets have tags and weight 0.1", green)
EOF
while IFS= read -r line; do
	case $line in
	"ok - "*) ok "${line#ok - }" ;;
	"not ok - "*) fail "${line#not ok - }" ;;
	*) printf '%s\n' "$line" ;;
	esac
done <"$SY_TMP/api.checks"
check "/api/routes?raw gives route add lines" \
	grep -q "^route add foobar /foobar http://127.0.0.1:$PB/\$" "$SY_TMP/api.raw"
check "/api/routes?raw: the weights as in the override" \
	grep -q "^route add wt /wt http://127.0.0.1:$WP1/ weight 0.1 tags \"green\"" "$SY_TMP/api.raw"
check "/api/routes?raw: every line a route add (or a # comment)" \
	sh -c "! grep -v -e '^route add ' -e '^#' '$SY_TMP/api.raw' | grep -q ."

# ---- the route-change log ----
check "route-change delta logged for the KV route added" \
	grep -q 'event=route_change .*"+ route add extra /extra ' "$LOG"
check "route-change delta logged for the KV route removed" \
	grep -q 'event=route_change .*"- route add extra /extra ' "$LOG"
check "route-change delta logged for the instance that went critical" \
	grep -q "event=route_change .*\"- route add hc /hc http://127.0.0.1:$PB/\"" "$LOG"

# ---- SIGHUP: live keys, a refused reload, the access log reopened ----
printf 'proxy.noroutestatus = 410\nlog.access.target = %s\nlog.routes.format = all\n' \
	"$ACCESS" >"$CFG"
mv "$ACCESS" "$ACCESS.1"
kill -HUP "$SY_PID"
check "SIGHUP: proxy.noroutestatus applies live" wait_until 10 status_is /no/such/route 410
check "SIGHUP: the change is logged" \
	grep -q 'reload: key changed" key=proxy.noroutestatus' "$LOG"
check "SIGHUP: the access log is reopened under its name" \
	wait_until 10 grep -q '/no/such/route' "$ACCESS"
check "SIGHUP: the rotated access log keeps the lines before" \
	grep -q ' /foobar' "$ACCESS.1"
kv_put fabio/config/hup 'route add hup /hup http://127.0.0.1:'"$PB"'/' >/dev/null
check "log.routes.format=all: the table is logged as route commands" \
	wait_until 10 grep -q "event=route_table .*cmd=\"route add hup /hup http://127.0.0.1:$PB/\"" "$LOG"
printf 'proxy.noroutestatus = 42\n' >"$CFG"
kill -HUP "$SY_PID"
check "SIGHUP with a bad value: refused and logged" \
	wait_until 10 grep -q 'reload refused, configuration unchanged' "$LOG"
check "SIGHUP with a bad value: the running value stays" status_is /no/such/route 410

kill -TERM "$SY_PID"
check "switchyard stops on SIGTERM" wait_until 20 sh -c "! kill -0 $SY_PID 2>/dev/null"
finish
