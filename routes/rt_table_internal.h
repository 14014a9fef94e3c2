/*
 * rt_table_internal.h - the inside of struct rt_table and the helpers the
 * table's files share: hashing, the arena every table lives in, string
 * interning for the build, host normalisation, the glob matcher, the path
 * index and fabio's weight arithmetic. Not for users of the table; the
 * Check suites include it to reach the pieces directly.
 */
#ifndef RT_TABLE_INTERNAL_H
#define RT_TABLE_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "routes/rt_table.h"

/* ---- hashing ---------------------------------------------------------- */

#define RT_FNV_OFFSET UINT64_C(0xcbf29ce484222325)
#define RT_FNV_PRIME  UINT64_C(0x100000001b3)

/* One FNV-1a step. FNV-1a is used because the hash of every prefix of a
 * request path falls out of one pass over it. */
static inline uint64_t rt_fnv_step(uint64_t h, unsigned char c)
{
	return (h ^ c) * RT_FNV_PRIME;
}

/* Spread the bits (murmur3's finaliser): FNV's low bits alone are weak
 * for power-of-two tables. */
static inline uint64_t rt_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64_C(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return x;
}

uint64_t rt_hash_bytes(const void *p, size_t n);

static inline unsigned char rt_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* ---- arena ------------------------------------------------------------- */

/* Bump allocation in large blocks: a table is one struct plus a handful
 * of blocks, freed in one sweep, and nothing in it is freed alone. */
struct rt_arena_block;
struct rt_arena {
	struct rt_arena_block *head;
	size_t bytes;              /* malloc'd in blocks, for reporting */
};

/* size bytes aligned to align (a power of two); NULL when out of memory.
 * Zero-filled. */
void *rt_arena_alloc(struct rt_arena *a, size_t size, size_t align);
/* The same without the zero fill, for arrays the caller writes whole. */
void *rt_arena_alloc_uninit(struct rt_arena *a, size_t size, size_t align);
/* A NUL-terminated copy of p[0..len). */
char *rt_arena_strndup(struct rt_arena *a, const char *p, size_t len);
/* Give the blocks back: to the pool while some table is alive (the next
 * build takes them, see rt_arena.c), else to malloc. */
void rt_arena_free(struct rt_arena *a);
/* Every table holds the pool from its first block to its last: freed
 * blocks are kept only while someone holds it, and the last release
 * frees them all. */
void rt_arena_pool_hold(void);
void rt_arena_pool_release(void);

/* ---- string interning (build time only) ------------------------------- */

/* Equal strings get one copy in the arena, so the build compares them by
 * pointer and the table stores each service, tag and URL once. */
struct rt_strset {
	struct rt_arena *arena;    /* the strings */
	struct rt_arena *tmp;      /* the slot arrays; NULL: malloc'd */
	struct rt_strset_slot *slots;
	size_t cap;                /* power of two, 0 before the first insert */
	size_t n;
};

/* Strings go into arena, slot arrays into tmp (outgrown ones are left
 * there) or, when tmp is NULL, to malloc. */
void rt_strset_init(struct rt_strset *s, struct rt_arena *arena,
		    struct rt_arena *tmp);
void rt_strset_free(struct rt_strset *s);   /* the strings stay in the arena */
/* The interned copy of p[0..len), added when absent; NULL when out of
 * memory. */
const char *rt_strset_intern(struct rt_strset *s, const char *p, size_t len);
/* Room for n strings without rehashing. 0 or -ENOMEM. */
int rt_strset_reserve(struct rt_strset *s, size_t n);
/* The interned copy when present, else NULL (no insert). */
const char *rt_strset_find(const struct rt_strset *s, const char *p,
			   size_t len);
/* The same with h = rt_hash_bytes(p, len) already at hand. */
const char *rt_strset_intern_h(struct rt_strset *s, const char *p, size_t len,
			       uint64_t h);
const char *rt_strset_find_h(const struct rt_strset *s, const char *p,
			     size_t len, uint64_t h);
/* Start loading the slot where a string of hash h is looked for. */
void rt_strset_prefetch(const struct rt_strset *s, uint64_t h);

/* ---- glob ------------------------------------------------------------- */

