/*
 * lb_h1req.c - request heads from clients, parsed strictly (RFC 9112).
 *
 * Character classes are looked up in one table, because every byte of
 * every head goes through them.
 */
#include <errno.h>
#include <string.h>

#include "lb/lb_h1req.h"

/* Largest Content-Length taken; more is a framing error (no body that
 * big is ever accepted, and it keeps the arithmetic away from overflow). */
#define LENGTH_MAX (UINT64_C(1) << 62)

enum {
	C_TCHAR = 1,     /* token character */
	C_VCHAR = 2,     /* field-vchar: VCHAR or obs-text */
	C_TARGET = 4     /* allowed in a request-target: VCHAR */
};

static unsigned char cls[256];

/* Filled once before main (and so before any thread starts). */
__attribute__((constructor)) static void
cls_init(void)
{
	const char *t = "!#$%&'*+-.^_`|~";
	unsigned c;

	for (c = 0x21; c < 0x7f; c++)
		cls[c] |= C_VCHAR | C_TARGET;
	for (c = 0x80; c < 0x100; c++)
		cls[c] |= C_VCHAR;
	for (c = '0'; c <= '9'; c++)
		cls[c] |= C_TCHAR;
	for (c = 'a'; c <= 'z'; c++)
		cls[c] |= C_TCHAR;
	for (c = 'A'; c <= 'Z'; c++)
		cls[c] |= C_TCHAR;
	for (; *t != '\0'; t++)
		cls[(unsigned char)*t] |= C_TCHAR;
}

int
lb_h1_is_tchar(unsigned char c)
{
	return (cls[c] & C_TCHAR) != 0;
}

long
lb_h1_req_head_end(const char *buf, size_t len, size_t max_line,
		   size_t max_head)
{
	const char *p = buf, *end = buf + (len < max_head ? len : max_head);
	const char *first = memchr(buf, '\n', len < max_line + 2 ? len :
				   max_line + 2);

	/* the request line alone, measured first: a long one is a 414 even
	 * when the head limit is hit at the same time */
	if (first == NULL) {
		if (len > max_line + 1 ||
		    (len == max_line + 1 && buf[len - 1] != '\r'))
			return -ENAMETOOLONG;
	} else if ((size_t)(first - buf) -
		   (first > buf && first[-1] == '\r') > max_line) {
		/* also when a bare LF ends it, so that the answer does not
		 * depend on whether the LF came in the same read */
		return -ENAMETOOLONG;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t at;

		if (nl == NULL)
			break;
		at = (size_t)(nl - buf);
		if (at == 0 || nl[-1] != '\r')
			return -EINVAL;
		/* CRLF CRLF: this LF ends an empty line */
		if (at >= 3 && nl[-2] == '\n' && nl[-3] == '\r')
			return (long)(at + 1);
		p = nl + 1;
	}
	return len >= max_head ? -E2BIG : 0;
}

int
lb_h1_req_status(int err)
{
	switch (err) {
	case -E2BIG: return 431;
	case -ENAMETOOLONG: return 414;
	case -ENOSYS: return 501;
	case -EPROTONOSUPPORT: return 505;
	default: return 400;
	}
}

/* Fail with err, saying why in r->why. */
#define FAIL(r, err, reason) ((r)->why = (reason), (err))

/* "method SP target SP HTTP/x.y" ending at the CR at l[n]. */
static int
request_line(char *l, size_t n, struct lb_h1_req *r)
{
	size_t i = 0, start;

	while (i < n && (cls[(unsigned char)l[i]] & C_TCHAR))
		i++;
	if (i == 0 || i >= n || l[i] != ' ')
		return FAIL(r, -EINVAL, "bad method or request line");
	r->method = l;
	r->method_len = i;
	l[i++] = '\0';
	start = i;
	while (i < n && (cls[(unsigned char)l[i]] & C_TARGET))
		i++;
	if (i == start || i >= n || l[i] != ' ')
		return FAIL(r, -EINVAL, "bad request target");
	r->target = l + start;
	r->target_len = i - start;
	l[i++] = '\0';
	if (n - i != 8 || memcmp(l + i, "HTTP/", 5) != 0 ||
	    l[i + 5] < '0' || l[i + 5] > '9' || l[i + 6] != '.' ||
	    l[i + 7] < '0' || l[i + 7] > '9')
		return FAIL(r, -EINVAL, "bad HTTP version");
	r->major = l[i + 5] - '0';
	r->minor = l[i + 7] - '0';
	if (r->major != 1)
		return FAIL(r, -EPROTONOSUPPORT, "only HTTP/1.x is spoken here");
	return 0;
}

