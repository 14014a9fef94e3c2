/*
 * consul_watch.c - Consul blocking queries on one curl multi handle, driven
 * by the sockets and timers of a libevent base (curl's "multi socket"
 * interface): any number of watches, no thread of their own.
 *
 * One watch is a loop of GETs, one outstanding at a time:
 *
 *   try_send: take a token from the bucket, or wait until one is there
 *   send:     GET path?<query>&index=<i>&wait=<w> with a timeout above the
 *             server's longest jittered wait
 *   done:     good answer -> next index (consul_index_next), deliver the
 *             body if it differs from the last one delivered, try_send
 *             error        -> keep the index, back off with jitter, try_send
 *
 * Reachability starts out as "up", so on_state first fires at the first
 * error, and then once per change.
 *
 * Callbacks run from watch_done(). A callback may cancel any watch: the
 * cancelled one leaves the watcher's list at once, but its memory is freed
 * only when no callback of it is on the stack (in_callback).
 */
#include "registry-client/consul_watch.h"
#include "registry-client/consul_json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_RATE 20.0
#define DEFAULT_BURST 10u
#define DEFAULT_BACKOFF_MIN_MS 100u
#define DEFAULT_BACKOFF_MAX_MS 10000u
/* The server waits 5 min when no ?wait is given, and adds up to 1/16. */
#define SERVER_DEFAULT_WAIT_MS 300000u
/* On top of the longest wait: the answer still has to arrive. */
#define TIMEOUT_SLACK_MS 10000u

/* One socket curl asked us to watch. */
struct sock {
	struct consul_watcher *wr;
	curl_socket_t fd;
	struct event *ev;
	struct sock *prev, *next;
};

struct consul_watcher {
	struct event_base *base;
	struct consul_client *client;
	CURLM *multi;
	struct event *timer;            /* curl's single timeout */
	struct consul_watch *watches;   /* running (not cancelled) */
	struct sock *socks;
	uint64_t rng;                   /* xorshift state for jitter */
};

struct consul_watch {
	struct consul_watcher *wr;
	struct consul_watch *prev, *next;
	char *path;
	char *query;                    /* NULL when none */
	uint64_t wait_ms;
	consul_watch_change_fn on_change;
	consul_watch_state_fn on_state;
	void *arg;
	unsigned backoff_min_ms, backoff_max_ms;
	int is_kv;                      /* a KV path: 404 means empty */

