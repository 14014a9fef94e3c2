/*
 * devreg_api_agent.c - /v1/agent/...: the agent's own services and checks,
 * their registration, TTL updates and maintenance mode.
 */
#include <errno.h>
#include <event2/keyvalq_struct.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devregistry/devreg_api.h"
#include "devregistry/devreg_decode.h"
#include "devregistry/devreg_duration.h"
#include "devregistry/devreg_jsonout.h"
#include "devregistry/devreg_render.h"

#define ERR_MAX 1024

/* Consul's 404 for a service or check ID (kind) the agent does not have,
 * with the ID as Go's %q writes it. */
static int
unknown_id(struct devreg_req *r, const char *kind, const char *id)
{
	char q[512];

	devreg_reply_text(r, 404,
			  "Unknown %s ID %s. Ensure that the %s ID is passed, not the %s name.",
			  kind, devreg_go_quote(id, q, sizeof(q)), kind, kind);
	return DEVREG_DONE;
}

/* The reply to a body a devreg_decode_* call refused (rc < 0): 500 when
 * out of memory, else 400 with the decoder's text. Returns whether it
 * replied. */
static int
decode_refused(struct devreg_req *r, int rc, const char *err)
{
	if (rc == -ENOMEM)
		devreg_reply_text(r, 500, "out of memory");
	else if (rc < 0)
		devreg_reply_text(r, 400, "Request decode failed: %s", err);
	return rc < 0;
}

/* The reply to a store change: 200 with no body, or 500 when it ran out of
 * memory (rc < 0). */
static int
reply_stored(struct devreg_req *r, int rc)
{
	if (rc < 0)
		devreg_reply_text(r, 500, "out of memory");
	else
		devreg_reply_empty(r, 200);
	return DEVREG_DONE;
}

static int
filter_unsupported(struct devreg_req *r)
{
	const char *f = devreg_query(r, "filter");

	if (f == NULL || *f == '\0')
		return 0;
	devreg_reply_text(r, 400,
			  "Failed to create boolean expression evaluator: filter expressions are not supported by this development agent");
	return 1;
}

static cJSON *
member(const struct devreg *d)
{
	const struct devreg_store *s = d->store;
	cJSON *m = cJSON_CreateObject(), *tags;

	devreg_json_add_str(m, "Name", s->node.name);
	devreg_json_add_str(m, "Addr", s->node.address);
	devreg_json_add_int(m, "Port", 8301);
	tags = cJSON_AddObjectToObject(m, "Tags");
	devreg_json_add_str(tags, "dc", s->node.datacenter);
	devreg_json_add_str(tags, "id", s->node.id);
	devreg_json_add_str(tags, "role", "consul");
	devreg_json_add_str(tags, "port", "8300");
	devreg_json_add_str(tags, "build", DEVREG_CONSUL_VERSION ":dev");
	devreg_json_add_str(tags, "vsn", "2");
	devreg_json_add_int(m, "Status", 1);
	devreg_json_add_int(m, "ProtocolMin", 1);
	devreg_json_add_int(m, "ProtocolMax", 5);
	devreg_json_add_int(m, "ProtocolCur", 2);
	devreg_json_add_int(m, "DelegateMin", 2);
	devreg_json_add_int(m, "DelegateMax", 5);
	devreg_json_add_int(m, "DelegateCur", 4);
	return m;
}

