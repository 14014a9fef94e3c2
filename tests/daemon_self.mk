# daemon_self: filled in below
