/*
 * fuzz_devreg_url.c - libFuzzer target for the check targets a client
 * registers: "HTTP" URLs and "TCP"/"UDP" host:port strings. Beyond "no
 * crash" it checks:
 *  - a split URL has a non-empty host, a port in 0-65535, an authority
 *    with no '/', '?', '#' or '@' in it, and a target that starts with
 *    '/' and carries no fragment;
 *  - the split is canonical: "scheme://" + authority + target splits into
 *    the same parts again;
 *  - a failed split leaves every output NULL;
 *  - a split host:port gives a host no longer than the input and a port
 *    in 0-65535.
 */
#include "devregistry/devreg_url.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_url(const char *url)
{
	char *host, *auth, *target, *again;
	char *host2, *auth2, *target2;
	int https = -1, port = -1, https2 = -1, port2 = -1;
	int rc = devreg_url_split(url, &https, &host, &port, &auth, &target);

	if (rc != 0) {
		if ((rc != -EINVAL && rc != -ENOMEM) || host != NULL || auth != NULL ||
		    target != NULL)
			abort();
		return;
	}
	if (host == NULL || auth == NULL || target == NULL || *host == '\0' ||
	    *auth == '\0' || port < 0 || port > 65535 || (https != 0 && https != 1))
		abort();
	if (strpbrk(auth, "/?#@") != NULL || target[0] != '/' ||
	    strchr(target, '#') != NULL)
		abort();
	if (asprintf(&again, "%s://%s%s", https ? "https" : "http", auth, target) < 0)
		abort();
	if (devreg_url_split(again, &https2, &host2, &port2, &auth2, &target2) != 0 ||
	    https2 != https || port2 != port || strcmp(host2, host) != 0 ||
	    strcmp(auth2, auth) != 0 || strcmp(target2, target) != 0)
		abort();
	free(again);
	free(host2);
	free(auth2);
	free(target2);
	free(host);
	free(auth);
	free(target);
}

static void
check_hostport(const char *addr)
{
	char *host = NULL;
	int port = -1;
	int rc = devreg_hostport_split(addr, &host, &port);

	if (rc != 0) {
		if (host != NULL)
			abort();
		return;
	}
	if (host == NULL || strlen(host) >= strlen(addr) || port < 0 || port > 65535)
		abort();
	free(host);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_url(s);
	check_hostport(s);
	free(s);
	return 0;
}
