/*
 * hc_state.c - one target's state from its three views (Consul, probe,
 * passive ejection): which view refuses, publishing the fit flag, the
 * transition log line, the Consul and probe views' inputs, and reading
 * the state back for the admin API. The control thread runs all of it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "health/hc_internal.h"

void hc_probe_params_defaults(struct hc_probe_params *p)
{
	p->interval_ms = 2000;
	p->timeout_ms = 2000;
	p->rise = 2;
	p->fall = 3;
}

void hc_config_defaults(struct hc_config *c)
{
	memset(c, 0, sizeof(*c));
	hc_probe_params_defaults(&c->probe);
	c->eject_enabled = 1;
	c->eject_consecutive = 5;
	c->eject_base_ms = 30000;
	c->eject_max_ms = 300000;
	c->eject_max_percent = 50;
}

int hc_probe_params_check(const struct hc_probe_params *p, const char **why)
{
	const char *bad = NULL;

	if (!p)
		bad = "probe";
	else if (p->interval_ms == 0)
		bad = "interval";
	else if (p->timeout_ms == 0)
		bad = "timeout";
	else if (p->rise == 0)
		bad = "rise";
	else if (p->fall == 0)
		bad = "fall";
	if (why)
		*why = bad;
	return bad ? -EINVAL : 0;
}

int hc_config_check(const struct hc_config *c, const char **why)
{
	const char *bad = NULL;

	if (!c)
		bad = "config";
	else if (hc_probe_params_check(&c->probe, &bad) < 0)
		;
	else if (c->eject_enabled && c->eject_consecutive == 0)
		bad = "eject_consecutive";
	else if (c->eject_base_ms == 0)
		bad = "eject_base";
	else if (c->eject_max_ms < c->eject_base_ms)
		bad = "eject_max";
	else if (c->eject_max_percent > 100)
		bad = "eject_max_percent";
	if (why)
		*why = bad;
	return bad ? -EINVAL : 0;
}

const char *hc_state_name(enum hc_state s)
{
	switch (s) {
	case HC_UP: return "up";
	case HC_CONSUL_DOWN: return "consul_down";
	case HC_PROBE_DOWN: return "probe_down";
	case HC_EJECTED: return "ejected";
	}
	return "unknown";
}

const char *hc_consul_status_name(enum hc_consul_status s)
{
	switch (s) {
	case HC_CONSUL_PASSING: return "passing";
	case HC_CONSUL_WARNING: return "warning";
	case HC_CONSUL_CRITICAL: return "critical";
	case HC_CONSUL_MAINTENANCE: return "maintenance";
	}
	return "unknown";
}

const char *hc_consul_verdict_name(enum hc_consul_verdict v)
{
	switch (v) {
	case HC_CONSUL_COUNTS: return "counts";
	case HC_CONSUL_CHECKS: return "checks";
	case HC_CONSUL_NODE_DOWN: return "node_down";
	case HC_CONSUL_NODE_MAINT: return "node_maintenance";
	case HC_CONSUL_SERVICE_MAINT: return "service_maintenance";
	case HC_CONSUL_TABLE_DOWN: return "consul_down";
	}
	return "unknown";
}

unsigned hc_consul_weight(const struct hc_consul_view *v)
{
	if (v->verdict != HC_CONSUL_COUNTS)
		return 0;
	if (v->status == HC_CONSUL_PASSING)
		return v->weight_passing ? v->weight_passing : 1;
	return v->weight_warning;
}

/* The first view that refuses names the state (hc_state.h). */
static enum hc_state state_of(const struct hc_entry *e)
{
	if (e->consul.verdict != HC_CONSUL_COUNTS)
		return HC_CONSUL_DOWN;
	if (e->probe_on && !e->probe_up)
		return HC_PROBE_DOWN;
	if (e->ejected)
		return HC_EJECTED;
	return HC_UP;
}

/* A reason is one token in a key=value line: anything but printable
 * non-blank ASCII becomes '_'. */
