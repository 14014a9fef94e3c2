/*
 * main.c - the switchyard daemon: configuration, the control thread's
 * event loop (Consul watches, target health, admin server, signals, the
 * embedded dev registry with -dev), the worker threads, self-registration.
 * No request logic lives here.
 *
 * A table goes from the watch to the health state (lb_health_table), which
 * hands it to the workers together with its targets' health entries.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <pthread.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "registrar.h"
#include "devregistry/devreg.h"
#include "lb/lb_admin.h"
#include "lb/lb_config.h"
#include "lb/lb_health.h"
#include "lb/lb_log.h"
#include "lb/lb_proxy.h"
#include "lb/lb_watch.h"

#define DEV_REGISTRY_ADDR "127.0.0.1:8500"

struct daemon {
	struct lb_config cfg;
	struct event_base *base;
	struct devreg *dev;
	struct event_base *dev_base;  /* the embedded registry's own loop */
	pthread_t dev_thread;
	int dev_running;
	struct lb_workers *workers;
	struct lb_watch *watch;
	struct lb_health *health;
	struct lb_admin *admin;
	struct registrar *self;
	struct lb_logger log;
	struct event *sig_term, *sig_int, *sig_hup;
	int stopping;
	/* The drain runs on a thread of its own (lb_workers_stop blocks
	 * until the requests in flight finish), so that the control thread
	 * keeps answering /health with 503 meanwhile; it reports back
	 * through a pipe. */
	pthread_t drain_thread;
	int drain_running;
	int drain_pipe[2];
	struct event *drained_ev;
	unsigned drain_ms;
	int drain_cut;
};

static long long ns_to_ms(int64_t ns)
{
	return ns <= 0 ? 0 : (ns + 999999) / 1000000;
}

static enum lb_watch_routes_log routes_log(enum lb_config_routes_format f)
{
	switch (f) {
	case LB_CONFIG_ROUTES_DETAIL:
		return LB_WATCH_ROUTES_DETAIL;
	case LB_CONFIG_ROUTES_ALL:
		return LB_WATCH_ROUTES_ALL;
	default:
		return LB_WATCH_ROUTES_DELTA;
	}
}

static enum lb_log_level log_level(enum lb_config_log_level l)
{
	switch (l) {
	case LB_CONFIG_LOG_TRACE:
	case LB_CONFIG_LOG_DEBUG:
		return LB_LOG_DEBUG;
	case LB_CONFIG_LOG_INFO:
		return LB_LOG_INFO;
	case LB_CONFIG_LOG_WARN:
		return LB_LOG_WARN;
	default:
		return LB_LOG_ERROR;
	}
}

#define LOG(d, lvl, ...)                                               \
	do {                                                           \
		if ((lvl) >= (d)->log.level)                           \
			lb_logf(&(d)->log, (lvl), __VA_ARGS__);        \
	} while (0)

/* The three libraries each have their own level enum, in the same order. */
static void watch_log(enum lb_watch_level level, const char *line, void *arg)
{
	struct daemon *d = arg;

	if ((int)level >= (int)d->log.level)
		lb_log_to_file((enum lb_log_level)level, line, stderr);
}

static void devreg_log(enum devreg_log_level level, const char *line, void *arg)
{
	struct daemon *d = arg;

	/* The registry's lines carry their own level= already. */
	if (strncmp(line, "level=", 6) == 0) {
		const char *sp = strchr(line, ' ');
		line = sp ? sp + 1 : line;
	}
	if ((int)level >= (int)d->log.level)
		lb_log_to_file((enum lb_log_level)level, line, stderr);
}

static void *dev_loop(void *arg)
{
	struct daemon *d = arg;

	event_base_dispatch(d->dev_base);
	return NULL;
}

static void registrar_log(enum registrar_log_level level, const char *msg,
			  void *arg)
{
	struct daemon *d = arg;

	if ((int)level >= (int)d->log.level)
		lb_logf(&d->log, (enum lb_log_level)level,
			"component=registrar msg=\"%s\"", msg);
}

