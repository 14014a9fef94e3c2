/*
 * lb_conn.c - client connections: accept, read, parse, collect the body,
 * hand the request to the proxy, write the answer, keep alive or close.
 *
 * States of a connection:
 *   HEAD    waiting for (the rest of) a request head
 *   BODY    the head is parsed, its body is coming
 *   BUSY    the proxy has the request (the client keeps being read, so
 *           that one that leaves is noticed; what it sends ahead waits)
 *   FINAL   the response's last bytes are queued or being written
 *   LINGER  an error was answered and the write side shut: what the
 *           client still sends is read and dropped for a while, so that
 *           it sees the answer instead of a reset
 */
#include <arpa/inet.h>
#include <errno.h>
#include <time.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/event.h>
#include <event2/event_struct.h>   /* events embedded in the connection */

#include "lb/lb_conn.h"
#include "lb/lb_headers.h"
#include "lb/lb_worker.h"
#include "routes/rt_opts.h"

#define IN_INITIAL 4096
/* Reads straight into a request body take at most this much at once. */
#define BODY_READ (64 * 1024)
#define ACCEPT_BATCH 64
/* How long a lingering close waits for the client, and how much it
 * reads and drops meanwhile. */
#define LINGER_MS 2000
#define LINGER_BYTES (16u * 1024 * 1024)
/* Deadlines are checked this often: they end at most this late. */
#define SWEEP_MS 250
#define ACCEPT_RETRY_MS 100
#define DISCARD_SIZE (16 * 1024)
#define TOO_BIG "body larger than proxy.maxbody"

enum conn_state {
	C_HEAD = 0,
	C_BODY,
	C_BUSY,
	C_FINAL,
	C_LINGER
};

/* A parsed head, recycled through the worker's free list. */
struct lb_conn_head {
	struct lb_h1_req h;
	struct lb_conn_head *next;
};

struct lb_conn {
	struct lb_worker *w;
	int fd;
	int state;
	struct event rev, wev;
	int wev_on;                /* wev is added */
	int rpaused;               /* rev is deleted (input buffer full) */
	char *in;                  /* bytes read, not yet consumed */
	size_t inlen, incap;
	size_t head_len;           /* the current head in[0..head_len) */
	struct lb_conn_head *head; /* parsed, while BODY..FINAL */
	struct evbuffer *body;     /* the current request's body */
	struct evbuffer *raw;      /* chunked body bytes not yet decoded */
	struct lb_h1_chunked chunk;
	uint64_t body_left;        /* Content-Length bytes still to come */
	struct evbuffer *out;
	struct lb_req *owner;
	int close_after;
	int linger;                /* after the answer, linger before closing */
	int eof;                   /* the client closed its side */
	int trusted;               /* the peer is a trusted proxy */
	int fresh;                 /* no request came yet */
	uint64_t since_ms;         /* when the current phase began: the
				    * accept, the end of the last response
				    * or the first byte of this head */
	uint64_t progress_ms;      /* the last body byte read or response
				    * byte written */
	size_t lingered;
	size_t flush_slot;         /* 1 + index in the worker's queue; 0: none */
	TAILQ_ENTRY(lb_conn) link;
	char peer[64];
};

static void conn_process(struct lb_conn *c);

/* Milliseconds on a monotonic clock; the coarse one is enough for
 * deadlines of seconds and costs no system call. */
static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
lb_client_limits_defaults(struct lb_client_limits *l)
{
	if (l->max_request_line == 0)
		l->max_request_line = 8 * 1024;
	if (l->max_header_bytes == 0)
		l->max_header_bytes = 64 * 1024;
	if (l->max_headers == 0)
		l->max_headers = 100;
	if (l->header_timeout_ms == 0)
		l->header_timeout_ms = 10000;
	if (l->body_timeout_ms == 0)
		l->body_timeout_ms = 30000;
	if (l->idle_timeout_ms == 0)
		l->idle_timeout_ms = 60000;
	if (l->send_timeout_ms == 0)
		l->send_timeout_ms = 60000;
	if (l->max_conns == 0)
		l->max_conns = 10000;
	return l->max_headers > LB_H1_REQ_FIELDS_MAX ? -EINVAL : 0;
}

/* ---- output ---- */

