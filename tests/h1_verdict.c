/*
 * h1_verdict.c - what switchyard makes of the first request in a file,
 * decided the way the daemon's connection code decides it with the
 * default limits: empty lines before the request line skipped (RFC 9112
 * 2.2), the head's end looked for with an 8 KiB request line and a 64 KiB
 * head, the head parsed, more than 100 fields refused, then the body
 * framed by Content-Length (more than 64 MiB refused) or by the strict
 * chunked decoder.
 *
 * Usage: h1_verdict FILE|FOLDER...  One line per file:
 *   FILE accept CONSUMED   the request is complete in CONSUMED bytes
 *   FILE reject STATUS     the daemon answers STATUS and closes
 *   FILE incomplete        the daemon would wait for more bytes
 * A folder stands for the regular files in it, in name order. Exit 0,
 * or 2 when a file could not be read.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/buffer.h>

#include "lb/lb_h1req.h"

/* The defaults of proxy.maxrequestline, proxy.maxheaderbytes,
 * proxy.maxheaders and proxy.maxbody. */
#define MAX_REQUEST_LINE 8192
#define MAX_HEADER_BYTES 65536
#define MAX_HEADERS 100
#define MAX_BODY (UINT64_C(64) << 20)

static struct lb_h1_req req;

/* The chunked body at body[0..len): the status to refuse it with, 0
 * when it is complete (its framing is *used bytes long), 1 when more
 * must come. */
static int
chunked_body(const char *body, size_t len, size_t *used)
{
	struct lb_h1_chunked ch;
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
	int rc, verdict;

	if (in == NULL || out == NULL) {
		fprintf(stderr, "h1_verdict: out of memory\n");
		exit(2);
	}
	memset(&ch, 0, sizeof(ch));
	ch.strict = 1;
	evbuffer_add(in, body, len);
	rc = lb_h1_chunked_decode(&ch, in, out);
	if (rc < 0)
		verdict = 400;
	else if (evbuffer_get_length(out) > MAX_BODY)
		verdict = 413;
	else if (rc == 0)
		verdict = 1;
	else
		verdict = 0;
	*used = len - evbuffer_get_length(in);
	evbuffer_free(in);
	evbuffer_free(out);
	return verdict;
}

/* Print the verdict on data[0..len) (which may be changed). */
static void
verdict(const char *name, char *data, size_t len)
{
	size_t skip = 0, head, used;
	long end;
	int rc;

	while (len - skip >= 2 && data[skip] == '\r' && data[skip + 1] == '\n')
		skip += 2;
	if (skip == len) {
		printf("%s incomplete\n", name);
		return;
	}
	end = lb_h1_req_head_end(data + skip, len - skip, MAX_REQUEST_LINE,
				 MAX_HEADER_BYTES);
	if (end == 0) {
		printf("%s incomplete\n", name);
		return;
	}
	if (end < 0) {
		printf("%s reject %d\n", name, lb_h1_req_status((int)end));
		return;
	}
	head = skip + (size_t)end;
	rc = lb_h1_parse_request(data + skip, (size_t)end, &req);
	if (rc < 0) {
		printf("%s reject %d\n", name, lb_h1_req_status(rc));
		return;
	}
	if (req.nfields > MAX_HEADERS) {
		printf("%s reject 431\n", name);
		return;
	}
	if (req.chunked) {
		rc = chunked_body(data + head, len - head, &used);
		if (rc == 1)
			printf("%s incomplete\n", name);
		else if (rc > 1)
			printf("%s reject %d\n", name, rc);
		else
			printf("%s accept %zu\n", name, head + used);
		return;
	}
	if (req.content_length > 0) {
		if ((uint64_t)req.content_length > MAX_BODY) {
			printf("%s reject 413\n", name);
			return;
		}
		if ((uint64_t)req.content_length > len - head) {
			printf("%s incomplete\n", name);
			return;
		}
		head += (size_t)req.content_length;
	}
	printf("%s accept %zu\n", name, head);
}

/* Read the whole file into a new buffer; NULL when it cannot be read. */
static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (f == NULL)
		return NULL;
	for (;;) {
		size_t got;

		if (n == cap) {
			char *p;

			cap = cap == 0 ? 65536 : cap * 2;
			p = realloc(buf, cap);
			if (p == NULL)
				goto fail;
			buf = p;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f))
		goto fail;
	fclose(f);
	*len = n;
	return buf;
fail:
	free(buf);
	fclose(f);
	return NULL;
}

static int
one_file(const char *path)
{
	size_t len;
	char *data = slurp(path, &len);

	if (data == NULL) {
		fprintf(stderr, "h1_verdict: %s: %s\n", path, strerror(errno));
		return -1;
	}
	verdict(path, data, len);
	free(data);
	return 0;
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int
one_folder(const char *dir)
{
	struct dirent **list;
	int n, i, bad = 0;

	n = scandir(dir, &list, NULL, by_name);
	if (n < 0) {
		fprintf(stderr, "h1_verdict: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		char path[4096];
		struct stat st;

		if (list[i]->d_name[0] != '.' &&
		    (size_t)snprintf(path, sizeof(path), "%s/%s", dir,
				     list[i]->d_name) < sizeof(path) &&
		    stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		    one_file(path) < 0)
			bad = 1;
		free(list[i]);
	}
	free(list);
	return bad ? -1 : 0;
}

int
main(int argc, char **argv)
{
	int i, bad = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: h1_verdict FILE|FOLDER...\n");
		return 2;
	}
	for (i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			bad |= one_folder(argv[i]) < 0;
		else
			bad |= one_file(argv[i]) < 0;
	}
	return bad ? 2 : 0;
}
