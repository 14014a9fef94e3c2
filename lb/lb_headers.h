/*
 * lb_headers.h - the heads the proxy writes: the request it sends
 * upstream (the client's header fields without hop-by-hop ones, plus
 * X-Forwarded-*, X-Real-Ip and RFC 7239 Forwarded) and the response it
 * sends the client (the upstream's fields without hop-by-hop ones, with
 * the framing the proxy chose).
 *
 * Hop-by-hop fields are removed both ways: Connection and every field it
 * names, Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding and
 * Upgrade. Fields named in Connection are removed before the proxy adds
 * its own, so a client cannot use Connection to strip them.
 */
#ifndef LB_HEADERS_H
#define LB_HEADERS_H

#include <stddef.h>
#include <stdint.h>

#include "lb/lb_buf.h"
#include "lb/lb_http1.h"

/* Whether name is one of the fixed hop-by-hop fields (not counting the
 * ones a Connection field names). */
int lb_headers_is_hop(const char *name, size_t len);

/* What the proxy knows about a request it forwards. */
struct lb_fwd {
	const char *method;
	const char *path;        /* starts with '/' (after strip/prepend) */
	size_t path_len;
	const char *query;       /* without '?'; NULL or query_len 0: none */
	size_t query_len;
	const char *host;        /* the Host to send; NULL: none */
	const char *client_ip;   /* "192.0.2.1" or "2001:db8::1" */
	const char *client_host; /* the Host the client sent; NULL: none */
	const char *proto;       /* "http" or "https" */
	const char *local_port;  /* the port the request came in on */
	const char *prefix;      /* strip= value for X-Forwarded-Prefix; NULL */
	int trusted;             /* the client's forwarding fields are kept */
	int has_body;            /* send Content-Length: body_len */
	uint64_t body_len;
};

/*
 * Append the upstream request head for f to out: the request line
 * (HTTP/1.1), Host, the client's fields in[0..nin) in their order minus hop-by-hop
 * ones, Host, Content-Length and Expect (the proxy sends the whole body
 * itself), then:
 *   X-Forwarded-For    the client's values joined, then client_ip
 *   X-Real-Ip          client_ip
 *   X-Forwarded-Proto  proto
 *   X-Forwarded-Port   local_port
 *   X-Forwarded-Host   client_host (or none)
 *   X-Forwarded-Prefix prefix when set
 *   Forwarded          for=<ip>;proto=<proto>[;host=<client_host>]
 *                      (IPv6 as "[v6]", values quoted when not tokens)
 *   Content-Length     when has_body
 * and the empty line. The client's X-Real-Ip, X-Forwarded-Proto, -Port,
 * -Host, -Prefix and Forwarded are dropped, unless f->trusted: then each
 * one the client sent is kept instead of ours (X-Forwarded-Prefix only
 * while no prefix is set) and Forwarded gets ours appended to the
 * client's elements. Returns 0, or -ENOMEM (out->oom).
 */
int lb_headers_request(struct lb_buf *out, const struct lb_fwd *f,
		       const struct lb_h1_field *in, size_t nin);

/* The framing of a response to the client. */
struct lb_resp_out {
	int status;
	const char *reason;      /* may be NULL: a standard phrase is used */
	size_t reason_len;
	int64_t length;          /* Content-Length to send; -1: none */
	int chunked;             /* send Transfer-Encoding: chunked */
	int conn;                /* LB_CONN_* */
};

enum {
	LB_CONN_NONE = 0,        /* HTTP/1.1 keep-alive: say nothing */
	LB_CONN_CLOSE,           /* Connection: close */
	LB_CONN_KEEP_ALIVE       /* Connection: keep-alive (HTTP/1.0 client) */
};

/*
 * Append the response head for the client: "HTTP/1.1 status reason",
 * the upstream's fields of r (NULL: none) minus hop-by-hop ones,
 * Content-Length and Transfer-Encoding, then the framing of o and the
 * empty line. Returns 0, or -ENOMEM.
 */
int lb_headers_response(struct lb_buf *out, const struct lb_h1_resp *r,
			const struct lb_resp_out *o);

/* The same in two steps, for a caller that settles the framing after it
 * has looked at the body: _start writes the status line and the fields
 * (o->status and o->reason used), _end the framing fields of o and the
 * empty line. */
void lb_headers_response_start(struct lb_buf *out, const struct lb_h1_resp *r,
			       const struct lb_resp_out *o);
int lb_headers_response_end(struct lb_buf *out, const struct lb_resp_out *o);

/* The standard reason phrase of a status ("Bad Gateway"); "Unknown"
 * for codes without one. Never NULL. */
const char *lb_headers_reason(int status);

/*
 * Append one RFC 7239 node or value: a token as is, anything else as a
 * quoted-string; an IPv6 address (as_node, containing ':') as "[v6]".
 */
void lb_headers_forwarded_value(struct lb_buf *out, const char *v,
				int as_node);

#endif
