/*
 * check_registrar.c - libregistrar: argument and error paths, and its
 * behaviour against a small scripted agent that runs on a thread of the
 * test (fake_agent below), so every request the library makes can be
 * counted and every answer chosen: 404s of a forgetful agent, a 400
 * refusal, an agent that goes away and comes back on the same port.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include "registrar.h"

/* ---- time ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* A loopback port nothing listens on right now. */
static int free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	ck_assert_int_ge(fd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* ---- the scripted agent ---- */

struct fake_agent {
	pthread_t thread;
	struct event_base *base;
	struct evhttp *http;
	struct event *quit;
	int port;

	pthread_mutex_t mu;       /* guards everything below */
	int known;                /* the service is registered */
	int reject;               /* answer registrations with 400 */
	int maintenance;
	char reason[128];
	char token[128];          /* X-Consul-Token of the last request */
	char service_id[128];
	int registers, heartbeats, probes, maint_calls, deregisters;
	int64_t heartbeat_at[64]; /* when each heartbeat arrived */
	char heartbeat_id[64][64]; /* and the check it named */
	char *body;               /* the last registration body */
};

static void fake_reply(struct evhttp_request *req, int code, const char *text)
{
	struct evbuffer *b = evbuffer_new();

	evbuffer_add(b, text, strlen(text));
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", b);
	evbuffer_free(b);
}

static const char *after(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(path, prefix, n) == 0 ? path + n : NULL;
}

static void fake_on_request(struct evhttp_request *req, void *arg)
{
	struct fake_agent *a = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = evhttp_uri_get_path(uri), *query, *rest;
	const char *tok = evhttp_find_header(
		evhttp_request_get_input_headers(req), "X-Consul-Token");
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	int code = 404;
	const char *text = "not found";

	pthread_mutex_lock(&a->mu);
	snprintf(a->token, sizeof(a->token), "%s", tok ? tok : "");
	if (m == EVHTTP_REQ_PUT && strcmp(path, "/v1/agent/service/register") == 0) {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t len = evbuffer_get_length(in);

		if (a->reject) {
			code = 400;
			text = "Missing service name";
		} else {
			free(a->body);
			a->body = calloc(1, len + 1);
			evbuffer_copyout(in, a->body, len);
			a->known = 1;
			a->registers++;
			code = 200;
			text = "";
		}
	} else if (m == EVHTTP_REQ_GET &&
		   (rest = after(path, "/v1/agent/service/")) != NULL) {
		a->probes++;
		snprintf(a->service_id, sizeof(a->service_id), "%s", rest);
		if (a->known) {
			code = 200;
			text = "{}";
		} else {
			text = "unknown service ID";
		}
	} else if (m == EVHTTP_REQ_PUT &&
		   (rest = after(path, "/v1/agent/check/pass/")) != NULL) {
		if (a->known) {
			if (a->heartbeats < 64) {
				char *id = evhttp_uridecode(rest, 0, NULL);

				a->heartbeat_at[a->heartbeats] = now_ms();
				snprintf(a->heartbeat_id[a->heartbeats],
					 sizeof(a->heartbeat_id[0]), "%s",
					 id ? id : "");
				free(id);
			}
			a->heartbeats++;
			code = 200;
			text = "";
		}
	} else if (m == EVHTTP_REQ_PUT &&
		   after(path, "/v1/agent/service/maintenance/") != NULL) {
		struct evkeyvalq q;

		query = evhttp_uri_get_query(uri);
		evhttp_parse_query_str(query ? query : "", &q);
		if (a->known) {
			const char *en = evhttp_find_header(&q, "enable");
			const char *why = evhttp_find_header(&q, "reason");

			a->maint_calls++;
			a->maintenance = en && strcmp(en, "true") == 0;
			snprintf(a->reason, sizeof(a->reason), "%s",
				 why ? why : "");
			code = 200;
			text = "";
		}
		evhttp_clear_headers(&q);
	} else if (m == EVHTTP_REQ_PUT &&
		   after(path, "/v1/agent/service/deregister/") != NULL) {
		if (a->known) {
			a->known = 0;
			a->maintenance = 0;
			a->deregisters++;
			code = 200;
			text = "";
		}
	}
	pthread_mutex_unlock(&a->mu);
	fake_reply(req, code, text);
}

static void fake_on_quit(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static void *fake_main(void *arg)
{
	struct fake_agent *a = arg;

	event_base_dispatch(a->base);
	return NULL;
}

/* Serve on 127.0.0.1:port (0: any free port). */
static struct fake_agent *fake_start(int port)
{
	struct fake_agent *a = calloc(1, sizeof(*a));
	struct evhttp_bound_socket *s = NULL;

	ck_assert_ptr_nonnull(a);
	pthread_mutex_init(&a->mu, NULL);
	a->base = event_base_new();
	a->http = evhttp_new(a->base);
	evhttp_set_gencb(a->http, fake_on_request, a);
	/* The port was free a moment ago; give a TIME_WAIT a moment. */
	for (int i = 0; i < 100 && !s; i++) {
		s = evhttp_bind_socket_with_handle(a->http, "127.0.0.1",
						   (ev_uint16_t)port);
		if (!s)
			sleep_ms(20);
	}
	ck_assert_ptr_nonnull(s);
	if (port == 0) {
		struct sockaddr_in sa;
		socklen_t len = sizeof(sa);

		getsockname(evconnlistener_get_fd(
				    evhttp_bound_socket_get_listener(s)),
			    (struct sockaddr *)&sa, &len);
		port = ntohs(sa.sin_port);
	}
	a->port = port;
	a->quit = event_new(a->base, -1, 0, fake_on_quit, a->base);
	ck_assert_int_eq(pthread_create(&a->thread, NULL, fake_main, a), 0);
	return a;
}

static void fake_stop(struct fake_agent *a)
{
	if (!a)
		return;
	event_active(a->quit, 0, 0);
	pthread_join(a->thread, NULL);
	event_free(a->quit);
	evhttp_free(a->http);
	event_base_free(a->base);
	pthread_mutex_destroy(&a->mu);
	free(a->body);
	free(a);
}

/* An agent restart without state. */
static void fake_forget(struct fake_agent *a)
{
	pthread_mutex_lock(&a->mu);
	a->known = 0;
	a->maintenance = 0;
	pthread_mutex_unlock(&a->mu);
}

#define FAKE_GET(a, field) ({ \
	pthread_mutex_lock(&(a)->mu); \
	__typeof__((a)->field) v_ = (a)->field; \
	pthread_mutex_unlock(&(a)->mu); \
	v_; })

