/*
 * lb_proxy.c - one request through the proxy, on its worker's thread.
 *
 * evhttp parses the client's request and owns the client connection; the
 * proxy writes its answers itself. It puts the bytes of the response
 * (head included) into the connection's output buffer and ends with
 * evhttp_send_reply_end(), which hands the connection back to evhttp for
 * the next request once the bytes are out; for streamed bodies it uses
 * evhttp_send_reply_chunk_with_cb() only to be told when the output
 * drained. Writing the head and body itself avoids evhttp's per-field
 * allocations and formatting.
 *
 * Output is not written from the callbacks: the connections that have
 * some are queued and written in one burst at the end of the loop turn
 * (lb_proxy_flush), as far as the sockets take it, and evhttp is told
 * the way its bufferevent would tell it. That saves the epoll_ctl pair
 * and the loop turn of a write that waits for writability, and a peer
 * gets everything of a turn with one wake-up.
 *
 * While a request is being worked on, the client connection keeps reading
 * (instead of evhttp's disable-then-enable) with no read callback and a
 * read limit, so a client that goes away is noticed at once and its
 * upstream exchange is dropped.
 *
 * States of a request: routing (synchronous), connecting / resolving,
 * sent (waiting for the response head, under the response-header
 * timeout), body (streaming), done (the last bytes are being written).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/http_struct.h>   /* the request's HTTP version */
#include <event2/keyvalq_struct.h>

#include "lb/lb_headers.h"
#include "lb/lb_http1.h"
#include "lb/lb_rewrite.h"
#include "lb/lb_worker.h"

#define MAX_TRIES 3
#define RESP_HEAD_MAX (64 * 1024)
/* Above this much unsent output, stop reading from the upstream. */
#define CLIENT_HIGH_WM (256 * 1024)
/* What a client may send ahead (a pipelined request) while its current
 * request is worked on. */
#define CLIENT_READ_WM (64 * 1024)

enum rq_state {
	RQ_ROUTE = 0,
	RQ_CONNECT,
	RQ_RESOLVE,
	RQ_SENT,
	RQ_BODY,
	RQ_DONE              /* the last bytes are with evhttp, being written */
};

enum body_mode {
	BODY_NONE = 0,
	BODY_LENGTH,
	BODY_CHUNKED,
	BODY_CLOSE
};

struct lb_req {
	TAILQ_ENTRY(lb_req) link;
	struct lb_req *next_free;
	struct lb_worker *w;
	struct evhttp_request *req;        /* NULL once handed back */
	struct evhttp_connection *evcon;
	struct bufferevent *bev;
	struct lb_tabref *tab;
	const struct rt_route *route;
	const struct rt_target *target;
	struct lb_bucket *bucket;
	struct lb_up *up;
	struct lb_pool_waiter waiter;
	struct lb_buf head;                /* upstream request head */
	struct lb_buf path;                /* the normalised request path */
	const char *query;                 /* the request's, in req's memory */
	size_t query_len;
	const char *host;                  /* the client's Host (req memory) */
	const char *method;
	int state;
	size_t tried[MAX_TRIES];           /* target indexes */
	unsigned ntried;
	int ignore_down;
	int fresh;
	int resent;
	int got_bytes;
	int mode;
	int64_t left;
	struct lb_h1_chunked chunk;
	int client_chunked;
	int up_close;
	int paused;
	int is_head;
	int conn;
	int status;
	int accounted;
	uint64_t bytes_out;
	struct timeval start;
	struct timespec t0;
	char client_ip[64];
};

static void attempt(struct lb_req *rq);
static void dispatch(struct lb_req *rq);

/* ---- request objects ---- */

static struct lb_req *
rq_get(struct lb_worker *w)
{
	struct lb_req *rq = w->free_reqs;
	struct lb_buf head, path;

	if (rq != NULL) {
		w->free_reqs = rq->next_free;
		head = rq->head;
		path = rq->path;
	} else {
		rq = malloc(sizeof(*rq));
		if (rq == NULL)
			return NULL;
		memset(&head, 0, sizeof(head));
		memset(&path, 0, sizeof(path));
	}
	memset(rq, 0, sizeof(*rq));
	rq->head = head;
	rq->path = path;
	lb_buf_reset(&rq->head);
	lb_buf_reset(&rq->path);
	rq->w = w;
	TAILQ_INSERT_TAIL(&w->active, rq, link);
	w->nactive++;
	LB_COUNT(w, active, 1);
	return rq;
}

