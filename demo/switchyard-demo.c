/*
 * switchyard-demo - a demo service in the style of fabio's demo server.
 *
 * It answers HTTP on its -prefix paths with a line that names the service,
 * the instance and its tags (so a test or a person can tell instances
 * apart behind the load balancer), answers /health for the agent's HTTP
 * check, and registers itself through libregistrar with urlprefix- tags.
 * On SIGINT or SIGTERM it deregisters first (so the balancer stops sending
 * new requests), stops accepting, lets the requests it is serving finish
 * and exits 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include "registrar.h"
#include "demo/demo_flags.h"

/* How long a shutdown waits for requests in flight. */
#define DRAIN_LIMIT_MS 5000
#define DRAIN_POLL_MS 20

struct demo {
	struct demo_flags flags;
	const char *prog;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	struct event *sigint, *sigterm, *drain;
	struct registrar *reg;
	char host[256];          /* -addr's host, brackets removed */
	int port;                /* the bound port */
	char addr[300];          /* host:port as bound, brackets kept */
	char *id;                /* <name>-<addr> */
	char *check_url;
	char **tags;             /* urlprefix- tags, then the -tags values */
	size_t ntags;
	char *tags_text;         /* the same, comma-joined, for the replies */
	int in_flight;           /* requests answered but not yet sent */
	int shutting_down;
	struct timespec drain_start;
};

static void log_line(const char *level, const char *component,
		     const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void log_line(const char *level, const char *component,
		     const char *fmt, ...)
{
	char ts[40], msg[1024];
	struct timespec now;
	struct tm tm;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "ts=%s.%03ldZ level=%s component=%s %s\n", ts,
		now.tv_nsec / 1000000, level, component, msg);
}

static void on_registrar_log(enum registrar_log_level level, const char *msg,
			     void *arg)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };

	(void)arg;
	log_line((unsigned)level < 4 ? names[level] : "info", "registrar",
		 "%s", msg);
}

static const char *reason_phrase(int code)
{
	switch (code) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	}
	return "Status";
}

/* A prefix serves its own path and everything under it: "/foo" serves
 * "/foo" and "/foo/x" but not "/foobar"; "/" serves everything. The
 * path is the first field of the -prefix value without a host name
 * ("example.com/foo strip=/foo" -> "/foo"); the flag parser made sure it
 * has one. */
static int prefix_serves(const char *value, const char *path)
{
	const char *prefix = strchr(value, '/');
	size_t n = strcspn(prefix, " ");

	if (n == 0)
		return 0;
	if (prefix[n - 1] == '/') {
		if (strncmp(path, prefix, n) == 0)
			return 1;
		/* "/foo/" also serves "/foo" */
		return n > 1 && strlen(path) == n - 1 &&
		       strncmp(path, prefix, n - 1) == 0;
	}
	return strncmp(path, prefix, n) == 0 &&
	       (path[n] == '\0' || path[n] == '/');
}

static void on_request_done(struct evhttp_request *req, void *arg)
{
	struct demo *d = arg;

	(void)req;
	d->in_flight--;
}

static void reply(struct demo *d, struct evhttp_request *req, int code,
		  const char *body)
{
	struct evbuffer *buf = evbuffer_new();
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);

	evhttp_add_header(out, "Content-Type", "text/plain; charset=utf-8");
	if (d->shutting_down)
		evhttp_add_header(out, "Connection", "close");
	if (!buf) {
		evhttp_send_error(req, 500, "Internal Server Error");
		return;
	}
	evbuffer_add(buf, body, strlen(body));
	evhttp_send_reply(req, code, reason_phrase(code), buf);
	evbuffer_free(buf);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct demo *d = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *raw = evhttp_request_get_uri(req);
	char *body;

	if (!path || !*path)
		path = "/";
	d->in_flight++;
	evhttp_request_set_on_complete_cb(req, on_request_done, d);

	if (strcmp(path, "/health") == 0) {
		reply(d, req, 200, "OK");
		return;
	}
	for (size_t i = 0; i < d->flags.nprefixes; i++) {
		if (!prefix_serves(d->flags.prefixes[i], path))
			continue;
		if (asprintf(&body, "Serving %s via http from %s on %s tags=%s\n",
			     raw ? raw : path, d->flags.name, d->addr,
			     d->tags_text) < 0) {
			reply(d, req, 500, "out of memory\n");
			return;
		}
		reply(d, req, d->flags.status, body);
		free(body);
		return;
	}
	reply(d, req, 404, "404 page not found\n");
}

