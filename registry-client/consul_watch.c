/*
 * consul_watch.c - Consul blocking queries as loops on a libevent base,
 * any number of them, no thread of their own. The bytes move through a
 * transport (consul_watch_internal.h): libevent's HTTP client for plain
 * http agents, a curl multi handle for https ones.
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
 * Only the hash and length of the body delivered last are kept; the body
 * itself is freed as soon as the change callback returns.
 *
 * Reachability starts out as "up", so on_state first fires at the first
 * error, and then once per change.
 *
 * Callbacks run from consul_watch_done(). A callback may cancel any
 * watch: the cancelled one leaves the watcher's list at once, but its
 * memory is freed only when no callback of it is on the stack
 * (in_callback).
 */
#include "registry-client/consul_watch.h"
#include "registry-client/consul_http_internal.h"
#include "registry-client/consul_json.h"
#include "registry-client/consul_watch_internal.h"

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

uint64_t consul_watch_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* snprintf where cutting a long text short is intended. */
void consul_watch_fit(char *buf, size_t size, const char *fmt, ...)
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

static void try_send(struct consul_watch *w);

static void on_timer(evutil_socket_t fd, short events, void *arg)
{
	struct consul_watch *w = arg;

	if (w->in_flight)
		w->wr->ops->timer(w);
	else
		try_send(w);
}

void consul_watch_timer_arm(struct consul_watch *w, uint64_t ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(w->timer, &tv);
}

void consul_watch_timer_fire(struct consul_watch *w)
{
	event_active(w->timer, EV_TIMEOUT, 1);
}

struct consul_watcher *consul_watcher_new_with(struct event_base *base,
					       struct consul_client *client,
					       enum consul_watch_transport tp)
{
	struct consul_client_settings cs;
	struct consul_watcher *wr = NULL;

	if (!base || !client)
		return NULL;
	consul_client_settings(client, &cs);
	if (tp == CONSUL_WATCH_EV && cs.https)
		return NULL;
	wr = calloc(1, sizeof(*wr));
	if (!wr)
		return NULL;
	wr->base = base;
	wr->client = client;
	wr->ops = tp == CONSUL_WATCH_CURL || (tp == CONSUL_WATCH_AUTO && cs.https)
		  ? &consul_watch_curl_ops : &consul_watch_ev_ops;
	wr->rng = (consul_watch_now_ms() * 0x9E3779B97F4A7C15ull) ^
		  (uint64_t)(uintptr_t)wr ^ ((uint64_t)time(NULL) << 20);
	if (wr->rng == 0)
		wr->rng = 0x2545F4914F6CDD1Dull;
	if (wr->ops->init(wr) != 0) {
		free(wr);
		return NULL;
	}
	return wr;
}

struct consul_watcher *consul_watcher_new(struct event_base *base,
					  struct consul_client *client)
{
	return consul_watcher_new_with(base, client, CONSUL_WATCH_AUTO);
}

const char *consul_watcher_transport(const struct consul_watcher *wr)
{
	return wr->ops->name;
}

void consul_watcher_free(struct consul_watcher *wr)
{
	if (!wr)
		return;
	while (wr->watches)
		consul_watch_cancel(wr->watches);
	wr->ops->fini(wr);
	free(wr);
}

static void watch_destroy(struct consul_watch *w)
{
	if (w->timer)
		event_free(w->timer);
	free(w->path);
	free(w->query);
	free(w);
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
	evtimer_del(w->timer);
	wr->ops->stop(w);
	w->in_flight = 0;
	if (w->in_callback == 0)
		watch_destroy(w);
}

uint64_t consul_watch_index(const struct consul_watch *w)
{
	return w->index;
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
	consul_watch_timer_arm(w, ms);
}

static void send_request(struct consul_watch *w)
{
	char *query = request_query(w);
	int rc = query ? w->wr->ops->send(w, query, request_timeout(w)) : -ENOMEM;

	free(query);
	if (rc < 0) {
		back_off(w);
		return;
	}
	w->in_flight = 1;
	w->sent = w->index;
}

static void try_send(struct consul_watch *w)
{
	uint64_t wait = consul_bucket_take(&w->bucket, consul_watch_now_ms());

	if (wait == 0)
		send_request(w);
	else
		consul_watch_timer_arm(w, wait == UINT64_MAX ? 60000 : wait);
}

static void describe_error(const struct consul_watch *w, int rc,
			   const struct consul_response *r, char *why,
			   size_t size)
{
	size_t len = r->body_len;

	if (rc == -EIO) {
		consul_watch_fit(why, size, "GET %s: %s", w->path, r->error);
	} else if (rc == -EMSGSIZE) {
		consul_watch_fit(why, size, "GET %s: answer over the body limit",
				 w->path);
	} else if (rc) {
		consul_watch_fit(why, size, "GET %s: request failed (%d)",
				 w->path, rc);
	} else {
		while (len > 0 && (r->body[len - 1] == '\n' || r->body[len - 1] == '\r'))
			len--;
		if (len > 120)
			len = 120;
		consul_watch_fit(why, size, "GET %s: %ld%s%.*s", w->path,
				 r->status, len ? " " : "", (int)len,
				 r->body ? r->body : "");
	}
	for (char *p = why; *p; p++)
		if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f)
			*p = '?';
}

void consul_watch_done(struct consul_watch *w, int rc, struct consul_response *r)
{
	long status = r->status;
	int good = rc == 0 && (status == 200 || (status == 404 && w->is_kv));

	w->in_flight = 0;
	w->in_callback++;
	if (!good) {
		if (!w->down) {
			char why[256];
			describe_error(w, rc, r, why, sizeof(why));
			w->down = 1;
			if (w->on_state)
				w->on_state(w, 0, why, w->arg);
		}
	} else {
		const char *body = r->body ? r->body : "";
		uint64_t h = body_hash(body, r->body_len);

		w->index = consul_index_next(w->sent, r->has_index ? r->index : 0);
		w->attempt = 0;
		if (w->down) {
			w->down = 0;
			if (w->on_state)
				w->on_state(w, 1, "answering again", w->arg);
		}
		if (!w->cancelled && (!w->delivered || h != w->last_hash ||
				      r->body_len != w->last_len)) {
			w->delivered = 1;
			w->last_hash = h;
			w->last_len = r->body_len;
			if (w->on_change)
				w->on_change(w, r, w->arg);
		}
	}
	w->in_callback--;
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
	w->timer = evtimer_new(wr->base, on_timer, w);
	if (!w->timer)
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
			   opts->burst ? opts->burst : DEFAULT_BURST,
			   consul_watch_now_ms());
	w->next = wr->watches;
	if (wr->watches)
		wr->watches->prev = w;
	wr->watches = w;
	try_send(w);
	return w;
fail:
	if (w) {
		if (w->timer)
			event_free(w->timer);
		free(w->path);
		free(w->query);
		free(w);
	}
	return NULL;
}
