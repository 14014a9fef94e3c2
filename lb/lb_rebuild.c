/*
 * lb_rebuild.c - from the watched state to a published table.
 *
 * Runs from the coalescing timer only, so a burst of answers costs one
 * build. Rejected tags and override lines are logged and skipped; the
 * table is built from everything else (fabio rejects the whole text
 * instead, #282). A table whose routes equal the published one is
 * dropped, so workers are not woken for a change of check output; the
 * refreshed callback still runs then, so that health views follow check
 * status and Weights.
 *
 * A service none of whose instances counts is not dropped as fabio does
 * (which turns its routes into the no-route answer): every instance gives
 * its commands marked consul_down, so its routes stay with targets that
 * never take traffic and requests get 503. A service going down or coming
 * back is logged beside the route-change delta.
 *
 * An instance's Consul weight (Weights.Passing, or Weights.Warning while
 * its worst check warns) scales its share among the route's dynamic
 * targets; one that counts with a weight of 0 is left out like one that
 * does not count, as Consul's DNS leaves it out.
 */
#include "lb/lb_watch_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routes/rt_parse.h"
#include "routes/rt_tags.h"

/* Delta lines logged per rebuild; a first table of thousands of routes
 * says how many more there were instead. */
#define MAX_DELTA_LINES 2000u

static int all_answered(const struct lb_watch *lw)
{
	if (!lw->catalog.answered)
		return 0;
	if (lw->kv_key && !lw->kv.answered)
		return 0;
	if (lw->noroute_key && !lw->noroute.answered)
		return 0;
	for (size_t i = 0; i < lw->nsvcs; i++)
		if (!lw->svcs[i]->feed.answered)
			return 0;
	return 1;
}

/* The weight instance e gets traffic with: lb_instance_weight when e
 * counts, 0 when it does not. */
static unsigned counted_weight(const struct lb_watch *lw,
			       const struct consul_service_entry *e,
			       enum lb_instance_verdict *verdict)
{
	int w;

	*verdict = lb_instance_verdict(e, lw->status_mask, lw->checks_all);
	if (*verdict != LB_INSTANCE_COUNTS)
		return 0;
	w = lb_instance_weight(e);
	return w > 0 ? (unsigned)w : 0;
}

/* Whether l has instances and none of them takes traffic; *reason then
 * names why (the verdict they share, "weight_zero", or "mixed"). Stops at
 * the first instance that takes traffic, usually the first one. */
static int service_down(const struct lb_watch *lw,
			const struct consul_service_list *l,
			const char **reason)
{
	const char *first = NULL;
	int mixed = 0;

	for (size_t j = 0; j < l->n; j++) {
		enum lb_instance_verdict v;
		const char *why;

		if (counted_weight(lw, &l->v[j], &v) > 0)
			return 0;
		why = v == LB_INSTANCE_COUNTS ? "weight_zero"
					      : lb_instance_verdict_name(v);
		if (j == 0)
			first = why;
		else if (strcmp(why, first) != 0)
			mixed = 1;
	}
	if (l->n == 0)
		return 0;
	*reason = mixed ? "mixed" : first;
	return 1;
}

/* Route commands of every counting instance (of every instance, marked
 * consul_down, for a service that is down), then of the overrides. */
static int gather(struct lb_watch *lw, struct rt_cmd_list *cmds,
		  size_t *ninstances, size_t *ndown)
{
	*ninstances = 0;
	*ndown = 0;
	for (size_t i = 0; i < lw->nsvcs; i++) {
		struct svc *s = lw->svcs[i];
		const struct consul_service_list *l = &s->list;

		s->down = service_down(lw, l, &s->down_reason);
		*ndown += s->down != 0;
		for (size_t j = 0; j < l->n; j++) {
			const struct consul_service_entry *e = &l->v[j];
			struct rt_instance in = {
				.service = e->name,
				.instance = e->id,
				.node = e->node,
				.address = e->address,
				.node_address = e->node_address,
				.port = e->port,
				.tags = (const char *const *)e->tags,
				.ntags = e->ntags,
				.consul_down = s->down,
			};
			const char *dc = lw->dc ? lw->dc
				       : e->datacenter[0] ? e->datacenter : NULL;
			enum lb_instance_verdict v;

			if (!s->down) {
				in.consul_weight = counted_weight(lw, e, &v);
				if (in.consul_weight == 0)
					continue;
				(*ninstances)++;
			}
			if (rt_tags_commands(&in, lw->tagprefix, dc, cmds) < 0)
				return -ENOMEM;
		}
	}
	if (lw->overrides.text &&
	    rt_parse(lw->overrides.text, lw->overrides.len, cmds) < 0)
		return -ENOMEM;
	return 0;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ull;
	}
	return h;
}

