/*
 * devreg_api_kv.c - /v1/kv/<key>: GET (single, ?recurse, ?keys, ?raw),
 * PUT (?flags, ?cas) and DELETE (?recurse, ?cas), with Consul's answers:
 * a missing key is a 404 that still carries the index headers, writes
 * answer true or false.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devregistry/devreg_api.h"
#include "devregistry/devreg_jsonout.h"
#include "devregistry/devreg_render.h"

static int
missing_key(struct devreg_req *r)
{
	if (*r->rest != '\0')
		return 0;
	devreg_reply_text(r, 400, "Missing key name");
	return 1;
}

/* Two of the given flags at once: 400 with the encoded query. */
static int
conflicting(struct devreg_req *r, const char *const *flags, size_t n)
{
	int found = 0;

	for (size_t i = 0; i < n; i++) {
		if (!devreg_query_has(r, flags[i]))
			continue;
		if (found) {
			char *q = devreg_query_encode(r);

			devreg_reply_text(r, 400, "Conflicting flags: %s", q != NULL ? q : "");
			free(q);
			return 1;
		}
		found = 1;
	}
	return 0;
}

/* ?name=<u64>: Consul returns strconv's error as a plain 500. */
static int
u64_param(struct devreg_req *r, const char *name, int *has, uint64_t *out)
{
	const char *v = devreg_query(r, name);
	int rc;

	*has = v != NULL;
	*out = 0;
	if (v == NULL)
		return 0;
	rc = devreg_parse_u64(v, out);
	if (rc == 0)
		return 0;
	devreg_reply_text(r, 500, "strconv.ParseUint: parsing \"%s\": %s", v,
			  rc == -ERANGE ? "value out of range" : "invalid syntax");
	return -1;
}

static int
kv_keys(struct devreg_req *r)
{
	const struct devreg_store *s = r->d->store;
	const char *sep = devreg_query(r, "separator");
	uint64_t idx = devreg_kv_prefix_index(s, r->rest);
	char **keys = NULL;
	size_t n = 0;
	cJSON *a;

	if (sep == NULL)
		sep = devreg_query(r, "seperator");  /* Consul's old spelling */
	if (devreg_block_on_index(r, idx))
		return DEVREG_PARK;
	if (devreg_kv_keys(s, r->rest, sep, &keys, &n) < 0) {
		devreg_reply_text(r, 500, "out of memory");
		return DEVREG_DONE;
	}
	a = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++) {
		if (a != NULL)
			cJSON_AddItemToArray(a, cJSON_CreateString(keys[i]));
		free(keys[i]);
	}
	free(keys);
	devreg_set_index_headers(r, idx);
	if (n == 0 && *r->rest != '\0') {
		cJSON_Delete(a);
		devreg_reply_empty(r, 404);
		return DEVREG_DONE;
	}
	devreg_reply_json(r, 200, a);
	return DEVREG_DONE;
}

static int
kv_get(struct devreg_req *r)
{
	const struct devreg_store *s = r->d->store;
	int recurse = devreg_query_has(r, "recurse");
	uint64_t idx;
	cJSON *a;

	if (devreg_query_has(r, "keys"))
		return kv_keys(r);
	if (!recurse && missing_key(r))
		return DEVREG_DONE;
	idx = recurse ? devreg_kv_prefix_index(s, r->rest) : devreg_kv_key_index(s, r->rest);
	if (devreg_block_on_index(r, idx))
		return DEVREG_PARK;
	devreg_set_index_headers(r, idx);
	if (!recurse) {
		const struct devreg_kv *e = devreg_kv_get(s, r->rest);

		if (e == NULL) {
			devreg_reply_empty(r, 404);
			return DEVREG_DONE;
		}
		if (devreg_query_has(r, "raw")) {
			devreg_set_header(r, "X-Content-Type-Options", "nosniff");
			devreg_set_header(r, "Content-Security-Policy", "sandbox");
			devreg_reply_raw(r, 200, "text/plain", e->value, e->len);
			return DEVREG_DONE;
		}
		a = cJSON_CreateArray();
		if (a != NULL)
			cJSON_AddItemToArray(a, devreg_render_kv(e));
		devreg_reply_json(r, 200, a);
		return DEVREG_DONE;
	} else {
		size_t first, n = devreg_kv_range(s, r->rest, &first), count = 0;

		a = cJSON_CreateArray();
		for (size_t i = first; a != NULL && i < first + n; i++) {
			if (s->kv[i]->deleted)
				continue;
			cJSON_AddItemToArray(a, devreg_render_kv(s->kv[i]));
			count++;
		}
		if (count == 0) {
			cJSON_Delete(a);
			devreg_reply_empty(r, 404);
			return DEVREG_DONE;
		}
		devreg_reply_json(r, 200, a);
	}
	return DEVREG_DONE;
}

static void
reply_bool(struct devreg_req *r, int v)
{
	devreg_reply_json(r, 200, cJSON_CreateBool(v));
}

static int
kv_put(struct devreg_req *r)
{
	static const char *const flags[] = { "cas", "acquire", "release" };
	const char *body, *session;
	uint64_t fl, cas;
	int has_flags, has_cas, rc;
	size_t len;

	if (missing_key(r) || conflicting(r, flags, 3))
		return DEVREG_DONE;
	if (u64_param(r, "flags", &has_flags, &fl) < 0 ||
	    u64_param(r, "cas", &has_cas, &cas) < 0)
		return DEVREG_DONE;
	len = evbuffer_get_length(evhttp_request_get_input_buffer(r->req));
	if (len > DEVREG_KV_MAX_VALUE) {
		devreg_reply_text(r, 413,
				  "Request body(%zu bytes) too large, max size: %d bytes. See %s.",
				  len, DEVREG_KV_MAX_VALUE,
				  "https://www.consul.io/docs/agent/config/config-files#kv_max_value_size");
		return DEVREG_DONE;
	}
	/* Sessions are not kept, so no session exists to lock with. */
	session = devreg_query(r, "acquire");
	if (session == NULL)
		session = devreg_query(r, "release");
	if (session != NULL) {
		devreg_reply_text(r, 500, "Invalid session \"%s\"", session);
		return DEVREG_DONE;
	}
	body = devreg_body(r, &len);
	rc = devreg_kv_put(r->d->store, r->rest, body, len, fl, has_cas, cas);
	if (rc < 0) {
		devreg_reply_text(r, 500, "out of memory");
		return DEVREG_DONE;
	}
	reply_bool(r, rc == 1);
	return DEVREG_DONE;
}

static int
kv_delete(struct devreg_req *r)
{
	static const char *const flags[] = { "recurse", "cas" };
	uint64_t cas;
	int has_cas;

	if (conflicting(r, flags, 2))
		return DEVREG_DONE;
	if (devreg_query_has(r, "recurse")) {
		devreg_kv_delete_tree(r->d->store, r->rest);
		reply_bool(r, 1);
		return DEVREG_DONE;
	}
	if (missing_key(r) || u64_param(r, "cas", &has_cas, &cas) < 0)
		return DEVREG_DONE;
	reply_bool(r, devreg_kv_delete(r->d->store, r->rest, has_cas, cas) == 1);
	return DEVREG_DONE;
}

int
devreg_api_kv(struct devreg_req *r)
{
	switch (r->method) {
	case EVHTTP_REQ_PUT:
		return kv_put(r);
	case EVHTTP_REQ_DELETE:
		return kv_delete(r);
	default:
		return kv_get(r);
	}
}
