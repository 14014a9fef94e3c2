/*
 * check_rt_table.c - building tables from commands (every command kind),
 * host lookup (ports, case, IPv6 literals, wildcards, host-less
 * fallback), fabio's worked example, dump and delta, targets Consul holds
 * down, reference counting and the mailboxes that hand tables to reader
 * threads.
 */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routes/rt_parse.h"
#include "routes/rt_pick.h"
#include "routes/rt_table.h"
#include "rt_table_testutil.h"

#define EPS 1e-9

static struct rt_table *parse_build(const char *text, enum rt_matcher m,
				    struct rt_cmd_list *warnings)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;

	ck_assert_int_eq(rt_parse(text, strlen(text), &l), 0);
	ck_assert_msg(l.nerrs == 0, "line %u: %s", l.nerrs ? l.errs[0].line : 0,
		      l.nerrs ? l.errs[0].msg : "");
	t = tu_build(&l, m, warnings);
	rt_cmd_list_clear(&l);
	return t;
}

/* ---- add ----------------------------------------------------------------- */

START_TEST(add_source_forms)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;
	const struct rt_route *r;

	tu_add(&l, "web", "example.com/app", "http://10.0.0.1:8080/", 0, NULL);
	tu_add(&l, "web", "/app", "http://10.0.0.2:8080/", 0, NULL);
	tu_add(&l, "web", "example.com", "http://10.0.0.3:8080/", 0, NULL);
	tu_add(&l, "db", ":3306", "tcp://10.0.0.4:3306", 0, NULL);
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	ck_assert_uint_eq(rt_table_nroutes(t), 4);
	ck_assert_uint_eq(rt_table_ntargets(t), 4);
	ck_assert_str_eq(tu_hit(t, "example.com", "/app/x", 0), "example.com|/app");
	ck_assert_str_eq(tu_hit(t, "example.com", "/other", 0), "example.com|/");
	ck_assert_str_eq(tu_hit(t, "other.com", "/app/x", 0), "|/app");
	ck_assert_str_eq(tu_hit(t, "other.com", "/other", 0), "-");
	/* a :port route: the TCP proxy looks up ":port" with any path */
	ck_assert_str_eq(tu_hit(t, ":3306", "", 0), ":3306|");
	ck_assert_str_eq(tu_hit(t, ":3306", "/", 0), ":3306|");
	r = tu_find(t, ":3306", "", 0);
	ck_assert_str_eq(r->targets[0]->scheme, "tcp");
	ck_assert_str_eq(r->targets[0]->addr, "10.0.0.4:3306");
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

START_TEST(add_appends_unless_identical)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;
	const struct rt_route *r;

	tu_add(&l, "a", "/p", "http://h:1/", 0, NULL);
	tu_add(&l, "a", "/p", "http://h:2/", 0, NULL);
	tu_add(&l, "a", "/p", "http://h:1/", 0, NULL);        /* identical */
	tu_add(&l, "a", "/p", "http://h:1/", 0, "x");         /* other tags */
	tu_add(&l, "b", "/p", "http://h:1/", 0, NULL);        /* other service */
	tu_add(&l, "a", "/p", "http://h:1/", 0.5, NULL);      /* other weight */
	tu_add(&l, "a", "/p", "http://h:1/", 0, "x");         /* identical */
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	r = tu_find(t, NULL, "/p", 0);
	ck_assert_uint_eq(r->ntargets, 5);
	ck_assert_str_eq(r->targets[0]->url, "http://h:1/");
	ck_assert_str_eq(r->targets[1]->url, "http://h:2/");
	ck_assert_uint_eq(r->targets[2]->ntags, 1);
	ck_assert_str_eq(r->targets[3]->service, "b");
	ck_assert(fabs(r->targets[4]->fixed_weight - 0.5) < EPS);
	/* numbering follows lookup order */
	for (size_t i = 0; i < r->ntargets; i++)
		ck_assert_uint_eq(r->targets[i]->index, i);
	ck_assert_uint_eq(r->index, 0);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

START_TEST(add_target_fields)
{
	struct rt_cmd_list l = { 0 }, w = { 0 };
	struct rt_table *t;
	const struct rt_route *r;
	struct rt_cmd *c;

	c = tu_add(&l, "web", "/a", "http://10.0.0.1:8080/", 0, "v2,blue");
	c->instance = tu_dup("web-1");
	c->opts.strip = tu_dup("/a");
	c->opts.raw = tu_dup("strip=/a allow=ip:10.0.0.0/8");
	c->opts.allow = calloc(1, sizeof(*c->opts.allow));
	c->opts.allow[0].family = 4;
	c->opts.allow[0].prefix_len = 8;
	c->opts.allow[0].addr[0] = 10;
	c->opts.nallow = 1;
	c->opts.proto = RT_PROTO_HTTP;
	tu_add(&l, "web", "/b", "http://10.0.0.1/", 0, NULL);
	tu_add(&l, "web", "/c", "HTTPS://user:pw@example.com/x?y", 0, NULL);
	tu_add(&l, "web", "/d", "http://[::1]:9000/", 0, NULL);
	tu_add(&l, "web", "/e", "https://[fe80::1]/", 0, NULL);
	tu_add(&l, "web", "/f", "not a url", 0, NULL);
	tu_add(&l, "web", "/g", "http:///nohost", 0, NULL);
	t = tu_build(&l, RT_MATCH_PREFIX, &w);
	/* the table owns copies: the commands go away first */
	rt_cmd_list_clear(&l);

	ck_assert_uint_eq(w.nerrs, 2);
	ck_assert_uint_eq(w.errs[0].line, 6);
	ck_assert_str_eq(w.errs[0].field, "dst");
	ck_assert_uint_eq(w.errs[1].line, 7);

	r = tu_find(t, NULL, "/a", 0);
	ck_assert_str_eq(r->targets[0]->service, "web");
	ck_assert_str_eq(r->targets[0]->instance, "web-1");
	ck_assert_str_eq(r->targets[0]->scheme, "http");
	ck_assert_str_eq(r->targets[0]->addr, "10.0.0.1:8080");
	ck_assert_uint_eq(r->targets[0]->ntags, 2);
	ck_assert_str_eq(r->targets[0]->tags[0], "v2");
	ck_assert_str_eq(r->targets[0]->tags[1], "blue");
	ck_assert_str_eq(r->targets[0]->opts.strip, "/a");
	ck_assert_str_eq(r->targets[0]->opts.raw, "strip=/a allow=ip:10.0.0.0/8");
	ck_assert_uint_eq(r->targets[0]->opts.nallow, 1);
	ck_assert_uint_eq(r->targets[0]->opts.allow[0].addr[0], 10);
	ck_assert_ptr_null(r->targets[0]->opts.prepend);
	ck_assert_str_eq(tu_find(t, NULL, "/b", 0)->targets[0]->addr, "10.0.0.1:80");
	r = tu_find(t, NULL, "/c", 0);
	ck_assert_str_eq(r->targets[0]->scheme, "https");
	ck_assert_str_eq(r->targets[0]->addr, "example.com:443");
	ck_assert_ptr_null(r->targets[0]->instance);
	ck_assert_str_eq(tu_find(t, NULL, "/d", 0)->targets[0]->addr, "[::1]:9000");
	ck_assert_str_eq(tu_find(t, NULL, "/e", 0)->targets[0]->addr, "[fe80::1]:443");
	ck_assert_str_eq(tu_hit(t, NULL, "/f", 0), "-");
	rt_table_unref(t);
	rt_cmd_list_clear(&w);
}
END_TEST

