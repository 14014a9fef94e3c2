/*
 * lb_admin.c - the admin server (lb_admin.h).
 *
 * /api/health lists, per target identity:
 *   service, addr, identity (16 hex digits), state, fit, reason (of the
 *   last transition, "new" before any), for_ms (time in the state),
 *   transitions;
 *   consul: status, verdict, weight (the Weights multiplier);
 *   probe: enabled, up, streak (results in a row against the state),
 *          interval_ms, timeout_ms, rise, fall;
 *   outlier: ejected, ejected_for_ms (left), level (ejections in the
 *            current run), ejections, capped (ejections the 50 % cap
 *            held back), consecutive_failures;
 *   outcomes: ok, http_5xx, connect_failed, connect_refused (as the
 *             workers reported them since the target appeared).
 */
#include "lb/lb_admin.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <cjson/cJSON.h>

#include "routes/rt_table.h"

struct lb_admin {
	struct evhttp *http;
	struct lb_watch *watch;
	struct lb_health *health;
	struct rt_table *last;   /* while stopping: the table at the stop */
	int stopping;
	int port;
};

/* Split "host:port", ":port" or "[v6]:port" into a listening socket. */
static int listen_on(const char *addr, int *port_out)
{
	char host[256];
	const char *colon, *h = addr;
	size_t hlen;
	struct addrinfo hints, *res = NULL;
	int fd, one = 1, rc;

	colon = strrchr(addr, ':');
	if (!colon)
		return -EINVAL;
	hlen = (size_t)(colon - addr);
	if (hlen >= 2 && addr[0] == '[' && addr[hlen - 1] == ']') {
		h = addr + 1;
		hlen -= 2;
	}
	if (hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(hlen ? host : NULL, colon + 1, &hints, &res);
	if (rc != 0)
		return -EINVAL;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		freeaddrinfo(res);
		return rc;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		rc = -errno;
		close(fd);
		freeaddrinfo(res);
		return rc;
	}
	freeaddrinfo(res);
	{
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		*port_out = 0;
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
			*port_out = ss.ss_family == AF_INET6
				? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
				: ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	return fd;
}

static void reply_text(struct evhttp_request *req, int code,
		       const char *reason, const char *body, size_t len)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);

	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", "text/plain; charset=utf-8");
	evbuffer_add(out, body, len);
	evhttp_send_reply(req, code, reason, NULL);
}

/* 200 with the JSON text body (cJSON's, freed here), or 500 when the
 * text could not be made (body NULL). */
static void reply_json(struct evhttp_request *req, char *body)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);

	if (!body) {
		reply_text(req, 500, "Internal Server Error", "out of memory\n", 14);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", "application/json; charset=utf-8");
	evbuffer_add(out, body, strlen(body));
	evbuffer_add(out, "\n", 1);
	evhttp_send_reply(req, 200, "OK", NULL);
	cJSON_free(body);
}

static void health(struct lb_admin *a, struct evhttp_request *req)
{
	char body[160];
	int n;

	if (a->stopping) {
		n = snprintf(body, sizeof(body), "shutting down\n");
		reply_text(req, 503, "Service Unavailable", body, (size_t)n);
		return;
	}
	/* Consul being away does not make switchyard unhealthy: it keeps
	 * routing on the last table. The body says so for people and probes
	 * that look. */
	n = snprintf(body, sizeof(body), "OK\nconsul=%s\n",
		     a->watch && lb_watch_consul_up(a->watch) ? "up" : "down");
	reply_text(req, 200, "OK", body, (size_t)n);
}

/* The health state of the target with identity id, or NULL when none is
 * known (no health state, or a table the registry has not seen). */
static const char *health_of(const struct lb_admin *a, uint64_t id)
{
	struct hc_registry *reg = lb_health_registry(a->health);
	struct hc_entry *e = reg ? hc_registry_find(reg, id) : NULL;
	struct hc_target_info in;

	if (!e || hc_entry_info(reg, e, &in) < 0)
		return NULL;
	return hc_state_name(in.state);
}

/* One target as fabio's /api/routes element (its apiRoute), plus "down"
 * for a target Consul holds down (its route answers 503) and "health" for
 * its health state. NULL when out of memory. */
