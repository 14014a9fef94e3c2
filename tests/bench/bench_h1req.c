/*
 * bench_h1req.c - what the strict validation of a client's request costs
 * per request, in nanoseconds: finding the end of the head
 * (lb_h1_req_head_end with the default limits, 8 KiB request line and
 * 64 KiB head), parsing it (lb_h1_parse_request) and, for a chunked body,
 * decoding its framing with the strict decoder (lb_h1_chunked_decode,
 * .strict = 1). Three requests:
 *
 *   wrk      the request scripts/bench's wrk sends ("GET / HTTP/1.1" and
 *            one Host field; -host gives that Host, as wrk sends it)
 *   browser  a browser's page load: 15 fields, 736 bytes
 *   chunked  a POST of a 323-byte JSON body in 3 chunks and the last one
 *
 *   bench_h1req [-host HOST] [-samples N] [-value CASE]
 *
 * The parser writes NULs into the head, so every call gets a fresh copy
 * of it; the copy alone is timed too, in the same sample, and subtracted.
 * For the chunked body the copy includes adding the body to an evbuffer
 * and moving it on unframed (what a body of known length costs), so the
 * figure left is the framing alone. A sample is the average over a batch
 * of BATCH calls (so the clock's own cost is spread); the validation
 * figure is the median over samples of (validated - copy) and the best
 * one's (best validated - best copy: what it costs when the core is
 * free). -value CASE measures only that case and prints its median
 * validation nanoseconds alone, for scripts/bench.
 *
 * Never fails on a slow machine; exits 1 only when a request is not
 * accepted (the benchmark would then measure an error path).
 */
#include <errno.h>
#include <event2/buffer.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lb/lb_h1req.h"
#include "lb/lb_http1.h"
#include "tests/bench/bench_stats.h"

#define MAX_LINE 8192    /* proxy.maxrequestline's default */
#define MAX_HEAD 65536   /* proxy.maxheaderbytes's default */
#define BATCH 1000       /* calls per timed sample */
#define SAMPLES 301      /* default timed samples per case */
#define HEAD_CAP 4096

/* Called through a volatile pointer so that the compiler can neither
 * drop a copy nobody reads nor fold it into the parser's loads. */
static void *(*volatile copy_bytes)(void *, const void *, size_t) = memcpy;
static volatile uintptr_t sink;

struct request {
	const char *name;
	char head[HEAD_CAP];
	size_t head_len;
	const char *body;        /* chunked framing; NULL: no body */
	size_t body_len;
	size_t decoded_len;      /* what the body decodes to */
};

struct figures {
	struct timing whole, copy, net;
};

/* What every call works in: the head's copy, the parsed request and the
 * body's buffers, reused so that no call allocates. */
struct scratch {
	char buf[HEAD_CAP];
	struct lb_h1_req req;
	struct evbuffer *in, *out;
};

static void
set_head(struct request *r, const char *text)
{
	r->head_len = strlen(text);
	memcpy(r->head, text, r->head_len);
}

