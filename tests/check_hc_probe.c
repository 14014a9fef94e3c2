/*
 * check_hc_probe.c - active probes against real loopback servers started
 * on the test's own event_base (port 0): servers that answer 200, 503,
 * 301, garbage, a big body, late, nothing at all, or close at once, and
 * a port nobody listens on. Checks the results and reasons, the request
 * sent, timeouts, one probe in flight per target, the spread of first
 * probes over the interval, cancellation on removal and on free, and
 * that a re-set keeps what stays.
 */
#include "health/hc_probe.h"
#include "tests/check_main.h"
#include "tests/check_port.h"

#include <arpa/inet.h>
#include <check.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- a scripted loopback server ---- */

enum srv_mode {
	SRV_200,       /* 200 with a short body, then close */
	SRV_503,
	SRV_301,
	SRV_GARBAGE,   /* a line that is not HTTP, then close */
	SRV_BIG,       /* 200 with a 4 MiB body */
	SRV_SLOW,      /* 200 after slow_ms */
	SRV_SILENT,    /* read and never answer */
	SRV_CLOSE      /* close as soon as accepted */
};

struct srv;

struct sconn {
	struct srv *srv;
	struct bufferevent *bev;
	struct event *delay;
	int replied;
	LIST_ENTRY(sconn) link;
};

struct srv {
	struct event_base *base;
	struct evconnlistener *lis;
	enum srv_mode mode;
	unsigned slow_ms;
	int port;
	int accepted;     /* connections accepted */
	int open;         /* connections open now */
	int max_open;
	int aborted;      /* closed by the client before an answer */
	int cut;          /* closed by the client while the answer was
			   * still being sent */
	char last_req[2048];
	char first_path[64];
	char last_path[64];
	LIST_HEAD(, sconn) conns;
};

static void
sconn_free(struct sconn *c)
{
	struct srv *s = c->srv;

	LIST_REMOVE(c, link);
	if (c->delay != NULL)
		event_free(c->delay);
	bufferevent_free(c->bev);
	free(c);
	s->open--;
}

static void
sconn_reply(struct sconn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	c->replied = 1;
	switch (c->srv->mode) {
	case SRV_200:
	case SRV_SLOW:
		evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\nContent-Length: 2"
				    "\r\nConnection: close\r\n\r\nok");
		break;
	case SRV_503:
		evbuffer_add_printf(out, "HTTP/1.1 503 Service Unavailable\r\n"
				    "Content-Length: 0\r\n\r\n");
		break;
	case SRV_301:
		evbuffer_add_printf(out, "HTTP/1.0 301 Moved\r\nLocation: /x"
				    "\r\n\r\n");
		break;
	case SRV_GARBAGE:
		evbuffer_add_printf(out, "hello, this is not http\r\n\r\n");
		break;
	case SRV_BIG: {
		size_t big = 4u << 20;
		char *body = calloc(1, big);

		ck_assert_ptr_nonnull(body);
		memset(body, 'x', big);
		evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\nContent-Length: "
				    "%zu\r\n\r\n", big);
		evbuffer_add(out, body, big);
		free(body);
		break;
	}
	case SRV_SILENT:
	case SRV_CLOSE:
		break;
	}
}

static void
sconn_delay_cb(evutil_socket_t fd, short what, void *arg)
{
	sconn_reply(arg);
}

static void
sconn_read_cb(struct bufferevent *bev, void *arg)
{
	struct sconn *c = arg;
	struct srv *s = c->srv;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr end;
	size_t len;

	if (c->replied || c->delay != NULL) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (end.pos < 0)
		return;
	len = evbuffer_get_length(in);
	if (len >= sizeof(s->last_req))
		len = sizeof(s->last_req) - 1;
	evbuffer_copyout(in, s->last_req, len);
	s->last_req[len] = '\0';
	evbuffer_drain(in, evbuffer_get_length(in));
	if (sscanf(s->last_req, "GET %63s ", s->last_path) == 1 &&
	    s->first_path[0] == '\0')
		memcpy(s->first_path, s->last_path, sizeof(s->first_path));
	if (s->mode == SRV_SILENT)
		return;
	if (s->mode == SRV_SLOW) {
		struct timeval tv = {.tv_sec = s->slow_ms / 1000,
				     .tv_usec = (s->slow_ms % 1000) * 1000};

		c->delay = evtimer_new(s->base, sconn_delay_cb, c);
		ck_assert_ptr_nonnull(c->delay);
		evtimer_add(c->delay, &tv);
		return;
	}
	sconn_reply(c);
}

