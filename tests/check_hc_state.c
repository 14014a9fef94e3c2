/*
 * check_hc_state.c - the health state of targets: entries kept across
 * table swaps, the Consul view (table's consul_down, checks, maintenance,
 * weights), probes' rise/fall counting, passive ejection (threshold,
 * refusals, backoff and its decay, the 50 % cap), the order of the views,
 * the transition log (each change once, exact line), the readable state
 * and the end of an ejection as workers read it,
 * sets and mailboxes, and bad input. Time is passed in: nothing sleeps.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health/hc_state.h"
#include "routes/rt_parse.h"
#include "routes/rt_table.h"
#include "tests/check_main.h"

#define T0 1000000u       /* an arbitrary start of the clock */
#define BASE 30000u
#define MAX_LINES 256

/* ---- helpers ------------------------------------------------------------ */

static char *lines[MAX_LINES];
static size_t nlines;

static void on_log(void *arg, const struct hc_transition *tr)
{
	ck_assert_ptr_eq(arg, &nlines);
	ck_assert_int_ne(tr->from, tr->to);
	ck_assert_uint_lt(nlines, MAX_LINES);
	lines[nlines] = strdup(tr->line);
	ck_assert_ptr_nonnull(lines[nlines]);
	nlines++;
}

static void log_reset(void)
{
	for (size_t i = 0; i < nlines; i++)
		free(lines[i]);
	nlines = 0;
}

static const char *last_line(void)
{
	return nlines ? lines[nlines - 1] : "";
}

static struct hc_registry *reg_new(const struct hc_config *c)
{
	struct hc_registry *reg = hc_registry_new(c, on_log, &nlines);

	ck_assert_ptr_nonnull(reg);
	return reg;
}

/* A table from route text; services named down* are marked consul_down,
 * as the watcher marks a service none of whose instances counts. */
static struct rt_table *table_from(const char *text)
{
	struct rt_cmd_list l = {0};
	struct rt_table *t;

	ck_assert_int_eq(rt_parse(text, strlen(text), &l), 0);
	ck_assert_uint_eq(l.nerrs, 0);
	for (size_t i = 0; i < l.n; i++)
		if (l.v[i].service && strncmp(l.v[i].service, "down", 4) == 0)
			l.v[i].consul_down = 1;
	t = rt_table_build(&l, NULL, NULL);
	ck_assert_ptr_nonnull(t);
	rt_cmd_list_clear(&l);
	return t;
}

static struct hc_set *sync_text(struct hc_registry *reg, const char *text,
				uint64_t now)
{
	struct rt_table *t = table_from(text);
	struct hc_set *s = hc_registry_sync(reg, t, now);

	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_eq(hc_set_table(s), t);
	rt_table_unref(t);   /* the set holds its own */
	return s;
}

/* The first target of s's table with address addr (host:port). */
static const struct rt_target *target_at(const struct hc_set *s,
					 const char *addr)
{
	const struct rt_table *t = hc_set_table(s);

	for (size_t i = 0; i < rt_table_nroutes(t); i++) {
		const struct rt_route *r = rt_table_route(t, i);

		for (size_t j = 0; j < r->ntargets; j++)
			if (strcmp(r->targets[j]->addr, addr) == 0)
				return r->targets[j];
	}
	ck_abort_msg("no target %s", addr);
	return NULL;
}

static struct hc_entry *entry_at(const struct hc_set *s, const char *addr)
{
	struct hc_entry *e = hc_set_entry(s, target_at(s, addr)->index);

	ck_assert_ptr_nonnull(e);
	return e;
}

static struct hc_target_info info_of(struct hc_registry *reg,
				     const struct hc_entry *e)
{
	struct hc_target_info in;

	ck_assert_int_eq(hc_entry_info(reg, e, &in), 0);
	return in;
}

/* Report n outcomes o; returns how many asked for a tick. */
static int report_n(struct hc_entry *e, enum hc_outcome o, int n)
{
	int asked = 0;

	while (n-- > 0)
		asked += hc_entry_report(e, o);
	return asked;
}

static void teardown(void)
{
	log_reset();
}

#define THREE "route add svc /a http://10.0.0.1:80/\n" \
	      "route add svc /a http://10.0.0.2:80/\n" \
	      "route add svc /a http://10.0.0.3:80/\n"
#define FOUR THREE "route add svc /a http://10.0.0.4:80/\n"

/* ---- configuration ------------------------------------------------------ */

START_TEST(test_defaults)
{
	struct hc_config c;
	const char *why = NULL;

	hc_config_defaults(&c);
	ck_assert_uint_eq(c.probe.interval_ms, 2000);
	ck_assert_uint_eq(c.probe.timeout_ms, 2000);
	ck_assert_uint_eq(c.probe.rise, 2);
	ck_assert_uint_eq(c.probe.fall, 3);
	ck_assert_int_eq(c.eject_enabled, 1);
	ck_assert_uint_eq(c.eject_consecutive, 5);
	ck_assert_uint_eq(c.eject_base_ms, 30000);
	ck_assert_uint_eq(c.eject_max_ms, 300000);
	ck_assert_uint_eq(c.eject_max_percent, 50);
	ck_assert_int_eq(hc_config_check(&c, &why), 0);
	ck_assert_ptr_null(why);

	c.probe.rise = 0;
	ck_assert_int_eq(hc_config_check(&c, &why), -EINVAL);
	ck_assert_str_eq(why, "rise");
	hc_config_defaults(&c);
	c.eject_consecutive = 0;
	ck_assert_int_eq(hc_config_check(&c, &why), -EINVAL);
	ck_assert_str_eq(why, "eject_consecutive");
	c.eject_enabled = 0;   /* the threshold does not matter then */
	ck_assert_int_eq(hc_config_check(&c, NULL), 0);
	hc_config_defaults(&c);
	c.eject_max_ms = c.eject_base_ms - 1;
	ck_assert_int_eq(hc_config_check(&c, &why), -EINVAL);
	ck_assert_str_eq(why, "eject_max");
	hc_config_defaults(&c);
	c.eject_max_percent = 101;
	ck_assert_int_eq(hc_config_check(&c, &why), -EINVAL);
	ck_assert_str_eq(why, "eject_max_percent");
	ck_assert_ptr_null(hc_registry_new(&c, NULL, NULL));
	ck_assert_int_eq(hc_config_check(NULL, NULL), -EINVAL);

	ck_assert_str_eq(hc_state_name(HC_UP), "up");
	ck_assert_str_eq(hc_state_name(HC_CONSUL_DOWN), "consul_down");
	ck_assert_str_eq(hc_state_name(HC_PROBE_DOWN), "probe_down");
	ck_assert_str_eq(hc_state_name(HC_EJECTED), "ejected");
	ck_assert_str_eq(hc_state_name((enum hc_state)99), "unknown");
	ck_assert_str_eq(hc_consul_verdict_name(HC_CONSUL_NODE_DOWN), "node_down");
	ck_assert_str_eq(hc_consul_status_name(HC_CONSUL_WARNING), "warning");
}
END_TEST

/* ---- entries and sync --------------------------------------------------- */

