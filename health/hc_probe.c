/*
 * hc_probe.c - the prober: targets sorted by identity, a tick timer each
 * on the phase grid, and one non-blocking connection per probe driven by
 * plain events (connect, send the request, read the status line, drain).
 *
 * The socket is connected by hand rather than through a bufferevent so
 * the connect errno is exact and no more than a few bytes of the answer
 * are ever held. Every path that reports a result calls the user's
 * callback as its very last action, with the target already back to
 * idle (or draining), so the callback may remove the target or free the
 * prober.
 */
#include "health/hc_probe.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <event2/util.h>

#define DEFAULT_USER_AGENT "switchyard"
#define PATH_MAX_LEN 4096
#define HOST_MAX_LEN 1024
#define DRAIN_MAX (64 * 1024)
#define STATUS_PREFIX 13   /* "HTTP/1.1 200" and the byte after it */

enum probe_state {
	ST_IDLE = 0,
	ST_CONNECTING,
	ST_SENDING,
	ST_READING,
	ST_DRAINING    /* the result went out; reading the rest away */
};

struct target {
	struct hc_prober *owner;
	uint64_t identity;
	enum hc_probe_kind kind;
	char *addr;
	char *path;                 /* HTTP: never NULL */
	char *host;                 /* as given: NULL when empty */
	const char *bad;            /* why no probe can run, or NULL */
	struct sockaddr_storage sa;
	socklen_t salen;
	char *req;                  /* the HTTP request, built once */
	size_t req_len;

	struct event *tick;
	uint64_t due_us;            /* when tick fires next (grid time) */

	enum probe_state state;
	int fd;
	struct event *io;
	uint64_t start_us, deadline_us;
	size_t sent;
	char head[STATUS_PREFIX];
	size_t head_len;
	size_t drained;
	int keep;                   /* scratch for hc_prober_set: kept */
};

struct hc_prober {
	struct event_base *base;
	hc_probe_fn cb;
	void *arg;
	uint64_t interval_us, timeout_us;
	char *user_agent;
	uint64_t epoch_us;          /* the grid's origin */
	struct target **t;          /* sorted by identity */
	size_t n;
};

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static struct timeval
tv_us(uint64_t us)
{
	struct timeval tv = {.tv_sec = (time_t)(us / 1000000u),
			     .tv_usec = (suseconds_t)(us % 1000000u)};
	return tv;
}

/* splitmix64's finaliser: consecutive identities land far apart. */
static uint64_t
mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t
phase_us(uint64_t identity, uint64_t interval_us)
{
	return mix64(identity) % interval_us;
}

unsigned
hc_prober_phase_ms(uint64_t identity, unsigned interval_ms)
{
	return (unsigned)(phase_us(identity, (uint64_t)interval_ms * 1000u) /
			  1000u);
}

/* Printable ASCII without spaces: what may go into a request line or a
 * header value unquoted. */
static int
token_ok(const char *s, int allow_space)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7f || (c == ' ' && !allow_space))
			return 0;
	}
	return 1;
}

/* --- one probe's connection --- */

static void io_cb(evutil_socket_t fd, short what, void *arg);

/* Close the probe's socket; rst: with a reset (SO_LINGER 0), so this side
 * keeps no TIME_WAIT. */
static void
conn_close(struct target *t, int rst)
{
	if (t->io != NULL) {
		event_free(t->io);
		t->io = NULL;
	}
	if (t->fd >= 0) {
		if (rst) {
			struct linger lg = {.l_onoff = 1, .l_linger = 0};

			(void)setsockopt(t->fd, SOL_SOCKET, SO_LINGER, &lg,
					 sizeof(lg));
		}
		close(t->fd);
		t->fd = -1;
	}
	t->state = ST_IDLE;
}

static unsigned
elapsed_ms(const struct target *t)
{
	uint64_t now = now_us();

	return now > t->start_us ? (unsigned)((now - t->start_us) / 1000u) : 0;
}

