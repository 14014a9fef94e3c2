/*
 * rt_pathindex.c - finding a group's route for a request path without
 * walking the routes.
 *
 * Each route has a key: its path (prefix), its path in lower case
 * (iprefix) or the literal head of its pattern (glob). A route can only
 * match a request whose path starts with its key, so a lookup hashes the
 * request path's prefixes at the lengths that keys of this group have
 * (one FNV-1a pass gives all of them) and probes one open-addressed table
 * of (group, key) buckets per length, after a Bloom filter small enough
 * to stay in cache has said the key may be there. Routes are numbered in lookup order (each group's sorted reverse
 * lexically), and the answer is the lowest-numbered route that matches:
 * for prefix matching that is the longest key, so the probes run from
 * the longest length down and stop at the first hit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "routes/rt_table_internal.h"

/* More distinct key lengths in one group than this and the lookup probes
 * upwards, keeping the last hit, instead of storing the hashes first. */
#define MAX_STACK_LENS 64

static uint64_t bucket_hash(uint64_t fnv, uint32_t group)
{
	return rt_slot_hash(rt_mix64(fnv ^ ((uint64_t)group *
					    UINT64_C(0x9e3779b97f4a7c15))));
}

int rt_path_key_eq(const char *key, const char *path, size_t len, int fold)
{
	if (!fold)
		return memcmp(key, path, len) == 0;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)key[i] != rt_lower((unsigned char)path[i]))
			return 0;
	}
	return 1;
}

static const char *bucket_key(const struct rt_bucket *b)
{
	return b->key_len <= RT_PATH_INLINE ? b->inl : b->key;
}

/* The bucket of (group, path[0..len)) whose hash is h, or the empty slot
 * where it would go (hash 0). */
static const struct rt_bucket *find(const struct rt_path_index *pi,
				    uint64_t h, uint32_t group,
				    const char *path, uint32_t len, int fold)
{
	for (uint64_t s = h & pi->mask;; s = (s + 1) & pi->mask) {
		const struct rt_bucket *b = &pi->slots[s];

		if (!b->hash ||
		    (b->hash == h && b->group == group && b->key_len == len &&
		     rt_path_key_eq(bucket_key(b), path, len, fold)))
			return b;
	}
}

static void bloom_add(struct rt_path_index *pi, uint64_t h)
{
	uint64_t b1 = (h >> 32) & pi->bloom_mask, b2 = (h >> 11) & pi->bloom_mask;

	pi->bloom[b1 >> 6] |= UINT64_C(1) << (b1 & 63);
	pi->bloom[b2 >> 6] |= UINT64_C(1) << (b2 & 63);
}

static int bloom_has(const struct rt_path_index *pi, uint64_t h)
{
	uint64_t b1 = (h >> 32) & pi->bloom_mask, b2 = (h >> 11) & pi->bloom_mask;

	return (pi->bloom[b1 >> 6] >> (b1 & 63)) & (pi->bloom[b2 >> 6] >> (b2 & 63)) & 1;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The key of route r: see the top of the file. */
static int route_key(struct rt_table *t, uint32_t r, const char **key,
		     uint32_t *len)
{
	const char *p = t->routes[r].path;
	size_t n = strlen(p);

	switch (t->matcher) {
	case RT_MATCH_IPREFIX: {
		char *low = rt_arena_strndup(&t->arena, p, n);

		if (!low)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++)
			low[i] = (char)rt_lower((unsigned char)low[i]);
		*key = low;
		break;
	}
	case RT_MATCH_GLOB:
		*key = p;
		n = rt_glob_literal_prefix(p, n);
		break;
	default:
		*key = p;
		break;
	}
	*len = (uint32_t)n;
	return 0;
}

