/*
 * check_rt_weight.c - fabio's weight arithmetic (route/route.go
 * weighTargets and setWeight), row by row from its route/table_weight_test.go
 * and the traffic-shaping examples, both on the function itself and
 * through tables built from commands.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routes/rt_table_internal.h"
#include "rt_table_testutil.h"

#define EPS 1e-9

static void shares(const double *fixed, size_t n, const double *want)
{
	double got[8];

	rt_weight_shares(fixed, n, got);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(fabs(got[i] - want[i]) < EPS,
			      "target %zu: got %.6f want %.6f", i, got[i], want[i]);
}

START_TEST(shares_table)
{
	/* dyn weight 1, 2, 3 -> auto distribution */
	shares((double[]){ 0 }, 1, (double[]){ 1 });
	shares((double[]){ 0, 0 }, 2, (double[]){ 0.5, 0.5 });
	shares((double[]){ 0, 0, 0 }, 3, (double[]){ 1.0 / 3, 1.0 / 3, 1.0 / 3 });
	/* only fixed, sum < 1 -> scaled up to 100% */
	shares((double[]){ 0.2, 0.3 }, 2, (double[]){ 0.4, 0.6 });
	/* only fixed, sum > 1 -> scaled down to 100% */
	shares((double[]){ 2, 3 }, 2, (double[]){ 0.4, 0.6 });
	/* mixed: dynamic ones share the rest */
	shares((double[]){ 0, 0, 0.5 }, 3, (double[]){ 0.25, 0.25, 0.5 });
	/* fixed == 100% -> dynamic gets nothing */
	shares((double[]){ 0, 0.25, 0.75 }, 3, (double[]){ 0, 0.25, 0.75 });
	/* fixed > 100% -> dynamic nothing, fixed normalised */
	shares((double[]){ 0, 1, 3 }, 3, (double[]){ 0, 0.25, 0.75 });
	/* canary: one of three at 5% */
	shares((double[]){ 0.05, 0, 0 }, 3, (double[]){ 0.05, 0.475, 0.475 });
	/* two canaries at 2.5% each (0.05 split by route weight) */
	shares((double[]){ 0.025, 0.025, 0 }, 3, (double[]){ 0.025, 0.025, 0.95 });
	/* negative is dynamic */
	shares((double[]){ -1, 0 }, 2, (double[]){ 0.5, 0.5 });
	/* n = 0 touches nothing */
	rt_weight_shares(NULL, 0, NULL);
}
END_TEST

START_TEST(units)
{
	ck_assert_uint_eq(rt_weight_units(0), 0);
	ck_assert_uint_eq(rt_weight_units(-0.5), 0);
	ck_assert_uint_eq(rt_weight_units(NAN), 0);
	ck_assert_uint_eq(rt_weight_units(1), 10000);
	ck_assert_uint_eq(rt_weight_units(1.5), 10000);
	ck_assert_uint_eq(rt_weight_units(0.5), 5000);
	ck_assert_uint_eq(rt_weight_units(1.0 / 3), 3333);
	ck_assert_uint_eq(rt_weight_units(2.0 / 3), 6667);
	ck_assert_uint_eq(rt_weight_units(0.00004), 1);   /* at least 1 */
	ck_assert_uint_eq(rt_weight_units(1e-12), 1);
	ck_assert_uint_eq(rt_weight_units(0.475), 4750);
}
END_TEST

/* ---- through the table --------------------------------------------------- */

static const struct rt_route *foo(const struct rt_table *t)
{
	const struct rt_route *r = tu_find(t, NULL, "/foo", 0);

	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->path, "/foo");
	return r;
}

/* The share and weight of the target with url. */
static void expect(const struct rt_route *r, const char *url, double share)
{
	const struct rt_target *t = tu_target(r, url);

	ck_assert_msg(t != NULL, "no target %s", url);
	ck_assert_msg(fabs(t->share - share) < EPS, "%s: share %.6f want %.6f",
		      url, t->share, share);
	ck_assert_uint_eq(t->weight, rt_weight_units(share));
}

static unsigned sum_weights(const struct rt_route *r)
{
	unsigned s = 0;

	for (size_t i = 0; i < r->ntargets; i++)
		s += r->targets[i]->weight;
	return s;
}

