/*
 * registrar-internal.h - private to libregistrar.
 *
 * Helpers shared between the library's files use the rgr_ prefix, not
 * registrar_: the shared library exports every symbol that matches
 * ^registrar_, and these must stay hidden.
 *
 * Locking: every field below the lock is guarded by it, except those
 * marked immutable (set by registrar_new(), read freely afterwards).
 */
#ifndef REGISTRAR_INTERNAL_H
#define REGISTRAR_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include "registrar.h"
#include "registry-client/consul_api.h"

/* Whole-request limit for every call to the agent. A hung agent delays a
 * stop by at most this much. */
#define RGR_REQUEST_TIMEOUT_MS 5000L
/* How often the thread asks the agent whether it still knows the service. */
#define RGR_PROBE_EVERY_MS 1000
/* How soon the thread tries again while the agent does not answer. */
#define RGR_RETRY_UNREACHABLE_MS 250
/* How soon it tries again after the agent refused a registration. */
#define RGR_RETRY_REJECTED_MS 2000
/* Heartbeats are never closer together than this, whatever the TTL. */
#define RGR_HEARTBEAT_MIN_MS 50

#define RGR_DEFAULT_INTERVAL_MS 10000u
#define RGR_DEFAULT_TTL_MS 10000u

/* The main check and the extra TTL check. */
#define RGR_MAX_CHECKS 2

/* One TTL check the thread passes. */
struct rgr_beat {
	const char *check_id; /* one of the spec's check_id or extra_id */
	int64_t period_ms;
};

/* A validated, owned copy of struct registrar_service. */
struct rgr_spec {
	char *name;
	char *id;             /* the name when none was given */
	char *address;        /* NULL: the agent's node address */
	int port;
	char **tags;
	size_t ntags;
	char **meta;          /* 2 * nmeta strings */
	size_t nmeta;
	int weight_passing;   /* 0 with weight_warning 0: Weights left out */
	int weight_warning;
	enum registrar_check_kind check;
	char *check_target;   /* NULL for TTL and none */
	char *check_id;       /* "service:<id>", or "service:<id>:2" after
			       * an extra check; NULL without a check */
	unsigned interval_ms;
	unsigned timeout_ms;
	unsigned ttl_ms;
	unsigned deregister_after_ms;
	char *extra_id;       /* the extra TTL check; NULL: none */
	unsigned extra_ttl_ms;
	unsigned extra_deregister_after_ms;
	/* The TTL checks among the above, in the order they are sent. */
	struct rgr_beat beats[RGR_MAX_CHECKS];
	size_t nbeats;
};

/* 1 when s has no control characters (bytes below 0x20, and 0x7f). */
int rgr_text_ok(const char *s);
/* Validate svc and copy it into s (zeroed first). REGISTRAR_OK,
 * REGISTRAR_EINVAL or REGISTRAR_ENOMEM; s is cleared on failure. */
int rgr_spec_init(struct rgr_spec *s, const struct registrar_service *svc);
void rgr_spec_clear(struct rgr_spec *s);
/* Validate and copy n tags into *out (NULL when n is 0). */
int rgr_tags_copy(const char *const *tags, size_t n, char ***out);
void rgr_strv_free(char **v, size_t n);
/* Fill reg and its checks (up to RGR_MAX_CHECKS, in chk) from s; both
 * borrow s's strings. */
void rgr_spec_registration(const struct rgr_spec *s,
			   struct consul_check_def chk[RGR_MAX_CHECKS],
			   struct consul_registration *reg);

enum rgr_run {
	RGR_STOPPED = 0,
	RGR_RUNNING,
	RGR_STOPPING   /* registrar_stop() is joining the thread */
};

enum rgr_agent_state {
	RGR_AGENT_UNKNOWN = 0,
	RGR_AGENT_UP,
	RGR_AGENT_DOWN
};

#define RGR_LOGQ_LINES 8
#define RGR_LOG_LINE 384

struct rgr_log_line {
	enum registrar_log_level level;
	char text[RGR_LOG_LINE];
};

struct registrar {
	struct rgr_spec spec;       /* immutable except tags */
	registrar_log_fn log;       /* immutable */
	void *log_arg;              /* immutable */
	char *agent_name;           /* immutable: the agent's base URL, for logs */

	pthread_mutex_t lock;
	pthread_cond_t wake;        /* CLOCK_MONOTONIC; signalled by stop */
	pthread_t thread;
	int lock_ready, wake_ready; /* for a partly built handle */

	struct consul_client *client; /* used only with the lock held */
	enum rgr_run run;
	enum rgr_agent_state agent;
	int registered;             /* the agent holds the current definition */
	int ever_registered;        /* since the last start: "registered" vs "re-registered" */
	int maintenance;            /* wanted state, re-applied on each registration */
	char *maintenance_reason;
	int last_failure;           /* the failure logged last, so repeats stay quiet */
	const char *lost_why;       /* why the next registration is needed, for the log */
	int64_t last_register_ms;   /* when the agent last took the registration */
	int64_t next_retry_ms;      /* when not registered */
	int64_t next_probe_ms;      /* when registered */
	int64_t next_heartbeat_ms[RGR_MAX_CHECKS]; /* per spec.beats, when registered */

	/* Log lines made with the lock held, handed to the callback after it
	 * is released (rgr_unlock), so the callback never runs under it. */
	struct rgr_log_line logq[RGR_LOGQ_LINES];
	size_t nlogq;
};

void rgr_lock(struct registrar *r);
/* Release the lock, then pass the queued log lines to the callback. */
void rgr_unlock(struct registrar *r);
/* Queue a log line (lock held). Nothing is formatted without a callback. */
void rgr_log(struct registrar *r, enum registrar_log_level level,
	     const char *fmt, ...) __attribute__((format(printf, 3, 4)));

int64_t rgr_now_ms(void);

/*
 * Talking to the agent, all with the lock held. Each returns a REGISTRAR_*
 * code and keeps registered / agent / the schedule up to date.
 */
/* Register the service, apply the wanted maintenance state and send a
 * heartbeat for each TTL check. why is "start", "tags", "forgotten" or
 * "agent-back", for the log. */
int rgr_sync_register(struct registrar *r, const char *why);
/* One heartbeat for spec.beats[beat]; a 404 means the agent forgot the
 * service. */
int rgr_sync_heartbeat(struct registrar *r, size_t beat);
/* Ask the agent whether it still knows the service ID. */
int rgr_sync_probe(struct registrar *r);
/* Send the wanted maintenance state. */
int rgr_sync_maintenance(struct registrar *r);
/* Deregister; a service the agent no longer knows counts as done. */
int rgr_sync_deregister(struct registrar *r);

/* The background thread's body; arg is the struct registrar. */
void *rgr_thread_main(void *arg);

#endif
