#!/bin/sh
# bench_registry_rss.sh - run bench_registry_rss.py against the built
# switchyard-registry: RSS with 10,000 services (target <= 64 MB) and the
# registration -> watcher wake-up latency (target p99 <= 5 ms). Prints the
# figures beside the targets; never fails on them.
#   top_builddir=BUILD sh tests/bench/bench_registry_rss.sh [SERVICES] [CHANGES]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${top_builddir:=$here/../..}"
prog="$top_builddir/switchyard-registry"
[ -x "$prog" ] || { echo "bench: $prog not built" >&2; exit 1; }
exec python3 "$here/bench_registry_rss.py" "$prog" "${1:-10000}" "${2:-1000}"