static uint64_t hash_errs(uint64_t h, const struct rt_cmd_list *l)
{
	for (size_t i = 0; i < l->nerrs; i++) {
		const struct rt_err *e = &l->errs[i];

		h = fnv(h, &e->line, sizeof(e->line));
		h = fnv(h, e->field, strlen(e->field) + 1);
		h = fnv(h, e->msg, strlen(e->msg) + 1);
	}
	return h;
}

static void log_errs(struct lb_watch *lw, const struct rt_cmd_list *l,
		     const char *event)
{
	char qf[64], qm[400], qk[300];

	for (size_t i = 0; i < l->nerrs; i++) {
		const struct rt_err *e = &l->errs[i];
		unsigned key_line = 0;
		const char *key;

		lb_watch_quote(qf, sizeof(qf), e->field);
		lb_watch_quote(qm, sizeof(qm), e->msg);
		if (e->line == 0) {
			LB_WATCH_LOG(lw, LB_WATCH_WARN,
				     "event=%s source=tags field=%s reason=%s",
				     event, qf, qm);
			continue;
		}
		key = lb_overrides_where(&lw->overrides, e->line, &key_line);
		LB_WATCH_LOG(lw, LB_WATCH_WARN,
			     "event=%s source=kv key=%s line=%u text_line=%u field=%s reason=%s",
			     event, lb_watch_quote(qk, sizeof(qk), key ? key : ""),
			     key_line, e->line, qf, qm);
	}
}

/* Everything rejected or skipped, once per rebuild, and only when it is
 * not what the previous rebuild already said. */
