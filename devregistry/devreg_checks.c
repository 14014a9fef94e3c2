/*
 * devreg_checks.c - runners hang off devreg_check.runner; the store tells
 * us when checks come and go through its hooks.
 */
#include "devregistry/devreg_checks.h"

#include <errno.h>
#include <event2/dns.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devregistry/devreg_probe.h"
#include "devregistry/devreg_rand.h"

struct runner {
	struct devreg_checks *k;
	struct devreg_check *c;
	struct event *timer;
	struct devreg_probe *probe;
	int successes, failures;
	char *last_output;   /* TTL: the last update's output */
};

struct devreg_checks {
	struct event_base *base;
	struct devreg_store *store;
	struct devreg_log log;
	struct event *reaper;
	SSL_CTX *tls;
	struct evdns_base *dns;   /* made on first use */
	int dns_failed;
};

static void
set_timer_ms(struct event *ev, int64_t ms)
{
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	evtimer_add(ev, &tv);
}

static SSL_CTX *
tls_ctx(struct devreg_checks *k)
{
	if (k->tls == NULL) {
		k->tls = SSL_CTX_new(TLS_client_method());
		if (k->tls != NULL)
			SSL_CTX_set_default_verify_paths(k->tls);
	}
	return k->tls;
}

/* The resolver for check targets; NULL (blocking lookups) if it cannot
 * be set up. */
static struct evdns_base *
dns_base(struct devreg_checks *k)
{
	if (k->dns == NULL && !k->dns_failed) {
		k->dns = evdns_base_new(k->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
						 EVDNS_BASE_DISABLE_WHEN_INACTIVE);
		if (k->dns == NULL) {
			k->dns_failed = 1;
			DEVREG_LOG(&k->log, DEVREG_LOG_WARN, "no asynchronous resolver",
				   "effect", "check targets are resolved with blocking lookups");
		}
	}
	return k->dns;
}

/* Consul's StatusHandler: consecutive results decide. */
static void
handle_result(struct runner *r, enum devreg_status st, const char *output)
{
	const struct devreg_check_def *d = r->c->def;
	int fbw = d->failures_before_warning_set ? d->failures_before_warning :
						   d->failures_before_critical;

	if (st == DEVREG_PASSING || st == DEVREG_WARNING) {
		r->successes++;
		r->failures = 0;
		if (r->successes >= d->success_before_passing)
			devreg_store_check_update(r->k->store, r->c, st, output);
		return;
	}
	r->failures++;
	r->successes = 0;
	if (r->failures >= d->failures_before_critical)
		devreg_store_check_update(r->k->store, r->c, DEVREG_CRITICAL, output);
	else if (r->failures >= fbw)
		devreg_store_check_update(r->k->store, r->c, DEVREG_WARNING, output);
}

static void
probe_done(void *arg, enum devreg_status st, const char *output)
{
	struct runner *r = arg;

	r->probe = NULL;
	handle_result(r, st, output);
	set_timer_ms(r->timer, r->c->interval_ms);
}

static void
run_probe(evutil_socket_t fd, short what, void *arg)
{
	struct runner *r = arg;
	const struct devreg_check_def *d = r->c->def;
	int64_t timeout = d->timeout > 0 ? (d->timeout + 999999) / 1000000 : 0;

	(void)fd;
	(void)what;
	if (r->c->type == DEVREG_CT_HTTP) {
		struct devreg_probe_http hp = {
			.url = d->http,
			.method = d->method,
			.body = d->body,
			.headers = d->headers,
			.nheaders = d->nheaders,
			.timeout_ms = timeout,
			.disable_redirects = d->disable_redirects,
			.tls_skip_verify = d->tls_skip_verify,
			.tls_server_name = d->tls_server_name,
			.output_max = d->output_max_size > 0 ? (size_t)d->output_max_size :
							       DEVREG_OUTPUT_MAX,
		};

		r->probe = devreg_probe_http_start(r->k->base, dns_base(r->k), tls_ctx(r->k),
						   &hp, probe_done, r);
	} else {
		r->probe = devreg_probe_tcp_start(r->k->base, dns_base(r->k), d->tcp, timeout,
						  probe_done, r);
	}
	if (r->probe == NULL) {
		DEVREG_LOG(&r->k->log, DEVREG_LOG_ERROR, "check run failed",
			   "check", r->c->id, "error", "out of memory");
		set_timer_ms(r->timer, r->c->interval_ms);
	}
}

