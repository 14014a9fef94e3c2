#!/bin/sh
# it_demo.sh - switchyard-demo on its own: flags (the fabio demo server's,
# in every spelling Go's flag package accepts), bad flags exit 2, the HTTP
# answers on prefixes, /health and unknown paths, and a clean exit 0 on
# SIGTERM and SIGINT. No agent runs here: the demo must serve anyway and
# its registrar keeps trying in the background. Registration itself is
# covered by it_registrar.sh.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

DEMO=$top_builddir/switchyard-demo
[ -x "$DEMO" ] || { echo "# skip: $DEMO is not built"; exit 77; }

# run_demo NAME ARGS...: run to completion, keep status and output.
run_demo() {
	_name=$1; shift
	"$DEMO" "$@" >"$SY_TMP/$_name.out" 2>"$SY_TMP/$_name.err"
	echo $? >"$SY_TMP/$_name.rc"
}
rc_of() { cat "$SY_TMP/$1.rc"; }
err_has() { grep -q -- "$2" "$SY_TMP/$1.err"; }
out_has() { grep -q -- "$2" "$SY_TMP/$1.out"; }

# ---- flags ----
run_demo help -h
check "-h exits 0" [ "$(rc_of help)" = 0 ]
check "-h lists the flags" out_has help "-prefix"
run_demo help2 --help
check "--help exits 0" [ "$(rc_of help2)" = 0 ]

run_demo noprefix -addr 127.0.0.1:1
check "no -prefix exits 2" [ "$(rc_of noprefix)" = 2 ]
check "no -prefix says so" err_has noprefix "at least one -prefix"
run_demo bogus -prefix /foo -bogus 1
check "unknown flag exits 2" [ "$(rc_of bogus)" = 2 ]
check "unknown flag is named" err_has bogus "not defined: -bogus"
run_demo novalue -prefix
check "flag without value exits 2" [ "$(rc_of novalue)" = 2 ]
check "flag without value is named" err_has novalue "needs an argument: -prefix"
run_demo badstatus -prefix /foo -status abc
check "bad -status exits 2" [ "$(rc_of badstatus)" = 2 ]
run_demo badaddr -prefix /foo -addr nowhere
check "bad -addr exits 2" [ "$(rc_of badaddr)" = 2 ]
run_demo baddur -prefix /foo -deregister 5x
check "bad -deregister exits 2" [ "$(rc_of baddur)" = 2 ]
run_demo badprefix -prefix foo
check "prefix without a path exits 2" [ "$(rc_of badprefix)" = 2 ]
run_demo positional -prefix /foo extra
check "a stray argument exits 2" [ "$(rc_of positional)" = 2 ]

# ---- serving, every flag spelling, no agent ----
PORT=$(free_port)
DEAD=$(free_port)
spawn demo "$DEMO" --addr=127.0.0.1:$PORT -prefix=/foo --prefix "/bar strip=/bar" \
	-tags a,b -tags=c -status 503 -name svc-x -consul 127.0.0.1:$DEAD \
	-deregister=1m30s
DEMO_PID=$SPAWNED
check "demo answers without an agent" wait_http "http://127.0.0.1:$PORT/health" 10

code_of() { curl -s -o "$SY_TMP/body" -w '%{http_code}' --max-time 5 "$1"; }
body_is() { [ "$(cat "$SY_TMP/body")" = "$1" ]; }

TAGS="urlprefix-/foo,urlprefix-/bar strip=/bar,a,b,c"
check "/health is 200" [ "$(code_of "http://127.0.0.1:$PORT/health")" = 200 ]
check "/health says OK" body_is "OK"
check "prefix answers -status" [ "$(code_of "http://127.0.0.1:$PORT/foo")" = 503 ]
check "prefix body names service, address and tags" \
	body_is "Serving /foo via http from svc-x on 127.0.0.1:$PORT tags=$TAGS"
check "below the prefix" [ "$(code_of "http://127.0.0.1:$PORT/foo/x?y=1")" = 503 ]
check "below the prefix, full URI" \
	body_is "Serving /foo/x?y=1 via http from svc-x on 127.0.0.1:$PORT tags=$TAGS"
check "prefix with options serves its path" \
	[ "$(code_of "http://127.0.0.1:$PORT/bar/baz")" = 503 ]
check "a longer name is not under the prefix" \
	[ "$(code_of "http://127.0.0.1:$PORT/foobar")" = 404 ]
check "unknown path is 404" [ "$(code_of "http://127.0.0.1:$PORT/")" = 404 ]
check "demo logs key=value lines" grep -q "component=demo event=listening addr=127.0.0.1:$PORT" "$SY_TMP/demo.log"
check "registrar logs the missing agent" grep -q "component=registrar event=agent-down" "$SY_TMP/demo.log"

kill -TERM "$DEMO_PID"
wait "$DEMO_PID"
check "SIGTERM exits 0" [ $? = 0 ]
check "SIGTERM drains" grep -q "event=drained in_flight=0" "$SY_TMP/demo.log"
check "no longer listening" sh -c "! curl -s --max-time 2 http://127.0.0.1:$PORT/health"

# ---- defaults: name from the program, status 200, SIGINT ----
PORT=$(free_port)
spawn demo2 "$DEMO" -addr 127.0.0.1:$PORT -prefix / -consul 127.0.0.1:$DEAD
DEMO_PID=$SPAWNED
wait_http "http://127.0.0.1:$PORT/health" 10
check "prefix / serves everything" [ "$(code_of "http://127.0.0.1:$PORT/any/thing")" = 200 ]
check "name defaults to the program's" \
	body_is "Serving /any/thing via http from switchyard-demo on 127.0.0.1:$PORT tags=urlprefix-/"
kill -INT "$DEMO_PID"
wait "$DEMO_PID"
check "SIGINT exits 0" [ $? = 0 ]

finish
