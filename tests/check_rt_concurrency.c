/*
 * check_rt_concurrency.c - four reader threads, each with its own mailbox
 * and picker, look up and pick in a loop while the writer builds and
 * publishes 10,000 tables of alternating contents. Readers check that
 * every answer fits the table they hold; at the end every table must be
 * gone: counted here through malloc's heap, and by the leak check of an
 * ASan build. Run it from a build configured with -fsanitize=thread too:
 * the readers share nothing with the writer but the tables, the
 * mailboxes and the atomic health flags.
 */
#include <check.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routes/rt_parse.h"
#include "routes/rt_pick.h"
#include "routes/rt_table.h"

#define READERS 4
#define TABLES 10000
/* Contents A and B: services [lo, hi) of each. Even services route by
 * host (svcN.example.com/), odd ones by path (/svcN/). */
#define A_LO 0
#define A_HI 30
#define B_LO 20
#define B_HI 60
#define PROBES 70        /* services 0..69 are looked up */
#define HEALTH_SLOTS 64

/* Target health the readers ask about and the writer flips. */
static atomic_int health[HEALTH_SLOTS];

static int
healthy(const struct rt_target *t, void *arg)
{
	return atomic_load_explicit(&health[t->identity % HEALTH_SLOTS],
				    memory_order_relaxed);
}

struct reader {
	pthread_t thread;
	int id;
	struct rt_mailbox box;
	atomic_int *stop;
	/* results, read after join */
	unsigned long lookups, picks, tables_taken, nulls;
	uint64_t last_generation;
	char failure[200];
};

/* The route language text of services [lo, hi), three instances each;
 * the weight line makes every third service a 10% canary. Long enough
 * that one table weighs more than the leak check's slack. */
static char *
content(int lo, int hi)
{
	size_t cap = (size_t)(hi - lo) * 1024, len = 0;
	char *text = malloc(cap);
	int s, i;

	ck_assert_ptr_nonnull(text);
	for (s = lo; s < hi; s++) {
		char src[64];

		if (s % 2 == 0)
			snprintf(src, sizeof(src), "svc%d.example.com/", s);
		else
			snprintf(src, sizeof(src), "/svc%d/", s);
		for (i = 0; i < 3; i++)
			len += (size_t)snprintf(text + len, cap - len,
				"route add svc%d %s http://10.%d.%d.%d:8080/ "
				"tags \"zone-%c,v%d\" opts \"strip=/svc%d\"\n",
				s, src, s / 256, s % 256, i + 1, 'a' + i,
				s % 5, s);
		if (s % 3 == 0)
			len += (size_t)snprintf(text + len, cap - len,
				"route weight svc%d %s weight 0.1 tags \"zone-c\"\n",
				s, src);
	}
	return text;
}

static void
parse_content(int lo, int hi, struct rt_cmd_list *out)
{
	char *text = content(lo, hi);

	ck_assert_int_eq(rt_parse(text, strlen(text), out), 0);
	ck_assert_uint_eq(out->nerrs, 0);
	free(text);
}

/* Whether service s is in the table: A and B differ in route count. */
static int
holds(const struct rt_table *t, int s)
{
	if (rt_table_nroutes(t) == A_HI - A_LO)
		return s >= A_LO && s < A_HI;
	return s >= B_LO && s < B_HI;
}

static int
reader_fail(struct reader *rd, const char *what, int s)
{
	snprintf(rd->failure, sizeof(rd->failure), "reader %d, service %d: %s",
		 rd->id, s, what);
	return -1;
}

/* Look service s up in t and pick a target; check both against what the
 * table holds. */
static int
probe(struct reader *rd, struct rt_picker *p, const struct rt_table *t, int s)
{
	char host[64], path[64], want[64], service[32];
	const struct rt_route *r;
	const struct rt_target *tg;
	size_t i;
	int hl, pl;

	hl = snprintf(host, sizeof(host), "SVC%d.Example.com:80", s);
	pl = snprintf(path, sizeof(path), "/svc%d/x", s);
	r = rt_table_lookup(t, host, (size_t)hl, path, (size_t)pl, 0);
	rd->lookups++;
	if (!holds(t, s))
		return r == NULL ? 0 : reader_fail(rd, "found but not in the table", s);
	if (r == NULL)
		return reader_fail(rd, "in the table but not found", s);
	if (s % 2 == 0) {
		snprintf(want, sizeof(want), "svc%d.example.com", s);
		if (strcmp(r->host, want) != 0 || strcmp(r->path, "/") != 0)
			return reader_fail(rd, "wrong host route", s);
	} else {
		snprintf(want, sizeof(want), "/svc%d/", s);
		if (r->host[0] != '\0' || strcmp(r->path, want) != 0)
			return reader_fail(rd, "wrong path route", s);
	}
	if (r->ntargets != 3)
		return reader_fail(rd, "not three targets", s);

	tg = rt_pick(p, r, healthy, NULL);
	if (tg == NULL) {
		rd->nulls++;
		return 0;
	}
	rd->picks++;
	for (i = 0; i < r->ntargets && r->targets[i] != tg; i++)
		;
	if (i == r->ntargets)
		return reader_fail(rd, "picked a target of another route", s);
	snprintf(service, sizeof(service), "svc%d", s);
	if (tg->weight == 0 || strcmp(tg->service, service) != 0 ||
	    strncmp(tg->url, "http://10.", 10) != 0)
		return reader_fail(rd, "picked a bad target", s);
	return 0;
}

