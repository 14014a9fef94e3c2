/*
 * devreg_api_catalog.c - /v1/catalog/..., /v1/health/... and /v1/status/...:
 * the blocking reads a load balancer watches.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "devregistry/devreg_api.h"
#include "devregistry/devreg_jsonout.h"
#include "devregistry/devreg_map.h"
#include "devregistry/devreg_render.h"

#define MAX_TAGS 64

/* Handlers whose path ends in a name (a service, a check state) answer
 * 400 "Missing <what>" without one. Returns whether it replied. */
static int
missing(struct devreg_req *r, const char *what)
{
	if (*r->rest != '\0')
		return 0;
	devreg_reply_text(r, 400, "Missing %s", what);
	return 1;
}

/* 200 with a blocking read's body and the index it was read at. */
static int
reply_at_index(struct devreg_req *r, uint64_t idx, cJSON *body)
{
	devreg_set_index_headers(r, idx);
	devreg_reply_json(r, 200, body);
	return DEVREG_DONE;
}

/* The first instance registered under name, NULL when there is none. */
static const struct devreg_service *
first_instance(const struct devreg_store *s, const char *name)
{
	const struct devreg_svcgroup *g = devreg_store_group(s, name);

	return g != NULL ? g->head : NULL;
}

static int
cmp_group_name(const void *a, const void *b)
{
	const struct devreg_service *const *x = a, *const *y = b;

	return strcmp((*x)->def->name, (*y)->def->name);
}

/* The de-duplicated union of a name's tags, in first-seen order. A set
 * keeps it linear: a service may carry tens of thousands of tags. */
static cJSON *
group_tags(const struct devreg_svcgroup *g)
{
	struct devreg_map *seen = devreg_map_new();
	cJSON *a = cJSON_CreateArray();

	for (const struct devreg_service *svc = g->head;
	     a != NULL && seen != NULL && svc != NULL; svc = svc->grp_next) {
		for (size_t i = 0; i < svc->def->ntags; i++) {
			const char *t = devreg_str(svc->def->tags[i]);

			if (devreg_map_get(seen, t) != NULL)
				continue;
			if (devreg_map_put(seen, t, (void *)t) < 0) {
				cJSON_Delete(a);
				a = NULL;
				break;
			}
			cJSON_AddItemToArray(a, cJSON_CreateString(t));
		}
	}
	if (seen == NULL) {
		cJSON_Delete(a);
		a = NULL;
	}
	devreg_map_free(seen);
	return a;
}

int
devreg_api_catalog_services(struct devreg_req *r)
{
	const struct devreg_store *s = r->d->store;
	const struct devreg_service **heads;
	uint64_t idx = s->services_index;
	size_t n = 0;
	cJSON *o;

	if (devreg_block_on_index(r, idx))
		return DEVREG_PARK;
	heads = calloc(s->nservices + 1, sizeof(*heads));
	o = cJSON_CreateObject();
	if (heads == NULL || o == NULL) {
		free(heads);
		cJSON_Delete(o);
		devreg_reply_text(r, 500, "out of memory");
		return DEVREG_DONE;
	}
	/* One entry per name: take each group at its first instance. */
	for (const struct devreg_service *svc = s->svc_head; svc != NULL; svc = svc->next)
		if (svc->group->head == svc)
			heads[n++] = svc;
	qsort(heads, n, sizeof(*heads), cmp_group_name);
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToObject(o, heads[i]->def->name, group_tags(heads[i]->group));
	free(heads);
	return reply_at_index(r, idx, o);
}

/* ?tag= values; replies with 400 when there are too many to hold. */
static size_t
tag_filter(struct devreg_req *r, const char **tags)
{
	return devreg_query_all(r, "tag", tags, MAX_TAGS);
}

int
devreg_api_catalog_service(struct devreg_req *r)
{
	const struct devreg_store *s = r->d->store;
	const char *tags[MAX_TAGS];
	size_t ntags;
	uint64_t idx;
	cJSON *a;

	if (missing(r, "service name"))
		return DEVREG_DONE;
	idx = devreg_store_service_index(s, r->rest);
	if (devreg_block_on_index(r, idx))
		return DEVREG_PARK;
	ntags = tag_filter(r, tags);
	a = cJSON_CreateArray();
	for (const struct devreg_service *svc = first_instance(s, r->rest);
	     a != NULL && svc != NULL; svc = svc->grp_next)
		if (devreg_service_has_tags(svc, tags, ntags))
			cJSON_AddItemToArray(a, devreg_render_service_node(s, svc));
	return reply_at_index(r, idx, a);
}

int
devreg_api_catalog_nodes(struct devreg_req *r)
{
	const struct devreg_store *s = r->d->store;
	uint64_t idx = s->node.modify_index;
	cJSON *a;

	if (devreg_block_on_index(r, idx))
		return DEVREG_PARK;
	a = cJSON_CreateArray();
	if (a != NULL)
		cJSON_AddItemToArray(a, devreg_render_node(s));
	return reply_at_index(r, idx, a);
}

int
devreg_api_catalog_datacenters(struct devreg_req *r)
{
	cJSON *a = cJSON_CreateArray();

	if (a != NULL)
		cJSON_AddItemToArray(a, cJSON_CreateString(r->d->store->node.datacenter));
	devreg_reply_json(r, 200, a);
	return DEVREG_DONE;
}