/* A compiled whole-string glob: '*' any run (including '/' and '.'),
 * '?' one byte, [abc] [a-z] [!x] [^x] classes, '\' escapes the next
 * byte. A '[' without its ']' is a literal '['. */
struct rt_glob_tok {
	uint8_t op;
	uint8_t ch;
	uint16_t cls;              /* index into rt_glob.cls for RT_GLOB_CLASS */
};

struct rt_glob {
	const struct rt_glob_tok *toks;
	const uint8_t (*cls)[32];  /* 256-bit sets */
	uint32_t ntoks;
};

/* Compile pat[0..len) into a (its memory comes from there). 0 or
 * -ENOMEM. lower: fold the pattern to lower case (hosts). */
int rt_glob_compile(struct rt_arena *a, const char *pat, size_t len,
		    int lower, struct rt_glob *out);
/* 1 when the whole of s[0..len) matches. Allocation-free. */
int rt_glob_match(const struct rt_glob *g, const char *s, size_t len);
/* The length of pat's literal head (bytes before the first '*', '?',
 * '[' or '\'): every string the glob matches starts with it. */
size_t rt_glob_literal_prefix(const char *pat, size_t len);
/* The length of pat's literal tail (bytes after the last special byte):
 * every string the glob matches ends with it. */
size_t rt_glob_literal_suffix(const char *pat, size_t len);

/* ---- hosts ------------------------------------------------------------ */

/* Longest request host (after lower-casing) looked up among host routes;
 * a longer Host header only reaches the host-less routes. */
#define RT_HOST_MAX 512

/*
 * Lower-case host[0..len) into buf and drop a ":80" port (tls == 0) or a
 * ":443" port (tls != 0), as fabio does on both the table's and the
 * request's side. An unbracketed host with more than one ':' (a bare IPv6
 * address) keeps its text. Returns the length, or -1 when it does not fit
 * in size - 1.
 */
long rt_host_normalize(const char *host, size_t len, int tls, char *buf,
		       size_t size);
/* Whether a route host is a pattern (has '*', '?' or a '[' that does not
 * open an IPv6 literal). */
int rt_host_is_wildcard(const char *host);
/* qsort order of wildcard hosts: more labels first, then longer first,
 * then by bytes. */
int rt_host_wildcard_cmp(const char *a, const char *b);

/* ---- weights ---------------------------------------------------------- */

/*
 * fabio's weighTargets: n targets with fixed weights fixed[i] (> 0: fixed,
 * otherwise dynamic) get share[i]. No fixed: 1/n each. Fixed ones are
 * scaled by 1/sumFixed when sumFixed > 1 or when all are fixed and
 * sumFixed < 1; dynamic ones share max(0, 1 - sumFixed) equally.
 */
void rt_weight_shares(const double *fixed, size_t n, double *share);
/*
 * Consul's Weights over rt_weight_shares' answer: the dynamic targets
 * (fixed[i] <= 0) split what they got together in proportion to
 * consul[i] (>= 1) instead of equally. Fixed targets keep their share.
 * When every dynamic target has the same weight, share is left as it
 * is, so equal weights are fabio's arithmetic exactly.
 */
void rt_weight_by_consul(const double *fixed, const unsigned *consul,
			 size_t n, double *share);
/* A share as an integer out of RT_WEIGHT_SCALE: rounded, at least 1 when
 * the share is above 0. */
#define RT_WEIGHT_SCALE 10000u
unsigned rt_weight_units(double share);

/* ---- the builder: commands applied in order ---------------------------- */

/* A target while the commands are applied. Its strings are already in
 * the arena, so freezing it is copying pointers; strings that repeat
 * across targets (service, tags, scheme, options) are interned. */
struct rt_build_target {
	uint64_t dedup_hash;
	uint64_t url_hash;
	uint64_t identity;
	const char *service;
	const char *url;
	const char *instance;
	const char *scheme;
	const char *addr;
	const char **tags;
	const struct rt_opts *opts; /* shared by targets with equal options */
	double fixed;              /* > 0: fixed weight; 0: dynamic */
	uint32_t consul_weight;    /* rt_cmd.consul_weight, 0 made 1 */
	uint32_t ntags;
	uint32_t route;
	uint32_t next;             /* the route's next target; UINT32_MAX: last */
	uint8_t dead;              /* removed by `route del` */
	uint8_t down;              /* rt_cmd.consul_down: kept, never weighed */
};

