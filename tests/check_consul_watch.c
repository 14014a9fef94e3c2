/*
 * check_consul_watch.c - the blocking-query rules as pure functions
 * (consul_index_next, the token bucket, backoff bounds), then real
 * watches against an in-process evhttp server on 127.0.0.1 (port 0) on
 * the same event_base, scripted to behave like Consul: a request whose
 * ?index is at or above the current index is held until the state
 * changes or its ?wait runs out; anything else is answered at once. The
 * script can also fail requests, drop connections, or send index 0.
 *
 * Those watch tests run twice: on the evhttp transport that plain-http
 * agents get, and on the curl one that https agents get. Then the evhttp
 * transport's own edges, some against a raw server that writes exact
 * bytes (cut bodies, chunked framing, trailers, silence, a full accept
 * queue), and a watch over https against an in-process TLS server.
 */
#include "registry-client/consul_http.h"
#include "registry-client/consul_watch.h"
#include "registry-client/consul_watch_internal.h"
#include "tests/check_main.h"
#include "tests/check_port.h"

#include <check.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- pure functions ---- */

START_TEST(test_index_next)
{
	/* Rule 1: an index that went backwards resets to 0 (no blocking). */
	ck_assert_uint_eq(consul_index_next(100, 50), 0);
	ck_assert_uint_eq(consul_index_next(5, 0), 0);
	ck_assert_uint_eq(consul_index_next(1, 0), 0);
	ck_assert_uint_eq(consul_index_next(UINT64_MAX, UINT64_MAX - 1), 0);
	/* Otherwise the received one... */
	ck_assert_uint_eq(consul_index_next(0, 5), 5);
	ck_assert_uint_eq(consul_index_next(5, 5), 5);
	ck_assert_uint_eq(consul_index_next(5, 7), 7);
	ck_assert(consul_index_next(0, UINT64_MAX) == UINT64_MAX);
	ck_assert(consul_index_next(UINT64_MAX, UINT64_MAX) == UINT64_MAX);
	ck_assert(consul_index_next(9007199254740992ull, 9007199254740993ull) ==
		  9007199254740993ull);
	/* ...rule 2: never 0 once an answer came. */
	ck_assert_uint_eq(consul_index_next(0, 0), 1);
	ck_assert_uint_eq(consul_index_next(0, 1), 1);
}
END_TEST

START_TEST(test_bucket)
{
	struct consul_bucket b;

	consul_bucket_init(&b, 2.0, 3.0, 1000);
	ck_assert_uint_eq(consul_bucket_take(&b, 1000), 0);
	ck_assert_uint_eq(consul_bucket_take(&b, 1000), 0);
	ck_assert_uint_eq(consul_bucket_take(&b, 1000), 0);
	/* Burst spent: one token every 500 ms. */
	ck_assert_uint_eq(consul_bucket_take(&b, 1000), 500);
	ck_assert_uint_eq(consul_bucket_take(&b, 1250), 250);
	ck_assert_uint_eq(consul_bucket_take(&b, 1500), 0);
	ck_assert_uint_eq(consul_bucket_take(&b, 1500), 500);
	/* Waiting exactly the time returned is always enough. */
	for (uint64_t t = 1500, i = 0; i < 100; i++) {
		uint64_t w = consul_bucket_take(&b, t);
		ck_assert_uint_gt(w, 0);
		t += w;
		ck_assert_uint_eq(consul_bucket_take(&b, t), 0);
	}
	/* A long pause refills up to the burst, not beyond. */
	consul_bucket_init(&b, 2.0, 3.0, 0);
	for (int i = 0; i < 3; i++)
		consul_bucket_take(&b, 0);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(consul_bucket_take(&b, 1000000), 0);
	ck_assert_uint_eq(consul_bucket_take(&b, 1000000), 500);
	/* A clock going backwards refills nothing and breaks nothing. */
	ck_assert_uint_eq(consul_bucket_take(&b, 10), 500);
	/* Slow rates; no refill at all. */
	consul_bucket_init(&b, 0.5, 1.0, 0);
	ck_assert_uint_eq(consul_bucket_take(&b, 0), 0);
	ck_assert_uint_eq(consul_bucket_take(&b, 0), 2000);
	consul_bucket_init(&b, 0.0, 2.0, 0);
	ck_assert_uint_eq(consul_bucket_take(&b, 0), 0);
	ck_assert_uint_eq(consul_bucket_take(&b, 0), 0);
	ck_assert(consul_bucket_take(&b, 99999) == UINT64_MAX);
	/* Rate check over a simulated minute: at most burst + rate * t. */
	consul_bucket_init(&b, 20.0, 10.0, 0);
	unsigned taken = 0;
	for (uint64_t t = 0; t <= 60000; t++)
		while (consul_bucket_take(&b, t) == 0)
			taken++;
	ck_assert_uint_le(taken, 10 + 20 * 60);
	ck_assert_uint_ge(taken, 20 * 60);
}
END_TEST

START_TEST(test_backoff)
{
	ck_assert_uint_eq(consul_backoff_ms(0, 100, 10000, 0.0), 50);
	ck_assert_uint_eq(consul_backoff_ms(0, 100, 10000, 0.999999), 100);
	ck_assert_uint_eq(consul_backoff_ms(3, 100, 10000, 0.0), 400);
	ck_assert_uint_eq(consul_backoff_ms(3, 100, 10000, 0.999999), 800);
	ck_assert_uint_eq(consul_backoff_ms(20, 100, 10000, 0.0), 5000);
	ck_assert_uint_eq(consul_backoff_ms(4000000000u, 100, 10000, 0.5) <= 10000, 1);
	ck_assert_uint_eq(consul_backoff_ms(2, 500, 300, 0.0), 150); /* max < min */
	ck_assert_uint_eq(consul_backoff_ms(1, 100, 10000, -1.0), 100);
	ck_assert_uint_eq(consul_backoff_ms(1, 100, 10000, NAN), 100);
	ck_assert_uint_eq(consul_backoff_ms(1, 100, 10000, 1.0), 200);
	ck_assert_uint_eq(consul_backoff_ms(0, 0, 0, 0.5), 0);
	ck_assert_uint_ge(consul_backoff_ms(31, 4000000000u, 4294967295u, 0.999), 2147483647u);
	ck_assert_uint_eq(consul_backoff_ms(31, 4000000000u, 4294967295u, 1.0), 4294967295u);
	/* Bounds for every attempt and many draws: [d/2, d], d doubling up to
	 * the cap. */
	srand(7);
	for (unsigned a = 0; a < 40; a++) {
		uint64_t d = 100;
		for (unsigned i = 0; i < a && d < 10000; i++)
			d *= 2;
		if (d > 10000)
			d = 10000;
		for (int k = 0; k < 1000; k++) {
			double r = (double)rand() / ((double)RAND_MAX + 1.0);
			unsigned v = consul_backoff_ms(a, 100, 10000, r);
			ck_assert_msg(v >= d / 2 && v <= d, "attempt %u: %u not in [%u, %u]",
				      a, v, (unsigned)(d / 2), (unsigned)d);
		}
	}
}
END_TEST

/* ---- the scripted server ---- */

#define MAX_SEEN 512
#define MAX_HELD 16

struct seen {
	uint64_t at_ms;
	int has_index;
	uint64_t index;
	char uri[512];
	unsigned peer_port;     /* the client's end of the connection */
	char token[64];         /* X-Consul-Token */
	char host[96];
	char agent[64];
};

struct held {
	struct evhttp_request *req;
	struct event *timer;
};

static struct {
	struct event_base *base;
	struct evhttp *http;
	struct event *tick;
	int port;
	/* the state served */
	char index[32];         /* X-Consul-Index value; "" leaves it out */
	uint64_t index_num;
	int status;
	char body[1024];
	const char *big;        /* when set, served instead of body */
	size_t big_len;
	size_t chunked;         /* > 0: chunked encoding, chunks this big */
	int close_conn;         /* answer with Connection: close */
	/* the script */
	int immediate;          /* never hold */
	unsigned hold_ms;       /* when set, hold this long instead of ?wait */
	int fail_next;          /* answer this many requests with fail_status */
	int fail_status;
	int drop_next;          /* close this many connections without a word */
	/* what was seen */
	struct seen seen[MAX_SEEN];
	size_t nseen;
	struct held held[MAX_HELD];
	struct evhttp_request *to_drop[8];
	size_t ndrop;
	struct event *drop_ev;
} S;

