/*
 * devreg_decode.c - request bodies into definitions through field tables.
 *
 * Each table row names a JSON key (matched without regard to case, as Go's
 * encoding/json does), what Go type it has, and where it lands. The error
 * texts copy Go's so that a client sees what real Consul would say.
 */
#include "devregistry/devreg_decode.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "devregistry/devreg_duration.h"

enum ftype {
	F_STR,      /* string */
	F_INT,      /* int */
	F_BOOL,     /* bool */
	F_DUR,      /* time.Duration: Go string or nanoseconds */
	F_STRV,     /* []string */
	F_META,     /* map[string]string */
	F_HEADERS,  /* map[string][]string */
	F_TADDRS,   /* map[string]ServiceAddress */
	F_WEIGHTS,  /* *Weights */
	F_CHECK,    /* CheckType */
	F_CHECKS,   /* CheckTypes */
	F_IGNORE    /* accepted, any type, not used */
};

/* Which bodies a check field belongs to. */
#define IN_CT 1   /* CheckType, inside a service registration */
#define IN_CD 2   /* CheckDefinition, /v1/agent/check/register */

struct field {
	const char *key;
	enum ftype type;
	size_t off;          /* into the destination struct */
	const char *goname;  /* field name in Go's error text */
	int in;              /* IN_CT | IN_CD for check tables */
};

struct dctx {
	int strict;
	char *err;
	size_t errlen;
	int nomem;
	/* Service registrations: Check and Checks before they are merged. */
	struct devreg_check_def *check;
	struct devreg_check_def **checks;
	size_t nchecks;
};

#define SD(m) offsetof(struct devreg_service_def, m)
#define CD(m) offsetof(struct devreg_check_def, m)

/* F_STRV writes a vector and, right after it, its length. */
_Static_assert(SD(ntags) == SD(tags) + sizeof(char **), "tags layout");
_Static_assert(CD(nargs) == CD(args) + sizeof(char **), "args layout");

static const struct field service_fields[] = {
	{ "ID", F_STR, SD(id), "ID", 0 },
	{ "Name", F_STR, SD(name), "Name", 0 },
	{ "Tags", F_STRV, SD(tags), "Tags", 0 },
	{ "Address", F_STR, SD(address), "Address", 0 },
	{ "TaggedAddresses", F_TADDRS, SD(taddrs), "TaggedAddresses", 0 },
	{ "tagged_addresses", F_TADDRS, SD(taddrs), "TaggedAddresses", 0 },
	{ "Meta", F_META, SD(meta), "Meta", 0 },
	{ "Port", F_INT, SD(port), "Port", 0 },
	{ "Kind", F_STR, SD(kind), "Kind", 0 },
	{ "SocketPath", F_STR, SD(socket_path), "SocketPath", 0 },
	{ "socket_path", F_STR, SD(socket_path), "SocketPath", 0 },
	{ "Check", F_CHECK, 0, "Check", 0 },
	{ "Checks", F_CHECKS, 0, "Checks", 0 },
	{ "Weights", F_WEIGHTS, 0, "Weights", 0 },
	{ "EnableTagOverride", F_BOOL, SD(enable_tag_override), "EnableTagOverride", 0 },
	{ "enable_tag_override", F_BOOL, SD(enable_tag_override), "EnableTagOverride", 0 },
	{ "Token", F_IGNORE, 0, "Token", 0 },
	{ "Proxy", F_IGNORE, 0, "Proxy", 0 },
	{ "Connect", F_IGNORE, 0, "Connect", 0 },
	{ "Locality", F_IGNORE, 0, "Locality", 0 },
	{ "Namespace", F_IGNORE, 0, "Namespace", 0 },
	{ "Partition", F_IGNORE, 0, "Partition", 0 },
	{ NULL, F_IGNORE, 0, NULL, 0 }
};

static const struct field check_fields[] = {
	{ "CheckID", F_STR, CD(id), "CheckID", IN_CT },
	{ "ID", F_STR, CD(id), "ID", IN_CD },
	{ "Name", F_STR, CD(name), "Name", IN_CT | IN_CD },
	{ "Status", F_STR, CD(status), "Status", IN_CT | IN_CD },
	{ "Notes", F_STR, CD(notes), "Notes", IN_CT | IN_CD },
	{ "ServiceID", F_STR, CD(service_id), "ServiceID", IN_CD },
	{ "service_id", F_STR, CD(service_id), "ServiceID", IN_CD },
	{ "ServiceID", F_IGNORE, 0, "ServiceID", IN_CT },
	{ "Token", F_IGNORE, 0, "Token", IN_CD },
	{ "ScriptArgs", F_STRV, CD(args), "ScriptArgs", IN_CT | IN_CD },
	{ "args", F_STRV, CD(args), "ScriptArgs", IN_CT | IN_CD },
	{ "script_args", F_STRV, CD(args), "ScriptArgs", IN_CT | IN_CD },
	{ "HTTP", F_STR, CD(http), "HTTP", IN_CT | IN_CD },
	{ "H2PING", F_STR, CD(h2ping), "H2PING", IN_CT | IN_CD },
	{ "H2PingUseTLS", F_BOOL, CD(h2ping_use_tls), "H2PingUseTLS", IN_CT | IN_CD },
	{ "h2ping_use_tls", F_BOOL, CD(h2ping_use_tls), "H2PingUseTLS", IN_CT | IN_CD },
	{ "Header", F_HEADERS, CD(headers), "Header", IN_CT | IN_CD },
	{ "Method", F_STR, CD(method), "Method", IN_CT | IN_CD },
	{ "Body", F_STR, CD(body), "Body", IN_CT | IN_CD },
	{ "DisableRedirects", F_BOOL, CD(disable_redirects), "DisableRedirects", IN_CT | IN_CD },
	{ "TCP", F_STR, CD(tcp), "TCP", IN_CT | IN_CD },
	{ "TCPUseTLS", F_BOOL, CD(tcp_use_tls), "TCPUseTLS", IN_CT | IN_CD },
	{ "UDP", F_STR, CD(udp), "UDP", IN_CT | IN_CD },
	{ "Interval", F_DUR, CD(interval), "Interval", IN_CT | IN_CD },
	{ "AliasNode", F_STR, CD(alias_node), "AliasNode", IN_CT | IN_CD },
	{ "AliasService", F_STR, CD(alias_service), "AliasService", IN_CT | IN_CD },
	{ "DockerContainerID", F_STR, CD(docker_container_id), "DockerContainerID", IN_CT | IN_CD },
	{ "docker_container_id", F_STR, CD(docker_container_id), "DockerContainerID", IN_CT | IN_CD },
	{ "Shell", F_STR, CD(shell), "Shell", IN_CT | IN_CD },
	{ "GRPC", F_STR, CD(grpc), "GRPC", IN_CT | IN_CD },
	{ "GRPCUseTLS", F_BOOL, CD(grpc_use_tls), "GRPCUseTLS", IN_CT | IN_CD },
	{ "grpc_use_tls", F_BOOL, CD(grpc_use_tls), "GRPCUseTLS", IN_CT | IN_CD },
	{ "OSService", F_STR, CD(os_service), "OSService", IN_CT | IN_CD },
	{ "TLSServerName", F_STR, CD(tls_server_name), "TLSServerName", IN_CT | IN_CD },
	{ "tls_server_name", F_STR, CD(tls_server_name), "TLSServerName", IN_CT | IN_CD },
	{ "TLSSkipVerify", F_BOOL, CD(tls_skip_verify), "TLSSkipVerify", IN_CT | IN_CD },
	{ "tls_skip_verify", F_BOOL, CD(tls_skip_verify), "TLSSkipVerify", IN_CT | IN_CD },
	{ "Timeout", F_DUR, CD(timeout), "Timeout", IN_CT | IN_CD },
	{ "TTL", F_DUR, CD(ttl), "TTL", IN_CT | IN_CD },
	{ "SuccessBeforePassing", F_INT, CD(success_before_passing), "SuccessBeforePassing", IN_CT | IN_CD },
	{ "FailuresBeforeWarning", F_INT, CD(failures_before_warning), "FailuresBeforeWarning", IN_CT | IN_CD },
	{ "FailuresBeforeCritical", F_INT, CD(failures_before_critical), "FailuresBeforeCritical", IN_CT | IN_CD },
	{ "ProxyHTTP", F_IGNORE, 0, "ProxyHTTP", IN_CT },
	{ "ProxyGRPC", F_IGNORE, 0, "ProxyGRPC", IN_CT },
	{ "DeregisterCriticalServiceAfter", F_DUR, CD(deregister_after), "DeregisterCriticalServiceAfter", IN_CT | IN_CD },
	{ "deregister_critical_service_after", F_DUR, CD(deregister_after), "DeregisterCriticalServiceAfter", IN_CT | IN_CD },
	{ "OutputMaxSize", F_INT, CD(output_max_size), "OutputMaxSize", IN_CT | IN_CD },
	{ "Namespace", F_IGNORE, 0, "Namespace", IN_CT | IN_CD },
	{ "Partition", F_IGNORE, 0, "Partition", IN_CT | IN_CD },
	{ NULL, F_IGNORE, 0, NULL, 0 }
};