	struct consul_bucket bucket;
	struct event *delay;            /* rate limit or backoff wait */
	CURL *easy;                     /* the request in flight, or NULL */
	struct consul_response resp;
	uint64_t index;                 /* to send next; 0: none */
	uint64_t sent;                  /* sent with the request in flight */
	unsigned attempt;               /* errors in a row */
	int down;                       /* the last answer was an error */
	int delivered;                  /* last_hash/last_len are set */
	uint64_t last_hash;
	size_t last_len;
	int in_callback;
	int cancelled;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void fit(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* snprintf where cutting a long text short is intended. */
static void fit(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

uint64_t consul_index_next(uint64_t sent, uint64_t received)
{
	if (received < sent)
		return 0;
	return received ? received : 1;
}

void consul_bucket_init(struct consul_bucket *b, double rate, double burst,
			uint64_t now)
{
	b->rate = rate;
	b->burst = burst < 1.0 ? 1.0 : burst;
	b->tokens = b->burst;
	b->last_ms = now;
}

/* A rate of 0 or less never refills: once the burst is spent the answer
 * is UINT64_MAX ("never"). */
uint64_t consul_bucket_take(struct consul_bucket *b, uint64_t now)
{
	double need;
	uint64_t ms;

	if (now > b->last_ms) {
		if (b->rate > 0)
			b->tokens += (double)(now - b->last_ms) * b->rate / 1000.0;
		if (b->tokens > b->burst)
			b->tokens = b->burst;
		b->last_ms = now;
	}
	/* The epsilon absorbs rounding in the refill arithmetic, so waiting
	 * exactly the time returned is enough. */
	if (b->tokens >= 1.0 - 1e-9) {
		b->tokens -= 1.0;
		if (b->tokens < 0)
			b->tokens = 0;
		return 0;
	}
	if (b->rate <= 0)
		return UINT64_MAX;
	need = (1.0 - b->tokens) * 1000.0 / b->rate;
	ms = (uint64_t)need;
	if ((double)ms < need)
		ms++;
	return ms < 1 ? 1 : ms;
}

unsigned consul_backoff_ms(unsigned attempt, unsigned min_ms, unsigned max_ms,
			   double rnd)
{
	uint64_t d = min_ms, lo, v;

	for (unsigned i = 0; i < attempt && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	if (!(rnd >= 0.0))
		rnd = 0.0;
	if (rnd > 1.0)
		rnd = 1.0;
	lo = d / 2;
	v = lo + (uint64_t)(rnd * (double)(d - lo + 1));
	return (unsigned)(v > d ? d : v);
}

/* A number in [0, 1) for jitter; quality hardly matters, independence
 * between processes does (the seed mixes in the time and an address). */
static double rnd_next(struct consul_watcher *wr)
{
	uint64_t x = wr->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	wr->rng = x;
	return (double)(x >> 11) * (1.0 / 9007199254740992.0);
}

/* FNV-1a: with the length, enough to tell a changed body from the same one
 * again (the common case is byte-identical bodies after a wait timeout). */
static uint64_t body_hash(const char *p, size_t len)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ull;
	}
	return h;
}

static void check_done(struct consul_watcher *wr);
static void try_send(struct consul_watch *w);

static void sock_free(struct sock *s)
{
	struct consul_watcher *wr = s->wr;

	if (s->prev)
		s->prev->next = s->next;
	else
		wr->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (s->ev)
		event_free(s->ev);
	free(s);
}

static void on_sock_event(evutil_socket_t fd, short events, void *arg)
{
	struct sock *s = arg;
	struct consul_watcher *wr = s->wr;  /* s may be gone after the call */
	int flags = 0, running;

	if (events & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (events & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(wr->multi, fd, flags, &running);
	check_done(wr);
}

/* CURLMOPT_SOCKETFUNCTION: curl says which events it wants on a socket. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp,
		     void *socketp)
{
	struct consul_watcher *wr = userp;
	struct sock *s = socketp;
	short kind = EV_PERSIST;

	if (what == CURL_POLL_REMOVE) {
		if (s)
			sock_free(s);
		return 0;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -1;
		s->wr = wr;
		s->fd = fd;
		s->next = wr->socks;
		if (wr->socks)
			wr->socks->prev = s;
		wr->socks = s;
		if (curl_multi_assign(wr->multi, fd, s) != CURLM_OK) {
			sock_free(s);
			return -1;
		}
	}
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (s->ev)
		event_free(s->ev);
	s->ev = event_new(wr->base, fd, kind, on_sock_event, s);
	if (!s->ev || event_add(s->ev, NULL) != 0)
		return -1;
	return 0;
}

static void on_curl_timeout(evutil_socket_t fd, short events, void *arg)
{
	struct consul_watcher *wr = arg;
	int running;

	curl_multi_socket_action(wr->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(wr);
}

/* CURLMOPT_TIMERFUNCTION: curl's one timeout; -1 removes it. Curl must
 * not be re-entered from here, so even 0 goes through the event loop. */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct consul_watcher *wr = userp;
	struct timeval tv;

	if (timeout_ms < 0) {
		evtimer_del(wr->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(wr->timer, &tv) == 0 ? 0 : -1;
}

struct consul_watcher *consul_watcher_new(struct event_base *base,
					  struct consul_client *client)
{
	struct consul_watcher *wr = NULL;

	if (!base || !client)
		return NULL;
	wr = calloc(1, sizeof(*wr));
	if (!wr)
		goto fail;
	wr->base = base;
	wr->client = client;
	wr->rng = (now_ms() * 0x9E3779B97F4A7C15ull) ^ (uint64_t)(uintptr_t)wr ^
		  ((uint64_t)time(NULL) << 20);
	if (wr->rng == 0)
		wr->rng = 0x2545F4914F6CDD1Dull;
	wr->timer = evtimer_new(base, on_curl_timeout, wr);
	if (!wr->timer)
		goto fail;
	wr->multi = curl_multi_init();
	if (!wr->multi)
		goto fail;
	curl_multi_setopt(wr->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(wr->multi, CURLMOPT_SOCKETDATA, wr);
	curl_multi_setopt(wr->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(wr->multi, CURLMOPT_TIMERDATA, wr);
	return wr;
fail:
	consul_watcher_free(wr);
	return NULL;
}

void consul_watcher_free(struct consul_watcher *wr)
{
	if (!wr)
		return;
	while (wr->watches)
		consul_watch_cancel(wr->watches);
	if (wr->multi)
		curl_multi_cleanup(wr->multi);
	while (wr->socks)
		sock_free(wr->socks);
	if (wr->timer)
		event_free(wr->timer);
	free(wr);
}

static void watch_destroy(struct consul_watch *w)
{
	if (w->delay)
		event_free(w->delay);
	consul_response_clear(&w->resp);
	free(w->path);
	free(w->query);
	free(w);
}

/* Stop the request in flight, if any. Not for use inside curl callbacks. */
static void watch_abort(struct consul_watch *w)
{
	CURL *easy = w->easy;

	if (!easy)
		return;
	w->easy = NULL;
	curl_multi_remove_handle(w->wr->multi, easy);
	consul_easy_done(easy, CURLE_ABORTED_BY_CALLBACK, &w->resp);
	curl_easy_cleanup(easy);
	consul_response_clear(&w->resp);
}

void consul_watch_cancel(struct consul_watch *w)
{
	struct consul_watcher *wr;

	if (!w || w->cancelled)
		return;
	wr = w->wr;
	w->cancelled = 1;
	if (w->prev)
		w->prev->next = w->next;
	else
		wr->watches = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
	evtimer_del(w->delay);
	watch_abort(w);
	if (w->in_callback == 0)
		watch_destroy(w);
}

uint64_t consul_watch_index(const struct consul_watch *w)
{
	return w->index;
}

static void schedule(struct consul_watch *w, uint64_t ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(w->delay, &tv);
}

/* The query of the next request; NULL when out of memory. */
static char *request_query(const struct consul_watch *w)
{
	char wait[32] = "";
	char index[40] = "";
	size_t len;
	char *q;

	if (w->index > 0) {
		snprintf(index, sizeof(index), "index=%" PRIu64, w->index);
		if (w->wait_ms > 0) {
			char d[24];
			snprintf(wait, sizeof(wait), "wait=%s",
				 consul_duration_format(w->wait_ms, d, sizeof(d)));
		}
	}
	len = (w->query ? strlen(w->query) : 0) + strlen(index) + strlen(wait) + 3;
	q = malloc(len);
	if (!q)
		return NULL;
	q[0] = '\0';
	if (w->query)
		strcat(q, w->query);
	if (index[0]) {
		if (q[0])
			strcat(q, "&");
		strcat(q, index);
	}
	if (wait[0]) {
		strcat(q, "&");
		strcat(q, wait);
	}
	return q;
}

/* Whole-transfer limit: a blocking request may take the full wait plus the
 * server's jitter of up to wait/16; a non-blocking one gets the client's
 * usual limit (0). */
static long request_timeout(const struct consul_watch *w)
{
	uint64_t wait;

	if (w->index == 0)
		return 0;
	wait = w->wait_ms ? w->wait_ms : SERVER_DEFAULT_WAIT_MS;
	return (long)(wait + wait / 16 + TIMEOUT_SLACK_MS);
}

static void back_off(struct consul_watch *w)
{
	unsigned ms = consul_backoff_ms(w->attempt, w->backoff_min_ms,
					w->backoff_max_ms, rnd_next(w->wr));

	if (w->attempt < 64)
		w->attempt++;
	schedule(w, ms);
}

static void send_request(struct consul_watch *w)
{
	char *query = request_query(w);
	CURL *easy = NULL;

	if (query)
		easy = consul_easy_prepare(w->wr->client, "GET", w->path, query,
					   NULL, 0, CONSUL_READ,
					   request_timeout(w), &w->resp);
	free(query);
	if (!easy) {
		back_off(w);
		return;
	}
	if (curl_multi_add_handle(w->wr->multi, easy) != CURLM_OK) {
		consul_easy_done(easy, CURLE_FAILED_INIT, &w->resp);
		curl_easy_cleanup(easy);
		consul_response_clear(&w->resp);
		back_off(w);
		return;
	}
	w->easy = easy;
	w->sent = w->index;
}

static void try_send(struct consul_watch *w)
{
	uint64_t wait = consul_bucket_take(&w->bucket, now_ms());

	if (wait == 0)
		send_request(w);
	else
		schedule(w, wait == UINT64_MAX ? 60000 : wait);
}

static void on_delay(evutil_socket_t fd, short events, void *arg)
{
	try_send(arg);
}

static void describe_error(const struct consul_watch *w, int rc, char *why,
			   size_t size)
{
	const struct consul_response *r = &w->resp;
	size_t len = r->body_len;

	if (rc == -EIO) {
		fit(why, size, "GET %s: %s", w->path, r->error);
	} else if (rc == -EMSGSIZE) {
		fit(why, size, "GET %s: answer over the body limit", w->path);
	} else if (rc) {
		fit(why, size, "GET %s: request failed (%d)", w->path, rc);
	} else {
		while (len > 0 && (r->body[len - 1] == '\n' || r->body[len - 1] == '\r'))
			len--;
		if (len > 120)
			len = 120;
		fit(why, size, "GET %s: %ld%s%.*s", w->path, r->status,
			 len ? " " : "", (int)len, r->body ? r->body : "");
	}
	for (char *p = why; *p; p++)
		if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f)
			*p = '?';
}

/* The request in flight finished with code. */
static void watch_done(struct consul_watch *w, CURLcode code)
{
	CURL *easy = w->easy;
	long status;
	int rc, good;

	w->easy = NULL;
	curl_multi_remove_handle(w->wr->multi, easy);
	rc = consul_easy_done(easy, code, &w->resp);
	curl_easy_cleanup(easy);
	status = w->resp.status;
	good = rc == 0 && (status == 200 || (status == 404 && w->is_kv));

	w->in_callback++;
	if (!good) {
		if (!w->down) {
			char why[256];
			describe_error(w, rc, why, sizeof(why));
			w->down = 1;
			if (w->on_state)
				w->on_state(w, 0, why, w->arg);
		}
	} else {
		const char *body = w->resp.body ? w->resp.body : "";
		uint64_t h = body_hash(body, w->resp.body_len);

		w->index = consul_index_next(w->sent, w->resp.has_index ? w->resp.index : 0);
		w->attempt = 0;
		if (w->down) {
			w->down = 0;
			if (w->on_state)
				w->on_state(w, 1, "answering again", w->arg);
		}
		if (!w->cancelled && (!w->delivered || h != w->last_hash ||
				      w->resp.body_len != w->last_len)) {
			w->delivered = 1;
			w->last_hash = h;
			w->last_len = w->resp.body_len;
			if (w->on_change)
				w->on_change(w, &w->resp, w->arg);
		}
	}
	w->in_callback--;
	consul_response_clear(&w->resp);
	if (w->cancelled) {
		if (w->in_callback == 0)
			watch_destroy(w);
		return;
	}
	if (good)
		try_send(w);
	else
		back_off(w);
}

static struct consul_watch *watch_by_easy(struct consul_watcher *wr, CURL *easy)
{
	for (struct consul_watch *w = wr->watches; w; w = w->next)
		if (w->easy == easy)
			return w;
	return NULL;
}

/* Every finished transfer, one at a time. A callback run from here may
 * cancel other watches; curl then drops their pending messages. */
static void check_done(struct consul_watcher *wr)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(wr->multi, &left))) {
		CURL *easy = msg->easy_handle;
		CURLcode code = msg->data.result;
		struct consul_watch *w;

		if (msg->msg != CURLMSG_DONE)
			continue;
		w = watch_by_easy(wr, easy);
		if (w)
			watch_done(w, code);
		else
			curl_multi_remove_handle(wr->multi, easy);
	}
}

struct consul_watch *consul_watch_start(struct consul_watcher *wr,
					const struct consul_watch_opts *opts)
{
	struct consul_watch *w = NULL;

	if (!wr || !opts || !opts->path)
		return NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		goto fail;
	w->wr = wr;
	w->path = strdup(opts->path);
	if (!w->path)
		goto fail;
	if (opts->query && *opts->query) {
		w->query = strdup(opts->query);
		if (!w->query)
			goto fail;
	}
	w->delay = evtimer_new(wr->base, on_delay, w);
	if (!w->delay)
		goto fail;
	w->wait_ms = opts->wait_ms;
	w->on_change = opts->on_change;
	w->on_state = opts->on_state;
	w->arg = opts->arg;
	w->backoff_min_ms = opts->backoff_min_ms ? opts->backoff_min_ms
						 : DEFAULT_BACKOFF_MIN_MS;
	w->backoff_max_ms = opts->backoff_max_ms ? opts->backoff_max_ms
						 : DEFAULT_BACKOFF_MAX_MS;
	if (w->backoff_max_ms < w->backoff_min_ms)
		w->backoff_max_ms = w->backoff_min_ms;
	w->is_kv = strncmp(opts->path, "/v1/kv/", 7) == 0;
	consul_bucket_init(&w->bucket, opts->rate > 0 ? opts->rate : DEFAULT_RATE,
			   opts->burst ? opts->burst : DEFAULT_BURST, now_ms());
	w->next = wr->watches;
	if (wr->watches)
		wr->watches->prev = w;
	wr->watches = w;
	try_send(w);
	return w;
fail:
	if (w) {
		if (w->delay)
			event_free(w->delay);
		free(w->path);
		free(w->query);
		free(w);
	}
	return NULL;
}
