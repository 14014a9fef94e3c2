/*
 * rt_build.c - applying route commands in order, as fabio's table does
 * (route/table.go addRoute, delRoute, weighRoute):
 *   add     find or make the route (host, path) and append the target
 *           unless an identical one (service, URL, fixed weight, tags) is
 *           there; a different weight makes a second target (#640);
 *   del     drop targets by service, route, URL and/or tags;
 *   weight  give the n matching targets of an existing route w/n each.
 * A target Consul holds down (rt_cmd.consul_down) is an add like any
 * other, but `route weight` passes it by: it never counts among the n.
 * Strings that repeat (services, hosts, paths, tags) are interned into
 * the table's arena as they arrive, so they compare by pointer; URLs
 * compare by hash, then text.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "routes/rt_table_internal.h"

#define NONE UINT32_MAX
/* Routes with up to this many targets find identical ones by walking
 * their chain; bigger ones through the dedup hash. */
#define DEDUP_SCAN 8

/* The identity of instance[0..ilen) and addr[0..alen). Each part is
 * hashed word by word with its length folded in, so ("ab", "c") and
 * ("a", "bc") differ; the parts are combined asymmetrically, so (x, y)
 * and (y, x) do too. */
static uint64_t identity_of(const char *instance, size_t ilen,
			    const char *addr, size_t alen)
{
	return rt_mix64(rt_hash_bytes(instance, ilen) *
			UINT64_C(0x9e3779b97f4a7c15) ^
			rt_hash_bytes(addr, alen));
}

uint64_t rt_target_identity(const char *instance, const char *addr)
{
	const char *i = instance ? instance : "", *a = addr ? addr : "";

	return identity_of(i, strlen(i), a, strlen(a));
}

int rt_builder_init(struct rt_builder *b, struct rt_arena *arena,
		    struct rt_cmd_list *warnings)
{
	memset(b, 0, sizeof(*b));
	b->arena = arena;
	b->warnings = warnings;
	rt_strset_init(&b->strs, arena, &b->tmp);
	return 0;
}

void rt_builder_free(struct rt_builder *b)
{
	if (!b)
		return;
	rt_strset_free(&b->strs);
	rt_arena_free(&b->tmp);
	b->t = NULL;
	b->r = NULL;
	b->route_slots = NULL;
	b->dedup_slots = NULL;
	b->scratch = NULL;
	b->nt = b->capt = b->nr = b->capr = 0;
	b->route_cap = b->dedup_cap = b->ndedup = 0;
	b->scratch_cap = 0;
}

/* Grow an array in the builder's temporary arena to cap elements of
 * size bytes, keeping the first n; the old copy stays in the arena until
 * the build ends. */
static void *tmp_grow(struct rt_builder *b, void *old, size_t n, size_t cap,
		      size_t size)
{
	void *p;

	if (cap > SIZE_MAX / size)
		return NULL;
	p = rt_arena_alloc_uninit(&b->tmp, cap * size, 16);
	if (p && n)
		memcpy(p, old, n * size);
	return p;
}

/* ---- small helpers ------------------------------------------------------ */

static const char *intern(struct rt_builder *b, const char *s)
{
	return s ? rt_strset_intern(&b->strs, s, strlen(s)) : NULL;
}

static char *scratch(struct rt_builder *b, size_t n)
{
	if (n > b->scratch_cap) {
		size_t cap = b->scratch_cap ? b->scratch_cap : 256;
		char *p;

		while (cap < n) {
			if (cap > SIZE_MAX / 2)
				return NULL;
			cap *= 2;
		}
		p = rt_arena_alloc_uninit(&b->tmp, cap, 1);
		if (!p)
			return NULL;
		b->scratch = p;
		b->scratch_cap = cap;
	}
	return b->scratch;
}

/* Lower-case copy of a route host in the scratch buffer; NULL when out
 * of memory. */
static const char *lower_host(struct rt_builder *b, const char *h, size_t *n)
{
	char *s;

	*n = strlen(h);
	s = scratch(b, *n + 1);
	if (!s)
		return NULL;
	for (size_t i = 0; i < *n; i++)
		s[i] = (char)rt_lower((unsigned char)h[i]);
	s[*n] = '\0';
	return s;
}

/* A warning about command c; running out of memory while warning is not
 * worth failing the build for. */
static void warn(struct rt_builder *b, const struct rt_cmd *c,
		 const char *field, const char *why)
{
	char *text;

	if (!b->warnings)
		return;
	text = rt_cmd_format(c);
	(void)rt_cmd_list_error(b->warnings, c->line, field, "%s: %s", why,
				text ? text : "route command");
	free(text);
}