static int
content_length(const char *v, size_t n, int64_t *out)
{
	uint64_t x = 0;
	size_t i;

	if (n == 0)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
		x = x * 10 + (uint64_t)(v[i] - '0');
		if (x > LENGTH_MAX)
			return -EINVAL;
	}
	*out = (int64_t)x;
	return 0;
}

/* Host: reg-name, IPv4 or [IP-literal], optional :port; may be empty. */
static int
host_ok(const char *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if ((cls[c] & C_TCHAR) && c != '|' && c != '^' && c != '`' &&
		    c != '#')
			continue;
		if (c == ':' || c == '[' || c == ']' || c == '%' || c == ';' ||
		    c == '=' || c == ',' || c == '(' || c == ')')
			continue;
		return 0;
	}
	return 1;
}

/* What the Transfer-Encoding fields of a request say, all of them read
 * as one list (RFC 9110 5.3). */
struct te_list {
	int seen;                /* a Transfer-Encoding field came */
	unsigned chunked;        /* how many items are chunked */
	unsigned others;         /* how many items are another coding */
	int last_chunked;        /* the last item so far is chunked */
};

/* Add one field value: comma-separated codings, each a token, optionally
 * followed by blanks and parameters (";q=1"). An item that is not a token
 * followed by one of those, parameters on chunked (it has none, so a
 * reader may take "chunked;x" for an unknown coding), or a field that
 * names no coding at all make the framing unknowable. */
static int
te_add(struct te_list *te, const char *v, size_t n)
{
	size_t i = 0;
	unsigned items = 0;

	te->seen = 1;
	while (i < n) {
		size_t start, end;
		int chunked;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		if (i == n)
			break;
		start = i;
		while (i < n && (cls[(unsigned char)v[i]] & C_TCHAR))
			i++;
		end = i;
		if (end == start)
			return -EINVAL;
		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
		if (i < n && v[i] != ',' && v[i] != ';')
			return -EINVAL;
		chunked = lb_h1_name_is(v + start, end - start, "chunked");
		if (i < n && v[i] == ';') {
			if (chunked)
				return -EINVAL;
			/* another coding's parameters: skipped (such a
			 * request is refused anyway) */
			while (i < n && v[i] != ',')
				i++;
		}
		items++;
		if (chunked) {
			te->chunked++;
			te->last_chunked = 1;
		} else {
			te->others++;
			te->last_chunked = 0;
		}
	}
	return items > 0 ? 0 : -EINVAL;
}

/* The fields the parser acts on, by what they do to framing. */
static int
known_field(struct lb_h1_req *r, const struct lb_h1_field *f,
	    struct te_list *te)
{
	switch (f->name_len) {
	case 4:
		if (!lb_h1_name_is(f->name, 4, "host"))
			return 0;
		if (r->host != NULL)
			return FAIL(r, -EINVAL, "more than one Host");
		if (!host_ok(f->value, f->value_len))
			return FAIL(r, -EINVAL, "bad Host");
		r->host = f->value;
		r->host_len = f->value_len;
		return 0;
	case 6:
		if (lb_h1_name_is(f->name, 6, "expect") &&
		    lb_h1_list_has(f->value, f->value_len, "100-continue"))
			r->expect_continue = 1;
		return 0;
	case 10:
		if (!lb_h1_name_is(f->name, 10, "connection"))
			return 0;
		if (lb_h1_list_has(f->value, f->value_len, "close"))
			r->conn_close = 1;
		if (lb_h1_list_has(f->value, f->value_len, "keep-alive"))
			r->conn_keep_alive = 1;
		return 0;
	case 14: {
		int64_t v;

		if (!lb_h1_name_is(f->name, 14, "content-length"))
			return 0;
		if (content_length(f->value, f->value_len, &v) < 0)
			return FAIL(r, -EINVAL, "bad Content-Length");
		if (r->content_length >= 0 && r->content_length != v)
			return FAIL(r, -EINVAL, "Content-Length values differ");
		r->content_length = v;
		return 0;
	}
	case 17:
		if (!lb_h1_name_is(f->name, 17, "transfer-encoding"))
			return 0;
		if (te_add(te, f->value, f->value_len) < 0)
			return FAIL(r, -EINVAL, "bad Transfer-Encoding");
		return 0;
	default:
		return 0;
	}
}