/* Hand a result to the user. The caller returns right after: the
 * callback may have freed t and the prober. */
static void
report(struct target *t, int ok, const char *reason)
{
	struct hc_prober *p = t->owner;

	p->cb(t->identity, ok, reason, elapsed_ms(t), p->arg);
}

static void
fail(struct target *t, const char *reason)
{
	conn_close(t, 1);
	report(t, 0, reason);
}

static void
fail_errno(struct target *t, const char *what, int err)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "%s: %s", what, strerror(err));
	fail(t, buf);
}

static void
fail_connect(struct target *t, int err)
{
	switch (err) {
	case ECONNREFUSED:
		fail(t, "connect refused");
		break;
	case ENETUNREACH:
	case EHOSTUNREACH:
		fail(t, "unreachable");
		break;
	case ETIMEDOUT:
		fail(t, "timeout");
		break;
	default:
		fail_errno(t, "connect", err);
		break;
	}
}

/* Wait for what on the socket until the probe's deadline. 0, or -1 after
 * reporting the failure. */
static int
arm(struct target *t, short what)
{
	uint64_t now = now_us();

	if (t->io != NULL) {
		event_free(t->io);
		t->io = NULL;
	}
	if (now >= t->deadline_us) {
		if (t->state == ST_DRAINING)
			conn_close(t, 1);
		else
			fail(t, "timeout");
		return -1;
	}
	t->io = event_new(t->owner->base, t->fd, what, io_cb, t);
	if (t->io != NULL) {
		struct timeval tv = tv_us(t->deadline_us - now);

		if (event_add(t->io, &tv) == 0)
			return 0;
	}
	if (t->state == ST_DRAINING)
		conn_close(t, 1);
	else
		fail(t, "out of memory");
	return -1;
}

/* What the first bytes of the answer say: 1 a complete 2xx/3xx status,
 * 0 another complete status (*code set), -1 not HTTP/1.x, -2 too short
 * to tell yet. */
static int
status_check(const char *h, size_t len, int *code)
{
	static const char want[] = "HTTP/1.";

	for (size_t i = 0; i < len && i < sizeof(want) - 1; i++)
		if (h[i] != want[i])
			return -1;
	if (len < STATUS_PREFIX)
		return -2;
	if (h[7] < '0' || h[7] > '9' || h[8] != ' ')
		return -1;
	for (int i = 9; i < 12; i++)
		if (h[i] < '0' || h[i] > '9')
			return -1;
	if (h[12] != ' ' && h[12] != '\r' && h[12] != '\n')
		return -1;
	*code = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
	if (*code < 100)
		return -1;
	return *code >= 200 && *code < 400;
}

static void
drain(struct target *t)
{
	char buf[16384];

	for (;;) {
		ssize_t r = recv(t->fd, buf, sizeof(buf), 0);

		if (r > 0) {
			t->drained += (size_t)r;
			if (t->drained >= DRAIN_MAX) {
				conn_close(t, 1);
				return;
			}
			continue;
		}
		if (r == 0) {
			conn_close(t, 0);   /* the server closed first */
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			(void)arm(t, EV_READ);
			return;
		}
		conn_close(t, 1);
		return;
	}
}

static void
read_status(struct target *t)
{
	for (;;) {
		ssize_t r = recv(t->fd, t->head + t->head_len,
				 sizeof(t->head) - t->head_len, 0);
		int code = 0, rc;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			(void)arm(t, EV_READ);
			return;
		}
		if (r <= 0) {
			fail(t, t->head_len == 0 ? "closed" : "bad response");
			return;
		}
		t->head_len += (size_t)r;
		rc = status_check(t->head, t->head_len, &code);
		if (rc == -2)
			continue;
		if (rc == -1) {
			fail(t, "bad response");
			return;
		}

		char reason[16];

		snprintf(reason, sizeof(reason), "HTTP %d", code);
		t->state = ST_DRAINING;
		t->drained = 0;
		(void)arm(t, EV_READ);   /* on failure it closed quietly */
		report(t, rc, reason);
		return;
	}
}

