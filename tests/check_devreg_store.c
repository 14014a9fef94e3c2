/*
 * check_devreg_store.c - the registry's state without a network: the
 * index rules blocking queries depend on, Consul's check-ID defaults,
 * status keeping on re-registration, maintenance, the reaper, and KV
 * semantics (CAS, recurse, keys with a separator, tombstones).
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devregistry/devreg_decode.h"
#include "devregistry/devreg_store.h"
#include "tests/check_main.h"

static int64_t fake_now;
static int changed_calls;
static int started_calls, stopped_calls;

static int64_t
clock_ms(void *arg)
{
	(void)arg;
	return fake_now;
}

static void
on_changed(void *arg)
{
	(void)arg;
	changed_calls++;
}

static void
on_started(void *arg, struct devreg_check *c)
{
	(void)arg;
	(void)c;
	started_calls++;
}

static void
on_stopped(void *arg, struct devreg_check *c)
{
	(void)arg;
	(void)c;
	stopped_calls++;
}

static struct devreg_store *
new_store(void)
{
	struct devreg_store_config cfg = {
		.node_name = "devbox",
		.node_address = "127.0.0.1",
		.datacenter = "dc1",
		.deregister_min_ms = 60000,
		.interval_min_ms = 1000,
		.now_ms = clock_ms,
	};
	struct devreg_store_hooks hooks = {
		.check_started = on_started,
		.check_stopped = on_stopped,
		.changed = on_changed,
	};
	struct devreg_store *s = devreg_store_new(&cfg, NULL);

	ck_assert_ptr_nonnull(s);
	devreg_store_set_hooks(s, &hooks);
	fake_now = 1000;
	changed_calls = started_calls = stopped_calls = 0;
	return s;
}

/* Decode, validate and register a service body as the API does. */
static int
reg(struct devreg_store *s, const char *json, int replace)
{
	struct devreg_service_def *d = NULL;
	char err[256];

	ck_assert_msg(devreg_decode_service(json, strlen(json), 0, &d, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_msg(devreg_service_def_validate(d, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(devreg_service_def_apply_defaults(d), 0);
	return devreg_store_register_service(s, d, replace);
}

START_TEST(starts_with_node_serf_and_consul)
{
	struct devreg_store *s = new_store();
	struct devreg_check *serf = devreg_store_check(s, DEVREG_SERF_CHECK_ID);
	struct devreg_service *consul = devreg_store_service(s, "consul");

	ck_assert_uint_gt(s->index, 1);
	ck_assert_uint_ge(s->node.create_index, 10);
	ck_assert_ptr_nonnull(serf);
	ck_assert_int_eq(serf->status, DEVREG_PASSING);
	ck_assert_str_eq(serf->output, "Agent alive and reachable");
	ck_assert_int_eq(serf->agent_local, 0);
	ck_assert_ptr_nonnull(consul);
	ck_assert_int_eq(consul->def->port, 8300);
	ck_assert_int_eq(consul->agent_local, 0);
	ck_assert_int_eq(strlen(s->node.id), 36);
	/* The agent does not own them. */
	ck_assert_int_eq(devreg_store_deregister_service(s, "consul"), -ENOENT);
	ck_assert_int_eq(devreg_store_deregister_check(s, DEVREG_SERF_CHECK_ID), -ENOENT);
	ck_assert_int_eq(reg(s, "{\"Name\": \"consul\"}", 0), -EEXIST);
	/* Indexes of every query are above 0 from the start. */
	ck_assert_uint_ge(devreg_store_service_index(s, "nothing"), 1);
	ck_assert_uint_ge(devreg_store_health_index(s, "nothing"), 1);
	ck_assert_uint_ge(devreg_kv_key_index(s, "k"), 1);
	ck_assert_uint_ge(devreg_kv_prefix_index(s, ""), 1);
	ck_assert_uint_ge(devreg_kv_prefix_index(s, "p/"), 1);
	devreg_store_free(s);
}
END_TEST

START_TEST(check_id_and_name_defaults)
{
	struct devreg_store *s = new_store();
	struct devreg_check *c;

	ck_assert_int_eq(reg(s, "{\"Name\": \"web\", \"ID\": \"web1\", \"Check\": {\"TTL\": \"10s\"}}", 0), 0);
	c = devreg_store_check(s, "service:web1");
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->name, "Service 'web' check");
	ck_assert_int_eq(c->status, DEVREG_CRITICAL);
	ck_assert_int_eq(c->type, DEVREG_CT_TTL);
	ck_assert_ptr_eq(c->service, devreg_store_service(s, "web1"));

	ck_assert_int_eq(reg(s, "{\"Name\": \"api\", \"Checks\": ["
			     "{\"TTL\": \"10s\", \"Status\": \"passing\"},"
			     "{\"CheckID\": \"own\", \"Name\": \"mine\", \"TTL\": \"10s\"},"
			     "{\"TCP\": \"127.0.0.1:1\", \"Interval\": \"10s\"}]}", 0), 0);
	ck_assert_ptr_nonnull(devreg_store_service(s, "api"));  /* ID defaults to Name */
	c = devreg_store_check(s, "service:api:1");
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->status, DEVREG_PASSING);
	c = devreg_store_check(s, "own");
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->name, "mine");
	c = devreg_store_check(s, "service:api:3");
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->name, "Service 'api' check");
	ck_assert_ptr_null(devreg_store_check(s, "service:api:2"));
	ck_assert_int_eq(started_calls, 4);
	devreg_store_free(s);
}
END_TEST