static void
sconn_write_cb(struct bufferevent *bev, void *arg)
{
	struct sconn *c = arg;

	if (c->replied &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		sconn_free(c);
}

static void
sconn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct sconn *c = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (!c->replied)
			c->srv->aborted++;
		else if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
			c->srv->cut++;
		sconn_free(c);
	}
}

static void
srv_accept_cb(struct evconnlistener *lis, evutil_socket_t fd,
	      struct sockaddr *sa, int salen, void *arg)
{
	struct srv *s = arg;
	struct sconn *c;

	s->accepted++;
	if (s->mode == SRV_CLOSE) {
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	ck_assert_ptr_nonnull(c);
	c->srv = s;
	c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	ck_assert_ptr_nonnull(c->bev);
	bufferevent_setcb(c->bev, sconn_read_cb, sconn_write_cb,
			  sconn_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	LIST_INSERT_HEAD(&s->conns, c, link);
	if (++s->open > s->max_open)
		s->max_open = s->open;
}

/* A server in mode on 127.0.0.1 (v6: ::1) port 0; NULL only when v6 and
 * the machine has no IPv6 loopback. */
static struct srv *
srv_start(struct event_base *base, enum srv_mode mode, int v6)
{
	struct srv *s = calloc(1, sizeof(*s));
	struct sockaddr_storage ss = {0};
	socklen_t sslen;

	ck_assert_ptr_nonnull(s);
	s->base = base;
	s->mode = mode;
	LIST_INIT(&s->conns);
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		sslen = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sslen = sizeof(*a);
	}
	s->lis = evconnlistener_new_bind(base, srv_accept_cb, s,
					 LEV_OPT_CLOSE_ON_FREE |
						 LEV_OPT_REUSEABLE,
					 128, (struct sockaddr *)&ss,
					 (int)sslen);
	if (s->lis == NULL && v6) {
		free(s);
		return NULL;
	}
	ck_assert_ptr_nonnull(s->lis);
	sslen = sizeof(ss);
	ck_assert_int_eq(getsockname(evconnlistener_get_fd(s->lis),
				     (struct sockaddr *)&ss, &sslen),
			 0);
	s->port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
			   : ((struct sockaddr_in *)&ss)->sin_port);
	return s;
}

static void
srv_stop(struct srv *s)
{
	if (s == NULL)
		return;
	while (!LIST_EMPTY(&s->conns))
		sconn_free(LIST_FIRST(&s->conns));
	evconnlistener_free(s->lis);
	free(s);
}

static char *
srv_addr(const struct srv *s, char *buf, size_t len)
{
	snprintf(buf, len, "127.0.0.1:%d", s->port);
	return buf;
}

/* ---- results ---- */

#define MAX_RESULTS 4096

struct result {
	uint64_t identity;
	int ok;
	char reason[64];
	unsigned elapsed_ms;
	uint64_t at_ms;
};

struct results {
	struct result r[MAX_RESULTS];
	size_t n;
	/* Optional reactions, for the re-entrancy tests. */
	struct hc_prober **free_on_result;
	struct hc_prober *remove_from;
	const struct hc_probe_spec *keep_specs;
	size_t keep_n;
};

static void
on_result(uint64_t identity, int ok, const char *reason, unsigned elapsed,
	  void *arg)
{
	struct results *rs = arg;

	ck_assert_ptr_nonnull(reason);
	if (rs->n < MAX_RESULTS) {
		struct result *r = &rs->r[rs->n++];

		r->identity = identity;
		r->ok = ok;
		snprintf(r->reason, sizeof(r->reason), "%s", reason);
		r->elapsed_ms = elapsed;
		r->at_ms = mono_ms();
	}
	if (rs->free_on_result != NULL && *rs->free_on_result != NULL) {
		hc_prober_free(*rs->free_on_result);
		*rs->free_on_result = NULL;
	}
	if (rs->remove_from != NULL) {
		ck_assert_int_eq(hc_prober_set(rs->remove_from, rs->keep_specs,
					       rs->keep_n),
				 0);
		rs->remove_from = NULL;
	}
}

static size_t
count_for(const struct results *rs, uint64_t identity)
{
	size_t n = 0;

	for (size_t i = 0; i < rs->n; i++)
		n += rs->r[i].identity == identity;
	return n;
}

static const struct result *
first_for(const struct results *rs, uint64_t identity)
{
	for (size_t i = 0; i < rs->n; i++)
		if (rs->r[i].identity == identity)
			return &rs->r[i];
	return NULL;
}

