/*
 * check_devreg_decode.c - registration bodies as Consul's decoder reads
 * them: any key case, snake_case aliases, nulls, Go durations (strings and
 * nanosecond numbers), wrong types, strict mode; and the validation that
 * follows decoding, with Consul's messages.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devregistry/devreg_decode.h"
#include "tests/check_main.h"

static struct devreg_service_def *
svc_ok(const char *json, int strict)
{
	struct devreg_service_def *d = NULL;
	char err[512] = "";

	ck_assert_msg(devreg_decode_service(json, strlen(json), strict, &d, err,
					    sizeof(err)) == 0, "%s: %s", json, err);
	ck_assert_ptr_nonnull(d);
	return d;
}

static void
svc_fails(const char *json, int strict, const char *want)
{
	struct devreg_service_def *d = NULL;
	char err[512] = "";

	ck_assert_int_eq(devreg_decode_service(json, json != NULL ? strlen(json) : 0,
					       strict, &d, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(d);
	ck_assert_str_eq(err, want);
}

static void
invalid_is(const char *json, const char *want)
{
	struct devreg_service_def *d = svc_ok(json, 0);
	char err[512] = "";

	ck_assert_int_eq(devreg_service_def_validate(d, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, want);
	devreg_service_def_free(d);
}

START_TEST(python_lowercase_keys)
{
	struct devreg_service_def *d = svc_ok(
		"{\"name\": \"web\", \"id\": \"web1\", \"address\": \"127.0.0.1\","
		" \"port\": 8080, \"tags\": [\"a\", \"urlprefix-/web\"],"
		" \"check\": {\"http\": \"http://127.0.0.1:8080/health\", \"interval\": \"10s\","
		" \"timeout\": \"1s\", \"DeregisterCriticalServiceAfter\": \"1m\"},"
		" \"enabletagoverride\": true}", 1);

	ck_assert_str_eq(d->name, "web");
	ck_assert_str_eq(d->id, "web1");
	ck_assert_int_eq(d->port, 8080);
	ck_assert_int_eq(d->ntags, 2);
	ck_assert_str_eq(d->tags[1], "urlprefix-/web");
	ck_assert_int_eq(d->enable_tag_override, 1);
	ck_assert_int_eq(d->nchecks, 1);
	ck_assert_str_eq(d->checks[0]->http, "http://127.0.0.1:8080/health");
	ck_assert_int_eq(d->checks[0]->interval, 10000000000LL);
	ck_assert_int_eq(d->checks[0]->timeout, 1000000000LL);
	ck_assert_int_eq(d->checks[0]->deregister_after, 60000000000LL);
	ck_assert_int_eq(devreg_check_def_type(d->checks[0]), DEVREG_CT_HTTP);
	devreg_service_def_free(d);
}
END_TEST

START_TEST(snake_case_aliases)
{
	struct devreg_service_def *d = svc_ok(
		"{\"Name\": \"w\", \"enable_tag_override\": true,"
		" \"tagged_addresses\": {\"lan\": {\"address\": \"10.0.0.1\", \"port\": 81}},"
		" \"Checks\": [{\"ttl\": \"15s\", \"deregister_critical_service_after\": \"2m\"},"
		"  {\"args\": [\"/bin/true\"], \"interval\": \"5s\", \"docker_container_id\": \"c1\"},"
		"  {\"script_args\": [\"/bin/x\"], \"interval\": \"5s\", \"tls_skip_verify\": true,"
		"   \"tls_server_name\": \"n\", \"grpc_use_tls\": true, \"ServiceID\": \"ignored\"}]}", 1);

	ck_assert_int_eq(d->enable_tag_override, 1);
	ck_assert_int_eq(d->ntaddrs, 1);
	ck_assert_str_eq(d->taddrs[0].key, "lan");
	ck_assert_str_eq(d->taddrs[0].address, "10.0.0.1");
	ck_assert_int_eq(d->taddrs[0].port, 81);
	ck_assert_int_eq(d->nchecks, 3);
	ck_assert_int_eq(d->checks[0]->deregister_after, 120000000000LL);
	ck_assert_int_eq(devreg_check_def_type(d->checks[0]), DEVREG_CT_TTL);
	ck_assert_int_eq(devreg_check_def_type(d->checks[1]), DEVREG_CT_DOCKER);
	ck_assert_str_eq(d->checks[2]->args[0], "/bin/x");
	ck_assert_int_eq(d->checks[2]->tls_skip_verify, 1);
	ck_assert_str_eq(d->checks[2]->tls_server_name, "n");
	ck_assert_int_eq(d->checks[2]->grpc_use_tls, 1);
	ck_assert_int_eq(devreg_check_def_type(d->checks[2]), DEVREG_CT_SCRIPT);
	devreg_service_def_free(d);
}
END_TEST

START_TEST(nulls_leave_fields_unset)
{
	struct devreg_service_def *d = svc_ok(
		"{\"Name\": \"w\", \"ID\": null, \"Tags\": null, \"Meta\": null, \"Weights\": null,"
		" \"Check\": null, \"Checks\": null, \"TaggedAddresses\": null, \"Port\": null,"
		" \"Proxy\": null, \"Connect\": null, \"Address\": null}", 1);

	ck_assert_ptr_null(d->id);
	ck_assert_int_eq(d->ntags, 0);
	ck_assert_int_eq(d->nmeta, 0);
	ck_assert_int_eq(d->has_weights, 0);
	ck_assert_int_eq(d->nchecks, 0);
	ck_assert_int_eq(devreg_service_def_validate(d, (char[64]){ 0 }, 64), 0);
	ck_assert_int_eq(devreg_service_def_apply_defaults(d), 0);
	ck_assert_str_eq(d->id, "w");
	ck_assert_int_eq(d->weight_passing, 1);
	ck_assert_int_eq(d->weight_warning, 1);
	devreg_service_def_free(d);

	/* A whole null body decodes to nothing, and then misses its name. */
	invalid_is("null", "Missing service name");
	/* null inside lists and maps reads as the zero value. */
	d = svc_ok("{\"Name\": \"w\", \"Tags\": [null, \"a\"], \"Meta\": {\"k\": null},"
		   " \"Checks\": [null, {\"TTL\": \"1s\"}]}", 0);
	ck_assert_int_eq(d->ntags, 2);
	ck_assert_str_eq(d->tags[0], "");
	ck_assert_str_eq(d->meta[0].value, "");
	ck_assert_int_eq(d->nchecks, 1);
	devreg_service_def_free(d);
}
END_TEST

