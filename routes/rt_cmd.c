/*
 * rt_cmd.c - the command list shared by rt_tags, rt_parse and rt_table:
 * growing it, recording rejected lines, freeing, copying options, and
 * printing a command back in the route language.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routes/rt_cmd.h"

/*
 * The storage of commands' strings: chunks that commands are carved from
 * one after the other. A chunk counts the commands holding strings in it
 * and the list still filling it, and goes with the last of them; the
 * count is atomic because commands may be moved and cleared anywhere.
 */
struct store {
	atomic_size_t refs;
	size_t size;
	size_t used;
	_Alignas(max_align_t) unsigned char data[];
};

/* Big enough that a rebuild of 30,000 commands makes a few hundred
 * allocations, small enough that a command kept alone keeps little. */
#define STORE_CHUNK (8 * 1024)

static void store_unref(void *p)
{
	struct store *st = p;

	if (st && atomic_fetch_sub_explicit(&st->refs, 1,
					    memory_order_acq_rel) == 1)
		free(st);
}

void *rt_cmd_store(struct rt_cmd_list *l, struct rt_cmd *c, size_t size)
{
	struct store *st = l->store;
	size_t need = (size + sizeof(void *) - 1) & ~(sizeof(void *) - 1);
	void *p;

	if (need < size)
		return NULL;
	if (!st || st->size - st->used < need) {
		size_t cap = need > STORE_CHUNK ? need : STORE_CHUNK;

		if (cap > SIZE_MAX - sizeof(*st))
			return NULL;
		st = malloc(sizeof(*st) + cap);
		if (!st)
			return NULL;
		atomic_init(&st->refs, 1);
		st->size = cap;
		st->used = 0;
		store_unref(l->store);
		l->store = st;
	}
	p = st->data + st->used;
	st->used += need;
	atomic_fetch_add_explicit(&st->refs, 1, memory_order_relaxed);
	c->block = st;
	return p;
}

struct rt_cmd *rt_cmd_list_push(struct rt_cmd_list *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct rt_cmd *v;

		if (cap > SIZE_MAX / sizeof(*v))
			return NULL;
		v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	memset(&l->v[l->n], 0, sizeof(l->v[l->n]));
	return &l->v[l->n++];
}