START_TEST(identity_stable)
{
	struct rt_cmd_list l = { 0 }, m = { 0 };
	struct rt_table *a, *b;
	const struct rt_target *x, *y;
	struct rt_cmd *c;

	c = tu_add(&l, "web", "/a", "http://10.0.0.1:8080/", 0, NULL);
	c->instance = tu_dup("web-1");
	c = tu_add(&l, "web", "/a", "http://10.0.0.2:8080/", 0, NULL);
	c->instance = tu_dup("web-2");
	/* other order, other routes around, other tags and weight */
	tu_add(&m, "zzz", "/0", "http://10.9.9.9:1/", 0, NULL);
	c = tu_add(&m, "web", "/a", "http://10.0.0.2:8080/", 0.3, "t");
	c->instance = tu_dup("web-2");
	c = tu_add(&m, "web", "/a", "http://10.0.0.1:8080/", 0, NULL);
	c->instance = tu_dup("web-1");
	a = tu_build(&l, RT_MATCH_PREFIX, NULL);
	b = tu_build(&m, RT_MATCH_PREFIX, NULL);
	x = tu_target(tu_find(a, NULL, "/a", 0), "http://10.0.0.2:8080/");
	y = tu_target(tu_find(b, NULL, "/a", 0), "http://10.0.0.2:8080/");
	ck_assert_uint_eq(x->identity, y->identity);
	ck_assert_uint_ne(x->index, y->index);
	x = tu_target(tu_find(a, NULL, "/a", 0), "http://10.0.0.1:8080/");
	ck_assert_uint_ne(x->identity, y->identity);
	ck_assert_uint_gt(rt_table_generation(b), rt_table_generation(a));
	rt_table_unref(a);
	rt_table_unref(b);
	rt_cmd_list_clear(&l);
	rt_cmd_list_clear(&m);
}
END_TEST

/* ---- del ----------------------------------------------------------------- */

/* Two services on two routes, tagged, plus a host-less catch-all. */
static void del_base(struct rt_cmd_list *l)
{
	tu_add(l, "a", "x.com/p", "http://h:1/", 0, "blue,v1");
	tu_add(l, "a", "x.com/p", "http://h:2/", 0, "green,v1");
	tu_add(l, "b", "x.com/p", "http://h:3/", 0, "blue");
	tu_add(l, "a", "x.com/q", "http://h:4/", 0, "blue");
	tu_add(l, "c", "/", "http://h:9/", 0, NULL);
}

static size_t ntargets_at(const struct rt_table *t, const char *path)
{
	const struct rt_route *r = tu_find(t, "x.com", path, 0);

	return r && strcmp(r->host, "x.com") == 0 ? r->ntargets : 0;
}

START_TEST(del_service)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;

	del_base(&l);
	tu_del(&l, "a", NULL, NULL, NULL);
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	ck_assert_uint_eq(ntargets_at(t, "/p"), 1);
	/* x.com/q had only a's target: the route is gone, the request
	 * falls through to the host-less route */
	ck_assert_uint_eq(rt_table_nroutes(t), 2);
	ck_assert_str_eq(tu_hit(t, "x.com", "/q", 0), "|/");
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

START_TEST(del_service_route)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;

	del_base(&l);
	tu_del(&l, "a", "x.com/p", NULL, NULL);
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	ck_assert_uint_eq(ntargets_at(t, "/p"), 1);
	ck_assert_str_eq(tu_find(t, "x.com", "/p", 0)->targets[0]->service, "b");
	ck_assert_uint_eq(ntargets_at(t, "/q"), 1);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

START_TEST(del_service_route_url)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;

	del_base(&l);
	tu_del(&l, "a", "x.com/p", "http://h:2/", NULL);
	tu_del(&l, "a", "x.com/p", "http://h:3/", NULL);   /* b's: untouched */
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	ck_assert_uint_eq(ntargets_at(t, "/p"), 2);
	ck_assert_ptr_null(tu_target(tu_find(t, "x.com", "/p", 0), "http://h:2/"));
	ck_assert_ptr_nonnull(tu_target(tu_find(t, "x.com", "/p", 0), "http://h:3/"));
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

START_TEST(del_service_tags)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;

	del_base(&l);
	tu_del(&l, "a", NULL, NULL, "blue");
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	/* a's blue targets on every route; b's blue one stays */
	ck_assert_uint_eq(ntargets_at(t, "/p"), 2);
	ck_assert_ptr_null(tu_target(tu_find(t, "x.com", "/p", 0), "http://h:1/"));
	ck_assert_uint_eq(ntargets_at(t, "/q"), 0);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);

	del_base(&l);
	tu_del(&l, "a", NULL, NULL, "blue,green");   /* nobody has both */
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	ck_assert_uint_eq(rt_table_ntargets(t), 5);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

