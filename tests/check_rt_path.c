/*
 * check_rt_path.c - request path normalisation, the glob matcher, host
 * normalisation, and the three path matchers seen through table lookups.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "routes/rt_table_internal.h"
#include "rt_table_testutil.h"

/* ---- normalisation ---------------------------------------------------- */

static const char *norm(const char *in)
{
	static char out[256];
	long n = rt_path_normalize(in, strlen(in), out, sizeof(out));

	if (n < 0)
		return NULL;
	ck_assert_uint_eq((size_t)n, strlen(out));
	return out;
}

START_TEST(normalize_dot_segments)
{
	ck_assert_str_eq(norm("/"), "/");
	ck_assert_str_eq(norm("/a/b"), "/a/b");
	ck_assert_str_eq(norm("/a/b/"), "/a/b/");
	ck_assert_str_eq(norm("/a/./b"), "/a/b");
	ck_assert_str_eq(norm("/./"), "/");
	ck_assert_str_eq(norm("/."), "/");
	ck_assert_str_eq(norm("/a/."), "/a/");
	ck_assert_str_eq(norm("/a/../b"), "/b");
	ck_assert_str_eq(norm("/a/b/../c/"), "/a/c/");
	ck_assert_str_eq(norm("/a/b/.."), "/a/");
	/* never above the root */
	ck_assert_str_eq(norm("/.."), "/");
	ck_assert_str_eq(norm("/../"), "/");
	ck_assert_str_eq(norm("/../etc/passwd"), "/etc/passwd");
	ck_assert_str_eq(norm("/a/../../../b"), "/b");
	/* not dot segments */
	ck_assert_str_eq(norm("/..."), "/...");
	ck_assert_str_eq(norm("/.hidden/..x/x.."), "/.hidden/..x/x..");
	/* empty segments are kept, ".." takes one */
	ck_assert_str_eq(norm("//a"), "//a");
	ck_assert_str_eq(norm("/a//../b"), "/a/b");
}
END_TEST

START_TEST(normalize_percent)
{
	ck_assert_str_eq(norm("/%41%42c"), "/ABc");
	ck_assert_str_eq(norm("/%7e%7E%2d%2E%5f%30"), "/~~-._0");
	/* reserved and other bytes stay encoded, as written */
	ck_assert_str_eq(norm("/a%2Fb"), "/a%2Fb");
	ck_assert_str_eq(norm("/a%2fb"), "/a%2fb");
	ck_assert_str_eq(norm("/%2F..%2F"), "/%2F..%2F");
	ck_assert_str_eq(norm("/a%20b%3F%25"), "/a%20b%3F%25");
	/* no double decoding */
	ck_assert_str_eq(norm("/%252e%252e/x"), "/%252e%252e/x");
	/* decoded dots are dot segments (the 1.7.3 fix) */
	ck_assert_str_eq(norm("/%2e%2e/etc"), "/etc");
	ck_assert_str_eq(norm("/a/%2E%2e/b"), "/b");
	ck_assert_str_eq(norm("/a/.%2e"), "/");
	ck_assert_str_eq(norm("/a/%2e/b"), "/a/b");
	/* broken escapes are data */
	ck_assert_str_eq(norm("/%zz"), "/%zz");
	ck_assert_str_eq(norm("/%4"), "/%4");
	ck_assert_str_eq(norm("/%"), "/%");
	ck_assert_str_eq(norm("/%g1%1g"), "/%g1%1g");
}
END_TEST

START_TEST(normalize_rejects)
{
	char out[8];

	ck_assert_ptr_null(norm(""));
	ck_assert_ptr_null(norm("a/b"));
	ck_assert_ptr_null(norm("%2Fa"));
	ck_assert_ptr_null(norm("*"));
	ck_assert_int_eq(rt_path_normalize(NULL, 0, out, sizeof(out)), -1);
	ck_assert_int_eq(rt_path_normalize("/", 1, NULL, 0), -1);
	/* out too small; exactly big enough */
	ck_assert_int_eq(rt_path_normalize("/abcdefgh", 9, out, sizeof(out)), -1);
	ck_assert_int_eq(rt_path_normalize("/abcdefg", 8, out, sizeof(out)), -1);
	ck_assert_int_eq(rt_path_normalize("/abcdef", 7, out, sizeof(out)), 7);
	ck_assert_str_eq(out, "/abcdef");
	/* decoding makes it fit */
	ck_assert_int_eq(rt_path_normalize("/%41%42%43", 10, out, sizeof(out)), 4);
	ck_assert_str_eq(out, "/ABC");
	/* len counts, not the NUL */
	ck_assert_int_eq(rt_path_normalize("/ab/../cd", 3, out, sizeof(out)), 3);
	ck_assert_str_eq(out, "/ab");
}
END_TEST

