/*
 * consul_watch_addr.c - resolving the agent's name for the evhttp watch
 * transport (see consul_watch_addr.h).
 *
 * A resolution is one job on one detached-or-joined thread: the thread
 * calls getaddrinfo(), keeps the numeric addresses in the job, and writes
 * one byte to the watcher's pipe, all under the job's lock. If the owner
 * goes away first it marks the job abandoned under that lock and the
 * thread frees the job instead of writing. When no thread can be started
 * the resolution runs inline, and its end is still announced through the
 * pipe so that ready() never runs inside consul_watch_addrs_count().
 */
#include "registry-client/consul_watch_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* After a failed refresh the old list is kept; try again this soon. */
#define RETRY_AFTER_ERROR_MS 1000u

struct job {
	pthread_mutex_t lock;
	pthread_t thread;
	char *host;
	int wfd;                /* the owner's pipe; written under lock */
	int abandoned;          /* the owner is gone: the thread frees us */
	int finished;           /* the results below are set */
	int rc;                 /* getaddrinfo's */
	int sys_errno;          /* with EAI_SYSTEM */
	size_t n;
	char addrs[CONSUL_WATCH_ADDRS_MAX][INET6_ADDRSTRLEN];
};

struct consul_watch_addrs {
	struct event_base *base;
	char *host;
	int numeric;
	consul_watch_addrs_fn ready;
	void *arg;
	int pipe_fd[2];         /* -1 until the first resolution */
	struct event *pipe_ev;
	struct job *job;        /* running, or NULL */
	int job_threaded;
	uint64_t expires_ms;    /* 0 with a numeric host: never */
	size_t n;
	char addrs[CONSUL_WATCH_ADDRS_MAX][INET6_ADDRSTRLEN];
	char error[160];
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int is_numeric(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 ||
	       inet_pton(AF_INET6, host, buf) == 1;
}

static void job_free(struct job *j)
{
	pthread_mutex_destroy(&j->lock);
	free(j->host);
	free(j);
}

/* Fills j's results; runs on the job's thread or inline. */
static void job_resolve(struct job *j)
{
	struct addrinfo hints, *res = NULL;
	char addrs[CONSUL_WATCH_ADDRS_MAX][INET6_ADDRSTRLEN];
	size_t n = 0;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(j->host, NULL, &hints, &res);
	int sys_errno = errno;
	for (struct addrinfo *ai = rc == 0 ? res : NULL;
	     ai && n < CONSUL_WATCH_ADDRS_MAX; ai = ai->ai_next) {
		const void *src;
		int dup = 0;

		if (ai->ai_family == AF_INET)
			src = &((struct sockaddr_in *)ai->ai_addr)->sin_addr;
		else if (ai->ai_family == AF_INET6)
			src = &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
		else
			continue;
		if (!inet_ntop(ai->ai_family, src, addrs[n], sizeof(addrs[n])))
			continue;
		for (size_t i = 0; i < n; i++)
			dup |= strcmp(addrs[i], addrs[n]) == 0;
		if (!dup)
			n++;
	}
	if (res)
		freeaddrinfo(res);
	if (rc == 0 && n == 0)
		rc = EAI_NONAME;

	pthread_mutex_lock(&j->lock);
	j->rc = rc;
	j->sys_errno = sys_errno;
	j->n = n;
	memcpy(j->addrs, addrs, sizeof(addrs));
}

static void *job_main(void *arg)
{
	struct job *j = arg;
	ssize_t wr;

	job_resolve(j);         /* returns with the lock held */
	if (j->abandoned) {
		pthread_mutex_unlock(&j->lock);
		job_free(j);
		return NULL;
	}
	j->finished = 1;
	wr = write(j->wfd, "r", 1);
	(void)wr;               /* a full pipe already holds a wake-up */
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

/* Take the results of a finished job. */
static void job_take(struct consul_watch_addrs *a, struct job *j)
{
	if (j->rc == 0) {
		a->n = j->n;
		memcpy(a->addrs, j->addrs, sizeof(a->addrs));
		a->expires_ms = mono_ms() + CONSUL_WATCH_ADDRS_TTL_MS;
		a->error[0] = '\0';
		return;
	}
	snprintf(a->error, sizeof(a->error), "cannot resolve %s: %s", a->host,
		 j->rc == EAI_SYSTEM ? strerror(j->sys_errno) : gai_strerror(j->rc));
	/* Keep an older list: the agent most likely still is where it was. */
	a->expires_ms = mono_ms() + RETRY_AFTER_ERROR_MS;
}

static void on_pipe(evutil_socket_t fd, short events, void *arg)
{
	struct consul_watch_addrs *a = arg;
	struct job *j = a->job;
	char buf[16];
	int finished;

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	if (!j)
		return;
	pthread_mutex_lock(&j->lock);
	finished = j->finished;
	pthread_mutex_unlock(&j->lock);
	if (!finished)
		return;
	if (a->job_threaded)
		pthread_join(j->thread, NULL);
	a->job = NULL;
	job_take(a, j);
	job_free(j);
	if (a->ready)
		a->ready(a->arg);
}

static int pipe_open(struct consul_watch_addrs *a)
{
	if (a->pipe_ev)
		return 0;
	if (pipe2(a->pipe_fd, O_NONBLOCK | O_CLOEXEC) != 0) {
		a->pipe_fd[0] = a->pipe_fd[1] = -1;
		return -errno;
	}
	a->pipe_ev = event_new(a->base, a->pipe_fd[0], EV_READ | EV_PERSIST,
			       on_pipe, a);
	if (!a->pipe_ev || event_add(a->pipe_ev, NULL) != 0)
		return -ENOMEM;
	return 0;
}

/* The thread gets no signals: they belong to the program's own threads. */
static int thread_start(struct job *j)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&j->thread, NULL, job_main, j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static void resolve_start(struct consul_watch_addrs *a)
{
	struct job *j;

	if (a->job || pipe_open(a) != 0)
		return;
	j = calloc(1, sizeof(*j));
	if (!j)
		return;
	j->host = strdup(a->host);
	if (!j->host || pthread_mutex_init(&j->lock, NULL) != 0) {
		free(j->host);
		free(j);
		return;
	}
	j->wfd = a->pipe_fd[1];
	a->job = j;
	a->job_threaded = thread_start(j) == 0;
	if (!a->job_threaded) {
		ssize_t wr;

		job_resolve(j);
		j->finished = 1;
		wr = write(j->wfd, "r", 1);
		(void)wr;
		pthread_mutex_unlock(&j->lock);
	}
}

struct consul_watch_addrs *consul_watch_addrs_new(struct event_base *base,
						  const char *host,
						  consul_watch_addrs_fn ready,
						  void *arg)
{
	struct consul_watch_addrs *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->base = base;
	a->ready = ready;
	a->arg = arg;
	a->pipe_fd[0] = a->pipe_fd[1] = -1;
	a->host = strdup(host);
	if (!a->host) {
		free(a);
		return NULL;
	}
	a->numeric = is_numeric(host);
	if (a->numeric && strlen(host) < sizeof(a->addrs[0])) {
		strcpy(a->addrs[0], host);
		a->n = 1;
	}
	return a;
}

void consul_watch_addrs_free(struct consul_watch_addrs *a)
{
	struct job *j;

	if (!a)
		return;
	j = a->job;
	if (j) {
		pthread_mutex_lock(&j->lock);
		if (j->finished || !a->job_threaded) {
			pthread_mutex_unlock(&j->lock);
			if (a->job_threaded)
				pthread_join(j->thread, NULL);
			job_free(j);
		} else {
			/* The thread may sit in getaddrinfo() for seconds:
			 * it frees the job itself, and never writes to the
			 * pipe closed below. */
			j->abandoned = 1;
			pthread_mutex_unlock(&j->lock);
			pthread_detach(j->thread);
		}
	}
	if (a->pipe_ev)
		event_free(a->pipe_ev);
	if (a->pipe_fd[0] >= 0)
		close(a->pipe_fd[0]);
	if (a->pipe_fd[1] >= 0)
		close(a->pipe_fd[1]);
	free(a->host);
	free(a);
}

size_t consul_watch_addrs_count(struct consul_watch_addrs *a)
{
	if (!a->numeric && (a->n == 0 || mono_ms() >= a->expires_ms))
		resolve_start(a);
	return a->n;
}

const char *consul_watch_addrs_at(const struct consul_watch_addrs *a, size_t i)
{
	return i < a->n ? a->addrs[i] : NULL;
}

const char *consul_watch_addrs_error(const struct consul_watch_addrs *a)
{
	return a->error;
}
