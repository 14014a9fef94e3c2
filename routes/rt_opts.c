/*
 * rt_opts.c - parsing route options into struct rt_opts, one error per
 * bad option naming its key.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routes/rt_opts.h"
#include "routes/rt_url.h"


static int is_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static int set_err(struct rt_err *err, const char *key, size_t klen,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int set_err(struct rt_err *err, const char *key, size_t klen,
		   const char *fmt, ...)
{
	va_list ap;

	if (klen >= sizeof(err->field))
		klen = sizeof(err->field) - 1;
	memcpy(err->field, key, klen);
	err->field[klen] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Replace *slot with a copy of s[0..len). */
static int set_str(char **slot, const char *s, size_t len)
{
	char *d = strndup(s, len);

	if (!d)
		return -ENOMEM;
	free(*slot);
	*slot = d;
	return 0;
}

static int parse_uint(const char *s, size_t len, unsigned max, unsigned *out)
{
	unsigned v = 0;

	if (len == 0 || len > 10)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
		if (v > max)
			return -EINVAL;
	}
	*out = v;
	return 0;
}

static void mask_host_bits(struct rt_cidr *c)
{
	unsigned bytes = c->family == 6 ? 16 : 4;

	for (unsigned i = 0; i < bytes; i++) {
		unsigned bit = i * 8;

		if (bit >= c->prefix_len)
			c->addr[i] = 0;
		else if (c->prefix_len - bit < 8)
			c->addr[i] &= (uint8_t)(0xff << (8 - (c->prefix_len - bit)));
	}
}

static int is_v4_mapped(const uint8_t *a)
{
	static const uint8_t pre[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a, pre, sizeof(pre)) == 0;
}

int rt_cidr_parse(const char *s, size_t len, struct rt_cidr *out)
{
	char buf[INET6_ADDRSTRLEN + 1];
	const char *slash = memchr(s, '/', len);
	size_t alen = slash ? (size_t)(slash - s) : len;
	unsigned plen = 0;

	memset(out, 0, sizeof(*out));
	if (alen == 0 || alen >= sizeof(buf) || memchr(s, '\0', len))
		return -EINVAL;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = 4;
		plen = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = 6;
		plen = 128;
		/* a bare ::ffff:a.b.c.d is that IPv4 address, as in Go */
		if (!slash && is_v4_mapped(out->addr)) {
			memmove(out->addr, out->addr + 12, 4);
			memset(out->addr + 4, 0, 12);
			out->family = 4;
			plen = 32;
		}
	} else {
		return -EINVAL;
	}
	if (slash && parse_uint(slash + 1, len - alen - 1, plen, &plen) < 0) {
		memset(out, 0, sizeof(*out));
		return -EINVAL;
	}
	out->prefix_len = (uint8_t)plen;
	mask_host_bits(out);
	return 0;
}

int rt_cidr_contains(const struct rt_cidr *c, int family, const uint8_t *addr)
{
	unsigned full, rest;

	if (family == 6 && c->family == 4 && is_v4_mapped(addr)) {
		family = 4;
		addr += 12;
	}
	if (family != c->family)
		return 0;
	full = c->prefix_len / 8;
	rest = c->prefix_len % 8;
	if (memcmp(c->addr, addr, full) != 0)
		return 0;
	if (rest) {
		uint8_t m = (uint8_t)(0xff << (8 - rest));

		if ((addr[full] & m) != c->addr[full])
			return 0;
	}
	return 1;
}

/* allow=/deny= value: "ip:CIDR,ip:CIDR"; the type is case-insensitive and
 * both parts may be padded with spaces (fabio trims them). */
static int parse_access(const char *key, size_t klen, const char *v,
			size_t vlen, struct rt_cidr **list, size_t *n,
			struct rt_err *err)
{
	struct rt_cidr *out = NULL;
	size_t cnt = 1, k = 0;
	const char *p = v, *end = v + vlen;

	for (size_t i = 0; i < vlen; i++)
		if (v[i] == ',')
			cnt++;
	out = calloc(cnt, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (;;) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *ie = comma ? comma : end;
		const char *colon = memchr(p, ':', (size_t)(ie - p));
		const char *ts = p, *te, *as, *ae;

		if (!colon) {
			free(out);
			return set_err(err, key, klen,
				       "%.*s=: \"%.40s\" is not ip:CIDR",
				       (int)klen, key, p);
		}
		te = colon;
		while (ts < te && is_space(*ts))
			ts++;
		while (te > ts && is_space(te[-1]))
			te--;
		if (te - ts != 2 || (ts[0] | 0x20) != 'i' || (ts[1] | 0x20) != 'p') {
			free(out);
			return set_err(err, key, klen,
				       "%.*s=: unknown access type \"%.*s\" (only ip:)",
				       (int)klen, key, (int)(te - ts > 20 ? 20 : te - ts), ts);
		}
		as = colon + 1;
		ae = ie;
		while (as < ae && is_space(*as))
			as++;
		while (ae > as && is_space(ae[-1]))
			ae--;
		if (rt_cidr_parse(as, (size_t)(ae - as), &out[k]) < 0) {
			int l = (int)(ae - as > 50 ? 50 : ae - as);

			free(out);
			return set_err(err, key, klen, "%.*s=: bad CIDR \"%.*s\"",
				       (int)klen, key, l, as);
		}
		k++;
		if (!comma)
			break;
		p = comma + 1;
	}
	free(*list);
	*list = out;
	*n = k;
	return 0;
}

