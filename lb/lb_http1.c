/*
 * lb_http1.c - response heads and chunked bodies from upstreams, strict
 * where looseness would let two parties disagree on where a message ends
 * (Content-Length and Transfer-Encoding), lenient about bare LF line ends.
 */
#include <errno.h>
#include <string.h>

#include "lb/lb_h1req.h"   /* lb_h1_is_tchar */
#include "lb/lb_http1.h"

#define CHUNK_LINE_MAX 4096
#define TRAILERS_MAX (64 * 1024)

long
lb_h1_head_end(const char *buf, size_t len, size_t max)
{
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t at;

		if (nl == NULL)
			break;
		at = (size_t)(nl - buf);
		if (nl + 1 < end && nl[1] == '\n')
			return at + 2 > max ? -1 : (long)(at + 2);
		if (nl + 2 < end && nl[1] == '\r' && nl[2] == '\n')
			return at + 3 > max ? -1 : (long)(at + 3);
		if (nl + 1 == end || (nl + 2 == end && nl[1] == '\r'))
			break;   /* the end may be on its way */
		p = nl + 1;
	}
	return len > max ? -1 : 0;
}

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

int
lb_h1_name_is(const char *name, size_t len, const char *lower_name)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (lower_name[i] == '\0' ||
		    lower((unsigned char)name[i]) != (unsigned char)lower_name[i])
			return 0;
	}
	return lower_name[len] == '\0';
}

int
lb_h1_list_has(const char *value, size_t len, const char *lower_token)
{
	size_t i = 0;

	while (i < len) {
		size_t start, end;

		while (i < len && (value[i] == ' ' || value[i] == '\t' ||
				   value[i] == ','))
			i++;
		start = i;
		while (i < len && value[i] != ',')
			i++;
		end = i;
		while (end > start && (value[end - 1] == ' ' ||
				       value[end - 1] == '\t'))
			end--;
		if (end > start && lb_h1_name_is(value + start, end - start,
						 lower_token))
			return 1;
	}
	return 0;
}

/* The last item of a comma-separated list, blanks cut. */
static void
list_last(const char *v, size_t len, const char **item, size_t *ilen)
{
	size_t end = len, start;

	while (end > 0 && (v[end - 1] == ' ' || v[end - 1] == '\t' ||
			   v[end - 1] == ','))
		end--;
	start = end;
	while (start > 0 && v[start - 1] != ',')
		start--;
	while (start < end && (v[start] == ' ' || v[start] == '\t'))
		start++;
	*item = v + start;
	*ilen = end - start;
}

/* The next line of [p, end): its content (without CR LF) and where the
 * following line starts. -1 when no LF ends it. */
static int
next_line(const char *p, const char *end, const char **line, size_t *len,
	  const char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	if (nl == NULL)
		return -1;
	*line = p;
	*len = (size_t)(nl - p);
	if (*len > 0 && p[*len - 1] == '\r')
		(*len)--;
	*next = nl + 1;
	return 0;
}

static int
parse_status_line(const char *l, size_t n, struct lb_h1_resp *r)
{
	size_t i;

	if (n < 12 || memcmp(l, "HTTP/", 5) != 0 || l[5] != '1' ||
	    l[6] != '.' || l[7] < '0' || l[7] > '9' || l[8] != ' ')
		return -EINVAL;
	r->major = 1;
	r->minor = l[7] - '0';
	r->status = 0;
	for (i = 9; i < 12; i++) {
		if (l[i] < '0' || l[i] > '9')
			return -EINVAL;
		r->status = r->status * 10 + (l[i] - '0');
	}
	if (r->status < 100)
		return -EINVAL;
	if (n > 12 && l[12] != ' ')
		return -EINVAL;
	r->reason = n > 12 ? l + 13 : l + 12;
	r->reason_len = n > 12 ? n - 13 : 0;
	for (i = 0; i < r->reason_len; i++) {
		unsigned char c = (unsigned char)r->reason[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return -EINVAL;
	}
	return 0;
}

static int
parse_length(const char *v, size_t n, int64_t *out)
{
	int64_t x = 0;
	size_t i;

	if (n == 0 || n > 18)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
		x = x * 10 + (v[i] - '0');
	}
	*out = x;
	return 0;
}

