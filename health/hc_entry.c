/*
 * hc_entry.c - what worker threads do with health state: read the fit
 * flag and the weight, report outcomes, hold sets and take them from a
 * mailbox. Everything here is lock-free; entries and sets are reference
 * counted so that the last holder, on whatever thread, frees them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "health/hc_internal.h"

struct hc_entry *hc_entry_new(uint64_t identity, const char *service,
			      const char *addr)
{
	/* the cache-line alignment of the struct needs an aligned block */
	size_t size = (sizeof(struct hc_entry) + HC_CACHE_LINE - 1) /
		      HC_CACHE_LINE * HC_CACHE_LINE;
	struct hc_entry *e = aligned_alloc(HC_CACHE_LINE, size);

	if (!e)
		return NULL;
	memset(e, 0, size);
	e->service = strdup(service ? service : "");
	e->addr = strdup(addr ? addr : "");
	if (!e->service || !e->addr) {
		free(e->service);
		free(e->addr);
		free(e);
		return NULL;
	}
	e->identity = identity;
	atomic_init(&e->fit, 1);
	atomic_init(&e->weight, 1);
	atomic_init(&e->threshold, 0);
	atomic_init(&e->back_ms, 0);
	atomic_init(&e->consecutive, 0);
	atomic_init(&e->refused, 0);
	atomic_init(&e->attention, 0);
	atomic_init(&e->n_ok, 0);
	atomic_init(&e->n_5xx, 0);
	atomic_init(&e->n_connect_failed, 0);
	atomic_init(&e->n_connect_refused, 0);
	atomic_init(&e->refs, 1);
	e->state = HC_UP;
	e->fit_now = 1;
	strcpy(e->reason, "new");
	e->consul.status = HC_CONSUL_PASSING;
	e->consul.verdict = HC_CONSUL_COUNTS;
	e->consul.weight_passing = 1;
	e->consul.weight_warning = 1;
	return e;
}

void hc_entry_ref(struct hc_entry *e)
{
	atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
}

void hc_entry_unref(struct hc_entry *e)
{
	if (!e)
		return;
	/* acq_rel: the control thread's last writes happen before the free,
	 * whichever thread drops the last reference */
	if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) != 1)
		return;
	free(e->service);
	free(e->addr);
	free(e);
}

int hc_entry_fit(const struct hc_entry *e)
{
	return e ? atomic_load_explicit(&e->fit, memory_order_relaxed) : 1;
}

unsigned hc_entry_weight(const struct hc_entry *e)
{
	return e ? atomic_load_explicit(&e->weight, memory_order_relaxed) : 1;
}

uint64_t hc_entry_back_ms(const struct hc_entry *e)
{
	return e ? atomic_load_explicit(&e->back_ms, memory_order_relaxed) : 0;
}

/* Ask for a tick once: the flag stays set until the tick clears it, so a
 * storm of failures wakes the control thread once per entry per tick. */
static int want_tick(struct hc_entry *e)
{
	if (atomic_load_explicit(&e->attention, memory_order_relaxed))
		return 0;
	return atomic_exchange_explicit(&e->attention, 1,
					memory_order_relaxed) == 0;
}

int hc_entry_report(struct hc_entry *e, enum hc_outcome o)
{
	unsigned threshold, n;

	if (!e)
		return 0;
	switch (o) {
	case HC_OUTCOME_OK:
		atomic_fetch_add_explicit(&e->n_ok, 1, memory_order_relaxed);
		/* load first: a healthy target's line is then only read */
		if (atomic_load_explicit(&e->consecutive, memory_order_relaxed))
			atomic_store_explicit(&e->consecutive, 0,
					      memory_order_relaxed);
		return 0;
	case HC_OUTCOME_5XX:
		atomic_fetch_add_explicit(&e->n_5xx, 1, memory_order_relaxed);
		break;
	case HC_OUTCOME_CONNECT_FAILED:
		atomic_fetch_add_explicit(&e->n_connect_failed, 1,
					  memory_order_relaxed);
		break;
	case HC_OUTCOME_CONNECT_REFUSED:
		atomic_fetch_add_explicit(&e->n_connect_refused, 1,
					  memory_order_relaxed);
		break;
	default:
		return 0;
	}
	n = atomic_fetch_add_explicit(&e->consecutive, 1,
				      memory_order_relaxed) + 1;
	/* after the failure count, with release: a tick that takes the
	 * refusal (acquire) also sees the failure it added, so it can tell
	 * "no success since" from "not counted yet" */
	if (o == HC_OUTCOME_CONNECT_REFUSED)
		atomic_fetch_add_explicit(&e->refused, 1, memory_order_release);
	threshold = atomic_load_explicit(&e->threshold, memory_order_relaxed);
	/* an unfit target's failures come from requests sent before it went
	 * out: the tick will drop them, no need to hurry it */
	if (threshold == 0 ||
	    !atomic_load_explicit(&e->fit, memory_order_relaxed))
		return 0;
	if (o == HC_OUTCOME_CONNECT_REFUSED || n >= threshold)
		return want_tick(e);
	return 0;
}

/* ---- sets --------------------------------------------------------------- */

struct hc_set *hc_set_ref(struct hc_set *s)
{
	if (s)
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

void hc_set_unref(struct hc_set *s)
{
	if (!s || atomic_fetch_sub_explicit(&s->refs, 1,
					    memory_order_acq_rel) != 1)
		return;
	for (size_t i = 0; i < s->n; i++)
		hc_entry_unref(s->entries[i]);
	rt_table_unref(s->table);
	free(s);
}

struct rt_table *hc_set_table(const struct hc_set *s)
{
	return s ? s->table : NULL;
}

struct hc_entry *hc_set_entry(const struct hc_set *s, size_t index)
{
	return s && index < s->n ? s->entries[index] : NULL;
}

int hc_set_healthy(const struct rt_target *t, void *arg)
{
	const struct hc_set *s = arg;
	const struct hc_entry *e;

	if (!t || !s || t->index >= s->n)
		return 1;
	e = s->entries[t->index];
	/* the weight shares the fit flag's cache line: no second miss */
	return atomic_load_explicit(&e->fit, memory_order_relaxed) &&
	       atomic_load_explicit(&e->weight, memory_order_relaxed) > 0;
}

/* ---- mailboxes ---------------------------------------------------------- */

void hc_mailbox_init(struct hc_mailbox *m)
{
	atomic_init(&m->next, NULL);
}

void hc_mailbox_post(struct hc_mailbox *m, struct hc_set *s)
{
	/* release: the set's contents reach whoever takes it; acquire: so
	 * do those of an unread set we replace and drop here */
	hc_set_unref(atomic_exchange_explicit(&m->next, s,
					      memory_order_acq_rel));
}

struct hc_set *hc_mailbox_take(struct hc_mailbox *m)
{
	return atomic_exchange_explicit(&m->next, NULL, memory_order_acq_rel);
}

void hc_mailbox_clear(struct hc_mailbox *m)
{
	hc_set_unref(hc_mailbox_take(m));
}
