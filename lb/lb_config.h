/*
 * lb_config.h - the switchyard daemon's configuration: fabio's key names,
 * read from flags > environment (SWITCHYARD_*, then FABIO_*) > a properties
 * file (-cfg FILE) > defaults.
 *
 * Every key is one row of a table (lb_config_keys.c): its name, type,
 * default, help text and whether SIGHUP may change it live. -h output
 * (lb_config_usage) and the checks on man/switchyard.8 come from that table.
 *
 * A struct lb_config owns all its strings and lists; lb_config_free()
 * releases them. Nothing here prints except lb_config_usage(), which writes
 * to the FILE its caller gives.
 */
#ifndef LB_CONFIG_H
#define LB_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "registry-client/consul_json.h"
#include "routes/rt_pick.h"
#include "routes/rt_table.h"

/* registry.consul.service.status: one bit per accepted Consul status. */
#define LB_CONFIG_STATUS_BIT(st) (1u << (st))  /* st: enum consul_status */

enum lb_config_checks {
	LB_CONFIG_CHECKS_ONE = 0,  /* one accepted check makes an instance fit */
	LB_CONFIG_CHECKS_ALL       /* every check must be in an accepted status */
};

enum lb_config_log_level {
	LB_CONFIG_LOG_TRACE = 0,
	LB_CONFIG_LOG_DEBUG,
	LB_CONFIG_LOG_INFO,
	LB_CONFIG_LOG_WARN,
	LB_CONFIG_LOG_ERROR
};

enum lb_config_access_format {
	LB_CONFIG_ACCESS_COMMON = 0,
	LB_CONFIG_ACCESS_COMBINED,
	LB_CONFIG_ACCESS_JSON
};

enum lb_config_routes_format {
	LB_CONFIG_ROUTES_DELTA = 0,  /* what changed since the last table */
	LB_CONFIG_ROUTES_DETAIL,     /* the whole table, one route a line */
	LB_CONFIG_ROUTES_ALL         /* the whole table as route commands */
};

/* A comma-separated value split into its items (spaces around them cut). */
struct lb_config_list {
	char **v;
	size_t n;
};

struct lb_config {
	/* Command-line switches that are not keys: reported, not acted on. */
	int help;              /* -h, -help, --help */
	int version;           /* -v, -version, --version */
	int dev;               /* -dev: embed the dev registry if 8500 is free */
	char *cfg_path;        /* -cfg FILE; NULL: no file */

	/* proxy.* */
	char *proxy_addr;                      /* ":9999", "ip:port", "[v6]:port" */
	enum rt_strategy proxy_strategy;
	enum rt_matcher proxy_matcher;
	int proxy_noroutestatus;               /* 100..999 */
	int64_t proxy_dialtimeout_ns;          /* > 0 */
	int64_t proxy_responseheadertimeout_ns; /* 0: wait forever */
	int proxy_maxconn;                     /* idle upstream connections per target */
	int64_t proxy_shutdownwait_ns;         /* 0: do not wait for in-flight requests */
	int64_t proxy_idleconntimeout_ns;      /* > 0 */
	int proxy_workers;                     /* 1..256 */
	uint64_t proxy_maxbody;                /* bytes; 0: no limit */
	struct lb_config_list proxy_header_trustedcidrs; /* "10.0.0.0/8", "::1" */
	uint64_t proxy_maxrequestline;         /* bytes */
	uint64_t proxy_maxheaderbytes;         /* bytes */
	int proxy_maxheaders;                  /* 1..256 */
	int64_t proxy_headertimeout_ns;        /* > 0 */
	int64_t proxy_bodytimeout_ns;          /* > 0 */
	int64_t proxy_idletimeout_ns;          /* > 0 */
	int64_t proxy_sendtimeout_ns;          /* > 0 */
	int proxy_maxclientconns;              /* per worker */

	/* ui.* */
	char *ui_addr;

	/* registry.consul.* */
	char *consul_addr;             /* "host:port", "http://..", "https://.." */
	char *consul_token;            /* "" : none */
	char *consul_kvpath;
	char *consul_noroutehtmlpath;  /* "" : no page */
	char *consul_tagprefix;
	unsigned consul_service_status; /* LB_CONFIG_STATUS_BIT() of each status */
	enum lb_config_checks consul_checks_required;
	int consul_require_consistent;
	int consul_allow_stale;        /* never both set: load refuses that */
	int register_enabled;
	char *register_name;
	char *register_addr;           /* ui.addr unless set */
	struct lb_config_list register_tags;
	int64_t register_check_interval_ns;  /* > 0 */
	int64_t register_check_timeout_ns;   /* > 0 */

