/*
 * lb_log.c - diagnostics lines through the caller's callback, and access
 * log lines formatted per worker and written in whole lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lb/lb_log.h"

/* ---- diagnostics ---- */

void
lb_logf(const struct lb_logger *lg, enum lb_log_level level,
	const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (lg == NULL || lg->fn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	lg->fn(level, line, lg->arg);
}

const char *
lb_log_level_name(enum lb_log_level level)
{
	switch (level) {
	case LB_LOG_DEBUG: return "debug";
	case LB_LOG_INFO: return "info";
	case LB_LOG_WARN: return "warn";
	case LB_LOG_ERROR: return "error";
	}
	return "info";
}

void
lb_log_to_file(enum lb_log_level level, const char *line, void *arg)
{
	FILE *f = arg != NULL ? arg : stderr;
	char buf[1200];
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, sizeof(buf),
		 "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s %s\n",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
		 lb_log_level_name(level), line);
	fputs(buf, f);
	fflush(f);
}

/* ---- access log formats ---- */

int
lb_access_format_parse(const char *s, enum lb_access_format *out)
{
	if (s == NULL || *s == '\0' || strcmp(s, "off") == 0)
		*out = LB_ACCESS_OFF;
	else if (strcmp(s, "common") == 0)
		*out = LB_ACCESS_COMMON;
	else if (strcmp(s, "combined") == 0)
		*out = LB_ACCESS_COMBINED;
	else if (strcmp(s, "json") == 0)
		*out = LB_ACCESS_JSON;
	else
		return -EINVAL;
	return 0;
}

const char *
lb_access_format_name(enum lb_access_format f)
{
	switch (f) {
	case LB_ACCESS_OFF: return "off";
	case LB_ACCESS_COMMON: return "common";
	case LB_ACCESS_COMBINED: return "combined";
	case LB_ACCESS_JSON: return "json";
	}
	return "off";
}

/* Output budgets per field, after escaping: together with the fixed text
 * they stay below LB_ACCESS_LINE_MAX, so the newline always fits. */
#define BUDGET_URI 1536
#define BUDGET_AGENT 512
#define BUDGET_REFERER 512
#define BUDGET_HOST 256
#define BUDGET_SHORT 128

/* A bounded writer: never writes past end, keeps room for "\n\0". */
struct out {
	char *p;
	char *end;       /* where text must stop (newline and NUL after it) */
};

static void
put(struct out *o, const char *s, size_t n)
{
	size_t room = (size_t)(o->end - o->p);

	if (n > room)
		n = room;
	memcpy(o->p, s, n);
	o->p += n;
}

static void
puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void
put_u64(struct out *o, uint64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%" PRIu64, v);

	put(o, tmp, (size_t)n);
}

static const char hexdig[] = "0123456789abcdef";

/* s escaped for common/combined: ", \, control bytes and bytes >= 0x7f
 * as \xHH (nginx's escaping); at most budget bytes of output; "-" for
 * NULL or "". */
static void
put_clf(struct out *o, const char *s, size_t budget)
{
	char *stop;

	if (s == NULL || *s == '\0') {
		put(o, "-", 1);
		return;
	}
	stop = (size_t)(o->end - o->p) > budget ? o->p + budget : o->end;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f) {
			if (stop - o->p < 4)
				break;
			*o->p++ = '\\';
			*o->p++ = 'x';
			*o->p++ = hexdig[c >> 4];
			*o->p++ = hexdig[c & 15];
		} else {
			if (stop - o->p < 1)
				break;
			*o->p++ = (char)c;
		}
	}
}

/* s as the inside of a JSON string (quotes not included). */
static void
put_json(struct out *o, const char *s, size_t budget)
{
	char *stop;

	if (s == NULL)
		return;
	stop = (size_t)(o->end - o->p) > budget ? o->p + budget : o->end;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			if (stop - o->p < 2)
				break;
			*o->p++ = '\\';
			*o->p++ = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			if (stop - o->p < 6)
				break;
			memcpy(o->p, "\\u00", 4);
			o->p[4] = hexdig[c >> 4];
			o->p[5] = hexdig[c & 15];
			o->p += 6;
		} else {
			if (stop - o->p < 1)
				break;
			*o->p++ = (char)c;
		}
	}
}

/* The formatted second, cached per thread: formatting a time is the
 * costliest part of a line and changes once a second. */
