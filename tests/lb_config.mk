# tests for lb/ config part: check_lb_config (lb_config.h, the properties
# file, -h and the key list of man/switchyard.8).
check_PROGRAMS += check_lb_config
TESTS += check_lb_config
check_lb_config_SOURCES = %reldir%/check_lb_config.c %reldir%/check_main.h
check_lb_config_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
check_lb_config_LDADD = liblb.la $(CHECK_LIBS)