static void set_reason(struct hc_entry *e, const char *reason)
{
	size_t i = 0;

	for (; reason && reason[i] && i < sizeof(e->reason) - 1; i++) {
		unsigned char c = (unsigned char)reason[i];

		e->reason[i] = c > ' ' && c < 0x7f ? (char)c : '_';
	}
	if (i == 0)
		e->reason[i++] = '-';
	e->reason[i] = '\0';
}

static void log_transition(struct hc_registry *reg, const struct hc_entry *e,
			   enum hc_state from)
{
	struct hc_transition tr = {
		.service = e->service,
		.addr = e->addr,
		.identity = e->identity,
		.from = from,
		.to = e->state,
		.reason = e->reason,
		.now_ms = reg->now_ms,
		.line = reg->line,
	};

	if (!reg->log)
		return;
	snprintf(reg->line, sizeof(reg->line),
		 "target=%s@%s from=%s to=%s reason=%s", e->service, e->addr,
		 hc_state_name(from), hc_state_name(e->state), e->reason);
	reg->log(reg->log_arg, &tr);
}

int hc_entry_update(struct hc_registry *reg, struct hc_entry *e,
		    const char *reason)
{
	enum hc_state st = state_of(e), from = e->state;
	unsigned weight = hc_consul_weight(&e->consul);
	int fit = st == HC_UP;
	/* only an ejection has a known end: Consul and probes decide when
	 * they will, so a target they hold has no time to give */
	uint64_t back = st == HC_EJECTED ? e->ejected_until_ms : 0;

	if (atomic_load_explicit(&e->weight, memory_order_relaxed) != weight)
		atomic_store_explicit(&e->weight, weight, memory_order_relaxed);
	if (atomic_load_explicit(&e->back_ms, memory_order_relaxed) != back)
		atomic_store_explicit(&e->back_ms, back, memory_order_relaxed);
	if (fit != e->fit_now) {
		e->fit_now = fit;
		atomic_store_explicit(&e->fit, fit, memory_order_relaxed);
		for (uint32_t i = 0; i < e->nroutes; i++) {
			struct hc_route_stat *r =
				&reg->routes[reg->members[e->route_first + i]];

			if (fit)
				r->unfit--;
			else
				r->unfit++;
		}
	}
	if (st == from)
		return 0;
	e->state = st;
	e->since_ms = reg->now_ms;
	set_reason(e, reason);
	/* the first state of an entry, set by the sync that made it, is
	 * where it starts rather than a change */
	if (!e->fresh) {
		e->transitions++;
		log_transition(reg, e, from);
	}
	return 1;
}

/* ---- the Consul view ---------------------------------------------------- */

int hc_consul_set(struct hc_registry *reg, struct hc_entry *e,
		  const struct hc_consul_view *v, uint64_t now_ms)
{
	char reason[HC_REASON_MAX];

	if (!reg || !e || !v || (unsigned)v->status > HC_CONSUL_MAINTENANCE ||
	    (unsigned)v->verdict > HC_CONSUL_TABLE_DOWN)
		return -EINVAL;
	if (e->reg != reg)
		return -ENOENT;
	reg->now_ms = now_ms;
	e->consul = *v;
	if (e->consul.weight_passing == 0)
		e->consul.weight_passing = 1;
	if (v->verdict == HC_CONSUL_COUNTS)
		snprintf(reason, sizeof(reason), "consul_%s",
			 hc_consul_status_name(v->status));
	else
		snprintf(reason, sizeof(reason), "%s",
			 hc_consul_verdict_name(v->verdict));
	hc_entry_update(reg, e, reason);
	return 0;
}

/* ---- the probe view ----------------------------------------------------- */