START_TEST(indexes_move_only_on_real_changes)
{
	struct devreg_store *s = new_store();
	const char *web = "{\"Name\": \"web\", \"ID\": \"web1\", \"Tags\": [\"a\"],"
			  " \"Check\": {\"TTL\": \"10s\"}}";
	uint64_t i0, i1, svc1, chk1, h1;
	struct devreg_check *c;

	i0 = s->index;
	ck_assert_int_eq(reg(s, web, 0), 0);
	i1 = s->index;
	ck_assert_uint_eq(i1, i0 + 1);         /* one write, one index */
	ck_assert_int_eq(changed_calls, 1);
	svc1 = devreg_store_service_index(s, "web");
	chk1 = s->checks_index;
	h1 = devreg_store_health_index(s, "web");
	ck_assert_uint_eq(svc1, i1);
	ck_assert_uint_eq(s->services_index, i1);

	/* Identical re-registration: nothing moves, nobody is woken. */
	ck_assert_int_eq(reg(s, web, 0), 0);
	ck_assert_uint_eq(s->index, i1);
	ck_assert_int_eq(changed_calls, 1);
	ck_assert_int_eq(started_calls, 1);

	/* Output-only update: stored, but no index. */
	c = devreg_store_check(s, "service:web1");
	ck_assert_int_eq(devreg_store_check_update(s, c, DEVREG_CRITICAL, "still down"), 0);
	ck_assert_str_eq(c->output, "still down");
	ck_assert_uint_eq(s->index, i1);

	/* A status change moves the check, the name and the checks table. */
	ck_assert_int_eq(devreg_store_check_update(s, c, DEVREG_PASSING, "ok"), 1);
	ck_assert_uint_eq(s->index, i1 + 1);
	ck_assert_uint_eq(c->modify_index, i1 + 1);
	ck_assert_uint_gt(s->checks_index, chk1);
	ck_assert_uint_gt(devreg_store_health_index(s, "web"), h1);
	ck_assert_uint_eq(s->services_index, i1);  /* the services table did not change */

	/* A tag change moves the service and its checks (they carry the tags). */
	ck_assert_int_eq(reg(s, "{\"Name\": \"web\", \"ID\": \"web1\", \"Tags\": [\"b\"],"
			     " \"Check\": {\"TTL\": \"10s\"}}", 0), 0);
	ck_assert_uint_eq(s->services_index, i1 + 2);
	ck_assert_uint_eq(c->modify_index, i1 + 2);
	ck_assert_uint_eq(devreg_store_service(s, "web1")->create_index, i1);
	/* ... and keeps the check's status (no flapping on re-registration). */
	ck_assert_int_eq(c->status, DEVREG_PASSING);
	ck_assert_str_eq(c->output, "ok");
	devreg_store_free(s);
}
END_TEST

