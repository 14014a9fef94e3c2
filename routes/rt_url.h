/*
 * rt_url.h - the URL checks of the route language: a dst or a redirect
 * target must be scheme://host[:port][/path...] with a scheme switchyard
 * can proxy to (http, https, tcp, grpc, grpcs).
 */
#ifndef RT_URL_H
#define RT_URL_H

#include <stddef.h>
#include "routes/rt_cmd.h"

/*
 * Check the URL s (len bytes, need not be NUL-terminated). host is a name
 * (letters, digits, "-._~!$&'()*+,;=%"; so redirect templates such as
 * https://$host$path pass), an IPv4 address or an IPv6 address in
 * brackets (with an optional %zone); port is 1..65535; no user info.
 * Returns 0 and sets *proto from the scheme (case-insensitive), or
 * -EINVAL with *why pointing to a static reason.
 */
int rt_url_check(const char *s, size_t len, enum rt_proto *proto,
		 const char **why);

/* Whether s[0..len) is a non-empty host name of the characters
 * rt_url_check allows in one (no ':', '@', '/', brackets): then
 * NAME://s:PORT and NAME://s:PORT/, with NAME from rt_proto_name and
 * PORT 1..65535, pass rt_url_check, and a caller that builds such a URL
 * need not check it again. */
int rt_url_host_ok(const char *s, size_t len);

/* proto names: "http", "https", "tcp", "grpc", "grpcs" (exact, lower
 * case). rt_proto_parse returns 0 or -EINVAL; rt_proto_name never NULL. */
int rt_proto_parse(const char *s, size_t len, enum rt_proto *proto);
const char *rt_proto_name(enum rt_proto proto);

#endif
