/*
 * fuzz_devreg_query.c - libFuzzer target for what the dev registry reads
 * from a request URL: the percent-decoded path and the query string, and
 * the parameters every handler takes from it (?index, ?wait, ?max_stale,
 * the consistency flags, ParseBool values such as ?passing and ?enable).
 * The input is a raw query string. Beyond "no crash" it checks:
 *  - every parsed pair has a non-empty key and a value, both shorter than
 *    the input;
 *  - devreg_query() gives the first value of a key, devreg_query_all()
 *    every value in order, for each key present;
 *  - url.Values.Encode() of the pairs contains only what QueryEscape may
 *    produce, and parsing it again gives the same pairs sorted by key
 *    (values of one key in their first order);
 *  - ?index parses as a u64 that prints back without leading zeros, and
 *    ?wait / ?max_stale durations format and parse back to themselves;
 *  - percent-decoding never grows the text.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devregistry/devreg_duration.h"
#include "devregistry/devreg_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ALL 64

static void
req_clear(struct devreg_req *r)
{
	for (size_t i = 0; i < r->nq; i++) {
		free(r->q[i].key);
		free(r->q[i].value);
	}
	free(r->q);
	r->q = NULL;
	r->nq = 0;
}

static void
check_pairs(const struct devreg_req *r, size_t inlen)
{
	for (size_t i = 0; i < r->nq; i++) {
		const char *k = r->q[i].key, *v = r->q[i].value;
		const char *all[MAX_ALL];
		size_t want = 0, got;

		if (k == NULL || v == NULL || *k == '\0' || strlen(k) > inlen ||
		    strlen(v) > inlen)
			abort();
		for (size_t j = 0; j < r->nq; j++)
			if (strcmp(r->q[j].key, k) == 0 && want++ == 0 &&
			    devreg_query(r, k) != r->q[j].value)
				abort();
		if (!devreg_query_has(r, k))
			abort();
		got = devreg_query_all(r, k, all, MAX_ALL);
		if (got != (want < MAX_ALL ? want : MAX_ALL))
			abort();
		for (size_t j = 0, n = 0; j < r->nq && n < got; j++)
			if (strcmp(r->q[j].key, k) == 0 && all[n++] != r->q[j].value)
				abort();
	}
}

/* Stable order by key: what Encode() sorts into. */
static int
before(const struct devreg_query_pair *a, size_t ia,
       const struct devreg_query_pair *b, size_t ib)
{
	int c = strcmp(a->key, b->key);

	return c < 0 || (c == 0 && ia < ib);
}

static void
check_encode(const struct devreg_req *r)
{
	struct devreg_req again = { 0 };
	char *enc = devreg_query_encode(r);
	size_t *order;

	if (enc == NULL)
		return;
	for (const char *p = enc; *p != '\0'; p++) {
		if (*p == '%') {
			if (strspn(p + 1, "0123456789ABCDEF") < 2)
				abort();
			continue;
		}
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			   "0123456789-_.~+=&", *p) == NULL)
			abort();
	}
	if (devreg_query_parse(&again, enc) < 0 || again.nq != r->nq)
		abort();
	/* Selection sort of indexes: queries here are small. */
	order = malloc((r->nq + 1) * sizeof(*order));
	if (order == NULL)
		abort();
	for (size_t i = 0; i < r->nq; i++)
		order[i] = i;
	for (size_t i = 0; i < r->nq; i++) {
		size_t best = i;

		for (size_t j = i + 1; j < r->nq; j++)
			if (before(&r->q[order[j]], order[j], &r->q[order[best]], order[best]))
				best = j;
		if (best != i) {
			size_t t = order[i];

			order[i] = order[best];
			order[best] = t;
		}
		if (strcmp(again.q[i].key, r->q[order[i]].key) != 0 ||
		    strcmp(again.q[i].value, r->q[order[i]].value) != 0)
			abort();
	}
	free(order);
	req_clear(&again);
	free(enc);
}

/* A duration-valued parameter, as parse_common reads ?wait and
 * ?max_stale: when it parses, it formats and parses back. */
static void
check_duration_param(const struct devreg_req *r, const char *key)
{
	const char *v = devreg_query(r, key);
	int64_t ns, back;
	char buf[32], err[192];

	if (v == NULL || *v == '\0' || devreg_duration_parse(v, &ns, err, sizeof(err)) < 0)
		return;
	devreg_duration_format(ns, buf, sizeof(buf));
	if (devreg_duration_parse(buf, &back, NULL, 0) < 0 || back != ns)
		abort();
}

static void
check_params(const struct devreg_req *r)
{
	static const char *const flags[] = { "passing", "enable", "recurse",
					     "replace-existing-checks", "stale",
					     "consistent", "cached" };
	const char *v = devreg_query(r, "index");
	uint64_t idx;
	int b;

	if (v != NULL && devreg_parse_u64(v, &idx) == 0) {
		char buf[32];
		const char *digits = v + strspn(v, "0");

		snprintf(buf, sizeof(buf), "%" PRIu64, idx);
		if (strcmp(buf, *digits != '\0' ? digits : "0") != 0)
			abort();
	}
	check_duration_param(r, "wait");
	check_duration_param(r, "max_stale");
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		v = devreg_query(r, flags[i]);
		if (v != NULL && devreg_parse_bool(v, &b) == 0 && b != 0 && b != 1)
			abort();
	}
}

/* The request path: percent-decoded without '+' (paths) and with it. */
static void
check_unescape(const char *s, size_t n)
{
	for (int plus = 0; plus <= 1; plus++) {
		char *u = devreg_unescape(s, n, plus);

		if (u == NULL)
			continue;
		if (strlen(u) > n || (strchr(s, '%') == NULL && !plus && strcmp(u, s) != 0))
			abort();
		free(u);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct devreg_req r = { 0 };
	char *s = malloc(size + 1);
	size_t n;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	n = strlen(s);

	check_unescape(s, n);
	if (devreg_query_parse(&r, s) == 0) {
		check_pairs(&r, n);
		check_params(&r);
		check_encode(&r);
	}
	req_clear(&r);
	free(s);
	return 0;
}
