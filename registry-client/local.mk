# registry-client: the Consul client (a convenience library) and
# libregistrar, the installed shared library built on it.
noinst_LTLIBRARIES += libconsulclient.la
libconsulclient_la_SOURCES = \
	%reldir%/consul_http.c %reldir%/consul_http.h \
	%reldir%/consul_json.c %reldir%/consul_json.h \
	%reldir%/consul_json_encode.c %reldir%/consul_json_internal.h \
	%reldir%/consul_base64.c %reldir%/consul_base64.h \
	%reldir%/consul_http_internal.h \
	%reldir%/consul_api.c %reldir%/consul_api.h \
	%reldir%/consul_watch.c %reldir%/consul_watch.h \
	%reldir%/consul_watch_internal.h \
	%reldir%/consul_watch_curl.c \
	%reldir%/consul_watch_ev.c \
	%reldir%/consul_watch_addr.c %reldir%/consul_watch_addr.h
libconsulclient_la_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) $(CJSON_CFLAGS) $(LIBEVENT_CFLAGS)
libconsulclient_la_LIBADD = $(CURL_LIBS) $(CJSON_LIBS) $(LIBEVENT_LIBS)

lib_LTLIBRARIES += libregistrar.la
libregistrar_la_SOURCES = %reldir%/registrar.c %reldir%/registrar-internal.h \
	%reldir%/registrar_spec.c %reldir%/registrar_sync.c %reldir%/registrar_thread.c
libregistrar_la_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) $(CJSON_CFLAGS)
libregistrar_la_LIBADD = libconsulclient.la
libregistrar_la_LDFLAGS = $(AM_LDFLAGS) -version-info 0:0:0 -export-symbols-regex '^registrar_'

EXTRA_DIST += %reldir%/registrar.pc.in
