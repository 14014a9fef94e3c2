/*
 * devreg_store.c - services, checks and their indexes (KV lives in
 * devreg_kv.c). See devreg_store.h for the index rules.
 */
#include "devregistry/devreg_store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "devregistry/devreg_duration.h"

#define NODE_MAINT_DEFAULT \
	"Maintenance mode is enabled for this node, but no reason was provided. This is a default message."
#define SERVICE_MAINT_DEFAULT \
	"Maintenance mode is enabled for this service, but no reason was provided. This is a default message."

static int
empty(const char *s)
{
	return s == NULL || *s == '\0';
}

static int64_t
monotonic_ms(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
devreg_store_now(const struct devreg_store *s)
{
	return s->cfg.now_ms(s->cfg.now_arg);
}

/* --- write operations --- */

void
devreg_store_txn_begin(struct devreg_store *s)
{
	s->depth++;
}

uint64_t
devreg_store_txn_index(struct devreg_store *s)
{
	if (s->txn == 0)
		s->txn = ++s->index;
	return s->txn;
}

void
devreg_store_txn_end(struct devreg_store *s)
{
	if (--s->depth > 0)
		return;
	if (s->txn != 0) {
		s->txn = 0;
		if (s->hooks.changed != NULL)
			s->hooks.changed(s->hooks.arg);
	}
}

static void
touch_check(struct devreg_store *s, struct devreg_check *c)
{
	uint64_t idx = devreg_store_txn_index(s);

	c->modify_index = idx;
	s->checks_index = idx;
	if (c->service != NULL)
		c->service->group->index = idx;
	else
		s->node_checks_index = idx;
}

static void
touch_service(struct devreg_store *s, struct devreg_service *svc)
{
	uint64_t idx = devreg_store_txn_index(s);

	svc->modify_index = idx;
	svc->group->index = idx;
	s->services_index = idx;
}

/* --- groups of instances sharing a name --- */

static struct devreg_svcgroup *
group_get(struct devreg_store *s, const char *name)
{
	struct devreg_svcgroup *g = devreg_map_get(s->groups, name);

	if (g != NULL)
		return g;
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return NULL;
	g->name = strdup(name);
	if (g->name == NULL || devreg_map_put(s->groups, g->name, g) < 0) {
		free(g->name);
		free(g);
		return NULL;
	}
	return g;
}

static void
group_link(struct devreg_svcgroup *g, struct devreg_service *svc)
{
	svc->group = g;
	svc->grp_prev = g->tail;
	svc->grp_next = NULL;
	if (g->tail != NULL)
		g->tail->grp_next = svc;
	else
		g->head = svc;
	g->tail = svc;
	g->count++;
}

/* Take svc out of its group; an emptied group goes, handing its index to
 * missing_service_index (idx is the write doing it; 0 while freeing). */
static void
group_unlink(struct devreg_store *s, struct devreg_service *svc, uint64_t idx)
{
	struct devreg_svcgroup *g = svc->group;

	if (svc->grp_prev != NULL)
		svc->grp_prev->grp_next = svc->grp_next;
	else
		g->head = svc->grp_next;
	if (svc->grp_next != NULL)
		svc->grp_next->grp_prev = svc->grp_prev;
	else
		g->tail = svc->grp_prev;
	svc->group = NULL;
	g->count--;
	if (idx != 0)
		g->index = idx;
	if (g->count == 0) {
		if (g->index > s->missing_service_index)
			s->missing_service_index = g->index;
		devreg_map_del(s->groups, g->name);
		free(g->name);
		free(g);
	}
}

struct devreg_svcgroup *
devreg_store_group(const struct devreg_store *s, const char *name)
{
	return devreg_map_get(s->groups, name);
}

/* --- lists --- */

static void
svc_list_link(struct devreg_store *s, struct devreg_service *svc)
{
	svc->prev = s->svc_tail;
	svc->next = NULL;
	if (s->svc_tail != NULL)
		s->svc_tail->next = svc;
	else
		s->svc_head = svc;
	s->svc_tail = svc;
	s->nservices++;
}

static void
svc_list_unlink(struct devreg_store *s, struct devreg_service *svc)
{
	if (svc->prev != NULL)
		svc->prev->next = svc->next;
	else
		s->svc_head = svc->next;
	if (svc->next != NULL)
		svc->next->prev = svc->prev;
	else
		s->svc_tail = svc->prev;
	s->nservices--;
}

static void
chk_list_link(struct devreg_store *s, struct devreg_check *c)
{
	c->prev = s->chk_tail;
	c->next = NULL;
	if (s->chk_tail != NULL)
		s->chk_tail->next = c;
	else
		s->chk_head = c;
	s->chk_tail = c;
	s->nchecks++;
}

static void
chk_list_unlink(struct devreg_store *s, struct devreg_check *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->chk_head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		s->chk_tail = c->prev;
	s->nchecks--;
}

/* A check's owner list: its service's, or the node's for node-level
 * checks (so that rendering an instance's health never walks every check
 * in the store). */
static void
owner_link(struct devreg_store *s, struct devreg_service *svc, struct devreg_check *c)
{
	struct devreg_check **head = svc != NULL ? &svc->checks_head : &s->node_checks_head;
	struct devreg_check **tail = svc != NULL ? &svc->checks_tail : &s->node_checks_tail;

	c->service = svc;
	c->svc_prev = *tail;
	c->svc_next = NULL;
	if (*tail != NULL)
		(*tail)->svc_next = c;
	else
		*head = c;
	*tail = c;
	if (svc != NULL)
		svc->nchecks++;
	else
		s->nnode_checks++;
	c->owned = 1;
}

static void
owner_unlink(struct devreg_store *s, struct devreg_check *c)
{
	struct devreg_service *svc = c->service;
	struct devreg_check **head = svc != NULL ? &svc->checks_head : &s->node_checks_head;
	struct devreg_check **tail = svc != NULL ? &svc->checks_tail : &s->node_checks_tail;

	if (!c->owned)
		return;
	if (c->svc_prev != NULL)
		c->svc_prev->svc_next = c->svc_next;
	else
		*head = c->svc_next;
	if (c->svc_next != NULL)
		c->svc_next->svc_prev = c->svc_prev;
	else
		*tail = c->svc_prev;
	if (svc != NULL)
		svc->nchecks--;
	else
		s->nnode_checks--;
	c->service = NULL;
	c->svc_prev = c->svc_next = NULL;
	c->owned = 0;
}

/* --- checks --- */

static void
check_free(struct devreg_check *c)
{
	if (c == NULL)
		return;
	free(c->id);
	free(c->name);
	free(c->notes);
	free(c->output);
	devreg_check_def_free(c->def);
	free(c);
}

static struct devreg_check *
check_alloc(const char *id, const char *name, const char *notes)
{
	struct devreg_check *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->id = strdup(id);
	c->name = strdup(devreg_str(name));
	c->notes = strdup(devreg_str(notes));
	c->output = strdup("");
	if (c->id == NULL || c->name == NULL || c->notes == NULL || c->output == NULL) {
		check_free(c);
		return NULL;
	}
	c->agent_local = 1;
	return c;
}

static void
hook_start(struct devreg_store *s, struct devreg_check *c)
{
	if (c->def != NULL && s->hooks.check_started != NULL)
		s->hooks.check_started(s->hooks.arg, c);
}

static void
hook_stop(struct devreg_store *s, struct devreg_check *c)
{
	if (s->hooks.check_stopped != NULL)
		s->hooks.check_stopped(s->hooks.arg, c);
}

/* Interval and reaping timeout after the floors, with Consul's warnings. */
static void
apply_floors(struct devreg_store *s, struct devreg_check *c)
{
	int64_t iv, dr;
	char a[32], b[32];

	c->interval_ms = 0;
	c->deregister_after_ms = 0;
	if (c->def == NULL)
		return;
	iv = c->def->interval > 0 ? (c->def->interval + 999999) / DEVREG_NS_PER_MS : 0;
	if (iv > 0 && iv < s->cfg.interval_min_ms) {
		DEVREG_LOG(&s->log, DEVREG_LOG_WARN, "check has interval below minimum",
			   "check", c->id, "minimum_interval",
			   devreg_duration_format(s->cfg.interval_min_ms * DEVREG_NS_PER_MS,
						  a, sizeof(a)));
		iv = s->cfg.interval_min_ms;
	}
	dr = c->def->deregister_after > 0 ?
	     (c->def->deregister_after + 999999) / DEVREG_NS_PER_MS : 0;
	if (dr > 0 && dr < s->cfg.deregister_min_ms) {
		DEVREG_LOG(&s->log, DEVREG_LOG_WARN,
			   "check has deregister interval below minimum", "check", c->id,
			   "minimum_interval",
			   devreg_duration_format(s->cfg.deregister_min_ms * DEVREG_NS_PER_MS,
						  b, sizeof(b)));
		dr = s->cfg.deregister_min_ms;
	}
	c->interval_ms = iv;
	c->deregister_after_ms = dr;
}

/* Link a new check into the store (not yet into a service). */
static int
check_add(struct devreg_store *s, struct devreg_check *c)
{
	if (devreg_map_put(s->checks, c->id, c) < 0)
		return -ENOMEM;
	chk_list_link(s, c);
	c->create_index = devreg_store_txn_index(s);
	return 0;
}

static void
check_remove(struct devreg_store *s, struct devreg_check *c)
{
	hook_stop(s, c);
	touch_check(s, c);
	owner_unlink(s, c);
	chk_list_unlink(s, c);
	devreg_map_del(s->checks, c->id);
	check_free(c);
}

static int
replace_str(char **dst, const char *src)
{
	char *d = strdup(devreg_str(src));

	if (d == NULL)
		return -ENOMEM;
	free(*dst);
	*dst = d;
	return 0;
}

/* Create or redefine the check id (owned by svc, or a node check when svc
 * is NULL) from def, which is taken. An existing check keeps its status,
 * output and reaper clock, as Consul restores them from its snapshot.
 * force_touch gives the check a new index even when nothing in it changed
 * (its service's tags did). */
static int
upsert_check(struct devreg_store *s, const char *id, const char *name,
	     struct devreg_check_def *def, struct devreg_service *svc,
	     int force_touch)
{
	struct devreg_check *c = devreg_map_get(s->checks, id);
	enum devreg_status st = DEVREG_CRITICAL;

	if (c != NULL && c->service == svc && c->def != NULL &&
	    devreg_check_def_equal(c->def, def) && strcmp(c->name, name) == 0) {
		devreg_check_def_free(def);
		if (force_touch)
			touch_check(s, c);
		return 0;
	}
	if (c != NULL) {
		hook_stop(s, c);
		if (replace_str(&c->name, name) < 0 ||
		    replace_str(&c->notes, def->notes) < 0) {
			devreg_check_def_free(def);
			hook_start(s, c);
			return -ENOMEM;
		}
		if (c->service != svc) {
			touch_check(s, c);  /* the old owner's index moves too */
			owner_unlink(s, c);
			owner_link(s, svc, c);
		}
		devreg_check_def_free(c->def);
		c->def = def;
		c->type = devreg_check_def_type(def);
		apply_floors(s, c);
		touch_check(s, c);
		hook_start(s, c);
		DEVREG_LOG(&s->log, DEVREG_LOG_INFO, "check updated", "check", c->id,
			   "type", devreg_check_type_name(c->type));
		return 0;
	}
	c = check_alloc(id, name, def->notes);
	if (c == NULL) {
		devreg_check_def_free(def);
		return -ENOMEM;
	}
	if (!empty(def->status))
		devreg_status_parse(def->status, &st);
	c->status = st;
	c->def = def;
	c->type = devreg_check_def_type(def);
	if (check_add(s, c) < 0) {
		check_free(c);
		return -ENOMEM;
	}
	owner_link(s, svc, c);
	apply_floors(s, c);
	touch_check(s, c);
	hook_start(s, c);
	DEVREG_LOG(&s->log, DEVREG_LOG_INFO, "check registered", "check", c->id,
		   "type", devreg_check_type_name(c->type),
		   "status", devreg_status_name(c->status));
	return 0;
}

struct devreg_check *
devreg_store_check(const struct devreg_store *s, const char *id)
{
	return devreg_map_get(s->checks, id);
}

struct devreg_service *
devreg_store_service(const struct devreg_store *s, const char *id)
{
	return devreg_map_get(s->services, id);
}

/* --- services --- */

static void
service_remove(struct devreg_store *s, struct devreg_service *svc)
{
	uint64_t idx;

	while (svc->checks_head != NULL)
		check_remove(s, svc->checks_head);
	idx = devreg_store_txn_index(s);
	s->services_index = idx;
	group_unlink(s, svc, idx);
	svc_list_unlink(s, svc);
	devreg_map_del(s->services, svc->def->id);
	devreg_service_def_free(svc->def);
	free(svc);
}

/* The IDs and names Consul gives a registration's checks. */
static int
check_ids(const struct devreg_service_def *def, char ***ids, char ***names)
{
	size_t n = def->nchecks;
	char **vi = calloc(n + 1, sizeof(*vi)), **vn = calloc(n + 1, sizeof(*vn));

	*ids = vi;
	*names = vn;
	if (vi == NULL || vn == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct devreg_check_def *c = def->checks[i];
		int r;

		if (!empty(c->id))
			r = asprintf(&vi[i], "%s", c->id);
		else if (n == 1)
			r = asprintf(&vi[i], "service:%s", def->id);
		else
			r = asprintf(&vi[i], "service:%s:%zu", def->id, i + 1);
		if (r < 0) {
			vi[i] = NULL;
			return -ENOMEM;
		}
		if (!empty(c->name))
			r = asprintf(&vn[i], "%s", c->name);
		else
			r = asprintf(&vn[i], "Service '%s' check", def->name);
		if (r < 0) {
			vn[i] = NULL;
			return -ENOMEM;
		}
	}
	return 0;
}

static void
free_strv(char **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int
in_list(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

int
devreg_store_register_service(struct devreg_store *s,
			      struct devreg_service_def *def, int replace_checks)
{
	struct devreg_service *svc;
	char **ids = NULL, **names = NULL;
	size_t n = def->nchecks;
	int created = 0, changed = 0, rc = 0;
	uint64_t before;

	if (strcmp(def->id, DEVREG_CONSUL_SERVICE) == 0) {
		devreg_service_def_free(def);
		return -EEXIST;
	}
	if (check_ids(def, &ids, &names) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(ids[i], DEVREG_SERF_CHECK_ID) == 0) {
			rc = -EEXIST;
			goto out;
		}
	devreg_store_txn_begin(s);
	before = s->index;
	svc = devreg_map_get(s->services, def->id);
	if (svc == NULL) {
		struct devreg_svcgroup *g = group_get(s, def->name);

		svc = calloc(1, sizeof(*svc));
		if (g == NULL || svc == NULL ||
		    devreg_map_put(s->services, def->id, svc) < 0) {
			free(svc);
			if (g != NULL && g->count == 0) {
				devreg_map_del(s->groups, g->name);
				free(g->name);
				free(g);
			}
			devreg_store_txn_end(s);
			rc = -ENOMEM;
			goto out;
		}
		svc->def = def;
		svc->agent_local = 1;
		svc_list_link(s, svc);
		group_link(g, svc);
		svc->create_index = devreg_store_txn_index(s);
		created = 1;
	} else if (!devreg_service_def_equal(svc->def, def)) {
		if (strcmp(svc->def->name, def->name) != 0) {
			struct devreg_svcgroup *g = group_get(s, def->name);

			if (g == NULL) {
				devreg_store_txn_end(s);
				rc = -ENOMEM;
				goto out;
			}
			group_unlink(s, svc, devreg_store_txn_index(s));
			group_link(g, svc);
		}
		/* The map's key lives in the definition: swap it with care. */
		devreg_map_put(s->services, def->id, svc);
		devreg_service_def_free(svc->def);
		svc->def = def;
		changed = 1;
	}
	if (created || changed)
		touch_service(s, svc);
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct devreg_check_def *cd = def->checks[i];

		def->checks[i] = NULL;
		rc = upsert_check(s, ids[i], names[i], cd, svc, changed);
	}
	if (changed) {
		/* Every check record carries ServiceName and ServiceTags. */
		for (struct devreg_check *c = svc->checks_head; c != NULL; c = c->svc_next)
			touch_check(s, c);
	}
	if (replace_checks) {
		struct devreg_check *c = svc->checks_head, *next;

		for (; c != NULL; c = next) {
			next = c->svc_next;
			if (!in_list(ids, n, c->id))
				check_remove(s, c);
		}
	}
	if (svc->def != def) {
		/* An identical re-registration: the old definition stays. */
		for (size_t i = 0; i < n; i++)
			devreg_check_def_free(def->checks[i]);
		def->nchecks = 0;
		devreg_service_def_free(def);
	} else {
		for (size_t i = 0; i < n; i++)
			devreg_check_def_free(def->checks[i]);
		free(def->checks);
		def->checks = NULL;
		def->nchecks = 0;
	}
	def = NULL;
	if (s->index != before || created || changed)
		DEVREG_LOG(&s->log, DEVREG_LOG_INFO,
			   created ? "service registered" : "service updated",
			   "service", svc->def->id, "name", svc->def->name);
	else
		DEVREG_LOG(&s->log, DEVREG_LOG_DEBUG, "service unchanged",
			   "service", svc->def->id, "name", svc->def->name);
	devreg_store_txn_end(s);
out:
	free_strv(ids, n);
	free_strv(names, n);
	if (def != NULL)
		devreg_service_def_free(def);
	return rc;
}

int
devreg_store_deregister_service(struct devreg_store *s, const char *id)
{
	struct devreg_service *svc = devreg_map_get(s->services, id);
	char *copy;

	if (svc == NULL || !svc->agent_local)
		return -ENOENT;
	copy = strdup(id);
	devreg_store_txn_begin(s);
	service_remove(s, svc);
	DEVREG_LOG(&s->log, DEVREG_LOG_INFO, "service deregistered",
		   "service", copy != NULL ? copy : "");
	devreg_store_txn_end(s);
	free(copy);
	return 0;
}

int
devreg_store_register_check(struct devreg_store *s, struct devreg_check_def *def)
{
	struct devreg_service *svc = NULL;
	char *id = NULL, *name = NULL;
	int rc;

	if (!empty(def->service_id)) {
		svc = devreg_map_get(s->services, def->service_id);
		if (svc == NULL || !svc->agent_local) {
			devreg_check_def_free(def);
			return -ENOENT;
		}
	}
	id = strdup(!empty(def->id) ? def->id : devreg_str(def->name));
	name = strdup(devreg_str(def->name));
	if (id == NULL || name == NULL) {
		rc = -ENOMEM;
		devreg_check_def_free(def);
		goto out;
	}
	if (strcmp(id, DEVREG_SERF_CHECK_ID) == 0) {
		devreg_check_def_free(def);
		rc = -EEXIST;
		goto out;
	}
	devreg_store_txn_begin(s);
	rc = upsert_check(s, id, name, def, svc, 0);
	devreg_store_txn_end(s);
out:
	free(id);
	free(name);
	return rc;
}

int
devreg_store_deregister_check(struct devreg_store *s, const char *id)
{
	struct devreg_check *c = devreg_map_get(s->checks, id);
	char *copy;

	if (c == NULL || !c->agent_local)
		return -ENOENT;
	copy = strdup(id);
	devreg_store_txn_begin(s);
	check_remove(s, c);
	DEVREG_LOG(&s->log, DEVREG_LOG_INFO, "check deregistered",
		   "check", copy != NULL ? copy : "");
	devreg_store_txn_end(s);
	free(copy);
	return 0;
}

/* Consul's CheckTTL.SetStatus cut: "<first N bytes> ... (captured N of M
 * bytes)". */
static char *
cut_output(const char *out, int max)
{
	size_t total = strlen(out), limit = max > 0 ? (size_t)max : DEVREG_OUTPUT_MAX;
	char *r;

	if (total <= limit)
		return strdup(out);
	if (asprintf(&r, "%.*s ... (captured %zu of %zu bytes)", (int)limit, out,
		     limit, total) < 0)
		return NULL;
	return r;
}

int
devreg_store_check_update(struct devreg_store *s, struct devreg_check *c,
			  enum devreg_status status, const char *output)
{
	char *out = cut_output(devreg_str(output),
			       c->def != NULL ? c->def->output_max_size : 0);
	enum devreg_status from = c->status;

	if (out == NULL)
		return -ENOMEM;
	if (status == DEVREG_CRITICAL) {
		if (!c->critical_since_set) {
			c->critical_since_set = 1;
			c->critical_since_ms = devreg_store_now(s);
		}
	} else {
		c->critical_since_set = 0;
	}
	if (status == c->status) {
		/* Output only: visible at once, no index (Consul defers the
		 * catalog sync of output-only changes). */
		free(c->output);
		c->output = out;
		return 0;
	}
	devreg_store_txn_begin(s);
	free(c->output);
	c->output = out;
	c->status = status;
	touch_check(s, c);
	DEVREG_LOG(&s->log, DEVREG_LOG_INFO, "check status", "check", c->id,
		   "from", devreg_status_name(from), "to", devreg_status_name(status));
	devreg_store_txn_end(s);
	return 1;
}

static int
maintenance(struct devreg_store *s, struct devreg_service *svc, int enable,
	    const char *reason)
{
	char *id = NULL;
	struct devreg_check *c;
	int rc = 0;

	if (svc != NULL) {
		if (asprintf(&id, "%s%s", DEVREG_SERVICE_MAINT_PREFIX, svc->def->id) < 0)
			return -ENOMEM;
	} else {
		id = strdup(DEVREG_NODE_MAINT_ID);
		if (id == NULL)
			return -ENOMEM;
	}
	c = devreg_map_get(s->checks, id);
	devreg_store_txn_begin(s);
	if (enable && c == NULL) {
		c = check_alloc(id, svc != NULL ? "Service Maintenance Mode" :
						  "Node Maintenance Mode",
				!empty(reason) ? reason :
				svc != NULL ? SERVICE_MAINT_DEFAULT : NODE_MAINT_DEFAULT);
		if (c == NULL || check_add(s, c) < 0) {
			check_free(c);
			rc = -ENOMEM;
			goto out;
		}
		c->status = DEVREG_CRITICAL;
		c->type = DEVREG_CT_MAINTENANCE;
		owner_link(s, svc, c);
		touch_check(s, c);
		DEVREG_LOG(&s->log, DEVREG_LOG_INFO, "maintenance enabled",
			   "check", id, "reason", c->notes);
	} else if (!enable && c != NULL) {
		check_remove(s, c);
		DEVREG_LOG(&s->log, DEVREG_LOG_INFO, "maintenance disabled", "check", id);
	}
out:
	devreg_store_txn_end(s);
	free(id);
	return rc;
}

int
devreg_store_service_maintenance(struct devreg_store *s,
				 struct devreg_service *svc, int enable,
				 const char *reason)
{
	return maintenance(s, svc, enable, reason);
}

int
devreg_store_node_maintenance(struct devreg_store *s, int enable,
			      const char *reason)
{
	return maintenance(s, NULL, enable, reason);
}

int
devreg_check_reap_due(const struct devreg_check *c, int64_t now_ms)
{
	return c->service != NULL && c->critical_since_set &&
	       c->deregister_after_ms > 0 &&
	       now_ms - c->critical_since_ms > c->deregister_after_ms;
}

size_t
devreg_store_reap(struct devreg_store *s)
{
	int64_t now = devreg_store_now(s);
	char **ids = NULL;
	size_t n = 0, cap = 0, reaped = 0;

	for (struct devreg_check *c = s->chk_head; c != NULL; c = c->next) {
		if (!devreg_check_reap_due(c, now) || in_list(ids, n, c->service->def->id))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			char **v = realloc(ids, ncap * sizeof(*v));

			if (v == NULL)
				break;
			ids = v;
			cap = ncap;
		}
		ids[n] = strdup(c->service->def->id);
		if (ids[n] == NULL)
			break;
		DEVREG_LOG(&s->log, DEVREG_LOG_INFO,
			   "deregistering service with critical check",
			   "service", ids[n], "check", c->id);
		n++;
	}
	devreg_store_txn_begin(s);
	for (size_t i = 0; i < n; i++) {
		struct devreg_service *svc = devreg_map_get(s->services, ids[i]);

		if (svc != NULL) {
			service_remove(s, svc);
			DEVREG_LOG(&s->log, DEVREG_LOG_INFO, "service deregistered",
				   "service", ids[i], "reason", "critical too long");
			reaped++;
		}
	}
	devreg_store_txn_end(s);
	free_strv(ids, n);
	return reaped;
}

enum devreg_status
devreg_checks_aggregate(const struct devreg_check *const *v, size_t n, int *maint)
{
	enum devreg_status worst = DEVREG_PASSING;

	*maint = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i]->type == DEVREG_CT_MAINTENANCE)
			*maint = 1;
		if (v[i]->status == DEVREG_CRITICAL)
			worst = DEVREG_CRITICAL;
		else if (v[i]->status == DEVREG_WARNING && worst == DEVREG_PASSING)
			worst = DEVREG_WARNING;
	}
	return worst;
}