static uint64_t ptr_mix(uint64_t h, const void *p)
{
	return rt_mix64(h ^ (uint64_t)(uintptr_t)p);
}

/* ---- routes by (host, path) ----------------------------------------------- */

/* A route's slot comes from the hashes of its host and path strings (not
 * from the interned pointers) so that rt_builder_prefetch can find it
 * before the strings are interned. */
static uint64_t route_hash(uint64_t host_hash, uint64_t path_hash)
{
	return rt_mix64(host_hash ^ (path_hash * UINT64_C(0x9e3779b97f4a7c15)));
}

static uint64_t str_hash(const char *s)
{
	return rt_hash_bytes(s, strlen(s));
}

static uint32_t *route_slot(const struct rt_builder *b, const char *host,
			    const char *path, uint64_t h)
{
	uint32_t mask = b->route_cap - 1;

	for (uint32_t s = (uint32_t)h & mask;; s = (s + 1) & mask) {
		uint32_t v = b->route_slots[s];

		if (!v || (b->r[v - 1].host == host && b->r[v - 1].path == path))
			return &b->route_slots[s];
	}
}

static uint32_t route_find(const struct rt_builder *b, const char *host,
			   const char *path, uint64_t h)
{
	uint32_t v;

	if (!b->route_cap || !host || !path)
		return NONE;
	v = *route_slot(b, host, path, h);
	return v ? v - 1 : NONE;
}

/* Room for n routes in the hash (at half load). */
static int route_reserve(struct rt_builder *b, uint64_t n)
{
	uint32_t cap = b->route_cap ? b->route_cap : 64;
	uint32_t *slots;

	if (2 * n <= b->route_cap)
		return 0;
	while (cap < 2 * n) {
		if (cap > UINT32_MAX / 4)
			return -ENOMEM;
		cap *= 2;
	}
	slots = rt_arena_alloc(&b->tmp, cap * sizeof(*slots), 8);
	if (!slots)
		return -ENOMEM;
	b->route_slots = slots;
	b->route_cap = cap;
	for (uint32_t i = 0; i < b->nr; i++) {
		const struct rt_build_route *r = &b->r[i];
		uint64_t h = route_hash(str_hash(r->host), str_hash(r->path));

		*route_slot(b, r->host, r->path, h) = i + 1;
	}
	return 0;
}

static uint32_t route_get(struct rt_builder *b, const char *host,
			  const char *path, uint64_t h)
{
	struct rt_build_route *r;
	uint32_t found = route_find(b, host, path, h);

	if (found != NONE)
		return found;
	if (route_reserve(b, (uint64_t)b->nr + 1) < 0)
		return NONE;
	if (b->nr == b->capr) {
		uint32_t cap = b->capr ? b->capr * 2 : 64;

		if (cap > UINT32_MAX / 4)
			return NONE;
		r = tmp_grow(b, b->r, b->nr, cap, sizeof(*r));
		if (!r)
			return NONE;
		b->r = r;
		b->capr = cap;
	}
	r = &b->r[b->nr];
	r->host = host;
	r->path = path;
	r->head = r->tail = NONE;
	r->nlive = 0;
	r->nchain = 0;
	*route_slot(b, host, path, h) = b->nr + 1;
	return b->nr++;
}

/* ---- identical targets --------------------------------------------------- */

static uint64_t dedup_hash(uint32_t route, const char *service,
			   uint64_t url_hash, double fixed, const char **tags,
			   uint32_t ntags, int down)
{
	uint64_t h = rt_mix64((uint64_t)route + 1), bits;

	if (down)
		h = rt_mix64(~h);
	h = ptr_mix(h, service);
	h = rt_mix64(h ^ url_hash);
	memcpy(&bits, &fixed, sizeof(bits));
	h = rt_mix64(h ^ bits);
	for (uint32_t i = 0; i < ntags; i++)
		h = ptr_mix(h, tags[i]);
	return h;
}

/* What makes two targets identical for fabio's add; a down target and a
 * live one are never the same, so an override cannot be swallowed by a
 * target Consul holds down, nor the other way round. */
struct ident {
	uint64_t hash;
	uint32_t route;
	const char *service;
	uint64_t url_hash;
	const char *url;
	double fixed;
	const char **tags;
	uint32_t ntags;
	uint8_t down;
};

