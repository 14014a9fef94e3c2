# daemon_routes: filled in below
