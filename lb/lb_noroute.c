/*
 * lb_noroute.c - refcounted page bytes and their per-reader box. The box
 * is a single atomic pointer exchanged by both sides, so a page is owned
 * by exactly one party at every moment and no reader ever loads a shared
 * pointer and then increments its count.
 */
#include "lb/lb_noroute.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct lb_noroute {
	atomic_size_t refs;
	size_t len;
	char body[];
};

struct lb_noroute *lb_noroute_new(const void *body, size_t len)
{
	struct lb_noroute *p;

	if (len > SIZE_MAX - sizeof(*p) - 1)
		return NULL;
	p = malloc(sizeof(*p) + len + 1);
	if (!p)
		return NULL;
	atomic_init(&p->refs, 1);
	p->len = len;
	if (len)
		memcpy(p->body, body, len);
	p->body[len] = '\0';
	return p;
}

struct lb_noroute *lb_noroute_ref(struct lb_noroute *p)
{
	if (p)
		atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
	return p;
}

void lb_noroute_unref(struct lb_noroute *p)
{
	if (p && atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1)
		free(p);
}

const char *lb_noroute_body(const struct lb_noroute *p)
{
	return p ? p->body : "";
}

size_t lb_noroute_len(const struct lb_noroute *p)
{
	return p ? p->len : 0;
}

void lb_noroute_box_init(struct lb_noroute_box *b)
{
	atomic_init(&b->next, NULL);
}

void lb_noroute_box_post(struct lb_noroute_box *b, struct lb_noroute *p)
{
	lb_noroute_unref(atomic_exchange_explicit(&b->next, p,
						  memory_order_acq_rel));
}

struct lb_noroute *lb_noroute_box_take(struct lb_noroute_box *b)
{
	return atomic_exchange_explicit(&b->next, NULL, memory_order_acq_rel);
}

void lb_noroute_box_clear(struct lb_noroute_box *b)
{
	lb_noroute_unref(lb_noroute_box_take(b));
}
