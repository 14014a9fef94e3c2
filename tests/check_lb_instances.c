/*
 * check_lb_instances.c - which instances count (fabio's status filter and
 * the node and maintenance rules) on decoded /v1/health/service answers;
 * the KV override text with its line map; the no-route page box.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb/lb_instances.h"
#include "lb/lb_noroute.h"
#include "lb/lb_overrides.h"
#include "registry-client/consul_json.h"
#include "tests/check_main.h"

/* One check of a fixture: its ID, ServiceID ("" for node-level) and
 * Status as Consul writes them. */
struct chk {
	const char *id;
	const char *service_id;
	const char *status;
};

static struct consul_service_list list;

static void teardown(void)
{
	consul_service_list_clear(&list);
}

/*
 * Decode a one-element /v1/health/service/web answer for instance web1
 * (Weights 5/2) with the given checks, as the agent sends it.
 */
static const struct consul_service_entry *entry(const struct chk *c, size_t n)
{
	char buf[8192];
	size_t o = 0;
	struct consul_json_err err;

	o += (size_t)snprintf(buf + o, sizeof(buf) - o,
		"[{\"Node\":{\"ID\":\"3d4e\",\"Node\":\"n1\",\"Address\":\"10.0.0.9\","
		"\"Datacenter\":\"dc1\",\"TaggedAddresses\":{},\"Meta\":{},"
		"\"CreateIndex\":11,\"ModifyIndex\":13},"
		"\"Service\":{\"ID\":\"web1\",\"Service\":\"web\","
		"\"Tags\":[\"urlprefix-/web\"],\"Address\":\"10.0.0.1\",\"Meta\":{},"
		"\"Port\":8080,\"Weights\":{\"Passing\":5,\"Warning\":2},"
		"\"EnableTagOverride\":false,\"CreateIndex\":20,\"ModifyIndex\":20},"
		"\"Checks\":[");
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o,
			"%s{\"Node\":\"n1\",\"CheckID\":\"%s\",\"Name\":\"c\","
			"\"Status\":\"%s\",\"Notes\":\"\",\"Output\":\"\","
			"\"ServiceID\":\"%s\",\"ServiceName\":\"%s\","
			"\"ServiceTags\":[],\"Type\":\"\",\"Definition\":{},"
			"\"CreateIndex\":21,\"ModifyIndex\":25}",
			i ? "," : "", c[i].id, c[i].status, c[i].service_id,
			c[i].service_id[0] ? "web" : "");
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, "]}]");
	ck_assert_uint_lt(o, sizeof(buf));
	consul_service_list_clear(&list);
	ck_assert_msg(consul_json_decode_health_service(buf, o, &list, &err) == 0,
		      "%s", err.msg);
	ck_assert_uint_eq(list.n, 1);
	return &list.v[0];
}

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define SERF_OK { "serfHealth", "", "passing" }
#define PASS_ALL (LB_STATUS_PASSING | LB_STATUS_WARNING | LB_STATUS_CRITICAL)

START_TEST(test_no_service_checks_counts_as_passing)
{
	const struct chk only_serf[] = { SERF_OK };
	const struct consul_service_entry *e = entry(NULL, 0);

	ck_assert_int_eq(lb_instance_counts(e, 0, 0), 1);
	ck_assert_int_eq(lb_instance_counts(e, LB_STATUS_PASSING, 1), 1);
	/* "passing" is what it counts as: a set without it excludes it */
	ck_assert_int_eq(lb_instance_counts(e, LB_STATUS_WARNING, 0), 0);
	e = entry(only_serf, N(only_serf));
	ck_assert_int_eq(lb_instance_counts(e, 0, 0), 1);
	ck_assert_int_eq(lb_instance_counts(e, 0, 1), 1);
}
END_TEST

START_TEST(test_single_check_statuses)
{
	const struct chk pass[] = { SERF_OK, { "service:web1", "web1", "passing" } };
	const struct chk warn[] = { SERF_OK, { "service:web1", "web1", "warning" } };
	const struct chk crit[] = { SERF_OK, { "service:web1", "web1", "critical" } };
	const struct chk odd[] = { SERF_OK, { "service:web1", "web1", "bogus" } };
	const struct consul_service_entry *e;

	e = entry(pass, N(pass));
	ck_assert_int_eq(lb_instance_counts(e, 0, 0), 1);
	ck_assert_int_eq(lb_instance_counts(e, LB_STATUS_WARNING, 0), 0);

	/* warning: out by default, in when the status set allows it */
	e = entry(warn, N(warn));
	ck_assert_int_eq(lb_instance_counts(e, 0, 0), 0);
	ck_assert_int_eq(lb_instance_counts(e, LB_STATUS_PASSING, 0), 0);
	ck_assert_int_eq(lb_instance_counts(e, LB_STATUS_PASSING | LB_STATUS_WARNING, 0), 1);
	ck_assert_int_eq(lb_instance_counts(e, LB_STATUS_PASSING | LB_STATUS_WARNING, 1), 1);

	e = entry(crit, N(crit));
	ck_assert_int_eq(lb_instance_counts(e, 0, 0), 0);
	ck_assert_int_eq(lb_instance_counts(e, LB_STATUS_PASSING | LB_STATUS_WARNING, 0), 0);
	ck_assert_int_eq(lb_instance_counts(e, PASS_ALL, 0), 1);

	/* a status Consul does not define is "unknown" (fabio's fourth) */
	e = entry(odd, N(odd));
	ck_assert_int_eq(lb_instance_counts(e, PASS_ALL, 0), 0);
	ck_assert_int_eq(lb_instance_counts(e, LB_STATUS_UNKNOWN, 0), 1);
}
END_TEST