START_TEST(table_fixed_weight_zero_is_dynamic)
{
	struct rt_cmd_list l = { 0 };
	struct rt_cmd *c = tu_add(&l, "svc", "/foo", "http://bar:111/", 0, NULL);
	struct rt_table *t;

	c->has_weight = 1;   /* `weight 0` */
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	expect(foo(t), "http://bar:111/", 1);
	ck_assert_double_eq(tu_target(foo(t), "http://bar:111/")->fixed_weight, 0);
	ck_assert_uint_eq(foo(t)->total_weight, 10000);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

START_TEST(table_dedup)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;

	tu_add(&l, "svc", "/foo", "http://bar:111/", 0, NULL);
	tu_add(&l, "svc", "/foo", "http://bar:111/", 0, NULL);
	tu_add(&l, "svc", "/foo", "http://bar:222/", 0, NULL);
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	ck_assert_uint_eq(foo(t)->ntargets, 2);
	expect(foo(t), "http://bar:111/", 0.5);
	expect(foo(t), "http://bar:222/", 0.5);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

START_TEST(table_fixed_only)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;

	tu_add(&l, "svc", "/foo", "http://bar:111/", 0.2, NULL);
	tu_add(&l, "svc", "/foo", "http://bar:222/", 0.3, NULL);
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	expect(foo(t), "http://bar:111/", 0.4);
	expect(foo(t), "http://bar:222/", 0.6);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);

	tu_add(&l, "svc", "/foo", "http://bar:111/", 2, NULL);
	tu_add(&l, "svc", "/foo", "http://bar:222/", 3, NULL);
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	expect(foo(t), "http://bar:111/", 0.4);
	expect(foo(t), "http://bar:222/", 0.6);
	ck_assert_uint_eq(foo(t)->total_weight, 10000);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

START_TEST(table_mixed)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;

	tu_add(&l, "svc", "/foo", "http://bar:111/", 0, NULL);
	tu_add(&l, "svc", "/foo", "http://bar:222/", 0, NULL);
	tu_add(&l, "svc", "/foo", "http://bar:333/", 0.5, NULL);
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	expect(foo(t), "http://bar:111/", 0.25);
	expect(foo(t), "http://bar:222/", 0.25);
	expect(foo(t), "http://bar:333/", 0.5);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);

	/* fixed == 100%: the dynamic target stays in the route with 0 */
	tu_add(&l, "svc", "/foo", "http://bar:111/", 0, NULL);
	tu_add(&l, "svc", "/foo", "http://bar:222/", 0.25, NULL);
	tu_add(&l, "svc", "/foo", "http://bar:333/", 0.75, NULL);
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	ck_assert_uint_eq(foo(t)->ntargets, 3);
	expect(foo(t), "http://bar:111/", 0);
	expect(foo(t), "http://bar:222/", 0.25);
	expect(foo(t), "http://bar:333/", 0.75);
	ck_assert_uint_eq(foo(t)->total_weight, 10000);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);

	/* fixed > 100% */
	tu_add(&l, "svc", "/foo", "http://bar:111/", 0, NULL);
	tu_add(&l, "svc", "/foo", "http://bar:222/", 1, NULL);
	tu_add(&l, "svc", "/foo", "http://bar:333/", 3, NULL);
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	expect(foo(t), "http://bar:111/", 0);
	expect(foo(t), "http://bar:222/", 0.25);
	expect(foo(t), "http://bar:333/", 0.75);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

START_TEST(table_route_weight_by_service)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;

	tu_add(&l, "svca", "/foo", "http://bar:111/", 0, NULL);
	tu_add(&l, "svcb", "/foo", "http://bar:222/", 0, NULL);
	tu_add(&l, "svcb", "/foo", "http://bar:333/", 0, NULL);
	tu_weight(&l, "svcb", "/foo", 0.1, NULL);
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	expect(foo(t), "http://bar:111/", 0.9);
	expect(foo(t), "http://bar:222/", 0.05);
	expect(foo(t), "http://bar:333/", 0.05);
	/* w/n is what the target keeps as its fixed weight */
	ck_assert(fabs(tu_target(foo(t), "http://bar:222/")->fixed_weight - 0.05) < EPS);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

START_TEST(table_route_weight_by_service_and_tags)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;

	tu_add(&l, "svc", "/foo", "http://bar:111/", 0, "a");
	tu_add(&l, "svc", "/foo", "http://bar:222/", 0, "b");
	tu_add(&l, "svc", "/foo", "http://bar:333/", 0, "b");
	tu_weight(&l, "svc", "/foo", 0.1, "b");
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	expect(foo(t), "http://bar:111/", 0.9);
	expect(foo(t), "http://bar:222/", 0.05);
	expect(foo(t), "http://bar:333/", 0.05);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

