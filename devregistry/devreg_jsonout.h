/*
 * devreg_jsonout.h - cJSON trees onto the wire the way Consul's Go encoder
 * writes them: pretty output indented with four spaces and ending with a
 * newline (a dev agent always pretty-prints), strings as valid UTF-8
 * (invalid bytes become U+FFFD), unsigned 64-bit integers exact.
 */
#ifndef DEVREG_JSONOUT_H
#define DEVREG_JSONOUT_H

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <stdint.h>

/* Append v to out. Returns 0 or -ENOMEM. */
int devreg_json_write(struct evbuffer *out, const cJSON *v, int pretty);

/* An exact u64 number node (cJSON keeps numbers as doubles, which lose
 * digits above 2^53). NULL when out of memory. */
cJSON *devreg_json_u64(uint64_t v);

/* Add helpers that tolerate a NULL parent or value (they then do
 * nothing) and return the added node. A NULL string is written as "". */
cJSON *devreg_json_add_str(cJSON *obj, const char *key, const char *v);
cJSON *devreg_json_add_u64(cJSON *obj, const char *key, uint64_t v);
cJSON *devreg_json_add_int(cJSON *obj, const char *key, long v);

#endif
