# demo: switchyard-demo, a service that registers itself through libregistrar.
bin_PROGRAMS += switchyard-demo
switchyard_demo_SOURCES = %reldir%/switchyard-demo.c \
	%reldir%/demo_flags.c %reldir%/demo_flags.h
switchyard_demo_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
switchyard_demo_LDADD = libregistrar.la $(LIBEVENT_LIBS)

dist_man_MANS += man/switchyard-demo.1 man/registrar.3