/* Is something accepting connections on 127.0.0.1:8500? A plain connect
 * with a short timeout: a refusal answers at once on loopback. */
static int dev_registry_answers(void)
{
	struct sockaddr_in sa;
	struct timeval tv = { 1, 0 };
	int fd, ok;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(8500);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static int start_dev_registry(struct daemon *d)
{
	struct devreg_config dc;
	int err = 0;

	free(d->cfg.consul_addr);
	d->cfg.consul_addr = strdup(DEV_REGISTRY_ADDR);
	if (!d->cfg.consul_addr)
		return -ENOMEM;
	if (dev_registry_answers()) {
		LOG(d, LB_LOG_INFO, "msg=\"-dev: using the agent that answers\" addr=%s",
		    DEV_REGISTRY_ADDR);
		return 0;
	}
	/* The registry gets a thread and loop of its own: the control thread
	 * makes synchronous calls to it (self-registration) that it could not
	 * answer from the same loop. */
	d->dev_base = event_base_new();
	if (!d->dev_base)
		return -ENOMEM;
	memset(&dc, 0, sizeof(dc));
	dc.listen = DEV_REGISTRY_ADDR;
	dc.compat_get_verbs = 1;
	dc.log_level = (enum devreg_log_level)d->log.level;
	dc.log = devreg_log;
	dc.log_arg = d;
	d->dev = devreg_new(d->dev_base, &dc, &err);
	if (!d->dev) {
		LOG(d, LB_LOG_ERROR, "msg=\"-dev: cannot start the dev registry\" addr=%s error=\"%s\"",
		    DEV_REGISTRY_ADDR, strerror(-err));
		return err;
	}
	if (pthread_create(&d->dev_thread, NULL, dev_loop, d) != 0)
		return -EAGAIN;
	d->dev_running = 1;
	LOG(d, LB_LOG_INFO, "msg=\"-dev: embedded dev registry listening\" addr=%s",
	    DEV_REGISTRY_ADDR);
	return 0;
}

/* The health settings of configuration c. */
static void health_opts(const struct daemon *d, const struct lb_config *c,
			struct lb_health_opts *o)
{
	memset(o, 0, sizeof(*o));
	hc_config_defaults(&o->hc);
	o->hc.probe.interval_ms = (uint64_t)ns_to_ms(c->health_check_interval_ns);
	o->hc.probe.timeout_ms = (uint64_t)ns_to_ms(c->health_check_timeout_ns);
	o->hc.probe.rise = (unsigned)c->health_check_rise;
	o->hc.probe.fall = (unsigned)c->health_check_fall;
	o->hc.eject_enabled = c->health_outlier_enabled;
	o->hc.eject_consecutive = (unsigned)c->health_outlier_consecutive5xx;
	o->hc.eject_base_ms = (uint64_t)ns_to_ms(c->health_outlier_basetime_ns);
	o->hc.eject_max_ms = (uint64_t)ns_to_ms(c->health_outlier_maxtime_ns);
	o->hc.eject_max_percent = (unsigned)c->health_outlier_maxpercent;
	o->check_path = c->health_check_path;
	o->log = &d->log;
}

static int start_health(struct daemon *d)
{
	struct lb_health_opts o;
	int err = 0;

	health_opts(d, &d->cfg, &o);
	d->health = lb_health_new(d->base, &o, &err);
	if (!d->health) {
		LOG(d, LB_LOG_ERROR, "msg=\"cannot start health checking\" error=\"%s\"",
		    strerror(-err));
		return err;
	}
	return 0;
}

/* The proxy.* keys about client connections. */
static void client_limits(const struct lb_config *c, struct lb_client_limits *l)
{
	l->max_request_line = (unsigned)c->proxy_maxrequestline;
	l->max_header_bytes = (unsigned)c->proxy_maxheaderbytes;
	l->max_headers = (unsigned)c->proxy_maxheaders;
	l->header_timeout_ms = (unsigned)ns_to_ms(c->proxy_headertimeout_ns);
	l->body_timeout_ms = (unsigned)ns_to_ms(c->proxy_bodytimeout_ns);
	l->idle_timeout_ms = (unsigned)ns_to_ms(c->proxy_idletimeout_ns);
	l->send_timeout_ms = (unsigned)ns_to_ms(c->proxy_sendtimeout_ns);
	l->max_conns = (unsigned)c->proxy_maxclientconns;
}

static int start_workers(struct daemon *d)
{
	struct lb_proxy_opts o;
	int err = 0;

	lb_proxy_opts_init(&o);
	o.listen = d->cfg.proxy_addr;
	o.workers = (unsigned)d->cfg.proxy_workers;
	o.strategy = d->cfg.proxy_strategy;
	o.dial_timeout_ms = (unsigned)ns_to_ms(d->cfg.proxy_dialtimeout_ns);
	o.response_header_timeout_ms =
		(unsigned)ns_to_ms(d->cfg.proxy_responseheadertimeout_ns);
	o.idle_conn_timeout_ms = (unsigned)ns_to_ms(d->cfg.proxy_idleconntimeout_ns);
	o.max_idle_per_target = (unsigned)d->cfg.proxy_maxconn;
	o.max_body = d->cfg.proxy_maxbody;
	o.noroute_status = d->cfg.proxy_noroutestatus;
	client_limits(&d->cfg, &o.client);
	o.trusted_cidrs = (const char *const *)d->cfg.proxy_header_trustedcidrs.v;
	o.ntrusted_cidrs = d->cfg.proxy_header_trustedcidrs.n;
	if (d->cfg.log_access_target[0]) {
		o.access_target = d->cfg.log_access_target;
		o.access_format = d->cfg.log_access_format == LB_CONFIG_ACCESS_COMBINED
			? LB_ACCESS_COMBINED
			: d->cfg.log_access_format == LB_CONFIG_ACCESS_JSON
			? LB_ACCESS_JSON : LB_ACCESS_COMMON;
	}
	o.log = d->log;
	o.health_wake = lb_health_wake;
	o.health_wake_arg = d->health;
	d->workers = lb_workers_start(&o, &err);
	if (!d->workers) {
		LOG(d, LB_LOG_ERROR, "msg=\"cannot start the proxy\" proxy.addr=%s error=\"%s\"",
		    d->cfg.proxy_addr, strerror(-err));
		return err;
	}
	LOG(d, LB_LOG_INFO, "msg=\"proxy listening\" proxy.addr=%s port=%d workers=%u",
	    d->cfg.proxy_addr, lb_workers_port(d->workers),
	    lb_workers_count(d->workers));
	lb_health_set_workers(d->health, d->workers);
	return 0;
}

static void published(struct lb_watch *w, struct rt_table *table,
		      const struct lb_noroute *page, void *arg)
{
	struct daemon *d = arg;

	(void)w;
	if (page)
		lb_workers_set_noroute_html(d->workers, lb_noroute_body(page),
					    lb_noroute_len(page));
	/* a new table goes to the workers with its health state */
	lb_health_table(d->health, table);
	lb_workers_notify(d->workers);
}

static void refreshed(struct lb_watch *w, void *arg)
{
	struct daemon *d = arg;

	(void)w;
	lb_health_consul(d->health);
}

static int start_watch(struct daemon *d)
{
	struct lb_watch_opts o;

	memset(&o, 0, sizeof(o));
	o.consul_addr = d->cfg.consul_addr;
	o.token = d->cfg.consul_token;
	o.tagprefix = d->cfg.consul_tagprefix;
	o.kvpath = d->cfg.consul_kvpath;
	o.noroute_path = d->cfg.consul_noroutehtmlpath;
	o.status_mask = d->cfg.consul_service_status;
	o.checks_all = d->cfg.consul_checks_required == LB_CONFIG_CHECKS_ALL;
	o.matcher = d->cfg.proxy_matcher;
	o.log = watch_log;
	o.log_level = (enum lb_watch_level)d->log.level;
	o.routes_log = routes_log(d->cfg.log_routes_format);
	o.log_arg = d;
	d->watch = lb_watch_new(d->base, &o);
	if (!d->watch) {
		LOG(d, LB_LOG_ERROR, "msg=\"cannot watch consul\" registry.consul.addr=%s",
		    d->cfg.consul_addr);
		return -EINVAL;
	}
	lb_watch_set_published_cb(d->watch, published, d);
	lb_watch_set_refreshed_cb(d->watch, refreshed, d);
	lb_health_set_watch(d->health, d->watch);
	return 0;
}

/* Go's IsGlobalUnicast: not unspecified, loopback, link-local, multicast
 * or the IPv4 broadcast address. */
static int global_unicast(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		uint32_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);

		return a != 0 && a >> 24 != 127 && a >> 16 != 0xa9fe &&
		       a >> 28 != 0xe && a != 0xffffffffu;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		return !IN6_IS_ADDR_UNSPECIFIED(a) && !IN6_IS_ADDR_LOOPBACK(a) &&
		       !IN6_IS_ADDR_LINKLOCAL(a) && !IN6_IS_ADDR_MULTICAST(a);
	}
	return 0;
}

