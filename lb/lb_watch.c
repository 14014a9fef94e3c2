/*
 * lb_watch.c - the watches: the catalog decides which services get a
 * health watch of their own, the KV watches bring overrides and the
 * no-route page, and every answer marks work for the coalescing timer
 * (lb_rebuild.c does the work). Reachability is the sum of the watches':
 * up while none fails.
 */
#include "lb/lb_watch_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "registry-client/consul_json.h"

#define DEFAULT_TAGPREFIX "urlprefix-"

uint64_t lb_watch_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t lb_watch_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void lb_watch_logf(struct lb_watch *lw, enum lb_watch_level level,
		   const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	lw->log(level, line, lw->log_arg);
}

const char *lb_watch_quote(char *buf, size_t size, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (size < 3) {
		if (size)
			buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[5];
		size_t n = 0;

		if (c == '"' || c == '\\') {
			esc[n++] = '\\';
			esc[n++] = (char)c;
		} else if (c < ' ' || c == 0x7f) {
			esc[n++] = '\\';
			esc[n++] = 'x';
			esc[n++] = hex[c >> 4];
			esc[n++] = hex[c & 15];
		} else {
			esc[n++] = (char)c;
		}
		if (o + n + 2 > size)
			break;
		memcpy(buf + o, esc, n);
		o += n;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* ---- reachability ---- */

/* Recompute up from the feeds and log a change. Before any answer and
 * any failure the state is unknown (up_now -1) and nothing is logged. */
static void update_state(struct lb_watch *lw, const char *why)
{
	int state = lw->ndown ? 0 : lw->ever_answered ? 1 : -1;
	char q[300];

	if (state == lw->up_now || state < 0)
		return;
	lw->up_now = state;
	atomic_store(&lw->up, state);
	if (state) {
		lw->hold_armed = 0;
		LB_WATCH_LOG(lw, LB_WATCH_INFO, "event=consul_up");
	} else {
		LB_WATCH_LOG(lw, LB_WATCH_WARN,
			     "event=consul_down reason=%s keeping=last_table",
			     lb_watch_quote(q, sizeof(q), why ? why : ""));
	}
}

/*
 * A good answer came. The first one after an outage starts the resync
 * hold: an agent that restarted empty answers before its services have
 * registered again, so for a while a table that would drop routes waits.
 * The hold is counted from the first answer, not from the moment every
 * watch is back, so one watch that keeps failing cannot freeze removals.
 */
static void note_answer(struct lb_watch *lw)
{
	if (lw->up_now != 0 || lw->hold_armed || lw->resync_hold_ms <= 0 ||
	    !lw->published_once)
		return;
	lw->hold_armed = 1;
	lw->hold_logged = 0;
	lw->hold_until_ms = lb_watch_mono_ms() + (uint64_t)lw->resync_hold_ms;
}

static void on_state(struct consul_watch *cw, int up, const char *why,
		     void *arg);

static void feed_down(struct feed *f, const char *why)
{
	if (f->down)
		return;
	f->down = 1;
	f->lw->ndown++;
	update_state(f->lw, why);
}

static void feed_up(struct feed *f)
{
	struct lb_watch *lw = f->lw;

	if (f->down) {
		f->down = 0;
		lw->ndown--;
	}
	f->answered = 1;
	f->fresh = 0;
	lw->ever_answered = 1;
	note_answer(lw);
	update_state(lw, NULL);
}

static struct consul_watch *watch_start(struct feed *f)
{
	struct lb_watch *lw = f->lw;
	struct consul_watch_opts o = {
		.path = f->path,
		.query = f->query,
		.wait_ms = lw->wait_ms,
		.backoff_max_ms = lw->backoff_max_ms,
		.on_change = f->on_change,
		.on_state = on_state,
		.arg = f,
	};

	return consul_watch_start(lw->watcher, &o);
}

/*
 * A watch failed. An agent that could not be reached may come back
 * restarted with lower indexes (the dev registry always does, Consul
 * after a snapshot restore): a blocking request carrying the old index
 * would then hang for the whole wait before the index reset applies. So
 * the watch starts over, its first request without an index; once per
 * run of failures, so the new watch's own backoff paces the retries.
 */
static void on_state(struct consul_watch *cw, int up, const char *why,
		     void *arg)
{
	struct feed *f = arg;
	struct consul_watch *fresh;

	if (up) {
		note_answer(f->lw);
		if (f->down) {
			f->down = 0;
			f->lw->ndown--;
			update_state(f->lw, NULL);
		}
		return;
	}
	feed_down(f, why);
	if (f->fresh)
		return;
	fresh = watch_start(f);
	if (!fresh)
		return;  /* keep the old one: it retries with its index */
	f->fresh = 1;
	consul_watch_cancel(f->watch);
	f->watch = fresh;
}

/* Forget a feed's watch (its down state leaves the sum). */
static void feed_stop(struct feed *f)
{
	consul_watch_cancel(f->watch);
	f->watch = NULL;
	free(f->path);
	f->path = NULL;
	if (f->down) {
		f->down = 0;
		f->lw->ndown--;
		update_state(f->lw, NULL);
	}
}

/* path is taken over (freed here on failure too). */
static int feed_start(struct lb_watch *lw, struct feed *f, char *path,
		      const char *query, consul_watch_change_fn on_change)
{
	f->lw = lw;
	f->path = path;
	f->query = query;
	f->on_change = on_change;
	if (!path)
		return -ENOMEM;
	f->watch = watch_start(f);
	if (!f->watch) {
		free(f->path);
		f->path = NULL;
		return -ENOMEM;
	}
	return 0;
}

static void routes_changed(struct lb_watch *lw)
{
	lw->routes_dirty = 1;
	lb_watch_schedule(lw, lw->coalesce_ms > lw->last_build_ms
				      ? lw->coalesce_ms : lw->last_build_ms);
}

static void log_bad_answer(struct lb_watch *lw, const char *what,
			   const struct consul_json_err *err)
{
	char q[300], qw[300];

	LB_WATCH_LOG(lw, LB_WATCH_WARN,
		     "event=consul_bad_answer watch=%s error=%s keeping=previous",
		     lb_watch_quote(qw, sizeof(qw), what),
		     lb_watch_quote(q, sizeof(q), err->msg));
}

/* ---- routed services ---- */

static void svc_free(struct svc *s)
{
	if (!s)
		return;
	feed_stop(&s->feed);
	consul_service_list_clear(&s->list);
	free(s->name);
	free(s);
}

static void on_health(struct consul_watch *cw, const struct consul_response *r,
		      void *arg)
{
	struct svc *s = arg;
	struct lb_watch *lw = s->feed.lw;
	struct consul_service_list list = { 0 };
	struct consul_json_err err;

	if (consul_json_decode_health_service(r->body ? r->body : "",
					      r->body_len, &list, &err) < 0) {
		char what[300];

		snprintf(what, sizeof(what), "health/service/%s", s->name);
		log_bad_answer(lw, what, &err);
		feed_up(&s->feed);
		return;
	}
	consul_service_list_clear(&s->list);
	s->list = list;
	feed_up(&s->feed);
	routes_changed(lw);
}

static struct svc *svc_new(struct lb_watch *lw, const char *name)
{
	struct svc *s = calloc(1, sizeof(*s));
	char *esc = NULL, *path = NULL;

	if (!s)
		return NULL;
	s->name = strdup(name);
	esc = consul_escape_segment(name);
	if (!s->name || !esc)
		goto fail;
	path = malloc(strlen(esc) + sizeof("/v1/health/service/"));
	if (path) {
		strcpy(path, "/v1/health/service/");
		strcat(path, esc);
	}
	if (feed_start(lw, &s->feed, path, NULL, on_health) < 0)
		goto fail;
	free(esc);
	return s;
fail:
	free(esc);
	free(s->name);
	free(s);
	return NULL;
}

static int has_prefixed_tag(const struct consul_catalog_service *cs,
			    const char *prefix)
{
	size_t plen = strlen(prefix);

	for (size_t i = 0; i < cs->ntags; i++) {
		const char *t = cs->tags[i];

		while (*t == ' ' || *t == '\t')
			t++;
		if (strncmp(t, prefix, plen) == 0)
			return 1;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Make the set of routed services equal to names (sorted, unique): keep
 * the services already watched, start watches for the new ones, stop
 * those gone. Returns 1 when a service that had instances went away.
 */
static int sync_services(struct lb_watch *lw, const char **names, size_t n)
{
	struct svc **next = n ? calloc(n, sizeof(*next)) : NULL;
	size_t i = 0, j = 0, k = 0;
	int dropped = 0;
	char q[300];

	if (n && !next) {
		LB_WATCH_LOG(lw, LB_WATCH_ERROR,
			     "event=out_of_memory during=catalog_update");
		return 0;
	}
	while (i < lw->nsvcs || j < n) {
		int c = i >= lw->nsvcs ? 1 : j >= n ? -1
			: strcmp(lw->svcs[i]->name, names[j]);

		if (c == 0) {
			next[k++] = lw->svcs[i++];
			j++;
		} else if (c < 0) {
			struct svc *gone = lw->svcs[i++];

			LB_WATCH_LOG(lw, LB_WATCH_DEBUG,
				     "event=service_unwatched service=%s",
				     lb_watch_quote(q, sizeof(q), gone->name));
			if (gone->list.n)
				dropped = 1;
			svc_free(gone);
		} else {
			struct svc *s = svc_new(lw, names[j]);

			if (s) {
				next[k++] = s;
				LB_WATCH_LOG(lw, LB_WATCH_DEBUG,
					     "event=service_watched service=%s",
					     lb_watch_quote(q, sizeof(q), names[j]));
			} else {
				LB_WATCH_LOG(lw, LB_WATCH_ERROR,
					     "event=out_of_memory during=watch service=%s",
					     lb_watch_quote(q, sizeof(q), names[j]));
			}
			j++;
		}
	}
	free(lw->svcs);
	lw->svcs = next;
	lw->nsvcs = k;
	return dropped;
}

static void on_catalog(struct consul_watch *cw, const struct consul_response *r,
		       void *arg)
{
	struct lb_watch *lw = ((struct feed *)arg)->lw;
	struct consul_catalog cat = { 0 };
	struct consul_json_err err;
	const char **names = NULL;
	size_t n = 0, u = 0;

	if (!lw->catalog_first_ms)
		lw->catalog_first_ms = lb_watch_mono_ms();
	if (consul_json_decode_catalog_services(r->body ? r->body : "",
						r->body_len, &cat, &err) < 0) {
		log_bad_answer(lw, "catalog/services", &err);
		feed_up(&lw->catalog);
		return;
	}
	if (cat.n) {
		names = calloc(cat.n, sizeof(*names));
		if (!names) {
			LB_WATCH_LOG(lw, LB_WATCH_ERROR,
				     "event=out_of_memory during=catalog_update");
			consul_catalog_clear(&cat);
			return;
		}
	}
	for (size_t i = 0; i < cat.n; i++)
		if (has_prefixed_tag(&cat.v[i], lw->tagprefix))
			names[n++] = cat.v[i].name;
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++)
		if (u == 0 || strcmp(names[u - 1], names[i]) != 0)
			names[u++] = names[i];
	feed_up(&lw->catalog);
	/* A new service changes nothing until its own watch answers; one
	 * that left takes its routes with it. The first answer always
	 * schedules, so an empty catalog still yields a first table. */
	if (sync_services(lw, names, u) || !lw->published_once)
		routes_changed(lw);
	free(names);
	consul_catalog_clear(&cat);
}

/* ---- KV ---- */

static void on_overrides(struct consul_watch *cw,
			 const struct consul_response *r, void *arg)
{
	struct lb_watch *lw = ((struct feed *)arg)->lw;
	struct consul_kv_list kv = { 0 };
	struct lb_overrides ov;
	struct consul_json_err err;

	if (r->status == 200 &&
	    consul_json_decode_kv(r->body ? r->body : "", r->body_len, &kv,
				  &err) < 0) {
		log_bad_answer(lw, "kv/overrides", &err);
		feed_up(&lw->kv);
		return;
	}
	if (lb_overrides_build(&kv, &ov) < 0) {
		LB_WATCH_LOG(lw, LB_WATCH_ERROR,
			     "event=out_of_memory during=overrides_update");
		consul_kv_list_clear(&kv);
		return;
	}
	consul_kv_list_clear(&kv);
	lb_overrides_clear(&lw->overrides);
	lw->overrides = ov;
	LB_WATCH_LOG(lw, LB_WATCH_DEBUG, "event=overrides_read keys=%zu bytes=%zu",
		     ov.nkeys, ov.len);
	feed_up(&lw->kv);
	routes_changed(lw);
}

static void on_noroute(struct consul_watch *cw,
		       const struct consul_response *r, void *arg)
{
	struct lb_watch *lw = ((struct feed *)arg)->lw;
	struct consul_kv_list kv = { 0 };
	struct consul_json_err err;
	struct lb_noroute *page;
	const void *body = NULL;
	size_t len = 0;

	if (r->status == 200 &&
	    consul_json_decode_kv(r->body ? r->body : "", r->body_len, &kv,
				  &err) < 0) {
		log_bad_answer(lw, "kv/noroute", &err);
		feed_up(&lw->noroute);
		return;
	}
	for (size_t i = 0; i < kv.n; i++) {
		if (strcmp(kv.v[i].key, lw->noroute_key) == 0 && kv.v[i].value) {
			body = kv.v[i].value;
			len = kv.v[i].value_len;
		}
	}
	feed_up(&lw->noroute);
	if (lw->page && lb_noroute_len(lw->page) == len &&
	    (len == 0 || memcmp(lb_noroute_body(lw->page), body, len) == 0)) {
		consul_kv_list_clear(&kv);
		return;  /* the same page again (a restarted watch) */
	}
	page = lb_noroute_new(body, len);
	consul_kv_list_clear(&kv);
	if (!page) {
		LB_WATCH_LOG(lw, LB_WATCH_ERROR,
			     "event=out_of_memory during=noroute_update");
		return;
	}
	lb_noroute_unref(lw->page);
	lw->page = page;
	lw->page_dirty = 1;
	LB_WATCH_LOG(lw, LB_WATCH_INFO, "event=noroute_page bytes=%zu", len);
	lb_watch_schedule(lw, lw->coalesce_ms);
}

/* "/v1/kv/<escaped key>"; NULL when out of memory. */
static char *kv_path(const char *key)
{
	char *esc = consul_escape_key(key);
	char *path;

	if (!esc)
		return NULL;
	path = malloc(strlen(esc) + sizeof("/v1/kv/"));
	if (path) {
		strcpy(path, "/v1/kv/");
		strcat(path, esc);
	}
	free(esc);
	return path;
}

/* key without leading slashes, NULL when nothing is left; *err on ENOMEM. */
static char *kv_key(const char *path, int *err)
{
	char *k;

	if (!path)
		return NULL;
	while (*path == '/')
		path++;
	if (!*path)
		return NULL;
	k = strdup(path);
	if (!k)
		*err = -ENOMEM;
	return k;
}

static char *dup_or_null(const char *s, int *err)
{
	char *d;

	if (!s || !*s)
		return NULL;
	d = strdup(s);
	if (!d)
		*err = -ENOMEM;
	return d;
}

/* ---- the coalescing timer ---- */

static void on_flush(evutil_socket_t fd, short events, void *arg)
{
	struct lb_watch *lw = arg;

	lw->flush_pending = 0;
	lb_watch_flush(lw);
}

void lb_watch_schedule(struct lb_watch *lw, uint64_t ms)
{
	uint64_t at = lb_watch_mono_ms() + ms;
	struct timeval tv;

	if (lw->flush_pending && lw->flush_at_ms <= at)
		return;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	if (evtimer_add(lw->flush_ev, &tv) == 0) {
		lw->flush_pending = 1;
		lw->flush_at_ms = at;
	}
}

/* ---- life cycle ---- */

struct lb_watch *lb_watch_new(struct event_base *base,
			      const struct lb_watch_opts *o)
{
	struct lb_watch *lw = NULL;
	struct consul_config cc = { 0 };
	int err = 0;

	if (!base || !o)
		return NULL;
	lw = calloc(1, sizeof(*lw));
	if (!lw)
		return NULL;
	lw->base = base;
	lw->tagprefix = strdup(o->tagprefix && *o->tagprefix ? o->tagprefix
							      : DEFAULT_TAGPREFIX);
	lw->kv_key = kv_key(o->kvpath, &err);
	lw->noroute_key = kv_key(o->noroute_path, &err);
	lw->dc = dup_or_null(o->dc, &err);
	if (!lw->tagprefix || err)
		goto fail;
	lw->status_mask = o->status_mask ? o->status_mask : LB_STATUS_PASSING;
	lw->checks_all = o->checks_all;
	lw->matcher = o->matcher;
	lw->coalesce_ms = o->coalesce_ms ? o->coalesce_ms : LB_WATCH_COALESCE_MS;
	lw->wait_ms = o->wait_ms ? o->wait_ms : LB_WATCH_WAIT_MS;
	lw->backoff_max_ms = o->backoff_max_ms;
	lw->resync_hold_ms = o->resync_hold_ms == 0 ? LB_WATCH_RESYNC_HOLD_MS
						    : o->resync_hold_ms;
	lw->startup_wait_ms = o->startup_wait_ms ? o->startup_wait_ms
						 : LB_WATCH_STARTUP_WAIT_MS;
	lw->log = o->log;
	lw->log_level = o->log_level;
	lw->routes_log = o->routes_log;
	lw->log_arg = o->log_arg;
	atomic_init(&lw->up, 0);
	lw->up_now = -1;
	atomic_init(&lw->last_update_ms, 0);
	atomic_init(&lw->rebuilds, 0);
	atomic_init(&lw->publishes, 0);
	lw->catalog.lw = lw->kv.lw = lw->noroute.lw = lw;

	cc.address = o->consul_addr;
	cc.token = o->token && *o->token ? o->token : NULL;
	lw->client = consul_client_new(&cc);
	if (!lw->client)
		goto fail;
	lw->watcher = consul_watcher_new(base, lw->client);
	lw->flush_ev = evtimer_new(base, on_flush, lw);
	if (!lw->watcher || !lw->flush_ev)
		goto fail;

	if (feed_start(lw, &lw->catalog, strdup("/v1/catalog/services"), NULL,
		       on_catalog) < 0)
		goto fail;
	if (lw->kv_key && feed_start(lw, &lw->kv, kv_path(lw->kv_key),
				     "recurse", on_overrides) < 0)
		goto fail;
	if (lw->noroute_key && feed_start(lw, &lw->noroute,
					  kv_path(lw->noroute_key), NULL,
					  on_noroute) < 0)
		goto fail;
	LB_WATCH_LOG(lw, LB_WATCH_INFO,
		     "event=watch_start consul=%s tagprefix=%s kvpath=%s noroute=%s",
		     consul_client_base_url(lw->client), lw->tagprefix,
		     lw->kv_key ? lw->kv_key : "-",
		     lw->noroute_key ? lw->noroute_key : "-");
	return lw;
fail:
	lb_watch_free(lw);
	return NULL;
}

void lb_watch_free(struct lb_watch *lw)
{
	if (!lw)
		return;
	for (size_t i = 0; i < lw->nsvcs; i++) {
		lw->svcs[i]->feed.down = 0;  /* no state change while freeing */
		svc_free(lw->svcs[i]);
	}
	free(lw->svcs);
	/* cancels the catalog and KV watches too */
	consul_watcher_free(lw->watcher);
	free(lw->catalog.path);
	free(lw->kv.path);
	free(lw->noroute.path);
	consul_client_free(lw->client);
	if (lw->flush_ev)
		event_free(lw->flush_ev);
	lb_overrides_clear(&lw->overrides);
	lb_noroute_unref(lw->page);
	rt_table_unref(lw->table);
	free(lw->mailboxes);
	free(lw->boxes);
	free(lw->tagprefix);
	free(lw->kv_key);
	free(lw->noroute_key);
	free(lw->dc);
	free(lw);
}

int lb_watch_add_mailbox(struct lb_watch *lw, struct rt_mailbox *m)
{
	struct rt_mailbox **v = realloc(lw->mailboxes,
					(lw->nmailboxes + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	lw->mailboxes = v;
	v[lw->nmailboxes++] = m;
	if (lw->table)
		rt_mailbox_post(m, rt_table_ref(lw->table));
	return 0;
}

int lb_watch_add_noroute_box(struct lb_watch *lw, struct lb_noroute_box *b)
{
	struct lb_noroute_box **v = realloc(lw->boxes,
					    (lw->nboxes + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	lw->boxes = v;
	v[lw->nboxes++] = b;
	if (lw->page)
		lb_noroute_box_post(b, lb_noroute_ref(lw->page));
	return 0;
}

void lb_watch_set_published_cb(struct lb_watch *lw, lb_watch_published_fn fn,
			       void *arg)
{
	lw->published = fn;
	lw->published_arg = arg;
}

void lb_watch_set_refreshed_cb(struct lb_watch *lw, lb_watch_refreshed_fn fn,
			       void *arg)
{
	lw->refreshed = fn;
	lw->refreshed_arg = arg;
}

enum lb_instance_verdict lb_watch_verdict(const struct lb_watch *lw,
					  const struct consul_service_entry *e)
{
	return lb_instance_verdict(e, lw->status_mask, lw->checks_all);
}

struct rt_table *lb_watch_table(const struct lb_watch *lw)
{
	return lw->table;
}

const struct lb_noroute *lb_watch_noroute(const struct lb_watch *lw)
{
	return lw->page;
}

const struct consul_service_list *
lb_watch_service(const struct lb_watch *lw, const char *name)
{
	size_t lo = 0, hi = lw->nsvcs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(lw->svcs[mid]->name, name);

		if (c == 0)
			return &lw->svcs[mid]->list;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int lb_watch_consul_up(const struct lb_watch *lw)
{
	return atomic_load(&lw->up);
}

uint64_t lb_watch_last_update_ms(const struct lb_watch *lw)
{
	return atomic_load(&lw->last_update_ms);
}

uint64_t lb_watch_rebuilds(const struct lb_watch *lw)
{
	return atomic_load(&lw->rebuilds);
}

uint64_t lb_watch_publishes(const struct lb_watch *lw)
{
	return atomic_load(&lw->publishes);
}

void lb_watch_set_log(struct lb_watch *w, enum lb_watch_level level,
		      enum lb_watch_routes_log routes_log)
{
	if (!w)
		return;
	w->log_level = level;
	w->routes_log = routes_log;
}
