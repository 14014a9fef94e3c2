/*
 * rt_table.c - building a table (apply the commands, then freeze them
 * into arrays in lookup order), sharing it by reference count, and the
 * lookup itself.
 *
 * Lookup order: the exact host (one hash probe), then wildcard hosts most
 * specific first, then the host-less routes; inside a host the path index
 * (rt_pathindex.c) finds the first route in reverse lexical path order
 * that matches, which for prefix matching is the longest prefix.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "routes/rt_table_internal.h"

static atomic_uint_fast64_t generations;

/* How many commands ahead of the one applied the builder starts loading
 * what the next ones need (rt_builder_prefetch). */
#define PREFETCH_AHEAD 4

/* Start loading n cache lines from p on. The lines may run past the
 * object p points to (a prefetch never faults), so the addresses are
 * made as integers. */
static void prefetch_lines(const void *p, unsigned n)
{
	for (unsigned k = 0; k < n; k++)
		__builtin_prefetch((const void *)((uintptr_t)p +
						  (uintptr_t)k * RT_CACHE_LINE));
}

/* ---- freezing ------------------------------------------------------------- */

enum host_class { HOST_EXACT = 0, HOST_WILD, HOST_NONE };

struct group_tmp {
	const char *host;
	uint64_t head;             /* key_head(host): most comparisons */
	enum host_class cls;
	uint32_t first;            /* into the live-route array */
	uint32_t n;
};

struct freeze {
	struct rt_table *t;
	struct rt_builder *b;
	uint32_t *live;            /* builder route numbers */
	uint32_t nlive;
	struct group_tmp *groups;
	uint32_t ngroups;
};

/* A route in a sort: the first eight bytes of its key in big-endian
 * order decide most comparisons without touching the strings. */
struct sort_rec {
	uint64_t head;
	const char *key;
	uint32_t route;            /* builder route number */
};

static uint64_t key_head(const char *s, int fold)
{
	uint64_t h = 0;
	int end = 0;

	for (int i = 0; i < 8; i++) {
		unsigned char c = end ? 0 : (unsigned char)s[i];

		end = end || c == 0;
		h = (h << 8) | (fold ? rt_lower(c) : c);
	}
	return h;
}

static int by_key(const void *pa, const void *pb)
{
	const struct sort_rec *a = pa, *b = pb;

	if (a->head != b->head)
		return a->head < b->head ? -1 : 1;
	return strcmp(a->key, b->key);
}

/* Reverse lexical by path (fabio's routes.go Less), so a path that
 * extends another comes first. */
static int by_path_desc(const void *pa, const void *pb)
{
	return by_key(pb, pa);
}

/* iprefix: by the lower-case path, so that the first match is also the
 * longest; equal ones by the path as written. */
static int by_ipath_desc(const void *pa, const void *pb)
{
	const struct sort_rec *a = pa, *b = pb;
	const unsigned char *x = (const unsigned char *)a->key;
	const unsigned char *y = (const unsigned char *)b->key;

	if (a->head != b->head)
		return a->head < b->head ? 1 : -1;
	for (;; x++, y++) {
		unsigned char cx = rt_lower(*x), cy = rt_lower(*y);

		if (cx != cy)
			return cx < cy ? 1 : -1;
		if (!cx)
			break;
	}
	return strcmp(b->key, a->key);
}

static int group_cmp(const void *pa, const void *pb)
{
	const struct group_tmp *a = pa, *b = pb;

	if (a->cls != b->cls)
		return a->cls < b->cls ? -1 : 1;
	if (a->cls == HOST_WILD)
		return rt_host_wildcard_cmp(a->host, b->host);
	if (a->head != b->head)
		return a->head < b->head ? -1 : 1;
	return strcmp(a->host, b->host);
}

/* Live routes grouped by host (hosts are interned: equal hosts are one
 * pointer, so a pointer hash groups them in one pass), groups in lookup
 * order, each group's routes contiguous in f->live. */
static int make_groups(struct freeze *f)
{
	struct rt_builder *b = f->b;
	uint32_t *slots, *fill, mask;
	uint64_t cap = 16;

	while (cap < 2 * (uint64_t)b->nr)
		cap *= 2;
	mask = (uint32_t)cap - 1;
	f->live = rt_arena_alloc_uninit(&b->tmp, ((size_t)b->nr + 1) *
					sizeof(*f->live), 4);
	f->groups = rt_arena_alloc_uninit(&b->tmp, ((size_t)b->nr + 1) *
					  sizeof(*f->groups), 8);
	slots = rt_arena_alloc(&b->tmp, cap * sizeof(*slots), 4);
	if (!f->live || !f->groups || !slots)
		return -ENOMEM;
	for (uint32_t i = 0; i < b->nr; i++) {
		const char *h = b->r[i].host;
		uint32_t s = (uint32_t)rt_mix64((uint64_t)(uintptr_t)h) & mask;

		/* the hosts were interned long ago, each somewhere else */
		if (i + 8 < b->nr)
			__builtin_prefetch(b->r[i + 8].host);
		if (!b->r[i].nlive)
			continue;
		while (slots[s] && f->groups[slots[s] - 1].host != h)
			s = (s + 1) & mask;
		if (!slots[s]) {
			struct group_tmp *g = &f->groups[f->ngroups++];

			g->host = h;
			g->head = key_head(h, 0);
			g->cls = !*h ? HOST_NONE : rt_host_is_wildcard(h)
							 ? HOST_WILD : HOST_EXACT;
			g->n = 0;
			slots[s] = f->ngroups;
		}
		f->groups[slots[s] - 1].n++;
		f->nlive++;
	}
	qsort(f->groups, f->ngroups, sizeof(*f->groups), group_cmp);
	/* the sort moved the groups: find each one's new number */
	memset(slots, 0, cap * sizeof(*slots));
	fill = rt_arena_alloc_uninit(&b->tmp, ((size_t)f->ngroups + 1) *
				     sizeof(*fill), 4);
	if (!fill)
		return -ENOMEM;
	for (uint32_t g = 0, off = 0; g < f->ngroups; g++) {
		uint32_t s = (uint32_t)rt_mix64((uint64_t)(uintptr_t)f->groups[g].host) & mask;

		while (slots[s])
			s = (s + 1) & mask;
		slots[s] = g + 1;
		f->groups[g].first = off;
		fill[g] = off;
		off += f->groups[g].n;
	}
	for (uint32_t i = 0; i < b->nr; i++) {
		const char *h = b->r[i].host;
		uint32_t s = (uint32_t)rt_mix64((uint64_t)(uintptr_t)h) & mask;

		if (!b->r[i].nlive)
			continue;
		while (f->groups[slots[s] - 1].host != h)
			s = (s + 1) & mask;
		f->live[fill[slots[s] - 1]++] = i;
	}
	return 0;
}

/* Sort one group's routes (builder numbers in run[0..n)) in lookup
 * order; rec is scratch for n records. */
static void sort_group(const struct freeze *f, uint32_t *run, uint32_t n,
		       struct sort_rec *rec)
{
	int fold = f->t->matcher == RT_MATCH_IPREFIX;

	if (n < 2)
		return;
	for (uint32_t i = 0; i < n; i++) {
		/* routes and their paths are visited out of the order they
		 * were made in: fetch both ahead */
		if (i + 16 < n)
			__builtin_prefetch(&f->b->r[run[i + 16]]);
		if (i + 8 < n)
			__builtin_prefetch(f->b->r[run[i + 8]].path);
		rec[i].key = f->b->r[run[i]].path;
		rec[i].head = key_head(rec[i].key, fold);
		rec[i].route = run[i];
	}
	qsort(rec, n, sizeof(*rec), fold ? by_ipath_desc : by_path_desc);
	for (uint32_t i = 0; i < n; i++)
		run[i] = rec[i].route;
}

/* Shares and integer weights of one route's targets; fixed/consul/share
 * are scratch arrays big enough for them. Targets Consul holds down get 0 and
 * take no part: the others are weighed as if they were not there. */
static void weigh(struct rt_route *r, double *fixed, unsigned *consul,
		  double *share)
{
	unsigned total = 0;
	size_t n = 0, k = 0;

	for (size_t i = 0; i < r->ntargets; i++) {
		if (!r->targets[i]->consul_down) {
			fixed[n] = r->targets[i]->fixed_weight;
			consul[n++] = r->targets[i]->consul_weight;
		}
	}
	rt_weight_shares(fixed, n, share);
	rt_weight_by_consul(fixed, consul, n, share);
	for (size_t i = 0; i < r->ntargets; i++) {
		struct rt_target *t = r->targets[i];

		t->share = t->consul_down ? 0 : share[k++];
		t->weight = rt_weight_units(t->share);
		total += t->weight;
	}
	r->total_weight = total;
}

