/*
 * lb_log.h - the proxy's two logs, kept apart: diagnostics (decisions and
 * state changes, through a caller's callback) and the access log (one line
 * per request, in the common, combined or json format).
 *
 * Diagnostics: the library never prints. A struct lb_logger carries the
 * caller's callback and the lowest level it wants; LB_LOG tests the level
 * before it formats anything. Worker threads call the callback, so it must
 * be thread-safe (lb_log_to_file is).
 *
 * Access log: each worker formats lines into its own struct lb_access_buf
 * and writes them out in whole lines with one write() each (lines never
 * interleave: an O_APPEND file takes a write whole, and writes to pipes
 * are kept within PIPE_BUF), so no lock is taken per request.
 */
#ifndef LB_LOG_H
#define LB_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

enum lb_log_level {
	LB_LOG_DEBUG = 0,
	LB_LOG_INFO,
	LB_LOG_WARN,
	LB_LOG_ERROR
};

/* One key=value line without a newline, valid during the call. */
typedef void (*lb_log_fn)(enum lb_log_level level, const char *line,
			  void *arg);

struct lb_logger {
	lb_log_fn fn;                /* NULL: silent */
	void *arg;
	enum lb_log_level level;     /* lines below it are not even formatted */
};

/* Format and pass one line to lg->fn (no level test: use LB_LOG). Lines
 * longer than 1 KiB are cut. */
void lb_logf(const struct lb_logger *lg, enum lb_log_level level,
	     const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define LB_LOG(lg, lvl, ...)                                            \
	do {                                                            \
		if ((lg) != NULL && (lg)->fn != NULL && (lvl) >= (lg)->level) \
			lb_logf((lg), (lvl), __VA_ARGS__);              \
	} while (0)

/* "debug", "info", "warn", "error"; never NULL. */
const char *lb_log_level_name(enum lb_log_level level);

/*
 * A ready-made callback: writes "2026-01-02T03:04:05.678Z level=info
 * <line>\n" to arg (a FILE *; NULL: stderr) with one fputs, which stdio
 * serialises between threads.
 */
void lb_log_to_file(enum lb_log_level level, const char *line, void *arg);

/* ---- access log ---- */

enum lb_access_format {
	LB_ACCESS_OFF = 0,
	LB_ACCESS_COMMON,     /* NCSA common: host - - [time] "request" status bytes */
	LB_ACCESS_COMBINED,   /* common + "referer" "user-agent" */
	LB_ACCESS_JSON        /* one JSON object per line */
};

/* "common", "combined", "json" (and "off" / "" for off): 0, or -EINVAL. */
int lb_access_format_parse(const char *s, enum lb_access_format *out);
/* "off", "common", "combined", "json"; never NULL. */
const char *lb_access_format_name(enum lb_access_format f);

/* A request as the access log sees it. Strings may be NULL (written as
 * "-", or as "" in json) and need not outlive lb_access_line(). */
struct lb_access_rec {
	const char *remote_addr;   /* the client's IP */
	const char *method;
	const char *uri;           /* the request-target as received */
	int http_major, http_minor;
	int status;
	uint64_t bytes;            /* response body bytes sent */
	struct timeval start;      /* when the request arrived (wall clock) */
	uint64_t duration_us;
	const char *host;          /* the Host header */
	const char *referer;
	const char *user_agent;
	const char *upstream;      /* the target's host:port, NULL when none */
	const char *service;       /* the route's service, NULL when none */
};

/* The longest line lb_access_line writes, newline included: longer
 * fields are cut so that a line always fits (and fits in PIPE_BUF). */
#define LB_ACCESS_LINE_MAX 4096

/*
 * Format r in format f as one line ending in '\n' into buf (size bytes,
 * at least LB_ACCESS_LINE_MAX to never cut the newline; the result is
 * NUL-terminated when room allows). Quotes, backslashes, control bytes
 * and bytes >= 0x7f in strings are escaped (\xHH in common/combined,
 * JSON escapes in json). Times are UTC. Returns the line's length, 0 for
 * LB_ACCESS_OFF. Thread-safe.
 */
size_t lb_access_line(enum lb_access_format f, const struct lb_access_rec *r,
		      char *buf, size_t size);

/* Where access lines go: opened once, shared by every worker. */
struct lb_access_log;

/*
 * Open target: "stdout", "stderr" or a file path (created 0644 and
 * appended to). Returns NULL with *err a negative errno when the file
 * cannot be opened (-EINVAL for an empty target or LB_ACCESS_OFF).
 */
struct lb_access_log *lb_access_log_open(const char *target,
					 enum lb_access_format f, int *err);
/* Close (stdout/stderr stay open). NULL: no-op. Flush every buffer first. */
void lb_access_log_free(struct lb_access_log *log);
/* Open target again in place of the file the log writes to (after it was
 * rotated away), safely while workers write. A no-op for stdout and
 * stderr. 0 or a negative errno (the old file stays in use). */
int lb_access_log_reopen(struct lb_access_log *log, const char *target);
enum lb_access_format lb_access_log_format(const struct lb_access_log *log);
/* Lines that could not be written (write errors), over all buffers. */
uint64_t lb_access_log_dropped(const struct lb_access_log *log);

/* One thread's buffer of formatted lines. */
struct lb_access_buf {
	struct lb_access_log *log;   /* NULL: the access log is off */
	char *data;
	size_t len, cap;
};

/* 0, or -ENOMEM. log may be NULL (then adding does nothing). */
int lb_access_buf_init(struct lb_access_buf *b, struct lb_access_log *log);
/* Format r into the buffer, writing the buffer out first when it is too
 * full to take a line. Returns 1 when the buffer holds lines that wait
 * for lb_access_buf_flush, else 0. */
int lb_access_buf_add(struct lb_access_buf *b, const struct lb_access_rec *r);
/* Write out whatever the buffer holds. */
void lb_access_buf_flush(struct lb_access_buf *b);
/* Flush and free the memory. NULL-safe, idempotent. */
void lb_access_buf_release(struct lb_access_buf *b);

#endif
