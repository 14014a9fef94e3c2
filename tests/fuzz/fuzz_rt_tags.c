/*
 * fuzz_rt_tags.c - libFuzzer target for Consul tags: the input split on
 * newlines is the tag list of an instance (tried with an IPv4 service
 * address, an IPv6 one and with only a node address). Every command made
 * must print as a line that reads back without error to the same route,
 * dst, weight and options; every error must have a field.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "routes/rt_cmd.h"
#include "routes/rt_parse.h"
#include "routes/rt_tags.h"
#include "tests/rt_cmd_testutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TAGS 64

static void check_round_trip(const struct rt_cmd *c)
{
	struct rt_cmd_list again = { 0 }, third = { 0 };
	char *s = rt_cmd_format(c), *s2 = NULL, *s3 = NULL;
	struct rt_cmd copy;
	int commas = 0;

	if (!s)
		return;
	if (rt_parse(s, strlen(s), &again) < 0)
		goto out;
	if (again.n != 1 || again.nerrs != 0)
		abort();
	/* A Consul tag may hold commas, which the language splits on, so the
	 * tags are compared only where that cannot happen. */
	for (size_t i = 0; i < c->ntags; i++)
		commas |= strchr(c->tags[i], ',') != NULL;
	copy = again.v[0];
	if (commas) {
		copy.tags = c->tags;
		copy.ntags = c->ntags;
	}
	if (rt_test_cmd_diff(c, &copy) != NULL)
		abort();
	/* printing what was read again is stable */
	s2 = rt_cmd_format(&again.v[0]);
	if (!s2 || rt_parse(s2, strlen(s2), &third) < 0 || third.n != 1)
		goto out;
	s3 = rt_cmd_format(&third.v[0]);
	if (s3 && strcmp(s2, s3) != 0)
		abort();
out:
	free(s3);
	free(s2);
	rt_cmd_list_clear(&third);
	rt_cmd_list_clear(&again);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const addrs[] = { "10.0.0.1", "fe80::1", "" };
	char *buf = malloc(size + 1);
	const char *tags[MAX_TAGS];
	size_t ntags = 0;
	char *p;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (p = buf; ntags < MAX_TAGS;) {
		char *nl = strchr(p, '\n');

		tags[ntags++] = p;
		if (!nl)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	for (size_t a = 0; a < sizeof(addrs) / sizeof(addrs[0]); a++) {
		struct rt_instance in = {
			.service = "web", .instance = "web-1", .node = "n1",
			.address = addrs[a], .node_address = "192.0.2.7",
			.port = 8080, .tags = tags, .ntags = ntags,
		};
		struct rt_cmd_list l = { 0 };

		if (rt_tags_commands(&in, "urlprefix-", "dc1", &l) == 0) {
			for (size_t i = 0; i < l.nerrs; i++)
				if (l.errs[i].line != 0 || !l.errs[i].field[0])
					abort();
			for (size_t i = 0; i < l.n; i++)
				check_round_trip(&l.v[i]);
		}
		rt_cmd_list_clear(&l);
	}
	free(buf);
	return 0;
}
