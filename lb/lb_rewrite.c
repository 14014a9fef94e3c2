/*
 * lb_rewrite.c - strip/prepend, query merging, redirect templates and
 * address rules of a route's options.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "lb/lb_http1.h"
#include "lb/lb_rewrite.h"
#include "routes/rt_opts.h"

int
lb_rewrite_path(struct lb_buf *out, const char *path, size_t len,
		const char *strip, const char *prepend)
{
	if (strip != NULL) {
		size_t n = strlen(strip);

		if (n > 0 && n <= len && memcmp(path, strip, n) == 0) {
			path += n;
			len -= n;
		}
	}
	if (prepend != NULL) {
		if (prepend[0] != '/')
			lb_buf_add(out, "/", 1);
		lb_buf_adds(out, prepend);
	}
	if (len == 0 || path[0] != '/')
		lb_buf_add(out, "/", 1);
	lb_buf_add(out, path, len);
	return out->oom ? -ENOMEM : 0;
}

/* The query of a URL: what follows '?' up to '#' or the end. */
static const char *
url_query(const char *url, size_t *len)
{
	const char *q = url != NULL ? strchr(url, '?') : NULL;

	if (q == NULL) {
		*len = 0;
		return NULL;
	}
	q++;
	*len = strcspn(q, "#");
	return q;
}

int
lb_rewrite_query(struct lb_buf *out, const char *url, const char *query,
		 size_t query_len)
{
	size_t tlen;
	const char *tq = url_query(url, &tlen);

	if (tlen > 0)
		lb_buf_add(out, tq, tlen);
	if (tlen > 0 && query != NULL && query_len > 0)
		lb_buf_add(out, "&", 1);
	if (query != NULL && query_len > 0)
		lb_buf_add(out, query, query_len);
	return out->oom ? -ENOMEM : 0;
}

/* The first occurrence of needle in s[0..n), or NULL. */
static const char *
find(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle), i;

	for (i = 0; i + k <= n; i++) {
		if (memcmp(s + i, needle, k) == 0)
			return s + i;
	}
	return NULL;
}

int
lb_rewrite_redirect(struct lb_buf *out, const char *tmpl,
		    const char *path, size_t path_len,
		    const char *query, size_t query_len, const char *host,
		    const char *strip, const char *prepend)
{
	const char *sep = strstr(tmpl, "://"), *auth, *p, *q, *at;
	size_t auth_n, path_n, tq_n;
	int path_template = 0, cut_slash = 0;

	if (sep == NULL)
		return -EINVAL;
	auth = sep + 3;
	auth_n = strcspn(auth, "/?#");
	p = auth + auth_n;
	path_n = strcspn(p, "?#");
	q = p[path_n] == '?' ? p + path_n + 1 : NULL;
	tq_n = q != NULL ? strcspn(q, "#") : 0;

	/* $path glued to the host: the whole path is the request's */
	if (auth_n >= 5 && memcmp(auth + auth_n - 5, "$path", 5) == 0) {
		auth_n -= 5;
		p = "$path";
		path_n = 5;
	}
	at = find(p, path_n, "$path");
	if (at != NULL) {
		path_template = 1;
		cut_slash = at > p && at[-1] == '/';
	}

	lb_buf_add(out, tmpl, (size_t)(auth - tmpl));
	at = find(auth, auth_n, "$host");
	if (at != NULL) {
		lb_buf_add(out, auth, (size_t)(at - auth));
		lb_buf_adds(out, host != NULL ? host : "");
		lb_buf_add(out, at + 5, auth_n - (size_t)(at - auth) - 5);
	} else {
		lb_buf_add(out, auth, auth_n);
	}

	if (path_template) {
		const char *v = find(p, path_n, "$path");
		size_t before = (size_t)(v - p) - (cut_slash ? 1 : 0);
		size_t sn = strip != NULL ? strlen(strip) : 0;
		size_t start = out->len;

		lb_buf_add(out, p, before);
		if (prepend != NULL)
			lb_buf_adds(out, prepend);
		if (sn > 0 && sn <= path_len && memcmp(path, strip, sn) == 0)
			lb_buf_add(out, path + sn, path_len - sn);
		else
			lb_buf_add(out, path, path_len);
		lb_buf_add(out, v + 5, path_n - (size_t)(v + 5 - p));
		if (out->len == start)
			lb_buf_add(out, "/", 1);
		if (tq_n == 0 && query != NULL && query_len > 0) {
			lb_buf_add(out, "?", 1);
			lb_buf_add(out, query, query_len);
		} else if (tq_n > 0) {
			lb_buf_add(out, "?", 1);
			lb_buf_add(out, q, tq_n);
		}
	} else {
		if (path_n == 0)
			lb_buf_add(out, "/", 1);
		else
			lb_buf_add(out, p, path_n);
		if (tq_n > 0) {
			lb_buf_add(out, "?", 1);
			lb_buf_add(out, q, tq_n);
		}
	}
	return out->oom ? -ENOMEM : 0;
}

/* Whether one address passes the rules: 1 pass, 0 denied, -1 when s is
 * not an address (ignored). */
static int
address_passes(const struct rt_opts *o, const char *s, size_t n)
{
	char tmp[INET6_ADDRSTRLEN + 8];
	uint8_t addr[16];
	int family;
	size_t i;

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (inet_pton(AF_INET, tmp, addr) == 1)
		family = 4;
	else if (inet_pton(AF_INET6, tmp, addr) == 1)
		family = 6;
	else
		return -1;
	if (o->nallow > 0) {
		for (i = 0; i < o->nallow; i++) {
			if (rt_cidr_contains(&o->allow[i], family, addr))
				return 1;
		}
		return 0;
	}
	for (i = 0; i < o->ndeny; i++) {
		if (rt_cidr_contains(&o->deny[i], family, addr))
			return 0;
	}
	return 1;
}

int
lb_rewrite_allowed(const struct rt_opts *o, const char *client_ip,
		   const struct lb_h1_field *in, size_t nin)
{
	size_t i;

	if (o->nallow == 0 && o->ndeny == 0)
		return 1;
	if (client_ip != NULL &&
	    address_passes(o, client_ip, strlen(client_ip)) == 0)
		return 0;
	for (i = 0; in != NULL && i < nin; i++) {
		const char *v = in[i].value, *vend = v + in[i].value_len;

		if (in[i].name_len != 15 ||
		    !lb_h1_name_is(in[i].name, 15, "x-forwarded-for"))
			continue;
		while (v < vend) {
			const char *comma = memchr(v, ',', (size_t)(vend - v));
			size_t n = comma != NULL ? (size_t)(comma - v) :
						   (size_t)(vend - v);
			size_t a = 0, b = n;

			while (a < b && (v[a] == ' ' || v[a] == '\t'))
				a++;
			while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
				b--;
			if (address_passes(o, v + a, b - a) == 0)
				return 0;
			v += n;
			if (v < vend)
				v++;
		}
	}
	return 1;
}
