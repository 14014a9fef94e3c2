/*
 * consul_watch_ev.c - the watch transport for plain-http agents: libevent's
 * own HTTP client, one evhttp_connection per watch, so that each blocking
 * query has a keep-alive connection of its own and nothing more (no
 * connection cache, no fixed receive buffers; an idle blocked watch holds
 * a socket, a bufferevent and one small request).
 *
 * One request:
 *
 *   send     reuse the watch's open connection, or connect to the agent's
 *            current address (consul_watch_addr.h); GET with Host,
 *            User-Agent and X-Consul-Token. The watch's timer is armed for
 *            the connect limit (the request's, at most 10 s, as curl's
 *            CONNECTTIMEOUT), then, once the socket is connected, for the
 *            rest of the whole-request limit.
 *   answer   the body is copied out as it arrives, into one buffer sized
 *            by Content-Length when there is one; evhttp enforces the
 *            client's body limit (over it: -EMSGSIZE, as with curl).
 *   finish   evhttp's callbacks only record what happened and fire the
 *            watch's timer; consul_watch_done() runs from that timer,
 *            outside evhttp's call stack, where the callbacks it runs may
 *            cancel any watch and free its connection.
 *
 * A request that fails before any byte of an answer on a connection kept
 * open since the last one (the agent closed it meanwhile) is sent once
 * more on a fresh connection, as curl does. A connect that fails moves on
 * to the agent's next address within the same attempt.
 */
#include "registry-client/consul_http_internal.h"
#include "registry-client/consul_watch_addr.h"
#include "registry-client/consul_watch_internal.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define CONNECT_LIMIT_MS 10000u
#define MAX_HEADERS_SIZE (64 * 1024)
#define FIRST_BODY_CAP 2048u
#define PRESIZE_MAX (1024u * 1024)
#define USER_AGENT "switchyard-consul-client"
#define WHY_SIZE 192

enum phase {
	PH_IDLE = 0,
	PH_RESOLVING,   /* waiting for the agent's addresses */
	PH_CONNECTING,  /* handed to evhttp, socket not known to be up */
	PH_SENT,        /* connected: the request is out or going out */
	PH_DONE         /* the outcome is recorded, the timer fired */
};

enum outcome {
	OUT_NONE = 0,
	OUT_ANSWER,     /* a whole HTTP answer */
	OUT_TOO_BIG,    /* over the body limit */
	OUT_NOMEM,
	OUT_FAILED,     /* no (whole) answer; the text is in why */
	OUT_RETRY,      /* stale keep-alive: again on a fresh connection */
	OUT_NEXT_ADDR   /* connect failed: again on the next address */
};

struct consul_watch_ev_agent {
	struct consul_watcher *wr;
	struct consul_watch_addrs *addrs;
	char *host_header;      /* "host:port" as written in the URL */
	uint16_t port;
	const char *token;      /* borrowed from the client */
	const char *params[2];  /* dc and consistency; NULL-terminated */
	size_t max_body;
	long timeout_ms;
};



/* ---- the agent ---- */

static void on_addrs_ready(void *arg);

/* Host and port of "http://authority" (checked by consul_client_new). */
static int parse_base_url(struct consul_watch_ev_agent *ag, const char *url,
			  char **host)
{
	const char *auth = strstr(url, "://");
	const char *host_end, *port = NULL;
	size_t hlen;

	if (!auth)
		return -EINVAL;
	auth += 3;
	ag->host_header = strdup(auth);
	if (!ag->host_header)
		return -ENOMEM;
	if (auth[0] == '[') {
		host_end = strchr(auth, ']');
		if (!host_end)
			return -EINVAL;
		auth++;
		if (host_end[1] == ':')
			port = host_end + 2;
	} else {
		host_end = strchr(auth, ':');
		if (host_end)
			port = host_end + 1;
		else
			host_end = auth + strlen(auth);
	}
	ag->port = 80;
	if (port) {
		unsigned long p = strtoul(port, NULL, 10);
		if (p == 0 || p > 65535)
			return -EINVAL;
		ag->port = (uint16_t)p;
	}
	hlen = (size_t)(host_end - auth);
	*host = malloc(hlen + 1);
	if (!*host)
		return -ENOMEM;
	memcpy(*host, auth, hlen);
	(*host)[hlen] = '\0';
	return 0;
}

