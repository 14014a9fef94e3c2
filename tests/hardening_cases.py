"""hardening_cases.py - request-smuggling payloads (RFC 9112 / RFC 9110
framing and field rules), limit cases and valid edge cases, sent raw over
a socket; shared by scripts/hardening-compare (HAProxy, nginx and
switchyard side by side) and tests/it_hardening.sh (switchyard's own
answers asserted).

Each case has
  name     a short name
  expects  what the RFCs ask of a server or proxy ("400", "501|400", or
           "200 fwd" for a valid request that must be forwarded; for
           limits, the usual 414 / 431 / 413); "SP fwd" means replacing
           the bad bytes by spaces and forwarding is allowed too
  payload  bytes, or a list of parts: between parts the client waits for
           a status line (an interim 100, or the first answer) or 1 s
  status   switchyard's answer with its default limits: the status
           codes the client gets, joined with ",", alternatives with "|"
  finals   how many final responses the client waits for
  check    for a forwarded case, a function of the requests the backend
           received that returns what is wrong with them (empty: fine)

The rest of the module talks to proxies and reads the recording of
tests/recording_backend.py: talk() and exchange() send a case and read
the answers; Recording tells what the backend received meanwhile;
judge() and report() turn a case sent to switchyard into a check line.
"""
import collections
import os
import re
import select
import socket
import sys
import time

TIMEOUT = 3.0

Case = collections.namedtuple(
    "Case", "name expects payload status finals check")

H = b"Host: backend\r\n"
CHUNK0 = b"0\r\n\r\n"
HOP_FIELDS = ("connection", "keep-alive", "proxy-connection", "te",
              "trailer", "transfer-encoding", "upgrade")


def post(headers, body):
    return b"POST / HTTP/1.1\r\n" + H + headers + b"\r\n" + body


def get_line(total):
    """A GET whose request line (CRLF not counted) is total bytes long."""
    fixed = len(b"GET / HTTP/1.1")
    return (b"GET /" + b"a" * (total - fixed) + b" HTTP/1.1\r\n" + H +
            b"\r\n")


def get_fields(total):
    """A GET with total header fields, Host included."""
    return (b"GET / HTTP/1.1\r\n" + H +
            b"".join(b"X-H%d: v\r\n" % i for i in range(total - 1)) +
            b"\r\n")


# ---- what a forwarded request must look like at the backend ----

def forwarded(*want):
    """A check: the backend received exactly the requests in want, in
    order, each (method, target, body) or (method, target, body, test)
    where test(request) returns a problem or None. Every request must be
    clean: one Host (backend), HTTP/1.1, the body framed by a
    Content-Length that matches it (none or 0 without a body), no
    Transfer-Encoding, no Expect, no hop-by-hop field."""
    def check(reqs):
        probs = []
        if len(reqs) != len(want):
            probs.append("want %d request(s), the backend got %d"
                         % (len(want), len(reqs)))
        for i, (w, r) in enumerate(zip(want, reqs)):
            method, target, body = w[:3]
            tag = "request %d: " % (i + 1)
            if (r.method, r.target) != (method, target):
                probs.append(tag + "want %s %s, got %s %s" % (
                    method.decode(), target.decode(), r.method.decode(),
                    r.target.decode()))
            if r.version != b"HTTP/1.1":
                probs.append(tag + "version %r" % r.version)
            if r.body != body:
                probs.append(tag + "body %r, want %r" % (r.body[:80], body))
            probs.extend(tag + p for p in clean(r, len(body)))
            if len(w) > 3:
                p = w[3](r)
                if p:
                    probs.append(tag + p)
        return probs
    return check


def clean(r, body_len):
    """What is wrong with the framing and hygiene of request r."""
    probs = []
    if r.values("host") != [b"backend"]:
        probs.append("Host fields %r" % r.values("host"))
    cl = r.values("content-length")
    if body_len or cl:
        if cl != [b"%d" % body_len]:
            probs.append("Content-Length %r for a %d-byte body"
                         % (cl, body_len))
    for name in HOP_FIELDS + ("expect",):
        if r.values(name):
            probs.append("%s forwarded: %r" % (name, r.values(name)))
    if r.error:
        probs.append(r.error)
    return probs


