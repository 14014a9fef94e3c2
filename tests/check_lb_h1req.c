/*
 * check_lb_h1req.c - the strict request-head parser: where a head ends
 * (CRLF only), the request line, field syntax, the framing rules that
 * keep two readers of the same bytes from disagreeing (Content-Length,
 * Transfer-Encoding, Host), the flags the connection acts on, and the
 * status each error is answered with.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb/lb_h1req.h"
#include "tests/check_main.h"

static struct lb_h1_req r;
static char buf[70000];

/* Parse text (a whole head) from a writable copy. */
static int
parse(const char *text)
{
	size_t n = strlen(text);

	ck_assert_uint_lt(n, sizeof(buf));
	memcpy(buf, text, n + 1);
	return lb_h1_parse_request(buf, n, &r);
}

/* The value of field i as a string (values are NUL-terminated). */
static const char *
value(size_t i)
{
	ck_assert_uint_lt(i, r.nfields);
	ck_assert_uint_eq(strlen(r.fields[i].value), r.fields[i].value_len);
	return r.fields[i].value;
}

START_TEST(test_head_end)
{
	const char *h = "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET";

	ck_assert_int_eq(lb_h1_req_head_end(h, strlen(h), 1000, 1000), 27);
	ck_assert_int_eq(lb_h1_req_head_end(h, 26, 1000, 1000), 0);
	ck_assert_int_eq(lb_h1_req_head_end(h, 10, 1000, 1000), 0);
	ck_assert_int_eq(lb_h1_req_head_end("", 0, 1000, 1000), 0);
	/* a bare LF is never a line end here */
	ck_assert_int_eq(lb_h1_req_head_end("GET / HTTP/1.1\n\n", 16, 1000, 1000),
			 -EINVAL);
	ck_assert_int_eq(lb_h1_req_head_end("GET / HTTP/1.1\r\nA: b\n", 22,
					    1000, 1000), -EINVAL);
	ck_assert_int_eq(lb_h1_req_head_end("\n", 1, 1000, 1000), -EINVAL);
	/* no end within max */
	ck_assert_int_eq(lb_h1_req_head_end("GET / HTTP/1.1\r\nA: b", 20, 1000, 20),
			 -E2BIG);
	ck_assert_int_eq(lb_h1_req_head_end(h, strlen(h), 1000, 27), 27);
	ck_assert_int_eq(lb_h1_req_head_end(h, strlen(h), 1000, 26), -E2BIG);
	/* the request line "GET / HTTP/1.1" is 14 bytes: a limit of 14
	 * takes it, 13 does not, whether its CRLF came yet or not */
	ck_assert_int_eq(lb_h1_req_head_end(h, strlen(h), 14, 1000), 27);
	ck_assert_int_eq(lb_h1_req_head_end(h, strlen(h), 13, 1000),
			 -ENAMETOOLONG);
	ck_assert_int_eq(lb_h1_req_head_end(h, 14, 14, 1000), 0);
	ck_assert_int_eq(lb_h1_req_head_end(h, 15, 14, 1000), 0);
	ck_assert_int_eq(lb_h1_req_head_end(h, 14, 13, 1000), -ENAMETOOLONG);
	ck_assert_int_eq(lb_h1_req_head_end("GET /aaaaaaaaa", 14, 12, 1000),
			 -ENAMETOOLONG);
	/* a long line ending in a bare LF: 414 whether the LF came yet or
	 * not; at the limit, the bare LF is what is wrong */
	ck_assert_int_eq(lb_h1_req_head_end("GET /aaaaaaaaa\n", 15, 13, 1000),
			 -ENAMETOOLONG);
	ck_assert_int_eq(lb_h1_req_head_end("GET /aaaaaaaaa", 14, 13, 1000),
			 -ENAMETOOLONG);
	ck_assert_int_eq(lb_h1_req_head_end("GET /aaaaaaaaa\n", 15, 14, 1000),
			 -EINVAL);
	ck_assert_int_eq(lb_h1_req_head_end("GET /aaaaaaaaa", 14, 14, 1000), 0);
	/* the line limit wins over the head limit */
	ck_assert_int_eq(lb_h1_req_head_end(h, strlen(h), 10, 12),
			 -ENAMETOOLONG);
	ck_assert_int_eq(lb_h1_req_status(-ENAMETOOLONG), 414);
}
END_TEST