START_TEST(table_route_weight_by_tags)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;

	tu_add(&l, "svca", "/foo", "http://bar:111/", 0, "a");
	tu_add(&l, "svcb", "/foo", "http://bar:222/", 0, "b");
	tu_add(&l, "svcb", "/foo", "http://bar:333/", 0, "b,x");
	tu_weight(&l, NULL, "/foo", 0.1, "b");
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	expect(foo(t), "http://bar:111/", 0.9);
	expect(foo(t), "http://bar:222/", 0.05);
	expect(foo(t), "http://bar:333/", 0.05);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);

	/* tags are a subset test: "b,x" matches only the target having both */
	tu_add(&l, "svca", "/foo", "http://bar:111/", 0, "a");
	tu_add(&l, "svcb", "/foo", "http://bar:222/", 0, "b");
	tu_add(&l, "svcb", "/foo", "http://bar:333/", 0, "x,b");
	tu_weight(&l, NULL, "/foo", 0.1, "b,x");
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	expect(foo(t), "http://bar:111/", 0.45);
	expect(foo(t), "http://bar:222/", 0.45);
	expect(foo(t), "http://bar:333/", 0.1);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

START_TEST(table_many_targets)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;
	const struct rt_route *r;
	char url[64];

	for (int i = 0; i < 2504; i++) {
		snprintf(url, sizeof(url), "http://bar:%d/", i + 1);
		tu_add(&l, "svc", "/foo", url, 0, NULL);
	}
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	r = foo(t);
	ck_assert_uint_eq(r->ntargets, 2504);
	for (size_t i = 0; i < r->ntargets; i++)
		ck_assert_uint_eq(r->targets[i]->weight, 4);   /* 0.0004 */
	rt_table_unref(t);

	tu_add(&l, "svc", "/foo", "http://static:12345/", 0, "a");
	tu_weight(&l, "svc", "/foo", 0.2, "a");
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	r = foo(t);
	ck_assert_uint_eq(r->ntargets, 2505);
	expect(r, "http://static:12345/", 0.2);
	expect(r, "http://bar:1/", 0.8 / 2504);
	ck_assert_uint_eq(tu_target(r, "http://bar:1/")->weight, 3);   /* 0.0003 */
	ck_assert_uint_eq(r->total_weight, sum_weights(r));
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

/* docs/content/feature/traffic-shaping.md: 5% to the canary */
START_TEST(table_canary)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;
	const struct rt_route *r;

	tu_add(&l, "svc", "/foo", "http://10.0.0.1:80/", 0, "canary");
	tu_add(&l, "svc", "/foo", "http://10.0.0.2:80/", 0, "v1");
	tu_add(&l, "svc", "/foo", "http://10.0.0.3:80/", 0, "v1");
	tu_weight(&l, "svc", "/foo", 0.05, "canary");
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	r = foo(t);
	expect(r, "http://10.0.0.1:80/", 0.05);
	expect(r, "http://10.0.0.2:80/", 0.475);
	expect(r, "http://10.0.0.3:80/", 0.475);
	ck_assert_uint_eq(r->total_weight, 10000);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);

	/* two canaries share the 5% */
	tu_add(&l, "svc", "/foo", "http://10.0.0.1:80/", 0, "canary");
	tu_add(&l, "svc", "/foo", "http://10.0.0.2:80/", 0, "canary");
	tu_add(&l, "svc", "/foo", "http://10.0.0.3:80/", 0, "v1");
	tu_weight(&l, "svc", "/foo", 0.05, "canary");
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	r = foo(t);
	expect(r, "http://10.0.0.1:80/", 0.025);
	expect(r, "http://10.0.0.2:80/", 0.025);
	expect(r, "http://10.0.0.3:80/", 0.95);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

/* weight= on the tag is per instance: two instances at 0.05 get 5% each */
START_TEST(table_weight_option_per_instance)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;
	const struct rt_route *r;

	tu_add(&l, "svc", "/foo", "http://10.0.0.1:80/", 0.05, NULL);
	tu_add(&l, "svc", "/foo", "http://10.0.0.2:80/", 0.05, NULL);
	tu_add(&l, "svc", "/foo", "http://10.0.0.3:80/", 0, NULL);
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	r = foo(t);
	expect(r, "http://10.0.0.1:80/", 0.05);
	expect(r, "http://10.0.0.2:80/", 0.05);
	expect(r, "http://10.0.0.3:80/", 0.9);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