int hc_probe_set(struct hc_registry *reg, struct hc_entry *e,
		 const struct hc_probe_params *p, uint64_t now_ms)
{
	if (!reg || !e)
		return -EINVAL;
	if (e->reg != reg)
		return -ENOENT;
	if (p && hc_probe_params_check(p, NULL) < 0)
		return -EINVAL;
	reg->now_ms = now_ms;
	if (!p) {
		if (!e->probe_on)
			return 0;
		e->probe_on = 0;
		e->probe_up = 1;
		e->probe_streak = 0;
		hc_entry_update(reg, e, "probe_off");
		return 0;
	}
	if (!e->probe_on) {
		/* HAProxy's initial health (rise): up, one failure short of
		 * falling, since the target was never seen to pass */
		e->probe_on = 1;
		e->probe_up = 1;
		e->probe_streak = p->fall - 1;
	} else {
		unsigned need = e->probe_up ? p->fall : p->rise;

		/* a lower threshold must not flip the state by itself */
		if (e->probe_streak >= need)
			e->probe_streak = need - 1;
	}
	e->probe = *p;
	return 0;
}

int hc_probe_result(struct hc_registry *reg, struct hc_entry *e, int ok,
		    const char *why, uint64_t now_ms)
{
	if (!reg || !e)
		return -EINVAL;
	if (e->reg != reg)
		return -ENOENT;
	if (!e->probe_on)
		return -EINVAL;
	reg->now_ms = now_ms;
	ok = ok != 0;
	if (ok == e->probe_up) {
		e->probe_streak = 0;
		return 0;
	}
	if (++e->probe_streak < (ok ? e->probe.rise : e->probe.fall))
		return 0;
	e->probe_up = ok;
	e->probe_streak = 0;
	hc_entry_update(reg, e, why ? why : ok ? "probe_rise" : "probe_fall");
	return 0;
}

/* ---- reading ------------------------------------------------------------ */

static void fill_info(const struct hc_entry *e, struct hc_target_info *out)
{
	memset(out, 0, sizeof(*out));
	out->identity = e->identity;
	out->service = e->service;
	out->addr = e->addr;
	out->state = e->state;
	out->fit = e->fit_now;
	out->since_ms = e->since_ms;
	memcpy(out->reason, e->reason, sizeof(out->reason));
	out->transitions = e->transitions;
	out->consul_status = e->consul.status;
	out->consul_verdict = e->consul.verdict;
	out->weight = hc_consul_weight(&e->consul);
	out->probe_on = e->probe_on;
	out->probe_up = e->probe_on ? e->probe_up : 1;
	out->probe_streak = e->probe_streak;
	out->probe = e->probe;
	out->ejected = e->ejected;
	out->ejected_until_ms = e->ejected ? e->ejected_until_ms : 0;
	out->eject_level = e->eject_level;
	out->ejections = e->ejections;
	out->ejections_capped = e->ejections_capped;
	out->consecutive_failures =
		atomic_load_explicit(&e->consecutive, memory_order_relaxed);
	out->ok = atomic_load_explicit(&e->n_ok, memory_order_relaxed);
	out->http_5xx = atomic_load_explicit(&e->n_5xx, memory_order_relaxed);
	out->connect_failed = atomic_load_explicit(&e->n_connect_failed,
						   memory_order_relaxed);
	out->connect_refused = atomic_load_explicit(&e->n_connect_refused,
						    memory_order_relaxed);
}

int hc_entry_info(const struct hc_registry *reg, const struct hc_entry *e,
		  struct hc_target_info *out)
{
	if (!reg || !e || !out)
		return -EINVAL;
	if (e->reg != reg)
		return -ENOENT;
	fill_info(e, out);
	return 0;
}

void hc_registry_foreach(const struct hc_registry *reg,
			 void (*fn)(void *arg, const struct hc_target_info *info),
			 void *arg)
{
	struct hc_target_info info;

	if (!reg || !fn)
		return;
	for (size_t b = 0; b < reg->nbuckets; b++)
		for (const struct hc_entry *e = reg->buckets[b]; e; e = e->next) {
			fill_info(e, &info);
			fn(arg, &info);
		}
}
