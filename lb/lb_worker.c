/*
 * lb_worker.c - worker threads: their event bases, listeners, table
 * hand-over, no-route page, access log buffer, statistics and the
 * graceful stop.
 *
 * A worker's event_base is created without a lock (EVENT_BASE_FLAG_NOLOCK)
 * because no other thread ever touches it: the control thread wakes a
 * worker by writing to the worker's eventfd, and the worker then reads
 * its mailbox and its stop flag.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/buffer.h>

#include "lb/lb_worker.h"
#include "routes/rt_opts.h"

#define PATHBUF_SIZE (64 * 1024)
#define ACCESS_FLUSH_MS 100
/* How long a drain keeps idle keep-alive connections open for the request
 * their client may be sending at that moment (the race of RFC 9112
 * 9.3.1): a request in that time is answered with Connection: close and
 * the connection closes after it, instead of the client finding its
 * request unanswered on a connection closed under it. */
#define IDLE_GRACE_MS 1000

static const struct timeval access_flush_tv = {0, ACCESS_FLUSH_MS * 1000};

void
lb_proxy_opts_init(struct lb_proxy_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->listen = ":9999";
	o->strategy = RT_STRATEGY_RR;
	o->dial_timeout_ms = 30000;
	o->idle_conn_timeout_ms = 4000;
	o->max_idle_per_target = 10000;
	o->noroute_status = 404;
	o->access_format = LB_ACCESS_OFF;
	o->backlog = 1024;
	o->log.level = LB_LOG_INFO;
}

/* ---- no-route page ---- */

static struct lb_page *
page_new(const char *body, size_t len)
{
	struct lb_page *p = malloc(sizeof(*p) + len + 1);

	if (p == NULL)
		return NULL;
	atomic_init(&p->refs, 1);
	p->len = len;
	if (len > 0)
		memcpy(p->body, body, len);
	p->body[len] = '\0';
	return p;
}

static void
page_unref(struct lb_page *p)
{
	if (p != NULL && atomic_fetch_sub(&p->refs, 1) == 1)
		free(p);
}

int
lb_workers_set_noroute_html(struct lb_workers *ws, const char *html,
			    size_t len)
{
	struct lb_page *p = page_new(html, len), *old;

	if (p == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&ws->page_mu);
	old = ws->page;
	ws->page = p;
	atomic_fetch_add(&ws->page_gen, 1);
	pthread_mutex_unlock(&ws->page_mu);
	page_unref(old);
	return 0;
}

const struct lb_page *
lb_worker_page(struct lb_worker *w)
{
	struct lb_workers *ws = w->ws;
	uint64_t gen = atomic_load(&ws->page_gen);

	if (gen != w->page_gen || w->page == NULL) {
		struct lb_page *p;

		pthread_mutex_lock(&ws->page_mu);
		p = ws->page;
		atomic_fetch_add(&p->refs, 1);
		gen = atomic_load(&ws->page_gen);
		pthread_mutex_unlock(&ws->page_mu);
		page_unref(w->page);
		w->page = p;
		w->page_gen = gen;
	}
	return w->page;
}

/* ---- live options ---- */

/* Fill in the defaults of zero fields. */
static void
live_defaults(struct lb_proxy_live *l)
{
	if (l->dial_timeout_ms == 0)
		l->dial_timeout_ms = 30000;
	if (l->idle_conn_timeout_ms == 0)
		l->idle_conn_timeout_ms = 4000;
	if (l->max_idle_per_target == 0)
		l->max_idle_per_target = 10000;
	if (l->noroute_status == 0)
		l->noroute_status = 404;
}

int
lb_workers_set_live(struct lb_workers *ws, const struct lb_proxy_live *l)
{
	struct lb_proxy_live v = *l;

	live_defaults(&v);
	if (v.noroute_status < 100 || v.noroute_status > 999 ||
	    lb_client_limits_defaults(&v.client) < 0)
		return -EINVAL;
	pthread_mutex_lock(&ws->live_mu);
	ws->live = v;
	atomic_fetch_add(&ws->live_gen, 1);
	pthread_mutex_unlock(&ws->live_mu);
	lb_workers_notify(ws);
	return 0;
}

