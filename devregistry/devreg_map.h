/*
 * devreg_map.h - a string-keyed hash map of borrowed keys.
 *
 * The map never copies a key: the caller passes a string that lives in
 * the value (a service's ID, a check's ID) and must remove the entry
 * before that string is freed. Values are never freed by the map.
 */
#ifndef DEVREG_MAP_H
#define DEVREG_MAP_H

#include <stddef.h>
#include <stdint.h>

struct devreg_map;

/* NULL when out of memory. */
struct devreg_map *devreg_map_new(void);
/* Frees the table only; NULL is a no-op. */
void devreg_map_free(struct devreg_map *m);
/* The value under key, or NULL. */
void *devreg_map_get(const struct devreg_map *m, const char *key);
/* Insert or replace. Returns 0 or -ENOMEM (the map is unchanged then). */
int devreg_map_put(struct devreg_map *m, const char *key, void *value);
/* Remove key; returns its value or NULL. */
void *devreg_map_del(struct devreg_map *m, const char *key);
size_t devreg_map_count(const struct devreg_map *m);

/* FNV-1a 64 over n bytes, continuing from h (start with
 * DEVREG_FNV_OFFSET). */
#define DEVREG_FNV_OFFSET UINT64_C(0xcbf29ce484222325)
uint64_t devreg_fnv1a(uint64_t h, const void *data, size_t n);

#endif
