/*
 * devreg_http.c - routing, Consul's wire conventions and blocking queries
 * on one evhttp server.
 *
 * evhttp accepts every method, so a wrong one gets Consul's own 405 text
 * rather than evhttp's 501. A parked request stays pending in evhttp; we
 * watch its socket ourselves because evhttp 2.1 does not notice a client
 * that goes away while its request waits for a reply.
 */
#include "devregistry/devreg_http.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/keyvalq_struct.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devregistry/devreg_api.h"
#include "devregistry/devreg_duration.h"
#include "devregistry/devreg_jsonout.h"
#include "devregistry/devreg_rand.h"

#define WAIT_DEFAULT_MS (300 * 1000)
#define WAIT_MAX_MS (600 * 1000)

#define M_GET 0x1u
#define M_PUT 0x2u
#define M_DELETE 0x4u

/* Which of Consul's request-parsing steps a route runs. */
enum qparse {
	QP_NONE,   /* agent endpoints: token only */
	QP_WAIT,   /* ?wait and ?index (hash-blocking agent endpoints) */
	QP_FULL    /* ?dc, consistency flags, ?wait, ?index, ?filter */
};

struct devreg_route {
	const char *pattern;   /* ends with '/': a prefix */
	unsigned methods;
	int compat_get;        /* GET accepted with -compat-pre1-verbs */
	enum qparse qparse;
	devreg_handler_fn fn;
};

static const struct devreg_route routes[] = {
	{ "/v1/agent/self", M_GET, 0, QP_NONE, devreg_api_agent_self },
	{ "/v1/agent/members", M_GET, 0, QP_NONE, devreg_api_agent_members },
	{ "/v1/agent/services", M_GET, 0, QP_NONE, devreg_api_agent_services },
	{ "/v1/agent/service/", M_GET, 0, QP_WAIT, devreg_api_agent_service },
	{ "/v1/agent/checks", M_GET, 0, QP_NONE, devreg_api_agent_checks },
	{ "/v1/agent/service/register", M_PUT, 1, QP_NONE, devreg_api_service_register },
	{ "/v1/agent/service/deregister/", M_PUT, 1, QP_NONE, devreg_api_service_deregister },
	{ "/v1/agent/service/maintenance/", M_PUT, 0, QP_NONE, devreg_api_service_maintenance },
	{ "/v1/agent/maintenance", M_PUT, 0, QP_NONE, devreg_api_node_maintenance },
	{ "/v1/agent/check/register", M_PUT, 1, QP_NONE, devreg_api_check_register },
	{ "/v1/agent/check/deregister/", M_PUT, 1, QP_NONE, devreg_api_check_deregister },
	{ "/v1/agent/check/pass/", M_PUT, 1, QP_NONE, devreg_api_check_pass },
	{ "/v1/agent/check/warn/", M_PUT, 1, QP_NONE, devreg_api_check_warn },
	{ "/v1/agent/check/fail/", M_PUT, 1, QP_NONE, devreg_api_check_fail },
	{ "/v1/agent/check/update/", M_PUT, 0, QP_NONE, devreg_api_check_update },
	{ "/v1/agent/health/service/id/", M_GET, 0, QP_NONE, devreg_api_agent_health_id },
	{ "/v1/agent/health/service/name/", M_GET, 0, QP_NONE, devreg_api_agent_health_name },
	{ "/v1/catalog/services", M_GET, 0, QP_FULL, devreg_api_catalog_services },
	{ "/v1/catalog/service/", M_GET, 0, QP_FULL, devreg_api_catalog_service },
	{ "/v1/catalog/nodes", M_GET, 0, QP_FULL, devreg_api_catalog_nodes },
	{ "/v1/catalog/datacenters", M_GET, 0, QP_NONE, devreg_api_catalog_datacenters },
	{ "/v1/health/service/", M_GET, 0, QP_FULL, devreg_api_health_service },
	{ "/v1/health/state/", M_GET, 0, QP_FULL, devreg_api_health_state },
	{ "/v1/health/checks/", M_GET, 0, QP_FULL, devreg_api_health_checks },
	{ "/v1/kv/", M_GET | M_PUT | M_DELETE, 0, QP_FULL, devreg_api_kv },
	{ "/v1/status/leader", M_GET, 0, QP_NONE, devreg_api_status_leader },
	{ "/v1/status/peers", M_GET, 0, QP_NONE, devreg_api_status_peers },
};