static int parse_bool(const char *v, size_t len, int *out)
{
	static const char *const yes[] = { "1", "t", "T", "true", "TRUE", "True" };
	static const char *const no[] = { "0", "f", "F", "false", "FALSE", "False" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strlen(yes[i]) == len && memcmp(yes[i], v, len) == 0) {
			*out = 1;
			return 0;
		}
		if (strlen(no[i]) == len && memcmp(no[i], v, len) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -EINVAL;
}

static int key_is(const char *k, size_t klen, const char *name)
{
	return strlen(name) == klen && memcmp(k, name, klen) == 0;
}

/* Shown values are cut so that a message fits struct rt_err. */
#define SHOW 48
#define SHOWLEN(l) ((int)((l) > SHOW ? SHOW : (l)))

static int parse_redirect(const char *k, size_t klen, const char *v,
			  size_t vlen, struct rt_opts *o, struct rt_err *err)
{
	const char *comma = memchr(v, ',', vlen);
	size_t clen = comma ? (size_t)(comma - v) : vlen;
	unsigned code;
	enum rt_proto proto;
	const char *why;

	if (parse_uint(v, clen, 999, &code) < 0 || code < 300 || code > 399)
		return set_err(err, k, klen,
			       "redirect=%.*s: code must be 300..399",
			       SHOWLEN(clen), v);
	if (comma) {
		const char *u = comma + 1;
		size_t ulen = vlen - clen - 1;

		if (rt_url_check(u, ulen, &proto, &why) < 0)
			return set_err(err, k, klen,
				       "redirect=%d,%.*s: bad URL: %s",
				       (int)code, SHOWLEN(ulen), u, why);
		if (set_str(&o->redirect_url, u, ulen) < 0)
			return -ENOMEM;
	} else {
		free(o->redirect_url);
		o->redirect_url = NULL;
	}
	o->redirect_code = (int)code;
	return 0;
}

static int parse_one(const char *k, size_t klen, const char *v, size_t vlen,
		     struct rt_opts *o, struct rt_err *err)
{
	if (key_is(k, klen, "strip") || key_is(k, klen, "prepend")) {
		if (vlen == 0 || v[0] != '/')
			return set_err(err, k, klen,
				       "%.*s=%.*s: must be a path starting with /",
				       (int)klen, k, SHOWLEN(vlen), v);
		return set_str(k[0] == 's' ? &o->strip : &o->prepend, v, vlen);
	}
	if (key_is(k, klen, "proto")) {
		if (rt_proto_parse(v, vlen, &o->proto) < 0)
			return set_err(err, k, klen,
				       "proto=%.*s: unknown protocol (http, https, tcp, grpc, grpcs)",
				       SHOWLEN(vlen), v);
		return 0;
	}
	if (key_is(k, klen, "tlsskipverify")) {
		if (parse_bool(v, vlen, &o->tlsskipverify) < 0)
			return set_err(err, k, klen,
				       "tlsskipverify=%.*s: must be true or false",
				       SHOWLEN(vlen), v);
		return 0;
	}
	if (key_is(k, klen, "host") || key_is(k, klen, "register")) {
		if (vlen == 0)
			return set_err(err, k, klen, "%.*s=: needs a value",
				       (int)klen, k);
		return set_str(k[0] == 'h' ? &o->host : &o->register_name, v, vlen);
	}
	if (key_is(k, klen, "check")) {
		if (!(vlen && v[0] == '/') && !key_is(v, vlen, "tcp"))
			return set_err(err, k, klen,
				       "check=%.*s: must be /path or tcp",
				       SHOWLEN(vlen), v);
		return set_str(&o->check, v, vlen);
	}
	if (key_is(k, klen, "redirect"))
		return parse_redirect(k, klen, v, vlen, o, err);
	if (key_is(k, klen, "allow"))
		return parse_access(k, klen, v, vlen, &o->allow, &o->nallow, err);
	if (key_is(k, klen, "deny"))
		return parse_access(k, klen, v, vlen, &o->deny, &o->ndeny, err);
	return 0;
}

int rt_opts_parse(const char *text, size_t len, struct rt_opts *o,
		  struct rt_err *err)
{
	const char *p = text, *end = text + len;
	int rc;

	while (p < end) {
		const char *w, *eq;
		size_t wlen;

		while (p < end && is_space(*p))
			p++;
		if (p == end)
			break;
		w = p;
		while (p < end && !is_space(*p))
			p++;
		wlen = (size_t)(p - w);
		if (memchr(w, '\0', wlen)) {
			rt_opts_clear(o);
			return set_err(err, "opts", 4, "NUL byte in options");
		}
		eq = memchr(w, '=', wlen);
		if (eq)
			rc = parse_one(w, (size_t)(eq - w), eq + 1,
				       wlen - (size_t)(eq - w) - 1, o, err);
		else
			rc = parse_one(w, wlen, "", 0, o, err);
		if (rc < 0) {
			rt_opts_clear(o);
			return rc;
		}
		if (!o->raw && set_str(&o->raw, text, len) < 0) {
			rt_opts_clear(o);
			return -ENOMEM;
		}
	}
	if (o->nallow && o->ndeny) {
		rt_opts_clear(o);
		return set_err(err, "deny", 4,
			       "allow= and deny= on the same route are not supported");
	}
	return 0;
}
