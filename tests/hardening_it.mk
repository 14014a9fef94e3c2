# hardening_it: switchyard's strict HTTP/1.1 front end end to end
# (it_hardening.sh): the smuggling payloads, limits, deadlines and header
# hygiene against a backend that records the bytes it receives. The cases
# and the backend are shared with scripts/hardening-compare.
TESTS += %reldir%/it_hardening.sh
dist_check_SCRIPTS += %reldir%/it_hardening.sh
EXTRA_DIST += %reldir%/hardening_cases.py %reldir%/recording_backend.py
