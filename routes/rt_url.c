/*
 * rt_url.c - checking the URLs of route commands (dst, redirect targets)
 * and naming protocols.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "routes/rt_url.h"

static const struct {
	const char *name;
	size_t len;
	enum rt_proto proto;
} protos[] = {
	{ "http", 4, RT_PROTO_HTTP },
	{ "https", 5, RT_PROTO_HTTPS },
	{ "tcp", 3, RT_PROTO_TCP },
	{ "grpc", 4, RT_PROTO_GRPC },
	{ "grpcs", 5, RT_PROTO_GRPCS },
};

int rt_proto_parse(const char *s, size_t len, enum rt_proto *proto)
{
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		if (protos[i].len == len && memcmp(protos[i].name, s, len) == 0) {
			*proto = protos[i].proto;
			return 0;
		}
	}
	return -EINVAL;
}

const char *rt_proto_name(enum rt_proto proto)
{
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (protos[i].proto == proto)
			return protos[i].name;
	return "http";
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Sets of ASCII bytes, bit c of word c / 64, so that a URL is checked
 * with one test per byte (every generated dst goes through here):
 * RFC 3986 reg-name characters (unreserved, sub-delims and '%'), scheme
 * characters (ALPHA DIGIT + - .) and the bytes that end the authority.
 */
static const uint64_t host_set[2] = {
	UINT64_C(0x2bff7ff200000000), UINT64_C(0x47fffffe87fffffe)
};
static const uint64_t scheme_set[2] = {
	UINT64_C(0x03ff680000000000), UINT64_C(0x07fffffe07fffffe)
};
static const uint64_t auth_end_set[2] = {
	UINT64_C(0x8000800800000000), 0
};

static int in_set(const uint64_t set[2], char ch)
{
	unsigned char c = (unsigned char)ch;

	return c < 128 && ((set[c >> 6] >> (c & 63)) & 1);
}

static int is_host_char(char c)
{
	return in_set(host_set, c);
}

int rt_url_host_ok(const char *s, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!is_host_char(s[i]))
			return 0;
	return 1;
}

static int check_port(const char *s, size_t len)
{
	unsigned long v = 0;

	if (len == 0 || len > 5)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	return v >= 1 && v <= 65535 ? 0 : -EINVAL;
}

/* "[v6addr%zone]" followed by nothing or ":port". */
static int check_bracketed(const char *a, size_t len, const char **why)
{
	const char *close = memchr(a, ']', len);
	char buf[INET6_ADDRSTRLEN + 1];
	unsigned char bin[16];
	size_t inner, addr_len;
	const char *pct;

	if (!close) {
		*why = "unclosed [ in host";
		return -EINVAL;
	}
	inner = (size_t)(close - a) - 1;
	pct = memchr(a + 1, '%', inner);
	addr_len = pct ? (size_t)(pct - (a + 1)) : inner;
	if (pct) {
		size_t zlen = inner - addr_len - 1;

		if (zlen == 0) {
			*why = "empty IPv6 zone";
			return -EINVAL;
		}
		for (size_t i = 0; i < zlen; i++) {
			char c = pct[1 + i];

			if (!is_alpha(c) && !is_digit(c) && !strchr("-._~%", c)) {
				*why = "bad IPv6 zone";
				return -EINVAL;
			}
		}
	}
	if (addr_len == 0 || addr_len >= sizeof(buf)) {
		*why = "bad IPv6 address";
		return -EINVAL;
	}
	memcpy(buf, a + 1, addr_len);
	buf[addr_len] = '\0';
	if (inet_pton(AF_INET6, buf, bin) != 1) {
		*why = "bad IPv6 address";
		return -EINVAL;
	}
	a = close + 1;
	len -= inner + 2;
	if (len == 0)
		return 0;
	if (a[0] != ':' || check_port(a + 1, len - 1) < 0) {
		*why = "bad port";
		return -EINVAL;
	}
	return 0;
}

static int check_authority(const char *a, size_t len, const char **why)
{
	const char *colon;
	size_t hlen;

	if (len == 0) {
		*why = "no host";
		return -EINVAL;
	}
	if (memchr(a, '@', len)) {
		*why = "user info is not supported";
		return -EINVAL;
	}
	if (a[0] == '[')
		return check_bracketed(a, len, why);
	colon = memchr(a, ':', len);
	if (colon && memchr(colon + 1, ':', len - (size_t)(colon - a) - 1)) {
		*why = "an IPv6 address needs brackets";
		return -EINVAL;
	}
	hlen = colon ? (size_t)(colon - a) : len;
	if (hlen == 0) {
		*why = "no host";
		return -EINVAL;
	}
	for (size_t i = 0; i < hlen; i++) {
		if (!is_host_char(a[i])) {
			*why = "bad character in host";
			return -EINVAL;
		}
	}
	if (!colon)
		return 0;
	if (check_port(colon + 1, len - hlen - 1) < 0) {
		*why = "bad port";
		return -EINVAL;
	}
	return 0;
}

int rt_url_check(const char *s, size_t len, enum rt_proto *proto,
		 const char **why)
{
	char scheme[8];
	size_t i = 0, alen;
	const char *auth;

	*why = "";
	if (len == 0 || !is_alpha(s[0])) {
		*why = "no scheme://";
		return -EINVAL;
	}
	while (i < len && in_set(scheme_set, s[i]))
		i++;
	if (len - i < 3 || memcmp(s + i, "://", 3) != 0) {
		*why = "no scheme://";
		return -EINVAL;
	}
	if (i >= sizeof(scheme)) {
		*why = "unsupported scheme";
		return -EINVAL;
	}
	for (size_t k = 0; k < i; k++)
		scheme[k] = (char)(s[k] | 0x20);
	if (rt_proto_parse(scheme, i, proto) < 0) {
		*why = "unsupported scheme";
		return -EINVAL;
	}
	auth = s + i + 3;
	alen = 0;
	while (auth + alen < s + len && !in_set(auth_end_set, auth[alen]))
		alen++;
	if (check_authority(auth, alen, why) < 0)
		return -EINVAL;
	for (const char *p = auth + alen; p < s + len; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= 0x20 || c == 0x7f) {
			*why = "space or control character";
			return -EINVAL;
		}
	}
	return 0;
}
