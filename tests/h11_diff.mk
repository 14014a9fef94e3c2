# The differential check of the request validation against h11 (Debian's
# python3-h11): h1_verdict says what switchyard makes of each request in
# the corpus, it_h11_diff.sh runs tests/h11_diff.py over the seeds in
# tests/fixtures/lb/h1req, mutations of them and the libFuzzer corpus
# scripts/fuzz leaves.
check_PROGRAMS += h1_verdict
TESTS += %reldir%/it_h11_diff.sh
dist_check_SCRIPTS += %reldir%/it_h11_diff.sh
EXTRA_DIST += %reldir%/h11_diff.py

h1_verdict_SOURCES = %reldir%/h1_verdict.c
h1_verdict_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
h1_verdict_LDADD = liblb.la $(LIBEVENT_LIBS) -lm
