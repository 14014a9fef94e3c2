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

struct lb_buf {
	char *p;
	size_t len, cap;
	int oom;
};

/* Append n bytes of s. */
void lb_buf_add(struct lb_buf *b, const void *s, size_t n);
/* Append the NUL-terminated s. */
void lb_buf_adds(struct lb_buf *b, const char *s);
/* Append v in decimal. */
void lb_buf_addu(struct lb_buf *b, uint64_t v);
/* Empty it (keeps the memory) and clear oom. */
void lb_buf_reset(struct lb_buf *b);
/* Free the memory; the buffer is empty and usable again. NULL-safe. */
void lb_buf_free(struct lb_buf *b);

#endif
