/*
 * demo_flags.c - switchyard-demo's command line (see demo_flags.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "demo/demo_flags.h"

#define DEFAULT_DEREGISTER_MS 60000u

enum flag_kind { FLAG_ADDR, FLAG_NAME, FLAG_PREFIX, FLAG_TAGS, FLAG_CONSUL,
		 FLAG_STATUS, FLAG_TOKEN, FLAG_DEREGISTER, FLAG_HELP };

static const struct {
	const char *name;
	enum flag_kind kind;
} flag_table[] = {
	{ "addr", FLAG_ADDR },
	{ "name", FLAG_NAME },
	{ "prefix", FLAG_PREFIX },
	{ "tags", FLAG_TAGS },
	{ "consul", FLAG_CONSUL },
	{ "status", FLAG_STATUS },
	{ "token", FLAG_TOKEN },
	{ "deregister", FLAG_DEREGISTER },
	{ "h", FLAG_HELP },
	{ "help", FLAG_HELP },
};

void demo_flags_usage(FILE *out, const char *prog)
{
	fprintf(out,
		"Usage: %s -prefix PATH [flags]\n"
		"A demo service: answers HTTP on its prefixes and registers itself\n"
		"with a Consul agent (or switchyard-registry) through libregistrar.\n"
		"\n"
		"  -addr HOST:PORT     listen and register here (default 127.0.0.1:5000)\n"
		"  -name NAME          service name (default: the program's name)\n"
		"  -prefix \"PATH[ OPTS]\"  route prefix, tagged urlprefix-PATH[ OPTS];\n"
		"                      repeatable, at least one\n"
		"  -tags T[,T...]      extra tags; repeatable\n"
		"  -consul HOST:PORT   agent address (default 127.0.0.1:8500)\n"
		"  -status CODE        HTTP status answered on the prefixes (default 200)\n"
		"  -token TOKEN        Consul ACL token\n"
		"  -deregister DUR     DeregisterCriticalServiceAfter, a Go duration;\n"
		"                      0 for none (default 1m)\n"
		"  -h                  this help\n"
		"\n"
		"Flags may also be written --flag, -flag=VALUE or --flag=VALUE.\n",
		prog);
}

static void set_err(char *err, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static int push_tag(struct demo_flags *f, const char *start, size_t len)
{
	char **grown, *tag;

	while (len > 0 && (*start == ' ' || *start == '\t')) {
		start++;
		len--;
	}
	while (len > 0 && (start[len - 1] == ' ' || start[len - 1] == '\t'))
		len--;
	if (len == 0)
		return 0;
	tag = strndup(start, len);
	if (!tag)
		return -1;
	grown = realloc(f->tags, (f->ntags + 1) * sizeof(*grown));
	if (!grown) {
		free(tag);
		return -1;
	}
	f->tags = grown;
	f->tags[f->ntags++] = tag;
	return 0;
}

static int add_tags(struct demo_flags *f, const char *value)
{
	const char *p = value;

	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (push_tag(f, p, len) != 0)
			return -1;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

static int add_prefix(struct demo_flags *f, const char *value)
{
	const char **grown = realloc(f->prefixes,
				     (f->nprefixes + 1) * sizeof(*grown));

	if (!grown)
		return -1;
	f->prefixes = grown;
	f->prefixes[f->nprefixes++] = value;
	return 0;
}

int demo_addr_split(const char *addr, char *host, size_t hostsize,
		    int *port)
{
	const char *colon = strrchr(addr, ':'), *h = addr;
	size_t hlen;
	char *end;
	long p;

	if (!colon)
		return -1;
	hlen = (size_t)(colon - addr);
	if (hlen > 0 && addr[0] == '[') {
		if (hlen < 3 || addr[hlen - 1] != ']')
			return -1;
		h = addr + 1;
		hlen -= 2;
	} else if (memchr(addr, ':', hlen)) {
		return -1;  /* an IPv6 host needs brackets */
	}
	if (hlen >= hostsize)
		return -1;
	if (colon[1] < '0' || colon[1] > '9')
		return -1;
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno || *end || p < 0 || p > 65535)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (int)p;
	return 0;
}

int demo_duration_parse(const char *s, unsigned *ms)
{
	static const struct {
		const char *unit;
		double ms;
	} units[] = {
		/* longest first, so "ms" is not read as "m" */
		{ "ns", 1e-6 }, { "us", 1e-3 }, { "\xc2\xb5s", 1e-3 },
		{ "ms", 1.0 }, { "s", 1e3 }, { "m", 6e4 }, { "h", 3.6e6 },
	};
	double total = 0;
	const char *p = s;

	if (!s || !*s)
		return -1;
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	while (*p) {
		double v = 0, scale = 1;
		int digits = 0;
		size_t i;

		/* [0-9]*(.[0-9]*)? with at least one digit, as Go reads it */
		for (; *p >= '0' && *p <= '9'; p++, digits++)
			v = v * 10 + (*p - '0');
		if (*p == '.')
			for (p++; *p >= '0' && *p <= '9'; p++, digits++)
				v += (*p - '0') * (scale /= 10);
		if (digits == 0)
			return -1;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t n = strlen(units[i].unit);

			if (strncmp(p, units[i].unit, n) == 0) {
				total += v * units[i].ms;
				p += n;
				break;
			}
		}
		if (i == sizeof(units) / sizeof(units[0]))
			return -1;
		if (total > (double)UINT_MAX)
			return -1;
	}
	*ms = (unsigned)total;
	return 0;
}