static void
conn_queue(struct lb_conn *c)
{
	struct lb_worker *w = c->w;

	if (c->flush_slot != 0)
		return;
	if (w->nconnq == w->connqcap) {
		size_t cap = w->connqcap ? w->connqcap * 2 : 64;
		struct lb_conn **q = realloc(w->connq, cap * sizeof(*q));

		if (q == NULL) {
			/* written when the socket says it is writable */
			if (!c->wev_on && event_add(&c->wev, NULL) == 0)
				c->wev_on = 1;
			return;
		}
		w->connq = q;
		w->connqcap = cap;
	}
	w->connq[w->nconnq++] = c;
	c->flush_slot = w->nconnq;
}

static void
conn_free(struct lb_conn *c)
{
	struct lb_worker *w = c->w;

	if (c->flush_slot != 0)
		w->connq[c->flush_slot - 1] = NULL;
	event_del(&c->rev);
	event_del(&c->wev);
	if (c->fd >= 0)
		close(c->fd);
	if (c->head != NULL) {
		c->head->next = w->free_heads;
		w->free_heads = c->head;
	}
	TAILQ_REMOVE(&w->conns, c, link);
	w->nconns--;
	if (w->accept_full && w->nconns < w->live.client.max_conns &&
	    w->listen_fd >= 0) {
		/* below the cap again: take what waits in the backlog */
		w->accept_full = 0;
		event_add(w->accept_ev, NULL);
	}
	if (w->draining)
		lb_worker_conn_closed(w);
	free(c->in);
	if (c->body != NULL)
		evbuffer_free(c->body);
	if (c->raw != NULL)
		evbuffer_free(c->raw);
	if (c->out != NULL)
		evbuffer_free(c->out);
	free(c);
}

/* The client is gone while the proxy still works on its request. */
static void
conn_gone(struct lb_conn *c)
{
	struct lb_req *rq = c->owner;

	c->owner = NULL;
	if (rq != NULL)
		lb_proxy_client_gone(rq);
	conn_free(c);
}

static void
linger_begin(struct lb_conn *c)
{
	c->state = C_LINGER;
	c->since_ms = now_ms();
	shutdown(c->fd, SHUT_WR);
	if (c->rpaused && event_add(&c->rev, NULL) == 0)
		c->rpaused = 0;
}

/* The response is written: on to the next request, or close. */
static void
conn_written(struct lb_conn *c)
{
	struct lb_worker *w = c->w;
	struct lb_req *rq = c->owner;

	c->owner = NULL;
	if (rq != NULL)
		lb_proxy_client_written(rq);
	if (c->close_after || c->eof) {
		/* unread bytes from the client would turn the close into
		 * a reset that may destroy the answer in flight */
		if ((c->linger || c->inlen > c->head_len) && !c->eof)
			linger_begin(c);
		else
			conn_free(c);
		return;
	}
	if (c->head != NULL) {
		c->head->next = w->free_heads;
		w->free_heads = c->head;
		c->head = NULL;
	}
	c->inlen -= c->head_len;
	if (c->inlen > 0)
		memmove(c->in, c->in + c->head_len, c->inlen);
	c->head_len = 0;
	evbuffer_drain(c->body, evbuffer_get_length(c->body));
	c->state = C_HEAD;
	/* idle from now; a pipelined head already here is timed from now */
	c->since_ms = now_ms();
	if (c->rpaused && event_add(&c->rev, NULL) == 0)
		c->rpaused = 0;
	conn_process(c);
}

/* Write as much as the socket takes; 1 when the output is empty, 0 when
 * the socket is full, -1 when the connection is gone (freed). */
static int
conn_send(struct lb_conn *c)
{
	while (evbuffer_get_length(c->out) > 0) {
		ssize_t n = lb_send_evbuffer(c->fd, c->out);

		if (n > 0) {
			c->progress_ms = now_ms();
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (!c->wev_on && event_add(&c->wev, NULL) == 0)
				c->wev_on = 1;
			return 0;
		}
		conn_gone(c);
		return -1;
	}
	if (c->wev_on) {
		event_del(&c->wev);
		c->wev_on = 0;
	}
	return 1;
}

/* The output went out: tell whoever waits for that. */
static void
conn_drained(struct lb_conn *c)
{
	if (c->state == C_FINAL)
		conn_written(c);
	else if (c->state == C_BUSY && c->owner != NULL)
		lb_proxy_client_drained(c->owner);
}