START_TEST(test_sync_entries_by_index)
{
	struct hc_registry *reg = reg_new(NULL);
	struct hc_set *s = sync_text(reg,
		"route add svc /a http://10.0.0.1:80/\n"
		"route add svc /a http://10.0.0.2:80/\n"
		"route add svc /b http://10.0.0.1:80/\n"
		"route add svc /b http://10.0.0.3:80/\n", T0);
	const struct rt_table *t = hc_set_table(s);
	struct hc_entry *one_a = NULL, *one_b = NULL;

	ck_assert_uint_eq(rt_table_ntargets(t), 4);
	ck_assert_uint_eq(hc_registry_size(reg), 3);   /* 10.0.0.1 shared */
	for (size_t i = 0; i < rt_table_nroutes(t); i++) {
		const struct rt_route *r = rt_table_route(t, i);

		for (size_t j = 0; j < r->ntargets; j++) {
			const struct rt_target *tg = r->targets[j];
			struct hc_entry *e = hc_set_entry(s, tg->index);
			struct hc_target_info in = info_of(reg, e);

			ck_assert_ptr_eq(e, hc_registry_find(reg, tg->identity));
			ck_assert_uint_eq(in.identity, tg->identity);
			ck_assert_str_eq(in.addr, tg->addr);
			ck_assert_str_eq(in.service, "svc");
			ck_assert_int_eq(in.state, HC_UP);
			ck_assert_int_eq(in.fit, 1);
			ck_assert_str_eq(in.reason, "new");
			ck_assert_uint_eq(in.weight, 1);
			ck_assert_int_eq(hc_set_healthy(tg, s), 1);
			if (strcmp(tg->addr, "10.0.0.1:80") == 0) {
				if (strcmp(r->path, "/a") == 0)
					one_a = e;
				else
					one_b = e;
			}
		}
	}
	ck_assert_ptr_nonnull(one_a);
	ck_assert_ptr_eq(one_a, one_b);
	ck_assert_ptr_null(hc_set_entry(s, 4));
	ck_assert_ptr_null(hc_registry_find(reg, 12345));
	ck_assert_uint_eq(nlines, 0);   /* creation is no transition */
	hc_set_unref(s);
	hc_registry_free(reg);
}
END_TEST

START_TEST(test_sync_keeps_and_retires)
{
	struct hc_registry *reg = reg_new(NULL);
	struct hc_set *s1 = sync_text(reg, THREE, T0), *s2, *s3, *s4;
	struct hc_entry *e1 = entry_at(s1, "10.0.0.1:80"), *again;
	struct hc_target_info in;

	ck_assert_int_eq(report_n(e1, HC_OUTCOME_5XX, 5), 1);
	ck_assert_uint_eq(hc_tick(reg, T0 + 100), 1);
	in = info_of(reg, e1);
	ck_assert_int_eq(in.state, HC_EJECTED);

	/* the next table still has it: same entry, state kept */
	s2 = sync_text(reg, FOUR, T0 + 200);
	ck_assert_ptr_eq(entry_at(s2, "10.0.0.1:80"), e1);
	in = info_of(reg, e1);
	ck_assert_int_eq(in.state, HC_EJECTED);
	ck_assert_uint_eq(in.ejected_until_ms, T0 + 100 + BASE);
	ck_assert_uint_eq(in.http_5xx, 5);
	ck_assert_int_eq(hc_set_healthy(target_at(s2, "10.0.0.1:80"), s2), 0);
	ck_assert_uint_eq(hc_registry_size(reg), 4);

	/* a table without it: the entry leaves the registry, sets that
	 * hold it can still read and report */
	s3 = sync_text(reg, "route add svc /a http://10.0.0.2:80/\n"
			    "route add svc /a http://10.0.0.3:80/\n", T0 + 300);
	ck_assert_uint_eq(hc_registry_size(reg), 2);
	ck_assert_int_eq(hc_entry_info(reg, e1, &in), -ENOENT);
	ck_assert_int_eq(hc_entry_fit(e1), 0);
	ck_assert_int_eq(report_n(e1, HC_OUTCOME_CONNECT_REFUSED, 3), 0);
	ck_assert_int_eq(hc_probe_result(reg, e1, 1, NULL, T0 + 300), -ENOENT);
	ck_assert_int_eq(hc_tick(reg, T0 + 400), 0);

	/* back again: a fresh entry */
	s4 = sync_text(reg, THREE, T0 + 500);
	again = entry_at(s4, "10.0.0.1:80");
	ck_assert_ptr_ne(again, e1);
	in = info_of(reg, again);
	ck_assert_int_eq(in.state, HC_UP);
	ck_assert_uint_eq(in.ejections, 0);
	ck_assert_uint_eq(in.http_5xx, 0);
	ck_assert_uint_eq(in.since_ms, T0 + 500);

	hc_set_unref(s1);
	hc_set_unref(s2);
	hc_set_unref(s3);
	hc_set_unref(s4);
	hc_registry_free(reg);
}
END_TEST

/* ---- Consul ------------------------------------------------------------- */

START_TEST(test_consul_table_down)
{
	struct hc_registry *reg = reg_new(NULL);
	struct hc_set *s1 = sync_text(reg,
		"route add downsvc /d http://10.0.1.1:80/\n"
		"route add svc /a http://10.0.0.1:80/\n", T0), *s2, *s3;
	struct hc_entry *d = entry_at(s1, "10.0.1.1:80");
	struct hc_target_info in = info_of(reg, d);

	/* born down: no transition */
	ck_assert_int_eq(in.state, HC_CONSUL_DOWN);
	ck_assert_int_eq(in.consul_verdict, HC_CONSUL_TABLE_DOWN);
	ck_assert_str_eq(in.reason, "consul_down");
	ck_assert_int_eq(in.fit, 0);
	ck_assert_uint_eq(in.weight, 0);
	ck_assert_int_eq(hc_entry_fit(d), 0);
	ck_assert_uint_eq(hc_entry_weight(d), 0);
	ck_assert_uint_eq(nlines, 0);

	/* the service comes back: the table no longer marks it */
	s2 = sync_text(reg, "route add downsvc /d http://10.0.1.1:80/\n"
			    "route add downsvc /d http://10.0.1.2:80/\n"
			    "route add svc /a http://10.0.0.1:80/\n", T0 + 1);
	ck_assert_ptr_eq(entry_at(s2, "10.0.1.1:80"), d);
	ck_assert_uint_eq(nlines, 0);   /* still down; 10.0.1.2 is born down */
	hc_set_unref(s2);

	s3 = sync_text(reg, "route add svc /d http://10.0.1.1:80/\n"
			    "route add svc /a http://10.0.0.1:80/\n", T0 + 2);
	ck_assert_ptr_eq(entry_at(s3, "10.0.1.1:80"), d);
	ck_assert_uint_eq(nlines, 1);
	ck_assert_str_eq(last_line(),
		"target=downsvc@10.0.1.1:80 from=consul_down to=up reason=consul_passing");
	in = info_of(reg, d);
	ck_assert_int_eq(in.fit, 1);
	ck_assert_uint_eq(in.since_ms, T0 + 2);
	ck_assert_uint_eq(in.transitions, 1);
	ck_assert_uint_eq(hc_entry_weight(d), 1);
	hc_set_unref(s3);

	/* down again, from up: logged */
	s3 = sync_text(reg, "route add downsvc /d http://10.0.1.1:80/\n", T0 + 3);
	ck_assert_uint_eq(nlines, 2);
	ck_assert_str_eq(last_line(),
		"target=downsvc@10.0.1.1:80 from=up to=consul_down reason=consul_down");
	hc_set_unref(s3);
	hc_set_unref(s1);
	hc_registry_free(reg);
}
END_TEST

