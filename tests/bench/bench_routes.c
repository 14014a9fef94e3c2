/*
 * bench_routes.c - the route table's figures at 10 and at 10,000 services
 * of 3 instances each: build time, table memory, lookup and pick times,
 * printed next to their targets. Never fails on a slow machine: it prints
 * "over" where a figure misses its target and still exits 0 (exit 1 only
 * when something could not be built at all).
 *
 *   bench_routes [-services N[,N...]] [-builds K] [-build-only]
 *
 * -build-only stops after the builds and prints their figures alone (for
 * profiling the rebuild under callgrind or perf).
 *
 * Instances carry tags as real services do: half route by host
 * (urlprefix-svcN.example.com/), half by path (urlprefix-/svcN), every
 * 500th by a wildcard host, some with strip=, allow=, proto=https or a
 * fixed weight=, every fifth service with a canary instance that a
 * `route weight` override line sends 5% of its traffic to.
 *
 * Build time is the whole rebuild: instances -> rt_tags_commands, the
 * override text -> rt_parse, rt_table_build, freeing the commands; the
 * median of K builds. Memory is what malloc holds after the first build
 * (mallinfo2 before and after): the table, and the blocks of its build's
 * scratch memory that the routes module keeps for the next build; the
 * table's own rt_table_bytes is printed beside it. Lookup and pick times
 * are medians of batches of 1,000 calls on random existing host/paths
 * (one batch's average per sample, so the clock's own cost is spread).
 */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "routes/rt_parse.h"
#include "routes/rt_pick.h"
#include "routes/rt_table.h"
#include "routes/rt_tags.h"
#include "tests/bench/bench_stats.h"

#define INSTANCES 3
#define MAXTAGS 4
#define PROBES 4096      /* distinct requests looked up */
#define BATCH 1000       /* calls per timed sample */
#define SAMPLES 301      /* timed samples per median */

#define TARGET_BUILD_MS 30.0
#define TARGET_MEMORY_MB 20.0
#define TARGET_LOOKUP_NS 150.0
#define TARGET_PICK_NS 30.0
#define TARGET_LOOKUP_RATIO 2.0

struct instance_text {
	char id[32];
	char address[32];
	char tag[MAXTAGS][96];
	const char *tags[MAXTAGS];
	struct rt_instance in;
};

struct fleet {
	size_t nservices;
	struct instance_text *inst;   /* nservices * INSTANCES */
	char (*names)[24];
	char *overrides;              /* the KV override text */
};

struct probe {
	char host[64];
	char path[64];
	size_t host_len, path_len;
};

/* A timed figure: the median sample and the best one (on a busy machine
 * the best shows what the code costs when it has the core to itself). */
struct figures {
	size_t services, routes, targets;
	struct timing build_ms, lookup_ns, pick_rr_ns, pick_rnd_ns,
		pick_rr_cold_ns, pick_rnd_cold_ns;
	double memory_mb, table_mb;
};

static volatile uintptr_t sink;   /* keeps timed calls from being dropped */
static int build_only;            /* -build-only: no lookups or picks */

