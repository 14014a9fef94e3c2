/*
 * lb_proxy_harness - the data path on its own, for integration tests and
 * benchmarks: N workers serving a route table written in the route
 * language, given on the command line or in a file, without Consul.
 *
 *   lb_proxy_harness -listen 127.0.0.1:0 -workers 2 \
 *       -routes 'route add a /foo http://127.0.0.1:8081/' \
 *       [-routes-file FILE] [-strategy rr|rnd] [-matcher prefix|glob|iprefix]
 *       [-dial-timeout MS] [-response-timeout MS] [-idle-timeout MS]
 *       [-maxconn N] [-maxbody BYTES] [-noroute-status N]
 *       [-noroute-html TEXT] [-access-log stdout|stderr|FILE]
 *       [-access-format common|combined|json] [-shutdown-wait MS]
 *       [-log-level debug|info|warn|error] [-port-file FILE]
 *       [-down HOST:PORT]
 *
 * Prints "listening port=N" once serving (and writes N to -port-file).
 * SIGHUP reads -routes-file again and publishes the new table; SIGUSR1
 * prints the statistics; SIGTERM or SIGINT stop gracefully (requests in
 * flight get -shutdown-wait ms), print the statistics and exit 0.
 * Route-language errors are printed to stderr and the line is skipped.
 * -down marks the target with that address unfit for traffic through the
 * proxy's health callback, as a health checker would.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "lb/lb_proxy.h"
#include "routes/rt_parse.h"
#include "routes/rt_table.h"

struct harness {
	struct lb_proxy_opts o;
	enum rt_matcher matcher;
	const char *routes_text;
	const char *routes_file;
	const char *port_file;
	const char *noroute_html;
	const char *down;
	unsigned shutdown_wait_ms;
	struct lb_workers *ws;
	struct event_base *base;
};

static void
usage(FILE *f)
{
	fputs("usage: lb_proxy_harness [-listen ADDR] [-workers N] "
	      "[-routes TEXT] [-routes-file FILE]\n"
	      "  [-strategy rr|rnd] [-matcher prefix|glob|iprefix] "
	      "[-dial-timeout MS]\n"
	      "  [-response-timeout MS] [-idle-timeout MS] [-maxconn N] "
	      "[-maxbody BYTES]\n"
	      "  [-noroute-status N] [-noroute-html TEXT] "
	      "[-access-log TARGET]\n"
	      "  [-access-format common|combined|json] [-shutdown-wait MS]\n"
	      "  [-log-level debug|info|warn|error] [-port-file FILE]\n"
	      "  [-down HOST:PORT]\n", f);
}

/* The health callback: every target is fit except -down's. */
static int
healthy(const struct rt_target *t, void *arg)
{
	const char *down = arg;

	return t->addr == NULL || strcmp(t->addr, down) != 0;
}

