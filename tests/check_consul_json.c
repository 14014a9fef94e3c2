/*
 * check_consul_json.c - the Consul JSON decoders against answers shaped
 * like real Consul's (tests/fixtures/consul, found through $top_srcdir)
 * and against broken ones: every truncation of every fixture, wrong
 * types, nulls, numbers past 2^53, 10 MB bodies. Also the registration
 * encoder (decoded back with cJSON) and the base64 decoder.
 */
#include "registry-client/consul_base64.h"
#include "registry-client/consul_json.h"
#include "registry-client/consul_json_internal.h"
#include "tests/check_main.h"

#include <check.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char *fixture_read(const char *name, size_t *len)
{
	const char *top = getenv("top_srcdir");
	char path[4096];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/tests/fixtures/consul/%s",
		 top && *top ? top : ".", name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s (is top_srcdir set?)", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* A copy of exactly len bytes with no NUL after them, so reading past the
 * end shows up under ASan. */
static char *exact_copy(const char *s, size_t len)
{
	char *p = malloc(len ? len : 1);
	ck_assert_ptr_nonnull(p);
	memcpy(p, s, len);
	return p;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---- good answers ---- */

START_TEST(test_health_service_fixture)
{
	size_t len;
	char *buf = fixture_read("health_service.json", &len);
	struct consul_service_list l;
	struct consul_json_err err = {{0}};

	ck_assert_int_eq(consul_json_decode_health_service(buf, len, &l, &err), 0);
	ck_assert_uint_eq(l.n, 1);
	const struct consul_service_entry *e = &l.v[0];
	ck_assert_str_eq(e->node, "devbox");
	ck_assert_str_eq(e->node_address, "127.0.0.1");
	ck_assert_str_eq(e->datacenter, "dc1");
	ck_assert_str_eq(e->id, "web1");
	ck_assert_str_eq(e->name, "web");
	ck_assert_str_eq(e->address, "127.0.0.1");
	ck_assert_int_eq(e->port, 8080);
	ck_assert_uint_eq(e->ntags, 1);
	ck_assert_str_eq(e->tags[0], "v1");
	ck_assert_uint_eq(e->nmeta, 0);
	ck_assert_int_eq(e->weight_passing, 1);
	ck_assert_int_eq(e->weight_warning, 1);
	ck_assert_uint_eq(e->create_index, 20);
	ck_assert_uint_eq(e->modify_index, 20);
	ck_assert_uint_eq(e->nchecks, 2);
	ck_assert_str_eq(e->checks[0].check_id, "serfHealth");
	ck_assert_str_eq(e->checks[0].name, "Serf Health Status");
	ck_assert_str_eq(e->checks[0].service_id, "");
	ck_assert_str_eq(e->checks[0].type, "");
	ck_assert_int_eq(e->checks[0].status, CONSUL_STATUS_PASSING);
	ck_assert_uint_eq(e->checks[0].create_index, 13);
	ck_assert_str_eq(e->checks[1].check_id, "service:web1");
	ck_assert_str_eq(e->checks[1].node, "devbox");
	ck_assert_str_eq(e->checks[1].service_id, "web1");
	ck_assert_str_eq(e->checks[1].service_name, "web");
	ck_assert_str_eq(e->checks[1].type, "http");
	ck_assert_str_eq(e->checks[1].output,
			 "HTTP GET http://127.0.0.1:8080/health: 200 OK Output: ok");
	ck_assert_uint_eq(e->checks[1].create_index, 21);
	ck_assert_uint_eq(e->checks[1].modify_index, 25);
	ck_assert_int_eq(consul_checks_aggregate(e->checks, e->nchecks),
			 CONSUL_STATUS_PASSING);
	consul_service_list_clear(&l);
	ck_assert_uint_eq(l.n, 0);
	ck_assert_ptr_null(l.v);
	consul_service_list_clear(&l); /* idempotent */
	consul_service_list_clear(NULL);
	free(buf);
}
END_TEST

START_TEST(test_health_service_dev_fixture)
{
	size_t len;
	char *buf = fixture_read("health_service_dev.json", &len);
	struct consul_service_list l;
	struct consul_json_err err = {{0}};

	ck_assert_int_eq(consul_json_decode_health_service(buf, len, &l, &err), 0);
	ck_assert_uint_eq(l.n, 2);
	const struct consul_service_entry *g = &l.v[0], *b = &l.v[1];
	ck_assert_str_eq(g->id, "api-green-1");
	ck_assert_str_eq(g->address, ""); /* clients fall back to the node's */
	ck_assert_str_eq(g->node_address, "10.0.0.7");
	ck_assert_int_eq(g->port, 9090);
	ck_assert_uint_eq(g->ntags, 3);
	ck_assert_str_eq(g->tags[2], "urlprefix-api.example.com/");
	ck_assert_uint_eq(g->nmeta, 2);
	ck_assert_str_eq(g->meta[0], "version");
	ck_assert_str_eq(g->meta[1], "2.4.1");
	ck_assert_str_eq(g->meta[2], "team");
	ck_assert_str_eq(g->meta[3], "edge");
	ck_assert_int_eq(g->weight_passing, 10);
	ck_assert_int_eq(g->weight_warning, 0);
	/* Above 2^53: a double would have rounded these. */
	ck_assert(g->create_index == UINT64_MAX);
	ck_assert(g->modify_index == 9007199254740993ull);
	ck_assert_int_eq(consul_checks_aggregate(g->checks, g->nchecks),
			 CONSUL_STATUS_WARNING);

	ck_assert_str_eq(b->id, "api-blue-1");
	ck_assert_uint_eq(b->ntags, 0);   /* Tags: null */
	ck_assert_uint_eq(b->nmeta, 0);   /* Meta: null */
	ck_assert_int_eq(b->weight_passing, 1); /* Weights absent */
	ck_assert_int_eq(b->weight_warning, 1);
	ck_assert_str_eq(b->address, "10.0.0.8");
	ck_assert_int_eq(consul_checks_aggregate(b->checks, b->nchecks),
			 CONSUL_STATUS_MAINTENANCE);
	consul_service_list_clear(&l);
	free(buf);
}
END_TEST

START_TEST(test_health_state_fixture)
{
	size_t len;
	char *buf = fixture_read("health_state_any.json", &len);
	struct consul_check_list l;
	struct consul_json_err err = {{0}};

	ck_assert_int_eq(consul_json_decode_checks(buf, len, &l, &err), 0);
	ck_assert_uint_eq(l.n, 3);
	ck_assert_str_eq(l.v[0].check_id, "serfHealth");
	ck_assert_int_eq(l.v[1].status, CONSUL_STATUS_CRITICAL);
	ck_assert_uint_eq(l.v[1].modify_index, 27);
	ck_assert_str_eq(l.v[2].check_id, "_node_maintenance");
	ck_assert_int_eq(consul_checks_aggregate(l.v, 2), CONSUL_STATUS_CRITICAL);
	ck_assert_int_eq(consul_checks_aggregate(l.v, 3), CONSUL_STATUS_MAINTENANCE);
	ck_assert_int_eq(consul_checks_aggregate(l.v, 1), CONSUL_STATUS_PASSING);
	ck_assert_int_eq(consul_checks_aggregate(NULL, 0), CONSUL_STATUS_PASSING);
	consul_check_list_clear(&l);
	free(buf);
}
END_TEST

START_TEST(test_catalog_fixture)
{
	size_t len;
	char *buf = fixture_read("catalog_services.json", &len);
	struct consul_catalog c;
	struct consul_json_err err = {{0}};

	ck_assert_int_eq(consul_json_decode_catalog_services(buf, len, &c, &err), 0);
	ck_assert_uint_eq(c.n, 2);
	ck_assert_str_eq(c.v[0].name, "consul");
	ck_assert_uint_eq(c.v[0].ntags, 0);
	ck_assert_str_eq(c.v[1].name, "web");
	ck_assert_uint_eq(c.v[1].ntags, 2);
	ck_assert_str_eq(c.v[1].tags[0], "v1");
	ck_assert_str_eq(c.v[1].tags[1], "urlprefix-/web");
	consul_catalog_clear(&c);
	consul_catalog_clear(&c);
	free(buf);

	/* An empty catalog and a null tag list. */
	ck_assert_int_eq(consul_json_decode_catalog_services("{}", 2, &c, &err), 0);
	ck_assert_uint_eq(c.n, 0);
	consul_catalog_clear(&c);
	ck_assert_int_eq(consul_json_decode_catalog_services("{\"a\":null}", 10, &c, &err), 0);
	ck_assert_uint_eq(c.n, 1);
	ck_assert_uint_eq(c.v[0].ntags, 0);
	consul_catalog_clear(&c);
}
END_TEST

START_TEST(test_kv_fixtures)
{
	size_t len;
	char *buf = fixture_read("kv_get.json", &len);
	struct consul_kv_list l;
	struct consul_json_err err = {{0}};

	ck_assert_int_eq(consul_json_decode_kv(buf, len, &l, &err), 0);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_str_eq(l.v[0].key, "fabio/config/a");
	ck_assert_uint_eq(l.v[0].value_len, 9);
	ck_assert_mem_eq(l.v[0].value, "route add", 9);
	ck_assert_int_eq(l.v[0].value[9], '\0');
	ck_assert_uint_eq(l.v[0].create_index, 30);
	ck_assert_uint_eq(l.v[0].modify_index, 31);
	ck_assert_str_eq(l.v[0].session, "");
	consul_kv_list_clear(&l);
	free(buf);

	buf = fixture_read("kv_recurse.json", &len);
	ck_assert_int_eq(consul_json_decode_kv(buf, len, &l, &err), 0);
	ck_assert_uint_eq(l.n, 3);
	ck_assert_ptr_null(l.v[0].value);      /* "Value": null */
	ck_assert_uint_eq(l.v[0].value_len, 0);
	ck_assert(l.v[2].flags == UINT64_MAX);
	ck_assert(l.v[2].create_index == 9007199254740993ull);
	ck_assert(l.v[2].modify_index == 9007199254740995ull);
	ck_assert_uint_eq(l.v[2].lock_index, 1);
	ck_assert_str_eq(l.v[2].session, "adf4238a-882b-9ddc-4a9d-5b6758e4159e");
	ck_assert_str_eq((char *)l.v[2].value,
			 "route weight web /web weight 0.1 tags \"green\"\n");
	consul_kv_list_clear(&l);
	free(buf);
}
END_TEST

START_TEST(test_self_fixture)
{
	size_t len;
	char *buf = fixture_read("agent_self.json", &len);
	struct consul_self s;
	struct consul_json_err err = {{0}};

	ck_assert_int_eq(consul_json_decode_self(buf, len, &s, &err), 0);
	ck_assert_str_eq(s.datacenter, "dc1");
	ck_assert_str_eq(s.node_name, "devbox");
	ck_assert_str_eq(s.version, "1.17.0");
	consul_self_clear(&s);
	consul_self_clear(&s);
	free(buf);
}
END_TEST

START_TEST(test_bool)
{
	struct consul_json_err err = {{0}};
	int v = -1;
	size_t len;
	char *buf = fixture_read("kv_put_true.json", &len);

	ck_assert_int_eq(consul_json_decode_bool(buf, len, &v, &err), 0);
	ck_assert_int_eq(v, 1);
	free(buf);
	ck_assert_int_eq(consul_json_decode_bool("false\n", 6, &v, &err), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(consul_json_decode_bool("null", 4, &v, &err), -EPROTO);
	ck_assert_int_eq(consul_json_decode_bool("truex", 5, &v, &err), -EPROTO);
	ck_assert_int_eq(consul_json_decode_bool("", 0, &v, &err), -EPROTO);
	ck_assert_str_eq(err.msg, "empty body");
	ck_assert_int_eq(consul_json_decode_bool(NULL, 0, &v, NULL), -EPROTO);
}
END_TEST

/* ---- broken answers ---- */

enum which { HEALTH, CHECKS, CATALOG, KV, SELF, BOOL };

/* Decode with the given decoder; on failure the output must be empty. */
static int decode(enum which w, const char *buf, size_t len,
		  struct consul_json_err *err)
{
	struct consul_service_list sl;
	struct consul_check_list cl;
	struct consul_catalog cat;
	struct consul_kv_list kv;
	struct consul_self self;
	int b, rc = 0;

	switch (w) {
	case HEALTH:
		rc = consul_json_decode_health_service(buf, len, &sl, err);
		if (rc) {
			ck_assert_ptr_null(sl.v);
			ck_assert_uint_eq(sl.n, 0);
		}
		consul_service_list_clear(&sl);
		break;
	case CHECKS:
		rc = consul_json_decode_checks(buf, len, &cl, err);
		if (rc)
			ck_assert_ptr_null(cl.v);
		consul_check_list_clear(&cl);
		break;
	case CATALOG:
		rc = consul_json_decode_catalog_services(buf, len, &cat, err);
		if (rc)
			ck_assert_ptr_null(cat.v);
		consul_catalog_clear(&cat);
		break;
	case KV:
		rc = consul_json_decode_kv(buf, len, &kv, err);
		if (rc)
			ck_assert_ptr_null(kv.v);
		consul_kv_list_clear(&kv);
		break;
	case SELF:
		rc = consul_json_decode_self(buf, len, &self, err);
		if (rc)
			ck_assert_ptr_null(self.datacenter);
		consul_self_clear(&self);
		break;
	case BOOL:
		rc = consul_json_decode_bool(buf, len, &b, err);
		break;
	}
	return rc;
}

static const struct {
	const char *file;
	enum which w;
} fixtures[] = {
	{"health_service.json", HEALTH},
	{"health_service_dev.json", HEALTH},
	{"health_state_any.json", CHECKS},
	{"catalog_services.json", CATALOG},
	{"kv_get.json", KV},
	{"kv_recurse.json", KV},
	{"agent_self.json", SELF},
	{"kv_put_true.json", BOOL},
};

/* Every prefix of every fixture that stops before its last meaningful
 * byte is refused, with a message, without reading past the prefix. */
START_TEST(test_truncated)
{
	for (size_t f = 0; f < sizeof(fixtures) / sizeof(fixtures[0]); f++) {
		size_t len, end;
		char *buf = fixture_read(fixtures[f].file, &len);

		end = len;
		while (end > 0 && strchr(" \t\r\n", buf[end - 1]))
			end--;
		for (size_t cut = 0; cut < end; cut++) {
			struct consul_json_err err = {{0}};
			char *p = exact_copy(buf, cut);
			int rc = decode(fixtures[f].w, p, cut, &err);
			ck_assert_msg(rc == -EPROTO, "%s cut at %zu: rc %d",
				      fixtures[f].file, cut, rc);
			ck_assert_msg(err.msg[0] != '\0', "%s cut at %zu: no message",
				      fixtures[f].file, cut);
			free(p);
		}
		/* ...and the whole of it, without a NUL after, decodes. */
		char *p = exact_copy(buf, len);
		struct consul_json_err err = {{0}};
		ck_assert_msg(decode(fixtures[f].w, p, len, &err) == 0, "%s: %s",
			      fixtures[f].file, err.msg);
		free(p);
		free(buf);
	}
}
END_TEST

#define SVC(extra) "{\"Node\":{\"Node\":\"n\"},\"Service\":{\"ID\":\"a\",\"Service\":\"s\"" extra "}}"

static const struct {
	enum which w;
	const char *json;
	const char *msg;   /* the exact error text */
} bad[] = {
	/* wrong types and shapes */
	{HEALTH, "{\"a\":1}", "not an array"},
	{HEALTH, "null", "not an array"},
	{HEALTH, "[" SVC(",\"Port\":\"80\"") "]", "[0].Service.Port: not a number"},
	{HEALTH, "[" SVC("") "," SVC("") "," SVC(",\"Port\":true") "]",
	 "[2].Service.Port: not a number"},
	{HEALTH, "[" SVC(",\"Port\":65536") "]", "[0].Service.Port: above 65535"},
	{HEALTH, "[" SVC(",\"Port\":-1") "]", "[0].Service.Port: negative"},
	{HEALTH, "[" SVC(",\"Port\":80.5") "]", "[0].Service.Port: not an integer"},
	{HEALTH, "[" SVC(",\"Port\":8e1") "]", "[0].Service.Port: not an integer"},
	{HEALTH, "[" SVC(",\"Port\":99999999999999999999999") "]",
	 "[0].Service.Port: above 2^64-1"},
	{HEALTH, "[" SVC(",\"Tags\":\"v1\"") "]", "[0].Service.Tags: not an array"},
	{HEALTH, "[" SVC(",\"Tags\":{}") "]", "[0].Service.Tags: not an array"},
	{HEALTH, "[" SVC(",\"Tags\":[\"a\",1]") "]", "[0].Service.Tags[1]: not a string"},
	{HEALTH, "[" SVC(",\"Meta\":{\"k\":1}") "]", "[0].Service.Meta.k: not a string"},
	{HEALTH, "[" SVC(",\"Meta\":[]") "]", "[0].Service.Meta: not an object"},
	{HEALTH, "[" SVC(",\"Weights\":{\"Passing\":\"1\"}") "]",
	 "[0].Service.Weights.Passing: not a number"},
	{HEALTH, "[" SVC(",\"Weights\":[1,1]") "]", "[0].Service.Weights: not an object"},
	{HEALTH, "[" SVC(",\"ModifyIndex\":18446744073709551616") "]",
	 "[0].Service.ModifyIndex: above 2^64-1"},
	{HEALTH, "[" SVC(",\"CreateIndex\":-5") "]", "[0].Service.CreateIndex: negative"},
	{HEALTH, "[{\"Node\":{\"Node\":\"n\"},\"Service\":null}]",
	 "[0].Service: null instead of an object"},
	{HEALTH, "[{\"Node\":{\"Node\":\"n\"},\"Service\":[]}]", "[0].Service: not an object"},
	{HEALTH, "[{\"Service\":{\"ID\":\"a\",\"Service\":\"s\"}}]", "[0].Node: missing"},
	{HEALTH, "[{\"Node\":{\"Node\":\"n\"},\"Service\":{\"Service\":\"s\"}}]",
	 "[0].Service.ID: missing"},
	{HEALTH, "[{\"Node\":{\"Node\":\"n\"},\"Service\":{\"ID\":\"\",\"Service\":\"s\"}}]",
	 "[0].Service.ID: empty"},
	{HEALTH, "[{\"Node\":{\"Node\":\"n\"},\"Service\":{\"ID\":7,\"Service\":\"s\"}}]",
	 "[0].Service.ID: not a string"},
	{HEALTH, "[null]", "[0]: not an object"},
	{HEALTH, "[{\"Node\":{\"Node\":\"n\"},\"Service\":{\"ID\":\"a\",\"Service\":\"s\"},\"Checks\":{}}]",
	 "[0].Checks: not an array"},
	{HEALTH, "[{\"Node\":{\"Node\":\"n\"},\"Service\":{\"ID\":\"a\",\"Service\":\"s\"},\"Checks\":[null]}]",
	 "[0].Checks[0]: not an object"},
	{HEALTH, "[{\"Node\":{\"Node\":\"n\"},\"Service\":{\"ID\":\"a\",\"Service\":\"s\"},\"Checks\":[{\"Status\":\"passing\"}]}]",
	 "[0].Checks[0].CheckID: missing"},
	{HEALTH, "[{\"Node\":{\"Node\":\"n\"},\"Service\":{\"ID\":\"a\",\"Service\":\"s\"},"
		 "\"Checks\":[{\"CheckID\":\"c\"},{\"CheckID\":\"d\",\"Status\":3}]}]",
	 "[0].Checks[1].Status: not a string"},
	{CHECKS, "[{\"CheckID\":\"c\",\"ModifyIndex\":1.5}]", "[0].ModifyIndex: not an integer"},
	{CHECKS, "[{\"CheckID\":\"c\",\"CreateIndex\":\"12\"}]", "[0].CreateIndex: not a number"},
	{CHECKS, "{}", "not an array"},
	{CATALOG, "[]", "not an object"},
	{CATALOG, "{\"web\":\"v1\"}", "web: not an array"},
	{CATALOG, "{\"web\":[\"a\",{}]}", "web[1]: not a string"},
	{CATALOG, "{\"\":[]}", "\"\": empty service name"},
	{KV, "[{\"Key\":\"a\",\"Value\":\"!!!!\"}]", "[0].Value: invalid base64"},
	{KV, "[{\"Key\":\"a\",\"Value\":\"Zm9\"}]", "[0].Value: invalid base64"},
	{KV, "[{\"Key\":\"a\",\"Value\":\"Zm9v\\n\"}]", "[0].Value: invalid base64"},
	{KV, "[{\"Key\":\"a\",\"Value\":5}]", "[0].Value: not a string"},
	{KV, "[{\"Value\":\"Zm9v\"}]", "[0].Key: missing"},
	{KV, "[{\"Key\":\"a\",\"Flags\":\"1\"}]", "[0].Flags: not a number"},
	{KV, "[{\"Key\":\"a\",\"Flags\":-1}]", "[0].Flags: negative"},
	{KV, "[{\"Key\":\"a\",\"Flags\":1e3}]", "[0].Flags: not an integer"},
	{SELF, "[]", "not an object"},
	{SELF, "{\"Config\":null}", "Config: null instead of an object"},
	{SELF, "{\"Member\":{}}", "Config: missing"},
	{SELF, "{\"Config\":{\"Datacenter\":1,\"NodeName\":\"n\"}}",
	 "Config.Datacenter: not a string"},
	{SELF, "{\"Config\":{\"Datacenter\":\"dc1\"}}", "Config.NodeName: missing"},
	/* not JSON at all, or not only JSON */
	{HEALTH, "[] x", "unexpected data after the JSON value at byte 3"},
	{HEALTH, "[]]", "unexpected data after the JSON value at byte 2"},
	{HEALTH, "[1,]", "invalid JSON at byte 3"},
	{KV, "<html>502 Bad Gateway</html>", "invalid JSON at byte 0"},
	{CATALOG, "{\"a\":[\"b\"]", "truncated JSON (10 bytes)"},
};

START_TEST(test_bad_answers)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct consul_json_err err = {{0}};
		size_t len = strlen(bad[i].json);
		char *p = exact_copy(bad[i].json, len);
		int rc = decode(bad[i].w, p, len, &err);
		ck_assert_msg(rc == -EPROTO, "case %zu (%s): rc %d", i, bad[i].json, rc);
		ck_assert_msg(strcmp(err.msg, bad[i].msg) == 0,
			      "case %zu (%s): got \"%s\", want \"%s\"", i,
			      bad[i].json, err.msg, bad[i].msg);
		free(p);
	}
}
END_TEST

/* Numbers are read from their own text: digits inside strings, escaped
 * quotes, other numbers and odd spacing do not confuse the reader. */
START_TEST(test_u64_exact)
{
	static const char json[] =
		"[{\"Key\":\"12 \\\"34\\\" -5\",\"Session\":\"1e5 [0,\","
		"\"X\":[1.5,-2,3e4,{\"y\":0.25}], \"Flags\" :\t9007199254740993,"
		"\"LockIndex\":0,\"CreateIndex\":9007199254740992,"
		"\"ModifyIndex\":18446744073709551614},"
		"{\"Key\":\"b\",\"Flags\":12345678901234567890}]";
	struct consul_kv_list l;
	struct consul_json_err err = {{0}};

	ck_assert_int_eq(consul_json_decode_kv(json, strlen(json), &l, &err), 0);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_str_eq(l.v[0].key, "12 \"34\" -5");
	ck_assert(l.v[0].flags == 9007199254740993ull);
	ck_assert(l.v[0].create_index == 9007199254740992ull);
	ck_assert(l.v[0].modify_index == 18446744073709551614ull);
	ck_assert(l.v[1].flags == 12345678901234567890ull);
	consul_kv_list_clear(&l);
}
END_TEST

/* Keys are matched exactly first, then without regard to case, as Go
 * decodes them; an unknown status is kept as unknown and aggregates as
 * critical. */
START_TEST(test_lenient_parts)
{
	static const char json[] =
		"[{\"checkid\":\"c1\",\"status\":\"passing\"},"
		"{\"CheckID\":\"c2\",\"Status\":\"sideways\",\"Extra\":{\"deep\":[1,2]}}]";
	struct consul_check_list l;
	struct consul_json_err err = {{0}};

	ck_assert_int_eq(consul_json_decode_checks(json, strlen(json), &l, &err), 0);
	ck_assert_str_eq(l.v[0].check_id, "c1");
	ck_assert_int_eq(l.v[0].status, CONSUL_STATUS_PASSING);
	ck_assert_int_eq(l.v[1].status, CONSUL_STATUS_UNKNOWN);
	ck_assert_str_eq(l.v[1].node, "");
	ck_assert_int_eq(consul_checks_aggregate(l.v, 2), CONSUL_STATUS_CRITICAL);
	consul_check_list_clear(&l);

	ck_assert_int_eq(consul_status_parse("warning"), CONSUL_STATUS_WARNING);
	ck_assert_int_eq(consul_status_parse("Passing"), CONSUL_STATUS_UNKNOWN);
	ck_assert_int_eq(consul_status_parse(NULL), CONSUL_STATUS_UNKNOWN);
	ck_assert_str_eq(consul_status_name(CONSUL_STATUS_CRITICAL), "critical");
	ck_assert_str_eq(consul_status_name(CONSUL_STATUS_MAINTENANCE), "maintenance");
	ck_assert_str_eq(consul_status_name((enum consul_status)42), "unknown");
}
END_TEST

/* Bytes that are not printable ASCII, from a hostile key, never reach the
 * message; long paths are cut, not overflowed. */
START_TEST(test_error_text_is_safe)
{
	char key[600], json[700];
	struct consul_catalog cat;
	struct consul_json_err err = {{0}};

	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	snprintf(json, sizeof(json), "{\"kk\\nk%s\":7}", key);
	ck_assert_int_eq(consul_json_decode_catalog_services(json, strlen(json),
							     &cat, &err), -EPROTO);
	ck_assert(strlen(err.msg) < sizeof(err.msg));
	for (const char *p = err.msg; *p; p++)
		ck_assert_msg((unsigned char)*p >= ' ' && (unsigned char)*p < 0x7f,
			      "unprintable byte in \"%s\"", err.msg);
	ck_assert_msg(strncmp(err.msg, "kk?kkk", 6) == 0, "got \"%s\"", err.msg);
}
END_TEST

/* Nesting deeper than cJSON allows, an embedded NUL, odd whitespace. */
START_TEST(test_odd_inputs)
{
	struct consul_json_err err = {{0}};
	size_t depth = 5000;
	char *deep = malloc(depth * 2);

	ck_assert_ptr_nonnull(deep);
	memset(deep, '[', depth);
	memset(deep + depth, ']', depth);
	ck_assert_int_eq(decode(HEALTH, deep, depth * 2, &err), -EPROTO);
	free(deep);

	ck_assert_int_eq(decode(CATALOG, "{\"a\":[]}\0{}", 11, &err), -EPROTO);
	ck_assert_int_eq(decode(CATALOG, " \r\n\t{\"a\":[]} \n", 14, &err), 0);
	ck_assert_int_eq(decode(HEALTH, "[]", 2, &err), 0);
	ck_assert_int_eq(decode(KV, "[]", 2, &err), 0);
	ck_assert_int_eq(decode(HEALTH, "   ", 3, &err), -EPROTO);
	ck_assert_int_eq(decode(HEALTH, NULL, 0, NULL), -EPROTO);
}
END_TEST

/* A real-looking 10 MB health answer decodes; 10 MB bodies built to be
 * expensive are refused or decoded in bounded time. */
START_TEST(test_ten_megabytes)
{
	const size_t target = 10u * 1024 * 1024;
	size_t flen, len = 0, n = 0;
	char *one = fixture_read("health_service.json", &flen);
	char *buf = malloc(target + flen + 16);
	struct consul_service_list l;
	struct consul_json_err err = {{0}};
	struct timespec t0;

	ck_assert_ptr_nonnull(buf);
	/* The fixture is "[{...}]\n": repeat the element. */
	char *open = strchr(one, '{');
	char *close = strrchr(one, '}');
	size_t elen = (size_t)(close - open) + 1;
	buf[len++] = '[';
	while (len + elen + 2 < target) {
		if (n++)
			buf[len++] = ',';
		memcpy(buf + len, open, elen);
		len += elen;
	}
	buf[len++] = ']';
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(consul_json_decode_health_service(buf, len, &l, &err), 0);
	ck_assert_uint_eq(l.n, n);
	ck_assert_str_eq(l.v[n - 1].id, "web1");
	ck_assert_uint_eq(l.v[n - 1].checks[1].modify_index, 25);
	consul_service_list_clear(&l);
	ck_assert_msg(seconds_since(&t0) < 60.0, "10 MB health answer took %.1f s",
		      seconds_since(&t0));

	/* "[0,0,0,...]": five million values; refused before any is built. */
	len = 0;
	buf[len++] = '[';
	while (len + 3 < target) {
		buf[len++] = '0';
		buf[len++] = ',';
	}
	buf[len++] = '0';
	buf[len++] = ']';
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(consul_json_decode_health_service(buf, len, &l, &err), -EPROTO);
	ck_assert_str_eq(err.msg, "too many JSON values (limit 1048576)");
	ck_assert_msg(seconds_since(&t0) < 10.0, "refusal took %.1f s", seconds_since(&t0));

	/* One 10 MB tag: a single big string is fine. */
	len = (size_t)sprintf(buf, "{\"web\":[\"");
	memset(buf + len, 'x', target);
	len += target;
	len += (size_t)sprintf(buf + len, "\"]}");
	struct consul_catalog cat;
	ck_assert_int_eq(consul_json_decode_catalog_services(buf, len, &cat, &err), 0);
	ck_assert_uint_eq(strlen(cat.v[0].tags[0]), target);
	consul_catalog_clear(&cat);

	/* 10 MB of opening brackets: refused by the nesting limit. */
	memset(buf, '[', target);
	ck_assert_int_eq(consul_json_decode_kv(buf, target, &(struct consul_kv_list){0}, &err),
			 -EPROTO);
	free(buf);
	free(one);
}
END_TEST

/* ---- base64 ---- */

START_TEST(test_base64)
{
	static const struct {
		const char *in, *out;
	} good[] = {
		{"", ""}, {"Zg==", "f"}, {"Zm8=", "fo"}, {"Zm9v", "foo"},
		{"Zm9vYg==", "foob"}, {"Zm9vYmE=", "fooba"}, {"Zm9vYmFy", "foobar"},
		{"+/+/", "\xfb\xff\xbf"},
	};
	static const char *const invalid[] = {
		"Z", "Zg", "Zg=", "Zg===", "====", "Z===", "Zm9v=", "Zm=v",
		"Zm9v Zm9v", "Zm9-", "Zm9_", "Zh==", "Zm9=", "Zg==Zg==",
		"Zm9v\n", "\xc3\xa9\xc3\xa9",
	};
	unsigned char *out;
	size_t n;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_int_eq(consul_base64_decode(good[i].in, strlen(good[i].in),
						      &out, &n), 0);
		ck_assert_uint_eq(n, strlen(good[i].out));
		ck_assert_mem_eq(out, good[i].out, n);
		ck_assert_int_eq(out[n], 0);
		free(out);
	}
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
		ck_assert_msg(consul_base64_decode(invalid[i], strlen(invalid[i]),
						   &out, &n) == -EINVAL,
			      "accepted \"%s\"", invalid[i]);
	/* Every byte value survives. */
	static const char all[] =
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEy"
		"MzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2Rl"
		"ZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeY"
		"mZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrL"
		"zM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w==";
	ck_assert_int_eq(consul_base64_decode(all, strlen(all), &out, &n), 0);
	ck_assert_uint_eq(n, 256);
	for (unsigned i = 0; i < 256; i++)
		ck_assert_uint_eq(out[i], i);
	free(out);
}
END_TEST

