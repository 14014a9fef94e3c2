/*
 * devreg_main.c - switchyard-registry: the dev registry as a program.
 * Flags, logging to stderr, signals; everything else is libdevreg.
 */
#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "devregistry/devreg.h"
#include "devregistry/devreg_duration.h"
#include "devregistry/devreg_url.h"

struct options {
	struct devreg_config cfg;
	int help;
};

static void
usage(FILE *out)
{
	fprintf(out,
		"Usage: switchyard-registry [flags]\n"
		"\n"
		"A development and test stand-in for a Consul agent: a single-node,\n"
		"in-memory server speaking the subset of Consul's HTTP API that\n"
		"switchyard, libregistrar, fabio and common Consul clients use.\n"
		"It keeps nothing on disk and is not a production registry.\n"
		"\n"
		"Flags (-flag value, -flag=value and --flag all work):\n"
		"  -addr HOST:PORT         listen address (default 127.0.0.1:8500)\n"
		"  -node NAME              node name (default: the host name)\n"
		"  -datacenter DC          datacenter (default dc1)\n"
		"  -log-level LEVEL        debug, info, warn or error (default info)\n"
		"  -compat-pre1-verbs      accept GET on the pre-1.0 write endpoints\n"
		"                          (python-consul 0.x deregistration and TTL calls)\n"
		"  -strict                 reject unknown JSON fields, as Consul does\n"
		"  -reap-interval DUR      how often critical services are reaped (default 30s)\n"
		"  -deregister-min DUR     floor of DeregisterCriticalServiceAfter (default 1m)\n"
		"  -interval-min DUR       floor of check intervals (default 1s)\n"
		"  -request-timeout DUR    close requests and idle connections silent\n"
		"                          this long (default 1m)\n"
		"  -h, -help               show this help\n");
}

static const char *const level_names[] = { "debug", "info", "warn", "error" };

static void
log_stderr(enum devreg_log_level level, const char *line, void *arg)
{
	struct timeval tv;
	struct tm tm;
	char ts[32];

	(void)level;
	(void)arg;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "time=%s.%03dZ %s\n", ts, (int)(tv.tv_usec / 1000), line);
	fflush(stderr);
}

static int
bad_flag(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "switchyard-registry: ");
	fprintf(stderr, fmt, a, b);
	fprintf(stderr, "\nRun 'switchyard-registry -h' for the flags.\n");
	return -1;
}

/* A duration flag in milliseconds (> 0, fits an unsigned). */
static int
duration_ms(const char *name, const char *v, unsigned *out)
{
	char err[160];
	int64_t ns;

	if (devreg_duration_parse(v, &ns, err, sizeof(err)) < 0)
		return bad_flag("invalid value for -%s: %s", name, err);
	if (ns <= 0 || ns / 1000000 > (int64_t)UINT_MAX || ns / 1000000 == 0)
		return bad_flag("invalid value for -%s: %s (must be at least 1ms)", name, v);
	*out = (unsigned)(ns / 1000000);
	return 0;
}

