/*
 * check_rt_pick.c - target choice on hand-built routes: fabio's shares
 * (canary 5/47.5/47.5, 0.1/0.9) over 10,000 round-robin picks, spacing
 * of the smooth round-robin, unhealthy and zero-weight targets, weighted
 * random, and state carried across tables.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routes/rt_pick.h"

#define MAXT 8
#define PICKS 10000

/* A route built by hand: the picker needs only weights, indexes and
 * identities. */
struct fixture {
	struct rt_target t[MAXT];
	struct rt_target *tp[MAXT];
	struct rt_route r;
};

static void
fixture_init(struct fixture *f, const unsigned *weights, size_t n)
{
	size_t i;

	memset(f, 0, sizeof(*f));
	ck_assert_uint_le(n, MAXT);
	for (i = 0; i < n; i++) {
		f->t[i].weight = weights[i];
		f->t[i].share = weights[i] / 10000.0;
		f->t[i].index = i;
		f->t[i].identity = 0x1000 + i;
		f->tp[i] = &f->t[i];
		f->r.total_weight += weights[i];
	}
	f->r.targets = f->tp;
	f->r.ntargets = n;
	f->r.host = "";
	f->r.path = "/p";
}

/* The position of t in f. Check's ck_assert records every passing
 * check through a pipe, too slow for a million picks: test and abort. */
static size_t
which(const struct fixture *f, const struct rt_target *t)
{
	if (t == NULL || t < f->t || t >= f->t + f->r.ntargets)
		ck_abort_msg("picked %p, not a target of the route", (void *)t);
	return (size_t)(t - f->t);
}

static struct rt_picker *
picker(enum rt_strategy s, uint64_t seed, size_t ntargets)
{
	struct rt_picker *p = rt_picker_new(s, seed);

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(rt_picker_reserve(p, ntargets), 0);
	return p;
}

/* The health predicate of the tests: arg is an int per target index,
 * 1 healthy; calls are counted. */
static unsigned long health_calls;

static int
healthy_by_index(const struct rt_target *t, void *arg)
{
	const int *up = arg;

	health_calls++;
	return up[t->index];
}

/* Pick n times and count per target; the share of target i is
 * counts[i] / n. */
static void
count_picks(struct rt_picker *p, struct fixture *f, rt_healthy_fn fn,
	    void *arg, unsigned long n, unsigned long *counts)
{
	unsigned long k;

	memset(counts, 0, MAXT * sizeof(*counts));
	for (k = 0; k < n; k++)
		counts[which(f, rt_pick(p, &f->r, fn, arg))]++;
}

static void
assert_share(unsigned long count, unsigned long n, double want_percent,
	     double tolerance_points, const char *what)
{
	double got = 100.0 * (double)count / (double)n;

	ck_assert_msg(got >= want_percent - tolerance_points &&
		      got <= want_percent + tolerance_points,
		      "%s: %.3f%% of %lu picks, want %.3f%% +- %.2f",
		      what, got, n, want_percent, tolerance_points);
}

START_TEST(rr_fabio_canary_shares)
{
	/* route weight svc /p weight 0.05 tags "canary": 5 / 47.5 / 47.5 */
	static const unsigned w[] = { 500, 4750, 4750 };
	struct fixture f;
	unsigned long c[MAXT];
	struct rt_picker *p;

	fixture_init(&f, w, 3);
	p = picker(RT_STRATEGY_RR, (uint64_t)_i, 3);
	count_picks(p, &f, NULL, NULL, PICKS, c);
	assert_share(c[0], PICKS, 5.0, 0.5, "canary");
	assert_share(c[1], PICKS, 47.5, 0.5, "first");
	assert_share(c[2], PICKS, 47.5, 0.5, "second");
	rt_picker_free(p);
}
END_TEST

START_TEST(rr_tenth_and_nine_tenths)
{
	static const unsigned w[] = { 1000, 9000 };
	struct fixture f;
	unsigned long c[MAXT];
	struct rt_picker *p;

	fixture_init(&f, w, 2);
	p = picker(RT_STRATEGY_RR, (uint64_t)_i * 77, 2);
	count_picks(p, &f, NULL, NULL, PICKS, c);
	assert_share(c[0], PICKS, 10.0, 0.5, "0.1");
	assert_share(c[1], PICKS, 90.0, 0.5, "0.9");
	rt_picker_free(p);
}
END_TEST