int
devreg_api_agent_self(struct devreg_req *r)
{
	const struct devreg_store *s = r->d->store;
	cJSON *o = cJSON_CreateObject(), *cfg, *meta;

	cfg = cJSON_AddObjectToObject(o, "Config");
	devreg_json_add_str(cfg, "Datacenter", s->node.datacenter);
	devreg_json_add_str(cfg, "PrimaryDatacenter", s->node.datacenter);
	devreg_json_add_str(cfg, "NodeName", s->node.name);
	devreg_json_add_str(cfg, "NodeID", s->node.id);
	devreg_json_add_str(cfg, "Revision", "dev");
	cJSON_AddBoolToObject(cfg, "Server", 1);
	devreg_json_add_str(cfg, "Version", DEVREG_CONSUL_VERSION);
	devreg_json_add_str(cfg, "BuildDate", "2024-01-01T00:00:00Z");
	cJSON_AddObjectToObject(o, "DebugConfig");
	cJSON_AddNullToObject(o, "Coord");
	if (o != NULL)
		cJSON_AddItemToObject(o, "Member", member(r->d));
	cJSON_AddObjectToObject(o, "Stats");
	meta = cJSON_AddObjectToObject(o, "Meta");
	devreg_json_add_str(meta, "consul-network-segment", "");
	devreg_reply_json(r, 200, o);
	return DEVREG_DONE;
}

int
devreg_api_agent_members(struct devreg_req *r)
{
	cJSON *a = cJSON_CreateArray();

	if (a != NULL)
		cJSON_AddItemToArray(a, member(r->d));
	devreg_reply_json(r, 200, a);
	return DEVREG_DONE;
}

int
devreg_api_agent_services(struct devreg_req *r)
{
	const struct devreg_store *s = r->d->store;
	cJSON *o;

	if (filter_unsupported(r))
		return DEVREG_DONE;
	o = cJSON_CreateObject();
	for (const struct devreg_service *svc = s->svc_head; o != NULL && svc != NULL;
	     svc = svc->next)
		if (svc->agent_local)
			cJSON_AddItemToObject(o, svc->def->id,
					      devreg_render_agent_service(s, svc));
	devreg_reply_json(r, 200, o);
	return DEVREG_DONE;
}

/* GET /v1/agent/service/:id, with hash blocking. */
int
devreg_api_agent_service(struct devreg_req *r)
{
	const struct devreg_store *s = r->d->store;
	const struct devreg_service *svc = devreg_store_service(s, r->rest);
	struct evbuffer *b;
	cJSON *o;
	char hash[24];
	uint64_t h = DEVREG_FNV_OFFSET;

	if (svc == NULL || !svc->agent_local) {
		devreg_reply_text(r, 404, "unknown service ID: %s", r->rest);
		return DEVREG_DONE;
	}
	o = devreg_render_agent_service(s, svc);
	b = evbuffer_new();
	if (o == NULL || b == NULL || devreg_json_write(b, o, 0) < 0) {
		cJSON_Delete(o);
		if (b != NULL)
			evbuffer_free(b);
		devreg_reply_text(r, 500, "out of memory");
		return DEVREG_DONE;
	}
	h = devreg_fnv1a(h, evbuffer_pullup(b, -1), evbuffer_get_length(b));
	evbuffer_free(b);
	snprintf(hash, sizeof(hash), "%016" PRIx64, h);
	if (devreg_block_on_hash(r, hash)) {
		cJSON_Delete(o);
		return DEVREG_PARK;
	}
	devreg_json_add_str(o, "ContentHash", hash);
	devreg_set_header(r, "X-Consul-Contenthash", hash);
	devreg_set_header(r, "X-Consul-Knownleader", "true");
	devreg_set_header(r, "X-Consul-Lastcontact", "0");
	devreg_reply_json(r, 200, o);
	return DEVREG_DONE;
}

int
devreg_api_agent_checks(struct devreg_req *r)
{
	const struct devreg_store *s = r->d->store;
	cJSON *o;

	if (filter_unsupported(r))
		return DEVREG_DONE;
	o = cJSON_CreateObject();
	for (const struct devreg_check *c = s->chk_head; o != NULL && c != NULL; c = c->next)
		if (c->agent_local)
			cJSON_AddItemToObject(o, c->id, devreg_render_check(s, c));
	devreg_reply_json(r, 200, o);
	return DEVREG_DONE;
}

