/*
 * lb_rewrite.h - what a route's options do to a request, as fabio does
 * it: strip= and prepend= on the upstream path, the target URL's query
 * merged with the request's, redirect= Location templates with $path and
 * $host, and allow=/deny= address rules.
 */
#ifndef LB_REWRITE_H
#define LB_REWRITE_H

#include <stddef.h>

#include "lb/lb_buf.h"
#include "lb/lb_http1.h"
#include "routes/rt_cmd.h"

/*
 * The upstream path: path (normalised, starting with '/') without the
 * strip prefix when it starts with it, then a leading '/' ensured, then
 * prepend in front of it (a leading '/' ensured again). strip or prepend
 * NULL: not set. Appends to out; 0 or -ENOMEM.
 */
int lb_rewrite_path(struct lb_buf *out, const char *path, size_t len,
		    const char *strip, const char *prepend);

/*
 * The query sent upstream: the target URL's query (the part of url after
 * '?', if any) and the request's, joined by '&' when both are there.
 * Appends to out (no '?'); 0 or -ENOMEM.
 */
int lb_rewrite_query(struct lb_buf *out, const char *url,
		     const char *query, size_t query_len);

/*
 * The Location of a redirect= route. tmpl is the redirect URL
 * (scheme://host[:port][/path][?query]) and may hold $path and $host:
 *   - a host ending in "$path" means the path is "$path";
 *   - "/$path" in the path becomes "$path";
 *   - $path becomes the request path without the strip prefix and with
 *     prepend in front, and the request query is used when tmpl has none;
 *   - an empty path becomes "/";
 *   - $host in the host becomes the request's Host.
 * path/query are the request's (query without '?', may be NULL); host may
 * be NULL (then ""). Appends to out; 0, -EINVAL (tmpl has no "://") or
 * -ENOMEM.
 */
int lb_rewrite_redirect(struct lb_buf *out, const char *tmpl,
			const char *path, size_t path_len,
			const char *query, size_t query_len, const char *host,
			const char *strip, const char *prepend);

/*
 * allow= / deny= of a target's options. Checked against client_ip and
 * every address in the client's X-Forwarded-For fields in[0..nin):
 * with an allow list, every address that parses must lie in one of its
 * blocks; with a deny list, none may lie in one of its blocks. Entries
 * that are not IP addresses are ignored, as fabio does. Returns 1 when
 * the request may pass, 0 when it is denied (403).
 */
int lb_rewrite_allowed(const struct rt_opts *o, const char *client_ip,
		       const struct lb_h1_field *in, size_t nin);

#endif