/* A copy of one of the agent's text fields, valid until the next call. */
static const char *fake_str(struct fake_agent *a, const char *field)
{
	static char buf[128];

	pthread_mutex_lock(&a->mu);
	snprintf(buf, sizeof(buf), "%s", field);
	pthread_mutex_unlock(&a->mu);
	return buf;
}

#define FAKE_STR(a, field) fake_str((a), (a)->field)

/* Poll until *counter reaches want or ms pass; returns the final value. */
static int fake_wait(struct fake_agent *a, const int *counter, int want, int ms)
{
	int64_t end = now_ms() + ms;
	int v;

	for (;;) {
		pthread_mutex_lock(&a->mu);
		v = *counter;
		pthread_mutex_unlock(&a->mu);
		if (v >= want || now_ms() > end)
			return v;
		sleep_ms(5);
	}
}

/* How many heartbeats named check id; the arrival times of the first max
 * of them go to at (when not NULL). */
static int fake_beats(struct fake_agent *a, const char *id, int64_t *at,
		      int max)
{
	int n = 0;

	pthread_mutex_lock(&a->mu);
	for (int i = 0; i < a->heartbeats && i < 64; i++) {
		if (strcmp(a->heartbeat_id[i], id) != 0)
			continue;
		if (at && n < max)
			at[n] = a->heartbeat_at[i];
		n++;
	}
	pthread_mutex_unlock(&a->mu);
	return n;
}

/* Whether every heartbeat so far was for id, read in one go (the
 * registrar keeps beating while the test looks). */
static int fake_beats_only(struct fake_agent *a, const char *id)
{
	int all = 1;

	pthread_mutex_lock(&a->mu);
	for (int i = 0; i < a->heartbeats && i < 64; i++)
		if (strcmp(a->heartbeat_id[i], id) != 0)
			all = 0;
	pthread_mutex_unlock(&a->mu);
	return all;
}

/* The last registration body, parsed; caller deletes. */
static cJSON *fake_body(struct fake_agent *a)
{
	cJSON *j;

	pthread_mutex_lock(&a->mu);
	j = a->body ? cJSON_Parse(a->body) : NULL;
	pthread_mutex_unlock(&a->mu);
	ck_assert_ptr_nonnull(j);
	return j;
}

/* ---- log capture ---- */

struct log_capture {
	pthread_mutex_t mu;
	char text[16384];
	size_t len;
};

static void capture_log(enum registrar_log_level level, const char *msg,
			void *arg)
{
	struct log_capture *c = arg;
	int n;

	(void)level;
	ck_assert_ptr_nonnull(msg);
	ck_assert_ptr_null(strchr(msg, '\n'));
	pthread_mutex_lock(&c->mu);
	n = snprintf(c->text + c->len, sizeof(c->text) - c->len, "%s\n", msg);
	if (n > 0 && (size_t)n < sizeof(c->text) - c->len)
		c->len += (size_t)n;
	pthread_mutex_unlock(&c->mu);
}

