/*
 * devreg_duration.c - Go durations: the parser mirrors time.ParseDuration
 * step for step so that Consul's error texts come out the same, and the
 * formatter mirrors Duration.String() so that check records show "1m0s"
 * where real Consul does.
 */
#include "devregistry/devreg_duration.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

char *
devreg_go_quote(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	if (len < 3) {
		if (len > 0)
			buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];
		size_t n;

		if (c == '"' || c == '\\')
			n = (size_t)snprintf(esc, sizeof(esc), "\\%c", c);
		else if (c < 0x20 || c >= 0x80)
			n = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", c);
		else
			n = (size_t)snprintf(esc, sizeof(esc), "%c", c);
		if (o + n + 2 > len)
			break;
		memcpy(buf + o, esc, n);
		o += n;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

static int
fail_invalid(const char *orig, char *err, size_t errlen)
{
	char q[128];

	if (err != NULL)
		snprintf(err, errlen, "time: invalid duration %s",
			 devreg_go_quote(orig, q, sizeof(q)));
	return -EINVAL;
}

/* The multiplier of a unit, 0 when unknown. */
static uint64_t
unit_ns(const char *u, size_t n)
{
	static const struct {
		const char *name;
		uint64_t ns;
	} units[] = {
		{ "ns", 1 },
		{ "us", 1000 },
		{ "\xc2\xb5s", 1000 },  /* U+00B5 micro sign */
		{ "\xce\xbcs", 1000 },  /* U+03BC Greek mu */
		{ "ms", 1000000 },
		{ "s", 1000000000ULL },
		{ "m", 60ULL * 1000000000ULL },
		{ "h", 3600ULL * 1000000000ULL },
	};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strlen(units[i].name) == n && memcmp(units[i].name, u, n) == 0)
			return units[i].ns;
	return 0;
}

int
devreg_duration_parse(const char *orig, int64_t *ns, char *err, size_t errlen)
{
	const uint64_t limit = (uint64_t)1 << 63;
	const char *s = orig;
	uint64_t d = 0;
	int neg = 0;

	if (orig == NULL)
		orig = s = "";
	if (*s == '-' || *s == '+') {
		neg = *s == '-';
		s++;
	}
	if (strcmp(s, "0") == 0) {
		*ns = 0;
		return 0;
	}
	if (*s == '\0')
		return fail_invalid(orig, err, errlen);
	while (*s != '\0') {
		uint64_t v = 0, f = 0, unit;
		double scale = 1;
		int pre = 0, post = 0, overflow = 0;
		const char *u;
		char q1[64], q2[128];

		if (!(*s == '.' || (*s >= '0' && *s <= '9')))
			return fail_invalid(orig, err, errlen);
		for (; *s >= '0' && *s <= '9'; s++) {
			pre = 1;
			if (v > limit / 10)
				return fail_invalid(orig, err, errlen);
			v = v * 10 + (uint64_t)(*s - '0');
			if (v > limit)
				return fail_invalid(orig, err, errlen);
		}
		if (*s == '.') {
			s++;
			for (; *s >= '0' && *s <= '9'; s++) {
				post = 1;
				if (overflow)
					continue;
				if (f > (limit - 1) / 10) {
					overflow = 1;
					continue;
				}
				f = f * 10 + (uint64_t)(*s - '0');
				scale *= 10;
			}
		}
		if (!pre && !post)
			return fail_invalid(orig, err, errlen);
		u = s;
		while (*s != '\0' && *s != '.' && !(*s >= '0' && *s <= '9'))
			s++;
		if (s == u) {
			if (err != NULL)
				snprintf(err, errlen, "time: missing unit in duration %s",
					 devreg_go_quote(orig, q2, sizeof(q2)));
			return -EINVAL;
		}
		unit = unit_ns(u, (size_t)(s - u));
		if (unit == 0) {
			char ubuf[32];
			size_t n = (size_t)(s - u);

			if (n >= sizeof(ubuf))
				n = sizeof(ubuf) - 1;
			memcpy(ubuf, u, n);
			ubuf[n] = '\0';
			if (err != NULL)
				snprintf(err, errlen, "time: unknown unit %s in duration %s",
					 devreg_go_quote(ubuf, q1, sizeof(q1)),
					 devreg_go_quote(orig, q2, sizeof(q2)));
			return -EINVAL;
		}
		if (v > limit / unit)
			return fail_invalid(orig, err, errlen);
		v *= unit;
		if (f > 0) {
			v += (uint64_t)((double)f * ((double)unit / scale));
			if (v > limit)
				return fail_invalid(orig, err, errlen);
		}
		d += v;
		if (d > limit)
			return fail_invalid(orig, err, errlen);
	}
	if (neg) {
		*ns = d == limit ? INT64_MIN : -(int64_t)d;
		return 0;
	}
	if (d > limit - 1)
		return fail_invalid(orig, err, errlen);
	*ns = (int64_t)d;
	return 0;
}

/* Write v/10^prec's fraction (".25") right-aligned before *w, without
 * trailing zeros; returns v/10^prec. */
static uint64_t
fmt_frac(char *buf, size_t *w, uint64_t v, int prec)
{
	int print = 0;

	for (int i = 0; i < prec; i++) {
		unsigned digit = (unsigned)(v % 10);

		print = print || digit != 0;
		if (print)
			buf[--*w] = (char)('0' + digit);
		v /= 10;
	}
	if (print)
		buf[--*w] = '.';
	return v;
}

static void
fmt_int(char *buf, size_t *w, uint64_t v)
{
	if (v == 0) {
		buf[--*w] = '0';
		return;
	}
	while (v > 0) {
		buf[--*w] = (char)('0' + v % 10);
		v /= 10;
	}
}

char *
devreg_duration_format(int64_t d, char *out, size_t len)
{
	char buf[32];
	size_t w = sizeof(buf);
	int neg = d < 0;
	uint64_t u = neg ? (uint64_t)0 - (uint64_t)d : (uint64_t)d;

	if (u < 1000000000ULL) {
		int prec;

		buf[--w] = 's';
		if (u == 0) {
			buf[--w] = '0';
			goto done;
		} else if (u < 1000) {
			prec = 0;
			buf[--w] = 'n';
		} else if (u < 1000000) {
			prec = 3;
			buf[--w] = '\xb5';
			buf[--w] = '\xc2';
		} else {
			prec = 6;
			buf[--w] = 'm';
		}
		u = fmt_frac(buf, &w, u, prec);
		fmt_int(buf, &w, u);
	} else {
		buf[--w] = 's';
		u = fmt_frac(buf, &w, u, 9);
		fmt_int(buf, &w, u % 60);
		u /= 60;
		if (u > 0) {
			buf[--w] = 'm';
			fmt_int(buf, &w, u % 60);
			u /= 60;
			if (u > 0) {
				buf[--w] = 'h';
				fmt_int(buf, &w, u);
			}
		}
	}
done:
	if (neg)
		buf[--w] = '-';
	snprintf(out, len, "%.*s", (int)(sizeof(buf) - w), buf + w);
	return out;
}