static const char *
json_kind(const cJSON *v)
{
	if (cJSON_IsString(v))
		return "string";
	if (cJSON_IsNumber(v))
		return "number";
	if (cJSON_IsBool(v))
		return "bool";
	if (cJSON_IsArray(v))
		return "array";
	if (cJSON_IsObject(v))
		return "object";
	return "value";
}

static int
type_error(struct dctx *c, const cJSON *v, const char *sname,
	   const char *fname, const char *gotype)
{
	snprintf(c->err, c->errlen,
		 "json: cannot unmarshal %s into Go struct field %s.%s of type %s",
		 json_kind(v), sname, fname, gotype);
	return -EINVAL;
}

static int
set_str(struct dctx *c, char **dst, const char *s)
{
	char *d = strdup(s);

	if (d == NULL) {
		c->nomem = 1;
		return -ENOMEM;
	}
	free(*dst);
	*dst = d;
	return 0;
}

static int
decode_int(struct dctx *c, const cJSON *v, int *dst, const char *sname,
	   const char *fname)
{
	double d;

	if (!cJSON_IsNumber(v))
		return type_error(c, v, sname, fname, "int");
	d = v->valuedouble;
	if (d != floor(d) || d < (double)INT_MIN || d > (double)INT_MAX) {
		snprintf(c->err, c->errlen,
			 "json: cannot unmarshal number %g into Go struct field %s.%s of type int",
			 d, sname, fname);
		return -EINVAL;
	}
	*dst = (int)d;
	return 0;
}

static int
decode_strv(struct dctx *c, const cJSON *v, char ***dst, size_t *n,
	    const char *sname, const char *fname)
{
	size_t count = 0, i = 0;
	char **out;
	const cJSON *e;

	if (!cJSON_IsArray(v))
		return type_error(c, v, sname, fname, "[]string");
	cJSON_ArrayForEach(e, v) {
		if (!cJSON_IsString(e) && !cJSON_IsNull(e))
			return type_error(c, e, sname, fname, "string");
		count++;
	}
	out = calloc(count > 0 ? count : 1, sizeof(*out));
	if (out == NULL)
		goto nomem;
	cJSON_ArrayForEach(e, v) {
		out[i] = strdup(cJSON_IsString(e) ? e->valuestring : "");
		if (out[i++] == NULL)
			goto nomem;
	}
	for (size_t k = 0; k < *n; k++)
		free((*dst)[k]);
	free(*dst);
	*dst = out;
	*n = count;
	return 0;
nomem:
	if (out != NULL)
		for (size_t k = 0; k < count; k++)
			free(out[k]);
	free(out);
	c->nomem = 1;
	return -ENOMEM;
}

static int
decode_meta(struct dctx *c, const cJSON *v, struct devreg_service_def *s,
	    const char *sname, const char *fname)
{
	const cJSON *e;
	size_t count = 0;
	struct devreg_pair *out;

	if (!cJSON_IsObject(v))
		return type_error(c, v, sname, fname, "map[string]string");
	cJSON_ArrayForEach(e, v) {
		if (!cJSON_IsString(e) && !cJSON_IsNull(e))
			return type_error(c, e, sname, fname, "string");
		count++;
	}
	out = calloc(count > 0 ? count : 1, sizeof(*out));
	if (out == NULL)
		goto nomem;
	for (size_t i = 0; i < s->nmeta; i++) {
		free(s->meta[i].key);
		free(s->meta[i].value);
	}
	free(s->meta);
	s->meta = out;
	s->nmeta = 0;
	cJSON_ArrayForEach(e, v) {
		struct devreg_pair *p = &s->meta[s->nmeta];

		p->key = strdup(e->string != NULL ? e->string : "");
		p->value = strdup(cJSON_IsString(e) ? e->valuestring : "");
		s->nmeta++;
		if (p->key == NULL || p->value == NULL)
			goto nomem;
	}
	return 0;
nomem:
	c->nomem = 1;
	return -ENOMEM;
}