static int log_count(struct log_capture *c, const char *needle)
{
	int n = 0;

	pthread_mutex_lock(&c->mu);
	for (const char *p = c->text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	pthread_mutex_unlock(&c->mu);
	return n;
}

/* Lines from the background thread reach the callback a moment after
 * the request they describe: wait for them. */
static int log_wait(struct log_capture *c, const char *needle, int want,
		    int ms)
{
	int64_t end = now_ms() + ms;
	int n;

	while ((n = log_count(c, needle)) < want && now_ms() < end)
		sleep_ms(5);
	return n;
}

/* ---- helpers ---- */

static char agent_addr[64];

static struct registrar_agent agent_at(int port, struct log_capture *logs)
{
	struct registrar_agent ag;

	memset(&ag, 0, sizeof(ag));
	snprintf(agent_addr, sizeof(agent_addr), "127.0.0.1:%d", port);
	ag.address = agent_addr;
	if (logs) {
		ag.log = capture_log;
		ag.log_arg = logs;
	}
	return ag;
}

static struct registrar_service ttl_service(unsigned ttl_ms)
{
	static const char *const tags[] = { "urlprefix-/foo", "blue" };
	struct registrar_service s;

	memset(&s, 0, sizeof(s));
	s.name = "svc-a";
	s.id = "svc-a-1";
	s.address = "127.0.0.1";
	s.port = 5001;
	s.tags = tags;
	s.ntags = 2;
	s.check = REGISTRAR_CHECK_TTL;
	s.check_ttl_ms = ttl_ms;
	return s;
}

static int new_err(const struct registrar_service *s)
{
	struct registrar_agent ag = agent_at(1, NULL);
	int err = 12345;
	struct registrar *r = registrar_new(s, &ag, &err);

	if (r) {
		registrar_free(r);
		return REGISTRAR_OK;
	}
	return err;
}

/* "1s", "1000ms", "1m": Go durations as the encoder may write them. */
static long dur_ms(const cJSON *j)
{
	char *end;
	double v;

	if (!cJSON_IsString(j))
		return -1;
	v = strtod(j->valuestring, &end);
	if (strcmp(end, "ms") == 0)
		return (long)v;
	if (strcmp(end, "s") == 0)
		return (long)(v * 1000);
	if (strcmp(end, "m") == 0 || strcmp(end, "m0s") == 0)
		return (long)(v * 60000);
	return -1;
}

/* The one check of a registration body, in Check or Checks[0]. */
static const cJSON *body_check(const cJSON *body)
{
	const cJSON *c = cJSON_GetObjectItem(body, "Check");

	if (cJSON_IsObject(c))
		return c;
	c = cJSON_GetObjectItem(body, "Checks");
	ck_assert(cJSON_IsArray(c));
	ck_assert_int_eq(cJSON_GetArraySize(c), 1);
	return cJSON_GetArrayItem(c, 0);
}

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The two checks of a registration body with an extra TTL check, in the
 * order sent: "Checks" with exactly two elements, and no "Check". */
static void body_two_checks(const cJSON *body, const cJSON **first,
			    const cJSON **second)
{
	const cJSON *c = cJSON_GetObjectItem(body, "Checks");

	ck_assert(!cJSON_IsObject(cJSON_GetObjectItem(body, "Check")));
	ck_assert(cJSON_IsArray(c));
	ck_assert_int_eq(cJSON_GetArraySize(c), 2);
	*first = cJSON_GetArrayItem(c, 0);
	*second = cJSON_GetArrayItem(c, 1);
}

/* fabio's pair, scaled down: an extra TTL check first, an HTTP check
 * second, as its self-registration sends them. */
static void check_fabio_pair(const cJSON *body, const char *ttl_id,
			     long ttl_ms, long deregister_ms)
{
	const cJSON *ttl, *http;

	body_two_checks(body, &ttl, &http);
	ck_assert_str_eq(jstr(ttl, "CheckID"), ttl_id);
	ck_assert_int_eq(dur_ms(cJSON_GetObjectItem(ttl, "TTL")), ttl_ms);
	ck_assert_int_eq(dur_ms(cJSON_GetObjectItem(
		ttl, "DeregisterCriticalServiceAfter")), deregister_ms);
	ck_assert_ptr_null(cJSON_GetObjectItem(ttl, "HTTP"));
	ck_assert_ptr_null(cJSON_GetObjectItem(ttl, "Interval"));
	ck_assert_str_eq(jstr(http, "CheckID"), "service:svc-a-1:2");
	ck_assert_str_eq(jstr(http, "HTTP"), "http://127.0.0.1:5001/health");
	ck_assert_int_eq(dur_ms(cJSON_GetObjectItem(http, "Interval")), 1000);
	ck_assert_int_eq(dur_ms(cJSON_GetObjectItem(http, "Timeout")), 3000);
	ck_assert_ptr_null(cJSON_GetObjectItem(http, "TTL"));
	ck_assert_ptr_null(cJSON_GetObjectItem(
		http, "DeregisterCriticalServiceAfter"));
}

/* A service with an HTTP main check and the extra TTL check x. */
static struct registrar_service http_service_with(
	const struct registrar_ttl_check *x)
{
	struct registrar_service s = ttl_service(0);

	s.check = REGISTRAR_CHECK_HTTP;
	s.check_target = "http://127.0.0.1:5001/health";
	s.check_interval_ms = 1000;
	s.check_timeout_ms = 3000;
	s.extra_ttl_check = x;
	return s;
}

/* Arrival gaps of n heartbeats are at least min_ms: a heartbeat is sent a
 * period after the previous one was answered. */
static void gaps_at_least(const int64_t *at, int n, int64_t min_ms)
{
	for (int i = 1; i < n; i++)
		ck_assert_msg(at[i] - at[i - 1] >= min_ms,
			      "heartbeats %d and %d %lld ms apart, want >= %lld",
			      i - 1, i, (long long)(at[i] - at[i - 1]),
			      (long long)min_ms);
}

/* ---- arguments and error paths ---- */

START_TEST(new_refuses_bad_arguments)
{
	static const char *const bad_tags[] = { "ok", NULL };
	static const char *const ctl_tags[] = { "ok", "bad\ttag" };
	static const char *const meta_ok[] = { "version", "1" };
	static const char *const meta_empty_key[] = { "", "1" };
	static const char *const meta_null_value[] = { "k", NULL };
	struct registrar_service s;
	struct registrar_agent ag;
	struct registrar *r;
	int err = 0;

	ck_assert_ptr_null(registrar_new(NULL, NULL, &err));
	ck_assert_int_eq(err, REGISTRAR_EINVAL);
	ck_assert_ptr_null(registrar_new(NULL, NULL, NULL));

	s = ttl_service(0);
	ck_assert_int_eq(new_err(&s), REGISTRAR_OK);
	s.name = NULL;
	ck_assert_int_eq(new_err(&s), REGISTRAR_EINVAL);
	s.name = "";
	ck_assert_int_eq(new_err(&s), REGISTRAR_EINVAL);
	s.name = "svc\nname";
	ck_assert_int_eq(new_err(&s), REGISTRAR_EINVAL);
	s.name = "svc\x7f";
	ck_assert_int_eq(new_err(&s), REGISTRAR_EINVAL);

	s = ttl_service(0);
	s.id = "";
	ck_assert_int_eq(new_err(&s), REGISTRAR_EINVAL);
	s.id = "id\r";
	ck_assert_int_eq(new_err(&s), REGISTRAR_EINVAL);
	s = ttl_service(0);
	s.address = "10.0.0.1\n";
	ck_assert_int_eq(new_err(&s), REGISTRAR_EINVAL);
	s.address = "0.0.0.0";
	ck_assert_int_eq(new_err(&s), REGISTRAR_EINVAL);

	s = ttl_service(0);
	s.port = -1;
	ck_assert_int_eq(new_err(&s), REGISTRAR_EINVAL);
	s.port = 65536;
	ck_assert_int_eq(new_err(&s), REGISTRAR_EINVAL);
	s.port = 0;
	ck_assert_int_eq(new_err(&s), REGISTRAR_OK);
	s.port = 65535;
	ck_assert_int_eq(new_err(&s), REGISTRAR_OK);

	s = ttl_service(0);
	s.tags = NULL;
	ck_assert_int_eq(new_err(&s), REGISTRAR_EINVAL);
	s.tags = bad_tags;
	ck_assert_int_eq(new_err(&s), REGISTRAR_EINVAL);
	s.tags = ctl_tags;
	ck_assert_int_eq(new_err(&s), REGISTRAR_EINVAL);

	s = ttl_service(0);
	s.meta = meta_ok;
	s.nmeta = 1;
	ck_assert_int_eq(new_err(&s), REGISTRAR_OK);
	s.meta = NULL;
	ck_assert_int_eq(new_err(&s), REGISTRAR_EINVAL);
	s.meta = meta_empty_key;
	ck_assert_int_eq(new_err(&s), REGISTRAR_EINVAL);
	s.meta = meta_null_value;
	ck_assert_int_eq(new_err(&s), REGISTRAR_EINVAL);

	s = ttl_service(0);
	s.weight_passing = -1;
	ck_assert_int_eq(new_err(&s), REGISTRAR_EINVAL);
	s.weight_passing = 10;
	s.weight_warning = -1;
	ck_assert_int_eq(new_err(&s), REGISTRAR_EINVAL);
	s.weight_warning = 0;
	ck_assert_int_eq(new_err(&s), REGISTRAR_OK);

	/* The agent description is checked too. */
	s = ttl_service(0);
	ag = agent_at(1, NULL);
	ag.token = "tok\nen";
	ck_assert_ptr_null(registrar_new(&s, &ag, &err));
	ck_assert_int_eq(err, REGISTRAR_EINVAL);
	ag = agent_at(1, NULL);
	ag.address = "ftp://127.0.0.1:8500";
	ck_assert_ptr_null(registrar_new(&s, &ag, &err));
	ck_assert_int_eq(err, REGISTRAR_EINVAL);
	ag.address = "127.0.0.1:85\t00";
	ck_assert_ptr_null(registrar_new(&s, &ag, &err));
	ck_assert_int_eq(err, REGISTRAR_EINVAL);

	/* NULL agent: all defaults. */
	r = registrar_new(&s, NULL, &err);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(err, REGISTRAR_OK);
	registrar_free(r);
}
END_TEST

START_TEST(new_checks_targets_per_kind)
{
	static const struct {
		enum registrar_check_kind kind;
		const char *target;
		int want;
	} cases[] = {
		{ REGISTRAR_CHECK_HTTP, "http://127.0.0.1:5000/health", REGISTRAR_OK },
		{ REGISTRAR_CHECK_HTTP, "https://svc.example:8443/", REGISTRAR_OK },
		{ REGISTRAR_CHECK_HTTP, "HTTP://[::1]:80/health", REGISTRAR_OK },
		{ REGISTRAR_CHECK_HTTP, NULL, REGISTRAR_EINVAL },
		{ REGISTRAR_CHECK_HTTP, "", REGISTRAR_EINVAL },
		{ REGISTRAR_CHECK_HTTP, "127.0.0.1:5000", REGISTRAR_EINVAL },
		{ REGISTRAR_CHECK_HTTP, "tcp://127.0.0.1:5000", REGISTRAR_EINVAL },
		{ REGISTRAR_CHECK_HTTP, "http://", REGISTRAR_EINVAL },
		{ REGISTRAR_CHECK_HTTP, "http:///health", REGISTRAR_EINVAL },
		{ REGISTRAR_CHECK_HTTP, "http://a b/", REGISTRAR_EINVAL },
		{ REGISTRAR_CHECK_HTTP, "http://host/\n", REGISTRAR_EINVAL },
		{ REGISTRAR_CHECK_TCP, "127.0.0.1:5000", REGISTRAR_OK },
		{ REGISTRAR_CHECK_TCP, "db.internal:5432", REGISTRAR_OK },
		{ REGISTRAR_CHECK_TCP, "[::1]:80", REGISTRAR_OK },
		{ REGISTRAR_CHECK_TCP, NULL, REGISTRAR_EINVAL },
		{ REGISTRAR_CHECK_TCP, "127.0.0.1", REGISTRAR_EINVAL },
		{ REGISTRAR_CHECK_TCP, ":80", REGISTRAR_EINVAL },
		{ REGISTRAR_CHECK_TCP, "host:0", REGISTRAR_EINVAL },
		{ REGISTRAR_CHECK_TCP, "host:65536", REGISTRAR_EINVAL },
		{ REGISTRAR_CHECK_TCP, "host:8x", REGISTRAR_EINVAL },
		{ REGISTRAR_CHECK_TCP, "::1:80", REGISTRAR_EINVAL },
		{ REGISTRAR_CHECK_TCP, "http://127.0.0.1:80", REGISTRAR_EINVAL },
		{ REGISTRAR_CHECK_TTL, NULL, REGISTRAR_OK },
		{ REGISTRAR_CHECK_TTL, "", REGISTRAR_OK },
		{ REGISTRAR_CHECK_TTL, "http://127.0.0.1/", REGISTRAR_EINVAL },
		{ REGISTRAR_CHECK_NONE, NULL, REGISTRAR_OK },
		{ REGISTRAR_CHECK_NONE, "127.0.0.1:80", REGISTRAR_EINVAL },
		{ (enum registrar_check_kind)42, NULL, REGISTRAR_EINVAL },
	};
	struct registrar_service s;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = ttl_service(0);
		s.check = cases[i].kind;
		s.check_target = cases[i].target;
		ck_assert_msg(new_err(&s) == cases[i].want,
			      "case %zu (%d, %s): got %d, want %d", i,
			      (int)cases[i].kind,
			      cases[i].target ? cases[i].target : "NULL",
			      new_err(&s), cases[i].want);
	}
	/* Deregistration belongs to a check. */
	s = ttl_service(0);
	s.check = REGISTRAR_CHECK_NONE;
	s.deregister_after_ms = 60000;
	ck_assert_int_eq(new_err(&s), REGISTRAR_EINVAL);
}
END_TEST

