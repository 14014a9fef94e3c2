/*
 * registrar_sync.c - the registrar's conversations with the agent, its
 * lock and its log queue.
 *
 * Every rgr_sync_* call runs with the handle's lock held, makes one or a
 * few synchronous requests through the handle's own consul_client, and
 * keeps the handle's picture of the agent current:
 *   - no answer (-EIO): the agent is down; the registration is presumed
 *     lost, so the next contact is a full registration;
 *   - a 404 for our service or its TTL check: the agent forgot the service
 *     (it restarted without state); register again at once;
 *   - any answer at all: the agent is up.
 * Up/down transitions and failures are logged once, not on every retry.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "registry-client/registrar-internal.h"

/* Failure keys for log-once: operation in the high bits, errno low. */
enum op {
	OP_REGISTER = 1,
	OP_HEARTBEAT,
	OP_PROBE,
	OP_MAINTENANCE,
	OP_DEREGISTER
};

int64_t rgr_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void rgr_lock(struct registrar *r)
{
	pthread_mutex_lock(&r->lock);
}

void rgr_unlock(struct registrar *r)
{
	struct rgr_log_line q[RGR_LOGQ_LINES];
	size_t n = r->nlogq;

	if (n)
		memcpy(q, r->logq, n * sizeof(q[0]));
	r->nlogq = 0;
	pthread_mutex_unlock(&r->lock);
	for (size_t i = 0; i < n; i++)
		r->log(q[i].level, q[i].text, r->log_arg);
}

void rgr_log(struct registrar *r, enum registrar_log_level level,
	     const char *fmt, ...)
{
	va_list ap;
	struct rgr_log_line *line;

	if (!r->log)
		return;
	/* A full queue keeps its first lines: they explain the rest. */
	if (r->nlogq == RGR_LOGQ_LINES)
		return;
	line = &r->logq[r->nlogq++];
	line->level = level;
	va_start(ap, fmt);
	vsnprintf(line->text, sizeof(line->text), fmt, ap);
	va_end(ap);
}

/* The client's last error made safe inside a double-quoted log value. */
static const char *error_text(struct registrar *r, char *buf, size_t size)
{
	const char *e = consul_api_last_error(r->client);
	size_t n = 0;

	if (!e)
		e = "";
	for (; *e && n + 1 < size; e++) {
		unsigned char c = (unsigned char)*e;

		buf[n++] = c == '"' ? '\'' : (c < 0x20 || c == 0x7f) ? ' ' : *e;
	}
	while (n > 0 && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
	return buf;
}

static int map_error(int rc)
{
	switch (rc) {
	case 0:
		return REGISTRAR_OK;
	case -EIO:
		return REGISTRAR_EUNREACHABLE;
	case -ENOMEM:
		return REGISTRAR_ENOMEM;
	default:
		return REGISTRAR_EREJECTED;
	}
}

static void agent_answered(struct registrar *r)
{
	if (r->agent == RGR_AGENT_DOWN)
		rgr_log(r, REGISTRAR_LOG_INFO, "event=agent-up agent=%s",
			r->agent_name);
	r->agent = RGR_AGENT_UP;
}

static void agent_unreachable(struct registrar *r)
{
	char err[200];

	if (r->agent != RGR_AGENT_DOWN)
		rgr_log(r, REGISTRAR_LOG_WARN,
			"event=agent-down agent=%s error=\"%s\"", r->agent_name,
			error_text(r, err, sizeof(err)));
	r->agent = RGR_AGENT_DOWN;
	if (r->registered)
		r->lost_why = "agent-back";
	r->registered = 0;
	r->next_retry_ms = rgr_now_ms() + RGR_RETRY_UNREACHABLE_MS;
}

/* Book-keeping common to every request: rc is the consul_api result. */
static void after_request(struct registrar *r, int rc)
{
	if (rc == -EIO)
		agent_unreachable(r);
	else if (rc != -ENOMEM)
		agent_answered(r);
}

static void failure(struct registrar *r, enum op op, int rc,
		    enum registrar_log_level level, const char *event)
{
	char err[200];
	int key = (int)op << 16 | (-rc & 0xffff);

	if (r->last_failure == key)
		return;
	r->last_failure = key;
	rgr_log(r, level, "event=%s id=%s error=\"%s\"", event, r->spec.id,
		error_text(r, err, sizeof(err)));
}

static void success(struct registrar *r, enum op op)
{
	if (r->last_failure >> 16 == (int)op)
		r->last_failure = 0;
}

/* The agent answered 404 for our service or check: it no longer has the
 * registration. Register again now, but not more than once per probe
 * period, so an agent that keeps answering 404 right after taking the
 * registration is not hammered. */
static void forgotten(struct registrar *r, const char *via)
{
	int64_t now = rgr_now_ms(), earliest;

	if (r->registered)
		rgr_log(r, REGISTRAR_LOG_WARN, "event=forgotten id=%s via=%s",
			r->spec.id, via);
	r->registered = 0;
	r->lost_why = "forgotten";
	earliest = r->last_register_ms + RGR_PROBE_EVERY_MS;
	r->next_retry_ms = now > earliest ? now : earliest;
}

static void tags_text(const struct registrar *r, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < r->spec.ntags && n + 1 < size; i++) {
		int w = snprintf(buf + n, size - n, "%s%s", i ? "," : "",
				 r->spec.tags[i]);

		if (w < 0)
			break;
		n += (size_t)w;
	}
}