static cJSON *route_json(const struct lb_admin *a, const struct rt_route *r,
			 const struct rt_target *t)
{
	const char *health = health_of(a, t->identity);
	cJSON *o = cJSON_CreateObject();
	cJSON *tags = NULL;
	size_t srclen = strlen(r->host) + strlen(r->path) + 1;
	char *src = malloc(srclen);
	int ok;

	if (src)
		snprintf(src, srclen, "%s%s", r->host, r->path);
	if (t->ntags) {
		tags = cJSON_AddArrayToObject(o, "tags");
		for (size_t i = 0; tags && i < t->ntags; i++)
			if (!cJSON_AddItemToArray(tags, cJSON_CreateString(t->tags[i])))
				tags = NULL;
	}
	ok = o && src && (t->ntags == 0 || tags) &&
	     cJSON_AddStringToObject(o, "service", t->service ? t->service : "") &&
	     cJSON_AddStringToObject(o, "host", r->host) &&
	     cJSON_AddStringToObject(o, "path", r->path) &&
	     cJSON_AddStringToObject(o, "src", src) &&
	     cJSON_AddStringToObject(o, "dst", t->url ? t->url : "") &&
	     cJSON_AddStringToObject(o, "opts", t->opts.raw ? t->opts.raw : "") &&
	     cJSON_AddNumberToObject(o, "weight", t->share) &&
	     cJSON_AddStringToObject(o, "cmd", "route add") &&
	     cJSON_AddNumberToObject(o, "rate1", 0) &&
	     cJSON_AddNumberToObject(o, "pct99", 0) &&
	     (!t->consul_down || cJSON_AddTrueToObject(o, "down")) &&
	     (!health || cJSON_AddStringToObject(o, "health", health));
	free(src);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* The table as fabio's JSON list, one element per target in lookup
 * order. NULL when out of memory. */
static char *routes_json(const struct lb_admin *a, const struct rt_table *t,
			 int pretty)
{
	cJSON *list = cJSON_CreateArray();
	char *text;

	for (size_t i = 0; list && i < rt_table_nroutes(t); i++) {
		const struct rt_route *r = rt_table_route(t, i);

		for (size_t k = 0; list && k < r->ntargets; k++) {
			cJSON *o = route_json(a, r, r->targets[k]);

			if (!o || !cJSON_AddItemToArray(list, o)) {
				cJSON_Delete(o);
				cJSON_Delete(list);
				list = NULL;
			}
		}
	}
	if (!list)
		return NULL;
	text = pretty ? cJSON_Print(list) : cJSON_PrintUnformatted(list);
	cJSON_Delete(list);
	return text;
}

/* Whether the query string has the parameter name (with or without a
 * value). */
static int has_param(const char *query, const char *name)
{
	size_t n = strlen(name);

	while (query && *query) {
		if (strncmp(query, name, n) == 0 &&
		    (query[n] == '\0' || query[n] == '&' || query[n] == '='))
			return 1;
		query = strchr(query, '&');
		if (query)
			query++;
	}
	return 0;
}

/* /api/routes: fabio's JSON, or with ?raw its `route add` text. */
static void routes(struct lb_admin *a, struct evhttp_request *req)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	struct rt_table *t = a->watch ? lb_watch_table(a->watch) : a->last;
	char *body;

	if (has_param(query, "raw")) {
		body = t ? rt_table_dump(t) : NULL;
		if (t && !body) {
			reply_text(req, 500, "Internal Server Error", "out of memory\n", 14);
			return;
		}
		reply_text(req, 200, "OK", body ? body : "", body ? strlen(body) : 0);
		free(body);
		return;
	}
	body = routes_json(a, t, has_param(query, "pretty"));
	reply_json(req, body);
}

/* ---- /api/health ---- */

struct infos {
	struct hc_target_info *v;
	size_t n, cap;
	int oom;
};

