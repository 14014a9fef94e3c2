/*
 * hc_probe.h - active health probes: an HTTP GET or a TCP connect to each
 * target, every interval, run on one event_base (the control thread's).
 *
 * This module only runs probes and reports each result; counting results
 * against rise and fall, and what the workers see, belong to hc_state.
 *
 * Scheduling: each target is probed on a fixed grid, every interval_ms,
 * at a phase taken from a hash of its identity (hc_prober_phase_ms), so a
 * thousand targets added at once are probed spread over the interval,
 * never together. The grid is anchored at the prober's creation, so a
 * target keeps its slot whatever set it arrives in. At most one probe per
 * target is in flight: a tick that finds the previous probe still running
 * (possible when timeout_ms >= interval_ms) is skipped, as HAProxy only
 * starts the next check once the previous one ended.
 *
 * An HTTP probe sends `GET path HTTP/1.1` with Host, User-Agent and
 * `Connection: close`; it passes on a 2xx or 3xx status line and fails on
 * anything else (1xx included). Only the status line is looked at: the
 * result is reported as soon as it is read, and the rest of the answer is
 * read and thrown away, at most 64 KiB of it within the timeout, so the
 * server closes first and keeps the TIME_WAIT. A TCP probe passes when
 * the connect succeeds. Probes that end on our side (TCP probes, failures,
 * an answer that does not end) close with a reset, as HAProxy's checks do,
 * so probing does not fill the ephemeral port range with TIME_WAIT.
 *
 * Addresses are numeric ("10.0.0.1:8080", "[fe80::1%eth0]:80"); a host
 * name is never looked up: its probes fail with "unresolved" (targets come
 * from Consul as addresses).
 *
 * Everything here runs on the base's thread only; no locks.
 */
#ifndef HC_PROBE_H
#define HC_PROBE_H

#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>

#define HC_PROBE_INTERVAL_MS 2000   /* HAProxy's inter */

struct hc_probe_opts {
	unsigned interval_ms;      /* 0: HC_PROBE_INTERVAL_MS */
	unsigned timeout_ms;       /* 0: interval_ms (HAProxy: inter doubles
				    * as the check timeout) */
	const char *user_agent;    /* NULL or "": "switchyard"; copied */
};

enum hc_probe_kind {
	HC_PROBE_HTTP = 1,
	HC_PROBE_TCP
};

/* One target to probe. Every string is copied by hc_prober_set. */
struct hc_probe_spec {
	uint64_t identity;         /* the target's stable identity */
	const char *addr;          /* "ip:port" or "[v6]:port" */
	enum hc_probe_kind kind;
	const char *path;          /* HTTP: "/health?full=1"; NULL or "": "/" */
	const char *host;          /* HTTP Host header; NULL or "": addr */
};

/*
 * One probe's result, called on the base's thread from inside the
 * prober's event callbacks, never from hc_prober_set or hc_prober_free.
 * ok: 1 pass, 0 fail. reason: "HTTP 200" and "connected" for passes;
 * "HTTP 503", "timeout", "connect refused", "unreachable", "closed" (the
 * server closed or reset the connection before a status line), "bad
 * response" (not an HTTP/1.x status line), "unresolved" (a host name),
 * "bad address", "bad path", "bad host", "bad kind", "out of memory", or
 * "connect: <strerror>" and "socket: <strerror>" for the rest. reason
 * lives until the callback returns. elapsed_ms: from the start of the
 * connect to the result.
 *
 * The callback may call hc_prober_set and hc_prober_free; a target removed
 * (or the prober freed) from inside it gets no further callback.
 */
typedef void (*hc_probe_fn)(uint64_t identity, int ok, const char *reason,
			    unsigned elapsed_ms, void *arg);

struct hc_prober;

/*
 * A prober with no targets on base; cb (not NULL) gets every result with
 * arg. Keeps base, cb and arg; copies o (NULL: defaults). NULL with errno
 * ENOMEM, or EINVAL when base or cb is NULL or the user agent holds a
 * control character.
 */
struct hc_prober *hc_prober_new(struct event_base *base,
				const struct hc_probe_opts *o, hc_probe_fn cb,
				void *arg);

/* Cancel every probe (no callback fires) and free p. NULL: no-op. Must
 * not be called while base is being freed. */
void hc_prober_free(struct hc_prober *p);

/*
 * Make specs[0..n) the whole set of probed targets. A target whose
 * identity, address, kind, path and Host stay the same keeps its schedule
 * and its probe in flight. A new or changed one starts on its slot of the
 * grid (the first probe within one interval); one no longer listed, or
 * changed, is cancelled at once and never reported again. When an
 * identity appears more than once, its first spec counts. An address,
 * path or Host that cannot be probed is not an error here: the target
 * stays in the set and each of its probes fails with the reason. specs
 * may be NULL when n is 0.
 *
 * Returns 0, or -ENOMEM with the previous set untouched.
 */
int hc_prober_set(struct hc_prober *p, const struct hc_probe_spec *specs,
		  size_t n);

/* How many targets p probes. */
size_t hc_prober_count(const struct hc_prober *p);

/* Where in each interval the target with this identity is probed:
 * [0, interval_ms), spread evenly over identities. interval_ms > 0. */
unsigned hc_prober_phase_ms(uint64_t identity, unsigned interval_ms);

#endif
