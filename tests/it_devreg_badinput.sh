#!/bin/sh
# it_devreg_badinput.sh - switchyard-registry against bad input: malformed
# JSON, missing names, bad durations, wrong types, unknown paths, wrong
# methods, oversized bodies, a request that never finishes, bad blocking
# parameters, bad flags. Each gets Consul's status and text, the server
# keeps serving, and a service registered first is still there at the end.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

REG="$top_builddir/switchyard-registry"
[ -x "$REG" ] || { echo "# $REG not built"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "# curl missing"; exit 77; }

PORT=$(free_port)
B="http://127.0.0.1:$PORT"
spawn registry "$REG" -addr "127.0.0.1:$PORT" -node badbox -request-timeout 1s
REG_PID=$SPAWNED
wait_http "$B/v1/status/leader" || { fail "registry did not start"; finish; }

# call METHOD PATH [BODY-FILE]: status in $CODE, body in $SY_TMP/body,
# headers in $SY_TMP/headers.
call() {
	_m=$1; _p=$2; shift 2
	if [ $# -gt 0 ]; then
		CODE=$(curl -sS -H 'Expect:' -o "$SY_TMP/body" -D "$SY_TMP/headers" \
			-w '%{http_code}' -X "$_m" --data-binary "@$1" "$B$_p")
	else
		CODE=$(curl -sS -o "$SY_TMP/body" -D "$SY_TMP/headers" -w '%{http_code}' \
			-X "$_m" "$B$_p")
	fi
}

# expect WHAT CODE TEXT: the last call's status and exact body.
expect() {
	_what=$1 _code=$2 _text=$3
	printf '%s' "$_text" >"$SY_TMP/want"
	if [ "$CODE" = "$_code" ] && cmp -s "$SY_TMP/want" "$SY_TMP/body"; then
		ok "$_what"
	else
		fail "$_what: got $CODE '$(cat "$SY_TMP/body")', want $_code '$_text'"
	fi
}

header_is() {
	tr -d '\r' <"$SY_TMP/headers" | grep -qi "^$1: $2\$"
}

body() { printf '%s' "$1" >"$SY_TMP/req"; echo "$SY_TMP/req"; }

# A service registered before the abuse, checked at the end.
call PUT /v1/agent/service/register "$(body '{"Name":"keeper","ID":"keeper1","Port":7000,"Tags":["stay"]}')"
expect "keeper registered" 200 ""

# --- request bodies ---
call PUT /v1/agent/service/register "$(body '{"Name": "x", ')"
expect "truncated JSON" 400 "Request decode failed: unexpected EOF"
call PUT /v1/agent/service/register "$(body '{"Name": @}')"
expect "malformed JSON" 400 "Request decode failed: invalid character '@' looking for beginning of value"
call PUT /v1/agent/service/register "$(body '')"
expect "empty body" 400 "Request decode failed: EOF"
call PUT /v1/agent/service/register "$(body '[{"Name":"x"}]')"
expect "array body" 400 "Request decode failed: json: cannot unmarshal array into Go value of type structs.ServiceDefinition"
call PUT /v1/agent/service/register "$(body '{"ID":"noname","Port":1}')"
expect "missing Name" 400 "Missing service name"
call PUT /v1/agent/service/register "$(body '{"Name":"x","Port":"80"}')"
expect "string port" 400 "Request decode failed: json: cannot unmarshal string into Go struct field ServiceDefinition.Port of type int"
call PUT /v1/agent/service/register "$(body '{"Name":"x","Tags":"a"}')"
expect "string tags" 400 "Request decode failed: json: cannot unmarshal string into Go struct field ServiceDefinition.Tags of type []string"
call PUT /v1/agent/service/register "$(body '{"Name":"x","Check":{"TTL":"15"}}')"
expect "duration without unit" 400 'Request decode failed: time: missing unit in duration "15"'
call PUT /v1/agent/service/register "$(body '{"Name":"x","Check":{"HTTP":"http://127.0.0.1:1/","Interval":"fast"}}')"
expect "bad interval" 400 'Request decode failed: time: invalid duration "fast"'
call PUT /v1/agent/service/register "$(body '{"Name":"x","Check":{"TTL":"5m","DeregisterCriticalServiceAfter":"1y"}}')"
expect "unknown unit" 400 'Request decode failed: time: unknown unit "y" in duration "1y"'
call PUT /v1/agent/service/register "$(body '{"Name":"x","Check":{"HTTP":"http://127.0.0.1:1/"}}')"
expect "HTTP check without interval" 400 "Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks"
call PUT /v1/agent/service/register "$(body '{"Name":"x","Checks":[{}]}')"
expect "empty check" 400 "Invalid check: TTL must be > 0 for TTL checks"
call PUT /v1/agent/service/register "$(body '{"Name":"x","Check":{"TTL":"5s","Status":"fine"}}')"
expect "bad initial status" 400 "Status for checks must 'passing', 'warning', 'critical'"
call PUT /v1/agent/service/register "$(body '{"Name":"x","Address":"0.0.0.0"}')"
expect "any address" 400 "Invalid service address"
call PUT /v1/agent/service/register "$(body '{"Name":"x","Weights":{"Passing":0,"Warning":1}}')"
expect "zero weight" 400 "Invalid Weights: Passing must be greater than 0"
call PUT /v1/agent/check/register "$(body '{"TTL":"5s"}')"
expect "check without name" 400 "Missing check name"
call PUT /v1/agent/check/register "$(body '{"Name":"c","TTL":"5s","Status":"up"}')"
expect "check with bad status" 400 "Bad check status"
call PUT /v1/agent/check/register "$(body '{"Name":"c","TTL":"5s","ServiceID":"ghost"}')"
expect "check for unknown service" 404 'ServiceID "ghost" does not exist'

# --- unknown IDs and wrong check kinds ---
call PUT /v1/agent/service/deregister/ghost
expect "deregister unknown" 404 'Unknown service ID "ghost". Ensure that the service ID is passed, not the service name.'
call PUT "/v1/agent/check/pass/ghost?note=x"
expect "pass unknown check" 404 'Unknown check ID "ghost". Ensure that the check ID is passed, not the check name.'
call GET /v1/agent/service/ghost
expect "get unknown service" 404 "unknown service ID: ghost"
call PUT /v1/agent/check/register "$(body '{"Name":"tcp1","TCP":"127.0.0.1:1","Interval":"30s"}')"
expect "tcp check registered" 200 ""
call PUT /v1/agent/check/pass/tcp1
expect "pass on a non-TTL check" 500 'CheckID "tcp1" does not have associated TTL'
call PUT /v1/agent/check/update/tcp1 "$(body '{"Status":"fine"}')"
expect "update with a bad status" 400 "Invalid check status: 'fine'"
call PUT /v1/agent/check/update/tcp1 "$(body '{"Status":')"
expect "update with bad JSON" 400 "Request decode failed: unexpected EOF"
call PUT /v1/agent/service/maintenance/keeper1
expect "maintenance without enable" 400 "Missing value for enable"
call PUT "/v1/agent/service/maintenance/keeper1?enable=maybe"
expect "maintenance with a bad enable" 400 'Invalid value for enable: "maybe"'
call PUT "/v1/agent/service/maintenance/ghost?enable=true"
expect "maintenance of unknown service" 404 'Unknown service ID "ghost". Ensure that the service ID is passed, not the service name.'

# --- paths and methods ---
call GET /v1/nope
expect "unknown /v1 path" 404 "Invalid URL path: not a recognized HTTP API endpoint
"
call GET /v1/catalog/servicez
expect "near-miss path" 404 "Invalid URL path: not a recognized HTTP API endpoint
"
call GET /elsewhere
expect "path outside /v1" 404 ""
call GET /
expect "root" 200 "Consul Agent: UI disabled. To enable, set ui_config.enabled=true in the agent configuration and restart."
call GET /v1/agent/service/register
expect "GET on a write endpoint" 405 "method GET not allowed"
check "405 carries Allow: OPTIONS,PUT" header_is Allow "OPTIONS,PUT"
call GET /v1/agent/service/deregister/keeper1
expect "GET deregister without the compat switch" 405 "method GET not allowed"
call DELETE /v1/agent/services
expect "DELETE on a read endpoint" 405 "method DELETE not allowed"
check "Allow: OPTIONS,GET" header_is Allow "OPTIONS,GET"
call PATCH /v1/kv/x
expect "PATCH on KV" 405 "method PATCH not allowed"
check "KV Allow lists its verbs" header_is Allow "OPTIONS,GET,PUT,DELETE"
call OPTIONS /v1/agent/check/update/x
expect "OPTIONS" 200 ""
check "OPTIONS carries Allow" header_is Allow "OPTIONS,PUT"
check "errors carry the ACL policy header" header_is X-Consul-Default-Acl-Policy allow

# --- blocking-query parameters ---
call GET "/v1/health/service/keeper?index=abc"
expect "bad index" 400 "Invalid index"
call GET "/v1/health/service/keeper?index=-1"
expect "negative index" 400 "Invalid index"
call GET "/v1/catalog/services?index=1&wait=soon"
expect "bad wait" 400 "Invalid wait time"
call GET "/v1/kv/x?wait=10"
expect "wait without unit" 400 "Invalid wait time"
call GET "/v1/catalog/services?stale&consistent="
expect "stale with consistent" 400 "Cannot specify ?stale with ?consistent, conflicting semantics."
call GET "/v1/health/service/keeper?max_stale=x"
expect "bad max_stale" 400 'Invalid max_stale value "x"'
call GET "/v1/health/service/keeper?passing=xyz"
expect "bad passing" 400 "Invalid value for ?passing"
call GET "/v1/health/service/"
expect "health without a name" 400 "Missing service name"
call GET "/v1/health/state/"
expect "state without a name" 400 "Missing check state"
call GET "/v1/catalog/services?dc=elsewhere"
expect "unknown datacenter" 500 "No path to datacenter"

# --- KV ---
call PUT /v1/kv/ "$(body 'v')"
expect "KV without a key" 400 "Missing key name"
call GET /v1/kv/
expect "KV GET without a key" 400 "Missing key name"
call PUT "/v1/kv/x?cas=0&acquire=s1" "$(body 'v')"
expect "KV conflicting flags" 400 "Conflicting flags: acquire=s1&cas=0"
call DELETE "/v1/kv/x?recurse&cas=3"
expect "KV delete conflicting flags" 400 "Conflicting flags: cas=3&recurse="
call PUT "/v1/kv/x?flags=abc" "$(body 'v')"
expect "KV bad flags" 500 'strconv.ParseUint: parsing "abc": invalid syntax'
call GET /v1/kv/absent
expect "KV missing key" 404 ""
check "404 still carries X-Consul-Index" header_is X-Consul-Index '[1-9][0-9]*'
check "404 still carries X-Consul-Knownleader" header_is X-Consul-Knownleader true
head -c 614400 /dev/zero | tr '\0' 'a' >"$SY_TMP/big"
call PUT /v1/kv/big "$SY_TMP/big"
expect "KV value over 512 KiB" 413 "Request body(614400 bytes) too large, max size: 524288 bytes. See https://www.consul.io/docs/agent/config/config-files#kv_max_value_size."
head -c 6000000 /dev/zero | tr '\0' 'a' >"$SY_TMP/huge"
call PUT /v1/agent/service/register "$SY_TMP/huge"
check "a body over the server limit is refused with 413" [ "$CODE" = 413 ]

# --- a 1 MB tag list is a valid registration ---
python3 - "$SY_TMP/tags.json" <<'PY'
import json, sys
tags = ["tag-%06d-%s" % (i, "x" * 40) for i in range(20000)]
json.dump({"Name": "bigtags", "ID": "bigtags1", "Tags": tags}, open(sys.argv[1], "w"))
PY
call PUT /v1/agent/service/register "$SY_TMP/tags.json"
expect "1 MB tag list accepted" 200 ""
call GET /v1/catalog/service/bigtags
check "all 20000 tags stored" python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if len(d[0]["ServiceTags"])==20000 else 1)' "$SY_TMP/body"

