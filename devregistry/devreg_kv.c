/*
 * devreg_kv.c - the KV store: a key-sorted array of entries, deleted keys
 * kept as tombstones so that prefix indexes never go down (Consul keeps
 * tombstones for the same reason).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devregistry/devreg_store.h"

/* The first position whose key is >= key. */
static size_t
lower_bound(const struct devreg_store *s, const char *key)
{
	size_t lo = 0, hi = s->nkv;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(s->kv[mid]->key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct devreg_kv *
find_any(const struct devreg_store *s, const char *key)
{
	size_t i = lower_bound(s, key);

	if (i < s->nkv && strcmp(s->kv[i]->key, key) == 0)
		return s->kv[i];
	return NULL;
}

struct devreg_kv *
devreg_kv_get(const struct devreg_store *s, const char *key)
{
	struct devreg_kv *e = find_any(s, key);

	return e != NULL && !e->deleted ? e : NULL;
}

size_t
devreg_kv_range(const struct devreg_store *s, const char *prefix, size_t *first)
{
	size_t plen = strlen(prefix), i = lower_bound(s, prefix), j = i;

	while (j < s->nkv && strncmp(s->kv[j]->key, prefix, plen) == 0)
		j++;
	*first = i;
	return j - i;
}

static struct devreg_kv *
insert(struct devreg_store *s, const char *key)
{
	size_t i = lower_bound(s, key);
	struct devreg_kv *e;

	if (s->nkv == s->kvcap) {
		size_t ncap = s->kvcap ? s->kvcap * 2 : 16;
		struct devreg_kv **v = realloc(s->kv, ncap * sizeof(*v));

		if (v == NULL)
			return NULL;
		s->kv = v;
		s->kvcap = ncap;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	e->key = strdup(key);
	if (e->key == NULL) {
		free(e);
		return NULL;
	}
	memmove(&s->kv[i + 1], &s->kv[i], (s->nkv - i) * sizeof(*s->kv));
	s->kv[i] = e;
	s->nkv++;
	return e;
}

static int
same_value(const struct devreg_kv *e, const void *value, size_t len,
	   uint64_t flags)
{
	int has = value != NULL && len > 0;

	if (e->flags != flags || e->has_value != has)
		return 0;
	return !has || (e->len == len && memcmp(e->value, value, len) == 0);
}

int
devreg_kv_put(struct devreg_store *s, const char *key, const void *value,
	      size_t len, uint64_t flags, int has_cas, uint64_t cas)
{
	struct devreg_kv *e = find_any(s, key);
	int live = e != NULL && !e->deleted;
	unsigned char *copy = NULL;
	uint64_t idx;

	if (has_cas) {
		if (cas == 0 && live)
			return 0;
		if (cas != 0 && (!live || e->modify_index != cas))
			return 0;
	}
	/* Consul skips the write of an unchanged entry: no new index. */
	if (live && same_value(e, value, len, flags))
		return 1;
	if (value != NULL && len > 0) {
		copy = malloc(len);
		if (copy == NULL)
			return -ENOMEM;
		memcpy(copy, value, len);
	}
	if (e == NULL) {
		e = insert(s, key);
		if (e == NULL) {
			free(copy);
			return -ENOMEM;
		}
	}
	devreg_store_txn_begin(s);
	idx = devreg_store_txn_index(s);
	if (!live) {
		e->create_index = idx;
		e->lock_index = 0;
		e->deleted = 0;
	}
	free(e->value);
	e->value = copy;
	e->len = copy != NULL ? len : 0;
	e->has_value = copy != NULL;
	e->flags = flags;
	e->modify_index = idx;
	s->kv_index = idx;
	devreg_store_txn_end(s);
	return 1;
}

static void
tombstone(struct devreg_store *s, struct devreg_kv *e)
{
	uint64_t idx = devreg_store_txn_index(s);

	free(e->value);
	e->value = NULL;
	e->len = 0;
	e->has_value = 0;
	e->deleted = 1;
	e->modify_index = idx;
	s->kv_index = idx;
}

int
devreg_kv_delete(struct devreg_store *s, const char *key, int has_cas,
		 uint64_t cas)
{
	struct devreg_kv *e = devreg_kv_get(s, key);

	if (e == NULL)
		return 1;
	if (has_cas && e->modify_index != cas)
		return 0;
	devreg_store_txn_begin(s);
	tombstone(s, e);
	devreg_store_txn_end(s);
	return 1;
}

size_t
devreg_kv_delete_tree(struct devreg_store *s, const char *prefix)
{
	size_t first, n = devreg_kv_range(s, prefix, &first), count = 0;

	devreg_store_txn_begin(s);
	for (size_t i = first; i < first + n; i++) {
		if (!s->kv[i]->deleted) {
			tombstone(s, s->kv[i]);
			count++;
		}
	}
	devreg_store_txn_end(s);
	return count;
}

uint64_t
devreg_kv_key_index(const struct devreg_store *s, const char *key)
{
	struct devreg_kv *e = devreg_kv_get(s, key);

	if (e != NULL)
		return e->modify_index;
	return s->kv_index > 0 ? s->kv_index : 1;
}

uint64_t
devreg_kv_prefix_index(const struct devreg_store *s, const char *prefix)
{
	size_t first, n;
	uint64_t idx = 0;

	if (*prefix == '\0')
		return s->kv_index > 0 ? s->kv_index : 1;
	n = devreg_kv_range(s, prefix, &first);
	for (size_t i = first; i < first + n; i++)
		if (s->kv[i]->modify_index > idx)
			idx = s->kv[i]->modify_index;
	if (idx == 0)
		idx = s->kv_index;
	return idx > 0 ? idx : 1;
}

int
devreg_kv_keys(const struct devreg_store *s, const char *prefix, const char *sep,
	       char ***out, size_t *count)
{
	size_t plen = strlen(prefix), first, n = devreg_kv_range(s, prefix, &first);
	size_t slen = sep != NULL ? strlen(sep) : 0, k = 0;
	char **v = calloc(n + 1, sizeof(*v));

	*out = NULL;
	*count = 0;
	if (v == NULL)
		return -ENOMEM;
	for (size_t i = first; i < first + n; i++) {
		const struct devreg_kv *e = s->kv[i];
		size_t klen = strlen(e->key);

		if (e->deleted)
			continue;
		if (slen > 0) {
			const char *hit = strstr(e->key + plen, sep);

			if (hit != NULL)
				klen = (size_t)(hit - e->key) + slen;
		}
		/* Keys are sorted, so a cut key repeats right after itself. */
		if (k > 0 && strlen(v[k - 1]) == klen && strncmp(v[k - 1], e->key, klen) == 0)
			continue;
		v[k] = strndup(e->key, klen);
		if (v[k] == NULL) {
			for (size_t j = 0; j < k; j++)
				free(v[j]);
			free(v);
			return -ENOMEM;
		}
		k++;
	}
	*out = v;
	*count = k;
	return 0;
}
