/*
 * lb_overrides.h - the manual route overrides kept in Consul KV under
 * registry.consul.kvpath, as one text for rt_parse: the values of all keys
 * in key order, each preceded by a "# --- <key>" comment line, as fabio
 * writes them (registry/consul/kv.go), with a map from the text's line
 * numbers back to the key and the line within its value.
 */
#ifndef LB_OVERRIDES_H
#define LB_OVERRIDES_H

#include <stddef.h>
#include "registry-client/consul_json.h"

struct lb_override_key {
	char *key;            /* printable: control characters became '?' */
	unsigned first_line;  /* line of the text where the value starts */
};

struct lb_overrides {
	char *text;           /* NUL-terminated; NULL when there are no keys */
	size_t len;
	struct lb_override_key *keys;
	size_t nkeys;
};

/*
 * Build the text from a decoded recursive KV answer, in the order given
 * (Consul sorts by key). Keys with a null value contribute only their
 * comment. Values are taken as they are (not trimmed, so line numbers
 * within a value stay those the user sees); one newline is added after a
 * value that does not end with one. out is overwritten. 0 or -ENOMEM
 * (out then cleared).
 */
int lb_overrides_build(const struct consul_kv_list *kv,
		       struct lb_overrides *out);
void lb_overrides_clear(struct lb_overrides *o);

/* Which key a line of the text belongs to, and the line within its value
 * (*key_line, 1-based). NULL for line 0 or a line before any value. */
const char *lb_overrides_where(const struct lb_overrides *o, unsigned line,
			       unsigned *key_line);

#endif
