/*
 * hc_state.h - whether a target is fit for traffic right now: one health
 * state per target identity (rt_target.identity), made of three views
 * that must all allow traffic:
 *   Consul   what the instance's checks, serfHealth and maintenance say,
 *            filtered by service.status / checksRequired; also the
 *            Weights.Passing / Weights.Warning multiplier;
 *   probe    active probes with HAProxy's rise/fall counting (off unless
 *            configured: then it allows);
 *   outlier  passive ejection after consecutive connect failures or 5xx
 *            answers, or at once on a refused connect, for a time that
 *            doubles with each repeated ejection.
 *
 * Threads. The control thread is the only writer of health decisions:
 * it syncs the registry with each new table, sets the Consul and probe
 * views, and folds the workers' reports in with hc_tick(). Proxy worker
 * threads only read the published fit flag and weight (one atomic load
 * each) and report outcomes (atomic counters); they take no lock. Every
 * function below is for the control thread unless it says "any thread".
 *
 * Lifetimes. The registry keeps one entry per identity present in the
 * last synced table. hc_registry_sync() returns a struct hc_set: the
 * table plus, per target index, the entry of that target. A worker takes
 * sets (not bare tables) from its struct hc_mailbox, picks and reports
 * through them and drops them like tables. An entry lives while the
 * registry or any set holds it, so a worker may report on a target that
 * a newer table dropped; such reports are simply never folded in. Sets
 * may outlive the registry.
 *
 * Time is passed in (now_ms, any monotonic millisecond clock) so that
 * tests are deterministic.
 */
#ifndef HC_STATE_H
#define HC_STATE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "routes/rt_table.h"

/* ---- configuration ------------------------------------------------------ */

/* Active probe settings, HAProxy's names and defaults: a probe every
 * interval_ms; one taking longer than timeout_ms fails; rise consecutive
 * successes bring a target up, fall consecutive failures take it down. */
struct hc_probe_params {
	uint64_t interval_ms;   /* inter: 2000 */
	uint64_t timeout_ms;    /* 2000 (HAProxy uses inter when `timeout
				 * check` is unset) */
	unsigned rise;          /* 2 */
	unsigned fall;          /* 3 */
};

struct hc_config {
	/* what a route or the global setting that turns probes on without
	 * values of its own uses; probes are off until hc_probe_set() */
	struct hc_probe_params probe;
	/* passive ejection (Envoy's outlier detection, simplified) */
	int eject_enabled;              /* 1 */
	unsigned eject_consecutive;     /* 5: connect failures and 5xx
					 * answers in a row (Envoy's
					 * consecutive_5xx) */
	uint64_t eject_base_ms;         /* 30000: the first ejection */
	uint64_t eject_max_ms;          /* 300000: doubling stops here */
	unsigned eject_max_percent;     /* 50: of a route's targets that may
					 * be unfit when one more is ejected */
};

/* Fill c with the defaults above. */
void hc_config_defaults(struct hc_config *c);
void hc_probe_params_defaults(struct hc_probe_params *p);
/* 0, or -EINVAL with *why (static) naming the bad field: rise, fall or
 * interval 0, timeout 0, eject_consecutive 0 while enabled, base 0,
 * max < base, percent > 100. */
int hc_config_check(const struct hc_config *c, const char **why);
int hc_probe_params_check(const struct hc_probe_params *p, const char **why);

/* ---- states and the transition log -------------------------------------- */

/* A target's state, named by the first view that refuses traffic, in
 * this order: Consul (the operator's and the service's own word), then
 * probes, then passive ejection. Only HC_UP takes traffic. */
enum hc_state {
	HC_UP = 0,
	HC_CONSUL_DOWN,
	HC_PROBE_DOWN,
	HC_EJECTED
};
/* "up", "consul_down", "probe_down", "ejected"; never NULL. */
const char *hc_state_name(enum hc_state s);

/* One change of a target's state, handed to the log callback once. The
 * strings live until the callback returns. line is the whole record:
 *   target=<service>@<addr> from=<state> to=<state> reason=<reason> */
