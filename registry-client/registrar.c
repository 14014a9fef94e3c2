/*
 * registrar.c - libregistrar's public API (include/registrar.h).
 *
 * A handle is STOPPED, RUNNING or STOPPING. registrar_start() moves it to
 * RUNNING and starts the thread (registrar_thread.c); registrar_stop()
 * moves it to STOPPING while it joins the thread, then deregisters and
 * leaves it STOPPED. Calls that need a running service answer
 * REGISTRAR_ESTATE in the other states. The agent conversations live in
 * registrar_sync.c, validation and copies in registrar_spec.c.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "registry-client/registrar-internal.h"

static int agent_ok(const struct registrar_agent *a)
{
	if (!a)
		return 1;
	return (!a->address || rgr_text_ok(a->address)) &&
	       (!a->token || rgr_text_ok(a->token)) &&
	       (!a->ca_file || rgr_text_ok(a->ca_file));
}

static const char *nonempty(const char *s)
{
	return s && s[0] ? s : NULL;
}

static void destroy(struct registrar *r)
{
	if (!r)
		return;
	if (r->wake_ready)
		pthread_cond_destroy(&r->wake);
	if (r->lock_ready)
		pthread_mutex_destroy(&r->lock);
	consul_client_free(r->client);
	rgr_spec_clear(&r->spec);
	free(r->agent_name);
	free(r->maintenance_reason);
	free(r);
}

struct registrar *registrar_new(const struct registrar_service *svc,
				const struct registrar_agent *agent, int *err)
{
	struct registrar *r = NULL;
	struct consul_config cfg;
	pthread_condattr_t attr;
	int rc = REGISTRAR_EINVAL;

	if (!svc || !agent_ok(agent))
		goto fail;
	rc = REGISTRAR_ENOMEM;
	r = calloc(1, sizeof(*r));
	if (!r)
		goto fail;
	rc = rgr_spec_init(&r->spec, svc);
	if (rc != REGISTRAR_OK)
		goto fail;

	memset(&cfg, 0, sizeof(cfg));
	if (agent) {
		cfg.address = nonempty(agent->address);
		cfg.token = nonempty(agent->token);
		cfg.ca_file = nonempty(agent->ca_file);
		r->log = agent->log;
		r->log_arg = agent->log_arg;
	}
	cfg.timeout_ms = RGR_REQUEST_TIMEOUT_MS;
	/* consul_client_new() fails on a malformed address (or no memory,
	 * which it does not tell apart); the address is the likely cause. */
	r->client = consul_client_new(&cfg);
	if (!r->client) {
		rc = REGISTRAR_EINVAL;
		goto fail;
	}
	rc = REGISTRAR_ENOMEM;
	r->agent_name = strdup(consul_client_base_url(r->client));
	if (!r->agent_name)
		goto fail;

	if (pthread_mutex_init(&r->lock, NULL) != 0)
		goto fail;
	r->lock_ready = 1;
	if (pthread_condattr_init(&attr) != 0)
		goto fail;
	if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&r->wake, &attr) != 0) {
		pthread_condattr_destroy(&attr);
		goto fail;
	}
	pthread_condattr_destroy(&attr);
	r->wake_ready = 1;
	if (err)
		*err = REGISTRAR_OK;
	return r;
fail:
	destroy(r);
	if (err)
		*err = rc;
	return NULL;
}

int registrar_start(struct registrar *r)
{
	int rc;

	if (!r)
		return REGISTRAR_EINVAL;
	rgr_lock(r);
	if (r->run != RGR_STOPPED) {
		rgr_unlock(r);
		return REGISTRAR_ESTATE;
	}
	r->registered = 0;
	r->ever_registered = 0;
	r->last_failure = 0;
	r->lost_why = NULL;
	rc = rgr_sync_register(r, "start");
	if (rc != REGISTRAR_OK && rc != REGISTRAR_EUNREACHABLE) {
		rgr_unlock(r);
		return rc;
	}
	r->run = RGR_RUNNING;
	/* The thread waits for the lock, which is held until we return. */
	if (pthread_create(&r->thread, NULL, rgr_thread_main, r) != 0) {
		r->run = RGR_STOPPED;
		if (r->registered)
			rgr_sync_deregister(r);
		rgr_unlock(r);
		return REGISTRAR_ETHREAD;
	}
	rgr_unlock(r);
	return rc;
}

