/*
 * rt_pick.c - smooth weighted round-robin and weighted random choice of a
 * route's target, with the mutable state kept per reader thread.
 *
 * fabio walks a precomputed ring of 10,000 slots per route and resets its
 * counters on every rebuild. Here the state is one current weight per
 * target, held by the reader's picker and indexed by the target's number
 * in the table, so a table stays immutable and a rebuild that keeps a
 * target at its index keeps its place in the rotation.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "routes/rt_pick.h"

/* A new slot is {0, 0}: a target whose identity happens to be 0 simply
 * starts from current weight 0, which is a valid state too. */
struct slot {
	int64_t cw;          /* smooth WRR current weight */
	uint64_t identity;   /* rt_target.identity of the target it belongs to */
};

struct rt_picker {
	enum rt_strategy strategy;
	uint64_t rng;        /* splitmix64 state */
	struct slot *slots;  /* one per target index of the attached table */
	size_t nslots;
};

/* splitmix64: any seed is fine, one add and three mixes per number. */
static uint64_t
next_random(struct rt_picker *p)
{
	uint64_t z = (p->rng += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* A number in [0, bound) by multiply and shift: no division, and a bias
 * of at most bound / 2^32, far below anything a share test can see. */
static uint32_t
random_below(struct rt_picker *p, uint32_t bound)
{
	return (uint32_t)(((next_random(p) >> 32) * (uint64_t)bound) >> 32);
}

struct rt_picker *
rt_picker_new(enum rt_strategy s, uint64_t seed)
{
	struct rt_picker *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->strategy = s == RT_STRATEGY_RND ? RT_STRATEGY_RND : RT_STRATEGY_RR;
	p->rng = seed;
	return p;
}

void
rt_picker_free(struct rt_picker *p)
{
	if (p == NULL)
		return;
	free(p->slots);
	free(p);
}

enum rt_strategy
rt_picker_strategy(const struct rt_picker *p)
{
	return p->strategy;
}

int
rt_picker_attach(struct rt_picker *p, const struct rt_table *t)
{
	return rt_picker_reserve(p, t != NULL ? rt_table_ntargets(t) : 0);
}

int
rt_picker_reserve(struct rt_picker *p, size_t need)
{
	size_t n;
	struct slot *grown;

	if (need <= p->nslots)
		return 0;
	/* Tables usually grow a few targets at a time: leave room so each
	 * rebuild does not reallocate. The state never shrinks; it is 16
	 * bytes per target of the largest table seen. */
	n = p->nslots + p->nslots / 2;
	if (n < need)
		n = need;
	if (n > SIZE_MAX / sizeof(*grown))
		return -ENOMEM;
	grown = realloc(p->slots, n * sizeof(*grown));
	if (grown == NULL)
		return -ENOMEM;
	memset(grown + p->nslots, 0, (n - p->nslots) * sizeof(*grown));
	p->slots = grown;
	p->nslots = n;
	return 0;
}

/* What a pick needs of target i of r: from the route's side-by-side
 * entries when the table made them, else from the target itself. The
 * loops below take an entries flag, constant at each call: the compiler
 * makes one tight copy of each loop for routes with entries. */
struct view {
	const struct rt_target *t;
	uint64_t identity;
	uint32_t weight;
	size_t index;
};

static inline void
view_at(const struct rt_route *r, size_t i, struct view *v)
{
	if (r->pick != NULL) {
		const struct rt_route_pick *e = &r->pick[i];

		v->t = e->target;
		v->identity = e->identity;
		v->weight = e->weight;
		v->index = e->index;
	} else {
		const struct rt_target *t = r->targets[i];

		v->t = t;
		v->identity = t->identity;
		v->weight = t->weight;
		v->index = t->index;
	}
}

static inline int
eligible(const struct view *v, rt_healthy_fn healthy, void *arg)
{
	return v->weight > 0 && (healthy == NULL || healthy(v->t, arg) == 1);
}

/*
 * Weighted random in one pass (reservoir style): the k-th eligible target
 * replaces the choice with probability weight / (sum so far), which
 * leaves each with weight / sum at the end. One pass means the health
 * predicate is asked once per target, so a state flipping under us cannot
 * make the two passes of a sum-then-walk disagree. Exact while the
 * eligible weights sum below 2^32 (a table's sum to about 10,000).
 */
static inline const struct rt_target *
weighted_random(struct rt_picker *p, const struct rt_route *r,
		rt_healthy_fn healthy, void *arg, int entries)
{
	const struct rt_route_pick *e = r->pick;
	const struct rt_target *chosen = NULL;
	uint64_t total = 0;
	struct view v;
	size_t i, n = r->ntargets;

	for (i = 0; i < n; i++) {
		if (entries) {
			if (e[i].weight == 0 ||
			    (healthy != NULL && healthy(e[i].target, arg) != 1))
				continue;
			v.t = e[i].target;
			v.weight = e[i].weight;
		} else {
			view_at(r, i, &v);
			if (!eligible(&v, healthy, arg))
				continue;
		}
		total += v.weight;
		if ((next_random(p) >> 32) * total < (uint64_t)v.weight << 32)
			chosen = v.t;
	}
	return chosen;
}

static const struct rt_target *
pick_random(struct rt_picker *p, const struct rt_route *r,
	    rt_healthy_fn healthy, void *arg)
{
	if (r->pick != NULL)
		return weighted_random(p, r, healthy, arg, 1);
	return weighted_random(p, r, healthy, arg, 0);
}

/*
 * Smooth weighted round-robin. A target met for the first time at its
 * slot starts at a random phase in [0, weight): the long-run shares and
 * the smoothness are those of a zero start, but readers (and rebuilds)
 * do not all begin with the same target. Ties go to the earlier target.
 *
 * A target beyond the picker's state (its table was never attached, or
 * attaching failed for memory) is left out of the round, so the state of
 * the others stays consistent, and the choice is then made at random
 * among all eligible targets instead.
 */
static inline const struct rt_target *
round_robin(struct rt_picker *p, const struct rt_route *r,
	    rt_healthy_fn healthy, void *arg, int entries)
{
	const struct rt_route_pick *e = r->pick;
	size_t n = r->ntargets, i, best = n;
	int64_t best_cw = INT64_MIN, total = 0;
	int missing = 0;
	struct view v;

	for (i = 0; i < n; i++) {
		struct slot *s;
		int64_t cw;
		uint64_t take;

		/* Only the entry's address lives across the health call:
		 * what the pick needs is read after it, from a line just
		 * loaded. */
		if (entries) {
			if (e[i].weight == 0 ||
			    (healthy != NULL && healthy(e[i].target, arg) != 1))
				continue;
			v.identity = e[i].identity;
			v.weight = e[i].weight;
			v.index = e[i].index;
		} else {
			view_at(r, i, &v);
			if (!eligible(&v, healthy, arg))
				continue;
		}
		if (v.index >= p->nslots) {
			missing = 1;
			continue;
		}
		s = &p->slots[v.index];
		cw = s->cw;
		if (s->identity != v.identity) {
			s->identity = v.identity;
			cw = random_below(p, v.weight);
		}
		cw += v.weight;
		s->cw = cw;
		total += v.weight;
		/* Which target wins is data, not a pattern a branch
		 * predictor learns: select with a mask, without a jump
		 * (compilers keep a ?: here as a branch). */
		take = -(uint64_t)(cw > best_cw);
		best_cw = (int64_t)(((uint64_t)cw & take) |
				    ((uint64_t)best_cw & ~take));
		best = (i & take) | (best & ~take);
	}
	if (best < n) {
		/* the winner's entry was just read: still in cache */
		view_at(r, best, &v);
		p->slots[v.index].cw = best_cw - total;
	}
	if (missing)
		return pick_random(p, r, healthy, arg);
	return best < n ? v.t : NULL;
}

static const struct rt_target *
pick_rr(struct rt_picker *p, const struct rt_route *r,
	rt_healthy_fn healthy, void *arg)
{
	if (r->pick != NULL)
		return round_robin(p, r, healthy, arg, 1);
	return round_robin(p, r, healthy, arg, 0);
}

const struct rt_target *
rt_pick(struct rt_picker *p, const struct rt_route *r, rt_healthy_fn healthy,
	void *arg)
{
	struct view v;

	if (r == NULL || r->ntargets == 0)
		return NULL;
	if (r->ntargets == 1) {
		view_at(r, 0, &v);
		return eligible(&v, healthy, arg) ? v.t : NULL;
	}
	if (p->strategy == RT_STRATEGY_RND)
		return pick_random(p, r, healthy, arg);
	return pick_rr(p, r, healthy, arg);
}

int
rt_strategy_parse(const char *name, enum rt_strategy *out)
{
	if (name == NULL)
		return -EINVAL;
	if (strcmp(name, "rr") == 0) {
		*out = RT_STRATEGY_RR;
		return 0;
	}
	if (strcmp(name, "rnd") == 0) {
		*out = RT_STRATEGY_RND;
		return 0;
	}
	return -EINVAL;
}

const char *
rt_strategy_name(enum rt_strategy s)
{
	return s == RT_STRATEGY_RND ? "rnd" : "rr";
}