/* ---- running the loop until something holds ---- */

typedef int (*pred_fn)(void *ctx);

struct waiter {
	struct event_base *base;
	pred_fn pred;
	void *ctx;
	uint64_t until_ms;
	int met;
};

static void
waiter_cb(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *w = arg;

	if (w->pred != NULL && w->pred(w->ctx)) {
		w->met = 1;
		event_base_loopbreak(w->base);
	} else if (mono_ms() >= w->until_ms) {
		event_base_loopbreak(w->base);
	}
}

/* Run base until pred(ctx) holds (checked every 5 ms) or max_ms passed;
 * pred NULL: run max_ms. Whether pred held. */
static int
run_until(struct event_base *base, pred_fn pred, void *ctx, unsigned max_ms)
{
	struct waiter w = {.base = base, .pred = pred, .ctx = ctx,
			   .until_ms = mono_ms() + max_ms};
	struct timeval tv = {0, 5000};
	struct event *ev = event_new(base, -1, EV_PERSIST, waiter_cb, &w);

	ck_assert_ptr_nonnull(ev);
	event_add(ev, &tv);
	event_base_dispatch(base);
	event_free(ev);
	return w.met;
}

struct need {
	const struct results *rs;
	const uint64_t *ids;
	size_t n;
	size_t each;
};

static int
each_has_results(void *ctx)
{
	const struct need *nd = ctx;

	for (size_t i = 0; i < nd->n; i++)
		if (count_for(nd->rs, nd->ids[i]) < nd->each)
			return 0;
	return 1;
}

static int
srv_idle(void *ctx)
{
	const struct srv *s = ctx;

	return s->open == 0;
}

static int
srv_cut(void *ctx)
{
	const struct srv *s = ctx;

	return s->cut > 0;
}

static int
srv_saw_two(void *ctx)
{
	const struct srv *s = ctx;

	return strcmp(s->last_path, "/two") == 0;
}

/* A request arrived and its answer is being held back (SRV_SLOW). */
static int
srv_holding(void *ctx)
{
	const struct srv *s = ctx;
	const struct sconn *c;

	LIST_FOREACH(c, &s->conns, link)
		if (c->delay != NULL && !c->replied)
			return 1;
	return 0;
}

static int
srv_busy(void *ctx)
{
	const struct srv *s = ctx;

	return s->open > 0;
}

/* ---- tests ---- */

START_TEST(test_phase_spread)
{
	unsigned buckets[10] = {0};

	for (uint64_t id = 0; id < 10000; id++) {
		unsigned ph = hc_prober_phase_ms(id, 1000);

		ck_assert_uint_lt(ph, 1000);
		ck_assert_uint_eq(ph, hc_prober_phase_ms(id, 1000));
		buckets[ph / 100]++;
	}
	for (int i = 0; i < 10; i++) {
		ck_assert_uint_gt(buckets[i], 800);
		ck_assert_uint_lt(buckets[i], 1200);
	}
	ck_assert_uint_eq(hc_prober_phase_ms(42, 1), 0);
}
END_TEST

