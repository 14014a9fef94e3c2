/*
 * lb_config_props.c - the properties file behind -cfg: the part of Java's
 * .properties syntax that fabio's own fabio.properties uses.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "devregistry/devreg_duration.h"
#include "lb/lb_config_internal.h"

static int
blank(char c)
{
	return c == ' ' || c == '\t' || c == '\f';
}

/* A logical line: one or more physical lines joined at their trailing
 * backslashes. */
struct line_buf {
	char *s;
	size_t n, cap;
};

static int
line_append(struct line_buf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap > 0 ? b->cap : 256;
		char *p;

		while (cap < b->n + n + 1)
			cap *= 2;
		p = realloc(b->s, cap);
		if (p == NULL)
			return -ENOMEM;
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
	return 0;
}

static void
syntax_error(struct lb_config_err *err, const char *source, unsigned line,
	     const char *text)
{
	char q[96];

	lb_config_err_set(err, source, line, "", text, "want key = value, not %s",
			  devreg_go_quote(text, q, sizeof(q)));
}

/* Split b's text into key and value and hand them to fn. */
static int
emit(struct line_buf *b, const char *source, unsigned line, lb_props_fn fn,
     void *arg, struct lb_config_err *err)
{
	char *s = b->s, *value, *end;
	size_t k = 0, i;

	while (k < b->n && !blank(s[k]) && s[k] != '=' && s[k] != ':')
		k++;
	i = k;
	while (i < b->n && blank(s[i]))
		i++;
	if (k == 0 || i == b->n || (s[i] != '=' && s[i] != ':')) {
		syntax_error(err, source, line, s);
		return -EINVAL;
	}
	i++;
	while (i < b->n && blank(s[i]))
		i++;
	value = s + i;
	end = s + b->n;
	while (end > value && (blank(end[-1]) || end[-1] == '\r'))
		end--;
	*end = '\0';
	s[k] = '\0';
	return fn(s, value, line, arg);
}

int
lb_props_parse(const char *source, const char *text, size_t len,
	       lb_props_fn fn, void *arg, struct lb_config_err *err)
{
	struct line_buf b = { NULL, 0, 0 };
	const char *p = text, *stop = text + len;
	const char *nul = memchr(text, '\0', len);
	unsigned lineno = 0;
	int rc = 0;

	if (nul != NULL) {
		unsigned line = 1;

		for (const char *q = text; q < nul; q++)
			line += *q == '\n';
		lb_config_err_set(err, source, line, "", "", "NUL byte in the file");
		return -EINVAL;
	}
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < stop && rc == 0) {
		unsigned first = ++lineno;
		int more = 0;

		b.n = 0;
		do {
			const char *eol = memchr(p, '\n', (size_t)(stop - p));
			const char *s = p, *e = eol != NULL ? eol : stop;
			size_t slashes = 0;

			p = eol != NULL ? eol + 1 : stop;
			if (more)
				lineno++;
			if (e > s && e[-1] == '\r')
				e--;
			while (s < e && blank(*s))
				s++;
			/* Comments and blank lines never continue; a
			 * continuation line is never a comment. */
			if (!more && (s == e || *s == '#' || *s == '!'))
				break;
			while (e - slashes > s && e[-1 - (ptrdiff_t)slashes] == '\\')
				slashes++;
			more = slashes % 2 == 1;
			if (line_append(&b, s, (size_t)(e - s) - (more ? 1 : 0)) < 0) {
				lb_config_err_set(err, source, first, "", "", "out of memory");
				rc = -ENOMEM;
				break;
			}
		} while (more && p < stop);
		if (rc == 0 && b.n > 0)
			rc = emit(&b, source, first, fn, arg, err);
	}
	free(b.s);
	return rc;
}
