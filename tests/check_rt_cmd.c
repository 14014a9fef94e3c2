/*
 * check_rt_cmd.c - route commands' storage: strings carved from storage
 * shared by many commands (rt_cmd_store) stay valid while any command
 * holding that storage lives, wherever the commands were moved; a packed
 * command can be unpacked and edited field by field; copies are deep.
 * Run under ASan, a wrong reference count shows up as a use after free or
 * a leak.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "routes/rt_cmd.h"

/* Pack service, src and one tag of a new add command into l's storage,
 * the way rt_tags lays out the commands it generates. */
static struct rt_cmd *
push_packed(struct rt_cmd_list *l, const char *service, const char *src,
	    const char *tag)
{
	size_t ls = strlen(service) + 1, lp = strlen(src) + 1;
	size_t lt = strlen(tag) + 1;
	struct rt_cmd *c = rt_cmd_list_push(l);
	char **tags;
	char *p;

	ck_assert_ptr_nonnull(c);
	c->kind = RT_CMD_ADD;
	tags = rt_cmd_store(l, c, sizeof(char *) + ls + lp + lt);
	ck_assert_ptr_nonnull(tags);
	ck_assert_uint_eq((uintptr_t)tags % sizeof(void *), 0);
	p = (char *)(tags + 1);
	c->service = memcpy(p, service, ls);
	c->src = memcpy(p + ls, src, lp);
	c->path = c->src;
	tags[0] = memcpy(p + ls + lp, tag, lt);
	c->tags = tags;
	c->ntags = 1;
	return c;
}

START_TEST(test_store_shared_by_many_commands)
{
	struct rt_cmd_list l = { 0 };
	char name[32];

	/* enough commands to need several chunks of storage */
	for (int i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "svc-%d", i);
		push_packed(&l, name, "/some/longer/path/for/the/route", "blue");
	}
	ck_assert_uint_eq(l.n, 2000);
	ck_assert_ptr_nonnull(l.v[0].block);
	ck_assert_ptr_ne(l.v[0].block, l.v[1999].block);
	ck_assert_ptr_eq(l.v[0].block, l.v[1].block);
	for (int i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "svc-%d", i);
		ck_assert_str_eq(l.v[i].service, name);
		ck_assert_str_eq(l.v[i].tags[0], "blue");
	}
	rt_cmd_list_clear(&l);
	ck_assert_uint_eq(l.n, 0);
	ck_assert_ptr_null(l.store);
}
END_TEST

START_TEST(test_commands_outlive_their_list)
{
	struct rt_cmd_list l = { 0 };
	struct rt_cmd keep[3];

	push_packed(&l, "a", "/a", "t1");
	push_packed(&l, "b", "/b", "t2");
	push_packed(&l, "c", "/c", "t3");
	/* move the commands out and drop the list: its storage reference
	 * goes, the commands' references keep the strings */
	memcpy(keep, l.v, sizeof(keep));
	l.n = 0;
	rt_cmd_list_clear(&l);
	ck_assert_str_eq(keep[0].service, "a");
	ck_assert_str_eq(keep[2].tags[0], "t3");
	rt_cmd_clear(&keep[1]);
	ck_assert_ptr_null(keep[1].service);
	ck_assert_ptr_null(keep[1].block);
	/* the others still read their strings after one was cleared */
	ck_assert_str_eq(keep[0].path, "/a");
	ck_assert_str_eq(keep[2].service, "c");
	rt_cmd_clear(&keep[0]);
	rt_cmd_clear(&keep[2]);
	rt_cmd_clear(&keep[2]); /* idempotent */
}
END_TEST

