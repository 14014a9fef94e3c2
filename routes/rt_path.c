/*
 * rt_path.c - request path normalisation (fabio 1.7.3's security fix: a
 * path is matched the way the upstream will resolve it) and the glob
 * matcher used for glob paths and wildcard hosts.
 */
#include <errno.h>
#include <string.h>

#include "routes/rt_table_internal.h"

/* ---- normalisation ---------------------------------------------------- */

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 3986 unreserved: only these may be decoded without changing what
 * the path means ("%2F" is data, "/" is structure). */
static int unreserved(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

/* Decode the unreserved escapes of in into out; every other byte and
 * escape (also a broken one such as "%zz") is copied as written. The
 * result is never longer than the input. -1 when it does not fit. */
static long decode_unreserved(const char *in, size_t len, char *out,
			      size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '%' && i + 2 < len) {
			int hi = hexval((unsigned char)in[i + 1]);
			int lo = hexval((unsigned char)in[i + 2]);

			if (hi >= 0 && lo >= 0 && unreserved(hi * 16 + lo)) {
				c = (unsigned char)(hi * 16 + lo);
				i += 2;
			}
		}
		if (o + 1 >= size)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return (long)o;
}

/*
 * RFC 3986 5.2.4 remove_dot_segments on p[0..n), in place (the output
 * never overtakes the input). p starts with '/'. "." and ".." segments
 * vanish, ".." also takes the segment before it (never above the root);
 * a dot segment at the end leaves a trailing '/'. Empty segments ("//")
 * are kept.
 */
static size_t remove_dot_segments(char *p, size_t n)
{
	size_t r = 0, w = 0;

	while (r < n) {
		size_t s = r + 1, e = s;

		while (e < n && p[e] != '/')
			e++;
		if (e - s == 1 && p[s] == '.') {
			/* "." : drop */
		} else if (e - s == 2 && p[s] == '.' && p[s + 1] == '.') {
			while (w > 0 && p[w - 1] != '/')
				w--;
			if (w > 0)
				w--;   /* the '/' that opened the segment */
		} else {
			memmove(p + w, p + r, e - r);
			w += e - r;
			r = e;
			continue;
		}
		if (e == n)
			p[w++] = '/';
		r = e;
	}
	if (w == 0)
		p[w++] = '/';
	p[w] = '\0';
	return w;
}

long rt_path_normalize(const char *in, size_t len, char *out, size_t size)
{
	long n;

	if (!in || !out || len == 0 || in[0] != '/')
		return -1;
	n = decode_unreserved(in, len, out, size);
	if (n < 0)
		return -1;
	return (long)remove_dot_segments(out, (size_t)n);
}

/* ---- glob -------------------------------------------------------------- */

enum {
	RT_GLOB_LIT = 0,
	RT_GLOB_ANY,               /* ? */
	RT_GLOB_STAR,              /* * (runs of them are one) */
	RT_GLOB_CLASS
};

static int special(unsigned char c)
{
	return c == '*' || c == '?' || c == '[' || c == '\\';
}

size_t rt_glob_literal_prefix(const char *pat, size_t len)
{
	size_t i = 0;

	while (i < len && !special((unsigned char)pat[i]))
		i++;
	return i;
}

size_t rt_glob_literal_suffix(const char *pat, size_t len)
{
	size_t i = len;

	/* ']' ends a class, so it is special at the tail; a byte escaped
	 * by '\' is left out to keep this simple and safe. */
	while (i > 0) {
		unsigned char c = (unsigned char)pat[i - 1];

		if (special(c) || c == ']')
			break;
		if (i >= 2 && pat[i - 2] == '\\')
			break;
		i--;
	}
	return len - i;
}

/* The end of the class opened at pat[i] == '[' (the index of its ']'),
 * or 0 when it is not closed. A ']' first in the class is a member. */
static size_t class_end(const char *pat, size_t len, size_t i)
{
	size_t j = i + 1;

	if (j < len && (pat[j] == '!' || pat[j] == '^'))
		j++;
	if (j < len && pat[j] == ']')
		j++;
	for (; j < len; j++) {
		if (pat[j] == '\\' && j + 1 < len) {
			j++;
			continue;
		}
		if (pat[j] == ']')
			return j;
	}
	return 0;
}

