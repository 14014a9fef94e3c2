/*
 * lb_health.c - the control thread's side of target health (lb_health.h).
 *
 * Which targets are probed: a target whose route says check=/path gets an
 * HTTP GET of that path, check=tcp a TCP connect; with health.check.path
 * set, every other target gets an HTTP GET of that path. An HTTP probe of
 * a target whose scheme is not http (https, tcp, grpc) would fail on the
 * protocol, not on the target's health, so such a target is probed with a
 * TCP connect instead. Targets Consul holds down are not probed: they take
 * no traffic whatever a probe says. When a target is in several routes,
 * the first route that asks for a probe decides its kind.
 */
#include "lb/lb_health.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "health/hc_probe.h"
#include "lb/lb_instances.h"

struct lb_health {
	struct event_base *base;
	struct hc_config hc;
	char *check_path;              /* NULL: none */
	const struct lb_logger *log;

	struct hc_registry *reg;
	struct hc_prober *prober;
	struct hc_set *cur;            /* the set last posted */
	uint64_t generation;           /* of its table */
	struct lb_workers *ws;
	const struct lb_watch *watch;

	struct event *tick_ev;
	int wake_fd;
	struct event *wake_ev;
};

uint64_t lb_health_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the transition log and the tick ---- */

static void on_transition(void *arg, const struct hc_transition *tr)
{
	struct lb_health *h = arg;

	LB_LOG(h->log, tr->to == HC_UP ? LB_LOG_INFO : LB_LOG_WARN,
	       "event=health_transition %s", tr->line);
}

