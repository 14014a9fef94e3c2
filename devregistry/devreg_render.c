/*
 * devreg_render.c - Consul's record shapes. Field order follows the Go
 * structs, so a diff against a real agent's answer stays readable.
 */
#include "devregistry/devreg_render.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "devregistry/devreg_duration.h"
#include "devregistry/devreg_jsonout.h"

char *
devreg_base64(const unsigned char *p, size_t n)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc(4 * ((n + 2) / 3) + 1), *o = out;
	size_t i;

	if (out == NULL)
		return NULL;
	for (i = 0; i + 2 < n; i += 3) {
		*o++ = tab[p[i] >> 2];
		*o++ = tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		*o++ = tab[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		*o++ = tab[p[i + 2] & 63];
	}
	if (i < n) {
		*o++ = tab[p[i] >> 2];
		if (i + 1 < n) {
			*o++ = tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
			*o++ = tab[(p[i + 1] & 15) << 2];
		} else {
			*o++ = tab[(p[i] & 3) << 4];
			*o++ = '=';
		}
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static cJSON *
add_strv(cJSON *obj, const char *key, char *const *v, size_t n)
{
	cJSON *a = cJSON_AddArrayToObject(obj, key);

	for (size_t i = 0; a != NULL && i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(devreg_str(v[i])));
	return a;
}

static cJSON *
add_meta(cJSON *obj, const char *key, const struct devreg_service_def *d)
{
	cJSON *m = cJSON_AddObjectToObject(obj, key);

	for (size_t i = 0; m != NULL && i < d->nmeta; i++)
		devreg_json_add_str(m, devreg_str(d->meta[i].key), d->meta[i].value);
	return m;
}

/* Service tagged addresses {"lan_ipv4": {"Address", "Port"}}; left out
 * (omitempty) when there are none. */
static void
add_service_taddrs(cJSON *obj, const char *key, const struct devreg_service_def *d)
{
	cJSON *m;

	if (d->ntaddrs == 0)
		return;
	m = cJSON_AddObjectToObject(obj, key);
	for (size_t i = 0; m != NULL && i < d->ntaddrs; i++) {
		cJSON *a = cJSON_AddObjectToObject(m, devreg_str(d->taddrs[i].key));

		devreg_json_add_str(a, "Address", d->taddrs[i].address);
		devreg_json_add_int(a, "Port", d->taddrs[i].port);
	}
}

static void
add_weights(cJSON *obj, const char *key, const struct devreg_service_def *d)
{
	cJSON *w = cJSON_AddObjectToObject(obj, key);

	devreg_json_add_int(w, "Passing", d->has_weights ? d->weight_passing : 1);
	devreg_json_add_int(w, "Warning", d->has_weights ? d->weight_warning : 1);
}

/* A typical service's ConnectProxyConfig as Consul serialises it. */
static void
add_proxy(cJSON *obj, const char *key)
{
	cJSON *p = cJSON_AddObjectToObject(obj, key);

	devreg_json_add_str(p, "Mode", "");
	cJSON_AddObjectToObject(p, "MeshGateway");
	cJSON_AddObjectToObject(p, "Expose");
}

static void
add_node_taddrs(cJSON *obj, const char *key, const struct devreg_store *s)
{
	cJSON *m = cJSON_AddObjectToObject(obj, key);

	devreg_json_add_str(m, "lan", s->node.address);
	devreg_json_add_str(m, "lan_ipv4", s->node.address);
	devreg_json_add_str(m, "wan", s->node.address);
	devreg_json_add_str(m, "wan_ipv4", s->node.address);
}

static void
add_node_meta(cJSON *obj, const char *key)
{
	cJSON *m = cJSON_AddObjectToObject(obj, key);

	devreg_json_add_str(m, "consul-network-segment", "");
	devreg_json_add_str(m, "consul-version", DEVREG_CONSUL_VERSION);
}

cJSON *
devreg_render_node(const struct devreg_store *s)
{
	cJSON *n = cJSON_CreateObject();

	devreg_json_add_str(n, "ID", s->node.id);
	devreg_json_add_str(n, "Node", s->node.name);
	devreg_json_add_str(n, "Address", s->node.address);
	devreg_json_add_str(n, "Datacenter", s->node.datacenter);
	add_node_taddrs(n, "TaggedAddresses", s);
	add_node_meta(n, "Meta");
	devreg_json_add_u64(n, "CreateIndex", s->node.create_index);
	devreg_json_add_u64(n, "ModifyIndex", s->node.modify_index);
	return n;
}

static const char *
dur_or_empty(int64_t ns, char *buf, size_t len)
{
	if (ns <= 0)
		return "";
	return devreg_duration_format(ns, buf, len);
}

cJSON *
devreg_render_check(const struct devreg_store *s, const struct devreg_check *c)
{
	cJSON *o = cJSON_CreateObject();
	const struct devreg_service_def *sd = c->service != NULL ? c->service->def : NULL;
	char iv[32], to[32];

	devreg_json_add_str(o, "Node", s->node.name);
	devreg_json_add_str(o, "CheckID", c->id);
	devreg_json_add_str(o, "Name", c->name);
	devreg_json_add_str(o, "Status", devreg_status_name(c->status));
	devreg_json_add_str(o, "Notes", c->notes);
	devreg_json_add_str(o, "Output", c->output);
	devreg_json_add_str(o, "ServiceID", sd != NULL ? sd->id : "");
	devreg_json_add_str(o, "ServiceName", sd != NULL ? sd->name : "");
	if (sd != NULL)
		add_strv(o, "ServiceTags", sd->tags, sd->ntags);
	else
		cJSON_AddArrayToObject(o, "ServiceTags");
	devreg_json_add_str(o, "Type", devreg_check_type_name(c->type));
	devreg_json_add_str(o, "Interval",
			    dur_or_empty(c->def != NULL ? c->def->interval : 0, iv, sizeof(iv)));
	devreg_json_add_str(o, "Timeout",
			    dur_or_empty(c->def != NULL ? c->def->timeout : 0, to, sizeof(to)));
	devreg_json_add_int(o, "ExposedPort", 0);
	cJSON_AddObjectToObject(o, "Definition");
	devreg_json_add_u64(o, "CreateIndex", c->create_index);
	devreg_json_add_u64(o, "ModifyIndex", c->modify_index);
	return o;
}

cJSON *
devreg_render_agent_service(const struct devreg_store *s,
			    const struct devreg_service *svc)
{
	const struct devreg_service_def *d = svc->def;
	cJSON *o = cJSON_CreateObject();

	if (d->kind != NULL && *d->kind != '\0')
		devreg_json_add_str(o, "Kind", d->kind);
	devreg_json_add_str(o, "ID", d->id);
	devreg_json_add_str(o, "Service", d->name);
	add_strv(o, "Tags", d->tags, d->ntags);
	add_meta(o, "Meta", d);
	devreg_json_add_int(o, "Port", d->port);
	devreg_json_add_str(o, "Address", d->address);
	if (d->socket_path != NULL && *d->socket_path != '\0')
		devreg_json_add_str(o, "SocketPath", d->socket_path);
	add_service_taddrs(o, "TaggedAddresses", d);
	add_weights(o, "Weights", d);
	cJSON_AddBoolToObject(o, "EnableTagOverride", d->enable_tag_override);
	devreg_json_add_str(o, "Datacenter", s->node.datacenter);
	return o;
}

cJSON *
devreg_render_node_service(const struct devreg_store *s,
			   const struct devreg_service *svc)
{
	const struct devreg_service_def *d = svc->def;
	cJSON *o = cJSON_CreateObject();

	(void)s;
	if (d->kind != NULL && *d->kind != '\0')
		devreg_json_add_str(o, "Kind", d->kind);
	devreg_json_add_str(o, "ID", d->id);
	devreg_json_add_str(o, "Service", d->name);
	add_strv(o, "Tags", d->tags, d->ntags);
	devreg_json_add_str(o, "Address", d->address);
	add_service_taddrs(o, "TaggedAddresses", d);
	add_meta(o, "Meta", d);
	devreg_json_add_int(o, "Port", d->port);
	if (d->socket_path != NULL && *d->socket_path != '\0')
		devreg_json_add_str(o, "SocketPath", d->socket_path);
	add_weights(o, "Weights", d);
	cJSON_AddBoolToObject(o, "EnableTagOverride", d->enable_tag_override);
	add_proxy(o, "Proxy");
	cJSON_AddObjectToObject(o, "Connect");
	devreg_json_add_str(o, "PeerName", "");
	devreg_json_add_u64(o, "CreateIndex", svc->create_index);
	devreg_json_add_u64(o, "ModifyIndex", svc->modify_index);
	return o;
}

cJSON *
devreg_render_service_node(const struct devreg_store *s,
			   const struct devreg_service *svc)
{
	const struct devreg_service_def *d = svc->def;
	cJSON *o = cJSON_CreateObject();

	devreg_json_add_str(o, "ID", s->node.id);
	devreg_json_add_str(o, "Node", s->node.name);
	devreg_json_add_str(o, "Address", s->node.address);
	devreg_json_add_str(o, "Datacenter", s->node.datacenter);
	add_node_taddrs(o, "TaggedAddresses", s);
	add_node_meta(o, "NodeMeta");
	devreg_json_add_str(o, "ServiceKind", d->kind);
	devreg_json_add_str(o, "ServiceID", d->id);
	devreg_json_add_str(o, "ServiceName", d->name);
	add_strv(o, "ServiceTags", d->tags, d->ntags);
	devreg_json_add_str(o, "ServiceAddress", d->address);
	add_service_taddrs(o, "ServiceTaggedAddresses", d);
	add_weights(o, "ServiceWeights", d);
	add_meta(o, "ServiceMeta", d);
	devreg_json_add_int(o, "ServicePort", d->port);
	devreg_json_add_str(o, "ServiceSocketPath", d->socket_path);
	cJSON_AddBoolToObject(o, "ServiceEnableTagOverride", d->enable_tag_override);
	add_proxy(o, "ServiceProxy");
	cJSON_AddObjectToObject(o, "ServiceConnect");
	cJSON_AddNullToObject(o, "ServiceLocality");
	devreg_json_add_u64(o, "CreateIndex", svc->create_index);
	devreg_json_add_u64(o, "ModifyIndex", svc->modify_index);
	return o;
}

cJSON *
devreg_render_kv(const struct devreg_kv *e)
{
	cJSON *o = cJSON_CreateObject();

	devreg_json_add_u64(o, "LockIndex", e->lock_index);
	devreg_json_add_str(o, "Key", e->key);
	devreg_json_add_u64(o, "Flags", e->flags);
	if (e->has_value) {
		char *b = devreg_base64(e->value, e->len);

		if (b == NULL) {
			cJSON_Delete(o);
			return NULL;
		}
		devreg_json_add_str(o, "Value", b);
		free(b);
	} else {
		cJSON_AddNullToObject(o, "Value");
	}
	devreg_json_add_u64(o, "CreateIndex", e->create_index);
	devreg_json_add_u64(o, "ModifyIndex", e->modify_index);
	return o;
}

int
devreg_service_has_tags(const struct devreg_service *svc,
			const char *const *want, size_t nwant)
{
	for (size_t i = 0; i < nwant; i++) {
		int found = 0;

		for (size_t k = 0; k < svc->def->ntags && !found; k++)
			found = strcasecmp(devreg_str(svc->def->tags[k]), want[i]) == 0;
		if (!found)
			return 0;
	}
	return 1;
}
