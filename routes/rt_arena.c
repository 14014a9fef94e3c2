/*
 * rt_arena.c - the memory a route table lives in (a few large blocks,
 * freed together), the pool that hands freed blocks to the next build,
 * and the string interning the build uses to store each distinct string
 * once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "routes/rt_table_internal.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POOL_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define POOL_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POOL_POISON(p, n) ((void)(p), (void)(n))
#define POOL_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* Big enough that a 30,000-target table needs a few hundred blocks,
 * small enough that an empty table stays small. */
#define BLOCK_SIZE (64 * 1024)
struct rt_arena_block {
	struct rt_arena_block *next;
	size_t size;
	size_t used;
	_Alignas(16) unsigned char data[];
};

/*
 * The pool. Each rebuild writes a table's worth of memory (12 MB for
 * 30,000 targets, and a few MB of build state): pages malloc has just
 * handed back to the kernel would come back one page fault each, which
 * costs more than the build itself. So while a table is alive (the
 * daemon always has one) the blocks of freed arenas are kept here and
 * the next build takes them; when the last table goes the pool is
 * emptied, so a program done with tables holds nothing.
 *
 * It keeps at most twice the largest arena freed so far (a table and its
 * build state fit), the most recently freed blocks first: when it is
 * full the oldest go, so blocks of sizes no build asks for any more
 * (the fleet grew) do not stay. Blocks move between threads (the last
 * unref of a table is often a reader's) under the lock.
 */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rt_arena_block *pool_small;   /* BLOCK_SIZE blocks, newest first */
static struct rt_arena_block *pool_big;     /* others, newest first */
static size_t pool_bytes;
static size_t pool_peak;                    /* largest arena freed */
static unsigned long pool_holders;

static void free_list(struct rt_arena_block *list)
{
	struct rt_arena_block *next;

	for (; list; list = next) {
		next = list->next;
		free(list);
	}
}

/* Move every block of list *from to *to (unpoisoned); their bytes. */
static size_t move_all(struct rt_arena_block **from,
		       struct rt_arena_block **to)
{
	struct rt_arena_block *b, *next;
	size_t bytes = 0;

	for (b = *from; b; b = next) {
		next = b->next;
		POOL_UNPOISON(b->data, b->size);
		bytes += b->size;
		b->next = *to;
		*to = b;
	}
	*from = NULL;
	return bytes;
}

void rt_arena_pool_hold(void)
{
	pthread_mutex_lock(&pool_lock);
	pool_holders++;
	pthread_mutex_unlock(&pool_lock);
}

void rt_arena_pool_release(void)
{
	struct rt_arena_block *list = NULL;

	pthread_mutex_lock(&pool_lock);
	if (pool_holders && --pool_holders == 0) {
		move_all(&pool_small, &list);
		move_all(&pool_big, &list);
		pool_bytes = 0;
	}
	pthread_mutex_unlock(&pool_lock);
	free_list(list);
}

/* A pooled block for an arena block of size bytes (sizes are rounded,
 * see block_size): a BLOCK_SIZE one, or the smallest big one that is
 * at most an eighth larger. NULL when there is none. */
static struct rt_arena_block *pool_take(size_t size)
{
	struct rt_arena_block **at, **fit = NULL, *b = NULL;

	pthread_mutex_lock(&pool_lock);
	if (size == BLOCK_SIZE) {
		if (pool_small)
			fit = &pool_small;
	} else {
		for (at = &pool_big; *at; at = &(*at)->next) {
			size_t have = (*at)->size;

			if (have >= size && have - size <= size / 8 &&
			    (!fit || have < (*fit)->size))
				fit = at;
			if (fit && (*fit)->size == size)
				break;
		}
	}
	if (fit) {
		b = *fit;
		*fit = b->next;
		pool_bytes -= b->size;
	}
	pthread_mutex_unlock(&pool_lock);
	if (b)
		POOL_UNPOISON(b->data, b->size);
	return b;
}

/* Drop the oldest block of list *head onto *out; its size, 0 if empty. */
static size_t evict_oldest(struct rt_arena_block **head,
			   struct rt_arena_block **out)
{
	struct rt_arena_block **at = head, *b;

	if (!*head)
		return 0;
	while ((*at)->next)
		at = &(*at)->next;
	b = *at;
	*at = NULL;
	POOL_UNPOISON(b->data, b->size);
	b->next = *out;
	*out = b;
	return b->size;
}

/* Keep the blocks of an arena of bytes bytes for later arenas, freeing
 * what the pool cannot take. */
