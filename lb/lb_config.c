/*
 * lb_config.c - load the configuration from its four sources in order of
 * precedence (defaults < -cfg file < FABIO_* < SWITCHYARD_* < flags), read
 * it again on SIGHUP, and print -h.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "devregistry/devreg_duration.h"
#include "lb/lb_config.h"
#include "lb/lb_config_internal.h"

#define MAX_FILE_BYTES (1024 * 1024)

/* Environment prefixes, lowest precedence first: fabio's, then ours. */
static const char *const env_prefixes[] = { "FABIO_", "SWITCHYARD_" };

void
lb_config_err_set(struct lb_config_err *err, const char *source, unsigned line,
		  const char *key, const char *value, const char *fmt, ...)
{
	char text[400];
	va_list ap;

	if (err == NULL)
		return;
	memset(err, 0, sizeof(*err));
	snprintf(err->key, sizeof(err->key), "%s", key != NULL ? key : "");
	snprintf(err->value, sizeof(err->value), "%s", value != NULL ? value : "");
	snprintf(err->source, sizeof(err->source), "%s", source != NULL ? source : "");
	err->line = line;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (source == NULL || *source == '\0')
		snprintf(err->msg, sizeof(err->msg), "%s", text);
	else if (line > 0)
		snprintf(err->msg, sizeof(err->msg), "%s:%u: %s", source, line, text);
	else
		snprintf(err->msg, sizeof(err->msg), "%s: %s", source, text);
}

static int
out_of_memory(struct lb_config_err *err)
{
	lb_config_err_set(err, NULL, 0, "", "", "out of memory");
	return -ENOMEM;
}

/* Set k from text, naming source (and line) in the error. */
static int
apply(struct lb_config *c, const struct lb_config_key *k, const char *text,
      const char *source, unsigned line, struct lb_config_err *err)
{
	char why[160] = "", q[100];
	int rc = lb_config_value_set(k, c, text, why, sizeof(why));

	if (rc == -ENOMEM)
		return out_of_memory(err);
	if (rc < 0)
		lb_config_err_set(err, source, line, k->name, text, "%s: bad value %s: %s",
				  k->name, devreg_go_quote(text, q, sizeof(q)), why);
	return rc;
}

static int
unknown_key(struct lb_config_err *err, const char *source, unsigned line,
	    const char *name)
{
	const char *near = lb_config_key_suggest(name);
	char q[100];

	devreg_go_quote(name, q, sizeof(q));
	if (near != NULL)
		lb_config_err_set(err, source, line, name, "",
				  "unknown key %s (did you mean %s?)", q, near);
	else
		lb_config_err_set(err, source, line, name, "", "unknown key %s", q);
	return -EINVAL;
}

/* ---- defaults -------------------------------------------------------- */

/* registry.consul.register.addr follows ui.addr unless it was set. */
static int
derive(struct lb_config *c)
{
	char *s;

	if (c->register_addr != NULL && *c->register_addr != '\0')
		return 0;
	if ((s = strdup(c->ui_addr != NULL ? c->ui_addr : "")) == NULL)
		return -ENOMEM;
	free(c->register_addr);
	c->register_addr = s;
	return 0;
}

/* Every key's default, leaving derived keys empty. */
static int
defaults(struct lb_config *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < lb_config_nkeys; i++) {
		const struct lb_config_key *k = &lb_config_keys[i];
		char buf[32] = "", why[160];
		const char *text = k->dflt != NULL ? k->dflt : buf;

		if (k->dflt == NULL && k->compute != NULL)
			k->compute(buf, sizeof(buf));
		if (lb_config_value_set(k, c, text, why, sizeof(why)) < 0)
			goto fail;  /* -ENOMEM: the table's defaults all parse */
	}
	return 0;
fail:
	lb_config_free(c);
	return -ENOMEM;
}

int
lb_config_defaults(struct lb_config *c)
{
	if (defaults(c) < 0 || derive(c) < 0) {
		lb_config_free(c);
		return -ENOMEM;
	}
	return 0;
}

/* ---- flags ----------------------------------------------------------- */

struct flag_value {
	const struct lb_config_key *k;
	const char *text;   /* points into c->args */
};

