/*
 * lb_watch_internal.h - the state shared by lb_watch.c (watches and
 * Consul reachability) and lb_rebuild.c (tables from that state).
 * Everything here belongs to the control thread, except the atomics.
 */
#ifndef LB_WATCH_INTERNAL_H
#define LB_WATCH_INTERNAL_H

#include <stdatomic.h>
#include "lb/lb_overrides.h"
#include "lb/lb_watch.h"
#include "registry-client/consul_http.h"
#include "registry-client/consul_watch.h"

/* One blocking query and what we know of its health. */
struct feed {
	struct lb_watch *lw;
	struct consul_watch *watch;
	char *path;
	const char *query; /* a literal or NULL */
	consul_watch_change_fn on_change;
	int down;          /* its last request failed */
	int answered;      /* it delivered at least once */
	int fresh;         /* restarted since its last good answer */
};

/* A routed service: its health watch and its last good answer. */
struct svc {
	struct feed feed;  /* first: the watch's callbacks get a struct feed * */
	char *name;
	struct consul_service_list list;
	/* Down: it has instances and none of them counts, so its routes are
	 * built with every target marked consul_down (503, not no-route). */
	int down;          /* as of the last rebuild */
	const char *down_reason; /* lb_instance_verdict_name of them all, or
			    * "mixed"; static */
	int down_published; /* as of the last published table (for the log) */
};

struct lb_watch {
	struct event_base *base;
	struct consul_client *client;
	struct consul_watcher *watcher;

	char *tagprefix;
	char *kv_key;          /* kvpath without its leading '/'; NULL: none */
	char *noroute_key;     /* NULL: none */
	char *dc;              /* NULL: each instance's datacenter */
	unsigned status_mask;
	int checks_all;
	enum rt_matcher matcher;
	unsigned coalesce_ms, wait_ms, backoff_max_ms, startup_wait_ms;
	int resync_hold_ms;
	lb_watch_log_fn log;
	enum lb_watch_level log_level;
	enum lb_watch_routes_log routes_log;
	void *log_arg;

	struct feed catalog, kv, noroute;
	struct svc **svcs;     /* sorted by name */
	size_t nsvcs;

	struct lb_overrides overrides;
	struct lb_noroute *page;

	struct rt_table *table;       /* last published, one reference */
	struct rt_mailbox **mailboxes;
	size_t nmailboxes;
	struct lb_noroute_box **boxes;
	size_t nboxes;
	lb_watch_published_fn published;
	void *published_arg;
	lb_watch_refreshed_fn refreshed;
	void *refreshed_arg;
	int refresh_pending;          /* a rebuild changed no route */

	/* the coalescing timer and what it has to do */
	struct event *flush_ev;
	int flush_pending;
	uint64_t flush_at_ms;
	int routes_dirty, page_dirty;

	uint64_t catalog_first_ms;    /* first catalog answer; 0: none yet */
	uint64_t hold_until_ms;       /* resync hold after an outage */
	int hold_armed;               /* set for the current outage */
	int hold_logged;
	uint64_t last_build_ms;       /* how long the last rebuild took */
	int published_once;
	uint64_t problems_hash;       /* of the rejections logged last */

	unsigned ndown;               /* feeds whose last request failed */
	int ever_answered;
	int up_now;                   /* control-thread copy of up */

	atomic_int up;
	atomic_uint_fast64_t last_update_ms, rebuilds, publishes;
};

uint64_t lb_watch_mono_ms(void);
uint64_t lb_watch_wall_ms(void);

/* Log a line when lw has a log callback at that level; the arguments are
 * not evaluated otherwise. */
#define LB_WATCH_LOG(lw, lvl, ...)                                         \
	do {                                                               \
		if ((lw)->log && (lvl) >= (lw)->log_level)                 \
			lb_watch_logf((lw), (lvl), __VA_ARGS__);           \
	} while (0)
void lb_watch_logf(struct lb_watch *lw, enum lb_watch_level level,
		   const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* s as a double-quoted log value (quotes, backslashes and control bytes
 * escaped, cut at size). Returns buf. */
const char *lb_watch_quote(char *buf, size_t size, const char *s);

/* Arrange for lb_watch_flush to run in ms milliseconds, unless it is
 * already due sooner. */
void lb_watch_schedule(struct lb_watch *lw, uint64_t ms);
/* The coalesced work: rebuild the routes when they are dirty, post a new
 * page when there is one, then call the published callback. */
void lb_watch_flush(struct lb_watch *lw);

#endif