/* The table entry for "-name", "--name", "-name=v" (name only, up to the
 * '='); -1 when unknown. */
static int lookup(const char *arg, size_t len)
{
	for (size_t i = 0; i < sizeof(flag_table) / sizeof(flag_table[0]); i++)
		if (strlen(flag_table[i].name) == len &&
		    strncmp(flag_table[i].name, arg, len) == 0)
			return (int)i;
	return -1;
}

static int apply(struct demo_flags *f, enum flag_kind kind, const char *flag,
		 const char *value, char *err, size_t errsize)
{
	char *end;
	long n;

	switch (kind) {
	case FLAG_ADDR: {
		char host[256];
		int port;

		if (demo_addr_split(value, host, sizeof(host), &port) != 0) {
			set_err(err, errsize,
				"invalid value \"%s\" for flag -%s: want HOST:PORT",
				value, flag);
			return -1;
		}
		f->addr = value;
		return 0;
	}
	case FLAG_NAME:
		if (!*value) {
			set_err(err, errsize, "flag -%s: empty name", flag);
			return -1;
		}
		f->name = value;
		return 0;
	case FLAG_PREFIX:
		/* "/path" or "host/path", then options after a space */
		if (!value[0] || value[0] == ' ' ||
		    strcspn(value, "/") >= strcspn(value, " ")) {
			set_err(err, errsize,
				"invalid value \"%s\" for flag -%s: want /PATH or HOST/PATH",
				value, flag);
			return -1;
		}
		if (add_prefix(f, value) != 0)
			goto nomem;
		return 0;
	case FLAG_TAGS:
		if (add_tags(f, value) != 0)
			goto nomem;
		return 0;
	case FLAG_CONSUL:
		f->consul = value;
		return 0;
	case FLAG_TOKEN:
		f->token = value;
		return 0;
	case FLAG_STATUS:
		errno = 0;
		n = strtol(value, &end, 10);
		if (errno || end == value || *end || n < 200 || n > 599) {
			set_err(err, errsize,
				"invalid value \"%s\" for flag -%s: want an HTTP status 200..599",
				value, flag);
			return -1;
		}
		f->status = (int)n;
		return 0;
	case FLAG_DEREGISTER:
		if (demo_duration_parse(value, &f->deregister_ms) != 0) {
			set_err(err, errsize,
				"invalid value \"%s\" for flag -%s: want a duration such as 1m or 90s",
				value, flag);
			return -1;
		}
		return 0;
	case FLAG_HELP:
		f->help = 1;
		return 0;
	}
	return 0;
nomem:
	set_err(err, errsize, "out of memory");
	return -1;
}

int demo_flags_parse(struct demo_flags *f, int argc, char **argv,
		     char *err, size_t errsize)
{
	int i;

	memset(f, 0, sizeof(*f));
	f->addr = "127.0.0.1:5000";
	f->name = argc > 0 && argv[0] && *base_name(argv[0]) ?
		  base_name(argv[0]) : "switchyard-demo";
	f->consul = "127.0.0.1:8500";
	f->status = 200;
	f->deregister_ms = DEFAULT_DEREGISTER_MS;

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *name, *eq, *value;
		size_t len;
		int idx;

		if (strcmp(arg, "--") == 0) {
			i++;
			break;
		}
		if (arg[0] != '-' || arg[1] == '\0')
			break;
		name = arg + 1 + (arg[1] == '-');
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);
		idx = len ? lookup(name, len) : -1;
		if (idx < 0) {
			set_err(err, errsize, "flag provided but not defined: %s",
				arg);
			return -1;
		}
		if (flag_table[idx].kind == FLAG_HELP) {
			if (eq) {
				set_err(err, errsize, "flag -%s takes no value",
					flag_table[idx].name);
				return -1;
			}
			f->help = 1;
			continue;
		}
		if (eq) {
			value = eq + 1;
		} else {
			if (i + 1 >= argc) {
				set_err(err, errsize, "flag needs an argument: -%s",
					flag_table[idx].name);
				return -1;
			}
			value = argv[++i];
		}
		if (apply(f, flag_table[idx].kind, flag_table[idx].name, value,
			  err, errsize) != 0)
			return -1;
	}
	if (i < argc) {
		set_err(err, errsize, "unexpected argument: %s", argv[i]);
		return -1;
	}
	if (f->help)
		return 0;
	if (f->nprefixes == 0) {
		set_err(err, errsize, "at least one -prefix is required");
		return -1;
	}
	return 0;
}

void demo_flags_clear(struct demo_flags *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->ntags; i++)
		free(f->tags[i]);
	free(f->tags);
	free(f->prefixes);
	memset(f, 0, sizeof(*f));
}
