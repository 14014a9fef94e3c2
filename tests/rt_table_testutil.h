/*
 * rt_table_testutil.h - building route commands by hand for the table's
 * Check suites (no parser needed), and small lookup helpers.
 */
#ifndef RT_TABLE_TESTUTIL_H
#define RT_TABLE_TESTUTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routes/rt_cmd.h"
#include "routes/rt_table.h"

static inline char *tu_dup(const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	ck_assert_ptr_nonnull(d);
	return d;
}

/* fabio's hostpath: ":port" -> (":port", ""), "h/p" -> ("h", "/p"),
 * "/p" -> ("", "/p"), "h" -> ("h", "/"). */
static inline void tu_src(struct rt_cmd *c, const char *src)
{
	const char *slash;

	if (!src)
		return;
	c->src = tu_dup(src);
	if (src[0] == ':') {
		c->host = tu_dup(src);
		c->path = tu_dup("");
		return;
	}
	slash = strchr(src, '/');
	if (!slash) {
		c->host = tu_dup(src);
		c->path = tu_dup("/");
		return;
	}
	c->host = strndup(src, (size_t)(slash - src));
	ck_assert_ptr_nonnull(c->host);
	for (char *p = c->host; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	c->path = tu_dup(slash);
}

/* tags "a,b" (NULL or "": none) */
static inline void tu_tags(struct rt_cmd *c, const char *csv)
{
	const char *p = csv;

	if (!csv || !*csv)
		return;
	c->ntags = 1;
	for (const char *q = csv; *q; q++)
		c->ntags += *q == ',';
	c->tags = calloc(c->ntags, sizeof(*c->tags));
	ck_assert_ptr_nonnull(c->tags);
	for (size_t i = 0; i < c->ntags; i++) {
		size_t n = strcspn(p, ",");

		c->tags[i] = strndup(p, n);
		ck_assert_ptr_nonnull(c->tags[i]);
		p += n + (p[n] == ',');
	}
}

static inline struct rt_cmd *tu_push(struct rt_cmd_list *l,
				     enum rt_cmd_kind kind, unsigned line)
{
	struct rt_cmd *c = rt_cmd_list_push(l);

	ck_assert_ptr_nonnull(c);
	c->kind = kind;
	c->line = line;
	return c;
}

/* route add svc src dst [weight w (w > 0)] [tags csv] */
static inline struct rt_cmd *tu_add(struct rt_cmd_list *l, const char *svc,
				    const char *src, const char *dst,
				    double w, const char *tags)
{
	struct rt_cmd *c = tu_push(l, RT_CMD_ADD, (unsigned)l->n + 1);

	c->service = tu_dup(svc);
	tu_src(c, src);
	c->dst = tu_dup(dst);
	if (w != 0) {
		c->weight = w;
		c->has_weight = 1;
	}
	tu_tags(c, tags);
	return c;
}

/* route del [svc] [src [dst]] [tags csv] */
static inline struct rt_cmd *tu_del(struct rt_cmd_list *l, const char *svc,
				    const char *src, const char *dst,
				    const char *tags)
{
	struct rt_cmd *c = tu_push(l, RT_CMD_DEL, (unsigned)l->n + 1);

	c->service = tu_dup(svc);
	tu_src(c, src);
	c->dst = tu_dup(dst);
	tu_tags(c, tags);
	return c;
}

/* route weight [svc] src weight w [tags csv] */
static inline struct rt_cmd *tu_weight(struct rt_cmd_list *l, const char *svc,
				       const char *src, double w,
				       const char *tags)
{
	struct rt_cmd *c = tu_push(l, RT_CMD_WEIGHT, (unsigned)l->n + 1);

	c->service = tu_dup(svc);
	tu_src(c, src);
	c->weight = w;
	c->has_weight = 1;
	tu_tags(c, tags);
	return c;
}

static inline struct rt_table *tu_build(struct rt_cmd_list *l,
					enum rt_matcher m,
					struct rt_cmd_list *warnings)
{
	struct rt_build_opts o = { .matcher = m };
	struct rt_table *t = rt_table_build(l, &o, warnings);

	ck_assert_ptr_nonnull(t);
	return t;
}

/* The route host+path a request lands on ("" for none), plain HTTP. */
static inline const struct rt_route *tu_find(const struct rt_table *t,
					     const char *host, const char *path,
					     int tls)
{
	return rt_table_lookup(t, host, host ? strlen(host) : 0, path,
			       strlen(path), tls);
}

/* "host|path" of the matched route, "-" for none, in a static buffer. */
static inline const char *tu_hit(const struct rt_table *t, const char *host,
				 const char *path, int tls)
{
	static char buf[512];
	const struct rt_route *r = tu_find(t, host, path, tls);

	if (!r)
		return "-";
	snprintf(buf, sizeof(buf), "%s|%s", r->host, r->path);
	return buf;
}

/* The target of route r whose URL is url. */
static inline const struct rt_target *tu_target(const struct rt_route *r,
						const char *url)
{
	for (size_t i = 0; r && i < r->ntargets; i++) {
		if (strcmp(r->targets[i]->url, url) == 0)
			return r->targets[i];
	}
	return NULL;
}

#endif
