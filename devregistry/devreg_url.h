/*
 * devreg_url.h - splitting check targets: http(s) URLs (fabio's bracketed
 * IPv4 "http://[127.0.0.1]:9998/health" included) and "host:port".
 */
#ifndef DEVREG_URL_H
#define DEVREG_URL_H

/* Split an http(s) URL. Fills *https, host (brackets removed, for
 * connecting), port (80/443 by default), authority (for Host:, userinfo
 * dropped) and target (path + query, "/" when empty; the fragment
 * dropped). Returns 0, -EINVAL or -ENOMEM; the outputs are new strings
 * on success and NULL otherwise. */
int devreg_url_split(const char *url, int *https, char **host, int *port,
		     char **authority, char **target);

/* Split "host:port" ("[v6]:port" too; port 0-65535). 0, -EINVAL or
 * -ENOMEM; *host is a new string on success. */
int devreg_hostport_split(const char *addr, char **host, int *port);

#endif