static int wildcard_globs(struct rt_table *t, struct rt_wild *w,
			  const char *host)
{
	for (int tls = 0; tls < 2; tls++) {
		char buf[RT_HOST_MAX + 1];
		long n = rt_host_normalize(host, strlen(host), tls, buf,
					   sizeof(buf));
		size_t tail;

		/* A pattern longer than any request host we look up: its
		 * tail is longer than every host, so it never matches. */
		if (n < 0) {
			w->tail[tls] = "";
			w->tail_len[tls] = UINT32_MAX;
			continue;
		}
		if (rt_glob_compile(&t->arena, buf, (size_t)n, 1, &w->glob[tls]) < 0)
			return -ENOMEM;
		tail = rt_glob_literal_suffix(buf, (size_t)n);
		w->tail[tls] = rt_arena_strndup(&t->arena, buf + n - tail, tail);
		if (!w->tail[tls])
			return -ENOMEM;
		w->tail_len[tls] = (uint32_t)tail;
	}
	return 0;
}

static int freeze(struct freeze *f)
{
	struct rt_table *t = f->t;
	struct rt_builder *b = f->b;
	struct rt_target **tptr;
	struct rt_route_pick *pick;
	struct sort_rec *rec;
	double *fixed, *share;
	unsigned *consul;
	size_t ntargets = 0, maxn = 0, ti = 0, nwild = 0;

	if (make_groups(f) < 0)
		return -ENOMEM;
	for (uint32_t gi = 0; gi < f->ngroups; gi++)
		nwild += f->groups[gi].cls == HOST_WILD;
	for (uint32_t i = 0; i < f->nlive; i++) {
		size_t n = b->r[f->live[i]].nlive;

		ntargets += n;
		if (n > maxn)
			maxn = n;
	}
	t->nroutes = f->nlive;
	t->ntargets = ntargets;
	t->ngroups = f->ngroups;
	/* a route is 64 bytes: aligned, one cache line each for picking */
	t->routes = rt_arena_alloc(&t->arena, t->nroutes * sizeof(*t->routes),
				   RT_CACHE_LINE);
	/* every target and pointer is written below */
	t->targets = rt_arena_alloc_uninit(&t->arena,
					   ntargets * sizeof(*t->targets), 8);
	tptr = rt_arena_alloc_uninit(&t->arena, ntargets * sizeof(*tptr), 8);
	pick = rt_arena_alloc_uninit(&t->arena, ntargets * sizeof(*pick),
				     RT_CACHE_LINE);
	t->groups = rt_arena_alloc(&t->arena, t->ngroups * sizeof(*t->groups),
				   RT_CACHE_LINE);
	t->wild = rt_arena_alloc(&t->arena, nwild * sizeof(*t->wild), 8);
	fixed = rt_arena_alloc_uninit(&b->tmp, (maxn + 1) * sizeof(*fixed), 8);
	share = rt_arena_alloc_uninit(&b->tmp, (maxn + 1) * sizeof(*share), 8);
	consul = rt_arena_alloc_uninit(&b->tmp, (maxn + 1) * sizeof(*consul),
				       8);
	rec = rt_arena_alloc_uninit(&b->tmp, ((size_t)f->nlive + 1) *
				    sizeof(*rec), 8);
	if (!t->routes || !t->targets || !tptr || !pick || !t->groups ||
	    !t->wild || !fixed || !share || !consul || !rec)
		return -ENOMEM;

	for (uint32_t gi = 0; gi < f->ngroups; gi++) {
		const struct group_tmp *gt = &f->groups[gi];
		struct rt_group *g = &t->groups[gi];

		sort_group(f, f->live + gt->first, gt->n, rec);
		g->first_route = gt->first;
		g->nroutes = gt->n;
		if (gt->cls == HOST_EXACT) {
			t->nexact++;
		} else if (gt->cls == HOST_WILD) {
			struct rt_wild *w = &t->wild[t->nwild++];

			w->group = gi;
			if (wildcard_globs(t, w, gt->host) < 0)
				return -ENOMEM;
		} else {
			t->hostless = (int32_t)gi;
		}
	}

	/* The groups' routes are contiguous in f->live, in lookup order. The
	 * builder's routes and targets are visited in that order, which is
	 * not the order they were made in: fetch them a few routes ahead. */
	for (uint32_t ri = 0; ri < f->nlive; ri++) {
		const struct rt_build_route *br = &b->r[f->live[ri]];
		struct rt_route *r = &t->routes[ri];

		if (ri + 8 < f->nlive)
			__builtin_prefetch(&b->r[f->live[ri + 8]]);
		if (ri + 4 < f->nlive) {
			/* a route's targets were mostly made one after another */
			prefetch_lines(&b->t[b->r[f->live[ri + 4]].head], 5);
		}
		if (ri + 2 < f->nlive)
			__builtin_prefetch(b->t[b->r[f->live[ri + 2]].head].opts);
		r->host = (char *)br->host;
		r->path = (char *)br->path;
		r->targets = tptr + ti;
		r->index = ri;
		for (uint32_t x = br->head; x != UINT32_MAX; x = b->t[x].next) {
			if (b->t[x].dead)
				continue;
			rt_builder_freeze_target(&b->t[x], &t->targets[ti]);
			t->targets[ti].index = ti;
			tptr[ti] = &t->targets[ti];
			ti++;
			r->ntargets++;
		}
		weigh(r, fixed, consul, share);
		r->pick = pick + (r->targets - tptr);
		for (size_t i = 0; i < r->ntargets; i++) {
			const struct rt_target *x = r->targets[i];

			pick[x->index] = (struct rt_route_pick){
				.target = x,
				.identity = x->identity,
				.weight = x->weight,
				.index = (uint32_t)x->index,
			};
		}
	}

	if (t->matcher == RT_MATCH_GLOB) {
		t->route_globs = rt_arena_alloc(&t->arena,
						t->nroutes * sizeof(*t->route_globs), 8);
		if (!t->route_globs)
			return -ENOMEM;
		for (size_t i = 0; i < t->nroutes; i++) {
			if (rt_glob_compile(&t->arena, t->routes[i].path,
					    strlen(t->routes[i].path), 0,
					    &t->route_globs[i]) < 0)
				return -ENOMEM;
		}
	}
	if (rt_host_index_build(t) < 0 || rt_path_index_build(t, &b->tmp) < 0)
		return -ENOMEM;
	return 0;
}