/* ---- registration encoding ---- */

static const char *obj_str(const cJSON *o, const char *k)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
	ck_assert_msg(cJSON_IsString(it), "%s is not a string", k);
	return it->valuestring;
}

START_TEST(test_registration_round_trip)
{
	const char *tags[] = {"urlprefix-/web", "blue", "quote\"d \xc3\xa9"};
	const char *meta[] = {"version", "1.2", "team", "edge"};
	struct consul_check_def checks[] = {
		{.kind = CONSUL_CHECK_HTTP, .id = "web-1-http", .name = "web http",
		 .target = "http://127.0.0.1:8080/health", .interval_ms = 10000,
		 .timeout_ms = 1500, .deregister_after_ms = 60000},
		{.kind = CONSUL_CHECK_TTL, .ttl_ms = 15000, .status = "passing"},
		{.kind = CONSUL_CHECK_TCP, .target = "127.0.0.1:8080", .interval_ms = 250},
	};
	struct consul_registration r = {
		.id = "web-1", .name = "web", .address = "127.0.0.1", .port = 8080,
		.tags = tags, .ntags = 3, .meta = meta, .nmeta = 2,
		.weight_passing = 10, .weight_warning = 1,
		.checks = checks, .nchecks = 3,
	};
	char *s = consul_json_encode_registration(&r);
	cJSON *o, *arr, *c;

	ck_assert_ptr_nonnull(s);
	o = cJSON_Parse(s);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(obj_str(o, "ID"), "web-1");
	ck_assert_str_eq(obj_str(o, "Name"), "web");
	ck_assert_str_eq(obj_str(o, "Address"), "127.0.0.1");
	ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(o, "Port")->valueint, 8080);
	arr = cJSON_GetObjectItemCaseSensitive(o, "Tags");
	ck_assert_int_eq(cJSON_GetArraySize(arr), 3);
	ck_assert_str_eq(cJSON_GetArrayItem(arr, 2)->valuestring, tags[2]);
	c = cJSON_GetObjectItemCaseSensitive(o, "Meta");
	ck_assert_str_eq(obj_str(c, "version"), "1.2");
	ck_assert_str_eq(obj_str(c, "team"), "edge");
	c = cJSON_GetObjectItemCaseSensitive(o, "Weights");
	ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(c, "Passing")->valueint, 10);
	ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(c, "Warning")->valueint, 1);
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(o, "Check"));
	arr = cJSON_GetObjectItemCaseSensitive(o, "Checks");
	ck_assert_int_eq(cJSON_GetArraySize(arr), 3);
	c = cJSON_GetArrayItem(arr, 0);
	ck_assert_str_eq(obj_str(c, "CheckID"), "web-1-http");
	ck_assert_str_eq(obj_str(c, "Name"), "web http");
	ck_assert_str_eq(obj_str(c, "HTTP"), "http://127.0.0.1:8080/health");
	ck_assert_str_eq(obj_str(c, "Interval"), "10s");
	ck_assert_str_eq(obj_str(c, "Timeout"), "1500ms");
	ck_assert_str_eq(obj_str(c, "DeregisterCriticalServiceAfter"), "60s");
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(c, "TTL"));
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(c, "Status"));
	c = cJSON_GetArrayItem(arr, 1);
	ck_assert_str_eq(obj_str(c, "TTL"), "15s");
	ck_assert_str_eq(obj_str(c, "Status"), "passing");
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(c, "CheckID"));
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(c, "Interval"));
	c = cJSON_GetArrayItem(arr, 2);
	ck_assert_str_eq(obj_str(c, "TCP"), "127.0.0.1:8080");
	ck_assert_str_eq(obj_str(c, "Interval"), "250ms");
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(c, "Timeout"));
	cJSON_Delete(o);
	free(s);
}
END_TEST