struct hc_transition {
	const char *service;
	const char *addr;
	uint64_t identity;
	enum hc_state from, to;
	const char *reason;     /* one token: consul_down, node_maintenance,
				 * probe_fall, consecutive_failures,
				 * connect_refused, ejection_expired, ... */
	uint64_t now_ms;
	const char *line;
};
typedef void (*hc_log_fn)(void *arg, const struct hc_transition *tr);

/* ---- the registry ------------------------------------------------------- */

struct hc_registry;
struct hc_entry;
struct hc_set;

/*
 * A registry with config c (copied; NULL: defaults) and a log callback
 * (NULL: silent; called on the control thread only). NULL when out of
 * memory or c fails hc_config_check. Free with hc_registry_free().
 */
struct hc_registry *hc_registry_new(const struct hc_config *c,
				    hc_log_fn log, void *log_arg);
/* Drops the registry's hold on its entries; sets still held keep theirs.
 * NULL: no-op. */
void hc_registry_free(struct hc_registry *reg);

/*
 * Replace the config (SIGHUP). Ejections in force keep their end time;
 * turning ejection off ends them at once (reason ejection_disabled).
 * Probe params of entries that have probes on are not changed. 0, or
 * -EINVAL (nothing changed).
 */
int hc_registry_set_config(struct hc_registry *reg, const struct hc_config *c,
			   uint64_t now_ms);

/*
 * Bring the registry in line with table t, which is about to be
 * published, and return the set for it (one reference, for the caller;
 * the set takes its own reference on t). An identity already known keeps
 * its entry and all its state; a new one gets a fresh entry (up, unless
 * the table marks it consul_down; probes off; that first state is not
 * logged as a transition); an entry whose identity t
 * no longer has leaves the registry (its state is gone for good). Two
 * targets with one identity (an instance on two routes, or one address
 * under two text routes) share one entry.
 *
 * Route membership for the ejection cap is taken from t: a target counts
 * in a route when it has weight > 0 there and is not consul_down; an
 * entry counts once per route however often it appears in it.
 *
 * The table decides whether Consul allows each target, since it was built
 * from the same Consul answer: a target whose every appearance in t is
 * consul_down gets a Consul view that refuses (verdict consul_down,
 * unless it already refused for a finer reason), and any other target a
 * view that allows (keeping its status and weights). Call
 * hc_consul_set() afterwards for the checks' detail and the weights.
 *
 * NULL with errno ENOMEM (the registry is as before, save that entries
 * created for t may stay until the next successful sync) or EINVAL (t
 * NULL, or its targets not numbered 0..n-1).
 */
struct hc_set *hc_registry_sync(struct hc_registry *reg, struct rt_table *t,
				uint64_t now_ms);

/* The entry for identity, or NULL. Lives until the next sync. */
struct hc_entry *hc_registry_find(struct hc_registry *reg, uint64_t identity);
size_t hc_registry_size(const struct hc_registry *reg);

/*
 * Fold in what the workers reported and let time pass: end ejections
 * that are due, lower the backoff level of targets that stayed clear of
 * ejection for a base time, eject targets that crossed the threshold or
 * had a connect refused, within the cap. Call every ~100 ms and soon
 * after a report returned 1. Returns the number of state transitions.
 *
 * The cap: a target is ejected only if, in every route where it takes
 * traffic, the targets not fit for any reason would then be at most
 * eject_max_percent of the route's, rounded down. A route of one target
 * therefore never has it ejected (50 % of 1 is 0; nginx never marks the
 * only server of a group down either), routes of two or three eject one,
 * of four two. A target the cap holds back stays in, is counted once in
 * ejections_capped per run of failures, and is ejected at a later tick if
 * it is still failing when room appears. Consul and probes are not
 * capped. Backoff: the n-th ejection of a run lasts base << (n - 1), at
 * most max; the run's level drops by one per base time spent unejected.
 */
unsigned hc_tick(struct hc_registry *reg, uint64_t now_ms);

/* ---- the Consul view ---------------------------------------------------- */

