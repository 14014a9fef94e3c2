/*
 * consul_base64.h - private to registry-client: the standard base64 of KV
 * Value fields (RFC 4648 alphabet, '=' padding), decoded strictly.
 */
#ifndef CONSUL_BASE64_H
#define CONSUL_BASE64_H

#include <stddef.h>

/*
 * Decode len characters of in. On success *out is a malloc'd buffer of
 * *out_len bytes followed by a NUL that is not counted (the caller frees
 * it) and 0 is returned. Input whose length is not a multiple of 4, with a
 * character outside the alphabet, '=' anywhere but the last one or two
 * places, or non-zero bits left over before the padding, gives -EINVAL;
 * out of memory gives -ENOMEM. Nothing is allocated on failure.
 */
int consul_base64_decode(const char *in, size_t len, unsigned char **out,
			 size_t *out_len);

#endif