START_TEST(test_registration_minimal)
{
	struct consul_check_def ttl = {.kind = CONSUL_CHECK_TTL, .ttl_ms = 10000};
	struct consul_registration r = {.name = "api", .checks = &ttl, .nchecks = 1};
	char *s = consul_json_encode_registration(&r);
	cJSON *o;

	ck_assert_ptr_nonnull(s);
	o = cJSON_Parse(s);
	ck_assert_str_eq(obj_str(o, "Name"), "api");
	/* Left out, not sent empty: the agent then uses its defaults. */
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(o, "ID"));
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(o, "Address"));
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(o, "Port"));
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(o, "Meta"));
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(o, "Weights"));
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(o, "Checks"));
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "Tags")), 0);
	ck_assert_str_eq(obj_str(cJSON_GetObjectItemCaseSensitive(o, "Check"), "TTL"), "10s");
	cJSON_Delete(o);
	free(s);
}
END_TEST

START_TEST(test_registration_invalid)
{
	struct consul_check_def http_no_interval = {
		.kind = CONSUL_CHECK_HTTP, .target = "http://x/"};
	struct consul_check_def tcp_no_target = {.kind = CONSUL_CHECK_TCP, .interval_ms = 1000};
	struct consul_check_def ttl_zero = {.kind = CONSUL_CHECK_TTL};
	struct consul_check_def no_kind = {.ttl_ms = 1000};
	const char *null_tag[] = {"a", NULL};
	struct consul_registration r = {.name = "x"};

	ck_assert_ptr_null(consul_json_encode_registration(NULL));
	r.name = NULL;
	ck_assert_ptr_null(consul_json_encode_registration(&r));
	r.name = "";
	ck_assert_ptr_null(consul_json_encode_registration(&r));
	r.name = "x";
	r.port = 65536;
	ck_assert_ptr_null(consul_json_encode_registration(&r));
	r.port = -1;
	ck_assert_ptr_null(consul_json_encode_registration(&r));
	r.port = 0;
	r.tags = null_tag;
	r.ntags = 2;
	ck_assert_ptr_null(consul_json_encode_registration(&r));
	r.ntags = 1;
	r.weight_passing = -1;
	ck_assert_ptr_null(consul_json_encode_registration(&r));
	r.weight_passing = 0;
	r.nchecks = 1;
	r.checks = &http_no_interval;
	ck_assert_ptr_null(consul_json_encode_registration(&r));
	r.checks = &tcp_no_target;
	ck_assert_ptr_null(consul_json_encode_registration(&r));
	r.checks = &ttl_zero;
	ck_assert_ptr_null(consul_json_encode_registration(&r));
	r.checks = &no_kind;
	ck_assert_ptr_null(consul_json_encode_registration(&r));
	r.checks = NULL;
	ck_assert_ptr_null(consul_json_encode_registration(&r));
	r.nchecks = 0;
	char *s = consul_json_encode_registration(&r);
	ck_assert_ptr_nonnull(s);
	free(s);
}
END_TEST