enum hc_consul_status {       /* the worst check that applies (consul-api 3.9) */
	HC_CONSUL_PASSING = 0,
	HC_CONSUL_WARNING,
	HC_CONSUL_CRITICAL,
	HC_CONSUL_MAINTENANCE
};

enum hc_consul_verdict {      /* whether the instance counts, and why not */
	HC_CONSUL_COUNTS = 0,
	HC_CONSUL_CHECKS,         /* service.status / checksRequired refuse its checks */
	HC_CONSUL_NODE_DOWN,      /* serfHealth critical */
	HC_CONSUL_NODE_MAINT,     /* _node_maintenance */
	HC_CONSUL_SERVICE_MAINT,  /* _service_maintenance:<id> */
	HC_CONSUL_TABLE_DOWN      /* the table's consul_down, no finer view */
};

/* What the control thread knows of one instance when it builds a table
 * (lb_instances decides the verdict). */
struct hc_consul_view {
	enum hc_consul_status status;
	enum hc_consul_verdict verdict;
	unsigned weight_passing;  /* Weights.Passing (>= 1; 0 is read as 1) */
	unsigned weight_warning;  /* Weights.Warning (0: no traffic while warning) */
};

/* "passing", "warning", "critical", "maintenance"; never NULL. */
const char *hc_consul_status_name(enum hc_consul_status s);
/* "counts", "checks", "node_down", "node_maintenance",
 * "service_maintenance", "consul_down"; never NULL. */
const char *hc_consul_verdict_name(enum hc_consul_verdict v);

/*
 * Set e's Consul view. The view allows traffic when verdict is COUNTS;
 * the weight multiplier becomes Weights.Passing when status is passing,
 * Weights.Warning when it is anything worse that still counts (warning,
 * or critical under checksRequired=one), 0 when it does not count. A
 * transition's reason is the verdict's name, or "consul_<status>" when
 * the view allows again. 0, -EINVAL (bad enum), or -ENOENT when e is no
 * longer in reg.
 */
int hc_consul_set(struct hc_registry *reg, struct hc_entry *e,
		  const struct hc_consul_view *v, uint64_t now_ms);

/* ---- the probe view ----------------------------------------------------- */

/*
 * Turn e's probes on with params p (copied; NULL: off, and the probe view
 * allows again). A target whose probes come on starts up, but, as HAProxy
 * does, falls at its first failure: it was never seen to pass. Params
 * that change while probes are on keep the state and the streak (cut to
 * one short of the new threshold, so a change alone flips nothing).
 * 0, -EINVAL (p fails hc_probe_params_check), -ENOENT (e not in reg).
 */
int hc_probe_set(struct hc_registry *reg, struct hc_entry *e,
		 const struct hc_probe_params *p, uint64_t now_ms);

/*
 * One probe result: ok 1 passed, 0 failed (a timeout is a failure).
 * While up, fall failures in a row take the target down; while down, rise
 * successes in a row bring it up; a result of the other kind restarts
 * the count. why (may be NULL) becomes the reason of a transition this
 * result causes (default probe_fall / probe_rise). 0, -EINVAL when probes
 * are off for e, -ENOENT when e is no longer in reg.
 */
int hc_probe_result(struct hc_registry *reg, struct hc_entry *e, int ok,
		    const char *why, uint64_t now_ms);

/* ---- the worker side (any thread, no lock) ------------------------------ */

enum hc_outcome {
	HC_OUTCOME_OK = 0,          /* an answer below 500 */
	HC_OUTCOME_5XX,             /* an answer 500..599 from the upstream */
	HC_OUTCOME_CONNECT_FAILED,  /* connect timed out or failed otherwise,
				     * or the connection died before an answer */
	HC_OUTCOME_CONNECT_REFUSED  /* ECONNREFUSED: ejects at the next tick */
};

/*
 * Any thread. Whether e takes traffic now: 1 or 0 (a relaxed atomic
 * load). NULL: 1 (no health state means nothing forbids it).
 */
int hc_entry_fit(const struct hc_entry *e);
/* Any thread. The Consul weight multiplier (1 for an instance that
 * registered no Weights); NULL: 1. */
unsigned hc_entry_weight(const struct hc_entry *e);

