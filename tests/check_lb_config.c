/*
 * check_lb_config.c - the daemon's configuration: every key's default,
 * precedence of flags, environment (SWITCHYARD_ over FABIO_), file and
 * defaults, the exact message for each kind of bad value and unknown key,
 * the properties file syntax and its line numbers, SIGHUP reload, -h, and
 * that man/switchyard.8 documents every key with its default (found
 * through $top_srcdir).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lb/lb_config.h"
#include "lb/lb_config_internal.h"
#include "tests/check_main.h"

#define NS_S INT64_C(1000000000)
#define NS_MS INT64_C(1000000)
#define MAX_ARGS 32

/* Load from flags args and environment env (both NULL-terminated, args
 * without argv[0]). */
static int
load(struct lb_config *c, struct lb_config_err *err, const char *const *args,
     const char *const *env)
{
	char *argv[MAX_ARGS + 2] = { "switchyard" };
	char *envp[MAX_ARGS + 1] = { NULL };
	int argc = 1;

	for (; args != NULL && args[argc - 1] != NULL; argc++) {
		ck_assert_int_lt(argc, MAX_ARGS);
		argv[argc] = (char *)args[argc - 1];
	}
	argv[argc] = NULL;
	for (int i = 0; env != NULL && env[i] != NULL; i++) {
		ck_assert_int_lt(i, MAX_ARGS);
		envp[i] = (char *)env[i];
	}
	return lb_config_load(c, argc, argv, envp, err);
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NOARGS ((const char *const *)NULL)

/* A temporary file holding text; the path lives in buf. */
static const char *
temp_file(char *buf, size_t len, const char *text)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	snprintf(buf, len, "%s/check_lb_config.XXXXXX", dir != NULL ? dir : "/tmp");
	fd = mkstemp(buf);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return buf;
}

static void
rewrite_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* Loading must fail with -EINVAL and exactly this message. */
static void
load_fails(const char *const *args, const char *const *env, const char *want)
{
	struct lb_config c;
	struct lb_config_err err;
	int rc = load(&c, &err, args, env);

	ck_assert_msg(rc == -EINVAL, "rc %d, want -EINVAL (%s)", rc, want);
	ck_assert_str_eq(err.msg, want);
	/* A failed load leaves nothing to free, and freeing is still safe. */
	ck_assert_ptr_null(c.proxy_addr);
	ck_assert_ptr_null(c.args);
	lb_config_free(&c);
}

/* The flag -key=value must fail with `key: bad value "value": why`. */
static void
bad_value(const char *key, const char *value, const char *why)
{
	char flag[256], want[512];
	struct lb_config c;
	struct lb_config_err err;

	snprintf(flag, sizeof(flag), "-%s=%s", key, value);
	snprintf(want, sizeof(want), "%s: bad value \"%s\": %s", key, value, why);
	ck_assert_int_eq(load(&c, &err, ARGS(flag), NULL), -EINVAL);
	ck_assert_str_eq(err.msg, want);
	ck_assert_str_eq(err.key, key);
	ck_assert_str_eq(err.value, value);
	ck_assert_str_eq(err.source, "");
	ck_assert_int_eq(err.line, 0);
	lb_config_free(&c);
}

static void
good_value(const char *key, const char *value)
{
	char flag[256];
	struct lb_config c;
	struct lb_config_err err;
	int rc;

	snprintf(flag, sizeof(flag), "-%s=%s", key, value);
	rc = load(&c, &err, ARGS(flag), NULL);
	ck_assert_msg(rc == 0, "%s: %s", flag, err.msg);
	lb_config_free(&c);
}

/* ---- defaults -------------------------------------------------------- */

START_TEST(every_key_has_its_default)
{
	struct lb_config c;
	struct lb_config_err err;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	ck_assert_int_eq(load(&c, &err, NOARGS, NULL), 0);
	ck_assert_str_eq(c.proxy_addr, ":9999");
	ck_assert_int_eq(c.proxy_strategy, RT_STRATEGY_RR);
	ck_assert_int_eq(c.proxy_matcher, RT_MATCH_PREFIX);
	ck_assert_int_eq(c.proxy_noroutestatus, 404);
	ck_assert_int_eq(c.proxy_dialtimeout_ns, 30 * NS_S);
	ck_assert_int_eq(c.proxy_responseheadertimeout_ns, 0);
	ck_assert_int_eq(c.proxy_maxconn, 10000);
	ck_assert_int_eq(c.proxy_shutdownwait_ns, 0);
	ck_assert_int_eq(c.proxy_idleconntimeout_ns, 4 * NS_S);
	ck_assert_int_eq(c.proxy_workers, ncpu < 1 ? 1 : ncpu > 256 ? 256 : ncpu);
	ck_assert_uint_eq(c.proxy_maxbody, 64u << 20);
	ck_assert_uint_eq(c.proxy_header_trustedcidrs.n, 0);
	ck_assert_str_eq(c.ui_addr, "127.0.0.1:9998");
	ck_assert_str_eq(c.consul_addr, "localhost:8500");
	ck_assert_str_eq(c.consul_token, "");
	ck_assert_str_eq(c.consul_kvpath, "/fabio/config");
	ck_assert_str_eq(c.consul_noroutehtmlpath, "/fabio/noroute.html");
	ck_assert_str_eq(c.consul_tagprefix, "urlprefix-");
	ck_assert_uint_eq(c.consul_service_status, LB_CONFIG_STATUS_BIT(CONSUL_STATUS_PASSING));
	ck_assert_int_eq(c.consul_checks_required, LB_CONFIG_CHECKS_ONE);
	ck_assert_int_eq(c.consul_require_consistent, 1);
	ck_assert_int_eq(c.consul_allow_stale, 0);
	ck_assert_int_eq(c.register_enabled, 1);
	ck_assert_str_eq(c.register_name, "switchyard");
	ck_assert_str_eq(c.register_addr, "127.0.0.1:9998");
	ck_assert_uint_eq(c.register_tags.n, 0);
	ck_assert_int_eq(c.register_check_interval_ns, 1 * NS_S);
	ck_assert_int_eq(c.register_check_timeout_ns, 3 * NS_S);
	ck_assert_str_eq(c.log_access_target, "");
	ck_assert_int_eq(c.log_access_format, LB_CONFIG_ACCESS_COMMON);
	ck_assert_int_eq(c.log_level, LB_CONFIG_LOG_INFO);
	ck_assert_int_eq(c.log_routes_format, LB_CONFIG_ROUTES_DELTA);
	ck_assert_str_eq(c.health_check_path, "");
	ck_assert_int_eq(c.health_check_interval_ns, 2 * NS_S);
	ck_assert_int_eq(c.health_check_timeout_ns, 2 * NS_S);
	ck_assert_int_eq(c.health_check_rise, 2);
	ck_assert_int_eq(c.health_check_fall, 3);
	ck_assert_int_eq(c.health_outlier_enabled, 1);
	ck_assert_int_eq(c.health_outlier_consecutive5xx, 5);
	ck_assert_int_eq(c.health_outlier_basetime_ns, 30 * NS_S);
	ck_assert_int_eq(c.health_outlier_maxtime_ns, 300 * NS_S);
	ck_assert_int_eq(c.health_outlier_maxpercent, 50);
	ck_assert_int_eq(c.help, 0);
	ck_assert_int_eq(c.version, 0);
	ck_assert_int_eq(c.dev, 0);
	ck_assert_ptr_null(c.cfg_path);
	lb_config_free(&c);
	lb_config_free(&c);       /* idempotent */
	lb_config_free(NULL);
}
END_TEST