START_TEST(service_index_never_goes_down)
{
	struct devreg_store *s = new_store();
	uint64_t before, after, other;

	ck_assert_int_eq(reg(s, "{\"Name\": \"web\", \"ID\": \"w1\"}", 0), 0);
	ck_assert_int_eq(reg(s, "{\"Name\": \"web\", \"ID\": \"w2\"}", 0), 0);
	before = devreg_store_service_index(s, "web");
	ck_assert_int_eq(devreg_store_deregister_service(s, "w2"), 0);
	after = devreg_store_service_index(s, "web");
	ck_assert_uint_gt(after, before);
	ck_assert_int_eq(devreg_store_deregister_service(s, "w1"), 0);
	ck_assert_ptr_null(devreg_store_group(s, "web"));
	/* A name with no instance left answers the "missing service" index,
	 * which is the removal's, so a waiter sees it move up. */
	ck_assert_uint_gt(devreg_store_service_index(s, "web"), after);
	before = devreg_store_service_index(s, "web");
	ck_assert_int_eq(reg(s, "{\"Name\": \"other\"}", 0), 0);
	other = devreg_store_service_index(s, "web");
	ck_assert_uint_ge(other, before);
	ck_assert_int_eq(reg(s, "{\"Name\": \"web\", \"ID\": \"w3\"}", 0), 0);
	ck_assert_uint_gt(devreg_store_service_index(s, "web"), other);
	ck_assert_int_eq(devreg_store_deregister_service(s, "w3"), 0);
	ck_assert_int_eq(devreg_store_deregister_service(s, "w3"), -ENOENT);
	devreg_store_free(s);
}
END_TEST

START_TEST(replace_existing_checks)
{
	struct devreg_store *s = new_store();

	ck_assert_int_eq(reg(s, "{\"Name\": \"w\", \"Checks\": [{\"CheckID\": \"a\", \"TTL\": \"1s\"},"
			     " {\"CheckID\": \"b\", \"TTL\": \"1s\"}]}", 0), 0);
	/* Without the flag, checks left out stay. */
	ck_assert_int_eq(reg(s, "{\"Name\": \"w\", \"Check\": {\"CheckID\": \"a\", \"TTL\": \"1s\"}}", 0), 0);
	ck_assert_ptr_nonnull(devreg_store_check(s, "b"));
	/* With it, they go. */
	ck_assert_int_eq(reg(s, "{\"Name\": \"w\", \"Check\": {\"CheckID\": \"a\", \"TTL\": \"1s\"}}", 1), 0);
	ck_assert_ptr_null(devreg_store_check(s, "b"));
	ck_assert_ptr_nonnull(devreg_store_check(s, "a"));
	ck_assert_int_eq(devreg_store_service(s, "w")->nchecks, 1);
	devreg_store_free(s);
}
END_TEST