START_TEST(test_request_line)
{
	ck_assert_int_eq(parse("GET /a/b?c=d HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert_str_eq(r.method, "GET");
	ck_assert_uint_eq(r.method_len, 3);
	ck_assert_str_eq(r.target, "/a/b?c=d");
	ck_assert_uint_eq(r.target_len, 8);
	ck_assert_int_eq(r.major, 1);
	ck_assert_int_eq(r.minor, 1);
	ck_assert_int_eq(parse("PURGE http://h.example/x HTTP/1.0\r\n\r\n"), 0);
	ck_assert_str_eq(r.method, "PURGE");
	ck_assert_str_eq(r.target, "http://h.example/x");
	ck_assert_int_eq(r.minor, 0);
	ck_assert_ptr_null(r.host);

	ck_assert_int_eq(parse("GET  / HTTP/1.1\r\nHost: x\r\n\r\n"), -EINVAL);
	ck_assert_int_eq(parse("GET / HTTP/1.1 \r\nHost: x\r\n\r\n"), -EINVAL);
	ck_assert_int_eq(parse("GET /\tx HTTP/1.1\r\nHost: x\r\n\r\n"), -EINVAL);
	ck_assert_int_eq(parse("GET /\x80 HTTP/1.1\r\nHost: x\r\n\r\n"), -EINVAL);
	ck_assert_int_eq(parse("G(T / HTTP/1.1\r\nHost: x\r\n\r\n"), -EINVAL);
	ck_assert_int_eq(parse(" GET / HTTP/1.1\r\nHost: x\r\n\r\n"), -EINVAL);
	ck_assert_int_eq(parse("GET / http/1.1\r\nHost: x\r\n\r\n"), -EINVAL);
	ck_assert_int_eq(parse("GET / HTTP/1.10\r\nHost: x\r\n\r\n"), -EINVAL);
	ck_assert_int_eq(parse("GET / HTTP/1\r\nHost: x\r\n\r\n"), -EINVAL);
	ck_assert_int_eq(parse("GET /\r\n\r\n"), -EINVAL);
	ck_assert_int_eq(parse("GET / HTTP/2.0\r\nHost: x\r\n\r\n"),
			 -EPROTONOSUPPORT);
	ck_assert_int_eq(parse("GET / HTTP/0.9\r\n\r\n"), -EPROTONOSUPPORT);
	ck_assert_int_eq(parse("GET / HTTP/1.1\n\r\n"), -EINVAL);
	ck_assert_int_eq(parse("\r\n\r\n"), -EINVAL);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: x\r\n"), -EINVAL);
}
END_TEST

START_TEST(test_fields)
{
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\n"
			       "Host: example.com:8080\r\n"
			       "X-A:   spaced \t \r\n"
			       "x-empty:\r\n"
			       "X-Obs: caf\xc3\xa9\r\n"
			       "X-Inner: a \t b\r\n"
			       "\r\n"), 0);
	ck_assert_uint_eq(r.nfields, 5);
	ck_assert_uint_eq(r.fields[0].name_len, 4);
	ck_assert_int_eq(memcmp(r.fields[0].name, "Host", 4), 0);
	ck_assert_str_eq(value(0), "example.com:8080");
	ck_assert_str_eq(r.host, "example.com:8080");
	ck_assert_uint_eq(r.host_len, 16);
	ck_assert_str_eq(value(1), "spaced");
	ck_assert_str_eq(value(2), "");
	ck_assert_str_eq(value(3), "caf\xc3\xa9");
	ck_assert_str_eq(value(4), "a \t b");

	/* a blank before the colon, no name, no colon, obs-fold */
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost : x\r\n\r\n"), -EINVAL);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n"),
			 -EINVAL);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n"),
			 -EINVAL);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n"),
			 -EINVAL);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: x\r\nA\"B: c\r\n\r\n"),
			 -EINVAL);
	/* control characters in values: NUL, a lone CR, DEL */
	ck_assert_int_eq(lb_h1_parse_request(
		memcpy(buf, "GET / HTTP/1.1\r\nHost: x\r\nA: b\0c\r\n\r\n", 35),
		35, &r), -EINVAL);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: x\r\nA: b\rc\r\n\r\n"),
			 -EINVAL);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: x\r\nA: b\x7f\r\n\r\n"),
			 -EINVAL);
}
END_TEST