START_TEST(defaults_alone_match_an_empty_load)
{
	struct lb_config a, b;
	struct lb_config_err err;

	ck_assert_int_eq(lb_config_defaults(&a), 0);
	ck_assert_int_eq(lb_config_load(&b, 0, NULL, NULL, &err), 0);
	for (size_t i = 0; i < lb_config_nkeys; i++)
		ck_assert_msg(lb_config_value_equal(&lb_config_keys[i], &a, &b),
			      "%s", lb_config_keys[i].name);
	lb_config_free(&a);
	lb_config_free(&b);
}
END_TEST

START_TEST(table_rows_are_well_formed)
{
	for (size_t i = 0; i < lb_config_nkeys; i++) {
		const struct lb_config_key *k = &lb_config_keys[i];

		ck_assert_ptr_nonnull(k->help);
		/* -h indents help by 6: keep lines within 78 columns. */
		ck_assert_msg(strlen(k->help) <= 72, "%s: help too long", k->name);
		ck_assert_ptr_nonnull(k->metavar);
		ck_assert_ptr_nonnull(lb_config_key_default_text(k));
		ck_assert_ptr_eq(lb_config_key_find(k->name), k);
		for (size_t j = 0; j < i; j++)
			ck_assert_msg(strcasecmp(k->name, lb_config_keys[j].name) != 0,
				      "%s twice", k->name);
		if (k->type == LB_CFG_ENUM || k->type == LB_CFG_FLAGS)
			ck_assert_ptr_nonnull(k->names);
	}
	ck_assert_uint_le(lb_config_nkeys, LB_CONFIG_MAX_KEYS);
}
END_TEST

/* ---- sources and precedence ------------------------------------------ */

START_TEST(flag_over_env_over_file_over_default)
{
	char path[256];
	struct lb_config c;
	struct lb_config_err err;
	const char *cfg = temp_file(path, sizeof(path),
				    "proxy.addr = :1001\nproxy.workers = 3\n"
				    "log.level = ERROR\n");

	ck_assert_int_eq(load(&c, &err, ARGS("-cfg", cfg, "-proxy.addr=:1004"),
			      ARGS("FABIO_PROXY_ADDR=:1002", "SWITCHYARD_PROXY_ADDR=:1003",
				   "FABIO_PROXY_WORKERS=5")), 0);
	ck_assert_str_eq(c.proxy_addr, ":1004");
	ck_assert_int_eq(c.proxy_workers, 5);            /* env over file */
	ck_assert_int_eq(c.log_level, LB_CONFIG_LOG_ERROR); /* file over default */
	ck_assert_str_eq(c.cfg_path, cfg);
	lb_config_free(&c);

	ck_assert_int_eq(load(&c, &err, ARGS("-cfg", cfg),
			      ARGS("FABIO_PROXY_ADDR=:1002", "SWITCHYARD_PROXY_ADDR=:1003")), 0);
	ck_assert_str_eq(c.proxy_addr, ":1003");
	lb_config_free(&c);

	ck_assert_int_eq(load(&c, &err, ARGS("-cfg", cfg), ARGS("FABIO_PROXY_ADDR=:1002")), 0);
	ck_assert_str_eq(c.proxy_addr, ":1002");
	lb_config_free(&c);

	ck_assert_int_eq(load(&c, &err, ARGS("-cfg=" "/dev/null"), NULL), 0);
	ck_assert_str_eq(c.proxy_addr, ":9999");
	lb_config_free(&c);

	ck_assert_int_eq(load(&c, &err, ARGS("-cfg", cfg), NULL), 0);
	ck_assert_str_eq(c.proxy_addr, ":1001");
	ck_assert_int_eq(c.proxy_workers, 3);
	lb_config_free(&c);
	unlink(cfg);
}
END_TEST

START_TEST(switchyard_env_wins_over_fabio_in_any_order)
{
	struct lb_config c;
	struct lb_config_err err;

	ck_assert_int_eq(load(&c, &err, NOARGS,
			      ARGS("SWITCHYARD_PROXY_STRATEGY=rnd", "FABIO_PROXY_STRATEGY=rr")), 0);
	ck_assert_int_eq(c.proxy_strategy, RT_STRATEGY_RND);
	lb_config_free(&c);
	ck_assert_int_eq(load(&c, &err, NOARGS,
			      ARGS("FABIO_PROXY_STRATEGY=rr", "SWITCHYARD_PROXY_STRATEGY=rnd")), 0);
	ck_assert_int_eq(c.proxy_strategy, RT_STRATEGY_RND);
	lb_config_free(&c);
}
END_TEST