int
lb_workers_reopen_access_log(struct lb_workers *ws)
{
	if (ws->alog == NULL || ws->access_copy == NULL)
		return 0;
	return lb_access_log_reopen(ws->alog, ws->access_copy);
}

/* The worker's timers and pool follow w->live. */
static void
live_apply(struct lb_worker *w)
{
	unsigned ms = w->live.response_header_timeout_ms;

	w->resp_tv = NULL;
	if (ms > 0) {
		w->resp_tv_storage.tv_sec = ms / 1000;
		w->resp_tv_storage.tv_usec = (ms % 1000) * 1000;
		/* a base holds a few hundred common timeouts; past that
		 * (many reloads) a plain one does the same job */
		w->resp_tv = event_base_init_common_timeout(w->base,
						&w->resp_tv_storage);
		if (w->resp_tv == NULL)
			w->resp_tv = &w->resp_tv_storage;
	}
	lb_pool_set_limits(w->pool, w->live.dial_timeout_ms,
			   w->live.idle_conn_timeout_ms,
			   w->live.max_idle_per_target);
	lb_conn_live_changed(w);
}

/* Take the live options if they changed since the worker last looked. */
static void
live_take(struct lb_worker *w)
{
	struct lb_workers *ws = w->ws;

	if (atomic_load(&ws->live_gen) == w->live_gen)
		return;
	pthread_mutex_lock(&ws->live_mu);
	w->live = ws->live;
	w->live_gen = atomic_load(&ws->live_gen);
	pthread_mutex_unlock(&ws->live_mu);
	live_apply(w);
}

/* ---- tables ---- */

static struct lb_tabref *
tabref_new(struct rt_table *t, struct hc_set *hs)
{
	struct lb_tabref *tr = calloc(1, sizeof(*tr));
	size_t n = rt_table_ntargets(t);

	if (tr == NULL)
		return NULL;
	tr->buckets = calloc(n > 0 ? n : 1, sizeof(*tr->buckets));
	if (tr->buckets == NULL) {
		free(tr);
		return NULL;
	}
	tr->nbuckets = n;
	tr->t = t;
	tr->hs = hs;
	return tr;
}

static void
tabref_free(struct lb_worker *w, struct lb_tabref *tr)
{
	size_t i;

	for (i = 0; i < tr->nbuckets; i++)
		lb_pool_bucket_put(w->pool, tr->buckets[i]);
	free(tr->buckets);
	/* a set holds its table */
	if (tr->hs != NULL)
		hc_set_unref(tr->hs);
	else
		rt_table_unref(tr->t);
	free(tr);
}

/* Make t the current table: with hs (whose reference we own) its table,
 * or without (hs NULL) t itself, whose reference we own. */
static void
use_table(struct lb_worker *w, struct rt_table *t, struct hc_set *hs)
{
	struct lb_tabref *tr, *old = w->cur;

	if (hs != NULL)
		t = hc_set_table(hs);
	tr = tabref_new(t, hs);
	if (tr == NULL) {
		LB_LOG(&w->ws->o.log, LB_LOG_ERROR,
		       "event=table_dropped worker=%u generation=%llu "
		       "error=\"out of memory\"", w->id,
		       (unsigned long long)rt_table_generation(t));
		if (hs != NULL)
			hc_set_unref(hs);
		else
			rt_table_unref(t);
		return;
	}
	if (rt_picker_attach(w->picker, t) < 0)
		LB_LOG(&w->ws->o.log, LB_LOG_WARN,
		       "event=picker_degraded worker=%u error=\"out of memory\"",
		       w->id);
	w->cur = tr;
	LB_COUNT(w, tables, 1);
	LB_LOG(&w->ws->o.log, LB_LOG_DEBUG,
	       "event=table worker=%u generation=%llu routes=%zu targets=%zu health=%s",
	       w->id, (unsigned long long)rt_table_generation(t),
	       rt_table_nroutes(t), rt_table_ntargets(t),
	       hs != NULL ? "yes" : "no");
	if (old == NULL)
		return;
	if (old->inflight == 0) {
		tabref_free(w, old);
	} else {
		old->next = w->old;
		w->old = old;
	}
}

struct lb_tabref *
lb_worker_pin(struct lb_worker *w)
{
	w->cur->inflight++;
	return w->cur;
}

