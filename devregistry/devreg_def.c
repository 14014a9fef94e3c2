/*
 * devreg_def.c - validation, defaults and comparison of definitions. The
 * messages are Consul's (agent/structs), because clients and people
 * search for them.
 */
#include "devregistry/devreg_def.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define META_MAX_PAIRS 64
#define META_KEY_MAX 128
#define META_VALUE_MAX 512

int
devreg_str_eq(const char *a, const char *b)
{
	return strcmp(devreg_str(a), devreg_str(b)) == 0;
}

static int
empty(const char *s)
{
	return s == NULL || *s == '\0';
}

const char *
devreg_status_name(enum devreg_status s)
{
	switch (s) {
	case DEVREG_PASSING: return "passing";
	case DEVREG_WARNING: return "warning";
	case DEVREG_CRITICAL: return "critical";
	}
	return "critical";
}

int
devreg_status_parse(const char *s, enum devreg_status *out)
{
	if (s == NULL)
		return -EINVAL;
	if (strcmp(s, "passing") == 0)
		*out = DEVREG_PASSING;
	else if (strcmp(s, "warning") == 0)
		*out = DEVREG_WARNING;
	else if (strcmp(s, "critical") == 0)
		*out = DEVREG_CRITICAL;
	else
		return -EINVAL;
	return 0;
}

const char *
devreg_check_type_name(enum devreg_check_type t)
{
	switch (t) {
	case DEVREG_CT_NONE: return "";
	case DEVREG_CT_TTL: return "ttl";
	case DEVREG_CT_HTTP: return "http";
	case DEVREG_CT_TCP: return "tcp";
	case DEVREG_CT_UDP: return "udp";
	case DEVREG_CT_GRPC: return "grpc";
	case DEVREG_CT_ALIAS: return "alias";
	case DEVREG_CT_DOCKER: return "docker";
	case DEVREG_CT_SCRIPT: return "script";
	case DEVREG_CT_H2PING: return "h2ping";
	case DEVREG_CT_OS_SERVICE: return "os_service";
	case DEVREG_CT_MAINTENANCE: return "maintenance";
	}
	return "";
}

static void
free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
devreg_check_def_free(struct devreg_check_def *c)
{
	if (c == NULL)
		return;
	free(c->id);
	free(c->name);
	free(c->notes);
	free(c->status);
	free(c->service_id);
	free_strv(c->args, c->nargs);
	free(c->http);
	free(c->method);
	free(c->body);
	free(c->tcp);
	free(c->udp);
	free(c->grpc);
	free(c->h2ping);
	free(c->alias_node);
	free(c->alias_service);
	free(c->docker_container_id);
	free(c->shell);
	free(c->os_service);
	free(c->tls_server_name);
	for (size_t i = 0; i < c->nheaders; i++) {
		free(c->headers[i].name);
		free_strv(c->headers[i].values, c->headers[i].nvalues);
	}
	free(c->headers);
	free(c);
}

void
devreg_service_def_free(struct devreg_service_def *s)
{
	if (s == NULL)
		return;
	free(s->id);
	free(s->name);
	free(s->address);
	free(s->kind);
	free(s->socket_path);
	free_strv(s->tags, s->ntags);
	for (size_t i = 0; i < s->nmeta; i++) {
		free(s->meta[i].key);
		free(s->meta[i].value);
	}
	free(s->meta);
	for (size_t i = 0; i < s->ntaddrs; i++) {
		free(s->taddrs[i].key);
		free(s->taddrs[i].address);
	}
	free(s->taddrs);
	for (size_t i = 0; i < s->nchecks; i++)
		devreg_check_def_free(s->checks[i]);
	free(s->checks);
	free(s);
}

/* strdup that keeps NULL; sets *bad on allocation failure. */
static char *
dup_or_null(const char *s, int *bad)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		*bad = 1;
	return d;
}