START_TEST(test_consul_view_and_weights)
{
	struct hc_registry *reg = reg_new(NULL);
	struct hc_set *s = sync_text(reg, THREE, T0), *s2;
	struct hc_entry *e = entry_at(s, "10.0.0.1:80");
	struct hc_consul_view v = {HC_CONSUL_PASSING, HC_CONSUL_COUNTS, 10, 3};
	struct hc_target_info in;

	ck_assert_int_eq(hc_consul_set(reg, e, &v, T0), 0);
	ck_assert_uint_eq(hc_entry_weight(e), 10);
	ck_assert_uint_eq(nlines, 0);

	v.status = HC_CONSUL_WARNING;
	ck_assert_int_eq(hc_consul_set(reg, e, &v, T0), 0);
	ck_assert_uint_eq(hc_entry_weight(e), 3);
	ck_assert_int_eq(hc_entry_fit(e), 1);

	/* Warning = 0: no traffic while warning, through the weight, which
	 * the pick predicate reads with the fit flag */
	v.weight_warning = 0;
	ck_assert_int_eq(hc_consul_set(reg, e, &v, T0), 0);
	ck_assert_uint_eq(hc_entry_weight(e), 0);
	ck_assert_int_eq(hc_entry_fit(e), 1);
	ck_assert_int_eq(hc_set_healthy(target_at(s, "10.0.0.1:80"), s), 0);

	/* critical, still counting (checksRequired=one): weighed as warning */
	v.status = HC_CONSUL_CRITICAL;
	v.weight_warning = 2;
	ck_assert_int_eq(hc_consul_set(reg, e, &v, T0), 0);
	ck_assert_uint_eq(hc_entry_weight(e), 2);
	ck_assert_int_eq(hc_set_healthy(target_at(s, "10.0.0.1:80"), s), 1);
	ck_assert_uint_eq(nlines, 0);

	/* Passing 0 is not a Consul weight: read as 1 */
	v.status = HC_CONSUL_PASSING;
	v.weight_passing = 0;
	ck_assert_int_eq(hc_consul_set(reg, e, &v, T0), 0);
	ck_assert_uint_eq(hc_entry_weight(e), 1);

	v.status = HC_CONSUL_MAINTENANCE;
	v.verdict = HC_CONSUL_SERVICE_MAINT;
	ck_assert_int_eq(hc_consul_set(reg, e, &v, T0 + 10), 0);
	ck_assert_str_eq(last_line(),
		"target=svc@10.0.0.1:80 from=up to=consul_down reason=service_maintenance");
	ck_assert_int_eq(hc_entry_fit(e), 0);
	ck_assert_uint_eq(hc_entry_weight(e), 0);
	/* another refusing verdict: the state is the same, no line */
	v.verdict = HC_CONSUL_NODE_DOWN;
	ck_assert_int_eq(hc_consul_set(reg, e, &v, T0 + 20), 0);
	ck_assert_uint_eq(nlines, 1);
	in = info_of(reg, e);
	ck_assert_int_eq(in.consul_verdict, HC_CONSUL_NODE_DOWN);
	ck_assert_int_eq(in.consul_status, HC_CONSUL_MAINTENANCE);
	ck_assert_uint_eq(in.since_ms, T0 + 10);

	v.status = HC_CONSUL_WARNING;
	v.verdict = HC_CONSUL_COUNTS;
	ck_assert_int_eq(hc_consul_set(reg, e, &v, T0 + 30), 0);
	ck_assert_str_eq(last_line(),
		"target=svc@10.0.0.1:80 from=consul_down to=up reason=consul_warning");

	/* refused by the checks; the next table, built from the same
	 * Consul answer, has it live: the table decides */
	v.verdict = HC_CONSUL_CHECKS;
	ck_assert_int_eq(hc_consul_set(reg, e, &v, T0 + 40), 0);
	ck_assert_str_eq(last_line(),
		"target=svc@10.0.0.1:80 from=up to=consul_down reason=checks");
	s2 = sync_text(reg, THREE, T0 + 50);
	ck_assert_int_eq(hc_entry_fit(e), 1);
	ck_assert_str_eq(last_line(),
		"target=svc@10.0.0.1:80 from=consul_down to=up reason=consul_warning");

	v.verdict = (enum hc_consul_verdict)42;
	ck_assert_int_eq(hc_consul_set(reg, e, &v, T0), -EINVAL);
	ck_assert_int_eq(hc_consul_set(reg, e, NULL, T0), -EINVAL);
	ck_assert_int_eq(hc_consul_set(NULL, e, &v, T0), -EINVAL);
	hc_set_unref(s2);
	hc_set_unref(s);
	hc_registry_free(reg);
}
END_TEST

/* ---- probes ------------------------------------------------------------- */

