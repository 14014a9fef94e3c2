# tests for the client part: registry-client/ (libconsulclient)
CLIENT_TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(CJSON_CFLAGS) \
	$(CURL_CFLAGS) $(LIBEVENT_CFLAGS)
CLIENT_TEST_LIBS = libconsulclient.la $(CHECK_LIBS) $(CJSON_LIBS) \
	$(CURL_LIBS) $(LIBEVENT_LIBS)

check_PROGRAMS += check_consul_json check_consul_http check_consul_watch
TESTS += check_consul_json check_consul_http check_consul_watch

check_consul_json_SOURCES = %reldir%/check_consul_json.c %reldir%/check_main.h
check_consul_json_CFLAGS = $(CLIENT_TEST_CFLAGS)
check_consul_json_LDADD = $(CLIENT_TEST_LIBS)

check_consul_http_SOURCES = %reldir%/check_consul_http.c %reldir%/check_main.h \
	%reldir%/check_port.h
check_consul_http_CFLAGS = $(CLIENT_TEST_CFLAGS)
check_consul_http_LDADD = $(CLIENT_TEST_LIBS)

# OpenSSL: the https watch test runs its own TLS server.
check_consul_watch_SOURCES = %reldir%/check_consul_watch.c %reldir%/check_main.h \
	%reldir%/check_port.h
check_consul_watch_CFLAGS = $(CLIENT_TEST_CFLAGS) $(OPENSSL_CFLAGS)
check_consul_watch_LDADD = $(CLIENT_TEST_LIBS) $(OPENSSL_LIBS)

# The wake-up benchmark: a blocked watch against a running agent
# (scripts and it_watch_wake.sh run it against switchyard-registry).
noinst_PROGRAMS += bench_watch_latency
bench_watch_latency_SOURCES = %reldir%/bench/bench_watch_latency.c %reldir%/bench/bench_stats.h
bench_watch_latency_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(CURL_CFLAGS) \
	$(LIBEVENT_CFLAGS)
bench_watch_latency_LDADD = libconsulclient.la $(CJSON_LIBS) $(CURL_LIBS) \
	$(LIBEVENT_LIBS)

TESTS += %reldir%/it_watch_wake.sh
dist_check_SCRIPTS += %reldir%/it_watch_wake.sh