/* ---- public ----------------------------------------------------------------- */

/* The table lives in its own arena's first block, so the last unref
 * (often on a reader thread) frees only whole blocks and leaves no small
 * chunk in that thread's malloc cache. */
static struct rt_table *table_new(void)
{
	struct rt_arena a = { 0 };
	struct rt_table *t;

	rt_arena_pool_hold();
	t = rt_arena_alloc(&a, sizeof(*t), _Alignof(struct rt_table));
	if (!t) {
		rt_arena_free(&a);
		rt_arena_pool_release();
		return NULL;
	}
	t->arena = a;
	return t;
}

static void table_free(struct rt_table *t)
{
	struct rt_arena a;

	if (!t)
		return;
	a = t->arena;   /* t itself is in there */
	rt_arena_free(&a);
	rt_arena_pool_release();
}

struct rt_table *rt_table_build(const struct rt_cmd_list *cmds,
				const struct rt_build_opts *opts,
				struct rt_cmd_list *warnings)
{
	struct rt_table *t = NULL;
	struct rt_builder b;
	struct freeze f;
	size_t nadd = 0;

	memset(&f, 0, sizeof(f));
	rt_builder_init(&b, NULL, warnings);
	t = table_new();
	if (!t)
		goto fail;
	atomic_init(&t->refs, 1);
	t->generation = atomic_fetch_add(&generations, 1) + 1;
	t->matcher = RT_MATCH_PREFIX;
	if (opts && (opts->matcher == RT_MATCH_IPREFIX ||
		     opts->matcher == RT_MATCH_GLOB))
		t->matcher = opts->matcher;
	t->hostless = -1;
	rt_builder_init(&b, &t->arena, warnings);
	for (size_t i = 0; cmds && i < cmds->n; i++)
		nadd += cmds->v[i].kind == RT_CMD_ADD;
	if (rt_builder_reserve(&b, nadd) < 0)
		goto fail;
	for (size_t i = 0; cmds && i < cmds->n; i++) {
		/* the strings of later commands first (rt_tags keeps a
		 * command's strings together), then what they will look up */
		if (i + 2 * PREFETCH_AHEAD < cmds->n) {
			const char *s = cmds->v[i + 2 * PREFETCH_AHEAD].service;

			if (s)
				prefetch_lines(s, 2);
		}
		if (i + PREFETCH_AHEAD < cmds->n)
			rt_builder_prefetch(&b, &cmds->v[i + PREFETCH_AHEAD],
					    &cmds->v[i + PREFETCH_AHEAD - 1]);
		if (rt_builder_apply(&b, &cmds->v[i]) < 0)
			goto fail;
	}
	f.t = t;
	f.b = &b;
	if (freeze(&f) < 0)
		goto fail;
	rt_builder_free(&b);
	return t;
fail:
	rt_builder_free(&b);
	table_free(t);
	return NULL;
}