static void answer(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	const char *body = S.big ? S.big : S.body;
	size_t len = S.big ? S.big_len : strlen(S.body);
	struct evbuffer *b = evbuffer_new();

	if (S.index[0])
		evhttp_add_header(h, "X-Consul-Index", S.index);
	if (S.close_conn)
		evhttp_add_header(h, "Connection", "close");
	if (S.chunked) {
		evhttp_send_reply_start(req, S.status, "Status");
		for (size_t off = 0; off < len; off += S.chunked) {
			evbuffer_add(b, body + off, len - off < S.chunked ? len - off
								      : S.chunked);
			evhttp_send_reply_chunk(req, b);
		}
		evhttp_send_reply_end(req);
	} else {
		evbuffer_add(b, body, len);
		evhttp_send_reply(req, S.status, "Status", b);
	}
	evbuffer_free(b);
}

static void on_held_timeout(evutil_socket_t fd, short ev, void *arg)
{
	struct held *h = arg;
	struct evhttp_request *req = h->req;

	event_free(h->timer);
	h->timer = NULL;
	h->req = NULL;
	answer(req); /* the wait ran out: same state, same index */
}

static void release_held(void)
{
	for (int i = 0; i < MAX_HELD; i++) {
		if (!S.held[i].req)
			continue;
		struct evhttp_request *req = S.held[i].req;
		event_free(S.held[i].timer);
		S.held[i].timer = NULL;
		S.held[i].req = NULL;
		answer(req);
	}
}

static size_t held_count(void)
{
	size_t n = 0;
	for (int i = 0; i < MAX_HELD; i++)
		n += S.held[i].req != NULL;
	return n;
}

/* Change what is served; waiting requests return at once, as Consul's do
 * when the index moves. */
static void state_set(uint64_t index, const char *body)
{
	S.index_num = index;
	snprintf(S.index, sizeof(S.index), "%" PRIu64, index);
	snprintf(S.body, sizeof(S.body), "%s", body);
	release_held();
}

static void on_drop(evutil_socket_t fd, short ev, void *arg)
{
	for (size_t i = 0; i < S.ndrop; i++) {
		struct evhttp_connection *c = evhttp_request_get_connection(S.to_drop[i]);
		if (c)
			evhttp_connection_free(c);
	}
	S.ndrop = 0;
}

static uint64_t parse_wait_ms(const char *w)
{
	char *end;
	unsigned long long v;

	if (!w)
		return 300000;
	v = strtoull(w, &end, 10);
	if (strcmp(end, "ms") == 0)
		return v;
	if (strcmp(end, "s") == 0)
		return v * 1000;
	return 300000;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *qs = evhttp_uri_get_query(u);
	struct evkeyvalq q = {0};
	const char *idx = NULL, *wait = NULL;
	struct seen *s = NULL;

	if (qs && evhttp_parse_query_str(qs, &q) == 0) {
		idx = evhttp_find_header(&q, "index");
		wait = evhttp_find_header(&q, "wait");
	}
	if (S.nseen < MAX_SEEN) {
		s = &S.seen[S.nseen++];
		memset(s, 0, sizeof(*s));
		s->at_ms = mono_ms();
		s->has_index = idx != NULL;
		s->index = idx ? strtoull(idx, NULL, 10) : 0;
		snprintf(s->uri, sizeof(s->uri), "%s", evhttp_request_get_uri(req));
		const struct evkeyvalq *in = evhttp_request_get_input_headers(req);
		const char *v;
		char *peer;
		ev_uint16_t pport;
		evhttp_connection_get_peer(evhttp_request_get_connection(req),
					   &peer, &pport);
		s->peer_port = pport;
		if ((v = evhttp_find_header(in, "X-Consul-Token")))
			snprintf(s->token, sizeof(s->token), "%s", v);
		if ((v = evhttp_find_header(in, "Host")))
			snprintf(s->host, sizeof(s->host), "%s", v);
		if ((v = evhttp_find_header(in, "User-Agent")))
			snprintf(s->agent, sizeof(s->agent), "%s", v);
	}
	uint64_t wait_ms = parse_wait_ms(wait);
	uint64_t sent = idx ? strtoull(idx, NULL, 10) : 0;
	evhttp_clear_headers(&q);

	if (S.drop_next > 0 && S.ndrop < 8) {
		S.drop_next--;
		S.to_drop[S.ndrop++] = req;
		event_active(S.drop_ev, EV_TIMEOUT, 0);
		return;
	}
	if (S.fail_next > 0) {
		S.fail_next--;
		struct evbuffer *b = evbuffer_new();
		evbuffer_add_printf(b, "boom %d", S.fail_status);
		evhttp_send_reply(req, S.fail_status, "Status", b);
		evbuffer_free(b);
		return;
	}
	/* Consul blocks only with an index, and only while it is not below
	 * the current one. */
	if (S.immediate || !idx || sent == 0 || sent < S.index_num) {
		answer(req);
		return;
	}
	for (int i = 0; i < MAX_HELD; i++) {
		if (S.held[i].req)
			continue;
		struct timeval tv;
		uint64_t ms = S.hold_ms ? S.hold_ms : wait_ms;
		S.held[i].req = req;
		S.held[i].timer = evtimer_new(S.base, on_held_timeout, &S.held[i]);
		tv.tv_sec = (time_t)(ms / 1000);
		tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
		evtimer_add(S.held[i].timer, &tv);
		return;
	}
	answer(req);
}

static void on_tick(evutil_socket_t fd, short ev, void *arg)
{
}

static struct consul_client *client;
static struct consul_watcher *watcher;
/* The transport of the "watch" fixtures. */
static enum consul_watch_transport transport;

static void setup(void)
{
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct timeval tick = {0, 5000};
	char addr[64];
	struct consul_config cfg = {0};

	memset(&S, 0, sizeof(S));
	S.base = event_base_new();
	ck_assert_ptr_nonnull(S.base);
	S.http = evhttp_new(S.base);
	evhttp_set_gencb(S.http, on_request, NULL);
	bs = evhttp_bind_socket_with_handle(S.http, "127.0.0.1", 0);
	ck_assert_ptr_nonnull(bs);
	ck_assert_int_eq(getsockname(evhttp_bound_socket_get_fd(bs),
				     (struct sockaddr *)&sin, &slen), 0);
	S.port = ntohs(sin.sin_port);
	/* A tick so that one loop turn never blocks for long. */
	S.tick = event_new(S.base, -1, EV_PERSIST, on_tick, NULL);
	event_add(S.tick, &tick);
	S.drop_ev = event_new(S.base, -1, 0, on_drop, NULL);
	S.status = 200;
	state_set(10, "[\"first\"]");

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", S.port);
	cfg.address = addr;
	cfg.timeout_ms = 5000;
	client = consul_client_new(&cfg);
	ck_assert_ptr_nonnull(client);
	watcher = consul_watcher_new_with(S.base, client, transport);
	ck_assert_ptr_nonnull(watcher);
}

static void setup_ev(void)
{
	transport = CONSUL_WATCH_AUTO;
	setup();
	ck_assert_str_eq(consul_watcher_transport(watcher), "evhttp");
}

static void setup_curl(void)
{
	transport = CONSUL_WATCH_CURL;
	setup();
	ck_assert_str_eq(consul_watcher_transport(watcher), "curl");
}

static void teardown(void)
{
	consul_watcher_free(watcher);
	watcher = NULL;
	consul_client_free(client);
	client = NULL;
	release_held();
	on_drop(-1, 0, NULL);
	event_free(S.tick);
	event_free(S.drop_ev);
	evhttp_free(S.http);
	event_base_free(S.base);
}

/* Runs the loop until pred() holds (1) or timeout_ms passes (0). */
static int run_until(int (*pred)(void *), void *arg, unsigned timeout_ms)
{
	uint64_t deadline = mono_ms() + timeout_ms;

	while (!pred(arg)) {
		if (mono_ms() >= deadline)
			return 0;
		event_base_loop(S.base, EVLOOP_ONCE);
	}
	return 1;
}

