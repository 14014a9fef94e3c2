/*
 * lb_pool.c - per-worker upstream connections: buckets by target
 * identity, non-blocking connects with a deadline, reads straight into an
 * evbuffer (one read() per readable event, no FIONREAD), writes straight
 * from one, idle lists (most recently used first) and a sweep that closes
 * what stayed idle too long.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/dns.h>
#include <event2/util.h>

#include "lb/lb_pool.h"

#define READ_CHUNK (32 * 1024)
#define HASH_MIN 64
#define RESOLVE_TTL_MS 30000
#define RESOLVE_RETRY_MS 1000

enum up_state {
	UP_CONNECTING = 1,
	UP_BUSY,
	UP_IDLE
};

enum addr_state {
	ADDR_OK = 0,       /* sa holds the address */
	ADDR_NONE,         /* a name, never resolved */
	ADDR_FAILED        /* a name that did not resolve (retry later) */
};

struct lb_bucket {
	struct lb_pool *pool;
	uint64_t identity;
	char *addr;                 /* "host:port" as the route said */
	char *name;                 /* the host part when it is a name */
	char port[8];
	struct sockaddr_storage sa;
	socklen_t salen;
	int addr_state;
	uint64_t resolved_ms;       /* when sa was last resolved (names) */
	struct evdns_getaddrinfo_request *dns_req;
	TAILQ_HEAD(, lb_pool_waiter) waiters;
	TAILQ_HEAD(lb_up_list, lb_up) idle;   /* most recently used first */
	unsigned nidle, nbusy;
	unsigned refs;
	uint64_t down_until_ms;
	int down;                   /* the logged state */
	struct lb_bucket *hnext;
	TAILQ_ENTRY(lb_bucket) link;
};

struct lb_pool {
	struct event_base *base;
	struct lb_pool_opts o;
	const struct lb_logger *log;
	const struct timeval *dial_tv;   /* a common timeout of the base */
	struct timeval dial_tv_storage;
	struct event *sweep_ev;
	struct evdns_base *dns;
	struct lb_bucket **hash;
	size_t hsize, nbuckets;
	TAILQ_HEAD(, lb_bucket) all;
	atomic_uint_fast64_t connects, connect_failures, reuses, nidle, nbusy;
	struct lb_up **sendq;       /* connections with output for this turn */
	size_t nsend, sendcap;
	char rbuf[16 * 1024];       /* where small answers are read */
};

/* Counters have one writer (the worker); relaxed load and store keep
 * them race-free for readers on other threads without a locked add. */
#define BUMP(ctr, d)                                                    \
	atomic_store_explicit(&(ctr), atomic_load_explicit(&(ctr),      \
		memory_order_relaxed) + (d), memory_order_relaxed)

