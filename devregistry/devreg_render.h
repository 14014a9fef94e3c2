/*
 * devreg_render.h - the JSON shapes of Consul's records (structs.Node,
 * HealthCheck, NodeService, ServiceNode, api.AgentService, DirEntry) as
 * cJSON trees. Each function returns a new tree (the caller deletes it)
 * or NULL when out of memory. Arrays that Consul forces to [] (Tags,
 * ServiceTags) are [] here too, Meta is {} rather than null, and a check's
 * Definition is always {} so that Go clients never meet an empty duration.
 */
#ifndef DEVREG_RENDER_H
#define DEVREG_RENDER_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "devregistry/devreg_store.h"

#define DEVREG_CONSUL_VERSION "1.17.0"

cJSON *devreg_render_node(const struct devreg_store *s);
cJSON *devreg_render_check(const struct devreg_store *s,
			   const struct devreg_check *c);
/* api.AgentService: /v1/agent/services and /v1/agent/service/:id. */
cJSON *devreg_render_agent_service(const struct devreg_store *s,
				   const struct devreg_service *svc);
/* structs.NodeService: the "Service" of /v1/health/service. */
cJSON *devreg_render_node_service(const struct devreg_store *s,
				  const struct devreg_service *svc);
/* structs.ServiceNode: /v1/catalog/service. */
cJSON *devreg_render_service_node(const struct devreg_store *s,
				  const struct devreg_service *svc);
/* structs.DirEntry: Value in standard base64, null when unset. */
cJSON *devreg_render_kv(const struct devreg_kv *e);

/* Standard base64 with padding of n bytes; a new string or NULL. */
char *devreg_base64(const unsigned char *p, size_t n);

/* Whether svc carries every tag in want (case-insensitive). */
int devreg_service_has_tags(const struct devreg_service *svc,
			    const char *const *want, size_t nwant);

#endif
