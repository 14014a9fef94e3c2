#!/usr/bin/env python3
"""daemon_client.py - a fast keep-alive HTTP/1.1 client for the daemon tests.

  daemon_client.py URL N [-c CONNS] [-d DEPTH] [-H 'Name: value']...
                   [-k REGEX] [-names]

Sends N GET requests for URL over CONNS keep-alive connections (default
2), each keeping up to DEPTH requests pipelined (default 8), and prints
one JSON line:

  {"names": {KEY: count}, "status": {CODE: count}, "seconds": s,
   "reconnects": r}

or, with -names, only the KEYs that answered, sorted, joined with ','
(for a shell comparison without another parser).

KEY is the first non-empty group of REGEX found in the body: by default
the "name" of a proxy_backend.py echo, or the address in a
switchyard-demo answer ("... from NAME on ADDR ..."); "?" when neither
is there. Answers with Connection: close are followed by a new
connection, and the requests that were pipelined behind them are sent
again there. One thread and non-blocking sockets: the client spends its
time parsing, not waiting, so 10,000 requests take about a second.
"""
import argparse
import json
import re
import selectors
import socket
import sys
import time
import urllib.parse

DEFAULT_KEY = rb'"name": "([^"]*)"|from \S+ on (\S+)'


class Conn:
    """One connection: what it has sent, what it has read so far."""

    def __init__(self, addr, request):
        self.sock = socket.create_connection(addr, timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.request = request
        self.out = b""
        self.buf = b""
        self.pending = 0      # sent (or queued) and not answered yet
        self.closing = False  # an answer said Connection: close

    def queue(self, n):
        self.out += self.request * n
        self.pending += n

    def flush(self):
        while self.out:
            try:
                k = self.sock.send(self.out)
            except BlockingIOError:
                return
            self.out = self.out[k:]


def parse_one(buf):
    """(status, headers dict, body, rest) for one whole answer at the
    start of buf, or None when more bytes are needed."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = buf[:end].split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower()] = v.strip()
    pos = end + 4
    if status in (204, 304) or 100 <= status < 200:
        return status, headers, b"", buf[pos:]
    if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        body = b""
        while True:
            nl = buf.find(b"\r\n", pos)
            if nl < 0:
                return None
            size = int(buf[pos:nl].split(b";")[0], 16)
            if len(buf) < nl + 2 + size + 2:
                return None
            body += buf[nl + 2:nl + 2 + size]
            pos = nl + 2 + size + 2
            if size == 0:
                return status, headers, body, buf[pos:]
    length = int(headers.get(b"content-length", b"0"))
    if len(buf) < pos + length:
        return None
    return status, headers, buf[pos:pos + length], buf[pos + length:]


def run(url, n, conns, depth, extra, key_re):
    u = urllib.parse.urlsplit(url)
    addr = (u.hostname, u.port or 80)
    path = (u.path or "/") + ("?" + u.query if u.query else "")
    head = ["GET %s HTTP/1.1" % path]
    if not any(h.lower().startswith("host:") for h in extra):
        head.append("Host: %s" % u.netloc)
    head += extra
    request = ("\r\n".join(head) + "\r\n\r\n").encode()
    key = re.compile(key_re)

    names, status = {}, {}
    left = n            # requests not yet given to a connection
    done = 0
    reconnects = 0
    sel = selectors.DefaultSelector()
    t0 = time.monotonic()
    deadline = t0 + max(30.0, n / 50.0)

    def open_conn():
        c = Conn(addr, request)
        sel.register(c.sock, selectors.EVENT_READ, c)
        return c

    def top_up(c):
        nonlocal left
        if c.closing:
            return
        k = min(depth - c.pending, left)
        if k > 0:
            c.queue(k)
            left -= k
        c.flush()

    live = [open_conn() for _ in range(max(1, min(conns, n)))]
    for c in live:
        top_up(c)
    while done < n:
        if time.monotonic() > deadline:
            sys.stderr.write("daemon_client: timed out after %d of %d\n"
                             % (done, n))
            break
        events = sel.select(timeout=1.0)
        for skey, _ in events:
            c = skey.data
            try:
                data = c.sock.recv(262144)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data:
                c.buf += data
                while c.pending > 0:
                    one = parse_one(c.buf)
                    if one is None:
                        break
                    code, headers, body, c.buf = one
                    c.pending -= 1
                    done += 1
                    status[str(code)] = status.get(str(code), 0) + 1
                    m = key.search(body)
                    name = "?"
                    if m:
                        name = next((g for g in m.groups() if g), "?")
                        name = name.decode(errors="replace")
                    names[name] = names.get(name, 0) + 1
                    if headers.get(b"connection", b"").lower() == b"close":
                        c.closing = True
                        break
                if not c.closing:
                    top_up(c)
                    continue
            # closed by the peer or by Connection: close: what was still
            # pending goes again on a fresh connection
            sel.unregister(c.sock)
            c.sock.close()
            left += c.pending
            live.remove(c)
            reconnects += 1
            if left > 0 or not live:
                nc = open_conn()
                live.append(nc)
                top_up(nc)
    for c in live:
        c.sock.close()
    return {"names": names, "status": status,
            "seconds": round(time.monotonic() - t0, 3),
            "reconnects": reconnects}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("url")
    p.add_argument("n", type=int)
    p.add_argument("-c", type=int, default=2, dest="conns")
    p.add_argument("-d", type=int, default=8, dest="depth")
    p.add_argument("-H", action="append", default=[], dest="headers")
    p.add_argument("-k", default=None, dest="key")
    p.add_argument("-names", action="store_true")
    a = p.parse_args()
    key = a.key.encode() if a.key else DEFAULT_KEY
    res = run(a.url, a.n, a.conns, max(1, a.depth), a.headers, key)
    if a.names:
        print(",".join(sorted(res["names"])))
    else:
        print(json.dumps(res))


if __name__ == "__main__":
    main()
