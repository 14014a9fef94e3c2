/*
 * devreg_jsonout.c - our own printer rather than cJSON_Print: cJSON
 * indents with tabs and trusts its strings to be UTF-8, while check
 * outputs and KV keys may hold any bytes.
 */
#include "devregistry/devreg_jsonout.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if none. */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	size_t len;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static int
write_string(struct evbuffer *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
	size_t n = strlen((const char *)p);
	int rc = evbuffer_add(out, "\"", 1);

	while (n > 0 && rc == 0) {
		size_t run = 0, k;

		/* Copy the longest stretch that needs no escaping at once. */
		while (run < n && p[run] >= 0x20 && p[run] != '"' && p[run] != '\\' &&
		       p[run] < 0x80)
			run++;
		if (run > 0) {
			rc = evbuffer_add(out, p, run);
			p += run;
			n -= run;
			continue;
		}
		if (*p == '"' || *p == '\\') {
			rc = evbuffer_add_printf(out, "\\%c", *p) < 0 ? -ENOMEM : 0;
			k = 1;
		} else if (*p == '\n') {
			rc = evbuffer_add(out, "\\n", 2);
			k = 1;
		} else if (*p == '\r') {
			rc = evbuffer_add(out, "\\r", 2);
			k = 1;
		} else if (*p == '\t') {
			rc = evbuffer_add(out, "\\t", 2);
			k = 1;
		} else if (*p < 0x20) {
			rc = evbuffer_add_printf(out, "\\u%04x", *p) < 0 ? -ENOMEM : 0;
			k = 1;
		} else if ((k = utf8_seq(p, n)) > 0) {
			rc = evbuffer_add(out, p, k);
		} else {
			rc = evbuffer_add(out, "\\ufffd", 6);
			k = 1;
		}
		p += k;
		n -= k;
	}
	if (rc == 0)
		rc = evbuffer_add(out, "\"", 1);
	return rc < 0 ? -ENOMEM : 0;
}

static int
write_number(struct evbuffer *out, double d)
{
	int r;

	if (!isfinite(d))
		r = evbuffer_add(out, "0", 1);
	else if (d == floor(d) && fabs(d) < 9.0e15)
		r = evbuffer_add_printf(out, "%.0f", d) < 0 ? -1 : 0;
	else
		r = evbuffer_add_printf(out, "%.17g", d) < 0 ? -1 : 0;
	return r < 0 ? -ENOMEM : 0;
}

static int
indent(struct evbuffer *out, int pretty, int depth)
{
	static const char spaces[] = "                                ";

	if (!pretty)
		return 0;
	if (evbuffer_add(out, "\n", 1) < 0)
		return -ENOMEM;
	for (int i = 0; i < depth; i++)
		if (evbuffer_add(out, spaces, 4) < 0)
			return -ENOMEM;
	return 0;
}

static int
write_value(struct evbuffer *out, const cJSON *v, int pretty, int depth)
{
	const cJSON *c;
	int first = 1, obj;

	if (v == NULL || cJSON_IsNull(v))
		return evbuffer_add(out, "null", 4) < 0 ? -ENOMEM : 0;
	if (cJSON_IsTrue(v))
		return evbuffer_add(out, "true", 4) < 0 ? -ENOMEM : 0;
	if (cJSON_IsFalse(v))
		return evbuffer_add(out, "false", 5) < 0 ? -ENOMEM : 0;
	if (cJSON_IsRaw(v))
		return evbuffer_add(out, v->valuestring, strlen(v->valuestring)) < 0 ?
		       -ENOMEM : 0;
	if (cJSON_IsNumber(v))
		return write_number(out, v->valuedouble);
	if (cJSON_IsString(v))
		return write_string(out, v->valuestring);
	obj = cJSON_IsObject(v);
	if (evbuffer_add(out, obj ? "{" : "[", 1) < 0)
		return -ENOMEM;
	cJSON_ArrayForEach(c, v) {
		if (!first && evbuffer_add(out, ",", 1) < 0)
			return -ENOMEM;
		first = 0;
		if (indent(out, pretty, depth + 1) < 0)
			return -ENOMEM;
		if (obj) {
			if (write_string(out, c->string) < 0 ||
			    evbuffer_add(out, pretty ? ": " : ":", pretty ? 2 : 1) < 0)
				return -ENOMEM;
		}
		if (write_value(out, c, pretty, depth + 1) < 0)
			return -ENOMEM;
	}
	if (!first && indent(out, pretty, depth) < 0)
		return -ENOMEM;
	return evbuffer_add(out, obj ? "}" : "]", 1) < 0 ? -ENOMEM : 0;
}

int
devreg_json_write(struct evbuffer *out, const cJSON *v, int pretty)
{
	if (write_value(out, v, pretty, 0) < 0)
		return -ENOMEM;
	if (pretty && evbuffer_add(out, "\n", 1) < 0)
		return -ENOMEM;
	return 0;
}

cJSON *
devreg_json_u64(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return cJSON_CreateRaw(buf);
}

cJSON *
devreg_json_add_str(cJSON *obj, const char *key, const char *v)
{
	if (obj == NULL)
		return NULL;
	return cJSON_AddStringToObject(obj, key, v != NULL ? v : "");
}

cJSON *
devreg_json_add_u64(cJSON *obj, const char *key, uint64_t v)
{
	cJSON *n;

	if (obj == NULL)
		return NULL;
	n = devreg_json_u64(v);
	if (n != NULL && !cJSON_AddItemToObject(obj, key, n)) {
		cJSON_Delete(n);
		return NULL;
	}
	return n;
}

cJSON *
devreg_json_add_int(cJSON *obj, const char *key, long v)
{
	if (obj == NULL)
		return NULL;
	return cJSON_AddNumberToObject(obj, key, (double)v);
}
