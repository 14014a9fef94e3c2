/*
 * lb_config_keys.c - every configuration key, one row each, in the order
 * -h lists them. Names are fabio's (../shared/reference/fabio.md §4) where
 * fabio has the key; defaults are fabio's unless a safer one is noted in
 * the help text and in man/switchyard.8.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lb/lb_config_internal.h"

#define NO_LIMIT INT64_MAX
#define NS_MIN 1  /* "> 0" for durations */

static const struct lb_config_name strategy_names[] = {
	{ "rr", RT_STRATEGY_RR },
	{ "rnd", RT_STRATEGY_RND },
	{ NULL, 0 }
};

static const struct lb_config_name matcher_names[] = {
	{ "prefix", RT_MATCH_PREFIX },
	{ "glob", RT_MATCH_GLOB },
	{ "iprefix", RT_MATCH_IPREFIX },
	{ NULL, 0 }
};

static const struct lb_config_name status_names[] = {
	{ "passing", LB_CONFIG_STATUS_BIT(CONSUL_STATUS_PASSING) },
	{ "warning", LB_CONFIG_STATUS_BIT(CONSUL_STATUS_WARNING) },
	{ "critical", LB_CONFIG_STATUS_BIT(CONSUL_STATUS_CRITICAL) },
	{ NULL, 0 }
};

static const struct lb_config_name checks_names[] = {
	{ "one", LB_CONFIG_CHECKS_ONE },
	{ "all", LB_CONFIG_CHECKS_ALL },
	{ NULL, 0 }
};

static const struct lb_config_name access_format_names[] = {
	{ "common", LB_CONFIG_ACCESS_COMMON },
	{ "combined", LB_CONFIG_ACCESS_COMBINED },
	{ "json", LB_CONFIG_ACCESS_JSON },
	{ NULL, 0 }
};

/* Upper case, as fabio writes them; matched in any case. */
static const struct lb_config_name log_level_names[] = {
	{ "TRACE", LB_CONFIG_LOG_TRACE },
	{ "DEBUG", LB_CONFIG_LOG_DEBUG },
	{ "INFO", LB_CONFIG_LOG_INFO },
	{ "WARN", LB_CONFIG_LOG_WARN },
	{ "ERROR", LB_CONFIG_LOG_ERROR },
	{ NULL, 0 }
};

static const struct lb_config_name routes_format_names[] = {
	{ "delta", LB_CONFIG_ROUTES_DELTA },
	{ "detail", LB_CONFIG_ROUTES_DETAIL },
	{ "all", LB_CONFIG_ROUTES_ALL },
	{ NULL, 0 }
};

/* Text that ends up in Consul paths, tags and names: no blanks or control
 * bytes, which no Consul name contains and which are easy to paste in by
 * mistake. */
static int
has_blank(const char *s)
{
	for (; *s != '\0'; s++)
		if (isspace((unsigned char)*s) || iscntrl((unsigned char)*s))
			return 1;
	return 0;
}

static int
check_word(const char *s, char *why, size_t whylen)
{
	if (*s == '\0' || has_blank(s)) {
		snprintf(why, whylen, "want a non-empty value without blanks");
		return -EINVAL;
	}
	return 0;
}

static int
check_word_or_empty(const char *s, char *why, size_t whylen)
{
	if (has_blank(s)) {
		snprintf(why, whylen, "want a value without blanks");
		return -EINVAL;
	}
	return 0;
}

static int
check_url_path_or_empty(const char *s, char *why, size_t whylen)
{
	if (*s != '\0' && (*s != '/' || has_blank(s))) {
		snprintf(why, whylen, "want empty or a path starting with /");
		return -EINVAL;
	}
	return 0;
}

static int
check_listen_addr_or_empty(const char *s, char *why, size_t whylen)
{
	return *s == '\0' ? 0 : lb_config_check_listen_addr(s, why, whylen);
}

/* Control bytes in a file name are always a mistake (a stray CR from a
 * file edited elsewhere, say). */
static int
check_log_target(const char *s, char *why, size_t whylen)
{
	for (; *s != '\0'; s++)
		if (iscntrl((unsigned char)*s)) {
			snprintf(why, whylen, "want empty, stdout or a file path");
			return -EINVAL;
		}
	return 0;
}

static void
compute_workers(char *buf, size_t len)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	if (n > 256)
		n = 256;
	snprintf(buf, len, "%ld", n);
}

#define F(field) offsetof(struct lb_config, field)

