/*
 * check_lb_headers.c - the heads the proxy writes: the upstream request
 * (request line, Host, hop-by-hop removal including fields named by
 * Connection, X-Forwarded-*, X-Real-Ip, RFC 7239 Forwarded with IPv6 and
 * quoting) and the client response (hop-by-hop removal and framing).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lb/lb_headers.h"
#include "tests/check_main.h"

/* The client's fields, as the request parser hands them over. */
static struct lb_h1_field hdrs[LB_H1_MAX_FIELDS];
static size_t nhdrs;
static struct lb_buf out;

static void
setup(void)
{
	nhdrs = 0;
	memset(&out, 0, sizeof(out));
}

static void
teardown(void)
{
	lb_buf_free(&out);
}

static void
add(const char *k, const char *v)
{
	ck_assert_uint_lt(nhdrs, LB_H1_MAX_FIELDS);
	hdrs[nhdrs].name = k;
	hdrs[nhdrs].name_len = strlen(k);
	hdrs[nhdrs].value = v;
	hdrs[nhdrs].value_len = strlen(v);
	nhdrs++;
}

static void
fwd_init(struct lb_fwd *f)
{
	memset(f, 0, sizeof(*f));
	f->method = "GET";
	f->path = "/app/x";
	f->path_len = 6;
	f->host = "example.com";
	f->client_ip = "192.0.2.7";
	f->client_host = "example.com";
	f->proto = "http";
	f->local_port = "9999";
}

/* The built head as a NUL-terminated string. */
static const char *
text(void)
{
	lb_buf_add(&out, "", 1);
	ck_assert(!out.oom);
	out.len--;
	return out.p;
}

static int
has(const char *line)
{
	return strstr(text(), line) != NULL;
}

/* How many times a field name starts a line. */
static int
count(const char *name)
{
	const char *p = text();
	size_t n = strlen(name);
	int c = 0;

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':')
			c++;
	}
	return c;
}

START_TEST(test_request_basic)
{
	struct lb_fwd f;

	fwd_init(&f);
	f.query = "a=1&b=2";
	f.query_len = 7;
	add("Host", "client.example");
	add("Accept", "*/*");
	add("User-Agent", "t/1");
	ck_assert_int_eq(lb_headers_request(&out, &f, hdrs, nhdrs), 0);
	ck_assert(strncmp(text(), "GET /app/x?a=1&b=2 HTTP/1.1\r\nHost: example.com\r\n"
		  "Accept: */*\r\nUser-Agent: t/1\r\n", 76) == 0);
	ck_assert_int_eq(count("Host"), 1);
	ck_assert(has("\r\nX-Forwarded-For: 192.0.2.7\r\n"));
	ck_assert(has("\r\nX-Real-Ip: 192.0.2.7\r\n"));
	ck_assert(has("\r\nX-Forwarded-Proto: http\r\n"));
	ck_assert(has("\r\nX-Forwarded-Port: 9999\r\n"));
	ck_assert(has("\r\nX-Forwarded-Host: example.com\r\n"));
	ck_assert(has("\r\nForwarded: for=192.0.2.7;proto=http;host=example.com\r\n"));
	ck_assert_int_eq(count("X-Forwarded-Prefix"), 0);
	ck_assert_int_eq(count("Content-Length"), 0);
	ck_assert(strcmp(text() + out.len - 4, "\r\n\r\n") == 0);
}
END_TEST