static void
rq_finish(struct lb_req *rq)
{
	struct lb_worker *w = rq->w;

	lb_pool_cancel_wait(w->pool, &rq->waiter);
	if (rq->up != NULL) {
		lb_pool_release(rq->up, 0);
		rq->up = NULL;
	}
	TAILQ_REMOVE(&w->active, rq, link);
	w->nactive--;
	LB_COUNT(w, active, -1);
	if (rq->tab != NULL)
		lb_worker_unpin(w, rq->tab);
	rq->tab = NULL;
	rq->next_free = w->free_reqs;
	w->free_reqs = rq;
	lb_worker_request_done(w);
}

void
lb_proxy_free_cache(struct lb_worker *w)
{
	struct lb_req *rq;

	while ((rq = w->free_reqs) != NULL) {
		w->free_reqs = rq->next_free;
		lb_buf_free(&rq->head);
		lb_buf_free(&rq->path);
		free(rq);
	}
}

/* ---- the client side ---- */

static uint64_t
elapsed_us(const struct lb_req *rq)
{
	struct timespec now;
	int64_t us;

	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (int64_t)(now.tv_sec - rq->t0.tv_sec) * 1000000 +
	     (now.tv_nsec - rq->t0.tv_nsec) / 1000;
	return us > 0 ? (uint64_t)us : 0;
}

/* Counters and the access log line; rq->req must still be there. */
static void
account(struct lb_req *rq)
{
	struct lb_worker *w = rq->w;
	struct lb_access_rec a;
	struct evkeyvalq *in;

	if (rq->accounted)
		return;
	rq->accounted = 1;
	LB_COUNT(w, requests, 1);
	if (rq->status >= 200 && rq->status < 300)
		LB_COUNT(w, s2xx, 1);
	else if (rq->status >= 300 && rq->status < 400)
		LB_COUNT(w, s3xx, 1);
	else if (rq->status >= 400 && rq->status < 500)
		LB_COUNT(w, s4xx, 1);
	else if (rq->status >= 500)
		LB_COUNT(w, s5xx, 1);
	if (w->alog.log == NULL || rq->req == NULL)
		return;
	in = evhttp_request_get_input_headers(rq->req);
	memset(&a, 0, sizeof(a));
	a.remote_addr = rq->client_ip;
	a.method = rq->method;
	a.uri = evhttp_request_get_uri(rq->req);
	a.http_major = rq->req->major;
	a.http_minor = rq->req->minor;
	a.status = rq->status;
	a.bytes = rq->bytes_out;
	a.start = rq->start;
	a.duration_us = elapsed_us(rq);
	a.host = rq->host;
	a.referer = evhttp_find_header(in, "Referer");
	a.user_agent = evhttp_find_header(in, "User-Agent");
	if (rq->target != NULL) {
		a.upstream = rq->target->addr;
		a.service = rq->target->service;
	}
	lb_worker_access(rq->w, &a);
}

/* Queue a client connection whose output is to be written at the end of
 * this loop turn (lb_proxy_flush). The reference keeps the bufferevent
 * (not the connection) alive until then. */
static void
client_queue(struct lb_worker *w, struct bufferevent *bev)
{
	if (w->nclientq == w->clientqcap) {
		size_t cap = w->clientqcap ? w->clientqcap * 2 : 64;
		struct bufferevent **q = realloc(w->clientq, cap * sizeof(*q));

		if (q == NULL) {
			/* let the bufferevent write it on its own */
			bufferevent_enable(bev, EV_WRITE);
			return;
		}
		w->clientq = q;
		w->clientqcap = cap;
	}
	bufferevent_incref(bev);
	w->clientq[w->nclientq++] = bev;
}

void
lb_proxy_flush(struct lb_worker *w)
{
	size_t i;

	lb_pool_flush(w->pool);
	for (i = 0; i < w->nclientq; i++) {
		struct bufferevent *bev = w->clientq[i];
		struct evbuffer *out = bufferevent_get_output(bev);
		bufferevent_data_cb rcb, wcb;
		bufferevent_event_cb ecb;
		void *arg;
		int fd;

		bufferevent_getcb(bev, &rcb, &wcb, &ecb, &arg);
		fd = bufferevent_getfd(bev);
		if (wcb == NULL || fd < 0 || evbuffer_get_length(out) == 0) {
			/* evhttp closed the connection meanwhile, or the
			 * output went already (queued twice this turn, or
			 * written by the bufferevent): nothing to announce */
			bufferevent_decref(bev);
			continue;
		}
		/* a socket bufferevent keeps the front of its output frozen
		 * except while it writes itself; do as it does */
		evbuffer_unfreeze(out, 1);
		while (evbuffer_get_length(out) > 0 &&
		       lb_send_evbuffer(fd, out) > 0)
			;
		evbuffer_freeze(out, 1);
		if (evbuffer_get_length(out) == 0) {
			/* done: tell evhttp as if the bufferevent had
			 * written it (the next request, or the drain
			 * callback of a streamed one) */
			bufferevent_disable(bev, EV_WRITE);
			bufferevent_trigger(bev, EV_WRITE, 0);
		} else {
			/* the socket is full: the rest when it drains, and
			 * errors are evhttp's to meet */
			bufferevent_enable(bev, EV_WRITE);
		}
		bufferevent_decref(bev);
	}
	w->nclientq = 0;
}