/* The distinct key lengths of group g, ascending. */
static int group_lens(struct rt_table *t, struct rt_group *g, uint32_t *tmp,
		      const uint32_t *key_len)
{
	uint32_t n = 0, *lens;

	for (uint32_t i = 0; i < g->nroutes; i++)
		tmp[i] = key_len[g->first_route + i];
	if (g->nroutes > 1)
		qsort(tmp, g->nroutes, sizeof(*tmp), cmp_u32);
	for (uint32_t i = 0; i < g->nroutes; i++) {
		if (n == 0 || tmp[n - 1] != tmp[i])
			tmp[n++] = tmp[i];
	}
	if (n <= RT_GROUP_LENS) {
		lens = g->lens_inline;
	} else {
		lens = rt_arena_alloc(&t->arena, n * sizeof(*lens), 4);
		if (!lens)
			return -ENOMEM;
	}
	memcpy(lens, tmp, n * sizeof(*lens));
	g->lens = lens;
	g->nlens = n;
	return 0;
}

int rt_path_index_build(struct rt_table *t, struct rt_arena *tmp)
{
	struct rt_path_index *pi = &t->paths;
	const char **key;
	uint32_t *key_len, *lens, *bucket_of, *fill;
	uint64_t cap = 4, bits = 512, *hash;
	uint32_t nr = (uint32_t)t->nroutes, g;

	memset(pi, 0, sizeof(*pi));
	if (nr == 0)
		return 0;
	key = rt_arena_alloc_uninit(tmp, nr * sizeof(*key), 8);
	key_len = rt_arena_alloc_uninit(tmp, nr * sizeof(*key_len), 4);
	lens = rt_arena_alloc_uninit(tmp, nr * sizeof(*lens), 4);
	bucket_of = rt_arena_alloc_uninit(tmp, nr * sizeof(*bucket_of), 4);
	hash = rt_arena_alloc_uninit(tmp, nr * sizeof(*hash), 8);
	if (!key || !key_len || !lens || !bucket_of || !hash)
		return -ENOMEM;
	/* three quarters full at most: probes stay short, and the Bloom
	 * filter keeps lookups of absent keys out of the table */
	while (cap * 3 < 4 * (uint64_t)nr)
		cap *= 2;
	while (bits < 16 * (uint64_t)nr)
		bits *= 2;
	pi->slots = rt_arena_alloc(&t->arena, cap * sizeof(*pi->slots),
				   RT_CACHE_LINE);
	pi->bloom = rt_arena_alloc(&t->arena, bits / 8, RT_CACHE_LINE);
	if (!pi->slots || !pi->bloom)
		return -ENOMEM;
	pi->mask = cap - 1;
	pi->bloom_mask = bits - 1;

	/* The keys and their hashes first (the paths, interned while the
	 * commands were applied, lie all over the arena: fetched ahead),
	 * then the buckets, each fetched a few routes before it is filled. */
	for (g = 0; g < t->ngroups; g++) {
		struct rt_group *gr = &t->groups[g];

		for (uint32_t r = gr->first_route;
		     r < gr->first_route + gr->nroutes; r++) {
			uint64_t h = RT_FNV_OFFSET;

			if (r + 8 < nr)
				__builtin_prefetch(t->routes[r + 8].path);
			if (route_key(t, r, &key[r], &key_len[r]) < 0)
				return -ENOMEM;
			for (uint32_t i = 0; i < key_len[r]; i++)
				h = rt_fnv_step(h, (unsigned char)key[r][i]);
			hash[r] = bucket_hash(h, g);
		}
		if (group_lens(t, gr, lens, key_len) < 0)
			return -ENOMEM;
	}
	/* Routes go in ascending order, so a bucket's first route is its
	 * best one and its list comes out sorted. */
	g = 0;
	for (uint32_t r = 0; r < nr; r++) {
		uint64_t h = hash[r];
		struct rt_bucket *b;

		while (r >= t->groups[g].first_route + t->groups[g].nroutes)
			g++;
		if (r + 8 < nr)
			__builtin_prefetch(&pi->slots[hash[r + 8] & pi->mask]);
		b = (struct rt_bucket *)find(pi, h, g, key[r], key_len[r], 0);
		if (!b->hash) {
			b->hash = h;
			b->key = key[r];
			b->key_len = key_len[r];
			b->group = g;
			b->route = r;
			if (key_len[r] <= RT_PATH_INLINE)
				memcpy(b->inl, key[r], key_len[r]);
			bloom_add(pi, h);
			pi->nbuckets++;
		}
		b->nmore++;
		bucket_of[r] = (uint32_t)(b - pi->slots);
	}

	if (t->matcher == RT_MATCH_GLOB) {
		uint32_t off = 0;

		pi->more = rt_arena_alloc(&t->arena, nr * sizeof(*pi->more), 4);
		fill = rt_arena_alloc(tmp, cap * sizeof(*fill), 4);
		if (!pi->more || !fill)
			return -ENOMEM;
		for (uint64_t s = 0; s < cap; s++) {
			if (pi->slots[s].hash) {
				pi->slots[s].more = off;
				off += pi->slots[s].nmore;
			}
		}
		for (uint32_t r = 0; r < nr; r++) {
			struct rt_bucket *b = &pi->slots[bucket_of[r]];

			pi->more[b->more + fill[bucket_of[r]]++] = r;
		}
	}
	return 0;
}

