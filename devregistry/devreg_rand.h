/*
 * devreg_rand.h - non-cryptographic randomness for staggering check runs
 * and jittering blocking-query waits.
 */
#ifndef DEVREG_RAND_H
#define DEVREG_RAND_H

#include <stdint.h>

/* A uniform value in [0, n); 0 when n is 0. Seeded from the kernel on
 * first use in each thread. */
uint64_t devreg_rand_below(uint64_t n);

#endif
