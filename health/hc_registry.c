/*
 * hc_registry.c - the entries by identity (a chained hash table) and
 * their sync with each new route table: find or make the entry of every
 * target, retire the ones the table dropped, rebuild the route
 * membership the ejection cap reads, and apply the table's consul_down.
 * Control thread only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "health/hc_internal.h"

#define FIRST_BUCKETS 64

struct hc_registry *hc_registry_new(const struct hc_config *c,
				    hc_log_fn log, void *log_arg)
{
	struct hc_config defaults;
	struct hc_registry *reg;

	if (!c) {
		hc_config_defaults(&defaults);
		c = &defaults;
	}
	if (hc_config_check(c, NULL) < 0) {
		errno = EINVAL;
		return NULL;
	}
	if (!(reg = calloc(1, sizeof(*reg))))
		return NULL;
	reg->buckets = calloc(FIRST_BUCKETS, sizeof(*reg->buckets));
	if (!reg->buckets) {
		free(reg);
		return NULL;
	}
	reg->nbuckets = FIRST_BUCKETS;
	reg->cfg = *c;
	reg->log = log;
	reg->log_arg = log_arg;
	return reg;
}

/* The entry leaves the registry: its state is no longer updated, and the
 * registry's reference goes (sets may still hold it). */
static void retire(struct hc_entry *e)
{
	e->reg = NULL;
	e->nroutes = 0;
	hc_entry_unref(e);
}

void hc_registry_free(struct hc_registry *reg)
{
	if (!reg)
		return;
	for (size_t b = 0; b < reg->nbuckets; b++) {
		struct hc_entry *e = reg->buckets[b], *next;

		for (; e; e = next) {
			next = e->next;
			retire(e);
		}
	}
	free(reg->buckets);
	free(reg->routes);
	free(reg->members);
	free(reg);
}

size_t hc_registry_size(const struct hc_registry *reg)
{
	return reg ? reg->nentries : 0;
}

struct hc_entry *hc_registry_find(struct hc_registry *reg, uint64_t identity)
{
	struct hc_entry *e;

	if (!reg)
		return NULL;
	/* identities come out of a 64-bit mixer: the low bits will do */
	e = reg->buckets[identity & (reg->nbuckets - 1)];
	while (e && e->identity != identity)
		e = e->next;
	return e;
}

/* Double the buckets when the chains average more than one entry. When
 * that fails the chains just grow longer. */
static void maybe_grow(struct hc_registry *reg)
{
	size_t n = reg->nbuckets * 2;
	struct hc_entry **b;

	if (reg->nentries <= reg->nbuckets || !(b = calloc(n, sizeof(*b))))
		return;
	for (size_t i = 0; i < reg->nbuckets; i++) {
		struct hc_entry *e = reg->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = b[e->identity & (n - 1)];
			b[e->identity & (n - 1)] = e;
		}
	}
	free(reg->buckets);
	reg->buckets = b;
	reg->nbuckets = n;
}

static unsigned threshold_of(const struct hc_config *c)
{
	return c->eject_enabled ? c->eject_consecutive : 0;
}

static struct hc_entry *entry_get(struct hc_registry *reg,
				  const struct rt_target *t)
{
	struct hc_entry *e = hc_registry_find(reg, t->identity);
	size_t b;

	if (e)
		return e;
	if (!(e = hc_entry_new(t->identity, t->service, t->addr)))
		return NULL;
	e->reg = reg;
	e->fresh = 1;
	e->since_ms = reg->now_ms;
	atomic_store_explicit(&e->threshold, threshold_of(&reg->cfg),
			      memory_order_relaxed);
	b = t->identity & (reg->nbuckets - 1);
	e->next = reg->buckets[b];
	reg->buckets[b] = e;
	reg->nentries++;
	maybe_grow(reg);
	return e;
}

int hc_registry_set_config(struct hc_registry *reg, const struct hc_config *c,
			   uint64_t now_ms)
{
	int was_on;

	if (!reg || hc_config_check(c, NULL) < 0)
		return -EINVAL;
	was_on = reg->cfg.eject_enabled;
	reg->cfg = *c;
	reg->now_ms = now_ms;
	for (size_t b = 0; b < reg->nbuckets; b++)
		for (struct hc_entry *e = reg->buckets[b]; e; e = e->next) {
			atomic_store_explicit(&e->threshold, threshold_of(c),
					      memory_order_relaxed);
			if (c->eject_enabled && !was_on) {
				/* failures counted while off start no run */
				atomic_store_explicit(&e->consecutive, 0,
						      memory_order_relaxed);
				atomic_store_explicit(&e->refused, 0,
						      memory_order_relaxed);
			}
			if (c->eject_enabled)
				continue;
			e->refusal_pending = 0;
			e->capped = 0;
			if (e->ejected)
				hc_outlier_release(reg, e, "ejection_disabled");
		}
	return 0;
}

/* Does t count in its route for the cap: can it take traffic there? */
static int member(const struct rt_target *t)
{
	return t->weight > 0 && !t->consul_down;
}

/* Which routes each entry is in, and each route's distinct members and
 * unfit members. Cannot fail: the arrays were sized beforehand (an entry
 * is in at most as many routes as it has targets). */
