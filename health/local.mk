# health/: is a target fit for traffic right now? One state per target
# identity (Consul view, active probe view, passive ejection), written by
# the control thread, read and reported on by the workers without locks.
noinst_LTLIBRARIES += libhealth.la
libhealth_la_SOURCES = %reldir%/hc_state.h %reldir%/hc_internal.h \
	%reldir%/hc_state.c %reldir%/hc_registry.c %reldir%/hc_outlier.c \
	%reldir%/hc_entry.c
libhealth_la_CFLAGS = $(AM_CFLAGS)
libhealth_la_LIBADD = libroutes.la
# hc_probe: active HTTP/TCP probes on the control thread's event_base
libhealth_la_SOURCES += %reldir%/hc_probe.c %reldir%/hc_probe.h
libhealth_la_CFLAGS += $(LIBEVENT_CFLAGS)
libhealth_la_LIBADD += $(LIBEVENT_LIBS)