static void pool_put_all(struct rt_arena_block *list, size_t bytes)
{
	struct rt_arena_block *drop = NULL, *b, *next;

	pthread_mutex_lock(&pool_lock);
	if (!pool_holders) {
		pthread_mutex_unlock(&pool_lock);
		free_list(list);
		return;
	}
	if (bytes > pool_peak)
		pool_peak = bytes;
	for (b = list; b; b = next) {
		struct rt_arena_block **head = b->size == BLOCK_SIZE ? &pool_small
								     : &pool_big;
		size_t cap = 2 * pool_peak;

		next = b->next;
		while (pool_bytes + b->size > cap && pool_bytes) {
			size_t n = evict_oldest(&pool_big, &drop);

			if (!n)
				n = evict_oldest(&pool_small, &drop);
			pool_bytes -= n;
		}
		if (pool_bytes + b->size > cap) {
			b->next = drop;
			drop = b;
			continue;
		}
		POOL_POISON(b->data, b->size);
		b->next = *head;
		*head = b;
		pool_bytes += b->size;
	}
	pthread_mutex_unlock(&pool_lock);
	free_list(drop);
}

/* The size of a block of at least n bytes: an own block (a large array)
 * is rounded up to a sixteenth of its power of two at most, so that the
 * arrays of the next build, which are about as large, find one in the
 * pool. */
static size_t block_size(size_t n)
{
	size_t step = 4096;

	if (n == BLOCK_SIZE)
		return n;
	while (step * 32 <= n)
		step *= 2;
	if (n > SIZE_MAX - step)
		return 0;
	return (n + step - 1) & ~(step - 1);
}

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

static struct rt_arena_block *block_new(size_t want)
{
	size_t size = block_size(want);
	struct rt_arena_block *b;

	if (size == 0 || size > SIZE_MAX - sizeof(*b))
		return NULL;
	b = pool_take(size);
	if (!b)
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
	if (!a)
		return;
	pool_put_all(a->head, a->bytes);
	a->head = NULL;
	a->bytes = 0;
}

/* ---- interning --------------------------------------------------------- */

/* 16 bytes, so that a probe past a few slots stays in one cache line: the
 * set is touched at random once per new string, and a build of 30,000
 * targets interns tens of thousands. */
struct rt_strset_slot {
	uint32_t check;            /* the hash's high half */
	uint32_t len;
	const char *s;             /* NULL: empty slot */
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
	uint32_t check = (uint32_t)(h >> 32);

	for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
		struct rt_strset_slot *e = &s->slots[i];

		if (!e->s)
			return e;
		if (e->check == check && e->len == len &&
		    memcmp(e->s, p, len) == 0)
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
	s->slots = s->tmp ? rt_arena_alloc(s->tmp, cap * sizeof(*s->slots), 16)
			  : calloc(cap, sizeof(*s->slots));
	if (!s->slots) {
		s->slots = old;
		return -ENOMEM;
	}
	s->cap = cap;
	for (size_t i = 0; i < oldcap; i++) {
		if (old[i].s) {
			uint64_t h = rt_hash_bytes(old[i].s, old[i].len);

			*probe(s, h, old[i].s, old[i].len) = old[i];
		}
	}
	if (!s->tmp)
		free(old);
	return 0;
}

const char *rt_strset_intern_h(struct rt_strset *s, const char *p, size_t len,
			       uint64_t h)
{
	struct rt_strset_slot *e;

	if (len > UINT32_MAX)
		return NULL;
	/* keep the load at or below one half */
	if ((s->n + 1) * 2 > s->cap && grow(s, s->n + 1) < 0)
		return NULL;
	e = probe(s, h, p, len);
	if (e->s)
		return e->s;
	e->s = rt_arena_strndup(s->arena, p, len);
	if (!e->s)
		return NULL;
	e->check = (uint32_t)(h >> 32);
	e->len = (uint32_t)len;
	s->n++;
	return e->s;
}

const char *rt_strset_intern(struct rt_strset *s, const char *p, size_t len)
{
	return rt_strset_intern_h(s, p, len, rt_hash_bytes(p, len));
}

int rt_strset_reserve(struct rt_strset *s, size_t n)
{
	if (n * 2 <= s->cap)
		return 0;
	return grow(s, n);
}

const char *rt_strset_find_h(const struct rt_strset *s, const char *p,
			     size_t len, uint64_t h)
{
	if (!s->cap || len > UINT32_MAX)
		return NULL;
	return probe(s, h, p, len)->s;
}

const char *rt_strset_find(const struct rt_strset *s, const char *p,
			   size_t len)
{
	return rt_strset_find_h(s, p, len, rt_hash_bytes(p, len));
}

void rt_strset_prefetch(const struct rt_strset *s, uint64_t h)
{
	if (s->cap)
		__builtin_prefetch(&s->slots[(size_t)h & (s->cap - 1)]);
}
