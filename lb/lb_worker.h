/*
 * lb_worker.h - inside a worker thread (private to lb_worker.c and
 * lb_proxy.c): the thread's state, the tables it holds, and what the
 * request code asks of it.
 *
 * Everything in struct lb_worker is touched by its own thread only,
 * except the fields marked "shared", which other threads reach through
 * atomics.
 */
#ifndef LB_WORKER_H
#define LB_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/queue.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "lb/lb_buf.h"
#include "lb/lb_conn.h"
#include "lb/lb_h1req.h"
#include "lb/lb_log.h"
#include "lb/lb_pool.h"
#include "lb/lb_proxy.h"
#include "routes/rt_cmd.h"
#include "routes/rt_pick.h"
#include "routes/rt_table.h"

/*
 * A table as one worker holds it: the table (with its health set, when
 * it came with one), the pool bucket of each of
 * its targets (looked up on first use, by target index), and how many of
 * the worker's requests still use it. The newest is the worker's current
 * table; older ones live on until their last request ends.
 */
struct lb_tabref {
	struct rt_table *t;           /* the set's table when hs is set */
	struct hc_set *hs;            /* health state; NULL: none (every
				       * target fit), and t is our reference */
	struct lb_bucket **buckets;   /* ntargets entries, NULL until used */
	size_t nbuckets;
	unsigned inflight;
	struct lb_tabref *next;       /* the worker's list of older tables */
};

/* A refcounted copy of the no-route page. */
struct lb_page {
	atomic_uint refs;
	size_t len;
	char body[];
};

/* Counters: one writer (the worker), any reader. */
struct lb_counters {
	atomic_uint_fast64_t requests, s2xx, s3xx, s4xx, s5xx, noroute,
		retries_fresh, retries_other, client_aborts, tables, active;
};

#define LB_COUNT(w, field, d)                                           \
	atomic_store_explicit(&(w)->c.field,                            \
		atomic_load_explicit(&(w)->c.field, memory_order_relaxed) \
		+ (uint64_t)(d), memory_order_relaxed)

struct lb_req;
TAILQ_HEAD(lb_req_list, lb_req);
struct lb_conn;
TAILQ_HEAD(lb_conn_list, lb_conn);
struct lb_conn_head;

struct lb_worker {
	struct lb_workers *ws;
	unsigned id;
	pthread_t thread;
	int started;

	struct event_base *base;
	int wake_fd;                  /* eventfd the control thread writes */
	struct event *wake_ev;
	struct event *flush_ev;       /* access log flush timer */
	struct event *drain_ev;       /* drain deadline */
	struct event *finish_ev;      /* drain done: leave the loop */
	struct event *grace_ev;       /* drain: idle connections' grace over */

	struct rt_mailbox mbox;       /* shared */
	struct hc_mailbox hbox;       /* shared: tables with health state */
	atomic_int stop_req;          /* shared: 1 = drain and leave */
	atomic_uint deadline_ms;      /* shared: set with stop_req */

	struct rt_picker *picker;
	struct lb_pool *pool;
	struct lb_tabref *cur;
	struct lb_tabref *old;

	struct lb_access_buf alog;
	int alog_armed;

	struct lb_page *page;         /* the no-route page in use */
	uint64_t page_gen;

	struct lb_proxy_live live;    /* the live options in use */
	uint64_t live_gen;

	/* scratch, reused by every request */
	char *pathbuf;
	size_t pathcap;
	struct lb_buf path, query, tmp;
	struct evbuffer *scratch;
	const struct timeval *resp_tv; /* response-header timeout (common) */
	struct timeval resp_tv_storage;

	/* client connections (lb_conn.c) */
	int listen_fd;
	struct event *accept_ev;
	struct event *accept_retry_ev;
	struct event *conn_sweep_ev;
	int accept_full;              /* at the connection cap: not accepting */
	struct lb_conn_list conns;
	unsigned nconns;
	struct lb_conn **connq;       /* connections with output this turn */
	size_t nconnq, connqcap;
	struct lb_conn_head *free_heads;
	char *discard;                /* where lingering input is dropped */
	int leave;                    /* stop looping */

	struct lb_req_list active;
	struct lb_req *free_reqs;
	unsigned nactive;
	int draining;
	int grace_over;               /* idle connections no longer awaited */
	unsigned cut;
	char local_port[8];

	struct lb_counters c;
};

/* The settings of every worker, and the shared no-route page. */
struct lb_workers {
	struct lb_proxy_opts o;       /* strings point into the copies below */
	char *listen_copy;
	char *access_copy;
	struct lb_access_log *alog;
	int port;
	unsigned n;
	struct lb_worker *w;

	pthread_mutex_t page_mu;
	struct lb_page *page;         /* under page_mu */
	atomic_uint_fast64_t page_gen;

	struct rt_cidr *trusted;      /* proxy.header.trustedcidrs, parsed */
	size_t ntrusted;

	pthread_mutex_t live_mu;
	struct lb_proxy_live live;    /* under live_mu */
	atomic_uint_fast64_t live_gen;
};

/* ---- lb_worker.c, for lb_proxy.c ---- */

/* The current table, pinned: one more request uses it. */
struct lb_tabref *lb_worker_pin(struct lb_worker *w);
/* The request using tr ended. */
void lb_worker_unpin(struct lb_worker *w, struct lb_tabref *tr);
/* The pool bucket of target t of tr (looked up once per table), or NULL
 * when out of memory or t's address is unusable. */
struct lb_bucket *lb_worker_bucket(struct lb_worker *w, struct lb_tabref *tr,
				   const struct rt_target *t);
/* The no-route page to send now (never NULL; may be empty). */
const struct lb_page *lb_worker_page(struct lb_worker *w);
/* Count one answered request with its status. */
void lb_worker_count_status(struct lb_worker *w, int status);
/* Add one access log line (no-op when the access log is off). */
void lb_worker_access(struct lb_worker *w, const struct lb_access_rec *r);
/* A request ended (after lb_worker_unpin): lets a drain finish. */
void lb_worker_request_done(struct lb_worker *w);
/* A client connection closed: lets a drain finish. */
void lb_worker_conn_closed(struct lb_worker *w);

/* ---- lb_proxy.c, for lb_worker.c ---- */

/* Cut every request in flight (drain deadline); returns how many. */
unsigned lb_proxy_cut_all(struct lb_worker *w);
/* Free the recycled request objects. */
void lb_proxy_free_cache(struct lb_worker *w);
/* A drain began: requests whose answer has not started get
 * Connection: close. */
void lb_proxy_drain(struct lb_worker *w);

/* ---- lb_proxy.c, for lb_conn.c ---- */

/*
 * A request from client connection c: its head h and its whole body
 * (both stay the connection's, unchanged, until the proxy ends the
 * response with lb_conn_end or lb_conn_abort, or the client goes).
 */
void lb_proxy_request(struct lb_worker *w, struct lb_conn *c,
		      const struct lb_h1_req *h, struct evbuffer *body);
/* The last byte of rq's response was written. */
void lb_proxy_client_written(struct lb_req *rq);
/* The client went away (or failed) before rq's response was written; its
 * connection is closed after the call. */
void lb_proxy_client_gone(struct lb_req *rq);
/* Everything rq sent so far was written (a streamed response). */
void lb_proxy_client_drained(struct lb_req *rq);

#endif
