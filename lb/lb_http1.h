/*
 * lb_http1.h - the upstream side of HTTP/1.1: the response head an
 * upstream sends (status line and header fields, parsed in place, no
 * copies) and the chunked transfer coding of its body.
 *
 * Pure functions over bytes and evbuffers, no I/O, so the proxy's framing
 * decisions are unit-tested.
 */
#ifndef LB_HTTP1_H
#define LB_HTTP1_H

#include <stddef.h>
#include <stdint.h>
#include <event2/buffer.h>

/* Fields beyond this many make the head invalid (a 502). */
#define LB_H1_MAX_FIELDS 100

struct lb_h1_field {
	const char *name;
	size_t name_len;
	const char *value;       /* leading and trailing blanks cut */
	size_t value_len;
};

struct lb_h1_resp {
	int major, minor;
	int status;              /* 100..999 */
	const char *reason;
	size_t reason_len;
	struct lb_h1_field fields[LB_H1_MAX_FIELDS];
	size_t nfields;
	int64_t content_length;  /* -1: none */
	int chunked;             /* Transfer-Encoding ends in chunked */
	int other_coding;        /* a Transfer-Encoding not ending in chunked:
				  * the body runs to the end of the connection */
	int close;               /* the connection ends after this response */
};

/*
 * Where the head in buf[0..len) ends: the length of the head including
 * its empty line (CRLF CRLF, or bare LFs), 0 when it is not all there
 * yet. A head longer than max is reported as -1.
 */
long lb_h1_head_end(const char *buf, size_t len, size_t max);

/*
 * Parse a response head of len bytes (as lb_h1_head_end measured it).
 * The field and reason pointers point into buf. Rules: "HTTP/1.x"
 * followed by a three-digit status; field names are tokens; values hold
 * no NUL, CR or LF; obsolete line folding is refused; Content-Length must
 * be digits, and several of them must agree; Content-Length together
 * with Transfer-Encoding is refused (RFC 9112 6.1). close is set for
 * "Connection: close", and for HTTP/1.0 without "Connection: keep-alive".
 * Returns 0, -EINVAL for a malformed head or -E2BIG for too many fields.
 */
int lb_h1_parse_response(const char *buf, size_t len, struct lb_h1_resp *r);

/* Whether the field name is lower (an all lower-case name), ignoring
 * ASCII case. */
int lb_h1_name_is(const char *name, size_t len, const char *lower);

/* Whether the comma-separated list value[0..len) holds the token lower
 * (case-insensitive, blanks around items ignored). */
int lb_h1_list_has(const char *value, size_t len, const char *lower);

/* Chunked body decoding, resumable across reads. Zero it to start; set
 * strict for a request body, where every line of the framing must end in
 * CRLF (a bare LF there is an error: RFC 9112 7.1 leaves no room for it)
 * and trailer lines must be well-formed fields. */
struct lb_h1_chunked {
	int strict;
	int state;
	uint64_t left;           /* bytes of the current chunk still to come */
	size_t trailer_bytes;
};

/*
 * Move decoded body bytes from in to out; consumes chunk framing and
 * trailers (trailers are dropped). Returns 1 when the last chunk and the
 * trailers are consumed (bytes after them stay in in), 0 when more input
 * is needed, -EINVAL for bad framing (a bad size line, a missing CRLF
 * after data, a size line longer than 4 KiB or trailers longer than
 * 64 KiB).
 */
int lb_h1_chunked_decode(struct lb_h1_chunked *c, struct evbuffer *in,
			 struct evbuffer *out);

#endif