static int
decode_headers(struct dctx *c, const cJSON *v, struct devreg_check_def *d,
	       const char *sname, const char *fname)
{
	const cJSON *e;
	size_t count = 0;

	if (!cJSON_IsObject(v))
		return type_error(c, v, sname, fname, "map[string][]string");
	cJSON_ArrayForEach(e, v) {
		const cJSON *x;

		if (cJSON_IsNull(e)) {
			count++;
			continue;
		}
		if (!cJSON_IsArray(e))
			return type_error(c, e, sname, fname, "[]string");
		cJSON_ArrayForEach(x, e)
			if (!cJSON_IsString(x) && !cJSON_IsNull(x))
				return type_error(c, x, sname, fname, "string");
		count++;
	}
	for (size_t i = 0; i < d->nheaders; i++) {
		free(d->headers[i].name);
		for (size_t k = 0; k < d->headers[i].nvalues; k++)
			free(d->headers[i].values[k]);
		free(d->headers[i].values);
	}
	free(d->headers);
	d->nheaders = 0;
	d->headers = calloc(count > 0 ? count : 1, sizeof(*d->headers));
	if (d->headers == NULL)
		goto nomem;
	cJSON_ArrayForEach(e, v) {
		struct devreg_header *h = &d->headers[d->nheaders++];

		h->name = strdup(e->string != NULL ? e->string : "");
		if (h->name == NULL)
			goto nomem;
		if (cJSON_IsArray(e) &&
		    decode_strv(c, e, &h->values, &h->nvalues, sname, fname) < 0)
			return -ENOMEM;
	}
	return 0;
nomem:
	c->nomem = 1;
	return -ENOMEM;
}

static int
decode_taddrs(struct dctx *c, const cJSON *v, struct devreg_service_def *s,
	      const char *sname, const char *fname)
{
	const cJSON *e;
	size_t count = 0;

	if (!cJSON_IsObject(v))
		return type_error(c, v, sname, fname,
				  "map[string]structs.ServiceAddress");
	cJSON_ArrayForEach(e, v) {
		const cJSON *x;

		if (cJSON_IsNull(e)) {
			count++;
			continue;
		}
		if (!cJSON_IsObject(e))
			return type_error(c, e, sname, fname, "structs.ServiceAddress");
		cJSON_ArrayForEach(x, e) {
			if (strcasecmp(x->string, "Address") == 0 &&
			    !cJSON_IsString(x) && !cJSON_IsNull(x))
				return type_error(c, x, "ServiceAddress", "Address", "string");
			if (strcasecmp(x->string, "Port") == 0 && !cJSON_IsNull(x)) {
				int port;

				if (decode_int(c, x, &port, "ServiceAddress", "Port") < 0)
					return -EINVAL;
			}
			if (c->strict && strcasecmp(x->string, "Address") != 0 &&
			    strcasecmp(x->string, "Port") != 0) {
				snprintf(c->err, c->errlen, "json: unknown field \"%.64s\"",
					 x->string);
				return -EINVAL;
			}
		}
		count++;
	}
	for (size_t i = 0; i < s->ntaddrs; i++) {
		free(s->taddrs[i].key);
		free(s->taddrs[i].address);
	}
	free(s->taddrs);
	s->ntaddrs = 0;
	s->taddrs = calloc(count > 0 ? count : 1, sizeof(*s->taddrs));
	if (s->taddrs == NULL)
		goto nomem;
	cJSON_ArrayForEach(e, v) {
		struct devreg_taddr *t = &s->taddrs[s->ntaddrs++];
		const cJSON *a = cJSON_GetObjectItem(e, "Address");
		const cJSON *p = cJSON_GetObjectItem(e, "Port");

		t->key = strdup(e->string != NULL ? e->string : "");
		t->address = strdup(cJSON_IsString(a) ? a->valuestring : "");
		t->port = cJSON_IsNumber(p) ? (int)p->valuedouble : 0;
		if (t->key == NULL || t->address == NULL)
			goto nomem;
	}
	return 0;
nomem:
	c->nomem = 1;
	return -ENOMEM;
}

