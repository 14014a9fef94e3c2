/*
 * rt_host.c - hosts: the port rule fabio applies to both sides, which
 * route hosts are patterns and in which order they are tried, and the
 * hash of exact hosts (one probe per request, whatever the table size).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "routes/rt_table_internal.h"

/* The length of h without a ":80" (plain) or ":443" (TLS) port. The port
 * is what follows the ']' of an IPv6 literal, or the only ':' of a name
 * or IPv4 address; a bare IPv6 address has none. */
static size_t strip_default_port(const char *h, size_t len, int tls)
{
	const char *port = tls ? "443" : "80";
	size_t plen = tls ? 3 : 2, colon;

	if (len < plen + 1)
		return len;
	colon = len - plen - 1;
	if (h[colon] != ':' || memcmp(h + colon + 1, port, plen) != 0)
		return len;
	if (h[0] == '[')
		return colon > 0 && h[colon - 1] == ']' ? colon : len;
	if (memchr(h, ':', colon))
		return len;
	return colon;
}

/* ASCII A-Z to a-z in eight bytes at once; other bytes (also UTF-8) are
 * left alone. */
static uint64_t lower8(uint64_t x)
{
	const uint64_t ones = UINT64_C(0x0101010101010101);
	uint64_t low7 = x & (ones * 0x7f);
	uint64_t ge_a = low7 + ones * (0x80 - 'A');
	uint64_t gt_z = low7 + ones * (0x7f - 'Z');
	uint64_t upper = (ge_a ^ gt_z) & ~x & (ones * 0x80);

	return x | (upper >> 2);
}

long rt_host_normalize(const char *host, size_t len, int tls, char *buf,
		       size_t size)
{
	size_t i = 0;

	if (size == 0 || len > size - 1)
		return -1;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, host + i, 8);
		w = lower8(w);
		memcpy(buf + i, &w, 8);
	}
	for (; i < len; i++)
		buf[i] = (char)rt_lower((unsigned char)host[i]);
	len = strip_default_port(buf, len, tls);
	buf[len] = '\0';
	return (long)len;
}

int rt_host_is_wildcard(const char *host)
{
	const char *close;

	if (strpbrk(host, "*?"))
		return 1;
	if (!strchr(host, '['))
		return 0;
	/* "[::1]:8080": a bracketed IPv6 literal, not a class */
	close = strchr(host, ']');
	if (host[0] == '[' && close && memchr(host, ':', (size_t)(close - host)) &&
	    !strchr(close + 1, '['))
		return 0;
	return 1;
}

static size_t labels(const char *h)
{
	size_t n = 1;

	for (; *h; h++)
		n += *h == '.';
	return n;
}

int rt_host_wildcard_cmp(const char *a, const char *b)
{
	size_t la = labels(a), lb = labels(b);
	size_t na = strlen(a), nb = strlen(b);

	if (la != lb)
		return la > lb ? -1 : 1;
	if (na != nb)
		return na > nb ? -1 : 1;
	return strcmp(a, b);
}

/* ---- the exact-host hash ------------------------------------------------ */

/* The single-route shortcut of slot e, for group g (see rt_host_slot). */
static void single_route(const struct rt_table *t, struct rt_host_slot *e,
			 const struct rt_group *g)
{
	const char *p = t->routes[g->first_route].path;
	size_t n = strlen(p);

	e->route = UINT32_MAX;
	if (g->nroutes != 1 || t->matcher == RT_MATCH_GLOB || n > RT_HOST_RKEY)
		return;
	for (size_t i = 0; i < n; i++)
		e->rkey[i] = t->matcher == RT_MATCH_IPREFIX
			     ? (char)rt_lower((unsigned char)p[i]) : p[i];
	e->rkey_len = (uint8_t)n;
	e->route = g->first_route;
}

static int slot_eq(const struct rt_host_slot *e, uint64_t h, const char *key,
		   size_t len)
{
	return e->hash == h && e->key_len == len &&
	       memcmp(len <= RT_HOST_INLINE ? e->inl : e->key, key, len) == 0;
}

int rt_host_index_build(struct rt_table *t)
{
	struct rt_host_index *hi = &t->hosts;
	uint64_t cap = 4;

	memset(hi, 0, sizeof(*hi));
	if (t->nexact == 0)
		return 0;
	while (cap * 3 < 4 * (uint64_t)t->nexact)
		cap *= 2;
	if (cap > UINT32_MAX)
		return -ENOMEM;
	hi->slots = rt_arena_alloc(&t->arena, cap * sizeof(*hi->slots),
				   RT_CACHE_LINE);
	if (!hi->slots)
		return -ENOMEM;
	hi->mask = (uint32_t)cap - 1;
	for (uint32_t g = 0; g < t->nexact; g++) {
		const char *host = t->routes[t->groups[g].first_route].host;
		size_t len = strlen(host);
		uint64_t h = rt_slot_hash(rt_hash_bytes(host, len));
		uint32_t s = (uint32_t)h & hi->mask;
		struct rt_host_slot *e;

		/* hosts in sorted order lie all over the arena */
		if (g + 8 < t->nexact)
			__builtin_prefetch(t->routes[t->groups[g + 8].first_route].host);

		/* no request host is longer: it could never be found */
		if (len > RT_HOST_MAX)
			continue;
		while (hi->slots[s].hash)
			s = (s + 1) & hi->mask;
		e = &hi->slots[s];
		e->hash = h;
		e->key = host;
		e->key_len = (uint16_t)len;
		e->group = g;
		single_route(t, e, &t->groups[g]);
		if (len <= RT_HOST_INLINE)
			memcpy(e->inl, host, len);
		for (int tls = 0; tls < 2; tls++) {
			e->strip[tls] = strip_default_port(host, len, tls) != len;
			hi->strip[tls] |= e->strip[tls];
		}
		hi->n++;
	}
	return 0;
}

const struct rt_host_slot *rt_host_find(const struct rt_host_index *hi,
					const char *key, size_t len)
{
	uint64_t h;

	if (!hi->n)
		return NULL;
	h = rt_slot_hash(rt_hash_bytes(key, len));
	for (uint32_t s = (uint32_t)h & hi->mask;; s = (s + 1) & hi->mask) {
		const struct rt_host_slot *e = &hi->slots[s];

		if (!e->hash)
			return NULL;
		if (slot_eq(e, h, key, len))
			return e;
	}
}