void
lb_conn_flush(struct lb_worker *w)
{
	size_t i;

	lb_pool_flush(w->pool);
	/* a written response may let the next pipelined one be answered
	 * and queued: nconnq can grow while this runs */
	for (i = 0; i < w->nconnq; i++) {
		struct lb_conn *c = w->connq[i];

		if (c == NULL)
			continue;
		w->connq[i] = NULL;
		c->flush_slot = 0;
		if (conn_send(c) == 1)
			conn_drained(c);
	}
	w->nconnq = 0;
	/* what the pipelined answers sent upstream */
	lb_pool_flush(w->pool);
}

static void
conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lb_conn *c = arg;

	(void)fd;
	(void)what;
	if (conn_send(c) == 1)
		conn_drained(c);
}

/* Count a refused request and give it an access log line; h is its head
 * when that parsed, else NULL. */
static void
refused_account(struct lb_conn *c, const struct lb_h1_req *h, int status,
		uint64_t bytes)
{
	struct lb_worker *w = c->w;
	struct lb_access_rec a;

	lb_worker_count_status(w, status);
	if (w->alog.log == NULL)
		return;
	memset(&a, 0, sizeof(a));
	a.remote_addr = c->peer;
	a.status = status;
	a.bytes = bytes;
	a.http_major = 1;
	a.http_minor = 1;
	if (h != NULL) {
		a.method = h->method;
		a.uri = h->target;
		a.http_minor = h->minor;
		a.host = h->host;
	}
	event_base_gettimeofday_cached(w->base, &a.start);
	lb_worker_access(w, &a);
}

/* Answer a request the proxy never saw (a bad head, a body too large)
 * and close after it; the body says why ("Bad Request: no Host"). h is
 * the request's head when it parsed, else NULL. */
static void
conn_fail(struct lb_conn *c, const struct lb_h1_req *h, int status,
	  const char *why)
{
	struct lb_worker *w = c->w;
	struct lb_resp_out o;
	const char *reason = lb_headers_reason(status);
	size_t rlen = strlen(reason), wlen = why != NULL ? strlen(why) : 0;

	LB_LOG(&w->ws->o.log, LB_LOG_DEBUG,
	       "event=client_refused worker=%u peer=%s status=%d why=\"%s\"",
	       w->id, c->peer, status, why != NULL ? why : "");

	memset(&o, 0, sizeof(o));
	o.status = status;
	o.length = (int64_t)(rlen + (wlen > 0 ? wlen + 2 : 0) + 1);
	o.conn = LB_CONN_CLOSE;
	lb_buf_reset(&w->tmp);
	lb_headers_response_start(&w->tmp, NULL, &o);
	lb_buf_adds(&w->tmp, "Content-Type: text/plain; charset=utf-8\r\n");
	lb_headers_response_end(&w->tmp, &o);
	lb_buf_add(&w->tmp, reason, rlen);
	if (wlen > 0) {
		lb_buf_add(&w->tmp, ": ", 2);
		lb_buf_add(&w->tmp, why, wlen);
	}
	lb_buf_add(&w->tmp, "\n", 1);
	if (w->tmp.oom) {
		conn_free(c);
		return;
	}
	evbuffer_add(c->out, w->tmp.p, w->tmp.len);
	refused_account(c, h, status, (uint64_t)o.length);
	/* the client may still be sending what we refused */
	c->state = C_FINAL;
	c->close_after = 1;
	c->linger = 1;
	conn_queue(c);
}

/* ---- for lb_proxy.c ---- */

const char *
lb_conn_peer(const struct lb_conn *c)
{
	return c->peer;
}

int
lb_conn_trusted(const struct lb_conn *c)
{
	return c->trusted;
}

void
lb_conn_set_owner(struct lb_conn *c, struct lb_req *rq)
{
	c->owner = rq;
}

void
lb_conn_write(struct lb_conn *c, struct evbuffer *buf)
{
	evbuffer_add_buffer(c->out, buf);
	if (evbuffer_get_length(c->out) > 0)
		conn_queue(c);
}

size_t
lb_conn_pending(const struct lb_conn *c)
{
	return evbuffer_get_length(c->out);
}

void
lb_conn_end(struct lb_conn *c, int close)
{
	c->state = C_FINAL;
	c->close_after = close;
	/* also with nothing to write, the end comes through the flush */
	conn_queue(c);
}

void
lb_conn_abort(struct lb_conn *c)
{
	c->owner = NULL;
	conn_free(c);
}

