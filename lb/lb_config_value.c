/*
 * lb_config_value.c - parse, compare, copy and free one key's value by its
 * type, and the checks on addresses, sizes and CIDRs that rows share.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "devregistry/devreg_duration.h"
#include "lb/lb_config_internal.h"

/* Enum fields are written through an int: an enum with only non-negative
 * values has the size and representation of an int here. */
_Static_assert(sizeof(enum rt_strategy) == sizeof(int), "enum as int");
_Static_assert(sizeof(enum rt_matcher) == sizeof(int), "enum as int");
_Static_assert(sizeof(enum lb_config_checks) == sizeof(int), "enum as int");
_Static_assert(sizeof(enum lb_config_log_level) == sizeof(int), "enum as int");
_Static_assert(sizeof(enum lb_config_access_format) == sizeof(int), "enum as int");
_Static_assert(sizeof(enum lb_config_routes_format) == sizeof(int), "enum as int");

#define FIELD(c, k, type) ((type *)(void *)((char *)(c) + (k)->offset))
#define CFIELD(c, k, type) ((const type *)(const void *)((const char *)(c) + (k)->offset))

/* ---- shared parsers -------------------------------------------------- */

/* A decimal integer with an optional sign and nothing else. */
static int
parse_int64(const char *s, int64_t *out)
{
	const char *p = s;
	char *end;
	long long v;

	if (*p == '+' || *p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

int
lb_config_parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
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
lb_config_parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char *suffix;
		unsigned shift;
	} units[] = {
		{ "", 0 }, { "b", 0 },
		{ "k", 10 }, { "kb", 10 }, { "kib", 10 },
		{ "m", 20 }, { "mb", 20 }, { "mib", 20 },
		{ "g", 30 }, { "gb", 30 }, { "gib", 30 },
	};
	uint64_t v = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(p, units[i].suffix) != 0)
			continue;
		if (v > (UINT64_MAX >> units[i].shift))
			return -ERANGE;
		*out = v << units[i].shift;
		return 0;
	}
	return -EINVAL;
}

/* A host name as far as a listen or agent address needs: letters, digits,
 * '-', '_' and '.', starting with a letter or digit; an all-numeric one
 * must be a dotted IPv4 address. */
static int
host_ok(const char *h, size_t n)
{
	char buf[INET_ADDRSTRLEN];
	struct in_addr a4;
	int numeric = 1;

	if (n == 0 || n > 253 || !isalnum((unsigned char)h[0]))
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)h[i];

		if (!isalnum(ch) && ch != '-' && ch != '_' && ch != '.')
			return 0;
		if (!isdigit(ch) && ch != '.')
			numeric = 0;
	}
	if (!numeric)
		return 1;
	if (n >= sizeof(buf))
		return 0;
	memcpy(buf, h, n);
	buf[n] = '\0';
	return inet_pton(AF_INET, buf, &a4) == 1;
}

static int
port_ok(const char *p)
{
	unsigned v = 0;
	size_t n = 0;

	for (; isdigit((unsigned char)p[n]) && n < 6; n++)
		v = v * 10 + (unsigned)(p[n] - '0');
	return n > 0 && n <= 5 && p[n] == '\0' && v >= 1 && v <= 65535;
}

/* host:port, [ipv6]:port; the host may be left out unless need_host, the
 * port unless need_port. */
static int
hostport_ok(const char *s, int need_host, int need_port)
{
	const char *port;

	if (*s == '[') {
		const char *rb = strchr(s, ']');
		char buf[INET6_ADDRSTRLEN];
		struct in6_addr a6;
		size_t n;

		if (rb == NULL)
			return 0;
		n = (size_t)(rb - s - 1);
		if (n == 0 || n >= sizeof(buf))
			return 0;
		memcpy(buf, s + 1, n);
		buf[n] = '\0';
		if (inet_pton(AF_INET6, buf, &a6) != 1)
			return 0;
		if (rb[1] == '\0')
			return !need_port;
		if (rb[1] != ':')
			return 0;
		port = rb + 2;
	} else {
		const char *colon = strrchr(s, ':');
		size_t n = colon != NULL ? (size_t)(colon - s) : strlen(s);

		if (memchr(s, ':', n) != NULL)  /* IPv6 without brackets */
			return 0;
		if (n == 0 ? need_host : !host_ok(s, n))
			return 0;
		if (colon == NULL)
			return !need_port;
		port = colon + 1;
	}
	return port_ok(port);
}