void
lb_worker_unpin(struct lb_worker *w, struct lb_tabref *tr)
{
	struct lb_tabref **pp;

	if (--tr->inflight > 0 || tr == w->cur)
		return;
	for (pp = &w->old; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == tr) {
			*pp = tr->next;
			break;
		}
	}
	tabref_free(w, tr);
}

struct lb_bucket *
lb_worker_bucket(struct lb_worker *w, struct lb_tabref *tr,
		 const struct rt_target *t)
{
	struct lb_bucket *b;

	if (t->index >= tr->nbuckets)
		return NULL;
	b = tr->buckets[t->index];
	if (b == NULL) {
		b = lb_pool_bucket(w->pool, t);
		tr->buckets[t->index] = b;
	}
	return b;
}

/* ---- access log ---- */

static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lb_worker *w = arg;

	(void)fd;
	(void)what;
	w->alog_armed = 0;
	lb_access_buf_flush(&w->alog);
}

void
lb_worker_count_status(struct lb_worker *w, int status)
{
	LB_COUNT(w, requests, 1);
	if (status >= 200 && status < 300)
		LB_COUNT(w, s2xx, 1);
	else if (status >= 300 && status < 400)
		LB_COUNT(w, s3xx, 1);
	else if (status >= 400 && status < 500)
		LB_COUNT(w, s4xx, 1);
	else if (status >= 500)
		LB_COUNT(w, s5xx, 1);
}

void
lb_worker_access(struct lb_worker *w, const struct lb_access_rec *r)
{
	if (w->alog.log == NULL)
		return;
	if (lb_access_buf_add(&w->alog, r) && !w->alog_armed) {
		w->alog_armed = 1;
		evtimer_add(w->flush_ev, &access_flush_tv);
	}
}

/* ---- stopping ---- */

/* Nothing left to wait for: no request in flight, and no connection
 * that may still bring one (or the grace for those is over). */
static int
drained(const struct lb_worker *w)
{
	return w->nactive == 0 && (w->nconns == 0 || w->grace_over);
}

static void
finish(struct lb_worker *w)
{
	w->leave = 1;
	event_del(w->drain_ev);
	event_del(w->grace_ev);
	/* the idle keep-alive connections still open */
	lb_conn_unlisten(w);
	lb_conn_close_all(w);
	lb_access_buf_flush(&w->alog);
	event_base_loopbreak(w->base);
}

static void
finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lb_worker *w = arg;

	(void)fd;
	(void)what;
	if (drained(w))
		finish(w);
}

static void
grace_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lb_worker *w = arg;

	(void)fd;
	(void)what;
	w->grace_over = 1;
	if (drained(w))
		finish(w);
}

static void
drain_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lb_worker *w = arg;

	(void)fd;
	(void)what;
	w->cut += lb_proxy_cut_all(w);
	finish(w);
}

static void
drain_begin(struct lb_worker *w)
{
	unsigned ms = atomic_load(&w->deadline_ms);
	struct timeval tv;

	if (w->draining)
		return;
	w->draining = 1;
	lb_conn_unlisten(w);
	/* answers not yet started say Connection: close */
	lb_proxy_drain(w);
	if (drained(w)) {
		event_active(w->finish_ev, EV_TIMEOUT, 0);
		return;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(w->drain_ev, &tv);
	if (ms > IDLE_GRACE_MS)
		ms = IDLE_GRACE_MS;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(w->grace_ev, &tv);
}

void
lb_worker_request_done(struct lb_worker *w)
{
	if (w->draining && !w->leave && drained(w))
		event_active(w->finish_ev, EV_TIMEOUT, 0);
}

void
lb_worker_conn_closed(struct lb_worker *w)
{
	lb_worker_request_done(w);
}

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lb_worker *w = arg;
	struct rt_table *t;
	struct hc_set *hs;
	uint64_t v;

	(void)what;
	while (read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		;
	live_take(w);
	t = rt_mailbox_take(&w->mbox);
	hs = hc_mailbox_take(&w->hbox);
	if (t != NULL && hs != NULL) {
		/* both kinds were posted since the last wake-up: the newer
		 * table wins */
		if (rt_table_generation(hc_set_table(hs)) >=
		    rt_table_generation(t)) {
			rt_table_unref(t);
			t = NULL;
		} else {
			hc_set_unref(hs);
			hs = NULL;
		}
	}
	if (t != NULL || hs != NULL)
		use_table(w, t, hs);
	if (atomic_load(&w->stop_req))
		drain_begin(w);
}

/* ---- listeners ---- */

/* "ip:port", ":port", "[v6]:port" or "name:port" to an address for
 * bind; the port may be 0. */
static int
listen_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len,
	    int *any)
{
	char host[256];
	const char *colon, *h = s;
	size_t hlen;
	long port;
	char *end;
	struct addrinfo hints, *res = NULL;

	*any = 0;
	if (s == NULL)
		return -EINVAL;
	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return -EINVAL;
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -EINVAL;
		hlen = (size_t)(colon - s);
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || port < 0 ||
	    port > 65535 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (hlen == 0) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_any;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
		*any = 1;
		return 0;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL)
		return -EINVAL;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = (socklen_t)res->ai_addrlen;
	freeaddrinfo(res);
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	else
		return -EINVAL;
	return 0;
}