/*
 * Any thread. When e comes back from an ejection (on the now_ms clock the
 * control thread passes in), if nothing else holds it down; 0 when it is
 * fit, or held by Consul or probes, whose end nobody knows. For a
 * Retry-After on an answer that found no fit target. NULL: 0.
 */
uint64_t hc_entry_back_ms(const struct hc_entry *e);

/*
 * Any thread. Count one request outcome on e. Returns 1 when the control
 * thread should run hc_tick() soon (a connect was refused, or the
 * consecutive failures reached the threshold), once per entry until that
 * tick; 0 otherwise, always 0 while passive ejection is off, and 0 while
 * e is not fit (its failures then come from requests sent before). Reports
 * on an entry no longer in the registry are counted and never acted on.
 * NULL e: ignored, 0.
 */
int hc_entry_report(struct hc_entry *e, enum hc_outcome o);

/* ---- sets: a table with its entries ------------------------------------- */

/* Any thread. ref returns its argument; unref(NULL) is a no-op; the last
 * unref drops the table and the entries. Take a reference only on a set
 * you hold (never on a pointer loaded from shared memory). */
struct hc_set *hc_set_ref(struct hc_set *s);
void hc_set_unref(struct hc_set *s);

/* Any thread. The table the set was made for (lives as long as the set). */
struct rt_table *hc_set_table(const struct hc_set *s);
/* Any thread. The entry of target number index, or NULL past the end. */
struct hc_entry *hc_set_entry(const struct hc_set *s, size_t index);

/*
 * Any thread. An rt_healthy_fn: arg is the struct hc_set of the table
 * that holds t. 1 when t's entry is fit and its Consul weight is above 0
 * (a Weights.Warning of 0 keeps a warning instance out), or when t is past
 * the set's end, which only a set of another table can cause; else 0.
 */
int hc_set_healthy(const struct rt_target *t, void *arg);

/* Handing sets to one worker, as rt_mailbox hands tables: post gives the
 * mailbox the caller's reference (a set still unread is dropped); take
 * returns the newest set or NULL, and the caller then owns it. */
struct hc_mailbox {
	_Atomic(struct hc_set *) next;
};
void hc_mailbox_init(struct hc_mailbox *m);
void hc_mailbox_post(struct hc_mailbox *m, struct hc_set *s);
struct hc_set *hc_mailbox_take(struct hc_mailbox *m);
void hc_mailbox_clear(struct hc_mailbox *m);

/* ---- reading the state (admin API, metrics) ----------------------------- */

#define HC_REASON_MAX 48

struct hc_target_info {
	uint64_t identity;
	const char *service;         /* live until the next sync */
	const char *addr;
	enum hc_state state;
	int fit;
	uint64_t since_ms;           /* when the state was entered */
	char reason[HC_REASON_MAX];  /* of the last transition ("new") */
	unsigned long transitions;

	/* Consul */
	enum hc_consul_status consul_status;
	enum hc_consul_verdict consul_verdict;
	unsigned weight;             /* the multiplier hc_entry_weight gives */

	/* probes */
	int probe_on;
	int probe_up;
	unsigned probe_streak;       /* results in a row against the state */
	struct hc_probe_params probe;

	/* passive ejection */
	int ejected;
	uint64_t ejected_until_ms;   /* 0 when not ejected */
	unsigned eject_level;        /* ejections in the current run: the
				      * next lasts base << level, capped */
	unsigned long ejections;     /* all ejections so far */
	unsigned long ejections_capped; /* ejections the cap refused */
	unsigned consecutive_failures;

	/* outcomes reported by the workers since the entry was made */
	unsigned long ok, http_5xx, connect_failed, connect_refused;
};

/* Fill out with e's state. 0, or -ENOENT when e is no longer in reg. */
int hc_entry_info(const struct hc_registry *reg, const struct hc_entry *e,
		  struct hc_target_info *out);
/* Call fn for every entry of reg (in no particular order). fn must not
 * change the registry. */
void hc_registry_foreach(const struct hc_registry *reg,
			 void (*fn)(void *arg, const struct hc_target_info *info),
			 void *arg);

#endif