/* evhttp wrote the last byte of rq's response. */
static void
client_done(struct evhttp_request *req, void *arg)
{
	struct lb_req *rq = arg;

	(void)req;
	evhttp_connection_set_closecb(rq->evcon, NULL, NULL);
	rq->req = NULL;
	rq_finish(rq);
}

/* Hand the rest of the response (buf) to evhttp; rq ends when it has
 * been written (so a drain waits for it), or when the client goes. */
static void
client_final(struct lb_req *rq, struct evbuffer *buf)
{
	struct lb_worker *w = rq->w;
	struct evhttp_request *req = rq->req;
	struct bufferevent *bev = rq->bev;
	struct evbuffer *out = bufferevent_get_output(bev);

	if (rq->conn == LB_CONN_CLOSE)
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Connection", "close");
	account(rq);
	bufferevent_setwatermark(bev, EV_READ, 0, 0);
	evbuffer_add_buffer(out, buf);
	rq->state = RQ_DONE;
	evhttp_request_set_on_complete_cb(req, client_done, rq);
	if (evbuffer_get_length(out) > 0)
		client_queue(w, bev);
	/* output empty: evhttp is done at once and reads the next request;
	 * otherwise once lb_proxy_flush (or the bufferevent) wrote it */
	evhttp_send_reply_end(req);
}

static void
client_drained(struct evhttp_connection *evcon, void *arg)
{
	struct lb_req *rq = arg;

	(void)evcon;
	if (rq->paused && rq->up != NULL) {
		rq->paused = 0;
		lb_up_pause(rq->up, 0);
	}
}

/* Send part of a streamed response. */
static void
client_chunk(struct lb_req *rq, struct evbuffer *buf)
{
	struct bufferevent *bev = rq->bev;
	struct evbuffer *out = bufferevent_get_output(bev);

	evhttp_send_reply_chunk_with_cb(rq->req, buf, client_drained, rq);
	client_queue(rq->w, bev);
	if (evbuffer_get_length(out) > CLIENT_HIGH_WM && !rq->paused &&
	    rq->up != NULL) {
		rq->paused = 1;
		lb_up_pause(rq->up, 1);
	}
}

/* A response of our own (errors, no route, redirects). */
static void
respond(struct lb_req *rq, int status, const char *ctype, const char *body,
	size_t len, const char *location)
{
	struct lb_worker *w = rq->w;
	struct lb_resp_out o;

	if (rq->up != NULL) {
		lb_pool_release(rq->up, 0);
		rq->up = NULL;
	}
	memset(&o, 0, sizeof(o));
	o.status = status;
	o.length = (int64_t)len;
	o.conn = rq->conn;
	lb_buf_reset(&w->tmp);
	lb_headers_response_start(&w->tmp, NULL, &o);
	if (ctype != NULL && len > 0) {
		lb_buf_adds(&w->tmp, "Content-Type: ");
		lb_buf_adds(&w->tmp, ctype);
		lb_buf_add(&w->tmp, "\r\n", 2);
	}
	if (location != NULL) {
		lb_buf_adds(&w->tmp, "Location: ");
		lb_buf_adds(&w->tmp, location);
		lb_buf_add(&w->tmp, "\r\n", 2);
	}
	lb_headers_response_end(&w->tmp, &o);
	evbuffer_add(w->scratch, w->tmp.p, w->tmp.len);
	if (!rq->is_head && len > 0)
		evbuffer_add(w->scratch, body, len);
	rq->status = status;
	rq->bytes_out = rq->is_head ? 0 : len;
	client_final(rq, w->scratch);
}

static void
respond_error(struct lb_req *rq, int status, const char *why)
{
	char body[128];
	int n = snprintf(body, sizeof(body), "%s\n", why);

	respond(rq, status, "text/plain; charset=utf-8", body, (size_t)n, NULL);
}

/* Cut the client connection: the response already started, so it can
 * only end short. */
static void
client_abort(struct lb_req *rq)
{
	struct evhttp_connection *evcon = rq->evcon;

	if (rq->up != NULL) {
		lb_pool_release(rq->up, 0);
		rq->up = NULL;
	}
	account(rq);
	evhttp_connection_set_closecb(evcon, NULL, NULL);
	rq->req = NULL;
	rq_finish(rq);
	evhttp_connection_free(evcon);   /* frees the request with it */
}

