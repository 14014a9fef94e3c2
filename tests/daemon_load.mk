# daemon_load: filled in below