START_TEST(test_request_hop_by_hop)
{
	struct lb_fwd f;

	fwd_init(&f);
	add("Connection", "keep-alive, X-Secret");
	add("Connection", "Upgrade");
	add("Keep-Alive", "timeout=5");
	add("Proxy-Connection", "keep-alive");
	add("TE", "trailers");
	add("Trailer", "X-T");
	add("Transfer-Encoding", "chunked");
	add("Upgrade", "websocket");
	add("x-secret", "s");
	add("Content-Length", "999");
	add("Expect", "100-continue");
	add("X-Kept", "k");
	f.has_body = 1;
	f.body_len = 12;
	ck_assert_int_eq(lb_headers_request(&out, &f, hdrs, nhdrs), 0);
	ck_assert_int_eq(count("Connection"), 0);
	ck_assert_int_eq(count("Keep-Alive"), 0);
	ck_assert_int_eq(count("Proxy-Connection"), 0);
	ck_assert_int_eq(count("TE"), 0);
	ck_assert_int_eq(count("Trailer"), 0);
	ck_assert_int_eq(count("Transfer-Encoding"), 0);
	ck_assert_int_eq(count("Upgrade"), 0);
	ck_assert_int_eq(count("X-Secret"), 0);
	ck_assert_int_eq(count("Expect"), 0);
	ck_assert_int_eq(count("Content-Length"), 1);
	ck_assert(has("\r\nContent-Length: 12\r\n"));
	ck_assert(has("\r\nX-Kept: k\r\n"));
}
END_TEST

/* The forwarding fields a client may send, for the two tests below. */
static void
add_forwarding_fields(void)
{
	add("X-Forwarded-For", "10.0.0.1");
	add("X-Forwarded-For", "10.0.0.2, 10.0.0.3");
	add("X-Real-Ip", "10.0.0.1");
	add("X-Forwarded-Proto", "https");
	add("X-Forwarded-Port", "443");
	add("X-Forwarded-Host", "outer.example");
	add("X-Forwarded-Prefix", "/client");
	add("Forwarded", "for=10.0.0.1;proto=https");
}

START_TEST(test_request_forwarded_untrusted)
{
	struct lb_fwd f;

	/* a peer outside proxy.header.trustedcidrs: X-Forwarded-For is
	 * appended to, everything else is ours alone */
	fwd_init(&f);
	add_forwarding_fields();
	ck_assert_int_eq(lb_headers_request(&out, &f, hdrs, nhdrs), 0);
	ck_assert_int_eq(count("X-Forwarded-For"), 1);
	ck_assert(has("\r\nX-Forwarded-For: 10.0.0.1, 10.0.0.2, 10.0.0.3, "
		      "192.0.2.7\r\n"));
	ck_assert_int_eq(count("X-Real-Ip"), 1);
	ck_assert(has("\r\nX-Real-Ip: 192.0.2.7\r\n"));
	ck_assert_int_eq(count("X-Forwarded-Proto"), 1);
	ck_assert(has("\r\nX-Forwarded-Proto: http\r\n"));
	ck_assert_int_eq(count("X-Forwarded-Port"), 1);
	ck_assert(has("\r\nX-Forwarded-Port: 9999\r\n"));
	ck_assert_int_eq(count("X-Forwarded-Host"), 1);
	ck_assert(has("\r\nX-Forwarded-Host: example.com\r\n"));
	ck_assert_int_eq(count("X-Forwarded-Prefix"), 0);
	ck_assert_int_eq(count("Forwarded"), 1);
	ck_assert(has("\r\nForwarded: for=192.0.2.7;proto=http;"
		      "host=example.com\r\n"));
	ck_assert(!has("outer.example"));
	ck_assert(!has("https"));
}
END_TEST