static void
send_request(struct target *t)
{
	while (t->sent < t->req_len) {
		ssize_t r = send(t->fd, t->req + t->sent, t->req_len - t->sent,
				 MSG_NOSIGNAL);

		if (r > 0) {
			t->sent += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			(void)arm(t, EV_WRITE);
			return;
		}
		fail(t, "closed");
		return;
	}
	t->state = ST_READING;
	t->head_len = 0;
	(void)arm(t, EV_READ);
}

static void
connected(struct target *t)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err != 0) {
		fail_connect(t, err);
		return;
	}
	if (t->kind == HC_PROBE_TCP) {
		conn_close(t, 1);
		report(t, 1, "connected");
		return;
	}
	t->state = ST_SENDING;
	t->sent = 0;
	send_request(t);
}

static void
io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct target *t = arg;

	(void)fd;
	if (what & EV_TIMEOUT) {
		if (t->state == ST_DRAINING)
			conn_close(t, 1);
		else
			fail(t, "timeout");
		return;
	}
	switch (t->state) {
	case ST_CONNECTING:
		connected(t);
		break;
	case ST_SENDING:
		send_request(t);
		break;
	case ST_READING:
		read_status(t);
		break;
	case ST_DRAINING:
		drain(t);
		break;
	case ST_IDLE:
		break;
	}
}

static void
probe_start(struct target *t)
{
	struct hc_prober *p = t->owner;

	t->start_us = now_us();
	t->deadline_us = t->start_us + p->timeout_us;
	if (t->bad != NULL) {
		report(t, 0, t->bad);
		return;
	}
	t->fd = socket(t->sa.ss_family,
		       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->fd < 0) {
		fail_errno(t, "socket", errno);
		return;
	}
	t->state = ST_CONNECTING;
	if (connect(t->fd, (struct sockaddr *)&t->sa, t->salen) == 0) {
		connected(t);
		return;
	}
	if (errno != EINPROGRESS && errno != EINTR) {
		fail_connect(t, errno);
		return;
	}
	(void)arm(t, EV_WRITE);
}

/* --- the schedule --- */

/* The first grid time after now for t's phase. */
static uint64_t
first_due(const struct hc_prober *p, uint64_t identity, uint64_t now)
{
	uint64_t slot = p->epoch_us + phase_us(identity, p->interval_us);

	if (slot <= now)
		slot += ((now - slot) / p->interval_us + 1) * p->interval_us;
	return slot;
}

static void
tick_arm(struct target *t, uint64_t now)
{
	struct timeval tv = tv_us(t->due_us > now ? t->due_us - now : 0);

	/* Cannot fail for a timer whose event was created. */
	(void)evtimer_add(t->tick, &tv);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct target *t = arg;
	struct hc_prober *p = t->owner;
	uint64_t now = now_us();

	(void)fd;
	(void)what;
	/* Stay on the grid; a loop that stalled skips the missed slots
	 * rather than firing them in a burst. */
	t->due_us += p->interval_us;
	if (t->due_us <= now)
		t->due_us += ((now - t->due_us) / p->interval_us + 1) *
			     p->interval_us;
	tick_arm(t, now);
	if (t->state == ST_IDLE)
		probe_start(t);
}

/* --- targets --- */

static void
target_free(struct target *t)
{
	if (t == NULL)
		return;
	conn_close(t, 1);
	if (t->tick != NULL)
		event_free(t->tick);
	free(t->addr);
	free(t->path);
	free(t->host);
	free(t->req);
	free(t);
}