START_TEST(test_unpack_then_edit)
{
	struct rt_cmd_list l = { 0 };
	struct rt_cmd *c, *d;

	push_packed(&l, "web", "/web", "green");
	push_packed(&l, "api", "/api", "blue");
	c = &l.v[0];
	d = &l.v[1];
	ck_assert_int_eq(rt_cmd_unpack(c), 0);
	ck_assert_ptr_null(c->block);
	ck_assert_str_eq(c->service, "web");
	ck_assert_str_eq(c->tags[0], "green");
	/* each field is now an allocation of its own */
	free(c->service);
	c->service = strdup("web2");
	ck_assert_ptr_nonnull(c->service);
	free(c->tags[0]);
	c->tags[0] = strdup("canary");
	ck_assert_ptr_nonnull(c->tags[0]);
	/* unpacking again is a no-op */
	ck_assert_int_eq(rt_cmd_unpack(c), 0);
	ck_assert_str_eq(c->service, "web2");
	/* the neighbour in the same storage is untouched */
	ck_assert_ptr_nonnull(d->block);
	ck_assert_str_eq(d->service, "api");
	ck_assert_str_eq(d->tags[0], "blue");
	rt_cmd_list_clear(&l);
}
END_TEST

START_TEST(test_copy_is_deep)
{
	struct rt_cmd_list l = { 0 };
	struct rt_cmd copy;
	char *line;

	push_packed(&l, "web", "/web", "green");
	l.v[0].dst = NULL;
	l.v[0].has_weight = 1;
	l.v[0].weight = 0.25;
	l.v[0].consul_down = 1;
	ck_assert_int_eq(rt_cmd_copy(&copy, &l.v[0]), 0);
	rt_cmd_list_clear(&l);
	ck_assert_ptr_null(copy.block);
	ck_assert_str_eq(copy.service, "web");
	ck_assert_str_eq(copy.src, "/web");
	ck_assert_str_eq(copy.tags[0], "green");
	ck_assert(copy.has_weight && copy.weight == 0.25);
	ck_assert_int_eq(copy.consul_down, 1);
	line = rt_cmd_format(&copy);
	ck_assert_ptr_nonnull(line);
	ck_assert_ptr_nonnull(strstr(line, "route add web /web"));
	ck_assert_ptr_nonnull(strstr(line, "weight 0.25"));
	ck_assert_ptr_nonnull(strstr(line, "tags \"green\""));
	free(line);
	rt_cmd_clear(&copy);
}
END_TEST

START_TEST(test_large_block_of_its_own)
{
	struct rt_cmd_list l = { 0 };
	struct rt_cmd *small, *big;
	size_t n = 64 * 1024;
	char *p;

	small = rt_cmd_list_push(&l);
	ck_assert_ptr_nonnull(rt_cmd_store(&l, small, 16));
	big = rt_cmd_list_push(&l);
	small = &l.v[0]; /* the push may have moved it */
	p = rt_cmd_store(&l, big, n);
	ck_assert_ptr_nonnull(p);
	memset(p, 'x', n); /* the whole size is usable */
	ck_assert_ptr_ne(small->block, big->block);
	/* an impossible size is refused, not wrapped around */
	ck_assert_ptr_null(rt_cmd_store(&l, rt_cmd_list_push(&l), SIZE_MAX));
	rt_cmd_list_clear(&l);
}
END_TEST

START_TEST(test_errors_recorded)
{
	struct rt_cmd_list l = { 0 };

	ck_assert_int_eq(rt_cmd_list_error(&l, 7, "weight", "bad weight \"%s\"",
					   "x"), 0);
	ck_assert_uint_eq(l.nerrs, 1);
	ck_assert_uint_eq(l.errs[0].line, 7);
	ck_assert_str_eq(l.errs[0].field, "weight");
	ck_assert_ptr_nonnull(strstr(l.errs[0].msg, "bad weight \"x\""));
	rt_cmd_list_clear(&l);
	ck_assert_uint_eq(l.nerrs, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rt_cmd");
	TCase *tc = tcase_create("storage");

	tcase_add_test(tc, test_store_shared_by_many_commands);
	tcase_add_test(tc, test_commands_outlive_their_list);
	tcase_add_test(tc, test_unpack_then_edit);
	tcase_add_test(tc, test_copy_is_deep);
	tcase_add_test(tc, test_large_block_of_its_own);
	tcase_add_test(tc, test_errors_recorded);
	suite_add_tcase(s, tc);
	return check_main_run(s);
}