static int
decode_weights(struct dctx *c, const cJSON *v, struct devreg_service_def *s)
{
	const cJSON *x;
	int passing = 0, warning = 0;

	if (cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsObject(v))
		return type_error(c, v, "ServiceDefinition", "Weights", "structs.Weights");
	cJSON_ArrayForEach(x, v) {
		if (strcasecmp(x->string, "Passing") == 0) {
			if (!cJSON_IsNull(x) &&
			    decode_int(c, x, &passing, "Weights", "Passing") < 0)
				return -EINVAL;
		} else if (strcasecmp(x->string, "Warning") == 0) {
			if (!cJSON_IsNull(x) &&
			    decode_int(c, x, &warning, "Weights", "Warning") < 0)
				return -EINVAL;
		} else if (c->strict) {
			snprintf(c->err, c->errlen, "json: unknown field \"%.64s\"", x->string);
			return -EINVAL;
		}
	}
	s->has_weights = 1;
	s->weight_passing = passing;
	s->weight_warning = warning;
	return 0;
}

static const struct field *
find_field(const struct field *tab, const char *key, int in)
{
	for (const struct field *f = tab; f->key != NULL; f++) {
		if (in != 0 && (f->in & in) == 0)
			continue;
		if (strcasecmp(f->key, key) == 0)
			return f;
	}
	return NULL;
}

static int decode_check_object(struct dctx *c, const cJSON *obj, int in,
			       const char *sname, struct devreg_check_def **out);

/* Decode one member v of a check definition or a service definition. */
static int
decode_member(struct dctx *c, const struct field *f, const cJSON *v, void *dst,
	      const char *sname)
{
	char *base = dst;
	int64_t ns;
	char derr[192];

	if (cJSON_IsNull(v) || f->type == F_IGNORE)
		return 0;
	switch (f->type) {
	case F_STR:
		if (!cJSON_IsString(v))
			return type_error(c, v, sname, f->goname, "string");
		return set_str(c, (char **)(void *)(base + f->off), v->valuestring);
	case F_INT:
		return decode_int(c, v, (int *)(void *)(base + f->off), sname, f->goname);
	case F_BOOL:
		if (!cJSON_IsBool(v))
			return type_error(c, v, sname, f->goname, "bool");
		*(int *)(void *)(base + f->off) = cJSON_IsTrue(v);
		return 0;
	case F_DUR:
		/* Consul's UnmarshalJSON switches on string and float64 and
		 * ignores every other type. */
		if (cJSON_IsString(v)) {
			if (devreg_duration_parse(v->valuestring, &ns, derr, sizeof(derr)) < 0) {
				snprintf(c->err, c->errlen, "%s", derr);
				return -EINVAL;
			}
			*(int64_t *)(void *)(base + f->off) = ns;
		} else if (cJSON_IsNumber(v)) {
			double d = v->valuedouble;

			if (d > 9.2e18 || d < -9.2e18) {
				snprintf(c->err, c->errlen,
					 "json: cannot unmarshal number %g into Go struct field %s.%s of type time.Duration",
					 d, sname, f->goname);
				return -EINVAL;
			}
			*(int64_t *)(void *)(base + f->off) = (int64_t)d;
		}
		return 0;
	case F_STRV: {
		char ***vec = (char ***)(void *)(base + f->off);
		size_t *n = (size_t *)(void *)(base + f->off + sizeof(char **));

		return decode_strv(c, v, vec, n, sname, f->goname);
	}
	case F_META:
		return decode_meta(c, v, dst, sname, f->goname);
	case F_HEADERS:
		return decode_headers(c, v, dst, sname, f->goname);
	case F_TADDRS:
		return decode_taddrs(c, v, dst, sname, f->goname);
	case F_WEIGHTS:
		return decode_weights(c, v, dst);
	case F_CHECK: {
		struct devreg_check_def *chk = NULL;

		if (!cJSON_IsObject(v))
			return type_error(c, v, sname, f->goname, "structs.CheckType");
		if (decode_check_object(c, v, IN_CT, "CheckType", &chk) < 0)
			return -EINVAL;
		devreg_check_def_free(c->check);
		c->check = chk;
		return 0;
	}
	case F_CHECKS: {
		const cJSON *e;

		if (!cJSON_IsArray(v))
			return type_error(c, v, sname, f->goname, "structs.CheckTypes");
		for (size_t i = 0; i < c->nchecks; i++)
			devreg_check_def_free(c->checks[i]);
		free(c->checks);
		c->nchecks = 0;
		c->checks = calloc((size_t)cJSON_GetArraySize(v) + 1, sizeof(*c->checks));
		if (c->checks == NULL) {
			c->nomem = 1;
			return -ENOMEM;
		}
		cJSON_ArrayForEach(e, v) {
			struct devreg_check_def *chk = NULL;

			if (cJSON_IsNull(e))
				continue;
			if (!cJSON_IsObject(e))
				return type_error(c, e, sname, f->goname, "structs.CheckType");
			if (decode_check_object(c, e, IN_CT, "CheckType", &chk) < 0)
				return -EINVAL;
			c->checks[c->nchecks++] = chk;
		}
		return 0;
	}
	case F_IGNORE:
		return 0;
	}
	return 0;
}