static char **
dup_strv(char *const *v, size_t n, int *bad)
{
	char **d;

	if (n == 0)
		return NULL;
	d = calloc(n, sizeof(*d));
	if (d == NULL) {
		*bad = 1;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		d[i] = dup_or_null(v[i], bad);
	return d;
}

struct devreg_check_def *
devreg_check_def_dup(const struct devreg_check_def *c)
{
	struct devreg_check_def *d = calloc(1, sizeof(*d));
	int bad = 0;

	if (d == NULL)
		return NULL;
	*d = *c;
	d->id = dup_or_null(c->id, &bad);
	d->name = dup_or_null(c->name, &bad);
	d->notes = dup_or_null(c->notes, &bad);
	d->status = dup_or_null(c->status, &bad);
	d->service_id = dup_or_null(c->service_id, &bad);
	d->args = dup_strv(c->args, c->nargs, &bad);
	if (d->args == NULL)
		d->nargs = 0;
	d->http = dup_or_null(c->http, &bad);
	d->method = dup_or_null(c->method, &bad);
	d->body = dup_or_null(c->body, &bad);
	d->tcp = dup_or_null(c->tcp, &bad);
	d->udp = dup_or_null(c->udp, &bad);
	d->grpc = dup_or_null(c->grpc, &bad);
	d->h2ping = dup_or_null(c->h2ping, &bad);
	d->alias_node = dup_or_null(c->alias_node, &bad);
	d->alias_service = dup_or_null(c->alias_service, &bad);
	d->docker_container_id = dup_or_null(c->docker_container_id, &bad);
	d->shell = dup_or_null(c->shell, &bad);
	d->os_service = dup_or_null(c->os_service, &bad);
	d->tls_server_name = dup_or_null(c->tls_server_name, &bad);
	d->headers = NULL;
	d->nheaders = 0;
	if (c->nheaders > 0) {
		d->headers = calloc(c->nheaders, sizeof(*d->headers));
		if (d->headers == NULL) {
			bad = 1;
		} else {
			d->nheaders = c->nheaders;
			for (size_t i = 0; i < c->nheaders; i++) {
				d->headers[i].name = dup_or_null(c->headers[i].name, &bad);
				d->headers[i].values = dup_strv(c->headers[i].values,
								c->headers[i].nvalues, &bad);
				if (d->headers[i].values != NULL)
					d->headers[i].nvalues = c->headers[i].nvalues;
			}
		}
	}
	if (bad) {
		devreg_check_def_free(d);
		return NULL;
	}
	return d;
}

int
devreg_check_def_empty(const struct devreg_check_def *c)
{
	return empty(c->id) && empty(c->name) && empty(c->notes) &&
	       empty(c->status) && empty(c->service_id) && c->nargs == 0 &&
	       empty(c->http) && empty(c->method) && empty(c->body) &&
	       empty(c->tcp) && empty(c->udp) && empty(c->grpc) &&
	       empty(c->h2ping) && empty(c->alias_node) &&
	       empty(c->alias_service) && empty(c->docker_container_id) &&
	       empty(c->shell) && empty(c->os_service) &&
	       empty(c->tls_server_name) && c->nheaders == 0 &&
	       c->interval == 0 && c->timeout == 0 && c->ttl == 0 &&
	       c->deregister_after == 0 && !c->tls_skip_verify &&
	       !c->disable_redirects && !c->tcp_use_tls && !c->grpc_use_tls &&
	       !c->h2ping_use_tls && c->success_before_passing == 0 &&
	       c->failures_before_warning == 0 &&
	       c->failures_before_critical == 0 && c->output_max_size == 0;
}

enum devreg_check_type
devreg_check_def_type(const struct devreg_check_def *c)
{
	int script = c->nargs > 0;

	if (!empty(c->grpc) && c->interval > 0)
		return DEVREG_CT_GRPC;
	if (!empty(c->http) && c->interval > 0)
		return DEVREG_CT_HTTP;
	if (c->ttl > 0)
		return DEVREG_CT_TTL;
	if (!empty(c->tcp) && c->interval > 0)
		return DEVREG_CT_TCP;
	if (!empty(c->udp) && c->interval > 0)
		return DEVREG_CT_UDP;
	if (!empty(c->alias_node) || !empty(c->alias_service))
		return DEVREG_CT_ALIAS;
	if (script && !empty(c->docker_container_id) && c->interval > 0)
		return DEVREG_CT_DOCKER;
	if (script)
		return DEVREG_CT_SCRIPT;
	if (!empty(c->h2ping) && c->interval > 0)
		return DEVREG_CT_H2PING;
	if (!empty(c->os_service) && c->interval > 0)
		return DEVREG_CT_OS_SERVICE;
	return DEVREG_CT_NONE;
}

int
devreg_check_def_validate(const struct devreg_check_def *c, char *err,
			  size_t errlen)
{
	int interval_check = c->nargs > 0 || !empty(c->http) || !empty(c->tcp) ||
			     !empty(c->udp) || !empty(c->grpc) ||
			     !empty(c->h2ping) || !empty(c->os_service);
	int alias = !empty(c->alias_node) || !empty(c->alias_service);
	const char *msg = NULL;

	if (c->interval > 0 && c->ttl > 0)
		msg = "Interval and TTL cannot both be specified";
	else if (interval_check && c->interval <= 0)
		msg = "Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks";
	else if (!interval_check && !alias && c->ttl <= 0)
		msg = "TTL must be > 0 for TTL checks";
	else if (c->output_max_size < 0)
		msg = "MaxOutputMaxSize must be positive";
	else if (c->failures_before_warning > c->failures_before_critical)
		msg = "FailuresBeforeWarning can't be higher than FailuresBeforeCritical";
	if (msg == NULL)
		return 0;
	snprintf(err, errlen, "%s", msg);
	return -EINVAL;
}

static int
strv_equal(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (!devreg_str_eq(a[i], b[i]))
			return 0;
	return 1;
}

int
devreg_check_def_equal(const struct devreg_check_def *a,
		       const struct devreg_check_def *b)
{
	if (a->nheaders != b->nheaders)
		return 0;
	for (size_t i = 0; i < a->nheaders; i++) {
		if (!devreg_str_eq(a->headers[i].name, b->headers[i].name) ||
		    !strv_equal(a->headers[i].values, a->headers[i].nvalues,
				b->headers[i].values, b->headers[i].nvalues))
			return 0;
	}
	return devreg_str_eq(a->id, b->id) && devreg_str_eq(a->name, b->name) &&
	       devreg_str_eq(a->notes, b->notes) &&
	       devreg_str_eq(a->status, b->status) &&
	       devreg_str_eq(a->service_id, b->service_id) &&
	       strv_equal(a->args, a->nargs, b->args, b->nargs) &&
	       devreg_str_eq(a->http, b->http) &&
	       devreg_str_eq(a->method, b->method) &&
	       devreg_str_eq(a->body, b->body) && devreg_str_eq(a->tcp, b->tcp) &&
	       devreg_str_eq(a->udp, b->udp) && devreg_str_eq(a->grpc, b->grpc) &&
	       devreg_str_eq(a->h2ping, b->h2ping) &&
	       devreg_str_eq(a->alias_node, b->alias_node) &&
	       devreg_str_eq(a->alias_service, b->alias_service) &&
	       devreg_str_eq(a->docker_container_id, b->docker_container_id) &&
	       devreg_str_eq(a->shell, b->shell) &&
	       devreg_str_eq(a->os_service, b->os_service) &&
	       devreg_str_eq(a->tls_server_name, b->tls_server_name) &&
	       a->interval == b->interval && a->timeout == b->timeout &&
	       a->ttl == b->ttl && a->deregister_after == b->deregister_after &&
	       a->tls_skip_verify == b->tls_skip_verify &&
	       a->disable_redirects == b->disable_redirects &&
	       a->tcp_use_tls == b->tcp_use_tls &&
	       a->grpc_use_tls == b->grpc_use_tls &&
	       a->h2ping_use_tls == b->h2ping_use_tls &&
	       a->success_before_passing == b->success_before_passing &&
	       a->failures_before_warning == b->failures_before_warning &&
	       a->failures_before_critical == b->failures_before_critical &&
	       a->output_max_size == b->output_max_size;
}

static int
meta_key_ok(const char *k)
{
	for (; *k != '\0'; k++)
		if (!isalnum((unsigned char)*k) && *k != '_' && *k != '-')
			return 0;
	return 1;
}

static int
validate_meta(const struct devreg_service_def *s, char *err, size_t errlen)
{
	if (s->nmeta > META_MAX_PAIRS) {
		snprintf(err, errlen,
			 "Invalid Service Meta: Node metadata cannot contain more than %d key/value pairs",
			 META_MAX_PAIRS);
		return -EINVAL;
	}
	for (size_t i = 0; i < s->nmeta; i++) {
		const char *k = devreg_str(s->meta[i].key);
		const char *v = devreg_str(s->meta[i].value);
		const char *why = NULL;
		char buf[64];

		if (*k == '\0') {
			why = "Key cannot be blank";
		} else if (!meta_key_ok(k)) {
			why = "Key contains invalid characters";
		} else if (strlen(k) > META_KEY_MAX) {
			snprintf(buf, sizeof(buf), "Key is too long (limit: %d characters)",
				 META_KEY_MAX);
			why = buf;
		} else if (strncmp(k, "consul-", 7) == 0) {
			why = "Key prefix 'consul-' is reserved for internal use";
		} else if (strlen(v) > META_VALUE_MAX) {
			snprintf(buf, sizeof(buf), "Value is too long (limit: %d characters)",
				 META_VALUE_MAX);
			why = buf;
		}
		if (why != NULL) {
			snprintf(err, errlen,
				 "Invalid Service Meta: Couldn't load metadata pair ('%.128s', '%.128s'): %s",
				 k, v, why);
			return -EINVAL;
		}
	}
	return 0;
}

static int
address_is_any(const char *a)
{
	return strcmp(a, "0.0.0.0") == 0 || strcmp(a, "::") == 0 ||
	       strcmp(a, "[::]") == 0;
}

int
devreg_service_def_validate(const struct devreg_service_def *s, char *err,
			    size_t errlen)
{
	char why[256];

	if (empty(s->name)) {
		snprintf(err, errlen, "Missing service name");
		return -EINVAL;
	}
	if (address_is_any(devreg_str(s->address))) {
		snprintf(err, errlen, "Invalid service address");
		return -EINVAL;
	}
	if (s->has_weights) {
		const char *msg = NULL;

		if (s->weight_passing < 1)
			msg = "Passing must be greater than 0";
		else if (s->weight_warning < 0)
			msg = "Warning must be greater or equal than 0";
		else if (s->weight_passing > 65535 || s->weight_warning > 65535)
			msg = "DNS Weight must be between 0 and 65535";
		if (msg != NULL) {
			snprintf(err, errlen, "Invalid Weights: %s", msg);
			return -EINVAL;
		}
	}
	if (validate_meta(s, err, errlen) < 0)
		return -EINVAL;
	for (size_t i = 0; i < s->nchecks; i++) {
		if (devreg_check_def_validate(s->checks[i], why, sizeof(why)) < 0) {
			snprintf(err, errlen, "Invalid check: %s", why);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < s->nchecks; i++) {
		enum devreg_status st;

		if (!empty(s->checks[i]->status) &&
		    devreg_status_parse(s->checks[i]->status, &st) < 0) {
			snprintf(err, errlen,
				 "Status for checks must 'passing', 'warning', 'critical'");
			return -EINVAL;
		}
	}
	return 0;
}

static int
has_taddr(const struct devreg_service_def *s, const char *key)
{
	for (size_t i = 0; i < s->ntaddrs; i++)
		if (devreg_str_eq(s->taddrs[i].key, key))
			return 1;
	return 0;
}

static int
add_taddr(struct devreg_service_def *s, const char *key)
{
	struct devreg_taddr *t;

	if (has_taddr(s, key))
		return 0;
	t = realloc(s->taddrs, (s->ntaddrs + 1) * sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	s->taddrs = t;
	t = &s->taddrs[s->ntaddrs];
	t->key = strdup(key);
	t->address = strdup(s->address);
	t->port = s->port;
	if (t->key == NULL || t->address == NULL) {
		free(t->key);
		free(t->address);
		return -ENOMEM;
	}
	s->ntaddrs++;
	return 0;
}

int
devreg_service_def_apply_defaults(struct devreg_service_def *s)
{
	unsigned char ip[16];

	if (empty(s->id)) {
		free(s->id);
		s->id = strdup(s->name);
		if (s->id == NULL)
			return -ENOMEM;
	}
	if (!s->has_weights) {
		s->has_weights = 1;
		s->weight_passing = 1;
		s->weight_warning = 1;
	}
	if (!empty(s->address)) {
		if (inet_pton(AF_INET, s->address, ip) == 1) {
			if (add_taddr(s, "lan_ipv4") < 0 || add_taddr(s, "wan_ipv4") < 0)
				return -ENOMEM;
		} else if (inet_pton(AF_INET6, s->address, ip) == 1) {
			if (add_taddr(s, "lan_ipv6") < 0 || add_taddr(s, "wan_ipv6") < 0)
				return -ENOMEM;
		}
	}
	return 0;
}

int
devreg_service_def_equal(const struct devreg_service_def *a,
			 const struct devreg_service_def *b)
{
	if (a->nmeta != b->nmeta || a->ntaddrs != b->ntaddrs)
		return 0;
	for (size_t i = 0; i < a->nmeta; i++)
		if (!devreg_str_eq(a->meta[i].key, b->meta[i].key) ||
		    !devreg_str_eq(a->meta[i].value, b->meta[i].value))
			return 0;
	for (size_t i = 0; i < a->ntaddrs; i++)
		if (!devreg_str_eq(a->taddrs[i].key, b->taddrs[i].key) ||
		    !devreg_str_eq(a->taddrs[i].address, b->taddrs[i].address) ||
		    a->taddrs[i].port != b->taddrs[i].port)
			return 0;
	return devreg_str_eq(a->id, b->id) && devreg_str_eq(a->name, b->name) &&
	       devreg_str_eq(a->address, b->address) &&
	       devreg_str_eq(a->kind, b->kind) &&
	       devreg_str_eq(a->socket_path, b->socket_path) &&
	       strv_equal(a->tags, a->ntags, b->tags, b->ntags) &&
	       a->port == b->port && a->weight_passing == b->weight_passing &&
	       a->weight_warning == b->weight_warning &&
	       a->has_weights == b->has_weights &&
	       a->enable_tag_override == b->enable_tag_override;
}