START_TEST(test_http_results)
{
	struct event_base *base = event_base_new();
	struct srv *ok = srv_start(base, SRV_200, 0);
	struct srv *unavail = srv_start(base, SRV_503, 0);
	struct srv *moved = srv_start(base, SRV_301, 0);
	struct srv *garbage = srv_start(base, SRV_GARBAGE, 0);
	struct srv *closer = srv_start(base, SRV_CLOSE, 0);
	struct srv *big = srv_start(base, SRV_BIG, 0);
	char a[6][64], refused[64], want[128];
	struct hc_probe_opts o = {.interval_ms = 200, .timeout_ms = 3000,
				  .user_agent = "probe-test/1"};
	struct results *rs = calloc(1, sizeof(*rs));
	struct hc_prober *p = hc_prober_new(base, &o, on_result, rs);
	uint64_t ids[] = {1, 2, 3, 4, 5, 6, 7};
	struct hc_probe_spec specs[] = {
		{1, srv_addr(ok, a[0], 64), HC_PROBE_HTTP, "/health?x=1", NULL},
		{2, srv_addr(unavail, a[1], 64), HC_PROBE_HTTP, "/", "svc.example"},
		{3, srv_addr(moved, a[2], 64), HC_PROBE_HTTP, NULL, NULL},
		{4, srv_addr(garbage, a[3], 64), HC_PROBE_HTTP, "/", NULL},
		{5, srv_addr(closer, a[4], 64), HC_PROBE_HTTP, "/", NULL},
		{6, refused, HC_PROBE_HTTP, "/", NULL},
		{7, srv_addr(big, a[5], 64), HC_PROBE_HTTP, "/big", NULL},
	};
	struct need nd = {rs, ids, 7, 1};
	const struct result *r;

	ck_assert_ptr_nonnull(p);
	snprintf(refused, sizeof(refused), "127.0.0.1:%d", check_unused_port());
	ck_assert_int_eq(hc_prober_set(p, specs, 7), 0);
	ck_assert_uint_eq(hc_prober_count(p), 7);
	ck_assert(run_until(base, each_has_results, &nd, 10000));

	r = first_for(rs, 1);
	ck_assert_int_eq(r->ok, 1);
	ck_assert_str_eq(r->reason, "HTTP 200");
	ck_assert_uint_lt(r->elapsed_ms, 3000);
	r = first_for(rs, 2);
	ck_assert_int_eq(r->ok, 0);
	ck_assert_str_eq(r->reason, "HTTP 503");
	r = first_for(rs, 3);
	ck_assert_int_eq(r->ok, 1);
	ck_assert_str_eq(r->reason, "HTTP 301");
	r = first_for(rs, 4);
	ck_assert_int_eq(r->ok, 0);
	ck_assert_str_eq(r->reason, "bad response");
	r = first_for(rs, 5);
	ck_assert_int_eq(r->ok, 0);
	ck_assert_str_eq(r->reason, "closed");
	r = first_for(rs, 6);
	ck_assert_int_eq(r->ok, 0);
	ck_assert_str_eq(r->reason, "connect refused");
	r = first_for(rs, 7);
	ck_assert_int_eq(r->ok, 1);
	ck_assert_str_eq(r->reason, "HTTP 200");

	/* The request: the path with its query, Host defaulting to the
	 * address, the user agent, Connection: close, nothing else odd. */
	snprintf(want, sizeof(want), "\r\nHost: %s\r\n", a[0]);
	ck_assert_msg(strncmp(ok->last_req, "GET /health?x=1 HTTP/1.1\r\n", 26) == 0,
		      "request: %s", ok->last_req);
	ck_assert_ptr_nonnull(strstr(ok->last_req, want));
	ck_assert_ptr_nonnull(strstr(ok->last_req, "\r\nConnection: close\r\n"));
	ck_assert_ptr_nonnull(strstr(ok->last_req, "\r\nUser-Agent: probe-test/1\r\n"));
	ck_assert_ptr_nonnull(strstr(unavail->last_req, "\r\nHost: svc.example\r\n"));
	ck_assert_str_eq(moved->first_path, "/");

	/* The big body was not read to its end: the prober hung up while
	 * the server was still sending it. */
	ck_assert(run_until(base, srv_cut, big, 5000));

	hc_prober_free(p);
	srv_stop(ok);
	srv_stop(unavail);
	srv_stop(moved);
	srv_stop(garbage);
	srv_stop(closer);
	srv_stop(big);
	event_base_free(base);
	free(rs);
}
END_TEST

START_TEST(test_tcp_results)
{
	struct event_base *base = event_base_new();
	struct srv *silent = srv_start(base, SRV_SILENT, 0);
	struct srv *closer = srv_start(base, SRV_CLOSE, 0);
	char a[2][64], refused[64];
	struct hc_probe_opts o = {.interval_ms = 150, .timeout_ms = 2000};
	struct results *rs = calloc(1, sizeof(*rs));
	struct hc_prober *p = hc_prober_new(base, &o, on_result, rs);
	uint64_t ids[] = {11, 12, 13};
	struct hc_probe_spec specs[] = {
		{11, srv_addr(silent, a[0], 64), HC_PROBE_TCP, "/ignored", NULL},
		{12, srv_addr(closer, a[1], 64), HC_PROBE_TCP, NULL, NULL},
		{13, refused, HC_PROBE_TCP, NULL, NULL},
	};
	struct need nd = {rs, ids, 3, 2};

	snprintf(refused, sizeof(refused), "127.0.0.1:%d", check_unused_port());
	ck_assert_int_eq(hc_prober_set(p, specs, 3), 0);
	ck_assert(run_until(base, each_has_results, &nd, 10000));
	for (size_t i = 0; i < rs->n; i++) {
		const struct result *r = &rs->r[i];

		if (r->identity == 13) {
			ck_assert_int_eq(r->ok, 0);
			ck_assert_str_eq(r->reason, "connect refused");
		} else {
			ck_assert_int_eq(r->ok, 1);
			ck_assert_str_eq(r->reason, "connected");
		}
	}
	/* A TCP probe sends nothing and does not keep the connection. */
	ck_assert(run_until(base, srv_idle, silent, 3000));
	ck_assert_str_eq(silent->last_req, "");
	ck_assert_int_ge(silent->accepted, 2);

	hc_prober_free(p);
	srv_stop(silent);
	srv_stop(closer);
	event_base_free(base);
	free(rs);
}
END_TEST