static int same_target(const struct rt_build_target *t, const struct ident *k)
{
	if (t->dead || t->dedup_hash != k->hash || t->route != k->route ||
	    t->service != k->service || t->url_hash != k->url_hash ||
	    t->fixed != k->fixed || t->ntags != k->ntags ||
	    t->down != k->down || strcmp(t->url, k->url) != 0)
		return 0;
	for (uint32_t i = 0; i < k->ntags; i++) {
		if (t->tags[i] != k->tags[i])
			return 0;
	}
	return 1;
}

/* A dedup slot: the hash's high half beside the target number, so that
 * a probe past other keys does not have to read their targets. */
static uint64_t dedup_slot(uint64_t hash, uint32_t ti)
{
	return (hash & UINT64_C(0xffffffff00000000)) | ((uint64_t)ti + 1);
}

/* Whether route r's targets are found through the hash (see dedup_has). */
static int route_hashed(const struct rt_build_route *r)
{
	return r->nchain > DEDUP_SCAN;
}

static void dedup_put(struct rt_builder *b, uint32_t ti)
{
	uint32_t mask = b->dedup_cap - 1;
	uint32_t s = (uint32_t)b->t[ti].dedup_hash & mask;

	while (b->dedup_slots[s])
		s = (s + 1) & mask;
	b->dedup_slots[s] = dedup_slot(b->t[ti].dedup_hash, ti);
	b->ndedup++;
}

/* Room for n entries at half load; a rehash drops dead targets' entries.
 * Only targets of hashed routes have entries. */
static int dedup_reserve(struct rt_builder *b, uint64_t n)
{
	uint32_t cap = b->dedup_cap ? b->dedup_cap : 64;
	uint64_t *slots;

	if (2 * n <= b->dedup_cap)
		return 0;
	while (cap < 2 * n) {
		if (cap > UINT32_MAX / 4)
			return -ENOMEM;
		cap *= 2;
	}
	slots = rt_arena_alloc(&b->tmp, cap * sizeof(*slots), 8);
	if (!slots)
		return -ENOMEM;
	b->dedup_slots = slots;
	b->dedup_cap = cap;
	b->ndedup = 0;
	for (uint32_t i = 0; i < b->nt; i++) {
		if (!b->t[i].dead && route_hashed(&b->r[b->t[i].route]))
			dedup_put(b, i);
	}
	return 0;
}

/* Give target ti of a hashed route its entry (again, after its weight
 * changed: the old entry no longer compares equal). 0 or -ENOMEM. */
static int dedup_add(struct rt_builder *b, uint32_t ti)
{
	if (dedup_reserve(b, (uint64_t)b->ndedup + 1) < 0)
		return -ENOMEM;
	dedup_put(b, ti);
	return 0;
}

/*
 * Whether a live target identical to k is on its route. Most routes have
 * a handful of targets, added one after the other: walking the route's
 * chain reads memory that is still in cache. A route that grows past
 * DEDUP_SCAN targets moves to the hash, so a service with thousands of
 * instances on one route is not quadratic.
 */
static int dedup_has(const struct rt_builder *b, const struct ident *k)
{
	const struct rt_build_route *r = &b->r[k->route];
	uint32_t mask = b->dedup_cap - 1;

	if (!route_hashed(r)) {
		for (uint32_t ti = r->head; ti != NONE; ti = b->t[ti].next) {
			if (same_target(&b->t[ti], k))
				return 1;
		}
		return 0;
	}
	for (uint32_t s = (uint32_t)k->hash & mask;; s = (s + 1) & mask) {
		uint64_t v = b->dedup_slots[s];

		if (!v)
			return 0;
		if ((v >> 32) == (k->hash >> 32) &&
		    same_target(&b->t[(uint32_t)v - 1], k))
			return 1;
	}
}

/* Append target ti to its route's chain; when the route becomes hashed,
 * every live target of it gets its entry. 0 or -ENOMEM. */
static int route_append(struct rt_builder *b, uint32_t ti)
{
	struct rt_build_route *r = &b->r[b->t[ti].route];

	if (r->tail == NONE)
		r->head = ti;
	else
		b->t[r->tail].next = ti;
	r->tail = ti;
	r->nlive++;
	if (r->nchain == DEDUP_SCAN) {
		/* room first: a rehash now still leaves this route out */
		if (dedup_reserve(b, (uint64_t)b->ndedup + r->nlive) < 0)
			return -ENOMEM;
		r->nchain++;
		for (uint32_t x = r->head; x != NONE; x = b->t[x].next) {
			if (!b->t[x].dead)
				dedup_put(b, x);
		}
		return 0;
	}
	r->nchain++;
	if (route_hashed(r))
		return dedup_add(b, ti);
	return 0;
}

