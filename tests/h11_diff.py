"""h11_diff.py - switchyard's request validation against a strict parser
written by someone else: h11 (Debian's python3-h11) as an HTTP/1.1
server. Every request h11 refuses must be refused by switchyard too, and
where both take a request they must agree where it ends; the other way
round (switchyard refusing what h11 takes: bare LF, obs-fold, CL with
TE, TE in HTTP/1.0, size limits) is switchyard being stricter, which is
allowed.

Usage: h11_diff.py H1_VERDICT [--mutations N] [--seed S] [--keep DIR]
                   SEED_FOLDER [MORE_FOLDERS...]

H1_VERDICT is the tests/h1_verdict program (switchyard's verdict on the
first request of a file). The corpus is every file in the folders plus N
mutations (default 3000) of the files in SEED_FOLDER, made with the
random seed S (default 6) so that a run can be repeated; --keep DIR
writes them to DIR instead of a temporary folder.

Prints the figures as "# ..." lines and each disagreement with the bytes
and both verdicts. Exit 0: no disagreement, 1: some, 2: usage or a
failure of H1_VERDICT, 77: h11 is not importable.
"""
import argparse
import os
import random
import re
import subprocess
import sys
import tempfile

try:
    import h11
except ImportError:
    print("# skip: h11 is not importable by %s (python3-h11)" % sys.executable)
    sys.exit(77)

# h11 holds at most this many bytes of an event still incomplete; a bit
# more than switchyard's 64 KiB head so that h11's limit never speaks
# first.
H11_MAX_EVENT = 65536 + 1024

# ---- h11's verdict ----


def h11_verdict(data):
    """("accept", bytes the first request took), ("reject", why) or
    ("incomplete",)."""
    if not data:
        return ("incomplete",)  # receive_data(b"") would mean the EOF
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=H11_MAX_EVENT)
    conn.receive_data(data)
    while True:
        try:
            ev = conn.next_event()
        except h11.RemoteProtocolError as e:
            return ("reject", "%s %s" % (e.error_status_hint, e))
        if isinstance(ev, h11.EndOfMessage):
            return ("accept", len(data) - len(conn.trailing_data[0]))
        if not isinstance(ev, (h11.Request, h11.Data)):
            return ("incomplete",)  # NEED_DATA, PAUSED


# ---- where h11 is stricter than RFC 9112 / RFC 9110 ----
#
# Each exception excuses one kind of request that h11 refuses and
# switchyard takes, for a reason that does not let two readers frame the
# same bytes differently. Each is a function that undoes its difference
# in the bytes (None: not there); a request is excused only when h11
# takes it once every difference found in it is undone.

def head_and_rest(data):
    """The first head (without leading empty lines) and what follows."""
    start = 0
    while data[start:start + 2] == b"\r\n":
        start += 2
    end = data.find(b"\r\n\r\n", start)
    if end < 0:
        return None, None, start
    return data[start:end + 4], data[end + 4:], start


def leading_empty_lines(data):
    """RFC 9112 2.2: "a server that is expecting to receive and parse a
    request-line SHOULD ignore at least one empty line (CRLF) received
    prior to the request-line"; switchyard does (lb_conn.c), h11 calls
    it "no request line received"."""
    if not data.startswith(b"\r\n"):
        return None
    return data.lstrip(b"\r\n") if re.match(rb"(\r\n)+[^\r\n]", data) else None


def chunk_ext_bws(data):
    """RFC 9112 7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name ... ):
    blanks may come between the chunk size and ";". h11's chunk_header
    expression has none there ("3 ;x" is "illegal chunk header"). The
    size itself is read the same way by both."""
    head, rest, start = head_and_rest(data)
    if head is None or not re.search(rb"(?im)^transfer-encoding:", head):
        return None
    fixed = re.sub(rb"(?m)(^|\n)([0-9A-Fa-f]+)[ \t]+;", rb"\1\2;", rest)
    if fixed == rest:
        return None
    return data[:start] + head + fixed


