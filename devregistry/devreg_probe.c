/*
 * devreg_probe.c - HTTP and TCP check runs.
 *
 * The socket is connected by hand (not bufferevent_socket_connect) so the
 * exact connect errno reaches the output, the way Go's dialer reports it.
 * Every result goes through finish(), which releases the connection at
 * once and reports from a zero-delay event, so done never runs inside a
 * libevent callback of the probe's own connection and the caller may
 * start the next run from done.
 */
#include "devregistry/devreg_probe.h"

#include <ctype.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/util.h>
#include <fcntl.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#define HEADER_MAX (64 * 1024)
#define MAX_REDIRECTS 10
#define DEFAULT_TIMEOUT_MS 10000

enum probe_kind { PROBE_TCP, PROBE_HTTP };
enum http_state { ST_STATUS, ST_HEADERS, ST_BODY, ST_CHUNK_SIZE, ST_CHUNK_DATA,
		  ST_CHUNK_CRLF };

struct devreg_probe {
	struct event_base *base;
	struct evdns_base *dns;   /* NULL: resolve with getaddrinfo() */
	void *tls_ctx;
	enum probe_kind kind;
	devreg_probe_done_fn done;
	void *arg;

	/* What to probe, copied from the caller. */
	char *orig;           /* the URL or host:port as registered */
	char *method;
	char *body;
	struct devreg_header *headers;
	size_t nheaders;
	int disable_redirects, tls_skip_verify;
	char *tls_server_name;
	size_t output_max;

	/* The current hop (redirects start a new one). */
	char *cur_url;
	char *host;
	int port;
	char *authority;
	char *target;
	int https;
	int redirects;
	int fd;
	struct evdns_getaddrinfo_request *dns_req;
	struct evutil_addrinfo *ai;      /* resolved addresses of the hop */
	struct evutil_addrinfo *ai_next; /* the next one to try */
	struct event *conn_ev;
	struct bufferevent *bev;

	/* The response being read. */
	enum http_state state;
	size_t header_bytes;
	int code;
	char *status_text;
	int64_t content_left;  /* -1: until EOF */
	int chunked;
	int64_t chunk_left;
	char *location;
	struct evbuffer *out;

	struct event *timer;
	struct event *finish_ev;
	int finished;
	enum devreg_status result;
	char *output;
};

static int
empty(const char *s)
{
	return s == NULL || *s == '\0';
}

/* --- life cycle --- */

static void
close_conn(struct devreg_probe *p)
{
	if (p->dns_req != NULL) {
		struct evdns_getaddrinfo_request *req = p->dns_req;

		/* The cancel calls resolved() with EVUTIL_EAI_CANCEL at once. */
		p->dns_req = NULL;
		evdns_getaddrinfo_cancel(req);
	}
	if (p->conn_ev != NULL) {
		event_free(p->conn_ev);
		p->conn_ev = NULL;
	}
	if (p->bev != NULL) {
		bufferevent_free(p->bev);  /* closes fd and frees the SSL */
		p->bev = NULL;
		p->fd = -1;
	}
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
	if (p->ai != NULL) {
		evutil_freeaddrinfo(p->ai);
		p->ai = p->ai_next = NULL;
	}
}

static void
reset_response(struct devreg_probe *p)
{
	p->state = ST_STATUS;
	p->header_bytes = 0;
	p->code = 0;
	free(p->status_text);
	p->status_text = NULL;
	free(p->location);
	p->location = NULL;
	p->content_left = -1;
	p->chunked = 0;
	p->chunk_left = 0;
	if (p->out != NULL)
		evbuffer_drain(p->out, evbuffer_get_length(p->out));
}

static void
probe_free(struct devreg_probe *p)
{
	if (p == NULL)
		return;
	close_conn(p);
	if (p->timer != NULL)
		event_free(p->timer);
	if (p->finish_ev != NULL)
		event_free(p->finish_ev);
	if (p->out != NULL)
		evbuffer_free(p->out);
	free(p->orig);
	free(p->method);
	free(p->body);
	for (size_t i = 0; i < p->nheaders; i++) {
		free(p->headers[i].name);
		for (size_t k = 0; k < p->headers[i].nvalues; k++)
			free(p->headers[i].values[k]);
		free(p->headers[i].values);
	}
	free(p->headers);
	free(p->tls_server_name);
	free(p->cur_url);
	free(p->host);
	free(p->authority);
	free(p->target);
	free(p->status_text);
	free(p->location);
	free(p->output);
	free(p);
}