/* evhttp's close callback: the client went away (or the server is
 * closing every connection) while rq was being worked on. */
static void
client_closed(struct evhttp_connection *evcon, void *arg)
{
	struct lb_req *rq = arg;
	struct evhttp_request *req = rq->req;

	(void)evcon;
	LB_COUNT(rq->w, client_aborts, 1);
	if (rq->state < RQ_BODY)
		rq->status = 499;   /* nginx's "client closed request" */
	account(rq);
	rq->req = NULL;
	rq_finish(rq);
	/* on a client error evhttp detached the unfinished request: it is
	 * ours to free; otherwise evhttp frees it with the connection */
	if (req != NULL && evhttp_request_get_connection(req) == NULL)
		evhttp_request_free(req);
}

unsigned
lb_proxy_cut_all(struct lb_worker *w)
{
	struct lb_req *rq;
	unsigned n = 0;

	while ((rq = TAILQ_FIRST(&w->active)) != NULL) {
		if (rq->state < RQ_BODY)
			rq->status = 503;
		client_abort(rq);
		n++;
	}
	return n;
}

/* ---- upstream side ---- */

/* Bytes of a finished body end the exchange: the connection goes back
 * to the pool when the upstream keeps it open and nothing is left over. */
static void
upstream_done(struct lb_req *rq)
{
	if (rq->up != NULL) {
		lb_pool_release(rq->up, !rq->up_close);
		rq->up = NULL;
	}
}

/* Prefix a chunk-size line and append the CRLF after the data. */
static void
frame_chunk(struct evbuffer *b)
{
	char line[24];
	size_t n = evbuffer_get_length(b);
	int len;

	if (n == 0)
		return;
	len = snprintf(line, sizeof(line), "%zx\r\n", n);
	evbuffer_prepend(b, line, (size_t)len);
	evbuffer_add(b, "\r\n", 2);
}

/* Move the body bytes that arrived to the client; eof: the upstream
 * closed. */
static void
feed(struct lb_req *rq, int eof)
{
	struct lb_worker *w = rq->w;
	struct evbuffer *in = rq->up->in, *body = w->scratch;
	int done = 0;

	switch (rq->mode) {
	case BODY_LENGTH: {
		size_t avail = evbuffer_get_length(in);
		size_t n = (uint64_t)rq->left < avail ? (size_t)rq->left : avail;

		evbuffer_remove_buffer(in, body, n);
		rq->left -= (int64_t)n;
		done = rq->left == 0;
		if (done && evbuffer_get_length(in) > 0)
			rq->up_close = 1;
		break;
	}
	case BODY_CHUNKED: {
		int rc = lb_h1_chunked_decode(&rq->chunk, in, body);

		if (rc < 0) {
			evbuffer_drain(body, evbuffer_get_length(body));
			client_abort(rq);
			return;
		}
		done = rc == 1;
		if (done && evbuffer_get_length(in) > 0)
			rq->up_close = 1;
		break;
	}
	case BODY_CLOSE:
		evbuffer_add_buffer(body, in);
		done = eof;
		break;
	default:
		done = 1;
		break;
	}
	if (!done && eof) {
		/* the upstream ended the body early */
		evbuffer_drain(body, evbuffer_get_length(body));
		client_abort(rq);
		return;
	}
	rq->bytes_out += evbuffer_get_length(body);
	if (rq->client_chunked) {
		frame_chunk(body);
		if (done)
			evbuffer_add(body, "0\r\n\r\n", 5);
	}
	if (done) {
		upstream_done(rq);
		client_final(rq, body);
	} else if (evbuffer_get_length(body) > 0) {
		client_chunk(rq, body);
	}
}

