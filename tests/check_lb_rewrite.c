/*
 * check_lb_rewrite.c - route options applied to a request, fabio's way:
 * strip/prepend on the upstream path, the target's query merged with the
 * request's, redirect= templates ($path, $host, strip and prepend,
 * queries), and allow=/deny= on the client address and X-Forwarded-For.
 */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "lb/lb_rewrite.h"
#include "routes/rt_opts.h"
#include "tests/check_main.h"

static struct lb_buf out;

static void
setup(void)
{
	memset(&out, 0, sizeof(out));
}

static void
teardown(void)
{
	lb_buf_free(&out);
}

static const char *
text(void)
{
	lb_buf_add(&out, "", 1);
	out.len--;
	return out.p;
}

static const char *
path(const char *p, const char *strip, const char *prepend)
{
	lb_buf_reset(&out);
	ck_assert_int_eq(lb_rewrite_path(&out, p, strlen(p), strip, prepend), 0);
	return text();
}

START_TEST(test_path)
{
	ck_assert_str_eq(path("/foo/bar", NULL, NULL), "/foo/bar");
	ck_assert_str_eq(path("/foo/bar", "/foo", NULL), "/bar");
	ck_assert_str_eq(path("/foo", "/foo", NULL), "/");
	ck_assert_str_eq(path("/foo/", "/foo", NULL), "/");
	/* a prefix, not a segment: fabio's strings.HasPrefix */
	ck_assert_str_eq(path("/foobar", "/foo", NULL), "/bar");
	ck_assert_str_eq(path("/other", "/foo", NULL), "/other");
	ck_assert_str_eq(path("/x", NULL, "/api"), "/api/x");
	ck_assert_str_eq(path("/foo/x", "/foo", "/v2"), "/v2/x");
	ck_assert_str_eq(path("/foo", "/foo", "/v2"), "/v2/");
}
END_TEST

static const char *
query(const char *url, const char *q)
{
	lb_buf_reset(&out);
	ck_assert_int_eq(lb_rewrite_query(&out, url, q, q ? strlen(q) : 0), 0);
	return text();
}

START_TEST(test_query)
{
	ck_assert_str_eq(query("http://10.0.0.1:80/", "a=1"), "a=1");
	ck_assert_str_eq(query("http://10.0.0.1:80/?t=2", NULL), "t=2");
	ck_assert_str_eq(query("http://10.0.0.1:80/?t=2", "a=1"), "t=2&a=1");
	ck_assert_str_eq(query("http://10.0.0.1:80/?t=2#f", ""), "t=2");
	ck_assert_str_eq(query("http://10.0.0.1:80/", NULL), "");
}
END_TEST

static const char *
redirect(const char *tmpl, const char *p, const char *q, const char *host,
	 const char *strip, const char *prepend)
{
	lb_buf_reset(&out);
	ck_assert_int_eq(lb_rewrite_redirect(&out, tmpl, p, strlen(p), q,
					     q ? strlen(q) : 0, host, strip,
					     prepend), 0);
	return text();
}

START_TEST(test_redirect)
{
	/* fabio's examples */
	ck_assert_str_eq(redirect("https://example.com$path", "/r/a", "q=2",
				  "h", NULL, NULL),
			 "https://example.com/r/a?q=2");
	ck_assert_str_eq(redirect("https://example.com/$path", "/r/a", NULL,
				  "h", NULL, NULL),
			 "https://example.com/r/a");
	ck_assert_str_eq(redirect("https://example.com/new$path", "/r", NULL,
				  "h", NULL, NULL),
			 "https://example.com/new/r");
	ck_assert_str_eq(redirect("https://$host$path", "/x", NULL,
				  "site.example:8080", NULL, NULL),
			 "https://site.example:8080/x");
	ck_assert_str_eq(redirect("https://$host/fixed", "/x", "a=1",
				  "site.example", NULL, NULL),
			 "https://site.example/fixed");
	ck_assert_str_eq(redirect("http://example.com", "/x", "a=1", "h", NULL,
				  NULL),
			 "http://example.com/");
	/* the template's own query wins */
	ck_assert_str_eq(redirect("http://example.com$path?t=1", "/x", "a=1",
				  "h", NULL, NULL),
			 "http://example.com/x?t=1");
	ck_assert_str_eq(redirect("http://example.com/p?t=1", "/x", "a=1", "h",
				  NULL, NULL),
			 "http://example.com/p?t=1");
	/* strip then prepend, inside $path */
	ck_assert_str_eq(redirect("https://example.com$path", "/old/page",
				  NULL, "h", "/old", "/new"),
			 "https://example.com/new/page");
	ck_assert_int_eq(lb_rewrite_redirect(&out, "no-scheme", "/", 1, NULL, 0,
					     NULL, NULL, NULL), -EINVAL);
}
END_TEST