int
lb_h1_parse_response(const char *buf, size_t len, struct lb_h1_resp *r)
{
	const char *p = buf, *end = buf + len, *line, *next;
	size_t n;
	int keep_alive = 0, close_token = 0, has_te = 0;
	const char *te_last = NULL;
	size_t te_last_len = 0;

	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	if (next_line(p, end, &line, &n, &next) < 0)
		return -EINVAL;
	if (parse_status_line(line, n, r) < 0)
		return -EINVAL;
	p = next;
	for (;;) {
		struct lb_h1_field *f;
		const char *colon, *v, *ve;
		size_t i;

		if (next_line(p, end, &line, &n, &next) < 0)
			return -EINVAL;   /* the head must end in an empty line */
		p = next;
		if (n == 0)
			break;
		if (line[0] == ' ' || line[0] == '\t')
			return -EINVAL;   /* obsolete line folding */
		colon = memchr(line, ':', n);
		if (colon == NULL || colon == line)
			return -EINVAL;
		for (i = 0; line + i < colon; i++) {
			if (!lb_h1_is_tchar((unsigned char)line[i]))
				return -EINVAL;
		}
		v = colon + 1;
		ve = line + n;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		for (i = 0; v + i < ve; i++) {
			if (v[i] == '\0' || v[i] == '\r' || v[i] == '\n')
				return -EINVAL;
		}
		if (r->nfields == LB_H1_MAX_FIELDS)
			return -E2BIG;
		f = &r->fields[r->nfields++];
		f->name = line;
		f->name_len = (size_t)(colon - line);
		f->value = v;
		f->value_len = (size_t)(ve - v);

		if (f->name_len == 14 &&
		    lb_h1_name_is(f->name, f->name_len, "content-length")) {
			int64_t cl;

			if (parse_length(f->value, f->value_len, &cl) < 0)
				return -EINVAL;
			if (r->content_length >= 0 && r->content_length != cl)
				return -EINVAL;
			r->content_length = cl;
		} else if (f->name_len == 17 &&
			   lb_h1_name_is(f->name, f->name_len,
					 "transfer-encoding")) {
			const char *item;
			size_t ilen;

			list_last(f->value, f->value_len, &item, &ilen);
			if (ilen > 0) {
				te_last = item;
				te_last_len = ilen;
			}
			has_te = 1;
		} else if (f->name_len == 10 &&
			   lb_h1_name_is(f->name, f->name_len, "connection")) {
			if (lb_h1_list_has(f->value, f->value_len, "close"))
				close_token = 1;
			if (lb_h1_list_has(f->value, f->value_len, "keep-alive"))
				keep_alive = 1;
		}
	}
	if (has_te) {
		/* a sender must never send both (RFC 9112 6.1); one that
		 * does may be read two ways by the hops behind us */
		if (r->content_length >= 0)
			return -EINVAL;
		if (te_last != NULL &&
		    lb_h1_name_is(te_last, te_last_len, "chunked"))
			r->chunked = 1;
		else
			r->other_coding = 1;
	}
	r->close = close_token || (r->minor == 0 && !keep_alive) ||
		   r->other_coding;
	return 0;
}