START_TEST(new_checks_the_extra_ttl_check)
{
	struct registrar_ttl_check x = { "svc-a-1-ttl", 15000, 10000, 60000 };
	struct registrar_service s = http_service_with(&x);

	ck_assert_int_eq(new_err(&s), REGISTRAR_OK);
	x.id = NULL;
	ck_assert_int_eq(new_err(&s), REGISTRAR_EINVAL);
	x.id = "";
	ck_assert_int_eq(new_err(&s), REGISTRAR_EINVAL);
	x.id = "svc-a-1-ttl\n";
	ck_assert_int_eq(new_err(&s), REGISTRAR_EINVAL);
	/* The main check is the second one now: its ID is taken. */
	x.id = "service:svc-a-1:2";
	ck_assert_int_eq(new_err(&s), REGISTRAR_EINVAL);
	x.id = "service:svc-a-1";
	ck_assert_int_eq(new_err(&s), REGISTRAR_OK);

	/* Heartbeats must come before the TTL runs out. */
	x.id = "svc-a-1-ttl";
	x.heartbeat_ms = 15000;
	ck_assert_int_eq(new_err(&s), REGISTRAR_EINVAL);
	x.heartbeat_ms = 20000;
	ck_assert_int_eq(new_err(&s), REGISTRAR_EINVAL);
	x.ttl_ms = 0;           /* 10 s */
	x.heartbeat_ms = 10000;
	ck_assert_int_eq(new_err(&s), REGISTRAR_EINVAL);
	x.heartbeat_ms = 9999;
	ck_assert_int_eq(new_err(&s), REGISTRAR_OK);
	x.heartbeat_ms = 0;     /* ttl/3 */
	x.deregister_after_ms = 0;
	ck_assert_int_eq(new_err(&s), REGISTRAR_OK);

	/* It may be the only check; the main check's deregistration still
	 * needs a main check. */
	s.check = REGISTRAR_CHECK_NONE;
	s.check_target = NULL;
	ck_assert_int_eq(new_err(&s), REGISTRAR_OK);
	s.deregister_after_ms = 60000;
	ck_assert_int_eq(new_err(&s), REGISTRAR_EINVAL);

	/* Beside a TTL main check, the same rules. */
	s = ttl_service(0);
	s.extra_ttl_check = &x;
	ck_assert_int_eq(new_err(&s), REGISTRAR_OK);
	x.id = "service:svc-a-1:2";
	ck_assert_int_eq(new_err(&s), REGISTRAR_EINVAL);
}
END_TEST

