/*
 * lb_watch.h - the control thread's Consul side: blocking watches on the
 * catalog, on each routed service's health and on the KV overrides and
 * no-route page, turned into immutable route tables handed to every
 * worker's rt_mailbox.
 *
 *   /v1/catalog/services          which services carry a tag with the prefix
 *   /v1/health/service/<name>     one watch per routed service: instances,
 *                                 tags and checks in one answer
 *   /v1/kv/<kvpath>?recurse       manual overrides (fabio's route language)
 *   /v1/kv/<noroute path>         the no-route page
 *
 * Changes close together are coalesced into one rebuild. A rebuild turns
 * every counting instance (lb_instances.h) into route commands
 * (rt_tags_commands), appends the override text (rt_parse), builds the
 * table, logs what was rejected and the route-change delta, and, when the
 * routes changed, posts the table to every mailbox and calls the published
 * callback (whose job is to hand the table on and wake the workers; the
 * daemon registers no mailbox and gives tables to lb_health there). A
 * rebuild that changed no route calls the refreshed callback instead.
 *
 * A service that has instances but none that counts keeps its routes:
 * its instances' targets are all marked consul_down (rt_table.h), get no
 * weight, and the proxy answers 503 for them instead of the no-route
 * status. event=service_down / event=service_up say when that starts and
 * ends. As long as one instance counts, the others are left out as before.
 *
 * When Consul cannot be reached the last table stays: nothing is published
 * until answers come back. The first table is published once the catalog,
 * every routed service and the KV keys have answered (or startup_wait_ms
 * after the catalog answered, whatever is still missing).
 *
 * Everything runs on the event_base given to lb_watch_new (the control
 * thread) except where a function says it is thread-safe.
 */
#ifndef LB_WATCH_H
#define LB_WATCH_H

#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>
#include "lb/lb_instances.h"
#include "lb/lb_noroute.h"
#include "registry-client/consul_json.h"
#include "routes/rt_table.h"

enum lb_watch_level {
	LB_WATCH_DEBUG = 0,
	LB_WATCH_INFO,
	LB_WATCH_WARN,
	LB_WATCH_ERROR
};

/* One key=value line without a newline, valid during the call. */
typedef void (*lb_watch_log_fn)(enum lb_watch_level level, const char *line,
				void *arg);

struct lb_watch;

/* After new routes or a new no-route page were posted: table is the
 * current table (borrowed; NULL only before the first table), page the
 * current page (borrowed; NULL when none was ever read). Runs on the
 * control thread. */
typedef void (*lb_watch_published_fn)(struct lb_watch *w,
				      struct rt_table *table,
				      const struct lb_noroute *page,
				      void *arg);

/* After a rebuild that read Consul's answers again but changed no route
 * (nothing is published): a check's status or an instance's Weights may
 * have changed all the same. Runs on the control thread. */
typedef void (*lb_watch_refreshed_fn)(struct lb_watch *w, void *arg);

#define LB_WATCH_COALESCE_MS 5u
#define LB_WATCH_WAIT_MS 60000u
#define LB_WATCH_RESYNC_HOLD_MS 3000
#define LB_WATCH_STARTUP_WAIT_MS 5000u

/* What a new table logs (fabio's log.routes.format): the changes only;
 * the changes and every target with its share; the changes and the
 * table as `route add` text. */
enum lb_watch_routes_log {
	LB_WATCH_ROUTES_DELTA = 0,
	LB_WATCH_ROUTES_DETAIL,
	LB_WATCH_ROUTES_ALL
};