/* A listening SO_REUSEPORT socket on ss (port set by the caller). */
static int
open_listener(struct sockaddr_storage *ss, socklen_t len, int any,
	      unsigned backlog)
{
	int one = 1, zero = 0, fd, e;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0 && any && ss->ss_family == AF_INET6) {
		/* no IPv6 here: every IPv4 address then */
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		uint16_t port = ((struct sockaddr_in6 *)ss)->sin6_port;

		memset(ss, 0, sizeof(*ss));
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		sin->sin_port = port;
		len = sizeof(*sin);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    0);
	}
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	if (any && ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	/* accepted sockets inherit it: replies go out without Nagle delay */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)ss, len) < 0 ||
	    listen(fd, (int)backlog) < 0)
		goto fail;
	return fd;
fail:
	e = -errno;
	close(fd);
	return e;
}

static int
bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* ---- setup and teardown ---- */

static void
worker_release(struct lb_worker *w)
{
	struct lb_tabref *tr;

	if (w->base != NULL)
		lb_conn_flush(w);
	lb_conn_release(w);
	lb_proxy_free_cache(w);
	while ((tr = w->old) != NULL) {
		w->old = tr->next;
		tabref_free(w, tr);
	}
	if (w->cur != NULL)
		tabref_free(w, w->cur);
	w->cur = NULL;
	lb_pool_free(w->pool);
	rt_picker_free(w->picker);
	rt_mailbox_clear(&w->mbox);
	hc_mailbox_clear(&w->hbox);
	lb_access_buf_release(&w->alog);
	page_unref(w->page);
	if (w->wake_ev != NULL)
		event_free(w->wake_ev);
	if (w->flush_ev != NULL)
		event_free(w->flush_ev);
	if (w->drain_ev != NULL)
		event_free(w->drain_ev);
	if (w->finish_ev != NULL)
		event_free(w->finish_ev);
	if (w->grace_ev != NULL)
		event_free(w->grace_ev);
	if (w->scratch != NULL)
		evbuffer_free(w->scratch);
	lb_buf_free(&w->path);
	lb_buf_free(&w->query);
	lb_buf_free(&w->tmp);
	free(w->pathbuf);
	if (w->base != NULL)
		event_base_free(w->base);
	if (w->wake_fd >= 0)
		close(w->wake_fd);
}