/* --- small helpers --- */

static const char *
reason_phrase(int code)
{
	switch (code) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Request Entity Too Large";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	}
	return "Unknown";
}

static const char *
method_name(enum evhttp_cmd_type m)
{
	switch (m) {
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
	return "UNKNOWN";
}

static unsigned
method_bit(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET: return M_GET;
	case EVHTTP_REQ_PUT: return M_PUT;
	case EVHTTP_REQ_DELETE: return M_DELETE;
	default: return 0;
	}
}

static void
allow_header(unsigned methods, char *buf, size_t len)
{
	snprintf(buf, len, "OPTIONS%s%s%s", methods & M_GET ? ",GET" : "",
		 methods & M_PUT ? ",PUT" : "", methods & M_DELETE ? ",DELETE" : "");
}

const char *
devreg_body(struct devreg_req *r, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t n = evbuffer_get_length(in);

	if (r->body_terminated)
		n--;
	*len = n;
	if (n == 0)
		return NULL;
	/* A NUL after the bytes makes the body usable as a C string too. */
	if (!r->body_terminated) {
		if (evbuffer_add(in, "", 1) < 0)
			return NULL;
		r->body_terminated = 1;
	}
	return (const char *)evbuffer_pullup(in, -1);
}

/* --- replies --- */

void
devreg_set_header(struct devreg_req *r, const char *name, const char *value)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);

	evhttp_remove_header(h, name);
	evhttp_add_header(h, name, value);
}

void
devreg_set_index_headers(struct devreg_req *r, uint64_t index)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, index > 0 ? index : 1);
	devreg_set_header(r, "X-Consul-Index", buf);
	devreg_set_header(r, "X-Consul-Knownleader", "true");
	devreg_set_header(r, "X-Consul-Lastcontact", "0");
	devreg_set_header(r, "X-Consul-Effective-Consistency",
			  r->consistency != NULL ? r->consistency : "leader");
}

static void unpark(struct devreg_req *r);

static void
send_reply(struct devreg_req *r, int code, struct evbuffer *body)
{
	unpark(r);
	devreg_set_header(r, "X-Consul-Default-Acl-Policy", "allow");
	evhttp_send_reply(r->req, code, reason_phrase(code), body);
}

void
devreg_reply_empty(struct devreg_req *r, int code)
{
	send_reply(r, code, NULL);
}

void
devreg_reply_raw(struct devreg_req *r, int code, const char *ctype,
		 const void *data, size_t len)
{
	struct evbuffer *b = evbuffer_new();

	if (ctype != NULL)
		devreg_set_header(r, "Content-Type", ctype);
	if (b != NULL && len > 0)
		evbuffer_add(b, data, len);
	send_reply(r, code, b);
	if (b != NULL)
		evbuffer_free(b);
}

void
devreg_reply_text(struct devreg_req *r, int code, const char *fmt, ...)
{
	struct evbuffer *b = evbuffer_new();
	va_list ap;

	devreg_set_header(r, "Content-Type", "text/plain; charset=utf-8");
	if (b != NULL) {
		va_start(ap, fmt);
		evbuffer_add_vprintf(b, fmt, ap);
		va_end(ap);
	}
	send_reply(r, code, b);
	if (b != NULL)
		evbuffer_free(b);
}

void
devreg_reply_json(struct devreg_req *r, int code, cJSON *v)
{
	struct evbuffer *b = evbuffer_new();

	if (v == NULL || b == NULL || devreg_json_write(b, v, 1) < 0) {
		cJSON_Delete(v);
		if (b != NULL)
			evbuffer_free(b);
		devreg_reply_text(r, 500, "out of memory");
		return;
	}
	cJSON_Delete(v);
	devreg_set_header(r, "Content-Type", "application/json");
	send_reply(r, code, b);
	evbuffer_free(b);
}

/* --- blocking --- */