START_TEST(test_probe_rise_fall)
{
	struct hc_registry *reg = reg_new(NULL);
	struct hc_set *s = sync_text(reg, THREE, T0);
	struct hc_entry *e = entry_at(s, "10.0.0.1:80");
	struct hc_probe_params p;
	struct hc_target_info in;

	hc_probe_params_defaults(&p);
	/* no probe configured: the view allows, results are refused */
	ck_assert_int_eq(hc_probe_result(reg, e, 0, NULL, T0), -EINVAL);
	ck_assert_int_eq(hc_entry_fit(e), 1);
	in = info_of(reg, e);
	ck_assert_int_eq(in.probe_on, 0);
	ck_assert_int_eq(in.probe_up, 1);

	/* on: up, but the first failure takes it down (HAProxy) */
	ck_assert_int_eq(hc_probe_set(reg, e, &p, T0), 0);
	ck_assert_int_eq(hc_entry_fit(e), 1);
	ck_assert_int_eq(hc_probe_result(reg, e, 0, NULL, T0 + 1), 0);
	ck_assert_int_eq(hc_entry_fit(e), 0);
	ck_assert_str_eq(last_line(),
		"target=svc@10.0.0.1:80 from=up to=probe_down reason=probe_fall");

	/* rise 2: one success is not enough, a failure restarts the count */
	ck_assert_int_eq(hc_probe_result(reg, e, 1, NULL, T0 + 2), 0);
	ck_assert_int_eq(hc_entry_fit(e), 0);
	ck_assert_uint_eq(info_of(reg, e).probe_streak, 1);
	ck_assert_int_eq(hc_probe_result(reg, e, 0, NULL, T0 + 3), 0);
	ck_assert_uint_eq(info_of(reg, e).probe_streak, 0);
	ck_assert_int_eq(hc_probe_result(reg, e, 1, NULL, T0 + 4), 0);
	ck_assert_int_eq(hc_entry_fit(e), 0);
	ck_assert_int_eq(hc_probe_result(reg, e, 1, NULL, T0 + 5), 0);
	ck_assert_int_eq(hc_entry_fit(e), 1);
	ck_assert_str_eq(last_line(),
		"target=svc@10.0.0.1:80 from=probe_down to=up reason=probe_rise");

	/* fall 3: two failures, a success restarts, three take it down */
	ck_assert_int_eq(hc_probe_result(reg, e, 0, NULL, T0 + 6), 0);
	ck_assert_int_eq(hc_probe_result(reg, e, 0, NULL, T0 + 7), 0);
	ck_assert_int_eq(hc_entry_fit(e), 1);
	ck_assert_int_eq(hc_probe_result(reg, e, 1, NULL, T0 + 8), 0);
	ck_assert_int_eq(hc_probe_result(reg, e, 0, NULL, T0 + 9), 0);
	ck_assert_int_eq(hc_probe_result(reg, e, 0, NULL, T0 + 10), 0);
	ck_assert_int_eq(hc_entry_fit(e), 1);
	ck_assert_uint_eq(nlines, 2);
	ck_assert_int_eq(hc_probe_result(reg, e, 0, "probe timeout", T0 + 11), 0);
	ck_assert_int_eq(hc_entry_fit(e), 0);
	ck_assert_str_eq(last_line(),
		"target=svc@10.0.0.1:80 from=up to=probe_down reason=probe_timeout");
	in = info_of(reg, e);
	ck_assert_uint_eq(in.since_ms, T0 + 11);
	ck_assert_uint_eq(in.transitions, 3);
	ck_assert_uint_eq(in.probe.rise, 2);

	/* a lower rise keeps the state: one more success is still needed */
	ck_assert_int_eq(hc_probe_result(reg, e, 1, NULL, T0 + 12), 0);
	p.rise = 1;
	ck_assert_int_eq(hc_probe_set(reg, e, &p, T0 + 13), 0);
	ck_assert_int_eq(hc_entry_fit(e), 0);
	ck_assert_int_eq(hc_probe_result(reg, e, 1, NULL, T0 + 14), 0);
	ck_assert_int_eq(hc_entry_fit(e), 1);

	/* off: the view allows again */
	ck_assert_int_eq(hc_probe_result(reg, e, 0, NULL, T0 + 15), 0);
	ck_assert_int_eq(hc_probe_result(reg, e, 0, NULL, T0 + 16), 0);
	ck_assert_int_eq(hc_probe_result(reg, e, 0, NULL, T0 + 17), 0);
	ck_assert_int_eq(hc_entry_fit(e), 0);
	ck_assert_int_eq(hc_probe_set(reg, e, NULL, T0 + 18), 0);
	ck_assert_int_eq(hc_entry_fit(e), 1);
	ck_assert_str_eq(last_line(),
		"target=svc@10.0.0.1:80 from=probe_down to=up reason=probe_off");

	p.fall = 0;
	ck_assert_int_eq(hc_probe_set(reg, e, &p, T0), -EINVAL);
	ck_assert_int_eq(info_of(reg, e).probe_on, 0);
	hc_set_unref(s);
	hc_registry_free(reg);
}
END_TEST

/* ---- passive ejection --------------------------------------------------- */

START_TEST(test_eject_threshold)
{
	struct hc_registry *reg = reg_new(NULL);
	struct hc_set *s = sync_text(reg, THREE, T0);
	struct hc_entry *e = entry_at(s, "10.0.0.1:80");
	struct hc_target_info in;

	ck_assert_int_eq(report_n(e, HC_OUTCOME_5XX, 4), 0);
	ck_assert_uint_eq(hc_tick(reg, T0 + 100), 0);
	ck_assert_int_eq(hc_entry_fit(e), 1);
	ck_assert_uint_eq(info_of(reg, e).consecutive_failures, 4);
	/* the fifth asks for a tick, once until the tick */
	ck_assert_int_eq(hc_entry_report(e, HC_OUTCOME_5XX), 1);
	ck_assert_int_eq(hc_entry_report(e, HC_OUTCOME_5XX), 0);
	ck_assert_int_eq(hc_entry_fit(e), 1);   /* only the tick decides */
	ck_assert_uint_eq(hc_tick(reg, T0 + 150), 1);
	ck_assert_int_eq(hc_entry_fit(e), 0);
	ck_assert_int_eq(hc_set_healthy(target_at(s, "10.0.0.1:80"), s), 0);
	ck_assert_uint_eq(nlines, 1);
	ck_assert_str_eq(last_line(),
		"target=svc@10.0.0.1:80 from=up to=ejected reason=consecutive_failures");
	in = info_of(reg, e);
	ck_assert_int_eq(in.state, HC_EJECTED);
	ck_assert_int_eq(in.ejected, 1);
	ck_assert_uint_eq(in.ejected_until_ms, T0 + 150 + BASE);
	ck_assert_uint_eq(in.ejections, 1);
	ck_assert_uint_eq(in.eject_level, 1);
	ck_assert_uint_eq(in.consecutive_failures, 0);
	ck_assert_uint_eq(in.http_5xx, 6);
	ck_assert_str_eq(in.reason, "consecutive_failures");

	/* answers to requests already sent do not extend it */
	ck_assert_int_eq(report_n(e, HC_OUTCOME_5XX, 10), 0);
	ck_assert_uint_eq(hc_tick(reg, T0 + 150 + BASE - 1), 0);
	ck_assert_int_eq(hc_entry_fit(e), 0);
	ck_assert_uint_eq(nlines, 1);
	ck_assert_uint_eq(hc_tick(reg, T0 + 150 + BASE), 1);
	ck_assert_int_eq(hc_entry_fit(e), 1);
	ck_assert_str_eq(last_line(),
		"target=svc@10.0.0.1:80 from=ejected to=up reason=ejection_expired");
	in = info_of(reg, e);
	ck_assert_uint_eq(in.ejected_until_ms, 0);
	ck_assert_uint_eq(in.consecutive_failures, 0);
	ck_assert_uint_eq(hc_tick(reg, T0 + 150 + BASE + 100), 0);
	ck_assert_uint_eq(nlines, 2);
	hc_set_unref(s);
	hc_registry_free(reg);
}
END_TEST

