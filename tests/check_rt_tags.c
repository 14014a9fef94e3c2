/*
 * check_rt_tags.c - fabio's urlprefix- tags into route commands
 * (rt_tags_commands), including the worked example of fabio.md §2.7.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routes/rt_cmd.h"
#include "routes/rt_parse.h"
#include "routes/rt_tags.h"
#include "tests/rt_cmd_testutil.h"

static struct rt_cmd_list list;

static void teardown(void)
{
	rt_cmd_list_clear(&list);
}

/* An instance web-1 on 10.0.0.1:8080 with the given tags. */
static struct rt_instance inst(const char *const *tags, size_t n)
{
	struct rt_instance in = {
		.service = "web", .instance = "web-1", .node = "node1",
		.address = "10.0.0.1", .node_address = "192.168.1.1",
		.port = 8080, .tags = tags, .ntags = n,
	};
	return in;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* rt_cmd_format of command i, compared with want. */
static void line_is(size_t i, const char *want)
{
	char *s;

	ck_assert_uint_gt(list.n, i);
	s = rt_cmd_format(&list.v[i]);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, want);
	free(s);
}

/* Every generated command, printed and read again, is the same command. */
static void round_trips(void)
{
	for (size_t i = 0; i < list.n; i++) {
		struct rt_cmd_list again = { 0 };
		char *s = rt_cmd_format(&list.v[i]);
		const char *diff;

		ck_assert_int_eq(rt_parse(s, strlen(s), &again), 0);
		ck_assert_msg(again.nerrs == 0, "%s: %s", s,
			      again.nerrs ? again.errs[0].msg : "");
		ck_assert_uint_eq(again.n, 1);
		diff = rt_test_cmd_diff(&list.v[i], &again.v[0]);
		ck_assert_msg(diff == NULL, "%s differs after: %s", diff, s);
		rt_cmd_list_clear(&again);
		free(s);
	}
}

/* The single error so far: field, and a message naming ID and tag. */
static void error_is(size_t i, const char *field, const char *want)
{
	ck_assert_uint_gt(list.nerrs, i);
	ck_assert_uint_eq(list.errs[i].line, 0);
	ck_assert_msg(strcmp(list.errs[i].field, field) == 0, "field %s, want %s (%s)",
		      list.errs[i].field, field, list.errs[i].msg);
	ck_assert_msg(strstr(list.errs[i].msg, want) != NULL,
		      "\"%s\" lacks \"%s\"", list.errs[i].msg, want);
	ck_assert_ptr_nonnull(strstr(list.errs[i].msg, "web-1"));
	ck_assert_ptr_nonnull(strstr(list.errs[i].msg, "tag \""));
}

/* fabio.md §2.7: instances A and B, then the whole text with the KV line. */
START_TEST(worked_example)
{
	static const char *const a_tags[] = { "urlprefix-example.com/app strip=/app", "v2" };
	static const char *const b_tags[] = { "urlprefix-example.com/app strip=/app", "canary" };
	struct rt_instance a = inst(a_tags, 2), b = inst(b_tags, 2);
	const char *text =
		"route add web example.com/app http://10.0.0.2:8080/ tags \"canary\" opts \"strip=/app\"\n"
		"route add web example.com/app http://10.0.0.1:8080/ tags \"v2\" opts \"strip=/app\"\n"
		"\n"
		"# --- fabio/config/canary\n"
		"route weight web example.com/app weight 0.1 tags \"canary\"\n";
	struct rt_cmd_list parsed = { 0 };

	a.instance = "web-a";
	b.instance = "web-b";
	b.address = "10.0.0.2";
	/* generated lines come reverse-sorted: B first */
	ck_assert_int_eq(rt_tags_commands(&b, "urlprefix-", "dc1", &list), 0);
	ck_assert_int_eq(rt_tags_commands(&a, "urlprefix-", "dc1", &list), 0);
	ck_assert_uint_eq(list.nerrs, 0);
	ck_assert_uint_eq(list.n, 2);
	line_is(0, "route add web example.com/app http://10.0.0.2:8080/ tags \"canary\" opts \"strip=/app\"");
	line_is(1, "route add web example.com/app http://10.0.0.1:8080/ tags \"v2\" opts \"strip=/app\"");
	ck_assert_str_eq(list.v[0].instance, "web-b");
	ck_assert_str_eq(list.v[0].host, "example.com");
	ck_assert_str_eq(list.v[0].path, "/app");
	ck_assert_str_eq(list.v[0].opts.strip, "/app");
	round_trips();

	ck_assert_int_eq(rt_parse(text, strlen(text), &parsed), 0);
	ck_assert_uint_eq(parsed.nerrs, 0);
	ck_assert_uint_eq(parsed.n, 3);
	ck_assert_uint_eq(parsed.v[2].line, 5);
	ck_assert_int_eq(parsed.v[2].kind, RT_CMD_WEIGHT);
	ck_assert_str_eq(parsed.v[2].service, "web");
	ck_assert_str_eq(parsed.v[2].host, "example.com");
	ck_assert_str_eq(parsed.v[2].path, "/app");
	ck_assert_double_eq(parsed.v[2].weight, 0.1);
	ck_assert_uint_eq(parsed.v[2].ntags, 1);
	ck_assert_str_eq(parsed.v[2].tags[0], "canary");
	/* the generated commands and the text agree */
	for (size_t i = 0; i < 2; i++)
		ck_assert_ptr_null(rt_test_cmd_diff(&list.v[i], &parsed.v[i]));
	rt_cmd_list_clear(&parsed);
}
END_TEST