uint64_t
devreg_store_service_index(const struct devreg_store *s, const char *name)
{
	struct devreg_svcgroup *g = devreg_map_get(s->groups, name);
	uint64_t idx = g != NULL ? g->index : s->missing_service_index;

	if (idx == 0)
		idx = s->node.create_index;
	return idx > 0 ? idx : 1;
}

uint64_t
devreg_store_health_index(const struct devreg_store *s, const char *name)
{
	uint64_t idx = devreg_store_service_index(s, name);

	return idx > s->node_checks_index ? idx : s->node_checks_index;
}

/* --- life cycle --- */

static char *
new_uuid(void)
{
	unsigned char b[16];
	char *out;

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		uint64_t t = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)b;

		for (size_t i = 0; i < sizeof(b); i++) {
			t = t * 6364136223846793005ULL + 1442695040888963407ULL;
			b[i] = (unsigned char)(t >> 56);
		}
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	if (asprintf(&out,
		     "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		     b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		     b[10], b[11], b[12], b[13], b[14], b[15]) < 0)
		return NULL;
	return out;
}

/* The consul service a server node carries, and the node's serfHealth. */
static int
add_builtins(struct devreg_store *s)
{
	static const char *const meta[][2] = {
		{ "non_voter", "false" }, { "read_replica", "false" },
		{ "raft_version", "3" }, { "serf_protocol_current", "2" },
		{ "serf_protocol_min", "1" }, { "serf_protocol_max", "5" },
		{ "version", "1.17.0" }, { "grpc_port", "8502" },
	};
	struct devreg_service_def *def = calloc(1, sizeof(*def));
	struct devreg_service *svc = calloc(1, sizeof(*svc));
	struct devreg_svcgroup *g = NULL;
	struct devreg_check *serf;
	size_t nmeta = sizeof(meta) / sizeof(meta[0]);

	if (def == NULL || svc == NULL)
		goto fail;
	def->id = strdup(DEVREG_CONSUL_SERVICE);
	def->name = strdup(DEVREG_CONSUL_SERVICE);
	def->port = 8300;
	def->has_weights = 1;
	def->weight_passing = def->weight_warning = 1;
	def->meta = calloc(nmeta, sizeof(*def->meta));
	if (def->id == NULL || def->name == NULL || def->meta == NULL)
		goto fail;
	for (size_t i = 0; i < nmeta; i++) {
		def->meta[i].key = strdup(meta[i][0]);
		def->meta[i].value = strdup(meta[i][1]);
		def->nmeta++;
		if (def->meta[i].key == NULL || def->meta[i].value == NULL)
			goto fail;
	}
	g = group_get(s, def->name);
	if (g == NULL || devreg_map_put(s->services, def->id, svc) < 0)
		goto fail;
	svc->def = def;
	svc_list_link(s, svc);
	group_link(g, svc);
	svc->create_index = devreg_store_txn_index(s);
	touch_service(s, svc);

	serf = check_alloc(DEVREG_SERF_CHECK_ID, "Serf Health Status", "");
	if (serf == NULL || replace_str(&serf->output, "Agent alive and reachable") < 0 ||
	    check_add(s, serf) < 0) {
		check_free(serf);
		return -ENOMEM;
	}
	serf->status = DEVREG_PASSING;
	serf->agent_local = 0;
	owner_link(s, NULL, serf);
	touch_check(s, serf);
	return 0;
fail:
	free(svc);
	devreg_service_def_free(def);
	return -ENOMEM;
}

struct devreg_store *
devreg_store_new(const struct devreg_store_config *cfg, const struct devreg_log *log)
{
	struct devreg_store *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->cfg = *cfg;
	if (s->cfg.now_ms == NULL)
		s->cfg.now_ms = monotonic_ms;
	if (log != NULL)
		s->log = *log;
	s->index = cfg->first_index > 0 ? cfg->first_index : 10;
	s->node.name = strdup(cfg->node_name);
	s->node.address = strdup(cfg->node_address);
	s->node.datacenter = strdup(cfg->datacenter);
	s->node.id = cfg->node_id != NULL ? strdup(cfg->node_id) : new_uuid();
	s->services = devreg_map_new();
	s->checks = devreg_map_new();
	s->groups = devreg_map_new();
	if (s->node.name == NULL || s->node.address == NULL ||
	    s->node.datacenter == NULL || s->node.id == NULL ||
	    s->services == NULL || s->checks == NULL || s->groups == NULL)
		goto fail;
	s->cfg.node_name = s->node.name;
	s->cfg.node_address = s->node.address;
	s->cfg.datacenter = s->node.datacenter;
	s->cfg.node_id = s->node.id;
	devreg_store_txn_begin(s);
	s->node.create_index = s->node.modify_index = devreg_store_txn_index(s);
	if (add_builtins(s) < 0) {
		devreg_store_txn_end(s);
		goto fail;
	}
	devreg_store_txn_end(s);
	return s;
fail:
	devreg_store_free(s);
	return NULL;
}

void
devreg_store_set_hooks(struct devreg_store *s, const struct devreg_store_hooks *hooks)
{
	if (hooks != NULL)
		s->hooks = *hooks;
	else
		memset(&s->hooks, 0, sizeof(s->hooks));
}

void
devreg_store_free(struct devreg_store *s)
{
	if (s == NULL)
		return;
	while (s->chk_head != NULL) {
		struct devreg_check *c = s->chk_head;

		hook_stop(s, c);
		owner_unlink(s, c);
		chk_list_unlink(s, c);
		devreg_map_del(s->checks, c->id);
		check_free(c);
	}
	while (s->svc_head != NULL) {
		struct devreg_service *svc = s->svc_head;

		group_unlink(s, svc, 0);
		svc_list_unlink(s, svc);
		devreg_map_del(s->services, svc->def->id);
		devreg_service_def_free(svc->def);
		free(svc);
	}
	for (size_t i = 0; i < s->nkv; i++) {
		free(s->kv[i]->key);
		free(s->kv[i]->value);
		free(s->kv[i]);
	}
	free(s->kv);
	devreg_map_free(s->services);
	devreg_map_free(s->checks);
	devreg_map_free(s->groups);
	free(s->node.name);
	free(s->node.id);
	free(s->node.address);
	free(s->node.datacenter);
	free(s);
}
