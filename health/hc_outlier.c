/*
 * hc_outlier.c - passive ejection: folding the workers' reports in on
 * each tick, ejecting a target after eject_consecutive failures in a row
 * or at once after a refused connect, for a base time that doubles with
 * each repeated ejection up to a maximum, and the cap that keeps
 * ejection from emptying a route.
 *
 * The cap: a target is ejected only if, in every route it takes traffic
 * in, the targets not fit (for any reason) would then be at most
 * eject_max_percent of the route's targets, rounded down. So a route of
 * one target never ejects it (50 % of 1 is 0, as nginx never marks the
 * only server of a group down), a route of two or three ejects one, a
 * route of four two; and a route whose other half is already down by
 * Consul or probes ejects nothing more. Consul and probes are not capped:
 * they are the operator's and the service's own word.
 *
 * Backoff: the n-th ejection of a run lasts base << (n - 1), at most max.
 * The run's level drops by one for every base time the target spends
 * without being ejected, as Envoy lowers its multiplier while a host
 * stays healthy.
 */
#include <stdint.h>

#include "health/hc_internal.h"

static uint64_t duration(const struct hc_config *c, unsigned level)
{
	uint64_t d = c->eject_base_ms;

	for (unsigned i = 1; i < level && d < c->eject_max_ms; i++)
		d = d > c->eject_max_ms / 2 ? c->eject_max_ms : d * 2;
	return d < c->eject_max_ms ? d : c->eject_max_ms;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

int hc_outlier_release(struct hc_registry *reg, struct hc_entry *e,
		       const char *reason)
{
	e->ejected = 0;
	e->ejected_until_ms = 0;
	e->level_decay_ms = add_sat(reg->now_ms, reg->cfg.eject_base_ms);
	e->capped = 0;
	e->refusal_pending = 0;
	/* failures counted while ejected came from requests sent before */
	atomic_store_explicit(&e->consecutive, 0, memory_order_relaxed);
	return hc_entry_update(reg, e, reason);
}

static void eject(struct hc_registry *reg, struct hc_entry *e,
		  const char *reason)
{
	const struct hc_config *c = &reg->cfg;

	/* the level stops where the time reaches max, so that the decay
	 * from there takes as long as the doubling did */
	if (e->eject_level == 0 || duration(c, e->eject_level) < c->eject_max_ms)
		e->eject_level++;
	e->ejected = 1;
	e->ejected_until_ms = add_sat(reg->now_ms, duration(c, e->eject_level));
	e->ejections++;
	e->capped = 0;
	e->refusal_pending = 0;
	atomic_store_explicit(&e->consecutive, 0, memory_order_relaxed);
	hc_entry_update(reg, e, reason);
}

/* Would ejecting e (fit now) leave every route it is in within the cap? */
static int cap_allows(const struct hc_registry *reg, const struct hc_entry *e)
{
	for (uint32_t i = 0; i < e->nroutes; i++) {
		const struct hc_route_stat *r =
			&reg->routes[reg->members[e->route_first + i]];
		uint64_t limit = (uint64_t)r->members *
				 reg->cfg.eject_max_percent / 100;

		if ((uint64_t)r->unfit + 1 > limit)
			return 0;
	}
	return 1;
}

/* Take what the workers reported on e since the last tick and eject it
 * if that calls for it and the cap allows. 1 when its state changed. */
static int fold(struct hc_registry *reg, struct hc_entry *e)
{
	unsigned refused = 0, failures;

	if (atomic_load_explicit(&e->attention, memory_order_relaxed))
		atomic_store_explicit(&e->attention, 0, memory_order_relaxed);
	if (atomic_load_explicit(&e->refused, memory_order_relaxed))
		refused = atomic_exchange_explicit(&e->refused, 0,
						   memory_order_acquire);
	if (!reg->cfg.eject_enabled)
		return 0;
	failures = atomic_load_explicit(&e->consecutive, memory_order_relaxed);
	if (e->ejected || !e->fit_now) {
		/* answers to requests sent before it went out say nothing
		 * about it now */
		if (failures)
			atomic_store_explicit(&e->consecutive, 0,
					      memory_order_relaxed);
		e->refusal_pending = 0;
		e->capped = 0;
		return 0;
	}
	if (refused)
		e->refusal_pending = 1;
	if (failures == 0)          /* a success came after everything */
		e->refusal_pending = 0;
	if (!e->refusal_pending && failures < reg->cfg.eject_consecutive) {
		e->capped = 0;
		return 0;
	}
	if (!cap_allows(reg, e)) {
		/* counted once per run of failures; tried again every tick */
		if (!e->capped)
			e->ejections_capped++;
		e->capped = 1;
		return 0;
	}
	eject(reg, e, e->refusal_pending ? "connect_refused"
					 : "consecutive_failures");
	return 1;
}

unsigned hc_tick(struct hc_registry *reg, uint64_t now_ms)
{
	unsigned changed = 0;

	if (!reg)
		return 0;
	reg->now_ms = now_ms;
	/* ends first, so that the cap sees the room they leave */
	for (size_t b = 0; b < reg->nbuckets; b++)
		for (struct hc_entry *e = reg->buckets[b]; e; e = e->next) {
			if (e->ejected && now_ms >= e->ejected_until_ms)
				changed += (unsigned)hc_outlier_release(
					reg, e, "ejection_expired");
			while (!e->ejected && e->eject_level > 0 &&
			       now_ms >= e->level_decay_ms) {
				e->eject_level--;
				e->level_decay_ms = add_sat(e->level_decay_ms,
							    reg->cfg.eject_base_ms);
			}
		}
	for (size_t b = 0; b < reg->nbuckets; b++)
		for (struct hc_entry *e = reg->buckets[b]; e; e = e->next)
			changed += (unsigned)fold(reg, e);
	return changed;
}