const struct lb_config_key lb_config_keys[] = {
	{ .name = "proxy.addr", .type = LB_CFG_STRING, .dflt = ":9999",
	  .metavar = "ADDR", .offset = F(proxy_addr),
	  .check = lb_config_check_listen_addr,
	  .help = "where the proxy listens for HTTP: :port, ip:port or [ipv6]:port" },
	{ .name = "proxy.strategy", .type = LB_CFG_ENUM, .dflt = "rr",
	  .metavar = "rr|rnd", .offset = F(proxy_strategy), .names = strategy_names,
	  .help = "smooth weighted round-robin or weighted random (fabio's default: rnd)" },
	{ .name = "proxy.matcher", .type = LB_CFG_ENUM, .dflt = "prefix",
	  .metavar = "prefix|glob|iprefix", .offset = F(proxy_matcher),
	  .names = matcher_names,
	  .help = "path matching: longest prefix, whole-path glob, or prefix in any case" },
	{ .name = "proxy.noroutestatus", .type = LB_CFG_INT, .dflt = "404",
	  .metavar = "CODE", .offset = F(proxy_noroutestatus), .min = 100, .max = 999,
	  .live = 1, .help = "status sent when no route matches" },
	{ .name = "proxy.dialtimeout", .type = LB_CFG_DURATION, .dflt = "30s",
	  .metavar = "DURATION", .offset = F(proxy_dialtimeout_ns),
	  .min = NS_MIN, .max = NO_LIMIT, .live = 1,
	  .help = "how long a connection to an upstream may take to open" },
	{ .name = "proxy.responseheadertimeout", .type = LB_CFG_DURATION, .dflt = "0",
	  .metavar = "DURATION", .offset = F(proxy_responseheadertimeout_ns),
	  .min = 0, .max = NO_LIMIT, .live = 1,
	  .help = "how long to wait for an upstream's response headers; 0: no limit" },
	{ .name = "proxy.maxconn", .type = LB_CFG_INT, .dflt = "10000",
	  .metavar = "N", .offset = F(proxy_maxconn), .min = 1, .max = 1000000,
	  .live = 1, .help = "idle keep-alive connections kept per upstream target" },
	{ .name = "proxy.shutdownwait", .type = LB_CFG_DURATION, .dflt = "0s",
	  .metavar = "DURATION", .offset = F(proxy_shutdownwait_ns),
	  .min = 0, .max = NO_LIMIT, .live = 1,
	  .help = "on SIGTERM, how long requests in flight may take to finish" },
	{ .name = "proxy.idleconntimeout", .type = LB_CFG_DURATION, .dflt = "4s",
	  .metavar = "DURATION", .offset = F(proxy_idleconntimeout_ns),
	  .min = NS_MIN, .max = NO_LIMIT, .live = 1,
	  .help = "close pooled upstream connections idle this long (fabio: 15s)" },
	{ .name = "proxy.workers", .type = LB_CFG_INT, .dflt = NULL,
	  .shown = "number of CPUs", .compute = compute_workers,
	  .metavar = "N", .offset = F(proxy_workers), .min = 1, .max = 256,
	  .help = "proxy threads, each with its own listener (SO_REUSEPORT)" },
	{ .name = "proxy.maxbody", .type = LB_CFG_SIZE, .dflt = "64m",
	  .metavar = "SIZE", .offset = F(proxy_maxbody), .min = 0, .max = NO_LIMIT,
	  .live = 1,
	  .help = "largest request body (413 above); k, m, g suffixes; 0: no limit" },
	{ .name = "proxy.maxrequestline", .type = LB_CFG_SIZE, .dflt = "8k",
	  .metavar = "SIZE", .offset = F(proxy_maxrequestline), .min = 64,
	  .max = 1 << 20, .live = 1,
	  .help = "longest request line (method, target, version; 414 above)" },
	{ .name = "proxy.maxheaderbytes", .type = LB_CFG_SIZE, .dflt = "64k",
	  .metavar = "SIZE", .offset = F(proxy_maxheaderbytes), .min = 1024,
	  .max = 1 << 20, .live = 1,
	  .help = "largest request head, request line and fields (431 above)" },
	{ .name = "proxy.maxheaders", .type = LB_CFG_INT, .dflt = "100",
	  .metavar = "N", .offset = F(proxy_maxheaders), .min = 1, .max = 256,
	  .live = 1, .help = "most header fields in a request (431 above)" },
	{ .name = "proxy.headertimeout", .type = LB_CFG_DURATION, .dflt = "10s",
	  .metavar = "DURATION", .offset = F(proxy_headertimeout_ns),
	  .min = NS_MIN, .max = NO_LIMIT, .live = 1,
	  .help = "time for a whole request head from its first byte (408 and close)" },
	{ .name = "proxy.bodytimeout", .type = LB_CFG_DURATION, .dflt = "30s",
	  .metavar = "DURATION", .offset = F(proxy_bodytimeout_ns),
	  .min = NS_MIN, .max = NO_LIMIT, .live = 1,
	  .help = "longest pause in a request body (408 and close)" },
	{ .name = "proxy.idletimeout", .type = LB_CFG_DURATION, .dflt = "60s",
	  .metavar = "DURATION", .offset = F(proxy_idletimeout_ns),
	  .min = NS_MIN, .max = NO_LIMIT, .live = 1,
	  .help = "close client keep-alive connections idle this long" },
	{ .name = "proxy.sendtimeout", .type = LB_CFG_DURATION, .dflt = "60s",
	  .metavar = "DURATION", .offset = F(proxy_sendtimeout_ns),
	  .min = NS_MIN, .max = NO_LIMIT, .live = 1,
	  .help = "close a client that takes none of its response this long" },
	{ .name = "proxy.maxclientconns", .type = LB_CFG_INT, .dflt = "10000",
	  .metavar = "N", .offset = F(proxy_maxclientconns), .min = 1,
	  .max = 1000000, .live = 1,
	  .help = "client connections per worker; more wait in the listen backlog" },
	{ .name = "proxy.header.trustedcidrs", .type = LB_CFG_LIST, .dflt = "",
	  .metavar = "CIDR,...", .offset = F(proxy_header_trustedcidrs),
	  .check = lb_config_check_cidr,
	  .help = "peers whose X-Forwarded-*, X-Real-Ip and Forwarded headers are kept" },
	{ .name = "ui.addr", .type = LB_CFG_STRING, .dflt = "127.0.0.1:9998",
	  .metavar = "ADDR", .offset = F(ui_addr),
	  .check = lb_config_check_listen_addr,
	  .help = "where the admin API and /health listen (fabio: :9998)" },
	{ .name = "registry.consul.addr", .type = LB_CFG_STRING, .dflt = "localhost:8500",
	  .metavar = "ADDR", .offset = F(consul_addr),
	  .check = lb_config_check_consul_addr,
	  .help = "Consul agent: host:port, http://host:port or https://host:port" },
	{ .name = "registry.consul.token", .type = LB_CFG_STRING, .dflt = "",
	  .metavar = "TOKEN", .offset = F(consul_token), .check = check_word_or_empty,
	  .help = "ACL token sent to Consul as X-Consul-Token" },
	{ .name = "registry.consul.kvpath", .type = LB_CFG_STRING, .dflt = "/fabio/config",
	  .metavar = "PATH", .offset = F(consul_kvpath), .check = check_word,
	  .help = "KV prefix whose values hold route commands (overrides)" },
	{ .name = "registry.consul.noroutehtmlpath", .type = LB_CFG_STRING,
	  .dflt = "/fabio/noroute.html", .metavar = "PATH",
	  .offset = F(consul_noroutehtmlpath), .check = check_word_or_empty,
	  .help = "KV key of the HTML page sent when no route matches; empty: none" },
	{ .name = "registry.consul.tagprefix", .type = LB_CFG_STRING, .dflt = "urlprefix-",
	  .metavar = "PREFIX", .offset = F(consul_tagprefix), .check = check_word,
	  .help = "service tags starting with this are routes" },
	{ .name = "registry.consul.service.status", .type = LB_CFG_FLAGS,
	  .dflt = "passing", .metavar = "STATUS,...",
	  .offset = F(consul_service_status), .names = status_names,
	  .help = "statuses that let an instance take traffic: passing, warning, critical" },
	{ .name = "registry.consul.checksRequired", .type = LB_CFG_ENUM, .dflt = "one",
	  .metavar = "one|all", .offset = F(consul_checks_required),
	  .names = checks_names,
	  .help = "whether one or all of an instance's checks need such a status" },
	{ .name = "registry.consul.requireConsistent", .type = LB_CFG_BOOL,
	  .dflt = "true", .metavar = "BOOL", .offset = F(consul_require_consistent),
	  .help = "read Consul with ?consistent (not together with allowStale)" },
	{ .name = "registry.consul.allowStale", .type = LB_CFG_BOOL, .dflt = "false",
	  .metavar = "BOOL", .offset = F(consul_allow_stale),
	  .help = "read Consul with ?stale, so any server may answer" },
	{ .name = "registry.consul.register.enabled", .type = LB_CFG_BOOL,
	  .dflt = "true", .metavar = "BOOL", .offset = F(register_enabled),
	  .help = "register switchyard itself in Consul" },
	{ .name = "registry.consul.register.name", .type = LB_CFG_STRING,
	  .dflt = "switchyard", .metavar = "NAME", .offset = F(register_name),
	  .check = check_word, .help = "service name of the self-registration" },
	{ .name = "registry.consul.register.addr", .type = LB_CFG_STRING,
	  .dflt = NULL, .shown = "ui.addr", .metavar = "ADDR",
	  .offset = F(register_addr), .check = check_listen_addr_or_empty,
	  .help = "address and port registered for switchyard's health check" },
	{ .name = "registry.consul.register.tags", .type = LB_CFG_LIST, .dflt = "",
	  .metavar = "TAG,...", .offset = F(register_tags), .check = check_word,
	  .help = "tags of the self-registration" },
	{ .name = "registry.consul.register.checkInterval", .type = LB_CFG_DURATION,
	  .dflt = "1s", .metavar = "DURATION", .offset = F(register_check_interval_ns),
	  .min = NS_MIN, .max = NO_LIMIT,
	  .help = "how often Consul calls switchyard's /health" },
	{ .name = "registry.consul.register.checkTimeout", .type = LB_CFG_DURATION,
	  .dflt = "3s", .metavar = "DURATION", .offset = F(register_check_timeout_ns),
	  .min = NS_MIN, .max = NO_LIMIT,
	  .help = "how long Consul waits for switchyard's /health" },
	{ .name = "log.access.target", .type = LB_CFG_STRING, .dflt = "",
	  .metavar = "TARGET", .offset = F(log_access_target), .check = check_log_target,
	  .help = "access log: empty (off), stdout, or a file (reopened on SIGHUP)" },
	{ .name = "log.access.format", .type = LB_CFG_ENUM, .dflt = "common",
	  .metavar = "common|combined|json", .offset = F(log_access_format),
	  .names = access_format_names, .help = "access log line format" },
	{ .name = "log.level", .type = LB_CFG_ENUM, .dflt = "INFO",
	  .metavar = "LEVEL", .offset = F(log_level), .names = log_level_names,
	  .live = 1, .help = "diagnostics from: TRACE, DEBUG, INFO, WARN or ERROR" },
	{ .name = "log.routes.format", .type = LB_CFG_ENUM, .dflt = "delta",
	  .metavar = "delta|detail|all", .offset = F(log_routes_format),
	  .names = routes_format_names, .live = 1,
	  .help = "log per new table: the changes, the routes, or route commands" },
	{ .name = "health.check.path", .type = LB_CFG_STRING, .dflt = "",
	  .metavar = "PATH", .offset = F(health_check_path),
	  .check = check_url_path_or_empty, .live = 1,
	  .help = "path switchyard probes on every target; empty: only routes with check=" },
	{ .name = "health.check.interval", .type = LB_CFG_DURATION, .dflt = "2s",
	  .metavar = "DURATION", .offset = F(health_check_interval_ns),
	  .min = 1000000, .max = INT64_C(3600000000000), .live = 1,
	  .help = "how often each probed target is probed (HAProxy's inter)" },
	{ .name = "health.check.timeout", .type = LB_CFG_DURATION, .dflt = "2s",
	  .metavar = "DURATION", .offset = F(health_check_timeout_ns),
	  .min = 1000000, .max = INT64_C(3600000000000), .live = 1,
	  .help = "a probe taking longer fails" },
	{ .name = "health.check.rise", .type = LB_CFG_INT, .dflt = "2",
	  .metavar = "N", .offset = F(health_check_rise), .min = 1, .max = 1000,
	  .live = 1, .help = "passing probes in a row that bring a target back up" },
	{ .name = "health.check.fall", .type = LB_CFG_INT, .dflt = "3",
	  .metavar = "N", .offset = F(health_check_fall), .min = 1, .max = 1000,
	  .live = 1, .help = "failing probes in a row that take a target down" },
	{ .name = "health.outlier.enabled", .type = LB_CFG_BOOL, .dflt = "true",
	  .metavar = "BOOL", .offset = F(health_outlier_enabled), .live = 1,
	  .help = "eject targets whose requests fail (passive health)" },
	{ .name = "health.outlier.consecutive5xx", .type = LB_CFG_INT, .dflt = "5",
	  .metavar = "N", .offset = F(health_outlier_consecutive5xx),
	  .min = 1, .max = 1000000, .live = 1,
	  .help = "5xx answers and failed connects in a row that eject a target" },
	{ .name = "health.outlier.basetime", .type = LB_CFG_DURATION, .dflt = "30s",
	  .metavar = "DURATION", .offset = F(health_outlier_basetime_ns),
	  .min = 1000000, .max = INT64_C(86400000000000), .live = 1,
	  .help = "how long a first ejection lasts; each repeat doubles it" },
	{ .name = "health.outlier.maxtime", .type = LB_CFG_DURATION, .dflt = "5m",
	  .metavar = "DURATION", .offset = F(health_outlier_maxtime_ns),
	  .min = 1000000, .max = INT64_C(86400000000000), .live = 1,
	  .help = "the longest ejection (at least health.outlier.basetime)" },
	{ .name = "health.outlier.maxpercent", .type = LB_CFG_INT, .dflt = "50",
	  .metavar = "PERCENT", .offset = F(health_outlier_maxpercent),
	  .min = 0, .max = 100, .live = 1,
	  .help = "most of a route's targets that may be unfit when one more is ejected" },
};