/* A (host, path) pair; routes left with no live target are dropped when
 * the table is frozen. */
struct rt_build_route {
	const char *host;
	const char *path;
	uint32_t head;
	uint32_t tail;
	uint32_t nlive;
	uint32_t nchain;           /* targets ever added, dead ones too */
};

#define RT_TAG_CACHE 64

/* Everything the build needs only while it runs comes from tmp, freed
 * in one go at its end: no small chunks are left behind in malloc's
 * per-thread caches, build after build. */
struct rt_builder {
	struct rt_arena *arena;
	struct rt_arena tmp;
	struct rt_strset strs;
	struct rt_build_target *t;
	uint32_t nt, capt;
	struct rt_build_route *r;
	uint32_t nr, capr;
	uint32_t *route_slots;     /* route+1 by (host, path) */
	uint32_t route_cap;
	uint64_t *dedup_slots;     /* target+1 by what makes targets identical,
				    * for routes with many targets */
	uint32_t dedup_cap, ndedup;
	char *scratch;
	size_t scratch_cap;
	struct rt_cmd_list *warnings;
	const struct rt_cmd *prev; /* the last add, and what it resolved to */
	const char *prev_host;
	const char *prev_path;
	uint64_t prev_host_hash;   /* rt_hash_bytes of prev_host, prev_path */
	uint64_t prev_path_hash;
	const char *prev_service;
	const char **prev_tags;
	uint32_t prev_route;
	const char *prev_scheme;   /* the last target's scheme, interned */
	const struct rt_opts *prev_opts; /* the last target's options */
	const char *tag_cache[RT_TAG_CACHE]; /* interned tags, see intern_tag */
};

/* Strings and the targets' arrays go into arena (the table's). 0 or
 * -ENOMEM. */
int rt_builder_init(struct rt_builder *b, struct rt_arena *arena,
		    struct rt_cmd_list *warnings);
/* Size the builder for up to nadd targets (growing stays possible). 0 or
 * -ENOMEM. */
int rt_builder_reserve(struct rt_builder *b, size_t nadd);
/* Apply one command (fabio §2.3). A command that cannot apply is reported
 * in the warnings and skipped. 0, or -ENOMEM (the builder is then only
 * good for rt_builder_free). */
int rt_builder_apply(struct rt_builder *b, const struct rt_cmd *c);
void rt_builder_free(struct rt_builder *b);   /* NULL-safe, idempotent */
/* Start loading what applying c will look up (its strings' slots, its
 * route's slot), a few commands before it is applied: a build of 30,000
 * targets otherwise waits on a cache miss for most of them. before is
 * the command ahead of c (NULL: none); what repeats from it is skipped,
 * as the builder remembers it. Changes nothing. */
void rt_builder_prefetch(const struct rt_builder *b, const struct rt_cmd *c,
			 const struct rt_cmd *before);
/* The frozen form of bt in out; share, weight and index are left to the
 * caller. */
void rt_builder_freeze_target(const struct rt_build_target *bt,
			      struct rt_target *out);

/* The identity of a target: a hash of (instance, addr). */
uint64_t rt_target_identity(const char *instance, const char *addr);

/* ---- the table -------------------------------------------------------- */

/*
 * The lookup structures are laid out for the cache: a lookup in a table
 * of 10,000 hosts touches one host slot, one group and one path slot
 * (64 bytes each, keys of usual length stored inline) before the route.
 */
#define RT_CACHE_LINE 64
#define RT_GROUP_LENS 10
#define RT_HOST_INLINE 27
#define RT_HOST_RKEY 8
#define RT_PATH_INLINE 28

/* One host pattern and its routes, which are contiguous in rt_table.routes
 * in lookup order. */
