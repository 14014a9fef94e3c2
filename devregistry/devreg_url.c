/*
 * devreg_url.c - the two address forms check definitions carry: HTTP URLs
 * and TCP "host:port".
 */
#include "devregistry/devreg_url.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int
devreg_hostport_split(const char *addr, char **host, int *port)
{
	const char *colon;
	char *end;
	long p;
	size_t hlen;

	*host = NULL;
	if (addr == NULL)
		return -EINVAL;
	if (*addr == '[') {
		const char *rb = strchr(addr, ']');

		if (rb == NULL || rb[1] != ':')
			return -EINVAL;
		colon = rb + 1;
		hlen = (size_t)(rb - addr - 1);
		addr++;
	} else {
		colon = strrchr(addr, ':');
		if (colon == NULL)
			return -EINVAL;
		hlen = (size_t)(colon - addr);
	}
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || end == colon + 1 || p < 0 || p > 65535)
		return -EINVAL;
	*host = strndup(addr, hlen);
	if (*host == NULL)
		return -ENOMEM;
	*port = (int)p;
	return 0;
}

int
devreg_url_split(const char *url, int *https, char **host, int *port,
		 char **authority, char **target)
{
	const char *p, *auth_end, *at, *hp, *rb;
	size_t n;
	int rc = -EINVAL;

	*host = *authority = *target = NULL;
	if (strncasecmp(url, "http://", 7) == 0) {
		*https = 0;
		p = url + 7;
	} else if (strncasecmp(url, "https://", 8) == 0) {
		*https = 1;
		p = url + 8;
	} else {
		return -EINVAL;
	}
	auth_end = p + strcspn(p, "/?#");
	/* userinfo@ is not part of the host; like Go's net/url, the last '@'
	 * ends it, since a password may hold an unescaped '@'. */
	at = memrchr(p, '@', (size_t)(auth_end - p));
	hp = at != NULL ? at + 1 : p;
	n = (size_t)(auth_end - hp);
	if (n == 0)
		return -EINVAL;
	*authority = strndup(hp, n);
	if (*authority == NULL)
		return -ENOMEM;
	rb = **authority == '[' ? strchr(*authority, ']') : NULL;
	if (**authority == '[' && rb == NULL)
		goto fail;
	if (rb != NULL && rb[1] == '\0') {
		/* "[::1]" or fabio's "[127.0.0.1]" without a port. */
		*host = strndup(*authority + 1, (size_t)(rb - *authority - 1));
		*port = *https ? 443 : 80;
	} else if ((rb != NULL && rb[1] == ':') ||
		   (rb == NULL && strchr(*authority, ':') != NULL)) {
		if (devreg_hostport_split(*authority, host, port) < 0)
			goto fail;
	} else if (rb == NULL) {
		*host = strdup(*authority);
		*port = *https ? 443 : 80;
	} else {
		goto fail;
	}
	if (*host == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	if (**host == '\0')
		goto fail;
	p = auth_end;
	n = strcspn(p, "#");
	if (n == 0 || *p != '/')
		rc = asprintf(target, "/%.*s", (int)n, p);
	else
		rc = asprintf(target, "%.*s", (int)n, p);
	if (rc < 0) {
		*target = NULL;
		rc = -ENOMEM;
		goto fail;
	}
	return 0;
fail:
	free(*host);
	free(*authority);
	free(*target);
	*host = *authority = *target = NULL;
	return rc == -ENOMEM ? rc : -EINVAL;
}