START_TEST(strerror_names_every_code)
{
	static const int codes[] = {
		REGISTRAR_OK, REGISTRAR_EINVAL, REGISTRAR_ENOMEM,
		REGISTRAR_EUNREACHABLE, REGISTRAR_EREJECTED, REGISTRAR_ESTATE,
		REGISTRAR_ETHREAD,
	};
	const char *unknown = registrar_strerror(-1000);

	ck_assert_ptr_nonnull(unknown);
	ck_assert_ptr_nonnull(registrar_strerror(7));
	ck_assert_ptr_nonnull(registrar_strerror(INT32_MIN));
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const char *t = registrar_strerror(codes[i]);

		ck_assert_ptr_nonnull(t);
		ck_assert_int_gt(strlen(t), 0);
		ck_assert_str_ne(t, unknown);
		for (size_t j = 0; j < i; j++)
			ck_assert_str_ne(t, registrar_strerror(codes[j]));
	}
}
END_TEST

START_TEST(null_and_unstarted_handles)
{
	struct registrar_service s = ttl_service(0);
	struct registrar_agent ag = agent_at(1, NULL);
	struct registrar *r;
	static const char *const tags[] = { "x" };

	ck_assert_int_eq(registrar_start(NULL), REGISTRAR_EINVAL);
	ck_assert_int_eq(registrar_stop(NULL), REGISTRAR_EINVAL);
	ck_assert_int_eq(registrar_set_tags(NULL, tags, 1), REGISTRAR_EINVAL);
	ck_assert_int_eq(registrar_set_maintenance(NULL, 1, NULL),
			 REGISTRAR_EINVAL);
	ck_assert_ptr_null(registrar_service_id(NULL));
	registrar_free(NULL);

	r = registrar_new(&s, &ag, NULL);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(registrar_service_id(r), "svc-a-1");
	ck_assert_int_eq(registrar_stop(r), REGISTRAR_ESTATE);
	ck_assert_int_eq(registrar_set_tags(r, tags, 1), REGISTRAR_ESTATE);
	ck_assert_int_eq(registrar_set_maintenance(r, 1, "x"), REGISTRAR_ESTATE);
	registrar_free(r);

	s.id = NULL;
	r = registrar_new(&s, &ag, NULL);
	ck_assert_str_eq(registrar_service_id(r), "svc-a");
	registrar_free(r);
}
END_TEST

/* ---- against an agent ---- */

START_TEST(unreachable_then_agent_appears)
{
	static const char *const green[] = { "urlprefix-/foo", "green" };
	struct log_capture logs = { .mu = PTHREAD_MUTEX_INITIALIZER };
	int port = free_port();
	struct registrar_agent ag = agent_at(port, &logs);
	struct registrar_service s = ttl_service(900);
	struct registrar *r = registrar_new(&s, &ag, NULL);
	struct fake_agent *a;
	int64_t t0;
	cJSON *body;
	const cJSON *tags;

	ck_assert_ptr_nonnull(r);
	t0 = now_ms();
	ck_assert_int_eq(registrar_start(r), REGISTRAR_EUNREACHABLE);
	ck_assert_int_lt(now_ms() - t0, 2000);
	ck_assert_int_eq(registrar_start(r), REGISTRAR_ESTATE);
	ck_assert_int_eq(log_count(&logs, "event=agent-down"), 1);
	/* New tags while the agent is away are kept and sent later. */
	ck_assert_int_eq(registrar_set_tags(r, green, 2),
			 REGISTRAR_EUNREACHABLE);
	sleep_ms(600);
	ck_assert_int_eq(log_count(&logs, "event=agent-down"), 1);

	a = fake_start(port);
	ck_assert_int_ge(fake_wait(a, &a->registers, 1, 3000), 1);
	ck_assert_int_ge(fake_wait(a, &a->heartbeats, 1, 2000), 1);
	body = fake_body(a);
	tags = cJSON_GetObjectItem(body, "Tags");
	ck_assert_int_eq(cJSON_GetArraySize(tags), 2);
	ck_assert_str_eq(cJSON_GetArrayItem(tags, 1)->valuestring, "green");
	cJSON_Delete(body);

	ck_assert_int_eq(registrar_stop(r), REGISTRAR_OK);
	ck_assert_int_eq(FAKE_GET(a, deregisters), 1);
	ck_assert_int_eq(log_count(&logs, "event=agent-up"), 1);
	ck_assert_int_eq(log_count(&logs, "event=registered"), 1);
	ck_assert_int_eq(log_count(&logs, "event=deregistered"), 1);
	registrar_free(r);
	fake_stop(a);
}
END_TEST

START_TEST(registration_body)
{
	static const char *const meta[] = { "version", "1.2", "zone", "a" };
	struct fake_agent *a = fake_start(0);
	struct registrar_agent ag = agent_at(a->port, NULL);
	struct registrar_service s = ttl_service(0);
	struct registrar *r;
	cJSON *body;
	const cJSON *chk, *w, *m, *tags;

	s.meta = meta;
	s.nmeta = 2;
	s.weight_passing = 10;
	s.check = REGISTRAR_CHECK_HTTP;
	s.check_target = "http://127.0.0.1:5001/health";
	s.check_interval_ms = 1000;
	s.check_timeout_ms = 1500;
	s.deregister_after_ms = 90000;
	ag.token = "s3cret";
	r = registrar_new(&s, &ag, NULL);
	ck_assert_int_eq(registrar_start(r), REGISTRAR_OK);

	body = fake_body(a);
	ck_assert_str_eq(jstr(body, "Name"), "svc-a");
	ck_assert_str_eq(jstr(body, "ID"), "svc-a-1");
	ck_assert_str_eq(jstr(body, "Address"), "127.0.0.1");
	ck_assert_int_eq(cJSON_GetObjectItem(body, "Port")->valueint, 5001);
	tags = cJSON_GetObjectItem(body, "Tags");
	ck_assert_int_eq(cJSON_GetArraySize(tags), 2);
	ck_assert_str_eq(cJSON_GetArrayItem(tags, 0)->valuestring,
			 "urlprefix-/foo");
	m = cJSON_GetObjectItem(body, "Meta");
	ck_assert_str_eq(jstr(m, "version"), "1.2");
	ck_assert_str_eq(jstr(m, "zone"), "a");
	w = cJSON_GetObjectItem(body, "Weights");
	ck_assert_int_eq(cJSON_GetObjectItem(w, "Passing")->valueint, 10);
	chk = body_check(body);
	ck_assert_str_eq(jstr(chk, "HTTP"), "http://127.0.0.1:5001/health");
	ck_assert_str_eq(jstr(chk, "CheckID"), "service:svc-a-1");
	ck_assert_int_eq(dur_ms(cJSON_GetObjectItem(chk, "Interval")), 1000);
	ck_assert_int_eq(dur_ms(cJSON_GetObjectItem(chk, "Timeout")), 1500);
	ck_assert_int_eq(dur_ms(cJSON_GetObjectItem(
		chk, "DeregisterCriticalServiceAfter")), 90000);
	ck_assert_ptr_null(cJSON_GetObjectItem(chk, "TTL"));
	cJSON_Delete(body);
	ck_assert_str_eq(FAKE_STR(a, token), "s3cret");
	/* No TTL check, no heartbeats. */
	ck_assert_int_eq(FAKE_GET(a, heartbeats), 0);

	registrar_free(r);
	ck_assert_int_eq(FAKE_GET(a, deregisters), 1);
	fake_stop(a);
}
END_TEST