/* The response head r (head_len bytes at the start of up->in) came. */
static void
start_response(struct lb_req *rq, const struct lb_h1_resp *r,
	       size_t head_len)
{
	struct lb_worker *w = rq->w;
	struct evbuffer *in = rq->up->in, *body = w->scratch;
	struct lb_resp_out o;
	int minor = rq->req->minor;
	int no_body = rq->is_head || r->status == 204 || r->status == 304;
	int whole = 0;

	rq->status = r->status;
	rq->up_close = r->close;
	memset(&o, 0, sizeof(o));
	o.status = r->status;
	o.reason = r->reason;
	o.reason_len = r->reason_len;
	o.length = -1;
	lb_buf_reset(&w->tmp);
	lb_headers_response_start(&w->tmp, r, &o);
	evbuffer_drain(in, head_len);   /* r points into it: not used below */

	if (no_body) {
		rq->mode = BODY_NONE;
		/* a HEAD or 304 answer keeps the length of what GET would send */
		if (r->status != 204 && r->content_length >= 0)
			o.length = r->content_length;
		whole = 1;
	} else if (r->chunked) {
		int rc;

		rq->mode = BODY_CHUNKED;
		rc = lb_h1_chunked_decode(&rq->chunk, in, body);
		if (rc < 0) {
			evbuffer_drain(body, evbuffer_get_length(body));
			rq->up_close = 1;
			respond_error(rq, 502, "bad upstream response");
			return;
		}
		if (rc == 1) {
			whole = 1;
			o.length = (int64_t)evbuffer_get_length(body);
		}
	} else if (r->content_length >= 0) {
		rq->mode = BODY_LENGTH;
		rq->left = r->content_length;
		o.length = r->content_length;
		if (evbuffer_get_length(in) >= (uint64_t)rq->left) {
			evbuffer_remove_buffer(in, body, (size_t)rq->left);
			rq->left = 0;
			whole = 1;
		}
	} else {
		rq->mode = BODY_CLOSE;
		rq->up_close = 1;
	}
	if (whole && evbuffer_get_length(in) > 0)
		rq->up_close = 1;   /* bytes beyond the response: do not trust it */

	if (!whole && o.length < 0) {
		/* the length is unknown until the upstream is done */
		if (minor >= 1)
			o.chunked = rq->client_chunked = 1;
		else
			rq->conn = LB_CONN_CLOSE;
	}
	o.conn = rq->conn;
	lb_headers_response_end(&w->tmp, &o);
	if (w->tmp.oom) {
		evbuffer_drain(body, evbuffer_get_length(body));
		respond_error(rq, 502, "out of memory");
		return;
	}
	rq->state = RQ_BODY;
	if (whole) {
		rq->bytes_out = evbuffer_get_length(body);
		evbuffer_prepend(body, w->tmp.p, w->tmp.len);
		upstream_done(rq);
		client_final(rq, body);
		return;
	}
	/* the head goes out now, the body as it comes */
	if (rq->mode == BODY_LENGTH) {
		rq->bytes_out = evbuffer_get_length(in);
		rq->left -= (int64_t)evbuffer_get_length(in);
		evbuffer_add_buffer(body, in);
	} else if (rq->mode == BODY_CLOSE) {
		rq->bytes_out = evbuffer_get_length(in);
		evbuffer_add_buffer(body, in);
	} else {
		rq->bytes_out = evbuffer_get_length(body);
	}
	if (rq->client_chunked)
		frame_chunk(body);
	evbuffer_prepend(body, w->tmp.p, w->tmp.len);
	client_chunk(rq, body);
}

/* Look for the response head in what the upstream sent. */
static void
read_head(struct lb_req *rq)
{
	struct evbuffer *in = rq->up->in;
	struct lb_h1_resp r;

	for (;;) {
		size_t len = evbuffer_get_length(in);
		size_t n = len < RESP_HEAD_MAX ? len : RESP_HEAD_MAX;
		const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
		long end;

		if (n == 0)
			return;
		end = lb_h1_head_end(p, n, RESP_HEAD_MAX);
		if (end == 0 && len < RESP_HEAD_MAX)
			return;   /* more to come */
		if (end <= 0) {
			respond_error(rq, 502, "upstream response head too large");
			return;
		}
		if (lb_h1_parse_response(p, (size_t)end, &r) < 0) {
			respond_error(rq, 502, "bad upstream response");
			return;
		}
		if (r.status >= 100 && r.status < 200) {
			if (r.status == 101) {
				respond_error(rq, 502, "bad upstream response");
				return;
			}
			/* 100 Continue, 103 Early Hints: the real one follows */
			evbuffer_drain(in, (size_t)end);
			continue;
		}
		lb_up_timeout(rq->up, NULL);
		start_response(rq, &r, (size_t)end);
		return;
	}
}

/* Pick another target after a failed connect; NULL when none is left. */
static const struct rt_target *pick(struct lb_req *rq);

static void
connect_failed(struct lb_req *rq, int err)
{
	const struct rt_target *t;

	rq->up = NULL;
	if (rq->ntried < MAX_TRIES && (t = pick(rq)) != NULL) {
		LB_COUNT(rq->w, retries_other, 1);
		rq->target = t;
		rq->fresh = 0;
		rq->resent = 0;
		dispatch(rq);
		return;
	}
	if (err == ETIMEDOUT)
		respond_error(rq, 504, "upstream connect timeout");
	else
		respond_error(rq, 502, "upstream connect error");
}

