/*
 * rt_cmd_testutil.h - comparing route commands in the routes tests and
 * fuzz targets: equal except the line number and the instance, which the
 * route language does not carry.
 */
#ifndef RT_CMD_TESTUTIL_H
#define RT_CMD_TESTUTIL_H

#include <stdio.h>
#include <string.h>
#include "routes/rt_cmd.h"

static inline int rt_test_str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Returns NULL when equal, else the name of the first field that differs. */
static inline const char *rt_test_opts_diff(const struct rt_opts *a,
					    const struct rt_opts *b)
{
	if (!rt_test_str_eq(a->strip, b->strip))
		return "strip";
	if (!rt_test_str_eq(a->prepend, b->prepend))
		return "prepend";
	if (a->proto != b->proto)
		return "proto";
	if (a->tlsskipverify != b->tlsskipverify)
		return "tlsskipverify";
	if (!rt_test_str_eq(a->host, b->host))
		return "opts.host";
	if (a->redirect_code != b->redirect_code)
		return "redirect_code";
	if (!rt_test_str_eq(a->redirect_url, b->redirect_url))
		return "redirect_url";
	if (a->nallow != b->nallow ||
	    (a->nallow && memcmp(a->allow, b->allow, a->nallow * sizeof(*a->allow))))
		return "allow";
	if (a->ndeny != b->ndeny ||
	    (a->ndeny && memcmp(a->deny, b->deny, a->ndeny * sizeof(*a->deny))))
		return "deny";
	if (!rt_test_str_eq(a->register_name, b->register_name))
		return "register";
	if (!rt_test_str_eq(a->check, b->check))
		return "check";
	if (!rt_test_str_eq(a->raw, b->raw))
		return "raw";
	return NULL;
}

static inline const char *rt_test_cmd_diff(const struct rt_cmd *a,
					   const struct rt_cmd *b)
{
	if (a->kind != b->kind)
		return "kind";
	if (!rt_test_str_eq(a->service, b->service))
		return "service";
	if (!rt_test_str_eq(a->src, b->src))
		return "src";
	if (!rt_test_str_eq(a->host, b->host))
		return "host";
	if (!rt_test_str_eq(a->path, b->path))
		return "path";
	if (!rt_test_str_eq(a->dst, b->dst))
		return "dst";
	if (a->has_weight != b->has_weight ||
	    (a->has_weight && a->weight != b->weight))
		return "weight";
	if (a->ntags != b->ntags)
		return "ntags";
	for (size_t i = 0; i < a->ntags; i++)
		if (!rt_test_str_eq(a->tags[i], b->tags[i]))
			return "tags";
	return rt_test_opts_diff(&a->opts, &b->opts);
}

#endif
