#!/usr/bin/env python3
"""bench_registry_rss.py - switchyard-registry's two acceptance figures:

  memory:  RSS after registering 10,000 services with one check each,
           against the 64 MB target;
  latency: registration -> blocked watcher wake-up over 1,000 changes,
           p50/p99 against the 5 ms p99 target.

It prints the figures and the targets side by side; it does not fail on
them (a benchmark, not a test). Usage: bench_registry_rss.py PROGRAM
[SERVICES] [CHANGES]."""

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

RSS_TARGET_KB = 64 * 1024
P99_TARGET_MS = 5.0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def put(conn, path, body):
    conn.request("PUT", path, body=body, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    resp.read()
    if resp.status != 200:
        raise SystemExit("PUT %s: %d" % (path, resp.status))


def register_many(port, n):
    conn = http.client.HTTPConnection("127.0.0.1", port)  # one keep-alive connection
    t0 = time.perf_counter()
    for i in range(n):
        body = json.dumps({
            "Name": "svc-%d" % i, "ID": "svc-%d-1" % i, "Address": "10.0.%d.%d" % (i // 250, i % 250),
            "Port": 8000 + i % 1000, "Tags": ["urlprefix-/svc-%d" % i, "v1"],
            "Meta": {"version": "1"},
            "Check": {"TTL": "10m", "DeregisterCriticalServiceAfter": "1h"},
        })
        put(conn, "/v1/agent/service/register", body)
    took = time.perf_counter() - t0
    conn.close()
    return took


def wake_latency(port, changes):
    """Time from sending a registration to the blocked watcher's answer."""
    ready = threading.Event()
    woke = threading.Event()
    state = {"index": 0, "t": 0.0, "stop": False}

    def watcher():
        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.request("GET", "/v1/health/service/lat")
        r = conn.getresponse()
        r.read()
        state["index"] = int(r.getheader("X-Consul-Index"))
        while not state["stop"]:
            conn.request("GET", "/v1/health/service/lat?index=%d&wait=30s" % state["index"])
            ready.set()
            r = conn.getresponse()
            r.read()
            state["t"] = time.perf_counter()
            state["index"] = int(r.getheader("X-Consul-Index"))
            woke.set()
        conn.close()

    th = threading.Thread(target=watcher, daemon=True)
    th.start()
    writer = http.client.HTTPConnection("127.0.0.1", port)
    lat = []
    for i in range(changes):
        ready.wait(10)
        ready.clear()
        woke.clear()
        time.sleep(0.002)  # let the server park the watcher's request
        if i == changes - 1:
            state["stop"] = True
        t0 = time.perf_counter()
        put(writer, "/v1/agent/service/register",
            json.dumps({"Name": "lat", "ID": "lat1", "Port": 1, "Tags": ["t%d" % i]}))
        if not woke.wait(10):
            raise SystemExit("watcher did not wake")
        lat.append((state["t"] - t0) * 1000.0)
    writer.close()
    th.join(5)
    return lat


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    prog = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    changes = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    port = free_port()
    proc = subprocess.Popen([prog, "-addr", "127.0.0.1:%d" % port, "-log-level", "warn"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise SystemExit("registry did not start")
                time.sleep(0.05)
        base = rss_kb(proc.pid)
        took = register_many(port, n)
        rss = rss_kb(proc.pid)
        print("services_registered=%d seconds=%.2f rate_per_s=%.0f" % (n, took, n / took))
        print("rss_start_kb=%d rss_kb=%d rss_mb=%.1f target_mb=%d within_target=%s"
              % (base, rss, rss / 1024.0, RSS_TARGET_KB // 1024,
                 "yes" if rss <= RSS_TARGET_KB else "no"))
        lat = wake_latency(port, changes)
        lat.sort()
        p50 = statistics.median(lat)
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        print("wake_changes=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f target_p99_ms=%.1f within_target=%s"
              % (len(lat), p50, p99, lat[-1], P99_TARGET_MS, "yes" if p99 <= P99_TARGET_MS else "no"))
        print("rss_after_latency_kb=%d" % rss_kb(proc.pid))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