static void
ttl_expired(evutil_socket_t fd, short what, void *arg)
{
	struct runner *r = arg;
	char *out = NULL;

	(void)fd;
	(void)what;
	DEVREG_LOG(&r->k->log, DEVREG_LOG_WARN, "check missed TTL, is now critical",
		   "check", r->c->id);
	if (r->last_output == NULL || *r->last_output == '\0')
		out = strdup("TTL expired");
	else if (asprintf(&out, "TTL expired (last output before timeout follows): %s",
			  r->last_output) < 0)
		out = NULL;
	devreg_store_check_update(r->k->store, r->c, DEVREG_CRITICAL,
				  out != NULL ? out : "TTL expired");
	free(out);
}

static int64_t
ttl_ms(const struct devreg_check *c)
{
	return (c->def->ttl + 999999) / 1000000;
}

void
devreg_checks_start(struct devreg_checks *k, struct devreg_check *c)
{
	struct runner *r;

	if (c->def == NULL || c->runner != NULL)
		return;
	if (c->type != DEVREG_CT_HTTP && c->type != DEVREG_CT_TCP &&
	    c->type != DEVREG_CT_TTL) {
		DEVREG_LOG(&k->log, DEVREG_LOG_DEBUG, "check type not run by this agent",
			   "check", c->id, "type", devreg_check_type_name(c->type));
		return;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		goto nomem;
	r->k = k;
	r->c = c;
	r->timer = evtimer_new(k->base, c->type == DEVREG_CT_TTL ? ttl_expired : run_probe, r);
	if (r->timer == NULL)
		goto nomem;
	c->runner = r;
	if (c->type == DEVREG_CT_TTL)
		set_timer_ms(r->timer, ttl_ms(c));
	else
		set_timer_ms(r->timer, (int64_t)devreg_rand_below((uint64_t)c->interval_ms));
	return;
nomem:
	free(r);
	DEVREG_LOG(&k->log, DEVREG_LOG_ERROR, "check not started", "check", c->id,
		   "error", "out of memory");
}

void
devreg_checks_stop(struct devreg_checks *k, struct devreg_check *c)
{
	struct runner *r = c->runner;

	(void)k;
	if (r == NULL)
		return;
	devreg_probe_cancel(r->probe);
	event_free(r->timer);
	free(r->last_output);
	free(r);
	c->runner = NULL;
}

int
devreg_checks_ttl_update(struct devreg_checks *k, struct devreg_check *c,
			 enum devreg_status status, const char *output)
{
	struct runner *r = c->runner;
	int rc;

	if (c->type != DEVREG_CT_TTL)
		return -EINVAL;
	rc = devreg_store_check_update(k->store, c, status, output);
	if (rc < 0)
		return rc;
	if (r != NULL) {
		free(r->last_output);
		r->last_output = strdup(c->output);
		set_timer_ms(r->timer, ttl_ms(c));
	}
	return 0;
}

static void
reap(evutil_socket_t fd, short what, void *arg)
{
	struct devreg_checks *k = arg;

	(void)fd;
	(void)what;
	devreg_store_reap(k->store);
}

struct devreg_checks *
devreg_checks_new(struct event_base *base, struct devreg_store *store,
		  int64_t reap_interval_ms, const struct devreg_log *log)
{
	struct devreg_checks *k = calloc(1, sizeof(*k));
	struct timeval tv;

	if (k == NULL)
		return NULL;
	k->base = base;
	k->store = store;
	if (log != NULL)
		k->log = *log;
	k->reaper = event_new(base, -1, EV_PERSIST, reap, k);
	if (k->reaper == NULL) {
		free(k);
		return NULL;
	}
	tv.tv_sec = (time_t)(reap_interval_ms / 1000);
	tv.tv_usec = (suseconds_t)((reap_interval_ms % 1000) * 1000);
	event_add(k->reaper, &tv);
	return k;
}

void
devreg_checks_free(struct devreg_checks *k)
{
	if (k == NULL)
		return;
	for (struct devreg_check *c = k->store->chk_head; c != NULL; c = c->next)
		devreg_checks_stop(k, c);
	event_free(k->reaper);
	if (k->tls != NULL)
		SSL_CTX_free(k->tls);
	if (k->dns != NULL)
		evdns_base_free(k->dns, 0);
	free(k);
}
