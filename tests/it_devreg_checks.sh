#!/bin/sh
# it_devreg_checks.sh - the dev registry's check runner against real
# backends: an HTTP check passes, turns critical within interval + 1 s
# once the backend is killed, and the service is reaped after
# DeregisterCriticalServiceAfter; fabio's bracketed IPv4 URL works; 429 is
# a warning; TCP checks; a TTL check expires to critical; maintenance mode
# on and off; blocked watchers wake on each change.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

REG="$top_builddir/switchyard-registry"
[ -x "$REG" ] || { echo "# $REG not built"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "# curl missing"; exit 77; }

# A tiny backend: /ok answers 200, /busy 429, /moved redirects to /ok.
cat >"$SY_TMP/backend.py" <<'PY'
import http.server, sys

class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        code = 429 if self.path == "/busy" else 200
        body = b"busy" if code == 429 else b"all good"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY

BPORT=$(free_port)
spawn backend python3 "$SY_TMP/backend.py" "$BPORT"
BACKEND_PID=$SPAWNED
PORT=$(free_port)
B="http://127.0.0.1:$PORT"
spawn registry "$REG" -addr "127.0.0.1:$PORT" -node checkbox \
	-deregister-min 2s -reap-interval 500ms
REG_PID=$SPAWNED
wait_http "$B/v1/status/leader" || { fail "registry did not start"; finish; }
wait_http "http://127.0.0.1:$BPORT/ok" || { fail "backend did not start"; finish; }

put() { curl -sS -o /dev/null -w '%{http_code}' -X PUT --data-binary "$2" "$B$1"; }