static void tick(struct lb_health *h)
{
	hc_tick(h->reg, lb_health_now_ms());
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	tick(arg);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	uint64_t v;

	(void)what;
	while (read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		;
	tick(arg);
}

void lb_health_wake(void *arg)
{
	struct lb_health *h = arg;
	uint64_t one = 1;

	/* fails only when the counter would overflow: a wake-up is pending */
	if (write(h->wake_fd, &one, sizeof(one)) < 0)
		return;
}

/* ---- probes ---- */

static void on_probe(uint64_t identity, int ok, const char *reason,
		     unsigned elapsed_ms, void *arg)
{
	struct lb_health *h = arg;
	struct hc_entry *e = hc_registry_find(h->reg, identity);
	char why[HC_REASON_MAX];

	if (!e)
		return;
	/* the reason of a transition this result causes: "probe_timeout",
	 * "probe_HTTP 503" (the registry makes it one token) */
	snprintf(why, sizeof(why), "probe_%s", reason);
	/* failed probes are news only while debugging: the transition
	 * they cause is logged anyway */
	if (!ok && h->log && h->log->fn && h->log->level <= LB_LOG_DEBUG) {
		struct hc_target_info in;

		if (hc_entry_info(h->reg, e, &in) == 0)
			lb_logf(h->log, LB_LOG_DEBUG,
				"event=probe_failed target=%s@%s reason=\"%s\" elapsed_ms=%u",
				in.service, in.addr, reason, elapsed_ms);
	}
	hc_probe_result(h->reg, e, ok, why, lb_health_now_ms());
}

static struct hc_prober *prober_new(struct lb_health *h)
{
	struct hc_probe_opts po;

	memset(&po, 0, sizeof(po));
	po.interval_ms = h->hc.probe.interval_ms > UINT32_MAX
			 ? UINT32_MAX : (unsigned)h->hc.probe.interval_ms;
	po.timeout_ms = h->hc.probe.timeout_ms > UINT32_MAX
			? UINT32_MAX : (unsigned)h->hc.probe.timeout_ms;
	po.user_agent = "switchyard";
	return hc_prober_new(h->base, &po, on_probe, h);
}

/* A spec with the order it was met in, so that sorting by identity keeps
 * each identity's first spec first. */
struct ranked {
	struct hc_probe_spec spec;
	size_t order;
};

static int cmp_ranked(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->spec.identity != y->spec.identity)
		return x->spec.identity < y->spec.identity ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int cmp_spec(const void *a, const void *b)
{
	uint64_t x = ((const struct hc_probe_spec *)a)->identity;
	uint64_t y = ((const struct hc_probe_spec *)b)->identity;

	return x < y ? -1 : x > y;
}

/* The probe target t asks for, or 0 when none. */
static int probe_of(const struct lb_health *h, const struct rt_target *t,
		    struct hc_probe_spec *out)
{
	const char *check = t->opts.check;
	int http = t->scheme && strcmp(t->scheme, "http") == 0;

	if (t->consul_down || !t->addr)
		return 0;
	if (!check || !*check)
		check = h->check_path;
	if (!check || !*check)
		return 0;
	memset(out, 0, sizeof(*out));
	out->identity = t->identity;
	out->addr = t->addr;
	if (strcmp(check, "tcp") == 0 || !http) {
		out->kind = HC_PROBE_TCP;
	} else {
		out->kind = HC_PROBE_HTTP;
		out->path = check;
	}
	return 1;
}

/* Probes on for the targets of the current set that ask for them, off for
 * the others, and the prober's list to match. */
static int apply_probes(struct lb_health *h)
{
	const struct rt_table *t;
	struct ranked *all;
	struct hc_probe_spec *specs;
	size_t n = 0, nall = 0, cap;
	uint64_t now = lb_health_now_ms();
	int rc;

	if (!h->cur)
		return 0;
	t = hc_set_table(h->cur);
	cap = rt_table_ntargets(t);
	all = malloc((cap ? cap : 1) * sizeof(*all));
	specs = malloc((cap ? cap : 1) * sizeof(*specs));
	if (!all || !specs) {
		free(all);
		free(specs);
		return -ENOMEM;
	}
	for (size_t i = 0; i < rt_table_nroutes(t); i++) {
		const struct rt_route *r = rt_table_route(t, i);

		for (size_t j = 0; j < r->ntargets && nall < cap; j++)
			if (probe_of(h, r->targets[j], &all[nall].spec)) {
				all[nall].order = nall;
				nall++;
			}
	}
	/* one spec per identity, the first route's, sorted for the search */
	qsort(all, nall, sizeof(*all), cmp_ranked);
	for (size_t i = 0; i < nall; i++)
		if (n == 0 || specs[n - 1].identity != all[i].spec.identity)
			specs[n++] = all[i].spec;
	free(all);
	for (size_t i = 0; i < rt_table_nroutes(t); i++) {
		const struct rt_route *r = rt_table_route(t, i);

		for (size_t j = 0; j < r->ntargets; j++) {
			const struct rt_target *tg = r->targets[j];
			struct hc_probe_spec key = { .identity = tg->identity };
			int on = n && bsearch(&key, specs, n, sizeof(*specs), cmp_spec);

			hc_probe_set(h->reg, hc_set_entry(h->cur, tg->index),
				     on ? &h->hc.probe : NULL, now);
		}
	}
	rc = hc_prober_set(h->prober, specs, n);
	free(specs);
	return rc;
}

/* ---- the Consul view ---- */

/* Whether t's address is the instance's: Service.Address (or the node's
 * when empty) and Service.Port, as rt_tags writes it. IDs are unique per
 * agent only, so the address tells two nodes' instances apart. */
static int same_address(const struct rt_target *t,
			const struct consul_service_entry *ce)
{
	const char *host = ce->address && ce->address[0] ? ce->address
							 : ce->node_address;
	char want[300];

	if (!host)
		return 0;
	snprintf(want, sizeof(want), strchr(host, ':') ? "[%s]:%d" : "%s:%d",
		 host, ce->port);
	return strcmp(want, t->addr) == 0;
}

static const struct consul_service_entry *
instance_of(const struct lb_watch *w, const struct rt_target *t)
{
	const struct consul_service_list *l;

	if (!t->instance || !t->service || !t->addr)
		return NULL;
	l = lb_watch_service(w, t->service);
	for (size_t i = 0; l && i < l->n; i++)
		if (strcmp(l->v[i].id, t->instance) == 0 &&
		    same_address(t, &l->v[i]))
			return &l->v[i];
	return NULL;
}

static void view_of(const struct lb_watch *w,
		    const struct consul_service_entry *ce,
		    struct hc_consul_view *v)
{
	enum lb_instance_verdict verdict = lb_watch_verdict(w, ce);

	memset(v, 0, sizeof(*v));
	switch (consul_checks_aggregate(ce->checks, ce->nchecks)) {
	case CONSUL_STATUS_PASSING:
		v->status = HC_CONSUL_PASSING;
		break;
	case CONSUL_STATUS_WARNING:
		v->status = HC_CONSUL_WARNING;
		break;
	case CONSUL_STATUS_MAINTENANCE:
		v->status = HC_CONSUL_MAINTENANCE;
		break;
	default:
		v->status = HC_CONSUL_CRITICAL;
		break;
	}
	switch (verdict) {
	case LB_INSTANCE_COUNTS:
		v->verdict = HC_CONSUL_COUNTS;
		break;
	case LB_INSTANCE_NODE_DOWN:
		v->verdict = HC_CONSUL_NODE_DOWN;
		break;
	case LB_INSTANCE_NODE_MAINT:
		v->verdict = HC_CONSUL_NODE_MAINT;
		v->status = HC_CONSUL_MAINTENANCE;
		break;
	case LB_INSTANCE_SERVICE_MAINT:
		v->verdict = HC_CONSUL_SERVICE_MAINT;
		v->status = HC_CONSUL_MAINTENANCE;
		break;
	default:
		v->verdict = HC_CONSUL_CHECKS;
		break;
	}
	v->weight_passing = ce->weight_passing > 0 ? (unsigned)ce->weight_passing : 1;
	v->weight_warning = ce->weight_warning > 0 ? (unsigned)ce->weight_warning : 0;
}

/* Every target of the current set that came from a Consul instance gets
 * the view of that instance. A target the table holds up keeps a view
 * that allows even when the instance cannot be found (it was in the
 * answer the table was built from). */
static void apply_consul(struct lb_health *h)
{
	const struct rt_table *t;
	uint64_t now = lb_health_now_ms();

	if (!h->cur || !h->watch)
		return;
	t = hc_set_table(h->cur);
	for (size_t i = 0; i < rt_table_nroutes(t); i++) {
		const struct rt_route *r = rt_table_route(t, i);

		for (size_t j = 0; j < r->ntargets; j++) {
			const struct rt_target *tg = r->targets[j];
			const struct consul_service_entry *ce = instance_of(h->watch, tg);
			struct hc_consul_view v;

			if (!ce)
				continue;
			view_of(h->watch, ce, &v);
			/* the table's word on whether it counts stands: it
			 * was built from this same answer */
			if (!tg->consul_down && v.verdict != HC_CONSUL_COUNTS)
				continue;
			if (tg->consul_down && v.verdict == HC_CONSUL_COUNTS)
				v.verdict = HC_CONSUL_TABLE_DOWN;
			hc_consul_set(h->reg, hc_set_entry(h->cur, tg->index), &v, now);
		}
	}
}

void lb_health_consul(struct lb_health *h)
{
	if (h)
		apply_consul(h);
}

/* ---- tables ---- */

void lb_health_table(struct lb_health *h, struct rt_table *t)
{
	struct hc_set *s;
	int rc;

	if (!h || !t)
		return;
	if (h->cur && rt_table_generation(t) == h->generation)
		return;
	s = hc_registry_sync(h->reg, t, lb_health_now_ms());
	if (!s) {
		LB_LOG(h->log, LB_LOG_ERROR,
		       "event=health_degraded generation=%llu error=\"%s\" "
		       "effect=\"table published without health state\"",
		       (unsigned long long)rt_table_generation(t),
		       strerror(errno));
		if (h->ws)
			lb_workers_publish(h->ws, t);
		return;
	}
	hc_set_unref(h->cur);
	h->cur = s;
	h->generation = rt_table_generation(t);
	apply_consul(h);
	rc = apply_probes(h);
	if (rc < 0)
		LB_LOG(h->log, LB_LOG_ERROR,
		       "event=probes_not_updated error=\"%s\"", strerror(-rc));
	if (h->ws)
		lb_workers_publish_set(h->ws, s);
}

void lb_health_set_workers(struct lb_health *h, struct lb_workers *ws)
{
	if (!h)
		return;
	h->ws = ws;
	if (ws && h->cur)
		lb_workers_publish_set(ws, h->cur);
}

void lb_health_set_watch(struct lb_health *h, const struct lb_watch *w)
{
	if (h)
		h->watch = w;
}

struct hc_registry *lb_health_registry(const struct lb_health *h)
{
	return h ? h->reg : NULL;
}

/* ---- life cycle ---- */

static int set_path(struct lb_health *h, const char *path)
{
	char *copy = NULL;

	if (path && *path && !(copy = strdup(path)))
		return -ENOMEM;
	free(h->check_path);
	h->check_path = copy;
	return 0;
}

int lb_health_set_opts(struct lb_health *h, const struct lb_health_opts *o)
{
	int new_prober = o->hc.probe.interval_ms != h->hc.probe.interval_ms ||
			 o->hc.probe.timeout_ms != h->hc.probe.timeout_ms;
	struct hc_prober *p = NULL;
	int rc;

	if (hc_config_check(&o->hc, NULL) < 0)
		return -EINVAL;
	if (set_path(h, o->check_path) < 0)
		return -ENOMEM;
	rc = hc_registry_set_config(h->reg, &o->hc, lb_health_now_ms());
	if (rc < 0)
		return rc;
	h->hc = o->hc;
	h->log = o->log;
	if (new_prober) {
		/* the schedule's grid follows the interval: start it over */
		p = prober_new(h);
		if (!p)
			return -ENOMEM;
		hc_prober_free(h->prober);
		h->prober = p;
	}
	return apply_probes(h);
}

struct lb_health *lb_health_new(struct event_base *base,
				const struct lb_health_opts *o, int *err)
{
	struct lb_health *h = calloc(1, sizeof(*h));
	struct timeval tv = { 0, LB_HEALTH_TICK_MS * 1000 };
	int rc = -ENOMEM;

	if (!h)
		goto fail;
	h->wake_fd = -1;
	if (hc_config_check(&o->hc, NULL) < 0) {
		rc = -EINVAL;
		goto fail;
	}
	h->base = base;
	h->hc = o->hc;
	h->log = o->log;
	if (set_path(h, o->check_path) < 0)
		goto fail;
	h->reg = hc_registry_new(&o->hc, on_transition, h);
	h->prober = h->reg ? prober_new(h) : NULL;
	h->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!h->reg || !h->prober || h->wake_fd < 0)
		goto fail;
	h->tick_ev = event_new(base, -1, EV_PERSIST, on_tick, h);
	h->wake_ev = event_new(base, h->wake_fd, EV_READ | EV_PERSIST, on_wake, h);
	if (!h->tick_ev || !h->wake_ev || event_add(h->tick_ev, &tv) < 0 ||
	    event_add(h->wake_ev, NULL) < 0)
		goto fail;
	return h;
fail:
	if (err)
		*err = rc;
	lb_health_free(h);
	return NULL;
}

void lb_health_free(struct lb_health *h)
{
	if (!h)
		return;
	if (h->tick_ev)
		event_free(h->tick_ev);
	if (h->wake_ev)
		event_free(h->wake_ev);
	if (h->wake_fd >= 0)
		close(h->wake_fd);
	hc_prober_free(h->prober);
	hc_set_unref(h->cur);
	hc_registry_free(h->reg);
	free(h->check_path);
	free(h);
}