static void build_membership(struct hc_registry *reg, const struct hc_set *s,
			     const struct rt_table *t)
{
	size_t nr = reg->nroutes, acc = 0;

	for (size_t b = 0; b < reg->nbuckets; b++)
		for (struct hc_entry *e = reg->buckets[b]; e; e = e->next)
			e->nroutes = 0;
	for (size_t i = 0; i < nr; i++) {
		const struct rt_route *r = rt_table_route(t, i);
		uint64_t mark = ++reg->serial;

		for (size_t j = 0; j < r->ntargets; j++) {
			struct hc_entry *e = s->entries[r->targets[j]->index];

			if (!member(r->targets[j]) || e->route_mark == mark)
				continue;
			e->route_mark = mark;
			e->nroutes++;
			reg->routes[i].members++;
		}
	}
	for (size_t b = 0; b < reg->nbuckets; b++)
		for (struct hc_entry *e = reg->buckets[b]; e; e = e->next) {
			e->route_first = (uint32_t)acc;
			acc += e->nroutes;
			e->nroutes = 0;
		}
	reg->nmembers = acc;
	for (size_t i = 0; i < nr; i++) {
		const struct rt_route *r = rt_table_route(t, i);
		uint64_t mark = ++reg->serial;

		for (size_t j = 0; j < r->ntargets; j++) {
			struct hc_entry *e = s->entries[r->targets[j]->index];

			if (!member(r->targets[j]) || e->route_mark == mark)
				continue;
			e->route_mark = mark;
			reg->members[e->route_first + e->nroutes++] = (uint32_t)i;
			if (!e->fit_now)
				reg->routes[i].unfit++;
		}
	}
}

/* The table's word on Consul (hc_state.h): it was built from the same
 * Consul answer, so it decides whether Consul allows each target. */
static void apply_table_down(struct hc_registry *reg, struct hc_entry *e)
{
	char reason[HC_REASON_MAX];

	if (e->table_down && e->consul.verdict == HC_CONSUL_COUNTS) {
		e->consul.verdict = HC_CONSUL_TABLE_DOWN;
		hc_entry_update(reg, e, "consul_down");
	} else if (!e->table_down && e->consul.verdict != HC_CONSUL_COUNTS) {
		e->consul.verdict = HC_CONSUL_COUNTS;
		strcpy(reason, "consul_");
		strcat(reason, hc_consul_status_name(e->consul.status));
		hc_entry_update(reg, e, reason);
	}
}

struct hc_set *hc_registry_sync(struct hc_registry *reg, struct rt_table *t,
				uint64_t now_ms)
{
	size_t n = rt_table_ntargets(t), nr = rt_table_nroutes(t), filled = 0;
	struct hc_route_stat *routes = NULL;
	uint32_t *members = NULL;
	struct hc_set *s = NULL;
	uint64_t mark;
	int err = ENOMEM;

	if (!reg || !t || n > UINT32_MAX || nr > UINT32_MAX) {
		errno = EINVAL;
		return NULL;
	}
	reg->now_ms = now_ms;
	s = calloc(1, sizeof(*s) + n * sizeof(s->entries[0]));
	routes = calloc(nr ? nr : 1, sizeof(*routes));
	members = malloc((n ? n : 1) * sizeof(*members));
	if (!s || !routes || !members)
		goto fail;
	s->n = n;

	/* every target's entry, by its number; nothing known changes yet */
	mark = ++reg->serial;
	for (size_t i = 0; i < nr; i++) {
		const struct rt_route *r = rt_table_route(t, i);

		for (size_t j = 0; j < r->ntargets; j++) {
			const struct rt_target *tg = r->targets[j];
			struct hc_entry *e;

			if (tg->index >= n || s->entries[tg->index]) {
				err = EINVAL;
				goto fail;
			}
			if (!(e = entry_get(reg, tg)))
				goto fail;
			if (e->sync_mark != mark) {
				e->sync_mark = mark;
				e->table_down = 1;
			}
			if (!tg->consul_down)
				e->table_down = 0;
			hc_entry_ref(e);
			s->entries[tg->index] = e;
			filled++;
		}
	}
	if (filled != n) {
		err = EINVAL;
		goto fail;
	}

	/* from here on nothing fails */
	for (size_t b = 0; b < reg->nbuckets; b++) {
		struct hc_entry **pp = &reg->buckets[b];

		while (*pp) {
			struct hc_entry *e = *pp;

			if (e->sync_mark == mark) {
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			reg->nentries--;
			retire(e);
		}
	}
	free(reg->routes);
	free(reg->members);
	reg->routes = routes;
	reg->nroutes = nr;
	reg->members = members;
	build_membership(reg, s, t);
	for (size_t b = 0; b < reg->nbuckets; b++)
		for (struct hc_entry *e = reg->buckets[b]; e; e = e->next) {
			apply_table_down(reg, e);
			e->fresh = 0;
		}

	atomic_init(&s->refs, 1);
	s->table = rt_table_ref(t);
	return s;
fail:
	for (size_t b = 0; b < reg->nbuckets; b++)
		for (struct hc_entry *e = reg->buckets[b]; e; e = e->next)
			e->fresh = 0;
	if (s)
		for (size_t i = 0; i < s->n; i++)
			hc_entry_unref(s->entries[i]);
	free(s);
	free(routes);
	free(members);
	errno = err;
	return NULL;
}