START_TEST(env_names_match_in_any_case)
{
	struct lb_config c;
	struct lb_config_err err;

	ck_assert_int_eq(load(&c, &err, NOARGS,
			      ARGS("SWITCHYARD_REGISTRY_CONSUL_CHECKSREQUIRED=all",
				   "switchyard_proxy_addr=127.0.0.1:7000",
				   "Fabio_Registry_Consul_Register_CheckInterval=250ms",
				   "FABIO_REGISTRY_CONSUL_SERVICE_STATUS=passing, warning",
				   "PATH=/usr/bin", "FABIOUS=1", "SWITCHYARDX_Y=1",
				   "NOEQUALS")), 0);
	ck_assert_int_eq(c.consul_checks_required, LB_CONFIG_CHECKS_ALL);
	ck_assert_str_eq(c.proxy_addr, "127.0.0.1:7000");
	ck_assert_int_eq(c.register_check_interval_ns, 250 * NS_MS);
	ck_assert_uint_eq(c.consul_service_status,
			  LB_CONFIG_STATUS_BIT(CONSUL_STATUS_PASSING) |
			  LB_CONFIG_STATUS_BIT(CONSUL_STATUS_WARNING));
	/* Only our variables are kept for a reload. */
	ck_assert_ptr_nonnull(c.env[0]);
	ck_assert_ptr_nonnull(c.env[3]);
	ck_assert_ptr_null(c.env[4]);
	lb_config_free(&c);
}
END_TEST

START_TEST(flag_forms)
{
	struct lb_config c;
	struct lb_config_err err;

	ck_assert_int_eq(load(&c, &err, ARGS("-proxy.addr", ":1", "--ui.addr=:2",
					     "--registry.consul.token", "-secret-",
					     "-Registry.Consul.CheckSrequired=all",
					     "-registry.consul.register.enabled=false",
					     "-registry.consul.allowStale",
					     "-registry.consul.requireConsistent=0",
					     "-proxy.header.trustedcidrs=10.0.0.0/8, ::1,,",
					     "-registry.consul.register.tags", "a,b",
					     "-dev"), NULL), 0);
	ck_assert_str_eq(c.proxy_addr, ":1");
	ck_assert_str_eq(c.ui_addr, ":2");
	ck_assert_str_eq(c.register_addr, ":2");  /* follows ui.addr */
	ck_assert_str_eq(c.consul_token, "-secret-");
	ck_assert_int_eq(c.consul_checks_required, LB_CONFIG_CHECKS_ALL);
	ck_assert_int_eq(c.register_enabled, 0);
	ck_assert_int_eq(c.consul_allow_stale, 1);
	ck_assert_int_eq(c.consul_require_consistent, 0);
	ck_assert_uint_eq(c.proxy_header_trustedcidrs.n, 2);
	ck_assert_str_eq(c.proxy_header_trustedcidrs.v[0], "10.0.0.0/8");
	ck_assert_str_eq(c.proxy_header_trustedcidrs.v[1], "::1");
	ck_assert_uint_eq(c.register_tags.n, 2);
	ck_assert_str_eq(c.register_tags.v[1], "b");
	ck_assert_int_eq(c.dev, 1);
	lb_config_free(&c);

	/* The last of a repeated flag wins; register.addr set explicitly. */
	ck_assert_int_eq(load(&c, &err, ARGS("-proxy.workers=2", "-proxy.workers", "7",
					     "-registry.consul.register.addr=10.1.2.3:9998",
					     "-dev=false", "--"), NULL), 0);
	ck_assert_int_eq(c.proxy_workers, 7);
	ck_assert_str_eq(c.register_addr, "10.1.2.3:9998");
	ck_assert_int_eq(c.dev, 0);
	lb_config_free(&c);
}
END_TEST

START_TEST(help_and_version_win_over_errors)
{
	const char *const *cases[] = {
		ARGS("-h"), ARGS("-help"), ARGS("--help"),
		ARGS("-proxy.bogus=1", "-h"), ARGS("-proxy.workers=x", "-help"),
		ARGS("-cfg", "/nonexistent/file", "-h"),
	};
	struct lb_config c;
	struct lb_config_err err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(load(&c, &err, cases[i], ARGS("SWITCHYARD_NOPE=1")), 0);
		ck_assert_int_eq(c.help, 1);
		ck_assert_str_eq(err.msg, "");
		lb_config_free(&c);
	}
	ck_assert_int_eq(load(&c, &err, ARGS("-v"), NULL), 0);
	ck_assert_int_eq(c.version, 1);
	ck_assert_int_eq(c.help, 0);
	lb_config_free(&c);
	ck_assert_int_eq(load(&c, &err, ARGS("--version"), NULL), 0);
	ck_assert_int_eq(c.version, 1);
	lb_config_free(&c);
}
END_TEST

START_TEST(flag_syntax_errors)
{
	load_fails(ARGS("-proxy.addr"), NULL, "-proxy.addr needs a value");
	load_fails(ARGS("-cfg"), NULL, "-cfg needs a value");
	load_fails(ARGS("-cfg="), NULL, "-cfg needs a file name");
	load_fails(ARGS("serve"), NULL, "unexpected argument \"serve\"");
	load_fails(ARGS("-"), NULL, "unexpected argument \"-\"");
	load_fails(ARGS("---proxy.addr=:1"), NULL, "unexpected argument \"---proxy.addr=:1\"");
	load_fails(ARGS("--", "extra"), NULL, "unexpected argument \"extra\"");
	load_fails(ARGS("-dev=maybe"), NULL, "-dev: bad value \"maybe\": want true or false");
	/* The first error is the one reported. */
	load_fails(ARGS("-proxy.workers=1", "-nope", "-other"), NULL, "unknown key \"nope\"");
}
END_TEST

/* ---- unknown keys ---------------------------------------------------- */

