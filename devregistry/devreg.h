/*
 * devreg.h - switchyard-registry as a library: a single-node, in-memory,
 * Consul-compatible agent on an event_base. It is a development and test
 * stand-in for a Consul agent, never a production registry.
 *
 * Everything runs on the given base's thread; devreg_new() and
 * devreg_free() must be called on that thread (or before it runs).
 */
#ifndef DEVREG_H
#define DEVREG_H

#include <stdint.h>
#include <event2/event.h>

enum devreg_log_level {
	DEVREG_LOG_DEBUG,
	DEVREG_LOG_INFO,
	DEVREG_LOG_WARN,
	DEVREG_LOG_ERROR
};

/* One key=value log line without a newline; valid during the call. */
typedef void (*devreg_log_fn)(enum devreg_log_level level, const char *line,
			      void *arg);

struct devreg_config {
	const char *listen;       /* "host:port"; NULL: 127.0.0.1:8500 */
	const char *node_name;    /* NULL: the host name */
	const char *datacenter;   /* NULL: dc1 */
	int compat_get_verbs;     /* accept GET on the pre-1.0 write endpoints */
	int strict_decode;        /* reject unknown JSON fields, as Consul does */
	unsigned reap_interval_ms; /* 0: 30000, as Consul's check_reap_interval */
	unsigned deregister_min_ms; /* 0: 60000, the floor of DeregisterCriticalServiceAfter */
	unsigned interval_min_ms;  /* 0: 1000, the floor of check intervals */
	enum devreg_log_level log_level;
	devreg_log_fn log;        /* NULL: silent */
	void *log_arg;
	unsigned request_timeout_ms; /* 0: 60000; a request (or an idle
				      * keep-alive connection) that sends
				      * nothing for this long is closed;
				      * blocking queries are not affected */
};

struct devreg;

/* Bind and start serving. NULL on failure, with *err (if not NULL) set to
 * a negative errno (-EADDRINUSE when the address is taken). */
struct devreg *devreg_new(struct event_base *base,
			  const struct devreg_config *cfg, int *err);
/* The bound port (useful with port 0). */
int devreg_port(const struct devreg *d);
/* Stop listening, answer every waiting blocking query, free all. NULL is a
 * no-op. */
void devreg_free(struct devreg *d);

#endif