START_TEST(del_tags)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;

	del_base(&l);
	tu_del(&l, NULL, NULL, NULL, "blue");
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	ck_assert_uint_eq(ntargets_at(t, "/p"), 1);
	ck_assert_ptr_nonnull(tu_target(tu_find(t, "x.com", "/p", 0), "http://h:2/"));
	ck_assert_uint_eq(rt_table_ntargets(t), 2);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

START_TEST(del_nothing_and_readd)
{
	struct rt_cmd_list l = { 0 }, w = { 0 };
	struct rt_table *t;
	const struct rt_route *r;

	del_base(&l);
	tu_del(&l, "nosuch", NULL, NULL, NULL);
	tu_del(&l, "a", "y.com/p", NULL, NULL);
	tu_del(&l, "a", "x.com/p", "http://h:77/", NULL);
	tu_del(&l, NULL, NULL, NULL, "nosuchtag");
	tu_del(&l, NULL, NULL, NULL, NULL);   /* selects nothing: warned */
	t = tu_build(&l, RT_MATCH_PREFIX, &w);
	ck_assert_uint_eq(rt_table_ntargets(t), 5);
	ck_assert_uint_eq(w.nerrs, 1);
	ck_assert_uint_eq(w.errs[0].line, 10);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
	rt_cmd_list_clear(&w);

	/* deleted, then added again: back, after the others */
	del_base(&l);
	tu_del(&l, "a", "x.com/p", "http://h:1/", NULL);
	tu_add(&l, "a", "x.com/p", "http://h:1/", 0, "blue,v1");
	tu_del(&l, "a", "x.com/q", NULL, NULL);
	tu_add(&l, "a", "x.com/q", "http://h:4/", 0, NULL);
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	r = tu_find(t, "x.com", "/p", 0);
	ck_assert_uint_eq(r->ntargets, 3);
	ck_assert_str_eq(r->targets[2]->url, "http://h:1/");
	ck_assert_uint_eq(ntargets_at(t, "/q"), 1);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

START_TEST(del_everything)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;
	char *dump;

	del_base(&l);
	tu_del(&l, "a", NULL, NULL, NULL);
	tu_del(&l, "b", NULL, NULL, NULL);
	tu_del(&l, "c", NULL, NULL, NULL);
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	ck_assert_uint_eq(rt_table_nroutes(t), 0);
	ck_assert_uint_eq(rt_table_ntargets(t), 0);
	ck_assert_str_eq(tu_hit(t, "x.com", "/p", 0), "-");
	dump = rt_table_dump(t);
	ck_assert_str_eq(dump, "");
	free(dump);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

/* ---- hosts --------------------------------------------------------------- */

START_TEST(host_case_and_ports)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;
	struct rt_cmd *c;

	c = tu_add(&l, "a", "x", "http://h:1/", 0, NULL);
	free(c->host);
	c->host = tu_dup("Example.COM");   /* lower-cased by the table too */
	tu_add(&l, "b", "plain.com:80/", "http://h:2/", 0, NULL);
	tu_add(&l, "c", "secure.com:443/", "http://h:3/", 0, NULL);
	tu_add(&l, "d", "alt.com:8080/", "http://h:4/", 0, NULL);
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	ck_assert_str_eq(tu_hit(t, "example.com", "/", 0), "example.com|/");
	ck_assert_str_eq(tu_hit(t, "EXAMPLE.com", "/", 0), "example.com|/");
	ck_assert_str_eq(tu_hit(t, "Example.Com:80", "/", 0), "example.com|/");
	ck_assert_str_eq(tu_hit(t, "example.com:443", "/", 1), "example.com|/");
	ck_assert_str_eq(tu_hit(t, "example.com:80", "/", 1), "-");
	ck_assert_str_eq(tu_hit(t, "example.com:443", "/", 0), "-");
	ck_assert_str_eq(tu_hit(t, "example.com:8080", "/", 0), "-");
	/* the route's :80 is stripped for plain requests only */
	ck_assert_str_eq(tu_hit(t, "plain.com", "/", 0), "plain.com:80|/");
	ck_assert_str_eq(tu_hit(t, "PLAIN.com:80", "/", 0), "plain.com:80|/");
	ck_assert_str_eq(tu_hit(t, "plain.com", "/", 1), "-");
	ck_assert_str_eq(tu_hit(t, "plain.com:80", "/", 1), "plain.com:80|/");
	ck_assert_str_eq(tu_hit(t, "secure.com", "/", 1), "secure.com:443|/");
	ck_assert_str_eq(tu_hit(t, "secure.com", "/", 0), "-");
	ck_assert_str_eq(tu_hit(t, "alt.com:8080", "/", 0), "alt.com:8080|/");
	ck_assert_str_eq(tu_hit(t, "alt.com", "/", 0), "-");
	ck_assert_str_eq(tu_hit(t, NULL, "/", 0), "-");
	ck_assert_str_eq(tu_hit(t, "", "/", 0), "-");
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

START_TEST(host_with_and_without_port_both_tried)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;

	tu_add(&l, "a", "x.com/a", "http://h:1/", 0, NULL);
	tu_add(&l, "b", "x.com:80/b", "http://h:2/", 0, NULL);
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	ck_assert_str_eq(tu_hit(t, "x.com", "/a", 0), "x.com|/a");
	ck_assert_str_eq(tu_hit(t, "x.com", "/b", 0), "x.com:80|/b");
	ck_assert_str_eq(tu_hit(t, "x.com:80", "/b", 0), "x.com:80|/b");
	ck_assert_str_eq(tu_hit(t, "x.com:80", "/b", 1), "x.com:80|/b");
	ck_assert_str_eq(tu_hit(t, "x.com:80", "/a", 1), "-");
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

START_TEST(host_ipv6_literals)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;

	tu_add(&l, "a", "[::1]:9999/x", "http://h:1/", 0, NULL);
	tu_add(&l, "b", "[fe80::1]/", "http://h:2/", 0, NULL);
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	ck_assert_str_eq(tu_hit(t, "[::1]:9999", "/x", 0), "[::1]:9999|/x");
	ck_assert_str_eq(tu_hit(t, "[::1]", "/x", 0), "-");
	ck_assert_str_eq(tu_hit(t, "[FE80::1]", "/", 0), "[fe80::1]|/");
	ck_assert_str_eq(tu_hit(t, "[fe80::1]:80", "/", 0), "[fe80::1]|/");
	ck_assert_str_eq(tu_hit(t, "[fe80::1]:443", "/", 1), "[fe80::1]|/");
	ck_assert_str_eq(tu_hit(t, "[fe80::1]:8", "/", 0), "-");
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

START_TEST(host_wildcard_order)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;

	tu_add(&l, "a", "*.example.com/", "http://h:1/", 0, NULL);
	tu_add(&l, "b", "*.b.example.com/", "http://h:2/", 0, NULL);
	tu_add(&l, "c", "a.b.example.com/c", "http://h:3/", 0, NULL);
	tu_add(&l, "d", "*/", "http://h:4/", 0, NULL);
	tu_add(&l, "e", "*.b.example.com/only", "http://h:5/", 0, NULL);
	tu_add(&l, "f", "api-?.example.com/", "http://h:6/", 0, NULL);
	tu_add(&l, "g", "/", "http://h:7/", 0, NULL);
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	ck_assert_str_eq(tu_hit(t, "a.b.example.com", "/c", 0), "a.b.example.com|/c");
	/* the exact host has no route for these: the wildcards are next */
	ck_assert_str_eq(tu_hit(t, "a.b.example.com", "/", 0), "*.b.example.com|/");
	ck_assert_str_eq(tu_hit(t, "a.b.example.com", "/only/x", 0),
			 "*.b.example.com|/only");
	ck_assert_str_eq(tu_hit(t, "c.b.example.com", "/", 0), "*.b.example.com|/");
	ck_assert_str_eq(tu_hit(t, "X.B.EXAMPLE.COM:80", "/", 0),
			 "*.b.example.com|/");
	ck_assert_str_eq(tu_hit(t, "x.y.b.example.com", "/", 0),
			 "*.b.example.com|/");
	ck_assert_str_eq(tu_hit(t, "x.example.com", "/", 0), "*.example.com|/");
	/* same labels: the longer pattern first */
	ck_assert_str_eq(tu_hit(t, "api-1.example.com", "/", 0),
			 "api-?.example.com|/");
	ck_assert_str_eq(tu_hit(t, "api-12.example.com", "/", 0),
			 "*.example.com|/");
	ck_assert_str_eq(tu_hit(t, "example.com", "/", 0), "*|/");
	ck_assert_str_eq(tu_hit(t, "other.org", "/", 0), "*|/");
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

START_TEST(host_less_fallback)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;

	tu_add(&l, "a", "x.com/app", "http://h:1/", 0, NULL);
	tu_add(&l, "b", "*.x.com/app", "http://h:2/", 0, NULL);
	tu_add(&l, "c", "/", "http://h:3/", 0, NULL);
	tu_add(&l, "d", "/app/special", "http://h:4/", 0, NULL);
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	ck_assert_str_eq(tu_hit(t, "x.com", "/app/special", 0), "x.com|/app");
	ck_assert_str_eq(tu_hit(t, "x.com", "/other", 0), "|/");
	ck_assert_str_eq(tu_hit(t, "w.x.com", "/other", 0), "|/");
	ck_assert_str_eq(tu_hit(t, "y.com", "/app/special/1", 0), "|/app/special");
	ck_assert_str_eq(tu_hit(t, NULL, "/app", 0), "|/");
	{
		/* a Host header too long for any host route */
		char big[2048];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		ck_assert_str_eq(tu_hit(t, big, "/app", 0), "|/");
	}
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

START_TEST(empty_tables)
{
	struct rt_table *t = rt_table_empty();
	struct rt_cmd_list l = { 0 };
	char *s;

	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(rt_table_nroutes(t), 0);
	ck_assert_uint_eq(rt_table_ntargets(t), 0);
	ck_assert_str_eq(tu_hit(t, "x", "/", 0), "-");
	ck_assert_ptr_null(rt_table_lookup(NULL, "x", 1, "/", 1, 0));
	ck_assert_ptr_null(rt_table_lookup(t, NULL, 0, NULL, 0, 0));
	s = rt_table_dump(t);
	ck_assert_str_eq(s, "");
	free(s);
	ck_assert_uint_eq(rt_table_nroutes(NULL), 0);
	ck_assert_uint_eq(rt_table_ntargets(NULL), 0);
	rt_table_unref(t);
	t = rt_table_build(&l, NULL, NULL);   /* NULL options: prefix */
	ck_assert_ptr_nonnull(t);
	rt_table_unref(t);
}
END_TEST

/* ---- fabio's worked example (§2.7) ----------------------------------------- */

static const char *worked_example =
	"route add web example.com/app http://10.0.0.2:8080/ tags \"canary\" opts \"strip=/app\"\n"
	"route add web example.com/app http://10.0.0.1:8080/ tags \"v2\" opts \"strip=/app\"\n"
	"\n"
	"# --- fabio/config/canary\n"
	"route weight web example.com/app weight 0.1 tags \"canary\"\n";

START_TEST(worked_example_text)
{
	struct rt_cmd_list w = { 0 };
	struct rt_table *t = parse_build(worked_example, RT_MATCH_PREFIX, &w);
	const struct rt_route *r;
	const struct rt_target *a, *b;

	ck_assert_uint_eq(w.nerrs, 0);
	ck_assert_uint_eq(rt_table_nroutes(t), 1);
	r = tu_find(t, "example.com", "/app/x", 0);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->host, "example.com");
	ck_assert_str_eq(r->path, "/app");
	b = tu_target(r, "http://10.0.0.2:8080/");
	a = tu_target(r, "http://10.0.0.1:8080/");
	ck_assert(fabs(b->fixed_weight - 0.1) < EPS);
	ck_assert(fabs(b->share - 0.1) < EPS);
	ck_assert_uint_eq(b->weight, 1000);
	ck_assert_double_eq(a->fixed_weight, 0);
	ck_assert(fabs(a->share - 0.9) < EPS);
	ck_assert_uint_eq(a->weight, 9000);
	ck_assert_uint_eq(r->total_weight, 10000);
	ck_assert_str_eq(a->opts.strip, "/app");
	ck_assert_str_eq(b->tags[0], "canary");
	ck_assert_str_eq(tu_hit(t, "other.com", "/app/x", 0), "-");
	rt_table_unref(t);
}
END_TEST