START_TEST(test_one_versus_all)
{
	const struct chk mixed[] = {
		SERF_OK,
		{ "service:web1", "web1", "passing" },
		{ "service:web1:2", "web1", "critical" },
	};
	const struct chk pw[] = {
		SERF_OK,
		{ "service:web1", "web1", "passing" },
		{ "service:web1:2", "web1", "warning" },
	};
	const struct consul_service_entry *e = entry(mixed, N(mixed));

	/* one passing + one critical is routed with checksRequired=one
	 * (fabio #338) and not with all */
	ck_assert_int_eq(lb_instance_counts(e, 0, 0), 1);
	ck_assert_int_eq(lb_instance_counts(e, 0, 1), 0);
	ck_assert_int_eq(lb_instance_counts(e, PASS_ALL, 1), 1);

	e = entry(pw, N(pw));
	ck_assert_int_eq(lb_instance_counts(e, 0, 1), 0);
	ck_assert_int_eq(lb_instance_counts(e, LB_STATUS_PASSING | LB_STATUS_WARNING, 1), 1);
	ck_assert_int_eq(lb_instance_counts(e, LB_STATUS_WARNING, 0), 1);
	ck_assert_int_eq(lb_instance_counts(e, LB_STATUS_WARNING, 1), 0);
}
END_TEST

START_TEST(test_serf_health)
{
	const struct chk serf_crit[] = {
		{ "serfHealth", "", "critical" },
		{ "service:web1", "web1", "passing" },
	};
	const struct chk serf_warn[] = {
		{ "serfHealth", "", "warning" },
		{ "service:web1", "web1", "passing" },
	};
	const struct consul_service_entry *e = entry(serf_crit, N(serf_crit));

	/* a failed node takes the instance out whatever the status set */
	ck_assert_int_eq(lb_instance_counts(e, 0, 0), 0);
	ck_assert_int_eq(lb_instance_counts(e, PASS_ALL, 0), 0);
	/* only critical counts as failed for serfHealth (as fabio) */
	e = entry(serf_warn, N(serf_warn));
	ck_assert_int_eq(lb_instance_counts(e, 0, 0), 1);
	ck_assert_int_eq(lb_instance_counts(e, 0, 1), 1);
}
END_TEST

START_TEST(test_maintenance)
{
	const struct chk node[] = {
		SERF_OK,
		{ "_node_maintenance", "", "critical" },
		{ "service:web1", "web1", "passing" },
	};
	const struct chk svc[] = {
		SERF_OK,
		{ "service:web1", "web1", "passing" },
		{ "_service_maintenance:web1", "web1", "critical" },
	};
	const struct chk other[] = {
		SERF_OK,
		{ "service:web1", "web1", "passing" },
		{ "_service_maintenance:web10", "", "critical" },
	};
	const struct chk svc_only[] = {
		SERF_OK,
		{ "_service_maintenance:web1", "web1", "critical" },
	};
	const struct consul_service_entry *e;

	e = entry(node, N(node));
	ck_assert_int_eq(lb_instance_counts(e, 0, 0), 0);
	ck_assert_int_eq(lb_instance_counts(e, PASS_ALL, 0), 0);
	e = entry(svc, N(svc));
	ck_assert_int_eq(lb_instance_counts(e, 0, 0), 0);
	ck_assert_int_eq(lb_instance_counts(e, PASS_ALL, 0), 0);
	/* maintenance of another instance whose ID merely starts alike */
	e = entry(other, N(other));
	ck_assert_int_eq(lb_instance_counts(e, 0, 0), 1);
	/* the maintenance check alone, no other check: still out */
	e = entry(svc_only, N(svc_only));
	ck_assert_int_eq(lb_instance_counts(e, PASS_ALL, 0), 0);
}
END_TEST

