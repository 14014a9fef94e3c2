/*
 * lb_overrides.c - KV entries into one route text with a line map.
 */
#include "lb/lb_overrides.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct buf {
	char *s;
	size_t len, cap;
};

static int put(struct buf *b, const void *p, size_t n)
{
	if (b->cap - b->len < n + 1) {
		size_t cap = b->cap ? b->cap : 256;
		char *s;

		while (cap - b->len < n + 1) {
			if (cap > SIZE_MAX / 2)
				return -ENOMEM;
			cap *= 2;
		}
		s = realloc(b->s, cap);
		if (!s)
			return -ENOMEM;
		b->s = s;
		b->cap = cap;
	}
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

static unsigned count_lines(const unsigned char *p, size_t n)
{
	unsigned lines = 0;

	for (size_t i = 0; i < n; i++)
		if (p[i] == '\n')
			lines++;
	return lines;
}

/* A key as it may appear in a comment line: a newline in a key must not
 * turn the rest of it into route text. */
static char *printable(const char *key)
{
	char *s = strdup(key);

	if (!s)
		return NULL;
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < ' ' || (unsigned char)*p == 0x7f)
			*p = '?';
	return s;
}

int lb_overrides_build(const struct consul_kv_list *kv,
		       struct lb_overrides *out)
{
	struct buf b = { 0 };
	unsigned line = 1;   /* the line the next byte starts on */

	memset(out, 0, sizeof(*out));
	if (!kv || kv->n == 0)
		return 0;
	out->keys = calloc(kv->n, sizeof(*out->keys));
	if (!out->keys)
		goto fail;
	for (size_t i = 0; i < kv->n; i++) {
		const struct consul_kv_entry *e = &kv->v[i];
		struct lb_override_key *k = &out->keys[out->nkeys];

		k->key = printable(e->key);
		if (!k->key)
			goto fail;
		out->nkeys++;
		if ((i > 0 && put(&b, "\n", 1) < 0) ||
		    put(&b, "# --- ", 6) < 0 ||
		    put(&b, k->key, strlen(k->key)) < 0 ||
		    put(&b, "\n", 1) < 0)
			goto fail;
		line += (i > 0) + 1;
		k->first_line = line;
		if (e->value && e->value_len) {
			if (put(&b, e->value, e->value_len) < 0)
				goto fail;
			line += count_lines(e->value, e->value_len);
			if (e->value[e->value_len - 1] != '\n') {
				if (put(&b, "\n", 1) < 0)
					goto fail;
				line++;
			}
		}
	}
	out->text = b.s;
	out->len = b.len;
	return 0;
fail:
	free(b.s);
	lb_overrides_clear(out);
	return -ENOMEM;
}

void lb_overrides_clear(struct lb_overrides *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->nkeys; i++)
		free(o->keys[i].key);
	free(o->keys);
	free(o->text);
	memset(o, 0, sizeof(*o));
}

const char *lb_overrides_where(const struct lb_overrides *o, unsigned line,
			       unsigned *key_line)
{
	size_t lo = 0, hi;

	if (!o || line == 0 || o->nkeys == 0 || line < o->keys[0].first_line)
		return NULL;
	/* the last key whose value starts at or before line */
	hi = o->nkeys;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (o->keys[mid].first_line <= line)
			lo = mid;
		else
			hi = mid;
	}
	if (key_line)
		*key_line = line - o->keys[lo].first_line + 1;
	return o->keys[lo].key;
}