# --- strict decoding is opt-in ---
call PUT /v1/agent/service/register "$(body '{"Name":"lenient","Unknown":{"x":1}}')"
expect "unknown field ignored by default" 200 ""
SPORT=$(free_port)
spawn strict "$REG" -addr "127.0.0.1:$SPORT" --strict
if wait_http "http://127.0.0.1:$SPORT/v1/status/leader"; then
	CODE=$(curl -sS -o "$SY_TMP/body" -w '%{http_code}' -X PUT \
		--data-binary '{"Name":"x","Unknown":1}' "http://127.0.0.1:$SPORT/v1/agent/service/register")
	expect "unknown field rejected with -strict" 400 'Request decode failed: json: unknown field "Unknown"'
	kill -TERM "$SPAWNED"
else
	fail "strict registry did not start"
fi

# --- a request that never finishes is cut, others are still served ---
python3 - "$PORT" "$B" >"$SY_TMP/slow.out" 2>&1 <<'PY' &
import socket, sys, time, urllib.request
port, base = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"PUT /v1/kv/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly-part")
s.settimeout(15)
start = time.time()
# The server must answer others while this one hangs.
served = urllib.request.urlopen(base + "/v1/status/leader", timeout=5).status == 200
try:
    data = s.recv(100)
except OSError:
    data = b""