START_TEST(test_eject_counting)
{
	struct hc_registry *reg = reg_new(NULL);
	struct hc_set *s = sync_text(reg, THREE, T0);
	struct hc_entry *e = entry_at(s, "10.0.0.1:80");
	struct hc_target_info in;

	/* a success restarts the count */
	report_n(e, HC_OUTCOME_5XX, 4);
	report_n(e, HC_OUTCOME_OK, 1);
	report_n(e, HC_OUTCOME_CONNECT_FAILED, 4);
	ck_assert_uint_eq(hc_tick(reg, T0 + 100), 0);
	ck_assert_int_eq(hc_entry_fit(e), 1);
	in = info_of(reg, e);
	ck_assert_uint_eq(in.ok, 1);
	ck_assert_uint_eq(in.http_5xx, 4);
	ck_assert_uint_eq(in.connect_failed, 4);
	ck_assert_uint_eq(in.consecutive_failures, 4);

	/* connect failures and 5xx count together */
	ck_assert_int_eq(hc_entry_report(e, HC_OUTCOME_5XX), 1);
	ck_assert_uint_eq(hc_tick(reg, T0 + 200), 1);
	ck_assert_int_eq(hc_entry_fit(e), 0);

	/* an unknown outcome is ignored */
	ck_assert_int_eq(hc_entry_report(e, (enum hc_outcome)17), 0);
	ck_assert_int_eq(hc_entry_report(NULL, HC_OUTCOME_5XX), 0);
	hc_set_unref(s);
	hc_registry_free(reg);
}
END_TEST

START_TEST(test_connect_refused)
{
	struct hc_registry *reg = reg_new(NULL);
	struct hc_set *s = sync_text(reg, FOUR, T0);   /* room for two */
	struct hc_entry *a = entry_at(s, "10.0.0.1:80");
	struct hc_entry *b = entry_at(s, "10.0.0.2:80");

	/* one refusal: eject at once */
	ck_assert_int_eq(hc_entry_report(a, HC_OUTCOME_CONNECT_REFUSED), 1);
	ck_assert_int_eq(hc_entry_report(a, HC_OUTCOME_CONNECT_REFUSED), 0);
	ck_assert_uint_eq(hc_tick(reg, T0 + 10), 1);
	ck_assert_int_eq(hc_entry_fit(a), 0);
	ck_assert_str_eq(last_line(),
		"target=svc@10.0.0.1:80 from=up to=ejected reason=connect_refused");
	ck_assert_uint_eq(info_of(reg, a).connect_refused, 2);

	/* a success after the refusal, before the tick: it answers again */
	ck_assert_int_eq(hc_entry_report(b, HC_OUTCOME_CONNECT_REFUSED), 1);
	ck_assert_int_eq(hc_entry_report(b, HC_OUTCOME_OK), 0);
	ck_assert_uint_eq(hc_tick(reg, T0 + 20), 0);
	ck_assert_int_eq(hc_entry_fit(b), 1);
	/* the tick cleared the request: the next refusal asks again */
	ck_assert_int_eq(hc_entry_report(b, HC_OUTCOME_CONNECT_REFUSED), 1);
	hc_set_unref(s);
	hc_registry_free(reg);
}
END_TEST

/* Eject e now (a refusal and a tick) and return the ejection's length. */
static uint64_t eject_now(struct hc_registry *reg, struct hc_entry *e,
			  uint64_t now)
{
	struct hc_target_info in;

	hc_entry_report(e, HC_OUTCOME_CONNECT_REFUSED);
	ck_assert_uint_eq(hc_tick(reg, now), 1);
	in = info_of(reg, e);
	ck_assert_int_eq(in.ejected, 1);
	return in.ejected_until_ms - now;
}

START_TEST(test_backoff)
{
	struct hc_registry *reg = reg_new(NULL);
	struct hc_set *s = sync_text(reg, THREE, T0);
	struct hc_entry *e = entry_at(s, "10.0.0.1:80");
	static const uint64_t want[] = {30000, 60000, 120000, 240000, 300000,
					300000};
	uint64_t now = T0, d;
	unsigned level;

	/* ejected again as soon as it is back: doubling up to 5 min */
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		d = eject_now(reg, e, now);
		ck_assert_uint_eq(d, want[i]);
		now += d;
		ck_assert_uint_eq(hc_tick(reg, now), 1);
		ck_assert_int_eq(hc_entry_fit(e), 1);
	}
	level = info_of(reg, e).eject_level;
	ck_assert_uint_eq(level, 5);
	ck_assert_uint_eq(info_of(reg, e).ejections, 6);

	/* each base time clear of ejection takes one level off */
	ck_assert_uint_eq(hc_tick(reg, now + BASE - 1), 0);
	ck_assert_uint_eq(info_of(reg, e).eject_level, 5);
	ck_assert_uint_eq(hc_tick(reg, now + BASE), 0);
	ck_assert_uint_eq(info_of(reg, e).eject_level, 4);
	now += 3 * BASE;   /* one tick may cover several base times */
	ck_assert_uint_eq(hc_tick(reg, now), 0);
	ck_assert_uint_eq(info_of(reg, e).eject_level, 2);
	ck_assert_uint_eq(eject_now(reg, e, now), 120000);   /* level 3 */
	now += 120000;
	hc_tick(reg, now);
	now += 10 * BASE;
	hc_tick(reg, now);
	ck_assert_uint_eq(info_of(reg, e).eject_level, 0);
	ck_assert_uint_eq(eject_now(reg, e, now), 30000);
	hc_set_unref(s);
	hc_registry_free(reg);
}
END_TEST

START_TEST(test_backoff_small_max)
{
	struct hc_config c;
	struct hc_registry *reg;
	struct hc_set *s;
	struct hc_entry *e;
	uint64_t now = T0;

	hc_config_defaults(&c);
	c.eject_base_ms = 1000;
	c.eject_max_ms = 2500;   /* not a power-of-two multiple of base */
	reg = reg_new(&c);
	s = sync_text(reg, THREE, T0);
	e = entry_at(s, "10.0.0.1:80");
	ck_assert_uint_eq(eject_now(reg, e, now), 1000);
	now += 1000;
	hc_tick(reg, now);
	ck_assert_uint_eq(eject_now(reg, e, now), 2000);
	now += 2000;
	hc_tick(reg, now);
	ck_assert_uint_eq(eject_now(reg, e, now), 2500);
	now += 2500;
	hc_tick(reg, now);
	ck_assert_uint_eq(eject_now(reg, e, now), 2500);
	ck_assert_uint_eq(info_of(reg, e).eject_level, 3);
	hc_set_unref(s);
	hc_registry_free(reg);
}
END_TEST

/* ---- the cap ------------------------------------------------------------ */

START_TEST(test_cap_single_target)
{
	struct hc_registry *reg = reg_new(NULL);
	struct hc_set *s = sync_text(reg, "route add svc /a http://10.0.0.1:80/\n",
				     T0);
	struct hc_entry *e = entry_at(s, "10.0.0.1:80");
	struct hc_target_info in;

	/* 50 % of 1 is 0: the only target is never ejected */
	ck_assert_int_eq(hc_entry_report(e, HC_OUTCOME_CONNECT_REFUSED), 1);
	report_n(e, HC_OUTCOME_5XX, 20);
	ck_assert_uint_eq(hc_tick(reg, T0 + 100), 0);
	ck_assert_uint_eq(hc_tick(reg, T0 + 200), 0);
	report_n(e, HC_OUTCOME_5XX, 20);
	ck_assert_uint_eq(hc_tick(reg, T0 + 300), 0);
	in = info_of(reg, e);
	ck_assert_int_eq(in.fit, 1);
	ck_assert_uint_eq(in.ejections, 0);
	ck_assert_uint_eq(in.ejections_capped, 1);   /* once per run */
	ck_assert_uint_eq(nlines, 0);
	/* a success ends the run; the next one counts again */
	report_n(e, HC_OUTCOME_OK, 1);
	ck_assert_uint_eq(hc_tick(reg, T0 + 400), 0);
	report_n(e, HC_OUTCOME_5XX, 5);
	ck_assert_uint_eq(hc_tick(reg, T0 + 500), 0);
	ck_assert_uint_eq(info_of(reg, e).ejections_capped, 2);
	hc_set_unref(s);
	hc_registry_free(reg);
}
END_TEST