struct flag_scan {
	struct flag_value *v;
	size_t n;
	int rc;             /* the first error, kept while -h is looked for */
};

static void
flag_error(struct flag_scan *fs, int rc)
{
	if (fs->rc == 0)
		fs->rc = rc;
}

/* Where the next error goes: err while none was recorded, else nowhere,
 * so that the first error is the one reported. */
static struct lb_config_err *
first_err(struct flag_scan *fs, struct lb_config_err *err)
{
	return fs->rc == 0 ? err : NULL;
}

static void
unexpected(struct flag_scan *fs, struct lb_config_err *err, const char *arg)
{
	char q[100];

	lb_config_err_set(first_err(fs, err), NULL, 0, "", arg, "unexpected argument %s",
			  devreg_go_quote(arg, q, sizeof(q)));
	flag_error(fs, -EINVAL);
}

/* The switches that are not keys: -h, -v, -dev. 1 when name is one. */
static int
scan_switch(struct lb_config *c, const char *name, const char *value,
	    struct flag_scan *fs, struct lb_config_err *err)
{
	char q[100];

	if (strcmp(name, "h") == 0 || strcmp(name, "help") == 0) {
		c->help = 1;
	} else if (strcmp(name, "v") == 0 || strcmp(name, "version") == 0) {
		c->version = 1;
	} else if (strcmp(name, "dev") == 0) {
		if (value == NULL) {
			c->dev = 1;
		} else if (lb_config_parse_bool(value, &c->dev) < 0) {
			lb_config_err_set(first_err(fs, err), NULL, 0, "dev", value,
					  "-dev: bad value %s: want true or false",
					  devreg_go_quote(value, q, sizeof(q)));
			flag_error(fs, -EINVAL);
		}
	} else {
		return 0;
	}
	return 1;
}

static void
set_cfg_path(struct lb_config *c, const char *path, struct flag_scan *fs,
	     struct lb_config_err *err)
{
	char *copy;

	if (*path == '\0') {
		lb_config_err_set(first_err(fs, err), NULL, 0, "cfg", "",
				  "-cfg needs a file name");
		flag_error(fs, -EINVAL);
		return;
	}
	if ((copy = strdup(path)) == NULL) {
		flag_error(fs, out_of_memory(first_err(fs, err)));
		return;
	}
	free(c->cfg_path);
	c->cfg_path = copy;
}

/*
 * Walk c->args as Go's flag package does: -name, --name, -name=value,
 * -name value (not for bools), "--" ends the flags. Switches and -cfg go
 * straight into c; key values are collected in fs, to be applied after
 * the file and the environment. Errors are recorded and the walk goes on,
 * so that -h anywhere still means help.
 */
static int
scan_flags(struct lb_config *c, struct flag_scan *fs, struct lb_config_err *err)
{
	char **a = c->args;

	for (size_t i = 0; a[i] != NULL; i++) {
		const char *arg = a[i], *name, *eq, *value;
		const struct lb_config_key *k = NULL;
		char nbuf[128];
		size_t n;
		int is_cfg;

		if (strcmp(arg, "--") == 0) {
			if (a[i + 1] != NULL)
				unexpected(fs, err, a[i + 1]);
			break;
		}
		name = arg + (arg[0] == '-') + (arg[0] == '-' && arg[1] == '-');
		eq = strchr(name, '=');
		n = eq != NULL ? (size_t)(eq - name) : strlen(name);
		if (arg[0] != '-' || n == 0 || name[0] == '-') {
			unexpected(fs, err, arg);
			continue;
		}
		if (n >= sizeof(nbuf))
			n = sizeof(nbuf) - 1;
		memcpy(nbuf, name, n);
		nbuf[n] = '\0';
		value = eq != NULL ? eq + 1 : NULL;

		if (scan_switch(c, nbuf, value, fs, err))
			continue;
		is_cfg = strcmp(nbuf, "cfg") == 0;
		if (!is_cfg && (k = lb_config_key_find(nbuf)) == NULL) {
			flag_error(fs, unknown_key(first_err(fs, err), NULL, 0, nbuf));
			continue;
		}
		if (value == NULL && k != NULL && k->type == LB_CFG_BOOL)
			value = "true";
		if (value == NULL) {
			if (a[i + 1] == NULL) {
				lb_config_err_set(first_err(fs, err), NULL, 0,
						  is_cfg ? "cfg" : k->name, "",
						  "-%s needs a value", nbuf);
				flag_error(fs, -EINVAL);
				break;
			}
			value = a[++i];
		}
		if (is_cfg) {
			set_cfg_path(c, value, fs, err);
			continue;
		}
		fs->v[fs->n].k = k;
		fs->v[fs->n].text = value;
		fs->n++;
	}
	return fs->rc;
}