/* B's check goes critical: its line is gone, the weight line matches
 * nothing, is reported with its line and skipped; A gets everything. */
START_TEST(worked_example_canary_gone)
{
	const char *text =
		"route add web example.com/app http://10.0.0.1:8080/ tags \"v2\" opts \"strip=/app\"\n"
		"\n"
		"# --- fabio/config/canary\n"
		"route weight web example.com/app weight 0.1 tags \"canary\"\n";
	struct rt_cmd_list w = { 0 };
	struct rt_table *t = parse_build(text, RT_MATCH_PREFIX, &w);
	const struct rt_route *r = tu_find(t, "example.com", "/app/x", 0);

	ck_assert_uint_eq(w.nerrs, 1);
	ck_assert_uint_eq(w.errs[0].line, 4);
	ck_assert_str_eq(w.errs[0].field, "weight");
	ck_assert_msg(strstr(w.errs[0].msg,
			     "route weight web example.com/app weight 0.1 tags \"canary\"") != NULL,
		      "%s", w.errs[0].msg);
	ck_assert_uint_eq(r->ntargets, 1);
	ck_assert_uint_eq(r->targets[0]->weight, 10000);
	rt_table_unref(t);
	rt_cmd_list_clear(&w);
}
END_TEST

/* ---- dump and delta ------------------------------------------------------- */