START_TEST(unknown_keys_from_each_source)
{
	char path[256];
	const char *cfg;
	struct lb_config c;
	struct lb_config_err err;

	load_fails(ARGS("-proxy.adr=:1"), NULL,
		   "unknown key \"proxy.adr\" (did you mean proxy.addr?)");
	load_fails(ARGS("-proxy_addr=:1"), NULL,
		   "unknown key \"proxy_addr\" (did you mean proxy.addr?)");
	load_fails(ARGS("-metrics.target=stdout"), NULL, "unknown key \"metrics.target\"");
	load_fails(NOARGS, ARGS("SWITCHYARD_PROXY_ADR=:1"),
		   "SWITCHYARD_PROXY_ADR: unknown key (did you mean SWITCHYARD_PROXY_ADDR?)");
	load_fails(NOARGS, ARGS("FABIO_METRICS_TARGET=stdout"),
		   "FABIO_METRICS_TARGET: unknown key");
	load_fails(NOARGS, ARGS("SWITCHYARD_=1"), "SWITCHYARD_: unknown key");

	cfg = temp_file(path, sizeof(path),
			"# a comment\n\nproxy.addr = :1\nproxy.matchr = glob\n");
	ck_assert_int_eq(load(&c, &err, ARGS("-cfg", cfg), NULL), -EINVAL);
	{
		char want[512];

		snprintf(want, sizeof(want),
			 "%s:4: unknown key \"proxy.matchr\" (did you mean proxy.matcher?)", cfg);
		ck_assert_str_eq(err.msg, want);
	}
	ck_assert_str_eq(err.key, "proxy.matchr");
	ck_assert_str_eq(err.source, cfg);
	ck_assert_int_eq(err.line, 4);
	unlink(cfg);
}
END_TEST

/* ---- bad values, one kind per type ----------------------------------- */

START_TEST(bad_ints)
{
	bad_value("proxy.workers", "x", "want an integer 1..256");
	bad_value("proxy.workers", "0", "want an integer 1..256");
	bad_value("proxy.workers", "257", "want an integer 1..256");
	bad_value("proxy.workers", "2 ", "want an integer 1..256");
	bad_value("proxy.workers", "", "want an integer 1..256");
	bad_value("proxy.workers", "99999999999999999999", "want an integer 1..256");
	bad_value("proxy.noroutestatus", "99", "want an integer 100..999");
	bad_value("proxy.noroutestatus", "1000", "want an integer 100..999");
	bad_value("proxy.maxconn", "0", "want an integer 1..1000000");
	good_value("proxy.noroutestatus", "100");
	good_value("proxy.noroutestatus", "999");
	good_value("proxy.workers", "+256");
}
END_TEST

START_TEST(bad_durations)
{
	const char *shape = "want a duration such as 500ms, 30s or 1m30s";

	bad_value("proxy.dialtimeout", "10", shape);
	bad_value("proxy.dialtimeout", "10x", shape);
	bad_value("proxy.dialtimeout", "", shape);
	bad_value("proxy.dialtimeout", "0", "want a duration > 0");
	bad_value("proxy.idleconntimeout", "0s", "want a duration > 0");
	bad_value("registry.consul.register.checkTimeout", "-1s", "want a duration > 0");
	bad_value("proxy.shutdownwait", "-1ms", "want a duration >= 0");
	good_value("proxy.shutdownwait", "0");
	good_value("proxy.responseheadertimeout", "1m30s");
}
END_TEST

