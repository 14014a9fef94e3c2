#!/usr/bin/env python3
"""bench_proxy_proc.py - what scripts/bench reads from /proc and asks the
registry and switchyard, in one place:

  cpu PID...                 CPU time (utime + stime) in microseconds of the
                             processes PID and all their descendants, summed
                             (nginx: the master and its worker)
  mem PID                    "VmRSS_kB VmHWM_kB" of PID
  register REG_PORT N BACKEND_PORT
                             register N services svc0..svcN-1 in the registry
                             on 127.0.0.1:REG_PORT, each with the tag
                             urlprefix-/svcI and the address of the backend
  routes UI_PORT PREFIX N SECONDS
                             wait until switchyard's /api/routes lists at
                             least N routes whose path starts with PREFIX;
                             prints the count and how long it took; exit 1
                             when SECONDS pass first"""

import http.client
import json
import os
import sys
import time


def stat_fields(pid):
    """The fields after the command name of /proc/PID/stat (the name may
    hold spaces and parentheses, so split after the last ')')."""
    with open("/proc/%d/stat" % pid) as f:
        text = f.read()
    return text[text.rindex(")") + 2:].split()


def descendants(roots):
    parent = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            parent[int(name)] = int(stat_fields(int(name))[1])
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    found = set(roots)
    grew = True
    while grew:
        grew = False
        for pid, ppid in parent.items():
            if ppid in found and pid not in found:
                found.add(pid)
                grew = True
    return sorted(found)


def cpu_us(roots):
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in descendants(roots):
        try:
            f = stat_fields(pid)
        except OSError:
            continue
        # fields 14 and 15 of stat(5): utime, stime; index 0 here is field 3
        total += int(f[11]) + int(f[12])
    return total * 1000000 // tick


def mem_kb(pid):
    got = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                got[key] = int(rest.split()[0])
    return got.get("VmRSS", -1), got.get("VmHWM", -1)


def register(reg_port, n, backend_port):
    conn = http.client.HTTPConnection("127.0.0.1", reg_port, timeout=10)
    for i in range(n):
        body = json.dumps({"Name": "svc%d" % i, "ID": "svc%d-1" % i,
                           "Address": "127.0.0.1", "Port": backend_port,
                           "Tags": ["urlprefix-/svc%d" % i]})
        conn.request("PUT", "/v1/agent/service/register", body=body,
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            sys.stderr.write("bench: registering svc%d: HTTP %d\n" % (i, resp.status))
            return 1
    conn.close()
    return 0


def count_routes(ui_port, prefix):
    conn = http.client.HTTPConnection("127.0.0.1", ui_port, timeout=5)
    try:
        conn.request("GET", "/api/routes?raw")
        text = conn.getresponse().read().decode("utf-8", "replace")
    finally:
        conn.close()
    # lines read `route add SERVICE PATH DST ...`
    return sum(1 for line in text.splitlines()
               if line.startswith("route add ") and len(line.split()) > 3
               and line.split()[3].startswith(prefix))


def wait_routes(ui_port, prefix, n, seconds):
    t0 = time.monotonic()
    got = 0
    while True:
        try:
            got = count_routes(ui_port, prefix)
        except OSError:
            pass
        took = time.monotonic() - t0
        if got >= n:
            print("%d %.1f" % (got, took))
            return 0
        if took > seconds:
            print("%d %.1f" % (got, took))
            return 1
        time.sleep(0.2)


def main(argv):
    if len(argv) >= 3 and argv[1] == "cpu":
        print(cpu_us([int(p) for p in argv[2:]]))
        return 0
    if len(argv) == 3 and argv[1] == "mem":
        print("%d %d" % mem_kb(int(argv[2])))
        return 0
    if len(argv) == 5 and argv[1] == "register":
        return register(int(argv[2]), int(argv[3]), int(argv[4]))
    if len(argv) == 6 and argv[1] == "routes":
        return wait_routes(int(argv[2]), argv[3], int(argv[4]), float(argv[5]))
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
