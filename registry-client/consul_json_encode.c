/*
 * consul_json_encode.c - the body of PUT /v1/agent/service/register, in
 * the shape the Go client sends (consul-api §2.1, §7.1): optional fields
 * left out rather than sent empty, durations as Go duration strings.
 */
#include "registry-client/consul_json.h"
#include "registry-client/consul_json_internal.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

char *consul_duration_format(uint64_t ms, char *buf, size_t size)
{
	if (ms % 1000 == 0)
		snprintf(buf, size, "%" PRIu64 "s", ms / 1000);
	else
		snprintf(buf, size, "%" PRIu64 "ms", ms);
	return buf;
}

static int add_string(cJSON *obj, const char *key, const char *val)
{
	return cJSON_AddStringToObject(obj, key, val) ? 0 : -1;
}

static int add_duration(cJSON *obj, const char *key, uint64_t ms)
{
	char buf[32];

	return add_string(obj, key, consul_duration_format(ms, buf, sizeof(buf)));
}

/* One CheckType object, or NULL when the definition is unusable: an HTTP
 * or TCP check needs a target and an interval, a TTL check a TTL. */
static cJSON *check_new(const struct consul_check_def *def)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	if (def->id && add_string(o, "CheckID", def->id))
		goto fail;
	if (def->name && add_string(o, "Name", def->name))
		goto fail;
	switch (def->kind) {
	case CONSUL_CHECK_HTTP:
	case CONSUL_CHECK_TCP:
		if (!def->target || !*def->target || def->interval_ms == 0)
			goto fail;
		if (add_string(o, def->kind == CONSUL_CHECK_HTTP ? "HTTP" : "TCP",
			       def->target) ||
		    add_duration(o, "Interval", def->interval_ms))
			goto fail;
		if (def->timeout_ms && add_duration(o, "Timeout", def->timeout_ms))
			goto fail;
		break;
	case CONSUL_CHECK_TTL:
		if (def->ttl_ms == 0 || add_duration(o, "TTL", def->ttl_ms))
			goto fail;
		break;
	default:
		goto fail;
	}
	if (def->deregister_after_ms &&
	    add_duration(o, "DeregisterCriticalServiceAfter", def->deregister_after_ms))
		goto fail;
	if (def->status && add_string(o, "Status", def->status))
		goto fail;
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

static int fields_valid(const struct consul_registration *r)
{
	if (!r->name || !*r->name)
		return 0;
	if (r->port < 0 || r->port > 65535)
		return 0;
	if (r->ntags && !r->tags)
		return 0;
	for (size_t i = 0; i < r->ntags; i++)
		if (!r->tags[i])
			return 0;
	if (r->nmeta && !r->meta)
		return 0;
	for (size_t i = 0; i < 2 * r->nmeta; i++)
		if (!r->meta[i])
			return 0;
	if (r->weight_passing < 0 || r->weight_warning < 0)
		return 0;
	if (r->nchecks && !r->checks)
		return 0;
	return 1;
}

char *consul_json_encode_registration(const struct consul_registration *r)
{
	cJSON *root = NULL, *arr, *obj;
	char *out = NULL;

	if (!r || !fields_valid(r))
		return NULL;
	root = cJSON_CreateObject();
	if (!root)
		return NULL;
	if (r->id && add_string(root, "ID", r->id))
		goto done;
	if (add_string(root, "Name", r->name))
		goto done;
	if (r->address && add_string(root, "Address", r->address))
		goto done;
	if (r->port && !cJSON_AddNumberToObject(root, "Port", r->port))
		goto done;
	arr = cJSON_AddArrayToObject(root, "Tags");
	if (!arr)
		goto done;
	for (size_t i = 0; i < r->ntags; i++) {
		cJSON *s = cJSON_CreateString(r->tags[i]);
		if (!s || !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			goto done;
		}
	}
	if (r->nmeta) {
		obj = cJSON_AddObjectToObject(root, "Meta");
		if (!obj)
			goto done;
		for (size_t i = 0; i < r->nmeta; i++)
			if (add_string(obj, r->meta[2 * i], r->meta[2 * i + 1]))
				goto done;
	}
	if (r->weight_passing) {
		obj = cJSON_AddObjectToObject(root, "Weights");
		if (!obj || !cJSON_AddNumberToObject(obj, "Passing", r->weight_passing) ||
		    !cJSON_AddNumberToObject(obj, "Warning", r->weight_warning))
			goto done;
	}
	/* One check goes in "Check", several in "Checks": the agent names
	 * them service:<id> and service:<id>:<n> respectively. */
	if (r->nchecks == 1) {
		cJSON *c = check_new(&r->checks[0]);
		if (!c || !cJSON_AddItemToObject(root, "Check", c)) {
			cJSON_Delete(c);
			goto done;
		}
	} else if (r->nchecks > 1) {
		arr = cJSON_AddArrayToObject(root, "Checks");
		if (!arr)
			goto done;
		for (size_t i = 0; i < r->nchecks; i++) {
			cJSON *c = check_new(&r->checks[i]);
			if (!c || !cJSON_AddItemToArray(arr, c)) {
				cJSON_Delete(c);
				goto done;
			}
		}
	}
	out = cJSON_PrintUnformatted(root);
done:
	cJSON_Delete(root);
	return out;
}

char *consul_json_encode_check_update(enum consul_status status,
				      const char *output)
{
	cJSON *root;
	char *out = NULL;

	if (status != CONSUL_STATUS_PASSING && status != CONSUL_STATUS_WARNING &&
	    status != CONSUL_STATUS_CRITICAL)
		return NULL;
	root = cJSON_CreateObject();
	if (!root)
		return NULL;
	if (add_string(root, "Status", consul_status_name(status)) == 0 &&
	    add_string(root, "Output", output ? output : "") == 0)
		out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return out;
}
