/*
 * consul_json.c - decoding Consul's JSON answers with cJSON, trusting none
 * of it. Every decoder parses the whole body, then walks the tree with
 * type checks and fills plain C structs; the first problem found is the
 * error, named by its path ("[3].Service.Port: not a number").
 *
 * Two limits keep a hostile or broken agent from hurting the caller:
 * - before cJSON builds a tree, a scan bounds the number of values (each
 *   costs cJSON about 100 bytes), so a 10 MB body of "[0,0,0..." is
 *   refused in linear time instead of taking half a gigabyte;
 * - cJSON stores numbers as double, exact only up to 2^53, so unsigned
 *   64-bit fields (indexes, Flags) are read again from their text in the
 *   body (see doc_mark_numbers).
 */
#include "registry-client/consul_json.h"
#include "registry-client/consul_base64.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* About 100 MB of cJSON items at most. A health answer of 10,000
 * instances, each with a few checks, stays well below it. */
#define MAX_VALUES (1u << 20)

/* A parsed body. */
struct doc {
	const char *buf;
	size_t len;
	cJSON *root;
	size_t scan;            /* where the search for the next number resumes */
};

static void fit(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* snprintf where cutting a long path short is intended. */
static void fit(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

static int fail(struct consul_json_err *err, const char *where,
		const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Fills err with "<where>.<field>: <what>" (no dot before "[i]" or when one
 * side is empty); bytes that are not printable ASCII, which may come from
 * the body's keys, become '?'. Returns -EPROTO. */
static int fail(struct consul_json_err *err, const char *where,
		const char *field, const char *fmt, ...)
{
	char what[96];
	va_list ap;

	if (!err)
		return -EPROTO;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	const char *dot = (where[0] && field[0] && field[0] != '[') ? "." : "";
	if (where[0] || field[0])
		fit(err->msg, sizeof(err->msg), "%s%s%s: %s", where, dot,
		    field, what);
	else
		fit(err->msg, sizeof(err->msg), "%s", what);
	for (char *p = err->msg; *p; p++)
		if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f)
			*p = '?';
	return -EPROTO;
}

static int nomem(struct consul_json_err *err)
{
	if (err)
		snprintf(err->msg, sizeof(err->msg), "out of memory");
	return -ENOMEM;
}

/* "<where>.<field>" or "<where>[i]" into buf, for the next level down. */
static const char *path_join(char *buf, size_t size, const char *where,
			     const char *field)
{
	const char *dot = (where[0] && field[0] != '[') ? "." : "";
	fit(buf, size, "%s%s%s", where, dot, field);
	return buf;
}

static const char *path_index(char *buf, size_t size, const char *where,
			      size_t i)
{
	fit(buf, size, "%s[%zu]", where, i);
	return buf;
}

/* Upper bound of the number of JSON values in buf: one, plus one per ','
 * and per opening bracket outside strings. *open is set when the text ends
 * inside a string or an unclosed bracket (a truncated body). Linear, no
 * allocation. */
static size_t values_bound(const char *buf, size_t len, int *open)
{
	size_t n = 1, depth = 0;
	int in_string = 0;

	for (size_t i = 0; i < len; i++) {
		char ch = buf[i];
		if (in_string) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_string = 0;
		} else if (ch == '"') {
			in_string = 1;
		} else if (ch == '[' || ch == '{') {
			n++;
			depth++;
		} else if (ch == ']' || ch == '}') {
			if (depth > 0)
				depth--;
		} else if (ch == ',') {
			n++;
		}
	}
	*open = in_string || depth > 0;
	return n;
}

/* Offset of the next number token at or after d->scan, skipping strings;
 * d->scan moves past it. len when there is none. */
static size_t next_number(struct doc *d)
{
	size_t i = d->scan;

	while (i < d->len) {
		char ch = d->buf[i];
		if (ch == '"') {
			for (i++; i < d->len && d->buf[i] != '"'; i++)
				if (d->buf[i] == '\\')
					i++;
			i++;
			continue;
		}
		if (ch == '-' || (ch >= '0' && ch <= '9')) {
			size_t start = i;
			while (i < d->len && strchr("0123456789+-.eE", d->buf[i]) &&
			       d->buf[i] != '\0')
				i++;
			d->scan = i;
			return start;
		}
		i++;
	}
	d->scan = d->len;
	return d->len;
}

/*
 * cJSON keeps no position for its items, but it builds them in document
 * order, and a depth-first walk visits them in that order too. So the k-th
 * number item met on the walk is the k-th number token in the text. Its
 * offset is kept in the item's valueint, which cJSON only fills with a
 * saturated copy of the double and which nothing here reads otherwise.
 */
static int doc_mark_numbers(struct doc *d, cJSON *item)
{
	for (; item; item = item->next) {
		if (cJSON_IsNumber(item)) {
			size_t off = next_number(d);
			if (off >= d->len)
				return -1;
			item->valueint = (int)off;
		} else if (item->child) {
			if (doc_mark_numbers(d, item->child) != 0)
				return -1;
		}
	}
	return 0;
}

static int is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static void doc_free(struct doc *d)
{
	cJSON_Delete(d->root);
	d->root = NULL;
}

static int doc_parse(struct doc *d, const char *buf, size_t len,
		     struct consul_json_err *err)
{
	const char *end = NULL;
	size_t pos;
	int open = 0;

	memset(d, 0, sizeof(*d));
	d->buf = buf;
	d->len = len;
	if (!buf || len == 0)
		return fail(err, "", "", "empty body");
	if (len > INT_MAX / 2)
		return fail(err, "", "", "body too large (%zu bytes)", len);
	if (values_bound(buf, len, &open) > MAX_VALUES)
		return fail(err, "", "", "too many JSON values (limit %u)",
			    MAX_VALUES);
	d->root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	pos = end && end >= buf ? (size_t)(end - buf) : 0;
	if (!d->root) {
		if (open || pos >= len)
			return fail(err, "", "", "truncated JSON (%zu bytes)", len);
		return fail(err, "", "", "invalid JSON at byte %zu", pos);
	}
	while (pos < len && is_space(buf[pos]))
		pos++;
	if (pos < len) {
		doc_free(d);
		return fail(err, "", "", "unexpected data after the JSON value at byte %zu",
			    pos);
	}
	if (doc_mark_numbers(d, d->root) != 0) {
		doc_free(d);
		return fail(err, "", "", "number tokens do not line up with the text");
	}
	return 0;
}

/* doc_parse for a body that must be one JSON object. */
static int doc_parse_object(struct doc *d, const char *buf, size_t len,
			    struct consul_json_err *err)
{
	int rc = doc_parse(d, buf, len, err);

	if (rc == 0 && !cJSON_IsObject(d->root)) {
		doc_free(d);
		rc = fail(err, "", "", "not an object");
	}
	return rc;
}

/* Exact member first; Go decodes keys case-insensitively, so a differently
 * cased one is accepted after that. */
static const cJSON *member(const cJSON *obj, const char *name)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
	return it ? it : cJSON_GetObjectItem(obj, name);
}

