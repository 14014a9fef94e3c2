/*
 * check_lb_log.c - the access log's three formats byte for byte
 * (escaping, missing fields, cut fields that keep the line whole), the
 * per-thread buffer written to a file and to a pipe in whole lines, and
 * diagnostics: level filtering before formatting.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lb/lb_log.h"
#include "tests/check_main.h"

/* 2026-01-02T03:04:05.678Z */
static void
rec_init(struct lb_access_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->remote_addr = "192.0.2.7";
	r->method = "GET";
	r->uri = "/app/x?a=1";
	r->http_major = 1;
	r->http_minor = 1;
	r->status = 200;
	r->bytes = 1234;
	r->start.tv_sec = 1767323045;
	r->start.tv_usec = 678000;
	r->duration_us = 1500;
	r->host = "example.com";
	r->referer = "http://ref/";
	r->user_agent = "curl/8";
	r->upstream = "10.0.0.1:8080";
	r->service = "web";
}

static const char *
line(enum lb_access_format f, const struct lb_access_rec *r)
{
	static char buf[LB_ACCESS_LINE_MAX];
	size_t n = lb_access_line(f, r, buf, sizeof(buf));

	ck_assert_uint_eq(n, strlen(buf));
	return buf;
}

START_TEST(test_common)
{
	struct lb_access_rec r;

	rec_init(&r);
	ck_assert_str_eq(line(LB_ACCESS_COMMON, &r),
			 "192.0.2.7 - - [02/Jan/2026:03:04:05 +0000] "
			 "\"GET /app/x?a=1 HTTP/1.1\" 200 1234\n");
	r.bytes = 0;
	r.http_minor = 0;
	r.remote_addr = NULL;
	ck_assert_str_eq(line(LB_ACCESS_COMMON, &r),
			 "- - - [02/Jan/2026:03:04:05 +0000] "
			 "\"GET /app/x?a=1 HTTP/1.0\" 200 -\n");
	ck_assert_uint_eq(lb_access_line(LB_ACCESS_OFF, &r, (char[8]){0}, 8), 0);
}
END_TEST

START_TEST(test_combined)
{
	struct lb_access_rec r;

	rec_init(&r);
	ck_assert_str_eq(line(LB_ACCESS_COMBINED, &r),
			 "192.0.2.7 - - [02/Jan/2026:03:04:05 +0000] "
			 "\"GET /app/x?a=1 HTTP/1.1\" 200 1234 "
			 "\"http://ref/\" \"curl/8\"\n");
	r.referer = NULL;
	r.user_agent = "a \"quoted\"\tagent\\\xff";
	r.uri = "/bad\x01\"x";
	ck_assert_str_eq(line(LB_ACCESS_COMBINED, &r),
			 "192.0.2.7 - - [02/Jan/2026:03:04:05 +0000] "
			 "\"GET /bad\\x01\\x22x HTTP/1.1\" 200 1234 "
			 "\"-\" \"a \\x22quoted\\x22\\x09agent\\x5c\\xff\"\n");
}
END_TEST

START_TEST(test_json)
{
	struct lb_access_rec r;

	rec_init(&r);
	ck_assert_str_eq(line(LB_ACCESS_JSON, &r),
			 "{\"time\":\"2026-01-02T03:04:05.678Z\","
			 "\"remote_addr\":\"192.0.2.7\",\"method\":\"GET\","
			 "\"uri\":\"/app/x?a=1\",\"proto\":\"HTTP/1.1\","
			 "\"status\":200,\"bytes\":1234,\"duration_ms\":1.500,"
			 "\"host\":\"example.com\",\"upstream\":\"10.0.0.1:8080\","
			 "\"service\":\"web\",\"referer\":\"http://ref/\","
			 "\"user_agent\":\"curl/8\"}\n");
	r.user_agent = "q\"b\\\n\x7f";
	r.upstream = NULL;
	r.service = NULL;
	ck_assert(strstr(line(LB_ACCESS_JSON, &r),
			 "\"upstream\":\"\",\"service\":\"\"") != NULL);
	ck_assert(strstr(line(LB_ACCESS_JSON, &r),
			 "\"user_agent\":\"q\\\"b\\\\\\u000a\\u007f\"}\n") != NULL);
}
END_TEST

START_TEST(test_long_fields)
{
	struct lb_access_rec r;
	char *big = malloc(20000);
	enum lb_access_format f;

	memset(big, '"', 19999);
	big[19999] = '\0';
	rec_init(&r);
	r.uri = big;
	r.user_agent = big;
	r.referer = big;
	r.host = big;
	for (f = LB_ACCESS_COMMON; f <= LB_ACCESS_JSON; f++) {
		const char *l = line(f, &r);
		size_t n = strlen(l);

		ck_assert_uint_lt(n, LB_ACCESS_LINE_MAX);
		ck_assert_int_eq(l[n - 1], '\n');
		ck_assert_ptr_null(strchr(l, '\n') == l + n - 1 ? NULL : l);
	}
	/* a small buffer cuts, and still ends the line */
	{
		char small[16];
		size_t n = lb_access_line(LB_ACCESS_COMMON, &r, small,
					  sizeof(small));

		ck_assert_uint_eq(n, 15);
		ck_assert_int_eq(small[14], '\n');
	}
	free(big);
}
END_TEST