START_TEST(test_field_limit)
{
	char *p = buf;
	int i;

	p += sprintf(p, "GET / HTTP/1.1\r\nHost: x\r\n");
	for (i = 1; i < LB_H1_REQ_FIELDS_MAX; i++)
		p += sprintf(p, "X-%d: v\r\n", i);
	p += sprintf(p, "\r\n");
	ck_assert_int_eq(lb_h1_parse_request(buf, (size_t)(p - buf), &r), 0);
	ck_assert_uint_eq(r.nfields, LB_H1_REQ_FIELDS_MAX);

	p = buf;
	p += sprintf(p, "GET / HTTP/1.1\r\nHost: x\r\n");
	for (i = 0; i < LB_H1_REQ_FIELDS_MAX; i++)
		p += sprintf(p, "X-%d: v\r\n", i);
	p += sprintf(p, "\r\n");
	ck_assert_int_eq(lb_h1_parse_request(buf, (size_t)(p - buf), &r),
			 -E2BIG);
}
END_TEST

START_TEST(test_framing)
{
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Content-Length: 42\r\n\r\n"), 0);
	ck_assert_int_eq(r.content_length, 42);
	ck_assert_int_eq(r.chunked, 0);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert_int_eq(r.content_length, -1);
	/* copies that agree are one length; any disagreement is fatal */
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Content-Length: 7\r\ncontent-length: 7\r\n\r\n"), 0);
	ck_assert_int_eq(r.content_length, 7);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Content-Length: 7\r\nContent-Length: 8\r\n\r\n"),
			 -EINVAL);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Content-Length: 7, 7\r\n\r\n"), -EINVAL);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Content-Length: +7\r\n\r\n"), -EINVAL);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Content-Length:\r\n\r\n"), -EINVAL);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Content-Length: 99999999999999999999999\r\n\r\n"),
			 -EINVAL);

	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Transfer-Encoding: Chunked\r\n\r\n"), 0);
	ck_assert_int_eq(r.chunked, 1);
	/* chunked with a length, twice, not alone, unknown, in HTTP/1.0 */
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Transfer-Encoding: chunked\r\n"
			       "Content-Length: 3\r\n\r\n"), -EINVAL);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Transfer-Encoding: chunked\r\n"
			       "Transfer-Encoding: chunked\r\n\r\n"), -EINVAL);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Transfer-Encoding: gzip, chunked\r\n\r\n"),
			 -ENOSYS);
	/* RFC 9112 6.3: chunked not final (identity, gzip alone too), or
	 * applied twice, in one field or two: 400 */
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Transfer-Encoding: identity\r\n\r\n"), -EINVAL);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Transfer-Encoding: gzip\r\n\r\n"), -EINVAL);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Transfer-Encoding: chunked, gzip\r\n\r\n"),
			 -EINVAL);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Transfer-Encoding: chunked, chunked\r\n\r\n"),
			 -EINVAL);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Transfer-Encoding: chunked,\r\n\r\n"), 0);
	ck_assert_int_eq(r.chunked, 1);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Transfer-Encoding: gzip\r\n"
			       "Transfer-Encoding: chunked\r\n\r\n"), -ENOSYS);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Transfer-Encoding: \"chunked\"\r\n\r\n"), -EINVAL);
	/* junk after a coding, parameters on chunked, a field naming
	 * nothing before a chunked one: each a reader could frame apart */
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Transfer-Encoding: chunked gzip\r\n\r\n"), -EINVAL);
	ck_assert_str_eq(r.why, "bad Transfer-Encoding");
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Transfer-Encoding: chunked\r\n"
			       "Content-Length: 3\r\n\r\n"), -EINVAL);
	ck_assert_str_eq(r.why, "both Content-Length and Transfer-Encoding");
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Content-Length: 3\r\nContent-Length: 4\r\n\r\n"),
			 -EINVAL);
	ck_assert_str_eq(r.why, "Content-Length values differ");
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n"),
			 -EINVAL);
	ck_assert_str_eq(r.why, "obsolete line folding");
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert_ptr_null(r.why);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Transfer-Encoding: chunked/ chunked\r\n\r\n"),
			 -EINVAL);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Transfer-Encoding: chunked;q=1\r\n\r\n"), -EINVAL);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Transfer-Encoding: chunked ; q=1\r\n\r\n"),
			 -EINVAL);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Transfer-Encoding:\r\n"
			       "Transfer-Encoding: chunked\r\n\r\n"), -EINVAL);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Transfer-Encoding: , ,\r\n"
			       "Transfer-Encoding: chunked\r\n\r\n"), -EINVAL);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Transfer-Encoding: gzip;level=9 , chunked\r\n\r\n"),
			 -ENOSYS);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Transfer-Encoding: chunked \t\r\n\r\n"), 0);
	ck_assert_int_eq(r.chunked, 1);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Transfer-Encoding:\r\n\r\n"), -EINVAL);
	ck_assert_int_eq(parse("POST / HTTP/1.0\r\n"
			       "Transfer-Encoding: chunked\r\n\r\n"), -EINVAL);
}
END_TEST

