/*
 * lb_proxy.c - one request through the proxy, on its worker's thread.
 *
 * The client connection (lb_conn.c) reads and parses the request and
 * collects its body; the proxy routes it, sends it upstream and puts the
 * bytes of the response (head included) into the connection's output,
 * which the worker writes in one burst at the end of the loop turn.
 * lb_conn_end says the response is complete; the request ends when its
 * last byte has been written (lb_proxy_client_written), so that a drain
 * waits for it.
 *
 * States of a request: routing (synchronous), connecting / resolving,
 * sent (waiting for the response head, under the response-header
 * timeout), body (streaming), done (the last bytes are being written).
 *
 * Health: what lb_proxy.h says is reported, once per attempt, to the
 * entry of the target the attempt went to (report()).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/buffer.h>

#include "lb/lb_headers.h"
#include "lb/lb_http1.h"
#include "lb/lb_rewrite.h"
#include "lb/lb_worker.h"

#define MAX_TRIES 3
#define RESP_HEAD_MAX (64 * 1024)
/* Above this much unsent output, stop reading from the upstream. */
#define CLIENT_HIGH_WM (256 * 1024)

enum rq_state {
	RQ_ROUTE = 0,
	RQ_CONNECT,
	RQ_RESOLVE,
	RQ_SENT,
	RQ_BODY,
	RQ_DONE              /* the last bytes are queued, being written */
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
	struct lb_conn *client;
	const struct lb_h1_req *h;         /* the client's head (the
					    * connection's); NULL once done */
	struct evbuffer *body;             /* the client's body (same) */
	struct lb_tabref *tab;
	const struct rt_route *route;
	const struct rt_target *target;
	struct lb_bucket *bucket;
	struct lb_up *up;
	struct lb_pool_waiter waiter;
	struct lb_buf head;                /* upstream request head */
	struct lb_buf path;                /* the normalised request path */
	const char *query;                 /* the request's, in h's memory */
	size_t query_len;
	const char *host;                  /* the client's Host (h's memory,
					    * or abs_host) */
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
	struct lb_buf abs_host;            /* the host of an absolute-form
					    * target, NUL-terminated */
};

static void attempt(struct lb_req *rq);
static void dispatch(struct lb_req *rq);

/* ---- request objects ---- */

