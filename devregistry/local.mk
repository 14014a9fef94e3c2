# devregistry: switchyard-registry, the Consul-compatible dev agent, built
# as a convenience library too so the daemon can embed it.
noinst_LTLIBRARIES += libdevreg.la
libdevreg_la_SOURCES = \
	%reldir%/devreg.h %reldir%/devreg.c \
	%reldir%/devreg_api.h %reldir%/devreg_api_agent.c \
	%reldir%/devreg_api_catalog.c %reldir%/devreg_api_kv.c \
	%reldir%/devreg_checks.c %reldir%/devreg_checks.h \
	%reldir%/devreg_decode.c %reldir%/devreg_decode.h \
	%reldir%/devreg_def.c %reldir%/devreg_def.h \
	%reldir%/devreg_duration.c %reldir%/devreg_duration.h \
	%reldir%/devreg_http.c %reldir%/devreg_http.h \
	%reldir%/devreg_jsonout.c %reldir%/devreg_jsonout.h \
	%reldir%/devreg_kv.c \
	%reldir%/devreg_log.c %reldir%/devreg_log.h \
	%reldir%/devreg_map.c %reldir%/devreg_map.h \
	%reldir%/devreg_probe.c %reldir%/devreg_probe.h \
	%reldir%/devreg_query.c \
	%reldir%/devreg_rand.c %reldir%/devreg_rand.h \
	%reldir%/devreg_render.c %reldir%/devreg_render.h \
	%reldir%/devreg_store.c %reldir%/devreg_store.h \
	%reldir%/devreg_url.c %reldir%/devreg_url.h
libdevreg_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(CJSON_CFLAGS) $(OPENSSL_CFLAGS)
libdevreg_la_LIBADD = $(LIBEVENT_LIBS) $(CJSON_LIBS) $(OPENSSL_LIBS) -lm

bin_PROGRAMS += switchyard-registry
switchyard_registry_SOURCES = %reldir%/devreg_main.c
switchyard_registry_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
switchyard_registry_LDADD = libdevreg.la

dist_man_MANS += man/switchyard-registry.8
