/*
 * check_devreg_duration.c - Go durations: parsing with Go's error texts and
 * formatting as Duration.String() does.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "devregistry/devreg_duration.h"
#include "tests/check_main.h"

static int64_t
parse_ok(const char *s)
{
	int64_t ns = -12345;
	char err[160] = "";

	ck_assert_msg(devreg_duration_parse(s, &ns, err, sizeof(err)) == 0,
		      "%s: %s", s, err);
	return ns;
}

static void
parse_fails(const char *s, const char *want)
{
	int64_t ns = 0;
	char err[160] = "";

	ck_assert_int_lt(devreg_duration_parse(s, &ns, err, sizeof(err)), 0);
	ck_assert_str_eq(err, want);
}

START_TEST(parses_go_forms)
{
	ck_assert_int_eq(parse_ok("0"), 0);
	ck_assert_int_eq(parse_ok("-0"), 0);
	ck_assert_int_eq(parse_ok("10s"), INT64_C(10000000000));
	ck_assert_int_eq(parse_ok("1m0s"), INT64_C(60000000000));
	ck_assert_int_eq(parse_ok("1h30m"), INT64_C(5400000000000));
	ck_assert_int_eq(parse_ok("1.5s"), INT64_C(1500000000));
	ck_assert_int_eq(parse_ok(".5s"), INT64_C(500000000));
	ck_assert_int_eq(parse_ok("5.s"), INT64_C(5000000000));
	ck_assert_int_eq(parse_ok("300ms"), INT64_C(300000000));
	ck_assert_int_eq(parse_ok("100ns"), 100);
	ck_assert_int_eq(parse_ok("7us"), 7000);
	ck_assert_int_eq(parse_ok("7\xc2\xb5s"), 7000);   /* micro sign */
	ck_assert_int_eq(parse_ok("7\xce\xbcs"), 7000);   /* Greek mu */
	ck_assert_int_eq(parse_ok("-5s"), INT64_C(-5000000000));
	ck_assert_int_eq(parse_ok("+5s"), INT64_C(5000000000));
	ck_assert_int_eq(parse_ok("1h1m1s1ms1us1ns"), INT64_C(3661001001001));
	ck_assert_int_eq(parse_ok("2562047h47m16.854775807s"), INT64_MAX);
}
END_TEST

START_TEST(rejects_with_go_texts)
{
	parse_fails("", "time: invalid duration \"\"");
	parse_fails("10", "time: missing unit in duration \"10\"");
	parse_fails("1s10", "time: missing unit in duration \"1s10\"");
	parse_fails("10x", "time: unknown unit \"x\" in duration \"10x\"");
	parse_fails("10 s", "time: unknown unit \" s\" in duration \"10 s\"");
	parse_fails("abc", "time: invalid duration \"abc\"");
	parse_fails("s", "time: invalid duration \"s\"");
	parse_fails("-", "time: invalid duration \"-\"");
	parse_fails(".s", "time: invalid duration \".s\"");
	parse_fails("9999999999999h", "time: invalid duration \"9999999999999h\"");
	parse_fails("2562047h47m16.854775808s",
		    "time: invalid duration \"2562047h47m16.854775808s\"");
	parse_fails("1\"s", "time: unknown unit \"\\\"s\" in duration \"1\\\"s\"");
	parse_fails("1\x01s", "time: unknown unit \"\\x01s\" in duration \"1\\x01s\"");
}
END_TEST

static void
fmt_is(int64_t ns, const char *want)
{
	char buf[32];

	ck_assert_str_eq(devreg_duration_format(ns, buf, sizeof(buf)), want);
}

START_TEST(formats_like_go)
{
	fmt_is(0, "0s");
	fmt_is(1, "1ns");
	fmt_is(999, "999ns");
	fmt_is(1500, "1.5\xc2\xb5s");
	fmt_is(1500000, "1.5ms");
	fmt_is(300000000, "300ms");
	fmt_is(INT64_C(1000000000), "1s");
	fmt_is(INT64_C(1500000000), "1.5s");
	fmt_is(INT64_C(15000000000), "15s");
	fmt_is(INT64_C(60000000000), "1m0s");
	fmt_is(INT64_C(90000000000), "1m30s");
	fmt_is(INT64_C(3600000000000), "1h0m0s");
	fmt_is(INT64_C(-1000000000), "-1s");
	fmt_is(INT64_MAX, "2562047h47m16.854775807s");
	fmt_is(INT64_MIN, "-2562047h47m16.854775808s");
}
END_TEST

START_TEST(format_then_parse_round_trips)
{
	static const int64_t v[] = { 1, 1000, 1500000, INT64_C(59999999999),
				     INT64_C(86400000000000), INT64_C(-7200000000000) };
	char buf[32];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		ck_assert_int_eq(parse_ok(devreg_duration_format(v[i], buf, sizeof(buf))), v[i]);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("devreg_duration");
	TCase *tc = tcase_create("duration");

	tcase_add_test(tc, parses_go_forms);
	tcase_add_test(tc, rejects_with_go_texts);
	tcase_add_test(tc, formats_like_go);
	tcase_add_test(tc, format_then_parse_round_trips);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_main_run(suite());
}