def empty_list_elements(data):
    """RFC 9110 5.6.1: "a recipient MUST parse and ignore a reasonable
    number of empty list elements", so "Transfer-Encoding: , chunked"
    is chunked. h11 compares the whole value with "chunked" and refuses
    the rest as unsupported codings."""
    head, rest, start = head_and_rest(data)
    if head is None:
        return None

    def tidy(m):
        items = [i.strip(b" \t") for i in m.group(2).split(b",")]
        if b"" not in items or items == [b""]:
            return m.group(0)
        return m.group(1) + b", ".join(i for i in items if i)
    fixed = re.sub(rb"(?im)^(transfer-encoding:[ \t]*)([^\r\n]*)", tidy, head)
    if fixed == head:
        return None
    return data[:start] + fixed + rest


def length_spellings(data):
    """RFC 9110 8.6: Content-Length is 1*DIGIT, a decimal number, and
    several of them with "the same decimal value" may be taken as one.
    switchyard compares the numbers ("03" and "3" agree), h11 the text
    ("conflicting Content-Length headers"). Nothing reads 03 as anything
    but 3, so the body ends at the same byte for every reader."""
    head, rest, start = head_and_rest(data)
    if head is None:
        return None
    fixed = re.sub(rb"(?im)^(content-length:[ \t]*)0+([0-9])", rb"\1\2",
                   head)
    if fixed == head:
        return None
    return data[:start] + fixed + rest


def trailer_semantics(data):
    """RFC 9110 6.5.1: trailer fields are not merged into the header
    section and switchyard drops them; framing fields there mean nothing
    (RFC 9110 6.5.1 and 8.6: Content-Length and Transfer-Encoding are not
    allowed in trailers). h11 runs its header checks over the trailer
    section too and refuses e.g. "Content-Length: x" there."""
    head, rest, start = head_and_rest(data)
    if head is None or not re.search(rb"(?im)^transfer-encoding:", head):
        return None
    m = re.search(rb"(?:^|\r\n)0[^\r\n]*\r\n((?:[^\r\n]+\r\n)+)\r\n", rest)
    if not m or not re.search(rb"(?im)^(content-length|transfer-encoding):",
                              m.group(1)):
        return None
    kept = b"".join(l + b"\r\n" for l in m.group(1).split(b"\r\n")
                    if l and not re.match(rb"(?i)(content-length|"
                                          rb"transfer-encoding):", l))
    return (data[:start] + head + rest[:m.start(1)] + kept +
            rest[m.end(1):])


EXCEPTIONS = [
    ("RFC 9112 2.2 empty lines before the request line", leading_empty_lines),
    ("RFC 9112 7.1.1 BWS before a chunk extension", chunk_ext_bws),
    ("RFC 9110 5.6.1 empty list elements in Transfer-Encoding",
     empty_list_elements),
    ("RFC 9110 6.5.1 framing fields in trailers", trailer_semantics),
    ("RFC 9110 8.6 one Content-Length spelt with leading zeros",
     length_spellings),
]


def excused(data, sy):
    """What explains h11 refusing data ("A + B" when it takes two), or
    None: undoing every exception that applies must make h11 accept the
    request switchyard accepts (the same length, less what the undoing
    removed)."""
    fixed, names = data, []
    for name, undo in EXCEPTIONS:
        f = undo(fixed)
        if f is not None:
            fixed = f
            names.append(name)
    if not names:
        return None
    hv = h11_verdict(fixed)
    if hv[0] == "accept" and abs(hv[1] - sy[1]) <= len(data) - len(fixed):
        return " + ".join(names)
    return None


# ---- the generated corpus ----

