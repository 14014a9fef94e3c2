/*
 * devreg_checks.h - the agent's check runner and reaper on an event_base.
 *
 * HTTP and TCP checks run every Interval, the first time after a random
 * delay in [0, Interval), their results going through Consul's
 * SuccessBeforePassing / FailuresBeforeWarning / FailuresBeforeCritical
 * counters. TTL checks turn critical ("TTL expired") when no update
 * arrives within TTL. Other check types are stored but not run. The
 * reaper deregisters services whose check stayed critical longer than
 * DeregisterCriticalServiceAfter, every reap interval.
 */
#ifndef DEVREG_CHECKS_H
#define DEVREG_CHECKS_H

#include <event2/event.h>
#include <stdint.h>

#include "devregistry/devreg_log.h"
#include "devregistry/devreg_store.h"

struct devreg_checks;

/* NULL when out of memory. The store must outlive the runner. */
struct devreg_checks *devreg_checks_new(struct event_base *base,
					struct devreg_store *store,
					int64_t reap_interval_ms,
					const struct devreg_log *log);
/* Stop every runner and the reaper. NULL is a no-op. */
void devreg_checks_free(struct devreg_checks *k);

/* The store's check_started / check_stopped hooks. */
void devreg_checks_start(struct devreg_checks *k, struct devreg_check *c);
void devreg_checks_stop(struct devreg_checks *k, struct devreg_check *c);

/* A TTL update from the API (pass/warn/fail/update): store it and restart
 * the TTL timer. -EINVAL when c is not a TTL check, -ENOMEM, else 0. */
int devreg_checks_ttl_update(struct devreg_checks *k, struct devreg_check *c,
			     enum devreg_status status, const char *output);

#endif
