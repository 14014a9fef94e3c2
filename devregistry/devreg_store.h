/*
 * devreg_store.h - the registry's state: one node, its services and
 * checks, the KV store, and the raft-like indexes that blocking queries
 * wait on. Pure data: no event loop, no sockets, so Check suites drive it
 * directly.
 *
 * Indexes. One counter hands out indexes; every write operation (one API
 * call, one check result, one reaper pass) takes a single new index for
 * everything it changes, and only when it changes something: identical
 * re-registrations, identical KV values and output-only check updates keep
 * every index where it was. Tables keep the highest index that touched
 * them (services, checks, node-level checks, KV), each service name keeps
 * its own, and a name that disappears hands its index to
 * missing_service_index, so no query's index ever goes down.
 *
 * Ownership: the store owns every object it returns; pointers stay valid
 * until the object is deregistered (or the store freed). Definitions
 * passed in are taken over by the store.
 */
#ifndef DEVREG_STORE_H
#define DEVREG_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "devregistry/devreg_def.h"
#include "devregistry/devreg_log.h"
#include "devregistry/devreg_map.h"

#define DEVREG_SERF_CHECK_ID "serfHealth"
#define DEVREG_NODE_MAINT_ID "_node_maintenance"
#define DEVREG_SERVICE_MAINT_PREFIX "_service_maintenance:"
#define DEVREG_CONSUL_SERVICE "consul"
#define DEVREG_OUTPUT_MAX 4096

struct devreg_service;

struct devreg_check {
	char *id;
	char *name;
	char *notes;
	char *output;
	enum devreg_status status;
	enum devreg_check_type type;
	struct devreg_service *service;   /* NULL: a node-level check */
	struct devreg_check_def *def;     /* NULL: serfHealth, maintenance */
	int64_t interval_ms;              /* after the interval_min floor */
	int64_t deregister_after_ms;      /* after the deregister_min floor; 0: never */
	uint64_t create_index, modify_index;
	int critical_since_set;           /* set by the first critical result */
	int64_t critical_since_ms;
	int agent_local;                  /* listed by /v1/agent/checks */
	void *runner;                     /* the check runner's state */
	struct devreg_check *prev, *next;         /* every check, in order */
	/* The owner's checks: the service's, or the node's when service is
	 * NULL. */
	struct devreg_check *svc_prev, *svc_next;
	int owned;                        /* linked into an owner list */
};

struct devreg_svcgroup {
	char *name;
	uint64_t index;                   /* last write touching the name */
	struct devreg_service *head, *tail;
	size_t count;
};

struct devreg_service {
	struct devreg_service_def *def;   /* defaults applied; def->checks empty */
	uint64_t create_index, modify_index;
	int agent_local;                  /* 0 for the built-in consul service */
	struct devreg_svcgroup *group;
	struct devreg_service *prev, *next;         /* every service, in order */
	struct devreg_service *grp_prev, *grp_next; /* same name */
	struct devreg_check *checks_head, *checks_tail;
	size_t nchecks;
};

struct devreg_kv {
	char *key;
	unsigned char *value;             /* NULL with has_value 0: JSON null */
	size_t len;
	int has_value;
	int deleted;                      /* a tombstone: modify_index = delete */
	uint64_t flags, lock_index, create_index, modify_index;
};

struct devreg_node {
	char *name;
	char *id;          /* a random UUID */
	char *address;
	char *datacenter;
	uint64_t create_index, modify_index;
};

struct devreg_store_hooks {
	/* A check with a definition was added or redefined: start its runner. */
	void (*check_started)(void *arg, struct devreg_check *c);
	/* A check is about to be removed or redefined: stop its runner. */
	void (*check_stopped)(void *arg, struct devreg_check *c);
	/* A write moved the index: wake blocked queries. Called once per
	 * write operation, after the state is consistent again. */
	void (*changed)(void *arg);
	void *arg;
};