/* ---- glob ---------------------------------------------------------------- */

static int gm(const char *pat, const char *s)
{
	struct rt_arena a = { 0 };
	struct rt_glob g;
	int m;

	ck_assert_int_eq(rt_glob_compile(&a, pat, strlen(pat), 0, &g), 0);
	m = rt_glob_match(&g, s, strlen(s));
	rt_arena_free(&a);
	return m;
}

START_TEST(glob_anchored)
{
	ck_assert(gm("/foo", "/foo"));
	ck_assert(!gm("/foo", "/fools"));
	ck_assert(!gm("/foo", "/fo"));
	ck_assert(!gm("/foo", "/foo/"));
	ck_assert(gm("/foo*", "/foo"));
	ck_assert(gm("/foo*", "/fools"));
	ck_assert(gm("/foo*", "/foo/bar/baz"));   /* '*' crosses '/' */
	ck_assert(gm("/foo/**/bar", "/foo/x/y/bar"));
	ck_assert(!gm("/foo/**/bar", "/foo/x/y/bar/z"));
	ck_assert(gm("*", ""));
	ck_assert(gm("*", "/anything/at/all"));
	ck_assert(gm("", ""));
	ck_assert(!gm("", "/"));
	ck_assert(gm("/a*b*c", "/axxbyyc"));
	ck_assert(gm("/a*b*c", "/abcbc"));
	ck_assert(!gm("/a*b*c", "/abcb"));
	ck_assert(gm("*.html", "/x/y.html"));
	ck_assert(!gm("*.html", "/x/y.htm"));
}
END_TEST

START_TEST(glob_chars_and_classes)
{
	ck_assert(gm("/?", "/a"));
	ck_assert(!gm("/?", "/"));
	ck_assert(!gm("/?", "/ab"));
	ck_assert(gm("/v[0-9]/x", "/v7/x"));
	ck_assert(!gm("/v[0-9]/x", "/vx/x"));
	ck_assert(gm("/[abc]", "/b"));
	ck_assert(!gm("/[abc]", "/d"));
	ck_assert(gm("/[!abc]", "/d"));
	ck_assert(!gm("/[!abc]", "/a"));
	ck_assert(gm("/[^a]", "/b"));
	ck_assert(gm("/[]x]", "/]"));        /* ']' first is a member */
	ck_assert(gm("/[a-]", "/-"));        /* '-' last is a member */
	ck_assert(gm("/\\*", "/*"));         /* escaped */
	ck_assert(!gm("/\\*", "/x"));
	ck_assert(gm("/[", "/["));           /* unclosed: literal */
	ck_assert(gm("/[ab", "/[ab"));
	ck_assert(!gm("/[ab", "/a"));
	ck_assert(gm("/\\", "/\\"));         /* trailing backslash: literal */
	ck_assert(!gm("/A", "/a"));          /* paths are case-sensitive */
}
END_TEST