/* Glob: every key that heads the path gives candidates; the lowest
 * numbered one whose pattern matches wins. */
static const struct rt_route *match_glob(const struct rt_table *t, uint32_t g,
					 const char *path, size_t len)
{
	const struct rt_group *gr = &t->groups[g];
	const struct rt_path_index *pi = &t->paths;
	uint32_t best = UINT32_MAX, i = 0;
	uint64_t h = RT_FNV_OFFSET;

	for (uint32_t j = 0; j < gr->nlens && gr->lens[j] <= len; j++) {
		const struct rt_bucket *b;

		uint64_t bh;

		for (; i < gr->lens[j]; i++)
			h = rt_fnv_step(h, (unsigned char)path[i]);
		bh = bucket_hash(h, g);
		if (!bloom_has(pi, bh))
			continue;
		b = find(pi, bh, g, path, gr->lens[j], 0);
		for (uint32_t k = 0; b->hash && k < b->nmore; k++) {
			uint32_t r = pi->more[b->more + k];

			if (r >= best)
				break;
			if (rt_glob_match(&t->route_globs[r], path, len)) {
				best = r;
				break;
			}
		}
	}
	return best == UINT32_MAX ? NULL : &t->routes[best];
}

static inline uint64_t step(uint64_t h, const char *path, uint32_t i, int fold)
{
	unsigned char c = (unsigned char)path[i];

	return rt_fnv_step(h, fold ? rt_lower(c) : c);
}

const struct rt_route *rt_path_match(const struct rt_table *t, uint32_t g,
				     const char *path, size_t len)
{
	const struct rt_group *gr = &t->groups[g];
	const struct rt_path_index *pi = &t->paths;
	int fold = t->matcher == RT_MATCH_IPREFIX;
	uint64_t hs[MAX_STACK_LENS], h = RT_FNV_OFFSET;
	const struct rt_bucket *b, *last = NULL;
	uint32_t i = 0, j;

	if (t->matcher == RT_MATCH_GLOB)
		return match_glob(t, g, path, len);
	if (gr->nlens > MAX_STACK_LENS) {
		for (j = 0; j < gr->nlens && gr->lens[j] <= len; j++) {
			uint64_t bh;

			for (; i < gr->lens[j]; i++)
				h = step(h, path, i, fold);
			bh = bucket_hash(h, g);
			if (!bloom_has(pi, bh))
				continue;
			b = find(pi, bh, g, path, gr->lens[j], fold);
			if (b->hash)
				last = b;
		}
		return last ? &t->routes[last->route] : NULL;
	}
	for (j = 0; j < gr->nlens && gr->lens[j] <= len; j++) {
		for (; i < gr->lens[j]; i++)
			h = step(h, path, i, fold);
		hs[j] = bucket_hash(h, g);
	}
	while (j-- > 0) {
		if (!bloom_has(pi, hs[j]))
			continue;
		b = find(pi, hs[j], g, path, gr->lens[j], fold);
		if (b->hash)
			return &t->routes[b->route];
	}
	return NULL;
}