START_TEST(test_request_forwarded_for)
{
	struct lb_fwd f;

	fwd_init(&f);
	f.trusted = 1;
	add_forwarding_fields();
	f.prefix = "/app";
	ck_assert_int_eq(lb_headers_request(&out, &f, hdrs, nhdrs), 0);
	ck_assert_int_eq(count("X-Forwarded-For"), 1);
	ck_assert(has("\r\nX-Forwarded-For: 10.0.0.1, 10.0.0.2, 10.0.0.3, "
		      "192.0.2.7\r\n"));
	/* a trusted peer: set only when absent, the client's pass */
	ck_assert_int_eq(count("X-Real-Ip"), 1);
	ck_assert(has("\r\nX-Real-Ip: 10.0.0.1\r\n"));
	ck_assert(has("\r\nX-Forwarded-Proto: https\r\n"));
	ck_assert(has("\r\nX-Forwarded-Port: 443\r\n"));
	ck_assert(has("\r\nX-Forwarded-Host: outer.example\r\n"));
	/* strip= replaces the prefix */
	ck_assert_int_eq(count("X-Forwarded-Prefix"), 1);
	ck_assert(has("\r\nX-Forwarded-Prefix: /app\r\n"));
	/* RFC 7239: our element appended */
	ck_assert_int_eq(count("Forwarded"), 1);
	ck_assert(has("\r\nForwarded: for=10.0.0.1;proto=https, "
		      "for=192.0.2.7;proto=http;host=example.com\r\n"));
}
END_TEST

START_TEST(test_request_connection_cannot_strip_ours)
{
	struct lb_fwd f;

	/* naming our fields in Connection drops the client's copies, and
	 * ours are added after that */
	fwd_init(&f);
	add("Connection", "X-Real-Ip, X-Forwarded-For, Forwarded");
	add("X-Real-Ip", "6.6.6.6");
	add("X-Forwarded-For", "6.6.6.6");
	add("Forwarded", "for=6.6.6.6");
	ck_assert_int_eq(lb_headers_request(&out, &f, hdrs, nhdrs), 0);
	ck_assert(!has("6.6.6.6"));
	ck_assert(has("\r\nX-Real-Ip: 192.0.2.7\r\n"));
	ck_assert(has("\r\nX-Forwarded-For: 192.0.2.7\r\n"));
	ck_assert(has("\r\nForwarded: for=192.0.2.7;"));

	/* the same from a trusted peer, and the fields that would replace
	 * ours named in Connection as well */
	lb_buf_reset(&out);
	nhdrs = 0;
	fwd_init(&f);
	f.trusted = 1;
	add("Connection", "X-Forwarded-Host, X-Forwarded-Proto, X-Custom");
	add("X-Forwarded-Host", "evil.example");
	add("X-Forwarded-Proto", "gopher");
	add("X-Custom", "gone");
	ck_assert_int_eq(lb_headers_request(&out, &f, hdrs, nhdrs), 0);
	ck_assert(!has("evil.example"));
	ck_assert(!has("gopher"));
	ck_assert(!has("X-Custom"));
	ck_assert(has("\r\nX-Forwarded-Host: example.com\r\n"));
	ck_assert(has("\r\nX-Forwarded-Proto: http\r\n"));
}
END_TEST

START_TEST(test_request_ipv6_and_quoting)
{
	struct lb_fwd f;

	fwd_init(&f);
	f.client_ip = "2001:db8::1";
	f.client_host = "example.com:8080";
	f.host = NULL;
	ck_assert_int_eq(lb_headers_request(&out, &f, hdrs, nhdrs), 0);
	ck_assert_int_eq(count("Host"), 0);
	ck_assert(has("\r\nForwarded: for=\"[2001:db8::1]\";proto=http;"
		      "host=\"example.com:8080\"\r\n"));
	ck_assert(has("\r\nX-Forwarded-For: 2001:db8::1\r\n"));

	lb_buf_reset(&out);
	lb_headers_forwarded_value(&out, "a\"b\\c d", 0);
	ck_assert_str_eq(text(), "\"a\\\"b\\\\c d\"");
	lb_buf_reset(&out);
	lb_headers_forwarded_value(&out, "[::1]", 1);
	ck_assert_str_eq(text(), "\"[::1]\"");
	lb_buf_reset(&out);
	lb_headers_forwarded_value(&out, "unknown", 1);
	ck_assert_str_eq(text(), "unknown");
}
END_TEST