START_TEST(test_format_names)
{
	enum lb_access_format f;

	ck_assert_int_eq(lb_access_format_parse("json", &f), 0);
	ck_assert_int_eq(f, LB_ACCESS_JSON);
	ck_assert_int_eq(lb_access_format_parse("combined", &f), 0);
	ck_assert_int_eq(f, LB_ACCESS_COMBINED);
	ck_assert_int_eq(lb_access_format_parse("", &f), 0);
	ck_assert_int_eq(f, LB_ACCESS_OFF);
	ck_assert_int_eq(lb_access_format_parse("xml", &f), -EINVAL);
	ck_assert_str_eq(lb_access_format_name(LB_ACCESS_COMMON), "common");
}
END_TEST

static size_t
count_lines(const char *s, size_t n)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		c += s[i] == '\n';
	return c;
}

START_TEST(test_buffer_to_file)
{
	char path[] = "/tmp/check_lb_log.XXXXXX";
	int fd = mkstemp(path), e = 0, i;
	struct lb_access_log *log;
	struct lb_access_buf b;
	struct lb_access_rec r;
	char *data = malloc(4 << 20);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	log = lb_access_log_open(path, LB_ACCESS_COMBINED, &e);
	ck_assert_ptr_nonnull(log);
	ck_assert_int_eq(lb_access_buf_init(&b, log), 0);
	rec_init(&r);
	for (i = 0; i < 5000; i++)
		lb_access_buf_add(&b, &r);
	lb_access_buf_release(&b);
	lb_access_buf_release(&b);   /* idempotent */
	ck_assert_uint_eq(lb_access_log_dropped(log), 0);
	lb_access_log_free(log);
	n = read(fd, data, 4 << 20);
	ck_assert_int_gt(n, 0);
	ck_assert_uint_eq(count_lines(data, (size_t)n), 5000);
	ck_assert_uint_eq((size_t)n % strlen(line(LB_ACCESS_COMBINED, &r)), 0);
	close(fd);
	unlink(path);
	free(data);

	ck_assert_ptr_null(lb_access_log_open("/nonexistent/dir/log",
					      LB_ACCESS_COMMON, &e));
	ck_assert_int_eq(e, -ENOENT);
	ck_assert_ptr_null(lb_access_log_open("", LB_ACCESS_COMMON, &e));
	ck_assert_int_eq(e, -EINVAL);
}
END_TEST

START_TEST(test_buffer_to_pipe)
{
	int p[2], saved, i;
	struct lb_access_log *log;
	struct lb_access_buf b;
	struct lb_access_rec r;
	char buf[16384];
	size_t total = 0, lines = 0;
	ssize_t n;

	ck_assert_int_eq(pipe(p), 0);
	saved = dup(STDOUT_FILENO);
	dup2(p[1], STDOUT_FILENO);
	close(p[1]);
	log = lb_access_log_open("stdout", LB_ACCESS_COMMON, NULL);
	ck_assert_ptr_nonnull(log);
	lb_access_buf_init(&b, log);
	rec_init(&r);
	for (i = 0; i < 100; i++)
		lb_access_buf_add(&b, &r);
	lb_access_buf_flush(&b);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	/* more than PIPE_BUF went through in whole-line pieces */
	while ((n = read(p[0], buf, sizeof(buf))) > 0) {
		ck_assert_int_eq(buf[n - 1], '\n');
		total += (size_t)n;
		lines += count_lines(buf, (size_t)n);
	}
	ck_assert_uint_eq(lines, 100);
	ck_assert_uint_eq(total, 100 * strlen(line(LB_ACCESS_COMMON, &r)));
	close(p[0]);
	lb_access_buf_release(&b);
	lb_access_log_free(log);
}
END_TEST

static int calls;
static char last[256];

static void
capture(enum lb_log_level level, const char *l, void *arg)
{
	(void)level;
	(void)arg;
	calls++;
	snprintf(last, sizeof(last), "%s", l);
}

static int formatted;

static const char *
costly(void)
{
	formatted++;
	return "x";
}

START_TEST(test_diagnostics)
{
	struct lb_logger lg = {capture, NULL, LB_LOG_WARN};

	calls = formatted = 0;
	LB_LOG(&lg, LB_LOG_INFO, "event=%s", costly());
	ck_assert_int_eq(calls, 0);
	ck_assert_int_eq(formatted, 0);   /* not even formatted */
	LB_LOG(&lg, LB_LOG_ERROR, "event=%s n=%d", costly(), 7);
	ck_assert_int_eq(calls, 1);
	ck_assert_str_eq(last, "event=x n=7");
	lg.fn = NULL;
	LB_LOG(&lg, LB_LOG_ERROR, "event=%s", costly());
	ck_assert_int_eq(calls, 1);
	ck_assert_str_eq(lb_log_level_name(LB_LOG_WARN), "warn");
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("lb_log");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_common);
	tcase_add_test(tc, test_combined);
	tcase_add_test(tc, test_json);
	tcase_add_test(tc, test_long_fields);
	tcase_add_test(tc, test_format_names);
	tcase_add_test(tc, test_buffer_to_file);
	tcase_add_test(tc, test_buffer_to_pipe);
	tcase_add_test(tc, test_diagnostics);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_main_run(suite());
}
