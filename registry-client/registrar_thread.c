/*
 * registrar_thread.c - the background thread that keeps a registration
 * alive.
 *
 * It holds the handle's lock except while it sleeps on the condition
 * variable, so the public calls and the thread never talk to the agent at
 * the same time, and registrar_stop() wakes it at once. Each turn does at
 * most one thing, the most urgent:
 *   not registered     -> register (retry 250 ms while the agent is down,
 *                         2 s after a refusal)
 *   TTL heartbeat due  -> heartbeat (every ttl/3 or the period asked
 *                         for, per TTL check: main and extra)
 *   probe due          -> ask the agent whether it still knows the ID
 *                         (every second), so an agent that restarted
 *                         empty is noticed even without a TTL check
 * Every rgr_sync_* call moves the schedule forward, so the loop cannot
 * spin.
 */
#include <time.h>
#include "registry-client/registrar-internal.h"

static void sleep_until(struct registrar *r, int64_t when_ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(when_ms / 1000);
	ts.tv_nsec = (long)(when_ms % 1000) * 1000000L;
	pthread_cond_timedwait(&r->wake, &r->lock, &ts);
}

/* The first TTL check whose heartbeat is due by now, or -1; *due is
 * lowered to the earliest heartbeat still to come. */
static int beat_due(const struct registrar *r, int64_t now, int64_t *due)
{
	for (size_t i = 0; i < r->spec.nbeats; i++) {
		if (now >= r->next_heartbeat_ms[i])
			return (int)i;
		if (r->next_heartbeat_ms[i] < *due)
			*due = r->next_heartbeat_ms[i];
	}
	return -1;
}

void *rgr_thread_main(void *arg)
{
	struct registrar *r = arg;

	rgr_lock(r);
	while (r->run == RGR_RUNNING) {
		int64_t now = rgr_now_ms(), due;

		if (r->nlogq) {
			/* Hand queued lines to the callback without the lock. */
			rgr_unlock(r);
			rgr_lock(r);
			continue;
		}
		if (!r->registered) {
			if (now >= r->next_retry_ms) {
				rgr_sync_register(r, r->lost_why);
				continue;
			}
			due = r->next_retry_ms;
		} else {
			int beat;

			due = r->next_probe_ms;
			beat = beat_due(r, now, &due);
			if (beat >= 0) {
				rgr_sync_heartbeat(r, (size_t)beat);
				continue;
			}
			if (now >= r->next_probe_ms) {
				rgr_sync_probe(r);
				continue;
			}
		}
		sleep_until(r, due);
	}
	rgr_unlock(r);
	return NULL;
}