static uint64_t
next_random(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static size_t
heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

/* The route part and options of service s's tag. */
static void
route_tag(char *out, size_t size, size_t s)
{
	char opts[64] = "";

	if (s % 4 == 1)
		snprintf(opts, sizeof(opts), " strip=/svc%zu", s);
	else if (s % 9 == 0)
		snprintf(opts, sizeof(opts), " allow=ip:10.0.0.0/8,ip:fd00::/8");
	else if (s % 25 == 2)
		snprintf(opts, sizeof(opts), " proto=https tlsskipverify=true");
	if (s % 500 == 3)
		snprintf(out, size, "urlprefix-*.w%zu.example.org/%s", s, opts);
	else if (s % 2 == 0)
		snprintf(out, size, "urlprefix-svc%zu.example.com/%s", s, opts);
	else
		snprintf(out, size, "urlprefix-/svc%zu%s", s, opts);
}

static int
fleet_init(struct fleet *f, size_t nservices)
{
	size_t s, i, cap, len = 0;

	memset(f, 0, sizeof(*f));
	f->nservices = nservices;
	f->inst = calloc(nservices * INSTANCES, sizeof(*f->inst));
	f->names = calloc(nservices, sizeof(*f->names));
	cap = nservices * 96 + 64;
	f->overrides = malloc(cap);
	if (f->inst == NULL || f->names == NULL || f->overrides == NULL)
		return -ENOMEM;
	len += (size_t)snprintf(f->overrides + len, cap - len,
				"# --- fabio/config/canary\n");
	for (s = 0; s < nservices; s++) {
		snprintf(f->names[s], sizeof(f->names[s]), "svc%zu", s);
		for (i = 0; i < INSTANCES; i++) {
			struct instance_text *it = &f->inst[s * INSTANCES + i];
			size_t nt = 0;

			snprintf(it->id, sizeof(it->id), "svc%zu-%zu", s, i);
			snprintf(it->address, sizeof(it->address),
				 "10.%zu.%zu.%zu", (s >> 8) & 255, s & 255, i + 1);
			route_tag(it->tag[nt++], sizeof(it->tag[0]), s);
			/* A fixed share for one instance of every 7th. */
			if (s % 7 == 6 && i == 0)
				strcat(it->tag[0], " weight=0.2");
			snprintf(it->tag[nt++], sizeof(it->tag[0]), "v%zu", s % 3 + 1);
			snprintf(it->tag[nt++], sizeof(it->tag[0]), "zone-%c",
				 (char)('a' + i));
			if (s % 5 == 0 && i == 2)
				snprintf(it->tag[nt++], sizeof(it->tag[0]), "canary");
			for (size_t k = 0; k < nt; k++)
				it->tags[k] = it->tag[k];
			it->in.service = f->names[s];
			it->in.instance = it->id;
			it->in.node = "node1";
			it->in.address = it->address;
			it->in.node_address = "192.168.0.1";
			it->in.port = 8080 + (int)i;
			it->in.tags = it->tags;
			it->in.ntags = nt;
		}
		if (s % 5 == 0) {
			char src[96];

			route_tag(src, sizeof(src), s);
			*strchrnul(src, ' ') = '\0';
			len += (size_t)snprintf(f->overrides + len, cap - len,
				"route weight svc%zu %s weight 0.05 tags \"canary\"\n",
				s, src + strlen("urlprefix-"));
		}
	}
	return 0;
}

static void
fleet_free(struct fleet *f)
{
	free(f->inst);
	free(f->names);
	free(f->overrides);
}

/* One whole rebuild. NULL when out of memory; *errors counts the tags and
 * lines that were rejected and the commands the table could not apply
 * (there should be none: every override must find its canary). */
static struct rt_table *
rebuild(const struct fleet *f, size_t *errors)
{
	struct rt_cmd_list cmds = { 0 }, warnings = { 0 };
	struct rt_table *t = NULL;
	size_t i;

	for (i = 0; i < f->nservices * INSTANCES; i++)
		if (rt_tags_commands(&f->inst[i].in, "urlprefix-", "dc1", &cmds) != 0)
			goto out;
	if (rt_parse(f->overrides, strlen(f->overrides), &cmds) != 0)
		goto out;
	t = rt_table_build(&cmds, NULL, &warnings);
out:
	*errors = cmds.nerrs + warnings.nerrs;
	if (cmds.nerrs > 0)
		fprintf(stderr, "bench_routes: rejected: %s\n", cmds.errs[0].msg);
	if (warnings.nerrs > 0)
		fprintf(stderr, "bench_routes: not applied: %s\n",
			warnings.errs[0].msg);
	rt_cmd_list_clear(&cmds);
	rt_cmd_list_clear(&warnings);
	return t;
}

/* Requests for existing routes: a host route's host with any path, a
 * path route's path under some other host, a wildcard's subdomain. */
static void
make_probes(struct probe *p, size_t n, size_t nservices, uint64_t seed)
{
	size_t k;

	for (k = 0; k < n; k++) {
		size_t s = next_random(&seed) % nservices;

		if (s % 500 == 3) {
			snprintf(p[k].host, sizeof(p[k].host),
				 "api.w%zu.example.org", s);
			snprintf(p[k].path, sizeof(p[k].path), "/v1/items");
		} else if (s % 2 == 0) {
			snprintf(p[k].host, sizeof(p[k].host),
				 "svc%zu.example.com", s);
			snprintf(p[k].path, sizeof(p[k].path), "/index.html");
		} else {
			snprintf(p[k].host, sizeof(p[k].host), "lb.example.net");
			snprintf(p[k].path, sizeof(p[k].path), "/svc%zu/static/app.js", s);
		}
		p[k].host_len = strlen(p[k].host);
		p[k].path_len = strlen(p[k].path);
	}
}

static struct timing
time_lookups(const struct rt_table *t, const struct probe *p, size_t *misses)
{
	static double samples[SAMPLES];
	size_t k, j, at = 0;

	*misses = 0;
	for (k = 0; k < SAMPLES; k++) {
		uint64_t t0 = now_ns();

		for (j = 0; j < BATCH; j++) {
			const struct rt_route *r = rt_table_lookup(t,
				p[at].host, p[at].host_len,
				p[at].path, p[at].path_len, 0);

			*misses += r == NULL;
			sink += (uintptr_t)r;
			at = at + 1 == PROBES ? 0 : at + 1;
		}
		samples[k] = (double)(now_ns() - t0) / BATCH;
	}
	return summary(samples, SAMPLES);
}

/* The health predicate a worker would pass: one byte per target index. */
static int
up_by_index(const struct rt_target *t, void *arg)
{
	const unsigned char *up = arg;

	return up[t->index];
}

/* Picks with the health predicate over the first n of the routes the
 * probes found, in turn: n = 64 keeps them in cache (what picking costs),
 * n = PROBES spreads them over the table (what cache misses add). */
static struct timing
time_picks(struct rt_picker *p, const struct rt_route *const *routes,
	   size_t n, unsigned char *up)
{
	static double samples[SAMPLES];
	size_t k, j, at = 0;

	for (k = 0; k < SAMPLES; k++) {
		uint64_t t0 = now_ns();

		for (j = 0; j < BATCH; j++) {
			sink += (uintptr_t)rt_pick(p, routes[at], up_by_index, up);
			at = at + 1 == n ? 0 : at + 1;
		}
		samples[k] = (double)(now_ns() - t0) / BATCH;
	}
	return summary(samples, SAMPLES);
}

static int
measure(size_t nservices, unsigned builds, struct figures *fig)
{
	struct fleet f;
	struct rt_table *t = NULL;
	struct probe *probes = NULL;
	const struct rt_route **routes = NULL;
	struct rt_picker *rr = NULL, *rnd = NULL;
	unsigned char *up = NULL;
	double *build_ms = NULL;
	size_t before, errors = 0, misses = 0, k;
	int rc = -1;

	memset(fig, 0, sizeof(*fig));
	fig->services = nservices;
	if (fleet_init(&f, nservices) != 0)
		goto out;
	build_ms = calloc(builds, sizeof(*build_ms));
	probes = calloc(PROBES, sizeof(*probes));
	routes = calloc(PROBES, sizeof(*routes));
	if (build_ms == NULL || probes == NULL || routes == NULL)
		goto out;

	for (k = 0; k < builds; k++) {
		struct rt_table *b;
		uint64_t t0;

		before = heap_in_use();
		t0 = now_ns();
		b = rebuild(&f, &errors);
		build_ms[k] = (double)(now_ns() - t0) / 1e6;
		if (b == NULL || errors > 0)
			goto out;
		if (t == NULL) {
			/* The first table stays: it is the one measured. */
			fig->memory_mb = (double)(heap_in_use() - before) / (1 << 20);
			t = b;
		} else {
			rt_table_unref(b);
		}
	}
	fig->build_ms = summary(build_ms, builds);
	fig->table_mb = (double)rt_table_bytes(t) / (1 << 20);
	fig->routes = rt_table_nroutes(t);
	fig->targets = rt_table_ntargets(t);
	if (build_only) {
		rc = 0;
		goto out;
	}

	make_probes(probes, PROBES, nservices, 0x2545f4914f6cdd1du);
	for (k = 0; k < PROBES; k++) {
		routes[k] = rt_table_lookup(t, probes[k].host, probes[k].host_len,
					    probes[k].path, probes[k].path_len, 0);
		if (routes[k] == NULL) {
			fprintf(stderr, "bench_routes: no route for %s%s\n",
				probes[k].host, probes[k].path);
			goto out;
		}
	}
	fig->lookup_ns = time_lookups(t, probes, &misses);
	if (misses > 0)
		goto out;

	up = malloc(fig->targets + 1);
	rr = rt_picker_new(RT_STRATEGY_RR, 1);
	rnd = rt_picker_new(RT_STRATEGY_RND, 1);
	if (up == NULL || rr == NULL || rnd == NULL ||
	    rt_picker_attach(rr, t) != 0 || rt_picker_attach(rnd, t) != 0)
		goto out;
	memset(up, 1, fig->targets + 1);
	fig->pick_rr_ns = time_picks(rr, routes, 64, up);
	fig->pick_rnd_ns = time_picks(rnd, routes, 64, up);
	fig->pick_rr_cold_ns = time_picks(rr, routes, PROBES, up);
	fig->pick_rnd_cold_ns = time_picks(rnd, routes, PROBES, up);
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "bench_routes: %zu services: could not build or "
			"look up (%zu rejected, %zu misses)\n", nservices,
			errors, misses);
	rt_picker_free(rr);
	rt_picker_free(rnd);
	free(up);
	free(routes);
	free(probes);
	free(build_ms);
	rt_table_unref(t);
	fleet_free(&f);
	return rc;
}

