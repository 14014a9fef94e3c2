/*
 * consul_watch_internal.h - private to the watch module: the structs that
 * the blocking-query loop (consul_watch.c) shares with its transports, and
 * the table of functions a transport provides.
 *
 *   consul_watch_ev.c    libevent's HTTP client, one keep-alive connection
 *                        per watch: plain-http agents. A watch costs a few
 *                        KB, which is what lets switchyard hold thousands.
 *   consul_watch_curl.c  one curl multi handle for all watches: https
 *                        agents (curl keeps ~18 KB and TLS state a watch).
 *   consul_watch_addr.c  the agent's addresses for the evhttp transport.
 *
 * Everything runs on the watcher's event_base thread. Tests reach the
 * transport choice through consul_watcher_new_with().
 */
#ifndef CONSUL_WATCH_INTERNAL_H
#define CONSUL_WATCH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>
#include <event2/event.h>
#include "registry-client/consul_http.h"
#include "registry-client/consul_watch.h"

struct consul_watch_ops;
struct consul_watch_curl_multi;
struct consul_watch_ev_agent;
struct evhttp_connection;
struct evhttp_request;

enum consul_watch_transport {
	CONSUL_WATCH_AUTO = 0,  /* evhttp for http://, curl for https:// */
	CONSUL_WATCH_CURL,
	CONSUL_WATCH_EV         /* refused for https:// agents */
};

/* As consul_watcher_new(), with the transport chosen by the caller. */
struct consul_watcher *consul_watcher_new_with(struct event_base *base,
					       struct consul_client *client,
					       enum consul_watch_transport tp);
/* "curl" or "evhttp". */
const char *consul_watcher_transport(const struct consul_watcher *wr);

struct consul_watcher {
	struct event_base *base;
	struct consul_client *client;
	const struct consul_watch_ops *ops;
	struct consul_watch *watches;   /* running (not cancelled) */
	uint64_t rng;                   /* xorshift state for jitter */
	/* the transport's own state: one of the two */
	struct consul_watch_curl_multi *curl;
	struct consul_watch_ev_agent *ev;
};

/* The evhttp transport's state of one watch. The answer fields are in use
 * only while a request is in flight. */
struct consul_watch_ev {
	struct evhttp_connection *conn; /* kept open between requests */
	struct evhttp_request *req;     /* in flight, owned by conn */
	char *target;                   /* path?query of the request in flight */
	char *why;                      /* the failure recorded, if any */
	char *body;                     /* the answer's body so far */
	size_t body_len, body_cap;
	uint64_t index;
	uint64_t deadline_ms;           /* whole request */
	uint64_t connect_deadline_ms;   /* 0: connected, no connect phase */
	long status;
	unsigned addr;                  /* the agent address connected to */
	unsigned addrs_tried;           /* in this attempt */
	int error;                      /* enum evhttp_request_error; -1: none */
	int sys_errno;                  /* errno at that error */
	unsigned char phase;            /* enum in consul_watch_ev.c */
	unsigned char outcome;          /* enum in consul_watch_ev.c */
	unsigned char has_index, header_seen, reused, retried, established;
	unsigned char oom;
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
	struct event *timer;            /* rate limit, backoff, or the
					 * transport's while in flight */
	uint64_t index;                 /* to send next; 0: none */
	uint64_t sent;                  /* sent with the request in flight */
	uint64_t last_hash;             /* of the body delivered last */
	size_t last_len;
	unsigned attempt;               /* errors in a row */
	unsigned char in_flight;
	unsigned char down;             /* the last answer was an error */
	unsigned char delivered;        /* last_hash/last_len are set */
	unsigned char cancelled;
	int in_callback;

	union {
		struct {
			CURL *easy;                   /* in flight, or NULL */
			struct consul_response *resp; /* its answer */
		} curl;
		struct consul_watch_ev ev;
	} tp;
};

/*
 * A transport. The loop calls these on the base's thread, never from
 * inside a callback of the transport itself.
 */
struct consul_watch_ops {
	const char *name;
	/* Set up wr's transport state. 0 or a negative errno. */
	int (*init)(struct consul_watcher *wr);
	/* Free it; every watch is gone by then. */
	void (*fini)(struct consul_watcher *wr);
	/* Send GET w->path?<query + the client's dc and consistency flags>,
	 * with timeout_ms as the whole-request limit (0: the client's).
	 * 0: in flight, and the transport calls consul_watch_done() exactly
	 * once, later, from an event of its own (never from inside send). A
	 * negative errno: nothing in flight, and no call. */
	int (*send)(struct consul_watch *w, const char *query, long timeout_ms);
	/* w's timer, armed by the transport with consul_watch_timer_arm() or
	 * consul_watch_timer_fire(), went off while a request was in flight. */
	void (*timer)(struct consul_watch *w);
	/* w is being cancelled: stop its request, if any, and free all of
	 * its transport state, connections included. No consul_watch_done()
	 * afterwards. */
	void (*stop)(struct consul_watch *w);
};

extern const struct consul_watch_ops consul_watch_curl_ops;
extern const struct consul_watch_ops consul_watch_ev_ops;

/* The request in flight finished; rc and r as consul_easy_done() leaves
 * them. r is borrowed: the caller clears it afterwards. w may be freed on
 * return (a callback cancelled it): do not touch it again. */
void consul_watch_done(struct consul_watch *w, int rc,
		       struct consul_response *r);

/* w's timer, for the transport while a request is in flight: in ms, or at
 * the next turn of the loop. */
void consul_watch_timer_arm(struct consul_watch *w, uint64_t ms);
void consul_watch_timer_fire(struct consul_watch *w);

uint64_t consul_watch_now_ms(void);

/* snprintf into buf where cutting a long text short is intended. */
void consul_watch_fit(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