START_TEST(test_request_post_without_body)
{
	struct lb_fwd f;

	fwd_init(&f);
	f.method = "POST";
	f.has_body = 1;
	f.body_len = 0;
	ck_assert_int_eq(lb_headers_request(&out, &f, hdrs, nhdrs), 0);
	ck_assert(strncmp(text(), "POST /app/x HTTP/1.1\r\n", 22) == 0);
	ck_assert(has("\r\nContent-Length: 0\r\n"));
}
END_TEST

static void
parse_resp(const char *s, struct lb_h1_resp *r)
{
	long end = lb_h1_head_end(s, strlen(s), 65536);

	ck_assert_int_gt(end, 0);
	ck_assert_int_eq(lb_h1_parse_response(s, (size_t)end, r), 0);
}

START_TEST(test_response)
{
	struct lb_h1_resp r;
	struct lb_resp_out o;
	static const char up[] = "HTTP/1.1 201 Made It\r\n"
				 "Server: up\r\n"
				 "Connection: keep-alive, X-Hop\r\n"
				 "Keep-Alive: timeout=5\r\n"
				 "X-Hop: 1\r\n"
				 "Transfer-Encoding: chunked\r\n"
				 "Upgrade: h2c\r\n"
				 "Set-Cookie: a=1\r\n"
				 "\r\n";

	parse_resp(up, &r);
	memset(&o, 0, sizeof(o));
	o.status = r.status;
	o.reason = r.reason;
	o.reason_len = r.reason_len;
	o.length = 11;
	ck_assert_int_eq(lb_headers_response(&out, &r, &o), 0);
	ck_assert_str_eq(text(), "HTTP/1.1 201 Made It\r\nServer: up\r\n"
			 "Set-Cookie: a=1\r\nContent-Length: 11\r\n\r\n");

	/* the upstream's Content-Length gives way to the framing chosen */
	lb_buf_reset(&out);
	parse_resp("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-A: b\r\n\r\n",
		   &r);
	memset(&o, 0, sizeof(o));
	o.status = r.status;
	o.length = 11;
	ck_assert_int_eq(lb_headers_response(&out, &r, &o), 0);
	ck_assert_str_eq(text(), "HTTP/1.1 200 OK\r\nX-A: b\r\n"
			 "Content-Length: 11\r\n\r\n");
	parse_resp(up, &r);

	lb_buf_reset(&out);
	o.length = -1;
	o.chunked = 1;
	o.conn = LB_CONN_CLOSE;
	ck_assert_int_eq(lb_headers_response(&out, &r, &o), 0);
	ck_assert(has("\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
		      "\r\n"));

	lb_buf_reset(&out);
	memset(&o, 0, sizeof(o));
	o.status = 502;
	o.length = 0;
	o.conn = LB_CONN_KEEP_ALIVE;
	ck_assert_int_eq(lb_headers_response(&out, NULL, &o), 0);
	ck_assert_str_eq(text(), "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n"
			 "Connection: keep-alive\r\n\r\n");
	ck_assert_str_eq(lb_headers_reason(504), "Gateway Timeout");
	ck_assert_str_eq(lb_headers_reason(299), "Unknown");
}
END_TEST

START_TEST(test_is_hop)
{
	ck_assert(lb_headers_is_hop("connection", 10));
	ck_assert(lb_headers_is_hop("TE", 2));
	ck_assert(lb_headers_is_hop("Transfer-Encoding", 17));
	ck_assert(!lb_headers_is_hop("Content-Length", 14));
	ck_assert(!lb_headers_is_hop("Tea", 3));
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("lb_headers");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_request_basic);
	tcase_add_test(tc, test_request_hop_by_hop);
	tcase_add_test(tc, test_request_forwarded_for);
	tcase_add_test(tc, test_request_forwarded_untrusted);
	tcase_add_test(tc, test_request_connection_cannot_strip_ours);
	tcase_add_test(tc, test_request_ipv6_and_quoting);
	tcase_add_test(tc, test_request_post_without_body);
	tcase_add_test(tc, test_response);
	tcase_add_test(tc, test_is_hop);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_main_run(suite());
}
