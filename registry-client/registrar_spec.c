/*
 * registrar_spec.c - validate a struct registrar_service and keep an owned
 * copy of it, and turn that copy into a consul_registration.
 *
 * Validation catches what the caller can get wrong locally (a missing
 * name, a port out of range, a check target of the wrong shape, control
 * characters that would corrupt a URL or a log line). What only the agent
 * can judge (meta key rules, ACLs) is left to it: registrar_start() then
 * reports REGISTRAR_EREJECTED.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "registry-client/registrar-internal.h"

int rgr_text_ok(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

static int copy_text(const char *s, char **out)
{
	*out = NULL;
	if (!s)
		return REGISTRAR_OK;
	if (!rgr_text_ok(s))
		return REGISTRAR_EINVAL;
	*out = strdup(s);
	return *out ? REGISTRAR_OK : REGISTRAR_ENOMEM;
}

void rgr_strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Copy n strings, each required (not NULL) and free of control
 * characters. With meta_keys, the strings are key/value pairs and an
 * empty key is refused. */
static int strv_copy(const char *const *v, size_t n, int meta_keys,
		     char ***out)
{
	char **copy = NULL;
	int rc = REGISTRAR_EINVAL;

	*out = NULL;
	if (n == 0)
		return REGISTRAR_OK;
	if (!v || n > SIZE_MAX / sizeof(*copy))
		return REGISTRAR_EINVAL;
	copy = calloc(n, sizeof(*copy));
	if (!copy)
		return REGISTRAR_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!v[i] || !rgr_text_ok(v[i]))
			goto fail;
		if (meta_keys && i % 2 == 0 && v[i][0] == '\0')
			goto fail;
		copy[i] = strdup(v[i]);
		if (!copy[i]) {
			rc = REGISTRAR_ENOMEM;
			goto fail;
		}
	}
	*out = copy;
	return REGISTRAR_OK;
fail:
	rgr_strv_free(copy, n);
	return rc;
}

int rgr_tags_copy(const char *const *tags, size_t n, char ***out)
{
	return strv_copy(tags, n, 0, out);
}

static int port_ok(const char *s, size_t len)
{
	unsigned long port = 0;

	if (len == 0 || len > 5)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		port = port * 10 + (unsigned long)(s[i] - '0');
	}
	return port >= 1 && port <= 65535;
}

/* host:port, with an IPv6 host in brackets; no spaces. */
static int tcp_target_ok(const char *t)
{
	const char *colon;
	size_t hostlen;

	if (!t || strchr(t, ' '))
		return 0;
	colon = strrchr(t, ':');
	if (!colon)
		return 0;
	hostlen = (size_t)(colon - t);
	if (hostlen == 0)
		return 0;
	if (t[0] == '[') {
		if (hostlen < 3 || t[hostlen - 1] != ']')
			return 0;
	} else if (memchr(t, ':', hostlen) || memchr(t, ']', hostlen)) {
		return 0;
	}
	return port_ok(colon + 1, strlen(colon + 1));
}

/* An http or https URL with a host; no spaces. */
static int http_target_ok(const char *t)
{
	size_t skip;

	if (!t || strchr(t, ' '))
		return 0;
	if (strncasecmp(t, "http://", 7) == 0)
		skip = 7;
	else if (strncasecmp(t, "https://", 8) == 0)
		skip = 8;
	else
		return 0;
	return t[skip] != '\0' && t[skip] != '/' && t[skip] != '?' &&
	       t[skip] != '#';
}

static int empty(const char *s)
{
	return !s || s[0] == '\0';
}

static int check_ok(const struct registrar_service *svc)
{
	switch (svc->check) {
	case REGISTRAR_CHECK_NONE:
		return empty(svc->check_target) &&
		       svc->deregister_after_ms == 0;
	case REGISTRAR_CHECK_HTTP:
		return http_target_ok(svc->check_target);
	case REGISTRAR_CHECK_TCP:
		return tcp_target_ok(svc->check_target);
	case REGISTRAR_CHECK_TTL:
		return empty(svc->check_target);
	}
	return 0;
}

