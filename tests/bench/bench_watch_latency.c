/*
 * bench_watch_latency.c - how fast a blocked consul_watch wakes up after a
 * change, against a running agent (switchyard-registry or Consul).
 *
 * The main thread runs an event_base with one watch on
 * /v1/health/service/<name>, blocked most of the time. A second thread
 * re-registers the service through consul_api with alternating tags
 * ("blue"/"green") plus a generation tag "gen-<i>", and measures the time
 * from the agent's 200 answer to the watch's change callback for that
 * generation. The callback may even run first (the agent wakes waiters
 * before it answers the writer); that counts as 0.
 *
 *   bench_watch_latency [-addr HOST:PORT] [-changes N] [-max-ms M]
 *                       [-allow-over K] [-service NAME]
 *
 * Prints the median, p99 and max next to the target (p99 <= 5 ms). With
 * -max-ms, exits 1 when more than K (default 0) changes took longer than M
 * ms; a change never seen within 2 s always fails the run.
 */
#include "registry-client/consul_api.h"
#include "registry-client/consul_watch.h"
#include "tests/bench/bench_stats.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TARGET_P99_MS 5.0
#define CHANGE_TIMEOUT_MS 2000
/* Pause after each observed change so that the watch is blocked again
 * when the next one is written: this measures wake-up, not re-polling. */
#define SETTLE_US 2000

struct bench {
	const char *addr;
	char service[64];
	char service_id[80];
	unsigned changes;
	double max_ms;          /* < 0: no pass/fail bound */
	unsigned allow_over;

	struct event_base *base;
	struct consul_client *watch_client;
	struct consul_watcher *watcher;
	struct consul_watch *watch;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	long seen_gen;          /* highest generation the watch delivered */
	uint64_t *seen_ns;      /* when each generation was delivered */
	int failed;
	char error[256];
};

/* The generation in the tags of our instance, or -1. */
static long generation_in(const struct bench *b, const struct consul_response *resp)
{
	struct consul_service_list l;
	struct consul_json_err err;
	long gen = -1;

	if (resp->status != 200 ||
	    consul_json_decode_health_service(resp->body, resp->body_len, &l, &err) != 0)
		return -1;
	for (size_t i = 0; i < l.n; i++) {
		if (strcmp(l.v[i].id, b->service_id) != 0)
			continue;
		for (size_t t = 0; t < l.v[i].ntags; t++)
			if (strncmp(l.v[i].tags[t], "gen-", 4) == 0)
				gen = strtol(l.v[i].tags[t] + 4, NULL, 10);
	}
	consul_service_list_clear(&l);
	return gen;
}

static void on_change(struct consul_watch *w, const struct consul_response *resp,
		      void *arg)
{
	struct bench *b = arg;
	uint64_t t = now_ns();  /* before decoding: the wake-up is what counts */
	long gen = generation_in(b, resp);

	if (gen < 0 || gen > (long)b->changes)
		return;
	pthread_mutex_lock(&b->lock);
	if (gen > b->seen_gen) {
		for (long g = b->seen_gen + 1; g <= gen; g++)
			b->seen_ns[g] = t;
		b->seen_gen = gen;
		pthread_cond_broadcast(&b->cond);
	}
	pthread_mutex_unlock(&b->lock);
}

static void on_state(struct consul_watch *w, int up, const char *why, void *arg)
{
	fprintf(stderr, "bench_watch_latency: watch %s: %s\n", up ? "up" : "down", why);
}

static int register_gen(struct consul_client *c, const struct bench *b, unsigned gen)
{
	char gen_tag[32];
	const char *tags[2];
	struct consul_registration reg = {
		.id = b->service_id, .name = b->service, .address = "127.0.0.1",
		.port = 9, .tags = tags, .ntags = 2,
	};

	snprintf(gen_tag, sizeof(gen_tag), "gen-%u", gen);
	tags[0] = gen % 2 ? "blue" : "green";
	tags[1] = gen_tag;
	return consul_agent_service_register(c, &reg, 0);
}

/* Waits until generation gen was delivered; its time, or 0 on timeout. */
static uint64_t wait_gen(struct bench *b, unsigned gen)
{
	struct timespec deadline;
	uint64_t t = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += CHANGE_TIMEOUT_MS / 1000;
	pthread_mutex_lock(&b->lock);
	while (b->seen_gen < (long)gen) {
		if (pthread_cond_timedwait(&b->cond, &b->lock, &deadline) == ETIMEDOUT)
			break;
	}
	if (b->seen_gen >= (long)gen)
		t = b->seen_ns[gen];
	pthread_mutex_unlock(&b->lock);
	return t;
}

struct writer {
	struct bench *b;
	double *lat_ms;         /* per change; < 0 when never seen */
};

static void *writer_main(void *arg)
{
	struct writer *wt = arg;
	struct bench *b = wt->b;
	struct consul_config cfg = {.address = b->addr};
	struct consul_client *c = consul_client_new(&cfg);
	int rc;

	if (!c) {
		snprintf(b->error, sizeof(b->error), "bad address %s", b->addr);
		b->failed = 1;
		goto out;
	}
	/* Generation 0 is the starting point, seen before measuring. */
	if ((rc = register_gen(c, b, 0)) != 0 || wait_gen(b, 0) == 0) {
		snprintf(b->error, sizeof(b->error), "setup: %s",
			 rc ? consul_api_last_error(c) : "the watch never saw the service");
		b->failed = 1;
		goto out;
	}
	for (unsigned i = 1; i <= b->changes; i++) {
		usleep(SETTLE_US);
		rc = register_gen(c, b, i);
		uint64_t ok_ns = now_ns();
		if (rc != 0) {
			snprintf(b->error, sizeof(b->error), "change %u: %s", i,
				 consul_api_last_error(c));
			b->failed = 1;
			break;
		}
		uint64_t seen = wait_gen(b, i);
		if (seen == 0)
			wt->lat_ms[i - 1] = -1.0;
		else
			wt->lat_ms[i - 1] = seen > ok_ns ? (double)(seen - ok_ns) / 1e6 : 0.0;
	}
	consul_agent_service_deregister(c, b->service_id);
out:
	consul_client_free(c);
	event_base_loopexit(b->base, NULL);
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_watch_latency [-addr HOST:PORT] [-changes N] "
			"[-max-ms M] [-allow-over K] [-service NAME]\n");
	exit(2);
}

