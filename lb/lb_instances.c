/*
 * lb_instances.c - fabio's instance filter (registry/consul/passing.go),
 * evaluated per element of /v1/health/service/<name>, which already holds
 * exactly the node's checks and the instance's own.
 */
#include "lb/lb_instances.h"

#include <string.h>

#define SERVICE_MAINT_PREFIX "_service_maintenance:"

/* A check that takes the instance out whatever else holds: the verdict
 * it gives, or LB_INSTANCE_COUNTS when it is not such a check. */
static enum lb_instance_verdict excludes(const struct consul_service_entry *e,
					 const struct consul_check *c)
{
	const char *id = c->check_id;

	if (strcmp(id, "serfHealth") == 0)
		return c->status == CONSUL_STATUS_CRITICAL ? LB_INSTANCE_NODE_DOWN
							   : LB_INSTANCE_COUNTS;
	if (strcmp(id, "_node_maintenance") == 0)
		return LB_INSTANCE_NODE_MAINT;
	if (strncmp(id, SERVICE_MAINT_PREFIX, strlen(SERVICE_MAINT_PREFIX)) == 0 &&
	    strcmp(id + strlen(SERVICE_MAINT_PREFIX), e->id) == 0)
		return LB_INSTANCE_SERVICE_MAINT;
	return LB_INSTANCE_COUNTS;
}

/* One of the instance's own checks (node-level ones have no ServiceID). */
static int is_own(const struct consul_service_entry *e,
		  const struct consul_check *c)
{
	return c->service_id[0] != '\0' && strcmp(c->service_id, e->id) == 0;
}

enum lb_instance_verdict lb_instance_verdict(const struct consul_service_entry *e,
					     unsigned status_mask,
					     int checks_all)
{
	size_t own = 0, accepted = 0;
	int ok;

	if (!e)
		return LB_INSTANCE_CHECKS;
	if (status_mask == 0)
		status_mask = LB_STATUS_PASSING;
	for (size_t i = 0; i < e->nchecks; i++) {
		const struct consul_check *c = &e->checks[i];
		enum lb_instance_verdict v = excludes(e, c);

		if (v != LB_INSTANCE_COUNTS)
			return v;
		if (!is_own(e, c))
			continue;
		own++;
		if (status_mask & LB_STATUS_BIT(c->status))
			accepted++;
	}
	if (own == 0)
		ok = (status_mask & LB_STATUS_PASSING) != 0;
	else
		ok = checks_all ? accepted == own : accepted > 0;
	return ok ? LB_INSTANCE_COUNTS : LB_INSTANCE_CHECKS;
}

int lb_instance_counts(const struct consul_service_entry *e,
		       unsigned status_mask, int checks_all)
{
	return lb_instance_verdict(e, status_mask, checks_all) ==
	       LB_INSTANCE_COUNTS;
}

const char *lb_instance_verdict_name(enum lb_instance_verdict v)
{
	switch (v) {
	case LB_INSTANCE_COUNTS:
		return "counts";
	case LB_INSTANCE_CHECKS:
		return "checks";
	case LB_INSTANCE_NODE_DOWN:
		return "node_down";
	case LB_INSTANCE_NODE_MAINT:
		return "node_maintenance";
	case LB_INSTANCE_SERVICE_MAINT:
		return "service_maintenance";
	}
	return "unknown";
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
