/*
 * check_consul_http.c - consul_http and consul_api against an in-process
 * evhttp server on 127.0.0.1 (port 0), run on a thread of its own because
 * the client's calls block. The server records every request (method,
 * URI, token, content type, body, peer port) and answers by path, or with
 * a status the test forces.
 */
#include "registry-client/consul_api.h"
#include "registry-client/consul_http.h"
#include "tests/check_main.h"
#include "tests/check_port.h"

#include <check.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_SEEN 64

struct seen {
	char method[16];
	char uri[1024];
	char token[128];        /* "" when no X-Consul-Token */
	int has_token;
	char content_type[64];
	unsigned char body[256];
	size_t body_len;
	unsigned peer_port;
};

static struct {
	pthread_mutex_t lock;
	struct seen seen[MAX_SEEN];
	size_t nseen;
	int force_status;       /* answer the next request with this */
	char force_body[256];
} srv = {.lock = PTHREAD_MUTEX_INITIALIZER};

static struct event_base *srv_base;
static struct evhttp *srv_http;
static pthread_t srv_thread;
static int srv_port;

static const char *method_name(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	default:
		return "OTHER";
	}
}

static void reply(struct evhttp_request *req, int code, const char *body,
		  size_t len)
{
	struct evbuffer *b = evbuffer_new();

	if (len)
		evbuffer_add(b, body, len);
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Status", b);
	evbuffer_free(b);
}

static void reply_str(struct evhttp_request *req, int code, const char *body)
{
	reply(req, code, body, strlen(body));
}

static void add_header(struct evhttp_request *req, const char *k, const char *v)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), k, v);
}

