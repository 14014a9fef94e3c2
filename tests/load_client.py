#!/usr/bin/env python3
"""load_client.py - steady HTTP load for it_daemon_load.sh.

  load_client.py run URL [options]
      CONNS threads, each with one keep-alive HTTP/1.1 connection, send GET
      URL back to back until DURATION seconds have passed, STOP_FILE
      exists, or SIGTERM/SIGINT comes. Every response is recorded; at the
      end a JSON summary goes to stdout.
        --conns N        connections (threads); default 4
        --duration S     longest run in seconds; default 60
        --stop-file P    stop as soon as P exists
        --ready-file P   created once the first 2xx answer has arrived
        --records P      one tab-separated line per request (see below)
        --timeout S      socket timeout per request; default 10
        --pause-ms MS    pause between a connection's requests; default 0
        --host H         Host header to send
  load_client.py summary RECORDS [--from T] [--to T]
      The same JSON summary over the recorded requests that started in
      [T_from, T_to) (wall-clock seconds, as `date +%s.%N` prints them).

Records: start end conn status backend kind, where start and end are
wall-clock seconds (time.time(), so that shell scripts can compare them
with `date +%s.%N`), status is the HTTP status or 0, backend names who
answered, and kind is one of:
  ok          a 2xx answer, read whole
  status      a complete answer that is not 2xx
  refused     no connection could be opened (nothing was accepted)
  unanswered  sent on a kept-alive connection that the server closed or
              reset before any byte of an answer came back: the request
              may never have been read (the keep-alive race of RFC 9112
              9.3.1), so it is counted apart from the failures
  reset       a new connection was reset or closed before any byte of an
              answer: at a graceful stop, one that sat in the listen queue
              when the listener closed ends so
  truncated   the head came but the body stopped short
  timeout     no progress for --timeout seconds
  error       anything else
The backend is the X-Backend response header when present, else the
"name" field of a JSON body (tests/proxy_backend.py), else the address in
switchyard-demo's "Serving ... from NAME on ADDR ..." line, else "-".

Summary fields: requests, ok, failed (every kind but ok, refused and
unanswered), refused, unanswered, kinds {kind: n}, status {code: n},
backends {name: n}, first/last {backend: start/end of its first/last
answer}, first_start, last_end, seconds, rate (requests per second).
"""
import http.client
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse

DEMO_RE = re.compile(rb" from \S+ on (\S+)")


def backend_of(resp, body):
    """Who answered: a header, a JSON name, or the demo's address."""
    name = resp.getheader("X-Backend")
    if name:
        return name
    if body[:1] == b"{":
        try:
            doc = json.loads(body)
            if isinstance(doc, dict) and isinstance(doc.get("name"), str):
                return doc["name"]
        except ValueError:
            pass
    m = DEMO_RE.search(body[:512])
    if m:
        return m.group(1).decode("ascii", "replace")
    return "-"


class Worker(threading.Thread):
    """One keep-alive connection sending requests back to back."""

    def __init__(self, idx, opts, stop, ready):
        super().__init__(daemon=True)
        self.idx = idx
        self.opts = opts
        self.stop = stop
        self.ready = ready
        self.records = []

    def one(self, conn, fresh):
        """One request; returns (status, backend, kind, keep)."""
        o = self.opts
        stage = "head"
        try:
            conn.request("GET", o["path"], headers=o["headers"])
            resp = conn.getresponse()
            stage = "body"
            body = resp.read()
            keep = not resp.will_close
            if 200 <= resp.status < 300:
                return resp.status, backend_of(resp, body), "ok", keep
            return resp.status, backend_of(resp, body), "status", keep
        except socket.timeout:
            return 0, "-", "timeout", False
        except http.client.IncompleteRead:
            return 0, "-", "truncated", False
        except (http.client.RemoteDisconnected, ConnectionResetError,
                BrokenPipeError, ConnectionAbortedError):
            if stage == "body":
                return 0, "-", "truncated", False
            return 0, "-", "reset" if fresh else "unanswered", False
        except (http.client.HTTPException, OSError):
            return 0, "-", "error", False

    def run(self):
        o = self.opts
        conn = None
        fresh = True
        while not self.stop.is_set():
            start = time.time()
            if conn is None:
                conn = http.client.HTTPConnection(o["host"], o["port"],
                                                  timeout=o["timeout"])
                try:
                    conn.connect()
                    conn.sock.setsockopt(socket.IPPROTO_TCP,
                                         socket.TCP_NODELAY, 1)
                    fresh = True
                except OSError as e:
                    kind = "refused" if isinstance(
                        e, ConnectionRefusedError) else "error"
                    self.records.append((start, time.time(), self.idx, 0,
                                         "-", kind))
                    conn.close()
                    conn = None
                    # nothing listens: do not spin, but notice a comeback
                    self.stop.wait(0.02)
                    continue
            status, backend, kind, keep = self.one(conn, fresh)
            self.records.append((start, time.time(), self.idx, status,
                                 backend, kind))
            fresh = False
            if kind == "ok":
                self.ready()
            if not keep:
                conn.close()
                conn = None
            if o["pause"] > 0:
                self.stop.wait(o["pause"])
        if conn is not None:
            conn.close()


