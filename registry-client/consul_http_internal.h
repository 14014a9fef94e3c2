/*
 * consul_http_internal.h - private to registry-client: the text of the last
 * failed call on a client, which consul_api fills and consul_api_last_error()
 * reads. Not installed, not for other modules.
 */
#ifndef CONSUL_HTTP_INTERNAL_H
#define CONSUL_HTTP_INTERNAL_H

#include "registry-client/consul_http.h"

#define CONSUL_LAST_ERROR_SIZE 320

/* printf-style; the text is cut at CONSUL_LAST_ERROR_SIZE - 1 bytes and
 * bytes outside printable ASCII become '?', so a remote body cannot add
 * lines to a log. */
void consul_client_set_error(struct consul_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Never NULL; "" when no call failed yet. Owned by c. */
const char *consul_client_error(const struct consul_client *c);

/* What a transport other than libcurl needs to send a request the way
 * consul_request() does (the watch module's evhttp transport). Every
 * pointer is borrowed from c and lives as long as c. */
struct consul_client_settings {
	const char *base_url;   /* "http://host:port" or "https://host:port" */
	int https;
	const char *token;      /* the X-Consul-Token value; NULL: none */
	const char *dc_param;   /* "dc=<escaped>"; NULL: none */
	enum consul_consistency consistency;
	size_t max_body;
	long timeout_ms;        /* limit of a non-blocking request */
};
void consul_client_settings(const struct consul_client *c,
			    struct consul_client_settings *out);

#endif
