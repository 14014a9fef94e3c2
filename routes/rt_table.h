/*
 * rt_table.h - an immutable route table: built once from route commands,
 * looked up by host and path from any number of threads without locks,
 * shared by reference count and handed to readers through mailboxes.
 *
 * A published table is never changed. Readers find routes and targets
 * through the structs below (read-only); picking a target is rt_pick.h's
 * job and keeps its mutable state outside the table, per reader thread.
 */
#ifndef RT_TABLE_H
#define RT_TABLE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "routes/rt_cmd.h"

enum rt_matcher {
	RT_MATCH_PREFIX = 0,  /* fabio's default: strings.HasPrefix, longest wins */
	RT_MATCH_IPREFIX,     /* the same, ASCII case-insensitive */
	RT_MATCH_GLOB         /* whole-path glob: '*' any run, '?' one char, [..] */
};

/* One upstream of a route. */
struct rt_target {
	char *service;
	char *instance;       /* Consul service ID; NULL for text-only targets */
	char *url;            /* as given: http://10.0.0.1:8080/ */
	char *scheme;         /* "http", "https", "tcp", ... */
	char *addr;           /* "10.0.0.1:8080" (IPv6 as "[::1]:8080") */
	uint64_t identity;    /* hash of (instance, addr): stable across builds */
	char **tags;
	size_t ntags;
	double fixed_weight;  /* from `route weight` / weight=; 0: dynamic */
	unsigned consul_weight; /* Consul's Weights multiplier (>= 1; 1 for
			       * targets not from Consul): dynamic targets
			       * split their part in proportion to it */
	double share;         /* fabio's computed share, 0..1; 0: gets no traffic */
	unsigned weight;      /* share as an integer out of 10000 (0: none) */
	int consul_down;      /* Consul excludes every instance of the service
			       * (rt_cmd.consul_down): share and weight are 0,
			       * the route keeps the target so that it answers
			       * 503 ("no healthy target") rather than the
			       * no-route status; a health predicate reads it
			       * as Consul's view of the target */
	struct rt_opts opts;
	size_t index;         /* position in the table's target numbering:
			       * 0..rt_table.ntargets-1, for per-reader state */
};

/* What picking reads of one target of a route. A route's entries lie
 * side by side, so a pick reads one or two cache lines for them instead
 * of three lines of every struct rt_target. */
struct rt_route_pick {
	const struct rt_target *target;
	uint64_t identity;    /* target->identity */
	uint32_t weight;      /* target->weight */
	uint32_t index;       /* target->index */
};

struct rt_route {
	char *host;           /* lower-cased, "" for host-less */
	char *path;           /* "/app", "" for a :port route */
	struct rt_target **targets; /* every target, zero-weight and
				 * consul_down ones included */
	size_t ntargets;
	unsigned total_weight; /* sum of targets' weight */
	size_t index;         /* 0..rt_table.nroutes-1 */
	const struct rt_route_pick *pick; /* ntargets entries in the order of
				 * targets (rt_table_build makes them); NULL:
				 * rt_pick reads the targets themselves */
};

struct rt_build_opts {
	enum rt_matcher matcher;
};

struct rt_table;

/*
 * Apply the commands in order (fabio §2.3: add, del, weight), compute the
 * weights (§2.5) and sort each host's routes so the longest path wins.
 * Commands that do not apply (a weight matching no target) are reported
 * in warnings (may be NULL) with their line and skipped. Returns a table
 * with one reference, or NULL when out of memory.
 *
 * Adds marked consul_down make targets that are kept but never weighed:
 * a route's other targets get exactly the shares they would get without
 * them, `route weight` neither counts nor changes them, `route del`
 * removes them like any target, and a down target and a live one with
 * the same service, URL, weight and tags are two targets. A route whose
 * targets are all down stays in the table with a total weight of 0.
 */
struct rt_table *rt_table_build(const struct rt_cmd_list *cmds,
				const struct rt_build_opts *opts,
				struct rt_cmd_list *warnings);

/* An empty table (no routes), with one reference. */
struct rt_table *rt_table_empty(void);

/* Reference counting. ref returns its argument; unref(NULL) is a no-op;
 * the last unref frees. Take a reference only on a table you already hold
 * a reference to: never load a shared pointer and then ref it. */
struct rt_table *rt_table_ref(struct rt_table *t);
void rt_table_unref(struct rt_table *t);

size_t rt_table_nroutes(const struct rt_table *t);
/* Route i (0..nroutes-1) in lookup order, or NULL past the end. */
const struct rt_route *rt_table_route(const struct rt_table *t, size_t i);
size_t rt_table_ntargets(const struct rt_table *t);
/* A bumped number per build, for logs. */
uint64_t rt_table_generation(const struct rt_table *t);
/* The bytes the table holds (for the benchmark and the admin page). */
size_t rt_table_bytes(const struct rt_table *t);

/*
 * Find the route for a request. host is the Host header as received (any
 * case, may carry a port; ":80" is ignored unless tls, ":443" when tls;
 * IPv6 literals in brackets); path must already be normalised
 * (rt_path_normalize). Order: exact host, then wildcard hosts most
 * specific first, then host-less routes; within a host the first route
 * whose path matches. NULL when no route matches. The result lives as
 * long as the table.
 */
const struct rt_route *rt_table_lookup(const struct rt_table *t,
				       const char *host, size_t host_len,
				       const char *path, size_t path_len,
				       int tls);

/*
 * Normalise a request path (without query): percent-decode the unreserved
 * characters (ALPHA DIGIT - . _ ~), resolve "." and ".." segments (never
 * above the root), collapse nothing else, keep a trailing slash. Writes a
 * NUL-terminated result into out. Returns its length, or -1 when the path
 * does not start with '/' or out (size) is too small.
 */
long rt_path_normalize(const char *in, size_t len, char *out, size_t size);

/* fabio's `route add` text of the whole table, one line per target that
 * gets traffic, in lookup order. A consul_down target is there too, its
 * line behind RT_DUMP_DOWN (a comment in the route language, so that the
 * text still reads back as the routes that take traffic). Caller frees. */
#define RT_DUMP_DOWN "# down (consul) "
char *rt_table_dump(const struct rt_table *t);

/* The route-change log: lines of the new dump that are not in the old one
 * prefixed "+ ", lines gone prefixed "- ". old may be NULL. "" when equal.
 * Caller frees. */
char *rt_table_delta(const struct rt_table *old, const struct rt_table *now);

/*
 * Handing tables to readers. The writer posts a table into each reader's
 * mailbox, giving the mailbox one reference; a table still unread is
 * replaced and its reference dropped. The reader takes what is there
 * (NULL when nothing new) and then owns that reference. Lock-free.
 */
struct rt_mailbox {
	_Atomic(struct rt_table *) next;
};
void rt_mailbox_init(struct rt_mailbox *m);
void rt_mailbox_post(struct rt_mailbox *m, struct rt_table *t);
struct rt_table *rt_mailbox_take(struct rt_mailbox *m);
/* Drop whatever is still posted. */
void rt_mailbox_clear(struct rt_mailbox *m);

#endif