static void class_fill(uint8_t set[32], const char *pat, size_t from,
		       size_t end, int lower)
{
	int neg = 0;
	size_t j = from;

	memset(set, 0, 32);
	if (pat[j] == '!' || pat[j] == '^') {
		neg = 1;
		j++;
	}
	while (j < end) {
		unsigned char lo, hi;

		if (pat[j] == '\\' && j + 1 < end)
			j++;
		lo = (unsigned char)pat[j++];
		hi = lo;
		if (j + 1 < end && pat[j] == '-') {
			j++;
			if (pat[j] == '\\' && j + 1 < end)
				j++;
			hi = (unsigned char)pat[j++];
		}
		for (unsigned c = lo; c <= hi; c++) {
			unsigned char m = lower ? rt_lower((unsigned char)c)
						: (unsigned char)c;

			set[m >> 3] |= (uint8_t)(1u << (m & 7));
		}
	}
	if (neg) {
		for (int k = 0; k < 32; k++)
			set[k] = (uint8_t)~set[k];
	}
}

int rt_glob_compile(struct rt_arena *a, const char *pat, size_t len,
		    int lower, struct rt_glob *out)
{
	struct rt_glob_tok *toks = NULL;
	uint8_t (*cls)[32] = NULL;
	size_t ntoks = 0, ncls = 0;

	memset(out, 0, sizeof(*out));
	/* at most one token per byte, one class per '[' */
	for (size_t i = 0; i < len; i++)
		ncls += pat[i] == '[';
	toks = rt_arena_alloc(a, (len ? len : 1) * sizeof(*toks),
			      _Alignof(struct rt_glob_tok));
	if (!toks)
		return -ENOMEM;
	if (ncls) {
		if (ncls > UINT16_MAX)
			ncls = UINT16_MAX;
		cls = rt_arena_alloc(a, ncls * 32, 8);
		if (!cls)
			return -ENOMEM;
	}
	ncls = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)pat[i];
		struct rt_glob_tok *t = &toks[ntoks];
		size_t end;

		if (c == '*') {
			if (ntoks && toks[ntoks - 1].op == RT_GLOB_STAR)
				continue;
			t->op = RT_GLOB_STAR;
		} else if (c == '?') {
			t->op = RT_GLOB_ANY;
		} else if (c == '[' && ncls < UINT16_MAX &&
			   (end = class_end(pat, len, i)) != 0) {
			t->op = RT_GLOB_CLASS;
			t->cls = (uint16_t)ncls;
			class_fill(cls[ncls++], pat, i + 1, end, lower);
			i = end;
		} else {
			if (c == '\\' && i + 1 < len)
				c = (unsigned char)pat[++i];
			t->op = RT_GLOB_LIT;
			t->ch = lower ? rt_lower(c) : c;
		}
		ntoks++;
	}
	out->toks = toks;
	out->cls = (const uint8_t (*)[32])cls;
	out->ntoks = (uint32_t)ntoks;
	return 0;
}

static int tok_accepts(const struct rt_glob *g, const struct rt_glob_tok *t,
		       unsigned char c)
{
	switch (t->op) {
	case RT_GLOB_LIT:
		return t->ch == c;
	case RT_GLOB_ANY:
		return 1;
	case RT_GLOB_CLASS:
		return (g->cls[t->cls][c >> 3] >> (c & 7)) & 1;
	default:
		return 0;
	}
}

/*
 * Greedy matching with one backtrack point: when a token fails, the last
 * '*' takes one more byte and matching resumes after it. Enough for
 * patterns whose only variable-length token is '*', and O(len * ntoks)
 * at worst, so a hostile path cannot make it explode.
 */
int rt_glob_match(const struct rt_glob *g, const char *s, size_t len)
{
	size_t ti = 0, si = 0, star_t = SIZE_MAX, star_s = 0;

	while (si < len) {
		if (ti < g->ntoks) {
			const struct rt_glob_tok *t = &g->toks[ti];

			if (t->op == RT_GLOB_STAR) {
				star_t = ti++;
				star_s = si;
				continue;
			}
			if (tok_accepts(g, t, (unsigned char)s[si])) {
				ti++;
				si++;
				continue;
			}
		}
		if (star_t == SIZE_MAX)
			return 0;
		ti = star_t + 1;
		si = ++star_s;
	}
	while (ti < g->ntoks && g->toks[ti].op == RT_GLOB_STAR)
		ti++;
	return ti == g->ntoks;
}
