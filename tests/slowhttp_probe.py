#!/usr/bin/env python3
"""slowhttp_probe.py - the probe and the figures of a slowhttptest run,
for tests/it_slowhttp.sh and scripts/slowhttp.

  slowhttp_probe.py probe URL OUT [TIMEOUT [PID]]
      One GET of URL per second, each on a fresh connection (as a new
      visitor would come), until SIGTERM; after the signal the request in
      flight is finished (within TIMEOUT seconds, default 10) and
      recorded, so that a slow answer at the end is not lost. One line per
      request in OUT: "SECONDS_SINCE_START STATUS LATENCY_MS FDS", STATUS
      being the HTTP status or "err:<what>", FDS the number of descriptors
      process PID holds right after the answer (- without PID).
  slowhttp_probe.py probes OUT [BOUND_MS]
      The summary of OUT as shell assignments: probes_sent, probes_ok
      (200 within BOUND_MS when given, any 200 otherwise), probes_failed,
      probe_p50_ms, probe_max_ms, probe_bad (the failed lines, joined
      with ';'), fds_max and fds_last (the most descriptors PID held at a
      probe, and at the last one).
  slowhttp_probe.py attack LOG CSV
      slowhttptest's figures as shell assignments, from its -v 4 output
      (LOG) and its -g -o CSV. From the log, which has every event:
      slow_opened (slow connections that sent their request), slow_closed
      (of those, closed by the server: an end of stream or an error),
      slow_reset (the errors among them, e.g. a reset), slow_open_end
      (still open when slowhttptest stopped), slow_first_close_s and
      slow_last_close_s (seconds since the start, to the second; - when
      none), slow_replies (the status of each reply on a slow connection,
      e.g. "408=150 200=3"), slow_408, slow_exit (why slowhttptest
      stopped). From the CSV: slow_connected_max (most connections open at
      once), slow_unavailable_s (seconds in which slowhttptest's own probe
      got no answer) and its last row: slow_csv_second, slow_csv_closed,
      slow_csv_pending, slow_csv_connected, slow_csv_available (yes/no).
      The last row can lag: slowhttptest stops without writing one when
      the server closed every connection.
  slowhttp_probe.py orphans PORT
      The local TCP connections of port PORT that their process closed
      while the kernel still has bytes of theirs to send (FIN-WAIT-1 with
      a send queue, from /proc/net/tcp and tcp6): "COUNT BYTES".
"""
import http.client
import os
import re
import signal
import statistics
import sys
import threading
import time
import urllib.parse

stop = threading.Event()


def fd_count(pid):
    if pid is None:
        return "-"
    try:
        return str(len(os.listdir("/proc/%d/fd" % pid)))
    except OSError:
        return "-"


def probe(url, out, timeout, pid):
    u = urllib.parse.urlsplit(url)
    path = u.path + ("?" + u.query if u.query else "")
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    start = time.monotonic()
    n = 0
    with open(out, "a", buffering=1) as f:
        while not stop.is_set():
            t0 = time.monotonic()
            conn = http.client.HTTPConnection(u.hostname, u.port,
                                              timeout=timeout)
            try:
                conn.request("GET", path, headers={"Connection": "close"})
                r = conn.getresponse()
                r.read()
                status = str(r.status)
            except Exception as e:  # every failure is a figure, not a crash
                status = "err:" + type(e).__name__
            finally:
                conn.close()
            ms = (time.monotonic() - t0) * 1000
            f.write("%.1f %s %.0f %s\n" % (t0 - start, status, ms,
                                           fd_count(pid)))
            n += 1
            # the next one on the schedule, or at once when this one was late
            stop.wait(max(0.0, start + n - time.monotonic()))


def probes(out, bound_ms):
    lines = [ln.split() for ln in open(out) if ln.strip()]
    lat = [float(x[2]) for x in lines]
    fds = [int(x[3]) for x in lines if x[3] != "-"]
    bad = [x for x in lines
           if x[1] != "200" or (bound_ms is not None and float(x[2]) > bound_ms)]
    figures = {
        "probes_sent": len(lines),
        "probes_ok": len(lines) - len(bad),
        "probes_failed": len(bad),
        "probe_p50_ms": "%.0f" % statistics.median(lat) if lat else "-",
        "probe_max_ms": "%.0f" % max(lat) if lat else "-",
        "probe_bad": ";".join("t=%ss %s %sms" % tuple(x[:3]) for x in bad[:10]),
        "fds_max": max(fds) if fds else "-",
        "fds_last": fds[-1] if fds else "-",
    }
    for k, v in figures.items():
        print("%s='%s'" % (k, v))