START_TEST(rr_fabio_weight_table_shares)
{
	/* The shares of fabio's weight tests as the table hands them over:
	 * 0.4/0.6, 0.25/0.25/0.5 and a third each (3333 slots). */
	static const unsigned a[] = { 4000, 6000 };
	static const unsigned b[] = { 2500, 2500, 5000 };
	static const unsigned c3[] = { 3333, 3333, 3333 };
	struct fixture f;
	unsigned long c[MAXT];
	struct rt_picker *p = picker(RT_STRATEGY_RR, 5, 3);

	fixture_init(&f, a, 2);
	count_picks(p, &f, NULL, NULL, PICKS, c);
	assert_share(c[0], PICKS, 40.0, 0.5, "0.4");
	assert_share(c[1], PICKS, 60.0, 0.5, "0.6");

	fixture_init(&f, b, 3);
	count_picks(p, &f, NULL, NULL, PICKS, c);
	assert_share(c[0], PICKS, 25.0, 0.5, "0.25 a");
	assert_share(c[1], PICKS, 25.0, 0.5, "0.25 b");
	assert_share(c[2], PICKS, 50.0, 0.5, "0.5");

	fixture_init(&f, c3, 3);
	count_picks(p, &f, NULL, NULL, PICKS, c);
	for (size_t i = 0; i < 3; i++)
		assert_share(c[i], PICKS, 100.0 / 3, 0.5, "a third");
	rt_picker_free(p);
}
END_TEST

/* Smooth means spread out: a 10% target comes every 10th pick (give or
 * take one), a 5% one every 20th, never in a burst. */
START_TEST(rr_is_smooth)
{
	static const unsigned tenth[] = { 1000, 9000 };
	static const unsigned canary[] = { 500, 4750, 4750 };
	struct {
		const unsigned *w;
		size_t n;
		long gap;
	} cases[] = { { tenth, 2, 10 }, { canary, 3, 20 } };
	size_t ci;

	for (ci = 0; ci < 2; ci++) {
		struct fixture f;
		struct rt_picker *p = picker(RT_STRATEGY_RR, (uint64_t)_i, 3);
		long last = -1, k;

		fixture_init(&f, cases[ci].w, cases[ci].n);
		for (k = 0; k < PICKS; k++) {
			if (which(&f, rt_pick(p, &f.r, NULL, NULL)) != 0)
				continue;
			if (last < 0)
				ck_assert_int_lt(k, cases[ci].gap);
			else if (k - last < cases[ci].gap - 1 ||
				 k - last > cases[ci].gap + 1)
				ck_abort_msg("gap %ld, want %ld +- 1", k - last,
					     cases[ci].gap);
			last = k;
		}
		rt_picker_free(p);
	}
}
END_TEST

START_TEST(rr_equal_weights_never_twice_in_a_row)
{
	static const unsigned two[] = { 5000, 5000 };
	static const unsigned three[] = { 3333, 3333, 3333 };
	static const unsigned five[] = { 2000, 2000, 2000, 2000, 2000 };
	static const unsigned seven[] = { 1428, 1428, 1428, 1428, 1428, 1428, 1428 };
	const unsigned *ws[] = { two, three, five, seven };
	const size_t ns[] = { 2, 3, 5, 7 };
	size_t wi;

	for (wi = 0; wi < 4; wi++) {
		struct fixture f;
		struct rt_picker *p = picker(RT_STRATEGY_RR, (uint64_t)_i + 1, MAXT);
		size_t prev = SIZE_MAX, k;
		unsigned long c[MAXT] = { 0 };

		fixture_init(&f, ws[wi], ns[wi]);
		for (k = 0; k < PICKS; k++) {
			size_t now = which(&f, rt_pick(p, &f.r, NULL, NULL));

			if (now == prev)
				ck_abort_msg("%zu targets: target %zu twice in a "
					     "row at pick %zu", ns[wi], now, k);
			prev = now;
			c[now]++;
		}
		for (k = 0; k < ns[wi]; k++)
			ck_assert_uint_le(labs((long)c[k] - (long)(PICKS / ns[wi])), 1);
		rt_picker_free(p);
	}
}
END_TEST

