# slowhttp: slow clients (slowhttptest: slow headers, slow body, slow read)
# against switchyard's client deadlines while a probe keeps asking for a
# page (it_slowhttp.sh; scripts/slowhttp is the long form).
TESTS += %reldir%/it_slowhttp.sh
dist_check_SCRIPTS += %reldir%/it_slowhttp.sh
EXTRA_DIST += %reldir%/slowhttp_probe.py