static int
worker_init(struct lb_workers *ws, struct lb_worker *w, unsigned id,
	    int listen_fd)
{
	const struct lb_proxy_opts *o = &ws->o;
	struct event_config *cfg = NULL;
	struct lb_pool_opts po;
	struct rt_table *empty;

	w->ws = ws;
	w->id = id;
	w->wake_fd = -1;
	w->listen_fd = -1;
	TAILQ_INIT(&w->active);
	TAILQ_INIT(&w->conns);
	rt_mailbox_init(&w->mbox);
	hc_mailbox_init(&w->hbox);
	atomic_init(&w->stop_req, 0);
	atomic_init(&w->deadline_ms, 0);
	snprintf(w->local_port, sizeof(w->local_port), "%d", ws->port);

	cfg = event_config_new();
	if (cfg != NULL) {
		event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST |
				      EVENT_BASE_FLAG_NOLOCK);
		w->base = event_base_new_with_config(cfg);
		event_config_free(cfg);
	}
	if (w->base == NULL) {
		close(listen_fd);
		goto nomem;
	}
	if (lb_conn_listen(w, listen_fd) < 0)
		goto nomem;

	w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->wake_fd < 0)
		return -errno;
	w->wake_ev = event_new(w->base, w->wake_fd, EV_READ | EV_PERSIST,
			       wake_cb, w);
	w->flush_ev = evtimer_new(w->base, flush_cb, w);
	w->drain_ev = evtimer_new(w->base, drain_deadline_cb, w);
	w->finish_ev = event_new(w->base, -1, 0, finish_cb, w);
	w->grace_ev = evtimer_new(w->base, grace_cb, w);
	w->scratch = evbuffer_new();
	w->pathbuf = malloc(PATHBUF_SIZE);
	w->pathcap = PATHBUF_SIZE;
	w->picker = rt_picker_new(o->strategy,
				  UINT64_C(0x5eed0000) + (uint64_t)id * 7919u);
	po.dial_timeout_ms = o->dial_timeout_ms;
	po.idle_timeout_ms = o->idle_conn_timeout_ms;
	po.max_idle = o->max_idle_per_target;
	po.down_ms = 1000;
	po.worker = id;
	w->pool = lb_pool_new(w->base, &po, &ws->o.log);
	if (w->wake_ev == NULL || w->flush_ev == NULL || w->drain_ev == NULL ||
	    w->finish_ev == NULL || w->grace_ev == NULL || w->scratch == NULL || w->pathbuf == NULL ||
	    w->picker == NULL || w->pool == NULL ||
	    event_add(w->wake_ev, NULL) < 0)
		goto nomem;
	if (lb_access_buf_init(&w->alog, ws->alog) < 0)
		goto nomem;
	w->live = ws->live;
	w->live_gen = atomic_load(&ws->live_gen);
	live_apply(w);
	empty = rt_table_empty();
	if (empty == NULL)
		goto nomem;
	use_table(w, empty, NULL);
	if (w->cur == NULL)
		goto nomem;
	lb_worker_page(w);
	return 0;
nomem:
	return -ENOMEM;
}

static void *
worker_main(void *arg)
{
	struct lb_worker *w = arg;
	char name[16];

	snprintf(name, sizeof(name), "sy-worker-%u", w->id);
	pthread_setname_np(pthread_self(), name);
	/* one turn at a time, so that what the turn's callbacks queued is
	 * written in one burst after them */
	while (!w->leave) {
		if (event_base_loop(w->base, EVLOOP_ONCE) < 0)
			break;
		lb_conn_flush(w);
	}
	lb_conn_flush(w);
	return NULL;
}

static void
workers_free(struct lb_workers *ws)
{
	unsigned i;

	if (ws == NULL)
		return;
	for (i = 0; i < ws->n; i++)
		worker_release(&ws->w[i]);
	free(ws->w);
	lb_access_log_free(ws->alog);
	page_unref(ws->page);
	pthread_mutex_destroy(&ws->page_mu);
	pthread_mutex_destroy(&ws->live_mu);
	free(ws->listen_copy);
	free(ws->trusted);
	free(ws->access_copy);
	free(ws);
}

/* Ask every started worker to drain and leave, then join them. */
static void
workers_join(struct lb_workers *ws, unsigned deadline_ms)
{
	unsigned i;
	uint64_t one = 1;

	for (i = 0; i < ws->n; i++) {
		struct lb_worker *w = &ws->w[i];

		if (!w->started)
			continue;
		atomic_store(&w->deadline_ms, deadline_ms);
		atomic_store(&w->stop_req, 1);
		if (write(w->wake_fd, &one, sizeof(one)) < 0)
			continue;
	}
	for (i = 0; i < ws->n; i++) {
		if (ws->w[i].started) {
			pthread_join(ws->w[i].thread, NULL);
			ws->w[i].started = 0;
		}
	}
}