void
devreg_probe_cancel(struct devreg_probe *p)
{
	probe_free(p);
}

static void
finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct devreg_probe *p = arg;

	(void)fd;
	(void)what;
	p->done(p->arg, p->result, p->output != NULL ? p->output : "");
	probe_free(p);
}

/* Record the result (once), drop the connection, report from the loop. */
static void
finish(struct devreg_probe *p, enum devreg_status st, const char *output)
{
	if (p->finished)
		return;
	p->finished = 1;
	close_conn(p);
	if (p->timer != NULL)
		event_del(p->timer);
	p->result = st;
	p->output = strdup(output);
	event_active(p->finish_ev, EV_TIMEOUT, 1);
}

static void
finishf(struct devreg_probe *p, enum devreg_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
finishf(struct devreg_probe *p, enum devreg_status st, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	finish(p, st, buf);
}

/* Go's url.Error operation word: "Get", "Post", ... */
static void
http_op(const struct devreg_probe *p, char *buf, size_t len)
{
	size_t i;

	snprintf(buf, len, "%s", p->method);
	for (i = 1; buf[i] != '\0'; i++)
		buf[i] = (char)tolower((unsigned char)buf[i]);
}

/* A Go-style lower-case errno text: "connection refused". */
static void
errno_text(int err, char *buf, size_t len)
{
	snprintf(buf, len, "%s", strerror(err));
	if (buf[0] != '\0')
		buf[0] = (char)tolower((unsigned char)buf[0]);
}

static void
fail_transport(struct devreg_probe *p, const char *what)
{
	char op[16];

	if (p->kind == PROBE_TCP) {
		finish(p, DEVREG_CRITICAL, what);
		return;
	}
	http_op(p, op, sizeof(op));
	finishf(p, DEVREG_CRITICAL, "%s \"%s\": %s", op, p->cur_url, what);
}

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct devreg_probe *p = arg;
	char buf[512];

	(void)fd;
	(void)what;
	if (p->kind == PROBE_TCP) {
		snprintf(buf, sizeof(buf), "dial tcp %s: i/o timeout", p->orig);
		finish(p, DEVREG_CRITICAL, buf);
		return;
	}
	fail_transport(p, "context deadline exceeded (Client.Timeout exceeded while awaiting headers)");
}

/* --- HTTP response reading --- */

static void complete_http(struct devreg_probe *p);
static int start_hop(struct devreg_probe *p);

static void
keep_body(struct devreg_probe *p, struct evbuffer *in, size_t n)
{
	size_t have = evbuffer_get_length(p->out), room;

	room = have < p->output_max ? p->output_max - have : 0;
	if (n > room) {
		evbuffer_remove_buffer(in, p->out, room);
		evbuffer_drain(in, n - room);
	} else {
		evbuffer_remove_buffer(in, p->out, n);
	}
}

static int
body_full(const struct devreg_probe *p)
{
	return evbuffer_get_length(p->out) >= p->output_max;
}

static int
parse_status(struct devreg_probe *p, const char *line)
{
	const char *sp;

	if (strncmp(line, "HTTP/", 5) != 0)
		return -EINVAL;
	sp = strchr(line, ' ');
	if (sp == NULL)
		return -EINVAL;
	while (*sp == ' ')
		sp++;
	if (!isdigit((unsigned char)sp[0]) || !isdigit((unsigned char)sp[1]) ||
	    !isdigit((unsigned char)sp[2]) || (sp[3] != '\0' && sp[3] != ' '))
		return -EINVAL;
	p->code = (sp[0] - '0') * 100 + (sp[1] - '0') * 10 + (sp[2] - '0');
	p->status_text = strdup(sp);
	return p->status_text != NULL ? 0 : -ENOMEM;
}

