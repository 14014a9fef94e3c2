/*
 * lb_headers.c - upstream request heads and client response heads.
 */
#include <errno.h>
#include <string.h>

#include "lb/lb_h1req.h"   /* lb_h1_is_tchar */
#include "lb/lb_headers.h"

/* Fields a Connection field can name that we remember; more are ignored
 * (their fields then pass, which is what a proxy that does not know them
 * would do anyway). */
#define CONN_TOKENS_MAX 32

struct tokens {
	struct {
		const char *p;
		size_t n;
	} v[CONN_TOKENS_MAX];
	size_t n;
};

/* The fields the proxy treats specially; the hop-by-hop ones first. */
enum field_class {
	F_OTHER = 0,
	F_CONNECTION,
	F_KEEP_ALIVE,
	F_PROXY_CONNECTION,
	F_TE,
	F_TRAILER,
	F_TRANSFER_ENCODING,
	F_UPGRADE,           /* last hop-by-hop one */
	F_HOST,
	F_CONTENT_LENGTH,
	F_EXPECT,
	F_XFF,
	F_FORWARDED,         /* first of the ones only a trusted peer's pass */
	F_X_REAL_IP,
	F_XF_PROTO,
	F_XF_PORT,
	F_XF_HOST,
	F_XF_PREFIX
};

#define IS(lit, cls) \
	if (lb_h1_name_is(n, len, lit)) return cls

/* What a field name is: by length first, so most names cost one switch
 * and at most two comparisons. */
static enum field_class
classify(const char *n, size_t len)
{
	switch (len) {
	case 2: IS("te", F_TE); break;
	case 4: IS("host", F_HOST); break;
	case 6: IS("expect", F_EXPECT); break;
	case 7: IS("trailer", F_TRAILER); IS("upgrade", F_UPGRADE); break;
	case 9: IS("forwarded", F_FORWARDED); IS("x-real-ip", F_X_REAL_IP);
		break;
	case 10: IS("connection", F_CONNECTION);
		IS("keep-alive", F_KEEP_ALIVE); break;
	case 14: IS("content-length", F_CONTENT_LENGTH); break;
	case 15: IS("x-forwarded-for", F_XFF); break;
	case 16: IS("x-forwarded-host", F_XF_HOST);
		IS("x-forwarded-port", F_XF_PORT);
		IS("proxy-connection", F_PROXY_CONNECTION); break;
	case 17: IS("transfer-encoding", F_TRANSFER_ENCODING);
		IS("x-forwarded-proto", F_XF_PROTO); break;
	case 18: IS("x-forwarded-prefix", F_XF_PREFIX); break;
	default: break;
	}
	return F_OTHER;
}

#undef IS

static int
is_hop_class(enum field_class c)
{
	return c >= F_CONNECTION && c <= F_UPGRADE;
}

int
lb_headers_is_hop(const char *name, size_t len)
{
	return is_hop_class(classify(name, len));
}

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static int
same_name(const char *a, size_t an, const char *b, size_t bn)
{
	size_t i;

	if (an != bn)
		return 0;
	for (i = 0; i < an; i++) {
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return 0;
	}
	return 1;
}

/* Collect the items of a Connection value. */
static void
tokens_add(struct tokens *t, const char *v, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t start, end;

		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		start = i;
		while (i < len && v[i] != ',')
			i++;
		end = i;
		while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
			end--;
		if (end > start && t->n < CONN_TOKENS_MAX) {
			t->v[t->n].p = v + start;
			t->v[t->n].n = end - start;
			t->n++;
		}
	}
}

static int
tokens_has(const struct tokens *t, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		if (same_name(t->v[i].p, t->v[i].n, name, len))
			return 1;
	}
	return 0;
}

/* Whether a field is to be dropped as hop-by-hop. */
static int
hop(const struct tokens *t, enum field_class c, const char *name, size_t len)
{
	return is_hop_class(c) || (t->n > 0 && tokens_has(t, name, len));
}

static void
field(struct lb_buf *b, const char *name, const char *value)
{
	lb_buf_adds(b, name);
	lb_buf_add(b, ": ", 2);
	lb_buf_adds(b, value);
	lb_buf_add(b, "\r\n", 2);
}

