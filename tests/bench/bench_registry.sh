#!/bin/sh
# bench_registry.sh - the registry benchmarks in one run, from a build
# folder: starts switchyard-registry on a free loopback port, measures
# registration -> blocked watcher wake-up with the C client
# (bench_watch_latency, 1,000 changes), then the registry's RSS holding
# 10,000 services with one check each (bench_registry_rss.sh). Prints
# figures beside their targets; never fails on them.
#   top_builddir=BUILD sh tests/bench/bench_registry.sh [CHANGES] [SERVICES]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${top_builddir:=$(pwd)}"
export top_builddir
changes=${1:-1000}
services=${2:-10000}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
"$top_builddir/switchyard-registry" -addr "127.0.0.1:$port" -log-level error &
reg=$!
trap 'kill $reg 2>/dev/null; wait $reg 2>/dev/null' EXIT
i=0
until curl -s -o /dev/null "http://127.0.0.1:$port/v1/status/leader"; do
	i=$((i + 1)); [ $i -lt 200 ] || { echo "bench: registry did not start" >&2; exit 1; }
	sleep 0.05
done

echo "== registration -> blocked watcher wake-up (C client, $changes changes)"
"$top_builddir/bench_watch_latency" -addr "127.0.0.1:$port" -changes "$changes"
kill $reg; wait $reg 2>/dev/null || true
trap - EXIT

echo "== registry RSS with $services services"
sh "$here/bench_registry_rss.sh" "$services" "$changes"