static long elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - since->tv_sec) * 1000 +
	       (now.tv_nsec - since->tv_nsec) / 1000000;
}

static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
	struct demo *d = arg;
	long waited = elapsed_ms(&d->drain_start);

	(void)fd;
	(void)what;
	if (d->in_flight > 0 && waited < DRAIN_LIMIT_MS)
		return;
	log_line(d->in_flight ? "warn" : "info", "demo",
		 "event=drained in_flight=%d waited_ms=%ld", d->in_flight,
		 waited);
	event_base_loopexit(d->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct demo *d = arg;
	struct timeval tick = { 0, DRAIN_POLL_MS * 1000 };

	(void)what;
	if (d->shutting_down) {
		log_line("warn", "demo", "event=exit-now signal=%d", (int)sig);
		event_base_loopbreak(d->base);
		return;
	}
	d->shutting_down = 1;
	log_line("info", "demo", "event=shutdown signal=%s",
		 sig == SIGINT ? "INT" : "TERM");
	/* Deregister first, so the balancer stops routing here, then stop
	 * accepting and wait for the requests already in flight. */
	registrar_free(d->reg);
	d->reg = NULL;
	if (d->sock) {
		evhttp_del_accept_socket(d->http, d->sock);
		d->sock = NULL;
	}
	clock_gettime(CLOCK_MONOTONIC, &d->drain_start);
	d->drain = event_new(d->base, -1, EV_PERSIST, on_drain_tick, d);
	if (!d->drain || event_add(d->drain, &tick) != 0)
		event_base_loopexit(d->base, NULL);
}

static int join_tags(struct demo *d)
{
	size_t len = 1, n = d->flags.nprefixes + d->flags.ntags;

	d->tags = calloc(n ? n : 1, sizeof(*d->tags));
	if (!d->tags)
		return -1;
	for (size_t i = 0; i < d->flags.nprefixes; i++) {
		if (asprintf(&d->tags[d->ntags], "urlprefix-%s",
			     d->flags.prefixes[i]) < 0)
			return -1;
		d->ntags++;
	}
	for (size_t i = 0; i < d->flags.ntags; i++) {
		d->tags[d->ntags] = strdup(d->flags.tags[i]);
		if (!d->tags[d->ntags])
			return -1;
		d->ntags++;
	}
	for (size_t i = 0; i < d->ntags; i++)
		len += strlen(d->tags[i]) + 1;
	d->tags_text = calloc(1, len);
	if (!d->tags_text)
		return -1;
	for (size_t i = 0; i < d->ntags; i++) {
		if (i)
			strcat(d->tags_text, ",");
		strcat(d->tags_text, d->tags[i]);
	}
	return 0;
}

/* Bind -addr; with port 0 the kernel's choice is what gets registered. */
static int listen_http(struct demo *d)
{
	struct evconnlistener *l;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int v6 = strchr(d->host, ':') != NULL;

	d->sock = evhttp_bind_socket_with_handle(d->http,
						 d->host[0] ? d->host : "0.0.0.0",
						 (ev_uint16_t)d->port);
	if (!d->sock)
		return -1;
	l = evhttp_bound_socket_get_listener(d->sock);
	if (d->port == 0 && l &&
	    getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss,
			&sl) == 0) {
		if (ss.ss_family == AF_INET)
			d->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			d->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	snprintf(d->addr, sizeof(d->addr), v6 ? "[%s]:%d" : "%s:%d", d->host,
		 d->port);
	return 0;
}

/* Where the agent can reach /health: an unspecified or empty listen host
 * means loopback works. */
static int make_check_url(struct demo *d)
{
	const char *h = d->host;
	int v6 = strchr(h, ':') != NULL;

	if (!*h || strcmp(h, "0.0.0.0") == 0)
		h = "127.0.0.1", v6 = 0;
	else if (strcmp(h, "::") == 0)
		h = "::1";
	return asprintf(&d->check_url, v6 ? "http://[%s]:%d/health" :
			"http://%s:%d/health", h, d->port) < 0 ? -1 : 0;
}