static int never(void *arg)
{
	return 0;
}

static void run_for(unsigned ms)
{
	run_until(never, NULL, ms);
}

/* Seen n requests and one of them is held. */
static int blocked_after(void *arg)
{
	return S.nseen >= (size_t)(uintptr_t)arg && held_count() > 0;
}

static int seen_at_least(void *arg)
{
	return S.nseen >= (size_t)(uintptr_t)arg;
}

#define WAIT_BLOCKED(n) ck_assert_msg(run_until(blocked_after, (void *)(uintptr_t)(n), 5000), \
				      "no blocked request #%d (seen %zu, held %zu)", (int)(n), \
				      S.nseen, held_count())

/* What the callbacks saw. */
struct rec {
	struct consul_watch *w;
	int changes;
	long last_status;
	char last_body[1024];
	int has_body;
	int ups, downs;
	char why[256];
	int cancel_self_on_change;
	int cancel_self_on_down;
	struct consul_watch *cancel_on_change;  /* another watch to cancel */
	int start_on_change;                    /* start a new watch from the callback */
	struct consul_watch *started;
	struct rec *started_rec;
};

static void on_change(struct consul_watch *w, const struct consul_response *resp,
		      void *arg)
{
	struct rec *r = arg;

	ck_assert_ptr_eq(w, r->w);
	r->changes++;
	r->last_status = resp->status;
	r->has_body = resp->body != NULL;
	snprintf(r->last_body, sizeof(r->last_body), "%s", resp->body ? resp->body : "");
	if (r->cancel_on_change) {
		consul_watch_cancel(r->cancel_on_change);
		r->cancel_on_change = NULL;
	}
	if (r->start_on_change) {
		struct consul_watch_opts o = {.path = "/v1/health/service/other",
					      .on_change = on_change,
					      .arg = r->started_rec};
		r->start_on_change = 0;
		r->started = consul_watch_start(watcher, &o);
		r->started_rec->w = r->started;
	}
	if (r->cancel_self_on_change) {
		consul_watch_cancel(w);
		/* A second cancel of the same watch inside its callback is
		 * harmless too. */
		consul_watch_cancel(w);
		r->w = NULL;
	}
}

static void on_state(struct consul_watch *w, int up, const char *why, void *arg)
{
	struct rec *r = arg;

	if (up)
		r->ups++;
	else
		r->downs++;
	snprintf(r->why, sizeof(r->why), "%s", why);
	if (!up && r->cancel_self_on_down) {
		consul_watch_cancel(w);
		r->w = NULL;
	}
}

static struct consul_watch *watch_on(struct consul_watcher *wr, const char *path,
				     const char *query, uint64_t wait_ms,
				     struct rec *r)
{
	struct consul_watch_opts o = {
		.path = path, .query = query, .wait_ms = wait_ms,
		.backoff_min_ms = 20, .backoff_max_ms = 100,
		.on_change = on_change, .on_state = on_state, .arg = r,
	};
	r->w = consul_watch_start(wr, &o);
	ck_assert_ptr_nonnull(r->w);
	return r->w;
}

static struct consul_watch *watch(const char *path, const char *query,
				  uint64_t wait_ms, struct rec *r)
{
	return watch_on(watcher, path, query, wait_ms, r);
}

/* The change callback runs only when the body changed, whatever the index
 * does; the index sent follows the index received. */
START_TEST(test_changes_only)
{
	struct rec r = {0};

	watch("/v1/health/service/web", "passing=1", 5000, &r);
	WAIT_BLOCKED(2);
	ck_assert_int_eq(r.changes, 1);
	ck_assert_str_eq(r.last_body, "[\"first\"]");
	ck_assert_int_eq(r.last_status, 200);
	ck_assert_int_eq(S.seen[0].has_index, 0);
	ck_assert_str_eq(S.seen[0].uri, "/v1/health/service/web?passing=1");
	ck_assert_str_eq(S.seen[1].uri, "/v1/health/service/web?passing=1&index=10&wait=5s");
	ck_assert_uint_eq(consul_watch_index(r.w), 10);

	/* A new index, the same body (an unrelated write): no callback. */
	state_set(11, "[\"first\"]");
	WAIT_BLOCKED(3);
	ck_assert_int_eq(r.changes, 1);
	ck_assert_uint_eq(S.seen[2].index, 11);

	/* A new body: one callback. */
	state_set(12, "[\"second\"]");
	WAIT_BLOCKED(4);
	ck_assert_int_eq(r.changes, 2);
	ck_assert_str_eq(r.last_body, "[\"second\"]");
	ck_assert_uint_eq(S.seen[3].index, 12);

	/* Same length, other bytes: still a change. */
	state_set(13, "[\"secund\"]");
	WAIT_BLOCKED(5);
	ck_assert_int_eq(r.changes, 3);
	ck_assert_int_eq(r.downs, 0);
	ck_assert_int_eq(r.ups, 0);
	consul_watch_cancel(r.w);
}
END_TEST

/* The server's wait runs out (with jitter on top): same index, same body,
 * no callback, no error, and the next request blocks again. */
START_TEST(test_wait_timeout)
{
	struct rec r = {0};

	watch("/v1/catalog/services", NULL, 200, &r);
	WAIT_BLOCKED(2);
	ck_assert_str_eq(S.seen[1].uri, "/v1/catalog/services?index=10&wait=200ms");
	/* From now on each request is held as long as the server may hold
	 * it: the wait plus the largest jitter. */
	S.hold_ms = 200 + 200 / 16;
	release_held();
	ck_assert(run_until(seen_at_least, (void *)(uintptr_t)5, 5000));
	ck_assert_int_eq(r.changes, 1);
	ck_assert_int_eq(r.downs, 0);
	for (size_t i = 1; i < S.nseen; i++)
		ck_assert_uint_eq(S.seen[i].index, 10);
	consul_watch_cancel(r.w);
}
END_TEST

/* Rule 1: an index lower than the one sent resets to a non-blocking
 * request without index, then blocking resumes on the new index. */
START_TEST(test_index_backwards)
{
	struct rec r = {0};

	state_set(100, "[\"a\"]");
	watch("/v1/kv/fabio/config", "recurse=", 0, &r);
	WAIT_BLOCKED(2);
	ck_assert_uint_eq(S.seen[1].index, 100);
	/* A snapshot restore: the index drops to 50. */
	state_set(50, "[\"b\"]");
	WAIT_BLOCKED(4);
	ck_assert_int_eq(S.seen[2].has_index, 0);   /* reset: no ?index */
	ck_assert_str_eq(S.seen[2].uri, "/v1/kv/fabio/config?recurse=");
	ck_assert_int_eq(S.seen[3].has_index, 1);
	ck_assert_uint_eq(S.seen[3].index, 50);
	ck_assert_uint_eq(consul_watch_index(r.w), 50);
	ck_assert_int_eq(r.changes, 2);
	ck_assert_str_eq(r.last_body, "[\"b\"]");
	consul_watch_cancel(r.w);
}
END_TEST

/* Rule 2 and the bucket: a server that answers at once with index 0 (or
 * none) never makes the watch spin: it never sends index=0, and its
 * requests stay within burst + rate * time. */