int rt_cmd_list_error(struct rt_cmd_list *l, unsigned line, const char *field,
		      const char *fmt, ...)
{
	struct rt_err *e;
	va_list ap;

	if (l->nerrs == l->errs_cap) {
		size_t cap = l->errs_cap ? l->errs_cap * 2 : 8;
		struct rt_err *v;

		if (cap > SIZE_MAX / sizeof(*v))
			return -ENOMEM;
		v = realloc(l->errs, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->errs = v;
		l->errs_cap = cap;
	}
	e = &l->errs[l->nerrs++];
	memset(e, 0, sizeof(*e));
	e->line = line;
	snprintf(e->field, sizeof(e->field), "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return 0;
}

/* Free what the options point to, without zeroing them. */
static void opts_free(struct rt_opts *o)
{
	free(o->strip);
	free(o->prepend);
	free(o->host);
	free(o->redirect_url);
	free(o->allow);
	free(o->deny);
	free(o->register_name);
	free(o->check);
	free(o->raw);
}

void rt_opts_clear(struct rt_opts *o)
{
	if (!o)
		return;
	opts_free(o);
	memset(o, 0, sizeof(*o));
}

/* Free what a command points to, without zeroing it. */
static void cmd_free(struct rt_cmd *c)
{
	if (c->block) {
		store_unref(c->block);
	} else {
		free(c->service);
		free(c->instance);
		free(c->src);
		free(c->host);
		free(c->path);
		free(c->dst);
		for (size_t i = 0; i < c->ntags; i++)
			free(c->tags[i]);
		free(c->tags);
	}
	/* options are set on few commands: skip the calls when empty */
	if (c->opts.raw || c->opts.strip || c->opts.prepend || c->opts.host ||
	    c->opts.redirect_url || c->opts.allow || c->opts.deny ||
	    c->opts.register_name || c->opts.check)
		opts_free(&c->opts);
}

void rt_cmd_clear(struct rt_cmd *c)
{
	if (!c)
		return;
	cmd_free(c);
	memset(c, 0, sizeof(*c));
}

void rt_cmd_list_clear(struct rt_cmd_list *l)
{
	if (!l)
		return;
	/* the array goes too: its commands need no zeroing */
	for (size_t i = 0; i < l->n; i++)
		cmd_free(&l->v[i]);
	free(l->v);
	free(l->errs);
	store_unref(l->store);
	memset(l, 0, sizeof(*l));
}

/* strdup that maps NULL to NULL; *fail is set when memory runs out. */
static char *dup_or_null(const char *s, int *fail)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*fail = 1;
	return d;
}

static struct rt_cidr *dup_cidrs(const struct rt_cidr *v, size_t n, int *fail)
{
	struct rt_cidr *d;

	if (!v || n == 0)
		return NULL;
	d = malloc(n * sizeof(*d));
	if (!d) {
		*fail = 1;
		return NULL;
	}
	memcpy(d, v, n * sizeof(*d));
	return d;
}

int rt_opts_copy(struct rt_opts *dst, const struct rt_opts *src)
{
	int fail = 0;

	memset(dst, 0, sizeof(*dst));
	dst->proto = src->proto;
	dst->tlsskipverify = src->tlsskipverify;
	dst->redirect_code = src->redirect_code;
	dst->strip = dup_or_null(src->strip, &fail);
	dst->prepend = dup_or_null(src->prepend, &fail);
	dst->host = dup_or_null(src->host, &fail);
	dst->redirect_url = dup_or_null(src->redirect_url, &fail);
	dst->register_name = dup_or_null(src->register_name, &fail);
	dst->check = dup_or_null(src->check, &fail);
	dst->raw = dup_or_null(src->raw, &fail);
	dst->allow = dup_cidrs(src->allow, src->nallow, &fail);
	dst->nallow = dst->allow ? src->nallow : 0;
	dst->deny = dup_cidrs(src->deny, src->ndeny, &fail);
	dst->ndeny = dst->deny ? src->ndeny : 0;
	if (fail) {
		rt_opts_clear(dst);
		return -ENOMEM;
	}
	return 0;
}

int rt_cmd_unpack(struct rt_cmd *c)
{
	struct rt_cmd u;
	int fail = 0;

	if (!c->block)
		return 0;
	memset(&u, 0, sizeof(u));
	u.service = dup_or_null(c->service, &fail);
	u.instance = dup_or_null(c->instance, &fail);
	u.src = dup_or_null(c->src, &fail);
	u.host = dup_or_null(c->host, &fail);
	u.path = dup_or_null(c->path, &fail);
	u.dst = dup_or_null(c->dst, &fail);
	if (c->ntags) {
		u.tags = calloc(c->ntags, sizeof(*u.tags));
		if (!u.tags)
			fail = 1;
		for (size_t i = 0; u.tags && i < c->ntags; i++) {
			u.tags[i] = dup_or_null(c->tags[i], &fail);
			u.ntags = i + 1;
		}
	}
	if (fail) {
		rt_cmd_clear(&u);
		return -ENOMEM;
	}
	store_unref(c->block);
	c->block = NULL;
	c->service = u.service;
	c->instance = u.instance;
	c->src = u.src;
	c->host = u.host;
	c->path = u.path;
	c->dst = u.dst;
	c->tags = u.tags;
	c->ntags = u.ntags;
	return 0;
}

int rt_cmd_copy(struct rt_cmd *dst, const struct rt_cmd *src)
{
	int fail = 0;

	memset(dst, 0, sizeof(*dst));
	dst->kind = src->kind;
	dst->line = src->line;
	dst->weight = src->weight;
	dst->has_weight = src->has_weight;
	dst->consul_down = src->consul_down;
	dst->consul_weight = src->consul_weight;
	dst->service = dup_or_null(src->service, &fail);
	dst->instance = dup_or_null(src->instance, &fail);
	dst->src = dup_or_null(src->src, &fail);
	dst->host = dup_or_null(src->host, &fail);
	dst->path = dup_or_null(src->path, &fail);
	dst->dst = dup_or_null(src->dst, &fail);
	if (src->ntags) {
		dst->tags = calloc(src->ntags, sizeof(*dst->tags));
		if (!dst->tags)
			fail = 1;
		for (size_t i = 0; dst->tags && i < src->ntags; i++) {
			dst->tags[i] = dup_or_null(src->tags[i], &fail);
			dst->ntags = i + 1;
		}
	}
	if (!fail && rt_opts_copy(&dst->opts, &src->opts) < 0)
		fail = 1;
	if (fail) {
		rt_cmd_clear(dst);
		return -ENOMEM;
	}
	return 0;
}

/* A growing string; oom sticks once set so callers check only at the end. */
struct sbuf {
	char *s;
	size_t len;
	size_t cap;
	int oom;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 128;
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

static void sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void sb_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->oom = 1;
		return;
	}
	sb_put(b, tmp, (size_t)n);
}

/*
 * The inside of a quoted string. rt_parse reads \" as ", \\ as \ and \xHH
 * as a byte; any other backslash is literal (as in fabio, which has no
 * escapes at all). So a backslash is doubled only where it would
 * otherwise start one of those, and control bytes become \xHH so that a
 * value never breaks the line.
 */
static void sb_quoted_body(struct sbuf *b, const char *s)
{
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '"') {
			sb_str(b, "\\\"");
		} else if (c == '\\') {
			unsigned char n = (unsigned char)p[1];

			/* before a byte written as \xHH too */
			if (n == '"' || n == '\\' || n == 'x' || n < 0x20 ||
			    n == 0x7f)
				sb_str(b, "\\\\");
			else
				sb_str(b, "\\");
		} else if (c < 0x20 || c == 0x7f) {
			sb_printf(b, "\\x%02x", c);
		} else {
			sb_put(b, p, 1);
		}
	}
}