int
devreg_block_on_index(const struct devreg_req *r, uint64_t idx)
{
	return !r->timed_out && r->min_index > 0 && idx <= r->min_index;
}

int
devreg_block_on_hash(const struct devreg_req *r, const char *hash)
{
	return !r->timed_out && r->hash != NULL && *r->hash != '\0' &&
	       strcmp(r->hash, hash) == 0;
}

static void
req_free(struct devreg_req *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->nq; i++) {
		free(r->q[i].key);
		free(r->q[i].value);
	}
	free(r->q);
	free(r->path);
	free(r);
}

static void
unpark(struct devreg_req *r)
{
	struct devreg *d = r->d;

	if (!r->parked)
		return;
	r->parked = 0;
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		d->waiters = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
	d->nwaiters--;
	if (r->timer != NULL)
		event_free(r->timer);
	if (r->watch != NULL)
		event_free(r->watch);
	r->timer = r->watch = NULL;
	evhttp_connection_set_closecb(r->conn, NULL, NULL);
}

/* Run the route's handler; a request that is done is freed. */
static void
dispatch(struct devreg_req *r)
{
	if (r->route->fn(r) == DEVREG_DONE) {
		unpark(r);
		req_free(r);
	}
}

static void
park_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct devreg_req *r = arg;

	(void)fd;
	(void)what;
	r->timed_out = 1;
	dispatch(r);
}

/* evhttp is closing the connection under a parked request: forget it
 * without touching the request, which evhttp frees. */
static void
conn_closed(struct evhttp_connection *conn, void *arg)
{
	struct devreg_req *r = arg;

	(void)conn;
	unpark(r);
	req_free(r);
}

/* The parked request's socket became readable: either the client left
 * (EOF, error) or it sent more (a pipelined request, which waits). */
static void
watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct devreg_req *r = arg;
	struct evhttp_connection *conn = r->conn;
	char c;
	ssize_t n;

	(void)what;
	n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)))
		return;
	DEVREG_LOG(&r->d->log, DEVREG_LOG_DEBUG, "blocking query client went away",
		   "path", r->path);
	unpark(r);
	req_free(r);
	evhttp_connection_free(conn);
}

static int
park(struct devreg_req *r)
{
	struct devreg *d = r->d;
	struct bufferevent *bev = evhttp_connection_get_bufferevent(r->conn);
	int64_t wait = r->wait_ms;
	struct timeval tv;
	int fd = bev != NULL ? bufferevent_getfd(bev) : -1;

	if (wait <= 0)
		wait = WAIT_DEFAULT_MS;
	if (wait > WAIT_MAX_MS)
		wait = WAIT_MAX_MS;
	wait += (int64_t)devreg_rand_below((uint64_t)(wait / 16));
	r->timer = evtimer_new(d->base, park_timeout, r);
	if (fd >= 0)
		r->watch = event_new(d->base, fd, EV_READ, watch_cb, r);
	if (r->timer == NULL || (fd >= 0 && r->watch == NULL)) {
		if (r->timer != NULL)
			event_free(r->timer);
		if (r->watch != NULL)
			event_free(r->watch);
		r->timer = r->watch = NULL;
		return -ENOMEM;
	}
	tv.tv_sec = (time_t)(wait / 1000);
	tv.tv_usec = (suseconds_t)((wait % 1000) * 1000);
	evtimer_add(r->timer, &tv);
	if (r->watch != NULL)
		event_add(r->watch, NULL);
	evhttp_connection_set_closecb(r->conn, conn_closed, r);
	r->parked = 1;
	r->next = d->waiters;
	if (d->waiters != NULL)
		d->waiters->prev = r;
	d->waiters = r;
	d->nwaiters++;
	return 0;
}

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct devreg *d = arg;
	struct devreg_req *r, *next;

	(void)fd;
	(void)what;
	for (r = d->waiters; r != NULL; r = next) {
		next = r->next;
		dispatch(r);
	}
}

void
devreg_http_changed(void *arg)
{
	struct devreg *d = arg;

	if (d->wake_ev != NULL && d->nwaiters > 0)
		event_active(d->wake_ev, EV_TIMEOUT, 1);
}

/* --- the request pipeline --- */