START_TEST(rr_unhealthy_target_keeps_ratio_of_the_rest)
{
	static const unsigned w[] = { 2000, 3000, 5000 };
	int up[MAXT] = { 1, 1, 1 };
	struct fixture f;
	unsigned long c[MAXT];
	struct rt_picker *p = picker(RT_STRATEGY_RR, 9, 3);

	fixture_init(&f, w, 3);
	count_picks(p, &f, healthy_by_index, up, PICKS, c);
	assert_share(c[0], PICKS, 20.0, 0.5, "all up: 0.2");
	assert_share(c[2], PICKS, 50.0, 0.5, "all up: 0.5");

	/* The heaviest goes down: 2000:3000 is 40:60 of what is left. */
	up[2] = 0;
	count_picks(p, &f, healthy_by_index, up, PICKS, c);
	ck_assert_uint_eq(c[2], 0);
	assert_share(c[0], PICKS, 40.0, 0.5, "without 3rd: 0.2");
	assert_share(c[1], PICKS, 60.0, 0.5, "without 3rd: 0.3");

	/* The lightest instead: 3000:5000 = 37.5:62.5. */
	up[2] = 1;
	up[0] = 0;
	count_picks(p, &f, healthy_by_index, up, PICKS, c);
	ck_assert_uint_eq(c[0], 0);
	assert_share(c[1], PICKS, 37.5, 0.5, "without 1st: 0.3");
	assert_share(c[2], PICKS, 62.5, 0.5, "without 1st: 0.5");

	/* Back to all: the original shares again. */
	up[0] = 1;
	count_picks(p, &f, healthy_by_index, up, PICKS, c);
	assert_share(c[0], PICKS, 20.0, 0.5, "back: 0.2");
	assert_share(c[1], PICKS, 30.0, 0.5, "back: 0.3");
	assert_share(c[2], PICKS, 50.0, 0.5, "back: 0.5");
	rt_picker_free(p);
}
END_TEST

/* A target that goes down and up again every 500 picks: it gets its
 * third while up (a sixth in all), the others split the rest evenly and
 * nobody is chosen while down. (Health flipping every few picks, which
 * real checks do not do, lets the phase of the flips skew the others by
 * a point or two; nginx's round-robin behaves the same.) */
START_TEST(rr_flapping_target)
{
	static const unsigned w[] = { 3333, 3333, 3333 };
	int up[MAXT] = { 1, 1, 1 };
	struct fixture f;
	unsigned long c[MAXT] = { 0 };
	struct rt_picker *p = picker(RT_STRATEGY_RR, 4, 3);
	int k, chosen_while_down = 0;

	fixture_init(&f, w, 3);
	for (k = 0; k < PICKS; k++) {
		size_t i;

		up[1] = (k / 500) % 2;
		i = which(&f, rt_pick(p, &f.r, healthy_by_index, up));
		chosen_while_down += i == 1 && !up[1];
		c[i]++;
	}
	ck_assert_int_eq(chosen_while_down, 0);
	assert_share(c[1], PICKS, 100.0 / 6, 0.5, "flapping");
	assert_share(c[0], PICKS, 500.0 / 12, 0.5, "steady a");
	assert_share(c[2], PICKS, 500.0 / 12, 0.5, "steady b");
	rt_picker_free(p);
}
END_TEST

START_TEST(zero_weight_never_picked)
{
	static const unsigned w[] = { 0, 5000, 0, 5000 };
	int up[MAXT] = { 1, 1, 1, 1 };
	struct fixture f;
	unsigned long c[MAXT];
	enum rt_strategy s = _i ? RT_STRATEGY_RND : RT_STRATEGY_RR;
	struct rt_picker *p = picker(s, 3, 4);

	fixture_init(&f, w, 4);
	count_picks(p, &f, NULL, NULL, PICKS, c);
	ck_assert_uint_eq(c[0], 0);
	ck_assert_uint_eq(c[2], 0);
	ck_assert_uint_eq(c[1] + c[3], PICKS);

	/* The predicate is not even asked about zero-weight targets. */
	health_calls = 0;
	count_picks(p, &f, healthy_by_index, up, PICKS, c);
	ck_assert_uint_eq(c[0] + c[2], 0);
	ck_assert_uint_eq(health_calls, 2UL * PICKS);

	/* Only zero weights: nothing to pick. */
	f.t[1].weight = 0;
	f.t[3].weight = 0;
	ck_assert_ptr_null(rt_pick(p, &f.r, NULL, NULL));
	ck_assert_ptr_null(rt_pick(p, &f.r, healthy_by_index, up));
	rt_picker_free(p);
}
END_TEST