static void ev_fini(struct consul_watcher *wr)
{
	struct consul_watch_ev_agent *ag = wr->ev;

	if (!ag)
		return;
	consul_watch_addrs_free(ag->addrs);
	free(ag->host_header);
	free(ag);
	wr->ev = NULL;
}

static int ev_init(struct consul_watcher *wr)
{
	struct consul_client_settings cs;
	struct consul_watch_ev_agent *ag = calloc(1, sizeof(*ag));
	char *host = NULL;
	size_t np = 0;
	int rc;

	if (!ag)
		return -ENOMEM;
	wr->ev = ag;
	ag->wr = wr;
	consul_client_settings(wr->client, &cs);
	rc = parse_base_url(ag, cs.base_url, &host);
	if (rc == 0) {
		ag->addrs = consul_watch_addrs_new(wr->base, host, on_addrs_ready, ag);
		if (!ag->addrs)
			rc = -ENOMEM;
	}
	free(host);
	if (rc != 0) {
		ev_fini(wr);
		return rc;
	}
	ag->token = cs.token;
	if (cs.dc_param)
		ag->params[np++] = cs.dc_param;
	if (cs.consistency == CONSUL_CONSISTENCY_STALE)
		ag->params[np++] = "stale=";
	else if (cs.consistency == CONSUL_CONSISTENCY_CONSISTENT)
		ag->params[np++] = "consistent=";
	ag->max_body = cs.max_body;
	ag->timeout_ms = cs.timeout_ms;
	return 0;
}

/* path?query&dc=..&stale=, in the order consul_request() uses; NULL when
 * out of memory or when path or query could break the request line. */
static char *target_new(const struct consul_watch_ev_agent *ag,
			const char *path, const char *query, int *err)
{
	const char *parts[3];
	size_t nparts = 0, len;
	char *t, *p;

	*err = -EINVAL;
	if (strncmp(path, "/v1/", 4) != 0 || strpbrk(path, " \r\n?#") ||
	    (query && strpbrk(query, " \r\n#")))
		return NULL;
	if (query && *query)
		parts[nparts++] = query;
	for (size_t i = 0; i < 2 && ag->params[i]; i++)
		parts[nparts++] = ag->params[i];
	len = strlen(path) + 1;
	for (size_t i = 0; i < nparts; i++)
		len += strlen(parts[i]) + 1;
	*err = -ENOMEM;
	t = malloc(len);
	if (!t)
		return NULL;
	p = t + sprintf(t, "%s", path);
	for (size_t i = 0; i < nparts; i++)
		p += sprintf(p, "%c%s", i == 0 ? '?' : '&', parts[i]);
	return t;
}

/* ---- connections ---- */

static int conn_fd(struct evhttp_connection *conn)
{
	return (int)bufferevent_getfd(evhttp_connection_get_bufferevent(conn));
}

/* Open: kept from the last request and not closed since. */
static int conn_open(struct evhttp_connection *conn)
{
	return conn_fd(conn) >= 0;
}

static int conn_connected(struct evhttp_connection *conn)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = conn ? conn_fd(conn) : -1;

	return fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &len) == 0;
}

static void on_close(struct evhttp_connection *conn, void *arg)
{
	struct consul_watch *w = arg;

	/* evhttp says so only for connections that were up. */
	w->tp.ev.established = 1;
}

static void conn_drop(struct consul_watch_ev *e)
{
	if (!e->conn)
		return;
	evhttp_connection_free(e->conn);        /* and its request */
	e->conn = NULL;
	e->req = NULL;
}

