/*
 * check_lb_http1.c - upstream response heads and chunked bodies: where a
 * head ends, status lines, fields, the framing rules (Content-Length
 * agreement, never both Content-Length and Transfer-Encoding, close), and chunked
 * decoding fed whole, byte by byte, with extensions and trailers, and
 * broken.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <event2/buffer.h>

#include "lb/lb_http1.h"
#include "tests/check_main.h"

static long
head_end(const char *s)
{
	return lb_h1_head_end(s, strlen(s), 65536);
}

START_TEST(test_head_end)
{
	ck_assert_int_eq(head_end("HTTP/1.1 200 OK\r\n\r\n"), 19);
	ck_assert_int_eq(head_end("HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody"), 25);
	ck_assert_int_eq(head_end("HTTP/1.1 200 OK\n\nbody"), 17);
	ck_assert_int_eq(head_end("HTTP/1.1 200 OK\r\nA: b\n\r\n"), 24);
	ck_assert_int_eq(head_end("HTTP/1.1 200 OK\r\nA: b\r\n"), 0);
	ck_assert_int_eq(head_end("HTTP/1.1 200 OK\r\nA: b\r\n\r"), 0);
	ck_assert_int_eq(head_end("HTTP/1.1 200 OK\r\nA: b"), 0);
	ck_assert_int_eq(head_end(""), 0);
	/* too long, complete or not */
	ck_assert_int_eq(lb_h1_head_end("HTTP/1.1 200 OK\r\n\r\n", 19, 10), -1);
	ck_assert_int_eq(lb_h1_head_end("HTTP/1.1 200 OK xxxxxxxx", 24, 10), -1);
}
END_TEST

static int
parse(const char *s, struct lb_h1_resp *r)
{
	long end = head_end(s);

	ck_assert_int_gt(end, 0);
	return lb_h1_parse_response(s, (size_t)end, r);
}

START_TEST(test_status_line)
{
	struct lb_h1_resp r;

	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\n\r\n", &r), 0);
	ck_assert_int_eq(r.major, 1);
	ck_assert_int_eq(r.minor, 1);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.reason_len, 2);
	ck_assert(memcmp(r.reason, "OK", 2) == 0);
	ck_assert_int_eq(r.content_length, -1);
	ck_assert_int_eq(r.close, 0);

	ck_assert_int_eq(parse("HTTP/1.1 404 Not Found Here\r\n\r\n", &r), 0);
	ck_assert_int_eq(r.status, 404);
	ck_assert_uint_eq(r.reason_len, strlen("Not Found Here"));

	ck_assert_int_eq(parse("HTTP/1.1 204\r\n\r\n", &r), 0);
	ck_assert_int_eq(r.status, 204);
	ck_assert_uint_eq(r.reason_len, 0);

	ck_assert_int_eq(parse("HTTP/1.1 200 \r\n\r\n", &r), 0);
	ck_assert_uint_eq(r.reason_len, 0);

	ck_assert_int_eq(parse("HTTP/2.0 200 OK\r\n\r\n", &r), -EINVAL);
	ck_assert_int_eq(parse("HTTP/1.1 2000 OK\r\n\r\n", &r), -EINVAL);
	ck_assert_int_eq(parse("HTTP/1.1 20x OK\r\n\r\n", &r), -EINVAL);
	ck_assert_int_eq(parse("HTTP/1.1 099 Low\r\n\r\n", &r), -EINVAL);
	ck_assert_int_eq(parse("HTTP/1.1  200 OK\r\n\r\n", &r), -EINVAL);
	ck_assert_int_eq(parse("ICY 200 OK\r\n\r\n", &r), -EINVAL);
	ck_assert_int_eq(parse("HTTP/1.1 200 O\001K\r\n\r\n", &r), -EINVAL);
}
END_TEST