START_TEST(none_healthy_gives_null)
{
	static const unsigned w[] = { 2000, 3000, 5000 };
	static const unsigned one[] = { 10000 };
	int up[MAXT] = { 0 };
	struct fixture f;
	struct rt_route empty = { .host = "", .path = "/" };
	enum rt_strategy s = _i ? RT_STRATEGY_RND : RT_STRATEGY_RR;
	struct rt_picker *p = picker(s, 1, 3);
	int k;

	fixture_init(&f, w, 3);
	for (k = 0; k < 100; k++)
		ck_assert_ptr_null(rt_pick(p, &f.r, healthy_by_index, up));
	/* ...and the weights held while all were down do not skew what
	 * follows once they are back. */
	up[0] = up[1] = up[2] = 1;
	{
		unsigned long c[MAXT];

		count_picks(p, &f, healthy_by_index, up,
			    s == RT_STRATEGY_RR ? PICKS : 1000000, c);
		assert_share(c[2], s == RT_STRATEGY_RR ? PICKS : 1000000,
			     50.0, 0.5, "after all down");
	}

	ck_assert_ptr_null(rt_pick(p, &empty, NULL, NULL));
	ck_assert_ptr_null(rt_pick(p, NULL, NULL, NULL));

	/* A single target: returned as is when up, NULL when down. */
	fixture_init(&f, one, 1);
	up[0] = 1;
	ck_assert_ptr_eq(rt_pick(p, &f.r, healthy_by_index, up), &f.t[0]);
	ck_assert_ptr_eq(rt_pick(p, &f.r, NULL, NULL), &f.t[0]);
	up[0] = 0;
	ck_assert_ptr_null(rt_pick(p, &f.r, healthy_by_index, up));
	f.t[0].weight = 0;
	ck_assert_ptr_null(rt_pick(p, &f.r, NULL, NULL));
	rt_picker_free(p);
}
END_TEST

/* Weighted random is noisy: 1,000,000 picks put one standard deviation
 * at 0.05 points, so 0.5 points is ten of them. */
#define RND_PICKS 1000000UL

START_TEST(rnd_shares)
{
	static const unsigned canary[] = { 500, 4750, 4750 };
	static const unsigned tenth[] = { 1000, 9000 };
	static const unsigned w[] = { 2000, 3000, 5000 };
	int up[MAXT] = { 1, 1, 0 };
	struct fixture f;
	unsigned long c[MAXT];
	struct rt_picker *p = picker(RT_STRATEGY_RND, 0x5eed + (uint64_t)_i, 3);

	ck_assert_int_eq(rt_picker_strategy(p), RT_STRATEGY_RND);
	fixture_init(&f, canary, 3);
	count_picks(p, &f, NULL, NULL, RND_PICKS, c);
	assert_share(c[0], RND_PICKS, 5.0, 0.5, "rnd canary");
	assert_share(c[1], RND_PICKS, 47.5, 0.5, "rnd first");
	assert_share(c[2], RND_PICKS, 47.5, 0.5, "rnd second");

	fixture_init(&f, tenth, 2);
	count_picks(p, &f, NULL, NULL, RND_PICKS, c);
	assert_share(c[0], RND_PICKS, 10.0, 0.5, "rnd 0.1");

	/* Unhealthy skipped, the rest keep 40:60. */
	fixture_init(&f, w, 3);
	count_picks(p, &f, healthy_by_index, up, RND_PICKS, c);
	ck_assert_uint_eq(c[2], 0);
	assert_share(c[0], RND_PICKS, 40.0, 0.5, "rnd without 3rd");
	assert_share(c[1], RND_PICKS, 60.0, 0.5, "rnd without 3rd");
	rt_picker_free(p);
}
END_TEST

/* Readers seeded differently do not all start on the same target, and
 * the same seed repeats the same sequence. */
START_TEST(seed_sets_the_phase)
{
	static const unsigned w[] = { 2500, 2500, 2500, 2500 };
	struct fixture f;
	unsigned seen = 0;
	uint64_t seed;

	fixture_init(&f, w, 4);
	for (seed = 1; seed <= 64; seed++) {
		struct rt_picker *p = picker(RT_STRATEGY_RR, seed, 4);

		seen |= 1u << which(&f, rt_pick(p, &f.r, NULL, NULL));
		rt_picker_free(p);
	}
	ck_assert_uint_gt((unsigned)__builtin_popcount(seen), 1);

	{
		struct rt_picker *a = picker(RT_STRATEGY_RND, 42, 4);
		struct rt_picker *b = picker(RT_STRATEGY_RND, 42, 4);
		int k;

		for (k = 0; k < 1000; k++)
			if (rt_pick(a, &f.r, NULL, NULL) != rt_pick(b, &f.r, NULL, NULL))
				ck_abort_msg("same seed, other pick at %d", k);
		rt_picker_free(a);
		rt_picker_free(b);
	}
}
END_TEST