START_TEST(test_timeout_one_in_flight)
{
	struct event_base *base = event_base_new();
	struct srv *silent = srv_start(base, SRV_SILENT, 0);
	char a[64];
	/* The timeout spans several ticks: those ticks must not start a
	 * second probe. */
	struct hc_probe_opts o = {.interval_ms = 100, .timeout_ms = 350};
	struct results *rs = calloc(1, sizeof(*rs));
	struct hc_prober *p = hc_prober_new(base, &o, on_result, rs);
	uint64_t ids[] = {21};
	struct hc_probe_spec spec = {21, srv_addr(silent, a, 64), HC_PROBE_HTTP,
				     "/", NULL};
	struct need nd = {rs, ids, 1, 3};

	ck_assert_int_eq(hc_prober_set(p, &spec, 1), 0);
	ck_assert(run_until(base, each_has_results, &nd, 15000));
	for (size_t i = 0; i < rs->n; i++) {
		ck_assert_int_eq(rs->r[i].ok, 0);
		ck_assert_str_eq(rs->r[i].reason, "timeout");
		/* libevent's coarse clock may fire a few ms early. */
		ck_assert_uint_ge(rs->r[i].elapsed_ms, 330);
		ck_assert_uint_lt(rs->r[i].elapsed_ms, 5000);
	}
	printf("# timeout 350 ms: first reported after %u ms\n",
	       rs->r[0].elapsed_ms);
	ck_assert_int_eq(silent->max_open, 1);
	/* Every connection but the one in flight now was timed out. */
	ck_assert_int_le(silent->accepted, (int)rs->n + 1);

	hc_prober_free(p);
	/* Freeing the prober closed the probe in flight. */
	ck_assert(run_until(base, srv_idle, silent, 3000));
	srv_stop(silent);
	event_base_free(base);
	free(rs);
}
END_TEST

START_TEST(test_first_probes_spread)
{
	enum { N = 100 };
	struct event_base *base = event_base_new();
	struct srv *closer = srv_start(base, SRV_CLOSE, 0);
	char a[64];
	struct hc_probe_opts o = {.interval_ms = 1000, .timeout_ms = 900};
	struct results *rs = calloc(1, sizeof(*rs));
	struct hc_prober *p = hc_prober_new(base, &o, on_result, rs);
	struct hc_probe_spec specs[N];
	uint64_t ids[N], t0, first[N];
	unsigned buckets[10] = {0}, early = 0, late = 0, worst = 0;
	uint64_t lo = UINT64_MAX, hi = 0;
	struct need nd = {rs, ids, N, 1};

	srv_addr(closer, a, sizeof(a));
	for (int i = 0; i < N; i++) {
		ids[i] = 5000 + (uint64_t)i;
		specs[i] = (struct hc_probe_spec){ids[i], a, HC_PROBE_TCP, NULL,
						  NULL};
	}
	t0 = mono_ms();
	ck_assert_int_eq(hc_prober_set(p, specs, N), 0);
	ck_assert(run_until(base, each_has_results, &nd, 15000));
	for (int i = 0; i < N; i++) {
		const struct result *r = first_for(rs, ids[i]);

		ck_assert_int_eq(r->ok, 1);
		first[i] = r->at_ms - t0;
		lo = first[i] < lo ? first[i] : lo;
		hi = first[i] > hi ? first[i] : hi;
		early += first[i] < 50;
		late += first[i] >= 500;
		buckets[first[i] / 100 < 10 ? first[i] / 100 : 9]++;
	}
	for (int i = 0; i < 10; i++)
		worst = buckets[i] > worst ? buckets[i] : worst;
	printf("# 100 targets, 1 s interval: first probes from %llu to %llu ms,"
	       " %u in the first 50 ms, %u after 500 ms, at most %u in one"
	       " 100 ms slice\n",
	       (unsigned long long)lo, (unsigned long long)hi, early, late,
	       worst);
	ck_assert_uint_lt(early, 20);
	ck_assert_uint_gt(late, 25);
	ck_assert_uint_ge(hi - lo, 500);
	ck_assert_uint_le(worst, 40);

	hc_prober_free(p);
	srv_stop(closer);
	event_base_free(base);
	free(rs);
}
END_TEST