static void
parse_header(struct devreg_probe *p, char *line)
{
	char *colon = strchr(line, ':'), *v;

	if (colon == NULL)
		return;
	*colon = '\0';
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (strcasecmp(line, "Content-Length") == 0) {
		char *end;
		long long n = strtoll(v, &end, 10);

		if (end != v && n >= 0)
			p->content_left = n;
	} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
		if (strcasestr(v, "chunked") != NULL)
			p->chunked = 1;
	} else if (strcasecmp(line, "Location") == 0) {
		free(p->location);
		p->location = strdup(v);
	}
}

/* Headers done: follow a redirect, or get ready for the body. */
static void
headers_done(struct devreg_probe *p)
{
	int redirect = p->code == 301 || p->code == 302 || p->code == 303 ||
		       p->code == 307 || p->code == 308;

	if (redirect && !p->disable_redirects && !empty(p->location)) {
		char *next = NULL;
		char op[16];

		if (++p->redirects > MAX_REDIRECTS) {
			http_op(p, op, sizeof(op));
			finishf(p, DEVREG_CRITICAL, "%s \"%s\": stopped after %d redirects",
				op, p->cur_url, MAX_REDIRECTS);
			return;
		}
		if (strncasecmp(p->location, "http://", 7) == 0 ||
		    strncasecmp(p->location, "https://", 8) == 0) {
			next = strdup(p->location);
		} else if (strncmp(p->location, "//", 2) == 0) {
			if (asprintf(&next, "%s:%s", p->https ? "https" : "http", p->location) < 0)
				next = NULL;
		} else if (p->location[0] == '/') {
			if (asprintf(&next, "%s://%s%s", p->https ? "https" : "http",
				     p->authority, p->location) < 0)
				next = NULL;
		} else {
			size_t dir = strcspn(p->target, "?");

			while (dir > 0 && p->target[dir - 1] != '/')
				dir--;
			if (asprintf(&next, "%s://%s%.*s%s", p->https ? "https" : "http",
				     p->authority, (int)dir, p->target, p->location) < 0)
				next = NULL;
		}
		if (next == NULL) {
			finish(p, DEVREG_CRITICAL, "out of memory");
			return;
		}
		if (p->code == 301 || p->code == 302 || p->code == 303) {
			if (strcmp(p->method, "HEAD") != 0 && strcmp(p->method, "GET") != 0) {
				free(p->method);
				p->method = strdup("GET");
				free(p->body);
				p->body = NULL;
			}
		}
		close_conn(p);
		free(p->cur_url);
		p->cur_url = next;
		if (start_hop(p) < 0 && !p->finished)
			fail_transport(p, "invalid redirect location");
		return;
	}
	if (strcmp(p->method, "HEAD") == 0 || p->code == 204 || p->code == 304 ||
	    (p->code >= 100 && p->code < 200)) {
		complete_http(p);
		return;
	}
	p->state = p->chunked ? ST_CHUNK_SIZE : ST_BODY;
	if (!p->chunked && p->content_left == 0)
		complete_http(p);
}

static void
complete_http(struct devreg_probe *p)
{
	enum devreg_status st;
	size_t n = evbuffer_get_length(p->out);
	char *body = malloc(n + 1);
	char *out = NULL;

	if (body == NULL) {
		finish(p, DEVREG_CRITICAL, "out of memory");
		return;
	}
	evbuffer_copyout(p->out, body, n);
	body[n] = '\0';
	if (p->code >= 200 && p->code < 300)
		st = DEVREG_PASSING;
	else if (p->code == 429)
		st = DEVREG_WARNING;
	else
		st = DEVREG_CRITICAL;
	if (asprintf(&out, "HTTP %s %s: %s Output: %s", p->method, p->orig,
		     p->status_text != NULL ? p->status_text : "", body) < 0)
		out = NULL;
	finish(p, st, out != NULL ? out : "out of memory");
	free(out);
	free(body);
}