/* The extra TTL check needs an ID, and heartbeats that come before its
 * TTL runs out. */
static int extra_ok(const struct registrar_ttl_check *x)
{
	unsigned ttl;

	if (!x)
		return 1;
	if (empty(x->id))
		return 0;
	ttl = x->ttl_ms ? x->ttl_ms : RGR_DEFAULT_TTL_MS;
	return x->heartbeat_ms < ttl;
}

static int64_t beat_period(unsigned heartbeat_ms, unsigned ttl_ms)
{
	int64_t p = heartbeat_ms ? heartbeat_ms : ttl_ms / 3;

	return p < RGR_HEARTBEAT_MIN_MS ? RGR_HEARTBEAT_MIN_MS : p;
}

/* "service:<id>", with ":2" when the check is the second of two: the ID
 * the agent would give it, made explicit so heartbeats can name it. */
static char *main_check_id(const char *id, int second)
{
	size_t len = strlen("service:") + strlen(id) + (second ? 2 : 0) + 1;
	char *out = malloc(len);

	if (out)
		snprintf(out, len, "service:%s%s", id, second ? ":2" : "");
	return out;
}

/* Consul refuses the unspecified addresses as a service address. */
static int address_ok(const char *a)
{
	return strcmp(a, "0.0.0.0") != 0 && strcmp(a, "::") != 0 &&
	       strcmp(a, "[::]") != 0;
}

int rgr_spec_init(struct rgr_spec *s, const struct registrar_service *svc)
{
	int rc = REGISTRAR_EINVAL;
	const char *id;

	memset(s, 0, sizeof(*s));
	if (!svc || empty(svc->name))
		goto fail;
	if (svc->id && svc->id[0] == '\0')
		goto fail;
	if (svc->port < 0 || svc->port > 65535)
		goto fail;
	if (svc->weight_passing < 0 || svc->weight_passing > 65535 ||
	    svc->weight_warning < 0 || svc->weight_warning > 65535)
		goto fail;
	if (svc->nmeta > SIZE_MAX / 4)
		goto fail;
	if (!check_ok(svc) || !extra_ok(svc->extra_ttl_check))
		goto fail;
	if (svc->address && svc->address[0] && !address_ok(svc->address))
		goto fail;

	id = svc->id ? svc->id : svc->name;
	if ((rc = copy_text(svc->name, &s->name)) != REGISTRAR_OK ||
	    (rc = copy_text(id, &s->id)) != REGISTRAR_OK ||
	    (rc = copy_text(svc->address && svc->address[0] ?
			    svc->address : NULL, &s->address)) != REGISTRAR_OK ||
	    (rc = strv_copy(svc->tags, svc->ntags, 0, &s->tags)) != REGISTRAR_OK)
		goto fail;
	s->ntags = svc->ntags;
	if ((rc = strv_copy(svc->meta, 2 * svc->nmeta, 1, &s->meta)) !=
	    REGISTRAR_OK)
		goto fail;
	s->nmeta = svc->nmeta;
	if (svc->check == REGISTRAR_CHECK_HTTP ||
	    svc->check == REGISTRAR_CHECK_TCP) {
		if ((rc = copy_text(svc->check_target, &s->check_target)) !=
		    REGISTRAR_OK)
			goto fail;
	}
	if (svc->extra_ttl_check &&
	    (rc = copy_text(svc->extra_ttl_check->id, &s->extra_id)) !=
	    REGISTRAR_OK)
		goto fail;
	if (svc->check != REGISTRAR_CHECK_NONE) {
		s->check_id = main_check_id(s->id, s->extra_id != NULL);
		if (!s->check_id) {
			rc = REGISTRAR_ENOMEM;
			goto fail;
		}
		/* Two checks with one ID would be one check to the agent. */
		rc = REGISTRAR_EINVAL;
		if (s->extra_id && strcmp(s->extra_id, s->check_id) == 0)
			goto fail;
	}
	s->port = svc->port;
	s->weight_passing = svc->weight_passing;
	s->weight_warning = svc->weight_warning;
	s->check = svc->check;
	s->interval_ms = svc->check_interval_ms ? svc->check_interval_ms :
			 RGR_DEFAULT_INTERVAL_MS;
	s->timeout_ms = svc->check_timeout_ms;
	s->ttl_ms = svc->check_ttl_ms ? svc->check_ttl_ms : RGR_DEFAULT_TTL_MS;
	s->deregister_after_ms = svc->deregister_after_ms;
	if (s->extra_id) {
		const struct registrar_ttl_check *x = svc->extra_ttl_check;

		s->extra_ttl_ms = x->ttl_ms ? x->ttl_ms : RGR_DEFAULT_TTL_MS;
		s->extra_deregister_after_ms = x->deregister_after_ms;
		s->beats[s->nbeats].check_id = s->extra_id;
		s->beats[s->nbeats++].period_ms =
			beat_period(x->heartbeat_ms, s->extra_ttl_ms);
	}
	if (s->check == REGISTRAR_CHECK_TTL) {
		s->beats[s->nbeats].check_id = s->check_id;
		s->beats[s->nbeats++].period_ms = beat_period(0, s->ttl_ms);
	}
	return REGISTRAR_OK;
fail:
	rgr_spec_clear(s);
	return rc;
}

