/*
 * check_hc_concurrency.c - four worker threads pick targets through the
 * health flags and report outcomes while the control thread ticks, sets
 * Consul and probe views, and syncs and publishes new tables of
 * alternating contents (services leave and come back). Workers check that
 * every entry they get belongs to the target they picked; the control
 * thread checks after every tick that no route has more than half of its
 * targets ejected. Every set and entry must be gone at the end: the leak
 * check of an ASan build sees to that. Run it from a -fsanitize=thread
 * build too: workers and the control thread share only the sets, the
 * mailboxes and the entries' atomics.
 */
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health/hc_internal.h"
#include "health/hc_state.h"
#include "routes/rt_parse.h"
#include "routes/rt_pick.h"
#include "routes/rt_table.h"
#include "tests/check_main.h"

#define WORKERS 4
#define ROUNDS 2000        /* control rounds of 100 ms of clock each */
#define TABLE_EVERY 5      /* a new table every so many rounds */
#define INSTANCES 4
/* Contents A and B: services [lo, hi); a service has the same targets in
 * both, so a route's membership never changes while it exists. */
#define A_LO 0
#define A_HI 24
#define B_LO 16
#define B_HI 40

struct worker {
	pthread_t thread;
	int id;
	struct hc_mailbox box;
	atomic_int *stop;
	atomic_uint *wakes;
	/* results, read after join */
	unsigned long picks, reports, sets_taken, none;
	char failure[200];
};

/* What target (service s, instance i) answers: instances 1 and 3 fail
 * with 5xx, instance 2 refuses now and then, instance 4 is fine. */
static enum hc_outcome outcome_of(unsigned instance, unsigned long n)
{
	switch (instance) {
	case 1:
	case 3:
		return HC_OUTCOME_5XX;
	case 2:
		return n % 50 == 0 ? HC_OUTCOME_CONNECT_REFUSED
				   : n % 7 == 0 ? HC_OUTCOME_CONNECT_FAILED
						: HC_OUTCOME_OK;
	default:
		return HC_OUTCOME_OK;
	}
}

/* The instance number of a target: the last octet of 10.0.S.I:80. */
static unsigned instance_of(const struct rt_target *t)
{
	const char *dot = strrchr(t->addr, '.');

	return dot ? (unsigned)atoi(dot + 1) : 0;
}

static int worker_fail(struct worker *w, const char *what)
{
	snprintf(w->failure, sizeof(w->failure), "worker %d: %s", w->id, what);
	return -1;
}

/* One pass over the routes of s: pick, pin the set as a request would,
 * check the entry, report. */
static int worker_pass(struct worker *w, struct rt_picker *p, struct hc_set *s)
{
	const struct rt_table *t = hc_set_table(s);

	for (size_t i = 0; i < rt_table_nroutes(t); i++) {
		const struct rt_route *r = rt_table_route(t, i);
		const struct rt_target *tg = rt_pick(p, r, hc_set_healthy, s);
		struct hc_set *pin;
		struct hc_entry *e;

		if (!tg) {
			w->none++;
			continue;
		}
		w->picks++;
		pin = hc_set_ref(s);
		e = hc_set_entry(pin, tg->index);
		if (!e)
			return worker_fail(w, "no entry for a picked target");
		/* written before the set was published, never after */
		if (e->identity != tg->identity)
			return worker_fail(w, "entry of another target");
		if (hc_entry_weight(e) > 100)
			return worker_fail(w, "weight out of range");
		if (hc_entry_report(e, outcome_of(instance_of(tg), w->picks)))
			atomic_fetch_add_explicit(w->wakes, 1,
						  memory_order_relaxed);
		w->reports++;
		hc_set_unref(pin);
	}
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct rt_picker *p = rt_picker_new(RT_STRATEGY_RR, (uint64_t)w->id + 1);
	struct hc_set *s = NULL;

	if (!p) {
		worker_fail(w, "no picker");
		return NULL;
	}
	while (!atomic_load_explicit(w->stop, memory_order_relaxed)) {
		struct hc_set *next = hc_mailbox_take(&w->box);

		if (next) {
			hc_set_unref(s);
			s = next;
			w->sets_taken++;
			if (rt_picker_attach(p, hc_set_table(s)) < 0) {
				worker_fail(w, "attach");
				break;
			}
		}
		if (s && worker_pass(w, p, s) < 0)
			break;
		/* four spinning workers must not starve the control thread
		 * on a machine of two cores */
		sched_yield();
	}
	hc_set_unref(s);
	rt_picker_free(p);
	return NULL;
}

static struct rt_table *table_of(int lo, int hi)
{
	struct rt_cmd_list l = {0};
	size_t cap = (size_t)(hi - lo) * INSTANCES * 64, len = 0;
	char *text = malloc(cap);
	struct rt_table *t;

	ck_assert_ptr_nonnull(text);
	for (int s = lo; s < hi; s++)
		for (int i = 1; i <= INSTANCES; i++)
			len += (size_t)snprintf(text + len, cap - len,
				"route add svc%d /svc%d http://10.0.%d.%d:80/\n",
				s, s, s, i);
	ck_assert_int_eq(rt_parse(text, len, &l), 0);
	ck_assert_uint_eq(l.nerrs, 0);
	t = rt_table_build(&l, NULL, NULL);
	ck_assert_ptr_nonnull(t);
	rt_cmd_list_clear(&l);
	free(text);
	return t;
}