START_TEST(route_part_forms)
{
	static const char *const tags[] = {
		"urlprefix-Example.COM/Api/V1",
		"urlprefix-/path",
		"urlprefix-Host.Example.com",
		"urlprefix-:3306 proto=tcp",
		"  urlprefix-/padded\tstrip=/padded  ",
		"urlprefix-*.example.com/",
	};
	struct rt_instance in = inst(tags, N(tags));

	ck_assert_int_eq(rt_tags_commands(&in, NULL, NULL, &list), 0);
	ck_assert_uint_eq(list.nerrs, 0);
	ck_assert_uint_eq(list.n, 6);
	ck_assert_str_eq(list.v[0].host, "example.com");
	ck_assert_str_eq(list.v[0].path, "/Api/V1");      /* path case kept */
	ck_assert_str_eq(list.v[1].host, "");
	ck_assert_str_eq(list.v[1].path, "/path");
	ck_assert_str_eq(list.v[2].host, "host.example.com");
	ck_assert_str_eq(list.v[2].path, "/");
	line_is(3, "route add web :3306 tcp://10.0.0.1:8080");
	ck_assert_str_eq(list.v[3].host, ":3306");
	ck_assert_str_eq(list.v[3].path, "");
	ck_assert_int_eq(list.v[3].opts.proto, RT_PROTO_TCP);
	ck_assert_ptr_null(list.v[3].opts.raw);
	line_is(4, "route add web /padded http://10.0.0.1:8080/ opts \"strip=/padded\"");
	ck_assert_str_eq(list.v[5].host, "*.example.com");
	for (size_t i = 0; i < list.n; i++) {
		ck_assert_int_eq(list.v[i].kind, RT_CMD_ADD);
		ck_assert_uint_eq(list.v[i].line, 0);
		ck_assert_str_eq(list.v[i].instance, "web-1");
		ck_assert_uint_eq(list.v[i].ntags, 0);
	}
	round_trips();
}
END_TEST

START_TEST(dc_expansion)
{
	static const char *const tags[] = {
		"urlprefix-$DC.Example.com/$DC/x",
		"urlprefix-${DC}.example.com/${DC}",
		"urlprefix-/$DCX/$D/${dc}/$",
	};
	struct rt_instance in = inst(tags, N(tags));

	ck_assert_int_eq(rt_tags_commands(&in, "urlprefix-", "EU-West", &list), 0);
	ck_assert_uint_eq(list.n, 3);
	ck_assert_str_eq(list.v[0].host, "eu-west.example.com");
	ck_assert_str_eq(list.v[0].path, "/EU-West/x");
	ck_assert_str_eq(list.v[1].src, "eu-west.example.com/EU-West");
	ck_assert_str_eq(list.v[2].path, "/$DCX/$D/${dc}/$");
	rt_cmd_list_clear(&list);

	/* no datacenter known: left as written */
	ck_assert_int_eq(rt_tags_commands(&in, "urlprefix-", NULL, &list), 0);
	ck_assert_str_eq(list.v[0].host, "$dc.example.com");
	ck_assert_str_eq(list.v[0].path, "/$DC/x");
	round_trips();
}
END_TEST

