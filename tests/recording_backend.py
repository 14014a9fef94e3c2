#!/usr/bin/env python3
"""recording_backend.py - a test backend that records exactly the bytes it
receives, for scripts/hardening-compare and tests/it_hardening.sh.

  recording_backend.py PORT FOLDER

listens on 127.0.0.1:PORT; the bytes of its Nth connection are appended
to FOLDER/conn-N as they arrive, and every read adds a line
"N OFFSET LENGTH" to FOLDER/journal, so that the order of arrival across
connections is known (tests/hardening_cases.py reads both).

It frames requests itself (Content-Length or chunked) so that it answers
each one, pipelined ones included, with `200 OK` / `ok`; it answers
`100 Continue` to `Expect: 100-continue`, and gives up on a connection
whose framing it cannot follow (answering once, then closing). A few
paths answer badly on purpose, to test what a proxy does with responses:
  /bad/clte    both Content-Length and Transfer-Encoding, then a close
  /bad/status  the status line `HTTP/1.1 2x0 OK`, then a close
  /hop         hop-by-hop fields: `Connection: x-secret`, `X-Secret: s`,
               `Keep-Alive: timeout=5`, `Upgrade: h2c`, and `X-Visible: v`
               which is not one
"""
import itertools
import os
import socket
import sys
import threading

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
# path -> (the answer, close the connection after it)
SCRIPTED = {
    b"/bad/clte": (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
                   True),
    b"/bad/status": (b"HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok", True),
    b"/hop": (b"HTTP/1.1 200 OK\r\nConnection: x-secret\r\nX-Secret: s\r\n"
              b"Keep-Alive: timeout=5\r\nUpgrade: h2c\r\nX-Visible: v\r\n"
              b"Content-Length: 2\r\n\r\nok", False),
}


class Recorder:
    """The folder: one file per connection and the journal of reads."""

    def __init__(self, folder):
        self.folder = folder
        self.ids = itertools.count(1)
        self.lock = threading.Lock()
        self.journal = open(os.path.join(folder, "journal"), "ab",
                            buffering=0)

    def open(self):
        """A number and an unbuffered file for a new connection."""
        with self.lock:
            n = next(self.ids)
        return n, open(os.path.join(self.folder, "conn-%d" % n), "ab",
                       buffering=0)

    def record(self, n, out, offset, data):
        out.write(data)
        with self.lock:
            self.journal.write(b"%d %d %d\n" % (n, offset, len(data)))


class Conn:
    def __init__(self, sock, rec):
        self.sock, self.rec, self.buf = sock, rec, b""
        self.n, self.out = rec.open()
        self.size = 0

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.rec.record(self.n, self.out, self.size, data)
        self.size += len(data)
        self.buf += data

    def line(self):
        while b"\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise ValueError("line too long")
            self.fill()
        i = self.buf.index(b"\n") + 1
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def take(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def request(c):
    """Reads one request: (whether its framing could be followed, its
    path)."""
    start = c.line()
    while start in (b"\r\n", b"\n"):
        start = c.line()
    words = start.split()
    path = words[1].split(b"?")[0] if len(words) > 1 else b""
    cl, te, expect = None, b"", False
    while True:
        ln = c.line()
        if ln in (b"\r\n", b"\n"):
            break
        name, _, value = ln.partition(b":")
        name, value = name.strip().lower(), value.strip()
        if name == b"content-length":
            cl = value
        elif name == b"transfer-encoding":
            te = value.lower()
        elif name == b"expect" and value.lower() == b"100-continue":
            expect = True
    if expect:
        c.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    if te:
        if not te.endswith(b"chunked"):
            return False, path
        while True:
            size = int(c.line().split(b";")[0].strip(), 16)
            if size == 0:
                while c.line() not in (b"\r\n", b"\n"):
                    pass
                break
            c.take(size)
            c.line()
    elif cl is not None:
        c.take(int(cl))
    return True, path


def serve_conn(sock, rec):
    c = Conn(sock, rec)
    try:
        while True:
            try:
                good, path = request(c)
            except ValueError:
                good, path = False, b""
            answer, close = SCRIPTED.get(path, (OK, False))
            sock.sendall(answer)
            if close or not good:
                break
    except (EOFError, OSError):
        pass
    finally:
        c.out.close()
        sock.close()


def serve(port, folder):
    """Listens on 127.0.0.1:port and records into folder, for ever."""
    rec = Recorder(folder)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(128)
    while True:
        s, _ = srv.accept()
        threading.Thread(target=serve_conn, args=(s, rec), daemon=True).start()


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: recording_backend.py PORT FOLDER\n")
        return 2
    os.makedirs(argv[2], exist_ok=True)
    try:
        serve(int(argv[1]), argv[2])
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