static void report_problems(struct lb_watch *lw, const struct rt_cmd_list *cmds,
			    const struct rt_cmd_list *warnings)
{
	uint64_t h = hash_errs(hash_errs(1469598103934665603ull, cmds), warnings);

	if (h == lw->problems_hash)
		return;
	lw->problems_hash = h;
	log_errs(lw, cmds, "route_rejected");
	log_errs(lw, warnings, "route_skipped");
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static size_t line_len(const char *p)
{
	const char *nl = strchr(p, '\n');

	return nl ? (size_t)(nl - p) : strlen(p);
}

#define DOWN_LINE "- " RT_DUMP_DOWN

/*
 * Whether the delta takes a target away. A target Consul held down that
 * is live again ("- # down (consul) X" beside "+ X") takes nothing away:
 * a service coming back is not held by the resync hold, as it was not
 * while down services simply had no routes. Every other "- " line counts
 * (the same target going down too). When memory runs out the answer is
 * yes: holding is the safe side.
 */
static int delta_removes(const char *delta)
{
	const size_t dlen = strlen(DOWN_LINE);
	size_t nplus = 0, ndown = 0, k = 0;
	uint64_t *plus;
	int removes = 0;

	for (const char *p = delta; p && *p;) {
		size_t len = line_len(p);

		if (p[0] == '+' && p[1] == ' ')
			nplus++;
		else if (len >= dlen && strncmp(p, DOWN_LINE, dlen) == 0)
			ndown++;
		else if (p[0] == '-' && p[1] == ' ')
			return 1;
		p += len + (p[len] == '\n');
	}
	if (ndown == 0)
		return 0;
	plus = malloc((nplus + 1) * sizeof(*plus));
	if (!plus)
		return 1;
	for (const char *p = delta; *p;) {
		size_t len = line_len(p);

		if (p[0] == '+' && p[1] == ' ')
			plus[k++] = fnv(1469598103934665603ull, p + 2, len - 2);
		p += len + (p[len] == '\n');
	}
	qsort(plus, nplus, sizeof(*plus), cmp_u64);
	for (const char *p = delta; *p && !removes;) {
		size_t len = line_len(p);

		if (len >= dlen && strncmp(p, DOWN_LINE, dlen) == 0) {
			uint64_t h = fnv(1469598103934665603ull, p + dlen,
					 len - dlen);

			removes = !bsearch(&h, plus, nplus, sizeof(*plus),
					   cmp_u64);
		}
		p += len + (p[len] == '\n');
	}
	free(plus);
	return removes;
}

static void log_delta(struct lb_watch *lw, const struct rt_table *t,
		      const char *delta)
{
	char q[1024];
	unsigned n = 0, more = 0;
	uint64_t gen = rt_table_generation(t);

	if (!lw->log || LB_WATCH_INFO < lw->log_level)
		return;
	for (const char *p = delta; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[900];

		if (len) {
			if (n < MAX_DELTA_LINES) {
				snprintf(line, sizeof(line), "%.*s", (int)len, p);
				LB_WATCH_LOG(lw, LB_WATCH_INFO,
					     "event=route_change generation=%llu change=%s",
					     (unsigned long long)gen,
					     lb_watch_quote(q, sizeof(q), line));
				n++;
			} else {
				more++;
			}
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	if (more)
		LB_WATCH_LOG(lw, LB_WATCH_INFO,
			     "event=route_change generation=%llu more_changes=%u",
			     (unsigned long long)gen, more);
}

/* log.routes.format=detail: one line per target with its share;
 * =all: the table as `route add` text, a line each. */
static void log_table(struct lb_watch *lw, const struct rt_table *t)
{
	unsigned long long gen = (unsigned long long)rt_table_generation(t);
	char q[1024];

	if (!lw->log || LB_WATCH_INFO < lw->log_level ||
	    lw->routes_log == LB_WATCH_ROUTES_DELTA)
		return;
	if (lw->routes_log == LB_WATCH_ROUTES_DETAIL) {
		for (size_t i = 0; i < rt_table_nroutes(t); i++) {
			const struct rt_route *r = rt_table_route(t, i);

			for (size_t k = 0; k < r->ntargets; k++) {
				const struct rt_target *x = r->targets[k];

				LB_WATCH_LOG(lw, LB_WATCH_INFO,
					     "event=route_table generation=%llu route=%s%s service=%s dst=%s share=%.4f%s",
					     gen, r->host, r->path,
					     x->service ? x->service : "",
					     x->url ? x->url : "", x->share,
					     x->consul_down ? " down=consul" : "");
			}
		}
		return;
	}
	{
		char *dump = rt_table_dump(t);

		for (const char *p = dump; p && *p;) {
			const char *nl = strchr(p, '\n');
			size_t len = nl ? (size_t)(nl - p) : strlen(p);
			char line[900];

			if (len) {
				snprintf(line, sizeof(line), "%.*s", (int)len, p);
				LB_WATCH_LOG(lw, LB_WATCH_INFO,
					     "event=route_table generation=%llu cmd=%s",
					     gen, lb_watch_quote(q, sizeof(q), line));
			}
			if (!nl)
				break;
			p = nl + 1;
		}
		free(dump);
	}
}

/* Whether a table that drops routes must wait: from the first answer
 * after an outage until the hold has run out (note_answer). */
static int removals_held(const struct lb_watch *lw, uint64_t now)
{
	return lw->resync_hold_ms > 0 && now < lw->hold_until_ms;
}

/* Services that went down or came back since the table last published:
 * logged once per change, when the routes show it. */
static void log_service_changes(struct lb_watch *lw)
{
	char q[300], qr[64];

	for (size_t i = 0; i < lw->nsvcs; i++) {
		struct svc *s = lw->svcs[i];

		if (s->down == s->down_published)
			continue;
		s->down_published = s->down;
		if (s->down)
			LB_WATCH_LOG(lw, LB_WATCH_WARN,
				     "event=service_down service=%s instances=%zu reason=%s answer=503",
				     lb_watch_quote(q, sizeof(q), s->name),
				     s->list.n,
				     lb_watch_quote(qr, sizeof(qr), s->down_reason));
		else
			LB_WATCH_LOG(lw, LB_WATCH_INFO,
				     "event=service_up service=%s instances=%zu",
				     lb_watch_quote(q, sizeof(q), s->name),
				     s->list.n);
	}
}

/* Whether now gives some target another weight than old: Consul's
 * Weights change shares without changing the routes' text, so an empty
 * delta alone does not make a table redundant. Targets are compared in
 * place; a reordered route is reported as changed, which costs one
 * redundant publish. */
static int weights_differ(const struct rt_table *old,
			  const struct rt_table *now)
{
	size_t n = rt_table_nroutes(now);

	if (!old || rt_table_nroutes(old) != n)
		return 1;
	for (size_t i = 0; i < n; i++) {
		const struct rt_route *a = rt_table_route(old, i);
		const struct rt_route *b = rt_table_route(now, i);

		if (a->ntargets != b->ntargets)
			return 1;
		for (size_t k = 0; k < b->ntargets; k++)
			if (a->targets[k]->weight != b->targets[k]->weight)
				return 1;
	}
	return 0;
}

/* Hand t (one reference, taken over) to every mailbox and keep it. */
static void publish(struct lb_watch *lw, struct rt_table *t)
{
	for (size_t i = 0; i < lw->nmailboxes; i++)
		rt_mailbox_post(lw->mailboxes[i], rt_table_ref(t));
	rt_table_unref(lw->table);
	lw->table = t;
	lw->published_once = 1;
	atomic_fetch_add(&lw->publishes, 1);
}

/* Returns 1 when a table was published. */
static int rebuild(struct lb_watch *lw)
{
	struct rt_cmd_list cmds = { 0 }, warnings = { 0 };
	struct rt_build_opts bo = { .matcher = lw->matcher };
	struct rt_table *t = NULL;
	char *delta = NULL;
	uint64_t t0 = lb_watch_mono_ms(), now;
	size_t ninst = 0, ndown = 0;
	int published = 0;

	if (!lw->published_once) {
		uint64_t deadline = lw->catalog_first_ms + lw->startup_wait_ms;

		/* the catalog's first answer reschedules */
		if (!lw->catalog.answered)
			return 0;
		if (!all_answered(lw) && t0 < deadline) {
			lb_watch_schedule(lw, deadline - t0);
			return 0;
		}
	}
	lw->routes_dirty = 0;
	atomic_fetch_add(&lw->rebuilds, 1);
	if (gather(lw, &cmds, &ninst, &ndown) == 0)
		t = rt_table_build(&cmds, &bo, &warnings);
	if (t)
		delta = rt_table_delta(lw->table, t);
	if (!t || !delta) {
		LB_WATCH_LOG(lw, LB_WATCH_ERROR,
			     "event=out_of_memory during=rebuild retry_ms=1000");
		lw->routes_dirty = 1;
		lb_watch_schedule(lw, 1000);
		goto out;
	}
	report_problems(lw, &cmds, &warnings);
	now = lb_watch_mono_ms();
	atomic_store(&lw->last_update_ms, lb_watch_wall_ms());
	if (lw->published_once && delta[0] == '\0' &&
	    !weights_differ(lw->table, t)) {
		log_service_changes(lw);  /* a down service without routes */
		lw->refresh_pending = 1;
		goto out;
	}
	if (lw->published_once && removals_held(lw, now) &&
	    delta_removes(delta)) {
		uint64_t left = lw->hold_until_ms - now;

		if (!lw->hold_logged)
			LB_WATCH_LOG(lw, LB_WATCH_INFO,
				     "event=routes_held reason=consul_reconnecting hold_ms=%llu",
				     (unsigned long long)left);
		lw->hold_logged = 1;
		lw->routes_dirty = 1;
		lb_watch_schedule(lw, left);
		goto out;
	}
	log_delta(lw, t, delta);
	log_table(lw, t);
	log_service_changes(lw);
	LB_WATCH_LOG(lw, LB_WATCH_INFO,
		     "event=routes_published generation=%llu routes=%zu targets=%zu services=%zu instances=%zu down_services=%zu build_ms=%llu",
		     (unsigned long long)rt_table_generation(t),
		     rt_table_nroutes(t), rt_table_ntargets(t), lw->nsvcs, ninst,
		     ndown, (unsigned long long)(now - t0));
	publish(lw, t);
	t = NULL;
	published = 1;
out:
	lw->last_build_ms = lb_watch_mono_ms() - t0;
	rt_table_unref(t);
	free(delta);
	rt_cmd_list_clear(&cmds);
	rt_cmd_list_clear(&warnings);
	return published;
}

void lb_watch_flush(struct lb_watch *lw)
{
	int posted = 0;

	if (lw->routes_dirty)
		posted = rebuild(lw);
	if (lw->page_dirty && lw->page) {
		lw->page_dirty = 0;
		for (size_t i = 0; i < lw->nboxes; i++)
			lb_noroute_box_post(lw->boxes[i], lb_noroute_ref(lw->page));
		posted = 1;
	}
	if (posted && lw->published)
		lw->published(lw, lw->table, lw->page, lw->published_arg);
	if (lw->refresh_pending) {
		lw->refresh_pending = 0;
		if (lw->refreshed)
			lw->refreshed(lw, lw->refreshed_arg);
	}
}