int rt_builder_reserve(struct rt_builder *b, size_t nadd)
{
	if (nadd > UINT32_MAX / 4)
		return -ENOMEM;
	if (nadd > b->capt) {
		struct rt_build_target *t = tmp_grow(b, b->t, b->nt, nadd,
						     sizeof(*t));

		if (!t)
			return -ENOMEM;
		b->t = t;
		b->capt = (uint32_t)nadd;
	}
	/* a route per add at most */
	if (nadd > b->capr) {
		struct rt_build_route *r = tmp_grow(b, b->r, b->nr, nadd,
						    sizeof(*r));

		if (!r)
			return -ENOMEM;
		b->r = r;
		b->capr = (uint32_t)nadd;
	}
	if (route_reserve(b, nadd) < 0)
		return -ENOMEM;
	/* services, hosts and paths mostly repeat; the set grows if not */
	return rt_strset_reserve(&b->strs, nadd);
}

/* ---- the target's address --------------------------------------------------- */

/*
 * The parts of scheme://[user@]host[:port][/...]: the scheme and the
 * authority without user info. -EINVAL when it is not such a URL.
 */
static int split_url(const char *url, const char **scheme, size_t *slen,
		     const char **auth, size_t *alen)
{
	const char *sep = url, *a, *end, *at;

	/* RFC 3986 scheme characters up to "://" */
	while ((*sep >= 'a' && *sep <= 'z') || (*sep >= 'A' && *sep <= 'Z') ||
	       (*sep >= '0' && *sep <= '9') || *sep == '+' || *sep == '-' ||
	       *sep == '.')
		sep++;
	if (sep == url || sep[0] != ':' || sep[1] != '/' || sep[2] != '/')
		return -EINVAL;
	a = sep + 3;
	end = a + strcspn(a, "/?#");
	while ((at = memchr(a, '@', (size_t)(end - a))))
		a = at + 1;
	if (end == a)
		return -EINVAL;
	*scheme = url;
	*slen = (size_t)(sep - url);
	*auth = a;
	*alen = (size_t)(end - a);
	return 0;
}

/* The scheme in lower case (interned) of a URL split by split_url, and
 * in *dflt what to append to its authority to make its address
 * (host:port): a URL without a port gets its scheme's default (http 80,
 * https 443) so that one upstream has one address; else "". 0 or
 * -ENOMEM. */
static int url_scheme(struct rt_builder *b, const char *s0, size_t slen,
		      const char *a, size_t alen, const char **scheme,
		      const char **dflt)
{
	const char *port = NULL;
	char *s;

	if (b->prev_scheme && strncasecmp(b->prev_scheme, s0, slen) == 0 &&
	    b->prev_scheme[slen] == '\0') {
		*scheme = b->prev_scheme;
	} else {
		s = scratch(b, slen + 1);
		if (!s)
			return -ENOMEM;
		for (size_t i = 0; i < slen; i++)
			s[i] = (char)rt_lower((unsigned char)s0[i]);
		*scheme = rt_strset_intern(&b->strs, s, slen);
		if (!*scheme)
			return -ENOMEM;
		b->prev_scheme = *scheme;
	}
	if (a[0] == '[') {
		const char *close = memchr(a, ']', alen);

		if (close && close + 1 < a + alen && close[1] == ':')
			port = close + 1;
	} else {
		const char *colon = memchr(a, ':', alen);

		if (colon && !memchr(colon + 1, ':', (size_t)(a + alen - colon - 1)))
			port = colon;
	}
	*dflt = "";
	if (!port) {
		if (strcmp(*scheme, "http") == 0 || strcmp(*scheme, "ws") == 0)
			*dflt = ":80";
		else if (strcmp(*scheme, "https") == 0 ||
			 strcmp(*scheme, "wss") == 0)
			*dflt = ":443";
	}
	return 0;
}

/* An arena copy of s (NULL stays NULL). 0 or -ENOMEM. */
static int copy_str(struct rt_builder *b, char **dst, const char *src)
{
	*dst = NULL;
	if (src && !(*dst = rt_arena_strndup(b->arena, src, strlen(src))))
		return -ENOMEM;
	return 0;
}

/* The options with every string in the arena. Scalars come with the
 * struct copy; the pointers are then replaced one by one. They are not
 * interned: a service's instances share one copy already (target_opts),
 * and other services seldom write the same options. */