struct clock_cache {
	time_t sec;
	int valid;
	char clf[32];    /* 10/Oct/2000:13:55:36 +0000 */
	char iso[24];    /* 2000-10-10T13:55:36 */
};
static _Thread_local struct clock_cache clock_cache;

static const struct clock_cache *
clock_at(time_t sec)
{
	struct clock_cache *c = &clock_cache;
	struct tm tm;

	if (c->valid && c->sec == sec)
		return c;
	gmtime_r(&sec, &tm);
	strftime(c->clf, sizeof(c->clf), "%d/%b/%Y:%H:%M:%S +0000", &tm);
	strftime(c->iso, sizeof(c->iso), "%Y-%m-%dT%H:%M:%S", &tm);
	c->sec = sec;
	c->valid = 1;
	return c;
}

static void
put_proto(struct out *o, const struct lb_access_rec *r)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "HTTP/%d.%d", r->http_major,
			 r->http_minor);

	put(o, tmp, (size_t)n);
}

static void
line_clf(struct out *o, const struct lb_access_rec *r, int combined)
{
	const struct clock_cache *c = clock_at(r->start.tv_sec);

	put_clf(o, r->remote_addr, BUDGET_SHORT);
	puts_(o, " - - [");
	puts_(o, c->clf);
	puts_(o, "] \"");
	put_clf(o, r->method, BUDGET_SHORT);
	put(o, " ", 1);
	put_clf(o, r->uri, BUDGET_URI);
	put(o, " ", 1);
	put_proto(o, r);
	puts_(o, "\" ");
	put_u64(o, (uint64_t)(r->status > 0 ? r->status : 0));
	put(o, " ", 1);
	if (r->bytes == 0)
		put(o, "-", 1);
	else
		put_u64(o, r->bytes);
	if (combined) {
		puts_(o, " \"");
		put_clf(o, r->referer, BUDGET_REFERER);
		puts_(o, "\" \"");
		put_clf(o, r->user_agent, BUDGET_AGENT);
		put(o, "\"", 1);
	}
}

static void
json_str(struct out *o, const char *key, const char *v, size_t budget)
{
	puts_(o, key);
	put(o, "\"", 1);
	put_json(o, v, budget);
	put(o, "\"", 1);
}

static void
line_json(struct out *o, const struct lb_access_rec *r)
{
	const struct clock_cache *c = clock_at(r->start.tv_sec);
	char tmp[48];
	int n;

	puts_(o, "{\"time\":\"");
	puts_(o, c->iso);
	n = snprintf(tmp, sizeof(tmp), ".%03ldZ\"",
		     (long)(r->start.tv_usec / 1000));
	put(o, tmp, (size_t)n);
	json_str(o, ",\"remote_addr\":", r->remote_addr, BUDGET_SHORT);
	json_str(o, ",\"method\":", r->method, BUDGET_SHORT);
	json_str(o, ",\"uri\":", r->uri, BUDGET_URI);
	puts_(o, ",\"proto\":\"");
	put_proto(o, r);
	puts_(o, "\",\"status\":");
	put_u64(o, (uint64_t)(r->status > 0 ? r->status : 0));
	puts_(o, ",\"bytes\":");
	put_u64(o, r->bytes);
	n = snprintf(tmp, sizeof(tmp), ",\"duration_ms\":%" PRIu64 ".%03u",
		     r->duration_us / 1000, (unsigned)(r->duration_us % 1000));
	put(o, tmp, (size_t)n);
	json_str(o, ",\"host\":", r->host, BUDGET_HOST);
	json_str(o, ",\"upstream\":", r->upstream, BUDGET_SHORT);
	json_str(o, ",\"service\":", r->service, BUDGET_SHORT);
	json_str(o, ",\"referer\":", r->referer, BUDGET_REFERER);
	json_str(o, ",\"user_agent\":", r->user_agent, BUDGET_AGENT);
	put(o, "}", 1);
}

size_t
lb_access_line(enum lb_access_format f, const struct lb_access_rec *r,
	       char *buf, size_t size)
{
	struct out o;

	if (f == LB_ACCESS_OFF || size < 2)
		return 0;
	o.p = buf;
	o.end = buf + size - 2;
	switch (f) {
	case LB_ACCESS_COMMON:
		line_clf(&o, r, 0);
		break;
	case LB_ACCESS_COMBINED:
		line_clf(&o, r, 1);
		break;
	case LB_ACCESS_JSON:
		line_json(&o, r);
		break;
	case LB_ACCESS_OFF:
		break;
	}
	*o.p++ = '\n';
	*o.p = '\0';
	return (size_t)(o.p - buf);
}