uint64_t
lb_pool_now_ms(const struct lb_pool *p)
{
	struct timeval tv;

	event_base_gettimeofday_cached(p->base, &tv);
	return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

/* ---- buckets ---- */

static size_t
slot_of(const struct lb_pool *p, uint64_t identity)
{
	uint64_t h = identity * UINT64_C(0x9e3779b97f4a7c15);

	return (size_t)(h >> 32) & (p->hsize - 1);
}

static int
hash_grow(struct lb_pool *p)
{
	size_t nsize = p->hsize ? p->hsize * 2 : HASH_MIN, i;
	struct lb_bucket **nh = calloc(nsize, sizeof(*nh));
	struct lb_bucket **old = p->hash;
	size_t osize = p->hsize;

	if (nh == NULL)
		return -ENOMEM;
	p->hash = nh;
	p->hsize = nsize;
	for (i = 0; i < osize; i++) {
		struct lb_bucket *b = old[i], *next;

		for (; b != NULL; b = next) {
			size_t s = slot_of(p, b->identity);

			next = b->hnext;
			b->hnext = nh[s];
			nh[s] = b;
		}
	}
	free(old);
	return 0;
}

/* Split "host:port" / "[v6]:port"; fills b->port and returns the host
 * in buf, or -EINVAL. */
static int
split_addr(const char *addr, char *host, size_t hsize, char *port)
{
	const char *colon, *h = addr;
	size_t hlen, plen, i;

	if (*addr == '[') {
		const char *close = strchr(addr, ']');

		if (close == NULL || close[1] != ':')
			return -EINVAL;
		h = addr + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(addr, ':');
		if (colon == NULL || memchr(addr, ':', (size_t)(colon - addr)))
			return -EINVAL;
		hlen = (size_t)(colon - addr);
	}
	plen = strlen(colon + 1);
	if (hlen == 0 || hlen >= hsize || plen == 0 || plen > 5)
		return -EINVAL;
	for (i = 0; i < plen; i++) {
		if (colon[1 + i] < '0' || colon[1 + i] > '9')
			return -EINVAL;
	}
	if (atoi(colon + 1) < 1 || atoi(colon + 1) > 65535)
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memcpy(port, colon + 1, plen + 1);
	return 0;
}

static void
bucket_free(struct lb_bucket *b)
{
	free(b->addr);
	free(b->name);
	free(b);
}

static struct lb_bucket *
bucket_new(const struct rt_target *t)
{
	struct lb_bucket *b = calloc(1, sizeof(*b));
	char host[256];
	int port;

	if (b == NULL)
		return NULL;
	TAILQ_INIT(&b->waiters);
	TAILQ_INIT(&b->idle);
	b->identity = t->identity;
	b->addr = strdup(t->addr);
	if (b->addr == NULL ||
	    split_addr(t->addr, host, sizeof(host), b->port) < 0)
		goto fail;
	port = atoi(b->port);
	if (inet_pton(AF_INET, host,
		      &((struct sockaddr_in *)&b->sa)->sin_addr) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&b->sa;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		b->salen = sizeof(*sin);
		b->addr_state = ADDR_OK;
	} else if (inet_pton(AF_INET6, host,
			     &((struct sockaddr_in6 *)&b->sa)->sin6_addr) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&b->sa;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		b->salen = sizeof(*sin6);
		b->addr_state = ADDR_OK;
	} else {
		b->name = strdup(host);
		if (b->name == NULL)
			goto fail;
		b->addr_state = ADDR_NONE;
	}
	return b;
fail:
	bucket_free(b);
	return NULL;
}

struct lb_bucket *
lb_pool_bucket(struct lb_pool *p, const struct rt_target *t)
{
	struct lb_bucket *b;
	size_t s;

	if (t->addr == NULL)
		return NULL;
	if (p->hsize > 0) {
		for (b = p->hash[slot_of(p, t->identity)]; b != NULL;
		     b = b->hnext) {
			if (b->identity == t->identity &&
			    strcmp(b->addr, t->addr) == 0) {
				b->refs++;
				return b;
			}
		}
	}
	if ((p->nbuckets + 1 > p->hsize * 2 || p->hsize == 0) &&
	    hash_grow(p) < 0)
		return NULL;
	b = bucket_new(t);
	if (b == NULL)
		return NULL;
	b->pool = p;
	s = slot_of(p, b->identity);
	b->hnext = p->hash[s];
	p->hash[s] = b;
	TAILQ_INSERT_TAIL(&p->all, b, link);
	p->nbuckets++;
	b->refs = 1;
	return b;
}

void
lb_pool_bucket_put(struct lb_pool *p, struct lb_bucket *b)
{
	(void)p;
	if (b != NULL && b->refs > 0)
		b->refs--;
}

int
lb_bucket_usable(const struct lb_pool *p, const struct lb_bucket *b)
{
	return lb_pool_now_ms(p) >= b->down_until_ms;
}

const char *
lb_bucket_addr(const struct lb_bucket *b)
{
	return b->addr;
}

static void
bucket_unlink(struct lb_pool *p, struct lb_bucket *b)
{
	struct lb_bucket **pp = &p->hash[slot_of(p, b->identity)];

	while (*pp != NULL && *pp != b)
		pp = &(*pp)->hnext;
	if (*pp == b)
		*pp = b->hnext;
	TAILQ_REMOVE(&p->all, b, link);
	p->nbuckets--;
}

static void
mark_down(struct lb_pool *p, struct lb_bucket *b, int err)
{
	b->down_until_ms = lb_pool_now_ms(p) +
			   (p->o.down_ms ? p->o.down_ms : 1000u);
	BUMP(p->connect_failures, 1);
	if (!b->down) {
		b->down = 1;
		LB_LOG(p->log, LB_LOG_WARN,
		       "event=target_down worker=%u addr=%s error=\"%s\"",
		       p->o.worker, b->addr, strerror(err));
	}
}

static void
mark_up(struct lb_pool *p, struct lb_bucket *b)
{
	b->down_until_ms = 0;
	if (b->down) {
		b->down = 0;
		LB_LOG(p->log, LB_LOG_INFO, "event=target_up worker=%u addr=%s",
		       p->o.worker, b->addr);
	}
}

/* ---- connections ---- */

static void up_read_cb(evutil_socket_t fd, short what, void *arg);
static void up_write_cb(evutil_socket_t fd, short what, void *arg);
static void up_timer_cb(evutil_socket_t fd, short what, void *arg);

static void
up_free(struct lb_up *up)
{
	struct lb_pool *p = up->pool;
	struct lb_bucket *b = up->bucket;

	if (up->state == UP_IDLE) {
		TAILQ_REMOVE(&b->idle, up, link);
		b->nidle--;
		BUMP(p->nidle, -1);
	} else if (up->state == UP_BUSY || up->state == UP_CONNECTING) {
		b->nbusy--;
		BUMP(p->nbusy, -1);
	}
	if (up->flush_slot != 0)
		p->sendq[up->flush_slot - 1] = NULL;
	if (up->rev != NULL)
		event_free(up->rev);
	if (up->wev != NULL)
		event_free(up->wev);
	if (up->tev != NULL)
		event_free(up->tev);
	if (up->fd >= 0)
		close(up->fd);
	if (up->in != NULL)
		evbuffer_free(up->in);
	if (up->out != NULL)
		evbuffer_free(up->out);
	free(up);
}

/* A new connection object in state CONNECTING, with its socket; the
 * connect itself is the caller's. */
static struct lb_up *
up_new(struct lb_pool *p, struct lb_bucket *b, int *err)
{
	struct lb_up *up = calloc(1, sizeof(*up));
	int one = 1;

	if (up == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	up->fd = -1;
	up->pool = p;
	up->bucket = b;
	up->state = UP_CONNECTING;
	b->nbusy++;
	BUMP(p->nbusy, 1);
	up->fd = socket(b->sa.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (up->fd < 0) {
		*err = -errno;
		goto fail;
	}
	/* heads and bodies go out in one write each: Nagle only adds delay */
	setsockopt(up->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	up->in = evbuffer_new();
	up->out = evbuffer_new();
	up->rev = event_new(p->base, up->fd, EV_READ | EV_PERSIST,
			    up_read_cb, up);
	up->wev = event_new(p->base, up->fd, EV_WRITE | EV_PERSIST,
			    up_write_cb, up);
	up->tev = evtimer_new(p->base, up_timer_cb, up);
	if (up->in == NULL || up->out == NULL || up->rev == NULL ||
	    up->wev == NULL || up->tev == NULL) {
		*err = -ENOMEM;
		goto fail;
	}
	return up;
fail:
	up_free(up);
	return NULL;
}

/* Deliver an event to the connection's user. */
static void
notify(struct lb_up *up, enum lb_up_event ev, int err)
{
	if (up->cb != NULL)
		up->cb(up, ev, err, up->arg);
}

static void
connect_failed(struct lb_up *up, int err)
{
	struct lb_pool *p = up->pool;
	lb_up_fn cb = up->cb;
	void *arg = up->arg;

	mark_down(p, up->bucket, err);
	up->cb = NULL;
	/* the user learns first, then the connection goes: it must not be
	 * used by the callback, and a retry inside it is a new connection */
	if (cb != NULL)
		cb(up, LB_UP_CONNECT_FAILED, err, arg);
	up_free(up);
}

static void
up_connected(struct lb_up *up)
{
	event_del(up->wev);
	up->state = UP_BUSY;
	mark_up(up->pool, up->bucket);
	notify(up, LB_UP_CONNECTED, 0);
}

static void
up_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lb_up *up = arg;

	if (up->state == UP_CONNECTING) {
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		if (what & EV_TIMEOUT) {
			connect_failed(up, ETIMEDOUT);
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			soerr = errno;
		if (soerr != 0) {
			connect_failed(up, soerr);
			return;
		}
		up_connected(up);
		return;
	}
	if (up->state != UP_BUSY) {
		event_del(up->wev);
		return;
	}
	if (evbuffer_get_length(up->out) > 0 &&
	    lb_send_evbuffer(fd, up->out) < 0 && errno != EAGAIN &&
	    errno != EINTR) {
		event_del(up->wev);
		notify(up, LB_UP_ERROR, errno);
		return;
	}
	if (evbuffer_get_length(up->out) == 0)
		event_del(up->wev);
}

/* Small answers are read into the pool's buffer and copied into up->in
 * (a chain just their size, from the allocator's fast path); once a read
 * fills that buffer a body is streaming, and reads go straight into
 * up->in's own large chains. */
static void
up_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lb_up *up = arg;
	struct lb_pool *p = up->pool;
	ssize_t n;

	(void)what;
	if (up->state != UP_BUSY) {
		/* idle (or still connecting, which cannot be readable
		 * without an error): the upstream closed it or sent
		 * something unasked for; either way it is done */
		if (up->state == UP_IDLE) {
			up_free(up);
			return;
		}
		if (up->state == UP_CONNECTING)
			return;
	}
	if (!up->bulk) {
		n = recv(fd, p->rbuf, sizeof(p->rbuf), 0);
		if (n > 0) {
			if (evbuffer_add(up->in, p->rbuf, (size_t)n) < 0) {
				notify(up, LB_UP_ERROR, ENOMEM);
				return;
			}
			up->bulk = (size_t)n == sizeof(p->rbuf);
		}
	} else {
		struct evbuffer_iovec vec;

		if (evbuffer_reserve_space(up->in, READ_CHUNK, &vec, 1) < 1) {
			notify(up, LB_UP_ERROR, ENOMEM);
			return;
		}
		n = recv(fd, vec.iov_base, vec.iov_len, 0);
		vec.iov_len = n > 0 ? (size_t)n : 0;
		evbuffer_commit_space(up->in, &vec, 1);
		if (n > 0 && (size_t)n < READ_CHUNK / 2)
			up->bulk = 0;
	}
	if (n > 0) {
		notify(up, LB_UP_DATA, 0);
	} else if (n == 0) {
		notify(up, LB_UP_EOF, 0);
	} else {
		int e = errno;

		if (e == EAGAIN || e == EINTR)
			return;
		notify(up, LB_UP_ERROR, e);
	}
}

static void
up_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lb_up *up = arg;

	(void)fd;
	(void)what;
	notify(up, LB_UP_TIMEOUT, ETIMEDOUT);
}

/* Start connecting up; 0 connecting, 1 connected already, -errno. */
static int
up_connect(struct lb_pool *p, struct lb_up *up)
{
	struct lb_bucket *b = up->bucket;

	BUMP(p->connects, 1);
	if (event_add(up->rev, NULL) < 0)
		return -ENOMEM;
	if (connect(up->fd, (struct sockaddr *)&b->sa, b->salen) == 0)
		return 1;
	if (errno != EINPROGRESS)
		return -errno;
	if (event_add(up->wev, p->dial_tv) < 0)
		return -ENOMEM;
	return 0;
}

ssize_t
lb_send_evbuffer(int fd, struct evbuffer *b)
{
	struct evbuffer_iovec v[16];
	struct iovec iov[16];
	struct msghdr m;
	ssize_t r;
	int n, i;

	n = evbuffer_peek(b, -1, NULL, v, 16);
	if (n > 16)
		n = 16;
	if (n <= 0)
		return 0;
	for (i = 0; i < n; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
	}
	memset(&m, 0, sizeof(m));
	m.msg_iov = iov;
	m.msg_iovlen = (size_t)n;
	r = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (r > 0 && evbuffer_drain(b, (size_t)r) < 0) {
		/* a frozen buffer: stop rather than send it twice */
		errno = EBUSY;
		return -1;
	}
	return r;
}

/* ---- names ---- */

static void
wake_waiters(struct lb_bucket *b)
{
	struct lb_pool_waiter *w;

	while ((w = TAILQ_FIRST(&b->waiters)) != NULL) {
		TAILQ_REMOVE(&b->waiters, w, link);
		w->bucket = NULL;
		w->cb(NULL, LB_UP_RETRY, 0, w->arg);
	}
}

static void
resolved_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct lb_bucket *b = arg;

	if (result == EVUTIL_EAI_CANCEL) {
		if (res != NULL)
			evutil_freeaddrinfo(res);
		return;   /* the pool is going away: b may be gone */
	}
	b->dns_req = NULL;
	if (result == 0 && res != NULL && res->ai_addrlen <= sizeof(b->sa)) {
		memcpy(&b->sa, res->ai_addr, res->ai_addrlen);
		b->salen = (socklen_t)res->ai_addrlen;
		b->addr_state = ADDR_OK;
	} else if (b->addr_state != ADDR_OK) {
		b->addr_state = ADDR_FAILED;
		LB_LOG(b->pool->log, LB_LOG_WARN,
		       "event=resolve_failed worker=%u name=%s error=\"%s\"",
		       b->pool->o.worker, b->name, evutil_gai_strerror(result));
	}
	if (res != NULL)
		evutil_freeaddrinfo(res);
	wake_waiters(b);
}

/* Start resolving b's name (no-op while a lookup runs). 0 or -errno. */
static int
resolve(struct lb_pool *p, struct lb_bucket *b)
{
	struct evutil_addrinfo hints;
	struct evdns_getaddrinfo_request *req;

	if (b->dns_req != NULL)
		return 0;
	if (p->dns == NULL) {
		p->dns = evdns_base_new(p->base,
					EVDNS_BASE_INITIALIZE_NAMESERVERS |
					EVDNS_BASE_DISABLE_WHEN_INACTIVE);
		if (p->dns == NULL)
			return -ENOMEM;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
	b->resolved_ms = lb_pool_now_ms(p);
	/* the answer may come before this returns (hosts file) */
	req = evdns_getaddrinfo(p->dns, b->name, b->port, &hints,
				resolved_cb, b);
	if (req != NULL)
		b->dns_req = req;
	return 0;
}

/* ---- the pool ---- */

static void
close_stale(struct lb_pool *p, struct lb_bucket *b, uint64_t now)
{
	struct lb_up *up;

	/* oldest at the tail */
	while ((up = TAILQ_LAST(&b->idle, lb_up_list)) != NULL &&
	       up->idle_since_ms + p->o.idle_timeout_ms <= now)
		up_free(up);
}

static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lb_pool *p = arg;
	struct lb_bucket *b, *next;
	uint64_t now = lb_pool_now_ms(p);

	(void)fd;
	(void)what;
	for (b = TAILQ_FIRST(&p->all); b != NULL; b = next) {
		next = TAILQ_NEXT(b, link);
		close_stale(p, b, now);
		if (b->refs == 0 && b->nidle == 0 && b->nbusy == 0 &&
		    b->dns_req == NULL && TAILQ_EMPTY(&b->waiters)) {
			bucket_unlink(p, b);
			bucket_free(b);
		}
	}
}

/* Every connect waits the same: a common timeout keeps adding and
 * removing its timer O(1). A base holds a few hundred common timeouts;
 * past that (many reloads), a plain one does the same job. */
static void
set_dial_timeout(struct lb_pool *p, unsigned ms)
{
	p->o.dial_timeout_ms = ms;
	p->dial_tv_storage.tv_sec = ms / 1000;
	p->dial_tv_storage.tv_usec = (ms % 1000) * 1000;
	p->dial_tv = event_base_init_common_timeout(p->base, &p->dial_tv_storage);
	if (p->dial_tv == NULL)
		p->dial_tv = &p->dial_tv_storage;
}

struct lb_pool *
lb_pool_new(struct event_base *base, const struct lb_pool_opts *o,
	    const struct lb_logger *log)
{
	struct lb_pool *p = calloc(1, sizeof(*p));
	struct timeval tv;
	unsigned every;

	if (p == NULL)
		return NULL;
	p->base = base;
	p->o = *o;
	p->log = log;
	TAILQ_INIT(&p->all);
	set_dial_timeout(p, o->dial_timeout_ms);
	p->sweep_ev = event_new(base, -1, EV_PERSIST, sweep_cb, p);
	if (p->sweep_ev == NULL)
		goto fail;
	every = o->idle_timeout_ms / 4;
	if (every < 50)
		every = 50;
	if (every > 1000)
		every = 1000;
	tv.tv_sec = every / 1000;
	tv.tv_usec = (every % 1000) * 1000;
	if (event_add(p->sweep_ev, &tv) < 0)
		goto fail;
	atomic_init(&p->connects, 0);
	atomic_init(&p->connect_failures, 0);
	atomic_init(&p->reuses, 0);
	atomic_init(&p->nidle, 0);
	atomic_init(&p->nbusy, 0);
	return p;
fail:
	lb_pool_free(p);
	return NULL;
}

void
lb_pool_set_limits(struct lb_pool *p, unsigned dial_timeout_ms,
		   unsigned idle_timeout_ms, unsigned max_idle)
{
	if (dial_timeout_ms > 0 && dial_timeout_ms != p->o.dial_timeout_ms)
		set_dial_timeout(p, dial_timeout_ms);
	/* the sweep keeps its period: idle connections go at the next
	 * sweep after the new limit, at most a second late */
	if (idle_timeout_ms > 0)
		p->o.idle_timeout_ms = idle_timeout_ms;
	p->o.max_idle = max_idle;
}

void
lb_pool_free(struct lb_pool *p)
{
	struct lb_bucket *b;

	if (p == NULL)
		return;
	TAILQ_FOREACH(b, &p->all, link) {
		if (b->dns_req != NULL) {
			struct evdns_getaddrinfo_request *r = b->dns_req;

			b->dns_req = NULL;
			evdns_getaddrinfo_cancel(r);
		}
	}
	if (p->dns != NULL)
		evdns_base_free(p->dns, 0);
	while ((b = TAILQ_FIRST(&p->all)) != NULL) {
		struct lb_up *up;

		while ((up = TAILQ_FIRST(&b->idle)) != NULL)
			up_free(up);
		TAILQ_REMOVE(&p->all, b, link);
		bucket_free(b);
	}
	if (p->sweep_ev != NULL)
		event_free(p->sweep_ev);
	free(p->sendq);
	free(p->hash);
	free(p);
}

int
lb_pool_get(struct lb_pool *p, struct lb_bucket *b, int fresh, lb_up_fn cb,
	    void *arg, struct lb_pool_waiter *w, struct lb_up **out)
{
	struct lb_up *up;
	uint64_t now = lb_pool_now_ms(p);
	int rc, err = 0;

	*out = NULL;
	while (!fresh && (up = TAILQ_FIRST(&b->idle)) != NULL) {
		if (up->idle_since_ms + p->o.idle_timeout_ms <= now) {
			up_free(up);    /* too old to trust */
			continue;
		}
		TAILQ_REMOVE(&b->idle, up, link);
		b->nidle--;
		BUMP(p->nidle, -1);
		up->state = UP_BUSY;
		up->bulk = 0;
		b->nbusy++;
		BUMP(p->nbusy, 1);
		up->uses++;
		up->cb = cb;
		up->arg = arg;
		BUMP(p->reuses, 1);
		*out = up;
		return LB_POOL_READY;
	}

	if (b->name != NULL) {
		int stale = b->addr_state == ADDR_OK &&
			    now - b->resolved_ms >= RESOLVE_TTL_MS;
		int retry = b->addr_state == ADDR_FAILED &&
			    now - b->resolved_ms >= RESOLVE_RETRY_MS;

		if (b->addr_state == ADDR_NONE || stale || retry) {
			/* a stale address is refreshed in the background
			 * and used meanwhile */
			if (resolve(p, b) < 0 && b->addr_state != ADDR_OK)
				b->addr_state = ADDR_FAILED;
		}
		if (b->addr_state != ADDR_OK && b->dns_req != NULL) {
			w->cb = cb;
			w->arg = arg;
			w->bucket = b;
			TAILQ_INSERT_TAIL(&b->waiters, w, link);
			return LB_POOL_WAIT;
		}
		if (b->addr_state != ADDR_OK) {
			mark_down(p, b, EHOSTUNREACH);
			return -EHOSTUNREACH;
		}
	}

	up = up_new(p, b, &err);
	if (up == NULL) {
		mark_down(p, b, -err);
		return err;
	}
	up->cb = cb;
	up->arg = arg;
	rc = up_connect(p, up);
	if (rc < 0) {
		up->cb = NULL;
		mark_down(p, b, -rc);
		up_free(up);
		return rc;
	}
	*out = up;
	if (rc == 1) {
		up->state = UP_BUSY;
		mark_up(p, b);
		return LB_POOL_READY;
	}
	return LB_POOL_CONNECTING;
}

void
lb_pool_cancel_wait(struct lb_pool *p, struct lb_pool_waiter *w)
{
	(void)p;
	if (w->bucket == NULL)
		return;
	TAILQ_REMOVE(&w->bucket->waiters, w, link);
	w->bucket = NULL;
}

static int
flush_now(struct lb_up *up)
{
	while (evbuffer_get_length(up->out) > 0) {
		ssize_t n = lb_send_evbuffer(up->fd, up->out);

		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (event_add(up->wev, NULL) < 0)
				return -ENOMEM;
			return 0;
		}
		return n < 0 ? -errno : -EPIPE;
	}
	return 0;
}