int
lb_config_check_listen_addr(const char *s, char *why, size_t whylen)
{
	if (strchr(s, ';') != NULL) {
		snprintf(why, whylen, "listener options (;proto=...) are not supported");
		return -EINVAL;
	}
	if (strchr(s, ',') != NULL) {
		snprintf(why, whylen, "want one address, not a list");
		return -EINVAL;
	}
	if (!hostport_ok(s, 0, 1)) {
		snprintf(why, whylen, "want [host]:port such as :9999, "
			 "127.0.0.1:9999 or [::1]:9999");
		return -EINVAL;
	}
	return 0;
}

int
lb_config_check_consul_addr(const char *s, char *why, size_t whylen)
{
	char rest[300];
	size_t n;
	int ok;

	if (strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0) {
		s = strchr(s, '/') + 2;
		n = strlen(s);
		if (n > 0 && s[n - 1] == '/')
			n--;
		ok = n < sizeof(rest);
		if (ok) {
			memcpy(rest, s, n);
			rest[n] = '\0';
			ok = hostport_ok(rest, 1, 0);
		}
	} else {
		ok = strstr(s, "://") == NULL && hostport_ok(s, 1, 1);
	}
	if (!ok) {
		snprintf(why, whylen, "want host:port, http://host[:port] or "
			 "https://host[:port]");
		return -EINVAL;
	}
	return 0;
}