START_TEST(ttl_heartbeats)
{
	struct fake_agent *a = fake_start(0);
	struct registrar_agent ag = agent_at(a->port, NULL);
	struct registrar_service s = ttl_service(600);
	struct registrar *r = registrar_new(&s, &ag, NULL);
	cJSON *body;
	const cJSON *chk;
	int n;

	ck_assert_int_eq(registrar_start(r), REGISTRAR_OK);
	/* The first heartbeat is part of the start. */
	ck_assert_int_eq(FAKE_GET(a, heartbeats), 1);
	body = fake_body(a);
	chk = body_check(body);
	ck_assert_int_eq(dur_ms(cJSON_GetObjectItem(chk, "TTL")), 600);
	ck_assert_ptr_null(cJSON_GetObjectItem(chk, "HTTP"));
	cJSON_Delete(body);

	/* Every ttl/3 = 200 ms: about 7 more in 1.5 s; a slow machine
	 * still manages 3. */
	sleep_ms(1500);
	n = FAKE_GET(a, heartbeats);
	ck_assert_int_ge(n, 4);
	ck_assert_int_le(n, 10);
	pthread_mutex_lock(&a->mu);
	for (int i = 1; i < n && i < 64; i++)
		ck_assert_int_ge(a->heartbeat_at[i] - a->heartbeat_at[i - 1], 150);
	pthread_mutex_unlock(&a->mu);
	registrar_free(r);
	fake_stop(a);
}
END_TEST

START_TEST(extra_ttl_check_sent_first_and_passed)
{
	static const char *const green[] = { "urlprefix-/foo", "green" };
	struct fake_agent *a = fake_start(0);
	struct registrar_agent ag = agent_at(a->port, NULL);
	char xid[32] = "svc-a-1-ttl";
	struct registrar_ttl_check x = { xid, 900, 300, 60000 };
	struct registrar_service s = http_service_with(&x);
	struct registrar *r = registrar_new(&s, &ag, NULL);
	int64_t at[64];
	cJSON *body;
	int n;

	ck_assert_ptr_nonnull(r);
	/* registrar_new() took a copy. */
	strcpy(xid, "changed");
	x.ttl_ms = 1;
	ck_assert_int_eq(registrar_start(r), REGISTRAR_OK);
	/* The extra check passes as part of the start; the HTTP check is
	 * the agent's to run. */
	ck_assert_int_eq(FAKE_GET(a, heartbeats), 1);
	ck_assert_int_eq(fake_beats(a, "svc-a-1-ttl", NULL, 0), 1);
	body = fake_body(a);
	check_fabio_pair(body, "svc-a-1-ttl", 900, 60000);
	cJSON_Delete(body);

	/* Every 300 ms as asked, not ttl/3: 6 in 1.5 s, at least 3 on a slow
	 * machine, never closer than the period. */
	sleep_ms(1500);
	n = fake_beats(a, "svc-a-1-ttl", at, 64);
	ck_assert_int_ge(n, 3);
	ck_assert_int_le(n, 7);
	gaps_at_least(at, n, 290);
	ck_assert(fake_beats_only(a, "svc-a-1-ttl"));

	/* A retag sends both checks again, with the same IDs. */
	ck_assert_int_eq(registrar_set_tags(r, green, 2), REGISTRAR_OK);
	ck_assert_int_eq(FAKE_GET(a, registers), 2);
	body = fake_body(a);
	check_fabio_pair(body, "svc-a-1-ttl", 900, 60000);
	cJSON_Delete(body);

	registrar_free(r);
	ck_assert_int_eq(FAKE_GET(a, deregisters), 1);
	fake_stop(a);
}
END_TEST

START_TEST(main_and_extra_ttl_checks_beat_apart)
{
	struct fake_agent *a = fake_start(0);
	struct registrar_agent ag = agent_at(a->port, NULL);
	struct registrar_ttl_check x = { "svc-a-1-alive", 3000, 1000, 0 };
	struct registrar_service s = ttl_service(600);
	struct registrar *r;
	const cJSON *first, *second;
	int64_t at[64];
	cJSON *body;
	int n;

	s.extra_ttl_check = &x;
	r = registrar_new(&s, &ag, NULL);
	ck_assert_int_eq(registrar_start(r), REGISTRAR_OK);
	ck_assert_int_eq(fake_beats(a, "svc-a-1-alive", NULL, 0), 1);
	ck_assert_int_eq(fake_beats(a, "service:svc-a-1:2", NULL, 0), 1);
	body = fake_body(a);
	body_two_checks(body, &first, &second);
	ck_assert_str_eq(jstr(first, "CheckID"), "svc-a-1-alive");
	ck_assert_int_eq(dur_ms(cJSON_GetObjectItem(first, "TTL")), 3000);
	ck_assert_ptr_null(cJSON_GetObjectItem(
		first, "DeregisterCriticalServiceAfter"));
	ck_assert_str_eq(jstr(second, "CheckID"), "service:svc-a-1:2");
	ck_assert_int_eq(dur_ms(cJSON_GetObjectItem(second, "TTL")), 600);
	cJSON_Delete(body);

	/* Main every 200 ms (ttl/3), extra every 1000 ms, each on its own
	 * schedule. */
	sleep_ms(1600);
	n = fake_beats(a, "service:svc-a-1:2", at, 64);
	ck_assert_int_ge(n, 4);
	ck_assert_int_le(n, 10);
	gaps_at_least(at, n, 190);
	n = fake_beats(a, "svc-a-1-alive", at, 64);
	ck_assert_int_ge(n, 2);
	ck_assert_int_le(n, 3);
	gaps_at_least(at, n, 990);
	registrar_free(r);
	fake_stop(a);
}
END_TEST