/* The address registered when register.addr has no host (or 0.0.0.0, ::):
 * as fabio, the first global unicast address of an interface that is up,
 * IPv4 before IPv6; 127.0.0.1 on a machine without one. */
static void machine_address(char *buf, size_t size)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct ifaddrs *list = NULL;

	snprintf(buf, size, "127.0.0.1");
	if (getifaddrs(&list) != 0)
		return;
	for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
		for (struct ifaddrs *i = list; i; i = i->ifa_next) {
			const void *ip;

			if (!i->ifa_addr || i->ifa_addr->sa_family != families[f] ||
			    !(i->ifa_flags & IFF_UP) || !global_unicast(i->ifa_addr))
				continue;
			ip = families[f] == AF_INET ?
			     (const void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr :
			     (const void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
			if (inet_ntop(families[f], ip, buf, (socklen_t)size))
				goto out;
			snprintf(buf, size, "127.0.0.1");
		}
	}
out:
	freeifaddrs(list);
}

/* Split register.addr ("host:port", "[v6]:port", ":port") into the host to
 * register and its port; the port is 0 when it is missing or 0 (the admin
 * server's own port is used then). */
static int register_host_port(const char *addr, char *host, size_t size)
{
	const char *colon = strrchr(addr, ':');
	size_t hlen = colon ? (size_t)(colon - addr) : strlen(addr);
	long port = colon ? strtol(colon + 1, NULL, 10) : 0;

	if (hlen >= 2 && addr[0] == '[' && addr[hlen - 1] == ']') {
		addr++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= size || (hlen == 7 && memcmp(addr, "0.0.0.0", 7) == 0) ||
	    (hlen == 2 && memcmp(addr, "::", 2) == 0)) {
		machine_address(host, size);
	} else {
		memcpy(host, addr, hlen);
		host[hlen] = '\0';
	}
	return port > 0 && port <= 65535 ? (int)port : 0;
}