static int absent(const cJSON *it)
{
	return it == NULL || cJSON_IsNull(it);
}

/* Why a required object is not one. */
static const char *not_object(const cJSON *it)
{
	if (!it)
		return "missing";
	if (cJSON_IsNull(it))
		return "null instead of an object";
	return "not an object";
}

/* An optional ("" when absent or null) or required string member. */
static int get_string(const cJSON *obj, const char *field, int required,
		      const char *where, char **out,
		      struct consul_json_err *err)
{
	const cJSON *it = member(obj, field);
	const char *s = "";

	if (absent(it)) {
		if (required)
			return fail(err, where, field, "missing");
	} else if (!cJSON_IsString(it) || !it->valuestring) {
		return fail(err, where, field, "not a string");
	} else {
		s = it->valuestring;
		if (required && !*s)
			return fail(err, where, field, "empty");
	}
	*out = strdup(s);
	return *out ? 0 : nomem(err);
}

/* An unsigned integer up to max read from the number's text: no sign,
 * fraction or exponent. */
static int number_uint(const struct doc *d, const cJSON *it, uint64_t max,
		       const char *where, const char *field, uint64_t *out,
		       struct consul_json_err *err)
{
	uint64_t v = 0;
	size_t i;

	if (!cJSON_IsNumber(it))
		return fail(err, where, field, "not a number");
	if (it->valueint < 0 || (size_t)it->valueint >= d->len)
		return fail(err, where, field, "number not found in the text");
	i = (size_t)it->valueint;
	if (d->buf[i] == '-')
		return fail(err, where, field, "negative");
	for (; i < d->len && d->buf[i] >= '0' && d->buf[i] <= '9'; i++) {
		unsigned digit = (unsigned)(d->buf[i] - '0');
		if (v > (UINT64_MAX - digit) / 10)
			return fail(err, where, field, "above 2^64-1");
		v = v * 10 + digit;
	}
	if (i < d->len && strchr(".eE", d->buf[i]) && d->buf[i] != '\0')
		return fail(err, where, field, "not an integer");
	if (v > max)
		return fail(err, where, field, "above %llu",
			    (unsigned long long)max);
	*out = v;
	return 0;
}

