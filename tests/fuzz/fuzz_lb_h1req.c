/*
 * fuzz_lb_h1req.c - libFuzzer target for the whole validation of a
 * request from a client, as the connection code runs it with the default
 * limits: where the head ends (8 KiB request line, 64 KiB head), the
 * strict parse, the field count, then the body framing the parsed head
 * names, a chunked one through the strict decoder.
 *
 * Invariants, besides no read outside the input (the head and the body
 * are copied into buffers of their exact size for ASan to watch):
 *  - where the head ends does not depend on how the bytes were split
 *    across reads: once an answer other than "not yet" comes for a
 *    prefix, every longer prefix gets the same one;
 *  - an error maps to 400, 414, 431, 501 or 505;
 *  - a parsed head has every pointer inside it, NUL-terminated strings
 *    of the lengths given, one framing at most, no chunked in HTTP/1.0
 *    and a Host in HTTP/1.1;
 *  - the chunked decoder gives the same result, the same body and leaves
 *    the same bytes whether fed the body whole, byte by byte or in
 *    pieces of a few bytes, and a decoded body is never longer than the
 *    framing it came in.
 * The decoder also gets the whole input as a body when no head parses,
 * so that it is fuzzed without a valid head in front.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "lb/lb_h1req.h"

#define MAX_REQUEST_LINE 8192
#define MAX_HEADER_BYTES 65536
#define MAX_HEADERS 100

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct lb_h1_req req;

static void
inside(const char *buf, size_t len, const char *p, size_t n)
{
	if (p < buf || p + n >= buf + len || p[n] != '\0' || strlen(p) != n)
		abort();
}

static int
status_ok(int st)
{
	return st == 400 || st == 414 || st == 431 || st == 501 || st == 505;
}

static long
head_end(const char *buf, size_t len)
{
	return lb_h1_req_head_end(buf, len, MAX_REQUEST_LINE, MAX_HEADER_BYTES);
}

/* The head end of the whole input, checked against its prefixes: once a
 * prefix has a head end, every longer one has the same; once a prefix is
 * refused, every longer one is refused (the status may differ: a request
 * line one byte over the limit ending in a bare LF is a 414 while the LF
 * has not come, a 400 once it has). */
static long
head_end_checked(const char *buf, size_t size)
{
	long end = head_end(buf, size), first = 0;
	size_t k, step;

	if (end != 0 && end != -EINVAL && end != -ENAMETOOLONG &&
	    end != -E2BIG && (end < 0 || (size_t)end > size))
		abort();
	if (end < 0 && !status_ok(lb_h1_req_status((int)end)))
		abort();
	/* every prefix of a small input, a sample of a big one */
	step = size <= 512 ? 1 : size <= 8192 ? size / 256 : size / 64;
	for (k = 1; k < size; k += step) {
		long e = head_end(buf, k);

		if (first == 0)
			first = e;
		else if (first > 0 ? e != first : e >= 0)
			abort();
	}
	if (first > 0 ? end != first : first < 0 && end >= 0)
		abort();
	return end;
}

/* What one decoder run left: its result, the body it gave, and how many
 * input bytes it left behind. */
struct decoded {
	int rc;
	struct evbuffer *out;
	size_t left;
};

/* Decode body[0..len) fed in pieces of piece(i) bytes (NULL: at once),
 * calling the decoder after each piece as the connection code does
 * after each read, until it says done or fails. */
static void
decode(const char *body, size_t len, size_t (*piece)(size_t),
       struct decoded *d)
{
	struct lb_h1_chunked ch;
	struct evbuffer *in = evbuffer_new();
	size_t at = 0, i = 0;

	d->out = evbuffer_new();
	if (in == NULL || d->out == NULL)
		abort();
	memset(&ch, 0, sizeof(ch));
	ch.strict = 1;
	d->rc = 0;
	do {
		size_t n = piece == NULL ? len : piece(i++);

		if (n > len - at)
			n = len - at;
		evbuffer_add(in, body + at, n);
		at += n;
		d->rc = lb_h1_chunked_decode(&ch, in, d->out);
		if (d->rc != 0 && d->rc != 1 && d->rc != -EINVAL)
			abort();
	} while (d->rc == 0 && at < len);
	/* what was never given counts as left behind */
	d->left = evbuffer_get_length(in) + (len - at);
	evbuffer_free(in);
}