START_TEST(test_fields)
{
	struct lb_h1_resp r;
	const char *s = "HTTP/1.1 200 OK\r\n"
			"Content-Type:  text/plain \r\n"
			"X-Empty:\r\n"
			"Set-Cookie: a=1\r\n"
			"Set-Cookie: b=2\r\n"
			"\r\n";

	ck_assert_int_eq(parse(s, &r), 0);
	ck_assert_uint_eq(r.nfields, 4);
	ck_assert_uint_eq(r.fields[0].name_len, 12);
	ck_assert(memcmp(r.fields[0].name, "Content-Type", 12) == 0);
	ck_assert_uint_eq(r.fields[0].value_len, 10);
	ck_assert(memcmp(r.fields[0].value, "text/plain", 10) == 0);
	ck_assert_uint_eq(r.fields[1].value_len, 0);
	ck_assert(memcmp(r.fields[3].value, "b=2", 3) == 0);

	/* malformed fields */
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nA b: c\r\n\r\n", &r), -EINVAL);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nA : c\r\n\r\n", &r), -EINVAL);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\n: c\r\n\r\n", &r), -EINVAL);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nNo colon\r\n\r\n", &r),
			 -EINVAL);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", &r),
			 -EINVAL);   /* obsolete folding */
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n", &r),
			 -EINVAL);
}
END_TEST

START_TEST(test_field_limit)
{
	char buf[8192];
	size_t n = 0;
	struct lb_h1_resp r;
	int i;

	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "HTTP/1.1 200 OK\r\n");
	for (i = 0; i < LB_H1_MAX_FIELDS; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-%d: v\r\n", i);
	snprintf(buf + n, sizeof(buf) - n, "\r\n");
	ck_assert_int_eq(parse(buf, &r), 0);
	ck_assert_uint_eq(r.nfields, LB_H1_MAX_FIELDS);
	snprintf(buf + n, sizeof(buf) - n, "X-last: v\r\n\r\n");
	ck_assert_int_eq(parse(buf, &r), -E2BIG);
}
END_TEST

START_TEST(test_framing)
{
	struct lb_h1_resp r;

	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n",
			       &r), 0);
	ck_assert_int_eq(r.content_length, 42);
	ck_assert_int_eq(r.chunked, 0);

	/* several Content-Length fields must agree */
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n"
			       "Content-Length: 5\r\n\r\n", &r), 0);
	ck_assert_int_eq(r.content_length, 5);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
			       "Content-Length: 6\r\n\r\n", &r), -EINVAL);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n",
			       &r), -EINVAL);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
			       &r), -EINVAL);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
			       &r), -EINVAL);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: "
			       "99999999999999999999\r\n\r\n", &r), -EINVAL);

	/* both framings: the hops behind could read it either way */
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
			       "Transfer-Encoding: chunked\r\n\r\n", &r),
			 -EINVAL);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\n"
			       "Transfer-Encoding: chunked\r\n"
			       "Content-Length: 5\r\n\r\n", &r), -EINVAL);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\n"
			       "Transfer-Encoding: chunked\r\n\r\n", &r), 0);
	ck_assert_int_eq(r.chunked, 1);
	ck_assert_int_eq(r.content_length, -1);
	ck_assert_int_eq(r.close, 0);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\n"
			       "Transfer-Encoding: gzip, Chunked\r\n\r\n", &r), 0);
	ck_assert_int_eq(r.chunked, 1);
	/* chunked not last: the body runs to the close */
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\n"
			       "Transfer-Encoding: chunked, gzip\r\n\r\n", &r), 0);
	ck_assert_int_eq(r.chunked, 0);
	ck_assert_int_eq(r.other_coding, 1);
	ck_assert_int_eq(r.close, 1);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n"
			       "Transfer-Encoding: chunked\r\n\r\n", &r), 0);
	ck_assert_int_eq(r.chunked, 1);
}
END_TEST