/* An optional unsigned member: 0 when absent or null. */
static int get_uint(const struct doc *d, const cJSON *obj, const char *field,
		    uint64_t max, const char *where, uint64_t *out,
		    struct consul_json_err *err)
{
	const cJSON *it = member(obj, field);

	*out = 0;
	if (absent(it))
		return 0;
	return number_uint(d, it, max, where, field, out, err);
}

static int get_port(const struct doc *d, const cJSON *obj, const char *field,
		    const char *where, int *out, struct consul_json_err *err)
{
	uint64_t v;
	int rc = get_uint(d, obj, field, 65535, where, &v, err);

	if (rc == 0)
		*out = (int)v;
	return rc;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* An optional object of string values, as 2 * n strings (key, value). */
static int get_meta(const cJSON *obj, const char *field, const char *where,
		    char ***out, size_t *n, struct consul_json_err *err)
{
	const cJSON *map = member(obj, field);
	const cJSON *it;
	char path[160];
	char **v;
	size_t i = 0;
	int count;

	*out = NULL;
	*n = 0;
	if (absent(map))
		return 0;
	if (!cJSON_IsObject(map))
		return fail(err, where, field, "not an object");
	count = cJSON_GetArraySize(map);
	if (count == 0)
		return 0;
	v = calloc((size_t)count * 2, sizeof(*v));
	if (!v)
		return nomem(err);
	path_join(path, sizeof(path), where, field);
	cJSON_ArrayForEach(it, map) {
		if (!cJSON_IsString(it) || !it->valuestring || !it->string) {
			strv_free(v, 2 * i);
			return fail(err, path, it->string ? it->string : "",
				    "not a string");
		}
		v[2 * i] = strdup(it->string);
		v[2 * i + 1] = strdup(it->valuestring);
		if (!v[2 * i] || !v[2 * i + 1]) {
			strv_free(v, 2 * i + 2);
			return nomem(err);
		}
		i++;
	}
	*out = v;
	*n = i;
	return 0;
}

enum consul_status consul_status_parse(const char *s)
{
	if (!s)
		return CONSUL_STATUS_UNKNOWN;
	if (strcmp(s, "passing") == 0)
		return CONSUL_STATUS_PASSING;
	if (strcmp(s, "warning") == 0)
		return CONSUL_STATUS_WARNING;
	if (strcmp(s, "critical") == 0)
		return CONSUL_STATUS_CRITICAL;
	if (strcmp(s, "maintenance") == 0)
		return CONSUL_STATUS_MAINTENANCE;
	return CONSUL_STATUS_UNKNOWN;
}

const char *consul_status_name(enum consul_status st)
{
	switch (st) {
	case CONSUL_STATUS_PASSING:
		return "passing";
	case CONSUL_STATUS_WARNING:
		return "warning";
	case CONSUL_STATUS_CRITICAL:
		return "critical";
	case CONSUL_STATUS_MAINTENANCE:
		return "maintenance";
	case CONSUL_STATUS_UNKNOWN:
		break;
	}
	return "unknown";
}

/* How to decode and free the elements of one kind of array. decode fills
 * a zeroed element and frees what it filled when it fails; free_fields
 * frees an element's contents and zeroes it. */
struct elem_type {
	size_t size;
	int (*decode)(const struct doc *d, const cJSON *o, const char *where,
		      void *elem, struct consul_json_err *err);
	void (*free_fields)(void *elem);
};

/* Frees n elements of type t at v, then v. NULL-safe. */
static void array_free(void *v, size_t n, const struct elem_type *t)
{
	for (size_t i = 0; v && i < n; i++)
		t->free_fields((char *)v + i * t->size);
	free(v);
}

/* A JSON array of t elements (at where) into a new vector: *out and *n,
 * NULL and 0 for an empty array, or when optional and the array is absent
 * or null. On failure nothing is left allocated and *out, *n stay NULL, 0. */
static int decode_array(const struct doc *d, const cJSON *arr, int optional,
			const char *where, const struct elem_type *t,
			void **out, size_t *n, struct consul_json_err *err)
{
	const cJSON *it;
	/* As long as an error text: a path is never cut shorter than the
	 * message it goes into. */
	char path[sizeof(err->msg)];
	char *v;
	size_t i = 0;
	int count, rc;

	*out = NULL;
	*n = 0;
	if (optional && absent(arr))
		return 0;
	if (!cJSON_IsArray(arr))
		return fail(err, where, "", "not an array");
	count = cJSON_GetArraySize(arr);
	if (count == 0)
		return 0;
	v = calloc((size_t)count, t->size);
	if (!v)
		return nomem(err);
	cJSON_ArrayForEach(it, arr) {
		rc = t->decode(d, it, path_index(path, sizeof(path), where, i),
			       v + i * t->size, err);
		if (rc) {
			array_free(v, i, t);
			return rc;
		}
		i++;
	}
	*out = v;
	*n = i;
	return 0;
}

static int decode_string(const struct doc *d, const cJSON *it,
			 const char *where, void *elem,
			 struct consul_json_err *err)
{
	char **s = elem;

	(void)d;
	if (!cJSON_IsString(it) || !it->valuestring)
		return fail(err, where, "", "not a string");
	*s = strdup(it->valuestring);
	return *s ? 0 : nomem(err);
}

static void string_free(void *elem)
{
	free(*(char **)elem);
}

static const struct elem_type string_type = {
	sizeof(char *), decode_string, string_free
};

/* An array of strings at where; empty when absent or null. */
static int decode_strings(const struct doc *d, const cJSON *arr,
			  const char *where, char ***out, size_t *n,
			  struct consul_json_err *err)
{
	void *v;
	int rc = decode_array(d, arr, 1, where, &string_type, &v, n, err);

	*out = v;
	return rc;
}

/* An optional array-of-strings member. */
static int get_strings(const struct doc *d, const cJSON *obj,
		       const char *field, const char *where, char ***out,
		       size_t *n, struct consul_json_err *err)
{
	char path[160];

	return decode_strings(d, member(obj, field),
			      path_join(path, sizeof(path), where, field), out, n,
			      err);
}

/* A whole body that is one array of t elements, as decode_array. */
static int decode_body_array(const char *buf, size_t len,
			     const struct elem_type *t, void **out, size_t *n,
			     struct consul_json_err *err)
{
	struct doc d;
	int rc;

	*out = NULL;
	*n = 0;
	rc = doc_parse(&d, buf, len, err);
	if (rc)
		return rc;
	rc = decode_array(&d, d.root, 0, "", t, out, n, err);
	doc_free(&d);
	return rc;
}

static void check_free_fields(void *elem)
{
	struct consul_check *c = elem;

	free(c->node);
	free(c->check_id);
	free(c->name);
	free(c->output);
	free(c->service_id);
	free(c->service_name);
	free(c->type);
	memset(c, 0, sizeof(*c));
}

/* One HealthCheck record. CheckID is required; a Status other than the
 * three Consul sends decodes as CONSUL_STATUS_UNKNOWN. */
static int decode_check(const struct doc *d, const cJSON *o, const char *where,
			void *elem, struct consul_json_err *err)
{
	struct consul_check *c = elem;
	char *status = NULL;
	int rc;

	if (!cJSON_IsObject(o))
		return fail(err, where, "", "not an object");
	if ((rc = get_string(o, "CheckID", 1, where, &c->check_id, err)) ||
	    (rc = get_string(o, "Node", 0, where, &c->node, err)) ||
	    (rc = get_string(o, "Name", 0, where, &c->name, err)) ||
	    (rc = get_string(o, "Status", 0, where, &status, err)) ||
	    (rc = get_string(o, "Output", 0, where, &c->output, err)) ||
	    (rc = get_string(o, "ServiceID", 0, where, &c->service_id, err)) ||
	    (rc = get_string(o, "ServiceName", 0, where, &c->service_name, err)) ||
	    (rc = get_string(o, "Type", 0, where, &c->type, err)) ||
	    (rc = get_uint(d, o, "CreateIndex", UINT64_MAX, where,
			   &c->create_index, err)) ||
	    (rc = get_uint(d, o, "ModifyIndex", UINT64_MAX, where,
			   &c->modify_index, err)))
		goto out;
	c->status = consul_status_parse(status);
out:
	free(status);
	if (rc)
		check_free_fields(c);
	return rc;
}

/*
 * The public decoder and clear function of a list type: the body's array
 * decoded element by element with ELEM_TYPE, and the list freed again.
 */
#define LIST_CODEC(DECODE, CLEAR, LIST, ELEM_TYPE)                            \
	int DECODE(const char *buf, size_t len, struct LIST *out,             \
		   struct consul_json_err *err)                               \
	{                                                                     \
		void *v;                                                      \
		int rc = decode_body_array(buf, len, &ELEM_TYPE, &v, &out->n, \
					   err);                              \
									      \
		out->v = v;                                                   \
		return rc;                                                    \
	}                                                                     \
									      \
	void CLEAR(struct LIST *l)                                            \
	{                                                                     \
		if (!l)                                                       \
			return;                                               \
		array_free(l->v, l->n, &ELEM_TYPE);                           \
		memset(l, 0, sizeof(*l));                                     \
	}

static const struct elem_type check_type = {
	sizeof(struct consul_check), decode_check, check_free_fields
};

LIST_CODEC(consul_json_decode_checks, consul_check_list_clear,
	   consul_check_list, check_type)

static void entry_free_fields(void *elem)
{
	struct consul_service_entry *e = elem;

	free(e->node);
	free(e->node_address);
	free(e->datacenter);
	free(e->id);
	free(e->name);
	free(e->address);
	strv_free(e->tags, e->ntags);
	strv_free(e->meta, 2 * e->nmeta);
	array_free(e->checks, e->nchecks, &check_type);
	memset(e, 0, sizeof(*e));
}

/* Service.Weights: {"Passing": n, "Warning": m}; 1/1 when absent or null. */
static int decode_weights(const struct doc *d, const cJSON *svc,
			  const char *where, struct consul_service_entry *e,
			  struct consul_json_err *err)
{
	const cJSON *w = member(svc, "Weights");
	const cJSON *p, *wa;
	char path[160];
	uint64_t v;
	int rc;

	e->weight_passing = 1;
	e->weight_warning = 1;
	if (absent(w))
		return 0;
	if (!cJSON_IsObject(w))
		return fail(err, where, "Weights", "not an object");
	path_join(path, sizeof(path), where, "Weights");
	p = member(w, "Passing");
	wa = member(w, "Warning");
	if (!absent(p)) {
		if ((rc = number_uint(d, p, 65535, path, "Passing", &v, err)))
			return rc;
		e->weight_passing = (int)v;
	}
	if (!absent(wa)) {
		if ((rc = number_uint(d, wa, 65535, path, "Warning", &v, err)))
			return rc;
		e->weight_warning = (int)v;
	}
	return 0;
}

/* One element of /v1/health/service/<name>: Node and Service are required
 * objects with Node.Node, Service.ID and Service.Service set. */
static int decode_entry(const struct doc *d, const cJSON *o, const char *where,
			void *elem, struct consul_json_err *err)
{
	struct consul_service_entry *e = elem;
	const cJSON *node, *svc;
	char npath[160], spath[160], cpath[160];
	void *checks = NULL;
	int rc;

	if (!cJSON_IsObject(o))
		return fail(err, where, "", "not an object");
	node = member(o, "Node");
	svc = member(o, "Service");
	if (!cJSON_IsObject(node))
		return fail(err, where, "Node", "%s", not_object(node));
	if (!cJSON_IsObject(svc))
		return fail(err, where, "Service", "%s", not_object(svc));
	path_join(npath, sizeof(npath), where, "Node");
	path_join(spath, sizeof(spath), where, "Service");
	path_join(cpath, sizeof(cpath), where, "Checks");
	if ((rc = get_string(node, "Node", 1, npath, &e->node, err)) ||
	    (rc = get_string(node, "Address", 0, npath, &e->node_address, err)) ||
	    (rc = get_string(node, "Datacenter", 0, npath, &e->datacenter, err)) ||
	    (rc = get_string(svc, "ID", 1, spath, &e->id, err)) ||
	    (rc = get_string(svc, "Service", 1, spath, &e->name, err)) ||
	    (rc = get_string(svc, "Address", 0, spath, &e->address, err)) ||
	    (rc = get_port(d, svc, "Port", spath, &e->port, err)) ||
	    (rc = get_strings(d, svc, "Tags", spath, &e->tags, &e->ntags, err)) ||
	    (rc = get_meta(svc, "Meta", spath, &e->meta, &e->nmeta, err)) ||
	    (rc = decode_weights(d, svc, spath, e, err)) ||
	    (rc = get_uint(d, svc, "CreateIndex", UINT64_MAX, spath,
			   &e->create_index, err)) ||
	    (rc = get_uint(d, svc, "ModifyIndex", UINT64_MAX, spath,
			   &e->modify_index, err)) ||
	    (rc = decode_array(d, member(o, "Checks"), 1, cpath, &check_type,
			       &checks, &e->nchecks, err)))
		entry_free_fields(e);
	else
		e->checks = checks;
	return rc;
}

static const struct elem_type entry_type = {
	sizeof(struct consul_service_entry), decode_entry, entry_free_fields
};

LIST_CODEC(consul_json_decode_health_service, consul_service_list_clear,
	   consul_service_list, entry_type)

int consul_json_decode_catalog_services(const char *buf, size_t len,
					struct consul_catalog *out,
					struct consul_json_err *err)
{
	const cJSON *it;
	struct doc d;
	int count, rc;

	memset(out, 0, sizeof(*out));
	rc = doc_parse_object(&d, buf, len, err);
	if (rc)
		return rc;
	count = cJSON_GetArraySize(d.root);
	if (count > 0) {
		out->v = calloc((size_t)count, sizeof(*out->v));
		if (!out->v) {
			rc = nomem(err);
			goto out;
		}
	}
	cJSON_ArrayForEach(it, d.root) {
		struct consul_catalog_service *s = &out->v[out->n];
		const char *name = it->string ? it->string : "";

		if (!name[0]) {
			rc = fail(err, "", "\"\"", "empty service name");
			break;
		}
		/* The tags are an array, or null for none. */
		rc = decode_strings(&d, it, name, &s->tags, &s->ntags, err);
		if (rc)
			break;
		out->n++;
		s->name = strdup(name);
		if (!s->name) {
			rc = nomem(err);
			break;
		}
	}
out:
	if (rc)
		consul_catalog_clear(out);
	doc_free(&d);
	return rc;
}

void consul_catalog_clear(struct consul_catalog *c)
{
	if (!c)
		return;
	for (size_t i = 0; c->v && i < c->n; i++) {
		free(c->v[i].name);
		strv_free(c->v[i].tags, c->v[i].ntags);
	}
	free(c->v);
	memset(c, 0, sizeof(*c));
}

static void kv_free_fields(void *elem)
{
	struct consul_kv_entry *e = elem;

	free(e->key);
	free(e->value);
	free(e->session);
	memset(e, 0, sizeof(*e));
}

/* One DirEntry. Key is required; Value is base64 or null. */
static int decode_kv(const struct doc *d, const cJSON *o, const char *where,
		     void *elem, struct consul_json_err *err)
{
	struct consul_kv_entry *e = elem;
	const cJSON *val;
	int rc;

	if (!cJSON_IsObject(o))
		return fail(err, where, "", "not an object");
	if ((rc = get_string(o, "Key", 1, where, &e->key, err)) ||
	    (rc = get_string(o, "Session", 0, where, &e->session, err)) ||
	    (rc = get_uint(d, o, "Flags", UINT64_MAX, where, &e->flags, err)) ||
	    (rc = get_uint(d, o, "LockIndex", UINT64_MAX, where, &e->lock_index, err)) ||
	    (rc = get_uint(d, o, "CreateIndex", UINT64_MAX, where,
			   &e->create_index, err)) ||
	    (rc = get_uint(d, o, "ModifyIndex", UINT64_MAX, where,
			   &e->modify_index, err)))
		goto out;
	val = member(o, "Value");
	if (!absent(val)) {
		if (!cJSON_IsString(val) || !val->valuestring) {
			rc = fail(err, where, "Value", "not a string");
			goto out;
		}
		rc = consul_base64_decode(val->valuestring, strlen(val->valuestring),
					  &e->value, &e->value_len);
		if (rc == -ENOMEM)
			rc = nomem(err);
		else if (rc)
			rc = fail(err, where, "Value", "invalid base64");
	}
out:
	if (rc)
		kv_free_fields(e);
	return rc;
}

static const struct elem_type kv_type = {
	sizeof(struct consul_kv_entry), decode_kv, kv_free_fields
};

LIST_CODEC(consul_json_decode_kv, consul_kv_list_clear,
	   consul_kv_list, kv_type)

int consul_json_decode_self(const char *buf, size_t len,
			    struct consul_self *out,
			    struct consul_json_err *err)
{
	const cJSON *cfg;
	struct doc d;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = doc_parse_object(&d, buf, len, err);
	if (rc)
		return rc;
	cfg = member(d.root, "Config");
	if (!cJSON_IsObject(cfg)) {
		rc = fail(err, "", "Config", "%s", not_object(cfg));
		goto out;
	}
	if ((rc = get_string(cfg, "Datacenter", 1, "Config", &out->datacenter, err)) ||
	    (rc = get_string(cfg, "NodeName", 1, "Config", &out->node_name, err)) ||
	    (rc = get_string(cfg, "Version", 0, "Config", &out->version, err)))
		consul_self_clear(out);
out:
	doc_free(&d);
	return rc;
}

void consul_self_clear(struct consul_self *s)
{
	if (!s)
		return;
	free(s->datacenter);
	free(s->node_name);
	free(s->version);
	memset(s, 0, sizeof(*s));
}

int consul_json_decode_bool(const char *buf, size_t len, int *out,
			    struct consul_json_err *err)
{
	struct doc d;
	int rc;

	rc = doc_parse(&d, buf, len, err);
	if (rc)
		return rc;
	if (cJSON_IsBool(d.root))
		*out = cJSON_IsTrue(d.root) ? 1 : 0;
	else
		rc = fail(err, "", "", "not true or false");
	doc_free(&d);
	return rc;
}

static int is_maintenance_id(const char *id)
{
	return id && (strcmp(id, "_node_maintenance") == 0 ||
		      strncmp(id, "_service_maintenance:", 21) == 0);
}

/* As the Go client's AggregatedStatus, except that a status it does not
 * know counts as critical rather than "": a load balancer must not send
 * traffic on a status it cannot read. */
enum consul_status consul_checks_aggregate(const struct consul_check *v,
					   size_t n)
{
	int maint = 0, crit = 0, warn = 0;

	for (size_t i = 0; v && i < n; i++) {
		if (is_maintenance_id(v[i].check_id)) {
			maint = 1;
			continue;
		}
		switch (v[i].status) {
		case CONSUL_STATUS_PASSING:
			break;
		case CONSUL_STATUS_WARNING:
			warn = 1;
			break;
		case CONSUL_STATUS_MAINTENANCE:
			maint = 1;
			break;
		case CONSUL_STATUS_CRITICAL:
		case CONSUL_STATUS_UNKNOWN:
			crit = 1;
			break;
		}
	}
	if (maint)
		return CONSUL_STATUS_MAINTENANCE;
	if (crit)
		return CONSUL_STATUS_CRITICAL;
	if (warn)
		return CONSUL_STATUS_WARNING;
	return CONSUL_STATUS_PASSING;
}