/* Fail every target of addrs at once and tick; count the ejected ones. */
static unsigned fail_all(struct hc_registry *reg, struct hc_set *s,
			 const char *const *addrs, size_t n, uint64_t now)
{
	unsigned ejected = 0;

	for (size_t i = 0; i < n; i++)
		report_n(entry_at(s, addrs[i]), HC_OUTCOME_5XX, 5);
	hc_tick(reg, now);
	for (size_t i = 0; i < n; i++)
		ejected += !hc_entry_fit(entry_at(s, addrs[i]));
	return ejected;
}

START_TEST(test_cap_half)
{
	static const char *const addrs[] = {"10.0.0.1:80", "10.0.0.2:80",
					    "10.0.0.3:80", "10.0.0.4:80"};
	struct hc_registry *reg = reg_new(NULL);
	struct hc_set *s2 = sync_text(reg,
		"route add svc /a http://10.0.0.1:80/\n"
		"route add svc /a http://10.0.0.2:80/\n", T0);
	struct hc_entry *capped = NULL, *first = NULL;

	ck_assert_uint_eq(fail_all(reg, s2, addrs, 2, T0 + 100), 1);
	hc_set_unref(s2);
	hc_registry_free(reg);

	reg = reg_new(NULL);
	s2 = sync_text(reg, THREE, T0);
	ck_assert_uint_eq(fail_all(reg, s2, addrs, 3, T0 + 100), 1);
	hc_set_unref(s2);
	hc_registry_free(reg);

	reg = reg_new(NULL);
	s2 = sync_text(reg, FOUR, T0);
	log_reset();
	ck_assert_uint_eq(fail_all(reg, s2, addrs, 4, T0 + 100), 2);
	ck_assert_uint_eq(nlines, 2);
	/* the capped ones keep failing; when the first ejection ends, one
	 * of them takes its place at that same tick */
	for (size_t i = 0; i < 4; i++) {
		struct hc_entry *e = entry_at(s2, addrs[i]);

		if (hc_entry_fit(e)) {
			ck_assert_uint_eq(info_of(reg, e).ejections_capped, 1);
			capped = e;
		} else {
			first = e;
		}
	}
	ck_assert_uint_eq(hc_tick(reg, T0 + 100 + BASE), 4);
	ck_assert_int_eq(hc_entry_fit(first), 1);
	ck_assert_int_eq(hc_entry_fit(capped), 0);
	hc_set_unref(s2);
	hc_registry_free(reg);
}
END_TEST

START_TEST(test_cap_routes)
{
	struct hc_registry *reg = reg_new(NULL);
	/* X is on /a with Y and on /b with three more; /c holds X twice
	 * (two weights make two targets) and Z */
	struct hc_set *s = sync_text(reg,
		"route add svc /a http://10.0.0.1:80/\n"
		"route add svc /a http://10.0.0.2:80/\n"
		"route add svc /b http://10.0.0.1:80/\n"
		"route add svc /b http://10.0.0.5:80/\n"
		"route add svc /b http://10.0.0.6:80/\n"
		"route add svc /b http://10.0.0.7:80/\n", T0);
	struct hc_entry *x = entry_at(s, "10.0.0.1:80");
	struct hc_entry *y = entry_at(s, "10.0.0.2:80");
	struct hc_set *s2;

	/* Y out: /a is at its limit, so X stays although /b has room */
	eject_now(reg, y, T0);
	report_n(x, HC_OUTCOME_5XX, 5);
	ck_assert_uint_eq(hc_tick(reg, T0 + 100), 0);
	ck_assert_int_eq(hc_entry_fit(x), 1);
	ck_assert_uint_eq(info_of(reg, x).ejections_capped, 1);

	/* a new table without /a: the cap follows the table */
	s2 = sync_text(reg,
		"route add svc /b http://10.0.0.1:80/\n"
		"route add svc /b http://10.0.0.5:80/\n"
		"route add svc /b http://10.0.0.6:80/\n"
		"route add svc /b http://10.0.0.7:80/\n"
		"route add svc /c http://10.0.0.1:80/ weight 0.3\n"
		"route add svc /c http://10.0.0.1:80/ weight 0.2\n"
		"route add svc /c http://10.0.0.9:80/\n", T0 + 200);
	ck_assert_ptr_eq(entry_at(s2, "10.0.0.1:80"), x);
	/* X counts once in /c: 1 of 2 may go */
	ck_assert_uint_eq(hc_tick(reg, T0 + 300), 1);
	ck_assert_int_eq(hc_entry_fit(x), 0);
	/* so Z may not */
	report_n(entry_at(s2, "10.0.0.9:80"), HC_OUTCOME_5XX, 5);
	ck_assert_uint_eq(hc_tick(reg, T0 + 400), 0);
	ck_assert_int_eq(hc_entry_fit(entry_at(s2, "10.0.0.9:80")), 1);
	hc_set_unref(s);
	hc_set_unref(s2);
	hc_registry_free(reg);
}
END_TEST

START_TEST(test_cap_counts_other_downs)
{
	struct hc_registry *reg = reg_new(NULL);
	struct hc_set *s = sync_text(reg,
		"route add svc /a http://10.0.0.1:80/\n"
		"route add svc /a http://10.0.0.2:80/\n"
		"route add downsvc /a http://10.0.0.3:80/\n", T0);
	struct hc_entry *a = entry_at(s, "10.0.0.1:80");
	struct hc_entry *b = entry_at(s, "10.0.0.2:80");
	struct hc_probe_params p;

	/* the consul_down target is not one of the route's two, and a
	 * target down by its probe counts against the half */
	hc_probe_params_defaults(&p);
	ck_assert_int_eq(hc_probe_set(reg, b, &p, T0), 0);
	ck_assert_int_eq(hc_probe_result(reg, b, 0, NULL, T0), 0);
	ck_assert_int_eq(hc_entry_fit(b), 0);
	report_n(a, HC_OUTCOME_5XX, 5);
	ck_assert_uint_eq(hc_tick(reg, T0 + 100), 0);
	ck_assert_int_eq(hc_entry_fit(a), 1);
	/* B passes again: now A may go */
	hc_probe_result(reg, b, 1, NULL, T0 + 200);
	hc_probe_result(reg, b, 1, NULL, T0 + 300);
	ck_assert_int_eq(hc_entry_fit(b), 1);
	ck_assert_uint_eq(hc_tick(reg, T0 + 400), 1);
	ck_assert_int_eq(hc_entry_fit(a), 0);
	/* and B's probe may still take it down: probes are not capped */
	hc_probe_result(reg, b, 0, NULL, T0 + 500);
	hc_probe_result(reg, b, 0, NULL, T0 + 600);
	hc_probe_result(reg, b, 0, NULL, T0 + 700);
	ck_assert_int_eq(hc_entry_fit(b), 0);
	hc_set_unref(s);
	hc_registry_free(reg);
}
END_TEST