/* No route of s's table has more than half of its targets ejected. */
static void check_cap(struct hc_registry *reg, const struct hc_set *s)
{
	const struct rt_table *t = hc_set_table(s);

	for (size_t i = 0; i < rt_table_nroutes(t); i++) {
		const struct rt_route *r = rt_table_route(t, i);
		unsigned ejected = 0;

		for (size_t j = 0; j < r->ntargets; j++) {
			struct hc_target_info in;

			ck_assert_int_eq(hc_entry_info(reg,
				hc_set_entry(s, r->targets[j]->index), &in), 0);
			ejected += (unsigned)in.ejected;
		}
		ck_assert_uint_le(ejected, r->ntargets / 2);
	}
}

/* Control-thread work between ticks: Consul maintenance on and off for
 * instance 4 of one service, probes on instance 2 of another. */
static void views(struct hc_registry *reg, const struct hc_set *s,
		  unsigned round, uint64_t now)
{
	const struct rt_table *t = hc_set_table(s);
	const struct rt_route *r = rt_table_route(t, round % rt_table_nroutes(t));
	struct hc_consul_view v = {HC_CONSUL_PASSING, HC_CONSUL_COUNTS, 1, 1};
	struct hc_probe_params p;

	hc_probe_params_defaults(&p);
	for (size_t j = 0; j < r->ntargets; j++) {
		struct hc_entry *e = hc_set_entry(s, r->targets[j]->index);

		switch (instance_of(r->targets[j])) {
		case 4:
			if (round % 3 == 0) {
				v.verdict = HC_CONSUL_SERVICE_MAINT;
				v.status = HC_CONSUL_MAINTENANCE;
			}
			ck_assert_int_eq(hc_consul_set(reg, e, &v, now), 0);
			break;
		case 2:
			ck_assert_int_eq(hc_probe_set(reg, e, &p, now), 0);
			ck_assert_int_eq(hc_probe_result(reg, e, round % 4 != 0,
							 NULL, now), 0);
			break;
		default:
			break;
		}
	}
}

struct totals {
	unsigned long ejections, capped;
};

static void add_totals(void *arg, const struct hc_target_info *in)
{
	struct totals *t = arg;

	t->ejections += in->ejections;
	t->capped += in->ejections_capped;
}

START_TEST(test_workers_and_control)
{
	struct worker w[WORKERS];
	atomic_int stop;
	atomic_uint wakes;
	struct hc_registry *reg = hc_registry_new(NULL, NULL, NULL);
	struct hc_set *cur = NULL;
	struct totals tot = {0, 0};
	unsigned long extra_ticks = 0, transitions = 0;
	uint64_t now = 1000;

	ck_assert_ptr_nonnull(reg);
	atomic_init(&stop, 0);
	atomic_init(&wakes, 0);
	memset(w, 0, sizeof(w));
	for (int i = 0; i < WORKERS; i++) {
		w[i].id = i;
		w[i].stop = &stop;
		w[i].wakes = &wakes;
		hc_mailbox_init(&w[i].box);
		ck_assert_int_eq(pthread_create(&w[i].thread, NULL,
						worker_main, &w[i]), 0);
	}

	for (unsigned round = 0; round < ROUNDS; round++) {
		now += 100;
		if (round % TABLE_EVERY == 0) {
			int b = (round / TABLE_EVERY) % 2;
			struct rt_table *t = b ? table_of(B_LO, B_HI)
					       : table_of(A_LO, A_HI);
			struct hc_set *s = hc_registry_sync(reg, t, now);

			ck_assert_ptr_nonnull(s);
			rt_table_unref(t);
			for (int i = 0; i < WORKERS; i++)
				hc_mailbox_post(&w[i].box, hc_set_ref(s));
			hc_set_unref(cur);
			cur = s;
		}
		views(reg, cur, round, now);
		transitions += hc_tick(reg, now);
		/* a worker asked for attention: tick again at once, as the
		 * daemon's wake-up event would */
		if (atomic_exchange_explicit(&wakes, 0, memory_order_relaxed)) {
			transitions += hc_tick(reg, now);
			extra_ticks++;
		}
		check_cap(reg, cur);
		sched_yield();
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < WORKERS; i++) {
		ck_assert_int_eq(pthread_join(w[i].thread, NULL), 0);
		hc_mailbox_clear(&w[i].box);
	}
	hc_registry_foreach(reg, add_totals, &tot);
	printf("# %lu transitions, %lu ejections and %lu capped (live entries), "
	       "%lu extra ticks\n", transitions, tot.ejections, tot.capped,
	       extra_ticks);
	for (int i = 0; i < WORKERS; i++) {
		printf("# worker %d: %lu picks, %lu sets, %lu without a target\n",
		       i, w[i].picks, w[i].sets_taken, w[i].none);
		ck_assert_msg(w[i].failure[0] == '\0', "%s", w[i].failure);
		ck_assert_uint_gt(w[i].picks, 0);
	}
	ck_assert_uint_gt(transitions, 0);
	ck_assert_uint_gt(tot.ejections, 0);
	hc_set_unref(cur);
	hc_registry_free(reg);
}
END_TEST

static Suite *hc_concurrency_suite(void)
{
	Suite *s = suite_create("hc_concurrency");
	TCase *tc = tcase_create("threads");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_workers_and_control);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_main_run(hc_concurrency_suite());
}
