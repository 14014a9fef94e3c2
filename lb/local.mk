# lb: the switchyard daemon's modules (a convenience library, so the
# program and the Check suites link the same objects).
noinst_LTLIBRARIES += liblb.la
# lb_health: the control thread's side of target health (health/)
liblb_la_SOURCES = $(LB_CONFIG_SOURCES) $(LB_WATCH_SOURCES) $(LB_PROXY_SOURCES) \
	%reldir%/lb_health.h %reldir%/lb_health.c
liblb_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(CURL_CFLAGS) $(CJSON_CFLAGS) $(OPENSSL_CFLAGS)
liblb_la_LIBADD = libhealth.la libroutes.la libconsulclient.la libdevreg.la $(LIBEVENT_LIBS) \
	$(CURL_LIBS) $(CJSON_LIBS) $(OPENSSL_LIBS) -lm
LB_CONFIG_SOURCES =
LB_WATCH_SOURCES =
LB_PROXY_SOURCES =
include %reldir%/config.mk
include %reldir%/watch.mk
include %reldir%/proxy.mk

bin_PROGRAMS += switchyard
switchyard_SOURCES = %reldir%/main.c %reldir%/lb_admin.c %reldir%/lb_admin.h
switchyard_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(CURL_CFLAGS) $(CJSON_CFLAGS)
switchyard_LDADD = liblb.la libregistrar.la $(LIBEVENT_LIBS) $(CURL_LIBS) $(CJSON_LIBS) -lm
