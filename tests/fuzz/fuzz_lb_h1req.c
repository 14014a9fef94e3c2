/*
 * fuzz_lb_h1req.c - libFuzzer target for the strict request-head parser:
 * the input is what a client sent. Where the head ends must be found
 * without reading past the input; a head that parses must have every
 * pointer inside it, NUL-terminated strings of the lengths given, one
 * framing at most, and a Host in HTTP/1.1; an error must map to one of
 * the four answer statuses.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lb/lb_h1req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
inside(const char *buf, size_t len, const char *p, size_t n)
{
	if (p < buf || p + n > buf + len || p[n] != '\0' || strlen(p) != n)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lb_h1_req r;
	char *buf;
	long end;
	size_t i;
	int rc, st;

	end = lb_h1_req_head_end((const char *)data, size, 8192, 65536);
	if ((end < 0 && end != -EINVAL && end != -E2BIG && end != -ENAMETOOLONG) ||
	    (end > 0 && (size_t)end > size))
		abort();
	/* a head where the input says it ends, and the whole input too */
	for (i = 0; i < 2; i++) {
		size_t len = i == 0 ? (end > 0 ? (size_t)end : 0) : size;

		if (i == 0 && len == 0)
			continue;
		buf = malloc(len + 1);
		if (buf == NULL)
			return 0;
		memcpy(buf, data, len);
		buf[len] = '\0';
		rc = lb_h1_parse_request(buf, len, &r);
		if (rc < 0) {
			st = lb_h1_req_status(rc);
			if (st != 400 && st != 414 && st != 431 && st != 501 && st != 505)
				abort();
			free(buf);
			continue;
		}
		inside(buf, len, r.method, r.method_len);
		inside(buf, len, r.target, r.target_len);
		if (r.major != 1 || r.minor < 0 || r.minor > 9 ||
		    r.nfields > LB_H1_REQ_FIELDS_MAX || r.content_length < -1 ||
		    (r.chunked && r.content_length >= 0) ||
		    (r.minor >= 1 && r.host == NULL))
			abort();
		for (size_t f = 0; f < r.nfields; f++) {
			if (r.fields[f].name_len == 0 ||
			    r.fields[f].name < buf ||
			    r.fields[f].name + r.fields[f].name_len > buf + len)
				abort();
			inside(buf, len, r.fields[f].value,
			       r.fields[f].value_len);
		}
		if (r.host != NULL)
			inside(buf, len, r.host, r.host_len);
		free(buf);
	}
	return 0;
}