/* ---- the properties file --------------------------------------------- */

struct file_ctx {
	struct lb_config *c;
	const char *path;
	struct lb_config_err *err;
};

static int
file_pair(const char *key, const char *value, unsigned line, void *arg)
{
	struct file_ctx *fc = arg;
	const struct lb_config_key *k = lb_config_key_find(key);

	if (k == NULL)
		return unknown_key(fc->err, fc->path, line, key);
	return apply(fc->c, k, value, fc->path, line, fc->err);
}

static int
read_file(const char *path, char **text, size_t *len, struct lb_config_err *err)
{
	FILE *f = NULL;
	char *buf = NULL;
	size_t n;
	int rc;

	if (strncasecmp(path, "http://", 7) == 0 || strncasecmp(path, "https://", 8) == 0) {
		lb_config_err_set(err, NULL, 0, "cfg", path,
				  "-cfg %s: only a local file is supported, not a URL", path);
		return -EINVAL;
	}
	f = fopen(path, "rb");
	if (f == NULL)
		goto fail_errno;
	buf = malloc(MAX_FILE_BYTES + 1);
	if (buf == NULL) {
		rc = out_of_memory(err);
		goto fail;
	}
	n = fread(buf, 1, MAX_FILE_BYTES + 1, f);
	if (ferror(f))
		goto fail_errno;
	if (n > MAX_FILE_BYTES) {
		lb_config_err_set(err, NULL, 0, "cfg", path, "-cfg %s: larger than %d bytes",
				  path, MAX_FILE_BYTES);
		rc = -EFBIG;
		goto fail;
	}
	fclose(f);
	*text = buf;
	*len = n;
	return 0;
fail_errno:
	rc = errno != 0 ? -errno : -EIO;
	lb_config_err_set(err, NULL, 0, "cfg", path, "-cfg %s: %s", path, strerror(-rc));
fail:
	if (f != NULL)
		fclose(f);
	free(buf);
	return rc;
}

static int
load_file(struct lb_config *c, struct lb_config_err *err)
{
	struct file_ctx fc = { c, c->cfg_path, err };
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (c->cfg_path == NULL)
		return 0;
	if ((rc = read_file(c->cfg_path, &text, &len, err)) < 0)
		return rc;
	rc = lb_props_parse(c->cfg_path, text, len, file_pair, &fc, err);
	free(text);
	return rc;
}

/* ---- the environment ------------------------------------------------- */

static int
has_env_prefix(const char *e, size_t namelen, const char *prefix)
{
	size_t n = strlen(prefix);

	return namelen >= n && strncasecmp(e, prefix, n) == 0;
}

static int
apply_env(struct lb_config *c, const char *prefix, struct lb_config_err *err)
{
	size_t plen = strlen(prefix);

	for (char **e = c->env; *e != NULL; e++) {
		const char *eq = strchr(*e, '=');
		size_t namelen = (size_t)(eq - *e);
		const struct lb_config_key *k;
		char name[160];
		int rc;

		if (!has_env_prefix(*e, namelen, prefix))
			continue;
		snprintf(name, sizeof(name), "%.*s",
			 (int)(namelen < sizeof(name) ? namelen : sizeof(name) - 1), *e);
		k = namelen < sizeof(name) ? lb_config_key_find_env(name + plen) : NULL;
		if (k == NULL) {
			const char *near = lb_config_key_suggest(name + plen);
			char want[160];
			size_t j;

			if (near == NULL) {
				lb_config_err_set(err, name, 0, name, eq + 1, "unknown key");
				return -EINVAL;
			}
			j = (size_t)snprintf(want, sizeof(want), "%s", prefix);
			for (; *near != '\0' && j + 1 < sizeof(want); near++)
				want[j++] = *near == '.' ? '_' : (char)toupper((unsigned char)*near);
			want[j] = '\0';
			lb_config_err_set(err, name, 0, name, eq + 1,
					  "unknown key (did you mean %s?)", want);
			return -EINVAL;
		}
		if ((rc = apply(c, k, eq + 1, name, 0, err)) < 0)
			return rc;
	}
	return 0;
}