/* The exchange failed before (or while) the response came. */
static void
upstream_failed(struct lb_req *rq, int err)
{
	int reused;

	(void)err;
	if (rq->state == RQ_BODY) {
		client_abort(rq);
		return;
	}
	reused = rq->up != NULL && rq->up->uses > 0;
	if (rq->up != NULL) {
		lb_pool_release(rq->up, 0);
		rq->up = NULL;
	}
	/* a kept-alive connection the upstream had already closed: the
	 * request never got there, so send it once more on a new one */
	if (reused && !rq->got_bytes && !rq->resent) {
		rq->resent = 1;
		rq->fresh = 1;
		LB_COUNT(rq->w, retries_fresh, 1);
		attempt(rq);
		return;
	}
	respond_error(rq, 502, "upstream error");
}

static void
send_upstream(struct lb_req *rq)
{
	struct lb_up *up = rq->up;
	struct evbuffer *body = evhttp_request_get_input_buffer(rq->req);
	int rc;

	evbuffer_drain(up->in, evbuffer_get_length(up->in));
	evbuffer_add(up->out, rq->head.p, rq->head.len);
	if (evbuffer_get_length(body) > 0) {
		/* a copy: the body must stay for a resend */
		size_t total = evbuffer_get_length(body), done = 0;
		struct evbuffer_iovec v[16];
		struct evbuffer_ptr pos;
		int n, i;

		evbuffer_ptr_set(body, &pos, 0, EVBUFFER_PTR_SET);
		while (done < total) {
			n = evbuffer_peek(body, (ev_ssize_t)(total - done), &pos,
					  v, 16);
			if (n <= 0)
				break;
			for (i = 0; i < n && i < 16; i++) {
				size_t len = v[i].iov_len;

				if (len > total - done)
					len = total - done;
				evbuffer_add(up->out, v[i].iov_base, len);
				done += len;
				evbuffer_ptr_set(body, &pos, len,
						 EVBUFFER_PTR_ADD);
			}
		}
	}
	rq->state = RQ_SENT;
	rq->got_bytes = 0;
	if (rq->w->resp_tv != NULL)
		lb_up_timeout(up, rq->w->resp_tv);
	rc = lb_up_send(up);
	if (rc < 0)
		upstream_failed(rq, -rc);
}

static void
up_event(struct lb_up *up, enum lb_up_event ev, int err, void *arg)
{
	struct lb_req *rq = arg;

	(void)up;
	switch (ev) {
	case LB_UP_CONNECTED:
		send_upstream(rq);
		break;
	case LB_UP_CONNECT_FAILED:
		connect_failed(rq, err);
		break;
	case LB_UP_RETRY:
		attempt(rq);
		break;
	case LB_UP_DATA:
		rq->got_bytes = 1;
		if (rq->state == RQ_SENT)
			read_head(rq);
		else if (rq->state == RQ_BODY)
			feed(rq, 0);
		break;
	case LB_UP_EOF:
		if (rq->state == RQ_BODY)
			feed(rq, 1);
		else
			upstream_failed(rq, EPIPE);
		break;
	case LB_UP_ERROR:
		upstream_failed(rq, err);
		break;
	case LB_UP_TIMEOUT:
		respond_error(rq, 504, "upstream timeout");
		break;
	}
}

static void
attempt(struct lb_req *rq)
{
	struct lb_up *up = NULL;
	int rc = lb_pool_get(rq->w->pool, rq->bucket, rq->fresh, up_event, rq,
			     &rq->waiter, &up);

	switch (rc) {
	case LB_POOL_READY:
		rq->up = up;
		send_upstream(rq);
		break;
	case LB_POOL_CONNECTING:
		rq->up = up;
		rq->state = RQ_CONNECT;
		break;
	case LB_POOL_WAIT:
		rq->state = RQ_RESOLVE;
		break;
	default:
		connect_failed(rq, -rc);
		break;
	}
}

/* ---- routing ---- */

static int
pick_ok(const struct rt_target *t, void *arg)
{
	struct lb_req *rq = arg;
	struct lb_worker *w = rq->w;
	unsigned i;

	for (i = 0; i < rq->ntried; i++) {
		if (rq->tried[i] == t->index)
			return 0;
	}
	if (!rq->ignore_down) {
		struct lb_bucket *b = lb_worker_bucket(w, rq->tab, t);

		if (b != NULL && !lb_bucket_usable(w->pool, b))
			return 0;
	}
	if (w->ws->o.healthy != NULL &&
	    !w->ws->o.healthy(t, w->ws->o.healthy_arg))
		return 0;
	return 1;
}