BYTES = b"\r\n \t:;,=\"0123456789aAfFxX-+/\x00\x01\x7f\x80\xff"
LINES = [
    b"Transfer-Encoding: chunked\r\n", b"Transfer-Encoding: gzip\r\n",
    b"Transfer-Encoding: chunked, gzip\r\n", b"Transfer-Encoding: ,chunked\r\n",
    b"Transfer-Encoding: chunked;q=1\r\n", b"Transfer-Encoding: identity\r\n",
    b"Transfer-Encoding:chunked\r\n", b"Transfer-Encoding: \x0bchunked\r\n",
    b"Content-Length: 0\r\n", b"Content-Length: 3\r\n",
    b"Content-Length: 3, 3\r\n", b"Content-Length: 03\r\n",
    b"Content-Length: 99999999999999999999\r\n", b"Host: b\r\n", b"Host:\r\n",
    b"Host: a b\r\n", b" folded\r\n", b"\tfolded\r\n", b"Connection: close\r\n",
    b"Connection: keep-alive\r\n", b"Expect: 100-continue\r\n",
    b"X-O: \x80\xff\r\n", b"X-C: a\x01b\r\n", b"Trailer: X\r\n", b"X:\r\n",
    b"X : y\r\n", b": y\r\n", b"X-E: \r\n", b"Upgrade: h2c\r\n", b"\r\n",
]
SWAPS = [
    (b"chunked", [b"Chunked", b"CHUNKED", b"chunked ", b"chunked,",
                  b"chunked;a=b", b"chunk", b"xchunked", b", chunked",
                  b"chunked\t", b"gzip, chunked"]),
    (b"HTTP/1.1", [b"HTTP/1.0", b"HTTP/1.9", b"HTTP/2.0", b"HTTP/1.1 ",
                   b"http/1.1", b"HTTP/11", b"HTTP/1.10"]),
    (b"HTTP/1.0", [b"HTTP/1.1", b"HTTP/0.9"]),
    (b"Content-Length", [b"Transfer-Encoding", b"Content-Length ",
                         b"Content_Length", b"content-length"]),
    (b"Transfer-Encoding", [b"Content-Length", b"Transfer_Encoding",
                            b"Transfer-Encoding ", b"TE"]),
    (b"Host", [b"host", b"Host ", b"X-Host", b"Host: a\r\nHost"]),
    (b"\r\n0\r\n", [b"\r\n00\r\n", b"\r\n0;x\r\n", b"\r\n0 \r\n",
                    b"\r\n0\n", b"\r\n1\r\n"]),
    (b"\r\n\r\n", [b"\r\n\n", b"\n\r\n", b"\r\n \r\n", b"\r\n\r\n\r\n"]),
    (b" / ", [b"  / ", b" /\t", b" * ", b" /a b ", b" \x7f "]),
    (b"GET", [b"G T", b"get", b"", b"GET\t"]),
    (b"POST", [b"PO\x00ST", b"POST/"]),
    (b"abc", [b"ab", b"abcd", b"a\r\nc"]),
]


def mutate(rng, data, seeds):
    """One mutant of data: one to three edits."""
    data = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(9)
        pos = rng.randrange(len(data) + 1)
        if op == 0 and data:
            data[min(pos, len(data) - 1)] = rng.choice(BYTES)
        elif op == 1:
            data[pos:pos] = bytes([rng.choice(BYTES)])
        elif op == 2 and data:
            del data[pos:pos + rng.randint(1, 4)]
        elif op == 3:
            # a line from the dictionary where a line starts
            starts = [0] + [m.end() for m in re.finditer(rb"\n", data)]
            at = rng.choice(starts[1:] or starts)
            data[at:at] = rng.choice(LINES)
        elif op == 4:
            # a line dropped or repeated
            lines = bytes(data).split(b"\r\n")
            if len(lines) > 2:
                i = rng.randrange(1, len(lines) - 1)
                if rng.random() < 0.5:
                    del lines[i]
                else:
                    lines.insert(i, lines[i])
                data = bytearray(b"\r\n".join(lines))
        elif op == 5:
            # a line end changed: CRLF to LF or CR, LF to CRLF
            ends = [m.start() for m in re.finditer(rb"\r?\n", data)]
            if ends:
                at = rng.choice(ends)
                if data[at:at + 2] == b"\r\n":
                    del data[at + rng.randrange(2)]
                else:
                    data[at:at] = b"\r"
        elif op == 6:
            old, news = rng.choice(SWAPS)
            at = bytes(data).find(old)
            if at >= 0:
                data[at:at + len(old)] = rng.choice(news)
        elif op == 7:
            # a chunk size or a length changed
            nums = list(re.finditer(rb"(?<=[\n:]) ?[0-9A-Fa-f]+(?=[\r\n;])",
                                    data))
            if nums:
                m = rng.choice(nums)
                new = rng.choice([b"0", b"1", b"2", b"4", b"10", b"ffff",
                                  b"0000000000000003", b"fffffffffffffff",
                                  b" 3", b"3 ", b"-1", b"+3", b"0x3", b"3,3"])
                data[m.start():m.end()] = new
        else:
            # the head of this input with the body of another
            other = rng.choice(seeds)
            cut = bytes(data).find(b"\r\n\r\n")
            ocut = other.find(b"\r\n\r\n")
            if cut >= 0 and ocut >= 0:
                data = bytearray(bytes(data[:cut + 4]) + other[ocut + 4:])
    return bytes(data)


