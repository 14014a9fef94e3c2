/*
 * lb_admin.c - the admin server (lb_admin.h).
 */
#include "lb/lb_admin.h"

#include <errno.h>
#include <netdb.h>
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

/* One target as fabio's /api/routes element (its apiRoute), plus "down"
 * for a target Consul holds down (its route answers 503). NULL when out of
 * memory. */
static cJSON *route_json(const struct rt_route *r, const struct rt_target *t)
{
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
	     (!t->consul_down || cJSON_AddTrueToObject(o, "down"));
	free(src);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* The table as fabio's JSON list, one element per target in lookup
 * order. NULL when out of memory. */
static char *routes_json(const struct rt_table *t, int pretty)
{
	cJSON *list = cJSON_CreateArray();
	char *text;

	for (size_t i = 0; list && i < rt_table_nroutes(t); i++) {
		const struct rt_route *r = rt_table_route(t, i);

		for (size_t k = 0; list && k < r->ntargets; k++) {
			cJSON *o = route_json(r, r->targets[k]);

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
	struct evbuffer *out;
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
	body = routes_json(t, has_param(query, "pretty"));
	if (!body) {
		reply_text(req, 500, "Internal Server Error", "out of memory\n", 14);
		return;
	}
	out = evhttp_request_get_output_buffer(req);
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", "application/json; charset=utf-8");
	evbuffer_add(out, body, strlen(body));
	evbuffer_add(out, "\n", 1);
	evhttp_send_reply(req, 200, "OK", NULL);
	cJSON_free(body);
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
	} else {
		reply_text(req, 404, "Not Found", "not found\n", 10);
	}
}

struct lb_admin *lb_admin_new(struct event_base *base, const char *addr,
			      struct lb_watch *watch, int *err)
{
	struct lb_admin *a = calloc(1, sizeof(*a));
	int fd = -1, rc = -ENOMEM;

	if (!a)
		goto fail;
	a->watch = watch;
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