START_TEST(test_index_zero_no_spin)
{
	struct consul_watch_opts o = {.path = "/v1/health/service/web",
				      .rate = 10, .burst = 3,
				      .on_change = on_change, .on_state = on_state};
	struct rec r = {0};
	uint64_t t0;

	S.immediate = 1;
	snprintf(S.index, sizeof(S.index), "0");
	o.arg = &r;
	t0 = mono_ms();
	r.w = consul_watch_start(watcher, &o);
	run_for(1000);
	double secs = (double)(mono_ms() - t0) / 1000.0;
	ck_assert_msg(S.nseen <= 3 + (size_t)(10 * secs) + 1, "%zu requests in %.2f s",
		      S.nseen, secs);
	ck_assert_uint_ge(S.nseen, 4);
	for (size_t i = 0; i < S.nseen; i++)
		ck_assert_msg(!S.seen[i].has_index || S.seen[i].index >= 1,
			      "request %zu sent %s", i, S.seen[i].uri);
	ck_assert_int_eq(S.seen[1].has_index, 1);
	ck_assert_uint_eq(S.seen[1].index, 1);
	ck_assert_int_eq(r.changes, 1);
	ck_assert_int_eq(r.downs, 0);
	consul_watch_cancel(r.w);

	/* No header at all: the same. */
	S.nseen = 0;
	S.index[0] = '\0';
	r = (struct rec){0};
	o.arg = &r;
	t0 = mono_ms();
	r.w = consul_watch_start(watcher, &o);
	run_for(600);
	secs = (double)(mono_ms() - t0) / 1000.0;
	ck_assert_msg(S.nseen <= 3 + (size_t)(10 * secs) + 1, "%zu requests in %.2f s",
		      S.nseen, secs);
	for (size_t i = 0; i < S.nseen; i++)
		ck_assert(!S.seen[i].has_index || S.seen[i].index >= 1);
	consul_watch_cancel(r.w);
}
END_TEST

/* A server whose data changes on every answer is still polled no faster
 * than the bucket allows (default rate and burst). */
START_TEST(test_rate_limit_defaults)
{
	struct consul_watch_opts o = {.path = "/v1/health/service/web",
				      .on_change = on_change};
	struct rec r = {0};
	uint64_t t0 = mono_ms();

	S.immediate = 1;
	o.arg = &r;
	r.w = consul_watch_start(watcher, &o);
	for (int i = 0; i < 400 && mono_ms() - t0 < 1000; i++) {
		char body[32];
		snprintf(body, sizeof(body), "[%d]", i);
		state_set(20 + (uint64_t)i, body);
		event_base_loop(S.base, EVLOOP_ONCE);
	}
	run_for(50);
	double secs = (double)(mono_ms() - t0) / 1000.0;
	ck_assert_msg(S.nseen <= 10 + (size_t)(20 * secs) + 1, "%zu requests in %.2f s",
		      S.nseen, secs);
	ck_assert_uint_ge(S.nseen, 10);
	consul_watch_cancel(r.w);
}
END_TEST

/* The callbacks reached at least these counts. */
struct counts {
	const struct rec *r;
	int changes, ups, downs;
};

static int counts_reached(void *arg)
{
	const struct counts *c = arg;
	return c->r->changes >= c->changes && c->r->ups >= c->ups &&
	       c->r->downs >= c->downs;
}

#define WAIT_COUNTS(rec, ch, up, down) do { \
		struct counts c_ = {&(rec), (ch), (up), (down)}; \
		ck_assert_msg(run_until(counts_reached, &c_, 5000), \
			      "changes %d ups %d downs %d", (rec).changes, (rec).ups, (rec).downs); \
	} while (0)

/* 5xx and 429 answers and dropped connections back off (the index is
 * kept), and on_state fires once going down and once coming back. */
START_TEST(test_errors_back_off)
{
	struct rec r = {0};

	watch("/v1/health/service/web", NULL, 5000, &r);
	WAIT_BLOCKED(2);
	size_t first_error = S.nseen;   /* the next request fails */
	S.fail_next = 5;
	S.fail_status = 503;
	state_set(11, "[\"first\"]");   /* the held one returns, unchanged */
	/* Requests 2 to 6 are answered 503; request 7 blocks. */
	WAIT_BLOCKED(first_error + 6);
	ck_assert_int_eq(r.downs, 1);
	ck_assert_str_eq(r.why, "GET /v1/health/service/web: 503 boom 503");
	ck_assert_int_eq(r.ups, 0);     /* no good answer yet */
	ck_assert_int_eq(r.changes, 1);
	/* The index was kept through the errors. */
	for (size_t i = first_error; i < S.nseen; i++)
		ck_assert_uint_eq(S.seen[i].index, 11);
	/* Backoff: each retry waited at least half the doubling delay. */
	uint64_t d = 20;
	for (size_t i = first_error + 1; i <= first_error + 5; i++) {
		uint64_t gap = S.seen[i].at_ms - S.seen[i - 1].at_ms;
		ck_assert_msg(gap + 1 >= d / 2, "retry %zu after %" PRIu64 " ms, want >= %" PRIu64,
			      i, gap, d / 2);
		d = d * 2 > 100 ? 100 : d * 2;
	}
	state_set(12, "[\"second\"]");
	WAIT_COUNTS(r, 2, 1, 1);
	WAIT_BLOCKED(S.nseen);
	ck_assert_int_eq(r.ups, 1);
	ck_assert_int_eq(r.downs, 1);

	/* A dropped connection (twice, in case curl retries it once on a
	 * fresh one) and a 429: one more down, and up at the next answer. */
	size_t before = S.nseen;
	S.fail_next = 1;
	S.fail_status = 429;
	S.drop_next = 2;
	state_set(13, "[\"third\"]");
	WAIT_COUNTS(r, 3, 1, 2);
	ck_assert(run_until(blocked_after, (void *)(uintptr_t)(before + 3), 5000));
	ck_assert_int_eq(r.downs, 2);
	ck_assert_int_eq(r.ups, 1);
	state_set(14, "[\"fourth\"]");
	WAIT_COUNTS(r, 4, 2, 2);
	ck_assert_int_eq(r.downs, 2);
	ck_assert_int_eq(r.ups, 2);
	ck_assert_str_eq(r.last_body, "[\"fourth\"]");
	consul_watch_cancel(r.w);
}
END_TEST

static int downs_seen(void *arg)
{
	return ((struct rec *)arg)->downs > 0;
}

/* Nothing listens: one down, retries spaced by the backoff, no change. */
START_TEST(test_unreachable)
{
	struct consul_config cfg = {0};
	struct consul_client *dead;
	struct consul_watcher *wr;
	struct rec r = {0};
	char addr[64];

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", check_unused_port());
	cfg.address = addr;
	dead = consul_client_new(&cfg);
	wr = consul_watcher_new_with(S.base, dead, transport);
	struct consul_watch_opts o = {.path = "/v1/health/service/web",
				      .backoff_min_ms = 50, .backoff_max_ms = 200,
				      .on_change = on_change, .on_state = on_state,
				      .arg = &r};
	r.w = consul_watch_start(wr, &o);
	ck_assert(run_until(downs_seen, &r, 5000));
	run_for(500);
	ck_assert_int_eq(r.downs, 1);
	ck_assert_int_eq(r.ups, 0);
	ck_assert_int_eq(r.changes, 0);
	ck_assert_msg(strncmp(r.why, "GET /v1/health/service/web: ", 28) == 0, "%s", r.why);
	ck_assert_uint_eq(consul_watch_index(r.w), 0);
	consul_watcher_free(wr); /* cancels the watch */
	consul_client_free(dead);
}
END_TEST

/* A KV prefix with no keys answers 404: that is empty data, not an error. */
START_TEST(test_kv_404_is_empty)
{
	struct rec r = {0};

	S.status = 404;
	state_set(7, "");
	watch("/v1/kv/fabio/config", "recurse=", 5000, &r);
	WAIT_BLOCKED(2);
	ck_assert_int_eq(r.changes, 1);
	ck_assert_int_eq(r.last_status, 404);
	ck_assert_int_eq(r.has_body, 0);
	ck_assert_int_eq(r.downs, 0);
	ck_assert_uint_eq(S.seen[1].index, 7);
	/* Still nothing: no callback. */
	state_set(8, "");
	WAIT_BLOCKED(3);
	ck_assert_int_eq(r.changes, 1);
	/* A key appears. */
	S.status = 200;
	state_set(9, "[{\"Key\":\"fabio/config/a\",\"Value\":null}]");
	WAIT_BLOCKED(4);
	ck_assert_int_eq(r.changes, 2);
	ck_assert_int_eq(r.last_status, 200);
	consul_watch_cancel(r.w);

	/* The same 404 elsewhere is an error. */
	struct rec h = {0};
	S.status = 404;
	state_set(10, "");
	watch("/v1/health/service/web", NULL, 5000, &h);
	ck_assert(run_until(downs_seen, &h, 5000));
	ck_assert_int_eq(h.changes, 0);
	ck_assert_str_eq(h.why, "GET /v1/health/service/web: 404");
	consul_watch_cancel(h.w);
}
END_TEST