def generate(folder, seed_folder, count, seed):
    """Writes count mutants of the seeds into folder."""
    seeds = []
    for name in sorted(os.listdir(seed_folder)):
        path = os.path.join(seed_folder, name)
        if os.path.isfile(path) and not name.startswith("."):
            with open(path, "rb") as fh:
                seeds.append(fh.read())
    rng = random.Random(seed)
    for i in range(count):
        data = mutate(rng, rng.choice(seeds), seeds)
        with open(os.path.join(folder, "mut-%05d" % i), "wb") as fh:
            fh.write(data)


# ---- the comparison ----

def sy_verdicts(program, folders):
    """{path: ("accept", n) | ("reject", status) | ("incomplete",)}."""
    out = subprocess.run([program] + folders, stdout=subprocess.PIPE,
                         check=False)
    if out.returncode != 0:
        print("# %s exited with %d" % (program, out.returncode))
        sys.exit(2)
    res = {}
    for line in out.stdout.decode("utf-8", "replace").splitlines():
        path, what = line.rsplit(" ", 1)
        if what == "incomplete":
            res[path] = ("incomplete",)
            continue
        path, verb = path.rsplit(" ", 1)
        res[path] = (verb, int(what))
    return res


def show(data, most=200):
    if len(data) > most:
        return repr(data[:most]) + "...(%d bytes)" % len(data)
    return repr(data)


def main(argv):
    ap = argparse.ArgumentParser(description="h11 against h1_verdict")
    ap.add_argument("program")
    ap.add_argument("seeds")
    ap.add_argument("more", nargs="*")
    ap.add_argument("--mutations", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--keep")
    opt = ap.parse_args(argv[1:])
    program = opt.program
    folders = [f for f in [opt.seeds] + opt.more if os.path.isdir(f)]
    tmp = None
    if opt.mutations > 0:
        if opt.keep:
            os.makedirs(opt.keep, exist_ok=True)
            gen = opt.keep
        else:
            tmp = tempfile.TemporaryDirectory(prefix="h11-diff.")
            gen = tmp.name
        generate(gen, opt.seeds, opt.mutations, opt.seed)
        folders.append(gen)
    sy = sy_verdicts(program, folders)

    n = h11_rej = sy_rej = sy_inc = stricter = 0
    excuses = {}
    wrong = []
    for path in sorted(sy):
        with open(path, "rb") as fh:
            data = fh.read()
        n += 1
        hv, sv = h11_verdict(data), sy[path]
        h11_rej += hv[0] == "reject"
        sy_rej += sv[0] == "reject"
        sy_inc += sv[0] == "incomplete"
        if hv[0] == "accept" and sv[0] == "reject":
            stricter += 1
        if hv[0] == "reject" and sv[0] == "accept":
            why = excused(data, sv)
            if why:
                excuses[why] = excuses.get(why, 0) + 1
            else:
                wrong.append((path, data, hv, sv))
        elif hv[0] == "accept" and sv[0] == "accept" and hv[1] != sv[1]:
            wrong.append((path, data, hv, sv))
    print("# files compared: %d (%s)" % (n, ", ".join(folders)))
    print("# h11 rejects: %d, switchyard rejects: %d, switchyard waits for "
          "more: %d" % (h11_rej, sy_rej, sy_inc))
    print("# switchyard stricter (h11 accepts, switchyard rejects): %d"
          % stricter)
    for why, k in sorted(excuses.items()):
        print("# h11 stricter than the RFC, excused: %d x %s" % (k, why))
    print("# disagreements: %d" % len(wrong))
    for path, data, hv, sv in wrong:
        print("not ok - %s: h11 %s, switchyard %s" % (
            path, " ".join(str(x) for x in hv), " ".join(str(x) for x in sv)))
        print("#   bytes: %s" % show(data))
    if tmp is not None:
        tmp.cleanup()
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
