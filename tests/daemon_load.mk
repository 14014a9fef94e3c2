# daemon_load: the switchyard daemon under steady load with failures made
# on purpose (retag, kill -9 of a backend and of the registry, a 100 MB
# answer, graceful stop, bad configuration); load_client.py drives it.
TESTS += %reldir%/it_daemon_load.sh
dist_check_SCRIPTS += %reldir%/it_daemon_load.sh
EXTRA_DIST += %reldir%/load_client.py