/* fabio's self-registration (registry/consul/register.go): the admin
 * server as service <name>-<hostname>-<port> with two checks, a TTL check
 * <id>-ttl of 15 s passed at once and every 10 s, removed after a minute
 * of being critical (so a killed switchyard leaves the catalog), and an
 * HTTP check on /health without one (a failing switchyard stays listed).
 * The registrar registers it again when the agent loses it. */
static void start_self_registration(struct daemon *d)
{
	struct registrar_service s;
	struct registrar_ttl_check ttl;
	struct registrar_agent a;
	char host[INET6_ADDRSTRLEN + 8], id[256], ttl_id[264], url[300], hostname[64];
	int port, err = 0;

	if (!d->cfg.register_enabled)
		return;
	port = register_host_port(d->cfg.register_addr, host, sizeof(host));
	if (port == 0)
		port = lb_admin_port(d->admin);
	if (gethostname(hostname, sizeof(hostname)) != 0)
		strcpy(hostname, "localhost");
	hostname[sizeof(hostname) - 1] = '\0';
	snprintf(id, sizeof(id), "%s-%s-%d", d->cfg.register_name, hostname, port);
	snprintf(ttl_id, sizeof(ttl_id), "%s-ttl", id);
	snprintf(url, sizeof(url), strchr(host, ':') ? "http://[%s]:%d/health"
		 : "http://%s:%d/health", host, port);

	memset(&ttl, 0, sizeof(ttl));
	ttl.id = ttl_id;
	ttl.ttl_ms = 15000;
	ttl.heartbeat_ms = 10000;
	ttl.deregister_after_ms = 60000;
	memset(&s, 0, sizeof(s));
	s.name = d->cfg.register_name;
	s.id = id;
	s.address = host;
	s.port = port;
	s.tags = (const char *const *)d->cfg.register_tags.v;
	s.ntags = d->cfg.register_tags.n;
	s.extra_ttl_check = &ttl;
	s.check = REGISTRAR_CHECK_HTTP;
	s.check_target = url;
	s.check_interval_ms = (unsigned)ns_to_ms(d->cfg.register_check_interval_ns);
	s.check_timeout_ms = (unsigned)ns_to_ms(d->cfg.register_check_timeout_ns);
	memset(&a, 0, sizeof(a));
	a.address = d->cfg.consul_addr;
	a.token = d->cfg.consul_token[0] ? d->cfg.consul_token : NULL;
	a.log = registrar_log;
	a.log_arg = d;
	d->self = registrar_new(&s, &a, &err);
	if (!d->self) {
		LOG(d, LB_LOG_WARN, "msg=\"self-registration off\" error=\"%s\"",
		    registrar_strerror(err));
		return;
	}
	err = registrar_start(d->self);
	if (err && err != REGISTRAR_EUNREACHABLE)
		LOG(d, LB_LOG_WARN, "msg=\"self-registration failed\" error=\"%s\"",
		    registrar_strerror(err));
}

