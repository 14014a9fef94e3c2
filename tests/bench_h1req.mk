# The cost of validating a client's request (head end, strict parse,
# strict chunked decode) per request (tests/bench/README.md); built by
# make, not run by make check. scripts/bench prints it as a share of
# switchyard's CPU per request.
noinst_PROGRAMS += bench_h1req
bench_h1req_SOURCES = %reldir%/bench/bench_h1req.c %reldir%/bench/bench_stats.h
bench_h1req_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
bench_h1req_LDADD = liblb.la $(LIBEVENT_LIBS) -lm