START_TEST(check_registration_keeps_status)
{
	struct devreg_store *s = new_store();
	struct devreg_check_def *d = NULL;
	struct devreg_check *c;
	char err[256];
	const char *body = "{\"Name\": \"mem\", \"TTL\": \"10s\", \"ServiceID\": \"w\"}";

	ck_assert_int_eq(reg(s, "{\"Name\": \"w\"}", 0), 0);
	ck_assert_int_eq(devreg_decode_check(body, strlen(body), 0, &d, err, sizeof(err)), 0);
	ck_assert_int_eq(devreg_store_register_check(s, d), 0);
	c = devreg_store_check(s, "mem");  /* ID defaults to Name */
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_eq(c->service, devreg_store_service(s, "w"));
	devreg_store_check_update(s, c, DEVREG_WARNING, "meh");
	body = "{\"Name\": \"mem\", \"TTL\": \"20s\", \"ServiceID\": \"w\", \"Notes\": \"new\"}";
	ck_assert_int_eq(devreg_decode_check(body, strlen(body), 0, &d, err, sizeof(err)), 0);
	ck_assert_int_eq(devreg_store_register_check(s, d), 0);
	ck_assert_ptr_eq(devreg_store_check(s, "mem"), c);
	ck_assert_int_eq(c->status, DEVREG_WARNING);
	ck_assert_str_eq(c->output, "meh");
	ck_assert_str_eq(c->notes, "new");
	ck_assert_int_eq(c->def->ttl, 20000000000LL);
	body = "{\"Name\": \"x\", \"TTL\": \"1s\", \"ServiceID\": \"nope\"}";
	ck_assert_int_eq(devreg_decode_check(body, strlen(body), 0, &d, err, sizeof(err)), 0);
	ck_assert_int_eq(devreg_store_register_check(s, d), -ENOENT);
	ck_assert_int_eq(devreg_store_deregister_check(s, "mem"), 0);
	ck_assert_int_eq(devreg_store_deregister_check(s, "mem"), -ENOENT);
	devreg_store_free(s);
}
END_TEST

START_TEST(output_is_cut_like_consul)
{
	struct devreg_store *s = new_store();
	struct devreg_check *c;
	char *big = malloc(5001);

	memset(big, 'x', 5000);
	big[5000] = '\0';
	ck_assert_int_eq(reg(s, "{\"Name\": \"w\", \"Check\": {\"TTL\": \"1s\"}}", 0), 0);
	c = devreg_store_check(s, "service:w");
	devreg_store_check_update(s, c, DEVREG_PASSING, big);
	ck_assert_int_eq(strncmp(c->output, big, 4096), 0);
	ck_assert_str_eq(c->output + 4096, " ... (captured 4096 of 5000 bytes)");
	free(big);
	devreg_store_free(s);
}
END_TEST

START_TEST(maintenance_checks)
{
	struct devreg_store *s = new_store();
	struct devreg_service *w;
	struct devreg_check *m;
	uint64_t idx;

	ck_assert_int_eq(reg(s, "{\"Name\": \"w\"}", 0), 0);
	w = devreg_store_service(s, "w");
	ck_assert_int_eq(devreg_store_service_maintenance(s, w, 1, NULL), 0);
	m = devreg_store_check(s, "_service_maintenance:w");
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->status, DEVREG_CRITICAL);
	ck_assert_int_eq(m->type, DEVREG_CT_MAINTENANCE);
	ck_assert_str_eq(m->name, "Service Maintenance Mode");
	ck_assert_str_eq(m->notes,
			 "Maintenance mode is enabled for this service, but no reason was provided. This is a default message.");
	idx = s->index;
	ck_assert_int_eq(devreg_store_service_maintenance(s, w, 1, "again"), 0);
	ck_assert_uint_eq(s->index, idx);   /* idempotent */
	ck_assert_int_eq(devreg_store_service_maintenance(s, w, 0, NULL), 0);
	ck_assert_ptr_null(devreg_store_check(s, "_service_maintenance:w"));

	idx = devreg_store_health_index(s, "w");
	ck_assert_int_eq(devreg_store_node_maintenance(s, 1, "upgrade"), 0);
	m = devreg_store_check(s, DEVREG_NODE_MAINT_ID);
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_null(m->service);
	ck_assert_str_eq(m->notes, "upgrade");
	/* Node checks show in every instance's health: their index moves. */
	ck_assert_uint_gt(devreg_store_health_index(s, "w"), idx);
	/* Deregistering a service takes its maintenance check along. */
	ck_assert_int_eq(devreg_store_service_maintenance(s, w, 1, "x"), 0);
	ck_assert_int_eq(devreg_store_deregister_service(s, "w"), 0);
	ck_assert_ptr_null(devreg_store_check(s, "_service_maintenance:w"));
	devreg_store_free(s);
}
END_TEST