START_TEST(options_in_tags)
{
	static const char *const tags[] = {
		"urlprefix-/w weight=0.05",
		"urlprefix-/r redirect=301,https://x.com$path",
		"urlprefix-/s proto=https tlsskipverify=true host=dst",
		"urlprefix-/g proto=grpcs",
		"urlprefix-/h proto=http strip=/h prepend=/v2",
		"urlprefix-/a allow=ip:10.0.0.0/8,ip:fe80::/10 register=alias check=/health auth=x",
	};
	struct rt_instance in = inst(tags, N(tags));

	ck_assert_int_eq(rt_tags_commands(&in, NULL, "dc1", &list), 0);
	ck_assert_uint_eq(list.nerrs, 0);
	ck_assert_uint_eq(list.n, 6);
	line_is(0, "route add web /w http://10.0.0.1:8080/ weight 0.05");
	ck_assert_int_eq(list.v[0].has_weight, 1);
	ck_assert_double_eq(list.v[0].weight, 0.05);
	ck_assert_ptr_null(list.v[0].opts.raw);

	line_is(1, "route add web /r https://x.com$path opts \"redirect=301\"");
	ck_assert_int_eq(list.v[1].opts.redirect_code, 301);
	ck_assert_str_eq(list.v[1].opts.redirect_url, "https://x.com$path");
	ck_assert_int_eq(list.v[1].opts.proto, RT_PROTO_HTTPS);

	line_is(2, "route add web /s https://10.0.0.1:8080 opts \"tlsskipverify=true host=dst\"");
	ck_assert_int_eq(list.v[2].opts.proto, RT_PROTO_HTTPS);
	ck_assert_int_eq(list.v[2].opts.tlsskipverify, 1);
	line_is(3, "route add web /g grpcs://10.0.0.1:8080");
	line_is(4, "route add web /h http://10.0.0.1:8080/ opts \"proto=http strip=/h prepend=/v2\"");
	ck_assert_str_eq(list.v[4].opts.prepend, "/v2");
	ck_assert_uint_eq(list.v[5].opts.nallow, 2);
	ck_assert_str_eq(list.v[5].opts.register_name, "alias");
	ck_assert_str_eq(list.v[5].opts.check, "/health");
	ck_assert_ptr_nonnull(strstr(list.v[5].opts.raw, "auth=x"));
	round_trips();
}
END_TEST

START_TEST(bad_tags_reported_others_kept)
{
	static const char *const tags[] = {
		"urlprefix-/ok1",
		"urlprefix-/r redirect=999,https://x/",
		"urlprefix-/r2 redirect=301",
		"urlprefix-/w weight=abc",
		"urlprefix-/w2 weight=-1",
		"urlprefix-/p proto=ftp",
		"urlprefix-/c allow=ip:300.0.0.1",
		"urlprefix-/c2 allow=ip:1.2.3.4 deny=ip:5.6.7.8",
		"urlprefix-",
		"urlprefix-:99999 proto=tcp",
		"urlprefix-/u redirect=302,not-a-url",
		"urlprefix-/ok2 strip=/ok2",
	};
	struct rt_instance in = inst(tags, N(tags));

	ck_assert_int_eq(rt_tags_commands(&in, NULL, NULL, &list), 0);
	ck_assert_uint_eq(list.n, 2);
	ck_assert_str_eq(list.v[0].path, "/ok1");
	ck_assert_str_eq(list.v[1].path, "/ok2");
	ck_assert_uint_eq(list.nerrs, 10);
	error_is(0, "redirect", "300..399");
	error_is(1, "redirect", "CODE,URL");
	error_is(2, "weight", "not a number");
	error_is(3, "weight", "negative");
	error_is(4, "proto", "unknown protocol");
	error_is(5, "allow", "bad CIDR");
	error_is(6, "deny", "not supported");
	error_is(7, "route", "no route");
	error_is(8, "route", "port out of range");
	error_is(9, "redirect", "bad redirect URL");
	ck_assert_ptr_nonnull(strstr(list.errs[0].msg, "redirect=999"));
}
END_TEST

