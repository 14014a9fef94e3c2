# tests for the registrar part: the libregistrar Check suite (against a
# scripted agent inside the test), registrar_ctl (a stdin-driven
# libregistrar client the scripts use) and the integration scripts that
# run switchyard-registry, switchyard-demo and registrar_ctl together.
check_PROGRAMS += %reldir%/check_registrar %reldir%/registrar_ctl
TESTS += %reldir%/check_registrar
%canon_reldir%_check_registrar_SOURCES = %reldir%/check_registrar.c
%canon_reldir%_check_registrar_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) \
	$(CJSON_CFLAGS) $(LIBEVENT_CFLAGS)
%canon_reldir%_check_registrar_LDADD = libregistrar.la $(CHECK_LIBS) \
	$(CJSON_LIBS) $(LIBEVENT_LIBS)
%canon_reldir%_registrar_ctl_SOURCES = %reldir%/registrar_ctl.c
%canon_reldir%_registrar_ctl_LDADD = libregistrar.la

dist_check_SCRIPTS += %reldir%/it_registrar.sh %reldir%/it_demo.sh
TESTS += %reldir%/it_registrar.sh %reldir%/it_demo.sh
