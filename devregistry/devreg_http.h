/*
 * devreg_http.h - the HTTP side of the dev agent: the server struct the
 * handlers share, one request's context, and the helpers every handler
 * uses to read parameters and to reply with Consul's headers and texts.
 *
 * A handler runs for a request and either replies (DEVREG_DONE) or asks
 * to wait for a change (DEVREG_PARK: the request stays pending and the
 * same handler runs again after every write to the store, and once more
 * with timed_out set when the wait is over). A handler must be cheap when
 * nothing changed: compute the query's index first, render only when it
 * moved.
 */
#ifndef DEVREG_HTTP_H
#define DEVREG_HTTP_H

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stddef.h>
#include <stdint.h>

#include "devregistry/devreg.h"
#include "devregistry/devreg_checks.h"
#include "devregistry/devreg_log.h"
#include "devregistry/devreg_store.h"

#define DEVREG_DONE 0
#define DEVREG_PARK 1

#define DEVREG_KV_MAX_VALUE (512 * 1024)
#define DEVREG_BODY_MAX (4 * 1024 * 1024)
#define DEVREG_HEADERS_MAX (64 * 1024)

struct devreg_req;
typedef int (*devreg_handler_fn)(struct devreg_req *r);

struct devreg_route;

struct devreg {
	struct event_base *base;
	struct devreg_log log;
	int compat_get;
	int strict;
	int64_t request_timeout_ms;
	char *listen_host;
	int port;
	char *self_addr;          /* the leader address: "<host>:8300" */
	struct devreg_store *store;
	struct devreg_checks *checks;
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	struct event *wake_ev;
	struct devreg_req *waiters;   /* parked requests */
	size_t nwaiters;
	int closing;
};

struct devreg_query_pair {
	char *key;
	char *value;
};

struct devreg_req {
	struct devreg *d;
	struct evhttp_request *req;
	struct evhttp_connection *conn;
	enum evhttp_cmd_type method;
	const struct devreg_route *route;
	char *path;                  /* URL-decoded */
	const char *rest;            /* the path after the route's prefix */
	struct devreg_query_pair *q; /* query parameters, in order */
	size_t nq;
	/* Blocking parameters (routes that take them). */
	uint64_t min_index;          /* 0: do not block */
	int64_t wait_ms;
	const char *hash;            /* NULL or "": no hash blocking */
	const char *consistency;     /* "leader", "stale" or "consistent" */
	int timed_out;               /* the wait is over: reply now */
	int body_terminated;         /* devreg_body() added its NUL */
	/* Parking. */
	int parked;
	struct event *timer;
	struct event *watch;
	struct devreg_req *prev, *next;
};

/* --- parameters (devreg_query.c) --- */

/* Percent-decode n bytes of s; with plus, '+' means a space (queries).
 * A new string, or NULL for a bad escape or an embedded NUL (Go rejects
 * the first; C strings cannot carry the second) or no memory. */
char *devreg_unescape(const char *s, size_t n, int plus);
/* Fill r->q from a raw query string as Go's url.ParseQuery does: pairs
 * split on '&', a bare key has the value "", malformed pairs are
 * dropped. 0 or -ENOMEM. */
int devreg_query_parse(struct devreg_req *r, const char *qs);

/* The first value of key (case-sensitive, as Go's url.Values), "" for a
 * bare "?key", NULL when absent. */
const char *devreg_query(const struct devreg_req *r, const char *key);
int devreg_query_has(const struct devreg_req *r, const char *key);
/* Every value of key, up to max; returns how many. */
size_t devreg_query_all(const struct devreg_req *r, const char *key,
			const char **out, size_t max);
/* Go's strconv.ParseBool. 0 and *out, or -EINVAL. */
int devreg_parse_bool(const char *s, int *out);
/* Go's strconv.ParseUint(s, 10, 64). 0, or -EINVAL / -ERANGE. */
int devreg_parse_u64(const char *s, uint64_t *out);
/* Go's url.Values.Encode() of the request's query (keys sorted). A new
 * string or NULL. */
char *devreg_query_encode(const struct devreg_req *r);
/* The request body, NUL-terminated, and its length; NULL when empty. */
const char *devreg_body(struct devreg_req *r, size_t *len);

/* --- blocking --- */

/* Whether a query whose current index is idx should keep waiting. */
int devreg_block_on_index(const struct devreg_req *r, uint64_t idx);
/* Whether a hash-blocking query should keep waiting. */
int devreg_block_on_hash(const struct devreg_req *r, const char *hash);

/* --- replies (each sends X-Consul-Default-Acl-Policy) --- */

/* The blocking-query headers: X-Consul-Index (never 0),
 * X-Consul-Knownleader, X-Consul-Lastcontact and
 * X-Consul-Effective-Consistency. */
void devreg_set_index_headers(struct devreg_req *r, uint64_t index);
void devreg_set_header(struct devreg_req *r, const char *name, const char *value);
/* 200 with an empty body. */
void devreg_reply_empty(struct devreg_req *r, int code);
/* JSON (pretty, as a dev agent answers); takes and deletes v. A NULL v
 * (out of memory) becomes a 500. */
void devreg_reply_json(struct devreg_req *r, int code, cJSON *v);
/* A plain-text error body, exactly as formatted. */
void devreg_reply_text(struct devreg_req *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Raw bytes with a content type. */
void devreg_reply_raw(struct devreg_req *r, int code, const char *ctype,
		      const void *data, size_t len);

/* --- server --- */

/* Create the evhttp server on d->base bound to host:port (port 0: any).
 * 0 or a negative errno. */
int devreg_http_start(struct devreg *d, const char *host, int port);
/* Answer every parked request with what it would get at its timeout,
 * then free the server. */
void devreg_http_stop(struct devreg *d);
/* The store's changed hook: wake parked requests soon. */
void devreg_http_changed(void *arg);

#endif
