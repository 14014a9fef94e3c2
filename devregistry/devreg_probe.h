/*
 * devreg_probe.h - one run of an HTTP or TCP health check on an
 * event_base, with Consul's results and output texts:
 *   HTTP: 2xx passing, 429 warning, anything else critical;
 *         "HTTP GET <url>: 200 OK Output: <body>", transport errors as Go
 *         words them (`Get "<url>": dial tcp 127.0.0.1:1: connect:
 *         connection refused`). Redirects are followed (at most 10)
 *         unless disabled. "http://[127.0.0.1]:port" (fabio's bracketed
 *         IPv4) works.
 *   TCP:  "TCP connect <addr>: Success" or the dial error.
 */
#ifndef DEVREG_PROBE_H
#define DEVREG_PROBE_H

#include <event2/dns.h>
#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

#include "devregistry/devreg_def.h"
#include "devregistry/devreg_url.h"

struct devreg_probe;

/* The result; output is valid during the call. Always called from the
 * event loop, never from inside a start function. */
typedef void (*devreg_probe_done_fn)(void *arg, enum devreg_status status,
				     const char *output);

struct devreg_probe_http {
	const char *url;
	const char *method;             /* NULL or "": GET */
	const char *body;               /* NULL: none */
	const struct devreg_header *headers;
	size_t nheaders;
	int64_t timeout_ms;             /* <= 0: 10 s */
	int disable_redirects;
	int tls_skip_verify;
	const char *tls_server_name;    /* NULL: the URL's host */
	size_t output_max;              /* body bytes kept; 0: 4096 */
};

/* Start a probe; everything in p is copied. done is called exactly once,
 * unless devreg_probe_cancel() comes first; the probe frees itself after
 * done returns. NULL when out of memory. Names are resolved through dns
 * without blocking (NULL: with a blocking getaddrinfo). tls_ctx is an
 * SSL_CTX * for https URLs (NULL: https checks fail with an error
 * output). */
struct devreg_probe *devreg_probe_http_start(struct event_base *base,
					     struct evdns_base *dns,
					     void *tls_ctx,
					     const struct devreg_probe_http *p,
					     devreg_probe_done_fn done,
					     void *arg);
struct devreg_probe *devreg_probe_tcp_start(struct event_base *base,
					    struct evdns_base *dns,
					    const char *addr,
					    int64_t timeout_ms,
					    devreg_probe_done_fn done,
					    void *arg);
/* Stop a probe that has not reported yet; done is not called. NULL is a
 * no-op. */
void devreg_probe_cancel(struct devreg_probe *p);

#endif