struct lb_workers *
lb_workers_start(const struct lb_proxy_opts *o, int *err)
{
	struct lb_workers *ws = NULL;
	struct sockaddr_storage ss;
	socklen_t sslen;
	sigset_t all, old;
	unsigned i, n;
	int any, e = 0;

	ws = calloc(1, sizeof(*ws));
	if (ws == NULL) {
		e = -ENOMEM;
		goto fail;
	}
	pthread_mutex_init(&ws->page_mu, NULL);
	atomic_init(&ws->page_gen, 1);
	pthread_mutex_init(&ws->live_mu, NULL);
	atomic_init(&ws->live_gen, 1);
	ws->o = *o;
	if (ws->o.dial_timeout_ms == 0)
		ws->o.dial_timeout_ms = 30000;
	if (ws->o.idle_conn_timeout_ms == 0)
		ws->o.idle_conn_timeout_ms = 4000;
	if (ws->o.max_idle_per_target == 0)
		ws->o.max_idle_per_target = 10000;
	if (ws->o.noroute_status == 0)
		ws->o.noroute_status = 404;
	if (ws->o.backlog == 0)
		ws->o.backlog = 1024;
	if (ws->o.noroute_status < 100 || ws->o.noroute_status > 999 ||
	    lb_client_limits_defaults(&ws->o.client) < 0) {
		e = -EINVAL;
		goto fail;
	}
	if (o->ntrusted_cidrs > 0) {
		ws->trusted = calloc(o->ntrusted_cidrs, sizeof(*ws->trusted));
		if (ws->trusted == NULL) {
			e = -ENOMEM;
			goto fail;
		}
		for (i = 0; i < o->ntrusted_cidrs; i++) {
			const char *cidr = o->trusted_cidrs[i];

			if (rt_cidr_parse(cidr, strlen(cidr),
					  &ws->trusted[i]) < 0) {
				e = -EINVAL;
				goto fail;
			}
		}
		ws->ntrusted = o->ntrusted_cidrs;
	}
	/* the list is parsed: nothing may point at the caller's strings */
	ws->o.trusted_cidrs = NULL;
	ws->o.ntrusted_cidrs = 0;
	ws->live.dial_timeout_ms = ws->o.dial_timeout_ms;
	ws->live.response_header_timeout_ms = ws->o.response_header_timeout_ms;
	ws->live.idle_conn_timeout_ms = ws->o.idle_conn_timeout_ms;
	ws->live.max_idle_per_target = ws->o.max_idle_per_target;
	ws->live.max_body = ws->o.max_body;
	ws->live.noroute_status = ws->o.noroute_status;
	ws->live.client = ws->o.client;
	ws->listen_copy = strdup(o->listen != NULL ? o->listen : ":9999");
	ws->page = page_new("", 0);
	if (ws->listen_copy == NULL || ws->page == NULL) {
		e = -ENOMEM;
		goto fail;
	}
	ws->o.listen = ws->listen_copy;
	ws->o.access_target = NULL;
	if (o->access_format != LB_ACCESS_OFF && o->access_target != NULL &&
	    *o->access_target != '\0') {
		ws->access_copy = strdup(o->access_target);
		if (ws->access_copy == NULL) {
			e = -ENOMEM;
			goto fail;
		}
		ws->o.access_target = ws->access_copy;
		ws->alog = lb_access_log_open(ws->access_copy,
					      o->access_format, &e);
		if (ws->alog == NULL) {
			LB_LOG(&ws->o.log, LB_LOG_ERROR,
			       "event=access_log_failed target=%s error=\"%s\"",
			       ws->access_copy, strerror(-e));
			goto fail;
		}
	}

	n = o->workers;
	if (n == 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);

		n = c > 0 ? (unsigned)c : 1;
	}
	if (n > 1024) {
		e = -EINVAL;
		goto fail;
	}
	ws->w = calloc(n, sizeof(*ws->w));
	if (ws->w == NULL) {
		e = -ENOMEM;
		goto fail;
	}
	e = listen_addr(ws->o.listen, &ss, &sslen, &any);
	if (e < 0) {
		LB_LOG(&ws->o.log, LB_LOG_ERROR,
		       "event=listen_failed addr=%s error=\"bad address\"",
		       ws->o.listen);
		goto fail;
	}
	for (i = 0; i < n; i++) {
		int fd = open_listener(&ss, sslen, any, ws->o.backlog);

		if (fd < 0) {
			e = fd;
			LB_LOG(&ws->o.log, LB_LOG_ERROR,
			       "event=listen_failed addr=%s error=\"%s\"",
			       ws->o.listen, strerror(-e));
			goto fail;
		}
		if (i == 0) {
			/* port 0: the others join the port the first got */
			ws->port = bound_port(fd);
			if (ss.ss_family == AF_INET)
				((struct sockaddr_in *)&ss)->sin_port =
					htons((uint16_t)ws->port);
			else
				((struct sockaddr_in6 *)&ss)->sin6_port =
					htons((uint16_t)ws->port);
			if (ss.ss_family == AF_INET)
				sslen = sizeof(struct sockaddr_in);
		}
		ws->n = i + 1;
		e = worker_init(ws, &ws->w[i], i, fd);
		if (e < 0)
			goto fail;
	}

	/* workers take no signals: they go to the process's main thread,
	 * and a write to a closed socket fails with EPIPE instead of
	 * killing the process */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < n; i++) {
		struct lb_worker *w = &ws->w[i];

		e = -pthread_create(&w->thread, NULL, worker_main, w);
		if (e < 0)
			break;
		w->started = 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e < 0) {
		workers_join(ws, 0);
		goto fail;
	}
	LB_LOG(&ws->o.log, LB_LOG_INFO,
	       "event=listening addr=%s port=%d workers=%u", ws->o.listen,
	       ws->port, n);
	return ws;