static int copy_opts(struct rt_builder *b, struct rt_opts *dst,
		     const struct rt_opts *src)
{
	*dst = *src;
	if (copy_str(b, &dst->strip, src->strip) < 0 ||
	    copy_str(b, &dst->prepend, src->prepend) < 0 ||
	    copy_str(b, &dst->host, src->host) < 0 ||
	    copy_str(b, &dst->redirect_url, src->redirect_url) < 0 ||
	    copy_str(b, &dst->register_name, src->register_name) < 0 ||
	    copy_str(b, &dst->check, src->check) < 0 ||
	    copy_str(b, &dst->raw, src->raw) < 0)
		return -ENOMEM;
	dst->allow = NULL;
	dst->deny = NULL;
	if (src->allow && src->nallow) {
		dst->allow = rt_arena_alloc(b->arena,
					    src->nallow * sizeof(*dst->allow), 8);
		if (!dst->allow)
			return -ENOMEM;
		memcpy(dst->allow, src->allow, src->nallow * sizeof(*dst->allow));
	} else {
		dst->nallow = 0;
	}
	if (src->deny && src->ndeny) {
		dst->deny = rt_arena_alloc(b->arena,
					   src->ndeny * sizeof(*dst->deny), 8);
		if (!dst->deny)
			return -ENOMEM;
		memcpy(dst->deny, src->deny, src->ndeny * sizeof(*dst->deny));
	} else {
		dst->ndeny = 0;
	}
	return 0;
}

static int same_str(const char *interned, const char *s)
{
	return interned == s || (interned && s && strcmp(interned, s) == 0);
}

static int same_cidrs(const struct rt_cidr *a, size_t na,
		      const struct rt_cidr *b, size_t nb)
{
	return na == nb && (na == 0 || memcmp(a, b, na * sizeof(*a)) == 0);
}

/* Whether the arena options o say what the command's options c say. */
static int same_opts(const struct rt_opts *o, const struct rt_opts *c)
{
	return o->proto == c->proto && o->tlsskipverify == c->tlsskipverify &&
	       o->redirect_code == c->redirect_code &&
	       same_str(o->strip, c->strip) && same_str(o->prepend, c->prepend) &&
	       same_str(o->host, c->host) &&
	       same_str(o->redirect_url, c->redirect_url) &&
	       same_str(o->register_name, c->register_name) &&
	       same_str(o->check, c->check) && same_str(o->raw, c->raw) &&
	       same_cidrs(o->allow, o->nallow, c->allow, c->nallow) &&
	       same_cidrs(o->deny, o->ndeny, c->deny, c->ndeny);
}

/* Options for a new target: the previous target's when they are equal
 * (the instances of a service share their tags), else a new copy. */
static const struct rt_opts *target_opts(struct rt_builder *b,
					 const struct rt_opts *src)
{
	struct rt_opts *o;

	if (b->prev_opts && same_opts(b->prev_opts, src))
		return b->prev_opts;
	o = rt_arena_alloc(b->arena, sizeof(*o), _Alignof(struct rt_opts));
	if (!o || copy_opts(b, o, src) < 0)
		return NULL;
	b->prev_opts = o;
	return o;
}

void rt_builder_freeze_target(const struct rt_build_target *bt,
			      struct rt_target *out)
{
	*out = (struct rt_target){
		.service = (char *)bt->service,
		.instance = (char *)bt->instance,
		.url = (char *)bt->url,
		.scheme = (char *)bt->scheme,
		.addr = (char *)bt->addr,
		.identity = bt->identity,
		.tags = (char **)bt->tags,
		.ntags = bt->ntags,
		.fixed_weight = bt->fixed,
		.consul_weight = bt->consul_weight,
		.consul_down = bt->down,
		.opts = *bt->opts,
	};
}

/* ---- add ----------------------------------------------------------------- */

static int same_tags(const struct rt_cmd *a, const struct rt_cmd *c)
{
	if (a->ntags != c->ntags)
		return 0;
	for (size_t i = 0; i < c->ntags; i++) {
		if (!same_str(a->tags[i] ? a->tags[i] : "",
			      c->tags[i] ? c->tags[i] : ""))
			return 0;
	}
	return 1;
}

/* A tag, interned. Tags come from a small vocabulary (versions, zones,
 * canary) that repeats in no particular order: a small direct-mapped
 * cache of interned tags answers most of them with one comparison. */