START_TEST(test_host)
{
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\n\r\n"), -EINVAL);
	ck_assert_str_eq(r.why, "no Host");
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
			 -EINVAL);
	ck_assert_str_eq(r.why, "more than one Host");
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), -EINVAL);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), -EINVAL);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"), -EINVAL);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"), 0);
	ck_assert_str_eq(r.host, "[::1]:80");
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost:\r\n\r\n"), 0);
	ck_assert_str_eq(r.host, "");
	/* HTTP/1.0 may leave it out */
	ck_assert_int_eq(parse("GET / HTTP/1.0\r\n\r\n"), 0);
	ck_assert_ptr_null(r.host);
}
END_TEST

START_TEST(test_flags)
{
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Expect: 100-Continue\r\nContent-Length: 1\r\n"
			       "Connection: keep-alive, Close\r\n\r\n"), 0);
	ck_assert_int_eq(r.expect_continue, 1);
	ck_assert_int_eq(r.conn_close, 1);
	ck_assert_int_eq(r.conn_keep_alive, 1);
	ck_assert_int_eq(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
			 0);
	ck_assert_int_eq(r.expect_continue, 0);
	ck_assert_int_eq(r.conn_close, 0);
	ck_assert_int_eq(r.conn_keep_alive, 1);
	/* a parse starts from nothing */
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: y\r\n\r\n"), 0);
	ck_assert_int_eq(r.conn_keep_alive, 0);
	ck_assert_int_eq(r.content_length, -1);
	ck_assert_uint_eq(r.nfields, 1);
}
END_TEST

START_TEST(test_status)
{
	ck_assert_int_eq(lb_h1_req_status(-EINVAL), 400);
	ck_assert_int_eq(lb_h1_req_status(-E2BIG), 431);
	ck_assert_int_eq(lb_h1_req_status(-ENOSYS), 501);
	ck_assert_int_eq(lb_h1_req_status(-EPROTONOSUPPORT), 505);
	ck_assert(lb_h1_is_tchar('a'));
	ck_assert(lb_h1_is_tchar('~'));
	ck_assert(!lb_h1_is_tchar(':'));
	ck_assert(!lb_h1_is_tchar(' '));
	ck_assert(!lb_h1_is_tchar(0x80));
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("lb_h1req");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_head_end);
	tcase_add_test(tc, test_request_line);
	tcase_add_test(tc, test_fields);
	tcase_add_test(tc, test_field_limit);
	tcase_add_test(tc, test_framing);
	tcase_add_test(tc, test_host);
	tcase_add_test(tc, test_flags);
	tcase_add_test(tc, test_status);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_main_run(suite());
}