START_TEST(reaper_follows_critical_time)
{
	struct devreg_store *s = new_store();
	struct devreg_check *c;

	ck_assert_int_eq(reg(s, "{\"Name\": \"w\", \"Check\": {\"TTL\": \"10s\","
			     " \"DeregisterCriticalServiceAfter\": \"10s\"}}", 0), 0);
	c = devreg_store_check(s, "service:w");
	/* Below the floor: raised to deregister_min (60 s). */
	ck_assert_int_eq(c->deregister_after_ms, 60000);
	/* Added as critical, but the clock starts at the first critical result. */
	ck_assert_int_eq(c->critical_since_set, 0);
	fake_now = 500000;
	ck_assert_uint_eq(devreg_store_reap(s), 0);
	devreg_store_check_update(s, c, DEVREG_CRITICAL, "TTL expired");
	ck_assert_int_eq(c->critical_since_set, 1);
	fake_now += 30000;
	devreg_store_check_update(s, c, DEVREG_CRITICAL, "still");  /* keeps the start */
	fake_now += 30000;
	ck_assert_int_eq(devreg_check_reap_due(c, fake_now), 0);   /* exactly 60 s */
	/* A passing result resets the clock. */
	devreg_store_check_update(s, c, DEVREG_PASSING, "");
	ck_assert_int_eq(c->critical_since_set, 0);
	devreg_store_check_update(s, c, DEVREG_CRITICAL, "down");
	fake_now += 59000;
	ck_assert_uint_eq(devreg_store_reap(s), 0);
	fake_now += 2000;
	ck_assert_int_eq(devreg_check_reap_due(c, fake_now), 1);
	ck_assert_uint_eq(devreg_store_reap(s), 1);
	ck_assert_ptr_null(devreg_store_service(s, "w"));
	ck_assert_ptr_null(devreg_store_check(s, "service:w"));
	ck_assert_int_eq(stopped_calls, 1);
	devreg_store_free(s);
}
END_TEST

START_TEST(reaper_ignores_checks_without_timeout)
{
	struct devreg_store *s = new_store();
	struct devreg_check *c;

	ck_assert_int_eq(reg(s, "{\"Name\": \"w\", \"Check\": {\"TTL\": \"10s\"}}", 0), 0);
	c = devreg_store_check(s, "service:w");
	devreg_store_check_update(s, c, DEVREG_CRITICAL, "down");
	fake_now += 10 * 3600 * 1000;
	ck_assert_uint_eq(devreg_store_reap(s), 0);
	ck_assert_ptr_nonnull(devreg_store_service(s, "w"));
	devreg_store_free(s);
}
END_TEST