/* The value of ?name= in the URI, or NULL. */
static const char *query_param(struct evhttp_request *req, const char *name,
			       struct evkeyvalq *q)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *qs = evhttp_uri_get_query(u);

	if (!qs || evhttp_parse_query_str(qs, q) != 0)
		return NULL;
	return evhttp_find_header(q, name);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	const char *method = method_name(evhttp_request_get_command(req));
	const char *uri = evhttp_request_get_uri(req);
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evbuffer *body = evhttp_request_get_input_buffer(req);
	const char *tok = evhttp_find_header(in, "X-Consul-Token");
	const char *ct = evhttp_find_header(in, "Content-Type");
	struct evkeyvalq q = {0};
	struct seen *s;
	int force = 0;
	char force_body[256];
	char *peer_addr = NULL;
	ev_uint16_t peer_port = 0;

	evhttp_connection_get_peer(evhttp_request_get_connection(req), &peer_addr,
				   &peer_port);
	pthread_mutex_lock(&srv.lock);
	if (srv.nseen < MAX_SEEN) {
		s = &srv.seen[srv.nseen++];
		memset(s, 0, sizeof(*s));
		snprintf(s->method, sizeof(s->method), "%s", method);
		snprintf(s->uri, sizeof(s->uri), "%s", uri);
		s->has_token = tok != NULL;
		snprintf(s->token, sizeof(s->token), "%s", tok ? tok : "");
		snprintf(s->content_type, sizeof(s->content_type), "%s", ct ? ct : "");
		s->body_len = evbuffer_get_length(body);
		evbuffer_copyout(body, s->body,
				 s->body_len < sizeof(s->body) ? s->body_len : sizeof(s->body));
		s->peer_port = peer_port;
	}
	if (srv.force_status) {
		force = srv.force_status;
		memcpy(force_body, srv.force_body, sizeof(force_body));
		srv.force_status = 0;
	}
	pthread_mutex_unlock(&srv.lock);

	if (force) {
		reply_str(req, force, force_body);
		return;
	}
	if (!path)
		path = "";
	if (strcmp(path, "/v1/test/headers") == 0) {
		/* Odd cases, as proxies and other servers may send them. */
		add_header(req, "x-consul-index", "42");
		add_header(req, "X-CONSUL-CONTENTHASH", "abc123");
		reply_str(req, 200, "{}");
	} else if (strcmp(path, "/v1/test/index") == 0) {
		const char *v = query_param(req, "v", &q);
		add_header(req, "X-Consul-Index", v ? v : "");
		reply_str(req, 200, "[]");
	} else if (strcmp(path, "/v1/test/big") == 0 ||
		   strcmp(path, "/v1/test/chunked") == 0) {
		const char *v = query_param(req, "size", &q);
		size_t n = v ? strtoul(v, NULL, 10) : 0;
		char *b = malloc(n + 1);
		memset(b, 'x', n);
		if (strcmp(path, "/v1/test/big") == 0) {
			reply(req, 200, b, n);
		} else {
			struct evbuffer *chunk = evbuffer_new();
			evhttp_send_reply_start(req, 200, "OK");
			for (size_t off = 0; off < n; off += 100) {
				evbuffer_add(chunk, b + off, n - off < 100 ? n - off : 100);
				evhttp_send_reply_chunk(req, chunk);
			}
			evhttp_send_reply_end(req);
			evbuffer_free(chunk);
		}
		free(b);
	} else if (strcmp(path, "/v1/agent/self") == 0) {
		reply_str(req, 200, "{\"Config\":{\"Datacenter\":\"dc1\",\"NodeName\":\"devbox\","
				    "\"Version\":\"1.17.0\"},\"Coord\":null}");
	} else if (strcmp(path, "/v1/agent/service/web-1") == 0) {
		reply_str(req, 200, "{\"ID\":\"web-1\",\"Service\":\"web\"}");
	} else if (strncmp(path, "/v1/agent/service/", 18) == 0 &&
		   strcmp(method, "GET") == 0) {
		reply_str(req, 404, "unknown service ID: nope");
	} else if (strncmp(path, "/v1/agent/", 10) == 0) {
		/* Every agent write: PUT, as Consul 1.0 and later insist. */
		if (strcmp(method, "PUT") != 0) {
			add_header(req, "Allow", "OPTIONS,PUT");
			reply_str(req, 405, "method not allowed");
		} else {
			reply(req, 200, "", 0);
		}
	} else if (strcmp(path, "/v1/catalog/services") == 0) {
		add_header(req, "X-Consul-Index", "5");
		reply_str(req, 200, "{\"consul\":[],\"web\":[\"urlprefix-/web\"]}");
	} else if (strcmp(path, "/v1/health/service/web") == 0) {
		add_header(req, "X-Consul-Index", "77");
		reply_str(req, 200, "[{\"Node\":{\"Node\":\"devbox\",\"Address\":\"127.0.0.1\"},"
				    "\"Service\":{\"ID\":\"web-1\",\"Service\":\"web\",\"Port\":8080},"
				    "\"Checks\":[]}]");
	} else if (strcmp(path, "/v1/health/state/critical") == 0) {
		add_header(req, "X-Consul-Index", "8");
		reply_str(req, 200, "[{\"CheckID\":\"c\",\"Status\":\"critical\"}]");
	} else if (strcmp(path, "/v1/kv/cfg/a") == 0 && strcmp(method, "GET") == 0) {
		add_header(req, "X-Consul-Index", "9");
		reply_str(req, 200, "[{\"Key\":\"cfg/a\",\"Value\":\"aGk=\",\"Flags\":0,"
				    "\"CreateIndex\":8,\"ModifyIndex\":9}]");
	} else if (strncmp(path, "/v1/kv/", 7) == 0 && strcmp(method, "GET") == 0) {
		add_header(req, "X-Consul-Index", "12");
		reply(req, 404, "", 0);
	} else if (strncmp(path, "/v1/kv/", 7) == 0) {
		const char *cas = query_param(req, "cas", &q);
		reply_str(req, 200, cas && strcmp(cas, "0") == 0 ? "false" : "true");
	} else {
		reply_str(req, 404, "Invalid URL path: not a recognized HTTP API endpoint\n");
	}
	evhttp_clear_headers(&q);
}

static void *srv_main(void *arg)
{
	event_base_dispatch(srv_base);
	return NULL;
}

static void srv_start(void)
{
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);

	srv_base = event_base_new();
	ck_assert_ptr_nonnull(srv_base);
	srv_http = evhttp_new(srv_base);
	evhttp_set_allowed_methods(srv_http, EVHTTP_REQ_GET | EVHTTP_REQ_PUT |
				   EVHTTP_REQ_POST | EVHTTP_REQ_DELETE |
				   EVHTTP_REQ_HEAD);
	evhttp_set_gencb(srv_http, on_request, NULL);
	bs = evhttp_bind_socket_with_handle(srv_http, "127.0.0.1", 0);
	ck_assert_ptr_nonnull(bs);
	ck_assert_int_eq(getsockname(evhttp_bound_socket_get_fd(bs),
				     (struct sockaddr *)&sin, &slen), 0);
	srv_port = ntohs(sin.sin_port);
	pthread_mutex_lock(&srv.lock);
	srv.nseen = 0;
	srv.force_status = 0;
	pthread_mutex_unlock(&srv.lock);
	ck_assert_int_eq(pthread_create(&srv_thread, NULL, srv_main, NULL), 0);
}