START_TEST(durations_as_numbers_and_strings)
{
	struct devreg_service_def *d = svc_ok(
		"{\"Name\": \"w\", \"Check\": {\"TTL\": 15000000000, \"Timeout\": true},"
		" \"Checks\": [{\"tcp\": \"127.0.0.1:1\", \"Interval\": \"1m0s\"}]}", 0);

	ck_assert_int_eq(d->checks[0]->ttl, 15000000000LL);
	/* Consul ignores a duration of any other JSON type. */
	ck_assert_int_eq(d->checks[0]->timeout, 0);
	ck_assert_int_eq(d->checks[1]->interval, 60000000000LL);
	devreg_service_def_free(d);
	svc_fails("{\"Name\": \"w\", \"Check\": {\"TTL\": \"15\"}}", 0,
		  "time: missing unit in duration \"15\"");
	svc_fails("{\"Name\": \"w\", \"Check\": {\"Interval\": \"soon\", \"HTTP\": \"x\"}}", 0,
		  "time: invalid duration \"soon\"");
}
END_TEST

START_TEST(wrong_types_are_errors)
{
	svc_fails("{\"Name\": \"w\", \"Port\": \"80\"}", 0,
		  "json: cannot unmarshal string into Go struct field ServiceDefinition.Port of type int");
	svc_fails("{\"Name\": \"w\", \"Port\": 80.5}", 0,
		  "json: cannot unmarshal number 80.5 into Go struct field ServiceDefinition.Port of type int");
	svc_fails("{\"Name\": 7}", 0,
		  "json: cannot unmarshal number into Go struct field ServiceDefinition.Name of type string");
	svc_fails("{\"Name\": \"w\", \"Tags\": \"a,b\"}", 0,
		  "json: cannot unmarshal string into Go struct field ServiceDefinition.Tags of type []string");
	svc_fails("{\"Name\": \"w\", \"Tags\": [1]}", 0,
		  "json: cannot unmarshal number into Go struct field ServiceDefinition.Tags of type string");
	svc_fails("{\"Name\": \"w\", \"Meta\": {\"a\": 1}}", 0,
		  "json: cannot unmarshal number into Go struct field ServiceDefinition.Meta of type string");
	svc_fails("{\"Name\": \"w\", \"EnableTagOverride\": \"yes\"}", 0,
		  "json: cannot unmarshal string into Go struct field ServiceDefinition.EnableTagOverride of type bool");
	svc_fails("{\"Name\": \"w\", \"Check\": \"ttl\"}", 0,
		  "json: cannot unmarshal string into Go struct field ServiceDefinition.Check of type structs.CheckType");
	svc_fails("{\"Name\": \"w\", \"Checks\": {}}", 0,
		  "json: cannot unmarshal object into Go struct field ServiceDefinition.Checks of type structs.CheckTypes");
	svc_fails("{\"Name\": \"w\", \"Check\": {\"HTTP\": 5}}", 0,
		  "json: cannot unmarshal number into Go struct field CheckType.HTTP of type string");
	svc_fails("{\"Name\": \"w\", \"Weights\": {\"Passing\": \"1\"}}", 0,
		  "json: cannot unmarshal string into Go struct field Weights.Passing of type int");
	svc_fails("{\"Name\": \"w\", \"Check\": {\"Header\": {\"X\": \"y\"}}}", 0,
		  "json: cannot unmarshal string into Go struct field CheckType.Header of type []string");
	svc_fails("[1, 2]", 0,
		  "json: cannot unmarshal array into Go value of type structs.ServiceDefinition");
	svc_fails("\"web\"", 0,
		  "json: cannot unmarshal string into Go value of type structs.ServiceDefinition");
}
END_TEST

