/*
 * fuzz_lb_config.c - libFuzzer target for the daemon's configuration: the
 * properties-file parser, every key's value parser, and flags and
 * environment as lb_config_load() reads them. Beyond "no crash" it checks:
 *  - every pair the file parser hands out has a non-empty key without
 *    blanks, '=', ':' or newlines, a value without newlines or blanks at
 *    either end, and line numbers that grow and stay within the input;
 *  - writing the pairs back as `key = value` lines and parsing that gives
 *    the same pairs (where such a line can say the same thing);
 *  - a value either sets its key or is refused with a reason, and what a
 *    key accepts keeps the key's own rules (ranges, non-empty lists);
 *  - a failed load names a reason and leaves the config empty; a good one
 *    never has both registry.consul.requireConsistent and allowStale.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lb/lb_config.h"
#include "lb/lb_config_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PAIRS 64
#define MAX_LINES 24

struct pairs {
	char *key[MAX_PAIRS];
	char *value[MAX_PAIRS];
	size_t n;
	unsigned last_line, max_line;
	int round_trips;      /* every pair can be written back as it was */
	struct lb_config *c;
};

static int
blank(char c)
{
	return c == ' ' || c == '\t' || c == '\f';
}

/* The rules every setter keeps, checked after a successful set. */
static void
check_field(const struct lb_config_key *k, const struct lb_config *c)
{
	const char *base = (const char *)c + k->offset;

	switch (k->type) {
	case LB_CFG_STRING:
		if (*(char *const *)(const void *)base == NULL)
			abort();
		break;
	case LB_CFG_INT: {
		int v = *(const int *)(const void *)base;

		if (v < k->min || v > k->max)
			abort();
		break;
	}
	case LB_CFG_DURATION: {
		int64_t v = *(const int64_t *)(const void *)base;

		if (v < k->min || v > k->max)
			abort();
		break;
	}
	case LB_CFG_SIZE:
		if (*(const uint64_t *)(const void *)base > (uint64_t)k->max)
			abort();
		break;
	case LB_CFG_FLAGS:
		if (*(const unsigned *)(const void *)base == 0)
			abort();
		break;
	case LB_CFG_LIST: {
		const struct lb_config_list *l = (const void *)base;

		for (size_t i = 0; i < l->n; i++)
			if (l->v[i][0] == '\0' || blank(l->v[i][0]) ||
			    strchr(l->v[i], ',') != NULL)
				abort();
		break;
	}
	default:
		break;
	}
}

/* Set k from text; either it takes or a reason comes back. */
static void
set_one(const struct lb_config_key *k, struct lb_config *c, const char *text)
{
	char why[160];
	int rc;

	why[0] = '\0';
	rc = lb_config_value_set(k, c, text, why, sizeof(why));
	if (rc == 0)
		check_field(k, c);
	else if (rc == -EINVAL && (why[0] == '\0' || memchr(why, '\0', sizeof(why)) == NULL))
		abort();
}

static int
pair(const char *key, const char *value, unsigned line, void *arg)
{
	struct pairs *p = arg;
	size_t vn = strlen(value), slashes = 0;
	const struct lb_config_key *k;

	if (key[0] == '\0' || strpbrk(key, " \t\f=:\n") != NULL)
		abort();
	if (strchr(value, '\n') != NULL ||
	    (vn > 0 && (blank(value[0]) || blank(value[vn - 1]) || value[vn - 1] == '\r')))
		abort();
	if (line < p->last_line || line > p->max_line || line == 0)
		abort();
	p->last_line = line;

	while (slashes < vn && value[vn - 1 - slashes] == '\\')
		slashes++;
	/* A value ending in an odd run of backslashes would continue the
	 * line; a key starting with # or ! (possible after a continuation)
	 * would be a comment, one starting with a BOM loses it. */
	if (slashes % 2 == 1 || key[0] == '#' || key[0] == '!' ||
	    strncmp(key, "\xef\xbb\xbf", 3) == 0)
		p->round_trips = 0;
	if (p->n < MAX_PAIRS) {
		p->key[p->n] = strdup(key);
		p->value[p->n] = strdup(value);
		if (p->key[p->n] == NULL || p->value[p->n] == NULL)
			abort();
		p->n++;
	} else {
		p->round_trips = 0;
	}
	if ((k = lb_config_key_find(key)) != NULL && p->c != NULL)
		set_one(k, p->c, value);
	return 0;
}

