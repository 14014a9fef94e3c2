/*
 * consul_watch_addr.h - the agent's addresses for the evhttp watch
 * transport, private to registry-client.
 *
 * libevent's HTTP client connects to the first address a name resolves
 * to and to nothing else, where curl tries each in turn. That matters for
 * the default agent "localhost:8500": localhost is often ::1 and
 * 127.0.0.1, and the agent listens on one of them. So the name is resolved
 * here, once for every watch of a watcher, and each watch connects to one
 * numeric address, moving to the next when a connect fails.
 *
 * A numeric host is its own list. A name is resolved by the system
 * resolver on a short-lived thread of its own (a DNS server that does not
 * answer must not stall the event loop), and the list is refreshed in the
 * background once it is CONSUL_WATCH_ADDRS_TTL_MS old, the old one staying
 * in use meanwhile. Everything else runs on the base's thread.
 */
#ifndef CONSUL_WATCH_ADDR_H
#define CONSUL_WATCH_ADDR_H

#include <stddef.h>
#include <event2/event.h>

#define CONSUL_WATCH_ADDRS_MAX 8
#define CONSUL_WATCH_ADDRS_TTL_MS 30000u

struct consul_watch_addrs;

/* A resolution ended, well or not. Runs from the base's loop. */
typedef void (*consul_watch_addrs_fn)(void *arg);

/* host is copied: a name or a numeric address, IPv6 without brackets.
 * NULL when out of memory. */
struct consul_watch_addrs *consul_watch_addrs_new(struct event_base *base,
						  const char *host,
						  consul_watch_addrs_fn ready,
						  void *arg);
/* A resolution still running is abandoned (its thread frees what it
 * holds). NULL is a no-op. */
void consul_watch_addrs_free(struct consul_watch_addrs *a);

/* How many addresses are known; starts a resolution when the list is
 * missing or old (ready() runs when it ends, never from inside this
 * call). 0: none yet, wait for ready(). */
size_t consul_watch_addrs_count(struct consul_watch_addrs *a);
/* The i-th address as a numeric string, i < count. Owned by a; valid
 * until the next resolution ends. */
const char *consul_watch_addrs_at(const struct consul_watch_addrs *a,
				  size_t i);
/* Why the last resolution failed; "" when it did not. */
const char *consul_watch_addrs_error(const struct consul_watch_addrs *a);

#endif