START_TEST(glob_no_blowup)
{
	char s[4097];

	memset(s, 'a', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	/* quadratic at worst, never exponential: this returns at once */
	ck_assert(!gm("*a*a*a*a*a*a*a*a*a*a*b", s));
	ck_assert(gm("*a*a*a*a*a*a*a*a*a*a", s));
}
END_TEST

START_TEST(glob_literal_head_tail)
{
	ck_assert_uint_eq(rt_glob_literal_prefix("/foo*", 5), 4);
	ck_assert_uint_eq(rt_glob_literal_prefix("/foo", 4), 4);
	ck_assert_uint_eq(rt_glob_literal_prefix("*x", 2), 0);
	ck_assert_uint_eq(rt_glob_literal_prefix("/a\\*", 4), 2);
	ck_assert_uint_eq(rt_glob_literal_suffix("*.example.com", 13), 12);
	ck_assert_uint_eq(rt_glob_literal_suffix("*", 1), 0);
	ck_assert_uint_eq(rt_glob_literal_suffix("a[bc]", 5), 0);
	ck_assert_uint_eq(rt_glob_literal_suffix("a\\*b", 4), 1);
	ck_assert_uint_eq(rt_glob_literal_suffix("a\\*", 3), 0);
}
END_TEST

/* ---- hosts ------------------------------------------------------------- */

static const char *hn(const char *h, int tls)
{
	static char buf[RT_HOST_MAX + 1];

	if (rt_host_normalize(h, strlen(h), tls, buf, sizeof(buf)) < 0)
		return NULL;
	return buf;
}

START_TEST(host_normalize)
{
	ck_assert_str_eq(hn("Example.COM", 0), "example.com");
	ck_assert_str_eq(hn("Example.COM:80", 0), "example.com");
	ck_assert_str_eq(hn("example.com:80", 1), "example.com:80");
	ck_assert_str_eq(hn("example.com:443", 1), "example.com");
	ck_assert_str_eq(hn("example.com:443", 0), "example.com:443");
	ck_assert_str_eq(hn("example.com:8080", 0), "example.com:8080");
	ck_assert_str_eq(hn("example.com:180", 0), "example.com:180");
	ck_assert_str_eq(hn("[::1]:80", 0), "[::1]");
	ck_assert_str_eq(hn("[::1]:9999", 0), "[::1]:9999");
	ck_assert_str_eq(hn("[FE80::1]:443", 1), "[fe80::1]");
	ck_assert_str_eq(hn("[::80]", 0), "[::80]");
	ck_assert_str_eq(hn("fe80::80", 0), "fe80::80");   /* bare IPv6: no port */
	ck_assert_str_eq(hn("10.0.0.1:80", 0), "10.0.0.1");
	ck_assert_str_eq(hn(":80", 0), "");
	ck_assert_str_eq(hn("", 0), "");
	/* eight bytes at a time and the rest: every byte value */
	for (int c = 1; c < 256; c++) {
		char in[20], want[20];

		for (int i = 0; i < 19; i++) {
			in[i] = (char)(i == 9 || i == 17 ? c : 'A' + i);
			want[i] = (char)((unsigned char)in[i] >= 'A' &&
					 (unsigned char)in[i] <= 'Z' ? in[i] + 32 : in[i]);
		}
		in[19] = want[19] = '\0';
		ck_assert_str_eq(hn(in, 0), want);
	}
	{
		char big[RT_HOST_MAX + 2];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		ck_assert_ptr_null(hn(big, 0));
	}
}
END_TEST

START_TEST(host_wildcards)
{
	const char *v[] = { "*.com", "*.b.example.com", "*", "*.example.com",
			    "a*.example.com", "*.example.org" };
	const char *want[] = { "*.b.example.com", "a*.example.com",
			       "*.example.com", "*.example.org", "*.com", "*" };

	ck_assert(rt_host_is_wildcard("*.example.com"));
	ck_assert(rt_host_is_wildcard("api-?.example.com"));
	ck_assert(rt_host_is_wildcard("api[12].example.com"));
	ck_assert(!rt_host_is_wildcard("example.com"));
	ck_assert(!rt_host_is_wildcard("[::1]:9999"));
	ck_assert(!rt_host_is_wildcard("[fe80::1%25eth0]"));
	ck_assert(!rt_host_is_wildcard(""));
	/* an insertion sort with the order function */
	for (int i = 1; i < 6; i++) {
		for (int j = i; j > 0 && rt_host_wildcard_cmp(v[j - 1], v[j]) > 0; j--) {
			const char *x = v[j];

			v[j] = v[j - 1];
			v[j - 1] = x;
		}
	}
	for (int i = 0; i < 6; i++)
		ck_assert_str_eq(v[i], want[i]);
}
END_TEST

/* ---- matchers through the table ------------------------------------------ */

static struct rt_table *paths_table(enum rt_matcher m, const char **paths,
				    size_t n)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;

	for (size_t i = 0; i < n; i++) {
		char dst[64];

		snprintf(dst, sizeof(dst), "http://10.0.0.%zu:80/", i + 1);
		tu_add(&l, "svc", paths[i], dst, 0, NULL);
	}
	t = tu_build(&l, m, NULL);
	rt_cmd_list_clear(&l);
	return t;
}

START_TEST(prefix_longest_wins)
{
	const char *p[] = { "/foo", "/foobar", "/foo/", "/", "/fo" };
	struct rt_table *t = paths_table(RT_MATCH_PREFIX, p, 5);

	/* not segment aware, as fabio: /foo matches /foox */
	ck_assert_str_eq(tu_hit(t, "x", "/foobar/baz", 0), "|/foobar");
	ck_assert_str_eq(tu_hit(t, "x", "/foobar", 0), "|/foobar");
	ck_assert_str_eq(tu_hit(t, "x", "/fooba", 0), "|/foo");
	ck_assert_str_eq(tu_hit(t, "x", "/foox", 0), "|/foo");
	ck_assert_str_eq(tu_hit(t, "x", "/foo", 0), "|/foo");
	/* trailing slash: the route /foo/ needs it */
	ck_assert_str_eq(tu_hit(t, "x", "/foo/", 0), "|/foo/");
	ck_assert_str_eq(tu_hit(t, "x", "/foo/x", 0), "|/foo/");
	ck_assert_str_eq(tu_hit(t, "x", "/fo", 0), "|/fo");
	ck_assert_str_eq(tu_hit(t, "x", "/f", 0), "|/");
	ck_assert_str_eq(tu_hit(t, "x", "/FOO", 0), "|/");
	ck_assert_str_eq(tu_hit(t, "x", "", 0), "-");
	rt_table_unref(t);
}
END_TEST