static int start_registrar(struct demo *d)
{
	struct registrar_service svc;
	struct registrar_agent agent;
	int unspecified = !d->host[0] || strcmp(d->host, "0.0.0.0") == 0 ||
			  strcmp(d->host, "::") == 0;
	int rc;

	if (asprintf(&d->id, "%s-%s", d->flags.name, d->addr) < 0 ||
	    make_check_url(d) != 0) {
		log_line("error", "demo", "event=start-failed error=\"out of memory\"");
		return -1;
	}
	memset(&svc, 0, sizeof(svc));
	svc.name = d->flags.name;
	svc.id = d->id;
	svc.address = unspecified ? NULL : d->host;
	svc.port = d->port;
	svc.tags = (const char *const *)d->tags;
	svc.ntags = d->ntags;
	svc.check = REGISTRAR_CHECK_HTTP;
	svc.check_target = d->check_url;
	svc.check_interval_ms = 1000;
	svc.check_timeout_ms = 1000;
	svc.deregister_after_ms = d->flags.deregister_ms;

	memset(&agent, 0, sizeof(agent));
	agent.address = d->flags.consul;
	agent.token = d->flags.token;
	agent.log = on_registrar_log;

	d->reg = registrar_new(&svc, &agent, &rc);
	if (!d->reg) {
		log_line("error", "demo", "event=start-failed error=\"%s\"",
			 registrar_strerror(rc));
		return -1;
	}
	rc = registrar_start(d->reg);
	if (rc == REGISTRAR_EUNREACHABLE) {
		/* The registrar keeps trying and registers once the agent
		 * answers; the service itself is fine meanwhile. */
		return 0;
	}
	if (rc != REGISTRAR_OK) {
		log_line("error", "demo",
			 "event=register-failed id=%s error=\"%s\"", d->id,
			 registrar_strerror(rc));
		return -1;
	}
	return 0;
}

static void demo_clear(struct demo *d)
{
	registrar_free(d->reg);
	if (d->drain)
		event_free(d->drain);
	if (d->sigint)
		event_free(d->sigint);
	if (d->sigterm)
		event_free(d->sigterm);
	if (d->http)
		evhttp_free(d->http);
	if (d->base)
		event_base_free(d->base);
	for (size_t i = 0; i < d->ntags; i++)
		free(d->tags[i]);
	free(d->tags);
	free(d->tags_text);
	free(d->id);
	free(d->check_url);
	demo_flags_clear(&d->flags);
}

int main(int argc, char **argv)
{
	struct demo d;
	char err[512];
	int status = 1;

	memset(&d, 0, sizeof(d));
	d.prog = "switchyard-demo";
	if (argc > 0 && argv[0] && *argv[0]) {
		const char *slash = strrchr(argv[0], '/');

		d.prog = slash && slash[1] ? slash + 1 : argv[0];
	}
	if (demo_flags_parse(&d.flags, argc, argv, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", d.prog, err);
		fprintf(stderr, "Run '%s -h' for the flags.\n", d.prog);
		demo_flags_clear(&d.flags);
		return 2;
	}
	if (d.flags.help) {
		demo_flags_usage(stdout, d.prog);
		demo_flags_clear(&d.flags);
		return 0;
	}
	if (demo_addr_split(d.flags.addr, d.host, sizeof(d.host), &d.port) != 0) {
		fprintf(stderr, "%s: invalid -addr %s\n", d.prog, d.flags.addr);
		demo_flags_clear(&d.flags);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);

	d.base = event_base_new();
	d.http = d.base ? evhttp_new(d.base) : NULL;
	if (!d.http || join_tags(&d) != 0) {
		log_line("error", "demo", "event=start-failed error=\"out of memory\"");
		goto out;
	}
	evhttp_set_gencb(d.http, on_request, &d);
	evhttp_set_allowed_methods(d.http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
				   EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
				   EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
				   EVHTTP_REQ_PATCH);
	if (listen_http(&d) != 0) {
		log_line("error", "demo", "event=listen-failed addr=%s error=\"%s\"",
			 d.flags.addr, strerror(errno));
		goto out;
	}
	d.sigint = evsignal_new(d.base, SIGINT, on_signal, &d);
	d.sigterm = evsignal_new(d.base, SIGTERM, on_signal, &d);
	if (!d.sigint || !d.sigterm || event_add(d.sigint, NULL) != 0 ||
	    event_add(d.sigterm, NULL) != 0) {
		log_line("error", "demo", "event=start-failed error=\"signals\"");
		goto out;
	}
	log_line("info", "demo", "event=listening addr=%s name=%s tags=%s",
		 d.addr, d.flags.name, d.tags_text);
	if (start_registrar(&d) != 0)
		goto out;
	event_base_dispatch(d.base);
	status = 0;
	log_line("info", "demo", "event=exit");
out:
	demo_clear(&d);
	return status;
}