static void log_registered(struct registrar *r, const char *why)
{
	char tags[200];

	tags_text(r, tags, sizeof(tags));
	if (why && strcmp(why, "tags") == 0)
		rgr_log(r, REGISTRAR_LOG_INFO, "event=retagged id=%s tags=%s",
			r->spec.id, tags);
	else if (r->ever_registered)
		rgr_log(r, REGISTRAR_LOG_INFO,
			"event=reregistered service=%s id=%s reason=%s",
			r->spec.name, r->spec.id, why ? why : "retry");
	else
		rgr_log(r, REGISTRAR_LOG_INFO,
			"event=registered service=%s id=%s port=%d tags=%s agent=%s",
			r->spec.name, r->spec.id, r->spec.port, tags,
			r->agent_name);
}

int rgr_sync_register(struct registrar *r, const char *why)
{
	struct consul_check_def chk[RGR_MAX_CHECKS];
	struct consul_registration reg;
	int rc, code;

	rgr_spec_registration(&r->spec, chk, &reg);
	/* Existing checks are kept: the maintenance check stays, and a check
	 * with an unchanged ID keeps its status (no flap on a retag). */
	rc = consul_agent_service_register(r->client, &reg, 0);
	after_request(r, rc);
	code = map_error(rc);
	if (code == REGISTRAR_EREJECTED || code == REGISTRAR_ENOMEM) {
		failure(r, OP_REGISTER, rc, REGISTRAR_LOG_ERROR,
			"register-failed");
		if (!r->registered)
			r->next_retry_ms = rgr_now_ms() + RGR_RETRY_REJECTED_MS;
	}
	if (code != REGISTRAR_OK)
		return code;

	success(r, OP_REGISTER);
	log_registered(r, why);
	r->registered = 1;
	r->ever_registered = 1;
	r->last_register_ms = rgr_now_ms();
	r->next_probe_ms = r->last_register_ms + RGR_PROBE_EVERY_MS;
	for (size_t i = 0; i < r->spec.nbeats; i++)
		r->next_heartbeat_ms[i] = r->last_register_ms;

	/* The state may come from an agent that kept an old maintenance
	 * check, or one that lost it: send the wanted state either way. */
	code = rgr_sync_maintenance(r);
	if (code == REGISTRAR_EUNREACHABLE)
		return code;
	/* Every TTL check passes at once, without waiting for a period. */
	for (size_t i = 0; i < r->spec.nbeats && r->registered; i++) {
		code = rgr_sync_heartbeat(r, i);
		if (code == REGISTRAR_EUNREACHABLE)
			return code;
	}
	return REGISTRAR_OK;
}

int rgr_sync_heartbeat(struct registrar *r, size_t beat)
{
	const struct rgr_beat *b = &r->spec.beats[beat];
	int rc = consul_agent_check_ttl(r->client, b->check_id,
					CONSUL_STATUS_PASSING, NULL);
	int64_t now;

	after_request(r, rc);
	if (rc == -EIO)
		return REGISTRAR_EUNREACHABLE;
	now = rgr_now_ms();
	if (rc == 0) {
		success(r, OP_HEARTBEAT);
		r->next_heartbeat_ms[beat] = now + b->period_ms;
		return REGISTRAR_OK;
	}
	if (rc == -ENOENT) {
		forgotten(r, "ttl");
		return REGISTRAR_EREJECTED;
	}
	failure(r, OP_HEARTBEAT, rc, REGISTRAR_LOG_WARN, "heartbeat-failed");
	r->next_heartbeat_ms[beat] = now + (b->period_ms < RGR_RETRY_REJECTED_MS ?
					    b->period_ms : RGR_RETRY_REJECTED_MS);
	return map_error(rc);
}

int rgr_sync_probe(struct registrar *r)
{
	int rc = consul_agent_service_exists(r->client, r->spec.id);

	after_request(r, rc);
	if (rc == -EIO)
		return REGISTRAR_EUNREACHABLE;
	r->next_probe_ms = rgr_now_ms() + RGR_PROBE_EVERY_MS;
	if (rc == 0) {
		success(r, OP_PROBE);
		return REGISTRAR_OK;
	}
	if (rc == -ENOENT) {
		forgotten(r, "probe");
		return REGISTRAR_EREJECTED;
	}
	failure(r, OP_PROBE, rc, REGISTRAR_LOG_WARN, "probe-failed");
	return map_error(rc);
}

int rgr_sync_maintenance(struct registrar *r)
{
	int rc = consul_agent_service_maintenance(r->client, r->spec.id,
						  r->maintenance,
						  r->maintenance_reason);

	after_request(r, rc);
	if (rc == 0) {
		success(r, OP_MAINTENANCE);
		return REGISTRAR_OK;
	}
	if (rc == -ENOENT) {
		forgotten(r, "maintenance");
		return REGISTRAR_EREJECTED;
	}
	if (rc != -EIO)
		failure(r, OP_MAINTENANCE, rc, REGISTRAR_LOG_WARN,
			"maintenance-failed");
	return map_error(rc);
}

int rgr_sync_deregister(struct registrar *r)
{
	int rc = consul_agent_service_deregister(r->client, r->spec.id);

	after_request(r, rc);
	r->registered = 0;
	if (rc == 0 || rc == -ENOENT) {
		rgr_log(r, REGISTRAR_LOG_INFO, "event=deregistered id=%s",
			r->spec.id);
		return REGISTRAR_OK;
	}
	failure(r, OP_DEREGISTER, rc,
		rc == -EIO ? REGISTRAR_LOG_WARN : REGISTRAR_LOG_ERROR,
		"deregister-failed");
	return map_error(rc);
}