int
lb_h1_parse_request(char *buf, size_t len, struct lb_h1_req *r)
{
	char *p = buf, *end = buf + len, *nl;
	struct te_list te = {0, 0, 0, 0};
	int rc;

	r->method = r->target = NULL;
	r->method_len = r->target_len = 0;
	r->major = r->minor = 0;
	r->nfields = 0;
	r->host = NULL;
	r->host_len = 0;
	r->content_length = -1;
	r->chunked = r->expect_continue = 0;
	r->conn_close = r->conn_keep_alive = 0;
	r->why = NULL;
	if (len < 4 || memcmp(end - 4, "\r\n\r\n", 4) != 0)
		return FAIL(r, -EINVAL, "head not ended by an empty line");
	nl = memchr(p, '\n', len);
	if (nl == p || nl[-1] != '\r')
		return FAIL(r, -EINVAL, "line not ended by CRLF");
	rc = request_line(p, (size_t)(nl - 1 - p), r);
	if (rc < 0)
		return rc;
	p = nl + 1;
	while (p < end - 2) {
		struct lb_h1_field *f;
		char *colon, *v, *ve;

		nl = memchr(p, '\n', (size_t)(end - p));
		/* the line is p..nl-1 (CR at nl-1); a bare LF was refused
		 * by lb_h1_req_head_end, but parse may be given any bytes */
		if (nl == NULL || nl == p || nl[-1] != '\r')
			return FAIL(r, -EINVAL, "line not ended by CRLF");
		colon = p;
		while (colon < nl - 1 && (cls[(unsigned char)*colon] & C_TCHAR))
			colon++;
		/* no name, a blank before ':' or obs-fold (a line starting
		 * with a blank) all fail here */
		if (colon == p || *colon != ':')
			return FAIL(r, -EINVAL, colon == p ? (*p == ' ' ||
				    *p == '\t' ? "obsolete line folding" :
				    "bad field name") :
				    "bad field name or blank before ':'");
		v = colon + 1;
		ve = nl - 1;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		{
			const char *q;

			for (q = v; q < ve; q++) {
				unsigned char c = (unsigned char)*q;

				if (!(cls[c] & C_VCHAR) && c != ' ' && c != '\t')
					return FAIL(r, -EINVAL,
						    "control character in a field value");
			}
		}
		if (r->nfields == LB_H1_REQ_FIELDS_MAX)
			return FAIL(r, -E2BIG, "too many header fields");
		f = &r->fields[r->nfields++];
		f->name = p;
		f->name_len = (size_t)(colon - p);
		f->value = v;
		f->value_len = (size_t)(ve - v);
		rc = known_field(r, f, &te);
		if (rc < 0)
			return rc;
		*ve = '\0';
		p = nl + 1;
	}
	if (te.seen) {
		/* RFC 9112 6.1 and 6.3: with a length too, in HTTP/1.0,
		 * without chunked as the final coding or with chunked twice,
		 * no two readers need agree where the body ends */
		if (r->content_length >= 0)
			return FAIL(r, -EINVAL,
				    "both Content-Length and Transfer-Encoding");
		if (r->minor == 0)
			return FAIL(r, -EINVAL, "Transfer-Encoding in HTTP/1.0");
		if (!te.last_chunked || te.chunked != 1)
			return FAIL(r, -EINVAL,
				    "chunked is not the one final transfer coding");
		/* a coding we would have to undo before chunked */
		if (te.others > 0)
			return FAIL(r, -ENOSYS,
				    "transfer codings other than chunked");
		r->chunked = 1;
	}
	if (r->minor >= 1 && r->host == NULL)
		return FAIL(r, -EINVAL, "no Host");
	return 0;
}