int
lb_up_send(struct lb_up *up)
{
	struct lb_pool *p = up->pool;

	if (up->flush_slot != 0)
		return 0;
	if (p->nsend == p->sendcap) {
		size_t cap = p->sendcap ? p->sendcap * 2 : 64;
		struct lb_up **q = realloc(p->sendq, cap * sizeof(*q));

		if (q == NULL)
			return -ENOMEM;
		p->sendq = q;
		p->sendcap = cap;
	}
	p->sendq[p->nsend++] = up;
	up->flush_slot = p->nsend;
	return 0;
}

void
lb_pool_flush(struct lb_pool *p)
{
	size_t i;

	/* an error callback may queue more (a resend): nsend can grow */
	for (i = 0; i < p->nsend; i++) {
		struct lb_up *up = p->sendq[i];
		int rc;

		if (up == NULL)
			continue;
		p->sendq[i] = NULL;
		up->flush_slot = 0;
		if (up->state != UP_BUSY)
			continue;
		rc = flush_now(up);
		if (rc < 0)
			notify(up, LB_UP_ERROR, -rc);
	}
	p->nsend = 0;
}

void
lb_up_timeout(struct lb_up *up, const struct timeval *tv)
{
	if (tv != NULL)
		event_add(up->tev, tv);
	else
		event_del(up->tev);
}

