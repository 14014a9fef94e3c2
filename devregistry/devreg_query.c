/*
 * devreg_query.c - URL decoding and query parameters the way Go's net/url
 * reads them, since Consul's answers depend on those rules (a bare
 * "?stale" is present, "?passing=" is true, "Conflicting flags" echoes
 * url.Values.Encode()).
 */
#include <errno.h>
#include <event2/buffer.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devregistry/devreg_http.h"

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *
devreg_unescape(const char *s, size_t n, int plus)
{
	char *out = malloc(n + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			int h, l;

			if (i + 2 >= n)
				goto bad;
			h = hexval((unsigned char)s[i + 1]);
			l = hexval((unsigned char)s[i + 2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0))
				goto bad;
			*o++ = (char)(h * 16 + l);
			i += 2;
		} else if (plus && s[i] == '+') {
			*o++ = ' ';
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

int
devreg_query_parse(struct devreg_req *r, const char *qs)
{
	size_t cap = 0;

	while (qs != NULL && *qs != '\0') {
		size_t n = strcspn(qs, "&");
		const char *eq = memchr(qs, '=', n);
		size_t klen = eq != NULL ? (size_t)(eq - qs) : n;
		char *k, *v;

		if (n > 0 && !(memchr(qs, ';', n) != NULL)) {
			k = devreg_unescape(qs, klen, 1);
			v = eq != NULL ? devreg_unescape(eq + 1, n - klen - 1, 1) : strdup("");
			if (k != NULL && v != NULL && *k != '\0') {
				if (r->nq == cap) {
					size_t ncap = cap ? cap * 2 : 8;
					struct devreg_query_pair *q = realloc(r->q, ncap * sizeof(*q));

					if (q == NULL) {
						free(k);
						free(v);
						return -ENOMEM;
					}
					r->q = q;
					cap = ncap;
				}
				r->q[r->nq].key = k;
				r->q[r->nq].value = v;
				r->nq++;
			} else {
				free(k);
				free(v);
			}
		}
		qs += n;
		if (*qs == '&')
			qs++;
	}
	return 0;
}

const char *
devreg_query(const struct devreg_req *r, const char *key)
{
	for (size_t i = 0; i < r->nq; i++)
		if (strcmp(r->q[i].key, key) == 0)
			return r->q[i].value;
	return NULL;
}

int
devreg_query_has(const struct devreg_req *r, const char *key)
{
	return devreg_query(r, key) != NULL;
}

size_t
devreg_query_all(const struct devreg_req *r, const char *key, const char **out,
		 size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < r->nq && n < max; i++)
		if (strcmp(r->q[i].key, key) == 0)
			out[n++] = r->q[i].value;
	return n;
}

int
devreg_parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };

	for (size_t i = 0; i < 6; i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -EINVAL;
}

int
devreg_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

/* Go's url.QueryEscape. */
static int
query_escape(struct evbuffer *b, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		int r;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~')
			r = evbuffer_add(b, s, 1);
		else if (c == ' ')
			r = evbuffer_add(b, "+", 1);
		else
			r = evbuffer_add_printf(b, "%%%02X", c) < 0 ? -1 : 0;
		if (r < 0)
			return -ENOMEM;
	}
	return 0;
}

static int
cmp_key(const void *a, const void *b)
{
	const struct devreg_query_pair *const *x = a, *const *y = b;
	int c = strcmp((*x)->key, (*y)->key);

	/* Keep the order of a key's values: compare positions last. */
	if (c != 0)
		return c;
	return *x < *y ? -1 : *x > *y;
}

char *
devreg_query_encode(const struct devreg_req *r)
{
	struct devreg_query_pair **v = calloc(r->nq + 1, sizeof(*v));
	struct evbuffer *b = evbuffer_new();
	char *out = NULL;
	size_t len;

	if (v == NULL || b == NULL)
		goto done;
	for (size_t i = 0; i < r->nq; i++)
		v[i] = &r->q[i];
	qsort(v, r->nq, sizeof(*v), cmp_key);
	for (size_t i = 0; i < r->nq; i++) {
		if ((i > 0 && evbuffer_add(b, "&", 1) < 0) || query_escape(b, v[i]->key) < 0 ||
		    evbuffer_add(b, "=", 1) < 0 || query_escape(b, v[i]->value) < 0)
			goto done;
	}
	len = evbuffer_get_length(b);
	out = malloc(len + 1);
	if (out != NULL) {
		evbuffer_copyout(b, out, len);
		out[len] = '\0';
	}
done:
	free(v);
	if (b != NULL)
		evbuffer_free(b);
	return out;
}