/* ---- input ---- */

static void
dispatch(struct lb_conn *c)
{
	c->state = C_BUSY;
	c->fresh = 0;
	lb_proxy_request(c->w, c, &c->head->h, c->body);
}

/* Take the body bytes that are in the input buffer after the head. 1:
 * the body is complete, 0: more to come, -1: the connection failed. */
static int
take_body(struct lb_conn *c)
{
	struct lb_worker *w = c->w;
	size_t avail = c->inlen - c->head_len;
	uint64_t max = w->live.max_body;
	int rc;

	if (!c->head->h.chunked) {
		size_t n = avail < c->body_left ? avail : (size_t)c->body_left;

		if (n > 0) {
			evbuffer_add(c->body, c->in + c->head_len, n);
			c->body_left -= n;
			c->inlen -= n;
			if (c->inlen > c->head_len)
				memmove(c->in + c->head_len,
					c->in + c->head_len + n,
					c->inlen - c->head_len);
		}
		return c->body_left == 0;
	}
	if (avail > 0) {
		evbuffer_add(c->raw, c->in + c->head_len, avail);
		c->inlen = c->head_len;
	}
	rc = lb_h1_chunked_decode(&c->chunk, c->raw, c->body);
	if (rc < 0) {
		conn_fail(c, &c->head->h, 400, "bad chunked framing");
		return -1;
	}
	if (max > 0 && evbuffer_get_length(c->body) > max) {
		conn_fail(c, &c->head->h, 413, TOO_BIG);
		return -1;
	}
	if (rc == 0)
		return 0;
	/* what follows the body is the next request: back where it is
	 * looked for (it fits: it came in with the last read) */
	avail = evbuffer_get_length(c->raw);
	if (avail > c->incap - c->head_len) {
		conn_fail(c, &c->head->h, 400,
			  "too much sent after a chunked body");
		return -1;
	}
	if (avail > 0) {
		evbuffer_remove(c->raw, c->in + c->head_len, avail);
		c->inlen = c->head_len + avail;
	}
	return 1;
}

/* A parsed head: how its body comes. 1: dispatch now, 0: wait for the
 * body, -1: failed. */