	/* log.* */
	char *log_access_target;       /* "": off, "stdout", or a file path */
	enum lb_config_access_format log_access_format;
	enum lb_config_log_level log_level;
	enum lb_config_routes_format log_routes_format;

	/* health.* */
	char *health_check_path;       /* "": only routes with check= are probed */
	int64_t health_check_interval_ns; /* > 0: one probe per target per interval */
	int64_t health_check_timeout_ns;  /* > 0 */
	int health_check_rise;         /* passes in a row that bring a target up */
	int health_check_fall;         /* failures in a row that take it down */
	int health_outlier_enabled;    /* passive ejection */
	int health_outlier_consecutive5xx; /* failures in a row that eject */
	int64_t health_outlier_basetime_ns; /* first ejection; doubles after */
	int64_t health_outlier_maxtime_ns;  /* >= basetime */
	int health_outlier_maxpercent; /* of a route's targets unfit at once */

	/* What load() read, so that reload() can read the same sources again. */
	char **args;                   /* argv[1..], NULL-terminated */
	char **env;                    /* the SWITCHYARD_/FABIO_ entries, NULL-terminated */
};

/*
 * Where a load failed and why. msg is the whole line to show, e.g.
 *   proxy.workers: bad value "x": want an integer 1..256
 *   /etc/switchyard.properties:12: proxy.workers: bad value "x": want ...
 *   SWITCHYARD_PROXY_WORKERS: proxy.workers: bad value "x": want ...
 * key is the key (or the flag or variable name when no key matched), value
 * the offending text (cut to fit), source "" for flags, the variable name
 * for the environment or the file's path, line the file's line (else 0).
 */
struct lb_config_err {
	char key[64];
	char value[128];
	char source[256];
	unsigned line;
	char msg[512];
};

/*
 * Fill c with every key's default (c need not be initialised; what it held
 * is not freed). Returns 0, or -ENOMEM with c freed.
 */
int lb_config_defaults(struct lb_config *c);

/*
 * Build c from defaults, then the file named by -cfg, then FABIO_* and
 * SWITCHYARD_* variables of envp (NULL: none), then the flags argv[1..argc-1]
 * (`-key=value`, `-key value`, `--key`; a bool key alone means true).
 * -h/-help, -v/-version and -dev only set c->help, c->version and c->dev;
 * with -h or -v no file or environment is read and no value is checked.
 * c need not be initialised; argv and envp are copied. Returns 0, or a
 * negative errno (-EINVAL for a bad key, value or syntax, the file's errno
 * when it cannot be read, -ENOMEM) with err filled and c freed and zeroed.
 * Either way lb_config_free(c) is safe afterwards.
 */
int lb_config_load(struct lb_config *c, int argc, char **argv, char **envp,
		   struct lb_config_err *err);

/* The key names a reload found changed, pointing into the key table. */
#define LB_CONFIG_MAX_KEYS 64
struct lb_config_changes {
	size_t nlive;
	const char *live[LB_CONFIG_MAX_KEYS];  /* changed; next has the new value */
	size_t nheld;
	const char *held[LB_CONFIG_MAX_KEYS];  /* changed but need a restart:
						* next keeps running's value */
};

/*
 * SIGHUP: read running's file, environment and flags again into next (as
 * lb_config_load does) and compare with running. Keys that changed and may
 * change live are listed in ch->live with their new values in next; keys
 * that changed but need a restart are listed in ch->held and next keeps
 * running's values for them, so next can be applied as it is. Returns 0,
 * or a negative errno with err filled and next freed (running untouched).
 */
int lb_config_reload(const struct lb_config *running, struct lb_config *next,
		     struct lb_config_changes *ch, struct lb_config_err *err);

/* -h: the synopsis, the switches, and every key with its default and help. */
void lb_config_usage(FILE *out);

/* Frees everything c owns and zeroes it. NULL-safe, idempotent. */
void lb_config_free(struct lb_config *c);

/* The name of a value of these enums as the configuration spells it. */
const char *lb_config_log_level_name(enum lb_config_log_level l);
const char *lb_config_access_format_name(enum lb_config_access_format f);
const char *lb_config_routes_format_name(enum lb_config_routes_format f);

#endif