fail:
	workers_free(ws);
	if (err != NULL)
		*err = e < 0 ? e : -EINVAL;
	return NULL;
}

unsigned
lb_workers_count(const struct lb_workers *ws)
{
	return ws->n;
}

int
lb_workers_port(const struct lb_workers *ws)
{
	return ws->port;
}

struct rt_mailbox *
lb_workers_mailbox(struct lb_workers *ws, unsigned i)
{
	return i < ws->n ? &ws->w[i].mbox : NULL;
}

void
lb_workers_notify(struct lb_workers *ws)
{
	uint64_t one = 1;
	unsigned i;

	for (i = 0; i < ws->n; i++) {
		/* an eventfd write fails only when the counter would
		 * overflow, i.e. the worker has a wake-up pending anyway */
		if (write(ws->w[i].wake_fd, &one, sizeof(one)) < 0)
			continue;
	}
}

void
lb_workers_publish(struct lb_workers *ws, struct rt_table *t)
{
	unsigned i;

	for (i = 0; i < ws->n; i++)
		rt_mailbox_post(&ws->w[i].mbox, rt_table_ref(t));
	lb_workers_notify(ws);
}

void
lb_workers_publish_set(struct lb_workers *ws, struct hc_set *s)
{
	unsigned i;

	for (i = 0; i < ws->n; i++)
		hc_mailbox_post(&ws->w[i].hbox, hc_set_ref(s));
	lb_workers_notify(ws);
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

void
lb_workers_stats(const struct lb_workers *ws, struct lb_proxy_stats *s)
{
	unsigned i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < ws->n; i++) {
		const struct lb_worker *w = &ws->w[i];
		struct lb_pool_counts pc;

		s->requests += LOAD(w->c.requests);
		s->status_2xx += LOAD(w->c.s2xx);
		s->status_3xx += LOAD(w->c.s3xx);
		s->status_4xx += LOAD(w->c.s4xx);
		s->status_5xx += LOAD(w->c.s5xx);
		s->noroute += LOAD(w->c.noroute);
		s->retries_fresh += LOAD(w->c.retries_fresh);
		s->retries_other += LOAD(w->c.retries_other);
		s->client_aborts += LOAD(w->c.client_aborts);
		s->tables += LOAD(w->c.tables);
		s->active += LOAD(w->c.active);
		lb_pool_counts(w->pool, &pc);
		s->upstream_connects += pc.connects;
		s->upstream_connect_failures += pc.connect_failures;
		s->upstream_reuses += pc.reuses;
		s->upstream_idle += pc.idle;
	}
	s->access_log_dropped = lb_access_log_dropped(ws->alog);
}

int
lb_workers_stop(struct lb_workers *ws, unsigned deadline_ms)
{
	unsigned i;
	int cut = 0;

	if (ws == NULL)
		return 0;
	workers_join(ws, deadline_ms);
	for (i = 0; i < ws->n; i++)
		cut += (int)ws->w[i].cut;
	LB_LOG(&ws->o.log, LB_LOG_INFO, "event=stopped port=%d cut=%d",
	       ws->port, cut);
	workers_free(ws);
	return cut;
}