START_TEST(test_removal_cancels)
{
	struct event_base *base = event_base_new();
	struct srv *silent = srv_start(base, SRV_SILENT, 0);
	struct srv *ok = srv_start(base, SRV_200, 0);
	char a[2][64];
	struct hc_probe_opts o = {.interval_ms = 100, .timeout_ms = 5000};
	struct results *rs = calloc(1, sizeof(*rs));
	struct hc_prober *p = hc_prober_new(base, &o, on_result, rs);
	struct hc_probe_spec specs[] = {
		{31, srv_addr(silent, a[0], 64), HC_PROBE_HTTP, "/", NULL},
		{32, srv_addr(ok, a[1], 64), HC_PROBE_HTTP, "/", NULL},
	};
	uint64_t ids[] = {32};
	size_t before;
	struct need nd = {rs, ids, 1, 0};

	ck_assert_int_eq(hc_prober_set(p, specs, 2), 0);
	/* 31's probe is in flight (the server holds it). */
	ck_assert(run_until(base, srv_busy, silent, 5000));
	ck_assert_uint_eq(count_for(rs, 31), 0);
	ck_assert_int_eq(hc_prober_set(p, &specs[1], 1), 0);
	ck_assert_uint_eq(hc_prober_count(p), 1);
	/* Removal closed the connection at once... */
	ck_assert(run_until(base, srv_idle, silent, 3000));
	/* ...and 31 is never reported again, while 32 goes on. */
	before = count_for(rs, 32);
	nd.each = before + 3;
	ck_assert(run_until(base, each_has_results, &nd, 10000));
	ck_assert_uint_eq(count_for(rs, 31), 0);
	ck_assert_int_eq(silent->accepted, 1);

	/* An empty set removes everything. */
	ck_assert_int_eq(hc_prober_set(p, NULL, 0), 0);
	ck_assert_uint_eq(hc_prober_count(p), 0);
	before = rs->n;
	run_until(base, NULL, NULL, 400);
	ck_assert_uint_eq(rs->n, before);

	hc_prober_free(p);
	srv_stop(silent);
	srv_stop(ok);
	event_base_free(base);
	free(rs);
}
END_TEST

/* Re-sets with equal specs, several per interval. */
struct resetter {
	struct hc_prober *p;
	struct hc_probe_spec *specs;
	size_t n;
	int count;
};

static void
reset_cb(evutil_socket_t fd, short what, void *arg)
{
	struct resetter *r = arg;
	char addr[64], path[64];
	struct hc_probe_spec copy = r->specs[0];

	/* Fresh copies: specs are matched by value, not by pointer. */
	snprintf(addr, sizeof(addr), "%s", r->specs[0].addr);
	snprintf(path, sizeof(path), "%s", r->specs[0].path);
	copy.addr = addr;
	copy.path = path;
	ck_assert_int_eq(hc_prober_set(r->p, &copy, 1), 0);
	r->count++;
}

START_TEST(test_reset_keeps_schedule)
{
	struct event_base *base = event_base_new();
	struct srv *slow = srv_start(base, SRV_SLOW, 0);
	char a[64];
	struct hc_probe_opts o = {.interval_ms = 200, .timeout_ms = 2000};
	struct results *rs = calloc(1, sizeof(*rs));
	struct hc_prober *p = hc_prober_new(base, &o, on_result, rs);
	struct hc_probe_spec spec = {41, srv_addr(slow, a, 64), HC_PROBE_HTTP,
				     "/one", NULL};
	struct resetter rr = {p, &spec, 1, 0};
	struct timeval every = {0, 30000};
	struct event *ev = event_new(base, -1, EV_PERSIST, reset_cb, &rr);
	uint64_t t0;
	size_t got;

	slow->slow_ms = 120;
	ck_assert_int_eq(hc_prober_set(p, &spec, 1), 0);
	event_add(ev, &every);
	t0 = mono_ms();
	run_until(base, NULL, NULL, 1500);
	event_free(ev);
	got = count_for(rs, 41);
	printf("# %d re-sets in %llu ms: %zu results, %d connections, %d cut\n",
	       rr.count, (unsigned long long)(mono_ms() - t0), got,
	       slow->accepted, slow->aborted);
	/* Every probe in flight survived the re-sets and was answered. */
	ck_assert_int_gt(rr.count, 5);
	ck_assert_int_eq(slow->aborted, 0);
	ck_assert_uint_ge(got, 2);
	for (size_t i = 0; i < rs->n; i++) {
		ck_assert_int_eq(rs->r[i].ok, 1);
		ck_assert_str_eq(rs->r[i].reason, "HTTP 200");
	}
	/* And the schedule stayed one probe per interval. */
	ck_assert_int_le(slow->accepted, (int)(mono_ms() - t0) / 200 + 2);

	/* A changed path is a new probe: the one in flight is cut. */
	ck_assert(run_until(base, srv_holding, slow, 5000));
	spec.path = "/two";
	ck_assert_int_eq(hc_prober_set(p, &spec, 1), 0);
	ck_assert(run_until(base, srv_idle, slow, 3000));
	ck_assert_int_eq(slow->aborted, 1);
	ck_assert(run_until(base, srv_saw_two, slow, 5000));

	hc_prober_free(p);
	srv_stop(slow);
	event_base_free(base);
	free(rs);
}
END_TEST