static const struct rt_target *
pick(struct lb_req *rq)
{
	const struct rt_target *t;

	rq->ignore_down = 0;
	t = rt_pick(rq->w->picker, rq->route, pick_ok, rq);
	if (t == NULL) {
		/* every fit target failed a connect lately: try them anyway
		 * rather than fail without trying */
		rq->ignore_down = 1;
		t = rt_pick(rq->w->picker, rq->route, pick_ok, rq);
	}
	return t;
}

/* Send the request to rq->target: its address rules, redirect, then the
 * rewritten request. */
static void
dispatch(struct lb_req *rq)
{
	struct lb_worker *w = rq->w;
	const struct rt_target *t = rq->target;
	const struct rt_opts *o = &t->opts;
	struct evkeyvalq *in = evhttp_request_get_input_headers(rq->req);
	struct evbuffer *body = evhttp_request_get_input_buffer(rq->req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(rq->req);
	struct lb_fwd f;

	if (rq->ntried < MAX_TRIES)
		rq->tried[rq->ntried++] = t->index;
	if (!lb_rewrite_allowed(o, rq->client_ip, in)) {
		respond_error(rq, 403, "access denied");
		return;
	}
	if (o->redirect_code != 0 && o->redirect_url != NULL) {
		lb_buf_reset(&w->tmp);
		lb_buf_reset(&w->query);
		if (lb_rewrite_redirect(&w->query, o->redirect_url, rq->path.p,
					rq->path.len, rq->query, rq->query_len,
					rq->host, o->strip, o->prepend) < 0) {
			respond_error(rq, 502, "bad redirect");
			return;
		}
		lb_buf_add(&w->query, "", 1);
		if (w->query.oom) {
			respond_error(rq, 500, "out of memory");
			return;
		}
		respond(rq, o->redirect_code, NULL, NULL, 0, w->query.p);
		return;
	}
	if (o->proto != RT_PROTO_HTTP) {
		respond_error(rq, 502, "upstream protocol not supported");
		return;
	}
	rq->bucket = lb_worker_bucket(w, rq->tab, t);
	if (rq->bucket == NULL) {
		respond_error(rq, 502, "bad upstream address");
		return;
	}

	lb_buf_reset(&w->path);
	lb_buf_reset(&w->query);
	lb_rewrite_path(&w->path, rq->path.p, rq->path.len, o->strip,
			o->prepend);
	lb_rewrite_query(&w->query, t->url, rq->query, rq->query_len);
	memset(&f, 0, sizeof(f));
	f.method = rq->method;
	f.path = w->path.p;
	f.path_len = w->path.len;
	f.query = w->query.p;
	f.query_len = w->query.len;
	if (o->host == NULL || *o->host == '\0')
		f.host = rq->host != NULL ? rq->host : t->addr;
	else if (strcmp(o->host, "dst") == 0)
		f.host = t->addr;
	else
		f.host = o->host;
	f.client_ip = rq->client_ip;
	f.client_host = rq->host;
	f.proto = "http";
	f.local_port = w->local_port;
	f.prefix = o->strip;
	f.body_len = evbuffer_get_length(body);
	f.has_body = f.body_len > 0 || cmd == EVHTTP_REQ_POST ||
		     cmd == EVHTTP_REQ_PUT || cmd == EVHTTP_REQ_PATCH;
	lb_buf_reset(&rq->head);
	if (w->path.oom || w->query.oom ||
	    lb_headers_request(&rq->head, &f, in) < 0) {
		respond_error(rq, 500, "out of memory");
		return;
	}
	attempt(rq);
}

static const char *
method_name(enum evhttp_cmd_type c)
{
	switch (c) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	}
	return "GET";
}

/* Where the path and query of the request-target are. 0, or -1 for a
 * target that is neither origin-form nor an http(s) absolute URI. */
static int
split_target(struct lb_req *rq, const char **path, size_t *plen)
{
	const char *uri = evhttp_request_get_uri(rq->req);

	if (uri == NULL)
		return -1;
	if (uri[0] == '/') {
		size_t n = strcspn(uri, "?#");

		*path = uri;
		*plen = n;
		if (uri[n] == '?') {
			rq->query = uri + n + 1;
			rq->query_len = strcspn(rq->query, "#");
		}
		return 0;
	} else {
		const struct evhttp_uri *u =
			evhttp_request_get_evhttp_uri(rq->req);
		const char *scheme = u != NULL ? evhttp_uri_get_scheme(u) : NULL;
		const char *p;

		if (scheme == NULL || (strcmp(scheme, "http") != 0 &&
				       strcmp(scheme, "https") != 0) ||
		    evhttp_uri_get_host(u) == NULL)
			return -1;
		p = evhttp_uri_get_path(u);
		*path = p != NULL && *p != '\0' ? p : "/";
		*plen = strlen(*path);
		rq->query = evhttp_uri_get_query(u);
		rq->query_len = rq->query != NULL ? strlen(rq->query) : 0;
		/* absolute-form: the URI's host wins over Host */
		rq->host = evhttp_uri_get_host(u);
		return 0;
	}
}