/* SIGTERM/SIGINT: fail /health, deregister, stop accepting, let requests
 * in flight finish for up to proxy.shutdownwait, leave the loop. */
/* The drain thread: stop the workers gracefully, then wake the control
 * thread. */
static void *drain_main(void *arg)
{
	struct daemon *d = arg;
	char done = 1;
	ssize_t n;

	d->drain_cut = lb_workers_stop(d->workers, d->drain_ms);
	do
		n = write(d->drain_pipe[1], &done, 1);
	while (n < 0 && errno == EINTR);
	return NULL;
}

/* Back on the control thread: the workers are gone. */
static void on_drained(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	pthread_join(d->drain_thread, NULL);
	d->drain_running = 0;
	d->workers = NULL;
	if (d->drain_cut > 0)
		LOG(d, LB_LOG_WARN, "msg=\"requests cut at the shutdown deadline\" count=%d",
		    d->drain_cut);
	event_base_loopbreak(d->base);
}

/*
 * SIGTERM / SIGINT: answer /health with 503, deregister, and let the
 * workers finish what is in flight for up to proxy.shutdownwait. The
 * watch goes first: it must not post tables to workers that are being
 * freed, and the admin server keeps the last table for /api/routes.
 */
static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)what;
	if (d->stopping)
		return;
	d->stopping = 1;
	LOG(d, LB_LOG_INFO, "msg=\"shutting down\" signal=%d shutdownwait_ms=%lld",
	    (int)sig, ns_to_ms(d->cfg.proxy_shutdownwait_ns));
	lb_admin_set_stopping(d->admin);
	/* the workers belong to the drain from here on; health keeps
	 * ticking (requests in flight still report) */
	lb_health_set_workers(d->health, NULL);
	lb_health_set_watch(d->health, NULL);
	lb_watch_free(d->watch);
	d->watch = NULL;
	registrar_free(d->self);
	d->self = NULL;
	d->drain_ms = (unsigned)ns_to_ms(d->cfg.proxy_shutdownwait_ns);
	if (pipe(d->drain_pipe) == 0) {
		d->drained_ev = event_new(d->base, d->drain_pipe[0], EV_READ,
					  on_drained, d);
		if (d->drained_ev && event_add(d->drained_ev, NULL) == 0 &&
		    pthread_create(&d->drain_thread, NULL, drain_main, d) == 0) {
			d->drain_running = 1;
			return;
		}
	}
	/* No thread to drain on: drain here, /health unanswered meanwhile. */
	LOG(d, LB_LOG_WARN, "msg=\"draining on the control thread\" error=\"%s\"",
	    strerror(errno));
	d->drain_cut = lb_workers_stop(d->workers, d->drain_ms);
	d->workers = NULL;
	if (d->drain_cut > 0)
		LOG(d, LB_LOG_WARN, "msg=\"requests cut at the shutdown deadline\" count=%d",
		    d->drain_cut);
	event_base_loopbreak(d->base);
}