START_TEST(syntax_errors)
{
	svc_fails("", 0, "EOF");
	svc_fails(NULL, 0, "EOF");
	svc_fails("  \n", 0, "EOF");
	svc_fails("{\"Name\":", 0, "unexpected EOF");
	svc_fails("{\"Name\": \"w\"", 0, "unexpected EOF");
	svc_fails("{\"Name\": }", 0, "invalid character '}' looking for beginning of value");
	svc_fails("xyz", 0, "invalid character 'x' looking for beginning of value");
}
END_TEST

START_TEST(strict_rejects_unknown_fields)
{
	struct devreg_service_def *d = svc_ok("{\"Name\": \"w\", \"Foo\": {\"deep\": [1]}}", 0);

	devreg_service_def_free(d);
	svc_fails("{\"Name\": \"w\", \"Foo\": 1}", 1, "json: unknown field \"Foo\"");
	svc_fails("{\"Name\": \"w\", \"Check\": {\"script\": \"/x\", \"interval\": \"1s\"}}", 1,
		  "json: unknown field \"script\"");
	svc_fails("{\"Name\": \"w\", \"Weights\": {\"Passing\": 1, \"Heavy\": 2}}", 1,
		  "json: unknown field \"Heavy\"");
	/* Consul's own fields pass in strict mode even when unused here. */
	d = svc_ok("{\"Name\": \"w\", \"Kind\": \"\", \"Token\": \"t\", \"Proxy\": null,"
		   " \"Connect\": null, \"SocketPath\": \"\", \"Locality\": null}", 1);
	devreg_service_def_free(d);
}
END_TEST

START_TEST(check_and_checks_merge_in_order)
{
	struct devreg_service_def *d = svc_ok(
		"{\"Name\": \"w\", \"Check\": {\"CheckID\": \"first\", \"TTL\": \"1s\"},"
		" \"Checks\": [{\"CheckID\": \"second\", \"TTL\": \"1s\"}]}", 0);

	ck_assert_int_eq(d->nchecks, 2);
	ck_assert_str_eq(d->checks[0]->id, "first");
	ck_assert_str_eq(d->checks[1]->id, "second");
	devreg_service_def_free(d);
	/* An empty Check object is no check at all ... */
	d = svc_ok("{\"Name\": \"w\", \"Check\": {}}", 0);
	ck_assert_int_eq(d->nchecks, 0);
	devreg_service_def_free(d);
	/* ... but an empty Checks element is one, and an invalid one. */
	invalid_is("{\"Name\": \"w\", \"Checks\": [{}]}",
		   "Invalid check: TTL must be > 0 for TTL checks");
}
END_TEST