/* Cancel from inside the change callback: no more requests, no more
 * callbacks, nothing leaked (ASan). */
START_TEST(test_cancel_in_change_callback)
{
	struct rec r = {.cancel_self_on_change = 1};

	watch("/v1/health/service/web", NULL, 5000, &r);
	ck_assert(run_until(seen_at_least, (void *)(uintptr_t)1, 5000));
	run_for(200);
	ck_assert_int_eq(r.changes, 1);
	ck_assert_ptr_null(r.w);
	ck_assert_uint_eq(S.nseen, 1);
}
END_TEST

/* Cancel from inside the state callback. */
START_TEST(test_cancel_in_state_callback)
{
	struct rec r = {.cancel_self_on_down = 1};

	S.fail_next = 100;
	S.fail_status = 500;
	watch("/v1/health/service/web", NULL, 5000, &r);
	ck_assert(run_until(downs_seen, &r, 5000));
	run_for(200);
	ck_assert_int_eq(r.downs, 1);
	ck_assert_int_eq(r.changes, 0);
	ck_assert_uint_eq(S.nseen, 1);
}
END_TEST

/* A callback cancels another watch that is blocked in flight and starts
 * a new one. */
START_TEST(test_cancel_other_and_start)
{
	struct rec a = {0}, b = {0}, c = {0};

	watch("/v1/health/service/b", NULL, 5000, &b);
	WAIT_BLOCKED(2);
	ck_assert_int_eq(b.changes, 1);
	a.cancel_on_change = b.w;
	a.start_on_change = 1;
	a.started_rec = &c;
	watch("/v1/health/service/a", NULL, 5000, &a);
	/* a: first answer (b cancelled, c started), then blocked; c: first
	 * answer, then blocked. */
	WAIT_BLOCKED(5);
	run_for(100);
	ck_assert_int_eq(a.changes, 1);
	ck_assert_ptr_nonnull(a.started);
	ck_assert_int_eq(c.changes, 1);
	/* The state changes: a and c wake, b is gone. */
	state_set(11, "[\"new\"]");
	run_for(300);
	ck_assert_int_eq(b.changes, 1);
	ck_assert_int_eq(a.changes, 2);
	ck_assert_int_eq(c.changes, 2);
	int seen_b_after = 0;
	for (size_t i = 2; i < S.nseen; i++)
		seen_b_after += strstr(S.seen[i].uri, "/service/b") != NULL;
	ck_assert_int_eq(seen_b_after, 0);
	consul_watch_cancel(a.w);
	consul_watch_cancel(c.w);
	consul_watch_cancel(NULL);
}
END_TEST

/* consul_watcher_free with watches blocked and others waiting out a
 * backoff: everything is stopped and freed. */
START_TEST(test_watcher_free_running)
{
	struct rec a = {0}, b = {0};

	watch("/v1/health/service/a", NULL, 5000, &a);
	WAIT_BLOCKED(2);
	S.fail_next = 100;
	S.fail_status = 500;
	watch("/v1/health/service/b", NULL, 5000, &b);
	ck_assert(run_until(downs_seen, &b, 5000));
	consul_watcher_free(watcher);
	watcher = NULL;
	size_t n = S.nseen;
	run_for(300);
	ck_assert_uint_eq(S.nseen, n);
	consul_watcher_free(NULL);
}
END_TEST

/* A second client and watcher on the scripted server, with settings of
 * their own. */
static struct consul_watcher *watcher_with(const struct consul_config *cfg,
					   struct consul_client **c)
{
	struct consul_watcher *wr;

	*c = consul_client_new(cfg);
	ck_assert_ptr_nonnull(*c);
	wr = consul_watcher_new_with(S.base, *c, transport);
	ck_assert_ptr_nonnull(wr);
	return wr;
}

/* The token, Host and User-Agent headers, and the dc and consistency
 * flags after the watch's own parameters, as consul_request() sends
 * them. */
START_TEST(test_flags_and_token)
{
	struct consul_config cfg = {0};
	struct consul_client *c;
	struct consul_watcher *wr;
	struct rec r = {0};
	char addr[64];

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", S.port);
	cfg.address = addr;
	cfg.token = "s3cret-token";
	cfg.datacenter = "dc 1";
	cfg.consistency = CONSUL_CONSISTENCY_STALE;
	wr = watcher_with(&cfg, &c);
	watch_on(wr, "/v1/health/service/web", "passing=1", 5000, &r);
	WAIT_BLOCKED(2);
	ck_assert_str_eq(S.seen[0].uri, "/v1/health/service/web?passing=1&dc=dc%201&stale=");
	ck_assert_str_eq(S.seen[1].uri,
			 "/v1/health/service/web?passing=1&index=10&wait=5s&dc=dc%201&stale=");
	for (int i = 0; i < 2; i++) {
		ck_assert_str_eq(S.seen[i].token, "s3cret-token");
		ck_assert_str_eq(S.seen[i].host, addr);
		ck_assert_str_eq(S.seen[i].agent, "switchyard-consul-client");
	}
	ck_assert_int_eq(r.changes, 1);
	consul_watcher_free(wr);
	consul_client_free(c);

	/* ?consistent, no token, no dc, a path without query. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.address = addr;
	cfg.consistency = CONSUL_CONSISTENCY_CONSISTENT;
	wr = watcher_with(&cfg, &c);
	r = (struct rec){0};
	S.nseen = 0;
	release_held();
	watch_on(wr, "/v1/catalog/services", NULL, 0, &r);
	WAIT_BLOCKED(2);
	ck_assert_str_eq(S.seen[0].uri, "/v1/catalog/services?consistent=");
	ck_assert_str_eq(S.seen[1].uri, "/v1/catalog/services?index=10&consistent=");
	ck_assert_str_eq(S.seen[1].token, "");
	consul_watcher_free(wr);
	consul_client_free(c);
}
END_TEST

/* ---- the evhttp transport's own edges ---- */

/* A raw server: reads request heads, answers each with R.reply byte for
 * byte (or never, when NULL), and closes after writing when R.close. */
static struct {
	struct evconnlistener *lis;
	int port;
	const char *reply;
	int close;
	int accepted, requests;
	struct bufferevent *bev[64];
} R;

static void raw_conn_free(struct bufferevent *bev)
{
	for (size_t i = 0; i < sizeof(R.bev) / sizeof(R.bev[0]); i++)
		if (R.bev[i] == bev)
			R.bev[i] = NULL;
	bufferevent_free(bev);
}

static void raw_on_written(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		raw_conn_free(bev);
}

static void raw_on_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		raw_conn_free(bev);
}

static void raw_on_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr p;

	while ((p = evbuffer_search(in, "\r\n\r\n", 4, NULL)).pos >= 0) {
		evbuffer_drain(in, (size_t)p.pos + 4);
		R.requests++;
		if (!R.reply)
			continue;
		if (!*R.reply && R.close) {
			raw_conn_free(bev);
			return;
		}
		bufferevent_write(bev, R.reply, strlen(R.reply));
		if (R.close) {
			bufferevent_disable(bev, EV_READ);
			bufferevent_setcb(bev, NULL, raw_on_written, raw_on_event, NULL);
			return;
		}
	}
}

static void raw_on_accept(struct evconnlistener *l, evutil_socket_t fd,
			  struct sockaddr *sa, int len, void *arg)
{
	struct bufferevent *bev = bufferevent_socket_new(S.base, fd,
							 BEV_OPT_CLOSE_ON_FREE);
	size_t i;

