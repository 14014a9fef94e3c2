/*
 * rt_parse.c - the route language (rt_parse.h): split the text into
 * lines, a line into words and quoted strings, and match the words
 * against fabio's six command forms.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routes/rt_opts.h"
#include "routes/rt_parse.h"
#include "routes/rt_url.h"

/* The longest command has 11 words; one more tells there is garbage. */
#define MAX_TOKENS 12
/* Words quoted in messages are cut so that the message fits rt_err. */
#define SHOW 48
#define SHOWLEN(l) ((int)((l) > SHOW ? SHOW : (l)))

static int is_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static int is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

struct token {
	const char *s;   /* a word, or the inside of the quotes */
	size_t len;
	int quoted;
};

/* One line being read: its words and, when it is bad, why. */
struct line {
	const char *verb;        /* "route add" ... for messages */
	struct token t[MAX_TOKENS];
	size_t n;
	char field[32];
	char msg[160];
};

static int fail(struct line *ln, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct line *ln, const char *field, const char *fmt, ...)
{
	va_list ap;

	snprintf(ln->field, sizeof(ln->field), "%s", field);
	va_start(ap, fmt);
	vsnprintf(ln->msg, sizeof(ln->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Length of the escape starting at p (p[0] == '\\') and its byte, or 0
 * when the backslash is literal.
 */
static size_t escape_at(const char *p, const char *end, char *out)
{
	if (end - p >= 2 && (p[1] == '"' || p[1] == '\\')) {
		*out = p[1];
		return 2;
	}
	if (end - p >= 4 && p[1] == 'x') {
		int hi = hexval(p[2]), lo = hexval(p[3]);

		if (hi >= 0 && lo >= 0 && (hi || lo)) {
			*out = (char)(hi * 16 + lo);
			return 4;
		}
	}
	return 0;
}

/* Split [p, end) into tokens; stops after MAX_TOKENS. */
static int tokenize(struct line *ln, const char *p, const char *end)
{
	ln->n = 0;
	while (ln->n < MAX_TOKENS) {
		struct token *t = &ln->t[ln->n];

		while (p < end && is_space(*p))
			p++;
		if (p == end)
			break;
		if (*p == '"') {
			const char *q = ++p;
			char c;

			while (q < end && *q != '"') {
				size_t e = *q == '\\' ? escape_at(q, end, &c) : 0;

				q += e ? e : 1;
			}
			if (q == end)
				return fail(ln, "quote", "unterminated quote");
			t->s = p;
			t->len = (size_t)(q - p);
			t->quoted = 1;
			p = q + 1;
			if (p < end && !is_space(*p))
				return fail(ln, "quote",
					    "\"%c\" right after a closing quote",
					    is_ctl((unsigned char)*p) ? '?' : *p);
		} else {
			t->s = p;
			while (p < end && !is_space(*p))
				p++;
			t->len = (size_t)(p - t->s);
			t->quoted = 0;
		}
		ln->n++;
	}
	return 0;
}

/* The inside of a quoted token with its escapes resolved. */
static char *unquote(const struct token *t)
{
	char *d = malloc(t->len + 1), *o = d;
	const char *p = t->s, *end = t->s + t->len;

	if (!d)
		return NULL;
	while (p < end) {
		char c;
		size_t e = *p == '\\' ? escape_at(p, end, &c) : 0;

		if (e) {
			*o++ = c;
			p += e;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return d;
}

static int tok_is(const struct line *ln, size_t i, const char *word)
{
	return i < ln->n && !ln->t[i].quoted && ln->t[i].len == strlen(word) &&
	       memcmp(ln->t[i].s, word, ln->t[i].len) == 0;
}

/* Token i must be a plain word; what names it in messages. */
static int need_word(struct line *ln, size_t i, const char *field,
		     const char *what)
{
	if (i >= ln->n)
		return fail(ln, field, "%s: missing %s", ln->verb, what);
	if (ln->t[i].quoted)
		return fail(ln, field, "%s: %s must be a word, not \"%.*s\"",
			    ln->verb, what, SHOWLEN(ln->t[i].len), ln->t[i].s);
	return 0;
}

static int trailing(struct line *ln, size_t i)
{
	if (i >= ln->n)
		return 0;
	return fail(ln, "trailing", "%s: unexpected %s%.*s%s", ln->verb,
		    ln->t[i].quoted ? "\"" : "'", SHOWLEN(ln->t[i].len),
		    ln->t[i].s, ln->t[i].quoted ? "\"" : "'");
}

/*
 * A weight written as plain digits with at most one '.', 15 digits at
 * most ("0.05"): the digits as an integer m below 2^53 and a power of ten
 * up to 10^15 are exact doubles, so m / 10^k, rounded once, is what
 * strtod returns (Clinger's fast path). 0 with *out, or -1: not such a
 * number.
 */
static int plain_decimal(const char *s, size_t len, double *out)
{
	static const double pow10[] = {
		1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
		1e11, 1e12, 1e13, 1e14, 1e15
	};
	uint64_t m = 0;
	int digits = 0, frac = -1;

	for (size_t i = 0; i < len; i++) {
		if (s[i] >= '0' && s[i] <= '9') {
			if (++digits > 15)
				return -1;
			m = m * 10 + (uint64_t)(s[i] - '0');
			if (frac >= 0)
				frac++;
		} else if (s[i] == '.' && frac < 0) {
			frac = 0;
		} else {
			return -1;
		}
	}
	if (digits == 0)
		return -1;
	*out = (double)m / pow10[frac < 0 ? 0 : frac];
	return 0;
}

int rt_weight_parse(const char *s, size_t len, double *w, const char **why)
{
	char buf[64], *end;
	double v;

	*why = "not a number";
	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	if (plain_decimal(s, len, &v) == 0) {
		*w = v;
		return 0;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	/* strtod would take leading spaces, "inf", "nan" and hex */
	for (size_t i = 0; i < len; i++)
		if (!strchr("0123456789+-.eE", buf[i]))
			return -EINVAL;
	/* underflow reads as a tiny weight or 0; only overflow is refused */
	v = strtod(buf, &end);
	if (end != buf + len)
		return -EINVAL;
	if (!isfinite(v)) {
		*why = "out of range";
		return -EINVAL;
	}
	if (v < 0) {
		*why = "negative";
		return -EINVAL;
	}
	*w = v;
	return 0;
}

static int set_dup(char **slot, const char *s, size_t len)
{
	char *d = strndup(s, len);

	if (!d)
		return -ENOMEM;
	free(*slot);
	*slot = d;
	return 0;
}

int rt_src_check(const char *src, size_t len, size_t *hlen,
		 const char **why)
{
	const char *slash;

	*why = "";
	if (len == 0) {
		*why = "empty";
		return -EINVAL;
	}
	if (src[0] == '"') {
		*why = "starts with a quote";
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		if (is_ctl((unsigned char)src[i]) || src[i] == ' ') {
			*why = "space or control character";
			return -EINVAL;
		}
	}
	slash = memchr(src, '/', len);
	*hlen = slash ? (size_t)(slash - src) : len;
	if (src[0] == ':') {
		unsigned long port = 0;

		if (slash || len < 2 || len > 6) {
			*why = "expected :port";
			return -EINVAL;
		}
		for (size_t i = 1; i < len; i++) {
			if (src[i] < '0' || src[i] > '9') {
				*why = "expected :port";
				return -EINVAL;
			}
			port = port * 10 + (unsigned long)(src[i] - '0');
		}
		if (port < 1 || port > 65535) {
			*why = "port out of range";
			return -EINVAL;
		}
	}
	return 0;
}

int rt_cmd_set_src(struct rt_cmd *c, const char *src, size_t len,
		   const char **why)
{
	size_t hlen;
	int rc = rt_src_check(src, len, &hlen, why);

	if (rc < 0)
		return rc;
	if (c->block && rt_cmd_unpack(c) < 0)
		return -ENOMEM;
	if ((rc = set_dup(&c->src, src, len)) < 0 ||
	    (rc = set_dup(&c->host, src, hlen)) < 0)
		return rc;
	for (char *h = c->host; *h; h++)
		if (*h >= 'A' && *h <= 'Z')
			*h = (char)(*h - 'A' + 'a');
	if (src[0] == ':')
		rc = set_dup(&c->path, "", 0);
	else if (hlen < len)
		rc = set_dup(&c->path, src + hlen, len - hlen);
	else
		rc = set_dup(&c->path, "/", 1);
	return rc;
}

int rt_cmd_set_opts(struct rt_cmd *c, const char *text, size_t len,
		    enum rt_proto proto, struct rt_err *err)
{
	int rc;

	rt_opts_clear(&c->opts);
	c->opts.proto = proto;
	rc = rt_opts_parse(text, len, &c->opts, err);
	if (rc < 0)
		return rc;
	if (c->opts.proto != proto) {
		snprintf(err->field, sizeof(err->field), "proto");
		snprintf(err->msg, sizeof(err->msg),
			 "proto=%s but dst is %s://", rt_proto_name(c->opts.proto),
			 rt_proto_name(proto));
		rt_opts_clear(&c->opts);
		return -EINVAL;
	}
	if (c->opts.redirect_code && !c->opts.redirect_url && c->dst) {
		c->opts.redirect_url = strdup(c->dst);
		if (!c->opts.redirect_url) {
			rt_opts_clear(&c->opts);
			return -ENOMEM;
		}
	}
	return 0;
}

/* tags "a, b,,c" -> {"a", "b", "c"}. */
static int set_tags(struct rt_cmd *c, const struct token *t)
{
	char *text = unquote(t), *p;
	size_t cnt = 1;

	if (!text)
		return -ENOMEM;
	for (p = text; *p; p++)
		if (*p == ',')
			cnt++;
	c->tags = calloc(cnt, sizeof(*c->tags));
	if (!c->tags) {
		free(text);
		return -ENOMEM;
	}
	p = text;
	for (;;) {
		char *comma = strchr(p, ','), *e;

		if (comma)
			*comma = '\0';
		while (is_space(*p))
			p++;
		e = p + strlen(p);
		while (e > p && is_space(e[-1]))
			e--;
		if (e > p) {
			c->tags[c->ntags] = strndup(p, (size_t)(e - p));
			if (!c->tags[c->ntags]) {
				free(text);
				return -ENOMEM;
			}
			c->ntags++;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	free(text);
	return 0;
}

static int word_service(struct line *ln, struct rt_cmd *c, size_t i)
{
	int rc = need_word(ln, i, "service", "<svc>");

	if (rc < 0)
		return rc;
	return set_dup(&c->service, ln->t[i].s, ln->t[i].len);
}

static int word_src(struct line *ln, struct rt_cmd *c, size_t i)
{
	const char *why;
	int rc = need_word(ln, i, "src", "<src>");

	if (rc < 0)
		return rc;
	rc = rt_cmd_set_src(c, ln->t[i].s, ln->t[i].len, &why);
	if (rc == -EINVAL)
		return fail(ln, "src", "%s: bad src \"%.*s\": %s", ln->verb,
			    SHOWLEN(ln->t[i].len), ln->t[i].s, why);
	return rc;
}

static int word_dst(struct line *ln, struct rt_cmd *c, size_t i,
		    enum rt_proto *proto)
{
	const char *why;
	int rc = need_word(ln, i, "dst", "<dst>");

	if (rc < 0)
		return rc;
	if (rt_url_check(ln->t[i].s, ln->t[i].len, proto, &why) < 0)
		return fail(ln, "dst", "%s: bad dst \"%.*s\": %s", ln->verb,
			    SHOWLEN(ln->t[i].len), ln->t[i].s, why);
	return set_dup(&c->dst, ln->t[i].s, ln->t[i].len);
}

static int word_weight(struct line *ln, struct rt_cmd *c, size_t i)
{
	const char *why;
	int rc = need_word(ln, i, "weight", "<w> after weight");

	if (rc < 0)
		return rc;
	if (rt_weight_parse(ln->t[i].s, ln->t[i].len, &c->weight, &why) < 0)
		return fail(ln, "weight", "%s: bad weight \"%.*s\": %s",
			    ln->verb, SHOWLEN(ln->t[i].len), ln->t[i].s, why);
	c->has_weight = 1;
	return 0;
}

/* `tags "..."` at i; required says whether the list may be empty. */
static int word_tags(struct line *ln, struct rt_cmd *c, size_t i, int required)
{
	int rc;

	if (i + 1 >= ln->n || !ln->t[i + 1].quoted)
		return fail(ln, "tags", "%s: tags needs a quoted list", ln->verb);
	rc = set_tags(c, &ln->t[i + 1]);
	if (rc < 0)
		return rc;
	if (required && c->ntags == 0)
		return fail(ln, "tags", "%s: empty tags list", ln->verb);
	return 0;
}

static int parse_add(struct line *ln, struct rt_cmd *c)
{
	enum rt_proto proto;
	size_t i = 5;
	int rc;

	c->kind = RT_CMD_ADD;
	if ((rc = word_service(ln, c, 2)) < 0 || (rc = word_src(ln, c, 3)) < 0 ||
	    (rc = word_dst(ln, c, 4, &proto)) < 0)
		return rc;
	if (tok_is(ln, i, "weight")) {
		if ((rc = word_weight(ln, c, i + 1)) < 0)
			return rc;
		i += 2;
	}
	if (tok_is(ln, i, "tags")) {
		if ((rc = word_tags(ln, c, i, 0)) < 0)
			return rc;
		i += 2;
	}
	if (tok_is(ln, i, "opts")) {
		struct rt_err err = { 0 };
		char *text;

		if (i + 1 >= ln->n || !ln->t[i + 1].quoted)
			return fail(ln, "opts", "%s: opts needs a quoted list",
				    ln->verb);
		text = unquote(&ln->t[i + 1]);
		if (!text)
			return -ENOMEM;
		rc = rt_cmd_set_opts(c, text, strlen(text), proto, &err);
		free(text);
		if (rc == -EINVAL)
			return fail(ln, err.field, "%s: %s", ln->verb, err.msg);
		if (rc < 0)
			return rc;
		i += 2;
	} else {
		c->opts.proto = proto;
	}
	return trailing(ln, i);
}

static int parse_del(struct line *ln, struct rt_cmd *c)
{
	enum rt_proto proto;
	int rc;

	c->kind = RT_CMD_DEL;
	if (tok_is(ln, 2, "tags") && ln->n > 3 && ln->t[3].quoted) {
		if ((rc = word_tags(ln, c, 2, 1)) < 0)
			return rc;
		return trailing(ln, 4);
	}
	if ((rc = word_service(ln, c, 2)) < 0)
		return rc;
	if (tok_is(ln, 3, "tags") && ln->n > 4 && ln->t[4].quoted) {
		if ((rc = word_tags(ln, c, 3, 1)) < 0)
			return rc;
		return trailing(ln, 5);
	}
	if (ln->n > 3 && (rc = word_src(ln, c, 3)) < 0)
		return rc;
	if (ln->n > 4 && (rc = word_dst(ln, c, 4, &proto)) < 0)
		return rc;
	return trailing(ln, 5);
}

static int parse_weight(struct line *ln, struct rt_cmd *c)
{
	int rc;

	c->kind = RT_CMD_WEIGHT;
	if (tok_is(ln, 4, "weight")) {
		/* route weight <svc> <src> weight <w>[ tags "..."] */
		if ((rc = word_service(ln, c, 2)) < 0 ||
		    (rc = word_src(ln, c, 3)) < 0 ||
		    (rc = word_weight(ln, c, 5)) < 0)
			return rc;
		if (!tok_is(ln, 6, "tags"))
			return trailing(ln, 6);
		if ((rc = word_tags(ln, c, 6, 0)) < 0)
			return rc;
		return trailing(ln, 8);
	}
	if (tok_is(ln, 3, "weight")) {
		/* route weight <src> weight <w> tags "..." */
		if ((rc = word_src(ln, c, 2)) < 0 ||
		    (rc = word_weight(ln, c, 4)) < 0)
			return rc;
		if (!tok_is(ln, 5, "tags"))
			return fail(ln, "tags",
				    "%s: <src> weight <w> needs tags \"...\" (or give <svc>)",
				    ln->verb);
		if ((rc = word_tags(ln, c, 5, 1)) < 0)
			return rc;
		return trailing(ln, 7);
	}
	if (ln->n < 5)
		return fail(ln, "weight", "%s: missing weight <w>", ln->verb);
	return fail(ln, "weight",
		    "%s: expected [<svc>] <src> weight <w>", ln->verb);
}

static int parse_line(struct line *ln, const char *p, const char *end,
		      struct rt_cmd *c)
{
	int rc = tokenize(ln, p, end);

	if (rc < 0)
		return rc;
	if (!tok_is(ln, 0, "route"))
		return fail(ln, "route", "'route' expected, got \"%.*s\"",
			    SHOWLEN(ln->t[0].len), ln->t[0].s);
	if (tok_is(ln, 1, "add")) {
		ln->verb = "route add";
		return parse_add(ln, c);
	}
	if (tok_is(ln, 1, "del")) {
		ln->verb = "route del";
		return parse_del(ln, c);
	}
	if (tok_is(ln, 1, "weight")) {
		ln->verb = "route weight";
		return parse_weight(ln, c);
	}
	if (ln->n < 2)
		return fail(ln, "command", "route: missing add, del or weight");
	return fail(ln, "command", "route: unknown command \"%.*s\"",
		    SHOWLEN(ln->t[1].len), ln->t[1].s);
}

int rt_parse(const char *text, size_t len, struct rt_cmd_list *out)
{
	const char *p = text, *end = text + len;
	unsigned no = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *s = p;
		struct line ln;
		struct rt_cmd c;
		int rc;

		no++;
		p = nl ? nl + 1 : end;
		while (s < le && is_space(*s))
			s++;
		while (le > s && is_space(le[-1]))
			le--;
		if (s == le || *s == '#' || (le - s >= 2 && s[0] == '/' && s[1] == '/'))
			continue;
		/* what fail() and the parsers read is set by them or here */
		ln.verb = "route";
		ln.n = 0;
		ln.t[0].s = "";
		ln.t[0].len = 0;
		ln.t[0].quoted = 0;
		ln.field[0] = ln.msg[0] = '\0';
		memset(&c, 0, sizeof(c));
		c.line = no;
		if (memchr(s, '\0', (size_t)(le - s)))
			rc = fail(&ln, "route", "NUL byte in line");
		else
			rc = parse_line(&ln, s, le, &c);
		if (rc == 0) {
			struct rt_cmd *slot = rt_cmd_list_push(out);

			if (!slot) {
				rt_cmd_clear(&c);
				return -ENOMEM;
			}
			*slot = c;
			continue;
		}
		rt_cmd_clear(&c);
		if (rc != -EINVAL)
			return rc;
		if (rt_cmd_list_error(out, no, ln.field, "%s", ln.msg) < 0)
			return -ENOMEM;
	}
	return 0;
}