/* HA leader: everything to the "active" instance */
START_TEST(table_weight_all_to_tag)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;
	const struct rt_route *r;

	tu_add(&l, "vault", "vault.company.com", "http://10.0.0.1:8200/", 0, "standby");
	tu_add(&l, "vault", "vault.company.com", "http://10.0.0.2:8200/", 0, "active");
	tu_add(&l, "vault", "vault.company.com", "http://10.0.0.3:8200/", 0, "standby");
	tu_weight(&l, "vault", "vault.company.com", 1.0, "active");
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	r = tu_find(t, "vault.company.com", "/v1/sys", 0);
	ck_assert_ptr_nonnull(r);
	expect(r, "http://10.0.0.1:8200/", 0);
	expect(r, "http://10.0.0.2:8200/", 1);
	expect(r, "http://10.0.0.3:8200/", 0);
	ck_assert_uint_eq(r->total_weight, 10000);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

/* A later `route weight ... 0` (or negative) makes the targets dynamic
 * again; it cannot zero traffic (fabio #201). */
START_TEST(table_weight_reset)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;

	tu_add(&l, "svc", "/foo", "http://bar:111/", 0, "a");
	tu_add(&l, "svc", "/foo", "http://bar:222/", 0, NULL);
	tu_weight(&l, "svc", "/foo", 0.1, "a");
	tu_weight(&l, "svc", "/foo", 0, "a");
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	expect(foo(t), "http://bar:111/", 0.5);
	expect(foo(t), "http://bar:222/", 0.5);
	ck_assert_double_eq(tu_target(foo(t), "http://bar:111/")->fixed_weight, 0);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);

	tu_add(&l, "svc", "/foo", "http://bar:111/", 0, NULL);
	tu_add(&l, "svc", "/foo", "http://bar:222/", 0, NULL);
	tu_weight(&l, "svc", "/foo", -1, NULL);
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	expect(foo(t), "http://bar:111/", 0.5);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

/* A weight is not merged into a target added later: an add for the same
 * URL with a different weight is a second target (fabio #640). */
START_TEST(table_weight_then_add_is_second_target)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;

	tu_add(&l, "svc", "/foo", "http://bar:111/", 0, NULL);
	tu_weight(&l, "svc", "/foo", 0.3, NULL);
	tu_add(&l, "svc", "/foo", "http://bar:111/", 0, NULL);   /* fixed 0 now differs */
	tu_add(&l, "svc", "/foo", "http://bar:111/", 0.3, NULL); /* identical to the first */
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	ck_assert_uint_eq(foo(t)->ntargets, 2);
	ck_assert(fabs(foo(t)->targets[0]->share - 0.3) < EPS);
	ck_assert(fabs(foo(t)->targets[1]->share - 0.7) < EPS);
	ck_assert_uint_eq(foo(t)->targets[0]->identity, foo(t)->targets[1]->identity);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

START_TEST(table_weight_needs_exact_route)
{
	struct rt_cmd_list l = { 0 }, w = { 0 };
	struct rt_table *t;

	tu_add(&l, "svc", "/foo", "http://bar:111/", 0, NULL);
	tu_add(&l, "svc", "/foo", "http://bar:222/", 0, NULL);
	tu_weight(&l, "svc", "/foo/", 0.1, NULL);       /* no prefix logic */
	tu_weight(&l, "svc", "/fo", 0.1, NULL);
	tu_weight(&l, "other", "/foo", 0.1, NULL);      /* no such service */
	tu_weight(&l, "svc", "/foo", 0.1, "nosuchtag");
	tu_weight(&l, NULL, "x.com/foo", 0.1, "a");     /* other host */
	t = tu_build(&l, RT_MATCH_PREFIX, &w);
	ck_assert_uint_eq(w.nerrs, 5);
	for (size_t i = 0; i < w.nerrs; i++) {
		ck_assert_uint_eq(w.errs[i].line, i + 3);
		ck_assert_str_eq(w.errs[i].field, "weight");
		ck_assert_msg(strstr(w.errs[i].msg, "route weight") != NULL,
			      "%s", w.errs[i].msg);
	}
	expect(foo(t), "http://bar:111/", 0.5);
	expect(foo(t), "http://bar:222/", 0.5);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
	rt_cmd_list_clear(&w);
}
END_TEST

