/*
 * registrar_ctl - drive one libregistrar handle from stdin, for the
 * integration tests.
 *
 *   registrar_ctl -consul HOST:PORT -name NAME [-id ID] [-address A]
 *                 [-port N] [-ttl MS] [-deregister MS] [-tags a,b]
 *
 * It registers a service with a TTL check at once, then reads one command
 * a line and answers each with one line on stdout, "ok <command>" or
 * "err <command> <code> <text>":
 *   tags a,b,c        registrar_set_tags (an empty list is allowed)
 *   maint on [reason] registrar_set_maintenance
 *   maint off
 *   stop / start      registrar_stop / registrar_start
 *   quit              registrar_free (deregisters), exit 0; so does EOF
 * The library's log lines go to stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "registrar.h"

#define MAX_TAGS 64

static void on_log(enum registrar_log_level level, const char *msg, void *arg)
{
	(void)arg;
	fprintf(stderr, "level=%d %s\n", (int)level, msg);
}

static void answer(const char *cmd, int rc)
{
	if (rc == REGISTRAR_OK)
		printf("ok %s\n", cmd);
	else
		printf("err %s %d %s\n", cmd, rc, registrar_strerror(rc));
	fflush(stdout);
}

/* Split s (modified) on commas into tags; returns the count. */
static size_t split_tags(char *s, const char **tags)
{
	size_t n = 0;

	for (char *tok = strtok(s, ","); tok && n < MAX_TAGS;
	     tok = strtok(NULL, ","))
		tags[n++] = tok;
	return n;
}

static void usage(void)
{
	fprintf(stderr, "usage: registrar_ctl -consul HOST:PORT -name NAME "
		"[-id ID] [-address A] [-port N] [-ttl MS] [-deregister MS] "
		"[-tags a,b]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct registrar_service svc;
	struct registrar_agent agent;
	struct registrar *r;
	const char *tags[MAX_TAGS];
	char line[1024], *tagarg = NULL;
	int err;

	memset(&svc, 0, sizeof(svc));
	memset(&agent, 0, sizeof(agent));
	svc.check = REGISTRAR_CHECK_TTL;
	agent.log = on_log;
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		if (strcmp(argv[i], "-consul") == 0)
			agent.address = v;
		else if (strcmp(argv[i], "-name") == 0)
			svc.name = v;
		else if (strcmp(argv[i], "-id") == 0)
			svc.id = v;
		else if (strcmp(argv[i], "-address") == 0)
			svc.address = v;
		else if (strcmp(argv[i], "-port") == 0)
			svc.port = atoi(v);
		else if (strcmp(argv[i], "-ttl") == 0)
			svc.check_ttl_ms = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(argv[i], "-deregister") == 0)
			svc.deregister_after_ms = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(argv[i], "-tags") == 0)
			tagarg = argv[i + 1];
		else
			usage();
		i++;
	}
	if (tagarg) {
		svc.tags = tags;
		svc.ntags = split_tags(tagarg, tags);
	}
	r = registrar_new(&svc, &agent, &err);
	if (!r) {
		answer("new", err);
		return 1;
	}
	answer("start", registrar_start(r));

	while (fgets(line, sizeof(line), stdin)) {
		char *arg;

		line[strcspn(line, "\r\n")] = '\0';
		arg = strchr(line, ' ');
		if (arg)
			*arg++ = '\0';
		if (strcmp(line, "tags") == 0) {
			answer("tags", registrar_set_tags(
				       r, tags, split_tags(arg ? arg : line + 4,
							   tags)));
		} else if (strcmp(line, "maint") == 0 && arg &&
			   strncmp(arg, "on", 2) == 0) {
			const char *reason = arg[2] == ' ' ? arg + 3 : NULL;

			answer("maint", registrar_set_maintenance(r, 1, reason));
		} else if (strcmp(line, "maint") == 0 && arg &&
			   strcmp(arg, "off") == 0) {
			answer("maint", registrar_set_maintenance(r, 0, NULL));
		} else if (strcmp(line, "stop") == 0) {
			answer("stop", registrar_stop(r));
		} else if (strcmp(line, "start") == 0) {
			answer("start", registrar_start(r));
		} else if (strcmp(line, "quit") == 0) {
			break;
		} else if (line[0]) {
			printf("err unknown-command %s\n", line);
			fflush(stdout);
		}
	}
	registrar_free(r);
	printf("ok quit\n");
	fflush(stdout);
	return 0;
}