int
devreg_api_service_register(struct devreg_req *r)
{
	struct devreg_service_def *def = NULL;
	const char *body, *rep;
	size_t len;
	char err[ERR_MAX];
	int rc, replace;

	body = devreg_body(r, &len);
	rc = devreg_decode_service(body, len, r->d->strict, &def, err, sizeof(err));
	if (decode_refused(r, rc, err))
		return DEVREG_DONE;
	if (devreg_service_def_validate(def, err, sizeof(err)) < 0) {
		devreg_service_def_free(def);
		devreg_reply_text(r, 400, "%s", err);
		return DEVREG_DONE;
	}
	if (devreg_service_def_apply_defaults(def) < 0) {
		devreg_service_def_free(def);
		devreg_reply_text(r, 500, "out of memory");
		return DEVREG_DONE;
	}
	rep = devreg_query(r, "replace-existing-checks");
	replace = rep != NULL && (*rep == '\0' || strcmp(rep, "true") == 0);
	rc = devreg_store_register_service(r->d->store, def, replace);
	if (rc == -EEXIST) {
		devreg_reply_text(r, 400,
				  "Invalid service: the ID \"consul\" and the check ID \"serfHealth\" belong to the agent");
		return DEVREG_DONE;
	}
	return reply_stored(r, rc);
}

int
devreg_api_service_deregister(struct devreg_req *r)
{
	if (devreg_store_deregister_service(r->d->store, r->rest) < 0)
		return unknown_id(r, "service", r->rest);
	devreg_reply_empty(r, 200);
	return DEVREG_DONE;
}

/* ?enable= as AgentServiceMaintenance reads it; replies on error. */
static int
parse_enable(struct devreg_req *r, int *enable)
{
	const char *v = devreg_query(r, "enable");
	char q[256];

	if (v == NULL) {
		devreg_reply_text(r, 400, "Missing value for enable");
		return -1;
	}
	if (devreg_parse_bool(v, enable) < 0) {
		devreg_reply_text(r, 400, "Invalid value for enable: %s",
				  devreg_go_quote(v, q, sizeof(q)));
		return -1;
	}
	return 0;
}

int
devreg_api_service_maintenance(struct devreg_req *r)
{
	struct devreg_service *svc;
	int enable;

	if (*r->rest == '\0') {
		devreg_reply_text(r, 400, "Missing service ID");
		return DEVREG_DONE;
	}
	if (parse_enable(r, &enable) < 0)
		return DEVREG_DONE;
	svc = devreg_store_service(r->d->store, r->rest);
	if (svc == NULL || !svc->agent_local)
		return unknown_id(r, "service", r->rest);
	return reply_stored(r, devreg_store_service_maintenance(r->d->store, svc, enable,
								devreg_query(r, "reason")));
}

int
devreg_api_node_maintenance(struct devreg_req *r)
{
	int enable;

	if (parse_enable(r, &enable) < 0)
		return DEVREG_DONE;
	return reply_stored(r, devreg_store_node_maintenance(r->d->store, enable,
							     devreg_query(r, "reason")));
}

int
devreg_api_check_register(struct devreg_req *r)
{
	struct devreg_check_def *def = NULL;
	enum devreg_status st;
	const char *body;
	char err[ERR_MAX], q[512];
	size_t len;
	int rc;

	body = devreg_body(r, &len);
	rc = devreg_decode_check(body, len, r->d->strict, &def, err, sizeof(err));
	if (decode_refused(r, rc, err))
		return DEVREG_DONE;
	if (def->name == NULL || *def->name == '\0') {
		devreg_reply_text(r, 400, "Missing check name");
		goto out;
	}
	if (def->status != NULL && *def->status != '\0' &&
	    devreg_status_parse(def->status, &st) < 0) {
		devreg_reply_text(r, 400, "Bad check status");
		goto out;
	}
	if (devreg_check_def_validate(def, err, sizeof(err)) < 0) {
		devreg_reply_text(r, 400, "Invalid check: %s", err);
		goto out;
	}
	snprintf(q, sizeof(q), "%s", devreg_str(def->service_id));
	rc = devreg_store_register_check(r->d->store, def);
	def = NULL;
	if (rc == -ENOENT) {
		char qq[600];

		devreg_reply_text(r, 404, "ServiceID %s does not exist",
				  devreg_go_quote(q, qq, sizeof(qq)));
	} else if (rc == -EEXIST) {
		devreg_reply_text(r, 400,
				  "Invalid check: the check ID \"serfHealth\" belongs to the agent");
	} else {
		reply_stored(r, rc);
	}
out:
	devreg_check_def_free(def);
	return DEVREG_DONE;
}