static int
head_parsed(struct lb_conn *c)
{
	const struct lb_h1_req *h = &c->head->h;
	uint64_t max = c->w->live.max_body;

	if (h->chunked) {
		memset(&c->chunk, 0, sizeof(c->chunk));
		c->chunk.strict = 1;
		evbuffer_drain(c->raw, evbuffer_get_length(c->raw));
	} else if (h->content_length > 0) {
		if (max > 0 && (uint64_t)h->content_length > max) {
			conn_fail(c, &c->head->h, 413, TOO_BIG);
			return -1;
		}
		c->body_left = (uint64_t)h->content_length;
	} else {
		return 1;
	}
	c->state = C_BODY;
	c->progress_ms = now_ms();
	if (h->expect_continue && h->minor >= 1 && c->inlen == c->head_len) {
		evbuffer_add(c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
		conn_queue(c);
	}
	return 0;
}

/* Act on what is in the input buffer. */
static void
conn_process(struct lb_conn *c)
{
	struct lb_worker *w = c->w;

	for (;;) {
		long end;
		int rc;

		switch (c->state) {
		case C_HEAD:
			/* RFC 9112 2.2: empty lines before a request line */
			while (c->inlen >= 2 && c->in[0] == '\r' &&
			       c->in[1] == '\n') {
				c->inlen -= 2;
				memmove(c->in, c->in + 2, c->inlen);
			}
			if (c->inlen == 0)
				return;
			end = lb_h1_req_head_end(c->in, c->inlen,
						 w->live.client.max_request_line,
						 w->live.client.max_header_bytes);
			if (end == 0)
				return;
			if (end < 0) {
				conn_fail(c, NULL, lb_h1_req_status((int)end),
					  end == -ENAMETOOLONG ?
					  "request line longer than proxy.maxrequestline" :
					  end == -E2BIG ?
					  "request head larger than proxy.maxheaderbytes" :
					  "line not ended by CRLF");
				return;
			}
			if (c->head == NULL) {
				c->head = w->free_heads;
				if (c->head != NULL)
					w->free_heads = c->head->next;
				else
					c->head = malloc(sizeof(*c->head));
				if (c->head == NULL) {
					conn_fail(c, NULL, 503,
						  "out of memory");
					return;
				}
			}
			c->head_len = (size_t)end;
			rc = lb_h1_parse_request(c->in, (size_t)end,
						 &c->head->h);
			if (rc < 0) {
				conn_fail(c, NULL, lb_h1_req_status(rc),
					  c->head->h.why);
				return;
			}
			if (c->head->h.nfields > w->live.client.max_headers) {
				conn_fail(c, &c->head->h, 431,
					  "more than proxy.maxheaders fields");
				return;
			}
			rc = head_parsed(c);
			if (rc < 0)
				return;
			if (rc == 1) {
				dispatch(c);
				return;
			}
			break;
		case C_BODY:
			rc = take_body(c);
			if (rc == 1)
				dispatch(c);
			return;
		default:
			return;
		}
	}
}

/* Room for a read; 0 when there is none now (reading pauses). */
static size_t
in_room(struct lb_conn *c)
{
	size_t cap, max;
	char *p;

	if (c->incap > c->inlen)
		return c->incap - c->inlen;
	/* only while no head points into the buffer may it move; one byte
	 * past the head limit tells a head too big from one just fitting */
	max = (size_t)c->w->live.client.max_header_bytes + 1;
	if (c->state != C_HEAD || c->incap >= max)
		return 0;
	cap = c->incap * 2 < max ? c->incap * 2 : max;
	p = realloc(c->in, cap);
	if (p == NULL)
		return 0;
	c->in = p;
	c->incap = cap;
	return cap - c->inlen;
}

/* A Content-Length body with nothing else pending: read it straight
 * into the body buffer. */
static ssize_t
read_body(struct lb_conn *c)
{
	struct evbuffer_iovec v;
	size_t want = c->body_left < BODY_READ ? (size_t)c->body_left :
						  BODY_READ;
	ssize_t n;

	if (evbuffer_reserve_space(c->body, (ev_ssize_t)want, &v, 1) < 1) {
		errno = ENOMEM;
		return -1;
	}
	if (v.iov_len > want)
		v.iov_len = want;
	n = recv(c->fd, v.iov_base, v.iov_len, 0);
	v.iov_len = n > 0 ? (size_t)n : 0;
	evbuffer_commit_space(c->body, &v, 1);
	if (n > 0) {
		c->progress_ms = now_ms();
		c->body_left -= (uint64_t)n;
		if (c->body_left == 0)
			dispatch(c);
	}
	return n;
}

static void
conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lb_conn *c = arg;
	struct lb_worker *w = c->w;
	ssize_t n;
	size_t room;

	(void)what;
	if (c->state == C_LINGER) {
		n = recv(fd, w->discard, DISCARD_SIZE, 0);
		if (n > 0) {
			c->lingered += (size_t)n;
			if (c->lingered < LINGER_BYTES)
				return;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			return;
		}
		conn_free(c);
		return;
	}
	if (c->state == C_BODY && !c->head->h.chunked &&
	    c->inlen == c->head_len) {
		n = read_body(c);
		if (n > 0)
			return;
	} else {
		room = in_room(c);
		if (room == 0) {
			/* full while a request is worked on: the rest waits
			 * (and a client leaving is noticed at the next write) */
			event_del(&c->rev);
			c->rpaused = 1;
			return;
		}
		n = recv(fd, c->in + c->inlen, room, 0);
		if (n > 0) {
			uint64_t now = now_ms();

			/* the head deadline runs from its first byte (on a
			 * new connection, from the accept) */
			if (c->state == C_HEAD && c->inlen == 0 && !c->fresh)
				c->since_ms = now;
			c->progress_ms = now;
			c->inlen += (size_t)n;
			conn_process(c);
			return;
		}
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == 0 && c->state == C_FINAL) {
		/* a client that shut its side after the request still gets
		 * the answer; the connection closes after it */
		c->eof = 1;
		event_del(&c->rev);
		c->rpaused = 1;
		return;
	}
	conn_gone(c);
}

/* ---- accepting ---- */

static void
peer_text(const struct sockaddr_storage *ss, char *out, size_t size)
{
	const char *s = NULL;

	if (ss->ss_family == AF_INET)
		s = inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
			      out, (socklen_t)size);
	else if (ss->ss_family == AF_INET6)
		s = inet_ntop(AF_INET6,
			      &((const struct sockaddr_in6 *)ss)->sin6_addr,
			      out, (socklen_t)size);
	if (s == NULL) {
		out[0] = '\0';
		return;
	}
	/* IPv4-mapped IPv6 (a dual-stack listener) shown as IPv4 */
	if (strncmp(out, "::ffff:", 7) == 0 && strchr(out + 7, '.') != NULL)
		memmove(out, out + 7, strlen(out + 7) + 1);
}

