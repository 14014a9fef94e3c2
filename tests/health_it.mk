# health_it: target health end to end (it_health.sh): passive ejection,
# active probes and Consul's view under load, with its scriptable backend.
TESTS += %reldir%/it_health.sh
dist_check_SCRIPTS += %reldir%/it_health.sh
EXTRA_DIST += %reldir%/health_backend.py