START_TEST(validation_messages)
{
	invalid_is("{\"ID\": \"x\"}", "Missing service name");
	invalid_is("{\"Name\": \"w\", \"Address\": \"0.0.0.0\"}", "Invalid service address");
	invalid_is("{\"Name\": \"w\", \"Address\": \"::\"}", "Invalid service address");
	invalid_is("{\"Name\": \"w\", \"Weights\": {\"Passing\": 0, \"Warning\": 1}}",
		   "Invalid Weights: Passing must be greater than 0");
	invalid_is("{\"Name\": \"w\", \"Weights\": {\"Passing\": 1, \"Warning\": -1}}",
		   "Invalid Weights: Warning must be greater or equal than 0");
	invalid_is("{\"Name\": \"w\", \"Weights\": {\"Passing\": 70000, \"Warning\": 1}}",
		   "Invalid Weights: DNS Weight must be between 0 and 65535");
	invalid_is("{\"Name\": \"w\", \"Meta\": {\"consul-x\": \"1\"}}",
		   "Invalid Service Meta: Couldn't load metadata pair ('consul-x', '1'): Key prefix 'consul-' is reserved for internal use");
	invalid_is("{\"Name\": \"w\", \"Meta\": {\"a b\": \"1\"}}",
		   "Invalid Service Meta: Couldn't load metadata pair ('a b', '1'): Key contains invalid characters");
	invalid_is("{\"Name\": \"w\", \"Check\": {\"TTL\": \"1s\", \"Interval\": \"1s\"}}",
		   "Invalid check: Interval and TTL cannot both be specified");
	invalid_is("{\"Name\": \"w\", \"Check\": {\"HTTP\": \"http://x\"}}",
		   "Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks");
	invalid_is("{\"Name\": \"w\", \"Check\": {\"TTL\": \"1s\", \"FailuresBeforeWarning\": 2}}",
		   "Invalid check: FailuresBeforeWarning can't be higher than FailuresBeforeCritical");
	invalid_is("{\"Name\": \"w\", \"Check\": {\"TTL\": \"1s\", \"Status\": \"ok\"}}",
		   "Status for checks must 'passing', 'warning', 'critical'");
}
END_TEST

START_TEST(tagged_address_defaults)
{
	struct devreg_service_def *d = svc_ok(
		"{\"Name\": \"w\", \"Address\": \"10.1.2.3\", \"Port\": 80,"
		" \"TaggedAddresses\": {\"wan_ipv4\": {\"Address\": \"1.2.3.4\", \"Port\": 8080}}}", 0);

	ck_assert_int_eq(devreg_service_def_apply_defaults(d), 0);
	ck_assert_int_eq(d->ntaddrs, 2);
	ck_assert_str_eq(d->taddrs[0].key, "wan_ipv4");
	ck_assert_str_eq(d->taddrs[0].address, "1.2.3.4");
	ck_assert_str_eq(d->taddrs[1].key, "lan_ipv4");
	ck_assert_str_eq(d->taddrs[1].address, "10.1.2.3");
	ck_assert_int_eq(d->taddrs[1].port, 80);
	devreg_service_def_free(d);
	d = svc_ok("{\"Name\": \"w\", \"Address\": \"::1\", \"Port\": 80}", 0);
	ck_assert_int_eq(devreg_service_def_apply_defaults(d), 0);
	ck_assert_int_eq(d->ntaddrs, 2);
	ck_assert_str_eq(d->taddrs[0].key, "lan_ipv6");
	ck_assert_str_eq(d->taddrs[1].key, "wan_ipv6");
	devreg_service_def_free(d);
	d = svc_ok("{\"Name\": \"w\", \"Address\": \"web.internal\"}", 0);
	ck_assert_int_eq(devreg_service_def_apply_defaults(d), 0);
	ck_assert_int_eq(d->ntaddrs, 0);
	devreg_service_def_free(d);
}
END_TEST

