# tests for routes/: picking, concurrency; the routes benchmark
ROUTES_PICK_SUITES = check_rt_pick check_rt_concurrency
check_PROGRAMS += $(ROUTES_PICK_SUITES)
TESTS += $(ROUTES_PICK_SUITES)

check_rt_pick_SOURCES = %reldir%/check_rt_pick.c
check_rt_pick_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
check_rt_pick_LDADD = libroutes.la $(CHECK_LIBS) -lm

# 4 reader threads against a writer publishing 10,000 tables; also meant
# to be run from a build configured with -fsanitize=thread.
check_rt_concurrency_SOURCES = %reldir%/check_rt_concurrency.c
check_rt_concurrency_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
check_rt_concurrency_LDADD = libroutes.la $(CHECK_LIBS) -lm

# Build time, memory, lookup and pick figures next to their targets
# (tests/bench/README.md); built by make, not run by make check.
noinst_PROGRAMS += bench_routes
bench_routes_SOURCES = %reldir%/bench/bench_routes.c %reldir%/bench/bench_stats.h
bench_routes_LDADD = libroutes.la -lm