START_TEST(dump_format)
{
	const char *text =
		"route add web example.com/app http://10.0.0.2:8080/ tags \"canary\" opts \"strip=/app\"\n"
		"route add web example.com/app http://10.0.0.1:8080/ tags \"v2\" opts \"strip=/app\"\n"
		"route weight web example.com/app weight 0.1 tags \"canary\"\n"
		"route add api /api http://10.0.1.1:80/\n"
		"route add api /api http://10.0.1.2:80/ weight 1\n"   /* takes all */
		"route add www Example.org http://10.0.2.1:80/\n"
		"route add db :3306 tcp://10.0.3.1:3306\n";
	struct rt_table *t = parse_build(text, RT_MATCH_PREFIX, NULL);
	char *d = rt_table_dump(t);

	/* lookup order: exact hosts by name, then host-less; the dynamic
	 * api target with share 0 is left out */
	ck_assert_str_eq(d,
		"route add db :3306 tcp://10.0.3.1:3306\n"
		"route add web example.com/app http://10.0.0.2:8080/ weight 0.1 tags \"canary\" opts \"strip=/app\"\n"
		"route add web example.com/app http://10.0.0.1:8080/ tags \"v2\" opts \"strip=/app\"\n"
		"route add www example.org http://10.0.2.1:80/\n"
		"route add api /api http://10.0.1.2:80/ weight 1\n");
	free(d);
	rt_table_unref(t);
}
END_TEST

START_TEST(dump_round_trip)
{
	const char *text =
		"route add a x.com/p http://h:1/ tags \"blue,v1\" opts \"strip=/p prepend=/q\"\n"
		"route add a x.com/p http://h:2/ weight 0.25\n"
		"route add b /q http://h:3/\n"
		"route add b /q http://h:4/\n"
		"route add c *.y.com/ https://h:5/ opts \"tlsskipverify=true\"\n";
	struct rt_table *t = parse_build(text, RT_MATCH_PREFIX, NULL), *u;
	char *d1 = rt_table_dump(t), *d2, *delta;

	u = parse_build(d1, RT_MATCH_PREFIX, NULL);
	d2 = rt_table_dump(u);
	ck_assert_str_eq(d1, d2);
	delta = rt_table_delta(t, u);
	ck_assert_str_eq(delta, "");
	free(delta);
	free(d1);
	free(d2);
	rt_table_unref(t);
	rt_table_unref(u);
}
END_TEST

START_TEST(delta_lines)
{
	struct rt_table *a = parse_build(
		"route add a /p http://h:1/\n"
		"route add a /p http://h:2/\n"
		"route add b /q http://h:3/\n", RT_MATCH_PREFIX, NULL);
	struct rt_table *b = parse_build(
		"route add a /p http://h:1/\n"
		"route add b /q http://h:3/\n"
		"route add b /q http://h:4/\n"
		"route add c /r http://h:5/\n", RT_MATCH_PREFIX, NULL);
	char *d;

	/* lines gone first, then new ones, each in lookup order (paths
	 * reverse lexically) */
	d = rt_table_delta(a, b);
	ck_assert_str_eq(d,
		"- route add a /p http://h:2/\n"
		"+ route add c /r http://h:5/\n"
		"+ route add b /q http://h:4/\n");
	free(d);
	d = rt_table_delta(b, a);
	ck_assert_str_eq(d,
		"- route add c /r http://h:5/\n"
		"- route add b /q http://h:4/\n"
		"+ route add a /p http://h:2/\n");
	free(d);
	d = rt_table_delta(NULL, a);
	ck_assert_str_eq(d,
		"+ route add b /q http://h:3/\n"
		"+ route add a /p http://h:1/\n"
		"+ route add a /p http://h:2/\n");
	free(d);
	d = rt_table_delta(a, a);
	ck_assert_str_eq(d, "");
	free(d);
	rt_table_unref(a);
	rt_table_unref(b);
}
END_TEST

START_TEST(delta_weight_change)
{
	struct rt_table *a = parse_build(
		"route add a /p http://h:1/ tags \"c\"\n"
		"route add a /p http://h:2/\n", RT_MATCH_PREFIX, NULL);
	struct rt_table *b = parse_build(
		"route add a /p http://h:1/ tags \"c\"\n"
		"route add a /p http://h:2/\n"
		"route weight a /p weight 0.05 tags \"c\"\n", RT_MATCH_PREFIX, NULL);
	char *d = rt_table_delta(a, b);

	ck_assert_str_eq(d,
		"- route add a /p http://h:1/ tags \"c\"\n"
		"+ route add a /p http://h:1/ weight 0.05 tags \"c\"\n");
	free(d);
	rt_table_unref(a);
	rt_table_unref(b);
}
END_TEST

/* ---- targets Consul holds down ---------------------------------------------- */

