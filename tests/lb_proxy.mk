# tests for lb/ proxy part: Check suites for the pure parts, the harness
# that runs the data path without Consul, and the integration script.
LB_PROXY_TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBEVENT_CFLAGS)
LB_PROXY_TEST_LIBS = liblb.la $(CHECK_LIBS) $(LIBEVENT_LIBS) -lm

LB_PROXY_SUITES = check_lb_http1 check_lb_h1req check_lb_headers check_lb_rewrite \
	check_lb_log
check_PROGRAMS += $(LB_PROXY_SUITES) lb_proxy_harness
TESTS += $(LB_PROXY_SUITES) %reldir%/it_proxy.sh
dist_check_SCRIPTS += %reldir%/it_proxy.sh
EXTRA_DIST += %reldir%/proxy_backend.py

check_lb_http1_SOURCES = %reldir%/check_lb_http1.c %reldir%/check_main.h
check_lb_http1_CFLAGS = $(LB_PROXY_TEST_CFLAGS)
check_lb_http1_LDADD = $(LB_PROXY_TEST_LIBS)

check_lb_h1req_SOURCES = %reldir%/check_lb_h1req.c %reldir%/check_main.h
check_lb_h1req_CFLAGS = $(LB_PROXY_TEST_CFLAGS)
check_lb_h1req_LDADD = $(LB_PROXY_TEST_LIBS)

check_lb_headers_SOURCES = %reldir%/check_lb_headers.c %reldir%/check_main.h
check_lb_headers_CFLAGS = $(LB_PROXY_TEST_CFLAGS)
check_lb_headers_LDADD = $(LB_PROXY_TEST_LIBS)

check_lb_rewrite_SOURCES = %reldir%/check_lb_rewrite.c %reldir%/check_main.h
check_lb_rewrite_CFLAGS = $(LB_PROXY_TEST_CFLAGS)
check_lb_rewrite_LDADD = $(LB_PROXY_TEST_LIBS)

check_lb_log_SOURCES = %reldir%/check_lb_log.c %reldir%/check_main.h
check_lb_log_CFLAGS = $(LB_PROXY_TEST_CFLAGS)
check_lb_log_LDADD = $(LB_PROXY_TEST_LIBS)

lb_proxy_harness_SOURCES = %reldir%/lb_proxy_harness.c
lb_proxy_harness_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
lb_proxy_harness_LDADD = liblb.la $(LIBEVENT_LIBS) -lm
