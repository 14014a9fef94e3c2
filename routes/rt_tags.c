/*
 * rt_tags.c - route commands from the tags of one Consul instance, the
 * way fabio's registry/consul/routecmd.go writes them, but as structs and
 * with every bad tag reported instead of logged or passed on as text.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routes/rt_opts.h"
#include "routes/rt_parse.h"
#include "routes/rt_tags.h"
#include "routes/rt_url.h"


/* The whitespace of Go's strings.Fields in ASCII: one lookup per byte,
 * as every byte of every tag is looked at a few times. */
static const unsigned char space_table[256] = {
	['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1, [' '] = 1,
};

static int is_space(char c)
{
	return space_table[(unsigned char)c];
}

/* [*s, *s + *len) without the whitespace around it. */
static void trim(const char **s, size_t *len)
{
	while (*len && is_space(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && is_space((*s)[*len - 1]))
		(*len)--;
}

static int is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

/*
 * Copy s with $DC and ${DC} replaced by dc (fabio's only variable; any
 * other $x is kept as written). Written into out when out is not NULL;
 * returns the length either way.
 */
static size_t expand_dc(const char *s, size_t len, const char *dc, char *out)
{
	size_t n = 0, dlen = dc ? strlen(dc) : 0;

	for (size_t i = 0; i < len;) {
		size_t skip = 0;

		if (dc && s[i] == '$') {
			if (len - i >= 5 && memcmp(s + i, "${DC}", 5) == 0)
				skip = 5;
			else if (len - i >= 3 && memcmp(s + i, "$DC", 3) == 0 &&
				 (len - i == 3 || !is_name_char(s[i + 3])))
				skip = 3;
		}
		if (skip) {
			if (out)
				memcpy(out + n, dc, dlen);
			n += dlen;
			i += skip;
		} else {
			if (out)
				out[n] = s[i];
			n++;
			i++;
		}
	}
	return n;
}

/* Room for a tag's pieces: on the stack for tags of usual length, from
 * malloc for long ones. Not to be copied (p may point into it). */
struct tbuf {
	char *p;
	char stack[192];
};

static void tbuf_free(struct tbuf *b)
{
	if (b->p != b->stack)
		free(b->p);
	b->p = NULL;
}

/* n bytes in b (whose p is NULL or from an earlier tbuf_get). */
static char *tbuf_get(struct tbuf *b, size_t n)
{
	tbuf_free(b);
	b->p = n <= sizeof(b->stack) ? b->stack : malloc(n);
	return b->p;
}

/* The route part with $DC expanded in the host and in the path, and the
 * host lower-cased, in buf; NULL when out of memory. */
static char *expand_route(const char *r, size_t len, const char *dc,
			  struct tbuf *buf, size_t *outlen)
{
	const char *slash = r[0] == ':' ? NULL : memchr(r, '/', len);
	size_t hlen = slash ? (size_t)(slash - r) : len;
	size_t plen = len - hlen, eh = hlen, ep = plen;
	int expand = dc && memchr(r, '$', len);
	char *d;

	if (expand) {
		eh = expand_dc(r, hlen, dc, NULL);
		ep = expand_dc(r + hlen, plen, dc, NULL);
	}
	d = tbuf_get(buf, eh + ep + 1);
	if (!d)
		return NULL;
	if (expand) {
		expand_dc(r, hlen, dc, d);
		expand_dc(r + hlen, plen, dc, d + eh);
	} else {
		memcpy(d, r, len);
	}
	d[eh + ep] = '\0';
	/* src is written with the host lower-cased, as fabio generates it */
	for (size_t i = 0; i < eh; i++)
		if (d[i] >= 'A' && d[i] <= 'Z')
			d[i] = (char)(d[i] - 'A' + 'a');
	*outlen = eh + ep;
	return d;
}

/* Report a bad tag; -ENOMEM when even that fails, else -EINVAL. */
static int tag_error(struct rt_cmd_list *out, const struct rt_instance *in,
		     const char *tag, size_t taglen, const char *field,
		     const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int tag_error(struct rt_cmd_list *out, const struct rt_instance *in,
		     const char *tag, size_t taglen, const char *field,
		     const char *fmt, ...)
{
	char why[128];
	const char *id = in->instance && *in->instance ? in->instance :
			 in->service ? in->service : "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (rt_cmd_list_error(out, 0, field, "service %.40s: tag \"%.*s%s\": %s",
			      id, (int)(taglen > 50 ? 50 : taglen), tag,
			      taglen > 50 ? "..." : "", why) < 0)
		return -ENOMEM;
	return -EINVAL;
}

/* A service name must survive a trip through the route language. */
static int service_ok(const char *s)
{
	if (!s || !*s || *s == '"')
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* What the options words of one tag say about the command line itself. */
struct tag_words {
	const char *weight;      /* weight=W value */
	size_t weight_len;
	const char *redirect;    /* the URL of redirect=CODE,URL */
	size_t redirect_len;
	enum rt_proto scheme;
	char *ropts;             /* the words kept as options, space-joined */
	size_t ropts_len;
	struct tbuf buf;         /* where ropts is */
};

static int word_is(const char *w, size_t len, const char *s)
{
	return strlen(s) == len && memcmp(w, s, len) == 0;
}

static void ropts_add(struct tag_words *tw, const char *w, size_t len)
{
	if (tw->ropts_len)
		tw->ropts[tw->ropts_len++] = ' ';
	memcpy(tw->ropts + tw->ropts_len, w, len);
	tw->ropts_len += len;
	tw->ropts[tw->ropts_len] = '\0';
}

/* Sort the words of opts (len bytes) into tw; -EINVAL via tag_error. */
static int read_words(const char *opts, size_t len, struct tag_words *tw,
		      struct rt_cmd_list *out, const struct rt_instance *in,
		      const char *tag, size_t taglen)
{
	const char *p = opts, *end = opts + len;

	tw->ropts = tbuf_get(&tw->buf, len + 1);
	if (!tw->ropts)
		return -ENOMEM;
	tw->ropts[0] = '\0';
	while (p < end) {
		const char *w;
		size_t wl;

		while (p < end && is_space(*p))
			p++;
		if (p == end)
			break;
		w = p;
		while (p < end && !is_space(*p))
			p++;
		wl = (size_t)(p - w);
		if (word_is(w, wl, "proto=tcp")) {
			tw->scheme = RT_PROTO_TCP;
		} else if (word_is(w, wl, "proto=https")) {
			tw->scheme = RT_PROTO_HTTPS;
		} else if (word_is(w, wl, "proto=grpc")) {
			tw->scheme = RT_PROTO_GRPC;
		} else if (word_is(w, wl, "proto=grpcs")) {
			tw->scheme = RT_PROTO_GRPCS;
		} else if (wl >= 7 && memcmp(w, "weight=", 7) == 0) {
			tw->weight = w + 7;
			tw->weight_len = wl - 7;
		} else if (wl >= 9 && memcmp(w, "redirect=", 9) == 0) {
			const char *v = w + 9;
			const char *comma = memchr(v, ',', wl - 9);

			if (!comma || comma + 1 == w + wl)
				return tag_error(out, in, tag, taglen, "redirect",
						 "redirect= needs CODE,URL");
			tw->redirect = comma + 1;
			tw->redirect_len = (size_t)(w + wl - tw->redirect);
			ropts_add(tw, w, (size_t)(comma - w));
		} else {
			ropts_add(tw, w, wl);
		}
	}
	return 0;
}

/* A tag's view of a string it does not own. */
struct view {
	const char *s;
	size_t len;
};

/* The address a dst is made from: the service's, else the node's. */
static const char *instance_addr(const struct rt_instance *in)
{
	return in->address && *in->address ? in->address : in->node_address;
}

/*
 * "http://10.0.0.1:8080/", "tcp://[::1]:3306" into d, which has room for
 * strlen(addr) + 32 bytes; returns the length. port is 1..65535.
 */
static size_t instance_dst(char *d, const char *addr, size_t alen,
			   enum rt_proto scheme, int port)
{
	const char *name = rt_proto_name(scheme);
	int v6 = memchr(addr, ':', alen) != NULL && addr[0] != '[';
	char digits[8];
	size_t n = strlen(name), k = 0;

	memcpy(d, name, n);
	memcpy(d + n, "://", 3);
	n += 3;
	if (v6)
		d[n++] = '[';
	memcpy(d + n, addr, alen);
	n += alen;
	if (v6)
		d[n++] = ']';
	d[n++] = ':';
	do {
		digits[k++] = (char)('0' + port % 10);
		port /= 10;
	} while (port);
	while (k)
		d[n++] = digits[--k];
	if (scheme == RT_PROTO_HTTP)
		d[n++] = '/';
	d[n] = '\0';
	return n;
}

/* Copy s[0..len) to *at as a string, move *at past it; the copy. */
static char *put(char **at, const char *s, size_t len)
{
	char *d = *at;

	memcpy(d, s, len);
	d[len] = '\0';
	*at = d + len + 1;
	return d;
}

/*
 * The command's own strings in one piece of the list's storage (c->block,
 * see rt_cmd_store): the tag array first, then service, instance, src,
 * host, path, dst and the tags. src is checked (hlen its host part). 0 or
 * -ENOMEM.
 */
static int pack(struct rt_cmd_list *l, struct rt_cmd *c,
		const struct rt_instance *in,
		const char *src, size_t len, size_t hlen, const char *dst,
		size_t dlen, const struct view *tags, size_t ntags)
{
	size_t slen = strlen(in->service);
	size_t ilen = in->instance ? strlen(in->instance) + 1 : 0;
	const char *path = src[0] == ':' ? "" : hlen < len ? src + hlen : "/";
	size_t plen = src[0] == ':' ? 0 : hlen < len ? len - hlen : 1;
	size_t n = ntags * sizeof(char *) + slen + ilen + len + hlen + plen +
		   dlen + 5;
	char *at, *host;
	void *p;

	for (size_t i = 0; i < ntags; i++)
		n += tags[i].len + 1;
	p = rt_cmd_store(l, c, n);
	if (!p)
		return -ENOMEM;
	at = (char *)p + ntags * sizeof(char *);
	if (ntags) {
		c->tags = p;
		c->ntags = ntags;
	}
	c->service = put(&at, in->service, slen);
	if (in->instance)
		c->instance = put(&at, in->instance, ilen - 1);
	c->src = put(&at, src, len);
	/* src is written with the host lower-cased, as fabio generates it */
	for (host = c->src; host < c->src + hlen; host++)
		if (*host >= 'A' && *host <= 'Z')
			*host = (char)(*host - 'A' + 'a');
	c->host = put(&at, c->src, hlen);
	c->path = put(&at, path, plen);
	c->dst = put(&at, dst, dlen);
	for (size_t i = 0; i < ntags; i++)
		c->tags[i] = put(&at, tags[i].s, tags[i].len);
	return 0;
}

/* Fill c from one route tag; 0, -EINVAL (already reported) or -ENOMEM. */
static int tag_command(struct rt_cmd *c, const struct rt_instance *in,
		       int svc_ok, const char *tag, size_t taglen, size_t plen,
		       const char *dc, const struct view *svctags,
		       size_t nsvctags, struct rt_cmd_list *out)
{
	const char *route = tag + plen, *opts, *why, *dst, *slash = NULL;
	size_t rlen = taglen - plen, olen, elen, hlen, dlen;
	int ctl = 0, dollar = 0;
	struct tag_words tw;
	struct tbuf rbuf, dbuf;
	struct rt_err err;
	enum rt_proto urlproto;
	const char *src;
	int rc;

	/* set by hand: zeroing the buffers would cost more than the tag */
	memset(&tw, 0, offsetof(struct tag_words, buf));
	tw.buf.p = rbuf.p = dbuf.p = NULL;
	err.line = 0;
	err.field[0] = err.msg[0] = '\0';

	trim(&route, &rlen);
	/* The route part runs to the first space. One pass notes what the
	 * checks below need of it: control bytes, '$' and the first '/'. */
	for (opts = route; opts < route + rlen; opts++) {
		unsigned char ch = (unsigned char)*opts;

		if (space_table[ch])
			break;
		ctl |= ch < 0x20 || ch == 0x7f;
		dollar |= ch == '$';
		if (ch == '/' && !slash)
			slash = opts;
	}
	olen = (size_t)(route + rlen - opts);
	rlen = (size_t)(opts - route);
	trim(&opts, &olen);
	if (rlen == 0)
		return tag_error(out, in, tag, taglen, "route",
				 "no route after the prefix");
	if (!svc_ok)
		return tag_error(out, in, tag, taglen, "service",
				 "bad service name");

	/* Without $DC to expand the route is used where it is; pack
	 * lower-cases its host part as it copies it. */
	if (dc && dollar) {
		src = expand_route(route, rlen, dc, &rbuf, &elen);
		if (!src)
			return -ENOMEM;
		rc = rt_src_check(src, elen, &hlen, &why);
	} else if (!ctl && route[0] != '"' && route[0] != ':') {
		/* what rt_src_check finds of such a route, known already */
		src = route;
		elen = rlen;
		hlen = slash ? (size_t)(slash - route) : rlen;
		rc = 0;
	} else {
		src = route;
		elen = rlen;
		rc = rt_src_check(src, elen, &hlen, &why);
	}
	if (rc == -EINVAL) {
		/* shown as it would have been stored */
		if (src == route && !(src = expand_route(route, rlen, NULL, &rbuf,
							  &elen))) {
			rc = -ENOMEM;
			goto done;
		}
		rc = tag_error(out, in, tag, taglen, "route", "bad route \"%.*s\": %s",
			       (int)(elen > 40 ? 40 : elen), src, why);
		goto done;
	}

	rc = read_words(opts, olen, &tw, out, in, tag, taglen);
	if (rc < 0)
		goto done;
	if (tw.weight) {
		rc = rt_weight_parse(tw.weight, tw.weight_len, &c->weight, &why);
		if (rc < 0) {
			rc = tag_error(out, in, tag, taglen, "weight",
				       "weight=%.*s: %s",
				       (int)(tw.weight_len > 30 ? 30 : tw.weight_len),
				       tw.weight, why);
			goto done;
		}
		c->has_weight = 1;
	}

	if (tw.redirect) {
		if (rt_url_check(tw.redirect, tw.redirect_len, &urlproto, &why) < 0) {
			rc = tag_error(out, in, tag, taglen, "redirect",
				       "bad redirect URL: %s", why);
			goto done;
		}
		dst = tw.redirect;
		dlen = tw.redirect_len;
	} else {
		const char *addr = instance_addr(in);
		size_t alen;
		char *d;

		if (!addr || !*addr) {
			rc = tag_error(out, in, tag, taglen, "address",
				       "no service or node address");
			goto done;
		}
		if (in->port < 1 || in->port > 65535) {
			rc = tag_error(out, in, tag, taglen, "port",
				       "port %d out of range", in->port);
			goto done;
		}
		alen = strlen(addr);
		d = tbuf_get(&dbuf, alen + 32);
		if (!d) {
			rc = -ENOMEM;
			goto done;
		}
		urlproto = tw.scheme;
		dlen = instance_dst(d, addr, alen, tw.scheme, in->port);
		if (!rt_url_host_ok(addr, alen) &&
		    rt_url_check(d, dlen, &urlproto, &why) < 0) {
			rc = tag_error(out, in, tag, taglen, "address",
				       "bad address \"%.40s\": %s", addr, why);
			goto done;
		}
		dst = d;
	}

	rc = pack(out, c, in, src, elen, hlen, dst, dlen, svctags, nsvctags);
	if (rc < 0)
		goto done;
	if (tw.ropts_len == 0) {
		/* what rt_cmd_set_opts makes of no options */
		c->opts.proto = urlproto;
		c->kind = RT_CMD_ADD;
		goto done;
	}
	rc = rt_cmd_set_opts(c, tw.ropts, tw.ropts_len, urlproto, &err);
	if (rc == -EINVAL) {
		rc = tag_error(out, in, tag, taglen, err.field, "%s", err.msg);
		goto done;
	}
	if (rc < 0)
		goto done;
	c->kind = RT_CMD_ADD;
done:
	tbuf_free(&tw.buf);
	tbuf_free(&dbuf);
	tbuf_free(&rbuf);
	return rc;
}

int rt_tags_commands(const struct rt_instance *in, const char *prefix,
		     const char *dc, struct rt_cmd_list *out)
{
	struct view stack[16], *v = stack, *svctags;
	size_t plen, nsvc = 0, nroute = 0;
	int svc_ok, rc = 0;

	if (!prefix)
		prefix = "urlprefix-";
	plen = strlen(prefix);
	if (in->ntags > sizeof(stack) / sizeof(stack[0])) {
		if (in->ntags > SIZE_MAX / sizeof(*v))
			return -ENOMEM;
		v = malloc(in->ntags * sizeof(*v));
		if (!v)
			return -ENOMEM;
	}
	/* An instance's strings lie wherever its decoder put them: ask for
	 * all of them at once rather than wait for each in turn. */
	if (in->instance)
		__builtin_prefetch(in->instance);
	if (in->address)
		__builtin_prefetch(in->address);
	for (size_t i = 0; i < in->ntags && i < 16; i++)
		if (in->tags[i])
			__builtin_prefetch(in->tags[i]);
	/* One pass over the tags, trimmed: route tags are gathered from the
	 * end of v, the others (the targets' tags) from its start. */
	for (size_t i = 0; i < in->ntags; i++) {
		const char *t = in->tags[i];
		size_t len = t ? strlen(t) : 0;

		trim(&t, &len);
		if (len == 0)
			continue;
		if (len >= plen && memcmp(t, prefix, plen) == 0) {
			nroute++;
			v[in->ntags - nroute].s = t;
			v[in->ntags - nroute].len = len;
		} else {
			v[nsvc].s = t;
			v[nsvc].len = len;
			nsvc++;
		}
	}
	svctags = v;
	svc_ok = nroute ? service_ok(in->service) : 0;
	/* route tags in their order: from the end of v backwards */
	for (size_t k = 1; k <= nroute; k++) {
		const struct view *t = &v[in->ntags - k];
		struct rt_cmd local, *c;

		/* Build the command where it is kept (already zeroed), and
		 * take it back if the tag is bad; a local one only when the
		 * list cannot grow, to report the tag before running out. */
		c = rt_cmd_list_push(out);
		if (!c) {
			memset(&local, 0, sizeof(local));
			c = &local;
		}
		rc = tag_command(c, in, svc_ok, t->s, t->len, plen, dc, svctags,
				 nsvc, out);
		if (rc == 0 && c != &local) {
			c->consul_down = in->consul_down != 0;
			c->consul_weight = in->consul_weight;
			continue;
		}
		rt_cmd_clear(c);
		if (c != &local)
			out->n--;
		else if (rc == 0)
			rc = -ENOMEM;
		if (rc == -ENOMEM)
			goto done;
		rc = 0;
	}
done:
	if (v != stack)
		free(v);
	return rc;
}