static const struct devreg_route *
match_route(const char *path)
{
	const struct devreg_route *best = NULL;
	size_t best_len = 0;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const char *p = routes[i].pattern;
		size_t n = strlen(p);

		if (p[n - 1] == '/' ? strncmp(path, p, n) == 0 : strcmp(path, p) == 0) {
			if (n > best_len) {
				best = &routes[i];
				best_len = n;
			}
		}
	}
	return best;
}

/* Consul's parse(): consistency flags, then ?wait and ?index. Replies and
 * returns -1 on a bad value. */
static int
parse_common(struct devreg_req *r)
{
	const char *v;

	if (r->route->qparse == QP_FULL) {
		int stale = devreg_query_has(r, "stale");
		int consistent = devreg_query_has(r, "consistent");
		const char *dc = devreg_query(r, "dc");

		v = devreg_query(r, "max_stale");
		if (v != NULL && *v != '\0') {
			int64_t ns;

			if (devreg_duration_parse(v, &ns, NULL, 0) < 0) {
				char q[128];

				devreg_reply_text(r, 400, "Invalid max_stale value %s",
						  devreg_go_quote(v, q, sizeof(q)));
				return -1;
			}
			if (ns > 0)
				stale = 1;
		}
		if (stale && consistent) {
			devreg_reply_text(r, 400,
					  "Cannot specify ?stale with ?consistent, conflicting semantics.");
			return -1;
		}
		if (devreg_query_has(r, "cached") && consistent) {
			devreg_reply_text(r, 400,
					  "Cannot specify ?cached with ?consistent, conflicting semantics.");
			return -1;
		}
		r->consistency = stale ? "stale" : consistent ? "consistent" : "leader";
		v = devreg_query(r, "filter");
		if (v != NULL && *v != '\0') {
			devreg_reply_text(r, 400,
					  "Failed to create boolean expression evaluator: filter expressions are not supported by this development agent");
			return -1;
		}
		if (dc != NULL && *dc != '\0' && strcmp(dc, r->d->store->node.datacenter) != 0) {
			devreg_reply_text(r, 500, "No path to datacenter");
			return -1;
		}
	}
	if (r->route->qparse == QP_NONE)
		return 0;
	v = devreg_query(r, "wait");
	if (v != NULL && *v != '\0') {
		int64_t ns;

		if (devreg_duration_parse(v, &ns, NULL, 0) < 0) {
			devreg_reply_text(r, 400, "Invalid wait time");
			return -1;
		}
		r->wait_ms = ns / DEVREG_NS_PER_MS;
		if (ns > 0 && r->wait_ms == 0)
			r->wait_ms = 1;
	}
	v = devreg_query(r, "index");
	if (v != NULL && *v != '\0' && devreg_parse_u64(v, &r->min_index) < 0) {
		devreg_reply_text(r, 400, "Invalid index");
		return -1;
	}
	r->hash = devreg_query(r, "hash");
	return 0;
}

static void
gencb(struct evhttp_request *req, void *arg)
{
	struct devreg *d = arg;
	struct devreg_req *r = calloc(1, sizeof(*r));
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *raw;
	unsigned bit, methods;
	char allow[64];

	if (r == NULL) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	r->d = d;
	r->req = req;
	r->conn = evhttp_request_get_connection(req);
	r->method = evhttp_request_get_command(req);
	r->consistency = "leader";
	raw = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	if (raw == NULL || *raw == '\0')
		raw = "/";
	r->path = devreg_unescape(raw, strlen(raw), 0);
	if (r->path == NULL) {
		devreg_reply_text(r, 400, "invalid URL escape");
		goto done;
	}
	if (devreg_query_parse(r, uri != NULL ? evhttp_uri_get_query(uri) : NULL) < 0) {
		devreg_reply_text(r, 500, "out of memory");
		goto done;
	}
	r->route = match_route(r->path);
	if (r->route == NULL) {
		if (strstr(r->path, "/v1/") != NULL)
			devreg_reply_text(r, 404,
					  "Invalid URL path: not a recognized HTTP API endpoint\n");
		else if (strcmp(r->path, "/") == 0)
			devreg_reply_text(r, 200,
					  "Consul Agent: UI disabled. To enable, set ui_config.enabled=true in the agent configuration and restart.");
		else
			devreg_reply_empty(r, 404);
		goto done;
	}
	r->rest = r->path + strlen(r->route->pattern);
	methods = r->route->methods;
	if (r->route->compat_get && d->compat_get)
		methods |= M_GET;
	allow_header(methods, allow, sizeof(allow));
	if (r->method == EVHTTP_REQ_OPTIONS) {
		devreg_set_header(r, "Allow", allow);
		devreg_reply_empty(r, 200);
		goto done;
	}
	bit = method_bit(r->method);
	if ((methods & bit) == 0) {
		devreg_set_header(r, "Allow", allow);
		devreg_reply_text(r, 405, "method %s not allowed", method_name(r->method));
		goto done;
	}
	if (parse_common(r) < 0)
		goto done;
	if (r->route->fn(r) == DEVREG_PARK) {
		if (park(r) < 0) {
			r->timed_out = 1;
			dispatch(r);
		}
		return;
	}
done:
	req_free(r);
}

