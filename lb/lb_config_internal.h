/*
 * lb_config_internal.h - the key table, the value parsers and the
 * properties-file parser behind lb_config.h; for lb_config*.c, the Check
 * suite and the fuzz target only.
 */
#ifndef LB_CONFIG_INTERNAL_H
#define LB_CONFIG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "lb/lb_config.h"

enum lb_config_type {
	LB_CFG_STRING,    /* char *; check() may refuse a text */
	LB_CFG_BOOL,      /* int 0/1; Go's strconv.ParseBool spellings */
	LB_CFG_INT,       /* int in [min, max] */
	LB_CFG_DURATION,  /* int64_t ns in [min, max]; Go syntax */
	LB_CFG_SIZE,      /* uint64_t bytes in [min, max]; k/m/g = KiB/MiB/GiB */
	LB_CFG_ENUM,      /* an enum: one of names[], any case */
	LB_CFG_FLAGS,     /* unsigned: OR of the values of a comma list of names[] */
	LB_CFG_LIST       /* struct lb_config_list: comma list, check() per item */
};

/* One spelling of an enum or flags value. */
struct lb_config_name {
	const char *name;
	unsigned value;
};

/* Refuses s with a reason ("want ...") in why, returning -EINVAL, or 0. */
typedef int (*lb_config_check_fn)(const char *s, char *why, size_t whylen);

struct lb_config_key {
	const char *name;           /* fabio's spelling, e.g. "proxy.addr" */
	enum lb_config_type type;
	const char *dflt;           /* the default, parsed as any value; NULL:
				     * computed (proxy.workers) or derived
				     * (registry.consul.register.addr) */
	const char *shown;          /* the default as -h and the man page say it
				     * when dflt is NULL */
	void (*compute)(char *buf, size_t len); /* writes a computed default */
	const char *metavar;        /* -h: "-proxy.addr ADDR" */
	const char *help;           /* one line */
	int live;                   /* SIGHUP may change it without a restart */
	size_t offset;              /* of the field in struct lb_config */
	int64_t min, max;           /* INT, DURATION (ns), SIZE (bytes) */
	const struct lb_config_name *names; /* ENUM, FLAGS; {NULL, 0}-terminated */
	lb_config_check_fn check;   /* STRING, LIST items; NULL: any text */
};

extern const struct lb_config_key lb_config_keys[];
extern const size_t lb_config_nkeys;

/* The row of name (any case), or NULL. */
const struct lb_config_key *lb_config_key_find(const char *name);
/* The row whose name, with '.' as '_', equals env (any case), or NULL. */
const struct lb_config_key *lb_config_key_find_env(const char *env);
/* The closest key name to name (edit distance, any case, '_' as '.'),
 * when close enough to be a likely typo; else NULL. */
const char *lb_config_key_suggest(const char *name);
/* The default as -h shows it: dflt, or shown when dflt is NULL. */
const char *lb_config_key_default_text(const struct lb_config_key *k);

/* ---- values ---------------------------------------------------------- */

/*
 * Parse text as k's type into the field of c that k names, replacing (and
 * freeing) what was there. Returns 0, -EINVAL with a reason in why
 * ("want an integer 1..256"), or -ENOMEM.
 */
int lb_config_value_set(const struct lb_config_key *k, struct lb_config *c,
			const char *text, char *why, size_t whylen);
/* Whether k's field is the same in a and b. */
int lb_config_value_equal(const struct lb_config_key *k, const struct lb_config *a,
			  const struct lb_config *b);
/* Copy k's field from src to dst (freeing dst's). 0 or -ENOMEM. */
int lb_config_value_copy(const struct lb_config_key *k, struct lb_config *dst,
			 const struct lb_config *src);
/* Free k's field of c and zero it. */
void lb_config_value_free(const struct lb_config_key *k, struct lb_config *c);

/* Parsers the value types share (exposed for the tests and the fuzzer). */
int lb_config_parse_bool(const char *s, int *out);
int lb_config_parse_size(const char *s, uint64_t *out);
int lb_config_check_listen_addr(const char *s, char *why, size_t whylen);
int lb_config_check_consul_addr(const char *s, char *why, size_t whylen);
int lb_config_check_cidr(const char *s, char *why, size_t whylen);

/* ---- the properties file --------------------------------------------- */

/* Called once per `key = value`; key and value are NUL-terminated and only
 * live during the call. A non-zero return stops the parse and is returned. */
typedef int (*lb_props_fn)(const char *key, const char *value, unsigned line,
			   void *arg);

/*
 * Parse text (len bytes, NUL bytes refused) as a properties file:
 * `key = value` or `key: value` lines, `#` or `!` comment lines, blank
 * lines, a line ending in an odd number of backslashes continues on the
 * next one (whose leading blanks are dropped). Keys end at blank, '=' or
 * ':'; values lose leading and trailing blanks. A UTF-8 byte order mark is
 * skipped. Returns 0, fn's non-zero return, -EINVAL for a syntax error
 * (err filled, naming source and the line) or -ENOMEM.
 */
int lb_props_parse(const char *source, const char *text, size_t len,
		   lb_props_fn fn, void *arg, struct lb_config_err *err);

/* ---- errors ---------------------------------------------------------- */

/*
 * Fill err: key, value (cut to fit), source and line as given, msg as
 * "<where>: <text>" where <where> is "source:line" for a file, "source"
 * for a variable, nothing for a flag (source "" or NULL). NULL-safe.
 */
void lb_config_err_set(struct lb_config_err *err, const char *source,
		       unsigned line, const char *key, const char *value,
		       const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#endif