static int
decode_fields(struct dctx *c, const cJSON *obj, const struct field *tab,
	      int in, void *dst, const char *sname)
{
	const cJSON *m;

	cJSON_ArrayForEach(m, obj) {
		const struct field *f = find_field(tab, m->string, in);

		if (f == NULL) {
			if (c->strict) {
				snprintf(c->err, c->errlen, "json: unknown field \"%.64s\"",
					 m->string);
				return -EINVAL;
			}
			continue;
		}
		if (decode_member(c, f, m, dst, sname) < 0)
			return -EINVAL;
	}
	return 0;
}

static int
decode_check_object(struct dctx *c, const cJSON *obj, int in,
		    const char *sname, struct devreg_check_def **out)
{
	struct devreg_check_def *d = calloc(1, sizeof(*d));
	const cJSON *m;

	if (d == NULL) {
		c->nomem = 1;
		return -ENOMEM;
	}
	if (decode_fields(c, obj, check_fields, in, d, sname) < 0) {
		devreg_check_def_free(d);
		return -EINVAL;
	}
	cJSON_ArrayForEach(m, obj)
		if (strcasecmp(m->string, "FailuresBeforeWarning") == 0 && cJSON_IsNumber(m))
			d->failures_before_warning_set = 1;
	*out = d;
	return 0;
}

/* Where parsing body failed; len when the input simply ended. cJSON
 * reports the last byte both for a bad last byte and for input that ends
 * too early, so parse once more with a space appended: an early end then
 * moves to the space. */
static size_t
error_offset(const char *body, size_t len)
{
	char *copy = malloc(len + 1);
	const char *end = NULL;
	cJSON *again;
	size_t pos = len;

	if (copy == NULL)
		return len;
	memcpy(copy, body, len);
	copy[len] = ' ';
	again = cJSON_ParseWithLengthOpts(copy, len + 1, &end, 0);
	if (again == NULL && end != NULL && end >= copy)
		pos = (size_t)(end - copy);
	cJSON_Delete(again);
	free(copy);
	return pos;
}

/* Parse the body; on failure write Go's decoder text. An empty body is
 * io.EOF, as Go's json.Decoder reports it. */
static cJSON *
parse_body(struct dctx *c, const char *body, size_t len)
{
	const char *end = NULL;
	size_t i = 0;
	cJSON *root;

	if (body == NULL)
		len = 0;
	while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' ||
			   body[i] == '\n'))
		i++;
	if (i == len) {
		snprintf(c->err, c->errlen, "EOF");
		return NULL;
	}
	root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
	if (root == NULL) {
		size_t pos = error_offset(body, len);

		if (pos >= len) {
			snprintf(c->err, c->errlen, "unexpected EOF");
		} else {
			unsigned char ch = (unsigned char)body[pos];

			if (ch >= 0x20 && ch < 0x7f && ch != '\'')
				snprintf(c->err, c->errlen,
					 "invalid character '%c' looking for beginning of value", ch);
			else
				snprintf(c->err, c->errlen,
					 "invalid character '\\x%02x' looking for beginning of value", ch);
		}
	}
	return root;
}

static void
ctx_init(struct dctx *c, int strict, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->strict = strict;
	c->err = err;
	c->errlen = errlen;
	if (errlen > 0)
		err[0] = '\0';
}

static void
ctx_clear(struct dctx *c)
{
	devreg_check_def_free(c->check);
	for (size_t i = 0; i < c->nchecks; i++)
		devreg_check_def_free(c->checks[i]);
	free(c->checks);
	c->check = NULL;
	c->checks = NULL;
	c->nchecks = 0;
}

