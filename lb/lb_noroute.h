/*
 * lb_noroute.h - the no-route page (fabio's registry.consul.noroutehtmlpath):
 * immutable bytes shared by reference count, handed to worker threads
 * through one lock-free box per worker, the way tables are handed over
 * through an rt_mailbox.
 */
#ifndef LB_NOROUTE_H
#define LB_NOROUTE_H

#include <stdatomic.h>
#include <stddef.h>

struct lb_noroute;

/* A page holding a copy of len bytes (0 is the empty page: "send no
 * body"), with one reference. NULL when out of memory. */
struct lb_noroute *lb_noroute_new(const void *body, size_t len);
/* ref returns its argument; unref(NULL) is a no-op; the last unref frees.
 * Take a reference only on a page you already hold one to. */
struct lb_noroute *lb_noroute_ref(struct lb_noroute *p);
void lb_noroute_unref(struct lb_noroute *p);
/* The bytes (NUL-terminated, not counted) and their count; they live as
 * long as the reference. */
const char *lb_noroute_body(const struct lb_noroute *p);
size_t lb_noroute_len(const struct lb_noroute *p);

/*
 * One reader's box. post gives the box one reference and drops a page
 * still unread; take returns the newest page (the reader then owns that
 * reference) or NULL when nothing new came.
 */
struct lb_noroute_box {
	_Atomic(struct lb_noroute *) next;
};
void lb_noroute_box_init(struct lb_noroute_box *b);
void lb_noroute_box_post(struct lb_noroute_box *b, struct lb_noroute *p);
struct lb_noroute *lb_noroute_box_take(struct lb_noroute_box *b);
void lb_noroute_box_clear(struct lb_noroute_box *b);

#endif