START_TEST(kv_cas_and_indexes)
{
	struct devreg_store *s = new_store();
	struct devreg_kv *e;
	uint64_t idx, created;

	ck_assert_int_eq(devreg_kv_put(s, "a/b", "v1", 2, 0, 1, 0), 1);  /* cas=0: create */
	e = devreg_kv_get(s, "a/b");
	ck_assert_ptr_nonnull(e);
	created = e->create_index;
	ck_assert_uint_eq(e->modify_index, created);
	ck_assert_int_eq(devreg_kv_put(s, "a/b", "v2", 2, 0, 1, 0), 0);  /* exists */
	ck_assert_int_eq(devreg_kv_put(s, "a/b", "v2", 2, 0, 1, created + 5), 0);
	ck_assert_int_eq(devreg_kv_put(s, "a/b", "v2", 2, 7, 1, created), 1);
	ck_assert_uint_gt(e->modify_index, created);
	ck_assert_uint_eq(e->create_index, created);
	ck_assert_uint_eq(e->flags, 7);
	ck_assert_int_eq(memcmp(e->value, "v2", 2), 0);
	/* The same value again: true, but no new index. */
	idx = s->index;
	ck_assert_int_eq(devreg_kv_put(s, "a/b", "v2", 2, 7, 0, 0), 1);
	ck_assert_uint_eq(s->index, idx);
	/* Missing key: CAS with an index fails; the key index is the table's. */
	ck_assert_int_eq(devreg_kv_put(s, "zz", "x", 1, 0, 1, 3), 0);
	ck_assert_uint_eq(devreg_kv_key_index(s, "zz"), s->kv_index);
	/* An empty value is stored as null. */
	ck_assert_int_eq(devreg_kv_put(s, "empty", NULL, 0, 0, 0, 0), 1);
	ck_assert_int_eq(devreg_kv_get(s, "empty")->has_value, 0);

	/* Deletes: missing is true and moves nothing; CAS must match. */
	idx = s->index;
	ck_assert_int_eq(devreg_kv_delete(s, "nope", 0, 0), 1);
	ck_assert_uint_eq(s->index, idx);
	ck_assert_int_eq(devreg_kv_delete(s, "a/b", 1, 0), 0);
	ck_assert_int_eq(devreg_kv_delete(s, "a/b", 1, e->modify_index + 1), 0);
	ck_assert_int_eq(devreg_kv_delete(s, "a/b", 1, e->modify_index), 1);
	ck_assert_ptr_null(devreg_kv_get(s, "a/b"));
	devreg_store_free(s);
}
END_TEST

START_TEST(kv_prefix_index_and_tombstones)
{
	struct devreg_store *s = new_store();
	uint64_t p1, p2, p3;
	size_t first, n;

	devreg_kv_put(s, "web/a", "1", 1, 0, 0, 0);
	devreg_kv_put(s, "web/b/c", "1", 1, 0, 0, 0);
	devreg_kv_put(s, "web/b/d", "1", 1, 0, 0, 0);
	devreg_kv_put(s, "other", "1", 1, 0, 0, 0);
	p1 = devreg_kv_prefix_index(s, "web/");
	ck_assert_uint_lt(p1, s->kv_index);     /* "other" is not under web/ */
	/* Deleting the highest key leaves a tombstone: the index never drops. */
	ck_assert_int_eq(devreg_kv_delete(s, "web/b/d", 0, 0), 1);
	p2 = devreg_kv_prefix_index(s, "web/");
	ck_assert_uint_gt(p2, p1);
	n = devreg_kv_range(s, "web/", &first);
	ck_assert_uint_eq(n, 3);                 /* the tombstone is still there */
	ck_assert_int_eq(s->kv[first + 2]->deleted, 1);
	/* Re-creating a deleted key gives it a fresh CreateIndex. */
	devreg_kv_put(s, "web/b/d", "2", 1, 0, 0, 0);
	ck_assert_uint_gt(devreg_kv_get(s, "web/b/d")->create_index, p2);
	/* Recursive delete of everything under a prefix, one index. */
	ck_assert_uint_eq(devreg_kv_delete_tree(s, "web/"), 3);
	p3 = devreg_kv_prefix_index(s, "web/");
	ck_assert_uint_gt(p3, p2);
	ck_assert_uint_eq(devreg_kv_delete_tree(s, "web/"), 0);
	ck_assert_uint_eq(devreg_kv_prefix_index(s, "web/"), p3);
	ck_assert_ptr_nonnull(devreg_kv_get(s, "other"));
	/* A prefix nothing was ever under answers the table index. */
	ck_assert_uint_eq(devreg_kv_prefix_index(s, "never/"), s->kv_index);
	devreg_store_free(s);
}
END_TEST