START_TEST(test_foreign_checks_ignored)
{
	const struct chk v[] = {
		SERF_OK,
		{ "disk", "", "critical" },              /* node-level, not serf */
		{ "service:api1", "api1", "critical" },  /* another instance's */
		{ "service:web1", "web1", "passing" },
	};
	const struct chk none_own[] = {
		SERF_OK,
		{ "disk", "", "critical" },
	};
	const struct consul_service_entry *e = entry(v, N(v));

	ck_assert_int_eq(lb_instance_counts(e, 0, 0), 1);
	ck_assert_int_eq(lb_instance_counts(e, 0, 1), 1);
	e = entry(none_own, N(none_own));
	ck_assert_int_eq(lb_instance_counts(e, 0, 1), 1);
	ck_assert_int_eq(lb_instance_counts(NULL, 0, 0), 0);
}
END_TEST

/* The reason an instance is out, which the service_down log line names. */
START_TEST(test_verdicts)
{
	const struct chk pass[] = { SERF_OK, { "service:web1", "web1", "passing" } };
	const struct chk crit[] = { SERF_OK, { "service:web1", "web1", "critical" } };
	const struct chk serf_first[] = {
		{ "serfHealth", "", "critical" },
		{ "_node_maintenance", "", "critical" },
		{ "service:web1", "web1", "critical" },
	};
	const struct chk node_first[] = {
		{ "_node_maintenance", "", "critical" },
		{ "serfHealth", "", "critical" },
	};
	const struct chk svc_maint[] = {
		SERF_OK,
		{ "service:web1", "web1", "passing" },
		{ "_service_maintenance:web1", "web1", "critical" },
	};
	const struct consul_service_entry *e;

	e = entry(pass, N(pass));
	ck_assert_int_eq(lb_instance_verdict(e, 0, 0), LB_INSTANCE_COUNTS);
	e = entry(crit, N(crit));
	ck_assert_int_eq(lb_instance_verdict(e, 0, 0), LB_INSTANCE_CHECKS);
	ck_assert_int_eq(lb_instance_verdict(e, PASS_ALL, 0), LB_INSTANCE_COUNTS);
	/* the first excluding check decides, whatever the status set */
	e = entry(serf_first, N(serf_first));
	ck_assert_int_eq(lb_instance_verdict(e, PASS_ALL, 0), LB_INSTANCE_NODE_DOWN);
	e = entry(node_first, N(node_first));
	ck_assert_int_eq(lb_instance_verdict(e, 0, 0), LB_INSTANCE_NODE_MAINT);
	e = entry(svc_maint, N(svc_maint));
	ck_assert_int_eq(lb_instance_verdict(e, PASS_ALL, 1),
			 LB_INSTANCE_SERVICE_MAINT);
	ck_assert_int_eq(lb_instance_verdict(NULL, 0, 0), LB_INSTANCE_CHECKS);

	ck_assert_str_eq(lb_instance_verdict_name(LB_INSTANCE_COUNTS), "counts");
	ck_assert_str_eq(lb_instance_verdict_name(LB_INSTANCE_CHECKS), "checks");
	ck_assert_str_eq(lb_instance_verdict_name(LB_INSTANCE_NODE_DOWN), "node_down");
	ck_assert_str_eq(lb_instance_verdict_name(LB_INSTANCE_NODE_MAINT),
			 "node_maintenance");
	ck_assert_str_eq(lb_instance_verdict_name(LB_INSTANCE_SERVICE_MAINT),
			 "service_maintenance");
	ck_assert_str_eq(lb_instance_verdict_name((enum lb_instance_verdict)99),
			 "unknown");
}
END_TEST

START_TEST(test_weights)
{
	const struct chk pass[] = { SERF_OK, { "service:web1", "web1", "passing" } };
	const struct chk warn[] = { SERF_OK, { "service:web1", "web1", "warning" } };
	const struct chk crit[] = { SERF_OK, { "service:web1", "web1", "critical" } };
	const struct chk maint[] = { SERF_OK, { "service:web1", "web1", "passing" },
				     { "_service_maintenance:web1", "web1", "critical" } };
	const struct chk node_warn[] = { { "serfHealth", "", "warning" },
					 { "service:web1", "web1", "passing" } };

	ck_assert_int_eq(lb_instance_weight(entry(pass, N(pass))), 5);
	ck_assert_int_eq(lb_instance_weight(entry(warn, N(warn))), 2);
	ck_assert_int_eq(lb_instance_weight(entry(crit, N(crit))), 0);
	ck_assert_int_eq(lb_instance_weight(entry(maint, N(maint))), 0);
	ck_assert_int_eq(lb_instance_weight(entry(node_warn, N(node_warn))), 2);
	ck_assert_int_eq(lb_instance_weight(entry(NULL, 0)), 5);
}
END_TEST

/* ---- override text ---- */

