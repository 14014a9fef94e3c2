/*
 * hc_internal.h - the inside of the health registry, shared by health/'s
 * files: the entry (what workers touch atomically, and what only the
 * control thread touches), the set, the registry and its route
 * membership. Not for users of hc_state.h; the Check suites include it.
 */
#ifndef HC_INTERNAL_H
#define HC_INTERNAL_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "health/hc_state.h"

#define HC_CACHE_LINE 64

struct hc_entry {
	/* Read by every worker on every pick, written by the control thread
	 * on a transition: a line of its own, so that the counters below,
	 * written on every response, do not make it bounce. */
	alignas(HC_CACHE_LINE) atomic_int fit;
	atomic_uint weight;          /* the Consul multiplier */
	atomic_uint threshold;       /* eject_consecutive; 0: ejection off */
	/* when an ejected target is due back (hc_entry_back_ms); read only
	 * when a route has no fit target left */
	_Atomic uint64_t back_ms;

	/* Written by workers on every response. */
	alignas(HC_CACHE_LINE) atomic_uint consecutive; /* failures in a row */
	atomic_uint refused;         /* refusals not yet folded in */
	atomic_int attention;        /* a worker asked for a tick */
	atomic_ulong n_ok, n_5xx, n_connect_failed, n_connect_refused;
	/* holders: the registry (while the entry is in it) and each set
	 * slot that names the entry */
	atomic_size_t refs;

	/* The control thread only (set on creation, read-only afterwards,
	 * or changed only by the control thread). */
	alignas(HC_CACHE_LINE) uint64_t identity;
	char *service, *addr;
	struct hc_registry *reg;     /* NULL once retired */
	struct hc_entry *next;       /* hash chain */

	enum hc_state state;
	int fit_now;                 /* what fit was last set to */
	uint64_t since_ms;
	char reason[HC_REASON_MAX];
	unsigned long transitions;

	struct hc_consul_view consul;

	int probe_on, probe_up;
	unsigned probe_streak;
	struct hc_probe_params probe;

	int ejected;
	uint64_t ejected_until_ms;
	unsigned eject_level;
	uint64_t level_decay_ms;     /* when eject_level drops next */
	unsigned long ejections, ejections_capped;
	int capped;                  /* the cap refused this run of failures */
	int refusal_pending;         /* a refusal waits for the cap (until
				      * a success resets the failures) */

	/* sync scratch and route membership (indices into reg->routes) */
	uint64_t sync_mark;
	int fresh;                   /* made by the sync under way: its
				      * first state is no transition */
	int table_down;              /* every appearance so far is consul_down */
	uint64_t route_mark;         /* last route counted in (serial) */
	uint32_t nroutes, route_first;
};

struct hc_set {
	atomic_size_t refs;
	struct rt_table *table;
	size_t n;
	struct hc_entry *entries[];
};

/* A route of the last synced table, for the ejection cap. */
struct hc_route_stat {
	uint32_t members;            /* distinct entries with weight > 0 */
	uint32_t unfit;              /* of those, not fit now */
};

struct hc_registry {
	struct hc_config cfg;
	hc_log_fn log;
	void *log_arg;
	uint64_t now_ms;

	struct hc_entry **buckets;   /* power of two */
	size_t nbuckets, nentries;

	struct hc_route_stat *routes;
	size_t nroutes;
	uint32_t *members;           /* entry i's routes: members[route_first..+nroutes) */
	size_t nmembers;
	uint64_t serial;             /* marks for sync and membership passes */

	char line[512];              /* the transition log line */
};

/* hc_entry.c */
struct hc_entry *hc_entry_new(uint64_t identity, const char *service,
			      const char *addr);
void hc_entry_ref(struct hc_entry *e);
void hc_entry_unref(struct hc_entry *e);

/* hc_state.c: after any view of e changed, recompute its state, publish
 * fit, keep the routes' unfit counts, and log a transition with reason.
 * Returns 1 when the state changed. */
int hc_entry_update(struct hc_registry *reg, struct hc_entry *e,
		    const char *reason);
/* The weight multiplier of a Consul view. */
unsigned hc_consul_weight(const struct hc_consul_view *v);

/* hc_outlier.c */
/* End e's ejection (reason) and start the backoff's decay clock. 1 when
 * e's state changed. */
int hc_outlier_release(struct hc_registry *reg, struct hc_entry *e,
		       const char *reason);

#endif