/* ---- access log output ---- */

struct lb_access_log {
	int fd;
	int owned;                 /* we opened fd and close it */
	enum lb_access_format format;
	size_t chunk;              /* the most one write() carries */
	atomic_uint_fast64_t dropped;
};

#define ACCESS_BUF_CAP (64 * 1024)

struct lb_access_log *
lb_access_log_open(const char *target, enum lb_access_format f, int *err)
{
	struct lb_access_log *log = NULL;
	struct stat st;
	int e = 0;

	if (target == NULL || *target == '\0' || f == LB_ACCESS_OFF) {
		e = -EINVAL;
		goto fail;
	}
	log = calloc(1, sizeof(*log));
	if (log == NULL) {
		e = -ENOMEM;
		goto fail;
	}
	log->format = f;
	atomic_init(&log->dropped, 0);
	if (strcmp(target, "stdout") == 0) {
		log->fd = STDOUT_FILENO;
	} else if (strcmp(target, "stderr") == 0) {
		log->fd = STDERR_FILENO;
	} else {
		log->fd = open(target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
			       0644);
		if (log->fd < 0) {
			e = -errno;
			goto fail;
		}
		log->owned = 1;
	}
	/* A regular file opened for appending takes each write whole;
	 * anything else (pipe, terminal) only up to PIPE_BUF. */
	if (fstat(log->fd, &st) == 0 && S_ISREG(st.st_mode))
		log->chunk = ACCESS_BUF_CAP;
	else
		log->chunk = PIPE_BUF;
	return log;
fail:
	free(log);
	if (err != NULL)
		*err = e;
	return NULL;
}

int
lb_access_log_reopen(struct lb_access_log *log, const char *target)
{
	int fd;

	if (log == NULL || !log->owned)
		return 0;
	fd = open(target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	/* dup2 swaps the file under the descriptor in one step: a worker
	 * writing at that moment writes whole lines to one file or the
	 * other, never to a closed descriptor */
	if (dup3(fd, log->fd, O_CLOEXEC) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	close(fd);
	return 0;
}

void
lb_access_log_free(struct lb_access_log *log)
{
	if (log == NULL)
		return;
	if (log->owned)
		close(log->fd);
	free(log);
}

enum lb_access_format
lb_access_log_format(const struct lb_access_log *log)
{
	return log != NULL ? log->format : LB_ACCESS_OFF;
}

uint64_t
lb_access_log_dropped(const struct lb_access_log *log)
{
	return log != NULL ? atomic_load(&log->dropped) : 0;
}

int
lb_access_buf_init(struct lb_access_buf *b, struct lb_access_log *log)
{
	memset(b, 0, sizeof(*b));
	b->log = log;
	if (log == NULL)
		return 0;
	b->data = malloc(ACCESS_BUF_CAP);
	if (b->data == NULL)
		return -ENOMEM;
	b->cap = ACCESS_BUF_CAP;
	return 0;
}

/* Write n bytes that end at a line boundary with one write() (retried on
 * EINTR; a short write on a full disk loses the rest). */
static void
write_piece(struct lb_access_log *log, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(log->fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			atomic_fetch_add(&log->dropped, 1);
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

void
lb_access_buf_flush(struct lb_access_buf *b)
{
	size_t off = 0;

	if (b->log == NULL)
		return;
	while (off < b->len) {
		size_t n = b->len - off;

		if (n > b->log->chunk) {
			/* end the piece after the last newline that fits:
			 * a line is never longer than a chunk */
			n = b->log->chunk;
			while (n > 0 && b->data[off + n - 1] != '\n')
				n--;
			if (n == 0)
				n = b->log->chunk;
		}
		write_piece(b->log, b->data + off, n);
		off += n;
	}
	b->len = 0;
}

int
lb_access_buf_add(struct lb_access_buf *b, const struct lb_access_rec *r)
{
	if (b->log == NULL || b->data == NULL)
		return 0;
	if (b->cap - b->len < LB_ACCESS_LINE_MAX)
		lb_access_buf_flush(b);
	b->len += lb_access_line(b->log->format, r, b->data + b->len,
				 b->cap - b->len);
	return b->len > 0;
}

void
lb_access_buf_release(struct lb_access_buf *b)
{
	if (b == NULL)
		return;
	if (b->len > 0)
		lb_access_buf_flush(b);
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
