/*
 * fuzz_devreg_decode.c - libFuzzer target for the JSON bodies the dev
 * registry decodes: service registrations, check registrations and check
 * updates, each in lax and in strict mode. The bytes are passed with no
 * NUL after them. Beyond "no crash" it checks:
 *  - success gives an object whose vectors hold exactly n non-NULL
 *    elements (tags, meta, tagged addresses, headers, args, checks);
 *  - failure gives no object and an error text that ends inside err and
 *    reads like Go's decoder ("json: ...", "EOF", "invalid character",
 *    "time: ...");
 *  - what strict mode accepts, lax mode accepts as the same definition;
 *  - a copy of every decoded check equals it;
 *  - a service that validates gets its defaults, after which its
 *    required fields (ID, Name) are non-empty and its weights are valid.
 */
#include "devregistry/devreg_decode.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
require(int ok)
{
	if (!ok)
		abort();
}

static int
has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static void
check_err(int rc, const char *err, size_t errlen)
{
	require(rc == -EINVAL || rc == -ENOMEM);
	require(memchr(err, '\0', errlen) != NULL);
	require(has_prefix(err, "json: ") || strcmp(err, "EOF") == 0 ||
		strcmp(err, "unexpected EOF") == 0 ||
		has_prefix(err, "invalid character ") || has_prefix(err, "time: ") ||
		strcmp(err, "out of memory") == 0);
}

static void
check_strv(char *const *v, size_t n)
{
	require(n == 0 || v != NULL);
	for (size_t i = 0; i < n; i++)
		require(v[i] != NULL);
}

static void
check_check(const struct devreg_check_def *c)
{
	struct devreg_check_def *copy;

	require(c != NULL);
	check_strv(c->args, c->nargs);
	require(c->nheaders == 0 || c->headers != NULL);
	for (size_t i = 0; i < c->nheaders; i++) {
		require(c->headers[i].name != NULL);
		check_strv(c->headers[i].values, c->headers[i].nvalues);
	}
	copy = devreg_check_def_dup(c);
	if (copy != NULL) {
		require(devreg_check_def_equal(c, copy));
		require(devreg_check_def_equal(copy, c));
		devreg_check_def_free(copy);
	}
	(void)devreg_check_def_type(c);
	(void)devreg_check_def_empty(c);
}

static void
check_service(struct devreg_service_def *s)
{
	char err[512];

	check_strv(s->tags, s->ntags);
	require(s->nmeta == 0 || s->meta != NULL);
	for (size_t i = 0; i < s->nmeta; i++)
		require(s->meta[i].key != NULL && s->meta[i].value != NULL);
	require(s->ntaddrs == 0 || s->taddrs != NULL);
	for (size_t i = 0; i < s->ntaddrs; i++)
		require(s->taddrs[i].key != NULL && s->taddrs[i].address != NULL);
	require(s->nchecks == 0 || s->checks != NULL);
	for (size_t i = 0; i < s->nchecks; i++)
		check_check(s->checks[i]);

	if (devreg_service_def_validate(s, err, sizeof(err)) < 0) {
		require(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
		return;
	}
	if (devreg_service_def_apply_defaults(s) < 0)
		return;
	require(s->name != NULL && *s->name != '\0');
	require(s->id != NULL && *s->id != '\0');
	require(s->has_weights && s->weight_passing >= 1 && s->weight_warning >= 0);
	for (size_t i = 0; i < s->ntaddrs; i++)
		require(s->taddrs[i].key != NULL && s->taddrs[i].address != NULL);
}

static int
same_service(const struct devreg_service_def *a, const struct devreg_service_def *b)
{
	if (!devreg_service_def_equal(a, b) || a->nchecks != b->nchecks)
		return 0;
	for (size_t i = 0; i < a->nchecks; i++)
		if (!devreg_check_def_equal(a->checks[i], b->checks[i]))
			return 0;
	return 1;
}

static void
fuzz_service(const char *buf, size_t size)
{
	struct devreg_service_def *lax = NULL, *strict = NULL;
	char err[256];
	int rl, rs;

	rl = devreg_decode_service(buf, size, 0, &lax, err, sizeof(err));
	if (rl != 0) {
		require(lax == NULL);
		check_err(rl, err, sizeof(err));
	}
	rs = devreg_decode_service(buf, size, 1, &strict, err, sizeof(err));
	if (rs != 0) {
		require(strict == NULL);
		check_err(rs, err, sizeof(err));
	} else {
		require(strict != NULL && rl == 0 && same_service(strict, lax));
	}
	if (lax != NULL)
		check_service(lax);
	devreg_service_def_free(lax);
	devreg_service_def_free(strict);
}

static void
fuzz_check(const char *buf, size_t size)
{
	struct devreg_check_def *lax = NULL, *strict = NULL;
	char err[256];
	int rl, rs;

	rl = devreg_decode_check(buf, size, 0, &lax, err, sizeof(err));
	if (rl != 0) {
		require(lax == NULL);
		check_err(rl, err, sizeof(err));
	} else {
		check_check(lax);
		if (devreg_check_def_validate(lax, err, sizeof(err)) < 0)
			require(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
	}
	rs = devreg_decode_check(buf, size, 1, &strict, err, sizeof(err));
	if (rs != 0) {
		require(strict == NULL);
		check_err(rs, err, sizeof(err));
	} else {
		require(rl == 0 && devreg_check_def_equal(strict, lax));
	}
	devreg_check_def_free(lax);
	devreg_check_def_free(strict);
}

static void
fuzz_update(const char *buf, size_t size)
{
	char *status = NULL, *output = NULL, *s2 = NULL, *o2 = NULL;
	char err[256];
	int rl, rs;

	rl = devreg_decode_check_update(buf, size, 0, &status, &output, err, sizeof(err));
	if (rl != 0) {
		require(status == NULL && output == NULL);
		check_err(rl, err, sizeof(err));
	}
	rs = devreg_decode_check_update(buf, size, 1, &s2, &o2, err, sizeof(err));
	if (rs != 0) {
		require(s2 == NULL && o2 == NULL);
		check_err(rs, err, sizeof(err));
	} else {
		require(rl == 0 && devreg_str_eq(status, s2) && devreg_str_eq(output, o2));
	}
	free(status);
	free(output);
	free(s2);
	free(o2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;

	fuzz_service(buf, size);
	fuzz_check(buf, size);
	fuzz_update(buf, size);
	return 0;
}
