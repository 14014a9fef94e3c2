/*
 * rt_parse.h - fabio's route language, read line by line:
 *   route add <svc> <src> <dst>[ weight <w>][ tags "<t1>,<t2>"][ opts "k=v k2=v2"]
 *   route del <svc>[ <src>[ <dst>]]
 *   route del <svc> tags "<t1>,<t2>"
 *   route del tags "<t1>,<t2>"
 *   route weight <svc> <src> weight <w>[ tags "<t1>,<t2>"]
 *   route weight <src> weight <w> tags "<t1>,<t2>"
 * Words are separated by runs of whitespace; blank lines and lines whose
 * first non-blank characters are '#' or "//" are ignored; CRLF is fine.
 * Inside quotes \" is a quote, \\ a backslash and \xHH a byte (what
 * rt_cmd_format writes); any other backslash is taken literally, as fabio
 * does. Tags are split on ',' and trimmed; empty ones are dropped.
 *
 * What a command holds (see rt_cmd.h): src as written; host lower-cased
 * ("" for /path, ":port" for a :port route); path "/path", "/" for a
 * host-only src, "" for :port. opts.proto is the dst's scheme (an opts
 * proto= that says otherwise is an error); opts.redirect_url is the dst
 * when redirect=CODE came without a URL.
 */
#ifndef RT_PARSE_H
#define RT_PARSE_H

#include <stddef.h>
#include "routes/rt_cmd.h"

/*
 * Append the commands of text (len bytes; NUL bytes are errors, not ends)
 * to out. Unlike fabio, where one bad line rejects the whole text, a bad
 * line is recorded in out->errs with its 1-based line number, field (the
 * element at fault: route, command, service, src, dst, weight, tags,
 * opts or the option's key, quote, trailing) and why, and skipped; every
 * other line applies. Linear in the length of text. Returns 0, or -ENOMEM
 * (out then holds what was appended before, and stays valid to clear).
 */
int rt_parse(const char *text, size_t len, struct rt_cmd_list *out);

/*
 * The checks rt_parse and rt_tags share. Each returns 0, -EINVAL with
 * *why a static reason, or -ENOMEM.
 *
 * rt_cmd_set_src: src is host/path, /path, host or :port (port 1..65535);
 * no control characters, no leading quote. Sets c->src, c->host, c->path
 * (replacing earlier values).
 */
int rt_cmd_set_src(struct rt_cmd *c, const char *src, size_t len,
		   const char **why);
/* The checks of rt_cmd_set_src alone: 0 with *hlen the length of the
 * host part (up to the first '/'), or -EINVAL with *why. Stores nothing. */
int rt_src_check(const char *src, size_t len, size_t *hlen,
		 const char **why);

/* A weight: a finite decimal number >= 0 and nothing else. */
int rt_weight_parse(const char *s, size_t len, double *w, const char **why);

/*
 * Options of an add whose dst has scheme proto: parses text into c->opts
 * (rt_opts_parse), rejects a proto= that differs from the scheme, and
 * sets opts.redirect_url to c->dst when redirect= had no URL. On -EINVAL
 * err->field and err->msg say why.
 */
int rt_cmd_set_opts(struct rt_cmd *c, const char *text, size_t len,
		    enum rt_proto proto, struct rt_err *err);

#endif