static void srv_stop(void)
{
	/* loopexit, not loopbreak: it is an event, so it also stops a loop
	 * that has not started yet. */
	event_base_loopexit(srv_base, NULL);
	pthread_join(srv_thread, NULL);
	evhttp_free(srv_http);
	event_base_free(srv_base);
}

static void force_next(int status, const char *body)
{
	pthread_mutex_lock(&srv.lock);
	srv.force_status = status;
	snprintf(srv.force_body, sizeof(srv.force_body), "%s", body);
	pthread_mutex_unlock(&srv.lock);
}

/* A copy of the i-th request seen; i < 0 counts from the end. */
static struct seen seen_at(int i)
{
	struct seen s;

	pthread_mutex_lock(&srv.lock);
	if (i < 0)
		i += (int)srv.nseen;
	ck_assert_msg(i >= 0 && (size_t)i < srv.nseen, "no request %d", i);
	s = srv.seen[i];
	pthread_mutex_unlock(&srv.lock);
	return s;
}

static size_t seen_count(void)
{
	size_t n;

	pthread_mutex_lock(&srv.lock);
	n = srv.nseen;
	pthread_mutex_unlock(&srv.lock);
	return n;
}

static struct consul_client *client_with(const char *token, const char *dc,
					 enum consul_consistency cons,
					 size_t max_body)
{
	char addr[64];
	struct consul_config cfg = {0};

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", srv_port);
	cfg.address = addr;
	cfg.token = token;
	cfg.datacenter = dc;
	cfg.consistency = cons;
	cfg.max_body = max_body;
	cfg.timeout_ms = 5000;
	return consul_client_new(&cfg);
}

static struct consul_client *client_plain(void)
{
	struct consul_client *c = client_with(NULL, NULL, CONSUL_CONSISTENCY_DEFAULT, 0);
	ck_assert_ptr_nonnull(c);
	return c;
}

static void setup(void)
{
	srv_start();
}

static void teardown(void)
{
	srv_stop();
}

/* ---- transport ---- */

START_TEST(test_header_case)
{
	struct consul_client *c = client_plain();
	struct consul_response r;

	ck_assert_int_eq(consul_request(c, "GET", "/v1/test/headers", NULL, NULL, 0,
					0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.has_index, 1);
	ck_assert_uint_eq(r.index, 42);
	ck_assert_str_eq(r.content_hash, "abc123");
	ck_assert_str_eq(r.body, "{}");
	ck_assert_uint_eq(r.body_len, 2);
	consul_response_clear(&r);
	ck_assert_ptr_null(r.body);
	consul_client_free(c);
}
END_TEST

/* X-Consul-Index is strict decimal; anything else counts as absent. */
START_TEST(test_index_strict)
{
	static const struct {
		const char *v;
		int has;
		uint64_t idx;
	} cases[] = {
		{"7", 1, 7},
		{"18446744073709551615", 1, UINT64_MAX},
		{"9007199254740993", 1, 9007199254740993ull},
		{"18446744073709551616", 0, 0},
		{"-1", 0, 0},
		{"%2B5", 0, 0},  /* "+5" */
		{"12abc", 0, 0},
		{"0x10", 0, 0},
		{"", 0, 0},
		{"1%202", 0, 0}, /* "1 2" */
	};
	struct consul_client *c = client_plain();

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char q[64];
		struct consul_response r;
		snprintf(q, sizeof(q), "v=%s", cases[i].v);
		ck_assert_int_eq(consul_request(c, "GET", "/v1/test/index", q, NULL,
						0, 0, &r), 0);
		ck_assert_msg(r.has_index == cases[i].has, "\"%s\": has_index %d",
			      cases[i].v, r.has_index);
		ck_assert_msg(r.index == cases[i].idx, "\"%s\": index %llu", cases[i].v,
			      (unsigned long long)r.index);
		consul_response_clear(&r);
	}
	consul_client_free(c);
}
END_TEST