/* ---- load ------------------------------------------------------------ */

static void
strv_free(char **v)
{
	if (v == NULL)
		return;
	for (char **p = v; *p != NULL; p++)
		free(*p);
	free(v);
}

/* A NULL-terminated copy of the n strings of v (n < 0: up to a NULL)
 * that keep(s) accepts (keep NULL: all). */
static char **
strv_copy(char *const *v, long n, int (*keep)(const char *))
{
	size_t count = 0, j = 0;
	char **out;

	if (v != NULL)
		while ((n < 0 || (long)count < n) && v[count] != NULL)
			count++;
	out = calloc(count + 1, sizeof(*out));
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < count; i++) {
		if (keep != NULL && !keep(v[i]))
			continue;
		if ((out[j++] = strdup(v[i])) == NULL) {
			strv_free(out);
			return NULL;
		}
	}
	return out;
}

/* An environment entry reload() needs again: NAME=value with one of our
 * prefixes. */
static int
env_is_ours(const char *e)
{
	const char *eq = strchr(e, '=');

	if (eq == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(env_prefixes) / sizeof(env_prefixes[0]); i++)
		if (has_env_prefix(e, (size_t)(eq - e), env_prefixes[i]))
			return 1;
	return 0;
}

static int
load_from(struct lb_config *c, char *const *args, long nargs, char *const *envp,
	  struct lb_config_err *err)
{
	struct flag_scan fs = { NULL, 0, 0 };
	size_t nflags = 0;
	int rc;

	if (err != NULL)
		memset(err, 0, sizeof(*err));
	/* Derived keys stay empty until every source had its say. */
	if (defaults(c) < 0)
		return out_of_memory(err);
	c->args = strv_copy(args, nargs, NULL);
	c->env = strv_copy(envp, -1, env_is_ours);
	if (c->args == NULL || c->env == NULL) {
		rc = out_of_memory(err);
		goto fail;
	}
	while (c->args[nflags] != NULL)
		nflags++;
	fs.v = calloc(nflags + 1, sizeof(*fs.v));
	if (fs.v == NULL) {
		rc = out_of_memory(err);
		goto fail;
	}
	rc = scan_flags(c, &fs, err);
	if (c->help || c->version) {
		if (err != NULL)
			memset(err, 0, sizeof(*err));
		free(fs.v);
		if (derive(c) < 0) {
			lb_config_free(c);
			return out_of_memory(err);
		}
		return 0;
	}
	if (rc < 0)
		goto fail;
	if ((rc = load_file(c, err)) < 0)
		goto fail;
	for (size_t i = 0; i < sizeof(env_prefixes) / sizeof(env_prefixes[0]); i++)
		if ((rc = apply_env(c, env_prefixes[i], err)) < 0)
			goto fail;
	for (size_t i = 0; i < fs.n; i++)
		if ((rc = apply(c, fs.v[i].k, fs.v[i].text, NULL, 0, err)) < 0)
			goto fail;
	if (derive(c) < 0) {
		rc = out_of_memory(err);
		goto fail;
	}
	if (c->consul_require_consistent && c->consul_allow_stale) {
		lb_config_err_set(err, NULL, 0, "registry.consul.allowStale", "true",
				  "registry.consul.allowStale: bad value \"true\": "
				  "registry.consul.requireConsistent is true too; "
				  "set one of them to false");
		rc = -EINVAL;
		goto fail;
	}
	if (c->health_outlier_maxtime_ns < c->health_outlier_basetime_ns) {
		char v[32];

		snprintf(v, sizeof(v), "%lldms",
			 (long long)(c->health_outlier_maxtime_ns / 1000000));
		lb_config_err_set(err, NULL, 0, "health.outlier.maxtime", v,
				  "health.outlier.maxtime: bad value \"%s\": "
				  "want at least health.outlier.basetime", v);
		rc = -EINVAL;
		goto fail;
	}
	free(fs.v);
	return 0;
fail:
	free(fs.v);
	lb_config_free(c);
	return rc;
}