struct devreg_store_config {
	const char *node_name;     /* required */
	const char *node_address;  /* required */
	const char *datacenter;    /* required */
	const char *node_id;       /* NULL: generated */
	int64_t deregister_min_ms; /* floor of DeregisterCriticalServiceAfter */
	int64_t interval_min_ms;   /* floor of check intervals */
	uint64_t first_index;      /* the counter's start; 0: 10 */
	int64_t (*now_ms)(void *arg);  /* NULL: CLOCK_MONOTONIC */
	void *now_arg;
};

struct devreg_store {
	struct devreg_node node;
	uint64_t index;                 /* the last index handed out */
	uint64_t services_index;        /* /v1/catalog/services */
	uint64_t checks_index;          /* /v1/health/state */
	uint64_t node_checks_index;     /* checks without a service */
	uint64_t missing_service_index; /* names with no instance */
	uint64_t kv_index;              /* the KV table, tombstones included */
	struct devreg_map *services;    /* ID -> service */
	struct devreg_map *checks;      /* ID -> check */
	struct devreg_map *groups;      /* name -> group */
	struct devreg_service *svc_head, *svc_tail;
	struct devreg_check *chk_head, *chk_tail;
	struct devreg_check *node_checks_head, *node_checks_tail;
	size_t nservices, nchecks, nnode_checks;
	struct devreg_kv **kv;          /* sorted by key, tombstones included */
	size_t nkv, kvcap;
	struct devreg_store_config cfg;
	struct devreg_store_hooks hooks;
	struct devreg_log log;
	uint64_t txn;                   /* the index of the write in progress */
	int depth;
};

/* A store holding the node, its serfHealth check and the consul service
 * (port 8300). Copies cfg's strings; log may be NULL (silent). NULL when
 * out of memory. */
struct devreg_store *devreg_store_new(const struct devreg_store_config *cfg,
				      const struct devreg_log *log);
/* Frees everything; check_stopped is called for each check first. NULL is
 * a no-op. */
void devreg_store_free(struct devreg_store *s);
void devreg_store_set_hooks(struct devreg_store *s,
			    const struct devreg_store_hooks *hooks);
int64_t devreg_store_now(const struct devreg_store *s);

/* --- services and checks --- */

struct devreg_service *devreg_store_service(const struct devreg_store *s,
					    const char *id);
struct devreg_check *devreg_store_check(const struct devreg_store *s,
					const char *id);
struct devreg_svcgroup *devreg_store_group(const struct devreg_store *s,
					   const char *name);

/* Register or update a service from a validated definition with defaults
 * applied (devreg_service_def_validate/_apply_defaults); the store takes
 * def in every case. Checks get Consul's default IDs and names; checks
 * whose ID already exists keep their status and output. replace_checks
 * removes the service's other checks. Returns 0, -EEXIST for a reserved
 * ID (the consul service), -ENOMEM. */
int devreg_store_register_service(struct devreg_store *s,
				  struct devreg_service_def *def,
				  int replace_checks);
/* Remove a service and all its checks. 0 or -ENOENT (also for the
 * built-in consul service, which the agent does not own). */
int devreg_store_deregister_service(struct devreg_store *s, const char *id);

/* Register a check from a validated CheckDefinition (ID defaults to Name);
 * the store takes def. Re-registering an ID keeps status and output.
 * 0, -ENOENT when def->service_id names no service, -EEXIST for the
 * reserved serfHealth ID, -ENOMEM. */
int devreg_store_register_check(struct devreg_store *s,
				struct devreg_check_def *def);
/* 0 or -ENOENT (also for serfHealth, which the agent does not own). */
int devreg_store_deregister_check(struct devreg_store *s, const char *id);

/* A check result or TTL update. Output longer than the check's
 * OutputMaxSize (default 4096) is cut as Consul does. A status change
 * takes a new index and is logged; an output-only change is stored
 * without one. Critical results start the reaper's clock, others stop it.
 * Returns 1 when the status changed, 0 when not, -ENOMEM. */
