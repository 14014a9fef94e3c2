/*
 * fuzz_devreg_duration.c - libFuzzer target for Go durations, which reach
 * the dev registry in check bodies ("Interval": "10s") and in ?wait= and
 * ?max_stale=. Beyond "no crash" it checks:
 *  - a duration that parses formats as Duration.String() and parses back
 *    to the same value, and formatting is stable (format . parse . format
 *    gives the same text);
 *  - any int64 (the first 8 bytes) formats and parses back to itself;
 *  - inputs made only of ASCII digits and letters get the value or the
 *    error kind of a separate exact-integer model of time.ParseDuration;
 *  - error texts start with "time: " and stay inside buffers of any size
 *    (err and the quoting buffer are allocated to the exact size asked, so
 *    ASan sees a write past them).
 */
#include "devregistry/devreg_duration.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define GO_LIMIT ((unsigned __int128)1 << 63)

enum model_result {
	M_SKIP,          /* outside what the model covers */
	M_OK,
	M_INVALID,       /* time: invalid duration */
	M_MISSING_UNIT,  /* time: missing unit in duration */
	M_UNKNOWN_UNIT   /* time: unknown unit ... */
};

static unsigned __int128
model_unit(const char *u, size_t n)
{
	static const struct {
		const char *name;
		unsigned __int128 ns;
	} units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 },
		{ "s", 1000000000 }, { "m", (unsigned __int128)60 * 1000000000 },
		{ "h", (unsigned __int128)3600 * 1000000000 },
	};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strlen(units[i].name) == n && memcmp(units[i].name, u, n) == 0)
			return units[i].ns;
	return 0;
}

/*
 * time.ParseDuration for [+-]?([0-9]+[a-zA-Z]+)* written in exact 128-bit
 * arithmetic: each number must stay within 2^63, each number*unit too,
 * and the running sum is a uint64 in Go (it wraps at 2^64 before the
 * "> 2^63" test, so the model wraps too), then at most 2^63 for a
 * negative and 2^63-1 for a positive result.
 */
static enum model_result
model_parse(const char *s, int64_t *ns)
{
	unsigned __int128 d = 0;
	int neg = 0;

	for (const char *p = s; *p != '\0'; p++)
		if (!isdigit((unsigned char)*p) && !isalpha((unsigned char)*p) &&
		    !(p == s && (*p == '+' || *p == '-')))
			return M_SKIP;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (strcmp(s, "0") == 0) {
		*ns = 0;
		return M_OK;
	}
	if (*s == '\0')
		return M_INVALID;
	while (*s != '\0') {
		unsigned __int128 v = 0, unit;
		const char *u;

		if (!isdigit((unsigned char)*s))
			return M_INVALID;
		for (; isdigit((unsigned char)*s); s++) {
			v = v * 10 + (unsigned)(*s - '0');
			if (v > GO_LIMIT)
				return M_INVALID;
		}
		for (u = s; isalpha((unsigned char)*s); s++)
			;
		if (s == u)
			return M_MISSING_UNIT;
		unit = model_unit(u, (size_t)(s - u));
		if (unit == 0)
			return M_UNKNOWN_UNIT;
		v *= unit;
		if (v > GO_LIMIT)
			return M_INVALID;
		d = (d + v) % ((unsigned __int128)1 << 64);
		if (d > GO_LIMIT)
			return M_INVALID;
	}
	if (neg) {
		*ns = d == GO_LIMIT ? INT64_MIN : -(int64_t)d;
		return M_OK;
	}
	if (d > GO_LIMIT - 1)
		return M_INVALID;
	*ns = (int64_t)d;
	return M_OK;
}

static int
has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* Format v, check the text's shape, parse it back: it must be v again,
 * and formatting that gives the same text. */
static void
round_trip(int64_t v)
{
	char a[32], b[32], err[160];
	int64_t back = 0;

	devreg_duration_format(v, a, sizeof(a));
	if (strlen(a) < 2 || a[strlen(a) - 1] != 's')
		abort();
	if (devreg_duration_parse(a, &back, err, sizeof(err)) != 0 || back != v)
		abort();
	if (strcmp(devreg_duration_format(back, b, sizeof(b)), a) != 0)
		abort();
}

/* Quote s into a buffer of exactly len bytes. */
static void
quote_bounded(const char *s, size_t len)
{
	char *q = malloc(len > 0 ? len : 1);
	size_t n;

	if (q == NULL)
		return;
	devreg_go_quote(s, q, len);
	if (len > 0) {
		n = strnlen(q, len);
		if (n >= len)
			abort();
		if (len >= 3 && (n < 2 || q[0] != '"' || q[n - 1] != '"'))
			abort();
	}
	free(q);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	char err[192];
	char *small;
	size_t errlen;
	int64_t ns = 0, want = 0, raw;
	enum model_result m;
	int rc;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	rc = devreg_duration_parse(s, &ns, err, sizeof(err));
	if (rc == 0) {
		round_trip(ns);
	} else {
		if (rc != -EINVAL || memchr(err, '\0', sizeof(err)) == NULL ||
		    !has_prefix(err, "time: "))
			abort();
	}
	/* The same answer without an error buffer. */
	if (devreg_duration_parse(s, &want, NULL, 0) != rc || (rc == 0 && want != ns))
		abort();

	m = model_parse(s, &want);
	switch (m) {
	case M_SKIP:
		break;
	case M_OK:
		if (rc != 0 || ns != want)
			abort();
		break;
	case M_INVALID:
		if (rc == 0 || !has_prefix(err, "time: invalid duration "))
			abort();
		break;
	case M_MISSING_UNIT:
		if (rc == 0 || !has_prefix(err, "time: missing unit in duration "))
			abort();
		break;
	case M_UNKNOWN_UNIT:
		if (rc == 0 || !has_prefix(err, "time: unknown unit "))
			abort();
		break;
	}

	/* Error texts truncate inside a small buffer of any size. */
	errlen = size > 0 ? data[0] % 48 : 0;
	small = malloc(errlen > 0 ? errlen : 1);
	if (small != NULL) {
		if (devreg_duration_parse(s, &want, errlen > 0 ? small : NULL, errlen) != rc)
			abort();
		if (rc != 0 && errlen > 0 && memchr(small, '\0', errlen) == NULL)
			abort();
		free(small);
	}
	quote_bounded(s, errlen);
	quote_bounded(s, size + 3);

	if (size >= sizeof(raw)) {
		memcpy(&raw, data, sizeof(raw));
		round_trip(raw);
	}
	free(s);
	return 0;
}