static void
keys_are(struct devreg_store *s, const char *prefix, const char *sep,
	 const char *const *want, size_t nwant)
{
	char **keys = NULL;
	size_t n = 0;

	ck_assert_int_eq(devreg_kv_keys(s, prefix, sep, &keys, &n), 0);
	ck_assert_uint_eq(n, nwant);
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_eq(keys[i], want[i]);
		free(keys[i]);
	}
	free(keys);
}

START_TEST(kv_keys_with_separator)
{
	struct devreg_store *s = new_store();
	static const char *const all[] = { "web/a", "web/b/c", "web/b/d", "web/c" };
	static const char *const cut[] = { "web/a", "web/b/", "web/c" };
	static const char *const root[] = { "web/" };

	devreg_kv_put(s, "web/b/d", "1", 1, 0, 0, 0);
	devreg_kv_put(s, "web/a", "1", 1, 0, 0, 0);
	devreg_kv_put(s, "web/c", "1", 1, 0, 0, 0);
	devreg_kv_put(s, "web/b/c", "1", 1, 0, 0, 0);
	devreg_kv_put(s, "web/x", "1", 1, 0, 0, 0);
	devreg_kv_delete(s, "web/x", 0, 0);
	keys_are(s, "web/", NULL, all, 4);
	keys_are(s, "web/", "/", cut, 3);
	keys_are(s, "", "/", root, 1);
	keys_are(s, "nothing/", "/", NULL, 0);
	devreg_store_free(s);
}
END_TEST

START_TEST(many_services_stay_consistent)
{
	struct devreg_store *s = new_store();
	char body[256], id[32];
	uint64_t last = 0;

	for (int i = 0; i < 2000; i++) {
		snprintf(body, sizeof(body),
			 "{\"Name\": \"svc%d\", \"ID\": \"id%d\", \"Check\": {\"TTL\": \"1m\"}}",
			 i % 50, i);
		ck_assert_int_eq(reg(s, body, 0), 0);
		ck_assert_uint_gt(s->index, last);
		last = s->index;
	}
	ck_assert_uint_eq(s->nservices, 2001);
	ck_assert_uint_eq(devreg_store_group(s, "svc7")->count, 40);
	for (int i = 0; i < 2000; i += 2) {
		snprintf(id, sizeof(id), "id%d", i);
		ck_assert_int_eq(devreg_store_deregister_service(s, id), 0);
	}
	ck_assert_uint_eq(s->nservices, 1001);
	ck_assert_uint_eq(s->nchecks, 1001);
	for (int i = 1; i < 2000; i += 2) {
		snprintf(id, sizeof(id), "id%d", i);
		ck_assert_ptr_nonnull(devreg_store_service(s, id));
		snprintf(id, sizeof(id), "service:id%d", i);
		ck_assert_ptr_nonnull(devreg_store_check(s, id));
	}
	devreg_store_free(s);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("devreg_store");
	TCase *tc = tcase_create("store");

	tcase_add_test(tc, starts_with_node_serf_and_consul);
	tcase_add_test(tc, check_id_and_name_defaults);
	tcase_add_test(tc, indexes_move_only_on_real_changes);
	tcase_add_test(tc, service_index_never_goes_down);
	tcase_add_test(tc, replace_existing_checks);
	tcase_add_test(tc, check_registration_keeps_status);
	tcase_add_test(tc, output_is_cut_like_consul);
	tcase_add_test(tc, maintenance_checks);
	tcase_add_test(tc, reaper_follows_critical_time);
	tcase_add_test(tc, reaper_ignores_checks_without_timeout);
	tcase_add_test(tc, kv_cas_and_indexes);
	tcase_add_test(tc, kv_prefix_index_and_tombstones);
	tcase_add_test(tc, kv_keys_with_separator);
	tcase_add_test(tc, many_services_stay_consistent);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_main_run(suite());
}