	ck_assert_ptr_nonnull(bev);
	R.accepted++;
	for (i = 0; i < sizeof(R.bev) / sizeof(R.bev[0]) && R.bev[i]; i++)
		;
	ck_assert_uint_lt(i, sizeof(R.bev) / sizeof(R.bev[0]));
	R.bev[i] = bev;
	bufferevent_setcb(bev, raw_on_read, NULL, raw_on_event, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void setup_raw(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t slen = sizeof(sin);

	setup_ev();
	memset(&R, 0, sizeof(R));
	R.lis = evconnlistener_new_bind(S.base, raw_on_accept, NULL,
					LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1,
					(struct sockaddr *)&sin, sizeof(sin));
	ck_assert_ptr_nonnull(R.lis);
	ck_assert_int_eq(getsockname(evconnlistener_get_fd(R.lis),
				     (struct sockaddr *)&sin, &slen), 0);
	R.port = ntohs(sin.sin_port);
}

static void teardown_raw(void)
{
	for (size_t i = 0; i < sizeof(R.bev) / sizeof(R.bev[0]); i++)
		if (R.bev[i])
			raw_conn_free(R.bev[i]);
	evconnlistener_free(R.lis);
	teardown();
}

/* A client of the raw server (port), its watcher on the default
 * transport, and one watch on /v1/health/service/web. */
static struct consul_watcher *raw_watch(int port, size_t max_body,
					long timeout_ms, struct consul_client **c,
					struct rec *r)
{
	struct consul_config cfg = {0};
	struct consul_watcher *wr;
	char addr[64];

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	cfg.address = addr;
	cfg.max_body = max_body;
	cfg.timeout_ms = timeout_ms;
	wr = watcher_with(&cfg, c);
	watch_on(wr, "/v1/health/service/web", NULL, 5000, r);
	return wr;
}

static void raw_done(struct consul_watcher *wr, struct consul_client *c)
{
	consul_watcher_free(wr);
	consul_client_free(c);
}

/* Every blocking round of a watch goes out on the same connection; an
 * answer with Connection: close moves it to a new one without an error. */
START_TEST(test_ev_keepalive)
{
	struct rec r = {0};

	watch("/v1/health/service/web", NULL, 5000, &r);
	WAIT_BLOCKED(2);
	for (int i = 0; i < 4; i++) {
		char body[32];
		snprintf(body, sizeof(body), "[\"round %d\"]", i);
		state_set(11 + (uint64_t)i, body);
		WAIT_BLOCKED(3 + i);
	}
	ck_assert_int_eq(r.changes, 5);
	for (size_t i = 1; i < S.nseen; i++)
		ck_assert_uint_eq(S.seen[i].peer_port, S.seen[0].peer_port);

	S.close_conn = 1;
	state_set(20, "[\"closing\"]");
	ck_assert(run_until(seen_at_least, (void *)(uintptr_t)7, 5000));
	S.close_conn = 0;
	state_set(21, "[\"after\"]");
	WAIT_BLOCKED(8);
	ck_assert_int_eq(r.downs, 0);
	ck_assert_int_eq(r.changes, 7);
	ck_assert_uint_ne(S.seen[6].peer_port, S.seen[0].peer_port);
	ck_assert_uint_eq(S.seen[7].peer_port, S.seen[6].peer_port);
	consul_watch_cancel(r.w);
}
END_TEST

/* The agent closes the kept connection on the next request without an
 * answer: sent again once on a fresh connection, no error seen. */
START_TEST(test_ev_stale_connection_retried)
{
	struct rec r = {0};

	watch("/v1/health/service/web", NULL, 5000, &r);
	WAIT_BLOCKED(2);
	S.drop_next = 1;
	state_set(11, "[\"second\"]");
	WAIT_BLOCKED(4);
	ck_assert_int_eq(r.downs, 0);
	ck_assert_int_eq(r.changes, 2);
	ck_assert_uint_eq(S.seen[2].index, 11);
	ck_assert_uint_eq(S.seen[3].index, 11);
	ck_assert_uint_eq(S.seen[2].peer_port, S.seen[0].peer_port);
	ck_assert_uint_ne(S.seen[3].peer_port, S.seen[0].peer_port);

	/* Twice in a row: the second failure is an error. */
	S.drop_next = 2;
	state_set(12, "[\"third\"]");
	ck_assert(run_until(downs_seen, &r, 5000));
	ck_assert_str_eq(r.why, "GET /v1/health/service/web: connection closed before an answer");
	WAIT_BLOCKED(7);
	ck_assert_int_eq(r.downs, 1);
	state_set(13, "[\"fourth\"]");
	WAIT_COUNTS(r, 4, 1, 1);
	consul_watch_cancel(r.w);
}
END_TEST

static int changes_seen(void *arg)
{
	return ((struct rec *)arg)->changes > 0;
}

/* Connection refused: down once with the address in the reason, retried
 * with backoff; the agent starts on that port and the watch comes up. */
START_TEST(test_ev_refused_then_up)
{
	struct consul_client *c;
	struct consul_watcher *wr;
	struct rec r = {0};
	char want[160];
	int port = check_unused_port();

	wr = raw_watch(port, 0, 2000, &c, &r);
	ck_assert(run_until(downs_seen, &r, 5000));
	snprintf(want, sizeof(want),
		 "GET /v1/health/service/web: could not connect to 127.0.0.1 port %d", port);
	ck_assert_str_eq(r.why, want);
	run_for(300);
	ck_assert_int_eq(r.downs, 1);
	ck_assert_int_eq(r.changes, 0);

	ck_assert_int_eq(evhttp_bind_socket(S.http, "127.0.0.1", (ev_uint16_t)port), 0);
	ck_assert(run_until(changes_seen, &r, 5000));
	ck_assert_int_eq(r.ups, 1);
	ck_assert_str_eq(r.last_body, "[\"first\"]");
	raw_done(wr, c);
}
END_TEST

/* The agent closes the connection in the middle of a body (with a length,
 * chunked), or before any answer: an error each time, never a change; a
 * whole answer afterwards is delivered. */
START_TEST(test_ev_closed_mid_body)
{
	struct consul_client *c;
	struct consul_watcher *wr;
	struct rec r = {0};

	R.close = 1;
	R.reply = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nX-Consul-Index: 5\r\n\r\n[\"partial";
	wr = raw_watch(R.port, 0, 2000, &c, &r);
	ck_assert(run_until(downs_seen, &r, 5000));
	ck_assert_str_eq(r.why, "GET /v1/health/service/web: connection closed in the middle of the answer");
	ck_assert_int_eq(r.changes, 0);
	raw_done(wr, c);

	r = (struct rec){0};
	R.reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Consul-Index: 5\r\n\r\n"
		  "5\r\n[\"abc\r\n";
	wr = raw_watch(R.port, 0, 2000, &c, &r);
	ck_assert(run_until(downs_seen, &r, 5000));
	ck_assert_str_eq(r.why, "GET /v1/health/service/web: connection closed in the middle of the answer");
	raw_done(wr, c);

	r = (struct rec){0};
	R.reply = "";
	wr = raw_watch(R.port, 0, 2000, &c, &r);
	ck_assert(run_until(downs_seen, &r, 5000));
	ck_assert_str_eq(r.why, "GET /v1/health/service/web: connection closed before an answer");
	ck_assert_int_eq(r.changes, 0);

	R.reply = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nX-Consul-Index: 5\r\n\r\n[\"whole\"]";
	ck_assert(run_until(changes_seen, &r, 5000));
	ck_assert_int_eq(r.ups, 1);
	ck_assert_str_eq(r.last_body, "[\"whole\"]");
	ck_assert_uint_eq(consul_watch_index(r.w), 5);
	raw_done(wr, c);
}
END_TEST

/* Not HTTP at all: an error, the watch keeps retrying. */
START_TEST(test_ev_malformed_answer)
{
	struct consul_client *c;
	struct consul_watcher *wr;
	struct rec r = {0};

	R.close = 1;
	R.reply = "SSH-2.0-OpenSSH_9.2\r\n\r\n";
	wr = raw_watch(R.port, 0, 2000, &c, &r);
	ck_assert(run_until(downs_seen, &r, 5000));
	ck_assert_str_eq(r.why, "GET /v1/health/service/web: malformed answer");
	run_for(200);
	ck_assert_int_ge(R.requests, 2);
	ck_assert_int_eq(r.downs, 1);
	raw_done(wr, c);
}
END_TEST

static int body_len_of(struct rec *r)
{
	return (int)strlen(r->last_body);
}

/* The client's body limit: a body of exactly the limit is delivered, one
 * byte more is the body-limit error, with a length and chunked. */
START_TEST(test_ev_body_limit)
{
	struct consul_config cfg = {0};
	struct consul_client *c;
	struct consul_watcher *wr;
	struct rec r = {0};
	char addr[64], body[1024];

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", S.port);
	cfg.address = addr;
	cfg.max_body = 1000;
	wr = watcher_with(&cfg, &c);

	memset(body, 'x', 1001);
	body[1001] = '\0';
	state_set(10, body);
	watch_on(wr, "/v1/health/service/web", NULL, 5000, &r);
	ck_assert(run_until(downs_seen, &r, 5000));
	ck_assert_str_eq(r.why, "GET /v1/health/service/web: answer over the body limit");
	ck_assert_int_eq(r.changes, 0);

	body[1000] = '\0';
	state_set(11, body);
	WAIT_COUNTS(r, 1, 1, 1);
	ck_assert_int_eq(body_len_of(&r), 1000);

	S.chunked = 100;
	body[1000] = 'y';
	state_set(12, body);
	WAIT_COUNTS(r, 1, 1, 2);
	ck_assert_str_eq(r.why, "GET /v1/health/service/web: answer over the body limit");

	body[999] = 'z';
	body[1000] = '\0';
	state_set(13, body);
	WAIT_COUNTS(r, 2, 2, 2);
	ck_assert_int_eq(body_len_of(&r), 1000);
	ck_assert_int_eq(r.last_body[999], 'z');
	consul_watcher_free(wr);
	consul_client_free(c);
}
END_TEST

/* Chunked answers: the chunks are joined, X-Consul-Index counts, and a
 * trailer after the last chunk is fine. */
START_TEST(test_ev_chunked)
{
	struct consul_client *c;
	struct consul_watcher *wr;
	struct rec r = {0};

	S.chunked = 3;
	state_set(10, "[\"in three-byte chunks\"]");
	watch("/v1/health/service/web", NULL, 5000, &r);
	WAIT_BLOCKED(2);
	ck_assert_str_eq(r.last_body, "[\"in three-byte chunks\"]");
	ck_assert_uint_eq(S.seen[1].index, 10);
	state_set(11, "[\"and again\"]");
	WAIT_BLOCKED(3);
	ck_assert_int_eq(r.changes, 2);
	ck_assert_str_eq(r.last_body, "[\"and again\"]");
	consul_watch_cancel(r.w);

	r = (struct rec){0};
	R.reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Consul-Index: 7\r\n\r\n"
		  "4\r\n[\"ab\r\n3\r\nc\"]\r\n0\r\nX-Trailer: t\r\n\r\n";
	wr = raw_watch(R.port, 0, 2000, &c, &r);
	ck_assert(run_until(changes_seen, &r, 5000));
	ck_assert_str_eq(r.last_body, "[\"abc\"]");
	ck_assert_int_eq(r.downs, 0);
	ck_assert_uint_eq(consul_watch_index(r.w), 7);
	raw_done(wr, c);
}
END_TEST

/* What the big-body test saw. */
struct big_rec {
	struct consul_watch *w;
	int changes;
	size_t len;
	uint64_t hash;
};

static uint64_t fnv(const char *p, size_t len)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ull;
	}
	return h;
}

static void on_big(struct consul_watch *w, const struct consul_response *resp,
		   void *arg)
{
	struct big_rec *b = arg;

	b->changes++;
	b->len = resp->body_len;
	b->hash = fnv(resp->body, resp->body_len);
	ck_assert_int_eq(resp->body[resp->body_len], '\0');
}

static int big_changes(void *arg)
{
	return ((struct big_rec *)arg)->changes >= 2;
}

/* A 10 MB body, with a length and then chunked, arrives whole. */
START_TEST(test_ev_big_body)
{
	const size_t len = 10u * 1024 * 1024;
	char *big = malloc(len);
	struct big_rec b = {0};
	struct consul_watch_opts o = {.path = "/v1/health/service/big",
				      .wait_ms = 5000, .on_change = on_big,
				      .arg = &b};

	ck_assert_ptr_nonnull(big);
	for (size_t i = 0; i < len; i++)
		big[i] = (char)('a' + (i * 7 + i / 4096) % 26);
	S.big = big;
	S.big_len = len;
	b.w = consul_watch_start(watcher, &o);
	WAIT_BLOCKED(2);
	ck_assert_int_eq(b.changes, 1);
	ck_assert_uint_eq(b.len, len);
	ck_assert(b.hash == fnv(big, len));

	S.chunked = 64 * 1024;
	big[len - 1] = '!';
	state_set(11, "");
	ck_assert(run_until(big_changes, &b, 10000));
	ck_assert_uint_eq(b.len, len);
	ck_assert(b.hash == fnv(big, len));
	consul_watch_cancel(b.w);
	S.big = NULL;
	free(big);
}
END_TEST

/* An agent that accepts and never answers: the non-blocking first request
 * fails at the client's limit. */
START_TEST(test_ev_no_answer_timeout)
{
	struct consul_client *c;
	struct consul_watcher *wr;
	struct rec r = {0};
	uint64_t t0 = mono_ms();

	R.reply = NULL;
	wr = raw_watch(R.port, 0, 300, &c, &r);
	ck_assert(run_until(downs_seen, &r, 5000));
	printf("# no answer: down after %" PRIu64 " ms (limit 300 ms)\n", mono_ms() - t0);
	ck_assert_uint_ge(mono_ms() - t0, 290);
	ck_assert_str_eq(r.why,
			 "GET /v1/health/service/web: no whole answer within the request's time limit");
	raw_done(wr, c);
}
END_TEST

/* A connect that never completes (the agent's accept queue is full, so
 * the kernel drops the SYN): down at the connect limit. */
START_TEST(test_ev_connect_timeout)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t slen = sizeof(sin);
	struct consul_client *c;
	struct consul_watcher *wr;
	struct rec r = {0};
	char want[160];
	int lfd = socket(AF_INET, SOCK_STREAM, 0), filler;
	uint64_t t0;

	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(lfd, 0), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sin, &slen), 0);
	filler = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(filler, (struct sockaddr *)&sin, sizeof(sin)), 0);

	t0 = mono_ms();
	wr = raw_watch(ntohs(sin.sin_port), 0, 400, &c, &r);
	ck_assert(run_until(downs_seen, &r, 5000));
	printf("# connect: down after %" PRIu64 " ms (limit 400 ms)\n", mono_ms() - t0);
	ck_assert_uint_ge(mono_ms() - t0, 390);
	snprintf(want, sizeof(want),
		 "GET /v1/health/service/web: could not connect to 127.0.0.1 port %d in time",
		 ntohs(sin.sin_port));
	ck_assert_str_eq(r.why, want);
	raw_done(wr, c);
	close(filler);
	close(lfd);
}
END_TEST

