/*
 * fuzz_rt_parse.c - libFuzzer target for the route language. Besides not
 * crashing, every command read must print (rt_cmd_format) as a line that
 * reads back as the same command, and every error must carry a line
 * number inside the text and a field.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "routes/rt_cmd.h"
#include "routes/rt_parse.h"
#include "tests/rt_cmd_testutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_round_trip(const struct rt_cmd *c)
{
	struct rt_cmd_list again = { 0 };
	char *s = rt_cmd_format(c), *s2;

	if (!s)
		return;
	if (rt_parse(s, strlen(s), &again) < 0)
		goto out;
	if (again.n != 1 || again.nerrs != 0)
		abort();
	if (rt_test_cmd_diff(c, &again.v[0]) != NULL)
		abort();
	s2 = rt_cmd_format(&again.v[0]);
	if (s2 && strcmp(s, s2) != 0)
		abort();
	free(s2);
out:
	rt_cmd_list_clear(&again);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rt_cmd_list l = { 0 };
	size_t lines = 1;

	for (size_t i = 0; i < size; i++)
		if (data[i] == '\n')
			lines++;
	if (rt_parse((const char *)data, size, &l) == 0) {
		for (size_t i = 0; i < l.nerrs; i++)
			if (l.errs[i].line < 1 || l.errs[i].line > lines ||
			    !l.errs[i].field[0] || !l.errs[i].msg[0])
				abort();
		for (size_t i = 0; i < l.n; i++) {
			if (l.v[i].line < 1 || l.v[i].line > lines)
				abort();
			check_round_trip(&l.v[i]);
		}
	}
	rt_cmd_list_clear(&l);
	return 0;
}