static int
not_object(struct dctx *c, const cJSON *root, const char *gotype)
{
	snprintf(c->err, c->errlen, "json: cannot unmarshal %s into Go value of type %s",
		 json_kind(root), gotype);
	return -EINVAL;
}

int
devreg_decode_service(const char *body, size_t len, int strict,
		      struct devreg_service_def **out, char *err, size_t errlen)
{
	struct devreg_service_def *s = NULL;
	struct dctx c;
	cJSON *root;
	int rc = -EINVAL;

	ctx_init(&c, strict, err, errlen);
	*out = NULL;
	root = parse_body(&c, body, len);
	if (root == NULL)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	if (!cJSON_IsNull(root)) {
		if (!cJSON_IsObject(root)) {
			not_object(&c, root, "structs.ServiceDefinition");
			goto fail;
		}
		if (decode_fields(&c, root, service_fields, 0, s,
				  "ServiceDefinition") < 0) {
			rc = c.nomem ? -ENOMEM : -EINVAL;
			goto fail;
		}
	}
	/* Merge Check (when not empty) and Checks, in Consul's order. */
	s->checks = calloc(c.nchecks + 1, sizeof(*s->checks));
	if (s->checks == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	if (c.check != NULL && !devreg_check_def_empty(c.check)) {
		s->checks[s->nchecks++] = c.check;
		c.check = NULL;
	}
	for (size_t i = 0; i < c.nchecks; i++) {
		s->checks[s->nchecks++] = c.checks[i];
		c.checks[i] = NULL;
	}
	c.nchecks = 0;
	ctx_clear(&c);
	cJSON_Delete(root);
	*out = s;
	return 0;
fail:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	ctx_clear(&c);
	devreg_service_def_free(s);
	cJSON_Delete(root);
	return rc;
}

int
devreg_decode_check(const char *body, size_t len, int strict,
		    struct devreg_check_def **out, char *err, size_t errlen)
{
	struct dctx c;
	cJSON *root;
	int rc;

	ctx_init(&c, strict, err, errlen);
	*out = NULL;
	root = parse_body(&c, body, len);
	if (root == NULL)
		return -EINVAL;
	if (cJSON_IsNull(root)) {
		*out = calloc(1, sizeof(**out));
		cJSON_Delete(root);
		return *out != NULL ? 0 : -ENOMEM;
	}
	if (!cJSON_IsObject(root)) {
		not_object(&c, root, "structs.CheckDefinition");
		cJSON_Delete(root);
		return -EINVAL;
	}
	rc = decode_check_object(&c, root, IN_CD, "CheckDefinition", out);
	if (rc < 0 && c.nomem)
		rc = -ENOMEM;
	cJSON_Delete(root);
	return rc;
}

int
devreg_decode_check_update(const char *body, size_t len, int strict,
			   char **status, char **output, char *err,
			   size_t errlen)
{
	struct dctx c;
	const cJSON *m;
	cJSON *root;

	ctx_init(&c, strict, err, errlen);
	*status = NULL;
	*output = NULL;
	root = parse_body(&c, body, len);
	if (root == NULL)
		return -EINVAL;
	if (!cJSON_IsNull(root) && !cJSON_IsObject(root)) {
		not_object(&c, root, "agent.checkUpdate");
		goto fail;
	}
	cJSON_ArrayForEach(m, root) {
		char **dst = NULL;

		if (strcasecmp(m->string, "Status") == 0)
			dst = status;
		else if (strcasecmp(m->string, "Output") == 0)
			dst = output;
		if (dst == NULL) {
			if (c.strict) {
				snprintf(err, errlen, "json: unknown field \"%.64s\"", m->string);
				goto fail;
			}
			continue;
		}
		if (cJSON_IsNull(m))
			continue;
		if (!cJSON_IsString(m)) {
			type_error(&c, m, "checkUpdate", dst == status ? "Status" : "Output",
				   "string");
			goto fail;
		}
		if (set_str(&c, dst, m->valuestring) < 0)
			goto fail;
	}
	cJSON_Delete(root);
	return 0;
fail:
	free(*status);
	free(*output);
	*status = NULL;
	*output = NULL;
	cJSON_Delete(root);
	return c.nomem ? -ENOMEM : -EINVAL;
}