START_TEST(target_tags_and_prefix)
{
	static const char *const tags[] = {
		" v2 ", "urlprefix-/a", "", "canary", "lb-/b strip=/b", "  ",
		"a\"quote",
	};
	struct rt_instance in = inst(tags, N(tags));

	ck_assert_int_eq(rt_tags_commands(&in, NULL, NULL, &list), 0);
	ck_assert_uint_eq(list.n, 1);
	line_is(0, "route add web /a http://10.0.0.1:8080/ tags \"v2,canary,lb-/b strip=/b,a\\\"quote\"");
	round_trips();
	rt_cmd_list_clear(&list);

	/* another prefix: urlprefix- is then a plain tag */
	ck_assert_int_eq(rt_tags_commands(&in, "lb-", NULL, &list), 0);
	ck_assert_uint_eq(list.n, 1);
	line_is(0, "route add web /b http://10.0.0.1:8080/ tags \"v2,urlprefix-/a,canary,a\\\"quote\" opts \"strip=/b\"");
	round_trips();
	rt_cmd_list_clear(&list);

	/* no tags, or no route tags: nothing */
	in.ntags = 0;
	ck_assert_int_eq(rt_tags_commands(&in, NULL, NULL, &list), 0);
	ck_assert_uint_eq(list.n + list.nerrs, 0);
}
END_TEST

START_TEST(addresses)
{
	static const char *const tags[] = { "urlprefix-/a" };
	struct rt_instance in = inst(tags, 1);

	in.address = "";
	ck_assert_int_eq(rt_tags_commands(&in, NULL, NULL, &list), 0);
	line_is(0, "route add web /a http://192.168.1.1:8080/");
	in.address = NULL;
	ck_assert_int_eq(rt_tags_commands(&in, NULL, NULL, &list), 0);
	line_is(1, "route add web /a http://192.168.1.1:8080/");
	in.address = "::1";
	ck_assert_int_eq(rt_tags_commands(&in, NULL, NULL, &list), 0);
	line_is(2, "route add web /a http://[::1]:8080/");
	in.address = "[2001:db8::5]";
	ck_assert_int_eq(rt_tags_commands(&in, NULL, NULL, &list), 0);
	line_is(3, "route add web /a http://[2001:db8::5]:8080/");
	in.address = "fe80::1%eth0";
	ck_assert_int_eq(rt_tags_commands(&in, NULL, NULL, &list), 0);
	line_is(4, "route add web /a http://[fe80::1%eth0]:8080/");
	in.address = "App.Local";
	ck_assert_int_eq(rt_tags_commands(&in, NULL, NULL, &list), 0);
	line_is(5, "route add web /a http://App.Local:8080/");
	ck_assert_uint_eq(list.nerrs, 0);
	round_trips();

	in.address = "";
	in.node_address = "";
	ck_assert_int_eq(rt_tags_commands(&in, NULL, NULL, &list), 0);
	error_is(0, "address", "no service or node address");
	in.address = "10.0.0.1";
	in.port = 0;
	ck_assert_int_eq(rt_tags_commands(&in, NULL, NULL, &list), 0);
	error_is(1, "port", "port 0");
	in.port = 70000;
	ck_assert_int_eq(rt_tags_commands(&in, NULL, NULL, &list), 0);
	error_is(2, "port", "out of range");
	in.port = 80;
	in.address = "bad host";
	ck_assert_int_eq(rt_tags_commands(&in, NULL, NULL, &list), 0);
	error_is(3, "address", "bad address");
	in.address = "1::2::3";
	ck_assert_int_eq(rt_tags_commands(&in, NULL, NULL, &list), 0);
	error_is(4, "address", "bad IPv6");
	in.address = "10.0.0.1";
	in.service = "we b";
	ck_assert_int_eq(rt_tags_commands(&in, NULL, NULL, &list), 0);
	error_is(5, "service", "bad service name");
	ck_assert_uint_eq(list.n, 6);

	/* a redirect needs no address */
	{
		static const char *const rt[] = { "urlprefix-/r redirect=301,https://x/" };
		struct rt_instance r = inst(rt, 1);

		r.address = r.node_address = NULL;
		r.port = 0;
		ck_assert_int_eq(rt_tags_commands(&r, NULL, NULL, &list), 0);
		ck_assert_uint_eq(list.n, 7);
		ck_assert_str_eq(list.v[6].dst, "https://x/");
	}
}
END_TEST