/* The keys the configuration marks live, from c; shutdownwait is read
 * from the configuration when the stop begins. */
static void apply_live(struct daemon *d, const struct lb_config *c)
{
	struct lb_proxy_live l;
	struct lb_health_opts ho;
	int rc;

	d->log.level = log_level(c->log_level);
	health_opts(d, c, &ho);
	rc = lb_health_set_opts(d->health, &ho);
	if (rc != 0)
		LOG(d, LB_LOG_ERROR, "msg=\"reload: health options not applied\" error=\"%s\"",
		    strerror(-rc));
	lb_watch_set_log(d->watch, (enum lb_watch_level)d->log.level,
			 routes_log(c->log_routes_format));
	if (!d->workers || d->stopping)  /* the drain thread owns them */
		return;
	memset(&l, 0, sizeof(l));
	l.dial_timeout_ms = (unsigned)ns_to_ms(c->proxy_dialtimeout_ns);
	l.response_header_timeout_ms =
		(unsigned)ns_to_ms(c->proxy_responseheadertimeout_ns);
	l.idle_conn_timeout_ms = (unsigned)ns_to_ms(c->proxy_idleconntimeout_ns);
	l.max_idle_per_target = (unsigned)c->proxy_maxconn;
	l.max_body = c->proxy_maxbody;
	l.noroute_status = c->proxy_noroutestatus;
	client_limits(c, &l.client);
	rc = lb_workers_set_live(d->workers, &l);
	if (rc != 0)
		LOG(d, LB_LOG_ERROR, "msg=\"reload: proxy options not applied\" error=\"%s\"",
		    strerror(-rc));
	rc = lb_workers_reopen_access_log(d->workers);
	if (rc != 0)
		LOG(d, LB_LOG_ERROR, "msg=\"reload: cannot reopen the access log\" log.access.target=%s error=\"%s\"",
		    c->log_access_target, strerror(-rc));
}

/* SIGHUP: read the configuration again; apply what may change live. */
static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	struct lb_config next;
	struct lb_config_changes ch;
	struct lb_config_err err;

	(void)sig;
	(void)what;
	if (lb_config_reload(&d->cfg, &next, &ch, &err) != 0) {
		LOG(d, LB_LOG_ERROR, "msg=\"reload refused, configuration unchanged\" error=\"%s\"",
		    err.msg);
		return;
	}
	for (size_t i = 0; i < ch.nheld; i++)
		LOG(d, LB_LOG_WARN, "msg=\"reload: key needs a restart\" key=%s", ch.held[i]);
	for (size_t i = 0; i < ch.nlive; i++)
		LOG(d, LB_LOG_INFO, "msg=\"reload: key changed\" key=%s", ch.live[i]);
	apply_live(d, &next);
	lb_config_free(&d->cfg);
	d->cfg = next;
}