START_TEST(extra_ttl_404_registers_again)
{
	struct log_capture logs = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct fake_agent *a = fake_start(0);
	struct registrar_agent ag = agent_at(a->port, &logs);
	struct registrar_ttl_check x = { "svc-a-1-ttl", 600, 200, 60000 };
	struct registrar_service s = http_service_with(&x);
	struct registrar *r = registrar_new(&s, &ag, NULL);
	cJSON *body;
	int before;

	ck_assert_int_eq(registrar_start(r), REGISTRAR_OK);
	for (int i = 2; i <= 3; i++) {
		fake_forget(a);
		before = fake_beats(a, "svc-a-1-ttl", NULL, 0);
		ck_assert_int_eq(fake_wait(a, &a->registers, i, 3000), i);
		/* Registered again with both checks, and passed at once. */
		body = fake_body(a);
		check_fabio_pair(body, "svc-a-1-ttl", 600, 60000);
		cJSON_Delete(body);
		ck_assert_int_ge(fake_wait(a, &a->heartbeats, before + 1, 1000),
				 before + 1);
		ck_assert_int_gt(fake_beats(a, "svc-a-1-ttl", NULL, 0), before);
	}
	ck_assert_int_eq(log_wait(&logs, "event=forgotten", 2, 2000), 2);
	ck_assert_int_eq(log_wait(&logs, "event=reregistered", 2, 2000), 2);
	registrar_free(r);
	fake_stop(a);
}
END_TEST

START_TEST(forgotten_service_is_registered_again)
{
	struct log_capture logs = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct fake_agent *a = fake_start(0);
	struct registrar_agent ag = agent_at(a->port, &logs);
	struct registrar_service s = ttl_service(30000);
	struct registrar *r = registrar_new(&s, &ag, NULL);
	int64_t t0;

	ck_assert_int_eq(registrar_start(r), REGISTRAR_OK);
	ck_assert_int_eq(registrar_set_maintenance(r, 1, "deploy 42"),
			 REGISTRAR_OK);
	ck_assert_int_eq(FAKE_GET(a, maintenance), 1);
	ck_assert_str_eq(FAKE_STR(a, reason), "deploy 42");
	ck_assert_int_eq(FAKE_GET(a, registers), 1);

	/* With a 30 s TTL only the probe can notice. */
	fake_forget(a);
	t0 = now_ms();
	ck_assert_int_eq(fake_wait(a, &a->registers, 2, 5000), 2);
	ck_assert_int_le(now_ms() - t0, 2000);
	ck_assert_int_ge(fake_wait(a, &a->heartbeats, 2, 1000), 2);
	ck_assert_int_eq(FAKE_GET(a, maintenance), 1);
	ck_assert_str_eq(FAKE_STR(a, service_id), "svc-a-1");
	ck_assert_int_eq(log_wait(&logs, "event=forgotten", 1, 2000), 1);
	ck_assert_int_eq(log_wait(&logs, "event=reregistered", 1, 2000), 1);
	ck_assert_int_eq(log_count(&logs, "reason=forgotten"), 1);
	registrar_free(r);
	fake_stop(a);
}
END_TEST

START_TEST(ttl_404_means_forgotten)
{
	struct fake_agent *a = fake_start(0);
	struct registrar_agent ag = agent_at(a->port, NULL);
	struct registrar_service s = ttl_service(300);
	struct registrar *r = registrar_new(&s, &ag, NULL);

	ck_assert_int_eq(registrar_start(r), REGISTRAR_OK);
	/* Forget again and again: each time the registration comes back. */
	for (int i = 2; i <= 4; i++) {
		fake_forget(a);
		ck_assert_int_eq(fake_wait(a, &a->registers, i, 3000), i);
	}
	registrar_free(r);
	fake_stop(a);
}
END_TEST

START_TEST(agent_restart_on_same_port)
{
	struct log_capture logs = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct fake_agent *a = fake_start(0);
	int port = a->port;
	struct registrar_agent ag = agent_at(port, &logs);
	struct registrar_service s = ttl_service(0);
	struct registrar *r;
	int64_t t0;

	s.check = REGISTRAR_CHECK_HTTP;
	s.check_target = "http://127.0.0.1:5001/health";
	r = registrar_new(&s, &ag, NULL);
	ck_assert_int_eq(registrar_start(r), REGISTRAR_OK);
	ck_assert_int_eq(registrar_set_maintenance(r, 1, NULL), REGISTRAR_OK);
	fake_stop(a);
	/* The next probe (within a second) finds it gone. */
	ck_assert_int_eq(log_wait(&logs, "event=agent-down", 1, 3000), 1);
	sleep_ms(500);

	a = fake_start(port);
	t0 = now_ms();
	ck_assert_int_eq(fake_wait(a, &a->registers, 1, 5000), 1);
	ck_assert_int_le(now_ms() - t0, 2000);
	ck_assert_int_ge(fake_wait(a, &a->maint_calls, 1, 1000), 1);
	ck_assert_int_eq(FAKE_GET(a, maintenance), 1);
	ck_assert_int_eq(log_wait(&logs, "event=agent-up", 1, 2000), 1);
	ck_assert_int_eq(log_wait(&logs, "reason=agent-back", 1, 2000), 1);
	ck_assert_int_eq(log_count(&logs, "event=agent-down"), 1);

	ck_assert_int_eq(registrar_set_maintenance(r, 0, NULL), REGISTRAR_OK);
	ck_assert_int_eq(FAKE_GET(a, maintenance), 0);
	registrar_free(r);
	ck_assert_int_eq(FAKE_GET(a, deregisters), 1);
	fake_stop(a);
}
END_TEST

START_TEST(set_tags_reregisters)
{
	static const char *const green[] = { "urlprefix-/foo", "green" };
	static const char *const bad[] = { "ok", "bad\x01" };
	struct log_capture logs = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct fake_agent *a = fake_start(0);
	struct registrar_agent ag = agent_at(a->port, &logs);
	struct registrar_service s = ttl_service(0);
	struct registrar *r = registrar_new(&s, &ag, NULL);
	cJSON *body;
	const cJSON *tags;

	ck_assert_int_eq(registrar_start(r), REGISTRAR_OK);
	ck_assert_int_eq(registrar_set_tags(r, green, 2), REGISTRAR_OK);
	ck_assert_int_eq(FAKE_GET(a, registers), 2);
	body = fake_body(a);
	tags = cJSON_GetObjectItem(body, "Tags");
	ck_assert_int_eq(cJSON_GetArraySize(tags), 2);
	ck_assert_str_eq(cJSON_GetArrayItem(tags, 1)->valuestring, "green");
	ck_assert_str_eq(jstr(body, "ID"), "svc-a-1");
	cJSON_Delete(body);
	ck_assert_int_eq(log_count(&logs, "event=retagged id=svc-a-1 tags=urlprefix-/foo,green"), 1);

	ck_assert_int_eq(registrar_set_tags(r, bad, 2), REGISTRAR_EINVAL);
	ck_assert_int_eq(registrar_set_tags(r, NULL, 1), REGISTRAR_EINVAL);
	ck_assert_int_eq(FAKE_GET(a, registers), 2);
	/* No tags at all is a valid choice. */
	ck_assert_int_eq(registrar_set_tags(r, NULL, 0), REGISTRAR_OK);
	body = fake_body(a);
	tags = cJSON_GetObjectItem(body, "Tags");
	ck_assert_int_eq(tags ? cJSON_GetArraySize(tags) : 0, 0);
	cJSON_Delete(body);

	ck_assert_int_eq(registrar_stop(r), REGISTRAR_OK);
	ck_assert_int_eq(registrar_set_tags(r, green, 2), REGISTRAR_ESTATE);
	ck_assert_int_eq(registrar_stop(r), REGISTRAR_ESTATE);
	registrar_free(r);
	fake_stop(a);
}
END_TEST