static const char *intern_tag(struct rt_builder *b, const char *s)
{
	size_t n = strlen(s);
	unsigned k = n ? (unsigned)(n * 31 + (unsigned char)s[0] * 7 +
				    (unsigned char)s[n - 1]) : 0;
	const char **slot = &b->tag_cache[k % RT_TAG_CACHE];

	if (*slot && strcmp(*slot, s) == 0)
		return *slot;
	*slot = rt_strset_intern(&b->strs, s, n);
	return *slot;
}

static int apply_add(struct rt_builder *b, const struct rt_cmd *c)
{
	const char *host, *path, *s0, *a, *dflt;
	size_t n, slen, alen, ulen, ilen, plen;
	uint64_t hh, ph;
	char *p;
	struct rt_build_target *t;
	struct ident k;

	if (!c->service || !c->host || !c->path || !c->dst) {
		warn(b, c, "add", "incomplete route add skipped");
		return 0;
	}
	memset(&k, 0, sizeof(k));
	if (c->has_weight) {
		if (!isfinite(c->weight)) {
			warn(b, c, "weight", "weight is not a number, skipped");
			return 0;
		}
		if (c->weight > 0)
			k.fixed = c->weight;
	}
	if (split_url(c->dst, &s0, &slen, &a, &alen) < 0) {
		warn(b, c, "dst", "target is not a URL, skipped");
		return 0;
	}
	/* Generated commands come grouped by service and route: the
	 * previous add's interned strings are the likely answer. */
	if (b->prev && strcmp(b->prev->host, c->host) == 0) {
		host = b->prev_host;
		hh = b->prev_host_hash;
	} else {
		if (!(host = lower_host(b, c->host, &n)))
			return -ENOMEM;
		hh = rt_hash_bytes(host, n);
		if (!(host = rt_strset_intern_h(&b->strs, host, n, hh)))
			return -ENOMEM;
	}
	if (b->prev && strcmp(b->prev->path, c->path) == 0) {
		path = b->prev_path;
		ph = b->prev_path_hash;
	} else {
		n = strlen(c->path);
		ph = rt_hash_bytes(c->path, n);
		if (!(path = rt_strset_intern_h(&b->strs, c->path, n, ph)))
			return -ENOMEM;
	}
	if (b->prev && strcmp(b->prev->service, c->service) == 0)
		k.service = b->prev_service;
	else if (!(k.service = intern(b, c->service)))
		return -ENOMEM;
	if (c->ntags > UINT32_MAX / 2)
		return -ENOMEM;
	if (b->prev && same_tags(b->prev, c)) {
		k.tags = b->prev_tags;
	} else if (c->ntags) {
		k.tags = rt_arena_alloc_uninit(b->arena, c->ntags * sizeof(*k.tags),
					       sizeof(*k.tags));
		if (!k.tags)
			return -ENOMEM;
		for (size_t i = 0; i < c->ntags; i++) {
			/* instances of a service share most of their tags */
			if (b->prev && i < b->prev->ntags &&
			    same_str(b->prev->tags[i], c->tags[i]))
				k.tags[i] = b->prev_tags[i];
			else if (!(k.tags[i] = intern_tag(b, c->tags[i] ? c->tags[i] : "")))
				return -ENOMEM;
		}
	}
	k.ntags = (uint32_t)c->ntags;
	if (b->prev && host == b->prev_host && path == b->prev_path)
		k.route = b->prev_route;
	else if ((k.route = route_get(b, host, path, route_hash(hh, ph))) == NONE)
		return -ENOMEM;
	b->prev = c;
	b->prev_host = host;
	b->prev_path = path;
	b->prev_host_hash = hh;
	b->prev_path_hash = ph;
	b->prev_service = k.service;
	b->prev_tags = k.tags;
	b->prev_route = k.route;
	k.url = c->dst;
	ulen = strlen(c->dst);
	k.url_hash = rt_hash_bytes(c->dst, ulen);
	k.down = c->consul_down != 0;
	k.hash = dedup_hash(k.route, k.service, k.url_hash, k.fixed, k.tags,
			    k.ntags, k.down);
	if (dedup_has(b, &k))
		return 0;
	if (b->nt == b->capt) {
		uint32_t cap = b->capt ? b->capt * 2 : 64;

		if (cap > UINT32_MAX / 4)
			return -ENOMEM;
		t = tmp_grow(b, b->t, b->nt, cap, sizeof(*t));
		if (!t)
			return -ENOMEM;
		b->t = t;
		b->capt = cap;
	}
	t = &b->t[b->nt];
	memset(t, 0, sizeof(*t));
	if (url_scheme(b, s0, slen, a, alen, &t->scheme, &dflt) < 0 ||
	    !(t->opts = target_opts(b, &c->opts)))
		return -ENOMEM;
	/* url, addr and instance in one piece of the arena */
	ilen = c->instance ? strlen(c->instance) + 1 : 0;
	plen = strlen(dflt);
	if (!(p = rt_arena_alloc_uninit(b->arena, ulen + alen + plen + ilen + 2,
					1)))
		return -ENOMEM;
	t->url = p;
	memcpy(p, c->dst, ulen + 1);
	p += ulen + 1;
	t->addr = p;
	memcpy(p, a, alen);
	memcpy(p + alen, dflt, plen);
	p[alen + plen] = '\0';
	p += alen + plen + 1;
	if (c->instance) {
		t->instance = p;
		memcpy(p, c->instance, ilen);
	}
	t->identity = c->instance ? identity_of(t->instance, ilen - 1, t->addr,
						alen + plen)
				  : identity_of("", 0, t->addr, alen + plen);
	t->dedup_hash = k.hash;
	t->url_hash = k.url_hash;
	t->service = k.service;
	t->tags = k.tags;
	t->ntags = k.ntags;
	t->route = k.route;
	t->next = NONE;
	t->fixed = k.fixed;
	t->consul_weight = c->consul_weight ? c->consul_weight : 1;
	t->down = k.down;
	b->nt++;
	return route_append(b, b->nt - 1);
}