took = time.time() - start
print("served=%s closed=%s took=%.1f" % (served, data == b"", took))
PY
SLOW_PID=$!
wait "$SLOW_PID"
cat "$SY_TMP/slow.out"
check "a half-sent request is closed after the timeout" grep -q 'served=True closed=True' "$SY_TMP/slow.out"
call GET /v1/kv/slow
expect "the half-sent write did not happen" 404 ""

# --- a blocking client that goes away mid-wait ---
IDX=$(curl -sS -o /dev/null -D - "$B/v1/catalog/services" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-consul-index"{print $2}')
curl -sS -o /dev/null --max-time 1 "$B/v1/catalog/services?index=$IDX&wait=30s" 2>/dev/null
call PUT /v1/agent/service/register "$(body '{"Name":"after-hangup"}')"
expect "registration after a waiter hung up" 200 ""

# --- the server is still there, and so is the service registered first ---
check "registry still running" kill -0 "$REG_PID"
call GET /v1/agent/services
check "keeper still registered" grep -q '"keeper1"' "$SY_TMP/body"
call GET /v1/catalog/service/keeper
check "keeper still in the catalog" grep -q '"ServiceID": "keeper1"' "$SY_TMP/body"

# --- program flags ---
"$REG" -bogus >"$SY_TMP/flag.out" 2>&1
check "an unknown flag exits 2" [ $? -eq 2 ]
check "... and says which flag" grep -q 'unknown flag -bogus' "$SY_TMP/flag.out"
"$REG" -reap-interval soon >"$SY_TMP/flag.out" 2>&1
check "a bad duration exits 2" [ $? -eq 2 ]
"$REG" -log-level loud >"$SY_TMP/flag.out" 2>&1
check "a bad log level exits 2" [ $? -eq 2 ]
"$REG" -addr nowhere >"$SY_TMP/flag.out" 2>&1
check "an address without a port exits 2" [ $? -eq 2 ]
"$REG" -addr >"$SY_TMP/flag.out" 2>&1
check "a flag without its value exits 2" [ $? -eq 2 ]
"$REG" --help >"$SY_TMP/flag.out" 2>&1
check "--help exits 0" [ $? -eq 0 ]
check "--help says what it is" grep -q 'development and test stand-in for a Consul agent' "$SY_TMP/flag.out"
"$REG" -addr "127.0.0.1:$PORT" >"$SY_TMP/flag.out" 2>&1
check "a taken address exits 1" [ $? -eq 1 ]
check "... and says so" grep -q 'Address already in use' "$SY_TMP/flag.out"

# --- a clean stop answers the queries still waiting ---
IDX=$(curl -sS -o /dev/null -D - "$B/v1/kv/stop?recurse" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-consul-index"{print $2}')
curl -sS -o /dev/null -w '%{http_code}' --max-time 20 "$B/v1/kv/stop?recurse&index=$IDX&wait=60s" >"$SY_TMP/last" 2>&1 &
LAST=$!
sleep 0.3
kill -TERM "$REG_PID"
wait "$REG_PID"
check "SIGTERM stops it with status 0" [ $? -eq 0 ]
wait "$LAST"
check "a waiting query is answered at shutdown" [ "$(cat "$SY_TMP/last")" = 404 ]
finish