START_TEST(test_bad_targets)
{
	struct event_base *base = event_base_new();
	struct srv *ok = srv_start(base, SRV_200, 0);
	char a[64];
	struct hc_probe_opts o = {.interval_ms = 100};
	struct results *rs = calloc(1, sizeof(*rs));
	struct hc_prober *p = hc_prober_new(base, &o, on_result, rs);
	struct {
		struct hc_probe_spec spec;
		const char *reason;
	} cases[] = {
		{{51, "localhost:80", HC_PROBE_HTTP, "/", NULL}, "unresolved"},
		{{52, "consul.service:8080", HC_PROBE_TCP, NULL, NULL}, "unresolved"},
		{{53, "nonsense", HC_PROBE_HTTP, "/", NULL}, "bad address"},
		{{54, "127.0.0.1:0", HC_PROBE_HTTP, "/", NULL}, "bad address"},
		{{55, "127.0.0.1:70000", HC_PROBE_HTTP, "/", NULL}, "bad address"},
		{{56, "::1:80", HC_PROBE_HTTP, "/", NULL}, "bad address"},
		{{57, "[::1]", HC_PROBE_HTTP, "/", NULL}, "bad address"},
		{{58, "[::1]:http", HC_PROBE_HTTP, "/", NULL}, "bad address"},
		{{59, "", HC_PROBE_HTTP, "/", NULL}, "bad address"},
		{{60, NULL, HC_PROBE_TCP, NULL, NULL}, "bad address"},
		{{61, ":80", HC_PROBE_TCP, NULL, NULL}, "bad address"},
		{{62, a, HC_PROBE_HTTP, "health", NULL}, "bad path"},
		{{63, a, HC_PROBE_HTTP, "/a b", NULL}, "bad path"},
		{{64, a, HC_PROBE_HTTP, "/a\r\nX-Evil: 1", NULL}, "bad path"},
		{{65, a, HC_PROBE_HTTP, "/", "h\r\nX-Evil: 1"}, "bad host"},
		{{66, a, 0, "/", NULL}, "bad kind"},
		/* A duplicate identity: the first spec counts. */
		{{53, a, HC_PROBE_HTTP, "/", NULL}, "bad address"},
	};
	enum { NC = sizeof(cases) / sizeof(cases[0]) };
	struct hc_probe_spec specs[NC];
	uint64_t ids[NC];
	struct need nd = {rs, ids, NC, 2};

	srv_addr(ok, a, sizeof(a));
	for (size_t i = 0; i < NC; i++) {
		specs[i] = cases[i].spec;
		ids[i] = cases[i].spec.identity;
	}
	ck_assert_int_eq(hc_prober_set(p, specs, NC), 0);
	ck_assert_uint_eq(hc_prober_count(p), NC - 1);
	ck_assert(run_until(base, each_has_results, &nd, 10000));
	for (size_t i = 0; i < NC; i++) {
		const struct result *r = first_for(rs, ids[i]);

		ck_assert_int_eq(r->ok, 0);
		ck_assert_msg(strcmp(r->reason, cases[i].reason) == 0,
			      "%llu: %s, want %s",
			      (unsigned long long)ids[i], r->reason,
			      cases[i].reason);
	}
	/* Nothing reached the server. */
	ck_assert_int_eq(ok->accepted, 0);

	hc_prober_free(p);
	srv_stop(ok);
	event_base_free(base);
	free(rs);
}
END_TEST