/* The node-level checks (serfHealth, _node_maintenance, checks without a
 * service), gathered once per request. */
static size_t
node_checks(const struct devreg_store *s, const struct devreg_check ***out)
{
	const struct devreg_check **v = calloc(s->nnode_checks + 1, sizeof(*v));
	size_t n = 0;

	*out = v;
	if (v == NULL)
		return 0;
	for (const struct devreg_check *c = s->node_checks_head; c != NULL; c = c->svc_next)
		v[n++] = c;
	return n;
}

int
devreg_api_health_service(struct devreg_req *r)
{
	const struct devreg_store *s = r->d->store;
	const struct devreg_check **nodev = NULL;
	const char *tags[MAX_TAGS], *pv;
	size_t ntags, nnode;
	int passing = 0, node_ok = 1;
	uint64_t idx;
	cJSON *a;

	if (missing(r, "service name"))
		return DEVREG_DONE;
	pv = devreg_query(r, "passing");
	if (pv != NULL && *pv != '\0' && devreg_parse_bool(pv, &passing) < 0) {
		devreg_reply_text(r, 400, "Invalid value for ?passing");
		return DEVREG_DONE;
	}
	if (pv != NULL && *pv == '\0')
		passing = 1;
	idx = devreg_store_health_index(s, r->rest);
	if (devreg_block_on_index(r, idx))
		return DEVREG_PARK;
	ntags = tag_filter(r, tags);
	nnode = node_checks(s, &nodev);
	a = cJSON_CreateArray();
	if (a == NULL || nodev == NULL) {
		free(nodev);
		cJSON_Delete(a);
		devreg_reply_text(r, 500, "out of memory");
		return DEVREG_DONE;
	}
	for (size_t i = 0; i < nnode; i++)
		if (nodev[i]->status != DEVREG_PASSING)
			node_ok = 0;
	for (const struct devreg_service *svc = first_instance(s, r->rest); svc != NULL;
	     svc = svc->grp_next) {
		cJSON *e, *checks;
		int ok = node_ok;

		if (!devreg_service_has_tags(svc, tags, ntags))
			continue;
		for (const struct devreg_check *c = svc->checks_head; c != NULL; c = c->svc_next)
			if (c->status != DEVREG_PASSING)
				ok = 0;
		if (passing && !ok)
			continue;
		e = cJSON_CreateObject();
		if (e == NULL)
			break;
		cJSON_AddItemToObject(e, "Node", devreg_render_node(s));
		cJSON_AddItemToObject(e, "Service", devreg_render_node_service(s, svc));
		checks = cJSON_AddArrayToObject(e, "Checks");
		for (size_t i = 0; checks != NULL && i < nnode; i++)
			cJSON_AddItemToArray(checks, devreg_render_check(s, nodev[i]));
		for (const struct devreg_check *c = svc->checks_head; checks != NULL && c != NULL;
		     c = c->svc_next)
			cJSON_AddItemToArray(checks, devreg_render_check(s, c));
		cJSON_AddItemToArray(a, e);
	}
	free(nodev);
	return reply_at_index(r, idx, a);
}

int
devreg_api_health_state(struct devreg_req *r)
{
	const struct devreg_store *s = r->d->store;
	uint64_t idx = s->checks_index;
	int any;
	cJSON *a;

	if (missing(r, "check state"))
		return DEVREG_DONE;
	if (devreg_block_on_index(r, idx))
		return DEVREG_PARK;
	any = strcmp(r->rest, "any") == 0;
	a = cJSON_CreateArray();
	for (const struct devreg_check *c = s->chk_head; a != NULL && c != NULL; c = c->next)
		if (any || strcmp(r->rest, devreg_status_name(c->status)) == 0)
			cJSON_AddItemToArray(a, devreg_render_check(s, c));
	return reply_at_index(r, idx, a);
}

int
devreg_api_health_checks(struct devreg_req *r)
{
	const struct devreg_store *s = r->d->store;
	uint64_t idx;
	cJSON *a;

	if (missing(r, "service name"))
		return DEVREG_DONE;
	idx = devreg_store_service_index(s, r->rest);
	if (devreg_block_on_index(r, idx))
		return DEVREG_PARK;
	a = cJSON_CreateArray();
	for (const struct devreg_service *svc = first_instance(s, r->rest);
	     a != NULL && svc != NULL; svc = svc->grp_next)
		for (const struct devreg_check *c = svc->checks_head; c != NULL; c = c->svc_next)
			cJSON_AddItemToArray(a, devreg_render_check(s, c));
	return reply_at_index(r, idx, a);
}

int
devreg_api_status_leader(struct devreg_req *r)
{
	devreg_reply_json(r, 200, cJSON_CreateString(r->d->self_addr));
	return DEVREG_DONE;
}

int
devreg_api_status_peers(struct devreg_req *r)
{
	cJSON *a = cJSON_CreateArray();

	if (a != NULL)
		cJSON_AddItemToArray(a, cJSON_CreateString(r->d->self_addr));
	devreg_reply_json(r, 200, a);
	return DEVREG_DONE;
}
