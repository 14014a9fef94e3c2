/*
 * check_devreg_wire.c - what goes on the wire: Go-style pretty JSON, valid
 * UTF-8 whatever a check's output holds, exact u64s, the record shapes Go
 * clients need (Definition {}, [] rather than null), and the URL
 * splitting behind HTTP checks (fabio's bracketed IPv4).
 */
#include <check.h>
#include <errno.h>
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "devregistry/devreg_decode.h"
#include "devregistry/devreg_jsonout.h"
#include "devregistry/devreg_probe.h"
#include "devregistry/devreg_render.h"
#include "devregistry/devreg_store.h"
#include "tests/check_main.h"

/* Serialise v (deleted afterwards) and return a new string. */
static char *
out(cJSON *v, int pretty)
{
	struct evbuffer *b = evbuffer_new();
	size_t n;
	char *s;

	ck_assert_int_eq(devreg_json_write(b, v, pretty), 0);
	n = evbuffer_get_length(b);
	s = malloc(n + 1);
	evbuffer_copyout(b, s, n);
	s[n] = '\0';
	evbuffer_free(b);
	cJSON_Delete(v);
	return s;
}

START_TEST(pretty_like_go)
{
	cJSON *o = cJSON_CreateObject(), *a;
	char *s;

	cJSON_AddNumberToObject(o, "Port", 8080);
	a = cJSON_AddArrayToObject(o, "Tags");
	cJSON_AddItemToArray(a, cJSON_CreateString("v1"));
	cJSON_AddArrayToObject(o, "Empty");
	cJSON_AddObjectToObject(o, "Definition");
	cJSON_AddNullToObject(o, "Coord");
	cJSON_AddBoolToObject(o, "On", 1);
	s = out(o, 1);
	ck_assert_str_eq(s, "{\n    \"Port\": 8080,\n    \"Tags\": [\n        \"v1\"\n    ],\n"
			    "    \"Empty\": [],\n    \"Definition\": {},\n    \"Coord\": null,\n"
			    "    \"On\": true\n}\n");
	free(s);
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "a", 1);
	s = out(o, 0);
	ck_assert_str_eq(s, "{\"a\":1}");
	free(s);
	s = out(cJSON_CreateBool(1), 1);
	ck_assert_str_eq(s, "true\n");
	free(s);
}
END_TEST

START_TEST(strings_are_valid_utf8)
{
	char *s = out(cJSON_CreateString("ok \"q\" \\ \n\t\x01 caf\xc3\xa9 \xff\xfe \xe2\x82 end"), 0);

	ck_assert_str_eq(s, "\"ok \\\"q\\\" \\\\ \\n\\t\\u0001 caf\xc3\xa9 \\ufffd\\ufffd \\ufffd\\ufffd end\"");
	free(s);
	/* Overlong and surrogate encodings are not valid either. */
	s = out(cJSON_CreateString("\xc0\xaf \xed\xa0\x80"), 0);
	ck_assert_str_eq(s, "\"\\ufffd\\ufffd \\ufffd\\ufffd\\ufffd\"");
	free(s);
}
END_TEST

START_TEST(u64_exact)
{
	cJSON *o = cJSON_CreateObject();
	char *s;

	devreg_json_add_u64(o, "Flags", UINT64_MAX);
	devreg_json_add_u64(o, "Big", (UINT64_C(1) << 53) + 1);
	s = out(o, 0);
	ck_assert_str_eq(s, "{\"Flags\":18446744073709551615,\"Big\":9007199254740993}");
	free(s);
}
END_TEST

START_TEST(base64_standard_padding)
{
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} cases[] = {
		{"", 0, ""},
		{"f", 1, "Zg=="},
		{"fo", 2, "Zm8="},
		{"route add", 9, "cm91dGUgYWRk"},
		{"\xff\xfe\x00", 3, "//4A"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *b = devreg_base64((const unsigned char *)cases[i].in, cases[i].len);

		ck_assert_str_eq(b, cases[i].want);
		free(b);
	}
}
END_TEST