static void
make_requests(struct request *rq, const char *host)
{
	/* a JSON document sent in three pieces, as a client streaming it
	 * would: the framing is built around them below */
	static const char *const pieces[3] = {
		"{\"items\":[{\"id\":1,\"n\":\"a\"}",
		",{\"id\":2,\"name\":\"second item\",\"tags\":[\"x\",\"y\"],"
		"\"price\":19.5}",
		",{\"id\":3,\"name\":\"third item, with a longer description "
		"that fills most of the chunk\",\"tags\":[\"a\",\"b\",\"c\","
		"\"d\"],\"dimensions\":{\"w\":120,\"h\":80,\"d\":40},"
		"\"stock\":[{\"site\":\"fra\",\"n\":12},{\"site\":\"ams\","
		"\"n\":3},{\"site\":\"dub\",\"n\":0}],\"price\":249.0}]}"
	};
	static char body[1024];
	size_t i, len = 0;
	char wrk[256];

	/* wrk 4.1 with a URL and no script: the request line and Host */
	snprintf(wrk, sizeof(wrk), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", host);
	rq[0].name = "wrk";
	set_head(&rq[0], wrk);

	rq[1].name = "browser";
	set_head(&rq[1],
		"GET /app/dashboard?tab=overview&range=7d HTTP/1.1\r\n"
		"Host: www.example.com\r\n"
		"Connection: keep-alive\r\n"
		"Sec-Ch-Ua: \"Not_A Brand\";v=\"8\", \"Chromium\";v=\"120\"\r\n"
		"Sec-Ch-Ua-Mobile: ?0\r\n"
		"Sec-Ch-Ua-Platform: \"Linux\"\r\n"
		"Upgrade-Insecure-Requests: 1\r\n"
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
		"(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n"
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,"
		"image/avif,image/webp,*/*;q=0.8\r\n"
		"Sec-Fetch-Site: same-origin\r\n"
		"Sec-Fetch-Mode: navigate\r\n"
		"Sec-Fetch-Dest: document\r\n"
		"Referer: https://www.example.com/app/\r\n"
		"Accept-Encoding: gzip, deflate, br\r\n"
		"Accept-Language: en-US,en;q=0.9,de;q=0.8\r\n"
		"Cookie: session=7f3a9c2e41b84d0e9a5f6c1d2b3e4f50; theme=dark; "
		"_ga=GA1.2.1234567890.1700000000\r\n"
		"\r\n");

	rq[2].name = "chunked";
	set_head(&rq[2],
		"POST /api/orders HTTP/1.1\r\n"
		"Host: api.example.com\r\n"
		"User-Agent: curl/8.5.0\r\n"
		"Accept: */*\r\n"
		"Content-Type: application/json\r\n"
		"Transfer-Encoding: chunked\r\n"
		"\r\n");
	for (i = 0; i < 3; i++) {
		len += (size_t)snprintf(body + len, sizeof(body) - len,
					"%zx\r\n%s\r\n", strlen(pieces[i]),
					pieces[i]);
		rq[2].decoded_len += strlen(pieces[i]);
	}
	len += (size_t)snprintf(body + len, sizeof(body) - len, "0\r\n\r\n");
	rq[2].body = body;
	rq[2].body_len = len;
}

/* Copy the head and, for a body, add it to in and move it on as it is:
 * the work that does not depend on validation. */
static void
copy_request(const struct request *r, struct scratch *s)
{
	copy_bytes(s->buf, r->head, r->head_len);
	if (r->body != NULL) {
		evbuffer_add(s->in, r->body, r->body_len);
		evbuffer_remove_buffer(s->in, s->out, r->body_len);
		evbuffer_drain(s->out, evbuffer_get_length(s->out));
	}
	sink += (unsigned char)s->buf[0];
}

/* The same copies with the validation in between. Returns 0, or a
 * negative errno (or -EBADMSG for a head or body of the wrong size). */
static int
validate_request(const struct request *r, struct scratch *s)
{
	long end;
	int rc;

	copy_bytes(s->buf, r->head, r->head_len);
	end = lb_h1_req_head_end(s->buf, r->head_len, MAX_LINE, MAX_HEAD);
	if (end < 0)
		return (int)end;
	if ((size_t)end != r->head_len)
		return -EBADMSG;
	rc = lb_h1_parse_request(s->buf, (size_t)end, &s->req);
	if (rc < 0)
		return rc;
	if (r->body != NULL) {
		struct lb_h1_chunked ch = { .strict = 1 };

		evbuffer_add(s->in, r->body, r->body_len);
		rc = lb_h1_chunked_decode(&ch, s->in, s->out);
		if (rc != 1 || evbuffer_get_length(s->in) != 0 ||
		    evbuffer_get_length(s->out) != r->decoded_len)
			return rc < 0 ? rc : -EBADMSG;
		evbuffer_drain(s->out, r->decoded_len);
	}
	sink += s->req.nfields;
	return 0;
}

/* Whether the request is what it claims to be; the benchmark would
 * otherwise time an error path. */
static int
check_request(const struct request *r, struct scratch *s)
{
	int rc = validate_request(r, s);

	if (rc < 0) {
		fprintf(stderr, "bench_h1req: %s: not accepted (%d: status %d)\n",
			r->name, rc, lb_h1_req_status(rc));
		return -1;
	}
	if (s->req.host == NULL || s->req.chunked != (r->body != NULL)) {
		fprintf(stderr, "bench_h1req: %s: parsed wrongly\n", r->name);
		return -1;
	}
	return 0;
}

static int
measure(const struct request *r, struct scratch *s, size_t samples,
	struct figures *fig)
{
	double *whole = calloc(samples, sizeof(double));
	double *copy = calloc(samples, sizeof(double));
	double *net = calloc(samples, sizeof(double));
	size_t k, j;
	int rc = -1;

	if (whole == NULL || copy == NULL || net == NULL)
		goto out;
	/* warm-up: caches, branch predictors, the evbuffers' chains */
	for (j = 0; j < 10 * BATCH; j++) {
		copy_request(r, s);
		if (validate_request(r, s) < 0)
			goto out;
	}
	for (k = 0; k < samples; k++) {
		uint64_t t0, t1, t2;
		int bad = 0;

		t0 = now_ns();
		for (j = 0; j < BATCH; j++)
			copy_request(r, s);
		t1 = now_ns();
		for (j = 0; j < BATCH; j++)
			bad |= validate_request(r, s);
		t2 = now_ns();
		if (bad < 0)
			goto out;
		copy[k] = (double)(t1 - t0) / BATCH;
		whole[k] = (double)(t2 - t1) / BATCH;
		net[k] = whole[k] - copy[k];
	}
	fig->whole = summary(whole, samples);
	fig->copy = summary(copy, samples);
	fig->net = summary(net, samples);
	fig->net.best = fig->whole.best - fig->copy.best;
	rc = 0;
out:
	free(whole);
	free(copy);
	free(net);
	return rc;
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_h1req [-host HOST] [-samples N] "
		"[-value wrk|browser|chunked]\n");
}