static void
opts(const char *text_, struct rt_opts *o)
{
	struct rt_err err;

	memset(o, 0, sizeof(*o));
	ck_assert_int_eq(rt_opts_parse(text_, strlen(text_), o, &err), 0);
}

/* The client's fields, as the request parser hands them over. */
struct fields {
	struct lb_h1_field f[8];
	size_t n;
};

static void
field_add(struct fields *h, const char *name, const char *value)
{
	ck_assert_uint_lt(h->n, 8);
	h->f[h->n].name = name;
	h->f[h->n].name_len = strlen(name);
	h->f[h->n].value = value;
	h->f[h->n].value_len = strlen(value);
	h->n++;
}

START_TEST(test_allowed)
{
	struct rt_opts o;
	struct fields h;

	h.n = 0;
	opts("", &o);
	ck_assert(lb_rewrite_allowed(&o, "203.0.113.9", NULL, 0));
	rt_opts_clear(&o);

	opts("allow=ip:10.0.0.0/8,ip:fe80::/10", &o);
	ck_assert(lb_rewrite_allowed(&o, "10.1.2.3", NULL, 0));
	ck_assert(!lb_rewrite_allowed(&o, "11.1.2.3", NULL, 0));
	ck_assert(lb_rewrite_allowed(&o, "fe80::1", NULL, 0));
	ck_assert(!lb_rewrite_allowed(&o, "2001:db8::1", NULL, 0));
	/* every X-Forwarded-For address must pass too */
	field_add(&h, "X-Forwarded-For", "10.0.0.5, 10.9.9.9");
	ck_assert(lb_rewrite_allowed(&o, "10.1.2.3", h.f, h.n));
	field_add(&h, "X-Forwarded-For", "192.0.2.1");
	ck_assert(!lb_rewrite_allowed(&o, "10.1.2.3", h.f, h.n));
	h.n = 0;
	/* entries that are not addresses are ignored, as in fabio */
	field_add(&h, "X-Forwarded-For", "unknown, , 10.0.0.1");
	ck_assert(lb_rewrite_allowed(&o, "10.1.2.3", h.f, h.n));
	h.n = 0;
	rt_opts_clear(&o);

	opts("deny=ip:127.0.0.1,ip:192.168.0.0/16", &o);
	ck_assert(!lb_rewrite_allowed(&o, "127.0.0.1", NULL, 0));
	ck_assert(lb_rewrite_allowed(&o, "127.0.0.2", NULL, 0));
	ck_assert(!lb_rewrite_allowed(&o, "192.168.44.1", NULL, 0));
	/* an IPv4-mapped IPv6 client matches IPv4 blocks */
	ck_assert(!lb_rewrite_allowed(&o, "::ffff:127.0.0.1", NULL, 0));
	field_add(&h, "X-Forwarded-For", "8.8.8.8,192.168.1.1");
	ck_assert(!lb_rewrite_allowed(&o, "127.0.0.2", h.f, h.n));
	h.n = 0;
	rt_opts_clear(&o);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("lb_rewrite");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_path);
	tcase_add_test(tc, test_query);
	tcase_add_test(tc, test_redirect);
	tcase_add_test(tc, test_allowed);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_main_run(suite());
}