static struct lb_req *
rq_get(struct lb_worker *w)
{
	struct lb_req *rq = w->free_reqs;
	struct lb_buf head, path, abs_host;

	if (rq != NULL) {
		w->free_reqs = rq->next_free;
		head = rq->head;
		path = rq->path;
		abs_host = rq->abs_host;
	} else {
		rq = malloc(sizeof(*rq));
		if (rq == NULL)
			return NULL;
		memset(&head, 0, sizeof(head));
		memset(&path, 0, sizeof(path));
		memset(&abs_host, 0, sizeof(abs_host));
	}
	/* everything up to the client address; the rest is set before use */
	memset(rq, 0, offsetof(struct lb_req, client_ip));
	rq->client_ip[0] = '\0';
	rq->head = head;
	rq->path = path;
	rq->abs_host = abs_host;
	lb_buf_reset(&rq->head);
	lb_buf_reset(&rq->path);
	lb_buf_reset(&rq->abs_host);
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
		lb_buf_free(&rq->abs_host);
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

/* The value of the first field named lower (a lower-case name) of the
 * client's head, or NULL. */
static const char *
client_field(const struct lb_h1_req *h, const char *lower)
{
	size_t n = strlen(lower), i;

	for (i = 0; i < h->nfields; i++) {
		if (h->fields[i].name_len == n &&
		    lb_h1_name_is(h->fields[i].name, n, lower))
			return h->fields[i].value;
	}
	return NULL;
}

/* Counters and the access log line; rq->h must still be there. */
static void
account(struct lb_req *rq)
{
	struct lb_worker *w = rq->w;
	struct lb_access_rec a;

	if (rq->accounted)
		return;
	rq->accounted = 1;
	lb_worker_count_status(w, rq->status);
	if (w->alog.log == NULL || rq->h == NULL)
		return;
	memset(&a, 0, sizeof(a));
	a.remote_addr = rq->client_ip;
	a.method = rq->method;
	a.uri = rq->h->target;
	a.http_major = rq->h->major;
	a.http_minor = rq->h->minor;
	a.status = rq->status;
	a.bytes = rq->bytes_out;
	a.start = rq->start;
	a.duration_us = elapsed_us(rq);
	a.host = rq->host;
	a.referer = client_field(rq->h, "referer");
	a.user_agent = client_field(rq->h, "user-agent");
	if (rq->target != NULL) {
		a.upstream = rq->target->addr;
		a.service = rq->target->service;
	}
	lb_worker_access(rq->w, &a);
}

void
lb_proxy_client_written(struct lb_req *rq)
{
	rq->h = NULL;
	rq_finish(rq);
}

/* Hand the rest of the response (buf) to the client connection; rq ends
 * when it has been written (so a drain waits for it), or when the client
 * goes. */
static void
client_final(struct lb_req *rq, struct evbuffer *buf)
{
	account(rq);
	lb_conn_write(rq->client, buf);
	rq->state = RQ_DONE;
	lb_conn_end(rq->client, rq->conn == LB_CONN_CLOSE);
}

void
lb_proxy_client_drained(struct lb_req *rq)
{
	if (rq->paused && rq->up != NULL) {
		rq->paused = 0;
		lb_up_pause(rq->up, 0);
	}
}

/* Send part of a streamed response. */
static void
client_chunk(struct lb_req *rq, struct evbuffer *buf)
{
	lb_conn_write(rq->client, buf);
	if (lb_conn_pending(rq->client) > CLIENT_HIGH_WM && !rq->paused &&
	    rq->up != NULL) {
		rq->paused = 1;
		lb_up_pause(rq->up, 1);
	}
}

/* A response of our own (errors, no route, redirects). */
static void
respond(struct lb_req *rq, int status, const char *ctype, const char *body,
	size_t len, const char *location, unsigned retry_after)
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
	if (retry_after > 0) {
		char line[40];
		int n = snprintf(line, sizeof(line), "Retry-After: %u\r\n",
				 retry_after);

		lb_buf_add(&w->tmp, line, (size_t)n);
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

	respond(rq, status, "text/plain; charset=utf-8", body, (size_t)n, NULL,
		0);
}

/* Cut the client connection: the response already started, so it can
 * only end short. */
static void
client_abort(struct lb_req *rq)
{
	struct lb_conn *c = rq->client;

	if (rq->up != NULL) {
		lb_pool_release(rq->up, 0);
		rq->up = NULL;
	}
	account(rq);
	rq->h = NULL;
	rq_finish(rq);
	lb_conn_abort(c);
}

void
lb_proxy_client_gone(struct lb_req *rq)
{
	LB_COUNT(rq->w, client_aborts, 1);
	if (rq->state < RQ_BODY)
		rq->status = 499;   /* nginx's "client closed request" */
	account(rq);
	rq->h = NULL;
	rq_finish(rq);
}

void
lb_proxy_drain(struct lb_worker *w)
{
	struct lb_req *rq;

	TAILQ_FOREACH(rq, &w->active, link) {
		if (rq->state < RQ_BODY)
			rq->conn = LB_CONN_CLOSE;
	}
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

/* ---- health ---- */

/* Count outcome o on the entry of the target rq's attempt went to, and
 * wake the control thread when the entry asks for it. */
static void
report(struct lb_req *rq, enum hc_outcome o)
{
	const struct lb_proxy_opts *po = &rq->w->ws->o;
	struct hc_set *hs = rq->tab != NULL ? rq->tab->hs : NULL;

	if (hs == NULL || rq->target == NULL)
		return;
	if (hc_entry_report(hc_set_entry(hs, rq->target->index), o) &&
	    po->health_wake != NULL)
		po->health_wake(po->health_wake_arg);
}

/* A failed connect, by its errno: a refusal, the target's fault otherwise,
 * except for running out of something ourselves. */
static void
report_connect(struct lb_req *rq, int err)
{
	switch (err) {
	case ECONNREFUSED:
		report(rq, HC_OUTCOME_CONNECT_REFUSED);
		break;
	case ENOMEM:
	case ENOBUFS:
	case EMFILE:
	case ENFILE:
	case EADDRNOTAVAIL:   /* our ephemeral ports ran out */
		break;
	default:
		report(rq, HC_OUTCOME_CONNECT_FAILED);
		break;
	}
}

/* Whether target t of the table tr may take traffic by its health entry:
 * fit, and a Consul weight above 0. */
static int
target_fit(const struct lb_tabref *tr, const struct rt_target *t)
{
	return tr->hs == NULL || hc_set_healthy(t, tr->hs);
}

/* Retry-After for a route with no fit target: the seconds until its first
 * ejected target is due back, rounded up; 1 when no end is known. */
static unsigned
retry_after(const struct lb_req *rq)
{
	const struct rt_route *r = rq->route;
	uint64_t first = 0, now;
	struct timespec ts;
	size_t i;

	if (rq->tab->hs == NULL)
		return 1;
	for (i = 0; i < r->ntargets; i++) {
		const struct rt_target *t = r->targets[i];
		uint64_t back;

		if (t->weight == 0 || t->consul_down)
			continue;
		back = hc_entry_back_ms(hc_set_entry(rq->tab->hs, t->index));
		if (back != 0 && (first == 0 || back < first))
			first = back;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	if (first <= now)
		return 1;
	return (unsigned)((first - now + 999) / 1000);
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
	int minor = rq->h->minor;
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
			report(rq, HC_OUTCOME_CONNECT_FAILED);
			respond_error(rq, 502, "upstream response head too large");
			return;
		}
		if (lb_h1_parse_response(p, (size_t)end, &r) < 0) {
			report(rq, HC_OUTCOME_CONNECT_FAILED);
			respond_error(rq, 502, "bad upstream response");
			return;
		}
		if (r.status >= 100 && r.status < 200) {
			if (r.status == 101) {
				report(rq, HC_OUTCOME_CONNECT_FAILED);
				respond_error(rq, 502, "bad upstream response");
				return;
			}
			/* 100 Continue, 103 Early Hints: the real one follows */
			evbuffer_drain(in, (size_t)end);
			continue;
		}
		lb_up_timeout(rq->up, NULL);
		report(rq, r.status >= 500 && r.status < 600 ? HC_OUTCOME_5XX
							      : HC_OUTCOME_OK);
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
	report_connect(rq, err);
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
	report(rq, HC_OUTCOME_CONNECT_FAILED);
	respond_error(rq, 502, "upstream error");
}

static void
send_upstream(struct lb_req *rq)
{
	struct lb_up *up = rq->up;
	struct evbuffer *body = rq->body;
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
	/* a target Consul holds down never gets here: its weight is 0,
	 * which rt_pick skips */
	if (!target_fit(rq->tab, t) ||
	    (w->ws->o.healthy != NULL &&
	     !w->ws->o.healthy(t, w->ws->o.healthy_arg)))
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
	const struct lb_h1_req *h = rq->h;
	struct evbuffer *body = rq->body;
	struct lb_fwd f;

	if (rq->ntried < MAX_TRIES)
		rq->tried[rq->ntried++] = t->index;
	if (!lb_rewrite_allowed(o, rq->client_ip, h->fields, h->nfields)) {
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
		respond(rq, o->redirect_code, NULL, NULL, 0, w->query.p, 0);
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
	f.trusted = lb_conn_trusted(rq->client);
	f.body_len = evbuffer_get_length(body);
	/* a body the client framed, or a method that always has one */
	f.has_body = f.body_len > 0 || h->content_length >= 0 || h->chunked ||
		     strcmp(h->method, "POST") == 0 ||
		     strcmp(h->method, "PUT") == 0 ||
		     strcmp(h->method, "PATCH") == 0;
	lb_buf_reset(&rq->head);
	if (w->path.oom || w->query.oom ||
	    lb_headers_request(&rq->head, &f, h->fields, h->nfields) < 0) {
		respond_error(rq, 500, "out of memory");
		return;
	}
	attempt(rq);
}

/* Whether s starts with the lower-case prefix, ignoring ASCII case. */
static int
starts_with(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	return strlen(s) >= n && lb_h1_name_is(s, n, prefix);
}

/* Where the path and query of the request-target are. 0, or -1 for a
 * target that is neither origin-form nor an http(s) absolute URI. */
static int
split_target(struct lb_req *rq, const char **path, size_t *plen)
{
	const char *uri = rq->h->target, *auth, *p, *host_end;
	size_t n;

	if (uri[0] == '/') {
		n = strcspn(uri, "?#");
		*path = uri;
		*plen = n;
		if (uri[n] == '?') {
			rq->query = uri + n + 1;
			rq->query_len = strcspn(rq->query, "#");
		}
		return 0;
	}
	/* absolute-form (RFC 9112 3.2.2): scheme "://" authority path */
	if (starts_with(uri, "http://"))
		auth = uri + 7;
	else if (starts_with(uri, "https://"))
		auth = uri + 8;
	else
		return -1;
	n = strcspn(auth, "/?#");
	if (n == 0 || memchr(auth, '@', n) != NULL)
		return -1;   /* no host, or userinfo, which HTTP forbids */
	p = auth + n;
	/* the host without its port ("[v6]" keeps its brackets) */
	if (auth[0] == '[') {
		host_end = memchr(auth, ']', n);
		if (host_end == NULL)
			return -1;
		host_end++;
	} else {
		host_end = memchr(auth, ':', n);
		if (host_end == NULL)
			host_end = p;
	}
	lb_buf_add(&rq->abs_host, auth, (size_t)(host_end - auth));
	lb_buf_add(&rq->abs_host, "", 1);
	if (rq->abs_host.oom)
		return -1;
	/* absolute-form: the URI's host wins over Host */
	rq->host = rq->abs_host.p;
	if (*p == '/') {
		*path = p;
		*plen = strcspn(p, "?#");
		p += *plen;
	} else {
		*path = "/";
		*plen = 1;
	}
	if (*p == '?') {
		rq->query = p + 1;
		rq->query_len = strcspn(rq->query, "#");
	}
	return 0;
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
		respond(rq, w->live.noroute_status, "text/html; charset=utf-8",
			page->body, page->len, NULL, 0);
		return;
	}
	rq->target = pick(rq);
	if (rq->target == NULL) {
		static const char why[] = "no healthy target\n";

		respond(rq, 503, "text/plain; charset=utf-8", why,
			sizeof(why) - 1, NULL, retry_after(rq));
		return;
	}
	dispatch(rq);
}

void
lb_proxy_request(struct lb_worker *w, struct lb_conn *c,
		 const struct lb_h1_req *h, struct evbuffer *body)
{
	struct lb_req *rq = rq_get(w);
	const char *peer = lb_conn_peer(c);
	size_t n = strlen(peer);

	if (rq == NULL) {
		/* nothing to answer with: the connection goes */
		lb_conn_abort(c);
		return;
	}
	rq->client = c;
	rq->h = h;
	rq->body = body;
	lb_conn_set_owner(c, rq);
	event_base_gettimeofday_cached(w->base, &rq->start);
	clock_gettime(CLOCK_MONOTONIC, &rq->t0);
	if (n >= sizeof(rq->client_ip))
		n = sizeof(rq->client_ip) - 1;
	memcpy(rq->client_ip, peer, n);
	rq->client_ip[n] = '\0';
	rq->method = h->method;
	rq->is_head = strcmp(h->method, "HEAD") == 0;
	rq->host = h->host;
	if (w->draining || h->conn_close)
		rq->conn = LB_CONN_CLOSE;
	else if (h->minor == 0)
		rq->conn = h->conn_keep_alive ? LB_CONN_KEEP_ALIVE :
						LB_CONN_CLOSE;
	else
		rq->conn = LB_CONN_NONE;
	route(rq);
}