const size_t lb_config_nkeys = sizeof(lb_config_keys) / sizeof(lb_config_keys[0]);

_Static_assert(sizeof(lb_config_keys) / sizeof(lb_config_keys[0]) <= LB_CONFIG_MAX_KEYS,
	       "struct lb_config_changes holds LB_CONFIG_MAX_KEYS names");

const struct lb_config_key *
lb_config_key_find(const char *name)
{
	for (size_t i = 0; i < lb_config_nkeys; i++)
		if (strcasecmp(lb_config_keys[i].name, name) == 0)
			return &lb_config_keys[i];
	return NULL;
}

/* name with '.' read as '_', compared in any case. */
static int
env_name_eq(const char *name, const char *env)
{
	for (; *name != '\0' && *env != '\0'; name++, env++) {
		char a = *name == '.' ? '_' : (char)tolower((unsigned char)*name);

		if (a != (char)tolower((unsigned char)*env))
			return 0;
	}
	return *name == '\0' && *env == '\0';
}

const struct lb_config_key *
lb_config_key_find_env(const char *env)
{
	for (size_t i = 0; i < lb_config_nkeys; i++)
		if (env_name_eq(lb_config_keys[i].name, env))
			return &lb_config_keys[i];
	return NULL;
}

#define SUGGEST_MAX 80