int
lb_config_check_cidr(const char *s, char *why, size_t whylen)
{
	char buf[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t n = slash != NULL ? (size_t)(slash - s) : strlen(s);
	unsigned char addr[16];
	int64_t bits, max = -1;

	if (n > 0 && n < sizeof(buf)) {
		memcpy(buf, s, n);
		buf[n] = '\0';
		if (inet_pton(AF_INET, buf, addr) == 1)
			max = 32;
		else if (inet_pton(AF_INET6, buf, addr) == 1)
			max = 128;
	}
	if (max > 0 && slash != NULL &&
	    (!isdigit((unsigned char)slash[1]) || parse_int64(slash + 1, &bits) < 0 ||
	     bits > max))
		max = -1;
	if (max < 0) {
		snprintf(why, whylen, "want IP addresses or CIDRs such as "
			 "10.0.0.0/8 or ::1");
		return -EINVAL;
	}
	return 0;
}

/* ---- one value per type ---------------------------------------------- */

static const struct lb_config_name *
name_find(const struct lb_config_name *names, const char *s, size_t n)
{
	for (; names->name != NULL; names++)
		if (strlen(names->name) == n && strncasecmp(names->name, s, n) == 0)
			return names;
	return NULL;
}

static void
names_join(const struct lb_config_name *names, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (const struct lb_config_name *m = names; m->name != NULL && o < len; m++) {
		int w = snprintf(buf + o, len - o, "%s%s", m == names ? "" : ", ",
				 m->name);

		if (w < 0)
			break;
		o += (size_t)w;
	}
}

static int
is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* The next comma-separated item of *p without blanks around it; returns
 * its length and start in *item, advancing *p past the comma. */
static size_t
next_item(const char **p, const char **item)
{
	const char *s = *p, *e;

	while (is_blank(*s))
		s++;
	e = strchr(s, ',');
	*p = e != NULL ? e + 1 : s + strlen(s);
	if (e == NULL)
		e = s + strlen(s);
	while (e > s && is_blank(e[-1]))
		e--;
	*item = s;
	return (size_t)(e - s);
}

static void
list_clear(struct lb_config_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int
parse_list(const struct lb_config_key *k, const char *text, struct lb_config_list *out,
	   char *why, size_t whylen)
{
	struct lb_config_list l = { NULL, 0 };
	size_t cap = 1;
	int rc = -ENOMEM;

	for (const char *p = text; *p != '\0';)
		cap += *p++ == ',';
	l.v = calloc(cap, sizeof(*l.v));
	if (l.v == NULL)
		goto fail;
	for (const char *p = text; *p != '\0';) {
		const char *item;
		size_t n = next_item(&p, &item);

		if (n == 0)
			continue;
		if ((l.v[l.n] = strndup(item, n)) == NULL) {
			rc = -ENOMEM;
			goto fail;
		}
		l.n++;
		if (k->check != NULL && (rc = k->check(l.v[l.n - 1], why, whylen)) < 0)
			goto fail;
	}
	*out = l;
	return 0;
fail:
	list_clear(&l);
	return rc;
}

static int
parse_flags(const struct lb_config_key *k, const char *text, unsigned *out,
	    char *why, size_t whylen)
{
	unsigned v = 0;
	char all[96];

	for (const char *p = text; *p != '\0';) {
		const char *item;
		size_t n = next_item(&p, &item);
		const struct lb_config_name *m;

		if (n == 0)
			continue;
		m = name_find(k->names, item, n);
		if (m == NULL) {
			v = 0;
			break;
		}
		v |= m->value;
	}
	if (v == 0) {
		names_join(k->names, all, sizeof(all));
		snprintf(why, whylen, "want a comma list of %s", all);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static void
want_range(const char *what, int64_t min, int64_t max, char *why, size_t whylen)
{
	if (max == INT64_MAX)
		snprintf(why, whylen, "want %s >= %lld", what, (long long)min);
	else
		snprintf(why, whylen, "want %s %lld..%lld", what, (long long)min,
			 (long long)max);
}

int
lb_config_value_set(const struct lb_config_key *k, struct lb_config *c,
		    const char *text, char *why, size_t whylen)
{
	char all[96];
	int64_t i64;
	uint64_t u64;
	int b, rc;

	switch (k->type) {
	case LB_CFG_STRING: {
		char *s;

		if (k->check != NULL && (rc = k->check(text, why, whylen)) < 0)
			return rc;
		if ((s = strdup(text)) == NULL)
			return -ENOMEM;
		free(*FIELD(c, k, char *));
		*FIELD(c, k, char *) = s;
		return 0;
	}
	case LB_CFG_BOOL:
		if (lb_config_parse_bool(text, &b) < 0) {
			snprintf(why, whylen, "want true or false");
			return -EINVAL;
		}
		*FIELD(c, k, int) = b;
		return 0;
	case LB_CFG_INT:
		if (parse_int64(text, &i64) < 0 || i64 < k->min || i64 > k->max) {
			want_range("an integer", k->min, k->max, why, whylen);
			return -EINVAL;
		}
		*FIELD(c, k, int) = (int)i64;
		return 0;
	case LB_CFG_DURATION:
		if (devreg_duration_parse(text, &i64, NULL, 0) < 0) {
			snprintf(why, whylen, "want a duration such as 500ms, 30s or 1m30s");
			return -EINVAL;
		}
		if (i64 < k->min || i64 > k->max) {
			snprintf(why, whylen, "want a duration %s", k->min > 0 ? "> 0" : ">= 0");
			return -EINVAL;
		}
		*FIELD(c, k, int64_t) = i64;
		return 0;
	case LB_CFG_SIZE:
		if (lb_config_parse_size(text, &u64) < 0 || u64 < (uint64_t)k->min ||
		    u64 > (uint64_t)k->max) {
			snprintf(why, whylen, "want a size in bytes with an optional k, m "
				 "or g suffix, such as 64m");
			return -EINVAL;
		}
		*FIELD(c, k, uint64_t) = u64;
		return 0;
	case LB_CFG_ENUM: {
		const struct lb_config_name *m = name_find(k->names, text, strlen(text));

		if (m == NULL) {
			names_join(k->names, all, sizeof(all));
			snprintf(why, whylen, "want one of %s", all);
			return -EINVAL;
		}
		*FIELD(c, k, int) = (int)m->value;
		return 0;
	}
	case LB_CFG_FLAGS:
		return parse_flags(k, text, FIELD(c, k, unsigned), why, whylen);
	case LB_CFG_LIST: {
		struct lb_config_list l;

		if ((rc = parse_list(k, text, &l, why, whylen)) < 0)
			return rc;
		list_clear(FIELD(c, k, struct lb_config_list));
		*FIELD(c, k, struct lb_config_list) = l;
		return 0;
	}
	}
	return -EINVAL;
}

int
lb_config_value_equal(const struct lb_config_key *k, const struct lb_config *a,
		      const struct lb_config *b)
{
	switch (k->type) {
	case LB_CFG_STRING: {
		const char *x = *CFIELD(a, k, char *), *y = *CFIELD(b, k, char *);

		return strcmp(x != NULL ? x : "", y != NULL ? y : "") == 0;
	}
	case LB_CFG_BOOL:
	case LB_CFG_INT:
	case LB_CFG_ENUM:
		return *CFIELD(a, k, int) == *CFIELD(b, k, int);
	case LB_CFG_DURATION:
		return *CFIELD(a, k, int64_t) == *CFIELD(b, k, int64_t);
	case LB_CFG_SIZE:
		return *CFIELD(a, k, uint64_t) == *CFIELD(b, k, uint64_t);
	case LB_CFG_FLAGS:
		return *CFIELD(a, k, unsigned) == *CFIELD(b, k, unsigned);
	case LB_CFG_LIST: {
		const struct lb_config_list *x = CFIELD(a, k, struct lb_config_list);
		const struct lb_config_list *y = CFIELD(b, k, struct lb_config_list);

		if (x->n != y->n)
			return 0;
		for (size_t i = 0; i < x->n; i++)
			if (strcmp(x->v[i], y->v[i]) != 0)
				return 0;
		return 1;
	}
	}
	return 0;
}

int
lb_config_value_copy(const struct lb_config_key *k, struct lb_config *dst,
		     const struct lb_config *src)
{
	switch (k->type) {
	case LB_CFG_STRING: {
		const char *s = *CFIELD(src, k, char *);
		char *d = strdup(s != NULL ? s : "");

		if (d == NULL)
			return -ENOMEM;
		free(*FIELD(dst, k, char *));
		*FIELD(dst, k, char *) = d;
		return 0;
	}
	case LB_CFG_BOOL:
	case LB_CFG_INT:
	case LB_CFG_ENUM:
		*FIELD(dst, k, int) = *CFIELD(src, k, int);
		return 0;
	case LB_CFG_DURATION:
		*FIELD(dst, k, int64_t) = *CFIELD(src, k, int64_t);
		return 0;
	case LB_CFG_SIZE:
		*FIELD(dst, k, uint64_t) = *CFIELD(src, k, uint64_t);
		return 0;
	case LB_CFG_FLAGS:
		*FIELD(dst, k, unsigned) = *CFIELD(src, k, unsigned);
		return 0;
	case LB_CFG_LIST: {
		const struct lb_config_list *s = CFIELD(src, k, struct lb_config_list);
		struct lb_config_list l = { NULL, 0 };

		l.v = calloc(s->n + 1, sizeof(*l.v));
		if (l.v == NULL)
			return -ENOMEM;
		for (; l.n < s->n; l.n++)
			if ((l.v[l.n] = strdup(s->v[l.n])) == NULL) {
				list_clear(&l);
				return -ENOMEM;
			}
		list_clear(FIELD(dst, k, struct lb_config_list));
		*FIELD(dst, k, struct lb_config_list) = l;
		return 0;
	}
	}
	return -EINVAL;
}

void
lb_config_value_free(const struct lb_config_key *k, struct lb_config *c)
{
	if (k->type == LB_CFG_STRING) {
		free(*FIELD(c, k, char *));
		*FIELD(c, k, char *) = NULL;
	} else if (k->type == LB_CFG_LIST) {
		list_clear(FIELD(c, k, struct lb_config_list));
	}
}