struct rt_table *rt_table_empty(void)
{
	return rt_table_build(NULL, NULL, NULL);
}

struct rt_table *rt_table_ref(struct rt_table *t)
{
	if (t)
		atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
	return t;
}

void rt_table_unref(struct rt_table *t)
{
	if (!t)
		return;
	/* release: our reads of the table happen before whoever frees it;
	 * the acquire load makes every other reader's release visible to
	 * the free (a fence would do, but TSan does not model fences) */
	if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_release) != 1)
		return;
	(void)atomic_load_explicit(&t->refs, memory_order_acquire);
	table_free(t);
}

size_t rt_table_nroutes(const struct rt_table *t)
{
	return t ? t->nroutes : 0;
}

const struct rt_route *rt_table_route(const struct rt_table *t, size_t i)
{
	return t && i < t->nroutes ? &t->routes[i] : NULL;
}

size_t rt_table_ntargets(const struct rt_table *t)
{
	return t ? t->ntargets : 0;
}

uint64_t rt_table_generation(const struct rt_table *t)
{
	return t ? t->generation : 0;
}

size_t rt_table_bytes(const struct rt_table *t)
{
	return t ? t->arena.bytes : 0;   /* the table struct is in its arena */
}

/* ---- lookup --------------------------------------------------------------------- */

static int wildcard_matches(const struct rt_wild *w, const char *host,
			    size_t len, int tls)
{
	uint32_t tl = w->tail_len[tls];

	if (tl > len || memcmp(host + len - tl, w->tail[tls], tl) != 0)
		return 0;
	return rt_glob_match(&w->glob[tls], host, len);
}

/* The route of exact host slot e for path. */
static const struct rt_route *host_route(const struct rt_table *t,
					 const struct rt_host_slot *e,
					 const char *path, size_t path_len)
{
	if (e->route == UINT32_MAX)
		return rt_path_match(t, e->group, path, path_len);
	if (e->rkey_len <= path_len &&
	    rt_path_key_eq(e->rkey, path, e->rkey_len,
			   t->matcher == RT_MATCH_IPREFIX))
		return &t->routes[e->route];
	return NULL;
}

/* The route of the exact host buf[0..n) (normalised), then of the same
 * host with the default port that fabio's rule strips from route hosts
 * ("a.com:80" serves plain requests for "a.com"). buf has room for it. */
static const struct rt_route *exact(const struct rt_table *t, char *buf,
				    size_t n, int tls, const char *path,
				    size_t path_len)
{
	const struct rt_host_slot *e = rt_host_find(&t->hosts, buf, n);
	const struct rt_route *r;
	const char *port = tls ? ":443" : ":80";
	size_t plen = tls ? 4 : 3;

	if (e && (r = host_route(t, e, path, path_len)))
		return r;
	if (!t->hosts.strip[tls])
		return NULL;
	memcpy(buf + n, port, plen);
	e = rt_host_find(&t->hosts, buf, n + plen);
	buf[n] = '\0';
	if (e && e->strip[tls])
		return host_route(t, e, path, path_len);
	return NULL;
}

const struct rt_route *rt_table_lookup(const struct rt_table *t,
				       const char *host, size_t host_len,
				       const char *path, size_t path_len,
				       int tls)
{
	char buf[RT_HOST_MAX + 8];
	const struct rt_route *r;
	long n;

	if (!t)
		return NULL;
	if (!path) {
		path = "";
		path_len = 0;
	}
	tls = tls != 0;
	if (host && (t->nexact || t->nwild) &&
	    (n = rt_host_normalize(host, host_len, tls, buf, RT_HOST_MAX + 1)) >= 0) {
		if ((r = exact(t, buf, (size_t)n, tls, path, path_len)))
			return r;
		for (uint32_t w = 0; w < t->nwild; w++) {
			if (wildcard_matches(&t->wild[w], buf, (size_t)n, tls) &&
			    (r = rt_path_match(t, t->wild[w].group, path, path_len)))
				return r;
		}
	}
	if (t->hostless >= 0)
		return rt_path_match(t, (uint32_t)t->hostless, path, path_len);
	return NULL;
}