/* "host:port" or "[v6]:port" into t->sa; the reason when it cannot be. */
static const char *
parse_addr(struct target *t, const char *addr)
{
	char host[256];
	const char *port, *end;
	size_t hlen;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char *num_end;
	unsigned long pn;
	int rc;

	if (addr[0] == '[') {
		end = strchr(addr, ']');
		if (end == NULL || end[1] != ':')
			return "bad address";
		hlen = (size_t)(end - addr - 1);
		addr++;
		port = end + 2;
	} else {
		end = strrchr(addr, ':');
		if (end == NULL)
			return "bad address";
		hlen = (size_t)(end - addr);
		port = end + 1;
		if (memchr(addr, ':', hlen) != NULL)
			return "bad address";   /* IPv6 needs brackets */
	}
	if (hlen == 0 || hlen >= sizeof(host) || port[0] < '0' ||
	    port[0] > '9')
		return "bad address";
	errno = 0;
	pn = strtoul(port, &num_end, 10);
	if (*num_end != '\0' || errno != 0 || pn == 0 || pn > 65535)
		return "bad address";
	memcpy(host, addr, hlen);
	host[hlen] = '\0';
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc == EAI_NONAME)
		return "unresolved";
	if (rc != 0 || res == NULL || res->ai_addrlen > sizeof(t->sa)) {
		if (res != NULL)
			freeaddrinfo(res);
		return "bad address";
	}
	memcpy(&t->sa, res->ai_addr, res->ai_addrlen);
	t->salen = (socklen_t)res->ai_addrlen;
	freeaddrinfo(res);
	return NULL;
}

static int
build_request(struct target *t, const char *user_agent)
{
	const char *host = t->host != NULL ? t->host : t->addr;
	int len = snprintf(NULL, 0,
			   "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n"
			   "Accept: */*\r\nConnection: close\r\n\r\n",
			   t->path, host, user_agent);

	if (len < 0)
		return -ENOMEM;
	t->req = malloc((size_t)len + 1);
	if (t->req == NULL)
		return -ENOMEM;
	snprintf(t->req, (size_t)len + 1,
		 "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n"
		 "Accept: */*\r\nConnection: close\r\n\r\n",
		 t->path, host, user_agent);
	t->req_len = (size_t)len;
	return 0;
}

static const char *
spec_path(const struct hc_probe_spec *s)
{
	return s->path != NULL && s->path[0] != '\0' ? s->path : "/";
}

static int
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Whether t probes exactly what s asks for. */
static int
target_matches(const struct target *t, const struct hc_probe_spec *s)
{
	const char *host = s->host != NULL && s->host[0] != '\0' ? s->host
								: NULL;

	if (t->kind != s->kind || !str_eq(t->addr, s->addr != NULL ? s->addr
								   : ""))
		return 0;
	if (t->kind != HC_PROBE_HTTP)
		return 1;
	return strcmp(t->path, spec_path(s)) == 0 && str_eq(t->host, host);
}

/* A new target for s, not yet scheduled. NULL when out of memory. */
static struct target *
target_new(struct hc_prober *p, const struct hc_probe_spec *s)
{
	struct target *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->owner = p;
	t->identity = s->identity;
	t->kind = s->kind;
	t->fd = -1;
	t->addr = strdup(s->addr != NULL ? s->addr : "");
	t->path = strdup(spec_path(s));
	if (s->host != NULL && s->host[0] != '\0')
		t->host = strdup(s->host);
	t->tick = evtimer_new(p->base, tick_cb, t);
	if (t->addr == NULL || t->path == NULL || t->tick == NULL ||
	    (s->host != NULL && s->host[0] != '\0' && t->host == NULL))
		goto fail;
	if (s->kind != HC_PROBE_HTTP && s->kind != HC_PROBE_TCP) {
		t->bad = "bad kind";
		return t;
	}
	t->bad = parse_addr(t, t->addr);
	if (t->bad != NULL || s->kind == HC_PROBE_TCP)
		return t;
	if (t->path[0] != '/' || strlen(t->path) > PATH_MAX_LEN ||
	    !token_ok(t->path, 0)) {
		t->bad = "bad path";
		return t;
	}
	if (t->host != NULL &&
	    (strlen(t->host) > HOST_MAX_LEN || !token_ok(t->host, 0))) {
		t->bad = "bad host";
		return t;
	}
	if (build_request(t, p->user_agent) < 0)
		goto fail;
	return t;
fail:
	target_free(t);
	return NULL;
}