static int
parse_flags(int argc, char **argv, struct options *o)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *name, *eq, *val = NULL;
		char key[64];
		size_t klen;

		if (arg[0] != '-' || arg[1] == '\0')
			return bad_flag("unexpected argument %s%s", arg, "");
		name = arg + (arg[1] == '-' ? 2 : 1);
		eq = strchr(name, '=');
		klen = eq != NULL ? (size_t)(eq - name) : strlen(name);
		if (klen == 0 || klen >= sizeof(key))
			return bad_flag("unknown flag %s%s", arg, "");
		memcpy(key, name, klen);
		key[klen] = '\0';
		if (eq != NULL)
			val = eq + 1;

		if (strcmp(key, "h") == 0 || strcmp(key, "help") == 0) {
			o->help = 1;
			continue;
		}
		if (strcmp(key, "compat-pre1-verbs") == 0 || strcmp(key, "strict") == 0) {
			int on = 1;

			if (val != NULL) {
				if (strcmp(val, "true") == 0 || strcmp(val, "1") == 0)
					on = 1;
				else if (strcmp(val, "false") == 0 || strcmp(val, "0") == 0)
					on = 0;
				else
					return bad_flag("invalid boolean value %s for -%s", val, key);
			}
			if (key[0] == 'c')
				o->cfg.compat_get_verbs = on;
			else
				o->cfg.strict_decode = on;
			continue;
		}
		if (strcmp(key, "addr") != 0 && strcmp(key, "node") != 0 &&
		    strcmp(key, "datacenter") != 0 && strcmp(key, "log-level") != 0 &&
		    strcmp(key, "reap-interval") != 0 && strcmp(key, "deregister-min") != 0 &&
		    strcmp(key, "interval-min") != 0 && strcmp(key, "request-timeout") != 0)
			return bad_flag("unknown flag -%s%s", key, "");
		if (val == NULL) {
			if (i + 1 >= argc)
				return bad_flag("flag needs a value: -%s%s", key, "");
			val = argv[++i];
		}
		if (strcmp(key, "addr") == 0) {
			char *host = NULL;
			int port;

			if (devreg_hostport_split(val, &host, &port) < 0)
				return bad_flag("invalid value for -addr: %s (want HOST:PORT)", val, "");
			free(host);
			o->cfg.listen = val;
		} else if (strcmp(key, "node") == 0) {
			if (*val == '\0')
				return bad_flag("invalid value for -node: %s%s", "empty name", "");
			o->cfg.node_name = val;
		} else if (strcmp(key, "datacenter") == 0) {
			if (*val == '\0')
				return bad_flag("invalid value for -datacenter: %s%s", "empty name", "");
			o->cfg.datacenter = val;
		} else if (strcmp(key, "log-level") == 0) {
			size_t l;

			for (l = 0; l < 4; l++)
				if (strcmp(val, level_names[l]) == 0)
					break;
			if (l == 4)
				return bad_flag("invalid value for -log-level: %s%s (debug, info, warn or error)",
						val, "");
			o->cfg.log_level = (enum devreg_log_level)l;
		} else if (strcmp(key, "reap-interval") == 0) {
			if (duration_ms(key, val, &o->cfg.reap_interval_ms) < 0)
				return -1;
		} else if (strcmp(key, "deregister-min") == 0) {
			if (duration_ms(key, val, &o->cfg.deregister_min_ms) < 0)
				return -1;
		} else if (strcmp(key, "interval-min") == 0) {
			if (duration_ms(key, val, &o->cfg.interval_min_ms) < 0)
				return -1;
		} else {
			if (duration_ms(key, val, &o->cfg.request_timeout_ms) < 0)
				return -1;
		}
	}
	return 0;
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopexit(arg, NULL);
}

int
main(int argc, char **argv)
{
	struct options o;
	struct event_base *base = NULL;
	struct event *sigint = NULL, *sigterm = NULL;
	struct devreg *d = NULL;
	int err = 0, status = 1;

	memset(&o, 0, sizeof(o));
	o.cfg.log_level = DEVREG_LOG_INFO;
	o.cfg.log = log_stderr;
	if (parse_flags(argc, argv, &o) < 0)
		return 2;
	if (o.help) {
		usage(stdout);
		return 0;
	}
	/* A client that hangs up mid-reply must not kill the process. */
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	if (base == NULL) {
		fprintf(stderr, "switchyard-registry: cannot create the event loop\n");
		goto out;
	}
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	if (sigint == NULL || sigterm == NULL || evsignal_add(sigint, NULL) < 0 ||
	    evsignal_add(sigterm, NULL) < 0) {
		fprintf(stderr, "switchyard-registry: cannot watch signals\n");
		goto out;
	}
	d = devreg_new(base, &o.cfg, &err);
	if (d == NULL) {
		fprintf(stderr, "switchyard-registry: cannot listen on %s: %s\n",
			o.cfg.listen != NULL ? o.cfg.listen : "127.0.0.1:8500",
			err == -EINVAL ? "invalid address (want HOST:PORT)" : strerror(-err));
		goto out;
	}
	event_base_dispatch(base);
	if (o.cfg.log_level <= DEVREG_LOG_INFO)
		log_stderr(DEVREG_LOG_INFO, "level=info msg=\"shutting down\"", NULL);
	status = 0;
out:
	devreg_free(d);
	if (sigint != NULL)
		event_free(sigint);
	if (sigterm != NULL)
		event_free(sigterm);
	if (base != NULL)
		event_base_free(base);
	return status;
}
