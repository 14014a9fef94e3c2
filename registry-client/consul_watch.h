/*
 * consul_watch.h - blocking-query loops driven by libevent.
 *
 * A struct consul_watcher ties its watches to one event_base: every watch
 * started on it is one outstanding blocking GET at a time, with no thread
 * of its own. For an http:// agent each watch holds one keep-alive
 * connection of libevent's HTTP client (about 3 KB a watch, so a thousand
 * routed services cost a few MB); an https:// agent is reached through one
 * curl multi handle. The rules of Consul's blocking queries are applied
 * (consul_index_next: reset when the index goes backwards, never wait on
 * 0), requests are rate-limited by a token bucket, errors back off
 * exponentially with jitter, and the change callback runs only when the
 * body differs from the one delivered last.
 *
 * Everything runs on the base's thread. Callbacks may cancel their own
 * watch or start others.
 */
#ifndef CONSUL_WATCH_H
#define CONSUL_WATCH_H

#include <stdint.h>
#include <event2/event.h>
#include "registry-client/consul_http.h"

struct consul_watcher;
struct consul_watch;

/* New data: resp->status is 200 (or 404 for a KV path with no keys, which
 * counts as empty). resp is valid only during the call. */
typedef void (*consul_watch_change_fn)(struct consul_watch *w,
				       const struct consul_response *resp,
				       void *arg);
/* Reachability changed: up is 1 after the first good answer following
 * errors, 0 at the first error following good answers. why is a text. */
typedef void (*consul_watch_state_fn)(struct consul_watch *w, int up,
				      const char *why, void *arg);

struct consul_watch_opts {
	const char *path;       /* escaped, e.g. "/v1/health/service/web" */
	const char *query;      /* extra parameters, e.g. "passing=1"; NULL */
	uint64_t wait_ms;       /* ?wait=; 0: left out (the server's 5 min) */
	double rate;            /* token refill per second; 0: 20 */
	unsigned burst;         /* bucket size; 0: 10 */
	unsigned backoff_min_ms; /* first retry delay after an error; 0: 100 */
	unsigned backoff_max_ms; /* cap; 0: 10000 */
	consul_watch_change_fn on_change;
	consul_watch_state_fn on_state; /* may be NULL */
	void *arg;
};

struct consul_watcher *consul_watcher_new(struct event_base *base,
					  struct consul_client *client);
/* Cancels every watch still running. NULL is a no-op. */
void consul_watcher_free(struct consul_watcher *wr);

/* The path and query are copied. The first request goes out at once
 * (without index). NULL when out of memory. */
struct consul_watch *consul_watch_start(struct consul_watcher *wr,
					const struct consul_watch_opts *opts);
/* Stop and free; no callback runs afterwards. Safe inside a callback of
 * any watch, the cancelled one included. NULL is a no-op. */
void consul_watch_cancel(struct consul_watch *w);

uint64_t consul_watch_index(const struct consul_watch *w);

/* The index to send next, given the one sent and the one received
 * (consul-api §1.3 rules 1 and 2): received < sent resets to 0 so the next
 * request does not block; otherwise received, and never 0 once an answer
 * came (0 becomes 1). */
uint64_t consul_index_next(uint64_t sent, uint64_t received);

/* Token bucket: tokens refill at rate per second up to burst. take()
 * returns 0 and takes a token when one is there, else the milliseconds
 * until one will be. */
struct consul_bucket {
	double tokens;
	double rate;
	double burst;
	uint64_t last_ms;
};
void consul_bucket_init(struct consul_bucket *b, double rate, double burst,
			uint64_t now_ms);
uint64_t consul_bucket_take(struct consul_bucket *b, uint64_t now_ms);

/* Exponential backoff with full jitter: a delay in
 * [d/2, d] where d = min(max, min * 2^attempt); rnd in [0, 1). */
unsigned consul_backoff_ms(unsigned attempt, unsigned min_ms,
			   unsigned max_ms, double rnd);

#endif
