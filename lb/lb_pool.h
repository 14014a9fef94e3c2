/*
 * lb_pool.h - one worker's upstream connections: keep-alive pools per
 * target, connecting with a deadline, and reading and writing on behalf
 * of the request that holds a connection.
 *
 * Everything here belongs to one worker thread and is used from it only:
 * no locks. A bucket is the per-target state (its address, idle
 * connections, and whether recent connects failed), found by the
 * target's identity, so it survives table rebuilds that keep the target.
 *
 * A connection keeps one persistent read event for its whole life, busy
 * or idle, so taking it from the pool or putting it back changes nothing
 * in the kernel's interest list; an idle connection that the upstream
 * closes is noticed and dropped at once. Idle connections are closed
 * after idle_timeout_ms (below the keep-alive limit of common servers, so
 * the proxy, not the server, ends them), and one idle longer than that is
 * never handed out.
 */
#ifndef LB_POOL_H
#define LB_POOL_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/time.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "lb/lb_log.h"
#include "routes/rt_table.h"

struct lb_pool_opts {
	unsigned dial_timeout_ms;   /* > 0 */
	unsigned idle_timeout_ms;   /* > 0 */
	unsigned max_idle;          /* idle connections kept per target; 0: none */
	unsigned down_ms;           /* a target whose connect failed is
				     * skipped this long (0: 1000) */
	unsigned worker;            /* for log lines */
};

struct lb_pool;
struct lb_bucket;
struct lb_up;

/* What happened on a connection (or, for LB_UP_RETRY, to a waiter). */
enum lb_up_event {
	LB_UP_CONNECTED = 1,    /* connect finished: send now */
	LB_UP_CONNECT_FAILED,   /* err: why; the connection is gone after the call */
	LB_UP_DATA,             /* new bytes were appended to up->in */
	LB_UP_EOF,              /* the upstream closed its side */
	LB_UP_ERROR,            /* err: a read or write error */
	LB_UP_TIMEOUT,          /* the timeout of lb_up_timeout passed */
	LB_UP_RETRY             /* up is NULL: the name was resolved (or not):
				 * call lb_pool_get again */
};

/*
 * Called on the worker thread. The callee may release the connection
 * (lb_pool_release) or call lb_pool_get from inside; up must not be used
 * after it was released.
 */
typedef void (*lb_up_fn)(struct lb_up *up, enum lb_up_event ev, int err,
			 void *arg);

/* A connection as its user sees it. */
struct lb_up {
	int fd;
	struct evbuffer *in;      /* what the upstream sent, not yet consumed */
	struct evbuffer *out;     /* what is still to be written */
	unsigned uses;            /* requests carried before the current one:
				   * > 0 means it came from the pool */
	struct lb_bucket *bucket;
	/* private to lb_pool.c */
	struct lb_pool *pool;
	struct event *rev, *wev, *tev;
	lb_up_fn cb;
	void *arg;
	int state;
	int bulk;                 /* a body is streaming: read in large chains */
	size_t flush_slot;        /* 1 + index in the pool's send queue; 0: none */
	uint64_t idle_since_ms;
	TAILQ_ENTRY(lb_up) link;
};

/* A request waiting for its target's name to resolve. Embed it in the
 * request; lb_pool_get fills it. */
struct lb_pool_waiter {
	TAILQ_ENTRY(lb_pool_waiter) link;
	lb_up_fn cb;
	void *arg;
	struct lb_bucket *bucket;   /* non-NULL while queued */
};

/* NULL when out of memory. log may be NULL. Keeps a pointer to log. */
struct lb_pool *lb_pool_new(struct event_base *base,
			    const struct lb_pool_opts *o,
			    const struct lb_logger *log);
/* New dial timeout (0: unchanged), idle timeout (0: unchanged) and idle
 * connections kept per target, for connections made or released from
 * now on (a reload). */
void lb_pool_set_limits(struct lb_pool *p, unsigned dial_timeout_ms,
			unsigned idle_timeout_ms, unsigned max_idle);