static char
fold(char c)
{
	return c == '_' ? '.' : (char)tolower((unsigned char)c);
}

/* Levenshtein distance of a and b (both shorter than SUGGEST_MAX), with
 * '_' and '.' the same and case ignored. */
static size_t
distance(const char *a, size_t na, const char *b, size_t nb)
{
	size_t row[SUGGEST_MAX + 1];

	for (size_t j = 0; j <= nb; j++)
		row[j] = j;
	for (size_t i = 1; i <= na; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= nb; j++) {
			size_t up = row[j];
			size_t best = diag + (fold(a[i - 1]) != fold(b[j - 1]));

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[nb];
}

const char *
lb_config_key_suggest(const char *name)
{
	size_t n = strlen(name), best = SIZE_MAX;
	const char *found = NULL;

	if (n == 0 || n >= SUGGEST_MAX)
		return NULL;
	for (size_t i = 0; i < lb_config_nkeys; i++) {
		const char *k = lb_config_keys[i].name;
		size_t kn = strlen(k), d;

		/* The distance is at least the difference in length. */
		if ((n > kn ? n - kn : kn - n) > 3)
			continue;
		d = distance(name, n, k, kn);

		if (d < best) {
			best = d;
			found = k;
		}
	}
	/* Up to a quarter of the name wrong (at most three edits) still
	 * reads as a typo rather than another word; 0 is "proxy_addr". */
	if (best > 3 || best * 4 > n)
		return NULL;
	return found;
}

const char *
lb_config_key_default_text(const struct lb_config_key *k)
{
	return k->dflt != NULL ? k->dflt : k->shown;
}
