# tests for health/: every transition, the backoff, the ejection cap and
# rise/fall counting (check_hc_state); workers reporting and reading on 4
# threads while the control thread ticks and syncs new tables
# (check_hc_concurrency, also meant for a -fsanitize=thread build).
HEALTH_SUITES = check_hc_state check_hc_concurrency
check_PROGRAMS += $(HEALTH_SUITES)
TESTS += $(HEALTH_SUITES)

check_hc_state_SOURCES = %reldir%/check_hc_state.c %reldir%/check_main.h
check_hc_state_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
check_hc_state_LDADD = libhealth.la libroutes.la $(CHECK_LIBS) -lm

check_hc_concurrency_SOURCES = %reldir%/check_hc_concurrency.c %reldir%/check_main.h
check_hc_concurrency_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
check_hc_concurrency_LDADD = libhealth.la libroutes.la $(CHECK_LIBS) -lm

# check_hc_probe: probes against loopback servers on the test's own base
check_PROGRAMS += check_hc_probe
TESTS += check_hc_probe
check_hc_probe_SOURCES = %reldir%/check_hc_probe.c %reldir%/check_main.h \
	%reldir%/check_port.h
check_hc_probe_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBEVENT_CFLAGS)
check_hc_probe_LDADD = libhealth.la libroutes.la $(CHECK_LIBS) $(LIBEVENT_LIBS) -lm