# field CHECK-ID FIELD: a field of a check from /v1/agent/checks.
field() {
	curl -sS "$B/v1/agent/checks" | python3 -c '
import json, sys
c = json.load(sys.stdin).get(sys.argv[1])
print("" if c is None else c[sys.argv[2]])' "$1" "$2"
}
status_is() { [ "$(field "$1" Status)" = "$2" ]; }
gone() { [ "$(curl -sS -o /dev/null -w '%{http_code}' "$B/v1/agent/service/$1")" = 404 ]; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

register() { [ "$(put /v1/agent/service/register "$1")" = 200 ]; }

check "register an HTTP-checked service" register "{
	\"Name\": \"lat\", \"ID\": \"lat1\", \"Port\": $BPORT, \"Address\": \"127.0.0.1\",
	\"Check\": {\"HTTP\": \"http://127.0.0.1:$BPORT/ok\", \"Interval\": \"1s\", \"Timeout\": \"1s\"}}"
check "fabio-style bracketed IPv4 check registered" register "{
	\"Name\": \"fab\", \"ID\": \"fab1\", \"Port\": $BPORT,
	\"Checks\": [{\"CheckID\": \"fab1-ttl\", \"TTL\": \"15s\", \"Status\": \"passing\"},
		{\"HTTP\": \"http://[127.0.0.1]:$BPORT/moved\", \"Interval\": \"1s\", \"Timeout\": \"3s\"}]}"
check "429 check registered" register "{
	\"Name\": \"busy\", \"Check\": {\"HTTP\": \"http://127.0.0.1:$BPORT/busy\", \"Interval\": \"1s\"}}"
check "TCP check registered" register "{
	\"Name\": \"tcp\", \"Check\": {\"TCP\": \"127.0.0.1:$BPORT\", \"Interval\": \"1s\"}}"

# Until the first run a check keeps its initial status: critical.
check "HTTP check passes" wait_until 5 status_is service:lat1 passing
check "HTTP output as Consul writes it" [ "$(field service:lat1 Output)" = "HTTP GET http://127.0.0.1:$BPORT/ok: 200 OK Output: all good" ]
check "bracketed IPv4 URL and a redirect pass" wait_until 5 status_is service:fab1:2 passing
check "429 is a warning" wait_until 5 status_is service:busy warning
check "TCP check passes" wait_until 5 status_is service:tcp passing
check "TCP output" [ "$(field service:tcp Output)" = "TCP connect 127.0.0.1:$BPORT: Success" ]
check "status transition logged" grep -q 'msg="check status" check=service:lat1 from=critical to=passing' "$SY_TMP/registry.log"

# Kill the backend: critical within interval + 1 s. Three kills, the
# median compared with the bound plus a second of slack for slow machines.
SAMPLES=""
for trial in 1 2 3; do
	kill -9 "$BACKEND_PID"
	wait "$BACKEND_PID" 2>/dev/null
	T0=$(now_ms)
	if wait_until 8 status_is service:lat1 critical; then
		SAMPLES="$SAMPLES $(( $(now_ms) - T0 ))"
	else
		SAMPLES="$SAMPLES 99999"
	fi
	if [ "$trial" -eq 1 ]; then
		check "connection refused in the output" sh -c "curl -sS '$B/v1/agent/checks' | grep -q 'connect: connection refused'"
		check "TCP check turns critical too" wait_until 5 status_is service:tcp critical
	fi
	spawn backend python3 "$SY_TMP/backend.py" "$BPORT"
	BACKEND_PID=$SPAWNED
	wait_until 8 status_is service:lat1 passing || fail "check did not recover after trial $trial"
done
MEDIAN=$(echo "$SAMPLES" | tr ' ' '\n' | sed '/^$/d' | sort -n | sed -n 2p)
echo "# kill -> critical:$SAMPLES ms (median $MEDIAN, bound 2000 + 1000 slack)"
check "critical within interval + 1 s" [ "$MEDIAN" -le 3000 ]

# Reaped after DeregisterCriticalServiceAfter (3 s) + a reap interval.
check "register a service that may be reaped" register "{
	\"Name\": \"web\", \"ID\": \"web1\", \"Port\": $BPORT,
	\"Check\": {\"HTTP\": \"http://127.0.0.1:$BPORT/ok\", \"Interval\": \"1s\",
		\"DeregisterCriticalServiceAfter\": \"3s\"}}"
check "it passes" wait_until 5 status_is service:web1 passing
kill -9 "$BACKEND_PID"
check "it turns critical" wait_until 5 status_is service:web1 critical
check "critical service reaped" wait_until 10 gone web1
check "reaping logged" grep -q 'msg="service deregistered" service=web1' "$SY_TMP/registry.log"
check "services without a timeout stay" sh -c "! curl -sS -o /dev/null -w '%{http_code}' '$B/v1/agent/service/lat1' | grep -q 404"

# TTL: passes when told, expires to critical when not.
check "TTL service registered" [ "$(put /v1/agent/service/register '{
	"Name": "ttl", "ID": "ttl1", "Check": {"CheckID": "ttl1-ttl", "TTL": "3s"}}')" = 200 ]
check "TTL pass" [ "$(put '/v1/agent/check/pass/ttl1-ttl?note=alive' '')" = 200 ]
check "TTL passing with the note as output" [ "$(field ttl1-ttl Status)/$(field ttl1-ttl Output)" = "passing/alive" ]
check "TTL expires to critical" wait_until 8 status_is ttl1-ttl critical
check "expiry output keeps the last note" [ "$(field ttl1-ttl Output)" = "TTL expired (last output before timeout follows): alive" ]
check "TTL update" [ "$(put /v1/agent/check/update/ttl1-ttl '{"Status": "warning", "Output": "slow"}')" = 200 ]
check "TTL warning after update" status_is ttl1-ttl warning

# A blocked watcher wakes on a change and gets a higher index.
IDX=$(curl -sS -o /dev/null -D - "$B/v1/health/service/ttl" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-consul-index"{print $2}')
curl -sS -o "$SY_TMP/watch" -D "$SY_TMP/watch.h" "$B/v1/health/service/ttl?index=$IDX&wait=20s" &
WATCH=$!
sleep 0.3
put /v1/agent/check/pass/ttl1-ttl '' >/dev/null
wait "$WATCH"
NIDX=$(tr -d '\r' <"$SY_TMP/watch.h" | awk -F': ' 'tolower($1)=="x-consul-index"{print $2}')
check "watcher woke with a higher index ($IDX -> $NIDX)" [ "$NIDX" -gt "$IDX" ]
check "watcher saw the new status" grep -q '"Status": "passing"' "$SY_TMP/watch"

# Maintenance on and off.
check "maintenance on" [ "$(put '/v1/agent/service/maintenance/ttl1?enable=true&reason=deploy' '')" = 200 ]
check "maintenance check is critical" status_is _service_maintenance:ttl1 critical
check "maintenance reason is the note" [ "$(field _service_maintenance:ttl1 Notes)" = deploy ]
check "?passing drops the instance" [ "$(curl -sS "$B/v1/health/service/ttl?passing")" = "[]" ]
check "agent health says 503" [ "$(curl -sS -o /dev/null -w '%{http_code}' "$B/v1/agent/health/service/id/ttl1?format=text")" = 503 ]
check "maintenance off" [ "$(put '/v1/agent/service/maintenance/ttl1?enable=false' '')" = 200 ]
check "maintenance check removed" [ -z "$(field _service_maintenance:ttl1 Status)" ]
put /v1/agent/check/pass/ttl1-ttl '' >/dev/null
check "?passing lists it again" sh -c "curl -sS '$B/v1/health/service/ttl?passing=1' | grep -q '\"ID\": \"ttl1\"'"
check "node maintenance on" [ "$(put '/v1/agent/maintenance?enable=true' '')" = 200 ]
check "node maintenance knocks every instance out" [ "$(curl -sS "$B/v1/health/service/ttl?passing")" = "[]" ]
check "node maintenance off" [ "$(put '/v1/agent/maintenance?enable=false' '')" = 200 ]

kill -TERM "$REG_PID"
wait "$REG_PID"
check "SIGTERM stops it with status 0" [ $? -eq 0 ]
finish