int devreg_store_check_update(struct devreg_store *s, struct devreg_check *c,
			      enum devreg_status status, const char *output);

/* Maintenance mode: add (idempotent) or remove the critical
 * _service_maintenance:<id> or _node_maintenance check. reason NULL or ""
 * gives Consul's default note. 0 or -ENOMEM. */
int devreg_store_service_maintenance(struct devreg_store *s,
				     struct devreg_service *svc, int enable,
				     const char *reason);
int devreg_store_node_maintenance(struct devreg_store *s, int enable,
				  const char *reason);

/* Whether c has been critical longer than its DeregisterCriticalServiceAfter
 * at now_ms. */
int devreg_check_reap_due(const struct devreg_check *c, int64_t now_ms);
/* Deregister every service that has a check due (one reaper pass).
 * Returns how many services went. */
size_t devreg_store_reap(struct devreg_store *s);

/* The worst status of a list of checks, as AggregatedStatus() orders them;
 * *maint set when a maintenance check is among them. */
enum devreg_status devreg_checks_aggregate(const struct devreg_check *const *v,
					   size_t n, int *maint);

/* --- indexes of queries (never 0, never lower than before) --- */

/* /v1/catalog/service/<name> and /v1/health/checks/<name>. */
uint64_t devreg_store_service_index(const struct devreg_store *s,
				    const char *name);
/* /v1/health/service/<name>: also moves with node-level checks. */
uint64_t devreg_store_health_index(const struct devreg_store *s,
				   const char *name);

/* --- KV --- */

/* A live entry or NULL. */
struct devreg_kv *devreg_kv_get(const struct devreg_store *s, const char *key);
/* Entries (tombstones too) whose key starts with prefix are
 * s->kv[*first .. *first + return value). */
size_t devreg_kv_range(const struct devreg_store *s, const char *prefix,
		       size_t *first);
/* Set key to value (len bytes; value NULL or len 0 stores null). With
 * has_cas, only if the live entry's ModifyIndex is cas (cas 0: only if
 * there is none). Returns 1 (stored), 0 (CAS failed), -ENOMEM. */
int devreg_kv_put(struct devreg_store *s, const char *key,
		  const void *value, size_t len, uint64_t flags, int has_cas,
		  uint64_t cas);
/* Delete one key. With has_cas, only if its ModifyIndex is cas; a missing
 * key is a success. Returns 1 or 0 (CAS failed). */
int devreg_kv_delete(struct devreg_store *s, const char *key, int has_cas,
		     uint64_t cas);
/* Delete every key under prefix ("" is everything). Returns how many. */
size_t devreg_kv_delete_tree(struct devreg_store *s, const char *prefix);
/* ?keys: the live keys under prefix, sorted; with a non-empty sep each
 * is cut right after the first sep that follows the prefix, and repeats
 * are dropped ("web/b/c", "web/b/d" -> "web/b/"). *out is a new array of
 * new strings (the caller frees both). 0 or -ENOMEM. */
int devreg_kv_keys(const struct devreg_store *s, const char *prefix,
		   const char *sep, char ***out, size_t *count);
/* The index of GET /v1/kv/<key> (the key's ModifyIndex, else the table's). */
uint64_t devreg_kv_key_index(const struct devreg_store *s, const char *key);
/* The index of ?recurse and ?keys under prefix: the highest ModifyIndex of
 * entries and tombstones under it, else the table's, else 1. */
uint64_t devreg_kv_prefix_index(const struct devreg_store *s,
				const char *prefix);

/* --- used by devreg_kv.c: one write operation --- */
uint64_t devreg_store_txn_index(struct devreg_store *s);
void devreg_store_txn_begin(struct devreg_store *s);
void devreg_store_txn_end(struct devreg_store *s);

#endif