START_TEST(bad_sizes)
{
	const char *want = "want a size in bytes with an optional k, m or g suffix, "
			   "such as 64m";
	uint64_t v = 0;

	bad_value("proxy.maxbody", "1x", want);
	bad_value("proxy.maxbody", "-1", want);
	bad_value("proxy.maxbody", "1.5m", want);
	bad_value("proxy.maxbody", "m", want);
	bad_value("proxy.maxbody", "99999999999g", want);
	bad_value("proxy.maxbody", "99999999999999999999", want);

	ck_assert_int_eq(lb_config_parse_size("0", &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(lb_config_parse_size("512", &v), 0);
	ck_assert_uint_eq(v, 512);
	ck_assert_int_eq(lb_config_parse_size("512b", &v), 0);
	ck_assert_uint_eq(v, 512);
	ck_assert_int_eq(lb_config_parse_size("1k", &v), 0);
	ck_assert_uint_eq(v, 1024);
	ck_assert_int_eq(lb_config_parse_size("2KiB", &v), 0);
	ck_assert_uint_eq(v, 2048);
	ck_assert_int_eq(lb_config_parse_size("64m", &v), 0);
	ck_assert_uint_eq(v, UINT64_C(64) << 20);
	ck_assert_int_eq(lb_config_parse_size("3GB", &v), 0);
	ck_assert_uint_eq(v, UINT64_C(3) << 30);
	ck_assert_int_lt(lb_config_parse_size("18014398509481984k", &v), 0);
}
END_TEST

START_TEST(bad_bools)
{
	const char *ok[] = { "1", "t", "T", "TRUE", "true", "True" };
	const char *no[] = { "0", "f", "F", "FALSE", "false", "False" };
	int b;

	bad_value("registry.consul.allowStale", "yes", "want true or false");
	bad_value("registry.consul.register.enabled", "tRUE", "want true or false");
	bad_value("registry.consul.register.enabled", "", "want true or false");
	for (size_t i = 0; i < 6; i++) {
		ck_assert_int_eq(lb_config_parse_bool(ok[i], &b), 0);
		ck_assert_int_eq(b, 1);
		ck_assert_int_eq(lb_config_parse_bool(no[i], &b), 0);
		ck_assert_int_eq(b, 0);
	}
}
END_TEST

START_TEST(bad_enums_and_flags)
{
	struct lb_config c;
	struct lb_config_err err;

	bad_value("proxy.strategy", "wrr", "want one of rr, rnd");
	bad_value("proxy.matcher", "regex", "want one of prefix, glob, iprefix");
	bad_value("registry.consul.checksRequired", "any", "want one of one, all");
	bad_value("log.access.format", "{{.Method}}", "want one of common, combined, json");
	bad_value("log.level", "FATAL", "want one of TRACE, DEBUG, INFO, WARN, ERROR");
	bad_value("log.routes.format", "", "want one of delta, detail, all");
	bad_value("registry.consul.service.status", "passing,bogus",
		  "want a comma list of passing, warning, critical");
	bad_value("registry.consul.service.status", " , ",
		  "want a comma list of passing, warning, critical");

	ck_assert_int_eq(load(&c, &err, ARGS("-log.level=debug", "-proxy.matcher=GLOB",
					     "-registry.consul.service.status=critical,PASSING",
					     "-log.access.format", "json",
					     "-log.routes.format=all"), NULL), 0);
	ck_assert_int_eq(c.log_level, LB_CONFIG_LOG_DEBUG);
	ck_assert_int_eq(c.proxy_matcher, RT_MATCH_GLOB);
	ck_assert_uint_eq(c.consul_service_status,
			  LB_CONFIG_STATUS_BIT(CONSUL_STATUS_PASSING) |
			  LB_CONFIG_STATUS_BIT(CONSUL_STATUS_CRITICAL));
	ck_assert_str_eq(lb_config_log_level_name(c.log_level), "DEBUG");
	ck_assert_str_eq(lb_config_access_format_name(c.log_access_format), "json");
	ck_assert_str_eq(lb_config_routes_format_name(c.log_routes_format), "all");
	lb_config_free(&c);
}
END_TEST

START_TEST(bad_addresses)
{
	const char *listen = "want [host]:port such as :9999, 127.0.0.1:9999 or [::1]:9999";
	const char *consul = "want host:port, http://host[:port] or https://host[:port]";
	const char *good[] = { ":9999", "127.0.0.1:9999", "[::1]:9999", "localhost:80",
			       "0.0.0.0:65535", "[::]:1", "my-host.example.com:8080" };

	bad_value("proxy.addr", "9999", listen);
	bad_value("proxy.addr", ":0", listen);
	bad_value("proxy.addr", ":65536", listen);
	bad_value("proxy.addr", ":99999", listen);
	bad_value("proxy.addr", ":http", listen);
	bad_value("proxy.addr", "::1:9999", listen);
	bad_value("proxy.addr", "[::1:9999", listen);
	bad_value("proxy.addr", "[::g]:9999", listen);
	bad_value("proxy.addr", "[::1]9999", listen);
	bad_value("proxy.addr", "1.2.3.4.5:80", listen);
	bad_value("proxy.addr", "300.1.1.1:80", listen);
	bad_value("proxy.addr", "bad host:80", listen);
	bad_value("proxy.addr", "", listen);
	bad_value("proxy.addr", ":9999;proto=https",
		  "listener options (;proto=...) are not supported");
	bad_value("ui.addr", ":9998,:9997", "want one address, not a list");
	bad_value("registry.consul.register.addr", "x", listen);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		good_value("proxy.addr", good[i]);

	bad_value("registry.consul.addr", "localhost", consul);
	bad_value("registry.consul.addr", ":8500", consul);
	bad_value("registry.consul.addr", "ftp://consul:8500", consul);
	bad_value("registry.consul.addr", "http://", consul);
	bad_value("registry.consul.addr", "http://consul:8500/v1", consul);
	good_value("registry.consul.addr", "consul.service:8500");
	good_value("registry.consul.addr", "http://127.0.0.1:8500");
	good_value("registry.consul.addr", "HTTPS://consul.example");
	good_value("registry.consul.addr", "http://[::1]:8500/");
}
END_TEST

START_TEST(bad_strings_and_lists)
{
	const char *cidr = "want IP addresses or CIDRs such as 10.0.0.0/8 or ::1";

	bad_value("registry.consul.kvpath", "", "want a non-empty value without blanks");
	bad_value("registry.consul.tagprefix", "url prefix-",
		  "want a non-empty value without blanks");
	bad_value("registry.consul.register.name", "", "want a non-empty value without blanks");
	bad_value("registry.consul.token", "a b", "want a value without blanks");
	bad_value("health.check.path", "health", "want empty or a path starting with /");
	bad_value("proxy.header.trustedcidrs", "10.0.0.0/33", cidr);
	bad_value("proxy.header.trustedcidrs", "10.0.0.0/8,nope", cidr);
	bad_value("proxy.header.trustedcidrs", "::1/129", cidr);
	bad_value("proxy.header.trustedcidrs", "10.0.0.0/", cidr);
	bad_value("proxy.header.trustedcidrs", "10.0.0.0/-1", cidr);
	bad_value("registry.consul.register.tags", "a,b c", "want a non-empty value without blanks");
	good_value("proxy.header.trustedcidrs", "10.0.0.0/8,192.168.1.1, fd00::/8,::1/128");
	good_value("health.check.path", "/health");
	good_value("registry.consul.noroutehtmlpath", "");
	good_value("log.access.target", "/var/log/switchyard access.log");
}
END_TEST

START_TEST(quoted_values_in_messages)
{
	/* Control bytes and quotes in a value are escaped as Go quotes them. */
	load_fails(ARGS("-proxy.workers=\""), NULL,
		   "proxy.workers: bad value \"\\\"\": want an integer 1..256");
	load_fails(ARGS("-proxy.workers=a\tb"), NULL,
		   "proxy.workers: bad value \"a\\x09b\": want an integer 1..256");
}
END_TEST

START_TEST(consistent_and_stale_conflict)
{
	load_fails(ARGS("-registry.consul.allowStale=true"), NULL,
		   "registry.consul.allowStale: bad value \"true\": "
		   "registry.consul.requireConsistent is true too; set one of them to false");
	good_value("registry.consul.allowStale", "false");
	{
		struct lb_config c;
		struct lb_config_err err;

		ck_assert_int_eq(load(&c, &err, ARGS("-registry.consul.allowStale",
						     "-registry.consul.requireConsistent=false"),
				      NULL), 0);
		lb_config_free(&c);
	}
}
END_TEST

START_TEST(outlier_times_in_order)
{
	load_fails(ARGS("-health.outlier.basetime=10m"), NULL,
		   "health.outlier.maxtime: bad value \"300000ms\": "
		   "want at least health.outlier.basetime");
	load_fails(ARGS("-health.outlier.maxtime=1s"), NULL,
		   "health.outlier.maxtime: bad value \"1000ms\": "
		   "want at least health.outlier.basetime");
	bad_value("health.outlier.maxpercent", "101", "want an integer 0..100");
	bad_value("health.check.rise", "0", "want an integer 1..1000");
	good_value("health.outlier.maxtime", "30s");
	good_value("health.outlier.maxpercent", "0");
	good_value("health.check.interval", "100ms");
}
END_TEST

START_TEST(env_and_file_errors_name_their_source)
{
	char path[256], want[512];
	const char *cfg;
	struct lb_config c;
	struct lb_config_err err;

	load_fails(NOARGS, ARGS("SWITCHYARD_PROXY_DIALTIMEOUT=10"),
		   "SWITCHYARD_PROXY_DIALTIMEOUT: proxy.dialtimeout: bad value \"10\": "
		   "want a duration such as 500ms, 30s or 1m30s");
	ck_assert_int_eq(load(&c, &err, NOARGS, ARGS("fabio_proxy_workers=0")), -EINVAL);
	ck_assert_str_eq(err.source, "fabio_proxy_workers");
	ck_assert_str_eq(err.key, "proxy.workers");
	ck_assert_str_eq(err.value, "0");

	cfg = temp_file(path, sizeof(path),
			"! fabio style comment\r\n"
			"proxy.addr = \\\n"
			"   :1\r\n"
			"\n"
			"proxy.workers=   nine   \n");
	ck_assert_int_eq(load(&c, &err, ARGS("-cfg", cfg), NULL), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s:5: proxy.workers: bad value \"nine\": want an integer 1..256", cfg);
	ck_assert_str_eq(err.msg, want);
	ck_assert_int_eq(err.line, 5);
	ck_assert_str_eq(err.source, cfg);
	ck_assert_str_eq(err.value, "nine");

	rewrite_file(cfg, "proxy.addr = :1\n\ngarbage here\n");
	ck_assert_int_eq(load(&c, &err, ARGS("-cfg", cfg), NULL), -EINVAL);
	snprintf(want, sizeof(want), "%s:3: want key = value, not \"garbage here\"", cfg);
	ck_assert_str_eq(err.msg, want);

	rewrite_file(cfg, "= value\n");
	ck_assert_int_eq(load(&c, &err, ARGS("-cfg", cfg), NULL), -EINVAL);
	snprintf(want, sizeof(want), "%s:1: want key = value, not \"= value\"", cfg);
	ck_assert_str_eq(err.msg, want);
	unlink(cfg);

	ck_assert_int_eq(load(&c, &err, ARGS("-cfg", "/nonexistent/sw.properties"), NULL),
			 -ENOENT);
	ck_assert_str_eq(err.msg, "-cfg /nonexistent/sw.properties: No such file or directory");
	ck_assert_int_eq(load(&c, &err, ARGS("-cfg", "http://x/cfg"), NULL), -EINVAL);
	ck_assert_str_eq(err.msg, "-cfg http://x/cfg: only a local file is supported, not a URL");
}
END_TEST

START_TEST(fabio_properties_file_loads)
{
	const char *top = getenv("top_srcdir");
	char path[1024];
	struct lb_config c;
	struct lb_config_err err;

	snprintf(path, sizeof(path), "%s/tests/fixtures/lb/config/fabio.properties",
		 top != NULL ? top : ".");
	ck_assert_msg(load(&c, &err, ARGS("-cfg", path), NULL) == 0, "%s", err.msg);
	ck_assert_int_eq(c.proxy_strategy, RT_STRATEGY_RND);
	ck_assert_int_eq(c.proxy_shutdownwait_ns, 5 * NS_S);
	ck_assert_int_eq(c.consul_checks_required, LB_CONFIG_CHECKS_ALL);
	ck_assert_int_eq(c.consul_require_consistent, 0);
	ck_assert_int_eq(c.consul_allow_stale, 1);
	ck_assert_str_eq(c.consul_token, "");
	ck_assert_str_eq(c.register_name, "fabio");
	ck_assert_str_eq(c.register_addr, ":9998");
	ck_assert_uint_eq(c.register_tags.n, 2);
	ck_assert_str_eq(c.register_tags.v[0], "edge");
	ck_assert_str_eq(c.register_tags.v[1], "http");
	ck_assert_str_eq(c.log_access_target, "stdout");
	ck_assert_int_eq(c.log_access_format, LB_CONFIG_ACCESS_COMBINED);
	lb_config_free(&c);
}
END_TEST

/* ---- the properties parser ------------------------------------------- */

struct pairs {
	char text[1024];
	size_t n;
};

static int
collect(const char *key, const char *value, unsigned line, void *arg)
{
	struct pairs *p = arg;
	size_t o = strlen(p->text);

	snprintf(p->text + o, sizeof(p->text) - o, "%u[%s]=[%s]\n", line, key, value);
	p->n++;
	return 0;
}

static void
props_are(const char *text, size_t len, const char *want)
{
	struct pairs p = { "", 0 };
	struct lb_config_err err;
	int rc = lb_props_parse("f", text, len, collect, &p, &err);

	ck_assert_msg(rc == 0, "%s", err.msg);
	ck_assert_str_eq(p.text, want);
}

START_TEST(properties_syntax)
{
	const char *t =
		"\xef\xbb\xbf# comment = not a key\n"
		"  ! also a comment\n"
		"\n"
		"   \t\n"
		"a=1\n"
		"b = 2  \n"
		"c:3\n"
		"d\t: four # not a comment\n"
		"e =\n"
		"f = x = y\n"
		"g = one \\\n"
		"    two \\\n"
		"three\n"
		"h = ends in two \\\\\n"
		"i = crlf\r\n"
		"# comment \\\n"
		"j = after comment\n"
		"k = \\\n";
	struct pairs p = { "", 0 };
	struct lb_config_err err;

	props_are(t, strlen(t),
		  "5[a]=[1]\n6[b]=[2]\n7[c]=[3]\n8[d]=[four # not a comment]\n9[e]=[]\n"
		  "10[f]=[x = y]\n11[g]=[one two three]\n14[h]=[ends in two \\\\]\n"
		  "15[i]=[crlf]\n17[j]=[after comment]\n18[k]=[]\n");
	props_are("", 0, "");
	props_are("x=1", 3, "1[x]=[1]\n");

	ck_assert_int_eq(lb_props_parse("f", "a=1\nb\n", 6, collect, &p, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "f:2: want key = value, not \"b\"");
	ck_assert_int_eq(lb_props_parse("f", "a=1\n\nb=\0", 8, collect, &p, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "f:3: NUL byte in the file");
	ck_assert_int_eq(lb_props_parse("f", "a b\n", 4, collect, &p, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "f:1: want key = value, not \"a b\"");
}
END_TEST

static int
stop_at_second(const char *key, const char *value, unsigned line, void *arg)
{
	int *n = arg;

	return ++*n == 2 ? -E2BIG : 0;
}

START_TEST(properties_callback_stops_the_parse)
{
	int n = 0;

	ck_assert_int_eq(lb_props_parse("f", "a=1\nb=2\nc=3\n", 12, stop_at_second, &n, NULL),
			 -E2BIG);
	ck_assert_int_eq(n, 2);
}
END_TEST

/* ---- reload ---------------------------------------------------------- */

static int
listed(const char *const *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], name) == 0)
			return 1;
	return 0;
}

START_TEST(reload_applies_live_keys_and_holds_the_rest)
{
	char path[256];
	const char *cfg = temp_file(path, sizeof(path),
				    "proxy.addr = :1001\nlog.level = INFO\n"
				    "proxy.dialtimeout = 5s\nproxy.maxbody = 1m\n");
	struct lb_config run, next;
	struct lb_config_changes ch;
	struct lb_config_err err;

	ck_assert_int_eq(load(&run, &err, ARGS("-cfg", cfg, "-proxy.maxbody=2m"),
			      ARGS("SWITCHYARD_LOG_ROUTES_FORMAT=detail")), 0);

	/* Nothing changed: nothing listed. */
	ck_assert_int_eq(lb_config_reload(&run, &next, &ch, &err), 0);
	ck_assert_uint_eq(ch.nlive, 0);
	ck_assert_uint_eq(ch.nheld, 0);
	lb_config_free(&next);

	rewrite_file(cfg, "proxy.addr = :1002\nlog.level = debug\n"
		     "proxy.dialtimeout = 5000ms\nproxy.workers = 3\n"
		     "registry.consul.register.tags = x,y\nproxy.maxbody = 7m\n"
		     "log.routes.format = all\n");
	ck_assert_int_eq(lb_config_reload(&run, &next, &ch, &err), 0);
	/* Live: log.level. Same value in another spelling: not a change. The
	 * flag and the environment still win over the file. */
	ck_assert_uint_eq(ch.nlive, 1);
	ck_assert_str_eq(ch.live[0], "log.level");
	ck_assert_int_eq(next.log_level, LB_CONFIG_LOG_DEBUG);
	ck_assert_uint_eq(next.proxy_maxbody, 2u << 20);
	ck_assert_int_eq(next.log_routes_format, LB_CONFIG_ROUTES_DETAIL);
	/* Held: proxy.addr, proxy.workers (unless it is already 3 here) and
	 * the tags, with the running values kept. */
	ck_assert(listed(ch.held, ch.nheld, "proxy.addr"));
	ck_assert(listed(ch.held, ch.nheld, "registry.consul.register.tags"));
	ck_assert_uint_eq(ch.nheld, run.proxy_workers == 3 ? 2 : 3);
	ck_assert_str_eq(next.proxy_addr, ":1001");
	ck_assert_int_eq(next.proxy_workers, run.proxy_workers);
	ck_assert_uint_eq(next.register_tags.n, 0);
	ck_assert_str_eq(next.cfg_path, cfg);

	/* A reload of the reloaded configuration sees the same file again:
	 * the held keys still differ. */
	{
		struct lb_config again;

		ck_assert_int_eq(lb_config_reload(&next, &again, &ch, &err), 0);
		ck_assert_uint_eq(ch.nlive, 0);
		ck_assert(listed(ch.held, ch.nheld, "proxy.addr"));
		lb_config_free(&again);
	}
	lb_config_free(&next);

	/* A bad file: an error, next left empty, running untouched. */
	rewrite_file(cfg, "log.level = LOUD\n");
	ck_assert_int_eq(lb_config_reload(&run, &next, &ch, &err), -EINVAL);
	ck_assert_ptr_null(next.proxy_addr);
	ck_assert_int_eq(err.line, 1);
	ck_assert_str_eq(run.proxy_addr, ":1001");
	lb_config_free(&next);

	unlink(cfg);
	ck_assert_int_eq(lb_config_reload(&run, &next, &ch, &err), -ENOENT);
	lb_config_free(&run);
}
END_TEST

START_TEST(reload_lists_every_changed_key_by_its_live_flag)
{
	char path[256];
	const char *cfg = temp_file(path, sizeof(path), "");
	struct lb_config run, next;
	struct lb_config_changes ch;
	struct lb_config_err err;
	/* A value unlike each default, of each key's type. */
	char text[8192] = "";

	ck_assert_int_eq(load(&run, &err, ARGS("-cfg", cfg), NULL), 0);
	for (size_t i = 0; i < lb_config_nkeys; i++) {
		const struct lb_config_key *k = &lb_config_keys[i];
		const char *v;

		switch (k->type) {
		case LB_CFG_STRING:
			v = strstr(k->name, "addr") != NULL ? (strstr(k->name, "consul.addr") ?
							       "c:1" : "127.0.0.2:1") :
			    strstr(k->name, "path") != NULL ? "/other" : "other";
			break;
		case LB_CFG_BOOL:
			v = strstr(k->name, "allowStale") != NULL ? "true" : "false";
			break;
		case LB_CFG_INT:
			v = strcmp(k->name, "proxy.workers") != 0 ? "500" :
			    run.proxy_workers == 5 ? "6" : "5";
			/* a key whose range stops short of 500 (a
			 * percentage): an end of its range that is not its
			 * default */
			if (k->max < 500 && k->dflt != NULL) {
				static char end[24];

				snprintf(end, sizeof(end), "%lld", (long long)
					 (atoll(k->dflt) == k->max ? k->min : k->max));
				v = end;
			}
			break;
		case LB_CFG_DURATION: v = "7s"; break;
		case LB_CFG_SIZE: v = "5k"; break;
		case LB_CFG_ENUM: v = k->names[1].name; break;
		case LB_CFG_FLAGS: v = "warning"; break;
		default: v = "::1"; break;
		}
		if (strcmp(k->name, "registry.consul.register.tags") == 0)
			v = "t1";
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s = %s\n",
			 k->name, v);
	}
	rewrite_file(cfg, text);
	ck_assert_int_eq(lb_config_reload(&run, &next, &ch, &err), 0);
	ck_assert_uint_eq(ch.nlive + ch.nheld, lb_config_nkeys);
	for (size_t i = 0; i < lb_config_nkeys; i++) {
		const struct lb_config_key *k = &lb_config_keys[i];

		if (k->live) {
			ck_assert_msg(listed(ch.live, ch.nlive, k->name), "%s", k->name);
			ck_assert(!lb_config_value_equal(k, &run, &next));
		} else {
			ck_assert_msg(listed(ch.held, ch.nheld, k->name), "%s", k->name);
			ck_assert(lb_config_value_equal(k, &run, &next));
		}
	}
	lb_config_free(&next);
	lb_config_free(&run);
	unlink(cfg);
}
END_TEST

/* ---- -h and the man page --------------------------------------------- */

START_TEST(usage_lists_every_key_with_its_default)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(f);
	lb_config_usage(f);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(text, "Usage: switchyard"));
	ck_assert_ptr_nonnull(strstr(text, "-cfg FILE"));
	ck_assert_ptr_nonnull(strstr(text, "-dev"));
	for (size_t i = 0; i < lb_config_nkeys; i++) {
		const struct lb_config_key *k = &lb_config_keys[i];
		char want[256];

		if (k->dflt != NULL)
			snprintf(want, sizeof(want), "%c -%s %s (default \"%s\")\n      %s\n",
				 k->live ? '*' : ' ', k->name, k->metavar, k->dflt, k->help);
		else
			snprintf(want, sizeof(want), "%c -%s %s (default: %s)\n      %s\n",
				 k->live ? '*' : ' ', k->name, k->metavar, k->shown, k->help);
		ck_assert_msg(strstr(text, want) != NULL, "-h lacks %s", want);
	}
	free(text);
}
END_TEST

