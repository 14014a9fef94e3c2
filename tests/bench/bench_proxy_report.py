#!/usr/bin/env python3
"""bench_proxy_report.py - the figures of scripts/bench.

  record FILE PATH ROUND CPU_US < WRK_OUTPUT
      parse one `wrk --latency` run and append it as a JSON line to FILE
      together with the CPU microseconds the path's proxy used during it
      (CPU_US "-" for the direct path, which has no proxy);
  summary FILE
      per path the median over rounds (with min-max) of requests/s, p50,
      p99 and CPU us per request, the non-2xx responses and socket errors
      summed over rounds, then switchyard against HAProxy and nginx beside
      the targets.

A benchmark prints; it never fails on a target."""

import json
import re
import statistics
import sys

PATHS = ["direct", "haproxy", "nginx", "switchyard"]
UNITS_US = {"us": 1.0, "ms": 1000.0, "s": 1000000.0, "m": 60000000.0}


def duration_us(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError("not a wrk duration: %r" % text)
    return float(m.group(1)) * UNITS_US[m.group(2)]


def parse_wrk(out):
    """The numbers of one wrk run; raises ValueError when a line is missing."""
    row = {"non2xx": 0, "connect": 0, "read": 0, "write": 0, "timeout": 0}
    m = re.search(r"^\s*(\d+) requests in ([0-9.]+)(us|ms|s|m),", out, re.M)
    if not m:
        raise ValueError("no 'N requests in T' line")
    row["requests"] = int(m.group(1))
    row["seconds"] = duration_us(m.group(2) + m.group(3)) / 1e6
    m = re.search(r"^Requests/sec:\s*([0-9.]+)", out, re.M)
    if not m:
        raise ValueError("no 'Requests/sec' line")
    row["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_us"), ("99", "p99_us")):
        m = re.search(r"^\s*%s(?:\.0+)?%%\s+(\S+)" % pct, out, re.M)
        if not m:
            raise ValueError("no %s%% latency line (was --latency given?)" % pct)
        row[key] = duration_us(m.group(1))
    m = re.search(r"^\s*Non-2xx or 3xx responses:\s*(\d+)", out, re.M)
    if m:
        row["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        for i, key in enumerate(("connect", "read", "write", "timeout")):
            row[key] = int(m.group(i + 1))
    return row


def record(path, file, rnd, cpu_us):
    out = sys.stdin.read()
    try:
        row = parse_wrk(out)
    except ValueError as e:
        sys.stderr.write("bench: cannot read wrk's output for %s (%s):\n%s\n" % (path, e, out))
        return 1
    row["path"] = path
    row["round"] = int(rnd)
    row["cpu_us"] = None if cpu_us == "-" else float(cpu_us)
    with open(file, "a") as f:
        f.write(json.dumps(row) + "\n")
    cpu = cpu_per_req(row)
    errors = row["connect"] + row["read"] + row["write"] + row["timeout"]
    print("   round %d %-10s %8.0f req/s  p50 %7.3f ms  p99 %7.3f ms  non-2xx %d  socket errors %d  CPU %s us/req"
          % (row["round"], path, row["rps"], row["p50_us"] / 1000.0, row["p99_us"] / 1000.0,
             row["non2xx"], errors, "-" if cpu is None else "%.1f" % cpu))
    return 0


def load(file):
    rows = {}
    with open(file) as f:
        for line in f:
            r = json.loads(line)
            rows.setdefault(r["path"], []).append(r)
    return rows


def cpu_per_req(r):
    if r["cpu_us"] is None or r["requests"] == 0:
        return None
    return r["cpu_us"] / r["requests"]


def stat(values):
    """(median, min, max) or None when there is nothing to take it from."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def figures(rows):
    return {
        "rps": stat([r["rps"] for r in rows]),
        "p50": stat([r["p50_us"] / 1000.0 for r in rows]),
        "p99": stat([r["p99_us"] / 1000.0 for r in rows]),
        "cpu": stat([cpu_per_req(r) for r in rows]),
        "non2xx": sum(r["non2xx"] for r in rows),
        "sockerr": sum(r["connect"] + r["read"] + r["write"] + r["timeout"] for r in rows),
        "sockerr_detail": "/".join(str(sum(r[k] for r in rows))
                                   for k in ("connect", "read", "write", "timeout")),
    }


def cell(s, fmt):
    if s is None:
        return "-"
    med, lo, hi = s
    return ("%s (%s-%s)" % (fmt, fmt, fmt)) % (med, lo, hi)


def ratio_line(name, ours, theirs, want_low, unit_fmt, targeted):
    """One ratio of medians; with targeted, the target and whether it is met."""
    if ours is None or theirs is None or theirs[0] == 0:
        print("  %-12s  -" % name)
        return
    r = ours[0] / theirs[0]
    line = ("  %-12s  %5.2fx  (switchyard " + unit_fmt + " vs " + unit_fmt + ")") % (
        name, r, ours[0], theirs[0])
    if targeted:
        met = r <= 1.0 if want_low else r >= 1.0
        line += "   target %s  %s" % ("<= 1.00x" if want_low else ">= 1.00x",
                                      "met" if met else "not met")
    print(line)


def summary(file):
    rows = load(file)
    figs = {p: figures(rows[p]) for p in PATHS if p in rows}
    nrounds = max((len(v) for v in rows.values()), default=0)
    print("== per path: median over %d round%s (min-max)" % (nrounds, "" if nrounds == 1 else "s"))
    table = [("path", "requests/s", "p50 ms", "p99 ms", "non-2xx", "socket errors", "proxy CPU us/req")]
    for p in PATHS:
        if p not in figs:
            continue
        f = figs[p]
        table.append((p, cell(f["rps"], "%.0f"), cell(f["p50"], "%.3f"), cell(f["p99"], "%.3f"),
                      str(f["non2xx"]),
                      "%d (%s)" % (f["sockerr"], f["sockerr_detail"]) if f["sockerr"] else "0",
                      cell(f["cpu"], "%.1f")))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    print("(non-2xx and socket errors: totals over all rounds; socket errors split "
          "as connect/read/write/timeout when any)")
    sy = figs.get("switchyard")
    if not sy:
        return 0
    # the targets are set against HAProxy; nginx is a reference
    for other, label, targeted in (("haproxy", "HAProxy", True), ("nginx", "nginx", False)):
        f = figs.get(other)
        if not f:
            continue
        print("== switchyard / %s (medians)%s" % (label, "" if targeted else ", for reference"))
        ratio_line("requests/s", sy["rps"], f["rps"], False, "%.0f", targeted)
        ratio_line("CPU us/req", sy["cpu"], f["cpu"], True, "%.1f", targeted)
        ratio_line("p99", sy["p99"], f["p99"], True, "%.3f ms", targeted)
        line = "  %-12s  %d non-2xx, %d socket errors (%s: %d, %d)" % (
            "errors", sy["non2xx"], sy["sockerr"], label, f["non2xx"], f["sockerr"])
        if targeted:
            line += "   target 0  %s" % ("met" if sy["non2xx"] + sy["sockerr"] == 0 else "not met")
        print(line)
    return 0


def main(argv):
    if len(argv) == 6 and argv[1] == "record":
        return record(argv[3], argv[2], argv[4], argv[5])
    if len(argv) == 3 and argv[1] == "summary":
        return summary(argv[2])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
