/*
 * registrar.h - let a C service register itself with a Consul agent.
 *
 * One struct registrar stands for one service instance. registrar_start()
 * registers it and starts a background thread that keeps the registration
 * alive: it sends TTL heartbeats (for TTL checks) and re-registers the
 * service within two seconds of an agent that restarted and forgot it
 * answering again. registrar_set_tags() changes the tags of the running
 * service (blue-green cutover); registrar_free() deregisters it.
 *
 * Thread safety: every function may be called from any thread, and the
 * calls on one struct registrar are serialised by a lock inside it, except
 * registrar_free(), which must not race with other calls on the same
 * handle. The log callback runs on the calling thread or on the
 * registrar's background thread, never while the caller holds a registrar
 * lock of its own making; it must not call back into the same handle.
 *
 * The library never prints: it is silent unless given a log callback.
 * Errors are negative REGISTRAR_E* codes; registrar_strerror() names them.
 */
#ifndef REGISTRAR_H
#define REGISTRAR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define REGISTRAR_OK 0
#define REGISTRAR_EINVAL (-1)      /* an argument is missing or malformed */
#define REGISTRAR_ENOMEM (-2)      /* out of memory */
#define REGISTRAR_EUNREACHABLE (-3) /* the agent did not answer */
#define REGISTRAR_EREJECTED (-4)   /* the agent answered with an error status */
#define REGISTRAR_ESTATE (-5)      /* not started, or started twice */
#define REGISTRAR_ETHREAD (-6)     /* the background thread could not start */

enum registrar_check_kind {
	REGISTRAR_CHECK_NONE = 0,
	REGISTRAR_CHECK_HTTP,  /* the agent GETs check_target, a URL */
	REGISTRAR_CHECK_TCP,   /* the agent connects to check_target, host:port */
	REGISTRAR_CHECK_TTL    /* the registrar's thread reports passing */
};

enum registrar_log_level {
	REGISTRAR_LOG_DEBUG,
	REGISTRAR_LOG_INFO,
	REGISTRAR_LOG_WARN,
	REGISTRAR_LOG_ERROR
};

/* A log line without a trailing newline; valid only during the call. */
typedef void (*registrar_log_fn)(enum registrar_log_level level,
				 const char *msg, void *arg);

/*
 * A second check beside the main one: a TTL check with an ID of its own,
 * which the registrar's thread passes (fabio's self-registration has one
 * beside its HTTP check). It is registered, heartbeated and registered
 * again together with the service.
 */
struct registrar_ttl_check {
	const char *id;               /* required; not the main check's ID */
	unsigned ttl_ms;              /* 0: 10 s */
	unsigned heartbeat_ms;        /* 0: ttl/3; otherwise below ttl_ms */
	unsigned deregister_after_ms; /* DeregisterCriticalServiceAfter; 0: none */
};

/*
 * The service to register. registrar_new() copies every string and array,
 * so the caller may free or reuse them after the call returns.
 */
struct registrar_service {
	const char *name;          /* required */
	const char *id;            /* NULL: the name */
	const char *address;       /* NULL: the agent's node address */
	int port;                  /* 0..65535 */
	const char *const *tags;   /* ntags strings */
	size_t ntags;
	const char *const *meta;   /* nmeta key/value pairs: 2 * nmeta strings */
	size_t nmeta;
	int weight_passing;        /* 0: the agent's default (1) */
	int weight_warning;        /* 0 with weight_passing 0: default (1) */

	enum registrar_check_kind check;
	const char *check_target;  /* URL for HTTP, host:port for TCP */
	unsigned check_interval_ms;  /* HTTP/TCP; 0: 10 s */
	unsigned check_timeout_ms;   /* HTTP/TCP; 0: the agent's default */
	unsigned check_ttl_ms;       /* TTL; 0: 10 s. Heartbeats every ttl/3 */
	unsigned deregister_after_ms; /* DeregisterCriticalServiceAfter; 0: none */

	/* NULL: none. Copied by registrar_new(). With it the service has two
	 * checks, sent in this order: this one, then the main check (when
	 * check is not NONE), whose ID becomes "service:<id>:2", the ID the
	 * agent gives the second of two checks. */
	const struct registrar_ttl_check *extra_ttl_check;
};

/* Where the agent is and how to talk to it. */
struct registrar_agent {
	const char *address;  /* "host:port", "http://..." or "https://..."; NULL: 127.0.0.1:8500 */
	const char *token;    /* ACL token sent as X-Consul-Token; NULL: none */
	const char *ca_file;  /* CA bundle for https; NULL: the system's */
	registrar_log_fn log; /* NULL: silent */
	void *log_arg;
};

struct registrar;

/*
 * Validate and copy the service and agent descriptions. Nothing is sent
 * yet. Returns NULL and sets *err (when err is not NULL) on failure.
 */
struct registrar *registrar_new(const struct registrar_service *svc,
				const struct registrar_agent *agent, int *err);

/*
 * Register the service with the agent and start the background thread.
 * For a TTL check (main or extra) the first heartbeat is sent at once, so
 * the service passes without waiting for a TTL period. If the agent does
 * not answer, returns REGISTRAR_EUNREACHABLE but keeps the thread
 * running: it registers the service as soon as the agent answers. Any
 * other failure leaves the registrar stopped.
 */
int registrar_start(struct registrar *r);

/*
 * Replace the tags of the running service and re-register it, keeping its
 * checks' status. The tag array is copied.
 */
int registrar_set_tags(struct registrar *r, const char *const *tags,
		       size_t ntags);

/* Put the service into maintenance (enable != 0) or take it out. The
 * reason may be NULL. Remembered and re-applied after an agent restart. */
int registrar_set_maintenance(struct registrar *r, int enable,
			      const char *reason);

/* Deregister the service and stop the background thread. The handle may
 * be started again afterwards. */
int registrar_stop(struct registrar *r);

/* The service ID in use: the given ID or the name. Owned by r. */
const char *registrar_service_id(const struct registrar *r);

/* Stop (deregistering when started) and free. NULL is a no-op. */
void registrar_free(struct registrar *r);

/* A static text for an error code; never NULL. */
const char *registrar_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif
