/*
 * rt_opts.h - the options of a route: the words after a tag's route part
 * (`strip=/foo proto=https`) or the inside of `opts "..."`.
 */
#ifndef RT_OPTS_H
#define RT_OPTS_H

#include <stddef.h>
#include <stdint.h>
#include "routes/rt_cmd.h"

/*
 * Parse options text: words separated by whitespace, each key=value or a
 * bare key (value ""). Known keys and what they accept:
 *   strip=/p prepend=/p        a path starting with '/'
 *   proto=http|https|tcp|grpc|grpcs
 *   tlsskipverify=true|false   (also 1/0, t/f, TRUE/FALSE, True/False)
 *   host=dst|NAME              non-empty
 *   redirect=CODE[,URL]        CODE 300..399; URL as rt_url_check
 *   allow=ip:CIDR,... deny=... IPv4 or IPv6, bare address = /32 or /128;
 *                              not both on one route
 *   register=NAME              non-empty
 *   check=/path | check=tcp
 * Unknown keys (auth=, pxyproto=, ...) are accepted and live only in raw.
 * A repeated key: the last one counts (fabio's map).
 *
 * o must be zeroed by the caller, except that o->proto may be preset: it
 * is the value kept when the text has no proto=. raw becomes a copy of the
 * text, or stays NULL when the text is blank. Returns 0; -EINVAL for a bad
 * option, with err->field the option's key and err->msg why (err->line is
 * not touched) and o cleared; -ENOMEM with o cleared.
 */
int rt_opts_parse(const char *text, size_t len, struct rt_opts *o,
		  struct rt_err *err);

/* One CIDR ("10.0.0.0/8", "fe80::/10", "1.2.3.4", "::1"); host bits are
 * cleared ("10.1.2.3/8" is 10.0.0.0/8). 0 or -EINVAL. */
int rt_cidr_parse(const char *s, size_t len, struct rt_cidr *out);

/* Whether addr (4 bytes for family 4, 16 for family 6) is inside c. An
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d) matches IPv4 blocks. */
int rt_cidr_contains(const struct rt_cidr *c, int family, const uint8_t *addr);

#endif