static void kv_set(struct consul_kv_entry *e, const char *key, const char *val)
{
	memset(e, 0, sizeof(*e));
	e->key = (char *)key;
	e->value = (unsigned char *)val;
	e->value_len = val ? strlen(val) : 0;
}

START_TEST(test_overrides_text)
{
	struct consul_kv_entry v[3];
	struct consul_kv_list kv = { v, 3 };
	struct lb_overrides o;
	unsigned kl = 0;

	kv_set(&v[0], "fabio/config/a", "route add a /a http://10.0.0.1:80/\n"
					"route add a /b http://10.0.0.1:80/");
	kv_set(&v[1], "fabio/config/b", NULL);
	kv_set(&v[2], "fabio/config/c\nroute add evil /e http://6.6.6.6/",
	       "\nroute weight a /a weight 0.5 tags \"x\"\n");
	ck_assert_int_eq(lb_overrides_build(&kv, &o), 0);
	ck_assert_str_eq(o.text,
		"# --- fabio/config/a\n"
		"route add a /a http://10.0.0.1:80/\n"
		"route add a /b http://10.0.0.1:80/\n"
		"\n"
		"# --- fabio/config/b\n"
		"\n"
		"# --- fabio/config/c?route add evil /e http://6.6.6.6/\n"
		"\n"
		"route weight a /a weight 0.5 tags \"x\"\n");
	ck_assert_uint_eq(o.len, strlen(o.text));
	ck_assert_uint_eq(o.nkeys, 3);
	ck_assert_ptr_null(lb_overrides_where(&o, 0, &kl));
	ck_assert_ptr_null(lb_overrides_where(&o, 1, &kl));
	ck_assert_str_eq(lb_overrides_where(&o, 2, &kl), "fabio/config/a");
	ck_assert_uint_eq(kl, 1);
	ck_assert_str_eq(lb_overrides_where(&o, 3, &kl), "fabio/config/a");
	ck_assert_uint_eq(kl, 2);
	/* line 9 of the text is line 2 of key c's value */
	ck_assert_str_eq(lb_overrides_where(&o, 9, &kl),
			 "fabio/config/c?route add evil /e http://6.6.6.6/");
	ck_assert_uint_eq(kl, 2);
	lb_overrides_clear(&o);
	lb_overrides_clear(&o);

	kv.n = 0;
	ck_assert_int_eq(lb_overrides_build(&kv, &o), 0);
	ck_assert_ptr_null(o.text);
	ck_assert_ptr_null(lb_overrides_where(&o, 1, &kl));
	lb_overrides_clear(&o);
	lb_overrides_clear(NULL);
}
END_TEST

/* ---- the no-route page box ---- */

START_TEST(test_noroute_box)
{
	struct lb_noroute_box b;
	struct lb_noroute *p1 = lb_noroute_new("<h1>x</h1>", 10);
	struct lb_noroute *p2 = lb_noroute_new(NULL, 0);
	struct lb_noroute *got;

	ck_assert_ptr_nonnull(p1);
	ck_assert_ptr_nonnull(p2);
	ck_assert_str_eq(lb_noroute_body(p1), "<h1>x</h1>");
	ck_assert_uint_eq(lb_noroute_len(p1), 10);
	ck_assert_str_eq(lb_noroute_body(p2), "");
	ck_assert_uint_eq(lb_noroute_len(p2), 0);
	lb_noroute_box_init(&b);
	ck_assert_ptr_null(lb_noroute_box_take(&b));
	lb_noroute_box_post(&b, lb_noroute_ref(p1));
	lb_noroute_box_post(&b, lb_noroute_ref(p2)); /* replaces, drops p1's ref */
	got = lb_noroute_box_take(&b);
	ck_assert_ptr_eq(got, p2);
	ck_assert_ptr_null(lb_noroute_box_take(&b));
	lb_noroute_unref(got);
	lb_noroute_box_post(&b, lb_noroute_ref(p1));
	lb_noroute_box_clear(&b);
	lb_noroute_unref(p1);
	lb_noroute_unref(p2);
	lb_noroute_unref(NULL);
	ck_assert_str_eq(lb_noroute_body(NULL), "");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("lb_instances");
	TCase *tc = tcase_create("status filter");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_no_service_checks_counts_as_passing);
	tcase_add_test(tc, test_single_check_statuses);
	tcase_add_test(tc, test_one_versus_all);
	tcase_add_test(tc, test_serf_health);
	tcase_add_test(tc, test_maintenance);
	tcase_add_test(tc, test_foreign_checks_ignored);
	tcase_add_test(tc, test_verdicts);
	tcase_add_test(tc, test_weights);
	suite_add_tcase(s, tc);
	tc = tcase_create("overrides and page");
	tcase_add_test(tc, test_overrides_text);
	tcase_add_test(tc, test_noroute_box);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_main_run(suite());
}
