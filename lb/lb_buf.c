/*
 * lb_buf.c - growable byte buffer with sticky allocation failure.
 */
#include <stdlib.h>
#include <string.h>

#include "lb/lb_buf.h"

int
lb_buf_grow(struct lb_buf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : 256;
	char *p;

	if (b->oom)
		return -1;
	while (cap - b->len < need) {
		if (cap > SIZE_MAX / 2) {
			b->oom = 1;
			return -1;
		}
		cap *= 2;
	}
	p = realloc(b->p, cap);
	if (p == NULL) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void
lb_buf_addu(struct lb_buf *b, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	lb_buf_add(b, tmp + i, sizeof(tmp) - i);
}

void
lb_buf_reset(struct lb_buf *b)
{
	b->len = 0;
	b->oom = 0;
}

void
lb_buf_free(struct lb_buf *b)
{
	if (b == NULL)
		return;
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->oom = 0;
}
