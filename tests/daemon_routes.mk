# daemon_routes: the switchyard daemon routing what the registry says,
# end to end (it_daemon_routes.sh), with its keep-alive load client.
TESTS += %reldir%/it_daemon_routes.sh
dist_check_SCRIPTS += %reldir%/it_daemon_routes.sh
EXTRA_DIST += %reldir%/daemon_client.py