def summarize(records):
    kinds, status, backends, first, last = {}, {}, {}, {}, {}
    for start, end, _conn, code, backend, kind in records:
        kinds[kind] = kinds.get(kind, 0) + 1
        if code:
            status[str(code)] = status.get(str(code), 0) + 1
        if kind == "ok":
            backends[backend] = backends.get(backend, 0) + 1
            if backend not in first or start < first[backend]:
                first[backend] = start
            if backend not in last or end > last[backend]:
                last[backend] = end
    n = len(records)
    quiet = ("ok", "refused", "unanswered")
    t0 = min((r[0] for r in records), default=0.0)
    t1 = max((r[1] for r in records), default=0.0)
    secs = t1 - t0
    return {
        "requests": n,
        "ok": kinds.get("ok", 0),
        "failed": sum(v for k, v in kinds.items() if k not in quiet),
        "refused": kinds.get("refused", 0),
        "unanswered": kinds.get("unanswered", 0),
        "kinds": kinds,
        "status": status,
        "backends": backends,
        "first": first,
        "last": last,
        "first_start": t0,
        "last_end": t1,
        "seconds": round(secs, 3),
        "rate": round(n / secs, 1) if secs > 0 else 0.0,
    }


def parse_opts(args, known):
    """--name value pairs into a dict; exits 2 on anything unknown."""
    out = {}
    i = 0
    while i < len(args):
        name = args[i][2:] if args[i].startswith("--") else None
        if name not in known or i + 1 >= len(args):
            sys.stderr.write(__doc__)
            sys.exit(2)
        out[name] = args[i + 1]
        i += 2
    return out


def run(url, args):
    a = parse_opts(args, ("conns", "duration", "stop-file", "ready-file",
                          "records", "timeout", "pause-ms", "host"))
    u = urllib.parse.urlsplit(url)
    opts = {
        "host": u.hostname,
        "port": u.port or 80,
        "path": (u.path or "/") + ("?" + u.query if u.query else ""),
        "headers": {"Host": a["host"]} if "host" in a else {},
        "timeout": float(a.get("timeout", "10")),
        "pause": float(a.get("pause-ms", "0")) / 1000.0,
    }
    stop = threading.Event()
    ready_file = a.get("ready-file")
    ready_lock = threading.Lock()
    ready_done = []

    def ready():
        if ready_done or not ready_file:
            return
        with ready_lock:
            if not ready_done:
                with open(ready_file, "w") as f:
                    f.write("%.6f\n" % time.time())
                ready_done.append(True)

    def on_signal(_sig, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    workers = [Worker(i, opts, stop, ready)
               for i in range(int(a.get("conns", "4")))]
    for w in workers:
        w.start()
    deadline = time.time() + float(a.get("duration", "60"))
    stop_file = a.get("stop-file")
    while not stop.is_set() and time.time() < deadline:
        if stop_file and os.path.exists(stop_file):
            break
        stop.wait(0.01)
    stop.set()
    for w in workers:
        w.join(opts["timeout"] + 5)
    records = sorted((r for w in workers for r in w.records),
                     key=lambda r: r[0])
    if "records" in a:
        with open(a["records"], "w") as f:
            for r in records:
                f.write("%.6f\t%.6f\t%d\t%d\t%s\t%s\n" % r)
    print(json.dumps(summarize(records)))


def summary(path, args):
    a = parse_opts(args, ("from", "to"))
    lo = float(a.get("from", "-inf"))
    hi = float(a.get("to", "inf"))
    records = []
    with open(path) as f:
        for line in f:
            s, e, c, code, backend, kind = line.rstrip("\n").split("\t")
            if lo <= float(s) < hi:
                records.append((float(s), float(e), int(c), int(code),
                                backend, kind))
    print(json.dumps(summarize(records)))


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) >= 3 and sys.argv[1] == "summary":
        summary(sys.argv[2], sys.argv[3:])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
