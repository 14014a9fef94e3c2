/*
 * rt_arena.c - the memory a route table lives in (a few large blocks,
 * freed together) and the string interning the build uses to store each
 * distinct string once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "routes/rt_table_internal.h"

/* Big enough that a 30,000-target table needs a few hundred blocks,
 * small enough that an empty table stays small. */
#define BLOCK_SIZE (64 * 1024)

struct rt_arena_block {
	struct rt_arena_block *next;
	size_t size;
	size_t used;
	_Alignas(16) unsigned char data[];
};

/* Eight bytes at a time: hosts are hashed on every request. */
uint64_t rt_hash_bytes(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = RT_FNV_OFFSET ^ ((uint64_t)n * UINT64_C(0x9e3779b97f4a7c15));
	uint64_t w;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * UINT64_C(0xff51afd7ed558ccd);
		h ^= h >> 32;
	}
	w = 0;
	for (size_t i = 0; i < n; i++)
		w |= (uint64_t)s[i] << (8 * i);
	h = (h ^ w) * UINT64_C(0xff51afd7ed558ccd);
	return rt_mix64(h);
}

static struct rt_arena_block *block_new(size_t size)
{
	struct rt_arena_block *b;

	if (size > SIZE_MAX - sizeof(*b))
		return NULL;
	b = malloc(sizeof(*b) + size);
	if (!b)
		return NULL;
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

/* The first address at or after p aligned to align (a power of two). */
static unsigned char *align_up(unsigned char *p, size_t align)
{
	uintptr_t a = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);

	return (unsigned char *)a;
}

static void *take(struct rt_arena *a, size_t size, size_t align)
{
	struct rt_arena_block *b = a->head;
	unsigned char *p;

	if (size == 0)
		size = 1;
	if (size > SIZE_MAX - 2 * align)
		return NULL;
	if (b) {
		p = align_up(b->data + b->used, align);
		if (p <= b->data + b->size &&
		    size <= (size_t)(b->data + b->size - p)) {
			b->used = (size_t)(p - b->data) + size;
			return p;
		}
	}
	if (size + align > BLOCK_SIZE / 4) {
		/* A large array gets a block of its own, kept behind the
		 * current one so that the current one's free space is not
		 * wasted. */
		struct rt_arena_block *big = block_new(size + align);

		if (!big)
			return NULL;
		big->used = big->size;
		a->bytes += sizeof(*big) + big->size;
		if (b) {
			big->next = b->next;
			b->next = big;
		} else {
			a->head = big;
		}
		return align_up(big->data, align);
	}
	b = block_new(BLOCK_SIZE);
	if (!b)
		return NULL;
	a->bytes += sizeof(*b) + BLOCK_SIZE;
	b->next = a->head;
	a->head = b;
	p = align_up(b->data, align);
	b->used = (size_t)(p - b->data) + size;
	return p;
}

void *rt_arena_alloc(struct rt_arena *a, size_t size, size_t align)
{
	void *p = take(a, size, align);

	if (p)
		memset(p, 0, size ? size : 1);
	return p;
}

void *rt_arena_alloc_uninit(struct rt_arena *a, size_t size, size_t align)
{
	return take(a, size, align);
}

char *rt_arena_strndup(struct rt_arena *a, const char *p, size_t len)
{
	char *s;

	if (len == SIZE_MAX)
		return NULL;
	s = rt_arena_alloc_uninit(a, len + 1, 1);
	if (!s)
		return NULL;
	if (len)
		memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

void rt_arena_free(struct rt_arena *a)
{
	struct rt_arena_block *b, *next;

	if (!a)
		return;
	for (b = a->head; b; b = next) {
		next = b->next;
		free(b);
	}
	a->head = NULL;
	a->bytes = 0;
}

/* ---- interning --------------------------------------------------------- */

struct rt_strset_slot {
	uint64_t hash;
	const char *s;             /* NULL: empty slot */
	size_t len;
};

void rt_strset_init(struct rt_strset *s, struct rt_arena *arena,
		    struct rt_arena *tmp)
{
	memset(s, 0, sizeof(*s));
	s->arena = arena;
	s->tmp = tmp;
}

void rt_strset_free(struct rt_strset *s)
{
	if (!s)
		return;
	if (!s->tmp)
		free(s->slots);
	s->slots = NULL;
	s->cap = 0;
	s->n = 0;
}

static struct rt_strset_slot *probe(const struct rt_strset *s, uint64_t h,
				    const char *p, size_t len)
{
	size_t mask = s->cap - 1;

	for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
		struct rt_strset_slot *e = &s->slots[i];

		if (!e->s)
			return e;
		if (e->hash == h && e->len == len && memcmp(e->s, p, len) == 0)
			return e;
	}
}

/* Rehash into a table of at least 2 * n slots (and at least double). */
static int grow(struct rt_strset *s, size_t n)
{
	size_t cap = s->cap ? s->cap * 2 : 256;
	struct rt_strset_slot *old = s->slots;
	size_t oldcap = s->cap;

	while (cap < 2 * n) {
		if (cap > SIZE_MAX / 4)
			return -ENOMEM;
		cap *= 2;
	}
	if (cap > SIZE_MAX / sizeof(*old))
		return -ENOMEM;
	s->slots = s->tmp ? rt_arena_alloc(s->tmp, cap * sizeof(*s->slots), 8)
			  : calloc(cap, sizeof(*s->slots));
	if (!s->slots) {
		s->slots = old;
		return -ENOMEM;
	}
	s->cap = cap;
	for (size_t i = 0; i < oldcap; i++) {
		if (old[i].s)
			*probe(s, old[i].hash, old[i].s, old[i].len) = old[i];
	}
	if (!s->tmp)
		free(old);
	return 0;
}

const char *rt_strset_intern(struct rt_strset *s, const char *p, size_t len)
{
	uint64_t h = rt_hash_bytes(p, len);
	struct rt_strset_slot *e;

	/* keep the load at or below one half */
	if ((s->n + 1) * 2 > s->cap && grow(s, s->n + 1) < 0)
		return NULL;
	e = probe(s, h, p, len);
	if (e->s)
		return e->s;
	e->s = rt_arena_strndup(s->arena, p, len);
	if (!e->s)
		return NULL;
	e->hash = h;
	e->len = len;
	s->n++;
	return e->s;
}

int rt_strset_reserve(struct rt_strset *s, size_t n)
{
	if (n * 2 <= s->cap)
		return 0;
	return grow(s, n);
}

const char *rt_strset_find(const struct rt_strset *s, const char *p,
			   size_t len)
{
	if (!s->cap)
		return NULL;
	return probe(s, rt_hash_bytes(p, len), p, len)->s;
}