static size_t
one_byte(size_t i)
{
	(void)i;
	return 1;
}

static size_t
few_bytes(size_t i)
{
	return 1 + (i * 7 + 3) % 11;
}

static int
same_body(struct evbuffer *a, struct evbuffer *b)
{
	size_t n = evbuffer_get_length(a);

	if (n != evbuffer_get_length(b))
		return 0;
	return n == 0 ||
	       memcmp(evbuffer_pullup(a, -1), evbuffer_pullup(b, -1), n) == 0;
}

/* The chunked body at data[0..size), copied to a buffer of its size. */
static void
chunked_checked(const uint8_t *data, size_t size)
{
	struct decoded whole, bytes, pieces;
	char *body = malloc(size > 0 ? size : 1);

	if (body == NULL)
		return;
	memcpy(body, data, size);
	decode(body, size, NULL, &whole);
	decode(body, size, one_byte, &bytes);
	decode(body, size, few_bytes, &pieces);
	if (evbuffer_get_length(whole.out) > size - whole.left ||
	    evbuffer_get_length(bytes.out) > size - bytes.left ||
	    evbuffer_get_length(pieces.out) > size - pieces.left)
		abort();
	if (bytes.rc != whole.rc || pieces.rc != whole.rc)
		abort();
	/* a failure may be seen after different amounts of the body were
	 * moved out; done or not yet must agree to the byte */
	if (whole.rc >= 0 &&
	    (!same_body(whole.out, bytes.out) ||
	     !same_body(whole.out, pieces.out) ||
	     (whole.rc == 1 &&
	      (bytes.left != whole.left || pieces.left != whole.left))))
		abort();
	evbuffer_free(whole.out);
	evbuffer_free(bytes.out);
	evbuffer_free(pieces.out);
	free(body);
}

/* Parse buf[0..len) (a copy of that size); 1 when it parsed. */
static int
parse_checked(const uint8_t *data, size_t len)
{
	char *buf = malloc(len > 0 ? len : 1);
	size_t f;
	int rc;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, len);
	rc = lb_h1_parse_request(buf, len, &req);
	if (rc < 0) {
		if (!status_ok(lb_h1_req_status(rc)))
			abort();
		free(buf);
		return 0;
	}
	inside(buf, len, req.method, req.method_len);
	inside(buf, len, req.target, req.target_len);
	if (req.major != 1 || req.minor < 0 || req.minor > 9 ||
	    req.nfields > LB_H1_REQ_FIELDS_MAX || req.content_length < -1 ||
	    (req.chunked && req.content_length >= 0) ||
	    (req.chunked && req.minor == 0) ||
	    (req.minor >= 1 && req.host == NULL))
		abort();
	for (f = 0; f < req.nfields; f++) {
		if (req.fields[f].name_len == 0 ||
		    req.fields[f].name < buf ||
		    req.fields[f].name + req.fields[f].name_len > buf + len)
			abort();
		inside(buf, len, req.fields[f].value, req.fields[f].value_len);
	}
	if (req.host != NULL)
		inside(buf, len, req.host, req.host_len);
	free(buf);
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t skip = 0;
	long end;

	/* empty lines before the request line are skipped (RFC 9112 2.2) */
	while (size - skip >= 2 && data[skip] == '\r' && data[skip + 1] == '\n')
		skip += 2;
	data += skip;
	size -= skip;
	end = head_end_checked((const char *)data, size);
	/* the parser may be given any bytes, not only a whole head */
	if (size > 0)
		(void)parse_checked(data, size);
	if (end > 0 && parse_checked(data, (size_t)end)) {
		/* proxy.maxheaders: refused with 431 before any body */
		if (req.nfields > MAX_HEADERS)
			return 0;
		if (req.chunked)
			chunked_checked(data + end, size - (size_t)end);
		else if (req.content_length >= 0 &&
			 (uint64_t)req.content_length > (UINT64_C(1) << 62))
			abort();
		return 0;
	}
	chunked_checked(data, size);
	return 0;
}
