/*
 * lb_proxy.h - the data path: worker threads that accept HTTP requests,
 * route them through the table each worker was last handed, and proxy
 * them to a target over keep-alive upstream connections.
 *
 * Each worker is one thread with its own event_base (epoll changelist
 * on), its own SO_REUSEPORT listener whose connections it reads and
 * parses itself (lb_conn, lb_h1req: strict HTTP/1.1), an rt_mailbox,
 * an rt_picker, upstream pools and counters: nothing on the request path
 * is shared between threads or locked. The control thread hands over a
 * new table by posting it to every mailbox and calling lb_workers_notify
 * (lb_workers_publish does both), or, with health state, a struct hc_set
 * (the table and its targets' health entries) through
 * lb_workers_publish_set; a worker takes it at its next wake-up. A request
 * keeps the table (and set) it started with until it ends.
 *
 * Health. With a set, a pick passes over a target whose entry is not fit
 * or whose Consul weight is 0 (a relaxed atomic load of each, on one cache
 * line), and every upstream outcome is reported to the entry of the target
 * that gave it (hc_entry_report): an answer below 500 as OK, 500..599 as
 * 5XX, a refused connect as CONNECT_REFUSED, any other failed connect, a
 * connection that died before a response head and an answer that is not
 * HTTP as CONNECT_FAILED. switchyard's own answers (502, 503, 504, a
 * response-header timeout) are not reported: they say nothing new about
 * the target, and a timeout is the active probes' to judge. A connection
 * from the pool that the upstream closed before answering is resent and
 * not reported (the keep-alive race).
 *
 * Per request, in fabio's order: normalise the path, look up the route
 * (none: noroute status and page), pick a target (none fit: 503 with
 * Retry-After: the seconds until the first ejected target of the route
 * is due back, or 1 when no end is known), apply
 * allow/deny (403) and redirect=, then strip/prepend, Host per host=,
 * X-Forwarded-* and Forwarded, and send it upstream. Connect failures
 * move on to another target; a request that fails on a reused connection
 * before any response byte came back is sent once more on a fresh one.
 * Upstream errors give 502, a connect or response-header timeout 504.
 * Response bodies stream through without being held whole; reading from
 * the upstream pauses while the client is slower than it.
 */
#ifndef LB_PROXY_H
#define LB_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "health/hc_state.h"
#include "lb/lb_log.h"
#include "routes/rt_pick.h"
#include "routes/rt_table.h"

/* What a client connection may do: sizes of its request heads and how
 * long each phase may take (the proxy.* keys named). Zero means the
 * default in brackets. */
struct lb_client_limits {
	unsigned max_request_line;   /* maxrequestline: longer is 414 [8 KiB] */
	unsigned max_header_bytes;   /* maxheaderbytes: a bigger head is 431
				      * [64 KiB] */
	unsigned max_headers;        /* maxheaders: more fields are 431 [100],
				      * at most LB_H1_REQ_FIELDS_MAX */
	unsigned header_timeout_ms;  /* headertimeout: the whole head must come
				      * within this of its first byte (of the
				      * accept for a new connection): else 408
				      * and close [10 s] */
	unsigned body_timeout_ms;    /* bodytimeout: a body that makes no
				      * progress this long: 408 and close
				      * [30 s] */
	unsigned idle_timeout_ms;    /* idletimeout: a kept-alive connection
				      * with no request this long is closed
				      * [60 s] */
	unsigned send_timeout_ms;    /* sendtimeout: a client that takes none
				      * of its response this long is closed
				      * [60 s] */
	unsigned max_conns;          /* maxclientconns: client connections per
				      * worker; more wait in the listen
				      * backlog [10000] */
};

/* Fill in the defaults of zero fields of l; -EINVAL when max_headers is
 * above LB_H1_REQ_FIELDS_MAX. */
int lb_client_limits_defaults(struct lb_client_limits *l);

struct lb_proxy_opts {
	const char *listen;          /* "ip:port", ":port" (every address),
				      * "[v6]:port"; port 0 picks a free port,
				      * read back with lb_workers_port */
	unsigned workers;            /* 0: one per online CPU */
	enum rt_strategy strategy;
	unsigned dial_timeout_ms;    /* proxy.dialtimeout; 0: 30000 */
	unsigned response_header_timeout_ms; /* proxy.responseheadertimeout;
				      * 0: wait forever */
	unsigned idle_conn_timeout_ms; /* proxy.idleconntimeout; 0: 4000 */
	unsigned max_idle_per_target; /* proxy.maxconn: idle upstream
				      * connections kept per target and
				      * worker; 0: 10000 */
	uint64_t max_body;           /* proxy.maxbody: request bodies larger
				      * get 413; 0: no limit */
	int noroute_status;          /* proxy.noroutestatus; 0: 404 */
	struct lb_client_limits client;
	/* proxy.header.trustedcidrs: peers whose X-Forwarded-Proto/-Host/
	 * -Port/-Prefix, X-Real-Ip and Forwarded are kept ("10.0.0.0/8",
	 * "::1"); from others those are replaced by switchyard's own */
	const char *const *trusted_cidrs;
	size_t ntrusted_cidrs;
	enum lb_access_format access_format; /* LB_ACCESS_OFF: no access log */
	const char *access_target;   /* "stdout", "stderr" or a file */
	unsigned backlog;            /* listen() backlog; 0: 1024 */
	/* Whether a target may take traffic, asked on worker threads at
	 * every pick (NULL: all may). Must be thread-safe and not block. */
	rt_healthy_fn healthy;
	void *healthy_arg;
	/* Called on a worker thread when an outcome report asks the control
	 * thread to look at a target soon (hc_entry_report returned 1): a
	 * refused connect, or the failures in a row reached the threshold.
	 * Must be thread-safe and not block. NULL: the control thread's
	 * periodic tick finds the reports anyway. */
	void (*health_wake)(void *arg);
	void *health_wake_arg;
	struct lb_logger log;        /* diagnostics; called on worker threads */
};