/* ---- selecting targets for del and weight ----------------------------------- */

/* What a del or weight command selects. A service or tag that was never
 * interned belongs to no target: impossible. */
struct selector {
	const char *service;       /* NULL: any */
	const char *url;           /* NULL: any */
	uint64_t url_hash;
	const char **tags;         /* every one must be among the target's */
	size_t ntags;
	int impossible;
};

static int has_tags(const struct rt_build_target *t, const char **tags,
		    size_t ntags)
{
	for (size_t i = 0; i < ntags; i++) {
		uint32_t j = 0;

		while (j < t->ntags && t->tags[j] != tags[i])
			j++;
		if (j == t->ntags)
			return 0;
	}
	return 1;
}

static int selects(const struct selector *s, const struct rt_build_target *t)
{
	return !t->dead && (!s->service || t->service == s->service) &&
	       (!s->url || (t->url_hash == s->url_hash &&
			    strcmp(t->url, s->url) == 0)) &&
	       has_tags(t, s->tags, s->ntags);
}

static const char *find_str(const struct rt_builder *b, const char *s,
			    int *impossible)
{
	const char *v = rt_strset_find(&b->strs, s, strlen(s));

	if (!v)
		*impossible = 1;
	return v;
}

/* tags points to a caller array of c->ntags entries. */
static void selector_init(const struct rt_builder *b, const struct rt_cmd *c,
			  struct selector *s, const char **tags, int with_url)
{
	memset(s, 0, sizeof(*s));
	if (c->service)
		s->service = find_str(b, c->service, &s->impossible);
	if (with_url && c->dst) {
		s->url = c->dst;
		s->url_hash = rt_hash_bytes(c->dst, strlen(c->dst));
	}
	for (size_t i = 0; i < c->ntags; i++)
		tags[i] = find_str(b, c->tags[i] ? c->tags[i] : "",
				   &s->impossible);
	s->tags = tags;
	s->ntags = c->ntags;
}

/* The route a command's src names, or NONE (also when out of memory,
 * which then only loses the command). */
static uint32_t cmd_route(struct rt_builder *b, const struct rt_cmd *c)
{
	const char *host, *path;
	uint64_t hh, ph;
	size_t n;

	if (!c->host || !c->path || !(host = lower_host(b, c->host, &n)))
		return NONE;
	hh = rt_hash_bytes(host, n);
	host = rt_strset_find_h(&b->strs, host, n, hh);
	n = strlen(c->path);
	ph = rt_hash_bytes(c->path, n);
	path = rt_strset_find_h(&b->strs, c->path, n, ph);
	return route_find(b, host, path, route_hash(hh, ph));
}

static void kill_target(struct rt_builder *b, uint32_t ti)
{
	b->t[ti].dead = 1;
	b->r[b->t[ti].route].nlive--;
}

/* ---- del -------------------------------------------------------------------- */

