/*
 * rt_tags.c - route commands from the tags of one Consul instance, the
 * way fabio's registry/consul/routecmd.go writes them, but as structs and
 * with every bad tag reported instead of logged or passed on as text.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routes/rt_opts.h"
#include "routes/rt_parse.h"
#include "routes/rt_tags.h"
#include "routes/rt_url.h"


static int is_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
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

/* The route part with $DC expanded in the host and in the path, and the
 * host lower-cased. */
static char *expand_route(const char *r, size_t len, const char *dc,
			  size_t *outlen)
{
	const char *slash = r[0] == ':' ? NULL : memchr(r, '/', len);
	size_t hlen = slash ? (size_t)(slash - r) : len;
	size_t plen = len - hlen;
	size_t eh = expand_dc(r, hlen, dc, NULL);
	size_t ep = expand_dc(r + hlen, plen, dc, NULL);
	char *d = malloc(eh + ep + 1);

	if (!d)
		return NULL;
	expand_dc(r, hlen, dc, d);
	expand_dc(r + hlen, plen, dc, d + eh);
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

	tw->ropts = malloc(len + 1);
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

/* "http://10.0.0.1:8080/", "tcp://[::1]:3306" */
static char *instance_dst(const struct rt_instance *in, enum rt_proto scheme)
{
	const char *addr = in->address && *in->address ? in->address :
			   in->node_address;
	int v6 = strchr(addr, ':') != NULL && addr[0] != '[';
	size_t n = strlen(addr) + 48;
	char *d = malloc(n);

	if (!d)
		return NULL;
	snprintf(d, n, "%s://%s%s%s:%d%s", rt_proto_name(scheme), v6 ? "[" : "",
		 addr, v6 ? "]" : "", in->port,
		 scheme == RT_PROTO_HTTP ? "/" : "");
	return d;
}

static int copy_tags(struct rt_cmd *c, char *const *tags, size_t n)
{
	if (!n)
		return 0;
	c->tags = calloc(n, sizeof(*c->tags));
	if (!c->tags)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		c->tags[i] = strdup(tags[i]);
		if (!c->tags[i])
			return -ENOMEM;
		c->ntags = i + 1;
	}
	return 0;
}

/* Fill c from one route tag; 0, -EINVAL (already reported) or -ENOMEM. */
static int tag_command(struct rt_cmd *c, const struct rt_instance *in,
		       const char *tag, size_t taglen, size_t plen,
		       const char *dc, char *const *svctags, size_t nsvctags,
		       struct rt_cmd_list *out)
{
	const char *route = tag + plen, *opts, *why;
	size_t rlen = taglen - plen, olen, elen;
	struct tag_words tw = { 0 };
	struct rt_err err = { 0 };
	enum rt_proto urlproto;
	char *src;
	int rc;

	trim(&route, &rlen);
	opts = route;
	while (opts < route + rlen && !is_space(*opts))
		opts++;
	olen = (size_t)(route + rlen - opts);
	rlen = (size_t)(opts - route);
	trim(&opts, &olen);
	if (rlen == 0)
		return tag_error(out, in, tag, taglen, "route",
				 "no route after the prefix");
	if (!service_ok(in->service))
		return tag_error(out, in, tag, taglen, "service",
				 "bad service name");

	src = expand_route(route, rlen, dc, &elen);
	if (!src)
		return -ENOMEM;
	rc = rt_cmd_set_src(c, src, elen, &why);
	if (rc == -EINVAL)
		rc = tag_error(out, in, tag, taglen, "route", "bad route \"%.*s\": %s",
			       (int)(elen > 40 ? 40 : elen), src, why);
	free(src);
	if (rc < 0)
		return rc;

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
		c->dst = strndup(tw.redirect, tw.redirect_len);
	} else {
		const char *addr = in->address && *in->address ? in->address :
				   in->node_address;

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
		urlproto = tw.scheme;
		c->dst = instance_dst(in, tw.scheme);
		if (c->dst && rt_url_check(c->dst, strlen(c->dst), &urlproto,
					   &why) < 0) {
			rc = tag_error(out, in, tag, taglen, "address",
				       "bad address \"%.40s\": %s", addr, why);
			goto done;
		}
	}
	if (!c->dst) {
		rc = -ENOMEM;
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
	c->service = strdup(in->service);
	c->instance = in->instance ? strdup(in->instance) : NULL;
	if (!c->service || (in->instance && !c->instance) ||
	    copy_tags(c, svctags, nsvctags) < 0)
		rc = -ENOMEM;
done:
	free(tw.ropts);
	return rc;
}

int rt_tags_commands(const struct rt_instance *in, const char *prefix,
		     const char *dc, struct rt_cmd_list *out)
{
	size_t plen, nsvc = 0;
	char **svctags = NULL;
	int rc = 0;

	if (!prefix)
		prefix = "urlprefix-";
	plen = strlen(prefix);
	if (in->ntags) {
		svctags = calloc(in->ntags, sizeof(*svctags));
		if (!svctags)
			return -ENOMEM;
	}
	/* the tags that are not route tags, trimmed, become target tags */
	for (size_t i = 0; i < in->ntags; i++) {
		const char *t = in->tags[i];
		size_t len = t ? strlen(t) : 0;

		trim(&t, &len);
		if (len == 0 || (len >= plen && memcmp(t, prefix, plen) == 0))
			continue;
		svctags[nsvc] = strndup(t, len);
		if (!svctags[nsvc]) {
			rc = -ENOMEM;
			goto done;
		}
		nsvc++;
	}
	for (size_t i = 0; i < in->ntags; i++) {
		const char *t = in->tags[i];
		size_t len = t ? strlen(t) : 0;
		struct rt_cmd c = { 0 };
		struct rt_cmd *slot;

		trim(&t, &len);
		if (len == 0 || len < plen || memcmp(t, prefix, plen) != 0)
			continue;
		rc = tag_command(&c, in, t, len, plen, dc, svctags, nsvc, out);
		if (rc == 0) {
			slot = rt_cmd_list_push(out);
			if (slot) {
				*slot = c;
				continue;
			}
			rc = -ENOMEM;
		}
		rt_cmd_clear(&c);
		if (rc == -ENOMEM)
			goto done;
		rc = 0;
	}
done:
	for (size_t i = 0; i < nsvc; i++)
		free(svctags[i]);
	free(svctags);
	return rc;
}