static void
pairs_clear(struct pairs *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->key[i]);
		free(p->value[i]);
	}
	p->n = 0;
}

static unsigned
count_lines(const char *s, size_t n)
{
	unsigned lines = 1;

	for (size_t i = 0; i < n; i++)
		lines += s[i] == '\n';
	return lines;
}

static void
fuzz_file(const char *s, size_t size)
{
	struct pairs a = { .round_trips = 1 }, b = { .round_trips = 1 };
	struct lb_config c;
	struct lb_config_err err;
	char *text;
	size_t len = 0, cap = 1;
	int rc;

	if (lb_config_defaults(&c) < 0)
		return;
	a.c = &c;
	a.max_line = count_lines(s, size);
	memset(&err, 0, sizeof(err));
	rc = lb_props_parse("f", s, size, pair, &a, &err);
	lb_config_free(&c);
	if (rc != 0) {
		if (rc != -EINVAL || strncmp(err.msg, "f:", 2) != 0 || err.line == 0 ||
		    err.line > a.max_line)
			abort();
		pairs_clear(&a);
		return;
	}
	if (!a.round_trips) {
		pairs_clear(&a);
		return;
	}
	for (size_t i = 0; i < a.n; i++)
		cap += strlen(a.key[i]) + strlen(a.value[i]) + 4;
	text = malloc(cap);
	if (text == NULL)
		abort();
	for (size_t i = 0; i < a.n; i++)
		len += (size_t)snprintf(text + len, cap - len, "%s = %s\n", a.key[i], a.value[i]);
	b.max_line = count_lines(text, len);
	if (lb_props_parse("g", text, len, pair, &b, NULL) != 0 || b.n != a.n)
		abort();
	for (size_t i = 0; i < a.n; i++)
		if (strcmp(a.key[i], b.key[i]) != 0 || strcmp(a.value[i], b.value[i]) != 0)
			abort();
	free(text);
	pairs_clear(&a);
	pairs_clear(&b);
}

/* Every key's parser on the whole input, and the helpers beside them. */
static void
fuzz_values(const char *s)
{
	struct lb_config c;
	char why[160];

	if (lb_config_defaults(&c) < 0)
		return;
	for (size_t i = 0; i < lb_config_nkeys; i++)
		set_one(&lb_config_keys[i], &c, s);
	lb_config_free(&c);
	lb_config_check_listen_addr(s, why, sizeof(why));
	lb_config_check_consul_addr(s, why, sizeof(why));
	lb_config_check_cidr(s, why, sizeof(why));
	lb_config_check_cidr(s, why, 1);
	lb_config_key_suggest(s);
	lb_config_key_find_env(s);
}

/* The input's lines as flags, then as SWITCHYARD_ variables. Inputs that
 * mention cfg are left out so that no file is ever opened. */
static void
fuzz_load(const char *s)
{
	char *copy, *save = NULL;
	char *argv[MAX_LINES + 2] = { "switchyard" };
	char *envp[MAX_LINES + 1] = { NULL };
	char envbuf[MAX_LINES][128];
	int argc = 1, nenv = 0;
	struct lb_config c;
	struct lb_config_err err;

	if (strcasestr(s, "cfg") != NULL || (copy = strdup(s)) == NULL)
		return;
	for (char *line = strtok_r(copy, "\n", &save); line != NULL && argc <= MAX_LINES;
	     line = strtok_r(NULL, "\n", &save)) {
		argv[argc++] = line;
		snprintf(envbuf[nenv], sizeof(envbuf[nenv]), "SWITCHYARD_%s", line);
		envp[nenv] = envbuf[nenv];
		nenv++;
	}
	argv[argc] = NULL;
	for (int round = 0; round < 2; round++) {
		int rc = round == 0 ? lb_config_load(&c, argc, argv, NULL, &err) :
				      lb_config_load(&c, 1, argv, envp, &err);

		if (rc == 0) {
			if (!c.help && !c.version &&
			    (c.consul_require_consistent && c.consul_allow_stale))
				abort();
			if (!c.help && !c.version && c.register_addr[0] == '\0')
				abort();
		} else if (err.msg[0] == '\0' || c.proxy_addr != NULL || c.args != NULL) {
			abort();
		}
		lb_config_free(&c);
	}
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size > 64 * 1024)
		return 0;
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	fuzz_file(s, size);
	if (size <= 512) {
		fuzz_values(s);
		fuzz_load(s);
	}
	free(s);
	return 0;
}