START_TEST(test_token_header)
{
	struct consul_client *c = client_with("s3cr3t-token", NULL,
					      CONSUL_CONSISTENCY_DEFAULT, 0);
	struct consul_response r;
	struct seen s;

	ck_assert_int_eq(consul_request(c, "GET", "/v1/agent/self", NULL, NULL, 0,
					0, &r), 0);
	consul_response_clear(&r);
	s = seen_at(-1);
	ck_assert_int_eq(s.has_token, 1);
	ck_assert_str_eq(s.token, "s3cr3t-token");
	consul_client_free(c);

	c = client_plain();
	ck_assert_int_eq(consul_request(c, "GET", "/v1/agent/self", NULL, NULL, 0,
					0, &r), 0);
	consul_response_clear(&r);
	ck_assert_int_eq(seen_at(-1).has_token, 0);
	consul_client_free(c);

	/* A token that would add header lines of its own is refused. */
	ck_assert_ptr_null(client_with("a\r\nX-Evil: 1", NULL,
				       CONSUL_CONSISTENCY_DEFAULT, 0));
}
END_TEST

START_TEST(test_dc_and_consistency)
{
	struct consul_client *c = client_with(NULL, "east 1", CONSUL_CONSISTENCY_STALE, 0);
	struct consul_response r;

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(consul_request(c, "GET", "/v1/catalog/services", "x=1", NULL,
					0, CONSUL_READ, &r), 0);
	consul_response_clear(&r);
	ck_assert_str_eq(seen_at(-1).uri, "/v1/catalog/services?x=1&dc=east%201&stale=");
	/* Not a read: no consistency flag. */
	ck_assert_int_eq(consul_request(c, "PUT", "/v1/agent/maintenance", "enable=true",
					NULL, 0, 0, &r), 0);
	consul_response_clear(&r);
	ck_assert_str_eq(seen_at(-1).uri, "/v1/agent/maintenance?enable=true&dc=east%201");
	consul_client_free(c);

	c = client_with(NULL, NULL, CONSUL_CONSISTENCY_CONSISTENT, 0);
	ck_assert_int_eq(consul_request(c, "GET", "/v1/catalog/services", NULL, NULL,
					0, CONSUL_READ, &r), 0);
	consul_response_clear(&r);
	ck_assert_str_eq(seen_at(-1).uri, "/v1/catalog/services?consistent=");
	consul_client_free(c);
}
END_TEST

START_TEST(test_max_body)
{
	struct consul_client *c = client_with(NULL, NULL, CONSUL_CONSISTENCY_DEFAULT, 1000);
	const char *paths[] = {"/v1/test/big", "/v1/test/chunked"};
	struct consul_response r;

	for (int p = 0; p < 2; p++) {
		ck_assert_int_eq(consul_request(c, "GET", paths[p], "size=1000", NULL,
						0, 0, &r), 0);
		ck_assert_uint_eq(r.body_len, 1000);
		ck_assert_int_eq(r.truncated, 0);
		consul_response_clear(&r);
		ck_assert_int_eq(consul_request(c, "GET", paths[p], "size=1001", NULL,
						0, 0, &r), -EMSGSIZE);
		ck_assert_int_eq(r.truncated, 1);
		ck_assert_uint_le(r.body_len, 1000);
		consul_response_clear(&r);
		ck_assert_int_eq(consul_request(c, "GET", paths[p], "size=5000000", NULL,
						0, 0, &r), -EMSGSIZE);
		ck_assert_int_eq(r.truncated, 1);
		ck_assert_uint_le(r.body_len, 1000);
		consul_response_clear(&r);
		/* The client is still usable afterwards. */
		ck_assert_int_eq(consul_request(c, "GET", paths[p], "size=10", NULL,
						0, 0, &r), 0);
		ck_assert_uint_eq(r.body_len, 10);
		consul_response_clear(&r);
	}
	/* An empty body is NULL. */
	ck_assert_int_eq(consul_request(c, "GET", "/v1/test/big", "size=0", NULL, 0,
					0, &r), 0);
	ck_assert_ptr_null(r.body);
	ck_assert_uint_eq(r.body_len, 0);
	consul_response_clear(&r);
	consul_client_free(c);
}
END_TEST

/* Synchronous calls reuse one connection. */
START_TEST(test_keep_alive)
{
	struct consul_client *c = client_plain();
	struct consul_response r;

	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(consul_request(c, "GET", "/v1/agent/self", NULL, NULL,
						0, 0, &r), 0);
		consul_response_clear(&r);
	}
	ck_assert_uint_eq(seen_at(0).peer_port, seen_at(2).peer_port);
	consul_client_free(c);
}
END_TEST

