/*
 * bench_stats.h - what the benchmarks share: a monotonic clock in ns and
 * the median and best of a set of samples.
 */
#ifndef BENCH_STATS_H
#define BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

struct timing {
	double median, best;
};

static inline uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median and the smallest of v[0..n), n > 0; sorts v. */
static inline struct timing
summary(double *v, size_t n)
{
	struct timing t;

	qsort(v, n, sizeof(*v), cmp_double);
	t.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	t.best = v[0];
	return t;
}

#endif