enum {
	CH_SIZE = 0,
	CH_DATA,
	CH_DATA_END,
	CH_TRAILER,
	CH_DONE
};

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* chunk-size [ BWS ";" chunk-ext ]: the size, or -1. */
static int
parse_size_line(const char *l, size_t n, uint64_t *size)
{
	uint64_t x = 0;
	size_t i = 0, digits = 0;
	int h;

	while (i < n && (h = hexval((unsigned char)l[i])) >= 0) {
		if (++digits > 15)
			return -1;
		x = x * 16 + (uint64_t)h;
		i++;
	}
	if (digits == 0)
		return -1;
	while (i < n && (l[i] == ' ' || l[i] == '\t'))
		i++;
	if (i < n && l[i] != ';')
		return -1;
	for (; i < n; i++) {
		unsigned char c = (unsigned char)l[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return -1;
	}
	*size = x;
	return 0;
}

/*
 * Find the end of the next framing line in `in`: the line's length
 * without its terminator in *len, the terminator's length in *eol.
 * Returns 1 when a line is there, 0 when not yet, -1 for a bare LF in
 * strict mode.
 */
static int
framing_line(const struct lb_h1_chunked *c, struct evbuffer *in, size_t *len,
	     size_t *eol)
{
	struct evbuffer_ptr pos;
	size_t eol_len = 0;
	char cr;

	pos = evbuffer_search_eol(in, NULL, &eol_len,
				  c->strict ? EVBUFFER_EOL_LF : EVBUFFER_EOL_CRLF);
	if (pos.pos < 0)
		return 0;
	if (!c->strict) {
		*len = (size_t)pos.pos;
		*eol = eol_len;
		return 1;
	}
	if (pos.pos == 0)
		return -1;
	/* the byte before the LF must be its CR */
	if (evbuffer_ptr_set(in, &pos, (size_t)pos.pos - 1,
			     EVBUFFER_PTR_SET) < 0 ||
	    evbuffer_copyout_from(in, &pos, &cr, 1) != 1 || cr != '\r')
		return -1;
	*len = (size_t)pos.pos;   /* now the CR's position */
	*eol = 2;
	return 1;
}

/* A trailer field line in strict mode: token ':' value without controls
 * other than HTAB. */
static int
trailer_ok(const char *l, size_t n)
{
	size_t i = 0;

	while (i < n && lb_h1_is_tchar((unsigned char)l[i]))
		i++;
	if (i == 0 || i == n || l[i] != ':')
		return 0;
	for (i++; i < n; i++) {
		unsigned char ch = (unsigned char)l[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return 0;
	}
	return 1;
}

int
lb_h1_chunked_decode(struct lb_h1_chunked *c, struct evbuffer *in,
		     struct evbuffer *out)
{
	for (;;) {
		size_t avail = evbuffer_get_length(in);

		switch (c->state) {
		case CH_SIZE: {
			char line[CHUNK_LINE_MAX];
			size_t n = 0, eol_len = 0;
			uint64_t size;
			int rc = framing_line(c, in, &n, &eol_len);

			if (rc < 0)
				return -EINVAL;
			if (rc == 0)
				return avail >= CHUNK_LINE_MAX ? -EINVAL : 0;
			if (n >= CHUNK_LINE_MAX)
				return -EINVAL;
			evbuffer_copyout(in, line, n);
			if (parse_size_line(line, n, &size) < 0)
				return -EINVAL;
			evbuffer_drain(in, n + eol_len);
			if (size == 0) {
				c->state = CH_TRAILER;
			} else {
				c->left = size;
				c->state = CH_DATA;
			}
			break;
		}
		case CH_DATA: {
			size_t n = avail < c->left ? avail : (size_t)c->left;

			if (n == 0)
				return 0;
			evbuffer_remove_buffer(in, out, n);
			c->left -= n;
			if (c->left == 0)
				c->state = CH_DATA_END;
			break;
		}
		case CH_DATA_END: {
			unsigned char b[2];

			if (avail == 0)
				return 0;
			evbuffer_copyout(in, b, avail >= 2 ? 2 : 1);
			if (b[0] == '\n' && !c->strict) {
				evbuffer_drain(in, 1);
			} else if (b[0] == '\r') {
				if (avail < 2)
					return 0;
				if (b[1] != '\n')
					return -EINVAL;
				evbuffer_drain(in, 2);
			} else {
				return -EINVAL;
			}
			c->state = CH_SIZE;
			break;
		}
		case CH_TRAILER: {
			size_t n = 0, eol_len = 0;
			int rc = framing_line(c, in, &n, &eol_len);

			if (rc < 0)
				return -EINVAL;
			if (rc == 0)
				return c->trailer_bytes + avail > TRAILERS_MAX ?
					-EINVAL : 0;
			c->trailer_bytes += n + eol_len;
			if (c->trailer_bytes > TRAILERS_MAX)
				return -EINVAL;
			if (c->strict && n > 0) {
				char line[CHUNK_LINE_MAX];

				if (n >= CHUNK_LINE_MAX)
					return -EINVAL;
				evbuffer_copyout(in, line, n);
				if (!trailer_ok(line, n))
					return -EINVAL;
			}
			evbuffer_drain(in, n + eol_len);
			if (n == 0)
				c->state = CH_DONE;
			break;
		}
		default:
			return 1;
		}
	}
}