/* A spec's identity and position: sorted, the first of equal identities
 * comes first and wins. */
struct spec_ref {
	uint64_t identity;
	size_t index;
};

static int
cmp_spec_ref(const void *a, const void *b)
{
	const struct spec_ref *x = a, *y = b;

	if (x->identity != y->identity)
		return x->identity < y->identity ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static struct target *
find(const struct hc_prober *p, uint64_t identity)
{
	size_t lo = 0, hi = p->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->t[mid]->identity == identity)
			return p->t[mid];
		if (p->t[mid]->identity < identity)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int
hc_prober_set(struct hc_prober *p, const struct hc_probe_spec *specs,
	      size_t n)
{
	struct spec_ref *order = NULL;
	size_t nn = 0;
	struct target **nt = NULL;
	uint64_t now = now_us();

	if (n > 0) {
		order = malloc(n * sizeof(*order));
		nt = malloc(n * sizeof(*nt));
		if (order == NULL || nt == NULL)
			goto fail;
		for (size_t i = 0; i < n; i++) {
			order[i].identity = specs[i].identity;
			order[i].index = i;
		}
		qsort(order, n, sizeof(*order), cmp_spec_ref);
	}
	for (size_t i = 0; i < n; i++) {
		const struct hc_probe_spec *s = &specs[order[i].index];
		struct target *old;

		if (i > 0 && order[i - 1].identity == s->identity)
			continue;
		old = find(p, s->identity);
		if (old != NULL && target_matches(old, s)) {
			old->keep = 1;
			nt[nn++] = old;
			continue;
		}
		nt[nn] = target_new(p, s);
		if (nt[nn] == NULL)
			goto fail;
		nn++;
	}
	/* Commit: nothing below can fail. */
	for (size_t i = 0; i < p->n; i++)
		if (!p->t[i]->keep)
			target_free(p->t[i]);
	for (size_t i = 0; i < nn; i++) {
		if (nt[i]->keep) {
			nt[i]->keep = 0;
			continue;
		}
		nt[i]->due_us = first_due(p, nt[i]->identity, now);
		tick_arm(nt[i], now);
	}
	free(p->t);
	p->t = nt;
	p->n = nn;
	free(order);
	return 0;
fail:
	for (size_t i = 0; i < nn; i++) {
		if (nt[i]->keep)
			nt[i]->keep = 0;
		else
			target_free(nt[i]);
	}
	free(nt);
	free(order);
	return -ENOMEM;
}

size_t
hc_prober_count(const struct hc_prober *p)
{
	return p->n;
}

struct hc_prober *
hc_prober_new(struct event_base *base, const struct hc_probe_opts *o,
	      hc_probe_fn cb, void *arg)
{
	struct hc_probe_opts def = {0};
	struct hc_prober *p = NULL;
	const char *ua;

	if (o == NULL)
		o = &def;
	if (base == NULL || cb == NULL) {
		errno = EINVAL;
		return NULL;
	}
	ua = o->user_agent != NULL && o->user_agent[0] != '\0'
		     ? o->user_agent
		     : DEFAULT_USER_AGENT;
	if (!token_ok(ua, 1)) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		goto fail;
	p->base = base;
	p->cb = cb;
	p->arg = arg;
	p->interval_us = (uint64_t)(o->interval_ms > 0 ? o->interval_ms
						       : HC_PROBE_INTERVAL_MS) *
			 1000u;
	p->timeout_us = o->timeout_ms > 0 ? (uint64_t)o->timeout_ms * 1000u
					  : p->interval_us;
	p->epoch_us = now_us();
	p->user_agent = strdup(ua);
	if (p->user_agent == NULL)
		goto fail;
	return p;
fail:
	hc_prober_free(p);
	errno = ENOMEM;
	return NULL;
}

void
hc_prober_free(struct hc_prober *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++)
		target_free(p->t[i]);
	free(p->t);
	free(p->user_agent);
	free(p);
}
