/*
 * consul_json.h - every cJSON call on Consul payloads.
 *
 * Decoders take a buffer and its length (no NUL needed), never trust it,
 * and on failure fill struct consul_json_err with where and what, e.g.
 * "[3].Service.Port: not a number". Decoded structs own all their strings;
 * each has a *_clear() that frees them and zeroes the struct (NULL-safe,
 * idempotent). Optional strings that were absent or null decode as "" (never
 * NULL), optional objects and arrays as empty. Unsigned 64-bit numbers
 * (indexes, Flags) are read from the raw token, so values above 2^53 stay
 * exact; negative or fractional values are errors.
 */
#ifndef CONSUL_JSON_H
#define CONSUL_JSON_H

#include <stddef.h>
#include <stdint.h>

struct consul_json_err {
	char msg[192];
};

enum consul_status {
	CONSUL_STATUS_UNKNOWN = 0,
	CONSUL_STATUS_PASSING,
	CONSUL_STATUS_WARNING,
	CONSUL_STATUS_CRITICAL,
	CONSUL_STATUS_MAINTENANCE  /* only from consul_checks_aggregate() */
};

/* "passing", "warning", "critical" (and "maintenance") <-> enum. */
enum consul_status consul_status_parse(const char *s);
const char *consul_status_name(enum consul_status st);

/* A HealthCheck record (health/state, the Checks of health/service). */
struct consul_check {
	char *node;
	char *check_id;
	char *name;
	enum consul_status status;
	char *output;
	char *service_id;
	char *service_name;
	char *type;
	uint64_t create_index;
	uint64_t modify_index;
};

struct consul_check_list {
	struct consul_check *v;
	size_t n;
};

/* One element of /v1/health/service/<name>. */
struct consul_service_entry {
	char *node;             /* Node.Node */
	char *node_address;     /* Node.Address */
	char *datacenter;       /* Node.Datacenter */
	char *id;               /* Service.ID */
	char *name;             /* Service.Service */
	char *address;          /* Service.Address, "" when unset */
	int port;               /* Service.Port, 0..65535 */
	char **tags;            /* Service.Tags */
	size_t ntags;
	char **meta;            /* Service.Meta as 2 * nmeta strings: key, value */
	size_t nmeta;
	int weight_passing;     /* Service.Weights; 1/1 when absent */
	int weight_warning;
	struct consul_check *checks;
	size_t nchecks;
	uint64_t create_index;
	uint64_t modify_index;
};

struct consul_service_list {
	struct consul_service_entry *v;
	size_t n;
};

/* /v1/catalog/services: name -> tags. */
struct consul_catalog_service {
	char *name;
	char **tags;
	size_t ntags;
};

struct consul_catalog {
	struct consul_catalog_service *v;
	size_t n;
};

/* One DirEntry of /v1/kv. value is NULL for a null Value (value_len 0);
 * otherwise the decoded bytes with a NUL after them (not counted). */
struct consul_kv_entry {
	char *key;
	unsigned char *value;
	size_t value_len;
	uint64_t flags;
	uint64_t lock_index;
	uint64_t create_index;
	uint64_t modify_index;
	char *session;
};

struct consul_kv_list {
	struct consul_kv_entry *v;
	size_t n;
};

/* The parts of /v1/agent/self that clients read. */
struct consul_self {
	char *datacenter;  /* Config.Datacenter, required */
	char *node_name;   /* Config.NodeName, required */
	char *version;     /* Config.Version, "" when absent */
};

int consul_json_decode_checks(const char *buf, size_t len,
			      struct consul_check_list *out,
			      struct consul_json_err *err);
int consul_json_decode_health_service(const char *buf, size_t len,
				      struct consul_service_list *out,
				      struct consul_json_err *err);
int consul_json_decode_catalog_services(const char *buf, size_t len,
					struct consul_catalog *out,
					struct consul_json_err *err);
int consul_json_decode_kv(const char *buf, size_t len,
			  struct consul_kv_list *out,
			  struct consul_json_err *err);
int consul_json_decode_self(const char *buf, size_t len,
			    struct consul_self *out,
			    struct consul_json_err *err);
/* A KV write or delete answer: "true" or "false". */
int consul_json_decode_bool(const char *buf, size_t len, int *out,
			    struct consul_json_err *err);

void consul_check_list_clear(struct consul_check_list *l);
void consul_service_list_clear(struct consul_service_list *l);
void consul_catalog_clear(struct consul_catalog *c);
void consul_kv_list_clear(struct consul_kv_list *l);
void consul_self_clear(struct consul_self *s);

/* Consul's aggregate: maintenance > critical > warning > passing (passing
 * for none). */
enum consul_status consul_checks_aggregate(const struct consul_check *v,
					   size_t n);

/* What to register. Strings are borrowed for the duration of the call. */
enum consul_check_kind {
	CONSUL_CHECK_HTTP = 1,
	CONSUL_CHECK_TCP,
	CONSUL_CHECK_TTL
};

struct consul_check_def {
	enum consul_check_kind kind;
	const char *id;         /* NULL: the agent's default */
	const char *name;       /* NULL: the agent's default */
	const char *target;     /* HTTP URL or TCP host:port */
	uint64_t interval_ms;
	uint64_t timeout_ms;    /* 0: left out */
	uint64_t ttl_ms;
	uint64_t deregister_after_ms; /* 0: left out */
	const char *status;     /* initial status; NULL: left out */
};

struct consul_registration {
	const char *id;         /* NULL: left out (the agent uses the name) */
	const char *name;
	const char *address;    /* NULL: left out */
	int port;
	const char *const *tags;
	size_t ntags;
	const char *const *meta; /* 2 * nmeta strings */
	size_t nmeta;
	int weight_passing;     /* 0: Weights left out */
	int weight_warning;
	const struct consul_check_def *checks;
	size_t nchecks;
};

/* The JSON body of PUT /v1/agent/service/register. Caller frees. NULL when
 * out of memory or a field is invalid (no name). Durations are written as
 * Go duration strings ("1500ms", "10s"). */
char *consul_json_encode_registration(const struct consul_registration *r);

/* Write a Go duration string for ms ("0s", "250ms", "10s", "1m30s" style
 * is not needed: "<n>ms" or "<n>s"). Returns buf. */
char *consul_duration_format(uint64_t ms, char *buf, size_t size);

#endif