/* Close every connection and free every bucket (the callers' bucket
 * references included). NULL: no-op. */
void lb_pool_free(struct lb_pool *p);

/*
 * The bucket of target t (by identity), created on first use with t's
 * address; one reference for the caller. NULL when out of memory or when
 * t->addr is not "host:port" / "[v6]:port".
 */
struct lb_bucket *lb_pool_bucket(struct lb_pool *p, const struct rt_target *t);
/* Drop a reference. A bucket without references, connections or a
 * lookup in flight is freed by the next sweep. NULL: no-op. */
void lb_pool_bucket_put(struct lb_pool *p, struct lb_bucket *b);
/* Whether no recent connect to b failed (see lb_pool_opts.down_ms). */
int lb_bucket_usable(const struct lb_pool *p, const struct lb_bucket *b);
/* The address as the route gave it ("10.0.0.1:8080"). */
const char *lb_bucket_addr(const struct lb_bucket *b);

enum {
	LB_POOL_READY = 0,       /* *out is an open connection, now the caller's */
	LB_POOL_CONNECTING = 1,  /* *out is connecting: wait for the callback */
	LB_POOL_WAIT = 2         /* the name is being resolved: w is queued */
};

/*
 * A connection to b for one request: a pooled one unless fresh, else a
 * new one. cb/arg get its events until it is released. Returns
 * LB_POOL_READY, LB_POOL_CONNECTING, LB_POOL_WAIT (w gets LB_UP_RETRY
 * once the name is resolved; until then lb_pool_cancel_wait takes it
 * back), or a negative errno when the connect failed at once (the bucket
 * is then marked down, as for LB_UP_CONNECT_FAILED).
 */
int lb_pool_get(struct lb_pool *p, struct lb_bucket *b, int fresh,
		lb_up_fn cb, void *arg, struct lb_pool_waiter *w,
		struct lb_up **out);
/* Take a queued waiter back (a request that ended). Not queued: no-op. */
void lb_pool_cancel_wait(struct lb_pool *p, struct lb_pool_waiter *w);

/*
 * Send up->out at the end of this turn of the event loop
 * (lb_pool_flush), together with everything else queued in the turn, as
 * far as the socket takes it; the rest goes out when the socket is
 * writable. A write error arrives as LB_UP_ERROR. 0, or -ENOMEM.
 */
int lb_up_send(struct lb_up *up);
/*
 * Write what lb_up_send queued. The worker calls it once per loop turn,
 * after the turn's callbacks: peers then get their data in one burst
 * instead of being woken once per callback.
 */
void lb_pool_flush(struct lb_pool *p);
/* Arm (tv non-NULL) or clear the timeout that raises LB_UP_TIMEOUT. */
void lb_up_timeout(struct lb_up *up, const struct timeval *tv);
/* Stop (paused) or resume reading from the upstream. */
void lb_up_pause(struct lb_up *up, int paused);
/*
 * The request is done with up. reusable: the exchange ended cleanly and
 * the upstream keeps the connection open, so it may go back to the pool
 * (if there is room); otherwise it is closed.
 */
void lb_pool_release(struct lb_up *up, int reusable);

/* Counters of this pool; any thread may read them. */
struct lb_pool_counts {
	uint64_t connects;        /* connections opened */
	uint64_t connect_failures;
	uint64_t reuses;          /* requests given a pooled connection */
	unsigned idle;            /* idle connections now */
	unsigned busy;            /* connections in use now */
};
void lb_pool_counts(const struct lb_pool *p, struct lb_pool_counts *c);

/*
 * Write as much of b to the socket fd as it takes now, with one
 * sendmsg() of up to 16 of b's chains (MSG_NOSIGNAL: a closed peer is an
 * EPIPE, not a signal), and drain what went. Returns the bytes sent, or
 * -1 with errno (EAGAIN when the socket is full).
 */
ssize_t lb_send_evbuffer(int fd, struct evbuffer *b);

/* The worker's clock in milliseconds (the event loop's cached time). */
uint64_t lb_pool_now_ms(const struct lb_pool *p);

#endif