void
lb_up_pause(struct lb_up *up, int paused)
{
	if (paused)
		event_del(up->rev);
	else
		event_add(up->rev, NULL);
}

void
lb_pool_release(struct lb_up *up, int reusable)
{
	struct lb_pool *p = up->pool;
	struct lb_bucket *b = up->bucket;

	up->cb = NULL;
	up->arg = NULL;
	event_del(up->tev);
	if (!reusable || up->state != UP_BUSY || b->nidle >= p->o.max_idle ||
	    evbuffer_get_length(up->in) > 0 ||
	    evbuffer_get_length(up->out) > 0) {
		up_free(up);
		return;
	}
	/* reading may have been paused by a streaming response */
	event_add(up->rev, NULL);
	event_del(up->wev);
	b->nbusy--;
	BUMP(p->nbusy, -1);
	up->state = UP_IDLE;
	up->idle_since_ms = lb_pool_now_ms(p);
	TAILQ_INSERT_HEAD(&b->idle, up, link);
	b->nidle++;
	BUMP(p->nidle, 1);
}

void
lb_pool_counts(const struct lb_pool *p, struct lb_pool_counts *c)
{
	c->connects = atomic_load_explicit(&p->connects, memory_order_relaxed);
	c->connect_failures = atomic_load_explicit(&p->connect_failures,
						   memory_order_relaxed);
	c->reuses = atomic_load_explicit(&p->reuses, memory_order_relaxed);
	c->idle = (unsigned)atomic_load_explicit(&p->nidle,
						 memory_order_relaxed);
	c->busy = (unsigned)atomic_load_explicit(&p->nbusy,
						 memory_order_relaxed);
}
