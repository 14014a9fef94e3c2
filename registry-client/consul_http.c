/*
 * consul_http.c - libcurl transport to a Consul agent: one easy handle per
 * request, set up the same way for synchronous calls and for the watch
 * module's multi handle.
 */
#include "registry-client/consul_http.h"
#include "registry-client/consul_http_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct consul_client {
	char *base_url;         /* "http://host:port" */
	int https;
	char *token_header;     /* "X-Consul-Token: <token>" or NULL */
	char *ca_file;
	char *dc_param;         /* "dc=<escaped>" or NULL */
	enum consul_consistency consistency;
	size_t max_body;
	long timeout_ms;
	CURL *easy;             /* kept between synchronous calls: keep-alive */
	char last_error[CONSUL_LAST_ERROR_SIZE];
};

/* What one transfer needs besides resp; found again through CURLOPT_PRIVATE. */
struct transfer {
	struct consul_response *resp;
	size_t max_body;
	size_t cap;             /* bytes allocated for resp->body */
	char *url;
	char *body;             /* our copy of the request body */
	struct curl_slist *headers;
};

/* curl_global_init() is not thread-safe in the curl versions we accept, so
 * it runs once, before the first handle. It is never undone: a library
 * cannot know when its host program is done with curl. */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_once_rc = CURLE_OK;

static void curl_init_once(void)
{
	curl_once_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* A port: 1 to 5 digits, 1..65535. */
static int port_valid(const char *p, size_t len)
{
	unsigned long v = 0;

	if (len == 0 || len > 5)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(p[i]))
			return 0;
		v = v * 10 + (unsigned long)(p[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

/* host[:port] or [v6][:port]: no path, no user info, no spaces. */
static int authority_valid(const char *a, size_t len)
{
	size_t host_end;

	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)a[i];
		if (ch <= ' ' || ch >= 0x7f || ch == '/' || ch == '?' ||
		    ch == '#' || ch == '@' || ch == '\\')
			return 0;
	}
	if (a[0] == '[') {
		const char *close = memchr(a, ']', len);
		if (!close || close == a + 1)
			return 0;
		host_end = (size_t)(close - a) + 1;
		if (host_end == len)
			return 1;
		if (a[host_end] != ':')
			return 0;
		return port_valid(a + host_end + 1, len - host_end - 1);
	}
	const char *colon = memchr(a, ':', len);
	if (!colon)
		return 1;
	host_end = (size_t)(colon - a);
	if (host_end == 0)
		return 0;
	return port_valid(colon + 1, len - host_end - 1);
}

/* "http://host:port" from the configured address; NULL when malformed. */
static char *base_url_new(const char *address, int *https)
{
	const char *rest = address;
	const char *scheme = "http";
	size_t len;
	char *url;

	*https = 0;
	if (!address || !*address)
		rest = address = CONSUL_DEFAULT_ADDRESS;
	if (strncasecmp(address, "http://", 7) == 0) {
		rest = address + 7;
	} else if (strncasecmp(address, "https://", 8) == 0) {
		rest = address + 8;
		scheme = "https";
		*https = 1;
	} else if (strstr(address, "://")) {
		return NULL;
	}
	len = strlen(rest);
	while (len > 0 && rest[len - 1] == '/')
		len--;
	if (!authority_valid(rest, len))
		return NULL;
	url = malloc(strlen(scheme) + 3 + len + 1);
	if (!url)
		return NULL;
	sprintf(url, "%s://%.*s", scheme, (int)len, rest);
	return url;
}

struct consul_client *consul_client_new(const struct consul_config *cfg)
{
	static const struct consul_config defaults;
	struct consul_client *c = NULL;

	if (!cfg)
		cfg = &defaults;
	pthread_once(&curl_once, curl_init_once);
	if (curl_once_rc != CURLE_OK)
		return NULL;
	/* A token with a line break would let it add headers of its own. */
	if (cfg->token && strpbrk(cfg->token, "\r\n"))
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		goto fail;
	c->base_url = base_url_new(cfg->address, &c->https);
	if (!c->base_url)
		goto fail;
	if (cfg->token && *cfg->token) {
		c->token_header = malloc(strlen(cfg->token) + sizeof("X-Consul-Token: "));
		if (!c->token_header)
			goto fail;
		sprintf(c->token_header, "X-Consul-Token: %s", cfg->token);
	}
	if (cfg->ca_file && *cfg->ca_file) {
		c->ca_file = dup_or_null(cfg->ca_file);
		if (!c->ca_file)
			goto fail;
	}
	if (cfg->datacenter && *cfg->datacenter) {
		char *esc = consul_escape_segment(cfg->datacenter);
		if (!esc)
			goto fail;
		c->dc_param = malloc(strlen(esc) + sizeof("dc="));
		if (c->dc_param)
			sprintf(c->dc_param, "dc=%s", esc);
		free(esc);
		if (!c->dc_param)
			goto fail;
	}
	c->consistency = cfg->consistency;
	c->max_body = cfg->max_body ? cfg->max_body : CONSUL_DEFAULT_MAX_BODY;
	c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : CONSUL_DEFAULT_TIMEOUT_MS;
	return c;
fail:
	consul_client_free(c);
	return NULL;
}

void consul_client_free(struct consul_client *c)
{
	if (!c)
		return;
	if (c->easy)
		curl_easy_cleanup(c->easy);
	free(c->base_url);
	free(c->token_header);
	free(c->ca_file);
	free(c->dc_param);
	free(c);
}

const char *consul_client_base_url(const struct consul_client *c)
{
	return c->base_url;
}

void consul_client_set_error(struct consul_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->last_error, sizeof(c->last_error), fmt, ap);
	va_end(ap);
	for (char *p = c->last_error; *p; p++)
		if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f)
			*p = '?';
}