START_TEST(record_shapes_for_go_clients)
{
	struct devreg_store_config cfg = {
		.node_name = "devbox", .node_address = "127.0.0.1", .datacenter = "dc1",
		.deregister_min_ms = 60000, .interval_min_ms = 1000,
	};
	struct devreg_store *s = devreg_store_new(&cfg, NULL);
	struct devreg_service_def *d = NULL;
	const char *body = "{\"Name\": \"web\", \"ID\": \"web1\", \"Check\": {\"HTTP\": \"http://x/\","
			   " \"Interval\": \"10s\", \"Timeout\": \"1s\"}}";
	char err[128], *js;
	cJSON *v;

	ck_assert_int_eq(devreg_decode_service(body, strlen(body), 0, &d, err, sizeof(err)), 0);
	ck_assert_int_eq(devreg_service_def_apply_defaults(d), 0);
	ck_assert_int_eq(devreg_store_register_service(s, d, 0), 0);

	v = devreg_render_check(s, devreg_store_check(s, "service:web1"));
	ck_assert_str_eq(cJSON_GetObjectItem(v, "Interval")->valuestring, "10s");
	ck_assert_str_eq(cJSON_GetObjectItem(v, "Timeout")->valuestring, "1s");
	ck_assert_str_eq(cJSON_GetObjectItem(v, "Type")->valuestring, "http");
	js = out(v, 0);
	ck_assert_ptr_nonnull(strstr(js, "\"ServiceTags\":[]"));
	ck_assert_ptr_nonnull(strstr(js, "\"Definition\":{}"));
	free(js);

	v = devreg_render_agent_service(s, devreg_store_service(s, "web1"));
	js = out(v, 0);
	ck_assert_ptr_nonnull(strstr(js, "\"Tags\":[]"));
	ck_assert_ptr_nonnull(strstr(js, "\"Meta\":{}"));
	ck_assert_ptr_nonnull(strstr(js, "\"Weights\":{\"Passing\":1,\"Warning\":1}"));
	ck_assert_ptr_nonnull(strstr(js, "\"Datacenter\":\"dc1\""));
	ck_assert_ptr_null(strstr(js, "TaggedAddresses"));   /* omitempty */
	free(js);

	v = devreg_render_service_node(s, devreg_store_service(s, "web1"));
	js = out(v, 0);
	ck_assert_ptr_nonnull(strstr(js, "\"ServiceAddress\":\"\""));
	ck_assert_ptr_nonnull(strstr(js, "\"Node\":\"devbox\""));
	ck_assert_ptr_nonnull(strstr(js, "\"ServiceProxy\":{\"Mode\":\"\",\"MeshGateway\":{},\"Expose\":{}}"));
	free(js);

	v = devreg_render_check(s, devreg_store_check(s, DEVREG_SERF_CHECK_ID));
	js = out(v, 0);
	ck_assert_ptr_nonnull(strstr(js, "\"Interval\":\"\""));
	ck_assert_ptr_nonnull(strstr(js, "\"ServiceID\":\"\""));
	free(js);
	devreg_store_free(s);
}
END_TEST

static void
url_is(const char *url, int https, const char *host, int port, const char *auth,
       const char *target)
{
	char *h = NULL, *a = NULL, *t = NULL;
	int s = -1, p = -1;

	ck_assert_msg(devreg_url_split(url, &s, &h, &p, &a, &t) == 0, "%s", url);
	ck_assert_int_eq(s, https);
	ck_assert_str_eq(h, host);
	ck_assert_int_eq(p, port);
	ck_assert_str_eq(a, auth);
	ck_assert_str_eq(t, target);
	free(h);
	free(a);
	free(t);
}

START_TEST(url_split)
{
	char *h, *a, *t;
	int s, p;

	/* fabio registers its health check with brackets even for IPv4. */
	url_is("http://[127.0.0.1]:9998/health", 0, "127.0.0.1", 9998, "[127.0.0.1]:9998",
	       "/health");
	url_is("http://[::1]:80/x?y=1#frag", 0, "::1", 80, "[::1]:80", "/x?y=1");
	url_is("http://localhost/", 0, "localhost", 80, "localhost", "/");
	url_is("HTTPS://example.org", 1, "example.org", 443, "example.org", "/");
	url_is("http://u:pw@h:81?q", 0, "h", 81, "h:81", "/?q");
	url_is("http://[127.0.0.1]/", 0, "127.0.0.1", 80, "[127.0.0.1]", "/");
	/* As in Go's net/url, userinfo ends at the last '@'. */
	url_is("http://u:p@ss@h:81/x", 0, "h", 81, "h:81", "/x");
	url_is("http://u:pw@@h:81?q", 0, "h", 81, "h:81", "/?q");
	ck_assert_int_eq(devreg_url_split("ftp://x/", &s, &h, &p, &a, &t), -EINVAL);
	ck_assert_int_eq(devreg_url_split("http:///x", &s, &h, &p, &a, &t), -EINVAL);
	ck_assert_int_eq(devreg_url_split("http://h:99999/", &s, &h, &p, &a, &t), -EINVAL);
	ck_assert_int_eq(devreg_url_split("http://[::1/", &s, &h, &p, &a, &t), -EINVAL);
	ck_assert_int_eq(devreg_url_split("http://h:x/", &s, &h, &p, &a, &t), -EINVAL);
}
END_TEST

START_TEST(hostport_split)
{
	char *h = NULL;
	int p = 0;

	ck_assert_int_eq(devreg_hostport_split("127.0.0.1:8500", &h, &p), 0);
	ck_assert_str_eq(h, "127.0.0.1");
	ck_assert_int_eq(p, 8500);
	free(h);
	ck_assert_int_eq(devreg_hostport_split("[::1]:0", &h, &p), 0);
	ck_assert_str_eq(h, "::1");
	ck_assert_int_eq(p, 0);
	free(h);
	ck_assert_int_eq(devreg_hostport_split(":8500", &h, &p), 0);
	ck_assert_str_eq(h, "");
	free(h);
	ck_assert_int_eq(devreg_hostport_split("nohost", &h, &p), -EINVAL);
	ck_assert_int_eq(devreg_hostport_split("h:", &h, &p), -EINVAL);
	ck_assert_int_eq(devreg_hostport_split("h:-1", &h, &p), -EINVAL);
	ck_assert_int_eq(devreg_hostport_split("[::1]8500", &h, &p), -EINVAL);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("devreg_wire");
	TCase *tc = tcase_create("wire");

	tcase_add_test(tc, pretty_like_go);
	tcase_add_test(tc, strings_are_valid_utf8);
	tcase_add_test(tc, u64_exact);
	tcase_add_test(tc, base64_standard_padding);
	tcase_add_test(tc, record_shapes_for_go_clients);
	tcase_add_test(tc, url_split);
	tcase_add_test(tc, hostport_split);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_main_run(suite());
}