/* Append the commands of text to l, marked consul_down when down (as
 * lb_rebuild makes them for a service none of whose instances counts). */
static void push_text(struct rt_cmd_list *l, const char *text, int down)
{
	size_t from = l->n;

	ck_assert_int_eq(rt_parse(text, strlen(text), l), 0);
	ck_assert_uint_eq(l->nerrs, 0);
	for (size_t i = from; i < l->n; i++)
		l->v[i].consul_down = down;
}

/* Build from the down commands, then the live ones, then the overrides
 * (any may be NULL), as the watcher orders them. */
static struct rt_table *build3(const char *down, const char *live,
			       const char *overrides, struct rt_cmd_list *w)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;

	if (down)
		push_text(&l, down, 1);
	if (live)
		push_text(&l, live, 0);
	if (overrides)
		push_text(&l, overrides, 0);
	t = tu_build(&l, RT_MATCH_PREFIX, w);
	rt_cmd_list_clear(&l);
	return t;
}

START_TEST(down_route_kept_without_weight)
{
	struct rt_table *t = build3("route add web /app http://h:1/\n"
				    "route add web /app http://h:2/ weight 0.3\n",
				    NULL, NULL, NULL);
	struct rt_table *live = parse_build("route add web /app http://h:1/\n",
					    RT_MATCH_PREFIX, NULL);
	const struct rt_route *r = tu_find(t, NULL, "/app/x", 0);
	struct rt_picker *rr = rt_picker_new(RT_STRATEGY_RR, 7);
	struct rt_picker *rnd = rt_picker_new(RT_STRATEGY_RND, 7);

	ck_assert_uint_eq(rt_table_nroutes(t), 1);
	ck_assert_uint_eq(rt_table_ntargets(t), 2);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->ntargets, 2);
	ck_assert_uint_eq(r->total_weight, 0);
	for (size_t i = 0; i < r->ntargets; i++) {
		ck_assert_int_eq(r->targets[i]->consul_down, 1);
		ck_assert_double_eq(r->targets[i]->share, 0);
		ck_assert_uint_eq(r->targets[i]->weight, 0);
		ck_assert_uint_eq(r->pick[i].weight, 0);
	}
	/* the configured weight is kept for the day it comes back */
	ck_assert(fabs(tu_target(r, "http://h:2/")->fixed_weight - 0.3) < EPS);
	/* the same target live has the same identity (picker state) */
	ck_assert_uint_eq(tu_target(r, "http://h:1/")->identity,
			  tu_target(tu_find(live, NULL, "/app", 0),
				    "http://h:1/")->identity);
	ck_assert_int_eq(tu_target(tu_find(live, NULL, "/app", 0),
				   "http://h:1/")->consul_down, 0);
	/* nothing to pick, whatever the strategy, without any predicate */
	ck_assert_ptr_nonnull(rr);
	ck_assert_ptr_nonnull(rnd);
	ck_assert_int_eq(rt_picker_attach(rr, t), 0);
	ck_assert_int_eq(rt_picker_attach(rnd, t), 0);
	for (int i = 0; i < 100; i++) {
		ck_assert_ptr_null(rt_pick(rr, r, NULL, NULL));
		ck_assert_ptr_null(rt_pick(rnd, r, NULL, NULL));
	}
	rt_picker_free(rr);
	rt_picker_free(rnd);
	rt_table_unref(t);
	rt_table_unref(live);
}
END_TEST

/* A down service sharing a route with a live one: the live targets get
 * exactly what they get without it. */
START_TEST(down_leaves_live_weights_alone)
{
	const char *live = "route add b /app http://h:3/ weight 0.2\n"
			   "route add b /app http://h:4/\n"
			   "route add b /app http://h:5/\n";
	struct rt_table *t = build3("route add a /app http://h:1/\n"
				    "route add a /app http://h:2/ weight 0.5\n",
				    live, NULL, NULL);
	struct rt_table *u = parse_build(live, RT_MATCH_PREFIX, NULL);
	const struct rt_route *r = tu_find(t, NULL, "/app", 0);
	const struct rt_route *q = tu_find(u, NULL, "/app", 0);

	ck_assert_uint_eq(r->ntargets, 5);
	ck_assert_uint_eq(r->total_weight, q->total_weight);
	for (size_t i = 0; i < q->ntargets; i++) {
		const struct rt_target *x = tu_target(r, q->targets[i]->url);

		ck_assert_ptr_nonnull(x);
		ck_assert_int_eq(x->consul_down, 0);
		ck_assert_double_eq(x->share, q->targets[i]->share);
		ck_assert_uint_eq(x->weight, q->targets[i]->weight);
	}
	ck_assert_int_eq(tu_target(r, "http://h:1/")->consul_down, 1);
	ck_assert_uint_eq(tu_target(r, "http://h:2/")->weight, 0);
	rt_table_unref(t);
	rt_table_unref(u);
}
END_TEST

/* `route weight` neither counts nor changes down targets; `route del`
 * removes them, and a route left without targets goes. */
START_TEST(down_weight_and_del)
{
	struct rt_cmd_list w = { 0 };
	struct rt_table *t = build3(
		"route add a /app http://h:1/ tags \"x\"\n",
		"route add b /app http://h:3/ tags \"x\"\n"
		"route add b /app http://h:4/\n",
		"route weight /app weight 0.5 tags \"x\"\n", &w);
	const struct rt_route *r = tu_find(t, NULL, "/app", 0);

	/* fabio's w/n with n = 1: the down target is not among them */
	ck_assert_uint_eq(w.nerrs, 0);
	ck_assert(fabs(tu_target(r, "http://h:3/")->fixed_weight - 0.5) < EPS);
	ck_assert_uint_eq(tu_target(r, "http://h:3/")->weight, 5000);
	ck_assert_uint_eq(tu_target(r, "http://h:4/")->weight, 5000);
	ck_assert_double_eq(tu_target(r, "http://h:1/")->fixed_weight, 0);
	ck_assert_uint_eq(tu_target(r, "http://h:1/")->weight, 0);
	rt_table_unref(t);

	/* a weight for down targets only matches nothing, as in fabio */
	t = build3("route add a /app http://h:1/\n", NULL,
		   "route weight a /app weight 0.5\n", &w);
	ck_assert_uint_eq(w.nerrs, 1);
	ck_assert_str_eq(w.errs[0].field, "weight");
	ck_assert_uint_eq(rt_table_nroutes(t), 1);
	rt_table_unref(t);
	rt_cmd_list_clear(&w);

	t = build3("route add a /app http://h:1/\nroute add a /other http://h:1/\n",
		   "route add b /app http://h:3/\n", "route del a /app\n", NULL);
	r = tu_find(t, NULL, "/app", 0);
	ck_assert_uint_eq(r->ntargets, 1);
	ck_assert_int_eq(r->targets[0]->consul_down, 0);
	ck_assert_ptr_nonnull(tu_find(t, NULL, "/other", 0));
	rt_table_unref(t);
	t = build3("route add a /app http://h:1/\n", NULL, "route del a\n", NULL);
	ck_assert_uint_eq(rt_table_nroutes(t), 0);
	ck_assert_str_eq(tu_hit(t, NULL, "/app", 0), "-");
	rt_table_unref(t);
}
END_TEST