void rgr_spec_clear(struct rgr_spec *s)
{
	if (!s)
		return;
	free(s->name);
	free(s->id);
	free(s->address);
	rgr_strv_free(s->tags, s->ntags);
	rgr_strv_free(s->meta, 2 * s->nmeta);
	free(s->check_target);
	free(s->check_id);
	free(s->extra_id);
	memset(s, 0, sizeof(*s));
}

void rgr_spec_registration(const struct rgr_spec *s,
			   struct consul_check_def chk[RGR_MAX_CHECKS],
			   struct consul_registration *reg)
{
	size_t n = 0;

	memset(chk, 0, RGR_MAX_CHECKS * sizeof(*chk));
	memset(reg, 0, sizeof(*reg));
	reg->id = s->id;
	reg->name = s->name;
	reg->address = s->address;
	reg->port = s->port;
	reg->tags = (const char *const *)s->tags;
	reg->ntags = s->ntags;
	reg->meta = (const char *const *)s->meta;
	reg->nmeta = s->nmeta;
	if (s->weight_passing || s->weight_warning) {
		/* Consul wants Passing > 0 once Weights is sent at all. */
		reg->weight_passing = s->weight_passing ? s->weight_passing : 1;
		reg->weight_warning = s->weight_warning;
	}
	/* The extra check goes first, as in fabio's registration, so the
	 * main check is the second and its ID is service:<id>:2. */
	if (s->extra_id) {
		chk[n].kind = CONSUL_CHECK_TTL;
		chk[n].id = s->extra_id;
		chk[n].ttl_ms = s->extra_ttl_ms;
		chk[n].deregister_after_ms = s->extra_deregister_after_ms;
		n++;
	}
	if (s->check != REGISTRAR_CHECK_NONE) {
		struct consul_check_def *c = &chk[n++];

		c->id = s->check_id;
		c->deregister_after_ms = s->deregister_after_ms;
		switch (s->check) {
		case REGISTRAR_CHECK_HTTP:
			c->kind = CONSUL_CHECK_HTTP;
			break;
		case REGISTRAR_CHECK_TCP:
			c->kind = CONSUL_CHECK_TCP;
			break;
		default:
			c->kind = CONSUL_CHECK_TTL;
			c->ttl_ms = s->ttl_ms;
			break;
		}
		if (c->kind != CONSUL_CHECK_TTL) {
			c->target = s->check_target;
			c->interval_ms = s->interval_ms;
			c->timeout_ms = s->timeout_ms;
		}
	}
	reg->checks = n ? chk : NULL;
	reg->nchecks = n;
}
