#!/usr/bin/env python3
"""it_python_consul.py - Debian's python3-consul (0.7.1), unchanged, against
switchyard-registry started with -compat-pre1-verbs: register with an HTTP
check, wait for passing through health.service with index blocking, KV put
and get with CAS, a TTL check, deregistration. Exit 77 when `import consul`
fails (the package is missing)."""

import os
import subprocess
import sys
import threading
import time
import http.server
import socket

try:
    import consul
except ImportError:
    # The interpreter configure found may not be the system one that the
    # Debian package installs into.
    if os.path.exists("/usr/bin/python3") and \
            os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") and \
            not os.environ.get("SY_PY_REEXEC"):
        os.environ["SY_PY_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print("# python3-consul is not installed")
    sys.exit(77)

FAILS = 0


def ok(cond, what):
    global FAILS
    if cond:
        print("ok - %s" % what)
    else:
        FAILS += 1
        print("not ok - %s" % what)
    return cond


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"healthy"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def start_registry(builddir, port, *flags):
    prog = os.path.join(builddir, "switchyard-registry")
    proc = subprocess.Popen([prog, "-addr", "127.0.0.1:%d" % port] + list(flags),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("registry did not start")


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    ok(proc.returncode == 0, "registry stopped cleanly")


def main():
    builddir = os.environ.get("top_builddir",
                              os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    if not os.access(os.path.join(builddir, "switchyard-registry"), os.X_OK):
        print("# switchyard-registry not built")
        return 77

    backend = http.server.HTTPServer(("127.0.0.1", 0), Health)
    bport = backend.server_address[1]
    threading.Thread(target=backend.serve_forever, daemon=True).start()

    port = free_port()
    reg = start_registry(builddir, port, "-compat-pre1-verbs")
    try:
        c = consul.Consul(host="127.0.0.1", port=port)
        ok(c.status.leader() == "127.0.0.1:8300", "status.leader")
        ok(c.agent.self()["Config"]["Datacenter"] == "dc1", "agent.self datacenter")

        url = "http://127.0.0.1:%d/health" % bport
        ok(c.agent.service.register(
            "web", service_id="web1", address="127.0.0.1", port=bport,
            tags=["urlprefix-/web"],
            check=consul.Check.http(url, "1s", timeout="1s", deregister="1m")),
            "service.register with an HTTP check")
        ok("web1" in c.agent.services(), "agent.services lists it")

        # Block on the health index until the instance passes.
        index, nodes = c.health.service("web", passing=True)
        deadline = time.time() + 15
        while not nodes and time.time() < deadline:
            index, nodes = c.health.service("web", index=index, wait="5s", passing=True)
        ok(len(nodes) == 1, "health.service(passing=True) sees the instance")
        if nodes:
            svc = nodes[0]["Service"]
            ok(svc["ID"] == "web1" and svc["Port"] == bport and
               svc["Tags"] == ["urlprefix-/web"], "instance fields")
            outputs = [ch["Output"] for ch in nodes[0]["Checks"]]
            ok(any(o.startswith("HTTP GET %s: 200 OK" % url) for o in outputs),
               "HTTP check output")
        ok(int(index) > 0, "X-Consul-Index is positive (%s)" % index)

        # A blocking call with nothing changing returns at its wait.
        t0 = time.time()
        index2, _ = c.health.service("web", index=index, wait="1s", passing=True)
        took = time.time() - t0
        ok(index2 == index and 0.9 <= took < 5, "blocking call times out unchanged (%.2fs)" % took)

        # KV with CAS.
        ok(c.kv.put("cfg/a", "v1") is True, "kv.put")
        index, data = c.kv.get("cfg/a")
        ok(data is not None and data["Value"] == b"v1", "kv.get value")
        mi = data["ModifyIndex"]
        ok(c.kv.put("cfg/a", "v2", cas=mi) is True, "kv.put with the right cas")
        ok(c.kv.put("cfg/a", "v3", cas=mi) is False, "kv.put with a stale cas")
        ok(c.kv.put("cfg/b", "x", cas=0) is True, "kv.put cas=0 creates")
        ok(c.kv.put("cfg/b", "y", cas=0) is False, "kv.put cas=0 refuses an existing key")
        _, entries = c.kv.get("cfg/", recurse=True)
        ok([e["Key"] for e in entries] == ["cfg/a", "cfg/b"], "kv.get recurse")
        ok(entries[0]["Value"] == b"v2", "recurse values decoded")
        _, keys = c.kv.get("", keys=True, separator="/")
        ok(keys == ["cfg/"], "kv.get keys with a separator")
        ok(c.kv.put("cfg/empty", "") is True, "kv.put empty value")
        _, e = c.kv.get("cfg/empty")
        ok(e["Value"] is None, "an empty value reads back as None")
        ok(c.kv.delete("cfg/b") is True, "kv.delete")
        idx, missing = c.kv.get("cfg/b")
        ok(missing is None and int(idx) > 0, "kv.get of a deleted key: None with an index")

        # A TTL check through the pre-1.0 GET verbs.
        ok(c.agent.check.register("mem", consul.Check.ttl("10s"), check_id="mem1",
                                  service_id="web1"), "check.register ttl")
        ok(c.agent.check.ttl_pass("mem1", "fine") is True, "check.ttl_pass (GET)")
        checks = c.agent.checks()
        ok(checks["mem1"]["Status"] == "passing" and checks["mem1"]["Output"] == "fine",
           "TTL check passing with the note")
        ok(c.agent.check.ttl_warn("mem1") is True, "check.ttl_warn (GET)")
        ok(c.agent.checks()["mem1"]["Status"] == "warning", "TTL check warning")
        ok(c.agent.service.maintenance("web1", True, "deploy") is True, "service.maintenance")
        _, nodes = c.health.service("web", passing=True)
        ok(nodes == [], "maintenance takes the instance out")
        ok(c.agent.service.maintenance("web1", False) is True, "maintenance off")
        ok(c.agent.check.deregister("mem1") is True, "check.deregister (GET)")

        ok(c.agent.service.deregister("web1") is True, "service.deregister (GET)")
        _, services = c.catalog.service("web")
        ok(services == [], "catalog.service empty after deregistration")
        _, catalog = c.catalog.services()
        ok("web" not in catalog and "consul" in catalog, "catalog.services")
    finally:
        stop(reg)

    # Without the switch the pre-1.0 verbs get 405, which python-consul
    # 0.7.1 turns into a silent False.
    port = free_port()
    reg = start_registry(builddir, port)
    try:
        c = consul.Consul(host="127.0.0.1", port=port)
        ok(c.agent.service.register("w"), "register without the switch")
        ok(c.agent.service.deregister("w") is False,
           "GET deregister refused without -compat-pre1-verbs")
        ok("w" in c.agent.services(), "the service stays")
    finally:
        stop(reg)
    backend.shutdown()
    return 0 if FAILS == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