static int apply_del(struct rt_builder *b, const struct rt_cmd *c)
{
	const char **tags = NULL;
	struct selector s;
	uint32_t route;

	if (!c->service && c->ntags == 0) {
		warn(b, c, "del", "route del selects nothing, skipped");
		return 0;
	}
	if (c->ntags && !(tags = rt_arena_alloc_uninit(&b->tmp,
			c->ntags * sizeof(*tags), sizeof(*tags))))
		return -ENOMEM;
	selector_init(b, c, &s, tags, c->host != NULL);
	if (s.impossible)
		goto out;
	if (c->host) {
		route = cmd_route(b, c);
		if (route == NONE)
			goto out;
		for (uint32_t ti = b->r[route].head; ti != NONE; ti = b->t[ti].next) {
			if (selects(&s, &b->t[ti]))
				kill_target(b, ti);
		}
	} else {
		for (uint32_t ti = 0; ti < b->nt; ti++) {
			if (selects(&s, &b->t[ti]))
				kill_target(b, ti);
		}
	}
out:
	return 0;
}

/* ---- weight ----------------------------------------------------------------- */

/* A target `route weight` applies to: selected and not held down by
 * Consul. fabio never sees such a target, so it must not change the n of
 * w/n for the others (nor take a weight it could never use). */
static int weighable(const struct selector *s, const struct rt_build_target *t)
{
	return !t->down && selects(s, t);
}

static int apply_weight(struct rt_builder *b, const struct rt_cmd *c)
{
	const char **tags = NULL;
	struct selector s;
	uint32_t route, n = 0;
	double w;
	int rc = 0;

	if (!c->has_weight || !isfinite(c->weight)) {
		warn(b, c, "weight", "weight is not a number, skipped");
		return 0;
	}
	if (c->ntags && !(tags = rt_arena_alloc_uninit(&b->tmp,
			c->ntags * sizeof(*tags), sizeof(*tags))))
		return -ENOMEM;
	selector_init(b, c, &s, tags, 0);
	route = s.impossible ? NONE : cmd_route(b, c);
	if (route != NONE) {
		for (uint32_t ti = b->r[route].head; ti != NONE; ti = b->t[ti].next)
			n += weighable(&s, &b->t[ti]);
	}
	if (n == 0) {
		warn(b, c, "weight", "no target matches, skipped");
		goto out;
	}
	/* the weight is for all matching targets together (fabio's w/n);
	 * w <= 0 makes them dynamic again */
	w = c->weight / n;
	if (!(w > 0))
		w = 0;
	for (uint32_t ti = b->r[route].head; ti != NONE; ti = b->t[ti].next) {
		struct rt_build_target *t = &b->t[ti];

		if (!weighable(&s, t))
			continue;
		t->fixed = w;
		/* identical-target detection must see the new weight; the
		 * old entry stays but no longer compares equal */
		t->dedup_hash = dedup_hash(t->route, t->service, t->url_hash,
					   t->fixed, t->tags, t->ntags, 0);
		if (route_hashed(&b->r[route]) && dedup_add(b, ti) < 0) {
			rc = -ENOMEM;
			goto out;
		}
	}
out:
	return rc;
}

/* Start loading the string slot of s unless it is the same as the
 * previous command's (which the builder remembers); its hash, or 0. */
static uint64_t prefetch_str(const struct rt_builder *b, const char *s,
			     const char *before)
{
	uint64_t h;

	if (!s || (before && strcmp(s, before) == 0))
		return 0;
	h = str_hash(s);
	rt_strset_prefetch(&b->strs, h);
	return h;
}

void rt_builder_prefetch(const struct rt_builder *b, const struct rt_cmd *c,
			 const struct rt_cmd *before)
{
	uint64_t hh, ph;

	if (!b->strs.cap)
		return;
	if (before && before->kind != c->kind)
		before = NULL;
	/* not the tags: they come from few words that stay in cache */
	prefetch_str(b, c->service, before ? before->service : NULL);
	if (!c->host || !c->path)
		return;
	/* hosts are lower case already unless built by hand */
	hh = prefetch_str(b, c->host, before ? before->host : NULL);
	ph = prefetch_str(b, c->path, before ? before->path : NULL);
	if (b->route_cap && (hh || ph)) {
		uint64_t h = route_hash(hh ? hh : str_hash(c->host),
					ph ? ph : str_hash(c->path));

		__builtin_prefetch(&b->route_slots[(uint32_t)h & (b->route_cap - 1)]);
	}
}

int rt_builder_apply(struct rt_builder *b, const struct rt_cmd *c)
{
	switch (c->kind) {
	case RT_CMD_ADD:
		return apply_add(b, c);
	case RT_CMD_DEL:
		return apply_del(b, c);
	case RT_CMD_WEIGHT:
		return apply_weight(b, c);
	}
	warn(b, c, "route", "unknown command skipped");
	return 0;
}
