/*
 * lb_buf.h - a growable byte buffer for building message heads. It keeps
 * its memory between uses (reset, not free), so the hot path allocates
 * only while a head is larger than any before it. An allocation failure
 * is sticky: later appends do nothing and oom stays set, so a caller
 * checks once at the end.
 */
#ifndef LB_BUF_H
#define LB_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct lb_buf {
	char *p;
	size_t len, cap;
	int oom;
};

/* Make room for n more bytes; 0, or -1 (oom set). */
int lb_buf_grow(struct lb_buf *b, size_t n);

/* Append n bytes of s (inline: a head is built from many small pieces). */
static inline void
lb_buf_add(struct lb_buf *b, const void *s, size_t n)
{
	if (b->cap - b->len < n && lb_buf_grow(b, n) < 0)
		return;
	if (b->oom)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/* Append the NUL-terminated s. */
static inline void
lb_buf_adds(struct lb_buf *b, const char *s)
{
	lb_buf_add(b, s, strlen(s));
}

/* Append v in decimal. */
void lb_buf_addu(struct lb_buf *b, uint64_t v);
/* Empty it (keeps the memory) and clear oom. */
void lb_buf_reset(struct lb_buf *b);
/* Free the memory; the buffer is empty and usable again. NULL-safe. */
void lb_buf_free(struct lb_buf *b);

#endif
