/*
 * rt_weight.c - fabio's weight arithmetic (route/route.go weighTargets):
 * which share of a route's traffic each target gets.
 */
#include <math.h>

#include "routes/rt_table_internal.h"

void rt_weight_shares(const double *fixed, size_t n, double *share)
{
	size_t nfixed = 0;
	double sum = 0, scale = 1, dynamic;

	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (fixed[i] > 0) {
			nfixed++;
			sum += fixed[i];
		}
	}
	if (nfixed == 0) {
		for (size_t i = 0; i < n; i++)
			share[i] = 1.0 / (double)n;
		return;
	}
	/* Fixed weights are scaled down when they ask for more than all the
	 * traffic, and up when nothing else is there to take the rest. */
	if (sum > 1 || (nfixed == n && sum < 1))
		scale = 1 / sum;
	/* Dynamic targets share what the fixed ones leave; with sum >= 1
	 * they get nothing, which is how `route weight ... 1.0 tags` sends
	 * all traffic to the tagged targets. */
	dynamic = nfixed < n ? (1 - sum) / (double)(n - nfixed) : 0;
	if (dynamic < 0)
		dynamic = 0;
	for (size_t i = 0; i < n; i++)
		share[i] = fixed[i] > 0 ? fixed[i] * scale : dynamic;
}

void rt_weight_by_consul(const double *fixed, const unsigned *consul,
			 size_t n, double *share)
{
	double part = 0, sum = 0;
	unsigned first = 0;
	int equal = 1;

	for (size_t i = 0; i < n; i++) {
		if (fixed[i] > 0)
			continue;
		if (sum == 0)
			first = consul[i];
		else if (consul[i] != first)
			equal = 0;
		part += share[i];
		sum += consul[i];
	}
	/* equal weights: leave fabio's equal split untouched, bit for bit */
	if (equal || !(sum > 0))
		return;
	for (size_t i = 0; i < n; i++)
		if (!(fixed[i] > 0))
			share[i] = part * (double)consul[i] / sum;
}

unsigned rt_weight_units(double share)
{
	double u;

	if (!(share > 0))
		return 0;
	if (share >= 1)
		return RT_WEIGHT_SCALE;
	u = round(share * RT_WEIGHT_SCALE);
	return u < 1 ? 1 : (unsigned)u;
}