/* Whether the peer is in proxy.header.trustedcidrs. */
static int
peer_trusted(const struct lb_workers *ws, const struct sockaddr_storage *ss)
{
	const uint8_t *addr;
	int family;
	size_t i;

	if (ws->ntrusted == 0)
		return 0;
	if (ss->ss_family == AF_INET) {
		family = 4;
		addr = (const uint8_t *)
			&((const struct sockaddr_in *)ss)->sin_addr;
	} else if (ss->ss_family == AF_INET6) {
		family = 6;
		addr = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
	} else {
		return 0;
	}
	for (i = 0; i < ws->ntrusted; i++) {
		if (rt_cidr_contains(&ws->trusted[i], family, addr))
			return 1;
	}
	return 0;
}

static struct lb_conn *
conn_new(struct lb_worker *w, int fd, const struct sockaddr_storage *ss)
{
	struct lb_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->w = w;
	c->fd = fd;
	c->in = malloc(IN_INITIAL);
	c->incap = IN_INITIAL;
	c->body = evbuffer_new();
	c->raw = evbuffer_new();
	c->out = evbuffer_new();
	TAILQ_INSERT_TAIL(&w->conns, c, link);
	w->nconns++;
	c->fresh = 1;
	c->since_ms = c->progress_ms = now_ms();
	event_assign(&c->rev, w->base, fd, EV_READ | EV_PERSIST,
		     conn_read_cb, c);
	event_assign(&c->wev, w->base, fd, EV_WRITE | EV_PERSIST,
		     conn_write_cb, c);
	if (c->in == NULL || c->body == NULL || c->raw == NULL ||
	    c->out == NULL || event_add(&c->rev, NULL) < 0) {
		c->fd = -1;   /* the caller closes it */
		conn_free(c);
		return NULL;
	}
	peer_text(ss, c->peer, sizeof(c->peer));
	c->trusted = peer_trusted(w->ws, ss);
	return c;
}

static void
accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lb_worker *w = arg;
	int i;

	(void)what;
	for (i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int cfd;

		if (w->nconns >= w->live.client.max_conns) {
			/* full: the rest wait in the listen backlog (the
			 * kernel's memory, not ours) until one closes */
			if (!w->accept_full) {
				LB_LOG(&w->ws->o.log, LB_LOG_WARN,
				       "event=client_conns_full worker=%u "
				       "conns=%u", w->id, w->nconns);
				w->accept_full = 1;
				event_del(w->accept_ev);
			}
			return;
		}
		cfd = accept4(fd, (struct sockaddr *)&ss, &len,
			      SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* out of descriptors: let some close before
				 * trying again, instead of spinning */
				struct timeval tv = {0, ACCEPT_RETRY_MS * 1000};

				LB_LOG(&w->ws->o.log, LB_LOG_WARN,
				       "event=accept_failed worker=%u error=\"%s\"",
				       w->id, strerror(errno));
				event_del(w->accept_ev);
				evtimer_add(w->accept_retry_ev, &tv);
			}
			return;
		}
		if (conn_new(w, cfd, &ss) == NULL)
			close(cfd);
	}
}

static void
accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lb_worker *w = arg;

	(void)fd;
	(void)what;
	if (w->listen_fd >= 0)
		event_add(w->accept_ev, NULL);
}

/*
 * What the deadlines say about c at now: 0 nothing, 1 close silently,
 * 408 answer that and close.
 */
static int
conn_expired(const struct lb_conn *c, const struct lb_client_limits *l,
	     uint64_t now)
{
	switch (c->state) {
	case C_HEAD:
		if (c->inlen > 0)
			return now - c->since_ms >= l->header_timeout_ms ? 408 : 0;
		/* a new connection that never said anything is closed
		 * without an answer (browsers open such spares), as is a
		 * kept-alive one that idled */
		if (c->fresh)
			return now - c->since_ms >= l->header_timeout_ms;
		return now - c->since_ms >= l->idle_timeout_ms;
	case C_BODY:
		return now - c->progress_ms >= l->body_timeout_ms ? 408 : 0;
	case C_BUSY:
	case C_FINAL:
		/* a response the client does not take */
		return lb_conn_pending(c) > 0 &&
		       now - c->progress_ms >= l->send_timeout_ms;
	case C_LINGER:
		return now - c->since_ms >= LINGER_MS;
	default:
		return 0;
	}
}

