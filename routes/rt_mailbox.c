/*
 * rt_mailbox.c - handing a new table to one reader without a lock: one
 * atomic pointer that the writer swaps a table into and the reader swaps
 * NULL into. Exchange on both sides means a table is owned by exactly one
 * party at every moment, so no reference is lost or taken twice.
 */
#include "routes/rt_table_internal.h"

void rt_mailbox_init(struct rt_mailbox *m)
{
	atomic_init(&m->next, NULL);
}

void rt_mailbox_post(struct rt_mailbox *m, struct rt_table *t)
{
	/* release: t's contents reach whoever takes it; acquire: so do
	 * those of a table posted earlier that we replace and drop here */
	struct rt_table *old = atomic_exchange_explicit(&m->next, t,
							memory_order_acq_rel);

	rt_table_unref(old);
}

struct rt_table *rt_mailbox_take(struct rt_mailbox *m)
{
	return atomic_exchange_explicit(&m->next, NULL, memory_order_acq_rel);
}

void rt_mailbox_clear(struct rt_mailbox *m)
{
	rt_table_unref(rt_mailbox_take(m));
}