START_TEST(prefix_without_root)
{
	const char *p[] = { "/foo/", "/api" };
	struct rt_table *t = paths_table(RT_MATCH_PREFIX, p, 2);

	ck_assert_str_eq(tu_hit(t, NULL, "/foo", 0), "-");
	ck_assert_str_eq(tu_hit(t, NULL, "/", 0), "-");
	ck_assert_str_eq(tu_hit(t, NULL, "/apiv2", 0), "|/api");
	rt_table_unref(t);
}
END_TEST

START_TEST(iprefix_case)
{
	const char *p[] = { "/Foo", "/foo/BAR", "/", "/x" };
	struct rt_table *t = paths_table(RT_MATCH_IPREFIX, p, 4);

	ck_assert_str_eq(tu_hit(t, "h", "/foo", 0), "|/Foo");
	ck_assert_str_eq(tu_hit(t, "h", "/FOO/x", 0), "|/Foo");
	ck_assert_str_eq(tu_hit(t, "h", "/FOO/bar/1", 0), "|/foo/BAR");
	ck_assert_str_eq(tu_hit(t, "h", "/X", 0), "|/x");
	ck_assert_str_eq(tu_hit(t, "h", "/y", 0), "|/");
	rt_table_unref(t);
}
END_TEST

START_TEST(iprefix_same_path_two_cases)
{
	const char *p[] = { "/Foo", "/foo" };
	struct rt_table *t = paths_table(RT_MATCH_IPREFIX, p, 2);

	/* both match; reverse lexical order of the paths decides */
	ck_assert_uint_eq(rt_table_nroutes(t), 2);
	ck_assert_str_eq(tu_hit(t, "h", "/FOO", 0), "|/foo");
	rt_table_unref(t);
}
END_TEST

START_TEST(glob_paths)
{
	const char *p[] = { "/foo", "/foo*", "/foo/**/bar", "/img/*.png",
			    "/v[12]/*", "/*" };
	struct rt_table *t = paths_table(RT_MATCH_GLOB, p, 6);

	/* "/foo*" sorts before "/foo" and matches it too, as in fabio */
	ck_assert_str_eq(tu_hit(t, "h", "/foo", 0), "|/foo*");
	ck_assert_str_eq(tu_hit(t, "h", "/fools", 0), "|/foo*");
	ck_assert_str_eq(tu_hit(t, "h", "/foo/a/b/bar", 0), "|/foo/**/bar");
	ck_assert_str_eq(tu_hit(t, "h", "/img/a.png", 0), "|/img/*.png");
	ck_assert_str_eq(tu_hit(t, "h", "/img/a.gif", 0), "|/*");
	ck_assert_str_eq(tu_hit(t, "h", "/v2/x", 0), "|/v[12]/*");
	ck_assert_str_eq(tu_hit(t, "h", "/v3/x", 0), "|/*");
	ck_assert_str_eq(tu_hit(t, "h", "/", 0), "|/*");
	rt_table_unref(t);
}
END_TEST

START_TEST(glob_exact_only)
{
	const char *p[] = { "/foo" };
	struct rt_table *t = paths_table(RT_MATCH_GLOB, p, 1);

	/* anchored: a glob is the whole path, not a prefix */
	ck_assert_str_eq(tu_hit(t, "h", "/foo", 0), "|/foo");
	ck_assert_str_eq(tu_hit(t, "h", "/fools", 0), "-");
	ck_assert_str_eq(tu_hit(t, "h", "/foo/", 0), "-");
	rt_table_unref(t);
}
END_TEST

START_TEST(normalized_then_matched)
{
	const char *p[] = { "/admin", "/public" };
	struct rt_table *t = paths_table(RT_MATCH_PREFIX, p, 2);
	const char *raw = "/public/%2e%2e/admin/x";
	char buf[64];
	long n = rt_path_normalize(raw, strlen(raw), buf, sizeof(buf));

	ck_assert_int_gt(n, 0);
	ck_assert_str_eq(buf, "/admin/x");
	ck_assert_str_eq(tu_hit(t, NULL, buf, 0), "|/admin");
	rt_table_unref(t);
}
END_TEST