/* A host name goes through the resolver: localhost reaches the server. */
START_TEST(test_ev_host_name)
{
	struct consul_config cfg = {0};
	struct consul_client *c;
	struct consul_watcher *wr;
	struct rec r = {0};
	char addr[64];

	snprintf(addr, sizeof(addr), "localhost:%d", S.port);
	cfg.address = addr;
	wr = watcher_with(&cfg, &c);
	ck_assert_str_eq(consul_watcher_transport(wr), "evhttp");
	watch_on(wr, "/v1/health/service/web", NULL, 5000, &r);
	WAIT_BLOCKED(2);
	ck_assert_int_eq(r.changes, 1);
	ck_assert_str_eq(S.seen[0].host, addr);
	/* Freed with a resolution possibly still running on its thread. */
	consul_watcher_free(wr);
	consul_client_free(c);
}
END_TEST

/* https agents get curl, and the evhttp transport refuses them. */
START_TEST(test_ev_not_for_https)
{
	struct consul_config cfg = {.address = "https://127.0.0.1:8501"};
	struct consul_client *c = consul_client_new(&cfg);
	struct consul_watcher *wr;

	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_null(consul_watcher_new_with(S.base, c, CONSUL_WATCH_EV));
	wr = consul_watcher_new(S.base, c);
	ck_assert_ptr_nonnull(wr);
	ck_assert_str_eq(consul_watcher_transport(wr), "curl");
	consul_watcher_free(wr);
	consul_client_free(c);
}
END_TEST

