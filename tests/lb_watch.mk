# tests for lb/ watch part
# check_lb_instances: the status filter and the override text, on decoded
# fixtures. check_lb_watch: lb_watch against an in-process dev registry
# (port 0), driven through consul_api from the test thread.
LB_WATCH_TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBEVENT_CFLAGS) \
	$(CURL_CFLAGS) $(CJSON_CFLAGS)
LB_WATCH_TEST_LIBS = liblb.la $(CHECK_LIBS) $(LIBEVENT_LIBS) \
	$(CURL_LIBS) $(CJSON_LIBS) $(OPENSSL_LIBS) -lm

check_PROGRAMS += check_lb_instances check_lb_watch
TESTS += check_lb_instances check_lb_watch

check_lb_instances_SOURCES = %reldir%/check_lb_instances.c %reldir%/check_main.h
check_lb_instances_CFLAGS = $(LB_WATCH_TEST_CFLAGS)
check_lb_instances_LDADD = $(LB_WATCH_TEST_LIBS)

check_lb_watch_SOURCES = %reldir%/check_lb_watch.c %reldir%/check_main.h \
	%reldir%/check_port.h
check_lb_watch_CFLAGS = $(LB_WATCH_TEST_CFLAGS)
check_lb_watch_LDADD = $(LB_WATCH_TEST_LIBS)