void
lb_headers_forwarded_value(struct lb_buf *out, const char *v, int as_node)
{
	const char *p;
	int token = *v != '\0';

	for (p = v; *p != '\0'; p++) {
		if (!lb_h1_is_tchar((unsigned char)*p)) {
			token = 0;
			break;
		}
	}
	if (token) {
		lb_buf_adds(out, v);
		return;
	}
	lb_buf_add(out, "\"", 1);
	if (as_node && strchr(v, ':') != NULL && v[0] != '[') {
		lb_buf_add(out, "[", 1);
		lb_buf_adds(out, v);
		lb_buf_add(out, "]\"", 2);
		return;
	}
	for (p = v; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			lb_buf_add(out, "\\", 1);
		lb_buf_add(out, p, 1);
	}
	lb_buf_add(out, "\"", 1);
}

/* Append the values of every client field of class c (named name, not
 * hop-by-hop) joined with ", "; returns how many there were. */
static int
join_values(struct lb_buf *b, const struct lb_h1_field *in, size_t nin,
	    enum field_class c, const char *name, const struct tokens *t)
{
	size_t nlen = strlen(name), i;
	int n = 0;

	if (t->n > 0 && tokens_has(t, name, nlen))
		return 0;
	for (i = 0; i < nin; i++) {
		const struct lb_h1_field *h = &in[i];

		if (h->value_len == 0 ||
		    classify(h->name, h->name_len) != c)
			continue;
		if (n++ > 0)
			lb_buf_add(b, ", ", 2);
		lb_buf_add(b, h->value, h->value_len);
	}
	return n;
}

int
lb_headers_request(struct lb_buf *out, const struct lb_fwd *f,
		   const struct lb_h1_field *in, size_t nin)
{
	struct tokens t;
	int has_real_ip = 0, has_proto = 0, has_port = 0, has_host = 0;
	int nxff = 0, nfwd = 0;
	size_t i;

	t.n = 0;
	for (i = 0; i < nin; i++) {
		if (in[i].name_len == 10 &&
		    classify(in[i].name, 10) == F_CONNECTION)
			tokens_add(&t, in[i].value, in[i].value_len);
	}

	lb_buf_adds(out, f->method);
	lb_buf_add(out, " ", 1);
	lb_buf_add(out, f->path, f->path_len);
	if (f->query != NULL && f->query_len > 0) {
		lb_buf_add(out, "?", 1);
		lb_buf_add(out, f->query, f->query_len);
	}
	lb_buf_add(out, " HTTP/1.1\r\n", 11);
	if (f->host != NULL)
		field(out, "Host", f->host);

	for (i = 0; i < nin; i++) {
		const struct lb_h1_field *h = &in[i];
		size_t n = h->name_len;
		enum field_class c = classify(h->name, n);

		if (hop(&t, c, h->name, n))
			continue;
		/* from anyone else, switchyard's own values stand alone */
		if (c >= F_FORWARDED && !f->trusted)
			continue;
		switch (c) {
		case F_HOST:
		case F_CONTENT_LENGTH:
		case F_EXPECT:
			continue;
		case F_XFF:
			nxff++;
			continue;
		case F_FORWARDED:
			nfwd++;
			continue;
		case F_XF_PREFIX:
			if (f->prefix != NULL)
				continue;
			break;
		case F_X_REAL_IP:
			has_real_ip = 1;
			break;
		case F_XF_PROTO:
			has_proto = 1;
			break;
		case F_XF_PORT:
			has_port = 1;
			break;
		case F_XF_HOST:
			has_host = 1;
			break;
		default:
			break;
		}
		lb_buf_add(out, h->name, n);
		lb_buf_add(out, ": ", 2);
		lb_buf_add(out, h->value, h->value_len);
		lb_buf_add(out, "\r\n", 2);
	}

	lb_buf_adds(out, "X-Forwarded-For: ");
	if (nxff > 0 &&
	    join_values(out, in, nin, F_XFF, "x-forwarded-for", &t) > 0)
		lb_buf_add(out, ", ", 2);
	lb_buf_adds(out, f->client_ip);
	lb_buf_add(out, "\r\n", 2);
	if (!has_real_ip)
		field(out, "X-Real-Ip", f->client_ip);
	if (!has_proto)
		field(out, "X-Forwarded-Proto", f->proto);
	if (!has_port && f->local_port != NULL)
		field(out, "X-Forwarded-Port", f->local_port);
	if (!has_host && f->client_host != NULL && *f->client_host != '\0')
		field(out, "X-Forwarded-Host", f->client_host);
	if (f->prefix != NULL)
		field(out, "X-Forwarded-Prefix", f->prefix);

	lb_buf_adds(out, "Forwarded: ");
	if (nfwd > 0 &&
	    join_values(out, in, nin, F_FORWARDED, "forwarded", &t) > 0)
		lb_buf_add(out, ", ", 2);
	lb_buf_adds(out, "for=");
	lb_headers_forwarded_value(out, f->client_ip, 1);
	lb_buf_adds(out, ";proto=");
	lb_headers_forwarded_value(out, f->proto, 0);
	if (f->client_host != NULL && *f->client_host != '\0') {
		lb_buf_adds(out, ";host=");
		lb_headers_forwarded_value(out, f->client_host, 0);
	}
	lb_buf_add(out, "\r\n", 2);

	if (f->has_body) {
		lb_buf_adds(out, "Content-Length: ");
		lb_buf_addu(out, f->body_len);
		lb_buf_add(out, "\r\n", 2);
	}
	lb_buf_add(out, "\r\n", 2);
	return out->oom ? -ENOMEM : 0;
}

