# tests for routes/: the table, matching, weights, picking, publishing; benchmark
# The table's suites: path normalisation and matchers (check_rt_path),
# fabio's weight arithmetic (check_rt_weight), and building, lookup,
# dump/delta, reference counting and mailboxes (check_rt_table).
ROUTES_TABLE_SUITES = check_rt_path check_rt_weight check_rt_table
check_PROGRAMS += $(ROUTES_TABLE_SUITES)
TESTS += $(ROUTES_TABLE_SUITES)
EXTRA_DIST += %reldir%/rt_table_testutil.h

check_rt_path_SOURCES = %reldir%/check_rt_path.c %reldir%/rt_table_testutil.h
check_rt_path_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
check_rt_path_LDADD = libroutes.la $(CHECK_LIBS) -lm

check_rt_weight_SOURCES = %reldir%/check_rt_weight.c %reldir%/rt_table_testutil.h
check_rt_weight_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
check_rt_weight_LDADD = libroutes.la $(CHECK_LIBS) -lm

check_rt_table_SOURCES = %reldir%/check_rt_table.c %reldir%/rt_table_testutil.h
check_rt_table_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
check_rt_table_LDADD = libroutes.la $(CHECK_LIBS) -lm
