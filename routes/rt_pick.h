/*
 * rt_pick.h - choose one target of a route: smooth weighted round-robin
 * (nginx style) or weighted random, skipping targets the caller calls
 * unhealthy so that the others keep their relative shares.
 *
 * A picker belongs to one reader thread and is never shared: it holds
 * the round-robin state of every target of the table that thread reads,
 * so picking takes no lock, allocates nothing and divides nothing.
 */
#ifndef RT_PICK_H
#define RT_PICK_H

#include <stdint.h>
#include "routes/rt_table.h"

enum rt_strategy {
	RT_STRATEGY_RR = 0,   /* smooth weighted round-robin */
	RT_STRATEGY_RND       /* weighted random */
};

/*
 * Whether target t may take traffic now: 1 yes, 0 no. Called once per
 * target with weight > 0 on every pick, on the picking thread; it must
 * not block and must not call back into the picker.
 */
typedef int (*rt_healthy_fn)(const struct rt_target *t, void *arg);

struct rt_picker;

/*
 * A picker for one reader thread. seed starts its random generator
 * (strategy rnd, and the round-robin phase of each target, so readers do
 * not all send their first request to the same target). Free with
 * rt_picker_free(). NULL when out of memory.
 */
struct rt_picker *rt_picker_new(enum rt_strategy s, uint64_t seed);
void rt_picker_free(struct rt_picker *p);   /* NULL: no-op */

enum rt_strategy rt_picker_strategy(const struct rt_picker *p);

/*
 * Size the per-target state for table t; call after taking a new table
 * and before picking from it. Keeps no pointer to t. State is kept per
 * target index and survives a new table while the target at that index
 * keeps its identity; a target new at an index starts afresh. Returns 0,
 * or -ENOMEM (the picker is unchanged and still usable: a route whose
 * targets lie beyond its state is then picked at random).
 */
int rt_picker_attach(struct rt_picker *p, const struct rt_table *t);
/* The same for targets numbered 0..ntargets-1 without a table (tests,
 * or a caller that numbers its own targets). 0 or -ENOMEM. */
int rt_picker_reserve(struct rt_picker *p, size_t ntargets);

/*
 * A target of r with weight > 0 for which healthy (NULL: all are
 * healthy) returns 1, or NULL when there is none. Round-robin: each
 * eligible target's current weight grows by its weight, the largest is
 * chosen and loses the sum of the eligible weights; ineligible targets
 * are left out of the sum, so the rest keep their ratios. rnd: each
 * eligible target with probability weight / sum. The result lives as
 * long as the table that holds r.
 */
const struct rt_target *rt_pick(struct rt_picker *p, const struct rt_route *r,
				rt_healthy_fn healthy, void *arg);

/* "rr" or "rnd" (fabio's proxy.strategy values) to a strategy: 0, or
 * -EINVAL for anything else. */
int rt_strategy_parse(const char *name, enum rt_strategy *out);
/* "rr" or "rnd"; never NULL. */
const char *rt_strategy_name(enum rt_strategy s);

#endif