static void teardown(struct daemon *d)
{
	registrar_free(d->self);
	if (d->drain_running) {
		pthread_join(d->drain_thread, NULL);
		d->workers = NULL;
	}
	if (d->drained_ev)
		event_free(d->drained_ev);
	if (d->drain_pipe[0] >= 0) {
		close(d->drain_pipe[0]);
		close(d->drain_pipe[1]);
	}
	if (d->workers)
		lb_workers_stop(d->workers, 0);
	lb_watch_free(d->watch);
	lb_admin_free(d->admin);
	/* after the workers: they may call lb_health_wake until joined */
	lb_health_free(d->health);
	if (d->dev_running) {
		event_base_loopbreak(d->dev_base);
		pthread_join(d->dev_thread, NULL);
	}
	devreg_free(d->dev);
	if (d->dev_base)
		event_base_free(d->dev_base);
	if (d->sig_term)
		event_free(d->sig_term);
	if (d->sig_int)
		event_free(d->sig_int);
	if (d->sig_hup)
		event_free(d->sig_hup);
	if (d->base)
		event_base_free(d->base);
	lb_config_free(&d->cfg);
}

int main(int argc, char **argv, char **envp)
{
	struct daemon d;
	struct lb_config_err err;
	int rc, status = 1;

	memset(&d, 0, sizeof(d));
	d.drain_pipe[0] = d.drain_pipe[1] = -1;
	rc = lb_config_load(&d.cfg, argc, argv, envp, &err);
	if (rc != 0) {
		fprintf(stderr, "switchyard: %s\n", err.msg);
		lb_config_free(&d.cfg);
		return 2;
	}
	if (d.cfg.help) {
		lb_config_usage(stdout);
		lb_config_free(&d.cfg);
		return 0;
	}
	if (d.cfg.version) {
		printf("switchyard %s\n", PACKAGE_VERSION);
		lb_config_free(&d.cfg);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	/* The embedded registry's loop is stopped from this thread. */
	if (evthread_use_pthreads() != 0)
		goto out;
	d.log.fn = lb_log_to_file;
	d.log.arg = stderr;
	d.log.level = log_level(d.cfg.log_level);

	d.base = event_base_new();
	if (!d.base)
		goto out;
	d.sig_term = evsignal_new(d.base, SIGTERM, on_stop, &d);
	d.sig_int = evsignal_new(d.base, SIGINT, on_stop, &d);
	d.sig_hup = evsignal_new(d.base, SIGHUP, on_hup, &d);
	if (!d.sig_term || !d.sig_int || !d.sig_hup ||
	    event_add(d.sig_term, NULL) || event_add(d.sig_int, NULL) ||
	    event_add(d.sig_hup, NULL))
		goto out;

	if (d.cfg.dev && start_dev_registry(&d) != 0)
		goto out;
	if (start_health(&d) != 0 || start_workers(&d) != 0)
		goto out;
	if (start_watch(&d) != 0)
		goto out;
	d.admin = lb_admin_new(d.base, d.cfg.ui_addr, d.watch, d.health, &rc);
	if (!d.admin) {
		LOG(&d, LB_LOG_ERROR, "msg=\"cannot start the admin server\" ui.addr=%s error=\"%s\"",
		    d.cfg.ui_addr, strerror(-rc));
		goto out;
	}
	LOG(&d, LB_LOG_INFO, "msg=\"admin listening\" ui.addr=%s consul=%s",
	    d.cfg.ui_addr, d.cfg.consul_addr);
	start_self_registration(&d);

	event_base_dispatch(d.base);
	status = 0;
out:
	teardown(&d);
	return status;
}