/* A rebuilt table with the same targets at the same indexes continues
 * the rotation: equal weights stay strictly alternating across the
 * swap. A renumbered table still gets the right shares. */
START_TEST(state_across_tables)
{
	static const unsigned w[] = { 3333, 3333, 3333 };
	struct fixture a, b;
	struct rt_picker *p = picker(RT_STRATEGY_RR, 11, 3);
	size_t prev = SIZE_MAX;
	unsigned long c[MAXT];
	int k, round;

	fixture_init(&a, w, 3);
	fixture_init(&b, w, 3);
	for (round = 0; round < 20; round++) {
		struct fixture *f = round % 2 ? &b : &a;

		for (k = 0; k < 7; k++) {
			size_t now = which(f, rt_pick(p, &f->r, NULL, NULL));

			if (now == prev)
				ck_abort_msg("round %d: %zu twice", round, now);
			prev = now;
		}
	}

	/* b renumbered and grown: its targets now sit at indexes 5..7,
	 * with new identities there. */
	ck_assert_int_eq(rt_picker_reserve(p, 8), 0);
	for (k = 0; k < 3; k++) {
		b.t[k].index = 5 + (size_t)k;
		b.t[k].identity = 0x2000 + (uint64_t)k;
	}
	count_picks(p, &b, NULL, NULL, PICKS, c);
	for (k = 0; k < 3; k++)
		assert_share(c[k], PICKS, 100.0 / 3, 0.5, "renumbered");
	rt_picker_free(p);
}
END_TEST

/* A picker never sized for the route's table does not read out of
 * bounds: it falls back to a weighted random choice. */
START_TEST(unattached_picker_is_safe)
{
	static const unsigned w[] = { 1000, 9000 };
	int up[MAXT] = { 0, 1 };
	struct fixture f;
	struct rt_picker *p = rt_picker_new(RT_STRATEGY_RR, 2);
	unsigned long c[MAXT];

	ck_assert_ptr_nonnull(p);
	fixture_init(&f, w, 2);
	count_picks(p, &f, NULL, NULL, RND_PICKS, c);
	assert_share(c[0], RND_PICKS, 10.0, 0.5, "unattached");
	count_picks(p, &f, healthy_by_index, up, 1000, c);
	ck_assert_uint_eq(c[1], 1000);
	ck_assert_int_eq(rt_picker_attach(p, NULL), 0);
	rt_picker_free(p);
	rt_picker_free(NULL);
}
END_TEST

START_TEST(strategy_names)
{
	enum rt_strategy s = RT_STRATEGY_RND;

	ck_assert_int_eq(rt_strategy_parse("rr", &s), 0);
	ck_assert_int_eq(s, RT_STRATEGY_RR);
	ck_assert_int_eq(rt_strategy_parse("rnd", &s), 0);
	ck_assert_int_eq(s, RT_STRATEGY_RND);
	ck_assert_int_lt(rt_strategy_parse("random", &s), 0);
	ck_assert_int_lt(rt_strategy_parse("", &s), 0);
	ck_assert_int_lt(rt_strategy_parse(NULL, &s), 0);
	ck_assert_int_eq(s, RT_STRATEGY_RND);
	ck_assert_str_eq(rt_strategy_name(RT_STRATEGY_RR), "rr");
	ck_assert_str_eq(rt_strategy_name(RT_STRATEGY_RND), "rnd");
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("rt_pick");
	TCase *tc = tcase_create("pick");

	tcase_set_timeout(tc, 60);
	/* The loop variable _i is the seed (or strategy) of each run. */
	tcase_add_loop_test(tc, rr_fabio_canary_shares, 0, 8);
	tcase_add_loop_test(tc, rr_tenth_and_nine_tenths, 0, 8);
	tcase_add_test(tc, rr_fabio_weight_table_shares);
	tcase_add_loop_test(tc, rr_is_smooth, 0, 8);
	tcase_add_loop_test(tc, rr_equal_weights_never_twice_in_a_row, 0, 16);
	tcase_add_test(tc, rr_unhealthy_target_keeps_ratio_of_the_rest);
	tcase_add_test(tc, rr_flapping_target);
	tcase_add_loop_test(tc, zero_weight_never_picked, 0, 2);
	tcase_add_loop_test(tc, none_healthy_gives_null, 0, 2);
	tcase_add_loop_test(tc, rnd_shares, 0, 3);
	tcase_add_test(tc, seed_sets_the_phase);
	tcase_add_test(tc, state_across_tables);
	tcase_add_test(tc, unattached_picker_is_safe);
	tcase_add_test(tc, strategy_names);
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