const char *consul_client_error(const struct consul_client *c)
{
	return c->last_error;
}

void consul_client_settings(const struct consul_client *c,
			    struct consul_client_settings *out)
{
	static const char token_prefix[] = "X-Consul-Token: ";

	out->base_url = c->base_url;
	out->https = c->https;
	out->token = c->token_header ? c->token_header + sizeof(token_prefix) - 1
				     : NULL;
	out->dc_param = c->dc_param;
	out->consistency = c->consistency;
	out->max_body = c->max_body;
	out->timeout_ms = c->timeout_ms;
}

void consul_response_clear(struct consul_response *r)
{
	if (!r)
		return;
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static int name_is(const char *line, size_t name_len, const char *name)
{
	return strlen(name) == name_len && strncasecmp(line, name, name_len) == 0;
}

/* X-Consul-Index is a base-10 uint64 and nothing else: no sign, no spaces
 * inside, no overflow. Anything else counts as absent. */
static int index_parse(const char *v, size_t len, uint64_t *out)
{
	char digits[24];
	char *end;

	if (len == 0 || len >= sizeof(digits))
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!is_digit(v[i]))
			return -1;
	memcpy(digits, v, len);
	digits[len] = '\0';
	errno = 0;
	unsigned long long n = strtoull(digits, &end, 10);
	if (errno == ERANGE || *end != '\0')
		return -1;
	*out = (uint64_t)n;
	return 0;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *arg)
{
	struct transfer *t = arg;
	struct consul_response *resp = t->resp;
	size_t len = size * nitems;
	const char *colon, *v;
	size_t name_len, vlen;

	/* A new status line starts a new response (after "100 Continue" or an
	 * interim answer): forget headers of the one before. */
	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		resp->index = 0;
		resp->has_index = 0;
		resp->content_hash[0] = '\0';
		return len;
	}
	colon = memchr(line, ':', len);
	if (!colon)
		return len;
	name_len = (size_t)(colon - line);
	v = colon + 1;
	vlen = len - name_len - 1;
	while (vlen > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' ||
			    v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	if (name_is(line, name_len, "X-Consul-Index")) {
		uint64_t idx;
		if (index_parse(v, vlen, &idx) == 0) {
			resp->index = idx;
			resp->has_index = 1;
		} else {
			resp->index = 0;
			resp->has_index = 0;
		}
	} else if (name_is(line, name_len, "X-Consul-Contenthash")) {
		if (vlen < sizeof(resp->content_hash)) {
			memcpy(resp->content_hash, v, vlen);
			resp->content_hash[vlen] = '\0';
		} else {
			resp->content_hash[0] = '\0';
		}
	}
	return len;
}

/* Keeps at most max_body bytes; past that the transfer is aborted (a short
 * return makes curl stop with CURLE_WRITE_ERROR). */
