/*
 * devreg_def.h - service and check definitions as a client sends them
 * (Consul's ServiceDefinition, CheckType and CheckDefinition), their
 * validation with Consul's error texts, and their defaults.
 *
 * Strings are owned by the definition and may be NULL where the client
 * left the field out; NULL and "" mean the same everywhere.
 */
#ifndef DEVREG_DEF_H
#define DEVREG_DEF_H

#include <stddef.h>
#include <stdint.h>

enum devreg_status {
	DEVREG_PASSING,
	DEVREG_WARNING,
	DEVREG_CRITICAL
};

/* "passing", "warning", "critical". */
const char *devreg_status_name(enum devreg_status s);
/* 0 and *out set for one of the three words (exact, lowercase), else
 * -EINVAL. */
int devreg_status_parse(const char *s, enum devreg_status *out);

enum devreg_check_type {
	DEVREG_CT_NONE,
	DEVREG_CT_TTL,
	DEVREG_CT_HTTP,
	DEVREG_CT_TCP,
	DEVREG_CT_UDP,
	DEVREG_CT_GRPC,
	DEVREG_CT_ALIAS,
	DEVREG_CT_DOCKER,
	DEVREG_CT_SCRIPT,
	DEVREG_CT_H2PING,
	DEVREG_CT_OS_SERVICE,
	DEVREG_CT_MAINTENANCE
};

/* Consul's Type() word: "http", "ttl", ... or "" for none. */
const char *devreg_check_type_name(enum devreg_check_type t);

struct devreg_header {
	char *name;
	char **values;
	size_t nvalues;
};

struct devreg_pair {
	char *key;
	char *value;
};

struct devreg_taddr {
	char *key;
	char *address;
	int port;
};

struct devreg_check_def {
	char *id;          /* CheckID (service checks) or ID (check/register) */
	char *name;
	char *notes;
	char *status;      /* initial status as sent, NULL: critical */
	char *service_id;  /* check/register only */
	char **args;
	size_t nargs;
	char *http, *method, *body, *tcp, *udp, *grpc, *h2ping;
	char *alias_node, *alias_service, *docker_container_id, *shell;
	char *os_service, *tls_server_name;
	struct devreg_header *headers;
	size_t nheaders;
	int64_t interval, timeout, ttl, deregister_after;   /* nanoseconds */
	int tls_skip_verify, disable_redirects, tcp_use_tls;
	int grpc_use_tls, h2ping_use_tls;
	int success_before_passing, failures_before_warning;
	int failures_before_critical, output_max_size;
	int failures_before_warning_set;
};

struct devreg_service_def {
	char *id, *name, *address, *kind, *socket_path;
	char **tags;
	size_t ntags;
	struct devreg_pair *meta;
	size_t nmeta;
	struct devreg_taddr *taddrs;
	size_t ntaddrs;
	int port;
	int has_weights, weight_passing, weight_warning;
	int enable_tag_override;
	/* The non-empty `Check` first, then every `Checks` element. */
	struct devreg_check_def **checks;
	size_t nchecks;
};

void devreg_check_def_free(struct devreg_check_def *c);
void devreg_service_def_free(struct devreg_service_def *s);

/* Deep copies; NULL when out of memory. */
struct devreg_check_def *devreg_check_def_dup(const struct devreg_check_def *c);

/* Consul's CheckType.Empty(): every field at its zero value. */
int devreg_check_def_empty(const struct devreg_check_def *c);
/* Consul's CheckType.Type(). */
enum devreg_check_type devreg_check_def_type(const struct devreg_check_def *c);
/* Consul's CheckType.Validate(). 0, or -EINVAL with the message (without
 * the "Invalid check: " prefix) in err. */
int devreg_check_def_validate(const struct devreg_check_def *c, char *err,
			      size_t errlen);
/* Same definition (what a re-registration compares). */
int devreg_check_def_equal(const struct devreg_check_def *a,
			   const struct devreg_check_def *b);

/* The checks AgentRegisterService makes before storing a service: name,
 * address, weights, meta, checks, check statuses. 0, or -EINVAL with the
 * full 400 body text ("Missing service name", "Invalid check: ...") in
 * err. */
int devreg_service_def_validate(const struct devreg_service_def *s, char *err,
				size_t errlen);
/* Fill the defaults of a valid definition: ID = Name, Weights 1/1,
 * lan/wan tagged addresses for an IP literal Address. 0 or -ENOMEM. */
int devreg_service_def_apply_defaults(struct devreg_service_def *s);
/* Same service fields (tags, meta, ports...), checks not compared. */
int devreg_service_def_equal(const struct devreg_service_def *a,
			     const struct devreg_service_def *b);

/* NULL-safe string helpers used across the module. */
static inline const char *
devreg_str(const char *s)
{
	return s != NULL ? s : "";
}
int devreg_str_eq(const char *a, const char *b);

#endif
