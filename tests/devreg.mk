# tests for the devreg part: Check suites for the pure parts of the dev
# registry, integration scripts against a running switchyard-registry, and
# (outside TESTS) its memory benchmark.
DEVREG_SUITES = check_devreg_duration check_devreg_decode check_devreg_store \
	check_devreg_wire
check_PROGRAMS += $(DEVREG_SUITES)
TESTS += $(DEVREG_SUITES)

check_devreg_duration_SOURCES = %reldir%/check_devreg_duration.c %reldir%/check_main.h
check_devreg_duration_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBEVENT_CFLAGS) $(CJSON_CFLAGS)
check_devreg_duration_LDADD = libdevreg.la $(CHECK_LIBS)

check_devreg_decode_SOURCES = %reldir%/check_devreg_decode.c %reldir%/check_main.h
check_devreg_decode_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBEVENT_CFLAGS) $(CJSON_CFLAGS)
check_devreg_decode_LDADD = libdevreg.la $(CHECK_LIBS)

check_devreg_store_SOURCES = %reldir%/check_devreg_store.c %reldir%/check_main.h
check_devreg_store_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBEVENT_CFLAGS) $(CJSON_CFLAGS)
check_devreg_store_LDADD = libdevreg.la $(CHECK_LIBS)

check_devreg_wire_SOURCES = %reldir%/check_devreg_wire.c %reldir%/check_main.h
check_devreg_wire_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBEVENT_CFLAGS) $(CJSON_CFLAGS)
check_devreg_wire_LDADD = libdevreg.la $(CHECK_LIBS)

DEVREG_IT = %reldir%/it_devreg_badinput.sh %reldir%/it_devreg_checks.sh \
	%reldir%/it_python_consul.py
TESTS += $(DEVREG_IT)
dist_check_SCRIPTS += $(DEVREG_IT)
EXTRA_DIST += %reldir%/bench/bench_registry.sh %reldir%/bench/bench_registry_rss.sh %reldir%/bench/bench_registry_rss.py