const char *
lb_headers_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	}
	return "Unknown";
}

void
lb_headers_response_start(struct lb_buf *out, const struct lb_h1_resp *r,
			  const struct lb_resp_out *o)
{
	struct tokens t;
	size_t i;

	lb_buf_add(out, "HTTP/1.1 ", 9);
	lb_buf_addu(out, (uint64_t)o->status);
	lb_buf_add(out, " ", 1);
	if (o->reason != NULL)
		lb_buf_add(out, o->reason, o->reason_len);
	else
		lb_buf_adds(out, lb_headers_reason(o->status));
	lb_buf_add(out, "\r\n", 2);

	t.n = 0;
	if (r != NULL) {
		for (i = 0; i < r->nfields; i++) {
			const struct lb_h1_field *f = &r->fields[i];

			if (f->name_len == 10 &&
			    classify(f->name, f->name_len) == F_CONNECTION)
				tokens_add(&t, f->value, f->value_len);
		}
		for (i = 0; i < r->nfields; i++) {
			const struct lb_h1_field *f = &r->fields[i];
			enum field_class c = classify(f->name, f->name_len);

			if (hop(&t, c, f->name, f->name_len) ||
			    c == F_CONTENT_LENGTH)
				continue;
			lb_buf_add(out, f->name, f->name_len);
			lb_buf_add(out, ": ", 2);
			lb_buf_add(out, f->value, f->value_len);
			lb_buf_add(out, "\r\n", 2);
		}
	}
}

int
lb_headers_response_end(struct lb_buf *out, const struct lb_resp_out *o)
{
	if (o->length >= 0) {
		lb_buf_adds(out, "Content-Length: ");
		lb_buf_addu(out, (uint64_t)o->length);
		lb_buf_add(out, "\r\n", 2);
	} else if (o->chunked) {
		lb_buf_adds(out, "Transfer-Encoding: chunked\r\n");
	}
	if (o->conn == LB_CONN_CLOSE)
		lb_buf_adds(out, "Connection: close\r\n");
	else if (o->conn == LB_CONN_KEEP_ALIVE)
		lb_buf_adds(out, "Connection: keep-alive\r\n");
	lb_buf_add(out, "\r\n", 2);
	return out->oom ? -ENOMEM : 0;
}

int
lb_headers_response(struct lb_buf *out, const struct lb_h1_resp *r,
		    const struct lb_resp_out *o)
{
	lb_headers_response_start(out, r, o);
	return lb_headers_response_end(out, o);
}