int
devreg_api_check_deregister(struct devreg_req *r)
{
	if (devreg_store_deregister_check(r->d->store, r->rest) < 0)
		return unknown_id(r, "check", r->rest);
	devreg_reply_empty(r, 200);
	return DEVREG_DONE;
}

static int
ttl_update(struct devreg_req *r, enum devreg_status st, const char *output)
{
	struct devreg_check *c = devreg_store_check(r->d->store, r->rest);
	char q[512];
	int rc;

	if (c == NULL || !c->agent_local)
		return unknown_id(r, "check", r->rest);
	rc = devreg_checks_ttl_update(r->d->checks, c, st, output);
	if (rc == -EINVAL) {
		devreg_reply_text(r, 500, "CheckID %s does not have associated TTL",
				  devreg_go_quote(r->rest, q, sizeof(q)));
		return DEVREG_DONE;
	}
	return reply_stored(r, rc);
}

int
devreg_api_check_pass(struct devreg_req *r)
{
	return ttl_update(r, DEVREG_PASSING, devreg_query(r, "note"));
}

int
devreg_api_check_warn(struct devreg_req *r)
{
	return ttl_update(r, DEVREG_WARNING, devreg_query(r, "note"));
}

int
devreg_api_check_fail(struct devreg_req *r)
{
	return ttl_update(r, DEVREG_CRITICAL, devreg_query(r, "note"));
}

int
devreg_api_check_update(struct devreg_req *r)
{
	char *status = NULL, *output = NULL;
	enum devreg_status st;
	char err[ERR_MAX];
	const char *body;
	size_t len;
	int rc;

	body = devreg_body(r, &len);
	rc = devreg_decode_check_update(body, len, r->d->strict, &status, &output,
					err, sizeof(err));
	if (decode_refused(r, rc, err))
		return DEVREG_DONE;
	if (devreg_status_parse(status, &st) < 0) {
		devreg_reply_text(r, 400, "Invalid check status: '%s'", devreg_str(status));
		goto out;
	}
	ttl_update(r, st, output);
out:
	free(status);
	free(output);
	return DEVREG_DONE;
}

/* --- /v1/agent/health/service/{id,name}/ --- */

static int
wants_text(struct devreg_req *r)
{
	const char *accept = evhttp_find_header(evhttp_request_get_input_headers(r->req),
						 "Accept");
	const char *format = devreg_query(r, "format");

	if (accept != NULL && strncmp(accept, "text/plain", 10) == 0)
		return 1;
	return format != NULL && strcmp(format, "text") == 0;
}

/* The local checks that decide one instance: its own and the agent's node
 * checks. Fills a new array (the caller frees it). */
static size_t
local_checks(const struct devreg_store *s, const struct devreg_service *svc,
	     const struct devreg_check ***out)
{
	const struct devreg_check **v = calloc(s->nnode_checks + svc->nchecks + 1, sizeof(*v));
	size_t n = 0;

	*out = v;
	if (v == NULL)
		return 0;
	for (const struct devreg_check *c = s->node_checks_head; c != NULL; c = c->svc_next)
		if (c->agent_local)
			v[n++] = c;
	for (const struct devreg_check *c = svc->checks_head; c != NULL; c = c->svc_next)
		v[n++] = c;
	return n;
}

/* The aggregated status word and HTTP code of one instance, plus its
 * AgentServiceChecksInfo JSON when info is not NULL. */