START_TEST(check_definition_bodies)
{
	struct devreg_check_def *c = NULL;
	char *st = NULL, *out = NULL;
	char err[512];
	const char *py = "{\"name\": \"mem\", \"ttl\": \"10s\", \"id\": \"mem1\","
			 " \"notes\": \"n\", \"serviceid\": \"web1\"}";
	const char *snake = "{\"Name\": \"c\", \"service_id\": \"web2\", \"TCP\": \"h:1\","
			    " \"Interval\": 1000000000}";

	ck_assert_int_eq(devreg_decode_check(py, strlen(py), 1, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c->name, "mem");
	ck_assert_str_eq(c->id, "mem1");
	ck_assert_str_eq(c->notes, "n");
	ck_assert_str_eq(c->service_id, "web1");
	ck_assert_int_eq(c->ttl, 10000000000LL);
	devreg_check_def_free(c);
	ck_assert_int_eq(devreg_decode_check(snake, strlen(snake), 1, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c->service_id, "web2");
	ck_assert_int_eq(devreg_check_def_type(c), DEVREG_CT_TCP);
	devreg_check_def_free(c);
	ck_assert_int_eq(devreg_decode_check("{\"Name\": 1}", 11, 0, &c, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err,
			 "json: cannot unmarshal number into Go struct field CheckDefinition.Name of type string");

	ck_assert_int_eq(devreg_decode_check_update("{\"Status\": \"passing\", \"Output\": \"ok\"}",
						    37, 1, &st, &out, err, sizeof(err)), 0);
	ck_assert_str_eq(st, "passing");
	ck_assert_str_eq(out, "ok");
	free(st);
	free(out);
	ck_assert_int_eq(devreg_decode_check_update("{\"status\": \"warning\"}", 21, 0, &st,
						    &out, err, sizeof(err)), 0);
	ck_assert_str_eq(st, "warning");
	ck_assert_ptr_null(out);
	free(st);
	ck_assert_int_eq(devreg_decode_check_update("{\"Status\": 3}", 13, 0, &st, &out, err,
						    sizeof(err)), -EINVAL);
	ck_assert_str_eq(err,
			 "json: cannot unmarshal number into Go struct field checkUpdate.Status of type string");
	ck_assert_int_eq(devreg_decode_check_update("{\"Note\": \"x\"}", 13, 1, &st, &out, err,
						    sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "json: unknown field \"Note\"");
}
END_TEST

START_TEST(deep_and_huge_input_does_not_crash)
{
	size_t n = 200000;
	char *big = malloc(n + 64), *p = big;
	struct devreg_service_def *d = NULL;
	char err[512];

	p += sprintf(p, "{\"Name\": \"w\", \"Tags\": [");
	for (size_t i = 0; i < 20000; i++)
		p += sprintf(p, "%s\"t%zu\"", i ? "," : "", i);
	p += sprintf(p, "]}");
	ck_assert_int_eq(devreg_decode_service(big, strlen(big), 0, &d, err, sizeof(err)), 0);
	ck_assert_int_eq(d->ntags, 20000);
	devreg_service_def_free(d);
	/* Nesting deeper than cJSON's limit is a syntax error, not a crash. */
	memset(big, '[', n);
	ck_assert_int_eq(devreg_decode_service(big, n, 0, &d, err, sizeof(err)), -EINVAL);
	free(big);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("devreg_decode");
	TCase *tc = tcase_create("decode");

	tcase_add_test(tc, python_lowercase_keys);
	tcase_add_test(tc, snake_case_aliases);
	tcase_add_test(tc, nulls_leave_fields_unset);
	tcase_add_test(tc, durations_as_numbers_and_strings);
	tcase_add_test(tc, wrong_types_are_errors);
	tcase_add_test(tc, syntax_errors);
	tcase_add_test(tc, strict_rejects_unknown_fields);
	tcase_add_test(tc, check_and_checks_merge_in_order);
	tcase_add_test(tc, validation_messages);
	tcase_add_test(tc, tagged_address_defaults);
	tcase_add_test(tc, check_definition_bodies);
	tcase_add_test(tc, deep_and_huge_input_does_not_crash);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_main_run(suite());
}