static struct evhttp_connection *conn_new(struct consul_watch *w,
					  const char *addr)
{
	struct consul_watch_ev_agent *ag = w->wr->ev;
	struct evhttp_connection *conn;

	/* A numeric address: evhttp resolves nothing, no DNS base needed. */
	conn = evhttp_connection_base_new(w->wr->base, NULL, addr, ag->port);
	if (!conn)
		return NULL;
	evhttp_connection_set_max_body_size(conn, (ev_ssize_t)ag->max_body);
	evhttp_connection_set_max_headers_size(conn, MAX_HEADERS_SIZE);
	evhttp_connection_set_retries(conn, 0);
	evhttp_connection_set_closecb(conn, on_close, w);
	return conn;
}

/* ---- recording what happened ---- */

static void record(struct consul_watch *w, enum outcome out, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void why_set(struct consul_watch_ev *e, const char *fmt, va_list ap)
{
	char buf[WHY_SIZE];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	free(e->why);
	e->why = strdup(buf);   /* NULL: finish() says "no answer" */
}

static void why(struct consul_watch_ev *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void why(struct consul_watch_ev *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	why_set(e, fmt, ap);
	va_end(ap);
}

/* The outcome of the attempt; finish() acts on it from the timer. The
 * text of a failure is allocated only then: a blocked watch holds none. */
static void record(struct consul_watch *w, enum outcome out, const char *fmt, ...)
{
	struct consul_watch_ev *e = &w->tp.ev;
	va_list ap;

	e->outcome = out;
	e->phase = PH_DONE;
	if (fmt) {
		va_start(ap, fmt);
		why_set(e, fmt, ap);
		va_end(ap);
	}
	consul_watch_timer_fire(w);
}

/* Room for len more bytes and a NUL; 0 or -ENOMEM. */
static int body_reserve(struct consul_watch_ev *e, size_t len, size_t max)
{
	size_t need = e->body_len + len + 1, cap;
	char *nb;

	if (need <= e->body_cap)
		return 0;
	cap = e->body_cap ? e->body_cap : FIRST_BODY_CAP;
	while (cap < need)
		cap *= 2;
	if (cap > max + 1 && need <= max + 1)
		cap = max + 1;
	nb = realloc(e->body, cap);
	if (!nb)
		return -ENOMEM;
	e->body = nb;
	e->body_cap = cap;
	return 0;
}

static void on_chunk(struct evhttp_request *req, void *arg)
{
	struct consul_watch *w = arg;
	struct consul_watch_ev *e = &w->tp.ev;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);

	if (len == 0 || e->oom)
		return;         /* evhttp drains what is left */
	if (body_reserve(e, len, w->wr->ev->max_body) != 0) {
		e->oom = 1;
		return;
	}
	evbuffer_remove(in, e->body + e->body_len, len);
	e->body_len += len;
	e->body[e->body_len] = '\0';
}

/* A strict base-10 uint64 (as consul_http.c reads X-Consul-Index). */
static int index_parse(const char *v, uint64_t *out)
{
	uint64_t n = 0;

	if (!v || !*v)
		return -1;
	for (; *v; v++) {
		unsigned d = (unsigned)(*v - '0');
		if (d > 9 || n > (UINT64_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	*out = n;
	return 0;
}

static int on_header(struct evhttp_request *req, void *arg)
{
	struct consul_watch *w = arg;
	struct consul_watch_ev *e = &w->tp.ev;
	const char *cl = evhttp_find_header(evhttp_request_get_input_headers(req),
					    "Content-Length");
	uint64_t len;

	e->header_seen = 1;
	e->status = evhttp_request_get_response_code(req);
	/* A known length is allocated at once, exactly, when it is modest;
	 * a bigger one grows as the bytes come, so that an agent announcing
	 * more than it sends pins nothing. */
	if (cl && index_parse(cl, &len) == 0 && len > 0 &&
	    len <= PRESIZE_MAX && len <= w->wr->ev->max_body && !e->body &&
	    body_reserve(e, (size_t)len, w->wr->ev->max_body) != 0)
		e->oom = 1;
	return 0;
}

static void on_error(enum evhttp_request_error error, void *arg)
{
	struct consul_watch *w = arg;

	w->tp.ev.error = (int)error;
	w->tp.ev.sys_errno = errno;     /* evhttp restores it for us */
}

static const char *error_text(int error)
{
	switch (error) {
	case EVREQ_HTTP_TIMEOUT:
		return "timed out";
	case EVREQ_HTTP_BUFFER_ERROR:
		return "connection error";
	case EVREQ_HTTP_EOF:
	default:
		return "connection closed";
	}
}

/* evhttp reports a closed connection and a failed socket call alike;
 * errno is worth showing only when it names a failure of the socket (at
 * a plain close it holds whatever the last call left, often EAGAIN). */
static int errno_tells(int err)
{
	switch (err) {
	case ECONNRESET:
	case ECONNREFUSED:
	case ECONNABORTED:
	case EPIPE:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ENETDOWN:
	case EADDRNOTAVAIL:
		return 1;
	default:
		return 0;
	}
}

static void on_done(struct evhttp_request *req, void *arg)
{
	struct consul_watch *w = arg;
	struct consul_watch_ev *e = &w->tp.ev;
	struct consul_watch_ev_agent *ag = w->wr->ev;
	const char *addr = consul_watch_addrs_at(ag->addrs, e->addr);
	char sys[80] = "";

	e->req = NULL;          /* evhttp frees it when we return */
	if (req && evhttp_request_get_response_code(req) != 0 && e->error < 0) {
		const char *idx;

		on_chunk(req, w);
		e->status = evhttp_request_get_response_code(req);
		idx = evhttp_find_header(evhttp_request_get_input_headers(req),
					 "X-Consul-Index");
		e->has_index = index_parse(idx, &e->index) == 0;
		record(w, e->oom ? OUT_NOMEM : OUT_ANSWER, NULL);
		return;
	}
	if (errno_tells(e->sys_errno))
		consul_watch_fit(sys, sizeof(sys), ": %s", strerror(e->sys_errno));
	if (e->error == EVREQ_HTTP_DATA_TOO_LONG) {
		/* libevent 2.1 also reports broken chunk framing this way. */
		record(w, OUT_TOO_BIG, NULL);
	} else if (e->error == EVREQ_HTTP_INVALID_HEADER) {
		record(w, OUT_FAILED, "malformed answer");
	} else if (e->header_seen) {
		record(w, OUT_FAILED, "%s in the middle of the answer%s",
		       error_text(e->error), sys);
	} else if (e->reused && !e->retried && e->error == EVREQ_HTTP_EOF) {
		record(w, OUT_RETRY, NULL);
	} else if (!e->reused && !e->established &&
		   e->error != EVREQ_HTTP_TIMEOUT) {
		size_t n = consul_watch_addrs_count(ag->addrs);

		if (e->addrs_tried + 1 < n)
			record(w, OUT_NEXT_ADDR, NULL);
		else
			record(w, OUT_FAILED, "could not connect to %s port %u%s",
			       addr ? addr : "?", (unsigned)ag->port, sys);
	} else {
		record(w, OUT_FAILED, "%s before an answer%s",
		       error_text(e->error), sys);
	}
}

/* ---- attempts ---- */

static void arm(struct consul_watch *w)
{
	struct consul_watch_ev *e = &w->tp.ev;
	uint64_t now = consul_watch_now_ms();
	uint64_t at = e->deadline_ms;

	if (e->phase != PH_SENT && e->connect_deadline_ms < at)
		at = e->connect_deadline_ms;
	consul_watch_timer_arm(w, at > now ? at - now : 0);
}

static int add_headers(const struct consul_watch_ev_agent *ag,
		       struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if (evhttp_add_header(h, "Host", ag->host_header) != 0 ||
	    evhttp_add_header(h, "User-Agent", USER_AGENT) != 0)
		return -1;
	if (ag->token && evhttp_add_header(h, "X-Consul-Token", ag->token) != 0)
		return -1;
	return 0;
}

static void request_start(struct consul_watch *w)
{
	struct consul_watch_ev *e = &w->tp.ev;
	struct consul_watch_ev_agent *ag = w->wr->ev;
	struct evhttp_request *req;
	uint64_t now = consul_watch_now_ms();
	struct timeval tv;
	uint64_t ms;

	req = evhttp_request_new(on_done, w);
	if (!req || add_headers(ag, req) != 0) {
		if (req)
			evhttp_request_free(req);
		e->oom = 1;
		record(w, OUT_NOMEM, NULL);
		return;
	}
	evhttp_request_set_header_cb(req, on_header);
	evhttp_request_set_chunked_cb(req, on_chunk);
	evhttp_request_set_error_cb(req, on_error);
	/* evhttp's own inactivity limit, a little past ours so that ours
	 * (which counts the whole request) speaks first. */
	ms = (e->deadline_ms > now ? e->deadline_ms - now : 0) + 1000;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evhttp_connection_set_timeout_tv(e->conn, &tv);
	e->req = req;
	e->phase = e->reused ? PH_SENT : PH_CONNECTING;
	arm(w);
	/* A connect that fails at once calls on_done() before this returns;
	 * that only records it. */
	if (evhttp_make_request(e->conn, req, EVHTTP_REQ_GET, e->target) != 0 &&
	    e->phase != PH_DONE) {
		e->req = NULL;  /* freed by evhttp */
		record(w, OUT_FAILED, "could not start the request");
	}
}

/* One try of the request in flight: on the open connection, or on a new
 * one to the watch's current address. */
static void attempt_start(struct consul_watch *w)
{
	struct consul_watch_ev *e = &w->tp.ev;
	struct consul_watch_ev_agent *ag = w->wr->ev;
	size_t n;

	e->error = -1;
	e->sys_errno = 0;
	e->outcome = OUT_NONE;
	e->header_seen = e->established = e->oom = e->has_index = 0;
	e->status = 0;
	e->index = 0;
	e->body_len = 0;
	if (e->conn && !conn_open(e->conn))
		conn_drop(e);   /* closed: the next one goes to today's address */
	e->reused = e->conn != NULL;
	if (!e->conn) {
		n = consul_watch_addrs_count(ag->addrs);
		if (n == 0) {
			e->phase = PH_RESOLVING;
			arm(w);
			return;
		}
		e->addr %= (unsigned)n;
		e->conn = conn_new(w, consul_watch_addrs_at(ag->addrs, e->addr));
		if (!e->conn) {
			record(w, OUT_NOMEM, NULL);
			return;
		}
	}
	request_start(w);
}

/* The agent's addresses came (or could not be found): every watch that
 * waited for them goes on. Nothing here runs a watch callback. */
static void on_addrs_ready(void *arg)
{
	struct consul_watch_ev_agent *ag = arg;

	for (struct consul_watch *w = ag->wr->watches; w; w = w->next) {
		if (!w->in_flight || w->tp.ev.phase != PH_RESOLVING)
			continue;
		if (consul_watch_addrs_count(ag->addrs) > 0)
			attempt_start(w);
		else
			record(w, OUT_FAILED, "%s",
			       consul_watch_addrs_error(ag->addrs));
	}
}

static int ev_send(struct consul_watch *w, const char *query, long timeout_ms)
{
	struct consul_watch_ev *e = &w->tp.ev;
	struct consul_watch_ev_agent *ag = w->wr->ev;
	uint64_t now = consul_watch_now_ms();
	uint64_t limit = (uint64_t)(timeout_ms > 0 ? timeout_ms : ag->timeout_ms);
	int err;

	e->target = target_new(ag, w->path, query, &err);
	if (!e->target)
		return err;
	e->deadline_ms = now + limit;
	e->connect_deadline_ms = now + (limit < CONNECT_LIMIT_MS ? limit
							     : CONNECT_LIMIT_MS);
	e->addrs_tried = 0;
	e->retried = 0;
	attempt_start(w);
	return 0;
}

/* The request is over: hand the answer (or why there is none) to the
 * loop. w may be gone afterwards. */
static void finish(struct consul_watch *w)
{
	struct consul_watch_ev *e = &w->tp.ev;
	struct consul_response r;
	int rc = 0;

	memset(&r, 0, sizeof(r));
	switch (e->outcome) {
	case OUT_ANSWER:
		r.status = e->status;
		if (e->body_len > 0) {
			r.body = e->body;
			r.body_len = e->body_len;
			e->body = NULL;
		}
		r.index = e->index;
		r.has_index = e->has_index;
		break;
	case OUT_TOO_BIG:
		r.status = e->status;
		r.truncated = 1;
		snprintf(r.error, sizeof(r.error), "response body over the size limit");
		rc = -EMSGSIZE;
		break;
	case OUT_NOMEM:
		snprintf(r.error, sizeof(r.error), "out of memory");
		rc = -ENOMEM;
		break;
	default:
		snprintf(r.error, sizeof(r.error), "%s", e->why ? e->why : "no answer");
		rc = -EIO;
		break;
	}
	free(e->body);
	e->body = NULL;
	e->body_len = e->body_cap = 0;
	free(e->target);
	e->target = NULL;
	free(e->why);
	e->why = NULL;
	e->phase = PH_IDLE;
	consul_watch_done(w, rc, &r);
	consul_response_clear(&r);
}

static void ev_timer(struct consul_watch *w)
{
	struct consul_watch_ev *e = &w->tp.ev;
	struct consul_watch_ev_agent *ag = w->wr->ev;
	uint64_t now = consul_watch_now_ms();
	const char *addr;

	switch (e->phase) {
	case PH_DONE:
		if (e->outcome == OUT_RETRY) {
			e->retried = 1;
			e->connect_deadline_ms = now + CONNECT_LIMIT_MS;
			attempt_start(w);
		} else if (e->outcome == OUT_NEXT_ADDR) {
			conn_drop(e);
			e->addr++;
			e->addrs_tried++;
			attempt_start(w);
		} else {
			finish(w);
		}
		return;
	case PH_CONNECTING:
		if (conn_connected(e->conn)) {
			e->phase = PH_SENT;
			break;
		}
		/* fall through */
	case PH_RESOLVING:
		if (now < e->connect_deadline_ms && now < e->deadline_ms)
			break;
		addr = e->phase == PH_CONNECTING
		       ? consul_watch_addrs_at(ag->addrs, e->addr) : NULL;
		conn_drop(e);
		if (addr)
			why(e, "could not connect to %s port %u in time", addr,
			    (unsigned)ag->port);
		else
			why(e, "no address for the agent in time%s%s",
			    consul_watch_addrs_error(ag->addrs)[0] ? ": " : "",
			    consul_watch_addrs_error(ag->addrs));
		e->outcome = OUT_FAILED;
		finish(w);
		return;
	case PH_SENT:
		if (now < e->deadline_ms)
			break;
		conn_drop(e);
		e->outcome = OUT_FAILED;
		why(e, "no whole answer within the request's time limit");
		finish(w);
		return;
	default:
		return;
	}
	arm(w);
}

static void ev_stop(struct consul_watch *w)
{
	struct consul_watch_ev *e = &w->tp.ev;

	conn_drop(e);
	free(e->body);
	e->body = NULL;
	free(e->target);
	e->target = NULL;
	free(e->why);
	e->why = NULL;
	e->phase = PH_IDLE;
}

const struct consul_watch_ops consul_watch_ev_ops = {
	.name = "evhttp",
	.init = ev_init,
	.fini = ev_fini,
	.send = ev_send,
	.timer = ev_timer,
	.stop = ev_stop,
};
