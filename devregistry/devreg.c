/*
 * devreg.c - devreg_new()/devreg_free(): the store, the check runner and
 * the HTTP server wired together on one event_base.
 */
#include "devregistry/devreg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devregistry/devreg_checks.h"
#include "devregistry/devreg_http.h"
#include "devregistry/devreg_url.h"
#include "devregistry/devreg_store.h"

#define DEFAULT_LISTEN "127.0.0.1:8500"
#define DEFAULT_REAP_MS 30000
#define DEFAULT_DEREGISTER_MIN_MS 60000
#define DEFAULT_INTERVAL_MIN_MS 1000
#define DEFAULT_REQUEST_TIMEOUT_MS 60000

static void
hook_started(void *arg, struct devreg_check *c)
{
	struct devreg *d = arg;

	if (d->checks != NULL)
		devreg_checks_start(d->checks, c);
}

static void
hook_stopped(void *arg, struct devreg_check *c)
{
	struct devreg *d = arg;

	if (d->checks != NULL)
		devreg_checks_stop(d->checks, c);
}

/* Consul's node name is the host name, trimmed. */
static char *
host_name(void)
{
	char buf[256];
	size_t n;

	if (gethostname(buf, sizeof(buf)) < 0)
		return strdup("localhost");
	buf[sizeof(buf) - 1] = '\0';
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\n'))
		buf[--n] = '\0';
	return strdup(n > 0 ? buf : "localhost");
}

/* The address the node advertises: the listen address, or loopback when
 * listening on every interface. */
static char *
advertise_address(const char *host)
{
	unsigned char b[16];
	struct addrinfo hints, *res = NULL;
	char out[INET6_ADDRSTRLEN];

	if (host == NULL || *host == '\0' || strcmp(host, "0.0.0.0") == 0 ||
	    strcmp(host, "::") == 0)
		return strdup("127.0.0.1");
	if (inet_pton(AF_INET, host, b) == 1 || inet_pton(AF_INET6, host, b) == 1)
		return strdup(host);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, NULL, &hints, &res) == 0 && res != NULL) {
		const void *a = res->ai_family == AF_INET ?
			(const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr :
			(const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr;

		if (inet_ntop(res->ai_family, a, out, sizeof(out)) != NULL) {
			freeaddrinfo(res);
			return strdup(out);
		}
	}
	if (res != NULL)
		freeaddrinfo(res);
	return strdup("127.0.0.1");
}

struct devreg *
devreg_new(struct event_base *base, const struct devreg_config *cfg, int *err)
{
	struct devreg *d = calloc(1, sizeof(*d));
	struct devreg_store_config scfg;
	struct devreg_store_hooks hooks;
	char *node = NULL, *addr = NULL, port_s[16];
	int port = 0, rc = -ENOMEM;
	int v6;

	if (d == NULL)
		goto fail;
	d->base = base;
	d->log.fn = cfg->log;
	d->log.arg = cfg->log_arg;
	d->log.level = cfg->log_level;
	d->compat_get = cfg->compat_get_verbs;
	d->strict = cfg->strict_decode;
	d->request_timeout_ms = cfg->request_timeout_ms > 0 ? cfg->request_timeout_ms :
							      DEFAULT_REQUEST_TIMEOUT_MS;
	rc = devreg_hostport_split(cfg->listen != NULL ? cfg->listen : DEFAULT_LISTEN,
				   &d->listen_host, &port);
	if (rc < 0) {
		rc = rc == -ENOMEM ? rc : -EINVAL;
		goto fail;
	}
	rc = -ENOMEM;
	node = cfg->node_name != NULL && *cfg->node_name != '\0' ? strdup(cfg->node_name) :
								   host_name();
	addr = advertise_address(d->listen_host);
	if (node == NULL || addr == NULL)
		goto fail;
	v6 = strchr(addr, ':') != NULL;
	if (asprintf(&d->self_addr, v6 ? "[%s]:8300" : "%s:8300", addr) < 0) {
		d->self_addr = NULL;
		goto fail;
	}
	memset(&scfg, 0, sizeof(scfg));
	scfg.node_name = node;
	scfg.node_address = addr;
	scfg.datacenter = cfg->datacenter != NULL && *cfg->datacenter != '\0' ?
			  cfg->datacenter : "dc1";
	scfg.deregister_min_ms = cfg->deregister_min_ms > 0 ? cfg->deregister_min_ms :
							      DEFAULT_DEREGISTER_MIN_MS;
	scfg.interval_min_ms = cfg->interval_min_ms > 0 ? cfg->interval_min_ms :
							  DEFAULT_INTERVAL_MIN_MS;
	d->store = devreg_store_new(&scfg, &d->log);
	if (d->store == NULL)
		goto fail;
	d->checks = devreg_checks_new(base, d->store,
				      cfg->reap_interval_ms > 0 ? cfg->reap_interval_ms :
								  DEFAULT_REAP_MS,
				      &d->log);
	if (d->checks == NULL)
		goto fail;
	memset(&hooks, 0, sizeof(hooks));
	hooks.check_started = hook_started;
	hooks.check_stopped = hook_stopped;
	hooks.changed = devreg_http_changed;
	hooks.arg = d;
	devreg_store_set_hooks(d->store, &hooks);
	rc = devreg_http_start(d, d->listen_host, port);
	if (rc < 0)
		goto fail;
	snprintf(port_s, sizeof(port_s), "%d", d->port);
	DEVREG_LOG(&d->log, DEVREG_LOG_INFO, "dev registry listening",
		   "host", d->listen_host, "port", port_s, "node", node,
		   "datacenter", d->store->node.datacenter);
	free(node);
	free(addr);
	return d;
fail:
	free(node);
	free(addr);
	devreg_free(d);
	if (err != NULL)
		*err = rc;
	return NULL;
}

int
devreg_port(const struct devreg *d)
{
	return d->port;
}

void
devreg_free(struct devreg *d)
{
	if (d == NULL)
		return;
	devreg_http_stop(d);
	if (d->store != NULL) {
		devreg_checks_free(d->checks);
		d->checks = NULL;
		devreg_store_set_hooks(d->store, NULL);
		devreg_store_free(d->store);
	}
	free(d->listen_host);
	free(d->self_addr);
	free(d);
}