/* Consume what has arrived; may finish the probe. */
static void
http_consume(struct devreg_probe *p, struct evbuffer *in)
{
	while (!p->finished) {
		if (p->state == ST_STATUS || p->state == ST_HEADERS) {
			size_t len;
			char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);

			if (line == NULL) {
				if (p->header_bytes + evbuffer_get_length(in) > HEADER_MAX)
					fail_transport(p, "net/http: server response headers exceeded the limit");
				return;
			}
			p->header_bytes += len + 2;
			if (p->header_bytes > HEADER_MAX) {
				free(line);
				fail_transport(p, "net/http: server response headers exceeded the limit");
				return;
			}
			if (p->state == ST_STATUS) {
				if (parse_status(p, line) < 0) {
					char what[160];

					snprintf(what, sizeof(what), "malformed HTTP response \"%.80s\"",
						 line);
					free(line);
					fail_transport(p, what);
					return;
				}
				p->state = ST_HEADERS;
			} else if (len == 0) {
				free(line);
				if (p->code >= 100 && p->code < 200) {
					/* An interim response: the real one follows. */
					reset_response(p);
					continue;
				}
				headers_done(p);
				continue;
			} else {
				parse_header(p, line);
			}
			free(line);
		} else if (p->state == ST_BODY) {
			size_t n = evbuffer_get_length(in);

			if (p->content_left >= 0 && (int64_t)n > p->content_left)
				n = (size_t)p->content_left;
			keep_body(p, in, n);
			if (p->content_left >= 0)
				p->content_left -= (int64_t)n;
			if (p->content_left == 0 || body_full(p))
				complete_http(p);
			return;
		} else if (p->state == ST_CHUNK_SIZE) {
			size_t len;
			char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF), *end;

			if (line == NULL)
				return;
			p->chunk_left = (int64_t)strtoull(line, &end, 16);
			if (end == line) {
				free(line);
				fail_transport(p, "malformed chunked encoding");
				return;
			}
			free(line);
			if (p->chunk_left == 0) {
				complete_http(p);
				return;
			}
			p->state = ST_CHUNK_DATA;
		} else if (p->state == ST_CHUNK_DATA) {
			size_t n = evbuffer_get_length(in);

			if (n == 0)
				return;
			if ((int64_t)n > p->chunk_left)
				n = (size_t)p->chunk_left;
			keep_body(p, in, n);
			p->chunk_left -= (int64_t)n;
			if (body_full(p)) {
				complete_http(p);
				return;
			}
			if (p->chunk_left == 0)
				p->state = ST_CHUNK_CRLF;
		} else {
			size_t len;
			char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);

			if (line == NULL)
				return;
			free(line);
			p->state = ST_CHUNK_SIZE;
		}
	}
}

static void
http_read_cb(struct bufferevent *bev, void *arg)
{
	http_consume(arg, bufferevent_get_input(bev));
}

static void
http_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct devreg_probe *p = arg;
	char buf[256];

	if (what & BEV_EVENT_CONNECTED)
		return;
	/* Take what is still buffered before judging the end. */
	http_consume(p, bufferevent_get_input(bev));
	if (p->finished)
		return;
	if (what & BEV_EVENT_EOF) {
		if (p->state == ST_BODY && p->content_left < 0)
			complete_http(p);
		else if (p->state == ST_STATUS && p->header_bytes == 0)
			fail_transport(p, "EOF");
		else
			fail_transport(p, "unexpected EOF");
		return;
	}
	if (p->https) {
		unsigned long e = bufferevent_get_openssl_error(bev);

		if (e != 0) {
			char ebuf[200];

			ERR_error_string_n(e, ebuf, sizeof(ebuf));
			snprintf(buf, sizeof(buf), "tls: %s", ebuf);
			fail_transport(p, buf);
			return;
		}
	}
	errno_text(EVUTIL_SOCKET_ERROR() != 0 ? EVUTIL_SOCKET_ERROR() : ECONNRESET,
		   buf, sizeof(buf));
	fail_transport(p, buf);
}

static int
has_header(const struct devreg_probe *p, const char *name)
{
	for (size_t i = 0; i < p->nheaders; i++)
		if (strcasecmp(devreg_str(p->headers[i].name), name) == 0)
			return 1;
	return 0;
}