struct lb_watch_opts {
	const char *consul_addr;  /* "host:port" or a URL; NULL: 127.0.0.1:8500 */
	const char *token;        /* X-Consul-Token; NULL or "": none */
	const char *tagprefix;    /* NULL or "": "urlprefix-" */
	const char *kvpath;       /* e.g. "/fabio/config"; NULL or "": none */
	const char *noroute_path; /* e.g. "/fabio/noroute.html"; NULL or "": none */
	const char *dc;           /* $DC in tags; NULL: the instance's datacenter */
	unsigned status_mask;     /* LB_STATUS_* accepted; 0: passing only */
	int checks_all;           /* checksRequired=all (else one) */
	enum rt_matcher matcher;
	unsigned coalesce_ms;     /* delay from a first change to the rebuild
				   * (0: LB_WATCH_COALESCE_MS); never less
				   * than the last rebuild took */
	unsigned wait_ms;         /* ?wait= of blocking queries; bounds how long
				   * a silent network failure goes unnoticed
				   * (0: LB_WATCH_WAIT_MS) */
	unsigned backoff_max_ms;  /* retry cap while Consul is away; 0: 10 s */
	int resync_hold_ms;       /* after Consul came back from an outage, a
				   * table that would drop routes waits this
				   * long, so services re-registering with a
				   * restarted agent do not blink out
				   * (0: LB_WATCH_RESYNC_HOLD_MS; < 0: off) */
	unsigned startup_wait_ms; /* 0: LB_WATCH_STARTUP_WAIT_MS */
	lb_watch_log_fn log;      /* NULL: silent */
	enum lb_watch_level log_level; /* lines below this are not built */
	void *log_arg;
	enum lb_watch_routes_log routes_log; /* log.routes.format */
};

/* Start watching. The strings are copied. NULL on a bad address or when
 * out of memory. */
struct lb_watch *lb_watch_new(struct event_base *base,
			      const struct lb_watch_opts *opts);
/* Stop every watch and drop the table held here. Mailboxes and boxes keep
 * what was posted to them (their readers own that). NULL is a no-op. */
void lb_watch_free(struct lb_watch *w);
/* Change the diagnostics level and the route log while running (SIGHUP). */
void lb_watch_set_log(struct lb_watch *w, enum lb_watch_level level,
		      enum lb_watch_routes_log routes_log);

/* Readers. m (resp. b) must outlive w; the current table (page), if any,
 * is posted to it at once. 0 or -ENOMEM. */
int lb_watch_add_mailbox(struct lb_watch *w, struct rt_mailbox *m);
int lb_watch_add_noroute_box(struct lb_watch *w, struct lb_noroute_box *b);
void lb_watch_set_published_cb(struct lb_watch *w, lb_watch_published_fn fn,
			       void *arg);
void lb_watch_set_refreshed_cb(struct lb_watch *w, lb_watch_refreshed_fn fn,
			       void *arg);

/* The table last published (borrowed, lives until the next rebuild on
 * this thread), or NULL before the first. */
struct rt_table *lb_watch_table(const struct lb_watch *w);
/* The current no-route page (borrowed, as above), or NULL. */
const struct lb_noroute *lb_watch_noroute(const struct lb_watch *w);

/* The instances of a routed service as last answered, counting or not
 * (borrowed, as above; Weights are there). NULL for an unknown service. */
const struct consul_service_list *
lb_watch_service(const struct lb_watch *w, const char *name);

/* Whether instance e counts under this watch's registry.consul.service.status
 * and checksRequired, and why not (lb_instance_verdict). */
enum lb_instance_verdict lb_watch_verdict(const struct lb_watch *w,
					  const struct consul_service_entry *e);

/* Thread-safe. 1 while every watch gets answers, 0 before the first answer
 * and while any watch fails. */
int lb_watch_consul_up(const struct lb_watch *w);
/* Thread-safe. Wall-clock milliseconds since the epoch of the last
 * rebuild from Consul data (whether or not routes changed); 0: never. */
uint64_t lb_watch_last_update_ms(const struct lb_watch *w);
/* Thread-safe counters: rebuilds run, tables published. */
uint64_t lb_watch_rebuilds(const struct lb_watch *w);
uint64_t lb_watch_publishes(const struct lb_watch *w);

#endif
