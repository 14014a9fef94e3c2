/*
 * consul_json_internal.h - private to registry-client: encoders that only
 * consul_api needs.
 */
#ifndef CONSUL_JSON_INTERNAL_H
#define CONSUL_JSON_INTERNAL_H

#include "registry-client/consul_json.h"

/* {"Status":"<status>","Output":"<output>"} for PUT
 * /v1/agent/check/update/<id>. output NULL is "". Caller frees. NULL when
 * out of memory or status is not passing, warning or critical. */
char *consul_json_encode_check_update(enum consul_status status,
				      const char *output);

#endif