struct rt_group {
	uint32_t first_route;
	uint32_t nroutes;
	uint32_t nlens;            /* distinct path-key lengths, ascending */
	const uint32_t *lens;      /* lens_inline or an array of its own */
	uint32_t lens_inline[RT_GROUP_LENS];
} __attribute__((aligned(RT_CACHE_LINE)));

/* A wildcard host group: the pattern normalised for plain [0] and TLS [1]
 * requests, and its literal tail for a quick reject. */
struct rt_wild {
	uint32_t group;
	uint32_t tail_len[2];
	const char *tail[2];
	struct rt_glob glob[2];
};

/* One path key of one group, in an open-addressed table: prefix: the
 * path; iprefix: the path in lower case; glob: the literal head of the
 * pattern. */
struct rt_bucket {
	uint64_t hash;             /* 0: empty slot */
	const char *key;
	uint32_t key_len;
	uint32_t group;
	uint32_t route;            /* the first (best) route with this key */
	uint32_t more;             /* glob: offset in rt_path_index.more */
	uint32_t nmore;            /* glob: how many routes share the key */
	char inl[RT_PATH_INLINE];  /* the key when it fits */
} __attribute__((aligned(RT_CACHE_LINE)));

/* The buckets, and a Bloom filter over their hashes (two bits per key,
 * 16 bits per key: a few KB that stay in cache) so that the lengths at
 * which a path has no key cost no trip to the bucket table. */
struct rt_path_index {
	struct rt_bucket *slots;
	uint64_t mask;
	uint32_t nbuckets;
	uint32_t *more;            /* route numbers, ascending per bucket */
	uint64_t *bloom;
	uint64_t bloom_mask;       /* bits - 1 */
};

/* One exact route host (as stored: lower case, port kept). strip[tls]:
 * fabio's port rule drops this host's port for such requests, so a
 * request for the host without the port finds it too. When the host has
 * a single route with a short key (prefix or iprefix matching: "/" most
 * of the time), route and rkey let the lookup answer from this slot. */
struct rt_host_slot {
	uint64_t hash;             /* 0: empty slot */
	const char *key;
	uint16_t key_len;
	uint8_t strip[2];
	uint32_t group;
	uint32_t route;            /* UINT32_MAX: go through the group */
	uint8_t rkey_len;
	char rkey[RT_HOST_RKEY];
	char inl[RT_HOST_INLINE];
} __attribute__((aligned(RT_CACHE_LINE)));

struct rt_host_index {
	struct rt_host_slot *slots;
	uint32_t mask;
	uint32_t n;
	int strip[2];              /* some slot has strip[tls] */
};

struct rt_table {
	atomic_ulong refs;
	uint64_t generation;
	enum rt_matcher matcher;
	struct rt_arena arena;     /* owns everything below */

	struct rt_route *routes;
	size_t nroutes;
	struct rt_target *targets;
	size_t ntargets;
	struct rt_glob *route_globs; /* RT_MATCH_GLOB: one per route */

	struct rt_group *groups;   /* exact hosts, wildcards, host-less */
	uint32_t ngroups;
	uint32_t nexact;
	uint32_t nwild;
	int32_t hostless;          /* group number, -1 when none */
	struct rt_wild *wild;      /* nwild, most specific first */

	struct rt_host_index hosts;
	struct rt_path_index paths;
};

/* Hash for the open-addressed slots: never 0, which marks an empty one. */
static inline uint64_t rt_slot_hash(uint64_t h)
{
	return h ? h : 1;
}

/* Build the host and path indexes of a table whose routes and groups are
 * filled (path: with scratch memory from tmp). 0 or -ENOMEM. */
int rt_host_index_build(struct rt_table *t);
int rt_path_index_build(struct rt_table *t, struct rt_arena *tmp);
/* The first route of group g matching path (see rt_table_lookup). */
const struct rt_route *rt_path_match(const struct rt_table *t, uint32_t g,
				     const char *path, size_t len);
/* Whether path starts with key[0..n), folding path to lower case when
 * fold (the key is already lower case). */
int rt_path_key_eq(const char *key, const char *path, size_t n, int fold);
/* The slot of exact route host key[0..len), or NULL. */
const struct rt_host_slot *rt_host_find(const struct rt_host_index *hi,
					const char *key, size_t len);

#endif