int
lb_config_load(struct lb_config *c, int argc, char **argv, char **envp,
	       struct lb_config_err *err)
{
	if (argc < 1 || argv == NULL)
		return load_from(c, NULL, 0, envp, err);
	return load_from(c, argv + 1, argc - 1, envp, err);
}

/* ---- reload ---------------------------------------------------------- */

int
lb_config_reload(const struct lb_config *running, struct lb_config *next,
		 struct lb_config_changes *ch, struct lb_config_err *err)
{
	int rc;

	memset(ch, 0, sizeof(*ch));
	rc = load_from(next, running->args, -1, running->env, err);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < lb_config_nkeys; i++) {
		const struct lb_config_key *k = &lb_config_keys[i];

		if (lb_config_value_equal(k, running, next))
			continue;
		if (k->live) {
			ch->live[ch->nlive++] = k->name;
			continue;
		}
		if (lb_config_value_copy(k, next, running) < 0) {
			lb_config_free(next);
			return out_of_memory(err);
		}
		ch->held[ch->nheld++] = k->name;
	}
	return 0;
}

/* ---- usage, names, free ---------------------------------------------- */

void
lb_config_usage(FILE *out)
{
	fputs("Usage: switchyard [-dev] [-cfg FILE] [-KEY=VALUE | -KEY VALUE]...\n"
	      "       switchyard -h | -v\n"
	      "\n"
	      "A Consul-driven HTTP load balancer that reads fabio's route tags.\n"
	      "Each KEY below may also be set in the environment as SWITCHYARD_KEY\n"
	      "or FABIO_KEY ('.' as '_', any case) or in the -cfg file as\n"
	      "KEY = VALUE lines. Flags win over the environment (SWITCHYARD_ over\n"
	      "FABIO_), the environment over the file, the file over defaults.\n"
	      "\n"
	      "  -cfg FILE    read KEY = VALUE lines from FILE\n"
	      "  -dev         run an embedded dev registry on 127.0.0.1:8500 when\n"
	      "               no Consul agent answers there\n"
	      "  -h, -help    print this help and exit\n"
	      "  -v, -version print the version and exit\n"
	      "\n"
	      "Keys (* : applied on SIGHUP; the others need a restart):\n", out);
	for (size_t i = 0; i < lb_config_nkeys; i++) {
		const struct lb_config_key *k = &lb_config_keys[i];
		const char *d = lb_config_key_default_text(k);

		if (k->dflt != NULL)
			fprintf(out, "%s -%s %s (default \"%s\")\n", k->live ? "*" : " ",
				k->name, k->metavar, d);
		else
			fprintf(out, "%s -%s %s (default: %s)\n", k->live ? "*" : " ",
				k->name, k->metavar, d);
		fprintf(out, "      %s\n", k->help);
	}
}

static const char *
name_of(const struct lb_config_key *k, unsigned v)
{
	for (const struct lb_config_name *m = k->names; m->name != NULL; m++)
		if (m->value == v)
			return m->name;
	return "?";
}

static const char *
enum_name(const char *key, unsigned v)
{
	const struct lb_config_key *k = lb_config_key_find(key);

	return k != NULL ? name_of(k, v) : "?";
}

const char *
lb_config_log_level_name(enum lb_config_log_level l)
{
	return enum_name("log.level", (unsigned)l);
}

const char *
lb_config_access_format_name(enum lb_config_access_format f)
{
	return enum_name("log.access.format", (unsigned)f);
}

const char *
lb_config_routes_format_name(enum lb_config_routes_format f)
{
	return enum_name("log.routes.format", (unsigned)f);
}

void
lb_config_free(struct lb_config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < lb_config_nkeys; i++)
		lb_config_value_free(&lb_config_keys[i], c);
	free(c->cfg_path);
	strv_free(c->args);
	strv_free(c->env);
	memset(c, 0, sizeof(*c));
}
