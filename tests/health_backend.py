#!/usr/bin/env python3
"""health_backend.py - a backend whose health the test changes while it runs,
for it_health.sh.

  health_backend.py PORT NAME MODE_FILE
      A keep-alive HTTP/1.1 server on 127.0.0.1:PORT. Before each request it
      reads MODE_FILE (a missing or empty file means ok):
        ok     200 with a JSON body {"name": NAME, "path": ...}
        500    500 with the same body, to every path
        hang   reads the request and never answers; the connection stays
               open until the peer closes it
      Every answer carries X-Backend: NAME, so that a load client can tell
      who sent a 500. Prints "ready" once listening.
"""
import http.server
import json
import socketserver
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 65536  # head and body in one write

    def log_message(self, fmt, *args):
        pass

    def mode(self):
        try:
            with open(self.server.mode_file) as f:
                return f.read().strip() or "ok"
        except OSError:
            return "ok"

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            self.rfile.read(length)
        mode = self.mode()
        if mode == "hang":
            # wait for the peer to give up; never answer
            self.close_connection = True
            try:
                while self.connection.recv(65536):
                    pass
            except OSError:
                pass
            return
        code = 500 if mode == "500" else 200
        body = json.dumps({"name": self.server.name,
                           "path": self.path}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Backend", self.server.name)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main():
    if len(sys.argv) != 4:
        sys.stderr.write(__doc__)
        sys.exit(2)
    srv = Server(("127.0.0.1", int(sys.argv[1])), Handler)
    srv.name = sys.argv[2]
    srv.mode_file = sys.argv[3]
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
