/*
 * consul_api.h - one function per Consul endpoint, synchronous.
 *
 * Each call returns 0 on success or a negative errno:
 *   -EIO       no answer (transport error, timeout)
 *   -EMSGSIZE  the answer was bigger than the client's body limit
 *   -EPROTO    the answer could not be decoded
 *   -ENOENT    404 (unknown service, check or key)
 *   -EINVAL    400 (the agent rejected the request as malformed)
 *   -EACCES    403 (ACL)
 *   -EREMOTEIO any other unexpected status
 *   -ENOMEM
 * consul_api_last_error() gives a text for the last failure on that client,
 * such as "PUT /v1/agent/service/register: 400 Missing service name".
 * Out-parameters are only filled on success; index (when not NULL) gets the
 * X-Consul-Index of reads.
 */
#ifndef CONSUL_API_H
#define CONSUL_API_H

#include <stdint.h>
#include "registry-client/consul_http.h"
#include "registry-client/consul_json.h"

const char *consul_api_last_error(const struct consul_client *c);

int consul_agent_self(struct consul_client *c, struct consul_self *out);

int consul_agent_service_register(struct consul_client *c,
				  const struct consul_registration *reg,
				  int replace_existing_checks);
int consul_agent_service_deregister(struct consul_client *c, const char *id);
/* 0 when the agent knows the service ID, -ENOENT when it does not. */
int consul_agent_service_exists(struct consul_client *c, const char *id);
int consul_agent_service_maintenance(struct consul_client *c, const char *id,
				     int enable, const char *reason);
int consul_agent_node_maintenance(struct consul_client *c, int enable,
				  const char *reason);

/* PUT /v1/agent/check/{pass,warn,fail}/<id>?note=; status picks the verb. */
int consul_agent_check_ttl(struct consul_client *c, const char *check_id,
			   enum consul_status status, const char *note);
/* PUT /v1/agent/check/update/<id> {"Status","Output"}. */
int consul_agent_check_update(struct consul_client *c, const char *check_id,
			      enum consul_status status, const char *output);

int consul_catalog_services(struct consul_client *c,
			    struct consul_catalog *out, uint64_t *index);
int consul_health_service(struct consul_client *c, const char *name,
			  int passing_only, struct consul_service_list *out,
			  uint64_t *index);
/* state: "any", "passing", "warning" or "critical". */
int consul_health_state(struct consul_client *c, const char *state,
			struct consul_check_list *out, uint64_t *index);

/* A missing key gives -ENOENT, with *index still filled. */
int consul_kv_get(struct consul_client *c, const char *key,
		  struct consul_kv_entry *out, uint64_t *index);
/* Everything under prefix; none gives 0 and an empty list. */
int consul_kv_list(struct consul_client *c, const char *prefix,
		   struct consul_kv_list *out, uint64_t *index);
/* cas NULL: plain set; otherwise check-and-set (0: create only).
 * *ok (may be NULL) is the agent's true/false. */
int consul_kv_put(struct consul_client *c, const char *key, const void *val,
		  size_t len, const uint64_t *cas, int *ok);
int consul_kv_delete(struct consul_client *c, const char *key, int recurse,
		     const uint64_t *cas, int *ok);

void consul_kv_entry_clear(struct consul_kv_entry *e);

#endif