START_TEST(test_no_answer)
{
	struct consul_config cfg = {0};
	struct consul_client *c;
	struct consul_response r;
	char addr[64];

	snprintf(addr, sizeof(addr), "http://127.0.0.1:%d", check_unused_port());
	cfg.address = addr;
	cfg.timeout_ms = 2000;
	c = consul_client_new(&cfg);
	ck_assert_int_eq(consul_request(c, "GET", "/v1/agent/self", NULL, NULL, 0, 0,
					&r), -EIO);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_null(r.body);
	ck_assert(r.error[0] != '\0');
	consul_response_clear(&r);
	ck_assert_int_eq(consul_agent_self(c, &(struct consul_self){0}), -EIO);
	ck_assert(strncmp(consul_api_last_error(c), "GET /v1/agent/self: ", 20) == 0);
	consul_client_free(c);

	/* https to a plain HTTP server: the handshake fails, no answer. */
	snprintf(addr, sizeof(addr), "https://127.0.0.1:%d", srv_port);
	cfg.address = addr;
	cfg.ca_file = "/nonexistent/ca.pem";
	c = consul_client_new(&cfg);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(consul_client_base_url(c), addr);
	ck_assert_int_eq(consul_request(c, "GET", "/v1/agent/self", NULL, NULL, 0, 0,
					&r), -EIO);
	consul_response_clear(&r);
	consul_client_free(c);

	/* Paths must be API paths. */
	c = client_plain();
	ck_assert_int_eq(consul_request(c, "GET", "/etc/passwd", NULL, NULL, 0, 0, &r),
			 -EINVAL);
	ck_assert_int_eq(consul_request(c, "GET", "/v1/a b", NULL, NULL, 0, 0, &r),
			 -EINVAL);
	consul_response_clear(&r);
	consul_client_free(c);
}
END_TEST

