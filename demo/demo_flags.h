/*
 * demo_flags.h - switchyard-demo's command line, parsed the way Go's flag
 * package parses fabio's demo server: -flag value, -flag=value, and the
 * same with two dashes; "--" ends the flags.
 */
#ifndef DEMO_FLAGS_H
#define DEMO_FLAGS_H

#include <stddef.h>
#include <stdio.h>

struct demo_flags {
	const char *addr;        /* listen and register; "127.0.0.1:5000" */
	const char *name;        /* service name; the program's basename */
	const char **prefixes;   /* each "/path[ options]"; at least one */
	size_t nprefixes;
	char **tags;             /* extra tags, split on commas, owned */
	size_t ntags;
	const char *consul;      /* agent address; "127.0.0.1:8500" */
	const char *token;       /* ACL token; NULL: none */
	int status;              /* HTTP status answered on the prefixes */
	unsigned deregister_ms;  /* DeregisterCriticalServiceAfter; 0: none */
	int help;                /* -h was given: print usage, exit 0 */
};

/*
 * Parse argv into f (strings other than tags borrow argv). Returns 0, or
 * -1 with a one-line reason in err (without the program name). f must be
 * released with demo_flags_clear() either way.
 */
int demo_flags_parse(struct demo_flags *f, int argc, char **argv,
		     char *err, size_t errsize);
void demo_flags_clear(struct demo_flags *f);
void demo_flags_usage(FILE *out, const char *prog);

/* A Go duration ("1m", "1m30s", "250ms", "1.5s", "0") in milliseconds,
 * rounded down. Returns 0, or -1 when malformed or above UINT_MAX ms. */
int demo_duration_parse(const char *s, unsigned *ms);

/* Split "host:port" or "[v6]:port" (host may be empty). host gets the
 * host without brackets. Returns 0 or -1. */
int demo_addr_split(const char *addr, char *host, size_t hostsize,
		    int *port);

#endif