/* A down target and a live one with the same service, URL and tags are
 * two targets: an override adding the URL still routes to it. */
START_TEST(down_and_live_not_identical)
{
	struct rt_table *t = build3("route add a /p http://h:1/\n", NULL,
				    "route add a /p http://h:1/\n", NULL);
	const struct rt_route *r = tu_find(t, NULL, "/p", 0);

	ck_assert_uint_eq(r->ntargets, 2);
	ck_assert_int_eq(r->targets[0]->consul_down + r->targets[1]->consul_down, 1);
	ck_assert_uint_eq(r->total_weight, 10000);
	rt_table_unref(t);
	/* but two down adds of the same target are one, as live ones are */
	t = build3("route add a /p http://h:1/\nroute add a /p http://h:1/\n",
		   NULL, NULL, NULL);
	ck_assert_uint_eq(rt_table_ntargets(t), 1);
	rt_table_unref(t);
}
END_TEST

START_TEST(down_dump_and_delta)
{
	const char *live = "route add b /b http://h:3/ tags \"v1\"\n";
	struct rt_table *up = build3(NULL, "route add a /a http://h:1/ weight 0.5\n"
				     "route add a /a http://h:2/\n", NULL, NULL);
	struct rt_table *down = build3("route add a /a http://h:1/ weight 0.5\n"
				       "route add a /a http://h:2/\n", live,
				       NULL, NULL);
	struct rt_table *back;
	char *d, *again;

	d = rt_table_dump(down);
	ck_assert_str_eq(d,
		"route add b /b http://h:3/ tags \"v1\"\n"
		"# down (consul) route add a /a http://h:1/ weight 0.5\n"
		"# down (consul) route add a /a http://h:2/\n");
	/* read back, the dump gives the routes that take traffic */
	back = parse_build(d, RT_MATCH_PREFIX, NULL);
	again = rt_table_dump(back);
	ck_assert_str_eq(again, live);
	free(again);
	rt_table_unref(back);
	free(d);

	d = rt_table_delta(up, down);
	ck_assert_str_eq(d,
		"- route add a /a http://h:1/ weight 0.5\n"
		"- route add a /a http://h:2/\n"
		"+ route add b /b http://h:3/ tags \"v1\"\n"
		"+ # down (consul) route add a /a http://h:1/ weight 0.5\n"
		"+ # down (consul) route add a /a http://h:2/\n");
	free(d);
	d = rt_table_delta(down, up);
	ck_assert_str_eq(d,
		"- route add b /b http://h:3/ tags \"v1\"\n"
		"- # down (consul) route add a /a http://h:1/ weight 0.5\n"
		"- # down (consul) route add a /a http://h:2/\n"
		"+ route add a /a http://h:1/ weight 0.5\n"
		"+ route add a /a http://h:2/\n");
	free(d);
	d = rt_table_delta(down, down);
	ck_assert_str_eq(d, "");
	free(d);
	rt_table_unref(up);
	rt_table_unref(down);
}
END_TEST

/* ---- sharing ------------------------------------------------------------ */

START_TEST(ref_unref)
{
	struct rt_table *t = rt_table_empty(), *u;

	ck_assert_ptr_eq(rt_table_ref(t), t);
	ck_assert_ptr_eq(rt_table_ref(t), t);
	rt_table_unref(t);
	rt_table_unref(t);
	/* still alive: one reference left */
	ck_assert_uint_eq(rt_table_nroutes(t), 0);
	u = rt_table_empty();
	ck_assert_uint_gt(rt_table_generation(u), rt_table_generation(t));
	rt_table_unref(t);
	rt_table_unref(u);
	rt_table_unref(NULL);
	ck_assert_ptr_null(rt_table_ref(NULL));
}
END_TEST

START_TEST(mailbox_basics)
{
	struct rt_mailbox m;
	struct rt_table *a = rt_table_empty(), *b = rt_table_empty(), *got;

	rt_mailbox_init(&m);
	ck_assert_ptr_null(rt_mailbox_take(&m));
	/* keep our own reference to a to see it survive its replacement */
	rt_mailbox_post(&m, rt_table_ref(a));
	rt_mailbox_post(&m, rt_table_ref(b));
	got = rt_mailbox_take(&m);
	ck_assert_ptr_eq(got, b);
	ck_assert_ptr_null(rt_mailbox_take(&m));
	rt_table_unref(got);
	ck_assert_uint_eq(rt_table_nroutes(a), 0);
	/* clear drops what is posted; clearing an empty box is fine */
	rt_mailbox_post(&m, rt_table_ref(a));
	rt_mailbox_clear(&m);
	rt_mailbox_clear(&m);
	ck_assert_ptr_null(rt_mailbox_take(&m));
	/* posting the last reference of a table hands it over entirely */
	rt_mailbox_post(&m, a);
	rt_mailbox_post(&m, b);   /* drops a's last reference: freed */
	got = rt_mailbox_take(&m);
	ck_assert_ptr_eq(got, b);
	rt_table_unref(got);
}
END_TEST

/* ---- threads: a writer publishing while readers look up -------------------- */

#define READERS 4
#define PUBLISHES 2000