/* ---- order of the views, disabling -------------------------------------- */

START_TEST(test_views_order)
{
	struct hc_registry *reg = reg_new(NULL);
	struct hc_set *s = sync_text(reg, THREE, T0);
	struct hc_entry *e = entry_at(s, "10.0.0.1:80");
	struct hc_consul_view v = {HC_CONSUL_PASSING, HC_CONSUL_NODE_MAINT, 1, 1};
	struct hc_probe_params p;

	hc_probe_params_defaults(&p);
	eject_now(reg, e, T0);
	ck_assert_int_eq(hc_probe_set(reg, e, &p, T0 + 1), 0);
	ck_assert_int_eq(hc_probe_result(reg, e, 0, NULL, T0 + 2), 0);
	ck_assert_str_eq(last_line(),
		"target=svc@10.0.0.1:80 from=ejected to=probe_down reason=probe_fall");
	ck_assert_int_eq(hc_consul_set(reg, e, &v, T0 + 3), 0);
	ck_assert_str_eq(last_line(),
		"target=svc@10.0.0.1:80 from=probe_down to=consul_down reason=node_maintenance");
	ck_assert_uint_eq(nlines, 3);
	/* the ejection ends under the other two: no line */
	ck_assert_uint_eq(hc_tick(reg, T0 + BASE), 0);
	ck_assert_uint_eq(nlines, 3);
	ck_assert_int_eq(info_of(reg, e).ejected, 0);
	v.verdict = HC_CONSUL_COUNTS;
	ck_assert_int_eq(hc_consul_set(reg, e, &v, T0 + BASE + 1), 0);
	ck_assert_str_eq(last_line(),
		"target=svc@10.0.0.1:80 from=consul_down to=probe_down reason=consul_passing");
	hc_probe_result(reg, e, 1, NULL, T0 + BASE + 2);
	hc_probe_result(reg, e, 1, NULL, T0 + BASE + 3);
	ck_assert_str_eq(last_line(),
		"target=svc@10.0.0.1:80 from=probe_down to=up reason=probe_rise");
	ck_assert_uint_eq(nlines, 5);
	ck_assert_uint_eq(info_of(reg, e).transitions, 5);

	/* not fit for another reason: failures reported then eject nothing */
	hc_probe_result(reg, e, 0, NULL, T0 + BASE + 4);
	hc_probe_result(reg, e, 0, NULL, T0 + BASE + 5);
	hc_probe_result(reg, e, 0, NULL, T0 + BASE + 6);
	report_n(e, HC_OUTCOME_CONNECT_REFUSED, 6);
	ck_assert_uint_eq(hc_tick(reg, T0 + BASE + 7), 0);
	ck_assert_int_eq(info_of(reg, e).ejected, 0);
	ck_assert_uint_eq(info_of(reg, e).consecutive_failures, 0);
	hc_set_unref(s);
	hc_registry_free(reg);
}
END_TEST

/* The end of an ejection, for a Retry-After: known only while the
 * ejection alone holds the target. */
START_TEST(test_back_ms)
{
	struct hc_registry *reg = reg_new(NULL);
	struct hc_set *s = sync_text(reg, THREE, T0);
	struct hc_entry *e = entry_at(s, "10.0.0.1:80");
	struct hc_probe_params p;

	hc_probe_params_defaults(&p);
	ck_assert_uint_eq(hc_entry_back_ms(e), 0);
	ck_assert_uint_eq(hc_entry_back_ms(NULL), 0);
	ck_assert_uint_eq(eject_now(reg, e, T0), BASE);
	ck_assert_uint_eq(hc_entry_back_ms(e), T0 + BASE);
	/* a probe takes it down too: nobody knows when it is back */
	ck_assert_int_eq(hc_probe_set(reg, e, &p, T0 + 1), 0);
	ck_assert_int_eq(hc_probe_result(reg, e, 0, NULL, T0 + 2), 0);
	ck_assert_uint_eq(hc_entry_back_ms(e), 0);
	ck_assert_int_eq(hc_probe_set(reg, e, NULL, T0 + 3), 0);
	ck_assert_uint_eq(hc_entry_back_ms(e), T0 + BASE);
	ck_assert_uint_eq(hc_tick(reg, T0 + BASE), 1);
	ck_assert_int_eq(hc_entry_fit(e), 1);
	ck_assert_uint_eq(hc_entry_back_ms(e), 0);
	hc_set_unref(s);
	hc_registry_free(reg);
}
END_TEST

START_TEST(test_eject_disabled)
{
	struct hc_config c;
	struct hc_registry *reg;
	struct hc_set *s;
	struct hc_entry *a, *b;

	hc_config_defaults(&c);
	c.eject_enabled = 0;
	reg = reg_new(&c);
	s = sync_text(reg, THREE, T0);
	a = entry_at(s, "10.0.0.1:80");
	b = entry_at(s, "10.0.0.2:80");
	ck_assert_int_eq(report_n(a, HC_OUTCOME_CONNECT_REFUSED, 10), 0);
	ck_assert_int_eq(report_n(a, HC_OUTCOME_5XX, 10), 0);
	ck_assert_uint_eq(hc_tick(reg, T0 + 100), 0);
	ck_assert_int_eq(hc_entry_fit(a), 1);
	ck_assert_uint_eq(info_of(reg, a).connect_refused, 10);

	/* on (SIGHUP): what was counted while off starts nothing, new
	 * reports act */
	c.eject_enabled = 1;
	ck_assert_int_eq(hc_registry_set_config(reg, &c, T0 + 200), 0);
	ck_assert_uint_eq(info_of(reg, a).consecutive_failures, 0);
	ck_assert_int_eq(hc_entry_report(b, HC_OUTCOME_CONNECT_REFUSED), 1);
	ck_assert_uint_eq(hc_tick(reg, T0 + 300), 1);
	ck_assert_int_eq(hc_entry_fit(a), 1);
	ck_assert_int_eq(hc_entry_fit(b), 0);
	/* off again: the ejection ends at once */
	c.eject_enabled = 0;
	ck_assert_int_eq(hc_registry_set_config(reg, &c, T0 + 400), 0);
	ck_assert_int_eq(hc_entry_fit(b), 1);
	ck_assert_str_eq(last_line(),
		"target=svc@10.0.0.2:80 from=ejected to=up reason=ejection_disabled");
	c.eject_max_percent = 200;
	ck_assert_int_eq(hc_registry_set_config(reg, &c, T0), -EINVAL);
	ck_assert_int_eq(hc_registry_set_config(reg, NULL, T0), -EINVAL);
	hc_set_unref(s);
	hc_registry_free(reg);
}
END_TEST

/* ---- reading, sets, mailboxes, bad input -------------------------------- */

