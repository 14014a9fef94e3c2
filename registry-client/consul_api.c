/*
 * consul_api.c - one synchronous function per Consul endpoint. Writes are
 * PUT (Consul 1.0 and later answer GET on them with 405), only 200 is
 * success, and every failure leaves a text on the client for
 * consul_api_last_error().
 */
#include "registry-client/consul_api.h"
#include "registry-client/consul_http_internal.h"
#include "registry-client/consul_json_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *consul_api_last_error(const struct consul_client *c)
{
	return c ? consul_client_error(c) : "";
}

static char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A malloc'd formatted string, NULL when out of memory. */
static char *str_printf(const char *fmt, ...)
{
	va_list ap;
	int n;
	char *s;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	s = malloc((size_t)n + 1);
	if (!s)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

/* "<prefix><escaped segment>", NULL when out of memory. */
static char *path_with(const char *prefix, const char *segment)
{
	char *esc = consul_escape_segment(segment);
	char *p = esc ? str_printf("%s%s", prefix, esc) : NULL;

	free(esc);
	return p;
}

static int status_errno(long status)
{
	switch (status) {
	case 400:
		return -EINVAL;
	case 403:
		return -EACCES;
	case 404:
		return -ENOENT;
	default:
		return -EREMOTEIO;
	}
}

/* The error body as a short single line: Consul's are plain text. */
static void set_status_error(struct consul_client *c, const char *method,
			     const char *path,
			     const struct consul_response *resp)
{
	const char *b = resp->body ? resp->body : "";
	size_t len = resp->body_len;

	while (len > 0 && (b[len - 1] == '\n' || b[len - 1] == '\r' ||
			   b[len - 1] == ' ' || b[len - 1] == '\t'))
		len--;
	if (len > 200)
		len = 200;
	consul_client_set_error(c, "%s %s: %ld%s%.*s", method, path,
				resp->status, len ? " " : "", (int)len, b);
}

/*
 * One request. 0 when the answer is 200 (resp holds it) or, with
 * allow_404, 404; otherwise the errno of consul_api.h, with the text set.
 * resp is always filled and must be cleared by the caller.
 */
static int call(struct consul_client *c, const char *method, const char *path,
		const char *query, const void *body, size_t body_len,
		int flags, int allow_404, struct consul_response *resp)
{
	int rc = consul_request(c, method, path, query, body, body_len, flags,
				resp);

	switch (rc) {
	case 0:
		break;
	case -EIO:
		consul_client_set_error(c, "%s %s: %s", method, path, resp->error);
		return rc;
	case -EMSGSIZE:
		consul_client_set_error(c, "%s %s: answer over the body limit",
					method, path);
		return rc;
	case -ENOMEM:
		consul_client_set_error(c, "%s %s: out of memory", method, path);
		return rc;
	default:
		consul_client_set_error(c, "%s %s: bad request (%d)", method,
					path, rc);
		return rc;
	}
	if (resp->status == 200 || (allow_404 && resp->status == 404))
		return 0;
	set_status_error(c, method, path, resp);
	return status_errno(resp->status);
}

static int decode_failed(struct consul_client *c, const char *method,
			 const char *path, int rc,
			 const struct consul_json_err *err)
{
	consul_client_set_error(c, "%s %s: %s", method, path, err->msg);
	return rc == -ENOMEM ? -ENOMEM : -EPROTO;
}

static int nomem(struct consul_client *c, const char *what)
{
	consul_client_set_error(c, "%s: out of memory", what);
	return -ENOMEM;
}

static void index_out(uint64_t *index, const struct consul_response *resp)
{
	if (index)
		*index = resp->has_index ? resp->index : 0;
}

/* Room for any decoded answer: decoders write here, and the caller's
 * out-parameter gets it only on success. */
union answer {
	struct consul_self self;
	struct consul_catalog catalog;
	struct consul_service_list services;
	struct consul_check_list checks;
	struct consul_kv_list kv;
};

/* Decodes a 200 answer into one member of a; as consul_json_decode_*. */
typedef int (*answer_decode_fn)(const struct consul_response *resp,
				union answer *a, struct consul_json_err *err);

static int decode_self(const struct consul_response *resp, union answer *a,
		       struct consul_json_err *err)
{
	return consul_json_decode_self(resp->body, resp->body_len, &a->self, err);
}

static int decode_catalog(const struct consul_response *resp, union answer *a,
			  struct consul_json_err *err)
{
	return consul_json_decode_catalog_services(resp->body, resp->body_len,
						   &a->catalog, err);
}

static int decode_services(const struct consul_response *resp,
			   union answer *a, struct consul_json_err *err)
{
	return consul_json_decode_health_service(resp->body, resp->body_len,
						 &a->services, err);
}

static int decode_checks(const struct consul_response *resp, union answer *a,
			 struct consul_json_err *err)
{
	return consul_json_decode_checks(resp->body, resp->body_len, &a->checks,
					 err);
}

static int decode_kv(const struct consul_response *resp, union answer *a,
		     struct consul_json_err *err)
{
	return consul_json_decode_kv(resp->body, resp->body_len, &a->kv, err);
}

/* Decodes the 200 answer of GET path into a; index (may be NULL) gets its
 * X-Consul-Index on success. On failure the text is set and a holds
 * nothing to free. */
static int decode_answer(struct consul_client *c, const char *path,
			 const struct consul_response *resp,
			 answer_decode_fn decode, union answer *a,
			 uint64_t *index)
{
	struct consul_json_err err;
	int rc = decode(resp, a, &err);

	if (rc)
		return decode_failed(c, "GET", path, rc, &err);
	index_out(index, resp);
	return 0;
}

/* GET path?query (flags as consul_request()) and decode its answer, which
 * must be a 200, into a, as decode_answer(). */
static int get_answer(struct consul_client *c, const char *path,
		      const char *query, int flags, answer_decode_fn decode,
		      union answer *a, uint64_t *index)
{
	struct consul_response resp;
	int rc = call(c, "GET", path, query, NULL, 0, flags, 0, &resp);

	if (rc == 0)
		rc = decode_answer(c, path, &resp, decode, a, index);
	consul_response_clear(&resp);
	return rc;
}

/* A write with no body and no answer to read. path is not escaped here. */
static int simple_put(struct consul_client *c, const char *path,
		      const char *query)
{
	struct consul_response resp;
	int rc = call(c, "PUT", path, query, NULL, 0, 0, 0, &resp);

	consul_response_clear(&resp);
	return rc;
}

int consul_agent_self(struct consul_client *c, struct consul_self *out)
{
	union answer a;
	int rc = get_answer(c, "/v1/agent/self", NULL, 0, decode_self, &a, NULL);

	if (rc == 0)
		*out = a.self;
	return rc;
}

int consul_agent_service_register(struct consul_client *c,
				  const struct consul_registration *reg,
				  int replace_existing_checks)
{
	static const char path[] = "/v1/agent/service/register";
	struct consul_response resp;
	char *body;
	int rc;

	body = consul_json_encode_registration(reg);
	if (!body) {
		consul_client_set_error(c, "PUT %s: invalid registration (a name is "
					"required, ports are 0..65535, checks need "
					"a target and an interval or a TTL)", path);
		return -EINVAL;
	}
	rc = call(c, "PUT", path,
		  replace_existing_checks ? "replace-existing-checks=true" : NULL,
		  body, strlen(body), 0, 0, &resp);
	consul_response_clear(&resp);
	free(body);
	return rc;
}

int consul_agent_service_deregister(struct consul_client *c, const char *id)
{
	char *path;
	int rc;

	if (!id || !*id) {
		consul_client_set_error(c, "deregister: no service ID");
		return -EINVAL;
	}
	path = path_with("/v1/agent/service/deregister/", id);
	if (!path)
		return nomem(c, "deregister");
	rc = simple_put(c, path, NULL);
	free(path);
	return rc;
}

int consul_agent_service_exists(struct consul_client *c, const char *id)
{
	struct consul_response resp;
	char *path;
	int rc;

	if (!id || !*id) {
		consul_client_set_error(c, "service lookup: no service ID");
		return -EINVAL;
	}
	path = path_with("/v1/agent/service/", id);
	if (!path)
		return nomem(c, "service lookup");
	rc = call(c, "GET", path, NULL, NULL, 0, 0, 0, &resp);
	consul_response_clear(&resp);
	free(path);
	return rc;
}

/* enable=true|false[&reason=<escaped>] */
static char *maintenance_query(int enable, const char *reason)
{
	char *esc, *q;

	if (!reason)
		return str_printf("enable=%s", enable ? "true" : "false");
	esc = consul_escape_segment(reason);
	q = esc ? str_printf("enable=%s&reason=%s", enable ? "true" : "false", esc)
		: NULL;
	free(esc);
	return q;
}

int consul_agent_service_maintenance(struct consul_client *c, const char *id,
				     int enable, const char *reason)
{
	char *path, *query;
	int rc;

	if (!id || !*id) {
		consul_client_set_error(c, "service maintenance: no service ID");
		return -EINVAL;
	}
	path = path_with("/v1/agent/service/maintenance/", id);
	query = maintenance_query(enable, reason);
	if (path && query)
		rc = simple_put(c, path, query);
	else
		rc = nomem(c, "service maintenance");
	free(path);
	free(query);
	return rc;
}

int consul_agent_node_maintenance(struct consul_client *c, int enable,
				  const char *reason)
{
	char *query = maintenance_query(enable, reason);
	int rc;

	if (!query)
		return nomem(c, "node maintenance");
	rc = simple_put(c, "/v1/agent/maintenance", query);
	free(query);
	return rc;
}

int consul_agent_check_ttl(struct consul_client *c, const char *check_id,
			   enum consul_status status, const char *note)
{
	const char *verb;
	char *path, *esc, *query = NULL;
	int rc;

	switch (status) {
	case CONSUL_STATUS_PASSING:
		verb = "pass";
		break;
	case CONSUL_STATUS_WARNING:
		verb = "warn";
		break;
	case CONSUL_STATUS_CRITICAL:
		verb = "fail";
		break;
	default:
		consul_client_set_error(c, "check TTL: status %s cannot be set",
					consul_status_name(status));
		return -EINVAL;
	}
	if (!check_id || !*check_id) {
		consul_client_set_error(c, "check TTL: no check ID");
		return -EINVAL;
	}
	esc = consul_escape_segment(check_id);
	path = esc ? str_printf("/v1/agent/check/%s/%s", verb, esc) : NULL;
	free(esc);
	/* The note goes out even when empty, as the Go client sends it. */
	esc = consul_escape_segment(note ? note : "");
	query = esc ? str_printf("note=%s", esc) : NULL;
	free(esc);
	if (path && query)
		rc = simple_put(c, path, query);
	else
		rc = nomem(c, "check TTL");
	free(path);
	free(query);
	return rc;
}

int consul_agent_check_update(struct consul_client *c, const char *check_id,
			      enum consul_status status, const char *output)
{
	struct consul_response resp;
	char *path, *body;
	int rc;

	if (!check_id || !*check_id) {
		consul_client_set_error(c, "check update: no check ID");
		return -EINVAL;
	}
	if (status != CONSUL_STATUS_PASSING && status != CONSUL_STATUS_WARNING &&
	    status != CONSUL_STATUS_CRITICAL) {
		consul_client_set_error(c, "check update: status %s cannot be set",
					consul_status_name(status));
		return -EINVAL;
	}
	path = path_with("/v1/agent/check/update/", check_id);
	body = consul_json_encode_check_update(status, output);
	if (path && body) {
		rc = call(c, "PUT", path, NULL, body, strlen(body), 0, 0, &resp);
		consul_response_clear(&resp);
	} else {
		rc = nomem(c, "check update");
	}
	free(path);
	free(body);
	return rc;
}

int consul_catalog_services(struct consul_client *c,
			    struct consul_catalog *out, uint64_t *index)
{
	union answer a;
	int rc = get_answer(c, "/v1/catalog/services", NULL, CONSUL_READ,
			    decode_catalog, &a, index);

	if (rc == 0)
		*out = a.catalog;
	return rc;
}

int consul_health_service(struct consul_client *c, const char *name,
			  int passing_only, struct consul_service_list *out,
			  uint64_t *index)
{
	union answer a;
	char *path;
	int rc;

	if (!name || !*name) {
		consul_client_set_error(c, "health service: no service name");
		return -EINVAL;
	}
	path = path_with("/v1/health/service/", name);
	if (!path)
		return nomem(c, "health service");
	rc = get_answer(c, path, passing_only ? "passing=1" : NULL, CONSUL_READ,
			decode_services, &a, index);
	if (rc == 0)
		*out = a.services;
	free(path);
	return rc;
}

int consul_health_state(struct consul_client *c, const char *state,
			struct consul_check_list *out, uint64_t *index)
{
	union answer a;
	char *path;
	int rc;

	if (!state || (strcmp(state, "any") != 0 && strcmp(state, "passing") != 0 &&
		       strcmp(state, "warning") != 0 && strcmp(state, "critical") != 0)) {
		consul_client_set_error(c, "health state: unsupported state");
		return -EINVAL;
	}
	path = str_printf("/v1/health/state/%s", state);
	if (!path)
		return nomem(c, "health state");
	rc = get_answer(c, path, NULL, CONSUL_READ, decode_checks, &a, index);
	if (rc == 0)
		*out = a.checks;
	free(path);
	return rc;
}

/* "/v1/kv/<key escaped segment by segment>" */
static char *kv_path(const char *key)
{
	char *esc = consul_escape_key(key);
	char *p = esc ? str_printf("/v1/kv/%s", esc) : NULL;

	free(esc);
	return p;
}

static int kv_key_valid(struct consul_client *c, const char *what,
			const char *key, int may_be_empty)
{
	const char *k = key;

	if (k)
		while (*k == '/')
			k++;
	if (!k || (!may_be_empty && !*k)) {
		consul_client_set_error(c, "%s: no key", what);
		return 0;
	}
	return 1;
}

int consul_kv_get(struct consul_client *c, const char *key,
		  struct consul_kv_entry *out, uint64_t *index)
{
	struct consul_response resp;
	union answer a;
	char *path;
	int rc;

	if (!kv_key_valid(c, "KV get", key, 0))
		return -EINVAL;
	path = kv_path(key);
	if (!path)
		return nomem(c, "KV get");
	rc = call(c, "GET", path, NULL, NULL, 0, CONSUL_READ, 1, &resp);
	if (rc == 0 && resp.status == 404) {
		/* A missing key still carries the index to block on. */
		index_out(index, &resp);
		set_status_error(c, "GET", path, &resp);
		rc = -ENOENT;
	} else if (rc == 0) {
		rc = decode_answer(c, path, &resp, decode_kv, &a, index);
		if (rc == 0 && a.kv.n == 0) {
			consul_client_set_error(c, "GET %s: no entry in the answer", path);
			consul_kv_list_clear(&a.kv);
			rc = -ENOENT;
		} else if (rc == 0) {
			*out = a.kv.v[0];
			memset(&a.kv.v[0], 0, sizeof(a.kv.v[0]));
			consul_kv_list_clear(&a.kv);
		}
	}
	consul_response_clear(&resp);
	free(path);
	return rc;
}

int consul_kv_list(struct consul_client *c, const char *prefix,
		   struct consul_kv_list *out, uint64_t *index)
{
	struct consul_response resp;
	union answer a;
	char *path;
	int rc;

	if (!kv_key_valid(c, "KV list", prefix, 1))
		return -EINVAL;
	path = kv_path(prefix);
	if (!path)
		return nomem(c, "KV list");
	rc = call(c, "GET", path, "recurse=", NULL, 0, CONSUL_READ, 1, &resp);
	if (rc == 0 && resp.status == 404) {
		memset(out, 0, sizeof(*out));
		index_out(index, &resp);
	} else if (rc == 0) {
		rc = decode_answer(c, path, &resp, decode_kv, &a, index);
		if (rc == 0)
			*out = a.kv;
	}
	consul_response_clear(&resp);
	free(path);
	return rc;
}

/* A KV write's answer: true or false. */
static int kv_answer(struct consul_client *c, const char *method,
		     const char *path, const struct consul_response *resp,
		     int *ok)
{
	struct consul_json_err err;
	int v = 0;
	int rc = consul_json_decode_bool(resp->body, resp->body_len, &v, &err);

	if (rc)
		return decode_failed(c, method, path, rc, &err);
	if (ok)
		*ok = v;
	return 0;
}

int consul_kv_put(struct consul_client *c, const char *key, const void *val,
		  size_t len, const uint64_t *cas, int *ok)
{
	struct consul_response resp;
	char *path, *query = NULL;
	int rc;

	if (!kv_key_valid(c, "KV put", key, 0))
		return -EINVAL;
	path = kv_path(key);
	if (cas)
		query = str_printf("cas=%" PRIu64, *cas);
	if (!path || (cas && !query)) {
		free(path);
		free(query);
		return nomem(c, "KV put");
	}
	rc = call(c, "PUT", path, query, val ? val : "", val ? len : 0, 0, 0, &resp);
	if (rc == 0)
		rc = kv_answer(c, "PUT", path, &resp, ok);
	consul_response_clear(&resp);
	free(path);
	free(query);
	return rc;
}

int consul_kv_delete(struct consul_client *c, const char *key, int recurse,
		     const uint64_t *cas, int *ok)
{
	struct consul_response resp;
	char *path, *query = NULL;
	int rc;

	/* An empty key with recurse deletes the whole store: allowed, as
	 * Consul allows it, but only when asked for explicitly. */
	if (!kv_key_valid(c, "KV delete", key, recurse))
		return -EINVAL;
	path = kv_path(key);
	if (recurse && cas)
		query = str_printf("recurse=&cas=%" PRIu64, *cas);
	else if (cas)
		query = str_printf("cas=%" PRIu64, *cas);
	else if (recurse)
		query = str_printf("recurse=");
	if (!path || ((recurse || cas) && !query)) {
		free(path);
		free(query);
		return nomem(c, "KV delete");
	}
	rc = call(c, "DELETE", path, query, NULL, 0, 0, 0, &resp);
	if (rc == 0)
		rc = kv_answer(c, "DELETE", path, &resp, ok);
	consul_response_clear(&resp);
	free(path);
	free(query);
	return rc;
}

void consul_kv_entry_clear(struct consul_kv_entry *e)
{
	if (!e)
		return;
	free(e->key);
	free(e->value);
	free(e->session);
	memset(e, 0, sizeof(*e));
}
