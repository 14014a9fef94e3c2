/*
 * consul_watch_curl.c - the watch transport for https agents: one curl
 * multi handle per watcher whose sockets and single timer are libevent
 * events (curl's "multi socket" interface), one easy handle per request
 * set up by consul_easy_prepare() exactly as a synchronous call would be.
 *
 * curl does the timeouts itself, so the watch's timer is never armed here.
 */
#include "registry-client/consul_watch_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* One socket curl asked us to watch. */
struct sock {
	struct consul_watch_curl_multi *m;
	curl_socket_t fd;
	struct event *ev;
	struct sock *prev, *next;
};

struct consul_watch_curl_multi {
	struct consul_watcher *wr;
	CURLM *multi;
	struct event *timer;            /* curl's single timeout */
	struct sock *socks;
};

static void check_done(struct consul_watch_curl_multi *m);

static void sock_free(struct sock *s)
{
	struct consul_watch_curl_multi *m = s->m;

	if (s->prev)
		s->prev->next = s->next;
	else
		m->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (s->ev)
		event_free(s->ev);
	free(s);
}

static void on_sock_event(evutil_socket_t fd, short events, void *arg)
{
	struct sock *s = arg;
	struct consul_watch_curl_multi *m = s->m; /* s may be gone after the call */
	int flags = 0, running;

	if (events & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (events & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(m->multi, fd, flags, &running);
	check_done(m);
}

/* CURLMOPT_SOCKETFUNCTION: curl says which events it wants on a socket. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp,
		     void *socketp)
{
	struct consul_watch_curl_multi *m = userp;
	struct sock *s = socketp;
	short kind = EV_PERSIST;

	if (what == CURL_POLL_REMOVE) {
		if (s)
			sock_free(s);
		return 0;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -1;
		s->m = m;
		s->fd = fd;
		s->next = m->socks;
		if (m->socks)
			m->socks->prev = s;
		m->socks = s;
		if (curl_multi_assign(m->multi, fd, s) != CURLM_OK) {
			sock_free(s);
			return -1;
		}
	}
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (s->ev)
		event_free(s->ev);
	s->ev = event_new(m->wr->base, fd, kind, on_sock_event, s);
	if (!s->ev || event_add(s->ev, NULL) != 0)
		return -1;
	return 0;
}

static void on_curl_timeout(evutil_socket_t fd, short events, void *arg)
{
	struct consul_watch_curl_multi *m = arg;
	int running;

	curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(m);
}

/* CURLMOPT_TIMERFUNCTION: curl's one timeout; -1 removes it. Curl must
 * not be re-entered from here, so even 0 goes through the event loop. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct consul_watch_curl_multi *m = userp;
	struct timeval tv;

	if (timeout_ms < 0) {
		evtimer_del(m->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(m->timer, &tv) == 0 ? 0 : -1;
}

static void curl_fini(struct consul_watcher *wr)
{
	struct consul_watch_curl_multi *m = wr->curl;

	if (!m)
		return;
	if (m->multi)
		curl_multi_cleanup(m->multi);
	while (m->socks)
		sock_free(m->socks);
	if (m->timer)
		event_free(m->timer);
	free(m);
	wr->curl = NULL;
}

static int curl_init(struct consul_watcher *wr)
{
	struct consul_watch_curl_multi *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	wr->curl = m;
	m->wr = wr;
	m->timer = evtimer_new(wr->base, on_curl_timeout, m);
	m->multi = curl_multi_init();
	if (!m->timer || !m->multi) {
		curl_fini(wr);
		return -ENOMEM;
	}
	curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
	curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
	return 0;
}

/* Takes the finished (or abandoned) easy handle off w; returns its answer,
 * which the caller clears and frees. */
static struct consul_response *detach(struct consul_watch *w, CURLcode code,
				      int *rc)
{
	struct consul_watch_curl_multi *m = w->wr->curl;
	CURL *easy = w->tp.curl.easy;
	struct consul_response *resp = w->tp.curl.resp;

	w->tp.curl.easy = NULL;
	w->tp.curl.resp = NULL;
	curl_multi_remove_handle(m->multi, easy);
	*rc = consul_easy_done(easy, code, resp);
	curl_easy_cleanup(easy);
	return resp;
}

static int curl_send(struct consul_watch *w, const char *query, long timeout_ms)
{
	struct consul_watch_curl_multi *m = w->wr->curl;
	struct consul_response *resp = malloc(sizeof(*resp));
	CURL *easy;
	int rc;

	if (!resp)
		return -ENOMEM;
	easy = consul_easy_prepare(w->wr->client, "GET", w->path, query, NULL, 0,
				   CONSUL_READ, timeout_ms, resp);
	if (!easy) {
		free(resp);
		return -ENOMEM;
	}
	w->tp.curl.easy = easy;
	w->tp.curl.resp = resp;
	if (curl_multi_add_handle(m->multi, easy) != CURLM_OK) {
		resp = detach(w, CURLE_FAILED_INIT, &rc);
		consul_response_clear(resp);
		free(resp);
		return -EIO;
	}
	return 0;
}

static void curl_timer(struct consul_watch *w)
{
	/* Never armed by this transport. */
}

static void curl_stop(struct consul_watch *w)
{
	struct consul_response *resp;
	int rc;

	if (!w->tp.curl.easy)
		return;
	resp = detach(w, CURLE_ABORTED_BY_CALLBACK, &rc);
	consul_response_clear(resp);
	free(resp);
}

static struct consul_watch *watch_by_easy(struct consul_watcher *wr, CURL *easy)
{
	for (struct consul_watch *w = wr->watches; w; w = w->next)
		if (w->tp.curl.easy == easy)
			return w;
	return NULL;
}

/* Every finished transfer, one at a time. A callback run from here may
 * cancel other watches; curl then drops their pending messages. */
static void check_done(struct consul_watch_curl_multi *m)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(m->multi, &left))) {
		CURL *easy = msg->easy_handle;
		CURLcode code = msg->data.result;
		struct consul_response *resp;
		struct consul_watch *w;
		int rc;

		if (msg->msg != CURLMSG_DONE)
			continue;
		w = watch_by_easy(m->wr, easy);
		if (!w) {
			curl_multi_remove_handle(m->multi, easy);
			continue;
		}
		resp = detach(w, code, &rc);
		consul_watch_done(w, rc, resp);
		consul_response_clear(resp);
		free(resp);
	}
}

const struct consul_watch_ops consul_watch_curl_ops = {
	.name = "curl",
	.init = curl_init,
	.fini = curl_fini,
	.send = curl_send,
	.timer = curl_timer,
	.stop = curl_stop,
};