START_TEST(test_addresses)
{
	static const struct {
		const char *in, *url;
	} cases[] = {
		{NULL, "http://127.0.0.1:8500"},
		{"", "http://127.0.0.1:8500"},
		{"127.0.0.1:8500", "http://127.0.0.1:8500"},
		{"localhost", "http://localhost"},
		{"http://consul.service:8500/", "http://consul.service:8500"},
		{"HTTPS://consul.example:8501", "https://consul.example:8501"},
		{"[::1]:8500", "http://[::1]:8500"},
		{"https://[fe80::1]", "https://[fe80::1]"},
		{"ftp://x:1", NULL},
		{"unix:///tmp/consul.sock", NULL},
		{"http://", NULL},
		{":8500", NULL},
		{"host:0", NULL},
		{"host:65536", NULL},
		{"host:12ab", NULL},
		{"host:", NULL},
		{"a b:1", NULL},
		{"host:1/path", NULL},
		{"user@host:1", NULL},
		{"[::1", NULL},
		{"[]:1", NULL},
		{"[::1]x", NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct consul_config cfg = {.address = cases[i].in};
		struct consul_client *c = consul_client_new(&cfg);
		if (!cases[i].url) {
			ck_assert_msg(c == NULL, "accepted \"%s\"", cases[i].in);
			continue;
		}
		ck_assert_msg(c != NULL, "refused \"%s\"", cases[i].in ? cases[i].in : "(null)");
		ck_assert_str_eq(consul_client_base_url(c), cases[i].url);
		consul_client_free(c);
	}
	struct consul_client *c = consul_client_new(NULL);
	ck_assert_str_eq(consul_client_base_url(c), "http://127.0.0.1:8500");
	consul_client_free(c);
	consul_client_free(NULL);
}
END_TEST

START_TEST(test_escaping)
{
	static const struct {
		char *(*escape)(const char *);
		const char *in, *want;
	} cases[] = {
		{consul_escape_segment, "a b/c?d%e&f=g+h~._-#",
		 "a%20b%2Fc%3Fd%25e%26f%3Dg%2Bh~._-%23"},
		{consul_escape_segment, "caf\xc3\xa9\n", "caf%C3%A9%0A"},
		{consul_escape_segment, "", ""},
		{consul_escape_key, "/fabio/config/a b?", "fabio/config/a%20b%3F"},
		{consul_escape_key, "//x//y/", "x//y/"},
		{consul_escape_key, "", ""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = cases[i].escape(cases[i].in);

		ck_assert_str_eq(s, cases[i].want);
		free(s);
	}
	ck_assert_ptr_null(consul_escape_segment(NULL));
	ck_assert_ptr_null(consul_escape_key(NULL));
}
END_TEST

/* ---- consul_api ---- */

START_TEST(test_api_error_mapping)
{
	static const struct {
		int status;
		const char *body;
		int err;
		const char *text;
	} cases[] = {
		{400, "Missing service name", -EINVAL,
		 "PUT /v1/agent/service/register: 400 Missing service name"},
		{403, "ACL not found", -EACCES,
		 "PUT /v1/agent/service/register: 403 ACL not found"},
		{404, "Unknown service ID \"x\".", -ENOENT,
		 "PUT /v1/agent/service/register: 404 Unknown service ID \"x\"."},
		{500, "boom\n", -EREMOTEIO, "PUT /v1/agent/service/register: 500 boom"},
		{429, "", -EREMOTEIO, "PUT /v1/agent/service/register: 429"},
		{201, "", -EREMOTEIO, "PUT /v1/agent/service/register: 201"},
		{503, "line1\nline2", -EREMOTEIO,
		 "PUT /v1/agent/service/register: 503 line1?line2"},
	};
	struct consul_client *c = client_plain();
	struct consul_registration reg = {.name = "web", .port = 8080};

	ck_assert_str_eq(consul_api_last_error(c), "");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		force_next(cases[i].status, cases[i].body);
		ck_assert_int_eq(consul_agent_service_register(c, &reg, 0), cases[i].err);
		ck_assert_str_eq(consul_api_last_error(c), cases[i].text);
	}
	ck_assert_int_eq(consul_agent_service_register(c, &reg, 0), 0);

	/* 200 with a body that is not what was asked for. */
	force_next(200, "<html>oops</html>");
	ck_assert_int_eq(consul_health_service(c, "web", 0,
					       &(struct consul_service_list){0}, NULL),
			 -EPROTO);
	ck_assert_str_eq(consul_api_last_error(c),
			 "GET /v1/health/service/web: invalid JSON at byte 0");
	force_next(200, "[{\"Node\":{\"Node\":\"n\"},\"Service\":{\"ID\":\"a\",\"Service\":\"s\",\"Port\":\"80\"}}]");
	ck_assert_int_eq(consul_health_service(c, "web", 0,
					       &(struct consul_service_list){0}, NULL),
			 -EPROTO);
	ck_assert_str_eq(consul_api_last_error(c),
			 "GET /v1/health/service/web: [0].Service.Port: not a number");
	/* A deregister of an unknown service. */
	force_next(404, "Unknown service ID \"nope\". Ensure that the service ID is passed, not the service name.");
	ck_assert_int_eq(consul_agent_service_deregister(c, "nope"), -ENOENT);
	ck_assert(strstr(consul_api_last_error(c), "PUT /v1/agent/service/deregister/nope: 404") != NULL);
	consul_client_free(c);

	/* Over the body limit. */
	c = client_with(NULL, NULL, CONSUL_CONSISTENCY_DEFAULT, 10);
	ck_assert_int_eq(consul_agent_self(c, &(struct consul_self){0}), -EMSGSIZE);
	ck_assert_str_eq(consul_api_last_error(c),
			 "GET /v1/agent/self: answer over the body limit");
	consul_client_free(c);
}
END_TEST

/* Every agent write is a PUT with the documented query; KV deletes are
 * DELETE; bodies carry the right content type. */
START_TEST(test_api_writes_use_put)
{
	struct consul_client *c = client_plain();
	const char *tags[] = {"urlprefix-/web"};
	struct consul_check_def ttl = {.kind = CONSUL_CHECK_TTL, .ttl_ms = 10000};
	struct consul_registration reg = {.id = "web-1", .name = "web", .port = 8080,
					  .tags = tags, .ntags = 1, .checks = &ttl,
					  .nchecks = 1};
	static const unsigned char bin[] = {'a', 0, 0xff, '\n', 'b'};
	uint64_t cas0 = 0, cas5 = 5;
	int ok = -1;
	size_t first = seen_count();
	struct seen s;

	ck_assert_int_eq(consul_agent_service_register(c, &reg, 1), 0);
	ck_assert_int_eq(consul_agent_service_deregister(c, "web 1/x"), 0);
	ck_assert_int_eq(consul_agent_service_maintenance(c, "web-1", 1, "deploy now"), 0);
	ck_assert_int_eq(consul_agent_service_maintenance(c, "web-1", 0, NULL), 0);
	ck_assert_int_eq(consul_agent_node_maintenance(c, 1, "r&d"), 0);
	ck_assert_int_eq(consul_agent_check_ttl(c, "service:web-1", CONSUL_STATUS_PASSING, NULL), 0);
	ck_assert_int_eq(consul_agent_check_ttl(c, "c1", CONSUL_STATUS_WARNING, "slow"), 0);
	ck_assert_int_eq(consul_agent_check_ttl(c, "c1", CONSUL_STATUS_CRITICAL, "down"), 0);
	ck_assert_int_eq(consul_agent_check_update(c, "c1", CONSUL_STATUS_PASSING, "fine"), 0);
	ck_assert_int_eq(consul_kv_put(c, "dir/a b?c", bin, sizeof(bin), NULL, &ok), 0);
	ck_assert_int_eq(ok, 1);
	ck_assert_int_eq(consul_kv_put(c, "/dir/new", "v", 1, &cas0, &ok), 0);
	ck_assert_int_eq(ok, 0); /* the server says false to cas=0 */
	ck_assert_int_eq(consul_kv_put(c, "dir/empty", NULL, 0, &cas5, NULL), 0);
	ck_assert_int_eq(consul_kv_delete(c, "dir", 1, NULL, &ok), 0);
	ck_assert_int_eq(ok, 1);
	ck_assert_int_eq(consul_kv_delete(c, "dir/a", 0, &cas5, &ok), 0);

	static const struct {
		const char *method, *uri, *ctype;
	} want[] = {
		{"PUT", "/v1/agent/service/register?replace-existing-checks=true", "application/json"},
		{"PUT", "/v1/agent/service/deregister/web%201%2Fx", ""},
		{"PUT", "/v1/agent/service/maintenance/web-1?enable=true&reason=deploy%20now", ""},
		{"PUT", "/v1/agent/service/maintenance/web-1?enable=false", ""},
		{"PUT", "/v1/agent/maintenance?enable=true&reason=r%26d", ""},
		{"PUT", "/v1/agent/check/pass/service%3Aweb-1?note=", ""},
		{"PUT", "/v1/agent/check/warn/c1?note=slow", ""},
		{"PUT", "/v1/agent/check/fail/c1?note=down", ""},
		{"PUT", "/v1/agent/check/update/c1", "application/json"},
		{"PUT", "/v1/kv/dir/a%20b%3Fc", "application/octet-stream"},
		{"PUT", "/v1/kv/dir/new?cas=0", "application/octet-stream"},
		{"PUT", "/v1/kv/dir/empty?cas=5", "application/octet-stream"},
		{"DELETE", "/v1/kv/dir?recurse=", ""},
		{"DELETE", "/v1/kv/dir/a?cas=5", ""},
	};
	ck_assert_uint_eq(seen_count() - first, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		s = seen_at((int)(first + i));
		ck_assert_str_eq(s.method, want[i].method);
		ck_assert_str_eq(s.uri, want[i].uri);
		ck_assert_str_eq(s.content_type, want[i].ctype);
	}
	/* The bodies: the registration JSON, the check update, raw KV bytes. */
	s = seen_at((int)first);
	ck_assert(strstr((char *)s.body, "\"Name\":\"web\"") != NULL);
	ck_assert(strstr((char *)s.body, "\"TTL\":\"10s\"") != NULL);
	s = seen_at((int)first + 1);
	ck_assert_uint_eq(s.body_len, 0);
	s = seen_at((int)first + 8);
	ck_assert_uint_eq(s.body_len, strlen("{\"Status\":\"passing\",\"Output\":\"fine\"}"));
	ck_assert_mem_eq(s.body, "{\"Status\":\"passing\",\"Output\":\"fine\"}", s.body_len);
	s = seen_at((int)first + 9);
	ck_assert_uint_eq(s.body_len, sizeof(bin));
	ck_assert_mem_eq(s.body, bin, sizeof(bin));
	s = seen_at((int)first + 11);
	ck_assert_uint_eq(s.body_len, 0);

	/* Arguments refused before anything is sent. */
	size_t before = seen_count();
	ck_assert_int_eq(consul_agent_service_register(c, &(struct consul_registration){0}, 0),
			 -EINVAL);
	ck_assert(strstr(consul_api_last_error(c), "invalid registration") != NULL);
	ck_assert_int_eq(consul_agent_service_deregister(c, ""), -EINVAL);
	ck_assert_int_eq(consul_agent_check_ttl(c, "c1", CONSUL_STATUS_MAINTENANCE, NULL), -EINVAL);
	ck_assert_int_eq(consul_agent_check_update(c, "c1", CONSUL_STATUS_UNKNOWN, NULL), -EINVAL);
	ck_assert_int_eq(consul_kv_put(c, "/", "x", 1, NULL, NULL), -EINVAL);
	ck_assert_int_eq(consul_kv_delete(c, "", 0, NULL, NULL), -EINVAL);
	ck_assert_int_eq(consul_health_state(c, "bogus", &(struct consul_check_list){0}, NULL),
			 -EINVAL);
	ck_assert_uint_eq(seen_count(), before);
	consul_client_free(c);
}
END_TEST

START_TEST(test_api_reads)
{
	struct consul_client *c = client_plain();
	struct consul_self self;
	struct consul_service_list sl;
	struct consul_catalog cat;
	struct consul_check_list cl;
	struct consul_kv_entry e;
	struct consul_kv_list kl;
	uint64_t idx = 0;

	ck_assert_int_eq(consul_agent_self(c, &self), 0);
	ck_assert_str_eq(self.datacenter, "dc1");
	ck_assert_str_eq(self.node_name, "devbox");
	consul_self_clear(&self);
	ck_assert_str_eq(seen_at(-1).method, "GET");

	ck_assert_int_eq(consul_health_service(c, "web", 1, &sl, &idx), 0);
	ck_assert_uint_eq(idx, 77);
	ck_assert_uint_eq(sl.n, 1);
	ck_assert_int_eq(sl.v[0].port, 8080);
	consul_service_list_clear(&sl);
	ck_assert_str_eq(seen_at(-1).uri, "/v1/health/service/web?passing=1");

	ck_assert_int_eq(consul_catalog_services(c, &cat, &idx), 0);
	ck_assert_uint_eq(idx, 5);
	ck_assert_uint_eq(cat.n, 2);
	consul_catalog_clear(&cat);
	ck_assert_int_eq(consul_catalog_services(c, &cat, NULL), 0);
	consul_catalog_clear(&cat);

	ck_assert_int_eq(consul_health_state(c, "critical", &cl, &idx), 0);
	ck_assert_uint_eq(idx, 8);
	ck_assert_int_eq(cl.v[0].status, CONSUL_STATUS_CRITICAL);
	consul_check_list_clear(&cl);

	ck_assert_int_eq(consul_kv_get(c, "cfg/a", &e, &idx), 0);
	ck_assert_uint_eq(idx, 9);
	ck_assert_str_eq(e.key, "cfg/a");
	ck_assert_uint_eq(e.value_len, 2);
	ck_assert_str_eq((char *)e.value, "hi");
	consul_kv_entry_clear(&e);
	consul_kv_entry_clear(&e);
	consul_kv_entry_clear(NULL);

	/* A missing key: -ENOENT, and still the index to block on. */
	idx = 0;
	ck_assert_int_eq(consul_kv_get(c, "cfg/missing", &e, &idx), -ENOENT);
	ck_assert_uint_eq(idx, 12);
	ck_assert_ptr_null(e.key);
	/* Nothing under a prefix: an empty list. */
	idx = 0;
	ck_assert_int_eq(consul_kv_list(c, "fabio/config", &kl, &idx), 0);
	ck_assert_uint_eq(kl.n, 0);
	ck_assert_uint_eq(idx, 12);
	ck_assert_str_eq(seen_at(-1).uri, "/v1/kv/fabio/config?recurse=");
	consul_kv_list_clear(&kl);

	ck_assert_int_eq(consul_agent_service_exists(c, "web-1"), 0);
	ck_assert_int_eq(consul_agent_service_exists(c, "nope"), -ENOENT);
	ck_assert_str_eq(consul_api_last_error(c),
			 "GET /v1/agent/service/nope: 404 unknown service ID: nope");
	consul_client_free(c);
}
END_TEST

static Suite *http_suite(void)
{
	Suite *s = suite_create("consul_http");
	TCase *tc = tcase_create("transport");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_header_case);
	tcase_add_test(tc, test_index_strict);
	tcase_add_test(tc, test_token_header);
	tcase_add_test(tc, test_dc_and_consistency);
	tcase_add_test(tc, test_max_body);
	tcase_add_test(tc, test_keep_alive);
	tcase_add_test(tc, test_no_answer);
	tcase_add_test(tc, test_addresses);
	tcase_add_test(tc, test_escaping);
	suite_add_tcase(s, tc);

	tc = tcase_create("api");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_api_error_mapping);
	tcase_add_test(tc, test_api_writes_use_put);
	tcase_add_test(tc, test_api_reads);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* The server writes to clients that gave up early (max_body). */
	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();
	return check_main_run(http_suite());
}