/* The options that change while the workers run (SIGHUP). Zero means
 * the same default as in lb_proxy_opts. */
struct lb_proxy_live {
	unsigned dial_timeout_ms;
	unsigned response_header_timeout_ms; /* 0: wait forever */
	unsigned idle_conn_timeout_ms;
	unsigned max_idle_per_target;
	uint64_t max_body;           /* 0: no limit */
	int noroute_status;
	struct lb_client_limits client;
};

/* The defaults above (listen ":9999", strategy rr). */
void lb_proxy_opts_init(struct lb_proxy_opts *o);

struct lb_workers;

/*
 * Bind the listeners and start the workers; they serve at once, with an
 * empty table (every request gets the no-route answer) until one is
 * published. The options are copied (strings too). Returns NULL with
 * *err a negative errno: -EINVAL for a bad listen address or option,
 * -EADDRINUSE and friends from bind, -ENOMEM. Call from one thread; the
 * functions below may be called from any one thread (the control thread).
 */
struct lb_workers *lb_workers_start(const struct lb_proxy_opts *o, int *err);

unsigned lb_workers_count(const struct lb_workers *ws);
/* The port the listeners are bound to. */
int lb_workers_port(const struct lb_workers *ws);
/* Worker i's mailbox (0 <= i < count), for posting tables. */
struct rt_mailbox *lb_workers_mailbox(struct lb_workers *ws, unsigned i);
/* Wake every worker so that it takes what was posted. */
void lb_workers_notify(struct lb_workers *ws);
/* Post t to every mailbox (taking one reference per worker; the caller
 * keeps its own) and wake the workers. */
void lb_workers_publish(struct lb_workers *ws, struct rt_table *t);
/*
 * The same for a table with its health state: s goes to every worker's
 * health mailbox (one reference each; the caller keeps its own) and the
 * workers wake. Of a set and a bare table both waiting for a worker, the
 * newer table (rt_table_generation) is taken and the other dropped.
 */
void lb_workers_publish_set(struct lb_workers *ws, struct hc_set *s);

/*
 * The body sent with proxy.noroutestatus when no route matches (copied;
 * len 0: no body). Workers pick it up at their next no-route answer.
 * 0, or -ENOMEM (the old page stays).
 */
int lb_workers_set_noroute_html(struct lb_workers *ws, const char *html,
				size_t len);

struct lb_proxy_stats {
	uint64_t requests;           /* answered, every status */
	uint64_t status_2xx, status_3xx, status_4xx, status_5xx;
	uint64_t noroute;
	uint64_t upstream_connects;  /* upstream connections opened */
	uint64_t upstream_connect_failures;
	uint64_t upstream_reuses;    /* requests sent on a pooled connection */
	uint64_t retries_fresh;      /* resent on a fresh connection */
	uint64_t retries_other;      /* sent to another target after a connect
				      * failure */
	uint64_t client_aborts;      /* clients gone before the answer ended */
	uint64_t tables;             /* tables taken (summed over workers) */
	uint64_t active;             /* requests in flight now */
	uint64_t upstream_idle;      /* pooled idle connections now */
	uint64_t access_log_dropped; /* access lines lost to write errors */
};
/*
 * Apply new live options: each worker takes them at its next wake-up
 * (this call wakes them), for requests and connections it starts from
 * then on. -EINVAL (nothing changed) for a noroute_status outside
 * 100..999.
 */
int lb_workers_set_live(struct lb_workers *ws, const struct lb_proxy_live *l);
/* Reopen the access log file (log rotation). 0 (also with no file) or a
 * negative errno. */
int lb_workers_reopen_access_log(struct lb_workers *ws);
/* Sums over the workers; counters are read without stopping anyone, so
 * they are each exact but not a snapshot of one instant. */
void lb_workers_stats(const struct lb_workers *ws, struct lb_proxy_stats *s);

/*
 * Graceful stop: close the listeners, let requests in flight finish (new
 * requests on open keep-alive connections are still answered, with
 * Connection: close) for up to deadline_ms, then cut what is left, close
 * every connection, join the threads and free everything (ws is gone
 * after the call). Returns how many requests were cut (0: none).
 */
int lb_workers_stop(struct lb_workers *ws, unsigned deadline_ms);

#endif