/* The shortest decimal text that reads back as exactly w. */
static void sb_weight(struct sbuf *b, double w)
{
	char tmp[64];

	if (!isfinite(w)) {
		sb_str(b, "0");
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, w);
		if (strtod(tmp, NULL) == w)
			break;
	}
	sb_str(b, tmp);
}

static void sb_tags(struct sbuf *b, const struct rt_cmd *c)
{
	sb_str(b, " tags \"");
	for (size_t i = 0; i < c->ntags; i++) {
		if (i)
			sb_str(b, ",");
		sb_quoted_body(b, c->tags[i] ? c->tags[i] : "");
	}
	sb_str(b, "\"");
}

static void sb_cidrs(struct sbuf *b, const char *key, const struct rt_cidr *v,
		     size_t n)
{
	char addr[INET6_ADDRSTRLEN];

	if (!n)
		return;
	if (b->len)
		sb_str(b, " ");
	sb_printf(b, "%s=", key);
	for (size_t i = 0; i < n; i++) {
		int af = v[i].family == 6 ? AF_INET6 : AF_INET;

		if (!inet_ntop(af, v[i].addr, addr, sizeof(addr)))
			snprintf(addr, sizeof(addr), "invalid");
		sb_printf(b, "%sip:%s/%u", i ? "," : "", addr,
			  (unsigned)v[i].prefix_len);
	}
}

static void sb_opt(struct sbuf *b, const char *key, const char *val)
{
	if (!val)
		return;
	if (b->len)
		sb_str(b, " ");
	sb_str(b, key);
	sb_str(b, "=");
	sb_str(b, val);
}

/* Options text made from the fields, for options built without raw text.
 * proto is left out: the dst's scheme says it (rt_parse takes it from
 * there and rejects a proto= that disagrees). */
static char *opts_text(const struct rt_opts *o)
{
	struct sbuf b = { 0 };

	sb_opt(&b, "strip", o->strip);
	sb_opt(&b, "prepend", o->prepend);
	if (o->tlsskipverify)
		sb_opt(&b, "tlsskipverify", "true");
	sb_opt(&b, "host", o->host);
	if (o->redirect_code) {
		char code[16];

		snprintf(code, sizeof(code), "%d", o->redirect_code);
		sb_opt(&b, "redirect", code);
	}
	sb_cidrs(&b, "allow", o->allow, o->nallow);
	sb_cidrs(&b, "deny", o->deny, o->ndeny);
	sb_opt(&b, "register", o->register_name);
	sb_opt(&b, "check", o->check);
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	if (!b.s)
		return strdup("");
	return b.s;
}

static void sb_word(struct sbuf *b, const char *s)
{
	sb_str(b, " ");
	sb_str(b, s ? s : "");
}

/* src as written, else rebuilt from host and path. */
static void sb_src(struct sbuf *b, const struct rt_cmd *c)
{
	sb_str(b, " ");
	if (c->src) {
		sb_str(b, c->src);
		return;
	}
	sb_str(b, c->host ? c->host : "");
	/* host-only routes have path "/" and were written without it */
	if (c->path && !(c->host && *c->host && strcmp(c->path, "/") == 0))
		sb_str(b, c->path);
}

static void format_add(struct sbuf *b, const struct rt_cmd *c)
{
	sb_str(b, "route add");
	sb_word(b, c->service);
	sb_src(b, c);
	sb_word(b, c->dst);
	if (c->has_weight) {
		sb_str(b, " weight ");
		sb_weight(b, c->weight);
	}
	if (c->ntags)
		sb_tags(b, c);
	if (c->opts.raw) {
		if (c->opts.raw[strspn(c->opts.raw, " \t\r\v\f")]) {
			sb_str(b, " opts \"");
			sb_quoted_body(b, c->opts.raw);
			sb_str(b, "\"");
		}
	} else {
		char *o = opts_text(&c->opts);

		if (!o) {
			b->oom = 1;
			return;
		}
		if (*o) {
			sb_str(b, " opts \"");
			sb_quoted_body(b, o);
			sb_str(b, "\"");
		}
		free(o);
	}
}

static void format_del(struct sbuf *b, const struct rt_cmd *c)
{
	sb_str(b, "route del");
	if (c->service)
		sb_word(b, c->service);
	if (c->ntags) {
		sb_tags(b, c);
		return;
	}
	if (c->src || c->host) {
		sb_src(b, c);
		if (c->dst)
			sb_word(b, c->dst);
	}
}

static void format_weight(struct sbuf *b, const struct rt_cmd *c)
{
	sb_str(b, "route weight");
	if (c->service)
		sb_word(b, c->service);
	sb_src(b, c);
	sb_str(b, " weight ");
	sb_weight(b, c->weight);
	if (c->ntags)
		sb_tags(b, c);
}

char *rt_cmd_format(const struct rt_cmd *c)
{
	struct sbuf b = { 0 };

	switch (c->kind) {
	case RT_CMD_ADD:
		format_add(&b, c);
		break;
	case RT_CMD_DEL:
		format_del(&b, c);
		break;
	case RT_CMD_WEIGHT:
		format_weight(&b, c);
		break;
	default:
		sb_str(&b, "route");
		break;
	}
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}