START_TEST(test_duration_and_check_update)
{
	char buf[32];

	ck_assert_str_eq(consul_duration_format(0, buf, sizeof(buf)), "0s");
	ck_assert_str_eq(consul_duration_format(250, buf, sizeof(buf)), "250ms");
	ck_assert_str_eq(consul_duration_format(1500, buf, sizeof(buf)), "1500ms");
	ck_assert_str_eq(consul_duration_format(10000, buf, sizeof(buf)), "10s");
	ck_assert_str_eq(consul_duration_format(90000, buf, sizeof(buf)), "90s");
	ck_assert_str_eq(consul_duration_format(300000, buf, sizeof(buf)), "300s");

	char *s = consul_json_encode_check_update(CONSUL_STATUS_WARNING, "load \"high\"");
	cJSON *o = cJSON_Parse(s);
	ck_assert_str_eq(obj_str(o, "Status"), "warning");
	ck_assert_str_eq(obj_str(o, "Output"), "load \"high\"");
	cJSON_Delete(o);
	free(s);
	s = consul_json_encode_check_update(CONSUL_STATUS_PASSING, NULL);
	ck_assert_str_eq(s, "{\"Status\":\"passing\",\"Output\":\"\"}");
	free(s);
	ck_assert_ptr_null(consul_json_encode_check_update(CONSUL_STATUS_MAINTENANCE, ""));
	ck_assert_ptr_null(consul_json_encode_check_update(CONSUL_STATUS_UNKNOWN, ""));
}
END_TEST

static Suite *json_suite(void)
{
	Suite *s = suite_create("consul_json");
	TCase *tc = tcase_create("decode");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_health_service_fixture);
	tcase_add_test(tc, test_health_service_dev_fixture);
	tcase_add_test(tc, test_health_state_fixture);
	tcase_add_test(tc, test_catalog_fixture);
	tcase_add_test(tc, test_kv_fixtures);
	tcase_add_test(tc, test_self_fixture);
	tcase_add_test(tc, test_bool);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_bad_answers);
	tcase_add_test(tc, test_u64_exact);
	tcase_add_test(tc, test_lenient_parts);
	tcase_add_test(tc, test_error_text_is_safe);
	tcase_add_test(tc, test_odd_inputs);
	tcase_add_test(tc, test_ten_megabytes);
	tcase_add_test(tc, test_base64);
	suite_add_tcase(s, tc);

	tc = tcase_create("encode");
	tcase_add_test(tc, test_registration_round_trip);
	tcase_add_test(tc, test_registration_minimal);
	tcase_add_test(tc, test_registration_invalid);
	tcase_add_test(tc, test_duration_and_check_update);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_main_run(json_suite());
}
