/*
 * devreg_rand.c - xorshift64*, one state per thread, so the embedding
 * daemon's other threads never contend for it.
 */
#include "devregistry/devreg_rand.h"

#include <stdint.h>
#include <sys/random.h>
#include <time.h>

static _Thread_local uint64_t state;

static uint64_t
next(void)
{
	if (state == 0) {
		if (getrandom(&state, sizeof(state), 0) != (ssize_t)sizeof(state) ||
		    state == 0)
			state = (uint64_t)time(NULL) * UINT64_C(0x9e3779b97f4a7c15) | 1;
	}
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return state * UINT64_C(0x2545f4914f6cdd1d);
}

uint64_t
devreg_rand_below(uint64_t n)
{
	if (n == 0)
		return 0;
	return next() % n;
}
