# tests for routes/: tags and the route language (rt_cmd, rt_tags, rt_parse)
ROUTES_PARSE_TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
ROUTES_PARSE_TEST_LIBS = libroutes.la $(CHECK_LIBS) -lm

check_PROGRAMS += check_rt_cmd check_rt_parse check_rt_tags
TESTS += check_rt_cmd check_rt_parse check_rt_tags
EXTRA_DIST += %reldir%/rt_cmd_testutil.h

check_rt_parse_SOURCES = %reldir%/check_rt_parse.c %reldir%/rt_cmd_testutil.h
check_rt_parse_CFLAGS = $(ROUTES_PARSE_TEST_CFLAGS)
check_rt_parse_LDADD = $(ROUTES_PARSE_TEST_LIBS)

check_rt_tags_SOURCES = %reldir%/check_rt_tags.c %reldir%/rt_cmd_testutil.h
check_rt_tags_CFLAGS = $(ROUTES_PARSE_TEST_CFLAGS)
check_rt_tags_LDADD = $(ROUTES_PARSE_TEST_LIBS)

check_rt_cmd_SOURCES = %reldir%/check_rt_cmd.c %reldir%/check_main.h
check_rt_cmd_CFLAGS = $(ROUTES_PARSE_TEST_CFLAGS)
check_rt_cmd_LDADD = $(ROUTES_PARSE_TEST_LIBS)
