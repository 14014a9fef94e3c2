/*
 * lb_conn.h - client connections of one worker (private to lb_conn.c,
 * lb_worker.c and lb_proxy.c): accepting them, reading and parsing their
 * requests, collecting request bodies, and writing what the proxy answers.
 *
 * A connection has one persistent read event for its whole life and a
 * write event that is added only while the socket is full, so a request
 * and its response change nothing in the kernel's interest list. Reads
 * go into one flat buffer per connection where the request head is
 * parsed in place (lb_h1req); output is an evbuffer that the worker
 * writes with one sendmsg() per connection at the end of the loop turn
 * (lb_conn_flush). Deadlines (head, body, idle and send, struct
 * lb_client_limits) are timestamps the I/O paths keep, checked by a sweep
 * every 250 ms instead of timers re-armed per request. Past proxy.maxclientconns connections
 * the worker stops accepting until one closes.
 *
 * One request at a time per connection: pipelined requests wait in the
 * input buffer until the response before them has been written.
 */
#ifndef LB_CONN_H
#define LB_CONN_H

#include <stddef.h>
#include <event2/buffer.h>

#include "lb/lb_h1req.h"

struct lb_worker;
struct lb_conn;
struct lb_req;

/* ---- for lb_worker.c ---- */

/* Start accepting on the listening socket fd (owned from now on). 0 or
 * -ENOMEM. */
int lb_conn_listen(struct lb_worker *w, int fd);
/* Stop accepting and close the listening socket. */
void lb_conn_unlisten(struct lb_worker *w);
/* Write the output queued during this loop turn. */
void lb_conn_flush(struct lb_worker *w);
/* Close every connection (requests in flight must be gone already). */
void lb_conn_close_all(struct lb_worker *w);
/* Free the listener and the recycled objects. */
void lb_conn_release(struct lb_worker *w);
/* The live limits changed (w->live.client): accept again if the
 * connection cap rose. */
void lb_conn_live_changed(struct lb_worker *w);

/* ---- for lb_proxy.c ---- */

/* The client's address as text ("192.0.2.1", "2001:db8::1"). */
const char *lb_conn_peer(const struct lb_conn *c);
/* Whether the client is in proxy.header.trustedcidrs. */
int lb_conn_trusted(const struct lb_conn *c);
/* Who gets the connection's callbacks for the current request. */
void lb_conn_set_owner(struct lb_conn *c, struct lb_req *rq);
/* Move every byte of buf to the output (written at the end of the turn). */
void lb_conn_write(struct lb_conn *c, struct evbuffer *buf);
/* Output bytes not yet written. */
size_t lb_conn_pending(const struct lb_conn *c);
/*
 * The last bytes of the response are queued: once they are written the
 * owner gets lb_proxy_client_written, then the connection reads the next
 * request, or closes when close is set.
 */
void lb_conn_end(struct lb_conn *c, int close);
/* Close the connection now (the response can only end short); the owner
 * gets no more callbacks. */
void lb_conn_abort(struct lb_conn *c);

#endif