static void *
reader_main(void *arg)
{
	struct reader *rd = arg;
	struct rt_table *t = NULL, *fresh;
	struct rt_picker *p;
	uint64_t x = 0x9e3779b97f4a7c15u * (uint64_t)(rd->id + 1);
	int stopping = 0;

	p = rt_picker_new(rd->id % 2 ? RT_STRATEGY_RND : RT_STRATEGY_RR,
			  (uint64_t)rd->id);
	if (p == NULL) {
		reader_fail(rd, "no picker", -1);
		return NULL;
	}
	for (;;) {
		/* Read stop before the last take, so a table posted just
		 * before stop is still taken. */
		if (atomic_load_explicit(rd->stop, memory_order_acquire))
			stopping = 1;
		fresh = rt_mailbox_take(&rd->box);
		if (fresh != NULL) {
			if (rt_picker_attach(p, fresh) != 0) {
				rt_table_unref(fresh);
				reader_fail(rd, "attach failed", -1);
				break;
			}
			rt_table_unref(t);
			t = fresh;
			rd->tables_taken++;
			rd->last_generation = rt_table_generation(t);
		}
		if (stopping)
			break;
		if (t == NULL)
			continue;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (probe(rd, p, t, (int)(x % PROBES)) != 0)
			break;
	}
	rt_table_unref(t);
	rt_picker_free(p);
	return NULL;
}

/* Bytes malloc holds in the main arena, where the writer (this thread)
 * builds every table. Under a sanitizer's allocator this stays flat and
 * the sanitizer's own leak check does the job. */
static size_t
heap_in_use(void)
{
	return mallinfo2().uordblks;
}

START_TEST(writer_publishes_while_readers_read)
{
	static struct reader rd[READERS];
	struct rt_cmd_list a = { 0 }, b = { 0 };
	atomic_int stop;
	size_t before, after, bytes_a;
	uint64_t last = 0;
	unsigned long lookups = 0, picks = 0;
	int i, k;

	before = heap_in_use();
	atomic_init(&stop, 0);
	for (i = 0; i < HEALTH_SLOTS; i++)
		atomic_init(&health[i], 1);
	parse_content(A_LO, A_HI, &a);
	parse_content(B_LO, B_HI, &b);
	{
		/* One table of A must outweigh the slack allowed below, or a
		 * single lost table could hide in it. */
		struct rt_table *t = rt_table_build(&a, NULL, NULL);

		ck_assert_ptr_nonnull(t);
		bytes_a = rt_table_bytes(t);
		ck_assert_uint_eq(rt_table_nroutes(t), A_HI - A_LO);
		rt_table_unref(t);
	}
	ck_assert_uint_gt(bytes_a, 16 * 1024);

	for (i = 0; i < READERS; i++) {
		memset(&rd[i], 0, sizeof(rd[i]));
		rd[i].id = i;
		rd[i].stop = &stop;
		rt_mailbox_init(&rd[i].box);
		ck_assert_int_eq(pthread_create(&rd[i].thread, NULL,
						reader_main, &rd[i]), 0);
	}
	for (k = 0; k < TABLES; k++) {
		struct rt_table *t = rt_table_build(k % 2 ? &b : &a, NULL, NULL);

		ck_assert_ptr_nonnull(t);
		last = rt_table_generation(t);
		for (i = 0; i < READERS; i++)
			rt_mailbox_post(&rd[i].box, rt_table_ref(t));
		rt_table_unref(t);
		/* Flip one target's health now and then. */
		atomic_store_explicit(&health[(unsigned)k % HEALTH_SLOTS],
				      k % 3 != 0, memory_order_relaxed);
	}
	atomic_store_explicit(&stop, 1, memory_order_release);
	for (i = 0; i < READERS; i++) {
		ck_assert_int_eq(pthread_join(rd[i].thread, NULL), 0);
		/* Nothing posted after the reader's last take: empty. */
		ck_assert_ptr_null(rt_mailbox_take(&rd[i].box));
		rt_mailbox_clear(&rd[i].box);
	}
	for (i = 0; i < READERS; i++) {
		ck_assert_msg(rd[i].failure[0] == '\0', "%s", rd[i].failure);
		ck_assert_uint_ge(rd[i].tables_taken, 1);
		ck_assert_uint_eq(rd[i].last_generation, last);
		lookups += rd[i].lookups;
		picks += rd[i].picks;
	}
	ck_assert_uint_gt(lookups, 0);
	ck_assert_uint_gt(picks, 0);
	rt_cmd_list_clear(&a);
	rt_cmd_list_clear(&b);

	after = heap_in_use();
	ck_assert_msg(after <= before + bytes_a / 2,
		      "heap grew by %zu bytes after %d tables (one is %zu)",
		      after - before, TABLES, bytes_a);
	fprintf(stderr, "check_rt_concurrency: %d tables, %lu lookups, "
		"%lu picks by %d readers\n", TABLES, lookups, picks, READERS);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("rt_concurrency");
	TCase *tc = tcase_create("publish");

	/* A sanitizer slows the writer's 10,000 builds down a lot. */
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, writer_publishes_while_readers_read);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
