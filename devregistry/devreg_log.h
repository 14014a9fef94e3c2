/*
 * devreg_log.h - key=value diagnostics through the devreg_log_fn callback.
 * The library never prints; without a callback nothing is formatted.
 */
#ifndef DEVREG_LOG_H
#define DEVREG_LOG_H

#include "devregistry/devreg.h"

struct devreg_log {
	devreg_log_fn fn;   /* NULL: silent */
	void *arg;
	enum devreg_log_level level;
};

static inline int
devreg_log_on(const struct devreg_log *l, enum devreg_log_level level)
{
	return l != NULL && l->fn != NULL && level >= l->level;
}

/* Emit `level=<lvl> msg="<msg>" k1=v1 k2=v2 ...`. The variadic part is
 * pairs of const char * (key, value) ending with a NULL key; a NULL value
 * is written as "". Values holding spaces, quotes, '=' or control bytes
 * are quoted. Use DEVREG_LOG so that nothing is formatted when the level
 * is off. */
void devreg_log_kv(const struct devreg_log *l, enum devreg_log_level level,
		   const char *msg, ...);

#define DEVREG_LOG(l, lvl, ...) \
	do { \
		if (devreg_log_on((l), (lvl))) \
			devreg_log_kv((l), (lvl), __VA_ARGS__, (const char *)NULL); \
	} while (0)

#endif