STAMP = re.compile(r"(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4}):(.*)")
OPENED = re.compile(r"^run_test:initial \d+ of \d+ bytes sent on socket \d+")
REPLIED = re.compile(r"^run_test: socket \d+ replied \d+ bytes:")
CLOSED = re.compile(r"^run_test: socket \d+ closed: (.*)")
EXIT = re.compile(r"Exit status: *(.*)")
STATUS = re.compile(r"^HTTP/1\.[01] (\d{3})")


def attack(log, csv):
    ansi = re.compile(r"\x1b\[[0-9;]*m")
    replies = {}
    opened = closed = reset = 0
    start = first = last = None
    why = "-"
    expect_status = False
    with open(log, errors="replace") as f:
        for line in f:
            line = ansi.sub("", line).rstrip("\r\n")
            if expect_status:
                m = STATUS.match(line.strip())
                if m:
                    replies[m.group(1)] = replies.get(m.group(1), 0) + 1
                expect_status = False
            m = EXIT.search(line)
            if m:
                why = m.group(1).strip()
            m = STAMP.search(line)
            if not m:
                continue
            at = time.mktime(time.strptime(m.group(1), "%a %b %d %H:%M:%S %Y"))
            if start is None:
                start = at
            event = m.group(2)
            if OPENED.match(event):
                opened += 1
            elif REPLIED.match(event):
                expect_status = True
            else:
                m = CLOSED.match(event)
                if m:
                    closed += 1
                    if m.group(1) != "Peer closed connection":
                        reset += 1
                    if first is None:
                        first = at - start
                    last = at - start
    rows = []
    with open(csv) as f:
        head = f.readline().strip().split(",")
        for line in f:
            parts = line.strip().split(",")
            if len(parts) == len(head):
                rows.append(dict(zip(head, (int(p) for p in parts))))
    end = rows[-1] if rows else {}
    figures = {
        "slow_opened": opened,
        "slow_closed": closed,
        "slow_reset": reset,
        "slow_open_end": opened - closed,
        "slow_first_close_s": "-" if first is None else "%.0f" % first,
        "slow_last_close_s": "-" if last is None else "%.0f" % last,
        "slow_replies": " ".join("%s=%d" % kv for kv in sorted(replies.items())),
        "slow_408": replies.get("408", 0),
        "slow_exit": why,
        "slow_connected_max": max((r.get("Connected", 0) for r in rows),
                                  default=0),
        "slow_unavailable_s": sum(1 for r in rows
                                  if r.get("Service Available", 1) == 0),
        "slow_csv_second": end.get("Seconds", "-"),
        "slow_csv_closed": end.get("Closed", "-"),
        "slow_csv_pending": end.get("Pending", "-"),
        "slow_csv_connected": end.get("Connected", "-"),
        "slow_csv_available": "-" if not end else
                              "no" if end.get("Service Available", 1) == 0
                              else "yes",
    }
    for k, v in figures.items():
        print("%s='%s'" % (k, v))


FIN_WAIT1 = "04"


def orphans(port):
    count = queued = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            local, state, queues = f[1], f[3], f[4]
            tx = int(queues.split(":")[0], 16)
            if int(local.rsplit(":", 1)[1], 16) == port and \
                    state == FIN_WAIT1 and tx > 0:
                count += 1
                queued += tx
    print(count, queued)


def main():
    a = sys.argv
    if len(a) >= 4 and a[1] == "probe":
        probe(a[2], a[3], float(a[4]) if len(a) > 4 else 10.0,
              int(a[5]) if len(a) > 5 else None)
    elif len(a) >= 3 and a[1] == "probes":
        probes(a[2], float(a[3]) if len(a) > 3 else None)
    elif len(a) == 4 and a[1] == "attack":
        attack(a[2], a[3])
    elif len(a) == 3 and a[1] == "orphans":
        orphans(int(a[2]))
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
