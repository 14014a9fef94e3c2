# daemon_self: switchyard's self-registration in Consul as fabio does it
# (service ID, TTL and HTTP checks, re-registration, deregistration),
# against switchyard-registry.
TESTS += %reldir%/it_daemon_self.sh
dist_check_SCRIPTS += %reldir%/it_daemon_self.sh