static void collect(void *arg, const struct hc_target_info *in)
{
	struct infos *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct hc_target_info *v = realloc(l->v, cap * sizeof(*v));

		if (!v) {
			l->oom = 1;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *in;
}

static int cmp_info(const void *a, const void *b)
{
	const struct hc_target_info *x = a, *y = b;
	int c = strcmp(x->service, y->service);

	if (c == 0)
		c = strcmp(x->addr, y->addr);
	if (c == 0)
		c = x->identity < y->identity ? -1 : x->identity > y->identity;
	return c;
}

static uint64_t ms_left(uint64_t until, uint64_t now)
{
	return until > now ? until - now : 0;
}

/* One target's state as an object; NULL when out of memory. */
static cJSON *health_json(const struct hc_target_info *in, uint64_t now)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *consul = cJSON_AddObjectToObject(o, "consul");
	cJSON *probe = cJSON_AddObjectToObject(o, "probe");
	cJSON *outlier = cJSON_AddObjectToObject(o, "outlier");
	cJSON *outcomes = cJSON_AddObjectToObject(o, "outcomes");
	char id[17];
	int ok;

	snprintf(id, sizeof(id), "%016llx", (unsigned long long)in->identity);
	ok = o && consul && probe && outlier && outcomes &&
	     cJSON_AddStringToObject(o, "service", in->service) &&
	     cJSON_AddStringToObject(o, "addr", in->addr) &&
	     cJSON_AddStringToObject(o, "identity", id) &&
	     cJSON_AddStringToObject(o, "state", hc_state_name(in->state)) &&
	     cJSON_AddBoolToObject(o, "fit", in->fit) &&
	     cJSON_AddStringToObject(o, "reason", in->reason) &&
	     cJSON_AddNumberToObject(o, "for_ms",
				     (double)(now > in->since_ms ? now - in->since_ms : 0)) &&
	     cJSON_AddNumberToObject(o, "transitions", (double)in->transitions) &&
	     cJSON_AddStringToObject(consul, "status",
				     hc_consul_status_name(in->consul_status)) &&
	     cJSON_AddStringToObject(consul, "verdict",
				     hc_consul_verdict_name(in->consul_verdict)) &&
	     cJSON_AddNumberToObject(consul, "weight", in->weight) &&
	     cJSON_AddBoolToObject(probe, "enabled", in->probe_on) &&
	     cJSON_AddBoolToObject(probe, "up", in->probe_up) &&
	     cJSON_AddNumberToObject(probe, "streak", in->probe_streak) &&
	     cJSON_AddNumberToObject(probe, "interval_ms",
				     (double)in->probe.interval_ms) &&
	     cJSON_AddNumberToObject(probe, "timeout_ms",
				     (double)in->probe.timeout_ms) &&
	     cJSON_AddNumberToObject(probe, "rise", in->probe.rise) &&
	     cJSON_AddNumberToObject(probe, "fall", in->probe.fall) &&
	     cJSON_AddBoolToObject(outlier, "ejected", in->ejected) &&
	     cJSON_AddNumberToObject(outlier, "ejected_for_ms",
				     (double)ms_left(in->ejected_until_ms, now)) &&
	     cJSON_AddNumberToObject(outlier, "level", in->eject_level) &&
	     cJSON_AddNumberToObject(outlier, "ejections", (double)in->ejections) &&
	     cJSON_AddNumberToObject(outlier, "capped",
				     (double)in->ejections_capped) &&
	     cJSON_AddNumberToObject(outlier, "consecutive_failures",
				     in->consecutive_failures) &&
	     cJSON_AddNumberToObject(outcomes, "ok", (double)in->ok) &&
	     cJSON_AddNumberToObject(outcomes, "http_5xx", (double)in->http_5xx) &&
	     cJSON_AddNumberToObject(outcomes, "connect_failed",
				     (double)in->connect_failed) &&
	     cJSON_AddNumberToObject(outcomes, "connect_refused",
				     (double)in->connect_refused);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static void health_list(struct lb_admin *a, struct evhttp_request *req)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	struct infos l = { 0 };
	cJSON *list = cJSON_CreateArray();
	uint64_t now = lb_health_now_ms();
	char *body = NULL;

	hc_registry_foreach(lb_health_registry(a->health), collect, &l);
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), cmp_info);
	for (size_t i = 0; list && !l.oom && i < l.n; i++) {
		cJSON *o = health_json(&l.v[i], now);

		if (!o || !cJSON_AddItemToArray(list, o)) {
			cJSON_Delete(o);
			cJSON_Delete(list);
			list = NULL;
		}
	}
	if (list && !l.oom)
		body = has_param(query, "pretty") ? cJSON_Print(list)
						  : cJSON_PrintUnformatted(list);
	cJSON_Delete(list);
	free(l.v);
	reply_json(req, body);
}

static void handle(struct evhttp_request *req, void *arg)
{
	struct lb_admin *a = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type m = evhttp_request_get_command(req);

	if (!path)
		path = "";
	if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Allow", "GET, HEAD");
		reply_text(req, 405, "Method Not Allowed",
			   "method not allowed\n", 19);
	} else if (strcmp(path, "/health") == 0) {
		health(a, req);
	} else if (strcmp(path, "/api/routes") == 0) {
		routes(a, req);
	} else if (strcmp(path, "/api/health") == 0) {
		health_list(a, req);
	} else {
		reply_text(req, 404, "Not Found", "not found\n", 10);
	}
}

struct lb_admin *lb_admin_new(struct event_base *base, const char *addr,
			      struct lb_watch *watch, struct lb_health *health,
			      int *err)
{
	struct lb_admin *a = calloc(1, sizeof(*a));
	int fd = -1, rc = -ENOMEM;

	if (!a)
		goto fail;
	a->watch = watch;
	a->health = health;
	a->http = evhttp_new(base);
	if (!a->http)
		goto fail;
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
				   EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
				   EVHTTP_REQ_DELETE);
	evhttp_set_timeout(a->http, 10);
	evhttp_set_gencb(a->http, handle, a);
	fd = listen_on(addr, &a->port);
	if (fd < 0) {
		rc = fd;
		goto fail;
	}
	if (!evhttp_accept_socket_with_handle(a->http, fd)) {
		close(fd);
		goto fail;
	}
	return a;
fail:
	if (err)
		*err = rc;
	lb_admin_free(a);
	return NULL;
}

void lb_admin_set_stopping(struct lb_admin *a)
{
	struct rt_table *t;

	if (!a || a->stopping)
		return;
	a->stopping = 1;
	t = a->watch ? lb_watch_table(a->watch) : NULL;
	a->last = t ? rt_table_ref(t) : NULL;
	a->watch = NULL;
}

int lb_admin_port(const struct lb_admin *a)
{
	return a ? a->port : 0;
}

void lb_admin_free(struct lb_admin *a)
{
	if (!a)
		return;
	if (a->http)
		evhttp_free(a->http);
	rt_table_unref(a->last);
	free(a);
}