#define ROW_FORMAT "%-40s %12s %12s   %-10s %s\n"

/* One line of the table; target < 0: a figure for information only. */
static void
row(const char *figure, size_t services, const char *unit,
    struct timing m, int timed, double target, const char *target_text)
{
	char name[64], value[32], best[32] = "";

	snprintf(name, sizeof(name), "%s, %zu services", figure, services);
	snprintf(value, sizeof(value), "%.*f %s", m.median < 10 ? 2 : 1,
		 m.median, unit);
	if (timed)
		snprintf(best, sizeof(best), "%.*f %s", m.best < 10 ? 2 : 1,
			 m.best, unit);
	printf(ROW_FORMAT, name, value, best, target_text,
	       target < 0 ? "" : m.median <= target ? "ok" : "over");
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_routes [-services N[,N...]] [-builds K] "
		"[-build-only]\n");
}

int
main(int argc, char **argv)
{
	size_t sizes[8] = { 10, 10000 }, nsizes = 2, i;
	unsigned builds = 11;
	struct figures fig[8];
	int a;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "-services") == 0 && a + 1 < argc) {
			char *s = argv[++a], *end;

			for (nsizes = 0; nsizes < 8 && *s != '\0'; nsizes++) {
				sizes[nsizes] = strtoul(s, &end, 10);
				if (end == s || sizes[nsizes] == 0)
					return usage(), 2;
				s = *end == ',' ? end + 1 : end;
			}
		} else if (strcmp(argv[a], "-builds") == 0 && a + 1 < argc) {
			builds = (unsigned)strtoul(argv[++a], NULL, 10);
			if (builds == 0)
				return usage(), 2;
		} else if (strcmp(argv[a], "-build-only") == 0) {
			build_only = 1;
		} else {
			return usage(), 2;
		}
	}
	for (i = 0; i < nsizes; i++)
		if (measure(sizes[i], builds, &fig[i]) != 0)
			return 1;

	printf("routes benchmark: %u instances per service; build: median of "
	       "%u rebuilds; lookup, pick: median of %d batches of %d calls\n",
	       INSTANCES, builds, SAMPLES, BATCH);
	printf(ROW_FORMAT, "figure", "median", "best", "target", "");
	for (i = 0; i < nsizes; i++) {
		struct figures *g = &fig[i];
		struct timing mem = { g->memory_mb, g->memory_mb };

		printf("-- %zu services: %zu routes, %zu targets, "
		       "rt_table_bytes %.2f MB\n", g->services, g->routes,
		       g->targets, g->table_mb);
		row("build", g->services, "ms", g->build_ms, 1,
		    TARGET_BUILD_MS, "<= 30 ms");
		row("table memory", g->services, "MB", mem, 0,
		    TARGET_MEMORY_MB, "<= 20 MB");
		if (build_only)
			continue;
		row("lookup", g->services, "ns", g->lookup_ns, 1,
		    TARGET_LOOKUP_NS, "<= 150 ns");
		row("pick rr", g->services, "ns", g->pick_rr_ns, 1,
		    TARGET_PICK_NS, "<= 30 ns");
		row("pick rnd", g->services, "ns", g->pick_rnd_ns, 1,
		    TARGET_PICK_NS, "<= 30 ns");
		row("pick rr, cold routes", g->services, "ns",
		    g->pick_rr_cold_ns, 1, -1, "-");
		row("pick rnd, cold routes", g->services, "ns",
		    g->pick_rnd_cold_ns, 1, -1, "-");
	}
	if (!build_only && nsizes >= 2 && fig[0].lookup_ns.median > 0) {
		double ratio = fig[nsizes - 1].lookup_ns.median /
			       fig[0].lookup_ns.median;
		char name[64], value[32];

		snprintf(name, sizeof(name), "lookup, %zu / %zu services",
			 fig[nsizes - 1].services, fig[0].services);
		snprintf(value, sizeof(value), "%.2fx", ratio);
		printf(ROW_FORMAT, name, value, "", "<= 2x",
		       ratio <= TARGET_LOOKUP_RATIO ? "ok" : "over");
	}
	return 0;
}