def has_fields(prefix, count):
    """A test: count fields whose name starts with prefix arrived."""
    def test(r):
        n = sum(1 for k, _ in r.fields if k.lower().startswith(prefix))
        return None if n == count else "%d %s* fields, want %d" % (
            n, prefix.decode(), count)
    return test


# name, RFC expects, payload, switchyard's status, finals, backend check
CASES = [Case(*c) for c in [
    # A7: smuggling payloads
    ("te-space-before-colon", "400",
     post(b"Transfer-Encoding : chunked\r\nContent-Length: 5\r\n", CHUNK0),
     "400", 1, None),
    ("cl-cl-differ", "400",
     post(b"Content-Length: 3\r\nContent-Length: 5\r\n", b"abcde"),
     "400", 1, None),
    ("cl-plus", "400", post(b"Content-Length: +3\r\n", b"abc"), "400", 1, None),
    ("cl-empty", "400", post(b"Content-Length:\r\n", b""), "400", 1, None),
    ("chunk-size-0x", "400",
     post(b"Transfer-Encoding: chunked\r\n", b"0x3\r\nabc\r\n" + CHUNK0),
     "400", 1, None),
    ("chunk-size-overflow", "400",
     post(b"Transfer-Encoding: chunked\r\n",
          b"10000000000000003\r\nabc\r\n" + CHUNK0), "400", 1, None),
    ("chunk-bare-lf", "400",
     post(b"Transfer-Encoding: chunked\r\n", b"3\nabc\n0\n\n"), "400", 1, None),
    ("nul-in-value", "400|SP fwd",
     b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n", "400", 1, None),
    ("host-missing", "400", b"GET / HTTP/1.1\r\n\r\n", "400", 1, None),
    ("host-twice", "400", b"GET / HTTP/1.1\r\n" + H + b"Host: other\r\n\r\n",
     "400", 1, None),
    ("empty-header-name", "400",
     b"GET / HTTP/1.1\r\n" + H + b": x\r\n\r\n", "400", 1, None),
    ("space-in-header-name", "400",
     b"GET / HTTP/1.1\r\n" + H + b"X A: x\r\n\r\n", "400", 1, None),
    ("cl-and-te", "400|fwd -CL",
     post(b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", CHUNK0),
     "400", 1, None),
    # with a Content-Length too: both the 400 of CL+TE and the 501 of an
    # unknown coding are right; without one it must be 501
    ("te-gzip-chunked", "501|400",
     post(b"Transfer-Encoding: gzip, chunked\r\nContent-Length: 5\r\n", CHUNK0),
     "501|400", 1, None),
    ("te-chunked-not-last", "400",
     post(b"Transfer-Encoding: chunked, gzip\r\n", CHUNK0), "400", 1, None),
    ("te-chunked-twice", "400",
     post(b"Transfer-Encoding: chunked, chunked\r\n", CHUNK0), "400", 1, None),
    ("te-identity", "501|400",
     post(b"Transfer-Encoding: identity\r\nContent-Length: 3\r\n", b"abc"),
     "400", 1, None),
    ("http10-te-chunked", "400",
     b"POST / HTTP/1.0\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n" + CHUNK0,
     "400", 1, None),
    ("bare-lf", "200 fwd|400", b"GET / HTTP/1.1\nHost: backend\n\n",
     "400", 1, None),
    ("obs-fold", "400|SP fwd",
     b"GET / HTTP/1.1\r\n" + H + b"X-A: one\r\n  two\r\n\r\n", "400", 1, None),
    ("http-2.0", "505|400", b"GET / HTTP/2.0\r\n" + H + b"\r\n", "505", 1, None),
    # more of the same rules
    ("te-gzip-chunked-no-cl", "501",
     post(b"Transfer-Encoding: gzip, chunked\r\n", b"3\r\nabc\r\n" + CHUNK0),
     "501", 1, None),
    ("cl-list-same", "400|200 fwd", post(b"Content-Length: 3, 3\r\n", b"abc"),
     "400", 1, None),
    ("cr-in-value", "400|SP fwd",
     b"GET / HTTP/1.1\r\n" + H + b"X-A: a\rb\r\n\r\n", "400", 1, None),
    ("chunk-bare-cr", "400",
     post(b"Transfer-Encoding: chunked\r\n", b"3\rabc\r\n" + CHUNK0),
     "400", 1, None),
    ("chunk-data-overrun", "400",
     post(b"Transfer-Encoding: chunked\r\n", b"3\r\nabcd\r\n" + CHUNK0),
     "400", 1, None),
    ("chunk-size-negative", "400",
     post(b"Transfer-Encoding: chunked\r\n", b"-3\r\nabc\r\n" + CHUNK0),
     "400", 1, None),
    ("trailer-bare-lf", "400|200 fwd",
     post(b"Transfer-Encoding: chunked\r\n", b"3\r\nabc\r\n0\r\nX-T: 1\n\r\n"),
     "400", 1, None),
    ("request-line-double-space", "400|200 fwd",
     b"GET  / HTTP/1.1\r\n" + H + b"\r\n", "400", 1, None),
    # A6: limits (switchyard's defaults: line 8 KiB, head 64 KiB, 100 fields)
    ("long-request-line", "414",
     b"GET /" + b"a" * 20480 + b" HTTP/1.1\r\n" + H + b"\r\n", "414", 1, None),
    ("big-header-block", "431",
     b"GET / HTTP/1.1\r\n" + H +
     b"".join(b"X-Big-%d: %s\r\n" % (i, b"v" * 2000) for i in range(64)) +
     b"\r\n", "431", 1, None),
    ("too-many-headers", "431",
     b"GET / HTTP/1.1\r\n" + H +
     b"".join(b"X-H%d: v\r\n" % i for i in range(5000)) + b"\r\n",
     "431", 1, None),
    ("request-line-8192", "200 fwd", get_line(8192), "200", 1,
     forwarded((b"GET", b"/" + b"a" * (8192 - 14), b""))),
    ("request-line-8193", "414", get_line(8193), "414", 1, None),
    ("fields-100", "200 fwd", get_fields(100), "200", 1,
     forwarded((b"GET", b"/", b"", has_fields(b"x-h", 99)))),
    ("fields-101", "431", get_fields(101), "431", 1, None),
    # valid controls
    ("plain-get", "200 fwd", b"GET / HTTP/1.1\r\n" + H + b"\r\n", "200", 1,
     forwarded((b"GET", b"/", b""))),
    ("cl-tab", "200 fwd", post(b"Content-Length:\t3\r\n", b"abc"), "200", 1,
     forwarded((b"POST", b"/", b"abc"))),
    ("cl-cl-same", "200 fwd|400",
     post(b"Content-Length: 3\r\nContent-Length: 3\r\n", b"abc"), "200", 1,
     forwarded((b"POST", b"/", b"abc"))),
    ("chunk-extension", "200 fwd",
     post(b"Transfer-Encoding: chunked\r\n", b"3;a=b\r\nabc\r\n" + CHUNK0),
     "200", 1, forwarded((b"POST", b"/", b"abc"))),
    ("chunked-pieces", "200 fwd",
     post(b"Transfer-Encoding: Chunked\r\n",
          b"3\r\nabc\r\nA;x=\"q\"\r\n0123456789\r\n" + CHUNK0), "200", 1,
     forwarded((b"POST", b"/", b"abc0123456789"))),
    ("chunked-trailer", "200 fwd",
     post(b"Transfer-Encoding: chunked\r\n", b"3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"),
     "200", 1, forwarded((b"POST", b"/", b"abc"))),
    ("patch-method", "200 fwd",
     b"PATCH / HTTP/1.1\r\n" + H + b"Content-Length: 2\r\n\r\nhi", "200", 1,
     forwarded((b"PATCH", b"/", b"hi"))),
    ("pipelined-two", "200,200 fwd",
     b"GET /1 HTTP/1.1\r\n" + H + b"\r\nGET /2 HTTP/1.1\r\n" + H + b"\r\n",
     "200,200", 2, forwarded((b"GET", b"/1", b""), (b"GET", b"/2", b""))),
    ("pipelined-bodies", "200,200 fwd",
     post(b"Content-Length: 3\r\n", b"abc") +
     post(b"Transfer-Encoding: chunked\r\n", b"2\r\nde\r\n" + CHUNK0),
     "200,200", 2, forwarded((b"POST", b"/", b"abc"), (b"POST", b"/", b"de"))),
    ("expect-100", "100,200 fwd",
     [post(b"Expect: 100-continue\r\nContent-Length: 3\r\n", b""), b"abc"],
     "100,200", 1, forwarded((b"POST", b"/", b"abc"))),
    ("http10-keepalive", "200 fwd",
     b"GET / HTTP/1.0\r\n" + H + b"Connection: keep-alive\r\n\r\n", "200", 1,
     forwarded((b"GET", b"/", b""))),
    ("http10-keepalive-twice", "200,200 fwd",
     [b"GET /a HTTP/1.0\r\n" + H + b"Connection: keep-alive\r\n\r\n",
      b"GET /b HTTP/1.0\r\n" + H + b"Connection: keep-alive\r\n\r\n"],
     "200,200", 2, forwarded((b"GET", b"/a", b""), (b"GET", b"/b", b""))),
    ("absolute-form", "200 fwd",
     b"GET http://backend/x HTTP/1.1\r\n" + H + b"\r\n", "200", 1,
     forwarded((b"GET", b"/x", b""))),
    ("http-1.2", "200 fwd", b"GET / HTTP/1.2\r\n" + H + b"\r\n", "200", 1,
     forwarded((b"GET", b"/", b""))),
]]


# ---- the client side: send a case, read the answers ----

Response = collections.namedtuple("Response", "code head body")


def responses_in(buf):
    """The whole or partial responses in buf, in order: (code, head bytes
    without the status line, body bytes so far)."""
    out, pos = [], 0
    while True:
        m = re.match(rb"HTTP/\d\.\d (\d{3})", buf[pos:])
        if not m:
            return out
        code = int(m.group(1))
        end = buf.find(b"\r\n\r\n", pos)
        if end < 0:
            out.append(Response(code, buf[pos:], b""))
            return out
        head = buf[pos:end + 2]
        pos = end + 4
        if code < 200:
            out.append(Response(code, head, b""))
            continue
        low = head.lower()
        cl = re.search(rb"\ncontent-length:[ \t]*(\d+)", low)
        if cl:
            n = int(cl.group(1))
            out.append(Response(code, head, buf[pos:pos + n]))
            pos += n
        elif re.search(rb"\ntransfer-encoding:[^\n]*chunked", low):
            last = buf.find(b"\r\n0\r\n\r\n", pos - 2)
            if last < 0:
                out.append(Response(code, head, buf[pos:]))
                return out
            out.append(Response(code, head, buf[pos:last + 7]))
            pos = last + 7
        else:
            out.append(Response(code, head, buf[pos:]))
            return out  # the body runs to the close


def answer(s, most=3.0):
    """The bytes of one whole final response read from socket s within most
    seconds (less when it ends or the connection closes first), and the
    seconds it took."""
    buf, t0 = b"", time.monotonic()
    while time.monotonic() - t0 < most:
        rs = responses_in(buf)
        if rs and rs[0].code >= 200 and rs[0].body == b"ok":
            break
        r, _, _ = select.select([s], [], [], 0.05)
        if r:
            try:
                data = s.recv(65536)
            except OSError:
                break
            if not data:
                break
            buf += data
    return buf, time.monotonic() - t0


def statuses_in(buf):
    """The status codes of the whole or partial responses in buf."""
    return [r.code for r in responses_in(buf)]


def header_values(head, name):
    """The values of every field called name in a response head."""
    vals = []
    for line in head.split(b"\r\n")[1:]:
        k, sep, v = line.partition(b":")
        if sep and k.strip().lower() == name.lower():
            vals.append(v.strip())
    return vals


Reply = collections.namedtuple(
    "Reply", "data responses end closed seconds")


def talk(port, payload, finals=1, wait_close=False, timeout=TIMEOUT):
    """Sends payload to 127.0.0.1:port over a fresh connection and reads
    until finals final responses came (then, with wait_close, on until
    the peer closes or timeout). Returns a Reply: the bytes read, their
    responses, how the reading ended (None, "closed" or "timeout"),
    whether the peer closed (an EOF or a reset), and the seconds from
    the connect to that close or to the end of the reading."""
    parts = payload if isinstance(payload, list) else [payload]
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    buf, end = b"", None
    deadline = t0 + timeout

    def read_until(done, limit):
        nonlocal buf, end
        while not done():
            left = limit - time.monotonic()
            if left <= 0:
                end = end or "timeout"
                return
            s.settimeout(left)
            try:
                data = s.recv(65536)
            except socket.timeout:
                end = end or "timeout"
                return
            except OSError:
                end = end or "closed"
                return
            if not data:
                end = end or "closed"
                return
            buf += data

    def nfinals():
        return len([c for c in statuses_in(buf) if c >= 200])

    try:
        for i, part in enumerate(parts):
            try:
                s.sendall(part)
            except OSError:
                break  # the proxy gave up early; its answer may still be there
            if i + 1 < len(parts):
                read_until(lambda: statuses_in(buf), time.monotonic() + 1.0)
                if end == "timeout":
                    end = None
                if end:
                    break
        read_until(lambda: nfinals() >= finals, deadline)
        if wait_close and end is None:
            read_until(lambda: False, time.monotonic() + timeout)
            if end == "timeout":
                end = None
    finally:
        s.close()
    return Reply(buf, responses_in(buf), end, end == "closed",
                 time.monotonic() - t0)


def exchange(port, payload, want):
    """Sends payload; returns the statuses read (1xx, then `want` final
    ones) joined with ",", then ",closed" or ",timeout" when fewer final
    ones came."""
    r = talk(port, payload, want)
    got = [x.code for x in r.responses]
    cell = ",".join(str(c) for c in got)
    if len([c for c in got if c >= 200]) < want:
        cell = (cell + "," if cell else "") + (r.end or "closed")
    return cell


# ---- the backend side: what tests/recording_backend.py received ----

class Request:
    """One request as the backend received it."""

    def __init__(self, conn, offset, method, target, version, fields, body,
                 error=None):
        self.conn, self.offset = conn, offset
        self.method, self.target, self.version = method, target, version
        self.fields, self.body, self.error = fields, body, error

    def values(self, name):
        """The values of every field called name (lower case), in order."""
        return [v for k, v in self.fields if k.lower() == name.encode()]

    def __repr__(self):
        return "%s %s %s %r body=%r%s" % (
            self.method.decode(), self.target.decode("latin-1")[:60],
            self.version.decode(), self.fields, self.body[:80],
            " (%s)" % self.error if self.error else "")


def parse_requests(data, conn=0, base=0):
    """The requests in data, bytes of one connection starting at its
    offset base. A request that cannot be framed ends the list with an
    entry whose error says why."""
    out, pos = [], 0
    while pos < len(data):
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            out.append(Request(conn, base + pos, b"?", b"?", b"?", [], b"",
                               "an unfinished head %r" % data[pos:pos + 80]))
            return out
        lines = data[pos:end].split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3:
            parts = [b"?", lines[0], b"?"]
        fields = []
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            fields.append((k, v.strip(b" \t")))
        req = Request(conn, base + pos, parts[0], parts[1], parts[2], fields,
                      b"")
        pos = end + 4
        te = [v for k, v in fields if k.lower() == b"transfer-encoding"]
        cl = [v for k, v in fields if k.lower() == b"content-length"]
        if te:
            body, pos, err = dechunk(data, pos)
            req.body, req.error = body, err
        elif cl:
            try:
                n = int(cl[0])
            except ValueError:
                n = 0
                req.error = "Content-Length %r" % cl[0]
            req.body = data[pos:pos + n]
            if len(req.body) < n:
                req.error = "the body ended after %d of %d bytes" % (
                    len(req.body), n)
            pos += n
        out.append(req)
        if req.error:
            return out
    return out


def dechunk(data, pos):
    """The decoded chunked body at data[pos:], where it ends, an error."""
    body = b""
    while True:
        nl = data.find(b"\r\n", pos)
        if nl < 0:
            return body, len(data), "an unfinished chunked body"
        try:
            size = int(data[pos:nl].split(b";")[0], 16)
        except ValueError:
            return body, len(data), "chunk size %r" % data[pos:nl]
        pos = nl + 2
        if size == 0:
            end = data.find(b"\r\n\r\n", pos - 2)
            if end < 0:
                return body, len(data), "an unfinished trailer"
            return body, end + 4, None
        body += data[pos:pos + size]
        pos += size + 2


class Recording:
    """The folder tests/recording_backend.py writes: conn-N holds the
    bytes of its Nth connection, journal one line "N OFFSET LENGTH" per
    read, in the order the reads happened."""

    def __init__(self, folder):
        self.folder = folder

    def snapshot(self):
        """The size of each connection's recording."""
        sizes = {}
        for f in os.listdir(self.folder):
            if not f.startswith("conn-"):
                continue
            try:
                sizes[f] = os.path.getsize(os.path.join(self.folder, f))
            except OSError:
                pass
        return sizes

    def settle(self, most=1.0, quiet=0.2):
        """The snapshot once the recording has stopped growing for quiet
        seconds (waiting at most `most` seconds)."""
        last, stable_since = self.snapshot(), time.monotonic()
        stop = time.monotonic() + most
        while time.monotonic() < stop:
            time.sleep(0.05)
            now = self.snapshot()
            if now != last:
                last, stable_since = now, time.monotonic()
            elif time.monotonic() - stable_since >= quiet:
                break
        return last

    def _new_bytes(self, before):
        """(conn number, offset, bytes) of each connection that grew."""
        out = []
        for f, size in sorted(self.snapshot().items(),
                              key=lambda kv: int(kv[0].split("-")[1])):
            start = before.get(f, 0)
            if size > start:
                with open(os.path.join(self.folder, f), "rb") as fh:
                    fh.seek(start)
                    out.append((int(f.split("-")[1]), start, fh.read()))
        return out

    def since(self, before):
        """Every byte the backend received since the snapshot before."""
        return b"".join(d for _, _, d in self._new_bytes(before))

    def requests_since(self, before):
        """The requests received since the snapshot before, in the order
        their first bytes arrived."""
        reqs = []
        for conn, start, data in self._new_bytes(before):
            reqs.extend(parse_requests(data, conn, start))
        order = self._arrival()
        reqs.sort(key=lambda r: order(r.conn, r.offset))
        return reqs

    def _arrival(self):
        reads = collections.defaultdict(list)
        try:
            with open(os.path.join(self.folder, "journal"), "rb") as fh:
                for seq, line in enumerate(fh):
                    conn, off, n = (int(x) for x in line.split())
                    reads[conn].append((off, off + n, seq))
        except (OSError, ValueError):
            pass

        def order(conn, offset):
            for lo, hi, seq in reads.get(conn, ()):
                if lo <= offset < hi:
                    return (seq, offset)
            return (1 << 62, offset)
        return order


def shorten(data, most=300):
    """data for a message, cut to most bytes."""
    if len(data) > most:
        return repr(data[:most]) + "...(%d bytes)" % len(data)
    return repr(data)


# ---- switchyard's answers asserted (tests/it_hardening.sh) ----

def judge(port, rec, case, before):
    """Sends case to switchyard on port and judges the answer against
    case.status. A rejected case (no check) must also close the
    connection after an answer carrying Connection: close, with nothing
    at all reaching the backend; a forwarded one must pass case.check.
    before is the recording's snapshot from before the case. Returns
    (passed, a one-line summary, lines that say what went wrong, the
    snapshot after the case)."""
    rejected = case.check is None
    r = talk(port, case.payload, case.finals, wait_close=rejected)
    after = rec.settle()
    got = ",".join(str(x.code) for x in r.responses) or "no answer"
    probs = []
    if got not in case.status.split("|"):
        probs.append("want status %s, got %s (then %s)"
                     % (case.status, got, r.end or "the connection open"))
    if rejected:
        seen = rec.since(before)
        if seen:
            probs.append("want nothing forwarded; the backend saw %s"
                         % shorten(seen))
        if not r.closed:
            probs.append("want the connection closed after the answer; %s"
                         % ("no close within %.0f s" % TIMEOUT
                            if r.end is None else r.end))
        final = [x for x in r.responses if x.code >= 200]
        if final and not any(b"close" in v.lower() for v in
                             header_values(final[-1].head, b"connection")):
            probs.append("want Connection: close on the answer; its head: %s"
                         % shorten(final[-1].head, 200))
        what = "nothing forwarded, closed"
    else:
        reqs = rec.requests_since(before)
        bad = case.check(reqs)
        if bad:
            probs.extend(bad)
            probs.append("the backend saw: %s" % shorten(rec.since(before)))
        what = "forwarded intact"
    summary = "%s: %s, %s" % (case.name, case.status, what)
    if probs:
        probs.insert(0, "case %s (%s):" % (case.name, shorten(
            case.payload if isinstance(case.payload, bytes)
            else b"".join(case.payload), 120)))
    return not probs, summary, probs, after


def report(passed, what, details=()):
    """A TAP line for tests/lib.sh, the details as # lines after it."""
    print("%s - %s" % ("ok" if passed else "not ok", what))
    for d in () if passed else details:
        print("#   " + d)
    sys.stdout.flush()