static int
send_request(struct devreg_probe *p)
{
	struct evbuffer *o = bufferevent_get_output(p->bev);
	size_t blen = p->body != NULL ? strlen(p->body) : 0;
	int r = 0;

	r |= evbuffer_add_printf(o, "%s %s HTTP/1.1\r\n", p->method, p->target) < 0;
	if (!has_header(p, "Host"))
		r |= evbuffer_add_printf(o, "Host: %s\r\n", p->authority) < 0;
	if (!has_header(p, "User-Agent"))
		r |= evbuffer_add_printf(o, "User-Agent: Consul Health Check\r\n") < 0;
	if (!has_header(p, "Accept"))
		r |= evbuffer_add_printf(o, "Accept: text/plain, text/*, */*\r\n") < 0;
	for (size_t i = 0; i < p->nheaders; i++) {
		const struct devreg_header *h = &p->headers[i];

		/* Never let a registration smuggle a line break onto the wire. */
		if (strpbrk(devreg_str(h->name), "\r\n:") != NULL || empty(h->name))
			continue;
		for (size_t k = 0; k < h->nvalues; k++)
			if (strpbrk(devreg_str(h->values[k]), "\r\n") == NULL)
				r |= evbuffer_add_printf(o, "%s: %s\r\n", h->name,
							 devreg_str(h->values[k])) < 0;
	}
	if (blen > 0 || strcmp(p->method, "POST") == 0 || strcmp(p->method, "PUT") == 0)
		r |= evbuffer_add_printf(o, "Content-Length: %zu\r\n", blen) < 0;
	r |= evbuffer_add_printf(o, "Connection: close\r\n\r\n") < 0;
	if (blen > 0)
		r |= evbuffer_add(o, p->body, blen) < 0;
	return r ? -ENOMEM : 0;
}

static int
is_ip_literal(const char *host)
{
	unsigned char b[16];

	return inet_pton(AF_INET, host, b) == 1 || inet_pton(AF_INET6, host, b) == 1;
}

static SSL *
new_ssl(struct devreg_probe *p)
{
	const char *name = !empty(p->tls_server_name) ? p->tls_server_name : p->host;
	SSL *ssl = SSL_new(p->tls_ctx);

	if (ssl == NULL)
		return NULL;
	if (!is_ip_literal(name))
		SSL_set_tlsext_host_name(ssl, name);
	if (p->tls_skip_verify) {
		SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	} else {
		SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
		if (is_ip_literal(name))
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name);
		else
			SSL_set1_host(ssl, name);
	}
	return ssl;
}

/* The socket is connected: the TCP check is done, the HTTP one talks. */
static void
on_connected(struct devreg_probe *p)
{
	char buf[512];

	if (p->kind == PROBE_TCP) {
		snprintf(buf, sizeof(buf), "TCP connect %s: Success", p->orig);
		finish(p, DEVREG_PASSING, buf);
		return;
	}
	if (p->https) {
		SSL *ssl = p->tls_ctx != NULL ? new_ssl(p) : NULL;

		if (ssl == NULL) {
			fail_transport(p, "tls: no TLS context for https checks");
			return;
		}
		p->bev = bufferevent_openssl_socket_new(p->base, p->fd, ssl,
							BUFFEREVENT_SSL_CONNECTING,
							BEV_OPT_CLOSE_ON_FREE);
		if (p->bev == NULL)
			SSL_free(ssl);
	} else {
		p->bev = bufferevent_socket_new(p->base, p->fd, BEV_OPT_CLOSE_ON_FREE);
	}
	if (p->bev == NULL) {
		fail_transport(p, "out of memory");
		return;
	}
	reset_response(p);
	bufferevent_setcb(p->bev, http_read_cb, NULL, http_event_cb, p);
	if (send_request(p) < 0 || bufferevent_enable(p->bev, EV_READ | EV_WRITE) < 0) {
		fail_transport(p, "out of memory");
		return;
	}
}

static void
dial_failed(struct devreg_probe *p, int err)
{
	char et[128], buf[512];

	errno_text(err, et, sizeof(et));
	if (p->kind == PROBE_TCP)
		snprintf(buf, sizeof(buf), "dial tcp %s: connect: %s", p->orig, et);
	else
		snprintf(buf, sizeof(buf), "dial tcp %s: connect: %s", p->authority, et);
	fail_transport(p, buf);
}

static int connect_next(struct devreg_probe *p);