/* --- start and stop --- */

static int
listen_socket(const char *host, int port, int *out)
{
	struct addrinfo hints, *res = NULL;
	char portbuf[8];
	int fd, one = 1, rc, err;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	rc = getaddrinfo(host != NULL && *host != '\0' ? host : NULL, portbuf, &hints, &res);
	if (rc != 0 || res == NULL)
		return -EADDRNOTAVAIL;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		freeaddrinfo(res);
		return err;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Accepted connections inherit this on Linux. Without it, an answer
	 * that evhttp writes in two pieces (headers, then a large body) waits
	 * for the client's delayed ACK, about 40 ms, before its second piece
	 * goes out: a blocked watcher would wake that much later. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
		err = -errno;
		close(fd);
		freeaddrinfo(res);
		return err;
	}
	freeaddrinfo(res);
	*out = fd;
	return 0;
}

static int
bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

int
devreg_http_start(struct devreg *d, const char *host, int port)
{
	struct timeval tv;
	int fd = -1, rc;

	d->http = evhttp_new(d->base);
	d->wake_ev = event_new(d->base, -1, 0, wake_cb, d);
	if (d->http == NULL || d->wake_ev == NULL)
		return -ENOMEM;
	evhttp_set_allowed_methods(d->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
				   EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
				   EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
				   EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_max_body_size(d->http, DEVREG_BODY_MAX);
	/* Read and drop the rest of an oversized body before answering 413,
	 * so the client reads the answer instead of a reset. */
	evhttp_set_flags(d->http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_max_headers_size(d->http, DEVREG_HEADERS_MAX);
	evhttp_set_default_content_type(d->http, NULL);
	tv.tv_sec = (time_t)(d->request_timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)((d->request_timeout_ms % 1000) * 1000);
	evhttp_set_timeout_tv(d->http, &tv);
	evhttp_set_gencb(d->http, gencb, d);
	rc = listen_socket(host, port, &fd);
	if (rc < 0)
		return rc;
	d->port = bound_port(fd);
	d->sock = evhttp_accept_socket_with_handle(d->http, fd);
	if (d->sock == NULL) {
		close(fd);
		return -ENOMEM;
	}
	return 0;
}

/* Push what evhttp queued for this connection onto the socket now: the
 * connection is freed right after, before the loop could write it. */
static void
flush_now(struct evhttp_connection *conn)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
	int fd = bev != NULL ? bufferevent_getfd(bev) : -1;

	if (fd >= 0)
		evbuffer_write(bufferevent_get_output(bev), fd);
}

void
devreg_http_stop(struct devreg *d)
{
	d->closing = 1;
	while (d->waiters != NULL) {
		struct devreg_req *r = d->waiters;
		struct evhttp_connection *conn = r->conn;

		r->timed_out = 1;
		r->route->fn(r);   /* timed out: it replies */
		unpark(r);
		req_free(r);
		flush_now(conn);
	}
	if (d->http != NULL)
		evhttp_free(d->http);
	d->http = NULL;
	if (d->wake_ev != NULL)
		event_free(d->wake_ev);
	d->wake_ev = NULL;
}