struct reader {
	pthread_t th;
	struct rt_mailbox box;
	atomic_int *stop;
	unsigned long lookups;
	unsigned long tables;
	int bad;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct rt_table *cur = NULL, *next;

	for (;;) {
		int stopping = atomic_load(r->stop);

		if ((next = rt_mailbox_take(&r->box))) {
			rt_table_unref(cur);
			cur = next;
			r->tables++;
		}
		if (cur) {
			const struct rt_route *rt = tu_find(cur, "svc.example.com",
							    "/svc/1/x", 0);

			r->lookups++;
			if (!rt || rt->ntargets == 0 ||
			    strcmp(rt->targets[0]->service, "svc") != 0 ||
			    rt->total_weight != 10000)
				r->bad++;
		}
		if (stopping)
			break;
	}
	rt_table_unref(cur);
	return NULL;
}

START_TEST(mailbox_threads)
{
	struct reader rd[READERS];
	atomic_int stop;
	struct rt_cmd_list l = { 0 };

	atomic_init(&stop, 0);
	tu_add(&l, "svc", "svc.example.com/svc/1", "http://10.0.0.1:80/", 0, NULL);
	tu_add(&l, "svc", "svc.example.com/svc/1", "http://10.0.0.2:80/", 0, NULL);
	tu_add(&l, "svc", "/", "http://10.0.0.3:80/", 0, NULL);
	for (int i = 0; i < READERS; i++) {
		memset(&rd[i], 0, sizeof(rd[i]));
		rt_mailbox_init(&rd[i].box);
		rd[i].stop = &stop;
		ck_assert_int_eq(pthread_create(&rd[i].th, NULL, reader_main, &rd[i]), 0);
	}
	for (int k = 0; k < PUBLISHES; k++) {
		struct rt_table *t = tu_build(&l, RT_MATCH_PREFIX, NULL);

		for (int i = 0; i < READERS; i++)
			rt_mailbox_post(&rd[i].box, rt_table_ref(t));
		rt_table_unref(t);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < READERS; i++) {
		ck_assert_int_eq(pthread_join(rd[i].th, NULL), 0);
		rt_mailbox_clear(&rd[i].box);
		ck_assert_int_eq(rd[i].bad, 0);
		ck_assert_uint_gt(rd[i].tables, 0);
	}
	rt_cmd_list_clear(&l);
}
END_TEST

/* ---- scale ------------------------------------------------------------------ */

START_TEST(many_services)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;
	char src[64], dst[64], path[64], host[64];
	const int n = 10000;

	for (int i = 0; i < n; i++) {
		for (int k = 0; k < 3; k++) {
			struct rt_cmd *c;

			snprintf(src, sizeof(src), "/svc-%d", i);
			snprintf(dst, sizeof(dst), "http://10.%d.%d.%d:8080/",
				 i / 256, i % 256, k + 1);
			c = tu_add(&l, "svc", src, dst, 0, "v1");
			snprintf(dst, sizeof(dst), "svc-%d-%d", i, k);
			c->instance = tu_dup(dst);
			snprintf(src, sizeof(src), "svc-%d.example.com", i);
			tu_add(&l, "svc", src, c->dst, 0, "v1");
		}
	}
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	ck_assert_uint_eq(rt_table_nroutes(t), 2 * (size_t)n);
	ck_assert_uint_eq(rt_table_ntargets(t), 6 * (size_t)n);
	for (int i = 0; i < n; i++) {
		const struct rt_route *r;

		snprintf(path, sizeof(path), "/svc-%d/x", i);
		snprintf(src, sizeof(src), "/svc-%d", i);
		r = tu_find(t, "nohost", path, 0);
		ck_assert_ptr_nonnull(r);
		ck_assert_str_eq(r->path, src);
		ck_assert_uint_eq(r->ntargets, 3);
		snprintf(host, sizeof(host), "SVC-%d.example.com:80", i);
		r = tu_find(t, host, "/anything", 0);
		ck_assert_ptr_nonnull(r);
		snprintf(src, sizeof(src), "svc-%d.example.com", i);
		ck_assert_str_eq(r->host, src);
		ck_assert_uint_eq(r->ntargets, 3);
	}
	ck_assert_str_eq(tu_hit(t, "nohost", "/svc-", 0), "-");
	/* well within the 20 MB budget for 10,000 x 3 (this is twice that) */
	ck_assert_uint_lt(rt_table_bytes(t), 40u * 1024 * 1024);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("rt_table");
	TCase *tc = tcase_create("table");
	TCase *th = tcase_create("threads");

	tcase_add_test(tc, add_source_forms);
	tcase_add_test(tc, add_appends_unless_identical);
	tcase_add_test(tc, add_target_fields);
	tcase_add_test(tc, identity_stable);
	tcase_add_test(tc, del_service);
	tcase_add_test(tc, del_service_route);
	tcase_add_test(tc, del_service_route_url);
	tcase_add_test(tc, del_service_tags);
	tcase_add_test(tc, del_tags);
	tcase_add_test(tc, del_nothing_and_readd);
	tcase_add_test(tc, del_everything);
	tcase_add_test(tc, host_case_and_ports);
	tcase_add_test(tc, host_with_and_without_port_both_tried);
	tcase_add_test(tc, host_ipv6_literals);
	tcase_add_test(tc, host_wildcard_order);
	tcase_add_test(tc, host_less_fallback);
	tcase_add_test(tc, empty_tables);
	tcase_add_test(tc, worked_example_text);
	tcase_add_test(tc, worked_example_canary_gone);
	tcase_add_test(tc, dump_format);
	tcase_add_test(tc, dump_round_trip);
	tcase_add_test(tc, delta_lines);
	tcase_add_test(tc, delta_weight_change);
	tcase_add_test(tc, down_route_kept_without_weight);
	tcase_add_test(tc, down_leaves_live_weights_alone);
	tcase_add_test(tc, down_weight_and_del);
	tcase_add_test(tc, down_and_live_not_identical);
	tcase_add_test(tc, down_dump_and_delta);
	tcase_add_test(tc, ref_unref);
	tcase_add_test(tc, mailbox_basics);
	tcase_add_test(tc, many_services);
	tcase_set_timeout(tc, 120);
	tcase_add_test(th, mailbox_threads);
	tcase_set_timeout(th, 300);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, th);
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