/* Every SWEEP_MS: act on the deadlines that passed. */
static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lb_worker *w = arg;
	struct lb_conn *c, *next;
	uint64_t now = now_ms();

	(void)fd;
	(void)what;
	for (c = TAILQ_FIRST(&w->conns); c != NULL; c = next) {
		int rc;

		next = TAILQ_NEXT(c, link);
		if (c->state == C_BUSY || c->state == C_FINAL) {
			/* the clock of a stalled write starts when output
			 * waits, not when the last write happened */
			if (lb_conn_pending(c) == 0)
				c->progress_ms = now;
		}
		rc = conn_expired(c, &w->live.client, now);
		if (rc == 0)
			continue;
		if (rc == 408) {
			LB_LOG(&w->ws->o.log, LB_LOG_DEBUG,
			       "event=client_timeout worker=%u peer=%s "
			       "phase=%s", w->id, c->peer,
			       c->state == C_HEAD ? "head" : "body");
			conn_fail(c, c->state == C_BODY ? &c->head->h : NULL,
				  408, c->state == C_HEAD ?
				  "request head not complete within proxy.headertimeout" :
				  "request body stalled past proxy.bodytimeout");
		} else if (c->state == C_BUSY || c->state == C_FINAL) {
			/* a reset, not a close: closed gracefully, the
			 * socket would keep trickling its full send buffer
			 * to the slow reader from kernel memory */
			struct linger lg = {1, 0};

			setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg,
				   sizeof(lg));
			conn_gone(c);
		} else {
			conn_free(c);
		}
	}
}

int
lb_conn_listen(struct lb_worker *w, int fd)
{
	struct timeval tv = {SWEEP_MS / 1000, (SWEEP_MS % 1000) * 1000};

	w->listen_fd = fd;
	w->discard = malloc(DISCARD_SIZE);
	w->accept_ev = event_new(w->base, fd, EV_READ | EV_PERSIST, accept_cb,
				 w);
	w->accept_retry_ev = evtimer_new(w->base, accept_retry_cb, w);
	w->conn_sweep_ev = event_new(w->base, -1, EV_PERSIST, sweep_cb, w);
	if (w->discard == NULL || w->accept_ev == NULL ||
	    w->accept_retry_ev == NULL || w->conn_sweep_ev == NULL ||
	    event_add(w->accept_ev, NULL) < 0 ||
	    event_add(w->conn_sweep_ev, &tv) < 0)
		return -ENOMEM;
	return 0;
}

void
lb_conn_unlisten(struct lb_worker *w)
{
	if (w->accept_ev != NULL)
		event_del(w->accept_ev);
	if (w->accept_retry_ev != NULL)
		event_del(w->accept_retry_ev);
	if (w->listen_fd >= 0)
		close(w->listen_fd);
	w->listen_fd = -1;
}

void
lb_conn_live_changed(struct lb_worker *w)
{
	if (w->accept_full && w->nconns < w->live.client.max_conns &&
	    w->listen_fd >= 0) {
		w->accept_full = 0;
		event_add(w->accept_ev, NULL);
	}
}

void
lb_conn_close_all(struct lb_worker *w)
{
	struct lb_conn *c;

	while ((c = TAILQ_FIRST(&w->conns)) != NULL) {
		c->owner = NULL;
		conn_free(c);
	}
}

void
lb_conn_release(struct lb_worker *w)
{
	struct lb_conn_head *h;

	lb_conn_unlisten(w);
	lb_conn_close_all(w);
	while ((h = w->free_heads) != NULL) {
		w->free_heads = h->next;
		free(h);
	}
	if (w->accept_ev != NULL)
		event_free(w->accept_ev);
	if (w->accept_retry_ev != NULL)
		event_free(w->accept_retry_ev);
	if (w->conn_sweep_ev != NULL)
		event_free(w->conn_sweep_ev);
	w->accept_ev = w->accept_retry_ev = w->conn_sweep_ev = NULL;
	free(w->connq);
	w->connq = NULL;
	free(w->discard);
	w->discard = NULL;
}