#define ROW_FORMAT "%-34s %12s %12s\n"

static void
row(const char *name, const char *unit, struct timing t)
{
	char median[32], best[32];

	snprintf(median, sizeof(median), "%.1f %s", t.median, unit);
	snprintf(best, sizeof(best), "%.1f %s", t.best, unit);
	printf(ROW_FORMAT, name, median, best);
}

int
main(int argc, char **argv)
{
	/* an ephemeral port's five digits, as wrk sends in scripts/bench */
	const char *host = "127.0.0.1:43210", *only = NULL;
	struct request rq[3];
	struct figures fig[3];
	struct scratch *s;
	size_t samples = SAMPLES, i, n = sizeof(rq) / sizeof(rq[0]);
	int a, rc = 1;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "-host") == 0 && a + 1 < argc) {
			host = argv[++a];
			if (strlen(host) > 200)
				return usage(), 2;
		} else if (strcmp(argv[a], "-samples") == 0 && a + 1 < argc) {
			samples = strtoul(argv[++a], NULL, 10);
			if (samples == 0 || samples > 100000)
				return usage(), 2;
		} else if (strcmp(argv[a], "-value") == 0 && a + 1 < argc) {
			only = argv[++a];
		} else {
			return usage(), 2;
		}
	}
	memset(rq, 0, sizeof(rq));
	make_requests(rq, host);
	if (only != NULL) {
		for (i = 0; i < n && strcmp(rq[i].name, only) != 0; i++)
			;
		if (i == n)
			return usage(), 2;
	}

	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->in = evbuffer_new()) == NULL ||
	    (s->out = evbuffer_new()) == NULL) {
		fprintf(stderr, "bench_h1req: out of memory\n");
		goto out;
	}
	for (i = 0; i < n; i++)
		if ((only == NULL || strcmp(rq[i].name, only) == 0) &&
		    (check_request(&rq[i], s) < 0 ||
		     measure(&rq[i], s, samples, &fig[i]) < 0))
			goto out;

	if (only != NULL) {
		for (i = 0; strcmp(rq[i].name, only) != 0; i++)
			;
		printf("%.1f\n", fig[i].net.median);
		rc = 0;
		goto out;
	}
	printf("request validation benchmark: head end (limits %d/%d) + strict "
	       "parse (+ strict chunked decode); median of %zu batches of %d "
	       "calls, best batch; the copy of the request is timed alone and "
	       "subtracted\n", MAX_LINE, MAX_HEAD, samples, BATCH);
	printf(ROW_FORMAT, "figure", "median", "best");
	for (i = 0; i < n; i++) {
		char name[64];

		/* the fields as the parser counted them in the checking run */
		if (check_request(&rq[i], s) < 0)
			goto out;
		printf("-- %s: head %zu bytes, %zu field%s", rq[i].name,
		       rq[i].head_len, s->req.nfields,
		       s->req.nfields == 1 ? "" : "s");
		if (rq[i].body != NULL)
			printf(", body %zu bytes framed as 3 chunks (%zu data)",
			       rq[i].body_len, rq[i].decoded_len);
		printf("\n");
		snprintf(name, sizeof(name), "%s: copy + validation", rq[i].name);
		row(name, "ns", fig[i].whole);
		snprintf(name, sizeof(name), "%s: copy alone", rq[i].name);
		row(name, "ns", fig[i].copy);
		snprintf(name, sizeof(name), "%s: validation", rq[i].name);
		row(name, "ns", fig[i].net);
	}
	rc = 0;
out:
	if (s != NULL) {
		if (s->in != NULL)
			evbuffer_free(s->in);
		if (s->out != NULL)
			evbuffer_free(s->out);
		free(s);
	}
	return rc;
}