START_TEST(test_ipv6)
{
	struct event_base *base = event_base_new();
	struct srv *ok = srv_start(base, SRV_200, 1);
	char a[64], want[96];
	struct results *rs = calloc(1, sizeof(*rs));
	struct hc_probe_opts o = {.interval_ms = 100};
	struct hc_prober *p;
	uint64_t ids[] = {71};
	struct need nd = {rs, ids, 1, 1};

	if (ok == NULL) {
		printf("# no IPv6 loopback: IPv6 probe not tested\n");
		event_base_free(base);
		free(rs);
		return;
	}
	p = hc_prober_new(base, &o, on_result, rs);
	snprintf(a, sizeof(a), "[::1]:%d", ok->port);
	struct hc_probe_spec spec = {71, a, HC_PROBE_HTTP, "/v6", NULL};

	ck_assert_int_eq(hc_prober_set(p, &spec, 1), 0);
	ck_assert(run_until(base, each_has_results, &nd, 5000));
	ck_assert_int_eq(rs->r[0].ok, 1);
	ck_assert_str_eq(rs->r[0].reason, "HTTP 200");
	snprintf(want, sizeof(want), "\r\nHost: [::1]:%d\r\n", ok->port);
	ck_assert_ptr_nonnull(strstr(ok->last_req, want));

	hc_prober_free(p);
	srv_stop(ok);
	event_base_free(base);
	free(rs);
}
END_TEST

START_TEST(test_callback_reentry)
{
	struct event_base *base = event_base_new();
	struct srv *ok = srv_start(base, SRV_200, 0);
	char a[64];
	struct hc_probe_opts o = {.interval_ms = 100};
	struct results *rs = calloc(1, sizeof(*rs));
	struct hc_prober *p = hc_prober_new(base, &o, on_result, rs);
	struct hc_probe_spec specs[4];
	uint64_t ids[] = {84};
	struct need nd = {rs, ids, 1, 3};
	size_t n;

	srv_addr(ok, a, sizeof(a));
	for (int i = 0; i < 4; i++)
		specs[i] = (struct hc_probe_spec){81 + (uint64_t)i, a,
						  HC_PROBE_HTTP, "/", NULL};
	/* The first callback removes every target but 84. */
	rs->remove_from = p;
	rs->keep_specs = &specs[3];
	rs->keep_n = 1;
	ck_assert_int_eq(hc_prober_set(p, specs, 4), 0);
	ck_assert(run_until(base, each_has_results, &nd, 10000));
	ck_assert_uint_eq(hc_prober_count(p), 1);
	for (size_t i = 1; i < rs->n; i++)
		ck_assert_uint_eq(rs->r[i].identity, 84);

	/* The next callback frees the prober itself. */
	rs->free_on_result = &p;
	n = rs->n;
	run_until(base, NULL, NULL, 600);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(rs->n, n + 1);

	srv_stop(ok);
	event_base_free(base);
	free(rs);
}
END_TEST

START_TEST(test_new_args)
{
	struct event_base *base = event_base_new();
	struct results *rs = calloc(1, sizeof(*rs));
	struct hc_probe_opts bad = {.user_agent = "x\r\nX-Evil: 1"};
	struct hc_prober *p;

	ck_assert_ptr_null(hc_prober_new(base, &bad, on_result, rs));
	ck_assert_ptr_null(hc_prober_new(base, NULL, NULL, rs));
	ck_assert_ptr_null(hc_prober_new(NULL, NULL, on_result, rs));
	p = hc_prober_new(base, NULL, on_result, rs);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(hc_prober_count(p), 0);
	hc_prober_free(p);
	hc_prober_free(NULL);
	event_base_free(base);
	free(rs);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("hc_probe");
	TCase *tc = tcase_create("pure");

	tcase_add_test(tc, test_phase_spread);
	tcase_add_test(tc, test_new_args);
	suite_add_tcase(s, tc);

	tc = tcase_create("loopback");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_http_results);
	tcase_add_test(tc, test_tcp_results);
	tcase_add_test(tc, test_timeout_one_in_flight);
	tcase_add_test(tc, test_first_probes_spread);
	tcase_add_test(tc, test_removal_cancels);
	tcase_add_test(tc, test_reset_keeps_schedule);
	tcase_add_test(tc, test_bad_targets);
	tcase_add_test(tc, test_ipv6);
	tcase_add_test(tc, test_callback_reentry);
	suite_add_tcase(s, tc);
	return check_main_run(s);
}