START_TEST(test_close)
{
	struct lb_h1_resp r;

	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
			       &r), 0);
	ck_assert_int_eq(r.close, 1);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nConnection: foo, Close\r\n\r\n",
			       &r), 0);
	ck_assert_int_eq(r.close, 1);
	ck_assert_int_eq(parse("HTTP/1.0 200 OK\r\n\r\n", &r), 0);
	ck_assert_int_eq(r.close, 1);
	ck_assert_int_eq(parse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n",
			       &r), 0);
	ck_assert_int_eq(r.close, 0);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n",
			       &r), 0);
	ck_assert_int_eq(r.close, 0);
}
END_TEST

START_TEST(test_lists)
{
	ck_assert(lb_h1_name_is("Content-Length", 14, "content-length"));
	ck_assert(!lb_h1_name_is("Content-Lengt", 13, "content-length"));
	ck_assert(!lb_h1_name_is("Content-Lengths", 15, "content-length"));
	ck_assert(lb_h1_list_has("a, b ,C", 7, "c"));
	ck_assert(lb_h1_list_has(",,close,,", 9, "close"));
	ck_assert(!lb_h1_list_has("closed", 6, "close"));
	ck_assert(!lb_h1_list_has("", 0, "close"));
}
END_TEST

/* Decode all of s fed at once, or one byte at a time, as a response body
 * (strict 0) or a request body (strict 1). */
static int
decode_mode(const char *s, size_t len, int bytewise, int strict,
	    struct evbuffer *out, struct evbuffer *rest)
{
	struct lb_h1_chunked c;
	struct evbuffer *in = evbuffer_new();
	size_t i;
	int rc = 0;

	memset(&c, 0, sizeof(c));
	c.strict = strict;
	if (!bytewise) {
		evbuffer_add(in, s, len);
		rc = lb_h1_chunked_decode(&c, in, out);
	} else {
		for (i = 0; i < len && rc == 0; i++) {
			evbuffer_add(in, s + i, 1);
			rc = lb_h1_chunked_decode(&c, in, out);
		}
	}
	if (rest != NULL)
		evbuffer_add_buffer(rest, in);
	evbuffer_free(in);
	return rc;
}

static int
decode(const char *s, size_t len, int bytewise, struct evbuffer *out,
       struct evbuffer *rest)
{
	return decode_mode(s, len, bytewise, 0, out, rest);
}

static void
expect_body(struct evbuffer *b, const char *want)
{
	size_t n = evbuffer_get_length(b);
	char buf[256];

	ck_assert_uint_eq(n, strlen(want));
	evbuffer_remove(b, buf, n);
	ck_assert(memcmp(buf, want, n) == 0);
}

START_TEST(test_chunked)
{
	static const char body[] = "5\r\nhello\r\n7;ext=1\r\n, world\r\n"
				   "0\r\nX-Trailer: t\r\n\r\nNEXT";
	int bytewise;

	for (bytewise = 0; bytewise < 2; bytewise++) {
		struct evbuffer *out = evbuffer_new(), *rest = evbuffer_new();

		ck_assert_int_eq(decode(body, sizeof(body) - 1, bytewise, out,
					rest), 1);
		expect_body(out, "hello, world");
		if (!bytewise)
			expect_body(rest, "NEXT");
		evbuffer_free(out);
		evbuffer_free(rest);
	}
}
END_TEST

START_TEST(test_chunked_forms)
{
	struct evbuffer *out = evbuffer_new();

	/* bare LF, upper-case hex, blanks before an extension */
	ck_assert_int_eq(decode("A \t;x\nabcdefghij\n0\n\n", 21, 0, out, NULL),
			 1);
	expect_body(out, "abcdefghij");
	/* incomplete stays incomplete */
	ck_assert_int_eq(decode("5\r\nhel", 6, 0, out, NULL), 0);
	evbuffer_drain(out, evbuffer_get_length(out));
	ck_assert_int_eq(decode("0\r\n", 3, 0, out, NULL), 0);
	evbuffer_free(out);
}
END_TEST

