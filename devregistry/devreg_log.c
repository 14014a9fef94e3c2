/*
 * devreg_log.c - one key=value line per event, built in a bounded buffer.
 */
#include "devregistry/devreg_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define LINE_MAX_BYTES 1024

static const char *
level_name(enum devreg_log_level level)
{
	switch (level) {
	case DEVREG_LOG_DEBUG: return "debug";
	case DEVREG_LOG_INFO: return "info";
	case DEVREG_LOG_WARN: return "warn";
	case DEVREG_LOG_ERROR: return "error";
	}
	return "info";
}

static int
needs_quotes(const char *v)
{
	if (*v == '\0')
		return 1;
	for (; *v != '\0'; v++) {
		unsigned char c = (unsigned char)*v;

		if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
			return 1;
	}
	return 0;
}

/* Append s to buf[*o..len), quoting and escaping when needed; stops
 * quietly when the line is full. */
static void
append_value(char *buf, size_t *o, size_t len, const char *v)
{
	int q = needs_quotes(v);

	if (q && *o < len - 1)
		buf[(*o)++] = '"';
	for (; *v != '\0' && *o < len - 8; v++) {
		unsigned char c = (unsigned char)*v;

		if (!q) {
			buf[(*o)++] = (char)c;
		} else if (c == '"' || c == '\\') {
			buf[(*o)++] = '\\';
			buf[(*o)++] = (char)c;
		} else if (c == '\n') {
			buf[(*o)++] = '\\';
			buf[(*o)++] = 'n';
		} else if (c < 0x20 || c == 0x7f) {
			*o += (size_t)snprintf(buf + *o, len - *o, "\\x%02x", c);
		} else {
			buf[(*o)++] = (char)c;
		}
	}
	if (q && *o < len - 1)
		buf[(*o)++] = '"';
	buf[*o] = '\0';
}

static void
append_raw(char *buf, size_t *o, size_t len, const char *s)
{
	size_t n = strlen(s);

	if (n > len - 1 - *o)
		n = len - 1 - *o;
	memcpy(buf + *o, s, n);
	*o += n;
	buf[*o] = '\0';
}

void
devreg_log_kv(const struct devreg_log *l, enum devreg_log_level level,
	      const char *msg, ...)
{
	char line[LINE_MAX_BYTES];
	size_t o = 0;
	const char *k;
	va_list ap;

	if (!devreg_log_on(l, level))
		return;
	line[0] = '\0';
	append_raw(line, &o, sizeof(line), "level=");
	append_raw(line, &o, sizeof(line), level_name(level));
	append_raw(line, &o, sizeof(line), " msg=");
	append_value(line, &o, sizeof(line), msg != NULL ? msg : "");
	va_start(ap, msg);
	while ((k = va_arg(ap, const char *)) != NULL) {
		const char *v = va_arg(ap, const char *);

		append_raw(line, &o, sizeof(line), " ");
		append_raw(line, &o, sizeof(line), k);
		append_raw(line, &o, sizeof(line), "=");
		append_value(line, &o, sizeof(line), v != NULL ? v : "");
	}
	va_end(ap);
	l->fn(level, line, l->arg);
}