static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct transfer *t = arg;
	struct consul_response *resp = t->resp;
	size_t len = size * nmemb;
	size_t room = t->max_body - resp->body_len;
	size_t take = len < room ? len : room;

	if (take > 0) {
		size_t need = resp->body_len + take + 1;
		if (need > t->cap) {
			size_t cap = t->cap ? t->cap : 1024;
			while (cap < need)
				cap *= 2;
			if (cap > t->max_body + 1)
				cap = t->max_body + 1;
			char *nb = realloc(resp->body, cap);
			if (!nb)
				return 0;
			resp->body = nb;
			t->cap = cap;
		}
		memcpy(resp->body + resp->body_len, data, take);
		resp->body_len += take;
		resp->body[resp->body_len] = '\0';
	}
	if (take < len) {
		resp->truncated = 1;
		return 0;
	}
	return len;
}

static void transfer_free(struct transfer *t)
{
	if (!t)
		return;
	curl_slist_free_all(t->headers);
	free(t->url);
	free(t->body);
	free(t);
}

static int is_method(const char *m, const char *name)
{
	return strcmp(m, name) == 0;
}

static char *url_new(const struct consul_client *c, const char *path,
		     const char *query, int flags)
{
	const char *parts[3];
	size_t nparts = 0, len;
	char *url, *p;

	if (query && *query)
		parts[nparts++] = query;
	if (c->dc_param)
		parts[nparts++] = c->dc_param;
	if (flags & CONSUL_READ) {
		if (c->consistency == CONSUL_CONSISTENCY_STALE)
			parts[nparts++] = "stale=";
		else if (c->consistency == CONSUL_CONSISTENCY_CONSISTENT)
			parts[nparts++] = "consistent=";
	}
	len = strlen(c->base_url) + strlen(path) + 1;
	for (size_t i = 0; i < nparts; i++)
		len += strlen(parts[i]) + 1;
	url = malloc(len);
	if (!url)
		return NULL;
	p = url + sprintf(url, "%s%s", c->base_url, path);
	for (size_t i = 0; i < nparts; i++)
		p += sprintf(p, "%c%s", i == 0 ? '?' : '&', parts[i]);
	return url;
}

/* Sets up easy (fresh or reset) for one request into resp. */
static int transfer_setup(struct consul_client *c, CURL *easy,
			  const char *method, const char *path,
			  const char *query, const void *body,
			  size_t body_len, int flags, long timeout_ms,
			  struct consul_response *resp)
{
	struct transfer *t = NULL;
	struct curl_slist *h;
	int has_body;

	memset(resp, 0, sizeof(*resp));
	if (!method || !path || strncmp(path, "/v1/", 4) != 0 ||
	    strpbrk(path, " \r\n") || (query && strpbrk(query, " \r\n#")))
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		goto nomem;
	t->resp = resp;
	t->max_body = c->max_body;
	t->url = url_new(c, path, query, flags);
	if (!t->url)
		goto nomem;
	has_body = body != NULL || !(is_method(method, "GET") ||
				     is_method(method, "DELETE") ||
				     is_method(method, "HEAD"));
	if (has_body) {
		t->body = malloc(body_len + 1);
		if (!t->body)
			goto nomem;
		if (body_len)
			memcpy(t->body, body, body_len);
		t->body[body_len] = '\0';
	}
	/* An empty Expect: stops curl from waiting for "100 Continue" before
	 * sending a body, a round trip that buys nothing here. */
	h = curl_slist_append(NULL, "Expect:");
	if (!h)
		goto nomem;
	t->headers = h;
	if (c->token_header) {
		h = curl_slist_append(t->headers, c->token_header);
		if (!h)
			goto nomem;
	}
	if (has_body) {
		/* KV values are raw bytes; every other body is JSON. With no
		 * body at all, the empty header stops curl from claiming a
		 * form (application/x-www-form-urlencoded). */
		const char *ct = !body ? "Content-Type:" :
			strncmp(path, "/v1/kv/", 7) == 0 ?
			"Content-Type: application/octet-stream" :
			"Content-Type: application/json";
		h = curl_slist_append(t->headers, ct);
		if (!h)
			goto nomem;
	}

	curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)t);
	curl_easy_setopt(easy, CURLOPT_URL, t->url);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	/* One handle per blocking watch: with a thousand routed services, the
	 * default 16 KB receive buffer per handle is most of switchyard's
	 * memory. Consul's answers arrive in a few small reads anyway. */
	curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, 4096L);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "switchyard-consul-client");
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, resp->error);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_body);
	if (timeout_ms <= 0)
		timeout_ms = c->timeout_ms;
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
			 timeout_ms < CONSUL_DEFAULT_TIMEOUT_MS ? timeout_ms
							 : CONSUL_DEFAULT_TIMEOUT_MS);
	if (c->https && c->ca_file)
		curl_easy_setopt(easy, CURLOPT_CAINFO, c->ca_file);
	if (is_method(method, "GET")) {
		curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
	}
	if (has_body) {
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, t->body);
	}
	return 0;