int registrar_set_tags(struct registrar *r, const char *const *tags,
		       size_t ntags)
{
	char **copy = NULL, **unused;
	size_t nunused;
	int rc;

	if (!r)
		return REGISTRAR_EINVAL;
	rc = rgr_tags_copy(tags, ntags, &copy);
	if (rc != REGISTRAR_OK)
		return rc;
	rgr_lock(r);
	if (r->run != RGR_RUNNING) {
		rgr_unlock(r);
		rgr_strv_free(copy, ntags);
		return REGISTRAR_ESTATE;
	}
	unused = r->spec.tags;
	nunused = r->spec.ntags;
	r->spec.tags = copy;
	r->spec.ntags = ntags;
	rc = rgr_sync_register(r, "tags");
	if (rc == REGISTRAR_EREJECTED || rc == REGISTRAR_ENOMEM) {
		/* The agent kept the old definition; so do we. Unreachable
		 * is different: the thread sends the new tags later. */
		r->spec.tags = unused;
		r->spec.ntags = nunused;
		unused = copy;
		nunused = ntags;
	}
	rgr_unlock(r);
	rgr_strv_free(unused, nunused);
	return rc;
}

int registrar_set_maintenance(struct registrar *r, int enable,
			      const char *reason)
{
	char *copy = NULL, *old_reason;
	int old_enable, rc;

	if (!r || (reason && !rgr_text_ok(reason)))
		return REGISTRAR_EINVAL;
	enable = enable != 0;
	if (enable && reason && reason[0]) {
		copy = strdup(reason);
		if (!copy)
			return REGISTRAR_ENOMEM;
	}
	rgr_lock(r);
	if (r->run != RGR_RUNNING) {
		rgr_unlock(r);
		free(copy);
		return REGISTRAR_ESTATE;
	}
	old_enable = r->maintenance;
	old_reason = r->maintenance_reason;
	r->maintenance = enable;
	r->maintenance_reason = copy;
	if (r->registered) {
		rc = rgr_sync_maintenance(r);
		/* A 404 means the agent forgot the service: registering it
		 * again applies the maintenance state as well. */
		if (rc == REGISTRAR_EREJECTED && !r->registered)
			rc = rgr_sync_register(r, "forgotten");
	} else {
		rc = rgr_sync_register(r, r->lost_why);
	}
	if (rc == REGISTRAR_EREJECTED || rc == REGISTRAR_ENOMEM) {
		/* The agent kept the old state; so do we. Unreachable is
		 * different: the new state goes out with the next
		 * registration. */
		r->maintenance = old_enable;
		r->maintenance_reason = old_reason;
		old_reason = copy;
	} else if (rc == REGISTRAR_OK) {
		rgr_log(r, REGISTRAR_LOG_INFO, "event=maintenance id=%s enable=%s",
			r->spec.id, enable ? "true" : "false");
	}
	rgr_unlock(r);
	free(old_reason);
	return rc;
}

int registrar_stop(struct registrar *r)
{
	int rc;

	if (!r)
		return REGISTRAR_EINVAL;
	rgr_lock(r);
	if (r->run != RGR_RUNNING) {
		rgr_unlock(r);
		return REGISTRAR_ESTATE;
	}
	r->run = RGR_STOPPING;
	pthread_cond_signal(&r->wake);
	rgr_unlock(r);
	pthread_join(r->thread, NULL);

	rgr_lock(r);
	rc = rgr_sync_deregister(r);
	r->run = RGR_STOPPED;
	rgr_unlock(r);
	return rc;
}

const char *registrar_service_id(const struct registrar *r)
{
	return r ? r->spec.id : NULL;
}

void registrar_free(struct registrar *r)
{
	if (!r)
		return;
	if (r->run == RGR_RUNNING)
		registrar_stop(r);
	destroy(r);
}

const char *registrar_strerror(int err)
{
	switch (err) {
	case REGISTRAR_OK:
		return "success";
	case REGISTRAR_EINVAL:
		return "invalid argument";
	case REGISTRAR_ENOMEM:
		return "out of memory";
	case REGISTRAR_EUNREACHABLE:
		return "the Consul agent did not answer";
	case REGISTRAR_EREJECTED:
		return "the Consul agent refused the request";
	case REGISTRAR_ESTATE:
		return "not started, or already started";
	case REGISTRAR_ETHREAD:
		return "the background thread could not start";
	}
	return "unknown registrar error";
}
