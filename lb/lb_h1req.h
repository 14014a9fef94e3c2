/*
 * lb_h1req.h - the client side of HTTP/1.1: a strict parser of request
 * heads (RFC 9112), in place and without copies.
 *
 * Strict means that every line ends in CRLF (a bare LF is an error, not a
 * line end), the request line is exactly "method SP target SP HTTP/1.x",
 * field names are tokens followed directly by ':', values hold no control
 * characters but HTAB, obsolete line folding is refused, and the framing
 * is unambiguous: Content-Length is digits and every copy of it agrees,
 * Transfer-Encoding is exactly "chunked" and never comes with
 * Content-Length or in an HTTP/1.0 request, and an HTTP/1.1 request has
 * exactly one Host. Anything else is answered with an error status and
 * the connection closed, so that no two readers of the same bytes can
 * see different requests in them.
 *
 * Pure functions over bytes, no I/O.
 */
#ifndef LB_H1REQ_H
#define LB_H1REQ_H

#include <stddef.h>
#include <stdint.h>

#include "lb/lb_http1.h"

/* The most header fields a request may carry (proxy.maxheaders can only
 * lower it): more are refused with 431. */
#define LB_H1_REQ_FIELDS_MAX 256

struct lb_h1_req {
	const char *method;      /* NUL-terminated (see lb_h1_parse_request) */
	size_t method_len;
	const char *target;      /* the request-target as sent, NUL-terminated */
	size_t target_len;
	int major, minor;        /* 1.0 or 1.1 */
	struct lb_h1_field fields[LB_H1_REQ_FIELDS_MAX]; /* values NUL-terminated */
	size_t nfields;
	const char *host;        /* the Host value; NULL: none */
	size_t host_len;
	int64_t content_length;  /* -1: none */
	int chunked;             /* Transfer-Encoding: chunked */
	int expect_continue;     /* Expect: 100-continue */
	int conn_close;          /* Connection names close */
	int conn_keep_alive;     /* Connection names keep-alive */
	const char *why;         /* after an error: what was wrong, as a
				  * phrase for the answer ("no Host") */
};

/*
 * Where the request head in buf[0..len) ends: its length including the
 * empty line, 0 when it is not all there yet, -EINVAL when a line ends in
 * a bare LF (it never would be a head), -ENAMETOOLONG when the request
 * line is longer than max_line bytes (CRLF not counted; known as soon as
 * that many bytes hold no line end), -E2BIG when max_head bytes hold no
 * end of head.
 */
long lb_h1_req_head_end(const char *buf, size_t len, size_t max_line,
			size_t max_head);

/*
 * Parse the request head buf[0..len) (len as lb_h1_req_head_end gave it).
 * Every pointer in r points into buf, and the method, the target and each
 * field value are NUL-terminated there: the byte after each (a SP, a CR
 * or a blank) is overwritten, so buf must be writable and is not a valid
 * head afterwards. Returns 0, or a negative errno (with r->why saying
 * what was wrong) that
 * lb_h1_req_status turns into the answer: -EINVAL (malformed; also a
 * Transfer-Encoding whose final coding is not chunked, or that applies
 * chunked twice, RFC 9112 6.3), -E2BIG (more than LB_H1_REQ_FIELDS_MAX
 * fields), -ENOSYS (a transfer coding other than chunked before the final
 * chunked), -EPROTONOSUPPORT (not HTTP/1.x).
 */
int lb_h1_parse_request(char *buf, size_t len, struct lb_h1_req *r);

/* The status to answer an error of the two functions above with: 400,
 * 414, 431, 501 or 505. */
int lb_h1_req_status(int err);

/* Whether c may appear in a token (RFC 9110 tchar). */
int lb_h1_is_tchar(unsigned char c);

#endif
