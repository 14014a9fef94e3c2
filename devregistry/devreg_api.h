/*
 * devreg_api.h - the Consul endpoint handlers (see devreg_http.h for the
 * handler contract). Paths and methods are tied to them in devreg_http.c.
 */
#ifndef DEVREG_API_H
#define DEVREG_API_H

#include "devregistry/devreg_http.h"

/* devreg_api_agent.c */
int devreg_api_agent_self(struct devreg_req *r);
int devreg_api_agent_members(struct devreg_req *r);
int devreg_api_agent_services(struct devreg_req *r);
int devreg_api_agent_service(struct devreg_req *r);
int devreg_api_agent_checks(struct devreg_req *r);
int devreg_api_service_register(struct devreg_req *r);
int devreg_api_service_deregister(struct devreg_req *r);
int devreg_api_service_maintenance(struct devreg_req *r);
int devreg_api_node_maintenance(struct devreg_req *r);
int devreg_api_check_register(struct devreg_req *r);
int devreg_api_check_deregister(struct devreg_req *r);
int devreg_api_check_pass(struct devreg_req *r);
int devreg_api_check_warn(struct devreg_req *r);
int devreg_api_check_fail(struct devreg_req *r);
int devreg_api_check_update(struct devreg_req *r);
int devreg_api_agent_health_id(struct devreg_req *r);
int devreg_api_agent_health_name(struct devreg_req *r);

/* devreg_api_catalog.c: catalog, health, status */
int devreg_api_catalog_services(struct devreg_req *r);
int devreg_api_catalog_service(struct devreg_req *r);
int devreg_api_catalog_nodes(struct devreg_req *r);
int devreg_api_catalog_datacenters(struct devreg_req *r);
int devreg_api_health_service(struct devreg_req *r);
int devreg_api_health_state(struct devreg_req *r);
int devreg_api_health_checks(struct devreg_req *r);
int devreg_api_status_leader(struct devreg_req *r);
int devreg_api_status_peers(struct devreg_req *r);

/* devreg_api_kv.c */
int devreg_api_kv(struct devreg_req *r);

#endif
