/*
 * lb_admin.h - the admin server on ui.addr, on the control thread's base:
 *   GET /health          200 "OK" with the Consul state, or 503 while
 *                        switchyard shuts down (so balancers in front of
 *                        it and the self-registration check let go first)
 *   GET /api/routes      the current table as fabio's JSON (one element
 *                        per target: service, host, path, src, dst,
 *                        opts, weight, tags, cmd; "down": true for a
 *                        target Consul holds down; "health": its state,
 *                        "up", "consul_down", "probe_down" or "ejected");
 *                        ?pretty indents it; ?raw gives the `route add`
 *                        text instead
 *   GET /api/health      every target's health state as a JSON list (one
 *                        element per target identity, sorted by service
 *                        and address; lb_admin.c lists the fields);
 *                        ?pretty indents it
 * Anything else is 404. Everything runs on the base's thread.
 */
#ifndef LB_ADMIN_H
#define LB_ADMIN_H

#include <event2/event.h>
#include "lb/lb_health.h"
#include "lb/lb_watch.h"

struct lb_admin;

/* Listen on addr ("host:port", ":port", "[v6]:port"). watch may be NULL
 * (no routes yet), health too (no health states: /api/health is an empty
 * list); health must outlive the server. NULL with *err a negative errno
 * on failure. */
struct lb_admin *lb_admin_new(struct event_base *base, const char *addr,
			      struct lb_watch *watch, struct lb_health *health,
			      int *err);
/* From now on /health answers 503, and the watch (which the caller may
 * now free) is no longer used: /api/routes shows the table it held. */
void lb_admin_set_stopping(struct lb_admin *a);
/* The bound port. */
int lb_admin_port(const struct lb_admin *a);
void lb_admin_free(struct lb_admin *a);

#endif