/* An instance of a service that Consul holds down: every command it
 * gives carries the mark; the text form is the same as a live one's. */
START_TEST(consul_down_marks_every_command)
{
	const char *tags[] = { "urlprefix-/a", "v1", "urlprefix-b.com/ strip=/x",
			       "urlprefix-/bad weight=x" };
	struct rt_instance in = inst(tags, N(tags));

	in.consul_down = 1;
	ck_assert_int_eq(rt_tags_commands(&in, NULL, NULL, &list), 0);
	ck_assert_uint_eq(list.n, 2);
	ck_assert_uint_eq(list.nerrs, 1);
	for (size_t i = 0; i < list.n; i++)
		ck_assert_int_eq(list.v[i].consul_down, 1);
	line_is(0, "route add web /a http://10.0.0.1:8080/ tags \"v1\"");
	in.consul_down = 0;
	ck_assert_int_eq(rt_tags_commands(&in, NULL, NULL, &list), 0);
	ck_assert_uint_eq(list.n, 4);
	ck_assert_int_eq(list.v[2].consul_down, 0);
	ck_assert_int_eq(list.v[3].consul_down, 0);
}
END_TEST

/* The instance's Consul weight goes on every command it gives, survives
 * a copy, and is not written in the text form (which reads back as a
 * command from text: weight 0, counted as 1). */
START_TEST(consul_weight_on_every_command)
{
	const char *tags[] = { "urlprefix-/a", "v1", "urlprefix-b.com/ weight=0.2" };
	struct rt_instance in = inst(tags, N(tags));
	struct rt_cmd copy;

	in.consul_weight = 3;
	ck_assert_int_eq(rt_tags_commands(&in, NULL, NULL, &list), 0);
	ck_assert_uint_eq(list.n, 2);
	ck_assert_uint_eq(list.v[0].consul_weight, 3);
	ck_assert_uint_eq(list.v[1].consul_weight, 3);
	ck_assert_int_eq(list.v[1].has_weight, 1);
	line_is(0, "route add web /a http://10.0.0.1:8080/ tags \"v1\"");
	ck_assert_int_eq(rt_cmd_copy(&copy, &list.v[0]), 0);
	ck_assert_uint_eq(copy.consul_weight, 3);
	rt_cmd_clear(&copy);
	in.consul_weight = 0;
	ck_assert_int_eq(rt_tags_commands(&in, NULL, NULL, &list), 0);
	ck_assert_uint_eq(list.n, 4);
	ck_assert_uint_eq(list.v[2].consul_weight, 0);
	round_trips();
}
END_TEST

START_TEST(odd_tags_do_not_break_the_language)
{
	static const char *const tags[] = {
		"urlprefix-/a\"b strip=/x\"y",
		"urlprefix-\"quoted",
		"new\nline",
		"back\\slash\\",
		"urlprefix-/c\\x41",
	};
	struct rt_instance in = inst(tags, N(tags));

	ck_assert_int_eq(rt_tags_commands(&in, NULL, NULL, &list), 0);
	ck_assert_uint_eq(list.n, 2);
	ck_assert_uint_eq(list.nerrs, 1);
	ck_assert_str_eq(list.errs[0].field, "route");
	ck_assert_str_eq(list.v[0].opts.strip, "/x\"y");
	ck_assert_str_eq(list.v[1].path, "/c\\x41");
	line_is(0, "route add web /a\"b http://10.0.0.1:8080/ tags \"new\\x0aline,back\\slash\\\\\" opts \"strip=/x\\\"y\"");
	round_trips();
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("rt_tags");
	TCase *tc = tcase_create("tags");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, worked_example);
	tcase_add_test(tc, route_part_forms);
	tcase_add_test(tc, dc_expansion);
	tcase_add_test(tc, options_in_tags);
	tcase_add_test(tc, bad_tags_reported_others_kept);
	tcase_add_test(tc, target_tags_and_prefix);
	tcase_add_test(tc, addresses);
	tcase_add_test(tc, odd_tags_do_not_break_the_language);
	tcase_add_test(tc, consul_down_marks_every_command);
	tcase_add_test(tc, consul_weight_on_every_command);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