/* One address failed: try the next one ("localhost" may give ::1 first
 * to a backend that listens on 127.0.0.1 only), else report. */
static void
address_failed(struct devreg_probe *p, int err)
{
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
	if (p->ai_next != NULL) {
		if (connect_next(p) < 0 && !p->finished)
			finish(p, DEVREG_CRITICAL, "out of memory");
		return;
	}
	dial_failed(p, err);
}

static void
conn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct devreg_probe *p = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	(void)what;
	event_free(p->conn_ev);
	p->conn_ev = NULL;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err != 0) {
		address_failed(p, err);
		return;
	}
	evutil_freeaddrinfo(p->ai);
	p->ai = p->ai_next = NULL;
	on_connected(p);
}

/* Start connecting to the next resolved address. */
static int
connect_next(struct devreg_probe *p)
{
	struct evutil_addrinfo *a = p->ai_next;
	int rc;

	p->ai_next = a->ai_next;
	p->fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		address_failed(p, errno);
		return 0;
	}
	rc = connect(p->fd, a->ai_addr, a->ai_addrlen);
	if (rc == 0) {
		evutil_freeaddrinfo(p->ai);
		p->ai = p->ai_next = NULL;
		on_connected(p);
		return 0;
	}
	if (errno != EINPROGRESS) {
		address_failed(p, errno);
		return 0;
	}
	p->conn_ev = event_new(p->base, p->fd, EV_WRITE, conn_cb, p);
	if (p->conn_ev == NULL || event_add(p->conn_ev, NULL) < 0)
		return -ENOMEM;
	return 0;
}

static void
lookup_failed(struct devreg_probe *p, int err)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "dial tcp: lookup %s: %s", p->host,
		 err == EVUTIL_EAI_NONAME ? "no such host" : evutil_gai_strerror(err));
	fail_transport(p, buf);
}

static void
resolved(int err, struct evutil_addrinfo *res, void *arg)
{
	struct devreg_probe *p = arg;

	if (err == EVUTIL_EAI_CANCEL)
		return;   /* the probe is going away */
	p->dns_req = NULL;
	if (err != 0 || res == NULL) {
		if (res != NULL)
			evutil_freeaddrinfo(res);
		lookup_failed(p, err != 0 ? err : EVUTIL_EAI_NONAME);
		return;
	}
	p->ai = p->ai_next = res;
	if (connect_next(p) < 0 && !p->finished)
		finish(p, DEVREG_CRITICAL, "out of memory");
}

/* Resolve p->host and start connecting. With a DNS base the lookup never
 * blocks the loop (a check on an unresolvable name must not stall the
 * registry); literals and /etc/hosts names are answered at once. */
static int
dial(struct devreg_probe *p)
{
	struct evutil_addrinfo hints;
	char portbuf[8];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	snprintf(portbuf, sizeof(portbuf), "%d", p->port);
	if (p->ai != NULL)
		evutil_freeaddrinfo(p->ai);
	p->ai = p->ai_next = NULL;
	if (p->dns != NULL) {
		/* NULL when resolved() already ran. */
		p->dns_req = evdns_getaddrinfo(p->dns, p->host, portbuf, &hints, resolved, p);
		return 0;
	}
	rc = evutil_getaddrinfo(p->host, portbuf, &hints, &p->ai);
	if (rc != 0 || p->ai == NULL) {
		p->ai = NULL;
		lookup_failed(p, rc != 0 ? rc : EVUTIL_EAI_NONAME);
		return 0;
	}
	p->ai_next = p->ai;
	return connect_next(p);
}

/* Connect for the URL in p->cur_url. */
static int
start_hop(struct devreg_probe *p)
{
	free(p->host);
	free(p->authority);
	free(p->target);
	p->host = p->authority = p->target = NULL;
	if (devreg_url_split(p->cur_url, &p->https, &p->host, &p->port,
			     &p->authority, &p->target) < 0)
		return -EINVAL;
	return dial(p);
}