START_TEST(test_chunked_bad)
{
	struct evbuffer *out = evbuffer_new();
	char big[5000];

	ck_assert_int_eq(decode("x\r\n", 3, 0, out, NULL), -EINVAL);
	ck_assert_int_eq(decode("\r\n", 2, 0, out, NULL), -EINVAL);
	ck_assert_int_eq(decode("-5\r\n", 4, 0, out, NULL), -EINVAL);
	ck_assert_int_eq(decode("5 x\r\n", 5, 0, out, NULL), -EINVAL);
	ck_assert_int_eq(decode("1234567890abcdef0\r\n", 19, 0, out, NULL),
			 -EINVAL);
	ck_assert_int_eq(decode("3\r\nabcX\r\n", 9, 0, out, NULL), -EINVAL);
	memset(big, '1', sizeof(big));
	ck_assert_int_eq(decode(big, sizeof(big), 0, out, NULL), -EINVAL);
	evbuffer_free(out);
}
END_TEST

/* Request bodies: CRLF everywhere, well-formed trailers; the rest as for
 * responses. Each case fed whole and byte by byte. */
START_TEST(test_chunked_strict)
{
	static const struct {
		const char *in;
		int rc;
		const char *body;
	} cases[] = {
		{ "3;a=b\r\nabc\r\n0\r\n\r\n", 1, "abc" },
		{ "3 ;a=\"b c\"\r\nabc\r\n0\r\nX-T: 1\r\n\r\n", 1, "abc" },
		{ "3\nabc\n0\n\n", -EINVAL, NULL },
		{ "3\r\nabc\n0\r\n\r\n", -EINVAL, NULL },
		{ "3\r\nabc\r\n0\n\r\n", -EINVAL, NULL },
		{ "3\r\nabc\r\n0\r\n\n", -EINVAL, NULL },
		{ "3\r\nabc\r\n0\r\nX-T: 1\n\r\n", -EINVAL, NULL },
		{ "3\r\nabc\r\n0\r\nX T: 1\r\n\r\n", -EINVAL, NULL },
		{ "3\r\nabc\r\n0\r\nno colon\r\n\r\n", -EINVAL, NULL },
		{ "3\r\nabc\r\n0\r\n: v\r\n\r\n", -EINVAL, NULL },
		{ "3\r\nabc\r\n0\r\n X: v\r\n\r\n", -EINVAL, NULL },
		{ "3\r\r\nabc\r\n0\r\n\r\n", -EINVAL, NULL },
		{ "0x3\r\nabc\r\n0\r\n\r\n", -EINVAL, NULL },
		{ "+3\r\nabc\r\n0\r\n\r\n", -EINVAL, NULL },
		{ " 3\r\nabc\r\n0\r\n\r\n", -EINVAL, NULL },
	};
	size_t i;
	int bytewise;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (bytewise = 0; bytewise < 2; bytewise++) {
			struct evbuffer *out = evbuffer_new();
			int rc = decode_mode(cases[i].in, strlen(cases[i].in),
					     bytewise, 1, out, NULL);

			ck_assert_msg(rc == cases[i].rc,
				      "case %zu (bytewise %d): %d, want %d", i,
				      bytewise, rc, cases[i].rc);
			if (cases[i].body != NULL)
				expect_body(out, cases[i].body);
			evbuffer_free(out);
		}
	}
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("lb_http1");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_head_end);
	tcase_add_test(tc, test_status_line);
	tcase_add_test(tc, test_fields);
	tcase_add_test(tc, test_field_limit);
	tcase_add_test(tc, test_framing);
	tcase_add_test(tc, test_close);
	tcase_add_test(tc, test_lists);
	tcase_add_test(tc, test_chunked);
	tcase_add_test(tc, test_chunked_forms);
	tcase_add_test(tc, test_chunked_bad);
	tcase_add_test(tc, test_chunked_strict);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_main_run(suite());
}