/* A host with one short route is answered from its hash slot; longer
 * keys and more routes go through the path index. Both agree. */
START_TEST(single_route_hosts)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;
	enum rt_matcher ms[] = { RT_MATCH_PREFIX, RT_MATCH_IPREFIX, RT_MATCH_GLOB };

	tu_add(&l, "a", "a.com/Api", "http://h:1/", 0, NULL);
	tu_add(&l, "b", "b.com/api/v1/users", "http://h:2/", 0, NULL);
	tu_add(&l, "c", "c.com", "http://h:3/", 0, NULL);
	tu_add(&l, "z", "/", "http://h:9/", 0, NULL);
	for (int i = 0; i < 3; i++) {
		t = tu_build(&l, ms[i], NULL);
		if (ms[i] == RT_MATCH_GLOB) {
			ck_assert_str_eq(tu_hit(t, "a.com", "/Api", 0), "a.com|/Api");
			/* the host-less "/" is exactly "/" as a glob */
			ck_assert_str_eq(tu_hit(t, "a.com", "/Api/x", 0), "-");
			ck_assert_str_eq(tu_hit(t, "a.com", "/", 0), "|/");
			ck_assert_str_eq(tu_hit(t, "c.com", "/", 0), "c.com|/");
			ck_assert_str_eq(tu_hit(t, "c.com", "/x", 0), "-");
			rt_table_unref(t);
			continue;
		}
		ck_assert_str_eq(tu_hit(t, "a.com", "/Api/x", 0), "a.com|/Api");
		ck_assert_str_eq(tu_hit(t, "a.com", "/Ap", 0), "|/");
		ck_assert_str_eq(tu_hit(t, "a.com", "/api/x", 0),
				 ms[i] == RT_MATCH_IPREFIX ? "a.com|/Api" : "|/");
		ck_assert_str_eq(tu_hit(t, "b.com", "/api/v1/users/7", 0),
				 "b.com|/api/v1/users");
		ck_assert_str_eq(tu_hit(t, "b.com", "/api/v1/user", 0), "|/");
		ck_assert_str_eq(tu_hit(t, "c.com", "/anything", 0), "c.com|/");
		ck_assert_str_eq(tu_hit(t, "c.com", "", 0), "-");
		rt_table_unref(t);
	}
	rt_cmd_list_clear(&l);
}
END_TEST

/* Many distinct path lengths in one host: beyond what the group keeps
 * inline and beyond what a lookup keeps on its stack. */
START_TEST(many_path_lengths)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;
	char path[128], dst[64], want[160];

	for (int n = 1; n <= 100; n++) {
		path[0] = '/';
		memset(path + 1, 'a', (size_t)n - 1);
		path[n] = '\0';
		snprintf(dst, sizeof(dst), "http://h:%d/", n);
		tu_add(&l, "s", path, dst, 0, NULL);
	}
	for (int m = 0; m < 2; m++) {
		t = tu_build(&l, m ? RT_MATCH_IPREFIX : RT_MATCH_PREFIX, NULL);
		for (int n = 1; n <= 120; n++) {
			path[0] = '/';
			memset(path + 1, m ? 'A' : 'a', (size_t)n - 1);
			memcpy(path + n, "/x", 3);
			snprintf(want, sizeof(want), "|/%.*s", n > 100 ? 99 : n - 1,
				 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
			ck_assert_str_eq(tu_hit(t, "h", path, 0), want);
		}
		rt_table_unref(t);
	}
	rt_cmd_list_clear(&l);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("rt_path");
	TCase *tc = tcase_create("path");

	tcase_add_test(tc, normalize_dot_segments);
	tcase_add_test(tc, normalize_percent);
	tcase_add_test(tc, normalize_rejects);
	tcase_add_test(tc, glob_anchored);
	tcase_add_test(tc, glob_chars_and_classes);
	tcase_add_test(tc, glob_no_blowup);
	tcase_add_test(tc, glob_literal_head_tail);
	tcase_add_test(tc, host_normalize);
	tcase_add_test(tc, host_wildcards);
	tcase_add_test(tc, prefix_longest_wins);
	tcase_add_test(tc, prefix_without_root);
	tcase_add_test(tc, iprefix_case);
	tcase_add_test(tc, iprefix_same_path_two_cases);
	tcase_add_test(tc, glob_paths);
	tcase_add_test(tc, glob_exact_only);
	tcase_add_test(tc, normalized_then_matched);
	tcase_add_test(tc, single_route_hosts);
	tcase_add_test(tc, many_path_lengths);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