static void count_info(void *arg, const struct hc_target_info *in)
{
	unsigned *n = arg;

	ck_assert_ptr_nonnull(in->service);
	ck_assert(strncmp(in->addr, "10.0.0.", 7) == 0);
	(*n)++;
}

START_TEST(test_foreach)
{
	struct hc_registry *reg = reg_new(NULL);
	struct hc_set *s = sync_text(reg, FOUR, T0);
	unsigned n = 0;

	hc_registry_foreach(reg, count_info, &n);
	ck_assert_uint_eq(n, 4);
	hc_registry_foreach(NULL, count_info, &n);
	hc_registry_foreach(reg, NULL, &n);
	ck_assert_uint_eq(n, 4);
	hc_set_unref(s);
	hc_registry_free(reg);
}
END_TEST

START_TEST(test_sets_outlive_registry)
{
	struct hc_registry *reg = reg_new(NULL);
	struct hc_set *s1 = sync_text(reg, THREE, T0), *s2, *got;
	struct hc_mailbox box;
	struct hc_entry *e;

	hc_mailbox_init(&box);
	s2 = sync_text(reg, FOUR, T0 + 1);
	hc_mailbox_post(&box, hc_set_ref(s1));
	hc_mailbox_post(&box, hc_set_ref(s2));   /* s1's copy is dropped */
	got = hc_mailbox_take(&box);
	ck_assert_ptr_eq(got, s2);
	ck_assert_ptr_null(hc_mailbox_take(&box));
	hc_mailbox_post(&box, hc_set_ref(s1));
	hc_mailbox_clear(&box);
	ck_assert_ptr_null(hc_mailbox_take(&box));
	hc_set_unref(s1);
	hc_set_unref(s2);

	/* the worker's set outlives the registry: still readable */
	hc_registry_free(reg);
	e = entry_at(got, "10.0.0.4:80");
	ck_assert_int_eq(hc_entry_fit(e), 1);
	ck_assert_int_eq(hc_entry_report(e, HC_OUTCOME_CONNECT_REFUSED), 1);
	ck_assert_int_eq(hc_set_healthy(target_at(got, "10.0.0.4:80"), got), 1);
	hc_set_unref(got);
}
END_TEST

START_TEST(test_bad_input)
{
	struct hc_registry *reg = reg_new(NULL);
	struct hc_set *s = sync_text(reg, THREE, T0);
	struct hc_entry *e = entry_at(s, "10.0.0.1:80");
	struct hc_target_info in;
	struct rt_table *empty = rt_table_empty();
	struct hc_set *es;

	errno = 0;
	ck_assert_ptr_null(hc_registry_sync(reg, NULL, T0));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(hc_registry_sync(NULL, empty, T0));
	/* an empty table retires everything */
	es = hc_registry_sync(reg, empty, T0);
	ck_assert_ptr_nonnull(es);
	ck_assert_ptr_null(hc_set_entry(es, 0));
	ck_assert_uint_eq(hc_registry_size(reg), 0);
	ck_assert_int_eq(hc_entry_info(reg, e, &in), -ENOENT);
	ck_assert_int_eq(hc_consul_set(reg, e, &(struct hc_consul_view){0}, T0),
			 -ENOENT);
	ck_assert_int_eq(hc_probe_set(reg, e, NULL, T0), -ENOENT);
	ck_assert_uint_eq(hc_tick(reg, T0), 0);
	rt_table_unref(empty);

	ck_assert_int_eq(hc_entry_info(NULL, e, &in), -EINVAL);
	ck_assert_int_eq(hc_entry_info(reg, NULL, &in), -EINVAL);
	ck_assert_int_eq(hc_probe_set(NULL, e, NULL, T0), -EINVAL);
	ck_assert_int_eq(hc_probe_result(reg, NULL, 1, NULL, T0), -EINVAL);
	ck_assert_uint_eq(hc_tick(NULL, T0), 0);
	ck_assert_int_eq(hc_entry_fit(NULL), 1);
	ck_assert_uint_eq(hc_entry_weight(NULL), 1);
	ck_assert_int_eq(hc_set_healthy(NULL, s), 1);
	ck_assert_int_eq(hc_set_healthy(target_at(s, "10.0.0.1:80"), NULL), 1);
	ck_assert_ptr_null(hc_set_entry(NULL, 0));
	ck_assert_ptr_null(hc_set_table(NULL));
	ck_assert_ptr_null(hc_set_ref(NULL));
	ck_assert_ptr_null(hc_registry_find(NULL, 1));
	ck_assert_uint_eq(hc_registry_size(NULL), 0);
	hc_set_unref(NULL);
	hc_registry_free(NULL);
	hc_set_unref(es);
	hc_set_unref(s);
	hc_registry_free(reg);
}
END_TEST

START_TEST(test_reason_token)
{
	struct hc_registry *reg = reg_new(NULL);
	struct hc_set *s = sync_text(reg, THREE, T0);
	struct hc_entry *e = entry_at(s, "10.0.0.1:80");
	struct hc_probe_params p;
	char longwhy[200];

	hc_probe_params_defaults(&p);
	p.fall = 1;
	p.rise = 1;
	ck_assert_int_eq(hc_probe_set(reg, e, &p, T0), 0);
	hc_probe_result(reg, e, 0, "status 503\r\n=x", T0);
	ck_assert_str_eq(last_line(),
		"target=svc@10.0.0.1:80 from=up to=probe_down reason=status_503__=x");
	memset(longwhy, 'w', sizeof(longwhy) - 1);
	longwhy[sizeof(longwhy) - 1] = '\0';
	hc_probe_result(reg, e, 1, longwhy, T0);
	ck_assert_uint_eq(strlen(info_of(reg, e).reason), HC_REASON_MAX - 1);
	hc_probe_result(reg, e, 0, "", T0);
	ck_assert_str_eq(info_of(reg, e).reason, "-");
	hc_set_unref(s);
	hc_registry_free(reg);
}
END_TEST

static Suite *hc_state_suite(void)
{
	Suite *s = suite_create("hc_state");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_sync_entries_by_index);
	tcase_add_test(tc, test_sync_keeps_and_retires);
	tcase_add_test(tc, test_consul_table_down);
	tcase_add_test(tc, test_consul_view_and_weights);
	tcase_add_test(tc, test_probe_rise_fall);
	tcase_add_test(tc, test_eject_threshold);
	tcase_add_test(tc, test_eject_counting);
	tcase_add_test(tc, test_connect_refused);
	tcase_add_test(tc, test_backoff);
	tcase_add_test(tc, test_backoff_small_max);
	tcase_add_test(tc, test_cap_single_target);
	tcase_add_test(tc, test_cap_half);
	tcase_add_test(tc, test_cap_routes);
	tcase_add_test(tc, test_cap_counts_other_downs);
	tcase_add_test(tc, test_views_order);
	tcase_add_test(tc, test_back_ms);
	tcase_add_test(tc, test_eject_disabled);
	tcase_add_test(tc, test_foreach);
	tcase_add_test(tc, test_sets_outlive_registry);
	tcase_add_test(tc, test_bad_input);
	tcase_add_test(tc, test_reason_token);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_main_run(hc_state_suite());
}
