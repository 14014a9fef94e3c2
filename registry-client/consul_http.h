/*
 * consul_http.h - libcurl transport to a Consul agent.
 *
 * One struct consul_client holds the agent's address, token, TLS and
 * consistency settings. Requests made through it add the token header
 * (X-Consul-Token), the dc and consistency parameters, bounded response
 * bodies and the X-Consul-* response headers (matched case-insensitively).
 *
 * A client may be used by one thread at a time for synchronous calls; the
 * watch module (consul_watch.h) builds its own easy handles from it with
 * consul_easy_prepare(), which only reads the client.
 */
#ifndef CONSUL_HTTP_H
#define CONSUL_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>

#define CONSUL_DEFAULT_ADDRESS "127.0.0.1:8500"
#define CONSUL_DEFAULT_MAX_BODY (16u * 1024 * 1024)
#define CONSUL_DEFAULT_TIMEOUT_MS 10000L

enum consul_consistency {
	CONSUL_CONSISTENCY_DEFAULT = 0,  /* leader */
	CONSUL_CONSISTENCY_STALE,
	CONSUL_CONSISTENCY_CONSISTENT
};

struct consul_config {
	const char *address;    /* "host:port", "http://host:port", "https://..."; NULL: default */
	const char *token;      /* sent as X-Consul-Token; NULL: none */
	const char *ca_file;    /* CA bundle for https; NULL: the system's */
	const char *datacenter; /* ?dc=; NULL: the agent's */
	enum consul_consistency consistency; /* added to catalog, health and KV reads */
	size_t max_body;        /* response body limit; 0: CONSUL_DEFAULT_MAX_BODY */
	long timeout_ms;        /* whole-request limit of non-blocking calls; 0: default */
};

struct consul_client;

/* Copies every string. NULL on a bad address (no host, unknown scheme) or
 * when out of memory. */
struct consul_client *consul_client_new(const struct consul_config *cfg);
void consul_client_free(struct consul_client *c);

/* "http://host:port" without a trailing slash; owned by c. */
const char *consul_client_base_url(const struct consul_client *c);

/* What came back. consul_response_clear() frees the body and zeroes it. */
struct consul_response {
	long status;            /* HTTP status; 0 when no answer arrived */
	char *body;             /* NUL-terminated; NULL when the body was empty */
	size_t body_len;
	uint64_t index;         /* X-Consul-Index; 0 when absent */
	int has_index;
	char content_hash[65];  /* X-Consul-Contenthash; "" when absent */
	int truncated;          /* the body went over max_body and was cut off */
	char error[CURL_ERROR_SIZE]; /* transport error text when status == 0 */
};
void consul_response_clear(struct consul_response *r);

/* Request flags. */
#define CONSUL_READ 0x1   /* a catalog/health/KV read: add the consistency flag */

/*
 * Synchronous request. path starts with "/v1/" and must already be escaped
 * (consul_escape_segment, consul_escape_key); query is "a=b&c" without '?',
 * or NULL. body may be NULL for none. Returns 0 when an HTTP answer arrived,
 * whatever its status; -EIO when none did (resp->error says why);
 * -EMSGSIZE when the body went over the limit; -ENOMEM.
 */
int consul_request(struct consul_client *c, const char *method,
		   const char *path, const char *query, const void *body,
		   size_t body_len, int flags, struct consul_response *resp);

/*
 * An easy handle set up exactly like consul_request() would, writing into
 * resp, with timeout_ms as its whole-transfer limit (0: the client's).
 * The caller runs it (easy or multi) and then calls consul_easy_done(),
 * then curl_easy_cleanup(). NULL when out of memory.
 */
CURL *consul_easy_prepare(struct consul_client *c, const char *method,
			  const char *path, const char *query,
			  const void *body, size_t body_len, int flags,
			  long timeout_ms, struct consul_response *resp);

/* Finish a transfer started with consul_easy_prepare(): fills status and
 * error, frees the per-transfer state. Returns as consul_request(). */
int consul_easy_done(CURL *easy, CURLcode rc, struct consul_response *resp);

/* Percent-escape one path segment (service or check ID). Caller frees. */
char *consul_escape_segment(const char *s);
/* Escape a KV key segment by segment, keeping '/' and dropping a leading
 * '/'. Caller frees. */
char *consul_escape_key(const char *key);

#endif