START_TEST(table_weight_not_a_number)
{
	struct rt_cmd_list l = { 0 }, w = { 0 };
	struct rt_table *t;

	tu_add(&l, "svc", "/foo", "http://bar:111/", 0, NULL);
	tu_add(&l, "svc", "/foo", "http://bar:222/", INFINITY, NULL);
	tu_weight(&l, "svc", "/foo", NAN, NULL);
	t = tu_build(&l, RT_MATCH_PREFIX, &w);
	ck_assert_uint_eq(w.nerrs, 2);
	ck_assert_uint_eq(w.errs[0].line, 2);
	ck_assert_uint_eq(w.errs[1].line, 3);
	ck_assert_uint_eq(foo(t)->ntargets, 1);
	expect(foo(t), "http://bar:111/", 1);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
	rt_cmd_list_clear(&w);
}
END_TEST

/* ---- Consul's Weights ---------------------------------------------------- */

static void by_consul(const double *fixed, const unsigned *consul, size_t n,
		      const double *want)
{
	double got[8];

	rt_weight_shares(fixed, n, got);
	rt_weight_by_consul(fixed, consul, n, got);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(fabs(got[i] - want[i]) < EPS,
			      "target %zu: got %.6f want %.6f", i, got[i], want[i]);
}

START_TEST(shares_by_consul)
{
	by_consul((double[]){ 0, 0, 0 }, (unsigned[]){ 1, 2, 1 }, 3,
		  (double[]){ 0.25, 0.5, 0.25 });
	by_consul((double[]){ 0, 0 }, (unsigned[]){ 3, 1 }, 2,
		  (double[]){ 0.75, 0.25 });
	/* the fixed target keeps its 20% whatever its Consul weight */
	by_consul((double[]){ 0.2, 0, 0 }, (unsigned[]){ 7, 2, 1 }, 3,
		  (double[]){ 0.2, 0.8 * 2 / 3, 0.8 / 3 });
	/* fixed >= 100%: the dynamic ones still get nothing */
	by_consul((double[]){ 1, 0, 0 }, (unsigned[]){ 1, 2, 1 }, 3,
		  (double[]){ 1, 0, 0 });
	/* only fixed: nothing to scale */
	by_consul((double[]){ 0.2, 0.3 }, (unsigned[]){ 5, 1 }, 2,
		  (double[]){ 0.4, 0.6 });
	rt_weight_by_consul(NULL, NULL, 0, NULL);
}
END_TEST

/* A route's adds with these Consul weights (0: not from Consul). */
static struct rt_table *consul_route(struct rt_cmd_list *l,
				     const unsigned *cw, size_t n,
				     double canary)
{
	char url[64];

	for (size_t i = 0; i < n; i++) {
		snprintf(url, sizeof(url), "http://10.0.0.%zu:80/", i + 1);
		tu_add(l, "svc", "/foo", url, 0,
		       i == 0 && canary > 0 ? "canary" : "v1")
			->consul_weight = cw[i];
	}
	if (canary > 0)
		tu_weight(l, "svc", "/foo", canary, "canary");
	return tu_build(l, RT_MATCH_PREFIX, NULL);
}

START_TEST(table_consul_weights)
{
	struct rt_cmd_list l = { 0 };
	struct rt_table *t;
	const struct rt_route *r;

	t = consul_route(&l, (unsigned[]){ 1, 2, 1 }, 3, 0);
	r = foo(t);
	expect(r, "http://10.0.0.1:80/", 0.25);
	expect(r, "http://10.0.0.2:80/", 0.5);
	expect(r, "http://10.0.0.3:80/", 0.25);
	ck_assert_uint_eq(r->total_weight, 10000);
	ck_assert_uint_eq(tu_target(r, "http://10.0.0.2:80/")->consul_weight, 2);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);

	/* a 20% `route weight` canary; the rest splits 2:1 by weight and
	 * the canary's own Consul weight changes nothing */
	t = consul_route(&l, (unsigned[]){ 5, 2, 1 }, 3, 0.2);
	r = foo(t);
	expect(r, "http://10.0.0.1:80/", 0.2);
	expect(r, "http://10.0.0.2:80/", 0.8 * 2 / 3);
	expect(r, "http://10.0.0.3:80/", 0.8 / 3);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);

	/* a weight= option is fixed too: not scaled */
	tu_add(&l, "svc", "/foo", "http://10.0.0.1:80/", 0.5, NULL)->consul_weight = 9;
	tu_add(&l, "svc", "/foo", "http://10.0.0.2:80/", 0, NULL)->consul_weight = 3;
	tu_add(&l, "svc", "/foo", "http://10.0.0.3:80/", 0, NULL)->consul_weight = 1;
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	r = foo(t);
	expect(r, "http://10.0.0.1:80/", 0.5);
	expect(r, "http://10.0.0.2:80/", 0.375);
	expect(r, "http://10.0.0.3:80/", 0.125);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);

	/* a target Consul holds down takes no part, whatever its weight */
	tu_add(&l, "svc", "/foo", "http://10.0.0.1:80/", 0, NULL)->consul_weight = 1;
	tu_add(&l, "svc", "/foo", "http://10.0.0.2:80/", 0, NULL)->consul_weight = 3;
	tu_add(&l, "down", "/foo", "http://10.0.0.3:80/", 0, NULL)->consul_down = 1;
	l.v[2].consul_weight = 8;
	t = tu_build(&l, RT_MATCH_PREFIX, NULL);
	r = foo(t);
	expect(r, "http://10.0.0.1:80/", 0.25);
	expect(r, "http://10.0.0.2:80/", 0.75);
	expect(r, "http://10.0.0.3:80/", 0);
	rt_table_unref(t);
	rt_cmd_list_clear(&l);
}
END_TEST