static int
num(const char *flag, const char *v, unsigned long long max,
    unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(v, &end, 10);
	if (*v == '\0' || *end != '\0' || errno != 0 || *out > max) {
		fprintf(stderr, "lb_proxy_harness: %s: bad value \"%s\"\n",
			flag, v);
		return -1;
	}
	return 0;
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (f == NULL)
		return NULL;
	for (;;) {
		size_t r;

		if (cap - n < 4096) {
			char *nb = realloc(buf, cap + 65536);

			if (nb == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
			cap += 65536;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	*len = n;
	return buf;
}

/* Build a table from the text and the file, and publish it. */
static int
publish(struct harness *h)
{
	struct rt_cmd_list cmds, warnings;
	struct rt_build_opts bo;
	struct rt_table *t;
	size_t i;
	int rc = 0;

	memset(&cmds, 0, sizeof(cmds));
	memset(&warnings, 0, sizeof(warnings));
	if (h->routes_text != NULL &&
	    rt_parse(h->routes_text, strlen(h->routes_text), &cmds) < 0)
		rc = -ENOMEM;
	if (rc == 0 && h->routes_file != NULL) {
		size_t len = 0;
		char *text = read_file(h->routes_file, &len);

		if (text == NULL) {
			fprintf(stderr, "lb_proxy_harness: %s: %s\n",
				h->routes_file, strerror(errno));
			rc = -errno;
		} else {
			if (rt_parse(text, len, &cmds) < 0)
				rc = -ENOMEM;
			free(text);
		}
	}
	for (i = 0; i < cmds.nerrs; i++)
		fprintf(stderr, "lb_proxy_harness: routes: line %u: %s: %s\n",
			cmds.errs[i].line, cmds.errs[i].field,
			cmds.errs[i].msg);
	if (rc == 0) {
		bo.matcher = h->matcher;
		t = rt_table_build(&cmds, &bo, &warnings);
		for (i = 0; i < warnings.nerrs; i++)
			fprintf(stderr, "lb_proxy_harness: routes: line %u: "
				"%s: %s\n", warnings.errs[i].line,
				warnings.errs[i].field, warnings.errs[i].msg);
		if (t == NULL) {
			rc = -ENOMEM;
		} else {
			lb_workers_publish(h->ws, t);
			fprintf(stderr, "lb_proxy_harness: table generation=%llu "
				"routes=%zu targets=%zu\n",
				(unsigned long long)rt_table_generation(t),
				rt_table_nroutes(t), rt_table_ntargets(t));
			rt_table_unref(t);
		}
	}
	rt_cmd_list_clear(&cmds);
	rt_cmd_list_clear(&warnings);
	return rc;
}

static void
print_stats(struct harness *h)
{
	struct lb_proxy_stats s;

	lb_workers_stats(h->ws, &s);
	printf("stats requests=%llu 2xx=%llu 3xx=%llu 4xx=%llu 5xx=%llu "
	       "noroute=%llu connects=%llu connect_failures=%llu reuses=%llu "
	       "retries_fresh=%llu retries_other=%llu client_aborts=%llu "
	       "active=%llu idle=%llu\n",
	       (unsigned long long)s.requests,
	       (unsigned long long)s.status_2xx,
	       (unsigned long long)s.status_3xx,
	       (unsigned long long)s.status_4xx,
	       (unsigned long long)s.status_5xx,
	       (unsigned long long)s.noroute,
	       (unsigned long long)s.upstream_connects,
	       (unsigned long long)s.upstream_connect_failures,
	       (unsigned long long)s.upstream_reuses,
	       (unsigned long long)s.retries_fresh,
	       (unsigned long long)s.retries_other,
	       (unsigned long long)s.client_aborts,
	       (unsigned long long)s.active,
	       (unsigned long long)s.upstream_idle);
	fflush(stdout);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct harness *h = arg;

	(void)what;
	if (sig == SIGHUP)
		publish(h);
	else if (sig == SIGUSR1)
		print_stats(h);
	else
		event_base_loopbreak(h->base);
}

static int
parse_args(struct harness *h, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *f = argv[i], *v;
		unsigned long long n;

		if (strcmp(f, "-h") == 0 || strcmp(f, "--help") == 0) {
			usage(stdout);
			exit(0);
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "lb_proxy_harness: %s needs a value\n", f);
			return -1;
		}
		v = argv[++i];
		if (strcmp(f, "-listen") == 0) {
			h->o.listen = v;
		} else if (strcmp(f, "-workers") == 0) {
			if (num(f, v, 256, &n) < 0)
				return -1;
			h->o.workers = (unsigned)n;
		} else if (strcmp(f, "-routes") == 0) {
			h->routes_text = v;
		} else if (strcmp(f, "-routes-file") == 0) {
			h->routes_file = v;
		} else if (strcmp(f, "-strategy") == 0) {
			if (rt_strategy_parse(v, &h->o.strategy) < 0) {
				fprintf(stderr, "lb_proxy_harness: bad strategy\n");
				return -1;
			}
		} else if (strcmp(f, "-matcher") == 0) {
			if (strcmp(v, "prefix") == 0)
				h->matcher = RT_MATCH_PREFIX;
			else if (strcmp(v, "iprefix") == 0)
				h->matcher = RT_MATCH_IPREFIX;
			else if (strcmp(v, "glob") == 0)
				h->matcher = RT_MATCH_GLOB;
			else {
				fprintf(stderr, "lb_proxy_harness: bad matcher\n");
				return -1;
			}
		} else if (strcmp(f, "-dial-timeout") == 0) {
			if (num(f, v, 3600000, &n) < 0)
				return -1;
			h->o.dial_timeout_ms = (unsigned)n;
		} else if (strcmp(f, "-response-timeout") == 0) {
			if (num(f, v, 3600000, &n) < 0)
				return -1;
			h->o.response_header_timeout_ms = (unsigned)n;
		} else if (strcmp(f, "-idle-timeout") == 0) {
			if (num(f, v, 3600000, &n) < 0)
				return -1;
			h->o.idle_conn_timeout_ms = (unsigned)n;
		} else if (strcmp(f, "-maxconn") == 0) {
			if (num(f, v, 1000000, &n) < 0)
				return -1;
			h->o.max_idle_per_target = (unsigned)n;
		} else if (strcmp(f, "-maxbody") == 0) {
			if (num(f, v, (1ULL << 40), &n) < 0)
				return -1;
			h->o.max_body = n;
		} else if (strcmp(f, "-noroute-status") == 0) {
			if (num(f, v, 999, &n) < 0)
				return -1;
			h->o.noroute_status = (int)n;
		} else if (strcmp(f, "-noroute-html") == 0) {
			h->noroute_html = v;
		} else if (strcmp(f, "-access-log") == 0) {
			h->o.access_target = v;
		} else if (strcmp(f, "-access-format") == 0) {
			if (lb_access_format_parse(v, &h->o.access_format) < 0) {
				fprintf(stderr, "lb_proxy_harness: bad format\n");
				return -1;
			}
		} else if (strcmp(f, "-shutdown-wait") == 0) {
			if (num(f, v, 3600000, &n) < 0)
				return -1;
			h->shutdown_wait_ms = (unsigned)n;
		} else if (strcmp(f, "-log-level") == 0) {
			if (strcmp(v, "debug") == 0)
				h->o.log.level = LB_LOG_DEBUG;
			else if (strcmp(v, "info") == 0)
				h->o.log.level = LB_LOG_INFO;
			else if (strcmp(v, "warn") == 0)
				h->o.log.level = LB_LOG_WARN;
			else if (strcmp(v, "error") == 0)
				h->o.log.level = LB_LOG_ERROR;
			else {
				fprintf(stderr, "lb_proxy_harness: bad level\n");
				return -1;
			}
		} else if (strcmp(f, "-port-file") == 0) {
			h->port_file = v;
		} else if (strcmp(f, "-down") == 0) {
			h->down = v;
			h->o.healthy = healthy;
			h->o.healthy_arg = (void *)v;
		} else {
			fprintf(stderr, "lb_proxy_harness: unknown flag %s\n", f);
			usage(stderr);
			return -1;
		}
	}
	if (h->o.access_target != NULL && h->o.access_format == LB_ACCESS_OFF)
		h->o.access_format = LB_ACCESS_COMMON;
	return 0;
}

int
main(int argc, char **argv)
{
	struct harness h;
	struct event *sigs[5];
	static const int signos[5] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, 0};
	int err = 0, cut, i;

	memset(&h, 0, sizeof(h));
	lb_proxy_opts_init(&h.o);
	h.o.listen = "127.0.0.1:0";
	h.o.workers = 1;
	h.o.log.fn = lb_log_to_file;
	h.o.log.arg = stderr;
	h.shutdown_wait_ms = 5000;
	if (parse_args(&h, argc, argv) < 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);

	h.base = event_base_new();
	if (h.base == NULL)
		return 1;
	for (i = 0; signos[i] != 0; i++) {
		sigs[i] = evsignal_new(h.base, signos[i], on_signal, &h);
		if (sigs[i] == NULL || event_add(sigs[i], NULL) < 0)
			return 1;
	}
	h.ws = lb_workers_start(&h.o, &err);
	if (h.ws == NULL) {
		fprintf(stderr, "lb_proxy_harness: cannot start: %s\n",
			strerror(-err));
		return 1;
	}
	if (h.noroute_html != NULL)
		lb_workers_set_noroute_html(h.ws, h.noroute_html,
					    strlen(h.noroute_html));
	if ((h.routes_text != NULL || h.routes_file != NULL) && publish(&h) < 0) {
		lb_workers_stop(h.ws, 0);
		return 1;
	}
	if (h.port_file != NULL) {
		FILE *f = fopen(h.port_file, "w");

		if (f != NULL) {
			fprintf(f, "%d\n", lb_workers_port(h.ws));
			fclose(f);
		}
	}
	printf("listening port=%d\n", lb_workers_port(h.ws));
	fflush(stdout);

	event_base_dispatch(h.base);

	print_stats(&h);
	cut = lb_workers_stop(h.ws, h.shutdown_wait_ms);
	printf("stopped cut=%d\n", cut);
	fflush(stdout);
	for (i = 0; signos[i] != 0; i++)
		event_free(sigs[i]);
	event_base_free(h.base);
	return 0;
}
