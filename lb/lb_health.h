/*
 * lb_health.h - the control thread's side of target health (health/): one
 * hc_registry kept in line with every table the watch publishes, each
 * target's Consul view read from the same Consul answer as the table,
 * active probes for the routes that ask for them (route option check=) or
 * for every target (health.check.path), a tick every 100 ms and on a
 * worker's request that folds in what the workers reported, and handing
 * each table to the workers together with its health state (an hc_set in
 * each worker's hc_mailbox, see lb_workers_publish_set).
 *
 * Every state transition is logged once on the logger given:
 *   event=health_transition target=<svc>@<addr> from=<state> to=<state> reason=<why>
 *
 * Everything runs on the event_base given to lb_health_new (the control
 * thread), except lb_health_wake.
 */
#ifndef LB_HEALTH_H
#define LB_HEALTH_H

#include <event2/event.h>

#include "health/hc_state.h"
#include "lb/lb_log.h"
#include "lb/lb_proxy.h"
#include "lb/lb_watch.h"
#include "routes/rt_table.h"

#define LB_HEALTH_TICK_MS 100u

struct lb_health_opts {
	struct hc_config hc;          /* probe params, passive ejection */
	const char *check_path;       /* health.check.path: an HTTP probe of
				       * this path on every http target;
				       * NULL or "": only routes with check= */
	const struct lb_logger *log;  /* kept (it must outlive the health
				       * state): transitions, probe failures
				       * at debug level; NULL: silent */
};

struct lb_health;

/*
 * Health state on base, with no table yet. Copies o (the path too). NULL
 * with *err -EINVAL (o->hc fails hc_config_check) or -ENOMEM.
 */
struct lb_health *lb_health_new(struct event_base *base,
				const struct lb_health_opts *o, int *err);
/* Stops probes and timers and drops the state; sets the workers still
 * hold stay theirs. Call after the workers stopped calling
 * lb_health_wake (they were joined). NULL: no-op. */
void lb_health_free(struct lb_health *h);

/* Where sets go (NULL: nowhere, e.g. once the workers are stopping). The
 * current set, if any, is posted at once. */
void lb_health_set_workers(struct lb_health *h, struct lb_workers *ws);
/* Where the Consul answers are read (NULL: the watch is gone; Consul views
 * then stay as they are). */
void lb_health_set_watch(struct lb_health *h, const struct lb_watch *w);

/*
 * SIGHUP: new probe params, ejection settings and check path. Ejections
 * in force keep their end; probes follow the new params from their next
 * run. 0, or -EINVAL (nothing changed), or -ENOMEM (the probes keep their
 * old schedule).
 */
int lb_health_set_opts(struct lb_health *h, const struct lb_health_opts *o);

/*
 * The watch published table t (borrowed): sync the registry with it, set
 * the Consul views and the probes, and post the set to every worker (a
 * table seen before is ignored, so a new no-route page alone changes
 * nothing). When the registry cannot follow (out of memory) the bare
 * table goes to the workers, which then pick without health state.
 */
void lb_health_table(struct lb_health *h, struct rt_table *t);

/* The watch read Consul again without a change of routes: check status
 * and weights may have changed, so the Consul views are set again. */
void lb_health_consul(struct lb_health *h);

/* Any thread, never blocks: run a tick soon (an hc_entry_report returned
 * 1). arg is the struct lb_health. */
void lb_health_wake(void *arg);

/* The registry, for reading states (admin API), on the control thread. */
struct hc_registry *lb_health_registry(const struct lb_health *h);
/* Milliseconds on the clock the registry runs on (CLOCK_MONOTONIC). */
uint64_t lb_health_now_ms(void);

#endif
