/*
 * rt_tags.h - fabio's route tags: a Consul instance tagged
 * "urlprefix-example.com/app strip=/app" becomes
 *   route add web example.com/app http://10.0.0.1:8080/ tags "v2" opts "strip=/app"
 * (registry/consul/routecmd.go), built directly as struct rt_cmd so that
 * no tag text is ever re-read as commands.
 */
#ifndef RT_TAGS_H
#define RT_TAGS_H

#include <stddef.h>
#include "routes/rt_cmd.h"

/* One Consul service instance. Only read; nothing is kept. */
struct rt_instance {
	const char *service;      /* Consul Service.Service */
	const char *instance;     /* Service.ID */
	const char *node;
	const char *address;      /* Service.Address; NULL or "": node_address */
	const char *node_address;
	int port;
	const char *const *tags;
	size_t ntags;
	int consul_down;          /* every command gets consul_down set (see
				   * rt_cmd.h): the caller found that no
				   * instance of the service counts */
	unsigned consul_weight;   /* copied into every command (see rt_cmd.h);
				   * 0: none given, counts as 1 */
};

/*
 * Append one RT_CMD_ADD per tag of in that starts with prefix (NULL means
 * "urlprefix-"), after trimming the tag. The rest of the tag is the route
 * part up to the first whitespace (host/path, /path, host or :port; $DC
 * and ${DC} become dc unless dc is NULL; the host is lower-cased) and the
 * options after it:
 *   weight=W            the command's weight (has_weight)
 *   proto=https|tcp|grpc|grpcs  the dst's scheme; not kept in opts.raw
 *   redirect=CODE,URL   dst becomes URL, opts.raw keeps redirect=CODE,
 *                       opts.redirect_url is URL
 *   anything else       kept in opts.raw, parsed by rt_opts_parse
 * dst is http://ADDR:PORT/ (https://, tcp://, grpc://, grpcs:// without the
 * slash, as fabio writes them); ADDR is address, else node_address, IPv6
 * in brackets. The instance's other tags (trimmed, empty ones dropped)
 * become the command's tags; instance is copied into the command, and
 * so are consul_down and consul_weight.
 *
 * A bad tag (no route part, bad src, weight, option, address or port) is
 * recorded in out->errs with line 0, field naming the option or part at
 * fault, and a message naming the service ID and the tag; it is skipped
 * and the others still apply. Returns 0 or -ENOMEM.
 */
int rt_tags_commands(const struct rt_instance *in, const char *prefix,
		     const char *dc, struct rt_cmd_list *out);

#endif