/* ---- https: the scripted server behind TLS, the watch through curl ---- */

static struct {
	SSL_CTX *ctx;
	struct evhttp *http;
	int port;
	char ca_path[64];
} T;

/* A self-signed certificate for IP 127.0.0.1 that is its own CA; its PEM
 * goes to T.ca_path for the client. */
static void tls_make_cert(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	FILE *f;
	int fd;

	ck_assert_ptr_nonnull(key);
	ck_assert_ptr_nonnull(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)"127.0.0.1", -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "IP:127.0.0.1");
	ck_assert_ptr_nonnull(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
	ck_assert_ptr_nonnull(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);

	snprintf(T.ca_path, sizeof(T.ca_path), "/tmp/check_consul_watch_XXXXXX");
	fd = mkstemp(T.ca_path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(PEM_write_X509(f, x), 1);
	fclose(f);

	T.ctx = SSL_CTX_new(TLS_server_method());
	ck_assert_ptr_nonnull(T.ctx);
	ck_assert_int_eq(SSL_CTX_use_certificate(T.ctx, x), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey(T.ctx, key), 1);
	X509_free(x);
	EVP_PKEY_free(key);
}

static struct bufferevent *tls_bev(struct event_base *base, void *arg)
{
	return bufferevent_openssl_socket_new(base, -1, SSL_new(T.ctx),
					      BUFFEREVENT_SSL_ACCEPTING,
					      BEV_OPT_CLOSE_ON_FREE);
}

static void setup_tls(void)
{
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct consul_config cfg = {0};
	char addr[64];

	setup_curl();
	/* The watch fixtures' client goes to the TLS front instead. */
	consul_watcher_free(watcher);
	consul_client_free(client);
	memset(&T, 0, sizeof(T));
	tls_make_cert();
	T.http = evhttp_new(S.base);
	evhttp_set_bevcb(T.http, tls_bev, NULL);
	evhttp_set_gencb(T.http, on_request, NULL);
	bs = evhttp_bind_socket_with_handle(T.http, "127.0.0.1", 0);
	ck_assert_ptr_nonnull(bs);
	ck_assert_int_eq(getsockname(evhttp_bound_socket_get_fd(bs),
				     (struct sockaddr *)&sin, &slen), 0);
	T.port = ntohs(sin.sin_port);
	snprintf(addr, sizeof(addr), "https://127.0.0.1:%d", T.port);
	cfg.address = addr;
	cfg.ca_file = T.ca_path;
	cfg.timeout_ms = 5000;
	cfg.token = "tls-token";
	client = consul_client_new(&cfg);
	ck_assert_ptr_nonnull(client);
	watcher = consul_watcher_new(S.base, client);
	ck_assert_ptr_nonnull(watcher);
	ck_assert_str_eq(consul_watcher_transport(watcher), "curl");
}

static void teardown_tls(void)
{
	consul_watcher_free(watcher);
	watcher = NULL;
	release_held();
	evhttp_free(T.http);
	SSL_CTX_free(T.ctx);
	unlink(T.ca_path);
	teardown();
}

/* A blocking watch over https: first answer, blocked with the index,
 * woken by a change; an error and the recovery; token sent. */
START_TEST(test_https_watch)
{
	struct rec r = {0};

	watch("/v1/health/service/web", "passing=1", 5000, &r);
	WAIT_BLOCKED(2);
	ck_assert_int_eq(r.changes, 1);
	ck_assert_str_eq(S.seen[1].uri, "/v1/health/service/web?passing=1&index=10&wait=5s");
	ck_assert_str_eq(S.seen[1].token, "tls-token");
	state_set(11, "[\"over tls\"]");
	WAIT_BLOCKED(3);
	ck_assert_int_eq(r.changes, 2);
	ck_assert_str_eq(r.last_body, "[\"over tls\"]");
	/* The held request returns unchanged, the next one fails. */
	S.fail_next = 1;
	S.fail_status = 500;
	state_set(12, "[\"over tls\"]");
	ck_assert(run_until(downs_seen, &r, 5000));
	ck_assert_str_eq(r.why, "GET /v1/health/service/web: 500 boom 500");
	state_set(13, "[\"after the error\"]");
	WAIT_COUNTS(r, 3, 1, 1);
	ck_assert_str_eq(r.last_body, "[\"after the error\"]");
	consul_watch_cancel(r.w);
}
END_TEST

/* The CA file does not vouch for the server: never an answer. */
START_TEST(test_https_bad_ca)
{
	struct consul_config cfg = {0};
	struct consul_client *c;
	struct consul_watcher *wr;
	struct rec r = {0};
	char addr[64];

	snprintf(addr, sizeof(addr), "https://127.0.0.1:%d", T.port);
	cfg.address = addr;
	cfg.ca_file = "/nonexistent/ca.pem";
	c = consul_client_new(&cfg);
	wr = consul_watcher_new(S.base, c);
	watch_on(wr, "/v1/health/service/web", NULL, 5000, &r);
	ck_assert(run_until(downs_seen, &r, 5000));
	ck_assert_int_eq(r.changes, 0);
	ck_assert_uint_eq(S.nseen, 0);
	consul_watcher_free(wr);
	consul_client_free(c);
}
END_TEST

/* The same watch tests for each transport. */
static void add_watch_tests(TCase *tc)
{
	tcase_add_test(tc, test_changes_only);
	tcase_add_test(tc, test_wait_timeout);
	tcase_add_test(tc, test_index_backwards);
	tcase_add_test(tc, test_index_zero_no_spin);
	tcase_add_test(tc, test_rate_limit_defaults);
	tcase_add_test(tc, test_errors_back_off);
	tcase_add_test(tc, test_unreachable);
	tcase_add_test(tc, test_kv_404_is_empty);
	tcase_add_test(tc, test_cancel_in_change_callback);
	tcase_add_test(tc, test_cancel_in_state_callback);
	tcase_add_test(tc, test_cancel_other_and_start);
	tcase_add_test(tc, test_watcher_free_running);
	tcase_add_test(tc, test_flags_and_token);
}

static Suite *watch_suite(void)
{
	Suite *s = suite_create("consul_watch");
	TCase *tc = tcase_create("rules");

	tcase_add_test(tc, test_index_next);
	tcase_add_test(tc, test_bucket);
	tcase_add_test(tc, test_backoff);
	suite_add_tcase(s, tc);

	/* plain http: the evhttp transport */
	tc = tcase_create("watch");
	tcase_add_checked_fixture(tc, setup_ev, teardown);
	tcase_set_timeout(tc, 30);
	add_watch_tests(tc);
	suite_add_tcase(s, tc);

	/* the same on curl, which https agents get */
	tc = tcase_create("watch_curl");
	tcase_add_checked_fixture(tc, setup_curl, teardown);
	tcase_set_timeout(tc, 30);
	add_watch_tests(tc);
	suite_add_tcase(s, tc);

	tc = tcase_create("evhttp");
	tcase_add_checked_fixture(tc, setup_raw, teardown_raw);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ev_keepalive);
	tcase_add_test(tc, test_ev_stale_connection_retried);
	tcase_add_test(tc, test_ev_refused_then_up);
	tcase_add_test(tc, test_ev_closed_mid_body);
	tcase_add_test(tc, test_ev_malformed_answer);
	tcase_add_test(tc, test_ev_body_limit);
	tcase_add_test(tc, test_ev_chunked);
	tcase_add_test(tc, test_ev_big_body);
	tcase_add_test(tc, test_ev_no_answer_timeout);
	tcase_add_test(tc, test_ev_connect_timeout);
	tcase_add_test(tc, test_ev_host_name);
	tcase_add_test(tc, test_ev_not_for_https);
	suite_add_tcase(s, tc);

	tc = tcase_create("https");
	tcase_add_checked_fixture(tc, setup_tls, teardown_tls);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_https_watch);
	tcase_add_test(tc, test_https_bad_ca);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* The server writes to clients that went away (cancelled watches). */
	signal(SIGPIPE, SIG_IGN);
	return check_main_run(watch_suite());
}