static int
instance_health(const struct devreg_store *s, const struct devreg_service *svc,
		const char **word, cJSON **info)
{
	const struct devreg_check **v = NULL;
	size_t n = local_checks(s, svc, &v);
	int maint, code;
	enum devreg_status st = devreg_checks_aggregate(v, n, &maint);

	if (maint) {
		*word = "maintenance";
		code = 503;
	} else {
		*word = devreg_status_name(st);
		code = st == DEVREG_PASSING ? 200 : st == DEVREG_WARNING ? 429 : 503;
	}
	if (info != NULL) {
		cJSON *o = cJSON_CreateObject(), *a;

		devreg_json_add_str(o, "AggregatedStatus", *word);
		if (o != NULL)
			cJSON_AddItemToObject(o, "Service", devreg_render_agent_service(s, svc));
		a = cJSON_AddArrayToObject(o, "Checks");
		for (size_t i = 0; a != NULL && i < n; i++)
			cJSON_AddItemToArray(a, devreg_render_check(s, v[i]));
		*info = o;
	}
	free(v);
	return code;
}

int
devreg_api_agent_health_id(struct devreg_req *r)
{
	const struct devreg_store *s = r->d->store;
	const struct devreg_service *svc;
	const char *word;
	char reason[512];
	cJSON *info = NULL;
	int code;

	if (*r->rest == '\0') {
		devreg_reply_text(r, 400, "Missing serviceID");
		return DEVREG_DONE;
	}
	svc = devreg_store_service(s, r->rest);
	if (svc == NULL || !svc->agent_local) {
		snprintf(reason, sizeof(reason), "ServiceId %s not found", r->rest);
		devreg_set_header(r, "X-Consul-Reason", reason);
		if (wants_text(r)) {
			devreg_reply_raw(r, 404, "text/plain", reason, strlen(reason));
		} else {
			cJSON *o = cJSON_CreateObject();

			devreg_json_add_str(o, "AggregatedStatus", "critical");
			cJSON_AddNullToObject(o, "Service");
			cJSON_AddNullToObject(o, "Checks");
			devreg_reply_json(r, 404, o);
		}
		return DEVREG_DONE;
	}
	code = instance_health(s, svc, &word, wants_text(r) ? NULL : &info);
	devreg_set_header(r, "X-Consul-Reason", word);
	if (info == NULL)
		devreg_reply_raw(r, code, "text/plain", word, strlen(word));
	else
		devreg_reply_json(r, code, info);
	return DEVREG_DONE;
}

int
devreg_api_agent_health_name(struct devreg_req *r)
{
	const struct devreg_store *s = r->d->store;
	const struct devreg_svcgroup *g;
	int text = wants_text(r), code = 404;
	char reason[512];
	cJSON *a = NULL;

	if (*r->rest == '\0') {
		devreg_reply_text(r, 400, "Missing service Name");
		return DEVREG_DONE;
	}
	snprintf(reason, sizeof(reason), "ServiceName %s Not Found", r->rest);
	if (!text)
		a = cJSON_CreateArray();
	g = devreg_store_group(s, r->rest);
	for (const struct devreg_service *svc = g != NULL ? g->head : NULL; svc != NULL;
	     svc = svc->grp_next) {
		const char *word;
		cJSON *info = NULL;
		int sc;

		if (!svc->agent_local)
			continue;
		sc = instance_health(s, svc, &word, text ? NULL : &info);
		if (a != NULL && info != NULL)
			cJSON_AddItemToArray(a, info);
		else
			cJSON_Delete(info);
		if (code == 404 || code < sc) {
			code = sc;
			snprintf(reason, sizeof(reason), "%s", word);
		}
	}
	devreg_set_header(r, "X-Consul-Reason", reason);
	if (text)
		devreg_reply_raw(r, code, "text/plain", reason, strlen(reason));
	else
		devreg_reply_json(r, code, a);
	return DEVREG_DONE;
}
