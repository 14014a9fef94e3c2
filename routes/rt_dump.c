/*
 * rt_dump.c - a table as fabio's `route add` text (its /api/routes?raw),
 * and the difference between two tables for the route-change log. A
 * target Consul holds down is shown commented out behind RT_DUMP_DOWN, so
 * a service going down reads "- route add ..." and "+ # down (consul)
 * route add ..." in the delta, and coming back the other way round.
 */
#include <stdlib.h>
#include <string.h>

#include "routes/rt_table_internal.h"

struct text {
	char *s;
	size_t len;
	size_t cap;
	int oom;
};

static void put(struct text *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->s, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static char *done(struct text *b)
{
	if (b->oom) {
		free(b->s);
		return NULL;
	}
	if (!b->s)
		return strdup("");
	return b->s;
}

/* One target as the `route add` that would make it; a fixed weight is
 * written, a computed share is not (fabio's TargetConfig). */
static char *target_line(const struct rt_route *r, const struct rt_target *t)
{
	struct rt_cmd c;

	memset(&c, 0, sizeof(c));
	c.kind = RT_CMD_ADD;
	c.service = t->service;
	c.instance = t->instance;
	c.host = r->host;
	c.path = r->path;
	c.dst = t->url;
	c.has_weight = t->fixed_weight > 0;
	c.weight = t->fixed_weight;
	c.tags = t->tags;
	c.ntags = t->ntags;
	c.opts = t->opts;
	return rt_cmd_format(&c);
}

char *rt_table_dump(const struct rt_table *t)
{
	struct text b = { 0 };

	for (size_t i = 0; t && i < t->nroutes; i++) {
		const struct rt_route *r = &t->routes[i];

		for (size_t k = 0; k < r->ntargets; k++) {
			const struct rt_target *x = r->targets[k];
			char *line;

			if (!(x->share > 0) && !x->consul_down)
				continue;
			line = target_line(r, x);
			if (!line) {
				b.oom = 1;
				break;
			}
			if (x->consul_down)
				put(&b, RT_DUMP_DOWN, strlen(RT_DUMP_DOWN));
			put(&b, line, strlen(line));
			put(&b, "\n", 1);
			free(line);
		}
	}
	return done(&b);
}

/* ---- delta ---------------------------------------------------------------- */

struct line {
	const char *s;
	size_t len;
	size_t order;
	int matched;
};

static struct line *split(const char *text, size_t *n)
{
	size_t count = 0, k = 0;
	struct line *v;

	for (const char *p = text; *p; p++)
		count += *p == '\n';
	v = calloc(count + 1, sizeof(*v));
	if (!v)
		return NULL;
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		v[k].s = p;
		v[k].len = len;
		v[k].order = k;
		k++;
		p += len + (nl != NULL);
	}
	*n = k;
	return v;
}

static int line_cmp(const struct line *a, const struct line *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->s, b->s, n);

	if (c)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

static int by_text(const void *pa, const void *pb)
{
	const struct line *a = *(struct line *const *)pa;
	const struct line *b = *(struct line *const *)pb;
	int c = line_cmp(a, b);

	if (c)
		return c;
	return a->order < b->order ? -1 : a->order > b->order;
}

/* Pair equal lines of old and new (as multisets); unpaired ones are the
 * difference. */
static int pair_lines(struct line *a, size_t na, struct line *b, size_t nb)
{
	struct line **pa = malloc((na + 1) * sizeof(*pa));
	struct line **pb = malloc((nb + 1) * sizeof(*pb));
	size_t i = 0, j = 0;

	if (!pa || !pb) {
		free(pa);
		free(pb);
		return -1;
	}
	for (size_t k = 0; k < na; k++)
		pa[k] = &a[k];
	for (size_t k = 0; k < nb; k++)
		pb[k] = &b[k];
	qsort(pa, na, sizeof(*pa), by_text);
	qsort(pb, nb, sizeof(*pb), by_text);
	while (i < na && j < nb) {
		int c = line_cmp(pa[i], pb[j]);

		if (c == 0) {
			pa[i++]->matched = 1;
			pb[j++]->matched = 1;
		} else if (c < 0) {
			i++;
		} else {
			j++;
		}
	}
	free(pa);
	free(pb);
	return 0;
}

static void put_unmatched(struct text *out, const struct line *v, size_t n,
			  const char *mark)
{
	for (size_t k = 0; k < n; k++) {
		if (v[k].matched)
			continue;
		put(out, mark, 2);
		put(out, v[k].s, v[k].len);
		put(out, "\n", 1);
	}
}

char *rt_table_delta(const struct rt_table *old, const struct rt_table *now)
{
	char *a = NULL, *b = NULL;
	struct line *la = NULL, *lb = NULL;
	size_t na = 0, nb = 0;
	struct text out = { 0 };

	a = old ? rt_table_dump(old) : strdup("");
	b = rt_table_dump(now);
	if (!a || !b)
		goto fail;
	la = split(a, &na);
	lb = split(b, &nb);
	if (!la || !lb || pair_lines(la, na, lb, nb) < 0)
		goto fail;
	put_unmatched(&out, la, na, "- ");
	put_unmatched(&out, lb, nb, "+ ");
	free(la);
	free(lb);
	free(a);
	free(b);
	return done(&out);
fail:
	free(la);
	free(lb);
	free(a);
	free(b);
	free(out.s);
	return NULL;
}