static char *
read_man_page(void)
{
	const char *top = getenv("top_srcdir");
	char path[1024];
	FILE *f;
	char *text;
	long n;

	snprintf(path, sizeof(path), "%s/man/switchyard.8", top != NULL ? top : ".");
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s (is top_srcdir set?)", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(fread(text, 1, (size_t)n, f), (size_t)n);
	text[n] = '\0';
	fclose(f);
	/* Read the roff as text: "\-" is a hyphen, "\&" nothing. */
	for (char *r = text, *w = text;; r++) {
		if (r[0] == '\\' && (r[1] == '-' || r[1] == '&')) {
			if (r[1] == '-')
				*w++ = '-';
			r++;
			continue;
		}
		*w++ = *r;
		if (*r == '\0')
			break;
	}
	return text;
}

START_TEST(man_page_documents_every_key)
{
	char *man = read_man_page();

	for (size_t i = 0; i < lb_config_nkeys; i++) {
		const struct lb_config_key *k = &lb_config_keys[i];
		const char *d = lb_config_key_default_text(k);
		char head[128], *start, *end, save;

		snprintf(head, sizeof(head), "\n.TP\n.BI %s \"", k->name);
		start = strstr(man, head);
		ck_assert_msg(start != NULL, "man/switchyard.8 lacks a .TP for %s", k->name);
		start += strlen(head);
		end = start + strcspn(start, "");
		{
			char *tp = strstr(start, "\n.TP"), *sh = strstr(start, "\n.SH");

			if (tp != NULL && tp < end)
				end = tp;
			if (sh != NULL && sh < end)
				end = sh;
		}
		save = *end;
		*end = '\0';
		if (*d == '\0') {
			ck_assert_msg(strstr(start, "Default: empty") != NULL,
				      "%s: default not given as empty", k->name);
		} else if (k->dflt != NULL) {
			char want[128];
			const char *at;

			snprintf(want, sizeof(want), "Default:\n.BR %s .", d);
			at = strstr(start, want);
			ck_assert_msg(at != NULL && (at[strlen(want)] == '\n' ||
						     at[strlen(want)] == '\0'),
				      "%s: no \"%s\"", k->name, want);
		} else {
			ck_assert_msg(strstr(start, "Default:") != NULL &&
				      strstr(strstr(start, "Default:"), d) != NULL,
				      "%s: default %s missing", k->name, d);
		}
		ck_assert_msg((strstr(start, "Applied on SIGHUP.") != NULL) == (k->live != 0),
			      "%s: man page and table disagree on SIGHUP", k->name);
		*end = save;
	}
	free(man);
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

static Suite *
suite(void)
{
	Suite *s = suite_create("lb_config");
	TCase *t = tcase_create("config");

	tcase_add_test(t, every_key_has_its_default);
	tcase_add_test(t, defaults_alone_match_an_empty_load);
	tcase_add_test(t, table_rows_are_well_formed);
	tcase_add_test(t, flag_over_env_over_file_over_default);
	tcase_add_test(t, switchyard_env_wins_over_fabio_in_any_order);
	tcase_add_test(t, env_names_match_in_any_case);
	tcase_add_test(t, flag_forms);
	tcase_add_test(t, help_and_version_win_over_errors);
	tcase_add_test(t, flag_syntax_errors);
	tcase_add_test(t, unknown_keys_from_each_source);
	tcase_add_test(t, bad_ints);
	tcase_add_test(t, bad_durations);
	tcase_add_test(t, bad_sizes);
	tcase_add_test(t, bad_bools);
	tcase_add_test(t, bad_enums_and_flags);
	tcase_add_test(t, bad_addresses);
	tcase_add_test(t, bad_strings_and_lists);
	tcase_add_test(t, quoted_values_in_messages);
	tcase_add_test(t, consistent_and_stale_conflict);
	tcase_add_test(t, env_and_file_errors_name_their_source);
	tcase_add_test(t, fabio_properties_file_loads);
	tcase_add_test(t, properties_syntax);
	tcase_add_test(t, properties_callback_stops_the_parse);
	tcase_add_test(t, outlier_times_in_order);
	tcase_add_test(t, reload_applies_live_keys_and_holds_the_rest);
	tcase_add_test(t, reload_lists_every_changed_key_by_its_live_flag);
	tcase_add_test(t, usage_lists_every_key_with_its_default);
	tcase_add_test(t, man_page_documents_every_key);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	return check_main_run(suite());
}