static struct devreg_probe *
probe_alloc(struct event_base *base, enum probe_kind kind, const char *orig,
	    int64_t timeout_ms, devreg_probe_done_fn done, void *arg)
{
	struct devreg_probe *p = calloc(1, sizeof(*p));
	struct timeval tv;

	if (p == NULL)
		return NULL;
	p->base = base;
	p->kind = kind;
	p->done = done;
	p->arg = arg;
	p->fd = -1;
	p->content_left = -1;
	p->orig = strdup(orig != NULL ? orig : "");
	p->out = evbuffer_new();
	p->timer = evtimer_new(base, timeout_cb, p);
	p->finish_ev = event_new(base, -1, 0, finish_cb, p);
	if (p->orig == NULL || p->out == NULL || p->timer == NULL || p->finish_ev == NULL) {
		probe_free(p);
		return NULL;
	}
	if (timeout_ms <= 0)
		timeout_ms = DEFAULT_TIMEOUT_MS;
	tv.tv_sec = (time_t)(timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)((timeout_ms % 1000) * 1000);
	evtimer_add(p->timer, &tv);
	return p;
}

struct devreg_probe *
devreg_probe_http_start(struct event_base *base, struct evdns_base *dns,
			void *tls_ctx, const struct devreg_probe_http *hp,
			devreg_probe_done_fn done, void *arg)
{
	struct devreg_probe *p = probe_alloc(base, PROBE_HTTP, hp->url, hp->timeout_ms,
					     done, arg);
	int bad = 0;

	if (p == NULL)
		return NULL;
	p->dns = dns;
	p->tls_ctx = tls_ctx;
	p->method = strdup(!empty(hp->method) ? hp->method : "GET");
	p->body = !empty(hp->body) ? strdup(hp->body) : NULL;
	p->tls_server_name = !empty(hp->tls_server_name) ? strdup(hp->tls_server_name) : NULL;
	p->cur_url = strdup(devreg_str(hp->url));
	p->disable_redirects = hp->disable_redirects;
	p->tls_skip_verify = hp->tls_skip_verify;
	p->output_max = hp->output_max > 0 ? hp->output_max : 4096;
	if (p->method == NULL || p->cur_url == NULL || (!empty(hp->body) && p->body == NULL))
		bad = 1;
	if (hp->nheaders > 0 && !bad) {
		p->headers = calloc(hp->nheaders, sizeof(*p->headers));
		if (p->headers == NULL)
			bad = 1;
		for (size_t i = 0; !bad && i < hp->nheaders; i++) {
			const struct devreg_header *h = &hp->headers[i];

			p->nheaders++;
			p->headers[i].name = strdup(devreg_str(h->name));
			p->headers[i].values = calloc(h->nvalues + 1, sizeof(char *));
			if (p->headers[i].name == NULL || p->headers[i].values == NULL) {
				bad = 1;
				break;
			}
			for (size_t k = 0; k < h->nvalues; k++) {
				p->headers[i].values[k] = strdup(devreg_str(h->values[k]));
				p->headers[i].nvalues++;
				if (p->headers[i].values[k] == NULL)
					bad = 1;
			}
		}
	}
	if (bad) {
		probe_free(p);
		return NULL;
	}
	if (start_hop(p) < 0 && !p->finished) {
		char op[16], buf[600];

		http_op(p, op, sizeof(op));
		snprintf(buf, sizeof(buf), "%s \"%s\": unsupported or malformed URL", op,
			 p->cur_url);
		finish(p, DEVREG_CRITICAL, buf);
	}
	return p;
}

struct devreg_probe *
devreg_probe_tcp_start(struct event_base *base, struct evdns_base *dns,
		       const char *addr, int64_t timeout_ms,
		       devreg_probe_done_fn done, void *arg)
{
	struct devreg_probe *p = probe_alloc(base, PROBE_TCP, addr, timeout_ms, done, arg);
	char buf[512];

	if (p == NULL)
		return NULL;
	p->dns = dns;
	if (devreg_hostport_split(addr, &p->host, &p->port) < 0) {
		snprintf(buf, sizeof(buf), "dial tcp: address %s: missing port in address",
			 devreg_str(addr));
		finish(p, DEVREG_CRITICAL, buf);
		return p;
	}
	if (dial(p) < 0 && !p->finished)
		finish(p, DEVREG_CRITICAL, "out of memory");
	return p;
}