static void parse_args(int argc, char **argv, struct bench *b)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		while (*a == '-')
			a++;
		if (i + 1 >= argc)
			usage();
		const char *v = argv[++i];
		if (strcmp(a, "addr") == 0)
			b->addr = v;
		else if (strcmp(a, "changes") == 0)
			b->changes = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "max-ms") == 0)
			b->max_ms = strtod(v, NULL);
		else if (strcmp(a, "allow-over") == 0)
			b->allow_over = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "service") == 0)
			snprintf(b->service, sizeof(b->service), "%s", v);
		else
			usage();
	}
	if (b->changes == 0)
		usage();
}

int main(int argc, char **argv)
{
	struct bench b = {.addr = NULL, .changes = 1000, .max_ms = -1.0,
			  .seen_gen = -1};
	struct writer wt = {.b = &b};
	pthread_t thread;
	char path[128], *esc;
	int status = 0;

	signal(SIGPIPE, SIG_IGN);
	b.addr = getenv("CONSUL_HTTP_ADDR") ? getenv("CONSUL_HTTP_ADDR") : "127.0.0.1:8500";
	snprintf(b.service, sizeof(b.service), "bench-watch-%ld", (long)getpid());
	parse_args(argc, argv, &b);
	snprintf(b.service_id, sizeof(b.service_id), "%s-1", b.service);
	pthread_mutex_init(&b.lock, NULL);
	pthread_cond_init(&b.cond, NULL);
	b.seen_ns = calloc(b.changes + 1, sizeof(*b.seen_ns));
	wt.lat_ms = calloc(b.changes, sizeof(*wt.lat_ms));
	if (!b.seen_ns || !wt.lat_ms || evthread_use_pthreads() != 0)
		return 2;

	struct consul_config cfg = {.address = b.addr};
	b.base = event_base_new();
	b.watch_client = consul_client_new(&cfg);
	if (!b.base || !b.watch_client) {
		fprintf(stderr, "bench_watch_latency: bad address %s\n", b.addr);
		return 2;
	}
	b.watcher = consul_watcher_new(b.base, b.watch_client);
	esc = consul_escape_segment(b.service);
	snprintf(path, sizeof(path), "/v1/health/service/%s", esc);
	free(esc);
	/* A generous bucket: the bench measures wake-up, not the rate limit
	 * (which would hold back every request after the first ten). */
	struct consul_watch_opts o = {.path = path, .rate = 1000, .burst = 100,
				      .backoff_min_ms = 50, .backoff_max_ms = 1000,
				      .on_change = on_change, .on_state = on_state,
				      .arg = &b};
	b.watch = consul_watch_start(b.watcher, &o);
	if (!b.watcher || !b.watch ||
	    pthread_create(&thread, NULL, writer_main, &wt) != 0)
		return 2;
	event_base_dispatch(b.base);
	pthread_join(thread, NULL);
	consul_watcher_free(b.watcher);
	consul_client_free(b.watch_client);
	event_base_free(b.base);

	if (b.failed) {
		fprintf(stderr, "bench_watch_latency: %s\n", b.error);
		return 1;
	}
	unsigned missed = 0, over = 0, n = 0;
	double *sorted = calloc(b.changes, sizeof(*sorted));
	for (unsigned i = 0; i < b.changes; i++) {
		if (wt.lat_ms[i] < 0) {
			missed++;
			continue;
		}
		if (b.max_ms >= 0 && wt.lat_ms[i] > b.max_ms)
			over++;
		sorted[n++] = wt.lat_ms[i];
	}
	qsort(sorted, n, sizeof(*sorted), cmp_double);
	double median = n ? sorted[(n - 1) / 2] : 0;
	unsigned p99i = n ? (unsigned)((n * 99 + 99) / 100) - 1 : 0;
	double p99 = n ? sorted[p99i < n ? p99i : n - 1] : 0;
	double max = n ? sorted[n - 1] : 0;

	printf("watch wake latency (agent 200 -> change callback), %u changes at %s:\n",
	       b.changes, b.addr);
	printf("  median %8.3f ms\n", median);
	printf("  p99    %8.3f ms   target <= %.3f ms   %s\n", p99, TARGET_P99_MS,
	       p99 <= TARGET_P99_MS ? "met" : "MISSED");
	printf("  max    %8.3f ms\n", max);
	if (missed) {
		printf("  never seen within %d ms: %u\n", CHANGE_TIMEOUT_MS, missed);
		status = 1;
	}
	if (b.max_ms >= 0) {
		printf("  over %.3f ms: %u (allowed %u)\n", b.max_ms, over, b.allow_over);
		if (over + missed > b.allow_over)
			status = 1;
	}
	if (b.max_ms >= 0 && n <= 50)
		for (unsigned i = 0; i < b.changes; i++)
			printf("  change %u: %.3f ms\n", i + 1, wt.lat_ms[i]);
	free(sorted);
	free(wt.lat_ms);
	free(b.seen_ns);
	return status;
}
