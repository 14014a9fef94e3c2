#!/usr/bin/env python3
"""proxy_backend.py - small HTTP/1.1 backends and a client for it_proxy.sh.

  proxy_backend.py serve PORT NAME
      A keep-alive HTTP/1.1 server on 127.0.0.1:PORT. Every answer carries
      Content-Length unless asked otherwise. Paths:
        /big?size=N[&chunked=1]  N bytes of 'x', written in 64 KiB pieces
        /hang                    never answers
        /slow?ms=N               answers after N ms
        /stats                   {"connections": c, "requests": r}
        /status?code=N           an empty answer with that status
        /garbage                 bytes that are not HTTP, then a close
        /once/drop               answers, then closes the connection
                                 without an answer when the next request
                                 on it comes (a keep-alive race)
        anything else            JSON: name, method, path, headers, body_len
  proxy_backend.py fetch URL N [HOST]
      N GET requests over one keep-alive connection; prints JSON with the
      count of answers per status and per backend name.
"""
import http.client
import http.server
import json
import socketserver
import sys
import threading
import time
import urllib.parse


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # head and body leave in one write, as real servers send them (two
    # small writes meet Nagle and delayed ACKs: 40 ms per answer)
    wbufsize = 65536

    def setup(self):
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def log_message(self, fmt, *args):
        pass

    def answer(self, code, body, ctype="application/json", extra=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or []):
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        if getattr(self, "drop_next", False):
            self.close_connection = True
            return
        with self.server.lock:
            self.server.requests += 1
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path == "/hang":
            time.sleep(3600)
            return
        if url.path == "/slow":
            time.sleep(int(query.get("ms", ["100"])[0]) / 1000.0)
        if url.path == "/stats":
            with self.server.lock:
                doc = {"connections": self.server.connections,
                       "requests": self.server.requests}
            self.answer(200, json.dumps(doc).encode())
            return
        if url.path == "/garbage":
            self.wfile.write(b"BOGUS 200 OK\r\n\r\n")
            self.close_connection = True
            return
        if url.path == "/status":
            self.answer(int(query.get("code", ["200"])[0]), b"")
            return
        if url.path.startswith("/once/drop"):
            self.drop_next = True
        if url.path == "/big":
            self.big(int(query.get("size", ["0"])[0]),
                     query.get("chunked", ["0"])[0] == "1")
            return
        doc = {"name": self.server.name, "method": self.command,
               "path": self.path, "body_len": len(body),
               "headers": [[k, v] for k, v in self.headers.items()]}
        self.answer(200, json.dumps(doc).encode())

    def big(self, size, chunked):
        piece = b"x" * 65536
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        left = size
        while left > 0:
            n = min(left, len(piece))
            if chunked:
                self.wfile.write(b"%x\r\n" % n + piece[:n] + b"\r\n")
            else:
                self.wfile.write(piece[:n])
            left -= n
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = handle_any
    do_OPTIONS = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # a proxy may open hundreds of connections at once (scripts/slowhttp):
    # with the default backlog of 5 their SYNs would be dropped and retried
    # for seconds
    request_queue_size = 1024


def serve(port, name):
    srv = Server(("127.0.0.1", port), Handler)
    srv.name = name
    srv.lock = threading.Lock()
    srv.connections = 0
    srv.requests = 0
    print("ready", flush=True)
    srv.serve_forever()


def fetch(url, n, host=None):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    path = u.path + ("?" + u.query if u.query else "")
    names, status = {}, {}
    for _ in range(n):
        headers = {"Host": host} if host else {}
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        body = r.read()
        status[str(r.status)] = status.get(str(r.status), 0) + 1
        try:
            name = json.loads(body).get("name", "?")
        except ValueError:
            name = "?"
        names[name] = names.get(name, 0) + 1
        if r.getheader("Connection", "").lower() == "close":
            conn.close()
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    print(json.dumps({"names": names, "status": status}))


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) >= 4 and sys.argv[1] == "fetch":
        fetch(sys.argv[2], int(sys.argv[3]),
              sys.argv[4] if len(sys.argv) > 4 else None)
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