nomem:
	transfer_free(t);
	return -ENOMEM;
}

CURL *consul_easy_prepare(struct consul_client *c, const char *method,
			  const char *path, const char *query,
			  const void *body, size_t body_len, int flags,
			  long timeout_ms, struct consul_response *resp)
{
	CURL *easy;

	pthread_once(&curl_once, curl_init_once);
	easy = curl_easy_init();
	if (!easy)
		return NULL;
	if (transfer_setup(c, easy, method, path, query, body, body_len,
			   flags, timeout_ms, resp) != 0) {
		curl_easy_cleanup(easy);
		return NULL;
	}
	return easy;
}

int consul_easy_done(CURL *easy, CURLcode rc, struct consul_response *resp)
{
	char *priv = NULL;
	struct transfer *t;
	long code = 0;
	int oom;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
	t = (struct transfer *)priv;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	/* The handle may live on (the client's keep-alive handle): leave it
	 * pointing at nothing that is about to be freed. */
	curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, NULL);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, NULL);
	oom = rc == CURLE_WRITE_ERROR && !resp->truncated;
	transfer_free(t);

	if (resp->truncated || rc == CURLE_FILESIZE_EXCEEDED) {
		resp->truncated = 1;
		resp->status = code;
		snprintf(resp->error, sizeof(resp->error),
			 "response body over the size limit");
		return -EMSGSIZE;
	}
	if (oom) {
		consul_response_clear(resp);
		snprintf(resp->error, sizeof(resp->error), "out of memory");
		return -ENOMEM;
	}
	if (rc != CURLE_OK) {
		/* A half-read answer is no answer. */
		free(resp->body);
		resp->body = NULL;
		resp->body_len = 0;
		resp->status = 0;
		if (!resp->error[0])
			snprintf(resp->error, sizeof(resp->error), "%s",
				 curl_easy_strerror(rc));
		return -EIO;
	}
	resp->status = code;
	return 0;
}

int consul_request(struct consul_client *c, const char *method,
		   const char *path, const char *query, const void *body,
		   size_t body_len, int flags, struct consul_response *resp)
{
	CURLcode rc;
	int err;

	if (!c->easy) {
		c->easy = curl_easy_init();
		if (!c->easy) {
			memset(resp, 0, sizeof(*resp));
			return -ENOMEM;
		}
	} else {
		/* Reset keeps the connection cache, so the socket is reused. */
		curl_easy_reset(c->easy);
	}
	err = transfer_setup(c, c->easy, method, path, query, body, body_len,
			     flags, 0, resp);
	if (err)
		return err;
	rc = curl_easy_perform(c->easy);
	return consul_easy_done(c->easy, rc, resp);
}

/* RFC 3986 unreserved characters pass; everything else is %XX. */
static int unreserved(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       is_digit((char)ch) || ch == '-' || ch == '.' || ch == '_' ||
	       ch == '~';
}

static char *escape_into(char *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (unreserved(ch)) {
			*out++ = (char)ch;
		} else {
			*out++ = '%';
			*out++ = hex[ch >> 4];
			*out++ = hex[ch & 15];
		}
	}
	return out;
}

char *consul_escape_segment(const char *s)
{
	size_t len;
	char *out, *end;

	if (!s)
		return NULL;
	len = strlen(s);
	out = malloc(len * 3 + 1);
	if (!out)
		return NULL;
	end = escape_into(out, s, len);
	*end = '\0';
	return out;
}

char *consul_escape_key(const char *key)
{
	size_t len;
	char *out, *p;

	if (!key)
		return NULL;
	/* A KV key never starts with '/' on the wire (the Go client refuses
	 * such keys); "//a" would still start with one after dropping one. */
	while (*key == '/')
		key++;
	len = strlen(key);
	out = malloc(len * 3 + 1);
	if (!out)
		return NULL;
	p = out;
	while (*key) {
		const char *slash = strchr(key, '/');
		size_t seg = slash ? (size_t)(slash - key) : strlen(key);
		p = escape_into(p, key, seg);
		key += seg;
		if (*key == '/')
			*p++ = *key++;
	}
	*p = '\0';
	return out;
}
