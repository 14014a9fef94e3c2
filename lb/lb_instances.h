/*
 * lb_instances.h - which Consul service instances get traffic: fabio's
 * status filter (registry.consul.service.status, checksRequired) over one
 * element of /v1/health/service/<name>, plus the node and maintenance
 * rules that exclude an instance whatever its own checks say.
 */
#ifndef LB_INSTANCES_H
#define LB_INSTANCES_H

#include "registry-client/consul_json.h"

/* A set of check statuses: LB_STATUS_BIT(CONSUL_STATUS_PASSING) | ... */
#define LB_STATUS_BIT(st) (1u << (unsigned)(st))
#define LB_STATUS_PASSING LB_STATUS_BIT(CONSUL_STATUS_PASSING)
#define LB_STATUS_WARNING LB_STATUS_BIT(CONSUL_STATUS_WARNING)
#define LB_STATUS_CRITICAL LB_STATUS_BIT(CONSUL_STATUS_CRITICAL)
#define LB_STATUS_UNKNOWN LB_STATUS_BIT(CONSUL_STATUS_UNKNOWN)

/*
 * Whether instance e counts, with status_mask the accepted statuses (0
 * means passing only) and checks_all fabio's checksRequired=all:
 *   - excluded when the node's serfHealth is critical, when the node has a
 *     _node_maintenance check, or when _service_maintenance:<id> exists;
 *   - node-level checks are otherwise ignored (as fabio);
 *   - the instance's own checks (ServiceID == e->id): one of them accepted
 *     (checksRequired=one), or all of them accepted (=all);
 *   - an instance with no checks of its own counts as passing.
 * Returns 1 or 0.
 */
int lb_instance_counts(const struct consul_service_entry *e,
		       unsigned status_mask, int checks_all);

/* Why an instance counts or not, in the order lb_instance_counts decides. */
enum lb_instance_verdict {
	LB_INSTANCE_COUNTS = 0,
	LB_INSTANCE_CHECKS,          /* its own checks are not accepted (NULL e too) */
	LB_INSTANCE_NODE_DOWN,       /* serfHealth critical */
	LB_INSTANCE_NODE_MAINT,      /* _node_maintenance */
	LB_INSTANCE_SERVICE_MAINT    /* _service_maintenance:<id> */
};

/* lb_instance_counts with the reason: the first excluding check met in
 * e's order decides between the node and maintenance verdicts. */
enum lb_instance_verdict lb_instance_verdict(const struct consul_service_entry *e,
					     unsigned status_mask,
					     int checks_all);
/* "counts", "checks", "node_down", "node_maintenance",
 * "service_maintenance" (log values); never NULL. */
const char *lb_instance_verdict_name(enum lb_instance_verdict v);

/*
 * The weight Consul's DNS would give e (consul-api §3.9): Weights.Passing
 * when every check that applies (node-level and own) passes,
 * Weights.Warning when the worst is warning, 0 when critical or in
 * maintenance.
 */
int lb_instance_weight(const struct consul_service_entry *e);

#endif