static void
route(struct lb_req *rq)
{
	struct lb_worker *w = rq->w;
	const char *path;
	size_t plen;
	long n;

	if (split_target(rq, &path, &plen) < 0) {
		respond_error(rq, 400, "bad request target");
		return;
	}
	n = rt_path_normalize(path, plen, w->pathbuf, w->pathcap);
	if (n < 0) {
		respond_error(rq, 400, "bad request path");
		return;
	}
	lb_buf_add(&rq->path, w->pathbuf, (size_t)n);
	if (rq->path.oom) {
		respond_error(rq, 500, "out of memory");
		return;
	}
	rq->tab = lb_worker_pin(w);
	rq->route = rt_table_lookup(rq->tab->t, rq->host,
				    rq->host != NULL ? strlen(rq->host) : 0,
				    rq->path.p, rq->path.len, 0);
	if (rq->route == NULL) {
		const struct lb_page *page = lb_worker_page(w);

		LB_COUNT(w, noroute, 1);
		respond(rq, w->ws->o.noroute_status, "text/html; charset=utf-8",
			page->body, page->len, NULL);
		return;
	}
	rq->target = pick(rq);
	if (rq->target == NULL) {
		respond_error(rq, 503, "no healthy target");
		return;
	}
	dispatch(rq);
}

/* The client's address as text, with IPv4-mapped IPv6 ("::ffff:1.2.3.4",
 * from a dual-stack listener) shown as IPv4. */
static void
client_address(struct lb_req *rq)
{
	char *addr = NULL;
	ev_uint16_t port = 0;

	size_t n;

	evhttp_connection_get_peer(rq->evcon, &addr, &port);
	if (addr == NULL)
		addr = "";
	if (strncmp(addr, "::ffff:", 7) == 0 && strchr(addr + 7, '.') != NULL)
		addr += 7;
	n = strlen(addr);
	if (n >= sizeof(rq->client_ip))
		n = sizeof(rq->client_ip) - 1;
	memcpy(rq->client_ip, addr, n);
	rq->client_ip[n] = '\0';
}

void
lb_proxy_request(struct evhttp_request *req, void *arg)
{
	struct lb_worker *w = arg;
	struct lb_req *rq = rq_get(w);
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evkeyval *h;
	bufferevent_data_cb rcb, wcb;
	bufferevent_event_cb ecb;
	void *cbarg;
	const char *conn = NULL;
	int minor = req->minor;

	if (rq == NULL) {
		evhttp_send_error(req, 503, "out of memory");
		return;
	}
	rq->req = req;
	rq->evcon = evhttp_request_get_connection(req);
	rq->bev = evhttp_connection_get_bufferevent(rq->evcon);
	event_base_gettimeofday_cached(w->base, &rq->start);
	clock_gettime(CLOCK_MONOTONIC, &rq->t0);

	/* keep reading the client (see the top of the file) */
	bufferevent_getcb(rq->bev, &rcb, &wcb, &ecb, &cbarg);
	bufferevent_setcb(rq->bev, NULL, wcb, ecb, cbarg);
	bufferevent_setwatermark(rq->bev, EV_READ, 0, CLIENT_READ_WM);
	bufferevent_enable(rq->bev, EV_READ);
	evhttp_connection_set_closecb(rq->evcon, client_closed, rq);

	client_address(rq);
	rq->method = method_name(evhttp_request_get_command(req));
	rq->is_head = evhttp_request_get_command(req) == EVHTTP_REQ_HEAD;
	/* Host and Connection in one pass (the first of each, as
	 * evhttp_find_header would give) */
	TAILQ_FOREACH(h, in, next) {
		if (rq->host == NULL && (h->key[0] | 0x20) == 'h' &&
		    lb_h1_name_is(h->key, strlen(h->key), "host"))
			rq->host = h->value;
		else if (conn == NULL && (h->key[0] | 0x20) == 'c' &&
			 lb_h1_name_is(h->key, strlen(h->key), "connection"))
			conn = h->value;
	}
	if (w->draining ||
	    (conn != NULL && lb_h1_list_has(conn, strlen(conn), "close")))
		rq->conn = LB_CONN_CLOSE;
	else if (minor == 0)
		rq->conn = conn != NULL && lb_h1_list_has(conn, strlen(conn),
							  "keep-alive") ?
			   LB_CONN_KEEP_ALIVE : LB_CONN_CLOSE;
	else
		rq->conn = LB_CONN_NONE;
	route(rq);
}