/* Equal Consul weights, whatever they are, give exactly fabio's shares
 * (compared with ==, not within EPS) and integer weights. */
START_TEST(table_consul_equal_is_fabio)
{
	static const unsigned none[7] = { 0 }, ones[7] = { 1, 1, 1, 1, 1, 1, 1 },
			      threes[7] = { 3, 3, 3, 3, 3, 3, 3 },
			      mixed01[7] = { 0, 1, 0, 1, 1, 0, 1 };
	static const unsigned *const sets[] = { ones, threes, mixed01 };
	static const double canaries[] = { 0, 0.05, 0.2, 1.5 };

	for (size_t n = 1; n <= 7; n++) {
		for (size_t c = 0; c < sizeof(canaries) / sizeof(canaries[0]); c++) {
			struct rt_cmd_list l0 = { 0 };
			struct rt_table *t0 = consul_route(&l0, none, n, canaries[c]);
			const struct rt_route *r0 = foo(t0);

			for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
				struct rt_cmd_list l = { 0 };
				struct rt_table *t = consul_route(&l, sets[s], n,
								  canaries[c]);
				const struct rt_route *r = foo(t);

				ck_assert_uint_eq(r->ntargets, r0->ntargets);
				ck_assert_uint_eq(r->total_weight, r0->total_weight);
				for (size_t i = 0; i < r->ntargets; i++) {
					ck_assert_str_eq(r->targets[i]->url,
							 r0->targets[i]->url);
					ck_assert_msg(memcmp(&r->targets[i]->share,
							     &r0->targets[i]->share,
							     sizeof(double)) == 0,
						      "n=%zu canary=%g set=%zu target %zu: %.17g != %.17g",
						      n, canaries[c], s, i,
						      r->targets[i]->share,
						      r0->targets[i]->share);
					ck_assert_uint_eq(r->targets[i]->weight,
							  r0->targets[i]->weight);
				}
				rt_table_unref(t);
				rt_cmd_list_clear(&l);
			}
			rt_table_unref(t0);
			rt_cmd_list_clear(&l0);
		}
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("rt_weight");
	TCase *tc = tcase_create("weight");

	tcase_add_test(tc, shares_table);
	tcase_add_test(tc, units);
	tcase_add_test(tc, table_fixed_weight_zero_is_dynamic);
	tcase_add_test(tc, table_dedup);
	tcase_add_test(tc, table_fixed_only);
	tcase_add_test(tc, table_mixed);
	tcase_add_test(tc, table_route_weight_by_service);
	tcase_add_test(tc, table_route_weight_by_service_and_tags);
	tcase_add_test(tc, table_route_weight_by_tags);
	tcase_add_test(tc, table_many_targets);
	tcase_add_test(tc, table_canary);
	tcase_add_test(tc, table_weight_option_per_instance);
	tcase_add_test(tc, table_weight_all_to_tag);
	tcase_add_test(tc, table_weight_reset);
	tcase_add_test(tc, table_weight_then_add_is_second_target);
	tcase_add_test(tc, table_weight_needs_exact_route);
	tcase_add_test(tc, table_weight_not_a_number);
	tcase_add_test(tc, shares_by_consul);
	tcase_add_test(tc, table_consul_weights);
	tcase_add_test(tc, table_consul_equal_is_fabio);
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
