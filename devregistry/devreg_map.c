/*
 * devreg_map.c - open addressing with linear probing and backward-shift
 * deletion, so there are no tombstones and lookups stay short after many
 * deregistrations.
 */
#include "devregistry/devreg_map.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct slot {
	const char *key;   /* NULL: empty */
	uint64_t hash;
	void *value;
};

struct devreg_map {
	struct slot *slots;
	size_t cap;        /* a power of two */
	size_t count;
};

uint64_t
devreg_fnv1a(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

static uint64_t
key_hash(const char *key)
{
	return devreg_fnv1a(DEVREG_FNV_OFFSET, key, strlen(key));
}

struct devreg_map *
devreg_map_new(void)
{
	struct devreg_map *m = calloc(1, sizeof(*m));

	if (m == NULL)
		goto fail;
	m->cap = 16;
	m->slots = calloc(m->cap, sizeof(*m->slots));
	if (m->slots == NULL)
		goto fail;
	return m;
fail:
	devreg_map_free(m);
	return NULL;
}

void
devreg_map_free(struct devreg_map *m)
{
	if (m == NULL)
		return;
	free(m->slots);
	free(m);
}

size_t
devreg_map_count(const struct devreg_map *m)
{
	return m->count;
}

static struct slot *
find(const struct devreg_map *m, const char *key, uint64_t h)
{
	size_t mask = m->cap - 1;

	for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
		struct slot *s = &m->slots[i];

		if (s->key == NULL)
			return s;
		if (s->hash == h && strcmp(s->key, key) == 0)
			return s;
	}
}

static int
grow(struct devreg_map *m)
{
	size_t ncap = m->cap * 2;
	struct slot *old = m->slots, *nslots = calloc(ncap, sizeof(*nslots));

	if (nslots == NULL)
		return -ENOMEM;
	m->slots = nslots;
	for (size_t i = 0; i < m->cap; i++) {
		if (old[i].key != NULL) {
			size_t j = (size_t)old[i].hash & (ncap - 1);

			while (nslots[j].key != NULL)
				j = (j + 1) & (ncap - 1);
			nslots[j] = old[i];
		}
	}
	m->cap = ncap;
	free(old);
	return 0;
}

void *
devreg_map_get(const struct devreg_map *m, const char *key)
{
	struct slot *s = find(m, key, key_hash(key));

	return s->key != NULL ? s->value : NULL;
}

int
devreg_map_put(struct devreg_map *m, const char *key, void *value)
{
	uint64_t h = key_hash(key);
	struct slot *s = find(m, key, h);

	if (s->key != NULL) {
		s->key = key;
		s->value = value;
		return 0;
	}
	if ((m->count + 1) * 10 > m->cap * 7) {
		if (grow(m) < 0)
			return -ENOMEM;
		s = find(m, key, h);
	}
	s->key = key;
	s->hash = h;
	s->value = value;
	m->count++;
	return 0;
}

void *
devreg_map_del(struct devreg_map *m, const char *key)
{
	size_t mask = m->cap - 1;
	struct slot *s = find(m, key, key_hash(key));
	void *value;
	size_t i, j;

	if (s->key == NULL)
		return NULL;
	value = s->value;
	i = (size_t)(s - m->slots);
	/* Shift later members of the probe run back into the hole. */
	for (j = (i + 1) & mask; m->slots[j].key != NULL; j = (j + 1) & mask) {
		size_t home = (size_t)m->slots[j].hash & mask;

		/* Move j to i unless its home lies cyclically in (i, j]. */
		if ((j > i && (home <= i || home > j)) ||
		    (j < i && (home <= i && home > j))) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i].key = NULL;
	m->slots[i].value = NULL;
	m->count--;
	return value;
}
