/*
 * devreg_decode.h - JSON request bodies into definitions, the way Consul's
 * Go decoder reads them: keys match case-insensitively, the snake_case
 * aliases work, null leaves a field unset, durations are Go strings or
 * nanosecond numbers, unknown keys are ignored (or rejected in strict
 * mode with `json: unknown field "x"`).
 *
 * Every function returns 0 with a new object in *out (the caller frees
 * it), -EINVAL with Go's decoder text in err (the part after "Request
 * decode failed: "), or -ENOMEM. Wrong types never crash: they give
 * `json: cannot unmarshal string into Go struct field
 * ServiceDefinition.Port of type int` and the like.
 */
#ifndef DEVREG_DECODE_H
#define DEVREG_DECODE_H

#include <stddef.h>

#include "devregistry/devreg_def.h"

/* PUT /v1/agent/service/register (ServiceDefinition). The non-empty Check
 * and the Checks elements end up in (*out)->checks, in that order. */
int devreg_decode_service(const char *body, size_t len, int strict,
			  struct devreg_service_def **out, char *err,
			  size_t errlen);

/* PUT /v1/agent/check/register (CheckDefinition). */
int devreg_decode_check(const char *body, size_t len, int strict,
			struct devreg_check_def **out, char *err,
			size_t errlen);

/* PUT /v1/agent/check/update/:id: {"Status", "Output"}. *status and
 * *output are new strings or NULL when absent. */
int devreg_decode_check_update(const char *body, size_t len, int strict,
			       char **status, char **output, char *err,
			       size_t errlen);

#endif
