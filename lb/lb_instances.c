/*
 * lb_instances.c - fabio's instance filter (registry/consul/passing.go),
 * evaluated per element of /v1/health/service/<name>, which already holds
 * exactly the node's checks and the instance's own.
 */
#include "lb/lb_instances.h"

#include <string.h>

#define SERVICE_MAINT_PREFIX "_service_maintenance:"

/* A check that takes the instance out whatever else holds. */
static int excludes(const struct consul_service_entry *e,
		    const struct consul_check *c)
{
	const char *id = c->check_id;

	if (strcmp(id, "serfHealth") == 0)
		return c->status == CONSUL_STATUS_CRITICAL;
	if (strcmp(id, "_node_maintenance") == 0)
		return 1;
	if (strncmp(id, SERVICE_MAINT_PREFIX, strlen(SERVICE_MAINT_PREFIX)) == 0)
		return strcmp(id + strlen(SERVICE_MAINT_PREFIX), e->id) == 0;
	return 0;
}

/* One of the instance's own checks (node-level ones have no ServiceID). */
static int is_own(const struct consul_service_entry *e,
		  const struct consul_check *c)
{
	return c->service_id[0] != '\0' && strcmp(c->service_id, e->id) == 0;
}

int lb_instance_counts(const struct consul_service_entry *e,
		       unsigned status_mask, int checks_all)
{
	size_t own = 0, accepted = 0;

	if (!e)
		return 0;
	if (status_mask == 0)
		status_mask = LB_STATUS_PASSING;
	for (size_t i = 0; i < e->nchecks; i++) {
		const struct consul_check *c = &e->checks[i];

		if (excludes(e, c))
			return 0;
		if (!is_own(e, c))
			continue;
		own++;
		if (status_mask & LB_STATUS_BIT(c->status))
			accepted++;
	}
	if (own == 0)
		return (status_mask & LB_STATUS_PASSING) != 0;
	return checks_all ? accepted == own : accepted > 0;
}

int lb_instance_weight(const struct consul_service_entry *e)
{
	if (!e)
		return 0;
	switch (consul_checks_aggregate(e->checks, e->nchecks)) {
	case CONSUL_STATUS_PASSING:
		return e->weight_passing;
	case CONSUL_STATUS_WARNING:
		return e->weight_warning;
	default:
		return 0;
	}
}