START_TEST(rejected_start_leaves_it_stopped)
{
	struct log_capture logs = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct fake_agent *a = fake_start(0);
	struct registrar_agent ag = agent_at(a->port, &logs);
	struct registrar_service s = ttl_service(0);
	struct registrar *r = registrar_new(&s, &ag, NULL);

	pthread_mutex_lock(&a->mu);
	a->reject = 1;
	pthread_mutex_unlock(&a->mu);
	ck_assert_int_eq(registrar_start(r), REGISTRAR_EREJECTED);
	ck_assert_int_eq(log_count(&logs, "event=register-failed"), 1);
	ck_assert_int_eq(log_count(&logs, "Missing service name"), 1);
	ck_assert_int_eq(registrar_stop(r), REGISTRAR_ESTATE);
	sleep_ms(300);
	ck_assert_int_eq(FAKE_GET(a, probes), 0);

	pthread_mutex_lock(&a->mu);
	a->reject = 0;
	pthread_mutex_unlock(&a->mu);
	ck_assert_int_eq(registrar_start(r), REGISTRAR_OK);
	ck_assert_int_eq(FAKE_GET(a, registers), 1);
	registrar_free(r);
	fake_stop(a);
}
END_TEST

START_TEST(stop_deregisters_promptly_and_restarts)
{
	struct fake_agent *a = fake_start(0);
	struct registrar_agent ag = agent_at(a->port, NULL);
	struct registrar_service s = ttl_service(60000);
	struct registrar *r = registrar_new(&s, &ag, NULL);
	int64_t t0;

	ck_assert_int_eq(registrar_start(r), REGISTRAR_OK);
	sleep_ms(100);
	t0 = now_ms();
	ck_assert_int_eq(registrar_stop(r), REGISTRAR_OK);
	/* The thread sleeps on a condition variable, not for a period. */
	ck_assert_int_lt(now_ms() - t0, 1000);
	ck_assert_int_eq(FAKE_GET(a, deregisters), 1);
	ck_assert_int_eq(FAKE_GET(a, known), 0);

	ck_assert_int_eq(registrar_start(r), REGISTRAR_OK);
	ck_assert_int_eq(FAKE_GET(a, registers), 2);
	ck_assert_int_eq(FAKE_GET(a, known), 1);
	registrar_free(r);
	ck_assert_int_eq(FAKE_GET(a, deregisters), 2);
	fake_stop(a);
}
END_TEST

struct hammer {
	struct registrar *r;
	int seed;
};

static void *hammer_main(void *arg)
{
	struct hammer *h = arg;
	char tag[32];
	const char *tags[2] = { "urlprefix-/foo", tag };

	for (int i = 0; i < 40; i++) {
		int rc;

		snprintf(tag, sizeof(tag), "t%d-%d", h->seed, i);
		rc = registrar_set_tags(h->r, tags, 2);
		ck_assert_int_eq(rc, REGISTRAR_OK);
		rc = registrar_set_maintenance(h->r, i % 2, "hammer");
		ck_assert_int_eq(rc, REGISTRAR_OK);
	}
	return NULL;
}

START_TEST(calls_from_many_threads)
{
	struct log_capture logs = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct fake_agent *a = fake_start(0);
	struct registrar_agent ag = agent_at(a->port, &logs);
	struct registrar_service s = ttl_service(300);
	struct registrar *r = registrar_new(&s, &ag, NULL);
	struct hammer h[4];
	pthread_t t[4];

	ck_assert_int_eq(registrar_start(r), REGISTRAR_OK);
	for (int i = 0; i < 4; i++) {
		h[i].r = r;
		h[i].seed = i;
		ck_assert_int_eq(pthread_create(&t[i], NULL, hammer_main, &h[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(FAKE_GET(a, registers), 1 + 4 * 40);
	ck_assert_int_eq(FAKE_GET(a, maintenance), 1);
	ck_assert_int_eq(log_count(&logs, "event=retagged"), 4 * 40);
	registrar_free(r);
	fake_stop(a);
}
END_TEST

static Suite *registrar_suite(void)
{
	Suite *s = suite_create("registrar");
	TCase *args = tcase_create("arguments");
	TCase *agent = tcase_create("agent");

	tcase_add_test(args, new_refuses_bad_arguments);
	tcase_add_test(args, new_checks_targets_per_kind);
	tcase_add_test(args, new_checks_the_extra_ttl_check);
	tcase_add_test(args, strerror_names_every_code);
	tcase_add_test(args, null_and_unstarted_handles);
	suite_add_tcase(s, args);

	tcase_set_timeout(agent, 30);
	tcase_add_test(agent, unreachable_then_agent_appears);
	tcase_add_test(agent, registration_body);
	tcase_add_test(agent, ttl_heartbeats);
	tcase_add_test(agent, extra_ttl_check_sent_first_and_passed);
	tcase_add_test(agent, main_and_extra_ttl_checks_beat_apart);
	tcase_add_test(agent, extra_ttl_404_registers_again);
	tcase_add_test(agent, forgotten_service_is_registered_again);
	tcase_add_test(agent, ttl_404_means_forgotten);
	tcase_add_test(agent, agent_restart_on_same_port);
	tcase_add_test(agent, set_tags_reregisters);
	tcase_add_test(agent, rejected_start_leaves_it_stopped);
	tcase_add_test(agent, stop_deregisters_promptly_and_restarts);
	tcase_add_test(agent, calls_from_many_threads);
	suite_add_tcase(s, agent);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	evthread_use_pthreads();
	sr = srunner_create(registrar_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
