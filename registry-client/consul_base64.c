/*
 * consul_base64.c - strict standard base64 decoding for KV values. Consul
 * encodes with Go's base64.StdEncoding, which always pads and never leaves
 * stray bits, so anything else is treated as corrupt rather than guessed at.
 */
#include "registry-client/consul_base64.h"

#include <errno.h>
#include <stdlib.h>

/* The value of one alphabet character, or -1. */
static int sextet(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

int consul_base64_decode(const char *in, size_t len, unsigned char **out,
			 size_t *out_len)
{
	size_t pad = 0, n = 0;
	unsigned char *buf;

	if (len % 4 != 0)
		return -EINVAL;
	if (len >= 1 && in[len - 1] == '=')
		pad++;
	if (pad == 1 && in[len - 2] == '=')
		pad++;
	buf = malloc(len / 4 * 3 + 1);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < len; i += 4) {
		int last = i + 4 == len;
		size_t used = last ? 4 - pad : 4; /* characters carrying bits */
		unsigned long v = 0;

		for (size_t j = 0; j < 4; j++) {
			int s = 0;
			if (j < used) {
				s = sextet((unsigned char)in[i + j]);
				if (s < 0)
					goto bad;
			}
			v = v << 6 | (unsigned long)s;
		}
		if (!last || pad == 0) {
			buf[n++] = (unsigned char)(v >> 16);
			buf[n++] = (unsigned char)(v >> 8);
			buf[n++] = (unsigned char)v;
		} else if (pad == 1) {
			if (v & 0xff)
				goto bad;
			buf[n++] = (unsigned char)(v >> 16);
			buf[n++] = (unsigned char)(v >> 8);
		} else {
			if (v & 0xffff)
				goto bad;
			buf[n++] = (unsigned char)(v >> 16);
		}
	}
	buf[n] = '\0';
	*out = buf;
	*out_len = n;
	return 0;
bad:
	free(buf);
	return -EINVAL;
}
